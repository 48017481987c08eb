"""Tests for literal-preserving edits of JSON text, nested JSON strings included."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fdi_drift.drift.document import decode_text, encode
from fdi_drift.drift.json_text import UnfaithfulEditError, loads, rewrite, same
from fdi_drift.errors import DocumentError

Path = tuple[str | int, ...]

# Number spellings a serializer would never produce, each with the value a reader gets.
NUMBERS = (
    ("1.50", 1.5),
    ("1E3", 1000.0),
    ("2e-05", 2e-05),
    ("-0", 0),
    ("1.0", 1.0),
    ("123456789012345678901234567890", 123456789012345678901234567890),
    ("-98765432109876543210", -98765432109876543210),
    ("18446744073709551615", 18446744073709551615),
    ("7", 7),
)


@dataclass
class Leaf:
    """A scalar exactly as written."""

    text: str
    value: Any


@dataclass
class Obj:
    """An object; `members` may repeat a key (readers keep the last)."""

    members: list[tuple[str, Any]]
    spaced: bool = False


@dataclass
class Arr:
    """An array."""

    items: list[Any]
    spaced: bool = False


@dataclass
class Nested:
    """A string literal holding JSON text, escaped in a style of its own."""

    inner: Obj | Arr
    ensure_ascii: bool = False
    slash: bool = False  # write "/" as "\\/"


@dataclass
class Rendered:
    """Text, and for each leaf path the chain of spans from this text down to the leaf."""

    text: str
    spans: dict[Path, list[tuple[int, int]]] = field(default_factory=dict)


def escape(text: str, *, ensure_ascii: bool, slash: bool) -> str:
    literal = json.dumps(text, ensure_ascii=ensure_ascii)
    return literal.replace("/", "\\/") if slash else literal


def render(node: Any, path: Path = ()) -> Rendered:
    """The text of a node, with the span chain of every leaf below it."""
    if isinstance(node, Leaf):
        return Rendered(node.text, {path: [(0, len(node.text))]})
    if isinstance(node, Nested):
        inner = render(node.inner, path)
        literal = escape(inner.text, ensure_ascii=node.ensure_ascii, slash=node.slash)
        spans = {p: [(0, len(literal)), *chain] for p, chain in inner.spans.items()}
        return Rendered(literal, spans)
    comma, colon = (", ", ": ") if node.spaced else (",", ":")
    out = Rendered("")
    pieces: list[str] = []
    at = 1
    entries = (
        [(key, child, (*path, key)) for key, child in node.members]
        if isinstance(node, Obj)
        else [(None, child, (*path, index)) for index, child in enumerate(node.items)]
    )
    for number, (key, child, child_path) in enumerate(entries):
        piece = comma if number else ""
        if key is not None:
            piece += json.dumps(key) + colon
        done = render(child, child_path)
        start = at + len(piece)
        # A later duplicate key wins, as readers do: what the earlier one held is unreachable.
        for shadowed in [p for p in out.spans if p[: len(child_path)] == child_path]:
            del out.spans[shadowed]
        for leaf_path, chain in done.spans.items():
            first = (chain[0][0] + start, chain[0][1] + start)
            out.spans[leaf_path] = [first, *chain[1:]]
        piece += done.text
        pieces.append(piece)
        at += len(piece)
    opener, closer = ("{", "}") if isinstance(node, Obj) else ("[", "]")
    out.text = opener + "".join(pieces) + closer
    return out


def plain(node: Any) -> Any:
    """What a reader sees once every nested string is decoded."""
    if isinstance(node, Leaf):
        return node.value
    if isinstance(node, Nested):
        return plain(node.inner)
    if isinstance(node, Obj):
        return {key: plain(child) for key, child in node.members}
    return [plain(child) for child in node.items]


def ambiguous(node: Any, path: Path) -> bool:
    """Whether the leaf at `path` sits under a key its object holds more than once."""
    for part in path:
        if isinstance(node, Nested):
            node = node.inner
        if isinstance(node, Obj):
            keys = [key for key, _ in node.members]
            if keys.count(str(part)) > 1:
                return True
            node = [child for key, child in node.members if key == part][-1]
        else:
            node = node.items[int(part)]
    return False


def strings() -> st.SearchStrategy[Leaf]:
    text = st.text(alphabet=st.sampled_from('ab/é"\\\n\t中 '), max_size=6)
    return st.builds(
        lambda s, ascii_, slash: Leaf(escape(s, ensure_ascii=ascii_, slash=slash), s),
        text,
        st.booleans(),
        st.booleans(),
    )


LEAVES = st.one_of(
    st.sampled_from([Leaf(text, value) for text, value in NUMBERS]),
    strings(),
    st.sampled_from([Leaf("true", True), Leaf("false", False), Leaf("null", None)]),
)
KEYS = st.sampled_from(["a", "b", "pageNum", "x/y", "é"])


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Obj | Arr]:
    return st.one_of(
        st.builds(Obj, st.lists(st.tuples(KEYS, children), min_size=1, max_size=4), st.booleans()),
        st.builds(Arr, st.lists(children, min_size=1, max_size=3), st.booleans()),
    )


def trees() -> st.SearchStrategy[Obj]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        nested = st.builds(Nested, containers(children), st.booleans(), st.booleans())
        return st.one_of(containers(children), nested)

    values = st.recursive(LEAVES, extend, max_leaves=12)
    return st.builds(Obj, st.lists(st.tuples(KEYS, values), min_size=1, max_size=5), st.booleans())


def places(node: Any, path: Path = ()) -> list[Path]:
    """Paths of the nested JSON strings below `node`."""
    found: list[Path] = []
    if isinstance(node, Nested):
        return [path, *places(node.inner, path)]
    if isinstance(node, Obj):
        for key, child in dict(node.members).items():  # the last of duplicate keys
            found.extend(places(child, (*path, key)))
    elif isinstance(node, Arr):
        for index, child in enumerate(node.items):
            found.extend(places(child, (*path, index)))
    return found


def set_at(value: Any, path: Path, new: Any) -> Any:
    """A copy of `value` with the leaf at `path` replaced."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: set_at(value[head], rest, new)}
    copy = list(value)
    copy[int(head)] = set_at(copy[int(head)], rest, new)
    return copy


