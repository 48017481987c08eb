"""`make bench` / `make bench-large`: what fdi-drift costs at fleet scale, beside a naive peer.

    python -m tests.bench [--tasks N] [--data DIR] [--no-per-task]

First the per-task section (per_task.py, in process), then one table: each target of the
issue, measured over real loopback sockets with the emulator, the daemons, `check`, `export`
and the naive peer each in its own process (measurements.py). It measures whatever fdi-drift
is on PYTHONPATH. Figures only: it exits 0 unless something crashed, 130 when interrupted;
every process it started is stopped either way.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from tests.bench import measurements
from tests.bench.per_task import bench_document
from tests.bench.table import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000, help="fleet size (default 1000)")
    parser.add_argument(
        "--data",
        type=Path,
        help="keep the generated fleet here and reuse it when it is already there",
    )
    parser.add_argument("--no-per-task", action="store_true", help="only the fleet table")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # so that the processes are stopped as on Ctrl-C
    started = time.monotonic()
    try:
        if not args.no_per_task:
            asyncio.run(bench_document())
            print()
        rows, notes = measurements.run(args.tasks, args.data)
    except KeyboardInterrupt:
        print("interrupted; every process the bench started is stopped", file=sys.stderr)
        return 130
    print(f"fleet of {args.tasks} tasks, every process over 127.0.0.1:")
    print(render(rows))
    for note in notes:
        print(f"- {note}")
    print(f"- the bench took {time.monotonic() - started:.0f} s")
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
