"""`make bench`: what a check costs, beside a naive peer, measured in one run.

1. Per unchanged task: parse + decode + normalize + compare, against a bare `json.loads` of
   the same answer (the target is at most 2x), and against the naive way (json + full nested
   decode + DeepDiff on every task).
2. Per cycle: an in-process emulator with many tasks, a cold cycle (reads everything) and a warm
   one (only the list; last_modified_time says nothing changed).
Figures only; nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from deepdiff import DeepDiff
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.desired_state import parse_resource_text
from fdi_drift.drift.differ import Match
from fdi_drift.drift.document import decode
from fdi_drift.drift.model import Status
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.engine import Engine
from fdi_drift.kinds.contract import LiveEntry
from fdi_drift.kinds.fdi_common import decode_task, live_task
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.kinds.fdi_task import WRITABLE_TASK_FIELDS, FdiTaskSpec
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from fdi_drift.settings import settings_from_mapping
from fdi_drift.yaml_documents import dump_document

SAMPLES = Path(__file__).parents[2] / "daemon/fdi_drift/emulator/samples"
PROJECT = "c53626012ba84727b938ca8bf03108ef"
INSTANCE = "fae7ff6c-8e07-4cf8-9e67-589cab2f017c"
SPEC = FdiTaskSpec()
T = TypeVar("T")


def big_answer() -> bytes:
    """A realistic ~29 KB GET answer: the seed 000 task with a wide target table."""
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


def write_desired_tree(template: dict[str, Any], tasks: int) -> Path:
    """One desired file per emulated task, all alike but for the name."""
    root = Path(tempfile.mkdtemp(prefix="fdi-drift-bench-"))
    spec_text = None
    for index in range(tasks):
        if spec_text is None:
            resource = desired_for(json.dumps(template).encode())
            spec_text = dump_document({"spec": resource.document})
        name = f"task-{index:05d}"
        text = (
            f"apiVersion: fdi-drift/v1\nkind: FdiTask\nmetadata:\n  name: {name}\n"
            f"  project_id: {PROJECT}\n  instance_id: {INSTANCE}\n"
        ) + spec_text.replace("task_name: nodes-api-to-oracle", f"task_name: {name}")
        (root / f"{name}.yaml").write_text(text)
    return root


async def bench_cycle(tasks: int) -> None:
    emulator = Emulator(EmulatorConfig(tokens=frozenset({"bench"})))
    template = json.loads(big_answer())
    for index in range(tasks):
        body = copy.deepcopy(template)
        body["task"]["task_id"] = f"{index:032x}"
        body["task"]["task_name"] = f"task-{index:05d}"
        emulator.store.add_task(PROJECT, INSTANCE, body)
    root = write_desired_tree(template, tasks)
    config = {
        "desired_state": str(root),
        "endpoints": {"fdi": "http://bench", "drs": "http://bench", "iam": "http://bench"},
        "auth": {"token_env": "X"},
        "rate_limit_per_second": 1e9,
        "concurrency": 64,
    }
    settings = settings_from_mapping(config, base_dir=root, environ={"X": "bench"})
    runtime = Runtime(
        settings,
        transport=in_process(emulator),
        metrics=DaemonMetrics(CollectorRegistry(), version="bench"),
    )
    started = time.perf_counter()
    await runtime.reload()
    loaded = time.perf_counter() - started
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        report = await runtime.check()
        timings.append(time.perf_counter() - started)
        assert report is not None and report.count(report.statuses[0].status) == tasks
    await runtime.aclose()
    shutil.rmtree(root)
    size = len(json.dumps(template)) / 1024
    cold, warm = timings
    print(f"one cycle over {tasks} tasks of {size:.0f} KB (in-process emulator, HTTP included):")
    print(f"  desired-state load                      {loaded:8.2f} s")
    print(
        f"  cold cycle (every task read)            {cold:8.2f} s"
        f" = {cold / tasks * 1e3:.2f} ms each"
    )
    print(f"  warm cycle (list only, nothing new)     {warm:8.2f} s = {cold / warm:.0f}x faster")


async def main() -> None:
    await bench_document()
    await bench_cycle(1000)


if __name__ == "__main__":
    asyncio.run(main())
