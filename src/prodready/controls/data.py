"""Data: backups, migrations, TLS to the database."""

from __future__ import annotations

import re

from ..model import Loc
from ._util import strings_in, uses_database
from .base import control, failed, not_applicable, passed

BACKUP_RX = re.compile(r"\b(pg_dump|pg_dumpall|pg_basebackup|pgbackrest|wal-g|barman|mysqldump|mongodump|xtrabackup|"
                       r"mariabackup|velero|restic|borg|kopia)\b", re.I)


@control(
    id="data.backups-scheduled", title="Database backups run on a schedule", category="data", severity="critical",
    evidence=["k8s", "terraform", "compose", "github-workflow", "shell"],
    rationale="Without scheduled backups, one bad migration, deleted volume or ransomware incident is permanent "
              "data loss.",
    remediation="Kubernetes: a CronJob running `pg_dump` (or pgBackRest/WAL-G) to object storage; Velero "
                "`Schedule`; managed databases: `backup_retention_period = 7` (RDS) in Terraform.",
    references=["Google SRE book ch. 26 'Data Integrity'"],
    checklist=["data.db_backups_scheduled", "data.backup_retention"],
    phrases=["automated database backups", "daily backups", "backup schedule"],
)
def backups_scheduled(p):
    db = uses_database(p)
    for o in p.objects("CronJob"):
        text = strings_in(o.raw)
        if BACKUP_RX.search(text):
            sched = (o.raw.get("spec") or {}).get("schedule")
            yield passed(f"CronJob {o.name} runs a backup on '{sched}'", o.loc, o.ref)
            return
    for o in p.objects("Schedule", "ScheduledBackup"):  # a bare Backup object is a one-off, not a schedule
        if "velero" in o.api_version or "cnpg" in o.api_version or "postgresql" in o.api_version:
            yield passed(f"{o.kind} {o.name} ({o.api_version})", o.loc, o.ref)
            return
    for path, tf in p.terraform.items():
        found = _tf_backup(tf)
        if found:
            yield passed(f"managed database {found}", Loc(path, None), path)
            return
    # a long-running backup scheduler next to the database (Compose or Kubernetes), e.g. postgres-backup-local
    for w in p.workloads:
        for c in w.app_containers:
            if c.image is not None and BACKUP_IMAGE_RX.search(c.image.repository):
                yield passed(f"{w.ref} runs backup scheduler {c.image.repository}", c.loc, w.ref)
                return
    for pl in p.pipelines:
        for j in pl.jobs:
            if BACKUP_RX.search(j.text()) and ("schedule" in pl.triggers):
                yield passed(f"scheduled CI job '{j.name}' runs a backup", j.loc, pl.path)
                return
    if db:
        yield failed("the project uses a database but nothing schedules its backups (no backup CronJob, Velero "
                     "schedule, managed backup retention or scheduled job)", db[0])
    else:
        yield not_applicable("no database in the project")


BACKUP_IMAGE_RX = re.compile(r"((postgres|pg|mysql|mariadb|mongo|mongodb|db|volume)[-_]?backup|pgbackrest|wal-g|"
                             r"barman)[^/]*$", re.I)


def _tf_backup(tf) -> str | None:
    """Automated backups of a managed database in Terraform: a retention above 0 days (RDS, Azure) or an enabled
    ``backup_configuration`` block (Cloud SQL)."""
    stack = [tf]
    while stack:
        x = stack.pop()
        if isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                if k in ("backup_retention_period", "backup_retention_days") and str(v).strip('"').isdigit() \
                        and int(str(v).strip('"')) > 0:
                    return f"{k} = {str(v).strip(chr(34))}"
                if k == "backup_configuration" and any(isinstance(b, dict) and b.get("enabled") is True
                                                       for b in (v if isinstance(v, list) else [v])):
                    return "backup_configuration enabled"
                stack.append(v)
    return None


MIGRATION_DIRS = re.compile(r"(^|/)(alembic|migrations|db/migrate|flyway|liquibase|prisma/migrations|migrate)(/|$)|"
                            r"(^|/)alembic\.ini$|(^|/)V\d+__[^/]+\.sql$|(^|/)knexfile\.(js|ts)$", re.I)


@control(
    id="data.schema-migrations", title="Schema changes go through a migrations tool", category="data",
    severity="medium", evidence=["python", "javascript", "sql"],
    rationale="Hand-applied schema changes drift between environments and cannot be rolled forward or back "
              "reliably.",
    remediation="Use Alembic (SQLAlchemy), Django migrations, Flyway/Liquibase, Prisma or Knex migrations, and "
                "apply them from the deploy pipeline or an init Job.",
    references=["Martin Fowler: Evolutionary Database Design"],
    checklist=["data.db_migrations", "data.schema_evolution"], verifiability="both",
    phrases=["database migrations", "schema migrations", "Alembic"],
)
def schema_migrations(p):
    db = uses_database(p)
    hits = sorted((f for f in p.files if MIGRATION_DIRS.search(f)),
                  key=lambda f: (p.files[f] in ("k8s", "yaml", "github-workflow"), len(f)))
    if hits:
        yield passed(f"migrations in {hits[0]}", Loc(hits[0], None), hits[0])
    elif db:
        yield failed("the project uses a database but has no migrations (alembic, Django migrations, Flyway...)", db[0])
    else:
        yield not_applicable("no database in the project")


DSN_RX = re.compile(r"(postgres(ql)?(\+\w+)?|mysql(\+\w+)?)://[^\s'\"`]+", re.I)


@control(
    id="security.database-tls", title="Database connections require TLS", category="security", severity="medium",
    evidence=["python", "javascript", "k8s", "compose", "dotenv"], verifiability="both",
    rationale="Credentials and query results cross the network in clear text unless the client requires TLS; "
              "`sslmode=prefer` silently falls back.",
    remediation="Append `?sslmode=require` (better `verify-full` with `sslrootcert`) to PostgreSQL URLs; "
                "`ssl: { rejectUnauthorized: true }` for node-postgres.",
    references=["PostgreSQL docs: SSL support, sslmode", "OWASP ASVS 9.2.2"],
    checklist=["security.db_tls"],
    phrases=["SSL for database connections", "encrypted database connections"],
)
def database_tls(p):
    any_ = False
    dev = {w.project for w in p.workloads if w.dev_only}
    for path, text in p.sources.items():
        if path in dev:
            continue
        if p.files.get(path) not in ("python", "javascript", "typescript", "k8s", "compose", "dotenv", "yaml",
                                     "helm-values"):
            continue
        for m in DSN_RX.finditer(text):
            dsn = m.group(0)
            host = re.sub(r"^.*@", "", dsn.split("://", 1)[1]).split("/")[0].split(":")[0]
            if host in ("localhost", "127.0.0.1", "") or "{" in host or "$" in host:
                continue
            any_ = True
            line = text.count("\n", 0, m.start()) + 1
            if re.search(r"ssl(mode)?=(require|verify-ca|verify-full|true)", dsn, re.I):
                yield passed("DSN requires TLS", Loc(path, line), path)
            else:
                yield failed(f"database URL to '{host}' does not require TLS (no sslmode=require)", Loc(path, line), path,
                             confidence="medium")
    if not any_:
        yield not_applicable("no database URLs with a remote host found")
