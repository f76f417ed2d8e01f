"""Parse cache keyed by content hash, stored inside the scanned root (``.prodready/cache``).

The cache file sits in a repository we do not trust, so it is read with a restricted unpickler that
can only build prodready's own parse-result classes and plain containers: a planted cache file can
at worst be rejected, never execute code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import tempfile
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


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in parse cache")


def content_hash(data: bytes, kind: str) -> str:
    """Key of a parse: the content and the kind it was parsed as (the same bytes parse differently as a
    Compose file and as a Kubernetes manifest)."""
    return hashlib.blake2b(data, digest_size=16, person=kind.encode()[:16]).hexdigest()


class ParseCache:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.entries: dict[str, Any] = {}  # content hash -> Parsed
        self.index: dict[str, tuple[int, int, str]] = {}  # rel -> (size, mtime_ns, hash)
        self.hits = 0
        self.dirty = False
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
                data = _SafeUnpickler(io.BytesIO(fh.read())).load()
            if isinstance(data, dict) and data.get("version") == PARSER_VERSION:
                self.entries = data.get("entries", {})
                self.index = data.get("index", {})
        except Exception:  # a corrupt or planted cache is simply ignored
            self.entries, self.index = {}, {}

    def lookup_stat(self, rel: str, size: int, mtime_ns: int) -> Any | None:
        hit = self.index.get(rel)
        if hit and hit[0] == size and hit[1] == mtime_ns:
            parsed = self.entries.get(hit[2])
            if parsed is not None:
                self.hits += 1
                return parsed if parsed.rel == rel else dataclasses.replace(parsed, rel=rel)
        return None

    def lookup_hash(self, rel: str, digest: str) -> Any | None:
        """Same content (and kind) seen before, possibly under another path: reuse its parse."""
        parsed = self.entries.get(digest)
        if parsed is None:
            return None
        self.hits += 1
        return parsed if parsed.rel == rel else dataclasses.replace(parsed, rel=rel)

    def store(self, rel: str, size: int, mtime_ns: int, digest: str, parsed: Any) -> None:
        self.entries[digest] = parsed
        self.index[rel] = (size, mtime_ns, digest)
        self.dirty = True

    def save_in_background(self, live_rels: set[str]) -> int | None:
        """Write the cache from a forked child so the scan goes on evaluating meanwhile (pickling a large
        tree takes as long as evaluating it). Returns the child's pid, to :func:`wait` for; falls back to
        writing in-process where fork is unavailable."""
        if self.directory is None or not self.dirty:
            return None
        if not hasattr(os, "fork"):
            self.save(live_rels)
            return None
        pid = os.fork()
        if pid == 0:  # child: write and leave without running any parent cleanup
            code = 0
            try:
                self.save(live_rels)
            except BaseException:
                code = 1
            os._exit(code)
        return pid

    @staticmethod
    def wait(pid: int | None) -> None:
        if pid:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    def save(self, live_rels: set[str]) -> None:
        if self.directory is None or not self.dirty:
            return
        index = {r: v for r, v in self.index.items() if r in live_rels}
        keep = {v[2] for v in index.values()}
        entries = {h: p for h, p in self.entries.items() if h in keep}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            gi = self.directory.parent / ".gitignore"
            if self.directory.parent.name == ".prodready" and not gi.exists():
                gi.write_text("cache/\n", encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".parse-", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump({"version": PARSER_VERSION, "entries": entries, "index": index}, fh, protocol=5)
            os.replace(tmp, self.file)  # atomic: a concurrent or failed run never leaves a torn file
        except OSError:
            pass  # a read-only tree simply gets no cache
