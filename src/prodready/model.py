"""The normalised project model. Controls query this, never files.

A workload is a workload whether it comes from a Kubernetes Deployment or a Compose service; a
container knows the Dockerfile (and final stage) that builds its image when the repository has it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .parse import Heading, Parsed
from .parsers.jsfacts import JsFacts
from .parsers.pyfacts import PyFacts
from .textindex import TextIndex, required_literals


@dataclass(frozen=True)
class Loc:
    path: str
    line: int | None = None


# --- images & Dockerfiles -----------------------------------------------------------------------

@dataclass
class ImageRef:
    raw: str
    repository: str  # without registry/tag/digest; last path component is ``name``
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    @property
    def pinned(self) -> bool:
        return bool(self.digest) or (self.tag is not None and self.tag != "latest")

    @property
    def templated(self) -> bool:
        return "${" in self.raw or "{{" in self.raw or "$(" in self.raw


def parse_image(raw: str) -> ImageRef:
    ref = raw.strip()
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    return ImageRef(raw, "/".join(parts), tag, digest)


@dataclass
class Instruction:
    cmd: str
    value: list[str]
    flags: list[str]
    line: int
    original: str
    heredocs: list[str]
    json: bool = False

    @property
    def args(self) -> str:
        """The instruction's arguments as one string (heredoc bodies included for RUN)."""
        body = " ".join(self.value)
        if self.heredocs:
            body = body + "\n" + "\n".join(self.heredocs)
        return body


@dataclass
class Stage:
    index: int
    base: str  # image or stage alias as written ("" for an implicit stage)
    alias: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)
    parent: Stage | None = None  # when FROM names an earlier stage
    implicit: bool = False  # instructions before any FROM (a fragment): the base image is unknown

    def lineage(self) -> list[Stage]:
        out: list[Stage] = []
        s: Stage | None = self
        while s is not None and s not in out:
            out.append(s)
            s = s.parent
        return out

    @property
    def base_image(self) -> ImageRef | None:
        """The image the stage's lineage starts from; None for ``scratch`` and for an unknown (implicit) base."""
        root = self.lineage()[-1]
        if root.implicit or root.base.lower() == "scratch":
            return None
        return parse_image(root.base)

    def effective_user(self) -> tuple[str | None, Instruction | None]:
        """The last USER in this stage or the stages it inherits from (None = never set: root)."""
        for s in self.lineage():
            users = [i for i in s.instructions if i.cmd == "USER"]
            if users:
                return users[-1].value[0] if users[-1].value else None, users[-1]
        return None, None

    def find(self, cmd: str, inherited: bool = True) -> list[Instruction]:
        stages = self.lineage() if inherited else [self]
        return [i for s in stages for i in s.instructions if i.cmd == cmd]


@dataclass
class Dockerfile:
    """A Dockerfile as stages of instructions; ``final`` is the stage that becomes the image.

    Fragments: instructions that come before any FROM (a snippet such as a lone ``RUN apt-get install ...``, or
    stray lines above the first FROM) are read as one *implicit* stage (``Stage.implicit``) whose base image is
    unknown, rather than dropped: a snippet is the body of some stage, so what it does is judged as written,
    and controls that need the base image treat the unknown base as "cannot tell" (no finding). ARGs before
    the first FROM of a file that has a FROM stay global build arguments (``args``); in a file without any
    FROM they belong to the implicit stage.
    """

    path: str
    stages: list[Stage]
    args: dict[str, str | None] = field(default_factory=dict)  # global ARGs before the first FROM
    preamble: list[Instruction] = field(default_factory=list)  # the global ARG instructions themselves

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    @property
    def directory(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


def is_root_user(user: str | None) -> bool:
    if user is None:
        return True
    name = user.split(":", 1)[0].strip()
    return name in ("root", "0", "")


# --- workloads ----------------------------------------------------------------------------------

@dataclass
class Probe:
    kind: str  # liveness | readiness | startup | healthcheck
    handler: str  # httpGet | tcpSocket | exec | grpc | healthcheck
    target: str | None  # path/port/command summary
    raw: Any
    loc: Loc


@dataclass
class EnvVar:
    name: str
    value: str | None
    source: str | None  # "secretKeyRef:name/key", "configMapKeyRef:name/key", "fieldRef", ...
    loc: Loc


@dataclass
class Port:
    container_port: int | None
    host_port: int | None = None
    host_ip: str | None = None
    protocol: str = "TCP"
    name: str | None = None


@dataclass
class Container:
    name: str
    image: ImageRef | None
    loc: Loc
    init: bool = False
    raw: dict = field(default_factory=dict)
    # security, normalised across sources (None = not stated)
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    user_declared: str | None = None  # compose ``user:``
    privileged: bool | None = None
    allow_privilege_escalation: bool | None = None
    read_only_root_fs: bool | None = None
    capabilities_add: list[str] = field(default_factory=list)
    capabilities_drop: list[str] = field(default_factory=list)
    seccomp: str | None = None
    # runtime
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)
    probes: dict[str, Probe] = field(default_factory=dict)
    env: list[EnvVar] = field(default_factory=list)
    env_from: list[str] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    pull_policy: str | None = None
    command: list[str] = field(default_factory=list)
    # the Dockerfile that builds the image, when the repository has it, and how that link was made
    dockerfile: Dockerfile | None = None
    dockerfile_link: str | None = None


