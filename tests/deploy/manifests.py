"""The kustomize overlays as `kubectl kustomize` renders them, and how to read the objects."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from fdi_drift.drift.model import ReconcileMode
from fdi_drift.settings import Settings, settings_from_mapping

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUSTOMIZE = DEPLOY / "kustomize"
OVERLAYS = {
    "observe": ReconcileMode.OBSERVE,
    "reconcile": ReconcileMode.AUTO,
    "sharded": ReconcileMode.OBSERVE,
}
NAMESPACE = "fdi-drift"
WORKLOADS = {"Deployment", "StatefulSet"}
# The keys that make a daemon one replica of several; test_sharded.py loads them as such.
SHARDING_KEYS = ("shards", "shard")

Doc = dict[str, Any]


def render(kubectl: str, directory: Path) -> list[Doc]:
    """The objects `kubectl kustomize` renders from a kustomization directory."""
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(docs: list[Doc], kind: str) -> Doc:
    [found] = [doc for doc in docs if doc["kind"] == kind]
    return found


def workload(docs: list[Doc]) -> Doc:
    """The one Deployment or StatefulSet that runs the daemon."""
    [found] = [doc for doc in docs if doc["kind"] in WORKLOADS]
    return found


def pod_spec(docs: list[Doc]) -> Doc:
    spec: Doc = workload(docs)["spec"]["template"]["spec"]
    return spec


def container(docs: list[Doc], name: str) -> Doc:
    found: list[Doc] = [c for c in pod_spec(docs)["containers"] if c["name"] == name]
    assert len(found) == 1, name
    return found[0]


def config_map(docs: list[Doc]) -> Doc:
    """The daemon's ConfigMap (the one holding config.yaml), not the dashboard's."""
    [found] = [doc for doc in docs if doc["kind"] == "ConfigMap" and "config.yaml" in doc["data"]]
    return found


def config(docs: list[Doc]) -> dict[str, Any]:
    """The rendered config.yaml, as YAML."""
    loaded: dict[str, Any] = yaml.safe_load(config_map(docs)["data"]["config.yaml"])
    return loaded


def daemon_settings(docs: list[Doc]) -> Settings:
    """The rendered config.yaml as the daemon loads it, read as one unsharded process.

    The sharding keys are left out: with `shards` above one the shard comes from the pod's
    hostname, which only test_sharded.py gives.
    """
    mapping = {key: value for key, value in config(docs).items() if key not in SHARDING_KEYS}
    return settings_from_mapping(mapping, base_dir=Path("/etc/fdi-drift"), environ={})


def mount_holding(spec: Doc, path: Path) -> Doc | None:
    """The container mount that `path` lies under (the deepest one), if any."""
    candidates = [m for m in spec["volumeMounts"] if path.is_relative_to(m["mountPath"])]
    return max(candidates, key=lambda m: len(m["mountPath"]), default=None)


def claimed_volumes(docs: list[Doc]) -> set[str]:
    """The pod's volumes that a PersistentVolumeClaim backs: a pod volume naming a claim the
    overlay renders, or a StatefulSet's claim template (one claim per pod)."""
    claims = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "PersistentVolumeClaim"}
    named = {
        volume["name"]
        for volume in pod_spec(docs)["volumes"]
        if volume.get("persistentVolumeClaim", {}).get("claimName") in claims
    }
    templates = workload(docs)["spec"].get("volumeClaimTemplates", [])
    return named | {template["metadata"]["name"] for template in templates}
