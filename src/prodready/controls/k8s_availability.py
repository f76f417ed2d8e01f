"""Kubernetes availability and correctness: spreading, replicas, probes, resources, API versions and the
cross-object references (Service -> pods, Ingress -> Service, pods -> ConfigMaps/Secrets) that break a
deployment silently when they do not resolve.

References are resolved by kind, name and namespace (unset namespace = ``default``).
"""

from __future__ import annotations

from collections import Counter

from ..model import Loc
from ._k8s import (
    BATCH,
    OWN,
    SCALABLE,
    at,
    by_name,
    cref,
    effective_request,
    hpa_for,
    hpa_max,
    hpa_min,
    item_line,
    iter_pod_volumes,
    k8s_containers,
    k8s_workloads,
    lst,
    m,
    ns,
    obj_ref,
    quantity,
    scope,
    selector_matches,
    service_targets,
)
from .base import control, failed, not_applicable, passed

SPREAD_KEYS = {"kubernetes.io/hostname", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone",
               "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"}


def _max_replicas(w, hpas) -> int | None:
    """The most replicas a controller may run: its HPA's maximum, else spec.replicas; None when unstated."""
    h = hpas.get(w)
    if h is not None:
        return max(hpa_max(h) or 1, hpa_min(h))
    return w.replicas


def _spreads(w) -> tuple[bool, str]:
    """Does the pod template spread its own replicas over nodes or zones (anti-affinity or topology spread)?"""
    spec = w.pod_spec
    own_ns = ns(w.namespace)
    anti = m(m(spec.get("affinity")).get("podAntiAffinity"))
    terms = [t for t in lst(anti.get("requiredDuringSchedulingIgnoredDuringExecution")) if isinstance(t, dict)]
    terms += [m(t.get("podAffinityTerm")) for t in lst(anti.get("preferredDuringSchedulingIgnoredDuringExecution"))
              if isinstance(t, dict)]
    for t in terms:
        if str(t.get("topologyKey", "")) not in SPREAD_KEYS:
            continue
        if not selector_matches(t.get("labelSelector"), w.pod_labels):
            continue
        namespaces = [ns(x) for x in lst(t.get("namespaces"))]
        if namespaces and own_ns not in namespaces:
            continue
        return True, f"podAntiAffinity on {t.get('topologyKey')}"
    for c in lst(spec.get("topologySpreadConstraints")):
        c = m(c)
        if str(c.get("topologyKey", "")) in SPREAD_KEYS and selector_matches(c.get("labelSelector"),
                                                                                   w.pod_labels):
            return True, f"topologySpreadConstraints on {c.get('topologyKey')}"
    return False, ""


