"""The fleet a bench runs against: N emulator seeds and N desired files, made fast and cached.

One realistic answer (`big_answer`) is copied N times with distinct ids and names. The desired
files are what `fdi-drift export` writes: the real exporter runs once, on one task, and its
text is copied N times with the name and id substituted. The desired tree is a git repository,
so its revision is a real commit and a one-file commit is a real reload.

The tasks are split between two instances, so that `export` of the first is the issue's
"export of 5,000 tasks" at 10,000, and every size has a project with more than one instance.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from fdi_drift.desired_state import parse_resource_text
from tests.bench.per_task import INSTANCE, PROJECT, big_answer
from tests.bench.processes import CLI, Emulator

SECOND_INSTANCE = "2b9c4d1e-6f0a-4b3c-8d2e-7a1f5c9e0b34"
SCOPE = f"{PROJECT}/{INSTANCE}"  # the first instance, as `export --scope` names it
CHECKED = 1000  # tasks declared in the tree `check` and the naive peer load
TOKEN = "bench-token"
FORMAT = 1  # bump when the layout changes, so that a cached --data directory is rebuilt
_TEMPLATE_NAME = "bench-template-task"
_TEMPLATE_ID = "feedfacefeedfacefeedfacefeedface"
_GIT_SETTINGS = ("user.name=bench", "user.email=bench@127.0.0.1", "commit.gpgsign=false")
_GIT = ["git", *(part for setting in _GIT_SETTINGS for part in ("-c", setting))]


@dataclass(frozen=True, slots=True)
class Fleet:
    """Where a generated fleet lives."""

    root: Path
    tasks: int

    @property
    def seeds(self) -> Path:
        """The emulator's seed directory."""
        return self.root / "seeds"

    @property
    def desired(self) -> Path:
        """The whole desired tree, a git repository."""
        return self.root / "desired"

    @property
    def checked(self) -> Path:
        """The first CHECKED desired files, the tree `check` and the naive peer compare."""
        return self.root / "desired-check"

    @property
    def checked_tasks(self) -> int:
        """How many tasks the `checked` tree declares."""
        return min(self.tasks, CHECKED)

    @property
    def exported_tasks(self) -> int:
        """How many tasks the first instance holds (what `export` writes)."""
        return (self.tasks + 1) // 2

    def instance_of(self, index: int) -> str:
        """The instance that holds the index-th task."""
        return INSTANCE if index < self.exported_tasks else SECOND_INSTANCE


def task_name(index: int) -> str:
    """The name of the index-th task."""
    return f"task-{index:05d}"


def task_id(index: int) -> str:
    """The id of the index-th task (32 hex digits, led by a letter so YAML reads it as text)."""
    return f"b{index:031x}"


def build_fleet(tasks: int, data: Path | None) -> Fleet:
    """The fleet of `tasks` tasks under `data` (built there unless already built), or a new one
    in a temporary directory."""
    root = Path(tempfile.mkdtemp(prefix="fdi-drift-bench-")) if data is None else data
    made = Fleet(root, tasks)
    stamp = root / "fleet.json"
    wanted = {"format": FORMAT, "tasks": tasks}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return made
    for stale in (made.seeds, made.desired, made.checked):
        shutil.rmtree(stale, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    answer = orjson.loads(big_answer())
    _write_seeds(made, answer)
    relative, text = _exported_template(root, answer)
    _write_desired(made, relative, text)
    stamp.write_text(json.dumps(wanted))
    return made


def _named(answer: dict[str, Any], index: int | None) -> bytes:
    task = dict(answer["task"])
    task["task_id"] = _TEMPLATE_ID if index is None else task_id(index)
    task["task_name"] = _TEMPLATE_NAME if index is None else task_name(index)
    return orjson.dumps({**answer, "task": task})


def _write_seeds(made: Fleet, answer: dict[str, Any]) -> None:
    for instance in {made.instance_of(i) for i in range(made.tasks)}:
        (made.seeds / PROJECT / instance).mkdir(parents=True)
    for index in range(made.tasks):
        folder = made.seeds / PROJECT / made.instance_of(index)
        (folder / f"{task_id(index)}.json").write_bytes(_named(answer, index))


def _exported_template(root: Path, answer: dict[str, Any]) -> tuple[Path, str]:
    """What `fdi-drift export` writes for one task: its path under --out, and its text."""
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        work = Path(scratch)
        folder = work / "seeds" / PROJECT / INSTANCE
        folder.mkdir(parents=True)
        (folder / f"{_TEMPLATE_ID}.json").write_bytes(_named(answer, None))
        with Emulator.start(work / "seeds", TOKEN, work / "emulator.log") as emulator:
            config = work / "export.yaml"
            config.write_text(
                f"endpoints: {{fdi: '{emulator.url}', drs: '{emulator.url}', "
                f"iam: '{emulator.url}'}}\nauth: {{token_env: FDI_DRIFT_BENCH_TOKEN}}\n"
            )
            out = work / "out"
            exported = subprocess.run(
                [*CLI, "export", "-c", str(config), "--out", str(out), "--scope", SCOPE],
                capture_output=True,
                text=True,
                env=emulator.environment(),
                timeout=120,
            )
            if exported.returncode != 0:
                raise RuntimeError(f"export of the template task failed:\n{exported.stderr}")
        (written,) = out.rglob("*.yaml")
        return written.relative_to(out), written.read_text(encoding="utf-8")


def _write_desired(made: Fleet, relative: Path, text: str) -> None:
    if text.count(_TEMPLATE_ID) != 1 or _TEMPLATE_NAME not in text:
        raise AssertionError(f"the exported file is not as expected:\n{text[:500]}")
    for tree in (made.desired, made.checked):
        tree.mkdir(parents=True)
    for index in range(made.tasks):
        name = task_name(index)
        body = text.replace(_TEMPLATE_ID, task_id(index)).replace(_TEMPLATE_NAME, name)
        where = Path(
            str(relative).replace(_TEMPLATE_NAME, name).replace(INSTANCE, made.instance_of(index))
        )
        body = body.replace(INSTANCE, made.instance_of(index))
        for tree in (made.desired, made.checked) if index < made.checked_tasks else (made.desired,):
            path = tree / where
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        if index == made.tasks - 1:  # in the second instance: every substitution made
            resource, problems = parse_resource_text(where.name, body)
            if resource is None:
                raise AssertionError(f"a generated desired file is invalid: {problems}")
    subprocess.run([*_GIT, "init", "-q", str(made.desired)], check=True)
    subprocess.run([*_GIT, "-C", str(made.desired), "add", "-A"], check=True)
    subprocess.run(
        [*_GIT, "-C", str(made.desired), "commit", "-q", "-m", f"{made.tasks} tasks"], check=True
    )


def commit_one_file(made: Fleet, turn: int) -> str:
    """Change one desired file (a comment, so nothing drifts), commit it; the new revision."""
    path = next((made.desired / PROJECT / INSTANCE).glob("*.yaml"))
    with path.open("a", encoding="utf-8") as file:
        file.write(f"# touched by the bench, turn {turn}\n")
    subprocess.run([*_GIT, "-C", str(made.desired), "commit", "-q", "-am", "touch"], check=True)
    head = subprocess.run(
        ["git", "-C", str(made.desired), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return head.stdout.strip()
