"""Saved plans: `reconcile --out PLAN` written, then sent exactly by `--apply --plan PLAN`, or not.

A saved plan is applied whole or not at all: every resource is checked (declared as planned, at
the plan's revision, live with the plan's digest, rails open) before anything is sent. The file
holds no secret value: declared ones as `{secretRef}`, live's own as `{liveRef}` pointers.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from fdi_drift.cloud.transports import in_process
from fdi_drift.demo import SAMPLES
from fdi_drift.drift.document import DecodedDocument, decode
from fdi_drift.drift.ignore import compile_ignore
from fdi_drift.drift.model import (
    BlockReason,
    Placement,
    ReconcileMode,
    ReconcileResult,
    Status,
)
from fdi_drift.emulator.app import Emulator, EmulatorConfig
from fdi_drift.emulator.store import TaskStatus
from fdi_drift.errors import ConfigError, DocumentError, InvalidWriteError
from fdi_drift.exporter import export_resources
from fdi_drift.kinds import catalog
from fdi_drift.kinds.contract import Scope
from fdi_drift.kinds.drs_job import DrsJobSpec
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.kinds.fdi_task import WRITABLE_TASK_FIELDS
from fdi_drift.metrics import DaemonMetrics
from fdi_drift.plan_file import SavedPlan, check_plan, plan_of, read_plan, write_plan
from fdi_drift.reconciler import Correction
from fdi_drift.secrets import resolved, with_live_references
from fdi_drift.service import Runtime
from tests.conftest import API_TASK, INSTANCE, MYSQL_TASK, PROJECT, TOKEN, put_task, settings_for
from tests.test_secret_paths import DESIRED, SECRET

RuntimeFactory = Callable[..., Runtime]
NOW = 1_795_000_000.0
API_FILE = f"{PROJECT}/{INSTANCE}/fdi_task_v2mysql-tomysql.yaml"


async def drifted_runtime(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, **overrides: Any
) -> Runtime:
    """A runtime whose desired state is the export, with both tasks then edited by hand."""
    overrides.setdefault("audit_log", desired_dir.parent / "audit.jsonl")
    runtime = make_runtime(**overrides)
    scope = [(FDI_TASK, Scope(PROJECT, INSTANCE))]
    await export_resources(runtime.drivers, catalog.specs(), scope, desired_dir)
    await put_task(api, API_TASK, lambda d: d["task"].update(description="hand edit"))
    await put_task(
        api,
        MYSQL_TASK,
        lambda d: d["task_detail"]["targetSelectedDatasource"].update(targetTable="other.table"),
    )
    assert await runtime.reload() is not None
    return runtime


async def saved(runtime: Runtime, path: Path) -> tuple[SavedPlan, list[Correction]]:
    """A dry-run cycle's plan written to `path` and read back, as --out and --plan do."""
    outcome = await runtime.cycle(mode=ReconcileMode.DRY_RUN)
    assert outcome is not None
    _, corrections = outcome
    targets = [Placement(t.region, t.account) for t in runtime.fleet.targets]
    write_plan(path, plan_of(corrections, version="test", targets=targets, now=NOW))
    return read_plan(path), corrections


async def apply(runtime: Runtime, plan: SavedPlan) -> dict[str, Correction]:
    """The plan applied to the tree in force, corrections by live id."""
    assert runtime.tree is not None
    corrections = await runtime.reconciler.apply_plan(runtime.tree, plan.corrections)
    return {c.status.live_id: c for c in corrections}


def sent(emulator: Emulator) -> list[tuple[str, Any]]:
    """Every write the emulator received: request line and decoded body."""
    return [
        (f"{r.method} {r.path}", json.loads(r.body) if r.body else None)
        for r in emulator.requests
        if r.method in ("PUT", "POST")
    ]


def intents(runtime: Runtime) -> list[dict[str, Any]]:
    if not runtime.audit.path.exists():
        return []
    records = [json.loads(line) for line in runtime.audit.path.read_text().splitlines()]
    return [r for r in records if r["event"] == "intent"]


