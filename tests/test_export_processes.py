"""Tests for `export` shared between forked processes: same files, all or nothing, rate shared."""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.emulator.app import Emulator
from fdi_drift.errors import DesiredStateError, DocumentError, FdiDriftError
from fdi_drift.exporter import ExportedFile, Listing, OpenDrivers, _split, export_in_processes
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import KindDriver, LiveDocument, LiveEntry, Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from tests.conftest import INSTANCE, PROJECT, seed_002, settings_for
from tests.processes import cli, emulator_process, write_seeds

SCOPE = Scope(PROJECT, INSTANCE)
TARGETS = [(FDI_TASK, SCOPE)]
TASKS = 250  # with the fixture's two: enough for two processes of at least 100 each


def task(number: int) -> dict[str, Any]:
    body = copy.deepcopy(seed_002())
    body["task"]["task_id"] = f"{number:032x}"
    body["task"]["task_name"] = f"exported_{number:03d}"
    return body


@pytest.fixture
def many(emulator: Emulator) -> Emulator:
    for number in range(1, TASKS - 1):
        emulator.store.add_task(PROJECT, INSTANCE, task(number))
    return emulator


class _Failing:
    """A driver whose read of one resource fails as a document that is not JSON would."""

    def __init__(self, driver: KindDriver, bad_id: str) -> None:
        self._driver, self._bad_id = driver, bad_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._driver, name)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        if live_id == self._bad_id:
            raise DocumentError(f"task {live_id}: task_detail is not JSON")
        return await self._driver.read(scope, live_id)


def opener(
    emulator: Emulator,
    desired: Path,
    log: Path,
    *,
    wrap: Callable[[KindDriver], Any] | None = None,
    in_child: Callable[[], None] | None = None,
) -> OpenDrivers:
    """Drivers on the in-process emulator; each opening appends its pid and share to `log`.

    A forked process has its own copy of the emulator, which serves reads as the original does.
    `in_child` runs when a forked process opens its drivers.
    """
    parent = os.getpid()

    @contextlib.asynccontextmanager
    async def open_drivers(share: float) -> AsyncIterator[Mapping[Any, Any]]:
        with log.open("a") as file:
            file.write(json.dumps([os.getpid(), share]) + "\n")
        if in_child is not None and os.getpid() != parent:
            in_child()
        runtime = Runtime(
            settings_for(desired, rate_limit_per_second=1000 * share),
            transport=in_process(emulator),
            metrics=DaemonMetrics(CollectorRegistry(), version="test"),
        )
        try:
            drivers = runtime.drivers
            yield drivers if wrap is None else {kind: wrap(d) for kind, d in drivers.items()}
        finally:
            await runtime.aclose()

    return open_drivers


def openings(log: Path) -> list[tuple[int, float]]:
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def tree(out: Path) -> dict[str, str]:
    """Every file under `out`, hidden ones included, by relative path."""
    return {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}


def relative(written: list[ExportedFile], out: Path) -> list[str]:
    return [str(item.path.relative_to(out)) for item in written]


