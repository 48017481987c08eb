"""FDI composite tasks through the official SDK: create, init and modify.

The emulator does not serve the composite mapping routes (CreateMultiTaskMappings,
DeleteMultiTaskMapping); their 404 is the gateway's APIG.0101 and is checked below.
"""

from __future__ import annotations

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
)
from tests.conformance.sdk_models import assert_carried
from tests.emulator.conftest import COMPOSITE, INSTANCE

INIT_EXTRA = {
    "[].schema_mappings": (
        "seed 004's MultiTaskInitElement has it (the first 10 schema mappings); the SDK's "
        "MultiTaskInitElement lacks it"
    ),
}


@pytest.fixture(scope="module")
def roma_client(sdk_client: SdkClientFactory) -> Any:
    """A RomaClient of the module's emulator, signing with its key pair."""
    return sdk_client(RomaClient)


@pytest.fixture(scope="module")
def created(roma_client: Any) -> str:
    """The id of a composite task the module creates (with seed 003's example fields)."""
    body = roma.MultiTaskRequestBody(
        task_name="conformance-cdc",
        task_type="REALTIME",
        description="create",
        task_tag="combination",
        operation_types=["INSERT", "UPDATE", "DELETE"],
        source_app_id="d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
        target_app_id="d5afd9af-a8fe-47f6-a98c-edbcba11a0da",
    )
    response = roma_client.create_multi_tasks(
        roma.CreateMultiTasksRequest(instance_id=INSTANCE, body=body)
    )
    assert_carried(response, {})
    task_id: str = response.task_id
    return task_id


def test_create_answers_the_new_task_id(
    roma_client: Any, emulator_process: EmulatorProcess, created: str
) -> None:
    """CreateMultiTasks answers the task id, and the task list shows the task."""
    request = roma.ListTasksRequest(instance_id=INSTANCE, task_id=created)
    listed = roma_client.list_tasks(request)
    assert [(e.task_name, e.ext_type) for e in listed.entities] == [
        ("conformance-cdc", "MULTI_TABLE")
    ]
    created_log = [r for r in emulator_process.requests() if r["method"] == "POST"]
    assert created_log[-1]["path"].endswith("/multi-tasks")
    assert created_log[-1]["status"] == 200


def init(roma_client: Any, task_id: str, *, auto_mapping: bool) -> Any:
    """InstallMultiTasks of `task_id` between two datasources, with ext_info."""
    body = roma.MultiTaskInitBody(
        ext_info=roma.MultiTaskInitBodyExtInfo(server_id="1001"),
        source_datasource_id="30969b205e8f4392a25fb321112d1753",
        target_datasource_id="d3412230cff8449e92c8ff8f74d1157d",
        task_id=task_id,
        auto_mapping=auto_mapping,
    )
    return roma_client.install_multi_tasks(
        roma.InstallMultiTasksRequest(instance_id=INSTANCE, body=body)
    )


def test_init_maps_the_task_then_keeps_its_mappings(
    roma_client: Any, emulator_process: EmulatorProcess, created: str
) -> None:
    """InstallMultiTasks answers one MultiTaskInitElement: with auto_mapping the first 10 of
    the new mappings, without it the mappings the task has."""
    mapped = init(roma_client, created, auto_mapping=True)
    assert_accepted(emulator_process, "POST", "/multi-tasks/init")
    raw = assert_carried(mapped, INIT_EXTRA)
    (element,) = mapped.body
    assert (element.task_id, element.ext_info.server_id) == (created, "1001")
    assert 0 < len(element.mappings) <= 10 < element.mappings_total_count
    assert raw[0]["schema_mappings"]
    kept = init(roma_client, created, auto_mapping=False)
    assert_accepted(emulator_process, "POST", "/multi-tasks/init")
    assert_carried(kept, INIT_EXTRA)
    assert kept.body[0].mappings == element.mappings


def test_init_without_a_task_answers_an_unsaved_element(
    roma_client: Any, emulator_process: EmulatorProcess
) -> None:
    """InstallMultiTasks without task_id answers an element under a new id (seed 004's example
    body, ext_info null)."""
    body = roma.MultiTaskInitBody(
        source_datasource_id="30969b205e8f4392a25fb321112d1753",
        target_datasource_id="30969b205e8f4392a25fb321112d1753",
        auto_mapping=False,
    )
    response = roma_client.install_multi_tasks(
        roma.InstallMultiTasksRequest(instance_id=INSTANCE, body=body)
    )
    assert_accepted(emulator_process, "POST", "/multi-tasks/init")
    assert_carried(response, INIT_EXTRA)
    (element,) = response.body
    assert element.ext_info is None
    assert element.mappings == []


def test_modify(roma_client: Any, emulator_process: EmulatorProcess, created: str) -> None:
    """UpdateMultiTasks answers the task id; a read shows the new operation types."""
    body = roma.MultiTaskUpdateBody(
        description="modified", operation_types=["INSERT"], repulling_snapshot=True
    )
    response = roma_client.update_multi_tasks(
        roma.UpdateMultiTasksRequest(instance_id=INSTANCE, task_id=created, body=body)
    )
    assert_accepted(emulator_process, "PUT", f"/multi-tasks/{created}")
    assert_carried(response, {})
    assert response.task_id == created
    read = roma_client.show_task(roma.ShowTaskRequest(instance_id=INSTANCE, task_id=created))
    assert read.task.description == "modified"


def test_modify_of_an_unknown_task_is_a_client_error(
    roma_client: Any, emulator_process: EmulatorProcess
) -> None:
    """Modifying a task the instance lacks raises 404 FDI.3083 (seeds 003 and 004's 404)."""
    body = roma.MultiTaskUpdateBody(operation_types=["DELETE"], repulling_snapshot=False)
    with pytest.raises(ClientRequestException) as caught:
        roma_client.update_multi_tasks(
            roma.UpdateMultiTasksRequest(instance_id=INSTANCE, task_id="missing-task", body=body)
        )
    assert_refused(caught, emulator_process, 404, "FDI.3083")


def test_init_of_an_unknown_task_is_a_client_error(
    roma_client: Any, emulator_process: EmulatorProcess
) -> None:
    """Initialising a task the instance lacks raises 400 FDI.3150 (seed 004's 400)."""
    body = roma.MultiTaskInitBody(task_id="missing-task", auto_mapping=False)
    with pytest.raises(ClientRequestException) as caught:
        roma_client.install_multi_tasks(
            roma.InstallMultiTasksRequest(instance_id=INSTANCE, body=body)
        )
    assert_refused(caught, emulator_process, 400, "FDI.3150")


def test_bad_create_body_is_a_client_error(
    roma_client: Any, emulator_process: EmulatorProcess
) -> None:
    """A create without operation types raises 400 FDI.3033 naming the field."""
    body = roma.MultiTaskRequestBody(task_name="no-operations", operation_types=[])
    with pytest.raises(ClientRequestException) as caught:
        roma_client.create_multi_tasks(
            roma.CreateMultiTasksRequest(instance_id=INSTANCE, body=body)
        )
    assert_refused(caught, emulator_process, 400, "FDI.3033")
    assert "[operation_types]" in caught.value.error_msg


def test_mapping_routes_are_not_served(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """Deleting a composite mapping raises the gateway's 404 APIG.0101: the emulator has no
    mapping routes."""
    request = roma.DeleteMultiTaskMappingRequest(
        instance_id=INSTANCE, task_id=COMPOSITE, mapping_id="any"
    )
    with pytest.raises(ClientRequestException) as caught:
        roma_client.delete_multi_task_mapping(request)
    assert_refused(caught, emulator_process, 404, "APIG.0101")
