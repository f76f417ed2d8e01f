"""GitHub-flavoured Markdown report (for PR comments, job summaries, wikis).

Text from the report is escaped for Markdown: backslash escapes for inline
punctuation (so ``<none>`` shows as typed instead of vanishing as an HTML tag),
``\\|`` in table cells, code spans and fences long enough for any backticks
they contain. Remediation text is split into prose and fenced code blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from prodready.report._common import PARSE_ERROR_ID, scan_errors

__all__ = ["render", "inline", "cell", "code", "fenced", "reference", "remediation_blocks", "MAX_EVIDENCE"]

MAX_EVIDENCE = 10

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# C0 controls except TAB and LF, DEL, C1 controls, and bidi overrides ("trojan source").
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")
_LIST_MARKER = re.compile(r"^([-+=])")
_ORDERED_MARKER = re.compile(r"^(\d+)([.)])")
_CODE_LINE = re.compile(
    r"""^(
        [ ]{2,}\S | \t                                  # indented
      | -\s+[a-z_][\w.-]*:(\s|$)                         # YAML list item with a key
      | [a-z_][\w.-]*:\s+\S                              # YAML key: value
      | [a-z_][\w.-]*\s*=\s*\S                           # HCL / ini / env assignment
      | [A-Z_][A-Z0-9_]*=\S                              # ENV=value
      | (FROM|RUN|USER|COPY|ADD|ENV|ARG|HEALTHCHECK|EXPOSE|WORKDIR|CMD|ENTRYPOINT
        |LABEL|STOPSIGNAL|SHELL|VOLUME|ONBUILD)\s          # Dockerfile instruction
      | \$\s | \#!                                       # shell prompt / shebang
      | (kubectl|docker|helm|pip|npm|terraform|prodready|curl|git)\s
      | .*[{};]\s*$ | [}\])]+,?\s*$                       # braces: nginx, HCL, JSON, code
      | (apiVersion|kind|metadata|spec):                 # k8s keys without value
    )""",
    re.VERBOSE,
)
_YAML_KEY_ONLY = re.compile(r"^[a-z_][\w.-]*:\s*$")


def _clean(value: Any) -> str:
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n")
    return _CONTROL_RE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _one_line(value: Any) -> str:
    return " ".join(_clean(value).split())


def inline(value: Any) -> str:
    """Escape text for inline Markdown (single line)."""
    text = _INLINE_SPECIAL.sub(r"\\\1", _one_line(value))
    text = _LIST_MARKER.sub(r"\\\1", text)
    return _ORDERED_MARKER.sub(r"\1\\\2", text)


def reference(value: Any) -> str:
    """A reference: a URL becomes an autolink (no escaping inside), anything else inline text."""
    text = _one_line(value)
    if re.fullmatch(r"https?://[^\s<>]+", text):
        return f"<{text}>"
    return inline(text)


def cell(value: str) -> str:
    """Escape already-built inline Markdown for a table cell (``|`` → ``\\|``)."""
    return re.sub(r"(?<!\\)\|", r"\\|", value)


def code(value: Any) -> str:
    """A code span that survives backticks in the text."""
    text = _one_line(value)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, indent: str = "") -> list[str]:
    """A fenced code block (the fence is longer than any backtick run inside)."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, longest + 1)
    body = [f"{indent}{line}".rstrip() for line in text.split("\n")]
    return [f"{indent}{fence}", *body, f"{indent}{fence}"]


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _score(value: Any) -> str:
    if value is None:
        return "n/a"
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        return inline(value)


def _location(path: Any, line: Any) -> str:
    if not path:
        return ""
    if isinstance(line, int) and not isinstance(line, bool) and line > 0:
        return f"{_one_line(path)}:{line}"
    return _one_line(path)


def _is_code(line: str, next_line: str | None) -> bool:
    if _YAML_KEY_ONLY.match(line):
        return bool(next_line and (next_line.startswith((" ", "\t", "- "))))
    return bool(_CODE_LINE.match(line))


def remediation_blocks(remediation: Any) -> list[str]:
    """Split remediation text into prose lines and fenced code blocks."""
    text = _clean(remediation).strip("\n")
    if not text.strip():
        return []
    if "```" in text or "~~~" in text:
        return text.split("\n")  # already Markdown: keep the author's fences
    lines = text.split("\n")
    kinds: list[str] = []
    for i, line in enumerate(lines):
        nxt = next((ln for ln in lines[i + 1 :] if ln.strip()), None)
        kinds.append("blank" if not line.strip() else ("code" if _is_code(line, nxt) else "prose"))
    # A blank line between two code lines belongs to the block.
    for i, kind in enumerate(kinds):
        if kind == "blank":
            before = next((k for k in reversed(kinds[:i]) if k != "blank"), None)
            after = next((k for k in kinds[i + 1 :] if k != "blank"), None)
            if before == "code" and after == "code":
                kinds[i] = "code"
    out: list[str] = []
    block: list[str] = []
    last_prose = False  # the previous output line is prose of the same paragraph
    for line, kind in zip(lines, kinds, strict=True):
        if kind == "code":
            block.append(line.rstrip())
            last_prose = False
            continue
        if block:
            if out and out[-1] != "":
                out.append("")
            out.extend(fenced("\n".join(block)))
            out.append("")
            block = []
        if kind == "blank":
            if out and out[-1] != "":
                out.append("")
            last_prose = False
        else:
            if last_prose:
                out[-1] += "\\"  # CommonMark hard line break: keep the author's line structure
            out.append(re.sub(r"([<>&|])", r"\\\1", line.strip()))
            last_prose = True
    if block:
        if out and out[-1] != "":
            out.append("")
        out.extend(fenced("\n".join(block)))
    while out and out[-1] == "":
        out.pop()
    return out


