"""The DRS v5 job routes: detail, list and the typed update, with auth and fighting."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from fdi_drift.emulator.app import Emulator
from tests.emulator.conftest import JOB, JOBS, PROJECT, USER, job_body

DETAIL = {"type": "detail"}
NOT_FOUND = {"error_code": "DRS.10000010", "error_msg": "Job does not exist, please check job ID."}
VOLATILE = ("progress_info", "metrics")
NEW_SOURCE = [
    {
        "db_type": "mysql",
        "endpoint_type": "offline",
        "endpoint_role": "so",
        "endpoint": {
            "endpoint_name": "mysql",
            "ip": "10.0.0.9",
            "db_port": "3306",
            "db_user": "drs_sync",
            "db_password": "n3w-s3cret",
        },
        "ssl": {"ssl_link": False},
    }
]


def stable(job: dict[str, Any]) -> dict[str, Any]:
    """A detail job without the fields that change on every read."""
    return {key: value for key, value in job.items() if key not in VOLATILE}


def typed(update_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """A typed update body."""
    return {"job": {"type": update_type, "params": params}}


async def detail(client: httpx.AsyncClient, job_id: str = JOB) -> dict[str, Any]:
    """GET the job in detail and return the job object."""
    answer = await client.get(f"{JOBS}/{job_id}", params=DETAIL)
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()["job"]
    return job


def tuning_entry(name: str, value: str, *, available: bool = True) -> dict[str, Any]:
    """One TuningParameter as a detail read lists it."""
    return {"param_name": name, "param_value": value, "availability": available}


def updated(name: str = "orders-sync-prod") -> dict[str, str]:
    """The answer to a successful update of the sample job (UpdateJobResponse)."""
    return {"id": JOB, "name": name, "status": "success"}


def another_job(job_id: str, name: str, create_time: str) -> dict[str, Any]:
    """The sample job under another id, name and creation time."""
    body = job_body()
    body["job"].update(id=job_id, create_time=create_time)
    body["job"]["base_info"]["name"] = name
    return body


async def test_detail_answers_the_seed_plus_volatile_fields(client: httpx.AsyncClient) -> None:
    """The detail answers the sample file's job, plus progress_info and metrics."""
    answer = await client.get(f"{JOBS}/{JOB}", params=DETAIL)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    job = answer.json()["job"]
    assert stable(job) == job_body()["job"]
    assert set(VOLATILE) <= set(job)
    assert job["progress_info"]["transfer_status"] == "INCRE_TRANSFER_STARTED"
    assert job["metrics"]["job_id"] == JOB


async def test_detail_holds_every_aspect(client: httpx.AsyncClient) -> None:
    """The detail carries every documented aspect a drift tool compares."""
    job = await detail(client)
    for key in (
        "id",
        "status",
        "create_time",
        "base_info",
        "source_endpoint",
        "target_endpoint",
        "alarm_notify",
        "speed_limit",
        "user_migration",
        "policy_config",
        "db_object",
        "db_param",
        "tuning_params",
        "period_order",
        "node_info",
    ):
        assert key in job, key
    assert isinstance(job["base_info"]["expired_days"], str)
    assert set(job["tuning_params"]) == {"full_sync", "incre_capture", "incre_apply", "incre_relay"}


async def test_tuning_params_read_as_lists_of_entries(client: httpx.AsyncClient) -> None:
    """Each tuning group reads as a list of {param_name, param_value, availability} (SDK shape)."""
    tuning = (await detail(client))["tuning_params"]
    for group, entries in tuning.items():
        assert isinstance(entries, list) and entries, group
        for entry in entries:
            assert set(entry) == {"param_name", "param_value", "availability"}
            assert isinstance(entry["param_name"], str) and isinstance(entry["param_value"], str)
            assert isinstance(entry["availability"], bool)
    assert tuning["incre_apply"][0] == tuning_entry("apply_threads", "16")
    assert tuning_entry("relay_compress", "false", available=False) in tuning["incre_relay"]


