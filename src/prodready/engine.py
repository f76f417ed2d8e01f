"""The pipeline: discover → parse → model → evaluate → score → report dict."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import fnmatch
import functools
import gc
import os
import pickle
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from . import cache as cache_mod
from . import parse as parse_mod
from .build import build
from .cache import ParseCache, ReportCache, content_hash
from .config import Config, ConfigError, Waiver, load_config, load_waivers
from .controls.base import CATEGORIES, SEVERITIES, Control, Outcome, all_controls
from .discover import Discovery, discover
from .fdio import read_capped, write_all
from .model import Diagnostic, Project
from .parse import Parsed, parse_bytes
from .parsers.secretscan import DetectorProcess, candidate_starts, find_secrets
from .secrets import mask_secrets

SCHEMA_VERSION = "1.0"
SEV_ORDER = ["low", "medium", "high", "critical"]
MAX_PASS_EVIDENCE = 25  # passing evidence kept per control (counts keep the full number); failures are all kept


class ScanError(Exception):
    """A usage or runtime error (exit code 2) with a message meant for people."""


@dataclass
class ScanOptions:
    excludes: list[str] = field(default_factory=list)
    config_path: Path | None = None
    waivers_path: Path | None = None
    use_waivers: bool = True
    use_cache: bool = True
    cache_dir: Path | None = None
    fail_under: float | None = None
    fail_on: str | None = None
    progress: Callable[[int, int], None] | None = None
    enable: list[str] = field(default_factory=list)  # optional controls to turn on, like `enable` in config
    today: dt.date | None = None
    # outcomes observed by live probes, per control id (``prodready scan --targets``); the live verdict decides
    live: dict[str, list[Outcome]] | None = None
    # the caller (the CLI) ends the process soon after: cache writers (forked children) are left running when
    # scan() returns, for the caller to render its output meanwhile and then call finish_background(); and the
    # model is kept alive rather than freed object by object (a tenth of a second or more on big trees)
    exit_after: bool = False
    # detect-secrets is made ready in a forked child while the scan starts (see secretscan.DetectorProcess)
    use_secret_process: bool = True


def load_project(root: Path, opts: ScanOptions, cfg: Config, disc: Discovery | None = None,
                 detectors: DetectorProcess | None = None, early: _EarlyParse | None = None) -> tuple[Project, dict]:
    """Discover (unless done), read and parse, build the model. ``detectors`` (started by the caller) scans the
    parsed texts for secrets when the tree is parsed in this process alone; it is closed either way. ``early``:
    the parse workers the caller started while discovering, with the files they were given."""
    t0 = time.perf_counter()
    if disc is None:
        disc = discover(root, opts.excludes + cfg.exclude, honour_gitignore=cfg.gitignore)
    t_disc = time.perf_counter() - t0
    cache = early.cache if early is not None else _parse_cache(disc.root, opts)
    max_bytes = _max_bytes(cfg)
    total = len(disc.files)
    slots: list[Parsed | None] = [None] * total
    todo: list[int] = []
    sent: set[str] = set()
    if early is not None and early.pool is not None:  # files already with the workers come first, as sent
        at = {sf.rel: i for i, sf in enumerate(disc.files)}
        todo = [at[job[0]] for job in early.jobs]
        sent = {job[0] for job in early.jobs}
    for i, sf in enumerate(disc.files):
        if sf.rel in sent:
            continue
        hit = cache.lookup_stat(sf.rel, sf.size, sf.mtime_ns)
        if hit is not None:
            slots[i] = hit
        elif sf.size > max_bytes:
            p = Parsed(sf.rel, sf.kind)
            p.errors.append((None, f"file is {sf.size / 1048576:.1f} MB, above the {max_bytes / 1048576:.0f} MB "
                                   "parse limit; not parsed"))
            slots[i] = p
        else:
            todo.append(i)
    jobs = [(disc.files[i].rel, disc.files[i].abspath, disc.files[i].kind, max_bytes) for i in todo]
    done = total - len(todo)
    if detectors is not None and (sent or _in_parallel(len(jobs))):  # parse workers scan for secrets themselves
        detectors.close()
        detectors = None
    for batch, blob in _parse_many(jobs, cache, defer_secrets=detectors is not None,
                                   early=early if sent else None):
        fresh: list[tuple[str, int, int, str]] = []
        for pos, (digest, parsed_file) in batch:
            i = todo[pos]
            sf = disc.files[i]
            if parsed_file is None:  # a worker found this content in the cache: take it from there
                parsed_file = cache.lookup_hash(sf.rel, digest) if digest else None
                if parsed_file is None:  # the cache entry is unreadable after all: parse here
                    digest, parsed_file = _read_and_parse(jobs[pos])
                    if digest is not None:
                        cache.store(sf.rel, sf.size, sf.mtime_ns, digest, parsed_file)
                elif digest is not None:
                    cache.note(sf.rel, sf.size, sf.mtime_ns, digest)
            elif digest is not None:
                if blob is None:
                    cache.store(sf.rel, sf.size, sf.mtime_ns, digest, parsed_file)
                else:
                    fresh.append((sf.rel, sf.size, sf.mtime_ns, digest))
            slots[i] = parsed_file
        if blob is not None and fresh:
            cache.store_shard(fresh, *blob)
        done += len(batch)
        if opts.progress:
            opts.progress(done, total)
    parsed: list[Parsed] = [p for p in slots if p is not None]
    if detectors is not None:
        _fill_secrets([p for p in parsed if p.secrets is None], detectors)
    if opts.progress:
        opts.progress(total, total)
    saver = cache.save_in_background({sf.rel for sf in disc.files})
    t_parse = time.perf_counter() - t0 - t_disc
    t1 = time.perf_counter()
    project = build(str(disc.root), parsed)
    for rel, msg in disc.skipped:
        project.diagnostics.append(Diagnostic("skipped", rel, None, msg))
    stats = {"files": total, "cache_hits": cache.hits, "discover_s": round(t_disc, 3), "parse_s": round(t_parse, 3),
             "build_s": round(time.perf_counter() - t1, 3), "_saver": saver}
    return project, stats


PARALLEL_MIN_FILES = 400  # below this, a process pool costs more than it saves


def _parse_cache(root: Path, opts: ScanOptions) -> ParseCache:
    """``root`` resolved, as discovery gives it."""
    return ParseCache((opts.cache_dir or root / ".prodready" / "cache") if opts.use_cache else None,
                      environment_stamp())


def _max_bytes(cfg: Config) -> int:
    return int(cfg.max_file_mb * 1048576) if cfg.max_file_mb else parse_mod.MAX_FILE_BYTES


class _Pool:
    """The parse workers, and a private folder through which they hand back their pickled parses: a
    megabyte sent through the result pipe stalls the worker until this process's result thread, which
    needs the interpreter lock this busy process holds, has read it piece by piece (a tenth of the
    worker's time went that way); a file is written at once, and only its name goes through the pipe."""

    def __init__(self, executor, folder: str | None) -> None:
        self.executor, self.folder = executor, folder

    def submit(self, fn, *args):
        return self.executor.submit(fn, *args)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.folder is not None:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)


