"""Reliability and performance of the application code: retries, breakers, shutdown, configuration, API shape,
pagination, indexes, background work, static caching, load tests and sessions."""

from __future__ import annotations

import re
from functools import lru_cache

from ..model import Loc
from ._app import (
    PY,
    assigns_where,
    calls_where,
    classes_with_base,
    code,
    code_positions,
    code_units,
    first_importing,
    import_hits,
    imports_matching,
    is_infra_route,
    is_test,
    nginx_directives,
    service_groups,
    service_routes,
    tf_resources,
    unit_code,
    unit_of,
)
from ._util import paths_matching
from .base import control, failed, not_applicable, passed

OUTBOUND_PY = ("requests", "httpx", "aiohttp", "urllib3", "grpc", "boto3", "stripe")
OUTBOUND_JS = ("axios", "got", "node-fetch", "undici", "superagent", "@grpc/grpc-js", "ky")


def _outbound(p) -> list[tuple[Loc, str]]:
    """The first outbound HTTP call of each code file (computed once per project)."""
    return list(p.derived("app_resilience.outbound", lambda: _find_outbound(p)))


_CLIENTS = ("requests", "httpx", "aiohttp", "urllib3")


def _find_outbound(p) -> list[tuple[Loc, str]]:
    out = []
    for cf in code(p):
        if cf.language == PY:
            for c in cf.facts.calls:
                name = c.name
                # the first dotted part is one of the clients (startswith: a cheap pre-check of that)
                if (name.startswith(_CLIENTS) and name.partition(".")[0] in _CLIENTS) or (
                        c.recv and c.recv.startswith(("httpx.", "requests.", "aiohttp."))):
                    out.append((Loc(cf.path, c.line), cf.path))
                    break
        else:
            for c in cf.facts.calls:
                if c.name in ("fetch", "axios", "got", "node-fetch", "undici.fetch", "undici.request") or \
                        c.name.startswith(("axios.", "got.", "superagent")):
                    out.append((Loc(cf.path, c.line), cf.path))
                    break
    return out


RETRY_PY = ("tenacity", "backoff", "retrying", "retry", "stamina", "urllib3.util.retry", "urllib3.util.Retry",
            "requests.adapters", "aiohttp_retry", "httpx_retries", "opnieuw", "redo", "pybreaker")
RETRY_JS = ("axios-retry", "p-retry", "async-retry", "retry", "got", "cockatiel", "exponential-backoff", "ky",
            "@lifeomic/attempt", "promise-retry", "retry-axios", "fetch-retry", "bullmq", "bull")


@control(
    id="reliability.retries-backoff", title="Outbound calls retry with backoff", category="reliability",
    severity="medium", evidence=["python", "javascript", "k8s"],
    rationale="Networks drop packets and dependencies restart: a single transient failure should cost one retry, "
              "not a failed user request or a lost job. Retries need exponential backoff with jitter and a cap, or "
              "they turn a blip into a retry storm.",
    remediation="Python: `@retry(wait=wait_exponential_jitter(max=10), stop=stop_after_attempt(3))` (tenacity) or "
                "an `HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.5))`; Node: axios-retry / p-retry; "
                "queues: redeliver failed jobs with a dead-letter queue; mesh: Istio `retries` on the VirtualService. "
                "Only retry idempotent requests (or send an idempotency key).",
    references=["Google SRE book ch. 22 'Addressing Cascading Failures'", "AWS Builders' Library: Timeouts, retries "
                "and backoff with jitter"],
    checklist=["reliability.retries_backoff"],
    phrases=["retry with exponential backoff", "retries", "transient failure handling"],
)
def retries_backoff(p):
    out = _outbound(p)
    if not out:
        yield not_applicable("no outbound HTTP calls in the code")
        return
    units = {unit_of(p, path) for _loc, path in out}
    mesh = [o for o in p.objects("VirtualService") if "retries" in str(o.raw.get("spec"))] + \
        [o for o in p.objects("ServiceProfile") if "isRetryable" in str(o.raw.get("spec"))]
    first_by_unit: dict[str, Loc] = {}
    for loc, path in out:
        first_by_unit.setdefault(unit_of(p, path), loc)
    for unit in sorted(units):
        cfs = unit_code(p, unit)
        lib = first_importing(p, cfs, RETRY_PY, RETRY_JS)
        name = unit or "."
        first = first_by_unit[unit]
        if lib:
            yield passed(f"{name}: retries with {lib[1][0]}", Loc(lib[0].path, lib[1][1]), name)
        elif mesh:
            yield passed(f"{name}: mesh retry policy {mesh[0].ref}", mesh[0].loc, name, confidence="medium")
        else:
            yield failed(f"{name}: outbound calls (e.g. {first.path}:{first.line}) have no retry with backoff",
                         first, name)


