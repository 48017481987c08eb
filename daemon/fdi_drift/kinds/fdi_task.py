"""FdiTask: a ROMA Connect FDI common task (seed 000 for writes, seed 002 for reads).

Desired spec: `task` (the writable TaskBasicRequestBody fields) and `task_detail` (the decoded
RawFormData document). Everything else TaskBasicRsp carries is the server's: declaring it is a
validation error, and it never counts as drift.
"""

from __future__ import annotations

import hashlib
import re
from typing import cast

from fdi_drift.cloud.fdi import FdiClient
from fdi_drift.drift.document import DecodedDocument, canonical_bytes, decode, parse_json
from fdi_drift.drift.model import JSONObject, JSONValue, Kind, Path
from fdi_drift.errors import DocumentError
from fdi_drift.kinds.contract import LiveDocument, LiveEntry, Scope, SpecProblem

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

    def export_spec(self, document: JSONValue) -> JSONObject:
        live = cast(JSONObject, self.normalize_live(document))
        task = cast(JSONObject, live.get("task", {}))
        spec_task: JSONObject = {k: task[k] for k in WRITABLE_TASK_FIELDS if k in task}
        spec_task.pop("task_name", None)  # implied by metadata.name
        return {"task": spec_task, "task_detail": live.get("task_detail", {})}


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

    def __init__(self, client: FdiClient) -> None:
        self._client = client

    async def list(self, scope: Scope) -> list[LiveEntry]:
        entries = await self._client.list_tasks(scope.project_id, scope.instance_id)
        return [
            LiveEntry(
                id=entry["task_id"],
                name=str(entry.get("task_name", "")),
                version=str(entry.get("last_modified_time", "")),
            )
            for entry in entries
            if not entry.get("ext_type")  # composite tasks carry their type here
        ]

    async def read(self, scope: Scope, live_id: str) -> LiveDocument:
        answer = await self._client.get_task(scope.project_id, scope.instance_id, live_id)
        return live_task(cast(JSONObject, answer), what=f"task {live_id}")


def live_task(answer: JSONObject, *, what: str) -> LiveDocument:
    """A GET answer as a live document; its digest covers every field desired state can declare."""
    task = cast(JSONObject, answer["task"])
    text = cast(str, answer["task_detail"])
    writable = {key: task[key] for key in WRITABLE_TASK_FIELDS if key in task}
    digest = hashlib.blake2b(canonical_bytes(writable), digest_size=16)
    digest.update(text.encode())
    return LiveDocument(
        digest.hexdigest(),
        parse=lambda: {"task": task, "task_detail": _parse_detail(text, what)},
        decode=lambda: decode_task(answer, what=what),
    )


def decode_task(answer: JSONObject, *, what: str) -> DecodedDocument:
    """Decode a GET answer: `task_detail` must be JSON text; strings inside it decode too."""
    text = cast(str, answer["task_detail"])  # the client checked the shape
    detail = decode(_parse_detail(text, what), what=f"{what}: task_detail")
    encoded: dict[Path, str] = {("task_detail",): text}
    encoded.update({("task_detail", *path): original for path, original in detail.encoded.items()})
    return DecodedDocument(
        value={"task": answer["task"], "task_detail": detail.value}, encoded=encoded
    )


def _parse_detail(text: str, what: str) -> JSONObject:
    detail = parse_json(text, what=f"{what}: task_detail")
    if not isinstance(detail, dict):
        raise DocumentError(f"{what}: task_detail is {type(detail).__name__} JSON, not an object")
    return detail
