"""Edits to YAML text change the edited values and leave every other line as written."""

from __future__ import annotations

import copy
import difflib
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fdi_drift.drift.pointer import format_pointer
from fdi_drift.yaml_documents import dump_document, fast_document, load_documents
from fdi_drift.yaml_edit import Edit, YAMLEditError, edit_text
from tests.test_yaml_documents import TRICKY

# A desired file as people keep them: comments, blank lines, odd quoting and spacing, flow
# collections, a folded block scalar, an indentless and an indented block list.
COMMENTED = """\
# Orders, nightly: owned by the data team.
apiVersion: fdi-drift/v1
kind: FdiTask
metadata:
  name: orders_daily   # bound by name
  project_id: "c53626012ba84727b938ca8bf03108ef"

spec:
  task: { task_type: timing,  description: "orders, nightly" }
  task_detail:
    # the source API
    sourceSelectedDatasource:
        bodyRaw: {pageSize: '10', pageNum: "1"}
        page_size:   '10'    # keep in step with bodyRaw
        flags: [a, 'b', "c"]
        note: >-
          folded text
          over lines


    columns:
    - name: id
      type: INT
    - name: total   # cents
      type: DECIMAL
    list:
      - x: 1
        y: yes
      -   x: 2
          y: 0777
ignore: [/task_detail/**/current_page_num]
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """Each changed line as (old, new), for edits that keep the number of lines."""
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def read(text: str) -> Any:
    """The one document the project's reader reads from `text`."""
    documents = load_documents(text)
    assert len(documents) == 1
    return documents[0]


def test_one_value_changes_one_line_and_nothing_else() -> None:
    """Comments, spacing and every other literal stay byte for byte."""
    after = edit_text(
        COMMENTED, [Edit("/spec/task_detail/sourceSelectedDatasource/page_size", "25")]
    )
    assert changed_lines(COMMENTED, after) == [
        (
            "        page_size:   '10'    # keep in step with bodyRaw",
            "        page_size:   '25'    # keep in step with bodyRaw",
        ),
    ]


def test_a_value_inside_a_flow_mapping_keeps_the_mapping_as_written() -> None:
    """Only the value's characters change; the odd spacing around it stays."""
    after = edit_text(COMMENTED, [Edit("/spec/task/description", "orders, hourly")])
    assert changed_lines(COMMENTED, after) == [
        (
            '  task: { task_type: timing,  description: "orders, nightly" }',
            '  task: { task_type: timing,  description: "orders, hourly" }',
        ),
    ]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("hourly", "hourly"),
        ("yes", "'yes'"),
        ("0777", "'0777'"),
        ("1e3", "'1e3'"),
        ("12:30", "'12:30'"),
        ("null", "'null'"),
        (" leading", "' leading'"),
        ("trailing ", "'trailing '"),
        ("", "''"),
        ("it's", "it's"),
        ("a: b", "'a: b'"),
        ("two\nlines", '"two\\nlines"'),
        ("tab\there", '"tab\\there"'),
        ("line\u2028separator", '"line\\u2028separator"'),
        (True, "true"),
        (None, "null"),
        (12, "12"),
        (2**80, str(2**80)),
        (1e16, "1.0e+16"),
        (0.1, "0.1"),
    ],
)
def test_values_are_written_so_that_they_read_back_as_themselves(value: Any, written: str) -> None:
    """Plain where YAML 1.1 and 1.2 both read the string back; quoted where either would not."""
    text = "a: 1  # one\nb: plain\n"
    after = edit_text(text, [Edit("/b", value)])
    assert after == f"a: 1  # one\nb: {written}\n"
    assert read(after) == {"a": 1, "b": value}
    assert type(read(after)["b"]) is type(value)


@pytest.mark.parametrize("value", TRICKY)
def test_every_tricky_string_reads_back_as_itself(value: str) -> None:
    """Strings YAML 1.1 and 1.2 read differently are quoted, in block and flow context alike."""
    text = "a: x\nb: [x, y]\n"
    after = edit_text(text, [Edit("/a", value), Edit("/b/1", value)])
    assert read(after) == {"a": value, "b": ["x", value]}
    if fast_document(after) is not None:  # whichever reader reads it, the same
        assert fast_document(after) == {"a": value, "b": ["x", value]}


