"""The nested JSON codec: parsing, canonical form, pointers, decode and exact re-encode."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fdi_drift.drift.document import (
    canonical_bytes,
    decode,
    decode_text,
    encode,
    fingerprint,
    is_masked,
    parse_json,
)
from fdi_drift.drift.pointer import format_pointer, parse_pointer
from fdi_drift.errors import DocumentError
from tests.drift.json_trees import (
    COMPACT,
    encoded_texts,
    leaf_paths,
    plain,
    raw,
    replace_at,
    scalars,
    trees,
)

BODY_RAW = ("task_detail", "sourceSelectedDatasource", "bodyRaw")


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: tuple[str | int, ...], new: Any) -> None:
    _at(value, path[:-1])[path[-1]] = new


def test_parse_json_names_the_document_when_the_text_is_not_json() -> None:
    """A parse failure raises DocumentError that says which document it was."""
    with pytest.raises(DocumentError, match=r"^task 42: not valid JSON: "):
        parse_json(b'{"task": ', what="task 42")


def test_parse_json_accepts_bytes_and_str() -> None:
    """Both bytes and text parse to the same value."""
    assert parse_json(b'{"a": [1, 2.5]}', what="x") == parse_json('{"a": [1, 2.5]}', what="x")


def test_canonical_bytes_sorts_keys_and_keeps_number_types_apart() -> None:
    """Key order does not matter, but 1, 1.0 and true are three different documents."""
    assert canonical_bytes({"b": 1, "a": [True]}) == b'{"a":[true],"b":1}'
    assert canonical_bytes({"b": 1, "a": 2}) == canonical_bytes({"a": 2, "b": 1})
    assert len({canonical_bytes(v) for v in (1, 1.0, True)}) == 3


def test_canonical_bytes_refuses_values_that_are_not_json() -> None:
    """A YAML date or a non-string key is not silently turned into JSON."""
    with pytest.raises(DocumentError):
        canonical_bytes({"day": datetime.date(2024, 1, 1)})  # type: ignore[dict-item]
    with pytest.raises(DocumentError):
        canonical_bytes({1: "x"})  # type: ignore[dict-item]


def test_fingerprint_is_short_stable_hex_of_the_canonical_form() -> None:
    """Equal documents in any key order share a digest; different number types do not."""
    digest = fingerprint({"a": 1, "b": [1, 2]})
    assert digest == fingerprint({"b": [1, 2], "a": 1})
    assert len(digest) == 32
    int(digest, 16)
    assert fingerprint({"a": 1}) != fingerprint({"a": 1.0})


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        ((), ""),
        (("task",), "/task"),
        (("a/b", "m~n", 0), "/a~1b/m~0n/0"),
        (("",), "/"),
        (("~1",), "/~01"),
    ],
)
def test_format_pointer_escapes_per_rfc_6901(path: tuple[str | int, ...], pointer: str) -> None:
    """Pointers escape "~" as "~0" and "/" as "~1"; the root is the empty string."""
    assert format_pointer(path) == pointer
    assert parse_pointer(pointer) == tuple(str(part) for part in path)


@pytest.mark.parametrize("pointer", ["task", "/a~", "/a~2b", "/~x"])
def test_parse_pointer_rejects_malformed_pointers(pointer: str) -> None:
    """A pointer without a leading "/" or with a bad "~" escape raises DocumentError."""
    with pytest.raises(DocumentError):
        parse_pointer(pointer)


@given(st.lists(st.one_of(st.text(max_size=5), st.integers(0, 99)), max_size=5))
def test_parse_pointer_inverts_format_pointer(path: list[str | int]) -> None:
    """Every formatted path parses back to its segments (indexes as decimal strings)."""
    assert parse_pointer(format_pointer(tuple(path))) == tuple(str(part) for part in path)


@pytest.mark.parametrize(
    ("value", "masked"),
    [("***", True), ("******", True), ("**", False), ("*** ", False), ("a***", False), (3, False)],
)
def test_is_masked_wants_three_or_more_asterisks_and_nothing_else(value: Any, masked: bool) -> None:
    """Only strings of three or more asterisks count as masked secrets."""
    assert is_masked(value) is masked


def test_decode_finds_task_detail_and_body_raw_in_seed_000(seed_000_text: str) -> None:
    """Seed 000 nests bodyRaw as JSON text inside the JSON text of task_detail."""
    document = decode_text(seed_000_text, what="seed 000")
    assert set(document.encoded) == {("task_detail",), BODY_RAW}
    assert _at(document.value, BODY_RAW) == {"pageNum": "1", "pageSize": "10"}
    assert document.encoded[BODY_RAW] == '{"pageNum":"1","pageSize":"10"}'
    assert document.encoded[("task_detail",)] == json.loads(seed_000_text)["task_detail"]


def test_decode_finds_task_detail_in_seed_002(seed_002_text: str) -> None:
    """Seed 002's only nested JSON text is task_detail itself."""
    document = decode_text(seed_002_text, what="seed 002")
    assert set(document.encoded) == {("task_detail",)}
    detail = _at(document.value, ("task_detail",))
    assert detail["sourceSelectedDatasource"]["sourceTable"] == "zhenghaotest.zh_sss01"


