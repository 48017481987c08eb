"""The fault matrix: each row injects one fault and names what must hold.

Besides each row's own assertions, after every row (world.py's invariants): the declared secret
is in no output, the bystander task is still judged, no audit intent is left without an outcome,
and the bystander was not rewritten. docs/reliability.md holds this table; a test keeps it true.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.drift.model import BlockReason, ReconcileResult, Status
from fdi_drift.emulator.app import EmulatorConfig
from fdi_drift.emulator.faults import RandomFaults
from fdi_drift.emulator.validation import TaskUpdate
from fdi_drift.kinds.contract import KindDriver, LiveDocument, LiveEntry, Scope, Write
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from tests.conftest import INSTANCE, PROJECT, TOKEN, seed_002
from tests.faults.world import (
    BYSTANDER,
    KEY,
    SECRET,
    TARGET,
    TASKS_PATH,
    Expect,
    RowFunction,
    World,
    assert_invariants,
    make_world,
)


@dataclass(frozen=True)
class Row:
    """One line of the matrix."""

    id: str
    area: str
    injected: str
    must_hold: str
    run: RowFunction
    emulator: Callable[[], EmulatorConfig] | None = None
    clock_offset: float = 0.0
    slow: bool = False  # a process or a soak: `pytest -m "not slow"` leaves it out


ROWS: list[Row] = []


def row(
    area: str,
    injected: str,
    must_hold: str,
    *,
    emulator: Callable[[], EmulatorConfig] | None = None,
    clock_offset: float = 0.0,
    slow: bool = False,
) -> Callable[[RowFunction], RowFunction]:
    def register(function: RowFunction) -> RowFunction:
        name = function.__name__.removeprefix("row_").replace("_", "-")
        ROWS.append(Row(name, area, injected, must_hold, function, emulator, clock_offset, slow))
        return function

    return register


TARGET_PATH = f"{TASKS_PATH}/{TARGET}$"
AKSK_ENV = {"aksk": {"ak_env": "AK", "sk_env": "SK"}}


def hand_edit(world: World, description: str = "edited by hand", task_id: str = TARGET) -> None:
    """Change a task's description through the emulator's update, as a person's PUT would."""
    task = world.emulator.store.get(PROJECT, INSTANCE, task_id)
    assert task is not None
    fields = task.task
    update = TaskUpdate(
        task_name=str(fields["task_name"]),
        task_type=str(fields["task_type"]),
        source_datasource_id=str(fields["source_datasource_id"]),
        target_datasource_id=str(fields["target_datasource_id"]),
        description=description,
        task_tag=None if fields.get("task_tag") is None else str(fields["task_tag"]),
        task_detail=task.task_detail,
    )
    world.emulator.store.update(PROJECT, INSTANCE, task_id, update)


def replace_detail(world: World, detail: str) -> None:
    task = world.emulator.store.get(PROJECT, INSTANCE, TARGET)
    assert task is not None
    world.emulator.store.add_task(PROJECT, INSTANCE, {"task": task.task, "task_detail": detail})


def answer_with(world: World, body: str | bytes, status: int = 200) -> None:
    """Every read of the target gets this raw answer."""
    world.inject(path=TARGET_PATH, method="GET", status=status, body=body, raw=True, times=None)


async def unknown_target(world: World, *fragments: str) -> None:
    report = await world.cycle()
    target = world.status(report, TARGET)
    assert target.status is Status.UNKNOWN, (target.status, target.reason)
    for fragment in fragments:
        assert fragment in target.reason, target.reason


# --- the cloud API -------------------------------------------------------------------------


@row("api", "500 on every read of one task", "that task unknown with the status; others judged")
async def row_server_error_on_read(world: World) -> None:
    world.inject(path=TARGET_PATH, method="GET", status=500, times=None)
    await unknown_target(world, "HTTP 500", "after 2 attempts")


@row("api", "503 with Retry-After: 0, once", "retried; in sync, no trace of the fault")
async def row_server_error_then_recovery(world: World) -> None:
    world.inject(path=TARGET_PATH, method="GET", status=503, headers={"Retry-After": "0"})
    report = await world.cycle()
    assert world.status(report).status is Status.IN_SYNC
    assert world.sent("GET") == 2


