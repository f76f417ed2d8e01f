"""Datastore and broker checks: PostgreSQL (psycopg 3), Redis (redis-py), Kafka and AMQP (a few raw protocol
frames). Every connection attempt counts against the target's budget; nothing is written, and no command that
changes state is ever sent: Redis' dangerous commands are judged with ``ACL DRYRUN`` (which simulates a command
for a user without running it), PostgreSQL sessions are opened read-only."""

from __future__ import annotations

import math
import os
import secrets
import socket
import ssl
import struct
import time

from ..controls.base import failed, not_applicable, passed
from . import ids
from .runtime import Session, mask_password

PG_DEFAULT_PASSWORDS = ("postgres", "password", "admin", "changeme", "root", "123456")
REDIS_DEFAULT_PASSWORDS = ("foobared", "redis", "password", "changeme", "admin")
REDIS_DANGEROUS = (("CONFIG", ("GET", "maxmemory")), ("FLUSHALL", ()), ("FLUSHDB", ()))


# --- reachability ---------------------------------------------------------------------------------

def tcp_reachable(s: Session) -> tuple[bool, str, float]:
    t = s.target
    s.spend(f"TCP connect {t.host}:{t.port}")
    t0 = time.perf_counter()
    with s.gate:
        try:
            socket.create_connection((t.host, t.port), timeout=t.timeout).close()
            ok, what = True, "connected"
        except TimeoutError:
            ok, what = False, f"timed out after {t.timeout:g} s"
        except OSError as exc:
            ok, what = False, (exc.strerror or str(exc)).lower()
    ms = (time.perf_counter() - t0) * 1000
    s.record(f"TCP connect {t.host}:{t.port}", what, ms)
    return ok, what, ms


def exposure_check(s: Session) -> bool:
    """For a target marked ``exposure: private``: reachable from here is a finding. Returns whether to go on."""
    t = s.target
    ok, what, _ = tcp_reachable(s)
    if t.exposure == "private":
        cid = ids.NOT_EXPOSED if t.kind != "http" else ids.BEHIND_PROXY
        if ok:
            s.add(cid, failed(f"{t.kind} at {t.host}:{t.port} is marked private but accepted a TCP connection from "
                              "the probe host", url=t.url))
        else:
            s.add(cid, passed(f"{t.kind} at {t.host}:{t.port} not reachable from the probe host ({what})", url=t.url))
    elif ok:
        s.add(ids.DEPLOYED, passed(f"{t.kind} at {t.host}:{t.port} accepts connections", url=t.url))
    if not ok:
        if t.exposure != "private":
            s.skipped.append(f"{t.kind} checks: {t.host}:{t.port} not reachable ({what})")
            s.add(ids.DEPLOYED, failed(f"{t.kind} at {t.host}:{t.port} is not reachable: {what}", url=t.url))
            s.add(ids.DATASTORE_AUTH, not_applicable(f"target {t.name}: {t.host}:{t.port} not reachable ({what})"))
        return False
    return True


# --- PostgreSQL -----------------------------------------------------------------------------------

def _pg_connect(s: Session, user: str, password: str, sslmode: str, label: str):
    """One login attempt. Returns (connection or None, error text or None)."""
    import psycopg

    t = s.target
    dbname = (t.url.split("/", 3)[3] if t.url.count("/") >= 3 else "") or "postgres"
    s.spend(label)
    t0 = time.perf_counter()
    with s.gate:
        try:
            conn = psycopg.connect(host=t.host, port=t.port, user=user, password=password, dbname=dbname,
                                   sslmode=sslmode, gssencmode="disable", passfile=os.devnull,
                                   connect_timeout=max(1, math.ceil(t.timeout)), application_name="prodready-probe",
                                   options="-c default_transaction_read_only=on", autocommit=True)
            err = None
        except psycopg.Error as exc:
            conn, err = None, " ".join(str(exc).split())
    ms = (time.perf_counter() - t0) * 1000
    s.record(label, "login accepted" if conn else f"refused: {_pg_reason(err)}", ms)
    return conn, err


