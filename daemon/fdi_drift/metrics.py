"""Prometheus metrics: a snapshot of the latest statuses, rendered once per cycle, plus counters.

Per-resource series come from the latest report only, so a resource that leaves the desired
state leaves the scrape with it; nothing goes stale. Their exposition text is rendered once, when
a cycle's report is published, and each scrape serves those bytes after a live render of the
small process-level registry: at ten thousand resources a render costs seconds, which a scrape
must not. Labels carry identities only: never a field value, a secret or free text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from fdi_drift.drift.model import CycleReport, Kind, ReconcileResult, ResourceStatus, Status

# `region` and `account` are those of the target that serves the resource's project; `shard`
# is the index of the replica that owns it ("0" when the daemon is not sharded).
RESOURCE_LABELS = (
    "kind",
    "region",
    "account",
    "project_id",
    "instance_id",
    "resource",
    "name",
    "shard",
)
_DRIFT = frozenset({Status.DRIFTED, Status.BLOCKED})  # blocked is drift that waits
_JUDGED = tuple(s for s in Status if s is not Status.UNMANAGED)  # the statuses of the status series


@dataclass(frozen=True, slots=True)
class DesiredStateHealth:
    """Whether the last desired-state load was valid, and the revision in force."""

    valid: bool
    revision: str
    error: str = ""


@dataclass(frozen=True, slots=True, eq=False)  # by identity: a cheap key while rendering
class _Family:
    """A per-resource gauge family: the resource's labels, and `extra` one of its own."""

    name: str
    documentation: str
    extra: str = ""

    @property
    def labels(self) -> list[str]:
        return [*RESOURCE_LABELS, self.extra] if self.extra else list(RESOURCE_LABELS)


_DRIFTED = _Family(
    "fdi_drift_resource_drifted", "1 when the resource differs from its desired state"
)
_FIELDS = _Family(
    "fdi_drift_resource_drift_fields", "Number of fields that differ from the desired state"
)
_STATUS = _Family("fdi_drift_resource_status", "1 on the resource's current status", "status")
_SINCE = _Family(
    "fdi_drift_resource_drift_since_timestamp_seconds", "When the current drift was first seen"
)
_BLOCKED = _Family(
    "fdi_drift_resource_blocked",
    "1 when drift is held back by a reconcile rail, labelled with the rail",
    "reason",
)
_FAMILIES = (_DRIFTED, _FIELDS, _STATUS, _SINCE, _BLOCKED)
_TOTALS = ("fdi_drift_resources", "Resources by kind and status", ["kind", "status", "shard"])

_GO_FLOAT: Callable[[float], str] = floatToGoString  # how the text format writes a value
_NUMBERS = {0.0: "0.0", 1.0: "1.0"}  # most samples are flags: what floatToGoString gives them

# One resource's samples: (family, value of the family's own label or "", sample value).
_Samples = list[tuple[_Family, str, float]]


def _resource_samples(item: ResourceStatus) -> _Samples:
    samples: _Samples = [
        (_DRIFTED, "", 1.0 if item.status in _DRIFT else 0.0),
        (_FIELDS, "", float(len(item.changes))),
    ]
    samples.extend((_STATUS, s.value, 1.0 if item.status is s else 0.0) for s in _JUDGED)
    if item.drift_since is not None:
        samples.append((_SINCE, "", item.drift_since))
    if item.block is not None:
        samples.append((_BLOCKED, item.block.value, 1.0))
    return samples


