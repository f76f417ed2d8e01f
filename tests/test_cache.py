"""The parse cache (shards of worker-pickled parses, by content hash) and the report cache (the evaluated report,
by a fingerprint of everything it depends on): re-scans reuse them, any change invalidates what it must, and a
damaged or planted cache never changes a verdict."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import pickle
from pathlib import Path

import pytest

from prodready import engine
from prodready.cache import ReportCache
from prodready.engine import ScanOptions, scan
from prodready.parse import PARSER_VERSION

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "scan_speed.py"
TODAY = dt.date(2026, 6, 1)


def _generate(root: Path, n: int) -> None:
    spec = importlib.util.spec_from_file_location("scan_speed", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    mod.generate(root, n)


def _verdicts(report: dict) -> list:
    return [(r["control_id"], r["status"], r["message"],
             [(e["path"], e["line"], e["status"], e["message"]) for e in r["evidence"]]) for r in report["results"]]


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    _generate(root, 500)  # above the size where files are parsed in worker processes
    return root


def _opts(**kw) -> ScanOptions:
    return ScanOptions(today=kw.pop("today", TODAY), **kw)


def test_unchanged_tree_reuses_the_report(tree: Path) -> None:
    first = scan(tree, _opts())
    # a first scan reuses parses only between files of identical content
    assert first["stats"]["cache_hits"] < first["files"]["total"] // 5 and not first["stats"].get("report_cached")
    second = scan(tree, _opts())
    assert second["stats"]["report_cached"] is True
    assert second["stats"]["cache_hits"] == second["files"]["total"] == first["files"]["total"]
    assert _verdicts(second) == _verdicts(first) and second["score"] == first["score"]
    assert second["gates"] == first["gates"]


def test_a_changed_file_is_parsed_again_and_changes_the_verdict(tree: Path) -> None:
    first = scan(tree, _opts())
    df = next(tree.glob("team*/svc*/Dockerfile"))
    text = df.read_text()
    assert "USER 10001" in text or "USER root" in text
    df.write_text(text.replace("USER 10001", "USER root").replace("HEALTHCHECK", "# no healthcheck"))
    second = scan(tree, _opts())
    assert not second["stats"].get("report_cached")
    # every other file came from the parse cache (worker processes saw the cache index)
    assert second["stats"]["cache_hits"] == second["files"]["total"] - 1
    hc = next(r for r in second["results"] if r["control_id"] == "reliability.dockerfile-healthcheck")
    before = next(r for r in first["results"] if r["control_id"] == "reliability.dockerfile-healthcheck")
    rel = df.relative_to(tree).as_posix()
    assert any(e["path"] == rel and e["status"] == "fail" for e in hc["evidence"])
    assert not any(e["path"] == rel and e["status"] == "fail" for e in before["evidence"])
    # and the next scan of this state matches a scan without any cache
    third = scan(tree, _opts())
    assert third["stats"]["report_cached"] is True
    assert _verdicts(third) == _verdicts(scan(tree, _opts(use_cache=False)))


def test_touching_a_file_reuses_its_parse_but_not_the_report(tree: Path) -> None:
    scan(tree, _opts())
    f = next(tree.glob("team*/svc*/deploy.yaml"))
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = scan(tree, _opts())
    assert not again["stats"].get("report_cached")
    assert again["stats"]["cache_hits"] == again["files"]["total"]  # same content: parse taken by hash


def test_configuration_and_date_invalidate_the_report(tree: Path) -> None:
    scan(tree, _opts())
    assert scan(tree, _opts())["stats"].get("report_cached")
    assert not scan(tree, _opts(today=TODAY + dt.timedelta(days=1)))["stats"].get("report_cached")
    (tree / ".prodready.toml").write_text('disable = ["security.image-tag-pinned"]\n')
    r = scan(tree, _opts())
    assert not r["stats"].get("report_cached")
    assert "security.image-tag-pinned" not in {x["control_id"] for x in r["results"]}
    cid, path = next((x["control_id"], e["path"]) for x in r["results"] for e in x["evidence"]
                     if e["status"] == "fail" and e["path"] and e["path"].startswith("team"))
    (tree / ".prodready" / "waivers.yaml").write_text(
        f"waivers:\n  - control: {cid}\n    path: {path}\n"
        "    reason: accepted for this test\n    expires: 2099-01-01\n")
    r = scan(tree, _opts())
    assert not r["stats"].get("report_cached")
    assert next(x for x in r["results"] if x["control_id"] == cid)["waived"]
    assert not scan(tree, _opts(use_waivers=False))["stats"].get("report_cached")
    assert not scan(tree, _opts(enable=["all"]))["stats"].get("report_cached")


def test_no_cache_neither_reads_nor_writes(tree: Path) -> None:
    r = scan(tree, _opts(use_cache=False))
    assert not (tree / ".prodready" / "cache").exists()
    assert not r["stats"].get("report_cached")


def test_planted_or_damaged_report_cache_is_ignored(tree: Path) -> None:
    clean = scan(tree, _opts(use_cache=False))
    cache = tree / ".prodready" / "cache"
    cache.mkdir(parents=True)
    fake = json.loads(json.dumps(clean))
    for r in fake["results"]:
        r["status"] = "pass"
    # a report claiming everything passes, under a fingerprint computed without this checkout's mtimes
    (cache / ReportCache.NAME).write_bytes(pickle.dumps({"fingerprint": "0" * 40, "report": fake}))
    assert _verdicts(scan(tree, _opts())) == _verdicts(clean)
    (cache / ReportCache.NAME).write_bytes(b"\x00\xff not a pickle")
    os.utime(next(tree.glob("team*/svc*/*")))  # force a fresh evaluation
    assert _verdicts(scan(tree, _opts())) == _verdicts(clean)
    # a pickle that would run a command when loaded is refused, not run
    marker = tree.parent / "planted-ran"

    class Planted:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (cache / ReportCache.NAME).write_bytes(pickle.dumps({"fingerprint": "0" * 40, "report": Planted()}))
    os.utime(next(tree.glob("team*/svc*/*")))
    assert _verdicts(scan(tree, _opts())) == _verdicts(clean)
    assert not marker.exists()


def test_damaged_parse_cache_shard_is_parsed_again(tree: Path) -> None:
    import pickle

    clean = scan(tree, _opts(use_cache=False))
    scan(tree, _opts())
    path = tree / ".prodready" / "cache" / f"parse-v{PARSER_VERSION}.pickle"
    data = pickle.loads(path.read_bytes())
    assert len(data["shards"]) >= 2  # one per worker batch
    data["shards"][0] = b"\x80\x05garbage"
    path.write_bytes(pickle.dumps(data))
    (tree / ".prodready" / "cache" / ReportCache.NAME).unlink()
    r = scan(tree, _opts())
    assert r["stats"]["cache_hits"] < r["files"]["total"]
    assert _verdicts(r) == _verdicts(clean)


def test_parse_cache_drops_stale_shards(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    scan(tree, _opts())
    path = tree / ".prodready" / "cache" / f"parse-v{PARSER_VERSION}.pickle"
    files = sorted(f for f in tree.rglob("*") if f.is_file() and ".prodready" not in f.parts)
    for f in files:  # new content everywhere: every old shard is now stale
        f.write_text(f.read_text() + "\n# edited\n")
    r = scan(tree, _opts())
    assert r["stats"]["cache_hits"] < len(files) // 5  # only files of identical (new) content
    data = pickle.loads(path.read_bytes())
    # only this run's shards remain (the old ones hold nothing in use); every file's content is in them
    assert sum(data["sizes"]) <= len(files) - r["stats"]["cache_hits"]
    assert set(data["where"]) == {v[2] for v in data["index"].values()}
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 10**9)  # parsed in this process: one new shard
    for f in files[:50]:
        f.write_text(f.read_text() + "\n# again\n")
    r = scan(tree, _opts())
    assert r["files"]["total"] - 50 <= r["stats"]["cache_hits"] < r["files"]["total"]
    data = pickle.loads(path.read_bytes())
    assert set(data["where"]) == {v[2] for v in data["index"].values()}
    assert sum(data["sizes"]) <= 2 * len(data["where"]) + 100


def test_change_within_the_same_timestamp_tick_is_seen(tree: Path) -> None:
    """A file rewritten right after a scan, same size and same modification time (coarse file system clocks):
    both caches check such recently modified files by content instead of trusting their stat."""
    df = next(f for f in tree.glob("team*/svc*/Dockerfile") if "USER 10001" in f.read_text())
    first = scan(tree, _opts())
    st = df.stat()
    df.write_text(df.read_text().replace("USER 10001", "USER 0    "))  # same length
    os.utime(df, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert df.stat().st_size == st.st_size
    second = scan(tree, _opts())
    assert not second["stats"].get("report_cached")
    assert second["stats"]["cache_hits"] == second["files"]["total"] - 1
    assert _verdicts(second) != _verdicts(first)
    assert _verdicts(second) == _verdicts(scan(tree, _opts(use_cache=False)))


def test_other_libraries_invalidate_both_caches(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser library upgraded (a site-packages directory changed) or another Python: nothing cached is reused."""
    scan(tree, _opts())
    assert scan(tree, _opts())["stats"].get("report_cached")
    monkeypatch.setattr(engine, "environment_stamp", lambda: "another Python; other libraries")
    r = scan(tree, _opts())
    assert not r["stats"].get("report_cached")
    assert r["stats"]["cache_hits"] < r["files"]["total"] // 5  # parses made with other libraries are not used
    again = scan(tree, _opts())
    assert again["stats"].get("report_cached")


