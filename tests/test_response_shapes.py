"""Every route and status code of the mock, each response validated against its schema in ``schemas/``.

A response is checked twice: against the mock's own shape (``strict=True``: errors are
``{"detail", "errors"}``) and against what a real server is held to (``strict=False``). The table
must cover every status code the OpenAPI document gives each operation, mock-only ones included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE, reader, records, walk
from werkzeug.test import TestResponse

import schemas
from mockserver.control import faults
from mockserver.services import services_of

DEVICE = "device-12345"
EMPTY_DEVICE = "device-without-diagnostics"
NEW = {"device_id": DEVICE, "diagnostic_type": "maintenance"}
ISSUE_REPORT = {
    **NEW, "diagnostic_type": "issue_report", "status": "open", "details": {"impact_level": "medium"},
    "issues": [{"severity": "high", "message": "Paper jam", "code": "JAM"}], "notes": "n",
    "reported_by": "helpdesk@company.com", "performed_by": "tech@company.com", "priority": "high",
}
FORM = "application/x-www-form-urlencoded"


def add_empty_device(app: Flask) -> None:
    services_of(app).store.add_device({"id": EMPTY_DEVICE, "name": "Spare Printer", "serial": "SP000001"})


def break_helpers(app: Flask) -> None:
    services_of(app).helper_config = {"helpers": ["no-such-helper"]}


def small_body_limit(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 64


def small_request_limits(app: Flask) -> None:
    app.config["DIAGS_MAX_URL_BYTES"] = 512
    app.config["DIAGS_MAX_HEADER_BYTES"] = 1024


def slow_first_request(method: str) -> Callable[[Flask], None]:
    """Make the next ``method`` request outlast the mock's time-out (a latency fault, once)."""
    def setup(app: Flask) -> None:
        app.config["DIAGS_REQUEST_TIMEOUT"] = 0.2
        latency = {"method": method, "path": RESOURCE, "latency_ms": 600, "times": 1}
        services_of(app).faults.add(faults.parse_faults([latency]))
    return setup


@dataclass(frozen=True)
class Case:
    """One request to the mock and the status it must answer."""

    name: str
    method: str
    status: int
    query: str = ""
    body: Any = None
    content_type: str = "application/json"
    token: str | None = "valid"
    path: str = RESOURCE
    setup: Callable[[Flask], None] | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def send(self, client: FlaskClient, auth: dict[str, str]) -> TestResponse:
        headers = {**(auth if self.token == "valid" else {}), **dict(self.headers)}
        if self.token not in (None, "valid"):
            headers["Authorization"] = str(self.token)
        data: Any = self.body
        if self.body is not None and not isinstance(self.body, bytes) and self.content_type != FORM:
            data = json.dumps(self.body)
        url = self.path + (f"?{self.query}" if self.query else "")
        return client.open(url, method=self.method, headers=headers, data=data,
                           content_type=self.content_type if self.body is not None else None)


