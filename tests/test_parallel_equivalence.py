"""Big trees are parsed in worker processes and half of the controls run in a forked child; the report must be
exactly what a single process computes, waivers and suppressions included."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from prodready import engine
from prodready.engine import ScanOptions, scan

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "scan_speed.py"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("scan_speed", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    root = tmp_path_factory.mktemp("big")
    mod.generate(root, 900)
    (root / ".prodready").mkdir()
    # waivers on controls spread over the catalog, so both evaluating processes use some (their use counts
    # must come back from the child: an unmatched-waiver report would be wrong)
    waived = ["security.image-tag-pinned", "security.container-capabilities", "reliability.liveness-probe",
              "scalability.autoscaling", "security.read-only-root-filesystem", "reliability.pod-anti-affinity",
              "security.dockerignore-present", "security.ci-actions-pinned", "security.dockerfile-non-root-user"]
    (root / ".prodready" / "waivers.yaml").write_text("waivers:\n" + "".join(
        f"  - control: {cid}\n    path: team1*/**\n    reason: migration in progress\n    expires: 2099-01-01\n"
        for cid in waived))
    worker = next(root.glob("team*/svc*/deploy.yaml"))
    worker.write_text(worker.read_text().replace(
        "        - name: app\n",
        "        # prodready: ignore reliability.liveness-probe -- probed by the mesh sidecar\n        - name: app\n", 1))
    return root


def _strip(report: dict) -> list:
    return [(r["control_id"], r["status"], r["message"], r["counts"] if "counts" in r else None,
             [(e["path"], e["line"], e["status"], e["message"]) for e in r["evidence"]],
             len(r["suppressed"]), len(r["waived"])) for r in report["results"]]


def test_parallel_parse_and_evaluation_equal_sequential(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 10**9)
    monkeypatch.setattr(engine, "PARALLEL_EVAL_MIN_FILES", 10**9)
    sequential = scan(tree, ScanOptions(use_cache=False))
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(engine, "PARALLEL_EVAL_MIN_FILES", 1)
    sent_early: list[int] = []  # chunks handed to the workers while the tree was still being walked
    real_send = engine._EarlyParse._send

    def spy(self) -> None:
        real_send(self)
        sent_early.append(len(self.jobs))

    monkeypatch.setattr(engine._EarlyParse, "_send", spy)
    parallel = scan(tree, ScanOptions(use_cache=False))
    assert sent_early and 0 < sent_early[-1] < parallel["files"]["total"]  # the rest was shared out after
    assert sequential["files"]["total"] == parallel["files"]["total"] > 800
    assert _strip(sequential) == _strip(parallel)
    assert sequential["score"] == parallel["score"]
    kinds = lambda r: sorted((d["kind"], d["path"], d["line"]) for d in r["diagnostics"])  # noqa: E731
    assert kinds(sequential) == kinds(parallel)
    # the waiver and the suppression were really used (not reported as unmatched/unused) in both runs
    for r in (sequential, parallel):
        assert not [d for d in r["diagnostics"] if d["kind"] in ("waiver-unmatched", "suppression-unused")]
        for cid in ("security.image-tag-pinned", "security.dockerfile-non-root-user", "reliability.liveness-probe"):
            assert next(x for x in r["results"] if x["control_id"] == cid)["waived"]


def test_a_worker_parses_each_content_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Identical files (templated Dockerfiles, copied configs) are parsed once per worker: a repeat in the same
    chunk is the same parse under its own path; a repeat in a later chunk is left to the main process, which by
    then holds the parse from the earlier answer."""
    import pickle

    body = b"FROM python:3.12-slim\nUSER 10001\nCMD [\"python\", \"-m\", \"app\"]\n"
    for name, data in (("a/Dockerfile", body), ("b/Dockerfile", body), ("c/Dockerfile", body + b"EXPOSE 80\n"),
                       ("d/Dockerfile", body)):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(data)
    calls: list[str] = []
    real = engine.parse_bytes
    monkeypatch.setattr(engine, "parse_bytes", lambda rel, *a, **k: calls.append(rel) or real(rel, *a, **k))
    job = lambda rel: (rel, str(tmp_path / rel), "dockerfile", 10**6)  # noqa: E731
    monkeypatch.setattr(engine, "_KNOWN", engine._KNOWN)  # restored after the test
    engine._init_worker(frozenset())
    out, blob = engine._parse_chunk((0, [job("a/Dockerfile"), job("b/Dockerfile"), job("c/Dockerfile")]))
    parses = pickle.loads(blob)
    assert calls == ["a/Dockerfile", "c/Dockerfile"]
    assert [p.rel for p in parses] == ["a/Dockerfile", "b/Dockerfile", "c/Dockerfile"]
    assert parses[1].data is parses[0].data and parses[1].data == real("x", "dockerfile", body).data
    assert [(pos, in_blob) for pos, _, _, in_blob in out] == [(0, True), (1, True), (2, True)]
    out2, blob2 = engine._parse_chunk((3, [job("d/Dockerfile")]))
    assert calls == ["a/Dockerfile", "c/Dockerfile"] and pickle.loads(blob2) == []
    assert out2 == [(3, out[0][1], None, False)]  # same hash as a/Dockerfile: the main process has it


