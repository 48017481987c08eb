"""The desired-state parse cache: a restart reads parsed files back, and never a wrong one."""

from __future__ import annotations

import gc
import logging
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from fdi_drift import desired_cache, desired_state
from fdi_drift.desired_state import DesiredStateLoader
from fdi_drift.errors import DesiredStateError
from fdi_drift.settings import settings_from_mapping
from tests.test_desired_state import VALID, tree

SECRET = VALID.replace('pageSize: "10"', "pageSize: {secretRef: db/page}")


def files(count: int, text: str = VALID) -> dict[str, str]:
    return {
        f"t{index}.yaml": text.replace("orders-mysql-to-mysql", f"task-{index}")
        for index in range(count)
    }


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file() and not p.name.startswith("."))


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> object:
        raise AssertionError("a file was parsed although its entry is cached")

    monkeypatch.setattr(desired_state, "fast_document", refuse)
    monkeypatch.setattr(desired_state, "load_documents", refuse)


def test_a_new_loader_reads_every_file_back_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart (a new loader) parses nothing and gets the same tree, secrets references too."""
    root = tree(tmp_path / "tree", {**files(5), "secret.yaml": SECRET})
    cache = tmp_path / "cache"
    first = DesiredStateLoader(root, cache_dir=cache).load()
    assert len(entries(cache)) == 6
    no_parsing(monkeypatch)
    again = DesiredStateLoader(root, cache_dir=cache)
    second = again.load()
    assert second == first
    assert [r.document for r in second.resources] == [r.document for r in first.resources]
    secret = next(r for r in second.resources if r.source == "secret.yaml")
    assert secret.prepared.secret_paths == (
        ("task_detail", "sourceSelectedDatasource", "bodyRaw", "pageSize"),
    )
    assert secret.prepared.value != secret.document  # the reference is not compared
    assert again._disk is not None and (again._disk.hits, again._disk.misses) == (6, 0)


def test_the_same_bytes_under_another_path_are_that_path_s_resource(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    DesiredStateLoader(tree(tmp_path / "a", {"one.yaml": VALID}), cache_dir=cache).load()
    moved = DesiredStateLoader(tree(tmp_path / "b", {"two.yaml": VALID}), cache_dir=cache).load()
    assert [r.source for r in moved.resources] == ["two.yaml"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # torn
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one bit flipped
        lambda data: b"",
        lambda data: b"FDC1" + os.urandom(64),
    ],
    ids=["torn", "flipped", "empty", "garbage"],
)
def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path: Path, damage: object) -> None:
    root = tree(tmp_path / "tree", files(2))
    cache = tmp_path / "cache"
    expected = DesiredStateLoader(root, cache_dir=cache).load()
    entry = entries(cache)[0]
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    loader = DesiredStateLoader(root, cache_dir=cache)
    assert loader.load() == expected
    assert loader._disk is not None and (loader._disk.hits, loader._disk.misses) == (1, 1)
    assert desired_cache._decode(entry.read_bytes()) is not None


def test_an_entry_is_written_beside_a_temporary_name_another_writer_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary name already taken (another process's write) is skipped, and left alone."""
    names = iter([b"\0" * 8, b"\0" * 8, b"\1" * 8])
    monkeypatch.setattr(desired_cache.os, "urandom", lambda size: next(names))
    target = tmp_path / "cache" / "ab" / "entry"
    desired_cache._replace(target, b"first")  # makes the directory on the way
    held = target.parent / f".write-{'00' * 8}"
    held.write_bytes(b"another writer's")
    desired_cache._replace(target, b"second")
    assert target.read_bytes() == b"second"
    assert held.read_bytes() == b"another writer's"
    assert sorted(p.name for p in target.parent.iterdir()) == [held.name, "entry"]
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_changed_file_is_parsed_and_its_problems_are_never_cached(tmp_path: Path) -> None:
    root = tree(tmp_path / "tree", files(1))
    cache = tmp_path / "cache"
    DesiredStateLoader(root, cache_dir=cache).load()
    (root / "t0.yaml").write_text(VALID.replace("kind: FdiTask", "kind: Nope"))
    for _ in range(2):  # and again: an invalid file is not served from the cache
        with pytest.raises(DesiredStateError) as caught:
            DesiredStateLoader(root, cache_dir=cache).load()
        assert caught.value.problems[0].startswith("t0.yaml:2: /kind: must be one of")


