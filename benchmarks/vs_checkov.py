#!/usr/bin/env python3
"""prodready against Checkov: wall time and findings on the same trees, for what both cover.

Checkov is a benchmark-only dependency: on first use this script creates ``benchmarks/.venv-checkov`` (git-ignored)
and installs ``checkov`` there with pip, apart from prodready's own environment. Both tools run as a user would
run them, in a fresh process, cold (prodready with ``--no-cache``; Checkov with ``--skip-download`` so it asks no
server), over two trees: the generated 10,000-file mixed tree of ``scan_speed.py`` and ``examples/``. Checkov is
limited to the frameworks both tools cover (kubernetes, dockerfile, secrets, github_actions); prodready runs its
whole catalog over every file, so the comparison is conservative.

Findings are compared on the concepts both tools check, as the set of failing units per tool (a workload for
Kubernetes checks, a file for Dockerfile, secret and workflow checks): a loss of findings shows up in the
"only checkov" column, with examples. Differences there are not all losses: prodready judges non-root from the
Dockerfile that builds the image, and reads a Kustomize overlay as rendered, where Checkov reads each file alone.

    python benchmarks/vs_checkov.py [--files 10000] [--keep DIR] [--only generated|examples] [--runs N]

Target: prodready >= 10x faster than Checkov on both trees (aim: 20x).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv-checkov"
FRAMEWORKS = ["kubernetes", "dockerfile", "secrets", "github_actions"]

# concept -> (Checkov check ids (a trailing * is a prefix), prodready control id(s) separated by "|", unit)
CONCEPTS: list[tuple[str, tuple[str, ...], str, str]] = [
    ("k8s  runs as non-root", ("CKV_K8S_23",), "security.container-non-root", "workload"),
    ("k8s  privileged container", ("CKV_K8S_16",), "security.no-privileged-containers", "workload"),
    ("k8s  privilege escalation allowed", ("CKV_K8S_20",), "security.no-privilege-escalation", "workload"),
    ("k8s  writable root filesystem", ("CKV_K8S_22",), "security.read-only-root-filesystem", "workload"),
    ("k8s  host namespaces", ("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"), "security.no-host-namespaces", "workload"),
    ("k8s  image tag latest or missing", ("CKV_K8S_14",), "security.image-tag-pinned", "workload"),
    ("k8s  liveness probe missing", ("CKV_K8S_8",), "reliability.liveness-probe", "workload"),
    ("k8s  readiness probe missing", ("CKV_K8S_9",), "reliability.readiness-probe", "workload"),
    ("k8s  memory limit missing", ("CKV_K8S_13",), "reliability.resource-limits", "workload"),
    ("k8s  cpu/memory requests missing", ("CKV_K8S_10", "CKV_K8S_12"), "cost.resource-requests", "workload"),
    ("docker HEALTHCHECK missing", ("CKV_DOCKER_2",), "reliability.dockerfile-healthcheck", "file"),
    ("docker final USER root or none", ("CKV_DOCKER_3", "CKV_DOCKER_8"), "security.dockerfile-non-root-user", "file"),
    ("docker base image latest/untagged", ("CKV_DOCKER_7",), "security.image-tag-pinned", "file"),
    ("secrets hard-coded credential", ("CKV_SECRET_*",),
     "security.no-secrets-in-tree|security.no-secret-literals-in-env|security.no-default-credentials", "file"),
    ("gha  workflow permissions", ("CKV2_GHA_1",), "security.ci-least-privilege", "file"),
]
DOCKERFILE_NAMES = ("dockerfile", "containerfile")


# --- running the tools --------------------------------------------------------------------------

def checkov_bin() -> Path:
    exe = VENV / ("Scripts/checkov.cmd" if os.name == "nt" else "bin/checkov")
    if exe.exists():
        return exe
    print(f"installing checkov into {VENV.relative_to(REPO)} (first use; benchmark-only dependency) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = VENV / ("Scripts/pip.exe" if os.name == "nt" else "bin/pip")
    subprocess.run([str(pip), "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(pip), "install", "--quiet", "checkov"], check=True)
    return exe


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both tools run as installed: with their bytecode caches
    env["CI"] = "true"
    return env


def _timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall s, CPU s of the process and its children, result). CPU time is what a shared machine cannot
    inflate: it is printed beside the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=_env())
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def run_prodready(tree: Path) -> tuple[float, float, dict]:
    cmd = [sys.executable, "-m", "prodready", "scan", str(tree), "--format", "json", "--no-progress", "--no-cache"]
    wall, cpu, proc = _timed(cmd)
    if proc.returncode not in (0, 1):
        sys.exit(f"prodready failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, cpu, json.loads(proc.stdout)


def run_checkov(exe: Path, tree: Path) -> tuple[float, float, list[dict]]:
    cmd = [str(exe), "-d", ".", "--framework", *FRAMEWORKS, "--output", "json", "--quiet", "--compact",
           "--skip-download"]
    wall, cpu, proc = _timed(cmd, cwd=tree)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        sys.exit(f"checkov failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    return wall, cpu, data if isinstance(data, list) else [data]


# --- findings as units --------------------------------------------------------------------------

def _rel(path: str) -> str:
    return path.lstrip("/").removeprefix("./")


def _in_scope(concept: str, path: str) -> bool:
    """Kubernetes concepts on manifests, Dockerfile concepts on Dockerfiles (one control may answer both)."""
    if concept.startswith("docker"):
        return _is_dockerfile(path)
    if concept.startswith("k8s"):
        return path.endswith((".yaml", ".yml", ".json")) and "compose" not in path.rsplit("/", 1)[-1]
    return True


def _is_dockerfile(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.startswith(DOCKERFILE_NAMES) or name.endswith(".dockerfile")


def checkov_units(reports: list[dict]) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = defaultdict(set)
    for rep in reports:
        for f in rep.get("results", {}).get("failed_checks", []):
            cid = f["check_id"]
            path = _rel(f["file_path"])
            for concept, ids, _cid, unit in CONCEPTS:
                if not any(cid == i or (i.endswith("*") and cid.startswith(i[:-1])) for i in ids):
                    continue
                if not _in_scope(concept, path):
                    continue
                if unit == "workload":  # resource: Kind.namespace.name
                    kind, _, rest = str(f.get("resource", "")).partition(".")
                    out[concept].add((path, kind, rest.rsplit(".", 1)[-1]))
                else:
                    out[concept].add((path,))
    return out


def prodready_units(report: dict) -> dict[str, set[tuple]]:
    results = {r["control_id"]: r for r in report["results"]}
    out: dict[str, set[tuple]] = defaultdict(set)
    missing = set()
    for concept, _ids, cids, unit in CONCEPTS:
        evidence = []
        for cid in cids.split("|"):
            if cid in results:
                evidence += results[cid]["evidence"]
            else:
                missing.add(cid)
        for e in evidence:
            path = e.get("path")
            if e["status"] != "fail" or not path or not _in_scope(concept, path):
                continue
            if unit == "workload":  # resource: Kind/namespace/name [(overlay ...)] [container c]
                res = (e.get("resource") or "").split(" container ")[0].split(" (")[0]
                if "/" not in res:
                    continue
                parts = res.split("/")
                out[concept].add((path, parts[0], parts[-1]))
            else:
                out[concept].add((path,))
    if missing:
        print(f"  note: prodready has no control {', '.join(sorted(missing))} (not compared)")
    return out


# --- the benchmark ------------------------------------------------------------------------------

def bench(name: str, tree: Path, exe: Path, runs: int) -> dict:
    nfiles = sum(1 for p in tree.rglob("*") if p.is_file() and ".prodready" not in p.parts)
    print(f"\n== {name}: {tree} ({nfiles:,} files)")
    run_prodready(tree)  # warm-up: bytecode and the OS file cache
    if nfiles < 2_000:  # on a big tree Checkov's start-up is noise; a warm-up run would only cost minutes
        run_checkov(exe, tree)
    p_times, c_times, p_cpu, c_cpu = [], [], [], []
    report: dict = {}
    reports: list[dict] = []
    for _ in range(runs):
        t, cpu, report = run_prodready(tree)
        p_times.append(t)
        p_cpu.append(cpu)
        t, cpu, reports = run_checkov(exe, tree)
        c_times.append(t)
        c_cpu.append(cpu)
    p, c = statistics.median(p_times), statistics.median(c_times)
    pc, cc = statistics.median(p_cpu), statistics.median(c_cpu)
    ratio = c / p
    print(f"  prodready  {p:7.2f} s wall  {pc:7.2f} s CPU  (cold, --no-cache; wall of {runs} run(s): "
          f"{', '.join(f'{x:.2f}' for x in p_times)})")
    print(f"  checkov    {c:7.2f} s wall  {cc:7.2f} s CPU  (frameworks {', '.join(FRAMEWORKS)}; "
          f"{', '.join(f'{x:.2f}' for x in c_times)})")
    print(f"  ratio      {ratio:7.1f}x wall {cc / pc:6.1f}x CPU   target >= 10x: {'OK' if ratio >= 10 else 'MISSED'}"
          f"{' (aim 20x: OK)' if ratio >= 20 else ''}")
    cu, pu = checkov_units(reports), prodready_units(report)
    print(f"  {'findings (failing units)':36} {'checkov':>8} {'prodready':>9} {'both':>6} {'only checkov':>13} "
          f"{'only prodready':>15}")
    lost_total = 0
    for concept, _ids, _cid, unit in CONCEPTS:
        a, b = cu.get(concept, set()), pu.get(concept, set())
        lost = a - b
        lost_total += len(lost)
        print(f"  {concept:36} {len(a):8,} {len(b):9,} {len(a & b):6,} {len(lost):13,} {len(b - a):15,}  ({unit}s)")
        for u in sorted(lost)[:3]:
            print(f"      only checkov: {' '.join(map(str, u))}")
    return {"tree": name, "files": nfiles, "prodready_s": p, "checkov_s": c, "ratio": ratio, "cpu_ratio": cc / pc,
            "only_checkov": lost_total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000, help="size of the generated tree")
    ap.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    ap.add_argument("--only", choices=("generated", "examples"), help="benchmark one tree only")
    ap.add_argument("--runs", type=int, default=1, help="timed runs per tool (median is reported)")
    args = ap.parse_args()
    exe = checkov_bin()
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"checkov {version}; prodready from {REPO / 'src'}; {os.cpu_count()} CPUs")
    rows = []
    if args.only in (None, "generated"):
        sys.path.insert(0, str(HERE))
        from scan_speed import generate  # the same generator as the speed benchmark

        root = args.keep or Path(tempfile.mkdtemp(prefix="prodready-vs-checkov-"))
        try:
            if not root.exists() or not any(root.iterdir()):
                root.mkdir(parents=True, exist_ok=True)
                generate(root, args.files)
            shutil.rmtree(root / ".prodready", ignore_errors=True)
            rows.append(bench(f"generated {args.files:,}-file tree", root, exe, args.runs))
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
    if args.only in (None, "examples"):
        rows.append(bench("examples/", REPO / "examples", exe, args.runs))
    print("\nsummary")
    for r in rows:
        print(f"  {r['tree']:28} prodready {r['prodready_s']:6.2f} s  checkov {r['checkov_s']:6.2f} s  "
              f"{r['ratio']:5.1f}x wall ({r['cpu_ratio']:.1f}x CPU)  units only checkov flags: {r['only_checkov']}")


if __name__ == "__main__":
    main()
