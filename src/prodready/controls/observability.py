"""Metrics, logs, traces and alerts."""

from __future__ import annotations

import re

from ..model import Loc
from .base import control, failed, not_applicable, passed

METRICS_PY = ("prometheus_client", "prometheus_fastapi_instrumentator", "starlette_exporter", "prometheus_flask_exporter",
              "django_prometheus", "opentelemetry.exporter.prometheus", "aioprometheus", "statsd", "datadog")
METRICS_JS = ("prom-client", "express-prom-bundle", "@willsoto/nestjs-prometheus", "fastify-metrics",
              "@opentelemetry/exporter-prometheus", "hot-shots")


def _import_hits(p, py: tuple, js: tuple):
    hits = []
    for cf in p.code:
        mods = py if cf.language == "python" else js
        for imp, line in cf.facts.imports.items():
            if any(imp == m or imp.startswith(m + ".") or imp.startswith(m + "/") for m in mods):
                hits.append((Loc(cf.path, line), imp, cf))
                break
    return hits


def _services_in_code(p):
    return bool(p.http_apps) or any(cf.language != "python" and cf.facts.imports for cf in p.code if
                                    any(m in cf.facts.imports for m in ("kafkajs", "bullmq", "ioredis", "amqplib")))


@control(
    id="observability.metrics-instrumented", title="Services expose application metrics", category="observability",
    severity="medium", evidence=["python", "javascript"], verifiability="both",
    rationale="Without request rate, error and latency metrics (RED), nobody can tell a slow service from a "
              "broken one, or alert on either.",
    remediation="FastAPI: `Instrumentator().instrument(app).expose(app)` (prometheus-fastapi-instrumentator); "
                "Express: `app.use(promBundle({includeMethod: true, includePath: true}))`.",
    references=["Google SRE book ch. 6 (four golden signals)", "Prometheus docs: instrumentation"],
    checklist=["observability.prometheus_metrics", "observability.http_red_metrics", "observability.pipeline_metrics"],
    phrases=["Prometheus metrics", "metrics endpoint", "instrumentation", "request rate error rate latency"],
)
def metrics_instrumented(p):
    hits = _import_hits(p, METRICS_PY, METRICS_JS)
    if hits:
        yield passed(f"metrics library {hits[0][1]}", hits[0][0], hits[0][2].path)
        return
    # Django wires libraries in by name (INSTALLED_APPS / MIDDLEWARE strings), never by import
    for app in p.http_apps:
        for m in app.middleware:
            if any(m.name == mod or m.name.startswith(mod + ".") for mod in METRICS_PY):
                yield passed(f"metrics middleware {m.name}", m.loc, app.path)
                return
    if p.http_apps or p.code:
        yield failed("no metrics library (prometheus client, instrumentator, prom-client...) in the code",
                     p.http_apps[0].loc if p.http_apps else None)
    else:
        yield not_applicable("no application code")


LOG_PY = ("structlog", "pythonjsonlogger", "json_log_formatter", "loguru", "ecs_logging", "python_json_logger")
LOG_FORMATTER_RX = r"\b(pythonjsonlogger|json_log_formatter|ecs_logging)\.[\w.]*Formatter\b"
LOG_JS = ("pino", "pino-http", "winston", "bunyan", "nestjs-pino")


@control(
    id="observability.structured-logging", title="Logs are structured (JSON)", category="observability",
    severity="medium", evidence=["python", "javascript"],
    rationale="Free-text logs cannot be filtered by field, joined with a request ID or turned into metrics; JSON "
              "logs can.",
    remediation="Python: structlog with `JSONRenderer()` or python-json-logger's `JsonFormatter`; Node: pino.",
    references=["12factor.net/logs"],
    checklist=["observability.structured_logging", "observability.log_to_stdout"],
    phrases=["structured logging", "JSON logs"],
)
def structured_logging(p):
    hits = _import_hits(p, LOG_PY, LOG_JS)
    loguru_only = all(h[1].startswith("loguru") for h in hits)
    if hits and not loguru_only:
        yield passed(f"structured logger {hits[0][1]}", hits[0][0], hits[0][2].path)
        return
    if hits and loguru_only:
        for cf in p.code:
            if any(c.name.endswith(".add") and c.kwargs.get("serialize") == ("lit", True) for c in cf.facts.calls):
                yield passed("loguru with serialize=True", hits[0][0], cf.path)
                return
    # a JSON formatter named in logging configuration (dictConfig / Django LOGGING, logging.yaml, logging.ini)
    refs = p.search_text(LOG_FORMATTER_RX, kinds=("python", "yaml", "text", "json"))
    if refs:
        yield passed("JSON log formatter configured", refs[0], refs[0].path)
        return
    if p.code:
        yield failed("no JSON logging library or formatter in the code", None)
    else:
        yield not_applicable("no application code")


TRACE_PY = ("opentelemetry", "ddtrace", "jaeger_client", "sentry_sdk", "elasticapm", "newrelic")
TRACE_JS = ("@opentelemetry/api", "@opentelemetry/sdk-node", "@opentelemetry/auto-instrumentations-node",
            "dd-trace", "elastic-apm-node", "@sentry/node", "newrelic")


