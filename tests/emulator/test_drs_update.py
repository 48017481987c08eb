"""The typed DRS update: what each type accepts at its limits and how it is applied."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fdi_drift.emulator.drs_update import UpdateType, apply_update, parse_job_update
from fdi_drift.emulator.validation import FieldError
from tests.emulator.conftest import job_body


def parsed(update_type: str, params: dict[str, Any]) -> Any:
    """Parse a typed update body."""
    return parse_job_update(json.dumps({"job": {"type": update_type, "params": params}}).encode())


@pytest.mark.parametrize(
    ("update_type", "params"),
    [
        ("name", {"base_info": {"name": "abcd"}}),
        ("name", {"base_info": {"name": "A-_9" * 12 + "ab"}}),
        ("description", {"base_info": {"description": "d" * 256}}),
        ("description", {"base_info": {"description": ""}}),
        ("expired_days", {"base_info": {"expired_days": "14"}}),
        ("expired_days", {"base_info": {"expired_days": "100"}}),
        (
            "name",
            {
                "base_info": {
                    "name": "abcd",
                    "tags": [{"key": f"k{n}", "value": "v"} for n in range(20)],
                }
            },
        ),
        ("speed_limit", {"speed_limit": [{"begin": "00:00", "end": "23:59", "speed": "1"}]}),
        ("speed_limit", {"speed_limit": [{"begin": "23:59", "end": "00:59", "speed": "9999"}]}),
        (
            "notify",
            {"alarm_notify": {"alarm_to_user": True, "delay_time": 0, "rto_delay": 3600}},
        ),
        ("db_object", {"db_object": {"object_scope": "all"}}),
        ("tuning_param", {"tuning_params": {"incre_capture": {}, "incre_apply": {}}}),
    ],
)
def test_limits_are_accepted(update_type: str, params: dict[str, Any]) -> None:
    """Values at the edges of each rule parse."""
    assert parsed(update_type, params).type is UpdateType(update_type)


def test_base_info_types_write_only_their_field() -> None:
    """A name update that also carries a description writes the name alone."""
    job = job_body()["job"]
    update = parsed("name", {"base_info": {"name": "new-name", "description": "ignored"}})
    changed = apply_update(job, update, None)
    assert changed["base_info"] == {**job["base_info"], "name": "new-name"}
    assert {k: v for k, v in changed.items() if k != "base_info"} == {
        k: v for k, v in job.items() if k != "base_info"
    }


def test_endpoint_update_replaces_only_the_side_sent() -> None:
    """An endpoint update with a target only leaves the source endpoints alone."""
    job = job_body()["job"]
    target = [
        {
            "db_type": "mysql",
            "endpoint_type": "ecs",
            "endpoint_role": "ta",
            "endpoint": {"endpoint_name": "ecs_mysql", "db_user": "u", "db_password": "p4ss"},
        }
    ]
    changed = apply_update(job, parsed("endpoint", {"target_endpoint": target}), None)
    assert changed["target_endpoint"] == target
    assert changed["source_endpoint"] == job["source_endpoint"]


def test_aspects_drop_undocumented_keys() -> None:
    """notify and policy keep the documented keys sent and drop the rest."""
    notify = parsed("notify", {"alarm_notify": {"alarm_to_user": True, "extra": 1}})
    assert notify.values == {"alarm_notify": {"alarm_to_user": True}}
    policy = parsed("policy", {"policy_config": {"ddl_trans": False, "extra": "x"}})
    assert policy.values == {"policy_config": {"ddl_trans": False}}


def test_tuning_merges_and_recovery_restores() -> None:
    """tuning_param merges sent values into the lists; recovery restores the lists the job had."""
    job = job_body()["job"]
    initial = job["tuning_params"]
    update = parsed(
        "tuning_param",
        {"tuning_params": {"incre_capture": {"capture_batch_size": "1"}, "incre_apply": {}}},
    )
    tuned = apply_update(job, update, initial)
    assert tuned["tuning_params"]["incre_capture"] == [
        {"param_name": "capture_batch_size", "param_value": "1", "availability": True},
        initial["incre_capture"][1],
    ]
    assert tuned["tuning_params"]["incre_apply"] == initial["incre_apply"]
    recovery = parsed(
        "tuning_param",
        {"tuning_params": {"incre_capture": {"x": "2"}, "incre_apply": {}, "recovery": True}},
    )
    assert apply_update(tuned, recovery, initial)["tuning_params"] == initial


def test_a_refused_tuning_value_changes_nothing() -> None:
    """An unknown name after a valid one raises and leaves the given document as it was."""
    job = job_body()["job"]
    before = json.dumps(job)
    update = parsed(
        "tuning_param",
        {
            "tuning_params": {
                "incre_capture": {"capture_batch_size": "1"},
                "incre_apply": {"x": "2"},
            }
        },
    )
    with pytest.raises(FieldError, match=r"incre_apply\.x"):
        apply_update(job, update, job["tuning_params"])
    assert json.dumps(job) == before


def test_apply_does_not_touch_the_stored_document() -> None:
    """Applying an update returns a new document and leaves the given one as it was."""
    job = job_body()["job"]
    before = json.dumps(job)
    apply_update(job, parsed("speed_limit", {"speed_limit": []}), None)
    apply_update(job, parsed("name", {"base_info": {"name": "other"}}), None)
    assert json.dumps(job) == before
