"""SARIF 2.1.0 output (one run), shaped for GitHub code scanning.

Mapping (see docs/output-formats.md):

* every control that appears in the report's ``results`` becomes a rule in
  ``tool.driver.rules``; ``parse-error`` is added when the scan hit unparsable files;
* every failing evidence item of a ``fail`` result becomes a SARIF result; a failing
  control without failing evidence (a repository-level finding, e.g. "no runbook")
  becomes one result anchored at the repository root (``uri: "."``), because GitHub
  rejects a whole upload when a single result has no location;
* suppressed outcomes (inline comments) and waived ones are results carrying
  ``suppressions`` of kind ``inSource`` / ``external``;
* unparsable files (``parse-error`` diagnostics, or results with control id
  ``parse-error``; deduplicated by path and line) are results of rule ``parse-error``
  at level ``error``;
  ``error`` results and the other diagnostics are tool execution notifications.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from prodready.report._common import scan_errors
from prodready.report.markdown import reference, remediation_blocks

__all__ = [
    "render",
    "build_sarif",
    "fingerprint",
    "level_for",
    "SARIF_SCHEMA_URI",
    "SARIF_VERSION",
    "SRCROOT",
    "PARSE_ERROR_RULE_ID",
    "FINGERPRINT_KEY",
    "REPOSITORY_URI",
]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
PARSE_ERROR_RULE_ID = "parse-error"
FINGERPRINT_KEY = "prodready/v1"
REPOSITORY_URI = "."

_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub reads `security-severity` (0.0-10.0) for rules tagged "security".
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
_DIAGNOSTIC_LEVELS = {
    "parse-error": "error",
    "waiver-expired": "warning",
    "suppression-invalid": "warning",
    "waiver-unmatched": "warning",
    "suppression-unused": "warning",
    "waivers-disabled": "note",
    "skipped": "note",
}
_WINDOWS_ABS = re.compile(r"^[A-Za-z]:[\\/]")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def level_for(severity: Any) -> str:
    """SARIF level for a prodready severity (unknown severities map to ``warning``)."""
    return _LEVELS.get(_text(severity).lower(), "warning")


def fingerprint(control_id: Any, path: Any, resource: Any) -> str:
    """Stable identity of a finding: control + path + resource, never the line number."""
    key = "\x00".join((_text(control_id), _normalise_path(path), _text(resource)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _normalise_path(path: Any) -> str:
    text = _text(path).replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def _root_uri(root: Any) -> str | None:
    text = _text(root).replace("\\", "/")
    if text.startswith("/"):
        return "file://" + quote(text.rstrip("/"), safe="/") + "/"
    if _WINDOWS_ABS.match(text):
        return "file:///" + quote(text.rstrip("/"), safe="/:") + "/"
    return None


def _artifact_location(path: Any, root: Any) -> dict[str, Any]:
    text = _normalise_path(path)
    if not text:
        return {"uri": REPOSITORY_URI, "uriBaseId": SRCROOT}
    root_text = _normalise_path(root).rstrip("/")
    if root_text and text.startswith(root_text + "/"):
        text = text[len(root_text) + 1 :]
    if text.startswith("/"):
        return {"uri": "file://" + quote(text, safe="/")}
    if _WINDOWS_ABS.match(text):
        return {"uri": "file:///" + quote(text, safe="/:")}
    return {"uri": quote(text, safe="/"), "uriBaseId": SRCROOT}


def _valid_line(line: Any) -> int | None:
    if isinstance(line, bool) or not isinstance(line, int):
        return None
    return line if line >= 1 else None


def _location(path: Any, line: Any, root: Any, snippet: Any = None) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact_location(path, root)}
    start = _valid_line(line)
    if start is not None and _normalise_path(path):
        region: dict[str, Any] = {"startLine": start}
        if snippet:
            region["snippet"] = {"text": _text(snippet)}
        physical["region"] = region
    return {"physicalLocation": physical}


def _rule_name(control_id: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", control_id)
    return "".join(w[:1].upper() + w[1:] for w in words if w) or "Rule"


def _rule(result: Mapping[str, Any]) -> dict[str, Any]:
    control_id = _text(result.get("control_id"))
    category = _text(result.get("category"))
    severity = _text(result.get("severity")).lower()
    rule: dict[str, Any] = {
        "id": control_id,
        "name": _rule_name(control_id),
        "shortDescription": {"text": _text(result.get("title")) or control_id},
    }
    if result.get("rationale"):
        rule["fullDescription"] = {"text": _text(result["rationale"])}
    references = [_text(r) for r in result.get("references") or [] if r]
    help_text = _text(result.get("remediation"))
    if references:
        help_text = (help_text + "\n\n" if help_text else "") + "References:\n" + "\n".join(
            f"- {r}" for r in references
        )
    if help_text:
        help_md = remediation_blocks(result.get("remediation"))
        if references:
            help_md += ([""] if help_md else []) + ["**References:**", ""] + [f"- {reference(r)}" for r in references]
        rule["help"] = {"text": help_text, "markdown": "\n".join(help_md)}
    urls = [r for r in references if r.startswith(("https://", "http://"))]
    if urls:
        rule["helpUri"] = urls[0]
    rule["defaultConfiguration"] = {"level": level_for(severity)}
    tags = ["production-readiness"]
    if category and category not in tags:
        tags.append(category)
    properties: dict[str, Any] = {"category": category, "severity": severity, "tags": tags}
    if category == "security" and severity in _SECURITY_SEVERITY:
        properties["security-severity"] = _SECURITY_SEVERITY[severity]
    if references:
        properties["references"] = references
    rule["properties"] = properties
    return rule


def _parse_error_rule() -> dict[str, Any]:
    return {
        "id": PARSE_ERROR_RULE_ID,
        "name": "ParseError",
        "shortDescription": {"text": "File could not be parsed"},
        "fullDescription": {
            "text": "prodready could not parse this file, so no control could use it as evidence; "
            "findings that depend on it may be missing."
        },
        "help": {"text": "Fix the syntax error, or exclude the file from the scan if it is not meant to be valid."},
        "defaultConfiguration": {"level": "error"},
        "properties": {"category": "scan", "severity": "high", "tags": ["production-readiness", "scan"]},
    }


def _message(title: str, resource: Any, message: Any, fallback: Any) -> str:
    parts = [p for p in (_text(resource), _text(message) or _text(fallback)) if p]
    body = ": ".join(parts)
    return f"{title}: {body}" if title and body else (title or body or "prodready finding")


def _sarif_result(
    ctx: tuple[str, str, dict[str, Any]],
    rule_idx: int,
    path: Any,
    line: Any,
    resource: Any,
    message: str,
    root: Any,
    snippet: Any = None,
    suppression: dict[str, Any] | None = None,
) -> dict[str, Any]:
    control_id, level, props = ctx
    item: dict[str, Any] = {
        "ruleId": control_id,
        "ruleIndex": rule_idx,
        "level": level,
        "message": {"text": message},
        "locations": [_location(path, line, root, snippet)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(control_id, path, resource)},
        "properties": {**props, **({"resource": _text(resource)} if resource else {})},
    }
    if suppression is not None:
        item["suppressions"] = [suppression]
    return item


def build_sarif(report: Mapping[str, Any]) -> dict[str, Any]:
    """The SARIF log as a dict (``render`` serialises it)."""
    root = report.get("root")
    tool_info = report.get("tool") if isinstance(report.get("tool"), Mapping) else {}
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    sarif_results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []

    results = [
        r
        for r in report.get("results") or []
        if isinstance(r, Mapping) and r.get("control_id") and r.get("control_id") != PARSE_ERROR_RULE_ID
    ]
    for result in results:
        control_id = _text(result["control_id"])
        if control_id not in rule_index:
            rule_index[control_id] = len(rules)
            rules.append(_rule(result))

    for result in results:
        control_id = _text(result["control_id"])
        title = _text(result.get("title"))
        level = level_for(result.get("severity"))
        base_props = {"category": _text(result.get("category")), "severity": _text(result.get("severity"))}
        ctx = (control_id, level, base_props)
        idx = rule_index[control_id]
        status = result.get("status")
        if status == "fail":
            evidence = [e for e in result.get("evidence") or [] if isinstance(e, Mapping)]
            failing = [e for e in evidence if e.get("status") == "fail"]
            for ev in failing:
                message = _message(title, ev.get("resource"), ev.get("message"), result.get("message"))
                sarif_results.append(
                    _sarif_result(
                        ctx, idx, ev.get("path"), ev.get("line"), ev.get("resource"), message, root, ev.get("snippet")
                    )
                )
            if not failing:
                message = _message(title, None, result.get("message"), None)
                sarif_results.append(_sarif_result(ctx, idx, None, None, None, message, root))
        elif status == "error":
            located = [e for e in result.get("evidence") or [] if isinstance(e, Mapping) and e.get("path")]
            text = _text(result.get("message")) or "control could not be evaluated"
            notification: dict[str, Any] = {
                "level": "error",
                "message": {"text": f"{control_id}: {text}"},
                "descriptor": {"id": "control-error"},
                "associatedRule": {"id": control_id, "index": idx},
            }
            if located:
                notification["locations"] = [_location(located[0].get("path"), located[0].get("line"), root)]
            notifications.append(notification)

        for sup in result.get("suppressed") or []:
            if not isinstance(sup, Mapping):
                continue
            in_source: dict[str, Any] = {"kind": "inSource"}
            if sup.get("reason"):
                in_source["justification"] = _text(sup["reason"])
            message = _message(title, sup.get("resource"), sup.get("message"), "suppressed inline")
            sarif_results.append(
                _sarif_result(
                    ctx, idx, sup.get("path"), sup.get("line"), sup.get("resource"), message, root,
                    suppression=in_source,
                )
            )
        for waiver in result.get("waived") or []:
            if not isinstance(waiver, Mapping):
                continue
            external: dict[str, Any] = {"kind": "external"}
            if waiver.get("reason"):
                external["justification"] = _text(waiver["reason"])
            if waiver.get("expires"):
                external["properties"] = {"expires": _text(waiver["expires"])}
            message = _message(title, waiver.get("resource"), waiver.get("message"), "waived")
            sarif_results.append(
                _sarif_result(
                    ctx, idx, waiver.get("path"), waiver.get("line"), waiver.get("resource"), message, root,
                    suppression=external,
                )
            )

    errors = scan_errors(report)
    if errors:
        rule_index[PARSE_ERROR_RULE_ID] = len(rules)
        rules.append(_parse_error_rule())
    for err in errors:
        sarif_results.append(
            {
                "ruleId": PARSE_ERROR_RULE_ID,
                "ruleIndex": rule_index[PARSE_ERROR_RULE_ID],
                "level": "error",
                "message": {"text": f"Could not parse file: {_text(err['message']) or 'syntax error'}"},
                "locations": [_location(err["path"], err["line"], root, err["snippet"])],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint(PARSE_ERROR_RULE_ID, err["path"], None)},
                "properties": {"category": "scan", "severity": "high"},
            }
        )

    for diag in report.get("diagnostics") or []:
        if not isinstance(diag, Mapping) or diag.get("kind") == PARSE_ERROR_RULE_ID:
            continue
        kind = _text(diag.get("kind")) or "diagnostic"
        notification = {
            "level": _DIAGNOSTIC_LEVELS.get(kind, "warning"),
            "message": {"text": _text(diag.get("message")) or kind},
            "descriptor": {"id": kind},
        }
        if diag.get("path"):
            notification["locations"] = [_location(diag.get("path"), diag.get("line"), root)]
        notifications.append(notification)

    driver: dict[str, Any] = {
        "name": _text(tool_info.get("name")) or "prodready",
        "rules": rules,
    }
    if tool_info.get("information_uri"):
        driver["informationUri"] = _text(tool_info["information_uri"])
    if tool_info.get("version"):
        driver["version"] = _text(tool_info["version"])
        driver["semanticVersion"] = _text(tool_info["version"])

    invocation: dict[str, Any] = {"executionSuccessful": True}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications

    run: dict[str, Any] = {"tool": {"driver": driver}}
    root_uri = _root_uri(root)
    if root_uri:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root_uri}}
    run["invocations"] = [invocation]
    run["results"] = sarif_results
    gates = report.get("gates") if isinstance(report.get("gates"), Mapping) else {}
    run["properties"] = {
        "schemaVersion": _text(report.get("schema_version")),
        "score": report.get("score"),
        "level": _text(report.get("level")),
        "gateFailed": bool(gates.get("failed")),
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render(report: Mapping[str, Any], *, color: bool = False) -> str:
    """SARIF 2.1.0 JSON text (``color`` is accepted for a uniform signature and ignored)."""
    return json.dumps(build_sarif(report), indent=2, ensure_ascii=False) + "\n"
