"""FDI common tasks through the official SDK (huaweicloudsdkroma): show, list, update, run, stop.

Every call is signed with AK/SK by the SDK; each answer must deserialize, and its model must
carry every key of the raw answer with the model's type (sdk_models.py), except the extras
listed here with the reason the SDK lacks them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkroma.v2 import RomaClient
from huaweicloudsdkroma.v2 import model as roma

from tests.conformance.conftest import (
    EmulatorProcess,
    SdkClientFactory,
    assert_accepted,
    assert_refused,
    assert_wrongly_signed_refused,
)
from tests.conformance.sdk_models import assert_carried
from tests.conftest import FIXTURES
from tests.emulator.conftest import COMPOSITE, CUSTOMERS, INSTANCE, NODES, ORDERS, PAYMENTS

COMMON = (ORDERS, NODES, CUSTOMERS, PAYMENTS)
_SEED_002 = "seed 002's example answer has it; TaskBasicRsp lacks it"
# The read answer of a common task (and the update's, which is the same document).
COMMON_TASK_EXTRA = {
    f"task.{key}": _SEED_002
    for key in (
        "task_mode",
        "enterprise_project_id",
        "source_datasource_type",
        "target_datasource_type",
        "source_instance_name",
        "target_instance_name",
        "execute_status",
        "repulling_snapshot",
    )
}
_COMPOSITE_GET = (
    "the emulator's read answer for composite tasks (no page documents one) keeps the create "
    "and modify fields; TaskBasicRsp lacks it"
)
COMPOSITE_TASK_EXTRA = {
    "task.operation_types": _COMPOSITE_GET,
    "task.repulling_snapshot": _COMPOSITE_GET,
    "task.ext_type": "the task list's BriefTaskRespBean has it; TaskBasicRsp lacks it",
}


@pytest.fixture(scope="module")
def roma_client(sdk_client: SdkClientFactory) -> Any:
    """A RomaClient of the module's emulator, signing with its key pair."""
    return sdk_client(RomaClient)


@pytest.mark.parametrize("task_id", COMMON)
def test_show_common_task(
    roma_client: Any, emulator_process: EmulatorProcess, task_id: str
) -> None:
    """ShowTask reads each sample common task; the model carries every documented field."""
    response = roma_client.show_task(roma.ShowTaskRequest(instance_id=INSTANCE, task_id=task_id))
    assert_accepted(emulator_process, "GET", f"/tasks/{task_id}")
    raw = assert_carried(response, COMMON_TASK_EXTRA)
    assert response.task.task_id == raw["task"]["task_id"] == task_id
    assert json.loads(response.task_detail)


def test_show_composite_task(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """ShowTask reads a composite task too."""
    response = roma_client.show_task(roma.ShowTaskRequest(instance_id=INSTANCE, task_id=COMPOSITE))
    assert_accepted(emulator_process, "GET", f"/tasks/{COMPOSITE}")
    assert_carried(response, COMPOSITE_TASK_EXTRA)
    assert response.task.task_type == "realtime"


def test_list_pages_through_every_task(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """ListTasks pages of 2 carry every BriefTaskRespBean field (created_date as a date) and
    add up to the total."""
    seen: list[str] = []
    for offset in (0, 2, 4):
        request = roma.ListTasksRequest(instance_id=INSTANCE, offset=offset, limit=2)
        response = roma_client.list_tasks(request)
        assert_accepted(emulator_process, "GET", "/tasks")
        raw = assert_carried(response, {})
        assert response.total == raw["total"] == len(COMMON) + 1
        assert response.size == len(response.entities) == min(2, response.total - offset)
        seen += [entity.task_id for entity in response.entities]
    assert sorted(seen) == sorted([*COMMON, COMPOSITE])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"task_id": ORDERS}, [ORDERS]),
        ({"name": "MYSQL"}, [ORDERS, CUSTOMERS, COMPOSITE]),
        ({"status": 0, "task_type": "timing", "name": "api"}, [NODES, PAYMENTS]),
        ({"task_type": "realtime"}, [COMPOSITE]),
        ({"execute_status": "NO-SUCH-STATUS"}, []),
    ],
)
def test_list_filters(
    roma_client: Any,
    emulator_process: EmulatorProcess,
    filters: dict[str, Any],
    expected: list[str],
) -> None:
    """ListTasks filters reach the emulator as the SDK sends them and narrow the list."""
    request = roma.ListTasksRequest(instance_id=INSTANCE, limit=100, **filters)
    response = roma_client.list_tasks(request)
    assert_accepted(emulator_process, "GET", "/tasks")
    assert_carried(response, {})
    assert sorted(entity.task_id for entity in response.entities) == sorted(expected)
    assert response.total == len(expected)


