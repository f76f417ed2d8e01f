"""Documentation, judged by content: headings, key terms and figures, not file names alone."""

from __future__ import annotations

import re

from ..model import Loc
from ._util import Folded, doc_matching, headings_matching, lowered, paths_matching
from .base import control, failed, not_applicable, passed

OPS_TERMS = Folded(r"(alert|restart|roll ?back|kubectl|scale|mitigat|escalat|on-?call)")  # case-insensitive


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
    checklist=["docs.runbook"],
    phrases=["runbook", "operational procedures", "troubleshooting guide", "playbooks"],
)
def runbook(p):
    found = doc_matching(p, r"(runbook|playbook|operations|ops[-_]guide|troubleshoot)",
                         r"(runbook|troubleshoot|alert|on-?call|mitigat|roll ?back|restart|common (operations|issues))")
    real = [(d, h) for d, h in found if OPS_TERMS.count(d.text, lowered(p, "doc:" + d.path, d.text)) >= 3]
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
    if not real:
        yield failed("no incident-response procedure (severity levels, escalation, roles, post-mortems)")
        return
    d, heads = _best(real)
    yield passed(f"{d.path} covers incident handling", Loc(d.path, heads[0].line if heads else 1), d.path)
    # escalation contacts: named people/channels, no blanks left to fill in
    docs = [x for x, _h in real] + [x for x in p.docs if CONTACT_HEAD.search(" ".join(h.text for h in x.headings))]
    for doc in docs:
        for m in PLACEHOLDER.finditer(doc.text):
            ctx = doc.text[max(0, m.start() - 200):m.start()]
            if CONTACT_WORDS.search(ctx):
                yield failed(f"{doc.path}: escalation contact left blank ('{m.group(0).strip()[:30]}')",
                             Loc(doc.path, doc.text.count("\n", 0, m.start()) + 1), doc.path)
                return
    named = [(doc, m) for doc in docs for m in CONTACT_VALUE.finditer(doc.text)]
    if named:
        doc, m = named[0]
        yield passed(f"{doc.path} names who to escalate to ({m.group(0).strip()[:40]})",
                     Loc(doc.path, doc.text.count("\n", 0, m.start()) + 1), doc.path)
    else:
        yield failed(f"{d.path} names no escalation contacts (people, rota, channel, phone or pager)",
                     Loc(d.path, 1), d.path)


CONTACT_HEAD = re.compile(r"(contact|escalat|on-?call|owner|support)", re.I)
CONTACT_WORDS = re.compile(r"(contact|escalat|on-?call|owner|phone|email|slack|pager|lead|manager|primary|secondary)",
                           re.I)
PLACEHOLDER = re.compile(r"(\bTBD\b|\bTODO\b|\bTBA\b|<[a-z _-]*(name|email|phone|contact)[a-z _-]*>|\[(name|email|"
                         r"phone|contact|TBD)\]|_{4,}|\?\?\?|xxx-xxx|\(555\)|\|\s*\|\s*\|)", re.I)
CONTACT_VALUE = re.compile(r"([\w.+-]+@[\w-]+\.[\w.]+|(?<![\w/])@[\w-]+(/[\w-]+)?|#[a-z][\w-]{2,}|"
                           r"\+?\d[\d ()-]{7,}\d|pagerduty|opsgenie|on-?call rota)", re.I)


ADR_DIR_RX = re.compile(r"(^|/)(adrs?|decisions|architecture)/", re.I)


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
    adrs = [d for d in p.docs if ADR_DIR_RX.search(d.path) and d.words >= 40]
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


OPENAPI_JSON_RX = re.compile(r"(^|/)(openapi|swagger)[^/]*\.json$", re.I)


