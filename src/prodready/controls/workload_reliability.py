"""Availability, probes, resources and scaling of workloads (Kubernetes and Compose through one model)."""

from __future__ import annotations

import math

from ..model import Loc
from ._k8s import (
    OWN,
    Objects,
    effective_request,
    hpa_for,
    hpa_max,
    hpa_min,
    lst,
    m,
    ns,
    obj_ref,
    pod_index,
    service_targets,
)
from ._util import containers, cref, datastore_workloads
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
    phrases=["liveness probe", "restart hung containers"],
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
    hpas = hpa_for(p)
    stores = datastore_workloads(p)
    any_ = False
    for w in p.workloads:
        if w.kind not in SCALABLE or w.dev_only or id(w) in stores:
            continue
        any_ = True
        hpa = hpas.get(w)
        if hpa is not None:
            mn = hpa_min(hpa)
            if mn >= 2:
                yield passed(f"autoscaled with minReplicas {mn} ({hpa.loc.path})", w.loc, obj_ref(w))
            else:
                yield failed(f"autoscaler {hpa.name} allows scaling down to {mn} replica(s)", hpa.loc, obj_ref(w))
            continue
        n = w.replicas if w.replicas is not None else 1
        if n >= 2:
            yield passed(f"{n} replicas", w.loc, obj_ref(w))
        else:
            yield failed(f"{n} replica{'s' if n != 1 else ''}{' (replicas not set)' if w.replicas is None else ''}",
                         w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no scalable stateless workloads (Deployments)")


@control(
    id="reliability.pod-disruption-budget", title="Multi-replica workloads have a PodDisruptionBudget that allows eviction",
    category="reliability", severity="medium", evidence=["k8s"],
    rationale="Without a PDB a node drain can evict every replica at once; a PDB with no policy protects nothing; "
              "one that allows no disruption — maxUnavailable 0, minAvailable 100%, or a minAvailable not below "
              "the replica count (or the autoscaler's minReplicas) — blocks node upgrades forever.",
    remediation="apiVersion: policy/v1\nkind: PodDisruptionBudget\nspec:\n  maxUnavailable: 1\n  selector:\n"
                "    matchLabels: {app: api}",
    references=["Kubernetes docs: Specifying a Disruption Budget"],
    concepts=["k8s.pdb.missing", "k8s.pdb.no_policy", "k8s.pdb.zero_disruptions", "k8s.pdb.min_available_vs_hpa"],
    checklist=["reliability.pod_disruption_budget"],
    phrases=["pod disruption budget", "PDB"],
)
def pod_disruption_budget(p):
    pods = pod_index(p)
    hpas = hpa_for(p)
    covered: dict[int, list] = {}
    static_bad: set[int] = set()
    pdbs = p.objects("PodDisruptionBudget")
    for b in pdbs:
        spec = m(b.raw.get("spec"))
        sel = spec.get("selector")
        if b.api_version == "policy/v1beta1" and isinstance(sel, dict) and not sel:
            sel = None  # an empty selector selected no pods before policy/v1
        for w in pods.select(b.namespace, sel, near=b):
            covered.setdefault(id(w), []).append(b)
        mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
        if mn is None and mx is None:
            static_bad.add(id(b))
            yield failed("sets neither minAvailable nor maxUnavailable: it protects nothing", b.loc, b.ref,
                         concept="k8s.pdb.no_policy")
        elif _never_disruptable(mn, mx):
            static_bad.add(id(b))
            yield failed(f"allows no voluntary disruption (minAvailable={mn}, maxUnavailable={mx}): node drains "
                         f"and upgrades block", b.loc, b.ref, concept="k8s.pdb.zero_disruptions")
        else:
            yield passed(f"minAvailable={mn}, maxUnavailable={mx}", b.loc, b.ref)
    any_ = bool(pdbs)
    for w in p.workloads:
        if w.source != "k8s" or w.kind not in PDB_KINDS:
            continue
        h = hpas.get(w)
        n = hpa_min(h) if h is not None else w.replicas  # None: not stated in the manifest
        match = covered.get(id(w), [])
        if h is None and n is not None and n < 2:
            # a single replica cannot be protected by a budget (multiple-replicas reports it); a budget that
            # forbids evicting it only blocks node drains
            for b in match:
                if id(b) not in static_bad and _blocks(b, n):
                    any_ = True
                    yield failed(f"PodDisruptionBudget {b.name} allows no eviction of its single replica: node "
                                 f"drains block", b.loc, obj_ref(w), concept="k8s.pdb.zero_disruptions")
            continue
        any_ = True
        count = f"{n} replicas" if n is not None else "replicas not set"
        if not match:
            yield failed(f"no PodDisruptionBudget selects its pods ({count})", w.loc, obj_ref(w), concept="k8s.pdb.missing")
            continue
        b = match[0]
        spec = m(b.raw.get("spec"))
        mn = spec.get("minAvailable")
        if h is not None and id(b) not in static_bad and (_pdb_count(mn, n) or 0) >= n:
            yield failed(f"PodDisruptionBudget {b.name} minAvailable={mn} is not below {obj_ref(h)} minReplicas "
                         f"{n}: at minimum scale no pod can be evicted", b.loc, obj_ref(w),
                         concept="k8s.pdb.min_available_vs_hpa")
        elif h is None and n is not None and id(b) not in static_bad and _blocks(b, n):
            yield failed(f"PodDisruptionBudget {b.name} allows no voluntary disruption at {n} replicas "
                         f"(minAvailable={mn}, maxUnavailable={spec.get('maxUnavailable')})", b.loc, obj_ref(w),
                         concept="k8s.pdb.zero_disruptions")
        else:
            yield passed(f"PodDisruptionBudget {b.name} (minAvailable={mn}, maxUnavailable="
                         f"{spec.get('maxUnavailable')}) at {count}", b.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no PodDisruptionBudgets and no multi-replica Deployments/StatefulSets")


PDB_KINDS = ("Deployment", "StatefulSet", "DeploymentConfig")


def _never_disruptable(mn, mx) -> bool:
    """A budget that forbids every voluntary eviction whatever the replica count."""
    if mx is not None and str(mx).strip() in ("0", "0%"):
        return True
    return mn is not None and str(mn).strip() == "100%"


def _blocks(b, replicas: int) -> bool:
    spec = m(b.raw.get("spec"))
    mx = _pdb_count(spec.get("maxUnavailable"), replicas)
    mn = _pdb_count(spec.get("minAvailable"), replicas)
    return mx == 0 or (mn is not None and mn >= replicas)


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
    phrases=["restart policy", "containers restart automatically"],
)
def restart_policy(p):
    any_ = False
    for w in p.workloads:
        if w.source != "compose" or w.dev_only:
            continue
        any_ = True
        if w.restart and w.restart not in ("no", "none"):
            yield passed(f"restart: {w.restart}", w.loc, obj_ref(w))
        else:
            yield failed("no restart policy", w.loc, obj_ref(w))
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
    concepts=["k8s.resources.limits.memory", "k8s.resources.requests.memory"],
    checklist=["reliability.resource_limits", "scalability.resource_sizing"],
    phrases=["resource limits", "cpu and memory limits", "requests and limits"],
)
def resource_limits(p):
    any_ = False
    for w, c in containers(p, production=True):
        any_ = True
        if "memory" in c.limits:
            yield passed(f"memory limit {c.limits['memory']}", c.loc, cref(w, c))
            continue
        yield failed("no memory limit", c.loc, cref(w, c), concept="k8s.resources.limits.memory")
        if w.source == "k8s" and "memory" not in c.requests:  # a request defaults to the limit when only that is set
            yield failed("no memory request", c.loc, cref(w, c), concept="k8s.resources.requests.memory")
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
    served: set[int] = set()  # workloads some Service selects (resolved from the Services: linear)
    for s in p.objects("Service"):
        served.update(id(w) for w in service_targets(p, s))
    any_ = False
    stores = datastore_workloads(p)
    for w in p.workloads:
        if w.source != "k8s" or w.kind not in ("Deployment", "StatefulSet") or id(w) in stores:
            continue
        if id(w) not in served:
            continue
        any_ = True
        if p.autoscaler_for(w) is not None:
            yield passed("targeted by an autoscaler", w.loc, obj_ref(w))
        else:
            yield failed("serves traffic through a Service but no HorizontalPodAutoscaler/KEDA ScaledObject targets it",
                         w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no Kubernetes workloads behind a Service")


@control(
    id="scalability.hpa-valid", title="Autoscalers target an existing workload with a sane range",
    category="scalability", severity="medium", evidence=["k8s"],
    rationale="An HPA pointing at a renamed Deployment silently does nothing; `maxReplicas <= minReplicas` cannot "
              "scale; `minReplicas: 1` scales a service down to a single point of failure; a CPU or memory "
              "utilisation target needs a request on every container of the target, or the HPA cannot compute it.",
    remediation="Check `scaleTargetRef` names the Deployment, set `minReplicas >= 2`, `maxReplicas > minReplicas`, "
                "and give every container of the target `resources.requests.cpu` (or memory) for the metric.",
    references=["Kubernetes docs: Horizontal Pod Autoscaling"],
    concepts=["k8s.hpa.no_target", "k8s.hpa.max_not_gt_min", "k8s.hpa.min_replicas_min2"],
    checklist=["scalability.hpa"],
    phrases=["HPA configured correctly", "autoscaler min and max replicas"],
)
def hpa_valid(p):
    hpas = p.objects("HorizontalPodAutoscaler")
    if not hpas:
        yield not_applicable("no HorizontalPodAutoscalers")
        return
    names = Objects(p.k8s_objects)
    workloads = Objects(w for w in p.workloads if w.source == "k8s")
    for h in hpas:
        spec = m(h.raw.get("spec"))
        ref = m(spec.get("scaleTargetRef"))
        target = (str(ref.get("kind", "")), ns(h.namespace), str(ref.get("name", "")))
        mn, mx = hpa_min(h), hpa_max(h)
        bad = False
        if names.get(*target, near=h) is None:
            bad = True
            yield failed(f"targets {target[0]}/{target[2]}, which is not in the manifests", h.loc, h.ref,
                         concept="k8s.hpa.no_target")
        if mx is not None and mx <= mn:
            bad = True
            yield failed(f"maxReplicas {mx} is not above minReplicas {mn}: it cannot scale", h.loc, h.ref,
                         concept="k8s.hpa.max_not_gt_min")
        if mn < 2:
            bad = True
            yield failed(f"minReplicas {mn}{' (default)' if 'minReplicas' not in spec else ''} (< 2): scales down to "
                         f"a single point of failure", h.loc, h.ref, concept="k8s.hpa.min_replicas_min2")
        w = workloads.get(*target, near=h)
        for resource, container in (_utilization_metrics(h) if w is not None else []):
            lacking = [c.name for c in w.app_containers if (container is None or c.name == container)
                       and not effective_request(c, resource)]
            if lacking:
                bad = True
                yield failed(f"scales on {resource} utilisation but {obj_ref(w)} container(s) {', '.join(lacking)} request "
                             f"no {resource}: the HPA cannot compute utilisation", h.loc, h.ref,
                             concept=OWN + "hpa.metric_requests")
        if not bad:
            yield passed(f"targets {target[0]}/{target[2]}, {mn}..{mx} replicas", h.loc, h.ref)


def _utilization_metrics(h) -> list[tuple[str, str | None]]:
    """(resource, container or None) of every utilisation metric of an HPA, whose computation needs requests."""
    spec = m(h.raw.get("spec"))
    if h.api_version == "autoscaling/v1" or "targetCPUUtilizationPercentage" in spec:
        return [("cpu", None)]  # autoscaling/v1 scales on CPU utilisation (80% when unset)
    metrics = lst(spec.get("metrics"))
    if not metrics:
        return [("cpu", None)]  # autoscaling/v2 default: 80% average CPU utilisation
    out = []
    for mt in metrics:
        mt = m(mt)
        if mt.get("type") == "Resource":
            r = m(mt.get("resource"))
            if m(r.get("target")).get("type") == "Utilization" or "targetAverageUtilization" in r:
                out.append((str(r.get("name")), None))
        elif mt.get("type") == "ContainerResource":
            r = m(mt.get("containerResource"))
            if m(r.get("target")).get("type") == "Utilization" or "targetAverageUtilization" in r:
                out.append((str(r.get("name")), str(r.get("container"))))
    return out


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
            yield passed("RollingUpdate strategy", w.loc, obj_ref(w))
        else:
            yield failed(f"{t} strategy", Loc(w.loc.path, w.loc.line), obj_ref(w))
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
        if m(ing.raw.get("spec")).get("tls"):
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
