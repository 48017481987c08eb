"""A measured process's peak memory is its own and its descendants', never the bench's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.bench.processes import Measured

pytestmark = pytest.mark.slow  # processes

MiB = 2**20

# Allocates `size` MiB and holds them long enough to be sampled (the wait polls every 20 ms).
HOLD = "import time\nheld = bytearray({size} * 2**20)\ntime.sleep(0.5)\n"
# The same in a forked child, which the parent waits for.
FORK_AND_HOLD = "import os\nif os.fork() == 0:\n    {hold}    os._exit(0)\nos.wait()\n"


def test_a_child_of_a_large_bench_reports_its_own_peak(tmp_path: Path) -> None:
    """Linux carries ru_maxrss across exec: the bench's own 300 MiB must not show as the child's."""
    ballast = bytearray(300 * MiB)  # the bench holding a fleet's worth of memory
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident, not just reserved
    finished = Measured([sys.executable, "-c", HOLD.format(size=40)], tmp_path / "log").wait(60)
    assert finished.returncode == 0
    assert 40 * MiB < finished.usage.peak_rss_bytes < 150 * MiB
    del ballast


def test_the_peak_counts_a_forked_descendant(tmp_path: Path) -> None:
    """export's forked processes make its files: the largest of them is its peak."""
    hold = "".join(f"    {line}\n" for line in HOLD.format(size=120).splitlines())
    code = FORK_AND_HOLD.replace("    {hold}", hold)
    finished = Measured([sys.executable, "-c", code], tmp_path / "log").wait(60)
    assert finished.returncode == 0
    assert finished.usage.peak_rss_bytes > 120 * MiB
