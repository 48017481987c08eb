"""DrsJob tuning parameters, offline: read lists as maps, export, plan, validate."""

from __future__ import annotations

from typing import Any

import pytest

from fdi_drift.drift.document import DecodedDocument
from fdi_drift.drift.ignore import compile_ignore
from fdi_drift.drift.model import JSONObject
from fdi_drift.errors import DocumentError, InvalidWriteError
from fdi_drift.kinds.drs_job import DrsJobSpec
from fdi_drift.kinds.drs_tuning import read_tuning

SPEC = DrsJobSpec()
NO_RULES = compile_ignore([])


def entry(name: str, value: str, available: bool = True) -> dict[str, Any]:
    """One TuningParameter as a detail read lists it."""
    return {"param_name": name, "param_value": value, "availability": available}


def live_job() -> dict[str, Any]:
    """A job whose tuning lists hold available and unavailable parameters in every group."""
    return {
        "id": "job-1",
        "base_info": {"name": "orders-sync"},
        "tuning_params": {
            "full_sync": [entry("full_sync_threads", "8")],
            "incre_capture": [entry("capture_batch_size", "1000"), entry("parallel", "no", False)],
            "incre_apply": [entry("apply_threads", "16"), entry("apply_batch_size", "500")],
            "incre_relay": [entry("relay_compress", "false", False)],
        },
    }


def plan(tuning: JSONObject, ignore: list[str] | None = None) -> list[Any]:
    desired = SPEC.desired_document("orders-sync", {"tuning_params": tuning})
    rules = compile_ignore(ignore or [])
    return SPEC.plan(desired, DecodedDocument(live_job(), {}), rules, lambda ref: "", {})


def test_live_lists_compare_as_maps() -> None:
    """normalize_live turns each group's entries into name -> value, unavailable ones too."""
    live = SPEC.normalize_live(live_job())
    assert isinstance(live, dict)
    assert live["tuning_params"] == {
        "full_sync": {"full_sync_threads": "8"},
        "incre_capture": {"capture_batch_size": "1000", "parallel": "no"},
        "incre_apply": {"apply_threads": "16", "apply_batch_size": "500"},
        "incre_relay": {"relay_compress": "false"},
    }
    assert live["base_info"] == live_job()["base_info"]


def test_a_job_without_tuning_is_left_as_it_is() -> None:
    """No tuning_params (or null) reads as nothing to map."""
    job = live_job()
    del job["tuning_params"]
    assert SPEC.normalize_live(job) == job
    assert SPEC.normalize_live({**job, "tuning_params": None}) == {**job, "tuning_params": None}


def test_range_and_textual_availability_are_read() -> None:
    """An entry's range (the query-params page lists it) is allowed; "false" is unavailable."""
    read = read_tuning(
        {"incre_relay": [{"param_name": "a", "param_value": "1", "range": "1-9"}]}
        | {"full_sync": [{"param_name": "b", "param_value": "", "availability": "false"}]}
    )
    assert read.values == {"incre_relay": {"a": "1"}, "full_sync": {"b": ""}}
    assert read.unavailable == {("full_sync", "b")}


@pytest.mark.parametrize(
    ("tuning", "where"),
    [
        ([], "tuning_params is an array"),
        ({"full_load": []}, "tuning_params/full_load: not a tuning group"),
        ({"incre_apply": {"apply_threads": "32"}}, "tuning_params/incre_apply: an object"),
        ({"incre_apply": ["apply_threads"]}, "tuning_params/incre_apply/0: a string"),
        ({"incre_apply": [{"param_value": "1"}]}, "tuning_params/incre_apply/0/param_name"),
        ({"incre_apply": [{"param_name": "", "param_value": "1"}]}, "0/param_name"),
        ({"incre_apply": [{"param_name": "a", "param_value": 1}]}, "0/param_value: a number"),
        ({"incre_apply": [{"param_name": "a"}]}, "0/param_value: null"),
        ({"incre_apply": [entry("a", "1") | {"availability": "yes"}]}, "0/availability"),
        ({"incre_apply": [entry("a", "1") | {"default": "2"}]}, "unknown key 'default'"),
        ({"incre_apply": [entry("a", "1"), entry("a", "2")]}, "incre_apply/1: 'a' is listed"),
    ],
)
def test_what_the_maps_cannot_hold_is_an_error(tuning: Any, where: str) -> None:
    """Every entry is mapped or named in a DocumentError: nothing is dropped silently."""
    with pytest.raises(DocumentError, match="job job-1: ") as caught:
        read_tuning(tuning, what="job job-1")
    assert where in str(caught.value)
    with pytest.raises(DocumentError):
        SPEC.normalize_live({**live_job(), "tuning_params": tuning})


