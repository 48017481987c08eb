"""The base client of every cloud API: one connection pool, rate limit, retries, error mapping.

Each attempt (connect, send, headers and the whole body) must end within `timeout` seconds in
total, on top of httpx's per-operation timeouts, so a server that drips its answer cannot hold
a request for ever. GET, HEAD and OPTIONS are retried as the policy allows; any other method
is a write, retried only when the service certainly never saw it. Failures become
`fdi_drift.errors`, raised from the httpx error where there is one:

    failure                                 GET, HEAD, OPTIONS      other methods (writes)
    not sent: connection refused or timed   retried, then TransportError
      out, pool timeout, proxy refusal,
      the total deadline before sending
    maybe processed: read/write timeout or  retried, then           OutcomeUnknownError,
      error, the total deadline after         TransportError          not retried
      sending, reset or truncated answer
    an answer body that cannot be decoded   TransportError          OutcomeUnknownError
    5xx                                     retried (503 honours    OutcomeUnknownError with
                                              Retry-After), then      status, code and message,
                                              ServerError             not retried
    429                                     retried (honouring Retry-After), then ThrottledError
    401, 403                                AuthError (the auth flow already tried a new token)
    404                                     NotFoundError
    other 4xx, 3xx                          ApiError, never retried
    2xx that is not JSON                    MalformedResponseError
    an answer over max_response_bytes       MalformedResponseError  OutcomeUnknownError

"Before sending" is known from the transport's trace events (httpcore's, or the same names
from cloud/transports.py over aiohttp); over a transport that does not trace (ASGI, mock), a
request handed to the transport counts as maybe processed. Without an injected transport the
client reaches its endpoint through `transports.network`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import httpx
import orjson

from fdi_drift.cloud.transports import network, pool_limits
from fdi_drift.errors import (
    ApiError,
    AuthError,
    CloudError,
    ConfigError,
    MalformedResponseError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TransportError,
)

_log = logging.getLogger(__name__)

ERROR_TEXT_LIMIT = 512

# Failures where the request may not have reached the service, or the service may recover.
_RETRYABLE_FAILURES = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
# Failures before the request left: no service saw it, so even a write may be sent again.
_UNSENT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
URLS_KEPT = 20_000  # parsed URLs a client keeps: one per resource of a 10,000-task replica, twice
MAYBE_PROCESSED = "not retried: it may have been processed"
REQUEST_ID_HEADER = "X-Request-Id"  # the gateway's id of an answer, for support tickets
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# orjson reads an integer beyond 64 bits as a float; any float this large may have been one.
_WIDE = float(2**63)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer a client received: to which request, its status, the gateway's request id."""

    request: str  # "METHOD /path"
    status: int
    request_id: str


_ANSWERS: ContextVar[list[Answer] | None] = ContextVar("fdi_drift_answers", default=None)


@contextlib.contextmanager
def recording_answers() -> Iterator[list[Answer]]:
    """Every answer the API clients receive in this context, in order, while it lasts.

    What a write's audit record names: the gateway's request id of each answer, which is what
    the service's support asks for.
    """
    answers: list[Answer] = []
    token = _ANSWERS.set(answers)
    try:
        yield answers
    finally:
        _ANSWERS.reset(token)


class ResponseObserver(Protocol):
    """Told about every attempt; `code` is the status as text ("200") or "error".

    A 401 that the auth flow answered with a fresh token inside the same attempt is not
    reported on its own: the attempt reports the final status.
    """

    def __call__(self, service: str, method: str, code: str, seconds: float) -> None: ...