@control(
    id="observability.tracing", title="Distributed tracing is instrumented", category="observability",
    severity="low", evidence=["python", "javascript"],
    rationale="In a multi-service system, a slow request can only be explained by following it across services.",
    remediation="OpenTelemetry: `FastAPIInstrumentor.instrument_app(app)` with an OTLP exporter, or "
                "`@opentelemetry/auto-instrumentations-node`.",
    references=["OpenTelemetry docs", "W3C Trace Context"],
    checklist=["observability.distributed_tracing", "observability.correlation_ids"],
    phrases=["distributed tracing", "OpenTelemetry", "Jaeger"],
)
def tracing(p):
    hits = _import_hits(p, TRACE_PY, TRACE_JS)
    # zero-code instrumentation: an agent wrapping the process, or the OpenTelemetry operator injecting one
    auto = p.search_text(TRACE_AGENT_RX, kinds=("dockerfile", "k8s", "compose", "procfile", "shell"))
    if hits:
        yield passed(f"tracing via {hits[0][1]}", hits[0][0], hits[0][2].path)
    elif auto:
        yield passed("tracing via an auto-instrumentation agent", auto[0], auto[0].path)
    elif p.http_apps:
        yield failed("HTTP services without tracing instrumentation", p.http_apps[0].loc)
    else:
        yield not_applicable("no HTTP services")


TRACE_AGENT_RX = (r"(opentelemetry-instrument\b|instrumentation\.opentelemetry\.io/inject-|"
                  r"@opentelemetry/auto-instrumentations-node/register|\bddtrace-run\b|-javaagent:\S*opentelemetry)")


COVERAGE = {
    "service down": re.compile(r"(\bup\s*(\{[^}]*\})?\s*(==|<)\s*(0|1)\b|\babsent\(|probe_success\s*==\s*0|kube_deployment_status_replicas_available)"),
    "error rate": re.compile(r"(5\.\.|5xx|status=~\"5|code=~\"5|status_code=~\"5|error|failed|failure)", re.I),
    "latency": re.compile(r"(histogram_quantile|_duration|latency|_seconds_bucket)", re.I),
}


@control(
    id="observability.alert-rules", title="Alert rules cover downtime, errors and latency", category="observability",
    severity="high", evidence=["prometheus-rules", "k8s"],
    rationale="Metrics nobody alerts on are read after the outage. At minimum a service-down, an error-rate and a "
              "latency alert page someone.",
    remediation="groups:\n- name: api\n  rules:\n  - alert: ApiDown\n    expr: up{job=\"api\"} == 0\n    for: 2m\n"
                "  - alert: ApiHighErrorRate\n    expr: sum(rate(http_requests_total{status=~\"5..\"}[5m])) / "
                "sum(rate(http_requests_total[5m])) > 0.05\n  - alert: ApiHighLatency\n    expr: histogram_quantile"
                "(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5",
    references=["Google SRE book ch. 6", "Prometheus docs: alerting rules"],
    checklist=["observability.alert_rules", "observability.alert_service_down", "observability.alert_error_rate",
               "observability.alert_latency"],
    phrases=["alerting rules", "alerts configured", "monitoring alerts"],
)
def alert_rules(p):
    alerts = [r for r in p.alert_rules if not r.record]
    if not alerts:
        if p.workloads or p.http_apps:
            yield failed("no alert rules (Prometheus rule files or PrometheusRule objects) in the repository")
        else:
            yield not_applicable("no services")
        return
    missing = []
    for topic, rx in COVERAGE.items():
        hit = next((r for r in alerts if rx.search(r.expr) or rx.search(r.name)), None)
        if hit:
            yield passed(f"{topic}: alert {hit.name}", hit.loc, f"alert {hit.name}")
        else:
            missing.append(topic)
    if missing:
        yield failed(f"{len(alerts)} alert rules, none for: {', '.join(missing)}", alerts[0].loc)


@control(
    id="observability.alert-routing", title="Alerts are routed to people", category="observability",
    severity="medium", evidence=["alertmanager"],
    rationale="Alert rules without a receiver fire into the void.",
    remediation="alertmanager.yml:\nroute: {receiver: oncall}\nreceivers:\n- name: oncall\n  pagerduty_configs: "
                "[{routing_key_file: /etc/alertmanager/pd-key}]",
    references=["Prometheus docs: Alertmanager configuration"],
    checklist=["observability.alert_routing"], phrases=["alert routing", "notifications to Slack/PagerDuty"],
)
def alert_routing(p):
    ams = p.files_of("alertmanager")
    # prometheus-operator: AlertmanagerConfig objects carry the receivers (slackConfigs, pagerdutyConfigs, ...)
    amcs = p.objects("AlertmanagerConfig")
    for o in amcs:
        receivers = [r for r in ((o.raw.get("spec") or {}).get("receivers") or []) if isinstance(r, dict)]
        kinds = sorted({k.removesuffix("Configs") for r in receivers for k in r if k.endswith("Configs") and r[k]})
        if kinds:
            yield passed(f"{o.ref} receivers: {', '.join(kinds)}", o.loc, o.ref)
        else:
            yield failed(f"{o.ref} receivers have no notification integration", o.loc, o.ref)
    if amcs and not ams:
        return
    if not ams:
        if p.alert_rules:
            yield failed("alert rules exist but no Alertmanager configuration routes them")
        else:
            yield not_applicable("no alerting configured")
        return
    for path in ams:
        docs = p.parsed[path].data or []
        cfg = docs[0].data if docs else {}
        receivers = [r for r in cfg.get("receivers") or [] if isinstance(r, dict)]
        real = [r for r in receivers if any(k.endswith("_configs") and r[k] for k in r)]
        if real:
            kinds = sorted({k.replace("_configs", "") for r in real for k in r if k.endswith("_configs")})
            yield passed(f"receivers: {', '.join(kinds)}", Loc(path, cfg.line_of("receivers")), path)
        else:
            yield failed("receivers have no notification integration", Loc(path, cfg.line_of("receivers")), path)