BREAKER_PY = ("pybreaker", "aiobreaker", "circuitbreaker", "purgatory", "pyresilience", "hystrix")
BREAKER_JS = ("opossum", "cockatiel", "brakes", "mollitia", "@nestjs/terminus")


@control(
    id="reliability.circuit-breakers", title="Calls to dependencies go through circuit breakers with fallbacks",
    category="reliability", severity="low", evidence=["python", "javascript", "k8s"], optional=True,
    rationale="When a dependency is down, a breaker fails fast and serves a fallback instead of tying up threads "
              "and connections until the caller falls over too. Worth it on synchronous call chains; off unless "
              "enabled.",
    remediation="Python: pybreaker / purgatory around the client; Node: opossum (`breaker.fallback(() => cached)`); "
                "Istio: `outlierDetection` on the DestinationRule; Envoy: outlier detection.",
    references=["Martin Fowler: CircuitBreaker", "Release It! (Nygard)"],
    checklist=["reliability.circuit_breakers", "reliability.fallbacks"],
    phrases=["circuit breaker", "graceful degradation", "fallback responses"],
)
def circuit_breakers(p):
    out = _outbound(p)
    if not out:
        yield not_applicable("no outbound HTTP calls in the code")
        return
    hits = import_hits(p, BREAKER_PY, BREAKER_JS)
    mesh = [o for o in p.objects("DestinationRule") if "outlierDetection" in str(o.raw.get("spec"))]
    if hits:
        yield passed(f"circuit breaker {hits[0][1]}", hits[0][0], hits[0][0].path)
    elif mesh:
        yield passed(f"mesh outlier detection {mesh[0].ref}", mesh[0].loc, mesh[0].ref)
    else:
        yield failed(f"outbound calls (e.g. {out[0][0].path}:{out[0][0].line}) have no circuit breaker or outlier "
                     "detection", out[0][0], out[0][1])


SHUTDOWN_JS = ("@godaddy/terminus", "http-terminator", "stoppable", "lightship", "close-with-grace",
               "@nestjs/terminus", "graceful-shutdown", "fastify-graceful-shutdown")
SERVER_PY = re.compile(r"\b(uvicorn|gunicorn|hypercorn|daphne|granian|celery|dramatiq|rq worker|arq|"
                       r"waitress-serve|uwsgi|huey_consumer|faust)\b")


@control(
    id="reliability.graceful-shutdown", title="Services shut down gracefully on SIGTERM", category="reliability",
    severity="medium", evidence=["python", "javascript", "dockerfile", "k8s"],
    rationale="Every deploy, scale-down and node drain sends SIGTERM. A process that ignores it (Node as PID 1 "
              "without a handler does) is killed after the grace period, dropping in-flight requests and the job it "
              "was processing; one that exits at once drops them too.",
    remediation="Node: `process.on('SIGTERM', () => server.close(() => process.exit(0)))` and stop taking new jobs; "
                "run under `tini`/`--init` if it spawns children. Python: run under uvicorn/gunicorn (they drain on "
                "SIGTERM) or `signal.signal(signal.SIGTERM, stop)` in custom loops. Kubernetes: a `preStop` sleep of a "
                "few seconds and a `terminationGracePeriodSeconds` longer than the longest request or job.",
    references=["Kubernetes docs: Pod termination", "Node.js docs: process signal events"],
    phrases=["graceful shutdown", "SIGTERM handling", "connection draining"],
)
def graceful_shutdown(p):
    any_ = False
    launchers = [(f, p.sources.get(f, "")[:2000]) for f, k in p.files.items() if k in ("procfile", "shell")]
    for d in p.dockerfiles:
        if is_test(d.path) or d.final is None:
            continue
        unit = d.directory
        cfs = unit_code(p, unit)
        if not cfs:
            continue
        cmd = " ".join(i.args for i in d.final.find("CMD") + d.final.find("ENTRYPOINT"))
        js = [cf for cf in cfs if cf.language != PY]
        py = [cf for cf in cfs if cf.language == PY]
        name = unit or "."
        handler = None
        for cf in cfs:
            for c in cf.facts.calls:
                if (c.name in ("process.on", "process.once") and c.args and c.args[0][1] in ("SIGTERM", "SIGINT")) or \
                        (c.name in ("signal.signal", "loop.add_signal_handler") and c.args and
                         "SIGTERM" in str(c.args[0][1])) or c.name.endswith("enableShutdownHooks"):
                    handler = Loc(cf.path, c.line)
                    break
            if handler is None and imports_matching(cf, SHUTDOWN_JS):
                handler = Loc(cf.path, imports_matching(cf, SHUTDOWN_JS)[1])
            if handler:
                break
        if js and not py:
            any_ = True
            if handler:
                yield passed(f"{name}: SIGTERM handled", handler, name)
            else:
                init = re.search(r"\b(tini|dumb-init|--init)\b", cmd)
                yield failed(f"{name}: the Node process has no SIGTERM handler"
                             + ("" if init else " and runs as PID 1, where Node ignores SIGTERM")
                             + ": in-flight work is killed at the end of the grace period",
                             Loc(d.path, d.final.find("CMD")[-1].line if d.final.find("CMD") else d.final.line), name)
        elif py:
            any_ = True
            text = cmd + " " + " ".join(t for f, t in launchers if f.startswith(unit))
            server = SERVER_PY.search(text)
            if handler:
                yield passed(f"{name}: SIGTERM handled", handler, name)
            elif server:
                yield passed(f"{name}: runs under {server.group(1)}, which drains on SIGTERM", Loc(d.path, None), name,
                             confidence="medium")
            else:
                yield failed(f"{name}: custom Python process without a SIGTERM handler", Loc(d.path, None), name,
                             confidence="medium")
    if not any_:
        yield not_applicable("no service images built from code in the repository")


