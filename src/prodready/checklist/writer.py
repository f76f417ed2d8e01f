"""Write a verified checklist back: annotated Markdown, and a terminal summary per section.

The annotated Markdown keeps every original line as it was and only *adds*:

- after each item's own text, a status mark (``✅ verified``, ``❌ failing`` ...) and, on continuation lines of
  the same paragraph, the evidence (control, message, ``path:line``);
- for table rows, a ``prodready`` column, with the evidence listed under the table;
- a summary quote under the first heading.

Every addition starts with the marker ``<!-- prodready -->`` (invisible when rendered), so a re-run on an
annotated file reads the original items again and not the annotations.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from .parser import ANNOTATION_MARKER
from .verifier import STATUSES, ItemResult, summary

MARKS = {"verified": "✅", "failing": "❌", "partial": "🟡", "needs-attestation": "👤", "unmapped": "❔"}
LABELS = {"verified": "verified", "failing": "failing", "partial": "partial",
          "needs-attestation": "needs attestation", "unmapped": "unmapped"}
MAX_EVIDENCE_LINES = 4
_LIST_MARKER = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(\s+)(\[[ xX]\]\s+)?")


def _md_escape(text: str) -> str:
    """Text safe inside a Markdown paragraph or table cell (no stray emphasis, HTML or pipes)."""
    t = re.sub(r"\s+", " ", str(text)).strip()
    t = t.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([*_`\[\]#])", r"\\\1", t)


def _where(e: dict) -> str:
    if e.get("path"):
        loc = f"{e['path']}:{e['line']}" if e.get("line") else e["path"]
        return f" (`{loc.replace('`', '')}`)"
    if e.get("url"):
        return f" ({_md_escape(e['url'])})"
    return ""


def status_mark(r: ItemResult) -> str:
    mark = f"{MARKS[r.status]} **{LABELS[r.status]}**"
    if r.claimed_but_failing:
        mark += " · ⚠️ **claimed but failing**"
    if r.controls:
        mark += " · " + ", ".join(f"`{m.control_id}`" for m in r.controls)
    return mark


def evidence_lines(r: ItemResult) -> list[str]:
    if r.status == "unmapped":
        return ["no prodready control matches this item; attest it by hand or rephrase it"]
    lines = []
    for e in r.evidence[:MAX_EVIDENCE_LINES]:
        status = e.get("status") or ""
        lines.append(f"↳ `{e['control_id']}` {_md_escape(status)}: {_md_escape(e.get('message') or '')}{_where(e)}")
    extra = len(r.evidence) - MAX_EVIDENCE_LINES
    if extra > 0:
        lines.append(f"↳ … and {extra} more finding(s): `prodready scan` lists them all")
    return lines


def _content_indent(line: str) -> int:
    m = _LIST_MARKER.match(line)
    return len(m.group(0)) if m else len(line) - len(line.lstrip())


def _split_row(line: str) -> tuple[str, str]:
    """(row without its closing pipe and trailing spaces, line ending)."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    body = body.rstrip()
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1].rstrip()
    return body, ending


