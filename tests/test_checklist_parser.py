"""The checklist parser: which lines are items, their state and context, and mojibake."""

from __future__ import annotations

import csv

import pytest

from conftest import SHARED, need
from prodready.checklist.parser import (
    ANNOTATION_MARKER,
    decode_document,
    heading_text,
    parse_checklist,
    plain,
    repair_mojibake,
)

DOC = """# Launch checklist

## Security

**1.2 API Security**
- [ ] Add rate limiting
- [x] Enable HTTPS everywhere
- Plain requirement bullet

```yaml
- [ ] this is code, not an item
- neither is this
```

    - indented code is not an item either

### Database

- [ ] **Configure backups**
  - [ ] Daily dumps
    continued on a second line
  - [X] Off-site copies

Document your support contacts:

- **On-call**: ____

1. **PostgreSQL**
   - Default: `admin/admin`
2. Second step

| Service | Port | Access |
|---------|------|--------|
| Grafana | 3000 | Internal only |
| - | - | - |

#### ✅ Current State
- JWT authentication
"""


def _items():
    return {it.line: it for it in parse_checklist(DOC)}


def test_items_kinds_states_and_lines() -> None:
    items = _items()
    assert items[6].text == "Add rate limiting" and items[6].kind == "checkbox" and items[6].state == "unchecked"
    assert items[7].state == "checked" and items[7].claimed
    assert items[8].kind == "bullet" and items[8].state == "none"
    assert items[28].kind == "numbered" and items[28].text == "**PostgreSQL**"
    assert items[29].parent == "**PostgreSQL**" and items[29].kind == "bullet"
    assert items[22].state == "checked"  # [X]
    row = items[34]
    assert row.kind == "table-row" and row.text == "Grafana | 3000 | Internal only"
    assert row.table_header == "Service | Port | Access"
    assert 35 not in items  # a row of dashes only is not an item


def test_code_blocks_are_not_items() -> None:
    texts = [it.text for it in parse_checklist(DOC)]
    assert not any("code" in t for t in texts)
    assert all(it.line not in range(10, 17) for it in parse_checklist(DOC))


def test_context_heading_path_parent_and_lead_in() -> None:
    items = _items()
    assert items[6].headings == ["Launch checklist", "Security", "API Security"]  # bold line = sub-heading
    assert items[6].heading == "Launch checklist > Security > API Security"
    child = items[20]
    assert child.text == "Daily dumps\ncontinued on a second line"
    assert child.parent == "**Configure backups**" and child.end_line == 21
    assert child.headings == ["Launch checklist", "Security", "Database"]  # the bold sub-heading ends at the next heading
    assert items[26].lead_in == "Document your support contacts"
    assert ("lead-in", "Document your support contacts") in items[26].context()


def test_done_claims_from_heading_need_a_state_word() -> None:
    items = _items()
    assert items[38].claimed  # "✅ Current State"
    final = parse_checklist("## ✅ Final Checklist\n\n- [ ] Backups tested\n")[0]
    assert not final.claimed  # a decorative emoji is not a claim
    assert parse_checklist("- ✅ Rate limiting and security headers\n")[0].claimed


def test_mojibake_is_repaired_and_plain_text_is_clean() -> None:
    assert repair_mojibake("‚úÖ Current State") == "✅ Current State"  # UTF-8 read as Mac Roman
    assert repair_mojibake("\uf8ffüöÄ Improvements") == "🚀 Improvements"
    assert repair_mojibake("âœ… done") == "✅ done"  # UTF-8 read as Windows-1252
    assert repair_mojibake("café → ok") == "café → ok"  # correct text is left alone
    assert heading_text("\uf8ffüöÄ 1.2 API Security") == "API Security"
    assert plain("**Set up** `slowapi` [docs](x.md)") == "Set up slowapi docs"
    doc = "#### ‚úÖ Current State\n- Basic health checks\n"
    it = parse_checklist(doc)[0]
    assert it.headings == ["Current State"] and it.claimed


def test_bad_bytes_crlf_and_empty_input_never_crash() -> None:
    assert decode_document(b"\xef\xbb\xbf- [ ] a\n") == "- [ ] a\n"
    text = decode_document(b"- [ ] caf\xe9 \x93quoted\x94\r\n- [x] b\r\n")  # Windows-1252, CRLF
    items = parse_checklist(text)
    assert [it.state for it in items] == ["unchecked", "checked"] and items[0].text.startswith("café")
    assert parse_checklist("") == []
    assert parse_checklist("\x00\x01 - [ ]\n|||\n```\n") is not None


def test_annotations_are_not_read_back_as_items() -> None:
    doc = (f"- [ ] Add rate limiting {ANNOTATION_MARKER} — ❌ **failing**\\\n  ↳ evidence\n"
           f"- {ANNOTATION_MARKER} line 3: a note\n\n| a | b | {ANNOTATION_MARKER} prodready |\n|---|---| --- |\n"
           f"| 1 | 2 | {ANNOTATION_MARKER} ✅ verified |\n")
    items = parse_checklist(doc)
    assert [it.text for it in items] == ["Add rate limiting", "1 | 2"]
    assert not items[1].claimed


def test_every_labelled_item_of_the_real_checklists_is_parsed() -> None:
    folder = SHARED / "checklists"
    need((folder / "items.csv").is_file(), "shared checklists not available")
    with (folder / "items.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    parsed = {}
    for seed in {r["seed"] for r in rows}:
        parsed[seed] = {it.line: it for it in parse_checklist(decode_document((folder / seed).read_bytes()))}
    missing = [(r["seed"], r["line"]) for r in rows if int(r["line"]) not in parsed[r["seed"]]]
    assert not missing, missing[:10]
    wrong_state = [(r["seed"], r["line"]) for r in rows if parsed[r["seed"]][int(r["line"])].state != r["state"]]
    assert not wrong_state, wrong_state[:10]


@pytest.mark.parametrize("text", ["- [ ]\n", "* [ ]  \n", "-\n", "1.\n", "|a|\n|-|\n||\n"])
def test_degenerate_items(text: str) -> None:
    for it in parse_checklist(text):
        assert it.line >= 1
