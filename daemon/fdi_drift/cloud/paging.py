"""Reading a paged list to the end, or failing: never a short list.

A listing that contradicts itself (a page shorter than due before the total, a total that
changes between pages, an id seen twice) is read again once from the start, since a resource
created or deleted meanwhile shifts the offsets; a second contradiction raises
MalformedResponseError saying what happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fdi_drift.cloud.client import ApiClient
from fdi_drift.errors import MalformedResponseError

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Paging:
    """How one API pages: the keys of the total, the item list and an item's id; its limit."""

    total: str
    items: str
    item_id: str
    max_limit: int


@dataclass(frozen=True, slots=True)
class _Inconsistent:
    """A listing that contradicted itself between pages; `reason` says how."""

    reason: str


async def list_all(
    api: ApiClient, path: str, paging: Paging, *, page_size: int
) -> list[dict[str, Any]]:
    """Every item of `path`, offset by offset, each an object with a string id."""
    label = f"GET {path}"
    limit = max(1, min(page_size, paging.max_limit))
    first = await _list_once(api, path, label, limit, paging)
    if not isinstance(first, _Inconsistent):
        return first
    _log.warning("%s: %s; listing again from the start", label, first.reason)
    second = await _list_once(api, path, label, limit, paging)
    if not isinstance(second, _Inconsistent):
        return second
    raise MalformedResponseError(
        f"the list was inconsistent twice: {first.reason}; then {second.reason}", request=label
    )


async def _list_once(
    api: ApiClient, path: str, label: str, limit: int, paging: Paging
) -> list[dict[str, Any]] | _Inconsistent:
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    total: int | None = None
    while True:
        offset = len(entries)
        answer = await api.request("GET", path, params={"offset": offset, "limit": limit})
        page_total, items = _page(answer, label, offset, limit, paging)
        if total is None:
            total = page_total
        elif page_total != total:
            return _Inconsistent(f"total changed from {total} to {page_total} at offset {offset}")
        expected = min(limit, total - offset)
        if len(items) != expected:
            return _Inconsistent(
                f"the page at offset {offset} held {len(items)} items where "
                f"{expected} were due (total {total})"
            )
        for item in items:
            item_id = item[paging.item_id]
            if item_id in seen:
                return _Inconsistent(f"{item_id[:64]!r} listed twice (offset {offset})")
            seen.add(item_id)
            entries.append(item)
        if len(entries) >= total:
            return entries


def _page(
    answer: object, label: str, offset: int, limit: int, paging: Paging
) -> tuple[int, list[dict[str, Any]]]:
    """(total, items) of one page, its shape checked; an absent item list is empty."""
    where = f"the page at offset {offset}"
    if not isinstance(answer, dict):
        raise MalformedResponseError(f"{where} is {kind_of(answer)}, not an object", request=label)
    total = answer.get(paging.total)
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise MalformedResponseError(
            f"{where} has a `{paging.total}` that is not a count ({kind_of(total)})",
            request=label,
        )
    items = answer.get(paging.items)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise MalformedResponseError(
            f"{where} has `{paging.items}` {kind_of(items)}, not a list", request=label
        )
    if len(items) > limit:
        raise MalformedResponseError(
            f"{where} held {len(items)} items, more than the limit {limit}", request=label
        )
    for index, entry in enumerate(items):
        if not isinstance(entry, dict) or not isinstance(entry.get(paging.item_id), str):
            raise MalformedResponseError(
                f"list entry {offset + index} is not an object with a string {paging.item_id}",
                request=label,
            )
    return total, items


def kind_of(value: object) -> str:
    """How a JSON value is named in messages (never the value itself, which may be large)."""
    if value is None:
        return "null/absent"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