def test_a_quoted_value_keeps_its_quotes() -> None:
    """A single-quoted string stays single-quoted, a double-quoted one double-quoted."""
    text = "a: 'x'\nb: \"y\"\n"
    assert edit_text(text, [Edit("/a", "z"), Edit("/b", "w")]) == "a: 'z'\nb: \"w\"\n"


def test_a_block_scalar_stays_a_block_scalar() -> None:
    """A multi-line string replacing a folded or literal block is written as a literal block."""
    after = edit_text(
        COMMENTED, [Edit("/spec/task_detail/sourceSelectedDatasource/note", "one\ntwo\n")]
    )
    assert "        note: |\n          one\n          two\n\n\n    columns:" in after
    assert read(after)["spec"]["task_detail"]["sourceSelectedDatasource"]["note"] == "one\ntwo\n"


def test_a_replaced_list_keeps_its_column_and_the_lines_around_it() -> None:
    """A list replaced whole (live's longer list) is written as a block list where it was."""
    columns = [
        {"name": "id", "type": "INT"},
        {"name": "total", "type": "DECIMAL"},
        {"name": "note", "type": "VARCHAR"},
    ]
    after = edit_text(COMMENTED, [Edit("/spec/task_detail/columns", columns)])
    assert (
        "    columns:\n"
        "    - name: id\n      type: INT\n"
        "    - name: total\n      type: DECIMAL\n"
        "    - name: note\n      type: VARCHAR\n"
        "    list:\n"
    ) in after
    assert read(after)["spec"]["task_detail"]["columns"] == columns


def test_a_replaced_flow_list_stays_a_flow_list() -> None:
    """A flow collection is replaced by a flow collection on its line."""
    after = edit_text(
        COMMENTED, [Edit("/spec/task_detail/sourceSelectedDatasource/flags", ["a", "b, c", "yes"])]
    )
    assert changed_lines(COMMENTED, after) == [
        ("        flags: [a, 'b', \"c\"]", "        flags: [a, 'b, c', 'yes']"),
    ]


def test_an_empty_flow_list_given_items_opens_as_a_block_list() -> None:
    """`[]` replaced by items becomes a block list below its key, laid out as the file's lists;
    with a comment after it, it stays on its line, as a flow list."""
    text = "a:\n  b: []\n  c: []  # none yet\nl:\n- x\n"
    after = edit_text(text, [Edit("/a/b", [{"k": "v"}, "w"]), Edit("/a/c", ["y"])])
    assert after == "a:\n  b:\n  - k: v\n  - w\n  c: [y]  # none yet\nl:\n- x\n"


