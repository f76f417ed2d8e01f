"""TLS checks with Python's ``ssl`` and ``cryptography``: protocol versions offered, weak cipher suites accepted,
certificate chain valid for the host name, days to expiry, weak signature or key.

Why not sslyze: sslyze is thorough (every cipher suite one by one, SSLv2/3 through its bundled legacy OpenSSL
builds in ``nassl``) but heavy for what we answer, pins ``cryptography`` and ``nassl`` to narrow ranges that
lag new Python releases, and a full scan sends hundreds of handshakes, which would blow the per-target request
budget this probe promises. The questions here need five handshakes at most: the default one, verified against
the system trust store or the target's ``ca_file`` (chain, host name, expiry), one pinned to TLS 1.0 and one to
TLS 1.1 (accepted or refused), and one offering only weak suites (NULL, anonymous, EXPORT, DES/3DES, RC4, MD5 and
static-RSA key exchange without forward secrecy). The local OpenSSL is asked for everything at security level 0
so that what it may send is not limited by this machine's policy; SSLv2/SSLv3 are compiled out of modern OpenSSL
and so are not tested (nor are they offered by any server built on it).
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
import warnings
from dataclasses import dataclass, field

from ..controls.base import failed, passed
from . import ids
from .runtime import Session

WEAK_CIPHERS = "aNULL:eNULL:EXPORT:LOW:DES:3DES:RC4:MD5:kRSA:@SECLEVEL=0"
EXPIRY_WARN_DAYS = 30
EXPIRY_FAIL_DAYS = 7


@dataclass
class TlsFacts:
    handshake_ok: bool = False
    version: str | None = None
    cipher: str | None = None
    verified: bool = False
    verify_error: str | None = None
    error: str | None = None
    legacy: dict[str, bool | None] = field(default_factory=dict)  # TLSv1 / TLSv1.1 → accepted? None: not tested
    weak_cipher: str | None = None
    weak_tested: bool = False
    cert: dict | None = None


def _connect(s: Session, ctx: ssl.SSLContext, label: str, server_name: str | None):
    t = s.target
    s.spend(label)
    t0 = time.perf_counter()
    with s.gate:
        sock = socket.create_connection((t.host, t.port), timeout=t.timeout)
        try:
            tls = ctx.wrap_socket(sock, server_hostname=server_name)
        except BaseException:
            sock.close()
            raise
    return tls, (time.perf_counter() - t0) * 1000


def _legacy_ctx(version: ssl.TLSVersion, ciphers: str = "ALL:@SECLEVEL=0",
                minimum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client that offers what a weak server might accept (deprecated versions on purpose: that is the test)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = minimum or version
        ctx.maximum_version = version
    ctx.set_ciphers(ciphers)
    return ctx


def _server_name(s: Session) -> str:
    # Python sends an IP address as no SNI, and matches it against the certificate's IP SANs
    return s.target.server_name or s.target.host


def probe_tls(s: Session) -> TlsFacts:
    t = s.target
    f = TlsFacts()
    sni = _server_name(s)
    der = None
    # 1. the default handshake, verified
    ctx = ssl.create_default_context(cafile=t.ca_file) if t.ca_file else ssl.create_default_context()
    ctx.check_hostname = True
    try:
        sock, ms = _connect(s, ctx, f"TLS handshake (verified) {t.host}:{t.port}", sni)
        with sock:
            f.handshake_ok = f.verified = True
            f.version, f.cipher = sock.version(), (sock.cipher() or (None,))[0]
            der = sock.getpeercert(binary_form=True)
        s.record(f"TLS handshake {t.host}:{t.port} (verify chain and host name)",
                 f"{f.version} {f.cipher}, certificate verified", ms)
    except ssl.SSLCertVerificationError as exc:
        f.verify_error = exc.verify_message or str(exc)
        s.record(f"TLS handshake {t.host}:{t.port} (verify chain and host name)", f"verification failed: "
                 f"{f.verify_error}")
    except (ssl.SSLError, OSError) as exc:
        f.error = _reason(exc)
        s.record(f"TLS handshake {t.host}:{t.port}", f"failed: {f.error}")
        return f
    # 2. unverified, to read the certificate the server sends when verification failed
    if der is None:
        nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        nctx.check_hostname = False
        nctx.verify_mode = ssl.CERT_NONE
        try:
            sock, ms = _connect(s, nctx, f"TLS handshake (unverified) {t.host}:{t.port}", sni)
            with sock:
                f.handshake_ok = True
                f.version, f.cipher = sock.version(), (sock.cipher() or (None,))[0]
                der = sock.getpeercert(binary_form=True)
            s.record(f"TLS handshake {t.host}:{t.port} (unverified, to read the certificate)",
                     f"{f.version} {f.cipher}", ms)
        except (ssl.SSLError, OSError) as exc:
            f.error = _reason(exc)
            s.record(f"TLS handshake {t.host}:{t.port} (unverified)", f"failed: {f.error}")
    if der:
        f.cert = describe_cert(der)
    # 3. legacy protocol versions
    for label, version in (("TLSv1", ssl.TLSVersion.TLSv1), ("TLSv1.1", ssl.TLSVersion.TLSv1_1)):
        try:
            lctx = _legacy_ctx(version)
        except (ssl.SSLError, ValueError) as exc:
            f.legacy[label] = None
            s.record(f"TLS handshake pinned to {label}", f"not tested: this machine's OpenSSL cannot ({exc})")
            continue
        f.legacy[label] = _try(s, lctx, f"TLS handshake pinned to {label} {t.host}:{t.port}", sni)
    # 4. weak cipher suites (TLS ≤ 1.2: TLS 1.3 suites are all strong)
    try:
        wctx = _legacy_ctx(ssl.TLSVersion.TLSv1_2, WEAK_CIPHERS, minimum=ssl.TLSVersion.TLSv1)
        f.weak_tested = True
        try:
            sock, ms = _connect(s, wctx, f"TLS handshake offering only weak suites {t.host}:{t.port}", sni)
            with sock:
                f.weak_cipher = (sock.cipher() or ("?",))[0]
            s.record(f"TLS handshake offering only weak suites ({WEAK_CIPHERS})", f"accepted {f.weak_cipher}", ms)
        except (ssl.SSLError, OSError) as exc:
            s.record(f"TLS handshake offering only weak suites ({WEAK_CIPHERS})", f"refused: {_reason(exc)}")
    except ssl.SSLError as exc:
        s.record("TLS handshake offering only weak suites", f"not tested: this machine's OpenSSL cannot ({exc})")
    return f


def _try(s: Session, ctx: ssl.SSLContext, label: str, sni: str | None) -> bool:
    try:
        sock, ms = _connect(s, ctx, label, sni)
        with sock:
            got = sock.version()
        s.record(label, f"accepted ({got})", ms)
        return True
    except (ssl.SSLError, OSError) as exc:
        s.record(label, f"refused: {_reason(exc)}")
        return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return (str(exc) or type(exc).__name__).splitlines()[0][:120]


def describe_cert(der: bytes) -> dict:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    key = cert.public_key()
    key_desc, weak_key = type(key).__name__, False
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        key_desc = f"{'RSA' if isinstance(key, rsa.RSAPublicKey) else 'DSA'} {key.key_size} bits"
        weak_key = key.key_size < 2048
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_desc = f"EC {key.curve.name}"
        weak_key = key.curve.key_size < 224
    algo = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "none"
    try:
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    except IndexError:
        cn = None
    try:
        issuer = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    except IndexError:
        issuer = cert.issuer.rfc4514_string()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)] + \
                [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    days = (not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    return {"subject": cn, "issuer": issuer, "names": names, "not_after": not_after.strftime("%Y-%m-%d"),
            "days_left": days, "signature": algo, "key": key_desc, "weak_key": weak_key,
            "weak_signature": algo in ("md5", "sha1")}


def tls_outcomes(s: Session, f: TlsFacts) -> None:
    t = s.target
    where = f"{t.host}:{t.port}"
    url = t.url
    if not f.handshake_ok:
        s.add(ids.TLS_CERT, failed(f"{where}: TLS handshake failed: {f.error or f.verify_error}", url=url))
        return
    c = f.cert or {}
    # certificate
    if not f.verified:
        s.add(ids.TLS_CERT, failed(f"{where}: certificate not valid for {t.server_name or t.host}: {f.verify_error}"
                                   f" (subject {c.get('subject')}, issuer {c.get('issuer')}, names "
                                   f"{', '.join(c.get('names') or []) or 'none'})", url=url))
    if c:
        days = c["days_left"]
        if days < 0:
            s.add(ids.TLS_CERT, failed(f"{where}: certificate expired on {c['not_after']}", url=url))
        elif days < EXPIRY_FAIL_DAYS:
            s.add(ids.TLS_CERT, failed(f"{where}: certificate expires in {days:.0f} days ({c['not_after']}; fail "
                                       f"under {EXPIRY_FAIL_DAYS})", url=url))
        elif f.verified:
            warn = (f"warning: renew soon, under {EXPIRY_WARN_DAYS} days; " if days < EXPIRY_WARN_DAYS else "")
            s.add(ids.TLS_CERT, passed(f"{where}: {warn}certificate for {', '.join(c['names']) or c['subject']} "
                                       f"issued by {c['issuer']} verifies, expires in {days:.0f} days "
                                       f"({c['not_after']})", url=url))
        if c["weak_signature"]:
            s.add(ids.TLS_CERT, failed(f"{where}: certificate signed with {c['signature'].upper()}", url=url))
        if c["weak_key"]:
            s.add(ids.TLS_CERT, failed(f"{where}: certificate key too small ({c['key']})", url=url))
    # protocols and ciphers
    bad = False
    if f.version in ("SSLv3", "TLSv1", "TLSv1.1"):
        bad = True
        s.add(ids.TLS_PROTOCOLS, failed(f"{where}: default handshake negotiated {f.version}", url=url))
    for label, accepted in f.legacy.items():
        if accepted:
            bad = True
            s.add(ids.TLS_PROTOCOLS, failed(f"{where}: accepts {label} (handshake pinned to {label} succeeded)",
                                            url=url))
    if f.weak_cipher:
        bad = True
        s.add(ids.TLS_PROTOCOLS, failed(f"{where}: accepts the weak cipher suite {f.weak_cipher} (offered only "
                                        "NULL/anon/EXPORT/DES/3DES/RC4/MD5/static-RSA suites)", url=url))
    if not bad:
        refused = [k for k, v in f.legacy.items() if v is False]
        untested = [k for k, v in f.legacy.items() if v is None]
        msg = f"{where}: negotiated {f.version} {f.cipher}"
        if refused:
            msg += f"; {' and '.join(refused)} refused"
        if f.weak_tested:
            msg += "; no weak cipher suite accepted"
        if untested:
            msg += f" ({', '.join(untested)} not testable from this machine)"
        s.add(ids.TLS_PROTOCOLS, passed(msg, url=url))
