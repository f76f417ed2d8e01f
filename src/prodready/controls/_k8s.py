"""Kubernetes helpers for the workload and cluster-object controls: namespaces, label selectors, a pod index,
raw security contexts, quantities and evidence lines. Queries over the model only, never I/O.

References between objects are resolved by kind, name and namespace; an unset namespace and ``default`` are the
same namespace (a manifest without ``metadata.namespace`` is applied to the default namespace).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from ..build import pod_template
from ..model import Container, K8sObject, Loc, Project, Workload

# A finding about something no peer-scanner concept names carries a concept under this prefix, so a family
# control's untagged findings are never attributed to the peer concepts it answers.
OWN = "prodready."

# kinds whose pods are kept at a replica count (a Deployment-like controller)
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "DeploymentConfig", "ReplicationController")
# kinds whose pods are meant to run to completion
BATCH = ("Job", "CronJob")


def selector_matches(sel: Any, labels: dict[str, str]) -> bool:
    """A full LabelSelector (matchLabels + matchExpressions) matches ``labels``; {} matches everything, a
    missing or malformed selector nothing."""
    if not isinstance(sel, dict):
        return False
    ml = sel.get("matchLabels")
    if ml is not None and not isinstance(ml, dict):
        return False
    if ml:
        for k, v in ml.items():
            if labels.get(str(k)) != str(v):
                return False
    exprs = sel.get("matchExpressions")
    if exprs is None:  # (the common case: labels only)
        return True
    if not isinstance(exprs, list):
        return False
    for expr in exprs or []:
        if not isinstance(expr, dict):
            return False
        key, op = str(expr.get("key")), expr.get("operator")
        vals = [str(v) for v in expr.get("values") or []] if isinstance(expr.get("values") or [], list) else []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def ns(value: Any) -> str | None:
    """The namespace an object lands in: unset and ``default`` are the same."""
    if value is None or value == "" or value == "default":
        return None
    return str(value)


def m(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def lst(x: Any) -> list:
    return x if isinstance(x, list) else []


def line_of(obj: Any, key: Any = None) -> int | None:
    """The line of ``obj[key]`` (or of ``obj``) when the YAML loader recorded it."""
    if key is not None and hasattr(obj, "line_of"):
        return obj.line_of(key)
    return getattr(obj, "line", None)


def item_line(seq: Any, i: int) -> int | None:
    lines = getattr(seq, "item_lines", None) or []
    return lines[i] if i < len(lines) else getattr(seq, "line", None)


def at(loc: Loc, obj: Any, key: Any = None) -> Loc:
    """A location in the same file as ``loc``, on the line of ``obj[key]`` when known."""
    # (line_of inlined: one call less for every finding that points at a field)
    line = obj.line_of(key) if key is not None and hasattr(obj, "line_of") else getattr(obj, "line", None)
    return Loc(loc.path, line or loc.line)


def k8s_workloads(p: Project) -> list[Workload]:
    """The Kubernetes workloads (listed once per project)."""
    return list(p.derived("k8s.workloads", lambda: [w for w in p.workloads if w.source == "k8s"]))


def k8s_containers(p: Project, include_init: bool = True, linux: bool = False
                   ) -> Iterator[tuple[Workload, Container]]:
    """Every (workload, container) of Kubernetes workloads; ``linux=True`` leaves out Windows pods. The pairs are
    listed once per project and variant: about forty controls walk them."""
    def pairs() -> list[tuple[Workload, Container]]:
        return [(w, c) for w in p.workloads if w.source == "k8s" and not (linux and is_windows(w))
                for c in w.containers if include_init or not c.init]

    return iter(p.derived(("k8s.containers", include_init, linux), pairs))


def is_windows(w: Workload) -> bool:
    """A Windows pod (spec.os.name or a Windows nodeSelector): Linux capabilities, seccomp and AppArmor do not
    apply to it."""
    spec = w.pod_spec
    if spec.get("os") is None and spec.get("nodeSelector") is None:  # (most pods say neither)
        return False
    return str(m(spec.get("os")).get("name", "")).lower() == "windows" or \
        str(m(spec.get("nodeSelector")).get("kubernetes.io/os", "")).lower() == "windows"


def pod_meta(w: Workload) -> dict:
    """The pod template's metadata (a Pod's own metadata); remembered on the workload (read it only)."""
    memo = w.__dict__.get("_pod_meta")
    if memo is None:
        memo = w._pod_meta = pod_template(w.raw)[0] if isinstance(w.raw, dict) else {}  # type: ignore[attr-defined]
    return memo


def pod_annotations(w: Workload) -> dict:
    return m(pod_meta(w).get("annotations"))


def pod_sc(w: Workload) -> dict:
    return m(w.pod_spec.get("securityContext"))


def container_sc(c: Container) -> dict:
    return m(c.raw.get("securityContext")) if isinstance(c.raw, dict) else {}


def cref(w: Workload, c: Container) -> str:
    # remembered on the container (for its workload): every per-container control names the same containers
    memo = c.__dict__.get("_cref")
    if memo is not None and memo[0] is w:
        return memo[1]
    ref = f"{obj_ref(w)} container {c.name}"
    c._cref = (w, ref)  # type: ignore[attr-defined]
    return ref


def obj_ref(o: K8sObject | Workload) -> str:
    """``o.ref``, how findings name a Kubernetes object or a workload; remembered on the object (read-only model):
    most controls name the same objects."""
    ref = o.__dict__.get("_ref")
    if ref is None:
        ref = o._ref = o.ref  # type: ignore[union-attr]
    return ref


def scope(o: Any) -> str | None:
    """The Kustomize overlay or Helm chart an object was rendered by (None: a plain manifest)."""
    return getattr(o, "rendered_by", None)


def same_scope(a: Any, b: Any) -> bool:
    """Objects of one rendering refer to each other; a plain manifest is visible to every rendering."""
    sa, sb = scope(a), scope(b)
    return sa is None or sb is None or sa == sb


# kinds without a namespace: a metadata.namespace on them is ignored by the API server
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "PersistentVolume", "StorageClass",
                  "PriorityClass", "IngressClass", "CustomResourceDefinition", "ClusterIssuer", "ClusterSecretStore",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Node", "RuntimeClass"}


def obj_ns(kind: str, namespace: Any) -> str | None:
    return None if kind in CLUSTER_SCOPED else ns(namespace)


class Objects:
    """Kubernetes objects by (kind, namespace, name), resolved from a referencing object's rendering."""

    def __init__(self, objs: Iterable[Any]) -> None:
        self.table: dict[tuple[str, str | None, str], list[Any]] = {}
        for o in objs:
            self.table.setdefault((o.kind, obj_ns(o.kind, o.namespace), o.name), []).append(o)

    def get(self, kind: str, namespace: Any, name: str, near: Any = None) -> Any:
        for o in self.table.get((kind, obj_ns(kind, namespace), name), ()):
            if near is None or same_scope(o, near):
                return o
        return None

    def __contains__(self, key: tuple) -> bool:
        kind, namespace, name, near = key
        return self.get(kind, namespace, name, near) is not None