def test_two_processes_make_the_files_one_makes_in_the_same_order(
    many: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    """Each forked process lists nothing and reads its half at half the rate; the files, and
    the order they are reported in, are those of an export in one process."""
    log = tmp_path / "openings.jsonl"
    alone = export_in_processes(
        opener(many, desired_dir, tmp_path / "alone.jsonl"),
        catalog.specs(),
        TARGETS,
        tmp_path / "alone",
        jobs=1,
    )
    shared = export_in_processes(
        opener(many, desired_dir, log), catalog.specs(), TARGETS, tmp_path / "shared", jobs=2
    )
    assert len(alone) == TASKS
    assert relative(shared, tmp_path / "shared") == relative(alone, tmp_path / "alone")
    assert tree(tmp_path / "shared") == tree(tmp_path / "alone")  # no staging folder left
    assert [share for _, share in openings(tmp_path / "alone.jsonl")] == [1.0]
    (_, listing_share), *forked = openings(log)
    assert listing_share == 1.0
    assert sorted(share for _, share in forked) == [0.5, 0.5]
    assert len({pid for pid, _ in forked} | {os.getpid()}) == 3


def test_a_small_export_stays_in_one_process(
    emulator: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "openings.jsonl"
    written = export_in_processes(
        opener(emulator, desired_dir, log), catalog.specs(), TARGETS, tmp_path / "out", jobs=8
    )
    assert len(written) == 2
    assert openings(log) == [(os.getpid(), 1.0)]


def test_a_failed_read_in_one_process_writes_nothing(
    many: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    """The failure travels back as itself; no file is written, and no staging folder is left,
    nor the output folder the export made."""
    bad = f"{TASKS - 10:032x}"  # in the second half
    open_drivers = opener(
        many, desired_dir, tmp_path / "log.jsonl", wrap=lambda driver: _Failing(driver, bad)
    )
    out = tmp_path / "out"
    with pytest.raises(DocumentError, match=f"task {bad}: task_detail is not JSON"):
        export_in_processes(open_drivers, catalog.specs(), TARGETS, out, jobs=2)
    assert not out.exists()


def test_a_process_that_dies_is_an_error_and_nothing_is_written(
    many: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README").write_text("kept\n")
    open_drivers = opener(many, desired_dir, tmp_path / "log.jsonl", in_child=lambda: os._exit(3))
    with pytest.raises(FdiDriftError, match="an export process ended before it answered"):
        export_in_processes(open_drivers, catalog.specs(), TARGETS, out, jobs=2)
    assert tree(out) == {"README": "kept\n"}


def test_existing_files_are_refused_before_any_resource_is_read(
    many: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    reads: list[str] = []

    class Counting(_Failing):
        async def read(self, scope: Scope, live_id: str) -> LiveDocument:
            reads.append(live_id)
            return await super().read(scope, live_id)

    out = tmp_path / "out"
    existing = out / PROJECT / INSTANCE / "exported_007.yaml"
    existing.parent.mkdir(parents=True)
    existing.write_text("mine\n")
    open_drivers = opener(
        many, desired_dir, tmp_path / "log.jsonl", wrap=lambda driver: Counting(driver, "")
    )
    with pytest.raises(DesiredStateError, match="1 files exist already") as refused:
        export_in_processes(open_drivers, catalog.specs(), TARGETS, out, jobs=2)
    assert refused.value.problems == (str(existing),)
    assert reads == []
    assert tree(out) == {f"{PROJECT}/{INSTANCE}/exported_007.yaml": "mine\n"}
    # With --force the file is replaced by the export.
    written = export_in_processes(open_drivers, catalog.specs(), TARGETS, out, force=True, jobs=2)
    assert len(written) == TASKS
    assert existing.read_text().startswith("apiVersion: ")


def test_parts_are_contiguous_and_as_equal_as_can_be() -> None:
    def listing(instance: str, count: int) -> Listing:
        entries = tuple(LiveEntry(f"{instance}-{n}", f"t{n}", None) for n in range(count))
        return Listing(FDI_TASK, Scope(PROJECT, instance), entries)

    listings = [listing("a", 5), listing("b", 0), listing("c", 6)]
    parts = _split(listings, 3)
    sizes = [sum(len(piece.entries) for piece in part) for part in parts]
    assert sizes == [3, 4, 4]
    flattened = [(p.scope, e) for part in parts for p in part for e in p.entries]
    assert flattened == [(piece.scope, e) for piece in listings for e in piece.entries]
    assert [[p.scope.instance_id for p in part] for part in parts] == [["a"], ["a", "c"], ["c"]]


def test_jobs_must_be_a_positive_number(tmp_path: Path) -> None:
    refused = cli("export", "-c", str(tmp_path / "none.yaml"), "--out", "x", "--jobs", "0")
    assert refused.returncode == 1  # a usage error is an error, never "drift"
    assert "--jobs: expected a whole number of at least 1, got '0'" in refused.stderr


@pytest.mark.slow
def test_the_command_shares_a_large_export_between_processes(tmp_path: Path) -> None:
    """`export --jobs 2` against the emulator as a process writes every task's file once."""
    bodies = [task(number) for number in range(1, TASKS + 1)]
    seeds = write_seeds(tmp_path / "seeds", PROJECT, INSTANCE, *bodies)
    with emulator_process(seeds, "--token", "t0k") as url:
        config = tmp_path / "config.yaml"
        config.write_text(
            f'endpoints: {{fdi: "{url}", drs: "{url}", iam: "{url}"}}\n'
            "auth: {token_env: EXPORT_TOKEN}\n"
            "rate_limit_per_second: 1000\n"
            f"audit_log: {tmp_path / 'audit.jsonl'}\n"
        )
        os.environ["EXPORT_TOKEN"] = "t0k"
        try:
            out = tmp_path / "out"
            scope = f"{PROJECT}/{INSTANCE}"
            jobs = ("--jobs", "2")
            done = cli("export", "-c", str(config), "--out", str(out), "--scope", scope, *jobs)
        finally:
            del os.environ["EXPORT_TOKEN"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"{TASKS} files written to {out}"
    names = sorted(p.name for p in (out / PROJECT / INSTANCE).iterdir())
    assert names == [f"exported_{n:03d}.yaml" for n in range(1, TASKS + 1)]
