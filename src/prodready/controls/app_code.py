"""Controls over application code (Python via ast, JavaScript/TypeScript via tree-sitter) and its edge config."""

from __future__ import annotations

import re

from ..model import Loc
from ._app import (
    assigns_where,
    calls_where,
    code_positions,
    files_calling,
    files_importing,
    in_model_order,
    nginx_directives,
    py_decorators_where,
    unit_of,
)
from .base import control, failed, not_applicable, passed

HEALTH_RX = re.compile(r"^/?(api/)?(v\d+/)?(health|healthz|healthcheck|health-check|livez|readyz|ready|readiness|"
                       r"liveness|status|ping|_health|-/healthy)/?$", re.I)


@control(
    id="reliability.health-endpoint", title="HTTP services expose a health endpoint", category="reliability",
    severity="high", evidence=["python", "javascript"],
    rationale="Load balancers, orchestrators and uptime checks need a cheap endpoint that says whether this "
              "instance can serve; without it they guess from TCP connects.",
    remediation="FastAPI:\n@app.get(\"/healthz\")\ndef healthz():\n    return {\"status\": \"ok\"}\n"
                "Express: `app.get('/healthz', (req, res) => res.json({status: 'ok'}))`",
    references=["Google SRE book ch. 22", "Kubernetes docs: probes"],
    checklist=["reliability.health_endpoint"], verifiability="both",
    phrases=["health check endpoint", "/health endpoint", "health endpoints"],
)
def health_endpoint(p):
    if not p.http_apps:
        yield not_applicable("no HTTP application found in code")
        return
    # routes of one service are often split over files (FastAPI routers, Flask blueprints, Express routers, Django
    # app urls.py): files of the same framework in the same build unit are judged together
    groups: dict[tuple[str, str], list] = {}
    for app in p.http_apps:
        groups.setdefault((app.framework, _service_root(p, app.path)), []).append(app)
    for apps in groups.values():
        first = next(((app, r) for app in apps for r in app.routes if HEALTH_RX.match(r.path.strip())), None)
        if first is not None:
            app, hit = first
            yield passed(f"{hit.method} {hit.path}", hit.loc, f"{app.framework} app {app.path}")
            continue
        for app in apps:
            if app.routes:
                yield failed(f"{app.framework} app defines {len(app.routes)} routes but no health endpoint", app.loc,
                             f"{app.framework} app {app.path}")
    # apps with no routes in the same file (routes live elsewhere) are judged by the project's routes overall
    if all(not a.routes for a in p.http_apps):
        routes = [r for a in p.http_apps for r in a.routes]
        if not routes:
            yield failed("HTTP application found but no health route", p.http_apps[0].loc,
                         f"{p.http_apps[0].framework} app {p.http_apps[0].path}")


def _service_root(p, path: str) -> str:
    return unit_of(p, path)


def _py_calls(p, *names):
    for cf in p.code:
        if cf.language == "python":
            for c in cf.facts.calls:
                if c.name in names:
                    yield cf, c


def _cors_callee(name: str) -> bool:
    """A callee the CORS control judges (Python or JavaScript)."""
    return name.endswith((".add_middleware", "enableCors")) or name in ("flask_cors.CORS", "flask_cors.cross_origin",
                                                                         "cors", "@fastify/cors")


