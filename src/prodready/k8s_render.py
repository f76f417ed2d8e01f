"""Render Kustomize and Helm before evaluation, so what is checked is what would be applied.

**Kustomize** is resolved here, in Python (no kubectl, no network). Each *leaf* kustomization (one no other
kustomization names in ``resources``/``bases``/``components``) is built the way ``kustomize build`` builds
it: resources (files and directories inside the scanned root only; cycles refused), components,
``configMapGenerator``/``secretGenerator``, then the transformers in kustomize's order —
``patchesStrategicMerge``, ``patches`` (strategic merge or JSON 6902, with ``target``), ``namespace``,
``namePrefix``/``nameSuffix`` (references to renamed objects follow), ``commonLabels``/``labels``,
``commonAnnotations``, ``patchesJson6902``, ``replicas``, ``images``, and last ``replacements`` (inline or
``path:`` files; source by kind/name/namespace/group/version with ``fieldPath``, targets with ``select``/
``reject``/``fieldPaths`` — list entries ``[name=x]``, indexes, ``*`` — and ``delimiter``/``index``/``create``
options, with kustomize's quirks: ``[name=x]`` in a target is an unanchored regular expression, a field keeps its
YAML type, a created field takes the type its text has). What kustomize would fail the build on is reported with
the file and line of the replacement, and only that part is skipped. What is deliberately simpler than
kustomize: generated ConfigMaps/Secrets get no content-hash suffix (references resolve by name either way);
``vars``, ``helmCharts`` and plugin generators/transformers are reported, not applied.

Every rendered mapping is an :class:`RMap`: it remembers the file it came from and, for a field a patch or
a transformer set, the file that set it, so evidence keeps pointing at a ``file:line`` — the original
object's, or the overlay's where the overlay changed the field (for a replacement: the line of the target's
``fieldPaths`` entry, in the kustomization or in the replacement's file).

**Helm** charts are rendered with ``helm template`` when ``helm`` is on PATH (local chart only: a timeout,
``--kube-version`` so no cluster is asked, ``--skip-tests``, never ``helm dependency update``). Otherwise —
or when the chart cannot be rendered (missing dependencies, template errors) — the chart's ``values.yaml``
defaults are mapped onto the common chart conventions (image, replicaCount, resources, securityContext,
podSecurityContext, probes, autoscaling, service, podDisruptionBudget) and a ``helm-not-rendered``
diagnostic says so: a chart is never silently skipped.
"""

from __future__ import annotations

import base64
import math
import os
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .model import Diagnostic
from .parse import Parsed
from .parsers.yamlsafe import YamlError, YList, YMap, load_all

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_BUILDS = 2_000  # kustomization builds per scan: a pathological diamond of bases cannot blow up
HELM_TIMEOUT_S = 60
HELM_KUBE_VERSION = "1.30.0"
HELM_RELEASE = "release-name"

CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "APIService", "IngressClass",
    "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment", "PodSecurityPolicy", "ClusterIssuer",
    "VolumeSnapshotClass", "ClusterPolicy", "Node", "CertificateSigningRequest", "FlowSchema",
    "PriorityLevelConfiguration",
}
NO_RENAME = {"Namespace", "CustomResourceDefinition", "APIService"}  # kustomize never prefixes these


# --- rendered YAML nodes ------------------------------------------------------------------------

class RMap(YMap):
    """A rendered mapping: ``src`` is the file it came from; ``key_src`` the file that set a field, when a
    patch or transformer did (lines in ``key_lines`` are in that file)."""

    __slots__ = ("src", "key_src")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.src: str | None = None
        self.key_src: dict[Any, str] = {}

    def src_of(self, key: Any) -> str | None:
        return self.key_src.get(key, self.src)

    def put(self, key: Any, value: Any, src: str | None, line: int | None) -> None:
        """Set a field and remember where that happened."""
        self[key] = value
        if src is not None:
            self.key_src[key] = src
        if line is not None:
            self.key_lines[key] = line


