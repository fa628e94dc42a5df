"""Methods the API does not document (PUT, DELETE, PATCH): whatever a server does with them, it answers
a client error in JSON, as every response must. The 405 and its Allow header are (mock) rules, checked
in ``test_mock_rules``."""

from __future__ import annotations

import uuid

import pytest

from .checks import claim
from .client import ApiClient
from .exchange import Exchange

pytestmark = pytest.mark.other_methods


@claim
def other_method_is_client_error(exchange: Exchange) -> str | None:
    if 400 <= exchange.status < 500:
        return None
    return f"{exchange.method} is no documented operation, yet it answered {exchange.status}, not a 4xx"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_answer_a_json_client_error(method: str, api: ApiClient) -> None:
    # Aimed at a device that does not exist: a server that did implement the method changes nothing.
    nobody = {"id": f"diags-kit-unknown-{uuid.uuid4().hex[:12]}"}
    exchange = api.request(method, api.resource_url, params=nobody, body=b"{}",
                           headers={"Content-Type": "application/json"})
    other_method_is_client_error(exchange)
