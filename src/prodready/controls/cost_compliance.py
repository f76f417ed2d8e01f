"""Cost and compliance: what a repository can show about spend, privacy and audit."""

from __future__ import annotations

import re
from functools import lru_cache

from ..model import Loc
from ._util import Folded, containers, cref, lowered
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
        if missing:  # tagged: only a missing CPU request is the peer concept this control answers
            yield failed(f"no {' and no '.join(missing)} request", c.loc, cref(w, c),
                         concept="k8s.resources.requests.cpu" if "cpu" in missing else "prodready.requests.memory")
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


PII_RX = Folded(r"\b(PII|personal data|personally identifiable|GDPR|data subject|data retention)\b")  # any case


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
        hits = PII_RX.count(d.text, lowered(p, "doc:" + d.path, d.text))
        if hits >= 2 and d.words >= 80:
            yield passed(f"{d.path} documents personal-data handling", Loc(d.path, 1), d.path)
            return
    if p.http_apps or p.workloads:
        yield failed("no document describes which personal data is processed and how")
    else:
        yield not_applicable("no application")


PII_FIELD_RX = re.compile(r"^(e_?mail(_address)?|phone(_number)?|mobile|first_?name|last_?name|full_?name|"
                          r"(street_?|home_?|postal_?|billing_?|shipping_?)?address|date_of_birth|dob|birth_?date|ssn|"
                          r"social_security|national_id|passport(_number)?|tax_id|iban|ip_address|gender)$", re.I)


@lru_cache(maxsize=16384)  # pure, asked once per distinct assignment target
def _pii_attribute(target: str) -> bool:
    return "." in target and bool(PII_FIELD_RX.match(target.rsplit(".", 1)[1]))


def _pii_fields(p) -> list[tuple[Loc, str]]:
    """Personal-data fields in models and schemas (class attributes and ORM columns); found once per project."""
    return list(p.derived("cost_compliance.pii-fields", lambda: _find_pii_fields(p)))


def _find_pii_fields(p) -> list[tuple[Loc, str]]:
    from ._app import assigns_where, calls_where, code_positions

    # Python attributes (class-level assignments) and JavaScript schema definitions, from the project's name
    # indexes, in file order (a file is Python or JavaScript: sorted() is stable within one)
    pos = code_positions(p)
    found: list[tuple[int, Loc, str]] = []
    for cf, a in assigns_where(p, _pii_attribute):
        found.append((pos[id(cf)], Loc(cf.path, a.line), a.target))
    for cf, c in calls_where(p, lambda name: name.endswith(("define", "Schema", "model")) or "mongoose" in name,
                             tests=False):
        if cf.language == "python":
            continue
        for arg in c.args:
            if arg[0] == "object":
                for k in arg[1]:
                    if PII_FIELD_RX.match(k):
                        found.append((pos[id(cf)], Loc(cf.path, c.line), k))
    found.sort(key=lambda f: f[0])
    out = [(loc, what) for _pos, loc, what in found]
    for loc in p.search_text(r"^\s*(e_?mail|phone(_number)?|first_name|last_name|address|date_of_birth|ssn)\s+"
                             r"(VARCHAR|TEXT|CITEXT|CHAR|DATE|String)", kinds=("sql", "text"),
                             hints=("mail", "phone", "name", "address", "birth", "ssn")):
        out.append((loc, "column"))
    for loc in p.search_text(r"^\s*(email|phone|firstName|lastName|address|dateOfBirth)\s+String",
                             kinds=None, hints=("String",)):
        if loc.path.endswith(".prisma"):
            out.append((loc, "prisma field"))
    return out


PII_LIBS_PY = ("presidio_analyzer", "presidio_anonymizer", "scrubadub", "faker", "anonymizedf", "pii_masker",
               "django_anonymizer", "django_pgcrypto", "fernet_fields", "sqlalchemy_utils.types.encrypted")
PII_LIBS_JS = ("@redactpii/node", "redact-pii", "pii-filter", "mongoose-encryption", "@aws-crypto/client-node")
MASK_FN_RX = re.compile(r"(mask|anonymi[sz]e|pseudonymi[sz]e|redact|scrub|hash_(email|pii|user)|obfuscate|"
                        r"tokeni[sz]e_pii|encrypt_(pii|field|email))", re.I)


@lru_cache(maxsize=16384)  # pure tests of names, asked once per distinct name (project indexes)
def _mask_name(name: str) -> bool:
    return bool(MASK_FN_RX.search(name))


def _mask_call_name(name: str) -> bool:
    return _mask_name(name.rsplit(".", 1)[-1]) or name == "pino"


