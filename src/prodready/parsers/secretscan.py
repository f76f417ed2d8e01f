"""Secret detection in file text, scoped for speed: a cheap literal pre-filter picks candidate lines and
only those go through detect-secrets' detectors (keyword, cloud and SaaS token formats, private keys,
credentials in URLs). High-entropy detectors are left out: on real trees they flag hashes, revision ids
and lockfile integrity fields far more often than secrets. Values are masked before they are stored."""

from __future__ import annotations

import math
import os
import pickle
import re
import sys
import time
import types
from contextlib import contextmanager
from functools import lru_cache

from ..fdio import read_all, write_all
from ..secrets import WEAK_VALUE_RX, mask_value
from ..textindex import FOLDS_TO_ASCII

# A line is a candidate only if a secret-like name is assigned a literal value (not a reference such as
# `${X}`, `{{ }}`, `$(...)`, a mapping or list) or it carries a known credential format. Most lines that merely
# mention "password" (`- name: DB_PASSWORD`, `secretKeyRef:`) never reach the detectors.
PREFILTER = re.compile(
    r"(?i)(?:(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_ -]?key|credential|"
    r"auth|accountkey|sharedaccesskey)[\w.\-]*[\"']?\s*(?::|=>|=)\s*[\"']?(?![\s\"'{$\[<(]|$)"
    r"|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|sk_live|sk_test|rk_live|sk-[a-z0-9]{16}|npm_[a-z0-9]{30}"
    r"|eyJ[a-z0-9_-]{10}|-----BEGIN|AIza[0-9a-z_-]{30}|SG\.[\w-]{20}|\bSK[0-9a-f]{32}|[0-9a-f]{32}-us\d"
    r"|hooks\.slack\.com/services/|://[^/\s:@]+:[^/\s@]+@)"
)
# Every match of PREFILTER begins with one of these literals (lower-cased), at the offset given: finding the
# literals with str.find and trying the pattern only there is ~50x faster than searching with the pattern,
# whose case-insensitive alternation has no literal prefix for the regex engine to skip ahead with.
_ANCHORS = (("pass", 0), ("pwd", 0), ("secret", 0), ("token", 0), ("api", 0), ("access", 0), ("private", 0),
            ("credential", 0), ("auth", 0), ("accountkey", 0), ("sharedaccesskey", 0), ("akia", 0), ("asia", 0),
            ("gh", 0), ("glpat-", 0), ("xox", 0), ("sk", 0), ("rk_live", 0), ("npm_", 0), ("eyj", 0),
            ("-----begin", 0), ("aiza", 0), ("sg.", 0), ("-us", -32), ("hooks.slack.com/services/", 0), ("://", 0))


def candidate_starts(text: str) -> list[int]:
    """Sorted offsets in ``text`` where a PREFILTER match starts (every line that has a match is represented)."""
    low = text.lower()
    # a few characters change length when lower-cased (offsets would drift) or match an ASCII letter without
    # lower-casing to it (the anchors would miss them): such texts take the plain search
    if len(low) != len(text) or (not text.isascii() and any(ch in text for ch in FOLDS_TO_ASCII)):
        return sorted({m.start() for m in PREFILTER.finditer(text)})
    match = PREFILTER.match  # case-insensitive, so matching the lower-cased text is the same test
    starts: set[int] = set()
    for lit, shift in _ANCHORS:
        i = low.find(lit)
        while i >= 0:
            pos = i + shift
            if pos >= 0 and match(low, pos):
                starts.add(pos)
            i = low.find(lit, i + 1)
    return sorted(starts)


SKIP_TYPES = {"Base64 High Entropy String", "Hex High Entropy String", "Public IP (ipv4)"}
MAX_LINE = 2000


class _InertMeta(type):
    def __getattr__(cls, name: str) -> type:
        return cls


class _Inert(Exception, metaclass=_InertMeta):
    """Stands for any attribute of the ``requests`` stand-in (``requests.Response``, ``requests.exceptions...``)."""


@contextmanager
def _without_requests():
    """detect-secrets imports ``requests`` at module level only to *verify* secrets against live services, which
    prodready never asks for (a scan makes no network call). Loading requests and its TLS stack is ~0.1 s, a
    quarter of a small scan, in every worker process. While detect-secrets is imported, ``requests`` is an inert
    stand-in; it is removed right after, so whoever imports ``requests`` (before or later) gets the real one."""
    if "requests" in sys.modules:
        yield
        return
    stub = types.ModuleType("requests", "inert stand-in used while detect-secrets is imported (no verification)")
    stub.__getattr__ = lambda name: _Inert  # type: ignore[method-assign]
    sys.modules["requests"] = stub
    try:
        yield
    finally:
        if sys.modules.get("requests") is stub:
            del sys.modules["requests"]


