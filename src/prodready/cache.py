"""Caches stored inside the scanned root (``.prodready/cache``, git-ignored).

* The **parse cache** keeps parse results keyed by content hash, so a re-scan parses only changed files. Results
  are kept as *shards*: each shard is the pickled list of what one parse worker produced, stored as the very bytes
  the worker sent back (a cold scan pickles each result once, not once more for the cache). Shards are unpickled
  only when one of their entries is asked for. The cache sits in a repository we do not trust, so shards and the
  outer file are read with a restricted unpickler that can only build prodready's own parse-result classes and
  plain containers: a planted cache file can at worst be rejected, never execute code.
* The **report cache** keeps the evaluated report of the last scan with a fingerprint of everything it depends on
  (every file's path, kind, size and modification time to the nanosecond, the configuration, waivers,
  attestations, the date, prodready's own code, the Python version and installed libraries). A scan whose
  fingerprint matches reuses it without parsing or evaluating anything. Modification times of a fresh checkout
  cannot be predicted, so a report cache committed to a repository never matches there. It is a pickle of plain
  data only (dicts, lists, strings, numbers): its reader refuses every class and function, so a planted file can
  at worst be rejected. (It was JSON; a pickle writes and reads in half the time.)
* Both are dropped when the Python version or the installed libraries change (``engine.environment_stamp``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

from .parse import PARSER_VERSION

_ALLOWED = {
    ("prodready.parse", "Parsed"), ("prodready.parse", "Suppression"), ("prodready.parse", "MarkdownDoc"),
    ("prodready.parse", "Heading"), ("prodready.parse", "NginxDirective"),
    ("prodready.parsers.yamlsafe", "YamlDoc"), ("prodready.parsers.yamlsafe", "_rebuild_ymap"),
    ("prodready.parsers.yamlsafe", "_rebuild_ylist"), ("prodready.parsers.yamlsafe", "YMap"),
    ("prodready.parsers.yamlsafe", "YList"),
    ("prodready.parsers.pyfacts", "PyFacts"), ("prodready.parsers.pyfacts", "Call"),
    ("prodready.parsers.pyfacts", "Function"), ("prodready.parsers.pyfacts", "Assign"),
    ("prodready.parsers.jsfacts", "JsFacts"), ("prodready.parsers.jsfacts", "JsCall"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "Ellipsis"),
    ("builtins", "bytearray"), ("builtins", "slice"), ("copyreg", "_reconstructor"), ("builtins", "object"),
    ("builtins", "dict"), ("builtins", "list"),
}
# A file changed twice within the file system's timestamp granularity keeps its size and modification time: a
# stat match proves nothing for files modified shortly before the scan that recorded them (git's "racy clean"
# entries). Those are checked by content hash instead.
RACY_NS = 2_000_000_000
COMPACT_SLACK = 2  # re-pack the shards when they hold more than twice the entries still in use


class _DataUnpickler(pickle.Unpickler):
    """Plain data only: no class, no function, no persistent reference."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name} in report cache")


def data_loads(data: bytes) -> Any:
    return _DataUnpickler(io.BytesIO(data)).load()


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in parse cache")


def safe_loads(data: bytes) -> Any:
    return _SafeUnpickler(io.BytesIO(data)).load()


def content_hash(data: bytes, kind: str) -> str:
    """Key of a parse: the content and the kind it was parsed as (the same bytes parse differently as a
    Compose file and as a Kubernetes manifest)."""
    return hashlib.blake2b(data, digest_size=16, person=kind.encode()[:16]).hexdigest()


def _atomic_write(directory: Path, name: str, write) -> None:
    """Write ``directory/name`` through a temporary file and a rename: a failed or concurrent run never leaves a
    torn file. ``directory`` is created (with a .gitignore for the cache when it is prodready's own)."""
    directory.mkdir(parents=True, exist_ok=True)
    gi = directory.parent / ".gitignore"
    if directory.parent.name == ".prodready" and not gi.exists():
        gi.write_text("cache/\n", encoding="utf-8")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, directory / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def in_background(job) -> int | None:
    """Run ``job()`` in a forked child so the scan goes on meanwhile; returns the child's pid, to :func:`wait`
    for. Where fork is unavailable the job runs here. A failure loses only the job's own work (a cache file,
    the child's share of the controls, which the caller then evaluates itself), never the scan."""
    if not hasattr(os, "fork"):
        try:
            job()
        except Exception:
            pass
        return None
    pid = os.fork()
    if pid == 0:  # child: write and leave without running any parent cleanup
        code = 0
        try:
            job()
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def wait(pid: int | None) -> None:
    if pid:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


