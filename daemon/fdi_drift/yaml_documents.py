"""YAML read as JSON documents, and written for people.

Reading: PyYAML's C loader when present (5-10x faster), safe constructors only, dates left as
strings (JSON has none) and duplicate keys refused instead of silently keeping the last.
Lines of JSON pointers are found by composing the text again, only when a problem needs one.
"""

from __future__ import annotations

from typing import Any

import yaml


def load_documents(text: str) -> list[Any]:
    """Every document in the text; DuplicateKeyError or yaml.YAMLError when it is not valid."""
    return list(yaml.load_all(text, Loader=_Loader))


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


class DuplicateKeyError(yaml.YAMLError):
    """A mapping holds the same key twice (PyYAML would silently keep the last)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.line = line


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe YAML; dates stay strings (JSON has none) and duplicate keys are errors."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise DuplicateKeyError(key, key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


class LineIndex:
    """Finds the line of a JSON pointer in YAML text; composed only when a problem needs it."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None

    def line_of(self, pointer: str) -> int | None:
        if self._root is None:
            try:
                self._root = yaml.compose(self._text, Loader=_Loader)
            except yaml.YAMLError:
                return None
        node = self._root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for raw in pointer.split("/")[1:] if pointer else []:
            segment = raw.replace("~1", "/").replace("~0", "~")
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
