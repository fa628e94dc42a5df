"""``POST /api/v1/inventory_device_diags/`` through the app factory: both body forms, every status and
their precedence, what is stored, and concurrent creation."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from documented import documented_record
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE, count, reader, records, walk
from werkzeug.test import TestResponse

import fixtures
import schemas

NOW = datetime(2024, 3, 1, 12, 30, 15, tzinfo=UTC)
NOW_TEXT = "2024-03-01T12:30:15Z"
DEVICE_ID = fixtures.DOCUMENTED_DEVICE_ID
MINIMAL = {"device_id": DEVICE_ID, "diagnostic_type": "maintenance"}
FULL = {
    "device_id": DEVICE_ID,
    "diagnostic_type": "issue_report",
    "status": "open",
    "details": {"issue_category": "hardware", "symptoms": ["slow_response"], "nested": {"a": [1, 2.5, None]}},
    "issues": [{"severity": "low", "message": "Slow", "code": "SLOW"}],
    "notes": "Unicode survives: café ✓",
    "reported_by": "helpdesk@company.com",
    "performed_by": "tech@company.com",
    "priority": "high",
    "custom_field": {"kept": True},
}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A fixed clock, so timestamps can be checked exactly."""
    return {**app_config, "DIAGS_CLOCK": lambda: NOW}


def post_json(client: FlaskClient, auth: dict[str, str], body: Any) -> TestResponse:
    return client.post(RESOURCE, data=json.dumps(body), headers={**auth, "Content-Type": "application/json"})


