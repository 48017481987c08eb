"""What a command shows on a terminal and not in a pipe: colour and progress.

Colour only where stdout is a terminal, `NO_COLOR` is unset or empty (no-color.org) and
`--no-color` was not given; progress only on a terminal's stderr, so that a pipe or a CI log
gets plain text alone.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from fdi_drift.drift.model import Status

_CODES = {
    Status.DRIFTED: "31",  # red
    Status.MISSING: "31",
    Status.BLOCKED: "35",  # magenta
    Status.UNKNOWN: "33",  # yellow
    Status.INVALID: "33",
    Status.IN_SYNC: "32",  # green
    Status.UNMANAGED: "36",  # cyan
}


def colour_wanted(stream: TextIO, no_color: bool, environ: dict[str, str] | None = None) -> bool:
    """Whether to colour what goes to `stream`."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return stream.isatty()


class Painter:
    """Status words coloured, or left as they are."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, status: Status) -> str:
        if not self.enabled:
            return text
        return f"\033[{_CODES[status]}m{text}\033[0m"


class Progress:
    """One line on a terminal's stderr, rewritten at most a few times a second; silent in pipes."""

    def __init__(self, what: str, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._what = what
        self._on = self._stream.isatty()
        self._shown = 0.0

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self._on or (now - self._shown < 0.2 and done < total):
            return
        self._shown = now
        self._stream.write(f"\r{self._what}: {done}/{total}")
        self._stream.flush()

    def note(self, text: str) -> None:
        if self._on:
            self._stream.write(f"\r\033[K{text}")
            self._stream.flush()

    def done(self) -> None:
        if self._on:
            self._stream.write("\r\033[K")
            self._stream.flush()
