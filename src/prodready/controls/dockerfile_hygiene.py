"""Dockerfile hygiene: how RUN installs packages and fetches things, and what the final image runs as.

RUN instructions are read through :mod:`._dockershell` (quotes, ``&&``/``;``/``|`` chains, heredocs, ``sh -c``,
SHELL, BuildKit mounts), so a flag is judged on the command it belongs to: ``echo "--nogpgcheck"`` is not a yum
flag and ``apt-get install sudoku`` is not sudo. Families of similar checks (pinning for apt, apk, dnf, yum,
zypper, pip, npm, gem and go; cache cleanup for each package manager) are one control each, driven by a table;
every finding names the peer concept it answers (``concept=``).

Which stages count: package pinning, signature and TLS checks, sudo, pipefail, interactive installs and ADD are
judged in every stage (a build stage feeds the artefact); cache cleanup, USER, CMD/ENTRYPOINT and EXPOSE only in
the stages that end up in the final image (the final stage and the stages it is built FROM).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..model import Dockerfile, Instruction, Loc, Project, Stage, is_root_user
from ._dockershell import (
    Cmd,
    Run,
    arg_decls,
    env_pairs,
    expand,
    facts,
    has_opt,
    opt_values,
    split_opts,
    stage_scope,
    unquote,
    variables,
    written,
)
from ._util import containers, per_dockerfile
from .base import Outcome, control, failed, not_applicable, passed

# --- recognising package-manager calls ---------------------------------------------------------------

APT = {"apt-get", "apt", "aptitude"}
DNF = {"dnf", "microdnf", "tdnf", "dnf5"}
YUM = {"yum"}
APT_VAL = {"-o", "--option", "-c", "--config-file", "-t", "--target-release", "--default-release", "-a",
           "--host-architecture", "-P", "--build-profiles"}
APK_VAL = {"-X", "--repository", "-t", "--virtual", "-p", "--root", "--arch", "--cache-dir", "--keys-dir",
           "--repositories-file", "--cache-max-age"}
RPM_VAL = {"-c", "--config", "--installroot", "--enablerepo", "--disablerepo", "--setopt", "-x", "--exclude",
           "--releasever", "--repo", "--repoid", "--repofrompath", "-d", "--debuglevel", "-e", "--errorlevel",
           "--downloaddir", "--destdir", "--forcearch", "-R", "--randomwait", "--rpmverbosity", "--advisory",
           "--advisories", "--bz", "--cve", "--sec-severity", "--secseverity", "--comment", "--from-repo"}
ZYPPER_VAL = {"--root", "-R", "-D", "--reposd-dir", "-C", "--cache-dir", "--raw-cache-dir", "--solv-cache-dir",
              "--pkg-cache-dir", "-c", "--config", "--userdata", "-t", "--type", "-r", "--repo", "--from"}
PIP_VAL = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target", "--platform",
           "--python-version", "--implementation", "--abi", "--root", "--prefix", "--src", "--upgrade-strategy",
           "-C", "--config-settings", "--global-option", "--install-option", "-i", "--index-url",
           "--extra-index-url", "-f", "--find-links", "--no-binary", "--only-binary", "--progress-bar",
           "--root-user-action", "--report", "--python", "--log", "--proxy", "--retries", "--timeout",
           "--exists-action", "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--keyring-provider",
           "--use-feature", "--use-deprecated", "--group"}
NPM_VAL = {"--registry", "--prefix", "--cache", "--userconfig", "--globalconfig", "-w", "--workspace", "--tag",
           "--omit", "--include", "--install-strategy", "--loglevel", "--otp", "--scope", "--before", "--location"}
YARN_VAL = {"--cwd", "--cache-folder", "--modules-folder", "--registry", "--network-timeout", "--mutex"}
GEM_VAL = {"-v", "--version", "-i", "--install-dir", "-n", "--bindir", "-s", "--source", "-p", "--http-proxy",
           "--platform", "-P", "--trust-policy", "-g", "--file", "--build-root", "--target-rbconfig"}
GEM_FLAGS = {"--no-document", "--no-ri", "--no-rdoc", "--conservative", "--minimal-deps", "--force",
             "--user-install", "--prerelease", "--pre", "--both", "--local", "--remote", "--ignore-dependencies",
             "--development", "--development-all", "--default", "--explain", "--lock", "--suggestions",
             "--env-shebang", "--clear-sources", "--quiet", "--verbose", "--wrappers", "--vendor",
             "--post-install-message", "--format-executable", "--norc", "--backtrace", "--debug", "--silent",
             "--update-sources", "--install-as-default"}
GO_VAL = {"ldflags", "gcflags", "tags", "o", "mod", "modfile", "p", "pkgdir", "toolexec", "asmflags", "buildmode",
          "compiler", "installsuffix", "overlay", "pgo", "exec", "C", "covermode", "coverpkg", "gccgoflags"}
NPM_INSTALL = {"install", "i", "in", "ins", "inst", "insta", "instal", "isnt", "isnta", "isntal", "isntall", "add"}
_PIP_RX = re.compile(r"^pip[0-9.]*$")
_PY_RX = re.compile(r"^python[0-9.]*$")


@dataclass
class Call:
    """A package-manager invocation: ``family`` (apt, apk, dnf, yum, zypper, pip, npm, yarn, gem, go)."""

    family: str
    tool: str
    sub: str
    pos: list[str]  # positionals after the subcommand
    opts: list[tuple[str, str | None]]
    cmd: Cmd


_UNREAD = object()


def call_of(cmd: Cmd) -> Call | None:
    """The package-manager call ``cmd`` makes, if any: remembered on the command (several controls read the same
    RUNs; read the Call only)."""
    memo = cmd.__dict__.get("_pkg_call", _UNREAD)
    if memo is _UNREAD:
        memo = cmd._pkg_call = _read_call(cmd)  # type: ignore[attr-defined]
    return memo  # type: ignore[return-value]


def _read_call(cmd: Cmd) -> Call | None:
    name, argv = cmd.name, cmd.argv
    if not argv:
        return None
    if name in APT or name == "apk" or name in DNF or name in YUM or name == "zypper":
        fam = "apt" if name in APT else "dnf" if name in DNF else name
        pos, opts = split_opts(argv[1:], {"apt": APT_VAL, "apk": APK_VAL, "zypper": ZYPPER_VAL}.get(fam, RPM_VAL))
        sub = pos[0] if pos else ""
        rest = pos[1:]
        if fam in ("dnf", "yum") and sub in ("module", "group") and rest:
            sub, rest = f"{sub} {rest[0]}", rest[1:]
        return Call(fam, name, sub, rest, opts, cmd)
    args: list[str] | None = None
    if _PIP_RX.match(name):
        args = argv[1:]
    elif _PY_RX.match(name) and "-m" in argv:
        i = argv.index("-m")
        if i + 1 < len(argv) and argv[i + 1] == "pip":
            args = argv[i + 2:]
    if args is not None:
        pos, opts = split_opts(args, PIP_VAL)
        return Call("pip", "pip", pos[0] if pos else "", pos[1:], opts, cmd)
    if name in ("npm", "yarn"):
        pos, opts = split_opts(argv[1:], NPM_VAL if name == "npm" else YARN_VAL)
        return Call(name, name, pos[0] if pos else "", pos[1:], opts, cmd)
    if name == "gem":
        args = argv[1:]
        if "--" in args:  # what follows `--` goes to the gem's build, not to gem
            args = args[:args.index("--")]
        pos, opts = split_opts(args, GEM_VAL, unknown_long_takes_value=True,
                               known_flags=GEM_FLAGS | {"--install", "--no-install"})
        return Call("gem", "gem", pos[0] if pos else "", pos[1:], opts, cmd)
    if name == "go" and len(argv) > 1:
        sub = argv[1]
        pos, opts = [], []
        i = 2
        while i < len(argv):
            a = argv[i]
            if a.startswith("-") and len(a) > 1 and not (sub == "run" and pos):
                key = a.lstrip("-")
                if "=" in key:
                    opts.append(("-" + key.split("=", 1)[0], key.split("=", 1)[1]))
                elif key in GO_VAL and i + 1 < len(argv):
                    opts.append(("-" + key, argv[i + 1]))
                    i += 1
                else:
                    opts.append(("-" + key, None))
            else:
                pos.append(a)
                if sub == "run":  # the rest are the program's arguments
                    break
            i += 1
        return Call("go", "go", sub, pos, opts, cmd)
    return None


def calls(run: Run) -> list[Call]:
    """The package-manager calls of a RUN (computed once per RUN)."""
    if "calls" not in run.memo:
        run.memo["calls"] = [c for c in (call_of(cmd) for cmd in run.cmds) if c is not None]
    return run.memo["calls"]


def _var_only(spec: str) -> bool:
    return bool(re.fullmatch(r"\$\{?\w+\}?|\$@|\$\*|\$\(.*\)|`.*`", spec))


def _resolve(spec: str, call: Call, run: Run, declared: dict[str, set[int]]) -> str:
    """Known variable values substituted; a variable declared only in other stages (out of scope here, so
    empty when the command runs) removed; unknown ones (base-image ENV, build args) kept as written."""
    lookup: dict[str, str | None] = dict(run.scope)
    lookup.update(call.cmd.locals)
    lookup.update(call.cmd.env)
    lookup.update(call.cmd.assigns)
    for name in variables(spec):
        if name not in lookup and name in declared:
            spec = re.sub(r"\$\{" + name + r"[^}]*\}|\$" + name + r"\b", "", spec)
    return expand(spec, lookup)


# --- 1. package pinning -------------------------------------------------------------------------------

_LOCAL = (".", "/", "~")
_NEVRA = re.compile(r"^(?P<name>.+?)-(?P<ver>(?:\d+:)?(?:\d[\w.+~^]*|\$\{?\w+\}?))"
                    r"(?:-(?P<rel>\d[\w.+~^%{}]*|\$\{?\w+\}?))?"
                    r"(?:\.(?:noarch|x86_64|aarch64|i686|ppc64le|s390x|src))?$")


def _rpm_pinned(spec: str) -> bool:
    return bool(_NEVRA.match(spec) or re.search(r"[<>=]", spec) or spec.endswith(".rpm") or spec.startswith("@"))


def _pip_pinned(spec: str) -> bool:
    s = spec.split(";", 1)[0].strip()
    if s.startswith(("git+", "hg+", "svn+", "bzr+")):
        path = s.split("#", 1)[0]
        return "@" in path.rsplit("/", 1)[-1]
    if "://" in s or " @ " in s or s.startswith(_LOCAL) or "/" in s:
        return True  # a URL to an artefact, a local path or a direct reference
    if re.search(r"\.(whl|tar\.gz|tgz|zip|tar\.bz2|tar)$", s):
        return True
    return bool(re.search(r"(===|==|~=|!=|<=|>=|<|>)", s))


def _npm_pinned(spec: str) -> bool:
    s = spec
    if s.startswith(_LOCAL) or s.startswith("file:") or re.search(r"\.(tgz|tar|tar\.gz)$", s):
        return True
    if re.match(r"^(git(\+\w+)?://|git\+|github:|gitlab:|bitbucket:|gist:)", s) or \
            ("/" in s and not s.startswith("@") and "://" not in s):
        return "#" in s and not s.endswith("#")
    if "://" in s:
        return True  # a tarball URL
    name_ver = s[1:] if s.startswith("@") else s
    if "@" not in name_ver:
        return False
    ver = name_ver.split("@", 1)[1]
    return bool(re.search(r"\d", ver))


def _gem_pinned(spec: str) -> bool:
    return bool(re.search(r":\S*\d", spec)) or spec.endswith(".gem") or spec.startswith(_LOCAL)


def _go_pinned(spec: str) -> bool:
    if spec.startswith(_LOCAL) or spec.endswith(".go"):
        return True
    if "@" in spec:
        ver = spec.rsplit("@", 1)[1]
        return ver == "none" or bool(re.match(r"^(v\d|[0-9a-f]{7,40}$|\$)", ver))
    first = spec.split("/", 1)[0]
    return "." not in first  # standard library (`std`, `cmd/...`) or the main module's own packages


def _pin_specs(call: Call) -> tuple[list[str], Callable[[str], bool]] | None:
    """The package specs a call installs and how this ecosystem says a spec names a version."""
    f, sub, pos = call.family, call.sub, call.pos
    if f == "apt" and sub == "install":
        return pos, lambda s: bool(re.search(r"=.", s)) or s.endswith(".deb") or s.startswith(_LOCAL)
    if f == "apk" and sub == "add":
        return pos, lambda s: bool(re.search(r"[=<>~].", s)) or s.endswith(".apk") or s.startswith(_LOCAL)
    if f in ("dnf", "yum"):
        if sub in ("install", "in"):
            return pos, _rpm_pinned
        if sub == "module install":
            return pos, lambda s: ":" in s
        return None
    if f == "zypper" and sub in ("install", "in"):
        if set(opt_values(call.opts, "-t", "--type")) - {"package"}:
            return None  # patterns, patches, products
        return pos, _rpm_pinned
    if f == "pip" and sub == "install":
        if has_opt(call.opts, "-c", "--constraint", "--no-index"):
            return None  # a constraints file pins what is installed; --no-index installs only local artefacts
        return pos, _pip_pinned
    if f == "npm" and sub in NPM_INSTALL:
        return pos, _npm_pinned
    if f == "gem" and sub in ("install", "i"):
        if has_opt(call.opts, "-v", "--version", "-g", "--file"):
            return None
        return pos, _gem_pinned
    if f == "go" and sub in ("install", "get", "run"):
        return pos, _go_pinned
    return None


PIN_FIX = {
    "apt": "apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5",
    "apk": "apk add --no-cache curl=8.5.0-r0",
    "dnf": "dnf install -y httpd-2.4.57 (modules: dnf module install -y nodejs:20)",
    "yum": "yum install -y httpd-2.4.6",
    "zypper": "zypper install -y 'curl=8.0.1'",
    "pip": "pip install --no-cache-dir requests==2.32.3 (or -r requirements.txt with pins / -c constraints.txt)",
    "npm": "npm ci (from package-lock.json) or npm install -g typescript@5.4.5",
    "gem": "gem install bundler:2.5.10 (or -v 2.5.10)",
    "go": "go install golang.org/x/tools/gopls@v0.15.3",
}


@control(
    id="security.dockerfile-packages-pinned", title="Packages installed in images are pinned to versions",
    category="security", severity="low", evidence=["dockerfile"],
    rationale="`apt-get install curl`, `pip install requests` or `go install x@latest` install whatever is newest "
              "on the day of the build: two builds of the same commit differ, a rebuild for a security fix can "
              "pull in a breaking major version, and a compromised upstream release lands without review. "
              "Pinned versions (or a lock/constraints file) make the image a function of the commit.",
    remediation="Name a version (or a version constraint, as each ecosystem defines one) for every package:\n"
                + "\n".join(f"{k}: {v}" for k, v in PIN_FIX.items())
                + "\nInstalling from a lock/requirements/constraints file, a local path or an archive is fine.",
    references=["hadolint DL3008 DL3013 DL3016 DL3018 DL3028 DL3033 DL3037 DL3041 DL3062",
                "SLSA: reproducible builds", "Docker docs: Dockerfile best practices, 'apt-get'"],
    concepts=[f"docker.pkg_pin.{k}" for k in PIN_FIX],
    phrases=["pin package versions", "pin dependencies in Dockerfile", "reproducible image builds",
             "version-pinned apt packages"],
)
def packages_pinned(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        fx = facts(d)
        bad = False
        for run in fx.runs:
            for call in calls(run):
                judged = _pin_specs(call)
                if judged is None:
                    continue
                specs, pinned = judged
                loose = [s for s in specs if not _var_only(s) and not pinned(_resolve(s, call, run, fx.declared))]
                if loose:
                    bad = True
                    yield failed(f"{call.tool} {call.sub} without a version: {', '.join(loose[:5])}"
                                 f"{' …' if len(loose) > 5 else ''} (e.g. {PIN_FIX[call.family]})",
                                 Loc(d.path, run.ins.line), d.path, concept=f"docker.pkg_pin.{call.family}")
        if not bad:
            yield passed("installed packages name their versions", Loc(d.path, None), d.path)


# --- 2. package-manager caches --------------------------------------------------------------------------

RPM_INSTALLISH = {"install", "in", "reinstall", "rei", "upgrade", "up", "update", "upgrade-minimal", "up-min",
                  "distro-sync", "dsync", "downgrade", "dg", "groupinstall", "groupupdate", "localinstall", "swap",
                  "module install", "group install", "group upgrade", "makecache", "mc"}
ZYPPER_INSTALLISH = {"install", "in", "update", "up", "dist-upgrade", "dup", "patch", "source-install", "si",
                     "install-new-recommends", "inr"}
RPM_CACHES = ("/var/cache/yum", "/var/cache/dnf", "/var/cache/libdnf5", "/var/cache/tdnf")
YARN_CACHES = ("/usr/local/share/.cache/yarn", "/root/.cache/yarn", "/root/.yarn")
TRUTHY = {"1", "true", "yes", "on", "y"}


def _removed(run: Run) -> list[tuple[int, str]]:
    """(command index, absolute path) of everything ``rm`` deletes in the RUN (following ``cd``)."""
    if "removed" in run.memo:
        return run.memo["removed"]
    out = []
    cwd = "/"
    for c in run.cmds:
        if c.name == "cd" and len(c.argv) > 1:
            cwd = c.argv[1] if c.argv[1].startswith("/") else f"{cwd.rstrip('/')}/{c.argv[1]}"
        elif c.name == "rm" or (c.name == "find" and len(c.argv) > 1 and ("-delete" in c.argv or "rm" in c.argv)):
            for a in (c.argv[1:] if c.name == "rm" else c.argv[1:2]):
                if not a.startswith("-"):
                    path = a if a.startswith(("/", "~", "$")) else f"{cwd.rstrip('/')}/{a}"
                    out.append((c.index, path.replace("~", "/root", 1) if path.startswith("~") else path))
    run.memo["removed"] = out
    return out


def _rm_covers(run: Run, after: int, *dirs: str) -> bool:
    """Something removes one of ``dirs`` (or a directory above it, or its contents) after command ``after``."""
    key = ("rm",) + dirs
    if key not in run.memo:
        last = -1
        for idx, path in _removed(run):
            p = re.sub(r"(/\*|\*)+$", "", path).rstrip("/") or "/"
            if any(d == p or d.startswith(p + "/") or p.startswith(d + "/") or p.endswith(d.lstrip("/"))
                   for d in dirs):
                last = max(last, idx)
        run.memo[key] = last
    return run.memo[key] > after


def _later(run: Run, after: int, key: str, pred: Callable[[Call], bool]) -> bool:
    """A call matching ``pred`` (memoised under ``key``) runs after command ``after`` in the same RUN."""
    if key not in run.memo:
        run.memo[key] = max((c.cmd.index for c in calls(run) if pred(c)), default=-1)
    return run.memo[key] > after


def _pip_cache_off(call: Call, run: Run) -> bool:
    v = call.cmd.var("PIP_NO_CACHE_DIR")
    if v is None:
        v = run.scope.get("PIP_NO_CACHE_DIR")
    if v is not None:
        return v.strip().lower() in TRUTHY
    return "pip-no-cache" in run.conf


def _mounted_suffix(run: Run, *suffixes: str) -> bool:
    return any(t in ("cache", "tmpfs") and target.rstrip("/").endswith(suffixes) for t, target in run.mounts)


def _cache_problem(call: Call, run: Run) -> str | None:
    """Why this call leaves a package cache in the layer, or None."""
    f, sub, i = call.family, call.sub, call.cmd.index
    if f == "apt" and sub == "update":
        lists_ok = run.cache_mounted("/var/lib/apt/lists") or _rm_covers(run, i, "/var/lib/apt/lists")
        archives_ok = ("apt-keep-archives" not in run.conf or run.cache_mounted("/var/cache/apt/archives")
                       or _rm_covers(run, i, "/var/cache/apt/archives")
                       or _later(run, i, "apt-clean", lambda c: c.family == "apt" and c.sub in ("clean", "autoclean")))
        if not lists_ok:
            return f"{call.tool} update without removing /var/lib/apt/lists/* in the same RUN (or a cache mount)"
        if not archives_ok:
            return ("apt keeps downloaded .deb files here (docker-clean removed) but /var/cache/apt is neither "
                    "cache-mounted nor cleaned")
        return None
    if f == "apk" and sub == "add":
        if has_opt(call.opts, "--no-cache") or run.cache_mounted("/var/cache/apk", "/etc/apk/cache") \
                or _rm_covers(run, i, "/var/cache/apk") \
                or _later(run, i, "apk-clean", lambda c: c.family == "apk" and c.sub == "cache" and "clean" in c.pos):
            return None
        return "apk add without --no-cache (or a cache mount of /var/cache/apk)"
    if f in ("dnf", "yum") and sub in RPM_INSTALLISH:
        if run.cache_mounted(*RPM_CACHES) or _rm_covers(run, i, *RPM_CACHES) \
                or _later(run, i, "rpm-clean",
                          lambda c: c.family in ("dnf", "yum") and c.sub == "clean" and "all" in c.pos):
            return None
        return f"{call.tool} {sub} without a later `{call.tool} clean all` in the same RUN (or a cache mount)"
    if f == "zypper" and sub in ZYPPER_INSTALLISH:
        if run.cache_mounted("/var/cache/zypp") or _rm_covers(run, i, "/var/cache/zypp") \
                or _later(run, i, "zypper-clean", lambda c: c.family == "zypper" and c.sub in ("clean", "cc")):
            return None
        return f"zypper {sub} without a later `zypper clean` in the same RUN (or a cache mount)"
    if f == "pip" and sub == "install":
        if has_opt(call.opts, "--no-cache-dir") or _pip_cache_off(call, run) \
                or run.cache_mounted("/root/.cache/pip") or _mounted_suffix(run, ".cache/pip", ".cache") \
                or _rm_covers(run, i, "/root/.cache/pip") \
                or _later(run, i, "pip-purge", lambda c: c.family == "pip" and c.sub == "cache" and "purge" in c.pos):
            return None
        return "pip install without --no-cache-dir (or PIP_NO_CACHE_DIR=1, or a cache mount)"
    if f == "yarn" and (sub in ("", "install", "add") or (sub == "global" and call.pos[:1] == ["add"])):
        if run.cache_mounted(*YARN_CACHES) or _mounted_suffix(run, ".cache/yarn", ".yarn/berry", ".yarn/cache") \
                or _rm_covers(run, i, *YARN_CACHES) \
                or _later(run, i, "yarn-clean", lambda c: c.family == "yarn" and c.sub == "cache" and "clean" in c.pos):
            return None
        return f"yarn {sub or 'install'} without a later `yarn cache clean` in the same RUN (or a cache mount)"
    return None


CLEANUP = {"apt": "apt", "apk": "apk", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "pip": "pip", "yarn": "yarn"}


@control(
    id="performance.dockerfile-package-caches-removed",
    title="Package installs leave no caches or unneeded packages in the image", category="performance",
    severity="low", evidence=["dockerfile"],
    rationale="Package indexes and download caches (/var/lib/apt/lists, /var/cache/apk, dnf/yum/zypper caches, "
              "~/.cache/pip, the yarn cache) left in a layer add tens to hundreds of MB to every pull and every "
              "node's disk, slow scale-out and cold starts, and ship stale package metadata; apt's recommended "
              "packages add software nobody asked for. A later RUN cannot shrink an earlier layer, so the cleanup "
              "has to happen in the same RUN (or the cache has to live in a BuildKit cache mount).",
    remediation="Clean in the same RUN, or mount the cache:\n"
                "RUN apt-get update && apt-get install -y --no-install-recommends curl=… \\\n"
                "    && rm -rf /var/lib/apt/lists/*\n"
                "RUN apk add --no-cache curl=…\n"
                "RUN dnf install -y httpd-… && dnf clean all      (yum clean all, zypper clean)\n"
                "RUN pip install --no-cache-dir -r requirements.txt   (or ENV PIP_NO_CACHE_DIR=1)\n"
                "RUN yarn install --frozen-lockfile && yarn cache clean\n"
                "RUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt apt-get …",
    references=["hadolint DL3009 DL3015 DL3019 DL3032 DL3036 DL3040 DL3042 DL3060",
                "Docker docs: Dockerfile best practices, 'apt-get'", "Docker docs: RUN --mount=type=cache"],
    concepts=[f"docker.pkg_cleanup.{k}" for k in CLEANUP] + ["docker.apt.no_install_recommends"],
    checklist=["security.minimal_images"],
    phrases=["clean package cache", "remove apt lists", "pip --no-cache-dir", "apk --no-cache",
             "no-install-recommends", "reduce image size"],
)
def package_caches_removed(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        fx = facts(d)
        bad = False
        for run in fx.runs:
            in_final = run.stage.index in fx.final_lineage
            for call in calls(run):
                if in_final:
                    why = _cache_problem(call, run)
                    if why:
                        bad = True
                        yield failed(why, Loc(d.path, run.ins.line), d.path,
                                     concept=f"docker.pkg_cleanup.{CLEANUP[call.family]}")
                if _recommends(call, run):
                    bad = True
                    yield failed(f"{call.tool} install without --no-install-recommends pulls in recommended "
                                 "packages", Loc(d.path, run.ins.line), d.path,
                                 concept="docker.apt.no_install_recommends")
        if not bad:
            yield passed("package installs clean up after themselves", Loc(d.path, None), d.path)


def _recommends(call: Call, run: Run) -> bool:
    if call.family != "apt" or call.sub != "install":
        return False
    if has_opt(call.opts, "--no-install-recommends", "--without-recommends") or \
            (call.tool == "aptitude" and has_opt(call.opts, "-R")):
        return False
    if any(re.match(r"(?i)APT::Install-Recommends\s*=\s*\"?(false|0|no)", v)
           for v in opt_values(call.opts, "-o", "--option")):
        return False
    return "apt-no-recommends" not in run.conf


# --- 3. installs that behave in a build: non-interactive, index refreshed with the install, apt-get ---------

APT_CHANGING = {"install", "upgrade", "dist-upgrade", "full-upgrade", "remove", "purge", "autoremove",
                "autopurge", "build-dep", "reinstall"}
RPM_CHANGING = {"install", "in", "remove", "erase", "rm", "autoremove", "upgrade", "up", "update", "reinstall",
                "rei", "downgrade", "dg", "groupinstall", "groupremove", "groupupdate", "localinstall",
                "distro-sync", "dsync", "swap", "upgrade-minimal", "module install", "group install",
                "group remove", "group upgrade"}
ZYPPER_CHANGING = {"install", "in", "remove", "rm", "update", "up", "dist-upgrade", "dup", "patch",
                   "source-install", "si", "install-new-recommends", "inr"}
REFRESH = {"apt": {"update"}, "apk": {"update"}, "zypper": {"refresh", "ref"}}
INSTALLS = {"apt": APT_CHANGING - {"remove", "purge", "autoremove", "autopurge"} | {"source"},
            "apk": {"add", "upgrade", "fix"}, "zypper": ZYPPER_CHANGING - {"remove", "rm"}}


def _piped_from_yes(call: Call, run: Run) -> bool:
    return call.cmd.pipe_in and call.cmd.index > 0 and run.cmds[call.cmd.index - 1].name == "yes"


def _interactive(call: Call, run: Run) -> bool:
    f, sub, opts = call.family, call.sub, call.opts
    if _piped_from_yes(call, run):
        return False
    if f == "apt" and sub in APT_CHANGING:
        quiet = sum(1 for o, _ in opts if o in ("-q", "--quiet")) + sum(
            int(v) - 1 for o, v in opts if o in ("-q", "--quiet") and v and v.isdigit())
        assume = any(re.match(r"(?i)APT::Get::Assume-Yes\s*=\s*\"?(true|1|yes)", v)
                     for v in opt_values(opts, "-o", "--option"))
        return not (has_opt(opts, "-y", "--yes", "--assume-yes") or quiet >= 2 or assume
                    or "apt-assume-yes" in run.conf)
    if f in ("dnf", "yum") and sub in RPM_CHANGING:
        assume = any(re.match(r"(?i)assumeyes\s*=\s*(1|true|yes|on)", v) for v in opt_values(opts, "--setopt"))
        return not (has_opt(opts, "-y", "--assumeyes", "--assume-yes") or assume or "dnf-assumeyes" in run.conf)
    if f == "zypper" and sub in ZYPPER_CHANGING:
        return not has_opt(opts, "-n", "--non-interactive", "-y", "--no-confirm")
    return False


@control(
    id="reliability.dockerfile-package-installs-scripted",
    title="Package installs in images are non-interactive and refresh indexes in the same RUN",
    category="reliability", severity="low", evidence=["dockerfile"],
    rationale="A build has no one to answer prompts: `apt-get install` without -y aborts as soon as an install "
              "pulls in an extra dependency, so a build that worked yesterday fails today (dnf, yum and zypper "
              "likewise). `apt-get update` in a RUN of its own is cached as a layer and later installs use that "
              "stale index: old versions, or 404s once the mirror has moved on. `apt` is the interactive CLI "
              "whose output and behaviour are not stable for scripts; `apt-get` is.",
    remediation="RUN apt-get update \\\n    && apt-get install -y --no-install-recommends curl=… \\\n"
                "    && rm -rf /var/lib/apt/lists/*\n"
                "dnf/yum/microdnf: `-y`; zypper: `zypper --non-interactive install …` (or `-y`).",
    references=["hadolint DL3014 DL3027 DL3030 DL3034 DL3038", "Checkov CKV_DOCKER_5, CKV_DOCKER_9",
                "Docker docs: Dockerfile best practices, 'apt-get'"],
    concepts=["docker.pkg_noninteractive.apt", "docker.pkg_noninteractive.dnf", "docker.pkg_noninteractive.yum",
              "docker.pkg_noninteractive.zypper", "docker.apt.update_alone", "docker.apt_instead_of_apt_get"],
    checklist=["cicd.ci_image_build"],
    phrases=["apt-get -y", "non-interactive package install", "apt-get update and install in one RUN",
             "use apt-get not apt"],
)
def package_installs_scripted(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        bad = False
        for run in facts(d).runs:
            cs = calls(run)
            loc = Loc(d.path, run.ins.line)
            for call in cs:
                if _interactive(call, run):
                    bad = True
                    yield failed(f"{call.tool} {call.sub} without -y waits for an answer no build can give", loc,
                                 d.path, concept=f"docker.pkg_noninteractive.{call.family}")
                if call.tool == "apt" and call.cmd.name == "apt":
                    bad = True
                    yield failed("uses `apt`, the interactive CLI, instead of apt-get/apt-cache", loc, d.path,
                                 concept="docker.apt_instead_of_apt_get")
            for fam, subs in REFRESH.items():
                refresh = [c for c in cs if c.family == fam and c.sub in subs]
                if refresh and not any(c.family == fam and c.sub in INSTALLS[fam] for c in cs):
                    bad = True
                    yield failed(f"`{refresh[0].tool} {refresh[0].sub}` in a RUN without an install: the index "
                                 "layer is cached and goes stale", loc, d.path, concept="docker.apt.update_alone")
        if not bad:
            yield passed("package installs are scripted for unattended builds", Loc(d.path, None), d.path)


# --- 4. signature checks -------------------------------------------------------------------------------

_FALSE = r"(0|false|no|off)"
SIG_FLAGS = {
    "apt": {"--allow-unauthenticated", "--force-yes", "--allow-insecure-repositories", "--allow-untrusted"},
    "apk": {"--allow-untrusted"},
    "dnf": {"--nogpgcheck", "--no-gpgchecks"},
    "yum": {"--nogpgcheck"},
    "zypper": {"--no-gpg-checks", "--no-gpgcheck"},
    "rpm": {"--nosignature", "--nodigest", "--noverify", "--nofiledigest"},
    "dpkg": {"--force-bad-verify"},
}
SIG_OPTION_RX = re.compile(r"(?i)(AllowUnauthenticated|AllowInsecureRepositories)\"?\s*=\s*\"?(1|true|yes)")
SIG_SETOPT_RX = re.compile(r"(?i)^(\S*\.)?(localpkg_|repo_)?gpgcheck\s*=\s*" + _FALSE + "$")
SIG_TEXT_RX = re.compile(r"(?im)(^\s*(repo_|localpkg_)?gpgcheck\s*=\s*" + _FALSE + r"\s*$|\[[^\]]*trusted=yes|"
                         r"AllowUnauthenticated\s+\"?(true|1|yes))")
SIG_ENV = {"GOSUMDB": lambda v: v.strip().lower() == "off", "GONOSUMCHECK": lambda v: v.strip() not in ("", "0"),
           "GOFLAGS": lambda v: "-insecure" in v}


def _signature_problems(run: Run) -> Iterator[str]:
    for c in run.cmds:
        name = c.name
        fam = "apt" if name in APT else "dnf" if name in DNF | {"yum-config-manager"} else name
        flags = SIG_FLAGS.get(fam)
        if name == "rpm":
            _, opts = split_opts(c.argv[1:], {"--root", "--dbpath", "--define", "-D", "--macros", "--predefine"})
            if not has_opt(opts, "-i", "--install", "-U", "--upgrade", "-F", "--freshen", "--reinstall"):
                continue
            hit = [o for o, _ in opts if o in SIG_FLAGS["rpm"]]
        else:
            call = call_of(c)
            opts = call.opts if call else split_opts(c.argv[1:], RPM_VAL)[1]
            hit = [o for o, _ in opts if flags and o in flags]
            if fam == "apt":
                hit += [f"-o {v}" for v in opt_values(opts, "-o", "--option") if SIG_OPTION_RX.search(v)]
            if name in DNF | YUM | {"yum-config-manager", "dnf-3"} or (call and call.sub == "config-manager"):
                hit += [f"--setopt={v}" for v in opt_values(opts, "--setopt") if SIG_SETOPT_RX.match(v)]
            if name == "zypper" and call and call.sub in ("ar", "addrepo") and has_opt(opts, "-G"):
                hit.append("addrepo -G")
        if hit:
            yield f"{name} {' '.join(dict.fromkeys(hit))} skips package signature verification"
        for var, bad in SIG_ENV.items():
            v = c.assigns.get(var)
            if v is not None and bad(v):
                yield f"{var}={v} turns off Go module checksum verification"
    for _c, text, _files in written(run.cmds):
        m = SIG_TEXT_RX.search(text)
        if m:
            yield f"writes `{m.group(0).strip()}` into package-manager configuration: signatures are not checked"
    for c in run.cmds:
        if c.name == "export":
            for a in c.argv[1:]:
                k, _, v = a.partition("=")
                if k in SIG_ENV and SIG_ENV[k](v):
                    yield f"exports {k}={v}: Go module checksum verification is off"


@control(
    id="security.dockerfile-package-signatures-verified", title="Package signature checks are not disabled",
    category="security", severity="high", evidence=["dockerfile"],
    rationale="Package managers verify repository and package signatures so that a compromised mirror, proxy or "
              "DNS cannot hand the build a trojaned package. `--allow-unauthenticated`, `--force-yes`, "
              "`--allow-untrusted`, `--nogpgcheck`, `rpm --nosignature`, `gpgcheck=0` or `[trusted=yes]` switch "
              "that off, and whatever arrives is baked into the image.",
    remediation="Import the repository's key and keep verification on:\n"
                "curl -fsSLo /usr/share/keyrings/vendor.gpg https://vendor.example/key.gpg\n"
                "echo \"deb [signed-by=/usr/share/keyrings/vendor.gpg] https://vendor.example/apt stable main\" \\\n"
                "  > /etc/apt/sources.list.d/vendor.list\n"
                "rpm --import https://vendor.example/RPM-GPG-KEY && dnf install -y pkg-1.2.3\n"
                "apk: add the repository's public key to /etc/apk/keys instead of --allow-untrusted.",
    references=["Checkov CKV2_DOCKER_7, CKV2_DOCKER_8, CKV2_DOCKER_9, CKV2_DOCKER_10, CKV2_DOCKER_11",
                "SLSA: build integrity", "CIS Docker Benchmark 4.11 (verified packages)"],
    concepts=["docker.pkg.signature_check_disabled"],
    phrases=["package signatures verified", "gpg check enabled", "no --allow-unauthenticated"],
)
def package_signatures_verified(p: Project) -> Iterator[Outcome]:
    def findings(d: Dockerfile) -> Iterator[Outcome]:
        for run in facts(d).runs:
            for why in dict.fromkeys(_signature_problems(run)):
                yield failed(why, Loc(d.path, run.ins.line), d.path)
        for ins, name, value in _env_and_args(d):
            if name in SIG_ENV and SIG_ENV[name](value):
                yield failed(f"{ins.cmd} {name}={value} turns off Go module checksum verification",
                             Loc(d.path, ins.line), d.path)

    return per_dockerfile(p, findings, "package signature checks stay on")


def _env_and_args(d: Dockerfile) -> list[tuple[Instruction, str, str]]:
    """(instruction, name, value) of every ENV and of every ARG with a default, global ARGs included; listed once
    per Dockerfile (remembered on it: several controls read them)."""
    memo = d.__dict__.get("_env_and_args")
    if memo is None:
        memo = []
        for ins in list(d.preamble) + [i for s in d.stages for i in s.instructions]:
            if ins.cmd == "ENV":
                for k, v in env_pairs(ins):
                    memo.append((ins, k, v))
            elif ins.cmd == "ARG":
                for k, v in arg_decls(ins):
                    if v is not None:
                        memo.append((ins, k, v))
        d._env_and_args = memo  # type: ignore[attr-defined]
    return memo


# --- 5. TLS verification ---------------------------------------------------------------------------------

CURL_VAL = {"-A", "-b", "-c", "-C", "-d", "-D", "-e", "-E", "-F", "-H", "-K", "-m", "-o", "-P", "-Q", "-r",
            "-t", "-T", "-u", "-U", "-w", "-x", "-X", "-y", "-Y", "-z", "--output", "--header", "--data",
            "--user", "--request", "--url", "--proxy", "--cacert", "--cert", "--key", "--config", "--retry",
            "--max-time", "--connect-timeout", "--write-out", "--user-agent", "--referer", "--form",
            "--upload-file", "--continue-at", "--range", "--cookie", "--cookie-jar", "--dump-header"}
TLS_ENV = {  # variable -> (value disables verification?, what it does)
    "GIT_SSL_NO_VERIFY": (lambda v: True, "git skips certificate verification whenever it is set"),
    "NODE_TLS_REJECT_UNAUTHORIZED": (lambda v: v.strip() == "0", "Node.js accepts any certificate"),
    "PYTHONHTTPSVERIFY": (lambda v: v.strip() == "0", "Python's urllib accepts any certificate"),
    "PIP_TRUSTED_HOST": (lambda v: v.strip() != "", "pip accepts these hosts without valid TLS"),
    "NPM_CONFIG_STRICT_SSL": (lambda v: v.strip().lower() in ("false", "0"), "npm accepts any certificate"),
    "YARN_STRICT_SSL": (lambda v: v.strip().lower() in ("false", "0"), "yarn accepts any certificate"),
    "YARN_ENABLE_STRICT_SSL": (lambda v: v.strip().lower() in ("false", "0"), "yarn accepts any certificate"),
    "GOINSECURE": (lambda v: v.strip() != "", "go fetches these modules without TLS verification"),
    "GOFLAGS": (lambda v: "-insecure" in v.split(), "go get skips TLS verification"),
}
_CASE_INSENSITIVE_ENV = {"NPM_CONFIG_STRICT_SSL"}  # npm reads npm_config_* in any case
TLS_FLAGS = {  # command -> flags that switch verification off
    "wget": {"--no-check-certificate"},
    "aws": {"--no-verify-ssl"},
    "helm": {"--insecure-skip-tls-verify"},
    "kubectl": {"--insecure-skip-tls-verify"},
    "oc": {"--insecure-skip-tls-verify"},
    "ansible-galaxy": {"--ignore-certs", "-c"},
    "svn": {"--trust-server-cert"},
}
TLS_FALSE_OPTS = {  # command -> options whose value false disables verification
    "skopeo": {"--tls-verify", "--src-tls-verify", "--dest-tls-verify"},
    "podman": {"--tls-verify"},
    "buildah": {"--tls-verify"},
    "npm": {"--strict-ssl"},
    "yarn": {"--strict-ssl"},
    "pnpm": {"--strict-ssl"},
}
TLS_TEXT = [  # (file-name pattern, text pattern) written into tool configuration
    (re.compile(r"\.curlrc$"), re.compile(r"(?m)^\s*(-k|--insecure|insecure)\s*$")),
    (re.compile(r"wgetrc$"), re.compile(r"(?im)^\s*check_?certificate\s*=\s*(off|0|no|false)")),
    (re.compile(r"\.npmrc$|\.yarnrc"), re.compile(r"(?im)^\s*strict[-_]ssl\s*[= ]\s*\"?(false|0)")),
    (re.compile(r"pip\.conf$|pip\.ini$"), re.compile(r"(?im)^\s*trusted-host\s*=")),
    (re.compile(r"yum\.conf$|dnf\.conf$|\.repo$"), re.compile(r"(?im)^\s*sslverify\s*=\s*" + _FALSE)),
    (re.compile(r"\.gitconfig$|gitconfig$"), re.compile(r"(?im)^\s*sslverify\s*=\s*" + _FALSE)),
]
_SSLVERIFY_RX = re.compile(r"(?i)^(\S*\.)?sslverify\s*=\s*" + _FALSE + "$")


def _tls_env(name: str, value: str) -> str | None:
    key = name.upper() if name.upper() in _CASE_INSENSITIVE_ENV else name
    rule = TLS_ENV.get(key)
    if rule and rule[0](value):
        return f"{name}={value}: {rule[1]}"
    return None


def _config_set(c: Cmd, keys: set[str]) -> str | None:
    """`npm config set strict-ssl false` / `npm set strict-ssl=false` / `git config http.sslVerify false`."""
    args = [a for a in c.argv[1:] if not a.startswith("-")]
    if args[:2] == ["config", "set"]:
        kv = args[2:]
    elif args[:1] in (["set"], ["config"]):
        kv = args[1:]
    else:
        return None
    if not kv:
        return None
    key, eq, val = kv[0].partition("=")
    if not eq:
        val = kv[1] if len(kv) > 1 else ""
    k = key.lower()
    if (k in keys or any(k.endswith("." + x) for x in keys)) and val.strip().lower() in ("false", "0", "no", "off"):
        return f"{c.name} config sets {key} {val}"
    return None


def _tls_problems(run: Run) -> Iterator[str]:
    for c in run.cmds:
        name = c.name
        for k, v in c.assigns.items():
            why = _tls_env(k, v)
            if why:
                yield why
        if name == "export":
            for a in c.argv[1:]:
                k, eq, v = a.partition("=")
                why = _tls_env(k, v) if eq else None
                if why:
                    yield why
        if name == "curl":
            _, opts = split_opts(c.argv[1:], CURL_VAL)
            hit = [o for o, _ in opts if o in ("-k", "--insecure", "--proxy-insecure", "--doh-insecure")]
            if hit:
                yield f"curl {hit[0]} accepts any certificate"
        elif name in TLS_FLAGS:
            hit = [a for a in c.argv[1:] if a.split("=", 1)[0] in TLS_FLAGS[name]]
            if hit:
                yield f"{name} {hit[0]} skips certificate verification"
        call = call_of(c)
        if call and call.family == "pip" and has_opt(call.opts, "--trusted-host"):
            yield f"pip --trusted-host {', '.join(opt_values(call.opts, '--trusted-host'))} accepts hosts " \
                  "without valid TLS"
        if call and call.family == "pip" and call.sub == "config":
            why = _config_set(c, {"trusted-host"})
            if why or (call.pos[:1] == ["set"] and len(call.pos) > 1 and call.pos[1].endswith("trusted-host")):
                yield "pip config sets trusted-host: pip accepts these hosts without valid TLS"
        if name in TLS_FALSE_OPTS:
            for a in c.argv[1:]:
                key, eq, val = a.partition("=")
                if key in TLS_FALSE_OPTS[name] and eq and val.strip().lower() in ("false", "0"):
                    yield f"{name} {a} skips certificate verification"
                elif a == "--no-strict-ssl":
                    yield f"{name} --no-strict-ssl accepts any certificate"
        if name in ("npm", "yarn", "pnpm"):
            why = _config_set(c, {"strict-ssl", "strict_ssl", "enablestrictssl"})
            if why:
                yield why + ": accepts any certificate"
        if name == "git":
            why = _config_set(c, {"http.sslverify", "sslverify"})
            if why:
                yield why
            for i, a in enumerate(c.argv[:-1]):
                if a == "-c" and re.match(r"(?i)http\.(\S+\.)?sslverify=" + _FALSE + "$", c.argv[i + 1]):
                    yield f"git -c {c.argv[i + 1]} skips certificate verification"
        if name == "conda" and "ssl_verify" in c.argv:
            i = c.argv.index("ssl_verify")
            if i + 1 < len(c.argv) and c.argv[i + 1].lower() in ("false", "no", "0"):
                yield "conda config sets ssl_verify false"
        if name in DNF | YUM | {"yum-config-manager"}:
            _, opts = split_opts(c.argv[1:], RPM_VAL)
            for v in opt_values(opts, "--setopt"):
                if _SSLVERIFY_RX.match(v):
                    yield f"{name} --setopt={v} skips certificate verification for the repository"
        if name == "go" and len(c.argv) > 1 and c.argv[1] == "get" and "-insecure" in c.argv:
            yield "go get -insecure skips TLS verification"
        if name in ("mvn", "mvnw") and any(re.match(r"-Dmaven\.wagon\.http\.ssl\.(insecure|allowall)=true", a)
                                           for a in c.argv):
            yield "maven wagon ssl.insecure/allowall accepts any certificate"
    for _c, text, files in written(run.cmds):
        for f in files:
            for frx, trx in TLS_TEXT:
                if frx.search(f) and trx.search(text):
                    yield f"writes a setting into {f} that turns certificate verification off"


@control(
    id="security.dockerfile-tls-verification", title="Builds do not switch off TLS certificate verification",
    category="security", severity="high", evidence=["dockerfile"],
    rationale="`curl -k`, `wget --no-check-certificate`, `pip --trusted-host`, `npm strict-ssl false`, "
              "`GIT_SSL_NO_VERIFY`, `NODE_TLS_REJECT_UNAUTHORIZED=0`, `PYTHONHTTPSVERIFY=0` or `sslverify=0` "
              "accept any certificate, so anyone on the path (a proxy, a hijacked DNS answer) can substitute what "
              "the build downloads and runs. Set with ENV, it stays on at run time too: the service itself then "
              "talks to its dependencies without verifying them.",
    remediation="Remove the flag or variable and make the certificate verifiable: install the CA that signs an "
                "internal mirror (COPY corp-ca.crt /usr/local/share/ca-certificates/ && update-ca-certificates), "
                "or point the tool at it (PIP_CERT, NODE_EXTRA_CA_CERTS, `git config http.sslCAInfo`, "
                "`curl --cacert`).",
    references=["Checkov CKV2_DOCKER_2 … CKV2_DOCKER_6, CKV2_DOCKER_12 … CKV2_DOCKER_16",
                "OWASP ASVS 9.2.1 (verified TLS to external services)", "CWE-295"],
    concepts=["docker.tls_verification_disabled"], checklist=["security.tls_enabled"],
    phrases=["no curl -k", "TLS verification enabled", "do not disable certificate validation"],
)
def tls_verification(p: Project) -> Iterator[Outcome]:
    def findings(d: Dockerfile) -> Iterator[Outcome]:
        for run in facts(d).runs:
            for why in dict.fromkeys(_tls_problems(run)):
                yield failed(why, Loc(d.path, run.ins.line), d.path)
        for ins, name, value in _env_and_args(d):
            why = _tls_env(name, value)
            if why:
                yield failed(f"{ins.cmd} {why}", Loc(d.path, ins.line), d.path)

    return per_dockerfile(p, findings, "no TLS verification switched off")


# --- 6. sudo, pipefail --------------------------------------------------------------------------------------

@control(
    id="security.dockerfile-no-sudo", title="RUN does not use sudo", category="security", severity="medium",
    evidence=["dockerfile"],
    rationale="RUN already runs as the image's current USER; sudo in a Dockerfile means sudo is installed and "
              "configured in the image, which gives whoever gets a shell in the running container a ready "
              "privilege-escalation path. It also brings unpredictable TTY and signal behaviour into builds.",
    remediation="Switch user around the step instead:\nUSER root\nRUN apt-get update && apt-get install -y …\n"
                "USER 10001\n(at run time, use gosu/su-exec in an entrypoint if a step really needs root).",
    references=["hadolint DL3004", "Checkov CKV2_DOCKER_1", "CIS Docker Benchmark 4.1"],
    concepts=["docker.sudo"], checklist=["security.container_non_root"],
    phrases=["no sudo in containers", "avoid sudo in Dockerfile"],
)
def no_sudo(p: Project) -> Iterator[Outcome]:
    def findings(d: Dockerfile) -> Iterator[Outcome]:
        for run in facts(d).runs:
            hits = [c for c in run.cmds if "sudo" in c.wrappers or c.name == "sudo"]
            if hits:
                what = " ".join(["sudo"] + hits[0].argv[:3]) if hits[0].name != "sudo" else "sudo"
                yield failed(f"RUN uses sudo ({what})", Loc(d.path, run.ins.line), d.path)

    return per_dockerfile(p, findings, "no sudo in RUN")


@control(
    id="reliability.dockerfile-pipefail", title="RUN pipelines fail when any command in them fails",
    category="reliability", severity="medium", evidence=["dockerfile"],
    rationale="A POSIX shell returns the status of the last command of a pipeline: `RUN curl -fsSL $URL | tar xz` "
              "succeeds when the download fails, and the build ships an image without the file. Only "
              "`set -o pipefail` (bash, zsh, ash — not dash's /bin/sh) makes the pipeline fail.",
    remediation='SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN curl -fsSL "$URL" | tar -xz -C /opt\n'
                "(or start the RUN with `set -o pipefail &&` in a shell that supports it).",
    references=["hadolint DL4006", "Docker docs: Dockerfile best practices, 'Using pipes'"],
    concepts=["docker.shell.pipefail"], checklist=["cicd.ci_image_build"],
    phrases=["set -o pipefail", "pipefail in Dockerfile"],
)
def pipefail(p: Project) -> Iterator[Outcome]:
    def findings(d: Dockerfile) -> Iterator[Outcome]:
        for run in facts(d).runs:
            if run.unsafe_pipes:
                first = run.unsafe_pipes[0]
                shell = run.shell[0] if run.shell else "/bin/sh"
                yield failed(f"pipeline starting with `{' '.join(first.argv[:3])}` runs in {shell} without "
                             "pipefail: a failure before the last command is ignored",
                             Loc(d.path, run.ins.line), d.path)

    return per_dockerfile(p, findings, "pipelines run with pipefail (or there are none)")


# --- 7. the final image: CMD/ENTRYPOINT, EXPOSE, USER ----------------------------------------------------

@control(
    id="reliability.dockerfile-exec-form", title="CMD and ENTRYPOINT use the exec (JSON) form",
    category="reliability", severity="medium", evidence=["dockerfile"],
    rationale="In shell form (`CMD gunicorn app:app`) the container's PID 1 is `/bin/sh -c`, which does not "
              "forward SIGTERM: on every deploy, scale-in or node drain the app never hears the stop signal, "
              "drops in-flight requests and is SIGKILLed after the grace period.",
    remediation='CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]\n'
                'ENTRYPOINT ["/docker-entrypoint.sh"]  # a script that ends with `exec "$@"`\n'
                "(a shell-form command that starts with `exec` is accepted).",
    references=["hadolint DL3025", "Docker docs: ENTRYPOINT, 'Exec form'"],
    concepts=["docker.cmd_exec_form"], checklist=["cicd.rolling_updates"],
    phrases=["exec form CMD", "graceful shutdown", "handle SIGTERM", "PID 1 signals"],
)
def exec_form(p: Project) -> Iterator[Outcome]:
    """Every stage can become an image (``--target``), and a CMD/ENTRYPOINT is only written for a stage that is
    meant to run: the last one of each kind in each stage is judged (an earlier one is overridden)."""
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        bad = False
        for s in d.stages:
            for cmd in ("ENTRYPOINT", "CMD"):
                found = [i for i in s.instructions if i.cmd == cmd]
                ins = found[-1] if found else None
                if ins is None or ins.json:
                    continue
                text = " ".join(ins.value).strip()
                if text.startswith("exec ") or not text:
                    continue
                bad = True
                yield failed(f"{cmd} {text[:60]} is in shell form: /bin/sh is PID 1 and the app never gets "
                             "SIGTERM", Loc(d.path, ins.line), d.path)
        if not bad:
            yield passed("CMD/ENTRYPOINT in exec form", Loc(d.path, None), d.path)


def _ports(spec: str) -> tuple[int, int, str] | None:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(\w+))?", spec.strip())
    if not m:
        return None
    lo = int(m.group(1))
    return lo, int(m.group(2) or lo), (m.group(3) or "tcp").lower()


@control(
    id="security.dockerfile-no-ssh-port", title="Images do not expose SSH (port 22)", category="security",
    severity="medium", evidence=["dockerfile"],
    rationale="An image that exposes 22 runs (or invites) an SSH daemon: a second way in with its own "
              "credentials to manage and leak, outside the orchestrator's access control and audit trail.",
    remediation="Remove `EXPOSE 22` and the sshd; debug with `kubectl exec` / `docker exec` or an ephemeral "
                "debug container.",
    references=["Checkov CKV_DOCKER_1", "CIS Docker Benchmark 5.6 (do not run sshd in containers)"],
    concepts=["docker.expose_ssh"], checklist=["security.firewall_rules"],
    phrases=["no ssh in containers", "do not expose port 22"],
)
def no_ssh_port(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        hits = []
        for s in d.stages:  # any stage can be built and run (--target); EXPOSE says it is meant to run
            for ins in s.instructions:
                if ins.cmd == "EXPOSE":
                    scope = stage_scope(d, s, ins)
                    for v in ins.value:
                        rng = _ports(expand(v, scope))
                        if rng and rng[0] <= 22 <= rng[1] and rng[2] == "tcp":
                            hits.append(ins)
        for ins in hits:
            yield failed(f"EXPOSE {' '.join(ins.value)} exposes SSH", Loc(d.path, ins.line), d.path)
        if not hits:
            yield passed("port 22 not exposed", Loc(d.path, None), d.path)


def _base_runs_nonroot(stage: Stage) -> bool:
    img = stage.base_image
    return img is not None and "nonroot" in ((img.tag or "") + img.repository).lower()


def _workload_users(p: Project) -> dict[str, list[tuple[str, str]]]:
    """Dockerfile path -> for each workload running its image: (non-root user it sets explicitly or "", note)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for w, c in containers(p, include_init=True):
        if c.dockerfile is None:
            continue
        if c.run_as_user is not None and c.run_as_user > 0:
            entry = (f"{w.ref} runAsUser {c.run_as_user}", "")
        elif c.user_declared and not is_root_user(c.user_declared):
            entry = (f"{w.ref} user {c.user_declared}", "")
        elif c.run_as_non_root is True:
            entry = ("", f"{w.ref} sets runAsNonRoot without a uid, so the kubelet will refuse to start it")
        else:
            entry = ("", "")
        out.setdefault(c.dockerfile.path, []).append(entry)
    return out