@control(
    id="security.cors-restricted", title="CORS allows only listed origins", category="security", severity="high",
    evidence=["python", "javascript"], verifiability="both",
    rationale="`Access-Control-Allow-Origin: *` lets any website read your API's responses from a visitor's "
              "browser; with credentials allowed it hands over the user's session.",
    remediation="FastAPI: `app.add_middleware(CORSMiddleware, allow_origins=[\"https://app.example.com\"])`.\n"
                "Express: `app.use(cors({ origin: ['https://app.example.com'] }))`.\n"
                "Flask: `CORS(app, origins=[\"https://app.example.com\"])`.",
    references=["OWASP ASVS 14.5.3", "OWASP HTML5 Security Cheat Sheet: CORS"],
    checklist=["security.cors_restricted"],
    phrases=["CORS restricted origins", "configure CORS properly", "cross-origin policy"],
)
def cors_restricted(p):
    any_ = False
    # the calls that can configure CORS, in file and call order (project call index)
    for cf, c in calls_where(p, _cors_callee):
        if cf.language == "python":
            target = None
            if c.name.endswith(".add_middleware") and c.args and "CORSMiddleware" in str(c.args[0][1]):
                target = c.kwargs
                origin = target.get("allow_origins")
                regex = target.get("allow_origin_regex")
            elif c.name in ("flask_cors.CORS", "flask_cors.cross_origin"):
                target = c.kwargs
                origin = target.get("origins")
                regex = None
                res = target.get("resources")
                if res is not None and res[0] == "lit" and isinstance(res[1], dict):
                    # per-resource options; a resource without "origins" gets the global origins (default '*')
                    glob = "*" if origin is None else origin[1] if origin[0] == "lit" else None
                    per = [o.get("origins", glob) if isinstance(o, dict) else glob for o in res[1].values()]
                    flat = [x for o in per for x in (o if isinstance(o, list) else [o])]
                    if "*" in flat or None not in flat:
                        origin = ("lit", ["*"] if "*" in flat else flat)
            if target is None:
                continue
            any_ = True
            if origin is not None and origin[0] == "name":  # a module-level constant: read its value
                const = next((a.value for a in cf.facts.assigns if a.target == origin[1]), None)
                if const is not None and const[0] == "lit":
                    origin = const
            creds = target.get("allow_credentials", target.get("supports_credentials", ("lit", False)))
            loc = Loc(cf.path, c.line)
            wildcard = origin is None and c.name.startswith("flask_cors") or \
                (origin is not None and origin[0] == "lit" and ("*" in origin[1] if isinstance(origin[1], (list, str)) else False))
            if regex is not None and regex[0] == "lit" and regex[1] in (".*", "^.*$", ".+"):
                wildcard = True
            if wildcard and creds == ("lit", True):
                yield failed("CORS allows any origin with credentials", loc, cf.path)
            elif wildcard:
                yield failed("CORS allows any origin ('*')", loc, cf.path)
            elif origin is None or origin[0] != "lit":
                yield passed("CORS origins come from configuration", loc, cf.path, confidence="medium")
            else:
                yield passed(f"CORS limited to {origin[1]}", loc, cf.path)
        else:
            if c.name not in ("cors", "@fastify/cors") and not c.name.endswith("enableCors"):
                continue
            any_ = True
            loc = Loc(cf.path, c.line)
            opts = next((a[1] for a in c.args if a[0] == "object"), None)
            if opts is None:
                yield failed("cors() without options allows any origin", loc, cf.path)
                continue
            origin = opts.get("origin")
            creds = opts.get("credentials") == ("lit", True)
            if origin is None or origin == ("lit", "*") or origin == ("lit", True):
                yield failed("CORS allows any origin" + (" with credentials" if creds else ""), loc, cf.path)
            else:
                yield passed("CORS origin restricted", loc, cf.path)
    if not any_:
        yield not_applicable("no CORS configuration in code")


RATE_LIMIT_PY = ("slowapi", "flask_limiter", "django_ratelimit", "ratelimit", "fastapi_limiter", "limits")
RATE_LIMIT_JS = ("express-rate-limit", "rate-limiter-flexible", "@nestjs/throttler", "@fastify/rate-limit",
                 "express-slow-down", "koa-ratelimit")
INGRESS_RL = re.compile(r"(nginx\.ingress\.kubernetes\.io/limit-(rps|rpm|connections)|traefik.*ratelimit|"
                        r"konghq.com/plugins.*rate)", re.I)


