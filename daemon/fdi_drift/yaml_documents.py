"""YAML read as JSON documents, and written for people.

Reading has two paths with one meaning. The fast one (yaml-rs, a Rust parser, about 10x faster
than PyYAML's C loader) takes only text whose every plain scalar the two YAML versions read alike:
`_DISPUTED` finds any that YAML 1.1 (PyYAML) and YAML 1.2 (yaml-rs) could read differently (`yes`,
`0777`, `1e3`, `1:20`...), and anything else the fast path does not judge (flow collections,
anchors, aliases, tags, directives, several documents, tabs, unusual characters); such text, and
any text the fast parser refuses, takes the PyYAML path, whose reading is the reference. So a file
reads the same on both paths, and every problem is reported by PyYAML, with its line.

The PyYAML path: the C loader when present, safe constructors only, dates left as
strings (JSON has none), and three things refused with the line where they are: duplicate keys
(PyYAML would silently keep the last), aliases and merge keys (an alias bomb expands a few
hundred bytes into a billion values). Aliases are caught as the second construction of a node,
so they are never expanded and good text is parsed once. Mappings are built from PyYAML's queue
of pending constructors, not by recursion, so with the C loader nesting is bounded only by
libyaml (1,000 levels); the pure-Python composer recurses, and its RecursionError is the
caller's to turn into a problem.
Text that cannot be read raises UnreadableYAMLError (a yaml.YAMLError): InvalidYAMLError when it
is not YAML, RefusedYAMLError (DuplicateKeyError, AliasError, MergeKeyError) when it is refused;
either way `message` and `line` say what and where. Lines of paths of keys are found by composing
the text again, only when a problem needs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
import yaml_rs
from yaml.constructor import ConstructorError

from fdi_drift.yaml_block import block_text, printable


def load_documents(text: str) -> list[Any]:
    """Every document in the text; UnreadableYAMLError (a yaml.YAMLError) when it is not valid."""
    fast = fast_document(text)
    if fast is not None:
        return [fast]
    return _pyyaml_documents(text)


# A plain scalar starts a line (after its indentation and any `- `), or follows `: `. One that the
# fast path cannot vouch for: a YAML 1.1 boolean word, a number other than a plain decimal integer
# or decimal fraction, `<<`, `=`, `.inf`/`.nan`, or a node property, alias, directive, complex
# key or flow collection. Quoted scalars never match: their first character is a quote.
_SCALAR_END = r"[ ]*(?:$|:[ ]|:$|[ ]\#)"
_AGREED_NUMBER = r"-?(?:0|[1-9][0-9]{0,99})(?:\.[0-9]{1,100})?" + f"(?={_SCALAR_END})"
# Anything either version may read as a number: radix prefixes, underscores (yaml-rs drops them
# anywhere, even leading), exponents, sexagesimal. Wider than either reading, never narrower.
_NUMBER = (
    r"[-+]?(?:0[xX][0-9a-fA-F_]*|(?=[._]*[0-9]|_)[0-9_.:eEoObBxX+-]*)"
    f"(?={_SCALAR_END})"
)
_DISPUTED_TOKEN = (
    r"(?=[-+._0-9!&*%@`?:\[{<=]|(?i:yes|no|on|off)[ :\n])"  # a cheap first test
    r"(?:"
    rf"(?i:yes|no|on|off){_SCALAR_END}"
    rf"|(?!{_AGREED_NUMBER}){_NUMBER}"
    r"|[-+]?\.(?i:inf|nan)"
    rf"|(?:<<|=){_SCALAR_END}"
    r"|[!&*%@`?:]"
    r"|\[(?!\][ ]*(?:$|[ ]\#))|\{(?!\}[ ]*(?:$|[ ]\#))"  # but an empty one as a value
    r"|---|\.\.\."
    r")"
)
# Three searches, each starting at a literal, cost a tenth of one that starts at `^` or `:`.
_DISPUTED = (
    re.compile(r"[ ]*+(?:-[ ]++)*+" + _DISPUTED_TOKEN, re.MULTILINE).match,  # the first line
    re.compile(r"\n[ ]*+(?:-[ ]++)*+" + _DISPUTED_TOKEN, re.MULTILINE).search,
    re.compile(r":[ ]++" + _DISPUTED_TOKEN, re.MULTILINE).search,
)


def fast_document(text: str) -> Any:
    """The text's one document by the fast path, or None when PyYAML must read it.

    What it returns holds only dicts, lists, strings, ints, finite floats, booleans and None.
    """
    # Characters the two parsers may treat differently are not printable: tabs, carriage
    # returns, other C0/C1 controls (NEL and the Unicode line and paragraph separators are line
    # breaks in YAML 1.1 only), byte order marks, surrogates and non-characters.
    if not printable(text) or any(found(text) for found in _DISPUTED):
        return None
    try:
        document = yaml_rs.loads(text, parse_datetime=False)
    except (yaml_rs.YAMLDecodeError, RecursionError, ValueError):
        return None  # PyYAML says what is wrong, and where
    return document  # None for an empty or null document: PyYAML tells which


def _pyyaml_documents(text: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_Loader))
    except _NodeConstructedTwiceError:
        raise _alias_error(text) from None
    except RefusedYAMLError:
        raise
    except yaml.YAMLError as error:
        # Only an alias can make a node its own descendant.
        if (
            isinstance(error, ConstructorError)
            and error.problem == "found unconstructable recursive node"
        ):
            raise _alias_error(text) from None
        raise InvalidYAMLError(error) from error


def dump_document(document: dict[str, Any]) -> str:
    """YAML as people read it: block style, key order kept, unicode as is.

    `yaml_block` writes it when every value is of a form it writes (nearly every exported
    document); else yaml-rs (25x faster than PyYAML's representer) when what it wrote reads back
    as exactly `document` (types, values and key order); otherwise PyYAML does.
    """
    return dump_and_read(document)[0]


@dataclass(frozen=True, slots=True)
class Reading:
    """What `load_documents` read from a text, and what `fast_document` read (None: PyYAML).

    For a text `yaml_block` wrote, both are the document written: both readers read it so.
    """

    documents: list[Any]
    fast: Any


def dump_and_read(document: dict[str, Any]) -> tuple[str, Reading | None]:
    """The text `dump_document` writes, and the reading that showed it reads back exactly.

    None when PyYAML wrote the text: nothing read it, so a caller needing it reads the text.
    """
    block = block_text(document)
    if block is not None:  # read alike by both readers as `document`, by how it is written
        return block, Reading([document], document)
    fast = _fast_dump(document)
    if fast is not None:
        return fast
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text, None


_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _fast_dump(document: dict[str, Any]) -> tuple[str, Reading] | None:
    try:
        text = yaml_rs.dumps(document).removeprefix("---\n").rstrip("\n") + "\n"
        expected = orjson.dumps(document)
        fast = fast_document(text)
        documents = [fast] if fast is not None else _pyyaml_documents(text)
        return (text, Reading(documents, fast)) if orjson.dumps(documents[0]) == expected else None
    except (yaml_rs.YAMLEncodeError, yaml.YAMLError, TypeError, ValueError, IndexError):
        return None  # a value yaml-rs cannot write faithfully, or orjson cannot compare


class UnreadableYAMLError(yaml.YAMLError):
    """Text no document is read from: `message` says why in one line, `line` (1-based) where."""

    def __init__(self, message: str, line: int | None, shown: str | None = None) -> None:
        super().__init__(message if shown is None else shown)
        self.message = message
        self.line = line


class InvalidYAMLError(UnreadableYAMLError):
    """Text that is not YAML; str() is PyYAML's account of it, with its context."""

    def __init__(self, error: yaml.YAMLError) -> None:
        mark = getattr(error, "problem_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        line = None if mark is None else mark.line + 1
        super().__init__(f"not valid YAML: {reason}", line, str(error))


class RefusedYAMLError(UnreadableYAMLError):
    """Valid YAML that desired state does not allow."""


class DuplicateKeyError(RefusedYAMLError):
    """A mapping holds the same key twice (PyYAML would silently keep the last)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(f"duplicate key {key!r}", line)
        self.key = key


class AliasError(RefusedYAMLError):
    """An alias (`*name`): refused, so that no document can expand beyond its text."""


class MergeKeyError(RefusedYAMLError):
    """A merge key (`<<`): refused with aliases, which it exists to combine with."""


class _NodeConstructedTwiceError(Exception):
    """A node was reached a second time, which only an alias does."""


class _ConstructedOnce(dict[yaml.Node, Any]):
    """PyYAML's cache of constructed nodes, which it reads only when an alias reaches one again.

    Refusing that read stops an alias at no cost to good text: writes and `in` stay the C
    dict's own, where overriding `construct_object` would add a Python call per node.
    """

    def __getitem__(self, node: yaml.Node) -> Any:
        raise _NodeConstructedTwiceError


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe YAML; dates stay strings, and duplicate keys, aliases and merge keys are errors."""

    def construct_document(self, node: yaml.Node) -> Any:
        self.constructed_objects = _ConstructedOnce()  # PyYAML resets it to {} per document
        return super().construct_document(node)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    # A generator, like PyYAML's own: the mapping exists before its values, which PyYAML then
    # builds from a queue instead of recursing once per level of nesting.
    mapping: dict[Any, Any] = {}
    yield mapping
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            line = key_node.start_mark.line + 1
            raise MergeKeyError("YAML merge keys (<<) are not allowed in desired state", line)
        if key_node.tag == _VALUE_TAG:  # a bare `=` key, as PyYAML's flatten_mapping reads it
            key_node.tag = _STR_TAG
        key = loader.construct_object(key_node)
        try:
            duplicate = key in mapping
        except TypeError:  # a mapping or a sequence used as a key
            raise ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found unhashable key",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise DuplicateKeyError(key, key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _alias_error(text: str) -> AliasError:
    # Events only: the alias is named and placed without being expanded.
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            return AliasError(
                f"YAML aliases are not allowed in desired state (*{event.anchor})",
                None if mark is None else mark.line + 1,
            )
    return AliasError("YAML aliases are not allowed in desired state", None)


class LineIndex:
    """Finds the line of a path of keys in YAML text; composed only when a problem needs it."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None

    def line_at(self, path: Iterable[str]) -> int | None:
        """The line of the deepest key of `path` found; list indexes are decimal strings."""
        if self._root is None:
            try:
                self._root = yaml.compose(self._text, Loader=_Loader)
            except (yaml.YAMLError, RecursionError):  # RecursionError: the pure-Python composer
                return None
        node = self._root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for segment in path:
            child = _child(node, segment)
            if child is None:
                break
            key_line, node = child
            line = key_line
        return line


def _child(node: yaml.Node, segment: str) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == segment:
                return key_node.start_mark.line + 1, value_node
    elif (
        isinstance(node, yaml.SequenceNode) and segment.isdigit() and int(segment) < len(node.value)
    ):
        item = node.value[int(segment)]
        return item.start_mark.line + 1, item
    return None
