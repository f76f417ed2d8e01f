"""Small helpers shared by controls (queries over the model, never I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import Container, Loc, Project, Workload

SECRET_NAME_RX = re.compile(
    r"(?i)(^|[_.\-])(pass(word|wd)?|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|"
    r"auth[_-]?token|client[_-]?secret|secret[_-]?key|jwt[_-]?secret)($|[_.\-])"
)
NOT_SECRET_VALUE_RX = re.compile(r"^(\$\{.*\}|\$\(.*\)|\{\{.*\}\}|<.*>|true|false|yes|no|none|null|\d{1,5}|/.*|file:.*)$",
                                 re.I)
DATASTORE_IMAGES = re.compile(
    r"(^|/)(postgres|postgresql|mysql|mariadb|mongo|mongodb|redis|valkey|memcached|elasticsearch|opensearch|"
    r"cassandra|clickhouse|kafka|zookeeper|rabbitmq|nats|minio|timescaledb|couchdb|neo4j|influxdb|etcd)"
    r"([-_].*)?$", re.I)


def containers(p: Project, include_init: bool = False, production: bool = False
               ) -> Iterator[tuple[Workload, Container]]:
    """Every (workload, container). ``production=True`` leaves out Compose services judged to be local
    development environments (see ``Workload.dev_only``): runtime-hardening controls do not apply to them."""
    for w in p.workloads:
        if production and w.dev_only:
            continue
        for c in w.containers:
            if c.init and not include_init:
                continue
            yield w, c


def cref(w: Workload, c: Container) -> str:
    return w.ref if w.source == "compose" else f"{w.ref} container {c.name}"


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME_RX.search(name)) and not name.upper().endswith(("_FILE", "_PATH", "_LENGTH", "_TTL",
                                                                            "_EXPIRY", "_EXPIRES", "_ALGORITHM"))


def is_literal_secret(value: str | None) -> bool:
    if value is None:
        return False
    v = value.strip()
    return len(v) >= 3 and not NOT_SECRET_VALUE_RX.match(v)


def is_datastore(c: Container) -> bool:
    return c.image is not None and bool(DATASTORE_IMAGES.search(c.image.repository))


def uses_database(p: Project) -> list[Loc]:
    """Evidence that the project runs or talks to a relational database."""
    locs: list[Loc] = []
    for _w, c in containers(p):
        if c.image is not None and re.search(r"(^|/)(postgres|postgresql|mysql|mariadb|timescaledb|postgis)", c.image.repository):
            locs.append(c.loc)
    for cf in p.code:
        if cf.language == "python":
            for mod in ("sqlalchemy", "psycopg", "psycopg2", "asyncpg", "django.db", "pymysql", "sqlmodel"):
                if mod in cf.facts.imports:
                    locs.append(Loc(cf.path, cf.facts.imports[mod]))
                    break
        else:
            for mod in ("pg", "mysql2", "knex", "typeorm", "@prisma/client", "sequelize", "postgres"):
                if mod in cf.facts.imports:
                    locs.append(Loc(cf.path, cf.facts.imports[mod]))
                    break
    for path, tf in p.terraform.items():
        if "aws_db_instance" in str(tf) or "aws_rds_cluster" in str(tf) or "google_sql_database_instance" in str(tf):
            locs.append(Loc(path, None))
    return locs


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels style dict) matches labels; an empty selector matches all."""
    if selector is None:
        return False
    return all(labels.get(str(k)) == str(v) for k, v in selector.items())


def label_selector_matches(sel: dict | None, labels: dict[str, str]) -> bool:
    """Full LabelSelector (matchLabels + matchExpressions)."""
    if not isinstance(sel, dict):
        return False
    ml = sel.get("matchLabels") or {}
    if not all(labels.get(str(k)) == str(v) for k, v in ml.items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        if not isinstance(expr, dict):
            return False
        key, op, vals = str(expr.get("key")), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def ci_steps(p: Project):
    for pl in p.pipelines:
        for job in pl.jobs:
            for s in job.steps:
                yield pl, job, s


def ci_find(p: Project, pattern: str) -> list[tuple[Loc, str]]:
    """Steps whose action or command matches ``pattern`` (case-insensitive)."""
    rx = re.compile(pattern, re.I)
    hits = []
    for pl, job, s in ci_steps(p):
        text = "\n".join(x for x in (s.uses or "", s.run or "", s.name or "", job.name) if x)
        if rx.search(text):
            hits.append((s.loc, f"{pl.path} job '{job.name}'"))
    return hits


def doc_matching(p: Project, name_rx: str, heading_rx: str, min_words: int = 40):
    """Docs judged by content: a doc whose path or headings match, with enough words to be real."""
    nrx, hrx = re.compile(name_rx, re.I), re.compile(heading_rx, re.I)
    out = []
    for d in p.docs:
        by_name = bool(nrx.search(d.path.rsplit("/", 1)[-1]))
        heads = [h for h in d.headings if hrx.search(h.text)]
        if (by_name or heads) and d.words >= min_words:
            out.append((d, heads))
    return out


def per_dockerfile(p: Project, findings, ok: str):
    """The shared shape of Dockerfile controls: every failing outcome ``findings(dockerfile)`` yields, or one
    pass saying ``ok`` for a Dockerfile with none; not applicable when the project has no Dockerfile."""
    from .base import not_applicable, passed

    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        bad = False
        for outcome in findings(d):
            bad = True
            yield outcome
        if not bad:
            yield passed(ok, Loc(d.path, None), d.path)


def strings_in(obj, limit: int = 100_000) -> str:
    """Every string (keys and values) inside a parsed document, one per line — for term searches."""
    out: list[str] = []
    stack = [obj]
    while stack and len(out) < limit:
        x = stack.pop()
        if isinstance(x, dict):
            for k, v in x.items():
                out.append(str(k))
                stack.append(v)
        elif isinstance(x, list):
            stack.extend(x)
        elif x is not None:
            out.append(str(x))
    return "\n".join(out)
