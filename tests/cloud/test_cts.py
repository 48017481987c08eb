"""The CTS client against the in-process emulator: paging, the newest write, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from fdi_drift.cloud.auth import StaticToken, TokenAuth
from fdi_drift.cloud.client import ApiClient, ClientPolicy, RetryPolicy
from fdi_drift.cloud.cts import (
    DRS_JOB_RESOURCE_TYPE,
    DRS_SERVICE_TYPE,
    FDI_TASK_RESOURCE_TYPE,
    ROMA_SERVICE_TYPE,
    CtsClient,
    Trace,
)
from fdi_drift.emulator.app import Caller, Emulator, EmulatorConfig
from fdi_drift.emulator.cts import StoredTrace
from fdi_drift.errors import (
    ApiError,
    AuthError,
    CloudError,
    InvalidIdentifierError,
    MalformedResponseError,
)
from tests.cloud.fakes import FakeTime, Script, json_response, make_api
from tests.emulator.conftest import (
    BASE,
    JOB,
    NODES,
    ORDERS,
    PROJECT,
    SAMPLES,
    START,
    TOKEN,
    FakeClock,
    update_body,
)

NOW_MS = int(START * 1000)
TRACES = f"/v3/{PROJECT}/traces"
TASK = {"resource_type": FDI_TASK_RESOURCE_TYPE, "service_type": ROMA_SERVICE_TYPE}
WINDOW = {"since": START - 3600, "until": START}
ALICE, BOB = Caller("acme", "alice"), Caller("acme", "bob")


@pytest.fixture
def clock() -> FakeClock:
    """The emulator's clock."""
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Emulator:
    """An emulator with the samples, accepting TOKEN."""
    return Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})), clock=clock)


def api_on(emulator: Emulator, token: str = TOKEN) -> ApiClient:
    """An ApiClient on the emulator in process, sending `token`, failing fast."""
    fake = FakeTime()
    return ApiClient(
        service="cts",
        base_url="http://emulator.test",
        auth=TokenAuth(StaticToken(token, "the test token")),
        transport=httpx.ASGITransport(app=emulator),
        policy=ClientPolicy(retry=RetryPolicy(attempts=1)),
        sleep=fake.sleep,
        monotonic=fake.monotonic,
    )


@pytest.fixture
async def cts(emulator: Emulator) -> AsyncIterator[CtsClient]:
    """A CtsClient on the emulator."""
    api = api_on(emulator)
    yield CtsClient(api)
    await api.aclose()


def add(emulator: Emulator, seconds_ago: float, **fields: Any) -> StoredTrace:
    """A trace of ORDERS made `seconds_ago` before START, fields replaced."""
    values: dict[str, Any] = {
        "trace_name": "updateTask",
        "service_type": ROMA_SERVICE_TYPE,
        "resource_type": FDI_TASK_RESOURCE_TYPE,
        "resource_id": ORDERS,
        "caller": ALICE,
        **fields,
    }
    return emulator.traces.add(PROJECT, time_ms=NOW_MS - round(seconds_ago * 1000), **values)


def trace_queries(emulator: Emulator) -> list[dict[str, list[str]]]:
    """The queries of the trace list requests the emulator answered, in order."""
    return [parse_qs(entry.query) for entry in emulator.requests if entry.path == TRACES]


async def test_list_traces_follows_the_marker_through_every_page(
    cts: CtsClient, emulator: Emulator
) -> None:
    """250 traces at 100 a page: three requests, each trace once, newest first."""
    added = [add(emulator, 1000 - i) for i in range(250)]
    found = await cts.list_traces(PROJECT, resource_id=ORDERS, limit=100, **TASK, **WINDOW)
    assert [trace.trace_id for trace in found] == [t.trace_id for t in reversed(added)]
    queries = trace_queries(emulator)
    assert [query.get("next") for query in queries] == [
        None,
        [added[150].trace_id],
        [added[50].trace_id],
    ]
    assert {query["limit"][0] for query in queries} == {"100"}