@control(
    id="security.rate-limiting", title="API requests are rate limited", category="security", severity="high",
    evidence=["python", "javascript", "nginx", "k8s"], verifiability="both",
    rationale="Without rate limits one client (buggy or hostile) can exhaust the service for everyone, and "
              "credential stuffing runs at full speed.",
    remediation="FastAPI: slowapi (`Limiter(key_func=get_remote_address)`, `@limiter.limit(\"100/minute\")`).\n"
                "Express: `app.use(rateLimit({ windowMs: 60_000, max: 100 }))`.\n"
                "nginx: `limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;` + `limit_req zone=api burst=20;`.\n"
                "ingress-nginx: annotation `nginx.ingress.kubernetes.io/limit-rps: \"10\"`.",
    references=["OWASP API Security Top 10 API4:2023", "OWASP ASVS 11.1.4"],
    checklist=["security.rate_limiting"],
    phrases=["rate limiting", "throttling", "API rate limits", "request limits per user"],
)
def rate_limiting(p):
    evidence = []
    for cf in files_importing(p, RATE_LIMIT_PY, RATE_LIMIT_JS):  # the files with such an import (project index)
        mods = RATE_LIMIT_PY if cf.language == "python" else RATE_LIMIT_JS
        for m in mods:
            for imp, line in cf.facts.imports.items():
                if imp == m or imp.startswith(m + ".") or imp.startswith(m + "/"):
                    evidence.append((Loc(cf.path, line), f"{m} imported"))
                    break
    for path, tree in p.nginx.items():
        for d, _ in nginx_directives(tree):
            if d.name == "limit_req":  # limit_req_zone only declares a zone; limit_req applies it
                evidence.append((Loc(path, d.line), f"nginx {d.name}"))
    for ing in p.objects("Ingress"):
        ann = ((ing.raw.get("metadata") or {}).get("annotations") or {})
        for k in ann:
            if INGRESS_RL.search(str(k)):
                evidence.append((ing.loc, f"ingress annotation {k}"))
    has_http = bool(p.http_apps) or bool(p.nginx) or bool(p.objects("Ingress"))
    if evidence:
        loc, msg = evidence[0]
        yield passed(f"rate limiting configured: {msg}", loc)
    elif has_http:
        first = p.http_apps[0].loc if p.http_apps else None
        yield failed("HTTP entry points found but no rate limiting in code, nginx or ingress annotations", first,
                     p.http_apps[0].path if p.http_apps else None)
    else:
        yield not_applicable("no HTTP entry points")


@control(
    id="security.debug-disabled", title="Debug mode is off", category="security", severity="high",
    evidence=["python", "javascript"],
    rationale="Debug modes print stack traces, settings and sometimes an interactive console to anyone who "
              "triggers an error (Werkzeug's debugger is remote code execution).",
    remediation="Django: `DEBUG = os.environ.get(\"DJANGO_DEBUG\") == \"1\"` (default off).\nFlask: never "
                "`app.run(debug=True)` in code that ships; use `FLASK_DEBUG` locally.\nFastAPI: `FastAPI(debug=False)`.",
    references=["OWASP ASVS 14.3.2", "CWE-489"],
    phrases=["debug mode disabled", "DEBUG=False in production"],
)
def debug_disabled(p):
    # DEBUG assignments and the calls that take a debug flag, from the project's name indexes, in the order of a
    # walk over every Python file (its assignments, then its calls)
    pos = code_positions(p)
    found = []
    for cf, a in assigns_where(p, "DEBUG".__eq__, tests=True):
        if cf.language == "python" and ("django" in " ".join(cf.facts.imports) or cf.path.endswith("settings.py")
                                        or "settings" in cf.path):
            if a.value == ("lit", True):
                found.append(((pos[id(cf)], 0), failed("DEBUG = True in settings", Loc(cf.path, a.line), cf.path)))
            else:
                found.append(((pos[id(cf)], 0), passed("DEBUG not hard-coded on", Loc(cf.path, a.line), cf.path)))
    for cf, c in calls_where(p, lambda name: name.endswith(".run") or name in ("fastapi.FastAPI", "flask.Flask")):
        if cf.language != "python":
            continue
        if (c.name.endswith(".run") and c.recv == "flask.Flask") or c.name in ("fastapi.FastAPI", "flask.Flask") \
                or c.name.endswith(".run") and "debug" in c.kwargs:
            if "debug" not in c.kwargs:
                continue
            if c.kwargs["debug"] == ("lit", True):
                found.append(((pos[id(cf)], 1), failed("debug=True", Loc(cf.path, c.line), cf.path)))
            else:
                found.append(((pos[id(cf)], 1), passed("debug not hard-coded on", Loc(cf.path, c.line), cf.path)))
    found.sort(key=lambda f: f[0])  # (stable)
    for _key, outcome in found:
        yield outcome
    if not found:
        yield not_applicable("no debug settings in code")


