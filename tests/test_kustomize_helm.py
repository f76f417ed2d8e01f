"""Kustomize overlays and Helm charts are rendered before evaluation (src/prodready/k8s_render.py).

Fixture trees: tests/fixtures/render/. Where ``kubectl`` (which embeds kustomize) is installed, the Python
renderer is compared object by object with ``kubectl kustomize``; ``helm`` is not packaged for this machine
(neither Debian nor PyPI ship the binary), so the ``helm template`` path is exercised with a stand-in
executable and, when a real ``helm`` is on PATH, against it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from prodready.config import Config
from prodready.engine import ScanOptions, load_project, scan
from prodready.k8s_render import parse_helm_output, plain, render_all
from prodready.model import Project

RENDER = Path(__file__).parent / "fixtures" / "render"
OVERLAYS = RENDER / "kustomize-overlays"
TRANSFORMERS = RENDER / "kustomize-transformers"
REPLACEMENTS_ROOT = RENDER / "kustomize-replacements"
HELM = RENDER / "helm-chart"


def load(root: Path) -> Project:
    project, _ = load_project(root, ScanOptions(use_cache=False), Config())
    return project


def workload(p: Project, ref: str):
    hits = [w for w in p.workloads if w.ref == ref]
    assert len(hits) == 1, f"{ref} not in {[w.ref for w in p.workloads]}"
    return hits[0]


def obj(p: Project, ref: str):
    hits = [o for o in p.k8s_objects if o.ref == ref]
    assert len(hits) == 1, f"{ref} not in {[o.ref for o in p.k8s_objects]}"
    return hits[0]


def result(report: dict, cid: str) -> dict:
    return next(r for r in report["results"] if r["control_id"] == cid)


# --- Kustomize ----------------------------------------------------------------------------------

def test_each_leaf_overlay_is_rendered_and_bases_are_not_double_counted() -> None:
    p = load(OVERLAYS)
    refs = sorted(w.ref for w in p.workloads)
    assert refs == [
        "Deployment/shop-prod/prod-api (overlay deploy/overlays/prod)",
        "Deployment/shop-staging/api (overlay deploy/overlays/staging)",
        "Job/shop-prod/migrate",  # not part of any kustomization: evaluated as it is
    ]
    # nothing from the base is evaluated on its own, and the patch file is not read as a Deployment
    assert not [o for o in p.k8s_objects if o.rendered_by is None and o.loc.path.startswith("deploy/")]
    assert all(o.loc.path != "deploy/overlays/prod/patch-resources.yaml" for o in p.k8s_objects)
    assert not [d for d in p.diagnostics if d.kind.startswith("kustomize")], p.diagnostics


def test_overlays_sharing_a_namespace_pair_objects_only_within_their_own_rendering() -> None:
    """Staging and production overlays often render into the same namespace name (on different clusters): an
    Ingress or Service of one overlay reaches the pods of that overlay only."""
    report = scan(Path(__file__).resolve().parents[1] / "examples" / "shop", ScanOptions(use_cache=False))
    overlay = re.compile(r"\(overlay ([^)]+)\)")
    for cid in ("security.metrics-not-public", "reliability.load-balancing"):
        pairs = [overlay.findall(e["message"]) for e in result(report, cid)["evidence"] if "overlay" in e["message"]]
        assert len(pairs) >= 2, cid
        for found in pairs:  # every object named in one finding comes from the same overlay
            assert len(found) >= 2 and len(set(found)) == 1, (cid, found)
    assert result(report, "security.metrics-not-public")["counts"]["fail"] == 2  # one per overlay, not four


def test_overlay_patches_count_and_evidence_points_at_the_file_that_set_the_field() -> None:
    p = load(OVERLAYS)
    prod = workload(p, "Deployment/shop-prod/prod-api (overlay deploy/overlays/prod)")
    staging = workload(p, "Deployment/shop-staging/api (overlay deploy/overlays/staging)")
    api = next(c for c in prod.containers if c.name == "api")
    # the original object keeps its location ...
    assert prod.loc.path == "deploy/base/deployment.yaml" and api.loc.line == 19
    assert api.probes["readiness"].loc.path == "deploy/base/deployment.yaml"
    # ... and what the overlay's strategic-merge patch added points at the patch
    assert api.requests == {"cpu": "250m", "memory": "256Mi"} and api.limits == {"memory": "512Mi"}
    assert api.probes["liveness"].loc.path == "deploy/overlays/prod/patch-resources.yaml"
    assert api.probes["liveness"].loc.line == 16
    assert api.allow_privilege_escalation is False and api.read_only_root_fs is True
    shipper = next(c for c in prod.containers if c.name == "log-shipper")
    assert shipper.loc.path == "deploy/overlays/prod/patch-resources.yaml" and shipper.loc.line == 23
    # staging's inline patch removed the readiness probe and added an env var (located in the kustomization)
    st = staging.containers[0]
    assert "readiness" not in st.probes
    debug = next(e for e in st.env if e.name == "DEBUG")
    assert (debug.loc.path, debug.loc.line) == ("deploy/overlays/staging/kustomization.yaml", 23)
    assert [e.name for e in st.env] == ["DEBUG", "DATABASE_URL"]  # Kubernetes merge order


def test_transformers_component_json6902_images_replicas_and_generators() -> None:
    p = load(OVERLAYS)
    prod = workload(p, "Deployment/shop-prod/prod-api (overlay deploy/overlays/prod)")
    staging = workload(p, "Deployment/shop-staging/api (overlay deploy/overlays/staging)")
    assert prod.replicas == 4 and staging.replicas == 1  # replicas transformer / strategic merge
    assert prod.containers[0].image.raw == "ghcr.io/acme/api:1.5.0"  # images: newTag
    assert staging.containers[0].image.raw == "ghcr.io/acme/api:latest"
    # the component applies to prod only
    assert all(c.run_as_non_root is True and c.seccomp == "RuntimeDefault" for c in prod.containers)
    assert staging.containers[0].run_as_non_root is None
    # JSON 6902 on the HPA
    hpa = obj(p, "HorizontalPodAutoscaler/shop-prod/prod-api (overlay deploy/overlays/prod)")
    assert (hpa.raw["spec"]["minReplicas"], hpa.raw["spec"]["maxReplicas"]) == (4, 12)
    assert obj(p, "HorizontalPodAutoscaler/shop-staging/api (overlay deploy/overlays/staging)").raw["spec"][
        "maxReplicas"] == 6
    # $patch: delete removed the staging PodDisruptionBudget only
    assert [o.ref for o in p.objects("PodDisruptionBudget")] == [
        "PodDisruptionBudget/shop-prod/prod-api (overlay deploy/overlays/prod)"]
    # generators: a ConfigMap from the base, a Secret from the overlay, both prefixed
    cm = obj(p, "ConfigMap/shop-prod/prod-api-config (overlay deploy/overlays/prod)")
    assert dict(cm.raw["data"]) == {"LOG_LEVEL": "info", "FEATURE_FLAGS": "checkout-v2"}
    assert cm.loc == type(cm.loc)("deploy/base/kustomization.yaml", 11)
    assert obj(p, "Secret/shop-prod/prod-api-db (overlay deploy/overlays/prod)").raw["type"] == "Opaque"
    # commonAnnotations reach the pod template; `labels` without includeSelectors leave selectors alone
    assert prod.raw["spec"]["template"]["metadata"]["annotations"] == {"team": "checkout"}
    assert prod.selector == {"app": "api"}
    assert prod.raw["metadata"]["labels"]["app.kubernetes.io/part-of"] == "shop"


def test_renamed_objects_keep_their_references() -> None:
    p = load(OVERLAYS)
    prod = workload(p, "Deployment/shop-prod/prod-api (overlay deploy/overlays/prod)")
    assert prod.service_account == "prod-api"
    api = prod.containers[0]
    assert api.env_from == ["configMapRef:prod-api-config"]
    assert next(e for e in api.env if e.name == "DATABASE_URL").source == "secretKeyRef:prod-api-db/url"
    hpa = p.autoscaler_for(prod)
    assert hpa is not None and hpa.rendered_by == "overlay deploy/overlays/prod"
    assert [s.ref for s in p.services_selecting(prod)] == ["Service/shop-prod/prod-api (overlay deploy/overlays/prod)"]
    ing = obj(p, "Ingress/shop-prod/prod-api (overlay deploy/overlays/prod)")
    assert ing.raw["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "prod-api"


def test_more_transformers_prefix_suffix_labels_images_digest_and_list_patches() -> None:
    p = load(TRANSFORMERS)
    label = "overlay overlay"
    ss = workload(p, f"StatefulSet/payments/eu-ledger-v2 ({label})")
    assert ss.replicas == 5  # patchesJson6902 from a file
    assert ss.selector == {"app": "ledger", "env": "prod"}  # commonLabels reach selectors
    assert ss.pod_labels == {"app": "ledger", "env": "prod", "release": "blue"}
    assert [c.name for c in ss.containers] == ["migrate", "ledger"]  # `$patch: delete` removed debug
    ledger = ss.containers[1]
    assert ledger.image.digest and ledger.image.repository == "payments/ledger"  # newName + digest
    assert [pt.container_port for pt in ledger.ports] == [9000]  # port 9090 deleted by merge key
    assert ledger.requests == {"cpu": "500m", "memory": "1Gi"}
    assert [e.name for e in ledger.env] == ["ZONE", "REGION", "TOKEN"]
    assert ss.raw["spec"]["serviceName"] == "eu-ledger-v2"
    vols = {v["name"]: v for v in ss.volumes}
    assert vols["config"]["configMap"]["name"] == "eu-settings-v2"
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == "eu-ledger-data-v2"
    # a kind: List is expanded; the Namespace keeps its name; a CRD instance stays an object
    assert obj(p, f"Secret/payments/eu-ledger-token-v2 ({label})")
    assert obj(p, f"Namespace/payments ({label})").namespace is None
    assert obj(p, f"ServiceMonitor/payments/eu-ledger-v2 ({label})")
    rb = obj(p, f"RoleBinding/payments/eu-ledger-reader-v2 ({label})")
    assert rb.raw["roleRef"]["name"] == "eu-ledger-reader-v2"
    assert dict(rb.raw["subjects"][0]) == {"kind": "ServiceAccount", "name": "eu-ledger-v2", "namespace": "payments"}
    # configMapGenerator with envs/files, then merged by the overlay
    cm = obj(p, f"ConfigMap/payments/eu-settings-v2 ({label})")
    assert dict(cm.raw["data"]) == {"WORKERS": "4", "TIMEOUT": "60", "app.properties": "cache.size=128\n",
                                    "logging": "level=info\n"}
    svc = obj(p, f"Service/payments/eu-ledger-v2 ({label})")  # target by regex name + set-based labelSelector
    assert [pt["name"] for pt in svc.raw["spec"]["ports"]] == ["grpc", "admin"]
    cron = obj(p, f"CronJob/payments/eu-compact-v2 ({label})")
    assert cron.raw["metadata"]["annotations"]["schedule"] == "0 3 * * *"  # JSON 6902 copy


def _kubectl_kustomize_works() -> bool:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return False
    try:
        return subprocess.run([kubectl, "kustomize", "--help"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


HASH_RX = re.compile(r"-[bcdfghkmt2-9]{10}$")  # kustomize's generator name hash (prodready does not add it)


def _norm(o):
    if isinstance(o, dict):
        return {k: _norm(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_norm(v) for v in o]
    return HASH_RX.sub("", o) if isinstance(o, str) else o


@pytest.mark.parametrize("root,leaf", [(OVERLAYS, "deploy/overlays/prod"), (OVERLAYS, "deploy/overlays/staging"),
                                       (TRANSFORMERS, "overlay"), (REPLACEMENTS_ROOT, "overlay")])
def test_rendering_matches_kubectl_kustomize(root: Path, leaf: str) -> None:
    if not _kubectl_kustomize_works():
        pytest.skip("kubectl (with built-in kustomize) is not installed: parity with kustomize not checked")
    out = subprocess.run(["kubectl", "kustomize", str(root / leaf)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    theirs = {(d["kind"], d["metadata"].get("namespace"), _norm(d["metadata"]["name"])): _norm(d)
              for d in yaml.safe_load_all(out.stdout) if d}
    p = load(root)
    rr = render_all(p.parsed, p.files, p.sources, str(root), helm="")
    mine = {(r.obj["kind"], r.obj["metadata"].get("namespace"), r.obj["metadata"]["name"]): _norm(plain(r.obj))
            for r in rr.objects if r.rendered_by.endswith(" " + leaf)}
    assert sorted(mine, key=str) == sorted(theirs, key=str)
    for key, value in theirs.items():
        assert mine[key] == value, key


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: nginx:1.27
"""