async def test_a_saved_plan_sends_exactly_its_requests_then_both_tasks_are_in_sync(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """The emulator receives the plan's requests, in order, byte for byte; audited; in sync."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    assert (tmp_path / "plan.json").stat().st_mode & 0o777 == 0o600
    assert sorted(s.status.live_id for s in plan.corrections) == sorted((API_TASK, MYSQL_TASK))
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert {c.result for c in results.values()} == {ReconcileResult.APPLIED}
    planned = [(w.line, w.body) for s in plan.corrections for w in s.writes]
    assert sent(emulator) == planned
    assert [i["resource"]["live_id"] for i in intents(runtime)] == [
        s.status.live_id for s in plan.corrections
    ]
    report = await runtime.check()
    assert report is not None
    assert {s.status for s in report.statuses} == {Status.IN_SYNC}


async def test_a_plan_whose_live_state_changed_is_refused_whole_and_nothing_is_sent(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """One task edited after planning: both are stale, no request and no audit intent."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    await put_task(api, API_TASK, lambda d: d["task"].update(description="edited again"))
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert {c.result for c in results.values()} == {ReconcileResult.STALE}
    assert "stale: live changed since the plan" in results[API_TASK].detail
    other = results[MYSQL_TASK].detail
    assert "FdiTask fdi_task_v2mysql-tomysql is stale" in other and "whole" in other
    assert sent(emulator) == [] and intents(runtime) == []


async def test_a_plan_is_stale_once_the_desired_revision_moved(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """A commit after planning, even to another file, makes every resource stale; none sent."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    planned_at = plan.corrections[0].revision
    (desired_dir / "README.md").write_text("notes\n")  # not YAML: the content digest ignores it
    path = desired_dir / API_FILE
    path.write_text(path.read_text().replace("description: mysql", "description: mysql v2"))
    tree = await runtime.reload(strict=True)
    assert tree is not None and tree.revision != planned_at
    emulator.requests.clear()
    results = await apply(runtime, plan)
    detail = results[MYSQL_TASK].detail
    assert results[MYSQL_TASK].result is ReconcileResult.STALE
    assert f"desired revision moved from {planned_at[:12]} to {tree.revision[:12]}" in detail
    assert sent(emulator) == []


async def test_an_uncommitted_edit_of_a_git_checkout_makes_the_plan_stale(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """The revision of a checkout is its commit; an edit not committed still stales the plan."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    committed(desired_dir)
    assert await runtime.reload(strict=True) is not None
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    path = desired_dir / API_FILE
    path.write_text(path.read_text() + "policy:\n  running: stop-update-start\n")
    tree = await runtime.reload(strict=True)
    assert tree is not None and tree.revision == plan.corrections[0].revision
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert results[API_TASK].result is ReconcileResult.STALE
    assert f"its declaration in {API_FILE} changed" in results[API_TASK].detail
    assert sent(emulator) == []


def committed(directory: Path) -> None:
    """`directory` made a git checkout with everything in it committed."""
    git = ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "desired"]):
        subprocess.run([*git, *command], check=True, capture_output=True)


