"""HTTP checks (httpx): health and readiness, security headers, redirect to HTTPS, CORS, rate limiting (a bounded
burst), compression, version-revealing headers, stack traces in error pages, sensitive and internal paths,
latency. Only GET, HEAD and OPTIONS are ever sent, only to the origins the targets file lists, redirects are
never followed, and every request counts against the target's budget."""

from __future__ import annotations

import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..controls.base import failed, not_applicable, passed
from . import ids
from .runtime import BudgetExhausted, Resp, Session
from .targets import MIN_BURST_REQUESTS

PROBE_ORIGIN = "https://prodready-probe.invalid"
DEFAULT_HEALTH_PATHS = ("/healthz", "/health")
HSTS_MIN_AGE = 15552000  # 180 days, the floor of Mozilla Observatory and hstspreload.org's advice
RATE_HEADERS = ("ratelimit-limit", "ratelimit-policy", "ratelimit", "x-ratelimit-limit", "x-rate-limit-limit",
                "ratelimit-remaining", "x-ratelimit-remaining")
COMPRESSIBLE_RX = re.compile(r"text/|json|javascript|xml|svg|wasm", re.I)
COMPRESSION_MIN_BYTES = 1024
VERSION_RX = re.compile(r"\d+\.\d+|/\s*\d")

PROM_LINE_RX = re.compile(r"(?m)^(# (HELP|TYPE) [a-zA-Z_:][\w:]* |[a-zA-Z_:][\w:]*(\{[^}\n]*\})? "
                          r"(-?[\d.]+(e[+-]?\d+)?|NaN|[+-]Inf)( \d+)?$)")

