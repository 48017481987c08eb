"""Who changed it: the author of each new drift, looked up in Cloud Trace Service (CTS).

After each cycle, the open drift episodes whose author is still `pending` are looked up, oldest
first and a few per cycle: the newest write trace of the resource from when it was last seen in
sync (or, when that is not known, as far back as CTS keeps) until now. CTS delivers a trace some
time after the operation, so an episode with no trace yet stays pending for later cycles until
`window_seconds` after it opened; then it gets `changed_by: null` with the reason. A refusal
(no permission) is final at once; any other failure is retried like a missing trace. Nothing
here affects detection: every failure is contained to the episode, and every lookup has a
deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from fdi_drift.cloud.cts import CtsClient, Trace
from fdi_drift.drift.model import Kind
from fdi_drift.errors import ApiError, AuthError, CloudError, account
from fdi_drift.history import FOUND, ChangedBy, Episode, History

log = logging.getLogger(__name__)

LOOKUPS_PER_CYCLE = 20
LOOKUP_SECONDS = 10.0  # one episode's search, every page of it
# CTS keeps seven days: without a last in-sync time the search starts that far back.
_KEPT_SECONDS = 7 * 86400.0


class Attributor:
    """Looks up the authors of pending drift episodes, recording them in the history."""

    def __init__(
        self,
        history: History,
        traces: Callable[[str], CtsClient | None],
        traced_as: Mapping[Kind, tuple[str, str]],
        *,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
        per_cycle: int = LOOKUPS_PER_CYCLE,
        lookup_seconds: float = LOOKUP_SECONDS,
    ) -> None:
        self._history = history
        self._traces = traces
        self._traced_as = traced_as
        self._window = window_seconds
        self._clock = clock
        self._per_cycle = per_cycle
        self._lookup_seconds = lookup_seconds

    async def run(self) -> int:
        """Look up the oldest pending episodes; how many were settled (found or given up)."""
        pending = await asyncio.to_thread(self._history.pending)
        settled = 0
        for episode, in_sync_at in pending[: self._per_cycle]:
            try:
                outcome = await self._look_up(episode, in_sync_at)
            except Exception as error:  # a bug: this episode waits for the next cycle
                log.error(
                    "looking up who changed a resource failed",
                    extra={"resource": episode.key.fields(), "error": account(error)},
                )
                continue
            if outcome is not None:
                changed_by, attribution = outcome
                await asyncio.to_thread(
                    self._history.attribute, episode.id, changed_by, attribution
                )
                settled += 1
        return settled

    async def _look_up(
        self, episode: Episode, in_sync_at: float | None
    ) -> tuple[ChangedBy | None, str] | None:
        """Who changed it, or why nobody is named; None to try again in a later cycle."""
        key = episode.key
        traced = self._traced_as.get(key.kind)
        if traced is None:
            return None, f"Cloud Trace Service does not trace {key.kind} changes"
        client = self._traces(key.project_id)
        if client is None:
            return None, "no configured target serves the project"
        now = self._clock()
        since = in_sync_at if in_sync_at is not None else episode.opened_at - _KEPT_SECONDS
        service_type, resource_type = traced
        try:
            trace = await asyncio.wait_for(
                client.newest_write(
                    key.project_id,
                    service_type=service_type,
                    resource_type=resource_type,
                    resource_id=episode.resource,
                    since=since,
                    until=max(now, since + 1),
                ),
                self._lookup_seconds,
            )
        except (AuthError, ApiError) as error:
            if isinstance(error, AuthError) or error.status == 403:
                return None, f"no permission to read Cloud Trace Service: {error}"
            return self._later(episode, now, f"Cloud Trace Service failed: {error}")
        except (CloudError, TimeoutError) as error:
            reason = str(error) if isinstance(error, CloudError) else "no answer in time"
            return self._later(episode, now, f"Cloud Trace Service failed: {reason}")
        if trace is None:
            minutes = f"{self._window / 60:g}"
            return self._later(episode, now, f"no write trace found within {minutes} minutes")
        return _changed_by(trace), FOUND

    def _later(self, episode: Episode, now: float, reason: str) -> tuple[None, str] | None:
        """Give up with `reason` once the window has passed; until then, try again later."""
        if now - episode.opened_at >= self._window:
            return None, reason
        log.debug("author not found yet", extra={"resource": episode.key.fields(), "why": reason})
        return None


def _changed_by(trace: Trace) -> ChangedBy:
    return ChangedBy(
        user=trace.user_name or "(not named by the trace)",
        source_ip=trace.source_ip or None,
        time=trace.time,
        trace_id=trace.trace_id,
        request_id=trace.request_id or None,
        trace_name=trace.trace_name,
    )
