"""Tests that hostile desired-state files fail alone, quickly, as problems of their own."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fdi_drift import desired_files, desired_state
from fdi_drift.desired_files import MAX_DIRECTORY_DEPTH, Found, OpenedFile
from fdi_drift.desired_state import DesiredStateLoader, DesiredTree
from fdi_drift.drift.document import MAX_DEPTH
from fdi_drift.errors import DesiredStateError, DocumentError
from tests.test_desired_state import VALID, tree

# A second invalid file in every tree: its problem must be listed too, so one hostile file
# cannot hide the others.
OTHER = VALID.replace("kind: FdiTask", "kind: Nope").replace("orders-", "other-")
OTHER_PROBLEM = "other.yaml:2: /kind: must be one of"
ONLY_REGULAR = "only regular files inside the tree are read"
DEADLINE = 30.0


def outcome_within(root: Path, **options: int) -> DesiredTree | DesiredStateError:
    """Load in a thread and fail the test if it has not returned within the deadline."""
    outcome: list[DesiredTree | BaseException] = []

    def run() -> None:
        try:
            outcome.append(DesiredStateLoader(root, **options).load())
        except BaseException as error:
            outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(DEADLINE)
    assert not worker.is_alive(), f"the load did not return within {DEADLINE} s"
    (result,) = outcome
    if isinstance(result, DesiredTree | DesiredStateError):
        return result
    raise AssertionError(f"the load raised {type(result).__name__}: {result}") from result


def problems_within(root: Path, **options: int) -> tuple[str, ...]:
    """The problems of a load that must fail, within the deadline."""
    result = outcome_within(root, **options)
    assert isinstance(result, DesiredStateError), "the hostile tree was accepted"
    assert OTHER_PROBLEM in "\n".join(result.problems), result.problems
    return result.problems


def one_problem_of(problems: tuple[str, ...], file: str) -> str:
    """The single problem reported for `file`."""
    (found,) = [p for p in problems if p.startswith(f"{file}:")]
    return found


def test_an_alias_bomb_is_refused_at_its_first_alias_without_expanding(tmp_path: Path) -> None:
    """Nine levels of nine aliases (a billion strings once walked) are refused at line 2."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    root = tree(tmp_path, {"bomb.yaml": "\n".join(lines) + "\n", "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "bomb.yaml")
    assert problem == "bomb.yaml:2: YAML aliases are not allowed in desired state (*a)"