def test_broken_kustomizations_are_reported_never_crash(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _write(root, {
        # a cycle: neither is a leaf, so its resources are evaluated as plain files
        "cycle/a/kustomization.yaml": "resources: [../b, a.yaml]\n",
        "cycle/a/a.yaml": DEPLOY.format(name="a"),
        "cycle/b/kustomization.yaml": "resources: [../a]\n",
        # outside the root, remote, missing, a directory without kustomization, an unrendered template
        "app/kustomization.yaml": (
            "resources:\n  - ../../outside.yaml\n  - https://github.com/acme/base//deploy?ref=v1\n"
            "  - missing.yaml\n  - sub\n  - tmpl.yaml\n  - deploy.yaml\n"
            "patches:\n  - target: {kind: Deployment, name: nope}\n    patch: |-\n"
            "      - op: replace\n        path: /spec/replicas\n        value: 3\n"
            "  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: typo}\n"
            "      spec: {replicas: 2}\n"
            "  - target: {kind: Deployment}\n    patch: |-\n      - op: replace\n        path: /spec/nothing/here\n"
            "        value: 1\n"
            "helmCharts:\n  - name: redis\n"),
        "app/deploy.yaml": DEPLOY.format(name="app"),
        "app/sub/notes.yaml": "a: 1\n",
        "app/tmpl.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n",
    })
    (tmp_path / "outside.yaml").write_text(DEPLOY.format(name="outside"))
    report = scan(root, ScanOptions(use_cache=False))
    kinds = {(d["kind"], d["path"], d["line"]) for d in report["diagnostics"]}
    assert ("kustomize-outside-root", "app/kustomization.yaml", 2) in kinds
    assert ("kustomize-remote", "app/kustomization.yaml", 3) in kinds
    assert ("kustomize-unresolved", "app/kustomization.yaml", 4) in kinds  # missing.yaml
    assert ("kustomize-unresolved", "app/kustomization.yaml", 5) in kinds  # sub/ has no kustomization
    assert ("kustomize-unresolved", "app/kustomization.yaml", 6) in kinds  # tmpl.yaml is a template
    assert ("kustomize-patch-unmatched", "app/kustomization.yaml", 11) in kinds  # target matches nothing
    assert ("kustomize-patch-unmatched", "app/kustomization.yaml", 15) in kinds  # patch names a typo
    assert ("kustomize-patch-error", "app/kustomization.yaml", 21) in kinds  # path does not exist
    assert any(k == "kustomize-unsupported" and p == "app/kustomization.yaml" for k, p, _ in kinds)
    assert sum(k == "kustomize-cycle" for k, _, _ in kinds) == 2
    p = load(root)
    assert sorted(w.ref for w in p.workloads) == ["Deployment/a", "Deployment/app (kustomization app)"]
    assert "outside" not in {w.name for w in p.workloads}


def test_overlay_nested_inside_its_base_is_rendered_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, {
        "k8s/kustomization.yaml": "resources: [deploy.yaml]\n",
        "k8s/deploy.yaml": DEPLOY.format(name="web"),
        "k8s/overlays/prod/kustomization.yaml": "resources: [../..]\nreplicas: [{name: web, count: 3}]\n",
    })
    p = load(tmp_path)
    assert [(w.ref, w.replicas) for w in p.workloads] == [("Deployment/web (overlay k8s/overlays/prod)", 3)]
    warn = [d for d in p.diagnostics if d.kind == "kustomize-warning"]
    assert warn and warn[0].path == "k8s/overlays/prod/kustomization.yaml" and "refuses" in warn[0].message