SQL_EXEC = re.compile(r"(^|\.)(execute|executemany|executescript|raw|extra|text|query|exec_driver_sql|fetch|fetchrow|"
                      r"fetchval|\$queryRawUnsafe|\$executeRawUnsafe)$")
SQL_RECV_HINT = re.compile(r"(cursor|cur|conn|connection|db|session|engine|sqlalchemy\.text|objects|pool|client|sql|"
                           r"knex|sequelize|prisma)", re.I)


@control(
    id="security.sql-parameterized", title="SQL is parameterised, never built from strings", category="security",
    severity="high", evidence=["python", "javascript"],
    rationale="SQL built with f-strings, `%`, `.format()` or `+` is injectable the moment a value comes from a "
              "request.",
    remediation="Pass values as parameters: `cur.execute(\"SELECT * FROM t WHERE id = %s\", (id,))`, "
                "`session.execute(text(\"... :id\"), {\"id\": id})`, `pool.query('... $1', [id])`.",
    references=["OWASP ASVS 5.3.4", "CWE-89", "bandit B608"],
    checklist=["security.sql_injection_prevention"],
    phrases=["SQL injection prevention", "parameterized queries"],
)
def sql_parameterized(p):
    any_ = False
    # the calls whose callee's last part is an SQL execution method, from the project's call index
    for cf, c in calls_where(p, lambda name: SQL_EXEC.search(name.rsplit(".", 1)[-1])):
        if not c.args:
            continue
        tail = c.name.rsplit(".", 1)[-1]
        if tail in ("query", "fetch", "text", "raw", "extra") and not SQL_RECV_HINT.search(c.name):
            continue
        kind, val = c.args[0][0], c.args[0][1]
        any_ = True
        loc = Loc(cf.path, c.line)
        if kind in ("fstring", "concat", "format", "percent", "template"):
            yield failed(f"{c.name}() receives SQL built with {kind}", loc, cf.path)
        elif kind == "lit" and isinstance(val, str) and re.search(r"\b(select|insert|update|delete)\b", val, re.I):
            yield passed(f"{c.name}() with a constant SQL string", loc, cf.path)
    if not any_:
        yield not_applicable("no SQL execution calls found")


HTTP_CLIENT_CALLS = {f"requests.{m}" for m in ("get", "post", "put", "patch", "delete", "head", "options", "request")}
OUTBOUND_PY_LIBS = ("requests", "httpx", "aiohttp", "urllib3", "urllib", "psycopg", "psycopg2", "redis")
OUTBOUND_JS_CALLEES = {"axios", "axios.get", "axios.post", "axios.put", "axios.delete", "axios.request", "axios.create",
                       "fetch", "node-fetch", "undici.fetch", "undici.request", "got", "got.get", "got.post"}


