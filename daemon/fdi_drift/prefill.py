"""A second process for a cold load, which parses the tree from its last file back into the cache.

Parsing is most of a first load (about 3 ms a file, 30 s for 10,000) and holds the GIL, so a
thread cannot share it. Once a load has parsed a few dozen files, the loader starts a helper
(`python -m fdi_drift.desired_state`) that walks the same tree backward and stores what it
parses in the parse cache, while the loader goes on forward; each finds the other's work there
(every entry is checked, and used only for bytes that hash alike), so they meet in the middle,
and the loader stops the helper when it is done. Nothing else passes between them: a helper that
fails, is slow or never starts costs the load nothing but the help. None is started where the
process may run on only one CPU.
"""

from __future__ import annotations

import gc
import logging
import os
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_STOP_SECONDS = 5.0

Fill = Callable[[Path, Path, int, Callable[[], bool]], int]


class Helper:
    """A running helper process; closing its stdin asks it to stop after the current file."""

    def __init__(self, module: str, root: Path, cache_dir: Path, max_file_bytes: int) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, str(root), str(cache_dir), str(max_file_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Ask the helper to stop and wait for it; killed if it has not within seconds."""
        process = self._process
        if process.stdin is not None:
            process.stdin.close()
        try:
            code = process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if code != 0:
            log.warning("the cold-load helper failed; the load went on alone", extra={"code": code})


def start_helper(module: str, root: Path, cache_dir: Path, max_file_bytes: int) -> Helper | None:
    """A helper running `module` as a program, or None where there is only one CPU to run on."""
    if cpus() < 2:
        return None
    try:
        return Helper(module, root, cache_dir, max_file_bytes)
    except OSError as error:
        log.warning("the cold-load helper cannot be started", extra={"error": str(error)})
        return None


def cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """How many CPUs this process may keep busy: its affinity, bounded by a cgroup CPU quota."""
    count = float(len(os.sched_getaffinity(0)))
    try:  # cgroup v2: "<quota> <period>", or "max <period>" for none
        quota, period = (cgroup / "cpu.max").read_text().split()
    except (OSError, ValueError):
        try:  # cgroup v1: a quota of -1 for none
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return count
    try:
        share = int(quota) / int(period)
    except (ValueError, ZeroDivisionError):  # "max"
        return count
    return min(count, share) if share > 0 else count


def serve(fill: Fill, argv: list[str]) -> int:
    """The helper's program: `fill` the cache until it is done or stdin closes (the loader is)."""
    root, cache_dir, max_file_bytes = Path(argv[0]), Path(argv[1]), int(argv[2])
    stdin = sys.stdin.fileno()
    gc.disable()  # as in a load: nothing parsing makes is freed in cycles

    def stopped() -> bool:
        # The loader never writes: readable means at end of file, closed by the loader or its end.
        return bool(select.select([stdin], [], [], 0)[0])

    fill(root, cache_dir, max_file_bytes, stopped)
    return 0
