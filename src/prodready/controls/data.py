"""Data: backups, migrations, TLS to the database."""

from __future__ import annotations

import json
import re

from ..model import Loc
from ._util import containers, job_text, paths_containing, paths_matching, strings_in, uses_database
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
    for w, c in containers(p):  # (every workload's app containers, in order)
        if c.image is not None and BACKUP_IMAGE_RX.search(c.image.repository):
            yield passed(f"{w.ref} runs backup scheduler {c.image.repository}", c.loc, w.ref)
            return
    for pl in p.pipelines:
        for j in pl.jobs:
            if BACKUP_RX.search(job_text(j)) and ("schedule" in pl.triggers):
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
MIGRATION_WORDS = ("alembic", "migrat", "flyway", "liquibase", "__", "knexfile")  # one is in every match


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
    hits = sorted(paths_matching(p, MIGRATION_DIRS, MIGRATION_WORDS),
                  key=lambda f: (p.files[f] in ("k8s", "yaml", "github-workflow"), len(f)))
    if hits:
        yield passed(f"migrations in {hits[0]}", Loc(hits[0], None), hits[0])
    elif db:
        yield failed("the project uses a database but has no migrations (alembic, Django migrations, Flyway...)", db[0])
    else:
        yield not_applicable("no database in the project")


DSN_RX = re.compile(r"(postgres(ql)?(\+\w+)?|mysql(\+\w+)?)://[^\s'\"`]+", re.I)
DSN_KINDS = ("javascript", "typescript", "k8s", "compose", "dotenv", "yaml", "helm-values")


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
        if p.files.get(path) not in DSN_KINDS:
            continue
        if "://" not in text:  # cheap pre-check: every DSN has one
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
    # Python: URL strings as parsed (implicitly joined literals, f-strings with {} for values), and connect arguments
    for cf in p.code:
        if cf.language != "python" or cf.path.startswith("test") or "/test" in cf.path:  # ("/test" in "/" + path)
            continue
        tls_kw = None  # whether a call of the file asks for TLS: worked out at the first DSN
        for line, dsn in cf.facts.strings:
            m = DSN_RX.search(dsn)
            if not m:
                continue
            rest = dsn[m.start():]
            host = re.sub(r"^.*@", "", rest.split("://", 1)[1]).split("/")[0].split(":")[0].split("?")[0]
            if host in ("localhost", "127.0.0.1", "") or "{" in host:
                if not ("{}" in host and host != "{}"):
                    continue
            any_ = True
            if tls_kw is None:
                tls_kw = any(c.kwargs.get("sslmode", ("", ""))[1] in ("require", "verify-ca", "verify-full") or
                             "ssl" in c.kwargs or "sslmode" in str(c.kwargs.get("connect_args", ""))
                             for c in cf.facts.calls)
            if re.search(r"ssl(mode)?=(require|verify-ca|verify-full|true)", rest, re.I) or tls_kw:
                yield passed("DSN requires TLS", Loc(cf.path, line), cf.path)
            else:
                yield failed(f"database URL to '{host}' does not require TLS (no sslmode=require)", Loc(cf.path, line),
                             cf.path, confidence="medium")
    if not any_:
        yield not_applicable("no database URLs with a remote host found")


# --- point-in-time recovery ---------------------------------------------------------------------

PITR_RX = re.compile(r"(archive_mode\W+(on|always)|archive_command|wal-g|walg_|pgbackrest|barman|barmanObjectStore|"
                     r"WAL_(S3|GS|AZ)_BUCKET|USE_WALG|wal_e|pg_receivewal|binlog|point_in_time|pitr)", re.I)