@lru_cache(maxsize=1)
def _configured() -> bool:
    with _without_requests():
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import _process_line_based_plugins
        from detect_secrets.settings import get_settings

        plugins = [{"name": cls.__name__} for t, cls in get_mapping_from_secret_type_to_class().items()
                   if t not in SKIP_TYPES]
        get_settings().configure_plugins(plugins)
        # plugins and filters load their modules on first use: use them once here, under the guard
        list(_process_line_based_plugins([(1, "password = 'warm-up'")], "warm-up.py"))
    return True


def find_secrets(text: str, filename: str = "file.txt") -> list[tuple[int, str, str]]:
    """(line, secret type, masked line) for each secret found. ``filename`` picks detect-secrets' rules for
    the file type (``key: value`` in YAML, ``key = "value"`` in Python...)."""
    starts = candidate_starts(text)
    if not starts:
        return []
    _configured()
    candidates: list[tuple[int, str]] = []
    seen_lines: set[int] = set()
    for pos in starts:
        line_no = text.count("\n", 0, pos) + 1
        if line_no in seen_lines:
            continue
        seen_lines.add(line_no)
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        line = text[start:end if end >= 0 else None]
        if len(line) <= MAX_LINE:
            candidates.append((line_no, line))
    found: dict[int, tuple[int, str, str]] = {}
    lines = dict(candidates)
    try:
        hits = _detect(candidates, filename, text)
    except Exception:  # a detector bug must not stop the scan
        return []
    for n, stype, value in hits:
        value = value or ""
        line = lines.get(n, "")
        if n in found or not value or _placeholder(value) or WEAK_VALUE_RX.match(value.strip("'\"")):
            continue
        if stype == "Secret Keyword" and (_names_a_reference(line) or not _credential_like(value)):
            continue  # `secretKey: database-url` names a key; real values mix letters and digits
        found[n] = (n, stype, line.replace(value, mask_value(value)).strip()[:200])
    # detect-secrets' keyword list has no "token"; an assignment to a token-like name of a credential-like
    # literal is a secret too
    for n, line in candidates:
        if n in found:
            continue
        m = KEYWORD_ASSIGN.search(line)
        if not m or _names_a_reference(line):
            continue
        value = m.group("val")
        if _placeholder(value) or WEAK_VALUE_RX.match(value) or not _credential_like(value):
            continue
        found[n] = (n, "Secret Keyword", line.replace(value, mask_value(value)).strip()[:200])
    return sorted(found.values())


_LINE_MEMO: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
_MEMO_MAX = 100_000


def _detect(candidates: list[tuple[int, str]], filename: str, text: str) -> list[tuple[int, str, str | None]]:
    """(line, type, value) of detect-secrets' findings on the candidate lines.

    The same line recurs across the files of a repository (``- name: DB_PASSWORD``, ``secretKeyRef:``...), and
    detect-secrets' verdict on a line depends only on the line and the file type (its keyword rules and its
    comment syntax are chosen by file extension) — except through an allowlist pragma on the previous line.
    So verdicts are memoised per (file type, line) and reused; files that mention ``allowlist`` are scanned
    whole."""
    from detect_secrets.core.scan import _process_line_based_plugins
    from detect_secrets.util.filetype import determine_file_type

    if "allowlist" in text.lower():
        # the pragma may sit on the line before (`allowlist nextline`): detect-secrets reads it from the lines
        # around, which it looks up by line number in the list it is given, so it is given every line (overlong
        # ones blanked) and its findings are kept on the candidate lines
        wanted = {n for n, _ in candidates}
        every = [(n, line if len(line) <= MAX_LINE else "") for n, line in enumerate(text.split("\n"), 1)]
        return [(s.line_number, s.type, s.secret_value)
                for s in _process_line_based_plugins(every, filename) if s.line_number in wanted]
    ftype = determine_file_type(filename).name
    out: list[tuple[int, str, str | None]] = []
    todo = []
    for n, line in candidates:
        hit = _LINE_MEMO.get((ftype, line.rstrip()))
        if hit is None:
            todo.append((n, line))
        else:
            out += [(n, t, v) for t, v in hit]
    if todo:
        fresh: dict[int, list[tuple[str, str | None]]] = {n: [] for n, _ in todo}
        for s in _process_line_based_plugins(todo, filename):
            fresh.setdefault(s.line_number, []).append((s.type, s.secret_value))
        if len(_LINE_MEMO) > _MEMO_MAX:
            _LINE_MEMO.clear()
        for n, line in todo:
            _LINE_MEMO[(ftype, line.rstrip())] = fresh[n]
            out += [(n, t, v) for t, v in fresh[n]]
    return sorted(out, key=lambda x: x[0])


