"""Configuration, inline suppressions and waivers: each can fail loudly, none fails silently."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from prodready.engine import ScanError, ScanOptions, scan

WORKER = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  namespace: shop
spec:
  replicas: 2
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          image: ghcr.io/acme/worker:1.0
          securityContext:
            privileged: true
"""


def result(report: dict, cid: str) -> dict:
    return next(r for r in report["results"] if r["control_id"] == cid)


def kinds(report: dict) -> set[str]:
    return {d["kind"] for d in report["diagnostics"]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "worker.yaml").write_text(WORKER)
    return tmp_path


def test_disable_and_severity_override(repo: Path) -> None:
    (repo / ".prodready.toml").write_text('disable = ["security.read-only-root-filesystem"]\n'
                                          '[severity]\n"security.no-privileged-containers" = "low"\n')
    r = scan(repo, ScanOptions(use_cache=False))
    ids = {x["control_id"] for x in r["results"]}
    assert "security.read-only-root-filesystem" not in ids
    priv = result(r, "security.no-privileged-containers")
    assert priv["status"] == "fail" and priv["severity"] == "low" and priv["weight"] == 1


def test_pyproject_section_and_gates(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.prodready]\nfail_on = "critical"\n')
    r = scan(repo, ScanOptions(use_cache=False))
    assert r["gates"]["failed"] and "security.no-privileged-containers" in r["gates"]["reasons"][0]
    assert r["config"] == "pyproject.toml"


@pytest.mark.parametrize("content,key,line", [
    ('fail_under = 80\nfail_onn = "high"\n', "fail_onn", 2),
    ('disable = ["security.nope"]\n', "disable", 1),
    ('fail_under = 180\n', "fail_under", 1),
    ('\n\n[severity]\n"security.no-privileged-containers" = "urgent"\n', "severity.security.no-privileged-containers", 4),
])
def test_invalid_configuration_names_file_key_and_line(repo: Path, content: str, key: str, line: int) -> None:
    (repo / ".prodready.toml").write_text(content)
    with pytest.raises(ScanError) as exc:
        scan(repo, ScanOptions(use_cache=False))
    msg = str(exc.value)
    assert f".prodready.toml:{line}" in msg and repr(key) in msg


def test_invalid_toml_is_exit_2_with_location(repo: Path) -> None:
    (repo / ".prodready.toml").write_text("fail_under = = 3\n")
    proc = subprocess.run([sys.executable, "-m", "prodready", "scan", str(repo), "-f", "json"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and ".prodready.toml:1" in proc.stderr and "Traceback" not in proc.stderr


def test_inline_suppression_requires_a_reason(repo: Path) -> None:
    text = WORKER.replace("        - name: worker\n",
                          "        # prodready: ignore security.no-privileged-containers -- needs raw sockets (OPS-12)\n"
                          "        - name: worker\n")
    (repo / "worker.yaml").write_text(text)
    r = scan(repo, ScanOptions(use_cache=False))
    priv = result(r, "security.no-privileged-containers")
    assert priv["status"] == "pass" and priv["suppressed"][0]["reason"].startswith("needs raw sockets")
    # the same comment without a reason does not apply and is reported
    (repo / "worker.yaml").write_text(text.replace(" -- needs raw sockets (OPS-12)", ""))
    r = scan(repo, ScanOptions(use_cache=False))
    assert result(r, "security.no-privileged-containers")["status"] == "fail"
    bad = [d for d in r["diagnostics"] if d["kind"] == "suppression-invalid"]
    assert bad and bad[0]["line"] == 13 and "reason" in bad[0]["message"]


def test_suppressions_in_dockerfile_python_and_js(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\n"
                                         "# prodready: ignore security.dockerfile-no-secrets-in-build -- public demo key\n"
                                         "ARG API_KEY=demo\nUSER 1000\n")
    (tmp_path / "app.py").write_text("import requests\n\n"
                                     "requests.get('http://x')  # prodready: ignore reliability.outbound-timeouts -- "
                                     "streaming client, timeout set by proxy\n")
    (tmp_path / "client.js").write_text("const axios = require('axios');\n"
                                        "// prodready: ignore reliability.outbound-timeouts -- batch job\n"
                                        "axios.get('http://x');\n")
    r = scan(tmp_path, ScanOptions(use_cache=False))
    assert result(r, "security.dockerfile-no-secrets-in-build")["status"] == "pass"
    t = result(r, "reliability.outbound-timeouts")
    assert t["status"] == "pass" and len(t["suppressed"]) == 2


def test_unused_suppression_is_reported(repo: Path) -> None:
    (repo / "app.py").write_text("# prodready: ignore security.debug-disabled -- legacy\nx = 1\n")
    r = scan(repo, ScanOptions(use_cache=False))
    assert "suppression-unused" in kinds(r)


def waivers(repo: Path, body: str) -> None:
    (repo / ".prodready").mkdir(exist_ok=True)
    (repo / ".prodready" / "waivers.yaml").write_text(body)


def test_waiver_applies_until_expiry_and_no_waivers_shows_raw_state(repo: Path) -> None:
    waivers(repo, "waivers:\n  - control: security.no-privileged-containers\n"
                  "    resource: Deployment/shop/worker*\n    reason: CNI plugin needs it\n    expires: 2099-01-01\n")
    r = scan(repo, ScanOptions(use_cache=False))
    priv = result(r, "security.no-privileged-containers")
    assert priv["status"] == "pass" and priv["waived"][0]["expires"] == "2099-01-01"
    raw = scan(repo, ScanOptions(use_cache=False, use_waivers=False))
    assert result(raw, "security.no-privileged-containers")["status"] == "fail"
    assert "waivers-disabled" in kinds(raw)


def test_expired_waiver_is_reported_and_no_longer_applies(repo: Path) -> None:
    waivers(repo, "waivers:\n  - control: security.no-privileged-containers\n    path: worker.yaml\n"
                  "    reason: temporary\n    expires: 2024-01-31\n")
    r = scan(repo, ScanOptions(use_cache=False, today=dt.date(2026, 11, 23)))
    assert result(r, "security.no-privileged-containers")["status"] == "fail"
    exp = [d for d in r["diagnostics"] if d["kind"] == "waiver-expired"]
    assert exp and exp[0]["line"] == 2 and "2024-01-31" in exp[0]["message"]


def test_waiver_matching_nothing_is_reported(repo: Path) -> None:
    waivers(repo, "waivers:\n  - control: security.no-privileged-containers\n    path: other/*.yaml\n"
                  "    reason: x\n    expires: 2099-01-01\n")
    r = scan(repo, ScanOptions(use_cache=False))
    assert "waiver-unmatched" in kinds(r)
    assert result(r, "security.no-privileged-containers")["status"] == "fail"


@pytest.mark.parametrize("body,needle", [
    ("waivers:\n  - control: security.no-privileged-containers\n    path: x\n    expires: 2099-01-01\n", "reason"),
    ("waivers:\n  - control: security.nope\n    path: x\n    reason: r\n    expires: 2099-01-01\n", "unknown control"),
    ("waivers:\n  - control: security.no-privileged-containers\n    path: x\n    reason: r\n    expires: soon\n",
     "YYYY-MM-DD"),
    ("waivers:\n  - control: security.no-privileged-containers\n    reason: r\n    expires: 2099-01-01\n", "path"),
])
def test_invalid_waivers_are_errors(repo: Path, body: str, needle: str) -> None:
    waivers(repo, body)
    with pytest.raises(ScanError, match=needle):
        scan(repo, ScanOptions(use_cache=False))
