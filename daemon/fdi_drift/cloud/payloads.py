"""The wire JSON of the FDI task API (seeds 000 and 002, API_NOTES.md) and of CTS's trace list,
as TypedDicts.

These describe what the service sends and accepts; they check nothing at run time. `fdi.py`
and `cts.py` check the few fields the daemon cannot work without before they hand an answer on.
"""

from __future__ import annotations

from typing import NotRequired, Required, TypedDict


class TaskBasicRsp(TypedDict, total=False):
    """`task` in a read answer; every field may be absent, most are server-owned."""

    task_id: str
    task_name: str
    task_type: str  # lower case in answers: "timing", "realtime"
    status: str  # "stop" / "running"
    project_id: str
    source_datasource_id: str
    target_datasource_id: str
    source_datasource_name: str
    target_datasource_name: str
    source_app_id: str
    target_app_id: str
    source_app_name: str
    target_app_name: str
    created_date: int  # epoch milliseconds
    last_modified_date: int  # epoch milliseconds
    description: str
    task_tag: str
    task_mode: str
    enterprise_project_id: str
    source_datasource_type: str
    target_datasource_type: str
    source_instance_name: str
    target_instance_name: str
    execute_status: str
    repulling_snapshot: bool


class TaskResponse(TypedDict):
    """The answer of `GET .../tasks/{task_id}`; `task_detail` is JSON encoded as a string."""

    task: TaskBasicRsp
    task_detail: str


class TaskBasicRequestBody(TypedDict):
    """`task` in an update request (seed 000); `task_type` is upper case here."""

    task_name: str
    task_type: str  # "REALTIME" / "TIMING"
    source_datasource_id: str
    target_datasource_id: str
    description: NotRequired[str]
    task_tag: NotRequired[str]


class UpdateTaskBody(TypedDict):
    """The body of `PUT .../tasks/{task_id}`; `task_detail` is sent as the exact string given."""

    task: TaskBasicRequestBody
    task_detail: str


class RomaInstance(TypedDict, total=False):
    """One entry of the ROMA Connect instance list (CheckRomaInstanceListV2); `id` is sure."""

    id: Required[str]
    name: str
    status: str  # RUNNING, CREATING, ERROR, ...
    project_id: str


class BriefTask(TypedDict, total=False):
    """One entry of the task list (BriefTaskRespBean); only `task_id` is sure to be there."""

    task_id: Required[str]
    task_name: str
    task_type: str
    status: int  # 0 stopped, 1 running
    created_date: int | str  # the SDK types it as a date
    version: str
    last_modified_time: int  # epoch milliseconds: what makes cheap change detection possible
    execute_status: str
    source_app_id: str
    target_app_id: str
    source_instance_id: str
    target_instance_id: str
    ext_type: str  # composite task type, may be empty
    enterprise_project_id: str
    task_tag: str


class CtsDomain(TypedDict, total=False):
    """A trace's `user.domain` (BaseUser): the account."""

    id: str
    name: str


class CtsUser(TypedDict, total=False):
    """A trace's `user` (UserInfo); absent or null for some system actions."""

    id: str
    name: str
    user_name: str
    domain: CtsDomain
    account_id: str
    access_key_id: str
    principal_id: str
    principal_urn: str
    principal_is_root_user: str  # "true" / "false"
    type: str
    invoked_by: list[str]


class CtsTrace(TypedDict, total=False):
    """One entry of `traces` in a ListTraces answer (the SDK's Traces)."""

    trace_id: Required[str]  # a UUID
    trace_name: Required[str]  # e.g. updateTask, ModifyJob
    time: Required[int]  # epoch milliseconds: when the operation happened
    record_time: int  # epoch milliseconds: when CTS recorded it
    trace_rating: str  # normal / warning / incident
    trace_type: str  # ApiCall / ConsoleAction / SystemAction
    code: str  # the operation's HTTP status, as text
    api_version: str
    message: str
    request: str
    response: str
    user: CtsUser | None
    service_type: str  # ROMA, DRS, ...
    resource_type: str  # task, job, ...
    resource_id: str
    resource_name: str
    source_ip: str
    request_id: str
    location_info: str
    endpoint: str
    resource_url: str
    enterprise_project_id: str
    resource_account_id: str
    read_only: bool
    operation_id: str


class CtsMetaData(TypedDict, total=False):
    """`meta_data` of a ListTraces answer: traces returned and the marker of the next page."""

    count: int
    marker: str | None  # null on the last page


class ListTracesAnswer(TypedDict, total=False):
    """The answer of `GET /v3/{project_id}/traces`."""

    traces: list[CtsTrace]
    meta_data: CtsMetaData
