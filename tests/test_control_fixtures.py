"""One generic test for every control fixture.

Layout: ``tests/fixtures/controls/<control-id>/<expected>-<case>/`` is a small project scanned on its
own; ``<expected>`` is ``pass``, ``fail``, ``na`` (not_applicable) or ``attest`` (needs_attestation).
An optional ``expect.json`` in the case folder lists failing evidence that must be reported:
``{"evidence": [{"path": "k8s.yaml", "line": 12}]}``. Adding a case means adding a folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodready.controls.base import all_controls
from prodready.engine import ScanOptions, scan

FIXTURES = Path(__file__).parent / "fixtures" / "controls"
EXPECT = {"pass": "pass", "fail": "fail", "na": "not_applicable", "attest": "needs_attestation"}


def _cases():
    for control_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for case in sorted(p for p in control_dir.iterdir() if p.is_dir()):
            yield pytest.param(control_dir.name, case, id=f"{control_dir.name}/{case.name}")


_SCANS: dict[Path, dict] = {}


def _scan(case: Path) -> dict:
    if case not in _SCANS:
        _SCANS[case] = scan(case, ScanOptions(use_cache=False))
    return _SCANS[case]


@pytest.mark.parametrize("control_id,case", list(_cases()))
def test_fixture_verdict(control_id: str, case: Path) -> None:
    assert control_id in all_controls(), f"fixture folder names an unknown control: {control_id}"
    prefix = case.name.split("-", 1)[0]
    assert prefix in EXPECT, f"fixture case must start with one of {list(EXPECT)}: {case.name}"
    report = _scan(case)
    result = next(r for r in report["results"] if r["control_id"] == control_id)
    assert result["status"] == EXPECT[prefix], (
        f"{control_id} on {case.name}: expected {EXPECT[prefix]}, got {result['status']}: {result['message']}\n"
        + "\n".join(f"  {e['status']} {e['path']}:{e['line']} {e['message']}" for e in result["evidence"]))
    expect_file = case / "expect.json"
    if expect_file.exists():
        wanted = json.loads(expect_file.read_text())
        failing = {(e["path"], e["line"]) for e in result["evidence"] if e["status"] == "fail"}
        for ev in wanted.get("evidence", []):
            assert (ev["path"], ev.get("line")) in failing, f"missing evidence {ev} in {sorted(failing)}"
    assert not [d for d in report["diagnostics"] if d["kind"] == "parse-error"], \
        f"fixture {case} has parse errors: {report['diagnostics']}"


def test_every_control_has_passing_and_failing_fixtures() -> None:
    missing = []
    for cid, c in all_controls().items():
        folder = FIXTURES / cid
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        if c.verifiability == "manual":
            if not any(n.startswith("attest-") for n in names):
                missing.append(f"{cid}: attest-")
            continue
        if c.verifiability == "live":  # nothing static to pass or fail: na- here, pass and fail against real
            if not any(n.startswith("na-") for n in names):  # servers in tests/test_probe_*.py (LIVE_COVERAGE)
                missing.append(f"{cid}: na-")
            continue
        for prefix in ("pass-", "fail-"):
            if not any(n.startswith(prefix) for n in names):
                missing.append(f"{cid}: {prefix}")
    assert not missing, "controls without fixtures:\n" + "\n".join(missing)
