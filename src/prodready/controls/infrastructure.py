"""Infrastructure the repository defines: Terraform resources, operator-managed datastores, clusters, load
balancers, and what they say about encryption, exposure, availability, tuning and cost."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..model import Loc
from ._app import (
    as_int,
    container_args,
    datastores,
    files_importing,
    import_hits,
    nginx_directives,
    tf_get,
    tf_resources,
    truthy,
)
from ._k8s import obj_ref, pod_index
from .base import control, failed, not_applicable, passed


@dataclass
class Server:
    """A datastore or broker server the repository defines (workload, operator object or managed resource)."""
    kind: str  # postgres | mysql | redis | kafka | zookeeper | mongodb | elasticsearch | clickhouse | minio | ...
    ref: str
    loc: Loc
    source: str  # workload | operator | terraform
    text: str = ""  # its configuration, flattened, for flag searches
    replicas: int | None = None
    raw: Any = field(default=None, repr=False)


OPERATORS = {  # (apiVersion fragment, kind) -> (datastore kind, path to the instance count)
    ("postgresql.cnpg.io", "Cluster"): ("postgres", ("spec", "instances")),
    ("acid.zalan.do", "postgresql"): ("postgres", ("spec", "numberOfInstances")),
    ("postgres-operator.crunchydata.com", "PostgresCluster"): ("postgres", ("spec", "instances")),
    ("pxc.percona.com", "PerconaXtraDBCluster"): ("mysql", ("spec", "pxc", "size")),
    ("mysql.oracle.com", "InnoDBCluster"): ("mysql", ("spec", "instances")),
    ("databases.spotahome.com", "RedisFailover"): ("redis", ("spec", "redis", "replicas")),
    ("redis.redis.opstreelabs.in", "RedisCluster"): ("redis", ("spec", "clusterSize")),
    ("redis.redis.opstreelabs.in", "RedisReplication"): ("redis", ("spec", "clusterSize")),
    ("kafka.strimzi.io", "Kafka"): ("kafka", ("spec", "kafka", "replicas")),
    ("kafka.strimzi.io", "KafkaNodePool"): ("kafka", ("spec", "replicas")),
    ("mongodbcommunity.mongodb.com", "MongoDBCommunity"): ("mongodb", ("spec", "members")),
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): ("elasticsearch", ("spec", "nodeSets")),
    ("clickhouse.altinity.com", "ClickHouseInstallation"): ("clickhouse", ("spec", "configuration", "clusters")),
    ("minio.min.io", "Tenant"): ("minio", ("spec", "pools")),
}
TF_SERVERS = {
    "aws_db_instance": "db", "aws_rds_cluster": "db", "google_sql_database_instance": "db",
    "azurerm_postgresql_flexible_server": "db", "azurerm_mysql_flexible_server": "db",
    "aws_elasticache_replication_group": "redis", "aws_elasticache_cluster": "redis",
    "google_redis_instance": "redis", "azurerm_redis_cache": "redis", "aws_msk_cluster": "kafka",
    "aws_docdb_cluster": "mongodb", "aws_opensearch_domain": "elasticsearch", "aws_elasticsearch_domain": "elasticsearch",
}


def _dig(obj, path):
    for k in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def servers(p, *kinds: str) -> list[Server]:
    """Datastore and broker servers (of ``kinds``, or all); the list is built once per project and shared, read the
    Server objects only."""
    return [s for s in p.derived("infrastructure.servers", lambda: _servers(p)) if not kinds or s.kind in kinds]


OPERATOR_KINDS = {kind for _api, kind in OPERATORS}


def _servers(p) -> list[Server]:
    out: list[Server] = []
    for ds in datastores(p):
        out.append(Server(ds.kind, ds.ref, ds.container.loc, "workload", container_args(ds.container),
                          ds.workload.replicas if ds.workload.kind != "DaemonSet" else None, ds.workload))
    for o in p.k8s_objects:
        if o.kind not in OPERATOR_KINDS:  # cheap pre-check of the loop below
            continue
        for (api, kind), (dkind, path) in OPERATORS.items():
            if o.kind == kind and api in o.api_version:
                n = _dig(o.raw, path)
                count = len(n) if isinstance(n, list) and kind != "Elasticsearch" else \
                    sum(as_int(x.get("count")) or 0 for x in n if isinstance(x, dict)) if isinstance(n, list) \
                    else as_int(n)
                out.append(Server(dkind, o.ref, o.loc, "operator", json.dumps(o.raw.get("spec"), default=str),
                                  count, o))
    for r in tf_resources(p, *TF_SERVERS):
        kind = TF_SERVERS[r.type]
        if kind == "db":
            eng = str(r.body.get("engine") or r.body.get("database_version") or r.type)
            kind = "mysql" if re.search(r"mysql|maria", eng, re.I) else "postgres"
        out.append(Server(kind, r.ref, r.loc, "terraform", json.dumps(r.body, default=str), None, r))
    return out


# --- encryption at rest -------------------------------------------------------------------------

ENCRYPTION_RULES = {  # resource type -> (attribute path, what must hold)
    "aws_db_instance": (("storage_encrypted",), "true"), "aws_rds_cluster": (("storage_encrypted",), "true"),
    "aws_ebs_volume": (("encrypted",), "true"), "aws_efs_file_system": (("encrypted",), "true"),
    "aws_elasticache_replication_group": (("at_rest_encryption_enabled",), "true"),
    "aws_docdb_cluster": (("storage_encrypted",), "true"), "aws_redshift_cluster": (("encrypted",), "true"),
    "aws_msk_cluster": (("encryption_info",), "present"), "aws_opensearch_domain": (("encrypt_at_rest", "enabled"), "true"),
    "aws_dynamodb_table": (("server_side_encryption", "enabled"), "true"),
    "aws_sqs_queue": (("sqs_managed_sse_enabled",), "true-or-kms"), "aws_sns_topic": (("kms_master_key_id",), "present"),
    "aws_kinesis_stream": (("encryption_type",), "KMS"), "aws_ebs_encryption_by_default": (("enabled",), "true"),
}


@control(
    id="security.encryption-at-rest", title="Databases, volumes, buckets and backups are encrypted at rest",
    category="security", severity="high", evidence=["terraform", "k8s"],
    rationale="Unencrypted disks, snapshots and backup objects are readable by anyone who gets the storage: a "
              "shared snapshot, a decommissioned disk, a leaked bucket. Encryption at rest (ideally with your own "
              "KMS key) is required by most compliance regimes and costs nothing to turn on at creation.",
    remediation="Terraform: `storage_encrypted = true` + `kms_key_id` (RDS), `encrypted = true` (EBS/EFS), "
                "`aws_s3_bucket_server_side_encryption_configuration` with aws:kms; Kubernetes: an encrypted "
                "StorageClass (`parameters: {encrypted: \"true\"}`); backups: `aws s3 cp --sse aws:kms`, pgBackRest "
                "`repo1-cipher-type=aes-256-cbc`, WAL-G `WALG_LIBSODIUM_KEY`.",
    references=["CIS AWS Foundations 2.2-2.4", "NIST SP 800-111"],
    checklist=["security.encryption_at_rest", "security.backup_encryption"],
    phrases=["encryption at rest", "encrypted volumes", "encrypted backups", "KMS"],
)
def encryption_at_rest(p):
    any_ = False
    for r in tf_resources(p, *ENCRYPTION_RULES):
        attr, want = ENCRYPTION_RULES[r.type]
        v = tf_get(r.body, *attr)
        if r.type == "aws_rds_cluster" and str(r.body.get("engine_mode", "")) == "serverless":
            v = True
        ok = (truthy(v) if want == "true" else v not in (None, "", []) if want == "present" else
              str(v).upper() == "KMS" if want == "KMS" else truthy(v) or bool(r.body.get("kms_master_key_id")))
        any_ = True
        if ok:
            yield passed(f"{r.ref}: {'.'.join(attr)} set", r.loc, r.ref)
        else:
            yield failed(f"{r.ref}: not encrypted at rest ({'.'.join(attr)} is {v!r})", r.loc, r.ref)
    buckets = tf_resources(p, "aws_s3_bucket")
    sse = {n for r in tf_resources(p, "aws_s3_bucket_server_side_encryption_configuration")
           for n in re.findall(r"aws_s3_bucket\.([\w-]+)\.", str(tf_get(r.body, "bucket")))}
    for b in buckets:
        any_ = True
        inline = tf_get(b.body, "server_side_encryption_configuration")
        if inline or b.name in sse:
            yield passed(f"{b.ref}: server-side encryption configured", b.loc, b.ref)
        else:
            yield passed(f"{b.ref}: S3 default SSE-S3 encryption (no customer-managed key)", b.loc, b.ref,
                         confidence="medium")
    for o in p.objects("StorageClass"):
        params = o.raw.get("parameters") or {}
        prov = str(o.raw.get("provisioner", ""))
        if isinstance(params, dict) and prov.startswith(("ebs.csi", "kubernetes.io/aws-ebs")):
            any_ = True
            if truthy(params.get("encrypted")) or params.get("kmsKeyId"):
                yield passed(f"{o.ref}: encrypted EBS volumes", o.loc, o.ref)
            else:
                yield failed(f"{o.ref}: EBS volumes are created unencrypted (parameters.encrypted not \"true\")", o.loc,
                             o.ref)
    # backup jobs: where they write and whether the copy is encrypted
    from .data import BACKUP_RX

    for o in p.objects("CronJob"):
        text = json.dumps(o.raw, default=str)
        if not BACKUP_RX.search(text):
            continue
        any_ = True
        if re.search(r"(--sse\b|ServerSideEncryption|x-amz-server-side-encryption|repo\d?-cipher-type|"
                     r"WALG_LIBSODIUM_KEY|WALG_PGP_KEY|WALG_S3_SSE|gpg\s+(--encrypt|-e|-c|--symmetric)|age\s+-r|"
                     r"openssl\s+enc|--encrypt|restic|kopia|borg)", text, re.I):
            yield passed(f"{o.ref}: backups are encrypted before/when stored", o.loc, o.ref)
        else:
            yield failed(f"{o.ref}: backups are written without encryption (no SSE/KMS, cipher or gpg)", o.loc, o.ref,
                         confidence="medium")
    if not any_:
        yield not_applicable("no storage resources or backup jobs defined in the repository")


# --- network exposure in IaC --------------------------------------------------------------------

WEB_PORTS = {80, 443, 8080, 8443}


@control(
    id="security.iac-network-exposure", title="Cloud datastores are private and firewall rules are narrow",
    category="security", severity="critical", evidence=["terraform"], verifiability="both",
    rationale="A database with a public endpoint, or a security group open to 0.0.0.0/0 on SSH or a database port, "
              "is found by internet-wide scanners within hours; brute force and unpatched exploits follow.",
    remediation="`publicly_accessible = false` on RDS and private subnets for datastores; security groups and "
                "firewall rules open to the world only on 80/443 of the load balancer, everything else from known "
                "CIDRs or other security groups; SSH through a bastion/SSM instead of 0.0.0.0/0:22.",
    references=["CIS AWS Foundations 5.2-5.3", "CIS GCP 3.6-3.7"],
    checklist=["security.internal_services_private", "security.firewall_rules"],
    phrases=["database not publicly accessible", "security groups", "firewall rules", "private subnets"],
)
def iac_network_exposure(p):
    any_ = False
    for r in tf_resources(p, "aws_db_instance", "aws_rds_cluster_instance", "aws_redshift_cluster",
                          "aws_dms_replication_instance"):
        any_ = True
        if truthy(r.body.get("publicly_accessible")):
            yield failed(f"{r.ref}: publicly_accessible = true", r.loc, r.ref)
        else:
            yield passed(f"{r.ref}: not publicly accessible", r.loc, r.ref)
    for r in tf_resources(p, "google_sql_database_instance"):
        any_ = True
        ip = tf_get(r.body, "settings", "ip_configuration") or {}
        nets = json.dumps(ip.get("authorized_networks") if isinstance(ip, dict) else "", default=str)
        if "0.0.0.0/0" in nets:
            yield failed(f"{r.ref}: authorized network 0.0.0.0/0", r.loc, r.ref)
        elif isinstance(ip, dict) and ip.get("ipv4_enabled") is False:
            yield passed(f"{r.ref}: private IP only", r.loc, r.ref)
        else:
            yield passed(f"{r.ref}: public IP without world-wide authorized networks", r.loc, r.ref,
                         confidence="medium")
    for r in tf_resources(p, "aws_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"):
        rules = []
        if r.type == "aws_security_group":
            rules = [x for x in (r.body.get("ingress") or []) if isinstance(x, dict)]
        elif r.type == "aws_vpc_security_group_ingress_rule" or str(r.body.get("type", "")) == "ingress":
            rules = [r.body]
        for rule in rules:
            any_ = True
            cidrs = json.dumps([rule.get("cidr_blocks"), rule.get("ipv6_cidr_blocks"), rule.get("cidr_ipv4"),
                                rule.get("cidr_ipv6")], default=str)
            lo, hi = as_int(rule.get("from_port")), as_int(rule.get("to_port"))
            if "0.0.0.0/0" not in cidrs and "::/0" not in cidrs:
                continue
            ports = set(range(lo, hi + 1)) if lo is not None and hi is not None and hi - lo < 70000 else set()
            if str(rule.get("protocol", rule.get("ip_protocol", ""))) == "-1" or (lo == 0 and hi in (0, 65535)):
                yield failed(f"{r.ref}: all ports open to the internet", r.loc, r.ref)
            elif ports and not ports <= WEB_PORTS:
                shown = sorted(ports - WEB_PORTS)[:3]
                yield failed(f"{r.ref}: port {', '.join(map(str, shown))} open to 0.0.0.0/0", r.loc, r.ref)
            else:
                yield passed(f"{r.ref}: only web ports open to the internet", r.loc, r.ref)
    for r in tf_resources(p, "google_compute_firewall"):
        any_ = True
        src = json.dumps(r.body.get("source_ranges"), default=str)
        allow = json.dumps(r.body.get("allow"), default=str)
        ports = set(int(x) for x in re.findall(r"\b(\d{1,5})\b", allow))
        if "0.0.0.0/0" in src and (not ports or not ports <= WEB_PORTS):
            yield failed(f"{r.ref}: {allow[:60]} open to 0.0.0.0/0", r.loc, r.ref)
        else:
            yield passed(f"{r.ref}: narrow source ranges or web ports only", r.loc, r.ref)
    if not any_:
        yield not_applicable("no cloud network or datastore resources in Terraform")


# --- datastore high availability ----------------------------------------------------------------

QUORUM = {"kafka": 3, "zookeeper": 3, "elasticsearch": 3, "mongodb": 3, "minio": 4, "etcd": 3, "clickhouse": 2,
          "postgres": 2, "mysql": 2, "redis": 2, "rabbitmq": 3}


@control(
    id="reliability.datastore-ha", title="Stateful services are replicated and fail over automatically",
    category="reliability", severity="high", evidence=["k8s", "terraform", "compose"],
    rationale="A single database, broker or cache instance is a single point of failure: a node failure, a zone "
              "outage or a routine upgrade takes the service down, and a lost disk loses data. Quorum systems "
              "(Kafka, ZooKeeper, etcd, Elasticsearch) need three members to survive one loss; MinIO erasure coding "
              "needs four drives.",
    remediation="Managed: RDS `multi_az = true`, Cloud SQL `availability_type = \"REGIONAL\"`, ElastiCache "
                "`automatic_failover_enabled = true` with `num_cache_clusters >= 2`. Kubernetes: CloudNativePG "
                "`instances: 3`, Redis Sentinel/RedisFailover, Strimzi Kafka `replicas: 3` with "
                "`default.replication.factor: 3` and `min.insync.replicas: 2`.",
    references=["Google SRE book ch. 26", "Kafka docs: replication", "AWS RDS Multi-AZ"],
    checklist=["reliability.stateful_cluster_ha", "reliability.db_replication", "reliability.automated_failover"],
    phrases=["database replication", "high availability", "automatic failover", "Kafka cluster with 3 brokers"],
)
def datastore_ha(p):
    found = servers(p)
    if not found:
        yield not_applicable("no datastore or broker servers defined for production in the repository")
        return
    for s in found:
        need = QUORUM.get(s.kind, 2)
        if s.source == "terraform":
            r = s.raw
            b = r.body
            if r.type in ("aws_db_instance",):
                ok = truthy(b.get("multi_az")) or bool(b.get("replicate_source_db"))
                msg = "multi_az = true" if ok else "single-AZ instance (multi_az not true)"
            elif r.type == "aws_rds_cluster":
                ok = True
                msg = "Aurora cluster (storage replicated across AZs; add a reader instance for fast failover)"
            elif r.type == "google_sql_database_instance":
                ok = str(tf_get(b, "settings", "availability_type") or "").upper() == "REGIONAL"
                msg = "availability_type = REGIONAL" if ok else "zonal instance (availability_type not REGIONAL)"
            elif r.type in ("azurerm_postgresql_flexible_server", "azurerm_mysql_flexible_server"):
                ok = bool(tf_get(b, "high_availability"))
                msg = "high_availability block" if ok else "no high_availability block"
            elif r.type == "aws_elasticache_replication_group":
                n = as_int(b.get("num_cache_clusters") or b.get("replicas_per_node_group") or 0) or 0
                ok = truthy(b.get("automatic_failover_enabled")) and (n >= 2 or bool(b.get("replicas_per_node_group")))
                msg = "automatic failover with replicas" if ok else "no automatic failover or replica"
            elif r.type == "aws_elasticache_cluster":
                ok, msg = False, "single-node cache cluster (use a replication group with failover)"
            elif r.type == "google_redis_instance":
                ok = str(b.get("tier", "")).upper() == "STANDARD_HA"
                msg = "STANDARD_HA tier" if ok else "BASIC tier (no replica)"
            elif r.type == "aws_msk_cluster":
                n = as_int(b.get("number_of_broker_nodes")) or 0
                ok, msg = n >= 3, f"{n} brokers"
            else:
                ok, msg = True, "managed service"
        elif s.source == "operator":
            n = s.replicas or 1
            ok = n >= need
            msg = f"{n} instance(s)" + ("" if ok else f", fewer than the {need} needed to survive a failure")
        else:
            n = s.replicas if s.replicas is not None else 1
            text = s.text
            sentinel = s.kind == "redis" and re.search(r"sentinel|replicaof|slaveof|cluster-enabled\s+yes", text, re.I)
            patroni = s.kind == "postgres" and re.search(r"patroni|repmgr|stolon|POSTGRESQL_REPLICATION_MODE", text,
                                                         re.I)
            ok = n >= need and (s.kind not in ("postgres", "mysql") or bool(patroni)) or bool(sentinel and n >= 2)
            if s.kind in ("postgres", "mysql") and n >= 2 and not patroni:
                msg = f"{n} replicas of a plain database image do not replicate: each has its own data"
                ok = False
            else:
                msg = f"{n} replica(s)" + ("" if ok else f"; needs {need}+ with replication for failover")
        if ok:
            yield passed(f"{s.ref} ({s.kind}): {msg}", s.loc, s.ref)
        else:
            yield failed(f"{s.ref} ({s.kind}): {msg}", s.loc, s.ref)


@control(
    id="scalability.db-read-replicas", title="Read replicas serve read-heavy traffic", category="scalability",
    severity="low", evidence=["terraform", "k8s", "python", "javascript"], optional=True,
    rationale="Reports, searches and list pages can be served by replicas, leaving the primary for writes; worth it "
              "once reads dominate, so off unless enabled.",
    remediation="Terraform: `aws_db_instance` with `replicate_source_db`, an Aurora reader; app: a second DSN "
                "(`DATABASE_READ_URL`) used for read-only queries.",
    references=["AWS RDS read replicas", "CloudNativePG: read-only services"],
    checklist=["scalability.db_read_replicas"],
    phrases=["read replicas", "read scaling"],
)
def db_read_replicas(p):
    dbs = servers(p, "postgres", "mysql")
    from ._util import uses_database

    if not dbs and not uses_database(p):
        yield not_applicable("no relational database")
        return
    reps = [r for r in tf_resources(p, "aws_db_instance") if r.body.get("replicate_source_db")] + \
        [r for r in tf_resources(p, "aws_rds_cluster_instance") if r.body]
    if len(reps) >= 2 or any(r.type == "aws_db_instance" for r in reps):
        yield passed(f"read replica {reps[0].ref}", reps[0].loc, reps[0].ref)
        return
    ops = [s for s in dbs if s.source == "operator" and (s.replicas or 1) >= 2]
    # (read-only connections matter only with standbys: searched for only then)
    dsn = ops and p.search_text(r"(READ(ONLY)?_?(DATABASE_)?(URL|DSN|HOST)|REPLICA_(URL|DSN|HOST)|-ro\.|\bro-)",
                                kinds=("python", "javascript", "typescript", "k8s", "helm-values", "compose"),
                                hints=("READ", "REPLICA", "-ro.", "ro-"))
    if ops and dsn:
        yield passed(f"{ops[0].ref} has standbys and the app reads through {dsn[0].path}", dsn[0], dsn[0].path)
    else:
        yield failed("no read replica and no read-only connection in the application")


# --- Kafka topics -------------------------------------------------------------------------------

@control(
    id="scalability.kafka-topics", title="Kafka topics are partitioned and replicated", category="scalability",
    severity="medium", evidence=["k8s", "compose", "terraform", "shell", "python", "javascript"],
    rationale="A topic's partition count caps how many consumers can work in parallel, and its replication factor "
              "decides whether a broker loss loses data; auto-created topics get the broker defaults (often one "
              "partition, replication factor 1).",
    remediation="Declare topics explicitly (Strimzi `KafkaTopic` with `partitions: 12, replicas: 3`, Terraform "
                "`kafka_topic`, or `kafka-topics.sh --create --partitions 12 --replication-factor 3`), set "
                "`min.insync.replicas=2`, and disable `auto.create.topics.enable` in production.",
    references=["Kafka docs: topic configuration", "Confluent: how to choose the number of partitions"],
    checklist=["scalability.kafka_partitioning"],
    phrases=["Kafka partitions", "topic replication factor"],
)
def kafka_topics(p):
    from .observability import KAFKA_LIBS

    brokers = servers(p, "kafka")
    clients = import_hits(p, KAFKA_LIBS, KAFKA_LIBS)
    if not brokers and not clients and not p.objects("KafkaTopic"):
        yield not_applicable("the project does not use Kafka")
        return
    any_ = False
    for o in p.objects("KafkaTopic"):
        any_ = True
        spec = o.raw.get("spec") or {}
        parts, reps = as_int(spec.get("partitions")), as_int(spec.get("replicas"))
        bad = [x for x in ((f"partitions {parts}" if (parts or 1) < 2 else None),
                           (f"replicas {reps}" if (reps or 1) < 3 else None)) if x]
        if bad:
            yield failed(f"{o.ref}: {', '.join(bad)}", o.loc, o.ref)
        else:
            yield passed(f"{o.ref}: {parts} partitions, {reps} replicas", o.loc, o.ref)
    for r in tf_resources(p, "kafka_topic", "confluent_kafka_topic"):
        any_ = True
        parts = as_int(r.body.get("partitions") or r.body.get("partitions_count"))
        rf = as_int(r.body.get("replication_factor"))
        if (parts or 1) < 2 or (rf is not None and rf < 3):
            yield failed(f"{r.ref}: partitions {parts}, replication_factor {rf}", r.loc, r.ref)
        else:
            yield passed(f"{r.ref}: partitions {parts}", r.loc, r.ref)
    for loc in p.search_text(r"kafka-topics(\.sh)?\b[^\n]*--create[^\n]*", kinds=("shell", "k8s", "compose",
                                                                                  "makefile", "yaml", "text"),
                             hints=("kafka-topics",)):
        any_ = True
        line = p.line_text(loc.path, loc.line) or ""
        m = re.search(r"--partitions[ =](\d+)", line)
        rf = re.search(r"--replication-factor[ =](\d+)", line)
        if m and int(m.group(1)) > 1:
            yield passed(f"topic created with {m.group(1)} partitions"
                         + (f", replication factor {rf.group(1)}" if rf else ""), loc, loc.path)
        else:
            yield failed("kafka-topics --create without more than one partition", loc, loc.path)
    for s in brokers:
        m = re.search(r"(NUM_PARTITIONS|num\.partitions)\W+(\d+)", s.text)
        if m:
            any_ = True
            if int(m.group(2)) > 1:
                yield passed(f"{s.ref}: default {m.group(2)} partitions", s.loc, s.ref)
            else:
                yield failed(f"{s.ref}: default num.partitions {m.group(2)}", s.loc, s.ref)
    if not any_:
        where = brokers[0].loc if brokers else clients[0][0]
        yield failed("Kafka is used but no topic declares its partitions (auto-created topics get the broker "
                     "default, usually 1)", where, where.path)


# --- Spark --------------------------------------------------------------------------------------

@control(
    id="performance.spark-config", title="Spark jobs run on a cluster, tuned, with checkpoints",
    category="performance", severity="medium", evidence=["python", "k8s", "shell"],
    rationale="`local[*]` runs the whole job on one machine; default executor memory and 200 shuffle partitions fit "
              "nobody's data; a streaming query without a durable checkpoint location reprocesses or loses data "
              "after every restart.",
    remediation="Submit with `--master k8s://...` (or the Spark operator's SparkApplication), set "
                "`spark.executor.memory`, `spark.sql.shuffle.partitions`, `spark.sql.adaptive.enabled=true`, and "
                "`.option(\"checkpointLocation\", \"s3a://bucket/checkpoints/job\")` on every writeStream.",
    references=["Spark docs: tuning", "Spark Structured Streaming: recovering from failures"],
    checklist=["performance.spark_tuning", "scalability.spark_cluster_mode", "reliability.spark_checkpointing"],
    phrases=["Spark tuning", "Spark cluster mode", "checkpointing"],
)
def spark_config(p):
    # (Python files importing pyspark or a submodule, from the project's import index)
    spark_files = [cf for cf in files_importing(p, ("pyspark",), ()) if cf.language == "python"]
    apps = p.objects("SparkApplication")
    submits = p.search_text(r"spark-submit", kinds=("shell", "k8s", "yaml", "makefile", "dockerfile", "python",
                                                   "github-workflow"), hints=("spark-submit",))
    if not (spark_files or apps or submits):
        yield not_applicable("no Spark jobs")
        return
    text = "\n".join(p.sources.get(cf.path, "") for cf in spark_files) + "\n" + "\n".join(
        json.dumps(o.raw, default=str) for o in apps) + "\n" + "\n".join(
        p.line_text(loc.path, loc.line) or "" for loc in submits)
    where = Loc(spark_files[0].path, 1) if spark_files else apps[0].loc if apps else submits[0]
    local = re.search(r"""(master\(\s*["']local|--master\s+["']?local|spark\.master["']?\s*[,:=]\s*["']?local)""",
                      text)
    if local:
        yield failed("Spark runs in local mode (master local[*])", where, where.path,
                     concept="scalability.spark_cluster_mode")
    else:
        yield passed("Spark master is a cluster manager (or set at submit time)", where, where.path,
                     confidence="medium", concept="scalability.spark_cluster_mode")
    tuned = re.findall(r"spark\.(executor\.memory|executor\.cores|driver\.memory|sql\.shuffle\.partitions|"
                       r"sql\.adaptive\.enabled|dynamicAllocation\.enabled|default\.parallelism)", text) + \
        re.findall(r"(executor-memory|num-executors|executor-cores|\"memory\"\s*:)", text)
    if tuned:
        yield passed(f"Spark tuned: {', '.join(sorted(set(tuned))[:4])}", where, where.path,
                     concept="performance.spark_tuning")
    else:
        yield failed("no executor memory, shuffle partitions or adaptive execution settings: Spark defaults apply",
                     where, where.path, concept="performance.spark_tuning")
    if re.search(r"\.writeStream\b|readStream\b", text):
        if "checkpointLocation" in text:
            yield passed("streaming queries set checkpointLocation", where, where.path,
                         concept="reliability.spark_checkpointing")
        else:
            yield failed("streaming query without checkpointLocation: restarts lose or reprocess data", where,
                         where.path, concept="reliability.spark_checkpointing")


# --- datastore configuration --------------------------------------------------------------------

TUNING = {
    "postgres": r"(shared_buffers|work_mem|effective_cache_size|max_connections|maintenance_work_mem)",
    "mysql": r"(innodb_buffer_pool_size|max_connections|innodb_log_file_size)",
    "redis": r"(maxmemory)",
    "kafka": r"(KAFKA_HEAP_OPTS|num\.io\.threads|num\.network\.threads|log\.segment\.bytes|KAFKA_CFG_|heap)",
    "elasticsearch": r"(ES_JAVA_OPTS|-Xmx|heap)",
    "clickhouse": r"(max_memory_usage|max_server_memory_usage|max_threads)",
    "mongodb": r"(wiredTigerCacheSizeGB|cacheSizeGB)",
    "minio": r"(MINIO_CACHE|MINIO_STORAGE_CLASS|erasure|MINIO_API_REQUESTS_MAX)",
}


DATASTORE_CONF_RX = re.compile(r"(postgresql|redis|my|mongod|kafka|server)[^/]*\.(conf|cnf|properties|ya?ml)$")


@control(
    id="performance.datastore-config", title="Datastores are sized and tuned, not left at image defaults",
    category="performance", severity="medium", evidence=["k8s", "compose", "terraform", "text"],
    rationale="Image defaults are sized for a laptop: PostgreSQL's 128 MB shared_buffers, Redis without maxmemory "
              "(it grows until the OOM killer takes it), a JVM heap that ignores the container limit. Turning off "
              "autovacuum lets tables bloat until queries crawl.",
    remediation="PostgreSQL: set shared_buffers (~25% of memory), work_mem, max_connections (CNPG "
                "`postgresql.parameters`, RDS parameter group, or `-c` args) and leave autovacuum on; Redis: "
                "`--maxmemory 1gb --maxmemory-policy allkeys-lru` (or noeviction for queues); Kafka/Elasticsearch: "
                "heap from the container limit; capture slow queries (`log_min_duration_statement = 500`, "
                "`shared_preload_libraries = pg_stat_statements`, RDS Performance Insights).",
    references=["PostgreSQL wiki: Tuning Your PostgreSQL Server", "Redis docs: memory optimisation",
                "PostgreSQL docs: pg_stat_statements"],
    checklist=["performance.datastore_tuning", "performance.db_vacuum_analyze", "observability.slow_query_logging"],
    phrases=["database tuning", "optimize database settings", "Redis maxmemory", "memory eviction policy", "autovacuum", "VACUUM ANALYZE", "slow query log"],
)
def datastore_config(p):
    found = [s for s in servers(p) if s.kind in TUNING]
    if not found:
        yield not_applicable("no datastore servers defined for production in the repository")
        return
    conf_files = {f: p.sources.get(f, "") for f in p.files if DATASTORE_CONF_RX.search(f)}
    for s in found:
        text = s.text + " ".join(t for f, t in conf_files.items() if s.kind[:4] in f.lower())
        if s.source == "terraform":
            groups = tf_resources(p, "aws_db_parameter_group", "aws_rds_cluster_parameter_group",
                                  "aws_elasticache_parameter_group")
            flags = json.dumps(tf_get(s.raw.body, "settings", "database_flags"), default=str)
            if groups or s.raw.body.get("parameter_group_name") or "name" in flags:
                yield passed(f"{s.ref}: parameter group / database flags", s.loc, s.ref)
            else:
                yield passed(f"{s.ref}: managed service defaults (sized by instance class)", s.loc, s.ref,
                             confidence="low")
            text = json.dumps([g.body for g in groups], default=str)
        elif re.search(TUNING[s.kind], text, re.I):
            yield passed(f"{s.ref} ({s.kind}): tuned ({re.search(TUNING[s.kind], text, re.I).group(1)})", s.loc, s.ref)
        else:
            why = " (unbounded memory: Redis grows until OOM-killed)" if s.kind == "redis" else ""
            yield failed(f"{s.ref} ({s.kind}) runs with image defaults{why}", s.loc, s.ref)
        if s.kind == "postgres":
            slow = re.search(r"(log_min_duration_statement|pg_stat_statements|auto_explain|performance_insights_enabled|"
                             r"query_insights_enabled|enablePgStatStatements)", text + s.text, re.I)
            if slow:
                yield passed(f"{s.ref}: slow queries captured ({slow.group(1)})", s.loc, s.ref,
                             concept="observability.slow_query_logging")
            else:
                yield failed(f"{s.ref}: slow queries are not captured (no log_min_duration_statement, "
                             "pg_stat_statements or Performance Insights)", s.loc, s.ref,
                             concept="observability.slow_query_logging")
        if s.kind == "postgres" and re.search(r"autovacuum\W+(off|false|0)\b", text, re.I) and not \
                p.search_text(r"VACUUM\s+(\(|ANALYZE|VERBOSE|FULL)|vacuumdb", kinds=("k8s", "shell", "sql", "yaml"),
                              hints=("VACUUM", "vacuumdb")):
            yield failed(f"{s.ref}: autovacuum is off and no scheduled VACUUM ANALYZE replaces it", s.loc, s.ref)


# --- cluster capacity ---------------------------------------------------------------------------

NODE_GROUPS = ("aws_eks_node_group", "google_container_node_pool", "azurerm_kubernetes_cluster_node_pool",
               "azurerm_kubernetes_cluster", "aws_autoscaling_group", "digitalocean_kubernetes_cluster")


@control(
    id="reliability.cluster-capacity", title="The Kubernetes cluster is HA, spread over zones and autoscaled",
    category="reliability", severity="high", evidence=["terraform", "k8s"],
    rationale="Pod replicas only help if the nodes under them are many and in different zones; a node group of one "
              "or two nodes in one zone, or one that cannot grow, turns a node failure or a traffic spike into an "
              "outage.",
    remediation="Managed control plane (EKS/GKE/AKS, regional for GKE); node groups with `min_size >= 3` across at "
                "least two subnets/zones and `max_size` above it, plus cluster-autoscaler or Karpenter.",
    references=["Kubernetes docs: running in multiple zones", "AWS EKS best practices: reliability"],
    checklist=["reliability.k8s_cluster_ha", "scalability.cluster_autoscaling", "reliability.multi_zone"],
    phrases=["cluster high availability", "cluster autoscaler", "multi-AZ node groups", "Karpenter"],
)
def cluster_capacity(p):
    groups = tf_resources(p, *NODE_GROUPS)
    eksctl = [o for o in p.k8s_objects if o.kind == "ClusterConfig" and "eksctl" in o.api_version]
    modules = [r for r in tf_resources(p, "module") if re.search(r"(eks|gke|aks|kubernetes-engine)",
                                                                 str(r.body.get("source", "")), re.I)]
    if not (groups or eksctl or modules):
        yield not_applicable("the cluster is not defined in this repository")
        return
    autoscaler = p.search_text(r"(cluster-autoscaler|karpenter|NodePool|autoscaling\s*\{|enable_auto_scaling|"
                               r"auto_scaler_profile|autoscaling_config)", kinds=("k8s", "terraform", "helm-values",
                                                                                  "yaml"),
                               hints=("autoscal", "karpenter", "NodePool", "auto_scal"))
    for r in groups:
        b = r.body
        sc = tf_get(b, "scaling_config") or tf_get(b, "autoscaling") or tf_get(b, "default_node_pool") or b
        mn = as_int(sc.get("min_size") or sc.get("min_node_count") or sc.get("min_count") or sc.get("desired_size")
                    or b.get("node_count") or sc.get("node_count")) if isinstance(sc, dict) else None
        mx = as_int(sc.get("max_size") or sc.get("max_node_count") or sc.get("max_count")) if isinstance(sc, dict) \
            else None
        subnets = b.get("subnet_ids") or b.get("vpc_zone_identifier") or b.get("node_locations") or b.get("zones") \
            or (sc.get("zones") if isinstance(sc, dict) else None)
        nzones = len(subnets) if isinstance(subnets, list) else None
        problems = []
        if mn is not None and mn < 3:
            problems.append(f"minimum {mn} node(s)")
        if nzones is not None and nzones < 2:
            problems.append("a single subnet/zone")
        if (mx is None or (mn is not None and mx <= mn)) and not autoscaler:
            problems.append("cannot scale out (no max above min, no autoscaler)")
        if problems:
            yield failed(f"{r.ref}: {'; '.join(problems)}", r.loc, r.ref, concept="reliability.k8s_cluster_ha")
        else:
            yield passed(f"{r.ref}: {mn} to {mx} nodes" + (f" over {nzones} subnets/zones" if nzones else ""),
                         r.loc, r.ref, concept="reliability.k8s_cluster_ha")
    for o in eksctl:
        ngs = (o.raw.get("managedNodeGroups") or []) + (o.raw.get("nodeGroups") or [])
        for ng in ngs:
            if isinstance(ng, dict):
                mn = as_int(ng.get("minSize") or ng.get("desiredCapacity"))
                if mn is not None and mn < 3:
                    yield failed(f"{o.ref} node group {ng.get('name')}: minimum {mn} node(s)", o.loc, o.ref)
                else:
                    yield passed(f"{o.ref} node group {ng.get('name')}: {mn} nodes minimum", o.loc, o.ref)
    if modules and not groups:
        yield passed(f"cluster defined by {modules[0].ref} ({modules[0].body.get('source')})", modules[0].loc,
                     modules[0].ref, confidence="low")


# --- load balancing -----------------------------------------------------------------------------

@control(
    id="reliability.load-balancing", title="Traffic is load-balanced over healthy instances", category="reliability",
    severity="high", evidence=["k8s", "nginx", "terraform"],
    rationale="A load balancer only helps if it has several backends and stops sending traffic to the ones that "
              "fail their health check; otherwise one bad instance fails a share of all requests.",
    remediation="Kubernetes: a Service over 2+ ready replicas with a readinessProbe; nginx: an upstream with several "
                "servers (passive checks: `max_fails=3 fail_timeout=10s`, never `max_fails=0`); cloud: a target "
                "group `health_check { path = \"/healthz\" }`.",
    references=["Google SRE book ch. 19-20 (load balancing)", "nginx docs: upstream health checks"],
    checklist=["reliability.load_balancer", "reliability.lb_health_checks"],
    phrases=["load balancer", "health checks on the load balancer", "configure ingress load balancing", "route traffic only to healthy instances"],
)
def load_balancing(p):
    any_ = False
    for s in p.objects("Service"):
        spec = s.raw.get("spec") or {}
        if not isinstance(spec.get("selector"), dict) or spec.get("clusterIP") == "None":
            continue
        # the first long-running controller selected (these kinds always run long)
        w = next((w for w in pod_index(p).select_map(s.namespace, spec.get("selector"), near=s)
                  if w.kind in ("Deployment", "StatefulSet", "ReplicaSet", "DeploymentConfig")), None)
        if w is None:
            continue
        any_ = True
        hpa = p.autoscaler_for(w)
        n = w.replicas if w.replicas is not None else 1
        if hpa is not None:
            n = max(n, as_int((hpa.raw.get("spec") or {}).get("minReplicas")) or 1)
        ready = all("readiness" in c.probes for c in w.containers if not c.init)
        sref, wref = obj_ref(s), obj_ref(w)
        if n >= 2 and ready:
            yield passed(f"{sref} balances over {n}+ replicas of {wref}, gated by readiness", s.loc, sref)
        elif n < 2:
            yield failed(f"{sref} fronts a single replica of {wref}", s.loc, sref)
        else:
            yield failed(f"{sref} balances over {wref}, which has no readiness probe, so failing pods keep getting "
                         "traffic", s.loc, sref)
    for path, tree in p.nginx.items():
        for d, _anc in nginx_directives(tree):
            if d.name != "upstream":
                continue
            srv = [c for c in d.block or [] if c.name == "server"]
            if not srv:
                continue
            any_ = True
            if any("max_fails=0" in " ".join(c.args) for c in srv):
                yield failed(f"upstream {' '.join(d.args)}: max_fails=0 disables health checking", Loc(path, d.line),
                             path)
            elif len(srv) >= 2 or any(c.name == "health_check" for c in d.block or []):
                yield passed(f"upstream {' '.join(d.args)}: {len(srv)} servers with passive health checks",
                             Loc(path, d.line), path)
            elif re.search(r"[a-z]", srv[0].args[0] if srv[0].args else "") and not re.match(
                    r"(localhost|127\.)", srv[0].args[0]):
                yield passed(f"upstream {' '.join(d.args)}: one hostname ({srv[0].args[0]}), itself a load-balanced "
                             "endpoint", Loc(path, d.line), path, confidence="low")
            else:
                yield failed(f"upstream {' '.join(d.args)} has a single server", Loc(path, d.line), path)
    for r in tf_resources(p, "aws_lb_target_group", "aws_alb_target_group", "google_compute_health_check",
                          "google_compute_backend_service"):
        any_ = True
        hc = tf_get(r.body, "health_check")
        if r.type.startswith("google") or (isinstance(hc, dict) and hc.get("path") not in (None, "/")):
            yield passed(f"{r.ref}: health check configured", r.loc, r.ref)
        else:
            yield failed(f"{r.ref}: default health check on '/' (set health_check.path to the health endpoint)", r.loc,
                         r.ref, confidence="medium")
    if not any_:
        yield not_applicable("no load balancer, Service or upstream in front of services")


# --- advanced reliability practices (optional) --------------------------------------------------

@control(
    id="reliability.advanced-practices", title="Chaos experiments, multi-region, DNS as code and namespace quotas",
    category="reliability", severity="low", evidence=["k8s", "terraform"], optional=True,
    rationale="Mature platforms rehearse failure (chaos experiments), survive a region loss, manage DNS with the rest "
              "of the infrastructure, and cap each namespace's resources. Each depends on the service's criticality "
              "and the platform, so this policy is off unless enabled.",
    remediation="Chaos Mesh/Litmus experiments in the repository; the stack in two regions with failover routing; "
                "Route53/Cloudflare records in Terraform or external-dns annotations; a ResourceQuota and LimitRange "
                "per namespace.",
    references=["Principles of Chaos Engineering", "AWS Well-Architected: multi-region", "Kubernetes docs: "
                "ResourceQuota"],
    checklist=["reliability.chaos_engineering", "reliability.multi_region", "reliability.dns_configured",
               "reliability.k8s_resource_quotas"],
    phrases=["chaos engineering", "multi-region deployment", "DNS records", "resource quotas"],
)
def advanced_practices(p):
    if not (p.workloads or p.terraform):
        yield not_applicable("no deployable infrastructure in the repository")
        return
    chaos = [o for o in p.k8s_objects if "chaos-mesh.org" in o.api_version or "litmuschaos.io" in o.api_version] or \
        [loc for loc in p.search_text(r"(chaostoolkit|gremlin|toxiproxy|pumba|chaos-mesh|litmus)",
                                      kinds=("python", "yaml", "k8s", "shell", "json", "github-workflow"),
                                      hints=("chaos", "gremlin", "toxiproxy", "pumba", "litmus"))]
    _emit = []
    for label, what, hits in (
            ("reliability.chaos_engineering", "chaos experiments", chaos),
            ("reliability.multi_region", "deployment to more than one region", _regions(p)),
            ("reliability.dns_configured", "DNS records managed as code",
             tf_resources(p, "aws_route53_record", "cloudflare_record", "cloudflare_dns_record",
                          "google_dns_record_set", "azurerm_dns_a_record", "azurerm_dns_cname_record") or
             [loc for loc in p.search_text(r"external-dns", kinds=("k8s", "helm-values", "yaml"),
                                           hints=("external-dns",))]),
            ("reliability.k8s_resource_quotas", "ResourceQuota/LimitRange per namespace",
             p.objects("ResourceQuota") + p.objects("LimitRange"))):
        if hits:
            h = hits[0]
            loc = h.loc if hasattr(h, "loc") and not isinstance(h, Loc) else h
            yield passed(f"{what}: {getattr(h, 'ref', None) or loc.path}", loc, loc.path, concept=label)
        else:
            yield failed(f"no {what}", None, concept=label)


def _regions(p):
    regions = set()
    for path in p.terraform:
        regions |= set(re.findall(r"\b(us|eu|ap|sa|ca|me|af)-(north|south|east|west|central|northeast|southeast)-\d\b",
                                  p.sources.get(path, "")))
    return list(tf_resources(p, "aws_route53_health_check")) if len(regions) >= 2 else []


# --- cost ---------------------------------------------------------------------------------------

@control(
    id="cost.cost-visibility", title="Cloud spend is budgeted and monitored", category="cost", severity="medium",
    evidence=["terraform", "k8s", "helm-values"],
    rationale="Costs drift silently (a forgotten load test cluster, logs at DEBUG, an autoscaler without a ceiling); "
              "a budget with alerts or a cost allocation tool catches it in days instead of at the invoice.",
    remediation="Terraform: `aws_budgets_budget` with notifications (or `google_billing_budget`, "
                "`azurerm_consumption_budget_*`); Kubernetes: Kubecost or OpenCost for per-namespace allocation.",
    references=["FinOps Foundation: cost allocation and budgeting", "AWS Budgets docs"],
    checklist=["cost.cost_monitoring"],
    phrases=["cost monitoring", "budget alerts", "Kubecost", "cost tracking"],
)
def cost_visibility(p):
    cloud = [r for r in tf_resources(p) if r.type.startswith(("aws_", "google_", "azurerm_"))]
    budgets = tf_resources(p, "aws_budgets_budget", "google_billing_budget", "azurerm_consumption_budget_*",
                           "aws_ce_anomaly_monitor", "aws_ce_anomaly_subscription")
    tools = p.search_text(r"(kubecost|opencost|cost-analyzer)", kinds=("k8s", "helm-values", "yaml", "terraform",
                                                                       "kustomization"),
                          hints=("kubecost", "opencost", "cost-analyzer"))
    if not cloud and not tools:
        yield not_applicable("no cloud infrastructure defined in the repository")
        return
    if budgets:
        yield passed(f"budget {budgets[0].ref}", budgets[0].loc, budgets[0].ref)
    elif tools:
        yield passed(f"cost allocation tool in {tools[0].path}", tools[0], tools[0].path)
    else:
        yield failed(f"{len(cloud)} cloud resources in Terraform and no budget or cost monitoring", cloud[0].loc,
                     cloud[0].ref)


@control(
    id="cost.cost-optimization", title="Spot capacity, non-production shutdown and storage tiering",
    category="cost", severity="low", evidence=["terraform", "k8s", "github-workflow"], optional=True,
    rationale="Interruptible capacity costs 60-90% less for stateless and batch work, non-production environments "
              "idle two thirds of the week, and old objects rarely read belong in cheaper storage classes. Whether "
              "each fits depends on the workload, so this policy is off unless enabled.",
    remediation="Node groups with `capacity_type = \"SPOT\"` (or Karpenter `karpenter.sh/capacity-type: spot`) for "
                "batch/stateless pools; kube-downscaler annotations or a scheduled scale-to-zero for staging; "
                "lifecycle `transition` rules to STANDARD_IA/GLACIER.",
    references=["FinOps Foundation: workload optimisation", "AWS S3 lifecycle docs"],
    checklist=["cost.spot_instances", "cost.dev_auto_shutdown", "cost.storage_tiering"],
    phrases=["spot instances", "shut down dev environments", "storage tiering", "lifecycle transitions"],
)
def cost_optimization(p):
    groups = tf_resources(p, *NODE_GROUPS) + [o for o in p.k8s_objects if o.kind == "NodePool"]
    buckets = tf_resources(p, "aws_s3_bucket", "google_storage_bucket", "azurerm_storage_account")
    if not (groups or buckets or p.workloads):
        yield not_applicable("no infrastructure to optimise in the repository")
        return
    if groups:  # (spot capacity is looked for only where there are node groups)
        spot = p.search_text(r"(capacity_type\s*=\s*\"SPOT\"|spot_instance_pools|preemptible\s*=\s*true|spot\s*=\s*true|"
                             r"capacity-type[\"']?\s*[:,]\s*\[?\s*[\"']?spot|priority\s*=\s*\"Spot\"|lifecycle:\s*Ec2Spot)",
                             kinds=("terraform", "k8s", "yaml", "helm-values"), hints=("SPOT", "spot", "Spot",
                                                                                      "preemptible"))
        if spot:
            yield passed(f"spot/preemptible capacity in {spot[0].path}", spot[0], spot[0].path,
                         concept="cost.spot_instances")
        else:
            yield failed("all node groups are on-demand", groups[0].loc, groups[0].loc.path,
                         concept="cost.spot_instances")
    nonprod = p.search_text(r"(staging|dev|preview)", kinds=("kustomization", "github-workflow", "terraform"),
                            hints=("staging", "dev", "preview"))
    if nonprod:
        down = p.search_text(r"(kube-downscaler|downscaler/|scale(-|_)?(to)?(-|_)?zero|instance[-_]scheduler|"
                             r"--replicas=0|replicas:\s*0|auto_?stop|schedule.*scale)",
                             kinds=("k8s", "github-workflow", "gitlab-ci", "terraform", "shell", "yaml"),
                             hints=("downscaler", "zero", "scheduler", "replicas", "stop", "scale"))
        if down:
            yield passed(f"non-production scale-down in {down[0].path}", down[0], down[0].path,
                         concept="cost.dev_auto_shutdown")
        else:
            yield failed("non-production environments run around the clock", nonprod[0], nonprod[0].path,
                         concept="cost.dev_auto_shutdown")
    if buckets:
        tiers = p.search_text(r"(transition\s*\{|storage_class\s*=\s*\"(STANDARD_IA|ONEZONE_IA|GLACIER|DEEP_ARCHIVE|"
                              r"INTELLIGENT_TIERING|NEARLINE|COLDLINE|ARCHIVE)|SetStorageClass|tier_to_cool|"
                              r"mc ilm (tier|rule add.*--transition))", kinds=("terraform", "shell", "k8s", "yaml"),
                              hints=("transition", "storage_class", "SetStorageClass", "tier_to", "ilm"))
        if tiers:
            yield passed(f"lifecycle tiering in {tiers[0].path}", tiers[0], tiers[0].path, concept="cost.storage_tiering")
        else:
            yield failed("buckets without lifecycle transitions to cheaper storage", buckets[0].loc, buckets[0].ref,
                         concept="cost.storage_tiering")
