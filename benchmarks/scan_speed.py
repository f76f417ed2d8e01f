#!/usr/bin/env python3
"""Scan speed on a generated 10,000-file mixed tree: cold scan, then a re-scan of the unchanged tree.

Prints files/s, wall time and peak RSS of each run (each scan runs in a fresh process so RSS is its own),
and the re-scan speed-up. Budget (2 cores): >= 3,000 files/s cold, < 300 MB peak RSS.

    python benchmarks/scan_speed.py [--files 10000] [--keep DIR] [--distinct]

The tree repeats some contents, as templated repositories do: every Dockerfile is one of two, every
requirements.txt the same, and prodready parses each content once per process. ``--distinct`` gives each of
those files a line of its own, so that every file of the tree is parsed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc{i}
  namespace: team{t}
  labels: {{app: svc{i}}}
spec:
  replicas: {r}
  selector:
    matchLabels: {{app: svc{i}}}
  template:
    metadata:
      labels: {{app: svc{i}}}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/svc{i}:{tag}
          ports: [{{containerPort: 8080}}]
          env:
            - {{name: LOG_LEVEL, value: info}}
            - name: DB_PASSWORD
              valueFrom: {{secretKeyRef: {{name: svc{i}-db, key: password}}}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          readinessProbe: {{httpGet: {{path: /readyz, port: 8080}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: svc{i}, namespace: team{t}}}
spec:
  selector: {{app: svc{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
DOCKERFILE = """FROM python:3.12-slim AS build
WORKDIR /src
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
FROM python:3.12-slim
COPY --from=build /src /app
USER {u}
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["python", "-m", "app"]
"""
COMPOSE = """services:
  app{i}:
    build: .
    image: ghcr.io/acme/svc{i}:1.0
    restart: unless-stopped
    ports: ["127.0.0.1:8080:8080"]
    environment:
      LOG_LEVEL: info
  db{i}:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${{POSTGRES_PASSWORD}}
"""
PYTHON = '''"""Service module {i}."""
import logging
import os

import requests
from fastapi import FastAPI

app = FastAPI()
log = logging.getLogger(__name__)
BASE = os.environ.get("UPSTREAM", "http://upstream")


@app.get("/healthz")
def healthz():
    return {{"status": "ok"}}


@app.get("/items/{{item_id}}")
def item(item_id: int):
    r = requests.get(f"{{BASE}}/items/{{item_id}}", timeout=5)
    r.raise_for_status()
    return r.json()


def helper_{i}(values):
    total = 0
    for v in values:
        if v % 2:
            total += v * {i}
    return total
'''
JS = """const express = require('express');
const helmet = require('helmet');
const app = express();
app.use(helmet());
app.get('/healthz', (req, res) => res.json({{ status: 'ok' }}));
app.get('/items/:id', async (req, res) => {{
  res.json({{ id: req.params.id, n: {i} }});
}});
module.exports = app;
"""
DOC = """# Service {i}

## Overview

Service {i} serves items for team {t}. It depends on PostgreSQL and the upstream catalogue.

## Operations

- Restart: `kubectl rollout restart deployment/svc{i}`
- Roll back: `kubectl rollout undo deployment/svc{i}`

## Alerts

When `Svc{i}Down` fires, check the pods and the upstream.
"""
WORKFLOW = """name: ci
on: [push, pull_request]
permissions: {{contents: read}}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install -r requirements.txt && pytest -q
  scan:
    runs-on: ubuntu-latest
    steps:
      - uses: aquasecurity/trivy-action@0.24.0
        with: {{image-ref: ghcr.io/acme/svc{i}:1.0}}
"""


def generate(root: Path, n: int, distinct: bool = False) -> None:
    rng = random.Random(42)
    kinds = [("k8s", 0.25), ("py", 0.30), ("js", 0.12), ("doc", 0.13), ("docker", 0.08), ("compose", 0.06),
             ("wf", 0.03), ("txt", 0.03)]
    for i in range(n):
        x = rng.random()
        acc = 0.0
        kind = kinds[-1][0]
        for k, share in kinds:
            acc += share
            if x < acc:
                kind = k
                break
        d = root / f"team{i % 40}" / f"svc{i}"
        d.mkdir(parents=True, exist_ok=True)
        t = i % 40
        if kind == "k8s":
            (d / "deploy.yaml").write_text(DEPLOYMENT.format(i=i, t=t, r=1 + i % 3, tag="latest" if i % 7 == 0 else "1.2.3"))
        elif kind == "py":
            (d / "main.py").write_text(PYTHON.format(i=i))
        elif kind == "js":
            (d / "server.js").write_text(JS.format(i=i))
        elif kind == "doc":
            (d / "README.md").write_text(DOC.format(i=i, t=t))
        elif kind == "docker":
            (d / "Dockerfile").write_text(DOCKERFILE.format(u=10001 if i % 3 else "root")
                                          + (f"LABEL service=svc{i}\n" if distinct else ""))
        elif kind == "compose":
            (d / "docker-compose.yml").write_text(COMPOSE.format(i=i))
        elif kind == "wf":
            wf = d / ".github" / "workflows"
            wf.mkdir(parents=True, exist_ok=True)
            (wf / "ci.yml").write_text(WORKFLOW.format(i=i))
        else:
            (d / "requirements.txt").write_text("fastapi==0.115.0\nrequests==2.32.3\n"
                                                + (f"# svc{i}\n" if distinct else ""))


def run_scan(root: Path, cache: bool) -> dict:
    cmd = [sys.executable, "-m", "prodready", "scan", str(root), "--format", "json", "--no-progress"]
    if not cache:
        cmd.append("--no-cache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # run as installed: with bytecode caches (pip writes them)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        sys.exit(f"scan failed: {proc.stderr}")
    report = json.loads(proc.stdout)
    return {"wall": wall, "rss_mb": max(rss, before) / 1024, "files": report["files"]["total"],
            "hits": report["stats"]["cache_hits"], "score": report["score"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    ap.add_argument("--distinct", action="store_true", help="no two files with the same content")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="prodready-bench-"))
    try:
        if not any(root.iterdir()) if root.exists() else True:
            root.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            generate(root, args.files, args.distinct)
            print(f"generated {args.files:,} files in {time.perf_counter() - t0:.1f}s under {root}")
        shutil.rmtree(root / ".prodready", ignore_errors=True)
        cold = run_scan(root, cache=True)
        warm = run_scan(root, cache=True)
        for name, r in (("cold scan", cold), ("re-scan  ", warm)):
            print(f"{name}: {r['files']:,} files in {r['wall']:.2f}s = {r['files'] / r['wall']:,.0f} files/s, "
                  f"peak RSS {r['rss_mb']:.0f} MB, cache hits {r['hits']:,}, score {r['score']}")
        print(f"re-scan speed-up: {cold['wall'] / warm['wall']:.1f}x")
        print(f"budget: cold >= 3,000 files/s: {'OK' if cold['files'] / cold['wall'] >= 3000 else 'MISSED'}; "
              f"peak RSS < 300 MB: {'OK' if max(cold['rss_mb'], warm['rss_mb']) < 300 else 'MISSED'}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
