"""JUnit XML output, built with :mod:`xml.etree.ElementTree`.

One ``<testsuite>`` per category (in the report's category order), one
``<testcase classname="prodready.<category>" name="<control_id>">`` per result:

* ``fail`` → ``<failure type="<severity>">``, with the evidence as text;
* ``needs_attestation`` → ``<failure type="needs_attestation">``;
* ``error`` → ``<error>``;
* ``not_applicable`` → ``<skipped>``;
* ``pass`` → an empty test case.

Unparsable files (``parse-error`` diagnostics, or results with control id
``parse-error``; one per path and line) become ``<error>`` test cases of an
extra ``diagnostics`` suite, so a CI job never shows green on a half-read repository;
other diagnostics go to that suite's ``<system-err>``.

ElementTree escapes markup characters; characters that XML 1.0 cannot carry at all
(NUL, ESC and other controls, lone surrogates) are replaced by visible ``\\xNN``
escapes so the document is always well-formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from prodready.report._common import PARSE_ERROR_ID, scan_errors

__all__ = ["render", "build_junit", "MAX_EVIDENCE"]

MAX_EVIDENCE = 50

_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value: Any) -> str:
    """String safe for XML 1.0 (text or attribute)."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n")
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _one_line(value: Any) -> str:
    return " ".join(_x(value).split())


def _location(path: Any, line: Any) -> str:
    if not path:
        return ""
    if isinstance(line, int) and not isinstance(line, bool) and line > 0:
        return f"{_one_line(path)}:{line}"
    return _one_line(path)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _evidence_lines(result: Mapping[str, Any], statuses: tuple[str, ...] | None) -> list[str]:
    lines: list[str] = []
    evidence = [e for e in result.get("evidence") or [] if isinstance(e, Mapping)]
    if statuses is not None:
        selected = [e for e in evidence if e.get("status") in statuses]
        evidence = selected or [e for e in evidence if e.get("status") != "pass"]
    for item in evidence[:MAX_EVIDENCE]:
        parts = [p for p in (_location(item.get("path"), item.get("line")), _one_line(item.get("resource"))) if p]
        head = "  ".join(parts)
        message = _one_line(item.get("message"))
        if message:
            head = f"{head} — {message}" if head else message
        if head:
            lines.append(head)
        snippet = _x(item.get("snippet")).strip("\n")
        lines.extend(f"    {s.rstrip()}" for s in snippet.splitlines()[:5] if s.strip())
    if len(evidence) > MAX_EVIDENCE:
        lines.append(f"… and {len(evidence) - MAX_EVIDENCE} more")
    return lines


def _body(result: Mapping[str, Any], evidence: list[str], *, with_fix: bool) -> str:
    lines = []
    title = _one_line(result.get("title"))
    if title:
        lines.append(title)
    meta = [f"severity: {_one_line(result.get('severity')) or 'unknown'}"]
    if result.get("points_lost") is not None:
        meta.append(f"points lost: {_num(result.get('points_lost')):.1f}")
    lines.append(", ".join(meta))
    message = _one_line(result.get("message"))
    if message:
        lines.append(message)
    if evidence:
        lines.append("")
        lines.append("evidence:")
        lines.extend(f"  {e}" for e in evidence)
    remediation = _x(result.get("remediation")).strip()
    if with_fix and remediation:
        lines.append("")
        lines.append("fix:")
        lines.extend(f"  {r.rstrip()}" if r.strip() else "" for r in remediation.splitlines())
    notes = _notes(result)
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines)


def _notes(result: Mapping[str, Any]) -> list[str]:
    notes = []
    for sup in result.get("suppressed") or []:
        if isinstance(sup, Mapping):
            where = "  ".join(
                p for p in (_location(sup.get("path"), sup.get("line")), _one_line(sup.get("resource"))) if p
            )
            notes.append(f"suppressed inline: {where} — {_one_line(sup.get('reason'))}".rstrip(" —"))
    for waiver in result.get("waived") or []:
        if isinstance(waiver, Mapping):
            where = "  ".join(p for p in (_one_line(waiver.get("path")), _one_line(waiver.get("resource"))) if p)
            expiry = f" (expires {_one_line(waiver.get('expires'))})" if waiver.get("expires") else ""
            notes.append(f"waived: {where} — {_one_line(waiver.get('reason'))}{expiry}")
    return notes


