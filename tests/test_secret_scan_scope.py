"""Secret scanning is scoped for speed without changing what it finds (src/prodready/parsers/secretscan.py):
verdicts are memoised per (file type, line), never across an allowlist pragma, and detect-secrets is loaded
without the HTTP stack it only needs for live verification."""

from __future__ import annotations

import subprocess
import sys

from prodready.parsers import secretscan
from prodready.parsers.secretscan import find_secrets

KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq7TKa91"


def _fresh(text: str, filename: str) -> list:
    secretscan._LINE_MEMO.clear()
    return find_secrets(text, filename)


def test_memoised_verdicts_equal_fresh_ones_per_file_type() -> None:
    texts = {
        "app/settings.py": f'API_TOKEN = "{KEY}"\npassword = "x"\nDB_PASSWORD = "Zq8v2LmN4pRt7Yw1"\n',
        "deploy/app.yaml": f"  token: {KEY}\n  - name: DB_PASSWORD\n  password: Zq8v2LmN4pRt7Yw1\n",
        "docs/setup.md": f'Set `password: "Zq8v2LmN4pRt7Yw1"` and token "{KEY}".\n',
        ".env": f"SECRET_KEY={KEY}\nPASSWORD=Zq8v2LmN4pRt7Yw1\n",
    }
    fresh = {name: _fresh(text, name) for name, text in texts.items()}
    assert all(fresh.values()), fresh  # each file has a finding to compare
    secretscan._LINE_MEMO.clear()
    for _ in range(2):  # the second pass answers from the memo
        assert {name: find_secrets(text, name) for name, text in texts.items()} == fresh
    assert secretscan._LINE_MEMO


def test_allowlist_pragma_is_honoured_and_never_memoised_across_files() -> None:
    secretscan._LINE_MEMO.clear()
    line = "aws_key_id = 'AKIAZQ3DLM5NT7PXWV2K'"  # found by detect-secrets' AWS detector only
    allowed = f"{line}  # pragma: allowlist secret\n"
    assert find_secrets(allowed, "a.py") == []
    assert [n for n, _t, _m in find_secrets(f"{line}\n", "b.py")] == [1]
    assert [n for n, _t, _m in find_secrets(f"x = 1\n{line}\n", "b2.py")] == [2]
    assert find_secrets(allowed, "c.py") == []


def test_detect_secrets_loads_without_the_http_stack() -> None:
    code = ("import sys\nfrom prodready.parsers.secretscan import find_secrets\n"
            "assert find_secrets('password: Zq8v2LmN4pRt7Yw1', 'a.yaml')\n"
            "print('requests' in sys.modules)\nimport requests\nprint(requests.Response.__module__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "requests.models"]  # not loaded by the scan; the real one after
