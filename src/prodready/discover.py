"""discover: walk a root, honour ignores, classify each file by kind (by name; YAML is refined by content later)."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

DEFAULT_EXCLUDED_DIRS = {
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "env", ".tox", ".nox", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "dist", "build", "target", ".terraform", ".next",
    ".nuxt", "coverage", "site-packages", ".idea", ".vscode", ".gradle", "vendor", ".prodready",
    ".eggs", "bower_components", ".cache",
}

LOCKFILES = {
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock", "uv.lock",
    "pdm.lock", "Gemfile.lock", "go.sum", "Cargo.lock", "composer.lock", "requirements.lock",
    "bun.lockb", "npm-shrinkwrap.json",
}
MANIFESTS = {
    "package.json", "requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "setup.cfg", "go.mod",
    "Cargo.toml", "Gemfile", "pom.xml", "build.gradle", "build.gradle.kts", "composer.json",
    "requirements-dev.txt", "constraints.txt",
}
COMPOSE_NAMES = {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
JS_EXT = {".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
          ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript"}
KNOWN_TEXT_NAMES = {".gitignore": "gitignore", ".dockerignore": "dockerignore", "CODEOWNERS": "codeowners",
                    "Jenkinsfile": "jenkinsfile", ".gitlab-ci.yml": "gitlab-ci", "Chart.yaml": "helm-chart",
                    "kustomization.yaml": "kustomization", "kustomization.yml": "kustomization",
                    "Kustomization": "kustomization", ".pre-commit-config.yaml": "pre-commit",
                    "renovate.json": "renovate", ".renovaterc": "renovate", ".renovaterc.json": "renovate",
                    "Makefile": "makefile", "Procfile": "procfile"}


@dataclass(frozen=True)
class SourceFile:
    """A file found under the root. ``rel`` uses forward slashes and is relative to the root."""

    rel: str
    abspath: str
    kind: str
    size: int
    mtime_ns: int


@dataclass
class Discovery:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    # (rel path, message) of things deliberately not read: symlinks out of the root, loops, special files
    skipped: list[tuple[str, str]] = field(default_factory=list)


def classify(rel: str) -> str | None:
    """Kind of a file by its path alone; ``"yaml"`` means "a YAML file to classify by content"."""
    name = rel.rsplit("/", 1)[-1]
    lower = name.lower()
    parts = rel.split("/")
    if name in KNOWN_TEXT_NAMES:
        return KNOWN_TEXT_NAMES[name]
    if lower.endswith(".dockerignore"):  # <Dockerfile-name>.dockerignore, used by BuildKit for that Dockerfile
        return "dockerignore"
    if lower == "dockerfile" or lower.startswith("dockerfile.") or lower.startswith("dockerfile-") \
            or lower.endswith(".dockerfile") or lower == "containerfile":
        return "dockerfile"
    if lower in COMPOSE_NAMES or (lower.startswith(("docker-compose", "compose.")) and lower.endswith((".yml", ".yaml"))):
        return "compose"
    if name in LOCKFILES:
        return "lockfile"
    if name in MANIFESTS or fnmatch.fnmatch(lower, "requirements*.txt"):
        return "dependency-manifest"
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "dotenv"
    ext = os.path.splitext(lower)[1]
    if ext in (".yml", ".yaml"):
        if len(parts) >= 3 and parts[-3] == ".github" and parts[-2] == "workflows":
            return "github-workflow"
        if name == "dependabot.yml" or name == "dependabot.yaml":
            return "dependabot"
        if "templates" in parts[:-1] and _inside_helm_chart_dir(parts):
            return "helm-template"
        return "yaml"
    if ext == ".py":
        return "python"
    if ext in JS_EXT:
        return JS_EXT[ext]
    if ext in (".md", ".markdown", ".rst", ".adoc") or lower in ("readme", "runbook"):
        return "markdown"
    if ext == ".tf" or lower.endswith(".tf.json"):
        return "terraform"
    if ext == ".conf" and ("nginx" in rel.lower()) or lower == "nginx.conf":
        return "nginx"
    if ext == ".json":
        if "grafana" in rel.lower() or "dashboard" in lower:
            return "grafana-dashboard"
        return "json"
    if ext == ".sql":
        return "sql"
    if ext in (".toml",) and lower == ".prodready.toml":
        return "prodready-config"
    if ext in (".sh", ".bash"):
        return "shell"
    if ext == ".tpl" and "templates" in parts:
        return "helm-template"
    if ext in (".ini", ".cfg", ".toml", ".properties", ".txt", ".conf"):
        return "text"
    return None


def _inside_helm_chart_dir(parts: list[str]) -> bool:
    # templates/ directly under a directory; the chart itself is confirmed when Chart.yaml is seen (engine)
    return parts.index("templates") >= 1 or parts[0] == "templates"


def _load_gitignore(dirpath: str, rel_dir: str) -> pathspec.GitIgnoreSpec | None:
    path = os.path.join(dirpath, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # a malformed .gitignore must not stop the scan
        return None


def discover(root: Path, excludes: list[str] | None = None, honour_gitignore: bool = True,
             on_file: Callable[[SourceFile], None] | None = None) -> Discovery:
    """Walk ``root`` without leaving it. Symlinks are followed only when their target stays inside the
    root and has not been seen already (so loops and duplicates are impossible). ``on_file`` is told of each
    file as it is found (in walk order; ``files`` is sorted by path at the end)."""
    root = root.resolve()
    disc = Discovery(root=root)
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(excludes or [])
    seen_files: set[tuple[int, int]] = set()
    root_str = str(root)
    # stack of (abs dir, rel dir, gitignores in force as (rel_base, PathSpec), real path of the dir). Directories
    # are identified by their real path (a symlinked one by its target's), so symlink loops and directories
    # reached twice are caught without a stat per directory: only files and symlinks are stat'ed.
    stack: list[tuple[str, str, list[tuple[str, pathspec.PathSpec]], str]] = [(root_str, "", [], root_str)]
    seen_dirs: set[str] = {root_str}
    while stack:
        dirpath, rel_dir, ignores, real_dir = stack.pop()
        try:
            entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
        except OSError as exc:
            disc.skipped.append((rel_dir or ".", f"cannot list directory: {exc.strerror}"))
            continue
        if honour_gitignore and any(e.name == ".gitignore" for e in entries):
            spec = _load_gitignore(dirpath, rel_dir)
            if spec is not None:
                ignores = ignores + [(rel_dir, spec)]
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            st = None
            try:
                is_link = entry.is_symlink()
                if is_link:
                    st = os.stat(entry.path)  # the target (raises when the link is broken)
                    is_dir, is_reg = stat.S_ISDIR(st.st_mode), stat.S_ISREG(st.st_mode)
                else:  # the type comes with the directory listing: no system call
                    is_dir = entry.is_dir(follow_symlinks=False)
                    is_reg = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError:
                disc.skipped.append((rel, "broken symlink or unreadable entry"))
                continue
            if is_dir and entry.name in DEFAULT_EXCLUDED_DIRS:
                continue
            if (excludes and exclude_spec.match_file(rel + ("/" if is_dir else ""))) or \
                    (ignores and _ignored(ignores, rel, is_dir)):
                continue
            real = f"{real_dir}/{entry.name}"
            if is_link:
                real = os.path.realpath(entry.path)
                if not (real == root_str or real.startswith(root_str + os.sep)):
                    disc.skipped.append((rel, "symlink points outside the scanned root; not followed"))
                    continue
                if is_dir and real in seen_dirs:
                    disc.skipped.append((rel, "symlink loop or directory already scanned; not followed"))
                    continue
            if is_dir:
                if real in seen_dirs:
                    continue
                seen_dirs.add(real)
                subdirs.append((entry.path, rel, ignores, real))
                continue
            if not is_reg:
                continue
            kind = classify(rel)
            if kind is None:
                continue
            if st is None:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    disc.skipped.append((rel, "unreadable entry"))
                    continue
            ino = (st.st_dev, st.st_ino)
            if ino in seen_files:  # hard link or symlink to a file already listed: never read twice
                continue
            seen_files.add(ino)
            found = SourceFile(rel, entry.path, kind, st.st_size, st.st_mtime_ns)
            disc.files.append(found)
            if on_file is not None:
                on_file(found)
        stack.extend(reversed(subdirs))
    disc.files.sort(key=lambda f: f.rel)
    return disc


def _ignored(ignores: list[tuple[str, pathspec.PathSpec]], rel: str, is_dir: bool) -> bool:
    for base, spec in ignores:
        sub = rel[len(base) + 1:] if base else rel
        if spec.match_file(sub + ("/" if is_dir else "")):
            return True
    return False
