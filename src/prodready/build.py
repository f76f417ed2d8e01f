"""model: build the normalised :class:`~prodready.model.Project` from parsed files."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from .k8s_render import render_all
from .model import (
    AlertRule,
    CIJob,
    CodeFile,
    Container,
    Diagnostic,
    Doc,
    Dockerfile,
    EnvVar,
    HttpApp,
    Instruction,
    K8sObject,
    Loc,
    Middleware,
    Pipeline,
    Port,
    Probe,
    Project,
    Route,
    Stage,
    Step,
    Workload,
    ns_key,
    parse_image,
)
from .parse import Parsed
from .parsers.jsfacts import JsFacts
from .parsers.pyfacts import PyFacts
from .parsers.yamlsafe import YamlDoc

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod",
                  "ReplicationController", "DeploymentConfig"}
SECRET_NAME_RX = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth)", re.I)


def _m(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return x if isinstance(x, list) else []


def _line(obj: Any, key: Any = None) -> int | None:
    if key is not None and hasattr(obj, "line_of"):
        return obj.line_of(key)
    return getattr(obj, "line", None)


def build(root: str, parsed: list[Parsed]) -> Project:
    p = Project(root=root)
    for f in parsed:
        p.files[f.rel] = f.kind
        p.parsed[f.rel] = f
        if f.text is not None:
            p.sources[f.rel] = f.text
        for line, msg in f.errors:
            p.diagnostics.append(Diagnostic("parse-error", f.rel, line, msg))
        for kind, line, msg in f.notes:
            p.diagnostics.append(Diagnostic(kind, f.rel, line, msg))
        for line, stype, masked in f.secrets:
            p.secret_lines[(f.rel, line)] = (stype, masked)
    # Kustomize overlays and Helm charts are rendered first: their objects are evaluated as rendered, and
    # files that are only bases or patches are not evaluated again as they are (k8s_render)
    rendered = render_all(p.parsed, p.files, p.sources, root)
    p.diagnostics.extend(rendered.diagnostics)
    for f in parsed:
        if f.data is None:
            continue
        builder = _BUILDERS.get(f.kind, lambda *_: None)
        if f.rel in rendered.consumed and builder is _k8s_and_rules:
            builder = _prom_rules_in_k8s
        try:
            builder(p, f)
        except Exception as exc:  # a surprising document is a diagnostic, never a crash
            p.diagnostics.append(Diagnostic("parse-error", f.rel, None,
                                            f"could not model {f.kind} file: {type(exc).__name__}: {exc}"[:300]))
    for r in rendered.objects:
        try:
            _k8s_object(p, r.obj, Loc(r.path, r.line), r.rendered_by)
        except Exception as exc:
            p.diagnostics.append(Diagnostic("parse-error", r.path, r.line,
                                            f"could not model rendered object: {type(exc).__name__}: {exc}"[:300]))
    _link_images(p)
    _link_service_accounts(p)
    _compose_roles(p)
    p.finalize()
    return p


DEV_COMPOSE_RX = re.compile(r"(dev|local|override|test|example|sample|debug)", re.I)


def _compose_roles(p: Project) -> None:
    """Decide, with a stated reason, which Compose services are local development environments, and let a
    Compose service inherit the HEALTHCHECK of the Dockerfile that builds it (Docker runs it)."""
    k8s = [w for w in p.workloads if w.source == "k8s"]
    charts = p.files_of("helm-chart")
    for w in p.workloads:
        if w.source != "compose":
            continue
        name = (w.project or "").rsplit("/", 1)[-1]
        if DEV_COMPOSE_RX.search(name):
            w.dev_only = f"{name} is named as a development Compose file"
        elif k8s or charts:
            w.dev_only = (f"the project deploys with Kubernetes ({len(k8s)} workloads{', Helm' if charts else ''}); "
                          f"{w.project} is treated as a local development environment")
        for c in w.containers:
            if "liveness" in c.probes or c.dockerfile is None or c.dockerfile.final is None \
                    or c.raw.get("_healthcheck_disabled"):
                continue
            hcs = c.dockerfile.final.find("HEALTHCHECK")
            if hcs and not (hcs[-1].value and hcs[-1].value[0].upper() == "NONE"):
                probe = Probe("healthcheck", "dockerfile HEALTHCHECK", " ".join(hcs[-1].value[1:])[:80], None,
                              Loc(c.dockerfile.path, hcs[-1].line))
                c.probes["liveness"] = probe
                c.probes["readiness"] = probe


# --- Kubernetes ---------------------------------------------------------------------------------

def _k8s(p: Project, f: Parsed) -> None:
    for doc in f.data:
        for obj in _expand_lists(doc.data):
            if isinstance(obj, dict) and "kind" in obj:
                _k8s_object(p, obj, Loc(f.rel, _line(obj) or doc.line))


def _k8s_object(p: Project, obj: dict, loc: Loc, rendered_by: str | None = None) -> None:
    meta = _m(obj.get("metadata"))
    kind = str(obj.get("kind"))
    name = meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "?")
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):  # malformed: keep the object, drop the value
        p.diagnostics.append(Diagnostic("invalid-field", loc.path, loc.line,
                                        f"{kind} metadata.namespace is not a string; treated as unset"))
        namespace = None
    o = K8sObject(str(obj.get("apiVersion", "")), kind, str(name), namespace, obj, loc, rendered_by)
    p.k8s_objects.append(o)
    if kind in WORKLOAD_KINDS:
        w = _k8s_workload(o)
        if w is not None:
            w.rendered_by = rendered_by
            p.workloads.append(w)


def _src(node: Any, key: Any, default: str) -> str:
    """The file a field came from: rendered (Kustomize/Helm) nodes remember it; parsed nodes are in ``default``."""
    srcs = getattr(node, "key_src", None)
    if key is not None and srcs and key in srcs:
        return srcs[key]
    return getattr(node, "src", None) or default


def _expand_lists(data: Any) -> list:
    if isinstance(data, dict) and str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        return list(data["items"])
    return [data]


def pod_template(obj: dict) -> tuple[dict, dict]:
    """(pod template metadata, pod spec) of any workload kind."""
    kind = obj.get("kind")
    spec = _m(obj.get("spec"))
    if kind == "Pod":
        return _m(obj.get("metadata")), spec
    if kind == "CronJob":
        tmpl = _m(_m(_m(spec.get("jobTemplate")).get("spec")).get("template"))
    else:
        tmpl = _m(spec.get("template"))
    return _m(tmpl.get("metadata")), _m(tmpl.get("spec"))


def _k8s_workload(o: K8sObject) -> Workload | None:
    meta, pod = pod_template(o.raw)
    spec = _m(o.raw.get("spec"))
    replicas = spec.get("replicas") if o.kind in ("Deployment", "StatefulSet", "ReplicaSet",
                                                  "ReplicationController", "DeploymentConfig") else None
    selector = _m(spec.get("selector"))
    match = selector.get("matchLabels") if o.kind != "ReplicationController" else selector
    w = Workload(
        source="k8s", kind=o.kind, name=o.name, namespace=o.namespace, loc=o.loc,
        replicas=replicas if isinstance(replicas, int) else None,
        pod_labels={str(k): str(v) for k, v in _m(meta.get("labels")).items()},
        selector={str(k): str(v) for k, v in _m(match).items()} if isinstance(match, dict) else None,
        service_account=pod.get("serviceAccountName") or pod.get("serviceAccount"),
        automount_token=pod.get("automountServiceAccountToken"),
        host_network=pod.get("hostNetwork") is True, host_pid=pod.get("hostPID") is True,
        host_ipc=pod.get("hostIPC") is True, volumes=_l(pod.get("volumes")),
        restart=pod.get("restartPolicy"), strategy=_m(spec.get("strategy") or spec.get("updateStrategy")) or None,
        raw=o.raw, pod_spec=pod, project=o.loc.path,
    )
    psc = _m(pod.get("securityContext"))
    for key, init in (("initContainers", True), ("containers", False)):
        items = _l(pod.get(key))
        lines = getattr(items, "item_lines", [])
        for i, c in enumerate(items):
            if isinstance(c, dict):
                line = lines[i] if i < len(lines) else _line(c)
                w.containers.append(_k8s_container(c, psc, Loc(_src(c, None, o.loc.path), line), init))
    return w


def _k8s_container(c: dict, psc: dict, loc: Loc, init: bool) -> Container:
    sc = _m(c.get("securityContext"))

    def pick(key: str) -> Any:
        return sc[key] if key in sc else psc.get(key)

    caps = _m(sc.get("capabilities"))
    res = _m(c.get("resources"))
    seccomp = _m(sc.get("seccompProfile")).get("type") or _m(psc.get("seccompProfile")).get("type")
    image = c.get("image")
    ct = Container(
        name=str(c.get("name", "?")), image=parse_image(str(image)) if image else None, loc=loc, init=init, raw=c,
        run_as_non_root=pick("runAsNonRoot"), run_as_user=_int(pick("runAsUser")), run_as_group=_int(pick("runAsGroup")),
        privileged=sc.get("privileged"), allow_privilege_escalation=sc.get("allowPrivilegeEscalation"),
        read_only_root_fs=sc.get("readOnlyRootFilesystem"),
        capabilities_add=[str(x) for x in _l(caps.get("add"))], capabilities_drop=[str(x) for x in _l(caps.get("drop"))],
        seccomp=seccomp, requests={str(k): str(v) for k, v in _m(res.get("requests")).items()},
        limits={str(k): str(v) for k, v in _m(res.get("limits")).items()},
        pull_policy=c.get("imagePullPolicy"),
        command=[str(x) for x in _l(c.get("command")) + _l(c.get("args"))],
    )
    for kind in ("liveness", "readiness", "startup"):
        pr = c.get(f"{kind}Probe")
        if isinstance(pr, dict):
            handler = next((h for h in ("httpGet", "tcpSocket", "exec", "grpc") if h in pr), "unknown")
            h = _m(pr.get(handler))
            target = h.get("path") or h.get("port") or " ".join(map(str, _l(h.get("command")))) or None
            ct.probes[kind] = Probe(kind, handler, str(target) if target is not None else None, pr,
                                    Loc(_src(c, f"{kind}Probe", loc.path), _line(c, f"{kind}Probe")))
    env = _l(c.get("env"))
    env_lines = getattr(env, "item_lines", [])
    for i, e in enumerate(env):
        if not isinstance(e, dict):
            continue
        src = None
        vf = _m(e.get("valueFrom"))
        for ref in ("secretKeyRef", "configMapKeyRef"):
            if ref in vf:
                r = _m(vf[ref])
                src = f"{ref}:{r.get('name')}/{r.get('key')}"
        if src is None and vf:
            src = next(iter(vf))
        val = e.get("value")
        ct.env.append(EnvVar(str(e.get("name", "")), None if val is None else str(val), src,
                             Loc(_src(e, None, loc.path), env_lines[i] if i < len(env_lines) else None)))
    for ef in _l(c.get("envFrom")):
        ef = _m(ef)
        for ref in ("secretRef", "configMapRef"):
            if ref in ef:
                ct.env_from.append(f"{ref}:{_m(ef[ref]).get('name')}")
    for port in _l(c.get("ports")):
        port = _m(port)
        ct.ports.append(Port(_int(port.get("containerPort")), _int(port.get("hostPort")), port.get("hostIP"),
                             str(port.get("protocol", "TCP")), port.get("name")))
    return ct


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


# --- Compose ------------------------------------------------------------------------------------

def _compose(p: Project, f: Parsed) -> None:
    if not f.data:
        return
    doc = f.data[0].data
    if not isinstance(doc, dict):
        return
    p.compose_files[f.rel] = doc
    services = _m(doc.get("services"))
    base = posixpath.dirname(f.rel)
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        loc = Loc(f.rel, services.line_of(name) if hasattr(services, "line_of") else None)
        deploy = _m(svc.get("deploy"))
        res = _m(deploy.get("resources"))
        limits = {str(k).replace("cpus", "cpu"): str(v) for k, v in _m(res.get("limits")).items()}
        reservations = {str(k).replace("cpus", "cpu"): str(v) for k, v in _m(res.get("reservations")).items()}
        if "mem_limit" in svc:
            limits.setdefault("memory", str(svc["mem_limit"]))
        if "cpus" in svc:
            limits.setdefault("cpu", str(svc["cpus"]))
        image = svc.get("image")
        user = svc.get("user")
        c = Container(
            name=str(name), image=parse_image(str(image)) if image else None, loc=loc, raw=svc,
            user_declared=str(user) if user is not None else None,
            run_as_user=_int(str(user).split(":")[0]) if user is not None else None,
            privileged=svc.get("privileged"), read_only_root_fs=svc.get("read_only"),
            capabilities_add=[str(x) for x in _l(svc.get("cap_add"))],
            capabilities_drop=[str(x) for x in _l(svc.get("cap_drop"))],
            requests=reservations, limits=limits, pull_policy=svc.get("pull_policy"),
        )
        if user is not None:
            c.run_as_non_root = not _is_root_spec(str(user))
        so = [str(x) for x in _l(svc.get("security_opt"))]
        if any(x.replace("=", ":") in ("no-new-privileges:true", "no-new-privileges") for x in so):
            c.allow_privilege_escalation = False
        for x in so:
            if x.startswith("seccomp"):
                c.seccomp = "Unconfined" if "unconfined" in x else "Localhost"
        hc = svc.get("healthcheck")
        if isinstance(hc, dict) and (hc.get("disable") is True or (
                isinstance(hc.get("test"), list) and hc["test"] and str(hc["test"][0]).upper() == "NONE")):
            c.raw = {**svc, "_healthcheck_disabled": True}  # overrides any image HEALTHCHECK
        if isinstance(hc, dict) and not hc.get("disable"):
            test = hc.get("test")
            target = " ".join(map(str, test)) if isinstance(test, list) else str(test)
            if not (isinstance(test, list) and test and str(test[0]).upper() == "NONE"):
                probe = Probe("healthcheck", "healthcheck", target, hc, Loc(f.rel, _line(svc, "healthcheck")))
                c.probes["liveness"] = probe
                c.probes["readiness"] = probe
        env = svc.get("environment")
        if isinstance(env, dict):
            for k, v in env.items():
                c.env.append(EnvVar(str(k), None if v is None else str(v), None, Loc(f.rel, env.line_of(k))))
        elif isinstance(env, list):
            lines = getattr(env, "item_lines", [])
            for i, item in enumerate(env):
                k, sep, v = str(item).partition("=")
                c.env.append(EnvVar(k, v if sep else None, None, Loc(f.rel, lines[i] if i < len(lines) else None)))
        for ef in ([svc["env_file"]] if isinstance(svc.get("env_file"), str) else _l(svc.get("env_file"))):
            c.env_from.append(f"env_file:{ef if isinstance(ef, str) else _m(ef).get('path')}")
        ports = _l(svc.get("ports"))
        for port in ports:
            c.ports.append(_compose_port(port))
        build = svc.get("build")
        if build is not None:
            ctx = build if isinstance(build, str) else str(_m(build).get("context", "."))
            dfile = "Dockerfile" if isinstance(build, str) else str(_m(build).get("dockerfile", "Dockerfile"))
            path = posixpath.normpath(posixpath.join(base, ctx, dfile)) if not ctx.startswith(("http", "git")) else None
            c.raw = {**c.raw, "_dockerfile_path": path}
        replicas = deploy.get("replicas") if "replicas" in deploy else svc.get("scale")
        restart = svc.get("restart") or _m(deploy.get("restart_policy")).get("condition")
        labels = _m(svc.get("labels")) if isinstance(svc.get("labels"), dict) else {}
        w = Workload("compose", "ComposeService", str(name), None, loc, [c],
                     replicas=replicas if isinstance(replicas, int) else None,
                     pod_labels={str(k): str(v) for k, v in labels.items()},
                     host_network=svc.get("network_mode") == "host", host_pid=svc.get("pid") == "host",
                     host_ipc=svc.get("ipc") == "host", volumes=_l(svc.get("volumes")),
                     restart=str(restart) if restart else None, raw=svc, project=f.rel)
        p.workloads.append(w)


def _is_root_spec(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ("root", "0", "")


def _compose_port(port: Any) -> Port:
    if isinstance(port, dict):
        return Port(_int(port.get("target")), _int(port.get("published")), port.get("host_ip"),
                    str(port.get("protocol", "tcp")).upper())
    s = str(port)
    proto = "TCP"
    if "/" in s:
        s, proto = s.rsplit("/", 1)
    parts = s.rsplit(":", 2) if not s.startswith("[") else re.split(r"(?<=\]):", s)
    if len(parts) == 1:
        return Port(_int(parts[0].split("-")[0]), None, None, proto.upper())
    if len(parts) == 2:
        return Port(_int(parts[1].split("-")[0]), _int(parts[0].split("-")[0]), None, proto.upper())
    return Port(_int(parts[2].split("-")[0]), _int(parts[1].split("-")[0]), parts[0].strip("[]"), proto.upper())


# --- Dockerfile ---------------------------------------------------------------------------------

def _dockerfile(p: Project, f: Parsed) -> None:
    stages: list[Stage] = []
    by_alias: dict[str, Stage] = {}
    gargs: dict[str, str | None] = {}
    preamble: list[Instruction] = []
    has_from = any(raw["cmd"] == "FROM" for raw in f.data)
    for raw in f.data:
        ins = Instruction(raw["cmd"], raw["value"], raw["flags"], raw["line"], raw["original"], raw["heredocs"],
                          raw.get("json", False))
        if not stages and ins.cmd != "FROM" and (not has_from or ins.cmd != "ARG"):
            # a fragment: instructions before any FROM are one implicit stage on an unknown base (see Dockerfile)
            stages.append(Stage(0, "", None, ins.line, [], implicit=True))
        if ins.cmd == "FROM":
            vals = ins.value
            base = vals[0] if vals else "scratch"
            alias = vals[2] if len(vals) >= 3 and vals[1].upper() == "AS" else None
            st = Stage(len(stages), base, alias, ins.line, [])
            parent = by_alias.get(base.lower())
            if parent is None and base.isdigit() and int(base) < len(stages):
                parent = stages[int(base)]
            st.parent = parent
            stages.append(st)
            if alias:
                by_alias[alias.lower()] = st
            continue
        if not stages:
            if ins.cmd == "ARG":
                preamble.append(ins)
                for v in ins.value:
                    k, _, dv = v.partition("=")
                    gargs[k] = dv or None
            continue
        stages[-1].instructions.append(ins)
    p.dockerfiles.append(Dockerfile(f.rel, stages, gargs, preamble))


def _link_images(p: Project) -> None:
    """Link each container to the Dockerfile that builds its image, recording how the link was made."""
    by_path = {d.path: d for d in p.dockerfiles}
    # 1. compose build: direct
    for w in p.workloads:
        for c in w.containers:
            path = c.raw.get("_dockerfile_path") if isinstance(c.raw, dict) else None
            if path and path in by_path:
                c.dockerfile, c.dockerfile_link = by_path[path], f"compose build in {w.project}"
                if c.image is not None:
                    p.image_builds.setdefault(c.image.repository, (path, f"compose service {w.name} builds it"))
    # 2. CI builds: docker build -t X -f F ctx / build-push-action tags+file/context
    for pl in p.pipelines:
        for job in pl.jobs:
            for s in job.steps:
                for repo, path in _ci_builds(s):
                    if path in by_path:
                        p.image_builds.setdefault(repo, (path, f"{pl.path}:{s.loc.line} builds it"))
    # 3. apply to every container still unlinked; then a name heuristic as last resort
    by_dir: dict[str, list[Dockerfile]] = {}
    for d in p.dockerfiles:
        if d.directory:
            by_dir.setdefault(d.directory.rsplit("/", 1)[-1], []).append(d)
    for w in p.workloads:
        for c in w.containers:
            if c.dockerfile is not None or c.image is None:
                continue
            hit = p.image_builds.get(c.image.repository)
            if hit is None:
                for repo, val in p.image_builds.items():
                    if repo.rsplit("/", 1)[-1] == c.image.name:
                        hit = val
                        break
            if hit is not None and hit[0] in by_path:
                c.dockerfile, c.dockerfile_link = by_path[hit[0]], hit[1]
                continue
            d = _by_directory_name(by_dir, c.image.name)
            if d is not None:
                c.dockerfile = d
                c.dockerfile_link = f"image name '{c.image.name}' matches directory of {d.path}"


def _by_directory_name(by_dir: dict[str, list[Dockerfile]], image_name: str) -> Dockerfile | None:
    """A Dockerfile whose directory is named like the image (``shop-api`` ← ``services/api``), when unique."""
    candidates = {image_name}
    for sep in ("-", "_"):
        parts = image_name.split(sep)
        candidates.update(sep.join(parts[i:]) for i in range(1, len(parts)))
    matches = [d for name in candidates for d in by_dir.get(name, ())]
    return matches[0] if len(matches) == 1 else None


_TAG_RX = re.compile(r"(?:-t|--tag)[ =]+['\"]?([^\s'\"]+)")
_FILE_RX = re.compile(r"(?:-f|--file)[ =]+['\"]?([^\s'\"]+)")


def _ci_builds(step: Step) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if step.uses and step.uses.startswith("docker/build-push-action"):
        ctx = str(step.with_.get("context", ".")).strip("./") or ""
        f = str(step.with_.get("file") or posixpath.join(ctx, "Dockerfile"))
        for tag in re.split(r"[\s,]+", str(step.with_.get("tags", ""))):
            if tag and "${{" not in tag.split(":")[0]:
                out.append((parse_image(tag).repository, posixpath.normpath(f.lstrip("./") or "Dockerfile")))
    if step.run and "docker" in step.run and " build" in step.run:
        for line in step.run.splitlines():
            if "build" not in line:
                continue
            tags = _TAG_RX.findall(line)
            fm = _FILE_RX.search(line)
            ctx = line.rstrip().split()[-1] if line.strip() else "."
            f = fm.group(1) if fm else posixpath.join(ctx, "Dockerfile")
            for t in tags:
                if "$" not in t.split(":")[0]:
                    out.append((parse_image(t).repository, posixpath.normpath(f.lstrip("./") or "Dockerfile")))
    return out


def _link_service_accounts(p: Project) -> None:
    sas = {(ns_key(o.namespace), o.name): o for o in p.objects("ServiceAccount")}
    for w in p.workloads:
        if w.source != "k8s" or w.automount_token is not None:
            continue
        sa = sas.get((ns_key(w.namespace), str(w.service_account or "default")))
        if sa is not None and isinstance(sa.raw.get("automountServiceAccountToken"), bool):
            w.automount_token = sa.raw["automountServiceAccountToken"]


# --- CI -----------------------------------------------------------------------------------------

def _github(p: Project, f: Parsed) -> None:
    doc = f.data[0].data if f.data else None
    if not isinstance(doc, dict):
        return
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on:` key as True
    if isinstance(on, str):
        triggers = [on]
    elif isinstance(on, list):
        triggers = [str(t) for t in on]
    else:
        triggers = [str(k) for k in _m(on)]
    jobs = []
    for jname, job in _m(doc.get("jobs")).items():
        if not isinstance(job, dict):
            continue
        env = job.get("environment")
        env_name = _m(env).get("name") if isinstance(env, dict) else env
        needs = job.get("needs")
        cj = CIJob(str(jname), Loc(f.rel, _line(doc["jobs"], jname)), environment=str(env_name) if env_name else None,
                   needs=[needs] if isinstance(needs, str) else [str(n) for n in _l(needs)],
                   permissions=job.get("permissions"), raw=job)
        steps = _l(job.get("steps"))
        lines = getattr(steps, "item_lines", [])
        for i, s in enumerate(steps):
            if not isinstance(s, dict):
                continue
            cj.steps.append(Step(s.get("name"), s.get("uses"), str(s["run"]) if "run" in s else None,
                                 dict(_m(s.get("with"))), Loc(f.rel, lines[i] if i < len(lines) else None)))
        if "uses" in job:  # reusable workflow call
            cj.steps.append(Step(None, str(job["uses"]), None, dict(_m(job.get("with"))), cj.loc))
        jobs.append(cj)
    p.pipelines.append(Pipeline("github", f.rel, str(doc.get("name", f.rel)), triggers, jobs,
                                doc.get("permissions"), Loc(f.rel, 1)))


GITLAB_RESERVED = {"stages", "variables", "default", "include", "workflow", "image", "services", "cache",
                   "before_script", "after_script", "types", "pages:deploy"}


def _gitlab(p: Project, f: Parsed) -> None:
    doc = f.data[0].data if f.data else None
    if not isinstance(doc, dict):
        return
    jobs = []
    for jname, job in doc.items():
        if jname in GITLAB_RESERVED or str(jname).startswith(".") or not isinstance(job, dict):
            continue
        loc = Loc(f.rel, _line(doc, jname))
        env = job.get("environment")
        env_name = _m(env).get("name") if isinstance(env, dict) else env
        cj = CIJob(str(jname), loc, environment=str(env_name) if env_name else None, stage=job.get("stage"),
                   when=job.get("when"), raw=job, needs=[str(_m(n).get("job", n)) for n in _l(job.get("needs"))])
        script = []
        for key in ("before_script", "script", "after_script"):
            v = job.get(key)
            script += [str(x) for x in (v if isinstance(v, list) else [v] if v else [])]
        image = job.get("image")
        cj.steps.append(Step(str(jname), str(_m(image).get("name", image)) if image else None, "\n".join(script),
                             {}, loc))
        jobs.append(cj)
    p.pipelines.append(Pipeline("gitlab", f.rel, "gitlab-ci", ["push"], jobs, None, Loc(f.rel, 1)))


# --- code ---------------------------------------------------------------------------------------

HTTP_METHODS = ("get", "post", "put", "delete", "patch", "head", "options", "api_route", "route", "all",
                "websocket")


def _python(p: Project, f: Parsed) -> None:
    facts: PyFacts = f.data
    p.code.append(CodeFile(f.rel, "python", facts))
    apps: dict[str, HttpApp] = {}

    def app_for(framework: str, line: int) -> HttpApp:
        if framework not in apps:
            apps[framework] = HttpApp(framework, f.rel, Loc(f.rel, line))
        return apps[framework]

    for c in facts.calls:
        if c.name in ("fastapi.FastAPI", "fastapi.APIRouter") and c.name.endswith("FastAPI"):
            app_for("fastapi", c.line)
        elif c.name == "flask.Flask":
            app_for("flask", c.line)
        if c.recv in ("fastapi.FastAPI", "starlette.applications.Starlette") and c.name.endswith(".add_middleware"):
            mw = c.args[0][1] if c.args and c.args[0][0] == "name" else str(c.args[0][1]) if c.args else "?"
            app_for("fastapi", c.line).middleware.append(Middleware(str(mw), Loc(f.rel, c.line), _kw(c.kwargs)))
    # routes from decorators
    for fn in facts.functions:
        for d in fn.decorators:
            attr = d.name.rsplit(".", 1)[-1]
            if attr not in HTTP_METHODS:
                continue
            fw = {"fastapi.FastAPI": "fastapi", "fastapi.APIRouter": "fastapi", "flask.Flask": "flask",
                  "flask.Blueprint": "flask"}.get(d.recv or "")
            if fw is None:
                continue
            path = d.args[0][1] if d.args and d.args[0][0] == "lit" else "?"
            methods = attr.upper()
            if attr == "route":
                m = d.kwargs.get("methods")
                methods = ",".join(m[1]) if m and m[0] == "lit" and isinstance(m[1], list) else "GET"
            app_for(fw, d.line).routes.append(Route(methods, str(path), Loc(f.rel, d.line), fn.name))
    # Flask extensions constructed around the app: CORS(app), Limiter(app=...), Talisman(app)
    if "flask" in apps:
        for c in facts.calls:
            if any(a[0] == "name" for a in c.args) or "app" in c.kwargs:
                if c.name.split(".")[0] in ("flask_cors", "flask_limiter", "flask_talisman", "flask_compress",
                                            "prometheus_flask_exporter", "flask_wtf", "flask_jwt_extended"):
                    apps["flask"].middleware.append(Middleware(c.name, Loc(f.rel, c.line), _kw(c.kwargs)))
    # Django settings
    names = {a.target: a for a in facts.assigns}
    if "MIDDLEWARE" in names and ("INSTALLED_APPS" in names or "ROOT_URLCONF" in names):
        a = names["MIDDLEWARE"]
        app = app_for("django", a.line)
        if a.value[0] == "lit":
            for m in a.value[1]:
                app.middleware.append(Middleware(str(m), Loc(f.rel, a.line)))
    for c in facts.calls:
        if c.name in ("django.urls.path", "django.urls.re_path") and c.args and c.args[0][0] == "lit":
            app_for("django", c.line).routes.append(Route("ANY", "/" + str(c.args[0][1]), Loc(f.rel, c.line)))
    p.http_apps.extend(apps.values())


def _kw(kwargs: dict) -> dict:
    return {k: (v[1] if v[0] == "lit" else f"<{v[0]}>") for k, v in kwargs.items()}


JS_FRAMEWORKS = {"express": "express", "fastify": "fastify", "koa": "koa", "@nestjs/core.NestFactory": "nestjs"}


def _js(p: Project, f: Parsed) -> None:
    facts: JsFacts = f.data
    p.code.append(CodeFile(f.rel, f.kind, facts))
    apps: dict[str, HttpApp] = {}
    for c in facts.calls:
        fw = None
        if c.name in ("express", "fastify", "koa", "fastify.fastify", "fastify.default"):
            fw = c.name.split(".")[0]
        elif c.name.startswith("@nestjs/core.NestFactory.create"):
            fw = "nestjs"
        if fw and fw not in apps:
            apps[fw] = HttpApp(fw, f.rel, Loc(f.rel, c.line))
    for c in facts.calls:
        base = (c.recv or "").split(".")[0].removesuffix("()")
        fw = {"express": "express", "fastify": "fastify", "koa": "koa", "express.Router": "express"}.get(base)
        if c.recv and c.recv.startswith("express.Router"):
            fw = "express"
        if c.recv and c.recv.startswith("@nestjs/core.NestFactory"):
            fw = "nestjs"
        if fw is None:
            continue
        app = apps.setdefault(fw, HttpApp(fw, f.rel, Loc(f.rel, c.line)))
        method = c.name.rsplit(".", 1)[-1]
        if method in ("use", "register", "useGlobalGuards", "useGlobalPipes", "enableCors"):
            for a in c.args:
                if a[0] in ("call", "name"):
                    app.middleware.append(Middleware(str(a[1]), Loc(f.rel, c.line)))
            if method == "enableCors":
                app.middleware.append(Middleware("enableCors", Loc(f.rel, c.line),
                                                 {"args": [a[1] for a in c.args]}))
        elif method in HTTP_METHODS and c.args and c.args[0][0] == "lit":
            app.routes.append(Route(method.upper(), str(c.args[0][1]), Loc(f.rel, c.line)))
    # NestJS decorators
    ctrl_prefix = ""
    for d in facts.decorators:
        name = d.name.rsplit(".", 1)[-1]
        if name == "Controller":
            ctrl_prefix = "/" + str(d.args[0][1]).strip("/") if d.args and d.args[0][0] == "lit" else ""
            apps.setdefault("nestjs", HttpApp("nestjs", f.rel, Loc(f.rel, d.line)))
        elif name in ("Get", "Post", "Put", "Delete", "Patch") and "nestjs" in apps:
            sub = str(d.args[0][1]) if d.args and d.args[0][0] == "lit" else ""
            apps["nestjs"].routes.append(Route(name.upper(), f"{ctrl_prefix}/{sub}".rstrip("/") or "/",
                                               Loc(f.rel, d.line)))
    p.http_apps.extend(apps.values())


# --- docs, monitoring, nginx, terraform ---------------------------------------------------------

def _markdown(p: Project, f: Parsed) -> None:
    p.docs.append(Doc(f.rel, f.data.title, f.data.headings, f.text or "", f.data.words))


def _prom_rules(p: Project, f: Parsed) -> None:
    for doc in f.data:
        d: YamlDoc = doc
        groups = _l(_m(d.data).get("groups")) or _l(_m(_m(d.data).get("spec")).get("groups"))
        for g in groups:
            rules = _l(_m(g).get("rules"))
            lines = getattr(rules, "item_lines", [])
            for i, r in enumerate(rules):
                r = _m(r)
                name = r.get("alert") or r.get("record")
                if not name:
                    continue
                p.alert_rules.append(AlertRule(str(name), "record" in r, str(r.get("expr", "")),
                                               Loc(f.rel, lines[i] if i < len(lines) else None), r.get("for"),
                                               dict(_m(r.get("labels")))))


def _k8s_and_rules(p: Project, f: Parsed) -> None:
    _k8s(p, f)
    _prom_rules_in_k8s(p, f)


def _prom_rules_in_k8s(p: Project, f: Parsed) -> None:
    # PrometheusRule CRDs carry alert rules too (also in files evaluated only as a Kustomize rendering)
    if any(isinstance(d.data, dict) and d.data.get("kind") == "PrometheusRule" for d in f.data):
        _prom_rules(p, f)


def _nginx(p: Project, f: Parsed) -> None:
    p.nginx[f.rel] = f.data


def _terraform(p: Project, f: Parsed) -> None:
    p.terraform[f.rel] = f.data


_BUILDERS = {
    "k8s": _k8s_and_rules,
    "compose": _compose,
    "dockerfile": _dockerfile,
    "github-workflow": _github,
    "gitlab-ci": _gitlab,
    "python": _python,
    "javascript": _js,
    "typescript": _js,
    "markdown": _markdown,
    "prometheus-rules": _prom_rules,
    "nginx": _nginx,
    "terraform": _terraform,
}