def test_another_release_never_reads_these_entries_and_old_ones_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries are namespaced by the code that made them; a day-old namespace is removed."""
    root = tree(tmp_path / "tree", files(2))
    cache = tmp_path / "cache"
    DesiredStateLoader(root, cache_dir=cache).load()
    desired_cache.Verdicts(cache).save({"k": ("live", "desired")})
    day_ago = time.time() - 86_401
    for old in cache.iterdir():
        os.utime(old, (day_ago, day_ago))
    monkeypatch.setattr(desired_cache, "code_digest", lambda: "another-release")
    assert desired_cache.Verdicts(cache).known == {}  # another release's verdicts are not read
    loader = DesiredStateLoader(root, cache_dir=cache)
    loader.load()
    assert loader._disk is not None and loader._disk.hits == 0
    assert [p.name for p in cache.iterdir()] == ["desired-another-release"]


def test_entries_no_longer_used_are_removed_once_they_outnumber_the_tree(tmp_path: Path) -> None:
    root = tree(tmp_path / "tree", files(3))
    cache = tmp_path / "cache"
    DesiredStateLoader(root, cache_dir=cache).load()
    for index in range(3):  # every file changes: three unused entries, as many as in use
        path = root / f"t{index}.yaml"
        path.write_text(path.read_text().replace("timing", "realtime"))
    DesiredStateLoader(root, cache_dir=cache).load()
    assert len(entries(cache)) == 6
    (root / "t0.yaml").write_text((root / "t0.yaml").read_text() + "# edited\n")
    DesiredStateLoader(root, cache_dir=cache).load()
    assert len(entries(cache)) == 3  # four unused outnumbered three in use


def test_a_cache_that_cannot_be_written_is_logged_once_and_the_load_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tree(tmp_path / "tree", files(3))
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the directory should be")
    with caplog.at_level(logging.WARNING, logger="fdi_drift.desired_cache"):
        loaded = DesiredStateLoader(root, cache_dir=blocked).load()
    assert len(loaded.resources) == 3
    warnings = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(warnings) == 1


def test_the_cache_dir_setting_reaches_the_loader(tmp_path: Path) -> None:
    from fdi_drift.service import Runtime

    raw = {
        "desired_state": "tree",
        "cache_dir": "cache",
        "endpoints": {"fdi": "http://127.0.0.1:1", "drs": "http://127.0.0.1:1"},
        "auth": {"token_env": "T"},
    }
    settings = settings_from_mapping(raw, base_dir=tmp_path, environ={"T": "t"})
    assert settings.cache_dir == tmp_path / "cache"
    runtime = Runtime(settings)
    tree(tmp_path / "tree", files(1))
    runtime.loader.load()
    assert len(entries(tmp_path / "cache")) == 1


def test_the_load_pauses_the_cyclic_collector_and_restores_it(tmp_path: Path) -> None:
    root = tree(tmp_path / "tree", {"bad.yaml": "a: [\n"})
    seen: list[bool] = []
    real = desired_state._parse_bytes

    def spy(*args: object) -> object:
        seen.append(gc.isenabled())
        return real(*args)  # type: ignore[arg-type]

    pytest.MonkeyPatch().setattr(desired_state, "_parse_bytes", spy)
    try:
        assert gc.isenabled()
        with pytest.raises(DesiredStateError):
            DesiredStateLoader(root).load()
        assert seen == [False]
        assert gc.isenabled()
    finally:
        pytest.MonkeyPatch().undo()
        desired_state._parse_bytes = real


def test_a_loaded_resource_holds_its_document_packed(tmp_path: Path) -> None:
    """Memory per declared resource is a small fraction of its parsed document."""
    wide = "\n".join(f"      column_{i}: value number {i} of the wide table" for i in range(500))
    text = VALID.replace('        pageSize: "10"', f'        pageSize: "10"\n{wide}')
    root = tree(tmp_path / "tree", files(40, text))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        loaded = DesiredStateLoader(root).load()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    one = loaded.resources[0]
    document_bytes = len(desired_state.orjson.dumps(one.document))
    assert document_bytes > 20_000
    # Parsed, each document is well over 100 KB of objects; packed, a few KB.
    assert held / len(loaded.resources) < document_bytes / 2, held