def _pg_reason(err: str | None) -> str:
    if not err:
        return ""
    # keep the server's words, without the connection preamble
    return err.rsplit(" failed: ", 1)[-1][:200]


def _pg_logged_in(err: str | None) -> bool:
    """Authentication passed even though the connection failed afterwards (e.g. the database does not exist)."""
    return bool(err) and "does not exist" in err and "database" in err


def probe_postgres(s: Session) -> None:
    t = s.target
    user_env, pw_env = t.credentials()
    user = user_env or "postgres"
    bogus = "prodready-probe-" + secrets.token_hex(8)  # a password nobody has: accepted means no password checked
    # 1. without TLS, 2. with TLS required, each with a password nobody has: whichever reaches authentication
    # tells whether a password is checked at all; the first tells whether TLS is required, the second whether
    # it is offered
    conn, err = _pg_connect(s, user, bogus, "disable", f"PostgreSQL login {user}/(random password), sslmode=disable")
    if conn is not None:
        conn.close()
    conn2, err2 = _pg_connect(s, user, bogus, "require", f"PostgreSQL login {user}/(random password), sslmode=require")
    if conn2 is not None:
        conn2.close()
    plain_refused_for_tls = bool(err) and "no encryption" in err
    offered = conn2 is not None or not (err2 and "does not support SSL" in err2)
    trust = False
    asked = None
    for c, e in ((conn, err), (conn2, err2)):
        if c is not None or _pg_logged_in(e) or ("role" in (e or "") and "does not exist" in (e or "")):
            trust = True
        elif e and ("password authentication failed" in e or "no password supplied" in e):
            asked = asked or e
    if trust:
        s.add(ids.DATASTORE_AUTH, failed(f"PostgreSQL at {t.host}:{t.port} lets {user} in with any password "
                                         "(trust authentication): login with a random password accepted", url=t.url))
    elif asked:
        s.add(ids.DATASTORE_AUTH, passed(f"PostgreSQL at {t.host}:{t.port} checks passwords (login as {user} with a "
                                         f"random one refused: {_pg_reason(asked)})", url=t.url))
    if plain_refused_for_tls:
        s.add(ids.DB_TLS, passed(f"PostgreSQL at {t.host}:{t.port} refuses connections without TLS: "
                                 f"{_pg_reason(err)}", url=t.url))
    elif not offered:
        s.add(ids.DB_TLS, failed(f"PostgreSQL at {t.host}:{t.port} does not offer TLS (sslmode=require: "
                                 f"{_pg_reason(err2)})", url=t.url))
    else:
        s.add(ids.DB_TLS, failed(f"PostgreSQL at {t.host}:{t.port} offers TLS but accepts connections without it "
                                 "(sslmode=disable reached authentication)", url=t.url))
    # 3. default credentials
    if not t.default_credentials:
        s.notes.append("default-credential tries: off (default_credentials: false)")
        s.add(ids.DEFAULT_CREDS, not_applicable(f"target {t.name}: default-credential tries switched off"))
    elif trust:
        s.add(ids.DEFAULT_CREDS, failed(f"PostgreSQL at {t.host}:{t.port}: no password needed at all for {user}",
                                        url=t.url))
    else:
        users = list(dict.fromkeys([user, "postgres"]))
        tries = [(u, p) for u in users for p in dict.fromkeys((*PG_DEFAULT_PASSWORDS, u))]
        tried = []
        hit = None
        for u, p in tries:
            if s.remaining <= 0:
                s.skipped.append(f"default-credential tries: budget spent after {len(tried)}")
                break
            tried.append(f"{u}/{mask_password(p)}")
            c, e = _pg_connect(s, u, p, "prefer", f"PostgreSQL login {u}/{mask_password(p)} (default credentials)")
            if c is not None or _pg_logged_in(e):
                if c is not None:
                    c.close()
                hit = (u, p)
                break
        s.notes.append(f"default-credential tries: {', '.join(tried)}")
        if hit:
            s.add(ids.DEFAULT_CREDS, failed(f"PostgreSQL at {t.host}:{t.port} accepted the default login "
                                            f"{hit[0]}/{mask_password(hit[1])}", url=t.url))
        elif tried:
            s.add(ids.DEFAULT_CREDS, passed(f"PostgreSQL at {t.host}:{t.port} refused {len(tried)} default logins "
                                            f"({', '.join(tried)})", url=t.url))
    # 4. with the credentials the file names: are the application's connections encrypted?
    if user_env and pw_env and s.remaining > 0:
        c, e = _pg_connect(s, user_env, pw_env, "prefer", f"PostgreSQL login {user_env} (credentials from "
                                                          f"{t.password_env}) to read pg_stat_ssl")
        if c is not None:
            try:
                with c.cursor() as cur:
                    cur.execute("SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FROM pg_stat_ssl s "
                                "JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL "
                                "AND a.pid <> pg_backend_pid()")
                    plain, total = cur.fetchone()
                s.record("SELECT … FROM pg_stat_ssl JOIN pg_stat_activity (client connections without TLS)",
                         f"{plain} of {total} without TLS")
                if total:
                    s.add(ids.DB_TLS, (failed if plain else passed)(
                        f"pg_stat_ssl: {plain} of {total} client connections to {t.host}:{t.port} are not encrypted",
                        url=t.url))
            except Exception as exc:  # permissions on pg_stat_activity differ; never fail the probe for it
                s.record("SELECT … FROM pg_stat_ssl", f"not readable: {' '.join(str(exc).split())[:120]}")
            finally:
                c.close()