@control(
    id="compliance.pii-masking", title="Personal data is masked or pseudonymised where it is copied",
    category="compliance", severity="medium", evidence=["python", "javascript"],
    rationale="Personal data copied into logs, analytics, exports, test fixtures or LLM prompts multiplies the "
              "places a breach can happen and that a deletion request must reach; masking or pseudonymising it at "
              "the boundary keeps those copies harmless.",
    remediation="Mask or hash personal fields before logging, exporting or sending to third parties (Microsoft "
                "Presidio, scrubadub, a `mask_email()` helper, pino `redact`), encrypt sensitive columns, and use "
                "synthetic data (Faker) in non-production.",
    references=["GDPR Art. 25 and 32 (pseudonymisation)", "NIST SP 800-122"],
    checklist=["compliance.pii_masking"],
    phrases=["PII masking", "anonymization", "pseudonymization", "data masking"],
)
def pii_masking(p):
    from ._app import calls_where, functions_where, import_hits

    fields = _pii_fields(p)
    if not fields:
        yield not_applicable("no personal-data fields (email, phone, name, address, birth date...) in models")
        return
    libs = import_hits(p, PII_LIBS_PY, PII_LIBS_JS)
    # masking functions (Python) and calls (JavaScript), from the project's name indexes, in file order
    fns = [(Loc(cf.path, fn.line), fn.name) for cf, fn in functions_where(p, _mask_name)]
    fns += [(Loc(cf.path, c.line), c.name) for cf, c in calls_where(p, _mask_call_name, tests=False)
            if cf.language != "python" and (_mask_name(c.name.rsplit(".", 1)[-1]) or (c.name == "pino" and any(
                a[0] == "object" and "redact" in a[1] for a in c.args)))]
    if libs:
        yield passed(f"PII handling with {libs[0][1]}", libs[0][0], libs[0][0].path)
    elif fns:
        yield passed(f"masking function {fns[0][1]}", fns[0][0], fns[0][0].path, confidence="medium")
    else:
        loc, name = fields[0]
        yield failed(f"personal data ({name} and {len(fields) - 1} more fields) is stored but never masked, hashed or "
                     "pseudonymised", loc, loc.path, confidence="medium")


ERASE_RX = re.compile(r"(delete|erase|erasure|forget|gdpr|anonymi[sz]e|purge|remove)", re.I)
EXPORT_RX = re.compile(r"(export|download|takeout|portability|my-?data|data-?request|gdpr)", re.I)
CONSENT_RX = re.compile(r"(consent|opt_?in|opt_?out|marketing_?(ok|allowed|accepted)|privacy_?accepted|"
                        r"terms_?accepted|gdpr_?accepted|subscribed)", re.I)
USER_PATH_RX = re.compile(r"(users?|customers?|accounts?|members?|profiles?|me|persons?|subjects?|clients?)", re.I)


# pure tests of names, asked once per distinct name (project indexes)
@lru_cache(maxsize=16384)
def _erasure_name(name: str) -> bool:
    return bool(re.search(r"(erase|forget|anonymi[sz]e|gdpr|delete_(user|customer|account|personal))", name, re.I))


@lru_cache(maxsize=16384)
def _consent_attribute(target: str) -> bool:
    return "." in target and bool(CONSENT_RX.search(target.rsplit(".", 1)[-1]))


@control(
    id="compliance.data-subject-rights", title="Personal data can be erased and exported, and consent is recorded",
    category="compliance", severity="medium", evidence=["python", "javascript"],
    rationale="Privacy law (GDPR Art. 15-17 and 20, CCPA) gives people the right to get and delete their data, and "
              "processing based on consent needs a record of it; without an endpoint or job for each, requests are "
              "served by hand, late and incompletely.",
    remediation="A `DELETE /users/{id}` (or `/me`) or erasure job that cascades to every store, a `GET "
                "/users/{id}/export` producing a machine-readable file, and consent fields with timestamps "
                "(`marketing_consent_at`) set by an explicit endpoint.",
    references=["GDPR Art. 7, 15, 17, 20", "CCPA 1798.105"],
    checklist=["compliance.right_to_erasure", "compliance.data_export", "compliance.consent_tracking"],
    phrases=["right to erasure", "delete user data", "data export", "consent tracking"],
)
def data_subject_rights(p):
    from ._app import assigns_where, functions_where

    fields = _pii_fields(p)
    if not fields or not p.http_apps:
        yield not_applicable("the application stores no personal-data fields")
        return
    routes = [r for a in p.http_apps for r in a.routes]
    erase = [r for r in routes if ("DELETE" in r.method and USER_PATH_RX.search(r.path)) or
             (ERASE_RX.search(r.path) and USER_PATH_RX.search(r.path))]
    jobs = [(Loc(cf.path, fn.line), fn.name) for cf, fn in functions_where(p, _erasure_name)]
    export = [r for r in routes if EXPORT_RX.search(r.path) and ("GET" in r.method or "POST" in r.method or
                                                                  r.method == "ANY")]
    consent = [Loc(cf.path, a.line) for cf, a in assigns_where(p, _consent_attribute)]
    consent += p.search_text(r"\b(consent|opt_in|optIn|marketingConsent)\w*\b", kinds=("sql", "javascript",
                                                                                          "typescript"),
                             hints=("onsent", "opt_in", "optIn"))
    first = fields[0][0]
    if erase or jobs:
        loc = erase[0].loc if erase else jobs[0][0]
        what = f"{erase[0].method} {erase[0].path}" if erase else jobs[0][1]
        yield passed(f"erasure: {what}", loc, loc.path, concept="compliance.right_to_erasure")
    else:
        yield failed("personal data is stored but no endpoint or job deletes a person's data", first, first.path,
                     concept="compliance.right_to_erasure")
    if export:
        yield passed(f"export: {export[0].method} {export[0].path}", export[0].loc, export[0].loc.path,
                     concept="compliance.data_export")
    else:
        yield failed("no endpoint exports a person's data", first, first.path, concept="compliance.data_export")
    if consent:
        yield passed(f"consent recorded ({consent[0].path}:{consent[0].line})", consent[0], consent[0].path,
                     concept="compliance.consent_tracking")
    else:
        yield failed("no consent field or model", first, first.path, concept="compliance.consent_tracking")
