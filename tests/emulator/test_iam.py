"""IAM password login and the token check in front of the FDI routes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from tests.emulator.conftest import BASE, ORDERS, PROJECT, START, USER, FakeClock, login_body

LOGIN = "/v3/auth/tokens"
TASK = f"{BASE}/tasks/{ORDERS}"


async def login(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """Log in without the static token."""
    return await client.post(LOGIN, json=login_body(**fields), headers={"X-Auth-Token": ""})


async def test_login_answers_201_with_the_token_header(client: httpx.AsyncClient) -> None:
    """A valid login answers 201, the token in X-Subject-Token and the documented body."""
    answer = await login(client)
    assert answer.status_code == 201
    assert answer.headers["x-subject-token"]
    token = answer.json()["token"]
    account = token["user"]["domain"]
    assert token == {
        "expires_at": "2023-11-15T22:13:20.000000Z",
        "issued_at": "2023-11-14T22:13:20.000000Z",
        "methods": ["password"],
        "project": {"id": PROJECT, "domain": account},
        "user": {
            "id": token["user"]["id"],
            "name": USER.name,
            "domain": {"id": account["id"], "name": USER.domain},
            "password_expires_at": "",
        },
    }
    assert re.fullmatch("[0-9a-f]{32}", token["user"]["id"])
    assert re.fullmatch("[0-9a-f]{32}", account["id"])
    assert token["user"]["id"] != account["id"]


async def test_login_ids_are_the_same_every_time(client: httpx.AsyncClient) -> None:
    """The invented user and domain ids do not change from one login to the next."""
    first, second = [(await login(client)).json()["token"]["user"] for _ in range(2)]
    assert first == second


async def test_expiry_follows_the_configured_lifetime(clock: FakeClock) -> None:
    """expires_at is the clock plus token_ttl_seconds, in UTC with microseconds and Z."""
    clock.advance(0.25)
    emulator = Emulator(EmulatorConfig(users=(USER,), token_ttl_seconds=90.5), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        token = (await http.post(LOGIN, json=login_body())).json()["token"]
    expires = dt.datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert expires.replace(tzinfo=dt.UTC).timestamp() == pytest.approx(START + 0.25 + 90.5)
    assert token["issued_at"].endswith(".250000Z")


async def test_issued_token_reads_its_project(client: httpx.AsyncClient) -> None:
    """The issued token is accepted as X-Auth-Token for the project it is scoped to."""
    token = (await login(client)).headers["x-subject-token"]
    answer = await client.get(TASK, headers={"X-Auth-Token": token})
    assert answer.status_code == 200


async def test_issued_token_expires_by_the_clock(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Once the clock passes expires_at the token answers 401 APIG.1002."""
    token = (await login(client)).headers["x-subject-token"]
    clock.advance(86400 - 1)
    assert (await client.get(TASK, headers={"X-Auth-Token": token})).status_code == 200
    clock.advance(1)
    answer = await client.get(TASK, headers={"X-Auth-Token": token})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "APIG.1002"


async def test_token_for_another_project_answers_403(client: httpx.AsyncClient) -> None:
    """A token scoped to one project cannot call another project's API."""
    token = (await login(client, project_id="another-project")).headers["x-subject-token"]
    answer = await client.get(TASK, headers={"X-Auth-Token": token})
    assert answer.status_code == 403
    assert answer.json()["error_code"] == "APIG.1005"


@pytest.mark.parametrize(
    "fields",
    [
        {"password": "wrong"},
        {"name": "intruder"},
        {"domain": "other-domain"},
    ],
)
async def test_wrong_credentials_answer_401(
    client: httpx.AsyncClient, fields: dict[str, str]
) -> None:
    """A wrong password, user or domain answers 401 with IAM's error body and no token."""
    answer = await login(client, **fields)
    assert answer.status_code == 401
    assert "x-subject-token" not in answer.headers
    error = answer.json()["error"]
    assert (error["code"], error["title"]) == (401, "Unauthorized")
    assert error["message"]


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    body = login_body()
    container: Any = body
    for key in path[:-1]:
        container = container[key]
    del container[path[-1]]
    return body


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        _without(("auth", "scope")),
        _without(("auth", "identity", "methods")),
        _without(("auth", "identity", "password", "user", "domain")),
        _without(("auth", "identity", "password", "user", "password")),
        login_body(project_id=""),
        login_body(project_id="p" * 65),
    ],
)
async def test_malformed_login_answers_400(
    client: httpx.AsyncClient, content: bytes | dict[str, Any]
) -> None:
    """A login body that is not the documented shape answers 400."""
    if isinstance(content, bytes):
        answer = await client.post(LOGIN, content=content)
    else:
        answer = await client.post(LOGIN, json=content)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 400


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
async def test_missing_or_wrong_token_answers_401(emulator: Emulator, token: str | None) -> None:
    """Without a known token every FDI route answers 401 with the gateway's error body."""
    headers = {} if token is None else {"X-Auth-Token": token}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        for method, path in (("GET", TASK), ("GET", f"{BASE}/tasks"), ("PUT", TASK)):
            answer = await http.request(method, path, headers=headers, json={})
            assert answer.status_code == 401
            body = answer.json()
            assert body["error_code"] == "APIG.1002"
            assert 2 <= len(body["error_msg"]) <= 512


async def test_static_tokens_work_for_every_project(client: httpx.AsyncClient) -> None:
    """A static token from the configuration is accepted for any project."""
    answer = await client.get("/v2/any-project/fdi/instances/any/tasks")
    assert answer.status_code == 200


def test_user_repr_hides_the_password() -> None:
    """Printing an IamUser never shows its password."""
    assert USER.password not in repr(USER)
