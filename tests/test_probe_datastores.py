"""Datastore, broker and console probes against real servers on loopback: PostgreSQL clusters made with initdb,
redis-server with and without a password and with ACL users; plus stand-ins (see probe_servers.py) for a Kafka
listener and the Grafana / RabbitMQ management / S3 login endpoints, which Debian does not package."""

from __future__ import annotations

import os
import secrets
import shutil

import pytest

from conftest import need
from probe_servers import (
    amqp_listener,
    failing,
    free_port,
    kafka_listener,
    make_ca,
    messages,
    passing,
    pg_bindir,
    postgres,
    redis_bin,
    redis_server,
    run_targets,
    shared_tmpdir,
    target_summary,
    uvicorn_app,
    verdicts,
)
from prodready.probe import ids


@pytest.fixture(scope="module")
def ca():
    d = shared_tmpdir("prodready-ca-")
    yield make_ca(d)
    shutil.rmtree(d, ignore_errors=True)


# --- PostgreSQL ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg_run(ca, tmp_path_factory, request):
    need(pg_bindir() is not None, "PostgreSQL server binaries are not installed (apt-get install postgresql)")
    need(shutil.which("runuser") is not None or os.geteuid() != 0, "runuser is needed to run PostgreSQL as nobody "
         "when testing as root")
    strong = secrets.token_urlsafe(18)
    mp = pytest.MonkeyPatch()
    mp.setenv("PROBE_TEST_PG_PASSWORD", strong)
    request.addfinalizer(mp.undo)
    with postgres("weak", "postgres") as weak, postgres("hardened", strong, ca) as hard, \
            postgres("trust", "irrelevant") as trust:
        yield run_targets(tmp_path_factory.mktemp("pg"), f"""
targets:
  - name: pg-weak
    url: postgresql://postgres@127.0.0.1:{weak.port}/postgres
  - name: pg-hardened
    url: postgresql://postgres@127.0.0.1:{hard.port}/postgres
    password_env: PROBE_TEST_PG_PASSWORD
  - name: pg-trust
    url: postgresql://127.0.0.1:{trust.port}/postgres
    default_credentials: false
""")


def test_postgres_with_default_password_and_no_tls(pg_run):
    assert failing(pg_run, "pg-weak") == {ids.DEFAULT_CREDS, ids.DB_TLS}
    assert passing(pg_run, "pg-weak") == {ids.DATASTORE_AUTH, ids.DEPLOYED}
    assert "postgres/po****" in messages(pg_run, "pg-weak", ids.DEFAULT_CREDS)[0]
    assert "does not offer TLS" in messages(pg_run, "pg-weak", ids.DB_TLS)[0]
    tries = target_summary(pg_run, "pg-weak")["default_credentials"]
    assert tries and tries[0].startswith("default-credential tries: postgres/po****")


def test_hardened_postgres_passes(pg_run):
    assert failing(pg_run, "pg-hardened") == set()
    assert {ids.DATASTORE_AUTH, ids.DB_TLS, ids.DEFAULT_CREDS} <= passing(pg_run, "pg-hardened")
    assert "refuses connections without TLS" in messages(pg_run, "pg-hardened", ids.DB_TLS, "pass")[0]


def test_trust_authentication_is_anonymous_access(pg_run):
    assert failing(pg_run, "pg-trust") == {ids.DATASTORE_AUTH, ids.DB_TLS}
    assert "trust" in messages(pg_run, "pg-trust", ids.DATASTORE_AUTH)[0]
    # default-credential tries were switched off: none sent, and the report says so
    assert verdicts(pg_run)["pg-trust"][ids.DEFAULT_CREDS] == {"not_applicable"}
    assert not any("default credentials" in e["request"] for e in target_summary(pg_run, "pg-trust")["transcript"])


def test_postgres_password_never_printed(pg_run):
    import json

    strong = os.environ["PROBE_TEST_PG_PASSWORD"]
    assert strong not in json.dumps(pg_run.summary)
    assert all(strong not in o.message for outs in pg_run.live.values() for o in outs)


