"""The coverage phase: deterministic cases built from ``schemas/`` and the contract, run before any random
example. Valid bodies must be created and echoed exactly; invalid ones refused with their documented status;
the query's edges (limit 0, 1, the page size, far above any cap; offset at and past the end) answer 200."""

from __future__ import annotations

from typing import Any

import pytest

from . import claims
from .checks import Expect, claim
from .client import ApiClient
from .coverage_cases import invalid_bodies, valid_bodies
from .discovery import Device, Inventory
from .exchange import Exchange
from .paging import check_page, get_page, page_count
from .posting import create, refusal_marker, refuse, sweep
from .runconfig import RunConfig, WriteBudget
from .strategies import BadBody

pytestmark = pytest.mark.coverage_phase

#: Far above any page cap a server may have; still an ordinary integer.
HUGE_LIMIT = 10**6
COVERED = sorted(valid_bodies("device", "tag"))


@pytest.mark.posts
@pytest.mark.writes
@pytest.mark.parametrize("case", COVERED)
def test_valid_case_is_created_and_echoed_exactly(case: str, api: ApiClient, run: RunConfig, target: Device,
                                                  write_budget: WriteBudget) -> None:
    if not write_budget.reserve(1):
        pytest.skip("the write budget (--max-writes) is spent")
    create(api, valid_bodies(target.id, run.tag)[case], target)


@pytest.mark.posts
def test_invalid_cases_are_refused_and_create_nothing(api: ApiClient, run: RunConfig, target: Device) -> None:
    marker = refusal_marker(run)
    for refusal in invalid_bodies(target.id, marker):
        refuse(api, run, BadBody(content=refusal.content, expected=refusal.expected, rule=refusal.rule,
                                 why=refusal.why, fields=(refusal.field,)))
    sweep(api, target, marker)


def _edge(why: str) -> Expect:
    return Expect(200, rule=claims.LIMIT_EDGES_ANSWER_200, why=why)


@claim
def limit_edges_answer_200(exchange: Exchange, counts: tuple[int, int], default_size: int) -> str | None:
    count, low, high = page_count(exchange), min(counts), max(counts)
    if not low <= count <= high:
        return f"count = {count} with {exchange.query}, but {low} without limit"
    limit = int(exchange.query.get("limit", "0"))
    if limit == 0 and len(exchange.results) not in (0, default_size):
        return (f"limit=0 gave {len(exchange.results)} results: neither an empty page nor the default page "
                f"({default_size})")
    if limit > 0 and count > 0 and not exchange.results:
        return f"limit={limit} gave an empty first page though count = {count}"
    return None


def _filters(inventory: Inventory) -> list[dict[str, Any]]:
    busy = [{"id": device.id} for device in inventory.devices if device.count > 0]
    return [{}, *busy[:1]]


def test_limit_edges(api: ApiClient, inventory: Inventory) -> None:
    # limit=0 is left open by the contract: an empty page (count only) or the default page both pass.
    for query in _filters(inventory):
        default = get_page(api, query)
        page_size = len(default.results)
        for limit in (0, 1, max(page_size, 1), HUGE_LIMIT):
            params = {**query, "limit": limit}
            exchange = api.get(params, expect=_edge(f"limit={limit} is a non-negative integer"))
            after = page_count(get_page(api, {**query, "limit": 1}))
            limit_edges_answer_200(exchange, (page_count(default), after), page_size)
            if limit:
                check_page(exchange, params)


def test_offset_edges(api: ApiClient, inventory: Inventory) -> None:
    for query in _filters(inventory):
        count = page_count(get_page(api, {**query, "limit": 1}))
        for offset in (max(count - 1, 0), count, count + 1):
            params = {**query, "offset": offset, "limit": 1}
            check_page(api.get(params, expect=_edge(f"offset={offset} with count {count}")), params)


@pytest.mark.parametrize("spelling", ["false", "true"])
def test_every_update_status_value(spelling: str, api: ApiClient, run: RunConfig,
                                   inventory: Inventory) -> None:
    if spelling == "true" and run.read_only:
        pytest.skip("--read-only: update_status=true stores a refresh")
    devices = [device for device in inventory.devices if device.count > 0]
    params: dict[str, Any] = {"update_status": spelling, "limit": 5}
    if devices:
        params["id"] = devices[0].id
    refresh = spelling == "true"
    expect = Expect({200, 500} if refresh else 200, rule=claims.DOCUMENTED_QUERY_IS_200,
                    why=f"update_status={spelling}")
    exchange = api.get(params, expect=expect)
    if exchange.status == 200:
        check_page(exchange, params)
