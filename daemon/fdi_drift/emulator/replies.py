"""The emulator's answers: a status, JSON bytes and headers, plus the error bodies it sends.

Error codes the public pages name are used with their documented meaning where one fits
(`FDI.3021` "One or more tasks do not exist.", `FDI.3023` "One or more tasks are running.",
`FDI.3033` "Invalid parameter [%s].", `APIG.1002`, `APIG.1005`, `APIG.0308`, `APIG.0101`).
Where the pages are silent the emulator picks its own and says so here:

- an unknown task answers 404 with `FDI.3021` (the error-code page lists it under 400 for batch
  operations; a single-task read or update answers 404 as seed 000 and 002 document);
- renaming a task (or creating a composite one) with a name another task of the instance has
  answers 400 `FDI.3006`;
- composite-task routes answer with the codes seeds 003 and 004 show: 400 `FDI.3150` "The task
  list is empty." and 404 `FDI.3083` (see composite.py for when);
- DRS routes answer 400 `DRS.10000010` for an unknown job (seed 001) and 400 `DRS.10000001`
  "Invalid parameter [field]. ..." for every bad field or query parameter (the page only says
  codes have 12 characters);
- a random or default injected server fault answers 500 `FDI.3001` "Internal server error.",
  on DRS routes too;
- a refused signed request answers 401 `APIG.0301` "Incorrect IAM authentication information:
  ..." whatever the reason, as the gateway does; the rest of `error_msg` tells the reasons
  apart (credentials.py lists them).

Every answer, control routes and faults included, carries a `Date` header (RFC 7231) from the
emulator's clock unless it already has one, so a client can tell that its own clock is off, and
an `X-Request-Id` header (32 lower-case hex characters, new for every request) unless it already
has one, as the API gateway sends; the request log records it (recording.py). The gateway's own
error bodies (`APIG.*` codes) carry the same id as `request_id`, as the API Gateway pages show
them, and so do the ROMA instance list's errors (its ErrorResp has `request_id`); FDI and DRS
error bodies do not (their pages show only `error_code` and `error_msg`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from email.utils import formatdate
from enum import StrEnum

import orjson

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class ErrorCode(StrEnum):
    """The error codes the emulator answers with."""

    INTERNAL = "FDI.3001"
    NAME_TAKEN = "FDI.3006"
    TASK_NOT_FOUND = "FDI.3021"
    TASK_RUNNING = "FDI.3023"
    INVALID_PARAMETER = "FDI.3033"
    NO_SCHEDULED_PLAN = "FDI.3083"
    TASK_LIST_EMPTY = "FDI.3150"
    DRS_INVALID_PARAMETER = "DRS.10000001"
    DRS_JOB_NOT_FOUND = "DRS.10000010"
    INCORRECT_IAM_AUTHENTICATION = "APIG.0301"
    UNAUTHORIZED = "APIG.1002"
    FORBIDDEN = "APIG.1005"
    THROTTLED = "APIG.0308"
    NO_SUCH_API = "APIG.0101"


REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, already encoded; `request_id_in_body` marks a JSON object body that
    gets the request's id as `request_id` when it goes out (see `stamped`)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    request_id_in_body: bool = False


def json_reply(status: int, value: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """Encode `value` as compact UTF-8 JSON (non-ASCII unescaped) with a JSON content type."""
    return Reply(status, orjson.dumps(value), (("content-type", JSON_CONTENT_TYPE), *headers))


def dated(reply: Reply, epoch_seconds: float) -> Reply:
    """`reply` with a `Date` header for `epoch_seconds`, unless it has one (a planned fault's)."""
    if header(reply, "date") is not None:
        return reply
    date = formatdate(epoch_seconds, usegmt=True)
    return replace(reply, headers=(*reply.headers, ("date", date)))


def stamped(reply: Reply, request_id: str) -> Reply:
    """`reply` with an `X-Request-Id` header, unless it has one (a planned fault's), and with
    `request_id` in its body when the reply asks for it."""
    if header(reply, REQUEST_ID_HEADER) is not None:
        return reply
    body = reply.body
    if reply.request_id_in_body:
        document = orjson.loads(body)
        if isinstance(document, dict):
            body = orjson.dumps({**document, "request_id": request_id})
    return replace(reply, body=body, headers=(*reply.headers, (REQUEST_ID_HEADER, request_id)))


def with_request_id(reply: Reply) -> Reply:
    """`reply` marked to carry the request id in its body, as ROMA's ErrorResp does."""
    return replace(reply, request_id_in_body=True)


def header(reply: Reply, name: str) -> str | None:
    """The value of the header `name` (any case), or None."""
    wanted = name.lower()
    return next((value for key, value in reply.headers if key.lower() == wanted), None)


def service_error(
    status: int, code: ErrorCode, message: str, headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    """The `{"error_code", "error_msg"}` body that FDI and the API gateway answer with.

    The gateway's own (`APIG.*`) bodies get `request_id` too when they go out.
    """
    reply = json_reply(status, {"error_code": str(code), "error_msg": message}, headers)
    return replace(reply, request_id_in_body=code.startswith("APIG."))


def invalid_parameter(field: str, problem: str) -> Reply:
    """A 400 naming the offending field, e.g. `task.task_tag`, in `error_msg`."""
    message = f"Invalid parameter [{field}]. {problem}"
    return service_error(400, ErrorCode.INVALID_PARAMETER, message)


def task_not_found(task_id: str) -> Reply:
    """The 404 for a task id the instance does not hold."""
    return service_error(
        404, ErrorCode.TASK_NOT_FOUND, f"One or more tasks do not exist. task_id: {task_id}"
    )


def drs_invalid_parameter(field: str, problem: str) -> Reply:
    """A DRS 400 naming the offending field, e.g. `job.params.base_info.name`."""
    message = f"Invalid parameter [{field}]. {problem}"
    return service_error(400, ErrorCode.DRS_INVALID_PARAMETER, message)


def drs_job_not_found() -> Reply:
    """DRS's answer for a job id the project does not hold (seed 001's example, status 400)."""
    return service_error(
        400, ErrorCode.DRS_JOB_NOT_FOUND, "Job does not exist, please check job ID."
    )


def task_running(task_id: str) -> Reply:
    """The 400 a running task answers to a change of its configuration."""
    return service_error(
        400,
        ErrorCode.TASK_RUNNING,
        f"One or more tasks are running. Stop task {task_id} before updating it.",
    )


def name_taken(field: str, name: str, holder: str) -> Reply:
    """The 400 for a task name another task of the instance already has."""
    return service_error(
        400,
        ErrorCode.NAME_TAKEN,
        f"Invalid parameter [{field}]. The task name {name!r} already exists in this "
        f"instance (task {holder}).",
    )


def internal_error() -> Reply:
    """A 500 as the service sends when it fails on its side."""
    return service_error(500, ErrorCode.INTERNAL, "Internal server error.")


def throttled(retry_after: int = 1) -> Reply:
    """The API gateway's 429, with `Retry-After` (1 second unless a test asks for less)."""
    return service_error(
        429,
        ErrorCode.THROTTLED,
        "The throttling threshold has been reached: "
        "policy user over ratelimit,limit:20,time:1 second",
        (("retry-after", str(retry_after)),),
    )


def no_such_api() -> Reply:
    """The API gateway's 404 for a method and path it has no API for."""
    return service_error(
        404,
        ErrorCode.NO_SUCH_API,
        "The API does not exist or has not been published in the environment",
    )