def test_update_with_the_seed_000_body(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """UpdateTask with seed 000's example body answers the updated task, which a read agrees
    with, task_detail verbatim."""
    seed = json.loads((FIXTURES / "seed_000_put_body.json").read_text(encoding="utf-8"))
    body = roma.CreateCommonTaskRequestBody(
        task=roma.TaskBasicRequestBody(**seed["task"]), task_detail=seed["task_detail"]
    )
    request = roma.UpdateTaskRequest(instance_id=INSTANCE, task_id=NODES, body=body)
    response = roma_client.update_task(request)
    assert_accepted(emulator_process, "PUT", f"/tasks/{NODES}")
    raw = assert_carried(response, COMMON_TASK_EXTRA)
    assert response.task_detail == seed["task_detail"]
    assert response.task.task_name == seed["task"]["task_name"]
    assert response.task.task_type == "timing"
    read = roma_client.show_task(roma.ShowTaskRequest(instance_id=INSTANCE, task_id=NODES))
    assert json.loads(read.raw_content) == raw


def test_run_then_stop(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """RunTask answers the empty RunTaskResponse, StopTask its message; the list follows."""
    ran = roma_client.run_task(roma.RunTaskRequest(instance_id=INSTANCE, task_id=CUSTOMERS))
    assert_accepted(emulator_process, "POST", f"/tasks/{CUSTOMERS}/run")
    assert assert_carried(ran, {}) == {}
    running = roma_client.list_tasks(roma.ListTasksRequest(instance_id=INSTANCE, status=1))
    assert [entity.task_id for entity in running.entities] == [CUSTOMERS]
    stopped = roma_client.stop_task(roma.StopTaskRequest(instance_id=INSTANCE, task_id=CUSTOMERS))
    assert_accepted(emulator_process, "POST", f"/tasks/{CUSTOMERS}/terminate")
    assert_carried(stopped, {})
    assert stopped.message == "success"
    running = roma_client.list_tasks(roma.ListTasksRequest(instance_id=INSTANCE, status=1))
    assert running.entities == []


@pytest.mark.parametrize(
    ("instance_id", "task_id"),
    [(INSTANCE, "0123456789abcdef0123456789abcdef"), ("no-such-instance", ORDERS)],
    ids=["unknown task", "unknown instance"],
)
def test_unknown_task_or_instance_is_a_client_error(
    roma_client: Any, emulator_process: EmulatorProcess, instance_id: str, task_id: str
) -> None:
    """A task the instance lacks, or an instance the project lacks, raises 404 FDI.3021."""
    with pytest.raises(ClientRequestException) as caught:
        roma_client.show_task(roma.ShowTaskRequest(instance_id=instance_id, task_id=task_id))
    assert_refused(caught, emulator_process, 404, "FDI.3021")


def test_bad_parameter_is_a_client_error(
    roma_client: Any, emulator_process: EmulatorProcess
) -> None:
    """A limit past 999 raises 400 FDI.3033 naming it."""
    with pytest.raises(ClientRequestException) as caught:
        roma_client.list_tasks(roma.ListTasksRequest(instance_id=INSTANCE, limit=1000))
    assert_refused(caught, emulator_process, 400, "FDI.3033")
    assert "[limit]" in caught.value.error_msg


def test_bad_signature_is_a_client_error(
    sdk_client: SdkClientFactory, emulator_process: EmulatorProcess
) -> None:
    """A request signed with the wrong secret key raises the gateway's 401 APIG.0301."""
    assert_wrongly_signed_refused(
        sdk_client,
        emulator_process,
        RomaClient,
        lambda client: client.show_task(roma.ShowTaskRequest(instance_id=INSTANCE, task_id=ORDERS)),
    )
