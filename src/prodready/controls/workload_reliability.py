"""Availability, probes, resources and scaling of workloads (Kubernetes and Compose through one model)."""

from __future__ import annotations

import math

from ..model import Loc
from ._util import containers, cref, is_datastore, label_selector_matches
from .base import control, failed, not_applicable, passed

SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "DeploymentConfig")


@control(
    id="reliability.readiness-probe", title="Long-running containers declare a readiness check",
    category="reliability", severity="high", evidence=["k8s", "compose"],
    rationale="Without a readiness check, traffic reaches a pod before it can serve and during overload; rolling "
              "updates then turn into outages.",
    remediation="Kubernetes:\n  readinessProbe:\n    httpGet: {path: /readyz, port: 8000}\n    periodSeconds: 5\n"
                "Compose: a `healthcheck:` (and `depends_on: {svc: {condition: service_healthy}}`).",
    references=["Kubernetes docs: Configure Liveness, Readiness and Startup Probes", "Google SRE book ch. 22"],
    concepts=["k8s.probe.readiness"], checklist=["reliability.readiness_probe", "reliability.health_endpoint"],
    phrases=["readiness probe", "health checks configured", "readiness checks"],
)
def readiness_probe(p):
    any_ = False
    for w, c in containers(p, production=True):
        if not w.long_running:
            continue
        any_ = True
        pr = c.probes.get("readiness")
        if pr is not None:
            yield passed(f"readiness via {pr.handler} {pr.target or ''}".strip(), pr.loc, cref(w, c))
        else:
            what = "no healthcheck" if w.source == "compose" else "no readinessProbe"
            yield failed(what, c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no long-running workloads")


@control(
    id="reliability.liveness-probe", title="Long-running containers declare a liveness check",
    category="reliability", severity="medium", evidence=["k8s", "compose"],
    rationale="A deadlocked process never exits; only a liveness check lets the orchestrator restart it.",
    remediation="Kubernetes: `livenessProbe` on a cheap endpoint that does not check dependencies (e.g. /healthz), "
                "distinct from the readiness endpoint.\nCompose: `healthcheck:` with `restart: unless-stopped`.",
    references=["Kubernetes docs: Configure Liveness, Readiness and Startup Probes"],
    concepts=["k8s.probe.liveness"], checklist=["reliability.liveness_probe"],
)
def liveness_probe(p):
    any_ = False
    for w, c in containers(p, production=True):
        if not w.long_running:
            continue
        any_ = True
        pr = c.probes.get("liveness")
        if pr is not None:
            yield passed(f"liveness via {pr.handler} {pr.target or ''}".strip(), pr.loc, cref(w, c))
        else:
            yield failed("no healthcheck" if w.source == "compose" else "no livenessProbe", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no long-running workloads")


def _hpa_for(p, w):
    h = p.autoscaler_for(w)
    return h if h is not None and h.kind == "HorizontalPodAutoscaler" else None


@control(
    id="reliability.multiple-replicas", title="Stateless services run more than one replica",
    category="reliability", severity="high", evidence=["k8s", "compose"],
    rationale="One replica means every deploy, node drain or crash is an outage.",
    remediation="Kubernetes: `spec.replicas: 3` (or an HPA with `minReplicas: 2`+). Compose (Swarm): "
                "`deploy.replicas: 2`.",
    references=["Google SRE book ch. 26", "Kubernetes docs: Running multiple instances"],
    concepts=["k8s.replicas.min2"], checklist=["reliability.multiple_replicas", "scalability.horizontal_scaling"],
    phrases=["multiple replicas", "high availability for services", "at least 2 instances"],
)
def multiple_replicas(p):
    any_ = False
    for w in p.workloads:
        if w.kind not in SCALABLE or w.dev_only or any(is_datastore(c) for c in w.containers):
            continue
        any_ = True
        hpa = _hpa_for(p, w)
        if hpa is not None:
            mn = (hpa.raw.get("spec") or {}).get("minReplicas", 1)
            if isinstance(mn, int) and mn >= 2:
                yield passed(f"autoscaled with minReplicas {mn} ({hpa.loc.path})", w.loc, w.ref)
            else:
                yield failed(f"autoscaler {hpa.name} allows scaling down to {mn} replica(s)", hpa.loc, w.ref)
            continue
        n = w.replicas if w.replicas is not None else 1
        if n >= 2:
            yield passed(f"{n} replicas", w.loc, w.ref)
        else:
            yield failed(f"{n} replica{'s' if n != 1 else ''}{' (replicas not set)' if w.replicas is None else ''}",
                         w.loc, w.ref)
    if not any_:
        yield not_applicable("no scalable stateless workloads (Deployments)")


@control(
    id="reliability.pod-disruption-budget", title="Multi-replica workloads have a PodDisruptionBudget that allows eviction",
    category="reliability", severity="medium", evidence=["k8s"],
    rationale="Without a PDB a node drain can evict every replica at once; a PDB that allows no disruption blocks "
              "node upgrades forever.",
    remediation="apiVersion: policy/v1\nkind: PodDisruptionBudget\nspec:\n  maxUnavailable: 1\n  selector:\n"
                "    matchLabels: {app: api}",
    references=["Kubernetes docs: Specifying a Disruption Budget"],
    concepts=["k8s.pdb.missing"], checklist=["reliability.pod_disruption_budget"],
    phrases=["pod disruption budget", "PDB"],
)
def pod_disruption_budget(p):
    pdbs_by_ns: dict = {}
    for b in p.objects("PodDisruptionBudget"):
        pdbs_by_ns.setdefault(b.namespace, []).append(b)
    any_ = False
    for w in p.workloads:
        if w.source != "k8s" or w.kind not in ("Deployment", "StatefulSet"):
            continue
        hpa = _hpa_for(p, w)
        n = w.replicas if w.replicas is not None else 1
        if hpa is not None:
            n = max(n, (hpa.raw.get("spec") or {}).get("minReplicas", 1) or 1)
        if n < 2 and hpa is None:
            continue  # a single replica cannot be protected by a budget; multiple-replicas reports that
        any_ = True
        match = [b for b in pdbs_by_ns.get(w.namespace, ())
                 if label_selector_matches((b.raw.get("spec") or {}).get("selector"), w.pod_labels)]
        if not match:
            yield failed(f"no PodDisruptionBudget selects its pods ({n} replicas)", w.loc, w.ref)
            continue
        b = match[0]
        spec = b.raw.get("spec") or {}
        mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
        if _pdb_count(mx, n) == 0 or (_pdb_count(mn, n) or 0) >= n:
            yield failed(f"PodDisruptionBudget {b.name} allows no voluntary disruption at {n} replicas "
                         f"(minAvailable={mn}, maxUnavailable={mx})", b.loc, w.ref)
        else:
            yield passed(f"PodDisruptionBudget {b.name} (minAvailable={mn}, maxUnavailable={mx})", b.loc, w.ref)
    if not any_:
        yield not_applicable("no multi-replica Deployments/StatefulSets")


def _pdb_count(value, replicas: int) -> int | None:
    """A PDB's minAvailable/maxUnavailable as a pod count; Kubernetes rounds percentages up."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().endswith("%") and value.strip()[:-1].isdigit():
        return math.ceil(int(value.strip()[:-1]) * replicas / 100)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@control(
    id="reliability.restart-policy", title="Compose services restart automatically", category="reliability",
    severity="medium", evidence=["compose"],
    rationale="Without a restart policy a crashed container stays down until someone notices.",
    remediation="`restart: unless-stopped` (or `deploy.restart_policy.condition: on-failure`) on every "
                "long-running service.",
    references=["Docker docs: Start containers automatically"],
    checklist=["reliability.automated_failover"],
)
def restart_policy(p):
    any_ = False
    for w in p.workloads:
        if w.source != "compose" or w.dev_only:
            continue
        any_ = True
        if w.restart and w.restart not in ("no", "none"):
            yield passed(f"restart: {w.restart}", w.loc, w.ref)
        else:
            yield failed("no restart policy", w.loc, w.ref)
    if not any_:
        yield not_applicable("no production Compose services"
                             + next((f" ({w.dev_only})" for w in p.workloads if w.dev_only), ""))


@control(
    id="reliability.resource-limits", title="Containers set memory requests and limits", category="reliability",
    severity="high", evidence=["k8s", "compose"],
    rationale="A container without a memory limit can take the node's memory and get its neighbours OOM-killed; "
              "without requests the scheduler packs pods blindly.",
    remediation="resources:\n  requests: {cpu: 100m, memory: 256Mi}\n  limits: {memory: 512Mi}\n"
                "Compose: `deploy.resources.limits.memory: 512M`.",
    references=["Kubernetes docs: Resource Management for Pods and Containers", "CIS Kubernetes Benchmark 5.7"],
    concepts=["k8s.resources.limits.memory"], checklist=["reliability.resource_limits", "scalability.resource_sizing"],
    phrases=["resource limits", "cpu and memory limits", "requests and limits"],
)
def resource_limits(p):
    any_ = False
    for w, c in containers(p, production=True):
        any_ = True
        missing = []
        if "memory" not in c.limits:
            missing.append("memory limit")
        if w.source == "k8s" and "memory" not in c.requests and "memory" not in c.limits:
            missing.append("memory request")
        if missing:
            yield failed(f"no {' and no '.join(missing)}", c.loc, cref(w, c))
        else:
            yield passed(f"memory limit {c.limits['memory']}", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no workloads")


@control(
    id="scalability.autoscaling", title="HTTP services autoscale horizontally", category="scalability",
    severity="medium", evidence=["k8s"],
    rationale="Fixed replica counts are either over-provisioned or under water at peak; an autoscaler follows load.",
    remediation="apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec:\n  scaleTargetRef: "
                "{apiVersion: apps/v1, kind: Deployment, name: api}\n  minReplicas: 2\n  maxReplicas: 10\n"
                "  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, "
                "averageUtilization: 70}}}]",
    references=["Kubernetes docs: Horizontal Pod Autoscaling"],
    checklist=["scalability.hpa"],
    phrases=["autoscaling", "horizontal pod autoscaler", "auto-scaling configured"],
)
def autoscaling(p):
    any_ = False
    for w in p.workloads:
        if w.source != "k8s" or w.kind not in ("Deployment", "StatefulSet") or any(is_datastore(c) for c in w.containers):
            continue
        if not p.services_selecting(w):
            continue
        any_ = True
        if p.autoscaler_for(w) is not None:
            yield passed("targeted by an autoscaler", w.loc, w.ref)
        else:
            yield failed("serves traffic through a Service but no HorizontalPodAutoscaler/KEDA ScaledObject targets it",
                         w.loc, w.ref)
    if not any_:
        yield not_applicable("no Kubernetes workloads behind a Service")


@control(
    id="scalability.hpa-valid", title="Autoscalers target an existing workload with a sane range",
    category="scalability", severity="medium", evidence=["k8s"],
    rationale="An HPA pointing at a renamed Deployment silently does nothing; `maxReplicas <= minReplicas` cannot "
              "scale; `minReplicas: 1` scales a service down to a single point of failure.",
    remediation="Check `scaleTargetRef` names the Deployment, and set `minReplicas >= 2`, `maxReplicas > minReplicas`.",
    references=["Kubernetes docs: Horizontal Pod Autoscaling"],
    concepts=["k8s.hpa.no_target", "k8s.hpa.max_not_gt_min", "k8s.hpa.min_replicas_min2"],
    checklist=["scalability.hpa"],
)
def hpa_valid(p):
    hpas = p.objects("HorizontalPodAutoscaler")
    if not hpas:
        yield not_applicable("no HorizontalPodAutoscalers")
        return
    names = {(o.kind, o.name, o.namespace or None) for o in p.k8s_objects}
    for h in hpas:
        spec = h.raw.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        mn, mx = spec.get("minReplicas", 1), spec.get("maxReplicas")
        problems = []
        if (ref.get("kind"), ref.get("name"), h.namespace or None) not in names:
            problems.append(f"targets {ref.get('kind')}/{ref.get('name')}, which is not in the manifests")
        if isinstance(mn, int) and isinstance(mx, int) and mx <= mn:
            problems.append(f"maxReplicas {mx} is not above minReplicas {mn}")
        if isinstance(mn, int) and mn < 2:
            problems.append(f"minReplicas {mn} (< 2)")
        if problems:
            yield failed("; ".join(problems), h.loc, h.ref)
        else:
            yield passed(f"targets {ref.get('kind')}/{ref.get('name')}, {mn}..{mx} replicas", h.loc, h.ref)


@control(
    id="delivery.rolling-update", title="Deployments roll out gradually", category="delivery", severity="low",
    evidence=["k8s"],
    rationale="`Recreate` stops every old pod before starting new ones: each deploy is an outage.",
    remediation="strategy:\n  type: RollingUpdate\n  rollingUpdate: {maxUnavailable: 0, maxSurge: 25%}",
    references=["Kubernetes docs: Deployments, Strategy"],
    concepts=["k8s.deployment.rolling_update"], checklist=["cicd.rolling_updates"],
    phrases=["rolling updates", "zero-downtime deployment"],
)
def rolling_update(p):
    any_ = False
    for w in p.workloads:
        if w.source != "k8s" or w.kind != "Deployment":
            continue
        any_ = True
        t = (w.strategy or {}).get("type", "RollingUpdate")
        if t == "RollingUpdate":
            yield passed("RollingUpdate strategy", w.loc, w.ref)
        else:
            yield failed(f"{t} strategy", Loc(w.loc.path, w.loc.line), w.ref)
    if not any_:
        yield not_applicable("no Deployments")


@control(
    id="security.ingress-tls", title="Ingress traffic is served over TLS", category="security", severity="high",
    evidence=["k8s", "nginx"],
    rationale="Plain HTTP exposes credentials and session cookies to anyone on the path.",
    remediation="Kubernetes Ingress: `spec.tls: [{hosts: [api.example.com], secretName: api-tls}]` (cert-manager "
                "can issue it).\nnginx: `listen 443 ssl;` with `ssl_certificate`, plus a port-80 server that "
                "`return 301 https://$host$request_uri;`.",
    references=["OWASP ASVS 9.1.1", "Mozilla Server Side TLS"],
    concepts=["k8s.ingress.tls_missing"], checklist=["security.tls_enabled"],
    phrases=["enable HTTPS", "TLS everywhere", "SSL certificates"],
)
def ingress_tls(p):
    any_ = False
    for ing in p.objects("Ingress"):
        any_ = True
        if (ing.raw.get("spec") or {}).get("tls"):
            yield passed("tls configured", ing.loc, ing.ref)
        else:
            yield failed("no spec.tls", ing.loc, ing.ref)
    for path, tree in p.nginx.items():
        for srv in _nginx_servers(tree):
            listens = [d for d in srv.block or [] if d.name == "listen"]
            if not listens:
                continue
            any_ = True
            ssl = [d for d in listens if "ssl" in d.args or any(a.endswith("443") for a in d.args)]
            redirect = any(d.name in ("return", "rewrite") and "https://" in " ".join(d.args)
                           for d in _walk_block(srv.block or [], skip_location=lambda loc: loc.args[-1:] != ["/"]))
            if ssl:
                yield passed("server listens with TLS", Loc(path, ssl[0].line), f"nginx server {path}:{srv.line}")
            elif redirect:
                yield passed("plain-HTTP server redirects to HTTPS", Loc(path, srv.line), f"nginx server {path}:{srv.line}")
            else:
                yield failed("server listens on plain HTTP without redirecting to HTTPS", Loc(path, listens[0].line),
                             f"nginx server {path}:{srv.line}")
    if not any_:
        yield not_applicable("no Ingress or nginx server")


def _nginx_servers(tree):
    stack = list(tree or [])
    while stack:
        d = stack.pop()
        if d.name == "server" and d.block is not None:
            yield d
        elif d.block:
            stack.extend(d.block)


def _walk_block(block, skip_location=None):
    """Every directive under ``block``; ``skip_location(d)`` leaves out the ``location`` blocks it is true for
    (a redirect inside ``location /api`` leaves the rest of the server on plain HTTP)."""
    stack = list(block)
    while stack:
        d = stack.pop()
        if d.name == "location" and skip_location is not None and skip_location(d):
            continue
        yield d
        if d.block:
            stack.extend(d.block)
