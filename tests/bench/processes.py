"""The processes a bench measures: their CPU and peak memory read from /proc, and their end.

CPU is user + system time of the process itself (its threads included), from /proc/PID/stat
while it runs and from wait4's rusage once it has exited (its waited-for children included);
peak memory is VmHWM (the high-water mark of its resident set) from /proc/PID/status. For a
process run to its end it is the largest VmHWM among it and its descendants, sampled while it
waits: not ru_maxrss, which Linux carries across exec, so that a child of the bench would report
the bench's own resident set whenever that is larger. Output goes
to a log file beside the run, never to a pipe nobody reads (a full pipe would stall the process
being measured).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLI = [sys.executable, "-m", "fdi_drift.cli"]
STOP_SECONDS = 30.0
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Usage:
    """What a process has used so far (or in all, once it has exited)."""

    cpu_seconds: float
    peak_rss_bytes: int


@dataclass(frozen=True, slots=True)
class Finished:
    """A process that ran to its end: its exit status, its usage and how long it took."""

    returncode: int
    usage: Usage
    wall_seconds: float


class Measured:
    """One child process, its output in a log file, measured while it runs and when it ends."""

    def __init__(
        self, argv: Sequence[str], log: Path, environ: Mapping[str, str] | None = None
    ) -> None:
        self.log = log
        self.started = time.monotonic()
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=None if environ is None else dict(environ),
            )
        self._finished: Finished | None = None
        self._tree_peak = 0  # the largest VmHWM seen among it and its descendants

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def usage(self) -> Usage:
        """CPU and peak resident memory so far; raises ProcessLookupError once it has exited."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            status = Path(f"/proc/{self.pid}/status").read_text()
        except FileNotFoundError as error:
            raise ProcessLookupError(self.pid) from error
        # The command name may hold spaces and parentheses; the fields follow the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
        peak = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return Usage(cpu, int(peak.split()[1]) * 1024)

    def alive(self) -> bool:
        """Whether it is still running (an exited process is left unreaped, for wait4)."""
        if self._finished is not None:
            return False
        # WNOWAIT: Popen.poll() would reap it, and its rusage with it.
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    def wait(self, timeout: float) -> Finished:
        """Wait for its end (killing it after `timeout`); its rusage, from wait4."""
        if self._finished is not None:
            return self._finished
        end = time.monotonic() + timeout
        while True:
            self._tree_peak = max(self._tree_peak, tree_peak(self.pid))
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > end:
                os.kill(self.pid, signal.SIGKILL)
                pid, status, rusage = os.wait4(self.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - self.started
        self.process.returncode = os.waitstatus_to_exitcode(status)
        # ru_maxrss only where it ended before a sample: it may be the bench's own (see above).
        peak = self._tree_peak or rusage.ru_maxrss * 1024
        usage = Usage(rusage.ru_utime + rusage.ru_stime, peak)
        self._finished = Finished(self.process.returncode, usage, wall)
        return self._finished

    def stop(self) -> Finished:
        """SIGTERM, then its end (SIGKILL if it does not stop in time)."""
        if self._finished is None:
            # os.kill, not Popen.send_signal: that polls first, and would reap an exited process.
            # Unreaped, its pid cannot have been given to another process.
            os.kill(self.pid, signal.SIGTERM)
        return self.wait(STOP_SECONDS)

    def tail(self, lines: int = 20) -> str:
        """The end of its log, to show why it failed."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def tree_peak(pid: int) -> int:
    """The largest VmHWM, in bytes, among `pid` and its descendants (0 for all that is gone)."""
    peak, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = [  # each thread's: a process forked from any of them
                child
                for thread in Path(f"/proc/{current}/task").iterdir()
                for child in (thread / "children").read_text().split()
            ]
        except OSError:  # it has ended meanwhile
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):  # a zombie has none
                peak = max(peak, int(line.split()[1]) * 1024)
        pending.extend(int(child) for child in children)
    return peak


@dataclass(slots=True)
class Emulator:
    """`fdi-drift emulator` in its own process, serving a seed directory on 127.0.0.1."""

    process: Measured
    url: str
    token: str

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, seeds: Path, token: str, log: Path, deadline: float = 600.0
    ) -> Iterator[Emulator]:
        """Start it, wait until it listens (loading many seeds takes a while), stop it after."""
        process = Measured(
            [*CLI, "emulator", "--port", "0", "--seed", str(seeds), "--token", token], log
        )
        try:
            end = time.monotonic() + deadline
            while True:
                for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.startswith("emulator listening on "):
                        yield cls(process, line.rsplit(" ", 1)[1].strip(), token)
                        return
                if not process.alive() or time.monotonic() > end:
                    raise RuntimeError(f"the emulator did not start:\n{process.tail()}")
                time.sleep(0.05)
        finally:
            process.stop()

    def environment(self) -> dict[str, str]:
        """The environment of a process that reads the token from FDI_DRIFT_BENCH_TOKEN."""
        return {**os.environ, "FDI_DRIFT_BENCH_TOKEN": self.token}
