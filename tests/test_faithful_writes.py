"""A correcting write changes the declared values and nothing else, down to the literal text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fdi_drift.drift.model import ReconcileResult, Status
from fdi_drift.emulator.app import Emulator
from fdi_drift.service import Runtime
from tests.conftest import INSTANCE, PROJECT, seed_002

TASK = "0d1f2e3c4b5a69788796a5b4c3d2e1f0"
NAME = "literal-task"
# Every literal here is one a re-serializer would change: a trailing zero, an exponent, an
# integer wider than 64 bits, a duplicate key, escaped slashes, a nested string in its own style.
DETAIL = (
    '{"sourceSelectedDatasource":{"description":"old","rate":1.50,"limit":1E3,'
    '"cursor":123456789012345678901234567890,"flag":1,"flag":2,"url":"http:\\/\\/x",'
    '"bodyRaw":"{\\"pageNum\\": \\"1\\", \\"size\\": 1.0E2, \\"big\\": -98765432109876543210}"},'
    '"targetSelectedDatasource":{"table":"t_\\u00e9"}}'
)


def add_task(emulator: Emulator) -> None:
    body = seed_002()
    body["task"] = {**body["task"], "task_id": TASK, "task_name": NAME, "status": "stop"}
    body["task_detail"] = DETAIL
    emulator.store.add_task(PROJECT, INSTANCE, body)


def declare(desired_dir: Path, source: dict[str, Any]) -> None:
    document = {
        "apiVersion": "fdi-drift/v1",
        "kind": "FdiTask",
        "metadata": {"name": NAME, "project_id": PROJECT, "instance_id": INSTANCE, "id": TASK},
        "spec": {"task_detail": {"sourceSelectedDatasource": source}},
        "policy": {"reconcile": "auto"},
    }
    (desired_dir / "task.yaml").write_text(yaml.safe_dump(document))


async def reconcile(runtime: Runtime) -> tuple[Status, ReconcileResult, str]:
    await runtime.reload(strict=True)
    outcome = await runtime.cycle()
    assert outcome is not None
    report, corrections = outcome
    (status,) = [s for s in report.statuses if s.live_id == TASK]
    (correction,) = corrections
    return status.status, correction.result, status.reason


def stored(emulator: Emulator) -> str:
    task = emulator.store.get(PROJECT, INSTANCE, TASK)
    assert task is not None
    return task.task_detail


def puts(emulator: Emulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "PUT" and TASK in r.path)


RuntimeFactory = Callable[..., Runtime]


async def test_a_declared_field_is_the_only_text_a_write_changes(
    emulator: Emulator, make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """`description` changes; 1.50, 1E3, wide integers, the duplicate key and escapes stay."""
    add_task(emulator)
    declare(desired_dir, {"description": "new"})
    runtime = make_runtime(reconcile={"mode": "auto"})
    status, result, _ = await reconcile(runtime)
    assert (status, result) == (Status.IN_SYNC, ReconcileResult.APPLIED)
    assert stored(emulator) == DETAIL.replace('"description":"old"', '"description":"new"')


async def test_inside_a_nested_string_only_the_declared_value_changes(
    emulator: Emulator, make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """A field inside `bodyRaw` changes; the nested text keeps its spacing and number spellings."""
    add_task(emulator)
    declare(desired_dir, {"bodyRaw": {"pageNum": "2"}})
    runtime = make_runtime(reconcile={"mode": "auto"})
    status, result, _ = await reconcile(runtime)
    assert (status, result) == (Status.IN_SYNC, ReconcileResult.APPLIED)
    assert stored(emulator) == DETAIL.replace('\\"pageNum\\": \\"1\\"', '\\"pageNum\\": \\"2\\"')


async def test_an_edit_that_cannot_be_faithful_is_invalid_and_sends_nothing(
    emulator: Emulator, make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """Changing a key the text holds twice is refused: the resource is invalid, nothing is sent."""
    add_task(emulator)
    declare(desired_dir, {"flag": 3})
    runtime = make_runtime(reconcile={"mode": "auto"})
    status, result, reason = await reconcile(runtime)
    assert (status, result) == (Status.INVALID, ReconcileResult.INVALID)
    assert "/task_detail/sourceSelectedDatasource/flag: the key appears 2 times" in reason
    assert puts(emulator) == 0
    assert stored(emulator) == DETAIL


async def test_a_wide_integer_compares_exactly(
    emulator: Emulator, make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """An integer wider than 64 bits is read exactly: off by one in the last digit is drift."""
    add_task(emulator)
    declare(desired_dir, {"cursor": 123456789012345678901234567891})
    runtime = make_runtime()
    await runtime.reload(strict=True)
    report = await runtime.check()
    assert report is not None
    (status,) = [s for s in report.statuses if s.live_id == TASK]
    assert status.status is Status.DRIFTED
    (change,) = status.changes
    assert change.live == 123456789012345678901234567890
    declare(desired_dir, {"cursor": 123456789012345678901234567890, "rate": 1.5})
    await runtime.reload(strict=True)
    report = await runtime.check()
    assert report is not None
    (status,) = [s for s in report.statuses if s.live_id == TASK]
    assert status.status is Status.IN_SYNC


async def test_an_update_whose_answer_was_lost_is_read_back_not_resent(
    emulator: Emulator, make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """A 502 after the PUT took effect: no second PUT; the read-back makes it applied."""
    add_task(emulator)
    declare(desired_dir, {"description": "new"})
    runtime = make_runtime(reconcile={"mode": "auto"})
    emulator.faults.inject(method="PUT", path=TASK, status=502, processed=True)
    status, result, reason = await reconcile(runtime)
    assert (status, result) == (Status.IN_SYNC, ReconcileResult.APPLIED)
    assert "update (answer lost: PUT" in reason
    assert puts(emulator) == 1
    assert stored(emulator) == DETAIL.replace('"description":"old"', '"description":"new"')
