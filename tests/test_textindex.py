"""The literal pre-filter of Project.search_text: skipping files that lack every required literal must never
skip a file the pattern matches."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prodready import model
from prodready.engine import ScanOptions, scan
from prodready.textindex import TextIndex, required_literals

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("pattern", "flags", "expected"), [
    (r"(kubecost|opencost|cost-analyzer)", re.I, {"kubecost", "opencost", "cost-analyzer"}),
    (r"\$request_id", 0, {"$request_id"}),
    (r"VACUUM\s+(\(|ANALYZE|VERBOSE|FULL)|vacuumdb", re.I, {"vacuum", "vacuumdb"}),
    (r"(READ(ONLY)?_?(DATABASE_)?(URL|DSN|HOST)|REPLICA_(URL|DSN|HOST)|-ro\.|\bro-)", re.I,
     {"read", "replica_", "-ro.", "ro-"}),
    (r"@@(index|unique)|@unique", 0, {"index", "unique"}),
    (r"(?:spark)?-submit", 0, {"-submit"}),
    (r"x(abc)*y", 0, None),  # the group may repeat zero times: only one-letter literals are certain
    (r"(foo|b)ar", 0, None),  # a match may hold only "b" and "ar": too short to narrow anything
    (r"\w+\s*=\s*\d+", 0, None),
])
def test_required_literals(pattern: str, flags: int, expected: set[str] | None) -> None:
    got = required_literals(pattern, flags)
    assert (set(got) if got is not None else None) == expected


def test_candidates_find_every_file_holding_a_literal() -> None:
    ix = TextIndex([("a.py", "import Kubecost\n"), ("b.py", "nothing here"), ("c.py", "opencost and kubecost")])
    assert ix.candidates(frozenset({"kubecost"})) == {"a.py", "c.py"}
    assert ix.candidates(frozenset({"opencost", "absent"})) == {"c.py"}
    assert ix.candidates(frozenset({"zzz"})) == set()
    # "ſecret" (long s) matches `secret` under re.I but lower-cases to itself: non-ASCII files always stay in
    ix = TextIndex([("a.py", "ſecret = 1"), ("b.py", "plain")])
    assert re.search("secret", "ſecret = 1", re.I)
    assert ix.candidates(frozenset({"secret"})) == {"a.py"}


def test_prefilter_never_drops_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pattern the controls search with, over every source of the fixtures and the example: wherever the
    pattern matches, the file holds one of its literals."""
    seen: list[tuple[str, int]] = []
    orig = model.Project.search_text

    def record(self, pattern, kinds=None, flags=re.I | re.M, hints=()):
        seen.append((pattern, flags))
        return orig(self, pattern, kinds, flags, hints)

    monkeypatch.setattr(model.Project, "search_text", record)
    sources: dict[str, str] = {}
    for tree in (ROOT / "tests" / "fixtures" / "controls", ROOT / "examples"):
        scan(tree, ScanOptions(use_cache=False))
        for f in tree.rglob("*"):
            if f.is_file() and f.stat().st_size < 1_000_000:
                try:
                    sources[str(f)] = f.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue
    patterns = set(seen)
    assert len(patterns) >= 20 and len(sources) > 500
    checked = 0
    for pattern, flags in patterns:
        lits = required_literals(pattern, flags)
        if lits is None:
            continue
        rx = re.compile(pattern, flags)
        for path, text in sources.items():
            if rx.search(text):
                checked += 1
                low = text.lower()
                assert any(lit in low for lit in lits), (pattern, path)
    assert checked > 50


def test_secret_prefilter_anchors_miss_no_line() -> None:
    """The secret pre-filter finds its literal anchors with str.find on lower-cased text; every line the plain
    case-insensitive pattern matches must still be a candidate, including texts with İ, ı or ſ."""
    from prodready.parsers.secretscan import PREFILTER, candidate_starts

    texts = ["paſsword = 'hunter2abc'\n", "API_KEY=ıabc123\n", "x: 1\nTOKEN: \"İabc\"\n", "db: postgres://u:p@h/db\n",
             "k = 'AKIAIOSFODNN7EXAMPLE'\n", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG\n",
             "-----BEGIN RSA PRIVATE KEY-----\n", "é password: s3cr3t-value\n"]
    for tree in (ROOT / "tests" / "fixtures" / "controls", ROOT / "examples"):
        for f in tree.rglob("*"):
            if f.is_file() and f.stat().st_size < 200_000:
                try:
                    texts.append(f.read_text(encoding="utf-8"))
                except UnicodeDecodeError:
                    continue
    assert len(texts) > 500
    for text in texts:
        plain = {text.count("\n", 0, m.start()) for m in PREFILTER.finditer(text)}
        fast = {text.count("\n", 0, pos) for pos in candidate_starts(text)}
        assert plain <= fast, text[:80]


def test_line_text_edges() -> None:
    """Snippets come from per-file line offsets: first, middle and last lines, a final newline, and lines past
    the end (None)."""
    p = model.Project(root="/")
    p.sources.update({"a": "one\n  two  \nthree", "b": "x\n", "c": ""})
    assert [p.line_text("a", n) for n in (0, 1, 2, 3, 4)] == [None, "one", "two", "three", None]
    assert [p.line_text("b", n) for n in (1, 2, 3)] == ["x", "", None]
    assert p.line_text("c", 1) == "" and p.line_text("c", 2) is None and p.line_text("zz", 1) is None
