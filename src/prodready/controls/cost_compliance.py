"""Cost and compliance: what a repository can show about spend, privacy and audit."""

from __future__ import annotations

import re

from ..model import Loc
from ._util import containers, cref
from .base import attest, control, failed, not_applicable, passed


@control(
    id="cost.resource-requests", title="Every container declares CPU and memory requests", category="cost",
    severity="medium", evidence=["k8s"],
    rationale="Requests are what the cluster bills and packs by: without them pods are scheduled blindly, nodes are "
              "over-provisioned for safety, and cost per service cannot be attributed.",
    remediation="resources:\n  requests: {cpu: 100m, memory: 256Mi}",
    references=["Kubernetes docs: Resource Management", "FinOps Foundation: Kubernetes cost allocation"],
    concepts=["k8s.resources.requests.cpu"],
    checklist=["scalability.resource_sizing"],
)
def resource_requests(p):
    any_ = False
    for w, c in containers(p):
        if w.source != "k8s":
            continue
        any_ = True
        missing = [r for r in ("cpu", "memory") if r not in c.requests]
        if missing:
            yield failed(f"no {' and no '.join(missing)} request", c.loc, cref(w, c))
        else:
            yield passed(f"requests cpu {c.requests['cpu']}, memory {c.requests['memory']}", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")


@control(
    id="cost.right-sizing-review", title="Resources are right-sized against observed usage", category="cost",
    severity="low", verifiability="manual",
    rationale="Requests set at launch are guesses; only a review against real usage (VPA recommendations, "
              "Kubecost) shows the waste.",
    remediation="Review requests against p95 usage each quarter and record it: `prodready attest "
                "cost.right-sizing-review --by NAME --evidence URL --expires DATE`.",
    references=["FinOps Foundation: Rightsizing"],
    checklist=["cost.right_sizing", "cost.cost_review"],
    phrases=["right-size resources", "cost optimization review"],
)
def right_sizing(p):
    if p.workloads:
        yield attest("only a person can confirm a right-sizing review against usage data")
    else:
        yield not_applicable("no workloads")


AUDIT_RX = re.compile(r"(audit[_-]?log|AuditLog|audit_trail|auditlog|pgaudit|django_auditlog|simple_history|"
                      r"django-simple-history|audit_event)", re.I)


@control(
    id="compliance.audit-logging", title="Security-relevant actions are audit-logged", category="compliance",
    severity="medium", evidence=["python", "javascript", "k8s"],
    rationale="Who changed what, and when, is the first question of every security incident and compliance audit.",
    remediation="Record actor, action, target and time for logins, permission changes and data exports (an "
                "audit table or an append-only log stream); for PostgreSQL enable pgaudit.",
    references=["OWASP ASVS 7.2", "SOC 2 CC7.2"],
    checklist=["security.audit_logging"],
    phrases=["audit logging", "audit trail", "audit logs"],
)
def audit_logging(p):
    hits = p.search_text(AUDIT_RX.pattern, kinds=("python", "javascript", "typescript", "k8s", "compose", "sql"),
                         hints=("udit", "UDIT", "history", "History"))
    if hits:
        yield passed(f"audit logging referenced in {hits[0].path}", hits[0], hits[0].path, confidence="medium")
    elif p.http_apps:
        yield failed("no audit log (model, middleware or pgaudit) found", p.http_apps[0].loc)
    else:
        yield not_applicable("no application")


PII_RX = re.compile(r"\b(PII|personal data|personally identifiable|GDPR|data subject|data retention)\b", re.I)


@control(
    id="compliance.data-handling-documented", title="Personal-data handling is documented",
    category="compliance", severity="low", evidence=["markdown"],
    rationale="Privacy law requires knowing which personal data you process, why, where it is stored and for how "
              "long; engineers need the same map to handle deletion requests and incidents.",
    remediation="docs/data-handling.md: categories of personal data, where each is stored, retention, who can "
                "access it, and how deletion requests are served.",
    references=["GDPR Art. 30 (records of processing)"],
    checklist=["compliance.data_processing_documented"],
    phrases=["document PII handling", "data processing documentation", "privacy policy"],
)
def data_handling_documented(p):
    for d in p.docs:
        hits = PII_RX.findall(d.text)
        if len(hits) >= 2 and d.words >= 80:
            yield passed(f"{d.path} documents personal-data handling", Loc(d.path, 1), d.path)
            return
    if p.http_apps or p.workloads:
        yield failed("no document describes which personal data is processed and how")
    else:
        yield not_applicable("no application")