@row("api", "429 with Retry-After: 0, once", "retried after the wait asked for; in sync")
async def row_throttled_then_served(world: World) -> None:
    world.inject(path=TARGET_PATH, method="GET", status=429, headers={"Retry-After": "0"})
    report = await world.cycle()
    assert world.status(report).status is Status.IN_SYNC
    assert world.sent("GET") == 2


@row("api", "429 on every read", "unknown as throttled after the configured attempts, no storm")
async def row_throttled_throughout(world: World) -> None:
    world.inject(
        path=TARGET_PATH, method="GET", status=429, headers={"Retry-After": "0"}, times=None
    )
    await unknown_target(world, "HTTP 429", "after 2 attempts")
    assert world.sent("GET") == 2


@row("api", "a read answered after 5 s (timeout 0.5 s)", "unknown: timed out; cycle ends")
async def row_read_timeout(world: World) -> None:
    world.build(request_timeout_seconds=0.5)
    world.inject(path=TARGET_PATH, method="GET", status=None, delay_ms=5000, times=None)
    await unknown_target(world, "timed out: no complete answer within 0.5s")


@row("api", "connection reset after 10 bytes of the answer", "unknown naming the protocol error")
async def row_reset_mid_answer(world: World) -> None:
    world.inject(path=TARGET_PATH, method="GET", status=None, cut_after=10, times=None)
    await unknown_target(world, "RemoteProtocolError")


@row("api", "headers, then one byte every 200 ms", "unknown at the request deadline, not hung")
async def row_slow_drip(world: World) -> None:
    world.build(request_timeout_seconds=0.5)
    world.inject(path=TARGET_PATH, method="GET", status=None, drip_ms=200, times=None)
    await unknown_target(world, "no complete answer within 0.5s")


@row("api", "200 with an HTML page", "unknown: the answer is not JSON")
async def row_not_json(world: World) -> None:
    answer_with(world, "<html>maintenance</html>")
    await unknown_target(world, "answer is not JSON")


@row("api", "200 with JSON cut off mid-way", "unknown: the answer is not JSON")
async def row_truncated_json(world: World) -> None:
    answer_with(world, '{"task": {"task_id": "x", "task_na')
    await unknown_target(world, "answer is not JSON")


@row("api", "200 with task a list and task_detail a number", "unknown naming the wrong shape")
async def row_wrong_shape(world: World) -> None:
    answer_with(world, '{"task": [], "task_detail": 5}')
    await unknown_target(world, "`task` is an array, not an object")