CASES = [
    Case("first page", "GET", 200),
    Case("one device", "GET", 200, query=f"id={DEVICE}"),
    Case("a middle page", "GET", 200, query="limit=3&offset=4"),
    Case("an empty page", "GET", 200, query="limit=0"),
    Case("past the end", "GET", 200, query="offset=100000"),
    Case("the largest page", "GET", 200, query="limit=1000"),
    Case("refreshed", "GET", 200, query=f"id={DEVICE}&update_status=true"),
    Case("a device with no diagnostics", "GET", 200, query=f"id={EMPTY_DEVICE}", setup=add_empty_device),
    Case("limit not a number", "GET", 400, query="limit=ten"),
    Case("update_status not a boolean", "GET", 400, query="update_status=maybe"),
    Case("no token", "GET", 401, token=None),
    Case("another scheme", "GET", 401, token="Basic dXNlcjpwYXNz"),
    Case("unknown device", "GET", 404, query="id=no-such-device"),
    Case("broken helper configuration", "GET", 500, query="update_status=true", setup=break_helpers),
    Case("a very long query", "GET", 414, query="id=" + "x" * 600, setup=small_request_limits),
    Case("very large headers", "GET", 431, headers=(("X-Padding", "x" * 1200),), setup=small_request_limits),
    Case("past the time-out", "GET", 503, setup=slow_first_request("GET")),
    Case("the docs' cURL body", "POST", 201, body={
        **NEW, "status": "completed", "details": {"action_performed": "firmware_update"},
        "notes": "Firmware update completed successfully", "performed_by": "tech@company.com"}),
    Case("every optional field", "POST", 201, body=ISSUE_REPORT),
    Case("a health check", "POST", 201, body={**NEW, "diagnostic_type": "health_check"}),
    Case("more fields than documented", "POST", 201, body={**NEW, "location": "Floor 2", "id": "ignored"}),
    Case("the data parameter as JSON", "POST", 201, body={"data": json.dumps(ISSUE_REPORT)}),
    Case("the data parameter form-encoded", "POST", 201, body={"data": json.dumps(NEW)}, content_type=FORM),
    Case("not JSON", "POST", 400, body=b"{device_id: device-12345"),
    Case("an array", "POST", 400, body=[NEW]),
    Case("missing device_id", "POST", 400, body={"diagnostic_type": "maintenance"}),
    Case("an empty body", "POST", 400, body=b""),
    Case("a bad token", "POST", 401, token="Bearer not-a-token", body=NEW),
    Case("an unknown device", "POST", 404, body={**NEW, "device_id": "no-such-device"}),
    Case("over the size limit", "POST", 413, body={**NEW, "notes": "x" * 200}, setup=small_body_limit),
    Case("a numeric device_id", "POST", 422, body={**NEW, "device_id": 12345}),
    Case("an unknown priority and a bad e-mail", "POST", 422,
         body={**NEW, "priority": "urgent", "reported_by": "helpdesk"}),
    Case("issues without a code", "POST", 422, body={**NEW, "issues": [{"severity": "low", "message": "m"}]}),
    Case("a very long query", "POST", 414, query="x=" + "x" * 600, body=NEW, setup=small_request_limits),
    Case("very large headers", "POST", 431, body=NEW, headers=(("X-Padding", "x" * 1200),),
         setup=small_request_limits),
    Case("past the time-out", "POST", 503, body=NEW, setup=slow_first_request("POST")),
    Case("another method", "DELETE", 405),
    Case("an unknown route", "GET", 404, path="/api/v1/inventory_devices/"),
    Case("an unknown route without a token", "GET", 401, path="/api/v1/inventory_devices/", token=None),
]


def expected_schemas(case: Case) -> tuple[str, str]:
    """The (mock, real server) schemas of a case's response; routes off the operations answer errors."""
    if case.path == RESOURCE and case.method in ("GET", "POST"):
        strict = schemas.response_schema(case.method, case.status, strict=True)
        lenient = schemas.response_schema(case.method, case.status, strict=False)
        assert strict and lenient, f"{case.method} {case.status} is not documented"
        return strict, lenient
    return schemas.STRICT_ERROR, schemas.LENIENT_ERROR


def assert_matches(name: str, body: Any) -> None:
    problems = [f"{error.json_path}: {error.message}" for error in schemas.validator(name).iter_errors(body)]
    assert not problems, f"violates {name}: {problems}"


@pytest.mark.parametrize("case", CASES, ids=[f"{case.method} {case.status} {case.name}" for case in CASES])
def test_each_response_matches_its_schema(app: Flask, client: FlaskClient, auth: dict[str, str],
                                          case: Case) -> None:
    if case.setup:
        case.setup(app)
    response = case.send(client, auth)
    assert response.status_code == case.status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    for name in expected_schemas(case):
        assert_matches(name, body)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_table_covers_every_documented_status(method: str) -> None:
    covered = {case.status for case in CASES if case.method == method and case.path == RESOURCE}
    assert covered == set(schemas.documented_statuses(method, include_mock=True))


@pytest.mark.parametrize("query", ["limit=100", "limit=100&update_status=true", "limit=7&id=" + DEVICE])
def test_every_page_of_the_inventory_matches(client: FlaskClient, auth: dict[str, str], query: str) -> None:
    read_page = reader(client, auth)

    def read(url: str) -> dict[str, Any]:
        body = read_page(url)
        assert_matches("diag-list", body)
        return body

    first_url = f"{RESOURCE}?{query}"
    total = read(first_url)["count"]
    # A bound with room to spare: with limit >= 1 there are at most count + 1 pages.
    pages = walk(read, first_url, max_pages=total + 2)
    assert len(records(pages)) == total


def test_a_created_record_matches_when_read_back(client: FlaskClient, auth: dict[str, str]) -> None:
    created = client.post(RESOURCE, headers=auth, json=ISSUE_REPORT).get_json()
    assert_matches("diag-created", created)
    listed = client.get(f"{RESOURCE}?id={DEVICE}&limit=100", headers=auth).get_json()
    assert_matches("diag-list", listed)
    assert created in listed["results"]


def test_a_422_names_each_field_with_the_validators_json_path(client: FlaskClient,
                                                              auth: dict[str, str]) -> None:
    body = {**NEW, "priority": "urgent", "reported_by": "helpdesk"}
    response = client.post(RESOURCE, headers=auth, json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"priority", "reported_by"}
    assert errors["priority"][0].startswith("$.priority: ")
    assert errors["reported_by"][0].startswith("$.reported_by: ")
