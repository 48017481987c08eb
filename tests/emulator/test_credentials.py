"""Signed requests in front of the cloud API routes: acceptance, each refusal, skew and lockout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.credentials import KeyPair, KeyPairAuthority
from fdi_drift.emulator.signing import parse_sdk_date
from tests.emulator.conftest import (
    BASE,
    INSTANCE,
    JOB,
    JOBS,
    KEY,
    NODES,
    ORDERS,
    OTHER_KEY,
    PROJECT,
    TOKEN,
    FakeClock,
    sample_body,
    update_body,
)
from tests.emulator.signer import DEFAULT_SIGNED, sdk_date, sign

TASK = f"{BASE}/tasks/{ORDERS}"
WITH_PROJECT = ("host", "x-project-id", "x-sdk-date")
Tamper = Callable[[httpx.Request], httpx.Request]


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    at: float,
    key: KeyPair = KEY,
    signed: Sequence[str] = DEFAULT_SIGNED,
    tamper: Tamper | None = None,
    **options: Any,
) -> httpx.Response:
    """Sign a request with `key` at time `at`, optionally alter it afterwards, and send it."""
    request = client.build_request(method, path, **options)
    request.headers["X-Project-Id"] = PROJECT
    sign(request, key.access_key, key.secret_key, at=at, signed=signed)
    if tamper is not None:
        request = tamper(request)
    return await client.send(request)


def refused(answer: httpx.Response) -> str:
    """Assert the gateway's 401 APIG.0301, whatever the reason; return the message."""
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert set(body) == {"error_code", "error_msg", "request_id"}
    assert body["request_id"] == answer.headers["x-request-id"]
    assert body["error_code"] == "APIG.0301"
    assert body["error_msg"].startswith("Incorrect IAM authentication information: ")
    return str(body["error_msg"])


def rebuilt(request: httpx.Request, **changes: Any) -> httpx.Request:
    """The same request, headers unchanged, with another URL or body."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(
        changes.get("method", request.method),
        changes.get("url", request.url),
        headers=headers,
        content=changes.get("content", request.content),
    )


async def test_signed_get_without_query_reads_a_task(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A correctly signed GET, without any token, reads the task."""
    answer = await send(anonymous, "GET", TASK, at=clock.now)
    assert answer.status_code == 200
    assert answer.json() == sample_body(ORDERS)


