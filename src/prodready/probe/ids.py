"""Control ids that live checks report under: existing controls (live evidence beside static evidence) and
the live-only controls of ``prodready.controls.live``."""

# existing controls, verified live too
RATE_LIMITING = "security.rate-limiting"
CORS = "security.cors-restricted"
HEALTH = "reliability.health-endpoint"
INGRESS_TLS = "security.ingress-tls"
COMPRESSION = "performance.response-compression"
DEFAULT_CREDS = "security.no-default-credentials"
DB_TLS = "security.database-tls"
NOT_EXPOSED = "security.datastores-not-exposed"
METRICS = "observability.metrics-instrumented"
HEADERS = "security.security-headers"
METRICS_PUBLIC = "security.metrics-not-public"
DATASTORE_AUTH = "security.datastore-authentication"
BEHIND_PROXY = "security.traffic-through-proxy"  # a target marked private (an app port) answers from outside

# live-only controls (src/prodready/controls/live.py)
REDIRECT = "security.https-redirect"
TLS_PROTOCOLS = "security.tls-protocols"
TLS_CERT = "security.tls-certificate"
VERSION_DISCLOSURE = "security.no-version-disclosure"
STACK_TRACES = "security.no-stack-traces"
SENSITIVE_PATHS = "security.sensitive-paths-not-exposed"
LATENCY = "performance.response-latency"
REDIS_COMMANDS = "security.redis-dangerous-commands"
BROKER_TLS = "security.broker-tls"
DEPLOYED = "reliability.deployment-reachable"
TELEMETRY = "observability.telemetry-verified"

LIVE_ONLY = (REDIRECT, TLS_PROTOCOLS, TLS_CERT, VERSION_DISCLOSURE, STACK_TRACES, SENSITIVE_PATHS, LATENCY,
             REDIS_COMMANDS, BROKER_TLS, DEPLOYED, TELEMETRY)
EXISTING = (RATE_LIMITING, CORS, HEALTH, INGRESS_TLS, COMPRESSION, DEFAULT_CREDS, DB_TLS, NOT_EXPOSED, METRICS,
            HEADERS, METRICS_PUBLIC, DATASTORE_AUTH, BEHIND_PROXY)
