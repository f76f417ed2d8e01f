"""Images and Dockerfiles."""

from __future__ import annotations

import posixpath
import re

from ..model import Loc
from ._dockershell import has_opt, opt_values
from ._util import containers, cref, paths_containing, per_dockerfile
from .base import control, failed, not_applicable, passed

SECRET_ARG_RX = re.compile(
    r"(?i)(^|_)(pass(word|wd)?|secret|token|api_?key|access_?key|private_?key|credentials?|auth)($|_)")
SECRET_ARG_EXEMPT_RX = re.compile(r"(?i)(_FILE|_PATH|_DIR|_URL|_LENGTH|_ENDPOINT|_HOST|_PORT|_NAME|_ID|_TYPE)$")
# a key *id* is half of a credential pair (AWS_ACCESS_KEY_ID): not exempt like other *_ID names
CREDENTIAL_ID_RX = re.compile(r"(?i)access_?key_?id$")


@control(
    id="security.image-tag-pinned", title="Images are pinned to a version (no :latest, no untagged)",
    category="security", severity="medium", evidence=["k8s", "compose", "dockerfile"],
    rationale="`latest` or an untagged image means a different image on every pull: deployments stop being "
              "reproducible, rollbacks roll back to nothing, and a compromised upstream tag ships silently.",
    remediation="Pin a version (`python:3.12.4-slim`, `ghcr.io/acme/api:1.4.2`), ideally with a digest "
                "(`@sha256:…`), and let a bot (Renovate/Dependabot) propose upgrades.",
    references=["CIS Docker Benchmark 4.2", "NSA/CISA Kubernetes Hardening Guidance, 'Container images'"],
    concepts=["k8s.image.tag_unpinned", "docker.base_image.untagged_or_latest", "docker.base_image.latest",
              "docker.base_image.untagged"],
    checklist=["security.pinned_image_tags"],
    phrases=["pin image versions", "no latest tag", "image tags pinned"],
)
def image_tag_pinned(p):
    any_ = False
    for w, c in containers(p, include_init=True):
        img = c.image
        if img is None:
            continue
        any_ = True
        if img.tag is None and img.templated:
            yield passed(f"image {img.raw} is templated; pinned at deploy time", c.loc, cref(w, c))
        elif img.pinned:
            yield passed(f"image {img.raw} is pinned", c.loc, cref(w, c))
        else:
            yield failed(f"image {img.raw} is {'latest' if img.tag == 'latest' else 'untagged'}",
                         c.loc, cref(w, c), concept="k8s.image.tag_unpinned")
    for d in p.dockerfiles:
        aliases = {s.alias.lower() for s in d.stages if s.alias}
        loose: list[str] = []
        for s in d.stages:
            base = s.base
            if s.implicit or base.lower() == "scratch" or base.lower() in aliases or s.parent is not None:
                continue  # an implicit stage (a fragment without FROM) has no base to judge
            any_ = True
            img = s.base_image
            resolved = _resolve_args(base, d.args)
            if img is None:
                continue
            if "$" in base and resolved == base:
                yield passed(f"base image {base} is set by a build argument", Loc(d.path, s.line), d.path)
            elif (ref := img if resolved == base else _img(resolved)).pinned:
                yield passed(f"base image {base} is pinned", Loc(d.path, s.line), d.path)
            else:
                loose.append(base)
                if ref.tag == "latest":
                    yield failed(f"base image {base} uses the moving :latest tag", Loc(d.path, s.line), d.path,
                                 concept="docker.base_image.latest")
                else:
                    yield failed(f"base image {base} has no tag or digest (so it means :latest)",
                                 Loc(d.path, s.line), d.path, concept="docker.base_image.untagged")
        if loose:
            # one finding per FROM says which of the two it is; this one answers "untagged or latest" as a whole
            yield failed(f"{len(loose)} base image(s) not pinned to a version: {', '.join(loose[:3])}",
                         Loc(d.path, None), d.path, concept="docker.base_image.untagged_or_latest")
    if not any_:
        yield not_applicable("no images")


def _img(raw: str):
    from ..model import parse_image

    return parse_image(raw)


def _resolve_args(base: str, args: dict[str, str | None]) -> str:
    if "$" not in base:  # (no variable to substitute)
        return base

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        val = (args.get(name) or "").strip().strip("'\"")
        return val if val else m.group(0)

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, base)