def _line(path: Path, needle: str) -> int:
    """The (1-based) line of ``path`` that contains ``needle``."""
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def test_replacements_are_applied_and_replaced_fields_point_at_the_replacement() -> None:
    p = load(REPLACEMENTS_ROOT)
    assert not [d for d in p.diagnostics if d.kind.startswith("kustomize")], p.diagnostics
    kfile = REPLACEMENTS_ROOT / "overlay" / "kustomization.yaml"
    web = workload(p, "Deployment/shop/prod-web (overlay overlay)")
    assert web.replicas == 3  # "3" from the ConfigMap, written into a number field
    app, exporter = web.containers
    # delimiter/index on both sides: only the tag changes; [name=web] is a regex, so web-exporter's too
    assert (app.image.raw, exporter.image.raw) == ("ghcr.io/acme/web:2.4.1", "ghcr.io/acme/web-exporter:2.4.1")
    # the replaced field points at the fieldPath of the replacement that set it, in the overlay
    image_line = _line(kfile, "- spec.template.spec.containers.[name=web].image")
    assert (app.raw.src_of("image"), app.raw.key_lines["image"]) == ("overlay/kustomization.yaml", image_line)
    assert app.raw.src_of("name") == "base/deployment.yaml"  # what no replacement touched stays in the base
    # the Service name (prefixed by the overlay) into env values; a field created with create: true
    assert {e.name: e.value for e in app.env} == {"BACKEND_HOST": "prod-web", "RELEASE_CHANNEL": "stable"}
    channel = next(e for e in app.env if e.name == "RELEASE_CHANNEL")
    assert (channel.loc.path, channel.loc.line) == (
        "overlay/kustomization.yaml", _line(kfile, "- spec.template.spec.containers.[name=web].env.[name=RELEASE"))
    assert web.pod_labels == {"app": "web", "channel": "stable"} and web.selector == {"app": "web"}
    # the reject kept the worker's own image (the BACKEND_HOST replacement selects it, though)
    worker = workload(p, "Deployment/shop/prod-worker (overlay overlay)").containers[0]
    assert worker.image.raw == "ghcr.io/acme/worker:3.1.0" and worker.raw.src_of("image") == "base/deployment.yaml"
    assert [e.value for e in worker.env] == ["prod-web"]
    # `- path: replacements.yaml`: a list selector in the source, the value located in that file
    port = obj(p, "Service/shop/prod-web (overlay overlay)").raw["spec"]["ports"][0]
    assert port["targetPort"] == 8080
    assert (port.src_of("targetPort"), port.key_lines["targetPort"]) == (
        "overlay/replacements.yaml", _line(REPLACEMENTS_ROOT / "overlay" / "replacements.yaml", "- spec.ports."))
    assert not [o for o in p.k8s_objects if o.loc.path == "overlay/replacements.yaml" and o.rendered_by is None]


