"""The ROMA instance list through the official SDK: CheckRomaInstanceListV2."""

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
    assert_wrongly_signed_refused,
)
from tests.conformance.sdk_models import assert_carried
from tests.emulator.conftest import INSTANCE, PROJECT

SECOND = "0b7c6f5e-4d3c-4b2a-9180-7f6e5d4c3b2a"


@pytest.fixture(scope="module")
def roma_client(sdk_client: SdkClientFactory) -> Any:
    """A RomaClient of an emulator whose project holds two instances: the samples' and one
    that a composite task created at run time made known."""
    client = sdk_client(RomaClient)
    body = roma.MultiTaskRequestBody(task_name="second-instance-cdc", operation_types=["INSERT"])
    client.create_multi_tasks(roma.CreateMultiTasksRequest(instance_id=SECOND, body=body))
    return client


def test_list_carries_every_field(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """The answer deserializes into RomaInstanceCheckListRespInstances with nothing left out."""
    response = roma_client.check_roma_instance_list_v2(roma.CheckRomaInstanceListV2Request())
    assert_accepted(emulator_process, "GET", f"/v2/{PROJECT}/instances")
    raw = assert_carried(response, {})
    assert (response.total, response.size) == (2, 2)
    assert [i.id for i in response.instances] == [INSTANCE, SECOND]
    first = response.instances[0]
    assert (first.status, first.project_id, first.publicip_enable) == ("RUNNING", PROJECT, False)
    assert set(raw["instances"][0]) == set(roma.RomaInstanceCheckListRespInstances.attribute_map)


@pytest.mark.parametrize(
    ("offset", "limit", "expected"), [(0, 1, [INSTANCE]), (1, 1, [SECOND]), (2, 5, [])]
)
def test_paging_keeps_the_total(
    roma_client: Any,
    emulator_process: EmulatorProcess,
    offset: int,
    limit: int,
    expected: list[str],
) -> None:
    """offset and limit cut the page; total stays the number of instances."""
    request = roma.CheckRomaInstanceListV2Request(offset=offset, limit=limit)
    response = roma_client.check_roma_instance_list_v2(request)
    assert_accepted(emulator_process, "GET", "/instances")
    assert_carried(response, {})
    assert (response.total, response.size) == (2, len(expected))
    assert [i.id for i in response.instances] == expected


def test_status_filter(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """status RUNNING lists both instances, CREATING none."""
    for status, total in (("RUNNING", 2), ("CREATING", 0)):
        request = roma.CheckRomaInstanceListV2Request(status=status)
        response = roma_client.check_roma_instance_list_v2(request)
        assert_accepted(emulator_process, "GET", "/instances")
        assert_carried(response, {})
        assert response.total == total


def test_bad_limit_is_a_client_error(roma_client: Any, emulator_process: EmulatorProcess) -> None:
    """A limit past the page's 100 raises 400 FDI.3033 naming it."""
    with pytest.raises(ClientRequestException) as caught:
        roma_client.check_roma_instance_list_v2(roma.CheckRomaInstanceListV2Request(limit=101))
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
        lambda client: client.check_roma_instance_list_v2(roma.CheckRomaInstanceListV2Request()),
    )
