"""The API documentation's examples, verbatim, against the mock built by the app factory.

Only the host changes (the documented token ``YOUR_API_TOKEN`` is the mock's default). The request
bodies are the documentation's bytes, line breaks included; the expected answers are the
documentation's example responses, less what the server assigns (ids and timestamps).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from documented import (
    CURL_POST_BODY,
    EXAMPLE_REQUEST_BODY,
    GET_EXAMPLE_RESPONSE,
    GET_URL,
    HEADERS,
    POST_EXAMPLE_RESPONSE,
    POST_URL,
)
from flask import Flask
from flask.testing import FlaskClient

import schemas
from mockserver import create_app

NOW = datetime(2024, 1, 15, 15, 30, 0, tzinfo=UTC)
NOW_TEXT = "2024-01-15T15:30:00Z"

SERVER_ASSIGNED = ("id", "created_at", "updated_at")


def local(url: str) -> str:
    """The documented URL with only the host changed: its path and query string, untouched."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@pytest.fixture
def app() -> Flask:
    """The mock as ``serve`` starts it by default (default token, seed and data), with a fixed clock."""
    return create_app({"TESTING": True, "DIAGS_CLOCK": lambda: NOW})


def test_the_bodies_are_the_documented_json() -> None:
    assert len(CURL_POST_BODY.splitlines()) == 13
    assert json.loads(EXAMPLE_REQUEST_BODY)["priority"] == "high"
    assert json.loads(CURL_POST_BODY)["performed_by"] == "tech@company.com"


def test_the_get_example_without_update_status_is_the_documented_response(client: FlaskClient) -> None:
    url = local(GET_URL).replace("&update_status=true", "")
    response = client.get(url, headers=HEADERS)
    assert response.status_code == 200
    body = response.get_json()
    assert {key: body[key] for key in ("count", "next", "previous")} == {
        "count": 2,
        "next": None,
        "previous": None,
    }
    assert body["results"][0] == GET_EXAMPLE_RESPONSE["results"][0]


def test_the_get_example_verbatim(client: FlaskClient) -> None:
    response = client.get(local(GET_URL), headers=HEADERS)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    schemas.validator("diag-list").validate(body)
    assert list(body) == list(GET_EXAMPLE_RESPONSE)
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    documented = GET_EXAMPLE_RESPONSE["results"][0]
    record = next(item for item in body["results"] if item["id"] == documented["id"])
    assert list(record)[: len(documented)] == list(documented)
    for key in ("id", "device_id", "device_name", "device_serial", "diagnostic_type", "created_at"):
        assert record[key] == documented[key], key
    # update_status=true: the helpers refreshed the readings, status and issues just now.
    assert set(documented["details"]) <= set(record["details"])
    assert record["updated_at"] == record["details"]["last_ping"] == NOW_TEXT
    assert record["next_check_due"] == "2024-01-15T19:30:00Z"
    for key in ("status", "issues"):
        assert type(record[key]) is type(documented[key])


def test_the_curl_post_example_verbatim(client: FlaskClient) -> None:
    response = client.post(local(POST_URL), data=CURL_POST_BODY, headers=HEADERS)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    schemas.validator("diag-created").validate(body)
    for key, value in json.loads(CURL_POST_BODY).items():
        assert body[key] == value, key
    assert body["device_name"] == "Office Printer HP-2024"
    assert body["created_at"] == body["updated_at"] == NOW_TEXT


def test_the_example_request_body_gives_the_example_response(client: FlaskClient) -> None:
    response = client.post(local(POST_URL), data=EXAMPLE_REQUEST_BODY, headers=HEADERS)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    schemas.validator("diag-created").validate(body)
    for key, value in POST_EXAMPLE_RESPONSE.items():
        if key not in SERVER_ASSIGNED:
            assert body[key] == value, key
    assert body["created_at"] == body["updated_at"] == POST_EXAMPLE_RESPONSE["created_at"]
    assert body["id"].startswith("diag-")
    # "Start with a POST request to log the initial issue, then use GET requests to retrieve" it.
    listed = client.get(local(GET_URL).replace("&update_status=true", ""), headers=HEADERS).get_json()
    assert listed["count"] == 3
    assert body in listed["results"]


def test_the_example_bodies_sent_as_the_documented_data_parameter(client: FlaskClient) -> None:
    for raw in (CURL_POST_BODY, EXAMPLE_REQUEST_BODY):
        wrapped = client.post(local(POST_URL), json={"data": raw.decode()}, headers=HEADERS)
        form = client.post(
            local(POST_URL), data={"data": raw.decode()}, headers={"Authorization": HEADERS["Authorization"]}
        )
        assert wrapped.status_code == form.status_code == 201
        for key, value in json.loads(raw).items():
            assert wrapped.get_json()[key] == form.get_json()[key] == value
