"""When the daemon works: its cycles, its desired-state reloads, and how long a stop may take."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Schedule:
    """The daemon's timing; `shutdown_grace_seconds` is what a write in flight gets on SIGTERM.

    Keep the grace below the pod's terminationGracePeriodSeconds (deploy/ has 60).
    """

    interval_seconds: float = field(default=60.0, metadata={"minimum": 1.0})
    jitter_seconds: float = field(default=5.0, metadata={"minimum": 0.0})
    reload_seconds: float = field(default=15.0, metadata={"minimum": 1.0})
    shutdown_grace_seconds: float = field(default=20.0, metadata={"minimum": 0.0})
