"""Fixtures for the conformance suite: an emulator process, and official SDK clients of it.

Each test module gets one `fdi-drift emulator` process on 127.0.0.1 (a free port), seeded with
a copy of the bundled samples (FDI tasks and DRS jobs), accepting one AK/SK key pair and one
IAM user. `sdk_client(ClientClass)` builds any official SDK client (RomaClient, DrsClient,
IamClient, ...) pointed at it, signing with that key pair (`BasicCredentials(ak, sk,
project_id)`) over plain http. Tests that use the process are marked slow.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig

from tests.emulator.conftest import PROJECT, SAMPLES
from tests.processes import CLI, DEADLINE

ACCESS_KEY = "CONFORMANCEAK0001"
SECRET_KEY = "conformance-secret-key-0001"
DOMAIN, USER_NAME, PASSWORD = "acme", "ops", "conformance-pass"
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class EmulatorProcess:
    """A running emulator process and what a client needs to reach it."""

    url: str
    access_key: str
    secret_key: str
    project_id: str
    seed_dir: Path

    def requests(self) -> list[dict[str, Any]]:
        """The emulator's request log (`/_emulator/requests`), oldest first."""
        answer = httpx.get(f"{self.url}/_emulator/requests", timeout=TIMEOUT_SECONDS)
        answer.raise_for_status()
        log: list[dict[str, Any]] = answer.json()
        return log

    def last_request(self) -> dict[str, Any]:
        """The latest request the emulator answered."""
        return self.requests()[-1]


SdkClientFactory = Callable[..., Any]


@pytest.fixture(scope="module")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """`fdi-drift emulator` for the module, seeded with a copy of the bundled samples."""
    seed_dir = tmp_path_factory.mktemp("seeds")
    shutil.copytree(SAMPLES, seed_dir, dirs_exist_ok=True)
    process = subprocess.Popen(
        [
            *CLI,
            "emulator",
            "--port",
            "0",
            "--seed",
            str(seed_dir),
            "--key-pair",
            f"{ACCESS_KEY}:{SECRET_KEY}",
            "--user",
            f"{DOMAIN}/{USER_NAME}:{PASSWORD}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "emulator listening on" not in line:
        process.kill()
        _, errors = process.communicate(timeout=DEADLINE)
        pytest.fail(f"the emulator did not start: {line}{errors}")
    try:
        yield EmulatorProcess(
            url=line.rsplit(" ", 1)[1].strip(),
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            project_id=PROJECT,
            seed_dir=seed_dir,
        )
    finally:
        process.terminate()
        process.communicate(timeout=DEADLINE)


@pytest.fixture(scope="module")
def sdk_client(emulator_process: EmulatorProcess) -> SdkClientFactory:
    """Build an official SDK client of the emulator: `sdk_client(RomaClient)`.

    Keywords `secret_key` and `project_id` replace the emulator's own, e.g. to sign wrongly.
    """

    def build(
        client_class: type, *, secret_key: str | None = None, project_id: str | None = None
    ) -> Any:
        config = HttpConfig.get_default_config()
        config.ignore_ssl_verification = True  # plain http: nothing to verify
        config.timeout = (TIMEOUT_SECONDS, TIMEOUT_SECONDS)
        credentials = BasicCredentials(
            emulator_process.access_key,
            secret_key or emulator_process.secret_key,
            project_id or emulator_process.project_id,
        )
        return (
            client_class.new_builder()
            .with_http_config(config)
            .with_credentials(credentials)
            .with_endpoints([emulator_process.url])
            .build()
        )

    return build


def assert_accepted(emulator: EmulatorProcess, method: str, path_end: str) -> None:
    """The latest request was the signed call expected, and it was not refused."""
    last = emulator.last_request()
    assert (last["method"], last["path"].endswith(path_end)) == (method, True), last
    assert 200 <= last["status"] < 300, last


def assert_refused(
    caught: pytest.ExceptionInfo[ClientRequestException],
    emulator: EmulatorProcess,
    status: int,
    error_code: str | int,
) -> None:
    """The SDK raised a ClientRequestException with every field filled from the answer, its
    request_id the one the emulator logged for the request."""
    error = caught.value
    assert (error.status_code, error.error_code) == (status, error_code)
    assert error.error_msg
    assert error.request_id
    assert error.request_id == emulator.last_request()["request_id"]


def assert_wrongly_signed_refused(
    sdk_client: SdkClientFactory,
    emulator: EmulatorProcess,
    client_class: type,
    call: Callable[[Any], object],
) -> None:
    """`call` made with a `client_class` that signs with a wrong secret key raises the
    gateway's 401 APIG.0301, every field filled."""
    wrongly_signed = sdk_client(client_class, secret_key="not-the-secret-key")
    with pytest.raises(ClientRequestException) as caught:
        call(wrongly_signed)
    assert_refused(caught, emulator, 401, "APIG.0301")
    assert "verify aksk signature fail" in caught.value.error_msg


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the emulator process are slow: `make test-fast` leaves them out."""
    for item in items:
        if "emulator_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
