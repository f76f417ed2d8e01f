"""Admin consoles and object storage over HTTP: RabbitMQ management (guest/guest), Grafana (admin/admin), MinIO or
any S3 endpoint (minioadmin/minioadmin, anonymous listing). Read-only GETs, each counted against the budget."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from urllib.parse import quote, urlsplit

from ..controls.base import failed, not_applicable, passed
from . import ids
from .runtime import Resp, Session, mask_password

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def answered(s: Session, r: Resp, product: str) -> bool:
    """Whether the console answered at all (reliability.deployment-reachable either way)."""
    if r.status is None:
        s.skipped.append(f"{product} checks: {r.brief()}")
        s.add(ids.DEPLOYED, failed(f"{product} does not answer: {r.brief()}", url=r.url))
        return False
    s.add(ids.DEPLOYED, passed(f"{product} answers: {r.brief()}", url=r.url))
    return True


def _defaults_off(s: Session) -> bool:
    if s.target.default_credentials:
        return False
    s.notes.append("default-credential tries: off (default_credentials: false)")
    s.add(ids.DEFAULT_CREDS, not_applicable(f"target {s.target.name}: default-credential tries switched off"))
    return True


def _basic_try(s: Session, product: str, path: str, user: str, password: str, accepted) -> None:
    import httpx

    shown = f"{user}/{mask_password(password)}"
    s.notes.append(f"default-credential tries: {shown}")
    r = s.request("GET", path, auth=httpx.BasicAuth(user, password), cache=False,
                  note=f"as {shown}, default credentials")
    if r.status is None:
        s.skipped.append(f"{product} default credentials: {r.brief()}")
        return
    if r.status == 200 and accepted(r):
        s.add(ids.DEFAULT_CREDS, failed(f"{product} accepted the default login {shown}: {r.brief()}", url=r.url))
    elif r.status in (401, 403):
        s.add(ids.DEFAULT_CREDS, passed(f"{product} refused the default login {shown}: {r.brief()}", url=r.url))
    else:
        s.add(ids.DEFAULT_CREDS, not_applicable(f"target {s.target.name}: {product} login check inconclusive: "
                                                f"{r.brief()}"))


def probe_grafana(s: Session) -> None:
    h = s.request("GET", "/api/health")
    if not answered(s, h, "Grafana"):
        return
    if _defaults_off(s):
        return
    _basic_try(s, "Grafana", "/api/user", "admin", "admin", lambda r: '"login"' in r.text)


def probe_rabbitmq(s: Session) -> None:
    anon = s.request("GET", "/api/overview")
    if not answered(s, anon, "RabbitMQ management"):
        return
    if anon.status == 200 and '"rabbitmq_version"' in anon.text:
        s.add(ids.DATASTORE_AUTH, failed(f"RabbitMQ management answers without a login: {anon.brief()}",
                                         url=anon.url))
    elif anon.status == 401:
        s.add(ids.DATASTORE_AUTH, passed(f"RabbitMQ management asks for a login: {anon.brief()}", url=anon.url))
    if _defaults_off(s):
        return
    _basic_try(s, "RabbitMQ management", "/api/whoami", "guest", "guest", lambda r: '"name"' in r.text)


# --- S3 / MinIO ---------------------------------------------------------------------------------------

def sigv4_headers(method: str, url: str, access_key: str, secret_key: str, region: str = "us-east-1",
                  service: str = "s3", now: dt.datetime | None = None, extra: dict[str, str] | None = None,
                  payload_hash: str = EMPTY_SHA256) -> dict[str, str]:
    """AWS Signature Version 4 headers for a request without a body (what S3 and MinIO check)."""
    now = now or dt.datetime.now(dt.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    parts = urlsplit(url)
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    headers.update({k.lower(): v.strip() for k, v in (extra or {}).items()})
    signed = sorted(headers)
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in
                     sorted(tuple(q.split("=", 1)) if "=" in q else (q, "") for q in parts.query.split("&") if q))
    canonical = "\n".join([method, quote(parts.path or "/", safe="/-_.~"), query,
                           "".join(f"{h}:{headers[h]}\n" for h in signed), ";".join(signed), payload_hash])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items() if k != "host"}
    out["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, "
                            f"Signature={signature}")
    return out


def probe_s3(s: Session) -> None:
    t = s.target
    anon = s.request("GET", "/", note="ListBuckets, anonymous")
    if not answered(s, anon, "S3"):
        return
    open_listing = []
    if anon.status == 200 and "<ListAllMyBucketsResult" in anon.text:
        open_listing.append(f"anonymous ListBuckets allowed: {anon.brief()}")
    for b in t.buckets:
        r = s.request("GET", f"/{b}?list-type=2&max-keys=1", note="anonymous")
        if r.status == 200 and "<ListBucketResult" in r.text:
            open_listing.append(f"bucket {b} is listable anonymously: {r.brief()}")
    if open_listing:
        for msg in open_listing:
            s.add(ids.DATASTORE_AUTH, failed(f"S3 at {t.host}:{t.port}: {msg}", url=t.url))
    else:
        checked = "ListBuckets" + (f" and listing of {', '.join(t.buckets)}" if t.buckets else "")
        s.add(ids.DATASTORE_AUTH, passed(f"S3 at {t.host}:{t.port} refuses anonymous {checked} ({anon.brief()})",
                                         url=t.url))
    if _defaults_off(s):
        return
    shown = f"minioadmin/{mask_password('minioadmin')}"
    s.notes.append(f"default-credential tries: {shown} (signed ListBuckets)")
    url = s.url("/")
    r = s.request("GET", "/", headers=sigv4_headers("GET", url, "minioadmin", "minioadmin"), cache=False,
                  note=f"ListBuckets signed as {shown}, default credentials")
    if r.status == 200 and "<ListAllMyBucketsResult" in r.text:
        s.add(ids.DEFAULT_CREDS, failed(f"S3 at {t.host}:{t.port} accepted the MinIO default keys {shown}: "
                                        f"{r.brief()}", url=r.url))
    elif r.status in (400, 401, 403):
        s.add(ids.DEFAULT_CREDS, passed(f"S3 at {t.host}:{t.port} refused the MinIO default keys {shown}: "
                                        f"{r.brief()}", url=r.url))
    else:
        s.add(ids.DEFAULT_CREDS, not_applicable(f"target {t.name}: S3 default-key check inconclusive: {r.brief()}"))