class ParseCache:
    def __init__(self, directory: Path | None, environment: str = "") -> None:
        self.directory = directory
        self.environment = environment  # Python and library versions the parses were made with
        self.index: dict[str, tuple[int, int, str]] = {}  # rel -> (size, mtime_ns, hash)
        self.where: dict[str, tuple[int, int]] = {}  # hash -> (shard number, position in the shard)
        self.shards: list[bytes] = []  # pickled lists of Parsed
        self.sizes: list[int] = []  # entries in each shard
        self._loaded: dict[int, list] = {}  # shard number -> its unpickled entries
        self.pending: list[tuple[str, Any]] = []  # (hash, Parsed) parsed in this process, not in a shard yet
        self._pending_digests: dict[str, Any] = {}  # hash -> Parsed, for the entries of ``pending``
        self.hits = 0
        self.dirty = False
        self.stamp_ns = time.time_ns()  # when this scan listed the files (see RACY_NS)
        self.trusted_before_ns = 0  # stat matches are trusted only for files modified before this
        if directory is not None:
            self._load()

    @property
    def file(self) -> Path | None:
        return None if self.directory is None else self.directory / f"parse-v{PARSER_VERSION}.pickle"

    def _load(self) -> None:
        f = self.file
        if f is None or not f.is_file():
            return
        try:
            with open(f, "rb") as fh:
                data = safe_loads(fh.read())
            if isinstance(data, dict) and data.get("version") == PARSER_VERSION:
                index, where = data.get("index"), data.get("where")
                shards, sizes = data.get("shards"), data.get("sizes")
                stamp = data.get("stamp_ns")
                if _well_formed(index, where, shards, sizes) and isinstance(stamp, int) \
                        and data.get("environment") == self.environment:
                    self.index, self.where, self.shards, self.sizes = index, where, shards, sizes
                    self.trusted_before_ns = stamp - RACY_NS
        except Exception:  # a corrupt or planted cache is simply ignored
            self.index, self.where, self.shards, self.sizes = {}, {}, [], []

    def _entry(self, digest: str) -> Any | None:
        at = self.where.get(digest)
        if at is None:
            return self._pending_digests.get(digest)
        shard, pos = at
        entries = self._loaded.get(shard)
        if entries is None:
            try:
                entries = safe_loads(self.shards[shard])
                if not isinstance(entries, list):
                    entries = []
            except Exception:  # a damaged shard: its files are parsed again
                entries = []
            self._loaded[shard] = entries
        parsed = entries[pos] if 0 <= pos < len(entries) else None
        return parsed if type(parsed).__name__ == "Parsed" else None

    def lookup_stat(self, rel: str, size: int, mtime_ns: int) -> Any | None:
        hit = self.index.get(rel)
        if hit and hit[0] == size and hit[1] == mtime_ns and mtime_ns < self.trusted_before_ns:
            return self._hit(rel, self._entry(hit[2]))
        return None

    def lookup_hash(self, rel: str, digest: str) -> Any | None:
        """Same content (and kind) seen before, possibly under another path: reuse its parse."""
        return self._hit(rel, self._entry(digest))

    def _hit(self, rel: str, parsed: Any | None) -> Any | None:
        if parsed is None:
            return None
        self.hits += 1
        return parsed if parsed.rel == rel else dataclasses.replace(parsed, rel=rel)

    def note(self, rel: str, size: int, mtime_ns: int, digest: str) -> None:
        """``rel`` has content ``digest``, whose parse is already in the cache."""
        if self.index.get(rel) != (size, mtime_ns, digest):
            self.index[rel] = (size, mtime_ns, digest)
            self.dirty = True

    def store(self, rel: str, size: int, mtime_ns: int, digest: str, parsed: Any) -> None:
        """A parse made in this process; it is pickled into a shard when the cache is saved (once per content)."""
        if digest not in self.where and digest not in self._pending_digests:
            self.pending.append((digest, parsed))
            self._pending_digests[digest] = parsed
            self.dirty = True
        self.note(rel, size, mtime_ns, digest)

    def store_shard(self, files: list[tuple[str, int, int, str]], blob: bytes, parses: list) -> None:
        """A worker's pickled list of parses (and the same unpickled), with (rel, size, mtime_ns, hash) of each."""
        n = len(self.shards)
        self.shards.append(blob)
        self._loaded[n] = parses
        self.sizes.append(len(files))
        for pos, (rel, size, mtime_ns, digest) in enumerate(files):
            self.where[digest] = (n, pos)
            self.index[rel] = (size, mtime_ns, digest)
        self.dirty = True

    def save_in_background(self, live_rels: set[str]) -> int | None:
        """Write the cache from a forked child, so the scan goes on evaluating meanwhile."""
        if self.directory is None or not self.dirty:
            return None
        return in_background(lambda: self.save(live_rels))

    def save(self, live_rels: set[str]) -> None:
        if self.directory is None or not self.dirty:
            return
        index = {r: v for r, v in self.index.items() if r in live_rels}
        needed = {v[2] for v in index.values()}
        shards, sizes, where = list(self.shards), list(self.sizes), dict(self.where)
        fresh = [(d, p) for d, p in self.pending if d in needed]
        if fresh:
            shards.append(pickle.dumps([p for _, p in fresh], protocol=5))
            sizes.append(len(fresh))
            where.update((d, (len(shards) - 1, pos)) for pos, (d, _) in enumerate(fresh))
        where = {d: at for d, at in where.items() if d in needed}
        used = sorted({s for s, _ in where.values()})
        if sum(sizes[s] for s in used) > COMPACT_SLACK * len(where) + 100:
            # mostly stale entries: re-pack the live ones into one shard
            live = [self._unpickled(shards, s)[pos] for s, pos in where.values()]
            where = {d: (0, i) for i, d in enumerate(where)}
            shards, sizes = [pickle.dumps(live, protocol=5)], [len(live)]
        else:  # drop the shards nothing uses any more
            renumber = {old: new for new, old in enumerate(used)}
            where = {d: (renumber[s], pos) for d, (s, pos) in where.items()}
            shards, sizes = [shards[s] for s in used], [sizes[s] for s in used]
        try:
            _atomic_write(self.directory, f"parse-v{PARSER_VERSION}.pickle", lambda fh: pickle.dump(
                {"version": PARSER_VERSION, "environment": self.environment, "stamp_ns": self.stamp_ns,
                 "index": index, "where": where,
                 "shards": shards, "sizes": sizes},
                fh, protocol=5))
        except OSError:
            pass  # a read-only tree simply gets no cache

    def _unpickled(self, shards: list[bytes], s: int) -> list:
        if s < len(self.shards) and s in self._loaded:
            return self._loaded[s]
        return safe_loads(shards[s])