@control(
    id="reliability.pod-anti-affinity", title="Replicas are spread across nodes",
    category="reliability", severity="medium", evidence=["k8s"],
    rationale="The scheduler may place every replica on the same node: one node failure, drain or noisy "
              "neighbour then takes the whole service down despite the replica count. A podAntiAffinity (or "
              "topology spread constraint) on the hostname or zone whose selector matches the pods' own labels "
              "keeps them apart.",
    remediation="affinity:\n  podAntiAffinity:\n    preferredDuringSchedulingIgnoredDuringExecution:\n"
                "      - weight: 100\n        podAffinityTerm:\n          topologyKey: kubernetes.io/hostname\n"
                "          labelSelector: {matchLabels: {app: api}}",
    references=["Kubernetes docs: Assigning Pods to Nodes (inter-pod anti-affinity)",
                "Kubernetes docs: Pod Topology Spread Constraints"],
    concepts=["k8s.anti_affinity"], checklist=["reliability.multi_zone", "reliability.multiple_replicas"],
    phrases=["pod anti-affinity", "spread replicas across nodes", "zone redundancy"],
)
def pod_anti_affinity(p):
    hpas = hpa_for(p)
    any_ = False
    for w in k8s_workloads(p):
        if w.kind not in SCALABLE:
            continue
        n = _max_replicas(w, hpas)
        if n is not None and n <= 1:
            continue
        any_ = True
        ok, how = _spreads(w)
        if ok:
            yield passed(how, w.loc, obj_ref(w))
        else:
            count = f"{n} replicas" if n is not None else "replicas not set"
            yield failed(f"{count} and no podAntiAffinity/topology spread on hostname or zone that matches its own "
                         f"pods", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no multi-replica Deployments/StatefulSets")


@control(
    id="reliability.topology-spread-valid", title="Topology spread constraints are valid and select their own pods",
    category="reliability", severity="medium", evidence=["k8s"],
    rationale="An invalid topologySpreadConstraints entry is rejected at apply time, or — without a labelSelector "
              "matching the pods' own labels — counts no pods and spreads nothing while looking configured.",
    remediation="topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: topology.kubernetes.io/zone\n"
                "    whenUnsatisfiable: ScheduleAnyway\n    labelSelector: {matchLabels: {app: api}}",
    references=["Kubernetes docs: Pod Topology Spread Constraints"],
    concepts=["k8s.topology_spread.invalid"], checklist=["reliability.multi_zone"],
    phrases=["valid topology spread constraints"],
)
def topology_spread_valid(p):
    any_ = False
    for w in k8s_workloads(p):
        tsc = w.pod_spec.get("topologySpreadConstraints")
        if tsc is None:
            continue
        any_ = True
        where = at(w.loc, w.pod_spec, "topologySpreadConstraints")
        if not isinstance(tsc, list):
            yield failed("topologySpreadConstraints is not a list", where, obj_ref(w), concept="k8s.topology_spread.invalid")
            continue
        bad = False
        for i, c in enumerate(tsc):
            loc = Loc(w.loc.path, item_line(tsc, i) or where.line)
            problems = _tsc_problems(c)
            if problems:
                bad = True
                yield failed(f"constraint {i + 1}: {'; '.join(problems)}", loc, obj_ref(w),
                             concept="k8s.topology_spread.invalid")
            elif not selector_matches(m(c).get("labelSelector"), w.pod_labels):
                bad = True
                yield failed(f"constraint {i + 1}: labelSelector does not match the pods' own labels, so it "
                             f"spreads nothing", loc, obj_ref(w), concept=OWN + "topology_spread.selector")
        if not bad:
            yield passed(f"{len(tsc)} valid constraint(s)", where, obj_ref(w))
    if not any_:
        yield not_applicable("no topologySpreadConstraints")


def _tsc_problems(c) -> list[str]:
    if not isinstance(c, dict):
        return ["not a mapping"]
    out = []
    skew = c.get("maxSkew")
    if not isinstance(skew, int) or isinstance(skew, bool) or skew < 1:
        out.append(f"maxSkew must be an integer >= 1 (is {skew!r})")
    if not c.get("topologyKey"):
        out.append("no topologyKey")
    wu = c.get("whenUnsatisfiable")
    if wu not in ("DoNotSchedule", "ScheduleAnyway"):
        out.append(f"whenUnsatisfiable must be DoNotSchedule or ScheduleAnyway (is {wu!r})")
    if "minDomains" in c:
        md = c.get("minDomains")
        if not isinstance(md, int) or isinstance(md, bool) or md < 1:
            out.append(f"minDomains must be an integer >= 1 (is {md!r})")
        elif wu != "DoNotSchedule":
            out.append("minDomains requires whenUnsatisfiable: DoNotSchedule")
    if not isinstance(c.get("labelSelector"), dict):
        out.append("no labelSelector (it would count no pods)")
    return out


@control(
    id="reliability.topology-spread-constraints", title="Replicated pods declare topology spread constraints",
    category="reliability", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: an explicit topologySpreadConstraints entry states how replicas are balanced across zones "
              "and nodes instead of relying on scheduler defaults.",
    remediation="topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: topology.kubernetes.io/zone\n"
                "    whenUnsatisfiable: ScheduleAnyway\n    labelSelector: {matchLabels: {app: api}}",
    references=["Kubernetes docs: Pod Topology Spread Constraints", "Polaris topologySpreadConstraint"],
    concepts=["k8s.topology_spread.missing"], checklist=["reliability.multi_zone"],
    phrases=["topology spread constraints", "spread pods across zones"],
)
def topology_spread_constraints(p):
    hpas = hpa_for(p)
    any_ = False
    for w in k8s_workloads(p):
        if w.kind not in SCALABLE:
            continue
        n = _max_replicas(w, hpas)
        if n is not None and n <= 1:
            continue
        any_ = True
        if w.pod_spec.get("topologySpreadConstraints"):
            yield passed("topologySpreadConstraints set", w.loc, obj_ref(w))
        else:
            yield failed("no topologySpreadConstraints", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no replicated Deployments/StatefulSets")


@control(
    id="reliability.min-three-replicas", title="Services run at least three replicas",
    category="reliability", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: with two replicas, a rolling update or a node drain leaves a single pod carrying all traffic "
              "and no redundancy; three keep a spare while one is down.",
    remediation="spec:\n  replicas: 3\n(or an HPA with `minReplicas: 3`)",
    references=["kube-linter minimum-three-replicas, hpa-minimum-three-replicas"],
    concepts=["k8s.replicas.min3", "k8s.hpa.min_replicas_min3"], checklist=["reliability.multiple_replicas"],
    phrases=["at least three replicas", "minimum three replicas"],
)
def min_three_replicas(p):
    hpas = hpa_for(p)
    any_ = False
    for w in k8s_workloads(p):
        if w.kind not in SCALABLE:
            continue
        any_ = True
        h = hpas.get(w)
        if h is not None:
            continue  # judged on the autoscaler below
        n = w.replicas if w.replicas is not None else 1
        if n >= 3:
            yield passed(f"{n} replicas", w.loc, obj_ref(w))
        else:
            yield failed(f"{n} replica(s){' (not set)' if w.replicas is None else ''}", w.loc, obj_ref(w),
                         concept="k8s.replicas.min3")
    for h in p.objects("HorizontalPodAutoscaler"):
        any_ = True
        mn = hpa_min(h)
        if mn >= 3:
            yield passed(f"minReplicas {mn}", h.loc, obj_ref(h))
        else:
            yield failed(f"minReplicas {mn} (< 3)", at(h.loc, m(h.raw.get("spec")), "minReplicas"), obj_ref(h),
                         concept="k8s.hpa.min_replicas_min3")
    if not any_:
        yield not_applicable("no replicated workloads or autoscalers")


@control(
    id="reliability.priority-class", title="Pods declare a priority class",
    category="reliability", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: without priorityClassName every pod has the same priority, so under node pressure the "
              "scheduler may preempt or evict a critical service to place a batch job.",
    remediation="apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: service-critical}\n"
                "value: 100000\n---\n# pod spec\npriorityClassName: service-critical",
    references=["Kubernetes docs: Pod Priority and Preemption"],
    concepts=["k8s.priority_class.missing"], checklist=["reliability.k8s_resource_quotas"],
    phrases=["pod priority class", "priorityClassName"],
)
def priority_class(p):
    any_ = False
    for w in k8s_workloads(p):
        any_ = True
        pc = w.pod_spec.get("priorityClassName")
        if pc:
            yield passed(f"priorityClassName {pc}", w.loc, obj_ref(w))
        else:
            yield failed("no priorityClassName", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no Kubernetes workloads")


@control(
    id="reliability.cronjob-starting-deadline", title="CronJobs set a starting deadline",
    category="reliability", severity="low", evidence=["k8s"],
    rationale="Without startingDeadlineSeconds the CronJob controller counts every missed schedule since the last "
              "run; after 100 misses (controller downtime, a long suspension) it stops scheduling the job for good "
              "and only logs an error.",
    remediation="spec:\n  startingDeadlineSeconds: 300   # run late by at most 5 minutes, else skip this run\n"
                "  concurrencyPolicy: Forbid",
    references=["Kubernetes docs: CronJob limitations"],
    concepts=["k8s.cronjob.starting_deadline"], checklist=["reliability.automated_failover"],
    phrases=["cronjob starting deadline", "scheduled jobs do not silently stop"],
)
def cronjob_starting_deadline(p):
    any_ = False
    for w in k8s_workloads(p):
        if w.kind != "CronJob":
            continue
        any_ = True
        spec = m(w.raw.get("spec"))
        d = spec.get("startingDeadlineSeconds")
        if isinstance(d, int) and not isinstance(d, bool) and d > 0:
            yield passed(f"startingDeadlineSeconds {d}", at(w.loc, spec, "startingDeadlineSeconds"), obj_ref(w))
        else:
            yield failed("no startingDeadlineSeconds" if d is None else f"startingDeadlineSeconds {d!r}", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no CronJobs")


@control(
    id="reliability.statefulset-headless-service", title="StatefulSets name an existing headless Service",
    category="reliability", severity="medium", evidence=["k8s"],
    rationale="A StatefulSet's pods get stable DNS names (`db-0.db`) only through the governing headless Service "
              "named in `serviceName`; if it is missing, not headless or selects other pods, peers cannot find "
              "each other and clustered datastores fail to form.",
    remediation="apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec:\n  clusterIP: None\n  selector: {app: db}\n"
                "  ports: [{name: db, port: 5432}]\n---\n# StatefulSet\nspec:\n  serviceName: db",
    references=["Kubernetes docs: StatefulSets (Stable Network ID)"],
    concepts=["k8s.statefulset.headless_service"], checklist=["reliability.stateful_cluster_ha"],
    phrases=["statefulset headless service", "stable network identity"],
)
def statefulset_headless_service(p):
    svcs = by_name(p, "Service")
    any_ = False
    for w in k8s_workloads(p):
        if w.kind != "StatefulSet":
            continue
        any_ = True
        spec = m(w.raw.get("spec"))
        name = spec.get("serviceName")
        if not name:
            yield failed("no serviceName (no stable network identity for its pods)", w.loc, obj_ref(w))
            continue
        where = at(w.loc, spec, "serviceName")
        svc = svcs.get("Service", w.namespace, str(name), near=w)
        if svc is None:
            yield failed(f"serviceName {name} names no Service in its namespace", where, obj_ref(w))
            continue
        sspec = m(svc.raw.get("spec"))
        sel = m(sspec.get("selector"))
        if str(sspec.get("clusterIP", "")) != "None":
            yield failed(f"Service {name} is not headless (clusterIP: None)", svc.loc, obj_ref(w))
        elif not sel or not all(w.pod_labels.get(str(k)) == str(v) for k, v in sel.items()):
            yield failed(f"headless Service {name} does not select the StatefulSet's pods", svc.loc, obj_ref(w))
        else:
            yield passed(f"headless Service {name}", where, obj_ref(w))
    if not any_:
        yield not_applicable("no StatefulSets")


_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
_PROBE_KEYS = (("liveness", "livenessProbe"), ("readiness", "readinessProbe"), ("startup", "startupProbe"))


def _handler(probe) -> tuple[str, object] | None:
    probe = m(probe)
    for h in _HANDLERS:
        if h in probe:
            body = m(probe[h])
            if h == "httpGet":
                return h, (str(body.get("path", "/")), str(body.get("port")), str(body.get("host", "")),
                           str(body.get("scheme", "HTTP")).upper())
            if h == "exec":
                return h, tuple(str(x) for x in lst(body.get("command")))
            return h, (str(body.get("port")), str(body.get("service", "")))
    return None


def _patience(probe) -> float:
    """Seconds of failing checks before a probe gives up (Kubernetes defaults: period 10s, threshold 3)."""
    probe = m(probe)

    def num(key, default):
        v = probe.get(key, default)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else default

    return num("initialDelaySeconds", 0) + num("failureThreshold", 3) * num("periodSeconds", 10)


@control(
    id="reliability.probe-configuration", title="Liveness differs from readiness and probes target declared ports",
    category="reliability", severity="medium", evidence=["k8s"],
    rationale="A liveness probe that repeats the readiness check and gives up as fast restarts pods exactly when "
              "they are only overloaded or waiting on a dependency, turning a slowdown into a restart storm (the "
              "same endpoint is fine when liveness tolerates failure for longer, e.g. a higher failureThreshold). "
              "A probe on a named "
              "port the container does not declare can never succeed: the pod never becomes ready (readiness, "
              "startup) or is restarted forever (liveness).",
    remediation="readinessProbe: {httpGet: {path: /readyz, port: http}}   # checks dependencies\n"
                "livenessProbe:  {httpGet: {path: /healthz, port: http}}  # only 'process is alive'\n"
                "ports: [{name: http, containerPort: 8000}]",
    references=["Kubernetes docs: Configure Liveness, Readiness and Startup Probes",
                "Google SRE: 'Health checks' (liveness vs readiness)"],
    concepts=["k8s.probe.identical"], checklist=["reliability.liveness_probe", "reliability.readiness_probe"],
    phrases=["separate liveness and readiness endpoints", "startup probe"],
)
def probe_configuration(p):
    any_ = False
    for w, c in k8s_containers(p, include_init=False):
        raw = c.raw if isinstance(c.raw, dict) else {}
        probes = {}
        handlers = {}  # kind -> _handler(probe)
        for kind, key in _PROBE_KEYS:
            pr = raw.get(key)
            if isinstance(pr, dict):
                probes[kind] = pr
                handlers[kind] = _handler(pr)
        if not probes:
            continue
        any_ = True
        bad = False
        live, ready = handlers.get("liveness"), handlers.get("readiness")
        if live is not None and live == ready and _patience(probes["liveness"]) <= _patience(probes["readiness"]):
            bad = True
            yield failed(f"livenessProbe repeats the readinessProbe's {live[0]} check and gives up no later: the "
                         f"container is restarted as soon as it stops being ready", at(c.loc, raw, "livenessProbe"),
                         cref(w, c), concept="k8s.probe.identical")
        names = None  # the container's port names, gathered for the first probe on a named port
        for kind, pr in probes.items():
            h = handlers[kind]
            if h is None or h[0] not in ("httpGet", "tcpSocket", "grpc"):
                continue
            port = m(pr[h[0]]).get("port")
            if isinstance(port, str) and not port.isdigit() and names is None:
                names = {str(pt.name) for pt in c.ports if pt.name}
            if isinstance(port, str) and not port.isdigit() and port not in names:
                bad = True
                yield failed(f"{kind}Probe targets port '{port}', which the container does not declare: it can "
                             f"never succeed", at(c.loc, raw, f"{kind}Probe"), cref(w, c), concept=OWN + "probe.port")
        if not bad:
            yield passed("probes are distinct and target declared ports", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers with probes")


# --- cross-object references ------------------------------------------------------------------------

@control(
    id="reliability.service-backends", title="Services select ready pods on ports the containers declare",
    category="reliability", severity="high", evidence=["k8s"],
    rationale="A Service whose selector matches no pod has no endpoints and returns connection errors; pods behind "
              "a Service without a readiness probe receive traffic before they can serve (and during overload); a "
              "targetPort no container declares sends every request to a closed port.",
    remediation="Match the selector to the pod template labels, give the serving container a readinessProbe, and "
                "target a declared port:\nspec:\n  selector: {app: api}\n  ports: [{port: 80, targetPort: http}]\n"
                "# container\nports: [{name: http, containerPort: 8000}]\nreadinessProbe: {httpGet: {path: /readyz, "
                "port: http}}",
    references=["Kubernetes docs: Service (selectors, targetPort)", "Kubernetes docs: Readiness probes"],
    concepts=["k8s.service.no_matching_pods", "k8s.probe.readiness_when_serviced"],
    checklist=["reliability.load_balancer", "reliability.lb_health_checks", "reliability.readiness_probe"],
    phrases=["service endpoints healthy", "load balancer health checks"],
)
def service_backends(p):
    svcs = p.objects("Service")
    if not svcs:
        yield not_applicable("no Services")
        return
    for s in svcs:
        spec = m(s.raw.get("spec"))
        sel = spec.get("selector")
        if spec.get("type") == "ExternalName" or not isinstance(sel, dict) or not sel:
            yield passed("no selector (ExternalName or manually managed endpoints)", s.loc, obj_ref(s))
            continue
        selected = service_targets(p, s)
        ref = obj_ref(s)
        if not selected:
            yield failed(f"selector {dict(sel)} matches no pod in the manifests", at(s.loc, spec, "selector"), ref,
                         concept="k8s.service.no_matching_pods")
            continue
        bad = False
        ports = lst(spec.get("ports"))
        for w in selected:
            if w.kind in BATCH:
                continue
            app = w.app_containers
            if app and not any("readiness" in c.probes for c in app):
                bad = True
                yield failed(f"selects {obj_ref(w)}, which has no readinessProbe: it gets traffic before it can serve",
                             w.loc, ref, concept="k8s.probe.readiness_when_serviced")
            declared = [pt for c in app for pt in c.ports] if ports else []  # (the same for every port)
            for i, port in enumerate(ports):
                port = m(port)
                tp = port.get("targetPort", port.get("port"))
                if isinstance(tp, str) and not tp.isdigit():
                    if not any(pt.name == tp for pt in declared):
                        bad = True
                        yield failed(f"targetPort '{tp}' is not a port name declared by {obj_ref(w)}",
                                     Loc(s.loc.path, item_line(spec["ports"], i)), ref,
                                     concept=OWN + "service.target_port")
                elif declared and str(tp).isdigit() and not any(pt.container_port == int(str(tp)) for pt in declared):
                    bad = True
                    yield failed(f"targetPort {tp} is not among the ports {obj_ref(w)} declares "
                                 f"({', '.join(str(pt.container_port) for pt in declared)})",
                                 Loc(s.loc.path, item_line(spec["ports"], i)), ref,
                                 concept=OWN + "service.target_port")
        if not bad:
            yield passed(f"selects {', '.join(obj_ref(w) for w in selected[:3])}", s.loc, ref)


def _ingress_backends(ing):
    """(location object, service name, port (int or name), problem) for every backend of an Ingress."""
    spec = m(ing.raw.get("spec"))
    v1 = ing.api_version.startswith("networking.k8s.io/v1") and not ing.api_version.endswith("beta1")
    backends = []
    for key in ("defaultBackend", "backend"):
        if isinstance(spec.get(key), dict):
            backends.append(spec[key])
    for rule in lst(spec.get("rules")):
        for path in lst(m(m(rule).get("http")).get("paths")):
            if isinstance(m(path).get("backend"), dict):
                backends.append(path["backend"])
    for b in backends:
        if "resource" in b:
            continue
        if v1:
            svc = m(b.get("service"))
            port = m(svc.get("port"))
            if not svc.get("name"):
                yield b, None, None, "backend names no service (serviceName/servicePort are v1beta1 fields)"
                continue
            yield b, str(svc["name"]), port.get("number", port.get("name")), None
        else:
            if not b.get("serviceName"):
                yield b, None, None, "backend names no serviceName"
                continue
            yield b, str(b["serviceName"]), b.get("servicePort"), None


@control(
    id="reliability.ingress-backends", title="Ingresses route to existing Services and ports",
    category="reliability", severity="high", evidence=["k8s"],
    rationale="An Ingress backend naming a Service or port that does not exist answers 503 for that route; it "
              "usually follows a rename that missed the Ingress.",
    remediation="backend:\n  service:\n    name: api          # an existing Service in the Ingress's namespace\n"
                "    port: {name: http}  # one of that Service's ports (name or number)",
    references=["Kubernetes docs: Ingress (backends)"],
    concepts=["k8s.ingress.no_matching_service"], checklist=["reliability.load_balancer", "reliability.config_validation"],
    phrases=["ingress routes to existing services", "no dangling ingress"],
)
def ingress_backends(p):
    ings = p.objects("Ingress")
    if not ings:
        yield not_applicable("no Ingresses")
        return
    svcs = by_name(p, "Service")
    for ing in ings:
        bad = False
        for b, name, port, problem in _ingress_backends(ing):
            where = at(ing.loc, b)
            if problem:
                bad = True
                yield failed(problem, where, obj_ref(ing))
                continue
            svc = svcs.get("Service", ing.namespace, name, near=ing)
            if svc is None:
                bad = True
                yield failed(f"routes to Service {name}, which is not in the manifests", where, obj_ref(ing))
                continue
            ports = [m(x) for x in lst(m(svc.raw.get("spec")).get("ports"))]
            if port is None:
                continue
            if isinstance(port, int) or str(port).isdigit():
                ok = any(str(x.get("port")) == str(port) for x in ports)
            else:
                ok = any(x.get("name") == port for x in ports)
            if not ok:
                bad = True
                yield failed(f"routes to port {port} of Service {name}, which has no such port", where, obj_ref(ing))
        if not bad:
            yield passed("every backend resolves to a Service port", ing.loc, obj_ref(ing))


def _config_sources(p) -> tuple[dict, dict]:
    """(namespace, name) -> [(rendering, keys or None when unknown)] of the ConfigMaps and Secrets the
    repository creates (Secrets also through ExternalSecret, SealedSecret and kustomize generators)."""
    cms: dict[tuple[str | None, str], list] = {}
    secrets: dict[tuple[str | None, str], list] = {}

    def add(table, o, name, keys):
        table.setdefault((ns(o.namespace if o is not None else None), name), []).append((scope(o), keys))

    for o in p.objects("ConfigMap"):
        add(cms, o, o.name, {str(k) for k in m(o.raw.get("data"))} | {str(k) for k in m(o.raw.get("binaryData"))})
    for o in p.objects("Secret"):
        add(secrets, o, o.name, {str(k) for k in m(o.raw.get("data"))} | {str(k) for k in m(o.raw.get("stringData"))})
    for o in p.objects("ExternalSecret"):
        spec = m(o.raw.get("spec"))
        target = str(m(spec.get("target")).get("name") or o.name)
        keys = {str(m(d).get("secretKey")) for d in lst(spec.get("data")) if m(d).get("secretKey")}
        unknown = bool(spec.get("dataFrom")) or bool(m(m(spec.get("target")).get("template")).get("data"))
        add(secrets, o, target, None if unknown else keys)
    for o in p.objects("SealedSecret"):
        spec = m(o.raw.get("spec"))
        name = str(m(m(spec.get("template")).get("metadata")).get("name") or o.name)
        add(secrets, o, name, {str(k) for k in m(spec.get("encryptedData"))}
            | {str(k) for k in m(m(spec.get("template")).get("data"))})
    # kustomize generators (kustomize rewrites references to the generated, hashed names)
    for path in p.files_of("kustomization"):
        parsed = p.parsed.get(path)
        for doc in (parsed.data or []) if parsed is not None else []:
            k = m(getattr(doc, "data", None))
            for key, table in (("configMapGenerator", cms), ("secretGenerator", secrets)):
                for g in lst(k.get(key)):
                    g = m(g)
                    if g.get("name"):
                        table.setdefault((ns(g.get("namespace") or k.get("namespace")), str(g["name"])),
                                         []).append((None, None))
    return cms, secrets


def _references(w) -> list[tuple]:
    """(kind, name, key or None, optional, location) of every ConfigMap/Secret a pod uses."""
    out: list[tuple] = []
    spec = w.pod_spec
    for c in w.containers:
        raw = c.raw if isinstance(c.raw, dict) else {}
        env = raw.get("env")
        if isinstance(env, list):
            for i, e in enumerate(env):
                vf = e.get("valueFrom") if isinstance(e, dict) else None
                if not isinstance(vf, dict):
                    continue  # (a plain value: most variables)
                for ref, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    r = vf.get(ref)
                    if isinstance(r, dict) and r.get("name"):
                        out.append((kind, str(r["name"]), str(r.get("key")) if r.get("key") is not None else None,
                                    r.get("optional") is True, Loc(c.loc.path, item_line(env, i))))
        envfrom = raw.get("envFrom")
        if isinstance(envfrom, list):
            for i, ef in enumerate(envfrom):
                for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    r = m(m(ef).get(ref))
                    if r.get("name"):
                        out.append((kind, str(r["name"]), None, r.get("optional") is True,
                                    Loc(c.loc.path, item_line(envfrom, i))))
    vols = spec.get("volumes")
    if not isinstance(vols, list):
        return out
    for i, v in iter_pod_volumes(w):
        where = Loc(w.loc.path, item_line(vols, i))
        cm, sec = m(v.get("configMap")), m(v.get("secret"))
        if cm.get("name"):
            out.append(("ConfigMap", str(cm["name"]), None, cm.get("optional") is True, where))
        if sec.get("secretName"):
            out.append(("Secret", str(sec["secretName"]), None, sec.get("optional") is True, where))
        for src in lst(m(v.get("projected")).get("sources")):
            src = m(src)
            for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                r = m(src.get(key))
                if r.get("name"):
                    out.append((kind, str(r["name"]), None, r.get("optional") is True, where))
    return out


@control(
    id="reliability.config-references-resolve", title="ConfigMap and Secret references resolve to objects in the "
                                                      "manifests",
    category="reliability", severity="high", evidence=["k8s"],
    rationale="A pod referencing a ConfigMap or Secret (or a key of one) that does not exist stays in "
              "CreateContainerConfigError and never starts — usually after a rename. When the repository defines "
              "no object of that kind at all, they are created elsewhere (External Secrets, Sealed Secrets, Helm, "
              "a platform pipeline) and the references are treated as external.",
    remediation="Create the object next to the workload (or its ExternalSecret/SealedSecret), fix the name or key, "
                "or mark a reference that may legitimately be absent `optional: true`.",
    references=["Kubernetes docs: Configure a Pod to Use a ConfigMap", "Kubernetes docs: Secrets"],
    concepts=[], checklist=["reliability.config_validation"],
    phrases=["configuration validated", "config references valid"],
)
def config_references_resolve(p):
    cms, secrets = _config_sources(p)
    any_ = False
    for w in k8s_workloads(p):
        wref = obj_ref(w)  # (computed once per workload)
        for kind, name, key, optional, where in _references(w):
            any_ = True
            table = cms if kind == "ConfigMap" else secrets
            what = f"{kind} {name}" + (f" key {key}" if key else "")
            if optional:
                yield passed(f"{what} (optional)", where, wref)
                continue
            if not table:
                yield passed(f"{what}: no {kind} is defined in the manifests, so it is created outside them "
                             f"(External Secrets, Sealed Secrets, Helm...)", where, wref)
                continue
            found = [keys for sc, keys in table.get((ns(w.namespace), name), ()) if sc is None or scope(w) is None
                     or sc == scope(w)]
            if not found:
                yield failed(f"references {kind} {name}, which is not defined in namespace "
                             f"{ns(w.namespace) or 'default'} of the manifests", where, wref)
            elif key is not None and all(keys is not None and key not in keys for keys in found):
                yield failed(f"references key {key} of {kind} {name}, which has no such key", where, wref)
            else:
                yield passed(f"{what} resolves", where, wref)
    if not any_:
        yield not_applicable("no ConfigMap or Secret references")


# --- manifests ------------------------------------------------------------------------------------

# group/version -> (kinds it no longer serves, or None for every kind; removed in; use instead)
DEPRECATED_APIS = {
    "extensions/v1beta1": (None, "1.16/1.22", "apps/v1, networking.k8s.io/v1, policy/v1"),
    "apps/v1beta1": (None, "1.16", "apps/v1"),
    "apps/v1beta2": (None, "1.16", "apps/v1"),
    "policy/v1beta1": (None, "1.25", "policy/v1 (PodDisruptionBudget); Pod Security Admission instead of PSP"),
    "autoscaling/v2beta1": (None, "1.25", "autoscaling/v2"),
    "autoscaling/v2beta2": (None, "1.26", "autoscaling/v2"),
    "networking.k8s.io/v1beta1": (None, "1.22", "networking.k8s.io/v1"),
    "batch/v1beta1": (None, "1.25", "batch/v1"),
    "batch/v2alpha1": (None, "1.21", "batch/v1"),
    "rbac.authorization.k8s.io/v1beta1": (None, "1.22", "rbac.authorization.k8s.io/v1"),
    "rbac.authorization.k8s.io/v1alpha1": (None, "1.22", "rbac.authorization.k8s.io/v1"),
    "scheduling.k8s.io/v1beta1": (None, "1.22", "scheduling.k8s.io/v1"),
    "scheduling.k8s.io/v1alpha1": (None, "1.22", "scheduling.k8s.io/v1"),
    "storage.k8s.io/v1beta1": ({"StorageClass", "VolumeAttachment", "CSIDriver", "CSINode", "CSIStorageCapacity"},
                               "1.22/1.27", "storage.k8s.io/v1"),
    "admissionregistration.k8s.io/v1beta1": (None, "1.22", "admissionregistration.k8s.io/v1"),
    "apiextensions.k8s.io/v1beta1": (None, "1.22", "apiextensions.k8s.io/v1"),
    "apiregistration.k8s.io/v1beta1": (None, "1.22", "apiregistration.k8s.io/v1"),
    "certificates.k8s.io/v1beta1": (None, "1.22", "certificates.k8s.io/v1"),
    "coordination.k8s.io/v1beta1": (None, "1.22", "coordination.k8s.io/v1"),
    "discovery.k8s.io/v1beta1": (None, "1.25", "discovery.k8s.io/v1"),
    "events.k8s.io/v1beta1": (None, "1.25", "events.k8s.io/v1"),
    "node.k8s.io/v1beta1": (None, "1.25", "node.k8s.io/v1"),
    "flowcontrol.apiserver.k8s.io/v1beta1": (None, "1.26", "flowcontrol.apiserver.k8s.io/v1"),
    "flowcontrol.apiserver.k8s.io/v1beta2": (None, "1.29", "flowcontrol.apiserver.k8s.io/v1"),
    "flowcontrol.apiserver.k8s.io/v1beta3": (None, "1.32", "flowcontrol.apiserver.k8s.io/v1"),
}
# built-in API groups: a deprecated version of these is a Kubernetes API, not a CRD's own versioning
_BUILTIN_GROUPS = {gv.split("/", 1)[0] for gv in DEPRECATED_APIS}


@control(
    id="delivery.no-deprecated-api-versions", title="Manifests use API versions current clusters still serve",
    category="delivery", severity="high", evidence=["k8s"],
    rationale="Removed API versions (extensions/v1beta1, apps/v1beta2, policy/v1beta1, batch/v1beta1, "
              "autoscaling/v2beta2, networking.k8s.io/v1beta1 ...) are rejected by the API server: the deploy "
              "fails, or an upgrade of the cluster breaks every pipeline that still applies them.",
    remediation="Move to the stable version (apps/v1, networking.k8s.io/v1, policy/v1, batch/v1, autoscaling/v2, "
                "rbac.authorization.k8s.io/v1) and adjust the changed fields (`kubectl convert`, or pluto / "
                "kubent to find them all).",
    references=["Kubernetes docs: Deprecated API Migration Guide"],
    concepts=["k8s.api.deprecated"], checklist=["cicd.kubernetes_manifests", "reliability.config_validation"],
    phrases=["no deprecated APIs", "kubernetes API versions up to date"],
)
def no_deprecated_api_versions(p):
    if not p.k8s_objects:
        yield not_applicable("no Kubernetes objects")
        return
    for o in p.k8s_objects:
        entry = DEPRECATED_APIS.get(o.api_version)
        if entry is not None and (entry[0] is None or o.kind in entry[0]):
            yield failed(f"{o.api_version} {o.kind} is removed from Kubernetes (since {entry[1]}); use {entry[2]}",
                         o.loc, obj_ref(o))
        else:
            yield passed(f"{o.api_version or '(no apiVersion)'}", o.loc, obj_ref(o))


_SELECTING = SCALABLE + ("DaemonSet",)


@control(
    id="reliability.selector-matches-template", title="Workload selectors match their pod template labels",
    category="reliability", severity="high", evidence=["k8s"],
    rationale="A controller whose selector does not match its own pod template is rejected (apps/v1) or manages "
              "pods it did not create while its own never count as ready — rollouts hang or delete the wrong pods.",
    remediation="spec:\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: "
                "{app: api}   # must contain every selector label",
    references=["Kubernetes docs: Deployments (Selector)"],
    concepts=["k8s.selector_mismatch"], checklist=["cicd.kubernetes_manifests", "reliability.config_validation"],
    phrases=["selector matches pod labels"],
)
def selector_matches_template(p):
    any_ = False
    for w in k8s_workloads(p):
        if w.kind not in _SELECTING:
            continue
        spec = m(w.raw.get("spec"))
        sel = spec.get("selector")
        if not isinstance(sel, dict) or not sel:
            continue
        any_ = True
        if w.kind in ("DeploymentConfig", "ReplicationController"):
            ok = all(w.pod_labels.get(str(k)) == str(v) for k, v in sel.items())
        else:
            ok = selector_matches(sel, w.pod_labels)
        if ok:
            yield passed("selector matches the template labels", at(w.loc, spec, "selector"), obj_ref(w))
        else:
            yield failed(f"selector does not match the pod template labels {w.pod_labels or '{}'}",
                         at(w.loc, spec, "selector"), obj_ref(w))
    if not any_:
        yield not_applicable("no workloads with selectors")


@control(
    id="reliability.no-duplicate-env", title="Containers define each environment variable once",
    category="reliability", severity="low", evidence=["k8s"],
    rationale="When a container lists the same variable twice the last one silently wins; the earlier value looks "
              "configured but is not, which is how wrong endpoints or credentials reach production.",
    remediation="Keep one entry per name under `env:` (merge overlays with a strategic-merge patch keyed by name).",
    references=["Kubernetes API: EnvVar"],
    concepts=["k8s.env.duplicate_key"], checklist=["reliability.config_validation"],
    phrases=["no duplicate environment variables"],
)
def no_duplicate_env(p):
    any_ = False
    for w, c in k8s_containers(p):
        if not c.env:
            continue
        any_ = True
        names = [e.name for e in c.env]
        if len(set(names)) == len(names):  # (the common case: no name twice)
            yield passed(f"{len(c.env)} distinct variables", c.loc, cref(w, c))
            continue
        counts = Counter(names)
        dups = [n for n, k in counts.items() if k > 1]
        if dups:
            last = [e for e in c.env if e.name in dups][-1]
            yield failed(f"defines {', '.join(sorted(dups))} more than once (the last value wins)", last.loc,
                         cref(w, c))
        else:
            yield passed(f"{len(c.env)} distinct variables", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no container environment variables")


# --- resources (opinionated policies) -----------------------------------------------------------

@control(
    id="reliability.explicit-resources", title="Containers declare CPU and memory requests and limits explicitly",
    category="reliability", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: all four values written out (including a CPU limit) make each container's footprint "
              "explicit and bound its CPU use; note that CPU limits throttle latency-sensitive services, which is "
              "why this is off by default.",
    remediation="resources:\n  requests: {cpu: 250m, memory: 256Mi}\n  limits: {cpu: \"1\", memory: 512Mi}",
    references=["kube-score container-resources", "Polaris cpuLimitsMissing"],
    concepts=["k8s.resources.limits.cpu", "k8s.resources.requests_and_limits"],
    checklist=["reliability.resource_limits", "scalability.resource_sizing"],
    phrases=["cpu limits", "explicit cpu and memory requests and limits"],
)
def explicit_resources(p):
    any_ = False
    for w, c in k8s_containers(p, include_init=False):
        any_ = True
        missing = [f"{r} {kind}" for kind, table in (("request", c.requests), ("limit", c.limits))
                   for r in ("cpu", "memory") if r not in table]
        if "cpu" not in c.limits:
            yield failed("no CPU limit", c.loc, cref(w, c), concept="k8s.resources.limits.cpu")
        if missing:
            yield failed(f"does not declare all of cpu/memory requests and limits (missing {', '.join(missing)})",
                         c.loc, cref(w, c), concept="k8s.resources.requests_and_limits")
        else:
            yield passed("requests and limits for cpu and memory", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")


@control(
    id="reliability.guaranteed-qos", title="Container requests equal limits (Guaranteed QoS)",
    category="reliability", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: when requests equal limits for CPU and memory the pod is in the Guaranteed QoS class — the "
              "last to be evicted under node pressure, and never overcommitted.",
    remediation="resources:\n  requests: {cpu: 500m, memory: 512Mi}\n  limits: {cpu: 500m, memory: 512Mi}",
    references=["Kubernetes docs: Pod Quality of Service Classes", "kube-score container-resource-requests-equal-limits"],
    concepts=["k8s.resources.cpu_requests_equal_limits", "k8s.resources.memory_requests_equal_limits",
              "k8s.resources.requests_equal_limits"],
    checklist=["reliability.resource_limits"],
    phrases=["guaranteed QoS", "requests equal limits"],
)
def guaranteed_qos(p):
    any_ = False
    for w, c in k8s_containers(p, include_init=False):
        any_ = True
        unequal = []
        ref = cref(w, c)
        for r in ("cpu", "memory"):
            lim = quantity(c.limits.get(r))
            req = quantity(effective_request(c, r))
            if lim is None or req is None or abs(lim - req) > 1e-9 * max(lim, 1):
                unequal.append(r)
                yield failed(f"{r} request {c.requests.get(r, 'unset')} != limit {c.limits.get(r, 'unset')}",
                             c.loc, ref, concept=f"k8s.resources.{r}_requests_equal_limits")
        if unequal:
            yield failed(f"{' and '.join(unequal)} requests differ from limits (not Guaranteed QoS)", c.loc,
                         ref, concept="k8s.resources.requests_equal_limits")
        else:
            yield passed("requests equal limits", c.loc, ref)
    if not any_:
        yield not_applicable("no Kubernetes containers")


@control(
    id="reliability.ephemeral-storage-limits", title="Containers limit their ephemeral storage",
    category="reliability", severity="low", evidence=["k8s"], optional=True,
    rationale="Policy: logs, caches and temp files written to the container filesystem or emptyDir count against "
              "the node's disk; without an ephemeral-storage limit one pod can fill it and get every pod on the "
              "node evicted.",
    remediation="resources:\n  requests: {ephemeral-storage: 1Gi}\n  limits: {ephemeral-storage: 2Gi}",
    references=["Kubernetes docs: Local ephemeral storage", "kube-score container-ephemeral-storage-request-and-limit"],
    concepts=["k8s.resources.ephemeral_storage"], checklist=["reliability.resource_limits"],
    phrases=["ephemeral-storage limits on containers"],
)
def ephemeral_storage_limits(p):
    any_ = False
    for w, c in k8s_containers(p, include_init=False):
        any_ = True
        if "ephemeral-storage" in c.limits:
            yield passed(f"ephemeral-storage limit {c.limits['ephemeral-storage']}", c.loc, cref(w, c))
        else:
            yield failed("no ephemeral-storage limit", c.loc, cref(w, c))
    if not any_:
        yield not_applicable("no Kubernetes containers")


# --- image pull policy: one implementation, two policies ----------------------------------------

def _effective_pull_policy(c) -> str:
    if c.pull_policy:
        return str(c.pull_policy)
    img = c.image
    if img is None:
        return "IfNotPresent"
    return "Always" if img.digest is None and (img.tag is None or img.tag == "latest") else "IfNotPresent"


def _pull_policy_control(explicit: bool):
    def evaluate(p):
        any_ = False
        for w, c in k8s_containers(p):
            any_ = True
            policy = (str(c.pull_policy) if c.pull_policy else None) if explicit else _effective_pull_policy(c)
            where = at(c.loc, c.raw, "imagePullPolicy") if c.pull_policy else c.loc
            if policy == "Always":
                yield passed("imagePullPolicy Always" + ("" if c.pull_policy else " (default for :latest/untagged)"),
                             where, cref(w, c))
            elif policy is None:
                yield failed("imagePullPolicy not set to Always", where, cref(w, c))
            else:
                yield failed(f"imagePullPolicy {policy}" + ("" if c.pull_policy else " (default for a tagged image)"),
                             where, cref(w, c))
        if not any_:
            yield not_applicable("no Kubernetes containers")
    return evaluate


for _explicit, _id, _title, _concept, _why, _phrases in (
        (True, "reliability.image-pull-policy-always", "Containers set imagePullPolicy: Always",
         "k8s.image.pull_policy_explicit_always", "Polaris pullPolicyNotAlways", ["imagePullPolicy Always"]),
        (False, "reliability.image-pull-effective-always", "Containers pull their image on every start",
         "k8s.image.pull_policy_effective_always", "kube-score container-image-pull-policy",
         ["image pull policy", "always pull images"])):
    control(
        id=_id, title=_title, category="reliability", severity="low", evidence=["k8s"], optional=True,
        rationale="Policy: with Always the kubelet checks the registry on every start, so a node never runs a stale "
                  "cached copy of a re-pushed tag and registry authorization is re-checked for every pod"
                  + (" — here it must be written explicitly." if _explicit else
                     " (the default only for :latest or untagged images)."),
        remediation="containers:\n  - image: ghcr.io/acme/api:1.4.2\n    imagePullPolicy: Always",
        references=["Kubernetes docs: Images (Image pull policy)", _why],
        concepts=[_concept], checklist=["security.pinned_image_tags"], phrases=_phrases,
    )(_pull_policy_control(_explicit))


@control(
    id="scalability.hpa-owns-replicas", title="Autoscaled workloads leave spec.replicas to the autoscaler",
    category="scalability", severity="low", evidence=["k8s"],
    rationale="When an HPA scales a Deployment or StatefulSet whose manifest also sets `spec.replicas`, every "
              "`kubectl apply` of the manifest resets the replica count to that number — scaling a busy service "
              "down until the HPA reacts again. Kubernetes recommends removing spec.replicas once an HPA owns it.",
    remediation="Delete `spec.replicas` from the manifest (set `minReplicas` on the HorizontalPodAutoscaler).",
    references=["Kubernetes docs: Horizontal Pod Autoscaling, 'Migrating Deployments and StatefulSets to "
                "horizontal autoscaling'"],
    concepts=["k8s.hpa.replicas_fixed"], checklist=["scalability.hpa"],
    phrases=["HPA manages replica count", "no fixed replicas with autoscaling"],
)
def hpa_owns_replicas(p):
    hpas = hpa_for(p)
    any_ = False
    for w in k8s_workloads(p):
        h = hpas.get(w)
        if h is None:
            continue
        any_ = True
        spec = m(w.raw.get("spec"))
        if "replicas" in spec:
            yield failed(f"sets replicas: {spec.get('replicas')} while {obj_ref(h)} scales it", at(w.loc, spec, "replicas"),
                         obj_ref(w))
        else:
            yield passed(f"replicas left to {obj_ref(h)}", w.loc, obj_ref(w))
    if not any_:
        yield not_applicable("no autoscaled workloads")