# Field metadata, read by the configuration parser: `setting` is the YAML key (None: not
# configurable), `minimum` the least value it takes.


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a request is tried; `attempts` counts the first try."""

    attempts: int = field(default=4, metadata={"setting": "retry_attempts", "minimum": 1})
    base_delay: float = field(
        default=0.5, metadata={"setting": "retry_base_delay_seconds", "minimum": 0.0}
    )
    max_delay: float = field(default=30.0, metadata={"setting": None})

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError(f"invalid retry policy {self!r}")

    def backoff(self, retry: int, jitter: float) -> float:
        """Full-jitter delay before retry number `retry` (0 for the first), `jitter` in [0, 1)."""
        return min(self.max_delay, self.base_delay * 2.0 ** min(retry, 64)) * jitter


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """How every request of a cloud client is bounded, paced, retried and trusted.

    `timeout` bounds each attempt as a whole (connect, send, headers, body), not just each
    network operation; `max_response_bytes` the size of an answer; `rate_limit_per_second` is
    shared by all requests of one client; `ca_bundle` replaces the system's trusted CAs.
    `max_connections` bounds the connection pool: the composition root sets it to the
    engine's concurrency, so that reads never queue for a connection and no more are opened.
    """

    timeout: float = field(
        default=10.0, metadata={"setting": "request_timeout_seconds", "minimum": 0.1}
    )
    max_response_bytes: int = field(default=64 * 1024 * 1024, metadata={"minimum": 65536})
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit_per_second: float = field(default=20.0, metadata={"minimum": 0.1})
    ca_bundle: Path | None = None
    max_connections: int = field(default=16, metadata={"setting": None})

    def __post_init__(self) -> None:
        if self.max_connections < 1:  # aiohttp reads 0 as "no limit"
            raise ValueError(f"max_connections must be at least 1, got {self.max_connections}")

    @property
    def verify(self) -> bool | str:
        """What to verify TLS against: the CA bundle, or the system store."""
        return str(self.ca_bundle) if self.ca_bundle else True


class RateLimiter:
    """A token bucket of one token shared by all concurrent requests of one client.

    Requests are paced, at most one every 1/rate seconds, with no burst: no window of W seconds
    sees more than rate * W + 1 of them, so the configured rate holds over any second, the
    first included (a bucket of a second's tokens would let twice the rate through in it).
    Each caller reserves its token at once and sleeps off any debt, so waiters are served in
    arrival order without a lock and the clock is read only when someone asks.
    """

    def __init__(
        self,
        rate_per_second: float,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        if not rate_per_second > 0:
            raise ValueError(f"rate limit must be positive, got {rate_per_second!r}")
        self._rate = rate_per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = 1.0
        self._stamp = monotonic()

    async def acquire(self) -> None:
        """Wait until this caller may send one request."""
        now = self._monotonic()
        self._tokens = min(1.0, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens -= 1.0
        if self._tokens < 0:
            await self._sleep(-self._tokens / self._rate)


def error_details(body: bytes) -> tuple[str, str]:
    """(code, message) from an error body, FDI/DRS/APIG or IAM style; ("", "") if neither."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    if "error_code" in data or "error_msg" in data:
        return _clip(data.get("error_code")), _clip(data.get("error_msg"))
    nested = data.get("error")
    if isinstance(nested, dict):
        return _clip(nested.get("code")), _clip(nested.get("message"))
    return "", ""


def _clip(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)[:ERROR_TEXT_LIMIT]


def tls_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """What httpx wants for `verify`: a CA bundle file or directory becomes an SSL context."""
    if not isinstance(verify, str):
        return verify
    try:
        if Path(verify).is_dir():
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"CA bundle {verify}: cannot load it ({exc})") from exc


def describe_failure(exc: Exception) -> str:
    """A loggable account of an httpx failure.

    h11 quotes offending header values in LocalProtocolError, so its text is never shown.
    """
    name = type(exc).__name__
    text = "" if isinstance(exc, httpx.LocalProtocolError) else str(exc)
    return f"{name}: {text}" if text else name


@dataclass(frozen=True, slots=True)
class _Failure:
    """An attempt that got no answer: why, and whether the request certainly never left."""

    cause: Exception | None
    reason: str
    unsent: bool
    retryable: bool = True
    malformed: bool = False  # an answer came, but not one to accept (too large)


