"""Tests for the metrics snapshot and counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from fdi_drift.drift.model import (
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
    assert value("fdi_drift_resources", {"kind": "FdiTask", "status": "unmanaged"}) == 1
    assert value("fdi_drift_resources", {"kind": "FdiTask", "status": "drifted"}) == 1
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
