"""YAML read as JSON documents, and written for people.

Reading: PyYAML's C loader when present (5-10x faster), safe constructors only, dates left as
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

from collections.abc import Iterable, Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError


def load_documents(text: str) -> list[Any]:
    """Every document in the text; UnreadableYAMLError (a yaml.YAMLError) when it is not valid."""
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
    """YAML as people read it: block style, key order kept, unicode as is."""
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
