"""Tests for sharding: who owns a key, the shard keys of the configuration, and the partition."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fdi_drift.drift.model import CycleReport, ReconcileMode, ResourceKey, Status
from fdi_drift.emulator.app import Emulator
from fdi_drift.errors import ConfigError
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.service import Runtime
from fdi_drift.settings import load_settings
from fdi_drift.sharding import Shard, hostname_ordinal, owner, shard_key
from tests.conftest import INSTANCE, PROJECT, export_instance, put_task, seed_002

RuntimeFactory = Callable[..., Runtime]
KEYS = [f"FdiTask/p{n % 7}/i{n % 13}/task_{n}" for n in range(10_000)]


def test_owner_is_stable_across_processes_and_releases() -> None:
    """Owners computed once: a change to the hash would move resources between replicas."""
    expected = {
        f"FdiTask/{PROJECT}/{INSTANCE}/fdi_task_pzy4m5": [0, 0, 2, 3, 3],
        "FdiTask/p1/i1/orders": [0, 1, 2, 2, 2],
        "DrsJob/p1//replica": [0, 0, 0, 0, 0],
        "FdiCompositeTask/p1/i1/cdc": [0, 1, 1, 1, 4],
        "FdiTask/p1/i1/a": [0, 0, 0, 0, 4],
    }
    for key, owners in expected.items():
        assert [owner(key, shards) for shards in range(1, 6)] == owners, key


def test_shard_key_is_kind_project_instance_name() -> None:
    """The hashed text leaves the id out and keeps an empty instance as an empty part."""
    assert shard_key(ResourceKey(FDI_TASK, "p1", "i1", "orders", "0" * 32)) == (
        "FdiTask/p1/i1/orders"
    )
    assert shard_key(ResourceKey(FDI_TASK, "p1", "", "replica")) == "FdiTask/p1//replica"


def test_owners_are_balanced() -> None:
    """10,000 keys over 3 shards: each owns between 30% and 37% of them."""
    counts = [0, 0, 0]
    for key in KEYS:
        counts[owner(key, 3)] += 1
    assert all(3000 <= count <= 3700 for count in counts), counts


def test_a_fourth_shard_takes_about_a_quarter_and_nothing_else_moves() -> None:
    """Growing from 3 to 4 shards moves 20-30% of the keys, every one of them to shard 3."""
    moved = [key for key in KEYS if owner(key, 3) != owner(key, 4)]
    assert 2000 <= len(moved) <= 3000, len(moved)
    assert {owner(key, 4) for key in moved} == {3}


def test_one_shard_owns_everything() -> None:
    """With one shard, owner is 0 for every key and the default Shard owns every resource."""
    assert {owner(key, 1) for key in KEYS} == {0}
    assert Shard().owns(ResourceKey(FDI_TASK, "p", "i", "anything"))
    with pytest.raises(ValueError, match="at least 1"):
        owner("FdiTask/p/i/x", 0)
    with pytest.raises(ValueError, match=r"not one of 0\.\.2"):
        Shard(3, 3)


def test_hostname_ordinal() -> None:
    """A StatefulSet pod's hostname ends in its ordinal; anything else has none."""
    assert hostname_ordinal("fdi-drift-2") == 2
    assert hostname_ordinal("fdi-drift-10.fdi-drift.monitoring.svc.cluster.local") == 10
    assert hostname_ordinal("fdi-drift") is None
    assert hostname_ordinal("laptop") is None
    assert hostname_ordinal("-3") is None
    assert hostname_ordinal("fdi-drift-2a") is None


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("log_level: INFO\n" + text, encoding="utf-8")
    return path


def named(hostname: str) -> Callable[[], str]:
    return lambda: hostname


def unreachable() -> str:
    raise AssertionError("the hostname is not consulted")


def test_settings_take_the_shard_from_the_hostname(tmp_path: Path) -> None:
    """shards: 3 without shard: a pod named fdi-drift-2 is shard 2; an explicit shard wins."""
    path = config(tmp_path, "shards: 3\n")
    assert load_settings(path, {}, hostname=named("fdi-drift-2")).shard == Shard(2, 3)
    explicit = config(tmp_path, "shards: ${SHARDS}\nshard: 1\n")
    settings = load_settings(explicit, {"SHARDS": "3"}, hostname=unreachable)
    assert settings.shard == Shard(1, 3)
    assert load_settings(config(tmp_path, ""), {}, hostname=unreachable).shard == Shard(0, 1)


def test_one_shot_commands_are_not_sharded(tmp_path: Path) -> None:
    """Loaded for check/reconcile/export, the keys are checked but one shard does everything."""
    path = config(tmp_path, "shards: 3\n")
    assert load_settings(path, {}, sharded=False, hostname=unreachable).shard == Shard()
    with pytest.raises(ConfigError, match="shard: must be less than shards"):
        load_settings(config(tmp_path, "shards: 3\nshard: 3\n"), {}, sharded=False)


@pytest.mark.parametrize(
    ("text", "hostname", "message"),
    [
        (
            "shards: 3\n",
            "laptop",
            "config.yaml:2: shards: is 3 and shard is not set, but the hostname 'laptop' ends "
            "in no ordinal",
        ),
        (
            "shards: 3\n",
            "fdi-drift-3",
            "config.yaml:2: shards: is 3, but the hostname 'fdi-drift-3' gives shard 3",
        ),
        ("shards: 3\nshard: 5\n", "x", "config.yaml:3: shard: must be less than shards (3): 0..2"),
        ("shard: 1\n", "x", "config.yaml:2: shard: must be less than shards (1): 0..0"),
        ("shards: 0\n", "x", "config.yaml:2: shards: must be at least 1"),
        ("shards: 2.5\n", "x", "config.yaml:2: shards: must be a whole number"),
        ("shards: 2\nshard: first\n", "x", "config.yaml:3: shard: must be a number"),
        ("shards: 2\nshard: -1\n", "x", "config.yaml:3: shard: must be at least 0"),
    ],
)
def test_shard_errors_name_the_file_line_and_key(
    tmp_path: Path, text: str, hostname: str, message: str
) -> None:
    """Each mistake is a ConfigError naming file, line and key (and the hostname when used)."""
    with pytest.raises(ConfigError) as raised:
        load_settings(config(tmp_path, text), {}, hostname=named(hostname))
    assert str(raised.value).startswith(str(tmp_path / message)), str(raised.value)
    if "hostname" in message:
        assert "set shard: 0..2" in str(raised.value)


