"""Tests for check cycles against the in-process emulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.cloud.transports import in_process
from fdi_drift.drift.model import ChangeOp, CycleReport, ResourceStatus, Status, UnknownReason
from fdi_drift.emulator.app import Emulator, EmulatorConfig, IamUser
from fdi_drift.exporter import PlaceholderReason, export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import LiveEntry, Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.service import Runtime
from tests.conftest import (
    API_TASK,
    INSTANCE,
    MYSQL_TASK,
    PROJECT,
    export_instance,
    put_task,
    seed_000_as_get,
    seed_002,
    settings_for,
)

RuntimeFactory = Callable[..., Runtime]


async def cycle(runtime: Runtime) -> CycleReport:
    assert await runtime.reload() is not None
    report = await runtime.check()
    assert report is not None
    return report


def by_id(report: CycleReport, task_id: str) -> ResourceStatus:
    (found,) = [s for s in report.statuses if s.live_id == task_id]
    return found


def write(desired: Path, name: str, text: str) -> None:
    (desired / name).write_text(text, encoding="utf-8")


def declared(name: str, *, spec: str = "", extra: str = "", task_id: str = "") -> str:
    ident = f"\n  id: {task_id}" if task_id else ""
    return (
        f"apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata:\n  name: {name}\n"
        f"  project_id: {PROJECT}\n  instance_id: {INSTANCE}{ident}\n"
        f"spec:\n  task:\n    task_type: TIMING\n{spec}{extra}"
    )


def set_page_size(document: dict[str, Any]) -> None:
    source = document["task_detail"]["sourceSelectedDatasource"]
    source["bodyRaw"] = '{"pageNum":"1","pageSize":"500"}'
    document["task"]["description"] = "hand edit"


async def test_export_then_check_is_in_sync(
    make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """Desired state written by export matches live exactly: every task is in sync."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    report = await cycle(runtime)
    assert [s.status for s in report.statuses] == [Status.IN_SYNC, Status.IN_SYNC]
    assert report.complete and not report.drifted


def add_credentials(document: dict[str, Any]) -> None:
    """Credentials a person put into the task: plain, masked, numeric, and inside bodyRaw."""
    source = document["task_detail"]["sourceSelectedDatasource"]
    source["accessToken"] = "tok-abc123"
    source["password"] = "******"
    source["tokenSettings"] = {"ttl": 3600, "refresh": True, "issuer": ""}
    source["bodyRaw"] = '{"pageNum":"1","pageSize":"10","clientSecret":"cs-456"}'


