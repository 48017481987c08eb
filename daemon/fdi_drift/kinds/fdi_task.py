"""FdiTask: a ROMA Connect FDI common task (seed 000 for writes, seed 002 for reads).

Desired spec: `task` (the writable TaskBasicRequestBody fields) and `task_detail` (the decoded
RawFormData document). Everything else TaskBasicRsp carries is the server's: declaring it is a
validation error, and it never counts as drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from fdi_drift.cloud.cts import FDI_TASK_RESOURCE_TYPE, ROMA_SERVICE_TYPE
from fdi_drift.cloud.fdi import SERVICE, FdiClient, task_path
from fdi_drift.cloud.payloads import UpdateTaskBody
from fdi_drift.drift.document import DecodedDocument, encode
from fdi_drift.drift.ignore import IgnoreRules
from fdi_drift.drift.model import JSONObject, JSONValue, Kind, Path
from fdi_drift.drift.overlay import Resolve
from fdi_drift.drift.redaction import redact
from fdi_drift.errors import DocumentError, InvalidWriteError
from fdi_drift.kinds.contract import (
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
    with_upper_task_type,
)
from fdi_drift.kinds.task_list import SharedTaskList

KIND = Kind("FdiTask")
WRITABLE_TASK_FIELDS = (
    "task_name",
    "task_type",
    "source_datasource_id",
    "target_datasource_id",
    "description",
    "task_tag",
)
SERVER_OWNED_TASK_FIELDS = frozenset(
    {
        "task_id",
        "status",
        "project_id",
        "created_date",
        "last_modified_date",
        "execute_status",
        "source_datasource_name",
        "target_datasource_name",
        "source_app_id",
        "target_app_id",
        "source_app_name",
        "target_app_name",
        "task_mode",
        "enterprise_project_id",
        "source_datasource_type",
        "target_datasource_type",
        "source_instance_name",
        "target_instance_name",
        "repulling_snapshot",
    }
)


class FdiTaskSpec:
    """Offline rules of the FdiTask kind."""

    kind: Kind = KIND
    needs_instance: bool = True
    # Cursors the service moves on its own while a task runs.
    default_ignore: tuple[str, ...] = ("/task_detail/**/dataTimestamp",)
    can_create: bool = False  # the API pages offer no create call for common tasks
    write_options: tuple[str, ...] = ()

    def validate(self, name: str, spec: JSONObject) -> list[SpecProblem]:
        problems = spec_shape_problems(name, spec)
        task = spec.get("task", {})
        if isinstance(task, dict):
            problems.extend(_validate_task(name, task))
        return problems

    def desired_document(self, name: str, spec: JSONObject) -> JSONObject:
        task = dict(cast(JSONObject, spec.get("task", {})))
        task["task_name"] = name
        if isinstance(task.get("task_type"), str):
            task["task_type"] = cast(str, task["task_type"]).upper()
        document: JSONObject = {"task": task}
        if "task_detail" in spec:
            document["task_detail"] = spec["task_detail"]
        return document

    def normalize_live(self, document: JSONValue) -> JSONValue:
        return with_upper_task_type(document)

    def plan(
        self,
        desired: JSONObject,
        live: DecodedDocument | None,
        ignore: IgnoreRules,
        resolve: Resolve,
        options: Mapping[str, JSONValue],
    ) -> list[Write]:
        if live is None:
            raise InvalidWriteError("FdiTask cannot be created: the API has no create call")
        laid = lay(live.value, desired, ignore, resolve)
        try:
            sent = _update_body(laid.sent, live.encoded)
            shown = _update_body(redact(laid.shown), live.encoded)
        except DocumentError as error:
            # The update replaces task_detail whole: a text we cannot edit faithfully would
            # change what nobody declared, so nothing is sent.
            raise InvalidWriteError(f"task_detail cannot be edited faithfully: {error}") from None
        problems = update_body_problems(sent)
        if problems:
            raise InvalidWriteError("; ".join(problems))
        referenced: JSONValue | None = sent
        if laid.referenced is not laid.sent:
            try:
                referenced = _update_body(laid.referenced, live.encoded)
            except DocumentError:  # only a saved plan needs this form; the write stands
                referenced = None
        return [Write("update", sent, shown, referenced=referenced)]

    def unwritable(self, pointers: Sequence[str]) -> list[str]:
        return []  # the update replaces every writable field and task_detail whole

    def is_running(self, live: JSONValue) -> bool:
        return task_is_running(live)

    def restart(self) -> tuple[Write, Write] | None:
        return stop_and_start()

    def export_spec(self, document: JSONValue) -> JSONObject:
        live = cast(JSONObject, self.normalize_live(document))
        task = cast(JSONObject, live.get("task", {}))
        spec_task: JSONObject = {k: task[k] for k in WRITABLE_TASK_FIELDS if k in task}
        spec_task.pop("task_name", None)  # implied by metadata.name
        return {"task": spec_task, "task_detail": live.get("task_detail", {})}


def _update_body(document: JSONValue, encoded: Mapping[Path, str]) -> JSONObject:
    """The PUT body of seed 000 from a decoded task document: nested strings encoded again."""
    encoded_document = cast(JSONObject, encode(document, encoded))
    task = cast(JSONObject, encoded_document.get("task", {}))
    body_task: JSONObject = {k: task[k] for k in WRITABLE_TASK_FIELDS if task.get(k) is not None}
    if isinstance(body_task.get("task_type"), str):
        body_task["task_type"] = cast(str, body_task["task_type"]).upper()
    return {"task": body_task, "task_detail": encoded_document.get("task_detail")}


def update_body_problems(body: JSONObject) -> list[str]:
    """Seed 000's rules for an update body, each broken one named by its field."""
    task = body.get("task")
    if not isinstance(task, dict):
        return ["task: must be an object"]
    problems = [
        f"task.{field}: required"
        for field in ("task_name", "task_type", "source_datasource_id", "target_datasource_id")
        if field not in task
    ]
    for field, value in task.items():
        problem = field_problem(field, value)
        if problem:
            problems.append(f"task.{field}: {problem}")
    detail = body.get("task_detail")
    if not isinstance(detail, str) or not 1 <= len(detail) <= 2**31 - 1:
        problems.append("task_detail: must be a JSON document encoded as a string")
    return problems


