"""CI/CD pipelines: what runs on every change and how releases reach production."""

from __future__ import annotations

import re

from ..model import Loc
from ._util import ci_find, ci_steps
from .base import control, failed, not_applicable, passed


def _no_ci(p):
    return not p.pipelines


@control(
    id="delivery.ci-pipeline", title="A CI pipeline runs on every change", category="delivery", severity="high",
    evidence=["github-workflow", "gitlab-ci"],
    rationale="Without CI, nothing guarantees that what merges builds, passes its tests or was scanned.",
    remediation="Add `.github/workflows/ci.yml` triggered `on: [push, pull_request]` (or `.gitlab-ci.yml`) that "
                "lints, tests and builds.",
    references=["DORA: Continuous integration"],
    checklist=["cicd.ci_pipeline"], phrases=["CI/CD pipeline", "continuous integration", "automated pipeline"],
)
def ci_pipeline(p):
    if _no_ci(p):
        if p.files_of("jenkinsfile"):
            yield passed("Jenkinsfile present", Loc(p.files_of("jenkinsfile")[0], 1))
            return
        yield failed("no CI workflow (.github/workflows, .gitlab-ci.yml, Jenkinsfile)")
        return
    for pl in p.pipelines:
        change = [t for t in pl.triggers if t in ("push", "pull_request", "merge_request", "pull_request_target")]
        if change:
            yield passed(f"{pl.system} pipeline '{pl.name}' runs on {', '.join(change)}", pl.loc, pl.path)
            return
    yield failed("CI workflows exist but none runs on push or pull request", p.pipelines[0].loc, p.pipelines[0].path)


TEST_RX = r"\b(pytest|tox|nox|unittest|npm (run )?test|yarn test|pnpm test|jest|vitest|mocha|go test|cargo test|mvn (-\S+ )*(test|verify)|gradle\S* test|make test|rspec|phpunit)\b"


@control(
    id="delivery.ci-tests", title="CI runs the test suite", category="delivery", severity="high",
    evidence=["github-workflow", "gitlab-ci"],
    rationale="A pipeline that does not run tests only proves that the code compiles.",
    remediation="Add a job step such as `run: pytest -q` / `run: npm test`, required on pull requests.",
    references=["DORA: Test automation"],
    checklist=["cicd.ci_unit_tests", "cicd.tests_passing"], phrases=["unit tests in CI", "automated tests"],
)
def ci_tests(p):
    if _no_ci(p):
        yield not_applicable("no CI pipeline")
        return
    hits = ci_find(p, TEST_RX)
    if hits:
        yield passed(f"tests run in {hits[0][1]}", hits[0][0])
    else:
        yield failed("no CI step runs tests", p.pipelines[0].loc, p.pipelines[0].path)


@control(
    id="delivery.ci-lint", title="CI runs linters", category="delivery", severity="low",
    evidence=["github-workflow", "gitlab-ci"],
    rationale="Linters catch whole classes of bugs (unused results, shadowed names, unsafe calls) before review.",
    remediation="Add a lint step: `ruff check .`, `flake8`, `eslint .`, `golangci-lint run`, `hadolint Dockerfile`.",
    references=["DORA: Code maintainability"], checklist=["cicd.ci_lint"],
)
def ci_lint(p):
    if _no_ci(p):
        yield not_applicable("no CI pipeline")
        return
    hits = ci_find(p, r"\b(ruff|flake8|pylint|black --check|mypy|eslint|npm run lint|yarn lint|golangci-lint|"
                      r"hadolint|prettier --check|pre-commit run|super-linter|shellcheck|rubocop)\b")
    if hits:
        yield passed(f"lint in {hits[0][1]}", hits[0][0])
    else:
        yield failed("no CI step runs a linter", p.pipelines[0].loc, p.pipelines[0].path)


SCAN_RX = (r"\b(trivy|grype|snyk|pip-audit|safety check|npm audit|yarn audit|osv-scanner|dependency-check|"
           r"anchore|docker scout|govulncheck|bundler-audit|aquasecurity/trivy-action|snyk/actions|"
           r"anchore/scan-action|github/codeql-action|semgrep|bandit|checkov|gitleaks|trufflehog)\b")


