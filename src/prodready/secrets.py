"""Secret masking, applied to every snippet and message before it reaches any output."""

from __future__ import annotations

import re
from functools import lru_cache

SECRET_KEY_RX = re.compile(
    r"(?i)(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth[_-]?key|"
    r"client[_-]?secret|dsn|database_url|conn(ection)?[_-]?str(ing)?)"
)
# key: value / key=value / "key": "value" with a secret-looking key
_ASSIGN_RX = re.compile(
    r"""(?ix)
    (?P<key>[\w.\-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|
        client[_-]?secret|auth[_-]?key)[\w.\-]*)
    (?P<sep>["']?\s*[:=]\s*["']?)
    (?P<val>[^\s"',;}{]{3,})
    """
)
_PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"),
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
]


def mask_value(value: str) -> str:
    """Keep a short prefix so people can recognise the value, hide the rest."""
    if len(value) <= 4:
        return "****"
    return value[: min(3, len(value) // 4)] + "****"


# only text that could hold a secret goes through the full masking: a secret-like name followed by an
# assignment, a known token prefix, or credentials in a URL
_QUICK = re.compile(r"(?i)((pass|secret|token|key|credential|auth)[\w.\-]*[\"']?\s*[:=]|AKIA|gh[pousr]_|github_pat|xox|"
                    r"sk_(live|test)|eyJ|PRIVATE KEY|://[^/\s:@]+:[^/\s@]+@)")


def mask_secrets(text: str | None) -> str | None:
    if not text:
        return text
    return _mask_cached(text) if len(text) < 512 else _mask(text)


@lru_cache(maxsize=8192)
def _mask_cached(text: str) -> str:
    """Messages repeat across thousands of outcomes ("no livenessProbe"): mask each distinct one once."""
    return _mask(text)


# Every match of _QUICK contains one of these, lower-cased: ASCII text holding none of them cannot match (the
# check is a tenth of the cost of the search). Other text takes the search: under re.I a few non-ASCII letters
# match ASCII ones yet lower-case to something else (dotless i matches i, long s matches s).
_QUICK_ANCHORS = ("pass", "secret", "token", "key", "credential", "auth", "akia", "gh", "github_pat", "xox", "sk_",
                  "eyj", "private key", "://")


def _mask(text: str) -> str:
    if text.isascii():
        low = text.lower()
        if not any(a in low for a in _QUICK_ANCHORS):
            return text
    if not _QUICK.search(text):
        return text
    def _assign(m: re.Match) -> str:
        val = m.group("val")
        if val.startswith(("${", "$(", "{{", "<", "*")) or val.lower() in ("true", "false", "null", "none"):
            return m.group(0)
        return m.group("key") + m.group("sep") + mask_value(val)

    out = _ASSIGN_RX.sub(_assign, text)
    for rx in _PATTERNS:
        out = rx.sub(lambda m: mask_value(m.group(0)), out)
    return out


# Values that are defaults or demo passwords rather than real secrets (reported by the default-credentials
# control, not as leaked secrets).
WEAK_VALUE_RX = re.compile(r"^(admin|password|passw0rd|changeme|change-me|secret|guest|root|test|demo|example|default|"
                           r"minioadmin|postgres|mysql|redis|[a-z]+(123|1234|2023|2024|2025))$", re.I)