def _validate_task(name: str, task: JSONObject) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    for key, value in task.items():
        if key in SERVER_OWNED_TASK_FIELDS:
            problem: str | None = "owned by the service, not desired state; remove it"
        elif key not in WRITABLE_TASK_FIELDS:
            problem = f"unknown field (writable: {', '.join(WRITABLE_TASK_FIELDS)})"
        elif key == "task_name" and value != name:
            problem = "must equal metadata.name (or be left out)"
        else:
            problem = field_problem(key, value)
        if problem:
            problems.append(SpecProblem(f"/spec/task/{key}", problem))
    return problems


class FdiTaskDriver:
    """Lists and reads FDI common tasks."""

    kind: Kind = KIND

    def __init__(self, client: FdiClient, tasks: SharedTaskList) -> None:
        self._client = client
        self._tasks = tasks

    async def scopes(self, project_id: str) -> list[Scope]:
        return await self._tasks.instance_scopes(project_id)

    async def list(self, scope: Scope) -> list[LiveEntry]:
        return await self._tasks.live_entries(scope, composite=False)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        answer = await self._client.get_task(scope.project_id, scope.instance_id, live_id)
        return live_task(cast(JSONObject, answer), WRITABLE_TASK_FIELDS, what=f"task {live_id}")

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        if write.action == "update":
            return f"PUT {task_path(scope.project_id, scope.instance_id, live_id)}"
        return stop_or_start_line(scope, live_id, write.action)

    async def send(self, scope: Scope, live_id: str, write: Write) -> None:
        if write.action == "update":
            ids = (scope.project_id, scope.instance_id, live_id)
            await self._client.update_task(*ids, cast(UpdateTaskBody, write.body))
        else:
            await send_stop_or_start(self._client, scope, live_id, write.action)


REGISTRATION = Registration(
    spec=FdiTaskSpec(),
    service=SERVICE,
    driver=lambda connections: FdiTaskDriver(*fdi_tasks(connections)),
    traced_as=(ROMA_SERVICE_TYPE, FDI_TASK_RESOURCE_TYPE),
)