def test_export_writes_the_maps_the_job_may_change() -> None:
    """Export declares each available parameter as name: value; unavailable ones are left out."""
    assert SPEC.export_spec(live_job())["tuning_params"] == {
        "full_sync": {"full_sync_threads": "8"},
        "incre_capture": {"capture_batch_size": "1000"},
        "incre_apply": {"apply_threads": "16", "apply_batch_size": "500"},
    }
    assert plan(SPEC.export_spec(live_job())["tuning_params"]) == []


def test_one_write_carries_only_the_differing_declared_values() -> None:
    """apply_threads differs: one tuning_param write with it alone, plus the mandatory groups."""
    (write,) = plan(
        {
            "incre_apply": {"apply_threads": 32, "apply_batch_size": "500"},
            "full_sync": {"full_sync_threads": "8"},
        }
    )
    assert write.action == "tuning_param"
    assert write.body == {
        "tuning_params": {"incre_capture": {}, "incre_apply": {"apply_threads": "32"}}
    }
    assert write.shown == write.body
    assert write.covers == ("/tuning_params/incre_apply/apply_threads",)


def test_differences_in_several_groups_are_still_one_write() -> None:
    """Values differing in three groups go in one update, groups in the API's order."""
    (write,) = plan(
        {
            "incre_apply": {"apply_batch_size": "900"},
            "full_sync": {"full_sync_threads": "4"},
            "incre_capture": {"capture_batch_size": "10"},
        }
    )
    assert write.body == {
        "tuning_params": {
            "full_sync": {"full_sync_threads": "4"},
            "incre_capture": {"capture_batch_size": "10"},
            "incre_apply": {"apply_batch_size": "900"},
        }
    }
    assert len(write.covers) == 3


def test_an_ignored_parameter_is_not_sent() -> None:
    """A declared value under an ignore rule keeps live's value: nothing to write for it."""
    assert plan({"incre_apply": {"apply_threads": "32"}}, ["/tuning_params/incre_apply/*"]) == []
    (write,) = plan(
        {"incre_apply": {"apply_threads": "32"}, "full_sync": {"full_sync_threads": "2"}},
        ["/tuning_params/incre_apply/apply_threads"],
    )
    assert write.body == {
        "tuning_params": {
            "full_sync": {"full_sync_threads": "2"},
            "incre_capture": {},
            "incre_apply": {},
        }
    }


@pytest.mark.parametrize(
    ("tuning", "problem"),
    [
        ({"incre_apply": {"apply_workers": "4"}}, "incre_apply/apply_workers: the job has no such"),
        ({"incre_relay": {"relay_compress": "true"}}, "relay_compress: not available to this job"),
    ],
)
def test_a_parameter_the_job_cannot_take_makes_the_write_invalid(
    tuning: JSONObject, problem: str
) -> None:
    """Declaring a parameter the job lacks, or may not change, is refused before sending."""
    with pytest.raises(InvalidWriteError, match=problem):
        plan(tuning)


def test_an_unavailable_parameter_declared_as_live_has_it_is_no_write() -> None:
    """Declaring an unavailable parameter at its live value is in sync: nothing to send."""
    assert plan({"incre_relay": {"relay_compress": "false"}}) == []


@pytest.mark.parametrize(
    ("tuning", "pointer"),
    [
        (["apply_threads"], "/spec/tuning_params"),
        ({"recovery": True}, "/spec/tuning_params/recovery"),
        ({"incre_apply": ["apply_threads"]}, "/spec/tuning_params/incre_apply"),
        ({"incre_apply": {"apply_threads": True}}, "/spec/tuning_params/incre_apply/apply_threads"),
        ({"incre_apply": {"a/b": {"x": "1"}}}, "/spec/tuning_params/incre_apply/a~1b"),
        ({"incre_apply": {"a": None}}, "/spec/tuning_params/incre_apply/a"),
    ],
)
def test_declared_tuning_is_maps_of_strings(tuning: Any, pointer: str) -> None:
    """Desired tuning_params are the update's maps: known groups, names to string values."""
    assert pointer in [p.pointer for p in SPEC.validate("orders-sync", {"tuning_params": tuning})]


def test_integers_are_declared_values_too() -> None:
    """An unquoted YAML number is valid and compared as the string the API answers."""
    spec: JSONObject = {"tuning_params": {"incre_apply": {"apply_threads": 16}}}
    assert SPEC.validate("orders-sync", spec) == []
    desired = SPEC.desired_document("orders-sync", spec)
    assert desired["tuning_params"] == {"incre_apply": {"apply_threads": "16"}}
