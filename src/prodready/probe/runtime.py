"""Safety rails shared by every check: the per-target request budget, the global concurrency limit, the
allow-list of origins and methods, and the transcript of what was sent and what came back.

Every network action of a probe — an HTTP request, a TLS handshake, a datastore connection or command —
goes through :meth:`Session.spend` first, so the budget printed in the report is a hard ceiling.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..controls.base import Outcome
from ..secrets import mask_secrets
from .targets import DEFAULT_PORTS, Target

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_BODY = 256 * 1024  # bytes of a response body read at most
USER_AGENT = "prodready-probe/1 (read-only production-readiness check)"


class BudgetExhausted(Exception):
    pass


class NotAllowed(Exception):
    """A request outside the targets file or with a non-read-only method: a bug, never sent."""


@dataclass
class Exchange:
    """One thing sent and what came back, for the report."""

    what: str  # "GET https://host/path", "TLS handshake TLSv1.1", "PostgreSQL login postgres/no password"
    result: str = ""
    ms: float | None = None


@dataclass
class Resp:
    method: str
    url: str
    status: int | None  # None: no HTTP answer (see error)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    body: bytes = b""
    ms: float = 0.0
    error: str | None = None
    truncated: bool = False
    retry: bool = False  # the error may be a stale kept-alive connection

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def brief(self) -> str:
        if self.status is None:
            return f"{self.method} {self.url} → no answer ({self.error})"
        return f"{self.method} {self.url} → {self.status} in {self.ms:.0f} ms"


class Session:
    """Per-target state: budget, transcript, and what was tried (named in the report)."""

    def __init__(self, target: Target, gate: threading.BoundedSemaphore, concurrency: int = 4) -> None:
        self.target = target
        self.gate = gate
        self.concurrency = concurrency
        self.sent = 0
        self.lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self.notes: list[str] = []  # what was tried, for the report (burst, default-credential tries, ...)
        self.skipped: list[str] = []  # checks not run, with the reason
        self.outcomes: list[tuple[str, Outcome]] = []
        self.origins = target.origins()
        self.cache: dict[tuple, Resp] = {}
        self._client: Any = None

    # --- budget --------------------------------------------------------------------------------
    @property
    def remaining(self) -> int:
        return self.target.budget - self.sent

    def spend(self, what: str) -> None:
        with self.lock:
            if self.sent >= self.target.budget:
                raise BudgetExhausted(f"budget of {self.target.budget} requests spent before: {what}")
            self.sent += 1

    def record(self, what: str, result: str, ms: float | None = None) -> None:
        with self.lock:
            self.exchanges.append(Exchange(mask_secrets(what), mask_secrets(result), ms))

    def add(self, control_id: str, o: Outcome) -> None:
        o.source = "live"
        if o.resource is None:
            o.resource = f"target {self.target.name}"
        o.message = mask_secrets(o.message)
        self.outcomes.append((control_id, o))

    # --- allow-list ----------------------------------------------------------------------------
    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        origin = (scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0))
        if origin not in self.origins:
            raise NotAllowed(f"{url} is not on an origin listed for target {self.target.name}")

    def url(self, path: str) -> str:
        """A path on the target, below the target URL's own path (a console mounted at /grafana)."""
        parts = urlsplit(self.target.url)
        p, _, q = path.partition("?")
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + p, q, ""))

    # --- HTTP ----------------------------------------------------------------------------------
    def client(self):
        import httpx

        if self._client is None:
            # HTTP checks read headers and bodies; certificate problems are judged by the TLS checks, which
            # verify properly. Redirects are never followed: a Location may point outside the targets file.
            self._client = httpx.Client(verify=False, follow_redirects=False, http2=False,
                                        timeout=httpx.Timeout(self.target.timeout),
                                        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def request(self, method: str, path_or_url: str, headers: dict[str, str] | None = None, auth=None,
                cache: bool = True, note: str | None = None) -> Resp:
        """Send one read-only request (cached: the same GET is sent once), within budget and allow-list."""
        method = method.upper()
        if method not in SAFE_METHODS:
            raise NotAllowed(f"method {method} is never sent by a probe (only {', '.join(SAFE_METHODS)})")
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        self.check_url(url)
        key = (method, url, tuple(sorted((headers or {}).items())), bool(auth))
        if cache and key in self.cache:
            return self.cache[key]
        shown = f"{method} {url}" + (f" ({note})" if note else "")
        resp = self._send(method, url, headers, auth, shown)
        if resp.status is None and resp.error and resp.retry:
            # a kept-alive connection the server had already closed (httpx drops it from its pool): once more,
            # on a fresh connection, budgeted like any request
            resp = self._send(method, url, headers, auth, shown + " (retried on a fresh connection)")
        if cache:
            self.cache[key] = resp
        return resp

    def _send(self, method: str, url: str, headers, auth, shown: str) -> Resp:
        import httpx

        self.spend(shown)
        t0 = time.perf_counter()
        resp = Resp(method, url, None)
        with self.gate:
            try:
                with self.client().stream(method, url, headers=headers, auth=auth) as r:
                    body = bytearray()
                    for chunk in r.iter_bytes():
                        body += chunk
                        if len(body) > MAX_BODY:
                            resp.truncated = True
                            break
                    resp.status = r.status_code
                    resp.headers = {k.lower(): v for k, v in r.headers.items()}
                    resp.body = bytes(body[:MAX_BODY])
            except httpx.TimeoutException:
                resp.error = f"timed out after {self.target.timeout:g} s"
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                resp.error, resp.retry = _short_error(exc), True
            except httpx.HTTPError as exc:
                resp.error = _short_error(exc)
        resp.ms = (time.perf_counter() - t0) * 1000
        self.record(shown, f"{resp.status} ({len(resp.body)} bytes)" if resp.status is not None else
                    f"no answer: {resp.error}", resp.ms)
        return resp


def _short_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out",
                   "Connection reset", "certificate verify failed", "WRONG_VERSION_NUMBER"):
        if marker.lower() in text.lower():
            return marker.lower()
    return text.splitlines()[0][:160]


def mask_password(value: str) -> str:
    """A default password named in the report: enough to recognise it, never whole."""
    if not value:
        return "(empty)"
    return value[:2] + "****"
