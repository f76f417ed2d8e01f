"""Running the probes of a targets file (see the package docstring)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..controls.base import Outcome, not_applicable
from ..secrets import mask_secrets
from . import ids
from .runtime import BudgetExhausted, Session
from .targets import Targets, TargetsError, load_targets  # noqa: F401  (re-exported by the package)

# why a control got no live evidence when a targets file was given
NA_REASONS = {
    ids.HEADERS: "no public http(s) target answered (security headers are judged on exposure: public targets)",
    ids.REDIRECT: "no public http:// target, nor an https:// target with http_url",
    ids.TLS_PROTOCOLS: "no https://, rediss://, amqps:// or kafka+ssl:// target",
    ids.TLS_CERT: "no https://, rediss://, amqps:// or kafka+ssl:// target",
    ids.VERSION_DISCLOSURE: "no public http(s) target answered",
    ids.STACK_TRACES: "no http(s) target answered",
    ids.SENSITIVE_PATHS: "no http(s) target answered",
    ids.METRICS_PUBLIC: "no public http(s) target answered",
    ids.BEHIND_PROXY: "no http(s) target marked exposure: private (an application port that only the proxy "
                      "should reach)",
    ids.LATENCY: "no http(s) target answered",
    ids.DATASTORE_AUTH: "no postgresql://, redis://, kafka://, S3 or RabbitMQ target reachable",
    ids.REDIS_COMMANDS: "no redis:// target reachable",
    ids.BROKER_TLS: "no kafka:// or amqp:// target reachable",
    ids.RATE_LIMITING: "no http(s) target answered",
    ids.CORS: "no http(s) target answered",
    ids.HEALTH: "no http(s) target",
    ids.INGRESS_TLS: "no public http(s) target",
    ids.COMPRESSION: "no http(s) target answered",
    ids.DEFAULT_CREDS: "no datastore or console target (PostgreSQL, Redis, AMQP, RabbitMQ, Grafana, S3)",
    ids.DB_TLS: "no postgresql:// target reachable",
    ids.NOT_EXPOSED: "no datastore target marked exposure: private",
    ids.METRICS: "no target with a metrics: path",
    ids.DEPLOYED: "no target",
    ids.TELEMETRY: "no prometheus or loki target",
}


@dataclass
class ProbeRun:
    live: dict[str, list[Outcome]]
    summary: dict


def run_probe(targets: Targets) -> ProbeRun:
    t0 = time.perf_counter()
    gate = threading.BoundedSemaphore(targets.concurrency)
    sessions = [Session(t, gate, targets.concurrency) for t in targets.targets]
    timings: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(len(sessions), targets.concurrency))) as pool:
        for name, took in pool.map(_run_target, sessions):
            timings[name] = took
    live: dict[str, list[Outcome]] = {}
    for s in sessions:
        for cid, o in s.outcomes:
            live.setdefault(cid, []).append(o)
    for cid, reason in NA_REASONS.items():
        if cid not in live:
            live[cid] = [not_applicable(f"live probe: {reason} in {targets.path}")]
            live[cid][0].source = "live"
    summary = {
        "targets_file": targets.path,
        "concurrency": targets.concurrency,
        "duration_s": round(time.perf_counter() - t0, 3),
        "requests_sent": sum(s.sent for s in sessions),
        "targets": [_target_summary(s, timings.get(s.target.name, 0.0)) for s in sessions],
    }
    return ProbeRun(live, summary)


def _target_summary(s: Session, took: float) -> dict:
    t = s.target
    notes = list(dict.fromkeys(s.notes))
    burst = next((n for n in notes if n.startswith("burst test")), None)
    creds = [n for n in notes if n.startswith("default-credential tries")]
    return {
        "name": t.name, "kind": t.kind, "url": mask_secrets(t.url), "exposure": t.exposure,
        "budget": t.budget, "requests_sent": s.sent, "timeout_s": t.timeout, "duration_s": round(took, 3),
        "burst": burst or ("burst test: off (burst: false)" if t.kind == "http" and not t.burst.enabled else None),
        "default_credentials": creds, "skipped": s.skipped,
        "transcript": [{"request": e.what, "result": e.result, "ms": None if e.ms is None else round(e.ms, 1)}
                       for e in s.exchanges],
    }


def _run_target(s: Session) -> tuple[str, float]:
    from .consoles import probe_grafana, probe_rabbitmq, probe_s3
    from .datastores import exposure_check, probe_amqp, probe_kafka, probe_postgres, probe_redis
    from .http import probe_http
    from .telemetry import probe_loki, probe_prometheus
    from .tls import probe_tls, tls_outcomes

    t = s.target
    t0 = time.perf_counter()
    try:
        if t.kind not in ("http", "grafana", "rabbitmq", "s3", "prometheus", "loki") or t.exposure == "private":
            if not exposure_check(s):
                return t.name, time.perf_counter() - t0
        tls_ok = None
        if t.tls:
            facts = probe_tls(s)
            tls_outcomes(s, facts)
            tls_ok = facts.handshake_ok
        {"http": lambda: probe_http(s, tls_ok), "postgresql": lambda: probe_postgres(s),
         "redis": lambda: probe_redis(s), "kafka": lambda: probe_kafka(s), "amqp": lambda: probe_amqp(s),
         "grafana": lambda: probe_grafana(s), "rabbitmq": lambda: probe_rabbitmq(s),
         "s3": lambda: probe_s3(s), "prometheus": lambda: probe_prometheus(s),
         "loki": lambda: probe_loki(s)}[t.kind]()
    except BudgetExhausted as exc:
        s.skipped.append(str(exc))
    except Exception as exc:  # one target's surprise never stops the others; it is reported
        s.skipped.append(f"probe stopped early: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    finally:
        s.close()
    return t.name, time.perf_counter() - t0
