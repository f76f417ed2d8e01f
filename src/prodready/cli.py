"""Command line: ``prodready scan``, ``prodready controls list|explain``.

Exit codes: 0 ok; 1 a gate failed (--fail-under, --fail-on); 2 usage or runtime error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import textwrap
from pathlib import Path

from . import __version__

FORMATS = ("terminal", "json", "sarif", "junit", "markdown")
# Modules adding subcommands: each has ``register(subparsers, parser_class)`` which adds its parser(s) and
# sets ``func=handler`` (handler(args) -> exit code; raise UsageError for usage problems).
SUBCOMMANDS: list[str] = ["prodready.probe.cli", "prodready.checklist.cli"]


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with a clear message, no usage dump noise
        self.print_usage(sys.stderr)
        sys.stderr.write(f"prodready: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="prodready", description="Is this project ready for production? Evidence, score, fixes.")
    p.add_argument("--version", action="version", version=f"prodready {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("scan", help="scan a repository and report its production readiness")
    s.add_argument("path", help="root of the repository to scan")
    s.add_argument("--format", "-f", action="append", default=[], metavar="FORMAT",
                   help=f"output format: {', '.join(FORMATS)}; repeat with --output for several "
                        "(FORMAT:FILE is accepted too)")
    s.add_argument("--output", "-o", action="append", default=[], metavar="FILE",
                   help="file for the preceding --format (default: standard output)")
    s.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="gitignore-style path to skip")
    s.add_argument("--config", type=Path, help="configuration file (default: .prodready.toml or pyproject.toml)")
    s.add_argument("--waivers", type=Path, help="waivers file (default: .prodready/waivers.yaml if present)")
    s.add_argument("--no-waivers", action="store_true", help="ignore waivers: show the raw state")
    s.add_argument("--enable", action="append", default=[], metavar="ID",
                   help="turn on an optional (opinionated) control; 'all' turns on every one")
    s.add_argument("--fail-under", type=float, metavar="N", help="exit 1 when the overall score is below N")
    s.add_argument("--fail-on", choices=("critical", "high", "medium", "low"),
                   help="exit 1 when a control of this severity or above fails")
    s.add_argument("--no-cache", action="store_true", help="do not read or write the parse cache")
    s.add_argument("--cache-dir", type=Path, help="parse cache folder (default: PATH/.prodready/cache)")
    s.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    s.add_argument("--no-progress", action="store_true", help="never show a progress indicator")
    s.add_argument("--targets", type=Path, metavar="FILE",
                   help="also probe the running deployment listed in FILE (see docs/probes.md); the live verdict "
                        "decides where there is one, static evidence is shown beside it")

    c = sub.add_parser("controls", help="the control catalog")
    csub = c.add_subparsers(dest="controls_command", required=True, parser_class=_Parser)
    cl = csub.add_parser("list", help="list controls")
    cl.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    cl.add_argument("--category", help="only this category")
    ce = csub.add_parser("explain", help="explain one control")
    ce.add_argument("id")
    for module in SUBCOMMANDS:  # further commands register themselves: register(subparsers) sets func=
        importlib.import_module(module).register(sub, _Parser)
    return p


def _pair_outputs(formats: list[str], outputs: list[str]) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for f in formats or ["terminal"]:
        name, _, dest = f.partition(":")
        if name not in FORMATS:
            raise UsageError(f"unknown format {name!r} (choose from {', '.join(FORMATS)})")
        pairs.append((name, dest or None))
    explicit = [i for i, (_, d) in enumerate(pairs) if d is None]
    if len(outputs) > len(explicit):
        raise UsageError("more --output than --format options")
    for idx, out in zip(explicit, outputs, strict=False):
        pairs[idx] = (pairs[idx][0], out)
    if sum(1 for _, d in pairs if d in (None, "-")) > 1:
        raise UsageError("only one format can go to standard output; give the others an --output file")
    return pairs


def cmd_scan(args: argparse.Namespace) -> int:
    from .engine import ScanOptions, finish_background, scan
    from .report import RENDERERS

    pairs = _pair_outputs(args.format, args.output)
    tty = sys.stderr.isatty()
    progress = None
    if tty and not args.no_progress:
        progress = _Progress()
    live = probe_summary = None
    if args.targets is not None:
        from .probe.cli import probe_for_scan

        live, probe_summary = probe_for_scan(args.targets)
    opts = ScanOptions(excludes=args.exclude, config_path=args.config, waivers_path=args.waivers,
                       use_waivers=not args.no_waivers, use_cache=not args.no_cache, cache_dir=args.cache_dir,
                       fail_under=args.fail_under, fail_on=args.fail_on, enable=args.enable,
                       progress=progress.update if progress else None, live=live, exit_after=True)
    try:
        report = scan(Path(args.path), opts)
    finally:
        if progress:
            progress.close()
    try:
        _write_reports(args, pairs, report, probe_summary, RENDERERS)
    finally:
        finish_background()  # the caches were written while the reports were rendered
    return 1 if report["gates"]["failed"] else 0


def _write_reports(args: argparse.Namespace, pairs, report: dict, probe_summary, renderers) -> None:
    if probe_summary is not None:
        report["probe"] = probe_summary
    for fmt, dest in pairs:
        color = args.color == "always" or (args.color == "auto" and dest in (None, "-") and sys.stdout.isatty()
                                           and "NO_COLOR" not in os.environ)
        text = renderers[fmt](report, color=color)
        if probe_summary is not None:
            from .probe.cli import with_probe_summary

            text = with_probe_summary(fmt, text, probe_summary)
        if dest in (None, "-"):
            sys.stdout.write(_encodable(text, sys.stdout))
        else:
            try:
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(str(dest) + ".tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, dest)
            except OSError as exc:
                raise UsageError(f"cannot write {dest}: {exc.strerror}") from None
            sys.stderr.write(f"prodready: wrote {fmt} report to {dest}\n")


_ASCII = str.maketrans({"█": "#", "░": "-", "·": ".", "—": "-", "−": "-", "…": "..."})


def _encodable(text: str, stream) -> str:
    """Bars and dashes in ASCII when the terminal cannot show them."""
    try:
        "█░·—−…".encode(getattr(stream, "encoding", None) or "utf-8")
        return text
    except (UnicodeEncodeError, LookupError):
        return text.translate(_ASCII)


class _Progress:
    """A one-line progress indicator on stderr, shown only on a terminal and only for large trees."""

    def __init__(self) -> None:
        self.shown = False

    def update(self, done: int, total: int) -> None:
        if total < 500:
            return
        self.shown = True
        sys.stderr.write(f"\rprodready: parsing {done:,}/{total:,} files")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def cmd_controls(args: argparse.Namespace) -> int:
    from .controls.base import CATEGORIES, all_controls

    controls = all_controls()
    if args.controls_command == "explain":
        c = controls.get(args.id)
        if c is None:
            close = [k for k in controls if args.id.split(".")[-1] in k]
            hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
            raise UsageError(f"unknown control {args.id!r}{hint}")
        print(explain_text(c))
        return 0
    items = [c for c in controls.values() if not args.category or c.category == args.category]
    if args.category and args.category not in CATEGORIES:
        raise UsageError(f"unknown category {args.category!r} (choose from {', '.join(CATEGORIES)})")
    items.sort(key=lambda c: (list(CATEGORIES).index(c.category), c.id))
    if args.format == "json":
        from .engine import SCHEMA_VERSION

        print(json.dumps({"schema_version": SCHEMA_VERSION, "controls": [c.to_dict() for c in items]}, indent=2))
    elif args.format == "markdown":
        from .catalog import catalog_markdown

        print(catalog_markdown(items))
    else:
        width = max(len(c.id) for c in items) if items else 10
        for c in items:
            print(f"{c.id:<{width}}  {c.severity:<8}  {c.verifiability:<6}  {c.title}")
        print(f"\n{len(items)} controls")
    return 0


def explain_text(c) -> str:
    wrap = lambda t: textwrap.fill(t, 100, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    lines = [f"{c.id} — {c.title}", "",
             f"  category: {c.category}   severity: {c.severity}   verifiability: {c.verifiability}",
             f"  reads: {', '.join(c.evidence) or '-'}", "", "Why it matters:", wrap(c.rationale), "", "How to fix:"]
    lines += ["  " + ln for ln in c.remediation.splitlines()]
    if c.references:
        lines += ["", "References:"] + [f"  - {r}" for r in c.references]
    if c.concepts or c.checklist:
        lines += ["", "Answers:"]
        if c.concepts:
            lines.append(f"  peer concepts: {', '.join(c.concepts)}")
        if c.checklist:
            lines.append(f"  checklist controls: {', '.join(c.checklist)}")
    mod = c.source.replace(".", "/")
    lines += ["", f"Defined in: src/{mod}.py", f"Fixtures:   tests/fixtures/controls/{c.id}/"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 terminal gets '?' for a bar glyph, not a crash
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):
                pass
    parser = build_parser()
    args = parser.parse_args(argv)
    from .engine import ScanError

    try:
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "controls":
            return cmd_controls(args)
        if hasattr(args, "func"):
            return int(args.func(args))
    except (UsageError, ScanError) as exc:
        sys.stderr.write(f"prodready: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("prodready: interrupted\n")
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # never a traceback for users; PRODREADY_DEBUG=1 shows it
        if os.environ.get("PRODREADY_DEBUG"):
            raise
        sys.stderr.write(f"prodready: internal error: {type(exc).__name__}: {exc}\n"
                         "Run again with PRODREADY_DEBUG=1 for details.\n")
        return 2
    return 2


def run() -> None:
    """The `prodready` command. The cyclic garbage collector stays off (a scan builds a large acyclic model;
    collector passes over it cost more than the work itself) and the process ends without tearing that model
    down object by object: outputs are flushed and every child process has been waited for by then."""
    import gc

    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