@pytest.mark.parametrize("name", ["seed_000_text", "seed_002_text"])
def test_seed_round_trip_is_byte_identical(name: str, request: pytest.FixtureRequest) -> None:
    """Decoding a seed and encoding it again gives the service's exact bytes back."""
    text: str = request.getfixturevalue(name)
    document = decode_text(text, what=name)
    again = encode(document.value, document.encoded)
    assert orjson.dumps(again) == orjson.dumps(orjson.loads(text))


def test_changing_page_size_rewrites_only_that_value_in_seed_000(seed_000_text: str) -> None:
    """A change deep inside bodyRaw re-encodes both levels in their compact style."""
    document = decode_text(seed_000_text, what="seed 000")
    changed = copy.deepcopy(document.value)
    _set(changed, (*BODY_RAW, "pageSize"), "20")
    again: Any = encode(changed, document.encoded)
    original = json.loads(seed_000_text)["task_detail"]
    expected = original.replace('\\"pageSize\\":\\"10\\"}', '\\"pageSize\\":\\"20\\"}')
    assert expected != original
    assert again["task_detail"] == expected


def test_decode_leaves_strings_that_only_look_like_json() -> None:
    """Scalars in JSON text, broken JSON and text not starting with a bracket stay strings."""
    value = {"a": "true", "b": "0", "c": "[abc]", "d": " {}", "e": "{", "f": '"x"', "g": ""}
    document = decode(value, what="x")
    assert document.value == value
    assert not document.encoded


def test_decode_handles_strings_three_levels_deep() -> None:
    """JSON text inside JSON text inside JSON text is decoded all the way down."""
    innermost = json.dumps({"k": 1})
    middle = json.dumps({"inner": innermost, "n": [innermost]})
    value = {"outer": json.dumps({"middle": middle})}
    document = decode(value, what="x")
    assert document.value == {"outer": {"middle": {"inner": {"k": 1}, "n": [{"k": 1}]}}}
    assert set(document.encoded) == {
        ("outer",),
        ("outer", "middle"),
        ("outer", "middle", "inner"),
        ("outer", "middle", "n", 0),
    }


def test_decode_does_not_modify_its_input() -> None:
    """The parsed document passed in is left as it was."""
    value = {"a": {"b": '{"c": 1}'}, "d": ["[1]"]}
    before = copy.deepcopy(value)
    decode(value, what="x")
    assert value == before


def test_decode_refuses_values_that_are_not_json() -> None:
    """A date in the tree raises DocumentError naming the document and the pointer."""
    with pytest.raises(DocumentError, match=r"spec: value at '/a/0' is a date"):
        decode({"a": [datetime.date(2024, 1, 1)]}, what="spec")  # type: ignore[list-item]


