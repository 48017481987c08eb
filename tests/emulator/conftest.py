"""Shared fixtures: an emulator seeded with the bundled samples, a fake clock, HTTP clients."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import fdi_drift.emulator
from fdi_drift.emulator.app import Emulator, EmulatorConfig, IamUser, KeyPair

SAMPLES = pathlib.Path(fdi_drift.emulator.__file__).parent / "samples"
PROJECT = "c53626012ba84727b938ca8bf03108ef"
INSTANCE = "fae7ff6c-8e07-4cf8-9e67-589cab2f017c"
BASE = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}"
TOKEN = "static-test-token"
USER = IamUser(domain="acme", name="ops", password="s3cret-pass")
KEY = KeyPair(access_key="EMULATORAK0001", secret_key="emulator-secret-key-0001")
OTHER_KEY = KeyPair(access_key="EMULATORAK0002", secret_key="emulator-secret-key-0002")
ORDERS = "9496207a5d6b44b486d79005b5815bd4"
NODES = "15366328208d4d77b76532fe9f4006a6"
CUSTOMERS = "f3cebc609d7068182f4320358771bc89"
PAYMENTS = "d70300217ca64f21dbce443ab5fb2848"
COMPOSITE = "5c0e7d2a9b3f4e61a8d47f1b2c3e9a60"
JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"
JOBS = f"/v5/{PROJECT}/jobs"
START = 1_700_000_000.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sample_path(task_id: str) -> pathlib.Path:
    """The bundled sample file of a task."""
    return SAMPLES / PROJECT / INSTANCE / f"{task_id}.json"


def sample_body(task_id: str) -> dict[str, Any]:
    """The parsed bundled sample of a task: a GET response body."""
    body: dict[str, Any] = json.loads(sample_path(task_id).read_text(encoding="utf-8"))
    return body


def composite_path() -> pathlib.Path:
    """The bundled composite-task sample file."""
    return SAMPLES / PROJECT / INSTANCE / "multi-tasks" / f"{COMPOSITE}.json"


def composite_body() -> dict[str, Any]:
    """The parsed bundled composite-task sample: its GET answer."""
    body: dict[str, Any] = json.loads(composite_path().read_text(encoding="utf-8"))
    return body


def job_path() -> pathlib.Path:
    """The bundled DRS job sample file."""
    return SAMPLES / "drs" / PROJECT / f"{JOB}.json"


def job_body() -> dict[str, Any]:
    """The parsed bundled DRS job sample: a detail answer without the volatile fields."""
    body: dict[str, Any] = json.loads(job_path().read_text(encoding="utf-8"))
    return body


def update_body(task_id: str = NODES, **task_fields: Any) -> dict[str, Any]:
    """A valid update body for a sample task, with `task` fields replaced (None removes one)."""
    sample = sample_body(task_id)
    task = {
        key: sample["task"][key]
        for key in (
            "task_name",
            "source_datasource_id",
            "target_datasource_id",
            "description",
            "task_tag",
        )
        if key in sample["task"]
    }
    task["task_type"] = sample["task"]["task_type"].upper()
    for key, value in task_fields.items():
        if value is None:
            task.pop(key, None)
        else:
            task[key] = value
    return {"task": task, "task_detail": sample["task_detail"]}


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at a fixed time."""
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    """An emulator seeded with the samples, one static token, one IAM user and two key pairs."""
    config = EmulatorConfig(
        seed_dir=SAMPLES,
        tokens=frozenset({TOKEN}),
        users=(USER,),
        key_pairs=(KEY, OTHER_KEY),
    )
    return Emulator(config, clock=clock)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the emulator in process, sending the static token."""
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator.test", headers={"X-Auth-Token": TOKEN}
    ) as http:
        yield http


@pytest.fixture
async def anonymous(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the emulator in process, sending no token."""
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as http:
        yield http


def login_body(
    *,
    domain: str = USER.domain,
    name: str = USER.name,
    password: str = USER.password,
    project_id: str = PROJECT,
) -> dict[str, Any]:
    """The password-method body of API_NOTES.md."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": name, "password": password, "domain": {"name": domain}}
                },
            },
            "scope": {"project": {"id": project_id}},
        }
    }