def _sort_key(result: Mapping[str, Any]) -> tuple[float, int, str]:
    return (
        -_num(result.get("points_lost")),
        _SEVERITY_RANK.get(str(result.get("severity")), 9),
        str(result.get("control_id") or ""),
    )


def _grouped(report: Mapping[str, Any], status: str) -> list[tuple[str, str, list[Mapping[str, Any]]]]:
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


def _header(report: Mapping[str, Any]) -> list[str]:
    tool = report.get("tool") if isinstance(report.get("tool"), Mapping) else {}
    files = report.get("files") if isinstance(report.get("files"), Mapping) else {}
    out = ["# Production readiness report", ""]
    out.append(f"**Score: {_score(report.get('score'))} / 100** · **Level: {inline(report.get('level') or 'none')}**")
    out.append("")
    facts = []
    if report.get("root"):
        facts.append(f"Scanned {code(report['root'])}")
    facts.append(f"{int(_num(files.get('total')))} files")
    if report.get("scanned_at"):
        facts.append(inline(report["scanned_at"]))
    if report.get("duration_s") is not None:
        facts.append(f"{_num(report['duration_s']):.2f} s")
    name = " ".join(p for p in (_one_line(tool.get("name") or "prodready"), _one_line(tool.get("version"))) if p)
    facts.append(inline(name))
    out.append(" · ".join(facts))
    gates = report.get("gates")
    if isinstance(gates, Mapping) and (gates.get("fail_under") is not None or gates.get("fail_on") is not None):
        out.append("")
        if gates.get("failed"):
            reasons = "; ".join(_one_line(r) for r in gates.get("reasons") or [])
            out.append(f"**Gate: failed** — {inline(reasons)}" if reasons else "**Gate: failed**")
        else:
            config = []
            if gates.get("fail_under") is not None:
                config.append(f"fail-under {_one_line(gates['fail_under'])}")
            if gates.get("fail_on") is not None:
                config.append(f"fail-on {_one_line(gates['fail_on'])}")
            out.append(f"**Gate: passed** ({inline(', '.join(config))})")
    out.append("")
    return out