def test_replacement_errors_are_reported_with_file_and_line_and_the_rest_still_renders(tmp_path: Path) -> None:
    _write(tmp_path, {
        "k/deploy.yaml": DEPLOY.format(name="web").replace("spec:\n", "spec:\n  replicas: 1\n", 1),
        "k/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  replicas: '4'\n",
        "k/kustomization.yaml": (
            "resources: [deploy.yaml, config.yaml]\n"
            "replacements:\n"
            "  - source: {kind: ConfigMap, name: missing, fieldPath: data.replicas}\n"  # 3: source not found
            "    targets: [{select: {kind: Deployment}, fieldPaths: [spec.replicas]}]\n"
            "  - source: {kind: ConfigMap, name: settings, fieldPath: data.replicas}\n"
            "    targets:\n"
            "      - select: {kind: Deployment}\n"
            "        fieldPaths:\n"
            "          - spec.template.spec.containers.image\n"  # 9: a field name where there is a list
            "          - spec.minReadySeconds\n"  # 10: missing, and no create
            "          - spec.replicas\n"  # 11: fine
            "  - source: {kind: Deployment, fieldPath: spec.template.spec.containers.0.image}\n"
            "    targets: [{select: {kind: ConfigMap}, fieldPaths: [data.image], options: {create: true}}]\n"),
    })
    p = load(tmp_path)
    errors = {(d.path, d.line): d.message for d in p.diagnostics if d.kind == "kustomize-error"}
    assert set(errors) == {("k/kustomization.yaml", 3), ("k/kustomization.yaml", 9), ("k/kustomization.yaml", 10)}
    assert "{kind=ConfigMap, name=missing} matches no resource" in errors[("k/kustomization.yaml", 3)]
    assert "'image' names a field, but there is a list" in errors[("k/kustomization.yaml", 9)]
    assert "spec.minReadySeconds not found" in errors[("k/kustomization.yaml", 10)]
    assert not [d for d in p.diagnostics if d.kind == "kustomize-unsupported"]
    # the other field paths and replacements still apply
    web = workload(p, "Deployment/web (kustomization k)")
    assert web.replicas == 4 and "minReadySeconds" not in web.raw["spec"]
    assert obj(p, "ConfigMap/settings (kustomization k)").raw["data"]["image"] == "nginx:1.27"


