"""The in-memory task store, as tests seed it in process."""

from __future__ import annotations

import pytest

from fdi_drift.emulator.composite_rules import CompositeCreate, CompositeUpdate
from fdi_drift.emulator.seeds import SeedError
from fdi_drift.emulator.store import IdTakenError, NameTakenError, TaskStatus, TaskStore
from fdi_drift.emulator.validation import TaskUpdate
from tests.emulator.conftest import (
    COMPOSITE,
    INSTANCE,
    ORDERS,
    PROJECT,
    FakeClock,
    composite_body,
    sample_body,
)


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


def both_kinds() -> TaskStore:
    """A store holding the orders sample and the composite sample."""
    store = TaskStore(FakeClock())
    store.add_task(PROJECT, INSTANCE, sample_body(ORDERS))
    store.add_composite_task(PROJECT, INSTANCE, composite_body())
    return store


def a_create(name: str = "new-cdc", task_id: str | None = None) -> CompositeCreate:
    """A valid composite create."""
    return CompositeCreate(
        task_name=name,
        task_id=task_id,
        description=None,
        task_tag=None,
        operation_types=("INSERT",),
        source_app_id=None,
        target_app_id=None,
    )


def test_add_composite_task_stores_its_get_answer() -> None:
    """add_composite_task keeps the GET answer; lookup and composite find it, get does not."""
    store = both_kinds()
    stored = store.composite(PROJECT, INSTANCE, COMPOSITE)
    assert stored is not None
    assert stored.body() == composite_body()
    assert store.lookup(PROJECT, INSTANCE, COMPOSITE) == stored
    assert store.get(PROJECT, INSTANCE, COMPOSITE) is None
    assert [t.task_id for t in store.tasks(PROJECT, INSTANCE)] == [ORDERS]
    assert [t.task_id for t in store.entries(PROJECT, INSTANCE)] == [ORDERS, COMPOSITE]


def test_add_composite_task_checks_the_body() -> None:
    """A bad composite body raises SeedError naming the caller and the field."""
    body = composite_body()
    body["task"]["operation_types"] = []
    with pytest.raises(SeedError, match=r"add_composite_task: task\.operation_types"):
        TaskStore(FakeClock()).add_composite_task(PROJECT, INSTANCE, body)


def test_ids_are_unique_across_kinds() -> None:
    """A common task may not take a composite task's id, nor the other way round."""
    store = both_kinds()
    common = sample_body(ORDERS)
    common["task"].update(task_id=COMPOSITE, task_name="another-name")
    with pytest.raises(SeedError, match="other kind"):
        store.add_task(PROJECT, INSTANCE, common)
    composite = composite_body()
    composite["task"].update(task_id=ORDERS, task_name="another-name")
    with pytest.raises(SeedError, match="other kind"):
        store.add_composite_task(PROJECT, INSTANCE, composite)
    with pytest.raises(IdTakenError):
        store.create_composite(PROJECT, INSTANCE, a_create(task_id=ORDERS))


def test_names_are_unique_across_kinds() -> None:
    """Names clash across kinds on add, create and common update."""
    store = both_kinds()
    composite_name = composite_body()["task"]["task_name"]
    common = sample_body(ORDERS)
    common["task"].update(task_id="other-id", task_name=composite_name)
    with pytest.raises(SeedError, match=r"task\.task_name"):
        store.add_task(PROJECT, INSTANCE, common)
    with pytest.raises(NameTakenError):
        store.create_composite(PROJECT, INSTANCE, a_create(name="orders-mysql-to-mysql"))
    with pytest.raises(NameTakenError):
        store.update(PROJECT, INSTANCE, ORDERS, an_update(name=composite_name))


def test_set_status_works_on_composite_tasks() -> None:
    """Starting a composite task sets its status and keeps the rest."""
    store = both_kinds()
    started = store.set_status(PROJECT, INSTANCE, COMPOSITE, TaskStatus.RUNNING)
    assert started.status is TaskStatus.RUNNING
    assert store.composite(PROJECT, INSTANCE, COMPOSITE) == started


def test_fighting_undoes_composite_updates_once() -> None:
    """With fighting on, a composite modify is undone at fight_back, once."""
    clock = FakeClock(1_800_000_000.0)
    store = TaskStore(clock)
    before = store.add_composite_task(PROJECT, INSTANCE, composite_body())
    store.fighting = True
    update = CompositeUpdate(None, None, ("DELETE",), repulling_snapshot=True)
    updated = store.update_composite(PROJECT, INSTANCE, COMPOSITE, update)
    clock.advance(1)
    assert store.fight_back(PROJECT, INSTANCE) == 1
    undone = store.composite(PROJECT, INSTANCE, COMPOSITE)
    assert undone is not None
    assert undone.detail == before.detail
    assert undone.task["operation_types"] == before.task["operation_types"]
    assert undone.last_modified_date > updated.last_modified_date
    assert undone.revision == updated.revision + 1
    assert store.fight_back(PROJECT, INSTANCE) == 0