SETTINGS_PY = ("pydantic_settings", "pydantic.BaseSettings", "environs", "dynaconf", "decouple", "envparse",
               "pydantic_settings.BaseSettings", "django_environ", "environ", "goodconf")
SETTINGS_JS = ("envalid", "@nestjs/config", "env-var", "znv", "@t3-oss/env-core", "@t3-oss/env-nextjs", "convict",
               "env-schema", "dotenv-safe")


@control(
    id="reliability.config-validation", title="Required configuration is validated at start-up and supplied by the "
    "deployment", category="reliability", severity="medium", evidence=["python", "javascript", "k8s"],
    rationale="A missing or mistyped setting should stop the new version at start-up, where the rollout halts, not "
              "surface as a 500 on the first request that needs it; and every variable the code requires must be "
              "set by the manifests that run it.",
    remediation="Python: a pydantic `BaseSettings` class with required fields, or `os.environ[\"DATABASE_URL\"]` at "
                "import time; Node: envalid/zod over `process.env`; then make sure the Deployment sets each required "
                "variable (env, envFrom ConfigMap/Secret).",
    references=["12factor.net/config"],
    checklist=["reliability.config_validation"],
    phrases=["configuration validation", "fail fast on missing config", "required environment variables"],
)
def config_validation(p):
    judged = False
    by_dir: dict[str, list] = {}
    for w in p.workloads:
        if w.source == "k8s":
            for c in w.containers:  # (the app containers)
                if not c.init and c.dockerfile is not None and c.dockerfile.directory:
                    by_dir.setdefault(c.dockerfile.directory, []).append((w, c))
    cm_keys: dict[tuple, set[str]] = {}
    for o in p.objects("ConfigMap") + p.objects("Secret"):
        cm_keys[(o.namespace, o.name)] = {str(k) for k in (o.raw.get("data") or {})} | {
            str(k) for k in (o.raw.get("stringData") or {})}
    # the first settings class of each file that has one (from the project's class index)
    settings_classes: dict[int, int] = {}
    for cf, (_name, line, _bases) in classes_with_base(p, lambda base: base.endswith("BaseSettings"), tests=True):
        settings_classes.setdefault(id(cf), line)
    for unit in sorted(code_units(p)):
        cfs = unit_code(p, unit)
        lib = first_importing(p, cfs, SETTINGS_PY, SETTINGS_JS)
        settings_cls = next(((cf, settings_classes[id(cf)]) for cf in cfs
                             if cf.language == PY and id(cf) in settings_classes), None) if settings_classes else None
        # the environment reads matter when nothing validates the settings, or for the unit's workloads below
        reads = [(cf, e) for cf in cfs for e in cf.facts.env] if not (lib or settings_cls) or \
            (unit and by_dir.get(unit)) else []
        if not reads and not lib and not settings_cls:
            continue
        judged = True
        name = unit or "."
        required = sorted({e[0] for _cf, e in reads if e[2]})
        if lib or settings_cls:
            where = Loc(lib[0].path, lib[1][1]) if lib else Loc(settings_cls[0].path, settings_cls[1])
            yield passed(f"{name}: settings validated by {lib[1][0] if lib else 'a BaseSettings class'}", where, name)
        elif required:
            cf, e = next((cf, e) for cf, e in reads if e[2])
            yield passed(f"{name}: required settings fail fast ({', '.join(required[:4])})", Loc(cf.path, e[1]), name,
                         confidence="medium")
        else:
            critical = [(cf, e) for cf, e in reads if _connection_setting(e[0])]
            if critical:
                cf, e = critical[0]
                yield failed(f"{name}: connection settings fall back to built-in defaults "
                             f"({', '.join(sorted({x[1][0] for x in critical})[:4])}); a deploy that forgets them "
                             "starts and talks to the wrong place instead of failing", Loc(cf.path, e[1]), name,
                             confidence="medium")
            else:
                cf, e = reads[0]
                yield passed(f"{name}: only tuning settings, with defaults ({e[0]})", Loc(cf.path, e[1]), name,
                             confidence="low")
        # the Kubernetes workloads running this unit's image must supply each required variable
        for w, c in by_dir.get(unit, []) if unit else []:
            if True:
                have = {ev.name for ev in c.env}
                refs = [ref.split(":", 1)[1] for ref in c.env_from]
                keys: set[str] = set()
                for r in refs:
                    keys |= cm_keys.get((w.namespace, r), set())
                opaque = any((w.namespace, r) not in cm_keys for r in refs)
                missing = [v for v in required if v not in have and v not in keys]
                if missing and not opaque:
                    yield failed(f"{w.ref} does not set {', '.join(missing)}, which {name} requires", c.loc, w.ref)
    if not judged:
        yield not_applicable("no configuration reads in the code")


