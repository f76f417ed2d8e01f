"""The catalog page (docs/controls.md), generated from control metadata."""

from __future__ import annotations

from .controls.base import CATEGORIES, Control


def catalog_markdown(controls: list[Control]) -> str:
    out = ["# Control catalog", "",
           "Generated from the controls' metadata by `prodready controls list --format markdown`; do not edit by hand.",
           "", f"{len(controls)} controls.", ""]
    for cat, title in CATEGORIES.items():
        items = [c for c in controls if c.category == cat]
        if not items:
            continue
        out += [f"## {title}", "", "| id | severity | verifiability | title | answers |", "|---|---|---|---|---|"]
        for c in items:
            answers = ", ".join(f"`{a}`" for a in c.concepts + c.checklist) or "—"
            out.append(f"| `{c.id}` | {c.severity} | {c.verifiability} | {c.title} | {answers} |")
        out.append("")
        for c in items:
            out += [f"### `{c.id}`", "", f"**{c.title}** — severity {c.severity}, reads {', '.join(c.evidence) or '—'}.",
                    "", c.rationale, "", "**Fix:**", "", c.remediation, ""]
            if c.references:
                out += ["References: " + "; ".join(c.references), ""]
    return "\n".join(out)