@control(
    id="security.dockerfile-no-secrets-in-build", title="No secrets baked into images via ENV or ARG",
    category="security", severity="high", evidence=["dockerfile"],
    rationale="ENV values and ARG values are stored in the image's layers and history (`docker history`); "
              "anyone who can pull the image can read them.",
    remediation="Pass build-time secrets with BuildKit secret mounts: `RUN --mount=type=secret,id=npm_token ...`, "
                "and runtime secrets through the orchestrator (Kubernetes Secret, Compose secrets).",
    references=["CIS Docker Benchmark 4.10", "hadolint DL3064 (secret-like ARG/ENV)"],
    concepts=["docker.secrets.env_arg"], checklist=["security.secrets_from_env"],
)
def dockerfile_no_secrets(p):
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        bad = False
        # global ARGs (before the first FROM) count too: their values are in the build's history
        for ins in list(d.preamble) + [i for s in d.stages for i in s.instructions]:
            if ins.cmd not in ("ENV", "ARG"):
                continue
            for name in _declared_names(ins):
                if SECRET_ARG_RX.search(name) and (not SECRET_ARG_EXEMPT_RX.search(name)
                                                   or CREDENTIAL_ID_RX.search(name)):
                    bad = True
                    yield failed(f"{ins.cmd} {name} puts a secret into the image", Loc(d.path, ins.line), d.path,
                                 snippet=f"{ins.cmd} {name}=****")
        if not bad:
            yield passed("no secret-like ENV/ARG", Loc(d.path, None), d.path)


def _declared_names(ins) -> list[str]:
    vals = ins.value
    if ins.cmd == "ENV" and len(vals) >= 2 and all("=" not in v for v in vals[:1]) and len(vals) % 2 == 0 \
            and not any("=" in v for v in vals[::2]):
        return [vals[i] for i in range(0, len(vals), 2)]  # parsed as name/value pairs
    return [v.split("=", 1)[0] for v in vals if v]


@control(
    id="reliability.dockerfile-healthcheck", title="Images declare a HEALTHCHECK", category="reliability",
    severity="low", evidence=["dockerfile"],
    rationale="Outside Kubernetes (Compose, plain Docker, ECS) the HEALTHCHECK is how the runtime tells a hung "
              "process from a healthy one; without it a deadlocked service keeps receiving traffic.",
    remediation="In the final stage: `HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- "
                "http://127.0.0.1:8000/healthz || exit 1` (or `HEALTHCHECK NONE` when an orchestrator probes "
                "instead).",
    references=["CIS Docker Benchmark 4.6", "hadolint DL3057"],
    concepts=["docker.healthcheck.missing"], checklist=["reliability.health_endpoint"],
)
def dockerfile_healthcheck(p):
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        if d.final is None:
            continue
        hc = d.final.find("HEALTHCHECK")
        if hc:
            yield passed("HEALTHCHECK declared", Loc(d.path, hc[-1].line), d.path)
        else:
            yield failed("final stage has no HEALTHCHECK", Loc(d.path, d.final.line), d.path)


MINIMAL_RX = re.compile(r"(slim|alpine|distroless|scratch|chainguard|wolfi|ubi-?minimal|busybox|micro|-minimal)", re.I)
# build-time tooling: compilers, build systems, headers (-dev/-devel), SDKs
TOOLCHAIN_PKG_RX = re.compile(
    r"^(build-essential|build-base|alpine-sdk|gcc|g\+\+|gcc-c\+\+|clang|llvm|make|cmake|automake|autoconf|"
    r"libtool|golang(-go)?|go|rustc|cargo|maven|gradle|musl-dev|linux-headers|default-jdk(-headless)?|"
    r"openjdk-?\d+-jdk(-headless)?|java-[\d.]+-openjdk-devel|[\w.+-]+-dev|[\w.+-]+-devel)$")
TOOLCHAIN_GROUP_RX = re.compile(r"(?i)development|devel_basis|build")


def _pkg_name(family: str, spec: str) -> str:
    from .dockerfile_hygiene import _NEVRA

    if family in ("dnf", "yum", "zypper"):
        m = _NEVRA.match(spec)
        if m:
            return m.group("name")
    return re.split(r"[=<>~]", spec, maxsplit=1)[0]