@control(
    id="reliability.outbound-timeouts", title="Outbound HTTP calls set a timeout", category="reliability",
    severity="high", evidence=["python", "javascript"],
    rationale="`requests` waits forever by default: one slow dependency pins every worker thread and the service "
              "stops answering (a cascading failure).",
    remediation="`requests.get(url, timeout=(3.05, 10))`; for sessions wrap calls or use an adapter with a "
                "default; httpx: never `timeout=None`; aiohttp: `ClientSession(timeout=ClientTimeout(total=10))`; "
                "redis-py: `socket_timeout=2`; psycopg: `connect_timeout=5` (and `options='-c statement_timeout=5s'`). "
                "Node: `fetch(url, { signal: AbortSignal.timeout(5000) })` or axios `timeout`.",
    references=["bandit B113 (request_without_timeout)", "Google SRE book ch. 22 'Addressing Cascading Failures'"],
    checklist=["reliability.timeouts"],
    phrases=["timeouts on external calls", "request timeouts", "client timeouts", "timeout configuration"],
)
def outbound_timeouts(p):
    any_ = False
    # only these files can hold a call judged below: Python files importing a client library (exactly the files
    # the former `imports_any(*OUTBOUND_PY_LIBS)` test kept: Python module names have no "/"), JavaScript files
    # calling axios/fetch/got/undici (project indexes)
    py_clients = files_importing(p, OUTBOUND_PY_LIBS, ())
    js_clients = [cf for cf in files_calling(p, OUTBOUND_JS_CALLEES.__contains__) if cf.language != "python"]
    clients = {id(cf) for cf in in_model_order(p, py_clients, js_clients)
               if not ("/test" in f"/{cf.path}" or cf.path.startswith("test"))}
    # the calls of those files that one of the tests below can pass (from the project's call index, by callee or
    # by the client object it is called on), in file and call order
    for cf, c in calls_where(p, _outbound_callee, recv_test=_outbound_client):
        if id(cf) not in clients:
            continue
        if cf.language == "python":
            tail = c.name.rsplit(".", 1)[-1]
            is_requests = c.name in HTTP_CLIENT_CALLS or (
                c.recv in ("requests.Session", "requests.session") and tail in
                ("get", "post", "put", "patch", "delete", "head", "request"))
            is_urllib = c.name == "urllib.request.urlopen"
            if is_requests or is_urllib:
                any_ = True
                loc = Loc(cf.path, c.line)
                has = "timeout" in c.kwargs or (is_urllib and len(c.args) >= 3)
                if has and c.kwargs.get("timeout") != ("lit", None):
                    yield passed(f"{c.name}(…, timeout=…)", loc, cf.path)
                else:
                    yield failed(f"{c.name}() without a timeout waits forever", loc, cf.path)
                continue
            rule = PY_TIMEOUT_RULES.get(c.name)
            if rule is None and c.recv in PY_TIMEOUT_RULES and c.recv.startswith("httpx.") and \
                    tail in ("get", "post", "put", "patch", "delete", "request", "stream", "send"):
                rule = ("timeout", "none-only", "per-request timeout=None")
            if rule is None:
                continue
            kw, mode, what = rule
            any_ = True
            loc = Loc(cf.path, c.line)
            names = (kw,) if isinstance(kw, str) else kw
            given = [c.kwargs[k] for k in names if k in c.kwargs]
            if any(v == ("lit", None) for v in given):
                yield failed(f"{c.name}({names[0]}=None) disables the timeout", loc, cf.path)
            elif given or mode == "none-only":
                yield passed(f"{c.name}() with {names[0]}" if given else f"{c.name}() keeps its default timeout",
                             loc, cf.path)
            else:
                yield failed(f"{c.name}() without {names[0]}: {what}", loc, cf.path, confidence="medium")
        else:
            if c.name.startswith("axios") and c.name in ("axios", "axios.get", "axios.post", "axios.put",
                                                        "axios.delete", "axios.request"):
                any_ = True
                opts = [a[1] for a in c.args if a[0] == "object"]
                if any("timeout" in o for o in opts):
                    yield passed("axios call with timeout", Loc(cf.path, c.line), cf.path)
                else:
                    yield failed("axios call without timeout", Loc(cf.path, c.line), cf.path, confidence="medium")
            elif c.name == "axios.create":
                any_ = True
                opts = [a[1] for a in c.args if a[0] == "object"]
                if any("timeout" in o for o in opts):
                    yield passed("axios instance with a default timeout", Loc(cf.path, c.line), cf.path)
                else:
                    yield failed("axios instance without a default timeout", Loc(cf.path, c.line), cf.path)
            elif c.name in ("fetch", "node-fetch", "undici.fetch", "undici.request", "got", "got.get", "got.post"):
                any_ = True
                opts = [a[1] for a in c.args if a[0] == "object"]
                if any(k in o for o in opts for k in ("signal", "timeout", "headersTimeout", "bodyTimeout")):
                    yield passed(f"{c.name}() with a timeout/abort signal", Loc(cf.path, c.line), cf.path)
                else:
                    yield failed(f"{c.name}() without an AbortSignal or timeout can hang for minutes",
                                 Loc(cf.path, c.line), cf.path, confidence="medium")
    if not any_:
        yield not_applicable("no outbound HTTP client calls found")


def _outbound_callee(name: str) -> bool:
    """A callee one of the tests of :func:`outbound_timeouts` can pass on its name."""
    return name in HTTP_CLIENT_CALLS or name == "urllib.request.urlopen" or name in PY_TIMEOUT_RULES or \
        name in OUTBOUND_JS_CALLEES


