"""Bad input never crashes, hangs or silently vanishes: each case is a finding or a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prodready.engine import ScanError, ScanOptions, scan

BILLION_LAUGHS = """apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

GOOD_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: ok}
spec:
  replicas: 2
  selector: {matchLabels: {app: ok}}
  template:
    metadata: {labels: {app: ok}}
    spec:
      containers:
        - name: ok
          image: nginx:1.27
"""


def run(root: Path) -> dict:
    return scan(root, ScanOptions(use_cache=False))


def diag(report: dict, path: str) -> list[dict]:
    return [d for d in report["diagnostics"] if d["path"] == path]


def test_malformed_yaml_is_a_parse_error_with_line_and_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: [a, b\n")
    (tmp_path / "ok.yaml").write_text(GOOD_DEPLOYMENT)
    r = run(tmp_path)
    d = diag(r, "bad.yaml")
    assert d and d[0]["kind"] == "parse-error" and d[0]["line"] in (5, 6)
    err = [x for x in r["results"] if x["control_id"] == "parse-error"]
    assert err and err[0]["status"] == "error" and err[0]["evidence"][0]["path"] == "bad.yaml"
    replicas = next(x for x in r["results"] if x["control_id"] == "reliability.multiple-replicas")
    assert replicas["status"] == "pass"  # the good file was still evaluated


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(BILLION_LAUGHS)
    t0 = time.perf_counter()
    r = run(tmp_path)
    assert time.perf_counter() - t0 < 10
    d = diag(r, "bomb.yaml")
    assert d and "alias" in d[0]["message"] and d[0]["kind"] == "parse-error"


def test_ten_thousand_deep_nesting(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    (tmp_path / "deep.json").write_text("[" * 10_000 + "]" * 10_000)
    (tmp_path / "deep.py").write_text("x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n")
    r = run(tmp_path)
    assert "nesting" in diag(r, "deep.yaml")[0]["message"]
    assert diag(r, "deep.py"), "deeply nested Python must be reported, not crash"


def test_fifty_megabyte_file_is_skipped_with_a_finding(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    with open(big, "wb") as fh:
        fh.write(b"key: value\n" * (50 * 1024 * 1024 // 11))
    t0 = time.perf_counter()
    r = run(tmp_path)
    assert time.perf_counter() - t0 < 10
    d = diag(r, "huge.yaml")
    assert d and "MB" in d[0]["message"] and "limit" in d[0]["message"]


def test_binary_file_named_like_yaml(tmp_path: Path) -> None:
    (tmp_path / "image.yaml").write_bytes(bytes(range(256)) * 40)
    r = run(tmp_path)
    d = diag(r, "image.yaml")
    assert d and "binary" in d[0]["message"]


def test_non_utf8_text_reports_the_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(b"FROM python:3.12\nRUN echo caf\xe9\nUSER 1000\n")
    r = run(tmp_path)
    d = diag(r, "Dockerfile")
    assert d and "UTF-8" in d[0]["message"] and d[0]["line"] == 2


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlink_loop_terminates(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "k.yaml").write_text(GOOD_DEPLOYMENT)
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path, tmp_path / "a" / "up")
    r = run(tmp_path)
    assert r["files"]["total"] == 1  # the one real file, read once
    assert any("loop" in d["message"] or "already scanned" in d["message"] for d in r["diagnostics"])


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlink_outside_root_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(GOOD_DEPLOYMENT)
    (outside / ".env").write_text("PASSWORD=hunter2\n")
    root = tmp_path / "repo"
    root.mkdir()
    os.symlink(outside / "secret.yaml", root / "linked.yaml")
    os.symlink(outside, root / "linkdir")
    r = run(root)
    assert r["files"]["total"] == 0
    msgs = {d["path"]: d["message"] for d in r["diagnostics"]}
    assert "outside the scanned root" in msgs["linked.yaml"] and "outside the scanned root" in msgs["linkdir"]


def test_empty_repository_scores_without_error(tmp_path: Path) -> None:
    r = run(tmp_path)
    assert r["files"]["total"] == 0
    assert all(x["status"] in ("not_applicable", "fail", "pass", "needs_attestation") for x in r["results"])
    assert 0 <= r["score"] <= 100


def test_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="does not exist"):
        scan(tmp_path / "nope")
    proc = subprocess.run([sys.executable, "-m", "prodready", "scan", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_unrendered_template_and_duplicate_keys_are_reported(tmp_path: Path) -> None:
    (tmp_path / "tmpl.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Values.name }}\n"
                                        "  namespace: {{ .Release.Namespace }}\n")
    (tmp_path / "dup.yaml").write_text(GOOD_DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replicas: 1\n"))
    r = run(tmp_path)
    kinds = {(d["path"], d["kind"]) for d in r["diagnostics"]}
    assert ("tmpl.yaml", "unrendered-template") in kinds
    assert ("dup.yaml", "duplicate-key") in kinds
    dup = next(d for d in r["diagnostics"] if d["kind"] == "duplicate-key")
    assert dup["line"] == 6 and "replicas" in dup["message"]


def test_planted_cache_file_is_never_executed(tmp_path: Path) -> None:
    """The parse cache lives inside the scanned tree; a malicious pickle must be refused."""
    import pickle

    from prodready.parse import PARSER_VERSION

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    cache = tmp_path / ".prodready" / "cache"
    cache.mkdir(parents=True)
    (cache / f"parse-v{PARSER_VERSION}.pickle").write_bytes(pickle.dumps({"version": PARSER_VERSION,
                                                                           "entries": Evil(), "index": {}}))
    (tmp_path / "ok.yaml").write_text(GOOD_DEPLOYMENT)
    r = scan(tmp_path, ScanOptions())
    assert not marker.exists()
    assert r["files"]["total"] == 1


def test_capped_read_takes_whole_files_and_stops_at_the_cap(tmp_path: Path) -> None:
    from prodready.fdio import read_capped

    f = tmp_path / "f.yaml"
    for size in (0, 1, 4095, 4096, 70_000):
        body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        f.write_bytes(body)
        assert read_capped(str(f), 10**6) == body
        assert read_capped(str(f), 100) == body[:100]  # never more than the cap
    fifo = tmp_path / "pipe.yaml"  # a FIFO swapped in after the walk: read as empty at once, never a wait
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert read_capped(str(fifo), 100) == b""
    assert time.monotonic() - t0 < 5
    with pytest.raises(OSError):
        read_capped(str(tmp_path / "gone.yaml"), 100)