def test_replacements_from_files(tmp_path: Path) -> None:
    _write(tmp_path, {
        "k/deploy.yaml": DEPLOY.format(name="web"),
        "k/kustomization.yaml": "resources: [deploy.yaml]\nreplacements:\n  - path: r.yaml\n  - path: t.yaml\n",
        "k/r.yaml": ("# one replacement\nsourceValue: '1.10'\ntargets:\n  - select: {kind: Deployment}\n"
                     "    fieldPaths:\n      - spec.template.spec.containers.[name=app].image\n"
                     "    options: {delimiter: ':', index: 1}\n"),
        # the configuration of a ReplacementTransformer: `kustomize build` takes it under `transformers:` only
        "k/t.yaml": ("apiVersion: builtin\nkind: ReplacementTransformer\nmetadata: {name: r}\nreplacements:\n"
                     "  - source: {kind: Deployment, fieldPath: metadata.name}\n"
                     "    targets: [{select: {kind: Deployment}, fieldPaths: [metadata.labels.app], "
                     "options: {create: true}}]\n"),
    })
    p = load(tmp_path)
    web = workload(p, "Deployment/web (kustomization k)")
    c = web.containers[0]
    assert c.image.raw == "nginx:1.10"  # the text of a sourceValue, not the number 1.1
    assert (c.raw.src_of("image"), c.raw.key_lines["image"]) == ("k/r.yaml", 6)
    assert web.raw["metadata"]["labels"] == {"app": "web"}
    warn = [d for d in p.diagnostics if d.kind == "kustomize-warning"]
    assert [(d.path, d.line) for d in warn] == [("k/kustomization.yaml", 4)] and "transformers" in warn[0].message
    assert not [o for o in p.k8s_objects if o.loc.path in ("k/r.yaml", "k/t.yaml")]


def test_controls_judge_each_overlay_as_rendered() -> None:
    report = scan(OVERLAYS, ScanOptions(use_cache=False))
    pinned = result(report, "security.image-tag-pinned")
    fails = [e for e in pinned["evidence"] if e["status"] == "fail"]
    assert fails and all("(overlay deploy/overlays/staging)" in e["resource"] for e in fails)
    assert {(e["path"], e["line"]) for e in fails} == {("deploy/base/deployment.yaml", 19)}
    live = result(report, "reliability.liveness-probe")
    by_overlay = {e["resource"].split(" container")[0]: e for e in live["evidence"] if "prod-api" in e["resource"]
                  and " container api" in e["resource"]}
    prod = by_overlay["Deployment/shop-prod/prod-api (overlay deploy/overlays/prod)"]
    assert prod["status"] == "pass"
    assert any(e["status"] == "fail" and "(overlay deploy/overlays/staging)" in e["resource"]
               for e in live["evidence"])


