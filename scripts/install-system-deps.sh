#!/usr/bin/env bash
# Debian packages the test suite needs: real nginx, PostgreSQL and Redis servers for the live-probe tests.
# Installs only what is missing; needs root (apt-get). Without root it says what to install and goes on:
# those tests then skip locally with a clear reason (under CI=true they fail instead).
set -euo pipefail
have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_redis() { command -v redis-server >/dev/null 2>&1; }
have_openssl() { command -v openssl >/dev/null 2>&1; }
if have_nginx && have_pg && have_redis && have_openssl; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: install nginx, postgresql, redis-server and openssl (Debian packages) to run the live-probe tests" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx postgresql redis-server openssl