@lru_cache(maxsize=16384)  # pure, and the same variable names are read in many files
def _connection_setting(name: str) -> bool:
    return bool(CONNECTION_SETTING_RX.search(name))


CONNECTION_SETTING_RX = re.compile(r"(HOST|URL|URI|DSN|ENDPOINT|ADDR|PASSWORD|SECRET|TOKEN|KEY|DATABASE|BROKER)", re.I)


VERSION_RX = re.compile(r"(^|/)(v\d+(\.\d+)?|api/v\d+|\d{4}-\d{2}-\d{2})(/|$)")


@lru_cache(maxsize=16384)  # pure, asked for every route
def _versioned_path(path: str) -> bool:
    return bool(VERSION_RX.search(path))
PREFIX_CALLS = ("APIRouter", "include_router", "Blueprint", "register_blueprint", "use", "setGlobalPrefix")


@control(
    id="reliability.api-versioning", title="Public API routes are versioned", category="reliability", severity="low",
    evidence=["python", "javascript"],
    rationale="Clients cannot all upgrade at once; a version in the path (or a negotiated version header) lets a "
              "breaking change ship as /v2 while /v1 keeps working.",
    remediation="Mount the routes under a version prefix: FastAPI `APIRouter(prefix=\"/api/v1\")`, Express "
                "`app.use('/api/v1', router)`, NestJS `app.enableVersioning()`.",
    references=["Microsoft REST API Guidelines: versioning", "Google AIP-185"],
    checklist=["reliability.api_versioning"],
    phrases=["API versioning", "versioned endpoints"],
)
def api_versioning(p):
    groups = service_groups(p)
    judged = False
    nest_versioning = bool(calls_where(p, lambda name: name.endswith("enableVersioning"), tests=False))
    # calls that may mount routes under a prefix, by build unit (from the project's call index)
    mounts: dict[str, list] = {}
    for cf, c in calls_where(p, lambda name: name.rsplit(".", 1)[-1] in PREFIX_CALLS, tests=False):
        mounts.setdefault(unit_of(p, cf.path), []).append(c)
    for (fw, unit), apps in groups.items():
        routes = [r for a in apps for r in a.routes if not is_infra_route(r.path) and r.path not in ("/", "?")]
        if len(routes) < 2:
            continue
        judged = True
        name = f"{fw} service {unit or '.'}"
        # a mount under a versioned prefix (looked for only when NestJS versioning does not already decide)
        prefixed = not nest_versioning and any(
            any(VERSION_RX.search(str(v[1])) for v in list(getattr(c, "kwargs", {}).values()) + c.args
                if v[0] == "lit") for c in mounts.get(unit, []))
        versioned = [r for r in routes if _versioned_path(r.path)]
        if nest_versioning or prefixed or len(versioned) == len(routes):
            where = versioned[0].loc if versioned else apps[0].loc
            yield passed(f"{name}: routes under a version ({versioned[0].path if versioned else 'prefix'})", where, name)
        elif versioned:
            rest = [r for r in routes if not _versioned_path(r.path)]  # (the routes not in `versioned`)
            yield failed(f"{name}: {len(rest)} of {len(routes)} routes are unversioned, e.g. {rest[0].method} "
                         f"{rest[0].path}", rest[0].loc, name, confidence="medium")
        else:
            yield failed(f"{name}: none of {len(routes)} routes carries a version (e.g. {routes[0].path})",
                         routes[0].loc, name, confidence="medium")
    if not judged:
        yield not_applicable("no HTTP API with several routes")


PAGE_PARAMS = re.compile(r"^(limit|offset|page|page_size|pagesize|per_page|perpage|size|cursor|after|before|"
                         r"start|skip|take|first|last|max_results|page_token|next_token)$", re.I)
PAGINATION_LIBS_PY = ("fastapi_pagination", "flask_sqlalchemy.pagination", "rest_framework.pagination",
                      "django.core.paginator", "sqlakeyset", "flask_smorest.pagination")