@control(
    id="data.pitr", title="Databases can be restored to a point in time (WAL archiving)", category="data",
    severity="high", evidence=["k8s", "terraform", "compose"],
    rationale="A nightly dump loses up to a day of writes; continuous WAL/binlog archiving lets you restore to the "
              "minute before the bad migration or the accidental DELETE.",
    remediation="Managed: RDS `backup_retention_period >= 7` (PITR is then on), Cloud SQL "
                "`point_in_time_recovery_enabled = true`; CloudNativePG: `spec.backup.barmanObjectStore`; self-run "
                "PostgreSQL: `archive_mode = on` with WAL-G or pgBackRest `archive_command`.",
    references=["PostgreSQL docs: continuous archiving and PITR", "AWS RDS: point-in-time recovery"],
    checklist=["data.pitr"],
    phrases=["point-in-time recovery", "PITR", "WAL archiving"],
)
def pitr(p):
    from .infrastructure import servers

    dbs = servers(p, "postgres", "mysql")
    if not dbs:
        yield not_applicable("the database server is not defined in this repository (managed elsewhere or absent)")
        return
    for s in dbs:
        if s.source == "terraform":
            b = s.raw.body
            if s.raw.type in ("aws_db_instance", "aws_rds_cluster"):
                n = b.get("backup_retention_period")
                ok = str(n).strip('"').isdigit() and int(str(n).strip('"')) > 0
                msg = f"backup_retention_period = {n} (PITR on)" if ok else "backup_retention_period is 0 or unset"
                if not ok and s.raw.type == "aws_rds_cluster" and n is None:
                    ok, msg = True, "Aurora keeps 1 day of PITR by default"
            elif s.raw.type == "google_sql_database_instance":
                bc = json.dumps(b.get("settings"), default=str)
                ok = bool(re.search(r"(point_in_time_recovery_enabled|binary_log_enabled)\"?\s*:\s*true", bc))
                msg = "point_in_time_recovery_enabled" if ok else "PITR not enabled in backup_configuration"
            else:
                ok, msg = True, "managed service with built-in PITR"
        else:
            m = PITR_RX.search(s.text)
            ok = bool(m)
            msg = f"WAL archiving ({m.group(1)})" if m else "no WAL archiving (archive_mode/WAL-G/pgBackRest/barman)"
        if ok:
            yield passed(f"{s.ref}: {msg}", s.loc, s.ref)
        else:
            yield failed(f"{s.ref}: {msg}", s.loc, s.ref)


# --- retention ----------------------------------------------------------------------------------

PROMETHEUS_IMAGE_RX = re.compile(r"(^|/)prometheus$")
SEARCH_IMAGE_RX = re.compile(r"(^|/)(elasticsearch|opensearch)$")

