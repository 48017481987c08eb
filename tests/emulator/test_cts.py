"""CTS in the emulator: a trace for each successful write, attributed to the caller; ListTraces."""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Caller, Emulator, EmulatorConfig, KeyPair
from fdi_drift.emulator.cli import add_arguments, config_of, run
from fdi_drift.emulator.credentials_file import CredentialsFileError, load_credentials
from fdi_drift.emulator.cts import StoredTrace
from fdi_drift.emulator.iam import invented_id
from tests.emulator.conftest import (
    BASE,
    COMPOSITE,
    JOB,
    JOBS,
    KEY,
    NODES,
    ORDERS,
    PROJECT,
    SAMPLES,
    START,
    TOKEN,
    USER,
    FakeClock,
    login_body,
    update_body,
)
from tests.emulator.signer import sign

TRACES = f"/v3/{PROJECT}/traces"
NOW_MS = int(START * 1000)
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
OTHER_PROJECT = "0f9e8d7c6b5a49382716051423324150"
SOURCE = "30969b205e8f4392a25fb321112d1753"
CREATE = {
    "task_name": "cdc-from-cts-test",
    "task_type": "REALTIME",
    "operation_types": ["INSERT", "UPDATE"],
}
MODIFY = {"description": "changed", "operation_types": ["INSERT"], "repulling_snapshot": False}
RENAME_JOB = {"job": {"type": "name", "params": {"base_info": {"name": "orders-sync-renamed"}}}}
TASK_URL = f"/v2/{PROJECT}/fdi/instances/fae7ff6c-8e07-4cf8-9e67-589cab2f017c/tasks"

# (method, path, body, trace_name, service_type, resource_type, resource_id, resource_name);
# None as resource id: the id the answer names (a created task).
WRITES: list[tuple[str, str, Any, str, str, str, str | None, str]] = [
    ("PUT", f"{BASE}/tasks/{NODES}", update_body(), "updateTask", "ROMA", "task", NODES,
     "nodes-api-to-oracle"),
    ("POST", f"{BASE}/tasks/{ORDERS}/run", None, "operateTask", "ROMA", "task", ORDERS,
     "orders-mysql-to-mysql"),
    ("POST", f"{BASE}/tasks/{ORDERS}/terminate", None, "operateTask", "ROMA", "task", ORDERS,
     "orders-mysql-to-mysql"),
    ("POST", f"{BASE}/multi-tasks", CREATE, "createTask", "ROMA", "task", None,
     "cdc-from-cts-test"),
    ("POST", f"{BASE}/multi-tasks/init", {"task_id": COMPOSITE, "source_datasource_id": SOURCE},
     "updateTask", "ROMA", "task", COMPOSITE, "orders-cdc-mysql-to-dws"),
    ("PUT", f"{BASE}/multi-tasks/{COMPOSITE}", MODIFY, "updateTask", "ROMA", "task", COMPOSITE,
     "orders-cdc-mysql-to-dws"),
    ("PUT", f"{JOBS}/{JOB}", RENAME_JOB, "ModifyJob", "DRS", "job", JOB, "orders-sync-renamed"),
]  # fmt: skip


async def write(client: httpx.AsyncClient, index: int = 0, **options: Any) -> httpx.Response:
    """Send WRITES[index]; assert it succeeded."""
    method, path, body, *_ = WRITES[index]
    answer = await client.request(method, path, json=body, **options)
    assert answer.status_code == 200, answer.text
    return answer


