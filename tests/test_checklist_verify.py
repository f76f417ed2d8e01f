"""`prodready checklist verify`: statuses, claimed-but-failing, JSON contract, annotated Markdown, terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import REPO, SHARED, need
from prodready.checklist.mapper import Mapping
from prodready.checklist.parser import ANNOTATION_MARKER, decode_document, parse_checklist
from prodready.checklist.verifier import STATUSES, judge
from prodready.checklist.writer import annotate
from prodready.cli import main

SHOP = REPO / "examples" / "shop"
CHECKLISTS = ["000_078374e64ab1d6b5.txt", "001_f774630f908070a3.txt", "002_01cd56c464eeaeb7.txt"]

APP = '''from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.get("/orders")
def orders():
    return []
'''
CHECKLIST = """# Launch checklist

## Security

- [x] Rate limiting on the public API
- [ ] Health check endpoint
- [ ] Penetration test completed by an external firm
- [ ] Lorem ipsum dolor sit amet

| Practice | Owner |
|---|---|
| Health endpoint for the API | platform |
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text(APP)
    (root / "pyproject.toml").write_text('[project]\nname = "svc"\nversion = "1.0"\ndependencies = ["fastapi"]\n')
    (root / "CHECKLIST.md").write_text(CHECKLIST)
    return root


def _verify_json(checklist: Path, project: Path, capsys) -> dict:
    assert main(["checklist", "verify", str(checklist), "--project", str(project), "--format", "json",
                 "--no-cache"]) == 0
    return json.loads(capsys.readouterr().out)


def test_statuses_and_claimed_but_failing_end_to_end(project: Path, capsys) -> None:
    data = _verify_json(project / "CHECKLIST.md", project, capsys)
    by_line = {i["line"]: i for i in data["items"]}
    rate = by_line[5]
    assert rate["state"] == "checked" and rate["status"] == "failing" and rate["claimed_but_failing"]
    assert rate["controls"][0]["id"] == "security.rate-limiting"
    assert any(e["status"] == "fail" and e["path"] == "app/main.py" for e in rate["evidence"])
    health = by_line[6]
    assert health["status"] == "verified" and not health["claimed_but_failing"]
    assert "reliability.health-endpoint" in [c["id"] for c in health["controls"]]
    assert by_line[7]["status"] == "needs-attestation"
    assert by_line[7]["controls"][0]["id"] == "security.security-review"
    assert by_line[8]["status"] == "unmapped" and by_line[8]["controls"] == []
    assert by_line[12]["status"] == "verified"  # a table row is an item too
    assert data["summary"]["claimed_but_failing"] == 1


def test_json_contract(project: Path, capsys) -> None:
    data = _verify_json(project / "CHECKLIST.md", project, capsys)
    assert data["schema_version"] == "1.0"
    for item in data["items"]:
        assert {"line", "text", "heading", "state", "status", "claimed_but_failing", "controls",
                "evidence"} <= item.keys()
        assert item["status"] in STATUSES and item["state"] in ("checked", "unchecked", "none")
        confs = [c["confidence"] for c in item["controls"]]
        assert confs == sorted(confs, reverse=True)
        assert all(set(c) == {"id", "confidence"} for c in item["controls"])


def test_an_attestation_turns_the_item_verified(project: Path, capsys) -> None:
    assert main(["attest", "security.security-review", "--by", "Ada", "--evidence", "https://x.test/pentest",
                 "--expires", "2099-01-01", "--project", str(project)]) == 0
    capsys.readouterr()
    data = _verify_json(project / "CHECKLIST.md", project, capsys)
    item = next(i for i in data["items"] if i["line"] == 7)
    assert item["status"] == "verified"
    assert item["evidence"][0]["path"] == ".prodready/attestations.yaml"


def _judge(states: dict[str, str], parts: dict[str, str] | None = None, claimed: bool = True):
    item = parse_checklist("- [x] something\n" if claimed else "- [ ] something\n")[0]
    results, mappings = {}, []
    for cid, status in {**states, **(parts or {})}.items():
        results[cid] = {"control_id": cid, "status": status, "message": "m", "evidence": [],
                        "counts": {"pass": 0, "fail": 0}}
        mappings.append(Mapping(cid, 0.5, part=cid if parts and cid in parts else None))
    return judge(item, mappings, results)


@pytest.mark.parametrize("whole,parts,expected", [
    ({"a": "pass"}, None, "verified"),
    ({"a": "fail"}, None, "failing"),
    ({"a": "pass", "b": "fail"}, None, "partial"),  # alternative checks disagree
    ({"a": "pass", "b": "needs_attestation"}, None, "verified"),  # a definite verdict wins among alternatives
    ({"a": "needs_attestation"}, None, "needs-attestation"),
    ({"a": "not_applicable"}, None, "needs-attestation"),
    ({"a": "pass"}, {"b": "needs_attestation"}, "partial"),  # compound: one part still needs a person
    ({"a": "fail"}, {"b": "needs_attestation"}, "failing"),
    ({"a": "pass"}, {"b": "not_applicable"}, "verified"),
    ({}, None, "unmapped"),
])
def test_item_status_rules(whole, parts, expected) -> None:
    r = _judge(whole, parts)
    assert r.status == expected
    assert r.claimed_but_failing == (expected in ("failing", "partial"))


def test_unticked_failing_item_is_not_a_lie() -> None:
    assert not _judge({"a": "fail"}, claimed=False).claimed_but_failing


def _rendered_items(md_text: str) -> int:
    tokens = MarkdownIt("commonmark").enable("table").parse(md_text)
    return sum(t.type in ("list_item_open", "tr_open") for t in tokens)


