"""`fdi-drift run` under measurement: its configuration, and the cycles and reloads it reports.

The daemon's own JSON log says when a cycle finished (`cycle finished`: complete, counts,
seconds) and when a new desired revision came into force (`desired state loaded`); the bench
reads the log file as it grows, every 50 ms, and reads the daemon's CPU from /proc the moment
it sees the line. Polling /readyz instead would cost the daemon CPU inside the very windows
being measured: at 10,000 resources each poll counts the last report's statuses (~3 ms), which
at 20 polls a second adds ~6% of a core to every cycle's figure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.bench.processes import CLI, Emulator, Finished, Measured, Usage

POLL_SECONDS = 0.05
RATE_LIMIT = 1000.0  # requests per second: high enough not to be what a cycle waits for
NEVER = 86400.0  # seconds: a schedule that does not come round during a bench
CYCLE_FINISHED = "cycle finished"
TREE_LOADED = "desired state loaded"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The timing keys of one daemon's configuration."""

    interval_seconds: float = NEVER
    reload_seconds: float = NEVER
    full_sweep_every: int = 10


@dataclass(frozen=True, slots=True)
class Cycle:
    """A finished cycle: how long it took by the daemon's clock, and when the bench saw it."""

    seconds: float
    counts: dict[str, int]  # resources by status (statuses with none left out)
    seen: float  # the bench's monotonic clock
    usage: Usage  # the daemon's, when the bench saw the cycle end


def config_text(
    desired: Path,
    emulator: Emulator,
    audit_log: Path,
    *,
    listen: str | None = None,
    schedule: Schedule | None = None,
    cache_dir: Path | None = None,
) -> str:
    """A configuration for the emulator; every key the bench depends on is written out."""
    url = emulator.url
    lines = [
        f"desired_state: {desired}",
        f"endpoints: {{fdi: '{url}', drs: '{url}', iam: '{url}'}}",
        "auth: {token_env: FDI_DRIFT_BENCH_TOKEN}",
        f"rate_limit_per_second: {RATE_LIMIT:g}",
        f"audit_log: {audit_log}",
    ]
    if listen is not None:
        lines.append(f"listen: {listen}")
    if schedule is not None:
        lines += [
            f"interval_seconds: {schedule.interval_seconds:g}",
            "jitter_seconds: 0",
            f"reload_seconds: {schedule.reload_seconds:g}",
            f"full_sweep_every: {schedule.full_sweep_every}",
            # A cycle is never cut short: the default deadline is three (short) intervals.
            f"cycle_timeout_seconds: {NEVER:g}",
        ]
    if cache_dir is not None:
        lines.append(f"cache_dir: {cache_dir}")
    return "\n".join(lines) + "\n"


class Daemon:
    """One `fdi-drift run` process, the events of its log, and a client for its HTTP face."""

    def __init__(self, config: Path, port: int, emulator: Emulator, log: Path) -> None:
        argv = [*CLI, "--log-format", "json", "--log-level", "INFO", "run", "-c", str(config)]
        self.process = Measured(argv, log, emulator.environment())
        self._log = log.open("rb")
        self._partial = b""
        self._client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0)

    def next_cycle(self, deadline: float, *, complete: bool = True) -> Cycle:
        """The next cycle to finish (the next complete one, if asked), as soon as it is logged."""

        def finished(event: dict[str, Any]) -> bool:
            return event.get("message") == CYCLE_FINISHED and (
                event.get("complete") is True or not complete
            )

        event, seen, usage = self._next(finished, deadline, "a cycle to finish")
        return Cycle(float(event["seconds"]), dict(event.get("counts", {})), seen, usage)

    def wait_revision(self, revision: str, deadline: float) -> tuple[float, Usage]:
        """When the desired revision `revision` came into force, and the usage by then."""

        def loaded(event: dict[str, Any]) -> bool:
            return event.get("message") == TREE_LOADED and event.get("revision") == revision

        _, seen, usage = self._next(loaded, deadline, f"revision {revision[:12]}")
        return seen, usage

    def scrape(self) -> tuple[float, float, int]:
        """One /metrics scrape: its wall seconds, the daemon's CPU seconds for it, its bytes."""
        before = self.process.usage()
        started = time.monotonic()
        answer = self._client.get("/metrics")
        wall = time.monotonic() - started
        answer.raise_for_status()
        return wall, self.process.usage().cpu_seconds - before.cpu_seconds, len(answer.content)

    def stop(self) -> Finished:
        """Stop the daemon (SIGTERM); close the log and the client."""
        self._client.close()
        self._log.close()
        return self.process.stop()

    def _next(
        self, wanted: Callable[[dict[str, Any]], bool], deadline: float, what: str
    ) -> tuple[dict[str, Any], float, Usage]:
        """The next logged event that is `wanted`, when it was seen, and the usage then."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            for event in self._events():
                if wanted(event):
                    return event, time.monotonic(), self.process.usage()
            if not self.process.alive():
                raise RuntimeError(f"the daemon exited waiting for {what}:\n{self.process.tail()}")
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"no {what} within {deadline:.0f} s:\n{self.process.tail()}")

    def _events(self) -> list[dict[str, Any]]:
        """The log's events written since the last call (whole lines only)."""
        lines = (self._partial + self._log.read()).split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            # Only the two messages are parsed: the first cycle logs a line per resource.
            if line.startswith(b"{") and (b'"cycle finished"' in line or b'"desired state' in line):
                events.append(json.loads(line))
        return events