def annotate(text: str, results: list[ItemResult], report: dict | None = None) -> str:
    """The checklist ``text`` with each item's status and evidence added (see the module docstring)."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
    add_after: dict[int, list[str]] = {}  # 0-based line index -> lines to insert after it
    suffix: dict[int, str] = {}  # 0-based line index -> text appended at its end
    table_rows: dict[int, ItemResult] = {}
    for r in results:
        it = r.item
        if it.kind == "table-row":
            table_rows[it.line - 1] = r
            continue
        end = max(it.end_line, it.line) - 1
        if end >= len(lines):
            continue
        ev = evidence_lines(r)
        indent = " " * _content_indent(lines[it.line - 1])
        suffix[end] = f" {ANNOTATION_MARKER} — {status_mark(r)}" + ("\\" if ev else "")
        add_after[end] = [indent + ln + ("\\" if i < len(ev) - 1 else "") for i, ln in enumerate(ev)]
    # tables: a prodready column on the header, delimiter and annotated rows; evidence below the table
    tables = _tables(lines, table_rows)
    for header, delim, rows, last in tables:
        suffix[header] = f" {ANNOTATION_MARKER} prodready |"
        suffix[delim] = " --- |"
        notes = []
        for idx in rows:
            r = table_rows.get(idx)
            cell = f"{MARKS[r.status]} {LABELS[r.status]}" if r else ""
            suffix[idx] = f" {ANNOTATION_MARKER} {cell} |"
            if r:
                ev = "; ".join(ln.lstrip("↳ ") for ln in evidence_lines(r)[:2])
                cells = _md_escape(_split_row(lines[idx])[0].strip("| "))
                notes.append(f"- {ANNOTATION_MARKER} line {r.item.line} ({cells}): {status_mark(r)} — {ev}")
        if notes:
            add_after[last] = add_after.get(last, []) + [""] + notes
    table_lines = {i for h, d, body, _ in tables for i in (h, d, *body)}
    out: list[str] = []
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body):] or newline
        if i in suffix and i in table_lines:  # keep the row as written; close it with a pipe if it was open
            row = body.rstrip()
            closed = row.endswith("|") and not row.endswith("\\|")
            out.append(row + ("" if closed else " |") + suffix[i] + ending)
        elif i in suffix:
            out.append(body.rstrip() + suffix[i] + ending)
        else:
            out.append(body + ending)
        for extra in add_after.get(i, []):
            out.append(extra + newline)
    if report is not None:
        _insert_summary(out, results, report, newline)
    return "".join(out)


_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _tables(lines: list[str], rows: dict[int, ItemResult]) -> list[tuple[int, int, list[int], int]]:
    """(header index, delimiter index, body row indexes, last row index) of each table holding an item."""
    found = []
    seen: set[int] = set()
    for idx in sorted(rows):
        if idx in seen:
            continue
        start = idx
        while start > 0 and lines[start - 1].strip() and "|" in lines[start - 1]:
            start -= 1
        header, delim = start, start + 1
        if delim >= len(lines) or not _DELIMITER_ROW.match(lines[delim].rstrip("\r\n")):
            continue
        body = []
        j = delim + 1
        while j < len(lines) and lines[j].strip() and "|" in lines[j]:
            body.append(j)
            seen.add(j)
            j += 1
        found.append((header, delim, body, body[-1] if body else delim))
    return found


def _insert_summary(out: list[str], results: list[ItemResult], report: dict, newline: str) -> None:
    counts = summary(results)
    parts = [f"{MARKS[s]} {counts[s]} {LABELS[s]}" for s in STATUSES]
    text = (f"> {ANNOTATION_MARKER} **prodready checklist verify** — {len(results)} items: " + " · ".join(parts))
    if counts["claimed_but_failing"]:
        text += f" · ⚠️ {counts['claimed_but_failing']} claimed but failing"
    if report.get("score") is not None:
        text += f" — project score {report['score']}, level {report.get('level')}"
    at = 0
    for i, line in enumerate(out):
        if line.strip():
            at = i + 1 if line.lstrip().startswith("#") else i
            break
    block = [newline, text + newline] if at else [text + newline, newline]
    if at and at < len(out) and out[at].strip():
        block.append(newline)
    out[at:at] = block


def section_of(r: ItemResult) -> str:
    """The section an item belongs to for the summary: the heading under the document title."""
    hs = r.item.headings
    if len(hs) >= 2:
        return hs[1]
    return hs[0] if hs else "(top)"


def terminal_summary(results: list[ItemResult], checklist: str, report: dict, color: bool = False) -> str:
    def c(code: str, s: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if color else s

    colors = {"verified": "32", "failing": "31", "partial": "33", "needs-attestation": "36", "unmapped": "90"}
    sections: OrderedDict[str, list[ItemResult]] = OrderedDict()
    for r in results:
        sections.setdefault(section_of(r), []).append(r)
    width = min(48, max([len(s) for s in sections] + [8]))
    head = "".join(f"{LABELS[s][:11]:>12}" for s in STATUSES)
    out = [f"prodready checklist verify {checklist} — project {report.get('root')} "
           f"(score {report.get('score')}, level {report.get('level')})", "",
           f"{'section':<{width}}{head}"]
    for name, rs in sections.items():
        counts = {s: sum(r.status == s for r in rs) for s in STATUSES}
        cells = "".join(c(colors[s], f"{counts[s]:>12}") if counts[s] else f"{0:>12}" for s in STATUSES)
        out.append(f"{name[:width]:<{width}}{cells}")
    total = summary(results)
    out.append(f"{'total':<{width}}" + "".join(f"{total[s]:>12}" for s in STATUSES))
    lies = [r for r in results if r.claimed_but_failing]
    if lies:
        out += ["", c("31;1", f"claimed but failing ({len(lies)}):")]
        for r in lies:
            ctl = ", ".join(m.control_id for m in r.controls)
            first = next((e for e in r.evidence if e.get("status") == "fail"), r.evidence[0] if r.evidence else {})
            where = f" {first['path']}:{first['line']}" if first.get("path") else ""
            out.append(f"  line {r.item.line}: {r.item.plain_text[:70]} — {ctl}{where}")
    failing = [r for r in results if r.status == "failing" and not r.claimed_but_failing]
    if failing:
        out += ["", f"failing ({len(failing)}):"]
        for r in failing[:30]:
            out.append(f"  line {r.item.line}: {r.item.plain_text[:70]} — "
                       + ", ".join(m.control_id for m in r.controls))
        if len(failing) > 30:
            out.append(f"  … {len(failing) - 30} more (use --format json or markdown)")
    return "\n".join(out) + "\n"
