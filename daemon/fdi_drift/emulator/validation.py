"""Field rules of seed 000 (update a common task) and of the task list's query string.

The emulator's own choices where the page is silent:

- `task_type` must be spelt `REALTIME` or `TIMING` exactly; the lower-case form that answers
  carry is refused in requests.
- `task_detail` must parse as a JSON object (the page only says "String"); the real service
  documents it as a RawFormDataRequest object encoded as a string.
- Keys of `task` (and of the body) that the page does not list are ignored.
- An optional field sent as `null` counts as absent; sent as `""` it breaks its minimum length.
- List queries: a parameter sent empty (`name=`) counts as absent; `limit` must be 1-999
  (default 10); `offset` below 0 counts as 0; `status` must be 0 or 1. The ROMA instance list
  pages by the same rules (`parse_paging`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,99}")
TASK_TAG = re.compile(r"[A-Za-z0-9_-]{4,64}")
TASK_TYPES = frozenset({"REALTIME", "TIMING"})
MAX_TASK_DETAIL = 2**31 - 1
MAX_LIMIT = 999
DEFAULT_LIMIT = 10
_INTEGER = re.compile(r"-?[0-9]{1,18}")


class FieldError(ValueError):
    """A request field broke a rule; `field` is its dotted name, e.g. `task.task_tag`."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """A valid update body; `task_type` is lower case as stored, `None` means absent."""

    task_name: str
    task_type: str
    source_datasource_id: str
    target_datasource_id: str
    description: str | None
    task_tag: str | None
    task_detail: str


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """A valid list query; `None` filters match everything."""

    offset: int = 0
    limit: int = DEFAULT_LIMIT
    task_id: str | None = None
    name: str | None = None
    status: int | None = None
    task_type: str | None = None
    task_tag: str | None = None
    execute_status: str | None = None
    source_datasource_id: str | None = None
    target_datasource_id: str | None = None
    source_app_id: str | None = None
    target_app_id: str | None = None


def check_id(field: str, value: object) -> str:
    """An id (path segment or datasource id): a string of 1-64 characters."""
    return check_string(field, value, 1, 64)


def check_string(field: str, value: object, shortest: int, longest: int) -> str:
    """A string whose length lies within the bounds."""
    if value is None:
        raise FieldError(field, "It is required.")
    if not isinstance(value, str):
        raise FieldError(field, "It must be a string.")
    if not shortest <= len(value) <= longest:
        raise FieldError(field, f"Its length must be {shortest}-{longest} characters.")
    return value


def check_task_name(field: str, value: object) -> str:
    """3-100 letters, digits, `.`, `_`, `-`, starting with a letter or digit."""
    name = check_string(field, value, 3, 100)
    if not TASK_NAME.fullmatch(name):
        raise FieldError(
            field,
            "It must be 3-100 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def check_task_tag(field: str, value: object) -> str:
    """4-64 letters, digits, `-`, `_`."""
    tag = check_string(field, value, 4, 64)
    if not TASK_TAG.fullmatch(tag):
        raise FieldError(field, "It must be 4-64 letters, digits, '-' or '_'.")
    return tag


def check_task_detail(field: str, value: object) -> str:
    """A string of 1..2^31-1 characters holding a JSON object."""
    detail = check_string(field, value, 1, MAX_TASK_DETAIL)
    try:
        parsed = orjson.loads(detail)
    except orjson.JSONDecodeError as exc:
        raise FieldError(field, f"It must be JSON text: {exc}.") from exc
    if not isinstance(parsed, dict):
        raise FieldError(field, "It must encode a JSON object.")
    return detail


def parse_update(body: bytes) -> TaskUpdate:
    """Check an update body against seed 000's rules, naming the first bad field."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FieldError("body", f"The request body is not JSON: {exc}.") from exc
    if not isinstance(document, dict):
        raise FieldError("body", "The request body must be a JSON object.")
    task = document.get("task")
    if task is None:
        raise FieldError("task", "It is required.")
    if not isinstance(task, dict):
        raise FieldError("task", "It must be an object.")
    name = check_task_name("task.task_name", task.get("task_name"))
    task_type = check_string("task.task_type", task.get("task_type"), 1, 10)
    if task_type not in TASK_TYPES:
        raise FieldError("task.task_type", "It must be REALTIME or TIMING.")
    description = task.get("description")
    tag = task.get("task_tag")
    return TaskUpdate(
        task_name=name,
        task_type=task_type.lower(),
        source_datasource_id=check_id(
            "task.source_datasource_id", task.get("source_datasource_id")
        ),
        target_datasource_id=check_id(
            "task.target_datasource_id", task.get("target_datasource_id")
        ),
        description=(
            None if description is None else check_string("task.description", description, 1, 1024)
        ),
        task_tag=None if tag is None else check_task_tag("task.task_tag", tag),
        task_detail=check_task_detail("task_detail", document.get("task_detail")),
    )


def present(params: Mapping[str, str]) -> dict[str, str]:
    """The query parameters sent with a value: one sent empty (`name=`) counts as absent."""
    return {key: value for key, value in params.items() if value != ""}


def parse_paging(given: Mapping[str, str]) -> tuple[int, int]:
    """`offset` (below 0 counts as 0) and `limit` (1-999, default 10) of a list query."""
    offset = max(0, _integer("offset", given.get("offset", "0")))
    limit = _integer("limit", given.get("limit", str(DEFAULT_LIMIT)))
    if not 1 <= limit <= MAX_LIMIT:
        raise FieldError("limit", f"It must be 1-{MAX_LIMIT}.")
    return offset, limit


def parse_bounded_paging(given: Mapping[str, str], bound: int) -> tuple[int, int]:
    """`offset` and `limit` each 0-`bound` (limit default 10), as the instance list's page has."""
    offset = _integer("offset", given.get("offset", "0"))
    limit = _integer("limit", given.get("limit", str(DEFAULT_LIMIT)))
    for name, value in (("offset", offset), ("limit", limit)):
        if not 0 <= value <= bound:
            raise FieldError(name, f"It must be 0-{bound}.")
    return offset, limit


def parse_query(params: Mapping[str, str]) -> TaskQuery:
    """Check a list query string; empty values count as absent."""
    given = present(params)
    offset, limit = parse_paging(given)
    status = given.get("status")
    status_value = None if status is None else _integer("status", status)
    if status_value not in (None, 0, 1):
        raise FieldError("status", "It must be 0 (stopped) or 1 (running).")
    return TaskQuery(
        offset=offset,
        limit=limit,
        task_id=given.get("task_id"),
        name=given.get("name"),
        status=status_value,
        task_type=given.get("task_type"),
        task_tag=given.get("task_tag"),
        execute_status=given.get("execute_status"),
        source_datasource_id=given.get("source_datasource_id"),
        target_datasource_id=given.get("target_datasource_id"),
        source_app_id=given.get("source_app_id"),
        target_app_id=given.get("target_app_id"),
    )


def _integer(field: str, text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise FieldError(field, "It must be an integer.")
    return int(text)
