"""The fleet bench: each target of the issue measured over real sockets, one process at a time.

One emulator serves the fleet throughout. Three daemons run one after the other, so that no
row's figures include another's work:

- cold: a fresh parse cache; its first complete cycle is the cold start. With
  `interval_seconds: 1` and `full_sweep_every: 3` the next two cycles are quiet (the list says
  nothing changed) and the one after a full sweep that finds nothing changed; each is measured
  from the end of the cycle before it to its own end. The first quiet cycle also carries the
  publishing of the cold cycle's statuses (every one of them new), so the quiet cycle of the
  table is the second, the steady state; the first is given in the notes.
- warm: the cache the cold daemon left; its first complete cycle is the warm start; then
  /metrics is scraped.
- reload: `reload_seconds: 1`; once its first cycle is done, one desired file is changed and
  committed, and the time until the daemon logs the new revision is the reload.

Then `fdi-drift check` and the naive peer judge the same tasks (the first CHECKED), and
`fdi-drift export` writes the first instance. The emulator counts requests per phase
(request_rate.py); the daemon's and the one-shots' usage comes from processes.py.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fdi_drift.errors import ConfigError
from fdi_drift.settings import settings_from_mapping
from tests.bench.daemon import RATE_LIMIT, Cycle, Daemon, Schedule, config_text
from tests.bench.dataset import SCOPE, TOKEN, Fleet, build_fleet, commit_one_file, task_id
from tests.bench.per_task import INSTANCE, PROJECT
from tests.bench.processes import CLI, Emulator, Finished, Measured
from tests.bench.request_rate import RequestRate
from tests.bench.table import MIB, Row, Target
from tests.processes import free_port

SCALE = 10_000  # the fleet size the targets are set for
COLD = Schedule(interval_seconds=1, full_sweep_every=3)
WARM = Schedule()
RELOAD = Schedule(reload_seconds=1)
SCRAPES = 3
COLD_START = "start -> first complete cycle, cold parse cache"
WARM_START = "start -> first complete cycle, warm parse cache"


@dataclass(slots=True)
class Bench:
    """One run: the fleet, its emulator, where its files go, and what it found on the way."""

    fleet: Fleet
    work: Path
    emulator: Emulator
    rate: RequestRate
    cache_dir: Path | None
    answer_bytes: int  # the size of one task's GET answer, as the emulator sends it
    notes: list[str] = field(default_factory=list)
    peaks: dict[str, int] = field(default_factory=dict)  # daemon name -> peak RSS bytes

    @property
    def deadline(self) -> float:
        """Seconds any one wait may take: generous, since slow code is measured too."""
        return 300.0 + 0.5 * self.fleet.tasks

    @contextlib.contextmanager
    def daemon(self, name: str, schedule: Schedule) -> Iterator[Daemon]:
        """A daemon over the whole fleet, counted as its own request-rate phase; stopped after."""
        port = free_port()
        config = self.work / f"{name}.yaml"
        config.write_text(
            config_text(
                self.fleet.desired,
                self.emulator,
                self.work / f"{name}-audit.jsonl",
                listen=f"127.0.0.1:{port}",
                schedule=schedule,
                cache_dir=self.cache_dir,
            )
        )
        self.rate.phase(f"{name} daemon")
        progress(f"{name} daemon: starting")
        daemon = Daemon(config, port, self.emulator, self.work / f"{name}.log")
        try:
            yield daemon
        finally:
            finished = daemon.stop()
            self.peaks[name] = finished.usage.peak_rss_bytes
        self.rate.phase(None)

    def command(self, name: str, argv: list[str]) -> Finished:
        """A one-shot process run to its end, counted as its own request-rate phase."""
        self.rate.phase(name)
        progress(f"{name}: running")
        process = Measured(argv, self.work / f"{name}.log", self.emulator.environment())
        try:
            finished = process.wait(self.deadline)
        finally:
            process.stop()  # only if interrupted: it has ended otherwise
            self.rate.phase(None)
        if finished.returncode not in (0, 2):
            raise RuntimeError(f"{name} exited {finished.returncode}:\n{process.tail()}")
        return finished

    def config(self, name: str, desired: Path) -> Path:
        """A configuration file for a one-shot command."""
        path = self.work / f"{name}.yaml"
        path.write_text(config_text(desired, self.emulator, self.work / f"{name}-audit.jsonl"))
        return path


def run(tasks: int, data: Path | None) -> tuple[list[Row], list[str]]:
    """Every row of the table, and the notes that go under it."""
    progress(f"fleet of {tasks} tasks: generating or reusing")
    fleet = build_fleet(tasks, data)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fdi-drift-bench-run-")))
        progress("emulator: loading the seeds")
        emulator = stack.enter_context(Emulator.start(fleet.seeds, TOKEN, work / "emulator.log"))
        rate = RequestRate(emulator.url)
        stack.callback(rate.close)
        cache_dir = work / "cache" if accepts_cache_dir(work / "cache") else None
        bench = Bench(fleet, work, emulator, rate, cache_dir, answer_size(emulator))
        rows = [*starts_and_cycles(bench), *one_shots(bench)]
        rows.insert(2, peak_rss_row(bench))
        rows.append(rate_row(bench))
        return rows, context_notes(bench) + bench.notes


def answer_size(emulator: Emulator) -> int:
    """The bytes of the first task's GET answer."""
    path = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks/{task_id(0)}"
    answer = httpx.get(emulator.url + path, headers={"X-Auth-Token": emulator.token})
    answer.raise_for_status()
    return len(answer.content)