class RList(YList):
    __slots__ = ("src",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.src: str | None = None


def _shift(line: int | None, offset: int, fixed: int | None) -> int | None:
    if fixed is not None:
        return fixed
    return None if line is None else line + offset


def clone(node: Any, src: str | None = None, offset: int = 0, fixed_line: int | None = None) -> Any:
    """A deep copy as RMap/RList. A parsed node is adopted with ``src`` (its lines moved by ``offset``, or
    all set to ``fixed_line``); an already rendered node keeps its own sources."""
    if isinstance(node, dict):
        m = RMap()
        here = node.src if isinstance(node, RMap) else src
        m.src = here
        m.line = _shift(getattr(node, "line", None), offset, fixed_line)
        key_lines = getattr(node, "key_lines", None) or {}
        for k, v in node.items():
            m[k] = clone(v, here, offset, fixed_line)
            kl = key_lines.get(k)
            if kl is not None or fixed_line is not None:
                m.key_lines[k] = _shift(kl, offset, fixed_line)  # type: ignore[assignment]
        if isinstance(node, RMap):
            m.key_src = dict(node.key_src)
        return m
    if isinstance(node, list):
        seq = RList()
        here = node.src if isinstance(node, RList) else src
        seq.src = here
        seq.line = _shift(getattr(node, "line", None), offset, fixed_line)
        lines = getattr(node, "item_lines", None) or []
        seq.extend(clone(v, here, offset, fixed_line) for v in node)
        seq.item_lines = [(_shift(lines[i], offset, fixed_line) if i < len(lines) else None)  # type: ignore[misc]
                          for i in range(len(node))]
        return seq
    return node


def plain(node: Any) -> Any:
    """Plain dicts and lists (for comparisons and JSON)."""
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def _m(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _item_line(seq: Any, i: int) -> int | None:
    lines = getattr(seq, "item_lines", None) or []
    return lines[i] if i < len(lines) else getattr(seq, "line", None)


def _child_map(parent: RMap, key: str, src: str | None, line: int | None) -> RMap:
    """``parent[key]`` as an RMap, created (attributed to ``src``) when missing."""
    cur = parent.get(key)
    if isinstance(cur, RMap):
        return cur
    m = RMap(cur) if isinstance(cur, dict) else RMap()
    m.src, m.line = src, line
    parent.put(key, m, src if not isinstance(cur, dict) else None, line if not isinstance(cur, dict) else None)
    return m


def expand_lists(data: Any) -> list:
    """``kind: List`` (and ``*List``) documents hold their objects in ``items``."""
    if isinstance(data, dict) and str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        return list(data["items"])
    return [data]


# --- results ------------------------------------------------------------------------------------

@dataclass
class Rendered:
    """One object as rendered: its data, the file and line of its origin, and what rendered it."""

    obj: dict
    path: str
    line: int | None
    rendered_by: str  # "overlay deploy/k8s/overlays/prod", "helm chart charts/api", ...


@dataclass
class RenderResult:
    objects: list[Rendered] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)  # files evaluated only through their renderings
    diagnostics: list[Diagnostic] = field(default_factory=list)


def render_all(parsed: dict[str, Parsed], files: dict[str, str], sources: dict[str, str], root: str,
               helm: str | None = None) -> RenderResult:
    """Kustomize and Helm renderings of the project. ``helm`` overrides the ``helm`` found on PATH
    ("" = behave as if there were none)."""
    try:
        out = _Kustomize(parsed, files, sources).render()
    except Exception as exc:  # a renderer bug must never stop the scan: the files are then evaluated as they are
        out = RenderResult(diagnostics=[Diagnostic("render-error", ".", None,
                                                   f"Kustomize rendering failed: {type(exc).__name__}: {exc}"[:300])])
    try:
        hr = render_helm(parsed, files, sources, root, shutil.which("helm") if helm is None else (helm or None))
    except Exception as exc:
        hr = RenderResult(diagnostics=[Diagnostic("render-error", ".", None,
                                                  f"Helm rendering failed: {type(exc).__name__}: {exc}"[:300])])
    out.objects += hr.objects
    out.consumed |= hr.consumed
    out.diagnostics += hr.diagnostics
    seen: set[tuple] = set()
    unique = []
    for d in out.diagnostics:
        key = (d.kind, d.path, d.line, d.message)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    out.diagnostics = unique
    return out


# --- Kustomize ----------------------------------------------------------------------------------

@dataclass
class _Res:
    obj: RMap
    path: str
    line: int | None
    names: list[str] = field(default_factory=list)  # earlier names, before prefixes/suffixes
    # earlier (name, namespace) pairs, one per namespace or prefix/suffix change: kustomize still selects an
    # object by any of them (replacements)
    prev: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(_m(self.obj.get("metadata")).get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = _m(self.obj.get("metadata")).get("namespace")
        return str(ns) if ns is not None else None

    def copy(self) -> _Res:
        return _Res(clone(self.obj), self.path, self.line, list(self.names), list(self.prev))


REMOTE_RX = re.compile(r"^(https?://|git@|ssh://|git::|github\.com/|gitlab\.com/|bitbucket\.org/)|\?ref=|\?version=")
BLOCK_SCALAR_RX = re.compile(r"[|>][+-]?\d*\s*(#.*)?$")


class _Kustomize:
    def __init__(self, parsed: dict[str, Parsed], files: dict[str, str], sources: dict[str, str]) -> None:
        self.parsed, self.files, self.sources = parsed, files, sources
        self.kfiles: dict[str, str] = {}
        for rel, kind in sorted(files.items()):
            if kind == "kustomization":
                d = posixpath.dirname(rel)
                if d in self.kfiles:
                    self.diag("kustomize-error", rel, None,
                              f"more than one kustomization file in {d or '.'}: kustomize refuses this; "
                              f"{self.kfiles[d]} is used")
                    continue
                self.kfiles[d] = rel
        self.dirs: set[str] = set()
        for rel in files:
            d = posixpath.dirname(rel)
            while d and d not in self.dirs:
                self.dirs.add(d)
                d = posixpath.dirname(d)
        self.dirs.add("")
        self.result = RenderResult()
        self.memo: dict[str, list[_Res]] = {}
        self.visited: set[str] = set()
        self.builds = 0

    # -- helpers --
    def diag(self, kind: str, path: str, line: int | None, message: str) -> None:
        self.result.diagnostics.append(Diagnostic(kind, path, line, message))

    def doc(self, kdir: str) -> dict:
        f = self.parsed.get(self.kfiles[kdir])
        if f is None or not isinstance(f.data, list) or not f.data:
            return {}
        return _m(getattr(f.data[0], "data", None))

    def resolve(self, kdir: str, entry: Any, krel: str, line: int | None, quiet: bool = False
                ) -> tuple[str, str] | None:
        """("file" | "dir", path relative to the root) of a resource entry, or None (reported)."""
        def say(msg: str, kind: str = "kustomize-unresolved") -> None:
            if not quiet:
                self.diag(kind, krel, line, msg)

        if not isinstance(entry, str) or not entry.strip():
            say(f"resource entry {entry!r} is not a path")
            return None
        e = entry.strip()
        if REMOTE_RX.search(e):
            say(f"remote resource {e} is not fetched (prodready reads only the scanned tree)", "kustomize-remote")
            return None
        if e.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", e):
            say(f"{e} is an absolute path: only files inside the scanned root are read", "kustomize-outside-root")
            return None
        rel = posixpath.normpath(posixpath.join(kdir, e))
        rel = "" if rel == "." else rel
        if rel == ".." or rel.startswith("../"):
            say(f"{e} is outside the scanned root: not read", "kustomize-outside-root")
            return None
        if rel in self.files:
            if rel.rsplit("/", 1)[-1] in KUSTOMIZATION_NAMES:  # a kustomization file named directly
                return "dir", posixpath.dirname(rel)
            return "file", rel
        if rel in self.kfiles:
            return "dir", rel
        if rel in self.dirs:
            say(f"{e}: directory {rel or '.'} has no kustomization file")
            return None
        say(f"{e}: not found in the scanned tree (missing, excluded, or not a YAML file)")
        return None

    def offset_of(self, krel: str, line: int | None) -> int:
        """Line offset of an inline YAML string that starts at ``line`` of ``krel`` (block scalar or not)."""
        if line is None:
            return 0
        text = self.sources.get(krel, "")
        lines = text.splitlines()
        here = lines[line - 1] if 0 < line <= len(lines) else ""
        return line if BLOCK_SCALAR_RX.search(here) else line - 1

    # -- top level --
    def render(self) -> RenderResult:
        referenced: set[str] = set()
        for kdir, krel in self.kfiles.items():
            doc = self.doc(kdir)
            for key in ("resources", "bases", "components"):
                for e in _l(doc.get(key)):
                    hit = self.resolve(kdir, e, krel, None, quiet=True)
                    if hit and hit[0] == "dir":
                        referenced.add(hit[1])
        for kdir in sorted(self.kfiles):
            if kdir in referenced or str(self.doc(kdir).get("kind", "")) == "Component":
                continue
            try:
                res = self.build(kdir, ())
            except RecursionError:
                self.diag("kustomize-error", self.kfiles[kdir], None, "structure nested too deeply; not rendered")
                continue
            is_overlay = any((self.resolve(kdir, e, self.kfiles[kdir], None, quiet=True) or ("",))[0] == "dir"
                             for key in ("resources", "bases") for e in _l(self.doc(kdir).get(key)))
            label = f"{'overlay' if is_overlay else 'kustomization'} {kdir or '.'}"
            for r in res:
                self.result.objects.append(Rendered(r.obj, r.path, r.line, label))
        for kdir in sorted(set(self.kfiles) - self.visited):
            if str(self.doc(kdir).get("kind", "")) == "Component":
                continue
            self.diag("kustomize-cycle", self.kfiles[kdir], None,
                      f"kustomization {kdir or '.'} is only reachable through a cycle of kustomizations: not "
                      "rendered; its resources are evaluated as plain files")
        # files of unreached kustomizations stay plain: only what a build read is consumed
        return self.result

    # -- one kustomization --
    def build(self, kdir: str, stack: tuple[str, ...], base: list[_Res] | None = None) -> list[_Res]:
        krel = self.kfiles[kdir]
        if kdir in stack:
            self.diag("kustomize-cycle", krel, None,
                      f"cycle of kustomizations: {' -> '.join((*stack, kdir)) or '.'}; not followed")
            return list(base or [])
        if base is None and kdir in self.memo:
            return [r.copy() for r in self.memo[kdir]]
        self.builds += 1
        if self.builds > MAX_BUILDS:
            if self.builds == MAX_BUILDS + 1:
                self.diag("kustomize-error", krel, None, f"more than {MAX_BUILDS} kustomization builds: stopped")
            return list(base or [])
        self.visited.add(kdir)
        doc = self.doc(kdir)
        if not doc:
            self.diag("kustomize-error", krel, None, "kustomization is empty or not a mapping")
            return list(base or [])
        res: list[_Res] = list(base or [])
        for key in ("resources", "bases"):
            items = _l(doc.get(key))
            for i, e in enumerate(items):
                line = _item_line(items, i)
                hit = self.resolve(kdir, e, krel, line)
                if hit is None:
                    continue
                if hit[0] == "file":
                    res.extend(self.load_file(hit[1], krel, line))
                else:
                    if stack and any(s == hit[1] or s.startswith(hit[1] + "/") or hit[1] == "" for s in
                                     (*stack, kdir)):
                        self.diag("kustomize-warning", krel, line,
                                  f"{e}: base {hit[1] or '.'} contains the directory of a kustomization that uses "
                                  "it; `kustomize build` refuses this layout (cycle detected) — rendered anyway")
                    elif hit[1] == "" or kdir.startswith(hit[1] + "/"):
                        self.diag("kustomize-warning", krel, line,
                                  f"{e}: base {hit[1] or '.'} contains this overlay's directory; `kustomize build` "
                                  "refuses this layout (cycle detected) — rendered anyway")
                    res.extend(self.build(hit[1], (*stack, kdir)))
        self.check_duplicates(res, krel)
        comps = _l(doc.get("components"))
        for i, e in enumerate(comps):
            hit = self.resolve(kdir, e, krel, _item_line(comps, i))
            if hit is None:
                continue
            if hit[0] != "dir":
                self.diag("kustomize-unresolved", krel, _item_line(comps, i), f"component {e} is not a directory")
                continue
            res = self.build(hit[1], (*stack, kdir), base=res)
        for key in ("vars", "helmCharts", "helmChartInflationGenerator", "generators",
                    "transformers", "validators"):
            if doc.get(key):
                self.diag("kustomize-unsupported", krel, getattr(doc, "line_of", lambda _k: None)(key),
                          f"`{key}` is not applied by prodready's Kustomize renderer; the rendered objects may "
                          "differ from `kustomize build`")
        self.generate(doc, kdir, krel, res)
        res = self.transform(doc, kdir, krel, res)
        if base is None:
            self.memo[kdir] = [r.copy() for r in res]
        return res

    def load_file(self, rel: str, krel: str, line: int | None) -> list[_Res]:
        self.result.consumed.add(rel)
        f = self.parsed.get(rel)
        data = f.data if f is not None else None
        if data is None:
            why = "could not be parsed" if f is not None and f.errors else \
                "is not plain YAML (unrendered template?)" if f is not None and f.kind == "helm-template" else \
                "has no YAML content"
            self.diag("kustomize-unresolved", krel, line, f"resource {rel} {why}; its objects are missing")
            return []
        docs = [(d.data, d.line) for d in data] if isinstance(data, list) and all(hasattr(d, "data") for d in data) \
            else [(data, 1)]  # JSON
        out = []
        for content, first_line in docs:
            for obj in expand_lists(content):
                if isinstance(obj, dict) and "kind" in obj:
                    out.append(_Res(clone(obj, rel), rel, getattr(obj, "line", None) or first_line))
        return out

    def check_duplicates(self, res: list[_Res], krel: str) -> None:
        seen: dict[tuple, _Res] = {}
        for r in res:
            key = (_group(r.obj.get("apiVersion")), r.kind, r.namespace, r.name)
            if key in seen:
                self.diag("kustomize-error", krel, None,
                          f"{r.kind} {r.name} is included twice ({seen[key].path} and {r.path}); kustomize refuses "
                          "duplicate objects")
            else:
                seen[key] = r

    # -- generators --
    def generate(self, doc: dict, kdir: str, krel: str, res: list[_Res]) -> None:
        opts = _m(doc.get("generatorOptions"))
        for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
            items = _l(doc.get(key))
            for i, g in enumerate(items):
                line = _item_line(items, i)
                if not isinstance(g, dict) or not g.get("name"):
                    self.diag("kustomize-error", krel, line, f"{key} entry without a name")
                    continue
                data = RMap()
                data.src, data.line = krel, line
                lits = _l(g.get("literals"))
                for j, lit in enumerate(lits):
                    k, sep, v = str(lit).partition("=")
                    if sep:
                        data.put(k.strip(), v.strip().strip("'\""), krel, _item_line(lits, j))
                fl = _l(g.get("files"))
                for j, spec in enumerate(fl):
                    k, sep, path = str(spec).partition("=")
                    if not sep:
                        k, path = posixpath.basename(k), k
                    hit = self.resolve(kdir, path, krel, _item_line(fl, j))
                    text = self.sources.get(hit[1], "") if hit and hit[0] == "file" else ""
                    data.put(k.strip(), text, krel, _item_line(fl, j))
                envs = _l(g.get("envs")) + ([g["env"]] if isinstance(g.get("env"), str) else [])
                for j, path in enumerate(envs):
                    hit = self.resolve(kdir, path, krel, _item_line(_l(g.get("envs")), j))
                    if not hit or hit[0] != "file":
                        continue
                    for n, raw in enumerate(self.sources.get(hit[1], "").splitlines(), 1):
                        s = raw.strip()
                        if s and not s.startswith("#") and "=" in s:
                            k, _, v = s.removeprefix("export ").partition("=")
                            data.put(k.strip(), v.strip().strip("'\""), hit[1], n)
                name, ns = str(g["name"]), g.get("namespace")
                behavior = str(g.get("behavior", "create"))
                if behavior in ("merge", "replace"):
                    target = next((r for r in res if r.kind == kind and name in (r.name, *r.names)
                                   and (ns is None or r.namespace == ns)), None)
                    if target is None:
                        self.diag("kustomize-error", krel, line,
                                  f"{key} {name} has behavior {behavior} but no {kind} {name} exists to {behavior}")
                        continue
                    if kind == "Secret":
                        data = _b64(data)
                    cur = target.obj.get("data")
                    if behavior == "merge" and isinstance(cur, dict):
                        merged = clone(cur)
                        for k, v in data.items():
                            merged.put(k, v, data.src_of(k), data.key_lines.get(k))
                        data = merged
                    target.obj.put("data", data, krel, line)
                    continue
                obj = RMap()
                obj.src, obj.line = krel, line
                obj.put("apiVersion", "v1", krel, line)
                obj.put("kind", kind, krel, line)
                meta = RMap()
                meta.src, meta.line = krel, line
                meta.put("name", name, krel, line)
                if ns is not None:
                    meta.put("namespace", str(ns), krel, line)
                labels = {**_m(opts.get("labels")), **_m(_m(g.get("options")).get("labels"))}
                if labels:
                    meta.put("labels", clone(labels, krel, fixed_line=line), krel, line)
                obj.put("metadata", meta, krel, line)
                if kind == "Secret":
                    obj.put("type", str(g.get("type", "Opaque")), krel, line)
                    data = _b64(data)
                obj.put("data", data, krel, line)
                res.append(_Res(obj, krel, line))

    # -- transformers, in kustomize's order --
    def transform(self, doc: dict, kdir: str, krel: str, res: list[_Res]) -> list[_Res]:
        line_of = getattr(doc, "line_of", lambda _k: None)
        # patchesStrategicMerge: paths or inline YAML
        psm = _l(doc.get("patchesStrategicMerge"))
        for i, entry in enumerate(psm):
            line = _item_line(psm, i)
            for patch, src, where in self.patch_docs(kdir, krel, entry, line):
                if isinstance(patch, dict):
                    res = self.apply_smp(res, patch, src, None, where)
        # patches: strategic merge or JSON 6902, optionally with a target selector
        pl = _l(doc.get("patches"))
        for i, entry in enumerate(pl):
            line = _item_line(pl, i)
            if not isinstance(entry, dict):
                self.diag("kustomize-error", krel, line, "patches entry is not a mapping")
                continue
            target = entry.get("target") if isinstance(entry.get("target"), dict) else None
            content = entry.get("path") if "path" in entry else None
            inline = entry.get("patch")
            if content is None and inline is None:
                self.diag("kustomize-error", krel, line, "patches entry has neither path nor patch")
                continue
            pline = entry.line_of("patch") if hasattr(entry, "line_of") and inline is not None else line
            docs = self.patch_docs(kdir, krel, content if content is not None else inline, pline,
                                   inline=content is None)
            for patch, src, where in docs:
                if isinstance(patch, list):
                    if target is None:
                        self.diag("kustomize-error", src, where, "a JSON 6902 patch needs a target")
                        continue
                    res = self.apply_json6902(res, target, patch, src, where)
                elif isinstance(patch, dict):
                    res = self.apply_smp(res, patch, src, target, where)
        # namespace
        ns = doc.get("namespace")
        if isinstance(ns, str) and ns:
            self.set_namespace(res, ns, krel, line_of("namespace"))
        # namePrefix / nameSuffix (and the references that follow the names)
        prefix, suffix = doc.get("namePrefix"), doc.get("nameSuffix")
        if prefix or suffix:
            self.rename(res, str(prefix or ""), str(suffix or ""), krel, line_of("namePrefix") or line_of("nameSuffix"))
        # labels
        cl = doc.get("commonLabels")
        if isinstance(cl, dict) and cl:
            self.add_labels(res, cl, krel, line_of("commonLabels"), selectors=True, templates=True)
        lab = _l(doc.get("labels"))
        for i, entry in enumerate(lab):
            entry = _m(entry)
            pairs = _m(entry.get("pairs"))
            if pairs:
                sel = entry.get("includeSelectors") is True
                self.add_labels(res, pairs, krel, _item_line(lab, i), selectors=sel,
                                templates=sel or entry.get("includeTemplates") is True)
        ca = doc.get("commonAnnotations")
        if isinstance(ca, dict) and ca:
            self.add_annotations(res, ca, krel, line_of("commonAnnotations"))
        # patchesJson6902
        pj = _l(doc.get("patchesJson6902"))
        for i, entry in enumerate(pj):
            line = _item_line(pj, i)
            entry = _m(entry)
            target = entry.get("target")
            if not isinstance(target, dict):
                self.diag("kustomize-error", krel, line, "patchesJson6902 entry without a target")
                continue
            inline = entry.get("patch")
            pline = entry.line_of("patch") if hasattr(entry, "line_of") and inline is not None else line
            for patch, src, where in self.patch_docs(kdir, krel, entry.get("path", inline), pline,
                                                     inline="path" not in entry):
                if isinstance(patch, list):
                    res = self.apply_json6902(res, target, patch, src, where)
                else:
                    self.diag("kustomize-error", src, where, "patchesJson6902 content is not a list of operations")
        # replicas
        rl = _l(doc.get("replicas"))
        for i, entry in enumerate(rl):
            entry = _m(entry)
            line = _item_line(rl, i)
            count = entry.get("count")
            hits = [r for r in res if r.kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")
                    and entry.get("name") in (r.name, *r.names)]
            if not isinstance(count, int) or isinstance(count, bool):
                self.diag("kustomize-error", krel, line, f"replicas for {entry.get('name')!r}: count is not a number")
                continue
            if not hits:
                self.diag("kustomize-patch-unmatched", krel, line,
                          f"replicas for {entry.get('name')!r} matches no Deployment/StatefulSet/ReplicaSet")
            for r in hits:
                _child_map(r.obj, "spec", krel, line).put("replicas", count, krel, line)
        # images
        il = _l(doc.get("images"))
        for i, entry in enumerate(il):
            entry = _m(entry)
            if entry.get("name"):
                self.set_images(res, entry, krel, _item_line(il, i))
        # replacements: kustomize runs them after every other built-in transformer of the kustomization
        if "replacements" in doc:
            self.replacements(doc.get("replacements"), kdir, krel, line_of("replacements"), res)
        return res

    def patch_docs(self, kdir: str, krel: str, entry: Any, line: int | None, inline: bool | None = None
                   ) -> list[tuple[Any, str, int | None]]:
        """(patch document, its file, the line of the patch) of a patch given as a path or inline."""
        if not isinstance(entry, str):
            self.diag("kustomize-error", krel, line, "patch is neither a path nor inline YAML")
            return []
        if inline is None:
            inline = "\n" in entry.strip() or entry.lstrip().startswith(("{", "["))
        if inline:
            try:
                docs = load_all(entry).docs
            except YamlError as exc:
                self.diag("kustomize-error", krel, line, f"inline patch is not valid YAML: {exc.message}")
                return []
            off = self.offset_of(krel, line)
            return [(clone(d.data, krel, off), krel, (d.line + off)) for d in docs if d.data is not None]
        hit = self.resolve(kdir, entry, krel, line)
        if hit is None or hit[0] != "file":
            if hit is not None:
                self.diag("kustomize-unresolved", krel, line, f"patch {entry} is a directory")
            return []
        rel = hit[1]
        self.result.consumed.add(rel)
        f = self.parsed.get(rel)
        if f is None or f.data is None:
            self.diag("kustomize-unresolved", krel, line, f"patch {rel} could not be read as YAML")
            return []
        if isinstance(f.data, list) and all(hasattr(d, "data") for d in f.data):
            return [(clone(d.data, rel), rel, d.line) for d in f.data if d.data is not None]
        return [(clone(f.data, rel), rel, 1)]  # JSON

    # -- strategic merge --
    def apply_smp(self, res: list[_Res], patch: dict, src: str, target: dict | None, where: int | None
                  ) -> list[_Res]:
        if target is not None:
            hits = self.select(res, target)
            body = clone(patch)
            meta = body.get("metadata")
            if isinstance(meta, dict):  # the target decides which objects; the patch's own name does not
                meta.pop("name", None)
            body.pop("kind", None)
            body.pop("apiVersion", None)
            what = _describe(target)
        else:
            body = patch
            meta = _m(patch.get("metadata"))
            name, kind = meta.get("name"), patch.get("kind")
            group = _group(patch.get("apiVersion")) if patch.get("apiVersion") else None
            hits = [r for r in res if r.kind == kind and name in (r.name, *r.names)
                    and (group is None or _group(r.obj.get("apiVersion")) == group)
                    and (meta.get("namespace") is None or r.namespace == meta.get("namespace"))]
            what = f"{kind} {name}"
        if not hits:
            self.diag("kustomize-patch-unmatched", src, where, f"patch targets {what}, which no resource matches")
            return res
        out = []
        for r in res:
            if any(r is h for h in hits):
                merged = smp(r.obj, body, src)
                if merged is None:  # $patch: delete of the whole object
                    continue
                r.obj = merged
            out.append(r)
        return out

    # -- JSON 6902 --
    def apply_json6902(self, res: list[_Res], target: dict, ops: list, src: str, where: int | None) -> list[_Res]:
        hits = self.select(res, target)
        if not hits:
            self.diag("kustomize-patch-unmatched", src, where,
                      f"patch targets {_describe(target)}, which no resource matches")
            return res
        for r in hits:
            for i, op in enumerate(ops):
                line = getattr(op, "line", None) or _item_line(ops, i) or where
                try:
                    json6902(r.obj, op, src, line)
                except _PatchError as exc:
                    self.diag("kustomize-patch-error", src, line, f"{r.kind} {r.name}: {exc}")
        return res

    def select(self, res: list[_Res], target: dict) -> list[_Res]:
        out = []
        for r in res:
            api = str(r.obj.get("apiVersion", ""))
            group, version = (api.split("/", 1) if "/" in api else ("", api))
            if target.get("group") is not None and str(target["group"]) != group:
                continue
            if target.get("version") is not None and str(target["version"]) != version:
                continue
            if target.get("kind") is not None and str(target["kind"]) != r.kind:
                continue
            if target.get("name") is not None and not any(_rx_full(target["name"], n) for n in (r.name, *r.names)):
                continue
            if target.get("namespace") is not None and not _rx_full(target["namespace"], r.namespace or ""):
                continue
            meta = _m(r.obj.get("metadata"))
            if target.get("labelSelector") and not _selector_match(str(target["labelSelector"]),
                                                                   _m(meta.get("labels"))):
                continue
            if target.get("annotationSelector") and not _selector_match(str(target["annotationSelector"]),
                                                                        _m(meta.get("annotations"))):
                continue
            out.append(r)
        return out

    # -- namespace, names, labels, annotations, images --
    def set_namespace(self, res: list[_Res], ns: str, krel: str, line: int | None) -> None:
        sas = {r.name for r in res if r.kind == "ServiceAccount"}
        old = {r.namespace for r in res if r.namespace}
        for r in res:
            if r.kind in ("RoleBinding", "ClusterRoleBinding"):
                subs = _l(r.obj.get("subjects"))
                for s in subs:
                    if isinstance(s, RMap) and s.get("kind") == "ServiceAccount" and (
                            s.get("name") in sas or s.get("namespace") in old or s.get("namespace") is None):
                        s.put("namespace", ns, krel, line)
            if r.kind in CLUSTER_SCOPED:
                continue
            if r.namespace != ns:
                r.prev.append((r.name, r.namespace))
            _child_map(r.obj, "metadata", krel, line).put("namespace", ns, krel, line)

    def rename(self, res: list[_Res], prefix: str, suffix: str, krel: str, line: int | None) -> None:
        renames: dict[str, dict[str, str]] = {}
        for r in res:
            if r.kind in NO_RENAME or not r.name:
                continue
            old = r.name
            new = f"{prefix}{old}{suffix}"
            r.names.append(old)
            r.prev.append((old, r.namespace))
            _child_map(r.obj, "metadata", krel, line).put("name", new, krel, line)
            renames.setdefault(r.kind, {})[old] = new
        for r in res:
            _fix_references(r.obj, renames)

    def add_labels(self, res: list[_Res], labels: dict, krel: str, line: int | None, selectors: bool,
                   templates: bool) -> None:
        for r in res:
            _merge_into(_child_map(_child_map(r.obj, "metadata", krel, line), "labels", krel, line), labels, krel,
                        line)
            for path, create in LABEL_PATHS.get(r.kind, ()):
                is_template = "emplate/" in path  # template/ and jobTemplate/
                if (is_template and not templates) or (not is_template and not selectors):
                    continue
                for m in _walk(r.obj, path.split("/"), create, krel, line):
                    _merge_into(m, labels, krel, line)

    def add_annotations(self, res: list[_Res], ann: dict, krel: str, line: int | None) -> None:
        for r in res:
            _merge_into(_child_map(_child_map(r.obj, "metadata", krel, line), "annotations", krel, line), ann, krel,
                        line)
            for path in TEMPLATE_META.get(r.kind, ()):
                for m in _walk(r.obj, [*path.split("/"), "annotations"], True, krel, line):
                    _merge_into(m, ann, krel, line)

    def set_images(self, res: list[_Res], entry: dict, krel: str, line: int | None) -> None:
        name = str(entry["name"])
        for r in res:
            for c in _containers_anywhere(r.obj):
                image = c.get("image")
                if not isinstance(image, str):
                    continue
                repo, tag, digest = _split_image(image)
                if repo != name:
                    continue
                new_repo = str(entry.get("newName") or repo)
                if entry.get("digest"):
                    new = f"{new_repo}@{entry['digest']}"
                elif entry.get("newTag") is not None:
                    new = f"{new_repo}:{entry['newTag']}"
                else:
                    new = new_repo + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
                if isinstance(c, RMap):
                    c.put("image", new, krel, line)
                else:
                    c["image"] = new

    # -- replacements --
    def replacements(self, entries: Any, kdir: str, krel: str, line: int | None, res: list[_Res]) -> None:
        if not isinstance(entries, list):
            if entries is not None:
                self.diag("kustomize-error", krel, line, "replacements is not a list")
            return
        for rep, src, where in self.replacement_entries(entries, kdir, krel):
            self.apply_replacement(res, rep, src, where)

    def replacement_entries(self, entries: list, kdir: str, krel: str) -> list[tuple[dict, str, int | None]]:
        """(replacement, the file that declares it, its line) of every entry: inline, or ``path:`` to a file
        holding one replacement or a list of them."""
        out: list[tuple[dict, str, int | None]] = []
        for i, entry in enumerate(entries):
            line = _item_line(entries, i)
            if not isinstance(entry, dict):
                self.diag("kustomize-error", krel, line, "replacements entry is not a mapping")
                continue
            unknown: list[str] = []
            entry = _canonical_replacement(entry, unknown=unknown)
            if unknown:  # the kustomization is decoded strictly: an unknown (misspelt) field fails the build
                self.diag("kustomize-error", krel, line, f"replacement has an unknown field `{unknown[0]}`; "
                          "`kustomize build` refuses it: not applied")
                continue
            if "path" not in entry:
                out.append((entry, krel, line))
                continue
            if entry.get("source") is not None or entry.get("targets"):
                self.diag("kustomize-error", krel, line, "replacements entry has both a path and an inline replacement")
                continue
            if not isinstance(entry["path"], str):
                self.diag("kustomize-error", krel, line, "replacement path is not a file name")
                continue
            hit = self.resolve(kdir, entry["path"], krel, line)
            if hit is None:
                continue
            if hit[0] != "file":
                self.diag("kustomize-unresolved", krel, line, f"replacement {entry['path']} is a directory")
                continue
            rel = hit[1]
            self.result.consumed.add(rel)
            f = self.parsed.get(rel)
            data = f.data if f is not None else None
            docs = [(d.data, d.line) for d in data] if isinstance(data, list) and all(hasattr(d, "data") for d in data) \
                else [(data, 1)]  # JSON
            content, first = docs[0] if docs else (None, None)
            if isinstance(content, dict) and content.get("kind") == "ReplacementTransformer" \
                    and isinstance(content.get("replacements"), list):
                self.diag("kustomize-warning", krel, line,
                          f"{rel} is a ReplacementTransformer configuration: `kustomize build` takes it under "
                          "`transformers:`, and under `replacements:` fails (\"replacements must specify a source and "
                          "at least one target\") — applied anyway")
                content = content["replacements"]
            # a file is decoded leniently: fields kustomize does not know are ignored
            if isinstance(content, list):
                for j, rep in enumerate(content):
                    if isinstance(rep, dict):
                        out.append((_canonical_replacement(rep), rel, _item_line(content, j)))
                    else:
                        self.diag("kustomize-error", rel, _item_line(content, j), "replacement is not a mapping")
            elif isinstance(content, dict):
                out.append((_canonical_replacement(content), rel, getattr(content, "line", None) or first))
            else:
                why = "could not be read as YAML" if content is None else "holds neither a replacement nor a list of them"
                self.diag("kustomize-unresolved", krel, line, f"replacement file {rel} {why}")
        return out

    def apply_replacement(self, res: list[_Res], rep: dict, src: str, line: int | None) -> None:
        """Copy the source value into every target field, as kustomize's ReplacementTransformer does. What kustomize
        would fail the build on is reported (file and line of the replacement) and that part is skipped."""
        def line_of(node: Any, key: str, default: int | None) -> int | None:
            return (node.line_of(key) if hasattr(node, "line_of") else None) or default

        source, literal, targets = rep.get("source"), rep.get("sourceValue"), rep.get("targets")
        if (source is None and literal is None) or not isinstance(targets, list) or not targets:
            self.diag("kustomize-error", src, line, "a replacement needs a source and at least one target")
            return
        if source is not None and literal is not None:
            self.diag("kustomize-error", src, line, "a replacement has either a source or a sourceValue, not both")
            return
        sline = line_of(rep, "source", line)
        try:
            # sourceValue (newer kustomize) is untyped text, typed like a field kustomize creates
            value = _Text(str(literal)) if source is None else self.replacement_source(res, source)
        except _ReplacementError as exc:
            self.diag("kustomize-error", src, sline, f"replacement source: {exc}")
            return
        for i, target in enumerate(targets):
            tline = _item_line(targets, i) or line
            if not isinstance(target, dict) or not isinstance(target.get("select"), dict):
                self.diag("kustomize-error", src, tline, "replacement target without a select")
                continue
            options = _m(target.get("options"))
            paths = target.get("fieldPaths")
            if paths is None:
                paths = ["metadata.name"]  # kustomize's default
            if not isinstance(paths, list):
                self.diag("kustomize-error", src, tline, "replacement target fieldPaths is not a list")
                continue
            for r in self.replacement_targets(res, target):
                for j, fp in enumerate(paths):
                    fline = _item_line(paths, j) if isinstance(paths, YList) else tline
                    try:
                        _replace_field(r.obj, str(fp), value, options, src, fline)
                    except _ReplacementError as exc:
                        self.diag("kustomize-error", src, fline, f"replacement target {r.kind} {r.name}: {exc}")

    def replacement_source(self, res: list[_Res], source: Any) -> Any:
        """The value a replacement copies: the source object must be exactly one; its field must hold a value."""
        if not isinstance(source, dict):
            raise _ReplacementError("source is not a mapping")
        hits = [r for r in res if any(_id_selected(i, source) for i in _res_ids(r))]
        if not hits:
            raise _ReplacementError(f"{_describe(source)} matches no resource")
        if len(hits) > 1:
            raise _ReplacementError(f"{_describe(source)} matches more than one resource ("
                                    + ", ".join(f"{r.kind} {r.name}" for r in hits[:4]) + ")")
        fp = str(source.get("fieldPath") or "metadata.name")
        slots = _field_slots(hits[0].obj, _split_field_path(fp), create=False, exact=True, src="", line=None)
        value = slots[0][0][slots[0][1]] if slots else None
        if value is None or value == {} or value == []:  # kustomize treats null and empty as missing
            raise _ReplacementError(f"fieldPath {fp} is missing in {hits[0].kind} {hits[0].name}")
        options = _m(source.get("options"))
        if options.get("delimiter"):
            if isinstance(value, (dict, list)):
                raise _ReplacementError("options.delimiter needs a scalar value")
            index = _option_index(options)
            pieces = _scalar_text(value).split(str(options["delimiter"]))
            if not 0 <= index < len(pieces):
                raise _ReplacementError(f"options.index {index} is out of bounds for value {_scalar_text(value)}")
            value = pieces[index] if isinstance(value, str) else _resolve_scalar(pieces[index])
        return value

    def replacement_targets(self, res: list[_Res], target: dict) -> list[_Res]:
        """The objects ``select`` takes and no ``reject`` drops. Ids are compared exactly (no regex), each of an
        object's ids counts (its names and namespaces before this build changed them too), and a reject's label
        or annotation selector drops an object by itself, whatever the rest of that reject says."""
        select = target["select"]
        rejects = [x for x in _l(target.get("reject")) if isinstance(x, dict)]
        out = []
        for r in res:
            meta = _m(r.obj.get("metadata"))
            if not _meta_selected(select, meta):
                continue
            if any((rj.get("labelSelector") or rj.get("annotationSelector")) and _meta_selected(rj, meta)
                   for rj in rejects):
                continue
            ids = _res_ids(r)
            if not any(_id_selected(i, select) for i in ids):
                continue
            if any(not _id_empty(rj) and _id_selected(i, rj) for rj in rejects for i in ids):
                continue
            out.append(r)
        return out


def _b64(data: RMap) -> RMap:
    out = RMap()
    out.src, out.line = data.src, data.line
    for k, v in data.items():
        out.put(k, base64.b64encode(str(v).encode()).decode(), data.src_of(k), data.key_lines.get(k))
    return out


def _group(api: Any) -> str:
    api = str(api or "")
    return api.split("/", 1)[0] if "/" in api else ""


def _describe(target: dict) -> str:
    parts = [f"{k}={target[k]}" for k in ("group", "version", "kind", "name", "namespace", "labelSelector",
                                         "annotationSelector") if target.get(k) is not None]
    return "{" + ", ".join(parts) + "}"


@lru_cache(maxsize=512)
def _go_regex(pattern: str) -> Any:
    """A regular expression from a kustomization, compiled as kustomize compiles it: Go's RE2 syntax, matched in
    linear time (google-re2), so a pattern planted in a repository cannot make the scan backtrack for ever the
    way Python's ``re`` would on ``(a+)+$``. None when RE2 refuses the pattern."""
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error:
        return None


def _rx_full(pattern: Any, value: str) -> bool:
    p = str(pattern)
    rx = _go_regex(p)
    return rx.fullmatch(value) is not None if rx is not None else p == value


def _selector_match(selector: str, labels: dict) -> bool:
    """Kubernetes label selector syntax: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``,
    ``a notin (x,y)``, comma-separated (all must hold)."""
    labels = {str(k): str(v) for k, v in labels.items()}
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", selector):
        t = term.strip()
        if not t:
            continue
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", t)
        if m:
            vals = {v.strip() for v in m.group(3).split(",")}
            has = labels.get(m.group(1)) in vals
            if has != (m.group(2) == "in"):
                return False
            continue
        m = re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", t)
        if m:
            equal = labels.get(m.group(1)) == m.group(3)
            if equal != (m.group(2) != "!="):
                return False
            continue
        if t.startswith("!"):
            if t[1:].strip() in labels:
                return False
        elif t not in labels:
            return False
    return True


# label fields by kind (commonLabels and `labels` with includeSelectors/includeTemplates); create=True adds
# the map when missing. Mirrors kustomize's built-in field specs for the kinds that carry selectors.
_WL = [("spec/selector/matchLabels", True), ("spec/template/metadata/labels", True)]
LABEL_PATHS: dict[str, list[tuple[str, bool]]] = {
    "Service": [("spec/selector", True)],
    "ReplicationController": [("spec/selector", True), ("spec/template/metadata/labels", True)],
    "Deployment": _WL, "ReplicaSet": _WL, "DaemonSet": _WL, "StatefulSet": _WL,
    "Job": [("spec/selector/matchLabels", False), ("spec/template/metadata/labels", True)],
    "CronJob": [("spec/jobTemplate/spec/selector/matchLabels", False),
                ("spec/jobTemplate/metadata/labels", True),
                ("spec/jobTemplate/spec/template/metadata/labels", True)],
    "PodDisruptionBudget": [("spec/selector/matchLabels", False)],
    "NetworkPolicy": [("spec/podSelector/matchLabels", False),
                      ("spec/ingress[]/from[]/podSelector/matchLabels", False),
                      ("spec/egress[]/to[]/podSelector/matchLabels", False)],
}
TEMPLATE_META = {k: ["spec/template/metadata"] for k in
                 ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "ReplicationController")}
TEMPLATE_META["CronJob"] = ["spec/jobTemplate/metadata", "spec/jobTemplate/spec/template/metadata"]


def _walk(node: Any, parts: list[str], create: bool, src: str, line: int | None) -> list[RMap]:
    """The maps at a slash path (``x[]`` iterates a list); missing maps are created when ``create``."""
    if not parts:
        return [node] if isinstance(node, RMap) else []
    head, rest = parts[0], parts[1:]
    if not isinstance(node, RMap):
        return []
    if head.endswith("[]"):
        out: list[RMap] = []
        for item in _l(node.get(head[:-2])):
            out += _walk(item, rest, create, src, line)
        return out
    if head not in node:
        if not create:
            return []
        node.put(head, _new_map(src, line), src, line)
    child = node.get(head)
    if isinstance(child, dict) and not isinstance(child, RMap):
        child = clone(child, src)
        node[head] = child
    return _walk(child, rest, create, src, line)


def _new_map(src: str | None, line: int | None) -> RMap:
    m = RMap()
    m.src, m.line = src, line
    return m


def _merge_into(m: RMap, values: dict, src: str, line: int | None) -> None:
    for k, v in values.items():
        m.put(str(k), str(v) if not isinstance(v, (dict, list)) else clone(v, src, fixed_line=line), src, line)


def _containers_anywhere(node: Any) -> list[dict]:
    """Every container mapping under ``containers``/``initContainers``/``ephemeralContainers`` at any depth."""
    out: list[dict] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            for k, v in n.items():
                if k in ("containers", "initContainers", "ephemeralContainers") and isinstance(v, list):
                    out += [c for c in v if isinstance(c, dict)]
                elif isinstance(v, (dict, list)):
                    stack.append(v)
        elif isinstance(n, list):
            stack.extend(x for x in n if isinstance(x, (dict, list)))
    return out


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    ref, digest = (image.split("@", 1) + [None])[:2] if "@" in image else (image, None)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    return ref, tag, digest


# references that follow a renamed object: (referrer kinds or None for pod specs, path, referenced kind)
def _pod_specs(obj: dict) -> list[dict]:
    kind = obj.get("kind")
    spec = _m(obj.get("spec"))
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        return [_m(_m(_m(_m(spec.get("jobTemplate")).get("spec")).get("template")).get("spec"))]
    tmpl = _m(spec.get("template"))
    return [_m(tmpl.get("spec"))] if tmpl else []


def _fix_references(obj: RMap, renames: dict[str, dict[str, str]]) -> None:
    def swap(m: Any, key: str, kind: str) -> None:
        if isinstance(m, dict) and isinstance(m.get(key), str) and m[key] in renames.get(kind, {}):
            m[key] = renames[kind][m[key]]

    for pod in _pod_specs(obj):
        swap(pod, "serviceAccountName", "ServiceAccount")
        swap(pod, "serviceAccount", "ServiceAccount")
        swap(pod, "priorityClassName", "PriorityClass")
        for s in _l(pod.get("imagePullSecrets")):
            swap(s, "name", "Secret")
        for v in _l(pod.get("volumes")):
            v = _m(v)
            swap(v.get("configMap"), "name", "ConfigMap")
            swap(v.get("secret"), "secretName", "Secret")
            swap(v.get("persistentVolumeClaim"), "claimName", "PersistentVolumeClaim")
            for s in _l(_m(v.get("projected")).get("sources")):
                swap(_m(s).get("configMap"), "name", "ConfigMap")
                swap(_m(s).get("secret"), "name", "Secret")
        for key in ("containers", "initContainers"):
            for c in _l(pod.get(key)):
                c = _m(c)
                for ef in _l(c.get("envFrom")):
                    swap(_m(ef).get("configMapRef"), "name", "ConfigMap")
                    swap(_m(ef).get("secretRef"), "name", "Secret")
                for e in _l(c.get("env")):
                    vf = _m(_m(e).get("valueFrom"))
                    swap(vf.get("configMapKeyRef"), "name", "ConfigMap")
                    swap(vf.get("secretKeyRef"), "name", "Secret")
    kind = obj.get("kind")
    spec = _m(obj.get("spec"))
    if kind == "StatefulSet":
        swap(spec, "serviceName", "Service")
    if kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        ref = spec.get("scaleTargetRef")
        swap(ref, "name", str(_m(ref).get("kind", "Deployment")))
    if kind == "VerticalPodAutoscaler":
        ref = spec.get("targetRef")
        swap(ref, "name", str(_m(ref).get("kind", "Deployment")))
    if kind == "Ingress":
        backends = [spec.get("defaultBackend"), spec.get("backend")]
        for rule in _l(spec.get("rules")):
            backends += [_m(p).get("backend") for p in _l(_m(_m(rule).get("http")).get("paths"))]
        for b in backends:
            b = _m(b)
            swap(b.get("service"), "name", "Service")
            swap(b, "serviceName", "Service")
        for t in _l(spec.get("tls")):
            swap(t, "secretName", "Secret")
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef")
        swap(ref, "name", str(_m(ref).get("kind", "Role")))
        for s in _l(obj.get("subjects")):
            if _m(s).get("kind") == "ServiceAccount":
                swap(s, "name", "ServiceAccount")


# --- strategic merge patch ----------------------------------------------------------------------

MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
              "volumes": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath",
              "volumeDevices": "devicePath", "hostAliases": "ip", "resourceClaims": "name",
              "topologySpreadConstraints": "topologyKey", "conditions": "type", "readinessGates": "conditionType"}