# --- Redis ----------------------------------------------------------------------------------------

def _redis(s: Session, username: str | None, password: str | None):
    import redis

    t = s.target
    kw = {}
    if t.scheme == "rediss":
        kw = {"ssl": True, "ssl_cert_reqs": "required" if t.ca_file else "none", "ssl_ca_certs": t.ca_file,
              "ssl_check_hostname": False}
    db = 0
    try:
        db = int((t.url.split("/", 3)[3] if t.url.count("/") >= 3 else "0") or 0)
    except ValueError:
        db = 0
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # no automatic retries: every command sent is one the budget counted
    r = redis.Redis(host=t.host, port=t.port, db=db, username=username, password=password,
                    socket_timeout=t.timeout, socket_connect_timeout=t.timeout, decode_responses=True,
                    retry=Retry(NoBackoff(), 0), protocol=2, **kw)
    for name in ("COMMAND", "ACL", "CONFIG"):
        r.set_response_callback(name, lambda x, **_: x)
    return r


def _redis_cmd(s: Session, r, label: str, *args):
    """Run one read-only command; returns (reply, error text)."""
    import redis

    s.spend(f"Redis {label}")
    t0 = time.perf_counter()
    with s.gate:
        try:
            out, err = r.execute_command(*args), None
        except redis.RedisError as exc:
            out, err = None, " ".join(str(exc).split()) or type(exc).__name__
    s.record(f"Redis {label}", f"error: {err}" if err else f"reply: {str(out)[:100]}", (time.perf_counter() - t0) * 1000)
    return out, err