def accepts_cache_dir(cache: Path) -> bool:
    """Whether the code under test knows the `cache_dir` key (a parse cache across restarts).

    The directory is made first (empty), in case the setting wants one that exists.
    """
    cache.mkdir()
    mapping = {"auth": {"token_env": "T"}}
    environ = {"T": "t"}
    settings_from_mapping(mapping, base_dir=cache, environ=environ)  # the probe itself is sound
    try:
        settings_from_mapping({**mapping, "cache_dir": str(cache)}, base_dir=cache, environ=environ)
    except ConfigError:
        return False
    return True


def starts_and_cycles(bench: Bench) -> list[Row]:
    """Cold start, full sweep and quiet cycle; warm start and scrape; reload."""
    with bench.daemon("cold", COLD) as daemon:
        first = daemon.next_cycle(bench.deadline)
        progress(f"cold daemon: first complete cycle after {since_start(daemon, first):.1f} s")
        settle = daemon.next_cycle(bench.deadline, complete=False)
        quiet = daemon.next_cycle(bench.deadline, complete=False)
        sweep = daemon.next_cycle(bench.deadline, complete=False)
    bench.notes.append(
        "the first quiet cycle after the cold one, which also publishes the cold cycle's "
        f"statuses: {settle.usage.cpu_seconds - first.usage.cpu_seconds:.2f} s CPU"
    )
    for what, cycle in (
        ("first quiet cycle", settle),
        ("quiet cycle", quiet),
        ("full sweep", sweep),
    ):
        if cycle.counts != {"in_sync": bench.fleet.tasks}:
            bench.notes.append(f"the {what} did not find every task in sync: {cycle.counts}")
    rows = [start_row(COLD_START, daemon, first)]
    with bench.daemon("warm", WARM) as daemon:
        warm = daemon.next_cycle(bench.deadline)
        progress(f"warm daemon: first complete cycle after {since_start(daemon, warm):.1f} s")
        scrapes = [daemon.scrape() for _ in range(SCRAPES)]
    if bench.cache_dir is None:
        rows.append(Row(WARM_START, Target("wall", 20, "s"), "n/a (no cache_dir)"))
        bench.notes.append(
            f"the code under test has no cache_dir: a second start took "
            f"{since_start(daemon, warm):.1f} s wall, {warm.usage.cpu_seconds:.1f} s CPU"
        )
    else:
        rows.append(start_row(WARM_START, daemon, warm))
    rows.append(cycle_row("full sweep, nothing changed", Target("CPU", 10, "s"), quiet, sweep))
    rows.append(cycle_row("quiet cycle", Target("CPU", 0.5, "s"), settle, quiet))
    wall = statistics.median(scrape[0] for scrape in scrapes)
    cpu = statistics.median(scrape[1] for scrape in scrapes)
    target = Target("wall", 0.5, "s")
    rows.append(Row("/metrics scrape", target, target.verdict(wall), cpu=cpu, wall=wall))
    bench.notes.append(
        f"/metrics: {scrapes[0][2] / 1024:.0f} KiB a scrape, the median of {SCRAPES} scrapes "
        "of the warm daemon"
    )
    with bench.daemon("reload", RELOAD) as daemon:
        daemon.next_cycle(bench.deadline)
        revision = commit_one_file(bench.fleet, int(time.time()))
        committed, before = time.monotonic(), daemon.process.usage()
        seen, usage = daemon.wait_revision(revision, bench.deadline)
    target = Target("wall", 1, "s")
    wall = seen - committed
    cpu = usage.cpu_seconds - before.cpu_seconds
    rows.append(Row("reload after a one-file git commit", target, target.verdict(wall), cpu, wall))
    return rows


def since_start(daemon: Daemon, cycle: Cycle) -> float:
    """Wall seconds from the daemon's start to the moment `cycle` was seen to end."""
    return cycle.seen - daemon.process.started


def start_row(measure: str, daemon: Daemon, cycle: Cycle) -> Row:
    """Start to the first complete cycle: the daemon's CPU and peak memory by then."""
    target = Target("wall", 60 if measure == COLD_START else 20, "s")
    wall = since_start(daemon, cycle)
    usage = cycle.usage
    return Row(measure, target, target.verdict(wall), usage.cpu_seconds, wall, usage.peak_rss_bytes)


