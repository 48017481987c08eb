"""FdiCompositeTask: a ROMA Connect FDI composite (multi-table, real-time CDC) task.

Read like a common task (`GET .../tasks/{id}`: `task` plus a `task_detail` JSON string holding
`ext_info`, `mappings` and `schema_mappings`); listed among the tasks with a non-empty
`ext_type`. Written through the composite calls only: seed 003 creates (with
`policy.allow_create`), seed 004 initialises datasources and mappings, and
`PUT .../multi-tasks/{id}` modifies description, tag and operation types. Name, type and
application ids have no update call: drift there is reported as not writable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from fdi_drift.cloud.cts import FDI_TASK_RESOURCE_TYPE, ROMA_SERVICE_TYPE
from fdi_drift.cloud.fdi import SERVICE, FdiClient, multi_task_path, multi_tasks_path
from fdi_drift.drift.document import DecodedDocument, canonical_bytes
from fdi_drift.drift.ignore import IgnoreRules, compile_ignore
from fdi_drift.drift.model import JSONObject, JSONValue, Kind
from fdi_drift.drift.overlay import Resolve
from fdi_drift.drift.redaction import redact
from fdi_drift.errors import InvalidWriteError
from fdi_drift.kinds.contract import (
    Laid,
    LiveDocument,
    LiveEntry,
    Registration,
    Scope,
    SpecProblem,
    Write,
    lay,
)
from fdi_drift.kinds.fdi_common import (
    fdi_tasks,
    field_problem,
    live_task,
    send_stop_or_start,
    spec_shape_problems,
    stop_and_start,
    stop_or_start_line,
    task_is_running,
)
from fdi_drift.kinds.task_list import SharedTaskList

KIND = Kind("FdiCompositeTask")
OPERATION_TYPES = ("INSERT", "UPDATE", "DELETE")
TASK_FIELDS = (
    "task_type",
    "description",
    "task_tag",
    "operation_types",
    "source_app_id",
    "target_app_id",
    "source_datasource_id",
    "target_datasource_id",
)
DETAIL_FIELDS = ("ext_info", "mappings", "schema_mappings")
_MODIFIED = ("description", "task_tag", "operation_types")
_INITIALISED = ("source_datasource_id", "target_datasource_id")
_UNWRITABLE = ("/task/task_name", "/task/task_type", "/task/source_app_id", "/task/target_app_id")
_NO_RULES = compile_ignore([])


class FdiCompositeTaskSpec:
    """Offline rules of the FdiCompositeTask kind."""

    kind: Kind = KIND
    needs_instance: bool = True
    default_ignore: tuple[str, ...] = (
        "/task_detail/mappings/*/updated_time",
        "/task_detail/schema_mappings/*/updated_time",
    )
    can_create: bool = True
    write_options: tuple[str, ...] = ("repulling_snapshot", "auto_mapping")

    def validate(self, name: str, spec: JSONObject) -> list[SpecProblem]:
        problems = spec_shape_problems(name, spec)
        task = spec.get("task", {})
        if isinstance(task, dict):
            problems.extend(
                SpecProblem(f"/spec/task/{f}", m) for f, m in _task_problems(name, task)
            )
        detail = spec.get("task_detail", {})
        if isinstance(detail, dict):
            problems.extend(
                SpecProblem(
                    f"/spec/task_detail/{key}", f"unknown field ({', '.join(DETAIL_FIELDS)})"
                )
                for key in detail
                if key not in DETAIL_FIELDS
            )
        return problems

    def desired_document(self, name: str, spec: JSONObject) -> JSONObject:
        task = dict(cast(JSONObject, spec.get("task", {})))
        task["task_name"] = name
        document: JSONObject = {"task": task}
        if "task_detail" in spec:
            document["task_detail"] = spec["task_detail"]
        return cast(JSONObject, self.normalize_live(document))

    def normalize_live(self, document: JSONValue) -> JSONValue:
        if not isinstance(document, dict) or not isinstance(document.get("task"), dict):
            return document
        task = dict(cast(JSONObject, document["task"]))
        if isinstance(task.get("task_type"), str):
            task["task_type"] = cast(str, task["task_type"]).upper()
        types = task.get("operation_types")
        if isinstance(types, list) and all(isinstance(t, str) for t in types):
            # A set in the API's eyes: compare in one canonical order.
            ordered = sorted((str(t) for t in types), key=_operation_order)
            task["operation_types"] = cast(JSONValue, ordered)
        return {**document, "task": task}

    def export_spec(self, document: JSONValue) -> JSONObject:
        live = cast(JSONObject, self.normalize_live(document))
        task = cast(JSONObject, live.get("task", {}))
        detail = cast(JSONObject, live.get("task_detail", {}))
        spec_task: JSONObject = {k: task[k] for k in TASK_FIELDS if task.get(k) not in (None, "")}
        spec_detail: JSONObject = {k: detail[k] for k in DETAIL_FIELDS if detail.get(k) is not None}
        return {"task": spec_task, "task_detail": spec_detail}

    def plan(
        self,
        desired: JSONObject,
        live: DecodedDocument | None,
        ignore: IgnoreRules,
        resolve: Resolve,
        options: Mapping[str, JSONValue],
    ) -> list[Write]:
        auto_mapping = bool(options.get("auto_mapping"))
        if live is None:
            # Laid over nothing, every declared field kept (ignore rules speak of live fields):
            # secret references resolved for the request, hidden in what is shown.
            return _create(lay({}, desired, _NO_RULES, resolve), auto_mapping)
        laid = lay(live.value, desired, ignore, resolve)
        want = cast(JSONObject, laid.sent)
        have = cast(JSONObject, self.normalize_live(live.value))
        want_task, have_task = cast(JSONObject, want["task"]), cast(JSONObject, have["task"])
        want_detail = cast(JSONObject, want.get("task_detail", {}))
        have_detail = cast(JSONObject, have.get("task_detail", {}))
        writes: list[Write] = []
        if _differs(want_task, have_task, _INITIALISED) or _differs(
            want_detail, have_detail, DETAIL_FIELDS
        ):
            writes.append(_init(laid, auto_mapping))
        if options.get("repulling_snapshot") or _differs(want_task, have_task, _MODIFIED):
            repulling = bool(options.get("repulling_snapshot"))
            body = _modify_body(laid.sent, repulling)
            _check(_modify_problems(body))
            covers = tuple(f"/task/{k}" for k in _MODIFIED)
            shown = redact(_modify_body(laid.shown, repulling))
            referenced = _modify_body(laid.referenced, repulling)
            writes.append(Write("modify", body, shown, covers, referenced))
        return writes

    def unwritable(self, pointers: Sequence[str]) -> list[str]:
        return [p for p in pointers if p.startswith(_UNWRITABLE)]

    def is_running(self, live: JSONValue) -> bool:
        return task_is_running(live)

    def restart(self) -> tuple[Write, Write] | None:
        return stop_and_start()


def _operation_order(value: str) -> int:
    return OPERATION_TYPES.index(value) if value in OPERATION_TYPES else len(OPERATION_TYPES)


def _differs(want: JSONObject, have: JSONObject, keys: Sequence[str]) -> bool:
    return any(
        key in want and canonical_bytes(want[key]) != canonical_bytes(have.get(key)) for key in keys
    )


def _create(laid: Laid, auto_mapping: bool) -> list[Write]:
    body = _create_body(laid.sent)
    task_name = str(cast(JSONObject, cast(JSONObject, laid.sent)["task"])["task_name"])
    problems = [m for _, m in _task_problems(task_name, body)]
    if "operation_types" not in body:
        problems.append("task.operation_types: required to create a composite task")
    _check(problems)
    shown, referenced = redact(_create_body(laid.shown)), _create_body(laid.referenced)
    return [Write("create", body, shown, (), referenced), _init(laid, auto_mapping)]


def _create_body(document: JSONValue) -> JSONObject:
    """Seed 003's body from a desired document laid over nothing."""
    task = cast(JSONObject, cast(JSONObject, document).get("task", {}))
    body: JSONObject = {"task_name": task["task_name"], "task_type": "REALTIME"}
    for key in ("description", "task_tag", "operation_types", "source_app_id", "target_app_id"):
        if task.get(key) is not None:
            body[key] = task[key]
    return body


