"""Documentation, judged by content: headings, key terms and figures, not file names alone."""

from __future__ import annotations

import re

from ..model import Loc
from ._util import doc_matching
from .base import control, failed, passed


def _best(found):
    return max(found, key=lambda t: (len(t[1]), t[0].words))


@control(
    id="documentation.runbook", title="An operational runbook exists", category="documentation", severity="high",
    evidence=["markdown"],
    rationale="At 3 a.m. the on-call engineer needs written steps: what each alert means, how to check, how to "
              "mitigate, how to roll back.",
    remediation="Add docs/runbook.md with sections per alert (meaning, checks, mitigation), common operations "
                "(restart, scale, rotate secrets) and a rollback procedure.",
    references=["Google SRE workbook ch. 'On-Call'"],
    checklist=["docs.runbook", "docs.rollback_procedure", "docs.deployment_procedure"],
    phrases=["runbook", "operational procedures", "troubleshooting guide", "playbooks"],
)
def runbook(p):
    found = doc_matching(p, r"(runbook|playbook|operations|ops[-_]guide|troubleshoot)",
                         r"(runbook|troubleshoot|alert|on-?call|mitigat|roll ?back|restart|common (operations|issues))")
    ops_terms = re.compile(r"(alert|restart|roll ?back|kubectl|scale|mitigat|escalat|on-?call)", re.I)
    real = [(d, h) for d, h in found if len(ops_terms.findall(d.text)) >= 3]
    if real:
        d, heads = _best(real)
        yield passed(f"{d.path}: {len(heads)} operational sections", Loc(d.path, heads[0].line if heads else 1), d.path)
    elif found:
        d, _ = found[0]
        yield failed(f"{d.path} is named like a runbook but has no operational content (alerts, mitigation, "
                     "rollback)", Loc(d.path, 1), d.path)
    else:
        yield failed("no runbook (a doc with alert handling, mitigation and rollback steps)")


RTO_RX = re.compile(r"\b(RTO|recovery[ -]time[ -]objective)\b[^\n]{0,60}?(\d+(\.\d+)?\s*(s|sec|seconds?|m|min|minutes?|h|hrs?|hours?|d|days?)\b)", re.I)
RPO_RX = re.compile(r"\b(RPO|recovery[ -]point[ -]objective)\b[^\n]{0,60}?(\d+(\.\d+)?\s*(s|sec|seconds?|m|min|minutes?|h|hrs?|hours?|d|days?)\b)", re.I)


@control(
    id="documentation.dr-plan", title="A disaster-recovery plan states restore steps, RTO and RPO",
    category="documentation", severity="high", evidence=["markdown"],
    rationale="Recovery that is not written down is improvised during the outage; without RTO/RPO figures nobody "
              "knows whether the backups are frequent enough.",
    remediation="docs/disaster-recovery.md: failure scenarios, step-by-step restore from backup, who decides to "
                "fail over, and explicit targets, e.g. 'RTO: 4 hours, RPO: 15 minutes'.",
    references=["NIST SP 800-34 Contingency Planning Guide"],
    checklist=["docs.dr_plan", "reliability.rto_rpo_defined"],
    phrases=["disaster recovery plan", "RTO and RPO", "recovery procedures", "backup and restore procedure"],
)
def dr_plan(p):
    found = doc_matching(p, r"(disaster|dr[-_.]|recovery|backup|bcp|continuity)",
                         r"(disaster|recovery|restore|failover|business continuity|backup)")
    if not found:
        yield failed("no disaster-recovery document (restore steps, RTO, RPO)")
        return
    for d, _heads in sorted(found, key=lambda t: -len(t[1])):
        rto, rpo = RTO_RX.search(d.text), RPO_RX.search(d.text)
        restore = re.search(r"\brestor(e|es|ed|ing|ation)\b", d.text, re.I)
        if rto and rpo and restore:
            line = d.text.count("\n", 0, rto.start()) + 1
            yield passed(f"{d.path}: restore steps, RTO {rto.group(2)}, RPO {rpo.group(2)}", Loc(d.path, line), d.path)
            return
    d, heads = _best(found)
    missing = [n for n, ok in (("RTO figure", RTO_RX.search(d.text)), ("RPO figure", RPO_RX.search(d.text)),
                               ("restore steps", re.search(r"\brestor(e|es|ed|ing|ation)\b", d.text, re.I))) if not ok]
    yield failed(f"{d.path} lacks: {', '.join(missing)}", Loc(d.path, 1), d.path)