@control(
    id="performance.pagination", title="List endpoints are paginated with a maximum page size",
    category="performance", severity="medium", evidence=["python", "javascript"],
    rationale="An endpoint that returns a whole table works in development and times out (or exhausts memory) "
              "once the table grows; a client-chosen page size without a maximum is the same bug.",
    remediation="FastAPI: `limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)` (or a cursor); "
                "DRF: `DEFAULT_PAGINATION_CLASS` with `PAGE_SIZE` and `max_page_size`; Express: clamp "
                "`Math.min(Number(req.query.limit) || 50, 200)`.",
    references=["Google AIP-158 (pagination)", "OWASP API Security Top 10 API4:2023"],
    checklist=["performance.pagination"],
    phrases=["pagination", "paginated list endpoints", "page size limits", "paginate large result sets"],
)
def pagination(p):
    judged = False
    for (fw, unit), _apps in service_groups(p).items():
        name = f"{fw} service {unit or '.'}"
        cfs = unit_code(p, unit)
        if fw == "django" or first_importing(p, cfs, PAGINATION_LIBS_PY):
            drf = [cf for cf in cfs for a in cf.facts.assigns if a.target == "REST_FRAMEWORK" and
                   "PAGINATION" in str(a.value[1])]
            lib = first_importing(p, cfs, PAGINATION_LIBS_PY)
            if drf or lib:
                judged = True
                where = Loc(lib[0].path, lib[1][1]) if lib else Loc(drf[0].path, None)
                yield passed(f"{name}: framework pagination", where, name)
                continue
        for _app, r, fn in service_routes(p, fw, unit):  # (fn: FastAPI and Flask handlers)
            if "GET" not in r.method and r.method not in ("ANY",):
                continue
            if _item_or_infra_route(r.path):
                continue
            returns_list = False
            if fn is not None:
                deco = next((d for d in fn.decorators if d.line == r.loc.line), None)
                rm = deco.kwargs.get("response_model") if deco else None
                returns_list = bool(rm and rm[0] in ("name", "expr", "call") and re.match(
                    r"(list|List|typing\.List|Sequence|Page)\b", str(rm[1] or ""))) or \
                    bool(fn.returns and re.match(r"(list|List|typing\.List|Sequence)\[", fn.returns)) or \
                    bool(deco and any(ref.rsplit(".", 1)[-1] == "list" for ref in deco.refs))
                if not returns_list and deco is not None and deco.kwargs.get("response_model") is not None:
                    continue
            plural = _plural_route(r.path)
            if not (returns_list or (fn is None and plural) or (fn is not None and plural and
                                                                 fn.returns is None and not returns_list and
                                                                 fw == "flask")):
                continue
            judged = True
            if fn is not None:
                params = [n for n in fn.params if PAGE_PARAMS.match(n)]
                bounded = [n for n in params if n in fn.param_calls and any(
                    k in fn.param_calls[n].kwargs for k in ("le", "lt", "max_value", "maximum"))]
                clamp = any(cn in ("min", "builtins.min") for cn in fn.calls_names)
                if bounded or (params and clamp):
                    yield passed(f"{name}: {r.method} {r.path} paginated ({', '.join(params)}, bounded)", r.loc,
                                 name)
                elif params:
                    yield failed(f"{name}: {r.method} {r.path} takes {', '.join(params)} without a maximum page "
                                 "size", r.loc, name, confidence="medium")
                else:
                    yield failed(f"{name}: {r.method} {r.path} returns a list without limit/offset/cursor "
                                 "parameters", r.loc, name, confidence="medium")
            else:
                text = p.sources.get(r.loc.path, "")
                if re.search(r"(query|params)\.(limit|page|cursor|offset|per_?page|size)\b", text, re.I):
                    bounded = re.search(r"Math\.min\(|\.max\(\d+\)|maximum\s*:", text)
                    if bounded:
                        yield passed(f"{name}: {r.method} {r.path} reads page parameters with a bound", r.loc, name,
                                     confidence="medium")
                    else:
                        yield failed(f"{name}: {r.method} {r.path} reads page parameters without a maximum", r.loc,
                                     name, confidence="low")
                else:
                    yield failed(f"{name}: {r.method} {r.path} lists a collection without pagination", r.loc,
                                 name, confidence="low")
    if not judged:
        yield not_applicable("no list endpoints found")


# tests of route paths, pure and asked again for the same paths: remembered
@lru_cache(maxsize=16384)
def _item_or_infra_route(path: str) -> bool:
    """An operational route, or one addressing a single item (ends in a parameter)."""
    return bool(is_infra_route(path) or re.search(r"[{<:][^/]*[}>]?$", path.rstrip("/")))


@lru_cache(maxsize=16384)
def _plural_route(path: str) -> bool:
    return bool(re.search(r"[a-z]s/?$", path)) and not re.search(r"(status|stats|settings|news)/?$", path)


