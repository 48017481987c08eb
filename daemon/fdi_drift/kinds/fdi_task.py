"""FdiTask: a ROMA Connect FDI common task (seed 000 for writes, seed 002 for reads).

Desired spec: `task` (the writable TaskBasicRequestBody fields) and `task_detail` (the decoded
RawFormData document). Everything else TaskBasicRsp carries is the server's: declaring it is a
validation error, and it never counts as drift.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import cast

from fdi_drift.cloud.fdi import FdiClient, task_path
from fdi_drift.cloud.payloads import UpdateTaskBody
from fdi_drift.drift.document import DecodedDocument, canonical_bytes, decode_text, encode
from fdi_drift.drift.ignore import IgnoreRules
from fdi_drift.drift.model import JSONObject, JSONValue, Kind, Path
from fdi_drift.drift.overlay import Resolve, overlay
from fdi_drift.drift.redaction import redact
from fdi_drift.errors import DocumentError, InvalidWriteError
from fdi_drift.kinds.contract import LiveDocument, LiveEntry, Scope, SpecProblem, Write
from fdi_drift.kinds.task_list import SharedTaskList

TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,99}")
TASK_TAG = re.compile(r"[A-Za-z0-9_-]{4,64}")
TASK_TYPES = frozenset({"REALTIME", "TIMING"})

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

    kind: Kind = Kind.FDI_TASK
    needs_instance: bool = True
    # Cursors the service moves on its own while a task runs.
    default_ignore: tuple[str, ...] = ("/task_detail/**/dataTimestamp",)
    can_create: bool = False  # the API pages offer no create call for common tasks
    write_options: tuple[str, ...] = ()

    def validate(self, name: str, spec: JSONObject) -> list[SpecProblem]:
        problems: list[SpecProblem] = []
        if not TASK_NAME.fullmatch(name):
            problems.append(
                SpecProblem(
                    "/metadata/name",
                    "a task name is 3-100 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit",
                )
            )
        for key in spec:
            if key not in ("task", "task_detail"):
                problems.append(SpecProblem(f"/spec/{key}", "unknown field (task, task_detail)"))
        task = spec.get("task", {})
        if not isinstance(task, dict):
            problems.append(SpecProblem("/spec/task", "must be a mapping"))
        else:
            problems.extend(_validate_task(name, task))
        detail = spec.get("task_detail", {})
        if not isinstance(detail, dict):
            problems.append(
                SpecProblem("/spec/task_detail", "must be a mapping (write the decoded document)")
            )
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
        if not isinstance(document, dict):
            return document
        task = document.get("task")
        if isinstance(task, dict) and isinstance(task.get("task_type"), str):
            task = {**task, "task_type": cast(str, task["task_type"]).upper()}
            return {**document, "task": task}
        return document

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
        laid = overlay(live.value, desired, ignore, resolve)
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
        return [Write("update", sent, shown)]

    def unwritable(self, pointers: Sequence[str]) -> list[str]:
        return []  # the update replaces every writable field and task_detail whole

    def is_running(self, live: JSONValue) -> bool:
        task = live.get("task") if isinstance(live, dict) else None
        return isinstance(task, dict) and task.get("status") == "running"

    def restart(self) -> tuple[Write, Write] | None:
        return Write("stop", None, None), Write("start", None, None)

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
    problems: list[str] = []
    task = body.get("task")
    if not isinstance(task, dict):
        return ["task: must be an object"]
    for field in ("task_name", "task_type", "source_datasource_id", "target_datasource_id"):
        if not isinstance(task.get(field), str):
            problems.append(f"task.{field}: required")
    name = task.get("task_name")
    if isinstance(name, str) and not TASK_NAME.fullmatch(name):
        problems.append("task.task_name: 3-100 letters, digits, '.', '_' or '-'")
    if isinstance(task.get("task_type"), str) and task["task_type"] not in TASK_TYPES:
        problems.append("task.task_type: must be REALTIME or TIMING")
    for field in ("source_datasource_id", "target_datasource_id"):
        value = task.get(field)
        if isinstance(value, str) and not 1 <= len(value) <= 64:
            problems.append(f"task.{field}: 1-64 characters")
    description = task.get("description")
    if description is not None and (
        not isinstance(description, str) or not 1 <= len(description) <= 1024
    ):
        problems.append("task.description: 1-1024 characters")
    tag = task.get("task_tag")
    if tag is not None and (not isinstance(tag, str) or not TASK_TAG.fullmatch(tag)):
        problems.append("task.task_tag: 4-64 letters, digits, '-' or '_'")
    detail = body.get("task_detail")
    if not isinstance(detail, str) or not 1 <= len(detail) <= 2**31 - 1:
        problems.append("task_detail: must be a JSON document encoded as a string")
    return problems


def _validate_task(name: str, task: JSONObject) -> list[SpecProblem]:
    problems: list[SpecProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(SpecProblem(f"/spec/task/{field}", message))

    for key, value in task.items():
        if key in SERVER_OWNED_TASK_FIELDS:
            bad(key, "owned by the service, not desired state; remove it")
        elif key not in WRITABLE_TASK_FIELDS:
            bad(key, f"unknown field (writable: {', '.join(WRITABLE_TASK_FIELDS)})")
        elif not isinstance(value, str):
            bad(key, "must be a string")
    if isinstance(task.get("task_name"), str) and task["task_name"] != name:
        bad("task_name", "must equal metadata.name (or be left out)")
    task_type = task.get("task_type")
    if isinstance(task_type, str) and task_type.upper() not in TASK_TYPES:
        bad("task_type", "must be REALTIME or TIMING")
    for field in ("source_datasource_id", "target_datasource_id"):
        value = task.get(field)
        if isinstance(value, str) and not 1 <= len(value) <= 64:
            bad(field, "must be 1-64 characters")
    description = task.get("description")
    if isinstance(description, str) and not 1 <= len(description) <= 1024:
        bad("description", "must be 1-1024 characters")
    tag = task.get("task_tag")
    if isinstance(tag, str) and not TASK_TAG.fullmatch(tag):
        bad("task_tag", "must be 4-64 letters, digits, '-' or '_'")
    return problems


class FdiTaskDriver:
    """Lists and reads FDI common tasks."""

    kind: Kind = Kind.FDI_TASK

    def __init__(self, client: FdiClient, tasks: SharedTaskList) -> None:
        self._client = client
        self._tasks = tasks

    async def list(self, scope: Scope) -> list[LiveEntry]:
        return await self._tasks.live_entries(scope, composite=False)

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        answer = await self._client.get_task(scope.project_id, scope.instance_id, live_id)
        return live_task(cast(JSONObject, answer), WRITABLE_TASK_FIELDS, what=f"task {live_id}")

    def request_line(self, scope: Scope, live_id: str, write: Write) -> str:
        path = task_path(scope.project_id, scope.instance_id, live_id)
        return {
            "update": f"PUT {path}",
            "stop": f"POST {path}/terminate",
            "start": f"POST {path}/run",
        }[write.action]

    async def send(self, scope: Scope, live_id: str, write: Write) -> None:
        ids = (scope.project_id, scope.instance_id, live_id)
        if write.action == "update":
            await self._client.update_task(*ids, cast(UpdateTaskBody, write.body))
        elif write.action == "stop":
            await self._client.stop_task(*ids)
        elif write.action == "start":
            await self._client.start_task(*ids)
        else:
            raise InvalidWriteError(f"FdiTask has no write action {write.action!r}")


def live_task(answer: JSONObject, fields: Sequence[str], *, what: str) -> LiveDocument:
    """A GET answer as a live document; its digest covers `task_detail` and the task `fields`."""
    task = cast(JSONObject, answer["task"])
    text = cast(str, answer["task_detail"])
    writable = {key: task[key] for key in fields if key in task}
    digest = hashlib.blake2b(canonical_bytes(writable), digest_size=16)
    digest.update(text.encode())
    return LiveDocument(digest.hexdigest(), decode=lambda: decode_task(answer, what=what))


def decode_task(answer: JSONObject, *, what: str) -> DecodedDocument:
    """Decode a GET answer: `task_detail` must be a JSON object; strings inside it decode too."""
    text = cast(str, answer["task_detail"])  # the client checked the shape
    detail = decode_text(text, what=f"{what}: task_detail", path=("task_detail",))
    if not isinstance(detail.value, dict):
        kind = type(detail.value).__name__
        raise DocumentError(f"{what}: task_detail is {kind} JSON, not an object")
    encoded: dict[Path, str] = {("task_detail",): text, **detail.encoded}
    return DecodedDocument(
        value={"task": answer["task"], "task_detail": detail.value}, encoded=encoded
    )
