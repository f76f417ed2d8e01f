"""Read a production-readiness checklist written in Markdown into items with their context.

The document is parsed with markdown-it-py (CommonMark, tables, task lists), so code blocks are never items and
nesting is read the way a renderer reads it. An *item* is:

- a list item — a checkbox (``- [ ]`` / ``- [x]``), a plain requirement bullet or a numbered step;
- a body row of a table (its cells joined with `` | ``; the header row is context, not an item).

Each item keeps its 1-based line, its box state (``unchecked``/``checked``/``none``), the heading path above it
(with bold-only paragraphs such as ``**1.2 API Security**`` treated as sub-headings), the text of the list
item it is nested in, and a lead-in paragraph ending with ``:`` just above its list. Emoji copied through the
wrong code page ("mojibake" such as ``‚úÖ`` for ``✅``) are repaired for reading; the file itself is never
altered here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.tasklists import tasklists_plugin

DONE_MARKS = ("✅", "✔", "☑", "✓", "🟢")
ANNOTATION_MARKER = "<!-- prodready -->"  # starts everything `checklist verify --format markdown` adds
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_BAD_CATEGORIES = {"Cc", "Cn", "Co", "Cs"}


def _implausible(text: str) -> int:
    """How many characters of ``text`` look like decoding debris (control, unassigned, private-use, or a
    combining mark with nothing to combine with)."""
    bad = 0
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if cat in _BAD_CATEGORIES or (cat == "Mn" and (i == 0 or unicodedata.category(text[i - 1]) == "Mn")):
            bad += 1
    return bad


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as Mac Roman or Windows-1252 (``‚úÖ`` → ``✅``, ``âœ…`` → ``✅``).

    Each run of non-ASCII characters is re-encoded with each candidate code page and decoded as UTF-8; a
    candidate is taken only when that succeeds, shortens the run and yields plausible characters. Text that
    is already correct (``café``, ``→``) does not round-trip and is left alone."""

    def fix(m: re.Match) -> str:
        run = m.group(0)
        best, best_bad = run, _implausible(run)
        for enc in ("mac_roman", "cp1252", "latin-1"):
            try:
                out = run.encode(enc).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            bad = _implausible(out)
            if len(out) < len(run) and bad < best_bad + (1 if best is run else 0):
                best, best_bad = out, bad
        return best

    return _NON_ASCII_RUN.sub(fix, text)


