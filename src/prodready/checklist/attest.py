"""Attestations: what a person vouches for, with evidence and an expiry, in ``.prodready/attestations.yaml``.

    attestations:
      - control: data.restore-tested
        by: Jane Doe
        evidence: https://wiki.example.com/ops/restore-test-2026-01
        date: 2026-01-15          # when it was recorded
        expires: 2026-07-15
        note: restored the production dump into staging in 22 minutes

The file lives in the repository and is reviewed like code. During a scan an attestation that has not expired
turns a control that is ``needs_attestation`` into ``pass``, with the attestation as its evidence. It never
overrides a failing finding: accepting a known failure is what a waiver (with a reason) is for. So an
attestation may name any control, manual or not — for a live control scanned without a probe, say — but it only
counts where the scan itself cannot decide.

Problems never stop a scan; they are reported as diagnostics: an expired attestation
(``attestation-expired``), one for a control that does not exist (``attestation-unknown-control``), an entry that
misses a field or is not valid YAML (``attestation-invalid``), and one that could not apply because the control
fails (``attestation-ignored``).

Writing (``prodready attest``) is safe under concurrency: an exclusive lock on a sibling lock file serialises
writers, the current file is re-read under the lock, and the new text is written to a temporary file and moved
into place atomically, so readers see either the old or the new file and no entry is lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..model import Diagnostic
from ..parsers.yamlsafe import YamlError, load_all

ATTESTATIONS_FILE = Path(".prodready") / "attestations.yaml"
REQUIRED = ("control", "by", "evidence", "expires")
KNOWN_KEYS = {"control", "by", "evidence", "date", "expires", "note"}
HEADER = ("# Attestations: what people vouch for that prodready cannot see in the repository.\n"
          "# Written by `prodready attest CONTROL --by NAME --evidence URL --expires DATE`; review changes like code.\n"
          "attestations:\n")


@dataclass
class Attestation:
    control: str
    by: str
    evidence: str
    expires: dt.date
    date: dt.date | None = None
    note: str | None = None
    line: int | None = None

    def valid_on(self, day: dt.date) -> bool:
        return self.expires >= day

    def describe(self) -> str:
        when = f" on {self.date.isoformat()}" if self.date else ""
        return f"attested by {self.by}{when}, expires {self.expires.isoformat()}: {self.evidence}"


@dataclass
class AttestationSet:
    path: str  # as shown in reports (relative to the scanned root when inside it)
    items: list[Attestation] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_attestations(text: str, shown_path: str) -> AttestationSet:
    """Attestations in ``text``; malformed entries become diagnostics, never exceptions."""
    out = AttestationSet(shown_path)
    try:
        docs = load_all(text).docs
    except YamlError as exc:
        out.problems.append(Diagnostic("attestation-invalid", shown_path, exc.line,
                                       f"not valid YAML ({exc.message}); no attestation applied"))
        return out
    if not docs or docs[0].data is None:
        return out
    data = docs[0].data
    entries = data.get("attestations") if isinstance(data, dict) else data
    if entries is None:
        return out
    if not isinstance(entries, list):
        out.problems.append(Diagnostic("attestation-invalid", shown_path, getattr(data, "line", None),
                                       "expected a list of attestations under 'attestations:'"))
        return out
    lines = getattr(entries, "item_lines", [])
    for i, e in enumerate(entries):
        line = lines[i] if i < len(lines) else None
        if not isinstance(e, dict):
            out.problems.append(Diagnostic("attestation-invalid", shown_path, line,
                                           f"attestations[{i}] is not a mapping; ignored"))
            continue
        missing = [k for k in REQUIRED if not e.get(k)]
        unknown = sorted(str(k) for k in e if k not in KNOWN_KEYS)
        expires = _date(e.get("expires"))
        if missing or unknown or expires is None:
            why = (f"missing {', '.join(missing)}" if missing else
                   f"unknown key(s) {', '.join(unknown)}" if unknown else "expires must be a date YYYY-MM-DD")
            out.problems.append(Diagnostic("attestation-invalid", shown_path, line,
                                           f"attestation for {e.get('control', '?')}: {why}; ignored"))
            continue
        note = e.get("note")
        out.items.append(Attestation(str(e["control"]), str(e["by"]), str(e["evidence"]), expires,
                                     _date(e.get("date")), str(note) if note is not None else None, line))
    return out


def load_attestations(root: Path, path: Path | None = None) -> AttestationSet:
    """The attestations of the project at ``root`` (``.prodready/attestations.yaml``); empty when absent."""
    path = path or root / ATTESTATIONS_FILE
    try:
        shown = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        shown = str(path)
    if not path.is_file():
        return AttestationSet(shown)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        s = AttestationSet(shown)
        s.problems.append(Diagnostic("attestation-invalid", shown, None, f"cannot read: {exc}"))
        return s
    return parse_attestations(text, shown)


def current(attestations: AttestationSet, control_id: str, today: dt.date) -> Attestation | None:
    """The attestation that applies to ``control_id`` today: the valid one that expires last."""
    valid = [a for a in attestations.items if a.control == control_id and a.valid_on(today)]
    return max(valid, key=lambda a: (a.expires, a.line or 0)) if valid else None


def apply_attestations(results: list[dict], attestations: AttestationSet, known: set[str],
                       today: dt.date) -> list[Diagnostic]:
    """Turn ``needs_attestation`` results with a valid attestation into ``pass`` (in place); return the
    diagnostics to report (file problems, expired, unknown-control and ignored attestations)."""
    diags = list(attestations.problems)
    by_id = {r.get("control_id"): r for r in results}
    for a in attestations.items:
        if a.control not in known:
            diags.append(Diagnostic("attestation-unknown-control", attestations.path, a.line,
                                    f"attestation names unknown control {a.control!r}; it applies to nothing"))
        elif not a.valid_on(today):
            if current(attestations, a.control, today) is None:
                diags.append(Diagnostic("attestation-expired", attestations.path, a.line,
                                        f"attestation for {a.control} by {a.by} expired on "
                                        f"{a.expires.isoformat()} and no longer counts"))
    for cid, r in by_id.items():
        a = current(attestations, cid, today)
        if a is None:
            continue
        if r["status"] == "needs_attestation":
            r["status"] = "pass"
            r["message"] = a.describe()
            r["attestation"] = {"by": a.by, "evidence": a.evidence, "date": a.date.isoformat() if a.date else None,
                                "expires": a.expires.isoformat(), "note": a.note}
            ev = {"status": "pass", "path": attestations.path, "line": a.line, "snippet": None, "resource": None,
                  "message": a.describe() + (f" ({a.note})" if a.note else ""), "confidence": "high",
                  "source": "attestation", "url": a.evidence}
            r["evidence"] = [ev] + [e for e in r.get("evidence", []) if e.get("status") != "needs_attestation"]
            r["verdict_source"] = "attestation"
            if isinstance(r.get("counts"), dict):
                r["counts"]["pass"] = r["counts"].get("pass", 0) + 1
        elif r["status"] == "fail":
            diags.append(Diagnostic("attestation-ignored", attestations.path, a.line,
                                    f"attestation for {cid} does not override its failing findings; fix them or "
                                    "waive them with a reason"))
    return diags


# --- writing ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(lock_path: Path, timeout: float = 30.0) -> Iterator[None]:
    """An exclusive inter-process lock held on ``lock_path`` (flock where available, else O_EXCL)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        fcntl = None  # type: ignore[assignment]
    if fcntl is not None:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    deadline = time.monotonic() + timeout  # pragma: no cover - non-POSIX
    while True:  # pragma: no cover
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not lock {lock_path}") from None
            time.sleep(0.05)
    try:  # pragma: no cover
        yield
    finally:  # pragma: no cover
        os.close(fd)
        os.unlink(lock_path)


