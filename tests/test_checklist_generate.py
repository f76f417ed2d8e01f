"""`prodready checklist generate`: a checklist from evidence — score, level, areas, top fixes by points."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import REPO
from prodready.checklist.generator import generate_markdown, top_fixes
from prodready.checklist.mapper import Mapper
from prodready.checklist.parser import parse_checklist
from prodready.cli import main
from prodready.controls.base import CATEGORIES
from prodready.engine import ScanOptions, scan

SHOP = REPO / "examples" / "shop"


@pytest.fixture(scope="module")
def report() -> dict:
    return scan(SHOP, ScanOptions(use_cache=False))


def test_generated_checklist_has_score_level_areas_and_items(report: dict) -> None:
    md = generate_markdown(report)
    assert f"Score {report['score']} / 100" in md and f"maturity level: {report['level']}" in md
    applicable = [r for r in report["results"] if r.get("category") and r["status"] != "not_applicable"]
    items = parse_checklist(md)
    boxes = [i for i in items if i.kind == "checkbox"]
    assert len(boxes) == len(applicable)
    assert sum(i.state == "checked" for i in boxes) == sum(r["status"] == "pass" for r in applicable)
    for cat, title in CATEGORIES.items():
        if any(r["category"] == cat for r in applicable):
            assert re.search(rf"^## {re.escape(title)}\b", md, re.M)
    assert "(`security.rate-limiting`, high)" in md and "services/api/app/main.py" in md
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<table>" in html  # the top-fixes table renders


def test_top_fixes_are_ordered_by_points_gained(report: dict) -> None:
    fixes = top_fixes(report)
    assert fixes and all(r["status"] in ("fail", "needs_attestation") for r in fixes)
    points = [r["points_lost"] for r in fixes]
    assert points == sorted(points, reverse=True)
    worst = max(r["points_lost"] for r in report["results"] if r["status"] in ("fail", "needs_attestation"))
    assert points[0] == worst
    md = generate_markdown(report)
    table = md.split("## Top fixes", 1)[1].split("\n## ", 1)[0]
    assert f"| 1 | `{fixes[0]['control_id']}` |" in table


def test_verifying_the_generated_checklist_maps_items_back_to_their_controls(report: dict) -> None:
    md = generate_markdown(report)
    items = [i for i in parse_checklist(md) if i.kind == "checkbox"]
    assert all("prodready" not in i.text for i in items)  # the annotations are not read as item text
    mapper = Mapper.from_registry()
    own = [re.search(r"\(`([^`]+)`", line).group(1) for line in md.splitlines() if line.startswith("- [")]
    hits = sum(bool(ms) and ms[0].control_id == cid for i, cid in zip(items, own, strict=True)
               for ms in [mapper.map_item(i)])
    assert hits / len(items) >= 0.8, f"{hits}/{len(items)}"


def test_generate_cli_markdown_and_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "CHECKLIST.md"
    assert main(["checklist", "generate", str(SHOP), "--output", str(out), "--no-cache"]) == 0
    assert out.read_text().startswith("# Production readiness checklist")
    assert main(["checklist", "generate", str(SHOP), "--format", "json", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"score", "level", "categories", "top_fixes", "items"} <= data.keys()
    assert [f["points"] for f in data["top_fixes"]] == sorted((f["points"] for f in data["top_fixes"]), reverse=True)
    assert main(["checklist", "generate", str(tmp_path / "missing")]) == 2