def decode_document(data: bytes) -> str:
    """Bytes of a checklist as text: UTF-8 (with or without BOM), else Windows-1252 — never an exception."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_EMPHASIS = re.compile(r"(\*\*|__|`)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LEADING_NUMBER = re.compile(r"^\s*(?:\d+(?:\.\d+)*[.)]?|[a-z][.)]|[IVX]+\.)\s+")
_SYMBOLS = re.compile(r"[^\w\s.,:;/()&+'\"<>=%#@$?!\-|]")


def plain(text: str) -> str:
    """Readable text of an inline Markdown fragment: mojibake repaired, emphasis, links and emoji dropped,
    whitespace collapsed."""
    t = repair_mojibake(text)
    t = _LINK.sub(r"\1", t)
    t = _EMPHASIS.sub("", t)
    t = _SYMBOLS.sub(" ", t)
    return re.sub(r"\s+", " ", t).strip()


def heading_text(text: str) -> str:
    """A heading without emoji and section numbering: ``🚀 1.2 API Security`` → ``API Security``."""
    return _LEADING_NUMBER.sub("", plain(text)).strip()


@dataclass
class Item:
    line: int  # 1-based line where the item starts
    text: str  # the item's first paragraph as written (inline Markdown, mojibake repaired)
    kind: str  # checkbox | bullet | numbered | table-row
    state: str  # unchecked | checked | none
    headings: list[str] = field(default_factory=list)  # heading path, outermost first
    parent: str | None = None  # text of the enclosing list item, if nested
    lead_in: str | None = None  # a paragraph ending with ':' right above the list
    table_header: str | None = None  # for table rows: the header cells
    end_line: int = 0  # last line of the item's own first paragraph (1-based, inclusive)
    claimed: bool = False  # ticked, or marked done (✅) in its text or heading

    @property
    def heading(self) -> str:
        return " > ".join(self.headings)

    @property
    def plain_text(self) -> str:
        return plain(self.text)

    def context(self) -> list[tuple[str, str]]:
        """(role, text) pairs around the item, nearest first: parent, lead-in, table header, headings."""
        out: list[tuple[str, str]] = []
        if self.parent:
            out.append(("parent", plain(self.parent)))
        if self.lead_in:
            out.append(("lead-in", plain(self.lead_in)))
        if self.table_header:
            out.append(("table-header", self.table_header))
        for i, h in enumerate(reversed(self.headings)):
            out.append((f"heading-{i}", h))
        return out


def _make_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").use(tasklists_plugin)


def _bold_only(content: str) -> str | None:
    """The text of a paragraph that is just one bold span (``**1.2 API Security**``), used as a sub-heading."""
    m = re.fullmatch(r"\s*(\*\*|__)(.+?)\1\s*:?\s*", content, re.S)
    return m.group(2) if m and "\n" not in m.group(2) else None


def _has_done_mark(text: str) -> bool:
    return any(mark in text for mark in DONE_MARKS)


_STATE_WORDS = re.compile(r"\b(current|currently|done|complete|completed|implemented|in place|already|existing|"
                          r"achieved|finished|shipped)\b", re.I)


def _claims_done(heading: str) -> bool:
    """A heading such as "✅ Current State" says what is listed under it is done; "✅ Final Checklist" does not."""
    h = repair_mojibake(heading)
    return _has_done_mark(h) and bool(_STATE_WORDS.search(h))


def parse_checklist(text: str) -> list[Item]:
    """Every item of a Markdown checklist, in document order."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    tokens = _make_parser().parse(text)
    items: list[Item] = []
    headings: list[tuple[int, str]] = []  # (level, text); bold pseudo-headings get level 7
    raw_headings: list[str] = []  # the nearest heading as written (with its emoji), for done claims
    list_stack: list[dict] = []  # open lists: {"ordered": bool, "lead_in": str | None}
    item_stack: list[dict] = []  # open list items: {"item": Item | None}
    last_paragraph: tuple[str, int] | None = None  # (content, end line) of the last top-level paragraph
    table: dict | None = None
    i = 0
    n = len(tokens)
    while i < n:
        t = tokens[i]
        if t.type == "heading_open":
            level = int(t.tag[1])
            content = tokens[i + 1].content if i + 1 < n else ""
            headings = [h for h in headings if h[0] < level]
            h = heading_text(content)
            if h:
                headings.append((level, h))
            raw_headings = [content]
            last_paragraph = None
            i += 3
            continue
        if t.type in ("bullet_list_open", "ordered_list_open"):
            lead = None
            if last_paragraph is not None and t.map and last_paragraph[1] >= t.map[0] - 1:
                content = last_paragraph[0].strip()
                if content.endswith(":") and len(content) < 200:
                    lead = content.rstrip(":")
            list_stack.append({"ordered": t.type == "ordered_list_open", "lead_in": lead})
            last_paragraph = None
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            if list_stack:
                list_stack.pop()
        elif t.type == "list_item_open":
            item_stack.append({"item": None, "open_map": t.map, "first": True})
        elif t.type == "list_item_close":
            if item_stack:
                item_stack.pop()
        elif t.type == "paragraph_open":
            inline = tokens[i + 1] if i + 1 < n and tokens[i + 1].type == "inline" else None
            content = inline.content if inline is not None else ""
            pmap = t.map or [0, 0]
            if item_stack and item_stack[-1]["first"]:
                frame = item_stack[-1]
                frame["first"] = False
                checkbox = None
                if inline is not None and inline.children and inline.children[0].type == "html_inline" \
                        and "task-list-item-checkbox" in inline.children[0].content:
                    checkbox = "checked" if 'checked="checked"' in inline.children[0].content else "unchecked"
                body = repair_mojibake(content.split(ANNOTATION_MARKER, 1)[0].strip())
                if body:
                    kind = "checkbox" if checkbox else ("numbered" if list_stack and list_stack[-1]["ordered"]
                                                        else "bullet")
                    parent = next((f["item"].text for f in reversed(item_stack[:-1]) if f["item"] is not None),
                                  None)
                    lead = list_stack[-1]["lead_in"] if list_stack else None
                    start = (frame["open_map"] or pmap)[0] + 1
                    item = Item(line=start, text=body, kind=kind, state=checkbox or "none",
                                headings=[h for _, h in headings], parent=parent, lead_in=lead,
                                end_line=max(start, pmap[1]))
                    item.claimed = checkbox == "checked" or _has_done_mark(body) or any(
                        _claims_done(h) for h in raw_headings[-1:])
                    frame["item"] = item
                    items.append(item)
            elif not item_stack:
                bold = _bold_only(content)
                if bold is not None:
                    headings = [h for h in headings if h[0] < 7]
                    h = heading_text(bold)
                    if h:
                        headings.append((7, h))
                    last_paragraph = None
                else:
                    last_paragraph = (content, pmap[1])
                i += 3
                continue
            i += 3
            continue
        elif t.type == "table_open":
            table = {"header": None, "lead_in": None}
            if last_paragraph is not None and t.map and last_paragraph[1] >= t.map[0] - 1:
                content = last_paragraph[0].strip()
                if content.endswith(":") and len(content) < 200:
                    table["lead_in"] = content.rstrip(":")
            last_paragraph = None
        elif t.type == "table_close":
            table = None
        elif t.type == "tr_open" and table is not None:
            cells: list[str] = []
            j = i + 1
            in_head = False
            while j < n and tokens[j].type != "tr_close":
                if tokens[j].type == "th_open":
                    in_head = True
                if tokens[j].type == "inline" and not tokens[j].content.strip().startswith(ANNOTATION_MARKER):
                    cells.append(repair_mojibake(tokens[j].content.strip()))
                j += 1
            row = " | ".join(cells)
            if in_head:
                table["header"] = " | ".join(plain(c) for c in cells)
            elif any(c.strip(" -—–") for c in cells) and t.map:
                line = t.map[0] + 1
                parent = next((f["item"].text for f in reversed(item_stack) if f["item"] is not None), None)
                item = Item(line=line, text=row, kind="table-row", state="none",
                            headings=[h for _, h in headings], parent=parent, lead_in=table["lead_in"],
                            table_header=table["header"], end_line=line)
                item.claimed = _has_done_mark(row)
                items.append(item)
            i = j + 1
            continue
        elif t.type in ("fence", "code_block", "hr", "html_block", "blockquote_open"):
            if not item_stack:
                last_paragraph = None
        i += 1
    return items


def read_checklist(path: Path) -> tuple[str, list[Item]]:
    """The decoded text of a checklist file and its items."""
    text = decode_document(path.read_bytes())
    return text, parse_checklist(text)
