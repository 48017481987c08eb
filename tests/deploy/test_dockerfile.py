"""The image's Dockerfile, read as text (no Docker here): a slim multi-stage build whose final
stage holds only the venv, runs as a numeric non-root user and starts the daemon."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DEPLOYMENT = ROOT / "deploy" / "kustomize" / "base" / "deployment.yaml"
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|make|build-essential|apt-get\s+install|apt\s+install|pip\s+install|"
    r"pip\s+wheel|python[\d.]*-dev)\b"
)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    arguments: str


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, comments (also inside continuations) dropped."""
    found: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return found


def stages(text: str) -> list[list[Instruction]]:
    """The build stages, each starting with its FROM."""
    split: list[list[Instruction]] = []
    for each in instructions(text):
        if each.keyword == "FROM":
            split.append([])
        assert split, f"{each.keyword} before the first FROM"
        split[-1].append(each)
    return split


@pytest.fixture(scope="module")
def dockerfile() -> list[list[Instruction]]:
    return stages(DOCKERFILE.read_text(encoding="utf-8"))


def only(stage: list[Instruction], keyword: str) -> Instruction:
    [found] = [each for each in stage if each.keyword == keyword]
    return found


def test_instructions_join_continuations_and_drop_comments() -> None:
    """The reader joins backslash continuations and skips comment lines inside them."""
    text = "FROM a AS b\n# note\nRUN one \\\n    # inside\n    && two\nUSER 1:1\n"
    assert instructions(text) == [
        Instruction("FROM", "a AS b"),
        Instruction("RUN", "one && two"),
        Instruction("USER", "1:1"),
    ]


def test_build_has_a_separate_final_stage_fed_from_the_build(
    dockerfile: list[list[Instruction]],
) -> None:
    """Two or more stages, and the final one copies the venv from an earlier named stage."""
    assert len(dockerfile) >= 2
    names = [re.split(r"\s+as\s+", s[0].arguments, flags=re.IGNORECASE)[-1] for s in dockerfile]
    copies_from = {
        match.group(1)
        for each in dockerfile[-1]
        if each.keyword == "COPY" and (match := re.search(r"--from=(\S+)", each.arguments))
    }
    assert copies_from and copies_from <= set(names[:-1])


def test_every_base_image_is_slim_python_311(dockerfile: list[list[Instruction]]) -> None:
    """Each stage starts from the slim Python 3.11 image."""
    images = [s[0].arguments.split()[0] for s in dockerfile]
    assert all(
        re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", i) for i in images
    )


def test_final_stage_runs_as_the_pods_numeric_non_root_user(
    dockerfile: list[list[Instruction]],
) -> None:
    """USER is a numeric uid:gid, not 0, and the one the Deployment's pod runs as."""
    user = [each for each in dockerfile[-1] if each.keyword == "USER"][-1].arguments
    matched = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    assert matched is not None, user
    uid = int(matched.group(1))
    assert uid != 0
    pod = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == uid
    if matched.group(2) is not None:
        assert pod["securityContext"]["runAsGroup"] == int(matched.group(2))


def test_final_stage_installs_and_builds_nothing(dockerfile: list[list[Instruction]]) -> None:
    """No compiler, apt-get install, pip install or wheel build in the final stage."""
    commands = [each.arguments for each in dockerfile[-1] if each.keyword == "RUN"]
    assert [c for c in commands if BUILD_TOOLS.search(c)] == []


def test_entrypoint_is_the_daemon_with_the_deployments_config(
    dockerfile: list[list[Instruction]],
) -> None:
    """ENTRYPOINT is fdi-drift, CMD runs it on the config the Deployment mounts, 9108 exposed."""
    final = dockerfile[-1]
    assert json.loads(only(final, "ENTRYPOINT").arguments) == ["fdi-drift"]
    command = json.loads(only(final, "CMD").arguments)
    assert command == ["run", "-c", "/etc/fdi-drift/config.yaml"]
    daemon = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert daemon["args"] == command
    assert only(final, "EXPOSE").arguments.split() == ["9108"]


def test_no_desired_state_goes_into_the_image(dockerfile: list[list[Instruction]]) -> None:
    """Only named sources come from the context: never all of it, never desired_state."""
    sources = [
        source
        for stage in dockerfile
        for each in stage
        if each.keyword in {"COPY", "ADD"} and "--from=" not in each.arguments
        for source in each.arguments.split()[:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert source.strip("/") not in {"", "."} and "desired_state" not in source, source
        assert (ROOT / source).exists(), source


def test_build_stage_copies_what_the_wheel_is_built_from(
    dockerfile: list[list[Instruction]],
) -> None:
    """pyproject.toml, its readme and its package directory are all in the build stage."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {
        "pyproject.toml",
        project["project"]["readme"],
        *project["tool"]["setuptools"]["packages"]["find"]["where"],
    }
    copied = {
        source.rstrip("/")
        for each in dockerfile[0]
        if each.keyword == "COPY"
        for source in each.arguments.split()[:-1]
    }
    assert needed <= copied