@row("api", "a 2 MiB answer (limit 1 MiB)", "unknown: refused unread past the limit")
async def row_huge_answer(world: World) -> None:
    world.build(max_response_bytes=1024 * 1024)
    answer_with(world, b'{"task": {}, "task_detail": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    await unknown_target(world, "larger than 1048576 bytes")


@row("api", "task_detail nested 300 levels deep", "unknown: deeper than the limit; no crash")
async def row_deep_task_detail(world: World) -> None:
    deep: Any = 1
    for _ in range(300):
        deep = {"k": deep}
    replace_detail(world, json.dumps({"sourceSelectedDatasource": deep}))
    await unknown_target(world, "nested deeper than 100 levels")


@row("api", "an answer nested 1,100 levels deep", "unknown: not JSON (parser's depth limit)")
async def row_deep_answer(world: World) -> None:
    answer_with(world, "[" * 1100 + "]" * 1100)
    await unknown_target(world, "answer is not JSON")


@row("api", "task_detail holding the number 1E400", "unknown: not valid JSON, never infinity")
async def row_number_out_of_range(world: World) -> None:
    task = world.emulator.store.get(PROJECT, INSTANCE, TARGET)
    assert task is not None
    body = {"task": task.task, "task_detail": '{"sourceSelectedDatasource": {"rate": 1E400}}'}
    answer_with(world, json.dumps(body))
    await unknown_target(world, "not valid JSON")


@row("api", "a lone surrogate escape in the answer", "unknown: not JSON")
async def row_lone_surrogate(world: World) -> None:
    answer_with(world, '{"task": {"task_name": "\\ud800"}, "task_detail": "{}"}')
    await unknown_target(world, "answer is not JSON")


@row(
    "api",
    "a 30-digit integer beside a field that drifts",
    "read exactly; the correction keeps its literal text",
)
async def row_wide_integer(world: World) -> None:
    detail = json.loads(world.stored())
    text = (
        json.dumps(detail, separators=(",", ":"))[:-1] + ',"cursor":123456789012345678901234567890}'
    )
    replace_detail(world, text)
    hand_edit(world)
    report = await world.cycle()
    assert world.status(report).status is Status.IN_SYNC
    assert world.stored() == text


@row(
    "api",
    "a duplicate key holding a declared value that drifted",
    "invalid: no faithful edit; nothing sent",
)
async def row_duplicate_keys(world: World) -> None:
    text = world.stored()
    replace_detail(world, text[:-1] + ',"needAPI":"x","needAPI":"y"}')
    path = world.desired_file()
    path.write_text(
        path.read_text().replace("  task_detail:\n", "  task_detail:\n    needAPI: z\n", 1)
    )
    report = await world.cycle()
    target = world.status(report)
    assert target.status is Status.INVALID
    assert "/task_detail/needAPI: the key appears 2 times" in target.reason
    assert world.sent("PUT") == 0


@row(
    "api", "a list whose total changes between pages", "both listings fail: unknown, never missing"
)
async def row_inconsistent_paging(world: World) -> Expect:
    entity = {"task_id": TARGET, "task_name": "fdi_task_v2mysql-tomysql", "last_modified_time": 1}
    page = {"total": 5, "size": 1, "entities": [entity]}
    world.inject(path=f"{TASKS_PATH}$", method="GET", status=200, body=page, times=None)
    await unknown_target(world, "inconsistent twice")
    assert not world.reports[-1].complete
    return Expect(bystander=(Status.UNKNOWN,))


@row("api", "500 on every list call", "every resource of the scope unknown, never missing")
async def row_list_fails(world: World) -> Expect:
    world.inject(path=f"{TASKS_PATH}$", method="GET", status=500, times=None)
    await unknown_target(world, "listing FdiTask", "HTTP 500")
    return Expect(bystander=(Status.UNKNOWN,))


@row(
    "api",
    "a listed id holding '/' and '..' for a task bound by name",
    "unknown: the id is refused before it enters a path",
)
async def row_id_with_path_characters(world: World) -> None:
    path = world.desired_file()
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if "  id:" not in line)
    )
    async with httpx.AsyncClient(headers={"X-Auth-Token": TOKEN}) as client:
        answer = (await client.get(f"{world.url}{TASKS_PATH}")).json()
    for entity in answer["entities"]:
        if entity["task_id"] == TARGET:
            entity["task_id"] = "../../../v3/auth/tokens"
    world.inject(path=f"{TASKS_PATH}$", method="GET", status=200, body=answer, times=None)
    await unknown_target(world, "task_id")
    assert not any(".." in r.path for r in world.emulator.requests)


@row("api", "302 to another host", "not followed: unknown naming the redirect")
async def row_redirect_elsewhere(world: World) -> None:
    world.inject(
        path=TARGET_PATH,
        method="GET",
        status=302,
        body="",
        raw=True,
        headers={"Location": "http://198.51.100.7/steal"},
        times=None,
    )
    await unknown_target(world, "HTTP 302")


@row("api", "404 for a task the list just showed", "unknown (read failed), not missing")
async def row_gone_between_list_and_read(world: World) -> None:
    world.inject(path=TARGET_PATH, method="GET", status=404, times=None)
    await unknown_target(world, "read failed", "HTTP 404")


@row("api", "the update refused with 400", "failed, audited; one PUT; backs off")
async def row_write_refused(world: World) -> None:
    hand_edit(world)
    world.inject(path=TARGET_PATH, method="PUT", status=400, times=None)
    report = await world.cycle()
    assert world.status(report).status is Status.DRIFTED
    assert world.sent("PUT") == 1
    records = [
        json.loads(line) for line in world.runtime.settings.audit_log.read_text().splitlines()
    ]
    assert [r["event"] for r in records] == ["intent", "outcome"] and records[1][
        "result"
    ] == "failed"


