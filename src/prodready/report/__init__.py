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
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Protocol

__all__ = ["RENDERERS", "Renderer", "render", "render_json", "formats"]


class Renderer(Protocol):
    def __call__(self, report: Mapping[str, Any], *, color: bool = False) -> str: ...


def render_json(report: Mapping[str, Any], *, color: bool = False) -> str:
    """The report as indented JSON, keys in report order (``color`` is ignored). The outline (report, results,
    each result, its evidence list) is indented; each evidence item and other deeper values sit on one line.
    That reads as well, and lets the C encoder write the bulk: Python's encoder, which any ``indent`` selects,
    took longer than the rest of the report on trees with tens of thousands of findings."""
    return "".join(_json_chunks(report, 0)) + "\n"


_FLAT_DEPTH = 4  # values nested deeper than this are written on one line
_compact = json.JSONEncoder(separators=(", ", ": "), ensure_ascii=True).encode
if c_make_encoder is not None:  # the same encoding, without setting up an encoder per value (tens of thousands)
    _c_encode = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ",
                               False, False, True)

    def _compact(value: Any) -> str:  # noqa: F811
        if value.__class__ is str:
            return encode_basestring_ascii(value)
        return "".join(_c_encode(value, 0))


def _json_chunks(value: Any, depth: int) -> Iterator[str]:
    if depth >= _FLAT_DEPTH or not isinstance(value, (dict, list)) or not value:
        yield _compact(value)
        return
    pad = "\n" + "  " * (depth + 1)
    if isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + pad + _compact(str(key)) + ": "
            yield from _json_chunks(item, depth + 1)
        yield "\n" + "  " * depth + "}"
    elif depth + 1 >= _FLAT_DEPTH:  # a list of one-line items (evidence): one join, no per-item generator
        yield "[" + pad + ("," + pad).join(map(_compact, value)) + "\n" + "  " * depth + "]"
    else:
        yield "["
        for i, item in enumerate(value):
            yield ("," if i else "") + pad
            yield from _json_chunks(item, depth + 1)
        yield "\n" + "  " * depth + "]"


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
