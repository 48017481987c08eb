"""Times as every output writes them (RFC 3339, UTC) and durations as people type them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def rfc3339(moment: float | None) -> str | None:
    """`2026-11-30T09:00:00Z` for seconds since the epoch; None stays None."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_duration(text: str) -> float:
    """Seconds in `90s`, `30m`, `2h`, `7d`, `1w` or `1h30m`; ValueError saying what is expected."""
    parts = _DURATION.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"expected a duration such as 30m, 2h or 7d, got {text!r}")
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def age(seconds: float | None) -> str:
    """A span as a person reads it: "42 s", "17 min", "5 h 3 min", "2 d 4 h"."""
    if seconds is None:
        return ""
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"
