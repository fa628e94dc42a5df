"""Comparing records as JSON, and finding given records in a device's list."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .checks import REFRESHABLE, parse_rfc3339
from .client import ApiClient
from .exchange import Exchange
from .paging import get_page, page_count, walk_forward

IMMUTABLE = ("id", "device_id", "diagnostic_type", "created_at")
SEARCH_PAGES = 20
TAIL_PAGES = 3


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def first_difference(sent: Any, got: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ, as ``path: sent ... got ...``; None when equal."""
    if _is_number(sent) and _is_number(got):
        same = sent == got if isinstance(sent, int) and isinstance(got, int) else float(sent) == float(got)
        return None if same else f"{path}: sent {sent!r}, got {got!r}"
    if type(sent) is not type(got):
        return f"{path}: sent {sent!r} ({type(sent).__name__}), got {got!r} ({type(got).__name__})"
    if isinstance(sent, dict):
        if set(sent) != set(got):
            return f"{path}: keys differ: sent {sorted(sent)}, got {sorted(got)}"
        for key in sent:
            difference = first_difference(sent[key], got[key], f"{path}.{key}")
            if difference:
                return difference
        return None
    if isinstance(sent, list):
        if len(sent) != len(got):
            return f"{path}: sent {len(sent)} items, got {len(got)}"
        for index, (left, right) in enumerate(zip(sent, got, strict=True)):
            difference = first_difference(left, right, f"{path}[{index}]")
            if difference:
                return difference
        return None
    return None if sent == got else f"{path}: sent {sent!r}, got {got!r}"


def refreshed_since(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """True when ``after`` carries a later ``updated_at`` than ``before`` (someone refreshed it)."""
    earlier, later = parse_rfc3339(before.get("updated_at")), parse_rfc3339(after.get("updated_at"))
    return earlier is not None and later is not None and later > earlier


def record_difference(expected: dict[str, Any], listed: dict[str, Any]) -> str | None:
    """How a listed record differs from what an earlier response showed, allowing for later refreshes."""
    refreshed = refreshed_since(expected, listed)
    for key, value in expected.items():
        if refreshed and key in REFRESHABLE:
            continue
        if key not in listed:
            return f"{key} is missing"
        difference = first_difference(value, listed[key], key)
        if difference:
            return difference
    return None


@dataclass
class Search:
    """Records found in a device's list; ``complete`` when the whole list was seen."""

    first: Exchange
    found: dict[str, dict[str, Any]]
    complete: bool


def device_records(client: ApiClient, device_id: str) -> Search:
    """A device's records: the whole list, or (when it is too long to walk) its first and last pages."""
    walk = walk_forward(client, {"id": device_id, "limit": 100}, max_pages=SEARCH_PAGES)
    found = {str(record.get("id")): record for record in walk.records}
    if walk.complete:
        return Search(walk.first, found, complete=True)
    size = len(walk.first.results) or 1
    count = page_count(walk.pages[-1])
    last_offset = size * max(math.ceil(count / size) - 1, 0)
    for page in range(TAIL_PAGES):
        offset = last_offset - page * size
        if offset < 0:
            break
        exchange = get_page(client, {"id": device_id, "limit": 100, "offset": offset})
        found.update({str(record.get("id")): record for record in exchange.results
                      if isinstance(record, dict)})
    return Search(walk.first, found, complete=False)


def find_records(client: ApiClient, device_id: str, wanted: set[str]) -> Search:
    """The records of a device whose ids are ``wanted``."""
    search = device_records(client, device_id)
    search.found = {key: record for key, record in search.found.items() if key in wanted}
    return search


def find_tagged(client: ApiClient, device_id: str, prefix: str) -> Search:
    """The records of a device whose notes start with ``prefix``."""
    search = device_records(client, device_id)
    search.found = {key: record for key, record in search.found.items()
                    if isinstance(record.get("notes"), str) and record["notes"].startswith(prefix)}
    return search
