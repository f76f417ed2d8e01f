"""The CLI end to end on the bundled example, and the published scoring formula."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from prodready.controls.base import CATEGORIES, SEVERITIES, all_controls
from prodready.engine import maturity, score_results

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "shop"
CHECKLIST_LABELS = REPO.parent / "shared" / "checklists" / "controls.md"
CONCEPTS = REPO.parent / "shared" / "corpus" / "peer-fixtures" / "CONCEPTS.md"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prodready", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def example_report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("out")
    proc = cli("scan", str(EXAMPLE), "--no-cache", "--format", "json", "--output", str(out / "r.json"),
               "--format", "sarif", "--output", str(out / "r.sarif"), "--format", "junit:" + str(out / "r.xml"),
               "--format", "markdown", "--output", str(out / "r.md"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "r.json").read_text())
    report["_out"] = str(out)
    return report


def test_several_formats_in_one_run(example_report: dict) -> None:
    out = Path(example_report["_out"])
    sarif = json.loads((out / "r.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    fails = {r["control_id"] for r in example_report["results"] if r["status"] == "fail"}
    assert {r["ruleId"] for r in sarif["runs"][0]["results"] if "suppressions" not in r} >= fails - {"parse-error"}
    junit = ET.parse(out / "r.xml").getroot()
    assert int(junit.get("failures")) >= len(fails)
    md = (out / "r.md").read_text()
    assert f"{example_report['score']}" in md and "security.rate-limiting" in md


def test_example_report_is_explained(example_report: dict) -> None:
    r = {x["control_id"]: x for x in example_report["results"]}
    assert example_report["schema_version"] == "1.0"
    assert {c["id"] for c in example_report["categories"]} == set(CATEGORIES)
    # planted weaknesses are found, with file:line evidence
    timeout = r["reliability.outbound-timeouts"]
    assert timeout["status"] == "fail"
    ev = [e for e in timeout["evidence"] if e["status"] == "fail"]
    assert ev[0]["path"] == "services/api/app/main.py" and "requests.get" in ev[0]["snippet"]
    assert r["security.rate-limiting"]["status"] == "fail"
    assert r["security.no-default-credentials"]["status"] == "fail"
    assert r["security.image-tag-pinned"]["status"] == "fail"
    non_root = [e for e in r["security.container-non-root"]["evidence"] if e["status"] == "fail"]
    assert any("services/worker/Dockerfile" in e["message"] for e in non_root)
    passing_api = [e for e in r["security.container-non-root"]["evidence"] if "shop-api" in (e["resource"] or "")]
    assert passing_api and all(e["status"] == "pass" for e in passing_api)
    # the good practice is credited
    for cid in ("documentation.dr-plan", "documentation.runbook", "delivery.staged-deploys",
                "reliability.pod-disruption-budget", "data.backups-scheduled", "scalability.hpa-valid"):
        assert r[cid]["status"] == "pass", (cid, r[cid]["message"])
    assert r["documentation.incident-response"]["status"] == "fail"
    # secrets never leak
    blob = json.dumps(example_report)
    assert "changeme-redis-2024" not in blob


def test_points_lost_add_up_to_the_score(example_report: dict) -> None:
    lost = sum(x["points_lost"] for x in example_report["results"])
    assert abs((100 - example_report["score"]) - lost) < 0.6


def test_scoring_formula_worked_example() -> None:
    """The worked example of docs/scoring.md, recomputed."""
    results = [
        {"category": "security", "severity": "critical", "status": "pass", "weight": 10},
        {"category": "security", "severity": "high", "status": "fail", "weight": 5},
        {"category": "security", "severity": "low", "status": "not_applicable", "weight": 1},
        {"category": "reliability", "severity": "high", "status": "pass", "weight": 5},
        {"category": "reliability", "severity": "medium", "status": "needs_attestation", "weight": 3},
        {"category": "documentation", "severity": "medium", "status": "pass", "weight": 3},
    ]
    s = score_results(results)
    cats = {c["id"]: c for c in s["categories"]}
    assert cats["security"]["score"] == pytest.approx(66.7)  # 10 / 15
    assert cats["reliability"]["score"] == pytest.approx(62.5)  # 5 / 8
    assert cats["documentation"]["score"] == 100.0
    assert cats["cost"]["score"] is None
    assert s["score"] == pytest.approx(69.2)  # 18 / 26
    assert s["level"] == "bronze"  # critical passes, a high fails
    assert results[1]["points_lost"] == pytest.approx(19.23, abs=0.01)  # 5 / 26


def test_maturity_levels() -> None:
    def res(*pairs):
        return [{"severity": s, "status": st} for s, st in pairs]

    assert maturity(res(("critical", "fail"))) == "none"
    assert maturity(res(("critical", "pass"), ("high", "fail"))) == "bronze"
    assert maturity(res(("critical", "pass"), ("high", "pass"), ("low", "needs_attestation"))) == "silver"
    assert maturity(res(("critical", "pass"), ("high", "not_applicable"), ("low", "pass"))) == "gold"


def test_gates_and_exit_codes(tmp_path: Path) -> None:
    assert cli("scan", str(EXAMPLE), "--no-cache", "-f", "json", "--fail-under", "99").returncode == 1
    assert cli("scan", str(EXAMPLE), "--no-cache", "-f", "json", "--fail-under", "1").returncode == 0
    proc = cli("scan", str(EXAMPLE), "--no-cache", "-f", "json", "--fail-on", "critical")
    assert proc.returncode == 1 and json.loads(proc.stdout)["gates"]["reasons"]
    assert cli("scan", str(EXAMPLE), "--format", "yaml").returncode == 2
    assert cli("scan", str(EXAMPLE), "-f", "json", "-f", "sarif").returncode == 2  # two formats to stdout
    assert cli("nonsense").returncode == 2


def test_terminal_report_without_tty_has_no_progress_or_color() -> None:
    proc = cli("scan", str(EXAMPLE), "--no-cache")
    assert proc.returncode == 0
    assert "\x1b[" not in proc.stdout and "parsing" not in proc.stderr
    assert re.search(r"Score \d+(\.\d)?/100", proc.stdout)
    assert "services/api/app/main.py:" in proc.stdout


def test_controls_list_json_contract() -> None:
    proc = cli("controls", "list", "--format", "json")
    data = json.loads(proc.stdout)
    assert data["schema_version"]
    ctrls = data["controls"]
    assert len(ctrls) >= 40
    assert {c["category"] for c in ctrls} == set(CATEGORIES)
    for c in ctrls:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9-]+", c["id"]), c["id"]
        assert c["severity"] in SEVERITIES and c["verifiability"] in ("repo", "live", "both", "manual")
        assert isinstance(c["answers"]["concepts"], list) and isinstance(c["answers"]["checklist"], list)
        assert c["rationale"] and c["remediation"]


def test_answers_name_real_labels() -> None:
    if not CHECKLIST_LABELS.exists():
        pytest.skip("../shared not present")
    labels = set(re.findall(r"^\| `([a-z]+\.[a-z0-9_]+)` \|", CHECKLIST_LABELS.read_text(), re.M))
    concepts = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", CONCEPTS.read_text(), re.M))
    for c in all_controls().values():
        assert set(c.checklist) <= labels, (c.id, set(c.checklist) - labels)
        assert set(c.concepts) <= concepts, (c.id, set(c.concepts) - concepts)


def test_controls_explain() -> None:
    proc = cli("controls", "explain", "security.container-non-root")
    assert proc.returncode == 0
    assert "How to fix" in proc.stdout and "tests/fixtures/controls/security.container-non-root/" in proc.stdout
    assert "src/prodready/controls/workload_security.py" in proc.stdout
    bad = cli("controls", "explain", "security.nope")
    assert bad.returncode == 2 and "unknown control" in bad.stderr


def test_catalog_page_is_generated_from_metadata() -> None:
    page = (REPO / "docs" / "controls.md").read_text()
    proc = cli("controls", "list", "--format", "markdown")
    assert page.strip() == proc.stdout.strip(), "docs/controls.md is stale: run `make catalog`"


def test_rescan_uses_the_cache(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(EXAMPLE, tmp_path / "shop", ignore=shutil.ignore_patterns(".prodready"))
    first = json.loads(cli("scan", str(tmp_path / "shop"), "-f", "json").stdout)
    second = json.loads(cli("scan", str(tmp_path / "shop"), "-f", "json").stdout)
    assert first["stats"]["cache_hits"] == 0
    assert second["stats"]["cache_hits"] == second["stats"]["files"] > 0
    strip = lambda r: [(x["control_id"], x["status"], x["message"]) for x in r["results"]]  # noqa: E731
    assert strip(first) == strip(second)
    # an edit is seen on the next scan
    main = tmp_path / "shop" / "services" / "api" / "app" / "main.py"
    main.write_text(main.read_text().replace("requests.get(", "requests.get(timeout=5, url="))
    third = json.loads(cli("scan", str(tmp_path / "shop"), "-f", "json").stdout)
    t = next(x for x in third["results"] if x["control_id"] == "reliability.outbound-timeouts")
    assert t["status"] == "pass"
