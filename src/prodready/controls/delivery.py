"""CI/CD pipelines: what runs on every change and how releases reach production."""

from __future__ import annotations

import json
import re

from ..model import Loc
from ._app import any_import
from ._util import ci_find, ci_steps, files_named, job_text, paths_containing
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
    deploy_jobs = _deploy_jobs(p)
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


# --- what runs around deploys -------------------------------------------------------------------

def _job_text(p, job) -> str:
    """A CI job's commands plus the repository scripts it runs (``deploy/scripts/deploy.sh staging``)."""
    text = job_text(job)
    for path in re.findall(r"(?:^|[\s\"'=])\.?/?([\w./-]+\.(?:sh|bash|py|mk))\b", text):
        src = p.sources.get(path.lstrip("./"))
        if src:
            text += "\n" + src
    for target in re.findall(r"\bmake\s+([\w-]+)", text):
        mk = p.sources.get("Makefile", "")
        m = re.search(rf"(?m)^{re.escape(target)}:.*\n((?:\t.*\n?)*)", mk)
        if m:
            text += "\n" + m.group(1)
    return text


def _deploy_jobs(p):
    """(pipeline, job) of the jobs that deploy (found once per project: several controls ask; read only)."""
    return p.derived("delivery.deploy-jobs", lambda: [
        (pl, j) for pl in p.pipelines for j in pl.jobs
        if j.environment or DEPLOY_RX.search(j.name) or DEPLOY_RX.search(job_text(j))])


INTEGRATION_RX = (r"(pytest\b[^\n]*(integration|e2e|functional|acceptance|-m\s+\S*integ)|tests?/(integration|e2e|"
                  r"functional|acceptance)|npm run (test:)?(e2e|integration)|yarn (test:)?(e2e|integration)|"
                  r"pnpm (test:)?(e2e|integration)|playwright|cypress|newman run|postman|testcafe|"
                  r"docker[- ]compose\b[^\n]*\b(run|up)\b[^\n]*test|go test[^\n]*-tags[= ]\S*integration|"
                  r"mvn[^\n]*\b(verify|failsafe)|gradle\S*\s+integrationTest|behave|robot\b|godog|schemathesis|"
                  r"dredd|k6 run)")


@control(
    id="delivery.ci-integration-tests", title="CI runs integration or end-to-end tests", category="delivery",
    severity="medium", evidence=["github-workflow", "gitlab-ci"],
    rationale="Unit tests with mocked databases and HTTP clients do not catch a broken migration, a wrong SQL "
              "query, a serialization mismatch or a misconfigured client; tests against real dependencies (service "
              "containers, Testcontainers, a deployed environment) do.",
    remediation="GitHub Actions: a job with `services: {postgres: {image: postgres:16}}` running `pytest "
                "tests/integration`; or Testcontainers in the test suite; e2e: Playwright/Cypress against staging "
                "after deploy.",
    references=["Martin Fowler: The Practical Test Pyramid", "DORA: test automation"],
    checklist=["cicd.ci_integration_tests", "cicd.e2e_tests"],
    phrases=["integration tests in CI", "end-to-end tests", "API tests"],
)
def ci_integration_tests(p):
    if _no_ci(p):
        yield not_applicable("no CI pipeline")
        return
    for pl in p.pipelines:
        for j in pl.jobs:
            services = j.raw.get("services") if isinstance(j.raw, dict) else None
            if services and TEST_RX_C.search(job_text(j)):
                yield passed(f"{pl.path} job '{j.name}' runs tests with service containers", j.loc, pl.path)
                return
    hits = ci_find(p, INTEGRATION_RX)
    if hits:
        yield passed(f"integration/e2e tests in {hits[0][1]}", hits[0][0])
        return
    tc = [f for f in paths_containing(p, ("test",))
          if "test" in f and re.search(r"(^|/)tests?/(integration|e2e|functional)/", f)]
    # (a name holding "testcontainers" among the imports of the code: its parent modules are parts of it)
    uses_tc = any_import(p, lambda name: "testcontainers" in name)
    if (tc or uses_tc) and ci_find(p, TEST_RX):
        where = tc[0] if tc else "testcontainers"
        yield passed(f"the CI test run includes {where}", ci_find(p, TEST_RX)[0][0], confidence="medium")
        return
    yield failed("CI runs no integration or end-to-end tests (no service containers, Testcontainers, "
                 "tests/integration, Playwright/Cypress/Newman)", p.pipelines[0].loc, p.pipelines[0].path)


