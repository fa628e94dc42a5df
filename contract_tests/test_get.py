"""GET /inventory_device_diags/: parameters, pages, the device filter, unknown devices, status refreshes."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import claims
from .checks import Expect, claim
from .client import ApiClient
from .discovery import Device, Inventory
from .exchange import Exchange
from .paging import (
    MAX_WALK_PAGES,
    REFRESHED,
    check_page,
    get_page,
    page_count,
    previous_walks_back_to_first_page,
    stable_walk,
    walk_backward,
    walk_forward,
    walk_visits_each_record_once,
)
from .posting import create, reserve_one
from .records import find_records
from .refreshing import refresh_is_what_later_gets_show, refresh_keeps_what_it_does_not_own
from .runconfig import RunConfig, WriteBudget
from .strategies import query_params, scaled_examples, unknown_device_ids

WHOLE_LIST_WALK_LIMIT = 1000
#: Known devices whose ids are bent into near misses (one character cut off, one added).
NEAR_MISS_DEVICES = 3


def link_params(exchange: Exchange) -> dict[str, Any]:
    """The query a followed link sent; the offset only when it is a plain integer."""
    query = dict(parse_qsl(urlsplit(exchange.url).query, keep_blank_values=True))
    if not query.get("offset", "0").isdigit():
        query.pop("offset", None)
    return query


@given(data=st.data())
def test_documented_parameters_answer_a_conforming_page(data: st.DataObject, api: ApiClient,
                                                        inventory: Inventory, run: RunConfig) -> None:
    params = data.draw(query_params(inventory.device_ids(), allow_refresh=not run.read_only,
                                    max_limit=200 if run.strict else 100), label="query")
    refresh = params.get("update_status") == "true"
    exchange = api.get(params, expect=Expect({200, 500} if refresh else 200,
                                             rule=claims.DOCUMENTED_QUERY_IS_200,
                                             why=f"every parameter is documented and valid: {params}"))
    if exchange.status == 200:
        check_page(exchange, params)


def _check_walk(api: ApiClient, params: dict[str, Any], run: RunConfig) -> None:
    walk = stable_walk(api, params, exclusive=run.embedded)
    for page in walk.pages:
        check_page(page, params if page is walk.first else link_params(page))
    walk_visits_each_record_once(walk.first, walk)
    backward = walk_backward(api, walk.pages[-1], max_pages=len(walk.pages))
    previous_walks_back_to_first_page(walk.first, walk, backward)


@settings(max_examples=scaled_examples(0.5))
@given(data=st.data())
def test_walking_a_device_visits_count_records_once(data: st.DataObject, api: ApiClient,
                                                    walk_devices: list[Device], run: RunConfig) -> None:
    device = data.draw(st.sampled_from(walk_devices), label="device")
    limit = max(data.draw(st.integers(1, 10), label="limit"), math.ceil(device.count / (MAX_WALK_PAGES - 5)))
    _check_walk(api, {"id": device.id, "limit": limit}, run)


def test_walking_the_whole_list_visits_count_records_once(api: ApiClient, run: RunConfig) -> None:
    params = {"limit": 100}
    first = get_page(api, params)
    pages_needed = math.ceil(page_count(first) / max(len(first.results), 1))
    if page_count(first) <= WHOLE_LIST_WALK_LIMIT and pages_needed <= MAX_WALK_PAGES - 2:
        _check_walk(api, params, run)
        return
    walk = walk_forward(api, params, max_pages=5)
    for page in walk.pages:
        check_page(page, params if page is walk.first else link_params(page))
    pytest.skip(f"count {page_count(first)} needs {pages_needed} pages: only the first pages were checked")


@pytest.mark.parametrize("past", [0, 1, 10**6])
def test_offset_past_the_end_is_an_empty_page(api: ApiClient, inventory: Inventory, past: int) -> None:
    filters: list[dict[str, Any]] = [{}] + [{"id": device.id} for device in inventory.devices[:1]]
    for query in filters:
        count = page_count(get_page(api, {**query, "limit": 1}))
        params = {**query, "offset": count + past}
        check_page(get_page(api, params), params)


@given(device_id=unknown_device_ids())
def test_unknown_device_is_404(api: ApiClient, device_id: str) -> None:
    api.get({"id": device_id}, expect=Expect(404, rule=claims.UNKNOWN_DEVICE_IS_404,
                                             why=f"{device_id!r} names no device"))


def near_misses(device_id: str) -> list[str]:
    """Ids one character away from a known one: a filter that matches prefixes or substrings lists
    the known device's records for them."""
    return [probe for probe in (device_id[:-1], device_id + "0") if probe.strip()]