STACK_TRACE_SIGNS = [
    ("Python traceback", re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")),
    ("Java stack trace", re.compile(r"\bat (java|javax|org\.springframework|com\.sun)\.[\w.$]+\(|"
                                    r"Exception in thread \"|\w+Exception: .*\n\s+at [\w.$]+\(")),
    ("Node.js stack trace", re.compile(r"\n\s+at [\w.<>$]+ \((/|node:)[^)]+:\d+:\d+\)|node_modules/express")),
    ("Go panic", re.compile(r"goroutine \d+ \[running\]|panic: .*\n\ngoroutine")),
    (".NET error page", re.compile(r"Server Error in '/' Application|\bat System\.[\w.]+\(")),
    ("PHP error", re.compile(r"(Fatal error|Warning|Parse error)</b>:? .* on line <b>\d+|Stack trace:\n#0")),
    ("Ruby backtrace", re.compile(r"\.rb:\d+:in `")),
    ("debug error page", re.compile(r"Werkzeug Debugger|You're seeing this error because you have <code>DEBUG = "
                                    r"True</code>|Whitelabel Error Page[\s\S]*trace")),
]

# path, what it leaks, and the signature of a real hit (a SPA answering 200 to everything is not a leak)
SENSITIVE_PATHS = [
    ("/.env", "environment file with secrets",
     re.compile(r"(?m)^\s*(export\s+)?[A-Z][A-Z0-9_]{2,}\s*=\s*\S")),
    ("/.git/config", "git repository metadata", re.compile(r"\[core\]|repositoryformatversion")),
    ("/server-status", "web server status page",
     re.compile(r"Apache Server Status|Active connections:\s*\d+|Server uptime|Total Accesses")),
    ("/actuator/env", "Spring Boot environment (configuration and secrets)",
     re.compile(r"\"propertySources\"|\"activeProfiles\"")),
    ("/debug/pprof/", "Go profiler (heap, goroutines, command line)",
     re.compile(r"Types of profiles available|/debug/pprof/goroutine|profile\?debug=")),
]
DOC_PATHS = [
    ("/openapi.json", re.compile(r"\"(openapi|swagger)\"\s*:")),
    ("/swagger.json", re.compile(r"\"(openapi|swagger)\"\s*:")),
    ("/v3/api-docs", re.compile(r"\"(openapi|swagger)\"\s*:")),
    ("/docs", re.compile(r"swagger-ui|redoc", re.I)),
]


def is_prometheus(r: Resp) -> bool:
    if r.status != 200:
        return False
    ctype = (r.header("content-type") or "").lower()
    if "html" in ctype or "json" in ctype:
        return False
    return len(PROM_LINE_RX.findall(r.text[:65536])) >= 3


def redirects_to_https(r: Resp) -> bool:
    return r.status in (301, 302, 303, 307, 308) and (r.header("location") or "").lower().startswith("https://")


def probe_http(s: Session, tls_ok: bool | None) -> None:
    """Run every HTTP check of one target. ``tls_ok``: whether the TLS handshake succeeded (https targets)."""
    t = s.target
    root = s.request("GET", "/")
    if root.status is None:
        s.add(ids.HEALTH, failed(f"target does not answer: {root.brief()}", url=root.url))
        s.add(ids.DEPLOYED, failed(f"target does not answer: {root.brief()}", url=root.url))
        s.skipped.append(f"HTTP checks: no answer from {root.url} ({root.error})")
        return
    s.add(ids.DEPLOYED, passed(f"target answers: {root.brief()}", url=root.url))
    public = t.exposure == "public"
    seen: list[Resp] = [root]
    work = "/"
    try:
        health = _health(s, seen)
        _metrics(s, seen, public)
        answers = [s.request("GET", path) for path in t.paths]
        seen.extend(answers)
        # the endpoint CORS, latency and the burst use: the first listed path that answers, else health, else /
        work = next((p for p, r in zip(t.paths, answers, strict=True) if r.status is not None and r.status < 400),
                    None) or (_path_of(health.url) if health else "/")
        _cors(s, work, seen)
        not_found = s.request("GET", f"/prodready-probe-{secrets.token_hex(6)}", note="random missing path")
        seen.append(not_found)
        _sensitive_paths(s, seen)
        if public:
            _docs_public(s, seen)
            _redirect(s, root)
            _ingress_tls(s, root, tls_ok)
            _security_headers(s, seen)
            _version_disclosure(s, seen)
        _stack_traces(s, seen)
        _compression(s, seen)
        _latency(s, work)
    except BudgetExhausted as exc:
        s.skipped.append(f"remaining HTTP checks: {exc}")
    _rate_limiting(s, work, seen)


# --- health, readiness, metrics -----------------------------------------------------------------

def _health(s: Session, seen: list[Resp]) -> Resp | None:
    t = s.target
    found: Resp | None = None
    tried: list[Resp] = []
    for path in [t.health] if t.health else DEFAULT_HEALTH_PATHS:
        r = s.request("GET", path)
        seen.append(r)
        tried.append(r)
        if r.status is not None and 200 <= r.status < 300:
            found = r
            break
    if found is None:
        conf = "high" if t.health else "medium"
        hint = "" if t.health else " (set health: in the targets file if it lives elsewhere)"
        s.add(ids.HEALTH, failed("no healthy answer: " + "; ".join(r.brief() for r in tried) + hint,
                                 url=tried[0].url, confidence=conf))
    elif found.ms > t.health_ms:
        s.add(ids.HEALTH, failed(f"health endpoint is slow: {found.brief()} (limit {t.health_ms:.0f} ms)",
                                 url=found.url))
    else:
        s.add(ids.HEALTH, passed(found.brief(), url=found.url))
    if t.readiness:
        r = s.request("GET", t.readiness)
        seen.append(r)
        ok = r.status is not None and 200 <= r.status < 300 and r.ms <= t.health_ms
        s.add(ids.HEALTH, (passed if ok else failed)(f"readiness: {r.brief()}", url=r.url))
        ready = r.status is not None and 200 <= r.status < 300
        detail = "" if ready or r.status is None else f": {' '.join(r.text.split())[:120]}"
        s.add(ids.DEPLOYED, (passed if ready else failed)(
            f"readiness (dependencies) {'OK' if ready else 'not OK'}: {r.brief()}{detail}", url=r.url))
    return found


def _metrics(s: Session, seen: list[Resp], public: bool) -> None:
    t = s.target
    if not t.metrics and not public:
        return
    r = s.request("GET", t.metrics or "/metrics")
    seen.append(r)
    prom = is_prometheus(r)
    if t.metrics:
        if prom:
            n = len(re.findall(r"(?m)^# TYPE ", r.text))
            s.add(ids.METRICS, passed(f"{r.brief()}: Prometheus text ({n} metric families)", url=r.url))
        else:
            s.add(ids.METRICS, failed(f"{r.brief()}: not Prometheus metrics", url=r.url))
    if public:
        if prom:
            s.add(ids.METRICS_PUBLIC, failed(f"metrics are public: {r.brief()} serves Prometheus text", url=r.url))
        else:
            s.add(ids.METRICS_PUBLIC, passed(f"metrics not public: {r.brief()}", url=r.url))


# --- CORS -----------------------------------------------------------------------------------------

def _cors(s: Session, path: str, seen: list[Resp]) -> None:
    pre = s.request("OPTIONS", path, headers={"Origin": PROBE_ORIGIN, "Access-Control-Request-Method": "GET"})
    get = s.request("GET", path, headers={"Origin": PROBE_ORIGIN})
    seen.extend([pre, get])
    problems = []
    for r in (pre, get):
        acao = (r.header("access-control-allow-origin") or "").strip()
        cred = (r.header("access-control-allow-credentials") or "").strip().lower() == "true"
        label = f"{r.method} {path} with Origin: {PROBE_ORIGIN} → Access-Control-Allow-Origin: {acao}"
        if acao == PROBE_ORIGIN:
            problems.append((r, f"{label}: an arbitrary origin is reflected" + (", with credentials" if cred else "")))
        elif acao == "*":
            problems.append((r, f"{label}: any origin may read responses" + (" (and credentials are allowed)"
                                                                             if cred else "")))
        elif acao.lower() == "null":
            problems.append((r, f"{label}: the 'null' origin (sandboxed pages, file://) is allowed"))
    if problems:
        r, msg = problems[0]
        s.add(ids.CORS, failed(msg, url=r.url))
    else:
        s.add(ids.CORS, passed(f"OPTIONS and GET {path} with Origin: {PROBE_ORIGIN} → no Access-Control-Allow-Origin "
                               "for an unlisted origin", url=get.url))


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


# --- paths that must not be served ---------------------------------------------------------------

def _sensitive_paths(s: Session, seen: list[Resp]) -> None:
    hits = []
    for path, what, sign in SENSITIVE_PATHS:
        r = s.request("GET", path)
        seen.append(r)
        if r.status == 200 and sign.search(r.text[:65536]):
            hits.append(r)
            s.add(ids.SENSITIVE_PATHS, failed(f"{what} exposed: {r.brief()}", url=r.url))
    if not hits:
        codes = ", ".join(sorted({str(r.status) for r in seen[-len(SENSITIVE_PATHS):]}))
        s.add(ids.SENSITIVE_PATHS, passed(f"{', '.join(p for p, _, _ in SENSITIVE_PATHS)} not served "
                                          f"(answers: {codes})", url=s.url("/")))


def _docs_public(s: Session, seen: list[Resp]) -> None:
    hits = []
    for path, sign in DOC_PATHS:
        r = s.request("GET", path)
        seen.append(r)
        if r.status == 200 and sign.search(r.text[:65536]):
            hits.append(r)
            s.add(ids.SENSITIVE_PATHS, failed(f"API documentation is public: {r.brief()}", url=r.url))
    if not hits:
        s.add(ids.SENSITIVE_PATHS, passed(f"no public API docs at {', '.join(p for p, _ in DOC_PATHS)}",
                                          url=s.url("/")))


# --- edge: redirect, TLS, headers, versions ------------------------------------------------------

def _redirect(s: Session, root: Resp) -> None:
    t = s.target
    if t.scheme == "http":
        r = root
    elif t.http_url:
        r = s.request("GET", t.http_url)
        if r.status is None:
            s.add(ids.REDIRECT, passed(f"plain HTTP is not served: {r.brief()}", url=r.url))
            return
    else:
        s.add(ids.REDIRECT, not_applicable(f"target {t.name}: set http_url to check that plain HTTP redirects"))
        return
    loc = r.header("location") or ""
    if redirects_to_https(r):
        s.add(ids.REDIRECT, passed(f"{r.brief()} → Location: {loc}", url=r.url))
    elif r.status in (301, 302, 303, 307, 308):
        s.add(ids.REDIRECT, failed(f"{r.brief()} redirects to {loc or '(no Location)'}, not to https://", url=r.url))
    else:
        s.add(ids.REDIRECT, failed(f"plain HTTP is served without a redirect: {r.brief()}", url=r.url))


def _ingress_tls(s: Session, root: Resp, tls_ok: bool | None) -> None:
    t = s.target
    if t.scheme == "https":
        if tls_ok:
            s.add(ids.INGRESS_TLS, passed(f"{t.url} answers over TLS", url=t.url))
        else:
            s.add(ids.INGRESS_TLS, failed(f"{t.url}: TLS handshake failed (see {ids.TLS_CERT})", url=t.url))
    elif redirects_to_https(root):
        s.add(ids.INGRESS_TLS, passed(f"{root.brief()} redirects to {root.header('location')} (list that URL as a "
                                      "target to check its TLS)", url=root.url, confidence="medium"))
    else:
        s.add(ids.INGRESS_TLS, failed(f"public target served over plain HTTP: {root.brief()}", url=root.url))


def _page(seen: list[Resp]) -> Resp | None:
    """The first real page answered (not a redirect), to judge response headers on."""
    for r in seen:
        if r.method == "GET" and r.status is not None and 200 <= r.status < 300:
            return r
    for r in seen:
        if r.method == "GET" and r.status is not None and not 300 <= r.status < 400:
            return r
    return None


def _security_headers(s: Session, seen: list[Resp]) -> None:
    t = s.target
    r = _page(seen)
    if r is None:
        s.add(ids.HEADERS, not_applicable(f"target {t.name}: every answer is a redirect; list the https:// URL as "
                                          "a target to check its headers"))
        return
    where = r.brief()
    h = r.header
    if t.scheme == "https":
        hsts = h("strict-transport-security")
        m = re.search(r"max-age\s*=\s*\"?(\d+)", hsts or "", re.I)
        if not hsts:
            s.add(ids.HEADERS, failed(f"no Strict-Transport-Security header: {where}", url=r.url))
        elif not m or int(m.group(1)) < HSTS_MIN_AGE:
            s.add(ids.HEADERS, failed(f"Strict-Transport-Security max-age too short ({hsts!r}, want ≥ "
                                      f"{HSTS_MIN_AGE}): {where}", url=r.url))
        else:
            s.add(ids.HEADERS, passed(f"Strict-Transport-Security: {hsts}", url=r.url))
    csp = h("content-security-policy")
    if csp:
        s.add(ids.HEADERS, passed(f"Content-Security-Policy: {csp[:80]}", url=r.url))
    elif h("content-security-policy-report-only"):
        s.add(ids.HEADERS, failed(f"Content-Security-Policy is report-only (not enforced): {where}", url=r.url))
    else:
        s.add(ids.HEADERS, failed(f"no Content-Security-Policy header: {where}", url=r.url))
    xcto = (h("x-content-type-options") or "").strip().lower()
    if xcto == "nosniff":
        s.add(ids.HEADERS, passed("X-Content-Type-Options: nosniff", url=r.url))
    else:
        s.add(ids.HEADERS, failed(f"no X-Content-Type-Options: nosniff ({xcto or 'absent'}): {where}", url=r.url))
    xfo = (h("x-frame-options") or "").strip().upper()
    if xfo in ("DENY", "SAMEORIGIN") or "frame-ancestors" in (csp or "").lower():
        s.add(ids.HEADERS, passed(f"framing restricted ({'X-Frame-Options: ' + xfo if xfo else 'CSP frame-ancestors'})",
                                  url=r.url))
    else:
        s.add(ids.HEADERS, failed(f"no X-Frame-Options (DENY/SAMEORIGIN) nor CSP frame-ancestors: {where}",
                                  url=r.url))
    rp = (h("referrer-policy") or "").strip().lower()
    if rp and rp not in ("unsafe-url", "no-referrer-when-downgrade"):
        s.add(ids.HEADERS, passed(f"Referrer-Policy: {rp}", url=r.url))
    else:
        s.add(ids.HEADERS, failed(f"Referrer-Policy {'is ' + repr(rp) if rp else 'missing'}: {where}", url=r.url))


def _version_disclosure(s: Session, seen: list[Resp]) -> None:
    leaks: dict[str, tuple[str, Resp]] = {}
    for r in seen:
        for name in ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator"):
            v = r.header(name)
            if v is None or name in leaks:
                continue
            if name == "server" and not VERSION_RX.search(v):
                continue
            leaks[name] = (v, r)
    for name, (v, r) in leaks.items():
        s.add(ids.VERSION_DISCLOSURE, failed(f"{_title(name)}: {v} on {r.brief()}", url=r.url))
    if not leaks:
        server = next((r.header("server") for r in seen if r.header("server")), None)
        s.add(ids.VERSION_DISCLOSURE, passed(f"no version in response headers (Server: {server or 'absent'})",
                                             url=s.url("/")))


def _title(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-"))


# --- error pages, compression, latency -----------------------------------------------------------

def _stack_traces(s: Session, seen: list[Resp]) -> None:
    errors = [r for r in seen if r.status is not None and r.status >= 400 and r.method == "GET"]
    found = False
    done: set[str] = set()
    for r in errors:
        if r.url in done:
            continue
        done.add(r.url)
        text = r.text[:65536]
        for label, rx in STACK_TRACE_SIGNS:
            m = rx.search(text)
            if m:
                found = True
                excerpt = " ".join(m.group(0).split())[:80]
                s.add(ids.STACK_TRACES, failed(f"{label} in the error page of {r.brief()}: “{excerpt}”", url=r.url))
                break
    if not found:
        codes = ", ".join(sorted({f"{r.status}" for r in errors})) or "none"
        s.add(ids.STACK_TRACES, passed(f"{len(done)} error pages read (status {codes}): no stack trace",
                                       url=s.url("/")))


def _compression(s: Session, seen: list[Resp]) -> None:
    eligible = [r for r in seen if r.method == "GET" and r.status == 200 and len(r.body) >= COMPRESSION_MIN_BYTES
                and COMPRESSIBLE_RX.search(r.header("content-type") or "")]
    if not eligible:
        s.add(ids.COMPRESSION, not_applicable(f"target {s.target.name}: no response of at least "
                                              f"{COMPRESSION_MIN_BYTES} bytes of text to judge compression on"))
        return
    done: set[str] = set()
    for r in eligible:
        if r.url in done:
            continue
        done.add(r.url)
        enc = (r.header("content-encoding") or "").lower()
        if enc in ("gzip", "br", "zstd", "deflate"):
            s.add(ids.COMPRESSION, passed(f"{r.brief()} with Accept-Encoding: gzip → Content-Encoding: {enc}",
                                          url=r.url))
        else:
            s.add(ids.COMPRESSION, failed(f"{r.brief()}: {len(r.body)} bytes of "
                                          f"{(r.header('content-type') or '').split(';')[0]} sent uncompressed "
                                          "although the request accepted gzip", url=r.url))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def _latency(s: Session, path: str) -> None:
    t = s.target
    if t.latency_samples <= 0:
        s.add(ids.LATENCY, not_applicable(f"target {t.name}: latency sampling switched off (latency.samples: 0)"))
        return
    n = min(t.latency_samples, max(0, s.remaining - MIN_BURST_REQUESTS if t.burst.enabled else s.remaining))
    if n < 3:
        s.add(ids.LATENCY, not_applicable(f"target {t.name}: budget too small for a latency sample"))
        s.skipped.append("latency sample: budget too small")
        return
    times, errors = [], 0
    for _ in range(n):
        r = s.request("GET", path, cache=False, note="latency sample")
        if r.status is None or r.status >= 500:
            errors += 1
        else:
            times.append(r.ms)
    if not times:
        s.add(ids.LATENCY, failed(f"{n} GET {path}: no successful answer", url=s.url(path)))
        return
    p50, p95 = _percentile(times, 50), _percentile(times, 95)
    msg = f"{n} sequential GET {path}: p50 {p50:.0f} ms, p95 {p95:.0f} ms (target p95 ≤ {t.p95_ms:.0f} ms)"
    if errors:
        msg += f", {errors} errors"
    ok = p95 <= t.p95_ms and not errors
    s.add(ids.LATENCY, (passed if ok else failed)(msg, url=s.url(path)))


# --- rate limiting: the bounded burst -------------------------------------------------------------

def _rate_limiting(s: Session, work: str, seen: list[Resp]) -> None:
    t = s.target
    headers_seen = [r for r in seen if any(r.header(h) for h in RATE_HEADERS)]
    limited = [r for r in seen if r.status == 429]
    if limited or headers_seen:
        r = (limited or headers_seen)[0]
        what = "429 Too Many Requests" if limited else "RateLimit headers " + ", ".join(
            f"{h}: {r.header(h)}" for h in RATE_HEADERS if r.header(h))
        s.add(ids.RATE_LIMITING, passed(f"{what} on {r.brief()}", url=r.url))
        return
    if not t.burst.enabled:
        s.add(ids.RATE_LIMITING, not_applicable(f"target {t.name}: burst test switched off in the targets file"))
        s.notes.append("burst test: off (burst: false)")
        return
    path = t.burst.path or work
    n = min(t.burst.requests, s.remaining)
    if n < MIN_BURST_REQUESTS:
        s.add(ids.RATE_LIMITING, not_applicable(f"target {t.name}: {s.remaining} requests left in the budget, too "
                                                f"few for a burst of at least {MIN_BURST_REQUESTS}"))
        s.skipped.append(f"burst test: budget left ({s.remaining}) below {MIN_BURST_REQUESTS}")
        return
    stop = threading.Event()
    results: list[Resp] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        if stop.is_set():
            return
        try:
            r = s.request("GET", path, cache=False, note=f"burst {i + 1}/{n}")
        except BudgetExhausted:
            return
        with lock:
            results.append(r)
        if r.status == 429 or any(r.header(h) for h in RATE_HEADERS):
            stop.set()

    t0 = time.perf_counter()
    workers = max(1, min(s.concurrency, n))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - t0
    sent = len(results)
    s.notes.append(f"burst test: {sent} GET {path}, {workers} at a time, in {elapsed:.1f} s")
    first_429 = next((i for i, r in enumerate(results) if r.status == 429), None)
    rl = next((r for r in results if any(r.header(h) for h in RATE_HEADERS)), None)
    busy = [r for r in results if r.status == 503]
    url = s.url(path)
    if first_429 is not None:
        s.add(ids.RATE_LIMITING, passed(f"429 after {first_429 + 1} of {sent} requests (GET {path}, {workers} at a "
                                        f"time, {elapsed:.1f} s)", url=url))
    elif rl is not None:
        s.add(ids.RATE_LIMITING, passed("RateLimit headers on the burst: " + ", ".join(
            f"{h}: {rl.header(h)}" for h in RATE_HEADERS if rl.header(h)), url=url))
    elif busy and len(busy) < sent:
        s.add(ids.RATE_LIMITING, passed(f"{len(busy)} of {sent} burst requests answered 503 (a limiter without "
                                        "429, e.g. nginx limit_req without limit_req_status 429)", url=url,
                                        confidence="medium"))
    else:
        codes = ", ".join(f"{c}×{sum(1 for r in results if r.status == c)}"
                          for c in sorted({r.status for r in results}, key=lambda c: (c is None, c or 0)))
        s.add(ids.RATE_LIMITING, failed(f"{sent} requests in {elapsed:.1f} s, no 429 and no RateLimit headers "
                                        f"(GET {path}, {workers} at a time; answers {codes})", url=url,
                                        confidence="medium"))