@control(
    id="security.vulnerability-scanning", title="Dependencies and images are scanned for vulnerabilities",
    category="security", severity="high", evidence=["github-workflow", "gitlab-ci"],
    rationale="Known CVEs in dependencies and base images are the cheapest attack there is; scanning in CI "
              "catches them before release and on a schedule after.",
    remediation="GitHub Actions: `uses: aquasecurity/trivy-action@<sha>` with `image-ref` and `exit-code: 1` on "
                "HIGH,CRITICAL; add `pip-audit` / `npm audit --audit-level=high` for dependencies.",
    references=["OWASP Top 10 A06:2021", "NIST SSDF PW.7"],
    checklist=["security.vulnerability_scanning", "security.sast_dast"],
    phrases=["scan images for vulnerabilities", "dependency scanning", "Trivy", "Snyk"],
)
def vulnerability_scanning(p):
    if _no_ci(p):
        yield failed("no CI pipeline, so nothing scans dependencies or images")
        return
    hits = ci_find(p, SCAN_RX)
    if hits:
        yield passed(f"scanner in {hits[0][1]}", hits[0][0])
    else:
        yield failed("no vulnerability scanner (trivy, grype, snyk, pip-audit, npm audit...) in CI",
                     p.pipelines[0].loc, p.pipelines[0].path)


SHA_RX = re.compile(r"@[0-9a-f]{40}$")


@control(
    id="security.ci-actions-pinned", title="Third-party CI actions are pinned to a commit SHA", category="security",
    severity="medium", evidence=["github-workflow"],
    rationale="A tag like `@v4` can be moved by whoever controls the action's repository; a compromised action "
              "runs with your secrets (tj-actions/changed-files, 2025).",
    remediation="`uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11  # v4.1.1` — Dependabot and "
                "Renovate keep SHA pins up to date.",
    references=["GitHub docs: Security hardening for GitHub Actions", "OpenSSF Scorecard: Pinned-Dependencies"],
    checklist=["security.image_signing"],
)
def ci_actions_pinned(p):
    any_ = False
    for pl, job, s in ci_steps(p):
        if pl.system != "github" or not s.uses or s.uses.startswith(("./", "docker://")):
            continue
        any_ = True
        if SHA_RX.search(s.uses):
            yield passed(f"{s.uses.split('@')[0]} pinned by SHA", s.loc, f"{pl.path} job {job.name}")
        else:
            yield failed(f"{s.uses} is pinned to a movable ref", s.loc, f"{pl.path} job {job.name}")
    if not any_:
        yield not_applicable("no GitHub Actions steps using actions")


@control(
    id="security.ci-least-privilege", title="CI workflows declare least-privilege token permissions",
    category="security", severity="medium", evidence=["github-workflow"],
    rationale="Without a `permissions:` block the GITHUB_TOKEN may have write access to the repository, packages "
              "and deployments for every step, including third-party actions.",
    remediation="At the top of the workflow: `permissions: {contents: read}`; grant more per job only where needed "
                "(`packages: write` for the publish job).",
    references=["GitHub docs: Assigning permissions to jobs", "OpenSSF Scorecard: Token-Permissions"],
)
def ci_least_privilege(p):
    any_ = False
    for pl in p.pipelines:
        if pl.system != "github":
            continue
        any_ = True
        for j in pl.jobs:  # a job may need one write scope, never all of them
            if j.permissions == "write-all":
                yield failed(f"job '{j.name}' grants write-all", j.loc, f"{pl.path} job {j.name}")
        if pl.permissions == "write-all" or (isinstance(pl.permissions, dict) and
                                             any(v == "write" for k, v in pl.permissions.items()
                                                 if k in ("contents", "actions"))):
            yield failed("workflow-level permissions grant write", pl.loc, pl.path)
        elif pl.permissions is not None:
            yield passed("workflow-level permissions declared", pl.loc, pl.path)
        elif pl.jobs and all(j.permissions is not None for j in pl.jobs):
            yield passed("every job declares permissions", pl.loc, pl.path)
        else:
            yield failed("no permissions block: the token gets the repository default (often write)", pl.loc, pl.path)
    if not any_:
        yield not_applicable("no GitHub Actions workflows")


PROD_RX = re.compile(r"prod", re.I)
STAGING_RX = re.compile(r"(stag|pre-?prod|non-?prod|uat|qa)", re.I)
DEPLOY_RX = re.compile(r"(kubectl (apply|set image|rollout)|helm (upgrade|install)|argocd app sync|flux reconcile|"
                       r"kustomize build|terraform apply|gcloud run deploy|aws ecs update-service|deploy)", re.I)