def test_worker_parses_come_back_through_a_private_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker writes its pickled parses to a file in the pool's folder and sends only the name; the main
    process reads and removes it. If the file is gone, the batch comes back without parses (load_project then
    parses those files itself) rather than failing."""
    (tmp_path / "a.py").write_text("import requests\nrequests.get('http://x')\n")
    (tmp_path / "b.md").write_text("# Runbook\n")
    folder = tmp_path / "blobs"
    folder.mkdir()
    monkeypatch.setattr(engine, "_KNOWN", engine._KNOWN)
    monkeypatch.setattr(engine, "_BLOB_FOLDER", engine._BLOB_FOLDER)
    engine._init_worker(frozenset(), str(folder))
    jobs = [("a.py", str(tmp_path / "a.py"), "python", 10**6), ("b.md", str(tmp_path / "b.md"), "markdown", 10**6)]
    out, name = engine._parse_chunk((5, jobs))
    assert isinstance(name, str) and Path(name).parent == folder and Path(name).is_file()
    batch, (blob, parses) = engine._worker_batch(out, name)
    assert not list(folder.iterdir())  # read and removed
    assert [pos for pos, _ in batch] == [5, 6] and [p.rel for _, (_, p) in batch] == ["a.py", "b.md"]
    assert batch[0][1][1].data.calls and parses[0] is batch[0][1][1] and isinstance(blob, bytes)
    out, name = engine._parse_chunk((0, [("c.py", str(tmp_path / "a.py"), "python", 10**6)]))
    assert out[0][2] is None  # same content as a.py: the main process holds its parse already
    engine._init_worker(frozenset(), str(folder))
    out, name = engine._parse_chunk((0, jobs))
    Path(name).unlink()
    batch, blob = engine._worker_batch(out, name)
    assert blob is None and [(pos, p) for pos, (_, p) in batch] == [(0, None), (1, None)]


def test_pool_folder_is_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = engine._make_pool(2, frozenset())
    try:
        assert pool.folder is not None and Path(pool.folder).is_dir()
        assert oct(Path(pool.folder).stat().st_mode & 0o777) == "0o700"
        assert pool.submit(engine._parse_chunk, (0, [])).result() == ([], engine.pickle.dumps([], protocol=5))
    finally:
        pool.shutdown()
    assert not Path(pool.folder).exists()


def test_lost_worker_files_are_parsed_here(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 10**9)
    monkeypatch.setattr(engine, "PARALLEL_EVAL_MIN_FILES", 10**9)
    sequential = scan(tree, ScanOptions(use_cache=False))
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 1)
    lost: list[str] = []
    real = engine._worker_batch

    def losing(items, blob):
        if isinstance(blob, str):
            Path(blob).unlink()
            lost.append(blob)
        return real(items, blob)

    monkeypatch.setattr(engine, "_worker_batch", losing)
    parallel = scan(tree, ScanOptions(use_cache=False))
    assert lost
    assert _strip(sequential) == _strip(parallel) and sequential["score"] == parallel["score"]


def test_evaluation_results_are_read_as_they_arrive(tmp_path: Path) -> None:
    """The evaluation child appends (index, result) frames; the main process reads the complete ones as they
    arrive and never a frame cut short (its control is evaluated again)."""
    import pickle

    path = tmp_path / "eval.frames"

    def frame(obj) -> bytes:
        data = pickle.dumps(obj, protocol=5)
        return len(data).to_bytes(4, "big") + data

    third = frame((7, {"control_id": "c"}))
    path.write_bytes(frame((0, {"control_id": "a"})) + frame((3, {"control_id": "b"})) + third[:6])
    frames = engine._Frames(str(path))
    try:
        got: dict = {}
        frames.collect(got)
        assert got == {0: {"control_id": "a"}, 3: {"control_id": "b"}}
        with open(path, "ab") as fh:
            fh.write(third[6:] + b"\x00\x00\x00\x05junk")  # the rest of the third frame, then a damaged one
        frames.collect(got)
        assert got == {0: {"control_id": "a"}, 3: {"control_id": "b"}, 7: {"control_id": "c"}}
    finally:
        frames.close()


def test_folders_of_killed_scans_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"prodready-parse-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "1-0.pickle").write_bytes(b"x")
    alive = tmp_path / f"prodready-parse-{os.getppid()}-def"  # a running process's folder stays
    alive.mkdir()
    other = tmp_path / "something-else"
    other.mkdir()
    engine._remove_stale_folders(str(tmp_path))
    assert not stale.exists() and alive.exists() and other.exists()