def _outbound_client(recv: str) -> bool:
    """A client object the tests of :func:`outbound_timeouts` look at the method calls of."""
    return recv in ("requests.Session", "requests.session") or (recv in PY_TIMEOUT_RULES and recv.startswith("httpx."))


PY_TIMEOUT_RULES = {  # callee -> (timeout keyword(s), "required" | "none-only", why a missing one matters)
    "httpx.Client": ("timeout", "none-only", ""), "httpx.AsyncClient": ("timeout", "none-only", ""),
    "httpx.get": ("timeout", "none-only", ""), "httpx.post": ("timeout", "none-only", ""),
    "httpx.request": ("timeout", "none-only", ""),
    "aiohttp.ClientSession": ("timeout", "required", "aiohttp's default total timeout is 5 minutes"),
    "urllib3.PoolManager": ("timeout", "required", "urllib3 waits forever by default"),
    "urllib3.request": ("timeout", "required", "urllib3 waits forever by default"),
    "psycopg.connect": ("connect_timeout", "required", "a dead database host blocks the connect for minutes"),
    "psycopg2.connect": ("connect_timeout", "required", "a dead database host blocks the connect for minutes"),
    "redis.Redis": (("socket_timeout", "socket_connect_timeout"), "required", "redis-py blocks forever by default"),
    "redis.StrictRedis": (("socket_timeout", "socket_connect_timeout"), "required",
                          "redis-py blocks forever by default"),
    "redis.Redis.from_url": (("socket_timeout", "socket_connect_timeout"), "required",
                             "redis-py blocks forever by default"),
    "redis.from_url": (("socket_timeout", "socket_connect_timeout"), "required", "redis-py blocks forever by default"),
}


@control(
    id="security.env-files-not-committed", title=".env files are not committed and are git-ignored",
    category="security", severity="high", evidence=["dotenv", "gitignore"],
    rationale="A committed .env file puts real credentials into every clone and into git history.",
    remediation="`git rm --cached .env`, rotate what it contained, add `.env` and `.env.*` (but not "
                "`.env.example`) to .gitignore.",
    references=["OWASP ASVS 14.1.3", "CWE-538"],
    checklist=["security.no_committed_secrets"],
    phrases=[".env excluded from git", "never commit secrets to git", "no secrets in version control"],
)
def env_files_not_committed(p):
    envs = [f for f in p.files_of("dotenv") if not re.search(r"\.(example|sample|template|dist|defaults?)$", f, re.I)
            and not f.endswith(("example.env", "sample.env"))]
    gi = p.sources.get(".gitignore", "")
    ignored = bool(re.search(r"^\s*(/|\*\*/)?\.env(\*|\.\*)?\s*$", gi, re.M)) or bool(re.search(r"^\s*\*\.env\s*$", gi, re.M))
    for e in envs:
        yield failed(f"{e} is in the tree", Loc(e, 1), e)
    if not p.files:
        yield not_applicable("empty repository")
        return
    if ignored:
        line = next(i for i, ln in enumerate(gi.splitlines(), 1) if ".env" in ln)
        yield passed(".env is git-ignored", Loc(".gitignore", line), ".gitignore")
    elif envs or p.code or p.workloads:
        yield failed(".gitignore does not ignore .env files", Loc(".gitignore", None) if gi else None, ".gitignore")
    else:
        yield not_applicable("no application code or env files")


COMPRESSION_MW_RX = re.compile(r"(gzip|compress|brotli)", re.I)


