"""Helpers shared by the renderers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PARSE_ERROR_ID = "parse-error"


def _is_scan_error(result: Mapping[str, Any]) -> bool:
    return result.get("control_id") == PARSE_ERROR_ID


def _valid_line(line: Any) -> int | None:
    return line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else None


def scan_errors(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Files that could not be parsed, from ``parse-error`` diagnostics and ``parse-error``
    results (the core may report them either way, or both), one entry per path and line."""
    found: dict[tuple[str, int | None], dict[str, Any]] = {}
    for diag in report.get("diagnostics") or []:
        if isinstance(diag, Mapping) and diag.get("kind") == PARSE_ERROR_ID:
            key = (str(diag.get("path") or ""), _valid_line(diag.get("line")))
            found.setdefault(key, {"path": key[0], "line": key[1], "message": diag.get("message"), "snippet": None})
    for result in report.get("results") or []:
        if not (isinstance(result, Mapping) and _is_scan_error(result)):
            continue
        evidence = [e for e in result.get("evidence") or [] if isinstance(e, Mapping)] or [{}]
        for ev in evidence:
            key = (str(ev.get("path") or ""), _valid_line(ev.get("line")))
            entry = found.setdefault(
                key, {"path": key[0], "line": key[1], "message": ev.get("message") or result.get("message"), "snippet": None}
            )
            if not entry["snippet"] and ev.get("snippet"):
                entry["snippet"] = ev["snippet"]
    return sorted(found.values(), key=lambda e: (e["path"], e["line"] or 0))