def get_at(value: Any, path: Path) -> Any:
    for part in path:
        value = value[part]
    return value


def assert_only_span_changed(
    before: str, after: str, chain: list[tuple[int, int]], new: Any
) -> None:
    """`after` is `before` with only the chain's span rewritten, level by level down to the leaf."""
    start, end = chain[0]
    tail = len(before) - end
    assert after[:start] == before[:start], "text before the changed value moved"
    assert after[len(after) - tail :] == before[end:], "text after the changed value moved"
    middle = after[start : len(after) - tail]
    if len(chain) == 1:
        assert same(loads(middle, max_depth=100), new), (middle, new)
        return
    # A nested string: its decoded text obeys the same rule one level down.
    assert_only_span_changed(json.loads(before[start:end]), json.loads(middle), chain[1:], new)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), st.data())
def test_changing_one_leaf_changes_exactly_that_leafs_text(tree: Obj, data: st.DataObject) -> None:
    """Exotic literals, escapes and duplicate keys all survive an edit of one other leaf."""
    rendered = render(tree)
    text = rendered.text
    document = decode_text(text, what="task_detail", path=("task_detail",))
    assert same(document.value, plain(tree))
    path = data.draw(st.sampled_from(sorted(rendered.spans, key=repr)))
    old = get_at(document.value, path)
    new = data.draw(
        st.one_of(st.integers(-5, 5), st.text(alphabet='xyé/"', max_size=4), st.just(1.25))
    )
    if same(old, new) or (isinstance(old, float) and isinstance(new, float) and old == new):
        return
    changed = {"task": {}, "task_detail": set_at(document.value, path, new)}
    encoded = {("task_detail",): text, **document.encoded}
    if ambiguous(tree, path):
        with pytest.raises(UnfaithfulEditError, match="the key appears"):
            encode(changed, encoded)
        return
    after = encode(changed, encoded)
    assert isinstance(after, dict)
    written = after["task_detail"]
    assert isinstance(written, str)
    assert_only_span_changed(text, written, rendered.spans[path], new)
    # And the whole text reads as the declared change and nothing else.
    assert same(decode_text(written, what="after").value, changed["task_detail"])


@settings(max_examples=100, deadline=None)
@given(trees())
def test_an_unchanged_document_comes_back_byte_for_byte(tree: Obj) -> None:
    """With nothing changed, every text (nested ones too) is returned exactly as it was."""
    text = render(tree).text
    document = decode_text(text, what="task_detail", path=("task_detail",))
    encoded = {("task_detail",): text, **document.encoded}
    assert sorted(document.encoded, key=repr) == sorted(
        (("task_detail", *p) for p in places(tree)), key=repr
    )
    after = encode({"task_detail": document.value}, encoded)
    assert after == {"task_detail": text}