def _init(laid: Laid, auto_mapping: bool) -> Write:
    """Seed 004's request from desired laid over live: the body sent, and the body shown."""
    body = _init_body(laid.sent, auto_mapping)
    problems = [
        f"task.{k}: required to initialise (1-64 characters)"
        for k in _INITIALISED
        if not isinstance(body.get(k), str) or not 1 <= len(cast(str, body[k])) <= 64
    ]
    _check(problems)
    covers = (*(f"/task/{k}" for k in _INITIALISED), "/task_detail")
    # Shown: resolved secrets hidden by the overlay, and live's own values under
    # secret-looking keys (ext_info is sent whole, undeclared fields included) hidden by name.
    shown = redact(_init_body(laid.shown, auto_mapping))
    return Write("init", body, shown, covers, _init_body(laid.referenced, auto_mapping))


def _init_body(document: JSONValue, auto_mapping: bool) -> JSONObject:
    task = cast(JSONObject, cast(JSONObject, document).get("task", {}))
    detail = cast(JSONObject, cast(JSONObject, document).get("task_detail", {}))
    body: JSONObject = {k: task[k] for k in _INITIALISED if isinstance(task.get(k), str)}
    if detail.get("ext_info") is not None:
        body["ext_info"] = detail["ext_info"]
    body["auto_mapping"] = auto_mapping
    return body


