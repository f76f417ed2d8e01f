"""One verdict per control from static and live evidence, and the report section that says what the probe sent.

The engine (``engine.evaluate(..., live=...)``) already lets a live pass/fail decide and keeps the static evidence
under ``static_evidence`` (``counted: False``). :func:`merge_messages` rewrites such a result's message so both
are read together, e.g. ``rate limiting middleware in `app/main.py:14` — not observed live: 30 requests in
0.4 s, no 429 and no RateLimit headers``.
"""

from __future__ import annotations

from typing import Any

from ..controls.live import NEEDS_PROBE


def _loc(e: dict) -> str:
    if e.get("path"):
        return f"`{e['path']}:{e['line']}`" if e.get("line") else f"`{e['path']}`"
    return e.get("resource") or ""


# controls whose live check looks for a feature being there: when the repository has it and the deployment does
# not show it, it was "not observed live"; for the others the deployment contradicts the repository ("but live")
FEATURE_SEEN_LIVE = {"security.rate-limiting", "reliability.health-endpoint", "performance.response-compression",
                     "observability.metrics-instrumented", "security.ingress-tls", "security.security-headers"}


def merged_message(static_evidence: list[dict], live_status: str, live_message: str,
                   control_id: str = "") -> str:
    """Static evidence beside the live verdict. The live verdict decides; the words say whether they agree."""
    counted = [e for e in static_evidence if e.get("status") in ("pass", "fail")]
    if not counted:
        return f"observed live: {live_message}"
    fails = [e for e in counted if e["status"] == "fail"]
    static_status = "fail" if fails else "pass"
    first = (fails or counted)[0]
    more = len(fails or counted) - 1
    static = f"{first['message']} in {_loc(first)}" + (f" (+{more} more)" if more > 0 else "")
    if static_status == live_status:
        word = "confirmed live"
    elif static_status == "pass" and control_id in FEATURE_SEEN_LIVE:
        word = "not observed live"
    else:
        word = "but live"
    return f"{static} — {word}: {live_message}"


def merge_messages(report: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the message of results decided live so their static evidence is shown beside the live verdict;
    a live-only control that got no live evidence says why (instead of asking for --targets)."""
    for r in report.get("results", []):
        if r.get("verdict_source") == "live" and r.get("static_evidence"):
            live = [e for e in r.get("evidence", []) if e.get("status") == r["status"] and e.get("source") == "live"]
            if live:
                r["message"] = merged_message(r["static_evidence"], r["status"], r["message"], r["control_id"])
        elif r.get("status") == "not_applicable" and r.get("message") == NEEDS_PROBE:
            live_na = [e for e in r.get("evidence", []) if e.get("source") == "live"]
            if live_na:
                r["message"] = live_na[0]["message"]
    return report


def summary_lines(summary: dict) -> list[str]:
    """The probe section of a text report: what was sent to whom, within which budget."""
    out = [f"Live probe — {summary['requests_sent']} requests to {len(summary['targets'])} target(s) from "
           f"{summary['targets_file']} in {summary['duration_s']:.1f} s (at most {summary['concurrency']} at a time; "
           "GET/HEAD/OPTIONS only)"]
    for t in summary["targets"]:
        out.append(f"  {t['name']} ({t['kind']}, {t['exposure']}) {t['url']}: {t['requests_sent']}/{t['budget']} "
                   f"requests of its budget, timeout {t['timeout_s']:g} s, {t['duration_s']:.1f} s")
        if t.get("burst"):
            out.append(f"    {t['burst']}")
        for c in t.get("default_credentials") or []:
            out.append(f"    {c}")
        for sk in t.get("skipped") or []:
            out.append(f"    skipped: {sk}")
    return out


def summary_text(summary: dict) -> str:
    return "\n".join(summary_lines(summary)) + "\n"


def summary_markdown(summary: dict) -> str:
    def esc(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["", "## Live probe", "",
             f"{summary['requests_sent']} requests to {len(summary['targets'])} target(s) from "
             f"`{esc(summary['targets_file'])}` in {summary['duration_s']:.1f} s, at most {summary['concurrency']} at "
             "a time, GET/HEAD/OPTIONS only.", "",
             "| target | kind | URL | requests / budget | burst test | default-credential tries | skipped |",
             "|---|---|---|---|---|---|---|"]
    for t in summary["targets"]:
        lines.append(f"| {esc(t['name'])} | {t['kind']} | {esc(t['url'])} | {t['requests_sent']} / {t['budget']} | "
                     f"{esc(t.get('burst') or '-')} | {esc('; '.join(t.get('default_credentials') or []) or '-')} | "
                     f"{esc('; '.join(t.get('skipped') or []) or '-')} |")
    return "\n".join(lines) + "\n"