TEST_RX_C = re.compile(TEST_RX)
HEALTH_WAIT_RX = re.compile(r"(rollout status|kubectl wait|helm\b[^\n]*--(wait|atomic)|argocd app wait|"
                            r"flux\b[^\n]*--wait|kustomize[^\n]*--wait|curl\b[^\n]*(-f|--fail)[^\n]*(health|ready|"
                            r"status)|wait-for|healthcheck|aws ecs wait services-stable|gcloud run[^\n]*--wait|"
                            r"waitForDeployment)", re.I)
SMOKE_RX = re.compile(r"(smoke|newman run|k6 run|playwright test|cypress run|curl\b[^\n]*(-f|--fail)[^\n]*/(api|v\d)|"
                      r"hurl\b|postman)", re.I)


@control(
    id="delivery.post-deploy-verification", title="Deploys wait for health and run smoke tests",
    category="delivery", severity="medium", evidence=["github-workflow", "gitlab-ci", "shell"],
    rationale="`kubectl apply` returns before a single new pod is ready: a pipeline that does not wait for the "
              "rollout reports success for a release that is crash-looping, and only smoke tests against the "
              "deployed URL show that the critical paths actually work.",
    remediation="After applying: `kubectl rollout status deploy/api --timeout=5m` (or `helm upgrade --wait "
                "--atomic`), then a smoke suite against the environment (`curl --fail https://staging.example.com/"
                "healthz`, `pytest tests/smoke`, `newman run smoke.json`), failing the job on error.",
    references=["DORA: deployment automation", "Google SRE workbook ch. 16 'Canarying Releases'"],
    checklist=["cicd.post_deploy_health_check", "cicd.smoke_tests"],
    phrases=["smoke tests after deploy", "post-deploy health check", "verify deployment"],
)
def post_deploy_verification(p):
    jobs = _deploy_jobs(p)
    if not jobs:
        yield not_applicable("no deploy jobs in CI")
        return
    texts = [(pl, j, _job_text(p, j)) for pl, j in jobs]
    wait = next(((pl, j, m) for pl, j, t in texts if (m := HEALTH_WAIT_RX.search(t))), None)
    smoke = next(((pl, j, m) for pl, j, t in texts if (m := SMOKE_RX.search(t))), None)
    pl, j = jobs[0]
    if wait:
        yield passed(f"'{wait[1].name}' waits for the rollout ({wait[2].group(0)[:40]})", wait[1].loc, wait[0].path,
                     concept="cicd.post_deploy_health_check")
    else:
        yield failed(f"deploy job '{j.name}' does not wait for the rollout or check health", j.loc, pl.path,
                     concept="cicd.post_deploy_health_check")
    if smoke:
        yield passed(f"'{smoke[1].name}' runs smoke tests ({smoke[2].group(0)[:40]})", smoke[1].loc, smoke[0].path,
                     concept="cicd.smoke_tests")
    else:
        yield failed(f"no smoke tests run against the environment after '{j.name}' deploys", j.loc, pl.path,
                     concept="cicd.smoke_tests")


ROLLBACK_RX = re.compile(r"(helm\b[^\n]*--atomic|rollout undo|helm rollback|argocd app rollback|"
                         r"kubectl argo rollouts (abort|undo)|flux\b[^\n]*rollback|aws deploy[^\n]*auto-rollback|"
                         r"gcloud run services update-traffic[^\n]*--to-revisions|autoRollback|auto_rollback)", re.I)