@row("api", "502 after the update took effect", "read back: applied; never sent twice")
async def row_write_answer_lost_after_processing(world: World) -> None:
    hand_edit(world)
    world.inject(path=TARGET_PATH, method="PUT", status=502, processed=True)
    report = await world.cycle()
    assert world.status(report).status is Status.IN_SYNC
    assert world.sent("PUT") == 1


@row("api", "connection cut before the update was processed", "read back: failed; not resent")
async def row_write_reset_before_processing(world: World) -> None:
    hand_edit(world)
    world.inject(path=TARGET_PATH, method="PUT", status=500, body="", raw=True, cut_after=0)
    await world.cycle()
    (correction,) = world.corrections
    assert correction.result is ReconcileResult.FAILED
    assert "the read-back shows it was not made" in correction.detail
    assert world.sent("PUT") == 1


@row("api", "another writer undoes every correction", "one write, then blocked as fighting")
async def row_fighting_writer(world: World) -> None:
    hand_edit(world)
    world.emulator.store.fighting = True  # from now on, every update is undone
    for _ in range(3):
        report = await world.cycle()
    target = world.status(report)
    assert (target.status, target.block) == (Status.BLOCKED, BlockReason.FIGHTING)
    assert world.sent("PUT") == 1


# --- credentials ---------------------------------------------------------------------------


@row(
    "credentials",
    "the token file replaced by a revoked token mid-run, then rotated",
    "unknown with 401, one retry each; in sync after rotation",
)
async def row_token_revoked_then_rotated(world: World) -> Expect:
    token = world.desired.parent / "token"
    token.write_text(TOKEN)
    world.build(auth={"token_file": str(token)})
    assert world.status(await world.cycle()).status is Status.IN_SYNC
    token.write_text("revoked-token")
    world.emulator.requests.clear()
    await unknown_target(world, "HTTP 401")
    assert world.sent("GET") <= 2  # the auth flow re-reads the file once, no storm
    token.write_text(TOKEN)
    assert world.status(await world.cycle()).status is Status.IN_SYNC
    return Expect()


@row(
    "credentials",
    "the server's clock 20 minutes ahead (AK/SK)",
    "unknown naming the signing time; the key is not retried into a lock",
    clock_offset=1200.0,
)
async def row_clock_skew(world: World) -> Expect:
    world.build(auth=AKSK_ENV, environ={"AK": KEY.access_key, "SK": KEY.secret_key})
    await unknown_target(world, "clock is 20 minutes behind the server's", "NTP")
    return Expect(bystander=(Status.UNKNOWN,))


@row("credentials", "a wrong secret key until the access key locks", "unknown: locked, saying so")
async def row_key_locked(world: World) -> Expect:
    for _ in range(10):
        # A daemon holds a refused key back for a minute, so the lock needs restarts (a
        # crash-looping pod): each start's first list fails once; the sixth failure locks it.
        world.build(auth=AKSK_ENV, environ={"AK": KEY.access_key, "SK": "wrong-secret"})
        await world.cycle()
        if world.emulator.credentials.locked_until(KEY.access_key) is not None:
            break
    world.build(auth=AKSK_ENV, environ={"AK": KEY.access_key, "SK": KEY.secret_key})
    await unknown_target(world, "locked")
    return Expect(bystander=(Status.UNKNOWN,))


@row(
    "credentials",
    "the key pair rotated on the server, then in the mounted files",
    "unknown with 401 meanwhile; in sync after, no restart",
)
async def row_key_rotated(world: World) -> Expect:
    ak, sk = world.desired.parent / "ak", world.desired.parent / "sk"
    ak.write_text(KEY.access_key)
    sk.write_text(KEY.secret_key)
    world.build(auth={"aksk": {"ak_file": str(ak), "sk_file": str(sk)}})
    assert world.status(await world.cycle()).status is Status.IN_SYNC
    from fdi_drift.emulator.app import KeyPair

    new = KeyPair(access_key="MATRIXAK0002", secret_key="matrix-secret-key-0002")
    world.emulator.credentials.set_key_pairs((new,))
    await unknown_target(world, "HTTP 401")
    ak.write_text(new.access_key)
    sk.write_text(new.secret_key)
    assert world.status(await world.cycle()).status is Status.IN_SYNC
    return Expect()