async def listing(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    """ListTraces of PROJECT with `params` (trace_type system unless given)."""
    return await client.get(TRACES, params={"trace_type": "system", **params})


async def traces(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """The traces of one successful ListTraces page."""
    answer = await listing(client, **params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["traces"]
    return found


def add(emulator: Emulator, project: str = PROJECT, **fields: Any) -> StoredTrace:
    """Record a trace directly, with defaults for what a test does not care about."""
    defaults: dict[str, Any] = {
        "trace_name": "updateTask",
        "service_type": "ROMA",
        "resource_type": "task",
        "resource_id": ORDERS,
        "caller": Caller("acme", "ops"),
    }
    return emulator.traces.add(project, **{**defaults, **fields})


def assert_refused(answer: httpx.Response, status: int, code: str, field: str = "") -> None:
    """A CTS error answer with this status and code, naming `field` when given."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error_code", "error_msg"}
    assert body["error_code"] == code
    if field:
        assert f"[{field}]" in body["error_msg"]


# Recording


@pytest.mark.parametrize("index", range(len(WRITES)), ids=[w[3] + ":" + w[1] for w in WRITES])
async def test_each_write_route_records_a_trace(
    client: httpx.AsyncClient, emulator: Emulator, index: int
) -> None:
    """Each write route's success is one trace naming its operation, resource and request id."""
    _, _, _, name, service, resource_type, resource_id, resource_name = WRITES[index]
    answer = await write(client, index)
    if resource_id is None:
        resource_id = answer.json()["task_id"]
    (trace,) = await traces(client)
    assert (trace["trace_name"], trace["service_type"], trace["resource_type"]) == (
        name,
        service,
        resource_type,
    )
    assert (trace["resource_id"], trace["resource_name"]) == (resource_id, resource_name)
    assert trace["request_id"] == answer.headers["x-request-id"]
    assert trace["user"]["name"] == "token-user"
    assert len(emulator.traces.recorded(PROJECT)) == 1


async def test_a_trace_has_every_documented_field(client: httpx.AsyncClient) -> None:
    """The whole Traces object of a task update, as ListTraces answers it."""
    answer = await write(client)
    (trace,) = await traces(client)
    user_id = invented_id("user", "emulator", "token-user")
    domain_id = invented_id("domain", "emulator")
    assert trace == {
        "trace_id": trace["trace_id"],
        "trace_name": "updateTask",
        "trace_rating": "normal",
        "trace_type": "ApiCall",
        "code": "200",
        "api_version": "v2",
        "message": "",
        "time": NOW_MS,
        "record_time": NOW_MS,
        "user": {
            "id": user_id,
            "name": "token-user",
            "user_name": "token-user",
            "domain": {"id": domain_id, "name": "emulator"},
            "account_id": domain_id,
            "principal_id": user_id,
            "principal_urn": f"iam::{domain_id}:user:token-user",
            "principal_is_root_user": "false",
        },
        "service_type": "ROMA",
        "resource_type": "task",
        "resource_id": NODES,
        "resource_name": "nodes-api-to-oracle",
        "source_ip": "127.0.0.1",
        "request_id": answer.headers["x-request-id"],
        "location_info": "",
        "endpoint": "http://emulator.test",
        "resource_url": f"{TASK_URL}/{NODES}",
        "read_only": False,
    }
    assert len(trace["trace_id"]) == 36 and trace["trace_id"].count("-") == 4


async def test_the_source_ip_is_the_client_address(emulator: Emulator) -> None:
    """source_ip is the address the request came from (the ASGI scope's client)."""
    transport = httpx.ASGITransport(app=emulator, client=("203.0.113.7", 51000))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://cts.example.test", headers={"X-Auth-Token": TOKEN}
    ) as http:
        await write(http)
        (trace,) = await traces(http)
    assert trace["source_ip"] == "203.0.113.7"
    assert trace["endpoint"] == "https://cts.example.test"


async def test_an_iam_login_is_attributed_to_its_user(
    anonymous: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A write with an IAM token names the user who logged in, with the login's ids."""
    login = await anonymous.post(
        "/v3/auth/tokens",
        json=login_body(),
    )
    headers = {"X-Auth-Token": login.headers["x-subject-token"]}
    await write(anonymous, headers=headers)
    (trace,) = await traces_with(anonymous, headers)
    logged_in = login.json()["token"]["user"]
    assert trace["user"]["name"] == USER.name
    assert trace["user"]["id"] == logged_in["id"]
    assert trace["user"]["domain"] == logged_in["domain"]


async def traces_with(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The traces of PROJECT, listed with these headers."""
    answer = await client.get(TRACES, params={"trace_type": "system"}, headers=headers)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["traces"]
    return found


async def signed(
    client: httpx.AsyncClient, method: str, path: str, key: KeyPair, **options: Any
) -> httpx.Response:
    """A request signed with `key` at the emulator's start time."""
    request = client.build_request(method, path, **options)
    return await client.send(sign(request, key.access_key, key.secret_key, at=START))


async def test_a_signed_write_is_attributed_to_the_key_pairs_default_owner(
    anonymous: httpx.AsyncClient,
) -> None:
    """Without an owner, a key pair acts as a user named after its access key, domain emulator."""
    method, path, body, *_ = WRITES[0]
    assert (await signed(anonymous, method, path, KEY, json=body)).status_code == 200
    answer = await signed(anonymous, "GET", TRACES, KEY, params={"trace_type": "system"})
    (trace,) = answer.json()["traces"]
    assert trace["user"]["name"] == KEY.access_key
    assert trace["user"]["domain"]["name"] == "emulator"


async def test_a_signed_write_is_attributed_to_the_configured_owner(clock: FakeClock) -> None:
    """A key pair given an owner acts as that user."""
    owned = KeyPair("OWNEDAK0001", "owned-secret-0001", Caller("acme", "deployer"))
    emulator = Emulator(EmulatorConfig(seed_dir=SAMPLES, key_pairs=(owned,)), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        method, path, body, *_ = WRITES[6]
        assert (await signed(http, method, path, owned, json=body)).status_code == 200
    (trace,) = [t.as_json() for t in emulator.traces.listed(PROJECT)]
    assert (trace["user"]["domain"]["name"], trace["user"]["name"]) == ("acme", "deployer")
    assert trace["user"]["id"] == invented_id("user", "acme", "deployer")


async def test_a_static_token_is_attributed_to_its_configured_user(clock: FakeClock) -> None:
    """A static token given a user acts as that user; another static token as token-user."""
    config = EmulatorConfig(
        seed_dir=SAMPLES,
        tokens=frozenset({"robot-token", "plain-token"}),
        token_users=(("robot-token", Caller("acme", "robot")),),
    )
    emulator = Emulator(config, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as http:
        await write(http, 1, headers={"X-Auth-Token": "robot-token"})
        await write(http, 2, headers={"X-Auth-Token": "plain-token"})
    users = [t.caller for t in emulator.traces.recorded(PROJECT)]
    assert users == [Caller("acme", "robot"), Caller("emulator", "token-user")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"{BASE}/tasks/{NODES}", {"task": {}}),
        ("PUT", f"{BASE}/tasks/not-a-task", update_body()),
        ("POST", f"{BASE}/tasks/not-a-task/run", None),
        ("POST", f"{BASE}/multi-tasks", {"task_name": "x"}),
        ("POST", f"{BASE}/multi-tasks/init", {"task_id": "not-a-task"}),
        ("PUT", f"{BASE}/multi-tasks/not-a-task", MODIFY),
        ("PUT", f"{JOBS}/not-a-job", RENAME_JOB),
        ("PUT", f"{JOBS}/{JOB}", {"job": {"type": "nonsense", "params": {}}}),
    ],
)
async def test_a_failed_write_records_nothing(
    client: httpx.AsyncClient, emulator: Emulator, method: str, path: str, body: Any
) -> None:
    """A write the service refuses leaves no trace."""
    answer = await client.request(method, path, json=body)
    assert answer.status_code >= 400
    assert emulator.traces.recorded(PROJECT) == []


@pytest.mark.parametrize(
    "path",
    [f"{BASE}/tasks/{ORDERS}", f"{BASE}/tasks", f"{JOBS}/{JOB}?type=detail", JOBS, TRACES],
)
async def test_a_read_records_nothing(
    client: httpx.AsyncClient, emulator: Emulator, path: str
) -> None:
    """Reads, the trace list included, leave no trace."""
    await client.get(path, params={"trace_type": "system"} if path == TRACES else None)
    assert emulator.traces.recorded(PROJECT) == []


async def test_a_refused_caller_records_nothing(
    anonymous: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A write without credentials is refused by the gateway and leaves no trace."""
    method, path, body, *_ = WRITES[0]
    assert (await anonymous.request(method, path, json=body)).status_code == 401
    assert emulator.traces.recorded(PROJECT) == []


async def test_a_fault_before_the_route_records_nothing(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A planned fault answering instead of the route means no write, so no trace."""
    emulator.faults.inject(path=f"{BASE}/tasks/{NODES}", method="PUT", status=500)
    method, path, body, *_ = WRITES[0]
    assert (await client.request(method, path, json=body)).status_code == 500
    assert emulator.traces.recorded(PROJECT) == []


async def test_a_processed_fault_still_records_the_write(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """A `processed` fault hides the answer of a write that happened: CTS still records it,
    under the request id the client saw."""
    emulator.faults.inject(path=f"{BASE}/tasks/{NODES}", method="PUT", status=500, processed=True)
    method, path, body, *_ = WRITES[0]
    answer = await client.request(method, path, json=body)
    assert answer.status_code == 500
    (trace,) = emulator.traces.recorded(PROJECT)
    assert trace.request_id == answer.headers["x-request-id"]


# Delivery delay


async def test_a_trace_is_listed_only_after_the_delay(clock: FakeClock) -> None:
    """With cts_delay_seconds, a trace is not listed until its time plus the delay."""
    config = EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN}), cts_delay_seconds=60)
    emulator = Emulator(config, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url="http://emulator.test",
        headers={"X-Auth-Token": TOKEN},
    ) as http:
        await write(http)
        clock.advance(59.999)
        assert await traces(http) == []
        clock.advance(0.001)
        (trace,) = await traces(http)
    assert (trace["time"], trace["record_time"]) == (NOW_MS, NOW_MS + 60_000)


def test_a_negative_delay_is_refused() -> None:
    """cts_delay_seconds below 0 is a configuration error."""
    with pytest.raises(ValueError, match="cts_delay_seconds"):
        EmulatorConfig(cts_delay_seconds=-1)


# Paging


async def test_250_traces_come_in_three_pages_newest_first(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """limit=100 over 250 traces: pages of 100, 100 and 50, newest first, each once, the last
    page without a marker."""
    added = [add(emulator, time_ms=NOW_MS - 1000 + i // 3) for i in range(250)]
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        answer = await listing(client, **params)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        marker = answer.json()["meta_data"]["marker"]
        if marker is None:
            break
        params["next"] = marker
    assert [page["meta_data"]["count"] for page in pages] == [100, 100, 50]
    assert [len(page["traces"]) for page in pages] == [100, 100, 50]
    listed = [trace["trace_id"] for page in pages for trace in page["traces"]]
    assert listed == [trace.trace_id for trace in reversed(added)]
    for page in pages[:-1]:
        assert page["meta_data"]["marker"] == page["traces"][-1]["trace_id"]


async def test_the_marker_still_pages_after_new_traces(
    client: httpx.AsyncClient, emulator: Emulator, clock: FakeClock
) -> None:
    """Traces recorded between pages do not shift the next page: it holds the older ones."""
    added = [add(emulator, time_ms=NOW_MS - 100 + i) for i in range(5)]
    first = (await listing(client, limit=2)).json()
    clock.advance(1)
    add(emulator)
    second = (await listing(client, limit=2, next=first["meta_data"]["marker"])).json()
    assert [t["trace_id"] for t in second["traces"]] == [added[2].trace_id, added[1].trace_id]


async def test_limit_defaults_to_10(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """Without limit a page holds 10 traces and a marker."""
    for i in range(12):
        add(emulator, time_ms=NOW_MS - 100 + i)
    body = (await listing(client)).json()
    assert (len(body["traces"]), body["meta_data"]["count"]) == (10, 10)
    assert body["meta_data"]["marker"] == body["traces"][-1]["trace_id"]


# The window


async def test_the_window_defaults_to_the_last_hour(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Without from and to, traces of the last hour are listed and older ones are not."""
    recent = add(emulator, time_ms=NOW_MS - HOUR_MS + 1)
    add(emulator, time_ms=NOW_MS - HOUR_MS - 1)
    assert [t["trace_id"] for t in await traces(client)] == [recent.trace_id]


async def test_from_and_to_are_excluded(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """A trace made exactly at from or at to is outside the window."""
    inside = add(emulator, time_ms=NOW_MS - 500)
    add(emulator, time_ms=NOW_MS - 1000)
    add(emulator, time_ms=NOW_MS - 1)
    found = await traces(client, **{"from": NOW_MS - 1000, "to": NOW_MS - 1})
    assert [t["trace_id"] for t in found] == [inside.trace_id]


async def test_traces_older_than_seven_days_are_gone(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """Only the last seven days are kept, whatever window is asked for."""
    kept = add(emulator, time_ms=NOW_MS - 7 * DAY_MS + 1)
    add(emulator, time_ms=NOW_MS - 7 * DAY_MS)
    window = {"from": NOW_MS - 7 * DAY_MS - 1, "to": NOW_MS - 1}
    assert [t["trace_id"] for t in await traces(client, **window)] == [kept.trace_id]


# Filters


@pytest.mark.parametrize(
    ("param", "value", "field", "other"),
    [
        ("service_type", "DRS", "service_type", "ROMA"),
        ("user", "deployer", "caller", Caller("acme", "ops")),
        ("resource_id", JOB, "resource_id", ORDERS),
        ("resource_name", "Orders", "resource_name", "orders"),
        ("resource_type", "job", "resource_type", "task"),
        ("trace_name", "ModifyJob", "trace_name", "modifyJob"),
        ("trace_rating", "warning", "trace_rating", "normal"),
    ],
)
async def test_each_filter_matches_exactly(
    client: httpx.AsyncClient,
    emulator: Emulator,
    param: str,
    value: str,
    field: str,
    other: object,
) -> None:
    """A filter keeps only the traces whose field equals it (case included)."""
    wanted: object = Caller("acme", value) if field == "caller" else value
    match = add(emulator, **{field: wanted})
    add(emulator, **{field: other})
    assert [t["trace_id"] for t in await traces(client, **{param: value})] == [match.trace_id]


async def test_trace_id_voids_every_other_criterion(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """With trace_id, the trace is listed though the window and filters would exclude it."""
    old = add(emulator, time_ms=NOW_MS - 2 * HOUR_MS, service_type="DRS")
    add(emulator)
    found = await traces(client, trace_id=old.trace_id, service_type="ROMA")
    assert [t["trace_id"] for t in found] == [old.trace_id]


async def test_a_data_query_lists_no_traces(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """trace_type=data is valid; the emulator records management traces only."""
    add(emulator)
    body = (await listing(client, trace_type="data", tracker_name="bucket-tracker")).json()
    assert body == {"traces": [], "meta_data": {"count": 0, "marker": None}}


# Validation


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"trace_type": None}, "trace_type"),
        ({"trace_type": "management"}, "trace_type"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"from": "1700000000"}, "from"),
        ({"to": "17000000000000"}, "to"),
        ({"to": "soon"}, "to"),
        ({"from": str(NOW_MS), "to": str(NOW_MS)}, "from"),
        ({"from": str(NOW_MS), "to": str(NOW_MS - 1)}, "from"),
        ({"from": str(NOW_MS - 7 * DAY_MS - 1), "to": str(NOW_MS)}, "from"),
        ({"trace_rating": "fatal"}, "trace_rating"),
        ({"next": "0b4f8a56-0000-4000-8000-000000000000"}, "next"),
    ],
)
async def test_invalid_query_parameters_answer_cts_0003(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    """Each invalid parameter answers 400 CTS.0003 naming it."""
    query = {"trace_type": "system", **params}
    answer = await client.get(TRACES, params={k: v for k, v in query.items() if v is not None})
    assert_refused(answer, 400, "CTS.0003", field)


async def test_a_system_query_takes_only_the_system_tracker(client: httpx.AsyncClient) -> None:
    """tracker_name other than system with trace_type system answers 400 CTS.0204."""
    assert_refused(await listing(client, tracker_name="mine"), 400, "CTS.0204")
    assert (await listing(client, tracker_name="system")).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "1"},
        {"limit": "200"},
        {"from": str(NOW_MS - 7 * DAY_MS), "to": str(NOW_MS)},
        {"service_type": ""},
        {"access_key_id": "ignored", "enterprise_project_id": "0"},
    ],
)
async def test_valid_edges_are_accepted(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    """The bounds themselves, empty filters and parameters the emulator ignores are fine."""
    assert (await listing(client, **params)).status_code == 200


async def test_a_marker_of_another_project_is_unknown(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """next must name a trace of the path's project."""
    foreign = add(emulator, project=OTHER_PROJECT)
    assert_refused(await listing(client, next=foreign.trace_id), 400, "CTS.0003", "next")


# Projects and authentication


async def test_traces_are_per_project(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """A project's trace list holds only its own traces."""
    mine = add(emulator)
    add(emulator, project=OTHER_PROJECT)
    assert [t["trace_id"] for t in await traces(client)] == [mine.trace_id]


async def test_an_iam_token_lists_only_its_project(
    anonymous: httpx.AsyncClient, emulator: Emulator
) -> None:
    """An IAM token scoped to one project is refused another's traces with 403 APIG.1005."""
    login = await anonymous.post(
        "/v3/auth/tokens",
        json=login_body(project_id=OTHER_PROJECT),
    )
    headers = {"X-Auth-Token": login.headers["x-subject-token"]}
    answer = await anonymous.get(TRACES, params={"trace_type": "system"}, headers=headers)
    assert answer.status_code == 403
    assert answer.json()["error_code"] == "APIG.1005"
    own = f"/v3/{OTHER_PROJECT}/traces"
    assert (await anonymous.get(own, params={"trace_type": "system"}, headers=headers)).is_success


async def test_listing_needs_credentials(anonymous: httpx.AsyncClient) -> None:
    """Without a token or signature the gateway answers 401 APIG.1002."""
    answer = await anonymous.get(TRACES, params={"trace_type": "system"})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "APIG.1002"


async def test_a_bad_project_id_answers_cts_0012(client: httpx.AsyncClient) -> None:
    """A project id the path check refuses answers 403 CTS.0012."""
    answer = await client.get(f"/v3/{'p' * 65}/traces", params={"trace_type": "system"})
    assert_refused(answer, 403, "CTS.0012")


# The control API


async def test_control_adds_an_out_of_band_trace(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """POST /_emulator/traces records a console change by another user; DELETE forgets all."""
    answer = await client.post(
        "/_emulator/traces",
        json={
            "project_id": PROJECT,
            "service_type": "DRS",
            "resource_type": "job",
            "resource_id": JOB,
            "trace_name": "modifyJob",
            "user": "acme/someone-else",
            "source_ip": "198.51.100.4",
            "time": NOW_MS - 5,
        },
    )
    assert answer.status_code == 201, answer.text
    (trace,) = await traces(client)
    assert trace["trace_id"] == answer.json()["trace_id"]
    assert (trace["trace_type"], trace["time"], trace["source_ip"]) == (
        "ConsoleAction",
        NOW_MS - 5,
        "198.51.100.4",
    )
    assert (trace["user"]["domain"]["name"], trace["user"]["name"]) == ("acme", "someone-else")
    assert (await client.delete("/_emulator/traces")).status_code == 204
    assert emulator.traces.recorded(PROJECT) == []


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"project_id": PROJECT},
        {"project_id": PROJECT, "service_type": "DRS", "resource_type": "job",
         "resource_id": JOB, "trace_name": "modifyJob", "colour": "red"},
        {"project_id": PROJECT, "service_type": "DRS", "resource_type": "job",
         "resource_id": JOB, "trace_name": "modifyJob", "user": "nobody"},
        {"project_id": PROJECT, "service_type": "DRS", "resource_type": "job",
         "resource_id": JOB, "trace_name": "modifyJob", "time": "now"},
        {"project_id": PROJECT, "service_type": "DRS", "resource_type": "job",
         "resource_id": JOB, "trace_name": "modifyJob", "trace_rating": "bad"},
    ],
)  # fmt: skip
async def test_control_refuses_a_bad_trace(
    client: httpx.AsyncClient, emulator: Emulator, body: Any
) -> None:
    """A trace body that is not the documented shape answers 400 and records nothing."""
    assert (await client.post("/_emulator/traces", json=body)).status_code == 400
    assert emulator.traces.recorded(PROJECT) == []


# Configuration


def parse(*argv: str) -> argparse.Namespace:
    """The emulator's options parsed from `argv`, with the required ones given."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--port", "0", "--seed", "dir", *argv])


def test_key_pair_option_takes_an_owner() -> None:
    """--key-pair AK:SK:DOMAIN/NAME sets the owner; without a `/` the tail is the secret's."""
    args = parse("--key-pair", "AK1:s:e:c:acme/deployer", "--key-pair", "AK2:s:e:c")
    assert args.key_pair == [
        KeyPair("AK1", "s:e:c", Caller("acme", "deployer")),
        KeyPair("AK2", "s:e:c"),
    ]
    assert args.key_pair[1].caller == Caller("emulator", "AK2")
    assert args.cts_delay_seconds == 0.0


def test_credentials_file_takes_a_key_pair_owner(tmp_path: pathlib.Path) -> None:
    """A key pair entry may name its owner; a malformed owner names the entry."""
    good = tmp_path / "good.yaml"
    good.write_text("key_pairs:\n  - {access_key: AK1, secret_key: s, owner: acme/deployer}\n")
    (pair,) = load_credentials(good).key_pairs
    assert pair.caller == Caller("acme", "deployer")
    bad = tmp_path / "bad.yaml"
    bad.write_text("key_pairs:\n  - {access_key: AK1, secret_key: s, owner: nobody}\n")
    with pytest.raises(CredentialsFileError, match=r"key_pairs\[0\]\.owner"):
        load_credentials(bad)


def test_a_token_user_must_be_a_static_token() -> None:
    """token_users naming a token that is not accepted is a configuration error."""
    with pytest.raises(ValueError, match="static tokens"):
        EmulatorConfig(token_users=(("stranger", Caller("acme", "robot")),))


def test_run_refuses_a_negative_delay(capsys: pytest.CaptureFixture[str]) -> None:
    """--cts-delay-seconds below 0 makes run() return 1 with the reason."""
    assert run(parse("--cts-delay-seconds", "-1")) == 1
    assert "cts_delay_seconds" in capsys.readouterr().err


def test_token_option_takes_a_user() -> None:
    """--token T=DOMAIN/NAME accepts T acting as that user; a token ending in `=` stays whole."""
    config = config_of(
        parse("--token", "robot=acme/robot", "--token", "abc==", "--cts-delay-seconds", "5")
    )
    assert config.tokens == frozenset({"robot", "abc=="})
    assert config.token_users == (("robot", Caller("acme", "robot")),)
    assert config.cts_delay_seconds == 5.0
