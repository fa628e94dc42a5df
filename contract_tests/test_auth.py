"""Authentication on both operations: anything but ``Bearer <known token>`` is a 401, checked first."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import claims, masking
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


def _other_case(token: str) -> str | None:
    swapped = token.swapcase()
    return None if swapped == token else swapped


def _split(token: str) -> str | None:
    return f"{token[:len(token) // 2]} {token[len(token) // 2:]}" if len(token) > 1 else None


#: Tokens one small edit away from the run's token: none of them is a known token, so each is a 401.
#: Whitespace around the token is not among them: HTTP trims it from a header value, RFC 6750 allows
#: several spaces after the scheme, and common frameworks split the header on whitespace. Whitespace
#: inside the token survives all of that, so it is. A quoted token is our extra case: a b64token
#: (RFC 6750) has no quotes, so a server must not strip them and accept what is left.
NEAR_MISSES: dict[str, Callable[[str], str | None]] = {
    "plus a character": lambda token: token + token[-1],
    "less its last character": lambda token: token[:-1] if len(token) > 1 else None,
    "less its first character": lambda token: token[1:] if len(token) > 1 else None,
    "with a character changed": lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    "in another case": _other_case,
    "in upper case": lambda token: token.upper() if token.upper() != token else None,
    "cut to a prefix": lambda token: token[: max(len(token) // 2, 1)] if len(token) > 1 else None,
    "with whitespace inside": _split,
    "in double quotes": lambda token: f'"{token}"',
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


def near_miss_token(case: str, token: str) -> str | None:
    """The variant ``case`` of ``token``, masked like the token itself: most of it is the token."""
    variant = NEAR_MISSES[case](token)
    return None if variant is None else masking.secret(variant)


def near_miss(why: str) -> Expect:
    return Expect(401, rule=claims.NEAR_MISS_TOKEN_IS_401, why=why)


@pytest.mark.parametrize("case", list(NEAR_MISSES))
def test_get_with_a_near_miss_token_is_401(case: str, api: ApiClient) -> None:
    token = near_miss_token(case, api.token)
    if token is None or token == api.token:
        pytest.skip(f"the run's token has no variant with {case}")
    api.get(authorization=f"Bearer {token}", expect=near_miss(f"the token {case}"))


@pytest.mark.posts
@pytest.mark.parametrize("case", ["plus a character", "in another case", "cut to a prefix"])
def test_post_with_a_near_miss_token_is_401(case: str, api: ApiClient, run: RunConfig,
                                            target: Device) -> None:
    token = near_miss_token(case, api.token)
    if token is None or token == api.token:
        pytest.skip(f"the run's token has no variant with {case}")
    body = {"device_id": target.id, "diagnostic_type": "maintenance", "notes": f"{run.tag} refused (auth)"}
    api.post(body, authorization=f"Bearer {token}", expect=near_miss(f"the token {case}"))


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