@control(
    id="delivery.automated-rollback", title="Failed releases roll back automatically", category="delivery",
    severity="medium", evidence=["github-workflow", "gitlab-ci", "shell", "k8s"],
    rationale="When a rollout fails its health checks at 3 a.m., the fastest recovery is the pipeline undoing it, "
              "not a person reading the runbook; a half-finished rollout otherwise keeps mixing old and new pods.",
    remediation="`helm upgrade --install --atomic --timeout 10m`; or in the deploy script `kubectl rollout status "
                "... || { kubectl rollout undo deploy/api; exit 1; }`; or Argo Rollouts / Flagger with analysis that "
                "aborts on failing metrics.",
    references=["Google SRE workbook ch. 16", "Argo Rollouts docs"],
    checklist=["cicd.automated_rollback"],
    phrases=["automated rollback", "rollback on failure"],
)
def automated_rollback(p):
    progressive = [o for o in p.k8s_objects if (o.kind == "Rollout" and "argoproj" in o.api_version) or
                   (o.kind == "Canary" and "flagger" in o.api_version)]
    jobs = _deploy_jobs(p)
    if not jobs and not progressive:
        yield not_applicable("no deploy jobs or progressive-delivery objects")
        return
    if progressive:
        yield passed(f"{progressive[0].ref} aborts failed releases", progressive[0].loc, progressive[0].ref)
        return
    for pl, j in jobs:
        m = ROLLBACK_RX.search(_job_text(p, j))
        if m:
            yield passed(f"'{j.name}' rolls back on failure ({m.group(0)[:40]})", j.loc, pl.path)
            return
    failure_steps = [(pl, j) for pl in p.pipelines for j in pl.jobs if ROLLBACK_RX.search(job_text(j)) or (
        isinstance(j.raw, dict) and "failure()" in str(j.raw.get("if", "")) and "roll" in j.name.lower())]
    if failure_steps:
        pl, j = failure_steps[0]
        yield passed(f"rollback job '{j.name}' runs on failure", j.loc, pl.path)
        return
    pl, j = jobs[0]
    yield failed(f"deploy job '{j.name}' leaves a failed rollout in place; rolling back is manual", j.loc, pl.path)


FLAG_PY = ("UnleashClient", "ldclient", "flagsmith", "growthbook", "openfeature", "featureflags", "flipper",
           "waffle", "django_waffle", "gutter", "configcat", "posthog", "split")
FLAG_JS = ("unleash-client", "@unleash/proxy-client-react", "launchdarkly-node-server-sdk",
           "@launchdarkly/node-server-sdk", "flagsmith", "flagsmith-nodejs", "@growthbook/growthbook",
           "@openfeature/server-sdk", "@openfeature/js-sdk", "configcat-node", "posthog-node", "@splitsoftware/splitio")


@control(
    id="delivery.progressive-delivery", title="Canary or blue-green releases, experiments and feature flags",
    category="delivery", severity="low", evidence=["k8s", "python", "javascript"], optional=True,
    rationale="Shifting a small share of traffic to a release (canary, blue-green), and gating features behind "
              "flags, limits the blast radius of a bad change and decouples deploy from release. Valuable at scale; "
              "off unless enabled.",
    remediation="Argo Rollouts (`strategy.canary.steps`) or Flagger `Canary`; ingress-nginx canary annotations; a "
                "feature-flag SDK (Unleash, LaunchDarkly, OpenFeature, GrowthBook) for risky features and "
                "experiments.",
    references=["Google SRE workbook ch. 16 'Canarying Releases'", "Martin Fowler: Feature Toggles"],
    checklist=["cicd.canary_releases", "cicd.blue_green_deployment", "cicd.ab_testing", "cicd.feature_flags"],
    phrases=["canary releases", "blue-green deployment", "feature flags", "A/B testing"],
)
def progressive_delivery(p):
    from ._app import import_hits

    rollouts = [o for o in p.k8s_objects if (o.kind == "Rollout" and "argoproj" in o.api_version) or
                (o.kind == "Canary" and "flagger" in o.api_version) or o.kind == "TrafficSplit"]
    canary_ing = [o for o in p.objects("Ingress") if any("canary" in str(k) for k in
                                                          ((o.raw.get("metadata") or {}).get("annotations") or {}))]
    weighted = [o for o in p.objects("VirtualService") if "weight" in json.dumps(o.raw.get("spec"), default=str)]
    canary = [o for o in rollouts if "canary" in json.dumps(o.raw.get("spec"), default=str) or o.kind == "Canary"] + \
        canary_ing + weighted
    bluegreen = [o for o in rollouts if "blueGreen" in json.dumps(o.raw.get("spec"), default=str)]
    flags = import_hits(p, FLAG_PY, FLAG_JS)
    if not (p.workloads or p.http_apps or rollouts or flags):
        yield not_applicable("no services")
        return
    for label, what, hits in (("cicd.canary_releases", "canary releases", canary),
                              ("cicd.blue_green_deployment", "blue-green releases", bluegreen or canary),
                              ("cicd.feature_flags", "feature flags", flags),
                              ("cicd.ab_testing", "experiments / A-B tests", flags or weighted)):
        if hits:
            h = hits[0]
            loc = h[0] if isinstance(h, tuple) else h.loc
            yield passed(f"{what}: {loc.path}", loc, loc.path, concept=label)
        else:
            yield failed(f"no {what}", None, concept=label)


