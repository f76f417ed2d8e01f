"""Live-only controls: what only the running deployment can show (headers on the wire, TLS offered, logins a
datastore accepts). Their static side has nothing to read, so without a probe each is ``not_applicable``;
``prodready probe`` and ``prodready scan PATH --targets targets.yaml`` supply the verdict (``src/prodready/probe/``
does the requests, these functions only hold the metadata and the static answer).
"""

from __future__ import annotations

from .base import control, not_applicable

NEEDS_PROBE = "needs a live probe: run with --targets"
LIVE = {"evidence": ["live"], "verifiability": "live", "needs_probe": True, "concepts": []}


def _no_probe(_p):
    yield not_applicable(NEEDS_PROBE)


control(
    id="security.https-redirect", title="Plain HTTP redirects to HTTPS", category="security", severity="medium",
    **LIVE,
    rationale="A site that still answers on plain HTTP lets anyone on the path read and change the page, steal "
              "cookies without the Secure flag and strip the upgrade to HTTPS; a permanent redirect sends every "
              "client to TLS before anything is exchanged.",
    remediation="nginx:\nserver {\n    listen 80;\n    server_name shop.example.com;\n"
                "    return 301 https://$host$request_uri;\n}\n"
                "Kubernetes ingress-nginx: `nginx.ingress.kubernetes.io/ssl-redirect: \"true\"` (default with tls:).",
    references=["OWASP ASVS 9.1.1", "Mozilla Web Security Guidelines: HTTP redirections"],
    checklist=["security.tls_enabled"],
    phrases=["redirect HTTP to HTTPS", "force HTTPS", "HTTPS only"],
)(_no_probe)

control(
    id="security.tls-protocols", title="TLS 1.2 or newer only, no weak cipher suites", category="security",
    severity="high", **LIVE,
    rationale="TLS 1.0 and 1.1 are deprecated (RFC 8996) and weak suites (RC4, 3DES, export, NULL, static RSA "
              "without forward secrecy) let a recorded session be decrypted later or broken outright; compliance "
              "regimes (PCI DSS) forbid them.",
    remediation="nginx:\nssl_protocols TLSv1.2 TLSv1.3;\n"
                "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;\n"
                "ssl_prefer_server_ciphers off;\n(Mozilla SSL Configuration Generator, 'intermediate').",
    references=["RFC 8996", "Mozilla Server Side TLS guidelines", "NIST SP 800-52r2", "testssl.sh"],
    checklist=["security.tls_enabled"],
    phrases=["TLS 1.2 minimum", "disable TLS 1.0", "strong ciphers", "SSL configuration"],
)(_no_probe)

control(
    id="security.tls-certificate", title="The TLS certificate is valid for the host and not about to expire",
    category="security", severity="high", **LIVE,
    rationale="An untrusted, mismatched or expired certificate breaks every client at once (or trains users to "
              "click through warnings); expiry is the most common self-inflicted outage. Warn under 30 days, fail "
              "under 7.",
    remediation="Issue certificates from a trusted CA and renew them automatically: cert-manager with an ACME "
                "Issuer in Kubernetes, or `certbot renew` on a timer. Serve the full chain "
                "(`ssl_certificate fullchain.pem;` in nginx) and a name the clients use (SAN).",
    references=["CA/Browser Forum Baseline Requirements", "OWASP ASVS 9.1.2", "cert-manager docs"],
    checklist=["security.tls_certificate_valid", "security.tls_enabled"],
    phrases=["valid SSL certificate", "certificate expiry monitoring", "TLS certificate"],
)(_no_probe)

control(
    id="security.no-version-disclosure", title="Responses do not reveal software versions", category="security",
    severity="low", **LIVE,
    rationale="`Server: nginx/1.18.0` or `X-Powered-By: Express` tells an attacker which published CVEs to try "
              "first, for free; hiding it costs nothing.",
    remediation="nginx: `server_tokens off;`\nExpress: `app.disable('x-powered-by')` (helmet does it).\n"
                "PHP: `expose_php = Off`; ASP.NET: `<httpRuntime enableVersionHeader=\"false\" />`.",
    references=["OWASP WSTG-INFO-02", "CWE-200"],
    checklist=["security.security_headers"],
    phrases=["hide server version", "server_tokens off", "remove X-Powered-By"],
)(_no_probe)

control(
    id="security.no-stack-traces", title="Error pages do not show stack traces", category="security",
    severity="medium", **LIVE,
    rationale="A stack trace in an error page reveals code paths, library versions, file system layout and "
              "sometimes configuration or queries; it usually means a debug mode is on in production.",
    remediation="Turn debug off in production (`DEBUG = False`, `app.run(debug=False)`, "
                "`Starlette(debug=False)`, `NODE_ENV=production`, "
                "`server.error.include-stacktrace=never` in Spring) and return a generic error body; log the "
                "details server-side with a request id.",
    references=["OWASP WSTG-ERRH-02", "CWE-209", "OWASP ASVS 7.4.1"],
    checklist=["security.security_headers"],
    phrases=["no stack traces to users", "generic error messages", "debug mode off in production"],
)(_no_probe)

