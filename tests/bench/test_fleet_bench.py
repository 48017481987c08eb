"""The fleet bench end to end at a tiny size, so that it cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # an emulator, three daemons, check, export and the peer

ROOT = Path(__file__).parents[2]
BENCH = [sys.executable, "-m", "tests.bench"]
MEASURES = [
    "start -> first complete cycle, cold parse cache",
    "start -> first complete cycle, warm parse cache",
    "daemon peak RSS",
    "full sweep, nothing changed",
    "quiet cycle",
    "/metrics scrape",
    "reload after a one-file git commit",
    "cold `check` at 20 tasks vs a naive peer",
    "`export` of 10 tasks",
    "request rate",
]


def test_the_bench_measures_every_target_at_20_tasks(tmp_path: Path) -> None:
    """`python -m tests.bench --tasks 20` exits 0 with one row per target, each judged."""
    result = subprocess.run(
        [*BENCH, "--tasks", "20", "--no-per-task", "--data", str(tmp_path / "fleet")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert header[:6] == ["measure", "CPU s", "wall s", "peak RSS MiB", "target", "result"]
    assert [row[0].split(" (")[0] for row in rows] == MEASURES
    by_measure = {row[0].split(" (")[0]: dict(zip(header, row, strict=True)) for row in rows}
    for measure, row in by_measure.items():
        cache_missing = measure == MEASURES[1] and row["result"] == "n/a (no cache_dir)"
        assert cache_missing or row["result"].startswith(("met (", "missed (")), row
    check = by_measure[MEASURES[7]]
    assert float(check["CPU s"]) > 0 and float(check["peer CPU s"]) > 0
    assert check["ratio"].endswith("x")
    assert float(by_measure[MEASURES[6]]["wall s"]) > 0  # the new revision was seen
    peer = json.loads(result.stdout.split("the peer counted ", 1)[1].splitlines()[0])
    assert peer == {"in_sync": 20, "drifted": 0, "missing": 0}
    assert "check exited 0" in result.stdout