@pytest.mark.parametrize(
    ("pointer", "gone", "left"),
    [
        ("/metadata/name", ["  name: orders_daily   # bound by name"], None),
        (
            "/spec/task_detail/columns/1",
            ["    - name: total   # cents", "      type: DECIMAL"],
            None,
        ),
        ("/spec/task_detail/list/0", ["      - x: 1", "        y: yes"], None),
        (
            "/spec/task/task_type",
            ['  task: { task_type: timing,  description: "orders, nightly" }'],
            '  task: { description: "orders, nightly" }',
        ),
        (
            "/spec/task_detail/sourceSelectedDatasource/bodyRaw/pageNum",
            ["        bodyRaw: {pageSize: '10', pageNum: \"1\"}"],
            "        bodyRaw: {pageSize: '10'}",
        ),
    ],
)
def test_a_removed_value_takes_its_lines_and_nothing_else(
    pointer: str, gone: list[str], left: str | None
) -> None:
    """A block entry goes with its own lines (its comment too); a flow entry with its comma."""
    after = edit_text(COMMENTED, [Edit(pointer, remove=True)])
    diff = [
        line
        for line in difflib.unified_diff(COMMENTED.splitlines(), after.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]
    assert diff == [f"-{line}" for line in gone] + ([] if left is None else [f"+{left}"])


def test_removing_every_entry_leaves_an_empty_collection() -> None:
    """A list whose items are all removed is `[]`, not null."""
    after = edit_text(
        COMMENTED,
        [
            Edit("/spec/task_detail/list/0", remove=True),
            Edit("/spec/task_detail/list/1", remove=True),
        ],
    )
    assert "    list: []\nignore:" in after
    assert read(after)["spec"]["task_detail"]["list"] == []


def test_several_removals_from_one_list_use_the_indexes_of_the_text() -> None:
    """Pointers name items as the text holds them, whatever else is removed."""
    text = "l:\n- 0\n- 1\n- 2\n- 3\n"
    after = edit_text(text, [Edit("/l/1", remove=True), Edit("/l/3", remove=True)])
    assert after == "l:\n- 0\n- 2\n"


@pytest.mark.parametrize(
    ("text", "edits", "message"),
    [
        ("a: 1\n", [Edit("/b", 2)], "/b: no value there"),
        ("a: {b: 1}\n", [Edit("/a", {}), Edit("/a/b", 2)], "two edits at or below the same value"),
        ("a: [1\n", [Edit("/a", 2)], "the text cannot be read"),
        ("a: &x 1\nb: *x\n", [Edit("/a", 2)], "YAML aliases are not allowed"),
        ("a: 1\n---\nb: 2\n", [Edit("/a", 2)], "holds 2 documents"),
        ("a: 1\n", [Edit("", 2)], "the whole document cannot be edited"),
        ("a: 1\n", [Edit("/a", float("nan"))], "not a JSON number"),
        # Where the item starts is hidden behind a comment: nothing is guessed.
        ("l:\n- # first\n  x: 1\n- x: 2\n", [Edit("/l/0", remove=True)], "dash cannot be found"),
    ],
)
def test_an_edit_that_cannot_be_made_faithfully_is_refused(
    text: str, edits: list[Edit], message: str
) -> None:
    """Nothing is returned to write, and the error says why."""
    with pytest.raises(YAMLEditError, match=message):
        edit_text(text, edits)


def test_no_edits_and_unchanged_values_leave_the_text_as_it_is() -> None:
    """An edit to the value already there writes nothing, whatever its spelling."""
    assert edit_text(COMMENTED, []) == COMMENTED
    same = [Edit("/spec/task_detail/list/1/y", 511), Edit("/metadata/name", "orders_daily")]
    assert edit_text(COMMENTED, same) == COMMENTED


def test_windows_line_ends_are_kept_and_used_for_new_lines() -> None:
    """A file written with CRLF stays CRLF, new lines included."""
    text = "a: 1\r\nl:\r\n- x\r\n"
    after = edit_text(text, [Edit("/l", ["x", "y"])])
    assert after == "a: 1\r\nl:\r\n- x\r\n- y\r\n"


# Properties: random documents, written as the project writes them or with flow collections,
# comments and blank lines added; random edits of what is there.

_STRINGS = st.one_of(
    st.sampled_from(TRICKY), st.text(max_size=8), st.sampled_from(["a\nb", "x\n", " ", "é"])
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _STRINGS,
)
_KEYS = st.one_of(
    st.sampled_from(["a", "b", "c", "yes", "0777", "x y", "é", "k:"]), st.text(max_size=4)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_KEYS, children, max_size=3)
    ),
    max_leaves=10,
)
_DOCUMENTS = st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4)


class _IndentedLists(yaml.SafeDumper):
    """Block lists indented under the key holding them, as some people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


@st.composite
def _texts(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A document and a text that reads as it."""
    document = draw(_DOCUMENTS)
    style = draw(st.sampled_from(["project", "flow leaves", "indented lists", "commented"]))
    if style == "flow leaves":
        text = yaml.safe_dump(document, default_flow_style=None, allow_unicode=True, width=200)
    elif style == "indented lists":
        text = yaml.dump(document, Dumper=_IndentedLists, allow_unicode=True, sort_keys=False)
    else:
        text = dump_document(document)
    if style == "commented":
        lines = text.splitlines(keepends=True)
        out = []
        for line in lines:
            if draw(st.integers(0, 3)) == 0:
                out.append(draw(st.sampled_from(["# note\n", "\n", "  # indented note\n"])))
            if (
                line.endswith("\n")
                and draw(st.booleans())
                and not line.rstrip().endswith(("|", ">", "|-", ">-"))
            ):
                line = line[:-1] + "  # why\n"
            out.append(line)
        text = "".join(out)
    try:
        assume(_same(read(text), document))
    except yaml.YAMLError:
        assume(False)
    return document, text


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*path, index)))
    return found


