"""Tests for the output renderers (terminal, SARIF, JUnit, Markdown, JSON).

All tests use hand-built report dicts shaped like ``prodready scan --format json``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from prodready.report import RENDERERS, render
from prodready.report import junit as junit_mod
from prodready.report import markdown as markdown_mod
from prodready.report import sarif as sarif_mod
from prodready.report import terminal as terminal_mod

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "sarif-schema-2.1.0.json"

CATEGORY_TITLES = {
    "security": "Security",
    "observability": "Observability",
    "reliability": "Reliability",
    "scalability": "Scalability",
    "data": "Data",
    "delivery": "Delivery",
    "performance": "Performance",
    "compliance": "Compliance",
    "documentation": "Documentation",
    "cost": "Cost",
}


def _category(cid: str, score: float | None, passed: int, failed: int, na: int, attest: int = 0) -> dict[str, Any]:
    return {
        "id": cid,
        "title": CATEGORY_TITLES[cid],
        "score": score,
        "passed": passed,
        "failed": failed,
        "not_applicable": na,
        "needs_attestation": attest,
        "passed_weight": 20 if score else 0,
        "applicable_weight": 25 if score is not None else 0,
    }


def make_report() -> dict[str, Any]:
    """A realistic report: every status, null/zero lines, unicode, ``|`` and ``<`` in text."""
    return {
        "schema_version": "1.0",
        "tool": {"name": "prodready", "version": "0.1.0"},
        "root": "/srv/repos/shop",
        "scanned_at": "2026-11-23T13:00:00Z",
        "duration_s": 0.42,
        "files": {"total": 57, "by_kind": {"k8s": 12, "dockerfile": 3, "python": 30}},
        "score": 72.4,
        "level": "bronze",
        "categories": [
            _category("security", 80.0, 4, 2, 2),
            _category("observability", 64.5, 3, 1, 0),
            _category("reliability", None, 0, 0, 3),
            _category("scalability", 100.0, 2, 0, 0),
            _category("data", 0.0, 0, 1, 0),
            _category("delivery", 90.0, 3, 0, 0),
            _category("performance", None, 0, 0, 0),
            _category("compliance", 100.0, 1, 0, 0),
            _category("documentation", 0.0, 0, 0, 0, 1),
            _category("cost", 50.0, 1, 1, 0),
        ],
        "results": [
            {
                "control_id": "security.container-non-root",
                "title": "Containers run as a non-root user",
                "category": "security",
                "severity": "high",
                "status": "fail",
                "message": "2 of 3 containers may run as root | image <none> has no USER",
                "weight": 5,
                "points_lost": 3.1,
                "rationale": "A process running as root inside a container is one kernel bug away from the host.",
                "remediation": "Set runAsNonRoot in the pod securityContext:\n"
                "securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n"
                "Or add a USER instruction to the final Dockerfile stage.",
                "references": ["CIS Kubernetes 5.2.6", "https://kubernetes.io/docs/concepts/security/pod-security-standards/"],
                "evidence": [
                    {
                        "status": "fail",
                        "path": "k8s/api.yaml",
                        "line": 17,
                        "snippet": "image: shop/api:1.2",
                        "resource": "Deployment/shop/api container api",
                        "message": "runAsNonRoot not set and image final stage runs as root",
                    },
                    {
                        "status": "fail",
                        "path": "k8s/café-worker.yaml",
                        "line": None,
                        "snippet": None,
                        "resource": "Deployment/shop/café container worker",
                        "message": "runAsUser: 0 — explicitly root <uid 0>",
                    },
                    {
                        "status": "pass",
                        "path": "compose.yaml",
                        "line": 4,
                        "snippet": None,
                        "resource": "compose service worker",
                        "message": "USER app",
                    },
                ],
                "suppressed": [
                    {
                        "path": "k8s/debug.yaml",
                        "line": 9,
                        "resource": "Pod/debug container shell",
                        "reason": "debug pod, never deployed to prod",
                    }
                ],
                "waived": [
                    {
                        "path": "k8s/legacy.yaml",
                        "resource": "Deployment/shop/legacy container app",
                        "reason": "legacy image, replaced in Q1",
                        "expires": "2027-01-01",
                    }
                ],
            },
            {
                "control_id": "security.no-plaintext-secrets",
                "title": "No plaintext secrets in configuration",
                "category": "security",
                "severity": "critical",
                "status": "fail",
                "message": "1 secret found in .env",
                "weight": 10,
                "points_lost": 6.2,
                "rationale": "Secrets in the repository leak to everyone with read access.",
                "remediation": "Move the value to a secret manager and reference it at runtime.",
                "references": [],
                "evidence": [
                    {
                        "status": "fail",
                        "path": ".env",
                        "line": 0,
                        "snippet": "STRIPE_KEY=sk_l****",
                        "resource": "env STRIPE_KEY",
                        "message": "looks like a Stripe live key",
                    }
                ],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "observability.readiness-probes",
                "title": "Workloads declare readiness probes",
                "category": "observability",
                "severity": "high",
                "status": "pass",
                "message": "all 3 workloads declare a readiness probe",
                "weight": 5,
                "points_lost": 0.0,
                "rationale": "",
                "remediation": "",
                "references": [],
                "evidence": [
                    {
                        "status": "pass",
                        "path": "k8s/api.yaml",
                        "line": 30,
                        "snippet": "readinessProbe:",
                        "resource": "Deployment/shop/api",
                        "message": "readiness probe on /healthz",
                    }
                ],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "observability.alerting-rules",
                "title": "Alerting rules exist for the service",
                "category": "observability",
                "severity": "medium",
                "status": "fail",
                "message": "no Prometheus alerting rule targets this service",
                "weight": 3,
                "points_lost": 1.9,
                "rationale": "Without alerts nobody learns about an outage before users do.",
                "remediation": "Add a PrometheusRule:\n\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n"
                "spec:\n  groups:\n    - name: shop\n      rules:\n        - alert: HighErrorRate\n"
                "\nThen route it to the on-call receiver.",
                "references": ["Google SRE book, ch. 6"],
                "evidence": [
                    {
                        "status": "fail",
                        "path": "monitoring/rules.yaml",
                        "line": 1,
                        "snippet": "groups: []",
                        "resource": None,
                        "message": "rule file has no groups",
                    }
                ],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "reliability.pod-disruption-budget",
                "title": "Replicated workloads have a PodDisruptionBudget",
                "category": "reliability",
                "severity": "medium",
                "status": "not_applicable",
                "message": "no workload has more than one replica",
                "weight": 3,
                "points_lost": 0.0,
                "rationale": "",
                "remediation": "",
                "references": [],
                "evidence": [],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "data.backups",
                "title": "Databases are backed up",
                "category": "data",
                "severity": "low",
                "status": "fail",
                "message": "no backup job or policy found for the Postgres database",
                "weight": 1,
                "points_lost": 0.6,
                "rationale": "",
                "remediation": "Schedule pg_dump or enable managed backups.",
                "references": [],
                "evidence": [],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "documentation.runbook",
                "title": "An on-call runbook exists",
                "category": "documentation",
                "severity": "medium",
                "status": "needs_attestation",
                "message": "a person must confirm the runbook is current",
                "weight": 3,
                "points_lost": 1.9,
                "rationale": "",
                "remediation": "Record an attestation with `prodready attest`.",
                "references": [],
                "evidence": [],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "delivery.ci-pipeline",
                "title": "A CI pipeline builds and tests every change",
                "category": "delivery",
                "severity": "high",
                "status": "error",
                "message": "could not evaluate: workflow has unexpected <tag> & \x1b[31mcolour\x1b[0m",
                "weight": 5,
                "points_lost": 0.0,
                "rationale": "",
                "remediation": "",
                "references": [],
                "evidence": [
                    {
                        "status": "error",
                        "path": ".github/workflows/ci.yml",
                        "line": 12,
                        "snippet": None,
                        "resource": None,
                        "message": "bad",
                    }
                ],
                "suppressed": [],
                "waived": [],
            },
            {
                "control_id": "cost.resource-requests",
                "title": "Containers declare resource requests",
                "category": "cost",
                "severity": "medium",
                "status": "fail",
                "message": "8 containers have no CPU request",
                "weight": 3,
                "points_lost": 1.9,
                "rationale": "",
                "remediation": "",
                "references": [],
                "evidence": [
                    {
                        "status": "fail",
                        "path": f"k8s/svc{i}.yaml",
                        "line": 10 + i,
                        "snippet": None,
                        "resource": f"Deployment/shop/svc{i}",
                        "message": "resources.requests.cpu missing",
                    }
                    for i in range(8)
                ],
                "suppressed": [],
                "waived": [],
            },
            # How the core reports an unparsable file: a result with control id "parse-error".
            {
                "control_id": "parse-error",
                "title": "File could not be parsed",
                "category": None,
                "severity": "high",
                "status": "error",
                "message": "mapping values are not allowed here",
                "weight": 0,
                "points_lost": 0.0,
                "rationale": "",
                "remediation": "",
                "references": [],
                "evidence": [
                    {
                        "status": "error",
                        "path": "k8s/broken.yaml",
                        "line": 3,
                        "snippet": "  image: nginx: latest",
                        "resource": None,
                        "message": "mapping values are not allowed here",
                    }
                ],
                "suppressed": [],
                "waived": [],
            },
        ],
        "diagnostics": [
            {"kind": "parse-error", "path": "k8s/broken.yaml", "line": 3, "message": "mapping values are not allowed here"},
            {"kind": "parse-error", "path": "nginx/site.conf", "line": None, "message": "unexpected end of file"},
            {"kind": "skipped", "path": "big.yaml", "line": None, "message": "file larger than 5 MB"},
            {"kind": "suppression-invalid", "path": "app.py", "line": 8, "message": "suppression without a reason"},
            {"kind": "waiver-expired", "path": ".prodready/waivers.yaml", "line": 4, "message": "waiver expired"},
        ],
        "gates": {"fail_under": 80, "fail_on": "high", "failed": True, "reasons": ["score 72.4 < 80"]},
    }


def minimal_report() -> dict[str, Any]:
    return {
        "schema_version": "1.0",
        "tool": {"name": "prodready", "version": "0.1.0"},
        "root": "/tmp/empty",
        "scanned_at": "2026-11-23T13:00:00Z",
        "duration_s": 0.01,
        "files": {"total": 0, "by_kind": {}},
        "score": 100.0,
        "level": "gold",
        "categories": [],
        "results": [],
        "diagnostics": [],
        "gates": {"fail_under": None, "fail_on": None, "failed": False, "reasons": []},
    }


# --------------------------------------------------------------------------------------------------
# registry


def test_renderers_registry_covers_all_formats_and_ends_with_newline() -> None:
    assert {"terminal", "sarif", "junit", "markdown", "json"} <= set(RENDERERS)
    report = make_report()
    for name, renderer in RENDERERS.items():
        out = renderer(report, color=False)
        assert isinstance(out, str) and out.endswith("\n") and not out.endswith("\n\n"), name


def test_json_renderer_round_trips() -> None:
    report = make_report()
    assert json.loads(render(report, "json")) == report


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format 'html'"):
        render(make_report(), "html")


def test_minimal_report_renders_in_every_format() -> None:
    report = minimal_report()
    sarif = json.loads(render(report, "sarif"))
    assert sarif["runs"][0]["results"] == []
    assert ET.fromstring(render(report, "junit")).get("tests") == "0"
    assert "No failing controls." in render(report, "terminal")
    assert "No failing controls." in render(report, "markdown")


# --------------------------------------------------------------------------------------------------
# SARIF


def _load_sarif_schema() -> dict[str, Any]:
    if not SARIF_SCHEMA.is_file():
        reason = f"SARIF 2.1.0 schema not found at {SARIF_SCHEMA} (the shared folder next to the repository)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; it must be present in CI")
        pytest.skip(reason)
    return json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))


def _sarif_validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft7Validator
    from jsonschema.validators import validator_for

    # The file declares its own dialect ($schema: draft-04 for the OASIS schema); honour it,
    # falling back to Draft 7 only if the declaration were missing.
    assert str(schema.get("$schema", "")).startswith("http://json-schema.org/draft-0")
    cls = validator_for(schema, default=Draft7Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_sarif_validates_against_oasis_schema() -> None:
    schema = _load_sarif_schema()
    validator = _sarif_validator(schema)
    log = json.loads(render(make_report(), "sarif"))
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    assert not list(validator.iter_errors(json.loads(render(minimal_report(), "sarif"))))

    # The validator bites: startLine 0 is exactly what SARIF forbids.
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] = {"startLine": 0}
    assert any("startLine" in str(list(e.absolute_path)) for e in validator.iter_errors(broken))


def test_missing_sarif_schema_skips_locally_but_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "SARIF_SCHEMA", tmp_path / "absent.json")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must be present in CI"):
        _load_sarif_schema()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="SARIF 2.1.0 schema not found"):
        _load_sarif_schema()


def _sarif() -> dict[str, Any]:
    return json.loads(render(make_report(), "sarif"))


def test_sarif_header_tool_and_base_uri() -> None:
    log = _sarif()
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "prodready"
    assert driver["version"] == "0.1.0"
    assert "informationUri" not in driver  # no public home page to point at; the field is optional
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///srv/repos/shop/"
    assert run["properties"]["score"] == 72.4 and run["properties"]["gateFailed"] is True


def test_sarif_rules_cover_every_control_plus_parse_error() -> None:
    log = _sarif()
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    expected = [r["control_id"] for r in make_report()["results"] if r["control_id"] != "parse-error"]
    assert ids == [*expected, "parse-error"]
    assert len(set(ids)) == len(ids)
    rule = rules[0]
    assert rule["id"] == "security.container-non-root"
    assert rule["name"] == "SecurityContainerNonRoot"
    assert rule["shortDescription"]["text"] == "Containers run as a non-root user"
    assert rule["fullDescription"]["text"].startswith("A process running as root")
    assert "runAsNonRoot: true" in rule["help"]["text"]
    assert "```\nsecurityContext:\n  runAsNonRoot: true" in rule["help"]["markdown"]
    assert "- <https://kubernetes.io/docs/concepts/security/pod-security-standards/>" in rule["help"]["markdown"]
    assert rule["helpUri"] == "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
    assert rule["properties"]["category"] == "security"
    assert rule["properties"]["severity"] == "high"
    assert "security" in rule["properties"]["tags"]
    assert rule["properties"]["security-severity"] == "8.0"
    # Non-security rules carry no security-severity.
    by_id = {r["id"]: r for r in rules}
    assert "security-severity" not in by_id["data.backups"]["properties"]


def test_sarif_results_counts_levels_and_locations() -> None:
    log = _sarif()
    run = log["runs"][0]
    results = run["results"]
    rules = run["tool"]["driver"]["rules"]
    for res in results:  # ruleIndex points at the right rule
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]

    active = [r for r in results if "suppressions" not in r]
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for res in active:
        by_rule.setdefault(res["ruleId"], []).append(res)
    # one result per failing evidence item; passing evidence is not reported
    assert len(by_rule["security.container-non-root"]) == 2
    assert len(by_rule["security.no-plaintext-secrets"]) == 1
    assert len(by_rule["observability.alerting-rules"]) == 1
    assert len(by_rule["cost.resource-requests"]) == 8
    assert len(by_rule["data.backups"]) == 1  # repository-level finding, no evidence
    assert len(by_rule["parse-error"]) == 2  # diagnostic + result for broken.yaml deduplicated
    assert "observability.readiness-probes" not in by_rule  # pass
    assert "reliability.pod-disruption-budget" not in by_rule  # not applicable
    assert "delivery.ci-pipeline" not in by_rule  # error → notification
    assert len(active) == 2 + 1 + 1 + 8 + 1 + 2

    levels = {rule_id: {r["level"] for r in items} for rule_id, items in by_rule.items()}
    assert levels["security.no-plaintext-secrets"] == {"error"}  # critical
    assert levels["security.container-non-root"] == {"error"}  # high
    assert levels["observability.alerting-rules"] == {"warning"}  # medium
    assert levels["data.backups"] == {"note"}  # low
    assert levels["parse-error"] == {"error"}

    api, cafe = by_rule["security.container-non-root"]
    loc = api["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "k8s/api.yaml", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 17
    assert loc["region"]["snippet"]["text"] == "image: shop/api:1.2"
    assert "runAsNonRoot not set" in api["message"]["text"]
    # null line → no region; unicode path percent-encoded
    cafe_loc = cafe["locations"][0]["physicalLocation"]
    assert "region" not in cafe_loc
    assert cafe_loc["artifactLocation"]["uri"] == "k8s/caf%C3%A9-worker.yaml"
    # line 0 → no region (SARIF requires startLine >= 1)
    secret_loc = by_rule["security.no-plaintext-secrets"][0]["locations"][0]["physicalLocation"]
    assert "region" not in secret_loc and secret_loc["artifactLocation"]["uri"] == ".env"
    # repository-level finding still has a location (GitHub rejects results without one)
    backup_loc = by_rule["data.backups"][0]["locations"][0]["physicalLocation"]
    assert backup_loc["artifactLocation"] == {"uri": ".", "uriBaseId": "%SRCROOT%"}
    parse = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in by_rule["parse-error"]}
    assert parse["k8s/broken.yaml"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert "region" not in parse["nginx/site.conf"]["locations"][0]["physicalLocation"]


def test_sarif_suppressions_and_notifications() -> None:
    run = _sarif()["runs"][0]
    suppressed = [r for r in run["results"] if "suppressions" in r]
    kinds = {r["suppressions"][0]["kind"]: r for r in suppressed}
    assert set(kinds) == {"inSource", "external"}
    assert kinds["inSource"]["suppressions"][0]["justification"] == "debug pod, never deployed to prod"
    assert kinds["inSource"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 9
    assert kinds["external"]["suppressions"][0]["justification"] == "legacy image, replaced in Q1"
    assert kinds["external"]["suppressions"][0]["properties"]["expires"] == "2027-01-01"
    assert kinds["external"]["ruleId"] == "security.container-non-root"

    notes = run["invocations"][0]["toolExecutionNotifications"]
    by_descriptor = {n["descriptor"]["id"]: n for n in notes}
    assert by_descriptor["control-error"]["level"] == "error"
    assert by_descriptor["control-error"]["associatedRule"]["id"] == "delivery.ci-pipeline"
    assert by_descriptor["waiver-expired"]["level"] == "warning"
    assert by_descriptor["skipped"]["level"] == "note"
    assert "parse-error" not in by_descriptor  # parse errors are results, not notifications


def test_sarif_fingerprints_ignore_line_numbers() -> None:
    report = make_report()
    moved = copy.deepcopy(report)
    moved["results"][0]["evidence"][0]["line"] = 99

    def fingerprints(rep: dict[str, Any]) -> list[str]:
        return [r["partialFingerprints"]["prodready/v1"] for r in json.loads(render(rep, "sarif"))["runs"][0]["results"]]

    before, after = fingerprints(report), fingerprints(moved)
    assert before == after
    assert len(set(before[:2])) == 2  # different resources → different fingerprints
    assert sarif_mod.fingerprint("a.b", "x.yaml", "r") != sarif_mod.fingerprint("a.b", "x.yaml", "s")
    assert sarif_mod.fingerprint("a.b", "./x.yaml", "r") == sarif_mod.fingerprint("a.b", "x.yaml", "r")


def test_sarif_absolute_and_windows_paths() -> None:
    report = make_report()
    report["results"][0]["evidence"][0]["path"] = "/srv/repos/shop/k8s/api.yaml"
    report["results"][0]["evidence"][1]["path"] = "/etc/other place.yaml"
    results = json.loads(render(report, "sarif"))["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "k8s/api.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert results[1]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///etc/other%20place.yaml"
    }
    report["root"] = "C:\\src\\shop"
    run = json.loads(render(report, "sarif"))["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///C:/src/shop/"


# --------------------------------------------------------------------------------------------------
# JUnit


def _junit(report: dict[str, Any] | None = None) -> ET.Element:
    text = render(report or make_report(), "junit")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text)


def test_junit_structure_and_counts() -> None:
    root = _junit()
    assert root.tag == "testsuites" and root.get("name") == "prodready"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == [*CATEGORY_TITLES, "diagnostics"]
    sec = suites["security"]
    assert (sec.get("tests"), sec.get("failures"), sec.get("errors"), sec.get("skipped")) == ("2", "2", "0", "0")
    obs = suites["observability"]
    assert (obs.get("tests"), obs.get("failures")) == ("2", "1")
    assert suites["reliability"].get("skipped") == "1"
    assert suites["delivery"].get("errors") == "1"
    assert suites["documentation"].get("failures") == "1"
    assert suites["performance"].get("tests") == "0"
    diag = suites["diagnostics"]
    assert (diag.get("tests"), diag.get("errors")) == ("2", "2")
    # totals: 9 control results + 2 parse errors; failures = 5 fail + 1 needs_attestation
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("11", "6", "3", "1")
    assert sum(int(s.get("tests", "0")) for s in suites.values()) == int(root.get("tests", "-1"))
    assert len(root.findall(".//testcase")) == 11


def test_junit_testcase_contents() -> None:
    root = _junit()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    case = cases["security.container-non-root"]
    assert case.get("classname") == "prodready.security"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "high"
    assert failure.get("message") == "2 of 3 containers may run as root | image <none> has no USER"
    assert "k8s/api.yaml:17  Deployment/shop/api container api — runAsNonRoot not set" in (failure.text or "")
    assert "    image: shop/api:1.2" in (failure.text or "")
    assert "k8s/café-worker.yaml  Deployment/shop/café container worker" in (failure.text or "")
    assert "compose.yaml" not in (failure.text or "")  # passing evidence is not a failure reason
    attest = cases["documentation.runbook"].find("failure")
    assert attest is not None and attest.get("type") == "needs_attestation"
    assert cases["reliability.pod-disruption-budget"].find("skipped") is not None
    error = cases["delivery.ci-pipeline"].find("error")
    assert error is not None and "<tag> &" in (error.get("message") or "")
    assert "\x1b" not in (error.get("message") or "") and "\\x1b[31m" in (error.get("message") or "")
    passed = cases["observability.readiness-probes"]
    assert list(passed) == []
    parse = cases["parse-error k8s/broken.yaml:3"]
    assert parse.get("classname") == "prodready.diagnostics"
    parse_error = parse.find("error")
    assert parse_error is not None and parse_error.get("type") == "parse-error"
    system_err = root.find("testsuite[@name='diagnostics']/system-err")
    assert system_err is not None and "waiver-expired  .prodready/waivers.yaml:4" in (system_err.text or "")


def test_junit_is_well_formed_with_hostile_text() -> None:
    report = make_report()
    report["results"][0]["message"] = 'nul\x00 bell\x07 "quotes" ]]> </failure> <!-- & \ud800'
    report["results"][0]["evidence"][0]["snippet"] = "x\x0cy"
    root = _junit(report)
    failure = root.find(".//testcase[@name='security.container-non-root']/failure")
    assert failure is not None
    assert failure.get("message") == '''nul\\x00 bell\\x07 "quotes" ]]> </failure> <!-- & \\xd800'''
    assert "x\\x0cy" in (failure.text or "")


# --------------------------------------------------------------------------------------------------
# Markdown


def test_markdown_header_and_category_table() -> None:
    md = render(make_report(), "markdown")
    assert md.startswith("# Production readiness report\n")
    assert "**Score: 72.4 / 100** · **Level: bronze**" in md
    assert "| Category | Score | Passed | Failed | N/A | Needs attestation |" in md
    assert "| Security | 80.0 | 4 | 2 | 2 | 0 |" in md
    assert "| Reliability | n/a | 0 | 0 | 3 | 0 |" in md
    assert "| Documentation | 0.0 | 0 | 0 | 0 | 1 |" in md
    assert "**Gate: failed** — score 72.4 \\< 80" in md


def test_markdown_failing_controls_escaping_and_evidence() -> None:
    md = render(make_report(), "markdown")
    lines = md.splitlines()
    # summary table: highest points lost first, `|` and `<` escaped
    rows = [ln for ln in lines if ln.startswith("| ") and "`" in ln]
    assert rows[0].startswith("| critical | `security.no-plaintext-secrets` |")
    assert "| high | `security.container-non-root` | 2 of 3 containers may run as root \\| image \\<none\\> has no USER | 3.1 |" in rows
    for row in rows:  # every row has exactly 4 cells: unescaped pipes = 5
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row
    assert "<none>" not in md  # would vanish as an HTML tag on GitHub
    assert "### Security" in md
    assert "#### `security.container-non-root` — Containers run as a non\\-root user" not in md
    assert "#### `security.container-non-root` — Containers run as a non-root user" in md
    assert "- `k8s/api.yaml:17` — Deployment/shop/api container api — runAsNonRoot not set" in md
    assert "- `k8s/café-worker.yaml` — Deployment/shop/café container worker" in md
    assert "- … and 3 more" not in md  # markdown shows up to 10 evidence items
    assert "- `k8s/svc7.yaml:17`" in md
    # needs attestation / suppressed / waived / diagnostics sections
    assert "## Needs attestation (1)" in md and "`documentation.runbook`" in md
    assert "- **waived** `security.container-non-root` `k8s/legacy.yaml`" in md
    assert "legacy image, replaced in Q1 (expires 2027-01-01)" in md
    assert "## Diagnostics" in md
    assert "- **parse-error** `k8s/broken.yaml:3` — mapping values are not allowed here" in md
    assert md.count("`k8s/broken.yaml:3`") == 1  # diagnostic and result deduplicated
    assert "- **error** `delivery.ci-pipeline`" in md
    assert "\x1b" not in md


def test_markdown_remediation_code_is_fenced() -> None:
    md = render(make_report(), "markdown")
    block = "```\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n    - name: shop"
    assert block in md
    assert "Then route it to the on\\-call receiver." not in md
    assert "Then route it to the on-call receiver." in md
    assert "```\nsecurityContext:\n  runAsNonRoot: true\n  runAsUser: 10001\n```" in md
    assert "Set runAsNonRoot in the pod securityContext:\n" in md
    assert markdown_mod.remediation_blocks("Just prose: nothing to fence.") == ["Just prose: nothing to fence."]


def test_markdown_prose_lines_keep_their_breaks() -> None:
    blocks = markdown_mod.remediation_blocks("Kubernetes: set `runAsNonRoot`.\nCompose: set `user:`.\nDone | ok <3")
    assert blocks == ["Kubernetes: set `runAsNonRoot`.\\", "Compose: set `user:`.\\", "Done \\| ok \\<3"]


def test_markdown_code_span_survives_backticks() -> None:
    assert markdown_mod.code("a`b") == "``a`b``"
    assert markdown_mod.code("`x`") == "`` `x` ``"
    assert markdown_mod.cell(markdown_mod.code("a|b")) == "`a\\|b`"
    assert markdown_mod.inline("1. not a list") == "1\\. not a list"
    assert markdown_mod.reference("https://example.com/a_b") == "<https://example.com/a_b>"
    assert markdown_mod.reference("CIS 5.2.6 <draft>") == "CIS 5.2.6 \\<draft\\>"


# --------------------------------------------------------------------------------------------------
# Terminal


def test_terminal_plain_output_content() -> None:
    out = render(make_report(), "terminal", color=False)
    assert "\x1b[" not in out
    assert "/srv/repos/shop" in out
    assert "57 files" in out
    assert "Score 72.4/100" in out
    assert "Maturity level: bronze" in out
    bars = {ln.split()[0]: ln for ln in out.splitlines() if "█" in ln or "░" in ln or "·" * 5 in ln}
    assert "█" * 19 + "░" * 5 in bars["security"] and "80.0" in bars["security"]
    assert "█" * 24 in bars["scalability"]
    assert "░" * 24 in bars["data"]
    assert "n/a" in bars["reliability"] and "█" not in bars["reliability"]
    assert set(bars) == set(CATEGORY_TITLES)
    assert "security.container-non-root" in out
    assert "k8s/api.yaml:17  Deployment/shop/api container api — runAsNonRoot not set" in out
    assert "image: shop/api:1.2" in out
    assert "fix: Set runAsNonRoot in the pod securityContext:" in out
    assert "Gate: FAILED — score 72.4 < 80" in out
    assert "parse-error" in out and "k8s/broken.yaml:3" in out
    assert out.count("k8s/broken.yaml:3") == 1  # diagnostic + result deduplicated
    assert "nginx/site.conf" in out
    assert "\\x1b[31mcolour" in out  # control characters from the report are made visible
    assert "waived" in out and "legacy image, replaced in Q1 (expires 2027-01-01)" in out
    assert "image <none> has no USER" in out  # text is never parsed as rich markup


def test_terminal_orders_by_points_lost_and_caps_evidence() -> None:
    out = render(make_report(), "terminal", color=False)
    assert out.index("security.no-plaintext-secrets") < out.index("security.container-non-root")
    assert out.index("Failing controls") < out.index("Needs attestation") < out.index("Scan errors")
    assert f"… and {8 - terminal_mod.MAX_EVIDENCE} more" in out
    assert "k8s/svc4.yaml:14" in out and "k8s/svc5.yaml:15" not in out
    assert "compose.yaml" not in out  # passing evidence is not listed under a failing control


def test_terminal_color_is_opt_in_and_ignores_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "20")
    plain = render(make_report(), "terminal", color=False)
    assert "\x1b[" not in plain
    assert max(len(line) for line in plain.splitlines()) <= terminal_mod.WIDTH
    assert "k8s/api.yaml:17  Deployment/shop/api container api — runAsNonRoot not set" in plain
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    colored = render(make_report(), "terminal", color=True)
    assert "\x1b[" in colored
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_terminal_does_not_repeat_the_control_message_per_evidence_item() -> None:
    report = minimal_report()
    report["results"] = [
        {
            "control_id": "delivery.ci-pipeline",
            "title": "A CI pipeline exists",
            "category": "delivery",
            "severity": "high",
            "status": "fail",
            "message": "2 findings: workflow never runs tests",
            "points_lost": 5.0,
            "evidence": [
                {"status": "fail", "path": "ci/a.yml", "line": 3, "resource": "job build", "message": "workflow never runs tests"},
                {"status": "fail", "path": "ci/b.yml", "line": 7, "resource": "job lint", "message": "no timeout"},
            ],
        }
    ]
    out = render(report, "terminal")
    assert out.count("workflow never runs tests") == 1
    assert "ci/a.yml:3  job build\n" in out
    assert "ci/b.yml:7  job lint — no timeout" in out
    md = render(report, "markdown")
    assert "- `ci/a.yml:3` — job build\n" in md and "- `ci/b.yml:7` — job lint — no timeout" in md


def test_terminal_and_markdown_show_bidi_overrides_visibly() -> None:
    report = make_report()
    report["results"][0]["evidence"][0]["snippet"] = "user: root \u202e# toor"
    for name in ("terminal", "markdown"):
        out = render(report, name)
        assert "\u202e" not in out, name
        assert "user: root \\u202e# toor" in out, name


def test_terminal_gate_variants() -> None:
    report = minimal_report()
    assert "Gate: none configured" in render(report, "terminal")
    report["gates"] = {"fail_under": 80, "fail_on": None, "failed": False, "reasons": []}
    assert "Gate: passed (fail-under 80)" in render(report, "terminal")


# --------------------------------------------------------------------------------------------------
# cross-format


def test_masked_snippets_pass_through_unchanged() -> None:
    report = make_report()
    report["results"][1]["evidence"][0]["line"] = 5  # SARIF carries snippets only inside a region
    for name in ("terminal", "sarif", "junit", "markdown"):
        out = render(report, name)
        assert "STRIPE_KEY=sk_l****" in out, name
        assert "sk_live" not in out, name


def test_renderers_do_not_mutate_the_report() -> None:
    report = make_report()
    snapshot = copy.deepcopy(report)
    for name in RENDERERS:
        render(report, name, color=True)
    assert report == snapshot


def test_junit_module_and_sarif_builders_are_importable() -> None:
    assert junit_mod.build_junit(make_report()).tag == "testsuites"
    assert sarif_mod.build_sarif(make_report())["version"] == "2.1.0"
