"""Every DRS route the emulator serves, driven by the official SDK with AK/SK signing.

For each call: the signature is accepted, the answer deserializes, and its model carries every
key of the raw answer with the model's type (sdk_models.py), except the extras listed here with
the reason the SDK lacks them, so a new one fails.
"""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdrs.v5 import (
    AlarmNotifyConfig,
    BaseEndpoint,
    DatabaseObject,
    DbObject,
    DrsClient,
    EndpointSslConfig,
    JobBaseInfo,
    JobEndpointInfo,
    ListJobsRequest,
    ModifyTuningParams,
    PolicyConfig,
    ShowJobDetailRequest,
    SingleUpdateJobReq,
    SpeedLimitInfo,
    TableObject,
    TargetRootDb,
    UpdateJob,
    UpdateJobReq,
    UpdateJobRequest,
)

from fdi_drift.kinds import drs_job
from tests.conformance.conftest import (
    EmulatorProcess,
    SdkClientFactory,
    assert_accepted,
    assert_refused,
    assert_wrongly_signed_refused,
)
from tests.conformance.sdk_models import assert_carried

JOB = "b84f2d6a-1c3e-4a5b-9d7f-0e2c4a6b8jb01"  # the DRS job of the bundled samples
# Keys the emulator answers that the SDK's models do not declare, and why each is there.
KNOWN_EXTRAS = {
    "job.db_object": "answered as last set (seed or db_object update); JobDetailResp lacks it",
}

# One update of each type the daemon sends, as SDK models.
UPDATES: dict[str, UpdateJob] = {
    "name": UpdateJob(base_info=JobBaseInfo(name="orders-sync-sdk")),
    "description": UpdateJob(base_info=JobBaseInfo(description="Orders, through the SDK")),
    "expired_days": UpdateJob(base_info=JobBaseInfo(expired_days="30")),
    "notify": UpdateJob(
        alarm_notify=AlarmNotifyConfig(
            alarm_to_user=True,
            topic_urn="urn:smn:cn-north-4:c53626012ba84727b938ca8bf03108ef:drs-alarms",
            delay_time=120,
            rpo_delay=30,
            rto_delay=30,
        )
    ),
    "speed_limit": UpdateJob(speed_limit=[SpeedLimitInfo(begin="01:00", end="06:59", speed="80")]),
    "policy": UpdateJob(
        policy_config=PolicyConfig(
            filter_ddl_policy="drop_database",
            conflict_policy="ignore",
            index_trans=True,
            ddl_trans=True,
            data_sync_topology_type="one2one",
            support_ddl_info="CREATE_TABLE",
            dml_types="i,u,d",
        )
    ),
    "tuning_param": UpdateJob(
        tuning_params=ModifyTuningParams(
            full_sync={"full_sync_threads": "4"},
            incre_capture={},
            incre_apply={"apply_threads": "32"},
        )
    ),
    "db_object": UpdateJob(
        db_object=DbObject(
            object_scope="table",
            target_root_db=TargetRootDb(db_name="orders_report", db_encoding="utf8mb4"),
            object_info={
                "orders": DatabaseObject(
                    name="orders_report",
                    all=False,
                    tables={"orders": TableObject(name="orders", type="table", all=True)},
                )
            },
        )
    ),
    "endpoint": UpdateJob(
        target_endpoint=[
            JobEndpointInfo(
                db_type="mysql",
                endpoint_type="cloud",
                endpoint_role="ta",
                endpoint=BaseEndpoint(
                    endpoint_name="cloud_mysql",
                    ip="192.168.0.38",
                    db_port="3306",
                    db_user="drs_apply",
                    db_password="n3w-s3cret",
                ),
                ssl=EndpointSslConfig(ssl_link=False),
            )
        ]
    ),
}


@pytest.fixture(scope="module")
def drs(sdk_client: SdkClientFactory) -> Any:
    """A DrsClient of the module's emulator, signing with its key pair."""
    return sdk_client(DrsClient)


def test_every_update_type_the_daemon_sends_is_covered() -> None:
    """UPDATES holds one update per type in the kind's table, and the endpoint update."""
    sent = {update_type for update_type, _, _ in drs_job._UPDATES} | {"endpoint"}
    assert set(UPDATES) == sent


def test_job_detail_comes_through_whole(drs: Any, emulator_process: EmulatorProcess) -> None:
    """ShowJobDetail (type detail): accepted, deserialized, every declared key kept and typed."""
    answer = drs.show_job_detail(ShowJobDetailRequest(job_id=JOB, type="detail"))
    assert_accepted(emulator_process, "GET", f"/jobs/{JOB}")
    assert_carried(answer, KNOWN_EXTRAS)
    tuning = answer.job.tuning_params
    assert [p.param_name for p in tuning.incre_apply][:2] == ["apply_threads", "apply_batch_size"]
    assert all(isinstance(p.availability, bool) for p in tuning.incre_relay)


def test_job_list_comes_through_whole(drs: Any, emulator_process: EmulatorProcess) -> None:
    """ListJobs: accepted, deserialized, every declared key kept and typed."""
    answer = drs.list_jobs(ListJobsRequest(offset=0, limit=100))
    assert_accepted(emulator_process, "GET", "/jobs")
    assert_carried(answer, {})
    assert [job.id for job in answer.jobs] == [JOB]


@pytest.mark.parametrize("update_type", list(UPDATES))
def test_each_typed_update_comes_through_whole(
    drs: Any, emulator_process: EmulatorProcess, update_type: str
) -> None:
    """UpdateJob of each type: accepted, deserialized, the UpdateJobResponse keys kept."""
    body = SingleUpdateJobReq(job=UpdateJobReq(type=update_type, params=UPDATES[update_type]))
    answer = drs.update_job(UpdateJobRequest(job_id=JOB, body=body))
    assert_accepted(emulator_process, "PUT", f"/jobs/{JOB}")
    raw = assert_carried(answer, {})
    assert raw == {"id": JOB, "name": answer.name, "status": "success"}


def test_an_error_answer_becomes_a_client_request_exception(
    drs: Any, emulator_process: EmulatorProcess
) -> None:
    """An unknown job is a ClientRequestException with status, code, message and request id."""
    with pytest.raises(ClientRequestException) as caught:
        drs.show_job_detail(ShowJobDetailRequest(job_id="no-such-job", type="detail"))
    assert_refused(caught, emulator_process, 400, "DRS.10000010")
    assert caught.value.error_msg == "Job does not exist, please check job ID."


def test_a_wrong_secret_key_is_refused(
    sdk_client: SdkClientFactory, emulator_process: EmulatorProcess
) -> None:
    """A signature made with another secret key is the gateway's 401 APIG.0301."""
    assert_wrongly_signed_refused(
        sdk_client, emulator_process, DrsClient, lambda client: client.list_jobs(ListJobsRequest())
    )
