"""What `block_text` writes reads back as exactly the document, in both YAML readers.

The writer is trusted without reading back what it wrote, so these tests are its proof: every
string a plain scalar could be confused with, and random documents over the characters that
matter, read back with their types and key order by PyYAML (YAML 1.1, the reference reading)
and by yaml-rs (YAML 1.2, the fast reading), and the fast path takes the text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fdi_drift import yaml_block
from fdi_drift.yaml_block import block_text
from fdi_drift.yaml_documents import (
    Reading,
    _pyyaml_documents,
    dump_and_read,
    fast_document,
    load_documents,
)
from tests.test_yaml_documents import TRICKY, exact

DESIRED_STATE = Path(__file__).parents[1] / "desired_state"


def assert_reads_back(document: dict[str, object], text: str) -> None:
    assert exact(_pyyaml_documents(text)) == exact([document])
    assert exact(yaml_rs.loads(text, parse_datetime=False)) == exact(document)
    assert exact(load_documents(text)) == exact([document])


# Strings near the edges of the plain form: numbers of either YAML version, their words, the
# indicators, spaces where they change a reading, and characters the readers treat apart.
EDGES = [
    *TRICKY,
    *("_", "__", "_id", "_1a", "_0x1", "0xZZ", "0_x1", "0x_1", "1__2", "1.2.3", "0.", "1.e5"),
    *("12e", "1e-5", "1-2", "2001-12-14", "3 days", "a -b", "a - b", "- a", "a:", "a: b", "#a"),
    *("a #b", "a b ", " a", "a  b", "/", "//", "/a/b", "(a)", "a,b", "18,2", "TIMESTAMP(6)"),
    *("?a", "? a", "|", ">", "%a", "@a", "`a", "!a", "&a", "*a", "a*", "a&", "a'b", 'a"b'),
    *("中文", "数据 同步", "é", "Ça va", "a\u3000", "\u00a0", "a\x85b", "a\u2028b", "\ufeffa"),
    *("", " ", "  ", "Yes", "YES", "True", "TRUE", "NULL", "Null", "nULL", "Off", "ON", "y"),
    *("1", "-1", "01", "0o7", "0b1", "0x1", "1_000", "1.5", "-1.5", "9" * 101, "1 2", "e"),
]


@pytest.mark.parametrize("value", EDGES)
def test_each_edge_string_reads_back_as_itself_as_a_key_a_value_and_an_item(value: str) -> None:
    document = {"value": value, value: "key", "items": [value, [value], {value: value}]}
    text = block_text(document)
    if text is None:  # left to the writers that read back: only what is not printable
        assert not all(char.isprintable() for char in value)
        return
    assert_reads_back(document, text)


def test_plain_where_both_readers_agree_and_quoted_elsewhere() -> None:
    document = {
        "name": "orders-sync",
        "id": "30969b205e8f4392a25fb321112d1753",
        "app": "73965e3c-72b2-40c3-8335-2154ebd6c23a",
        "type": "TIMESTAMP(6)",
        "port": "3306",
        "on": "yes",
        "zone": "GMT+08:00",
        "empty": "",
        "description": "数据同步",
    }
    assert block_text(document) == (
        "name: orders-sync\n"
        "id: 30969b205e8f4392a25fb321112d1753\n"
        "app: 73965e3c-72b2-40c3-8335-2154ebd6c23a\n"
        "type: TIMESTAMP(6)\n"
        'port: "3306"\n'
        '"on": "yes"\n'
        'zone: "GMT+08:00"\n'
        'empty: ""\n'
        "description: 数据同步\n"
    )


def test_nesting_is_written_as_yaml_rs_writes_it() -> None:
    """The same layout as the other writer: exports written by either look alike."""
    document = {
        "spec": {
            "params": [{"keys": "pageNum", "value": "0"}, {"keys": "size", "value": 10}],
            "grid": [[1, 2], [], [{"a": None}], {}],
            "flags": {"on": True, "ratio": 0.5, "none": None, "empty": {}, "list": []},
        }
    }
    text = block_text(document)
    assert text == yaml_rs.dumps(document).removeprefix("---\n").rstrip("\n") + "\n"
    assert_reads_back(document, text)


@pytest.mark.parametrize(
    "document",
    [
        {"sql": "select 1\nfrom dual"},  # a line break reads better as a literal block
        {"cr": "a\rb"},
        {"wide": 2**63},
        {"narrow": -(2**63) - 1},
        {"float": 1e16},
        {"float": 1e-7},
        {"k" * 1001: 1},
        {"nel": "a\x85b"},
        {"separator": "a\u2028b"},
    ],
    ids=repr,
)
def test_what_it_does_not_write_goes_to_a_writer_that_reads_back(
    document: dict[str, object],
) -> None:
    assert block_text(document) is None
    text, _ = dump_and_read(document)
    assert exact(load_documents(text)) == exact([document])


@pytest.mark.parametrize(
    "document", [{"surrogate": "\ud800"}, {"tuple": (1, 2)}, {"key": {1: "a"}}], ids=repr
)
def test_what_is_not_json_is_not_written(document: dict[str, object]) -> None:
    assert block_text(document) is None


def test_control_characters_are_written_escaped() -> None:
    document = {"tab": "a\tb", "bell": "a\x07b", "quote": 'say "hi" \\o/'}
    text = block_text(document)
    assert text == 'tab: "a\\tb"\nbell: "a\\u0007b"\nquote: "say \\"hi\\" \\\\o/"\n'
    assert_reads_back(document, text)


def test_a_written_text_comes_with_its_reading_and_takes_the_fast_path() -> None:
    document = {"apiVersion": "fdi-drift/v1", "spec": {"ip": "100.85.221.77", "n": [1, 2.5]}}
    text, reading = dump_and_read(document)
    assert text == block_text(document)
    assert reading == Reading([document], document)
    assert exact(fast_document(text)) == exact(document)


_STRINGS = st.one_of(
    st.sampled_from(EDGES),
    st.text(alphabet="01_.-eEoxbaf9 /(),:#'\"yesnoul", max_size=8),
    st.text(max_size=6),
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _STRINGS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_STRINGS, children, max_size=4)
    ),
    max_leaves=24,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_STRINGS, _JSON, min_size=1, max_size=5))
def test_any_document_it_writes_reads_back_exactly_in_both_readers(
    document: dict[str, object],
) -> None:
    text = block_text(document)
    if text is not None:
        assert_reads_back(document, text)


def test_the_samples_and_their_exports_are_written_here() -> None:
    """Every shipped sample is written by this writer, and reads back exactly."""
    for path in sorted(DESIRED_STATE.rglob("*.yaml")):
        (document,) = load_documents(path.read_text())
        if any("\n" in text for text in _strings(document)):
            continue  # a literal block: the other writer's
        text = block_text(document)
        assert text is not None, path
        assert_reads_back(document, text)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_only_short_strings_are_remembered() -> None:
    """The texts kept between calls are bounded: long strings are written afresh each time."""
    short, long = "s" * 64, "l" * 65
    assert block_text({"short": short, "long": long}) == f"short: {short}\nlong: {long}\n"
    assert short in yaml_block._texts
    assert long not in yaml_block._texts