INDEX_RX = (r"(op\.create_index|sa\.Index\(|\bIndex\(|index\s*=\s*True|unique\s*=\s*True|db_index\s*=\s*True|"
            r"indexes\s*=\s*\[|CREATE\s+(UNIQUE\s+)?INDEX|@@index|@@unique|@Index\(|\.index\(|addIndex\(|"
            r"createIndex\(|add_index\b|ensureIndex|create_index\()")
TABLE_RX = (r"(op\.create_table|CREATE\s+TABLE|models\.Model\b|__tablename__|migrations\.CreateModel|createTable\(|"
            r"^\s*model\s+\w+\s*\{|@Entity\(|create_table\b|sequelize\.define|\bTable\()")


@control(
    id="performance.db-indexes", title="Tables have indexes beyond their primary keys", category="performance",
    severity="medium", evidence=["python", "javascript", "sql"],
    rationale="Queries that filter or join on an unindexed column scan the whole table: fast in development, "
              "seconds per request once production data grows, and a CPU spike on the database for everyone.",
    remediation="Create indexes in migrations for the columns you filter, join and sort on: Alembic "
                "`op.create_index(\"ix_orders_customer_id\", \"orders\", [\"customer_id\"])`, Django "
                "`Meta.indexes`, SQL `CREATE INDEX CONCURRENTLY`; check with `EXPLAIN ANALYZE`.",
    references=["Use The Index, Luke", "PostgreSQL docs: indexes"],
    checklist=["performance.db_indexes"],
    phrases=["database indexes", "indexed columns", "add indexes for queries", "index frequently queried columns"],
)
def db_indexes(p):
    kinds = ("python", "javascript", "typescript", "sql", "text")
    tables = [loc for loc in p.search_text(TABLE_RX, kinds=kinds, hints=("create_table", "CREATE", "create",
                                                                          "Model", "tablename", "model", "Entity",
                                                                          "Table", "define"))
              if not is_test(loc.path)]
    prisma = [loc for loc in p.search_text(r"^\s*model\s+\w+\s*\{", kinds=None, hints=("model ",))
              if loc.path.endswith(".prisma")]
    tables += prisma
    if not tables:
        yield not_applicable("no tables or models defined in the repository")
        return
    idx = [loc for loc in p.search_text(INDEX_RX, kinds=kinds, hints=("ndex", "INDEX", "unique"))
           if not is_test(loc.path)]
    idx += [loc for loc in p.search_text(r"@@(index|unique)|@unique", kinds=None, hints=("@@", "@unique"))
            if loc.path.endswith(".prisma")]
    if idx:
        yield passed(f"{len(idx)} index definition(s) for {len(tables)} table/model definition(s), e.g. "
                     f"{idx[0].path}:{idx[0].line}", idx[0], idx[0].path)
    else:
        yield failed(f"{len(tables)} table/model definition(s) and no secondary index in migrations or models",
                     tables[0], tables[0].path, confidence="medium")


QUEUE_PY = ("celery", "rq", "dramatiq", "arq", "huey", "taskiq", "kombu", "pika", "aio_pika", "confluent_kafka",
            "kafka", "aiokafka", "boto3", "google.cloud.pubsub", "nats", "procrastinate", "saq")
QUEUE_JS = ("bullmq", "bull", "bee-queue", "agenda", "kafkajs", "amqplib", "@aws-sdk/client-sqs", "@google-cloud/pubsub",
            "nats", "graphile-worker", "pg-boss", "@nestjs/bull", "@nestjs/bullmq", "@temporalio/client")
HEAVY_PY = re.compile(r"^(smtplib\.|PIL\.|reportlab\.|weasyprint\.|pdfkit\.|subprocess\.|openai\.|anthropic\.|"
                      r"pandas\.read_|cv2\.|moviepy\.|boto3\.client\(\)\.upload|time\.sleep)")
PUSH_RX = re.compile(r"\.(lpush|rpush|xadd|publish|send_task|delay|apply_async|enqueue|add_job|send_message|produce|"
                     r"send)$")