async def test_volatile_fields_move_between_reads(client: httpx.AsyncClient) -> None:
    """Two reads in a row differ in progress_info and metrics, and in nothing else."""
    first = await detail(client)
    second = await detail(client)
    assert first["progress_info"]["progress"] != second["progress_info"]["progress"]
    assert first["metrics"] != second["metrics"]
    assert stable(first) == stable(second)


@pytest.mark.parametrize("params", [{}, {"type": "overview"}, {"type": ""}, {"type": "DETAIL"}])
async def test_detail_needs_type_detail(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    """A missing or other type answers 400 DRS.10000001 naming type."""
    answer = await client.get(f"{JOBS}/{JOB}", params=params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "DRS.10000001"
    assert len(body["error_code"]) == 12
    assert "[type]" in body["error_msg"]


async def test_unknown_job_answers_drs_10000010(client: httpx.AsyncClient) -> None:
    """Reading or updating a job the project lacks answers seed 001's 400 body."""
    answer = await client.get(f"{JOBS}/no-such-job", params=DETAIL)
    assert (answer.status_code, answer.json()) == (400, NOT_FOUND)
    name = typed("name", {"base_info": {"name": "DRS-1234"}})
    answer = await client.put(f"{JOBS}/no-such-job", json=name)
    assert (answer.status_code, answer.json()) == (400, NOT_FOUND)


async def test_jobs_are_per_project(client: httpx.AsyncClient) -> None:
    """Another project neither reads nor lists the sample job."""
    answer = await client.get(f"/v5/other-project/jobs/{JOB}", params=DETAIL)
    assert answer.json() == NOT_FOUND
    listing = (await client.get("/v5/other-project/jobs")).json()
    assert listing == {"total_count": 0, "jobs": []}


async def test_list_answers_job_list_entries(client: httpx.AsyncClient) -> None:
    """The list answers total_count and JobListResp entries built from base_info."""
    answer = await client.get(JOBS)
    assert answer.status_code == 200
    listing = answer.json()
    assert listing["total_count"] == 1
    entry = listing["jobs"][0]
    base = job_body()["job"]["base_info"]
    assert entry["id"] == JOB
    assert entry["name"] == "orders-sync-prod"
    assert entry["status"] == "INCRE_TRANSFER_STARTED"
    assert entry["create_time"] == job_body()["job"]["create_time"]
    for key in (
        "description",
        "engine_type",
        "net_type",
        "job_direction",
        "job_type",
        "task_type",
        "enterprise_project_id",
        "charging_mode",
    ):
        assert entry[key] == base[key], key


async def test_list_pages_newest_first(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """Jobs list newest first; offset is an item offset and limit a page size."""
    emulator.drs.add_job(PROJECT, another_job("job-newer", "newer-job", "1800000000000"))
    emulator.drs.add_job(PROJECT, another_job("job-older", "older-job", "1600000000000"))
    everything = (await client.get(JOBS)).json()
    assert [j["id"] for j in everything["jobs"]] == ["job-newer", JOB, "job-older"]
    page = (await client.get(JOBS, params={"offset": 1, "limit": 1})).json()
    assert (page["total_count"], [j["id"] for j in page["jobs"]]) == (3, [JOB])
    past = (await client.get(JOBS, params={"offset": 5})).json()
    assert (past["total_count"], past["jobs"]) == (3, [])


async def test_list_default_limit_is_ten(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """Without limit the list answers at most ten jobs; limit 1000 is accepted."""
    for n in range(11):
        emulator.drs.add_job(PROJECT, another_job(f"job-{n:02}", f"job-{n:02}", str(1000 + n)))
    assert len((await client.get(JOBS)).json()["jobs"]) == 10
    assert len((await client.get(JOBS, params={"limit": 1000})).json()["jobs"]) == 12


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "1.5"}, "offset"),
    ],
)
async def test_list_refuses_bad_paging(
    client: httpx.AsyncClient, params: dict[str, str | int], field: str
) -> None:
    """A bad offset or limit answers 400 DRS.10000001 naming it."""
    answer = await client.get(JOBS, params=params)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "DRS.10000001"
    assert f"[{field}]" in answer.json()["error_msg"]