def probe_redis(s: Session) -> None:
    t = s.target
    where = f"Redis at {t.host}:{t.port}"
    anon = _redis(s, None, None)
    try:
        out, err = _redis_cmd(s, anon, "PING (no AUTH)", "PING")
    finally:
        anon.close()
    no_auth = err is None
    if no_auth:
        s.add(ids.DATASTORE_AUTH, failed(f"{where} answers without AUTH: PING → {out}", url=t.url))
    elif "NOAUTH" in err or "Authentication required" in err or "AUTH" in err.upper():
        s.add(ids.DATASTORE_AUTH, passed(f"{where} requires AUTH: PING without credentials → {err}", url=t.url))
    else:
        s.add(ids.DATASTORE_AUTH, failed(f"{where}: PING without credentials → {err}", url=t.url, confidence="low"))
    account: tuple[str | None, str | None] | None = (None, None) if no_auth else None
    user_env, pw_env = t.credentials()
    if pw_env:
        account = (user_env, pw_env)
    # default passwords
    if not t.default_credentials:
        s.notes.append("default-credential tries: off (default_credentials: false)")
        s.add(ids.DEFAULT_CREDS, not_applicable(f"target {t.name}: default-credential tries switched off"))
    elif no_auth:
        s.add(ids.DEFAULT_CREDS, failed(f"{where}: no password at all (PING answered without AUTH)", url=t.url))
    else:
        tried, hit = [], None
        for pw in REDIS_DEFAULT_PASSWORDS:
            if s.remaining <= 0:
                s.skipped.append(f"default-credential tries: budget spent after {len(tried)}")
                break
            tried.append(mask_password(pw))
            c = _redis(s, None, pw)
            try:
                _, e = _redis_cmd(s, c, f"PING with AUTH {mask_password(pw)} (default password)", "PING")
            finally:
                c.close()
            if e is None:
                hit = pw
                break
        s.notes.append(f"default-credential tries: AUTH {', '.join(tried)}")
        if hit:
            s.add(ids.DEFAULT_CREDS, failed(f"{where} accepted the default password {mask_password(hit)}", url=t.url))
            account = account or (None, hit)
        elif tried:
            s.add(ids.DEFAULT_CREDS, passed(f"{where} refused {len(tried)} default passwords ({', '.join(tried)})",
                                            url=t.url))
    # dangerous commands, judged without running them
    if account is None:
        s.add(ids.REDIS_COMMANDS, not_applicable(f"target {t.name}: AUTH required and no credentials given "
                                                 "(password_env): cannot see what a client may run"))
        return
    _redis_dangerous(s, _redis(s, *account), where)


def _redis_dangerous(s: Session, r, where: str) -> None:
    t = s.target
    try:
        names = [c for c, _ in REDIS_DANGEROUS]
        info, err = _redis_cmd(s, r, f"COMMAND INFO {' '.join(names)}", "COMMAND", "INFO", *names)
        present = names if err or not isinstance(info, list) else [n for n, i in zip(names, info, strict=False) if i]
        renamed = [n for n in names if n not in present]
        who, werr = _redis_cmd(s, r, "ACL WHOAMI", "ACL", "WHOAMI")
        callable_, denied, unknown = [], [], []
        if werr and "unknown" in werr.lower():  # Redis < 6: no ACLs, every present command is callable
            callable_ = present
        else:
            for name, args in REDIS_DANGEROUS:
                if name not in present:
                    continue
                out, e = _redis_cmd(s, r, f"ACL DRYRUN {who} {name} {' '.join(args)}".strip(), "ACL", "DRYRUN",
                                    who or "default", name, *args)
                if e is not None:  # the account may not run ACL DRYRUN itself
                    unknown.append(name)
                elif str(out).upper() == "OK":
                    callable_.append(name)
                else:  # DRYRUN's answer: "This user has no permissions to run the '...' command"
                    denied.append(name)
            if unknown and "CONFIG" in unknown:
                # ACL DRYRUN itself is denied to this account: CONFIG GET of one harmless setting answers whether
                # CONFIG is callable; it reads, never writes
                out, e = _redis_cmd(s, r, "CONFIG GET maxmemory (read-only)", "CONFIG", "GET", "maxmemory")
                unknown.remove("CONFIG")
                (denied if e else callable_).append("CONFIG")
        url = t.url
        acct = f"account {who}" if who else "the default account"
        if callable_:
            s.add(ids.REDIS_COMMANDS, failed(f"{where}: {acct} may run {', '.join(callable_)} (ACL DRYRUN → OK)",
                                             url=url))
        else:
            bits = []
            if renamed:
                bits.append(f"{', '.join(renamed)} renamed or disabled (COMMAND INFO → nil)")
            if denied:
                bits.append(f"{', '.join(denied)} denied to {acct} by ACL")
            if unknown:
                bits.append(f"{', '.join(unknown)} not verifiable (the account may not run ACL DRYRUN)")
            s.add(ids.REDIS_COMMANDS, passed(f"{where}: " + "; ".join(bits), url=url,
                                             confidence="medium" if unknown else "high"))
    finally:
        r.close()


