"""Static and live evidence in one verdict per control: ``prodready scan PATH --targets`` and ``prodready probe``
end to end against real servers on loopback, the merged messages, the catalog of live controls."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json

import pytest

from conftest import REPO, need
from probe_servers import (
    free_port,
    pg_bindir,
    postgres,
    uvicorn_app,
    write_targets,
)
from prodready.cli import main
from prodready.controls.base import all_controls
from prodready.engine import ScanOptions, scan
from prodready.probe import NA_REASONS, ids
from prodready.probe.consoles import sigv4_headers
from prodready.probe.merge import merged_message


def _result(report: dict, cid: str) -> dict:
    return next(r for r in report["results"] if r["control_id"] == cid)


def _need_uvicorn() -> None:
    need(importlib.util.find_spec("uvicorn") is not None, "uvicorn is not installed (pip install -e '.[test]')")


# --- the merged message -----------------------------------------------------------------------------------

STATIC_PASS = [{"status": "pass", "path": "app/main.py", "line": 14, "message": "rate limiting configured",
                "counted": False}]
STATIC_FAIL = [{"status": "fail", "path": "app/main.py", "line": 51, "message": "no rate limiting", "counted": False}]


@pytest.mark.parametrize("static,live,expected", [
    (STATIC_PASS, "fail", "rate limiting configured in `app/main.py:14` — not observed live: 120 requests, no 429"),
    (STATIC_PASS, "pass", "rate limiting configured in `app/main.py:14` — confirmed live: 120 requests, no 429"),
    (STATIC_FAIL, "pass", "no rate limiting in `app/main.py:51` — but live: 120 requests, no 429"),
    (STATIC_FAIL, "fail", "no rate limiting in `app/main.py:51` — confirmed live: 120 requests, no 429"),
    ([], "fail", "observed live: 120 requests, no 429"),
])
def test_merged_message(static, live, expected):
    assert merged_message(static, live, "120 requests, no 429", "security.rate-limiting") == expected


def test_contradiction_wording_for_other_controls():
    static = [{"status": "pass", "path": "app/main.py", "line": 53, "message": "CORS origins come from configuration"}]
    msg = merged_message(static, "fail", "an arbitrary origin is reflected", "security.cors-restricted")
    assert msg == "CORS origins come from configuration in `app/main.py:53` — but live: an arbitrary origin is reflected"


# --- scan --targets -----------------------------------------------------------------------------------------

SLOWAPI_APP = '''\
from fastapi import FastAPI, Request
from slowapi import Limiter
from slowapi.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)
app = FastAPI()
app.state.limiter = limiter


@app.get("/api/orders")
@limiter.limit("5/minute")
def orders(request: Request):
    return []
'''


def test_scan_with_targets_merges_static_and_live(tmp_path):
    _need_uvicorn()
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "main.py").write_text(SLOWAPI_APP)
    static = scan(project, ScanOptions(use_cache=False))
    assert _result(static, ids.RATE_LIMITING)["status"] == "pass"
    assert _result(static, ids.HEALTH)["status"] == "fail"
    for cid in ids.LIVE_ONLY:
        r = _result(static, cid)
        assert (r["status"], r["message"]) == ("not_applicable", "needs a live probe: run with --targets")
    with uvicorn_app("weak") as app:
        targets = write_targets(tmp_path, f"""
targets:
  - name: api
    url: {app.url}
    exposure: internal
    paths: [/api/orders]
