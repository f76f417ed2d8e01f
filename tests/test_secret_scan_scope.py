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


# --- the detector process: detect-secrets made ready in a child while a small scan starts ---------------------

def _detector_process(monkeypatch) -> secretscan.DetectorProcess:
    monkeypatch.setattr(secretscan.DetectorProcess, "started", False)  # once per process otherwise
    monkeypatch.setattr(secretscan, "_loaded_here", lambda: False)  # as in a fresh CLI process
    proc = secretscan.DetectorProcess.start()
    assert proc is not None and proc.pid > 0
    return proc


def test_detector_process_answers_as_the_detectors_here(monkeypatch) -> None:
    items = [(f'API_TOKEN = "{KEY}"\nDB_PASSWORD = "Zq8v2LmN4pRt7Yw1"\n', "app/settings.py"),
             ("password: hunter2\n", "deploy/app.yaml"), ("nothing to see\n", "README.md")]
    proc = _detector_process(monkeypatch)
    answer = proc.find_all(items)
    assert answer == [find_secrets(text, name) for text, name in items]
    assert answer[0] and KEY not in str(answer)  # found, and masked in what came back
    assert proc.pid == 0  # reaped


def test_detector_process_that_dies_answers_none_for_the_caller_to_scan_itself(monkeypatch) -> None:
    import os
    import signal

    proc = _detector_process(monkeypatch)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.find_all([(f'API_TOKEN = "{KEY}"\n', "a.py")]) is None
    assert proc.pid == 0


def test_small_scan_with_and_without_the_detector_process_find_the_same_secrets(tmp_path, monkeypatch) -> None:
    from prodready.engine import ScanOptions, scan

    (tmp_path / "app.py").write_text(f'import os\nAPI_TOKEN = "{KEY}"\n')
    (tmp_path / "deploy.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                                          "stringData:\n  password: Zq8v2LmN4pRt7Yw1\n")
    (tmp_path / "README.md").write_text("# Service\n\nNo secrets here.\n")
    started = []
    real_start = secretscan.DetectorProcess.start.__func__

    def spy(cls):
        proc = real_start(cls)
        started.append(proc)
        return proc

    monkeypatch.setattr(secretscan.DetectorProcess, "start", classmethod(spy))
    monkeypatch.setattr(secretscan.DetectorProcess, "started", False)
    monkeypatch.setattr(secretscan, "_loaded_here", lambda: False)
    with_child = scan(tmp_path, ScanOptions(use_cache=False))
    without = scan(tmp_path, ScanOptions(use_cache=False, use_secret_process=False))
    assert started and started[0] is not None  # the child did the scanning in the first run

    def secret_evidence(report):
        return [(r["control_id"], e["path"], e["line"], e["snippet"]) for r in report["results"]
                if r["control_id"].startswith("security.") for e in r["evidence"]
                if e["status"] == "fail" and e["path"] in ("app.py", "deploy.yaml")]

    found = secret_evidence(with_child)
    assert found == secret_evidence(without)
    assert any(path == "app.py" and line == 2 for _, path, line, _ in found)
    assert KEY not in str(with_child)


def test_allowlist_nextline_pragma_applies_to_the_next_line_only() -> None:
    line = "aws_key_id = 'AKIAZQ3DLM5NT7PXWV2K'"
    text = f"x = 1\n# pragma: allowlist nextline secret\n{line}\n{line.replace('2K', '3K')}\n"
    assert [n for n, _t, _m in find_secrets(text, "a.py")] == [4]  # line 3 is allowed, line 4 is not
    yaml_text = "a: 1\n# pragma: allowlist nextline secret\naws_key_id: AKIAZQ3DLM5NT7PXWV2K\nb: AKIAZQ3DLM5NT7PXWV3K\n"
    assert [n for n, _t, _m in find_secrets(yaml_text, "a.yaml")] == [4]
    assert [n for n, _t, _m in find_secrets(text.replace("nextline ", ""), "a.py")] == [3, 4]  # not a pragma for line 3
