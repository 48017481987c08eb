"""Desired laid over live: what a correcting write sends."""

from __future__ import annotations

from fdi_drift.drift.ignore import compile_ignore
from fdi_drift.drift.overlay import overlay
from fdi_drift.drift.redaction import REDACTED

NO_RULES = compile_ignore([])


def resolve(reference: str) -> str:
    return {"db/password": "p4ss"}[reference]


def test_undeclared_fields_and_key_order_stay_as_live_has_them() -> None:
    """Only declared keys change; live's other keys and their order are kept."""
    live = {"b": 1, "a": {"x": 1, "y": 2}, "c": [1, 2]}
    laid = overlay(live, {"a": {"y": 3}, "d": "new"}, NO_RULES, resolve)
    assert laid.sent == {"b": 1, "a": {"x": 1, "y": 3}, "c": [1, 2], "d": "new"}
    assert list(laid.sent) == ["b", "a", "c", "d"]  # type: ignore[arg-type]
    assert live == {"b": 1, "a": {"x": 1, "y": 2}, "c": [1, 2]}  # not modified


def test_declared_lists_are_sent_whole_with_items_merged() -> None:
    """A declared list sets the length; each item merges with live's item at that position."""
    live = {"cols": [{"n": "a", "t": "INT"}, {"n": "b", "t": "INT"}, {"n": "c", "t": "INT"}]}
    laid = overlay(live, {"cols": [{"n": "a"}, {"n": "z"}]}, NO_RULES, resolve)
    assert laid.sent == {"cols": [{"n": "a", "t": "INT"}, {"n": "z", "t": "INT"}]}


def test_ignored_paths_keep_live_values() -> None:
    """An ignore rule wins over a declared value: the write leaves that field to live."""
    rules = compile_ignore(["/a/cursor"])
    laid = overlay({"a": {"cursor": 5, "v": 1}}, {"a": {"cursor": 0, "v": 2}}, rules, resolve)
    assert laid.sent == {"a": {"cursor": 5, "v": 2}}


def test_secret_refs_resolve_in_sent_and_hide_in_shown() -> None:
    """The request carries the secret; what is shown carries REDACTED; paths are reported."""
    laid = overlay(
        {"db": {"user": "u"}}, {"db": {"password": {"secretRef": "db/password"}}}, NO_RULES, resolve
    )
    assert laid.sent == {"db": {"user": "u", "password": "p4ss"}}
    assert laid.shown == {"db": {"user": "u", "password": REDACTED}}
    assert laid.secret_paths == (("db", "password"),)
