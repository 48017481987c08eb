"""The request rate the emulator sees, counted from its request log in one-second windows.

The emulator records every API request it answers (`GET /_emulator/requests`; control requests
are not recorded). A thread reads the log's length every second; a phase's peak rate is the
largest growth between two readings divided by the time between them. Between phases, when no
client talks to the emulator, the log is emptied so that it stays small enough to read every
second.
"""

from __future__ import annotations

import threading
import time

import httpx
import orjson

WINDOW_SECONDS = 1.0


class RequestRate:
    """Peak requests per second per phase, as the emulator counted them."""

    def __init__(self, emulator_url: str) -> None:
        self._client = httpx.Client(base_url=emulator_url, timeout=60.0)
        self._lock = threading.Lock()
        self._phase: str | None = None
        self._last: tuple[float, int] | None = None
        self.peaks: dict[str, float] = {}
        self.totals: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="request-rate", daemon=True)
        self._thread.start()

    def phase(self, name: str | None) -> None:
        """End the phase being counted (its last reading, then an empty log); start `name`.

        Call it only while no client is talking to the emulator.
        """
        with self._lock:
            if self._phase is not None:
                self.totals[self._phase] = self._read()
            self._client.delete("/_emulator/requests").raise_for_status()
            self._phase = name
            self._last = (time.monotonic(), 0) if name is not None else None

    def close(self) -> None:
        """Stop counting."""
        self._stop.set()
        self._thread.join()
        self._client.close()

    def _run(self) -> None:
        while not self._stop.wait(WINDOW_SECONDS):
            with self._lock:
                if self._phase is not None:
                    try:
                        self._read()
                    except httpx.HTTPError:
                        return  # the emulator is gone: the main thread finds out by itself

    def _count(self) -> int:
        answer = self._client.get("/_emulator/requests")
        answer.raise_for_status()
        return len(orjson.loads(answer.content))

    def _read(self) -> int:
        assert self._phase is not None and self._last is not None
        asked = time.monotonic()
        count = self._count()
        now = (asked + time.monotonic()) / 2  # the log was read somewhere in between
        then, before = self._last
        if now > then:
            rate = (count - before) / (now - then)
            self.peaks[self._phase] = max(self.peaks.get(self._phase, 0.0), rate)
        self._last = (now, count)
        return count