def test_example_project_is_evaluated_through_each_overlay() -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "shop"
    p = load(root)
    staging = workload(p, "Deployment/shop/shop-api (overlay deploy/k8s/overlays/staging)")
    production = workload(p, "Deployment/shop/shop-api (overlay deploy/k8s/overlays/production)")
    assert p.autoscaler_for(staging).raw["spec"]["maxReplicas"] == 4  # the staging overlay's JSON patch
    assert p.autoscaler_for(production).raw["spec"]["maxReplicas"] == 10  # the base, untouched
    ing = obj(p, "Ingress/shop/shop-api (overlay deploy/k8s/overlays/staging)")
    assert ing.raw["spec"]["rules"][0]["host"] == "api.staging.shop.acme.example"
    assert production.raw["metadata"]["labels"]["environment"] == "production"  # overlay labels (metadata only)
    # the base is evaluated only as rendered by its overlays, never on its own
    assert not [w for w in p.workloads if w.source == "k8s" and w.loc.path.startswith("deploy/k8s/")
                and w.rendered_by is None]


# --- Helm ---------------------------------------------------------------------------------------

def _no_helm_path(tmp_path: Path) -> str:
    empty = tmp_path / "no-helm-bin"
    empty.mkdir(exist_ok=True)
    return str(empty)


def test_chart_without_helm_evaluates_values_defaults_and_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", _no_helm_path(tmp_path))
    p = load(HELM)
    diags = {d.path: d for d in p.diagnostics if d.kind == "helm-not-rendered"}
    assert set(diags) == {"charts/api", "charts/legacy"}
    assert "helm is not on PATH" in diags["charts/api"].message and "values.yaml" in diags["charts/api"].message
    api = workload(p, "Deployment/api (helm values charts/api, not rendered)")
    c = api.containers[0]
    assert c.image.raw == "ghcr.io/acme/api:2.3.1"  # empty tag defaults to appVersion, as the template says
    assert c.run_as_non_root is True and c.allow_privilege_escalation is False and c.capabilities_drop == ["ALL"]
    assert c.requests == {} and c.limits == {}  # resources: {}
    assert c.probes["liveness"].loc == type(c.loc)("charts/api/values.yaml", 28)
    assert api.replicas is None  # autoscaling.enabled: the template omits replicas
    hpa = p.autoscaler_for(api)
    assert hpa is not None and (hpa.raw["spec"]["minReplicas"], hpa.raw["spec"]["maxReplicas"]) == (2, 8)
    assert [s.ref for s in p.services_selecting(api)] == ["Service/api (helm values charts/api, not rendered)"]
    legacy = workload(p, "StatefulSet/legacy (helm values charts/legacy, not rendered)")
    lc = legacy.containers[0]
    assert legacy.replicas == 3 and lc.image.tag == "latest" and lc.requests == {"cpu": "100m", "memory": "128Mi"}
    # a probe hard-coded in a template counts, located in that template
    assert lc.probes["liveness"].loc == type(lc.loc)("charts/legacy/templates/statefulset.yaml", 19)
    assert "readiness" not in lc.probes
    # templates themselves are never evaluated as manifests
    assert not [o for o in p.k8s_objects if "/templates/" in o.loc.path and o.rendered_by is None]


