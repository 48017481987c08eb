"""Hypothesis strategies for JSON trees in which some containers travel as JSON text.

A generated tree is plain JSON except for `Encoded` nodes: containers that the service sends as a
string of JSON text, written in a given style, possibly holding more `Encoded` nodes inside.
`raw()` gives what the service sends, `plain()` what a reader sees once everything is decoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from fdi_drift.drift.model import Path
from fdi_drift.drift.pointer import escape

COMPACT = ((",", ":"), None, False)
STYLES = (
    COMPACT,
    ((",", ":"), None, True),
    ((", ", ": "), None, False),
    ((", ", ": "), None, True),
    ((",", ": "), 2, False),
)


@dataclass(frozen=True)
class Encoded:
    """A container carried as JSON text written with json.dumps in one style."""

    inner: Any
    separators: tuple[str, str] = (",", ":")
    indent: int | None = None
    ensure_ascii: bool = False


def _text(value: Any, node: Encoded) -> str:
    return json.dumps(
        value, separators=node.separators, indent=node.indent, ensure_ascii=node.ensure_ascii
    )


def raw(tree: Any) -> Any:
    """The tree as the service sends it: every Encoded node serialized to its text."""
    if isinstance(tree, Encoded):
        return _text(raw(tree.inner), tree)
    if isinstance(tree, dict):
        return {key: raw(item) for key, item in tree.items()}
    if isinstance(tree, list):
        return [raw(item) for item in tree]
    return tree


def plain(tree: Any) -> Any:
    """The tree as a reader sees it once every nested string is decoded."""
    if isinstance(tree, Encoded):
        return plain(tree.inner)
    if isinstance(tree, dict):
        return {key: plain(item) for key, item in tree.items()}
    if isinstance(tree, list):
        return [plain(item) for item in tree]
    return tree


def encoded_texts(tree: Any, path: Path = ()) -> dict[Path, str]:
    """Path (in the plain tree) of every Encoded node, and the text it travels as."""
    found: dict[Path, str] = {}
    if isinstance(tree, Encoded):
        found[path] = raw(tree)
        found.update(encoded_texts(tree.inner, path))
    elif isinstance(tree, dict):
        for key, item in tree.items():
            found.update(encoded_texts(item, (*path, key)))
    elif isinstance(tree, list):
        for index, item in enumerate(tree):
            found.update(encoded_texts(item, (*path, index)))
    return found


def leaf_paths(tree: Any, path: Path = ()) -> list[Path]:
    """Paths (in the plain tree) of every scalar."""
    if isinstance(tree, Encoded):
        return leaf_paths(tree.inner, path)
    if isinstance(tree, dict):
        return [p for key, item in tree.items() for p in leaf_paths(item, (*path, key))]
    if isinstance(tree, list):
        return [p for index, item in enumerate(tree) for p in leaf_paths(item, (*path, index))]
    return [path]


def replace_at(tree: Any, path: Path, value: Any) -> Any:
    """A copy of `tree` (Encoded nodes kept) with the value at plain `path` replaced."""
    if isinstance(tree, Encoded):
        return Encoded(
            replace_at(tree.inner, path, value), tree.separators, tree.indent, tree.ensure_ascii
        )
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        return {
            key: replace_at(item, rest, value) if key == head else item
            for key, item in tree.items()
        }
    return [
        replace_at(item, rest, value) if index == head else item for index, item in enumerate(tree)
    ]


def _plain_text(text: str) -> bool:
    # A leaf string that looks like JSON would be decoded too and blur what the test means.
    return not text.startswith(("{", "["))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8).filter(_plain_text),
)
keys = st.text(max_size=6)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    )


def _maybe_encoded(
    children: st.SearchStrategy[Any], styles: tuple[tuple[Any, Any, bool], ...]
) -> st.SearchStrategy[Any]:
    containers = _containers(children)
    encoded = st.builds(
        lambda inner, style: Encoded(inner, style[0], style[1], style[2]),
        containers,
        st.sampled_from(styles),
    )
    return st.one_of(containers, encoded)


def trees(styles: tuple[tuple[Any, Any, bool], ...] = STYLES) -> st.SearchStrategy[Any]:
    """JSON trees whose containers are sometimes Encoded, several levels deep."""
    return st.recursive(scalars, lambda children: _maybe_encoded(children, styles), max_leaves=25)


# Small alphabets so that independently drawn live and desired trees share keys and values.
small_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 1.0, 2.5, "a", "b", "", "******", "*"]),
)
small_keys = st.sampled_from(["a", "b", "c", "d/e", "~", "__x"])


def small_trees() -> st.SearchStrategy[Any]:
    """Small trees over few keys and values, so that two draws overlap often."""
    return st.recursive(
        small_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(small_keys, children, max_size=4),
        ),
        max_leaves=12,
    )


def small_live_trees() -> st.SearchStrategy[Any]:
    """Like small_trees, but some containers travel as compact JSON text, as live ones do."""
    return st.recursive(
        small_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(small_keys, children, max_size=4),
            st.dictionaries(small_keys, children, max_size=4).map(
                lambda inner: json.dumps(inner, separators=(",", ":"))
            ),
        ),
        max_leaves=12,
    )


def patterns_for(tree: Any) -> st.SearchStrategy[str]:
    """Ignore patterns built from the tree's own segments, with wildcards mixed in."""
    segments = sorted({str(part) for path in leaf_paths(tree) for part in path}) or ["a"]
    segment = st.one_of(st.sampled_from(segments), st.just("*"), st.just("**"))
    escaped = segment.map(lambda s: s if s in ("*", "**") else escape(s))
    return st.lists(escaped, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