@control(
    id="documentation.incident-response", title="An incident-response procedure is documented",
    category="documentation", severity="medium", evidence=["markdown"],
    rationale="Incidents go faster and hurt less when roles (incident commander, communications), severity levels "
              "and the post-mortem process are agreed before the first one.",
    remediation="docs/incident-response.md: severity levels, who is paged, roles, communication channels and "
                "status page, escalation path, and the post-incident review template.",
    references=["Google SRE book ch. 14 'Managing Incidents'", "NIST SP 800-61"],
    checklist=["docs.incident_response_plan", "docs.escalation_contacts"],
    phrases=["incident response plan", "incident management", "escalation procedures", "post-mortem"],
)
def incident_response(p):
    found = doc_matching(p, r"(incident|on-?call|escalation|postmortem|post-mortem)",
                         r"(incident|escalat|severity|post-?mortem|on-?call)")
    terms = re.compile(r"(severity|sev-?\d|escalat|incident commander|post-?mortem|page|on-?call|status page)", re.I)
    real = [(d, h) for d, h in found if len(set(m.lower() for m in terms.findall(d.text))) >= 2]
    if real:
        d, heads = _best(real)
        yield passed(f"{d.path} covers incident handling", Loc(d.path, heads[0].line if heads else 1), d.path)
    else:
        yield failed("no incident-response procedure (severity levels, escalation, roles, post-mortems)")


@control(
    id="documentation.architecture", title="The architecture is documented", category="documentation",
    severity="low", evidence=["markdown"],
    rationale="New engineers and incident responders need the components, their dependencies and the data flow "
              "without reading every manifest.",
    remediation="docs/architecture.md: components, dependencies (databases, queues, external APIs), data flow and "
                "a diagram (Mermaid in Markdown renders on GitHub).",
    references=["arc42", "C4 model"],
    checklist=["docs.architecture", "docs.adrs"],
    phrases=["architecture documentation", "architecture diagram", "system design doc"],
)
def architecture(p):
    found = doc_matching(p, r"(architecture|design|(^|[-_.\d])adrs?([-_.\d]|$)|overview)",
                         r"(architecture|components?|data ?flow|system (design|overview)|dependencies)")
    # architecture decision records live in their own directory, one decision per file
    adrs = [d for d in p.docs if re.search(r"(^|/)(adrs?|decisions|architecture)/", d.path, re.I) and d.words >= 40]
    if found:
        d, heads = _best(found)
        yield passed(f"{d.path} describes the architecture", Loc(d.path, heads[0].line if heads else 1), d.path)
    elif adrs:
        yield passed(f"{len(adrs)} architecture decision record(s), e.g. {adrs[0].path}", Loc(adrs[0].path, 1),
                     adrs[0].path)
    else:
        yield failed("no architecture document (components, dependencies, data flow)")


@control(
    id="documentation.security-policy", title="A security policy tells people how to report vulnerabilities",
    category="documentation", severity="low", evidence=["markdown"],
    rationale="Researchers who find a vulnerability need a private channel; otherwise it lands in a public issue.",
    remediation="SECURITY.md with a contact (security@…, a form, or GitHub private vulnerability reporting), what to "
                "include, and expected response times.",
    references=["GitHub docs: Adding a security policy", "OpenSSF Scorecard: Security-Policy"],
)
def security_policy(p):
    for d in p.docs:
        name = d.path.rsplit("/", 1)[-1].lower()
        if name.startswith("security") and re.search(r"(report|disclos|vulnerab)", d.text, re.I):
            yield passed(f"{d.path} explains vulnerability reporting", Loc(d.path, 1), d.path)
            return
    yield failed("no SECURITY.md with a vulnerability-reporting channel")
