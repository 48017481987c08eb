"""IAM password login: request shape, caching, refresh at 80%, single flight, failures."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from fdi_drift.cloud.auth import TokenAuth
from fdi_drift.cloud.iam import IamPasswordToken
from fdi_drift.errors import AuthError, MalformedResponseError, TransportError
from tests.cloud.fakes import FakeTime, Script, json_response, make_api

PASSWORD = "Pa55-w0rd-never-shown"
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
DAY = 24 * 3600.0


def login_answer(token: str, *, issued: datetime = T0, hours: float = 24) -> httpx.Response:
    """A 201 login answer as IAM gives it: token in the header, times in the body."""
    body = {
        "token": {
            "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "expires_at": (issued + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "methods": ["password"],
        }
    }
    return json_response(201, body, {"X-Subject-Token": token})


class Clock:
    """A wall clock the test sets."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


def make_source(
    handler: object, clock: Clock | None = None, password: object = None
) -> IamPasswordToken:
    """An IamPasswordToken over a MockTransport handler."""
    return IamPasswordToken(
        iam_url="https://iam.example.test/",
        domain="acme",
        user="drift-bot",
        password=password or (lambda: PASSWORD),  # type: ignore[arg-type]
        project_id="c53626012ba84727b938ca8bf03108ef",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        clock=clock or Clock(),
    )


async def test_login_posts_the_password_body_scoped_to_the_project() -> None:
    """Login is POST /v3/auth/tokens with the documented body; the token comes from the header."""
    script = Script(login_answer("tok-1"))
    source = make_source(script)
    assert await source.get() == "tok-1"
    sent = script.seen[0]
    assert (sent.method, sent.url.path) == ("POST", "/v3/auth/tokens")
    assert orjson.loads(sent.content) == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "drift-bot", "password": PASSWORD, "domain": {"name": "acme"}}
                },
            },
            "scope": {"project": {"id": "c53626012ba84727b938ca8bf03108ef"}},
        }
    }


async def test_token_is_cached() -> None:
    """A second get within the token's life does not log in again."""
    script = Script(login_answer("tok-1"), login_answer("tok-2"))
    source = make_source(script)
    assert [await source.get(), await source.get()] == ["tok-1", "tok-1"]
    assert len(script.seen) == 1


async def test_token_is_refreshed_once_80_percent_of_its_life_has_passed() -> None:
    """At 79% of 24 hours the cached token serves; at 81% a new login happens."""
    clock = Clock()
    script = Script(login_answer("tok-1"), login_answer("tok-2"))
    source = make_source(script, clock)
    await source.get()
    clock.now += 0.79 * DAY
    assert await source.get() == "tok-1"
    clock.now += 0.02 * DAY
    assert await source.get() == "tok-2"
    assert len(script.seen) == 2


async def test_lifetime_is_measured_by_iam_so_local_clock_skew_does_not_matter() -> None:
    """A local clock a week ahead of IAM still caches the token for 80% of its stated life."""
    clock = Clock(T0 + timedelta(days=7))
    script = Script(login_answer("tok-1"), login_answer("tok-2"))
    source = make_source(script, clock)
    await source.get()
    clock.now += 0.5 * DAY
    assert await source.get() == "tok-1"
    assert len(script.seen) == 1


async def test_without_issued_at_lifetime_counts_from_when_the_login_was_sent() -> None:
    """Without issued_at, expires_at is compared with the clock at login time."""
    clock = Clock()
    body = {"token": {"expires_at": (T0 + timedelta(hours=10)).isoformat()}}
    script = Script(json_response(201, body, {"X-Subject-Token": "tok-1"}))
    source = make_source(script, clock)
    await source.get()
    clock.now += 7.9 * 3600
    await source.get()
    assert len(script.seen) == 1
    clock.now += 0.2 * 3600
    await source.get()
    assert len(script.seen) == 2


async def test_twenty_concurrent_gets_share_one_login() -> None:
    """Callers arriving while a login is under way wait for it instead of logging in too."""
    entered = asyncio.Event()
    release = asyncio.Event()
    logins = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal logins
        logins += 1
        entered.set()
        await release.wait()
        return login_answer(f"tok-{logins}")

    source = make_source(handler)
    tasks = [asyncio.create_task(source.get()) for _ in range(20)]
    await entered.wait()
    release.set()
    assert await asyncio.gather(*tasks) == ["tok-1"] * 20
    assert logins == 1


async def test_waiters_share_a_failed_login_instead_of_retrying_it() -> None:
    """When the shared login fails, every waiting caller gets that error from one request."""
    entered = asyncio.Event()
    release = asyncio.Event()
    logins = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal logins
        logins += 1
        entered.set()
        await release.wait()
        return json_response(401, {"error": {"code": 401, "message": "wrong password"}})

    source = make_source(handler)
    tasks = [asyncio.create_task(source.get()) for _ in range(5)]
    await entered.wait()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, AuthError) for r in results)
    assert logins == 1


async def test_a_later_get_after_a_failure_tries_again() -> None:
    """A failed login is not remembered for callers that come afterwards."""
    script = Script(json_response(500, {}), login_answer("tok-1"))
    source = make_source(script)
    with pytest.raises(AuthError):
        await source.get()
    assert await source.get() == "tok-1"


async def test_invalidate_drops_only_the_current_token() -> None:
    """Invalidating another token changes nothing; invalidating the current one forces a login."""
    script = Script(login_answer("tok-1"), login_answer("tok-2"))
    source = make_source(script)
    await source.get()
    await source.invalidate("tok-0")
    assert await source.get() == "tok-1"
    await source.invalidate("tok-1")
    assert await source.get() == "tok-2"


