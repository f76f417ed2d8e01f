"""Output renderers for a scan report.

Every renderer has the signature ``render(report: dict, *, color: bool = False) -> str``
and takes the report dict exactly as ``prodready scan --format json`` prints it
(see docs/output-formats.md). The returned text always ends with one newline,
so callers should write it as is (``sys.stdout.write``), not ``print`` it.
Only the terminal renderer uses ``color``; the others accept and ignore it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

__all__ = ["RENDERERS", "Renderer", "render", "render_json", "formats"]


class Renderer(Protocol):
    def __call__(self, report: Mapping[str, Any], *, color: bool = False) -> str: ...


def render_json(report: Mapping[str, Any], *, color: bool = False) -> str:
    """The report as indented JSON, keys in report order (``color`` is ignored)."""
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


class _LazyRenderers(Mapping[str, Renderer]):
    """Format name -> renderer, importing a renderer's module (and rich, for the terminal) only when that
    format is asked for: a `--format json` run in CI pays for no terminal machinery."""

    _MODULES = {"terminal": "terminal", "json": None, "sarif": "sarif", "junit": "junit", "markdown": "markdown"}

    def __getitem__(self, fmt: str) -> Renderer:
        module = self._MODULES[fmt]
        if module is None:
            return render_json
        return importlib.import_module(f"{__name__}.{module}").render

    def __iter__(self) -> Iterator[str]:
        return iter(self._MODULES)

    def __len__(self) -> int:
        return len(self._MODULES)


RENDERERS: Mapping[str, Renderer] = _LazyRenderers()


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
