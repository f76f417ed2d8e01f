"""Output renderers for a scan report.

Every renderer has the signature ``render(report: dict, *, color: bool = False) -> str``
and takes the report dict exactly as ``prodready scan --format json`` prints it
(see docs/output-formats.md). The returned text always ends with one newline,
so callers should write it as is (``sys.stdout.write``), not ``print`` it.
Only the terminal renderer uses ``color``; the others accept and ignore it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from prodready.report import junit, markdown, sarif, terminal

__all__ = ["RENDERERS", "Renderer", "render", "render_json", "formats"]


class Renderer(Protocol):
    def __call__(self, report: Mapping[str, Any], *, color: bool = False) -> str: ...


def render_json(report: Mapping[str, Any], *, color: bool = False) -> str:
    """The report as indented JSON, keys in report order (``color`` is ignored)."""
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


RENDERERS: dict[str, Renderer] = {
    "terminal": terminal.render,
    "json": render_json,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
}


def formats() -> list[str]:
    """Names of the available output formats."""
    return list(RENDERERS)


def render(report: Mapping[str, Any], fmt: str, *, color: bool = False) -> str:
    """Render ``report`` in format ``fmt``; raises ``ValueError`` for an unknown format."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r}; choose one of: {', '.join(RENDERERS)}") from None
    return renderer(report, color=color)
