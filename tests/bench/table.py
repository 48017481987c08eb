"""The one table a fleet bench prints: figures per target, the target, and whether it was met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """A bound on one figure: `<= bound`, shown with the figure's name and unit."""

    figure: str  # what is compared: "wall", "CPU", "peak RSS", ...
    bound: float
    unit: str  # "s", "MiB", "x the peer", "req/s"

    def __str__(self) -> str:
        return f"{self.figure} <= {self.bound:g} {self.unit}"

    def verdict(self, value: float) -> str:
        """Met or missed, with the value compared."""
        word = "met" if value <= self.bound else "missed"
        return f"{word} ({_number(value)} {self.unit})"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table; None figures print as "-"."""

    measure: str
    target: Target
    verdict: str
    cpu: float | None = None
    wall: float | None = None
    rss: int | None = None  # bytes
    peer_cpu: float | None = None
    peer_rss: int | None = None

    @property
    def ratio(self) -> float | None:
        """CPU over the peer's CPU, where a peer ran."""
        if self.cpu is None or not self.peer_cpu:
            return None
        return self.cpu / self.peer_cpu


_HEADER = ("measure", "CPU s", "wall s", "peak RSS MiB", "target", "result")
_PEER = ("peer CPU s", "peer RSS MiB", "ratio")


def render(rows: Sequence[Row]) -> str:
    """The rows as an aligned plain-text table (a Markdown table, read as text)."""
    lines = [(*_HEADER, *_PEER)]
    for row in rows:
        lines.append(
            (
                row.measure,
                _figure(row.cpu),
                _figure(row.wall),
                _figure(None if row.rss is None else row.rss / MIB),
                str(row.target),
                row.verdict,
                _figure(row.peer_cpu),
                _figure(None if row.peer_rss is None else row.peer_rss / MIB),
                "-" if row.ratio is None else f"{row.ratio:.2f}x",
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
    numeric = {1, 2, 3, 6, 7, 8}
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("| " + " | ".join(cells) + " |")
        if index == 0:
            out.append(
                "|"
                + "|".join(
                    "-" * (width + 1) + ":" if column in numeric else "-" * (width + 2)
                    for column, width in enumerate(widths)
                )
                + "|"
            )
    return "\n".join(out)


def _figure(value: float | None) -> str:
    return "-" if value is None else _number(value)


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
