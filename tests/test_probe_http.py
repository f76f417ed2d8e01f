"""HTTP and TLS probes against real servers on loopback: nginx from Debian (a weak edge, a hardened edge with TLS
from a CA made here, an edge with legacy TLS) and ASGI apps under uvicorn. Each target must report exactly the
weaknesses it was given, and the hardened ones must pass."""

from __future__ import annotations

import pytest

from conftest import need
from probe_servers import (
    failing,
    make_ca,
    messages,
    nginx,
    nginx_bin,
    passing,
    run_targets,
    shared_tmpdir,
    target_summary,
    uvicorn_app,
    verdicts,
)
from prodready.probe import ids

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def ca():
    import shutil

    d = shared_tmpdir("prodready-ca-")
    yield make_ca(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def edges(ca, tmp_path_factory):
    need(nginx_bin() is not None, "nginx is not installed (apt-get install nginx)")
    with nginx("weak") as weak, nginx("hardened", ca) as hard, nginx("legacy-tls", ca) as legacy:
        folder = tmp_path_factory.mktemp("edges")
        run = run_targets(folder, f"""
targets:
  - name: weak
    url: http://127.0.0.1:{weak.port}/
    health: /healthz
  - name: hardened
    url: https://localhost:{hard.port}/
    health: /healthz
    paths: [/api/ping]
    http_url: http://localhost:{hard.extra['http_port']}/
    tls: {{ca_file: {ca.pem_path}}}
  - name: legacy
    url: https://localhost:{legacy.port}/
    health: /healthz
    tls: {{ca_file: {ca.pem_path}}}
    burst: false
    latency: {{samples: 0}}
""")
        yield run


def test_weak_nginx_reports_exactly_its_weaknesses(edges):
    assert failing(edges, "weak") == {ids.HEADERS, ids.REDIRECT, ids.INGRESS_TLS, ids.VERSION_DISCLOSURE,
                                      ids.SENSITIVE_PATHS, ids.COMPRESSION, ids.RATE_LIMITING}
    assert {ids.HEALTH, ids.CORS, ids.STACK_TRACES, ids.LATENCY, ids.METRICS_PUBLIC} <= passing(edges, "weak")
    leaks = " ".join(messages(edges, "weak", ids.SENSITIVE_PATHS))
    assert "/.env" in leaks and "/.git/config" in leaks and "/server-status" in leaks
    headers = " ".join(messages(edges, "weak", ids.HEADERS))
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert name in headers
    assert "Strict-Transport-Security" not in headers  # HSTS means nothing over plain HTTP
    assert any("nginx/" in m for m in messages(edges, "weak", ids.VERSION_DISCLOSURE))
    burst = messages(edges, "weak", ids.RATE_LIMITING)[0]
    assert "no 429" in burst and "30 requests" in burst


def test_hardened_nginx_passes(edges):
    assert failing(edges, "hardened") == set()
    assert {ids.HEADERS, ids.REDIRECT, ids.INGRESS_TLS, ids.VERSION_DISCLOSURE, ids.SENSITIVE_PATHS,
            ids.COMPRESSION, ids.RATE_LIMITING, ids.TLS_CERT, ids.TLS_PROTOCOLS, ids.HEALTH, ids.CORS,
            ids.STACK_TRACES, ids.LATENCY, ids.METRICS_PUBLIC, ids.DEPLOYED} <= passing(edges, "hardened")
    assert any("429 after" in m for m in messages(edges, "hardened", ids.RATE_LIMITING, "pass"))
    cert = messages(edges, "hardened", ids.TLS_CERT, "pass")[0]
    assert "prodready test CA" in cert and "expires in 9" in cert  # 90 days
    assert "TLSv1 and TLSv1.1 refused" in messages(edges, "hardened", ids.TLS_PROTOCOLS, "pass")[0]


def test_legacy_tls_fails_certificate_and_protocol_checks(edges):
    assert {ids.TLS_CERT, ids.TLS_PROTOCOLS} <= failing(edges, "legacy")
    cert = " ".join(messages(edges, "legacy", ids.TLS_CERT))
    assert "not valid for localhost" in cert and "expires in" in cert
    protocols = " ".join(messages(edges, "legacy", ids.TLS_PROTOCOLS))
    assert "accepts TLSv1 " in protocols and "accepts TLSv1.1" in protocols and "weak cipher suite" in protocols
    # switched off in the targets file, and said so
    assert verdicts(edges)["legacy"][ids.RATE_LIMITING] == {"not_applicable"}
    assert target_summary(edges, "legacy")["burst"] == "burst test: off (burst: false)"
    assert not any("burst" in e["request"] for e in target_summary(edges, "legacy")["transcript"])


def test_budget_is_respected_and_reported(edges):
    for t in edges.summary["targets"]:
        assert t["requests_sent"] <= t["budget"] == 60
        sent = [e for e in t["transcript"] if not e["request"].startswith("TCP connect")]
        assert len(sent) == t["requests_sent"]
    assert edges.summary["requests_sent"] == sum(t["requests_sent"] for t in edges.summary["targets"])


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    need(_has("uvicorn") and _has("starlette"), "uvicorn and starlette are not installed (pip install -e '.[test]')")
    with uvicorn_app("weak") as weak, uvicorn_app("hardened") as hard:
        folder = tmp_path_factory.mktemp("apps")
        yield run_targets(folder, f"""
targets:
  - name: weak-app
    url: {weak.url}
    exposure: internal
    paths: [/api/orders]
  - name: hardened-app
    url: {hard.url}
    exposure: internal
    paths: [/api/orders]
""")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_weak_asgi_app_reports_cors_rate_limit_and_stack_traces(apps):
    assert failing(apps, "weak-app") == {ids.CORS, ids.RATE_LIMITING, ids.STACK_TRACES}
    assert {ids.HEALTH, ids.SENSITIVE_PATHS, ids.LATENCY} <= passing(apps, "weak-app")
    cors = messages(apps, "weak-app", ids.CORS)[0]
    assert "reflected" in cors and "credentials" in cors
    assert "Python traceback" in messages(apps, "weak-app", ids.STACK_TRACES)[0]
    # an internal service is not judged on edge concerns
    assert ids.HEADERS not in verdicts(apps)["weak-app"] and ids.REDIRECT not in verdicts(apps)["weak-app"]


def test_hardened_asgi_app_passes(apps):
    assert failing(apps, "hardened-app") == set()
    assert {ids.HEALTH, ids.CORS, ids.RATE_LIMITING, ids.STACK_TRACES, ids.SENSITIVE_PATHS,
            ids.LATENCY} <= passing(apps, "hardened-app")
    assert any("429 after" in m for m in messages(apps, "hardened-app", ids.RATE_LIMITING, "pass"))