async def test_a_401_from_the_service_brings_a_new_login() -> None:
    """Through TokenAuth, a 401 from the API makes IAM issue a fresh token that is retried."""
    iam = Script(login_answer("tok-1"), login_answer("tok-2"))
    source = make_source(iam)

    def api_handler(request: httpx.Request) -> httpx.Response:
        if request.headers["X-Auth-Token"] == "tok-2":
            return json_response(200, {"ok": True})
        return json_response(401, {"error_code": "APIG.1002", "error_msg": "expired"})

    api = make_api(api_handler, FakeTime(), auth=TokenAuth(source))
    assert await api.request("GET", "/x") == {"ok": True}
    assert len(iam.seen) == 2


async def test_failed_refresh_keeps_the_valid_token_and_retries_a_minute_later(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While the old token is still valid, a failed refresh serves it and tries again in 60s."""
    caplog.set_level(logging.WARNING)
    clock = Clock()
    script = Script(login_answer("tok-1"), json_response(503, {}), login_answer("tok-2"))
    source = make_source(script, clock)
    await source.get()
    clock.now += 0.85 * DAY
    assert await source.get() == "tok-1"
    clock.now += 30
    assert await source.get() == "tok-1"
    assert len(script.seen) == 2
    clock.now += 31
    assert await source.get() == "tok-2"
    assert any("refresh failed" in r.getMessage() for r in caplog.records)


async def test_failed_refresh_after_expiry_raises() -> None:
    """Once the old token has expired, a failed login is the caller's error."""
    clock = Clock()
    script = Script(login_answer("tok-1"), json_response(503, {}))
    source = make_source(script, clock)
    await source.get()
    clock.now += DAY + 1
    with pytest.raises(AuthError, match="HTTP 503"):
        await source.get()


async def test_refused_login_is_auth_error_with_iams_message_and_status() -> None:
    """A 401 from IAM becomes AuthError carrying IAM's code, message and the status."""
    body = {"error": {"code": "1101", "message": "The username or password is wrong."}}
    source = make_source(Script(json_response(401, body)))
    with pytest.raises(AuthError) as caught:
        await source.get()
    text = str(caught.value)
    assert "HTTP 401 1101" in text and "The username or password is wrong." in text
    assert "acme/drift-bot" in text
    assert caught.value.request == "POST /v3/auth/tokens"


async def test_unreachable_iam_is_transport_error() -> None:
    """A connection failure to IAM is TransportError raised from the httpx error."""
    source = make_source(Script(httpx.ConnectError))
    with pytest.raises(TransportError) as caught:
        await source.get()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (json_response(201, {"token": {"expires_at": "2024-03-02T12:00:00Z"}}), "X-Subject-Token"),
        (json_response(201, {}, {"X-Subject-Token": "t"}), "`token`"),
        (json_response(201, {"token": {}}, {"X-Subject-Token": "t"}), "expires_at"),
        (
            json_response(201, {"token": {"expires_at": "tomorrow"}}, {"X-Subject-Token": "t"}),
            "ISO",
        ),
        (login_answer("t", hours=-1), "not after"),
        (httpx.Response(201, content=b"<html/>", headers={"X-Subject-Token": "t"}), "not JSON"),
    ],
)
async def test_answers_missing_what_we_need_are_malformed(
    answer: httpx.Response, problem: str
) -> None:
    """A 201 without the token header or a usable expiry is MalformedResponseError."""
    with pytest.raises(MalformedResponseError, match=problem):
        await make_source(Script(answer)).get()


async def test_password_is_read_again_for_each_login() -> None:
    """A rotated password file is used by the next login."""
    passwords = iter(["first-password", "second-password"])
    script = Script(login_answer("tok-1"), login_answer("tok-2"))
    source = make_source(script, password=lambda: next(passwords))
    await source.get()
    await source.invalidate("tok-1")
    await source.get()
    sent = [
        orjson.loads(r.content)["auth"]["identity"]["password"]["user"]["password"]
        for r in script.seen
    ]
    assert sent == ["first-password", "second-password"]


async def test_unreadable_password_is_auth_error(tmp_path: Path) -> None:
    """A password file that cannot be read is AuthError, and no login is attempted."""
    script = Script(login_answer("tok-1"))
    source = make_source(script, password=lambda: (tmp_path / "absent").read_text())
    with pytest.raises(AuthError, match="cannot read the password"):
        await source.get()
    assert script.seen == []


async def test_password_never_appears_in_errors_reprs_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even when IAM echoes the password, no message, repr or log line carries it."""
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"code": "1101", "message": f"password {PASSWORD} is wrong"}}
    clock = Clock()
    script = Script(login_answer("tok-1"), json_response(401, echo))
    source = make_source(script, clock)
    texts = [repr(source), str(source), source.describe()]
    await source.get()
    clock.now += 0.9 * DAY  # refresh fails and falls back, logging the failure
    await source.get()
    clock.now += DAY
    with pytest.raises(AuthError) as caught:
        await source.get()
    texts += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
    texts += [record.getMessage() for record in caplog.records]
    assert "******" in str(caught.value)
    assert all(PASSWORD not in text for text in texts)
    assert all("tok-1" not in text for text in texts)


async def test_aclose_closes_the_transport() -> None:
    """aclose releases the login connection pool, injected transport included."""

    class ClosingTransport(httpx.MockTransport):
        closed = False

        async def aclose(self) -> None:
            self.closed = True

    transport = ClosingTransport(Script(login_answer("t")))
    async with IamPasswordToken(
        iam_url="https://iam.example.test",
        domain="d",
        user="u",
        password=lambda: PASSWORD,
        project_id="p",
        transport=transport,
    ) as source:
        await source.get()
    assert transport.closed
