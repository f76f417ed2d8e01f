"""Live-probe budget and speed: start one HTTP target and one datastore on loopback, probe both with the default
budget, and print the requests each received against its budget and the wall time of the probe.

Targets: no target over its budget (the probe's promise), and a full probe of one HTTP target and one datastore
in under 10 s. The HTTP target is the hardened nginx of the tests (TLS from a CA made here, every check runs,
the burst included) or, without nginx, the hardened ASGI app under uvicorn; the datastore is a throwaway
PostgreSQL cluster with the default password or, without PostgreSQL, redis-server.

    python benchmarks/probe_budget.py            # exit 1 when a target got more requests than its budget
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import probe_servers as ps  # noqa: E402
from prodready.probe import load_targets, run_probe  # noqa: E402

WALL_TARGET_S = 10.0


def main() -> int:
    folder = ps.shared_tmpdir("prodready-bench-")
    try:
        ca = ps.make_ca(folder)
        with contextlib.ExitStack() as stack:
            if ps.nginx_bin():
                edge = stack.enter_context(ps.nginx("hardened", ca))
                http = (f"  - name: web\n    url: https://localhost:{edge.port}/\n    health: /healthz\n"
                        f"    paths: [/api/ping]\n    http_url: http://localhost:{edge.extra['http_port']}/\n"
                        f"    tls: {{ca_file: {ca.pem_path}}}\n")
                http_what = "nginx (HTTPS, hardened)"
            else:
                app = stack.enter_context(ps.uvicorn_app("hardened"))
                http = f"  - name: web\n    url: {app.url}\n    exposure: internal\n    paths: [/api/orders]\n"
                http_what = "ASGI app under uvicorn"
            if ps.pg_bindir():
                pg = stack.enter_context(ps.postgres("weak", "postgres"))
                store = f"  - name: store\n    url: postgresql://postgres@127.0.0.1:{pg.port}/postgres\n"
                store_what = "PostgreSQL"
            elif ps.redis_bin():
                rd = stack.enter_context(ps.redis_server("open"))
                store = f"  - name: store\n    url: redis://127.0.0.1:{rd.port}/0\n"
                store_what = "Redis"
            else:
                print("neither PostgreSQL nor redis-server is installed: apt-get install postgresql redis-server")
                return 2
            path = ps.write_targets(folder, "targets:\n" + http + store)
            t0 = time.perf_counter()
            run = run_probe(load_targets(path))
            wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    over = False
    print(f"probe of {http_what} + {store_what}, default budget, concurrency {run.summary['concurrency']}")
    for t in run.summary["targets"]:
        flag = "OVER BUDGET" if t["requests_sent"] > t["budget"] else "ok"
        over |= t["requests_sent"] > t["budget"]
        print(f"  {t['name']:<6} {t['kind']:<10} {t['requests_sent']:>3} requests sent / budget {t['budget']:<3} "
              f"{flag:<11} {t['duration_s']:.2f} s  {t['burst'] or ''}")
    checks = sum(len(v) for v in run.live.values())
    print(f"requests sent: {run.summary['requests_sent']}   outcomes: {checks}   wall time: {wall:.2f} s "
          f"(target < {WALL_TARGET_S:.0f} s: {'met' if wall < WALL_TARGET_S else 'MISSED'})")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