def _well_formed(index: Any, where: Any, shards: Any, sizes: Any) -> bool:
    """The outer structure of a cache file is what this version writes (a planted or damaged file is not)."""
    if not (isinstance(index, dict) and isinstance(where, dict) and isinstance(shards, list)
            and isinstance(sizes, list) and len(sizes) == len(shards)):
        return False
    if not all(isinstance(s, bytes) for s in shards) or not all(isinstance(n, int) for n in sizes):
        return False
    n = len(shards)
    return all(type(at) is tuple and len(at) == 2 and type(at[0]) is int and 0 <= at[0] < n and type(at[1]) is int
               for at in where.values()) and \
        all(type(v) is tuple and len(v) == 3 and type(v[2]) is str for v in index.values())


class ReportCache:
    """The evaluated report of the last scan, reused while its fingerprint matches (see the module docstring)."""

    NAME = "report-v2.pickle"
    OLD_NAMES = ("report-v1.json",)  # removed when a report is written

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def load(self, fingerprint: str, files: list[tuple[str, str, str, int]]) -> dict | None:
        """The cached report if ``fingerprint`` matches and the files modified shortly before it was written
        still have the content they had then. ``files``: (rel, abspath, kind, mtime_ns) of the files found."""
        if self.directory is None:
            return None
        try:
            with open(self.directory / self.NAME, "rb") as fh:
                data = data_loads(fh.read())
        except Exception:  # missing, damaged or planted: evaluated afresh
            return None
        if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
            return None
        racy = data.get("racy")
        if not isinstance(racy, dict) or racy != _racy_hashes(files, data.get("stamp_ns")):
            return None
        report = data.get("report")
        return report if isinstance(report, dict) else None

    def save_in_background(self, fingerprint: str, report: dict, files: list[tuple[str, str, str, int]],
                           stamp_ns: int) -> int | None:
        """Write from a forked child: it holds the report as it is now, whatever the caller adds to it later.
        ``stamp_ns``: when the files were listed; content hashes are kept for files modified shortly before."""
        if self.directory is None:
            return None
        directory = self.directory

        def write() -> None:
            blob = pickle.dumps({"fingerprint": fingerprint, "stamp_ns": stamp_ns,
                                 "racy": _racy_hashes(files, stamp_ns), "report": report}, protocol=5)
            _atomic_write(directory, ReportCache.NAME, lambda fh: fh.write(blob))
            for old in ReportCache.OLD_NAMES:
                try:
                    os.unlink(directory / old)
                except OSError:
                    pass

        return in_background(write)


def _racy_hashes(files: list[tuple[str, str, str, int]], stamp_ns: Any) -> dict[str, str] | None:
    """Content hash of each file modified within RACY_NS of ``stamp_ns`` (or after it)."""
    if not isinstance(stamp_ns, int):
        return None
    out = {}
    for rel, abspath, kind, mtime_ns in files:
        if mtime_ns >= stamp_ns - RACY_NS:
            try:
                with open(abspath, "rb") as fh:
                    out[rel] = content_hash(fh.read(), kind)
            except OSError:
                out[rel] = "unreadable"
    return out


def fingerprint(parts: list[str], files: list[tuple[str, str, int, int]]) -> str:
    """A digest of everything a report depends on: ``parts`` (version, configuration, dates...) and, for each
    discovered file, its path, kind, size and modification time in nanoseconds."""
    h = hashlib.blake2b(digest_size=20, person=b"prodready-report")
    h.update("\n".join(parts).encode("utf-8", "surrogateescape"))
    h.update("\n".join(f"{rel}\0{kind}\0{size}\0{mtime}" for rel, kind, size, mtime in files)
             .encode("utf-8", "surrogateescape"))
    return h.hexdigest()
