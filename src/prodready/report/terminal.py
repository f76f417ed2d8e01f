"""Human-readable terminal report, rendered with ``rich`` into a string.

The renderer never parses rich markup: every piece of report text goes into a
:class:`rich.text.Text` verbatim, so ``[brackets]`` in messages stay literal.
Control characters from scanned files (``ESC``, ``BEL``...) are shown as
visible ``\\x1b`` escapes, so a hostile snippet cannot drive the terminal.
With ``color=False`` the output contains no ANSI escape sequences at all,
whatever ``FORCE_COLOR`` / ``TTY_COMPATIBLE`` say in the environment.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from prodready.report._common import PARSE_ERROR_ID, _is_scan_error, scan_errors

__all__ = ["render", "scan_errors", "PARSE_ERROR_ID", "WIDTH", "BAR_WIDTH", "MAX_EVIDENCE", "MAX_FIX_LINES"]

WIDTH = 100
BAR_WIDTH = 24
MAX_EVIDENCE = 5
MAX_FIX_LINES = 3

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
}
_LEVEL_STYLE = {"gold": "bold yellow", "silver": "bold white", "bronze": "bold dark_orange", "none": "bold red"}
# C0 controls except TAB and LF, DEL, C1 controls, and bidi overrides ("trojan source").
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The tail of a rendered line: blanks mixed with ANSI style codes (rich pads lines with spaces).
_TAIL = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)+$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _clean(value: Any) -> str:
    """Text for display: ``None`` → ``""``, control characters made visible."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n")
    return _CONTROL_RE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _one_line(value: Any) -> str:
    return " ".join(_clean(value).split())


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _fmt_score(value: Any) -> str:
    if value is None:
        return "n/a"
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return _one_line(value)


def _location(path: Any, line: Any) -> str:
    if not path:
        return ""
    if isinstance(line, int) and not isinstance(line, bool) and line > 0:
        return f"{_one_line(path)}:{line}"
    return _one_line(path)


def _score_style(score: Any) -> str:
    value = _num(score)
    if value >= 90:
        return "green"
    if value >= 70:
        return "yellow"
    return "red"