# --- secrets -------------------------------------------------------------------------------


@row(
    "secrets",
    "the secret field changed by hand to another secret",
    "not drift (unknowable); shown nowhere",
)
async def row_secret_changed_by_hand(world: World) -> Expect:
    task = world.emulator.store.get(PROJECT, INSTANCE, BYSTANDER)
    assert task is not None
    other = "HAND-SET-SECRET-55"
    changed = task.task_detail.replace(SECRET, other)
    world.emulator.store.add_task(PROJECT, INSTANCE, {"task": task.task, "task_detail": changed})
    world.bystander_detail = changed
    report = await world.cycle()
    assert world.status(report, BYSTANDER).status is Status.IN_SYNC
    assert other not in await world.outputs()
    return Expect()


# --- the audit log's disk ------------------------------------------------------------------


@row(
    "disk",
    "the audit log's directory is a file (unwritable)",
    "blocked audit_unavailable; nothing sent; detection goes on",
)
async def row_audit_unwritable(world: World) -> None:
    blocker = world.desired.parent / "not-a-directory"
    blocker.write_text("")
    world.build(audit_log=blocker / "audit.jsonl")
    hand_edit(world)
    report = await world.cycle()
    target = world.status(report)
    assert (target.status, target.block) == (Status.BLOCKED, BlockReason.AUDIT_UNAVAILABLE)
    assert world.sent("PUT") == 0


@row(
    "disk",
    "the disk full when the intent is appended",
    "blocked audit_unavailable; file unchanged; nothing sent",
)
async def row_audit_disk_full(world: World) -> None:
    audit = world.runtime.settings.audit_log
    audit.write_text('{"event":"intent","id":"old"}\n{"event":"outcome","id":"old"}\n')
    before = audit.read_bytes()
    hand_edit(world)
    real = os.write

    def full(descriptor: int, data: bytes) -> int:
        if b'"event":"intent"' in bytes(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(descriptor, data)

    mp = pytest.MonkeyPatch()
    mp.setattr("fdi_drift.audit.os.write", full)
    try:
        report = await world.cycle()
    finally:
        mp.undo()
    assert world.status(report).block is BlockReason.AUDIT_UNAVAILABLE
    assert audit.read_bytes() == before
    assert world.sent("PUT") == 0


@row(
    "disk",
    "the audit log's last line torn by a crash",
    "start reports it damaged; the next record starts a clean line",
)
async def row_audit_torn_last_line(world: World) -> None:
    audit = world.runtime.settings.audit_log
    audit.write_text('{"event":"intent","id":"x1"}\n{"event":"outcome","id":"x1"}\n{"event":"outc')
    assert world.runtime.unfinished_writes() == []
    assert world.runtime.metrics.registry.get_sample_value("fdi_drift_audit_damaged_lines") == 1.0
    hand_edit(world)
    await world.cycle()
    lines = audit.read_text().splitlines()
    assert lines[2] == '{"event":"outc' and all(json.loads(line) for line in lines[3:])


# --- desired state -------------------------------------------------------------------------


async def tree_refused(
    world: World, file: str, fragment: str, breaking: Callable[[Path], object]
) -> None:
    """After a good load, a bad tree: named, metric 0, last good tree in force, writes blocked."""
    await world.cycle()
    breaking(world.desired)
    await world.runtime.reload()
    health = world.runtime.state.health
    assert health is not None and not health.valid
    problems = [p for p in world.runtime.state.problems if p.startswith(file)]
    assert problems and fragment in problems[0], world.runtime.state.problems
    registry = world.runtime.metrics.registry
    assert registry.get_sample_value("fdi_drift_desired_state_valid") == 0.0
    hand_edit(world)
    target = world.status(await world.cycle())
    assert (target.status, target.block) == (Status.BLOCKED, BlockReason.DESIRED_STATE_INVALID)
    assert world.sent("PUT") == 0


@row(
    "desired state",
    "a file that is not valid YAML",
    "named with its line; last good tree in force; writes blocked",
)
async def row_invalid_yaml(world: World) -> None:
    text = "apiVersion: fdi-drift/v1\nkind: [FdiTask\n"
    await tree_refused(
        world, "broken.yaml:", "not valid YAML", lambda d: (d / "broken.yaml").write_text(text)
    )


@row(
    "desired state",
    "a YAML alias bomb (a billion laughs)",
    "refused at once with the alias's line; nothing expanded",
)
async def row_alias_bomb(world: World) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
        for i in range(9)
    ]
    text = "\n".join(lines) + "\n"
    await tree_refused(
        world,
        "bomb.yaml:2:",
        "YAML aliases are not allowed",
        lambda d: (d / "bomb.yaml").write_text(text),
    )


