"""`prodready attest` and attestations in the scan: recorded safely, applied until expiry, problems reported."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
from pathlib import Path

import pytest

from prodready.checklist.attest import (
    ATTESTATIONS_FILE,
    Attestation,
    load_attestations,
    parse_attestations,
    record_attestation,
)
from prodready.cli import main
from prodready.engine import ScanOptions, scan

COMPOSE = """services:
  web:
    image: ghcr.io/acme/web:1.2.3
  db:
    image: postgres:16.3
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    root.mkdir()
    (root / "docker-compose.yml").write_text(COMPOSE)
    return root


def _result(report: dict, cid: str) -> dict:
    return next(r for r in report["results"] if r["control_id"] == cid)


def _diag(report: dict, kind: str) -> list[dict]:
    return [d for d in report["diagnostics"] if d["kind"] == kind]


def test_attest_cli_records_an_entry_that_reads_back(project: Path, capsys) -> None:
    assert main(["attest", "data.restore-tested", "--by", "Jane Doe", "--evidence",
                 "https://wiki.example.com/restore: #1", "--expires", "2099-12-31", "--note", 'said "ok"',
                 "--project", str(project)]) == 0
    assert "recorded attestation for data.restore-tested" in capsys.readouterr().err
    s = load_attestations(project)
    assert not s.problems
    (a,) = s.items
    assert (a.control, a.by, a.evidence, a.expires, a.note) == (
        "data.restore-tested", "Jane Doe", "https://wiki.example.com/restore: #1", dt.date(2099, 12, 31), 'said "ok"')
    assert a.date == dt.date.today() and a.line == 4  # after the two header comment lines


@pytest.mark.parametrize("argv,message", [
    (["no.such-control"], "unknown control"),
    (["data.restore-tested", "--expires", "2001-01-01"], "in the past"),
    (["data.restore-tested", "--expires", "31/12/2099"], "YYYY-MM-DD"),
    (["data.restore-tested", "--by", " "], "non-empty"),
])
def test_attest_cli_rejects_bad_input(project: Path, capsys, argv: list[str], message: str) -> None:
    base = {"--by": "Jane", "--evidence": "https://x.test/e", "--expires": "2099-01-01"}
    for i in range(1, len(argv), 2):
        base[argv[i]] = argv[i + 1]
    args = ["attest", argv[0], "--project", str(project)] + [x for kv in base.items() for x in kv]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (project / ATTESTATIONS_FILE).exists()


def test_attestation_turns_needs_attestation_into_pass_until_expiry(project: Path) -> None:
    before = scan(project, ScanOptions(use_cache=False))
    assert _result(before, "data.restore-tested")["status"] == "needs_attestation"
    record_attestation(project, Attestation("data.restore-tested", "Jane", "https://x.test/r",
                                            dt.date(2030, 6, 30), dt.date(2030, 1, 1)))
    during = scan(project, ScanOptions(use_cache=False, today=dt.date(2030, 6, 30)))
    r = _result(during, "data.restore-tested")
    assert r["status"] == "pass" and r["verdict_source"] == "attestation"
    assert r["evidence"][0]["path"] == ".prodready/attestations.yaml" and r["evidence"][0]["line"] == 4
    assert during["score"] > before["score"]
    after = scan(project, ScanOptions(use_cache=False, today=dt.date(2030, 7, 1)))
    assert _result(after, "data.restore-tested")["status"] == "needs_attestation"
    (d,) = _diag(after, "attestation-expired")
    assert "data.restore-tested" in d["message"] and d["line"] == 4


def test_unknown_invalid_and_ignored_attestations_are_reported(project: Path) -> None:
    path = project / ATTESTATIONS_FILE
    path.parent.mkdir()
    path.write_text("""attestations:
  - control: no.such-control
    by: A
    evidence: https://x.test/1
    expires: 2099-01-01
  - control: data.restore-tested
    by: B
    expires: 2099-01-01
  - control: security.image-tag-pinned
    by: C
    evidence: https://x.test/3
    expires: 2099-01-01
  - just a string
""")
    (project / "docker-compose.yml").write_text(COMPOSE.replace("postgres:16.3", "postgres"))  # unpinned: fails
    report = scan(project, ScanOptions(use_cache=False))
    assert [d["line"] for d in _diag(report, "attestation-unknown-control")] == [2]
    invalid = _diag(report, "attestation-invalid")
    assert {d["line"] for d in invalid} == {6, 13} and "missing evidence" in invalid[0]["message"]
    (ignored,) = _diag(report, "attestation-ignored")
    assert "security.image-tag-pinned" in ignored["message"]
    assert _result(report, "security.image-tag-pinned")["status"] == "fail"  # an attestation is not a waiver
    assert _result(report, "data.restore-tested")["status"] == "needs_attestation"


def test_broken_attestations_file_never_breaks_the_scan(project: Path) -> None:
    path = project / ATTESTATIONS_FILE
    path.parent.mkdir()
    path.write_text("attestations: [unclosed\n")
    report = scan(project, ScanOptions(use_cache=False))
    assert _diag(report, "attestation-invalid")
    assert _result(report, "data.restore-tested")["status"] == "needs_attestation"
    with pytest.raises(ValueError):  # and `attest` refuses to write over it
        record_attestation(project, Attestation("data.restore-tested", "A", "e", dt.date(2099, 1, 1)))
    assert path.read_text() == "attestations: [unclosed\n"


def test_appending_keeps_comments_and_existing_entries(project: Path) -> None:
    path = project / ATTESTATIONS_FILE
    path.parent.mkdir()
    path.write_text("# owned by the platform team\nattestations:\n  - control: security.security-review\n"
                    "    by: Old\n    evidence: https://x.test/old  # pentest 2025\n    expires: 2099-01-01\n")
    record_attestation(project, Attestation("data.restore-tested", "New", "https://x.test/new", dt.date(2099, 2, 2)))
    text = path.read_text()
    assert text.startswith("# owned by the platform team\n") and "# pentest 2025" in text
    assert [a.by for a in parse_attestations(text, "f").items] == ["Old", "New"]


def test_a_flow_style_file_is_rewritten_rather_than_corrupted(project: Path) -> None:
    path = project / ATTESTATIONS_FILE
    path.parent.mkdir()
    path.write_text('{"attestations": [{"control": "a.b", "by": "X", "evidence": "e", "expires": "2099-01-01"}]}\n')
    record_attestation(project, Attestation("data.restore-tested", "Y", "f", dt.date(2099, 1, 1)))
    assert [a.by for a in load_attestations(project).items] == ["X", "Y"]


def _attest_many(args: tuple[str, int]) -> None:
    root, n = args
    for i in range(n):
        record_attestation(Path(root), Attestation("data.restore-tested", f"worker-{i}-{mp.current_process().pid}",
                                                   f"https://x.test/{i}", dt.date(2099, 1, 1)))


def test_concurrent_writers_lose_nothing(project: Path) -> None:
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(4) as pool:
        pool.map(_attest_many, [(str(project), 10)] * 4)
    s = load_attestations(project)
    assert not s.problems
    assert len(s.items) == 40 and len({a.by for a in s.items}) == 40
    assert not list((project / ".prodready").glob("*.tmp"))