def _merge_key(key: Any, base: list, patch: list) -> str | None:
    if key == "ports":
        items = [x for x in (*base, *patch) if isinstance(x, dict)]
        if items and all("containerPort" in x for x in items):
            return "containerPort"
        if items and all("port" in x for x in items):
            return "port"
        return None
    return MERGE_KEYS.get(key)


def smp(base: RMap, patch: dict, src: str) -> RMap | None:
    """Kubernetes strategic merge of ``patch`` into ``base`` (in place; returns the result, None = deleted).
    Maps merge key by key; ``null`` deletes; lists of containers/env/volumes/ports/... merge by their key;
    ``$patch: delete``/``replace`` are honoured; other lists are replaced."""
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        body = clone({k: v for k, v in patch.items() if k != "$patch"}, src)
        body.line = base.line
        return body
    for key, pv in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            if key.startswith("$deleteFromPrimitiveList/"):
                field_ = key.split("/", 1)[1]
                if isinstance(base.get(field_), list) and isinstance(pv, list):
                    base[field_] = clone([x for x in base[field_] if x not in pv])
            continue
        pline = patch.line_of(key) if hasattr(patch, "line_of") else None
        bv = base.get(key)
        if pv is None:
            base.pop(key, None)
            continue
        if isinstance(pv, dict) and isinstance(bv, dict) and pv.get("$patch") != "replace":
            if not isinstance(bv, RMap):
                bv = clone(bv, base.src)
            merged = smp(bv, pv, src)
            if merged is None:
                base.pop(key, None)
            else:
                base[key] = merged
            continue
        if isinstance(pv, dict) and pv.get("$patch") == "delete":
            base.pop(key, None)
            continue
        if isinstance(pv, list) and isinstance(bv, list):
            base.put(key, _merge_list(key, bv, pv, src), None, None)
            continue
        value = clone({k: v for k, v in pv.items() if k != "$patch"} if isinstance(pv, dict) else pv, src)
        base.put(key, value, src, pline)
    return base