async def test_signed_get_with_a_query_lists(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A signed GET with a query string lists tasks, the query signed in sorted order."""
    params = {"offset": "0", "limit": "2"}
    answer = await send(anonymous, "GET", f"{BASE}/tasks", at=clock.now, params=params)
    assert answer.status_code == 200
    assert answer.json()["size"] == 2


async def test_signed_put_with_a_json_body_updates(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A signed PUT whose body hash is in the signature changes the task."""
    body = update_body(NODES, description="changed by a signed request")
    answer = await send(
        anonymous, "PUT", f"{BASE}/tasks/{NODES}", at=clock.now, json=body, signed=WITH_PROJECT
    )
    assert answer.status_code == 200
    read = await send(anonymous, "GET", f"{BASE}/tasks/{NODES}", at=clock.now)
    assert read.json()["task"]["description"] == "changed by a signed request"


async def test_signed_drs_route(anonymous: httpx.AsyncClient, clock: FakeClock) -> None:
    """DRS routes accept signed requests too."""
    answer = await send(anonymous, "GET", f"{JOBS}/{JOB}", at=clock.now, params={"type": "detail"})
    assert answer.status_code == 200


QUERY = "name=%C3%A9&name=a%20b&task_tag=%2B&x=%2F&y=~&x=%26%3D"


async def test_unicode_reserved_and_repeated_query_values(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Spaces, non-ASCII, `+`, `/`, `~` and repeated keys in the query verify."""
    answer = await send(anonymous, "GET", f"{BASE}/tasks?{QUERY}", at=clock.now)
    assert answer.status_code == 200
    params = [("name", "é"), ("task_tag", "+"), ("x", "/"), ("y", "~"), ("x", "&=")]
    answer = await send(anonymous, "GET", f"{BASE}/tasks", at=clock.now, params=params)
    assert answer.status_code == 200


def respelt(query: str) -> Tamper:
    """Send the signed request with its query string written as `query`."""
    return lambda request: rebuilt(request, url=request.url.copy_with(query=query.encode()))


async def test_query_spelt_differently_after_signing_still_verifies(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """The emulator decodes the query before encoding it again, so order and spelling are free."""
    spelt = respelt("y=%7e&x=%2f&x=%26%3d&task_tag=%2b&name=a%20b&name=%c3%a9")
    answer = await send(anonymous, "GET", f"{BASE}/tasks?{QUERY}", at=clock.now, tamper=spelt)
    assert answer.status_code == 200


async def test_a_raw_plus_in_the_query_is_a_plus_sign(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A space signed as %20 but sent as `+` (form encoding) does not verify, with a hint why."""
    plus = respelt("name=a+b")
    answer = await send(anonymous, "GET", f"{BASE}/tasks?name=a%20b", at=clock.now, tamper=plus)
    assert "send a space as %20" in refused(answer)


async def test_encoded_path_characters_verify(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A path segment with a space and non-ASCII verifies, and reaches the route (404 task)."""
    answer = await send(anonymous, "GET", f"{BASE}/tasks/a b-é~", at=clock.now)
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "FDI.3021"


@pytest.mark.parametrize(
    "authorization",
    [
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=EMULATORAK0001",
        "SDK-HMAC-SHA256 Access=EMULATORAK0001, SignedHeaders=host;x-sdk-date, Signature=zz",
        f"SDK-HMAC-SHA256 Access=EMULATORAK0001, SignedHeaders=Host, Signature={'a' * 64}",
    ],
)
async def test_malformed_authorization_is_refused(
    anonymous: httpx.AsyncClient, clock: FakeClock, authorization: str
) -> None:
    """An Authorization header naming the scheme but not of its shape is refused as malformed."""

    def replace_header(request: httpx.Request) -> httpx.Request:
        request.headers["Authorization"] = authorization
        return request

    answer = await send(anonymous, "GET", TASK, at=clock.now, tamper=replace_header)
    assert "malformed" in refused(answer)


async def test_unknown_access_key_is_refused(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """An access key the emulator does not hold is refused, and not tracked for lockout."""
    stranger = KeyPair("UNKNOWNAK", "whatever")
    for _ in range(7):
        answer = await send(anonymous, "GET", TASK, at=clock.now, key=stranger)
        assert "Get secretKey failed,ak:UNKNOWNAK,err:ak not exist" in refused(answer)
    assert emulator.credentials.failures("UNKNOWNAK") == 0
    assert emulator.credentials.locked_until("UNKNOWNAK") is None


def _wrong_secret(request: httpx.Request) -> httpx.Request:
    return sign(request, KEY.access_key, "not-the-secret", at=_date_of(request))


def _date_of(request: httpx.Request) -> float:
    return parse_sdk_date(request.headers["X-Sdk-Date"])


def _project_header(request: httpx.Request) -> httpx.Request:
    request.headers["X-Project-Id"] = "another-project"
    return request


TAMPERS: dict[str, Tamper] = {
    "wrong secret key": _wrong_secret,
    "body": lambda r: rebuilt(r, content=r.content.replace(b"changed", b"CHANGED")),
    "path": lambda r: rebuilt(r, url=r.url.copy_with(path=f"{BASE}/tasks/{ORDERS}")),
    "query": lambda r: rebuilt(r, url=r.url.copy_with(query=b"dry_run=false")),
    "method": lambda r: rebuilt(r, method="GET"),
    "signed header value": _project_header,
}


@pytest.mark.parametrize("what", sorted(TAMPERS))
async def test_tampered_or_wrongly_signed_request_is_a_mismatch(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator, what: str
) -> None:
    """Any change to what was signed, or a wrong secret key, is a signature mismatch."""
    body = update_body(NODES, description="changed")
    answer = await send(
        anonymous,
        "PUT",
        f"{BASE}/tasks/{NODES}",
        at=clock.now,
        json=body,
        params={"dry_run": "true"},
        signed=WITH_PROJECT,
        tamper=TAMPERS[what],
    )
    assert "verify aksk signature fail, canonicalRequest:" in refused(answer)
    stored = emulator.store.get(PROJECT, INSTANCE, NODES)
    assert stored is not None
    assert stored.task.get("description") != "changed"
    assert emulator.credentials.failures(KEY.access_key) == 1


@pytest.mark.parametrize("signed", [("host",), ("x-sdk-date",), ("x-project-id",)])
async def test_host_and_date_must_be_signed(
    anonymous: httpx.AsyncClient, clock: FakeClock, signed: tuple[str, ...]
) -> None:
    """Leaving `host` or `x-sdk-date` out of SignedHeaders is refused, naming what is missing."""
    answer = await send(anonymous, "GET", TASK, at=clock.now, signed=signed)
    message = refused(answer)
    assert "SignedHeaders must include" in message


async def test_signed_header_missing_from_the_request(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A header named in SignedHeaders but not sent is refused, naming it."""

    def drop(request: httpx.Request) -> httpx.Request:
        del request.headers["X-Project-Id"]
        return request

    answer = await send(anonymous, "GET", TASK, at=clock.now, signed=WITH_PROJECT, tamper=drop)
    assert "x-project-id" in refused(answer)


@pytest.mark.parametrize("value", ["2023-11-14T22:13:20Z", "20231114T221320", "tomorrow"])
async def test_malformed_sdk_date_is_refused(
    anonymous: httpx.AsyncClient, clock: FakeClock, value: str
) -> None:
    """An X-Sdk-Date not of the form YYYYMMDDTHHMMSSZ is refused."""

    def redate(request: httpx.Request) -> httpx.Request:
        request.headers["X-Sdk-Date"] = value
        return request

    answer = await send(anonymous, "GET", TASK, at=clock.now, tamper=redate)
    assert "YYYYMMDDTHHMMSSZ" in refused(answer)


@pytest.mark.parametrize("minutes", [16, -16])
async def test_request_time_16_minutes_off_is_refused(
    anonymous: httpx.AsyncClient, clock: FakeClock, minutes: int
) -> None:
    """A signature 16 minutes ahead of or behind the server clock is refused, naming both times."""
    answer = await send(anonymous, "GET", TASK, at=clock.now + minutes * 60)
    message = refused(answer)
    assert "request time is too far from the server time" in message
    assert f"server time {sdk_date(clock.now)}" in message
    assert f"request time {sdk_date(clock.now + minutes * 60)}" in message
    assert answer.headers["date"] == formatdate(clock.now, usegmt=True)


@pytest.mark.parametrize("minutes", [14, -14, 15])
async def test_request_time_within_15_minutes_is_accepted(
    anonymous: httpx.AsyncClient, clock: FakeClock, minutes: int
) -> None:
    """A signature up to 15 minutes off the server clock is accepted."""
    answer = await send(anonymous, "GET", TASK, at=clock.now + minutes * 60)
    assert answer.status_code == 200


async def test_token_beside_a_signature_is_ignored(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """With a valid X-Auth-Token, a bad signature is still refused: the signature decides."""
    answer = await send(client, "GET", TASK, at=clock.now, tamper=_wrong_secret)
    refused(answer)


async def test_other_authorization_schemes_fall_back_to_the_token(
    anonymous: httpx.AsyncClient,
) -> None:
    """An Authorization header of another scheme leaves the decision to X-Auth-Token."""
    headers = {"Authorization": "Bearer x", "X-Auth-Token": TOKEN}
    assert (await anonymous.get(TASK, headers=headers)).status_code == 200
    answer = await anonymous.get(TASK, headers={"Authorization": "Bearer x"})
    assert answer.json()["error_code"] == "APIG.1002"


async def fail(client: httpx.AsyncClient, clock: FakeClock, times: int, key: KeyPair = KEY) -> None:
    """Send `times` requests with a wrong secret key for `key`'s access key."""
    wrong = KeyPair(key.access_key, "wrong-secret")
    for _ in range(times):
        answer = await send(client, "GET", TASK, at=clock.now, key=wrong)
        assert answer.json()["error_code"] == "APIG.0301"


async def test_sixth_consecutive_failure_locks_the_key_for_five_minutes(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """After 6 failures a correct signature is refused as locked until 5 minutes have passed."""
    await fail(anonymous, clock, 5)
    assert emulator.credentials.failures(KEY.access_key) == 5
    assert emulator.credentials.locked_until(KEY.access_key) is None
    sixth = await send(anonymous, "GET", TASK, at=clock.now, key=KeyPair(KEY.access_key, "bad"))
    assert "now locked for 5 minutes" in refused(sixth)
    assert emulator.credentials.locked_until(KEY.access_key) == clock.now + 300
    locked_at = clock.now
    for _ in range(3):
        clock.advance(99)
        message = refused(await send(anonymous, "GET", TASK, at=clock.now))
        assert "AK access failed to reach the limit,forbidden" in message
        assert "locked" in message
    assert clock.now == locked_at + 297
    clock.advance(2.5)
    refused(await send(anonymous, "GET", TASK, at=clock.now))
    clock.advance(0.5)
    assert (await send(anonymous, "GET", TASK, at=clock.now)).status_code == 200
    assert emulator.credentials.failures(KEY.access_key) == 0


async def test_lock_is_per_access_key(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """While one access key is locked, another one still works."""
    await fail(anonymous, clock, 6)
    assert emulator.credentials.locked_until(KEY.access_key) is not None
    answer = await send(anonymous, "GET", TASK, at=clock.now, key=OTHER_KEY)
    assert answer.status_code == 200


async def test_a_success_resets_the_count(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """Five failures, a success, then five more failures do not lock the key."""
    await fail(anonymous, clock, 5)
    assert (await send(anonymous, "GET", TASK, at=clock.now)).status_code == 200
    assert emulator.credentials.failures(KEY.access_key) == 0
    await fail(anonymous, clock, 5)
    assert (await send(anonymous, "GET", TASK, at=clock.now)).status_code == 200


async def test_every_signature_failure_counts(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """Skewed, unsigned-host and malformed-date failures of a known key count like mismatches."""
    await send(anonymous, "GET", TASK, at=clock.now + 3600)
    await send(anonymous, "GET", TASK, at=clock.now, signed=("x-sdk-date",))
    assert emulator.credentials.failures(KEY.access_key) == 2


def test_rotation_in_process_keeps_the_state_of_remaining_keys(clock: FakeClock) -> None:
    """set_key_pairs replaces the keys; counts stay for kept access keys, others are forgotten."""
    authority = KeyPairAuthority((KEY, OTHER_KEY), clock)
    authority._failures = {KEY.access_key: 3, OTHER_KEY.access_key: 2}
    authority.set_key_pairs([KeyPair(KEY.access_key, "rotated-secret")])
    assert authority.access_keys == (KEY.access_key,)
    assert authority.failures(KEY.access_key) == 3
    assert authority.failures(OTHER_KEY.access_key) == 0
    with pytest.raises(ValueError, match="twice"):
        authority.set_key_pairs([KEY, KEY])
    assert authority.access_keys == (KEY.access_key,)


async def test_rotation_through_the_control_route(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """PUT /_emulator/key-pairs replaces the keys: the old pair is unknown, the new one works."""
    new = KeyPair("ROTATEDAK", "rotated-secret-key")
    answer = await anonymous.put(
        "/_emulator/key-pairs", json=[{"access_key": new.access_key, "secret_key": new.secret_key}]
    )
    assert answer.status_code == 200
    assert answer.json() == [{"access_key": "ROTATEDAK", "failures": 0, "locked_until": None}]
    assert new.secret_key not in answer.text
    refused(await send(anonymous, "GET", TASK, at=clock.now))
    assert (await send(anonymous, "GET", TASK, at=clock.now, key=new)).status_code == 200
    assert emulator.credentials.access_keys == ("ROTATEDAK",)


async def test_key_pair_route_shows_lockout_state(
    anonymous: httpx.AsyncClient, clock: FakeClock
) -> None:
    """GET /_emulator/key-pairs lists each access key's failures and lock end, no secret."""
    await fail(anonymous, clock, 6)
    await fail(anonymous, clock, 1, key=OTHER_KEY)
    listed = (await anonymous.get("/_emulator/key-pairs")).json()
    assert listed == [
        {"access_key": KEY.access_key, "failures": 6, "locked_until": sdk_date(clock.now + 300)},
        {"access_key": OTHER_KEY.access_key, "failures": 1, "locked_until": None},
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"{}",
        b'[{"access_key": "AK"}]',
        b'[{"access_key": "AK", "secret_key": "SK", "extra": 1}]',
        b'[{"access_key": "AK", "secret_key": 5}]',
        b'[{"access_key": "", "secret_key": "SK"}]',
        b'[{"access_key": "A K", "secret_key": "SK"}]',
        b'[{"access_key": "AK", "secret_key": ""}]',
        b'[{"access_key": "AK", "secret_key": "a"}, {"access_key": "AK", "secret_key": "b"}]',
    ],
)
async def test_bad_key_pair_bodies_answer_400_and_change_nothing(
    anonymous: httpx.AsyncClient, emulator: Emulator, content: bytes
) -> None:
    """A key-pair list of the wrong shape, with bad keys or a repeated access key is refused."""
    answer = await anonymous.put("/_emulator/key-pairs", content=content)
    assert answer.status_code == 400
    assert emulator.credentials.access_keys == (KEY.access_key, OTHER_KEY.access_key)


async def test_secrets_never_reach_the_request_log_or_a_repr(
    anonymous: httpx.AsyncClient, clock: FakeClock, emulator: Emulator
) -> None:
    """Neither a secret key, a signature nor the Authorization header shows in the log or repr."""
    signatures: list[str] = []
    for tamper in (None, _wrong_secret):
        answer = await send(anonymous, "GET", TASK, at=clock.now, tamper=_keep(signatures, tamper))
        assert answer.status_code in (200, 401)
    new = {"access_key": "ROTATEDAK", "secret_key": "rotated-secret-key"}
    await anonymous.put("/_emulator/key-pairs", json=[new])
    logged = repr(emulator.requests) + (await anonymous.get("/_emulator/requests")).text
    assert [entry.status for entry in emulator.requests] == [200, 401]
    for secret in (KEY.secret_key, new["secret_key"], "SDK-HMAC-SHA256", *signatures):
        assert secret not in logged
    for printed in (repr(emulator.config), repr(EmulatorConfig(key_pairs=(KEY,))), repr(KEY)):
        assert KEY.access_key in printed
        assert KEY.secret_key not in printed


def _keep(signatures: list[str], tamper: Tamper | None) -> Tamper:
    def keep(request: httpx.Request) -> httpx.Request:
        if tamper is not None:
            request = tamper(request)
        signatures.append(request.headers["Authorization"].rsplit("=", 1)[1])
        return request

    return keep


def test_duplicate_access_keys_are_refused_in_the_configuration() -> None:
    """Two key pairs with one access key cannot both be configured."""
    with pytest.raises(ValueError, match="twice"):
        EmulatorConfig(key_pairs=(KEY, KeyPair(KEY.access_key, "other")))


@pytest.mark.parametrize(("access_key", "secret_key"), [("", "s"), ("A:K", "s"), ("AK", "")])
def test_impossible_key_pairs_are_refused(access_key: str, secret_key: str) -> None:
    """An empty or unsendable access key, or an empty secret, is a ValueError."""
    with pytest.raises(ValueError):
        KeyPair(access_key, secret_key)