def _blob_folder() -> str | None:
    import tempfile

    for where in ("/dev/shm", None):  # memory-backed where there is one
        try:
            folder = tempfile.mkdtemp(prefix=f"prodready-parse-{os.getpid()}-", dir=where)
        except OSError:
            continue
        _remove_stale_folders(os.path.dirname(folder))
        return folder
    return None


def _remove_stale_folders(parent: str) -> None:
    """Folders a killed scan left behind (named after its process id, which no longer runs)."""
    import shutil

    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        m = re.match(r"prodready-parse-(\d+)-", name)
        if m is None or int(m.group(1)) == os.getpid():
            continue
        path = os.path.join(parent, name)
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # not ours to judge (another user's process, or gone meanwhile)
            continue


def _make_pool(workers: int, known: frozenset[str]) -> _Pool:
    import concurrent.futures as cf
    import multiprocessing as mp

    # fork is cheapest, but the Dockerfile parser is a Go library whose runtime (threads included) does not
    # survive fork: once it is loaded in this process (an earlier scan in the same process), workers come
    # from a fresh fork server instead
    method = "forkserver" if "dockerfile" in sys.modules else "fork"
    try:
        ctx = mp.get_context(method)
    except ValueError:  # platforms without fork
        ctx = mp.get_context()
    folder = _blob_folder()
    return _Pool(cf.ProcessPoolExecutor(max_workers=workers - 1, mp_context=ctx, initializer=_init_worker,
                                        initargs=(known, folder)), folder)


class _EarlyParse:
    """A cold scan of a big tree: the parse workers start while the tree is still being walked, instead of
    after (walking 10,000 files takes a fifth of a second, during which the other cores would idle). Files
    are handed over in chunks as they are found, a few chunks ahead of the workers; ``load_project`` then
    shares out the rest between the workers and this process as usual. Only when there is no parse cache to
    consult (its hits are decided after the walk); otherwise it only hands the parse cache it loaded on to
    ``load_project``, which would load it again."""

    CHUNK = 400

    def __init__(self, cache: ParseCache, max_bytes: int, detectors: DetectorProcess | None) -> None:
        self.cache, self.max_bytes, self.detectors = cache, max_bytes, detectors
        self.streaming = not cache.index
        self.workers = min(os.cpu_count() or 1, 8)
        self.found = 0
        self.waiting: list[tuple[str, str, str, int]] = []  # jobs found, not yet sent
        self.jobs: list[tuple[str, str, str, int]] = []  # jobs sent, in the order sent
        self.pending: collections.deque = collections.deque()  # futures of the chunks sent
        self.pool = None

    @classmethod
    def start(cls, root: Path, opts: ScanOptions, cfg: Config, detectors: DetectorProcess | None) -> _EarlyParse | None:
        """``root``: resolved. None with a single core, or when a report cache may answer (a likely re-scan)."""
        if min(os.cpu_count() or 1, 8) < 2:
            return None
        cache_dir = (opts.cache_dir or root / ".prodready" / "cache") if opts.use_cache else None
        if cache_dir is not None and (cache_dir / ReportCache.NAME).is_file():
            return None  # likely a re-scan: the report cache decides after the walk
        return cls(_parse_cache(root, opts), _max_bytes(cfg), detectors)

    def on_file(self, sf) -> None:
        if not self.streaming:
            return
        self.found += 1
        if sf.size <= self.max_bytes:
            self.waiting.append((sf.rel, sf.abspath, sf.kind, self.max_bytes))
            n = len(self.waiting)
            # while the workers are busy, files pile up here: whether one has finished is asked every 64 files
            if n >= self.CHUNK and self.found >= PARALLEL_MIN_FILES and (n == self.CHUNK or n % 64 == 0):
                self._send()

    def _send(self) -> None:
        if self.pool is None:
            self.pool = _make_pool(self.workers, frozenset(self.cache.where))
            if self.detectors is not None:  # the workers scan for secrets themselves
                self.detectors.close()
        # a few chunks ahead of the workers: those they have finished (waiting here to be read after the walk)
        # do not count, so a worker never idles while the walk goes on
        while len(self.waiting) >= self.CHUNK and \
                sum(not f.done() for f in self.pending) < 2 * (self.workers - 1):
            chunk = self.waiting[:self.CHUNK]
            del self.waiting[:self.CHUNK]
            self.pending.append(self.pool.submit(_parse_chunk, (len(self.jobs), chunk)))
            self.jobs += chunk

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _in_parallel(n_jobs: int) -> bool:
    return n_jobs >= PARALLEL_MIN_FILES and min(os.cpu_count() or 1, 8) >= 2


