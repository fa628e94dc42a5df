"""Bearer authentication: who gets in, the 401 and its ``WWW-Authenticate``, and that it comes first."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from listing import RESOURCE
from werkzeug.test import TestResponse

import schemas
from mockserver import create_app
from mockserver.core.responses import ApiError
from mockserver.pipeline.auth import check_bearer

TOKENS = ["first-token", "second-token"]
MINIMAL = {"device_id": "device-12345", "diagnostic_type": "maintenance"}

BAD_HEADERS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer    ",
    "Basic dGVzdDp0ZXN0",
    "Token first-token",
    "first-token",
    "Bearer first-token-but-longer",
    "Bearer first",
    "Bearer FIRST-TOKEN",
    "Bearer first-token second-token",
    "Bearerfirst-token",
    "Bearer t\u00f6k\u00e9n",
]


def assert_unauthorized(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].split()[0] == "Bearer"
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    schemas.validator("error").validate(body)
    return body


def headers_for(authorization: str | None) -> dict[str, str]:
    return {} if authorization is None else {"Authorization": authorization}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "DIAGS_TOKENS": TOKENS}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer first-token",
        "Bearer second-token",
        "bearer first-token",
        "BEARER second-token",
        "Bearer  first-token ",
        " Bearer first-token",
    ],
)
def test_a_known_token_passes(authorization: str) -> None:
    check_bearer(authorization, TOKENS)


@pytest.mark.parametrize("authorization", BAD_HEADERS)
def test_anything_else_is_refused(authorization: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        check_bearer(authorization, TOKENS)
    assert caught.value.status == 401
    assert caught.value.headers is not None and caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_configured_token_lets_nobody_in() -> None:
    with pytest.raises(ApiError):
        check_bearer("Bearer anything", [])


@pytest.mark.parametrize("token", TOKENS)
def test_every_configured_token_is_accepted_by_the_app(client: FlaskClient, token: str) -> None:
    assert client.get(RESOURCE, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    response = client.post(RESOURCE, json=MINIMAL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201


@pytest.mark.parametrize("authorization", BAD_HEADERS)
def test_get_and_post_refuse_bad_credentials(client: FlaskClient, authorization: str | None) -> None:
    assert_unauthorized(client.get(RESOURCE, headers=headers_for(authorization)))
    assert_unauthorized(client.post(RESOURCE, json=MINIMAL, headers=headers_for(authorization)))


def test_the_default_token_is_the_documented_placeholder() -> None:
    client = create_app({"TESTING": True}).test_client()
    assert client.get(RESOURCE, headers={"Authorization": "Bearer YOUR_API_TOKEN"}).status_code == 200
    assert_unauthorized(client.get(RESOURCE, headers={"Authorization": "Bearer first-token"}))


@pytest.mark.parametrize(
    "sent", ["Bearer wrong-secret-value", "wrong-secret-value", "Token wrong-secret-value"]
)
def test_a_refused_token_is_never_echoed(client: FlaskClient, sent: str) -> None:
    response = client.get(RESOURCE, headers={"Authorization": sent})
    assert_unauthorized(response)
    assert b"wrong-secret-value" not in response.get_data()
    assert "wrong-secret-value" not in str(response.headers)


REQUESTS = [
    # (method, path, query, body): each would fail some other way when authenticated.
    ("GET", RESOURCE, {"id": "device-99999"}, None),
    ("GET", RESOURCE, {"limit": "minus one"}, None),
    ("GET", RESOURCE, {"update_status": "true"}, None),
    ("GET", RESOURCE.rstrip("/"), {}, None),
    ("HEAD", RESOURCE, {}, None),
    ("POST", RESOURCE, {}, b"not json"),
    ("POST", RESOURCE, {}, b'{"device_id": 1}'),
    ("POST", RESOURCE, {}, b'{"device_id": 1, "diagnostic_type": "x"}'),
    ("POST", RESOURCE, {}, b'{"device_id": "device-99999", "diagnostic_type": "x"}'),
    ("PUT", RESOURCE, {}, b"{}"),
    ("DELETE", RESOURCE, {}, None),
    ("OPTIONS", RESOURCE, {}, None),
    ("GET", "/api/v1/unknown", {}, None),
    ("POST", "/api/v1/", {}, None),
    ("OPTIONS", "/api/v1/unknown", {}, None),
    ("GET", "/api/v1", {}, None),
]


@pytest.mark.parametrize(("method", "path", "query", "body"), REQUESTS)
def test_401_comes_before_anything_else(
    client: FlaskClient, method: str, path: str, query: dict[str, str], body: bytes | None
) -> None:
    response = client.open(
        path, method=method, query_string=query, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].split()[0] == "Bearer"
    if method != "HEAD":
        assert_unauthorized(response)


@pytest.mark.parametrize("app_config", [{"DIAGS_TOKENS": TOKENS, "DIAGS_HELPERS": {"helpers": ["nope"]}}])
def test_401_comes_before_a_broken_helper_configuration(client: FlaskClient) -> None:
    assert_unauthorized(client.get(RESOURCE, query_string={"update_status": "true"}))


def test_routes_outside_the_api_need_no_token(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