@control(
    id="data.retention-policies", title="Data that grows without bound has a retention policy", category="data",
    severity="medium", evidence=["terraform", "k8s", "compose", "sql", "python", "yaml"],
    rationale="Topics, time series, object buckets, logs and metrics grow forever unless something deletes old "
              "data: disks fill, costs climb, and personal data is kept longer than the law allows.",
    remediation="Kafka `retention.ms`/`log.retention.hours`; TimescaleDB `add_retention_policy`; ClickHouse `TTL`; S3 "
                "lifecycle `expiration`; Loki `retention_period` with the compactor; Prometheus "
                "`--storage.tsdb.retention.time`/`.size`; CloudWatch `retention_in_days`; a scheduled purge job for "
                "application tables.",
    references=["GDPR Art. 5(1)(e) storage limitation", "Kafka docs: log retention"],
    checklist=["data.retention_policy", "observability.log_retention", "observability.metrics_retention"],
    phrases=["data retention policy", "log retention", "metrics retention", "TTL"],
)
def retention_policies(p):
    from ._app import import_hits, tf_resources
    from .infrastructure import servers

    systems: list[tuple[str, str, Loc, bool]] = []  # (system, ref, loc, has retention)

    def search(rx, kinds, hints):
        return p.search_text(rx, kinds=kinds, hints=hints)

    for s in servers(p, "kafka"):
        ok = bool(re.search(r"(log\.retention\.|LOG_RETENTION|retention\.ms|retention\.bytes)", s.text, re.I))
        systems.append(("Kafka", s.ref, s.loc, ok))
    for o in p.objects("KafkaTopic"):
        cfg = json.dumps((o.raw.get("spec") or {}).get("config"), default=str)
        systems.append(("Kafka topic", o.ref, o.loc, "retention" in cfg))
    hyper = search(r"create_hypertable", ("sql", "python", "text"), ("create_hypertable",))
    if hyper:
        ret = search(r"add_retention_policy|drop_chunks", ("sql", "python", "text", "k8s"),
                     ("add_retention_policy", "drop_chunks"))
        systems.append(("TimescaleDB", hyper[0].path, hyper[0], bool(ret)))
    ch = search(r"ENGINE\s*=\s*\w*MergeTree", ("sql", "python", "text"), ("MergeTree",))
    if ch:
        ttl = search(r"\bTTL\b", ("sql", "python", "text"), ("TTL",))
        systems.append(("ClickHouse", ch[0].path, ch[0], bool(ttl)))
    lifecycle = {n for r in tf_resources(p, "aws_s3_bucket_lifecycle_configuration")
                 for n in re.findall(r"aws_s3_bucket\.([\w-]+)\.", str(r.body.get("bucket")))}
    for b in tf_resources(p, "aws_s3_bucket"):
        ok = bool(b.body.get("lifecycle_rule")) or b.name in lifecycle
        systems.append(("S3 bucket", b.ref, b.loc, ok))
    for b in tf_resources(p, "google_storage_bucket"):
        systems.append(("GCS bucket", b.ref, b.loc, bool(b.body.get("lifecycle_rule"))))
    for r in tf_resources(p, "aws_cloudwatch_log_group"):
        systems.append(("CloudWatch log group", r.ref, r.loc, bool(r.body.get("retention_in_days"))))
    for path in paths_containing(p, ("loki",)):  # (both tests below need it)
        low = path.lower()
        if re.search(r"(^|/)loki[^/]*\.ya?ml$", low) or (p.files[path] == "yaml" and "loki" in low and
                                                        "schema_config" in p.sources.get(path, "")):
            text = p.sources.get(path, "")
            systems.append(("Loki", path, Loc(path, 1), "retention_period" in text or "retention_enabled" in text))
    for w, c in containers(p, production=True):  # (the app containers of the workloads not judged dev-only)
        if c.image is not None and PROMETHEUS_IMAGE_RX.search(c.image.repository):
            args = " ".join(c.command)
            systems.append(("Prometheus", w.ref, c.loc, "retention" in args))
        if c.image is not None and SEARCH_IMAGE_RX.search(c.image.repository):
            ilm = search(r"(_ilm/policy|index_lifecycle|ism|delete_after|min_age)", ("json", "yaml", "shell",
                                                                                     "k8s", "text"),
                         ("ilm", "lifecycle", "ism", "delete", "min_age"))
            systems.append(("Elasticsearch", w.ref, c.loc, bool(ilm)))
    if not systems:
        # application data: a scheduled purge counts where nothing else grows unbounded
        if import_hits(p, ("kafka", "confluent_kafka"), ("kafkajs",)):
            yield failed("Kafka is used but no topic or broker retention is set in the repository")
        else:
            yield not_applicable("no unbounded data stores (topics, time series, buckets, log or metric stores) "
                                 "defined in the repository")
        return
    for system, ref, loc, ok in systems:
        if ok:
            yield passed(f"{system} {ref}: retention configured", loc, ref)
        else:
            yield failed(f"{system} {ref}: no retention, data grows without bound", loc, ref)


# --- offsite backups ----------------------------------------------------------------------------

OFFSITE_RX = re.compile(r"(s3://|gs://|az://|azure://|abfss?://|swift://|b2://|s3\.amazonaws|\bs3\s+cp\b|\baws s3\b|"
                        r"gsutil|rclone|mc (cp|mirror)|WALG_(S3|GS|AZ)_PREFIX|repo\d?-(s3|gcs|azure)|"
                        r"barmanObjectStore|destinationPath|velero|restic -r|BACKUP_(S3|BUCKET))", re.I)


