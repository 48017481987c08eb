"""The request log stays safe to print: no tokens, no passwords."""

from __future__ import annotations

import json

import httpx

from fdi_drift.emulator.app import Emulator
from fdi_drift.emulator.recording import MASK, REDACTED, safe_body
from tests.emulator.conftest import BASE, NODES, TOKEN, USER, update_body
from tests.emulator.test_iam import LOGIN, login_body


def test_password_values_are_masked_at_any_depth() -> None:
    """Every scalar under a key containing `password` is masked; the rest stays."""
    body = json.dumps(
        {"user": {"name": "ops", "password": "p1", "db": [{"DB_Password": "p2"}]}}
    ).encode()
    masked = json.loads(safe_body(body))
    assert masked == {"user": {"name": "ops", "password": MASK, "db": [{"DB_Password": MASK}]}}


def test_bodies_without_password_keys_are_kept_byte_for_byte() -> None:
    """A body without password keys is recorded exactly, even if a string mentions one."""
    body = b'{"task_detail": "{\\"field_name\\":\\"ROOT_PASSWORD\\"}",  "x": 1}'
    assert safe_body(body) == body
    assert safe_body(b"plain text") == b"plain text"


def test_unparseable_body_mentioning_a_password_is_redacted() -> None:
    """A body that cannot be parsed but mentions a password is not recorded at all."""
    assert safe_body(b'{"password": "hunter2"') == REDACTED


async def test_log_after_login_and_calls_holds_no_secret(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """After a login and authenticated calls, the printed log shows no token or password."""
    token = (await client.post(LOGIN, json=login_body())).headers["x-subject-token"]
    await client.get(f"{BASE}/tasks", headers={"X-Auth-Token": token})
    await client.put(f"{BASE}/tasks/{NODES}", json=update_body(), headers={"Authorization": "x"})
    printed = repr(emulator.requests)
    for secret in (TOKEN, token, USER.password):
        assert secret not in printed
    assert [r.status for r in emulator.requests] == [201, 200, 200]
    assert USER.name in emulator.requests[0].body.decode()


async def test_update_body_is_recorded_verbatim(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """The log keeps an update body exactly as sent, so tests can check what a client wrote."""
    content = json.dumps(update_body(), indent=1).encode()
    await client.put(f"{BASE}/tasks/{NODES}", content=content)
    assert emulator.requests[-1].body == content
