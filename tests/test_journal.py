"""The request journal (``/__admin/requests``): what is recorded, masked, filtered, bounded and cleared.

The tests through the app run on both stores: with a database the journal is shared by workers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from listing import RESOURCE

import fixtures
from mockserver import create_app
from mockserver.control.journal import mask_authorization
from mockserver.storage.base import EXCERPT_CHARS

TOKEN = "test-token"  # conftest's API token
DEVICE = fixtures.DOCUMENTED_DEVICE_ID
BODY = {"device_id": DEVICE, "diagnostic_type": "maintenance"}


@pytest.fixture(params=["memory", "sqlite"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {**app_config, "DIAGS_DB": str(tmp_path / "journal.db")}
    return app_config


def journal(client: FlaskClient, **filters: Any) -> list[dict[str, Any]]:
    answer = client.get("/__admin/requests", query_string=filters)
    assert answer.status_code == 200
    entries: list[dict[str, Any]] = answer.get_json()["requests"]
    assert answer.get_json()["count"] == len(entries)
    return entries


@pytest.mark.parametrize(("header", "masked"), [
    (None, None),
    ("Bearer YOUR_API_TOKEN", "Bearer YOUR…"),
    ("Bearer short-token", "Bearer …"),
    ("Basic dXNlcjpwYXNzd29yZA==", "Basic dXNl…"),
    ("just-a-token-without-scheme", "…"),
    ("Bearer", "Bearer"),
    ("", ""),
])
def test_the_token_is_masked(header: str | None, masked: str | None) -> None:
    assert mask_authorization(header) == masked


def test_a_request_is_recorded_with_what_the_client_sent_and_got(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    client.post(RESOURCE + "?trace=1", json={**BODY, "notes": "hello"}, headers=auth)
    [entry] = journal(client)
    assert entry["method"] == "POST"
    assert (entry["path"], entry["query"], entry["status"]) == (RESOURCE, "trace=1", 201)
    assert json.loads(entry["body"]) == {**BODY, "notes": "hello"}
    assert entry["body_bytes"] == len(entry["body"].encode())
    assert entry["content_type"] == "application/json"
    assert entry["authorization"] == "Bearer …"
    assert entry["duration_ms"] >= 0
    assert entry["faults"] == []
    assert TOKEN not in json.dumps(entry)


def test_a_get_with_unknown_query_parameters_gets_a_note(client: FlaskClient, auth: dict[str, str]) -> None:
    client.get(RESOURCE, query_string={"device_id": DEVICE, "limit": 2}, headers=auth)
    client.get(RESOURCE, query_string={"id": DEVICE, "limit": 2}, headers=auth)
    plain, typo = journal(client)
    assert "note" not in plain
    assert typo["note"] == "ignored query parameter(s), which the API does not have: device_id"


def test_entries_are_newest_first_and_filterable(client: FlaskClient, auth: dict[str, str]) -> None:
    client.get(RESOURCE, headers=auth)
    client.post(RESOURCE, json=BODY, headers=auth)
    client.post(RESOURCE, json={"device_id": "nope", "diagnostic_type": "x"}, headers=auth)
    client.get(RESOURCE + "?id=nope", headers=auth)
    assert [(entry["method"], entry["status"]) for entry in journal(client)] == [
        ("GET", 404), ("POST", 404), ("POST", 201), ("GET", 200)]
    assert [entry["status"] for entry in journal(client, method="post")] == [404, 201]
    assert [entry["method"] for entry in journal(client, status=404)] == ["GET", "POST"]
    assert [entry["status"] for entry in journal(client, method="POST", status=201)] == [201]
    assert [entry["status"] for entry in journal(client, limit=2)] == [404, 404]
    ids = [entry["id"] for entry in journal(client)]
    assert ids == sorted(ids, reverse=True)


def test_a_bad_filter_is_a_400(client: FlaskClient) -> None:
    answer = client.get("/__admin/requests", query_string={"status": "5xx"})
    assert answer.status_code == 400
    assert "status" in answer.get_json()["errors"]


def test_failed_and_unknown_requests_are_recorded_and_admin_requests_are_not(client: FlaskClient) -> None:
    client.get(RESOURCE)
    client.get("/nowhere")
    client.get("/__admin/state")
    client.post("/__admin/faults", json={"status": 503})
    assert [(entry["path"], entry["status"], entry["authorization"]) for entry in journal(client)] == [
        ("/nowhere", 404, None), (RESOURCE, 401, None)]


def test_a_body_the_mock_did_not_read_is_not_read_for_the_journal(client: FlaskClient) -> None:
    payload = json.dumps(BODY).encode()
    client.post(RESOURCE, data=payload, content_type="application/json")
    [entry] = journal(client)
    assert (entry["status"], entry["body"], entry["body_bytes"]) == (401, None, len(payload))


def test_the_body_excerpt_is_bounded(client: FlaskClient, auth: dict[str, str]) -> None:
    notes = "é" * (EXCERPT_CHARS * 2)
    client.post(RESOURCE, json={**BODY, "notes": notes}, headers=auth)
    [entry] = journal(client)
    assert len(entry["body"]) == EXCERPT_CHARS
    assert entry["body_bytes"] > EXCERPT_CHARS * 2


def test_faulted_and_dropped_requests_name_their_faults(client: FlaskClient, auth: dict[str, str]) -> None:
    error = client.post("/__admin/faults", json={"method": "GET", "status": 503, "times": 1}).get_json()
    drop = client.post("/__admin/faults", json={"method": "POST", "drop": True, "times": 1}).get_json()
    client.get(RESOURCE, headers=auth)
    client.post(RESOURCE, json=BODY, headers=auth)
    assert [(entry["status"], entry["faults"]) for entry in journal(client)] == [
        (None, [drop["id"]]), (503, [error["id"]])]
    assert json.loads(journal(client, method="POST")[0]["body"]) == BODY


def test_the_journal_keeps_only_the_newest_entries(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    client = create_app({"TESTING": True, **app_config, "DIAGS_JOURNAL_SIZE": 3}).test_client()
    for offset in range(5):
        client.get(RESOURCE, query_string={"offset": offset}, headers=auth)
    assert [entry["query"] for entry in journal(client)] == ["offset=4", "offset=3", "offset=2"]
    assert client.get("/__admin/state").get_json()["journal"] == {"size": 3, "entries": 3}


def test_size_zero_turns_the_journal_off(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    client = create_app({"TESTING": True, **app_config, "DIAGS_JOURNAL_SIZE": 0}).test_client()
    client.get(RESOURCE, headers=auth)
    answer = client.get("/__admin/requests").get_json()
    assert answer == {"size": 0, "count": 0, "requests": []}


def test_delete_clears_the_journal(client: FlaskClient, auth: dict[str, str]) -> None:
    client.get(RESOURCE, headers=auth)
    client.get(RESOURCE, headers=auth)
    assert client.delete("/__admin/requests").get_json() == {"deleted": 2}
    assert journal(client) == []
    client.get(RESOURCE, headers=auth)
    assert len(journal(client)) == 1
