"""The claims about ``update_status=true``: a refresh is stored as returned, and changes only what it owns.

Like ``checks`` and ``invariants``, these are plain functions of exchanges and records: the contract
suite calls them after its own requests, the validation proxy after the traffic it sees.
"""

from __future__ import annotations

from typing import Any

from .checks import REFRESHABLE, claim
from .exchange import Exchange
from .records import IMMUTABLE, Search, first_difference, record_difference


@claim
def refresh_is_what_later_gets_show(exchange: Exchange, search: Search) -> str | None:
    for record in exchange.results:
        listed = search.found.get(record.get("id"))
        if listed is None:
            if search.complete:
                return f"record {record.get('id')!r}, returned by the refresh, is missing from a later GET"
            continue
        difference = record_difference(record, listed)
        if difference:
            return (f"record {record.get('id')!r}: a later GET differs from what update_status=true returned "
                    f"without a later updated_at: {difference}")
    return None


@claim
def refresh_keeps_what_it_does_not_own(
    exchange: Exchange, created: dict[str, Any], sent: dict[str, Any], listed: dict[str, Any] | None
) -> str | None:
    record_id = created.get("id")
    if listed is None:
        return f"record {record_id!r} is no longer listed for its device after update_status=true"
    for key in IMMUTABLE:
        difference = first_difference(created.get(key), listed.get(key), key)
        if difference:
            return f"record {record_id!r}, after update_status=true: {difference}"
    for key, value in sent.items():
        if key in REFRESHABLE:
            continue
        if key not in listed:
            return f"record {record_id!r} lost {key} (sent on POST) after update_status=true"
        difference = first_difference(value, listed[key], key)
        if difference:
            return f"record {record_id!r}, after update_status=true: {difference}"
    return None
