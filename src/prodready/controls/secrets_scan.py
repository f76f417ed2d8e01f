"""Secrets committed to the tree (detected at parse time by detect-secrets, masked before storage)."""

from __future__ import annotations

import re

from ..model import Loc
from .base import control, failed, not_applicable, passed

NON_PRODUCTION_PATH = re.compile(r"(^|/)(tests?|__tests__|spec|fixtures?|testdata|examples?|samples?|mocks?)(/|$)|"
                                 r"\.(example|sample|template|dist)(\.|$)", re.I)


@control(
    id="security.no-secrets-in-tree", title="No secrets committed to the repository", category="security",
    severity="critical", evidence=["all text files"],
    rationale="A credential in git is readable by everyone who can clone the repository, stays in history after "
              "deletion, and is found by attackers' scanners within minutes of a push to a public host.",
    remediation="Revoke and rotate the credential first (it is compromised), then remove it: read it from the "
                "environment or a secret manager (`os.environ[\"API_KEY\"]`, Kubernetes secretKeyRef, Vault), and "
                "purge it from history (git filter-repo) if the repository was ever shared.",
    references=["OWASP ASVS 2.10.4", "CWE-798", "detect-secrets"],
    checklist=["security.no_committed_secrets", "security.secrets_from_env"],
    phrases=["no secrets in code", "secret scanning", "never commit secrets", "no hardcoded credentials"],
)
def no_secrets_in_tree(p):
    """Findings in test, fixture and example paths are left out: they are overwhelmingly fake values."""
    scanned = False
    for (path, line), (stype, masked) in sorted(p.secret_lines.items()):
        if NON_PRODUCTION_PATH.search(path):
            continue
        scanned = True
        yield failed(f"{stype} in {path}:{line}", Loc(path, line), path, snippet=masked)
    if not scanned:
        if p.sources:
            yield passed(f"no secrets found in {len(p.sources)} text files")
        else:
            yield not_applicable("no text files")