def _build_tools_kept(d) -> list[tuple[int, str]]:
    """(line, what) of build tooling installed in the stages that make the final image and not removed."""
    from ._dockershell import facts
    from .dockerfile_hygiene import call_of

    fx = facts(d)
    kept: dict[str, tuple[int, str, str]] = {}  # package (or group) -> (line, label, apk virtual name)
    for run in fx.runs_in(fx.final_lineage):
        for cmd in run.cmds:
            call = call_of(cmd)
            if call is None:
                continue
            f, sub, line = call.family, call.sub, run.ins.line
            if (f == "apt" and sub == "install") or (f == "apk" and sub == "add") or \
                    (f in ("dnf", "yum", "zypper") and sub in ("install", "in")):
                virtual = next((v for o, v in call.opts if o in ("-t", "--virtual") and v), "") if f == "apk" else ""
                for spec in call.pos:
                    name = _pkg_name(f, spec)
                    if TOOLCHAIN_PKG_RX.match(name):
                        kept[name] = (line, name, virtual)
            elif f in ("dnf", "yum") and sub in ("groupinstall", "group install"):
                for g in call.pos:
                    if TOOLCHAIN_GROUP_RX.search(g):
                        kept[g] = (line, f"group {g}", "")
            elif (f == "apt" and sub in ("remove", "purge")) or (f == "apk" and sub == "del") or \
                    (f in ("dnf", "yum") and sub in ("remove", "erase", "groupremove", "group remove")) or \
                    (f == "zypper" and sub in ("remove", "rm")):
                gone = {_pkg_name(f, s) for s in call.pos}
                for key, (_line, _label, virtual) in list(kept.items()):
                    if key in gone or (virtual and virtual in gone):
                        del kept[key]
            elif f == "npm" and sub in ("ci", "install", "i") and not call.pos:
                prod = (has_opt(call.opts, "--production") or "dev" in opt_values(call.opts, "--omit")
                        or any(v and v.startswith("prod") for v in opt_values(call.opts, "--only"))
                        or (cmd.var("NODE_ENV") or run.scope.get("NODE_ENV") or "") == "production")
                if not prod:
                    kept["npm-dev"] = (line, "npm devDependencies", "")
            elif f == "npm" and sub == "prune" and (has_opt(call.opts, "--production")
                                                    or "dev" in opt_values(call.opts, "--omit")):
                kept.pop("npm-dev", None)
    return sorted({(line, label) for line, label, _virtual in kept.values()})


@control(
    id="security.minimal-images", title="Final images are minimal (slim/distroless base or multi-stage)",
    category="security", severity="low", evidence=["dockerfile"],
    rationale="Every package in the final image is attack surface and CVE noise: compilers, package managers "
              "and shells help an attacker more than the service. Tooling needed only to build (gcc, -dev "
              "headers, SDKs, devDependencies) belongs in a build stage whose artefacts are copied out.",
    remediation="Build in one stage, copy the artefact into a slim or distroless final stage:\n"
                "FROM python:3.12-slim AS build ... \nFROM gcr.io/distroless/python3-debian12\n"
                "COPY --from=build /app /app\n"
                "(or remove the tooling in the same RUN: `apk add --virtual .build-deps gcc musl-dev && … && "
                "apk del .build-deps`).",
    references=["CIS Docker Benchmark 4.3", "NIST SP 800-190 4.1"],
    checklist=["security.minimal_images"],
    phrases=["minimal base images", "multi-stage builds", "alpine base image", "distroless",
             "no build tools in final image"],
)
def minimal_images(p):
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    judged = False
    for d in p.dockerfiles:
        final = d.final
        if final is None:
            continue
        root_stage = final.lineage()[-1]
        kept = _build_tools_kept(d)
        multi = len(d.stages) > 1 and any(
            "--from" in " ".join(i.flags) for i in final.instructions if i.cmd == "COPY")
        base = _resolve_args(root_stage.base, d.args)  # FROM ${BASE_IMAGE} judged by the ARG's default
        full = not root_stage.implicit and not MINIMAL_RX.search(base) and not multi
        if kept:
            judged = True
            also = f", on the full {base} base in a single stage" if full else ""
            yield failed(f"the final image keeps build-time tooling ({', '.join(k[1] for k in kept[:4])}){also}: "
                         "build in an earlier stage and copy only the artefacts", Loc(d.path, kept[0][0]), d.path)
            continue
        if root_stage.implicit:
            continue  # a fragment: the base image is unknown
        judged = True
        loc = Loc(d.path, final.line)
        if MINIMAL_RX.search(base):
            yield passed(f"final stage based on {base}", loc, d.path)
        elif multi:
            yield passed(f"multi-stage build; final stage copies artefacts onto {base}", loc, d.path)
        else:
            yield failed(f"single-stage image on the full {base} base", loc, d.path)
    if not judged:
        yield not_applicable("no Dockerfile whose base image is known")