def test_encode_keeps_the_original_text_when_only_key_order_changed() -> None:
    """Equal content in another key order is not a change: the original text comes back."""
    text = '{"b": 1, "a": [1.0, true]}'
    document = decode({"x": text}, what="x")
    reordered = {"x": {"a": [1.0, True], "b": 1}}
    assert encode(reordered, document.encoded) == {"x": text}


@pytest.mark.parametrize(("old", "new"), [(1, 1.0), (1, True), (1.0, 1), (0, False)])
def test_encode_counts_a_number_type_change_as_a_change(old: Any, new: Any) -> None:
    """1, 1.0 and true differ, so the text is rewritten with the new value."""
    document = decode({"x": json.dumps({"v": old})}, what="x")
    assert encode({"x": {"v": new}}, document.encoded) == {"x": json.dumps({"v": new})}


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ('{"a":1,"b":"é"}', '{"a":2,"b":"é"}'),
        ('{"a": 1, "b": "é"}', '{"a": 2, "b": "é"}'),
        ('{"a": 1, "b": "\\u00e9"}', '{"a": 2, "b": "\\u00e9"}'),
        ('{\n  "a": 1,\n  "b": "x"\n}', '{\n  "a": 2,\n  "b": "x"\n}'),
        ('{"a":1,"b":"x"}\n', '{"a":2,"b":"x"}\n'),
    ],
)
def test_encode_writes_changes_in_the_original_style(original: str, expected: str) -> None:
    """Separators, indentation, ASCII escaping and trailing whitespace follow the original."""
    document = decode({"x": original}, what="x")
    changed = copy.deepcopy(document.value)
    _set(changed, ("x", "a"), 2)
    assert encode(changed, document.encoded) == {"x": expected}


def test_encode_leaves_a_place_that_no_longer_holds_a_container() -> None:
    """When the decoded value became a scalar, it is written as that scalar."""
    document = decode({"x": '{"a":1}'}, what="x")
    assert encode({"x": "plain"}, document.encoded) == {"x": "plain"}


@given(trees())
def test_decode_then_encode_gives_the_input_byte_for_byte(tree: Any) -> None:
    """Round trip: every nested string comes back as exactly its original text."""
    sent = raw(tree)
    document = decode(sent, what="x")
    assert document.encoded == encoded_texts(tree)
    assert canonical_bytes(document.value) == canonical_bytes(plain(tree))
    assert orjson.dumps(encode(document.value, document.encoded)) == orjson.dumps(sent)


@given(trees(), st.data())
def test_changing_one_leaf_rewrites_only_the_strings_around_it(
    tree: Any, data: st.DataObject
) -> None:
    """After one leaf changes, decoding the re-encoded tree gives the change and nothing else."""
    document = decode(raw(tree), what="x")
    paths = leaf_paths(tree)
    assume(paths and paths != [()])
    leaf = data.draw(st.sampled_from(paths))
    assume(leaf)
    new = data.draw(scalars)
    assume(canonical_bytes(new) != canonical_bytes(_at(document.value, leaf)))
    changed = replace_at(plain(tree), leaf, new)
    again = decode(encode(changed, document.encoded), what="x")
    assert canonical_bytes(again.value) == canonical_bytes(changed)
    assert set(again.encoded) == set(document.encoded)
    for path, text in document.encoded.items():
        if leaf[: len(path)] == path:
            assert again.encoded[path] != text
        else:
            assert again.encoded[path] == text


@given(trees(styles=(COMPACT,)), st.data())
def test_changed_compact_strings_match_json_dumps(tree: Any, data: st.DataObject) -> None:
    """Strings written compactly with ensure_ascii=False are rewritten exactly as json.dumps."""
    document = decode(raw(tree), what="x")
    paths = [path for path in leaf_paths(tree) if path]
    assume(paths)
    leaf = data.draw(st.sampled_from(paths))
    new = data.draw(scalars)
    changed_tree = replace_at(tree, leaf, new)
    again = encode(plain(changed_tree), document.encoded)
    assert orjson.dumps(again) == orjson.dumps(raw(changed_tree))