@row(
    "desired state",
    "a 2 MiB desired file (limit 1 MiB)",
    "refused unread, naming the size and the setting",
)
async def row_huge_desired_file(world: World) -> None:
    text = "# " + "x" * (2 * 1024 * 1024) + "\n"
    await tree_refused(
        world,
        "huge.yaml:",
        "desired_state_max_file_bytes",
        lambda d: (d / "huge.yaml").write_text(text),
    )


@row(
    "desired state", "YAML nested 900 levels deep", "a problem of that file (too deep), not a crash"
)
async def row_deep_yaml(world: World) -> None:
    text = "deep: " + "[" * 900 + "]" * 900 + "\n"
    await tree_refused(
        world,
        "deep.yaml:",
        "nested more than 100 levels deep",
        lambda d: (d / "deep.yaml").write_text(text),
    )


@row(
    "desired state",
    "a declared integer wider than 64 bits",
    "compared exactly; no exception; in sync when equal",
)
async def row_wide_integer_in_yaml(world: World) -> None:
    text = world.stored()
    replace_detail(world, text[:-1] + ',"cursor":123456789012345678901234567890}')
    path = world.desired_file()
    path.write_text(
        path.read_text().replace(
            "  task_detail:\n", "  task_detail:\n    cursor: 123456789012345678901234567890\n", 1
        )
    )
    assert world.status(await world.cycle()).status is Status.IN_SYNC
    path.write_text(
        path.read_text().replace("123456789012345678901234567890", "123456789012345678901234567891")
    )
    target = world.status(await world.cycle())
    assert target.status is Status.IN_SYNC  # drifted, then written back exactly (auto mode)
    assert ',"cursor":123456789012345678901234567891}' in world.stored()


@row("desired state", "x.yaml a symlink to /dev/zero", "refused as a symlink, never read")
async def row_symlink_to_a_device(world: World) -> None:
    await tree_refused(
        world,
        "zero.yaml:",
        "not a regular file (a symlink)",
        lambda d: (d / "zero.yaml").symlink_to("/dev/zero"),
    )


@row(
    "desired state", "x.yaml a FIFO nobody writes to", "refused as a FIFO without blocking the load"
)
async def row_fifo(world: World) -> None:
    await tree_refused(
        world, "pipe.yaml:", "not a regular file (a FIFO)", lambda d: os.mkfifo(d / "pipe.yaml")
    )


@row(
    "desired state",
    "the same task declared in two files",
    "both files named; last good tree in force",
)
async def row_duplicate_resources(world: World) -> None:
    text = world.desired_file().read_text()
    await tree_refused(
        world, "copy.yaml:", "declared more than once", lambda d: (d / "copy.yaml").write_text(text)
    )


@row(
    "desired state",
    "the checkout switched (git-sync) while it was read",
    "read again from the new worktree; its revision used",
)
async def row_checkout_switched_mid_read(world: World) -> None:
    import fdi_drift.desired_state as desired_state
    from fdi_drift.desired_files import open_regular

    home = world.desired.parent
    old, new = home / "worktree-1", home / "worktree-2"
    world.desired.rename(old)
    shutil.copytree(old, new)
    changed = next(new.rglob(f"{NAMES[TARGET]}.yaml"))
    changed.write_text(
        changed.read_text().replace("description: mysql", "description: edited by hand")
    )
    world.desired.symlink_to(old)
    hand_edit(world)
    switched = False

    def switch_then_open(found: Any) -> Any:
        nonlocal switched
        if not switched:
            switched = True
            world.desired.unlink()
            world.desired.symlink_to(new)
            shutil.rmtree(old)
        return open_regular(found)

    mp = pytest.MonkeyPatch()
    mp.setattr(desired_state, "open_regular", switch_then_open)
    try:
        report = await world.cycle()
    finally:
        mp.undo()
    assert switched and world.status(report).status is Status.IN_SYNC  # judged against the new tree
    assert world.sent("PUT") == 0


