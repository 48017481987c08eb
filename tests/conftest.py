"""Shared fixtures: the seed documents, an in-process emulator and runtimes wired to it."""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.service import Runtime
from fdi_drift.settings import Settings, settings_from_mapping

# Fixtures that start the emulator (and name its configuration) as real processes.
pytest_plugins = ["tests.processes"]

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = "c53626012ba84727b938ca8bf03108ef"
INSTANCE = "fae7ff6c-8e07-4cf8-9e67-589cab2f017c"
TOKEN = "test-token-4b1d"
BASE_URL = "http://emulator.test"
# Task ids of the two seed-derived tasks every emulator fixture starts with.
MYSQL_TASK = "9496207a5d6b44b486d79005b5815bd4"
API_TASK = "5f0c2a3e9d1b4c8fa7e6d5c4b3a29180"


def seed_002() -> dict[str, Any]:
    """The example GET answer of seed 002."""
    loaded: dict[str, Any] = json.loads((FIXTURES / "seed_002_get_response.json").read_text())
    return loaded


def seed_000_as_get() -> dict[str, Any]:
    """Seed 000's example PUT body as the GET answer of a task that holds it."""
    body = json.loads((FIXTURES / "seed_000_put_body.json").read_text())
    task = {**body["task"], "task_id": API_TASK, "task_type": "timing", "status": "stop"}
    return {"task": task, "task_detail": body["task_detail"]}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start processes (an emulator or daemon process) are slow: `make test-fast`."""
    for item in items:
        if _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


_PROCESS_FIXTURES = frozenset({"emulator_url"})  # tests/processes.py


def require_binary(name: str) -> str:
    """Path of a real tool; missing is a skip locally and a failure in CI."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (Debian packages prometheus / prometheus-alertmanager)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def emulator() -> Emulator:
    """An emulator holding the two seed tasks, accepting TOKEN."""
    emulated = Emulator(EmulatorConfig(tokens=frozenset({TOKEN})))
    emulated.store.add_task(PROJECT, INSTANCE, seed_002())
    emulated.store.add_task(PROJECT, INSTANCE, seed_000_as_get())
    return emulated


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the emulator, for changing tasks as a person would."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url=f"{BASE_URL}/v2/{PROJECT}/fdi/instances/{INSTANCE}",
        headers={"X-Auth-Token": TOKEN},
    ) as client:
        yield client


def settings_for(
    desired: Path,
    base_url: str = BASE_URL,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings pointing every service at the emulator with fast retries, parsed as a file is.

    `overrides` are configuration keys with their YAML values (`reconcile={"mode": "auto"}`,
    `request_timeout_seconds=0.5`); paths may be Path objects. `environ` replaces the
    environment, which otherwise holds only the token.
    """
    raw: dict[str, Any] = {
        "desired_state": str(desired),
        "endpoints": {"fdi": base_url, "drs": base_url, "iam": base_url, "cts": base_url},
        "auth": {"token_env": "FDI_DRIFT_TOKEN"},
        "retry_attempts": 2,
        "retry_base_delay_seconds": 0.001,
        "request_timeout_seconds": 2.0,
        "rate_limit_per_second": 1000.0,
        "audit_log": str(desired.parent / "fdi-drift-audit.jsonl"),  # never the working directory
    }
    raw.update({key: _as_yaml(value) for key, value in overrides.items()})
    env = {"FDI_DRIFT_TOKEN": TOKEN} if environ is None else dict(environ)
    return settings_from_mapping(raw, base_dir=desired.parent, environ=env)


def _as_yaml(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _as_yaml(item) for key, item in value.items()}
    return value


@pytest.fixture
def desired_dir(tmp_path: Path) -> Path:
    path = tmp_path / "desired"
    path.mkdir()
    return path


@pytest.fixture
def make_runtime(emulator: Emulator, desired_dir: Path) -> Iterator[Callable[..., Runtime]]:
    """Builds runtimes on the in-process emulator, each with a fresh registry."""

    def build(**overrides: Any) -> Runtime:
        return Runtime(
            settings_for(desired_dir, **overrides),
            transport=in_process(emulator),
            metrics=DaemonMetrics(CollectorRegistry(), version="test"),
        )

    yield build


async def export_instance(runtime: Runtime, desired: Path) -> None:
    """Desired state for every live FDI task of the test instance, as `fdi-drift export` writes."""
    await export_resources(
        runtime.drivers, catalog.specs(), [(FDI_TASK, Scope(PROJECT, INSTANCE))], desired
    )


async def put_task(
    api: httpx.AsyncClient, task_id: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    """GET a task, let `edit` change the decoded task_detail and task, PUT it back."""
    answer = (await api.get(f"/tasks/{task_id}")).json()
    task = answer["task"]
    document = {"task": task, "task_detail": json.loads(answer["task_detail"])}
    edited = copy.deepcopy(document)
    edit(edited)
    body = {
        "task": {
            key: edited["task"][key]
            for key in (
                "task_name",
                "task_type",
                "source_datasource_id",
                "target_datasource_id",
                "description",
                "task_tag",
            )
            if key in edited["task"]
        },
        "task_detail": json.dumps(edited["task_detail"], separators=(",", ":"), ensure_ascii=False),
    }
    body["task"]["task_type"] = body["task"]["task_type"].upper()
    response = await api.put(f"/tasks/{task_id}", json=body)
    assert response.status_code == 200, response.text
