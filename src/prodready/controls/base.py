"""The control contract: metadata next to a small, pure ``evaluate(project) -> outcomes`` function.

A control is registered with :func:`control`. Its function yields :class:`Outcome` objects built with
:func:`passed`, :func:`failed`, :func:`not_applicable` or :func:`attest`; it performs no file or
network I/O (parsers and probes do that) and so is trivially testable against fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..model import Loc, Project

CATEGORIES = {
    "security": "Security",
    "observability": "Observability",
    "reliability": "Reliability",
    "scalability": "Scalability",
    "data": "Data",
    "delivery": "Delivery",
    "performance": "Performance",
    "compliance": "Compliance",
    "documentation": "Documentation",
    "cost": "Cost",
}
SEVERITIES = {"critical": 10, "high": 5, "medium": 3, "low": 1}
STATUSES = ("pass", "fail", "not_applicable", "needs_attestation", "error")
VERIFIABILITY = ("repo", "live", "both", "manual")


@dataclass(slots=True)  # (slots: controls create some hundred thousand outcomes on a large repository)
class Outcome:
    status: str
    message: str
    loc: Loc | None = None
    resource: str | None = None
    snippet: str | None = None
    confidence: str = "high"  # high | medium | low — heuristics over application code say so
    source: str = "static"  # "static" (read from the repository) or "live" (observed by a probe)
    url: str | None = None  # for live evidence: what was requested
    concept: str | None = None  # for a family control, the one answered concept this finding is about


# The optional fields are spelled out (rather than passed on as ``**kw``): these two run for every finding.
def passed(message: str, loc: Loc | None = None, resource: str | None = None, *, snippet: str | None = None,
           confidence: str = "high", source: str = "static", url: str | None = None,
           concept: str | None = None) -> Outcome:
    return Outcome("pass", message, loc, resource, snippet, confidence, source, url, concept)


def failed(message: str, loc: Loc | None = None, resource: str | None = None, *, snippet: str | None = None,
           confidence: str = "high", source: str = "static", url: str | None = None,
           concept: str | None = None) -> Outcome:
    return Outcome("fail", message, loc, resource, snippet, confidence, source, url, concept)


def not_applicable(message: str) -> Outcome:
    return Outcome("not_applicable", message)


def attest(message: str) -> Outcome:
    return Outcome("needs_attestation", message)


@dataclass
class Control:
    id: str
    title: str
    category: str
    severity: str
    rationale: str
    remediation: str
    evaluate: Callable[[Project], Iterable[Outcome]]
    references: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # evidence kinds read (k8s, compose, dockerfile, ci, ...)
    verifiability: str = "repo"
    needs_probe: bool = False
    concepts: list[str] = field(default_factory=list)  # answers: peer-fixture concept slugs
    checklist: list[str] = field(default_factory=list)  # answers: checklist control labels
    phrases: list[str] = field(default_factory=list)  # how people word this in checklists
    source: str = ""  # module that defines it
    optional: bool = False  # an opinionated policy, off unless enabled (`enable = [...]` in configuration)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "category": self.category, "severity": self.severity,
            "verifiability": self.verifiability, "needs_probe": self.needs_probe,
            "rationale": self.rationale, "remediation": self.remediation, "references": self.references,
            "evidence": self.evidence, "answers": {"concepts": self.concepts, "checklist": self.checklist},
            "phrases": self.phrases, "source": self.source, "optional": self.optional,
        }


REGISTRY: dict[str, Control] = {}


class ControlDefinitionError(Exception):
    pass


def control(*, id: str, title: str, category: str, severity: str, rationale: str, remediation: str,
            references: list[str] | None = None, evidence: list[str] | None = None, verifiability: str = "repo",
            needs_probe: bool = False, concepts: list[str] | None = None, checklist: list[str] | None = None,
            phrases: list[str] | None = None, optional: bool = False) -> Callable:
    """Register a control. Metadata is validated loudly: a bad category, severity or id clash is an error."""

    def wrap(fn: Callable[[Project], Iterable[Outcome]]) -> Callable[[Project], Iterable[Outcome]]:
        if category not in CATEGORIES:
            raise ControlDefinitionError(f"{id}: unknown category {category!r}")
        if severity not in SEVERITIES:
            raise ControlDefinitionError(f"{id}: unknown severity {severity!r}")
        if verifiability not in VERIFIABILITY:
            raise ControlDefinitionError(f"{id}: unknown verifiability {verifiability!r}")
        if not id.startswith(category + "."):
            raise ControlDefinitionError(f"{id}: id must start with its category '{category}.'")
        if id in REGISTRY:
            raise ControlDefinitionError(f"{id}: defined twice ({REGISTRY[id].source} and {fn.__module__})")
        REGISTRY[id] = Control(id, title, category, severity, rationale.strip(), remediation.strip(), fn,
                               references or [], evidence or [], verifiability, needs_probe, concepts or [],
                               checklist or [], phrases or [], fn.__module__, optional)
        return fn

    return wrap


def all_controls() -> dict[str, Control]:
    from . import load_all

    load_all()
    return REGISTRY