@st.composite
def _edits(draw: st.DrawFn, document: dict[str, Any]) -> list[tuple[tuple[Any, ...], Any]]:
    """Edits at paths none of which is at or below another: (path, new value or REMOVE)."""
    chosen: list[tuple[tuple[Any, ...], Any]] = []
    for path in draw(st.lists(st.sampled_from(_paths(document)), min_size=1, max_size=3)):
        if any(path[: len(p)] == p or p[: len(path)] == path for p, _ in chosen):
            continue
        chosen.append((path, draw(st.one_of(st.just(REMOVE), _VALUES))))
    return chosen


REMOVE = object()


def _expected(document: dict[str, Any], edits: list[tuple[tuple[Any, ...], Any]]) -> Any:
    result = copy.deepcopy(document)
    for path, value in edits:
        if value is not REMOVE:
            _holder(result, path)[path[-1]] = value
    # Deepest first, and the later items of a list before the earlier ones: each path still
    # names what it named in the document.
    removals = sorted(
        (p for p, v in edits if v is REMOVE),
        key=lambda p: (len(p), [(0, s, "") if isinstance(s, int) else (1, 0, s) for s in p]),
        reverse=True,
    )
    for path in removals:
        del _holder(result, path)[path[-1]]
    return result


def _holder(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


def _regions(text: str, paths: list[tuple[Any, ...]]) -> set[int]:
    """Old lines an edit at each path may touch, found by PyYAML's composer: from the line where
    its entry starts (key or item) to the line where the next entry starts, both included."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: set[int] = set()
    for path in paths:
        node = root
        for part in path[:-1]:
            node = _child(node, part)[1]
        entries = node.value
        index = next(
            i
            for i, entry in enumerate(entries)
            if (isinstance(node, yaml.MappingNode) and entry[0].value == str(path[-1]))
            or (isinstance(node, yaml.SequenceNode) and i == path[-1])
        )
        first = _start_line(node, index)
        last = _start_line(node, index + 1) if index + 1 < len(entries) else node.end_mark.line
        lines.update(range(first, last + 1))
        # An emptied container is written anew where it sits, from its key on.
        if len(path) > 1:
            parent = root
            for part in path[:-2]:
                parent = _child(parent, part)[1]
            index = _child(parent, path[-2])[0]
            lines.update(range(_start_line(parent, index), node.start_mark.line + 1))
    return lines


def _child(node: yaml.Node, part: Any) -> tuple[int, yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for index, (key, value) in enumerate(node.value):
            if key.value == str(part):
                return index, value
    return part, node.value[part]


def _start_line(node: yaml.Node, index: int) -> int:
    entry = node.value[index]
    start = entry[0] if isinstance(node, yaml.MappingNode) else entry
    return int(start.start_mark.line)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_edits_read_back_as_intended_and_touch_only_their_lines(data: st.DataObject) -> None:
    """Whatever the document and edits: the text reads as the edited document, and every line
    outside the edited entries is still there, unchanged and in order."""
    document, text = data.draw(_texts())
    edits = data.draw(_edits(document))
    expected = _expected(document, edits)
    after = edit_text(
        text,
        [
            Edit(format_pointer(path), remove=True)
            if value is REMOVE
            else Edit(format_pointer(path), value)
            for path, value in edits
        ],
    )
    assert _same(read(after), expected)
    touched = _regions(text, [path for path, _ in edits])
    new = after.splitlines(keepends=True)
    at = 0
    for run in _untouched_runs(text.splitlines(keepends=True), touched):
        found = next(i for i in range(at, len(new) - len(run) + 1) if new[i : i + len(run)] == run)
        at = found + len(run)


def _untouched_runs(lines: list[str], touched: set[int]) -> list[list[str]]:
    """The lines outside `touched`, in runs of consecutive ones."""
    runs: list[list[str]] = [[]]
    for number, line in enumerate(lines):
        if number in touched:
            runs.append([])
        else:
            runs[-1].append(line)
    return [run for run in runs if run]