def test_wide_integers_and_number_spellings_survive_a_description_change() -> None:
    """The case that shipped broken: a sibling's `1.50`, `1E3` and 30-digit integer stay as is."""
    text = (
        '{"description":"old","rate":1.50,"limit":1E3,'
        '"id":123456789012345678901234567890,"id":123456789012345678901234567891}'
    )
    document = decode_text(text, what="d")
    assert document.value["id"] == 123456789012345678901234567891  # type: ignore[index]
    new = {**document.value, "description": "new"}  # type: ignore[dict-item]
    assert rewrite(text, new, places=(), base=(), max_depth=100) == text.replace("old", "new")


def test_changing_a_duplicated_key_is_refused() -> None:
    """A key written twice cannot be changed faithfully: readers disagree on which one counts."""
    text = '{"a":1,"a":2,"b":3}'
    with pytest.raises(UnfaithfulEditError, match="/a: the key appears 2 times"):
        rewrite(text, {"a": 5, "b": 3}, places=(), base=(), max_depth=100)
    # Changing another key next to the duplicate is fine, and keeps both copies.
    assert (
        rewrite(text, {"a": 2, "b": 4}, places=(), base=(), max_depth=100) == '{"a":1,"a":2,"b":4}'
    )


@pytest.mark.parametrize(
    ("original", "value", "expected"),
    [
        ('{"a":1}', {"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
        ('{"a": 1, "c": 2}', {"a": 1, "c": 2, "b": "é"}, '{"a": 1, "c": 2, "b": "é"}'),
        (
            '{"a":"\\u00e9","c":1}',
            {"a": "é", "c": 1, "b": "é"},
            '{"a":"\\u00e9","c":1,"b":"\\u00e9"}',
        ),
        ("[1, 2, 3]", [1, 2], "[1, 2]"),
        ("[1, 2, 3]", [1, 5, 3, 4], "[1, 5, 3, 4]"),
        ('{"a":1,"b":2,"c":3}', {"a": 1, "c": 3}, '{"a":1,"c":3}'),
        ('{"a":1,"b":2,"c":3}', {"a": 1, "b": 2}, '{"a":1,"b":2}'),
        ("{}", {"a": 1}, '{"a":1}'),
        (
            '{\n  "a": {\n    "x": 1\n  }\n}',
            {"a": {"x": 1, "y": [2]}},
            '{\n  "a": {\n    "x": 1,\n    "y": [\n      2\n    ]\n  }\n}',
        ),
    ],
)
def test_added_and_removed_entries_follow_their_siblings(
    original: str, value: Any, expected: str
) -> None:
    """New members take their siblings' separators and indentation; removals take one comma."""
    assert rewrite(original, value, places=(), base=(), max_depth=100) == expected


def test_a_nested_string_keeps_its_escapes_outside_the_change() -> None:
    """Inside a changed JSON string, untouched characters keep escapes no serializer writes."""
    inner = '{"url":"http:\\/\\/x","n":1.50,"page":"1"}'
    outer = '{"bodyRaw":' + json.dumps(inner).replace("/", "\\/") + "}"
    document = decode_text(outer, what="o", path=("d",))
    changed = {"d": {"bodyRaw": {**document.value["bodyRaw"], "page": "2"}}}  # type: ignore[index]
    after = encode(changed, {("d",): outer, **document.encoded})
    assert after == {"d": outer.replace('\\"page\\":\\"1\\"', '\\"page\\":\\"2\\"')}


def test_parsing_refuses_nesting_deeper_than_the_limit() -> None:
    """The syntax tree stops at the depth limit with an error, never a RecursionError."""
    text = "[" * 150 + "]" * 150
    with pytest.raises(DocumentError, match="nested deeper than 100 levels"):
        loads(text, max_depth=100)
    assert loads("[" * 100 + "]" * 100, max_depth=100) is not None


@pytest.mark.parametrize(
    "text", ['{"a":1,}', '{"a" 1}', "[1 2]", '{"a":1} x', "01", "1E400", '"\x01"']
)
def test_text_that_is_not_json_is_a_document_error(text: str) -> None:
    """Malformed text is refused with a DocumentError naming the position."""
    with pytest.raises(DocumentError, match="not JSON at character"):
        loads(text, max_depth=100)