def test_each_replica_uses_its_share_of_the_rate_limit(make_runtime: RuntimeFactory) -> None:
    """The account's rate limit is divided between the replicas."""
    assert make_runtime().client_policy.rate_limit_per_second == 1000
    sharded = make_runtime(shards=4, shard=1)
    assert sharded.client_policy.rate_limit_per_second == 250


# The partition, over one in-process emulator holding 30 declared tasks and 6 undeclared ones.


def task(number: int, name: str | None = None) -> dict[str, Any]:
    body = copy.deepcopy(seed_002())
    body["task"]["task_id"] = f"{number:032x}"
    body["task"]["task_name"] = name or f"sharded_{number:02d}"
    return body


def live_key(name: str) -> ResourceKey:
    return ResourceKey(FDI_TASK, PROJECT, INSTANCE, name)


async def replicas(
    make_runtime: RuntimeFactory, emulator: Emulator, desired_dir: Path, **overrides: Any
) -> list[Runtime]:
    """Three replicas (shards 0, 1, 2) of a desired tree of 30 tasks, with 6 more undeclared."""
    for number in range(1, 29):  # with the fixture's two seed tasks: 30
        emulator.store.add_task(PROJECT, INSTANCE, task(number))
    await export_instance(make_runtime(), desired_dir)
    for number in range(100, 106):
        emulator.store.add_task(PROJECT, INSTANCE, task(number))
    runtimes = [make_runtime(shards=3, shard=index, **overrides) for index in range(3)]
    for runtime in runtimes:
        assert await runtime.reload() is not None
    return runtimes


def reported(report: CycleReport) -> set[tuple[str, str]]:
    return {(s.live_id, str(s.status)) for s in report.statuses}


async def test_three_replicas_report_disjoint_shares_of_everything(
    make_runtime: RuntimeFactory, emulator: Emulator, desired_dir: Path
) -> None:
    """Each resource, declared or unmanaged, is reported by exactly one replica: its owner."""
    runtimes = await replicas(make_runtime, emulator, desired_dir)
    reports = [await runtime.check() for runtime in runtimes]
    shares = [reported(report) for report in reports if report is not None]
    assert len(shares) == 3 and all(shares)
    everything = set().union(*shares)
    assert sum(len(share) for share in shares) == len(everything)  # disjoint
    declared = {(f"{n:032x}", "in_sync") for n in range(1, 29)}
    unmanaged = {(f"{n:032x}", "unmanaged") for n in range(100, 106)}
    assert len(everything) == 36
    assert declared | unmanaged <= everything
    for index, report in enumerate(reports):
        assert report is not None
        for status in report.statuses:
            assert owner(shard_key(status.key), 3) == index, status.key


async def test_a_task_renamed_live_is_matched_by_id_on_every_replica(
    make_runtime: RuntimeFactory, emulator: Emulator, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """Renamed away from its declared name, a task bound by id is its owner's drift, and no
    other replica mistakes it for an unmanaged task, even the owner of its new name."""
    runtimes = await replicas(make_runtime, emulator, desired_dir)
    declared_owner = owner(shard_key(live_key("sharded_07")), 3)
    new_name = next(
        f"renamed_{n}"
        for n in range(100)
        if owner(shard_key(live_key(f"renamed_{n}")), 3) != declared_owner
    )

    def rename(document: dict[str, Any]) -> None:
        document["task"]["task_name"] = new_name

    await put_task(api, f"{7:032x}", rename)
    for index, runtime in enumerate(runtimes):
        report = await runtime.check()
        assert report is not None
        mine = [s for s in report.statuses if s.live_id == f"{7:032x}"]
        if index == declared_owner:
            (status,) = mine
            assert (status.status, status.key.name) == (Status.DRIFTED, "sharded_07")
            assert [c.pointer for c in status.changes] == ["/task/task_name"]
        else:
            assert mine == []


async def test_each_drifted_resource_is_written_once_by_its_owner(
    make_runtime: RuntimeFactory, emulator: Emulator, desired_dir: Path, api: httpx.AsyncClient
) -> None:
    """In auto mode, three replicas correct every drifted task exactly once between them."""
    runtimes = await replicas(
        make_runtime, emulator, desired_dir, reconcile={"max_writes_per_cycle": 50}
    )

    def edit(document: dict[str, Any]) -> None:
        document["task_detail"]["sourceSelectedDatasource"]["orderType"] = "DESC"

    drifted = {f"{n:032x}" for n in range(1, 29, 3)}
    for task_id in sorted(drifted):
        await put_task(api, task_id, edit)
    start = len(emulator.requests)
    for runtime in runtimes:
        assert await runtime.cycle(mode=ReconcileMode.AUTO) is not None
    written = [
        request.path.rsplit("/", 1)[1]
        for request in emulator.requests[start:]
        if request.method == "PUT"
    ]
    assert sorted(written) == sorted(drifted)
    for runtime in runtimes:
        report = await runtime.check()
        assert report is not None
        assert not report.drifted