class _Progress:
    """How far one attempt got: told by httpx's request hook and the transport's trace events.

    It is the attempt's `trace` extension, so the hook finds it on the request it is handed.
    """

    __slots__ = ("handed", "sending", "traced")

    def __init__(self) -> None:
        self.handed = False
        self.traced = False
        self.sending = False

    async def __call__(self, event: str, info: Mapping[str, object]) -> None:
        self.traced = True
        if event.endswith(".send_request_headers.started"):
            self.sending = True

    @property
    def unsent(self) -> bool:
        """Whether the request certainly has not left: not handed over yet, or still connecting."""
        return not self.handed or (self.traced and not self.sending)


async def _handed_over(request: httpx.Request) -> None:
    progress = request.extensions.get("trace")
    if isinstance(progress, _Progress):
        # A fresh hand-over (the auth flow resending after a 401) starts a fresh send.
        progress.handed, progress.traced, progress.sending = True, False, False


class ApiClient:
    """One service's HTTP client; `request` answers parsed JSON or raises `fdi_drift.errors`.

    `path` is relative to `base_url` and must start with "/"; errors name "METHOD /path".
    `policy` bounds, paces and retries every request (see ClientPolicy).
    Close it with `aclose()` or use it as an async context manager.
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        auth: httpx.Auth | None,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: ClientPolicy = ClientPolicy(),
        observer: ResponseObserver | None = None,
        user_agent: str = "fdi-drift",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._service = service
        self._timeout = policy.timeout
        self._max_response_bytes = policy.max_response_bytes
        self._retry = policy.retry
        self._observer = observer
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = jitter
        self._clock = clock
        self._limiter = RateLimiter(policy.rate_limit_per_second, monotonic=monotonic, sleep=sleep)
        verify = tls_verify(policy.verify)
        connections = policy.max_connections
        if transport is None:
            transport = network(verify=verify, max_connections=connections)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(policy.timeout),
            verify=verify,
            limits=pool_limits(connections),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            event_hooks={"request": [_handed_over]},
        )
        # Requests are built here and handed to the transport directly (see `_deliver`).
        self._transport = transport
        self._auth = auth
        self._prefix = str(self._http.base_url).rstrip("/")
        self._urls: dict[str, httpx.URL] = {}  # by path: each cycle reads the same ones again
        self._headers = self._http.headers  # httpx's defaults, with ours
        self._timeouts = httpx.Timeout(policy.timeout).as_dict()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
    ) -> object:
        """Send one request (retrying as the policy allows); the parsed JSON answer or None."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path[:100]!r}")
        method = method.upper()
        label = f"{method} {path.partition('?')[0]}"
        content = None if json is None else encode_body(json)
        headers = None if json is None else {"Content-Type": "application/json"}
        safe = method in SAFE_METHODS
        attempts = self._retry.attempts
        for attempt in range(attempts):
            final = attempt == attempts - 1
            await self._limiter.acquire()
            started = self._monotonic()
            outcome = await self._attempt(method, path, params, content, headers)
            if isinstance(outcome, _Failure):
                self._observe(method, "error", started)
                if not safe and not outcome.unsent:
                    raise _outcome_unknown(outcome.reason, label) from outcome.cause
                if outcome.malformed:
                    raise MalformedResponseError(outcome.reason, request=label) from outcome.cause
                if not outcome.retryable:
                    raise TransportError(outcome.reason, request=label) from outcome.cause
                if final:
                    raise TransportError(
                        f"{outcome.reason} (after {attempts} attempts)", request=label
                    ) from outcome.cause
                delay = self._retry.backoff(attempt, self._jitter())
                await self._pause(label, outcome.reason, attempt, delay)
                continue
            response, body = outcome
            self._observe(method, str(response.status_code), started)
            status = response.status_code
            answers = _ANSWERS.get()
            if answers is not None:
                answers.append(Answer(label, status, request_id(response)))
            if 200 <= status < 300:
                return parse_json(response, label, body)
            if status >= 500 and not safe:
                code, msg = error_details(body)
                text = status_text(response, code, msg)
                raise _outcome_unknown(text, label, request_id(response))
            if (status == 429 or status >= 500) and not final:
                delay = self._delay_after(response, attempt)
                answered = request_id(response)
                said = f"HTTP {status} (request id {answered})" if answered else f"HTTP {status}"
                await self._pause(label, said, attempt, delay)
                continue
            raise status_error(response, label, attempts=attempt + 1, body=body)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        """Close the connection pool (and an injected transport with it)."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ApiClient(service={self._service!r})"

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        content: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[httpx.Response, bytes] | _Failure:
        """One try within the total deadline: the answer and its whole body, or why there is none.

        The body is read (decoded) as it arrives and refused past `max_response_bytes`, so a
        compressed bomb is caught too, before it can fill memory.
        """
        progress = _Progress()
        deadline = asyncio.timeout(self._timeout)
        limit = self._max_response_bytes
        merged = self._headers
        if headers:
            merged = httpx.Headers(merged)
            merged.update(headers)
        try:
            async with deadline:
                request = httpx.Request(
                    method,
                    self._url(path),
                    params=params,
                    headers=merged,
                    content=content,
                    extensions={"timeout": self._timeouts, "trace": progress},
                )
                response = await self._deliver(request)
                try:
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > limit:
                        return _too_large(limit)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > limit:
                            return _too_large(limit)
                        chunks.append(chunk)
                    return response, b"".join(chunks)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            if not deadline.expired():
                raise
            reason = f"timed out: no complete answer within {self._timeout:g}s"
            return _Failure(exc, reason, unsent=progress.unsent)
        except _RETRYABLE_FAILURES as exc:
            unsent = isinstance(exc, _UNSENT_FAILURES)
            return _Failure(exc, describe_failure(exc), unsent=unsent)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # Nothing left for these, except an answer whose body cannot be decoded.
            unsent = not isinstance(exc, httpx.DecodingError)
            return _Failure(exc, describe_failure(exc), unsent=unsent, retryable=False)

    def _url(self, path: str) -> httpx.URL:
        """The URL of `path`, parsed once (httpx's parser costs 5% of a read) and kept, up to
        URLS_KEPT of them."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= URLS_KEPT:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self._prefix + path)
        return url

    async def _deliver(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the auth flow; the answer's body is left to the caller.

        httpx.AsyncClient.send less what these APIs never use, which costs more CPU than the
        transport itself: no redirects are followed (a 3xx is an error here) and no cookies
        are kept (every request carries its own token or signature). Only where the
        environment names a proxy does the request go through httpx's client, which mounts
        its proxies.
        """
        if self._transport is None:
            return await self._http.send(request, stream=True)
        if self._auth is None:
            return await self._hand_over(request)
        flow = self._auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._hand_over(request)
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                except BaseException:
                    await response.aclose()
                    raise
                await response.aread()  # to the end, so that its connection is reused
        finally:
            await flow.aclose()

    async def _hand_over(self, request: httpx.Request) -> httpx.Response:
        assert self._transport is not None  # _deliver's caller checked
        await _handed_over(request)
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    def _observe(self, method: str, code: str, started: float) -> None:
        if self._observer is not None:
            self._observer(self._service, method, code, self._monotonic() - started)

    async def _pause(self, label: str, reason: str, attempt: int, delay: float) -> None:
        _log.warning(
            "%s: %s; retry %d of %d in %.2fs",
            label,
            reason,
            attempt + 1,
            self._retry.attempts - 1,
            delay,
        )
        await self._sleep(delay)

    def _delay_after(self, response: httpx.Response, attempt: int) -> float:
        if response.status_code in (429, 503):
            asked = retry_after_seconds(response, self._clock)
            if asked is not None:
                return min(self._retry.max_delay, asked)
        return self._retry.backoff(attempt, self._jitter())


def _too_large(limit: int) -> _Failure:
    return _Failure(
        None,
        f"the answer is larger than {limit} bytes",
        unsent=False,
        retryable=False,
        malformed=True,
    )


def _outcome_unknown(reason: str, label: str, answered: str = "") -> OutcomeUnknownError:
    return OutcomeUnknownError(f"{reason}; {MAYBE_PROCESSED}", request=label, request_id=answered)


def request_id(response: httpx.Response) -> str:
    """The answer's X-Request-Id, if it has a plausible one (it goes into messages and logs)."""
    value = response.headers.get(REQUEST_ID_HEADER, "")
    return value if _REQUEST_ID.fullmatch(value) else ""


def retry_after_seconds(response: httpx.Response, clock: Callable[[], float]) -> float | None:
    """Seconds the `Retry-After` header asks for, or None when absent or unreadable.

    An HTTP date is measured against the answer's own `Date` header when it has one, so a
    skewed local clock does not stretch or cancel the wait.
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        now = _http_date(response.headers.get("Date", ""))
        return max(0.0, when - (clock() if now is None else now))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _http_date(value: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" parses as naive; HTTP dates are always UTC.
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def parse_json(response: httpx.Response, label: str, body: bytes | None = None) -> object:
    """The answer's JSON (None for an empty body or `null`), else MalformedResponseError.

    `body` is the answer's decoded body where it was read apart from `response` (streamed).

    Integers are read exactly whatever their width: orjson reads those beyond 64 bits as
    floats, so an answer holding a float that large is read again by the standard library,
    after orjson has vetted it, lest a write send such a value back changed.
    """
    if body is None:
        body = response.content
    if not body.strip():
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        content_type = response.headers.get("Content-Type", "none")[:100]
        raise MalformedResponseError(
            f"HTTP {response.status_code} answer is not JSON "
            f"({len(body)} bytes, content type {content_type!r}): {exc}",
            request=label,
            request_id=request_id(response),
        ) from exc
    if _holds_wide_float(value):  # a walk costs less than scanning the text for digits
        return json.loads(body)
    return value


def _holds_wide_float(value: object) -> bool:
    """Whether a parsed answer holds a float beyond 64-bit integers (an iterative walk that
    stacks only containers: a list page holds thousands of scalars).

    A container's types are gathered first, at C speed: only one holding a float has its
    floats looked at, and only one holding containers has them stacked.
    """
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            items: Collection[object] = node.values()
        elif type(node) is list:
            items = node
        else:
            continue
        kinds = set(map(type, items))
        if float in kinds and any(
            type(item) is float and not -_WIDE < item < _WIDE for item in items
        ):
            return True
        if dict in kinds or list in kinds:
            stack.extend(item for item in items if type(item) is dict or type(item) is list)
    return False


def encode_body(value: object) -> bytes:
    """A request body as JSON; integers wider than 64 bits (orjson refuses them) exactly."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        if str(exc) != "Integer exceeds 64-bit range":
            raise
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def status_text(response: httpx.Response, code: str, msg: str) -> str:
    """ "HTTP 404 FDI.3021: message", with the reason phrase when there is no useful code."""
    status = response.status_code
    label = code if code and code != str(status) else response.reason_phrase
    text = f"HTTP {status} {label}".rstrip()
    return f"{text}: {msg}" if msg else text


def status_error(
    response: httpx.Response, label: str, *, attempts: int, body: bytes | None = None
) -> CloudError:
    """The `fdi_drift.errors` exception for an error status, details from its body (`body`
    where it was read apart from `response`)."""
    status = response.status_code
    code, msg = error_details(response.content if body is None else body)
    text = status_text(response, code, msg)
    answered = request_id(response)
    if status in (401, 403):
        return AuthError(text, request=label, request_id=answered)
    kind: type[ApiError] = ApiError
    if status == 404:
        kind = NotFoundError
    elif status == 429:
        kind, text = ThrottledError, f"{text} (after {attempts} attempts)"
    elif status >= 500:
        kind, text = ServerError, f"{text} (after {attempts} attempts)"
    return kind(
        text, request=label, request_id=answered, status=status, error_code=code, error_msg=msg
    )