@control(
    id="performance.response-compression", title="HTTP responses are compressed", category="performance",
    severity="low", evidence=["python", "javascript", "nginx"], verifiability="both",
    rationale="Uncompressed JSON and HTML cost bandwidth and latency, most of all on mobile networks.",
    remediation="FastAPI: `app.add_middleware(GZipMiddleware, minimum_size=1000)`; Express: "
                "`app.use(compression())`; nginx: `gzip on; gzip_types application/json text/css;`.",
    references=["web.dev: Enable text compression"],
    checklist=["performance.response_compression"],
    phrases=["gzip compression of HTTP responses", "compress HTTP responses", "Content-Encoding gzip"],
)
def response_compression(p):
    evidence = []
    for app in p.http_apps:
        for m in app.middleware:
            if COMPRESSION_MW_RX.search(m.name):
                evidence.append((m.loc, m.name))
    mods = ("compression", "@fastify/compress", "flask_compress", "brotli_asgi")
    for cf in files_importing(p, mods):  # the files importing one of them or a submodule (project index)
        for mod in mods:
            if mod in cf.facts.imports:
                evidence.append((Loc(cf.path, cf.facts.imports[mod]), mod))
    for path, tree in p.nginx.items():
        for d, _ in nginx_directives(tree):
            if d.name in ("gzip", "brotli") and d.args and d.args[0] == "on":
                evidence.append((Loc(path, d.line), f"nginx {d.name} on"))
    if evidence:
        yield passed(f"compression via {evidence[0][1]}", evidence[0][0])
    elif p.http_apps or p.nginx:
        yield failed("no response compression in the app or the proxy", p.http_apps[0].loc if p.http_apps else None)
    else:
        yield not_applicable("no HTTP services")


POOL_ENGINES_PY = ("sqlalchemy.create_engine", "sqlalchemy.ext.asyncio.create_async_engine")
POOLS_PY = ("asyncpg.create_pool", "psycopg_pool.ConnectionPool", "psycopg_pool.AsyncConnectionPool",
            "psycopg2.pool.ThreadedConnectionPool", "psycopg2.pool.SimpleConnectionPool")
POOLS_JS = ("pg.Pool", "mysql2.createPool", "mysql2/promise.createPool")


@control(
    id="performance.connection-pooling", title="Database connection pools are bounded", category="performance",
    severity="medium", evidence=["python", "javascript"],
    rationale="Unbounded pools exhaust the database's max_connections under load; no pool at all pays a TCP+TLS+"
              "auth handshake per query.",
    remediation="SQLAlchemy: `create_engine(url, pool_size=10, max_overflow=5, pool_pre_ping=True)`; asyncpg: "
                "`create_pool(dsn, max_size=10)`; node-postgres: `new Pool({ max: 10 })`; or PgBouncer.",
    references=["PostgreSQL wiki: Number Of Database Connections"],
    checklist=["performance.connection_pooling"],
    phrases=["connection pooling", "pool limits"],
)
def connection_pooling(p):
    any_ = False
    # the calls of those callees, in file and call order, from the project's call index
    for cf, c in calls_where(p, set(POOL_ENGINES_PY + POOLS_PY + POOLS_JS).__contains__):
        loc = Loc(cf.path, c.line)
        if cf.language == "python" and c.name in POOL_ENGINES_PY:
            any_ = True
            if "pool_size" in c.kwargs or "poolclass" in c.kwargs:
                yield passed("engine pool size set", loc, cf.path)
            else:
                yield failed("create_engine() with default pool limits (pool_size not set)", loc, cf.path,
                             confidence="medium")
        elif cf.language == "python" and c.name in POOLS_PY:
            any_ = True
            if "max_size" in c.kwargs or "maxconn" in c.kwargs or len(c.args) >= 2:
                yield passed(f"{c.name} bounded", loc, cf.path)
            else:
                yield failed(f"{c.name} without max size", loc, cf.path)
        elif cf.language != "python" and c.name in POOLS_JS:
            any_ = True
            opts = [a[1] for a in c.args if a[0] == "object"]
            if any("max" in o or "connectionLimit" in o for o in opts):
                yield passed("pool size bounded", loc, cf.path)
            else:
                yield failed("pool without an explicit max", loc, cf.path)
    if not any_:
        yield not_applicable("no database clients found in code")


MEMO_DECORATORS = ("functools.lru_cache", "functools.cache")
CACHE_PY = ("redis", "aiocache", "cachetools", "fastapi_cache", "flask_caching", "django.core.cache", "pymemcache",
            "diskcache", "cachecontrol", "dogpile.cache")
CACHE_JS = ("ioredis", "redis", "node-cache", "lru-cache", "keyv", "cache-manager", "@nestjs/cache-manager", "memcached")