def created(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    schemas.validator("diag-created").validate(body)
    schemas.validator("diag").validate(body)
    return body


def assert_error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    schemas.validator("error").validate(body)
    if status in (400, 422):
        assert body.get("errors"), "validation errors name their fields"
    return body


def stored(client: FlaskClient, auth: dict[str, str], record: dict[str, Any]) -> dict[str, Any]:
    """The record with ``record``'s id as a later GET of its device returns it."""
    response = client.get(RESOURCE, query_string={"id": record["device_id"], "limit": 100}, headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["next"] is None
    matches = [item for item in body["results"] if item["id"] == record["id"]]
    assert len(matches) == 1
    found: dict[str, Any] = matches[0]
    return found


def test_the_object_itself_is_created_and_echoed(client: FlaskClient, auth: dict[str, str]) -> None:
    body = created(post_json(client, auth, FULL))
    for key, value in FULL.items():
        assert body[key] == value, key
    assert body["device_name"] == "Office Printer HP-2024"
    assert body["device_serial"] == "HP123456789"
    assert body["created_at"] == body["updated_at"] == NOW_TEXT
    assert body["next_check_due"] is None
    assert body["id"] not in {record["id"] for record in fixtures.default()["diagnostics"]}


def test_numbers_are_echoed_exactly(client: FlaskClient, auth: dict[str, str]) -> None:
    details = {"widest": 2**64 - 1, "lowest": -(2**63), "tenth": 0.1, "tiny": 5e-324, "zero": -0.0}
    body = created(post_json(client, auth, {**MINIMAL, "details": details}))
    assert body["details"] == details
    assert [type(value) for value in body["details"].values()] == [int, int, float, float, float]


def test_the_created_record_is_what_a_later_get_returns(client: FlaskClient, auth: dict[str, str]) -> None:
    body = created(post_json(client, auth, FULL))
    assert stored(client, auth, body) == body


def test_the_data_parameter_in_a_json_body_is_accepted(client: FlaskClient, auth: dict[str, str]) -> None:
    direct = created(post_json(client, auth, FULL))
    wrapped = created(post_json(client, auth, {"data": json.dumps(FULL)}))
    assert {**wrapped, "id": direct["id"]} == direct
    assert wrapped["id"] != direct["id"]


def test_the_data_parameter_form_encoded_is_accepted(client: FlaskClient, auth: dict[str, str]) -> None:
    direct = created(post_json(client, auth, FULL))
    form = created(client.post(RESOURCE, data={"data": json.dumps(FULL)}, headers=auth))
    assert {**form, "id": direct["id"]} == direct
    assert stored(client, auth, form) == form


def test_the_data_parameter_multipart_is_accepted(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(
        RESOURCE, data={"data": json.dumps(MINIMAL)}, headers=auth, content_type="multipart/form-data"
    )
    assert created(response)["device_id"] == DEVICE_ID


def test_a_json_body_sent_as_a_form_is_accepted(client: FlaskClient, auth: dict[str, str]) -> None:
    # `curl -d '{...}'` without a Content-Type header sends this.
    response = client.post(
        RESOURCE, data=json.dumps(MINIMAL), headers=auth, content_type="application/x-www-form-urlencoded"
    )
    assert created(response)["diagnostic_type"] == "maintenance"


@pytest.mark.parametrize(
    ("diagnostic_type", "status"),
    [("maintenance", "scheduled"), ("issue_report", "open"), ("health_check", "ok"), ("calibration", "open")],
)
def test_omitted_fields_get_their_documented_defaults(
    client: FlaskClient, auth: dict[str, str], diagnostic_type: str, status: str
) -> None:
    body = created(post_json(client, auth, {"device_id": DEVICE_ID, "diagnostic_type": diagnostic_type}))
    assert (body["status"], body["details"], body["issues"]) == (status, {}, [])
    assert list(body)[:8] == list(documented_record())[:8]


def test_a_health_check_is_due_again_after_the_check_interval(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    body = created(
        post_json(
            client,
            auth,
            {**MINIMAL, "diagnostic_type": "health_check", "details": {"cpu_usage": 12.5, "disk_space": 80}},
        )
    )
    assert body["next_check_due"] == "2024-03-01T16:30:15Z"
    assert body["details"] == {"cpu_usage": 12.5, "disk_space": 80}


def test_server_owned_fields_in_the_body_are_ignored(client: FlaskClient, auth: dict[str, str]) -> None:
    body = created(
        post_json(
            client,
            auth,
            {
                **MINIMAL,
                "id": "diag-001",
                "device_name": "Forged",
                "device_serial": "FORGED",
                "created_at": "2000-01-01T00:00:00Z",
                "updated_at": "2000-01-01T00:00:00Z",
                "next_check_due": "2000-01-01T00:00:00Z",
            },
        )
    )
    assert body["id"] != "diag-001"
    assert (body["device_name"], body["device_serial"]) == ("Office Printer HP-2024", "HP123456789")
    assert body["created_at"] == body["updated_at"] == NOW_TEXT
    assert body["next_check_due"] is None
    documented = client.get(RESOURCE, query_string={"id": DEVICE_ID}, headers=auth).get_json()["results"][0]
    assert documented == fixtures.default()["diagnostics"][0]


def test_ids_are_new_every_time(client: FlaskClient, auth: dict[str, str]) -> None:
    ids = [created(post_json(client, auth, MINIMAL))["id"] for _ in range(5)]
    assert len(set(ids)) == 5
    existing = {record["id"] for record in fixtures.default()["diagnostics"]}
    assert not existing & set(ids)


def test_new_records_come_last_in_the_list(client: FlaskClient, auth: dict[str, str]) -> None:
    before = count(reader(client, auth))
    body = created(post_json(client, auth, MINIMAL))
    page = client.get(RESOURCE, query_string={"offset": before}, headers=auth).get_json()
    assert page["count"] == before + 1
    assert page["results"] == [body]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b'{"device_id": "device-12345",', "application/json"),
        (b"[]", "application/json"),
        (b'"device-12345"', "application/json"),
        (b"null", "application/json"),
        (b'{"data": "not json"}', "application/json"),
        (b'{"data": "[1]"}', "application/json"),
        (b'{"device_id": NaN, "diagnostic_type": "x"}', "application/json"),
        (b"\xff\xfe{}", "application/json"),
        # JSON the store could not write back unchanged: a lone surrogate, an overflow, a huge integer.
        (b'{"device_id": "device-12345", "diagnostic_type": "x", "notes": "\\ud800"}', "application/json"),
        (
            b'{"device_id": "device-12345", "diagnostic_type": "x", "details": {"n": 1e400}}',
            "application/json",
        ),
        (
            b'{"device_id": "device-12345", "diagnostic_type": "x", "details": {"n": 123456789012345678901}}',
            "application/json",
        ),
        (b"data=%7Bbroken", "application/x-www-form-urlencoded"),
        (b'{"device_id": "device-12345", "diagnostic_type": "maintenance"}', "text/plain"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(
    client: FlaskClient, auth: dict[str, str], raw: bytes, content_type: str
) -> None:
    assert_error(client.post(RESOURCE, data=raw, headers={**auth, "Content-Type": content_type}), 400)


@pytest.mark.parametrize("missing", ["device_id", "diagnostic_type"])
def test_a_missing_required_field_is_a_400_naming_it(
    client: FlaskClient, auth: dict[str, str], missing: str
) -> None:
    body = {key: value for key, value in FULL.items() if key != missing}
    assert assert_error(post_json(client, auth, body), 400)["errors"][missing] == ["This field is required."]
    assert assert_error(post_json(client, auth, {"data": json.dumps(body)}), 400)["errors"][missing]


def test_an_empty_object_is_a_400_naming_both_fields(client: FlaskClient, auth: dict[str, str]) -> None:
    assert set(assert_error(post_json(client, auth, {}), 400)["errors"]) == {"device_id", "diagnostic_type"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("device_id", 12345),
        ("device_id", ["device-12345"]),
        ("diagnostic_type", 7),
        ("diagnostic_type", None),
        ("details", "cpu 45%"),
        ("details", [1, 2]),
        ("issues", {"severity": "low", "message": "m", "code": "C"}),
        ("issues", [{"severity": "severe", "message": "m", "code": "C"}]),
        ("issues", [{"message": "m", "code": "C"}]),
        ("priority", "urgent"),
        ("priority", 1),
        ("reported_by", "helpdesk"),
        ("performed_by", "tech@"),
    ],
)
def test_a_field_of_the_wrong_type_or_format_is_a_422_naming_it(
    client: FlaskClient, auth: dict[str, str], field: str, value: Any
) -> None:
    body = assert_error(post_json(client, auth, {**MINIMAL, field: value}), 422)
    assert field in body["errors"]
    assert field in body["detail"]


def test_an_unknown_device_is_a_404(client: FlaskClient, auth: dict[str, str]) -> None:
    body = assert_error(post_json(client, auth, {**MINIMAL, "device_id": "device-99999"}), 404)
    assert "device-99999" in body["detail"]
    assert_error(
        client.post(RESOURCE, data={"data": json.dumps({**MINIMAL, "device_id": "nope"})}, headers=auth), 404
    )


def test_a_failed_post_stores_nothing(client: FlaskClient, auth: dict[str, str]) -> None:
    read = reader(client, auth)
    before = count(read)
    assert_error(post_json(client, auth, {**MINIMAL, "device_id": "device-99999"}), 404)
    assert_error(post_json(client, auth, {**MINIMAL, "priority": "urgent"}), 422)
    assert_error(post_json(client, auth, {"device_id": DEVICE_ID}), 400)
    assert_error(post_json(client, {}, MINIMAL), 401)
    assert count(read) == before


PRECEDENCE = [
    # (body, expected): each body breaks several rules; the first in 401, 400, 422, 404 order wins.
    ({"device_id": "device-99999", "priority": "urgent"}, 400),
    ({"device_id": 5}, 400),
    ({"device_id": "device-99999", "diagnostic_type": "maintenance", "priority": "urgent"}, 422),
    ({"device_id": "device-99999", "diagnostic_type": 3}, 422),
    ({"device_id": "device-99999", "diagnostic_type": "maintenance", "details": []}, 422),
]


@pytest.mark.parametrize(("body", "expected"), PRECEDENCE)
def test_precedence_400_then_422_then_404(
    client: FlaskClient, auth: dict[str, str], body: dict[str, Any], expected: int
) -> None:
    assert_error(post_json(client, auth, body), expected)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b'{"device_id": 5, "diagnostic_type": "x"}',
        b'{"device_id": "device-99999", "diagnostic_type": "x"}',
    ],
)
def test_precedence_401_before_everything(client: FlaskClient, body: bytes) -> None:
    response = client.post(RESOURCE, data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.fixture
def small_body_app(app_config: dict[str, Any]) -> Flask:
    from mockserver import create_app

    return create_app({"TESTING": True, **app_config, "MAX_CONTENT_LENGTH": 512})


def test_a_body_over_the_limit_is_a_413(small_body_app: Flask, auth: dict[str, str]) -> None:
    client = small_body_app.test_client()
    fits = {**MINIMAL, "notes": "x" * 300}
    assert created(post_json(client, auth, fits))["notes"] == fits["notes"]
    body = assert_error(post_json(client, auth, {**MINIMAL, "notes": "x" * 600}), 413)
    assert "512" in body["detail"]
    form = client.post(RESOURCE, data={"data": json.dumps({**MINIMAL, "notes": "x" * 600})}, headers=auth)
    assert_error(form, 413)


def test_401_wins_over_413(small_body_app: Flask) -> None:
    response = small_body_app.test_client().post(RESOURCE, data="x" * 1000, content_type="application/json")
    assert_error(response, 401)


def test_concurrent_posts_lose_nothing(app: Flask, auth: dict[str, str]) -> None:
    threads_count, per_thread = 8, 50
    before = count(reader(app.test_client(), auth))
    results: list[list[tuple[int, str]]] = [[] for _ in range(threads_count)]
    start = threading.Barrier(threads_count)

    def work(slot: int) -> None:
        client = app.test_client()
        start.wait()
        for number in range(per_thread):
            response = post_json(client, auth, {**MINIMAL, "notes": f"{slot}/{number}"})
            results[slot].append((response.status_code, response.get_json()["id"]))

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    answers = [answer for thread_results in results for answer in thread_results]
    assert {status for status, _ in answers} == {201}
    ids = {record_id for _, record_id in answers}
    assert len(ids) == threads_count * per_thread
    client = app.test_client()
    after = client.get(RESOURCE, query_string={"offset": before, "limit": 100}, headers=auth).get_json()
    assert after["count"] == before + len(ids)
    listed = records(walk(reader(client, auth), f"{RESOURCE}?offset={before}&limit=100", max_pages=10))
    assert {record["id"] for record in listed} == ids
    assert sorted(record["notes"] for record in listed) == sorted(
        f"{slot}/{number}" for slot in range(threads_count) for number in range(per_thread)
    )
