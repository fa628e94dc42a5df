"""The (mock) rules of docs/contract.md: checked against the embedded mock, or a server run with
``--strict-contract``; a real server is never required to have them."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest

from . import claims
from .checks import Expect, claim
from .client import ApiClient, json_bytes
from .discovery import Device, Inventory
from .exchange import Exchange
from .paging import check_page, get_page, page_count
from .posting import check_created, refusal_marker, reserve_one, sweep, validation_error_names_field
from .runconfig import RunConfig, WriteBudget

pytestmark = pytest.mark.mock_only

#: The cap the OpenAPI document gives for ``limit``.
DOCUMENTED_MAX_LIMIT = 100
OVERSIZED_BODY_BYTES = 8 * 1024 * 1024

BAD_QUERIES = [
    ("limit", "abc"), ("limit", "-1"), ("limit", "1.5"), ("limit", ""),
    ("offset", "x"), ("offset", "-5"), ("offset", "2e3"),
    ("update_status", "maybe"), ("update_status", "2"), ("update_status", ""),
]


@pytest.mark.parametrize(("name", "value"), BAD_QUERIES)
def test_unparsable_query_value_is_400_naming_it(name: str, value: str, api: ApiClient) -> None:
    exchange = api.get({name: value}, expect=Expect(400, rule=claims.UNPARSABLE_QUERY_IS_400,
                                                    why=f"{name}={value!r} does not parse"))
    validation_error_names_field(exchange, (name,))


@pytest.mark.parametrize("spelling", ["true", "TRUE", "True", "1", "false", "FALSE", "False", "0"])
def test_boolean_spellings_are_accepted(spelling: str, api: ApiClient, run: RunConfig,
                                        inventory: Inventory) -> None:
    refresh = spelling.lower() in {"true", "1"}
    if refresh and run.read_only:
        pytest.skip("--read-only: update_status=true stores a refresh")
    params: dict[str, Any] = {"update_status": spelling, "limit": 5}
    if inventory.devices:
        params["id"] = inventory.devices[0].id
    api.get(params, expect=Expect({200, 500} if refresh else 200, rule=claims.BOOLEAN_SPELLINGS_ACCEPTED,
                                  why=f"update_status={spelling} is true/false/1/0 in some case"))


@claim
def limit_capped_at_documented_maximum(exchange: Exchange) -> str | None:
    wanted = min(DOCUMENTED_MAX_LIMIT, page_count(exchange))
    if len(exchange.results) != wanted:
        return (f"limit=1000 should be capped at {DOCUMENTED_MAX_LIMIT}: "
                f"expected {wanted} results, got {len(exchange.results)}")
    return None


def test_limit_above_the_maximum_is_capped(api: ApiClient) -> None:
    limit_capped_at_documented_maximum(get_page(api, {"limit": 1000}))


def test_route_without_trailing_slash_is_served(api: ApiClient, run: RunConfig, target: Device) -> None:
    url = api.resource_url.rstrip("/")
    params = {"id": target.id, "limit": 3}
    exchange = api.get(params, url=url, expect=Expect(200, rule=claims.ROUTE_WITHOUT_SLASH_SERVED,
                                                      why="GET on the route without its trailing slash"))
    check_page(exchange, params)
    if not run.read_only:
        api.post_raw(b"{}", url=url, expect=Expect(400, rule=claims.ROUTE_WITHOUT_SLASH_SERVED,
                                                   why="POST {} on the route without its trailing slash"))


@claim
def allow_header_lists_get_and_post(exchange: Exchange) -> str | None:
    allowed = {method.strip().upper() for method in exchange.headers.get("allow", "").split(",")}
    if {"GET", "POST"} <= allowed:
        return None
    return f"a 405 must list the allowed methods in Allow; got {exchange.headers.get('allow')!r}"


@pytest.mark.other_methods
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_with_allow(method: str, api: ApiClient) -> None:
    # Aimed at a device that does not exist: a server that did implement the method changes nothing.
    nobody = {"id": f"diags-kit-unknown-{uuid.uuid4().hex[:12]}"}
    exchange = api.request(method, api.resource_url, params=nobody, body=b"{}",
                           headers={"Content-Type": "application/json"},
                           expect=Expect(405, rule=claims.OTHER_METHOD_IS_405,
                                         why=f"{method} is no operation"))
    allow_header_lists_get_and_post(exchange)


@pytest.mark.posts
def test_body_over_the_size_limit_is_413(api: ApiClient, target: Device) -> None:
    # No diagnostic_type: were the size accepted, this would be a 400 and create nothing.
    body = json_bytes({"device_id": target.id, "notes": "x" * OVERSIZED_BODY_BYTES})
    api.post_raw(body, expect=Expect(413, rule=claims.OVERSIZED_BODY_IS_413, why=f"a {len(body)}-byte body"))


def _data_form_body(run: RunConfig, target: Device) -> dict[str, Any]:
    return {"device_id": target.id, "diagnostic_type": "maintenance", "status": "completed",
            "details": {"action_performed": "firmware_update", "duration_minutes": 15},
            "notes": f"{run.tag} data parameter", "performed_by": "tech@company.com"}


@pytest.mark.writes
@pytest.mark.parametrize("encoding", ["json", "form"])
def test_data_parameter_form_is_created(encoding: str, api: ApiClient, run: RunConfig, target: Device,
                                        write_budget: WriteBudget) -> None:
    reserve_one(write_budget)
    body = _data_form_body(run, target)
    if encoding == "json":
        exchange = api.post({"data": json.dumps(body)})
    else:
        exchange = api.post_raw(urlencode({"data": json.dumps(body)}).encode(),
                                content_type="application/x-www-form-urlencoded")
    check_created(api, exchange, body, target)


@pytest.mark.posts
def test_data_parameter_invalid_is_refused(api: ApiClient, run: RunConfig, target: Device) -> None:
    marker = refusal_marker(run)
    wrong = {**_data_form_body(run, target), "notes": marker, "priority": "urgent"}
    urgent = Expect(422, rule=claims.WRONG_TYPE_OR_FORMAT_IS_422, why="priority 'urgent' in the data string")
    exchange = api.post({"data": json.dumps(wrong)}, expect=urgent)
    validation_error_names_field(exchange, ("priority",))
    api.post({"data": json.dumps(wrong)[:-1]}, expect=Expect(400, rule=claims.MALFORMED_JSON_IS_400,
                                                             why="the data string is not JSON"))
    sweep(api, target, marker)