KEYWORD_ASSIGN = re.compile(
    r"""(?i)(?P<key>[\w.\-]*(token|secret|passw(or)?d|pwd|api[_-]?key|access[_-]?key|private[_-]?key|"""
    r"""client[_-]?secret|auth[_-]?key)[\w.\-]*)["']?\s*[:=]\s*["']?(?P<val>[^\s"'#,;`]{12,})""")
# keys that name or point at a secret rather than hold one: secretName, tokenUrl, password_file, ...
REFERENCE_KEY = re.compile(r"""(?i)[\w.\-]*(token|secret|passw(or)?d|key)[\w.\-]*?[_.\-]?(name|ref|refs|file|path|id|url|uri|"""
                           r"""endpoint|type|length|ttl|header|field|mount|dir|env|var|arn|version|key_?ref)["']?\s*[:=]""")


def _names_a_reference(line: str) -> bool:
    return bool(REFERENCE_KEY.search(line))


def _credential_like(value: str) -> bool:
    """Long, mixed letters and digits, and not a plain word, path, URL or reference."""
    if value.startswith(("$", "{{", "<", "/", "./", "http://", "https://", "file:", "arn:")) or "${" in value:
        return False
    has_alpha = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    if not (has_alpha and has_digit):
        return False
    counts = {c: value.count(c) for c in set(value)}
    entropy = -sum(k / len(value) * math.log2(k / len(value)) for k in counts.values())
    return entropy >= 3.0


_PLACEHOLDER = re.compile(r"^(\$\{.*\}|\$\(.*\)|\{\{.*\}\}|<.*>|%\(.*\)s|x{3,}|\*+|\.\.\.|changeme|change-me|"
                          r"your[-_].*|example.*|dummy|placeholder|none|null|true|false|password|secret|redacted)$", re.I)


def _placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value.strip().strip("'\"")))


class DetectorProcess:
    """detect-secrets' detectors made ready in a forked child while the scan starts.

    Loading and configuring detect-secrets (its plugins compile some eighty regexes) takes ~60 ms, a fifth of a
    scan of a small repository, and nothing else of that scan needs it: so a child process pays it while this
    one loads the controls, reads the configuration, walks and parses the tree. This process then sends the
    texts whose lines pass the pre-filter and gets back ``find_secrets`` of each. The child reads nothing from
    disk, and if it fails or does not answer in time the caller scans the texts itself: nothing is lost."""

    TIMEOUT_S = 20.0
    started = False  # once per process: a long-lived one (a server, a test run) loads the detectors itself later

    def __init__(self, pid: int, jobs: int, results: int) -> None:
        self.pid, self.jobs, self.results = pid, jobs, results

    @classmethod
    def start(cls) -> DetectorProcess | None:
        """A ready-to-use child, or None where fork is unavailable or this process has the detectors already."""
        if not hasattr(os, "fork") or _loaded_here() or cls.started:
            return None
        cls.started = True
        jobs_r, jobs_w = os.pipe()
        results_r, results_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: get ready, then answer one request and leave without running parent cleanup
            code = 0
            try:
                os.close(jobs_w)
                os.close(results_r)
                _configured()
                request = read_all(jobs_r)
                items = pickle.loads(request) if request else []  # from our own parent, through a private pipe
                if items:
                    write_all(results_w, pickle.dumps([find_secrets(text, name) for text, name in items]))
            except BaseException:
                code = 1
            os._exit(code)
        os.close(jobs_r)
        os.close(results_w)
        return cls(pid, jobs_w, results_r)

    def find_all(self, items: list[tuple[str, str]]) -> list[list[tuple[int, str, str]]] | None:
        """``find_secrets(text, name)`` for each (text, name) from the child, or None if it could not answer."""
        try:
            write_all(self.jobs, pickle.dumps(items, protocol=5))
            os.close(self.jobs)
            self.jobs = -1
            answer = read_all(self.results, deadline=time.monotonic() + self.TIMEOUT_S)
            out = pickle.loads(answer) if answer else None
        except Exception:
            out = None
        self.close()
        return out if isinstance(out, list) and len(out) == len(items) else None

    def close(self) -> None:
        """Let the child go (an empty request) and reap it."""
        for fd in (self.jobs, self.results):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.jobs = self.results = -1
        if self.pid:
            try:
                if os.waitpid(self.pid, os.WNOHANG) == (0, 0):  # still busy (a request was cut short): stop it
                    os.kill(self.pid, 9)
                    os.waitpid(self.pid, 0)
            except (ChildProcessError, ProcessLookupError):
                pass
            self.pid = 0


def _loaded_here() -> bool:
    return _configured.cache_info().currsize > 0


