"""Real servers on loopback for the probe tests: nginx, PostgreSQL and Redis from Debian's packages, ASGI apps under
uvicorn, a certificate authority made with ``cryptography``. Each helper starts a process on a free 127.0.0.1 port
and stops exactly that process (by its pid) when done.

Three stand-ins are not the real products, which are not installed here: a Kafka listener that answers the two
protocol requests the probe sends (ApiVersions v0, Metadata v0) as the Kafka protocol guide specifies, an AMQP
0-9-1 listener that answers the login handshake as RabbitMQ does, and an ASGI app answering Grafana's, RabbitMQ
management's and S3's documented login endpoints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {LOOPBACK}:{port} after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def shared_tmpdir(prefix: str) -> Path:
    """A temporary folder other users can read (nginx workers and PostgreSQL run unprivileged)."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    return d


# --- binaries -------------------------------------------------------------------------------------------

def nginx_bin() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)


def redis_bin() -> str | None:
    return shutil.which("redis-server") or next((p for p in ("/usr/bin/redis-server",) if os.path.exists(p)), None)


def pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None


# --- a certificate authority ------------------------------------------------------------------------------

@dataclass
class CA:
    key: object
    cert: object
    pem_path: Path

    def issue(self, folder: Path, name: str, dns: list[str], ips: list[str], days: float = 90,
              not_before_days: float = 1, rsa_bits: int = 2048) -> tuple[Path, Path]:
        """A server certificate (RSA, so static-RSA suites can be offered by the weak servers) signed by this CA;
        returns (full chain PEM, key PEM)."""
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        now = dt.datetime.now(dt.UTC)
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0] if dns else ips[0])]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=not_before_days))
                .not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))
        chain = folder / f"{name}.pem"
        keyfile = folder / f"{name}.key"
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) +
                          self.cert.public_bytes(serialization.Encoding.PEM))
        keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        keyfile.chmod(0o600)
        return chain, keyfile


def make_ca(folder: Path) -> CA:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prodready test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    pem = folder / "ca.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CA(key, cert, pem)


# --- nginx ------------------------------------------------------------------------------------------------

INDEX_HTML = "<!doctype html><html><head><title>shop</title></head><body>" + \
    "".join(f"<p>Product {i}: a sturdy thing you will want to buy today.</p>" for i in range(60)) + "</body></html>"

NGINX_COMMON = """
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  types {{ text/html html; text/plain txt; application/json json; }}
  default_type application/octet-stream;
  {http}
}}
"""

# plain HTTP only; no security headers, no redirect, versions shown (server_tokens defaults to on), no gzip,
# no rate limit, a .env in the web root and a status page open to all
NGINX_WEAK = """
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location = /healthz {{ default_type text/plain; return 200 "ok\\n"; }}
    location = /server-status {{ stub_status; }}
    location / {{ try_files $uri $uri/ =404; }}
  }}
"""

# HTTPS with a certificate from the test CA, TLS 1.2+ with strong suites, every security header, plain HTTP
# redirected, no versions, gzip, a rate limit (429) on the API, hidden files denied
NGINX_HARDENED = """
  server_tokens off;
  gzip on; gzip_min_length 256; gzip_types text/plain application/json text/css;
  limit_req_zone $binary_remote_addr zone=api:1m rate=2r/s;
  server {{
    listen 127.0.0.1:{http_port};
    return 301 https://localhost:{port}$request_uri;
  }}
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name localhost;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305;
    root {d}/www;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;
    location ~ /\\. {{ deny all; }}
    location = /healthz {{ default_type text/plain; return 200 "ok\\n"; }}
    location /api/ {{
      limit_req zone=api burst=15 nodelay;
      limit_req_status 429;
      default_type application/json;
      try_files $uri =404;  # a file, not `return`: return ends the request before limit_req runs
    }}
    location / {{ try_files $uri $uri/ =404; }}
  }}
"""

# HTTPS offering TLS 1.0/1.1 and static-RSA suites, with a certificate for another name that expires in 3 days
NGINX_LEGACY_TLS = """
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
    ssl_ciphers "ALL:@SECLEVEL=0";
    root {d}/www;
    server_tokens off;
    location = /healthz {{ default_type text/plain; return 200 "ok\\n"; }}
  }}
"""


