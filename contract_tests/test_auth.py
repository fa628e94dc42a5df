"""Authentication on both operations: anything but ``Bearer <known token>`` is a 401, checked first."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .checks import expect_status, unauthorized_names_bearer_scheme
from .client import ApiClient, Authorization
from .discovery import Device
from .exchange import Exchange
from .runconfig import RunConfig
from .strategies import scaled_examples, unknown_device_ids

#: Each case turns the run's token into an Authorization header value the server must refuse.
REFUSED: dict[str, Callable[[str], str | None]] = {
    "no header": lambda token: None,
    "Basic scheme": lambda token: "Basic " + base64.b64encode(f"diags-kit:{token}".encode()).decode(),
    "Token scheme with the real token": lambda token: f"Token {token}",
    "the real token without a scheme": lambda token: token,
    "Bearer with an empty token": lambda token: "Bearer ",
    "Bearer with an unknown token": lambda token: f"Bearer diags-kit-not-a-token-{len(token)}x",
}


def refused(exchange: Exchange, why: str) -> None:
    expect_status(exchange, 401, rule="unauthenticated_is_401", why=why)


@pytest.mark.parametrize("case", list(REFUSED))
def test_get_without_valid_bearer_token_is_401(case: str, api: ApiClient) -> None:
    refused(api.get(authorization=REFUSED[case](api.token)), case)


@pytest.mark.posts
@pytest.mark.parametrize("case", list(REFUSED))
def test_post_without_valid_bearer_token_is_401(case: str, api: ApiClient, run: RunConfig,
                                                target: Device) -> None:
    body = {"device_id": target.id, "diagnostic_type": "maintenance", "notes": f"{run.tag} refused (auth)"}
    refused(api.post(body, authorization=REFUSED[case](api.token)), case)


_token_characters = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/")


@settings(max_examples=scaled_examples(0.5))
@given(token=st.text(_token_characters, min_size=1, max_size=64))
def test_get_with_a_random_bearer_token_is_401(token: str, api: ApiClient) -> None:
    if token == api.token:
        return
    refused(api.get(authorization=f"Bearer {token}"), f"{token!r} is not a token the server knows")


@given(device_id=unknown_device_ids())
@settings(max_examples=scaled_examples(0.25))
def test_401_comes_before_404_on_get(device_id: str, api: ApiClient) -> None:
    exchange = api.get({"id": device_id}, authorization=None)
    expect_status(exchange, 401, rule="auth_checked_first", why="no token, for an unknown device")


def test_401_comes_before_a_bad_query(api: ApiClient) -> None:
    exchange = api.get({"limit": "not-a-number", "offset": "-1"}, authorization=None)
    expect_status(exchange, 401, rule="auth_checked_first", why="no token, with unparsable limit and offset")


def _unauthenticated_bodies(target: Device, tag: str) -> dict[str, Any]:
    valid = {"device_id": target.id, "diagnostic_type": "maintenance", "notes": f"{tag} refused (auth)"}
    return {
        "malformed JSON": b'{"device_id": ',
        "not an object": b"[1, 2]",
        "missing required fields": b"{}",
        "wrong types": {**valid, "details": "not an object", "priority": "urgent"},
        "unknown device": {**valid, "device_id": "diags-kit-unknown-device-for-auth"},
    }


@pytest.mark.posts
@pytest.mark.parametrize("case", ["malformed JSON", "not an object", "missing required fields", "wrong types",
                                  "unknown device"])
@pytest.mark.parametrize("authorization", [None, "Bearer diags-kit-unknown-token"],
                         ids=["no-header", "bad-token"])
def test_401_comes_before_body_errors_on_post(case: str, authorization: Authorization, api: ApiClient,
                                              run: RunConfig, target: Device) -> None:
    body = _unauthenticated_bodies(target, run.tag)[case]
    if isinstance(body, bytes):
        exchange = api.post_raw(body, authorization=authorization)
    else:
        exchange = api.post(body, authorization=authorization)
    expect_status(exchange, 401, rule="auth_checked_first", why=f"not authenticated, and the body has {case}")


@pytest.mark.mock_only
def test_401_challenges_with_the_bearer_scheme(api: ApiClient) -> None:
    unauthorized_names_bearer_scheme(api.get(authorization=None))