@control(
    id="documentation.api-docs", title="The API has reference documentation (OpenAPI)", category="documentation",
    severity="low", evidence=["openapi", "python", "javascript"],
    rationale="Consumers of an API need its operations, parameters and error codes without reading the code; a "
              "machine-readable OpenAPI description also feeds client generation, contract tests and gateways.",
    remediation="Commit an `openapi.yaml`, or generate it: FastAPI serves /docs and /openapi.json by default (do not "
                "set `openapi_url=None` without publishing the spec elsewhere); Django: drf-spectacular; Flask: "
                "flask-smorest/apispec; Express: swagger-jsdoc + swagger-ui-express; NestJS: @nestjs/swagger.",
    references=["OpenAPI Specification", "Google AIP"],
    checklist=["docs.api_docs"],
    phrases=["API documentation", "OpenAPI spec", "Swagger"],
)
def api_docs(p):
    from ._app import import_hits

    specs = [f for f in p.files_of("openapi")] + paths_matching(p, OPENAPI_JSON_RX)
    if specs:
        yield passed(f"OpenAPI description {specs[0]}", Loc(specs[0], 1), specs[0])
        return
    if not p.http_apps:
        yield not_applicable("no HTTP API")
        return
    gen = import_hits(p, ("drf_spectacular", "drf_yasg", "flask_smorest", "apispec", "flasgger", "flask_restx",
                          "spectree", "ninja", "apiflask"),
                      ("swagger-jsdoc", "swagger-ui-express", "@nestjs/swagger", "@fastify/swagger", "tsoa",
                       "express-openapi", "@asteasolutions/zod-to-openapi"))
    if gen:
        yield passed(f"API reference generated by {gen[0][1]}", gen[0][0], gen[0][0].path)
        return
    for cf in p.code:
        if cf.language != "python":
            continue
        for c in cf.facts.calls:
            if c.name == "fastapi.FastAPI":
                off = c.kwargs.get("openapi_url") == ("lit", None) or c.kwargs.get("docs_url") == ("lit", None) and \
                    c.kwargs.get("redoc_url") == ("lit", None)
                if off:
                    yield failed("FastAPI app disables its generated OpenAPI docs and no spec is published",
                                 Loc(cf.path, c.line), cf.path)
                else:
                    yield passed("FastAPI serves its generated OpenAPI reference (/docs, /openapi.json)",
                                 Loc(cf.path, c.line), cf.path)
                return
    yield failed("HTTP API without an OpenAPI description or generated reference", p.http_apps[0].loc,
                 p.http_apps[0].path)


DEPLOY_HEAD = re.compile(r"(deploy|release|releasing|rollout|ship)", re.I)
ROLLBACK_HEAD = re.compile(r"(roll(ing)?[ -]?back|revert|undo|downgrade)", re.I)
STEP_RX = re.compile(r"(^\s*(\d+\.|[-*])\s+\S|```|`[^`]+`)", re.M)


def _sections(p, d, head_rx):
    """(heading, section text) of the doc's sections whose heading matches."""
    matched = headings_matching(p, head_rx)
    if not any(id(h) in matched for h in d.headings):  # (most documents: no such section)
        return []
    out = []
    lines = d.text.splitlines()
    hs = sorted(d.headings, key=lambda h: h.line)
    for i, h in enumerate(hs):
        if id(h) not in matched:
            continue
        end = next((x.line for x in hs[i + 1:] if x.level <= h.level), len(lines) + 1)
        out.append((h, "\n".join(lines[h.line:end - 1])))
    return out


