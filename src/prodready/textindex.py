"""Fast regular-expression search over every source of a project.

Controls look for terms across the whole tree (`kubecost`, `pg_dump`, `CREATE INDEX`...). Python's regex engine
scans a case-insensitive alternation character by character (a few hundred ns per character): over a 10 MB tree,
each such search costs tenths of a second. Most of those patterns contain literal text that any match must include.
:func:`required_literals` reads the pattern's syntax tree and returns a set of literals one of which every match
contains; :class:`TextIndex` finds the files holding one of them with ``str.find`` over one lower-cased copy of all
sources (C speed) and runs the pattern on those files only. Patterns without such literals are run on every file,
as before — the result is the same either way, only the time differs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

try:  # Python 3.11+
    from re import _constants as sre_c
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python < 3.11 is not supported, kept for clarity
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# The only characters that match an ASCII letter under re.IGNORECASE but do not lower-case to it: İ and ı (i),
# ſ (s). A text holding one can match a case-insensitive pattern where its lower-cased copy lacks the literal.
FOLDS_TO_ASCII = "\u0130\u0131\u017f"
MIN_LITERAL = 3  # shorter literals occur nearly everywhere; they would not narrow the search
_REPEATS = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", sre_c.MAX_REPEAT)}


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Lower-cased literals one of which every match of ``pattern`` contains, or None when no useful set exists
    (a literal shorter than :data:`MIN_LITERAL`, or a pattern that can match without any literal)."""
    try:
        tree = sre_parse.parse(pattern, flags)
    except Exception:  # let the regex engine report it
        return None
    found = _sequence(list(tree))
    if not found or min(len(s) for s in found) < MIN_LITERAL:
        return None
    return frozenset(s.lower() for s in found)


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two literal sets: longer shortest literal, then fewer alternatives."""
    if a is None:
        return b
    if b is None:
        return a
    ka, kb = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return a if ka >= kb else b


def _sequence(items: list) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run: list[str] = []
    for op, av in items:
        if op is sre_c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _better(best, frozenset(["".join(run)]))
            run = []
        if op is sre_c.SUBPATTERN:
            best = _better(best, _sequence(list(av[-1])))
        elif op is sre_c.BRANCH:
            alts = [_sequence(list(alt)) for alt in av[1]]
            if alts and all(a for a in alts):
                best = _better(best, frozenset().union(*alts))  # type: ignore[arg-type]
        elif op in _REPEATS:
            lo, _hi, body = av
            if lo >= 1:
                best = _better(best, _sequence(list(body)))
        elif op is getattr(sre_c, "ATOMIC_GROUP", None):
            best = _better(best, _sequence(list(av)))
    if run:
        best = _better(best, frozenset(["".join(run)]))
    return best


class LowerJoined:
    """Many texts lower-cased and joined into one string (a NUL after each), with the offset where each starts:
    "which of the texts contain one of these words" is then a few ``str.find`` calls over one string instead of a
    test of each of thousands of texts."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.starts: list[int] = []
        chunks: list[str] = []
        pos = 0
        for text in texts:
            low = text.lower()  # hits are only mapped back to texts, so a length change does not matter
            self.starts.append(pos)
            chunks.append(low)
            chunks.append("\0")
            pos += len(low) + 1
        self.text = "".join(chunks)

    def holding(self, words: Iterable[str]) -> set[int]:
        """Positions of the texts whose ``str.lower()`` contains one of ``words`` (lower-case, without a NUL, so a
        hit never spans two texts)."""
        hit: set[int] = set()
        text, starts = self.text, self.starts
        for word in words:
            i = text.find(word)
            while i >= 0:
                f = bisect.bisect_right(starts, i) - 1
                hit.add(f)
                nxt = starts[f + 1] if f + 1 < len(starts) else len(text)
                i = text.find(word, nxt)  # one hit per text is enough
        return hit


class TextIndex(LowerJoined):
    """All sources concatenated, lower-cased, with the offset where each file starts."""

    def __init__(self, sources: Iterable[tuple[str, str]]) -> None:
        self.paths: list[str] = []
        self.always: set[str] = set()  # files never ruled out (see FOLDS_TO_ASCII)
        texts: list[str] = []
        for path, text in sources:
            if not text.isascii() and any(ch in text for ch in FOLDS_TO_ASCII):
                self.always.add(path)
            self.paths.append(path)
            texts.append(text)
        super().__init__(texts)

    def candidates(self, literals: frozenset[str]) -> set[str]:
        """Paths whose text contains (case-insensitively) at least one of ``literals``."""
        return {self.paths[f] for f in self.holding(literals)} | self.always