def _categories(report: Mapping[str, Any]) -> list[str]:
    categories = [c for c in report.get("categories") or [] if isinstance(c, Mapping)]
    if not categories:
        return []
    out = [
        "## Categories",
        "",
        "| Category | Score | Passed | Failed | N/A | Needs attestation |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cat in categories:
        row = [
            inline(cat.get("title") or cat.get("id")),
            _score(cat.get("score")),
            str(int(_num(cat.get("passed")))),
            str(int(_num(cat.get("failed")))),
            str(int(_num(cat.get("not_applicable")))),
            str(int(_num(cat.get("needs_attestation")))),
        ]
        out.append("| " + " | ".join(cell(c) for c in row) + " |")
    out.append("")
    return out


def _evidence(result: Mapping[str, Any]) -> list[str]:
    evidence = [e for e in result.get("evidence") or [] if isinstance(e, Mapping)]
    failing = [e for e in evidence if e.get("status") == "fail"] or [e for e in evidence if e.get("status") != "pass"]
    out: list[str] = []
    result_message = _one_line(result.get("message"))
    for item in failing[:MAX_EVIDENCE]:
        parts = []
        loc = _location(item.get("path"), item.get("line"))
        if loc:
            parts.append(code(loc))
        if item.get("resource"):
            parts.append(inline(item["resource"]))
        message = _one_line(item.get("message"))
        redundant = bool(message) and (message == result_message or result_message.endswith(": " + message))
        if redundant and not parts and not item.get("snippet"):
            continue
        if message and not redundant:
            parts.append(inline(message))
        out.append("- " + " — ".join(parts) if parts else "- (no location)")
        snippet = _clean(item.get("snippet")).strip("\n")
        if snippet:
            out.extend(fenced(snippet, indent="  "))
    if len(failing) > MAX_EVIDENCE:
        out.append(f"- … and {len(failing) - MAX_EVIDENCE} more")
    return out


def _failing(report: Mapping[str, Any]) -> list[str]:
    groups = _grouped(report, "fail")
    results = sorted((r for _, _, rs in groups for r in rs), key=_sort_key)
    if not results:
        return ["## Failing controls", "", "No failing controls.", ""]
    out = [
        f"## Failing controls ({len(results)})",
        "",
        "| Severity | Control | Message | Points lost |",
        "| --- | --- | --- | ---: |",
    ]
    for result in results:
        row = [
            inline(result.get("severity")),
            code(result.get("control_id")),
            inline(result.get("message") or result.get("title")),
            f"{_num(result.get('points_lost')):.1f}",
        ]
        out.append("| " + " | ".join(cell(c) for c in row) + " |")
    out.append("")
    for _cid, title, cat_results in groups:
        out.extend([f"### {inline(title)}", ""])
        for result in cat_results:
            out.append(f"#### {code(result.get('control_id'))} — {inline(result.get('title'))}")
            out.append("")
            meta = f"**Severity:** {inline(result.get('severity'))} · **Points lost:** {_num(result.get('points_lost')):.1f}"
            out.extend([meta, ""])
            if result.get("message"):
                out.extend([inline(result["message"]), ""])
            evidence = _evidence(result)
            if evidence:
                out.extend(["**Evidence:**", "", *evidence, ""])
            fix = remediation_blocks(result.get("remediation"))
            if fix:
                out.extend(["**Fix:**", "", *fix, ""])
            exempt = len(result.get("suppressed") or []) + len(result.get("waived") or [])
            if exempt:
                out.extend([f"_{exempt} more outcome(s) suppressed or waived — see below._", ""])
            refs = [r for r in result.get("references") or [] if r]
            if refs:
                out.append("References: " + "; ".join(reference(r) for r in refs))
                out.append("")
    return out


def _attestation(report: Mapping[str, Any]) -> list[str]:
    results = [r for _, _, rs in _grouped(report, "needs_attestation") for r in rs]
    if not results:
        return []
    out = [f"## Needs attestation ({len(results)})", ""]
    for result in results:
        text = result.get("message") or result.get("title")
        out.append(f"- {code(result.get('control_id'))} ({inline(result.get('severity'))}) — {inline(text)}")
    out.append("")
    return out


def _exemptions(report: Mapping[str, Any]) -> list[str]:
    items: list[str] = []
    for result in report.get("results") or []:
        if not isinstance(result, Mapping):
            continue
        entries = [("suppressed", e) for e in result.get("suppressed") or [] if isinstance(e, Mapping)]
        entries += [("waived", e) for e in result.get("waived") or [] if isinstance(e, Mapping)]
        for kind, entry in entries:
            loc = _location(entry.get("path"), entry.get("line"))
            parts = [p for p in (code(loc), inline(entry.get("resource"))) if p]
            where = f" {' '.join(parts)}" if parts else ""
            reason = inline(entry.get("reason")) or "(no reason given)"
            expiry = f" (expires {inline(entry.get('expires'))})" if entry.get("expires") else ""
            items.append(f"- **{kind}** {code(result.get('control_id'))}{where} — {reason}{expiry}")
    if not items:
        return []
    return [f"## Suppressed and waived ({len(items)})", "", *items, ""]


def _diagnostics(report: Mapping[str, Any]) -> list[str]:
    items: list[str] = []
    for result in report.get("results") or []:
        if isinstance(result, Mapping) and result.get("status") == "error" and result.get("control_id") != PARSE_ERROR_ID:
            msg = result.get("message") or "control could not be evaluated"
            items.append(f"- **error** {code(result.get('control_id'))} — {inline(msg)}")
    for err in scan_errors(report):
        loc = _location(err["path"], err["line"])
        where = f" {code(loc)}" if loc else ""
        items.append(f"- **{PARSE_ERROR_ID}**{where} — {inline(err['message'] or 'file could not be parsed')}")
        snippet = _clean(err["snippet"]).strip("\n")
        if snippet:
            items.extend(fenced(snippet, indent="  "))
    for diag in report.get("diagnostics") or []:
        if not isinstance(diag, Mapping) or diag.get("kind") == PARSE_ERROR_ID:
            continue
        loc = _location(diag.get("path"), diag.get("line"))
        where = f" {code(loc)}" if loc else ""
        items.append(f"- **{inline(diag.get('kind') or 'diagnostic')}**{where} — {inline(diag.get('message'))}")
    if not items:
        return []
    return ["## Diagnostics", "", *items, ""]


def render(report: Mapping[str, Any], *, color: bool = False) -> str:
    """GitHub-flavoured Markdown text (``color`` is accepted for a uniform signature and ignored)."""
    lines = [
        *_header(report),
        *_categories(report),
        *_failing(report),
        *_attestation(report),
        *_exemptions(report),
        *_diagnostics(report),
    ]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
