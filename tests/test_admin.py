"""The admin API under ``/__admin/``: who may use it, state, reset, devices, and resets under load.

Every test runs on both stores (in memory and SQLite), since the admin API must behave the same.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE

import fixtures
import schemas
from mockserver import create_app
from mockserver.control.admin import is_loopback

TOKEN = "test-token"  # conftest's API token
ADMIN_TOKEN = "admin-secret"
DEVICE = fixtures.DOCUMENTED_DEVICE_ID
ADMIN_ROUTES = [("GET", "/__admin/state"), ("POST", "/__admin/reset"), ("GET", "/__admin/requests"),
                ("DELETE", "/__admin/requests"), ("GET", "/__admin/faults"), ("POST", "/__admin/faults"),
                ("DELETE", "/__admin/faults"), ("DELETE", "/__admin/faults/fault-1"),
                ("GET", "/__admin/devices"), ("POST", "/__admin/devices")]


@pytest.fixture(params=["memory", "sqlite"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {**app_config, "DIAGS_DB": str(tmp_path / "admin.db")}
    return app_config


def build(app_config: dict[str, Any], **settings: Any) -> FlaskClient:
    return create_app({"TESTING": True, **app_config, **settings}).test_client()


def other_store(app_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The same kind of store as ``app_config``'s, in another file if it is a database."""
    return {**app_config, "DIAGS_DB": str(tmp_path / "other.db")} if "DIAGS_DB" in app_config else app_config