def test_an_alias_inside_a_resource_is_refused_with_its_line_and_name(tmp_path: Path) -> None:
    """Even one harmless-looking alias is refused, at the line of the alias, not the anchor."""
    text = VALID.replace("    task_type: timing", "    task_type: &kind timing").replace(
        "  reconcile: dry-run", "  reconcile: dry-run\n  running: *kind"
    )
    root = tree(tmp_path, {"alias.yaml": text, "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "alias.yaml")
    assert problem == "alias.yaml:18: YAML aliases are not allowed in desired state (*kind)"


def test_a_merge_key_is_refused_with_its_line(tmp_path: Path) -> None:
    """`<<` is refused even without an alias, at the line of the merge key."""
    text = VALID.replace("  task:\n", "  task:\n    <<: {task_tag: merged}\n")
    root = tree(tmp_path, {"merge.yaml": text, "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "merge.yaml")
    assert problem == "merge.yaml:9: YAML merge keys (<<) are not allowed in desired state"


def test_a_file_over_the_size_cap_is_refused_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2 MB file is a problem giving its size and the limit, and none of its bytes are read."""
    big = VALID.replace("orders to reporting", "x" * 2_097_152)
    root = tree(tmp_path, {"big.yaml": big, "other.yaml": OTHER})
    read_bytes: list[int] = []
    real_read = OpenedFile.read

    def counting_read(self: OpenedFile, limit: int) -> bytes:
        data = real_read(self, limit)
        read_bytes.append(len(data))
        return data

    monkeypatch.setattr(OpenedFile, "read", counting_read)
    problem = one_problem_of(problems_within(root), "big.yaml")
    size = len(big.encode())
    assert problem == (
        f"big.yaml: file is {size} bytes, more than the limit of 1048576"
        " (desired_state_max_file_bytes)"
    )
    assert read_bytes == [len(OTHER.encode())]


def test_the_size_cap_is_a_constructor_argument(tmp_path: Path) -> None:
    """`max_file_bytes` sets the cap: one byte over it is a problem, at it is read."""
    root = tree(tmp_path, {"a.yaml": VALID, "other.yaml": OTHER})
    size = len(VALID.encode())
    over = problems_within(root, max_file_bytes=size - 1)
    assert f"a.yaml: file is {size} bytes, more than the limit of {size - 1}" in over[0]
    at_limit = problems_within(root, max_file_bytes=size)
    assert not [p for p in at_limit if p.startswith("a.yaml")]


@pytest.mark.parametrize("target", ["/dev/zero", "outside"])
def test_a_symlinked_file_is_refused_not_followed(tmp_path: Path, target: str) -> None:
    """A `*.yaml` symlink, to /dev/zero or to a valid file outside the tree, is never read."""
    outside = tree(tmp_path / "outside", {"secret.yaml": VALID})
    root = tree(tmp_path / "tree", {"other.yaml": OTHER})
    (root / "link.yaml").symlink_to(
        "/dev/zero" if target == "/dev/zero" else outside / "secret.yaml"
    )
    problem = one_problem_of(problems_within(root), "link.yaml")
    assert problem == f"link.yaml: not a regular file (a symlink): {ONLY_REGULAR}"


def test_a_fifo_named_yaml_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO that no one writes to is reported instead of hanging the load."""
    root = tree(tmp_path, {"other.yaml": OTHER})
    os.mkfifo(root / "pipe.yaml")
    problem = one_problem_of(problems_within(root), "pipe.yaml")
    assert problem == f"pipe.yaml: not a regular file (a FIFO): {ONLY_REGULAR}"


@pytest.mark.parametrize(("swap", "kind"), [("fifo", "a FIFO"), ("symlink", "a symlink")])
def test_a_file_swapped_after_the_listing_is_checked_on_its_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swap: str, kind: str
) -> None:
    """What is opened is checked, not what was listed: a swapped-in FIFO or symlink is refused."""
    root = tree(tmp_path, {"a.yaml": VALID, "other.yaml": OTHER})
    real_open = desired_files.open_regular

    def swap_then_open(found: Found) -> AbstractContextManager[OpenedFile]:
        if found.relative == "a.yaml":
            (root / "a.yaml").unlink()
            if swap == "fifo":
                os.mkfifo(root / "a.yaml")
            else:
                (root / "a.yaml").symlink_to("/dev/zero")
        return real_open(found)

    monkeypatch.setattr(desired_state, "open_regular", swap_then_open)
    problem = one_problem_of(problems_within(root), "a.yaml")
    assert problem == f"a.yaml: not a regular file ({kind}): {ONLY_REGULAR}"


def test_a_directory_named_yaml_is_refused_and_its_files_still_checked(tmp_path: Path) -> None:
    """A directory called x.yaml is a problem, and the files inside it are checked as usual."""
    root = tree(tmp_path, {"other.yaml": OTHER, "x.yaml/inner.yaml": "kind: ["})
    problems = problems_within(root)
    assert f"x.yaml: not a regular file (a directory): {ONLY_REGULAR}" in problems
    assert one_problem_of(problems, "x.yaml/inner.yaml").startswith("x.yaml/inner.yaml:2:")


def test_a_symlinked_directory_is_refused_not_followed(tmp_path: Path) -> None:
    """A symlink to a directory in the tree is a problem, and nothing is read through it."""
    root = tree(tmp_path / "tree", {"other.yaml": OTHER, "real/a.yaml": VALID})
    (root / "alias").symlink_to(root / "real")
    problems = problems_within(root)
    assert "alias: a symlink to a directory is not followed" in problems
    assert not [p for p in problems if "declared more than once" in p]


def test_directories_nested_past_the_limit_are_a_problem(tmp_path: Path) -> None:
    """The walk holds a descriptor per level, so directories nested too deep are refused."""
    deep = "/".join(f"d{level}" for level in range(MAX_DIRECTORY_DEPTH + 1))
    root = tree(tmp_path, {f"{deep}/a.yaml": VALID, "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), deep)
    assert problem.endswith(f"directories nested more than {MAX_DIRECTORY_DEPTH} deep are not read")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_no_descriptor_is_left_open_by_a_failed_or_repeated_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loads that refuse entries or meet a switched checkout close every descriptor they open."""
    first = tree(tmp_path / "wt1", {"a/b/a.yaml": VALID, "other.yaml": OTHER})
    (first / "a" / "link.yaml").symlink_to("/dev/zero")
    current = tmp_path / "current"
    current.symlink_to(first)
    before = len(list(Path("/proc/self/fd").iterdir()))
    for _ in range(3):
        problems_within(current)
    monkeypatch.setattr(
        desired_state, "open_regular", switching_open(current, first, remove=first, times=2)
    )
    with pytest.raises(DesiredStateError, match="kept changing"):
        DesiredStateLoader(current).load()
    assert len(list(Path("/proc/self/fd").iterdir())) == before


def test_bytes_that_are_not_utf8_are_a_problem_at_their_line(tmp_path: Path) -> None:
    """Invalid UTF-8 is reported with its line instead of being replaced silently."""
    text = VALID.encode().replace(b"orders to reporting", b"orders \xff reporting")
    root = tmp_path
    (root / "latin.yaml").write_bytes(text)
    (root / "other.yaml").write_text(OTHER, encoding="utf-8")
    problem = one_problem_of(problems_within(root), "latin.yaml")
    assert problem == "latin.yaml:10: not UTF-8 text (byte 0xff)"


@pytest.mark.parametrize("style", ["flow", "block"])
def test_yaml_nested_900_deep_is_a_problem_of_its_file(tmp_path: Path, style: str) -> None:
    """Nesting that used to overflow the stack is reported as too deep, with its pointer."""
    if style == "flow":
        deep = "deep: " + "[" * 900 + "]" * 900 + "\n"
    else:
        deep = "".join(f"{' ' * level}k{level}:\n" for level in range(900)) + " " * 900 + "1\n"
    root = tree(tmp_path, {"deep.yaml": deep, "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "deep.yaml")
    assert problem.endswith(f": nested more than {MAX_DEPTH} levels deep")


def test_a_document_150_levels_deep_is_reported_with_its_pointer(tmp_path: Path) -> None:
    """A document deeper than MAX_DEPTH is reported at the pointer where it passes the limit."""
    nested = "{a: " * 150 + "1" + "}" * 150
    text = VALID.replace('pageSize: "10"', f"pageSize: {nested}")
    root = tree(tmp_path, {"deep.yaml": text, "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "deep.yaml")
    prefix = "/spec/task_detail/sourceSelectedDatasource/bodyRaw/pageSize"
    levels = MAX_DEPTH - prefix.count("/")  # the mapping at level MAX_DEPTH + 1 is named
    assert problem == (
        f"deep.yaml:15: {prefix}{'/a' * levels}: nested more than {MAX_DEPTH} levels deep"
    )


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**40])
def test_an_integer_wider_than_64_bits_never_escapes_as_an_exception(
    tmp_path: Path, value: int
) -> None:
    """Whatever the codec makes of a wide integer, no exception but DesiredStateError escapes."""
    text = VALID.replace('pageSize: "10"', f"pageSize: {value}")
    root = tree(tmp_path, {"wide.yaml": text, "other.yaml": OTHER})
    problems = problems_within(root)
    assert all(p.startswith(("wide.yaml", "other.yaml")) for p in problems), problems


def test_an_integer_too_long_to_convert_is_a_problem_of_its_file(tmp_path: Path) -> None:
    """Python refuses to convert 5,000 digits; that ValueError becomes the file's problem."""
    text = VALID.replace('pageSize: "10"', f"pageSize: {'9' * 5000}")
    root = tree(tmp_path, {"long.yaml": text, "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "long.yaml")
    assert problem.startswith("long.yaml: cannot be loaded: ValueError: Exceeds the limit")


@pytest.mark.parametrize(
    "error",
    [RecursionError("too deep"), MemoryError(), ValueError("odd"), DocumentError("not JSON")],
)
def test_any_exception_from_one_file_is_its_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """An exception while loading one file names the file and its type, never a traceback."""
    real_load, real_fast = desired_state.load_documents, desired_state.fast_document

    def failing_load(text: str) -> list[object]:
        if "boom" in text:
            raise error
        return real_load(text)

    def failing_fast(text: str) -> object:
        if "boom" in text:
            raise error
        return real_fast(text)

    monkeypatch.setattr(desired_state, "load_documents", failing_load)
    monkeypatch.setattr(desired_state, "fast_document", failing_fast)
    root = tree(tmp_path, {"boom.yaml": "boom: 1\n", "other.yaml": OTHER})
    problem = one_problem_of(problems_within(root), "boom.yaml")
    detail = f": {error}" if str(error) else ""
    assert problem == f"boom.yaml: cannot be loaded: {type(error).__name__}{detail}"


def test_a_read_error_is_the_file_problem_and_the_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error fails its file alone, and is not cached: the next load reads the file."""
    root = tree(tmp_path, {"a.yaml": VALID, "other.yaml": OTHER})
    loader = DesiredStateLoader(root)
    real_read = OpenedFile.read

    def failing_read(self: OpenedFile, limit: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(OpenedFile, "read", failing_read)
    with pytest.raises(DesiredStateError) as caught:
        loader.load()
    assert (
        "a.yaml: cannot be loaded: OSError: [Errno 5] Input/output error" in caught.value.problems
    )
    monkeypatch.setattr(OpenedFile, "read", real_read)
    (root / "other.yaml").unlink()
    assert [r.source for r in loader.load().resources] == ["a.yaml"]


def switching_open(
    current: Path, new: Path, *, remove: Path | None, times: int
) -> Callable[[Found], AbstractContextManager[OpenedFile]]:
    """An `open_regular` that first does what git-sync does: point `current` at a new worktree."""
    real_open = desired_files.open_regular
    switches = iter(range(times))

    def switch_then_open(found: Found) -> AbstractContextManager[OpenedFile]:
        if next(switches, None) is not None:
            current.unlink()
            current.symlink_to(new)
            if remove is not None:
                (remove / found.relative).unlink()
        return real_open(found)

    return switch_then_open


@pytest.mark.parametrize("old_files", ["removed", "kept"])
def test_a_checkout_switched_mid_read_is_loaded_again_from_the_new_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_files: str
) -> None:
    """A file gone between the walk and its read, or a root moved, means one more load."""
    old = tree(tmp_path / "wt1", {"a.yaml": VALID})
    new = tree(tmp_path / "wt2", {"a.yaml": VALID, "b.yaml": VALID.replace("orders-", "inv-")})
    current = tmp_path / "current"
    current.symlink_to(old)
    remove = old if old_files == "removed" else None
    opener = switching_open(current, new, remove=remove, times=1)
    monkeypatch.setattr(desired_state, "open_regular", opener)
    loaded = DesiredStateLoader(current).load()
    assert sorted(r.source for r in loaded.resources) == ["a.yaml", "b.yaml"]


def test_a_checkout_that_keeps_changing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second switch during the reload is a DesiredStateError, never FileNotFoundError."""
    first = tree(tmp_path / "wt1", {"a.yaml": VALID})
    current = tmp_path / "current"
    current.symlink_to(first)
    opener = switching_open(current, first, remove=first, times=2)
    monkeypatch.setattr(desired_state, "open_regular", opener)
    (first / "b.yaml").write_text(VALID.replace("orders-", "inv-"), encoding="utf-8")
    with pytest.raises(DesiredStateError, match="the checkout kept changing during the load"):
        DesiredStateLoader(current).load()


# Property tests: whatever the files hold, the outcome is a tree or a DesiredStateError whose
# every problem starts with the name of a file of the tree.

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=24,
)
_lines = VALID.splitlines(keepends=True)


def _duplicated_line(index: int) -> str:
    return "".join([*_lines[: index + 1], _lines[index], *_lines[index + 1 :]])


def _bomb(width: int, depth: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


def _flow(value: object) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000)
    return text.removesuffix("...\n").strip()


def _nested(depth: int, block: bool) -> str:
    if block:
        return "".join(f"{' ' * level}k:\n" for level in range(depth)) + " " * depth + "1\n"
    return "[" * depth + "]" * depth


_texts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{2,30}", fullmatch=True).map(
        lambda name: VALID.replace("orders-mysql-to-mysql", name)
    ),
    _json.map(lambda value: yaml.safe_dump(value)),
    _json.map(lambda value: VALID.replace('pageSize: "10"', f"pageSize: {_flow(value)}")),
    st.text(max_size=300),
    st.builds(_nested, st.integers(0, 1_100), st.booleans()),
    st.builds(_bomb, st.integers(1, 9), st.integers(1, 9)),
    st.sampled_from(["a: &x 1\nb: *x\n", "&r [*r]\n", "? &k [*k]\n: 1\n", "a:\n  <<: {b: 1}\n"]),
    st.integers(0, len(_lines) - 1).map(_duplicated_line),
    st.sampled_from([1_000, 100_000, 1_000_000]).map(
        lambda size: VALID.replace("orders to reporting", "x" * size)
    ),
)
_files = st.one_of(
    _texts.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=400)
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_files, min_size=1, max_size=3))
def test_any_files_give_a_tree_or_problems_naming_them(contents: list[bytes]) -> None:
    """Generated files never raise anything but DesiredStateError, whose problems name files."""
    with tempfile.TemporaryDirectory() as directory:  # hypothesis reuses function fixtures
        root = Path(directory)
        names = [f"f{index}.yaml" for index in range(len(contents))]
        for name, data in zip(names, contents, strict=True):
            (root / name).write_bytes(data)
        result = outcome_within(root)
        if isinstance(result, DesiredStateError):
            assert result.problems
            for problem in result.problems:
                assert problem.split(":", 1)[0] in names, problem


@pytest.mark.parametrize("container", ["{}", "[]", "k: 1", "- 1"])
@pytest.mark.parametrize("extra", [0, 1])
def test_the_depth_limit_holds_on_the_fast_path(tmp_path: Path, container: str, extra: int) -> None:
    """Block YAML nested past MAX_DEPTH, read by the fast parser, is refused at its pointer."""
    prefix = "/spec/task_detail/sourceSelectedDatasource/bodyRaw/pageSize"
    # pageSize's value is at depth prefix.count("/") + 1; the innermost container lands at
    # MAX_DEPTH (allowed) or one past it.
    levels = MAX_DEPTH - prefix.count("/") - 1 + extra
    indent = " " * 8
    lines = []
    for level in range(levels):
        lines.append(f"{indent}{' ' * (2 * level)}a:")
    lines.append(f"{indent}{' ' * (2 * levels)}{container}")
    nested = "\n".join("  " + line for line in lines)
    text = VALID.replace('        pageSize: "10"\n', f"        pageSize:\n{nested}\n")
    assert desired_state.fast_document(text) is not None  # the fast path reads it
    root = tree(tmp_path, {"deep.yaml": text, "other.yaml": OTHER})
    result = outcome_within(root)
    assert isinstance(result, DesiredStateError)
    deep = [p for p in result.problems if p.startswith("deep.yaml")]
    if extra:  # the innermost container is one level past the limit
        assert deep == [
            f"deep.yaml:{15 + levels}: {prefix}{'/a' * levels}: "
            f"nested more than {MAX_DEPTH} levels deep"
        ]
    else:
        assert deep == []
