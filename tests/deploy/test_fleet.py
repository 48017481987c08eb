"""What a fleet of installations relies on: the configuration generated (so a change rolls the
pods), the namespace set by each overlay, the kube-prometheus-stack label in one component, and
the dashboard as a ConfigMap for Grafana's sidecar, generated from the dashboard's JSON."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    DEPLOY,
    KUSTOMIZE,
    NAMESPACE,
    OVERLAYS,
    Doc,
    config_map,
    pod_spec,
    render,
    workload,
)

DASHBOARD = DEPLOY / "grafana" / "fdi-drift-dashboard.json"
COMPONENT = KUSTOMIZE / "components" / "kube-prometheus-stack"
RELEASE = {"release": "kube-prometheus-stack"}
# The file each overlay's config.yaml comes from.
CONFIG_FILES = {
    "observe": "base/config.yaml",
    "reconcile": "overlays/reconcile/config.yaml",
    "sharded": "overlays/sharded/config.yaml",
}


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """A copy of deploy/ to edit and render."""
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    return tmp_path / "deploy"


def config_references(docs: list[Doc]) -> list[str]:
    """Every ConfigMap name the pod template refers to, in volumes and in variables."""
    pod = pod_spec(docs)
    names = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    for each in pod["containers"]:
        for variable in each.get("env", []):
            reference = variable.get("valueFrom", {}).get("configMapKeyRef")
            if reference:
                names.append(reference["name"])
    return names


def dashboard_map(docs: list[Doc]) -> Doc:
    [found] = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" not in d["data"]]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_in_the_overlays_namespace(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """Each overlay puts every object it renders in its namespace."""
    assert {doc["metadata"].get("namespace") for doc in rendered[overlay]} == {NAMESPACE}


def test_the_base_names_no_namespace(kubectl: str) -> None:
    """The base leaves the namespace to the overlays, so one base serves several namespaces."""
    kustomization = yaml.safe_load((KUSTOMIZE / "base" / "kustomization.yaml").read_text())
    assert "namespace" not in kustomization
    docs = render(kubectl, KUSTOMIZE / "base")
    assert docs
    assert all("namespace" not in doc["metadata"] for doc in docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_map_is_generated_and_referenced_by_its_hashed_name(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """The config ConfigMap's name ends in a hash of its content, and the pod refers to that."""
    docs = rendered[overlay]
    name = config_map(docs)["metadata"]["name"]
    assert re.fullmatch(r"fdi-drift-[a-z0-9]{10}", name), name
    references = config_references(docs)
    assert len(references) == 3  # the config.yaml volume, git-sync's repository and ref
    assert set(references) == {name}


def test_the_overlays_configs_have_different_names(rendered: dict[str, list[Doc]]) -> None:
    """Each overlay's config differs, and so does its name: none can stand in for another."""
    names = {config_map(docs)["metadata"]["name"] for docs in rendered.values()}
    assert len(names) == len(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_config_change_rolls_the_pods(
    rendered: dict[str, list[Doc]], kubectl: str, copied: Path, overlay: str
) -> None:
    """Editing the config.yaml an overlay reads gives the ConfigMap a new name and the pod
    template the new reference, which is what makes an apply replace the pods."""
    path = copied / "kustomize" / CONFIG_FILES[overlay]
    text = path.read_text()
    assert "\ninterval_seconds: 60\n" in text
    path.write_text(text.replace("\ninterval_seconds: 60\n", "\ninterval_seconds: 90\n"))
    before, after = rendered[overlay], render(kubectl, copied / "kustomize" / "overlays" / overlay)
    old, new = (config_map(docs)["metadata"]["name"] for docs in (before, after))
    assert old != new
    assert "interval_seconds: 90" in config_map(after)["data"]["config.yaml"]
    assert set(config_references(after)) == {new}
    assert workload(after)["spec"]["template"] != workload(before)["spec"]["template"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kube_prometheus_stack_selects_the_monitor_and_the_rules(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """The ServiceMonitor and the PrometheusRule carry kube-prometheus-stack's release label;
    no other object does."""
    for doc in rendered[overlay]:
        labels: dict[str, Any] = doc["metadata"]["labels"]
        if doc["kind"] in {"ServiceMonitor", "PrometheusRule"}:
            assert RELEASE.items() <= labels.items(), doc["kind"]
        else:
            assert "release" not in labels, doc["kind"]


def test_the_release_label_is_set_in_one_component_that_every_overlay_includes() -> None:
    """One file names the release, so a differently named release is one edit; every overlay
    includes the component that holds it."""
    files = sorted(KUSTOMIZE.rglob("*.yaml"))
    naming = [p for p in files if re.search(r"^[^#]*\brelease\b", p.read_text(), re.M)]
    assert naming == [COMPONENT / "kustomization.yaml"]
    for overlay in OVERLAYS:
        path = KUSTOMIZE / "overlays" / overlay / "kustomization.yaml"
        kustomization = yaml.safe_load(path.read_text())
        assert "../../components/kube-prometheus-stack" in kustomization["components"], overlay


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_dashboard_is_a_config_map_for_grafanas_sidecar(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """A ConfigMap labelled for the sidecar holds the dashboard's JSON, byte for byte, under a
    fixed name: a new name per version would leave the old one loaded beside it."""
    dashboard = dashboard_map(rendered[overlay])
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["name"] == "fdi-drift-dashboard"
    assert dashboard["data"] == {DASHBOARD.name: DASHBOARD.read_text(encoding="utf-8")}


def test_the_dashboard_config_map_is_generated_from_the_json(kubectl: str, copied: Path) -> None:
    """An edit of deploy/grafana/fdi-drift-dashboard.json is what the rendered ConfigMap holds:
    there is no second copy of the dashboard to keep in step."""
    path = copied / "grafana" / DASHBOARD.name
    text = path.read_text(encoding="utf-8")
    edited = text.replace('"title": "fdi-drift"', '"title": "fdi-drift (edited)"')
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    docs = render(kubectl, copied / "kustomize" / "overlays" / "observe")
    assert dashboard_map(docs)["data"] == {DASHBOARD.name: edited}