def _failing_evidence(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    evidence = [e for e in result.get("evidence") or [] if isinstance(e, Mapping)]
    failing = [e for e in evidence if e.get("status") == "fail"]
    if failing:
        return failing
    # Outcomes without an explicit status (or only non-pass ones) still explain the failure.
    return [e for e in evidence if e.get("status") != "pass"]


def _sort_key(result: Mapping[str, Any]) -> tuple[float, int, str]:
    return (
        -_num(result.get("points_lost")),
        _SEVERITY_RANK.get(str(result.get("severity")), 9),
        str(result.get("control_id") or ""),
    )


def _grouped(report: Mapping[str, Any], status: str) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
    """Results with ``status`` grouped by category, in the report's category order."""
    titles: dict[str, str] = {}
    for cat in report.get("categories") or []:
        if isinstance(cat, Mapping) and cat.get("id"):
            titles[str(cat["id"])] = _one_line(cat.get("title") or cat["id"])
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for result in report.get("results") or []:
        if isinstance(result, Mapping) and result.get("status") == status:
            groups.setdefault(str(result.get("category") or "other"), []).append(result)
    order = [c for c in titles if c in groups] + sorted(c for c in groups if c not in titles)
    return [(cid, titles.get(cid, cid), sorted(groups[cid], key=_sort_key)) for cid in order]


def _line(*parts: tuple[str, str] | str) -> Text:
    text = Text()
    for part in parts:
        if isinstance(part, tuple):
            text.append(part[0], style=part[1] or None)
        else:
            text.append(part)
    return text


def _indented(renderable: RenderableType, indent: int) -> Padding:
    return Padding(renderable, (0, 0, 0, indent))


def _header(console: Console, report: Mapping[str, Any]) -> None:
    tool = report.get("tool") if isinstance(report.get("tool"), Mapping) else {}
    name = _one_line(tool.get("name") or "prodready")
    version = _one_line(tool.get("version"))
    console.print(_line((f"{name} {version}".strip(), "bold"), " — production-readiness report"))
    console.print(_line(("root     ", "dim"), _one_line(report.get("root"))))

    files = report.get("files") if isinstance(report.get("files"), Mapping) else {}
    by_kind = files.get("by_kind") if isinstance(files.get("by_kind"), Mapping) else {}
    kinds = ", ".join(
        f"{_one_line(k)} {v}" for k, v in sorted(by_kind.items(), key=lambda kv: (-_num(kv[1]), str(kv[0])))
    )
    file_line = f"{files.get('total', 0)} files" + (f" ({kinds})" if kinds else "")
    console.print(_line(("files    ", "dim"), file_line))
    when = []
    if report.get("scanned_at"):
        when.append(_one_line(report["scanned_at"]))
    if report.get("duration_s") is not None:
        when.append(f"in {_num(report['duration_s']):.2f}s")
    if when:
        console.print(_line(("scanned  ", "dim"), " ".join(when)))
    console.print()

    score = report.get("score")
    level = _one_line(report.get("level") or "none")
    console.print(
        _line(
            ("Score ", "bold"),
            (_fmt_score(score), f"bold {_score_style(score)}" if score is not None else "bold"),
            ("/100", "bold"),
            "   Maturity level: ",
            (level, _LEVEL_STYLE.get(level, "bold")),
        )
    )
    counts: dict[str, int] = {}
    for result in report.get("results") or []:
        if isinstance(result, Mapping) and not _is_scan_error(result):
            status = str(result.get("status"))
            counts[status] = counts.get(status, 0) + 1
    labels = [
        ("pass", "passed", "green"),
        ("fail", "failed", "red"),
        ("not_applicable", "not applicable", "dim"),
        ("needs_attestation", "need attestation", "yellow"),
        ("error", "error", "bold red"),
    ]
    summary = Text("Controls: ")
    first = True
    for key, label, style in labels:
        if key == "error" and not counts.get(key):
            continue
        if not first:
            summary.append(", ")
        count = counts.get(key, 0)
        if key == "error" and count != 1:
            label += "s"
        summary.append(f"{count} {label}", style=style if count else None)
        first = False
    console.print(summary)
    console.print()


def _categories(console: Console, report: Mapping[str, Any]) -> None:
    categories = [c for c in report.get("categories") or [] if isinstance(c, Mapping)]
    if not categories:
        return
    console.print(Text("Categories", style="bold underline"))
    name_width = max(14, *(len(_one_line(c.get("id"))) + 1 for c in categories))
    for cat in categories:
        score = cat.get("score")
        text = Text(f"  {_one_line(cat.get('id')):<{name_width}}")
        if score is None:
            text.append("·" * BAR_WIDTH, style="dim")
            text.append("    n/a", style="dim")
        else:
            filled = max(0, min(BAR_WIDTH, round(_num(score) / 100 * BAR_WIDTH)))
            text.append("█" * filled, style=_score_style(score))
            text.append("░" * (BAR_WIDTH - filled), style="dim")
            text.append(f"  {_fmt_score(score):>5}")
        passed = int(_num(cat.get("passed")))
        failed = int(_num(cat.get("failed")))
        text.append(f"   {passed} passed, {failed} failed", style="dim")
        attest = int(_num(cat.get("needs_attestation")))
        if attest:
            text.append(f", {attest} need attestation", style="dim")
        console.print(text, no_wrap=True, overflow="ellipsis")
    console.print()


def _redundant(evidence_message: str, result_message: str) -> bool:
    """True when the control's message already says what the evidence item says."""
    return bool(evidence_message) and (
        evidence_message == result_message or result_message.endswith(": " + evidence_message)
    )


def _evidence_block(
    console: Console, evidence: Iterable[Mapping[str, Any]], indent: int, result_message: str = ""
) -> None:
    items = list(evidence)
    for item in items[:MAX_EVIDENCE]:
        loc = _location(item.get("path"), item.get("line"))
        text = Text()
        if loc:
            text.append(loc, style="bold")
        resource = _one_line(item.get("resource"))
        message = _one_line(item.get("message"))
        if _redundant(message, result_message) and (loc or resource):
            message = ""
        elif _redundant(message, result_message):
            continue  # nothing to add beyond the control's own message
        if resource:
            text.append(("  " if loc else "") + resource)
        if message:
            text.append((" — " if (loc or resource) else "") + message, style="dim" if (loc or resource) else None)
        if text.plain:
            console.print(_indented(text, indent))
        snippet = _clean(item.get("snippet")).strip("\n")
        if snippet:
            for snippet_line in snippet.splitlines()[:5]:
                console.print(
                    _indented(Text(snippet_line.rstrip(), style="cyan", overflow="fold"), indent + 4)
                )
    if len(items) > MAX_EVIDENCE:
        console.print(_indented(Text(f"… and {len(items) - MAX_EVIDENCE} more", style="dim"), indent))


def _fix_block(console: Console, remediation: Any, indent: int) -> None:
    lines = [ln.rstrip() for ln in _clean(remediation).splitlines() if ln.strip()]
    if not lines:
        return
    shown = lines[:MAX_FIX_LINES]
    text = Text("\n".join(shown) + (" …" if len(lines) > len(shown) else ""))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text("fix:", style="bold green"), text)
    console.print(_indented(grid, indent))


