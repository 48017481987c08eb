"""DrsJob rules and plans, offline."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fdi_drift.drift.document import DecodedDocument
from fdi_drift.drift.ignore import compile_ignore
from fdi_drift.drift.model import JSONObject
from fdi_drift.errors import InvalidWriteError
from fdi_drift.kinds.drs_job import DrsJobSpec

SPEC = DrsJobSpec()
NO_RULES = compile_ignore([])


def live_job() -> dict[str, Any]:
    return {
        "id": "job-1",
        "status": "INCRE_TRANSFER_STARTED",
        "base_info": {
            "name": "orders-sync",
            "description": "orders",
            "expired_days": "14",
            "job_type": "sync",
        },
        "source_endpoint": [
            {
                "db_type": "mysql",
                "endpoint": {"ip": "10.0.0.1", "db_user": "root", "db_password": "******"},
            }
        ],
        "target_endpoint": [
            {
                "db_type": "mysql",
                "endpoint": {"ip": "10.0.0.2", "db_user": "root", "db_password": "******"},
            }
        ],
        "alarm_notify": {"alarm_to_user": False},
        "speed_limit": [{"begin": "01:00", "end": "03:59", "speed": "50"}],
        "policy_config": {"conflict_policy": "overwrite", "index_trans": True},
        "tuning_params": {
            "incre_apply": [{"param_name": "threads", "param_value": "4", "availability": True}]
        },
        "progress_info": {"progress": "42"},
    }


def plan(
    spec: dict[str, Any], live: dict[str, Any] | None = None, resolve: Any = None
) -> list[Any]:
    desired = SPEC.desired_document("orders-sync", spec)
    document = DecodedDocument(live or live_job(), {})
    return SPEC.plan(desired, document, NO_RULES, resolve or (lambda ref: "pw"), {})


def test_speed_limit_and_policy_make_exactly_two_typed_writes_in_order() -> None:
    """Two differing aspects, two PUTs: speed_limit before policy; the rest is untouched."""
    writes = plan(
        {
            "speed_limit": [{"begin": "01:00", "end": "05:59", "speed": 20}],
            "policy_config": {"conflict_policy": "ignore"},
            "alarm_notify": {"alarm_to_user": False},
        }
    )
    assert [w.action for w in writes] == ["speed_limit", "policy"]
    assert writes[0].body == {"speed_limit": [{"begin": "01:00", "end": "05:59", "speed": "20"}]}
    assert writes[1].body == {"policy_config": {"conflict_policy": "ignore", "index_trans": True}}
    assert writes[1].covers == ("/policy_config",)


def test_a_name_change_is_one_write_of_type_name() -> None:
    """Renaming sends base_info.name alone."""
    job = live_job()
    job["base_info"]["name"] = "old-name"
    (write,) = plan({"base_info": {"description": "orders"}}, job)
    assert (write.action, write.body) == ("name", {"base_info": {"name": "orders-sync"}})


def test_nothing_to_write_when_in_sync() -> None:
    """An exported spec of the same job plans no write, masked passwords included."""
    assert plan(SPEC.export_spec(live_job())) == []


def test_endpoint_change_needs_a_secret_password() -> None:
    """Changing an endpoint with only the masked password is refused; a secretRef fills it."""
    changed = copy.deepcopy(live_job()["target_endpoint"])
    changed[0]["endpoint"]["ip"] = "10.0.0.9"
    with pytest.raises(InvalidWriteError, match="target_endpoint/0/endpoint/db_password"):
        plan({"target_endpoint": changed})
    changed[0]["endpoint"]["db_password"] = {"secretRef": "mysql/password"}
    (write,) = plan({"target_endpoint": changed}, resolve=lambda ref: "s3cret")
    assert write.action == "endpoint"
    assert write.body["target_endpoint"][0]["endpoint"]["db_password"] == "s3cret"
    assert write.shown["target_endpoint"][0]["endpoint"]["db_password"] == "<redacted>"
    assert "source_endpoint" not in write.body


def test_an_endpoint_secret_at_a_plain_looking_key_is_sent_but_never_shown() -> None:
    """A secretRef declared at endpoint.ip is resolved into the body and redacted in shown."""
    changed = copy.deepcopy(live_job()["source_endpoint"])
    changed[0]["endpoint"].update(
        ip={"secretRef": "mysql/ip"},
        db_user="replicator",
        db_password={"secretRef": "mysql/password"},
    )
    (write,) = plan({"source_endpoint": changed}, resolve=lambda ref: "S3CR3T-VALUE")
    assert write.action == "endpoint"
    assert write.body["source_endpoint"][0]["endpoint"]["ip"] == "S3CR3T-VALUE"
    assert write.shown["source_endpoint"][0]["endpoint"]["ip"] == "<redacted>"
    assert "S3CR3T-VALUE" not in json.dumps(write.shown)


def test_an_endpoint_write_hides_live_values_under_secret_looking_keys_but_sends_them() -> None:
    """An undeclared password live returns unmasked is sent as it is and shown redacted."""
    job = live_job()
    job["target_endpoint"][0]["endpoint"]["kafka_security_config"] = {"sasl_password": "pw-1"}
    changed = copy.deepcopy(live_job()["target_endpoint"])
    changed[0]["endpoint"].update(ip="10.0.0.9", db_password={"secretRef": "mysql/password"})
    (write,) = plan({"target_endpoint": changed}, job)
    endpoint = write.body["target_endpoint"][0]["endpoint"]
    assert endpoint["kafka_security_config"] == {"sasl_password": "pw-1"}
    shown = write.shown["target_endpoint"][0]["endpoint"]
    assert shown["kafka_security_config"] == {"sasl_password": "<redacted>"}


def test_a_base_info_secret_is_never_resolved_nor_written() -> None:
    """A base_info field given as a secretRef is unknowable: no write, nothing resolved."""
    asked: list[str] = []

    def resolve(ref: str) -> str:
        asked.append(ref)
        return "S3CR3T-VALUE"

    job = live_job()
    job["base_info"]["description"] = "changed by hand"
    writes = plan({"base_info": {"description": {"secretRef": "job/description"}}}, job, resolve)
    assert writes == [] and asked == []


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        ({"base_info": {"description": "a<b"}}, "/spec/base_info/description"),
        ({"base_info": {"description": "x" * 257}}, "/spec/base_info/description"),
        ({"base_info": {"expired_days": "13"}}, "/spec/base_info/expired_days"),
        ({"base_info": {"expired_days": 101}}, "/spec/base_info/expired_days"),
        ({"base_info": {"tags": [{"key": f"k{i}"} for i in range(21)]}}, "/spec/base_info/tags"),
        ({"base_info": {"job_type": "sync"}}, "/spec/base_info/job_type"),
        (
            {"speed_limit": [{"begin": "01:00", "end": "02:00", "speed": "5"}]},
            "/spec/speed_limit/0/end",
        ),
        (
            {"speed_limit": [{"begin": "25:00", "end": "02:59", "speed": "5"}]},
            "/spec/speed_limit/0/begin",
        ),
        (
            {"speed_limit": [{"begin": "01:00", "end": "02:59", "speed": "10000"}]},
            "/spec/speed_limit/0/speed",
        ),
        (
            {"speed_limit": [{"begin": "01:00", "end": "02:59", "speed": 0}]},
            "/spec/speed_limit/0/speed",
        ),
        ({"progress_info": {}}, "/spec/progress_info"),
        ({"base_info": {"name": "other-name"}}, "/spec/base_info/name"),
    ],
)
def test_seed_rules_are_checked_offline(spec: JSONObject, pointer: str) -> None:
    """Each rule of seed 001 is a validation problem at its pointer."""
    assert pointer in [p.pointer for p in SPEC.validate("orders-sync", spec)]


def test_job_names_follow_the_seed() -> None:
    """A job name is 4-50 letters, digits, '-' or '_'."""
    assert [p.pointer for p in SPEC.validate("abc", {})] == ["/metadata/name"]
    assert SPEC.validate("a" * 50, {}) == []
    assert SPEC.validate("a" * 51, {})


def test_valid_spec_has_no_problems() -> None:
    """Boundary values are accepted."""
    spec = {
        "base_info": {"description": "", "expired_days": 14, "tags": []},
        "speed_limit": [{"begin": "00:00", "end": "23:59", "speed": 9999}],
        "policy_config": {"conflict_policy": "overwrite"},
    }
    assert SPEC.validate("orders-sync", spec) == []