class _SnapshotCollector(Collector):
    """Per-resource and per-kind gauges from the latest cycle report, as families or as text."""

    def __init__(self, kinds: tuple[Kind, ...]) -> None:
        self.kinds = kinds
        self.report: CycleReport | None = None
        self.shard = "0"

    def _resources(self) -> Iterator[tuple[list[str], _Samples]]:
        """Each declared resource's label values and samples (unmanaged ones are only counted)."""
        for item in self.report.statuses if self.report else ():
            if item.status is Status.UNMANAGED:
                continue
            key = item.key
            labels = [
                str(key.kind),
                item.region,
                item.account,
                key.project_id,
                key.instance_id,
                item.live_id or key.id,
                key.name,
                self.shard,
            ]
            yield labels, _resource_samples(item)

    def _totals(self) -> Iterator[tuple[list[str], float]]:
        if self.report is None:
            return
        counts = {(kind, s): 0 for kind in self.kinds for s in Status}
        for item in self.report.statuses:
            counts[(item.key.kind, item.status)] = counts.get((item.key.kind, item.status), 0) + 1
        for (kind, value), count in counts.items():
            yield [str(kind), value.value, self.shard], float(count)

    def collect(self) -> Iterator[Metric]:
        families = {
            family: GaugeMetricFamily(family.name, family.documentation, labels=family.labels)
            for family in _FAMILIES
        }
        for labels, samples in self._resources():
            for family, extra, value in samples:
                families[family].add_metric([*labels, extra] if extra else labels, value)
        name, documentation, label_names = _TOTALS
        totals = GaugeMetricFamily(name, documentation, labels=label_names)
        for labels, value in self._totals():
            totals.add_metric(labels, value)
        yield from (*families.values(), totals)

    def render(self) -> bytes:
        """The families `collect` yields, in the text exposition format, built directly.

        The same text a generic render gives, up to the order of labels, in a fraction of the
        time: each resource's labels are escaped and joined once for all its samples.
        """
        lines: dict[_Family, list[str]] = {family: [] for family in _FAMILIES}
        own: dict[tuple[_Family, str], str] = {}  # a family's own label, as text, by value
        for labels, samples in self._resources():
            text = ",".join(
                f'{name}="{_escape(value)}"'
                for name, value in zip(RESOURCE_LABELS, labels, strict=True)
            )
            for family, extra, value in samples:
                if (family, extra) not in own:
                    own[(family, extra)] = f',{family.extra}="{_escape(extra)}"' if extra else ""
                number = _NUMBERS.get(value) or _GO_FLOAT(value)
                lines[family].append(f"{family.name}{{{text}{own[(family, extra)]}}} {number}\n")
        parts: list[str] = []
        for family in _FAMILIES:
            parts.append(_header(family.name, family.documentation))
            parts.extend(lines[family])
        name, documentation, label_names = _TOTALS
        parts.append(_header(name, documentation))
        for labels, value in self._totals():
            text = ",".join(
                f'{label}="{_escape(item)}"'
                for label, item in zip(label_names, labels, strict=True)
            )
            parts.append(f"{name}{{{text}}} {_GO_FLOAT(value)}\n")
        return "".join(parts).encode()


def _header(name: str, documentation: str) -> str:
    help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"


