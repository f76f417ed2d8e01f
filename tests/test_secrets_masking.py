"""Secrets found in a tree are reported with their line and never printed whole, in any output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodready.engine import ScanOptions, scan
from prodready.report import RENDERERS
from prodready.secrets import mask_secrets

AWS_KEY = "AKIAZ7QXK4PLM2WNB3TR"
AWS_SECRET = "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"
GH_TOKEN = "ghp_9fK2mQ7xLp4Rt8Vb3Nc6Hj1Wz5Ys0Ud2Ea7Gi"
DB_PASS = "Xq8!vR2#pLm9zT4w"


@pytest.fixture(scope="module")
def leaky(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("leaky")
    (root / "app").mkdir()
    (root / "app" / "settings.py").write_text(
        "import os\n\n"
        f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\n'
        'DEBUG = os.environ.get("DEBUG") == "1"\n')
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(
        "on: [push]\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - run: curl -H 'Authorization: token {GH_TOKEN}' https://api.github.com\n")
    (root / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  selector: {matchLabels: {a: b}}\n"
        "  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - name: api\n"
        f"        image: acme/api:1.0\n        env:\n        - name: DB_PASSWORD\n          value: \"{DB_PASS}\"\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text(f'FAKE = "{AWS_KEY}"\n')
    return root


@pytest.fixture(scope="module")
def report(leaky: Path) -> dict:
    return scan(leaky, ScanOptions(use_cache=False))


def test_secrets_are_found_with_lines(report: dict) -> None:
    r = next(x for x in report["results"] if x["control_id"] == "security.no-secrets-in-tree")
    assert r["status"] == "fail" and r["severity"] == "critical"
    where = {(e["path"], e["line"]) for e in r["evidence"]}
    assert ("app/settings.py", 3) in where and ("app/settings.py", 4) in where
    assert (".github/workflows/ci.yml", 6) in where
    assert not any(p.startswith("tests/") for p, _ in where)  # fake values in tests are not reported
    literal = next(x for x in report["results"] if x["control_id"] == "security.no-secret-literals-in-env")
    assert literal["status"] == "fail"


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_no_output_format_leaks_a_secret(report: dict, fmt: str) -> None:
    text = RENDERERS[fmt](report, color=False)
    for secret in (AWS_KEY, AWS_SECRET, GH_TOKEN, DB_PASS):
        assert secret not in text, f"{fmt} output leaks {secret[:4]}…"
    assert "****" in text or fmt == "junit" and "****" in text


def test_json_report_has_masked_snippets(report: dict) -> None:
    blob = json.dumps(report)
    for secret in (AWS_KEY, AWS_SECRET, GH_TOKEN, DB_PASS):
        assert secret not in blob
    assert "AKI****" in blob or "AKIA" not in blob


def test_mask_secrets_keeps_a_short_prefix() -> None:
    assert mask_secrets(f"token={GH_TOKEN}") == "token=ghp****"
    assert mask_secrets("postgres://app:s3cr3tpass@db:5432/x") == "postgres://app****@db:5432/x"
    assert mask_secrets("image: nginx:1.27") == "image: nginx:1.27"


def test_the_literal_gate_never_skips_text_the_pattern_would_mask() -> None:
    """_mask skips ASCII text that holds none of _QUICK's literals; it must never skip text _QUICK matches."""
    import random

    from prodready import secrets as S

    rng = random.Random(7)
    parts = ["Pass", "PASSWORD", "secret", "TOKEN", "api_key", "Credential", "AUTH", "AKIA", "ghp_", "GHS_",
             "github_pat", "xoxb-", "sk_live", "SK_TEST", "eyJ", "PRIVATE KEY", "://u:p@", "://", "=", ":", "\"",
             " ", "x", "-", ".", "_", "abc123", "K", "\u212a", "\u017f"]
    checked = 0
    for _ in range(20000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 8)))
        if S._QUICK.search(text):
            checked += 1
            low = text.lower()
            assert not text.isascii() or any(a in low for a in S._QUICK_ANCHORS), text
    assert checked > 1000
    assert S.mask_secrets("url: https://admin:hunter22@db.internal/x") != "url: https://admin:hunter22@db.internal/x"
    assert S.mask_secrets("replicas: 3") == "replicas: 3"