ECHO_SECRET_RX = re.compile(r"^\s*(echo|printf|cat <<)\b[^\n|>]*\$\{\{\s*secrets\.(\w+)\s*\}\}[^\n|>]*$", re.M)
ECHO_VAR_RX = re.compile(r"^\s*(echo|printf)\b[^\n|>]*\$\{?([A-Z0-9_]*(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|"
                         r"PRIVATE_KEY|CREDENTIALS))\b\}?[^\n|>]*$", re.M)


@control(
    id="delivery.ci-secrets-not-echoed", title="CI never prints secrets to the job log", category="delivery",
    severity="high", evidence=["github-workflow", "gitlab-ci"],
    rationale="Job logs are readable by everyone with access to the repository, kept for months and often "
              "exported; masking misses secrets that are transformed (base64, JSON, multi-line), and `set -x` "
              "prints every expanded command.",
    remediation="Never `echo` a secret unless it is redirected into a file or a pipe; pass secrets to steps through "
                "`env:` rather than `${{ secrets.X }}` inside scripts; no `set -x`/`bash -x` in steps that handle "
                "secrets; `::add-mask::` for derived values.",
    references=["GitHub docs: Security hardening for GitHub Actions (using secrets)", "GitLab docs: masked variables"],
    phrases=["do not print secrets in CI", "masked CI variables"],
)
def ci_secrets_not_echoed(p):
    if _no_ci(p):
        yield not_applicable("no CI pipeline")
        return
    bad = 0
    for pl, job, s in ci_steps(p):
        run = s.run or ""
        if not run:
            continue
        for m in ECHO_SECRET_RX.finditer(run):
            bad += 1
            yield failed(f"{m.group(1)} prints secrets.{m.group(2)} to the job log", s.loc, f"{pl.path} job {job.name}")
        for m in ECHO_VAR_RX.finditer(run):
            bad += 1
            yield failed(f"{m.group(1)} prints ${m.group(2)} to the job log", s.loc, f"{pl.path} job {job.name}",
                         confidence="medium")
        if re.search(r"(^|\n)\s*set\s+-[a-wyz]*x|\bbash\s+-x\b|\bsh\s+-x\b", run) and (
                "secrets." in run or "secrets." in json.dumps(job.raw.get("env", {}) if isinstance(job.raw, dict)
                                                               else {}, default=str)):
            bad += 1
            yield failed("set -x traces commands in a step that handles secrets", s.loc, f"{pl.path} job {job.name}")
    if not bad:
        yield passed(f"no step of {len(p.pipelines)} pipeline(s) prints a secret", p.pipelines[0].loc,
                     p.pipelines[0].path)


