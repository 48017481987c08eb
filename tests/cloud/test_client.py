"""The base client: retries and backoff, Retry-After, error mapping, observer, rate limit."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from fdi_drift.cloud.client import ApiClient, RateLimiter, RetryPolicy
from fdi_drift.errors import (
    ApiError,
    AuthError,
    MalformedResponseError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
)
from tests.cloud.fakes import FakeTime, Script, json_response, make_api

OK = json_response(200, {"ok": True})
FDI_500 = json_response(500, {"error_code": "FDI.0500", "error_msg": "internal error"})


async def test_retries_server_errors_with_growing_jittered_delays() -> None:
    """Three 500s then a 200: the sleeps are base*2**n, each scaled by its jitter draw."""
    clock = FakeTime()
    script = Script(FDI_500, FDI_500, FDI_500, OK)
    api = make_api(script, clock, jitter=[0.5, 0.25, 0.75])
    assert await api.request("GET", "/v2/p/tasks") == {"ok": True}
    assert clock.sleeps == [0.5 * 0.5, 1.0 * 0.25, 2.0 * 0.75]
    assert len(script.seen) == 4


async def test_backoff_is_capped_at_max_delay() -> None:
    """The exponential delay stops growing at max_delay."""
    clock = FakeTime()
    script = Script(FDI_500, FDI_500, FDI_500, OK)
    api = make_api(script, clock, retry=RetryPolicy(attempts=4, base_delay=10, max_delay=15))
    await api.request("GET", "/x")
    assert clock.sleeps == [10.0, 15.0, 15.0]


async def test_server_errors_after_last_attempt_raise_server_error_with_details() -> None:
    """A 5xx on every attempt ends in ServerError carrying status, code, text and the request."""
    clock = FakeTime()
    script = Script(json_response(503, {"error_code": "FDI.0503", "error_msg": "busy"}))
    api = make_api(script, clock, retry=RetryPolicy(attempts=3))
    with pytest.raises(ServerError) as caught:
        await api.request("GET", "/v2/p/tasks", params={"offset": 0, "limit": 5})
    err = caught.value
    assert (err.status, err.error_code, err.error_msg) == (503, "FDI.0503", "busy")
    assert err.request == "GET /v2/p/tasks"
    assert "offset" not in str(err) and "example.test" not in str(err)
    assert len(script.seen) == 3 and len(clock.sleeps) == 2


async def test_429_honours_retry_after_seconds() -> None:
    """A 429 with `Retry-After: 7` waits exactly 7 seconds, without jitter."""
    clock = FakeTime()
    script = Script(json_response(429, {}, {"Retry-After": "7"}), OK)
    api = make_api(script, clock, jitter=[0.1])
    assert await api.request("GET", "/x") == {"ok": True}
    assert clock.sleeps == [7.0]


async def test_retry_after_is_capped_at_max_delay() -> None:
    """A Retry-After longer than max_delay waits max_delay."""
    clock = FakeTime()
    script = Script(json_response(429, {}, {"Retry-After": "3600"}), OK)
    api = make_api(script, clock)
    await api.request("GET", "/x")
    assert clock.sleeps == [30.0]


async def test_retry_after_date_is_measured_against_the_answers_date_header() -> None:
    """An HTTP-date Retry-After waits the gap to the answer's own Date, not the local clock."""
    clock = FakeTime()
    headers = {
        "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
        "Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT",
    }
    script = Script(json_response(429, {}, headers), OK)
    api = make_api(script, clock, clock=lambda: 0.0)
    await api.request("GET", "/x")
    assert clock.sleeps == [5.0]


