"""How well prodready maps real checklist items to the controls that verify them.

    python benchmarks/checklist_mapping.py ITEMS.csv CHECKLIST_DIR [--all-labels] [--misses N]

``ITEMS.csv`` has one labelled row per checklist item: ``seed`` (the checklist's file name), ``line``,
``category`` and ``control`` (a label of ``checklists/controls.md``). Each checklist in ``CHECKLIST_DIR`` is
parsed and mapped exactly as ``prodready checklist verify`` does; a row counts as a hit when the item's top
control answers the labelled label (its ``checklist=[...]`` names it). Rows whose line is not an item of the
parsed checklist count as misses. Prints the share per category and overall, then the misses.

``--all-labels`` adds, for every label no control answers yet, a stand-in control described only by that label
(its definition, evidence rule and wordings): the figure the mapping would reach once every label has a
control. The headline figure is the one without it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

from prodready.checklist.labels import LABELS
from prodready.checklist.mapper import ControlDoc, Mapper, docs_from_registry
from prodready.checklist.parser import read_checklist


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("items_csv", type=Path)
    ap.add_argument("checklist_dir", type=Path)
    ap.add_argument("--all-labels", action="store_true",
                    help="add stand-in controls for labels that no control answers yet")
    ap.add_argument("--misses", type=int, default=1000, help="list at most N misses")
    args = ap.parse_args(argv)

    docs = docs_from_registry()
    answers: dict[str, set[str]] = {d.id: set(d.labels) for d in docs}
    answered = {label for labels in answers.values() for label in labels}
    if args.all_labels:
        for label in LABELS:
            if label not in answered:
                cid = "label:" + label
                docs.append(ControlDoc(cid, label.split(".", 1)[1].replace("_", " "), labels=[label]))
                answers[cid] = {label}
    mapper = Mapper(docs)

    with args.items_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    items_by_seed: dict[str, dict[int, object]] = {}
    for seed in sorted({r["seed"] for r in rows}):
        path = args.checklist_dir / seed
        if not path.is_file():
            print(f"missing checklist {path}", file=sys.stderr)
            items_by_seed[seed] = {}
            continue
        _, items = read_checklist(path)
        items_by_seed[seed] = {it.line: it for it in items}

    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    unanswered_rows = 0
    for r in rows:
        label = r["control"]
        item = items_by_seed.get(r["seed"], {}).get(int(r["line"]))
        mapped = mapper.map_item(item) if item is not None else []
        top = mapped[0].control_id if mapped else None
        hit = top is not None and label in answers.get(top, set())
        per_cat[r["category"]][1] += 1
        per_cat[r["category"]][0] += hit
        if label not in answered:
            unanswered_rows += 1
        if not hit:
            got = f"{top} ({mapped[0].confidence:.2f})" if mapped else ("not an item" if item is None else "unmapped")
            misses.append((r["seed"][:3], r["line"], label, got, r["text"][:70]))

    total = sum(v[1] for v in per_cat.values())
    hits = sum(v[0] for v in per_cat.values())
    print(f"checklist mapping: {len(rows)} labelled items in {len(items_by_seed)} checklists, "
          f"{len(docs)} controls{' (with stand-ins for unanswered labels)' if args.all_labels else ''}")
    print(f"{'category':<16} {'items':>6} {'top-1 hits':>11} {'share':>7}")
    for cat in sorted(per_cat):
        h, n = per_cat[cat]
        print(f"{cat:<16} {n:>6} {h:>11} {100 * h / n:>6.1f}%")
    print(f"{'overall':<16} {total:>6} {hits:>11} {100 * hits / total if total else 0:>6.1f}%")
    if unanswered_rows and not args.all_labels:
        print(f"({unanswered_rows} items are labelled with a label no control answers yet: "
              f"{len({r['control'] for r in rows if r['control'] not in answered})} labels)")
    if misses:
        print(f"\nmisses ({len(misses)}):")
        for seed, line, label, got, text in misses[: args.misses]:
            print(f"  {seed}:{line:<4} want {label:<40} got {got:<48} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