@control(
    id="documentation.release-procedure", title="Deployment and rollback procedures are written down",
    category="documentation", severity="medium", evidence=["markdown"],
    rationale="Releases done from memory skip steps (migrations, order of services, feature flags); a rollback "
              "improvised during an incident is slower and riskier than one written and rehearsed beforehand.",
    remediation="A 'Releasing' section (how a change reaches staging and production, migrations, approvals) and a "
                "'Rollback' section with the exact commands (`kubectl rollout undo ...`, `helm rollback ...`, what to "
                "do about migrations).",
    references=["Google SRE workbook ch. 16", "DORA: deployment automation"],
    checklist=["docs.deployment_procedure", "docs.rollback_procedure"],
    phrases=["deployment procedure", "release process", "rollback procedure", "how to roll back"],
)
def release_procedure(p):
    if not p.docs:
        yield failed("no documentation in the repository")
        return
    dep = [(d, h, t) for d in p.docs for h, t in _sections(p, d, DEPLOY_HEAD) if len(t.split()) >= 25 and STEP_RX.search(t)]
    rb = [(d, h, t) for d in p.docs for h, t in _sections(p, d, ROLLBACK_HEAD) if len(t.split()) >= 15 and STEP_RX.search(t)]
    if dep:
        d, h, _t = dep[0]
        yield passed(f"{d.path}: '{h.text}' describes the release steps", Loc(d.path, h.line), d.path,
                     concept="docs.deployment_procedure")
    else:
        yield failed("no section describes how a release is deployed (steps or commands)",
                     concept="docs.deployment_procedure")
    if rb:
        d, h, _t = rb[0]
        yield passed(f"{d.path}: '{h.text}' gives rollback steps", Loc(d.path, h.line), d.path,
                     concept="docs.rollback_procedure")
    else:
        yield failed("no section explains how to roll a release back", concept="docs.rollback_procedure")


SETUP_HEAD = re.compile(r"(getting started|quick ?start|setup|set up|install|running locally|local development|"
                        r"development|configuration|usage|how to (use|run)|user guide|admin guide|faq)", re.I)


@control(
    id="documentation.setup-guide", title="Setup and usage are documented with runnable steps",
    category="documentation", severity="low", evidence=["markdown"],
    rationale="A new engineer, an on-call responder from another team or an operator rebuilding an environment "
              "needs the exact steps to set the system up, configure and use it; tribal knowledge does not scale.",
    remediation="README sections 'Getting started' / 'Running locally' / 'Configuration' with the commands, and for "
                "infrastructure components (Redis cluster, load balancer, ...) a guide each in docs/.",
    references=["Diátaxis documentation framework"],
    checklist=["docs.setup_guides", "docs.user_guides"],
    phrases=["setup guide", "installation guide", "user guide", "getting started"],
)
def setup_guide(p):
    hits = [(d, h, t) for d in p.docs for h, t in _sections(p, d, SETUP_HEAD)
            if len(t.split()) >= 15 and STEP_RX.search(t)]
    if hits:
        d, h, _t = sorted(hits, key=lambda x: (x[0].path.count("/"), x[0].path))[0]
        yield passed(f"{d.path}: '{h.text}' with steps ({len(hits)} setup/usage sections)", Loc(d.path, h.line), d.path)
    elif p.docs:
        yield failed("docs exist but no setup, configuration or usage section gives runnable steps",
                     Loc(p.docs[0].path, 1), p.docs[0].path)
    else:
        yield failed("no README or docs with setup instructions")


ROLES_HEAD = re.compile(r"(roles?|permissions?|access control|authori[sz]ation)", re.I)


@control(
    id="documentation.roles-permissions", title="Roles and their permissions are documented",
    category="documentation", severity="low", evidence=["markdown", "python", "javascript"],
    rationale="When the application has roles, support staff, auditors and new engineers need to know what each "
              "role may do without reverse-engineering decorators.",
    remediation="docs/roles.md: a table of roles (admin, operator, viewer, ...), what each can do, and how roles are "
                "granted and reviewed.",
    references=["OWASP ASVS 4.1.1", "SOC 2 CC6.1"],
    checklist=["docs.roles_permissions"],
    phrases=["roles and permissions documented", "access control matrix"],
)
def roles_permissions(p):
    from .app_security import _role_checks

    if not _role_checks(p):
        yield not_applicable("the application defines no roles or permissions")
        return
    matched = headings_matching(p, ROLES_HEAD)
    for d in p.docs:
        heads = [h for h in d.headings if id(h) in matched]
        if heads and re.search(r"\b(admin|viewer|editor|operator|owner|member|reader|writer)\b", d.text, re.I):
            yield passed(f"{d.path}: '{heads[0].text}'", Loc(d.path, heads[0].line), d.path)
            return
    yield failed("the code checks roles/permissions but no document describes the roles and what they allow")