@control(
    id="data.backups-offsite", title="Backups leave the cluster (and ideally the region)", category="data",
    severity="high", evidence=["k8s", "terraform", "shell"],
    rationale="A backup on the same volume, node or cluster as the database is lost in the same incident: a deleted "
              "namespace, a compromised account, a region outage. Backups must land in separate storage, "
              "preferably replicated to another region or account.",
    remediation="Write backups to object storage (`aws s3 cp ... s3://backups/`, WAL-G `WALG_S3_PREFIX`, CNPG "
                "`barmanObjectStore`) and replicate the bucket to another region/account "
                "(`aws_s3_bucket_replication_configuration`).",
    references=["3-2-1 backup rule", "Google SRE book ch. 26 'Data Integrity'"],
    checklist=["data.offsite_backups"],
    phrases=["offsite backups", "backups in another region", "backup replication"],
)
def backups_offsite(p):
    from ._app import tf_resources

    jobs = [o for o in p.objects("CronJob") if BACKUP_RX.search(strings_in(o.raw))]
    jobs += [o for o in p.k8s_objects if o.kind in ("ScheduledBackup", "Schedule") and
             ("cnpg" in o.api_version or "velero" in o.api_version)]
    clusters = [o for o in p.k8s_objects if o.kind == "Cluster" and "cnpg" in o.api_version and
                "barmanObjectStore" in str(o.raw.get("spec"))]
    managed = [r for r in tf_resources(p, "aws_db_instance", "aws_rds_cluster") if r.body.get("backup_retention_period")]
    if not (jobs or clusters or managed):
        yield not_applicable("no backups defined in the repository (see data.backups-scheduled)")
        return
    replication = tf_resources(p, "aws_s3_bucket_replication_configuration", "aws_backup_plan",
                               "aws_db_instance_automated_backups_replication")
    for o in jobs + clusters:
        text = strings_in(o.raw)
        m = OFFSITE_RX.search(text)
        if m or o.kind == "Schedule":
            extra = f"; replicated by {replication[0].ref}" if replication else "; no cross-region replication found"
            yield passed(f"{o.ref}: backups go to object storage ({m.group(0) if m else 'Velero'}){extra}", o.loc,
                         o.ref, confidence="high" if replication else "medium")
        else:
            yield failed(f"{o.ref}: backups stay on a volume in the cluster", o.loc, o.ref)
    for r in managed:
        if replication:
            yield passed(f"{r.ref}: automated backups, replicated by {replication[0].ref}", r.loc, r.ref)
        else:
            yield passed(f"{r.ref}: provider-managed snapshots (same region; add cross-region backup replication)",
                         r.loc, r.ref, confidence="low")


# --- persistent storage -------------------------------------------------------------------------

@control(
    id="data.persistent-storage", title="Stateful workloads keep data on persistent, snapshotted volumes",
    category="data", severity="high", evidence=["k8s", "compose", "terraform"],
    rationale="A datastore writing to the container filesystem or an emptyDir loses everything when the pod is "
              "rescheduled; a persistent volume survives that, and scheduled snapshots protect it against deletion "
              "and corruption.",
    remediation="StatefulSet `volumeClaimTemplates` on a CSI StorageClass (or a PVC), never emptyDir/hostPath for "
                "data; snapshots with Velero `Schedule`, snapscheduler, `aws_dlm_lifecycle_policy` or an AWS Backup "
                "plan (or the database's own backups, see data.backups-scheduled).",
    references=["Kubernetes docs: persistent volumes, volume snapshots"],
    checklist=["data.persistent_volumes", "data.volume_snapshots"],
    phrases=["persistent volumes", "volume snapshots", "PVC"],
)
def persistent_storage(p):
    from ._app import datastores, tf_resources

    found = datastores(p)
    if not found:
        yield not_applicable("no datastores run by the repository's workloads")
        return
    snaps = [o for o in p.k8s_objects if o.kind in ("SnapshotSchedule", "VolumeSnapshotClass") or
             (o.kind == "Schedule" and "velero" in o.api_version)] + \
        tf_resources(p, "aws_dlm_lifecycle_policy", "aws_backup_plan", "google_compute_resource_policy")
    db_backups = [o for o in p.objects("CronJob") if BACKUP_RX.search(strings_in(o.raw))]
    for ds in found:
        w, c = ds.workload, ds.container
        if w.source == "k8s":
            claims = {v.get("name") for v in w.volumes if isinstance(v, dict) and "persistentVolumeClaim" in v}
            vct = (w.raw.get("spec") or {}).get("volumeClaimTemplates") or []
            mounts = [m for m in (c.raw.get("volumeMounts") or []) if isinstance(m, dict)]
            persistent = bool(vct) or any(m.get("name") in claims for m in mounts)
        else:
            vols = [str(v) if not isinstance(v, dict) else str(v.get("source", "")) + ":" for v in w.volumes]
            persistent = any(":" in v and not v.startswith(("/tmp", "tmpfs")) for v in vols)
        if not persistent:
            yield failed(f"{ds.ref} ({ds.kind}) keeps its data on the container filesystem or an emptyDir", c.loc,
                         ds.ref, concept="data.persistent_volumes")
            continue
        if snaps or (ds.kind in ("postgres", "mysql", "mongodb") and db_backups):
            how = snaps[0].ref if snaps else f"database backups ({db_backups[0].ref})"
            yield passed(f"{ds.ref}: persistent volume, protected by {how}", c.loc, ds.ref,
                         concept="data.volume_snapshots")
        else:
            yield failed(f"{ds.ref}: persistent volume but no snapshot schedule or backup", c.loc, ds.ref,
                         concept="data.volume_snapshots")