def _failing(console: Console, report: Mapping[str, Any]) -> None:
    groups = _grouped(report, "fail")
    total = sum(len(g[2]) for g in groups)
    if not total:
        console.print(Text("No failing controls.", style="bold green"))
        console.print()
        return
    console.print(Text(f"Failing controls ({total})", style="bold underline"))
    for cid, title, results in groups:
        lost = sum(_num(r.get("points_lost")) for r in results)
        console.print()
        console.print(_line((f"{title}", "bold"), (f"  [{cid}]  −{lost:.1f} points", "dim")))
        for result in results:
            severity = _one_line(result.get("severity") or "unknown").lower()
            head = Text("  ")
            head.append(f"{severity.upper():<8}", style=_SEVERITY_STYLE.get(severity, "bold"))
            head.append(" ")
            head.append(_one_line(result.get("control_id")), style="bold")
            head.append(f"  −{_num(result.get('points_lost')):.1f} pts", style="dim")
            console.print(head)
            title_text = _one_line(result.get("title"))
            if title_text:
                console.print(_indented(Text(title_text), 11))
            message = _one_line(result.get("message"))
            if message:
                console.print(_indented(Text(message, style="italic"), 11))
            _evidence_block(console, _failing_evidence(result), 11, message)
            _fix_block(console, result.get("remediation"), 11)
            notes = []
            if result.get("suppressed"):
                notes.append(f"{len(result['suppressed'])} suppressed inline")
            if result.get("waived"):
                notes.append(f"{len(result['waived'])} waived")
            if notes:
                console.print(_indented(Text(f"({', '.join(notes)})", style="dim"), 11))
    console.print()


def _attestation(console: Console, report: Mapping[str, Any]) -> None:
    groups = _grouped(report, "needs_attestation")
    results = [r for _, _, rs in groups for r in rs]
    if not results:
        return
    console.print(Text(f"Needs attestation ({len(results)})", style="bold underline"))
    for result in results:
        text = _line(
            "  ",
            (f"{_one_line(result.get('severity')).upper():<8}", "yellow"),
            " ",
            (_one_line(result.get("control_id")), "bold"),
            "  ",
            _one_line(result.get("message") or result.get("title")),
        )
        console.print(text)
    console.print()


