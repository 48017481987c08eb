"""`reconcile --target`: only the selected resources are corrected; the rest stay as they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from fdi_drift.commands.reconcile import _targeted
from fdi_drift.drift.model import ReconcileMode, ReconcileResult, Status
from fdi_drift.selectors import Selector
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, MYSQL_TASK, export_instance, put_task
from tests.processes import cli, export, put


async def test_only_the_targets_are_corrected(
    make_runtime: Callable[..., Runtime], desired_dir: Path, api: httpx.AsyncClient
) -> None:
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    await put_task(api, API_TASK, lambda d: d["task"].update(description="hand edit"))
    # The other task declares a description it does not have live.
    other = next(desired_dir.rglob("fdi_task_pzy4m5.yaml"))  # noqa: ASYNC240 - a test fixture
    other.write_text(
        other.read_text().replace("\n  task:\n", "\n  task:\n    description: wanted\n")
    )
    await runtime.reload()
    checked = await runtime.check()
    assert checked is not None
    assert {s.live_id: s.status for s in checked.statuses} == {
        API_TASK: Status.DRIFTED,
        MYSQL_TASK: Status.DRIFTED,
    }
    only = _targeted([Selector.parse(API_TASK)])
    outcome = await runtime.cycle(mode=ReconcileMode.AUTO, only=only)
    assert outcome is not None
    report, corrections = outcome
    assert [(c.status.live_id, c.result) for c in corrections] == [
        (API_TASK, ReconcileResult.APPLIED)
    ]
    statuses = {s.live_id: s.status for s in report.statuses}
    assert statuses == {API_TASK: Status.IN_SYNC, MYSQL_TASK: Status.DRIFTED}
    await runtime.aclose()


def test_the_command_plans_for_its_targets_only(config: Path, emulator_url: str) -> None:
    assert export(config).returncode == 0
    put(emulator_url, API_TASK, "edited by hand")
    other = cli("reconcile", "-c", str(config), "--target", "nothing*")
    assert other.returncode == 0, other.stdout + other.stderr  # nothing to do for the target
    aimed = cli("reconcile", "-c", str(config), "--target", API_TASK)
    assert aimed.returncode == 2 and f"/tasks/{API_TASK}" in aimed.stdout
    misuse = cli("reconcile", "-c", str(config), "--apply", "--plan", "p", "--target", "x")
    assert misuse.returncode == 1 and "--target" in misuse.stderr