def by_name(p: Project, *kinds: str) -> Objects:
    """Objects of ``kinds`` by kind, namespace and name (built once per project and kinds: read-only)."""
    return p.derived(("k8s.by-name", kinds), lambda: Objects(o for kind in kinds for o in p.objects(kind)))


def pod_index(p: Project) -> PodIndex:
    """The project's :class:`PodIndex` (built once per project: read-only)."""
    return p.derived("k8s.pod-index", lambda: PodIndex(p))


class PodIndex:
    """Kubernetes workloads by namespace and by label pair, to resolve selectors without scanning every pod."""

    def __init__(self, p: Project) -> None:
        self.workloads = k8s_workloads(p)
        self.by_ns: dict[str | None, list[Workload]] = {}
        self.by_pair: dict[tuple[str | None, str, str], list[Workload]] = {}
        for w in self.workloads:
            n = ns(w.namespace)
            self.by_ns.setdefault(n, []).append(w)
            for k, v in w.pod_labels.items():
                self.by_pair.setdefault((n, k, v), []).append(w)

    def _candidates(self, n: str | None, pairs: list[tuple[str, str]], alternatives: list[list[tuple[str, str]]]
                    ) -> list[Workload]:
        """The smallest bucket implied by required label pairs or by one In-expression's alternatives."""
        best: list[Workload] | None = None
        for k, v in pairs:
            bucket = self.by_pair.get((n, k, v), [])
            if best is None or len(bucket) < len(best):
                best = bucket
        for alts in alternatives:
            if best is not None and len(alts) > 1 and len(best) <= len(alts):
                continue
            union: list[Workload] = []
            for k, v in alts:
                union.extend(self.by_pair.get((n, k, v), []))
            if best is None or len(union) < len(best):
                best = union
        return self.by_ns.get(n, []) if best is None else best

    def select(self, namespace: Any, selector: Any, near: Any = None) -> list[Workload]:
        """Workloads in ``namespace`` (of the rendering of ``near``) whose pod labels a full LabelSelector
        (matchLabels/matchExpressions) matches; an empty selector ({}) selects every pod of the namespace, a
        missing one (None) none."""
        if not isinstance(selector, dict):
            return []
        n = ns(namespace)
        pairs = [(str(k), str(v)) for k, v in m(selector.get("matchLabels")).items()]
        alternatives = [[(str(e["key"]), str(v)) for v in e["values"]]
                        for e in lst(selector.get("matchExpressions"))
                        if isinstance(e, dict) and e.get("operator") == "In" and isinstance(e.get("values"), list)
                        and e["values"] and e.get("key") is not None]
        seen: set[int] = set()
        out = []
        for w in self._candidates(n, pairs, alternatives):
            if id(w) not in seen and selector_matches(selector, w.pod_labels) and (near is None or same_scope(w, near)):
                seen.add(id(w))
                out.append(w)
        return out

    def select_map(self, namespace: Any, selector: Any, near: Any = None) -> list[Workload]:
        """Workloads whose pod labels contain every pair of a plain map selector (Service, DeploymentConfig).
        An empty or missing map selects nothing."""
        if not isinstance(selector, dict) or not selector:
            return []
        items = [(str(k), str(v)) for k, v in selector.items()]
        out = []
        for w in self._candidates(ns(namespace), items, []):
            labels = w.pod_labels
            for k, v in items:
                if labels.get(k) != v:
                    break
            else:
                if near is None or same_scope(w, near):
                    out.append(w)
        return out