@control(
    id="performance.async-processing", title="Heavy work runs in the background, not in the request",
    category="performance", severity="medium", evidence=["python", "javascript"],
    rationale="Sending e-mail, rendering PDFs, calling LLMs or processing images inside a request handler holds a "
              "worker and the client's connection for seconds; under load that is the whole pool. A queue moves it "
              "off the request path and retries it on failure.",
    remediation="Enqueue the work (Celery/RQ/Dramatiq/arq, BullMQ, a Redis list or Kafka topic consumed by a worker) "
                "and answer 202 with a job id; FastAPI `BackgroundTasks` for small fire-and-forget work.",
    references=["Google SRE book ch. 21 'Handling Overload'"],
    checklist=["performance.async_processing"],
    phrases=["asynchronous processing", "background jobs", "task queue"],
)
def async_processing(p):
    groups = service_groups(p)
    if not groups:
        yield not_applicable("no HTTP application found in code")
        return
    queue = import_hits(p, QUEUE_PY, QUEUE_JS)
    pushes = [(Loc(cf.path, c.line), c.name) for cf, c in calls_where(p, PUSH_RX.search, tests=False)
              if re.search(r"(queue|redis|broker|producer|celery|task|bus|kafka|sqs)",
                           c.name.split(".")[0] + str(c.recv), re.I)]
    bg = [(Loc(cf.path, c.line), c.name) for cf, c in calls_where(p, lambda name: name.endswith("add_task"),
                                                                  tests=False)]
    heavy = []
    for fw, unit in groups:
        for _app, r, fn in service_routes(p, fw, unit):  # (fn: FastAPI and Flask handlers)
            if fn is None:
                continue
            hit = next((n for n in fn.calls_names if HEAVY_PY.match(n)), None)
            if hit:
                heavy.append((r, hit))
    if queue or pushes or bg:
        loc, what = (queue[0][0], queue[0][1]) if queue else pushes[0] if pushes else bg[0]
        yield passed(f"background work through {what}", loc, loc.path, confidence="medium" if not queue else "high")
        for r, hit in heavy:
            yield failed(f"{r.method} {r.path} still calls {hit} inside the request", r.loc, r.loc.path,
                         confidence="medium")
    elif heavy:
        for r, hit in heavy:
            yield failed(f"{r.method} {r.path} calls {hit} inside the request and there is no task queue", r.loc,
                         r.loc.path, confidence="medium")
    else:
        yield not_applicable("no heavy work found in request handlers and no task queue")


STATIC_EXT = re.compile(r"\.(js|css|png|jpe?g|gif|svg|woff2?|ico|webp|map)\b|/(static|assets|public|dist|media)/",
                        re.I)


@control(
    id="performance.static-asset-caching", title="Static assets are served with cache headers",
    category="performance", severity="low", evidence=["nginx", "python", "javascript"], verifiability="both",
    rationale="Fingerprinted static files never change; without `Cache-Control`/`expires` every page view downloads "
              "them again, which costs bandwidth and slows every visit.",
    remediation="nginx: `location /assets/ { expires 1y; add_header Cache-Control \"public, immutable\"; }`; "
                "Express: `express.static('public', { maxAge: '1y', immutable: true })`; Django: WhiteNoise "
                "`CompressedManifestStaticFilesStorage`.",
    references=["web.dev: HTTP caching", "MDN: Cache-Control"],
    checklist=["performance.static_asset_caching", "performance.cdn"],
    phrases=["static asset caching", "cache headers", "CDN for static assets"],
)
def static_asset_caching(p):
    any_ = False
    for path, tree in p.nginx.items():
        for d, anc in nginx_directives(tree):
            if d.name != "location" or not STATIC_EXT.search(" ".join(d.args)):
                continue
            if any(c.name in ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "grpc_pass", "return") for c in d.block or []):
                continue
            serves = any(c.name in ("root", "alias", "try_files") for c in d.block or []) or any(
                c.name == "root" for a in anc for c in a.block or [])
            if not serves:
                continue
            any_ = True
            cached = [c for c in d.block or [] if c.name == "expires" or (
                c.name == "add_header" and c.args and c.args[0].lower() == "cache-control")]
            if cached:
                yield passed(f"nginx location {' '.join(d.args)} sets {cached[0].name}", Loc(path, cached[0].line),
                             path)
            else:
                yield failed(f"nginx location {' '.join(d.args)} serves static files without expires/Cache-Control",
                             Loc(path, d.line), path)
    for cf, c in calls_where(p, ("express.static", "serve-static", "@fastify/static").__contains__, tests=False):
        any_ = True
        opts = [a[1] for a in c.args if a[0] == "object"]
        if any(k in o for o in opts for k in ("maxAge", "immutable", "setHeaders", "cacheControl")):
            yield passed(f"{c.name} with maxAge", Loc(cf.path, c.line), cf.path)
        else:
            yield failed(f"{c.name}() without maxAge: static files are revalidated on every request",
                         Loc(cf.path, c.line), cf.path)
    for r in tf_resources(p, "aws_cloudfront_distribution", "google_compute_backend_bucket", "azurerm_cdn_endpoint",
                          "azurerm_cdn_frontdoor_endpoint", "cloudflare_record", "fastly_service_vcl"):
        any_ = True
        yield passed(f"CDN in front: {r.ref}", r.loc, r.ref)
    if not any_:
        yield not_applicable("no static files served by the repository's proxies or apps")


LOAD_TEST_RX = re.compile(r"(^|/)(locustfile[^/]*\.py|[^/]*\.k6\.(js|ts)|k6/[^/]+\.(js|ts)|[^/]*\.jmx|"
                          r"artillery[^/]*\.ya?ml|gatling/|simulations/[^/]+\.(scala|java|kt)|vegeta[^/]*|"
                          r"load[-_]?tests?/|perf(ormance)?[-_]?tests?/|benchmarks?/[^/]*(load|k6|locust))", re.I)


