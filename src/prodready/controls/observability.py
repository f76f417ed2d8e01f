"""Metrics, logs, traces and alerts."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ..model import Loc
from ._util import Folded, containers, lowered, paths_matching
from .base import control, failed, not_applicable, passed

METRICS_PY = ("prometheus_client", "prometheus_fastapi_instrumentator", "starlette_exporter", "prometheus_flask_exporter",
              "django_prometheus", "opentelemetry.exporter.prometheus", "aioprometheus", "statsd", "datadog")
METRICS_JS = ("prom-client", "express-prom-bundle", "@willsoto/nestjs-prometheus", "fastify-metrics",
              "@opentelemetry/exporter-prometheus", "hot-shots")


def _import_hits(p, py: tuple, js: tuple):
    from ._app import files_importing

    hits = []
    for cf in files_importing(p, py, js):  # the files with such an import, from the project's import index
        mods = py if cf.language == "python" else js
        for imp, line in cf.facts.imports.items():
            if any(imp == m or imp.startswith(m + ".") or imp.startswith(m + "/") for m in mods):
                hits.append((Loc(cf.path, line), imp, cf))
                break
    return hits


def _services_in_code(p):
    return bool(p.http_apps) or any(cf.language != "python" and cf.facts.imports for cf in p.code if
                                    any(m in cf.facts.imports for m in ("kafkajs", "bullmq", "ioredis", "amqplib")))


RED_PY = ("prometheus_fastapi_instrumentator", "starlette_exporter", "starlette_prometheus", "prometheus_flask_exporter",
          "django_prometheus", "opentelemetry.instrumentation.fastapi", "opentelemetry.instrumentation.flask",
          "opentelemetry.instrumentation.django", "opentelemetry.instrumentation.asgi", "opentelemetry.instrumentation.wsgi",
          "ddtrace", "newrelic", "elasticapm", "aioprometheus", "prometheus_async")
RED_JS = ("express-prom-bundle", "fastify-metrics", "express-prometheus-middleware", "prometheus-api-metrics",
          "@opentelemetry/instrumentation-http", "@opentelemetry/auto-instrumentations-node", "dd-trace", "newrelic",
          "elastic-apm-node", "koa-prometheus-adaptor", "@vitalets/express-prometheus")
_RED_PY_SUBMODULES = tuple(x + "." for x in RED_PY)  # (a module of RED_PY or one of its submodules)
LLM_PY = ("openai", "anthropic", "litellm", "langchain", "langchain_openai", "langchain_anthropic", "google.generativeai",
          "cohere", "mistralai", "vertexai", "boto3.bedrock", "llama_index")
LLM_JS = ("openai", "@anthropic-ai/sdk", "langchain", "@langchain/openai", "@langchain/anthropic", "ai", "@google/generative-ai",
          "cohere-ai", "@mistralai/mistralai")
LLM_OBS = ("langfuse", "helicone", "openlit", "opentelemetry.instrumentation.openai", "traceloop", "langsmith",
           "openllmetry", "@langfuse/langfuse", "langfuse-langchain", "@traceloop/node-server-sdk", "agentops",
           "phoenix", "arize")
STATUS_LABEL = re.compile(r"^(status|status_code|code|http_status|response_code|result|outcome|outcome_status)$", re.I)


METRIC_TYPES = ("Counter", "Histogram", "Summary", "Gauge")


def _custom_metrics(p, cfs):
    """(counter names with a status-like label, histogram/summary names, every custom metric name) in code."""
    from ._app import files_calling

    # only the files calling a metric type can hold one (from the project's call index)
    have = p.derived("observability.metric-files",
                     lambda: {id(cf) for cf in files_calling(p, lambda name: name.endswith(METRIC_TYPES))})
    counters, durations, names = [], [], []
    for cf in cfs:
        if id(cf) not in have:
            continue
        c_, d_, n_ = _file_metrics(cf)
        counters += c_
        durations += d_
        names += n_
    return counters, durations, names


def _file_metrics(cf):
    """:func:`_custom_metrics` of one file, memoised on the file (several passes of two controls ask again)."""
    memo = cf.__dict__.get("_obs_metrics")
    if memo is not None:
        return memo
    counters, durations, names = [], [], []
    for c in cf.facts.calls:
        if not c.name.endswith(METRIC_TYPES):  # cheap pre-check of the tail test below
            continue
        tail = c.name.rsplit(".", 1)[-1]
        if tail not in METRIC_TYPES:
            continue
        if cf.language == "python":
            if not (c.name.startswith(("prometheus_client", "aioprometheus")) or c.name in METRIC_TYPES):
                continue
            mname = str(c.args[0][1]) if c.args and c.args[0][0] == "lit" else "?"
            labels = c.kwargs.get("labelnames") or (c.args[2] if len(c.args) > 2 else None)
            labels = labels[1] if labels and labels[0] == "lit" and isinstance(labels[1], (list, tuple)) else []
        else:
            if not c.name.startswith(("prom-client", "client.")) and "prom" not in c.name:
                continue
            opts = next((a[1] for a in c.args if a[0] == "object"), {})
            mname = str(opts.get("name", ("", "?"))[1])
            ln = opts.get("labelNames")
            labels = [str(x[1]) for x in ln[1]] if ln and ln[0] == "array" else []
        names.append((Loc(cf.path, c.line), mname, tail))
        if tail == "Counter" and any(STATUS_LABEL.match(str(lb)) for lb in labels):
            counters.append((Loc(cf.path, c.line), mname))
        if tail in ("Histogram", "Summary") and re.search(r"(duration|latency|seconds|_time|elapsed)", mname, re.I):
            durations.append((Loc(cf.path, c.line), mname))
    cf._obs_metrics = (counters, durations, names)
    return counters, durations, names


@control(
    id="observability.metrics-instrumented", title="Each service exposes RED metrics (rate, errors, duration)",
    category="observability", severity="medium", evidence=["python", "javascript"], verifiability="both",
    rationale="Without request rate, error and latency metrics (RED), nobody can tell a slow service from a "
              "broken one, or alert on either. Workers need the same for jobs: throughput, failures, duration; "
              "services that call LLM APIs need token and cost counters, because that is where the bill grows.",
    remediation="FastAPI: `Instrumentator().instrument(app).expose(app)` (prometheus-fastapi-instrumentator); "
                "Express: `app.use(promBundle({includeMethod: true, includePath: true}))`; custom code: a "
                "`Counter('http_requests_total', ..., ['method', 'route', 'status'])` and a "
                "`Histogram('http_request_duration_seconds', ...)`; workers: `jobs_total{result}` and "
                "`job_duration_seconds`; LLM calls: `llm_tokens_total{model,kind}` or Langfuse/OpenLIT.",
    references=["Google SRE book ch. 6 (four golden signals)", "Prometheus docs: instrumentation",
                "Tom Wilkie: The RED method"],
    checklist=["observability.prometheus_metrics", "observability.http_red_metrics", "observability.pipeline_metrics",
               "observability.llm_usage_metrics"],
    phrases=["Prometheus metrics", "metrics endpoint", "instrumentation", "request rate error rate latency"],
)
def metrics_instrumented(p):
    from ._app import (
        files_importing,
        first_importing,
        imports_matching,
        is_test,
        service_groups,
        unit_code,
        unit_of,
    )

    judged = False
    http_units = set()
    for (fw, unit), apps in service_groups(p).items():
        http_units.add(unit)
        judged = True
        name = f"{fw} service {unit or '.'}"
        cfs = unit_code(p, unit)
        auto = first_importing(p, cfs, RED_PY, RED_JS)
        named = [m for a in apps for m in a.middleware if m.name in RED_PY or m.name.startswith(_RED_PY_SUBMODULES)]
        counters, durations, _names = _custom_metrics(p, cfs)
        if auto:
            yield passed(f"{name}: request metrics by {auto[1][0]}", Loc(auto[0].path, auto[1][1]), name)
        elif named:
            yield passed(f"{name}: request metrics by {named[0].name}", named[0].loc, name)
        elif counters and durations:
            yield passed(f"{name}: {counters[0][1]} by status and {durations[0][1]}", counters[0][0], name)
        elif counters or durations or first_importing(p, cfs, METRICS_PY, METRICS_JS):
            missing = "duration histogram" if counters else "request counter by status" if durations else \
                "request counter by status and no duration histogram"
            yield failed(f"{name}: a metrics library is used but there is no {missing} (RED needs both)", apps[0].loc,
                         name)
        else:
            yield failed(f"{name}: no request metrics (rate, errors, duration)", apps[0].loc, name)
    # long-running non-HTTP services (workers) built into images: job metrics
    for d in p.dockerfiles:
        unit = d.directory
        if unit in http_units or is_test(d.path):
            continue
        cfs = unit_code(p, unit) if unit else []
        if not cfs:
            continue
        judged = True
        _c, _d, names = _custom_metrics(p, cfs)
        lib = first_importing(p, cfs, METRICS_PY, METRICS_JS)
        if names:
            kinds = sorted({k for _l, _n, k in names})
            yield passed(f"worker {unit}: custom metrics {', '.join(n for _l, n, _k in names[:3])} ({'/'.join(kinds)})",
                         names[0][0], unit)
        elif lib:
            yield passed(f"worker {unit}: metrics via {lib[1][0]}", Loc(lib[0].path, lib[1][1]), unit,
                         confidence="medium")
        else:
            yield failed(f"worker {unit}: no metrics for processed jobs (throughput, failures, duration)",
                         Loc(d.path, 1), unit)
    # LLM usage
    for cf in files_importing(p, LLM_PY, LLM_JS, tests=False):
        hit = imports_matching(cf, LLM_PY if cf.language == "python" else LLM_JS)
        if not hit or (cf.language != "python" and hit[0] == "ai" and "openai" not in str(cf.facts.imports)):
            continue
        judged = True
        unit = unit_of(p, cf.path)
        cfs = unit_code(p, unit)
        obs = first_importing(p, cfs, LLM_OBS)
        _c, _d, names = _custom_metrics(p, cfs)
        tok = [n for n in names if re.search(r"(token|cost|llm|prompt|completion)", n[1], re.I)]
        if obs:
            yield passed(f"LLM calls in {unit or '.'} traced by {obs[1][0]}", Loc(obs[0].path, obs[1][1]), unit)
        elif tok:
            yield passed(f"LLM usage metric {tok[0][1]}", tok[0][0], unit)
        else:
            yield failed(f"{cf.path} calls an LLM API ({hit[0]}) but no metric counts tokens or cost",
                         Loc(cf.path, hit[1]), cf.path, confidence="medium")
        break
    if not judged:
        if p.code:
            yield not_applicable("no HTTP services or deployable workers in the code")
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
    checklist=["observability.distributed_tracing"],
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
    "service down": re.compile(r"(\bup\s*(\{[^}]*\})?\s*(==|<)\s*(0|1)\b|\babsent(_over_time)?\(|probe_success\s*==\s*0|"
                               r"kube_deployment_status_replicas_available|kube_deployment_status_replicas_unavailable|"
                               r"kube_pod_container_status_(restarts|waiting)|CrashLoop)"),
    "error rate": re.compile(r"(5\.\.|5xx|status=~\"5|code=~\"5|status_code=~\"5|error|failed|failure)", re.I),
    "latency": re.compile(r"(histogram_quantile|_duration|latency|_seconds_bucket)", re.I),
    "saturation": re.compile(r"(container_cpu|cpu_usage|node_cpu|process_cpu|container_memory|memory_working_set|"
                             r"node_memory|process_resident_memory|node_filesystem|disk|volume_stats|"
                             r"kube_pod_container_resource|oom|throttl|_pool_|pool_(size|usage|exhaust)|"
                             r"connections.*max|max_connections|kube_(horizontalpodautoscaler|hpa)_status|"
                             r"queue_(depth|length|size)|_backlog|saturation|utili[sz]ation|nodejs_eventloop_lag)", re.I),
}
CONDITIONAL = {  # topic -> (alert pattern, what makes it required)
    "batch job failure": re.compile(r"(kube_job_(status_)?failed|kube_job_failed|kube_cronjob_.*last_(successful|"
                                    r"schedule)|job.*fail|backup.*(fail|age|last|stale|success)|"
                                    r"time\(\)\s*-\s*\S*(last_success|last_run|completion|success_time))", re.I),
    "Kafka consumer lag": re.compile(r"(consumergroup_lag|consumer_lag|records_lag|kafka_consumer\S*lag|burrow|"
                                     r"consumer_group.*lag)", re.I),
    "database availability or connection pool": re.compile(
        r"(pg_up|mysql_up|mongodb_up|pg_stat_activity|pg_stat_database_numbackends|mysql_global_status_threads|"
        r"db\S*(pool|connection)|(pool|connection)\S*(exhaust|wait|timeout|saturat|max|usage|overflow)|"
        r"pg_replication_lag|database)", re.I),
    "cache hit rate": re.compile(r"(cache\S*(hit|miss)|keyspace_(hits|misses)|hit_ratio|miss_ratio)", re.I),
    "rate-limit rejections": re.compile(r"(\b429\b|rate_?limit|throttled|limited_requests)", re.I),
    "authentication failures (audit)": re.compile(r"(auth\S*fail|login\S*fail|\b401\b|unauthori[sz]ed|audit|"
                                                  r"privilege)", re.I),
}
KAFKA_LIBS = ("kafka", "confluent_kafka", "aiokafka", "faust", "kafkajs", "node-rdkafka", "@confluentinc/kafka-javascript")
CACHE_FW = ("aiocache", "fastapi_cache", "flask_caching", "cachetools", "django.core.cache", "cache-manager",
            "@nestjs/cache-manager", "node-cache", "keyv", "cacheable", "memcache", "pymemcache", "memcached")


def _conditional_topics(p) -> dict[str, str]:
    """Alert topics required by what the project runs, with the reason."""
    from ._app import datastores, import_hits
    from ._util import uses_database

    need: dict[str, str] = {}
    jobs = p.objects("CronJob")
    if jobs:
        need["batch job failure"] = f"{jobs[0].ref} runs on a schedule"
    if datastores(p, "kafka", production=False) or import_hits(p, KAFKA_LIBS, KAFKA_LIBS):
        need["Kafka consumer lag"] = "the project uses Kafka"
    if uses_database(p):
        need["database availability or connection pool"] = "the project uses a database"
    if import_hits(p, CACHE_FW, CACHE_FW):
        need["cache hit rate"] = "the code uses a cache framework"
    from .app_code import RATE_LIMIT_JS, RATE_LIMIT_PY

    if import_hits(p, RATE_LIMIT_PY, RATE_LIMIT_JS):
        need["rate-limit rejections"] = "the services rate-limit requests"
    from .cost_compliance import AUDIT_RX

    if p.search_text(AUDIT_RX.pattern, kinds=("python", "javascript", "typescript"), hints=("udit", "UDIT")):
        need["authentication failures (audit)"] = "the services write an audit log"
    return need


@control(
    id="observability.alert-rules", title="Alert rules cover downtime, errors, latency, saturation and what the "
    "project runs", category="observability", severity="high", evidence=["prometheus-rules", "k8s"],
    rationale="Metrics nobody alerts on are read after the outage. At minimum a service-down, an error-rate, a "
              "latency and a saturation (CPU, memory, disk, pools, queues) alert page someone; a project that runs "
              "scheduled jobs (backups!), Kafka consumers or a database needs alerts on those failing too.",
    remediation="groups:\n- name: api\n  rules:\n  - alert: ApiDown\n    expr: up{job=\"api\"} == 0\n    for: 2m\n"
                "  - alert: ApiHighErrorRate\n    expr: sum(rate(http_requests_total{status=~\"5..\"}[5m])) / "
                "sum(rate(http_requests_total[5m])) > 0.05\n  - alert: ApiHighLatency\n    expr: histogram_quantile"
                "(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5\n"
                "  - alert: ContainerMemoryNearLimit\n    expr: container_memory_working_set_bytes / "
                "container_spec_memory_limit_bytes > 0.9\n  - alert: CronJobFailed\n    expr: "
                "kube_job_status_failed{job_name=~\"db-backup.*\"} > 0",
    references=["Google SRE book ch. 6", "Prometheus docs: alerting rules", "awesome-prometheus-alerts"],
    checklist=["observability.alert_rules", "observability.alert_service_down", "observability.alert_error_rate",
               "observability.alert_latency", "observability.alert_resource_exhaustion",
               "observability.alert_pipeline_failure", "observability.alert_db_connection",
               "observability.alert_cache_miss_rate", "observability.rate_limit_monitoring",
               "security.audit_log_alerts"],
    phrases=["alerting rules", "alerts configured", "monitoring alerts", "alert on database connection problems", "alert on rate-limit rejections", "alert on suspicious audit events", "alert on job failures"],
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
    topics = [(t, rxp, None) for t, rxp in COVERAGE.items()]
    topics += [(t, CONDITIONAL[t], why) for t, why in _conditional_topics(p).items()]
    for topic, rxp, why in topics:
        hit = next((r for r in alerts if rxp.search(r.expr) or rxp.search(r.name)), None)
        if hit:
            yield passed(f"{topic}: alert {hit.name}", hit.loc, f"alert {hit.name}")
        else:
            missing.append(topic + (f" ({why})" if why else ""))
    if missing:
        yield failed(f"{len(alerts)} alert rules, none for: {'; '.join(missing)}", alerts[0].loc, alerts[0].loc.path)


DURATION_RX = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


@control(
    id="observability.alert-rules-valid", title="Alert and recording rules are valid and loaded",
    category="observability", severity="high", evidence=["prometheus-rules", "prometheus-config", "k8s"],
    rationale="Prometheus refuses to load a rule file with one bad expression, so a typo silently disables every "
              "alert in it. Alerts without a severity label cannot be routed, and without a summary the page says "
              "nothing; a rule file that no `rule_files` entry loads never fires.",
    remediation="Validate in CI with `promtool check rules rules/*.yml`; give every alert `labels: {severity: ...}` "
                "and `annotations: {summary: ..., runbook_url: ...}`; list the files under `rule_files:` in "
                "prometheus.yml (or ship them as PrometheusRule objects).",
    references=["Prometheus docs: promtool", "Prometheus docs: recording rules"],
    checklist=["observability.alert_rules", "observability.recording_rules"],
    phrases=["valid alert rules", "recording rules", "promtool check rules"],
)
def alert_rules_valid(p):
    import fnmatch

    from ._promql import check

    if not p.alert_rules:
        yield not_applicable("no alert or recording rules")
        return
    bad = 0
    for r in p.alert_rules:
        err, _m, _f = check(r.expr)
        kind = "recording rule" if r.record else "alert"
        if err:
            bad += 1
            yield failed(f"{kind} {r.name}: invalid PromQL: {err}", r.loc, f"{kind} {r.name}")
            continue
        if r.for_ is not None and not DURATION_RX.match(str(r.for_).strip()):
            bad += 1
            yield failed(f"alert {r.name}: 'for: {r.for_}' is not a duration", r.loc, f"alert {r.name}")
            continue
        if r.record and not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", r.name):
            bad += 1
            yield failed(f"recording rule name '{r.name}' is not a valid metric name", r.loc, f"rule {r.name}")
        if not r.record and not r.labels.get("severity"):
            bad += 1
            yield failed(f"alert {r.name} has no severity label to route on", r.loc, f"alert {r.name}")
    # loaded: plain rule files must match a rule_files glob of a Prometheus config in the repository
    configs = p.files_of("prometheus-config")
    globs = []
    for path in configs:
        docs = getattr(p.parsed.get(path), "data", None) or []
        cfg = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
        globs += [str(g) for g in cfg.get("rule_files") or [] if isinstance(g, (str, int))]
    if configs:
        for path in sorted({r.loc.path for r in p.alert_rules if p.files.get(r.loc.path) == "prometheus-rules"}):
            name = path.rsplit("/", 1)[-1]
            if not any(fnmatch.fnmatch(name, g.rsplit("/", 1)[-1]) or fnmatch.fnmatch(path, g.lstrip("/"))
                       for g in globs):
                bad += 1
                yield failed(f"{path} is not matched by any rule_files entry of {configs[0]}", Loc(path, 1), path)
    if not bad:
        n_a = sum(1 for r in p.alert_rules if not r.record)
        yield passed(f"{n_a} alerts and {len(p.alert_rules) - n_a} recording rules parse, with severity labels"
                     + (" and loaded by rule_files" if configs else ""), p.alert_rules[0].loc, p.alert_rules[0].loc.path)


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


# --- request correlation ------------------------------------------------------------------------

CORR_PY = ("asgi_correlation_id", "starlette_context", "django_guid", "log_request_id", "flask_request_id",
           "flask_request_id_header", "request_id", "correlation_id", "opentelemetry.instrumentation.logging",
           "fastapi_request_id")
CORR_JS = ("express-request-id", "cls-rtracer", "pino-http", "correlation-id", "express-correlation-id",
           "@nestjs/cls", "nestjs-cls", "express-http-context", "@opentelemetry/instrumentation-pino",
           "@opentelemetry/instrumentation-winston", "hyperid")
CORR_HINTS = ("equest-id", "equest-Id", "equest-ID", "EQUEST-ID", "equest_id", "EQUEST_ID", "equestId", "orrelation",
              "ORRELATION", "traceparent", "trace_id", "traceId")
CORR_RX = r"(x-request-id|x-correlation-id|request_id|requestId|correlation_?id|correlationId|traceparent|trace_id)"


def _correlation_refs(p) -> dict[str, Loc]:
    """Path -> where a code file first handles a request/correlation ID (its first match of CORR_RX, in a file
    holding one of CORR_HINTS), for every code file that does: one indexed search of the sources per project, which
    passes over the files without the literals a match needs (most of them) at once."""
    def compute() -> dict[str, Loc]:
        out: dict[str, Loc] = {}
        for loc in p.search_text(CORR_RX, kinds=("python", "javascript", "typescript"), hints=CORR_HINTS):
            out.setdefault(loc.path, loc)  # (matches come in file order)
        return out

    return p.derived("observability.correlation-refs", compute)


@control(
    id="observability.correlation-ids", title="Requests carry a correlation ID into the logs",
    category="observability", severity="low", evidence=["python", "javascript", "nginx"],
    rationale="When one user request fans out over a proxy, an API and a worker, only a shared request ID lets you "
              "pull every log line of that request together during an incident.",
    remediation="FastAPI: asgi-correlation-id (`app.add_middleware(CorrelationIdMiddleware)` + its log filter); "
                "Django: django-guid; Express: pino-http (`genReqId`) or express-request-id; forward the proxy's "
                "ID (`proxy_set_header X-Request-ID $request_id;`) and log it in every service.",
    references=["W3C Trace Context", "12factor.net/logs"],
    checklist=["observability.correlation_ids"],
    phrases=["correlation IDs", "request IDs in logs", "X-Request-ID"],
)
def correlation_ids(p):
    from ._app import first_importing, service_groups, unit_code

    groups = service_groups(p)
    if not groups:
        yield not_applicable("no HTTP services in code")
        return
    proxy = [loc for loc in p.search_text(r"\$request_id", kinds=("nginx",), hints=("$request_id",))]
    for (fw, unit), apps in groups.items():
        name = f"{fw} service {unit or '.'}"
        cfs = unit_code(p, unit)
        lib = first_importing(p, cfs, CORR_PY, CORR_JS)
        if lib:
            yield passed(f"{name}: request IDs via {lib[1][0]}", Loc(lib[0].path, lib[1][1]), name)
            continue
        found = _correlation_refs(p)
        refs = []
        for cf in cfs:
            ref = found.get(cf.path)
            if ref is not None:
                refs.append(ref)
                break
        if refs:
            yield passed(f"{name}: handles a request/correlation ID", refs[0], name, confidence="medium")
        elif proxy:
            yield failed(f"{name}: the proxy forwards X-Request-ID ({proxy[0].path}:{proxy[0].line}) but the service "
                         "neither reads nor logs it", apps[0].loc, name, confidence="medium")
        else:
            yield failed(f"{name}: no request or correlation ID is generated, propagated or logged", apps[0].loc, name,
                         confidence="medium")


# --- monitoring stack ---------------------------------------------------------------------------

RESOURCE_JOB_RX = re.compile(r"(node[-_]?exporter|cadvisor|kube-state-metrics|kubelet|role:\s*node|"
                             r"windows[-_]exporter|metrics/cadvisor)", re.I)
STACK_IMAGES = re.compile(r"(^|/)(prometheus|prometheus-operator|vmagent|victoria-metrics|grafana-agent|alloy|"
                          r"otel/opentelemetry-collector[^/]*|datadog/agent|newrelic/infrastructure[^/]*|"
                          r"node-exporter|kube-state-metrics)$", re.I)


@lru_cache(maxsize=16384)  # pure, asked for every container
def _stack_image(repository: str) -> bool:
    return bool(STACK_IMAGES.search(repository))


def _scrape_configs(p):
    out = []
    for path in p.files_of("prometheus-config"):
        docs = getattr(p.parsed.get(path), "data", None) or []
        cfg = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
        for job in cfg.get("scrape_configs") or []:
            if isinstance(job, dict):
                out.append((path, job, cfg.line_of("scrape_configs") if hasattr(cfg, "line_of") else None))
    return out


@control(
    id="observability.monitoring-stack", title="A monitoring system scrapes the services and the resources they use",
    category="observability", severity="medium", evidence=["prometheus-config", "k8s", "helm-values"],
    rationale="Instrumented services are only monitored once something scrapes them; CPU, memory and disk alerts "
              "need node and container metrics (node-exporter, cAdvisor, kube-state-metrics) in the same system.",
    remediation="prometheus.yml `scrape_configs` for each service (or ServiceMonitor/PodMonitor objects with the "
                "Prometheus operator), plus node-exporter, kubelet/cAdvisor and kube-state-metrics jobs (the "
                "kube-prometheus-stack chart ships all three).",
    references=["Prometheus docs: configuration", "kube-prometheus-stack"],
    checklist=["observability.monitoring_stack", "observability.resource_metrics"],
    phrases=["monitoring stack", "deploy Prometheus", "Prometheus scraping", "node exporter", "cAdvisor", "CPU and memory usage metrics"],
)
def monitoring_stack(p):
    jobs = _scrape_configs(p)
    monitors = p.objects("ServiceMonitor") + p.objects("PodMonitor") + p.objects("VMServiceScrape") + \
        p.objects("PodMonitoring")
    stack_workloads = [w for w in p.workloads if not w.dev_only and any(
        c.image is not None and _stack_image(c.image.repository) for c in w.containers)]
    charts = p.search_text(r"(kube-prometheus-stack|prometheus-community/prometheus|victoria-metrics-k8s-stack|"
                           r"grafana/k8s-monitoring|datadog/datadog)", kinds=CONFIG_KINDS_OBS,
                           hints=("prometheus", "victoria", "k8s-monitoring", "datadog"))
    if not (jobs or monitors or stack_workloads or charts):
        if p.workloads or p.http_apps:
            yield failed("no scrape configuration, ServiceMonitor/PodMonitor or monitoring agent in the repository")
        else:
            yield not_applicable("no services")
        return
    if jobs:
        path, _job, line = jobs[0]
        yield passed(f"{len(jobs)} scrape jobs in {path}: {', '.join(str(j.get('job_name')) for _p, j, _l in jobs[:5])}",
                     Loc(path, line), path)
    for o in monitors[:3]:
        yield passed(f"{o.kind} {o.name}", o.loc, o.ref)
    if charts:
        yield passed(f"monitoring stack chart referenced in {charts[0].path}", charts[0], charts[0].path)
        return
    resource = [(path, j) for path, j, _l in jobs if RESOURCE_JOB_RX.search(json.dumps(j, default=str))] + \
        [(o.loc.path, o.name) for o in monitors if RESOURCE_JOB_RX.search(o.name + json.dumps(o.raw, default=str))] + \
        [(w.loc.path, w.name) for w in stack_workloads if RESOURCE_JOB_RX.search(
            " ".join(c.image.repository for c in w.containers if c.image))]
    if resource:
        yield passed("node/container resource metrics are scraped", Loc(resource[0][0], None), resource[0][0])
    elif p.workloads:
        where = jobs[0][0] if jobs else monitors[0].loc.path if monitors else stack_workloads[0].loc.path
        yield failed("no node-exporter, kubelet/cAdvisor or kube-state-metrics job: CPU, memory and disk of the "
                     "services are not collected", Loc(where, jobs[0][2] if jobs else None), where, confidence="medium")


CONFIG_KINDS_OBS = ("k8s", "compose", "yaml", "helm-values", "text", "terraform", "json", "shell",
                    "github-workflow", "gitlab-ci", "makefile", "kustomization", "prometheus-config", "helm-chart")


EXPORTERS = {  # datastore -> pattern of its exporter (image, chart, scrape job, metric prefix)
    "postgres": r"(postgres[-_]?exporter|postgres_exporter|pg_exporter|pgexporter|pg_stat_statements_exporter|"
                r"cloudnative-pg|monitoring:\s*\n\s*enablePodMonitor|rds[-_]exporter|prometheus-postgres)",
    "mysql": r"(mysqld?[-_]exporter|prometheus-mysql)",
    "redis": r"(redis[-_]exporter|oliver006/redis_exporter|prometheus-redis)",
    "kafka": r"(kafka[-_]exporter|kafka-lag-exporter|burrow|jmx[-_]?exporter|jmx_prometheus|kminion|"
             r"kafkaExporter|strimzi.*metrics)",
    "mongodb": r"(mongodb[-_]exporter|percona/mongodb_exporter)",
    "elasticsearch": r"(elasticsearch[-_]exporter|es[-_]exporter)",
    "rabbitmq": r"(rabbitmq_prometheus|rabbitmq[-_]exporter|:15692)",
    "clickhouse": r"(clickhouse.*(prometheus|:9363|exporter))",
    "minio": r"(minio/v2/metrics|minio.*prometheus)",
}


@control(
    id="observability.datastore-exporters", title="Datastores and brokers export metrics", category="observability",
    severity="medium", evidence=["k8s", "compose", "prometheus-config", "helm-values", "terraform"],
    rationale="Most incidents in a database-backed service start in the database or the queue: connection "
              "exhaustion, replication lag, slow queries, consumer lag, a full disk. Without their metrics the "
              "service's dashboards only show the symptom.",
    remediation="Run the exporter next to each datastore and scrape it: postgres_exporter (or the operator's "
                "PodMonitor), redis_exporter, kafka-exporter/kminion for consumer lag, mysqld_exporter; for managed "
                "services, a CloudWatch/Stackdriver exporter or enhanced monitoring.",
    references=["Prometheus docs: exporters", "Google SRE workbook: monitoring"],
    checklist=["observability.datastore_metrics", "observability.kafka_metrics"],
    phrases=["database metrics", "Redis metrics", "Kafka consumer lag metrics", "exporters", "database connection pool metrics", "connection count metrics"],
)
def datastore_exporters(p):
    from ._app import datastores, import_hits
    from ._util import uses_database

    used: dict[str, str] = {}
    for ds in datastores(p):
        used.setdefault(ds.kind, ds.ref)
    dbl = [loc for loc in uses_database(p) if p.files.get(loc.path) in ("python", "javascript", "typescript",
                                                                        "terraform")]
    if dbl and "postgres" not in used and "mysql" not in used:
        text = " ".join(p.sources.get(loc.path, "")[:5000] for loc in dbl[:5])
        used["mysql" if re.search(r"mysql|mariadb", text, re.I) else "postgres"] = f"{dbl[0].path}"
    redis_clients = import_hits(p, ("redis", "aioredis", "redis.asyncio"), ("ioredis", "redis", "@redis/client"))
    if redis_clients:
        used.setdefault("redis", redis_clients[0][0].path)
    from .observability import KAFKA_LIBS

    kafka = import_hits(p, KAFKA_LIBS, KAFKA_LIBS)
    if kafka:
        used.setdefault("kafka", kafka[0][0].path)
    used.pop("zookeeper", None)
    if not used:
        yield not_applicable("no datastores or brokers in the project")
        return
    for kind, where in sorted(used.items()):
        pattern = EXPORTERS.get(kind)
        if pattern is None:
            continue
        hits = p.search_text(pattern, kinds=CONFIG_KINDS_OBS + ("dockerfile",),
                             hints=tuple(sorted({w for w in re.findall(r"[a-z]{4,}", pattern)}))[:12])
        if hits:
            yield passed(f"{kind}: exporter/scrape in {hits[0].path}", hits[0], hits[0].path)
        else:
            yield failed(f"{kind} (used by {where}) has no exporter or scrape job: its connections, lag and "
                         "saturation are invisible", None, where, confidence="medium")


@control(
    id="observability.dashboards-provisioned", title="Dashboards are provisioned as code", category="observability",
    severity="low", evidence=["grafana-dashboard", "grafana-provisioning", "k8s"],
    rationale="Dashboards edited by hand in the UI drift, get lost with the Grafana volume, and differ between "
              "environments; as code they are reviewed and restored with everything else.",
    remediation="Keep dashboard JSON in the repository and load it with a Grafana provisioning file "
                "(`providers: [{type: file, options: {path: /var/lib/grafana/dashboards}}]`), ConfigMaps labelled "
                "`grafana_dashboard: \"1\"`, GrafanaDashboard objects or the grafana_dashboard Terraform resource.",
    references=["Grafana docs: provisioning", "grafana-operator"],
    checklist=["observability.grafana_dashboards"],
    phrases=["Grafana dashboards", "dashboards as code"],
)
def dashboards_provisioned(p):
    from ._app import tf_resources

    dashboards = [f for f, k in p.files.items() if k == "grafana-dashboard" and isinstance(
        getattr(p.parsed.get(f), "data", None), dict) and ("panels" in p.parsed[f].data or
                                                           "dashboard" in p.parsed[f].data)]
    providers = [f for f in p.files_of("grafana-provisioning") if "providers" in p.sources.get(f, "")]
    cms = [o for o in p.objects("ConfigMap") if any("dashboard" in str(k).lower() for k in
                                                    ((o.raw.get("metadata") or {}).get("labels") or {}))]
    crds = p.objects("GrafanaDashboard")
    tf = tf_resources(p, "grafana_dashboard")
    if dashboards and (providers or cms):
        yield passed(f"{len(dashboards)} dashboard(s) loaded by {(providers or [cms[0].loc.path])[0]}",
                     Loc(dashboards[0], 1), dashboards[0])
    elif cms or crds or tf:
        where = (cms or crds)[0].loc if (cms or crds) else tf[0].loc
        yield passed("dashboards provisioned as Kubernetes/Terraform objects", where, where.path)
    elif dashboards:
        yield failed(f"{dashboards[0]} is in the repository but no provisioning config loads it",
                     Loc(dashboards[0], 1), dashboards[0])
    elif p.files_of("prometheus-config", "prometheus-rules") or p.objects("ServiceMonitor", "PrometheusRule"):
        yield failed("metrics are collected but no dashboard is kept as code")
    else:
        yield not_applicable("no monitoring configuration in the repository")


SHIPPERS = re.compile(r"(fluent-?bit|fluentd|promtail|grafana/alloy|vector(dev)?/vector|timberio/vector|logstash|"
                      r"filebeat|otelcol|opentelemetry-collector|datadog/agent|splunk/universalforwarder|"
                      r"awslogs|aws-for-fluent-bit|gcplogs|loki-docker-driver|\bloki\b|cloudwatch[_ -]?logs?|"
                      r"logging:\s*\n\s*driver|gelf)", re.I)
DOC_SHIP_RX = Folded(r"(log (agent|shipper|collector)|logs? (are|is) (shipped|collected|forwarded|sent)|"
                     r"(loki|elasticsearch|opensearch|cloudwatch|stackdriver|datadog|splunk|graylog|papertrail)"
                     r"\b[^\n]{0,40}\blogs?|logs?\b[^\n]{0,60}(loki|elasticsearch|opensearch|cloudwatch|"
                     r"datadog|splunk|collected))")  # case-insensitive


@control(
    id="observability.log-shipping", title="Logs are shipped to a central store", category="observability",
    severity="medium", evidence=["k8s", "compose", "helm-values", "terraform", "markdown"],
    rationale="Container logs live on the node and vanish with the pod; an incident that started an hour ago on a "
              "rescheduled pod can only be investigated in a central, searchable store.",
    remediation="Run a log agent (Fluent Bit, Promtail/Alloy, Vector, the OpenTelemetry collector) as a DaemonSet "
                "shipping to Loki/Elasticsearch/CloudWatch, or set a Compose `logging.driver`; if the platform "
                "team runs it, say so in the docs.",
    references=["12factor.net/logs", "Kubernetes docs: logging architecture"],
    checklist=["observability.log_aggregation"],
    phrases=["centralized logging", "log aggregation", "ELK", "Loki"],
)
def log_shipping(p):
    hits = p.search_text(SHIPPERS.pattern, kinds=CONFIG_KINDS_OBS + ("dockerfile",),
                         hints=("fluent", "promtail", "alloy", "vector", "logstash", "filebeat", "otel", "opentelemetry",
                                "datadog", "splunk", "awslogs", "gcplogs", "loki", "cloudwatch", "driver", "gelf",
                                "Fluent", "Loki", "CloudWatch"))
    if hits:  # not in a Compose file judged a local development environment
        dev = {w.project for w in p.workloads if w.dev_only}
        hits = [h for h in hits if h.path not in dev]
    if hits:
        yield passed(f"log shipping configured in {hits[0].path}", hits[0], hits[0].path)
        return
    if not (p.workloads or p.http_apps):
        yield not_applicable("no services")
        return
    for d in p.docs:
        m = DOC_SHIP_RX.span(d.text, lowered(p, "doc:" + d.path, d.text))
        if m:
            line = d.text.count("\n", 0, m[0]) + 1
            yield passed(f"{d.path} states where logs go (the agent is outside this repository)", Loc(d.path, line),
                         d.path, confidence="low")
            return
    yield failed("no log agent, logging driver or documented log pipeline: logs stay on the nodes")


SLO_FILE_RX = re.compile(r"(^|/)(slos?|sloth|pyrra|openslo)[^/]*\.(ya?ml|json)$|(^|/)(slos?|sloth|pyrra)/", re.I)
SLO_DOC_RX = Folded(r"\b(SLO|SLA|service level objective|availability target|error budget)s?\b[^\n]{0,80}?"
                    r"\d{2}(\.\d+)?\s?%")  # case-insensitive
BURN_RX = re.compile(r"(burn_?rate|error_?budget|slo:|slo_|sloth|pyrra)", re.I)


@control(
    id="observability.slo-defined", title="Service level objectives are defined, and alerted on",
    category="observability", severity="low", evidence=["markdown", "k8s", "yaml", "prometheus-rules"],
    rationale="Without an explicit target (e.g. 99.9% of requests succeed within 300 ms over 30 days) nobody can "
              "say whether the service is healthy enough, how much risk a release may take, or when to page.",
    remediation="Write SLOs as code (OpenSLO, Sloth, Pyrra) or in docs/slo.md with explicit targets and windows, and "
                "alert on error-budget burn rate (multiwindow, multi-burn-rate alerts).",
    references=["Google SRE workbook ch. 2 'Implementing SLOs' and ch. 5 'Alerting on SLOs'", "OpenSLO"],
    checklist=["observability.slo_targets", "observability.alert_slo_breach"],
    phrases=["SLOs defined", "SLA targets", "error budget", "burn rate alerts"],
)
def slo_defined(p):
    files = paths_matching(p, SLO_FILE_RX, ("slo", "pyrra"))
    crds = p.objects("PrometheusServiceLevel") + p.objects("ServiceLevelObjective") + p.objects("SLO")
    docs = []
    for d in p.docs:
        m = SLO_DOC_RX.span(d.text, lowered(p, "doc:" + d.path, d.text))
        if m:
            docs.append((d, d.text.count("\n", 0, m[0]) + 1, d.text[m[0]:m[1]]))
    if not (p.workloads or p.http_apps):
        yield not_applicable("no services")
        return
    if not (files or crds or docs):
        yield failed("no SLO definitions (OpenSLO/Sloth/Pyrra files or a document with explicit targets)")
        return
    if files or crds:
        where = Loc(files[0], 1) if files else crds[0].loc
        yield passed(f"SLOs as code in {where.path}", where, where.path)
    else:
        d, line, text = docs[0]
        yield passed(f"{d.path}: {text.strip()[:80]}", Loc(d.path, line), d.path)
    burn = [r for r in p.alert_rules if not r.record and (BURN_RX.search(r.name) or BURN_RX.search(r.expr))]
    if burn:
        yield passed(f"SLO alert {burn[0].name}", burn[0].loc, burn[0].loc.path)
    elif files or crds:
        pass  # Sloth/Pyrra generate the burn-rate alerts from the SLO files
    else:
        yield failed("SLO targets are written down but no alert fires on SLO breach or error-budget burn")


@control(
    id="observability.log-level-configurable", title="The log level is configurable and not debug in production",
    category="observability", severity="low", evidence=["python", "javascript", "k8s", "compose"],
    rationale="A fixed log level means a redeploy to get more detail during an incident; DEBUG left on in "
              "production floods the log store, costs money and tends to log secrets and personal data.",
    remediation="Read the level from the environment (`logging.basicConfig(level=os.getenv(\"LOG_LEVEL\", "
                "\"INFO\"))`, `pino({ level: process.env.LOG_LEVEL || 'info' })`) and set `LOG_LEVEL=info` in the "
                "production manifests.",
    references=["12factor.net/config"],
    checklist=["observability.log_level_config"],
    phrases=["configurable log level", "LOG_LEVEL", "INFO level in production"],
)
def log_level_configurable(p):
    from ._app import code

    cfg = []
    for cf in code(p):
        for name, line, _req in cf.facts.env:
            if _log_level_read(name):
                cfg.append((Loc(cf.path, line), name))
    any_ = bool(cfg)
    for w, c in containers(p, production=True):  # (the app containers of the workloads not judged dev-only)
        for e in c.env:
            if _log_level_var(e.name) and e.value:
                any_ = True
                if e.value.strip().lower() in ("debug", "trace", "all", "silly", "verbose"):
                    yield failed(f"{w.ref} sets {e.name}={e.value} in production", e.loc, w.ref)
    if cfg:
        yield passed(f"log level read from {cfg[0][1]}", cfg[0][0], cfg[0][0].path)
    elif any(True for cf in code(p) if imports_hit_logging(cf)):
        any_ = True
        yield failed("loggers are configured with a fixed level; nothing reads LOG_LEVEL from the environment",
                     None, confidence="medium")
    if not any_:
        yield not_applicable("no logging configuration in the code")


# pure tests of variable names, asked for every environment read and variable: remembered
@lru_cache(maxsize=16384)
def _log_level_read(name: str) -> bool:
    return bool(re.search(r"(^|_)LOG(GING)?_?LEVEL$|^DEBUG$|^LOGLEVEL$", name, re.I))


@lru_cache(maxsize=16384)
def _log_level_var(name: str) -> bool:
    return bool(re.search(r"(^|_)LOG(GING)?_?LEVEL$|^LOGLEVEL$", name, re.I))


def imports_hit_logging(cf) -> bool:
    return any(m in cf.facts.imports for m in ("logging", "structlog", "loguru", "pino", "winston", "bunyan"))


@control(
    id="observability.advanced-telemetry", title="Continuous profiling and business metrics",
    category="observability", severity="low", evidence=["python", "javascript", "k8s"], optional=True,
    rationale="Profiles explain where CPU and memory go in production without reproducing the load; business "
              "metrics (orders placed, payments failed) catch breakage that technical metrics miss. Useful for "
              "mature services; off unless enabled.",
    remediation="Profiling: Pyroscope/Grafana Alloy, Parca, Datadog or Google Cloud Profiler agents. Business "
                "metrics: counters for domain events (`orders_created_total`, `payments_failed_total`).",
    references=["Grafana Pyroscope docs", "Google SRE book ch. 6"],
    checklist=["observability.profiling", "observability.business_metrics"],
    phrases=["continuous profiling", "business metrics", "KPIs instrumented"],
)
def advanced_telemetry(p):
    from ._app import import_hits

    if not p.code:
        yield not_applicable("no application code")
        return
    prof = import_hits(p, ("pyroscope", "ddtrace.profiling", "googlecloudprofiler", "pyinstrument", "yappi",
                           "parca"), ("@pyroscope/nodejs", "pyroscope", "@datadog/pprof", "@google-cloud/profiler",
                                      "pprof")) or p.search_text(r"(pyroscope|parca-agent|DD_PROFILING_ENABLED)",
                                                                 kinds=CONFIG_KINDS_OBS, hints=("pyroscope", "parca",
                                                                                                "PROFILING"))
    if prof:
        loc = prof[0][0] if isinstance(prof[0], tuple) else prof[0]
        yield passed("continuous profiling configured", loc, loc.path, concept="observability.profiling")
    else:
        yield failed("no continuous profiler", None, concept="observability.profiling")
    _c, _d, names = _custom_metrics(p, p.code)
    biz = [n for n in names if not re.search(r"(http|request|duration|latency|process_|python_|nodejs_|gc_|"
                                             r"up$|errors?_total$)", n[1], re.I)]
    if biz:
        yield passed(f"business metric {biz[0][1]}", biz[0][0], biz[0][0].path, concept="observability.business_metrics")
    else:
        yield failed("no custom business metric in the code", None, concept="observability.business_metrics")