class Autoscalers:
    """HorizontalPodAutoscalers by the workload they scale (within one rendering)."""

    def __init__(self, p: Project) -> None:
        self.table: dict[tuple[str, str | None, str], list[K8sObject]] = {}
        self._seen: dict[int, tuple[Workload, K8sObject | None]] = {}
        for h in p.objects("HorizontalPodAutoscaler"):
            ref = m(m(h.raw.get("spec")).get("scaleTargetRef"))
            if ref.get("name"):
                self.table.setdefault((str(ref.get("kind", "")), ns(h.namespace), str(ref["name"])), []).append(h)

    def get(self, w: Workload) -> K8sObject | None:
        # remembered per workload (kept alive by the project while this index lives): several controls ask
        hit = self._seen.get(id(w))
        if hit is not None and hit[0] is w:
            return hit[1]
        cands = [h for h in self.table.get((w.kind, ns(w.namespace), w.name), ()) if same_scope(h, w)]
        own = [h for h in cands if scope(h) == scope(w)]
        found = (own or cands or [None])[0]
        self._seen[id(w)] = (w, found)
        return found


def service_targets(p: Project, s: K8sObject) -> list[Workload]:
    """The workloads a Service's selector selects (``select_map`` of its ``spec.selector``, within its rendering);
    resolved once per Service and project (read the list only)."""
    memo = p.derived("k8s.service-targets", dict)
    hit = memo.get(id(s))
    if hit is None or hit[0] is not s:  # (the Service is kept with its id, so the id stays its own)
        hit = memo[id(s)] = (s, pod_index(p).select_map(s.namespace, m(s.raw.get("spec")).get("selector"), near=s))
    return hit[1]