def test_any_file_of_a_helm_chart_invalidates_the_report(tmp_path: Path) -> None:
    """`helm template` reads every file of a chart, including those prodready does not read itself (NOTES.txt,
    files pulled in with .Files.Get, packaged dependencies): a change to any of them is a new report."""
    chart = tmp_path / "deploy" / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "files").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicaCount: 2\n")
    (chart / "templates" / "NOTES.txt").write_text("installed\n")
    (chart / "files" / "seed.bin").write_bytes(b"\x00\x01")  # not a file prodready reads
    (chart / ".helmignore").write_text("*.tmp\n")
    assert not scan(tmp_path, _opts())["stats"].get("report_cached")
    assert scan(tmp_path, _opts())["stats"].get("report_cached")
    for changed in (chart / "files" / "seed.bin", chart / ".helmignore", chart / "templates" / "NOTES.txt"):
        changed.write_bytes(changed.read_bytes() + b"# changed\n")
        assert not scan(tmp_path, _opts())["stats"].get("report_cached"), changed
        assert scan(tmp_path, _opts())["stats"].get("report_cached")
    (chart / "charts").mkdir()
    (chart / "charts" / "redis-1.0.0.tgz").write_bytes(b"\x1f\x8b not really")
    assert not scan(tmp_path, _opts())["stats"].get("report_cached")
