"""CTS ListTraces against the official SDK (huaweicloudsdkcts): the models and the client.

The emulator's trace list must deserialize into ListTracesResponse with every key it fills
declared by the model (Traces, UserInfo, BaseUser, MetaData) and of the model's type; no
extras are known. In process for every shape of trace, then through the SDK's own CtsClient,
signed with AK/SK, against the module's emulator process.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcts.v3 import CtsClient, ListTracesRequest
from huaweicloudsdkroma.v2 import RomaClient
from huaweicloudsdkroma.v2 import model as roma

from fdi_drift.emulator.app import Emulator, EmulatorConfig
from tests.conformance.conftest import (
    EmulatorProcess,
    SdkClientFactory,
    assert_accepted,
    assert_refused,
    assert_wrongly_signed_refused,
)
from tests.conformance.sdk_models import assert_carried
from tests.emulator.conftest import (
    BASE,
    COMPOSITE,
    INSTANCE,
    JOB,
    JOBS,
    NODES,
    PAYMENTS,
    PROJECT,
    SAMPLES,
    TOKEN,
    FakeClock,
    update_body,
)

TRACES = f"/v3/{PROJECT}/traces"
MODIFY = {"operation_types": ["INSERT"], "repulling_snapshot": False}
RENAME_JOB = {"job": {"type": "name", "params": {"base_info": {"name": "orders-sync-cts"}}}}


class Answered:
    """The parts of an HTTP answer the SDK's deserializer reads."""

    def __init__(self, document: object) -> None:
        self.text = json.dumps(document)
        self.content = self.text.encode()
        self.headers: dict[str, str] = {}


def deserialized(document: object) -> Any:
    """What the SDK makes of `document` as a ListTracesResponse, raw content attached."""
    client = (
        CtsClient.new_builder()
        .with_credentials(BasicCredentials("AK", "SK", PROJECT))
        .with_endpoints(["http://127.0.0.1:9"])
        .build()
    )
    response = client.deserialize(Answered(document), "ListTracesResponse", None)
    response.raw_content = json.dumps(document).encode()
    return response


@pytest.fixture
def emulator() -> Emulator:
    """An in-process emulator with the samples, accepting TOKEN."""
    return Emulator(EmulatorConfig(seed_dir=SAMPLES, tokens=frozenset({TOKEN})), clock=FakeClock())


async def test_every_written_trace_deserializes_with_every_field(emulator: Emulator) -> None:
    """Traces of a task update, a composite modify and a DRS update, and an out-of-band console
    trace: every key declared, of the model's type, the marker null on the last page."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url="http://emulator.test",
        headers={"X-Auth-Token": TOKEN},
    ) as client:
        writes = [
            ("PUT", f"{BASE}/tasks/{NODES}", update_body()),
            ("PUT", f"{BASE}/multi-tasks/{COMPOSITE}", MODIFY),
            ("PUT", f"{JOBS}/{JOB}", RENAME_JOB),
        ]
        for method, path, body in writes:
            assert (await client.request(method, path, json=body)).status_code == 200
        added = await client.post(
            "/_emulator/traces",
            json={
                "project_id": PROJECT,
                "service_type": "DRS",
                "resource_type": "job",
                "resource_id": JOB,
                "trace_name": "modifyJob",
                "user": "acme/someone",
                "trace_rating": "warning",
            },
        )
        assert added.status_code == 201
        answer = await client.get(TRACES, params={"trace_type": "system"})
    response = deserialized(answer.json())
    raw = assert_carried(response, {})
    assert len(raw["traces"]) == 4
    assert raw["meta_data"] == {"count": 4, "marker": None}
    assert response.meta_data.marker is None
    update = response.traces[-1]
    assert (update.trace_name, update.code, update.read_only) == ("updateTask", "200", False)
    assert (update.user.name, update.user.domain.name) == ("token-user", "emulator")


async def test_a_page_with_more_carries_its_marker(emulator: Emulator) -> None:
    """A page short of the end carries the last trace's id as marker, as the model says."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator),
        base_url="http://emulator.test",
        headers={"X-Auth-Token": TOKEN},
    ) as client:
        for task_id in (NODES, PAYMENTS):
            assert (await client.post(f"{BASE}/tasks/{task_id}/run")).status_code == 200
        answer = await client.get(TRACES, params={"trace_type": "system", "limit": "1"})
    response = deserialized(answer.json())
    raw = assert_carried(response, {})
    assert response.meta_data.count == 1
    assert response.meta_data.marker == raw["traces"][0]["trace_id"]


@pytest.fixture(scope="module")
def cts(sdk_client: SdkClientFactory) -> Any:
    """The SDK's CtsClient of the module's emulator process, signing with its key pair."""
    return sdk_client(CtsClient)


def test_the_sdk_lists_a_signed_write_attributed_to_the_key_pair(
    sdk_client: SdkClientFactory, cts: Any, emulator_process: EmulatorProcess
) -> None:
    """A task run through RomaClient shows up in CtsClient's ListTraces, as the key pair's
    owner, under the request id the run was answered with."""
    roma_client = sdk_client(RomaClient)
    roma_client.run_task(roma.RunTaskRequest(instance_id=INSTANCE, task_id=NODES))
    run_id = emulator_process.last_request()["request_id"]
    response = cts.list_traces(
        ListTracesRequest(trace_type="system", resource_id=NODES, trace_name="operateTask")
    )
    assert_accepted(emulator_process, "GET", "/traces")
    assert_carried(response, {})
    (trace,) = response.traces
    assert (trace.service_type, trace.resource_type) == ("ROMA", "task")
    assert (trace.user.name, trace.user.domain.name) == (emulator_process.access_key, "emulator")
    assert trace.request_id == run_id
    assert isinstance(trace.time, int) and isinstance(trace.record_time, int)


def test_the_sdk_pages_with_the_marker(
    sdk_client: SdkClientFactory, cts: Any, emulator_process: EmulatorProcess
) -> None:
    """limit 1 and next=marker walk the traces one by one, newest first, to a null marker."""
    roma_client = sdk_client(RomaClient)
    for task_id in (NODES, PAYMENTS, NODES):
        roma_client.stop_task(roma.StopTaskRequest(instance_id=INSTANCE, task_id=task_id))
    seen: list[Any] = []
    marker = None
    while True:
        request = ListTracesRequest(trace_type="system", trace_name="operateTask", limit=1)
        if marker is not None:
            request.next = marker
        response = cts.list_traces(request)
        assert_carried(response, {})
        seen.extend(response.traces)
        marker = response.meta_data.marker
        if marker is None:
            break
    times = [trace.time for trace in seen]
    assert times == sorted(times, reverse=True)
    assert len({trace.trace_id for trace in seen}) == len(seen) >= 3


def test_an_invalid_query_is_a_client_error(cts: Any, emulator_process: EmulatorProcess) -> None:
    """limit over 200 raises ClientRequestException 400 CTS.0003, every field filled."""
    with pytest.raises(ClientRequestException) as caught:
        cts.list_traces(ListTracesRequest(trace_type="system", limit=201))
    assert_refused(caught, emulator_process, 400, "CTS.0003")


def test_a_bad_signature_is_a_client_error(
    sdk_client: SdkClientFactory, emulator_process: EmulatorProcess
) -> None:
    """A CtsClient signing with the wrong secret key is refused by the gateway."""
    assert_wrongly_signed_refused(
        sdk_client,
        emulator_process,
        CtsClient,
        lambda client: client.list_traces(ListTracesRequest(trace_type="system")),
    )