@control(
    id="performance.caching", title="A caching layer is used", category="performance", severity="low",
    evidence=["python", "javascript", "k8s", "compose"],
    rationale="Recomputing or re-fetching the same data on every request wastes the database's capacity and "
              "adds latency that a cache would remove.",
    remediation="Cache hot reads with a TTL (Redis, memcached, or an in-process LRU for small data), and "
                "invalidate on writes.",
    references=["AWS Well-Architected, Performance Efficiency: caching"],
    checklist=["performance.caching", "performance.cache_invalidation"],
    phrases=["caching layer", "Redis cache", "response caching"],
)
def caching(p):
    # only files importing a cache client or memoising with functools can pass in this loop (project index)
    memoising = [cf for cf, _fn, _d in py_decorators_where(p, MEMO_DECORATORS.__contains__, tests=True)]
    as_queue: list[str] = []  # files whose Redis client only queues, streams or publishes
    for cf in in_model_order(p, files_importing(p, CACHE_PY, CACHE_JS), memoising):
        mods = CACHE_PY if cf.language == "python" else CACHE_JS
        for imp, line in cf.facts.imports.items():
            if any(imp == m or imp.startswith(m + ".") or imp.startswith(m + "/") for m in mods):
                if imp.split(".")[0].split("/")[0] in REDIS_CLIENTS and _redis_as_queue_only(cf):
                    as_queue.append(cf.path)
                    continue
                yield passed(f"cache client {imp}", Loc(cf.path, line), cf.path)
                return
        if cf.language == "python" and any(c.name in ("functools.lru_cache", "functools.cache") for fn in
                                           cf.facts.functions for c in fn.decorators):
            fn = next(fn for fn in cf.facts.functions if any(c.name in ("functools.lru_cache", "functools.cache")
                                                             for c in fn.decorators))
            yield passed("in-process memoisation (functools.lru_cache)", Loc(cf.path, fn.line), cf.path,
                         confidence="medium")
            return
    # Django configures its cache framework by name in settings (CACHES), not by import
    for cf, a in assigns_where(p, "CACHES".__eq__, tests=True):
        if a.value[0] == "lit" and isinstance(a.value[1], dict):
            backends = [str(v.get("BACKEND", "")) for v in a.value[1].values() if isinstance(v, dict)]
            real = [b for b in backends if b and not b.endswith("DummyCache")]
            if real:
                yield passed(f"Django cache backend {real[0]}", Loc(cf.path, a.line), cf.path)
                return
    if p.http_apps:
        queue = f" (Redis is used as a queue or message bus in {', '.join(as_queue[:3])}, not as a cache)" \
            if as_queue else ""
        yield failed(f"no cache client or memoisation in the application code{queue}", p.http_apps[0].loc)
    else:
        yield not_applicable("no HTTP services")


REDIS_CLIENTS = {"redis", "aioredis", "ioredis", "@redis"}
# Redis commands of queues, streams and pub/sub: a client that only runs these is a broker, not a cache
REDIS_QUEUE_OPS = frozenset({
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "blpop", "brpop", "brpoplpush", "rpoplpush", "lmove",
    "blmove", "xadd", "xread", "xreadgroup", "xack", "xclaim", "xautoclaim", "xgroup", "xlen", "xtrim", "xdel",
    "publish", "spublish", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe"})
# calls that say nothing about the use (connections, pipelines, listeners)
REDIS_NEUTRAL_OPS = frozenset({
    "ping", "close", "aclose", "quit", "disconnect", "connect", "on", "once", "pubsub", "pipeline", "multi", "exec",
    "execute", "listen", "get_message", "duplicate", "info", "from_url", "redis", "strictredis", "createclient",
    "connectionpool", "blockingconnectionpool", "sentinel", "cluster", "rediscluster", "master_for", "slave_for"})


def _redis_as_queue_only(cf) -> bool:
    """The file calls methods on a Redis client and every one (connection handling aside) is a queue, stream
    or pub/sub command. A client whose methods the file does not call (handed to a caching library, say) is
    not judged."""
    ops = set()
    for c in cf.facts.calls:
        root = (c.recv or "").split(".")[0].split("/")[0]
        if root in REDIS_CLIENTS:
            op = c.name.rsplit(".", 1)[-1].lower()
            if op not in REDIS_NEUTRAL_OPS:
                ops.add(op)
    return bool(ops) and ops <= REDIS_QUEUE_OPS