IAC_KINDS = {"terraform": "Terraform", "pulumi": "Pulumi", "cloudformation": "CloudFormation", "ansible": "Ansible",
             "cdk": "AWS CDK", "crossplane": "Crossplane", "bicep": "Bicep"}


@control(
    id="delivery.deployment-as-code", title="Deployment and infrastructure are declared as code",
    category="delivery", severity="high", evidence=["k8s", "helm-chart", "kustomization", "terraform", "compose"],
    rationale="Infrastructure and deployment settings that live only in a console or in someone's shell history "
              "cannot be reviewed, reproduced in another environment, or rebuilt after a disaster.",
    remediation="Declare the deployment (Kubernetes manifests, Kustomize overlays or a Helm chart; a Compose file for "
                "single hosts) and the cloud resources (Terraform/OpenTofu, Pulumi, CloudFormation/CDK) in the "
                "repository, applied by the pipeline.",
    references=["DORA: infrastructure as code", "Kief Morris: Infrastructure as Code"],
    checklist=["cicd.infrastructure_as_code", "cicd.kubernetes_manifests"],
    phrases=["infrastructure as code", "Terraform", "Kubernetes manifests", "Helm chart"],
)
def deployment_as_code(p):
    found = []
    if p.terraform:
        found.append(("Terraform", Loc(next(iter(p.terraform)), 1)))
    # only the paths one of the tests below can pass (the others fail each of them): indexed by name, path word or
    # source text, rather than testing every file of a large tree
    pos = p.derived("util.file-positions", lambda: {path: i for i, path in enumerate(p.files)})
    maybe = set(files_named(p, "Pulumi.yaml", "Pulumi.yml", "cdk.json", "ansible.cfg"))
    maybe.update(paths_containing(p, (".bicep", "playbook", "site.", "roles/")))
    maybe.update(loc.path for loc in p.search_text("AWSTemplateFormatVersion", flags=0) if loc.path in pos)
    for f in sorted(maybe, key=pos.__getitem__):
        name = f.rsplit("/", 1)[-1]
        if name in ("Pulumi.yaml", "Pulumi.yml"):
            found.append(("Pulumi", Loc(f, 1)))
        elif name in ("cdk.json",):
            found.append(("AWS CDK", Loc(f, 1)))
        elif f.endswith(".bicep"):
            found.append(("Bicep", Loc(f, 1)))
        elif (("playbook" in f or "site." in f or "roles/" in f)  # cheap pre-check of the pattern
              and re.search(r"(^|/)(playbook[^/]*|site)\.ya?ml$|(^|/)roles/[^/]+/tasks/", f)) or name == "ansible.cfg":
            found.append(("Ansible", Loc(f, 1)))
        elif p.sources.get(f, "").find("AWSTemplateFormatVersion", 0, 3000) >= 0:  # in the first 3000 characters
            found.append(("CloudFormation", Loc(f, 1)))
    k8s = [o for o in p.k8s_objects]
    charts = p.files_of("helm-chart")
    kust = p.files_of("kustomization")
    if charts:
        found.append(("Helm chart", Loc(charts[0], 1)))
    if kust:
        found.append(("Kustomize", Loc(kust[0], 1)))
    if k8s:
        found.append((f"{len(k8s)} Kubernetes objects", k8s[0].loc))
    prod_compose = [w for w in p.workloads if w.source == "compose" and not w.dev_only]
    if prod_compose:
        found.append(("Compose", prod_compose[0].loc))
    for name in ("Procfile", "app.yaml", "fly.toml", "render.yaml", "serverless.yml", "vercel.json", "netlify.toml"):
        hit = next(iter(files_named(p, name)), None)
        if hit:
            found.append((name, Loc(hit, 1)))
    if found:
        kinds = ", ".join(k for k, _l in found[:4])
        yield passed(f"declared as code: {kinds}", found[0][1], found[0][1].path)
    elif p.dockerfiles or p.http_apps:
        yield failed("services are built here but nothing declares how and where they are deployed (no manifests, "
                     "chart, Compose, Terraform or platform config)")
    else:
        yield not_applicable("nothing to deploy")
