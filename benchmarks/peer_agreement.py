#!/usr/bin/env python3
"""Agreement of prodready's verdicts with labelled peer-scanner fixtures, per concept and overall.

    python benchmarks/peer_agreement.py ../shared/corpus/peer-fixtures [--json out.json] [--verbose]

PATH is laid out like the peer-fixtures corpus: a ``manifest.json`` whose entries give each fixture's
``path``, ``format`` (k8s | dockerfile), ``concept`` and ``expect`` (fail | pass). Each fixture is scanned on
its own with every control enabled (optional ones too). A ``fail`` fixture agrees when some failing control
that answers its concept fires; a ``pass`` fixture agrees when none does. Cases where we judge the peer's
label wrong are listed from ``peer_label_disputes*.yaml`` (beside this script) with the reason, and counted
apart instead of bending a control. A family control (one control for apt, apk, pip...) tags each finding
with the concept it is about (``evidence[].concept``); only that concept counts as fired.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

from prodready.controls.base import all_controls
from prodready.engine import ScanOptions, scan


def load_disputes() -> dict[str, str]:
    """``peer_label_disputes*.yaml`` beside this script: [{sha256: <prefix>, path: ..., reason: ...}]."""
    out: dict[str, str] = {}
    for f in sorted(Path(__file__).parent.glob("peer_label_disputes*.yaml")):
        for d in yaml.safe_load(f.read_text()) or []:
            out[str(d["sha256"])[:10]] = d["reason"]
    return out


def firing_concepts(root: Path, entry: dict, answers: dict[str, set[str]], tmp: Path) -> tuple[set[str], list[str]]:
    src = root / entry["path"]
    work = tmp / "case"
    shutil.rmtree(work, ignore_errors=True)
    if entry["format"] == "dockerfile":
        shutil.copytree(src.parent, work)
    else:
        work.mkdir()
        shutil.copy(src, work / src.name)
    report = scan(work, ScanOptions(use_cache=False, enable=["all"]))
    fired: set[str] = set()
    ids = []
    for r in report["results"]:
        if r["status"] == "fail":
            # a family control says which of its concepts each finding is about; otherwise all it answers
            named = {e["concept"] for e in r["evidence"] if e["status"] == "fail" and e.get("concept")}
            fired |= named or answers.get(r["control_id"], set())
            ids.append(r["control_id"])
    return fired, ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path)
    ap.add_argument("--json", type=Path, help="write per-fixture results here")
    ap.add_argument("--verbose", "-v", action="store_true", help="list every disagreement")
    args = ap.parse_args()
    manifest = json.loads((args.path / "manifest.json").read_text())
    answers = {cid: set(c.concepts) for cid, c in all_controls().items()}
    answered = set().union(*answers.values())
    disputes = load_disputes()
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses: list[tuple[str, str, str, list[str]]] = []
    disputed: list[tuple[str, str, str]] = []
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for e in manifest["entries"]:
            concept, expect = e["concept"], e["expect"]
            fired, ids = firing_concepts(args.path, e, answers, Path(tmp))
            got = "fail" if concept in fired else "pass"
            sha = e.get("sha256", "")[:10]
            rows.append({"path": e["path"], "concept": concept, "expect": expect, "got": got, "failing": ids})
            if sha in disputes:
                disputed.append((e["path"], expect, disputes[sha]))
                continue
            c = per[concept]
            c["n"] += 1
            c["agree"] += got == expect
            c["tp"] += got == "fail" and expect == "fail"
            c["fp"] += got == "fail" and expect == "pass"
            c["fn"] += got == "pass" and expect == "fail"
            if got != expect:
                misses.append((concept, e["path"], expect, ids))
    wall = time.perf_counter() - t0
    print(f"{'concept':45} {'n':>4} {'agree':>7} {'prec':>6} {'recall':>6}")
    total = agree = 0
    low = []
    for concept in sorted(per):
        c = per[concept]
        total += c["n"]
        agree += c["agree"]
        prec = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else float("nan")
        rec = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else float("nan")
        share = c["agree"] / c["n"]
        if share < 0.9:
            low.append(concept)
        flag = "" if concept in answered else "   (no control answers this concept)"
        print(f"{concept:45} {c['n']:>4} {share:>7.1%} {prec:>6.2f} {rec:>6.2f}{flag}")
    tp = sum(c["tp"] for c in per.values())
    fp = sum(c["fp"] for c in per.values())
    fn = sum(c["fn"] for c in per.values())
    print(f"\noverall: {agree}/{total} = {agree / max(total, 1):.1%} agreement, precision {tp / max(tp + fp, 1):.3f}, "
          f"recall {tp / max(tp + fn, 1):.3f}  ({len(manifest['entries'])} fixtures in {wall:.1f}s)")
    print(f"concepts under 90%: {len(low)}" + (f" — {', '.join(low)}" if low else ""))
    unanswered = sorted(set(per) - answered)
    print(f"concepts no control answers: {len(unanswered)}")
    if disputed:
        print(f"\nlabels we dispute ({len(disputed)}), not counted above:")
        for path, expect, reason in disputed:
            print(f"  {path} (peer says {expect}): {reason}")
    if args.verbose and misses:
        print("\ndisagreements:")
        for concept, path, expect, ids in misses:
            print(f"  {concept}: {path} expected {expect}; failing controls: {', '.join(ids) or '-'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
