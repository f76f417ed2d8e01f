"""``prodready probe --targets targets.yaml``: probe the running deployment and report per control, in the same
result shape as ``scan`` (the probed URL is in each result's evidence), plus what was sent to each target.

Also the glue for ``prodready scan PATH --targets targets.yaml`` (:func:`probe_for_scan`)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

FORMATS = ("terminal", "json", "markdown", "sarif", "junit")


def register(subparsers, parser_class) -> None:
    p = subparsers.add_parser("probe", help="probe the running deployment listed in a targets file (read-only)",
                              description="Probe HTTP services, TLS, PostgreSQL, Redis, Kafka, AMQP, RabbitMQ, Prometheus, Loki, "
                                          "Grafana and S3 endpoints listed in a targets file, within a per-target "
                                          "request budget, with read-only requests. See docs/probes.md.")
    p.add_argument("--targets", "-t", type=Path, required=True, metavar="FILE", help="targets file (YAML)")
    p.add_argument("--format", "-f", choices=FORMATS, default="terminal")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report here (default: standard output)")
    p.add_argument("--transcript", action="store_true",
                   help="also print every request sent and what came back (always in the JSON report)")
    p.add_argument("--fail-under", type=float, metavar="N", help="exit 1 when the score is below N")
    p.add_argument("--fail-on", choices=("critical", "high", "medium", "low"),
                   help="exit 1 when a control of this severity or above fails")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.set_defaults(func=cmd_probe)


def _load(path: Path):
    from ..cli import UsageError
    from . import TargetsError, load_targets

    try:
        return load_targets(path)
    except TargetsError as exc:
        raise UsageError(f"invalid targets file: {exc}") from None


def probe_for_scan(path: Path):
    """Run the probe for ``scan --targets``: (live outcomes per control id, probe summary)."""
    from . import run_probe

    run = run_probe(_load(path))
    return run.live, run.summary


def _nothing(_project):
    return iter(())


def build_report(run, targets_path: str, fail_under: float | None = None, fail_on: str | None = None) -> dict:
    """The probe's own report: the controls it has evidence for, judged by the live evidence alone."""
    from ..build import build
    from ..config import Config
    from ..controls.base import all_controls
    from ..engine import evaluate, gates

    t0 = time.perf_counter()
    # the probe's own report reads no repository: the controls' static side is not asked
    controls = {cid: dataclasses.replace(c, evaluate=_nothing) for cid, c in all_controls().items()
                if cid in run.live}
    report = evaluate(build(targets_path, []), controls, Config(), [], dt.date.today(), live=run.live)
    from .merge import merge_messages

    merge_messages(report)
    report["root"] = targets_path
    report["gates"] = gates(report, fail_under, fail_on)
    report["duration_s"] = round(run.summary["duration_s"] + time.perf_counter() - t0, 3)
    report["stats"] = {}
    report["config"] = None
    report["probe"] = run.summary
    return report


def with_probe_summary(fmt: str, text: str, summary: dict, transcript: bool = False) -> str:
    """Add the probe section (requests per target against the budget, burst, default-credential tries) to a text
    report; JSON carries it as ``probe``, SARIF and JUnit stay as they are."""
    from .merge import summary_markdown, summary_text

    if fmt == "terminal":
        extra = summary_text(summary)
        if transcript:
            extra += transcript_text(summary)
        return text.rstrip("\n") + "\n\n" + extra
    if fmt == "markdown":
        return text.rstrip("\n") + "\n" + summary_markdown(summary)
    return text


def transcript_text(summary: dict) -> str:
    lines = ["", "Transcript (what was sent, what came back):"]
    for t in summary["targets"]:
        lines.append(f"  {t['name']}:")
        for e in t["transcript"]:
            ms = f" ({e['ms']:.0f} ms)" if e.get("ms") is not None else ""
            lines.append(f"    {e['request']} → {e['result']}{ms}")
    return "\n".join(lines) + "\n"


def cmd_probe(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..report import RENDERERS
    from . import run_probe

    targets = _load(args.targets)
    run = run_probe(targets)
    report = build_report(run, str(args.targets), args.fail_under, args.fail_on)
    dest = args.output
    color = args.color == "always" or (args.color == "auto" and dest in (None, "-") and sys.stdout.isatty()
                                       and "NO_COLOR" not in os.environ)
    if args.format == "json":
        text = json.dumps(report, indent=2) + "\n"
    else:
        text = with_probe_summary(args.format, RENDERERS[args.format](report, color=color), run.summary,
                                  transcript=args.transcript)
    if dest in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            Path(dest).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {dest}: {exc.strerror}") from None
        sys.stderr.write(f"prodready: wrote {args.format} probe report to {dest}\n")
    return 1 if report["gates"]["failed"] else 0