# --- Redis --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_run(tmp_path_factory, request):
    need(redis_bin() is not None, "redis-server is not installed (apt-get install redis-server)")
    strong = secrets.token_urlsafe(18)
    mp = pytest.MonkeyPatch()
    mp.setenv("PROBE_TEST_REDIS_PASSWORD", strong)
    mp.setenv("PROBE_TEST_REDIS_USER", "app")
    request.addfinalizer(mp.undo)
    closed = free_port()
    with redis_server("open") as open_, redis_server("requirepass", "foobared") as example_pw, \
            redis_server("requirepass", strong) as pw, redis_server("acl", strong) as acl:
        yield run_targets(tmp_path_factory.mktemp("redis"), f"""
targets:
  - name: redis-open
    url: redis://127.0.0.1:{open_.port}/0
  - name: redis-example-password
    url: redis://127.0.0.1:{example_pw.port}
  - name: redis-password
    url: redis://127.0.0.1:{pw.port}
  - name: redis-password-known
    url: redis://127.0.0.1:{pw.port}
    password_env: PROBE_TEST_REDIS_PASSWORD
    default_credentials: false
  - name: redis-acl
    url: redis://127.0.0.1:{acl.port}
    username_env: PROBE_TEST_REDIS_USER
    password_env: PROBE_TEST_REDIS_PASSWORD
  - name: redis-private
    url: redis://127.0.0.1:{open_.port}
    exposure: private
    default_credentials: false
  - name: redis-private-closed
    url: redis://127.0.0.1:{closed}
    exposure: private
""")


def test_redis_without_auth(redis_run):
    assert failing(redis_run, "redis-open") == {ids.DATASTORE_AUTH, ids.DEFAULT_CREDS, ids.REDIS_COMMANDS}
    assert "CONFIG, FLUSHALL, FLUSHDB" in messages(redis_run, "redis-open", ids.REDIS_COMMANDS)[0]


def test_redis_with_the_example_password(redis_run):
    # the default password found opens the door to the command check too: the default account may run CONFIG
    assert failing(redis_run, "redis-example-password") == {ids.DEFAULT_CREDS, ids.REDIS_COMMANDS}
    assert ids.DATASTORE_AUTH in passing(redis_run, "redis-example-password")
    assert "fo****" in messages(redis_run, "redis-example-password", ids.DEFAULT_CREDS)[0]


def test_redis_with_a_strong_password(redis_run):
    assert failing(redis_run, "redis-password") == set()
    assert passing(redis_run, "redis-password") == {ids.DATASTORE_AUTH, ids.DEFAULT_CREDS, ids.DEPLOYED}
    assert verdicts(redis_run)["redis-password"][ids.REDIS_COMMANDS] == {"not_applicable"}


def test_requirepass_alone_leaves_dangerous_commands_callable(redis_run):
    # requirepass protects the door, not the commands: the default account can still run CONFIG and FLUSHALL
    assert failing(redis_run, "redis-password-known") == {ids.REDIS_COMMANDS}


def test_redis_acl_user_without_dangerous_commands_passes(redis_run):
    assert failing(redis_run, "redis-acl") == set()
    assert {ids.DATASTORE_AUTH, ids.DEFAULT_CREDS, ids.REDIS_COMMANDS} <= passing(redis_run, "redis-acl")


def test_redis_commands_never_run_destructively(redis_run):
    sent = [e["request"] for t in redis_run.summary["targets"] for e in t["transcript"]]
    assert not [r for r in sent if "FLUSH" in r and "DRYRUN" not in r and "COMMAND INFO" not in r]
    assert not [r for r in sent if "CONFIG" in r and "DRYRUN" not in r and "COMMAND INFO" not in r
                and "CONFIG GET maxmemory" not in r]


def test_private_datastore_reachable_is_a_finding(redis_run):
    assert failing(redis_run, "redis-private") >= {ids.NOT_EXPOSED}
    assert ids.NOT_EXPOSED in passing(redis_run, "redis-private-closed")
    assert target_summary(redis_run, "redis-private-closed")["requests_sent"] == 1


# --- Kafka (protocol stand-in) --------------------------------------------------------------------------------