""")
        code = main(["scan", str(project), "--no-cache", "--targets", str(targets), "-f", "json",
                     "-o", str(tmp_path / "report.json")])
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    rl = _result(report, ids.RATE_LIMITING)
    # the repository says yes, the deployment says no: the live verdict decides, both are shown
    assert rl["status"] == "fail" and rl["verdict_source"] == "live" and rl["points_lost"] > 0
    assert rl["message"].startswith("rate limiting configured: slowapi imported in `app/main.py:2` — not observed "
                                    "live: 30 requests in ")
    assert "no 429" in rl["message"]
    assert rl["static_evidence"] == [{**rl["static_evidence"][0], "counted": False}]
    assert rl["static_evidence"][0]["path"] == "app/main.py"
    assert all(e["source"] == "live" and e["url"].startswith(app.url) for e in rl["evidence"])
    health = _result(report, ids.HEALTH)
    assert health["status"] == "pass" and " — but live: GET " in health["message"]
    assert _result(report, ids.STACK_TRACES)["status"] == "fail"
    # live-only controls without evidence say why, instead of asking for --targets
    assert "no https://" in _result(report, ids.TLS_CERT)["message"]
    probe = report["probe"]
    assert probe["targets"][0]["requests_sent"] <= probe["targets"][0]["budget"] == 60


def test_scan_example_project_with_targets(tmp_path, capsys):
    """`prodready scan examples/shop --targets …`: the shop API stood in for by the weak ASGI app, its PostgreSQL
    by a cluster with the compose file's default password, its Redis not published (private, nothing listening)."""
    _need_uvicorn()
    need(pg_bindir() is not None, "PostgreSQL server binaries are not installed (apt-get install postgresql)")
    with uvicorn_app("weak") as app, postgres("weak", "postgres") as pg:
        targets = write_targets(tmp_path, f"""
targets:
  - name: shop-api
    url: {app.url}
    exposure: internal
    health: /healthz
    paths: [/api/orders]
  - name: shop-db
    url: postgresql://postgres@127.0.0.1:{pg.port}/postgres
  - name: shop-redis
    url: redis://127.0.0.1:{free_port()}/0
    exposure: private
""")
        code = main(["scan", str(REPO / "examples" / "shop"), "--no-cache", "--targets", str(targets),
                     "--color", "never"])
        text = capsys.readouterr().out
        assert code == 0
        main(["scan", str(REPO / "examples" / "shop"), "--no-cache", "--targets", str(targets), "-f", "json"])
        report = json.loads(capsys.readouterr().out)
    creds = _result(report, ids.DEFAULT_CREDS)
    assert creds["verdict_source"] == "live" and creds["status"] == "fail"
    assert "`docker-compose.yml:" in creds["message"] and "— confirmed live: " in creds["message"]
    assert "postgres/po****" in creds["message"]
    cors = _result(report, ids.CORS)
    assert cors["status"] == "fail" and "`services/api/app/main.py:" in cors["message"] and " — but live: " in \
        cors["message"]
    health = _result(report, ids.HEALTH)
    assert health["status"] == "pass" and "— confirmed live: GET " in health["message"]
    assert _result(report, ids.NOT_EXPOSED)["verdict_source"] == "live"
    assert "Live probe — " in text and "requests of its budget" in text and "default-credential tries" in text
    assert "burst test: " in text
    assert "hunter" not in text


# --- prodready probe ----------------------------------------------------------------------------------------

