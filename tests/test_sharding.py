"""Tests for sharding: who owns a key, the shard keys of the configuration, and the partition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fdi_drift.drift.model import ResourceKey
from fdi_drift.errors import ConfigError
from fdi_drift.kinds.fdi_task import KIND as FDI_TASK
from fdi_drift.settings import load_settings
from fdi_drift.sharding import Shard, hostname_ordinal, owner, shard_key
from tests.conftest import INSTANCE, PROJECT

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