async def test_drs_routes_need_a_token(emulator: Emulator) -> None:
    """Without X-Auth-Token every DRS route answers 401."""
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://e") as anonymous:
        assert (await anonymous.get(JOBS)).status_code == 401
        assert (await anonymous.get(f"{JOBS}/{JOB}", params=DETAIL)).status_code == 401
        assert (await anonymous.put(f"{JOBS}/{JOB}", json={})).status_code == 401


async def test_iam_tokens_are_scoped_to_their_project(emulator: Emulator) -> None:
    """An IAM token reads its own project's jobs and gets 403 for another project's."""
    login = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": USER.name,
                        "password": USER.password,
                        "domain": {"name": USER.domain},
                    }
                },
            },
            "scope": {"project": {"id": PROJECT}},
        }
    }
    transport = httpx.ASGITransport(app=emulator)
    async with httpx.AsyncClient(transport=transport, base_url="http://e") as http:
        token = (await http.post("/v3/auth/tokens", json=login)).headers["x-subject-token"]
        headers = {"X-Auth-Token": token}
        assert (await http.get(JOBS, headers=headers)).status_code == 200
        assert (await http.get("/v5/other/jobs", headers=headers)).status_code == 403


@pytest.mark.parametrize(
    ("path", "field"),
    [(f"{JOBS}/{'j' * 65}", "job_id"), (f"/v5/{'p' * 65}/jobs", "project_id")],
)
async def test_path_ids_are_checked_with_a_drs_error(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    """A path id longer than 64 characters answers 400 DRS.10000001 naming it."""
    answer = await client.get(path, params=DETAIL)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "DRS.10000001"
    assert f"[{field}]" in answer.json()["error_msg"]


NOTIFY = {"alarm_to_user": False, "topic_urn": "urn:smn:x", "delay_time": 60, "rpo_delay": 5}
SPEED = [
    {"begin": "02:00", "end": "03:59", "speed": "9999"},
    {"begin": "22:30", "end": "23:59", "speed": "1"},
]
POLICY = {"conflict_policy": "ignore", "index_trans": False, "dml_types": "i,u"}
DB_OBJECT = {
    "object_scope": "database",
    "object_info": {"orders": {"name": "orders", "all": True}},
}
TUNING = {"incre_capture": {"capture_batch_size": "2000"}, "incre_apply": {"apply_threads": "32"}}

# (type, params, job keys to change, their new values as the detail shows them)
TYPED_UPDATES: list[tuple[str, dict[str, Any], tuple[str, ...], Any]] = [
    ("name", {"base_info": {"name": "orders-sync-v2"}}, ("base_info", "name"), "orders-sync-v2"),
    ("description", {"base_info": {"description": ""}}, ("base_info", "description"), ""),
    ("expired_days", {"base_info": {"expired_days": "100"}}, ("base_info", "expired_days"), "100"),
    ("notify", {"alarm_notify": NOTIFY}, ("alarm_notify",), NOTIFY),
    ("speed_limit", {"speed_limit": SPEED}, ("speed_limit",), SPEED),
    ("speed_limit", {"speed_limit": []}, ("speed_limit",), []),
    ("policy", {"policy_config": POLICY}, ("policy_config",), POLICY),
    ("db_object", {"db_object": DB_OBJECT}, ("db_object",), DB_OBJECT),
    (
        "endpoint",
        {"source_endpoint": NEW_SOURCE},
        ("source_endpoint",),
        json.loads(json.dumps(NEW_SOURCE).replace("n3w-s3cret", "******")),
    ),
    (
        "tuning_param",
        {"tuning_params": TUNING},
        ("tuning_params",),
        {
            **job_body()["job"]["tuning_params"],
            "incre_capture": [
                tuning_entry("capture_batch_size", "2000"),
                tuning_entry("capture_parallel_tables", "false", available=False),
            ],
            "incre_apply": [
                tuning_entry("apply_threads", "32"),
                tuning_entry("apply_batch_size", "500"),
                tuning_entry("apply_conflict_retries", "3"),
            ],
        },
    ),
]


@pytest.mark.parametrize(
    ("update_type", "params", "path", "shown"),
    TYPED_UPDATES,
    ids=[f"{t[0]}-{i}" for i, t in enumerate(TYPED_UPDATES)],
)
async def test_typed_update_changes_only_its_aspect(
    client: httpx.AsyncClient,
    update_type: str,
    params: dict[str, Any],
    path: tuple[str, ...],
    shown: Any,
) -> None:
    """Each typed update answers 200 {id, name, status} and changes its aspect, nothing else."""
    before = stable(await detail(client))
    answer = await client.put(f"{JOBS}/{JOB}", json=typed(update_type, params))
    name = shown if update_type == "name" else "orders-sync-prod"
    assert (answer.status_code, answer.json()) == (200, updated(name))
    after = stable(await detail(client))
    expected = copy.deepcopy(before)
    target = expected
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = shown
    assert after == expected
    assert after != before


async def test_tuning_update_merges_maps_into_the_lists(client: httpx.AsyncClient) -> None:
    """A map update changes the named entries' values only; recovery restores the seed's lists."""
    params = {
        "tuning_params": {
            "full_sync": {"full_sync_fetch_rows": "20000"},
            "incre_capture": {},
            "incre_apply": {"apply_batch_size": "800"},
        }
    }
    answer = await client.put(f"{JOBS}/{JOB}", json=typed("tuning_param", params))
    assert (answer.status_code, answer.json()) == (200, updated())
    tuning = (await detail(client))["tuning_params"]
    seeded = job_body()["job"]["tuning_params"]
    assert tuning["full_sync"] == [
        seeded["full_sync"][0],
        tuning_entry("full_sync_fetch_rows", "20000"),
    ]
    assert tuning["incre_apply"][1] == tuning_entry("apply_batch_size", "800")
    assert [tuning[g] for g in ("incre_capture", "incre_relay")] == [
        seeded[g] for g in ("incre_capture", "incre_relay")
    ]
    recovery = {"tuning_params": {"incre_capture": {}, "incre_apply": {}, "recovery": True}}
    assert (await client.put(f"{JOBS}/{JOB}", json=typed("tuning_param", recovery))).is_success
    assert (await detail(client))["tuning_params"] == seeded


@pytest.mark.parametrize(
    ("group", "name", "problem"),
    [
        ("incre_apply", "apply_workers", "no such tuning parameter"),
        ("incre_relay", "apply_threads", "no such tuning parameter"),
        ("incre_relay", "relay_compress", "not available"),
    ],
)
async def test_tuning_update_of_a_parameter_not_the_jobs_is_refused(
    client: httpx.AsyncClient, group: str, name: str, problem: str
) -> None:
    """A name its group lacks, or an unavailable one, is a 400 naming it; nothing changes."""
    maps: dict[str, Any] = {"incre_capture": {}, "incre_apply": {"apply_threads": "64"}}
    maps.setdefault(group, {})[name] = "1"
    answer = await client.put(f"{JOBS}/{JOB}", json=typed("tuning_param", {"tuning_params": maps}))
    assert answer.status_code == 400
    error = answer.json()
    assert error["error_code"] == "DRS.10000001"
    assert f"[job.params.tuning_params.{group}.{name}]" in error["error_msg"]
    assert problem in error["error_msg"]
    assert stable(await detail(client)) == job_body()["job"]


async def test_the_seed_examples_are_accepted(client: httpx.AsyncClient) -> None:
    """Seed 001's example bodies for name, description, expired_days and policy answer 200."""
    for body in (
        typed("name", {"base_info": {"name": "DRS-1234"}}),
        typed("description", {"base_info": {"description": "drs-test"}}),
        typed("expired_days", {"base_info": {"expired_days": "14"}}),
        typed(
            "policy",
            {
                "policy_config": {
                    "conflict_policy": "overwrite",
                    "filter_ddl_policy": "drop_database",
                    "index_trans": True,
                    "ddl_trans": True,
                    "dml_types": "i,u,d",
                    "data_sync_topology_type": "one2one",
                    "support_ddl_info": "CREATE_TABLE",
                }
            },
        ),
    ):
        answer = await client.put(f"{JOBS}/{JOB}", json=body)
        # The first renames the job to DRS-1234: every answer after it carries that name.
        assert (answer.status_code, answer.json()) == (200, updated("DRS-1234")), body
    assert (await detail(client))["base_info"]["name"] == "DRS-1234"


async def test_endpoint_password_is_stored_but_never_shown(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """An endpoint update keeps the real password; the detail and request log show it masked."""
    body = typed("endpoint", {"source_endpoint": NEW_SOURCE})
    assert (await client.put(f"{JOBS}/{JOB}", json=body)).status_code == 200
    stored = emulator.drs.get(PROJECT, JOB)
    assert stored is not None
    source = stored.job["source_endpoint"]
    assert isinstance(source, list)
    assert source[0]["endpoint"]["db_password"] == "n3w-s3cret"
    shown = await detail(client)
    assert shown["source_endpoint"][0]["endpoint"]["db_password"] == "******"
    assert shown["target_endpoint"][0]["endpoint"]["db_password"] == "******"
    put = next(r for r in emulator.requests if r.method == "PUT")
    assert b"n3w-s3cret" not in put.body
    assert (
        json.loads(put.body)["job"]["params"]["source_endpoint"][0]["endpoint"]["db_password"]
        == "******"
    )


@pytest.mark.parametrize("password", ["******", ""])
async def test_endpoint_update_refuses_a_masked_password(
    client: httpx.AsyncClient, password: str
) -> None:
    """An endpoint update whose db_password is masked or empty answers 400 naming it."""
    endpoint = copy.deepcopy(NEW_SOURCE)
    endpoint[0]["endpoint"]["db_password"] = password
    answer = await client.put(
        f"{JOBS}/{JOB}", json=typed("endpoint", {"source_endpoint": endpoint})
    )
    assert answer.status_code == 400
    assert "[job.params.source_endpoint[0].endpoint.db_password]" in answer.json()["error_msg"]


async def test_masked_detail_endpoints_cannot_be_written_back(client: httpx.AsyncClient) -> None:
    """Sending the endpoints a detail read answered is refused: their passwords are masked."""
    job = await detail(client)
    params = {"source_endpoint": job["source_endpoint"], "target_endpoint": job["target_endpoint"]}
    answer = await client.put(f"{JOBS}/{JOB}", json=typed("endpoint", params))
    assert answer.status_code == 400
    assert "db_password" in answer.json()["error_msg"]


async def test_typed_puts_are_recorded(client: httpx.AsyncClient, emulator: Emulator) -> None:
    """Each typed PUT lands in the request log with its path, body and status."""
    await client.put(f"{JOBS}/{JOB}", json=typed("name", {"base_info": {"name": "abcd"}}))
    await client.put(f"{JOBS}/{JOB}", json=typed("name", {"base_info": {"name": "ab"}}))
    puts = [r for r in emulator.requests if r.method == "PUT"]
    assert [(r.path, r.status) for r in puts] == [(f"{JOBS}/{JOB}", 200), (f"{JOBS}/{JOB}", 400)]
    assert [json.loads(r.body)["job"]["type"] for r in puts] == ["name", "name"]


async def test_fighting_undoes_a_typed_update_at_the_next_list(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    """With fighting on, an update holds until the project's jobs are listed, then is undone."""
    emulator.store.fighting = True
    await client.put(f"{JOBS}/{JOB}", json=typed("name", {"base_info": {"name": "renamed"}}))
    await client.put(f"{JOBS}/{JOB}", json=typed("speed_limit", {"speed_limit": []}))
    assert (await detail(client))["base_info"]["name"] == "renamed"
    await client.get(JOBS)
    assert stable(await detail(client)) == job_body()["job"]


async def test_no_fighting_by_default(client: httpx.AsyncClient) -> None:
    """Without fighting, listing leaves a typed update in place."""
    await client.put(f"{JOBS}/{JOB}", json=typed("name", {"base_info": {"name": "renamed"}}))
    await client.get(JOBS)
    assert (await detail(client))["base_info"]["name"] == "renamed"


def base_info(**fields: Any) -> dict[str, Any]:
    """Params holding a base_info with these fields."""
    return {"base_info": fields}


BAD_UPDATES: list[tuple[str, Any, str]] = [
    ("job missing", {}, "job"),
    ("job a list", {"job": []}, "job"),
    ("type missing", {"job": {"params": {}}}, "job.type"),
    ("type unknown", typed("rename", {}), "job.type"),
    ("type unsupported", typed("re_create", {}), "job.type"),
    ("params missing", {"job": {"type": "name"}}, "job.params"),
    ("base_info missing", typed("name", {}), "job.params.base_info"),
    ("name missing", typed("name", base_info(description="x")), "job.params.base_info.name"),
    ("name too short", typed("name", base_info(name="abc")), "job.params.base_info.name"),
    ("name too long", typed("name", base_info(name="a" * 51)), "job.params.base_info.name"),
    ("name with a dot", typed("name", base_info(name="abc.d")), "job.params.base_info.name"),
    (
        "other base_info field bad",
        typed("name", base_info(name="abcd", expired_days="5")),
        "job.params.base_info.expired_days",
    ),
    (
        "description too long",
        typed("description", base_info(description="d" * 257)),
        "job.params.base_info.description",
    ),
    *(
        (
            f"description with {char}",
            typed("description", base_info(description=f"a{char}b")),
            "job.params.base_info.description",
        )
        for char in "!<>'&\"\\"
    ),
    (
        "expired_days 13",
        typed("expired_days", base_info(expired_days="13")),
        "job.params.base_info.expired_days",
    ),
    (
        "expired_days 101",
        typed("expired_days", base_info(expired_days="101")),
        "job.params.base_info.expired_days",
    ),
    (
        "expired_days a number",
        typed("expired_days", base_info(expired_days=14)),
        "job.params.base_info.expired_days",
    ),
    (
        "expired_days not digits",
        typed("expired_days", base_info(expired_days="1e2")),
        "job.params.base_info.expired_days",
    ),
    (
        "21 tags",
        typed(
            "name", base_info(name="abcd", tags=[{"key": f"k{n}", "value": "v"} for n in range(21)])
        ),
        "job.params.base_info.tags",
    ),
    (
        "tag key too long",
        typed("name", base_info(name="abcd", tags=[{"key": "k" * 37, "value": "v"}])),
        "job.params.base_info.tags[0].key",
    ),
    ("notify missing", typed("notify", {}), "job.params.alarm_notify"),
    (
        "alarm_to_user missing",
        typed("notify", {"alarm_notify": {"topic_urn": "u"}}),
        "job.params.alarm_notify.alarm_to_user",
    ),
    (
        "alarm_to_user a string",
        typed("notify", {"alarm_notify": {"alarm_to_user": "true"}}),
        "job.params.alarm_notify.alarm_to_user",
    ),
    (
        "delay negative",
        typed("notify", {"alarm_notify": {"alarm_to_user": True, "delay_time": -1}}),
        "job.params.alarm_notify.delay_time",
    ),
    (
        "delay a string",
        typed("notify", {"alarm_notify": {"alarm_to_user": True, "rpo_delay": "300"}}),
        "job.params.alarm_notify.rpo_delay",
    ),
    ("speed_limit missing", typed("speed_limit", {}), "job.params.speed_limit"),
    (
        "speed_limit an object",
        typed("speed_limit", {"speed_limit": {"begin": "01:00"}}),
        "job.params.speed_limit",
    ),
    (
        "begin without minutes",
        typed("speed_limit", {"speed_limit": [{"begin": "1:00", "end": "02:59", "speed": "5"}]}),
        "job.params.speed_limit[0].begin",
    ),
    (
        "begin hour 24",
        typed("speed_limit", {"speed_limit": [{"begin": "24:00", "end": "02:59", "speed": "5"}]}),
        "job.params.speed_limit[0].begin",
    ),
    (
        "end not :59",
        typed("speed_limit", {"speed_limit": [{"begin": "01:00", "end": "15:58", "speed": "5"}]}),
        "job.params.speed_limit[0].end",
    ),
    (
        "end missing",
        typed("speed_limit", {"speed_limit": [{"begin": "01:00", "speed": "5"}]}),
        "job.params.speed_limit[0].end",
    ),
    *(
        (
            f"speed {speed!r}",
            typed(
                "speed_limit", {"speed_limit": [{"begin": "01:00", "end": "01:59", "speed": speed}]}
            ),
            "job.params.speed_limit[0].speed",
        )
        for speed in ("0", "10000", "fast", 5, "-1", "\u00b2")
    ),
    ("policy missing", typed("policy", {}), "job.params.policy_config"),
    (
        "policy flag a string",
        typed("policy", {"policy_config": {"index_trans": "yes"}}),
        "job.params.policy_config.index_trans",
    ),
    (
        "policy text a boolean",
        typed("policy", {"policy_config": {"conflict_policy": True}}),
        "job.params.policy_config.conflict_policy",
    ),
    ("db_object missing", typed("db_object", {}), "job.params.db_object"),
    (
        "object_scope missing",
        typed("db_object", {"db_object": {"object_info": {}}}),
        "job.params.db_object.object_scope",
    ),
    (
        "object_info entry not an object",
        typed("db_object", {"db_object": {"object_scope": "table", "object_info": {"a": 1}}}),
        "job.params.db_object.object_info.a",
    ),
    ("endpoints missing", typed("endpoint", {}), "job.params.source_endpoint"),
    (
        "endpoint not a list",
        typed("endpoint", {"target_endpoint": NEW_SOURCE[0]}),
        "job.params.target_endpoint",
    ),
    (
        "endpoint db_user missing",
        typed(
            "endpoint",
            {
                "source_endpoint": [
                    {**NEW_SOURCE[0], "endpoint": {"endpoint_name": "m", "db_password": "p"}}
                ]
            },
        ),
        "job.params.source_endpoint[0].endpoint.db_user",
    ),
    (
        "endpoint role missing",
        typed(
            "endpoint",
            {"source_endpoint": [{k: v for k, v in NEW_SOURCE[0].items() if k != "endpoint_role"}]},
        ),
        "job.params.source_endpoint[0].endpoint_role",
    ),
    ("tuning missing", typed("tuning_param", {}), "job.params.tuning_params"),
    (
        "incre_capture missing",
        typed("tuning_param", {"tuning_params": {"incre_apply": {}}}),
        "job.params.tuning_params.incre_capture",
    ),
    (
        "incre_apply missing",
        typed("tuning_param", {"tuning_params": {"incre_capture": {}}}),
        "job.params.tuning_params.incre_apply",
    ),
    (
        "tuning value a number",
        typed("tuning_param", {"tuning_params": {"incre_capture": {"a": 1}, "incre_apply": {}}}),
        "job.params.tuning_params.incre_capture.a",
    ),
    (
        "tuning name too long",
        typed(
            "tuning_param",
            {"tuning_params": {"incre_capture": {"n" * 129: "1"}, "incre_apply": {}}},
        ),
        "job.params.tuning_params.incre_capture." + "n" * 129,
    ),
    (
        "recovery a string",
        typed(
            "tuning_param",
            {"tuning_params": {"incre_capture": {}, "incre_apply": {}, "recovery": "yes"}},
        ),
        "job.params.tuning_params.recovery",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_UPDATES], ids=[i for i, _, _ in BAD_UPDATES]
)
async def test_bad_update_names_the_field(client: httpx.AsyncClient, body: Any, field: str) -> None:
    """Each broken rule answers 400 with a 12-character DRS code naming the field; no change."""
    answer = await client.put(f"{JOBS}/{JOB}", json=body)
    assert answer.status_code == 400
    error = answer.json()
    assert set(error) == {"error_code", "error_msg"}
    assert error["error_code"] == "DRS.10000001"
    assert f"[{field}]" in error["error_msg"]
    assert stable(await detail(client)) == job_body()["job"]


@pytest.mark.parametrize("content", [b"{", b"[1]", b"null"])
async def test_update_body_must_be_a_json_object(client: httpx.AsyncClient, content: bytes) -> None:
    """A body that is not a JSON object answers 400 naming the body."""
    answer = await client.put(f"{JOBS}/{JOB}", content=content)
    assert answer.status_code == 400
    assert "[body]" in answer.json()["error_msg"]