async def test_list_traces_asks_for_the_resource_and_window(
    cts: CtsClient, emulator: Emulator
) -> None:
    """The query names the service, resource and window; traces at since and at until count."""
    at_since = add(emulator, 3600)
    at_until = add(emulator, 0)
    add(emulator, 3600.001)
    add(emulator, 10, resource_id=NODES)
    add(emulator, 10, service_type=DRS_SERVICE_TYPE)
    found = await cts.list_traces(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    assert [trace.trace_id for trace in found] == [at_until.trace_id, at_since.trace_id]
    (query,) = trace_queries(emulator)
    assert query == {
        "trace_type": ["system"],
        "service_type": ["ROMA"],
        "resource_type": ["task"],
        "resource_id": [ORDERS],
        "from": [str(NOW_MS - 3600_000 - 1)],
        "to": [str(NOW_MS + 1)],
        "limit": ["200"],
    }


async def test_a_window_over_seven_days_is_narrowed(cts: CtsClient, emulator: Emulator) -> None:
    """A since earlier than seven days before until asks for seven days, which CTS accepts."""
    await cts.list_traces(PROJECT, resource_id=ORDERS, since=0.0, until=START, **TASK)
    (query,) = trace_queries(emulator)
    assert int(query["to"][0]) - int(query["from"][0]) == 7 * 24 * 3600 * 1000
    assert emulator.requests[-1].status == 200


async def test_a_trace_carries_what_the_daemon_records(cts: CtsClient, emulator: Emulator) -> None:
    """A real write through the emulator comes back as a Trace naming its caller and request."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator, client=("192.0.2.10", 40000)),
        base_url="http://emulator.test",
        headers={"X-Auth-Token": TOKEN},
    ) as http:
        answer = await http.put(f"{BASE}/tasks/{NODES}", json=update_body())
    newest = await cts.newest_write(PROJECT, resource_id=NODES, **TASK, **WINDOW)
    assert newest == Trace(
        trace_id=emulator.traces.recorded(PROJECT)[0].trace_id,
        trace_name="updateTask",
        time=START,
        user_name="token-user",
        user_domain="emulator",
        source_ip="192.0.2.10",
        request_id=answer.headers["x-request-id"],
    )


async def test_newest_write_picks_the_newest_successful_write_in_the_window(
    cts: CtsClient, emulator: Emulator
) -> None:
    """Reads, failed writes and writes after until do not count; the newest write does."""
    add(emulator, 50, caller=ALICE)
    bob = add(emulator, 40, trace_name="operateTask", caller=BOB)
    add(emulator, 30, trace_name="showTask", caller=Caller("acme", "reader"))
    add(emulator, 20, trace_rating="warning", caller=Caller("acme", "failed"))
    emulator.traces.add(
        PROJECT,
        trace_name="updateTask",
        service_type=ROMA_SERVICE_TYPE,
        resource_type=FDI_TASK_RESOURCE_TYPE,
        resource_id=ORDERS,
        caller=Caller("acme", "later"),
        time_ms=NOW_MS + 1,
    )
    newest = await cts.newest_write(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    assert newest is not None
    assert (newest.trace_id, newest.user_name, newest.user_domain) == (bob.trace_id, "bob", "acme")
    (query,) = trace_queries(emulator)
    assert query["trace_rating"] == ["normal"]


async def test_newest_write_reads_trace_names_in_any_case(
    cts: CtsClient, emulator: Emulator
) -> None:
    """DRS's pages spell the update modifyJob and ModifyJob: both are writes."""
    older = {"resource_id": JOB, "trace_name": "ModifyJob", "caller": ALICE}
    add(emulator, 20, resource_type=DRS_JOB_RESOURCE_TYPE, service_type="DRS", **older)
    newer = {"resource_id": JOB, "trace_name": "modifyJob", "caller": BOB}
    add(emulator, 10, resource_type=DRS_JOB_RESOURCE_TYPE, service_type="DRS", **newer)
    newest = await cts.newest_write(
        PROJECT,
        resource_type=DRS_JOB_RESOURCE_TYPE,
        service_type=DRS_SERVICE_TYPE,
        resource_id=JOB,
        **WINDOW,
    )
    assert newest is not None and newest.user_name == "bob"


async def test_newest_write_stops_at_the_first_page_with_a_write(
    cts: CtsClient, emulator: Emulator
) -> None:
    """With 300 traces and the newest a write, one page is read."""
    for i in range(300):
        add(emulator, 1000 - i)
    newest = await cts.newest_write(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    assert newest is not None and newest.time == START - 701
    assert len(trace_queries(emulator)) == 1


async def test_newest_write_reads_on_past_pages_without_writes(
    cts: CtsClient, emulator: Emulator
) -> None:
    """A page holding no write sends the reader to the next page."""
    write = add(emulator, 500, caller=BOB)
    for i in range(200):
        add(emulator, 100 - i * 0.1, trace_name="showTask")
    newest = await cts.newest_write(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    assert newest is not None and newest.trace_id == write.trace_id
    assert len(trace_queries(emulator)) == 2


async def test_nothing_in_the_window_is_none(cts: CtsClient, emulator: Emulator) -> None:
    """No trace of the resource in the window: no write, and an empty list."""
    add(emulator, 7200)
    assert await cts.newest_write(PROJECT, resource_id=ORDERS, **TASK, **WINDOW) is None
    assert await cts.list_traces(PROJECT, resource_id=ORDERS, **TASK, **WINDOW) == []


async def test_more_pages_than_allowed_raise(emulator: Emulator) -> None:
    """Past max_pages the list raises CloudError instead of answering a short list."""
    for i in range(250):
        add(emulator, 1000 - i)
    api = api_on(emulator)
    client = CtsClient(api, max_pages=2)
    with pytest.raises(CloudError, match="more than 2 pages of 100 traces") as caught:
        await client.list_traces(PROJECT, resource_id=ORDERS, limit=100, **TASK, **WINDOW)
    assert caught.value.request == f"GET {TRACES}"
    await api.aclose()


async def test_a_refused_token_is_an_auth_error(emulator: Emulator) -> None:
    """The gateway's 401 reaches the caller as AuthError."""
    api = api_on(emulator, token="not-the-token")
    with pytest.raises(AuthError):
        await CtsClient(api).list_traces(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    await api.aclose()


async def test_a_refused_query_is_an_api_error(cts: CtsClient) -> None:
    """CTS's 400 reaches the caller as ApiError with its code."""
    with pytest.raises(ApiError) as caught:
        await cts.list_traces(PROJECT, resource_id=ORDERS, trace_type="audit", **TASK, **WINDOW)
    assert (caught.value.status, caught.value.error_code) == (400, "CTS.0003")


async def test_bad_arguments_are_refused_before_any_request(
    cts: CtsClient, emulator: Emulator
) -> None:
    """An unsafe project id or an empty window raises without asking CTS."""
    with pytest.raises(InvalidIdentifierError):
        await cts.list_traces("../x", resource_id=ORDERS, **TASK, **WINDOW)
    with pytest.raises(ValueError, match="since"):
        await cts.newest_write(PROJECT, resource_id=ORDERS, since=START, until=START, **TASK)
    assert trace_queries(emulator) == []
    api = api_on(emulator)
    with pytest.raises(ValueError, match="max_pages"):
        CtsClient(api, max_pages=0)
    await api.aclose()


ENTRY: dict[str, Any] = {"trace_id": "t-1", "trace_name": "updateTask", "time": NOW_MS}


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ([], "page 1"),
        ({"traces": {"trace_id": "t-1"}}, "`traces`"),
        ({"traces": ["t-1"]}, "`traces[0]`"),
        ({"traces": [{**ENTRY, "time": "private-value"}]}, "`traces[0].time`"),
        ({"traces": [{**ENTRY, "time": True}]}, "`traces[0].time`"),
        ({"traces": [{**ENTRY, "trace_id": ""}]}, "`traces[0].trace_id`"),
        ({"traces": [{**ENTRY, "trace_name": None}]}, "`traces[0].trace_name`"),
        ({"traces": [{**ENTRY, "user": "private-value"}]}, "`traces[0].user`"),
        ({"traces": [{**ENTRY, "user": {"domain": []}}]}, "`traces[0].user.domain`"),
        ({"traces": [{**ENTRY, "user": {"name": 7}}]}, "`traces[0].user.name`"),
        ({"traces": [{**ENTRY, "source_ip": ["private-value"]}]}, "`traces[0].source_ip`"),
        ({"traces": [ENTRY], "meta_data": "private-value"}, "`meta_data`"),
        ({"traces": [ENTRY], "meta_data": {"marker": 5}}, "`meta_data.marker`"),
        ({"traces": [ENTRY, {**ENTRY, "trace_id": "t-2"}]}, "more than the limit 1"),
    ],
)
async def test_malformed_answers_name_the_field(answer: object, field: str) -> None:
    """An answer off the documented shape raises MalformedResponseError naming the field, never
    quoting its value."""
    client = CtsClient(make_api(Script(json_response(200, answer)), FakeTime()))
    with pytest.raises(MalformedResponseError) as caught:
        await client.list_traces(PROJECT, resource_id=ORDERS, limit=1, **TASK, **WINDOW)
    assert field in str(caught.value)
    assert "private-value" not in str(caught.value)


async def test_a_repeated_marker_is_malformed() -> None:
    """A marker the service already gave would loop for ever: it raises instead."""
    page = {"traces": [ENTRY], "meta_data": {"count": 1, "marker": "t-1"}}
    script = Script(json_response(200, page))
    client = CtsClient(make_api(script, FakeTime()))
    with pytest.raises(MalformedResponseError, match="of page 2 repeats"):
        await client.list_traces(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    assert len(script.seen) == 2


async def test_absent_optional_fields_read_as_empty() -> None:
    """A system action without user or source_ip, and a page without meta_data, are fine; a
    trace of another resource, should CTS ignore the criterion, is dropped."""
    answer = {
        "traces": [
            {**ENTRY, "user": None},
            {**ENTRY, "trace_id": "t-2", "resource_id": NODES},
        ]
    }
    client = CtsClient(make_api(Script(json_response(200, answer)), FakeTime()))
    (trace,) = await client.list_traces(PROJECT, resource_id=ORDERS, **TASK, **WINDOW)
    assert (trace.user_name, trace.user_domain, trace.source_ip, trace.request_id) == (
        "",
        "",
        "",
        "",
    )