def cycle_row(measure: str, target: Target, before: Cycle, cycle: Cycle) -> Row:
    """One cycle: the daemon's CPU from the end of the cycle before it, the cycle's duration."""
    cpu = cycle.usage.cpu_seconds - before.usage.cpu_seconds
    return Row(measure, target, target.verdict(cpu), cpu=cpu, wall=cycle.seconds)


def peak_rss_row(bench: Bench) -> Row:
    """The largest peak resident memory of the three daemons."""
    name, peak = max(bench.peaks.items(), key=lambda item: item[1])
    target = Target("peak RSS", 300, "MiB")
    bench.notes.append(
        "daemon peak RSS: " + ", ".join(f"{n} {p / MIB:.0f} MiB" for n, p in bench.peaks.items())
    )
    return Row(f"daemon peak RSS ({name})", target, target.verdict(peak / MIB), rss=peak)


def one_shots(bench: Bench) -> list[Row]:
    """`check` beside the naive peer, and `export`."""
    fleet = bench.fleet
    config = bench.config("check", fleet.checked)
    check = bench.command("check", [*CLI, "check", "-c", str(config)])
    peer_argv = [sys.executable, "-m", "tests.bench.naive_peer", "--url", bench.emulator.url]
    peer = bench.command("peer", [*peer_argv, "--desired", str(fleet.checked)])
    judged = (bench.work / "peer.log").read_text().strip().splitlines()[-1]
    bench.notes.append(
        f"check and the naive peer judged the same {fleet.checked_tasks} tasks: check exited "
        f"{check.returncode} (0: all in sync), the peer counted {judged}"
    )
    ratio = check.usage.cpu_seconds / peer.usage.cpu_seconds
    target = Target("CPU", 0.15, "x the peer")
    rows = [
        Row(
            f"cold `check` at {fleet.checked_tasks} tasks vs a naive peer",
            target,
            target.verdict(ratio),
            check.usage.cpu_seconds,
            check.wall_seconds,
            check.usage.peak_rss_bytes,
            peer.usage.cpu_seconds,
            peer.usage.peak_rss_bytes,
        )
    ]
    out = bench.work / "export"
    config = bench.config("export", fleet.desired)
    export = bench.command(
        "export",
        [*CLI, "export", "-c", str(config), "--out", str(out), "--scope", SCOPE],
    )
    written = sum(1 for _ in out.rglob("*.yaml"))
    if written != fleet.exported_tasks:
        bench.notes.append(f"export wrote {written} files, not {fleet.exported_tasks}")
    target = Target("wall", 20, "s")
    rows.append(
        Row(
            f"`export` of {fleet.exported_tasks} tasks",
            target,
            target.verdict(export.wall_seconds),
            export.usage.cpu_seconds,
            export.wall_seconds,
            export.usage.peak_rss_bytes,
        )
    )
    return rows


def rate_row(bench: Bench) -> Row:
    """The peak request rate any fdi-drift process reached, beside the configured one."""
    peaks = {phase: peak for phase, peak in bench.rate.peaks.items() if phase != "peer"}
    phase, peak = max(peaks.items(), key=lambda item: item[1])
    bench.notes.append(
        "requests by phase, as the emulator counted them: "
        + ", ".join(
            f"{name} {total} (peak {bench.rate.peaks.get(name, 0):.0f}/s over 1 s)"
            for name, total in bench.rate.totals.items()
        )
    )
    target = Target("peak", RATE_LIMIT, "req/s")
    return Row(f"request rate (peak: {phase})", target, target.verdict(peak))


def context_notes(bench: Bench) -> list[str]:
    """What was measured, on what, and how."""
    fleet = bench.fleet
    desired = next(fleet.desired.rglob("*.yaml")).stat().st_size
    load = os.getloadavg()[0]
    notes = [
        f"{fleet.tasks} tasks in two instances, GET answers of {bench.answer_bytes / 1024:.1f} KB, "
        f"desired files of {desired / 1024:.1f} KB; rate_limit_per_second {RATE_LIMIT:g} for "
        f"every fdi-drift process; cache_dir "
        + ("passed to the daemons" if bench.cache_dir else "unknown to the code under test"),
        "cold daemon: interval_seconds 1, full_sweep_every 3 (its 2nd and 3rd cycles are quiet, "
        "its 4th a full sweep); a cycle's CPU is the daemon's from the end of the cycle before "
        "it (nothing else runs meanwhile: no reloads, and the bench watches the daemon's log, "
        "not its endpoints), its wall the cycle's own duration",
        "reload daemon: reload_seconds 1; wall from the commit to the daemon's log line naming "
        "the new revision",
        f"the emulator used {bench.emulator.process.usage().cpu_seconds:.0f} s CPU in all; "
        f"1-minute load average at the end {load:.1f} on {os.cpu_count()} CPUs (the machine is "
        "shared: wall figures move with it)",
    ]
    if fleet.tasks != SCALE:
        notes.append(f"the targets are the issue's, set for {SCALE:,} tasks")
    return notes


def progress(message: str) -> None:
    """A line on stderr, so that a long run shows where it is."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)