def test_device_filter_matches_the_whole_id(api: ApiClient, inventory: Inventory) -> None:
    probed = [device for device in inventory.devices if device.count > 0][:NEAR_MISS_DEVICES]
    if not probed:
        pytest.skip("no device with records was discovered; name one with --device-id")
    for device in probed:
        for probe in near_misses(device.id):
            # The near miss may name a real device: then only its own records may come back.
            params = {"id": probe, "limit": 100}
            exchange = api.get(params, expect=Expect({200, 404}, rule=claims.DEVICE_FILTER_MATCHES_WHOLE_ID,
                                                     why=f"{probe!r} is one character off {device.id!r}"))
            if exchange.status == 200:
                check_page(exchange, params)


@pytest.mark.refreshes
@settings(max_examples=scaled_examples(0.3))
@given(data=st.data())
def test_update_status_refresh_is_stored(data: st.DataObject, api: ApiClient,
                                         walk_devices: list[Device]) -> None:
    device = data.draw(st.sampled_from(walk_devices), label="device")
    limit = data.draw(st.integers(1, 100), label="limit")
    params = {"id": device.id, "update_status": "true", "limit": limit}
    exchange = api.get(params, expect=REFRESHED)
    if exchange.status == 500:
        return
    check_page(exchange, params)
    wanted = {record["id"] for record in exchange.results}
    refresh_is_what_later_gets_show(exchange, find_records(api, device.id, wanted))


@claim
def unknown_route_is_a_client_error(exchange: Exchange) -> str | None:
    if 400 <= exchange.status < 500:
        return None
    return f"a route the API does not have answered {exchange.status}, not a 4xx"


def test_unknown_route_answers_json(api: ApiClient) -> None:
    exchange = api.request("GET", f"{api.base_url}/diags-kit-no-such-route/")
    unknown_route_is_a_client_error(exchange)


#: What the refresh test sends besides device_id and diagnostic_type: fields no status refresh owns.
CLIENT_FIELDS = {"reported_by": "monitor@company.com", "performed_by": "tech@company.com", "priority": "high"}


@pytest.mark.writes
@pytest.mark.refreshes
def test_refresh_keeps_the_fields_it_does_not_own(api: ApiClient, run: RunConfig, target: Device,
                                                  write_budget: WriteBudget) -> None:
    reserve_one(write_budget)
    body = {"device_id": target.id, "diagnostic_type": "health_check", "status": "warning",
            "notes": f"{run.tag} kept through a status refresh", **CLIENT_FIELDS}
    created = create(api, body, target).payload
    refresh = api.get({"id": target.id, "update_status": "true"}, expect=REFRESHED)
    if refresh.status == 200:
        check_page(refresh, {"id": target.id, "update_status": "true"})
        for record in refresh.results:
            if isinstance(record, dict) and record.get("id") == created["id"]:
                refresh_keeps_what_it_does_not_own(refresh, created, body, record)
    search = find_records(api, target.id, {created["id"]})
    listed = search.found.get(created["id"])
    if listed is None and not search.complete:
        pytest.skip("the device has too many records to find the new one in its first and last pages")
    refresh_keeps_what_it_does_not_own(search.first, created, body, listed)
