"""The cold-load helper: a second process parses from the tree's end into the parse cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from fdi_drift import desired_state, prefill
from fdi_drift.desired_state import DesiredStateLoader, fill_cache
from tests.test_desired_cache import entries, files, no_parsing
from tests.test_desired_state import VALID, tree


def test_what_the_helper_fills_is_read_back_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every entry fill_cache stores is one the loader takes, for the same tree."""
    root = tree(tmp_path / "tree", {**files(4), "bad.yaml": VALID.replace("FdiTask", "Nope")})
    cache = tmp_path / "cache"
    assert fill_cache(root, cache, 1 << 20, lambda: False) == 4  # the invalid file stores nothing
    assert len(entries(cache)) == 4
    (root / "bad.yaml").unlink()
    expected = DesiredStateLoader(root).load()
    no_parsing(monkeypatch)
    loader = DesiredStateLoader(root, cache_dir=cache)
    assert loader.load() == expected
    assert loader._disk is not None and (loader._disk.hits, loader._disk.misses) == (4, 0)


def test_the_helper_works_from_the_last_file_back_and_stops_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It takes the files the loader reaches last, skips cached ones, and stops between files."""
    root = tree(tmp_path / "tree", files(6))
    cache = tmp_path / "cache"
    asked = iter([False, False, True])
    assert fill_cache(root, cache, 1 << 20, lambda: next(asked)) == 2
    loader = DesiredStateLoader(root, cache_dir=cache)
    loader.load()
    assert loader._disk is not None and (loader._disk.hits, loader._disk.misses) == (2, 4)
    monkeypatch.setattr(desired_state, "_parse_bytes", lambda *args: pytest.fail("parsed"))
    assert fill_cache(root, cache, 1 << 20, lambda: False) == 0  # all cached now: none parsed


def test_files_the_loader_would_not_read_are_not_parsed(tmp_path: Path) -> None:
    """A file over the size limit, or not a regular file, is left to the loader to report."""
    root = tree(tmp_path / "tree", files(2))
    (root / "big.yaml").write_text(VALID + "#" * 4096)
    (root / "link.yaml").symlink_to(root / "t0.yaml")
    cache = tmp_path / "cache"
    assert fill_cache(root, cache, len(VALID) + 100, lambda: False) == 2


def test_a_load_asks_for_one_helper_after_parsing_enough_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once HELP_AFTER files are parsed a helper starts, and is stopped when the walk ends."""
    root = tree(tmp_path / "tree", files(5))
    started: list[tuple[str, Path, Path, int]] = []
    stopped: list[bool] = []

    class Fake:
        def stop(self) -> None:
            stopped.append(True)

    def start(module: str, at: Path, cache_dir: Path, limit: int) -> Fake:
        started.append((module, at, cache_dir, limit))
        return Fake()

    monkeypatch.setattr(desired_state, "start_helper", start)
    monkeypatch.setattr(desired_state, "HELP_AFTER", 2)
    DesiredStateLoader(root, cache_dir=tmp_path / "cache", max_file_bytes=9999).load()
    assert started == [("fdi_drift.desired_state", root.resolve(), tmp_path / "cache", 9999)]
    assert stopped == [True]
    DesiredStateLoader(root, cache_dir=tmp_path / "cache").load()  # nothing parsed: no helper
    DesiredStateLoader(root, cache_dir=tmp_path / "other", helper=False).load()
    DesiredStateLoader(root, desired_state.catalog.specs(), cache_dir=tmp_path / "own").load()
    DesiredStateLoader(root).load()  # no cache, nothing to fill
    assert len(started) == 1


def test_no_helper_where_there_is_one_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One CPU in the affinity mask, or a cgroup quota of one, and no helper is started."""
    monkeypatch.setattr(prefill.os, "sched_getaffinity", lambda pid: {0})
    assert prefill.start_helper("fdi_drift.desired_state", tmp_path, tmp_path, 1) is None
    monkeypatch.setattr(prefill.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert prefill.cpus(tmp_path / "none") == 4
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "cpu.max").write_text("100000 100000\n")
    assert prefill.cpus(tmp_path / "v2") == 1
    (tmp_path / "v2" / "cpu.max").write_text("max 100000\n")
    assert prefill.cpus(tmp_path / "v2") == 4
    (tmp_path / "v1" / "cpu").mkdir(parents=True)
    (tmp_path / "v1" / "cpu" / "cpu.cfs_quota_us").write_text("150000\n")
    (tmp_path / "v1" / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert prefill.cpus(tmp_path / "v1") == 1.5
    (tmp_path / "v1" / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert prefill.cpus(tmp_path / "v1") == 4


@pytest.mark.slow
def test_the_helper_process_fills_the_cache_and_stops_when_the_loader_closes_its_stdin(
    tmp_path: Path,
) -> None:
    """The real process: asked to stop at once it leaves whole entries only, and exits 0."""
    root = tree(tmp_path / "tree", files(300))
    cache = tmp_path / "cache"
    helper = prefill.Helper("fdi_drift.desired_state", root, cache, 1 << 20)
    helper.stop()
    assert helper._process.returncode == 0
    assert not [p for p in cache.rglob(".write-*")]
    full = prefill.Helper("fdi_drift.desired_state", root, cache, 1 << 20)
    assert full._process.wait(60) == 0  # done with the tree, it exits by itself
    full.stop()
    assert len(entries(cache)) == 300