def _merge_list(key: Any, base: list, patch: list, src: str) -> RList:
    """Merge by the list's merge key the way Kubernetes does: the patch's items first, in patch order (merged
    with their base item when there is one), then the base items the patch does not name, in base order."""
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return clone([x for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")], src)
    mk = _merge_key(key, base, patch)
    if mk is None:  # lists without a merge key are replaced
        return clone(patch, src)
    cur = base if isinstance(base, RList) else clone(base)
    blines = cur.item_lines
    plines = getattr(patch, "item_lines", None) or []
    index = {b.get(mk): j for j, b in reversed(list(enumerate(cur))) if isinstance(b, dict) and mk in b}
    out = RList()
    out.src, out.line = cur.src, cur.line
    used: set[int] = set()
    for i, item in enumerate(patch):
        if not isinstance(item, dict) or mk not in item:
            continue
        j = index.get(item[mk])
        if j is not None:
            used.add(j)
        if item.get("$patch") == "delete":
            continue
        if j is None:
            out.append(clone({k: v for k, v in item.items() if k != "$patch"}, src))
            out.item_lines.append(plines[i] if i < len(plines) else None)  # type: ignore[arg-type]
            continue
        b = cur[j] if isinstance(cur[j], RMap) else clone(cur[j], cur.src)
        merged = smp(b, item, src)
        if merged is not None:
            out.append(merged)
            out.item_lines.append(blines[j] if j < len(blines) else None)  # type: ignore[arg-type]
    for j, b in enumerate(cur):
        if j not in used:
            out.append(b)
            out.item_lines.append(blines[j] if j < len(blines) else None)  # type: ignore[arg-type]
    return out


# --- JSON 6902 ----------------------------------------------------------------------------------

class _PatchError(Exception):
    pass


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _PatchError(f"path {path!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(root: Any, parts: list[str]) -> tuple[Any, str]:
    node = root
    for p in parts[:-1]:
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            raise _PatchError(f"path /{'/'.join(parts)} does not exist")
    return node, parts[-1]


def _get(root: Any, parts: list[str]) -> Any:
    parent, last = _parent(root, parts)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _PatchError(f"path /{'/'.join(parts)} does not exist")


def _remove(root: Any, parts: list[str]) -> Any:
    parent, last = _parent(root, parts)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        i = int(last)
        if isinstance(parent, YList) and i < len(parent.item_lines):
            del parent.item_lines[i]
        return parent.pop(i)
    raise _PatchError(f"path /{'/'.join(parts)} does not exist")


def _add(root: Any, parts: list[str], value: Any, src: str, line: int | None, replace: bool) -> None:
    parent, last = _parent(root, parts)
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _PatchError(f"path /{'/'.join(parts)} does not exist")
        if isinstance(parent, RMap):
            parent.put(last, value, src, line)
        else:
            parent[last] = value
        return
    if isinstance(parent, list):
        if last == "-" and not replace:
            i = len(parent)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            i = int(last)
        else:
            raise _PatchError(f"index {last} is out of range at /{'/'.join(parts)}")
        if replace:
            parent[i] = value
            if isinstance(parent, YList) and i < len(parent.item_lines):
                parent.item_lines[i] = line  # type: ignore[call-overload]
        else:
            parent.insert(i, value)
            if isinstance(parent, YList):
                parent.item_lines.insert(i, line)  # type: ignore[arg-type]
        return
    raise _PatchError(f"cannot set /{'/'.join(parts)}: parent is not a mapping or list")


def json6902(obj: RMap, op: Any, src: str, line: int | None) -> None:
    if not isinstance(op, dict):
        raise _PatchError("operation is not a mapping")
    kind = op.get("op")
    parts = _pointer(op.get("path"))
    if kind in ("add", "replace"):
        if "value" not in op:
            raise _PatchError(f"{kind} without a value")
        vline = op.line_of("value") if hasattr(op, "line_of") else line
        _add(obj, parts, clone(op["value"], src), src, vline, replace=kind == "replace")
    elif kind == "remove":
        _remove(obj, parts)
    elif kind in ("move", "copy"):
        frm = _pointer(op.get("from"))
        value = _remove(obj, frm) if kind == "move" else clone(_get(obj, frm))
        _add(obj, parts, value, src, line, replace=False)
    elif kind == "test":
        if plain(_get(obj, parts)) != plain(op.get("value")):
            raise _PatchError(f"test failed at {op.get('path')}")
    else:
        raise _PatchError(f"unknown op {kind!r}")


# --- replacements -------------------------------------------------------------------------------

class _ReplacementError(Exception):
    pass


class _Text(str):
    """A ``sourceValue``: text without a YAML type of its own (it takes the type of the field it lands in)."""


# kustomize's replacement schema: field -> the schema of its value ("" = a scalar; [x] = a list of x)
_REPLACEMENT_SCHEMA: dict[str, dict[str, Any]] = {
    "replacement": {"path": "", "source": "source", "sourceValue": "", "targets": ["target"]},
    "source": {"group": "", "version": "", "kind": "", "name": "", "namespace": "", "fieldPath": "",
               "options": "options"},
    "target": {"select": "selector", "reject": ["selector"], "fieldPaths": "", "options": "options"},
    "selector": {"group": "", "version": "", "kind": "", "name": "", "namespace": "", "labelSelector": "",
                 "annotationSelector": ""},
    "options": {"delimiter": "", "index": "", "create": ""},
}


def _canonical_replacement(node: Any, schema: str = "replacement", where: str = "",
                           unknown: list[str] | None = None) -> Any:
    """A replacement with its field names spelt as kustomize's schema spells them (kustomize decodes it as JSON,
    which matches field names case-insensitively: ``fieldpath`` is ``fieldPath``); fields the schema does not
    have are left out and listed in ``unknown`` (dotted). Lines are kept."""
    if not isinstance(node, dict):
        return node
    fields = _REPLACEMENT_SCHEMA[schema]
    lower = {k.lower(): k for k in fields}
    out = YMap()
    out.line = getattr(node, "line", None)
    key_lines = getattr(node, "key_lines", {})
    for key, value in node.items():
        name = key if key in fields else lower.get(str(key).lower())
        if name is None:
            if unknown is not None:
                unknown.append(f"{where}{key}")
            continue
        sub = fields[name]
        if isinstance(sub, list) and isinstance(value, list):
            seq = YList(_canonical_replacement(v, sub[0], f"{where}{name}[{i}].", unknown) for i, v in enumerate(value))
            seq.line, seq.item_lines = getattr(value, "line", None), list(getattr(value, "item_lines", []))
            value = seq
        elif isinstance(sub, str) and sub:
            value = _canonical_replacement(value, sub, f"{where}{name}.", unknown)
        out[name] = value
        if key in key_lines:
            out.key_lines[name] = key_lines[key]
    return out


def _res_ids(r: _Res) -> list[tuple[str, str, str, str, str]]:
    """(group, version, kind, name, namespace) of an object now and before its renames and namespace changes."""
    api = str(r.obj.get("apiVersion", ""))
    group, version = api.split("/", 1) if "/" in api else ("", api)
    return [(group, version, r.kind, name, ns or "") for name, ns in [(r.name, r.namespace), *r.prev]]


def _id_selected(rid: tuple[str, str, str, str, str], sel: dict) -> bool:
    """Every id field the selector sets is equal (no regex here, unlike patch targets); the namespace
    ``default`` equals no namespace."""
    for key, have in zip(("group", "version", "kind", "name"), rid[:4], strict=True):
        want = sel.get(key)
        if want not in (None, "") and str(want) != have:
            return False
    want_ns = sel.get("namespace")
    return want_ns in (None, "") or (str(want_ns) or "default") == (rid[4] or "default")


def _id_empty(sel: dict) -> bool:
    return all(sel.get(k) in (None, "") for k in ("group", "version", "kind", "name", "namespace"))


def _meta_selected(sel: dict, meta: dict) -> bool:
    for key, field_ in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        if sel.get(key) and not _selector_match(str(sel[key]), _m(meta.get(field_))):
            return False
    return True


def _option_index(options: dict) -> int:
    index = options.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool):
        raise _ReplacementError(f"options.index {index!r} is not a number")
    return index


def _split_field_path(path: str) -> list[str]:
    """A replacement fieldPath split at its dots: ``\\.`` escapes a dot, a bracketed part keeps its dots
    (``[name=a.b]``), and brackets without ``=`` only quote a key (``metadata.annotations.[example.com/x]``)."""
    pieces: list[str] = []
    for piece in path.split("."):
        if pieces and pieces[-1].endswith("\\"):
            pieces[-1] = pieces[-1][:-1] + "." + piece
        else:
            pieces.append(piece)
    parts: list[str] = []
    inside = False
    for piece in pieces:
        if inside:
            parts[-1] += "." + piece
        else:
            parts.append(piece)
        inside = parts[-1].startswith("[") and not parts[-1].endswith("]")
    if inside or not parts or any(not p.strip() for p in parts):
        raise _ReplacementError(f"fieldPath {path!r} is not a valid path")
    return [p[1:-1] if p.startswith("[") and p.endswith("]") and "=" not in p else p.strip() for p in parts]


def _is_entry_selector(part: str) -> bool:
    return part.startswith("[") and part.endswith("]") and "=" in part


def _is_index(part: str) -> bool:
    return re.fullmatch(r"[0-9]+", part) is not None


def _entry_matches(item: Any, field_: str, want: str, exact: bool) -> bool:
    """``[field=want]`` (``[=want]`` for a list of scalars). A target's ``want`` is a regular expression searched
    anywhere in the value, as kustomize does: ``[name=app]`` also takes a container named ``app-sidecar``."""
    if field_:
        if not isinstance(item, dict) or field_ not in item:
            return False
        item = item[field_]
    if item is None or isinstance(item, (dict, list)):
        return False
    text = _scalar_text(item)
    if exact:
        return text == want
    rx = _go_regex(want)
    if rx is None:
        raise _ReplacementError(f"[{field_}={want}] is not a valid regular expression")
    return rx.search(text) is not None


def _new_node(is_list: bool, src: str, line: int | None) -> RMap | RList:
    node: RMap | RList = RList() if is_list else RMap()
    node.src, node.line = src, line
    return node


def _field_slots(node: Any, parts: list[str], create: bool, exact: bool, src: str, line: int | None
                 ) -> list[tuple[Any, Any]]:
    """The (mapping, key) or (list, index) pairs a split fieldPath reaches. A target may go through ``*`` (every
    element of a list) and, with ``create``, adds the maps, lists and ``[field=value]`` entries that are missing;
    a source (``exact``) takes the first entry whose field equals the value."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*" and not exact:
            hits = list(range(len(node)))
        elif _is_index(head):
            if int(head) >= len(node):
                raise _ReplacementError(f"index {head} is out of range: the list has {len(node)} elements")
            hits = [int(head)]
        elif _is_entry_selector(head):
            field_, want = head[1:-1].split("=", 1)
            hits = [i for i, item in enumerate(node) if _entry_matches(item, field_, want, exact)]
            hits = hits[:1] if exact else hits
            if not hits and create:
                entry: Any = _resolve_scalar(want)
                if field_:
                    entry = _new_node(False, src, line)
                    entry.put(field_, _resolve_scalar(want), src, line)
                node.append(entry)
                if isinstance(node, YList):
                    node.item_lines.append(line)  # type: ignore[arg-type]
                hits = [len(node) - 1]
        else:
            raise _ReplacementError(f"{head!r} names a field, but there is a list")
        out: list[tuple[Any, Any]] = []
        for i in hits:
            out += _field_slots(node[i], rest, create, exact, src, line) if rest else [(node, i)]
        return out
    if isinstance(node, dict):
        if head == "*" or _is_entry_selector(head):
            raise _ReplacementError(f"{head} selects list elements, but there is a mapping")
        if not rest:
            return [(node, head)] if head in node or create else []
        child = node.get(head)
        if child is None and create:
            child = _new_node(rest[0] == "*" or _is_index(rest[0]) or _is_entry_selector(rest[0]), src, line)
            _set_field(node, head, child, src, line)
        return [] if child is None else _field_slots(child, rest, create, exact, src, line)
    raise _ReplacementError(f"{head!r} goes into a scalar value")


def _set_field(container: Any, key: Any, value: Any, src: str, line: int | None) -> None:
    """Set a mapping field or a list element and attribute it to the replacement (``src``:``line``). A scalar list
    element keeps its line: a list remembers one file for all its elements."""
    if isinstance(container, RMap):
        container.put(key, value, src, line)
        return
    container[key] = value
    if isinstance(container, YList) and isinstance(value, dict) and key < len(container.item_lines):
        container.item_lines[key] = line  # type: ignore[call-overload]


def _replace_field(obj: RMap, path: str, value: Any, options: dict, src: str, line: int | None) -> None:
    """Write a replacement's value at one target fieldPath of ``obj``, the way kustomize does: a scalar field
    keeps its type (text into a string; a number or boolean only when the text is one, else kustomize fails); a
    field that is created, or a mapping or list that is replaced, takes the source's value; ``delimiter`` and
    ``index`` replace one piece of the field's text (index < 0 prepends, past the end appends)."""
    create = options.get("create") is True
    slots = _field_slots(obj, _split_field_path(path), create, False, src, line)
    if not slots:
        raise _ReplacementError(f"field {path} not found" + ("" if create else " (options.create adds it)"))
    delimiter = options.get("delimiter")
    for container, key in slots:
        exists = not isinstance(container, dict) or key in container
        cur = container[key] if exists else None
        if exists and isinstance(cur, (dict, list)) or not exists and isinstance(value, (dict, list)):
            if delimiter:
                raise _ReplacementError("options.delimiter needs a scalar field and a scalar value")
            new = _resolve_scalar(value) if isinstance(value, _Text) else value
            _set_field(container, key, clone(plain(new), src, fixed_line=line), src, line)
            continue
        text = _scalar_text(value)  # a mapping or list copied into a scalar field leaves an empty text
        if delimiter:
            pieces = (_scalar_text(cur) if exists else "").split(str(delimiter))
            index = _option_index(options)
            if index < 0:
                pieces.insert(0, text)
            elif index >= len(pieces):
                pieces.append(text)
            else:
                pieces[index] = text
            text = str(delimiter).join(pieces)
        _set_field(container, key, _typed_like(cur, text) if exists else _resolve_scalar(text), src, line)


_INT_RX = re.compile(r"[-+]?[0-9]+")
_FLOAT_RX = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "-.inf": -math.inf,
                   "-.Inf": -math.inf, "-.INF": -math.inf, ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}


def _scalar_text(v: Any) -> str:
    """A scalar as kustomize reads it (the YAML text; null is empty). Mappings and lists have no text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None or isinstance(v, (dict, list)):
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        return repr(v) if not math.isinf(v) else (".inf" if v > 0 else "-.inf")
    return str(v)


def _resolve_scalar(text: str) -> Any:
    """The value of plain ``text`` under YAML 1.2's core schema: the type kustomize gives a field it creates."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return text.lower() == "true"
    if _INT_RX.fullmatch(text):
        return int(text)
    if re.fullmatch(r"0x[0-9a-fA-F]+|0o[0-7]+", text):
        return int(text[2:], 16 if text[1] == "x" else 8)
    if _FLOAT_RX.fullmatch(text):
        return float(text)
    return _SPECIAL_FLOATS.get(text, str(text))


def _typed_like(cur: Any, text: str) -> Any:
    """``text`` written into the existing scalar ``cur``: a string takes it as it is; a number, boolean or null
    keeps its type, so the text must be one of those (kustomize fails to decode it otherwise)."""
    if isinstance(cur, bool):
        ok: tuple[type, ...] = (bool,)
    elif isinstance(cur, int):
        ok = (int,)
    elif isinstance(cur, float):
        ok = (int, float)
    elif cur is None:
        ok = (type(None),)
    else:
        return text
    new = _resolve_scalar(text)
    if isinstance(new, ok) and not (isinstance(new, bool) and bool not in ok):
        return new
    kind = "null" if cur is None else type(cur).__name__
    raise _ReplacementError(f"{text!r} cannot replace the {kind} value {_scalar_text(cur) or 'null'}")


# --- Helm ---------------------------------------------------------------------------------------

def _chart_dirs(files: dict[str, str]) -> list[str]:
    dirs = sorted(posixpath.dirname(rel) for rel, kind in files.items() if kind == "helm-chart")
    # a chart under another chart's charts/ is a dependency: rendered with its parent
    return [d for d in dirs if not any(d.startswith(f"{o}/charts/" if o else "charts/") for o in dirs if o != d)]


def render_helm(parsed: dict[str, Parsed], files: dict[str, str], sources: dict[str, str], root: str,
                helm: str | None) -> RenderResult:
    out = RenderResult()
    for cdir in _chart_dirs(files):
        chart_rel = posixpath.join(cdir, "Chart.yaml") if cdir else "Chart.yaml"
        f = parsed.get(chart_rel)
        chart = _m(getattr(f.data[0], "data", None)) if f is not None and isinstance(f.data, list) and f.data else {}
        if str(chart.get("type", "application")) == "library":
            continue  # a library chart renders no objects
        label = cdir or "."
        missing = _missing_dependencies(root, cdir, chart)
        reasons = []
        if helm is None:
            reasons.append("helm is not on PATH")
        if missing:
            reasons.append(f"it needs dependencies not vendored under charts/ ({', '.join(missing)}); prodready "
                           "never runs `helm dependency update`")
        if reasons:
            reason = "; ".join(reasons)
        else:
            objs, err = _helm_template(helm, root, cdir, sources)
            if err is None:
                out.objects += objs
                continue
            reason = f"`helm template` failed: {err}"
        what = _values_objects(parsed, files, sources, cdir, chart, out)
        out.diagnostics.append(Diagnostic(
            "helm-not-rendered", label, None,
            f"Helm chart {label} was not rendered ({reason}); "
            + (f"its values.yaml defaults were evaluated where they map onto controls ({what})" if what else
               "no values.yaml defaults map onto controls, so its templates were not evaluated")))
    return out


def _missing_dependencies(root: str, cdir: str, chart: dict) -> list[str]:
    deps = _l(chart.get("dependencies"))
    missing = []
    base = os.path.join(root, cdir, "charts")
    for d in deps:
        name = _m(d).get("name")
        if not name:
            continue
        name = str(name)
        present = os.path.isdir(os.path.join(base, name)) or (
            os.path.isdir(base) and any(n.startswith(name + "-") and n.endswith(".tgz") for n in os.listdir(base)))
        if not present:
            missing.append(name)
    return missing


def _helm_template(helm: str, root: str, cdir: str, sources: dict[str, str]) -> tuple[list[Rendered], str | None]:
    import subprocess  # only when helm is on PATH: kept off every scan's start-up
    import tempfile

    chart_abs = os.path.join(root, cdir) if cdir else root
    with tempfile.TemporaryDirectory(prefix="prodready-helm-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "KUBECONFIG": os.devnull,
               "HELM_CACHE_HOME": os.path.join(home, "cache"), "HELM_CONFIG_HOME": os.path.join(home, "config"),
               "HELM_DATA_HOME": os.path.join(home, "data"), "HELM_PLUGINS": os.path.join(home, "plugins")}
        try:
            proc = subprocess.run([helm, "template", HELM_RELEASE, chart_abs, "--kube-version", HELM_KUBE_VERSION,
                                   "--skip-tests"], capture_output=True, text=True, timeout=HELM_TIMEOUT_S,
                                  env=env, stdin=subprocess.DEVNULL, cwd=home)
        except subprocess.TimeoutExpired:
            return [], f"timed out after {HELM_TIMEOUT_S}s"
        except OSError as exc:
            return [], f"could not run helm: {exc.strerror or exc}"
    if proc.returncode != 0:
        msg = next((ln.strip() for ln in proc.stderr.splitlines() if ln.strip()), f"exit code {proc.returncode}")
        return [], msg[:300]
    try:
        return parse_helm_output(proc.stdout, cdir, sources), None
    except YamlError as exc:
        return [], f"its output is not valid YAML ({exc.message})"


SOURCE_RX = re.compile(r"^# Source: (.+?)\s*$", re.M)


def parse_helm_output(stdout: str, cdir: str, sources: dict[str, str]) -> list[Rendered]:
    """Objects of ``helm template`` output, each located at the template (``# Source:``) it came from: the
    line of its ``kind:`` in that template, since rendered lines do not map onto the template's."""
    marks = [(stdout.count("\n", 0, m.start()) + 1, m.group(1)) for m in SOURCE_RX.finditer(stdout)]
    out = []
    for doc in load_all(stdout).docs:
        source = None
        for line, s in marks:
            if line <= doc.line:
                source = s
        path = posixpath.join(cdir, source.split("/", 1)[1]) if source and "/" in source else (cdir or ".")
        for obj in expand_lists(doc.data):
            if not isinstance(obj, dict) or "kind" not in obj:
                continue
            text = sources.get(path, "")
            m = re.search(rf"^\s*kind:\s*['\"]?{re.escape(str(obj['kind']))}['\"]?\s*$", text, re.M)
            line = text.count("\n", 0, m.start()) + 1 if m else None
            out.append(Rendered(clone(obj, path, fixed_line=line), path, line, f"helm chart {cdir or '.'}"))
    return out


PROBE_HANDLER_RX = r"\s*(httpGet|tcpSocket|exec|grpc):"


def _values_objects(parsed: dict[str, Parsed], files: dict[str, str], sources: dict[str, str], cdir: str,
                    chart: dict, out: RenderResult) -> str:
    """Objects built from a chart's values.yaml along the common chart conventions (``helm create`` and most
    public charts). Returns what was mapped (for the diagnostic); objects go to ``out``."""
    vrel = posixpath.join(cdir, "values.yaml") if cdir else "values.yaml"
    if vrel not in parsed:
        vrel = posixpath.join(cdir, "values.yml") if cdir else "values.yml"
    vf = parsed.get(vrel)
    values = getattr(vf.data[0], "data", None) if vf is not None and isinstance(vf.data, list) and vf.data else None
    if not isinstance(values, dict):
        return ""
    tdir = f"{cdir}/templates/" if cdir else "templates/"
    templates = {rel: sources.get(rel, "") for rel, kind in files.items() if rel.startswith(tdir)}
    alltext = "\n".join(templates.values())
    km = re.search(r"^kind:\s*['\"]?(Deployment|StatefulSet|DaemonSet)\b", alltext, re.M)
    if not isinstance(values.get("image"), (dict, str)) or km is None:
        return ""
    out.consumed.add(vrel)
    kind = km.group(1)
    name = str(chart.get("name") or posixpath.basename(cdir) or "chart")
    label = f"helm values {cdir or '.'}, not rendered"
    mapped = ["image"]

    def node(data: dict, line: int | None) -> RMap:
        m = clone(data, vrel, fixed_line=line)
        return m

    def at(key: str) -> int | None:
        return values.line_of(key) if hasattr(values, "line_of") else None

    def val(key: str) -> Any:
        return values.get(key)

    img = val("image")
    if isinstance(img, dict):
        repo = str(img.get("repository") or img.get("name") or "")
        if img.get("registry"):
            repo = f"{img['registry']}/{repo}"
        tag = img.get("tag")
        tag = str(tag) if tag not in (None, "") else (str(chart["appVersion"]) if chart.get("appVersion") else None)
        image = repo + (f":{tag}" if tag else "") + (f"@{img['digest']}" if img.get("digest") else "")
        pull = img.get("pullPolicy")
        iline = img.line_of("tag" if "tag" in img else "repository") if hasattr(img, "line_of") else at("image")
    else:
        image, pull, iline = str(img), None, at("image")
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": HELM_RELEASE}
    container = RMap()
    container.src, container.line = vrel, at("image")
    container.put("name", name, vrel, at("image"))
    container.put("image", image, vrel, iline)
    if pull:
        container.put("imagePullPolicy", str(pull), vrel, iline)
    for key in ("securityContext", "resources"):
        v = val(key)
        if isinstance(v, dict) and v:
            container.put(key, clone(v, vrel), vrel, at(key))
            mapped.append(key)
    port = _m(val("service")).get("port")
    if isinstance(port, int) and not isinstance(port, bool):
        ports = RList()
        ports.src, ports.line = vrel, at("service")
        ports.append(node({"name": "http", "containerPort": port, "protocol": "TCP"}, at("service")))
        ports.item_lines = [at("service")]  # type: ignore[list-item]
        container.put("ports", ports, vrel, at("service"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        v = val(probe)
        if isinstance(v, dict) and v:
            container.put(probe, clone(v, vrel), vrel, at(probe))
            mapped.append(probe)
            continue
        for rel, text in templates.items():  # hard-coded in a template (older `helm create` charts)
            m = re.search(rf"^(\s*){probe}:\s*\n\1\s+(httpGet|tcpSocket|exec|grpc):", text, re.M)
            if m:
                tline = text.count("\n", 0, m.start(0) + len(m.group(1))) + 1
                handler = RMap()
                handler.src, handler.line = rel, tline
                pm = RMap({m.group(2): handler})
                pm.src, pm.line = rel, tline
                pm.key_lines[m.group(2)] = tline + 1
                container.put(probe, pm, rel, tline)
                mapped.append(f"{probe} (template)")
                break
    containers = RList([container])
    containers.src, containers.line = vrel, at("image")
    containers.item_lines = [at("image")]  # type: ignore[list-item]
    pod = RMap()
    pod.src, pod.line = vrel, at("image")
    pod.put("containers", containers, vrel, at("image"))
    psc = val("podSecurityContext")
    if isinstance(psc, dict) and psc:
        pod.put("securityContext", clone(psc, vrel), vrel, at("podSecurityContext"))
        mapped.append("podSecurityContext")
    sa = _m(val("serviceAccount"))
    if sa.get("create") is True or sa.get("name"):
        pod.put("serviceAccountName", str(sa.get("name") or name), vrel, at("serviceAccount"))
    for key in ("affinity", "topologySpreadConstraints", "nodeSelector", "tolerations"):
        v = val(key)
        if v:
            pod.put(key, clone(v, vrel), vrel, at(key))
    spec = RMap()
    spec.src, spec.line = vrel, at("image")
    auto = _m(val("autoscaling"))
    replicas = val("replicaCount")
    if isinstance(replicas, int) and not isinstance(replicas, bool) and auto.get("enabled") is not True:
        spec.put("replicas", replicas, vrel, at("replicaCount"))
        mapped.append("replicaCount")
    spec.put("selector", node({"matchLabels": labels}, at("image")), vrel, at("image"))
    tmpl = RMap()
    tmpl.src, tmpl.line = vrel, at("image")
    tmpl.put("metadata", node({"labels": labels}, at("image")), vrel, at("image"))
    tmpl.put("spec", pod, vrel, at("image"))
    spec.put("template", tmpl, vrel, at("image"))
    objs = [node({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": labels}}, at("image"))]
    objs[0].put("spec", spec, vrel, at("image"))
    svc = _m(val("service"))
    if svc and re.search(r"^kind:\s*Service\s*$", alltext, re.M) and isinstance(port, int):
        objs.append(node({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
                          "spec": {"type": str(svc.get("type", "ClusterIP")), "selector": labels,
                                   "ports": [{"port": port, "targetPort": "http", "name": "http"}]}},
                         at("service")))
        mapped.append("service")
    if auto.get("enabled") is True:
        metrics = []
        for res_name, key in (("cpu", "targetCPUUtilizationPercentage"), ("memory", "targetMemoryUtilizationPercentage")):
            if auto.get(key) is not None:
                metrics.append({"type": "Resource", "resource": {"name": res_name, "target": {
                    "type": "Utilization", "averageUtilization": auto[key]}}})
        hpa_spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
                    "minReplicas": auto.get("minReplicas", 1), "maxReplicas": auto.get("maxReplicas")}
        if metrics:
            hpa_spec["metrics"] = metrics
        objs.append(node({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                          "metadata": {"name": name}, "spec": hpa_spec}, at("autoscaling")))
        mapped.append("autoscaling")
    for key in ("podDisruptionBudget", "pdb"):
        pdb = _m(val(key))
        if pdb and (pdb.get("enabled") is True or pdb.get("create") is True):
            pspec: dict[str, Any] = {"selector": {"matchLabels": labels}}
            for k in ("minAvailable", "maxUnavailable"):
                if pdb.get(k) is not None:
                    pspec[k] = pdb[k]
            objs.append(node({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
                              "spec": pspec}, at(key)))
            mapped.append(key)
            break
    for o in objs:
        out.objects.append(Rendered(o, vrel, o.line, label))
    return ", ".join(mapped)
