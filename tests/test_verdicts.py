"""In-sync verdicts kept in cache_dir: a restart does not decode what it judged before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift import engine as engine_module
from fdi_drift.desired_cache import Verdicts
from fdi_drift.drift.model import Status
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, MYSQL_TASK, export_instance, put_task
from tests.test_engine import by_id, cycle

RuntimeFactory = Callable[..., Runtime]


def never_compare(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make comparing record the resource instead of judging it: what was not skipped."""
    compared: list[str] = []
    real = engine_module.match

    def recorded(prepared: Any, live: Any) -> Any:
        compared.append(live["task"]["task_id"])
        return real(prepared, live)

    monkeypatch.setattr(engine_module, "match", recorded)
    return compared


def redeclare(desired_dir: Path) -> Path:
    """Change one declared description; the file changed."""
    declared = sorted(desired_dir.rglob("*.yaml"))[0]
    lines = declared.read_text().splitlines(keepends=True)
    (at,) = [i for i, line in enumerate(lines) if line.startswith("    description: ")]
    lines[at] = "    description: declared anew\n"
    declared.write_text("".join(lines))
    return declared


async def test_a_restart_skips_what_it_judged_in_sync_and_judges_what_changed(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    tmp_path: Path,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    first = make_runtime(cache_dir=cache)
    await export_instance(first, desired_dir)
    report = await cycle(first)
    assert {s.status for s in report.statuses} == {Status.IN_SYNC}
    assert list(cache.glob("verdicts-*.json"))

    def edit(document: dict[str, Any]) -> None:
        document["task"]["description"] = "changed by hand"

    await put_task(api, API_TASK, edit)
    compared = never_compare(monkeypatch)
    restarted = await cycle(make_runtime(cache_dir=cache))
    assert compared == [API_TASK]  # only the task whose answer changed was compared
    assert by_id(restarted, API_TASK).status is Status.DRIFTED
    assert by_id(restarted, MYSQL_TASK).status is Status.IN_SYNC


async def test_a_changed_declaration_or_a_damaged_file_means_judging_again(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    first = make_runtime(cache_dir=cache)
    await export_instance(first, desired_dir)
    await cycle(first)
    declared = redeclare(desired_dir)
    compared = never_compare(monkeypatch)
    report = await cycle(make_runtime(cache_dir=cache))
    (changed,) = [s for s in report.statuses if declared.name in s.source]
    assert compared == [changed.live_id]  # only the resource whose declaration changed
    assert changed.status is Status.DRIFTED
    (stored,) = cache.glob("verdicts-*.json")
    stored.write_bytes(b'{"torn')
    compared.clear()
    report = await cycle(make_runtime(cache_dir=cache))
    assert sorted(compared) == sorted(s.live_id for s in report.statuses)  # all judged again


async def test_verdicts_are_written_when_they_change_and_again_after_a_failed_write(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cycle that judged nothing new builds and writes nothing; a write that failed is tried
    again by the next cycle, though nothing changed meanwhile."""
    runtime = make_runtime(cache_dir=tmp_path / "cache")
    await export_instance(runtime, desired_dir)
    saved: list[int] = []
    failing = [True]

    def save(self: Verdicts, in_sync: dict[str, tuple[str, str]]) -> bool:
        saved.append(len(in_sync))
        return not failing[0]

    monkeypatch.setattr(Verdicts, "save", save)
    await cycle(runtime)  # first judgement: the write fails
    failing[0] = False
    await cycle(runtime)  # nothing changed, but the failed write is made now
    await cycle(runtime)  # nothing changed, nothing written
    await cycle(runtime)
    assert saved == [2, 2]
