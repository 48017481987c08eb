"""Tests for the metrics snapshot and counters."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fdi_drift import metrics as metrics_module
from fdi_drift.drift.model import (
    BlockReason,
    ChangeOp,
    CycleReport,
    FieldChange,
    ResourceKey,
    ResourceStatus,
    Status,
)
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics, DesiredStateHealth


def status(
    name: str, value: Status, *, changes: int = 0, since: float | None = None
) -> ResourceStatus:
    key = ResourceKey(FDI_TASK, "p1", "i1", name)
    found = tuple(FieldChange(f"/task/f{n}", ChangeOp.CHANGED, "a", "b") for n in range(changes))
    return ResourceStatus(
        key,
        value,
        live_id=f"id-{name}",
        changes=found,
        drift_since=since,
        region="cn-north-4",
        account="acme",
    )


def report(*statuses: ResourceStatus, complete: bool = True) -> CycleReport:
    return CycleReport("rev1", 100.0, 102.5, statuses, complete)


def labels(name: str) -> dict[str, str]:
    return {
        "kind": "FdiTask",
        "region": "cn-north-4",
        "account": "acme",
        "project_id": "p1",
        "instance_id": "i1",
        "resource": f"id-{name}",
        "name": name,
        "shard": "0",
    }


def test_snapshot_renders_each_resource_and_totals() -> None:
    """Per-resource gauges follow the latest report; totals count by kind and status."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="1.2.3")
    metrics.observe_cycle(
        report(
            status("a", Status.DRIFTED, changes=2, since=50.0),
            status("b", Status.IN_SYNC),
            status("c", Status.UNMANAGED),
        )
    )
    value = registry.get_sample_value
    assert value("fdi_drift_resource_drifted", labels("a")) == 1
    assert value("fdi_drift_resource_drift_fields", labels("a")) == 2
    assert value("fdi_drift_resource_drift_since_timestamp_seconds", labels("a")) == 50
    assert value("fdi_drift_resource_drifted", labels("b")) == 0
    assert value("fdi_drift_resource_status", {**labels("b"), "status": "in_sync"}) == 1
    assert value("fdi_drift_resource_status", {**labels("b"), "status": "drifted"}) == 0
    assert value("fdi_drift_resource_drifted", labels("c")) is None  # unmanaged: counted only
    totals = {"kind": "FdiTask", "shard": "0"}
    assert value("fdi_drift_resources", {**totals, "status": "unmanaged"}) == 1
    assert value("fdi_drift_resources", {**totals, "status": "drifted"}) == 1
    assert value("fdi_drift_last_successful_cycle_timestamp_seconds") == 102.5
    assert value("fdi_drift_cycle_duration_seconds_count") == 1
    assert value("fdi_drift_build_info", {"version": "1.2.3"}) == 1


def test_series_vanish_with_their_resource() -> None:
    """A resource missing from the next report leaves no series behind."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="x")
    metrics.observe_cycle(
        report(status("a", Status.DRIFTED, changes=1), status("b", Status.IN_SYNC))
    )
    metrics.observe_cycle(report(status("b", Status.IN_SYNC)))
    assert registry.get_sample_value("fdi_drift_resource_drifted", labels("a")) is None
    assert registry.get_sample_value("fdi_drift_resource_drifted", labels("b")) == 0


def test_incomplete_cycle_does_not_count_as_success() -> None:
    """A cycle whose lists did not all finish leaves the last-success timestamp alone."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="x")
    metrics.observe_cycle(report(status("a", Status.UNKNOWN), complete=False))
    assert registry.get_sample_value("fdi_drift_last_successful_cycle_timestamp_seconds") == 0


def test_desired_state_revision_is_kept_while_invalid() -> None:
    """An invalid load sets valid=0 and keeps the revision in force."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="x")
    metrics.observe_desired_state(DesiredStateHealth(valid=True, revision="0123456789abcdef"))
    metrics.observe_desired_state(
        DesiredStateHealth(valid=False, revision="0123456789abcdef", error="bad")
    )
    assert registry.get_sample_value("fdi_drift_desired_state_valid") == 0
    assert (
        registry.get_sample_value("fdi_drift_desired_state_info", {"revision": "0123456789ab"}) == 1
    )


def test_api_observer_counts_each_attempt() -> None:
    """The cloud client's observer feeds the request counter and histogram."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="x")
    metrics.observe_request("fdi", "GET", "503", 0.2, region="eu-west-101")
    metrics.observe_request("fdi", "GET", "200", 0.1, region="eu-west-101")
    metrics.observe_request("fdi", "GET", "200", 0.1, region="cn-north-4")
    sample = registry.get_sample_value
    get = {"region": "eu-west-101", "service": "fdi", "method": "GET"}
    assert sample("fdi_drift_api_requests_total", {**get, "code": "503"}) == 1
    assert sample("fdi_drift_api_request_duration_seconds_count", get) == 2