@dataclass
class Workload:
    source: str  # "k8s" | "compose"
    kind: str  # Deployment, StatefulSet, ..., or "ComposeService"
    name: str
    namespace: str | None
    loc: Loc
    containers: list[Container] = field(default_factory=list)
    replicas: int | None = None  # None = not stated
    pod_labels: dict[str, str] = field(default_factory=dict)
    selector: dict[str, str] | None = None
    service_account: str | None = None
    automount_token: bool | None = None
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    volumes: list[dict] = field(default_factory=list)
    restart: str | None = None  # compose restart policy / k8s restartPolicy
    strategy: dict | None = None
    raw: dict = field(default_factory=dict)
    pod_spec: dict = field(default_factory=dict)
    project: str | None = None  # compose file path / k8s file path
    dev_only: str | None = None  # why this workload is judged a local development environment, if it is
    rendered_by: str | None = None  # "overlay deploy/k8s/overlays/prod", "helm chart charts/api", ... (k8s_render)

    @property
    def ref(self) -> str:
        if self.source == "compose":
            return f"compose service {self.name}"
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}" + (f" ({self.rendered_by})" if self.rendered_by else "")

    @property
    def long_running(self) -> bool:
        return self.kind not in ("Job", "CronJob", "Pod") or (self.kind == "Pod" and self.restart != "Never")

    @property
    def app_containers(self) -> list[Container]:
        return [c for c in self.containers if not c.init]


# --- Kubernetes objects -------------------------------------------------------------------------

def ns_key(namespace: str | None) -> str | None:
    """Namespaces as Kubernetes resolves them for manifests: unset means ``default``."""
    return None if namespace in (None, "", "default") else namespace


def _spec(raw: dict) -> dict:
    spec = raw.get("spec") if isinstance(raw, dict) else None
    return spec if isinstance(spec, dict) else {}


@dataclass
class K8sObject:
    api_version: str
    kind: str
    name: str
    namespace: str | None
    raw: dict
    loc: Loc
    rendered_by: str | None = None  # the Kustomize overlay or Helm chart that rendered it (k8s_render)

    @property
    def ref(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}" + (f" ({self.rendered_by})" if self.rendered_by else "")


# --- delivery -----------------------------------------------------------------------------------

@dataclass
class Step:
    name: str | None
    uses: str | None
    run: str | None
    with_: dict
    loc: Loc


@dataclass
class CIJob:
    name: str
    loc: Loc
    steps: list[Step] = field(default_factory=list)
    environment: str | None = None
    needs: list[str] = field(default_factory=list)
    stage: str | None = None  # GitLab
    when: str | None = None  # GitLab manual
    permissions: Any = None
    raw: dict = field(default_factory=dict)

    def text(self) -> str:
        """All commands and actions of the job, for term searches."""
        parts = [self.name]
        for s in self.steps:
            parts += [s.name or "", s.uses or "", s.run or "", " ".join(f"{k}={v}" for k, v in s.with_.items())]
        return "\n".join(parts)


@dataclass
class Pipeline:
    system: str  # github | gitlab
    path: str
    name: str
    triggers: list[str]
    jobs: list[CIJob]
    permissions: Any = None
    loc: Loc | None = None