async def test_export_writes_placeholders_for_secret_looking_fields_and_stays_in_sync(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """Values under secret-looking keys, in nested JSON text too, are exported as references."""
    runtime = make_runtime()
    await put_task(api, API_TASK, add_credentials)
    written = await export_resources(
        runtime.drivers, catalog.specs(), [(FDI_TASK, Scope(PROJECT, INSTANCE))], desired_dir
    )
    (item,) = [i for i in written if i.name == "fdi_task_v2mysql-tomysql"]
    text = item.path.read_text()
    assert "tok-abc123" not in text and "cs-456" not in text and "3600" not in text
    assert "******" not in text
    source = "/spec/task_detail/sourceSelectedDatasource"
    assert [(p.pointer, p.reason) for p in item.placeholders] == [
        (f"{source}/bodyRaw/clientSecret", PlaceholderReason.SECRET_LOOKING_KEY),
        (f"{source}/accessToken", PlaceholderReason.SECRET_LOOKING_KEY),
        (f"{source}/password", PlaceholderReason.MASKED),
        (f"{source}/tokenSettings/ttl", PlaceholderReason.SECRET_LOOKING_KEY),
    ]
    assert item.secret_refs == tuple(p.reference for p in item.placeholders)
    assert "fdi_task_v2mysql-tomysql/task_detail.sourceSelectedDatasource.accessToken" in (
        item.secret_refs
    )
    report = await cycle(runtime)
    assert [s.status for s in report.statuses] == [Status.IN_SYNC, Status.IN_SYNC]


async def test_edit_inside_nested_string_is_reported_by_pointer(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """A PUT that changes bodyRaw's pageSize and the description shows both exact pointers."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    await put_task(api, API_TASK, set_page_size)
    report = await cycle(runtime)
    drifted = by_id(report, API_TASK)
    assert drifted.status is Status.DRIFTED
    assert [(c.pointer, c.op, c.live, c.desired) for c in drifted.changes] == [
        ("/task/description", ChangeOp.CHANGED, "hand edit", "mysql"),
        ("/task_detail/sourceSelectedDatasource/bodyRaw/pageSize", ChangeOp.CHANGED, "500", "10"),
    ]
    assert by_id(report, MYSQL_TASK).status is Status.IN_SYNC
    assert drifted.drift_since is not None


async def test_ignore_rule_reaches_inside_nested_strings(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """An ignore pattern with ** silences a change inside bodyRaw, and only that change."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    path = desired_dir / PROJECT / INSTANCE / "fdi_task_v2mysql-tomysql.yaml"
    path.write_text(path.read_text() + "ignore:\n  - /task_detail/**/pageSize\n")
    await put_task(api, API_TASK, set_page_size)
    drifted = by_id(await cycle(runtime), API_TASK)
    assert [c.pointer for c in drifted.changes] == ["/task/description"]


async def test_missing_unmanaged_and_declared_subset(
    make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """Undeclared live tasks are unmanaged; a declared task nobody has is missing."""
    write(desired_dir, "a.yaml", declared("fdi_task_pzy4m5", spec="    description: nope\n"))
    write(desired_dir, "b.yaml", declared("no-such-task"))
    report = await cycle(make_runtime())
    statuses = {s.key.name: s for s in report.statuses}
    assert statuses["no-such-task"].status is Status.MISSING
    assert statuses["fdi_task_v2mysql-tomysql"].status is Status.UNMANAGED
    only = statuses["fdi_task_pzy4m5"]
    assert only.status is Status.DRIFTED
    assert [(c.pointer, c.op) for c in only.changes] == [("/task/description", ChangeOp.ABSENT)]


async def test_failed_list_makes_everything_unknown_never_missing(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator
) -> None:
    """When listing fails after retries, declared tasks are unknown and the cycle incomplete."""
    runtime = make_runtime()
    await export_instance(runtime, desired_dir)
    emulator.faults.inject(method="GET", path=r".*/tasks", status=500, times=None)
    report = await cycle(runtime)
    assert {s.status for s in report.statuses} == {Status.UNKNOWN}
    assert not report.complete
    assert all("listing FdiTask" in s.reason and "500" in s.reason for s in report.statuses)
    assert {s.cause for s in report.statuses} == {UnknownReason.LIST_FAILED}


READ = UnknownReason.READ_FAILED
DECODE = UnknownReason.DECODE_FAILED


@pytest.mark.parametrize(
    ("fault", "reason", "cause"),
    [
        ({"status": 503, "times": None}, "503", READ),
        ({"status": 200, "body": '{"task": {', "raw": True}, "not JSON", READ),
        ({"status": 200, "body": {"task": {}, "task_detail": "not json {"}}, "task_detail", DECODE),
        ({"status": 200, "body": {"task": {}}}, "task_detail", READ),
        ({"status": 200, "body": {"task": {}, "task_detail": "[1, 2]"}}, "not an object", DECODE),
    ],
)
async def test_failed_read_is_unknown_with_a_reason(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    emulator: Emulator,
    fault: dict[str, Any],
    reason: str,
    cause: UnknownReason,
) -> None:
    """Every way a read can fail makes that task unknown (never in sync), the other untouched."""
    runtime = make_runtime(request_timeout_seconds=0.2)
    await export_instance(runtime, desired_dir)
    emulator.faults.inject(method="GET", path=f".*/tasks/{API_TASK}", **fault)
    report = await cycle(runtime)
    failed = by_id(report, API_TASK)
    assert failed.status is Status.UNKNOWN
    assert reason in failed.reason
    assert failed.cause is cause
    assert by_id(report, MYSQL_TASK).status is Status.IN_SYNC
    assert report.complete


async def test_unchanged_tasks_are_not_read_again(
    make_runtime: RuntimeFactory, desired_dir: Path, emulator: Emulator, api: httpx.AsyncClient
) -> None:
    """A second cycle reads only what last_modified_time says changed; a full sweep reads all."""
    runtime = make_runtime(full_sweep_every=3)
    await export_instance(runtime, desired_dir)
    await cycle(runtime)

    def reads() -> list[str]:
        seen = [r.path for r in emulator.requests if r.method == "GET" and "/tasks/" in r.path]
        emulator.requests.clear()
        return seen

    reads()
    second = await cycle(runtime)
    assert reads() == []
    assert {s.status for s in second.statuses} == {Status.IN_SYNC}
    await put_task(api, API_TASK, set_page_size)
    reads()
    third = await cycle(runtime)
    assert [p.rsplit("/", 1)[1] for p in reads()] == [API_TASK]
    assert by_id(third, API_TASK).status is Status.DRIFTED
    await cycle(runtime)  # the fourth cycle is a full sweep
    assert sorted(p.rsplit("/", 1)[1] for p in reads()) == sorted([API_TASK, MYSQL_TASK])


async def test_drift_since_holds_until_fixed(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """drift_since keeps the first time drift was seen and clears once the task is fixed."""
    clock = iter(float(t) for t in range(1000, 2000))
    runtime = make_runtime()
    runtime.engine._clock = lambda: next(clock)
    await export_instance(runtime, desired_dir)
    await put_task(api, API_TASK, set_page_size)
    first = by_id(await cycle(runtime), API_TASK).drift_since
    await put_task(api, API_TASK, lambda d: d["task"].update(description="still wrong"))
    assert by_id(await cycle(runtime), API_TASK).drift_since == first

    def restore(document: dict[str, Any]) -> None:
        document["task"]["description"] = "mysql"
        source = document["task_detail"]["sourceSelectedDatasource"]
        source["bodyRaw"] = '{"pageNum":"1","pageSize":"10"}'

    await put_task(api, API_TASK, restore)
    fixed = by_id(await cycle(runtime), API_TASK)
    assert fixed.status is Status.IN_SYNC and fixed.drift_since is None


async def test_bind_by_id_sees_a_rename_and_names_are_ambiguous(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """Bound by id, a renamed task drifts on task_name; by name, a vanished name is missing."""
    write(desired_dir, "a.yaml", declared("fdi_task_pzy4m5", task_id=MYSQL_TASK))
    write(desired_dir, "b.yaml", declared("fdi_task_v2mysql-tomysql"))
    await put_task(api, MYSQL_TASK, lambda d: d["task"].update(task_name="renamed-task"))
    await put_task(api, API_TASK, lambda d: d["task"].update(task_name="also-renamed"))
    report = await cycle(make_runtime())
    statuses = {s.key.name: s for s in report.statuses}
    renamed = statuses["fdi_task_pzy4m5"]
    assert renamed.status is Status.DRIFTED
    assert [(c.pointer, c.live) for c in renamed.changes] == [("/task/task_name", "renamed-task")]
    assert statuses["fdi_task_v2mysql-tomysql"].status is Status.MISSING
    assert statuses["also-renamed"].status is Status.UNMANAGED


async def test_two_live_tasks_of_the_declared_name_make_it_unknown(
    make_runtime: RuntimeFactory, desired_dir: Path
) -> None:
    """Bound by name, a name two live tasks share is ambiguous: unknown, never a guess.

    The service keeps task names unique in an instance, so the twin is added to the list
    answer as the engine sees it: a guard against a service that one day stops doing so.
    """
    write(desired_dir, "a.yaml", declared("fdi_task_pzy4m5"))
    runtime = make_runtime()
    real_list = runtime.drivers[FDI_TASK].list

    async def with_a_twin(scope: Scope) -> list[LiveEntry]:
        entries = await real_list(scope)
        (mysql,) = [e for e in entries if e.id == MYSQL_TASK]
        return [*entries, replace(mysql, id="twin-of-the-mysql-task")]

    runtime.drivers[FDI_TASK].list = with_a_twin  # type: ignore[method-assign]
    report = await cycle(runtime)
    (only,) = [s for s in report.statuses if s.key.name == "fdi_task_pzy4m5"]
    assert (only.status, only.cause) == (Status.UNKNOWN, UnknownReason.AMBIGUOUS)
    assert only.reason == "2 live FdiTasks are named 'fdi_task_pzy4m5'; bind by metadata.id"


def iam_password(home: Path) -> dict[str, object]:
    """The `auth:` configuration of an IAM password login, the password in home/password."""
    login = {"domain": "acme", "user": "drift-bot", "project_id": PROJECT}
    return {"iam_password": {**login, "password_file": str(home / "password")}}


async def test_iam_password_login_end_to_end(
    emulator: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    """With iam_password auth the daemon logs in once at IAM and reads tasks with that token."""
    emulated = Emulator(EmulatorConfig(users=(IamUser("acme", "drift-bot", "s3cr3t-pw"),)))
    emulated.store.add_task(PROJECT, INSTANCE, seed_002())
    emulated.store.add_task(PROJECT, INSTANCE, seed_000_as_get())
    (tmp_path / "password").write_text("s3cr3t-pw\n")
    runtime = Runtime(
        settings_for(desired_dir, auth=iam_password(tmp_path)), transport=in_process(emulated)
    )
    await export_instance(runtime, desired_dir)
    report = await cycle(runtime)
    await runtime.aclose()
    assert {s.status for s in report.statuses} == {Status.IN_SYNC}
    logins = [r for r in emulated.requests if r.path == "/v3/auth/tokens"]
    assert len(logins) == 1 and logins[0].status == 201
    assert b"s3cr3t-pw" not in logins[0].body  # the emulator's log masks it, as ours must


async def test_wrong_iam_password_is_unknown_with_iam_reason(
    emulator: Emulator, desired_dir: Path, tmp_path: Path
) -> None:
    """A rejected login makes every resource unknown with IAM's reason, never the password."""
    emulated = Emulator(EmulatorConfig(users=(IamUser("acme", "drift-bot", "right"),)))
    (tmp_path / "password").write_text("wrong-pw")
    (desired_dir / "a.yaml").write_text(declared("fdi_task_pzy4m5"))
    runtime = Runtime(
        settings_for(desired_dir, auth=iam_password(tmp_path)), transport=in_process(emulated)
    )
    report = await cycle(runtime)
    await runtime.aclose()
    (only,) = report.statuses
    assert (only.status, only.cause) == (Status.UNKNOWN, UnknownReason.LIST_FAILED)
    assert "401" in only.reason and "wrong-pw" not in only.reason
