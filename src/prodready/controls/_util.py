"""Small helpers shared by controls (queries over the model, never I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from ..model import Container, Loc, Project, Workload
from ..textindex import LowerJoined, required_literals
from ._k8s import obj_ref

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
    development environments (see ``Workload.dev_only``): runtime-hardening controls do not apply to them. The
    pairs are listed once per project and variant: many controls walk them."""
    def pairs() -> list[tuple[Workload, Container]]:
        return [(w, c) for w in p.workloads if not (production and w.dev_only)
                for c in w.containers if include_init or not c.init]

    return iter(p.derived(("util.containers", include_init, production), pairs))


def cref(w: Workload, c: Container) -> str:
    # remembered on the container (for its workload): the runtime controls name the same containers many times
    memo = c.__dict__.get("_util_cref")
    if memo is not None and memo[0] is w:
        return memo[1]
    ref = obj_ref(w) if w.source == "compose" else f"{obj_ref(w)} container {c.name}"
    c._util_cref = (w, ref)  # type: ignore[attr-defined]
    return ref


# the tests below are pure functions of a short string, asked again for the same names, values and images by
# many controls: their answers are remembered
@lru_cache(maxsize=16384)
def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME_RX.search(name)) and not name.upper().endswith(("_FILE", "_PATH", "_LENGTH", "_TTL",
                                                                            "_EXPIRY", "_EXPIRES", "_ALGORITHM"))


@lru_cache(maxsize=16384)
def is_literal_secret(value: str | None) -> bool:
    if value is None:
        return False
    v = value.strip()
    return len(v) >= 3 and not NOT_SECRET_VALUE_RX.match(v)


def is_datastore(c: Container) -> bool:
    return c.image is not None and is_datastore_image(c.image.repository)


def datastore_workloads(p: Project) -> set[int]:
    """``id`` of the workloads with a datastore container (:func:`is_datastore`), found once per project: several
    controls leave them out or single them out (test ``id(w) in datastore_workloads(p)``)."""
    return p.derived("util.datastore-workloads",
                     lambda: {id(w) for w in p.workloads if any(is_datastore(c) for c in w.containers)})


@lru_cache(maxsize=16384)
def is_datastore_image(repository: str) -> bool:
    return bool(DATASTORE_IMAGES.search(repository))


def uses_database(p: Project) -> list[Loc]:
    """Evidence that the project runs or talks to a relational database (computed once per project)."""
    return list(p.derived("util.uses-database", lambda: _uses_database(p)))


RELATIONAL_IMAGE_RX = re.compile(r"(^|/)(postgres|postgresql|mysql|mariadb|timescaledb|postgis)")


def _uses_database(p: Project) -> list[Loc]:
    locs: list[Loc] = []
    for _w, c in containers(p):
        if c.image is not None and RELATIONAL_IMAGE_RX.search(c.image.repository):
            locs.append(c.loc)
    from ._app import files_importing

    py_db = ("sqlalchemy", "psycopg", "psycopg2", "asyncpg", "django.db", "pymysql", "sqlmodel")
    js_db = ("pg", "mysql2", "knex", "typeorm", "@prisma/client", "sequelize", "postgres")
    for cf in files_importing(p, py_db, js_db):  # files importing one of them or a submodule (project index)
        if cf.language == "python":
            for mod in py_db:
                if mod in cf.facts.imports:
                    locs.append(Loc(cf.path, cf.facts.imports[mod]))
                    break
        else:
            for mod in js_db:
                if mod in cf.facts.imports:
                    locs.append(Loc(cf.path, cf.facts.imports[mod]))
                    break
    for path, tf in p.terraform.items():
        if "aws_db_instance" in str(tf) or "aws_rds_cluster" in str(tf) or "google_sql_database_instance" in str(tf):
            locs.append(Loc(path, None))
    return locs


def files_named(p: Project, *names: str) -> list[str]:
    """Paths (in ``p.files`` order) whose file name is one of ``names``, from a file-name index built once per
    project (several controls look for a few well-known file names among thousands of files)."""
    def index() -> dict[str, list[str]]:
        idx: dict[str, list[str]] = {}
        for path in p.files:
            idx.setdefault(path.rsplit("/", 1)[-1], []).append(path)
        return idx

    idx = p.derived("util.files-by-name", index)
    if len(names) == 1:
        return list(idx.get(names[0], ()))
    pos = p.derived("util.file-positions", lambda: {path: i for i, path in enumerate(p.files)})
    return sorted((path for n in set(names) for path in idx.get(n, ())), key=pos.__getitem__)


