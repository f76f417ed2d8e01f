"""The targets file: what ``prodready probe`` may touch, and how hard.

Nothing is probed that is not listed here. The file holds no secrets: credentials come from environment
variables it names (``username_env`` / ``password_env``); a URL carrying a password is refused.

```yaml
version: 1
defaults:                  # optional; every key can also be set per target
  budget: 60               # requests (HTTP requests, TLS handshakes, datastore connections) per target
  timeout: 5               # seconds per request
  burst: true              # the rate-limit burst test (HTTP targets); false switches it off
  default_credentials: true  # the default-credential login tries; false switches them off
concurrency: 4             # requests in flight at once, over all targets
targets:
  - name: api
    url: https://api.example.com
    exposure: public       # public (internet-facing edge) | internal | private (must not be reachable)
    health: /healthz
    readiness: /readyz
    metrics: /metrics
    paths: [/api/v1/orders]
    http_url: http://api.example.com/   # plain-HTTP URL whose redirect to HTTPS is checked
    tls: {ca_file: ca.pem}
    burst: {requests: 40, path: /api/v1/orders}
    latency: {samples: 10, p95_ms: 300}
  - name: db
    url: postgresql://app@db.internal:5432/shop
    password_env: SHOP_DB_PASSWORD
```
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..parsers.yamlsafe import YamlError, YList, YMap, load_all

KINDS = ("http", "postgresql", "redis", "kafka", "amqp", "rabbitmq", "grafana", "s3", "prometheus", "loki")
SCHEME_KIND = {"http": "http", "https": "http", "postgresql": "postgresql", "postgres": "postgresql",
               "redis": "redis", "rediss": "redis", "kafka": "kafka", "kafka+ssl": "kafka", "amqp": "amqp",
               "amqps": "amqp"}
HTTP_BASED = ("http", "rabbitmq", "grafana", "s3", "prometheus", "loki")  # kinds whose URL is http(s)://
DEFAULT_PORTS = {"http": 80, "https": 443, "postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379,
                 "kafka": 9092, "kafka+ssl": 9093, "amqp": 5672, "amqps": 5671}
EXPOSURES = ("public", "internal", "private")

DEFAULT_BUDGET = 60
DEFAULT_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 4
DEFAULT_BURST_REQUESTS = 30
MIN_BURST_REQUESTS = 10
DEFAULT_LATENCY_SAMPLES = 10
DEFAULT_P95_MS = 500.0
DEFAULT_HEALTH_MS = 1000.0
MAX_BUDGET = 1000


class TargetsError(Exception):
    """An invalid targets file: the message names the file, the line and the key."""


@dataclass
class Burst:
    enabled: bool = True
    requests: int = DEFAULT_BURST_REQUESTS
    path: str | None = None  # default: the health path, else /


@dataclass
class Target:
    name: str
    url: str
    kind: str
    line: int | None = None
    exposure: str = "internal"
    budget: int = DEFAULT_BUDGET
    timeout: float = DEFAULT_TIMEOUT
    default_credentials: bool = True
    burst: Burst = field(default_factory=Burst)
    health: str | None = None
    readiness: str | None = None
    metrics: str | None = None
    paths: list[str] = field(default_factory=list)
    http_url: str | None = None
    ca_file: str | None = None
    server_name: str | None = None
    latency_samples: int = DEFAULT_LATENCY_SAMPLES
    p95_ms: float = DEFAULT_P95_MS
    health_ms: float = DEFAULT_HEALTH_MS
    username_env: str | None = None
    password_env: str | None = None
    buckets: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)  # Loki stream selectors that must have recent entries

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)

    @property
    def tls(self) -> bool:
        return self.scheme in ("https", "rediss", "amqps", "kafka+ssl")

    def origins(self) -> set[tuple[str, str, int]]:
        """(scheme, host, port) of every URL this target may be reached at: its URL and its http_url."""
        out = {_origin(self.url)}
        if self.http_url:
            out.add(_origin(self.http_url))
        return out

    def credentials(self) -> tuple[str | None, str | None]:
        """Username and password from the environment variables the file names (None when not set)."""
        user = os.environ.get(self.username_env) if self.username_env else None
        password = os.environ.get(self.password_env) if self.password_env else None
        return user or urlsplit(self.url).username, password


@dataclass
class Targets:
    path: str
    targets: list[Target]
    concurrency: int = DEFAULT_CONCURRENCY


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


TOP_KEYS = {"version", "defaults", "concurrency", "targets"}
DEFAULT_KEYS = {"budget", "timeout", "burst", "default_credentials", "latency"}
COMMON_KEYS = {"name", "url", "kind", "exposure", "budget", "timeout", "default_credentials", "username_env",
               "password_env"}
KIND_KEYS = {
    "http": {"health", "readiness", "metrics", "paths", "http_url", "tls", "burst", "latency"},
    "postgresql": set(), "redis": {"tls"}, "kafka": {"tls"}, "amqp": {"tls"},
    "rabbitmq": {"tls"}, "grafana": {"tls"}, "s3": {"tls", "buckets"}, "prometheus": {"tls"},
    "loki": {"tls", "streams"},
}
ENV_NAME_RX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_RX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class _Ctx:
    def __init__(self, path: str) -> None:
        self.path = path

    def err(self, line: int | None, key: str | None, message: str) -> TargetsError:
        where = self.path + (f":{line}" if line else "")
        return TargetsError(f"{where}: {('key ' + repr(key) + ': ') if key else ''}{message}")


def load_targets(path: str | Path) -> Targets:
    """Read and validate a targets file; raise :class:`TargetsError` with file:line on any problem."""
    p = Path(path)
    ctx = _Ctx(str(path))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ctx.err(None, None, "targets file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ctx.err(None, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_targets(text, str(path), base_dir=p.parent)


def parse_targets(text: str, path: str = "targets.yaml", base_dir: Path | None = None) -> Targets:
    ctx = _Ctx(path)
    try:
        docs = load_all(text).docs
    except YamlError as exc:
        raise ctx.err(exc.line, None, f"invalid YAML: {exc.message}") from None
    docs = [d for d in docs if d.data is not None]
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ctx.err(None, None, "expected one YAML mapping with a 'targets' list")
    root = docs[0].data
    _unknown(ctx, root, TOP_KEYS, "top level")
    version = root.get("version", 1)
    if version != 1:
        raise ctx.err(_line(root, "version"), "version", f"unsupported version {version!r} (expected 1)")
    concurrency = _int(ctx, root, "concurrency", DEFAULT_CONCURRENCY, 1, 32)
    defaults = root.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ctx.err(_line(root, "defaults"), "defaults", "must be a mapping")
    _unknown(ctx, defaults, DEFAULT_KEYS, "defaults")
    items = root.get("targets")
    if not isinstance(items, list) or not items:
        raise ctx.err(_line(root, "targets"), "targets", "must be a non-empty list of targets")
    out: list[Target] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        line = items.item_lines[i] if isinstance(items, YList) and i < len(items.item_lines) else None
        if not isinstance(item, dict):
            raise ctx.err(line, None, f"target #{i + 1} must be a mapping with at least 'name' and 'url'")
        t = _target(ctx, item, defaults, base_dir)
        if t.name in seen:
            raise ctx.err(_line(item, "name"), "name", f"duplicate target name {t.name!r}")
        seen.add(t.name)
        out.append(t)
    return Targets(path, out, concurrency)


def _line(m: Any, key: str) -> int | None:
    return m.line_of(key) if isinstance(m, YMap) else None


def _unknown(ctx: _Ctx, m: dict, allowed: set[str], where: str) -> None:
    for k in m:
        if k not in allowed:
            hint = ""
            if isinstance(k, str) and re.search(r"pass|secret|token", k, re.I):
                hint = "; credentials never go in this file: name an environment variable with password_env"
            raise ctx.err(_line(m, k), str(k), f"unknown key in {where} (allowed: {', '.join(sorted(allowed))}){hint}")


def _int(ctx: _Ctx, m: dict, key: str, default: int, lo: int, hi: int) -> int:
    v = m.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ctx.err(_line(m, key), key, f"must be an integer from {lo} to {hi}, got {v!r}")
    return v


def _num(ctx: _Ctx, m: dict, key: str, default: float, lo: float, hi: float) -> float:
    v = m.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ctx.err(_line(m, key), key, f"must be a number from {lo:g} to {hi:g}, got {v!r}")
    return float(v)


def _bool(ctx: _Ctx, m: dict, key: str, default: bool) -> bool:
    v = m.get(key, default)
    if not isinstance(v, bool):
        raise ctx.err(_line(m, key), key, f"must be true or false, got {v!r}")
    return v


def _path(ctx: _Ctx, m: dict, key: str) -> str | None:
    v = m.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.startswith("/") or "://" in v or any(c.isspace() for c in v):
        raise ctx.err(_line(m, key), key, f"must be a path on the target starting with '/', got {v!r}")
    return v


def _env(ctx: _Ctx, m: dict, key: str) -> str | None:
    v = m.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not ENV_NAME_RX.match(v):
        raise ctx.err(_line(m, key), key, f"must name an environment variable (like DB_PASSWORD), got {v!r}")
    return v


def _check_url(ctx: _Ctx, m: dict, key: str, url: Any, schemes: tuple[str, ...]) -> str:
    line = _line(m, key)
    if not isinstance(url, str) or "://" not in url:
        raise ctx.err(line, key, f"must be a URL like {schemes[0]}://host:port, got {url!r}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ctx.err(line, key, f"invalid URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in schemes:
        raise ctx.err(line, key, f"scheme {parts.scheme!r} not allowed here (use {', '.join(schemes)})")
    if not parts.hostname:
        raise ctx.err(line, key, f"URL {url!r} has no host")
    if parts.password is not None:
        raise ctx.err(line, key, "the URL carries a password; put it in an environment variable and name it "
                                 "with password_env")
    if parts.query or parts.fragment:
        raise ctx.err(line, key, "no query string or fragment in target URLs")
    return url


def _target(ctx: _Ctx, m: dict, defaults: dict, base_dir: Path | None) -> Target:
    name = m.get("name")
    if not isinstance(name, str) or not NAME_RX.match(name):
        raise ctx.err(_line(m, "name") if "name" in m else getattr(m, "line", None), "name",
                      "every target needs a name of letters, digits, '.', '_' or '-' (max 63)")
    if "url" not in m:
        raise ctx.err(getattr(m, "line", None), "url", f"target {name!r} has no url")
    raw_url = m.get("url")
    scheme = raw_url.split("://", 1)[0].lower() if isinstance(raw_url, str) and "://" in raw_url else ""
    kind = m.get("kind")
    if kind is None:
        kind = SCHEME_KIND.get(scheme)
        if kind is None:
            raise ctx.err(_line(m, "url"), "url", f"cannot tell the kind of {raw_url!r}: use one of the schemes "
                                                  f"{', '.join(sorted(SCHEME_KIND))} or set kind:")
    if kind not in KINDS:
        raise ctx.err(_line(m, "kind"), "kind", f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    schemes = ("http", "https") if kind in HTTP_BASED else tuple(s for s, k in SCHEME_KIND.items() if k == kind)
    url = _check_url(ctx, m, "url", raw_url, schemes)
    _unknown(ctx, m, COMMON_KEYS | KIND_KEYS[kind], f"a {kind} target")
    merged = {**defaults, **m}  # per-target keys win
    exposure = m.get("exposure", "public" if kind == "http" else "internal")
    if exposure not in EXPOSURES:
        raise ctx.err(_line(m, "exposure"), "exposure", f"must be one of {', '.join(EXPOSURES)}, got {exposure!r}")
    src = m if "budget" in m else defaults
    t = Target(name=name, url=url, kind=kind, line=getattr(m, "line", None), exposure=exposure,
               budget=_int(ctx, src, "budget", DEFAULT_BUDGET, 1, MAX_BUDGET),
               timeout=_num(ctx, m if "timeout" in m else defaults, "timeout", DEFAULT_TIMEOUT, 0.1, 60),
               default_credentials=_bool(ctx, m if "default_credentials" in m else defaults, "default_credentials",
                                         True),
               username_env=_env(ctx, m, "username_env"), password_env=_env(ctx, m, "password_env"))
    burst = merged.get("burst", True)
    bsrc = m if "burst" in m else defaults
    if isinstance(burst, bool):
        t.burst = Burst(enabled=burst)
    elif isinstance(burst, dict):
        _unknown(ctx, burst, {"requests", "path", "enabled"}, "burst")
        t.burst = Burst(enabled=_bool(ctx, burst, "enabled", True),
                        requests=_int(ctx, burst, "requests", DEFAULT_BURST_REQUESTS, MIN_BURST_REQUESTS, MAX_BUDGET),
                        path=_path(ctx, burst, "path"))
    else:
        raise ctx.err(_line(bsrc, "burst"), "burst", "must be true, false or a mapping {requests, path}")
    latency = merged.get("latency") or {}
    if not isinstance(latency, dict):
        raise ctx.err(_line(m if "latency" in m else defaults, "latency"), "latency",
                      "must be a mapping {samples, p95_ms, health_ms}")
    _unknown(ctx, latency, {"samples", "p95_ms", "health_ms"}, "latency")
    t.latency_samples = _int(ctx, latency, "samples", DEFAULT_LATENCY_SAMPLES, 0, 100)
    t.p95_ms = _num(ctx, latency, "p95_ms", DEFAULT_P95_MS, 1, 60000)
    t.health_ms = _num(ctx, latency, "health_ms", DEFAULT_HEALTH_MS, 1, 60000)
    for key in ("health", "readiness", "metrics"):
        setattr(t, key, _path(ctx, m, key))
    paths = m.get("paths") or []
    if not isinstance(paths, list):
        raise ctx.err(_line(m, "paths"), "paths", "must be a list of paths")
    t.paths = [_path(ctx, {"paths": p}, "paths") or "/" for p in paths]
    if "http_url" in m:
        t.http_url = _check_url(ctx, m, "http_url", m["http_url"], ("http",))
        if urlsplit(t.http_url).hostname != urlsplit(url).hostname:
            raise ctx.err(_line(m, "http_url"), "http_url", "must be on the same host as url")
    tls = m.get("tls")
    if tls is not None:
        if not isinstance(tls, dict):
            raise ctx.err(_line(m, "tls"), "tls", "must be a mapping {ca_file, server_name}")
        _unknown(ctx, tls, {"ca_file", "server_name"}, "tls")
        ca = tls.get("ca_file")
        if ca is not None:
            if not isinstance(ca, str):
                raise ctx.err(_line(tls, "ca_file"), "ca_file", "must be a path to a PEM file")
            ca_path = Path(ca) if Path(ca).is_absolute() or base_dir is None else base_dir / ca
            if not ca_path.is_file():
                raise ctx.err(_line(tls, "ca_file"), "ca_file", f"file not found: {ca_path}")
            t.ca_file = str(ca_path)
        sn = tls.get("server_name")
        if sn is not None and not isinstance(sn, str):
            raise ctx.err(_line(tls, "server_name"), "server_name", "must be a host name")
        t.server_name = sn
    buckets = m.get("buckets") or []
    if not isinstance(buckets, list) or not all(isinstance(b, str) and re.match(r"^[a-z0-9][a-z0-9.-]{1,62}$", b)
                                                for b in buckets):
        raise ctx.err(_line(m, "buckets"), "buckets", "must be a list of bucket names")
    t.buckets = list(buckets)
    streams = m.get("streams") or []
    if not isinstance(streams, list) or not all(isinstance(x, str) and x.strip().startswith("{") and
                                                x.strip().endswith("}") for x in streams):
        raise ctx.err(_line(m, "streams"), "streams", "must be a list of LogQL stream selectors like '{app=\"api\"}'")
    t.streams = [x.strip() for x in streams]
    return t