# --- cluster configuration and secrets recoverable ----------------------------------------------

@control(
    id="data.config-state-recoverable", title="Cluster configuration and secrets can be restored",
    category="data", severity="medium", evidence=["k8s"],
    rationale="After losing a cluster, manifests come back from git, but Secrets created by hand with kubectl are "
              "gone; a rebuild then stalls on credentials nobody wrote down.",
    remediation="Keep secrets in a secret manager synced by External Secrets, encrypted in git (SealedSecrets, "
                "SOPS), or back up the namespace with Velero.",
    references=["Velero docs", "External Secrets Operator", "Bitnami Sealed Secrets"],
    checklist=["data.app_state_backups"],
    phrases=["backup of configuration and secrets", "Velero", "sealed secrets"],
)
def config_state_recoverable(p):
    from ._k8s import k8s_containers

    refs: dict[tuple[str | None, str], object] = {}
    for w, c in k8s_containers(p):  # (every container of the Kubernetes workloads)
        for e in c.env:
            if e.source and e.source.startswith("secretKeyRef:"):
                refs.setdefault((w.namespace, e.source.split(":", 1)[1].split("/")[0]), e.loc)
        for ef in c.env_from:
            if ef.startswith("secretRef:"):
                refs.setdefault((w.namespace, ef.split(":", 1)[1]), c.loc)
    if not refs:
        yield not_applicable("no Kubernetes workloads read Secrets")
        return
    velero = [o for o in p.k8s_objects if o.kind in ("Schedule", "Backup") and "velero" in o.api_version]
    managed: set[tuple[str | None, str]] = set()
    for o in p.k8s_objects:
        if o.kind in ("ExternalSecret", "SealedSecret", "VaultStaticSecret", "SecretProviderClass", "InfisicalSecret",
                      "OnePasswordItem"):
            target = ((o.raw.get("spec") or {}).get("target") or {}).get("name") if o.kind == "ExternalSecret" else None
            managed.add((o.namespace, str(target or o.name)))
        if o.kind == "Secret" and ("sops" in o.raw or "ENC[" in json.dumps(o.raw.get("data") or {}, default=str)):
            managed.add((o.namespace, o.name))
    for (ns, name), loc in sorted(refs.items(), key=lambda x: str(x[0])):
        if (ns, name) in managed:
            yield passed(f"Secret {name} is synced or sealed from outside the cluster", loc, f"Secret/{name}")
        elif velero:
            yield passed(f"Secret {name} is covered by Velero {velero[0].ref}", loc, f"Secret/{name}",
                         confidence="medium")
        else:
            yield failed(f"Secret {ns + '/' if ns else ''}{name} is used but exists only in the cluster (no "
                         "ExternalSecret, SealedSecret, SOPS or Velero backup)", loc, f"Secret/{name}",
                         confidence="medium")


# --- Redis persistence --------------------------------------------------------------------------