# --- Kafka ----------------------------------------------------------------------------------------

def _kafka_request(api_key: int, version: int, corr: int, body: bytes = b"") -> bytes:
    client = b"prodready-probe"
    payload = struct.pack(">hhih", api_key, version, corr, len(client)) + client + body
    return struct.pack(">i", len(payload)) + payload


def _recv_exact(sock, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        buf += chunk
    return buf


def kafka_exchange(sock, api_key: int, corr: int, body: bytes = b"") -> bytes:
    sock.sendall(_kafka_request(api_key, 0, corr, body))
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    if not 4 <= size <= 1 << 20:
        raise ConnectionError(f"not a Kafka response (size {size})")
    data = _recv_exact(sock, size)
    if struct.unpack(">i", data[:4])[0] != corr:
        raise ConnectionError("not a Kafka response (correlation id)")
    return data[4:]


def parse_api_versions(data: bytes) -> tuple[int, int]:
    """ApiVersions v0 response body → (error code, number of APIs)."""
    err, n = struct.unpack(">hi", data[:6])
    return err, n


def _kafka_socket(s: Session, use_tls: bool, label: str):
    t = s.target
    s.spend(label)
    with s.gate:
        sock = socket.create_connection((t.host, t.port), timeout=t.timeout)
        if use_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                sock = ctx.wrap_socket(sock, server_hostname=t.server_name or t.host)
            except BaseException:
                sock.close()
                raise
    return sock


def probe_kafka(s: Session) -> None:
    t = s.target
    where = f"Kafka listener {t.host}:{t.port}"
    transport = None
    order = [True, False] if t.tls else [False, True]
    for use_tls in order:
        label = f"Kafka ApiVersions v0 over {'TLS' if use_tls else 'plain TCP'} to {t.host}:{t.port}"
        try:
            sock = _kafka_socket(s, use_tls, label)
            with sock:
                err, n = parse_api_versions(kafka_exchange(sock, 18, 1))
            s.record(label, f"answered: error code {err}, {n} APIs")
            transport = use_tls
            break
        except (OSError, ConnectionError, struct.error, ssl.SSLError) as exc:
            s.record(label, f"no Kafka answer: {exc}")
    if transport is None:
        s.add(ids.BROKER_TLS, not_applicable(f"target {t.name}: no Kafka ApiVersions answer over plain TCP or TLS"))
        s.skipped.append("Kafka checks: the listener did not answer ApiVersions")
        return
    if transport:
        s.add(ids.BROKER_TLS, passed(f"{where} speaks Kafka over TLS (ApiVersions answered after a TLS handshake)",
                                     url=t.url))
    else:
        s.add(ids.BROKER_TLS, failed(f"{where} speaks Kafka in plain text (ApiVersions v0 answered without TLS)",
                                     url=t.url))
    # Metadata before any SASL handshake: a SASL listener closes the connection, an open one answers
    label = f"Kafka Metadata v0 without SASL to {t.host}:{t.port}"
    try:
        sock = _kafka_socket(s, transport, label)
        with sock:
            data = kafka_exchange(sock, 3, 2, struct.pack(">i", 0))
        brokers = struct.unpack(">i", data[:4])[0] if len(data) >= 4 else 0
        s.record(label, f"answered: {brokers} broker(s) listed")
        s.add(ids.DATASTORE_AUTH, failed(f"{where} answers Metadata without authentication ({brokers} broker(s) "
                                         "listed): no SASL", url=t.url))
    except (OSError, ConnectionError, struct.error, ssl.SSLError) as exc:
        s.record(label, f"refused: {exc}")
        s.add(ids.DATASTORE_AUTH, passed(f"{where} closes the connection on Metadata before SASL authentication "
                                         f"({exc})", url=t.url))


# --- AMQP (RabbitMQ protocol port) ----------------------------------------------------------------

def _amqp_frame(sock) -> tuple[int, bytes]:
    head = _recv_exact(sock, 7)
    ftype, _chan, size = struct.unpack(">BHI", head)
    payload = _recv_exact(sock, size)
    if _recv_exact(sock, 1) != b"\xce":
        raise ConnectionError("bad AMQP frame end")
    return ftype, payload


def _shortstr(v: bytes) -> bytes:
    return struct.pack(">B", len(v)) + v


def amqp_login(sock, user: str, password: str) -> tuple[bool, str]:
    """AMQP 0-9-1 handshake up to Connection.Tune (login accepted) or a close (refused)."""
    sock.sendall(b"AMQP\x00\x00\x09\x01")
    ftype, payload = _amqp_frame(sock)
    cls, meth = struct.unpack(">HH", payload[:4])
    if (ftype, cls, meth) != (1, 10, 10):
        raise ConnectionError("not an AMQP 0-9-1 Connection.Start")
    response = b"\x00" + user.encode() + b"\x00" + password.encode()
    args = struct.pack(">I", 0) + _shortstr(b"PLAIN") + struct.pack(">I", len(response)) + response + \
        _shortstr(b"en_US")
    method = struct.pack(">HH", 10, 11) + args
    sock.sendall(struct.pack(">BHI", 1, 0, len(method)) + method + b"\xce")
    try:
        ftype, payload = _amqp_frame(sock)
    except ConnectionError:
        return False, "connection closed"
    cls, meth = struct.unpack(">HH", payload[:4])
    if (cls, meth) == (10, 30):
        return True, "Connection.Tune (login accepted)"
    if (cls, meth) == (10, 50):
        code = struct.unpack(">H", payload[4:6])[0]
        text = payload[7:7 + payload[6]].decode("utf-8", "replace")
        return False, f"Connection.Close {code} {text}"
    return False, f"method {cls}.{meth}"


def probe_amqp(s: Session) -> None:
    t = s.target
    where = f"AMQP at {t.host}:{t.port}"
    if t.tls:
        s.add(ids.BROKER_TLS, passed(f"{where}: amqps:// (TLS) listener", url=t.url, confidence="medium"))
    else:
        s.add(ids.BROKER_TLS, failed(f"{where}: amqp:// listener without TLS", url=t.url, confidence="medium"))
    if not t.default_credentials:
        s.notes.append("default-credential tries: off (default_credentials: false)")
        s.add(ids.DEFAULT_CREDS, not_applicable(f"target {t.name}: default-credential tries switched off"))
        return
    label = f"AMQP login guest/{mask_password('guest')} (default credentials)"
    s.notes.append(f"default-credential tries: guest/{mask_password('guest')}")
    try:
        s.spend(label)
        with s.gate:
            sock = socket.create_connection((t.host, t.port), timeout=t.timeout)
            if t.tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                sock = ctx.wrap_socket(sock, server_hostname=t.host)
            with sock:
                ok, what = amqp_login(sock, "guest", "guest")
        s.record(label, what)
    except (OSError, ConnectionError, struct.error) as exc:
        s.record(label, f"no AMQP answer: {exc}")
        return
    if ok:
        s.add(ids.DEFAULT_CREDS, failed(f"{where} accepted the default login guest/{mask_password('guest')}",
                                        url=t.url))
    else:
        s.add(ids.DEFAULT_CREDS, passed(f"{where} refused guest/{mask_password('guest')}: {what}", url=t.url))
