"""The in-memory DRS job store, as tests seed it in process."""

from __future__ import annotations

import json

import pytest

from fdi_drift.emulator.drs_store import DrsStore, JobNotFoundError
from fdi_drift.emulator.drs_update import parse_job_update
from fdi_drift.emulator.seeds import SeedError
from tests.emulator.conftest import JOB, PROJECT, START, FakeClock, job_body


def a_store(fighting: bool = False) -> DrsStore:
    """A store on a fake clock with the fighting switch fixed."""
    return DrsStore(FakeClock(), fighting=lambda: fighting)


def rename(name: str) -> bytes:
    """A typed name update body."""
    return json.dumps({"job": {"type": "name", "params": {"base_info": {"name": name}}}}).encode()


def test_add_job_keeps_the_detail_and_get_reads_it_back() -> None:
    """add_job keeps the detail answer as given; get and jobs read it back."""
    store = a_store()
    stored = store.add_job(PROJECT, job_body())
    assert dict(stored.job) == job_body()["job"]
    assert store.get(PROJECT, JOB) == stored
    assert store.get("other", JOB) is None
    assert store.jobs(PROJECT) == [stored]
    assert (stored.job_id, stored.name) == (JOB, "orders-sync-prod")


def test_add_job_does_not_share_the_callers_dict() -> None:
    """Changing the dict after add_job does not change the stored job."""
    store = a_store()
    body = job_body()
    store.add_job(PROJECT, body)
    body["job"]["base_info"]["name"] = "changed-afterwards"
    stored = store.get(PROJECT, JOB)
    assert stored is not None and stored.name == "orders-sync-prod"


def test_add_job_replaces_a_job_with_the_same_id() -> None:
    """Adding a job id again replaces the earlier job."""
    store = a_store()
    store.add_job(PROJECT, job_body())
    body = job_body()
    body["job"]["base_info"]["name"] = "orders-sync-v2"
    store.add_job(PROJECT, body)
    assert [job.name for job in store.jobs(PROJECT)] == ["orders-sync-v2"]


def test_add_job_fills_defaults_and_drops_volatile_fields() -> None:
    """A bare job gets a status, a creation time and base_info defaults; progress is dropped."""
    body = {
        "job": {
            "id": "bare-job",
            "base_info": {"name": "bare-job"},
            "progress_info": {"progress": "50"},
            "metrics": {"cpu_util": "1"},
        }
    }
    stored = a_store().add_job(PROJECT, body)
    assert stored.job["status"] == "INCRE_TRANSFER_STARTED"
    assert stored.job["create_time"] == str(int(START * 1000))
    assert stored.job["base_info"] == {
        "name": "bare-job",
        "enterprise_project_id": "0",
        "expired_days": "14",
    }
    assert "progress_info" not in stored.job and "metrics" not in stored.job


def test_add_job_checks_the_body() -> None:
    """A bad body given to add_job raises SeedError naming the caller and the field."""
    body = job_body()
    body["job"]["speed_limit"] = [{"begin": "01:00", "end": "02:00", "speed": "5"}]
    with pytest.raises(SeedError, match=r"add_job: job\.speed_limit\[0\]\.end"):
        a_store().add_job(PROJECT, body)


def test_add_job_checks_the_project_id() -> None:
    """A project id longer than 64 characters is refused."""
    with pytest.raises(SeedError, match="project_id"):
        a_store().add_job("p" * 65, job_body())


def test_update_raises_for_an_unknown_job() -> None:
    """Updating a job the project lacks raises JobNotFoundError."""
    with pytest.raises(JobNotFoundError):
        a_store().update(PROJECT, JOB, parse_job_update(rename("abcd")))


def test_update_counts_revisions() -> None:
    """Every update raises the job's revision by one."""
    store = a_store()
    store.add_job(PROJECT, job_body())
    store.update(PROJECT, JOB, parse_job_update(rename("abcd")))
    updated = store.update(PROJECT, JOB, parse_job_update(rename("efgh")))
    assert (updated.revision, updated.name) == (3, "efgh")


def test_fighting_writer_undoes_updates_at_the_next_list() -> None:
    """With fighting on, the job returns to its state before the first update since the list."""
    store = a_store(fighting=True)
    before = store.add_job(PROJECT, job_body())
    store.update(PROJECT, JOB, parse_job_update(rename("first")))
    updated = store.update(PROJECT, JOB, parse_job_update(rename("second")))
    assert store.get(PROJECT, JOB) == updated  # the writer's read-back sees it
    assert store.fight_back(PROJECT) == 1
    undone = store.get(PROJECT, JOB)
    assert undone is not None
    assert undone.job == before.job
    assert undone.revision == updated.revision + 1
    assert store.fight_back(PROJECT) == 0


def test_no_fighting_by_default() -> None:
    """Without fighting, a list leaves updates in place."""
    store = a_store()
    store.add_job(PROJECT, job_body())
    updated = store.update(PROJECT, JOB, parse_job_update(rename("kept")))
    assert store.fight_back(PROJECT) == 0
    assert store.get(PROJECT, JOB) == updated