async def test_retry_after_date_without_date_header_uses_the_injected_clock() -> None:
    """Without a Date header the HTTP-date is measured against the injected wall clock."""
    clock = FakeTime()
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    script = Script(json_response(429, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:12 GMT"}), OK)
    api = make_api(script, clock, clock=lambda: now)
    await api.request("GET", "/x")
    assert clock.sleeps == [12.0]


async def test_retry_after_on_503_is_honoured_too() -> None:
    """A 503 with Retry-After waits what the service asked."""
    clock = FakeTime()
    script = Script(json_response(503, {}, {"Retry-After": "2"}), OK)
    api = make_api(script, clock, jitter=[0.9])
    await api.request("GET", "/x")
    assert clock.sleeps == [2.0]


async def test_unreadable_retry_after_falls_back_to_backoff() -> None:
    """A Retry-After that is neither seconds nor a date is ignored in favour of backoff."""
    clock = FakeTime()
    script = Script(json_response(429, {}, {"Retry-After": "soon"}), OK)
    api = make_api(script, clock, jitter=[0.5])
    await api.request("GET", "/x")
    assert clock.sleeps == [0.25]


async def test_throttled_after_every_attempt_raises_throttled_error() -> None:
    """A 429 on every attempt ends in ThrottledError with the gateway's error code."""
    clock = FakeTime()
    body = {"error_code": "APIG.0308", "error_msg": "The request is throttled."}
    script = Script(json_response(429, body))
    api = make_api(script, clock)
    with pytest.raises(ThrottledError) as caught:
        await api.request("GET", "/x")
    assert caught.value.error_code == "APIG.0308"
    assert caught.value.status == 429
    assert len(script.seen) == 4


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("status", "error"),
    [(400, ApiError), (404, NotFoundError), (401, AuthError), (403, AuthError), (409, ApiError)],
)
async def test_client_errors_are_not_retried(
    status: int, error: type[Exception], method: str
) -> None:
    """A 4xx other than 429 is raised after one request, mapped to its class, for writes too."""
    clock = FakeTime()
    body = {"error_code": "FDI.3083", "error_msg": "not configured"}
    script = Script(json_response(status, body))
    api = make_api(script, clock)
    with pytest.raises(error) as caught:
        await api.request(method, "/v2/p/tasks/t")
    assert type(caught.value) is error
    assert "FDI.3083" in str(caught.value) and "not configured" in str(caught.value)
    assert caught.value.request == f"{method} /v2/p/tasks/t"  # type: ignore[attr-defined]
    assert len(script.seen) == 1
    assert clock.sleeps == []


async def test_iam_style_error_body_is_understood_and_truncated() -> None:
    """An `{"error": {"code","message"}}` body fills error_code and error_msg, cut at 512 chars."""
    clock = FakeTime()
    body = {"error": {"code": "IAM.0001", "message": "x" * 2000}}
    api = make_api(Script(json_response(400, body)), clock)
    with pytest.raises(ApiError) as caught:
        await api.request("POST", "/v3/auth/tokens")
    assert caught.value.error_code == "IAM.0001"
    assert caught.value.error_msg == "x" * 512


async def test_error_body_that_is_not_json_still_raises_by_status() -> None:
    """A gateway's HTML error page becomes an ApiError with the status and reason phrase."""
    clock = FakeTime()
    api = make_api(Script(httpx.Response(400, content=b"<html>bad</html>")), clock)
    with pytest.raises(ApiError, match="HTTP 400 Bad Request") as caught:
        await api.request("GET", "/x")
    assert caught.value.error_code == ""


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
async def test_transport_failures_are_retried_then_raise_transport_error(
    failure: type[httpx.TransportError],
) -> None:
    """Connection failures and timeouts are retried, then TransportError from the httpx error."""
    clock = FakeTime()
    script = Script(failure)
    api = make_api(script, clock)
    with pytest.raises(TransportError) as caught:
        await api.request("GET", "/x")
    assert isinstance(caught.value.__cause__, failure)
    assert caught.value.request == "GET /x"
    assert len(script.seen) == 4 and clock.sleeps == [0.5, 1.0, 2.0]


async def test_transport_failure_then_success_returns_the_answer() -> None:
    """A timeout followed by an answer is invisible to the caller."""
    clock = FakeTime()
    api = make_api(Script(httpx.ConnectTimeout, OK), clock)
    assert await api.request("GET", "/x") == {"ok": True}


async def test_unsupported_protocol_is_not_retried() -> None:
    """A failure that cannot heal (a URL scheme httpx cannot speak) raises at once."""
    clock = FakeTime()
    script = Script(httpx.UnsupportedProtocol)
    api = make_api(script, clock)
    with pytest.raises(TransportError):
        await api.request("GET", "/x")
    assert len(script.seen) == 1


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"task": ', b"\xff\xfe"])
async def test_success_that_is_not_json_raises_malformed_response(body: bytes) -> None:
    """A 2xx whose body is not JSON is MalformedResponseError naming the request, not retried."""
    clock = FakeTime()
    script = Script(httpx.Response(200, content=body))
    api = make_api(script, clock)
    with pytest.raises(MalformedResponseError) as caught:
        await api.request("GET", "/v2/p/tasks/t")
    assert caught.value.request == "GET /v2/p/tasks/t"
    assert len(script.seen) == 1


@pytest.mark.parametrize("body", [b"", b"null", b"  \n"])
async def test_empty_or_null_success_is_none(body: bytes) -> None:
    """An empty 2xx body or `null` is answered as None."""
    api = make_api(Script(httpx.Response(200, content=body)), FakeTime())
    assert await api.request("PUT", "/x", json={"a": 1}) is None


async def test_request_sends_json_query_and_headers() -> None:
    """The JSON body, query parameters, content type and user agent reach the transport."""
    script = Script(OK)
    api = make_api(script, FakeTime(), user_agent="fdi-drift/9")
    await api.request(
        "put", "/v2/p/tasks/t", params={"limit": 5}, json={"task_detail": '{"a":"\\u00e9"}'}
    )
    sent = script.seen[0]
    assert sent.method == "PUT"
    assert sent.url.params["limit"] == "5"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"] == "fdi-drift/9"
    assert orjson.loads(sent.content) == {"task_detail": '{"a":"\\u00e9"}'}


async def test_observer_sees_every_attempt_with_its_code_and_duration() -> None:
    """Each attempt is reported once: status text, or "error" for a transport failure."""
    clock = FakeTime()
    answers = iter([json_response(503, {}), None, OK])
    calls: list[tuple[str, str, str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 0.25
        answer = next(answers)
        if answer is None:
            raise httpx.ConnectError("refused", request=request)
        return answer

    api = make_api(handler, clock, observer=lambda *call: calls.append(call))
    await api.request("GET", "/x")
    assert calls == [
        ("fdi", "GET", "503", 0.25),
        ("fdi", "GET", "error", 0.25),
        ("fdi", "GET", "200", 0.25),
    ]


async def test_retries_are_logged_with_the_request_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each retry leaves one warning naming the request and why."""
    caplog.set_level(logging.WARNING, logger="fdi_drift.cloud")
    api = make_api(Script(FDI_500, OK), FakeTime())
    await api.request("GET", "/x")
    assert [r.getMessage() for r in caplog.records] == ["GET /x: HTTP 500; retry 1 of 3 in 0.50s"]


async def test_concurrent_callers_wait_for_the_rate_limit() -> None:
    """With 2 requests per second, five simultaneous calls: one passes, four wait 0.5s apart."""
    clock = FakeTime(sleep_advances=False)
    script = Script(OK)
    api = make_api(script, clock, rate_limit_per_second=2)
    await asyncio.gather(*(api.request("GET", "/x") for _ in range(5)))
    assert sorted(clock.sleeps) == [0.5, 1.0, 1.5, 2.0]
    assert len(script.seen) == 5


async def test_rate_limit_refills_one_token_and_no_more() -> None:
    """However long the client was idle, the next two requests are 1/rate apart: no burst."""
    clock = FakeTime(sleep_advances=False)
    limiter = RateLimiter(2, monotonic=clock.monotonic, sleep=clock.sleep)
    await limiter.acquire()
    assert clock.sleeps == []
    clock.now += 0.5
    await limiter.acquire()
    assert clock.sleeps == []
    await limiter.acquire()
    assert clock.sleeps == [0.5]
    clock.now += 100
    await limiter.acquire()
    await limiter.acquire()
    assert clock.sleeps == [0.5, 0.5]


async def test_slow_rate_still_allows_one_request_at_once() -> None:
    """A rate below one per second still has a burst of one, then spaces requests evenly."""
    clock = FakeTime(sleep_advances=False)
    limiter = RateLimiter(0.5, monotonic=clock.monotonic, sleep=clock.sleep)
    await limiter.acquire()
    await limiter.acquire()
    assert clock.sleeps == [2.0]


def test_rate_limit_must_be_positive() -> None:
    """A zero rate is refused instead of blocking forever."""
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0, monotonic=lambda: 0.0, sleep=asyncio.sleep)


async def test_path_must_be_relative_to_the_base_url() -> None:
    """An absolute URL is refused before anything is sent."""
    script = Script(OK)
    api = make_api(script, FakeTime())
    with pytest.raises(ValueError, match="must start with '/'"):
        await api.request("GET", "https://elsewhere.test/x")
    assert script.seen == []


async def test_context_manager_closes_the_transport() -> None:
    """Leaving the `async with` block closes the injected transport with the pool."""

    class ClosingTransport(httpx.MockTransport):
        closed = False

        async def aclose(self) -> None:
            self.closed = True

    transport = ClosingTransport(Script(OK))
    api = ApiClient(service="fdi", base_url="https://x.test", auth=None, transport=transport)
    async with api:
        await api.request("GET", "/x")
    assert transport.closed


async def test_integers_wider_than_64_bits_are_read_and_sent_exactly() -> None:
    """orjson would read 30 digits as a float and refuse to send them; the client does neither."""
    wide = 123456789012345678901234567890
    answer = httpx.Response(200, content=b'{"job":{"limit":123456789012345678901234567890}}')
    script = Script(answer)
    api = make_api(script, FakeTime())
    got = await api.request("PUT", "/v5/p/jobs/j", json={"params": {"limit": wide, "n": 1.5}})
    assert got == {"job": {"limit": wide}}
    assert type(got["job"]["limit"]) is int  # type: ignore[index]
    assert script.seen[0].content == b'{"params":{"limit":123456789012345678901234567890,"n":1.5}}'


@pytest.mark.parametrize(
    "text",
    [
        "18446744073709551616",  # 2**64: one past what orjson holds as an integer
        "-9223372036854775809",  # one below -2**63
        "123456789012345678901234567890",
    ],
)
async def test_wide_integers_anywhere_in_an_answer_are_exact(text: str) -> None:
    """A wide integer deep in a list comes back as that integer, not as a float."""
    body = f'{{"items":[{{"id":"a","n":1}},{{"id":"b","n":[{text}]}}]}}'.encode()
    api = make_api(Script(httpx.Response(200, content=body)), FakeTime())
    got = await api.request("GET", "/v2/p/tasks")
    assert got == {"items": [{"id": "a", "n": 1}, {"id": "b", "n": [int(text)]}]}


async def test_digits_in_strings_do_not_send_an_answer_to_the_slow_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hex id holding 19 digits in a row is text, not a number: orjson's reading stands."""
    body = b'{"task_id":"a1234567890123456789012b","small":-12345678.5}'

    def refuse(text: object) -> None:
        raise AssertionError("the standard library parsed an answer orjson had read exactly")

    monkeypatch.setattr("fdi_drift.cloud.client.json.loads", refuse)
    api = make_api(Script(httpx.Response(200, content=body)), FakeTime())
    got = await api.request("GET", "/v2/p/tasks/t")
    assert got == {"task_id": "a1234567890123456789012b", "small": -12345678.5}


async def test_parsed_urls_are_kept_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each path reaches the wire as asked, whether its URL was kept, dropped or parsed anew."""
    monkeypatch.setattr("fdi_drift.cloud.client.URLS_KEPT", 2)
    script = Script(OK)
    api = make_api(script, FakeTime())
    paths = ["/v2/p/a", "/v2/p/b", "/v2/p/a", "/v2/p/c", "/v2/p/d", "/v2/p/a"]
    for path in paths:
        await api.request("GET", path)
    assert [request.url.path for request in script.seen] == paths
    assert len(api._urls) <= 2


async def test_cookies_an_answer_sets_are_not_sent_back() -> None:
    """Every request carries its own credentials: a Set-Cookie is not kept for the next one."""
    answer = httpx.Response(200, headers={"Set-Cookie": "session=abc; Path=/"}, json={"ok": True})
    script = Script(answer)
    api = make_api(script, FakeTime())
    await api.request("GET", "/v2/p/a")
    await api.request("GET", "/v2/p/b")
    assert [request.headers.get("Cookie") for request in script.seen] == [None, None]


async def _chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 65536):
        yield b" " * 65536


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"[" + b"0," * 600_000 + b"0]"),  # declares its length
        httpx.Response(200, content=_chunks(2 * 1024 * 1024)),  # chunked: no length declared
        httpx.Response(  # 2 MiB that arrive as 2 KiB of gzip
            200, content=gzip.compress(b" " * 2 * 1024 * 1024), headers={"Content-Encoding": "gzip"}
        ),
    ],
    ids=["length", "chunked", "gzip"],
)
async def test_an_answer_over_the_size_limit_is_refused_not_read(answer: httpx.Response) -> None:
    """An answer past max_response_bytes is malformed (a GET) and never held whole."""
    script = Script(answer)
    api = make_api(script, FakeTime(), max_response_bytes=1024 * 1024)
    with pytest.raises(MalformedResponseError, match="larger than 1048576 bytes"):
        await api.request("GET", "/x")
    assert len(script.seen) == 1  # the same answer would come again: not retried