@control(
    id="data.redis-persistence", title="Redis that holds data persists it", category="data", severity="medium",
    evidence=["k8s", "compose", "terraform"],
    rationale="A Redis used as a queue, session store or primary store loses everything on restart without AOF or "
              "RDB persistence on a persistent volume; only a pure cache (with an eviction policy) can afford that.",
    remediation="`redis-server --appendonly yes` with a PVC (or `save` rules); ElastiCache "
                "`snapshot_retention_limit > 0`; if it is only a cache, say so with "
                "`--maxmemory-policy allkeys-lru`.",
    references=["Redis docs: persistence"],
    checklist=["data.redis_persistence"],
    phrases=["Redis persistence", "AOF", "appendonly"],
)
def redis_persistence(p):
    from .infrastructure import servers

    found = servers(p, "redis")
    if not found:
        yield not_applicable("no Redis server defined for production in the repository")
        return
    for s in found:
        if s.source == "terraform":
            n = s.raw.body.get("snapshot_retention_limit")
            if str(n).isdigit() and int(n) > 0:
                yield passed(f"{s.ref}: snapshots kept {n} days", s.loc, s.ref)
            else:
                yield failed(f"{s.ref}: snapshot_retention_limit unset or 0", s.loc, s.ref)
            continue
        text = s.text
        cache_only = re.search(r"maxmemory-policy\W+allkeys-", text)
        disabled = re.search(r"--save\s+(\"\"|''|$)", text) and not re.search(r"appendonly\W+yes", text)
        aof = re.search(r"appendonly\W+yes|--save\s+\d", text)
        vol = True
        if s.source == "workload":
            w = s.raw
            vol = bool((w.raw.get("spec") or {}).get("volumeClaimTemplates")) or any(
                isinstance(v, dict) and "persistentVolumeClaim" in v for v in w.volumes) or (
                w.source == "compose" and any(":" in str(v) for v in w.volumes))
        if cache_only:
            yield passed(f"{s.ref}: configured as a cache ({cache_only.group(0)})", s.loc, s.ref)
        elif disabled or not vol:
            yield failed(f"{s.ref}: {'persistence disabled' if disabled else 'no persistent volume'}: data is lost on "
                         "restart", s.loc, s.ref)
        elif aof:
            yield passed(f"{s.ref}: {aof.group(0)} on a persistent volume", s.loc, s.ref)
        else:
            yield passed(f"{s.ref}: default RDB snapshots on a persistent volume", s.loc, s.ref, confidence="medium")


# --- data lake tables ---------------------------------------------------------------------------

LAKE_PY = ("pyspark", "delta", "deltalake", "pyiceberg", "pyarrow", "polars", "pandas", "duckdb", "hudi")


def _lake_writer(name: str) -> bool:
    """A callee that writes a data-lake table (``df.write.parquet``, ``to_parquet``, ``write_deltalake``...)."""
    tail = name.rsplit(".", 1)[-1]
    return tail in ("to_parquet", "write_parquet", "write_deltalake", "saveAsTable", "save", "parquet", "insertInto",
                    "toTable", "write_table", "write_dataset", "start") and (
        "write" in name or tail.startswith(("to_", "write_")) or "writeStream" in name)


@control(
    id="data.lake-tables", title="Data-lake tables are versioned, partitioned, compressed and on object storage",
    category="data", severity="medium", evidence=["python", "terraform", "sql"],
    rationale="Analytical data written as loose files on a local disk cannot be shared, recovered or queried "
              "efficiently: object storage makes it durable, a table format (Delta/Iceberg) makes writes atomic "
              "and versioned (time travel), date partitions keep scans small, and columnar compression cuts cost.",
    remediation="Write with Delta Lake or Iceberg to `s3a://`/`gs://`/`abfss://` paths, `partitionBy(\"event_date\")`, "
                "Parquet/ZSTD compression; for raw buckets enable versioning (`aws_s3_bucket_versioning`).",
    references=["Delta Lake docs", "Apache Iceberg docs"],
    checklist=["data.versioning", "data.object_storage", "data.partitioning", "data.storage_compression"],
    phrases=["data versioning", "data lake on object storage", "partitioned tables", "storage compression", "Parquet compression for data lake tables", "Delta Lake"],
)
def lake_tables(p):
    from ._app import calls_where, tf_resources

    # the Python calls that write a table, in file and call order (from the project's call index)
    writers = [(cf, c) for cf, c in calls_where(p, _lake_writer) if cf.language == "python"]
    buckets = tf_resources(p, "aws_s3_bucket", "google_storage_bucket")
    if not writers and not buckets:
        yield not_applicable("no data-lake writes or buckets")
        return
    if writers:
        text = "\n".join(p.sources.get(cf.path, "") for cf in {cf.path: cf for cf, _c in writers}.values())
        cf, c = writers[0]
        where = Loc(cf.path, c.line)
        store = re.search(r"(s3a?://|gs://|abfss?://|wasbs?://|oss://|minio)", text)
        yield (passed(f"writes to object storage ({store.group(1)})", where, cf.path, concept="data.object_storage")
               if store else failed("data is written to local paths, not object storage", where, cf.path,
                                    concept="data.object_storage"))
        fmt = re.search(r"""(format\(\s*["'](delta|iceberg|hudi)|write_deltalake|deltalake|pyiceberg|DeltaTable|"""
                        r"""USING\s+(DELTA|ICEBERG))""", text, re.I)
        yield (passed("table format with versioning/time travel", where, cf.path, concept="data.versioning")
               if fmt else failed("plain files: no table format with versioning (Delta/Iceberg/Hudi)", where, cf.path,
                                  concept="data.versioning"))
        part = re.search(r"(partitionBy|partition_cols|partition_by|PARTITIONED BY|PARTITION BY)", text)
        yield (passed(f"partitioned writes ({part.group(1)})", where, cf.path, concept="data.partitioning")
               if part else failed("writes are not partitioned", where, cf.path, concept="data.partitioning"))
        nocomp = re.search(r"""compression\s*[=:,]\s*\(?\s*["'](none|uncompressed)""", text, re.I)
        yield (failed("compression disabled", where, cf.path, concept="data.storage_compression") if nocomp else
               passed("columnar compression (Parquet default or explicit codec)", where, cf.path,
                      confidence="medium", concept="data.storage_compression"))
    versioned = {n for r in tf_resources(p, "aws_s3_bucket_versioning")
                 if "Enabled" in json.dumps(r.body.get("versioning_configuration"), default=str)
                 for n in re.findall(r"aws_s3_bucket\.([\w-]+)\.", str(r.body.get("bucket")))}
    for b in buckets:
        ok = b.name in versioned or "enabled\": true" in json.dumps(
            b.body.get("versioning"), default=str).lower() or "Enabled" in json.dumps(b.body.get("versioning"),
                                                                                    default=str)
        if ok:
            yield passed(f"{b.ref}: versioning enabled", b.loc, b.ref, concept="data.versioning")
        else:
            yield failed(f"{b.ref}: versioning not enabled (overwrites and deletes are permanent)", b.loc, b.ref,
                         concept="data.versioning")