def _testcase(suite: ET.Element, category: str, result: Mapping[str, Any]) -> str:
    """Append a test case; return the outcome bucket it counts in."""
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": f"prodready.{_x(category)}", "name": _x(result.get("control_id")), "time": "0"},
    )
    status = result.get("status")
    message = _one_line(result.get("message")) or _one_line(result.get("title"))
    if status == "pass":
        notes = _notes(result)
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
        return "passed"
    if status == "not_applicable":
        ET.SubElement(case, "skipped", {"message": message or "not applicable"})
        return "skipped"
    if status == "fail":
        failure = ET.SubElement(
            case, "failure", {"message": message, "type": _one_line(result.get("severity")) or "unknown"}
        )
        failure.text = _body(result, _evidence_lines(result, ("fail",)), with_fix=True)
        return "failures"
    if status == "needs_attestation":
        failure = ET.SubElement(
            case, "failure", {"message": message or "needs attestation", "type": "needs_attestation"}
        )
        failure.text = _body(result, _evidence_lines(result, None), with_fix=True)
        return "failures"
    error_type = "error" if status == "error" else f"unknown-status:{_one_line(status)}"
    error = ET.SubElement(case, "error", {"message": message or "control could not be evaluated", "type": error_type})
    error.text = _body(result, _evidence_lines(result, None), with_fix=False)
    return "errors"


def _set_counts(element: ET.Element, counts: Mapping[str, int]) -> None:
    element.set("tests", str(sum(counts.values())))
    element.set("failures", str(counts.get("failures", 0)))
    element.set("errors", str(counts.get("errors", 0)))
    element.set("skipped", str(counts.get("skipped", 0)))


def build_junit(report: Mapping[str, Any]) -> ET.Element:
    """The ``<testsuites>`` element (``render`` serialises it)."""
    root = ET.Element("testsuites", {"name": "prodready"})
    categories = [c for c in report.get("categories") or [] if isinstance(c, Mapping) and c.get("id")]
    by_category: dict[str, list[Mapping[str, Any]]] = {str(c["id"]): [] for c in categories}
    for result in report.get("results") or []:
        if isinstance(result, Mapping) and result.get("control_id") != PARSE_ERROR_ID:
            by_category.setdefault(str(result.get("category") or "other"), []).append(result)
    meta = {str(c["id"]): c for c in categories}

    totals: dict[str, int] = {}
    for category, results in by_category.items():
        suite = ET.SubElement(root, "testsuite", {"name": _x(category)})
        cat = meta.get(category, {})
        properties = ET.SubElement(suite, "properties")
        props = {
            "title": cat.get("title") or category,
            "score": "n/a" if cat.get("score") is None else f"{_num(cat.get('score')):.1f}",
            "passed_weight": cat.get("passed_weight"),
            "applicable_weight": cat.get("applicable_weight"),
        }
        for name, value in props.items():
            if value is not None:
                ET.SubElement(properties, "property", {"name": name, "value": _one_line(value)})
        counts: dict[str, int] = {}
        for result in results:
            bucket = _testcase(suite, category, result)
            counts[bucket] = counts.get(bucket, 0) + 1
        _set_counts(suite, counts)
        suite.set("time", "0")
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value

    errors = scan_errors(report)
    others = [
        d for d in report.get("diagnostics") or [] if isinstance(d, Mapping) and d.get("kind") != PARSE_ERROR_ID
    ]
    if errors or others:
        suite = ET.SubElement(root, "testsuite", {"name": "diagnostics"})
        for err in errors:
            where = _location(err["path"], err["line"])
            message = _one_line(err["message"]) or "file could not be parsed"
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": "prodready.diagnostics", "name": f"{PARSE_ERROR_ID} {where}".strip(), "time": "0"},
            )
            error = ET.SubElement(case, "error", {"message": message, "type": PARSE_ERROR_ID})
            snippet = _x(err["snippet"]).strip("\n")
            error.text = f"{where}  {message}".strip() + (f"\n    {snippet}" if snippet else "")
        _set_counts(suite, {"errors": len(errors)})
        suite.set("time", "0")
        if others:
            lines = []
            for diag in others:
                parts = (
                    _one_line(diag.get("kind")) or "diagnostic",
                    _location(diag.get("path"), diag.get("line")),
                    _one_line(diag.get("message")),
                )
                lines.append("  ".join(p for p in parts if p))
            ET.SubElement(suite, "system-err").text = "\n".join(lines)
        if errors:
            totals["errors"] = totals.get("errors", 0) + len(errors)

    _set_counts(root, totals)
    root.set("time", f"{_num(report.get('duration_s')):.3f}")
    return root


def render(report: Mapping[str, Any], *, color: bool = False) -> str:
    """JUnit XML text (``color`` is accepted for a uniform signature and ignored)."""
    root = build_junit(report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