# The world's desired files, by task (a row may look one up after moving the tree).
NAMES = {TARGET: "fdi_task_v2mysql-tomysql", BYSTANDER: "fdi_task_pzy4m5"}


class Gate:
    """A driver that holds the target's read until the test lets it go."""

    def __init__(self, real: KindDriver) -> None:
        self.kind = real.kind
        self._real = real
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def scopes(self, project_id: str) -> list[Scope]:
        return await self._real.scopes(project_id)

    async def list(self, scope: Scope) -> list[LiveEntry]:
        return await self._real.list(scope)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        if live_id == TARGET:
            self.reading.set()
            await self.release.wait()
        return await self._real.read(scope, live_id)

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        return self._real.request_line(scope, live_id, write)

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        return await self._real.send(scope, live_id, write)


@row(
    "desired state",
    "a new desired revision loaded while a cycle reads",
    "no write from the superseded revision (stale); the next cycle judges the new one",
)
async def row_revision_change_mid_cycle(world: World) -> None:
    hand_edit(world)
    await world.runtime.reload()
    gate = Gate(world.runtime.drivers[FDI_TASK])
    world.runtime.drivers[FDI_TASK] = gate
    cycle = asyncio.create_task(world.runtime.cycle())
    await asyncio.wait_for(gate.reading.wait(), 30)
    path = world.desired_file()  # the new revision adopts the hand edit
    path.write_text(path.read_text().replace("description: mysql", "description: edited by hand"))
    await world.runtime.reload()
    gate.release.set()
    outcome = await cycle
    assert outcome is not None
    world.reports.append(outcome[0])
    (correction,) = outcome[1]
    assert correction.result is ReconcileResult.STALE
    assert "the desired state moved on" in correction.detail
    assert world.sent("PUT") == 0
    assert world.status(await world.cycle()).status is Status.IN_SYNC


# --- the process ---------------------------------------------------------------------------


@row(
    "process",
    "SIGTERM while a correcting PUT is in flight",
    "the PUT finishes and its outcome is audited; exit 0; no unfinished intent",
    slow=True,
)
async def row_sigterm_mid_write(world: World) -> None:
    hand_edit(world)
    world.inject(path=TARGET_PATH, method="PUT", status=None, delay_ms=2000)
    audit = world.runtime.settings.audit_log
    async with world.daemon() as daemon:
        await until("an intent in the audit log", lambda: audit.exists() and audit.read_text())
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 30) == 0
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [e["event"] for e in events] == ["intent", "outcome"]
    assert events[1]["result"] == "applied"
    assert world.status(await world.cycle()).status is Status.IN_SYNC


@row(
    "process",
    "a restart finding an intent without an outcome",
    "started and checking; the unfinished write is logged and exported as a metric",
    slow=True,
)
async def row_restart_with_unfinished_intent(world: World) -> Expect:
    audit = world.runtime.settings.audit_log
    audit.write_text('{"event":"intent","id":"crashed","resource":{"name":"x"}}\n')
    async with world.daemon() as daemon:
        url = daemon.url

        async def metric() -> str:
            async with httpx.AsyncClient() as client:
                ready = await client.get(f"{url}/readyz")
                return (await client.get(f"{url}/metrics")).text if ready.status_code == 200 else ""

        scrape = await until_async("readiness", metric)
        assert "fdi_drift_audit_unfinished_writes 1.0" in scrape
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(daemon.wait(), 30) == 0
    assert "its outcome never recorded" in daemon.log()
    await world.cycle()
    return Expect(unfinished=1)


SOAK_TASKS = 2000
SOAK_CYCLES = 20


