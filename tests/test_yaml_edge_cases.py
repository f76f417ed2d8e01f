"""YAML edge cases, each handled deliberately: unknown kinds and CRDs, ``kind: List``, empty and odd
documents, duplicate keys, anchors/aliases (and alias bombs), unrendered ``{{ }}`` and a Kustomize patch that
targets nothing. Fixture tree: tests/fixtures/render/yaml-edge/."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodready.config import Config
from prodready.engine import ScanOptions, load_project, scan
from prodready.model import Loc, Project

EDGE = Path(__file__).parent / "fixtures" / "render" / "yaml-edge"


@pytest.fixture(scope="module")
def project() -> Project:
    p, _ = load_project(EDGE, ScanOptions(use_cache=False), Config())
    return p


def refs(p: Project, path: str) -> list[str]:
    return [o.ref for o in p.k8s_objects if o.loc.path == path]


def test_crds_and_unknown_kinds_are_objects_not_workloads(project: Project) -> None:
    assert refs(project, "crds.yaml") == ["CustomResourceDefinition/widgets.acme.example", "Widget/shop/blue",
                                          "Rollout/shop/web"]
    # a Rollout has a pod template, but it is not a kind prodready models as a workload: no guessed findings
    assert not [w for w in project.workloads if w.loc.path == "crds.yaml"]
    widget = next(o for o in project.k8s_objects if o.kind == "Widget")
    assert widget.loc == Loc("crds.yaml", 19) and widget.raw["spec"]["size"] == 3


def test_kind_list_is_expanded_with_item_lines(project: Project) -> None:
    assert refs(project, "list.yaml") == ["Deployment/listed-a", "Service/listed-a", "ConfigMap/one"]
    w = next(w for w in project.workloads if w.name == "listed-a")
    assert w.loc == Loc("list.yaml", 4) and w.containers[0].loc == Loc("list.yaml", 14)
    # non-object items of a *List (a string, a number) are ignored, not crashed on
    assert not [d for d in project.diagnostics if d.path == "list.yaml"]


def test_empty_comment_only_and_non_mapping_documents(project: Project) -> None:
    assert refs(project, "empty-docs.yaml") == ["Deployment/after-empties"]
    assert next(w for w in project.workloads if w.name == "after-empties").loc == Loc("empty-docs.yaml", 5)
    assert project.files["empty.yaml"] == "yaml" and refs(project, "empty.yaml") == []
    # scalar and list documents are skipped; a Deployment whose spec is a string has no containers
    odd = next(w for w in project.workloads if w.name == "odd")
    assert odd.containers == [] and odd.replicas is None
    for path in ("empty-docs.yaml", "empty.yaml", "odd-docs.yaml"):
        assert not [d for d in project.diagnostics if d.path == path and d.kind == "parse-error"], path


def test_duplicate_keys_are_reported_and_the_last_value_wins(project: Project) -> None:
    d = [d for d in project.diagnostics if d.path == "duplicate.yaml"]
    assert [(x.kind, x.line) for x in d] == [("duplicate-key", 13)] and "'image'" in d[0].message
    c = next(w for w in project.workloads if w.name == "dup").containers[0]
    assert c.image.raw == "nginx:1.27"  # as Kubernetes would read it


def test_anchors_aliases_and_merge_keys_are_resolved_with_lines(project: Project) -> None:
    w = next(w for w in project.workloads if w.name == "anchored")
    assert w.selector == {"app": "anchored"} and w.pod_labels == {"app": "anchored"}
    app, sidecar = w.containers
    assert sidecar.requests == app.requests == {"cpu": "100m", "memory": "64Mi"}  # resources: *res
    # <<: *hardened merged, then extended
    assert sidecar.run_as_non_root is True and sidecar.allow_privilege_escalation is False
    assert sidecar.read_only_root_fs is True and app.read_only_root_fs is None
    assert sidecar.loc == Loc("anchors.yaml", 19)


def test_alias_bomb_is_refused_and_the_scan_goes_on(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(7)))
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ok}\n")
    p, _ = load_project(tmp_path, ScanOptions(use_cache=False), Config())
    bomb = [d for d in p.diagnostics if d.path == "bomb.yaml"]
    assert bomb and bomb[0].kind == "parse-error" and "alias" in bomb[0].message
    assert [o.ref for o in p.k8s_objects] == ["ServiceAccount/ok"]


def test_unrendered_templates_are_reported_not_evaluated(project: Project) -> None:
    assert project.files["template.yaml"] == "helm-template"
    d = [d for d in project.diagnostics if d.path == "template.yaml"]
    assert [(x.kind, x.line) for x in d] == [("unrendered-template", 4)]
    assert refs(project, "template.yaml") == []


def test_kustomize_patch_that_targets_nothing_is_a_diagnostic(project: Project) -> None:
    d = [d for d in project.diagnostics if d.path == "kustomize/kustomization.yaml"]
    assert [(x.kind, x.line) for x in d] == [("kustomize-patch-unmatched", 8)]
    assert "name=worker" in d[0].message
    w = next(w for w in project.workloads if w.name == "api")
    assert w.replicas == 1 and w.rendered_by == "kustomization kustomize"


def test_report_carries_every_edge_case_diagnostic() -> None:
    report = scan(EDGE, ScanOptions(use_cache=False))
    kinds = {(d["kind"], d["path"]) for d in report["diagnostics"]}
    assert {("duplicate-key", "duplicate.yaml"), ("unrendered-template", "template.yaml"),
            ("kustomize-patch-unmatched", "kustomize/kustomization.yaml")} <= kinds
    assert not [r for r in report["results"] if r["status"] == "error"]
