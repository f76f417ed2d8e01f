"""The control catalog. Each module groups the controls of one area; see ``base.py`` for the contract.

Where to find a control: its id is ``<category>.<name>``; ``prodready controls explain ID`` prints the
module that defines it and the folder of its fixtures (``tests/fixtures/controls/<id>/``).
"""

from __future__ import annotations

import importlib

MODULES = [
    "workload_security",
    "workload_reliability",
    "k8s_security",
    "k8s_availability",
    "containers",
    "dockerfile_hygiene",
    "secrets_scan",
    "app_code",
    "delivery",
    "observability",
    "data",
    "documentation",
    "cost_compliance",
    "app_security",
    "app_resilience",
    "infrastructure",
    "live",
    "attestations",
]

_loaded = False


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
    _loaded = True