def _diagnostics(console: Console, report: Mapping[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []  # kind, where, message, snippet
    for result in report.get("results") or []:
        if isinstance(result, Mapping) and result.get("status") == "error" and not _is_scan_error(result):
            evidence = [e for e in result.get("evidence") or [] if isinstance(e, Mapping) and e.get("path")]
            loc = _location(evidence[0].get("path"), evidence[0].get("line")) if evidence else ""
            where = _one_line(result.get("control_id")) + (f" @ {loc}" if loc else "")
            rows.append(("error", where, _one_line(result.get("message")), ""))
    for err in scan_errors(report):
        rows.append((PARSE_ERROR_ID, _location(err["path"], err["line"]), _one_line(err["message"]), _clean(err["snippet"])))
    for diag in report.get("diagnostics") or []:
        if isinstance(diag, Mapping) and diag.get("kind") != PARSE_ERROR_ID:
            rows.append(
                (
                    _one_line(diag.get("kind") or "diagnostic"),
                    _location(diag.get("path"), diag.get("line")),
                    _one_line(diag.get("message")),
                    "",
                )
            )
    if not rows:
        return
    console.print(Text(f"Scan errors and diagnostics ({len(rows)})", style="bold underline"))
    grid = _grid()
    for kind, where, message, snippet in rows:
        content = Text()
        if where:
            content.append(where, style="bold")
            content.append("  ")
        content.append(message)
        for snippet_line in snippet.strip("\n").splitlines()[:3]:
            content.append("\n    " + snippet_line.rstrip(), style="cyan")
        style = "bold red" if kind in ("error", PARSE_ERROR_ID) else "yellow"
        grid.add_row(Text(kind, style=style), content)
    console.print(_indented(grid, 2))
    console.print()


def _grid() -> Table:
    """Two columns: a label that never wraps, and text that wraps under itself."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _exemptions(console: Console, report: Mapping[str, Any]) -> None:
    """Every suppressed or waived outcome, so exemptions stay auditable."""
    rows: list[tuple[str, Text]] = []
    for result in report.get("results") or []:
        if not isinstance(result, Mapping):
            continue
        control_id = _one_line(result.get("control_id"))
        entries = [("suppressed", e) for e in result.get("suppressed") or [] if isinstance(e, Mapping)]
        entries += [("waived", e) for e in result.get("waived") or [] if isinstance(e, Mapping)]
        for kind, entry in entries:
            text = Text(control_id, style="bold")
            where = "  ".join(
                p for p in (_location(entry.get("path"), entry.get("line")), _one_line(entry.get("resource"))) if p
            )
            if where:
                text.append(f"  {where}")
            reason = _one_line(entry.get("reason")) or "(no reason given)"
            text.append(f" — {reason}", style="dim")
            if entry.get("expires"):
                text.append(f" (expires {_one_line(entry['expires'])})", style="dim")
            rows.append((kind, text))
    if not rows:
        return
    console.print(Text(f"Suppressed and waived ({len(rows)})", style="bold underline"))
    grid = _grid()
    for kind, text in rows:
        grid.add_row(Text(kind, style="dim"), text)
    console.print(_indented(grid, 2))
    console.print()


def _gates(console: Console, report: Mapping[str, Any]) -> None:
    gates = report.get("gates")
    if not isinstance(gates, Mapping):
        return
    config = []
    if gates.get("fail_under") is not None:
        config.append(f"fail-under {_one_line(gates['fail_under'])}")
    if gates.get("fail_on") is not None:
        config.append(f"fail-on {_one_line(gates['fail_on'])}")
    if not config:
        console.print(_line(("Gate: ", "bold"), ("none configured", "dim")))
        return
    if gates.get("failed"):
        reasons = "; ".join(_one_line(r) for r in gates.get("reasons") or []) or "see above"
        console.print(_line(("Gate: ", "bold"), ("FAILED", "bold red"), f" — {reasons}"))
    else:
        console.print(_line(("Gate: ", "bold"), ("passed", "bold green"), f" ({', '.join(config)})"))


def _strip_tail(line: str) -> str:
    """Drop trailing blanks but keep any style-reset codes among them."""
    return _TAIL.sub(lambda m: "".join(_ANSI.findall(m.group())), line)


def render(report: Mapping[str, Any], *, color: bool = False) -> str:
    """Render the report for a terminal; ANSI colours only when ``color`` is true."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=WIDTH,
        height=25,  # with both dimensions fixed rich ignores COLUMNS, TERM=dumb and the real tty
        force_terminal=color,
        force_jupyter=False,
        force_interactive=False,
        color_system="standard" if color else None,
        no_color=not color,
        markup=False,
        emoji=False,
        highlight=False,
        legacy_windows=False,
        soft_wrap=False,
    )
    _header(console, report)
    _categories(console, report)
    _failing(console, report)
    _attestation(console, report)
    _exemptions(console, report)
    _diagnostics(console, report)
    _gates(console, report)
    out = buffer.getvalue().rstrip("\n")
    return "\n".join(_strip_tail(line) for line in out.split("\n")) + "\n"