control(
    id="security.sensitive-paths-not-exposed", title="Sensitive files, debug endpoints and API docs are not served",
    category="security", severity="high", **LIVE,
    rationale="`/.env` and `/.git/config` served by a web root hand out secrets and source; `/server-status`, "
              "`/actuator/env` and `/debug/pprof` expose internals (client IPs, configuration values, heap "
              "contents); public OpenAPI/Swagger pages map every endpoint. Scanners on the internet ask for all of "
              "them within minutes of a deploy.",
    remediation="nginx:\nlocation ~ /\\.(?!well-known) { deny all; }\n"
                "location = /server-status { allow 127.0.0.1; deny all; }\n"
                "Spring Boot: `management.endpoints.web.exposure.include=health` (and a separate management port). "
                "Go: serve net/http/pprof only on an internal listener. "
                "FastAPI on a public host: `FastAPI(docs_url=None, redoc_url=None, openapi_url=None)`.",
    references=["OWASP WSTG-CONF-04", "OWASP WSTG-CONF-05", "CWE-538",
                "OWASP API Security Top 10: API9 Improper Inventory Management"],
    checklist=["security.internal_services_private"],
    phrases=["no exposed .env", ".git directory not accessible", "disable debug endpoints", "actuator secured",
             "disable swagger in production"],
)(_no_probe)

control(
    id="performance.response-latency", title="Response latency is within target", category="performance",
    severity="medium", **LIVE,
    rationale="Latency is what users feel first; a p95 above target on a handful of sequential requests to a "
              "cheap endpoint usually means an overloaded or mis-sized service, a slow dependency on every "
              "request, or a far-away region.",
    remediation="Set the target in the targets file (`latency: {p95_ms: 300}`) to your SLO. Investigate with "
                "traces and the duration histogram (`histogram_quantile(0.95, ...)`); add an alert on it.",
    references=["Google SRE book ch. 4: Service Level Objectives", "RED method"],
    checklist=["reliability.slo_compliance"],
    phrases=["measured p95 latency within target", "latency SLO met", "response times meet the SLA"],
)(_no_probe)

control(
    id="security.redis-dangerous-commands", title="Redis clients cannot run CONFIG or FLUSHALL",
    category="security", severity="high", **LIVE,
    rationale="With CONFIG a client can rewrite the server's configuration (the classic path from an open Redis "
              "to a shell on the host); FLUSHALL/FLUSHDB erase everything. An application account needs neither.",
    remediation="Redis 6+: give the application its own ACL user without them:\n"
                "ACL SETUSER app on >secret ~app:* +@all -@dangerous\n"
                "and disable the default user, or (older Redis) `rename-command CONFIG \"\"` in redis.conf.",
    references=["Redis ACL docs", "Redis security docs: disabling specific commands"],
    checklist=["security.internal_service_auth"],
    phrases=["disable dangerous redis commands", "rename-command CONFIG", "redis ACL"],
)(_no_probe)

control(
    id="security.broker-tls", title="Message brokers encrypt client connections", category="security",
    severity="medium", **LIVE,
    rationale="Kafka and AMQP listeners in plain text carry message payloads (often personal data) and, with SASL "
              "PLAIN, the passwords themselves, readable by anyone on the network path.",
    remediation="Kafka: `listeners=SASL_SSL://:9093` with `ssl.keystore.location=...`; clients "
                "`security.protocol=SASL_SSL`.\nRabbitMQ: `listeners.ssl.default = 5671` with `ssl_options.*`, and "
                "`listeners.tcp = none`.",
    references=["Kafka docs: Encryption with SSL", "RabbitMQ docs: TLS support"],
    checklist=["security.internal_service_auth", "security.tls_enabled"],
    phrases=["kafka TLS", "encrypt broker traffic", "amqps"],
)(_no_probe)

control(
    id="reliability.deployment-reachable", title="The deployment answers and reaches its dependencies",
    category="reliability", severity="high", **LIVE,
    rationale="A green pipeline is not a running service: the release may have failed to roll out, or the service "
              "may be up but unable to reach its database or cache. Asking the deployment itself — does it answer, "
              "does its readiness endpoint report its dependencies healthy, do its datastores accept "
              "connections — settles it.",
    remediation="Give each service a readiness endpoint that checks its dependencies (a `SELECT 1`, a Redis "
                "`PING`) and answers 503 when one is down:\n"
                "@app.get(\"/readyz\")\ndef readyz(response: Response):\n    try:\n"
                "        db.execute(text(\"SELECT 1\")); cache.ping()\n    except Exception:\n"
                "        response.status_code = 503\n    return {\"ready\": response.status_code == 200}\n"
                "and list it as `readiness:` in the targets file; check rollouts with `kubectl rollout status`.",
    references=["Kubernetes docs: readiness probes", "Google SRE book ch. 22: addressing cascading failures"],
    checklist=["cicd.service_deployed", "reliability.dependency_connectivity"],
    phrases=["service is deployed and running", "can reach the database", "test database connectivity",
             "readiness reports dependencies healthy", "verify the deployment is up"],
)(_no_probe)

control(
    id="observability.telemetry-verified", title="Metrics, logs and audit logs are actually collected",
    category="observability", severity="medium", **LIVE,
    rationale="Scrape configs and log shippers in the repository say what should be collected; a target that is "
              "down, a relabelling mistake or a broken shipper means dashboards and alerts are silently blind. "
              "Asking Prometheus which targets are up, and Loki whether each stream has recent entries, shows it.",
    remediation="List Prometheus (`kind: prometheus`) and Loki (`kind: loki`, `streams: ['{app=\"api\"}', "
                "'{log_type=\"audit\"}']`) in the targets file. Fix targets reported down (`lastError` says why), "
                "and alert on it: `up == 0` for scrape targets, `absent_over_time({app=\"api\"}[15m])` for log "
                "streams.",
    references=["Prometheus HTTP API: /api/v1/targets", "Grafana Loki HTTP API: query_range"],
    checklist=["observability.metrics_collection_verified", "observability.log_pipeline_verified",
               "security.audit_logs_verified"],
    phrases=["metrics are being collected", "logs are searchable in the central store", "test log search",
             "audit log entries are written", "prometheus targets up", "verify monitoring works"],
)(_no_probe)