def test_probe_command_json_and_gates(tmp_path, capsys):
    _need_uvicorn()
    with uvicorn_app("hardened") as app:
        targets = write_targets(tmp_path, f"""
targets:
  - name: api
    url: {app.url}
    exposure: internal
    paths: [/api/orders]
""")
        assert main(["probe", "--targets", str(targets), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
    with uvicorn_app("hardened") as app2:  # a fresh app: the first run used up its rate limit
        targets.write_text(targets.read_text().replace(app.url, app2.url))
        assert main(["probe", "--targets", str(targets), "--transcript", "--color", "never"]) == 0
        text = capsys.readouterr().out
    assert report["schema_version"] and report["probe"]["requests_sent"] > 0
    statuses = {r["control_id"]: r["status"] for r in report["results"]}
    assert statuses[ids.RATE_LIMITING] == statuses[ids.CORS] == statuses[ids.HEALTH] == "pass"
    for r in report["results"]:
        for e in r["evidence"]:
            assert e["source"] == "live"
            if r["status"] in ("pass", "fail"):
                assert e["url"].startswith(app.url)
    assert "Transcript" in text and "OPTIONS " in text and "(burst " in text


def test_probe_gate_fails_on_findings(tmp_path, capsys):
    _need_uvicorn()
    with uvicorn_app("weak") as app:
        targets = write_targets(tmp_path, f"targets:\n  - name: api\n    url: {app.url}\n    exposure: internal\n"
                                          "    burst: false\n")
        assert main(["probe", "--targets", str(targets), "--fail-on", "high", "-f", "markdown"]) == 1
    out = capsys.readouterr().out
    assert "## Live probe" in out and "burst test: off" in out


# --- catalog ------------------------------------------------------------------------------------------------

def test_every_id_the_probe_reports_is_a_registered_control():
    controls = all_controls()
    for cid in (*ids.LIVE_ONLY, *ids.EXISTING, *NA_REASONS):
        assert cid in controls, f"probe reports under {cid}, which is not in the catalog"
    live_module = {cid for cid, c in controls.items() if c.source == "prodready.controls.live"}
    assert live_module == set(ids.LIVE_ONLY)
    for cid in ids.LIVE_ONLY:
        assert controls[cid].verifiability == "live" and controls[cid].needs_probe


# Live-only controls cannot have static pass/fail fixtures (tests/fixtures/controls/<id>/ holds an na- case);
# these tests show each one failing and passing against real servers.
LIVE_COVERAGE = {
    ids.REDIRECT: ("test_probe_http:test_weak_nginx_reports_exactly_its_weaknesses",
                   "test_probe_http:test_hardened_nginx_passes"),
    ids.TLS_PROTOCOLS: ("test_probe_http:test_legacy_tls_fails_certificate_and_protocol_checks",
                        "test_probe_http:test_hardened_nginx_passes"),
    ids.TLS_CERT: ("test_probe_http:test_legacy_tls_fails_certificate_and_protocol_checks",
                   "test_probe_http:test_hardened_nginx_passes"),
    ids.VERSION_DISCLOSURE: ("test_probe_http:test_weak_nginx_reports_exactly_its_weaknesses",
                             "test_probe_http:test_hardened_nginx_passes"),
    ids.STACK_TRACES: ("test_probe_http:test_weak_asgi_app_reports_cors_rate_limit_and_stack_traces",
                       "test_probe_http:test_hardened_asgi_app_passes"),
    ids.SENSITIVE_PATHS: ("test_probe_http:test_weak_nginx_reports_exactly_its_weaknesses",
                          "test_probe_http:test_hardened_nginx_passes"),
    ids.LATENCY: ("test_probe_safety:test_latency_over_target_fails", "test_probe_http:test_hardened_nginx_passes"),
    ids.REDIS_COMMANDS: ("test_probe_datastores:test_redis_without_auth",
                         "test_probe_datastores:test_redis_acl_user_without_dangerous_commands_passes"),
    ids.BROKER_TLS: ("test_probe_datastores:test_kafka_listeners", "test_probe_datastores:test_kafka_listeners"),
    ids.DEPLOYED: ("test_probe_safety:test_a_target_that_does_not_answer_is_not_deployed",
                   "test_probe_http:test_hardened_nginx_passes"),
    ids.TELEMETRY: ("test_probe_datastores:test_console_default_credentials",
                    "test_probe_datastores:test_console_default_credentials"),
}


def test_every_live_only_control_is_shown_failing_and_passing():
    assert set(LIVE_COVERAGE) == set(ids.LIVE_ONLY)
    for cid, refs in LIVE_COVERAGE.items():
        for ref in refs:
            module, func = ref.split(":")
            source = (REPO / "tests" / f"{module}.py").read_text()
            assert f"def {func}(" in source, f"{cid}: {ref} does not exist"
            body = source.split(f"def {func}(", 1)[1].split("\ndef ", 1)[0]
            const = next(k for k, v in vars(ids).items() if v == cid and k.isupper())
            assert f"ids.{const}" in body, f"{ref} does not assert {cid}"


# --- S3 request signing ---------------------------------------------------------------------------------------

def test_sigv4_matches_the_aws_documentation_example():
    # "GET Object" example of the S3 Signature Version 4 documentation (header-based authentication)
    headers = sigv4_headers("GET", "https://examplebucket.s3.amazonaws.com/test.txt", "AKIAIOSFODNN7EXAMPLE",
                            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", now=dt.datetime(2013, 5, 24, tzinfo=dt.UTC),
                            extra={"Range": "bytes=0-9"})
    assert headers["authorization"].endswith(
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date" in headers["authorization"]


def test_live_controls_module_is_in_the_catalog():
    importlib.import_module("prodready.controls.live")
    assert "security.https-redirect" in all_controls()