def _modify_body(document: JSONValue, repulling_snapshot: bool) -> JSONObject:
    """The body of `PUT .../multi-tasks/{id}` from desired laid over live."""
    task = cast(JSONObject, cast(JSONObject, document)["task"])
    body: JSONObject = {k: task[k] for k in ("description", "task_tag") if task.get(k)}
    body["operation_types"] = task.get("operation_types", [])
    body["repulling_snapshot"] = repulling_snapshot
    return body


def _check(problems: list[str]) -> None:
    if problems:
        raise InvalidWriteError("; ".join(problems))


def _task_problems(name: str, task: JSONObject) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in task.items():
        if key == "task_name":
            if value != name:
                found.append((key, "must equal metadata.name (or be left out)"))
        elif key not in TASK_FIELDS:
            found.append(
                (key, f"unknown or not desired state (writable: {', '.join(TASK_FIELDS)})")
            )
        elif key == "operation_types":
            if (
                not isinstance(value, list)
                or not 1 <= len(value) <= 3
                or len(set(map(str, value))) != len(value)
                or not all(v in OPERATION_TYPES for v in value)
            ):
                found.append((key, "1-3 distinct values of INSERT, UPDATE, DELETE"))
        elif key == "task_type" and isinstance(value, str) and value.upper() != "REALTIME":
            found.append((key, "composite tasks are REALTIME"))
        else:
            problem = field_problem(key, value)
            if problem:
                found.append((key, problem))
    return found


def _modify_problems(body: JSONObject) -> list[str]:
    checked = {k: v for k, v in body.items() if k != "repulling_snapshot"}
    return [f"task.{field}: {message}" for field, message in _task_problems("", checked)]


class FdiCompositeTaskDriver:
    """Lists, reads and writes FDI composite tasks."""

    kind: Kind = KIND

    def __init__(self, client: FdiClient, tasks: SharedTaskList) -> None:
        self._client = client
        self._tasks = tasks

    async def scopes(self, project_id: str) -> list[Scope]:
        return await self._tasks.instance_scopes(project_id)

    async def list(self, scope: Scope) -> list[LiveEntry]:
        return await self._tasks.live_entries(scope, composite=True)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        answer = cast(
            JSONObject, await self._client.get_task(scope.project_id, scope.instance_id, live_id)
        )
        return live_task(answer, (*TASK_FIELDS, "task_name"), what=f"composite task {live_id}")

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        ids = (scope.project_id, scope.instance_id)
        if write.action == "create":
            return f"POST {multi_tasks_path(*ids)}"
        if write.action == "init":
            return f"POST {multi_tasks_path(*ids)}/init"
        if write.action == "modify":
            return f"PUT {multi_task_path(*ids, live_id)}"
        return stop_or_start_line(scope, live_id, write.action)

    async def send(self, scope: Scope, live_id: str, write: Write) -> str | None:
        ids = (scope.project_id, scope.instance_id)
        body = cast(JSONObject, write.body)
        if write.action == "create":
            return await self._client.create_multi_task(*ids, body)
        if write.action == "init":
            await self._client.init_multi_task(*ids, {**body, "task_id": live_id})
        elif write.action == "modify":
            await self._client.update_multi_task(*ids, live_id, body)
        else:
            await send_stop_or_start(self._client, scope, live_id, write.action)
        return None


REGISTRATION = Registration(
    spec=FdiCompositeTaskSpec(),
    service=SERVICE,
    driver=lambda connections: FdiCompositeTaskDriver(*fdi_tasks(connections)),
    traced_as=(ROMA_SERVICE_TYPE, FDI_TASK_RESOURCE_TYPE),
)
