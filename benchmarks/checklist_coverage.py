#!/usr/bin/env python3
"""Share of repository-verifiable checklist items whose control label prodready answers.

Reads a labelled items file (CSV with at least the columns ``category``, ``verifiability`` and ``control``, like
``shared/checklists/items.csv``), keeps the items marked ``repo`` or ``both``, and counts an item as covered when at
least one prodready control lists its ``control`` label in ``answers.checklist`` (optional controls included:
they answer the label once enabled). Prints the share per category and overall, and the unanswered labels.

    python benchmarks/checklist_coverage.py ITEMS.csv [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path


def answered_labels() -> dict[str, list[str]]:
    from prodready.controls.base import all_controls

    out: dict[str, list[str]] = defaultdict(list)
    for cid, c in all_controls().items():
        for label in c.checklist:
            out[label].append(cid)
    return out


def coverage(items_path: Path) -> dict:
    answers = answered_labels()
    with items_path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if (r.get("verifiability") or "").strip() in ("repo", "both")]
    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missing: Counter[str] = Counter()
    for r in rows:
        label = (r.get("control") or "").strip()
        cat = (r.get("category") or label.split(".", 1)[0] or "?").strip()
        per_cat[cat][1] += 1
        if label in answers:
            per_cat[cat][0] += 1
        else:
            missing[label] += 1
    covered = sum(c for c, _t in per_cat.values())
    total = sum(t for _c, t in per_cat.values())
    return {
        "items": total, "covered": covered, "share": round(100.0 * covered / total, 1) if total else 0.0,
        "categories": {k: {"covered": c, "items": t, "share": round(100.0 * c / t, 1) if t else 0.0}
                       for k, (c, t) in sorted(per_cat.items())},
        "unanswered": dict(missing.most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items", type=Path, help="labelled items CSV (seed,line,state,category,verifiability,control,...)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    if not args.items.is_file():
        print(f"error: {args.items} not found", file=sys.stderr)
        return 2
    res = coverage(args.items)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'category':<16} {'covered':>8} {'items':>6} {'share':>7}")
    for cat, v in res["categories"].items():
        print(f"{cat:<16} {v['covered']:>8} {v['items']:>6} {v['share']:>6.1f}%")
    print(f"{'overall':<16} {res['covered']:>8} {res['items']:>6} {res['share']:>6.1f}%")
    if res["unanswered"]:
        print("\nunanswered labels (items):")
        for label, n in res["unanswered"].items():
            print(f"  {label} ({n})")
    else:
        print("\nevery repo/both label is answered by at least one control")
    return 0


if __name__ == "__main__":
    sys.exit(main())
