"""Secret detection in file text, scoped for speed: a cheap literal pre-filter picks candidate lines and
only those go through detect-secrets' detectors (keyword, cloud and SaaS token formats, private keys,
credentials in URLs). High-entropy detectors are left out: on real trees they flag hashes, revision ids
and lockfile integrity fields far more often than secrets. Values are masked before they are stored."""

from __future__ import annotations

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


def find_secrets(text: str) -> list[tuple[int, str, str]]:
    """(line, secret type, masked line) for each secret found."""
    if not PREFILTER.search(text):
        return []
    _configured()
    from detect_secrets.core.scan import scan_line

    found: list[tuple[int, str, str]] = []
    seen_lines: set[int] = set()
    for m in PREFILTER.finditer(text):
        line_no = text.count("\n", 0, m.start()) + 1
        if line_no in seen_lines:
            continue
        seen_lines.add(line_no)
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.start())
        line = text[start:end if end >= 0 else None]
        if len(line) > MAX_LINE:
            continue
        try:
            hits = list(scan_line(line))
        except Exception:  # a detector bug must not stop the scan
            continue
        for s in hits:
            value = s.secret_value or ""
            if not value or _placeholder(value) or WEAK_VALUE_RX.match(value.strip("'\"")):
                continue
            masked = line.replace(value, mask_value(value)).strip()[:200]
            found.append((line_no, s.type, masked))
            break
    return found


_PLACEHOLDER = re.compile(r"^(\$\{.*\}|\$\(.*\)|\{\{.*\}\}|<.*>|%\(.*\)s|x{3,}|\*+|\.\.\.|changeme|change-me|"
                          r"your[-_].*|example.*|dummy|placeholder|none|null|true|false|password|secret|redacted)$", re.I)


def _placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.match(value.strip().strip("'\"")))