# --- code ---------------------------------------------------------------------------------------

@dataclass
class Route:
    method: str
    path: str
    loc: Loc
    handler: str | None = None


@dataclass
class Middleware:
    name: str  # resolved name (module.Class / package)
    loc: Loc
    options: dict = field(default_factory=dict)


@dataclass
class HttpApp:
    framework: str  # fastapi | flask | django | express | fastify | nestjs
    path: str
    loc: Loc
    routes: list[Route] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)


@dataclass
class CodeFile:
    path: str
    language: str  # python | javascript | typescript
    facts: PyFacts | JsFacts


# --- docs & monitoring --------------------------------------------------------------------------

@dataclass
class Doc:
    path: str
    title: str | None
    headings: list[Heading]
    text: str
    words: int

    def lower(self) -> str:
        return self.text.lower()


@dataclass
class AlertRule:
    name: str  # alert or record name
    record: bool
    expr: str
    loc: Loc
    for_: str | None = None
    labels: dict = field(default_factory=dict)


@dataclass
class Diagnostic:
    kind: str  # parse-error | skipped | duplicate-key | unrendered-template | parse-warning | ...
    path: str
    line: int | None
    message: str


@dataclass
class Project:
    root: str
    files: dict[str, str] = field(default_factory=dict)  # rel path -> kind
    sources: dict[str, str] = field(default_factory=dict)  # rel path -> text (for snippets and term search)
    parsed: dict[str, Parsed] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    k8s_objects: list[K8sObject] = field(default_factory=list)
    dockerfiles: list[Dockerfile] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    http_apps: list[HttpApp] = field(default_factory=list)
    code: list[CodeFile] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    alert_rules: list[AlertRule] = field(default_factory=list)
    nginx: dict[str, list] = field(default_factory=dict)  # rel path -> directive tree
    terraform: dict[str, Any] = field(default_factory=dict)
    compose_files: dict[str, dict] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    image_builds: dict[str, tuple[str, str]] = field(default_factory=dict)  # image repo -> (dockerfile path, how)
    secret_lines: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # (path, line) -> (type, masked)

    _index: dict | None = field(default=None, repr=False)
    _derived: dict = field(default_factory=dict, repr=False)

    def derived(self, key: Any, compute: Callable[[], Any]) -> Any:
        """A fact derived from the model, computed on first request and shared by every control that asks
        with the same ``key`` (the model is complete and read-only while controls run)."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = compute()
            return value

    # ---- queries used by many controls (indexed: scans of big monorepos stay linear) ----
    def finalize(self) -> None:
        """Build the lookup indexes once the model is complete. Namespaces are compared through
        :func:`ns_key` (unset and ``default`` are the same namespace)."""
        by_kind: dict[str, list[K8sObject]] = {}
        for o in self.k8s_objects:
            by_kind.setdefault(o.kind, []).append(o)
        svc_by_pair: dict[tuple, list[K8sObject]] = {}
        for s in by_kind.get("Service", []):
            sel = _spec(s.raw).get("selector")
            if isinstance(sel, dict) and sel:
                k, v = next(iter(sel.items()))
                svc_by_pair.setdefault((ns_key(s.namespace), str(k), str(v)), []).append(s)
        hpa: dict[tuple, K8sObject] = {}
        for h in by_kind.get("HorizontalPodAutoscaler", []) + by_kind.get("ScaledObject", []):
            ref = _spec(h.raw).get("scaleTargetRef") or {}
            if isinstance(ref, dict):
                hpa.setdefault((ref.get("kind", "Deployment"), ref.get("name"), ns_key(h.namespace), h.rendered_by), h)
        units = {path.rsplit("/", 1)[0] if "/" in path else "" for path, k in self.files.items()
                 if k in ("dependency-manifest", "dockerfile")}
        self._index = {"kind": by_kind, "svc": svc_by_pair, "hpa": hpa, "units": units}

    def unit_root(self, path: str) -> str:
        """The nearest directory above ``path`` holding a build unit (dependency manifest or Dockerfile);
        "" for the root. Files of one service share it."""
        units = self._idx()["units"]
        d = path.rsplit("/", 1)[0] if "/" in path else ""
        while d:
            if d in units:
                return d
            d = d.rsplit("/", 1)[0] if "/" in d else ""
        return ""

    def _idx(self) -> dict:
        if self._index is None:
            self.finalize()
        return self._index  # type: ignore[return-value]

    def objects(self, *kinds: str) -> list[K8sObject]:
        by_kind = self._idx()["kind"]
        if len(kinds) == 1:
            return list(by_kind.get(kinds[0], ()))
        return [o for o in self.k8s_objects if o.kind in kinds]

    def services_selecting(self, w: Workload) -> list[K8sObject]:
        out = []
        svc = self._idx()["svc"]
        for k, v in w.pod_labels.items():
            for s in svc.get((ns_key(w.namespace), k, v), ()):
                sel = _spec(s.raw).get("selector") or {}
                same_render = s.rendered_by is None or w.rendered_by is None or s.rendered_by == w.rendered_by
                if same_render and all(w.pod_labels.get(str(a)) == str(b) for a, b in sel.items()) and s not in out:
                    out.append(s)
        return out

    def autoscaler_for(self, w: Workload) -> K8sObject | None:
        hpa = self._idx()["hpa"]  # an overlay's own autoscaler first, then one outside any rendering
        ns = ns_key(w.namespace)
        return hpa.get((w.kind, w.name, ns, w.rendered_by)) or hpa.get((w.kind, w.name, ns, None))

    def files_of(self, *kinds: str) -> list[str]:
        if len(kinds) == 1:  # the common case, from an index by kind (paths in file order)
            return list(self.derived("files-by-kind", self._files_by_kind).get(kinds[0], ()))
        return [p for p, k in self.files.items() if k in kinds]

    def _files_by_kind(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path, kind in self.files.items():
            out.setdefault(kind, []).append(path)
        return out

    def has_file(self, pattern: str) -> list[str]:
        rx = re.compile(pattern, re.I)
        return [p for p in self.files if rx.search(p)]

    def line_text(self, path: str, line: int | None) -> str | None:
        if line is None or line < 1:
            return None
        text = self.sources.get(path)
        if text is None:
            return None
        starts = self.derived(("line-starts", path), lambda: _line_starts(text))  # files give many findings
        if line > len(starts):
            return None
        start = starts[line - 1]
        end = text.find("\n", start)
        return text[start:end if end >= 0 else None].strip()[:200]

    def _text_indexes(self) -> dict[str | None, TextIndex]:
        """One lower-cased text index per file kind (searches name the kinds they look at)."""
        by_kind: dict[str | None, list[tuple[str, str]]] = {}
        for path, text in self.sources.items():
            by_kind.setdefault(self.files.get(path), []).append((path, text))
        return {kind: TextIndex(items) for kind, items in by_kind.items()}

    def search_text(self, pattern: str, kinds: tuple[str, ...] | None = None,
                    flags: int = re.I | re.M, hints: tuple[str, ...] = ()) -> list[Loc]:
        """Every match of ``pattern`` in the sources (of the given kinds), with lines. ``hints`` are
        literal substrings one of which any match must contain: files without them are skipped cheaply."""
        rx = re.compile(pattern, flags)
        out: list[Loc] = []
        literals = required_literals(pattern, flags)
        if literals is not None:  # files holding none of the literals every match needs cannot match
            indexes = self.derived("text-indexes", self._text_indexes)
            only: set[str] = set()
            for kind in (kinds if kinds is not None else indexes):
                if kind in indexes:
                    only |= indexes[kind].candidates(literals)
            order = self.derived("source-positions", lambda: {path: i for i, path in enumerate(self.sources)})
            paths: Iterable[str] = sorted(only, key=order.__getitem__)  # in source order, as without the index
        else:
            paths = (path for path in self.sources if kinds is None or self.files.get(path) in kinds)
        for path in paths:
            text = self.sources[path]
            if hints and not any(h in text for h in hints):
                continue
            for m in rx.finditer(text):
                out.append(Loc(path, text.count("\n", 0, m.start()) + 1))
        return out


def _line_starts(text: str) -> list[int]:
    """Offset of the first character of each line (a final newline starts one more, empty, line)."""
    starts = [0]
    i = text.find("\n")
    while i >= 0:
        starts.append(i + 1)
        i = text.find("\n", i + 1)
    return starts
