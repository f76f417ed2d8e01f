"""The targets file: schema, defaults, and clear errors (file:line, key) for what is wrong."""

from __future__ import annotations

import pytest

from prodready.cli import main
from prodready.probe.targets import DEFAULT_BUDGET, TargetsError, load_targets, parse_targets

GOOD = """\
version: 1
concurrency: 2
defaults:
  budget: 40
  timeout: 3
  burst: false
targets:
  - name: api
    url: https://api.example.com/
    health: /healthz
    readiness: /readyz
    metrics: /metrics
    paths: [/api/v1/orders]
    http_url: http://api.example.com/
    latency: {samples: 5, p95_ms: 250}
  - name: db
    url: postgresql://app@db.internal:5432/shop
    password_env: SHOP_DB_PASSWORD
    budget: 12
  - name: cache
    url: redis://cache.internal:6379/0
    exposure: private
  - name: grafana
    kind: grafana
    url: http://grafana.internal:3000
    default_credentials: false
  - name: events
    url: kafka://kafka.internal:9092
"""


def test_a_complete_file_parses_with_defaults_applied():
    t = parse_targets(GOOD)
    assert t.concurrency == 2
    api, db, cache, grafana, events = t.targets
    assert (api.kind, api.exposure, api.budget, api.timeout, api.burst.enabled) == ("http", "public", 40, 3.0, False)
    assert (api.health, api.readiness, api.metrics, api.paths) == ("/healthz", "/readyz", "/metrics",
                                                                    ["/api/v1/orders"])
    assert (api.latency_samples, api.p95_ms) == (5, 250.0)
    assert ("http", "api.example.com", 80) in api.origins() and ("https", "api.example.com", 443) in api.origins()
    assert (db.kind, db.exposure, db.budget, db.port, db.password_env) == ("postgresql", "internal", 12, 5432,
                                                                          "SHOP_DB_PASSWORD")
    assert cache.exposure == "private" and cache.kind == "redis"
    assert grafana.kind == "grafana" and grafana.default_credentials is False
    assert events.kind == "kafka" and events.port == 9092


def test_defaults_when_nothing_is_said():
    t = parse_targets("targets:\n  - name: a\n    url: http://127.0.0.1:8000\n").targets[0]
    assert t.budget == DEFAULT_BUDGET and t.burst.enabled and t.default_credentials and t.exposure == "public"


def test_credentials_come_from_the_environment(monkeypatch):
    t = parse_targets(GOOD).targets[1]
    monkeypatch.delenv("SHOP_DB_PASSWORD", raising=False)
    assert t.credentials() == ("app", None)
    monkeypatch.setenv("SHOP_DB_PASSWORD", "s3cret-value")
    assert t.credentials() == ("app", "s3cret-value")


@pytest.mark.parametrize("text,line,words", [
    ("targets:\n  - name: db\n    url: postgresql://app:hunter2@db:5432/x\n", 3, "carries a password"),
    ("targets:\n  - name: db\n    url: postgresql://db\n    password: hunter2\n", 4, "never go in this file"),
    ("targets:\n  - name: a\n    url: ftp://x\n", 3, "cannot tell the kind"),
    ("targets:\n  - name: a\n    url: http://x\n  - name: a\n    url: http://y\n", 4, "duplicate target name"),
    ("targets:\n  - name: a\n    url: http://x\n    budget: 0\n", 4, "integer from 1"),
    ("targets:\n  - name: a\n    url: http://x\n    health: healthz\n", 4, "starting with '/'"),
    ("targets:\n  - name: a\n    url: http://x\n    exposure: world\n", 4, "public, internal, private"),
    ("targets:\n  - name: a\n    url: http://x\n    tls: {ca_file: nope.pem}\n", 4, "file not found"),
    ("targets:\n  - name: a\n    url: redis://x\n    health: /h\n", 4, "unknown key in a redis target"),
    ("targets:\n  - name: a\n    url: http://x\n    password_env: not-a-name\n", 4, "environment variable"),
    ("targets:\n  - name: a\n    url: http://x\n    http_url: http://other\n", 4, "same host"),
    ("targets:\n  - name: a\n    kind: grafana\n    url: redis://x\n", 4, "not allowed here"),
    ("targets:\n  - name: a\n    url: http://x?debug=1\n", 3, "no query string"),
    ("version: 2\ntargets: []\n", 1, "unsupported version"),
    ("targets: []\n", 1, "non-empty list"),
    ("targets:\n  - just-a-string\n", 2, "must be a mapping"),
    ("targets:\n  - name: a\n    url: http://x\n    burst: {requests: 3}\n", 4, "integer from 10"),
    ("targets: [\n", 2, "invalid YAML"),
])
def test_errors_name_line_and_problem(text, line, words):
    with pytest.raises(TargetsError) as err:
        parse_targets(text, "t.yaml")
    assert f"t.yaml:{line}" in str(err.value)
    assert words in str(err.value)


def test_bad_values_of_the_wrong_type_never_crash():
    for text in ("[]", "targets: 3", "targets:\n  - name: [1]\n    url: http://x\n",
                 "targets:\n  - name: a\n    url: 12\n", "targets:\n  - name: a\n    url: http://x\n    paths: 7\n",
                 "defaults: [1]\ntargets:\n  - name: a\n    url: http://x\n", "\x00\x01"):
        with pytest.raises(TargetsError):
            parse_targets(text)


def test_missing_file_and_cli_exit_code(tmp_path, capsys):
    with pytest.raises(TargetsError, match="not found"):
        load_targets(tmp_path / "nope.yaml")
    bad = tmp_path / "targets.yaml"
    bad.write_text("targets:\n  - name: db\n    url: redis://:pw@cache:6379\n")
    assert main(["probe", "--targets", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "targets.yaml:3" in err and "password_env" in err and "Traceback" not in err
    assert main(["scan", str(tmp_path), "--targets", str(tmp_path / "missing.yaml")]) == 2