def _scalar(value: str) -> str:
    """A YAML scalar for ``value`` that reads back as the same string (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def entry_text(a: Attestation) -> str:
    lines = [f"  - control: {a.control}", f"    by: {_scalar(a.by)}", f"    evidence: {_scalar(a.evidence)}"]
    if a.date:
        lines.append(f"    date: {a.date.isoformat()}")
    lines.append(f"    expires: {a.expires.isoformat()}")
    if a.note:
        lines.append(f"    note: {_scalar(a.note)}")
    return "\n".join(lines) + "\n"


def _same(a: Attestation, b: Attestation) -> bool:
    return (a.control, a.by, a.evidence, a.expires, a.date, a.note or None) == \
           (b.control, b.by, b.evidence, b.expires, b.date, b.note or None)


def record_attestation(root: Path, a: Attestation) -> Path:
    """Append ``a`` to ``root/.prodready/attestations.yaml`` atomically, under an exclusive lock.

    Existing text (comments included) is kept: the entry is appended to the list. When the existing file is not
    a plain list we can append to, the whole file is rewritten from its parsed entries instead."""
    path = root / ATTESTATIONS_FILE
    with _locked(path.with_name(path.name + ".lock")):
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        before = parse_attestations(old, str(path)) if old.strip() else AttestationSet(str(path))
        if before.problems and any("YAML" in d.message or "expected a list" in d.message for d in before.problems):
            raise ValueError(f"{path} is not a valid attestations file ({before.problems[0].message}); fix it "
                             "first")
        text = (old if old.endswith("\n") or not old else old + "\n") if old.strip() else HEADER
        candidate = text + entry_text(a)
        after = parse_attestations(candidate, str(path))
        if len(after.items) != len(before.items) + 1 or not _same(after.items[-1], a):
            candidate = HEADER + "".join(entry_text(x) for x in before.items + [a])
        fd, tmp = tempfile.mkstemp(prefix=".attestations.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(candidate)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return path