def _escape(value: str) -> str:
    """A label value as the text format writes it between double quotes."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class DaemonMetrics:
    """Every metric the daemon exports: all of them on `registry`, served by `exposition`.

    `registry` collects everything afresh (what tests read with `get_sample_value`); a scrape
    gets `exposition()`, where the per-resource part is the text rendered when the last report
    was published.
    """

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
        self._rendered = self._snapshot.render()
        live = CollectorRegistry()  # the process-level metrics: few series, rendered per scrape
        self._live = live
        registry.register(self._snapshot)
        registry.register(live)
        self.cycle_duration = Histogram(
            "fdi_drift_cycle_duration_seconds",
            "Duration of check cycles",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=live,
        )
        self.interval = Gauge(
            "fdi_drift_cycle_interval_seconds",
            "The configured time between cycles (alerts measure staleness in intervals)",
            registry=live,
        )
        self.last_success = Gauge(
            "fdi_drift_last_successful_cycle_timestamp_seconds",
            "When the last cycle in which every list call finished ended",
            registry=live,
        )
        self.api_requests = Counter(
            "fdi_drift_api_requests",
            "Cloud API requests by target region, service, method and status code",
            ["region", "service", "method", "code"],
            registry=live,
        )
        self.api_duration = Histogram(
            "fdi_drift_api_request_duration_seconds",
            "Cloud API request duration",
            ["region", "service", "method"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=live,
        )
        self._request_series: dict[tuple[str, str, str, str], tuple[Counter, Histogram]] = {}
        self.reconcile = Counter(
            "fdi_drift_reconcile",
            "Reconcile attempts by kind and result",
            ["kind", "result"],
            registry=live,
        )
        for kind in kinds:  # from 0, so that increase() sees a process's first failure
            for result in ReconcileResult:
                self.reconcile.labels(kind=str(kind), result=result.value)
        self.desired_valid = Gauge(
            "fdi_drift_desired_state_valid",
            "1 when the last desired-state load was valid",
            registry=live,
        )
        self.desired_info = Gauge(
            "fdi_drift_desired_state_info",
            "The desired-state revision in force",
            ["revision"],
            registry=live,
        )
        self.unfinished_writes = Gauge(
            "fdi_drift_audit_unfinished_writes",
            "Audited writes with an intent but no outcome (the process stopped mid-write)",
            registry=live,
        )
        self.audit_damaged_lines = Gauge(
            "fdi_drift_audit_damaged_lines",
            "Lines of the audit log that could not be read as records at start (skipped)",
            registry=live,
        )
        build = Gauge("fdi_drift_build_info", "Build information", ["version"], registry=live)
        build.labels(version=version).set(1)
        self.shard_info = Gauge(
            "fdi_drift_shard_info",
            "The shard this replica is, of how many (each owns its share of the resources)",
            ["shard", "shards"],
            registry=live,
        )
        self.observe_shard(0, 1)
        self._kinds = kinds
        self._history: _HistoryMetrics | None = None

    def observe_shard(self, index: int, count: int) -> None:
        """Publish which shard this replica is; per-resource series carry its index."""
        self.shard_info.clear()
        self.shard_info.labels(shard=str(index), shards=str(count)).set(1)
        self._snapshot.shard = str(index)
        self._rendered = self._snapshot.render()

    def exposition(self) -> bytes:
        """What a scrape answers: the process-level metrics now, the resources as last published."""
        return generate_latest(self._live) + self._rendered

    def observe_request(
        self, service: str, method: str, code: str, seconds: float, *, region: str = ""
    ) -> None:
        """Count one API attempt to a target's region (a cloud client's observer)."""
        labels = (region, service, method, code)
        series = self._request_series.get(labels)
        if series is None:  # looked up by label once: every read of a cycle lands here
            series = self._request_series[labels] = (
                self.api_requests.labels(region, service, method, code),
                self.api_duration.labels(region, service, method),
            )
        series[0].inc()
        series[1].observe(seconds)

    def observe_cycle(self, report: CycleReport) -> None:
        """Publish a finished cycle, rendering its per-resource series once for every scrape.

        A quiet cycle's statuses are the previous cycle's (the engine keeps them while nothing
        changed), so their text is too: it is rendered again only when a status changed.
        """
        previous, self._snapshot.report = self._snapshot.report, report
        if previous is None or previous.statuses != report.statuses:
            self._rendered = self._snapshot.render()
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

    def enable_history(self, resolutions: Iterable[str]) -> None:
        """Publish the drift history's series (a daemon with a `history_db`), from zero."""
        if self._history is None:
            self._history = _HistoryMetrics(self._live, self._kinds, tuple(resolutions))

    def observe_history(
        self,
        *,
        healthy: bool,
        opened: Iterable[Kind] = (),
        closed: Iterable[tuple[Kind, str, float]] = (),
    ) -> None:
        """Count drift episodes opened, and closed by resolution with how long each lasted."""
        series = self._history
        if series is None:
            return
        series.healthy.set(1 if healthy else 0)
        for kind in opened:
            series.opened.labels(kind=str(kind)).inc()
        for kind, resolution, seconds in closed:
            series.closed.labels(kind=str(kind), resolution=resolution).inc()
            series.time_to_resolve.labels(kind=str(kind), resolution=resolution).observe(seconds)

    def observe_desired_state(self, health: DesiredStateHealth) -> None:
        """Publish the outcome of a desired-state load."""
        self.desired_valid.set(1 if health.valid else 0)
        if health.valid:
            self.desired_info.clear()
            self.desired_info.labels(revision=health.revision[:12]).set(1)


class _HistoryMetrics:
    """The series of the drift history store, registered only where there is one."""

    def __init__(
        self, registry: CollectorRegistry, kinds: tuple[Kind, ...], resolutions: tuple[str, ...]
    ) -> None:
        self.healthy = Gauge(
            "fdi_drift_history_healthy",
            "1 when the drift history store was last used without error; 0: history paused",
            registry=registry,
        )
        self.opened = Counter(
            "fdi_drift_drift_episodes_opened",
            "Drift episodes (drifted or missing) opened, by kind",
            ["kind"],
            registry=registry,
        )
        self.closed = Counter(
            "fdi_drift_drift_episodes",
            "Drift episodes closed, by kind and resolution",
            ["kind", "resolution"],
            registry=registry,
        )
        self.time_to_resolve = Histogram(
            "fdi_drift_drift_time_to_resolve_seconds",
            "How long closed drift episodes lasted, by kind and resolution",
            ["kind", "resolution"],
            buckets=(60, 300, 900, 1800, 3600, 10800, 21600, 43200, 86400, 259200, 604800),
            registry=registry,
        )
        for kind in kinds:  # from 0, so that increase() sees the first of each
            self.opened.labels(kind=str(kind))
            for resolution in resolutions:
                self.closed.labels(kind=str(kind), resolution=resolution)