def test_kafka_listeners(tmp_path, ca):
    with kafka_listener(sasl=False) as open_, kafka_listener(sasl=True) as sasl, \
            kafka_listener(sasl=True, ca=ca) as sasl_ssl:
        run = run_targets(tmp_path, f"""
targets:
  - name: kafka-open
    url: kafka://127.0.0.1:{open_.port}
  - name: kafka-sasl
    url: kafka://127.0.0.1:{sasl.port}
  - name: kafka-sasl-ssl-listed-as-plain
    url: kafka://127.0.0.1:{sasl_ssl.port}
  - name: kafka-sasl-ssl
    url: kafka+ssl://127.0.0.1:{sasl_ssl.port}
    tls: {{ca_file: {ca.pem_path}}}
""")
    assert failing(run, "kafka-open") == {ids.BROKER_TLS, ids.DATASTORE_AUTH}
    assert "1 broker(s)" in messages(run, "kafka-open", ids.DATASTORE_AUTH)[0]
    assert failing(run, "kafka-sasl") == {ids.BROKER_TLS}
    assert ids.DATASTORE_AUTH in passing(run, "kafka-sasl")
    # a TLS listener is recognised even when listed as kafka://, after plain TCP got no Kafka answer
    assert failing(run, "kafka-sasl-ssl-listed-as-plain") == set()
    assert failing(run, "kafka-sasl-ssl") == set()
    assert {ids.BROKER_TLS, ids.DATASTORE_AUTH, ids.TLS_CERT, ids.TLS_PROTOCOLS} <= passing(run, "kafka-sasl-ssl")


# --- AMQP (protocol stand-in) ----------------------------------------------------------------------------------

def test_amqp_guest_login(tmp_path):
    with amqp_listener(guest=True) as open_, amqp_listener(guest=False) as closed:
        run = run_targets(tmp_path, f"""
targets:
  - name: mq-guest
    url: amqp://127.0.0.1:{open_.port}
  - name: mq
    url: amqp://127.0.0.1:{closed.port}
""")
    assert failing(run, "mq-guest") == {ids.DEFAULT_CREDS, ids.BROKER_TLS}
    assert "guest/gu****" in messages(run, "mq-guest", ids.DEFAULT_CREDS)[0]
    assert failing(run, "mq") == {ids.BROKER_TLS}
    assert "403 ACCESS_REFUSED" in messages(run, "mq", ids.DEFAULT_CREDS, "pass")[0]


# --- consoles (documented endpoints stand-in) -----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["defaults", "changed"])
def test_console_default_credentials(tmp_path, mode):
    import importlib.util

    need(importlib.util.find_spec("uvicorn") is not None, "uvicorn is not installed (pip install -e '.[test]')")
    with uvicorn_app("console", env={"PROBE_CONSOLE_MODE": mode}) as app:
        # the stand-in serves the three products under prefixes; each target gets its own base URL
        run = run_targets(tmp_path, f"""
targets:
  - name: grafana
    kind: grafana
    url: {app.url}/grafana
  - name: rabbitmq
    kind: rabbitmq
    url: {app.url}/rabbit
  - name: minio
    kind: s3
    url: {app.url}
    buckets: [public-assets]
  - name: prometheus
    kind: prometheus
    url: {app.url}/prom
  - name: loki
    kind: loki
    url: {app.url}/loki
    streams: ['{{app="shop-api"}}', '{{log_type="audit"}}']
""")
    if mode == "defaults":
        assert failing(run, "grafana") == {ids.DEFAULT_CREDS}
        assert failing(run, "rabbitmq") == {ids.DEFAULT_CREDS}
        assert failing(run, "minio") == {ids.DEFAULT_CREDS, ids.DATASTORE_AUTH}
        assert "admin/ad****" in messages(run, "grafana", ids.DEFAULT_CREDS)[0]
        assert "public-assets" in messages(run, "minio", ids.DATASTORE_AUTH)[0]
        assert failing(run, "prometheus") == {ids.TELEMETRY}
        assert "postgres-exporter/pg-exporter:9187 is down" in messages(run, "prometheus", ids.TELEMETRY)[0]
        assert failing(run, "loki") == {ids.TELEMETRY}
        assert 'log_type="audit"' in messages(run, "loki", ids.TELEMETRY)[0]
    else:
        for name in ("grafana", "rabbitmq", "minio"):
            assert failing(run, name) == set(), name
            assert ids.DEFAULT_CREDS in passing(run, name)
        assert ids.DATASTORE_AUTH in passing(run, "minio")
        assert {ids.TELEMETRY, ids.DEPLOYED} <= passing(run, "prometheus") & passing(run, "loki")
