"""Walking pages through ``next`` and ``previous``, and the claims about pages and walks."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from . import claims
from .checks import Expect, claim
from .client import ApiClient
from .exchange import Exchange

#: No walk follows more links than this, whatever ``count`` says.
MAX_WALK_PAGES = 40
WALK_ATTEMPTS = 3
#: The contract sets no minimum page cap; no sane server caps pages below this, so a limit up to it
#: must be met exactly (when enough records remain).
SMALL_LIMIT = 2


LISTED = Expect(200, rule=claims.LIST_ANSWERS_200, why="a valid listing request")
REFRESHED = Expect({200, 500}, rule=claims.UPDATE_STATUS_IS_200_OR_500,
                   why="update_status=true on a known device (500: the helpers are misconfigured)")


def page_count(exchange: Exchange) -> int:
    count = exchange.payload.get("count") if isinstance(exchange.payload, dict) else None
    return count if isinstance(count, int) else -1


def record_ids(exchange: Exchange) -> list[Any]:
    return [record.get("id") for record in exchange.results if isinstance(record, dict)]


@dataclass
class Walk:
    """The pages met following ``next`` from a first page."""

    pages: list[Exchange]
    complete: bool  # the last page's next was null

    @property
    def first(self) -> Exchange:
        return self.pages[0]

    @property
    def ids(self) -> list[Any]:
        return [record_id for page in self.pages for record_id in record_ids(page)]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for page in self.pages for record in page.results if isinstance(record, dict)]

    @property
    def counts(self) -> set[int]:
        return {page_count(page) for page in self.pages}


def get_page(client: ApiClient, params: dict[str, Any] | None = None, *, url: str | None = None) -> Exchange:
    """One page, which must be a 200."""
    return client.get(params, url=url, expect=LISTED)


def walk_forward(client: ApiClient, params: dict[str, Any], *, max_pages: int = MAX_WALK_PAGES) -> Walk:
    """Follow ``next`` from the first page for at most as many pages as ``count`` needs (plus slack)."""
    pages = [get_page(client, params)]
    visited = {pages[0].url}
    first_size = len(pages[0].results)
    needed = math.ceil(page_count(pages[0]) / first_size) if first_size else 1
    bound = min(max_pages, needed + 2)
    while pages[-1].payload.get("next") and len(pages) < bound:
        link = pages[-1].payload["next"]
        next_links_progress(pages[-1], link in visited)
        visited.add(link)
        pages.append(get_page(client, url=link))
    return Walk(pages=pages, complete=pages[-1].payload.get("next") is None)


def walk_backward(client: ApiClient, last: Exchange, *, max_pages: int) -> list[Exchange]:
    """Follow ``previous`` from ``last``; the pages met, nearest first."""
    pages: list[Exchange] = []
    current = last
    while current.payload.get("previous") and len(pages) < max_pages:
        current = get_page(client, url=current.payload["previous"])
        pages.append(current)
    return pages


def stable_walk(client: ApiClient, params: dict[str, Any], *, exclusive: bool,
                max_pages: int = MAX_WALK_PAGES) -> Walk:
    """A walk during which ``count`` did not change; retried when another client may have written."""
    for _ in range(WALK_ATTEMPTS):
        walk = walk_forward(client, params, max_pages=max_pages)
        if exclusive:
            count_stable_while_walking(walk.first, walk)
        if len(walk.counts) == 1:
            return walk
    pytest.skip(f"count kept changing over {WALK_ATTEMPTS} walks of {params}: other clients are writing")


@claim
def next_links_progress(exchange: Exchange, seen_before: bool) -> str | None:
    if seen_before:
        return f"next = {exchange.payload.get('next')!r} leads back to a page already visited"
    return None


@claim
def count_stable_while_walking(exchange: Exchange, walk: Walk) -> str | None:
    counts = [page_count(page) for page in walk.pages]
    if len(set(counts)) > 1:
        return f"count changed while walking though nobody else writes to this server: {counts}"
    return None


@claim
def walk_visits_each_record_once(exchange: Exchange, walk: Walk) -> str | None:
    count = page_count(walk.first)
    ids = walk.ids
    repeated = [record_id for record_id, seen in Counter(ids).items() if seen > 1]
    if repeated:
        return f"the walk met these ids more than once: {repeated[:10]}"
    if not walk.complete:
        return f"next was still set after {len(walk.pages)} pages holding {len(ids)} of {count} records"
    if len(ids) != count:
        return f"following next visited {len(ids)} records over {len(walk.pages)} pages, but count = {count}"
    return None


@claim
def previous_walks_back_to_first_page(
    exchange: Exchange, forward: Walk, backward: list[Exchange]
) -> str | None:
    if len(forward.pages) > 1 and not backward:
        return f"the last of {len(forward.pages)} pages reached through next has previous = null"
    if not backward:
        return None  # one page: nothing to walk back over
    if len(backward) != len(forward.pages) - 1:
        return (f"following previous from the last page met {len(backward)} pages, "
                f"following next met {len(forward.pages) - 1}")
    back_ids = [record_id for page in reversed(backward) for record_id in record_ids(page)]
    forward_ids = [record_id for page in forward.pages[:-1] for record_id in record_ids(page)]
    if back_ids != forward_ids:
        return "the pages met following previous hold other records than those met following next"
    if backward[-1].payload.get("previous") is not None:
        return "the first page reached through previous still has a previous link"
    return None


def _link_query(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))


@claim
def page_links_keep_query(exchange: Exchange, sent: dict[str, Any]) -> str | None:
    for key in ("next", "previous"):
        link = exchange.payload.get(key)
        if not isinstance(link, str):
            continue
        query = _link_query(link)
        for name, value in sent.items():
            if name == "offset":
                continue
            kept = query.get(name)
            if name == "limit":
                if kept is None or not kept.isdigit() or int(kept) > int(value):
                    return f"{key} = {link!r} does not keep limit={value}"
            elif kept is None or (kept.lower() if name == "update_status" else kept) != str(value):
                return f"{key} = {link!r} does not keep the query parameter {name}={value}"
    return None


@claim
def first_page_has_no_previous(exchange: Exchange) -> str | None:
    if exchange.payload.get("previous") is not None:
        return f"the first page (offset 0) has previous = {exchange.payload['previous']!r}, not null"
    return None


@claim
def previous_set_past_the_first_page(exchange: Exchange, offset: int) -> str | None:
    if exchange.payload.get("previous") is None:
        return f"offset {offset} > 0 leaves records before this page (count {page_count(exchange)}), " \
               "yet previous is null"
    return None


@claim
def next_is_null_exactly_at_the_end(exchange: Exchange, offset: int) -> str | None:
    count, size = page_count(exchange), len(exchange.results)
    at_end = offset + size >= count
    link = exchange.payload.get("next")
    if at_end and link is not None:
        return f"offset {offset} + {size} results reach count {count}, yet next = {link!r}"
    if not at_end and link is None:
        return f"offset {offset} + {size} results fall short of count {count}, yet next is null"
    return None


@claim
def results_within_limit(exchange: Exchange, limit: int) -> str | None:
    if len(exchange.results) > limit:
        return f"limit={limit} but the page holds {len(exchange.results)} results"
    return None


@claim
def page_size_consistent_with_count(exchange: Exchange, offset: int) -> str | None:
    count, size = page_count(exchange), len(exchange.results)
    if size > max(count - offset, 0):
        return f"offset {offset} with count {count} leaves {max(count - offset, 0)} records, page has {size}"
    if offset < count and size == 0:
        return f"offset {offset} is below count {count}, yet the page is empty"
    return None


@claim
def small_limit_fills_page(exchange: Exchange, limit: int, offset: int) -> str | None:
    wanted = min(limit, max(page_count(exchange) - offset, 0))
    if len(exchange.results) != wanted:
        return (f"limit={limit}, offset={offset}, count={page_count(exchange)}: "
                f"expected {wanted} results, got {len(exchange.results)}")
    return None


@claim
def offset_past_end_is_empty(exchange: Exchange, offset: int) -> str | None:
    if exchange.results:
        return (f"offset {offset} is past count {page_count(exchange)}, "
                f"yet {len(exchange.results)} results came")
    return None


@claim
def results_match_device_filter(exchange: Exchange, device_id: str) -> str | None:
    strays = [record.get("device_id") for record in exchange.results
              if isinstance(record, dict) and record.get("device_id") != device_id]
    if strays:
        return f"id={device_id!r} returned records of other devices: {strays[:5]}"
    return None


def check_page(exchange: Exchange, sent: dict[str, Any]) -> None:
    """The claims any one page answers, given the query that asked for it."""
    offset = int(sent.get("offset", 0))
    if offset == 0:
        first_page_has_no_previous(exchange)
    elif offset <= page_count(exchange):
        # Past the end is left open: null there is as defensible as a link back.
        previous_set_past_the_first_page(exchange, offset)
    next_is_null_exactly_at_the_end(exchange, offset)
    page_size_consistent_with_count(exchange, offset)
    page_links_keep_query(exchange, sent)
    if "limit" in sent:
        results_within_limit(exchange, int(sent["limit"]))
        if int(sent["limit"]) <= SMALL_LIMIT:
            small_limit_fills_page(exchange, int(sent["limit"]), offset)
    if offset > page_count(exchange):
        offset_past_end_is_empty(exchange, offset)
    if "id" in sent:
        results_match_device_filter(exchange, str(sent["id"]))