@control(
    id="delivery.staged-deploys", title="Releases go to staging before a protected production deploy",
    category="delivery", severity="medium", evidence=["github-workflow", "gitlab-ci", "k8s"],
    rationale="Deploying straight to production skips the one environment where a bad release is cheap; a "
              "protected environment adds an approval and an audit trail.",
    remediation="GitHub Actions: a `deploy-staging` job with `environment: staging`, then `deploy-production` with "
                "`needs: deploy-staging` and `environment: production` (required reviewers set on the "
                "environment). GitLab: `environment: production` with `when: manual`.",
    references=["DORA: Deployment automation"],
    checklist=["cicd.staging_environment", "cicd.prod_deploy_approval", "cicd.automated_deployment"],
    phrases=["staging environment", "deploy to staging first", "production approval"],
)
def staged_deploys(p):
    deploy_jobs = [(pl, j) for pl in p.pipelines for j in pl.jobs
                   if j.environment or DEPLOY_RX.search(j.name) or DEPLOY_RX.search(j.text())]
    if not deploy_jobs:
        yield not_applicable("no deploy jobs in CI")
        return
    envs = {(j.environment or "").lower(): (pl, j) for pl, j in deploy_jobs}
    prod = next(((pl, j) for e, (pl, j) in envs.items() if PROD_RX.search(e) and not STAGING_RX.search(e)), None)
    stag = next(((pl, j) for e, (pl, j) in envs.items() if STAGING_RX.search(e)), None)
    if prod is None:
        pl, j = deploy_jobs[0]
        yield failed("deploy jobs exist but none targets a named production environment (no approval gate)",
                     j.loc, f"{pl.path} job {j.name}")
        return
    pl, j = prod
    if stag is None:
        yield failed(f"job '{j.name}' deploys to {j.environment} without a staging deploy before it", j.loc,
                     f"{pl.path} job {j.name}")
    elif stag[1].name not in _needs_closure(pl, j) and pl.system == "github":
        yield failed(f"staging job '{stag[1].name}' is not a prerequisite (needs) of '{j.name}'", j.loc,
                     f"{pl.path} job {j.name}")
    elif pl.system == "gitlab" and not _gitlab_runs_after(p, pl, j, stag[1]):
        yield failed(f"staging job '{stag[1].name}' does not run before '{j.name}' (same or later stage, or not "
                     "in its needs)", j.loc, f"{pl.path} job {j.name}")
    else:
        yield passed(f"'{stag[1].name}' ({stag[1].environment}) runs before '{j.name}' ({j.environment})", j.loc,
                     f"{pl.path} job {j.name}")


GITLAB_DEFAULT_STAGES = [".pre", "build", "test", "deploy", ".post"]


def _gitlab_runs_after(p, pl, job, before) -> bool:
    """Whether GitLab runs ``job`` only after ``before``: through ``needs``, or (a job without ``needs`` waits for
    every earlier stage) because ``before`` sits in an earlier stage. Stages defined elsewhere (includes) are
    given the benefit of the doubt."""
    if before.name in _needs_closure(pl, job):
        return True
    if "needs" in job.raw:  # a DAG job starts as soon as its needs finish, whatever its stage
        return False
    if pl.system != "gitlab" or not pl.jobs:
        return True
    docs = getattr(p.parsed.get(pl.path), "data", None) or []
    doc = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
    stages = doc.get("stages") if isinstance(doc.get("stages"), list) else GITLAB_DEFAULT_STAGES
    stages = [str(s) for s in stages]
    a, b = str(before.stage or "test"), str(job.stage or "test")
    if a not in stages or b not in stages:
        return True
    return stages.index(a) < stages.index(b)


def _needs_closure(pl, job) -> set[str]:
    by_name = {j.name: j for j in pl.jobs}
    seen: set[str] = set()
    stack = list(job.needs)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in by_name:
            stack.extend(by_name[n].needs)
    return seen


@control(
    id="delivery.ci-image-build", title="CI builds the container images", category="delivery", severity="low",
    evidence=["github-workflow", "gitlab-ci", "dockerfile"],
    rationale="Images built on laptops are not reproducible and not traceable to a commit.",
    remediation="Build and push in CI: `docker/build-push-action` with `tags: ghcr.io/org/app:${{ github.sha }}`.",
    references=["SLSA Build L2"], checklist=["cicd.ci_image_build"],
)
def ci_image_build(p):
    if not p.dockerfiles:
        yield not_applicable("no Dockerfiles")
        return
    if _no_ci(p):
        yield failed("Dockerfiles exist but no CI pipeline builds them", Loc(p.dockerfiles[0].path, 1))
        return
    hits = ci_find(p, r"(docker/build-push-action|docker (buildx )?build|buildah|kaniko|podman build|ko build|"
                      r"jib|pack build|img build)")
    if hits:
        yield passed(f"image built in {hits[0][1]}", hits[0][0])
    else:
        yield failed("no CI step builds an image", p.pipelines[0].loc, p.pipelines[0].path)