def parsed(text: bytes) -> set[tuple[str, frozenset[tuple[str, str]], float]]:
    """Every sample of an exposition, label order aside; fails on a family named twice."""
    families = list(text_string_to_metric_families(text.decode()))
    names = [family.name for family in families]
    assert len(names) == len(set(names)), names
    return {
        (sample.name, frozenset(sample.labels.items()), sample.value)
        for family in families
        for sample in family.samples
    }


def awkward(name: str, value: Status) -> ResourceStatus:
    """A resource whose labels hold what the text format must escape."""
    key = ResourceKey(FDI_TASK, "p1", 'i"1', name)
    return ResourceStatus(
        key,
        value,
        live_id="id\\with\nnewline",
        changes=(FieldChange("/task/a", ChangeOp.CHANGED, "a", "b"),),
        drift_since=1_700_000_000.25,
        block=BlockReason.OUTSIDE_WINDOW if value is Status.BLOCKED else None,
        region="cn-north-4",
        account="acme",
    )


def test_a_scrape_serves_what_the_registry_holds() -> None:
    """The served exposition parses to the same samples as a full render of the registry."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="x", kinds=[FDI_TASK])
    assert parsed(metrics.exposition()) == parsed(generate_latest(registry))  # before a cycle
    metrics.observe_shard(2, 3)
    metrics.observe_request("fdi", "GET", "200", 0.1, region="cn-north-4")
    metrics.observe_cycle(
        report(
            status("a", Status.DRIFTED, changes=2, since=50.0),
            status("b", Status.IN_SYNC),
            status("c", Status.UNMANAGED),
            awkward('quote"back\\slash', Status.BLOCKED),
            awkward("名前\nline", Status.MISSING),
        )
    )
    served = parsed(metrics.exposition())
    assert served == parsed(generate_latest(registry))
    blocked = {
        dict(labels).get("name")
        for name, labels, _ in served
        if name == "fdi_drift_resource_blocked" and dict(labels)["reason"] == "outside_window"
    }
    assert blocked == {'quote"back\\slash'}


def test_every_series_of_a_resource_carries_its_shard() -> None:
    """Per-resource series and the totals carry the shard index; shard_info names both."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry, version="x", kinds=[FDI_TASK])
    assert registry.get_sample_value("fdi_drift_shard_info", {"shard": "0", "shards": "1"}) == 1
    metrics.observe_shard(2, 3)
    metrics.observe_cycle(
        report(status("a", Status.DRIFTED, changes=1), status("b", Status.BLOCKED))
    )
    value = registry.get_sample_value
    assert value("fdi_drift_shard_info", {"shard": "2", "shards": "3"}) == 1
    assert value("fdi_drift_shard_info", {"shard": "0", "shards": "1"}) is None
    resource = {**labels("a"), "shard": "2"}
    assert value("fdi_drift_resource_drifted", resource) == 1
    assert value("fdi_drift_resource_status", {**resource, "status": "drifted"}) == 1
    assert value("fdi_drift_resources", {"kind": "FdiTask", "status": "drifted", "shard": "2"}) == 1
    for name, labels_of, _ in parsed(metrics.exposition()):
        if name.startswith("fdi_drift_resource"):
            assert dict(labels_of)["shard"] == "2", name


def counted_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one at each render of the per-resource text."""
    renders: list[int] = []
    render = metrics_module._SnapshotCollector.render

    def counted(self: metrics_module._SnapshotCollector) -> bytes:
        renders.append(1)
        return render(self)

    monkeypatch.setattr(metrics_module._SnapshotCollector, "render", counted)
    return renders


def test_a_scrape_does_not_render_the_resources_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-resource text is rendered once per published cycle, never per scrape."""
    metrics = DaemonMetrics(CollectorRegistry(), version="x")
    renders = counted_renders(monkeypatch)
    metrics.observe_cycle(report(status("a", Status.DRIFTED, changes=1)))
    first = metrics.exposition()
    metrics.observe_request("fdi", "GET", "200", 0.1)
    second = metrics.exposition()
    assert len(renders) == 1
    assert b'fdi_drift_resource_drifted{kind="FdiTask"' in first
    sample = b"fdi_drift_api_requests_total{"  # the process-level part is rendered live
    assert sample in second and sample not in first


def test_a_quiet_cycle_serves_the_text_already_rendered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Statuses unchanged since the last cycle are not rendered again; a changed one is."""
    metrics = DaemonMetrics(CollectorRegistry(), version="x")
    renders = counted_renders(monkeypatch)
    drifted = status("a", Status.DRIFTED, changes=1)
    metrics.observe_cycle(report(drifted))
    metrics.observe_cycle(report(drifted))
    assert len(renders) == 1
    metrics.observe_cycle(report(status("a", Status.IN_SYNC)))
    assert len(renders) == 2
    assert b'status="in_sync"} 1.0' in metrics.exposition()