@control(
    id="data.pipeline-governance", title="Data pipelines have quality checks, lineage and a catalog",
    category="data", severity="low", evidence=["python", "yaml", "sql"], optional=True,
    rationale="Pipelines fail silently by producing wrong data; automated quality checks catch it, lineage shows "
              "what a bad input touched, and a catalog tells consumers what a table means. Relevant to data "
              "platforms; off unless enabled.",
    remediation="Great Expectations/Soda checks or dbt tests run by the scheduler; OpenLineage/Marquez or DataHub "
                "lineage; DataHub/Amundsen/OpenMetadata ingestion recipes.",
    references=["OpenLineage", "Great Expectations docs", "DataHub docs"],
    checklist=["data.quality_checks", "data.lineage", "data.catalog"],
    phrases=["data quality checks", "data lineage", "data catalog"],
)
def pipeline_governance(p):
    from ._app import import_hits

    pipes = import_hits(p, ("pyspark", "airflow", "dagster", "prefect", "dbt", "luigi", "kedro"), ()) or \
        [f for f in paths_containing(p, ("dbt_project.yml",)) if f.endswith("dbt_project.yml")]
    if not pipes:
        yield not_applicable("no data pipelines")
        return
    for label, what, py, pattern in (
            ("data.quality_checks", "data-quality checks", ("great_expectations", "soda", "pandera", "deequ",
                                                            "pydeequ", "dbt"), r"(great_expectations|soda\s+scan|"
                                                                                r"dbt (test|build)|tests:\s*\n)"),
            ("data.lineage", "lineage", ("openlineage", "marquez", "datahub"), r"(openlineage|marquez|"
                                                                               r"OPENLINEAGE_URL)"),
            ("data.catalog", "a data catalog", ("datahub", "amundsen", "openmetadata", "metadata"),
             r"(datahub|amundsen|openmetadata|source:\s*\n\s*type:)")):
        hits = import_hits(p, py, ()) or p.search_text(pattern, kinds=("yaml", "python", "shell", "text",
                                                                       "github-workflow"),
                                                       hints=tuple(re.findall(r"[a-z_]{5,}", pattern))[:6] or ("x",))
        if hits:
            loc = hits[0][0] if isinstance(hits[0], tuple) else hits[0]
            yield passed(f"{what} configured ({loc.path})", loc, loc.path, concept=label)
        else:
            yield failed(f"no {what}", None, concept=label)