@control(
    id="performance.load-tests", title="A load-test suite exists (and runs)", category="performance",
    severity="low", evidence=["python", "javascript", "github-workflow", "gitlab-ci"],
    rationale="Capacity limits, connection-pool sizes and autoscaling thresholds are guesses until a load test "
              "shows where latency bends; keeping the test in the repository makes it repeatable before each big "
              "release.",
    remediation="Add a k6 or Locust scenario for the critical paths (e.g. `load-tests/orders.k6.js` with thresholds "
                "`http_req_duration: ['p(95)<500']`) and run it against staging from CI on a schedule or before "
                "releases.",
    references=["k6 docs", "Locust docs", "Google SRE book ch. 17 'Testing for Reliability'"],
    checklist=["performance.load_testing"],
    phrases=["load testing", "load test suite", "performance tests", "k6", "Locust"],
)
def load_tests(p):
    files = paths_matching(p, LOAD_TEST_RX)
    py = [loc for loc, mod, _cf in import_hits(p, ("locust",), ("k6", "k6/http", "artillery", "autocannon"),
                                               tests=True)]
    if not (p.http_apps or p.workloads):
        yield not_applicable("no services")
        return
    if not files and not py:
        yield failed("no load-test scripts (k6, Locust, JMeter, Gatling, Artillery) in the repository")
        return
    where = Loc(files[0], 1) if files else py[0]
    ran = [loc for loc, _w in _ci(p, r"\b(k6 run|locust\b|jmeter|artillery run|gatling|grafana/k6-action|vegeta attack)")]
    if ran:
        yield passed(f"load tests in {where.path}, run by CI ({ran[0].path}:{ran[0].line})", ran[0], ran[0].path)
    else:
        yield passed(f"load tests in {where.path} (not run by CI)", where, where.path, confidence="medium")


def _ci(p, pattern):
    from ._util import ci_find

    return ci_find(p, pattern)


SESSION_MIDDLEWARE = ("express-session", "koa-session", "@fastify/session", "fastify-session")


@control(
    id="scalability.external-session-store", title="Sessions live in a shared store, not in process memory",
    category="scalability", severity="medium", evidence=["python", "javascript"],
    rationale="In-memory sessions log users out on every restart, break as soon as there are two replicas behind a "
              "load balancer, and (express-session's MemoryStore) leak memory.",
    remediation="express-session: `store: new RedisStore({ client })` (connect-redis); Flask-Session: "
                "`SESSION_TYPE = \"redis\"`; Django: the database or `django.contrib.sessions.backends.cache` on Redis; "
                "or stateless signed tokens.",
    references=["express-session docs: MemoryStore warning", "12factor.net/processes"],
    checklist=["scalability.external_session_store"],
    phrases=["external session store", "Redis sessions", "stateless services"],
)
def external_session_store(p):
    # the session settings (Python assignments) and session middleware calls (JavaScript), from the project's name
    # indexes, in file order (a file is Python or JavaScript: sorted() is stable within one)
    pos = code_positions(p)
    found = []
    for cf, a in assigns_where(p, ("SESSION_ENGINE", "SESSION_TYPE").__contains__):
        if a.value[0] != "lit":
            continue
        key = pos[id(cf)]
        if a.target == "SESSION_ENGINE":
            v = str(a.value[1])
            if v.endswith(".cache") and not any(x.target == "CACHES" and "redis" in str(x.value[1]).lower()
                                                for x in cf.facts.assigns):
                found.append((key, failed(f"SESSION_ENGINE = {v} on the default local-memory cache",
                                          Loc(cf.path, a.line), cf.path, confidence="medium")))
            else:
                found.append((key, passed(f"SESSION_ENGINE = {v}", Loc(cf.path, a.line), cf.path)))
        elif str(a.value[1]).lower() in ("filesystem", "null", "memory"):
            found.append((key, failed(f"Flask-Session SESSION_TYPE = {a.value[1]} is per instance",
                                      Loc(cf.path, a.line), cf.path)))
        else:
            found.append((key, passed(f"Flask-Session SESSION_TYPE = {a.value[1]}", Loc(cf.path, a.line), cf.path)))
    for cf, c in calls_where(p, SESSION_MIDDLEWARE.__contains__, tests=False):
        if cf.language == PY:
            continue
        opts = [a[1] for a in c.args if a[0] == "object"]
        if any("store" in o for o in opts):
            found.append((pos[id(cf)], passed(f"{c.name} with an external store", Loc(cf.path, c.line), cf.path)))
        else:
            found.append((pos[id(cf)], failed(f"{c.name} without `store`: sessions live in process memory "
                                              "(MemoryStore)", Loc(cf.path, c.line), cf.path)))
    found.sort(key=lambda f: f[0])
    for _key, outcome in found:
        yield outcome
    if not found:
        yield not_applicable("no server-side session configuration in the code")
