"""``prodready checklist verify|generate`` and ``prodready attest``.

    prodready checklist verify CHECKLIST.md [--project PATH] [--targets targets.yaml]
                                            [--format terminal|json|markdown] [--output FILE]
    prodready checklist generate [PATH] [--format markdown|json] [--output FILE]
    prodready attest CONTROL --by NAME --evidence URL --expires DATE [--note TEXT] [--project PATH]

``verify`` exits 0 whatever the items' statuses (it reports; ``prodready scan --fail-under`` gates), 2 on a usage
error (missing checklist or project, bad option).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path

VERIFY_FORMATS = ("terminal", "json", "markdown")


def register(subparsers, parser_class) -> None:
    c = subparsers.add_parser("checklist", help="verify a team's own checklist, or generate one from evidence")
    csub = c.add_subparsers(dest="checklist_command", required=True, parser_class=parser_class)

    v = csub.add_parser("verify", help="give every item of a Markdown checklist a status backed by evidence",
                        description="Parse CHECKLIST.md, map each item to the controls that verify it, scan the "
                                    "project and report per item: verified, failing, partial, needs-attestation "
                                    "or unmapped; ticked items whose evidence fails are flagged.")
    v.add_argument("checklist", type=Path, help="the Markdown checklist")
    v.add_argument("--project", type=Path, default=Path("."), metavar="PATH",
                   help="root of the repository the checklist is about (default: .)")
    v.add_argument("--targets", type=Path, metavar="FILE",
                   help="also probe the running deployment listed in this targets file (as `scan --targets`)")
    v.add_argument("--format", "-f", choices=VERIFY_FORMATS, default="terminal",
                   help="terminal summary per section, JSON, or the checklist annotated in Markdown")
    v.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")
    v.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="path of the project to skip")
    v.add_argument("--no-cache", action="store_true", help="do not read or write the parse cache")
    v.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    v.set_defaults(func=cmd_verify)

    g = csub.add_parser("generate", help="write a production-readiness checklist for a project from its evidence")
    g.add_argument("path", nargs="?", type=Path, default=Path("."), help="root of the repository (default: .)")
    g.add_argument("--format", "-f", choices=("markdown", "json"), default="markdown")
    g.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")
    g.add_argument("--all", action="store_true", help="also list controls that do not apply to the project")
    g.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="path of the project to skip")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the parse cache")
    g.set_defaults(func=cmd_generate)

    a = subparsers.add_parser("attest", help="record that a person vouches for a control (until an expiry date)",
                              description="Append an attestation to PATH/.prodready/attestations.yaml: the control "
                                          "counts as passed until the expiry date wherever the scan itself cannot "
                                          "decide (needs_attestation). It never overrides a failing finding.")
    a.add_argument("control", help="control id, e.g. data.restore-tested")
    a.add_argument("--by", required=True, metavar="NAME", help="who vouches for it")
    a.add_argument("--evidence", required=True, metavar="URL", help="link to the evidence (report, ticket, record)")
    a.add_argument("--expires", required=True, metavar="DATE", help="YYYY-MM-DD; after it the attestation lapses")
    a.add_argument("--note", metavar="TEXT", help="a short note (what was done, the outcome)")
    a.add_argument("--project", type=Path, default=Path("."), metavar="PATH",
                   help="root of the repository whose attestations file is written (default: .)")
    a.set_defaults(func=cmd_attest)


def _usage(msg: str) -> Exception:
    from ..cli import UsageError

    return UsageError(msg)


def _write(text: str, dest: Path | None, what: str) -> None:
    if dest is None or str(dest) == "-":
        sys.stdout.write(text)
        return
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, dest)
    except OSError as exc:
        raise _usage(f"cannot write {dest}: {exc.strerror}") from None
    sys.stderr.write(f"prodready: wrote {what} to {dest}\n")


def _scan(project: Path, excludes: list[str], no_cache: bool, targets: Path | None = None) -> dict:
    from ..engine import ScanOptions, scan

    kwargs: dict = {"excludes": excludes, "use_cache": not no_cache}
    probe_summary = None
    if targets is not None:
        fields = {f.name for f in dataclasses.fields(ScanOptions)}
        try:
            from ..probe.cli import probe_for_scan
        except ImportError:
            probe_for_scan = None  # type: ignore[assignment]
        if "live" not in fields or probe_for_scan is None:
            raise _usage("--targets needs the live probe, which this installation does not have")
        if not targets.is_file():
            raise _usage(f"targets file not found: {targets}")
        kwargs["live"], probe_summary = probe_for_scan(targets)
    report = scan(project, ScanOptions(**kwargs))
    if probe_summary is not None:
        report["probe"] = probe_summary
    return report


def cmd_verify(args: argparse.Namespace) -> int:
    from .mapper import Mapper
    from .parser import decode_document, parse_checklist
    from .verifier import to_json, verify_items
    from .writer import annotate, terminal_summary

    path: Path = args.checklist
    if not path.is_file():
        raise _usage(f"checklist not found: {path}")
    if not args.project.is_dir():
        raise _usage(f"project is not a directory: {args.project}")
    try:
        text = decode_document(path.read_bytes())
    except OSError as exc:
        raise _usage(f"cannot read {path}: {exc.strerror}") from None
    items = parse_checklist(text)
    report = _scan(args.project, args.exclude, args.no_cache, args.targets)
    results = verify_items(items, report, Mapper.from_registry())
    if args.format == "json":
        out = json.dumps(to_json(results, str(path), report), indent=2, ensure_ascii=False) + "\n"
    elif args.format == "markdown":
        out = annotate(text, results, report)
    else:
        to_tty = args.output is None and sys.stdout.isatty()
        color = args.color == "always" or (args.color == "auto" and to_tty and "NO_COLOR" not in os.environ)
        out = terminal_summary(results, str(path), report, color=color)
    _write(out, args.output, f"{args.format} checklist")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .generator import generate_markdown, top_fixes

    if not args.path.is_dir():
        raise _usage(f"not a directory: {args.path}")
    report = _scan(args.path, args.exclude, args.no_cache)
    if args.format == "json":
        data = {"schema_version": report.get("schema_version"), "root": report.get("root"),
                "score": report.get("score"), "level": report.get("level"), "categories": report.get("categories"),
                "top_fixes": [{"control_id": r["control_id"], "status": r["status"], "severity": r["severity"],
                               "points": r.get("points_lost", 0.0)} for r in top_fixes(report)],
                "items": [{"control_id": r["control_id"], "title": r["title"], "category": r["category"],
                           "status": r["status"], "severity": r["severity"], "evidence": r.get("evidence", [])}
                          for r in report.get("results", []) if r.get("category")
                          and (args.all or r["status"] != "not_applicable")]}
        out = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        out = generate_markdown(report, include_not_applicable=args.all)
    _write(out, args.output, "checklist")
    return 0


def cmd_attest(args: argparse.Namespace) -> int:
    from ..controls.base import all_controls
    from .attest import Attestation, record_attestation

    controls = all_controls()
    c = controls.get(args.control)
    if c is None:
        close = [k for k in controls if args.control.split(".")[-1] in k][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise _usage(f"unknown control {args.control!r}{hint}")
    try:
        expires = dt.date.fromisoformat(args.expires)
    except ValueError:
        raise _usage(f"--expires must be a date YYYY-MM-DD, not {args.expires!r}") from None
    today = dt.date.today()
    if expires < today:
        raise _usage(f"--expires {expires.isoformat()} is in the past")
    for name in ("by", "evidence", "note"):
        value = getattr(args, name)
        if value is not None and (not value.strip() or "\n" in value or "\r" in value):
            raise _usage(f"--{name} must be one non-empty line")
    if not args.project.is_dir():
        raise _usage(f"project is not a directory: {args.project}")
    a = Attestation(c.id, args.by.strip(), args.evidence.strip(), expires, today,
                    args.note.strip() if args.note else None)
    try:
        path = record_attestation(args.project, a)
    except (OSError, ValueError) as exc:
        raise _usage(str(exc)) from None
    sys.stderr.write(f"prodready: recorded attestation for {c.id} by {a.by}, valid until {expires.isoformat()} "
                     f"in {path}\n")
    if c.verifiability not in ("manual", "live"):
        sys.stderr.write(f"prodready: note: {c.id} is verified from the repository; the attestation counts only "
                         "where the scan cannot decide (needs_attestation), never over a failing finding\n")
    return 0
