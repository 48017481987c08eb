"""Prometheus metrics: a snapshot collector over the latest statuses, plus counters.

Per-resource series are rendered from the latest report at scrape time, so a resource that
leaves the desired state leaves the scrape with it; nothing goes stale. Labels carry identities
only: never a field value, a secret or free text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fdi_drift.drift.model import CycleReport, Kind, ReconcileResult, Status

# `region` and `account` are those of the target that serves the resource's project.
RESOURCE_LABELS = ["kind", "region", "account", "project_id", "instance_id", "resource", "name"]
_DRIFT = frozenset({Status.DRIFTED, Status.BLOCKED})  # blocked is drift that waits


@dataclass(frozen=True, slots=True)
class DesiredStateHealth:
    """Whether the last desired-state load was valid, and the revision in force."""

    valid: bool
    revision: str
    error: str = ""


class _SnapshotCollector(Collector):
    """Renders per-resource and per-kind gauges from the latest cycle report."""

    def __init__(self, kinds: tuple[Kind, ...]) -> None:
        self.kinds = kinds
        self.report: CycleReport | None = None

    def collect(self) -> Iterator[Metric]:
        drifted = GaugeMetricFamily(
            "fdi_drift_resource_drifted",
            "1 when the resource differs from its desired state",
            labels=RESOURCE_LABELS,
        )
        fields = GaugeMetricFamily(
            "fdi_drift_resource_drift_fields",
            "Number of fields that differ from the desired state",
            labels=RESOURCE_LABELS,
        )
        status = GaugeMetricFamily(
            "fdi_drift_resource_status",
            "1 on the resource's current status",
            labels=[*RESOURCE_LABELS, "status"],
        )
        since = GaugeMetricFamily(
            "fdi_drift_resource_drift_since_timestamp_seconds",
            "When the current drift was first seen",
            labels=RESOURCE_LABELS,
        )
        blocked = GaugeMetricFamily(
            "fdi_drift_resource_blocked",
            "1 when drift is held back by a reconcile rail, labelled with the rail",
            labels=[*RESOURCE_LABELS, "reason"],
        )
        totals = GaugeMetricFamily(
            "fdi_drift_resources", "Resources by kind and status", labels=["kind", "status"]
        )
        report = self.report
        if report is not None:
            counts = {(kind, s): 0 for kind in self.kinds for s in Status}
            for item in report.statuses:
                counts[(item.key.kind, item.status)] = (
                    counts.get((item.key.kind, item.status), 0) + 1
                )
                if item.status is Status.UNMANAGED:
                    continue  # counted, but per-resource series only for what is declared
                key = item.key
                labels = [
                    str(key.kind),
                    item.region,
                    item.account,
                    key.project_id,
                    key.instance_id,
                    item.live_id or key.id,
                    key.name,
                ]
                drifted.add_metric(labels, 1.0 if item.status in _DRIFT else 0.0)
                if item.block is not None:
                    blocked.add_metric([*labels, item.block.value], 1.0)
                fields.add_metric(labels, float(len(item.changes)))
                for value in Status:
                    if value is not Status.UNMANAGED:
                        status.add_metric(
                            [*labels, value.value], 1.0 if item.status is value else 0.0
                        )
                if item.drift_since is not None:
                    since.add_metric(labels, item.drift_since)
            for (kind, value), count in counts.items():
                totals.add_metric([str(kind), value.value], float(count))
        yield from (drifted, fields, status, since, blocked, totals)


class DaemonMetrics:
    """Every metric the daemon exports, on one registry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        version: str,
        kinds: Iterable[Kind] = (),
    ) -> None:
        """`kinds` are the managed kinds, whose per-kind series start at zero."""
        registry = registry or CollectorRegistry()
        self.registry = registry
        kinds = tuple(kinds)
        self._snapshot = _SnapshotCollector(kinds)
        registry.register(self._snapshot)
        self.cycle_duration = Histogram(
            "fdi_drift_cycle_duration_seconds",
            "Duration of check cycles",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.interval = Gauge(
            "fdi_drift_cycle_interval_seconds",
            "The configured time between cycles (alerts measure staleness in intervals)",
            registry=registry,
        )
        self.last_success = Gauge(
            "fdi_drift_last_successful_cycle_timestamp_seconds",
            "When the last cycle in which every list call finished ended",
            registry=registry,
        )
        self.api_requests = Counter(
            "fdi_drift_api_requests",
            "Cloud API requests by target region, service, method and status code",
            ["region", "service", "method", "code"],
            registry=registry,
        )
        self.api_duration = Histogram(
            "fdi_drift_api_request_duration_seconds",
            "Cloud API request duration",
            ["region", "service", "method"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.reconcile = Counter(
            "fdi_drift_reconcile",
            "Reconcile attempts by kind and result",
            ["kind", "result"],
            registry=registry,
        )
        for kind in kinds:  # from 0, so that increase() sees a process's first failure
            for result in ReconcileResult:
                self.reconcile.labels(kind=str(kind), result=result.value)
        self.desired_valid = Gauge(
            "fdi_drift_desired_state_valid",
            "1 when the last desired-state load was valid",
            registry=registry,
        )
        self.desired_info = Gauge(
            "fdi_drift_desired_state_info",
            "The desired-state revision in force",
            ["revision"],
            registry=registry,
        )
        self.unfinished_writes = Gauge(
            "fdi_drift_audit_unfinished_writes",
            "Audited writes with an intent but no outcome (the process stopped mid-write)",
            registry=registry,
        )
        self.audit_damaged_lines = Gauge(
            "fdi_drift_audit_damaged_lines",
            "Lines of the audit log that could not be read as records at start (skipped)",
            registry=registry,
        )
        build = Gauge("fdi_drift_build_info", "Build information", ["version"], registry=registry)
        build.labels(version=version).set(1)

    def observe_request(
        self, service: str, method: str, code: str, seconds: float, *, region: str = ""
    ) -> None:
        """Count one API attempt to a target's region (a cloud client's observer)."""
        self.api_requests.labels(region=region, service=service, method=method, code=code).inc()
        self.api_duration.labels(region=region, service=service, method=method).observe(seconds)

    def observe_cycle(self, report: CycleReport) -> None:
        """Publish a finished cycle."""
        self._snapshot.report = report
        self.cycle_duration.observe(max(0.0, report.finished_at - report.started_at))
        if report.complete:
            self.last_success.set(report.finished_at)

    def observe_reconcile(self, kind: Kind, result: ReconcileResult) -> None:
        """Count one reconcile attempt (the reconciler's observer)."""
        self.reconcile.labels(kind=str(kind), result=result.value).inc()

    def observe_audit(self, *, unfinished: int, damaged: int) -> None:
        """Publish what reading the audit log found: unfinished writes and damaged lines."""
        self.unfinished_writes.set(unfinished)
        self.audit_damaged_lines.set(damaged)

    def observe_desired_state(self, health: DesiredStateHealth) -> None:
        """Publish the outcome of a desired-state load."""
        self.desired_valid.set(1 if health.valid else 0)
        if health.valid:
            self.desired_info.clear()
            self.desired_info.labels(revision=health.revision[:12]).set(1)