def test_annotated_markdown_keeps_the_original_and_renders(project: Path, capsys) -> None:
    out = project / "annotated.md"
    assert main(["checklist", "verify", str(project / "CHECKLIST.md"), "--project", str(project), "--format",
                 "markdown", "--output", str(out), "--no-cache"]) == 0
    text = out.read_text()
    original = CHECKLIST.splitlines()
    annotated = text.splitlines()
    j = 0
    for line in original:  # every original line survives, in order, as the start of a line
        while j < len(annotated) and not annotated[j].startswith(line):
            j += 1
        assert j < len(annotated), f"lost line {line!r}"
        j += 1
    assert "❌ **failing** · ⚠️ **claimed but failing**" in text and "`app/main.py" in text
    assert "✅ **verified**" in text and "👤 **needs attestation**" in text and "❔ **unmapped**" in text
    # the rendered document has the same list items and table rows (plus the evidence notes under the table)
    again = parse_checklist(text)
    assert [(i.text, i.kind, i.state) for i in again] == [(i.text, i.kind, i.state)
                                                          for i in parse_checklist(CHECKLIST)]
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<table>" in html and html.count("<tr>") == 2 and "prodready</th>" in html
    assert ANNOTATION_MARKER in html  # kept as an (invisible) HTML comment, not as text
    assert "&lt;!-- prodready" not in html


def test_terminal_summary_per_section(project: Path, capsys) -> None:
    assert main(["checklist", "verify", str(project / "CHECKLIST.md"), "--project", str(project),
                 "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "Security" in out and "claimed but failing (1)" in out and "Rate limiting on the public API" in out


def test_usage_errors_exit_2(project: Path, capsys) -> None:
    assert main(["checklist", "verify", str(project / "missing.md"), "--project", str(project)]) == 2
    assert main(["checklist", "verify", str(project / "CHECKLIST.md"), "--project", str(project / "nope")]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("name", CHECKLISTS)
def test_real_checklists_against_the_example_project(name: str, capsys, tmp_path: Path) -> None:
    path = SHARED / "checklists" / name
    need(path.is_file(), "shared checklists not available")
    data = _verify_json(path, SHOP, capsys)
    source = decode_document(path.read_bytes())
    assert len(data["items"]) == len(parse_checklist(source)) > 100
    assert all(i["status"] in STATUSES for i in data["items"])
    statuses = {i["status"] for i in data["items"]}
    assert {"verified", "failing", "needs-attestation"} <= statuses
    # annotated Markdown renders with the same items as the original
    from prodready.checklist.mapper import Mapper
    from prodready.checklist.verifier import verify_items
    from prodready.engine import ScanOptions, scan

    report = scan(SHOP, ScanOptions(use_cache=False))
    results = verify_items(parse_checklist(source), report, Mapper.from_registry())
    annotated = annotate(source, results, report)
    assert [(i.line, i.text) for i in parse_checklist(source)] == \
           [(r.item.line, r.item.text) for r in results]
    assert [(i.text, i.kind) for i in parse_checklist(annotated)] == [(i.text, i.kind) for i in parse_checklist(source)]
    assert _rendered_items(annotated) >= _rendered_items(source)


GRAFANA_COMPOSE = """services:
  api:
    build: ./app
  grafana:
    image: grafana/grafana:11.2.0
    environment:
      GF_SECURITY_ADMIN_USER: admin
      GF_SECURITY_ADMIN_PASSWORD: admin
"""
CLAIMS = """# Analytics platform

## Security

- ✅ Rate limiting and security headers
- ✅ Production-grade security
- ✅ Secure and compliant
"""


def test_ticks_that_lie_are_flagged(project: Path, capsys) -> None:
    """The motivating case: rate limiting, security headers and "production-grade security" marked done while
    Grafana runs with admin/admin."""
    (project / "docker-compose.yml").write_text(GRAFANA_COMPOSE)
    (project / "CLAIMS.md").write_text(CLAIMS)
    data = _verify_json(project / "CLAIMS.md", project, capsys)
    by_line = {i["line"]: i for i in data["items"]}
    compound = by_line[5]
    assert compound["claimed_but_failing"] and compound["state"] == "none"
    assert {"security.rate-limiting", "security.security-headers"} <= {c["id"] for c in compound["controls"]}
    area = by_line[6]  # names the area, no practice: judged by the area's critical and high controls
    assert area["claimed_but_failing"]
    assert "security.no-default-credentials" in [c["id"] for c in area["controls"]]
    assert any(e["control_id"] == "security.no-default-credentials" and e["status"] == "fail"
               and e["path"] == "docker-compose.yml" for e in area["evidence"])
    assert by_line[7]["claimed_but_failing"]


def test_targets_are_passed_to_the_probe(project: Path, capsys) -> None:
    assert main(["checklist", "verify", str(project / "CHECKLIST.md"), "--project", str(project), "--targets",
                 str(project / "missing.yaml")]) == 2
    assert "targets file not found" in capsys.readouterr().err
    targets = project / "targets.yaml"
    targets.write_text("version: 1\ndefaults: {budget: 5, timeout: 1, burst: false, default_credentials: false}\n"
                       "targets:\n  - name: api\n    url: http://127.0.0.1:9/\n    exposure: internal\n")
    data = _verify_json_with(project, capsys, "--targets", str(targets))
    assert all(i["status"] in STATUSES for i in data["items"])


def _verify_json_with(project: Path, capsys, *extra: str) -> dict:
    assert main(["checklist", "verify", str(project / "CHECKLIST.md"), "--project", str(project), "--format", "json",
                 "--no-cache", *extra]) == 0
    return json.loads(capsys.readouterr().out)
