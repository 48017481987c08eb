"""The sharded overlay: the base's pod as a StatefulSet of `shards` replicas, each its own shard
(from its hostname's ordinal) with its own volume for the audit log, the drift history and the
parse cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fdi_drift.errors import ConfigError
from fdi_drift.settings import Settings, settings_from_mapping
from tests.deploy.manifests import (
    SHARDING_KEYS,
    Doc,
    config,
    config_map,
    container,
    find,
    mount_holding,
    pod_spec,
    workload,
)


@pytest.fixture
def sharded(rendered: dict[str, list[Doc]]) -> list[Doc]:
    return rendered["sharded"]


def replica_settings(docs: list[Doc], hostname: str) -> Settings:
    """The sharded config.yaml as the daemon loads it in the pod named `hostname`."""
    return settings_from_mapping(
        config(docs), base_dir=Path("/etc/fdi-drift"), environ={}, hostname=lambda: hostname
    )


def renamed(tree: Any, old: str, new: str) -> Any:
    """A copy of a YAML tree with every string `old` replaced by `new`."""
    if isinstance(tree, dict):
        return {key: renamed(value, old, new) for key, value in tree.items()}
    if isinstance(tree, list):
        return [renamed(value, old, new) for value in tree]
    return new if tree == old else tree


def pod_template(docs: list[Doc], dropped: set[str]) -> Doc:
    """The workload's pod template, comparable across overlays: the generated ConfigMap's name
    (its hash differs) replaced, the `dropped` volumes and their mounts left out, in name order."""
    name = config_map(docs)["metadata"]["name"]
    template: Doc = renamed(workload(docs)["spec"]["template"], name, "CONFIG")
    spec = template["spec"]
    spec["volumes"] = sorted(
        (v for v in spec["volumes"] if v["name"] not in dropped), key=lambda v: v["name"]
    )
    for each in spec["containers"]:
        each["volumeMounts"] = sorted(
            (m for m in each["volumeMounts"] if m["name"] not in dropped),
            key=lambda m: m["mountPath"],
        )
    return template


def claim_names(docs: list[Doc]) -> set[str]:
    claims: list[dict[str, Any]] = workload(docs)["spec"]["volumeClaimTemplates"]
    return {claim["metadata"]["name"] for claim in claims}


def test_the_shards_are_a_statefulset_of_as_many_replicas_as_shards(sharded: list[Doc]) -> None:
    """A StatefulSet (no Deployment besides) whose replica count is the config's `shards`; the
    shard index is left to each pod's hostname, and all pods start and stop together."""
    assert not [doc for doc in sharded if doc["kind"] == "Deployment"]
    statefulset = find(sharded, "StatefulSet")
    settings = config(sharded)
    assert settings["shards"] == statefulset["spec"]["replicas"] == 3
    assert "shard" not in settings
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert "strategy" not in statefulset["spec"]


def test_the_pods_are_named_through_a_headless_service(sharded: list[Doc]) -> None:
    """serviceName is a headless Service in front of exactly these pods, not-ready ones too."""
    statefulset = find(sharded, "StatefulSet")
    service = find(sharded, "Service")
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    template = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= template.items()
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= template.items()


def test_the_statefulset_runs_the_pod_of_the_base(rendered: dict[str, list[Doc]]) -> None:
    """The pod template is the observe Deployment's, but for the shared claim and the cache
    emptyDir, which became the pod's own volume: one container spec, not a copy that could
    drift apart."""
    base = pod_template(rendered["observe"], {"state", "cache"})
    sharded = pod_template(rendered["sharded"], claim_names(rendered["sharded"]))
    assert sharded == base


def test_audit_log_history_and_parse_cache_are_on_each_pods_own_volume(
    sharded: list[Doc],
) -> None:
    """The daemon writes only the audit log, the drift history and the cache, all on the pod's
    claim (which outlives rollouts and rescheduling): the log and the history in the directory
    that earlier versions kept the log in, the cache in another. The base's shared claim and
    cache emptyDir are gone."""
    daemon, settings = container(sharded, "fdi-drift"), config(sharded)
    claims = claim_names(sharded)
    assert len(claims) == 1
    writable = [m for m in daemon["volumeMounts"] if not m.get("readOnly")]
    keys = ("audit_log", "history_db", "cache_dir")
    audit, history, cache = (mount_holding(daemon, Path(settings[key])) for key in keys)
    assert audit is not None and cache is not None
    assert history == audit and audit["subPath"] == "audit"
    assert sorted(m["mountPath"] for m in writable) == sorted(
        [audit["mountPath"], cache["mountPath"]]
    )
    assert {m["name"] for m in writable} == claims
    assert len({m["subPath"] for m in writable}) == len(writable)
    assert not {"state", "cache"} & {v["name"] for v in pod_spec(sharded)["volumes"]}
    assert not [doc for doc in sharded if doc["kind"] == "PersistentVolumeClaim"]
    [claim] = workload(sharded)["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]


def test_a_drain_takes_one_shard_down_at_a_time(sharded: list[Doc]) -> None:
    """The disruption budget covers the shards' pods and lets one go at a time."""
    budget = find(sharded, "PodDisruptionBudget")
    template = workload(sharded)["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= template.items()
    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]


def test_the_sharded_config_is_the_bases_plus_shards(rendered: dict[str, list[Doc]]) -> None:
    """Apart from `shards`, the sharded config.yaml is the base's: the same paths for the audit
    log, the history and the cache, which the StatefulSet puts on each pod's claim."""
    base, sharded = config(rendered["observe"]), config(rendered["sharded"])
    added = {key: sharded.pop(key) for key in SHARDING_KEYS if key in sharded}
    assert set(added) == {"shards"}
    assert sharded == base


@pytest.mark.parametrize("ordinal", range(3))
def test_each_replica_is_the_shard_of_its_ordinal(sharded: list[Doc], ordinal: int) -> None:
    """The pod NAME-i of the StatefulSet loads the config as shard i of `replicas`."""
    statefulset = find(sharded, "StatefulSet")
    settings = replica_settings(sharded, f"{statefulset['metadata']['name']}-{ordinal}")
    replicas = statefulset["spec"]["replicas"]
    assert (settings.shard.index, settings.shard.count) == (ordinal, replicas)


def test_a_replica_beyond_the_shards_refuses_to_start(sharded: list[Doc]) -> None:
    """Scaled past `shards` without changing it, the extra pod stops at its configuration."""
    statefulset = find(sharded, "StatefulSet")
    replicas = statefulset["spec"]["replicas"]
    with pytest.raises(ConfigError, match="shards"):
        replica_settings(sharded, f"{statefulset['metadata']['name']}-{replicas}")
