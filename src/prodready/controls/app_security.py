"""Security of the application itself: headers, authentication, authorization, keys, input, dependencies, logs.

Python is read with ``ast`` and JavaScript/TypeScript with tree-sitter (never executed); heuristics over code say so
with a confidence.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ..model import Loc
from ._app import (
    INFRA_ROUTE,
    PY,
    assigns_where,
    calls_where,
    classes_where,
    code,
    code_by_path,
    code_positions,
    files_importing,
    functions_where,
    functions_with_param_calls,
    import_hits,
    importing_in,
    is_test,
    js_decorators_where,
    js_route_call,
    nginx_directives,
    py_decorators_where,
    service_groups,
    service_routes,
    tf_resources,
    unit_code,
    unit_of,
)
from ._k8s import ns, pod_index, same_scope
from ._util import paths_containing, paths_matching
from .base import control, failed, not_applicable, passed

# --- security headers ---------------------------------------------------------------------------

SEC_HEADERS = {"strict-transport-security": "HSTS", "x-content-type-options": "X-Content-Type-Options",
               "x-frame-options": "X-Frame-Options", "content-security-policy": "Content-Security-Policy",
               "referrer-policy": "Referrer-Policy"}
HEADER_LIBS_PY = ("flask_talisman", "secure", "django_csp", "starlette_csp", "fastapi_security", "talisman")
HEADER_LIBS_JS = ("helmet", "@fastify/helmet", "fastify-helmet", "koa-helmet", "lusca", "next-secure-headers")


def _nginx_headers(directives) -> set[str]:
    out = set()
    for d in directives or []:
        if d.name in ("add_header", "more_set_headers") and d.args:
            name = d.args[0].split(":", 1)[0].strip().lower() if d.name == "add_header" else \
                d.args[-1].lstrip("-s ").split(":", 1)[0].strip().strip('"').lower()
            if d.name == "more_set_headers":
                name = re.sub(r"^(-s\s+\S+\s+)?", "", " ".join(d.args)).strip("'\" ").split(":", 1)[0].lower()
            if name in SEC_HEADERS:
                out.add(name)
    return out


def _has_add_header(block) -> bool:
    return any(d.name == "add_header" for d in block or [])


@control(
    id="security.security-headers", title="HTTP security headers (HSTS, nosniff, framing) are set",
    category="security", severity="medium", evidence=["nginx", "python", "javascript", "k8s"], verifiability="both",
    rationale="Browsers enforce HTTPS-only (HSTS), MIME sniffing protection and framing rules only when told to by "
              "response headers; without them a downgrade or clickjacking attack needs no bug in your code. In "
              "nginx a location that declares any `add_header` silently drops every header set at server level.",
    remediation="nginx (server level, repeated in every location that has its own add_header):\n"
                "add_header Strict-Transport-Security \"max-age=31536000; includeSubDomains\" always;\n"
                "add_header X-Content-Type-Options nosniff always;\nadd_header X-Frame-Options DENY always;\n"
                "Express: `app.use(helmet())`; Flask: `Talisman(app)`; Django: `SecurityMiddleware` with "
                "`SECURE_HSTS_SECONDS = 31536000`.",
    references=["OWASP Secure Headers Project", "OWASP ASVS 14.4", "nginx docs: add_header inheritance"],
    checklist=["security.security_headers", "security.hsts"],
    phrases=["security headers", "HSTS", "Strict-Transport-Security", "helmet"],
)
def security_headers(p):
    layers = []
    any_http = bool(p.http_apps) or bool(p.nginx)
    for path, tree in p.nginx.items():
        http_level: set[str] = set()
        for d, _anc in nginx_directives(tree):
            if d.name == "http":
                http_level = _nginx_headers(d.block)
            if d.name != "server":
                continue
            own = _nginx_headers(d.block)
            server_set = own if _has_add_header(d.block) else http_level
            if server_set:
                layers.append((Loc(path, d.line), f"nginx server sets {', '.join(SEC_HEADERS[h] for h in sorted(server_set))}",
                               server_set))
            # a location with its own add_header inherits none of the server's
            stack = [(c, server_set) for c in d.block or [] if c.name == "location"]
            while stack:
                loc, inherited = stack.pop()
                if any(c.name == "include" for c in loc.block or []):
                    continue  # the included file may repeat them
                if _has_add_header(loc.block):
                    mine = _nginx_headers(loc.block)
                    lost = inherited - mine
                    if lost:
                        first = next(c for c in loc.block if c.name == "add_header")
                        yield failed(f"location {' '.join(loc.args)} has its own add_header, so it drops "
                                     f"{', '.join(SEC_HEADERS[h] for h in sorted(lost))} set at server level",
                                     Loc(path, first.line), path)
                    eff = mine
                else:
                    eff = inherited
                stack.extend((c, eff) for c in loc.block or [] if c.name == "location")
    for loc, mod, cf in import_hits(p, HEADER_LIBS_PY, HEADER_LIBS_JS):
        if mod.split(".")[0] == "secure" and cf.language != PY:
            continue
        layers.append((loc, f"{mod} middleware", {"strict-transport-security", "x-content-type-options"}))
    for app in p.http_apps:
        if app.framework != "django":
            continue
        mws = [m.name for m in app.middleware]
        if "django.middleware.security.SecurityMiddleware" in mws:
            cf = code_by_path(p).get(app.path)
            names = {a.target: a for a in cf.facts.assigns} if cf else {}
            hsts = names.get("SECURE_HSTS_SECONDS")
            got = {"x-content-type-options"}
            if hsts is not None and not (hsts.value[0] == "lit" and not hsts.value[1]):
                got.add("strict-transport-security")
            layers.append((app.middleware[0].loc, "Django SecurityMiddleware", got))
            if "strict-transport-security" not in got:
                layers.append((app.middleware[0].loc, "Django without SECURE_HSTS_SECONDS", set()))
    for ing in p.objects("Ingress"):
        ann = (ing.raw.get("metadata") or {}).get("annotations") or {}
        snippet = " ".join(str(v) for k, v in ann.items() if str(k).endswith(("configuration-snippet",
                                                                              "server-snippet")))
        got = {h for h in SEC_HEADERS if h in snippet.lower()}
        cls = str((ing.raw.get("spec") or {}).get("ingressClassName") or ann.get("kubernetes.io/ingress.class") or "")
        if (ing.raw.get("spec") or {}).get("tls") and "nginx" in cls:
            got.add("strict-transport-security")  # ingress-nginx sends HSTS on TLS hosts by default
        if any("traefik" in str(k) and "headers" in str(v).lower() for k, v in ann.items()):
            got.add("x-content-type-options")
        if got:
            layers.append((ing.loc, f"{ing.ref} ({', '.join(SEC_HEADERS[h] for h in sorted(got))})", got))
    for o in p.objects("Middleware"):  # Traefik headers middleware
        spec = o.raw.get("spec") or {}
        if isinstance(spec, dict) and isinstance(spec.get("headers"), dict):
            h = spec["headers"]
            got = set()
            if h.get("stsSeconds"):
                got.add("strict-transport-security")
            if h.get("contentTypeNosniff"):
                got.add("x-content-type-options")
            if h.get("frameDeny") or h.get("customFrameOptionsValue"):
                got.add("x-frame-options")
            if got:
                layers.append((o.loc, f"Traefik headers middleware {o.name}", got))
    if not any_http:
        yield not_applicable("no HTTP services or proxies")
        return
    covered = set().union(*(g for _, _, g in layers)) if layers else set()
    for loc, msg, got in layers:
        if got:
            yield passed(msg, loc, loc.path)
    if not covered:
        first = p.http_apps[0].loc if p.http_apps else Loc(next(iter(p.nginx)), None)
        yield failed("no layer sets security headers (no helmet/Talisman/SecurityMiddleware, nginx add_header or "
                     "ingress configuration)", first, first.path)
    elif "strict-transport-security" not in covered:
        loc = layers[0][0]
        yield failed("security headers are set but no layer sends Strict-Transport-Security (HSTS)", loc, loc.path)


# --- authentication -----------------------------------------------------------------------------

AUTH_RX = re.compile(r"(auth|current_?user|get_?user|user_?from|token|jwt|oauth|api_?key|apikey|verify|login|"
                     r"session_?user|principal|require_?user|bearer|identity|signed_?in|guard|passport|firebase|"
                     r"cognito|clerk|keycloak|permission|role)", re.I)
PUBLIC_RX = re.compile(r"^/?(api/)?(v\d+/)?((auth|oauth2?|login|logout|signin|signup|sign-in|sign-up|register|token|"
                       r"refresh|callback|password[-_]?reset|forgot[-_]?password|verify[-_]?email|public|webhooks?|"
                       r"\.well-known)(/.*)?|)$", re.I)
AUTH_SCHEMES_PY = ("fastapi.security.", "flask_httpauth", "flask_login.login_required", "flask_jwt_extended.jwt_required",
                   "django.contrib.auth.decorators.", "rest_framework.permissions.IsAuthenticated")
EDGE_AUTH_ANN = re.compile(r"(nginx\.ingress\.kubernetes\.io/auth-(url|type|signin)|traefik.*(forwardauth|"
                           r"basicauth)|alb\.ingress\.kubernetes\.io/auth-type|konghq\.com/plugins)", re.I)


@lru_cache(maxsize=16384)  # pure, and the same paths come back in every service
def _public_route(path: str) -> bool:
    """An operational or public route, which needs no authentication."""
    return bool(INFRA_ROUTE.match(path) or PUBLIC_RX.match(path)) or path in ("?", "/*", "*")


@lru_cache(maxsize=16384)  # pure, and asked again for the same few names on every route and decorator
def _auth_name(name: str | None) -> bool:
    return bool(name) and bool(AUTH_RX.search(name.rsplit(".", 1)[-1] if "." in name else name)) and \
        "session" != name.rsplit(".", 1)[-1].lower() and not name.endswith(("get_session", "get_db", "get_settings"))


def _fn_auth(fn, router_auth: bool) -> bool:
    if router_auth:
        return True
    for d in fn.decorators:
        if _auth_name(d.name) or (d.refs and any(_auth_name(r) for r in d.refs
                                                 if r.rsplit(".", 1)[-1] not in ("Depends",))):
            if d.name.rsplit(".", 1)[-1] in ("get", "post", "put", "patch", "delete", "route", "api_route") and \
                    not any(_auth_name(r) for r in d.refs if not r.endswith(("Depends", "Security"))):
                continue
            return True
    for call in fn.param_calls.values():
        if call.name.rsplit(".", 1)[-1] in ("Depends", "Security"):
            if call.name.endswith("Security") or any(_auth_name(r) for r in call.refs):
                return True
    for t in fn.param_types.values():
        if "fastapi.security." in t or "HTTPAuthorizationCredentials" in t:  # (within it, or at its start)
            return True
    return False


def _py_global_auth(p, cfs) -> tuple[set[str], Loc | None]:
    """Router variables whose every route is authenticated, and where the whole app is (global dependency,
    authentication middleware, before_request hook): the last such place in file order."""
    by_file = p.derived("app_security.global-auth", lambda: _py_global_auth_files(p))
    routers: set[str] = set()
    glob = None
    if not by_file:  # (no file of the project has any)
        return routers, glob
    for cf in cfs:
        found = by_file.get(cf.path)
        if found is not None and cf.language == PY:
            routers |= found[0]
            glob = found[1] or glob
    return routers, glob


_GLOBAL_AUTH_CALLS = ("APIRouter", "FastAPI", "include_router", "add_middleware")
_GLOBAL_AUTH_HOOKS = ("before_request", "before_app_request", "middleware")


def _py_global_auth_files(p) -> dict[str, list]:
    """Path -> [routers, last global place] of the Python files where :func:`_py_global_auth` finds something;
    per file, its calls are read first, then its decorated functions, then its assignments. Only the calls,
    decorators and assignments with the names looked at are visited (from the project's indexes)."""
    out: dict[str, list] = {}
    by_line: dict[str, dict[int, str]] = {}  # per file: assignment line -> target
    for cf, c in calls_where(p, lambda name: name.endswith(_GLOBAL_AUTH_CALLS)):
        if cf.language != PY:
            continue
        tail = c.name.rsplit(".", 1)[-1]
        deps = c.kwargs.get("dependencies")
        if tail in ("APIRouter", "FastAPI") and deps is not None and any(_auth_name(r) for r in c.refs):
            found = out.setdefault(cf.path, [set(), None])
            if tail == "FastAPI":
                found[1] = Loc(cf.path, c.line)
            else:
                lines = by_line.get(cf.path)
                if lines is None:
                    lines = by_line[cf.path] = {a.line: a.target for a in cf.facts.assigns}
                if c.line in lines:
                    found[0].add(lines[c.line])
        if tail == "include_router" and deps is not None and any(_auth_name(r) for r in c.refs) and c.args:
            out.setdefault(cf.path, [set(), None])[0].add(str(c.args[0][1]).rsplit(".", 1)[-1])
        if tail == "add_middleware" and c.args and re.search(r"(auth|jwt|token)", str(c.args[0][1]), re.I):
            out.setdefault(cf.path, [set(), None])[1] = Loc(cf.path, c.line)
    for cf, fn, _d in py_decorators_where(p, lambda name: name.rsplit(".", 1)[-1] in _GLOBAL_AUTH_HOOKS, tests=True):
        if _auth_name(fn.name):
            out.setdefault(cf.path, [set(), None])[1] = Loc(cf.path, fn.line)
    for cf, a in assigns_where(p, ("MIDDLEWARE", "REST_FRAMEWORK").__contains__, tests=True):
        if a.target == "MIDDLEWARE" and a.value[0] == "lit" and any(
                "LoginRequiredMiddleware" in str(m) for m in a.value[1] or []):
            out.setdefault(cf.path, [set(), None])[1] = Loc(cf.path, a.line)
        if a.target == "REST_FRAMEWORK" and a.value[0] == "lit" and isinstance(a.value[1], dict):
            perms = a.value[1].get("DEFAULT_PERMISSION_CLASSES") or []
            if perms and not any(str(x).endswith("AllowAny") for x in perms):
                out.setdefault(cf.path, [set(), None])[1] = Loc(cf.path, a.line)
    return out


def _django_view_auth(p, cfs_all, view: str) -> bool | None:
    name = view.rsplit(".", 1)[-1]
    for cf in cfs_all:
        if cf.language != PY:
            continue
        for fn in cf.facts.functions:
            if fn.name == name and fn.cls is None:
                return any(_auth_name(d.name) or any(_auth_name(r) for r in d.refs) for d in fn.decorators)
        for cname, _line, bases in cf.facts.classes:
            if cname == name:
                if any(re.search(r"(LoginRequired|PermissionRequired|UserPassesTest|Authenticated)", b) for b in bases):
                    return True
                for a in cf.facts.assigns:
                    if a.target in (f"{cname}.permission_classes", f"{cname}.authentication_classes"):
                        vals = a.value[1] if isinstance(a.value[1], list) else []
                        return not any(str(v).endswith("AllowAny") for v in vals)
                return False
    return None


def _edge_auth(p) -> Loc | None:
    for ing in p.objects("Ingress"):
        ann = (ing.raw.get("metadata") or {}).get("annotations") or {}
        if any(EDGE_AUTH_ANN.search(str(k)) or EDGE_AUTH_ANN.search(f"{k}={v}") for k, v in ann.items()):
            return ing.loc
    for o in p.objects("RequestAuthentication") + p.objects("AuthorizationPolicy"):
        return o.loc
    for path, tree in p.nginx.items():
        for d, _anc in nginx_directives(tree):
            if d.name in ("auth_request", "auth_jwt", "auth_basic") and d.args and d.args[0] != "off":
                return Loc(path, d.line)
    for w in p.workloads:
        for c in w.containers:
            if not c.init and c.image is not None and _edge_auth_image(c.image.repository):
                return c.loc
    return None


def _edge_auth_image(repository: str) -> bool:
    """An authenticating proxy's image (as ``re.search(r"oauth2-proxy|pomerium|authelia", repository)``)."""
    return "oauth2-proxy" in repository or "pomerium" in repository or "authelia" in repository


def _js_auth_lines(p) -> dict[str, tuple[dict[str, int], list]]:
    """For Express-style code, per file: the first line from which each receiver (app / router variable) runs an
    auth middleware for every later route (``app.use(auth)``), and NestJS guard decorators. Only the files with
    such calls or decorators are listed (found once per project, from its call and decorator indexes)."""
    out: dict[str, tuple[dict[str, int], list]] = {}
    for cf, c in calls_where(p, lambda name: name.endswith((".use", "useGlobalGuards"))):
        since = out.setdefault(cf.path, ({}, []))[0]
        if c.name.endswith(".use") and any(a[0] in ("name", "call") and _js_auth_arg(a) for a in c.args):
            recv = c.name.rsplit(".", 1)[0]
            since[recv] = min(since.get(recv, c.line), c.line)
        if c.name.endswith("useGlobalGuards"):
            since["*"] = 0
    for cf, d in js_decorators_where(p, lambda name: name.rsplit(".", 1)[-1] == "UseGuards", tests=True):
        out.setdefault(cf.path, ({}, []))[1].append(d)
    return out


_NO_JS_AUTH: tuple[dict[str, int], list] = ({}, [])


def _js_auth_arg(a) -> bool:
    return _js_auth_text(str(a[1]))


@lru_cache(maxsize=16384)  # pure, and asked again for the same middleware names in every file
def _js_auth_text(v: str) -> bool:
    return bool(JS_AUTH_RX.search(v))


JS_AUTH_RX = re.compile(r"(passport|jwt|auth|verify_?token|require_?(user|login)|ensure_?(logged|auth)|"
                        r"is_?authenticated|clerk|firebase|session_?check|guard|protect)", re.I)


@control(
    id="security.authentication", title="API routes require authentication", category="security", severity="high",
    evidence=["python", "javascript", "k8s", "nginx"], verifiability="both",
    rationale="An endpoint that serves or changes data without checking who is calling is open to anyone who can "
              "reach it; 'it is only internal' stops being true with the first misrouted ingress.",
    remediation="FastAPI: `router = APIRouter(dependencies=[Depends(get_current_user)])` or a `user = "
                "Depends(get_current_user)` parameter on each route; Flask: `@login_required` / `@jwt_required()`; "
                "Django REST framework: `DEFAULT_PERMISSION_CLASSES = ['rest_framework.permissions.IsAuthenticated']`; "
                "Express: `app.use('/api', passport.authenticate('jwt', {session: false}))`; NestJS: "
                "`@UseGuards(JwtAuthGuard)` or a global `APP_GUARD`. Or authenticate at the edge "
                "(`nginx.ingress.kubernetes.io/auth-url`, oauth2-proxy).",
    references=["OWASP API Security Top 10 API2:2023 (Broken Authentication)", "OWASP ASVS 4.0 V2/V4"],
    checklist=["security.authentication"],
    phrases=["authentication on API endpoints", "JWT authentication", "API keys", "protected endpoints"],
)
def authentication(p):
    groups = service_groups(p)
    if not groups:
        yield not_applicable("no HTTP application found in code")
        return
    edge = _edge_auth(p)
    all_py = None  # the Python files, gathered for the first Django view
    for (fw, unit), apps in groups.items():
        name = f"{fw} service {unit or '.'}"
        cfs = unit_code(p, unit)
        routers, glob = _py_global_auth(p, cfs)
        if glob is not None:
            yield passed(f"{name}: authentication applies to every route", glob, name)
            continue
        authed, open_ = [], []
        by_path = None  # the unit's files by path, for Django and JavaScript routes
        if fw not in ("fastapi", "flask"):  # (shared by the services of one unit)
            by_path = p.derived(("app_security.unit-files", unit), lambda cfs=cfs: {x.path: x for x in cfs})
        for _app, r, fn in service_routes(p, fw, unit):
            if _public_route(r.path):
                continue
            ok: bool | None = None
            if by_path is None:  # FastAPI, Flask
                if fn is not None:
                    recv = ""
                    for d in fn.decorators:
                        if d.line == r.loc.line:
                            recv = d.name.rsplit(".", 1)[0]
                            break
                    ok = _fn_auth(fn, recv in routers)
            elif fw == "django":
                ucf = by_path.get(r.loc.path)
                c = next((c for c in ucf.facts.calls if c.line == r.loc.line and len(c.args) > 1),
                         None) if ucf is not None else None
                if c is not None and c.args[1][0] in ("name", "call"):
                    view = str(c.args[1][1]).removesuffix(".as_view")
                    if all_py is None:
                        all_py = [cf for cf in code(p) if cf.language == PY]
                    ok = _django_view_auth(p, all_py, view)
            else:
                cf = by_path.get(r.loc.path)
                if cf is not None:
                    since, guards = p.derived("app_security.js-auth", lambda: _js_auth_lines(p)).get(
                        cf.path, _NO_JS_AUTH)
                    call = js_route_call(p, r)
                    recv = call.name.rsplit(".", 1)[0] if call else ""
                    ok = ("*" in since) or (recv in since and since[recv] <= (r.loc.line or 0)) or bool(
                        call and any(_js_auth_arg(a) for a in call.args[1:-1] if a[0] in ("name", "call")))
                    if fw == "nestjs" and guards:
                        ok = ok or any(g.line <= (r.loc.line or 0) and _js_auth_arg(("name", str(g.args)))
                                       for g in guards)
            (authed if ok else open_).append(r)
        if not authed and not open_:
            yield passed(f"{name}: only public or operational routes", apps[0].loc, name, confidence="medium")
        elif not open_:
            yield passed(f"{name}: all {len(authed)} routes require authentication", authed[0].loc, name,
                         confidence="medium")
        elif edge is not None:
            yield passed(f"{name}: {len(open_)} routes rely on authentication at the edge", edge, name,
                         confidence="medium")
        else:
            listing = ", ".join(f"{r.method} {r.path}" for r in open_[:8]) + (" ..." if len(open_) > 8 else "")
            conf = "medium" if authed else "high"
            why = (f"{len(open_)} of {len(open_) + len(authed)} routes have no authentication while others do: "
                   if authed else f"no authentication on {len(open_)} routes: ")
            yield failed(f"{name}: {why}{listing}", open_[0].loc, name, confidence=conf)


# --- authorization ------------------------------------------------------------------------------

ROLE_RX = re.compile(r"(role|permission|perm_|has_perm|scope|admin|authoriz|polic|can_|is_owner|owner|acl|rbac|"
                     r"casbin|oso|cerbos|opa|grant|ability|privilege)", re.I)
AUTHZ_LIBS_PY = ("casbin", "oso", "cerbos", "py_abac", "flask_principal", "rules", "guardian", "django_rules",
                 "flask_security", "fastapi_permissions", "rest_framework_roles")
AUTHZ_LIBS_JS = ("casbin", "@casl/ability", "accesscontrol", "nest-access-control", "express-jwt-permissions",
                 "oso", "@cerbos/grpc", "@cerbos/http", "role-acl")
FORBIDDEN_RX = r"(\b403\b|HTTP_403_FORBIDDEN|FORBIDDEN\b|Forbidden\b|status\.HTTP_403)"


JS_ROLE_CALL_RX = re.compile(r"(^|\.)(authorize|requireRole|checkRole|hasRole|hasPermission|requirePermission|"
                             r"checkPermission|can)$")


@lru_cache(maxsize=16384)  # pure, asked for the same decorator and dependency names over and over
def _role_name(name: str) -> bool:
    """The last dotted part of ``name`` reads like a role/permission check."""
    return bool(ROLE_RX.search(name.rsplit(".", 1)[-1]))


# pure tests of callee names, asked for every call: remembered
@lru_cache(maxsize=16384)
def _py_permission_call(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in ("has_perm", "has_perms", "has_permission", "check_permission", "require_role",
                                       "enforce", "is_allowed", "authorize")


@lru_cache(maxsize=16384)
def _js_role_call(name: str) -> bool:
    return bool(JS_ROLE_CALL_RX.search(name))


def _role_checks(p) -> list[tuple[Loc, str]]:
    """Role and permission checks in the code (found once per project: two controls ask)."""
    return list(p.derived("app_security.role-checks", lambda: _find_role_checks(p)))


def _find_role_checks(p) -> list[tuple[Loc, str]]:
    out = []
    for loc, mod, _cf in import_hits(p, AUTHZ_LIBS_PY, AUTHZ_LIBS_JS):
        out.append((loc, f"authorization library {mod}"))
    # The checks in the code, found through the project's name indexes and put back in the order of a walk over
    # every file: per Python file its functions (decorators, then parameter dependencies, function by function),
    # then its assignments, then its calls; per JavaScript file its decorators, then its calls. (sorted() is
    # stable: the checks of one place keep their order.)
    pos = code_positions(p)
    found: list[tuple[tuple, Loc, str]] = []
    for cf, fn, d in py_decorators_where(p, _role_name, refs=True):
        found.append(((pos[id(cf)], 0, _fn_pos(cf, fn), 0), Loc(cf.path, d.line), f"{d.name} on {fn.name}"))
    for cf, fn in functions_with_param_calls(p):
        for call in fn.param_calls.values():
            if "scopes" in call.kwargs or any(_role_name(r) for r in call.refs):
                found.append(((pos[id(cf)], 0, _fn_pos(cf, fn), 1), Loc(cf.path, call.line),
                              f"{call.name} role/scope dependency on {fn.name}"))
    for cf, a in assigns_where(p, lambda target: target.endswith(".permission_classes")):
        if isinstance(a.value[1], list) and any(not str(v).endswith(("IsAuthenticated", "AllowAny"))
                                                for v in a.value[1]):
            found.append(((pos[id(cf)], 1), Loc(cf.path, a.line), f"{a.target} = {a.value[1]}"))
    for cf, c in calls_where(p, lambda name: _py_permission_call(name) or _js_role_call(name), tests=False):
        if _py_permission_call(c.name) if cf.language == PY else _js_role_call(c.name):
            found.append(((pos[id(cf)], 2), Loc(cf.path, c.line), f"{c.name}()"))
    for cf, d in js_decorators_where(p, lambda name: name.rsplit(".", 1)[-1] in JS_ROLE_DECORATORS):
        found.append(((pos[id(cf)], 0), Loc(cf.path, d.line), f"@{d.name}"))
    found.sort(key=lambda f: f[0])
    return out + [(loc, msg) for _key, loc, msg in found]


JS_ROLE_DECORATORS = ("Roles", "Permissions", "RequirePermissions", "CheckPolicies", "Role", "Scopes")


def _fn_pos(cf, fn) -> int:
    """Position of ``fn`` among its file's functions (few functions carry role checks)."""
    return next(i for i, f in enumerate(cf.facts.functions) if f is fn)


@control(
    id="security.authorization", title="Routes check roles or permissions, and tests prove it",
    category="security", severity="medium", evidence=["python", "javascript"],
    rationale="Authentication says who is calling; without authorization every logged-in user can call every "
              "endpoint (admin actions, other users' data). Only tests that expect 403 for an under-privileged "
              "caller keep those checks from silently disappearing.",
    remediation="Check a role or permission on every sensitive route (FastAPI `Security(get_user, "
                "scopes=[\"orders:write\"])`, Django `@permission_required`, NestJS `@Roles('admin')` + RolesGuard, "
                "casbin/oso policies) and add tests asserting `403` for a user without the role.",
    references=["OWASP API Security Top 10 API1:2023 and API5:2023", "OWASP ASVS 4.0 V4 Access Control"],
    checklist=["security.rbac", "security.authz_tests"],
    phrases=["role-based access control in the application", "authorization checks on endpoints", "permission tests", "user roles and permissions in code"],
)
def authorization(p):
    # (decorators and parameter dependencies from the project's indexes)
    auth_used = bool(py_decorators_where(p, _auth_name)) or any(
        call.name.endswith("Security") or any(_auth_name(r) for r in call.refs)
        for _cf, fn in functions_with_param_calls(p) for call in fn.param_calls.values()
    ) or bool(import_hits(p, ("flask_login", "flask_jwt_extended", "fastapi.security", "django.contrib.auth",
                              "rest_framework.permissions", "authlib", "jwt", "jose"),
                          ("passport", "jsonwebtoken", "express-jwt", "@nestjs/passport", "@nestjs/jwt", "jose",
                           "next-auth", "@clerk/express")))
    if not p.http_apps:
        yield not_applicable("no HTTP application found in code")
        return
    if not auth_used:
        yield not_applicable("no authentication in the code, so no authorization to check "
                             "(see security.authentication)")
        return
    checks = _role_checks(p)
    tests = [loc for loc in p.search_text(FORBIDDEN_RX, kinds=("python", "javascript", "typescript"),
                                          hints=("403", "FORBIDDEN", "orbidden")) if is_test(loc.path)]
    if not checks:
        yield failed("authentication is used but no route checks a role, permission or scope", p.http_apps[0].loc,
                     p.http_apps[0].path, confidence="medium")
        return
    loc, msg = checks[0]
    yield passed(f"role/permission checks: {msg} ({len(checks)} found)", loc, loc.path, confidence="medium")
    if tests:
        yield passed("tests assert 403 for forbidden access", tests[0], tests[0].path)
    else:
        yield failed("no test asserts a 403 (forbidden) response: permission boundaries are untested", loc, loc.path,
                     confidence="medium")


# --- signing keys -------------------------------------------------------------------------------

KEY_NAME_RX = re.compile(r"(^|\.)(SECRET_KEY|JWT_SECRET(_KEY)?|JWT_KEY|JWT_SIGNING_KEY|SIGNING_KEY|SESSION_SECRET|"
                         r"secret_key|jwt_secret(_key)?|signing_key|session_secret|TOKEN_SECRET|AUTH_SECRET|"
                         r"COOKIE_SECRET|APP_SECRET|token_secret|auth_secret|cookie_secret)$")
PLACEHOLDER_RX = re.compile(r"(change.?me|secret|dev|test|example|default|insecure|password|your[-_ ]|xxx|todo|"
                            r"keyboard cat|s3cr3t|supersecret|12345)", re.I)
JS_KEY_CALLS = {"jsonwebtoken.sign": 1, "jsonwebtoken.verify": 1, "jwt.sign": 1, "jwt.verify": 1,
                "cookie-parser": 0}
JS_KEY_OPTS = {"express-session": "secret", "express-jwt.expressjwt": "secret", "express-jwt": "secret",
               "passport-jwt.Strategy": "secretOrKey", "@nestjs/jwt.JwtModule.register": "secret",
               "@fastify/jwt": "secret", "@fastify/session": "secret", "cookie-session": "secret"}


@lru_cache(maxsize=16384)  # pure tests of names, asked once per distinct name (project indexes)
def _key_name(target: str) -> bool:
    return bool(KEY_NAME_RX.search(target))


def _key_call(name: str) -> bool:
    """A callee :func:`signing_keys` judges (Python jwt/jose, JavaScript key-taking calls)."""
    return (name.startswith(("jwt", "jose")) and name.rsplit(".", 1)[-1] in ("encode", "decode")
            and name.split(".")[0] in ("jwt", "jose")) or name in JS_KEY_CALLS or name in JS_KEY_OPTS \
        or name.endswith(("JwtModule.register", "JwtModule.registerAsync"))


def _weak(value: str) -> str:
    if len(value) < 32:
        return f"a {len(value)}-character literal"
    if PLACEHOLDER_RX.search(value):
        return "a placeholder-looking literal"
    return "a literal"


@control(
    id="security.signing-keys-not-hardcoded", title="Session and token signing keys are not hard-coded or weak",
    category="security", severity="critical", evidence=["python", "javascript"],
    rationale="Whoever knows the key that signs sessions or JWTs can mint a token for any user, admin included. A "
              "key in the source is known to everyone with the repository; a short or default one can be guessed "
              "or brute-forced offline from a single token.",
    remediation="Read the key from the environment or a secret store and fail at start-up when it is missing or "
                "short: `SECRET_KEY = os.environ[\"SECRET_KEY\"]` (`assert len(SECRET_KEY) >= 32`); Node: "
                "`jwt.sign(payload, process.env.JWT_SECRET)`. Generate it with `openssl rand -base64 48`.",
    references=["OWASP ASVS 2.10.4 and 3.5", "CWE-798", "CWE-321"],
    checklist=["security.strong_secrets", "security.secrets_from_env"],
    phrases=["hardcoded secret key", "weak JWT secret", "secret key from environment", "strong JWT signing secret", "generate strong secrets"],
)
def signing_keys(p):
    # The key assignments and key-taking calls, from the project's name indexes; their findings are given in the
    # order of a walk over every file (per Python file its assignments, then its calls).
    pos = code_positions(p)
    found: list[tuple[tuple[int, int], object]] = []
    env_defaults: dict[str, dict] = {}  # per file: environment reads by line, gathered at its first key assignment
    for cf, a in assigns_where(p, _key_name):
        key = (pos[id(cf)], 0)
        found.append((key, None))  # (a key is assigned: the control applies)
        defaults = env_defaults.get(cf.path)
        if defaults is None:
            defaults = env_defaults[cf.path] = {c.line: c for c in cf.facts.calls
                                                if c.name in ("os.getenv", "os.environ.get")}
        loc = Loc(cf.path, a.line)
        kind, val = a.value
        if kind == "lit" and isinstance(val, str) and val:
            found.append((key, failed(f"{a.target} is {_weak(val)} in the source", loc, cf.path)))
        elif kind == "call" and a.line in defaults and len(defaults[a.line].args) > 1 and \
                defaults[a.line].args[1][0] == "lit" and defaults[a.line].args[1][1]:
            found.append((key, failed(f"{a.target} falls back to {_weak(str(defaults[a.line].args[1][1]))} when the "
                                      "environment variable is unset", loc, cf.path, confidence="medium")))
        elif kind in ("lit",) and not val:
            continue
        else:
            found.append((key, passed(f"{a.target} comes from the environment or configuration", loc, cf.path,
                                      confidence="medium")))
    for cf, c in calls_where(p, _key_call, tests=False):
        key = (pos[id(cf)], 1)
        if cf.language == PY:
            if c.name.startswith(("jwt", "jose")) and c.name.rsplit(".", 1)[-1] in ("encode", "decode") \
                    and c.name.split(".")[0] in ("jwt", "jose") \
                    and len(c.args) > 1 and c.args[1][0] == "lit" and isinstance(c.args[1][1], str):
                found.append((key, failed(f"{c.name}() signs with {_weak(c.args[1][1])}", Loc(cf.path, c.line),
                                          cf.path)))
            continue
        pos_ = JS_KEY_CALLS.get(c.name)
        if pos_ is not None and len(c.args) > pos_ and c.args[pos_][0] == "lit" and \
                isinstance(c.args[pos_][1], str):
            found.append((key, failed(f"{c.name}() uses {_weak(c.args[pos_][1])} as key", Loc(cf.path, c.line),
                                      cf.path)))
            continue
        opt = JS_KEY_OPTS.get(c.name)
        if opt is None and c.name.endswith(("JwtModule.register", "JwtModule.registerAsync")):
            opt = "secret"
        if opt is None:
            continue
        objs = [a[1] for a in c.args if a[0] == "object"]
        for o in objs:
            v = o.get(opt) or o.get("secretOrPrivateKey") or o.get("privateKey")
            if v is None:
                continue
            found.append((key, None))
            if v[0] == "lit" and isinstance(v[1], str):
                found.append((key, failed(f"{c.name} {opt} is {_weak(v[1])}", Loc(cf.path, c.line), cf.path)))
            else:
                found.append((key, passed(f"{c.name} {opt} comes from configuration", Loc(cf.path, c.line), cf.path,
                                          confidence="medium")))
    any_ = bool(found)
    found.sort(key=lambda f: f[0])  # (stable)
    for _key, outcome in found:
        if outcome is not None:
            yield outcome
    for loc in p.search_text(r"""config\[\s*["'](SECRET_KEY|JWT_SECRET_KEY)["']\s*\]\s*=\s*["'][^"']+["']""",
                             kinds=("python",), hints=("SECRET_KEY",)):
        if not is_test(loc.path):
            any_ = True
            yield failed("app.config secret key set to a literal", loc, loc.path)
    if not any_:
        yield not_applicable("no session or token signing keys in the code")


# --- input validation ---------------------------------------------------------------------------

VALIDATION_PY = ("pydantic", "marshmallow", "webargs", "flask_pydantic", "wtforms", "flask_wtf", "cerberus",
                 "jsonschema", "voluptuous", "rest_framework.serializers", "django.forms", "msgspec", "flask_smorest",
                 "apiflask", "schema", "spectree", "ninja")
VALIDATION_JS = ("joi", "zod", "yup", "express-validator", "celebrate", "ajv", "class-validator", "superstruct",
                 "valibot", "@sinclair/typebox", "fastest-validator", "io-ts", "@hapi/joi", "express-joi-validation",
                 "@vinejs/vine")
RAW_PY = re.compile(r"(^|\.)(get_json|request\.json|request\.form|request\.values|request\.data|request\.body|"
                    r"request\.POST)$")


@lru_cache(maxsize=1024)  # pure, asked for every route
def _writes(method: str) -> bool:
    return any(m in method for m in ("POST", "PUT", "PATCH", "ANY"))


@lru_cache(maxsize=16384)  # pure, asked for every call name of every route handler
def _raw_body_read(cname: str) -> bool:
    return bool(RAW_PY.search(cname) or cname.endswith("request.json") or cname.endswith(".json") and
                cname.split(".")[0] in ("request", "req"))


@control(
    id="security.input-validation", title="Request bodies are validated against a schema", category="security",
    severity="medium", evidence=["python", "javascript"],
    rationale="Handlers that read raw request bodies trust whatever arrives: missing fields become 500s, wrong "
              "types reach the database, and oversized or nested input becomes a denial of service.",
    remediation="FastAPI: type the body parameter with a pydantic model (`payload: OrderCreate`); Flask: "
                "marshmallow/webargs or flask-pydantic; Django: DRF serializers or forms; Express: zod/joi/"
                "express-validator on every route that reads `req.body`; NestJS: class-validator DTOs with a global "
                "`ValidationPipe`.",
    references=["OWASP ASVS 5.1", "OWASP API Security Top 10 API3:2023"],
    checklist=["security.input_validation"],
    phrases=["input validation", "request validation", "schema validation"],
)
def input_validation(p):
    groups = service_groups(p)
    if not groups:
        yield not_applicable("no HTTP application found in code")
        return
    judged = False
    body_reads: dict[str, list[Loc]] = {}
    for loc in p.search_text(r"\breq(uest)?\.body\b", kinds=("javascript", "typescript"), hints=(".body",)):
        if not is_test(loc.path):
            body_reads.setdefault(unit_of(p, loc.path), []).append(loc)
    for (fw, unit), apps in groups.items():
        name = f"{fw} service {unit or '.'}"
        cfs = unit_code(p, unit)
        libs = [(Loc(cf.path, hit[1]), hit[0]) for cf, hit in importing_in(p, cfs, VALIDATION_PY, VALIDATION_JS)]
        raw: list[Loc] = []
        writes = [r for a in apps for r in a.routes if _writes(r.method)]
        typed: list[str] = []
        for _app, r, fn in service_routes(p, fw, unit):  # (fn: FastAPI and Flask handlers)
            if fn is None:
                continue
            for cname in fn.calls_names:
                if _raw_body_read(cname):
                    raw.append(Loc(r.loc.path, fn.line))
                    break
            if fw == "fastapi":
                for pname, t in fn.param_types.items():
                    if pname not in fn.param_calls and t[:1].isupper() and "." not in t and \
                            t not in ("Request", "Response", "Session", "BackgroundTasks"):
                        typed.append(f"{r.method} {r.path}: {pname}: {t}")
        if fw not in ("fastapi", "flask", "django"):
            raw.extend(body_reads.get(unit, []))
        if not writes and not raw:
            continue
        judged = True
        if raw and not libs:
            yield failed(f"{name}: handlers read raw request bodies with no validation library", raw[0], name)
        elif libs and (raw or fw != "fastapi" or typed or not writes):
            yield passed(f"{name}: validation with {libs[0][1]}" + (f" ({typed[0]})" if typed else ""), libs[0][0],
                         name, confidence="medium" if raw else "high")
        elif fw == "fastapi" and typed:
            yield passed(f"{name}: FastAPI validates typed bodies ({typed[0]})", writes[0].loc, name)
        elif writes:
            yield failed(f"{name}: {len(writes)} write routes and no validation library or typed body model",
                         writes[0].loc, name, confidence="medium")
    if not judged:
        yield not_applicable("no routes accept request bodies")


# --- metrics endpoint exposure ------------------------------------------------------------------

def _maybe_metrics_call(n: str) -> bool:
    return ("Instrumentator" in n and n.endswith(".expose")) or n.endswith(".mount") or n in (
        "prometheus_flask_exporter.PrometheusMetrics", "starlette_exporter.handle_metrics", "express-prom-bundle")


def _metrics_on_app(p) -> list[tuple[Loc, str]]:
    """Where an HTTP app serves Prometheus metrics on its own (public) port."""
    out = []
    # the calls the tests below can accept, in file and call order (project call index)
    for cf, c in calls_where(p, _maybe_metrics_call, tests=False):
        n = c.name
        if cf.language == PY and (("Instrumentator" in n and n.endswith(".expose")) or
                                  (n.endswith(".mount") and c.args and c.args[0] == ("lit", "/metrics")) or
                                  n in ("prometheus_flask_exporter.PrometheusMetrics",
                                        "starlette_exporter.handle_metrics")):
            out.append((Loc(cf.path, c.line), cf.path))
        elif cf.language != PY and n in ("express-prom-bundle",) and c.recv is None:
            out.append((Loc(cf.path, c.line), cf.path))
    for app in p.http_apps:
        for r in app.routes:
            if r.path.rstrip("/") == "/metrics" and app.framework in ("fastapi", "flask", "express", "fastify",
                                                                      "nestjs", "django", "koa"):
                out.append((r.loc, app.path))
    return out


@control(
    id="security.metrics-not-public", title="The metrics endpoint is not reachable from the internet",
    category="security", severity="medium", evidence=["python", "javascript", "k8s"], verifiability="both",
    rationale="/metrics lists routes, versions, internal hostnames, error counts and sometimes labels with user "
              "data; served on the same port the ingress publishes, it is readable by anyone.",
    remediation="Serve metrics on a separate port that no Ingress or Service publishes (prometheus_client "
                "`start_http_server(9100)`), or deny the path at the edge (ingress-nginx `server-snippet: "
                "location = /metrics { deny all; }`), and let Prometheus scrape the pod directly.",
    references=["Prometheus docs: security model", "OWASP ASVS 14.3.3"],
    checklist=["security.metrics_endpoint_protected"],
    phrases=["metrics endpoint protected", "restrict /metrics"],
)
def metrics_not_public(p):
    exposed = _metrics_on_app(p)
    if not exposed:
        yield not_applicable("no HTTP app serves metrics on its own port")
        return
    units = {unit_of(p, path) for _loc, path in exposed}
    services: dict[tuple, list] = {}  # (namespace, name) -> the Services of that name, one per rendering
    for s in p.objects("Service"):
        services.setdefault((ns(s.namespace), s.name), []).append(s)
    hit = False
    for ing in p.objects("Ingress"):
        ann = (ing.raw.get("metadata") or {}).get("annotations") or {}
        snippet = " ".join(str(v) for k, v in ann.items() if "snippet" in str(k))
        if "/metrics" in snippet and re.search(r"(deny|return\s+40\d)", snippet):
            continue
        for rule in (ing.raw.get("spec") or {}).get("rules") or []:
            if not isinstance(rule, dict):
                continue
            for path in ((rule.get("http") or {}).get("paths") or []):
                if not isinstance(path, dict):
                    continue
                pth = str(path.get("path") or "/")
                if not (pth in ("/", "/*") or "/metrics".startswith(pth.rstrip("/*") + "/") or pth == "/metrics"):
                    continue
                svc = ((path.get("backend") or {}).get("service") or {}).get("name") or \
                    (path.get("backend") or {}).get("serviceName")
                for s in [s for s in services.get((ns(ing.namespace), svc), ()) if same_scope(s, ing)]:
                    sel = (s.raw.get("spec") or {}).get("selector")
                    for w in pod_index(p).select_map(s.namespace, sel, near=s):
                        for c in w.app_containers:
                            d = c.dockerfile
                            if d is not None and (d.directory in units or any(
                                    u.startswith(d.directory + "/") for u in units if d.directory)):
                                hit = True
                                host = rule.get("host") or "*"
                                yield failed(f"https://{host}/metrics reaches {w.ref} through {ing.ref} (path "
                                             f"{pth}); the app serves Prometheus metrics on that port",
                                             ing.loc, ing.ref)
    if not hit:
        loc, path = exposed[0]
        yield passed("no Ingress in the repository publishes the metrics path", loc, path, confidence="medium")


# --- dependencies -------------------------------------------------------------------------------

LOCKS = {"package.json": ("package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock",
                          "npm-shrinkwrap.json"),
         "Pipfile": ("Pipfile.lock",), "go.mod": ("go.sum",), "Gemfile": ("Gemfile.lock",),
         "composer.json": ("composer.lock",), "Cargo.toml": ("Cargo.lock",)}
PIN_RX = re.compile(r"^\s*([A-Za-z0-9_.\-\[\],]+)\s*(===?|@)\s*\S+")


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _ancestors(d: str):
    while True:
        yield d
        if not d:
            return
        d = _dir(d)


@control(
    id="security.dependency-lockfiles", title="Every dependency manifest has a lockfile (or exact pins)",
    category="security", severity="medium", evidence=["dependency-manifest", "lockfile"],
    rationale="Without a lockfile each build resolves the newest matching versions: builds are not reproducible, "
              "a compromised or broken release is pulled in silently, and a vulnerability scan of today's build "
              "says nothing about yesterday's.",
    remediation="Commit the lockfile your tool writes (`package-lock.json` with `npm ci`, `poetry.lock`, `uv.lock`, "
                "`Pipfile.lock`, `go.sum`), or pin every requirement exactly (`pip-compile --generate-hashes`).",
    references=["OpenSSF Scorecard: Pinned-Dependencies", "SLSA: reproducible builds"],
    phrases=["lock files", "pinned dependencies", "reproducible builds"],
)
def dependency_lockfiles(p):
    locks = set(p.files_of("lockfile"))
    lock_names = {(_dir(f), f.rsplit("/", 1)[-1]) for f in locks}
    dockerdirs = {d.directory for d in p.dockerfiles}
    req_dirs: dict[str, str] = {}
    for f in paths_containing(p, ("requirements",)):
        if "requirements" in f and re.search(r"(^|/)requirements[^/]*\.(txt|lock)$", f):  # (cheap pre-check first)
            req_dirs.setdefault(_dir(f), f)
    any_ = False
    for path in sorted(p.files_of("dependency-manifest")):
        if is_test(path):
            continue
        name, d = path.rsplit("/", 1)[-1], _dir(path)
        text = p.sources.get(path, "")
        if name in LOCKS:
            if name == "package.json" and not re.search(r'"(dependencies|devDependencies)"\s*:\s*\{\s*"', text):
                continue
            if name == "go.mod" and "require" not in text:
                continue
            if name == "Cargo.toml" and d not in dockerdirs:
                continue  # a library crate does not commit its lock
            any_ = True
            found = next((f"{a}/{ln}".lstrip("/") for a in _ancestors(d) for ln in LOCKS[name] if (a, ln) in lock_names),
                         None)
            if found:
                yield passed(f"{path} locked by {found}", Loc(path, 1), path)
            else:
                yield failed(f"{path} has no {' / '.join(LOCKS[name][:3])}", Loc(path, 1), path)
        elif name.startswith("requirements") and name.endswith(".txt"):
            any_ = True
            loose = []
            for i, line in enumerate(text.splitlines(), 1):
                s = line.split("#", 1)[0].strip()
                if not s or s.startswith(("-", "git+", "http", ".", "/")) or "--hash" in s:
                    continue
                if not PIN_RX.match(s):
                    loose.append((i, s))
            if loose:
                i, s = loose[0]
                yield failed(f"{path}: {len(loose)} requirement(s) not pinned exactly, e.g. '{s}'", Loc(path, i), path)
            else:
                yield passed(f"{path}: every requirement pinned", Loc(path, 1), path)
        elif name == "pyproject.toml" and d in dockerdirs:
            has_deps = re.search(r"(?m)^\s*dependencies\s*=\s*\[\s*\S", text) or "[tool.poetry.dependencies]" in text
            if not has_deps:
                continue
            any_ = True
            found = next((f"{a}/{ln}".lstrip("/") for a in _ancestors(d) for ln in ("poetry.lock", "uv.lock", "pdm.lock")
                          if (a, ln) in lock_names), None) or req_dirs.get(d)
            if found:
                yield passed(f"{path} locked by {found}", Loc(path, 1), path)
            else:
                yield failed(f"{path} declares dependencies for a deployed service but has no poetry.lock / uv.lock "
                             "/ pdm.lock", Loc(path, 1), path)
    if not any_:
        yield not_applicable("no dependency manifests")


ECOSYSTEMS = [  # (dependabot ecosystem, how the repository shows it uses it)
    ("pip", re.compile(r"(^|/)(requirements[^/]*\.txt|pyproject\.toml|Pipfile|setup\.py|setup\.cfg)$")),
    ("npm", re.compile(r"(^|/)package\.json$")),
    ("docker", re.compile(r"(^|/)(Dockerfile|Containerfile)[^/]*$|\.dockerfile$", re.I)),
    ("github-actions", re.compile(r"^\.github/workflows/[^/]+\.ya?ml$")),
    ("gomod", re.compile(r"(^|/)go\.mod$")),
    ("bundler", re.compile(r"(^|/)Gemfile$")),
    ("cargo", re.compile(r"(^|/)Cargo\.toml$")),
    ("composer", re.compile(r"(^|/)composer\.json$")),
    ("maven", re.compile(r"(^|/)pom\.xml$")),
    ("gradle", re.compile(r"(^|/)build\.gradle(\.kts)?$")),
    ("terraform", re.compile(r"\.tf$")),
]
DEPENDABOT_ALIASES = {"uv": "pip", "poetry": "pip", "pipenv": "pip", "yarn": "npm", "pnpm": "npm",
                      "docker-compose": "docker"}


@control(
    id="security.dependency-updates", title="A bot keeps dependencies and base images up to date",
    category="security", severity="medium", evidence=["dependabot", "renovate", "github-workflow", "gitlab-ci"],
    rationale="Vulnerabilities are fixed upstream every week; without automated update pull requests the fixes "
              "reach production only when someone remembers, usually after an incident. Base images age the "
              "same way.",
    remediation=".github/dependabot.yml:\nversion: 2\nupdates:\n  - {package-ecosystem: pip, directory: /services/api, "
                "schedule: {interval: weekly}}\n  - {package-ecosystem: npm, directory: /services/worker, schedule: "
                "{interval: weekly}}\n  - {package-ecosystem: docker, directory: /, schedule: {interval: weekly}}\n"
                "  - {package-ecosystem: github-actions, directory: /, schedule: {interval: weekly}}\n"
                "(or a `renovate.json` with `{\"extends\": [\"config:recommended\"]}`).",
    references=["GitHub docs: Dependabot version updates", "Renovate docs", "OpenSSF Scorecard: Dependency-Update-Tool"],
    checklist=["security.security_updates"],
    phrases=["dependabot", "renovate", "automated dependency updates", "patch dependencies regularly"],
)
def dependency_updates(p):
    needed = {}
    for eco, rxp in ECOSYSTEMS:
        hits = sorted(f for f in paths_matching(p, rxp) if not is_test(f))  # (paths_matching: from a path index)
        if hits:
            needed[eco] = hits[0]
    if not needed:
        yield not_applicable("no dependency manifests, Dockerfiles or workflows")
        return
    renov = [f for f, k in p.files.items() if k == "renovate"]
    pkg_renovate = [f for f in paths_containing(p, ("package.json",))
                    if f.endswith("package.json") and '"renovate"' in p.sources.get(f, "")]
    ci_renovate = [loc for loc in p.search_text(r"renovate(bot)?/renovate|\brenovate\b.*--platform",
                                                kinds=("gitlab-ci", "github-workflow"), hints=("renovate",))]
    if renov or pkg_renovate or ci_renovate:
        path = (renov or pkg_renovate or [ci_renovate[0].path])[0]
        text = p.sources.get(path, "")
        m = re.search(r'"enabledManagers"\s*:\s*\[([^\]]*)\]', text)
        if m:
            managers = set(re.findall(r'"([\w-]+)"', m.group(1)))
            alias = {"pip_requirements": "pip", "pip_setup": "pip", "pep621": "pip", "poetry": "pip", "pipenv": "pip",
                     "dockerfile": "docker", "docker-compose": "docker", "github-actions": "github-actions",
                     "npm": "npm", "gomod": "gomod", "bundler": "bundler", "cargo": "cargo", "composer": "composer",
                     "maven": "maven", "gradle": "gradle", "terraform": "terraform"}
            covered = {alias.get(x, x) for x in managers}
            missing = [e for e in needed if e not in covered]
            if missing:
                yield failed(f"Renovate enabledManagers leaves out: {', '.join(missing)}", Loc(path, 1), path)
                return
        yield passed(f"Renovate configured ({path})", Loc(path, 1), path)
        return
    bots = [f for f, k in p.files.items() if k == "dependabot"]
    if not bots:
        yield failed(f"no Dependabot or Renovate configuration; nothing updates {', '.join(sorted(needed))} "
                     "dependencies")
        return
    covered: set[str] = set()
    for path in bots:
        docs = getattr(p.parsed.get(path), "data", None) or []
        cfg = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
        for u in cfg.get("updates") or []:
            if isinstance(u, dict) and u.get("package-ecosystem"):
                eco = str(u["package-ecosystem"])
                covered.add(DEPENDABOT_ALIASES.get(eco, eco))
    missing = [e for e in needed if e not in covered]
    if missing:
        yield failed(f"Dependabot covers {', '.join(sorted(covered)) or 'nothing'} but not: "
                     f"{', '.join(f'{e} ({needed[e]})' for e in missing)}", Loc(bots[0], 1), bots[0])
    else:
        yield passed(f"Dependabot covers {', '.join(sorted(covered))}", Loc(bots[0], 1), bots[0])


# --- log redaction ------------------------------------------------------------------------------

LOG_CALL_PY = re.compile(r"(^|\.)(log|logger|logging|_log|_logger|LOG|LOGGER|structlog\.get_logger\(\)|"
                         r"get_logger\(\))\.(debug|info|warning|warn|error|exception|critical|msg)$")
LOG_CALL_JS = re.compile(r"(^|\.)(log|logger|_log|_logger|pino|winston|console)\.(trace|debug|info|warn|error|fatal|"
                         r"log)$")
SENSITIVE_RX = re.compile(r"(passw(or)?d|passwd|secret|token|api_?key|apikey|authorization|auth_header|cookie|"
                          r"credit_?card|card_?number|cvv|ssn|social_security|private_?key)", re.I)
WHOLE_RX = re.compile(r"^(request|req)\.(headers|body|cookies|json|form|data)$|\.(headers|cookies)$")


# pure tests of names, asked again for the same few names in every file: remembered
@lru_cache(maxsize=16384)
def _log_call_py(name: str) -> bool:
    return bool(LOG_CALL_PY.search(name))


@lru_cache(maxsize=16384)
def _log_call_js(name: str) -> bool:
    return bool(LOG_CALL_JS.search(name))


def _log_or_pino_call(name: str) -> bool:
    """A callee :func:`log_redaction` looks at (in Python or JavaScript)."""
    return _log_call_py(name) or _log_call_js(name) or name in ("pino", "pino-http") or name.endswith(".child")


@lru_cache(maxsize=16384)
def _redact_name(name: str) -> bool:
    return bool(REDACT_RX.search(name))


@lru_cache(maxsize=16384)
def _sensitive(name: str) -> bool:
    """A logged name that reads like a secret, or a whole request part."""
    return bool(SENSITIVE_RX.search(name.rsplit(".", 1)[-1]) or WHOLE_RX.search(name))
REDACT_RX = re.compile(r"(redact|mask|scrub|sanitiz|censor|anonymi|obfuscat|filter_?sensitive|pii)", re.I)


@control(
    id="security.log-redaction", title="Secrets and personal data are kept out of logs", category="security",
    severity="medium", evidence=["python", "javascript"],
    rationale="Logs are copied to many systems and kept for months with broad read access; a logged password, "
              "token or Authorization header is a leaked credential, and logged personal data is a privacy "
              "breach.",
    remediation="Log explicit, non-sensitive fields only, and add a redaction layer: a `logging.Filter` or structlog "
                "processor that masks keys like password/token/authorization; pino: `pino({ redact: "
                "['req.headers.authorization', '*.password'] })`.",
    references=["OWASP Logging Cheat Sheet", "OWASP ASVS 7.1.1", "CWE-532"],
    checklist=["security.log_redaction"],
    phrases=["mask secrets in logs", "log redaction", "no PII in logs", "redact sensitive fields from logs", "sensitive data masking in log output"],
)
def log_redaction(p):
    # Redaction layers and logging calls, found through the project's name indexes; a redactor is keyed by where
    # a walk over every file would meet it (per Python file its classes, then functions, then calls; per
    # JavaScript file its calls, then its imports), and the first one met is the one shown.
    pos = code_positions(p)
    found: list[tuple[tuple[int, int], Loc]] = []
    leaks: list[tuple[Loc, str]] = []
    logged = 0
    for cf, (_name, line, bases) in classes_where(p, _redact_name):
        if any("Filter" in b or "Formatter" in b or "Processor" in b for b in bases):
            found.append(((pos[id(cf)], 0), Loc(cf.path, line)))
    for cf, fn in functions_where(p, _redact_name):
        if fn.cls is None and "event_dict" in fn.params:
            found.append(((pos[id(cf)], 1), Loc(cf.path, fn.line)))
    for cf, c in calls_where(p, _log_or_pino_call, tests=False):
        if cf.language == PY:
            if not _log_call_py(c.name):
                continue
            logged += 1
            extra = c.kwargs.get("extra")
            keys = list(extra[1].keys()) if extra and extra[0] == "lit" and isinstance(extra[1], dict) else \
                list((extra[1] or {}).get("keys", [])) if extra and extra[0] == "expr" and \
                isinstance(extra[1], dict) else []
            names = [str(k) for k in keys] + [r for r in c.refs] + [k for k in c.kwargs if k not in ("extra",
                                                                                                    "exc_info")]
            bad = next((n for n in names if _sensitive(n)), None)
            if bad:
                leaks.append((Loc(cf.path, c.line), f"{c.name}() logs '{bad}'"))
        else:
            if c.name in ("pino", "pino-http") or c.name.endswith(".child"):
                if any(a[0] == "object" and "redact" in a[1] for a in c.args):
                    found.append(((pos[id(cf)], 2), Loc(cf.path, c.line)))
            if not _log_call_js(c.name):
                continue
            logged += 1
            for a in c.args:
                names = list(a[1].keys()) + [str(v[1]) for v in a[1].values() if v[0] == "name"] \
                    if a[0] == "object" else [str(a[1])] if a[0] == "name" else []
                bad = next((n for n in names if _sensitive(n)), None)
                if bad:
                    leaks.append((Loc(cf.path, c.line), f"{c.name}() logs '{bad}'"))
                    break
    for cf in files_importing(p, ("fast-redact", "@elastic/ecs-pino-format"), tests=False):
        if cf.language != PY:
            found.append(((pos[id(cf)], 3), Loc(cf.path, 1)))
    redactors = [loc for _key, loc in sorted(found, key=lambda f: f[0])]
    if not logged:
        yield not_applicable("no logging calls in the code")
        return
    if redactors:
        yield passed("a redaction filter/processor is configured", redactors[0], redactors[0].path)
        return
    for loc, msg in leaks:
        yield failed(f"{msg} with no redaction layer", loc, loc.path, confidence="medium")
    if not leaks:
        yield passed(f"{logged} log calls log explicit fields; none names a secret or a whole request", None,
                     confidence="medium")


# --- TLS certificates ---------------------------------------------------------------------------

@control(
    id="security.tls-certificates-auto-renewed", title="TLS certificates renew automatically", category="security",
    severity="medium", evidence=["k8s", "nginx", "terraform"],
    rationale="Certificates expire (Let's Encrypt every 90 days); a renewal that depends on someone remembering "
              "is an outage with a date on it.",
    remediation="Kubernetes: cert-manager with a ClusterIssuer and `cert-manager.io/cluster-issuer: letsencrypt-prod` "
                "on the Ingress (or a Certificate object); VMs: certbot with its systemd timer; AWS: ACM "
                "certificates with DNS validation.",
    references=["cert-manager docs", "Let's Encrypt: integration guide"],
    checklist=["security.tls_cert_auto_renewal"],
    phrases=["certificate auto-renewal", "cert-manager", "Let's Encrypt renewal"],
)
def tls_auto_renewal(p):
    any_ = False
    certs = {((o.raw.get("spec") or {}).get("secretName"), o.namespace) for o in p.objects("Certificate")
             if isinstance(o.raw.get("spec"), dict)}
    for ing in p.objects("Ingress"):
        tls = (ing.raw.get("spec") or {}).get("tls")
        if not tls:
            continue
        any_ = True
        ann = (ing.raw.get("metadata") or {}).get("annotations") or {}
        managed = [k for k in ann if str(k).startswith("cert-manager.io/") or str(k) == "kubernetes.io/tls-acme"
                   or "certificate-arn" in str(k) or "managed-certificates" in str(k)]
        secrets = [t.get("secretName") for t in tls if isinstance(t, dict)]
        if managed:
            yield passed(f"{ing.ref}: {managed[0]}", ing.loc, ing.ref)
        elif secrets and all((s, ing.namespace) in certs for s in secrets if s):
            yield passed(f"{ing.ref}: cert-manager Certificate for {secrets[0]}", ing.loc, ing.ref)
        else:
            yield failed(f"{ing.ref}: TLS secret {secrets[0] if secrets else '(default)'} is not issued by "
                         "cert-manager or a managed certificate", ing.loc, ing.ref)
    for path, tree in p.nginx.items():
        acme = any(d.name == "location" and ".well-known/acme-challenge" in " ".join(d.args)
                   for d, _a in nginx_directives(tree))
        for d, _anc in nginx_directives(tree):
            if d.name != "ssl_certificate" or not d.args:
                continue
            any_ = True
            cert = d.args[0]
            if "/letsencrypt/" in cert or "acme" in cert:
                yield passed(f"nginx certificate from Let's Encrypt ({'webroot challenge served' if acme else cert})",
                             Loc(path, d.line), path, confidence="medium")
            else:
                yield failed(f"nginx serves {cert}, not an automatically renewed certificate", Loc(path, d.line), path,
                             confidence="medium")
            break
    for r in tf_resources(p, "aws_acm_certificate", "google_compute_managed_ssl_certificate",
                          "google_certificate_manager_certificate", "azurerm_app_service_managed_certificate",
                          "aws_iam_server_certificate", "acme_certificate"):
        any_ = True
        if r.type == "aws_iam_server_certificate":
            yield failed(f"{r.ref}: an uploaded certificate that nobody renews", r.loc, r.ref)
        elif r.type == "aws_acm_certificate" and str(r.body.get("validation_method", "")).upper() == "EMAIL":
            yield failed(f"{r.ref}: e-mail validation needs a person at each renewal", r.loc, r.ref)
        else:
            yield passed(f"{r.ref}: managed certificate", r.loc, r.ref)
    if not any_:
        yield not_applicable("no TLS termination configured in the repository")


# --- datastores require authentication ----------------------------------------------------------

@control(
    id="security.datastore-authentication", title="Datastores and brokers require authentication",
    category="security", severity="high", evidence=["k8s", "compose", "terraform"], verifiability="both",
    rationale="Redis, Kafka, Elasticsearch and MongoDB historically ship without authentication; anyone who can "
              "reach the port reads and deletes everything (tens of thousands of open Redis and Elasticsearch "
              "instances are wiped by bots each year).",
    remediation="Redis: `--requirepass` from a Secret (or ACLs), ElastiCache `auth_token`; Kafka: SASL_SSL "
                "listeners; Elasticsearch: `xpack.security.enabled=true`; PostgreSQL: never "
                "`POSTGRES_HOST_AUTH_METHOD=trust`; S3: block public access.",
    references=["CIS Redis Benchmark", "OWASP ASVS 9.2", "AWS S3 Block Public Access"],
    checklist=["security.internal_service_auth"],
    phrases=["datastore authentication", "Redis password", "Kafka SASL", "no anonymous access"],
)
def datastore_auth(p):
    from ._app import container_args, datastores

    any_ = False
    for ds in datastores(p):
        text = container_args(ds.container)
        k = ds.kind
        loc, ref = ds.container.loc, ds.ref
        bad = good = None
        if k == "redis":
            if re.search(r"ALLOW_EMPTY_PASSWORD=yes|protected-mode\s+no", text, re.I):
                bad = "allows access without a password"
            elif re.search(r"requirepass|REDIS_PASSWORD=|--aclfile|REDIS_ACL", text, re.I) or \
                    any(e.name in ("REDIS_PASSWORD", "REDIS_ARGS") and e.source for e in ds.container.env):
                good = "password required"
            else:
                bad = "runs without requirepass or ACLs"
        elif k == "kafka":
            if re.search(r"SASL_(SSL|PLAINTEXT)|sasl\.", text, re.I):
                good = "SASL listeners"
            elif re.search(r"PLAINTEXT", text):
                bad = "PLAINTEXT listeners without SASL"
        elif k == "elasticsearch":
            if re.search(r"xpack\.security\.enabled=false|DISABLE_SECURITY_PLUGIN=true|plugins\.security\.disabled="
                         r"true", text, re.I):
                bad = "security plugin disabled"
            else:
                good = "security not disabled"
        elif k == "postgres":
            if re.search(r"POSTGRES_HOST_AUTH_METHOD=trust", text, re.I):
                bad = "trust authentication (no password)"
            else:
                good = "password authentication"
        elif k == "mysql":
            if re.search(r"(MYSQL|MARIADB)_ALLOW_EMPTY_(ROOT_)?PASSWORD=(yes|true|1)", text, re.I):
                bad = "empty root password allowed"
            else:
                good = "password authentication"
        elif k == "mongodb":
            if re.search(r"MONGO_INITDB_ROOT_PASSWORD|--auth\b|--keyFile", text):
                good = "authentication enabled"
            else:
                bad = "runs without --auth or a root user"
        if bad:
            any_ = True
            yield failed(f"{ref} ({k}): {bad}", loc, ref)
        elif good:
            any_ = True
            yield passed(f"{ref} ({k}): {good}", loc, ref, confidence="medium")
    for r in tf_resources(p, "aws_elasticache_replication_group"):
        any_ = True
        if r.body.get("auth_token") or r.body.get("user_group_ids"):
            yield passed(f"{r.ref}: AUTH token / user groups", r.loc, r.ref)
        else:
            yield failed(f"{r.ref}: no auth_token or user_group_ids", r.loc, r.ref)
    for r in tf_resources(p, "aws_s3_bucket_acl", "aws_s3_bucket", "aws_s3_bucket_public_access_block"):
        acl = str(r.body.get("acl", ""))
        if acl.startswith("public-read"):
            any_ = True
            yield failed(f"{r.ref}: acl = {acl}", r.loc, r.ref)
        if r.type == "aws_s3_bucket_public_access_block":
            any_ = True
            flags = [k for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                 "restrict_public_buckets") if r.body.get(k) is not True]
            if flags:
                yield failed(f"{r.ref}: {', '.join(flags)} not true", r.loc, r.ref)
            else:
                yield passed(f"{r.ref}: public access blocked", r.loc, r.ref)
    if not any_:
        yield not_applicable("no datastore servers or buckets defined for production in the repository")


# --- entry through a proxy ----------------------------------------------------------------------

PROXY_IMAGE = re.compile(r"(^|/)(nginx[^/]*|traefik|caddy|haproxy|envoy[^/]*|ingress-nginx/controller|kong[^/]*|"
                         r"cloudflared|oauth2-proxy)$", re.I)


@lru_cache(maxsize=16384)  # pure, asked for every container
def _proxy_image(repository: str) -> bool:
    return bool(PROXY_IMAGE.search(repository))


@control(
    id="security.traffic-through-proxy", title="External traffic reaches services only through a proxy or load "
    "balancer", category="security", severity="medium", evidence=["k8s", "compose"], verifiability="both",
    rationale="A reverse proxy or ingress is where TLS, rate limits, request size limits and access logs live; an "
              "application port published straight to the network bypasses all of them.",
    remediation="Kubernetes: `type: ClusterIP` Services behind an Ingress (no NodePort/hostPort for applications); "
                "Compose: publish only the proxy (`ports: [\"443:443\"]` on nginx/traefik) and reach the app over "
                "the Compose network.",
    references=["NIST SP 800-204 (microservices security)", "Kubernetes docs: Ingress"],
    checklist=["security.reverse_proxy"],
    phrases=["reverse proxy", "traffic through load balancer", "no direct access to app ports"],
)
def traffic_through_proxy(p):
    from ._app import datastore_kind
    from ._k8s import obj_ref, services_selecting

    any_ = False
    proxies_in_compose: dict[str, bool] = {}
    for w in p.workloads:
        if w.source == "compose" and not w.dev_only:
            proxies_in_compose[w.project or ""] = proxies_in_compose.get(w.project or "", False) or any(
                c.image is not None and _proxy_image(c.image.repository) for c in w.containers)
    for w in p.workloads:
        if w.dev_only or not w.long_running:
            continue
        for c in w.containers:
            if c.init:  # (the app containers)
                continue
            repo = c.image.repository if c.image else ""
            if _proxy_image(repo or "") or datastore_kind(repo):
                continue
            if w.source == "k8s":
                hostports = [pt.host_port for pt in c.ports if pt.host_port]
                if hostports or w.host_network:
                    any_ = True
                    yield failed(f"{obj_ref(w)} binds host port {hostports[0] if hostports else '(hostNetwork)'} directly",
                                 c.loc, obj_ref(w))
                    continue
                for s in services_selecting(p, w):
                    any_ = True
                    stype = (s.raw.get("spec") or {}).get("type", "ClusterIP")
                    if stype == "NodePort":
                        yield failed(f"{obj_ref(s)} publishes {obj_ref(w)} on every node (NodePort)", s.loc, obj_ref(s))
                    else:
                        yield passed(f"{obj_ref(w)} is reached through {obj_ref(s)} ({stype})", s.loc, obj_ref(s))
            elif c.ports:
                public = [pt for pt in c.ports if pt.host_port and (pt.host_ip in (None, "", "0.0.0.0", "::"))]
                if not public:
                    continue
                any_ = True
                if proxies_in_compose.get(w.project or ""):
                    yield failed(f"{obj_ref(w)} publishes port {public[0].host_port} on all interfaces although a proxy "
                                 "service fronts it", c.loc, obj_ref(w))
                else:
                    yield failed(f"{obj_ref(w)} publishes application port {public[0].host_port} directly, with no "
                                 "reverse proxy", c.loc, obj_ref(w), confidence="medium")
    if not any_:
        yield not_applicable("no production application workloads with network exposure in the repository")


# --- edge hardening (optional) ------------------------------------------------------------------

EDGE_PRACTICES = [
    ("security.waf", "a web application firewall",
     ("aws_wafv2_web_acl_association", "aws_wafv2_web_acl", "aws_waf_web_acl", "google_compute_security_policy",
      "azurerm_web_application_firewall_policy", "cloudflare_ruleset", "cloudflare_waf_*"),
     r"(enable-modsecurity|modsecurity_rules|wafv2-acl-arn|waf-acl-id|ModSecurity|coraza)"),
    ("security.ddos_protection", "DDoS protection",
     ("aws_shield_protection*", "aws_shield_subscription", "azurerm_network_ddos_protection_plan",
      "google_compute_security_policy", "cloudflare_zone_settings_override"),
     r"(shield-advanced|cloud-armor|ddos)"),
    ("security.admin_vpn", "a VPN or bastion for administrative access",
     ("aws_ec2_client_vpn_endpoint", "aws_vpn_connection", "aws_vpn_gateway", "azurerm_bastion_host",
      "azurerm_virtual_network_gateway", "google_compute_vpn_gateway", "google_compute_ha_vpn_gateway",
      "tailscale_*", "aws_ssm_document"),
     r"(wireguard|openvpn|tailscale|teleport|bastion|boundary-worker|whitelist-source-range|allowlist-source-range)"),
    ("security.service_mesh", "a service mesh with mutual TLS",
     ("helm_release",), r"(PeerAuthentication|linkerd\.io/inject|istio-injection|sidecar\.istio\.io/inject|"
                        r"consul\.hashicorp\.com/connect-inject|mtls)"),
]


@control(
    id="security.edge-hardening", title="Edge and network hardening: WAF, DDoS protection, admin VPN, mesh mTLS",
    category="security", severity="low", evidence=["terraform", "k8s", "nginx"], optional=True,
    rationale="Internet-facing services benefit from a WAF and DDoS protection in front, administrative access "
              "through a VPN or bastion rather than public ports, and mutual TLS between services. Whether each is "
              "needed depends on exposure and threat model, so this policy is off unless enabled.",
    remediation="AWS: `aws_wafv2_web_acl` + association, `aws_shield_protection`, Client VPN or SSM Session Manager; "
                "GCP: Cloud Armor; Kubernetes: Istio `PeerAuthentication` with `mode: STRICT` or Linkerd injection; "
                "ingress-nginx: `enable-modsecurity` and `whitelist-source-range` on admin ingresses.",
    references=["OWASP Core Rule Set", "NIST SP 800-207 (zero trust)", "Istio docs: mutual TLS"],
    checklist=["security.waf", "security.ddos_protection", "security.admin_vpn", "security.service_mesh",
               "security.service_to_service_auth"],
    phrases=["web application firewall", "DDoS protection", "bastion host for administration", "service mesh mTLS"],
)
def edge_hardening(p):
    public = bool(p.objects("Ingress")) or bool(p.nginx) or bool(tf_resources(p, "aws_lb", "aws_alb",
                                                                             "google_compute_global_forwarding_rule"))
    if not public:
        yield not_applicable("no internet-facing entry point defined in the repository")
        return
    for label, what, types, pattern in EDGE_PRACTICES:
        res = [r for r in tf_resources(p, *types) if label != "security.service_mesh" or
               re.search(r"istio|linkerd|consul", json.dumps(r.body), re.I)]
        text = p.search_text(pattern, kinds=("k8s", "nginx", "terraform", "yaml", "helm-values"),
                             hints=tuple({w.lower() for w in re.findall(r"[A-Za-z]{5,}", pattern)} |
                                         {w for w in re.findall(r"[A-Za-z]{5,}", pattern)}))
        if res:
            yield passed(f"{what}: {res[0].ref}", res[0].loc, res[0].ref, concept=label)
        elif text:
            yield passed(f"{what}: configured in {text[0].path}", text[0], text[0].path, concept=label)
        else:
            yield failed(f"no {what} found", None, concept=label)