@dataclass
class Server:
    port: int
    proc: subprocess.Popen | None
    folder: Path
    extra: dict

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@contextlib.contextmanager
def nginx(kind: str, ca: CA | None = None):
    """kind: weak | hardened | legacy-tls."""
    binary = nginx_bin()
    d = shared_tmpdir(f"prodready-nginx-{kind}-")
    try:
        for sub in ("tmp", "www", "www/.git"):  # nginx creates its temp folders below tmp/
            (d / sub).mkdir(exist_ok=True)
            (d / sub).chmod(0o755)
        (d / "www" / "index.html").write_text(INDEX_HTML)
        (d / "www" / "api").mkdir()
        (d / "www" / "api" / "ping").write_text('{"ok": true}\n')
        (d / "www" / ".env").write_text("DATABASE_URL=postgres://shop@db/shop\nSECRET_KEY=not-for-real\n")
        (d / "www" / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
        for f in (d / "www").rglob("*"):
            f.chmod(0o755 if f.is_dir() else 0o644)
        port, http_port = free_port(), free_port()
        extra: dict = {"http_port": http_port}
        if kind == "weak":
            http = NGINX_WEAK.format(d=d, port=port)
        elif kind == "hardened":
            assert ca is not None
            cert, key = ca.issue(d, "server", ["localhost"], [LOOPBACK], days=90)
            http = NGINX_HARDENED.format(d=d, port=port, http_port=http_port, cert=cert, key=key)
        elif kind == "legacy-tls":
            assert ca is not None
            cert, key = ca.issue(d, "server", ["legacy.other.example"], [], days=3)
            http = NGINX_LEGACY_TLS.format(d=d, port=port, cert=cert, key=key)
        else:
            raise ValueError(kind)
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the keys in this private folder
        conf = d / "nginx.conf"
        conf.write_text(user + NGINX_COMMON.format(d=d, http=http))
        proc = subprocess.Popen([binary, "-p", str(d), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_port(port, proc)
            yield Server(port, proc, d, extra)
        finally:
            stop(proc)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- PostgreSQL ---------------------------------------------------------------------------------------------

def _as_postgres_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as nobody then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--", *cmd]
    return cmd


@contextlib.contextmanager
def postgres(kind: str, password: str, ca: CA | None = None):
    """kind: weak (password auth, no TLS) | hardened (TLS required, scram) | trust (no password needed)."""
    bindir = pg_bindir()
    d = shared_tmpdir(f"prodready-pg-{kind}-")
    data = d / "data"
    try:
        pwfile = d / "pw"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o644)
        if os.geteuid() == 0:
            shutil.chown(d, "nobody")
        subprocess.run(_as_postgres_user([f"{bindir}/initdb", "-D", str(data), "-U", "postgres",
                                          f"--pwfile={pwfile}", "-A", "trust" if kind == "trust" else "scram-sha-256",
                                          "-N", "--no-instructions"]),
                       check=True, capture_output=True, text=True)
        port = free_port()
        conf = [f"port = {port}", f"listen_addresses = '{LOOPBACK}'", f"unix_socket_directories = '{d}'",
                "fsync = off", "shared_buffers = 16MB", "max_connections = 40"]
        hba = data / "pg_hba.conf"
        if kind == "hardened":
            assert ca is not None
            cert, key = ca.issue(d, "server", ["localhost"], [LOOPBACK])
            if os.geteuid() == 0:
                for f in (cert, key):
                    shutil.chown(f, "nobody")
            conf += ["ssl = on", f"ssl_cert_file = '{cert}'", f"ssl_key_file = '{key}'",
                     "ssl_min_protocol_version = 'TLSv1.2'"]
            hba.write_text("local all all scram-sha-256\n"
                           f"hostssl all all {LOOPBACK}/32 scram-sha-256\n"
                           f"hostnossl all all {LOOPBACK}/32 reject\n")
        with open(data / "postgresql.conf", "a") as fh:
            fh.write("\n" + "\n".join(conf) + "\n")
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "nobody", str(data)], check=True)
        log = d / "log"
        start = subprocess.run(_as_postgres_user([f"{bindir}/pg_ctl", "-D", str(data), "-l", str(log), "-w",
                                                  "-t", "30", "start"]), capture_output=True, text=True)
        if start.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {start.stdout}{start.stderr}"
                               f"{log.read_text() if log.exists() else ''}")
        try:
            wait_port(port)
            yield Server(port, None, d, {"password": password})
        finally:
            subprocess.run(_as_postgres_user([f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "-w",
                                              "stop"]), capture_output=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- Redis ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def redis_server(kind: str, password: str | None = None):
    """kind: open (no AUTH) | requirepass (a password for the default user) | acl (default user off, an app user
    without dangerous commands)."""
    binary = redis_bin()
    d = shared_tmpdir(f"prodready-redis-{kind}-")
    try:
        port = free_port()
        lines = [f"port {port}", f"bind {LOOPBACK}", "save \"\"", "appendonly no", f"dir {d}", "daemonize no",
                 "protected-mode no", "loglevel warning"]
        if kind == "requirepass":
            lines.append(f"requirepass {password}")
        elif kind == "acl":
            lines += ["user default off", f"user app on >{password} ~* &* +@all -@dangerous"]
        conf = d / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        proc = subprocess.Popen([binary, str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_port(port, proc)
            yield Server(port, proc, d, {"password": password})
        finally:
            stop(proc)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- ASGI apps under uvicorn ----------------------------------------------------------------------------------

def _weak_app():
    """Debug mode on (tracebacks in 500 pages), CORS reflecting any origin with credentials, no rate limit."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def healthz(request):
        return JSONResponse({"status": "ok"})

    async def orders(request):
        raise RuntimeError("could not connect to the orders database at db.internal:5432")

    return Starlette(debug=True, routes=[Route("/healthz", healthz), Route("/api/orders", orders)],
                     middleware=[Middleware(CORSMiddleware, allow_origin_regex=".*", allow_credentials=True,
                                            allow_methods=["*"], allow_headers=["*"])])


class FixedWindowLimit:
    """A minimal rate limiter: N requests per client per window, then 429 with Retry-After."""

    def __init__(self, app, limit: int = 40, window: float = 60.0) -> None:
        self.app, self.limit, self.window = app, limit, window
        self.hits: dict[str, list[float]] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("?", 0))[0]
        now = time.monotonic()
        recent = [t for t in self.hits.get(client, []) if now - t < self.window]
        recent.append(now)
        self.hits[client] = recent
        if len(recent) > self.limit:
            from starlette.responses import JSONResponse

            resp = JSONResponse({"detail": "too many requests"}, status_code=429,
                                headers={"Retry-After": str(int(self.window))})
            return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


def _hardened_app():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def healthz(request):
        return JSONResponse({"status": "ok"})

    async def orders(request):
        return JSONResponse([{"id": 1, "total": "12.50"}])

    return Starlette(debug=False, routes=[Route("/healthz", healthz), Route("/api/orders", orders)],
                     middleware=[Middleware(FixedWindowLimit),
                                 Middleware(CORSMiddleware, allow_origins=["https://shop.example.com"],
                                            allow_methods=["GET"])])


def _console_app():
    """Grafana, RabbitMQ management and S3 login endpoints, Prometheus' targets API and Loki's query API as their
    documentation describes them. PROBE_CONSOLE_MODE=defaults keeps the vendor default accounts, a scrape target
    down and the audit log stream silent; anything else is the healthy state."""
    import base64

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    defaults = os.environ.get("PROBE_CONSOLE_MODE") == "defaults"

    def basic(request) -> tuple[str, str] | None:
        h = request.headers.get("authorization", "")
        if not h.lower().startswith("basic "):
            return None
        user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        return user, pw

    async def grafana_health(request):
        return JSONResponse({"commit": "abc", "database": "ok", "version": "10.4.0"})

    async def grafana_user(request):
        if defaults and basic(request) == ("admin", "admin"):
            return JSONResponse({"id": 1, "login": "admin", "isGrafanaAdmin": True})
        return JSONResponse({"message": "Unauthorized"}, status_code=401)

    async def rabbit_overview(request):
        return JSONResponse({"error": "not_authorized", "reason": "Not management user"}, status_code=401)

    async def rabbit_whoami(request):
        if defaults and basic(request) == ("guest", "guest"):
            return JSONResponse({"name": "guest", "tags": ["administrator"]})
        return JSONResponse({"error": "not_authorized", "reason": "Login failed"}, status_code=401)

    async def s3_root(request):
        auth = request.headers.get("authorization", "")
        if defaults and "Credential=minioadmin/" in auth and "Signature=" in auth:
            return Response('<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult><Buckets>'
                            "<Bucket><Name>orders</Name></Bucket></Buckets></ListAllMyBucketsResult>",
                            media_type="application/xml")
        code = "InvalidAccessKeyId" if auth else "AccessDenied"
        return Response(f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code></Error>', status_code=403,
                        media_type="application/xml")

    async def s3_bucket(request):
        if defaults and request.path_params["bucket"] == "public-assets":
            return Response('<?xml version="1.0"?><ListBucketResult><Name>public-assets</Name></ListBucketResult>',
                            media_type="application/xml")
        return Response('<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', status_code=403,
                        media_type="application/xml")

    async def prom_targets(request):
        targets = [{"labels": {"job": "shop-api", "instance": "api:8000"}, "health": "up", "lastError": ""},
                   {"labels": {"job": "postgres-exporter", "instance": "pg-exporter:9187"},
                    "health": "down" if defaults else "up",
                    "lastError": 'Get "http://pg-exporter:9187/metrics": dial tcp: connection refused' if defaults
                    else ""}]
        return JSONResponse({"status": "success", "data": {"activeTargets": targets, "droppedTargets": []}})

    async def loki_ready(request):
        return Response("ready\n")

    async def loki_query(request):
        selector = request.query_params.get("query", "")
        flowing = "audit" not in selector or not defaults  # in "defaults" mode the audit stream is silent
        result = [{"stream": {"app": "shop-api"}, "values": [["1700000000000000000", "GET /healthz 200"]]}] \
            if flowing else []
        return JSONResponse({"status": "success", "data": {"resultType": "streams", "result": result}})

    return Starlette(routes=[Route("/prom/api/v1/targets", prom_targets), Route("/loki/ready", loki_ready),
                             Route("/loki/loki/api/v1/query_range", loki_query),
                             Route("/grafana/api/health", grafana_health), Route("/grafana/api/user", grafana_user),
                             Route("/rabbit/api/overview", rabbit_overview), Route("/rabbit/api/whoami", rabbit_whoami),
                             Route("/", s3_root), Route("/{bucket}", s3_bucket)])


def weak_app():  # uvicorn --factory targets
    return _weak_app()


def hardened_app():
    return _hardened_app()


def console_app():
    return _console_app()


@contextlib.contextmanager
def uvicorn_app(name: str, env: dict[str, str] | None = None):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", f"probe_servers:{name}_app",
                             "--app-dir", str(HERE), "--host", LOOPBACK, "--port", str(port), "--log-level",
                             "warning", "--no-access-log"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    try:
        wait_port(port, proc)
        yield Server(port, proc, HERE, {})
    finally:
        stop(proc)


# --- a Kafka listener stand-in ------------------------------------------------------------------------------

class _KafkaHandler(socketserver.BaseRequestHandler):
    sasl = False

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(5)
        if hasattr(sock, "do_handshake"):
            try:
                sock.do_handshake()
            except (OSError, ValueError):
                return
        while True:
            head = _read(sock, 4)
            if head is None:
                return
            size = struct.unpack(">i", head)[0]
            body = _read(sock, size)
            if body is None:
                return
            api_key, _version, corr = struct.unpack(">hhi", body[:8])
            if api_key == 18:  # ApiVersions v0: error 0, [ (api_key, min, max) ]
                apis = [(0, 0, 9), (1, 0, 13), (3, 0, 12), (17, 0, 1), (18, 0, 3), (36, 0, 2)]
                payload = struct.pack(">ihi", corr, 0, len(apis)) + b"".join(struct.pack(">hhh", *a) for a in apis)
            elif api_key == 3 and not self.sasl:  # Metadata v0: one broker, no topics
                host = b"127.0.0.1"
                payload = struct.pack(">ii", corr, 1) + struct.pack(">ih", 0, len(host)) + host + \
                    struct.pack(">i", self.server.server_address[1]) + struct.pack(">i", 0)
            else:  # a SASL listener closes the connection on anything but ApiVersions/SaslHandshake first
                return
            sock.sendall(struct.pack(">i", len(payload)) + payload)


def _read(sock, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


@contextlib.contextmanager
def kafka_listener(sasl: bool, ca: CA | None = None):
    """A listener speaking just enough Kafka: PLAINTEXT, SASL_PLAINTEXT, or with ``ca`` SSL / SASL_SSL."""
    import ssl

    handler = type("Handler", (_KafkaHandler,), {"sasl": sasl})
    folder = shared_tmpdir("prodready-kafka-") if ca else None
    ctx = None
    if ca is not None:
        cert, key = ca.issue(folder, "kafka", ["localhost"], [LOOPBACK])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

    class Listener(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

        def get_request(self):
            sock, addr = super().get_request()
            if ctx is not None:  # the handshake happens in the handler's thread
                sock = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            return sock, addr

    server = Listener((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(server.server_address[1], None, HERE, {})
    finally:
        server.shutdown()
        server.server_close()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


# --- an AMQP 0-9-1 listener stand-in (RabbitMQ's protocol port) -----------------------------------------------

class _AmqpHandler(socketserver.BaseRequestHandler):
    guest = False

    def handle(self) -> None:
        sock = self.request
        sock.settimeout(5)
        if _read(sock, 8) != b"AMQP\x00\x00\x09\x01":
            return
        start = struct.pack(">HHBB", 10, 10, 0, 9) + struct.pack(">I", 0) + \
            struct.pack(">I", 14) + b"PLAIN AMQPLAIN" + struct.pack(">I", 5) + b"en_US"
        sock.sendall(struct.pack(">BHI", 1, 0, len(start)) + start + b"\xce")
        head = _read(sock, 7)
        if head is None:
            return
        _, _, size = struct.unpack(">BHI", head)
        payload = _read(sock, size + 1)
        if payload is None:
            return
        pos = 4
        pos += 4 + struct.unpack(">I", payload[pos:pos + 4])[0]  # client properties
        pos += 1 + payload[pos]  # mechanism
        rlen = struct.unpack(">I", payload[pos:pos + 4])[0]
        response = payload[pos + 4:pos + 4 + rlen]
        if self.guest and response == b"\x00guest\x00guest":
            method = struct.pack(">HHHIH", 10, 30, 2047, 131072, 60)  # Connection.Tune
        else:
            text = b"ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"
            method = struct.pack(">HHH", 10, 50, 403) + bytes([len(text)]) + text + struct.pack(">HH", 0, 0)
        sock.sendall(struct.pack(">BHI", 1, 0, len(method)) + method + b"\xce")


@contextlib.contextmanager
def amqp_listener(guest: bool):
    """Speaks AMQP 0-9-1 up to the login answer: Connection.Tune when guest/guest is accepted, else Close 403."""
    handler = type("Handler", (_AmqpHandler,), {"guest": guest})
    server = socketserver.ThreadingTCPServer((LOOPBACK, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(server.server_address[1], None, HERE, {})
    finally:
        server.shutdown()
        server.server_close()


def write_targets(folder: Path, text: str) -> Path:
    p = folder / "targets.yaml"
    p.write_text(text)
    return p


# --- running the probe and reading its verdicts ----------------------------------------------------------------

def run_targets(folder: Path, text: str):
    from prodready.probe import load_targets, run_probe

    return run_probe(load_targets(write_targets(folder, text)))


def verdicts(run) -> dict[str, dict[str, set[str]]]:
    """target name → control id → statuses its live outcomes had."""
    out: dict[str, dict[str, set[str]]] = {}
    for cid, outcomes in run.live.items():
        for o in outcomes:
            if o.resource and o.resource.startswith("target "):
                out.setdefault(o.resource[len("target "):], {}).setdefault(cid, set()).add(o.status)
    return out


def failing(run, target: str) -> set[str]:
    return {cid for cid, st in verdicts(run).get(target, {}).items() if "fail" in st}


def passing(run, target: str) -> set[str]:
    return {cid for cid, st in verdicts(run).get(target, {}).items() if st == {"pass"}}


def messages(run, target: str, cid: str, status: str = "fail") -> list[str]:
    return [o.message for o in run.live.get(cid, []) if o.resource == f"target {target}" and o.status == status]


def target_summary(run, target: str) -> dict:
    return next(t for t in run.summary["targets"] if t["name"] == target)
