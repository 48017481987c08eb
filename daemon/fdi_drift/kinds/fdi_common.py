"""What the FDI common and composite task kinds share: task field rules, reads, stop and start.

Both kinds are read through one endpoint (`GET .../tasks/{id}`: `task` plus the `task_detail`
string), listed by one list (a request per instance, shared by both: task_list.py), stopped and
started by the same calls, and their task fields follow the same rules (seeds 000 and 003),
checked here for desired specs and request bodies alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import cast

from fdi_drift.cloud.fdi import SERVICE, FdiClient, task_path
from fdi_drift.drift.document import DecodedDocument, canonical_bytes, decode_text
from fdi_drift.drift.model import JSONObject, JSONValue, Path
from fdi_drift.errors import DocumentError, InvalidWriteError
from fdi_drift.kinds.contract import Connections, LiveDocument, Scope, SpecProblem, Write
from fdi_drift.kinds.task_list import SharedTaskList

TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,99}")
TASK_TAG = re.compile(r"[A-Za-z0-9_-]{4,64}")
TASK_TYPES = frozenset({"REALTIME", "TIMING"})
NAME_RULE = "3-100 letters, digits, '.', '_' or '-', starting with a letter or digit"


def spec_shape_problems(name: str, spec: JSONObject) -> list[SpecProblem]:
    """A task spec's envelope: the name, only `task` and `task_detail`, both mappings."""
    problems: list[SpecProblem] = []
    if not TASK_NAME.fullmatch(name):
        problems.append(SpecProblem("/metadata/name", f"a task name is {NAME_RULE}"))
    for key in spec:
        if key not in ("task", "task_detail"):
            problems.append(SpecProblem(f"/spec/{key}", "unknown field (task, task_detail)"))
    if not isinstance(spec.get("task", {}), dict):
        problems.append(SpecProblem("/spec/task", "must be a mapping"))
    if not isinstance(spec.get("task_detail", {}), dict):
        problems.append(
            SpecProblem("/spec/task_detail", "must be a mapping (write the decoded document)")
        )
    return problems


def field_problem(field: str, value: JSONValue) -> str | None:
    """What the FDI API would refuse in one task field's value, or None."""
    if not isinstance(value, str):
        return "must be a string"
    if field == "task_name" and not TASK_NAME.fullmatch(value):
        return f"must be {NAME_RULE}"
    if field == "task_type" and value.upper() not in TASK_TYPES:
        return "must be REALTIME or TIMING"
    if field == "description" and not 1 <= len(value) <= 1024:
        return "must be 1-1024 characters"
    if field == "task_tag" and not TASK_TAG.fullmatch(value):
        return "must be 4-64 letters, digits, '-' or '_'"
    if field.endswith("_id") and not 1 <= len(value) <= 64:
        return "must be 1-64 characters"
    return None


def with_upper_task_type(document: JSONValue) -> JSONValue:
    """`document` with `task.task_type` in upper case (answers say `timing`, requests `TIMING`)."""
    if not isinstance(document, dict):
        return document
    task = document.get("task")
    if isinstance(task, dict) and isinstance(task.get("task_type"), str):
        return {**document, "task": {**task, "task_type": cast(str, task["task_type"]).upper()}}
    return document


def task_is_running(live: JSONValue) -> bool:
    """Whether a decoded task is running (such a task refuses updates until it is stopped)."""
    task = live.get("task") if isinstance(live, dict) else None
    return isinstance(task, dict) and task.get("status") == "running"


def stop_and_start() -> tuple[Write, Write]:
    """The writes that let a running task be updated: terminate before, run after."""
    return Write("stop", None, None), Write("start", None, None)


def stop_or_start_line(scope: Scope, live_id: str, action: str) -> str:
    """How a stop or start goes on the wire."""
    path = task_path(scope.project_id, scope.instance_id, live_id)
    return f"POST {path}/{'terminate' if action == 'stop' else 'run'}"


async def send_stop_or_start(client: FdiClient, scope: Scope, live_id: str, action: str) -> None:
    """Stop or start a task; InvalidWriteError for any other action."""
    ids = (scope.project_id, scope.instance_id, live_id)
    if action == "stop":
        await client.stop_task(*ids)
    elif action == "start":
        await client.start_task(*ids)
    else:
        raise InvalidWriteError(f"no FDI task write action {action!r}")


def fdi_tasks(connections: Connections) -> tuple[FdiClient, SharedTaskList]:
    """The FDI client and the task list both task kinds share, made once per set of drivers."""

    def make() -> tuple[FdiClient, SharedTaskList]:
        client = FdiClient(connections.api(SERVICE))
        return client, SharedTaskList(client)

    return connections.shared("fdi tasks", make)


def live_task(answer: JSONObject, fields: Sequence[str], *, what: str) -> LiveDocument:
    """A GET answer as a live document; its digest covers `task_detail` and the task `fields`."""
    task = cast(JSONObject, answer["task"])
    text = cast(str, answer["task_detail"])
    writable = {key: task[key] for key in fields if key in task}
    # SHA-256: with the CPU's SHA instructions 2.5x faster than blake2b over a 26 KB detail.
    digest = hashlib.sha256(canonical_bytes(writable))
    digest.update(text.encode())
    return LiveDocument(digest.hexdigest()[:32], decode=lambda: decode_task(answer, what=what))


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
