"""What only a person can establish: drills held, reviews done, people on call — recorded as attestations.

Every control here is ``verifiability="manual"``: the scan cannot see a restore test or a security review in the
repository, so the control is ``needs_attestation`` until someone records one with
``prodready attest CONTROL --by NAME --evidence URL --expires DATE``. The attestation (who, when, a link to the
evidence, an expiry) lives in ``.prodready/attestations.yaml``, is reviewed in git like code, and counts as a
pass until it expires.

One control per practice area (not one per checklist line): each names, in ``checklist=[...]``, the labels of
real checklists it answers, so a checklist item such as "Backups tested and working" has a control to land on.
A control applies when the project has something it is about (a deployable service, a datastore); otherwise
it is ``not_applicable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..model import Project
from ._util import containers, is_datastore, uses_database
from .base import Outcome, attest, control, not_applicable

_HOW = ("Record it once it is done:\n\n"
        "    prodready attest {id} --by \"Jane Doe\" \\\n"
        "        --evidence https://wiki.example.com/{slug} --expires 2027-01-31 \\\n"
        "        --note \"{note}\"\n\n"
        "This appends to .prodready/attestations.yaml (commit it):\n\n"
        "    attestations:\n"
        "      - control: {id}\n"
        "        by: Jane Doe\n"
        "        evidence: https://wiki.example.com/{slug}\n"
        "        date: 2026-01-31\n"
        "        expires: 2027-01-31\n")


def _how(cid: str, slug: str, note: str) -> str:
    return _HOW.format(id=cid, slug=slug, note=note)


def _service(p: Project) -> str | None:
    """Why the project is a deployable service (None when it is not: a library, docs, an empty tree)."""
    if p.workloads:
        return f"{len(p.workloads)} workload(s) deployed"
    if p.http_apps:
        return f"{len(p.http_apps)} HTTP application(s)"
    if p.dockerfiles:
        return f"{len(p.dockerfiles)} container image(s) built"
    return None


def _datastore(p: Project) -> str | None:
    for w, c in containers(p, include_init=False):
        if is_datastore(c):
            return f"{w.ref} runs {c.image.name if c.image else c.name}"
    locs = uses_database(p)
    if locs:
        return f"a database is used ({locs[0].path})"
    return None


def _needs(p: Project, what: str, applies: Callable[[Project], str | None]) -> Iterator[Outcome]:
    reason = applies(p)
    if reason:
        yield attest(f"only a person can establish that {what} ({reason}); record an attestation")
    else:
        yield not_applicable("nothing here it applies to (no deployable service or datastore in this repository)")


@control(
    id="security.security-review", title="A security review or penetration test has been done and its findings "
                                         "resolved", category="security", severity="medium", verifiability="manual",
    rationale="Scanners find known patterns; a review by people finds the design flaws, broken authorisation and "
              "business-logic holes attackers use. Access rights drift too: a periodic review of who holds which "
              "role and what the access logs show catches accounts nobody should still have.",
    remediation="Have the service reviewed (threat model, penetration test, access review of roles and "
                "permissions, audit-log export) before launch and at least yearly; track findings to closure. "
                + _how("security.security-review", "security/pentest-2026", "external pentest, 0 open highs"),
    references=["OWASP ASVS 1.1 (secure development lifecycle)", "OWASP Web Security Testing Guide",
                "SOC 2 CC6.2/CC6.3 (access reviews)"],
    checklist=["security.security_audit", "security.access_review", "security.audit_log_export_tested"],
    phrases=["security review", "penetration test", "pen test report", "independent security audit",
             "access review", "recertify user permissions", "audit trail export exercised"],
)
def security_review(p):
    yield from _needs(p, "a security review was held and its findings resolved", _service)


@control(
    id="security.credential-lifecycle", title="Production secrets are strong and rotated; certificate renewal is "
                                              "exercised", category="security", severity="medium",
    verifiability="manual",
    rationale="A repository shows where secrets come from, not what they are: whether production passwords were "
              "generated randomly, when API keys were last rotated, and whether certificate renewal has ever "
              "actually run. A leaked key that is never rotated stays valid forever; a renewal that was never "
              "exercised fails on the day the certificate expires.",
    remediation="Generate production secrets randomly (`openssl rand -hex 32`), rotate them on a schedule (90 days "
                "is common; the secret manager can do it), and dry-run certificate renewal. "
                + _how("security.credential-lifecycle", "ops/secret-rotation-log", "rotated DB and JWT secrets"),
    references=["OWASP ASVS 2.10 (service authentication)", "NIST SP 800-57 (key management lifetimes)",
                "CIS Controls v8 3.11 / 4.7"],
    checklist=["security.secret_rotation", "security.strong_secrets", "security.tls_renewal_tested"],
    phrases=["key rotation", "credential rotation schedule", "cryptographically random secrets",
             "certificate renewal dry run"],
)
def credential_lifecycle(p):
    yield from _needs(p, "production secrets are strong and rotated on schedule", _service)


@control(
    id="reliability.recovery-exercised", title="Disaster recovery, failover and rollback have been rehearsed",
    category="reliability", severity="medium", verifiability="manual",
    rationale="Recovery plans that were never exercised fail in the outage: credentials are missing, runbooks are "
              "stale, the replica was never promoted, the rollback needs a migration nobody wrote. A drill "
              "measures the real RTO/RPO and turns surprises into fixes while nothing is on fire.",
    remediation="Hold a disaster-recovery drill (restore the service in a clean environment), kill a primary to "
                "watch failover, and roll a release back — at least twice a year — and write down the achieved "
                "RTO/RPO and follow-ups. "
                + _how("reliability.recovery-exercised", "ops/dr-drill-2026-q1", "RTO 45 min achieved"),
    references=["Google SRE book ch. 'Testing for Reliability' (DiRT)", "AWS Well-Architected REL13",
                "NIST SP 800-34 (contingency plan testing)"],
    checklist=["reliability.dr_drill", "reliability.ha_failover_tested", "cicd.rollback_tested"],
    phrases=["disaster recovery drill", "failover test", "game day", "rollback rehearsal", "DR exercise"],
)
def recovery_exercised(p):
    yield from _needs(p, "disaster recovery and failover were rehearsed", _service)


@control(
    id="data.restore-tested", title="Backups are proven restorable and source repositories are mirrored",
    category="data", severity="medium", verifiability="manual",
    rationale="A backup nobody has restored is a hope, not a backup: dumps turn out empty, encrypted with a lost "
              "key, or too slow to restore within the RTO. Only a restore into a scratch environment proves it; "
              "the same goes for the source repositories the system is rebuilt from.",
    remediation="Restore the latest backup (and a point-in-time target) into a scratch database on a schedule, "
                "check row counts and application reads, and mirror the git repositories to a second location. "
                + _how("data.restore-tested", "ops/restore-test-2026-01", "restored prod dump in 22 min"),
    references=["AWS Well-Architected REL09-BP04 (perform periodic recovery of the data)",
                "CIS Controls v8 11.5 (test data recovery)"],
    checklist=["data.restore_tested", "data.git_repo_backups"],
    phrases=["restore drill", "restore from backup verified", "repository mirror"],
)
def restore_tested(p):
    yield from _needs(p, "a restore from backup was tested", _datastore)


@control(
    id="performance.performance-validated", title="Load tests met their targets and performance is reviewed",
    category="performance", severity="low", verifiability="manual",
    rationale="Capacity and latency claims need a measurement: a load test against production-like data shows "
              "the throughput at which latency breaks, and a review of slow queries, cache hit rates and "
              "autoscaling after launch keeps it there as data grows.",
    remediation="Run the load-test suite against staging with production-sized data, compare p95/p99 latency and "
                "throughput with the targets, review the slowest queries (EXPLAIN ANALYZE) and record the "
                "results. " + _how("performance.performance-validated", "perf/load-test-2026-01",
                                   "1,200 rps at p95 180 ms"),
    references=["Google SRE book ch. 'Handling Overload'", "AWS Well-Architected PERF (review and monitor)"],
    checklist=["performance.load_test_results", "performance.query_optimization",
               "performance.performance_review"],
    phrases=["load test report against targets", "capacity test at expected peak", "slow query review"],
)
def performance_validated(p):
    yield from _needs(p, "load tests met their targets", _service)


@control(
    id="compliance.compliance-signoff", title="Privacy and compliance obligations are assessed and signed off",
    category="compliance", severity="low", verifiability="manual",
    rationale="Regulations such as GDPR require an assessment a scanner cannot make: lawful basis, records of "
              "processing, data-processing agreements with vendors, a DPIA for risky processing. A compliance "
              "owner's sign-off before launch, and periodic reports after, is what auditors ask for.",
    remediation="Have the compliance owner assess the service (records of processing, DPIA, vendor DPAs), sign "
                "it off before launch and report periodically. "
                + _how("compliance.compliance-signoff", "legal/dpia-shop", "DPIA approved by DPO"),
    references=["GDPR Art. 30 (records of processing), Art. 35 (DPIA)", "ISO/IEC 27001 A.5.34"],
    checklist=["compliance.gdpr", "compliance.compliance_reporting", "compliance.compliance_signoff"],
    phrases=["data protection impact assessment", "legal and compliance approval", "periodic compliance report",
             "records of processing maintained"],
)
def compliance_signoff(p):
    yield from _needs(p, "compliance obligations were assessed and signed off", _service)


@control(
    id="documentation.docs-reviewed", title="Documentation was reviewed and is current for this release",
    category="documentation", severity="low", verifiability="manual",
    rationale="Docs that exist can still be wrong: a runbook naming a host that was renamed, a diagram missing "
              "the new queue. Only a review at release time says they still match the system.",
    remediation="Review runbooks, architecture and user docs at each release (a checklist item in the release "
                "PR) and record it. " + _how("documentation.docs-reviewed", "release/2026.01-docs",
                                            "runbook and diagrams updated"),
    references=["Google SRE workbook ch. 'On-Call' (playbook maintenance)"],
    checklist=["docs.docs_up_to_date"],
    phrases=["docs reviewed at release time", "documentation kept current", "stale documentation fixed"],
)
def docs_reviewed(p):
    yield from _needs(p, "the documentation was reviewed for this release", _service)


@control(
    id="cost.commitment-review", title="Committed-use capacity is reviewed for steady workloads",
    category="cost", severity="low", verifiability="manual",
    rationale="Steady, always-on capacity bought on demand costs 30–70 % more than reserved or committed-use "
              "pricing; whether commitments match usage is a billing question no repository answers.",
    remediation="Review steady baseline usage quarterly and buy reservations or savings plans to cover it. "
                + _how("cost.commitment-review", "finops/2026-q1", "3-year savings plan for baseline"),
    references=["FinOps Foundation: Rate optimization", "AWS Well-Architected COST07"],
    checklist=["cost.reserved_instances"],
    phrases=["reserved capacity purchase", "savings plan", "committed use discounts"],
)
def commitment_review(p):
    yield from _needs(p, "committed-use capacity was reviewed", _service)


@control(
    id="observability.alert-delivery-tested", title="Alert delivery to the on-call channel has been tested",
    category="observability", severity="low", verifiability="manual",
    rationale="Alert rules and receivers in configuration do not prove a page reaches a person: webhooks expire, "
              "routes match nothing, phones are muted. A test alert end to end is the only proof.",
    remediation="Fire a test alert (e.g. `amtool alert add test severity=critical`) and confirm the on-call "
                "person was paged; repeat after routing changes. "
                + _how("observability.alert-delivery-tested", "ops/test-page-2026-01", "page acknowledged in 2 min"),
    references=["Google SRE book ch. 'Monitoring Distributed Systems'", "Prometheus Alertmanager docs"],
    checklist=["observability.alert_notification_tested"],
    phrases=["end-to-end paging test", "fire a test alert", "confirm the pager receives alerts"],
)
def alert_delivery_tested(p):
    yield from _needs(p, "an alert was delivered end to end", _service)


@control(
    id="reliability.oncall-readiness", title="An on-call rotation is staffed, trained and meets response targets",
    category="reliability", severity="medium", verifiability="manual",
    rationale="Alerts need someone to answer them: a rotation with coverage, people trained on the system, and "
              "response-time targets per severity that are actually met. None of it is in the repository.",
    remediation="Set up the rotation in PagerDuty/Opsgenie with primary and secondary, train the team on the "
                "runbooks, agree acknowledgement targets per severity and review them monthly. "
                + _how("reliability.oncall-readiness", "ops/oncall", "2-tier rotation, team trained"),
    references=["Google SRE book ch. 'Being On-Call'", "PagerDuty Incident Response guide"],
    checklist=["operations.oncall_rotation", "operations.support_team_staffed", "operations.incident_response_slas",
               "operations.team_trained"],
    phrases=["primary and secondary on call", "operators trained on the system",
             "incident responders staffed", "acknowledgement time targets per severity"],
)
def oncall_readiness(p):
    yield from _needs(p, "an on-call rotation is staffed and trained", _service)


@control(
    id="delivery.release-verification", title="Each release is verified and watched in production",
    category="delivery", severity="low", verifiability="manual",
    rationale="Automated checks pass on the paths they know; after a release someone should walk the key user "
              "workflows in production and watch error rates, latency and logs for the first hours, ready to roll "
              "back.",
    remediation="Keep a post-release checklist (key workflows, admin bootstrap, dashboards to watch for the first "
                "hours) and record its completion per release. "
                + _how("delivery.release-verification", "release/2026.01-verification", "workflows checked, "
                                                                                         "1h watch clean"),
    references=["Google SRE workbook ch. 'Canarying Releases'"],
    checklist=["operations.post_deploy_monitoring", "operations.post_deploy_verification",
               "operations.initial_admin_user"],
    phrases=["watch the release in production", "post-release checks of key user journeys",
             "exercise the main flows by hand after deploy", "bootstrap the first admin account"],
)
def release_verification(p):
    yield from _needs(p, "the release was verified and watched in production", _service)


@control(
    id="reliability.operations-review", title="Capacity, SLAs and operations are reviewed on a schedule",
    category="reliability", severity="low", verifiability="manual",
    rationale="Usage grows and SLAs drift: capacity planned from trends, SLA reviews, maintenance windows and "
              "retrospectives are the habits that keep a running service ready for production.",
    remediation="Hold a monthly operations review: usage trends and capacity plan, SLA/SLO attainment, "
                "maintenance calendar, improvement backlog from incidents. "
                + _how("reliability.operations-review", "ops/review-2026-01", "capacity plan for Q2"),
    references=["Google SRE book ch. 'Software Engineering in SRE' (capacity planning)",
                "ITIL 4: Continual improvement"],
    checklist=["operations.capacity_planning", "operations.sla_review", "operations.continuous_improvement",
               "operations.maintenance_windows"],
    phrases=["capacity planning from growth trends", "periodic SLA and SLO review", "scheduled maintenance windows",
             "retrospectives feed an improvement backlog"],
)
def operations_review(p):
    yield from _needs(p, "capacity and SLAs are reviewed", _service)


@control(
    id="delivery.launch-coordination", title="The launch is coordinated: communication, success metrics, "
                                           "feedback and triage", category="delivery", severity="low",
    verifiability="manual",
    rationale="A launch touches people beyond the team: users need to hear what changes, the team needs agreed "
              "success metrics, and feedback and bug reports need an owner who triages them.",
    remediation="Write the launch plan: announcement and status page, success metrics, feedback channel, triage "
                "owner and cadence of team syncs during the launch. "
                + _how("delivery.launch-coordination", "launch/plan", "launch plan approved"),
    references=["Google SRE book ch. 'Reliable Product Launches at Scale'"],
    checklist=["operations.communication_plan", "operations.success_metrics_defined", "operations.user_feedback",
               "operations.issue_triage", "operations.team_sync"],
    phrases=["launch announcement and status page", "launch KPIs agreed", "feedback channel for users",
             "bug triage rota", "daily launch stand-up"],
)
def launch_coordination(p):
    yield from _needs(p, "the launch is coordinated", _service)