@control(
    id="security.dockerignore-present", title="Build contexts have a .dockerignore", category="security",
    severity="low", evidence=["dockerfile"],
    rationale="Without .dockerignore, `COPY . .` sends .git, .env files and local credentials into the build "
              "context and often into the image.",
    remediation="Add a `.dockerignore` next to the Dockerfile listing at least `.git`, `.env*`, `node_modules`, "
                "`__pycache__`, test data and local secrets.",
    references=["Docker documentation: .dockerignore"],
    checklist=["security.minimal_images", "security.no_committed_secrets"],
)
def dockerignore_present(p):
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    ignores = {posixpath.dirname(f) for f in p.files_of("dockerignore")}
    named = {f[: -len(".dockerignore")] for f in paths_containing(p, ("dockerfile.dockerignore",))
             if f.endswith(".Dockerfile.dockerignore") or f.endswith("Dockerfile.dockerignore")}
    contexts = _build_contexts(p)
    for d in p.dockerfiles:
        copies_all = any(i.cmd in ("COPY", "ADD") and i.value and i.value[0] in (".", "./")
                         for s in d.stages for i in s.instructions)
        # Docker reads .dockerignore from the root of the build context (known from Compose/CI, else assumed to be
        # the Dockerfile's directory), or <Dockerfile>.dockerignore next to the Dockerfile
        missing = sorted(ctx for ctx in contexts.get(d.path, {d.directory}) if ctx not in ignores)
        if not missing or d.path in named:
            yield passed(".dockerignore present in the build context", Loc(d.path, None), d.path)
        elif copies_all:
            line = next(i.line for s in d.stages for i in s.instructions
                        if i.cmd in ("COPY", "ADD") and i.value and i.value[0] in (".", "./"))
            yield failed(f"copies the whole context but {missing[0] or '.'}/.dockerignore is missing",
                         Loc(d.path, line), d.path)
        else:
            yield passed("copies named paths only", Loc(d.path, None), d.path)


def _build_contexts(p) -> dict[str, set[str]]:
    """Dockerfile path -> the build-context directories it is built with, from Compose `build:` and CI steps."""
    out: dict[str, set[str]] = {}

    def add(dockerfile: str, ctx: str) -> None:
        ctx = posixpath.normpath(ctx).lstrip("/")
        out.setdefault(posixpath.normpath(dockerfile), set()).add("" if ctx == "." else ctx)

    for w, c in containers(p, include_init=True):
        build = c.raw.get("build") if w.source == "compose" and isinstance(c.raw, dict) else None
        if build is not None and c.dockerfile is not None:
            ctx = build if isinstance(build, str) else str((build or {}).get("context", "."))
            if not ctx.startswith(("http", "git@", "git:")) and "$" not in ctx:
                add(c.dockerfile.path, posixpath.join(posixpath.dirname(w.project or ""), ctx))
    for pl in p.pipelines:
        for job in pl.jobs:
            for s in job.steps:
                if s.uses and s.uses.startswith("docker/build-push-action"):
                    ctx = str(s.with_.get("context") or ".")
                    f = str(s.with_.get("file") or posixpath.join(ctx, "Dockerfile"))
                    if "$" not in ctx + f and "{{" not in ctx + f:
                        add(f, ctx)
                for line in (s.run or "").splitlines():
                    m = _DOCKER_BUILD_RX.search(line)
                    if m and m.group("file") and "$" not in m.group("file") + m.group("ctx"):
                        add(m.group("file"), m.group("ctx"))
    known = {d.path for d in p.dockerfiles}
    return {k: v for k, v in out.items() if k in known}


_DOCKER_BUILD_RX = re.compile(r"\bdocker\s+(?:buildx\s+)?build\b.*?(?:-f|--file)[ =]['\"]?(?P<file>[^\s'\"]+)['\"]?"
                              r".*\s(?P<ctx>[^\s-][^\s]*)\s*$")


# piped into a shell, or into an interpreter that runs its stdin (`| python3 -`, not `| python3 -m json.tool`)
PIPE_SHELL_RX = re.compile(r"\b(curl|wget)\b[^|;&\n]*\|\s*(sudo(\s+-\S+)*\s+)?"
                           r"((ba|z|da|a)?sh\b|(python[0-9.]*|perl|ruby|node)(\s+-(?=\s|$)|\s*$|\s*[;&|)]))", re.M)


@control(
    id="security.no-curl-pipe-shell", title="No `curl | sh` installs in images", category="security",
    severity="medium", evidence=["dockerfile"],
    rationale="Piping a download into a shell runs whatever the server (or anyone in the middle) returns at "
              "build time, unverified and unpinned.",
    remediation="Download to a file, verify a pinned checksum (`echo \"<sha256>  file\" | sha256sum -c`), then run "
                "it; or install from a package manager with signatures.",
    references=["CIS Docker Benchmark 4.9", "SLSA build integrity"],
)
def no_curl_pipe_shell(p):
    def findings(d):
        for s in d.stages:
            for i in s.instructions:
                if i.cmd == "RUN" and PIPE_SHELL_RX.search(i.args):
                    yield failed("downloads a script and pipes it into a shell", Loc(d.path, i.line), d.path)

    return per_dockerfile(p, findings, "no piped installers")