def _fill_secrets(pending: list[Parsed], detectors: DetectorProcess) -> None:
    """Secrets of the texts parsed without them: the texts with candidate lines go to the detector process
    (or, if it cannot answer, through the detectors here); the others have none."""
    todo = []
    for p in pending:
        if p.text and candidate_starts(p.text):
            todo.append(p)
        else:
            p.secrets = []
    found = detectors.find_all([(p.text or "", p.rel) for p in todo]) if todo else None
    detectors.close()
    for n, p in enumerate(todo):
        p.secrets = found[n] if found is not None else find_secrets(p.text or "", p.rel)


def _read_and_parse(job: tuple[str, str, str, int], cache: ParseCache | None = None,
                    known: set[str] | frozenset[str] = frozenset(), scan_secrets: bool = True,
                    seen: dict[str, Parsed] | None = None) -> tuple[str | None, Parsed | None]:
    """(content hash, parse) of one file. With ``cache``, content seen before is taken from it; content whose
    hash is in ``known`` (a worker's copy of the cache's hashes) is returned as None for the main process;
    ``seen`` (hash -> parse) gives content parsed just before under another path, and takes new parses.
    Without ``scan_secrets``, a new parse's ``secrets`` is left None (see ``parse_bytes``)."""
    rel, abspath, kind, max_bytes = job
    try:
        data = read_capped(abspath, max_bytes + 1)
    except OSError as exc:
        p = Parsed(rel, kind)
        p.errors.append((None, f"cannot read: {exc.strerror}"))
        return None, p
    digest = content_hash(data, kind)
    if digest in known:
        return digest, None
    if seen is not None:
        prior = seen.get(digest)
        if prior is not None:  # the same content (and kind): the same parse under this path
            return digest, dataclasses.replace(prior, rel=rel)
    hit = cache.lookup_hash(rel, digest) if cache is not None else None
    parsed = hit if hit is not None else parse_bytes(rel, kind, data, scan_secrets)
    if seen is not None:
        seen[digest] = parsed
    return digest, parsed


# in a parse worker: content hashes the main process has parses of, from its cache or from this worker's answers
# to earlier chunks (the main process reads a worker's answers in the order it sent the chunks)
_KNOWN: set[str] | frozenset[str] = frozenset()


_BLOB_FOLDER: str | None = None  # in a parse worker: where its answers' parses go (see _Pool)


def _init_worker(known: frozenset[str], folder: str | None = None) -> None:
    global _KNOWN, _BLOB_FOLDER
    _KNOWN = set(known)
    _BLOB_FOLDER = folder


def _parse_chunk(chunk: tuple[int, list[tuple[str, str, str, int]]]):
    """A worker's share: [(position, content hash, Parsed or None, whether the parse is in the blob)] and the
    blob: the new parses pickled once, as bytes the main process both reads and keeps in the cache as they are
    (or the name of the file in the pool's folder that holds them). None without the blob flag: the main
    process's cache holds that content."""
    gc.disable()
    first, jobs = chunk
    out: list[tuple[int, str | None, Parsed | None, bool]] = []
    fresh: list[Parsed] = []
    here: dict[str, Parsed] = {}  # content hash -> parse, for the files of this chunk
    for n, job in enumerate(jobs):
        digest, parsed = _read_and_parse(job, known=_KNOWN, seen=here)
        if parsed is not None and digest is not None:
            fresh.append(parsed)
            out.append((first + n, digest, None, True))
        else:  # content the cache holds, or a file that could not be read (its Parsed says why)
            out.append((first + n, digest, parsed, False))
    _KNOWN.update(here)  # the main process holds these once it has read this chunk's answer
    blob = pickle.dumps(fresh, protocol=5)
    if _BLOB_FOLDER is not None and fresh:
        path = os.path.join(_BLOB_FOLDER, f"{os.getpid()}-{first}.pickle")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                write_all(fd, blob)
            finally:
                os.close(fd)
            return out, path
        except OSError:  # no room: through the pipe after all
            try:
                os.unlink(path)
            except OSError:
                pass
    return out, blob


