"""The per-task section of `make bench`: what judging one task costs, in process.

Per unchanged task: parse + decode + normalize + compare, against a bare `json.loads` of the
same answer (the target is at most 2x), and against the naive way (json + full nested decode +
DeepDiff on every task). `big_answer()` is also the answer every task of the fleet bench holds.
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from deepdiff import DeepDiff

from fdi_drift.desired_state import parse_resource_text
from fdi_drift.drift.differ import Match
from fdi_drift.drift.document import decode
from fdi_drift.drift.model import Status
from fdi_drift.engine import Engine
from fdi_drift.kinds.contract import LiveEntry
from fdi_drift.kinds.fdi_common import decode_task, live_task
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.kinds.fdi_task import WRITABLE_TASK_FIELDS, FdiTaskSpec
from fdi_drift.yaml_documents import dump_document

SAMPLES = Path(__file__).parents[2] / "daemon/fdi_drift/emulator/samples"
PROJECT = "c53626012ba84727b938ca8bf03108ef"
INSTANCE = "fae7ff6c-8e07-4cf8-9e67-589cab2f017c"
SPEC = FdiTaskSpec()
T = TypeVar("T")


def big_answer() -> bytes:
    """A realistic ~27 KB GET answer: the seed 000 task with a wide target table."""
    path = next(SAMPLES.rglob("15366328208d4d77b76532fe9f4006a6.json"))
    answer = json.loads(path.read_text())
    detail = json.loads(answer["task_detail"])
    columns = detail["targetSelectedDatasource"]["targetSelectedColumnList"]
    wide = []
    for round_ in range(5):
        for column in columns:
            wide.append({**column, "field_name": f"{column['field_name']}_{round_}"})
    detail["targetSelectedDatasource"]["targetSelectedColumnList"] = wide
    detail["mappingInput"]["dataSource"] = [
        {"sourceKey": f"k{i}", "targetKey": c["field_name"]} for i, c in enumerate(wide)
    ]
    answer["task_detail"] = json.dumps(detail, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(answer, ensure_ascii=False).encode()


def per_call(function: Callable[[], object], *, seconds: float = 1.0) -> float:
    """Median seconds per call over several timed batches."""
    function()
    batch, elapsed = 1, 0.0
    while elapsed < 0.05:
        batch *= 2
        started = time.perf_counter()
        for _ in range(batch):
            function()
        elapsed = time.perf_counter() - started
    rounds = max(5, int(seconds / elapsed))
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(batch):
            function()
        timings.append((time.perf_counter() - started) / batch)
    return statistics.median(timings)


def desired_for(answer: bytes) -> Any:
    document = decode_task(orjson.loads(answer), what="bench")
    spec = SPEC.export_spec(document.value)
    text = dump_document(
        {
            "apiVersion": "fdi-drift/v1",
            "kind": "FdiTask",
            "metadata": {
                "name": "nodes-api-to-oracle",
                "project_id": PROJECT,
                "instance_id": INSTANCE,
            },
            "spec": spec,
        }
    )
    resource, problems = parse_resource_text("bench.yaml", text)
    assert resource is not None, problems
    return resource


async def per_await(function: Callable[[], Awaitable[object]], *, seconds: float = 1.0) -> float:
    """Median seconds per awaited call over several timed batches."""
    await function()
    batch, elapsed = 1, 0.0
    while elapsed < 0.05:
        batch *= 2
        started = time.perf_counter()
        for _ in range(batch):
            await function()
        elapsed = time.perf_counter() - started
    timings = []
    for _ in range(max(5, int(seconds / elapsed))):
        started = time.perf_counter()
        for _ in range(batch):
            await function()
        timings.append((time.perf_counter() - started) / batch)
    return statistics.median(timings)


async def bench_document() -> None:
    """Print what judging one task costs, beside json.loads and the naive way."""
    answer = big_answer()
    resource = desired_for(answer)
    engine = Engine({}, {FDI_TASK: SPEC}, offload=_inline)
    entry = LiveEntry(
        id="15366328208d4d77b76532fe9f4006a6", name="nodes-api-to-oracle", version="1"
    )
    # The cursor moves while a task runs: the same task, a different answer, still in sync.
    moved = [answer.replace(b"1606807799782", str(1606807799782 + i).encode()) for i in range(64)]
    turn = iter(range(1 << 62))
    naive_desired = copy.deepcopy(resource.document)

    async def ours(body: bytes = answer) -> Status:
        live = live_task(orjson.loads(body), WRITABLE_TASK_FIELDS, what="bench")
        return (await engine.assess(FDI_TASK, resource, entry, live)).status

    async def cursor_moved() -> Status:
        return await ours(moved[next(turn) % len(moved)])

    def naive() -> bool:
        raw = json.loads(answer)
        raw["task_detail"] = decode(json.loads(raw["task_detail"]), what="t").value
        raw["task"]["task_type"] = raw["task"]["task_type"].upper()
        task = {k: raw["task"].get(k) for k in naive_desired["task"]}
        return not DeepDiff(naive_desired, {"task": task, "task_detail": raw["task_detail"]})

    assert await ours() is Status.IN_SYNC and await cursor_moved() is Status.IN_SYNC and naive()
    baseline = per_call(lambda: json.loads(answer))
    unchanged = await per_await(ours)
    full = await per_await(cursor_moved)
    slow = per_call(naive, seconds=2.0)
    print(f"per task read, {len(answer) / 1024:.1f} KB answer (the engine's own code path):")
    print(f"  json.loads alone                        {baseline * 1e3:8.3f} ms")
    print(
        f"  fdi-drift, unchanged task               {unchanged * 1e3:8.3f} ms"
        f" = {unchanged / baseline:.2f}x json.loads (target <= 2x)"
    )
    print(
        f"  fdi-drift, cursor moved (full compare)  {full * 1e3:8.3f} ms"
        f" = {full / baseline:.2f}x json.loads"
    )
    print(
        f"  naive: json + decode + DeepDiff         {slow * 1e3:8.3f} ms"
        f" = {slow / unchanged:.0f}x unchanged, {slow / full:.0f}x full compare"
    )


async def _inline(function: Callable[[Match], T], argument: Match) -> T:
    return function(argument)