def first_page(client: FlaskClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get(RESOURCE, query_string={"limit": 100}, headers=auth)
    assert answer.status_code == 200
    results: list[dict[str, Any]] = answer.get_json()["results"]
    return results


def create(client: FlaskClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    answer = client.post(RESOURCE, json={"device_id": DEVICE, "diagnostic_type": "maintenance", **fields},
                         headers=auth)
    assert answer.status_code == 201, answer.get_json()
    created: dict[str, Any] = answer.get_json()
    return created


# Who may use it.


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com", ""])
def test_other_addresses_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_without_an_admin_token_a_loopback_server_opens_the_admin_api(client: FlaskClient) -> None:
    assert client.get("/__admin/state").status_code == 200


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_without_an_admin_token_a_public_server_hides_every_admin_route(
    app_config: dict[str, Any], method: str, path: str
) -> None:
    client = build(app_config, DIAGS_HOST="0.0.0.0")
    answer = client.open(path, method=method, json={})
    assert answer.status_code == 404
    assert "--admin-token" in answer.get_json()["detail"]


def test_health_is_open_to_anybody(app_config: dict[str, Any]) -> None:
    for client in (build(app_config, DIAGS_HOST="0.0.0.0"), build(app_config, DIAGS_ADMIN_TOKEN=ADMIN_TOKEN)):
        answer = client.get("/__admin/health")
        assert (answer.status_code, answer.get_json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("authorization", [None, f"Bearer {TOKEN}", f"Basic {ADMIN_TOKEN}", "Bearer wrong"])
def test_with_an_admin_token_every_admin_route_wants_it(
    app_config: dict[str, Any], method: str, path: str, authorization: str | None
) -> None:
    client = build(app_config, DIAGS_ADMIN_TOKEN=ADMIN_TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    answer = client.open(path, method=method, json={}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="admin"'
    assert set(answer.get_json()) == {"detail"}


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_admin_token_opens_the_admin_api_wherever_bound(app_config: dict[str, Any], host: str) -> None:
    client = build(app_config, DIAGS_ADMIN_TOKEN=ADMIN_TOKEN, DIAGS_HOST=host)
    assert client.get("/__admin/state", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200


def test_the_admin_token_is_not_an_api_token(app_config: dict[str, Any]) -> None:
    client = build(app_config, DIAGS_ADMIN_TOKEN=ADMIN_TOKEN)
    assert client.get(RESOURCE, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 401


def test_unknown_admin_routes_and_methods_answer_json_errors(client: FlaskClient) -> None:
    missing = client.get("/__admin/nothing-here")
    assert missing.status_code == 404 and "detail" in missing.get_json()
    wrong = client.put("/__admin/reset")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"] and "detail" in wrong.get_json()


# State and reset.


def test_state_says_what_the_mock_holds(client: FlaskClient, app_config: dict[str, Any]) -> None:
    state = client.get("/__admin/state").get_json()
    expected_store = "sqlite" if "DIAGS_DB" in app_config else "memory"
    assert (state["store"], state["seed"]) == (expected_store, fixtures.DEFAULT_SEED)
    assert (state["devices"], state["diagnostics"]) == (fixtures.DEFAULT_DEVICES, fixtures.DEFAULT_DIAGS)
    assert state["faults"] == 0
    assert state["journal"] == {"size": 1000, "entries": 0}


def test_reset_restores_the_start_up_data(client: FlaskClient, auth: dict[str, str]) -> None:
    before = first_page(client, auth)
    create(client, auth, notes="gone after the reset")
    new_device = {"id": "d-new", "name": "N", "serial": "S"}
    assert client.post("/__admin/devices", json=new_device).status_code == 201
    refresh = {"id": DEVICE, "update_status": "true"}
    assert client.get(RESOURCE, query_string=refresh, headers=auth).status_code == 200
    assert first_page(client, auth) != before

    answer = client.post("/__admin/reset")
    assert answer.status_code == 200
    state = answer.get_json()
    assert (state["devices"], state["diagnostics"]) == (fixtures.DEFAULT_DEVICES, fixtures.DEFAULT_DIAGS)
    assert answer.get_json() == client.get("/__admin/state").get_json()
    assert first_page(client, auth) == before
    assert client.get(RESOURCE, query_string={"id": "d-new"}, headers=auth).status_code == 404


def test_reset_with_a_seed_serves_that_seeds_data_until_the_next_reset(
    client: FlaskClient, auth: dict[str, str], app_config: dict[str, Any], tmp_path: Path
) -> None:
    original = first_page(client, auth)
    seeded_seven = first_page(build(other_store(app_config, tmp_path), DIAGS_SEED=7), auth)
    assert seeded_seven != original

    answer = client.post("/__admin/reset", json={"seed": 7})
    assert (answer.status_code, answer.get_json()["seed"]) == (200, 7)
    assert first_page(client, auth) == seeded_seven
    assert client.post("/__admin/reset", json={}).get_json()["seed"] == fixtures.DEFAULT_SEED
    assert first_page(client, auth) == original


def test_state_and_resets_say_when_the_data_comes_from_a_fixture_file(
    app_config: dict[str, Any], auth: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "mine.json"
    fixtures.write(fixtures.generate(5, 6, 20), path)
    client = build(app_config, DIAGS_FIXTURES_PATH=str(path))
    on_file = first_page(client, auth)
    described = client.get("/__admin/state").get_json()["data"]
    if "DIAGS_DB" in app_config:
        assert described == f"the database {app_config['DIAGS_DB']}"
    else:
        assert described == f"the fixture file {path}"

    answer = client.post("/__admin/reset", json={"seed": 7}).get_json()
    assert str(path) in answer["note"] and "seed 7" in answer["note"]
    assert first_page(client, auth) != on_file
    if "DIAGS_DB" not in app_config:
        assert answer["data"] == "generated from seed 7"

    back = client.post("/__admin/reset", json={}).get_json()
    assert "note" not in back
    assert first_page(client, auth) == on_file
    if "DIAGS_DB" not in app_config:
        assert back["data"] == f"the fixture file {path}"


def test_generated_data_is_described_by_its_seed(client: FlaskClient, app_config: dict[str, Any]) -> None:
    if "DIAGS_DB" not in app_config:
        described = client.get("/__admin/state").get_json()["data"]
        assert described == f"generated from seed {fixtures.DEFAULT_SEED}"
    assert "note" not in client.post("/__admin/reset", json={"seed": 3}).get_json()


@pytest.mark.parametrize(("body", "status"), [
    (b"[]", 422), (b'{"seed": "7"}', 422), (b'{"seed": true}', 422), (b'{"seed": 1.5}', 422),
    (b'{"devices": 3}', 422), (b"{", 400),
])
def test_reset_refuses_bad_bodies_and_changes_nothing(
    client: FlaskClient, auth: dict[str, str], body: bytes, status: int
) -> None:
    created = create(client, auth)
    answer = client.post("/__admin/reset", data=body, content_type="application/json")
    assert answer.status_code == status
    assert "detail" in answer.get_json()
    assert created in first_page(client, auth) + client.get(
        RESOURCE, query_string={"offset": 200, "limit": 100}, headers=auth).get_json()["results"]


def test_ids_are_never_reused_across_a_reset(client: FlaskClient, auth: dict[str, str]) -> None:
    first = create(client, auth)["id"]
    client.post("/__admin/reset")
    second = create(client, auth)["id"]
    assert int(second.removeprefix("diag-")) == int(first.removeprefix("diag-")) + 1


def test_readers_see_one_whole_state_while_resets_switch_seeds(
    app: Flask, auth: dict[str, str], app_config: dict[str, Any], tmp_path: Path
) -> None:
    client = app.test_client()
    seven = build(other_store(app_config, tmp_path), DIAGS_SEED=7)
    pages = [first_page(client, auth), first_page(seven, auth)]
    seen: list[bool] = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        reader = app.test_client()
        for _ in range(40):
            if stop.is_set():
                return
            answer = reader.get(RESOURCE, query_string={"limit": 100}, headers=auth)
            if answer.status_code != 200:
                errors.append(f"{answer.status_code} {answer.get_json()}")
            else:
                seen.append(answer.get_json()["results"] in pages)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for seed in (7, 42, 7, 42, 7, 42):
        assert client.post("/__admin/reset", json={"seed": seed}).status_code == 200
    stop.set()
    for reader in readers:
        reader.join(timeout=60)
    assert not errors
    assert seen and all(seen)


def test_a_reset_while_requests_are_in_flight_breaks_none_of_them(app: Flask, auth: dict[str, str]) -> None:
    statuses: list[int] = []

    def work() -> None:
        worker = app.test_client()
        for _ in range(15):
            # A new health check, then a refresh of the newest one: a reset in between removes it.
            created = worker.post(RESOURCE, json={"device_id": DEVICE, "diagnostic_type": "health_check"},
                                  headers=auth)
            refresh = {"id": DEVICE, "update_status": "true"}
            refreshed = worker.get(RESOURCE, query_string=refresh, headers=auth)
            statuses.extend([created.status_code, refreshed.status_code])

    client = app.test_client()
    original = first_page(client, auth)
    workers = [threading.Thread(target=work) for _ in range(3)]
    for worker in workers:
        worker.start()
    for _ in range(6):
        assert client.post("/__admin/reset").status_code == 200
        time.sleep(0.005)
    for worker in workers:
        worker.join(timeout=60)
    assert set(statuses) <= {200, 201}
    assert client.post("/__admin/reset").status_code == 200
    assert first_page(client, auth) == original


# Devices.


def test_an_added_device_can_be_used_at_once(client: FlaskClient, auth: dict[str, str]) -> None:
    device = {"id": "device-test-1", "name": "Test Router", "serial": "TR-1", "location": "Lab"}
    answer = client.post("/__admin/devices", json=device)
    assert (answer.status_code, answer.get_json()) == (201, device)
    assert client.get(RESOURCE, query_string={"id": "device-test-1"}, headers=auth).get_json()["count"] == 0
    created = create(client, auth, device_id="device-test-1")
    assert (created["device_name"], created["device_serial"]) == ("Test Router", "TR-1")


def test_devices_can_be_added_as_a_list_or_an_object_holding_one(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    devices = [{"id": f"device-list-{n}", "name": f"D{n}", "serial": f"S{n}"} for n in range(3)]
    assert client.post("/__admin/devices", json=devices[:2]).get_json() == {"devices": devices[:2]}
    wrapped = {"devices": devices[2:]}
    assert client.post("/__admin/devices", json=wrapped).get_json() == wrapped
    assert all(client.get(RESOURCE, query_string={"id": device["id"]}, headers=auth).status_code == 200
               for device in devices)


def test_get_devices_lists_the_inventory(client: FlaskClient) -> None:
    listing = client.get("/__admin/devices")
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["count"] == fixtures.DEFAULT_DEVICES == len(body["devices"])
    assert body["devices"] == fixtures.default()["devices"]
    added = {"id": "device-listed", "name": "Listed", "serial": "L-1"}
    client.post("/__admin/devices", json=added)
    assert client.get("/__admin/devices").get_json()["devices"][-1] == added
    page = client.get("/__admin/devices?offset=1&limit=2").get_json()
    assert (page["count"], page["devices"]) == (fixtures.DEFAULT_DEVICES + 1, body["devices"][1:3])
    assert client.get("/__admin/devices?limit=x").status_code == 400


def test_adding_a_known_device_replaces_it(client: FlaskClient, auth: dict[str, str]) -> None:
    before = client.get("/__admin/state").get_json()["devices"]
    renamed = {"id": DEVICE, "name": "Renamed Printer", "serial": "HP123456789"}
    assert client.post("/__admin/devices", json=renamed).status_code == 201
    assert client.get("/__admin/state").get_json()["devices"] == before
    assert create(client, auth)["device_name"] == "Renamed Printer"


@pytest.mark.parametrize(("body", "status"), [
    ({"id": "d1", "name": "N"}, 422),
    ({"id": "", "name": "N", "serial": "S"}, 422),
    ({"id": 5, "name": "N", "serial": "S"}, 422),
    ([{"id": "ok-1", "name": "N", "serial": "S"}, {"id": "bad"}], 422),
    ([{"id": "ok-2", "name": "N", "serial": "S"}, "not an object"], 422),
    ([], 400),
    ("a string", 400),
])
def test_bad_devices_are_refused_and_none_is_added(client: FlaskClient, body: Any, status: int) -> None:
    before = client.get("/__admin/state").get_json()["devices"]
    answer = client.post("/__admin/devices", json=body)
    assert answer.status_code == status
    assert "detail" in answer.get_json()
    assert client.get("/__admin/state").get_json()["devices"] == before


def test_a_seed_written_as_a_whole_number_with_a_point_is_that_seed(client: FlaskClient) -> None:
    # JSON Schema's integers (the reset schema's) include 7.0; the data is the data of seed 7.
    answer = client.post("/__admin/reset", json={"seed": 7.0})
    assert (answer.status_code, answer.get_json()["seed"]) == (200, 7)


@pytest.mark.parametrize("body", [
    {"devices": [{"id": "d-x", "name": "N", "serial": "S"}], "more": 1},
    [None, None],
    {"id": "d-y", "name": "N", "serial": "S", "extra": 2**70},
])
def test_the_devices_schema_is_what_the_mock_takes(client: FlaskClient, body: Any) -> None:
    assert not schemas.validator("admin-devices-request").is_valid(body)
    assert client.post("/__admin/devices", json=body).status_code in (400, 422)
