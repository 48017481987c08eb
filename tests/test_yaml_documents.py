"""The fast YAML path reads every text exactly as the PyYAML path does, or leaves it to PyYAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fdi_drift.yaml_documents import (
    DuplicateKeyError,
    Reading,
    _fast_dump,
    _pyyaml_documents,
    dump_and_read,
    dump_document,
    fast_document,
    load_documents,
)

DESIRED_STATE = Path(__file__).parents[1] / "desired_state"

# Plain scalars that YAML 1.1 and 1.2 read differently, that look alike, or that neither reads as
# a string; quoted and unquoted.
TRICKY = [
    *("yes", "No", "ON", "off", "y", "n", "true", "False", "NULL", "~", "null", "tRue"),
    *("0", "00", "07", "08", "0777", "0o17", "0x1f", "0X1F", "0b11", "0B11", "0b7c1e"),
    *("1_0", "_1", "_0", "1__", "1e3", "1E3", "1.0e3", "1.5e+3", "1.5e-3", "10e-3", "0e0"),
    *("-1.5", "+1", "+1.5", ".5", "-.5", "+.5", "1.", ".", "-", "+", "-0", "-0.0", "00.5"),
    *("1:20", "01:00", "12:30:45", "1:2.5", ".inf", "-.Inf", "+.INF", ".nan", ".NaN"),
    *("NaN", "inf", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "=", "<<", ":", "1.5.2"),
    *("30969b205e8f4392a25fb321112d1753", "a b", "a #b", "a#b", "1,000", "1 2", "x:y", "é"),
    *("9" * 30, "-" + "9" * 20, "1_000.5", "1.50", "[]", "{}", "-a", "v1", "123abc"),
    *("'yes'", '"0777"', "''", '""', "'a''b'", '"\\u00e9\\x41\\/"', "!!str 12", "&a 1"),
]


def outcome(read: object, text: str) -> tuple[object, ...]:
    try:
        return ("read", repr(read(text)))  # type: ignore[operator]
    except Exception as error:
        return ("error", type(error).__name__, getattr(error, "line", None))


@pytest.mark.parametrize("token", TRICKY)
@pytest.mark.parametrize("form", ["k: {}\n", "- {}\n", "{}: v\n", "a:\n  - b: {}\n    c: 1\n"])
def test_each_tricky_scalar_reads_as_pyyaml_reads_it(token: str, form: str) -> None:
    text = form.format(token)
    assert outcome(load_documents, text) == outcome(_pyyaml_documents, text)


def test_a_yaml_11_reading_goes_to_pyyaml_and_keeps_its_meaning() -> None:
    """The fast parser reads these as strings or other numbers; the 1.1 meaning is kept."""
    text = "a: yes\nb: 0777\nc: 1:20\nd: 1e3\ne: _1\n"
    assert fast_document(text) is None
    assert load_documents(text) == [{"a": True, "b": 511, "c": 80, "d": "1e3", "e": "_1"}]


def test_exported_and_sample_files_take_the_fast_path_and_read_alike() -> None:
    """What `export` writes, and the shipped samples, are read fast: the speed is real."""
    document = {
        "apiVersion": "fdi-drift/v1",
        "kind": "FdiTask",
        "metadata": {"name": "orders", "id": "0b7c1e5a3d9f4a2b8c6e1f0d2a4b6c81"},
        "spec": {"port": "3306", "on": "yes", "n": 12, "f": 1.5, "list": [None, True, "0777"]},
    }
    texts = [dump_document(document)]
    texts += [p.read_text() for p in sorted(DESIRED_STATE.rglob("*.yaml"))]
    fast = [text for text in texts if fast_document(text) is not None]
    assert len(fast) >= len(texts) - 2  # the samples may use a 1.1 scalar or two on purpose
    assert fast_document(texts[0]) == document
    for text in texts:
        assert load_documents(text) == _pyyaml_documents(text)


def test_refusals_come_from_pyyaml_with_their_line() -> None:
    with pytest.raises(DuplicateKeyError) as raised:
        load_documents("a: 1\nb: 2\na: 3\n")
    assert raised.value.line == 3


@pytest.mark.parametrize(
    "char",
    [chr(code) for code in range(0x80) if chr(code) not in "\n'"]
    + ["\x85", "\xa0", "\u2028", "\ufeff", "é", "中"],
)
def test_the_fast_path_takes_text_only_where_every_character_is_printable(char: str) -> None:
    """Any character str.isprintable refuses (tab, CR, DEL, NEL...) sends the text to PyYAML."""
    text = f"a: 'x{char}y'\nb: 1\n"
    assert (fast_document(text) is not None) == char.isprintable()


_KEYS = st.sampled_from(["a", "b", "k", "yes", "1", "0777", "'x'", "on", "c d", "null", "_1"])
_WORDS = st.text(alphabet="0123456789abexo._+-: #'", min_size=1, max_size=6).map(
    lambda word: word.strip() or "a"
)
_SCALARS = st.one_of(st.sampled_from(TRICKY), _WORDS)


@st.composite
def _block(draw: st.DrawFn, indent: int = 0, depth: int = 0) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    mapping = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        lead = f"{draw(_KEYS)}:" if mapping else "-"
        if depth < 3 and draw(st.integers(0, 4)) == 0:
            lines.append(pad + lead)
            lines.extend(draw(_block(indent + 2, depth + 1)))
            continue
        style = draw(st.integers(0, 6))
        value = draw(_SCALARS)
        if style == 0:
            lines += [f"{pad}{lead} |", f"{pad}  {value}", f"{pad}  {draw(_SCALARS)}"]
        elif style == 1:
            lines += [f"{pad}{lead} {value} # {draw(_SCALARS)}"]
        elif style == 2:
            lines += [f"{pad}{lead} {value}", f"{pad}  {draw(_SCALARS)}"]
        elif style == 3:
            lines += [f"{pad}{lead} '{value}", f"{pad} {draw(_SCALARS)}'"]
        else:
            lines.append(f"{pad}{lead} {value}")
    return lines


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_block())
def test_any_block_yaml_reads_as_pyyaml_reads_it(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    assert outcome(load_documents, text) == outcome(_pyyaml_documents, text)


def exact(value: object) -> str:
    """Equality that tells 1, 1.0 and True apart, and key order."""
    return json.dumps(value, ensure_ascii=False)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(TRICKY)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(TRICKY), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1, max_size=8), _JSON, min_size=1, max_size=4))
def test_what_is_dumped_reads_back_exactly(document: dict[str, object]) -> None:
    """Whichever writer wrote it, a dumped document reads back with its types and key order."""
    (read,) = load_documents(dump_document(document))
    assert exact(read) == exact(document)


def test_the_fast_writer_writes_exported_documents_and_hands_over_the_rest() -> None:
    plain = {"a": "yes", "b": "0777", "c": [1, 1.5, True, None], "d": {"e": "1e3"}}
    text = dump_document(plain)
    assert _fast_dump(plain) == (text, Reading([plain], plain))
    assert fast_document(text) == plain  # and the reader's fast path reads it back
    for awkward in ({"wide": 2**70}, {"kept": "a\n\n"}, {"tab": "a\tb"}):
        text = dump_document(awkward)
        assert exact(load_documents(text)[0]) == exact(awkward)


def test_the_reading_of_a_dumped_text_is_the_one_that_proved_it() -> None:
    """yaml-rs's text comes with its reading, fast or PyYAML's; PyYAML's text with none."""
    for document, fast in (({"a": "x\n"}, True), ({"ip": "100.85.221.77", "b": "\n"}, False)):
        text, reading = dump_and_read(document)  # a line break: not `yaml_block`'s to write
        assert (text, reading) == _fast_dump(document)
        assert reading == Reading([document], document if fast else None)
        assert text == dump_document(document) and load_documents(text) == [document]
    wide = {"wide": 2**70}
    assert dump_and_read(wide) == (dump_document(wide), None)
