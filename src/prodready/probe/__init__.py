"""Live probes: verify the running deployment, safely, and hand what was observed to the engine.

``run_probe(targets)`` probes every target of a validated targets file (``targets.py``) and returns the outcomes
per control id — live evidence for existing controls (rate limiting, CORS, health endpoint, TLS on ingress,
compression, default credentials, database TLS, datastores not exposed, metrics) and for the live-only controls
of ``prodready.controls.live`` — plus a summary of what was sent (requests per target against the budget, the
burst test, the default-credential tries, what was skipped and why), printed in every report.

Safe by construction (``runtime.py``): a per-target request budget, per-request timeouts, a global concurrency
limit, GET/HEAD/OPTIONS only, only the origins listed in the file, redirects never followed, datastore sessions
read-only, credentials only from environment variables the file names, secrets masked in all output.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ProbeRun", "run_probe", "load_targets", "TargetsError", "NA_REASONS"]


def __getattr__(name: str) -> Any:
    """The probe machinery (threads, sessions, TLS...) loads on first use: ``prodready scan`` registers the
    probe command on every start and should not pay for it."""
    if name in __all__:
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