async def test_a_task_started_since_the_plan_is_stale(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """Starting a task leaves its digest alone, but the plan's PUT assumed it stopped: stale."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    emulator.store.set_status(PROJECT, INSTANCE, API_TASK, TaskStatus.RUNNING)
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert "it is running now" in results[API_TASK].detail
    assert sent(emulator) == []


async def test_resources_drifted_after_planning_are_not_touched(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """Only what the plan holds is sent: a task that drifted since stays drifted."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    outcome = await runtime.cycle(mode=ReconcileMode.DRY_RUN)
    assert outcome is not None
    api_only = [c for c in outcome[1] if c.status.live_id == API_TASK]
    targets = [Placement(t.region, t.account) for t in runtime.fleet.targets]
    write_plan(tmp_path / "plan.json", plan_of(api_only, version="t", targets=targets, now=NOW))
    plan = read_plan(tmp_path / "plan.json")
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert list(results) == [API_TASK]
    assert [line for line, _ in sent(emulator)] == [f"PUT {FDI_TASKS}/{API_TASK}"]
    report = await runtime.check()
    assert report is not None
    statuses = {s.live_id: s.status for s in report.statuses}
    assert statuses == {API_TASK: Status.IN_SYNC, MYSQL_TASK: Status.DRIFTED}


FDI_TASKS = f"/v2/{PROJECT}/fdi/instances/{INSTANCE}/tasks"


@pytest.mark.parametrize(
    ("rails", "reason"),
    [
        ({"suspended": True}, BlockReason.SUSPENDED),
        ({"max_writes_per_cycle": 1}, BlockReason.WRITE_LIMIT),
        ({"windows": ["0 0 1 1 *"]}, BlockReason.OUTSIDE_WINDOW),
    ],
)
async def test_a_closed_rail_refuses_the_whole_plan(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
    rails: dict[str, Any],
    reason: BlockReason,
) -> None:
    """Suspension, a plan bigger than the write cap, or no window: blocked, nothing sent."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api, reconcile=rails)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert {c.result for c in results.values()} == {ReconcileResult.BLOCKED}
    assert {c.status.block for c in results.values()} == {reason}
    assert sent(emulator) == [] and intents(runtime) == []


# --- secrets ----------------------------------------------------------------------------------

# DESIRED and SECRET are the secret-path tests'; this one needs escaping inside JSON text.
NESTED_SECRET = 'S3CR3T "NESTED" \\ 7c1'  # inside bodyRaw, JSON text inside task_detail


SECRETS_ENVIRON = {
    "FDI_DRIFT_TOKEN": TOKEN,
    "FDI_DRIFT_SECRET_DB_CONN": SECRET,
    "FDI_DRIFT_SECRET_API_KEY": NESTED_SECRET,
}


async def with_secrets(make_runtime: RuntimeFactory, desired_dir: Path, tmp_path: Path) -> Runtime:
    """A runtime over DESIRED, whose two secrets come from the environment."""
    runtime = make_runtime(audit_log=tmp_path / "audit.jsonl", environ=SECRETS_ENVIRON)
    (desired_dir / "api-task.yaml").write_text(DESIRED, encoding="utf-8")
    assert await runtime.reload() is not None
    return runtime


async def test_a_plan_file_holds_secret_references_never_their_values(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """The file holds {secretRef} where secrets go, inside JSON text too; applying resolves them."""
    runtime = await with_secrets(make_runtime, desired_dir, tmp_path)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    data = (tmp_path / "plan.json").read_bytes()
    for value in (SECRET, NESTED_SECRET, json.dumps(NESTED_SECRET)[1:-1]):
        assert value.encode() not in data
    ((write,),) = [s.writes for s in plan.corrections]
    body = decode(write.body, what="body").value
    assert isinstance(body, dict)
    source = body["task_detail"]["sourceSelectedDatasource"]
    assert source["connectString"] == {"secretRef": "db/conn"}
    assert source["bodyRaw"]["apiKey"] == {"secretRef": "api/key"}
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert results[API_TASK].result is ReconcileResult.APPLIED
    stored = emulator.store.get(PROJECT, INSTANCE, API_TASK)
    assert stored is not None
    detail = json.loads(stored.task_detail)["sourceSelectedDatasource"]
    assert detail["connectString"] == SECRET
    assert json.loads(detail["bodyRaw"])["apiKey"] == NESTED_SECRET
    ((_, received),) = sent(emulator)
    assert received == resolved(write.body, environ_resolver(SECRETS_ENVIRON))
    assert SECRET not in runtime.audit.path.read_text()


async def test_a_secret_whose_live_text_is_escaped_otherwise_is_left_out_of_the_plan(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """Live spells the secret `\\u0043`: resolving the reference again would write `C`, so the
    request could not be sent exactly as planned: the correction is planned, not saved."""
    runtime = await with_secrets(make_runtime, desired_dir, tmp_path)
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    assert {c.result for c in (await apply(runtime, plan)).values()} == {ReconcileResult.APPLIED}
    answer = (await api.get(f"/tasks/{API_TASK}")).json()
    task = {k: v for k, v in answer["task"].items() if k in ("task_name", "source_datasource_id")}
    task.update(
        task_type=answer["task"]["task_type"].upper(),
        target_datasource_id=answer["task"]["target_datasource_id"],
        description="hand edit",
    )
    escaped = answer["task_detail"].replace(SECRET, SECRET.replace("C", "\\u0043"))
    assert escaped != answer["task_detail"]
    reply = await api.put(f"/tasks/{API_TASK}", json={"task": task, "task_detail": escaped})
    assert reply.status_code == 200, reply.text
    plan, (correction,) = await saved(runtime, tmp_path / "plan.json")
    assert correction.result is ReconcileResult.PLANNED and correction.saved is None
    assert "written differently" in correction.unsaved
    assert plan.corrections == ()


def environ_resolver(environ: dict[str, str]) -> Callable[[str], str]:
    names = {"db/conn": "FDI_DRIFT_SECRET_DB_CONN", "api/key": "FDI_DRIFT_SECRET_API_KEY"}
    return lambda reference: environ[names[reference]]


def test_a_drs_endpoint_password_is_saved_as_a_reference_object() -> None:
    """A typed DRS update carries the reference where the password goes, as a mapping."""
    spec = DrsJobSpec()
    live = {
        "id": "job-1",
        "base_info": {"name": "orders-sync"},
        "target_endpoint": [
            {"db_type": "mysql", "endpoint": {"ip": "10.0.0.2", "db_password": "******"}}
        ],
    }
    changed = [
        {
            "db_type": "mysql",
            "endpoint": {"ip": "10.0.0.9", "db_password": {"secretRef": "mysql/password"}},
        }
    ]
    desired = spec.desired_document("orders-sync", {"target_endpoint": changed})
    (write,) = spec.plan(
        desired, DecodedDocument(live, {}), compile_ignore([]), lambda ref: "pw-1", {}
    )
    endpoint = write.referenced["target_endpoint"][0]["endpoint"]
    assert endpoint["db_password"] == {"secretRef": "mysql/password"}
    assert write.body["target_endpoint"][0]["endpoint"]["db_password"] == "pw-1"
    assert resolved(write.referenced, lambda ref: "pw-1") == write.body


async def test_a_saved_create_is_stale_once_something_of_that_name_exists(
    desired_dir: Path, tmp_path: Path
) -> None:
    """A plan to create a composite task is refused when one of that name appeared meanwhile."""
    cloud = Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})))
    settings = settings_for(desired_dir, audit_log=tmp_path / "audit.jsonl")
    runtime = Runtime(
        settings,
        transport=in_process(cloud),
        metrics=DaemonMetrics(CollectorRegistry(), version="test"),
    )
    (desired_dir / "new.yaml").write_text(
        "apiVersion: fdi-drift/v1\nkind: FdiCompositeTask\n"
        f"metadata: {{name: payments-cdc, project_id: {PROJECT}, instance_id: {INSTANCE}}}\n"
        "spec:\n  task:\n    operation_types: [INSERT, UPDATE]\n    description: payments CDC\n"
        "    source_datasource_id: 8a0d5c3e71f24b9c9e6a2d4f0b1c3e57\n"
        "    target_datasource_id: 2f6b9e1d4a7c4d3b8e5f0a9c6d2b1e84\n"
        "policy:\n  allow_create: true\n"
    )
    assert await runtime.reload() is not None
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    (create,) = plan.corrections
    assert create.status.status is Status.MISSING
    assert [w.action for w in create.writes] == ["create", "init"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cloud),
        base_url=f"http://cloud.test/v2/{PROJECT}/fdi/instances/{INSTANCE}",
        headers={"X-Auth-Token": TOKEN},
    ) as http:
        made = await http.post("/multi-tasks", json=create.writes[0].body)
        assert made.status_code == 200, made.text
    cloud.requests.clear()
    assert runtime.tree is not None
    (stale,) = await runtime.reconciler.apply_plan(runtime.tree, plan.corrections)
    assert stale.result is ReconcileResult.STALE
    assert "payments-cdc exists now" in stale.detail
    assert sent(cloud) == []
    await runtime.aclose()


# --- live values under secret-looking keys -----------------------------------------------------

LIVE_PASSWORD = "LIVE-PASSWORD-3e8a"  # a data source's password live returns unmasked
LIVE_TOKEN = 'LIVE "TOKEN" \\ 61f0'  # inside bodyRaw, JSON text inside task_detail
SOURCE = "/task_detail/sourceSelectedDatasource"


def with_live_secrets(document: dict[str, Any]) -> None:
    """Undeclared values the plan sends back as live has them: two secrets and a masked one."""
    source = document["task_detail"]["sourceSelectedDatasource"]
    source["password"] = LIVE_PASSWORD
    source["bodyRaw"] = json.dumps({"pageNum": "1", "pageSize": "10", "accessToken": LIVE_TOKEN})
    source["connectString"] = "******"


def clear_forms(value: str) -> list[bytes]:
    """`value` as it could appear in a file: itself, and in JSON text up to three levels deep."""
    forms = [value]
    for _ in range(3):
        forms.append(json.dumps(forms[-1])[1:-1])
    return [form.encode() for form in forms]


async def test_a_live_secret_is_saved_as_a_live_reference_and_sent_exactly(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """Live's own password, token and masked value are {liveRef}s in the file; applying the plan
    sends the very bytes `--apply` sends for the same live state without a plan."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    await put_task(api, API_TASK, with_live_secrets)
    before = (await api.get(f"/tasks/{API_TASK}")).json()
    plan, _ = await saved(runtime, tmp_path / "plan.json")
    data = (tmp_path / "plan.json").read_bytes()
    for value in (LIVE_PASSWORD, LIVE_TOKEN):
        assert not any(form in data for form in clear_forms(value))
    (write,) = [w for s in plan.corrections if s.status.live_id == API_TASK for w in s.writes]
    assert "******" not in json.dumps(write.body)  # shown as the audit log shows it, masked
    body = decode(write.body, what="body").value
    assert isinstance(body, dict)
    source = body["task_detail"]["sourceSelectedDatasource"]
    assert source["password"] == {"liveRef": f"{SOURCE}/password"}
    assert source["bodyRaw"]["accessToken"] == {"liveRef": f"{SOURCE}/bodyRaw/accessToken"}
    assert source["connectString"] == {"liveRef": f"{SOURCE}/connectString"}
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert {c.result for c in results.values()} == {ReconcileResult.APPLIED}
    from_plan = put_bytes(emulator)
    assert LIVE_PASSWORD.encode() in from_plan

    # The same correction, over the same live state, by a runtime that plans and sends it.
    restored = {
        "task": {k: before["task"][k] for k in WRITABLE_TASK_FIELDS if k in before["task"]},
        "task_detail": before["task_detail"],
    }
    restored["task"]["task_type"] = restored["task"]["task_type"].upper()
    assert (await api.put(f"/tasks/{API_TASK}", json=restored)).status_code == 200
    direct = make_runtime(audit_log=tmp_path / "direct-audit.jsonl")
    assert await direct.reload() is not None
    emulator.requests.clear()
    outcome = await direct.cycle(mode=ReconcileMode.AUTO)
    assert outcome is not None
    assert [c.result for c in outcome[1]] == [ReconcileResult.APPLIED]
    assert put_bytes(emulator) == from_plan
    await direct.aclose()


def put_bytes(emulator: Emulator) -> bytes:
    """The body of the one PUT of the API task the emulator received, byte for byte."""
    (body,) = [r.body for r in emulator.requests if r.method == "PUT" and r.path.endswith(API_TASK)]
    return body


async def test_a_live_reference_to_nothing_refuses_the_whole_plan(
    make_runtime: RuntimeFactory,
    desired_dir: Path,
    api: httpx.AsyncClient,
    emulator: Emulator,
    tmp_path: Path,
) -> None:
    """A plan edited (checksum and all) to point at a place live lacks is stale; nothing sent."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    await put_task(api, API_TASK, with_live_secrets)
    path = tmp_path / "plan.json"
    await saved(runtime, path)

    def elsewhere(document: dict[str, Any]) -> None:
        (request,) = [
            r
            for resource in document["resources"]
            if resource["live_id"] == API_TASK
            for r in resource["requests"]
        ]
        detail = request["body"]["task_detail"]
        request["body"]["task_detail"] = detail.replace(f"{SOURCE}/password", f"{SOURCE}/gone")
        assert request["body"]["task_detail"] != detail
        rechecked(document)

    edited(path, elsewhere)
    plan = read_plan(path)
    emulator.requests.clear()
    results = await apply(runtime, plan)
    assert {c.result for c in results.values()} == {ReconcileResult.STALE}
    assert f"live holds nothing at {SOURCE}/gone" in results[API_TASK].detail
    assert "a saved plan is applied whole" in results[MYSQL_TASK].detail
    assert sent(emulator) == [] and intents(runtime) == []


def rechecked(document: dict[str, Any]) -> None:
    """`document` with its checksum made again, as someone editing a plan by hand could."""
    rest = {key: value for key, value in document.items() if key != "checksum"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    document["checksum"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_a_live_reference_points_where_the_value_is_in_live() -> None:
    """A body laid out otherwise than live (a composite init's ext_info) refers to the place
    whose path ends like the body's; a value live does not hold cannot be saved."""
    live: Any = {
        "task": {"creator_token": "t-1"},
        "task_detail": {"other": {"password": "p-1"}, "ext_info": {"db": {"password": "p-1"}}},
    }
    body: Any = {"ext_info": {"db": {"password": "p-1", "user": "u"}}, "auto_mapping": False}
    saved_body = with_live_references(body, live)
    assert saved_body == {
        "ext_info": {
            "db": {"password": {"liveRef": "/task_detail/ext_info/db/password"}, "user": "u"}
        },
        "auto_mapping": False,
    }
    assert resolved(saved_body, lambda ref: "", live) == body
    assert with_live_references({"description": "d", "token": None}, live) == {
        "description": "d",
        "token": None,
    }
    with pytest.raises(InvalidWriteError, match=r"^/ext_info/token: live does not hold"):
        with_live_references({"ext_info": {"token": "not-in-live"}}, live)
    with pytest.raises(InvalidWriteError, match=r"^/password: there is no live document"):
        with_live_references({"password": "p-1"}, None)


# --- the file ---------------------------------------------------------------------------------


@pytest.fixture
async def plan_path(
    make_runtime: RuntimeFactory, desired_dir: Path, api: httpx.AsyncClient, tmp_path: Path
) -> Path:
    """A plan of both hand-edited tasks, written."""
    runtime = await drifted_runtime(make_runtime, desired_dir, api)
    await saved(runtime, tmp_path / "plan.json")
    return tmp_path / "plan.json"


def edited(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def first_request(document: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = document["resources"][0]["requests"][0]
    return request


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format=3), "format: 3 is not a plan format this fdi-drift reads (2)"),
        (lambda d: d.update(format=1), "format: 1 is the format of an earlier fdi-drift"),
        (lambda d: d.pop("format"), "format: missing"),
        (
            lambda d: d["resources"][0].pop("live_digest"),
            "resources[0].live_digest: missing",
        ),
        (
            lambda d: first_request(d).update(body="PUT this"),
            "resources[0].requests[0].body: must be an object or null",
        ),
        (
            lambda d: first_request(d)["body"]["task"].update(description=float("nan")),
            "resources[0].requests[0].body.task.description: nan is not JSON",
        ),
        (
            lambda d: first_request(d)["body"].update(password={"secretRef": "../etc"}),
            "resources[0].requests[0].body: /password/secretRef: must be NAME/KEY",
        ),
        (
            lambda d: first_request(d)["body"].update(token={"liveRef": "task/token"}),
            "resources[0].requests[0].body: /token/liveRef: must be a JSON pointer",
        ),
        (
            lambda d: first_request(d)["body"].update(token={"liveRef": "/t", "and": 1}),
            "resources[0].requests[0].body: /token: a liveRef mapping holds nothing else",
        ),
        (
            lambda d: d["resources"][0].update(running="no"),
            "resources[0].running: must be true or false",
        ),
        (
            lambda d: first_request(d)["body"]["task"].update(description="mine now"),
            "checksum: does not match the plan",
        ),
    ],
)
async def test_a_plan_edited_by_hand_is_refused_naming_the_file_and_field(
    plan_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    """Every malformed or changed field is an error that says which file and which field."""
    edited(plan_path, edit)
    with pytest.raises(DocumentError) as raised:
        read_plan(plan_path)
    assert str(raised.value).startswith(f"{plan_path}: ")
    assert message in str(raised.value)


def test_what_is_not_a_plan_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not JSON, not UTF-8, too large, or not a regular file: refused without reading on."""
    path = tmp_path / "plan.json"
    path.write_text("{not json")
    with pytest.raises(DocumentError, match=f"^{path}: not JSON"):
        read_plan(path)
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(DocumentError, match="not UTF-8"):
        read_plan(path)
    monkeypatch.setattr("fdi_drift.plan_file.MAX_PLAN_BYTES", 8)
    path.write_text('{"format": 1, "resources": []}')
    with pytest.raises(DocumentError, match="larger than"):
        read_plan(path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DocumentError, match="a FIFO, not a regular file"):
        read_plan(fifo)


async def test_a_plan_for_other_targets_or_another_version_is_refused(plan_path: Path) -> None:
    """The plan names its targets and fdi-drift version; a mismatch is an error, nothing sent."""
    plan = read_plan(plan_path)
    (target,) = plan.targets
    serving = {PROJECT: target}

    def check(version: str, targets: list[Placement]) -> None:
        check_plan(
            plan_path,
            plan,
            version=version,
            targets=targets,
            placement=lambda project: serving.get(project, Placement()),
        )

    check("test", [target])
    with pytest.raises(DocumentError, match=r"made by fdi-drift test, this is 9\.9"):
        check("9.9", [target])
    other = Placement(target.region, "another-account")
    with pytest.raises(ConfigError, match="targets: the plan was made for"):
        check("test", [other])
    serving[PROJECT] = other
    with pytest.raises(ConfigError, match=r"resources\[0\]: planned for"):
        check("test", [target])