@row(
    "process",
    f"a soak: {SOAK_TASKS} tasks, 5% of requests throttled, {SOAK_CYCLES} cycles with edits",
    "every cycle complete, nothing unknown, every edit corrected; memory flat",
    slow=True,
)
async def row_soak(world: World) -> None:
    names = add_soak_tasks(world, SOAK_TASKS - 2)
    world.build(socket=False, retry_attempts=6, cycle_timeout_seconds=300.0)
    world.emulator.random_faults = RandomFaults(0.0, 0.05, seed=7, retry_after=0)
    # The harness keeps nothing per cycle (logs, the emulator's request log, reports), so what
    # grows is the daemon's own memory. Debug logging of every request would dominate the run.
    world.caplog.set_level(logging.WARNING)
    rss: list[int] = []
    for number in range(SOAK_CYCLES):
        world.caplog.clear()
        world.emulator.requests.clear()
        world.reports.clear()
        edited = [names[(number * 7 + k) % len(names)] for k in range(3)]
        for name in edited:
            hand_edit_named(world, name)
        report = await world.cycle()
        assert report.complete, f"cycle {number} did not complete"
        assert len(report.statuses) == SOAK_TASKS
        assert not [s for s in report.statuses if s.status is Status.UNKNOWN]
        fixed = {c.status.key.name for c in world.corrections[-3:]}
        assert fixed == set(edited), (number, fixed, edited)
        gc.collect()
        rss.append(resident_bytes())
    world.emulator.random_faults = RandomFaults(0.0, 0.0, seed=None)
    # Flat: what the last fifteen cycles added is noise, not a leak per cycle.
    assert rss[-1] - rss[4] < 24 * 1024 * 1024, [r // 1024 // 1024 for r in rss]
    world.reports[:] = world.reports[-1:]  # the invariants read the outputs of the last cycle
    world.corrections.clear()


def add_soak_tasks(world: World, count: int) -> list[str]:
    """`count` more tasks live and declared (description only): their names."""
    names = []
    for number in range(count):
        body = seed_002()
        name = f"soak-{number:05d}"
        task_id = f"{number + 1:032x}"
        body["task"] = {
            **body["task"],
            "task_id": task_id,
            "task_name": name,
            "description": "soak",
        }
        world.emulator.store.add_task(PROJECT, INSTANCE, body)
        (world.desired / f"{name}.yaml").write_text(
            "apiVersion: fdi-drift/v1\nkind: FdiTask\n"
            f"metadata: {{name: {name}, project_id: {PROJECT}, instance_id: {INSTANCE},\n"
            f"  id: '{task_id}'}}\n"
            "spec: {task: {description: soak}}\n"
        )
        names.append(name)
    return names


def hand_edit_named(world: World, name: str) -> None:
    tasks = world.emulator.store.tasks(PROJECT, INSTANCE)
    (task,) = [t for t in tasks if t.task["task_name"] == name]
    hand_edit(world, task_id=str(task.task["task_id"]))


def resident_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def until(what: str, probe: Callable[[], object], deadline: float = 30.0) -> object:
    """Poll `probe` (no waiting on the loop in between but a short pause) until truthy."""

    async def wrapped() -> object:
        return probe()

    return await until_async(what, wrapped, deadline)


async def until_async(
    what: str, probe: Callable[[], Awaitable[Any]], deadline: float = 30.0
) -> Any:
    end = time.monotonic() + deadline
    last: object = None
    while time.monotonic() < end:
        try:
            last = await probe()
        except (httpx.HTTPError, OSError) as error:
            last = error
        else:
            if last:
                return last
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}; last saw {last!r}")


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[World]:
    chosen: Row = request.param
    config = chosen.emulator() if chosen.emulator else None
    clock = None
    if chosen.clock_offset:
        offset = chosen.clock_offset

        def clock() -> float:
            return time.time() + offset

    async for made in make_world(tmp_path, caplog, config, clock):
        yield made


@pytest.mark.parametrize(
    "world",
    [pytest.param(r, id=r.id, marks=[pytest.mark.slow] if r.slow else []) for r in ROWS],
    indirect=True,
)
async def test_fault(world: World, request: pytest.FixtureRequest) -> None:
    """The row's own checks, then what holds whatever the fault."""
    chosen: Row = request.node.callspec.params["world"]
    expect = await chosen.run(world)
    await assert_invariants(world, expect or Expect())
