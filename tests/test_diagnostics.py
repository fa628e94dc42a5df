"""The diagnostic helpers behind ``update_status=true``: their configuration, what a refresh stores,
and that a refresh depends only on the seed, the record and how often it was refreshed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE

import fixtures
import schemas
from fixtures.health import Thresholds, assess
from mockserver import create_app
from mockserver.api.diagnostics import DEFAULT_CONFIG, HelperConfigError, parse_config, refresh_devices
from mockserver.services import services_of
from mockserver.storage.memory import MemoryStore

NOW = datetime(2024, 2, 1, 9, 0, 0, tzinfo=UTC)
NOW_TEXT = "2024-02-01T09:00:00Z"
DUE_TEXT = "2024-02-01T13:00:00Z"
SEED = 42
OLD = "2024-01-01T00:00:00Z"


def device(number: int) -> dict[str, str]:
    return {"id": f"device-{number:05d}", "name": f"Device {number}", "serial": f"SN{number}"}


def diagnostic(
    number: int, device_number: int, diagnostic_type: str = "health_check", **extra: Any
) -> dict[str, Any]:
    return {
        "id": f"diag-{number:03d}",
        "device_id": f"device-{device_number:05d}",
        "device_name": f"Device {device_number}",
        "device_serial": f"SN{device_number}",
        "diagnostic_type": diagnostic_type,
        "status": "ok",
        "details": {
            "cpu_usage": 10,
            "memory_usage": 20,
            "disk_space": 90,
            "network_connectivity": "good",
            "last_ping": OLD,
            "probe": "kept",
        },
        "issues": [],
        "created_at": OLD,
        "updated_at": OLD,
        "next_check_due": None,
        **extra,
    }


def small_fixture() -> dict[str, Any]:
    """Device 1: two health checks then maintenance; device 2: maintenance only; device 3: one check."""
    return {
        "devices": [device(1), device(2), device(3)],
        "diagnostics": [
            diagnostic(1, 1),
            diagnostic(2, 1),
            diagnostic(3, 1, "maintenance"),
            diagnostic(4, 2, "maintenance"),
            diagnostic(5, 3),
        ],
    }


def refreshed(
    store: MemoryStore,
    device_ids: list[str],
    config: Any = DEFAULT_CONFIG,
    seed: int = SEED,
    now: datetime = NOW,
) -> list[dict[str, Any]]:
    return refresh_devices(store, device_ids, parse_config(config), seed, now)


def test_the_default_configuration_runs_both_helpers() -> None:
    setup = parse_config(DEFAULT_CONFIG)
    assert [name for name, _ in setup.helpers] == ["resources", "connectivity"]
    assert setup.thresholds == Thresholds()


def test_an_empty_configuration_means_the_defaults() -> None:
    assert parse_config({}) == parse_config(DEFAULT_CONFIG)


def test_thresholds_are_read() -> None:
    setup = parse_config(
        {"helpers": ["resources"], "thresholds": {"disk_low_percent": 40, "cpu_high_percent": 50.5}}
    )
    assert setup.thresholds == dataclasses.replace(Thresholds(), disk_low_percent=40, cpu_high_percent=50.5)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (None, "JSON object"),
        (["resources"], "JSON object"),
        ({"helpers": "resources"}, "'helpers'"),
        ({"helpers": ["resources", 3]}, "'helpers'"),
        ({"helpers": ["nope"]}, "'nope'"),
        ({"helpers": ["resources", "ping", "nope"]}, "'ping', 'nope'"),
        ({"thresholds": [25]}, "'thresholds'"),
        ({"thresholds": {"disk_percent": 25}}, "'disk_percent'"),
        ({"thresholds": {"disk_low_percent": 101}}, "'disk_low_percent'"),
        ({"thresholds": {"cpu_high_percent": -1}}, "'cpu_high_percent'"),
        ({"thresholds": {"memory_high_percent": True}}, "'memory_high_percent'"),
        ({"thresholds": {"memory_high_percent": "90"}}, "'memory_high_percent'"),
    ],
)
def test_a_broken_configuration_says_what_is_wrong(config: Any, named: str) -> None:
    with pytest.raises(HelperConfigError) as caught:
        parse_config(config)
    assert named in str(caught.value)


def test_the_unknown_helper_message_lists_the_known_ones() -> None:
    with pytest.raises(HelperConfigError, match="known: resources, connectivity"):
        parse_config({"helpers": ["nope"]})


def test_a_refresh_updates_the_newest_health_check_of_each_device() -> None:
    store = MemoryStore(small_fixture())
    results = refreshed(store, ["device-00001", "device-00002", "device-00003"])
    assert [record["id"] for record in results] == ["diag-002", "diag-005"]
    for record in results:
        assert store.get(record["id"]) == record
        assert (record["updated_at"], record["next_check_due"], record["created_at"]) == (
            NOW_TEXT,
            DUE_TEXT,
            OLD,
        )
        assert record["details"]["last_ping"] == NOW_TEXT
        assert record["details"]["probe"] == "kept"
        assert (record["status"], record["issues"]) == assess(record["details"])
        schemas.validator("diag").validate(record)
    untouched = small_fixture()["diagnostics"]
    for index in (0, 2, 3):
        assert store.get(untouched[index]["id"]) == untouched[index]


def test_a_device_is_refreshed_once_however_often_it_is_named() -> None:
    store = MemoryStore(small_fixture())
    assert len(refreshed(store, ["device-00003", "device-00003", "device-00003"])) == 1
    assert store.next_refresh("diag-005") == 2


def test_refreshes_are_the_same_for_the_same_seed_record_and_count() -> None:
    first, second = MemoryStore(small_fixture()), MemoryStore(small_fixture())
    # Refreshing another record in between does not change this record's values.
    refreshed(second, ["device-00001"])
    assert refreshed(first, ["device-00003"]) == refreshed(second, ["device-00003"])
    assert refreshed(first, ["device-00003"]) == refreshed(second, ["device-00003"])


def test_refreshes_differ_by_seed_and_by_count() -> None:
    store, other_seed = MemoryStore(small_fixture()), MemoryStore(small_fixture())
    first = refreshed(store, ["device-00003"])[0]["details"]
    again = refreshed(store, ["device-00003"])[0]["details"]
    reseeded = refreshed(other_seed, ["device-00003"], seed=SEED + 1)[0]["details"]
    assert first != again
    assert first != reseeded


def test_only_the_configured_helpers_run() -> None:
    store = MemoryStore(small_fixture())
    before = small_fixture()["diagnostics"][4]["details"]
    connectivity = refreshed(store, ["device-00003"], {"helpers": ["connectivity"]})[0]["details"]
    assert {key: connectivity[key] for key in ("cpu_usage", "memory_usage", "disk_space")} == {
        key: before[key] for key in ("cpu_usage", "memory_usage", "disk_space")
    }
    assert connectivity["last_ping"] == NOW_TEXT

    store = MemoryStore(small_fixture())
    resources = refreshed(store, ["device-00003"], {"helpers": ["resources"]})[0]["details"]
    assert (resources["network_connectivity"], resources["last_ping"]) == ("good", OLD)
    assert all(0 <= resources[key] <= 100 for key in ("cpu_usage", "memory_usage", "disk_space"))


def test_no_helpers_reassesses_the_stored_readings() -> None:
    fixture = small_fixture()
    fixture["diagnostics"][4]["details"]["disk_space"] = 3
    store = MemoryStore(fixture)
    record = refreshed(store, ["device-00003"], {"helpers": []})[0]
    assert record["details"] == fixture["diagnostics"][4]["details"]
    assert record["status"] == "critical"
    assert [issue["code"] for issue in record["issues"]] == ["DISK_LOW"]
    assert record["updated_at"] == NOW_TEXT


def test_thresholds_decide_status_and_issues() -> None:
    config = {
        "helpers": ["resources"],
        "thresholds": {"disk_low_percent": 100, "cpu_high_percent": 0, "memory_high_percent": 0},
    }
    record = refreshed(MemoryStore(small_fixture()), ["device-00003"], config)[0]
    assert (record["status"], record["issues"]) == assess(record["details"], parse_config(config).thresholds)
    assert {"DISK_LOW", "CPU_HIGH", "MEMORY_HIGH"} <= {issue["code"] for issue in record["issues"]}
    assert record["status"] in ("warning", "critical")


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "DIAGS_CLOCK": lambda: NOW}


def get(client: FlaskClient, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(RESOURCE, query_string=params, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def test_update_status_refreshes_the_device_before_answering(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    documented = fixtures.DOCUMENTED_DEVICE_ID
    before = get(client, auth, id=documented)["results"]
    answer = get(client, auth, id=documented, update_status="true")["results"]
    newest_check = max(
        (record for record in before if record["diagnostic_type"] == "health_check"),
        key=lambda record: record["created_at"],
    )
    changed = [record for record in answer if record not in before]
    assert [record["id"] for record in changed] == [newest_check["id"]]
    assert changed[0]["updated_at"] == NOW_TEXT
    assert changed[0]["next_check_due"] == (NOW + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The refresh is stored: a later plain GET sees it.
    assert get(client, auth, id=documented)["results"] == answer


def test_update_status_refreshes_the_devices_of_the_page(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    page = get(client, auth, limit=5, offset=10, update_status="1")["results"]
    on_page = {record["device_id"] for record in page}
    with app.app_context():
        store = services_of(app).store
        for device_id in on_page:
            latest = store.latest(device_id, "health_check")
            assert latest is not None and latest["updated_at"] == NOW_TEXT
        _, everything = store.page(None, 0, 1000)
    refreshed_devices = {record["device_id"] for record in everything if record["updated_at"] == NOW_TEXT}
    assert refreshed_devices == on_page


def test_update_status_refreshes_a_newer_health_check_off_the_page_and_not_the_page_itself(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    everything = get(client, auth, limit=100)["results"] + get(client, auth, limit=100, offset=100)["results"]
    newest_checks = {}
    for record in everything:
        if record["diagnostic_type"] == "health_check":
            newest_checks[record["device_id"]] = record["id"]
    offset, shown = next((offset, record) for offset, record in enumerate(everything)
                         if newest_checks.get(record["device_id"], record["id"]) != record["id"])
    answer = get(client, auth, limit=1, offset=offset, update_status="true")["results"]
    assert answer == [shown]
    after = get(client, auth, limit=100)["results"] + get(client, auth, limit=100, offset=100)["results"]
    changed = [record["id"] for record, was in zip(after, everything, strict=True) if record != was]
    assert changed == [newest_checks[shown["device_id"]]]


def test_update_status_false_changes_nothing(client: FlaskClient, auth: dict[str, str]) -> None:
    before = client.get(RESOURCE, query_string={"limit": 100}, headers=auth).data
    for spelling in ("false", "0", "FALSE"):
        get(client, auth, update_status=spelling)
    assert client.get(RESOURCE, query_string={"limit": 100}, headers=auth).data == before


def test_refreshes_are_reproducible_across_apps(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    answers = []
    for _ in range(2):
        client = create_app({"TESTING": True, **app_config}).test_client()
        first = client.get(RESOURCE, query_string={"update_status": "true"}, headers=auth).data
        second = client.get(RESOURCE, query_string={"update_status": "true"}, headers=auth).data
        answers.append((first, second))
    assert answers[0] == answers[1]
    assert answers[0][0] != answers[0][1]


def test_configured_thresholds_reach_the_refresh(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    config = {"helpers": ["resources"], "thresholds": {"disk_low_percent": 100, "cpu_high_percent": 0}}
    client = create_app({"TESTING": True, **app_config, "DIAGS_HELPERS": config}).test_client()
    answer = get(client, auth, id=fixtures.DOCUMENTED_DEVICE_ID, update_status="true")["results"]
    fresh = [record for record in answer if record["updated_at"] == NOW_TEXT]
    assert len(fresh) == 1
    assert (fresh[0]["status"], fresh[0]["issues"]) == assess(
        fresh[0]["details"], parse_config(config).thresholds
    )
    assert "CPU_HIGH" in {issue["code"] for issue in fresh[0]["issues"]}
