"""Headings of docs: what the documentation controls judge by content. Each case is CommonMark behaviour a
hand-written line matcher gets wrong (code blocks, setext, escapes, containers, non-ASCII offsets)."""

from __future__ import annotations

import pytest

from prodready.parse import parse_bytes


def headings(text: str) -> list[tuple[int, str, int]]:
    doc = parse_bytes("docs/x.md", "markdown", text.encode()).data
    return [(h.level, h.text, h.line) for h in doc.headings]


@pytest.mark.parametrize("text, expected", [
    ("# Runbook\n\n## Rollback\ntext\n", [(1, "Runbook", 1), (2, "Rollback", 3)]),
    # closing sequence dropped, inline markup kept as written
    ("### Restore `pg_dump` *backups* ###\n", [(3, "Restore `pg_dump` *backups*", 1)]),
    # setext headings, one spanning two lines
    ("Disaster recovery\n=================\n\nRTO and\nRPO\n---\n", [(1, "Disaster recovery", 1), (2, "RTO and\nRPO", 4)]),
    # a '#' inside a fenced or indented code block is not a heading
    ("```sh\n# not a heading\n```\n\n    # nor this\n\n# Real\n", [(1, "Real", 7)]),
    # an escaped '#' is text, and a heading whose text starts with an escape keeps it
    ("\\# not a heading\n\n## \\#1 priority\n", [(2, "\\#1 priority", 3)]),
    # seven '#' is a paragraph; no space after '#' is a paragraph; an empty heading is a heading
    ("####### seven\n#hashtag\n#\n", [(1, "", 3)]),
    # headings inside block quotes and list items count
    ("> ## Quoted\n\n- # Listed\n", [(2, "Quoted", 1), (1, "Listed", 3)]),
    # lines are counted in characters of text, not in bytes of UTF-8
    ("é€ préambule\n\n# Tête\n\n## Données\n", [(1, "Tête", 3), (2, "Données", 5)]),
    ("", []),
])
def test_headings(text, expected):
    assert headings(text) == expected


def test_title_is_first_level_one_heading():
    doc = parse_bytes("README.md", "markdown", b"## Intro\n\n# Shop API\n\n# Other\n").data
    assert doc.title == "Shop API"
    assert doc.words == 7  # whitespace-separated tokens of the source, markers included


def test_pathological_nesting_is_parsed_without_recursion_trouble():
    text = ">" * 20_000 + " # deep\n" + "- " * 20_000 + "x\n# After\n"
    parsed = parse_bytes("deep.md", "markdown", text.encode())
    assert not parsed.errors
    assert (1, "After", 3) in [(h.level, h.text, h.line) for h in parsed.data.headings]
