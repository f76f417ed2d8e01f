"""Verify a checklist: each item's mapped controls, judged on the project, give the item a status.

Statuses (``STATUSES``):

- ``verified`` — every mapped control passes;
- ``failing`` — the mapped controls' evidence fails (and none of them passes);
- ``partial`` — some of it passes and some fails or still needs a person: a compound item half done
  ("backups scheduled and restore tested"), or alternative checks of one practice that disagree;
- ``needs-attestation`` — what only a person (or a probe of the running system) can establish, or what the
  repository has nothing to judge by (the control does not apply here); an attestation turns it ``verified``;
- ``unmapped`` — no control matches the item confidently enough; it is not guessed.

``claimed_but_failing`` flags an item the document claims is done (a ticked box, a ✅ mark, or a "✅ current
state" section) whose evidence fails (status ``failing`` or ``partial``): the tick lies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .mapper import Mapper, Mapping
from .parser import Item, plain

SCHEMA_VERSION = "1.0"
STATUSES = ("verified", "failing", "partial", "needs-attestation", "unmapped")
MAX_EVIDENCE_PER_CONTROL = 5


@dataclass
class ItemResult:
    item: Item
    status: str
    controls: list[Mapping] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)
    reason: str = ""

    @property
    def claimed_but_failing(self) -> bool:
        return self.item.claimed and self.status in ("failing", "partial")

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.item.line, "text": plain(self.item.text), "heading": self.item.heading,
            "state": self.item.state, "status": self.status, "claimed_but_failing": self.claimed_but_failing,
            "controls": [m.to_dict() for m in self.controls], "evidence": self.evidence,
            "kind": self.item.kind, "claimed": self.item.claimed, "reason": self.reason,
        }


def _control_state(result: dict) -> str:
    """pass | fail | attest | na for one control result (a control is the unit of verification: one failing
    finding fails it, whatever else passes)."""
    status = result.get("status")
    if status == "pass":
        return "pass"
    if status == "fail":
        return "fail"
    if status == "needs_attestation":
        return "attest"
    return "na"  # not_applicable, error


def _evidence(result: dict) -> list[dict]:
    """The evidence of one control result worth showing beside an item: failures first, a few passes."""
    out = []
    ev = result.get("evidence") or []
    chosen = [e for e in ev if e.get("status") == "fail"][:MAX_EVIDENCE_PER_CONTROL]
    if not chosen:
        chosen = [e for e in ev if e.get("status") in ("pass", "needs_attestation")][:2]
    for e in chosen:
        item = {"control_id": result["control_id"], "status": e.get("status"), "path": e.get("path"),
                "line": e.get("line"), "message": e.get("message")}
        if e.get("snippet"):
            item["snippet"] = e["snippet"]
        if e.get("url"):
            item["url"] = e["url"]
        out.append(item)
    if not out:
        out.append({"control_id": result["control_id"], "status": result.get("status"), "path": None,
                    "line": None, "message": result.get("message")})
    return out


def _combine(states: list[str]) -> str:
    """One state for alternative checks of the same requirement: definite verdicts win over 'attest'/'na'."""
    definite = {s for s in states if s in ("pass", "fail", "partial")}
    if definite:
        return "pass" if definite == {"pass"} else "fail" if definite == {"fail"} else "partial"
    return "attest" if "attest" in states else "na"


def judge(item: Item, mappings: list[Mapping], results: dict[str, dict]) -> ItemResult:
    if not mappings:
        return ItemResult(item, "unmapped", reason="no control matches this item confidently")
    states: dict[str, str] = {}
    evidence: list[dict] = []
    for m in mappings:
        r = results.get(m.control_id)
        if r is None:  # disabled in configuration, or optional and off
            states[m.control_id] = "na"
            evidence.append({"control_id": m.control_id, "status": "not_evaluated", "path": None, "line": None,
                             "message": "control not evaluated (disabled or optional)"})
            continue
        states[m.control_id] = _control_state(r)
        evidence += _evidence(r)
    # controls that matched the whole item are alternative checks of one requirement; each part of a compound
    # item is a requirement of its own
    requirements = [_combine([states[m.control_id] for m in mappings if m.part is None])]
    requirements += [states[m.control_id] for m in mappings if m.part is not None]
    vals = set(requirements) - {"na"}
    if not vals:
        status, reason = "needs-attestation", "the mapped controls do not apply to this repository; attest it"
    elif vals == {"pass"}:
        status, reason = "verified", "every mapped control passes"
    elif "fail" in vals and vals <= {"fail", "attest"}:
        status, reason = "failing", "the mapped controls fail"
    elif vals & {"fail", "partial"}:
        status, reason = "partial", "some evidence passes, some fails"
    elif "pass" in vals:
        status, reason = "partial", "part is verified; the rest needs a person's attestation"
    else:
        status, reason = "needs-attestation", "only a person (or a probe of the running system) can establish this"
    return ItemResult(item, status, list(mappings), evidence, reason)


def verify_items(items: list[Item], report: dict, mapper: Mapper | None = None) -> list[ItemResult]:
    mapper = mapper or Mapper.from_registry()
    results = {r["control_id"]: r for r in report.get("results", []) if r.get("control_id")}
    return [judge(it, mapper.map_item(it), results) for it in items]


def summary(results: list[ItemResult]) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for r in results:
        counts[r.status] += 1
    counts["claimed_but_failing"] = sum(r.claimed_but_failing for r in results)
    return counts


def to_json(results: list[ItemResult], checklist: str, report: dict) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "checklist": checklist,
        "project": report.get("root"),
        "score": report.get("score"),
        "level": report.get("level"),
        "summary": summary(results),
        "items": [r.to_dict() for r in results],
    }
