"""`make bench`: what a check costs, beside a naive peer, measured in one run.

1. Per unchanged task (per_task.py): parse + decode + normalize + compare, against a bare
   `json.loads` of the same answer (the target is at most 2x), and against the naive way.
2. Per cycle: an in-process emulator with many tasks, a cold cycle (reads everything) and a warm
   one (only the list; last_modified_time says nothing changed).
Figures only; nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from fdi_drift.settings import settings_from_mapping
from fdi_drift.yaml_documents import dump_document
from tests.bench.per_task import INSTANCE, PROJECT, bench_document, big_answer, desired_for


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
