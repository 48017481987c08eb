"""The in-memory task store, as tests seed it in process."""

from __future__ import annotations

import pytest

from fdi_drift.emulator.seeds import SeedError
from fdi_drift.emulator.store import TaskStatus, TaskStore
from fdi_drift.emulator.validation import TaskUpdate
from tests.emulator.conftest import INSTANCE, ORDERS, PROJECT, FakeClock, sample_body


def an_update(name: str = "orders-mysql-to-mysql") -> TaskUpdate:
    """A valid update for the orders sample."""
    task = sample_body(ORDERS)["task"]
    return TaskUpdate(
        task_name=name,
        task_type="timing",
        source_datasource_id=task["source_datasource_id"],
        target_datasource_id=task["target_datasource_id"],
        description=None,
        task_tag=None,
        task_detail="{}",
    )


def test_add_task_stores_a_get_body() -> None:
    """add_task keeps the GET body as given and answers it back."""
    store = TaskStore(FakeClock())
    stored = store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    assert stored.body() == sample_body(ORDERS)
    assert store.get(PROJECT, INSTANCE, ORDERS) == stored
    assert store.get(PROJECT, "other-instance", ORDERS) is None


def test_add_task_does_not_share_the_callers_dict() -> None:
    """Changing the dict after add_task does not change the stored task."""
    store = TaskStore(FakeClock())
    body = sample_body(ORDERS)
    store.add_task(PROJECT, INSTANCE, body)
    body["task"]["task_name"] = "changed-afterwards"
    stored = store.get(PROJECT, INSTANCE, ORDERS)
    assert stored is not None and stored.task_name == "orders-mysql-to-mysql"


def test_add_task_replaces_a_task_with_the_same_id() -> None:
    """Adding a task id again replaces the earlier task."""
    store = TaskStore(FakeClock())
    store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    body = sample_body(ORDERS)
    body["task"]["task_name"] = "orders-v2"
    store.add_task(PROJECT, INSTANCE, body)
    assert [t.task_name for t in store.tasks(PROJECT, INSTANCE)] == ["orders-v2"]


def test_add_task_checks_the_body() -> None:
    """A bad body given to add_task raises SeedError naming the field."""
    body = sample_body(ORDERS)
    body["task"]["task_tag"] = "x"
    with pytest.raises(SeedError, match=r"add_task: task\.task_tag"):
        TaskStore(FakeClock()).add_task(PROJECT, INSTANCE, body)


def test_add_task_checks_scope_ids() -> None:
    """Project and instance ids longer than 64 characters are refused."""
    with pytest.raises(SeedError, match="instance_id"):
        TaskStore(FakeClock()).add_task(PROJECT, "i" * 65, sample_body(ORDERS))


def test_update_counts_revisions() -> None:
    """Every update raises the revision by one."""
    store = TaskStore(FakeClock())
    store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    store.update(PROJECT, INSTANCE, ORDERS, an_update())
    updated = store.update(PROJECT, INSTANCE, ORDERS, an_update())
    assert updated.revision == 3
    assert updated.task_detail == "{}"


def test_set_status_changes_only_the_status() -> None:
    """Starting a task sets status running and keeps the rest."""
    store = TaskStore(FakeClock())
    before = store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    after = store.set_status(PROJECT, INSTANCE, ORDERS, TaskStatus.RUNNING)
    assert after.status is TaskStatus.RUNNING
    assert {**after.task, "status": "stop"} == dict(before.task)


def test_fighting_writer_undoes_an_update_at_the_next_list() -> None:
    """With fighting on, an update holds until the instance is listed, then is undone."""
    clock = FakeClock()
    store = TaskStore(clock)
    before = store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    store.fighting = True
    updated = store.update(PROJECT, INSTANCE, ORDERS, an_update())
    assert store.get(PROJECT, INSTANCE, ORDERS) == updated  # the writer's read-back sees it
    clock.advance(1)
    assert store.fight_back(PROJECT, INSTANCE) == 1
    undone = store.get(PROJECT, INSTANCE, ORDERS)
    assert undone is not None
    assert undone.task_detail == before.task_detail
    assert {k: v for k, v in undone.task.items() if k != "last_modified_date"} == {
        k: v for k, v in before.task.items() if k != "last_modified_date"
    }
    assert undone.last_modified_date > updated.last_modified_date
    assert undone.revision == updated.revision + 1
    assert store.fight_back(PROJECT, INSTANCE) == 0  # once per update


def test_no_fighting_by_default() -> None:
    """Without fighting, listing leaves updates in place."""
    store = TaskStore(FakeClock())
    store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    updated = store.update(PROJECT, INSTANCE, ORDERS, an_update())
    assert store.fight_back(PROJECT, INSTANCE) == 0
    assert store.get(PROJECT, INSTANCE, ORDERS) == updated
