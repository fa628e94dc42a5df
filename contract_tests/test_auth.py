"""Authentication on both operations: anything but ``Bearer <known token>`` is a 401, checked first."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import claims
from .checks import Expect, unauthorized_names_bearer_scheme
from .client import ApiClient, Authorization
from .discovery import Device
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


def refused(why: str) -> Expect:
    return Expect(401, rule=claims.UNAUTHENTICATED_IS_401, why=why)


def auth_first(why: str) -> Expect:
    return Expect(401, rule=claims.AUTH_CHECKED_FIRST, why=why)


@pytest.mark.parametrize("case", list(REFUSED))
def test_get_without_valid_bearer_token_is_401(case: str, api: ApiClient) -> None:
    api.get(authorization=REFUSED[case](api.token), expect=refused(case))


@pytest.mark.posts
@pytest.mark.parametrize("case", list(REFUSED))
def test_post_without_valid_bearer_token_is_401(case: str, api: ApiClient, run: RunConfig,
                                                target: Device) -> None:
    body = {"device_id": target.id, "diagnostic_type": "maintenance", "notes": f"{run.tag} refused (auth)"}
    api.post(body, authorization=REFUSED[case](api.token), expect=refused(case))


_token_characters = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/")


@settings(max_examples=scaled_examples(0.5))
@given(token=st.text(_token_characters, min_size=1, max_size=64))
def test_get_with_a_random_bearer_token_is_401(token: str, api: ApiClient) -> None:
    if token == api.token:
        return
    api.get(authorization=f"Bearer {token}", expect=refused(f"{token!r} is not a token the server knows"))


@given(device_id=unknown_device_ids())
@settings(max_examples=scaled_examples(0.25))
def test_401_comes_before_404_on_get(device_id: str, api: ApiClient) -> None:
    api.get({"id": device_id}, authorization=None, expect=auth_first("no token, for an unknown device"))


def test_401_comes_before_a_bad_query(api: ApiClient) -> None:
    api.get({"limit": "not-a-number", "offset": "-1"}, authorization=None,
            expect=auth_first("no token, with unparsable limit and offset"))


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
    expect = auth_first(f"not authenticated, and the body has {case}")
    if isinstance(body, bytes):
        api.post_raw(body, authorization=authorization, expect=expect)
    else:
        api.post(body, authorization=authorization, expect=expect)


@pytest.mark.mock_only
def test_401_challenges_with_the_bearer_scheme(api: ApiClient) -> None:
    unauthorized_names_bearer_scheme(api.get(authorization=None))