def _parse_many(jobs: list[tuple[str, str, str, int]], cache: ParseCache, defer_secrets: bool = False,
                early: _EarlyParse | None = None):
    """Read and parse files, in worker processes when there are many. Each file is read exactly once,
    by whichever process parses it; content seen before (the cache) is not parsed again. Yields batches:
    ([(position in jobs, (content hash, Parsed or None if the cache holds it))], None or, from a worker,
    (its new parses pickled, the same unpickled)). ``defer_secrets``: this process parses alone and leaves the
    secrets of new parses to the caller (None). ``early``: workers already busy with ``jobs[:len(early.jobs)]``."""
    workers = min(os.cpu_count() or 1, 8)
    if early is None and not _in_parallel(len(jobs)):
        step = 200
        for s in range(0, len(jobs), step):
            yield [(s + n, _read_and_parse(job, cache, scan_secrets=not defer_secrets))
                   for n, job in enumerate(jobs[s:s + step])], None
        return
    if early is not None:
        pool, pending, start, workers = early.pool, early.pending, len(early.jobs), early.workers
    else:
        pool, pending, start = _make_pool(workers, frozenset(cache.where)), collections.deque(), 0
    size = max(32, (len(jobs) - start) // (workers * 8))
    chunks = [(i, jobs[i:i + size]) for i in range(start, len(jobs), size)]
    # this process parses too, taking the next chunk whenever no worker result is waiting: its own parses
    # need no pickling, and the dynamic split keeps every core busy until the last chunk
    nxt = 0
    try:
        while nxt < len(chunks) or pending:
            while nxt < len(chunks) and len(pending) < 2 * (workers - 1):  # keep every worker fed
                pending.append(pool.submit(_parse_chunk, chunks[nxt]))
                nxt += 1
            if pending and (pending[0].done() or nxt >= len(chunks)):
                yield _worker_batch(*pending.popleft().result())
            elif nxt < len(chunks):
                first, mine = chunks[nxt]
                nxt += 1
                yield [(first + n, _read_and_parse(job, cache)) for n, job in enumerate(mine)], None
    finally:
        pool.shutdown()


def _worker_batch(items: list, blob: bytes | str) -> tuple[list, tuple[bytes, list] | None]:
    if isinstance(blob, str):  # the file a worker wrote its parses to
        try:
            with open(blob, "rb") as fh:
                data = fh.read()
            os.unlink(blob)
        except OSError:  # gone: the parses it held are made here (load_project parses what has no parse)
            return [(pos, (digest, parsed)) for pos, digest, parsed, _ in items], None
        blob = data
    parses = pickle.loads(blob)  # made by our own worker just now
    fresh = iter(parses)
    batch = [(pos, (digest, next(fresh) if in_blob else parsed)) for pos, digest, parsed, in_blob in items]
    return batch, (blob, parses)


def scan(root: Path, opts: ScanOptions | None = None) -> dict[str, Any]:
    """Scan ``root``. The cyclic garbage collector is paused meanwhile: the model is a large, acyclic graph
    built once, and collection passes over it cost more than the scan itself on big trees."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(root, opts or ScanOptions())
    finally:
        if gc_was_enabled:
            gc.enable()


def _scan(root: Path, opts: ScanOptions) -> dict[str, Any]:
    t0 = time.perf_counter()
    if not root.exists():
        raise ScanError(f"path does not exist: {root}")
    if not root.is_dir():
        raise ScanError(f"not a directory: {root}")
    # detect-secrets gets ready in a child while this process loads the controls, config and tree
    detectors = DetectorProcess.start() if opts.use_secret_process else None
    to_close: list = [detectors] if detectors is not None else []  # helper processes, whatever happens
    try:
        return _scan_with(root, opts, t0, detectors, to_close)
    finally:
        for helper in to_close:
            helper.close()


def _scan_with(root: Path, opts: ScanOptions, t0: float, detectors: DetectorProcess | None,
               to_close: list) -> dict[str, Any]:
    controls = all_controls()
    known = set(controls)
    try:
        cfg = load_config(root, opts.config_path, known)
        waivers: list[Waiver] = []
        wpath = opts.waivers_path or (Path(root, cfg.waivers_file) if cfg.waivers_file else None)
        if wpath is None and (root / ".prodready" / "waivers.yaml").is_file():
            wpath = root / ".prodready" / "waivers.yaml"
        if wpath is not None:
            if not wpath.is_file():
                raise ConfigError(str(wpath), None, None, "waivers file not found")
            waivers = load_waivers(wpath, known)
    except ConfigError as exc:
        raise ScanError(f"invalid configuration: {exc}") from None
    cfg.enable = cfg.enable + opts.enable
    # attestations sit next to waivers: .prodready/
    from .checklist.attest import ATTESTATIONS_FILE, load_attestations

    attestations = load_attestations(root)
    today = opts.today or dt.date.today()
    listed_ns = time.time_ns()
    t_disc = time.perf_counter()
    early = _EarlyParse.start(root.resolve(), opts, cfg, detectors)
    if early is not None:
        to_close.append(early)
    disc = discover(root, opts.excludes + cfg.exclude, honour_gitignore=cfg.gitignore,
                    on_file=early.on_file if early is not None and early.streaming else None)
    stat_list = [(sf.rel, sf.abspath, sf.kind, sf.mtime_ns) for sf in disc.files]
    t_disc = time.perf_counter() - t_disc
    report_cache, key, report = None, None, None
    if opts.use_cache and opts.live is None:
        report_cache = ReportCache(opts.cache_dir or (disc.root / ".prodready" / "cache"))
        key = _fingerprint(disc, cfg, opts, today, [wpath, root / ATTESTATIONS_FILE])
        report = report_cache.load(key, stat_list)
    writer = project = None
    if report is not None:  # nothing the report depends on changed since it was written
        stats = {"files": len(disc.files), "cache_hits": len(disc.files), "report_cached": True,
                 "discover_s": round(t_disc, 3)}
        report["scanned_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if opts.progress:
            opts.progress(len(disc.files), len(disc.files))
        t_eval = 0.0
    else:
        project, stats = load_project(root, opts, cfg, disc, detectors, early)
        stats["discover_s"] = round(t_disc, 3)
        t_eval = time.perf_counter()
        report = evaluate(project, controls, cfg, waivers if opts.use_waivers else [], today,
                          waivers_file=str(wpath.relative_to(root)) if wpath and wpath.is_relative_to(root) else
                          (str(wpath) if wpath else None), waivers_disabled=not opts.use_waivers and bool(waivers),
                          live=opts.live, attestations=attestations)
        if report_cache is not None and key is not None:
            writer = report_cache.save_in_background(key, report, stat_list, listed_ns)
    if opts.live is not None:
        from .probe.merge import merge_messages

        merge_messages(report)  # static evidence beside the live verdict, in one message
    fail_under = opts.fail_under if opts.fail_under is not None else cfg.fail_under
    fail_on = opts.fail_on or cfg.fail_on
    report["gates"] = gates(report, fail_under, fail_on)
    if not stats.get("report_cached"):
        stats["evaluate_s"] = round(time.perf_counter() - t_eval, 3)
    report["duration_s"] = round(time.perf_counter() - t0, 3)
    _BACKGROUND.extend(pid for pid in (stats.pop("_saver", None), writer) if pid)
    if opts.exit_after:  # the model, the tree listing and the parse cache: freeing them object by object is wasted
        _KEPT.append((project, disc, stat_list, early))
    else:
        finish_background()
    report["stats"] = stats
    report["config"] = cfg.source and os.path.relpath(cfg.source, root)
    return report


_BACKGROUND: list[int] = []  # cache writers (forked children) not waited for yet
_KEPT: list = []  # what a scan built, kept alive until the process ends (ScanOptions.exit_after)


def finish_background() -> None:
    """Wait for the cache writers of earlier scans (see ``ScanOptions.defer_cache_writes``)."""
    while _BACKGROUND:
        cache_mod.wait(_BACKGROUND.pop())


def _fingerprint(disc: Discovery, cfg: Config, opts: ScanOptions, today: dt.date, inputs: list[Path | None]) -> str:
    """What a report depends on besides the discovered files themselves: prodready's code, the configuration,
    the date (waivers and attestations expire), the waivers and attestations files, and for Helm charts the
    `helm` binary and the chart dependencies under charts/ (not files prodready reads)."""
    parts = [__version__, _code_stamp(), environment_stamp(), str(disc.root), today.isoformat(), repr(cfg), repr(sorted(opts.enable)),
             str(opts.use_waivers), repr(disc.skipped), str(opts.config_path), str(opts.waivers_path)]
    for path in inputs:
        try:
            parts.append(path.read_bytes().hex() if path is not None else "-")
        except OSError:
            parts.append("missing")
    charts = [sf for sf in disc.files if sf.kind == "helm-chart"]
    if charts:
        import shutil

        parts.append(str(shutil.which("helm")))
        for sf in charts:
            parts += _chart_files(os.path.dirname(sf.abspath))
    return cache_mod.fingerprint(parts, [(sf.rel, sf.kind, sf.size, sf.mtime_ns) for sf in disc.files])


def _chart_files(chart_dir: str, limit: int = 5000) -> list[str]:
    """Every file of a Helm chart as "path:size:mtime", whether prodready reads it or not: `helm template` reads
    them all (dependencies under charts/, NOTES.txt, files read with .Files.Get, .helmignore...). Symbolic links
    are not followed; a huge chart is cut off at ``limit`` files (the listing then says so)."""
    out: list[str] = []
    for top, dirs, files in os.walk(chart_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out.append(f"{os.path.relpath(path, chart_dir)}:{st.st_size}:{st.st_mtime_ns}")
            if len(out) >= limit:
                return out + ["(cut off)"]
    return out


@functools.lru_cache(maxsize=1)
def environment_stamp() -> str:
    """The Python version and the state of the package directories: installing, upgrading or removing a
    package (a parser prodready uses, say) changes a site-packages directory's modification time, and cached
    parses and reports made with other libraries are not reused."""
    parts = [sys.version]
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            try:
                parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
            except OSError:
                continue
    return ";".join(parts)


@functools.lru_cache(maxsize=1)
def _code_stamp() -> str:
    """Size and modification time of every module of prodready: a report made by other code is not reused."""
    base = os.path.dirname(os.path.abspath(__file__))
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                out.append(f"{os.path.relpath(os.path.join(dirpath, name), base)}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(out)


# --- evaluate -----------------------------------------------------------------------------------

def _run_control(c: Control, project: Project) -> tuple[list[Outcome], str | None]:
    try:
        return list(c.evaluate(project)), None
    except Exception as exc:  # a control bug is an error result, never a crashed scan
        return [], f"control raised {type(exc).__name__}: {exc}"


def _suppression_applies(project: Project, sup, loc) -> bool:
    if sup.whole_file:
        return True
    if loc.line is None:
        return False
    if loc.line == sup.line:
        return True
    if loc.line < sup.line:
        return False
    text = project.sources.get(loc.path, "")
    lines = text.splitlines()
    for ln in range(sup.line + 1, loc.line):  # only blank lines and comments between comment and finding
        s = lines[ln - 1].strip() if ln - 1 < len(lines) else ""
        if s and not s.startswith(("#", "//", "/*", "*", "<!--")):
            return False
    return True


def _control_result(project: Project, cid: str, c: Control, cfg: Config, waivers: list[Waiver], today: dt.date,
                    live: dict[str, list[Outcome]] | None) -> tuple[dict, set[tuple[str, int]], dict[int, int]]:
    """One control's result, the suppressions it used and how often it used each waiver (by index)."""
    used_supp: set[tuple[str, int]] = set()
    uses: dict[int, int] = {}
    severity = cfg.severity.get(cid, c.severity)
    outcomes, error = _run_control(c, project)
    live_outcomes = (live or {}).get(cid, [])
    static_evidence = []
    if live_outcomes and any(o.status in ("pass", "fail") for o in live_outcomes):
        # the live verdict decides; static findings are shown as context, not counted
        static_evidence = [{**_evidence(project, o), "counted": False} for o in outcomes
                           if o.status in ("pass", "fail")]
        outcomes = live_outcomes
    else:
        outcomes = outcomes + [o for o in live_outcomes if o.status not in ("pass", "fail")]
    evidence, suppressed, waived = [], [], []
    n_pass = 0
    for o in outcomes:
        if o.status == "pass":
            n_pass += 1
            if n_pass > MAX_PASS_EVIDENCE:  # counted, not rendered: big trees have thousands
                continue
            evidence.append(_evidence(project, o))
            continue
        item = _evidence(project, o)
        if o.status == "fail" and o.loc is not None:
            parsed = project.parsed.get(o.loc.path)
            sup = next((s for s in parsed.suppressions
                        if s.reason and cid in s.controls and _suppression_applies(project, s, o.loc)),
                       None) if parsed is not None and parsed.suppressions else None
            if sup is not None:
                used_supp.add((o.loc.path, sup.line))
                suppressed.append({**item, "reason": sup.reason, "suppression_line": sup.line})
                continue
        if o.status == "fail" and waivers:
            w = _match_waiver(waivers, cid, o, today)
            if w is not None:  # counted by the caller from ``uses`` (this may run in a forked child)
                i = next(n for n, x in enumerate(waivers) if x is w)
                uses[i] = uses.get(i, 0) + 1
                waived.append({**item, "reason": w.reason, "expires": w.expires.isoformat()})
                continue
        evidence.append(item)
    statuses = {e["status"] for e in evidence}
    if error:
        status = "error"
    elif "fail" in statuses:
        status = "fail"
    elif "pass" in statuses or suppressed or waived:
        status = "pass"
    elif "needs_attestation" in statuses:
        status = "needs_attestation"
    else:
        status = "not_applicable"
    fails = [e for e in evidence if e["status"] == "fail"]
    if error:
        message = error
    elif status == "fail":
        message = fails[0]["message"] if len(fails) == 1 else f"{len(fails)} findings: {fails[0]['message']}"
    elif status == "pass" and (suppressed or waived) and not any(e["status"] == "pass" for e in evidence):
        message = f"passes only through {len(suppressed)} suppression(s) and {len(waived)} waiver(s)"
    else:
        relevant = [e for e in evidence if e["status"] == status]
        message = relevant[0]["message"] if relevant else "no evidence"
    return {
        "control_id": cid, "title": c.title, "category": c.category, "severity": severity,
        "status": status, "message": message, "weight": SEVERITIES[severity], "points_lost": 0.0,
        "verifiability": c.verifiability, "rationale": c.rationale, "remediation": c.remediation,
        "references": c.references, "evidence": _order(evidence), "suppressed": suppressed, "waived": waived,
        "counts": {"fail": len(fails), "pass": n_pass},
        "verdict_source": "live" if live_outcomes and static_evidence is not None and
                          any(o.status in ("pass", "fail") for o in live_outcomes) else "static",
        "static_evidence": static_evidence,
    }, used_supp, uses


PARALLEL_EVAL_MIN_FILES = 2000  # below this, forking costs more than it saves


def _evaluate_all(project: Project, active: list[tuple[str, Control]], cfg: Config, waivers: list[Waiver],
                  today: dt.date, live: dict[str, list[Outcome]] | None) -> list:
    """Results of the active controls, in order. On big trees a forked child evaluates controls too (the model
    is shared copy-on-write, only the finished result dicts come back): both processes take the next control
    from a shared queue until it is empty, so neither waits long for the other whatever each control costs."""
    def result(i: int):
        cid, c = active[i]
        return _control_result(project, cid, c, cfg, waivers, today, live)

    if len(project.files) < PARALLEL_EVAL_MIN_FILES or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return [result(i) for i in range(len(active))]
    import tempfile

    # the queue: control indexes, two bytes each, in a pipe both processes read from; a read of two bytes from
    # a pipe is never split between readers, and when it is empty (all writers closed) a read returns b""
    rfd, wfd = os.pipe()
    queue = b"".join(i.to_bytes(2, "big") for i in range(len(active)))
    if len(queue) > 65536:  # beyond a pipe's buffer the write would block: evaluate in this process
        os.close(rfd)
        os.close(wfd)
        return [result(i) for i in range(len(active))]
    os.write(wfd, queue)
    os.close(wfd)

    def take() -> int | None:
        item = os.read(rfd, 2)
        return int.from_bytes(item, "big") if len(item) == 2 else None

    # the child appends each result to a file as a frame (4-byte length, pickle) as soon as it has it; this
    # process reads what has arrived between its own controls, so little is left to read when both are done
    fd, path = tempfile.mkstemp(prefix="prodready-eval-", suffix=".frames")
    os.close(fd)

    def child() -> None:
        out = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            while (i := take()) is not None:
                frame = pickle.dumps((i, result(i)), protocol=5)
                write_all(out, len(frame).to_bytes(4, "big") + frame)
        finally:
            os.close(out)

    results: dict[int, Any] = {}
    try:
        frames = _Frames(path)
        try:
            pid = cache_mod.in_background(child)
            while (i := take()) is not None:
                results[i] = result(i)
                frames.collect(results)
            os.close(rfd)
            cache_mod.wait(pid)
            frames.collect(results)
        finally:
            frames.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    # whatever the child took but did not deliver (it failed) is evaluated here
    return [results[i] if i in results else result(i) for i in range(len(active))]


class _Frames:
    """Reads the evaluation child's results file as it grows: complete frames (4-byte length, then a pickle of
    (control index, result) made by our own child) are unpickled into ``results``; a frame cut short (the
    child died while writing it) is never read, and its control is evaluated again by the caller."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.buf = bytearray()

    def collect(self, results: dict[int, Any]) -> None:
        while chunk := os.read(self.fd, 1 << 20):
            self.buf += chunk
        at = 0
        while len(self.buf) - at >= 4:
            n = int.from_bytes(self.buf[at:at + 4], "big")
            if len(self.buf) - at - 4 < n:
                break
            try:
                i, res = pickle.loads(self.buf[at + 4:at + 4 + n])
                results[i] = res
            except Exception:  # a damaged frame: that control is evaluated again
                pass
            at += 4 + n
        del self.buf[:at]

    def close(self) -> None:
        os.close(self.fd)


def evaluate(project: Project, controls: dict[str, Control], cfg: Config, waivers: list[Waiver],
             today: dt.date, waivers_file: str | None = None, waivers_disabled: bool = False,
             live: dict[str, list[Outcome]] | None = None, attestations=None) -> dict[str, Any]:
    """Evaluate every control. ``attestations`` (checklist.attest.AttestationSet) turn ``needs_attestation``
    into ``pass`` until they expire (never a failure). ``live`` maps control ids to outcomes observed by probes: where a control has
    live outcomes, its verdict is the live one and the static evidence is kept beside it."""
    diagnostics = list(project.diagnostics)
    used_supp: set[tuple[str, int]] = set()
    # suppressions without a reason or with unknown ids are reported and do not apply
    for rel, parsed in project.parsed.items():
        for s in parsed.suppressions:
            if not s.reason:
                diagnostics.append(Diagnostic("suppression-invalid", rel, s.line,
                                              "suppression without a reason does not apply; write "
                                              "'prodready: ignore <control-id> -- <reason>'"))
            for cid in s.controls:
                if cid not in controls:
                    diagnostics.append(Diagnostic("suppression-invalid", rel, s.line, f"unknown control id {cid!r}"))
    active = [(cid, c) for cid, c in sorted(controls.items())
              if not (cid in cfg.disable or (c.optional and cid not in cfg.enable and "all" not in cfg.enable))]
    results = []
    for result, supp, uses in _evaluate_all(project, active, cfg, waivers, today, live):
        results.append(result)
        used_supp |= supp
        for i, n in uses.items():
            waivers[i].used += n
    for rel, parsed in project.parsed.items():
        for s in parsed.suppressions:
            if s.reason and (rel, s.line) not in used_supp and all(cid in controls for cid in s.controls):
                diagnostics.append(Diagnostic("suppression-unused", rel, s.line,
                                              f"suppression of {', '.join(s.controls)} matches no finding"))
    for w in waivers:
        if w.expires < today:
            diagnostics.append(Diagnostic("waiver-expired", waivers_file or "waivers", w.line,
                                          f"waiver for {w.control} ({w.path or w.resource}) expired on "
                                          f"{w.expires.isoformat()} and no longer applies"))
        elif w.used == 0:
            diagnostics.append(Diagnostic("waiver-unmatched", waivers_file or "waivers", w.line,
                                          f"waiver for {w.control} ({w.path or w.resource}) matches no finding"))
    if waivers_disabled:
        diagnostics.append(Diagnostic("waivers-disabled", waivers_file or "waivers", None,
                                      "--no-waivers: waivers were not applied (raw state shown)"))
    if attestations is not None:
        from .checklist.attest import apply_attestations

        diagnostics += apply_attestations(results, attestations, set(controls), today)
    score = score_results(results)
    kinds: dict[str, int] = {}
    for k in project.files.values():
        kinds[k] = kinds.get(k, 0) + 1
    for d in diagnostics:
        if d.kind == "parse-error":
            results.append({
                "control_id": "parse-error", "title": "File could not be parsed", "category": None,
                "severity": "high", "status": "error", "message": d.message, "weight": 0, "points_lost": 0.0,
                "verifiability": "repo", "rationale": "A file prodready cannot read is a file no control can judge.",
                "remediation": "Fix the syntax error at the given line, or exclude the file if it is not meant to be read.",
                "references": [], "evidence": [{"status": "error", "path": d.path, "line": d.line, "snippet":
                                                mask_secrets(project.line_text(d.path, d.line) or "") or None,
                                                "resource": None, "message": d.message}],
                "suppressed": [], "waived": [],
            })
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "prodready", "version": __version__},
        "root": project.root,
        "scanned_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": {"total": len(project.files), "by_kind": dict(sorted(kinds.items()))},
        **score,
        "results": results,
        "diagnostics": [{"kind": d.kind, "path": d.path, "line": d.line, "message": d.message} for d in diagnostics],
    }


def _order(evidence: list[dict]) -> list[dict]:
    rank = {"fail": 0, "needs_attestation": 1, "pass": 2, "not_applicable": 3}
    return sorted(evidence, key=lambda e: (rank.get(e["status"], 4), e["path"] or "", e["line"] or 0))


def _line_snippet(project: Project, path: str, line: int | None) -> str | None:
    """The masked text of a line, as evidence shows it; many controls point at the same lines (a container's
    first line, say), so each is read and masked once per scan."""
    memo = project.derived("evidence-snippets", dict)
    key = (path, line)
    try:
        return memo[key]
    except KeyError:
        known = project.secret_lines.get((path, line or 0))
        raw = known[1] if known else project.line_text(path, line)
        value = memo[key] = mask_secrets(raw) or None
        return value


def _evidence(project: Project, o: Outcome) -> dict:
    path = o.loc.path if o.loc else None
    line = o.loc.line if o.loc else None
    snippet = o.snippet
    if snippet is not None:
        snippet = mask_secrets(snippet) or None
    elif path and o.status != "pass":
        snippet = _line_snippet(project, path, line)
    item = {"status": o.status, "path": path, "line": line,
            "snippet": snippet, "resource": o.resource,
            "message": mask_secrets(o.message), "confidence": o.confidence, "source": o.source}
    if o.url:
        item["url"] = mask_secrets(o.url)
    if o.concept:
        item["concept"] = o.concept
    return item


def _match_waiver(waivers: list[Waiver], cid: str, o: Outcome, today: dt.date) -> Waiver | None:
    for w in waivers:
        if w.control != cid or w.expires < today:
            continue
        if w.path and not (o.loc and fnmatch.fnmatch(o.loc.path, w.path)):
            continue
        if w.resource and not (o.resource and (fnmatch.fnmatch(o.resource, w.resource) or fnmatch.fnmatch(
                RENDERED_BY_RX.sub("", o.resource), w.resource))):
            continue
        return w
    return None


# " (overlay deploy/k8s/overlays/prod)" in a resource ref (k8s_render): a waiver naming the resource without it
# covers every rendering of that resource; one naming the overlay covers that overlay only
RENDERED_BY_RX = re.compile(r" \((?:overlay|kustomization|helm chart|helm values) [^)]*\)")


# --- score --------------------------------------------------------------------------------------

def score_results(results: list[dict]) -> dict[str, Any]:
    """Category score = passed weight ÷ applicable weight × 100; overall = the same over all controls
    (the category scores' mean weighted by their applicable weight). ``needs_attestation`` counts as
    applicable and not passed; ``not_applicable`` and ``error`` count on neither side."""
    cats = []
    total_applicable = sum(r["weight"] for r in results if r["status"] in ("pass", "fail", "needs_attestation"))
    total_passed = sum(r["weight"] for r in results if r["status"] == "pass")
    for cid, title in CATEGORIES.items():
        rs = [r for r in results if r["category"] == cid]
        applicable = sum(r["weight"] for r in rs if r["status"] in ("pass", "fail", "needs_attestation"))
        passed_w = sum(r["weight"] for r in rs if r["status"] == "pass")
        cats.append({
            "id": cid, "title": title,
            "score": round(100.0 * passed_w / applicable, 1) if applicable else None,
            "passed": sum(r["status"] == "pass" for r in rs), "failed": sum(r["status"] == "fail" for r in rs),
            "not_applicable": sum(r["status"] == "not_applicable" for r in rs),
            "needs_attestation": sum(r["status"] == "needs_attestation" for r in rs),
            "errors": sum(r["status"] == "error" for r in rs),
            "passed_weight": passed_w, "applicable_weight": applicable,
        })
    for r in results:
        if r["status"] in ("fail", "needs_attestation") and total_applicable:
            r["points_lost"] = round(100.0 * r["weight"] / total_applicable, 2)
    score = round(100.0 * total_passed / total_applicable, 1) if total_applicable else 100.0
    return {"score": score, "level": maturity(results), "categories": cats,
            "weights": {"total_applicable": total_applicable, "total_passed": total_passed}}


def maturity(results: list[dict]) -> str:
    def ok(sevs: set[str]) -> bool:
        return all(r["status"] in ("pass", "not_applicable", "error") for r in results if r["severity"] in sevs)

    if not ok({"critical"}):
        return "none"
    if not ok({"critical", "high"}):
        return "bronze"
    if not ok(set(SEVERITIES)):
        return "silver"
    return "gold"


def gates(report: dict, fail_under: float | None, fail_on: str | None) -> dict[str, Any]:
    reasons = []
    if fail_under is not None and report["score"] < fail_under:
        reasons.append(f"score {report['score']} is below --fail-under {fail_under:g}")
    if fail_on is not None:
        floor = SEV_ORDER.index(fail_on)
        bad = [r for r in report["results"] if r["status"] == "fail" and r["severity"] in SEV_ORDER
               and SEV_ORDER.index(r["severity"]) >= floor]
        if bad:
            reasons.append(f"{len(bad)} failing control(s) at or above {fail_on}: "
                           + ", ".join(r["control_id"] for r in bad[:5]) + ("…" if len(bad) > 5 else ""))
    return {"fail_under": fail_under, "fail_on": fail_on, "failed": bool(reasons), "reasons": reasons}