def test_values_fallback_findings_point_into_values_yaml(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", _no_helm_path(tmp_path))
    report = scan(HELM, ScanOptions(use_cache=False))
    pinned = result(report, "security.image-tag-pinned")
    fails = [e for e in pinned["evidence"] if e["status"] == "fail"]
    assert [(e["path"], e["resource"].split(" container")[0]) for e in fails] == [
        ("charts/legacy/values.yaml", "StatefulSet/legacy (helm values charts/legacy, not rendered)")]
    assert any(d["kind"] == "helm-not-rendered" and d["path"] == "charts/api" for d in report["diagnostics"])


def test_chart_with_missing_dependencies_is_reported(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", _no_helm_path(tmp_path))
    p = load(RENDER / "helm-deps")
    d = next(d for d in p.diagnostics if d.kind == "helm-not-rendered")
    assert d.path == "chart" and "postgresql" in d.message and "dependency update" in d.message
    assert workload(p, "Deployment/web (helm values chart, not rendered)").containers[0].image.raw == "nginx:1.27"


HELM_OUTPUT = """---
# Source: api/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: release-name-api
spec:
  selector:
    app.kubernetes.io/name: api
  ports:
    - port: 8080
      targetPort: http
---
# Source: api/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: release-name-api
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: api
  template:
    metadata:
      labels:
        app.kubernetes.io/name: api
    spec:
      containers:
        - name: api
          image: "ghcr.io/acme/api:2.3.1"
          resources:
            {}
"""


def _stub_helm(tmp_path: Path, stdout: str, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in ``helm`` executable (the real one is not installable here): records its arguments and
    prints what ``helm template`` would."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (tmp_path / "out.yaml").write_text(stdout)
    (tmp_path / "err.txt").write_text(stderr)
    script = bindir / "helm"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{tmp_path}/args'\ncat '{tmp_path}/out.yaml'\n"
                      f"cat '{tmp_path}/err.txt' >&2\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bindir


def test_helm_template_is_run_offline_and_its_objects_evaluated(tmp_path: Path, monkeypatch) -> None:
    bindir = _stub_helm(tmp_path, HELM_OUTPUT)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    p = load(HELM)
    calls = (tmp_path / "args").read_text().splitlines()
    assert len(calls) == 2  # one per chart, never `helm dependency ...`
    for call in calls:
        args = call.split()
        assert args[:2] == ["template", "release-name"] and "--skip-tests" in args
        assert "--kube-version" in args and "dependency" not in args
    assert {c.split()[2].rsplit("/", 2)[-1] for c in calls} == {"api", "legacy"}
    assert not [d for d in p.diagnostics if d.kind == "helm-not-rendered"]
    w = [w for w in p.workloads if w.ref == "Deployment/release-name-api (helm chart charts/api)"]
    assert w, [x.ref for x in p.workloads]
    # located at the template the object came from (the line of its kind:)
    assert w[0].loc == type(w[0].loc)("charts/api/templates/deployment.yaml", 2)
    svc = [o for o in p.k8s_objects if o.ref == "Service/release-name-api (helm chart charts/legacy)"]
    assert svc and svc[0].loc.path == "charts/legacy/templates/service.yaml"


def test_failing_helm_template_falls_back_to_values(tmp_path: Path, monkeypatch) -> None:
    bindir = _stub_helm(tmp_path, "", 1, "Error: template: api/templates/deployment.yaml:9:14: nil pointer\n")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    p = load(HELM)
    d = next(d for d in p.diagnostics if d.kind == "helm-not-rendered" and d.path == "charts/api")
    assert "helm template` failed: Error: template: api/templates/deployment.yaml:9:14" in d.message
    assert workload(p, "Deployment/api (helm values charts/api, not rendered)")


def test_parse_helm_output_maps_sources_and_lists() -> None:
    sources = {"c/templates/all.yaml": "# header\nkind: List\n"}
    out = parse_helm_output("---\n# Source: mychart/templates/all.yaml\napiVersion: v1\nkind: List\nitems:\n"
                            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
                            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n", "c", sources)
    assert [(r.obj["metadata"]["name"], r.path, r.rendered_by) for r in out] == [
        ("a", "c/templates/all.yaml", "helm chart c"), ("b", "c/templates/all.yaml", "helm chart c")]


def test_real_helm_renders_the_chart() -> None:
    helm = shutil.which("helm")
    if helm is None:
        # skipped even under CI: helm is not packaged in Debian or on PyPI for this machine, and nothing else
        # may be downloaded; the stand-in tests above cover the subprocess path
        pytest.skip("helm is not installed (no Debian or PyPI package provides the binary here)")
    p = load(HELM)
    assert not [d for d in p.diagnostics if d.kind == "helm-not-rendered"], p.diagnostics
    api = [w for w in p.workloads if w.rendered_by == "helm chart charts/api"]
    assert api and api[0].containers[0].image.raw == "ghcr.io/acme/api:2.3.1"
    assert api[0].containers[0].probes["liveness"].loc.path == "charts/api/templates/deployment.yaml"


WEIRD_KUSTOMIZATIONS = [
    "resources: {a: 1}\n",
    "resources: [1, null, [], {x: 1}, '', deploy.yaml]\npatches: just a string\n",
    "resources: [deploy.yaml]\nimages: [1, null, {name: nginx}, {newTag: 2}]\nreplicas: [{name: web, count: many}]\n",
    "resources: [deploy.yaml]\nnamePrefix: [1]\nnamespace: {a: b}\ncommonLabels: [x]\ncommonAnnotations: 7\n",
    "resources: [deploy.yaml]\npatches:\n  - {target: {kind: Deployment}, patch: '[{op: add, path: /a/b/c, value: 1}]'}\n"
    "  - {target: {kind: Deployment}, patch: '[{op: move, from: /nope, path: /x}, 5, {op: frob, path: /}]'}\n"
    "  - {target: {kind: Deployment, name: '('}, patch: '{spec: null}'}\n"
    "  - {patch: '{kind: Deployment, metadata: {name: web}, spec: {template: {spec: {containers: "
    "[{name: web, $patch: replace}, 3]}}}}'}\n",
    "resources: [deploy.yaml]\nconfigMapGenerator: [{name: a, literals: [noequals, 'K=V'], files: [../../../etc/passwd]},"
    " 7, {literals: [x]}]\nsecretGenerator: [{name: s, behavior: merge}]\n",
    "resources: [deploy.yaml]\npatchesStrategicMerge: ['{kind: Deployment, metadata: {name: web}, $patch: delete}', 3]\n"
    "patchesJson6902: [{target: {kind: Deployment, name: web}, patch: '{not: a list}'}, {path: x.yaml}]\n",
    "resources: [deploy.yaml]\nreplacements:\n  - 5\n  - {source: 3, targets: x}\n  - {path: [x]}\n"
    "  - {source: {kind: Deployment, fieldPath: 'a.[b'}, targets: [{select: {}}]}\n"
    "  - {sourceValue: [1], targets: [{select: {kind: Deployment}, fieldPaths: [spec, 'a.[x=(].b', '*'], "
    "options: {index: x, delimiter: ':'}}, 7, {select: 1}]}\n"
    "  - {source: {kind: Deployment, fieldPath: spec.template.spec.containers, options: {delimiter: ','}}, "
    "targets: [{select: {kind: Deployment}, reject: [{labelSelector: 'a in (b'}, 3], fieldPaths: 'x'}]}\n",
    "resources: [deploy.yaml]\nreplacements: just a string\n",
    "- a list at the top\n",
    "",
]


@pytest.mark.parametrize("text", WEIRD_KUSTOMIZATIONS)
def test_malformed_kustomizations_never_crash(tmp_path: Path, text: str) -> None:
    _write(tmp_path, {"k/kustomization.yaml": text, "k/deploy.yaml": DEPLOY.format(name="web")})
    report = scan(tmp_path, ScanOptions(use_cache=False))
    assert not [d for d in report["diagnostics"] if d["kind"] in ("render-error", "parse-error")], \
        report["diagnostics"]
    assert "/etc/passwd" not in str(report) or any(d["kind"] == "kustomize-outside-root"
                                                   for d in report["diagnostics"])


def test_waiver_without_the_overlay_covers_every_rendering(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(OVERLAYS, root)
    (root / ".prodready").mkdir()
    (root / ".prodready" / "waivers.yaml").write_text(
        "waivers:\n  - control: security.image-tag-pinned\n    resource: Deployment/shop-staging/api container api\n"
        "    reason: staging follows the latest build (PLAT-1)\n    expires: 2999-01-01\n")
    report = scan(root, ScanOptions(use_cache=False))
    pinned = result(report, "security.image-tag-pinned")
    assert pinned["status"] == "pass" and len(pinned["waived"]) == 1
    assert "(overlay deploy/overlays/staging)" in pinned["waived"][0]["resource"]
    assert not [d for d in report["diagnostics"] if d["kind"] == "waiver-unmatched"]


def test_kustomization_regular_expressions_cannot_hang_the_scan(tmp_path: Path) -> None:
    """Patch targets and replacement list selectors are regular expressions from the repository: matched as
    kustomize matches them (Go's RE2, linear time), a pathological one costs nothing. With a backtracking
    matcher these two take hours on a 40-letter name; the scan runs in a child so a regression fails here."""
    import sys

    name = "a" * 40 + "x"
    _write(tmp_path, {
        "base/kustomization.yaml": "resources: [deploy.yaml]\n",
        "base/deploy.yaml": (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n"
                             f"  template:\n    spec:\n      containers:\n        - name: {name}\n"
                             "          image: nginx:1.27\n"),
        "overlay/kustomization.yaml": (
            "resources: [../base]\n"
            "patches:\n"
            "  - target: {kind: Deployment, name: '(a+)+$'}\n"
            "    patch: |-\n"
            "      - op: add\n"
            "        path: /metadata/labels\n"
            "        value: {patched: 'yes'}\n"
            "replacements:\n"
            "  - source: {kind: Deployment, fieldPath: metadata.name}\n"
            "    targets:\n"
            "      - select: {kind: Deployment}\n"
            "        fieldPaths: ['spec.template.spec.containers.[name=(a|aa)+$].image']\n"),
    })
    code = ("import sys; from pathlib import Path; from prodready.engine import scan, ScanOptions; "
            "r = scan(Path(sys.argv[1]), ScanOptions(use_cache=False)); print(r['files']['total'])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"
    p = load(tmp_path)
    (w,) = p.workloads
    assert "patched" not in (w.raw.get("metadata") or {}).get("labels", {})  # (a+)+$ does not match ...x
    assert w.containers[0].image.raw == "nginx:1.27"  # nor does (a|aa)+$