@control(
    id="security.dockerfile-non-root-user", title="Images switch to a non-root USER", category="security",
    severity="medium", evidence=["dockerfile", "k8s", "compose"],
    rationale="Without a USER (or with `USER root` last), every process in the image runs as uid 0: a bug in the "
              "app becomes root in the container, one kernel or runtime flaw away from root on the node, and "
              "Kubernetes `runAsNonRoot: true` refuses to start it. The image should be safe by default, "
              "wherever it is run.",
    remediation="In the final stage, after the steps that need root:\n"
                "RUN useradd --uid 10001 --no-create-home app\nUSER 10001:10001",
    references=["CIS Docker Benchmark 4.1", "hadolint DL3002", "Checkov CKV_DOCKER_3, CKV_DOCKER_8",
                "NSA/CISA Kubernetes Hardening Guidance, 'Non-root containers'"],
    concepts=["docker.user.missing", "docker.user.root_last"], checklist=["security.container_non_root"],
    phrases=["USER instruction", "non-root user in Dockerfile", "do not run as root"],
)
def dockerfile_non_root(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    runners = _workload_users(p)
    for d in p.dockerfiles:
        final = d.final
        if final is None:
            continue
        user, ins = final.effective_user()
        if user is not None and not is_root_user(user):
            shown = expand(user, stage_scope(d, ins_stage(final, ins), ins)) if ins else user
            yield passed(f"final stage runs as USER {shown}", Loc(d.path, ins.line if ins else None), d.path)
            continue
        if user is None and _base_runs_nonroot(final):
            yield passed(f"base image {final.lineage()[-1].base} runs as a non-root user", Loc(d.path, final.line),
                         d.path)
            continue
        who = runners.get(d.path, [])
        if who and all(u for u, _ in who):
            yield passed(f"image defaults to root, but every workload that runs it sets a non-root user "
                         f"({'; '.join(u for u, _ in who[:3])})", Loc(d.path, ins.line if ins else final.line),
                         d.path)
            continue
        note = next((n for _, n in who if n), "")
        note = f"; {note}" if note else ""
        if user is None:
            yield failed(f"the final image never sets USER: it runs as root{note}", Loc(d.path, final.line), d.path,
                         concept="docker.user.missing")
        else:
            yield failed(f"the last USER of the final image is {user}{note}", Loc(d.path, ins.line if ins else None),
                         d.path, concept="docker.user.root_last")


def ins_stage(final: Stage, ins: Instruction) -> Stage:
    return next((s for s in final.lineage() if any(i is ins for i in s.instructions)), final)


@control(
    id="security.dockerfile-numeric-user", title="USER names a numeric uid", category="security", severity="low",
    evidence=["dockerfile"], optional=True,
    rationale="Kubernetes can only enforce `runAsNonRoot` when it can see a numeric uid: with `USER app` the "
              "kubelet cannot tell app from root and refuses to start the pod (or, without runAsNonRoot, takes "
              "it on trust). A numeric USER also survives a base image whose /etc/passwd maps the name "
              "differently. Opinionated, so off unless enabled.",
    remediation="RUN useradd --uid 10001 app\nUSER 10001:10001",
    references=["hadolint DL3066", "Kubernetes docs: runAsNonRoot"],
    concepts=["docker.user.non_numeric"], checklist=["security.container_non_root"],
    phrases=["numeric USER", "numeric uid"],
)
def numeric_user(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        if d.final is None:
            continue
        user, ins = d.final.effective_user()
        if user is None or ins is None:
            continue
        uid = user.split(":", 1)[0].strip()
        if uid.isdigit() or "$" in uid or is_root_user(user):
            yield passed(f"USER {user}", Loc(d.path, ins.line), d.path)
        else:
            yield failed(f"USER {user} is a name, not a numeric uid", Loc(d.path, ins.line), d.path)


# --- 8. ADD ----------------------------------------------------------------------------------------------

_ARCHIVE_RX = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|gz|bz2|xz|tar\.zst|tzst|zst)$", re.I)
_REMOTE_RX = re.compile(r"^(https?|git|ssh)://|^git@", re.I)


def _add_sources(ins: Instruction) -> list[str]:
    vals = [unquote(v) for v in ins.value]
    if vals and vals[0].startswith("<<"):
        return []
    return vals[:-1]


@control(
    id="security.dockerfile-copy-over-add", title="COPY, not ADD, for local files", category="security",
    severity="low", evidence=["dockerfile"],
    rationale="ADD does more than copy: it unpacks archives and fetches URLs. Used for plain local files it hides "
              "that behaviour from readers, and a file that one day is (or looks like) a tarball is silently "
              "extracted into the image.",
    remediation="COPY app.py requirements.txt /app/\n(keep ADD for archives you want unpacked, "
                "`ADD --checksum=sha256:… https://…` for verified downloads).",
    references=["hadolint DL3020", "Docker docs: Dockerfile best practices, 'ADD or COPY'"],
    concepts=["docker.add_for_local_files"],
    phrases=["use COPY instead of ADD"],
)
def copy_over_add(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        bad = False
        for s in d.stages:
            for ins in s.instructions:
                if ins.cmd != "ADD":
                    continue
                local = [src for src in _add_sources(ins)
                         if not _REMOTE_RX.match(src) and not _ARCHIVE_RX.search(src) and "$" not in src]
                if local:
                    bad = True
                    yield failed(f"ADD {', '.join(local[:3])}: plain local files, COPY says what happens",
                                 Loc(d.path, ins.line), d.path)
        if not bad:
            yield passed("ADD only for archives and URLs (or not at all)", Loc(d.path, None), d.path)


@control(
    id="security.dockerfile-no-add", title="No ADD at all (COPY plus explicit download and unpack)",
    category="security", severity="low", evidence=["dockerfile"], optional=True,
    rationale="A stricter policy than COPY-for-local-files: ADD's implicit URL fetching and archive extraction "
              "are kept out entirely, so every download is an explicit, checksum-verified RUN step. Opinionated, "
              "so off unless enabled.",
    remediation="RUN curl -fsSLo /tmp/x.tgz https://… && echo \"<sha256>  /tmp/x.tgz\" | sha256sum -c - "
                "&& tar -xzf /tmp/x.tgz -C /opt && rm /tmp/x.tgz\nCOPY local-files /app/",
    references=["Checkov CKV_DOCKER_4", "CIS Docker Benchmark 4.9"],
    concepts=["docker.add_instead_of_copy"],
    phrases=["never use ADD"],
)
def no_add(p: Project) -> Iterator[Outcome]:
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    for d in p.dockerfiles:
        adds = [i for s in d.stages for i in s.instructions if i.cmd == "ADD"]
        for ins in adds:
            yield failed(f"ADD {' '.join(ins.value)[:60]}", Loc(d.path, ins.line), d.path)
        if not adds:
            yield passed("no ADD", Loc(d.path, None), d.path)