def services_selecting(p: Project, w: Workload) -> list[K8sObject]:
    """The Services whose selector selects the Kubernetes workload ``w`` (within its rendering): the same Services,
    in the same order, as ``p.services_selecting(w)`` — ordered by the pod label of ``w`` that is each Service's
    first selector pair, then in manifest order — from the resolution of every Service done once per project (see
    :func:`service_targets`) instead of a lookup per workload."""
    found = p.derived("k8s.services-by-workload", lambda: _services_by_workload(p)).get(id(w))
    if not found:
        return []
    if len(found) == 1:
        return list(found)
    order = {pair: i for i, pair in enumerate(w.pod_labels.items())}
    return sorted(found, key=lambda s: order.get(_first_selector_pair(s), len(order)))


def _services_by_workload(p: Project) -> dict[int, list[K8sObject]]:
    out: dict[int, list[K8sObject]] = {}
    for s in p.objects("Service"):
        for w in service_targets(p, s):
            out.setdefault(id(w), []).append(s)
    return out


def _first_selector_pair(s: K8sObject) -> tuple[str, str]:
    k, v = next(iter(m(s.raw.get("spec")).get("selector").items()))
    return str(k), str(v)


def hpa_for(p: Project) -> Autoscalers:
    """The project's :class:`Autoscalers` (built once per project: read-only)."""
    return p.derived("k8s.autoscalers", lambda: Autoscalers(p))


def hpa_min(h: K8sObject) -> int:
    v = m(h.raw.get("spec")).get("minReplicas", 1)
    return v if isinstance(v, int) and not isinstance(v, bool) else 1


def hpa_max(h: K8sObject) -> int | None:
    v = m(h.raw.get("spec")).get("maxReplicas")
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def norm_cap(name: Any) -> str:
    s = str(name).strip().upper()
    return s[4:] if s.startswith("CAP_") else s


# --- quantities ---------------------------------------------------------------------------------

_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_QTY_RX = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*([a-zA-Z]{0,2})\s*$")


def quantity(value: Any) -> float | None:
    """A Kubernetes resource quantity ("500m", "1", "1Gi", "1e3") as a number; None when unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return _quantity_text(value if isinstance(value, str) else str(value))


@lru_cache(maxsize=16384)  # pure; the same few quantities ("500m", "256Mi") are read over and over
def _quantity_text(text: str) -> float | None:
    mt = _QTY_RX.match(text)
    if not mt or mt.group(2) not in _SUFFIX:
        return None
    return float(mt.group(1)) * _SUFFIX[mt.group(2)]


def effective_request(c: Container, resource: str) -> str | None:
    """A container's request for ``resource``; Kubernetes defaults a missing request to the limit."""
    return c.requests.get(resource) or c.limits.get(resource)


# --- secrets --------------------------------------------------------------------------------------

PRIVATE_KEY_RX = re.compile(r"-{3,}\s*BEGIN [A-Z0-9 ]*PRIVATE KEY\s*-{3,}")
# secret-bearing names the generic secret-name rule misses (cloud SDK key material and connection strings)
EXTRA_SECRET_NAME_RX = re.compile(
    r"(?i)(^|[_.\-])(key[_-]?content|ssh[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|"
    r"account[_-]?key|storage[_-]?key|batch[_-]?key|shared[_-]?key|conn(ection)?[_-]?str(ing)?)($|[_.\-])")


def iter_pod_volumes(w: Workload) -> Iterable[tuple[int, dict]]:
    for i, v in enumerate(lst(w.pod_spec.get("volumes"))):
        if isinstance(v, dict):
            yield i, v