class _LowIndex(LowerJoined):
    """The project's paths, its CI steps or its doc headings, lower-cased and joined into one string (see
    ``textindex.LowerJoined``). Built once per project (see :func:`paths_containing`, :func:`paths_matching`,
    :func:`ci_find`, :func:`headings_matching`)."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.texts = texts
        self.non_ascii = [i for i, t in enumerate(texts) if not t.isascii()]


def _path_index(p: Project) -> _LowIndex:
    return p.derived("util.path-index", lambda: _LowIndex(list(p.files)))


def paths_containing(p: Project, words: tuple[str, ...]) -> list[str]:
    """The paths (in ``p.files`` order) whose lower-cased form contains one of the lowercase ``words``: the same as
    ``[f for f in p.files if any(w in f.lower() for w in words)]``, from a project-wide index."""
    idx = _path_index(p)
    return [idx.texts[i] for i in sorted(idx.holding(words))]


@lru_cache(maxsize=256)
def _ascii_literals(pattern: str, flags: int) -> frozenset[str] | None:
    """The lower-cased literals one of which every match of the pattern holds (None: no such set, or one with a
    non-ASCII literal, whose case folding the lowered texts may not mirror)."""
    lits = required_literals(pattern, flags)
    return lits if lits is not None and all(x.isascii() for x in lits) else None


def paths_matching(p: Project, rx: re.Pattern, words: tuple[str, ...] | None = None) -> list[str]:
    """``[f for f in p.files if rx.search(f)]``, testing only the paths that can match: those whose lowered form
    holds one of the literals every match needs (read from the pattern, see ``textindex.required_literals``), and
    the non-ASCII ones (letter case folds differently there). ``words`` (lowercase) replaces the literals read from
    the pattern: then the paths tested are exactly those ``may_contain(f, words)`` lets through."""
    lits = _ascii_literals(rx.pattern, rx.flags) if words is None else words
    if lits is None:
        return [f for f in p.files if rx.search(f)]
    idx = _path_index(p)
    paths = idx.texts
    return [paths[i] for i in sorted(idx.holding(lits).union(idx.non_ascii)) if rx.search(paths[i])]


def ascii_lower(text: str) -> str | None:
    """``text.lower()`` when the text is ASCII, None otherwise. For ASCII text, a case-insensitive search for an
    ASCII word finds it exactly where the lowered text contains the lowered word, so a fast ``in`` can stand in for
    it; some non-ASCII letters match ASCII ones under ``re.I`` (dotless i, long s) yet lower differently, so callers
    must fall back to the pattern itself on None."""
    return text.lower() if text.isascii() else None


def may_contain(text: str, words: tuple[str, ...]) -> bool:
    """False only when ``text`` surely holds none of the lowercase ASCII ``words`` in any letter case: a cheap
    pre-check for a case-insensitive pattern that cannot match without one of them (see :func:`ascii_lower`)."""
    low = ascii_lower(text)
    return low is None or any(w in low for w in words)


def lowered(p: Project, key: str, text: str) -> str | None:
    """``ascii_lower(text)``, remembered per project under ``key`` (e.g. "doc:" + path): several controls search
    the same documents and sources case-insensitively."""
    memo = p.derived("util.lowered", dict)
    if key not in memo:
        memo[key] = ascii_lower(text)
    return memo[key]


class Folded:
    """A case-insensitive pattern for long texts. CPython's ``re`` is several times slower with ``re.I`` on
    alternations of words; on ASCII text the same pattern with its letters lowered, run without ``re.I`` over the
    lowered text, matches exactly the same spans (a letter matches a pattern letter exactly when their lower cases
    are equal; word boundaries and the digit, space and word classes do not depend on case there). Other text uses
    the ``re.I`` pattern. The pattern must be ASCII; a letter after a backslash (an escape) is kept as written."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        assert pattern.isascii() and not re.search(r"\\[NxuU0-9]|\(\?P", pattern), pattern
        self.rx = re.compile(pattern, flags | re.I)
        out, i = [], 0
        while i < len(pattern):
            if pattern[i] == "\\":
                out.append(pattern[i:i + 2])
                i += 2
                continue
            out.append(pattern[i].lower())
            i += 1
        self.folded = re.compile("".join(out), flags)
        # literals one of which every match holds (lowercase): a lowered text lacking all of them is passed over
        # with a few ``in`` tests instead of a run of the pattern (most documents mention none of the terms)
        self.literals = required_literals(self.folded.pattern, flags) or ()

    def _may_match(self, low: str) -> bool:
        return not self.literals or any(x in low for x in self.literals)

    def span(self, text: str, low: str | None) -> tuple[int, int] | None:
        """Span of the first match in ``text`` (``low``: its :func:`ascii_lower`)."""
        if low is not None and not self._may_match(low):
            return None
        m = self.folded.search(low) if low is not None else self.rx.search(text)
        return m.span() if m else None

    def count(self, text: str, low: str | None) -> int:
        """Number of (non-overlapping) matches, as ``len(findall(text))``."""
        if low is not None and not self._may_match(low):
            return 0
        return len(self.folded.findall(low) if low is not None else self.rx.findall(text))


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


def job_text(job) -> str:
    """``job.text()`` (all commands and actions of a CI job), remembered on the job: several controls search it."""
    text = job.__dict__.get("_util_text")
    if text is None:
        text = job._util_text = job.text()
    return text


def ci_steps(p: Project):
    for pl in p.pipelines:
        for job in pl.jobs:
            for s in job.steps:
                yield pl, job, s


def ci_find(p: Project, pattern: str) -> list[tuple[Loc, str]]:
    """Steps whose action or command matches ``pattern`` (case-insensitive)."""
    rx = re.compile(pattern, re.I)
    steps = _ci_step_texts(p)
    lits = _ascii_literals(pattern, re.I)
    if lits is None:
        chosen: list[int] | range = range(len(steps))
    else:  # only the steps holding one of the literals every match needs (and those not in ASCII) can match
        idx = p.derived("util.ci-step-index", lambda: _LowIndex([t[3] for t in steps]))
        chosen = sorted(idx.holding(lits).union(idx.non_ascii))
    out = []
    for i in chosen:
        pl, job, s, text = steps[i]
        if rx.search(text):
            out.append((s.loc, f"{pl.path} job '{job.name}'"))
    return out


def _ci_step_texts(p: Project) -> list[tuple]:
    """(pipeline, job, step, the step's searchable text) of every CI step; joined once per project, since several
    controls search the steps."""
    def texts() -> list[tuple]:
        return [(pl, job, s, "\n".join(x for x in (s.uses or "", s.run or "", s.name or "", job.name) if x))
                for pl, job, s in ci_steps(p)]

    return p.derived("util.ci-step-texts", texts)


def headings_matching(p: Project, rx: re.Pattern) -> set[int]:
    """``id`` of every heading of the project's docs whose text ``rx`` finds a match in (computed once per project
    and pattern: the documentation controls test every heading of every doc against a few patterns, and most
    headings hold none of the literals a match needs, which an index over all headings rules out at once)."""
    def compute() -> set[int]:
        heads, idx = p.derived("util.heading-index", lambda: _heading_index(p))
        lits = _ascii_literals(rx.pattern, rx.flags)
        chosen = range(len(heads)) if lits is None else sorted(idx.holding(lits).union(idx.non_ascii))
        return {id(heads[i]) for i in chosen if rx.search(heads[i].text)}

    return p.derived(("util.headings-matching", rx.pattern, rx.flags), compute)


def _heading_index(p: Project) -> tuple[list, _LowIndex]:
    heads = [h for d in p.docs for h in d.headings]
    return heads, _LowIndex([h.text for h in heads])


def doc_matching(p: Project, name_rx: str, heading_rx: str, min_words: int = 40):
    """Docs judged by content: a doc whose path or headings match, with enough words to be real."""
    nrx = re.compile(name_rx, re.I)
    matched = headings_matching(p, re.compile(heading_rx, re.I))
    out = []
    for d in p.docs:
        if d.words < min_words:  # (too short whatever its name and headings)
            continue
        by_name = bool(nrx.search(d.path.rsplit("/", 1)[-1]))
        heads = [h for h in d.headings if id(h) in matched]
        if by_name or heads:
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
