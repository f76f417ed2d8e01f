"""Secret detection in file text, scoped for speed: a cheap literal pre-filter picks candidate lines and
only those go through detect-secrets' detectors (keyword, cloud and SaaS token formats, private keys,
credentials in URLs). High-entropy detectors are left out: on real trees they flag hashes, revision ids
and lockfile integrity fields far more often than secrets. Values are masked before they are stored."""

from __future__ import annotations

import math
import re
from functools import lru_cache

from ..secrets import WEAK_VALUE_RX, mask_value

PREFILTER = re.compile(
    r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|apikey|access[_-]?key|private[_ -]key|credential|auth|"
    r"AKIA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|sk_live|sk-[a-z0-9]|eyJ[a-z0-9_-]{10}|-----BEGIN|://[^/\s:@]+:[^/\s@]+@)"
)
SKIP_TYPES = {"Base64 High Entropy String", "Hex High Entropy String", "Public IP (ipv4)"}
MAX_LINE = 2000


@lru_cache(maxsize=1)
def _configured() -> bool:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import get_settings

    plugins = [{"name": cls.__name__} for t, cls in get_mapping_from_secret_type_to_class().items()
               if t not in SKIP_TYPES]
    get_settings().configure_plugins(plugins)
    return True


def find_secrets(text: str, filename: str = "file.txt") -> list[tuple[int, str, str]]:
    """(line, secret type, masked line) for each secret found. ``filename`` picks detect-secrets' rules for
    the file type (``key: value`` in YAML, ``key = "value"`` in Python...)."""
    if not PREFILTER.search(text):
        return []
    _configured()
    from detect_secrets.core.scan import _process_line_based_plugins

    candidates: list[tuple[int, str]] = []
    seen_lines: set[int] = set()
    for m in PREFILTER.finditer(text):
        line_no = text.count("\n", 0, m.start()) + 1
        if line_no in seen_lines:
            continue
        seen_lines.add(line_no)
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        line = text[start:end if end >= 0 else None]
        if len(line) <= MAX_LINE:
            candidates.append((line_no, line))
    found: dict[int, tuple[int, str, str]] = {}
    lines = dict(candidates)
    try:
        hits = list(_process_line_based_plugins(candidates, filename))
    except Exception:  # a detector bug must not stop the scan
        return []
    for s in hits:
        value = s.secret_value or ""
        n = s.line_number
        line = lines.get(n, "")
        if n in found or not value or _placeholder(value) or WEAK_VALUE_RX.match(value.strip("'\"")):
            continue
        if s.type == "Secret Keyword" and (_names_a_reference(line) or not _credential_like(value)):
            continue  # `secretKey: database-url` names a key; real values mix letters and digits
        found[n] = (n, s.type, line.replace(value, mask_value(value)).strip()[:200])
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
