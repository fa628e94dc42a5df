"""Injected faults: their definitions, their scope, their effects, and that a seed makes them repeatable.

The tests through the app run on both stores: with a database the faults live in it, shared by workers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from listing import RESOURCE

import fixtures
import schemas
from mockserver.control.faults import FaultError, parse_fault, parse_faults
from mockserver.pipeline import DROPPED_LENGTH
from mockserver.serving import cli
from mockserver.storage.base import FIELDS, Fault, roll

DEVICE = fixtures.DOCUMENTED_DEVICE_ID
BODY = {"device_id": DEVICE, "diagnostic_type": "maintenance"}


@pytest.fixture(params=["memory", "sqlite"])
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {**app_config, "DIAGS_DB": str(tmp_path / "faults.db")}
    return app_config


def add_fault(client: FlaskClient, **definition: Any) -> dict[str, Any]:
    answer = client.post("/__admin/faults", json=definition)
    assert answer.status_code == 201, answer.get_json()
    added: dict[str, Any] = answer.get_json()
    return added


def diagnostics_count(client: FlaskClient) -> int:
    count: int = client.get("/__admin/state").get_json()["diagnostics"]
    return count


# Definitions.


def test_a_minimal_fault_gets_the_documented_defaults() -> None:
    fault = parse_fault({"status": 503})
    assert (fault.method, fault.path, fault.rate, fault.latency_ms, fault.times, fault.seed) == (
        "*", "*", 1.0, 0, None, None)


@pytest.mark.parametrize(("definition", "field"), [
    ({"latency_ms": -1}, "latency_ms"),
    ({"latency_ms": 1.5}, "latency_ms"),
    ({"latency_ms": 100, "latency_max_ms": 50}, "latency_max_ms"),
    ({"status": 200}, "status"),
    ({"status": "503"}, "status"),
    ({"status": 503, "rate": 1.5}, "rate"),
    ({"status": 503, "rate": True}, "rate"),
    ({"status": 503, "method": "FETCH"}, "method"),
    ({"status": 503, "path": "api/v1"}, "path"),
    ({"status": 503, "path": "/__admin/state"}, "path"),
    ({"drop": "yes"}, "drop"),
    ({"status": 503, "times": 0}, "times"),
    ({"status": 503, "seed": "x"}, "seed"),
    ({"status": 503, "drop": True}, "drop"),
    ({"helper_error": True, "latency_ms": 5}, "helper_error"),
    ({"method": "GET"}, "body"),
    ({"status": 503, "colour": "red"}, "body"),
])
def test_bad_definitions_name_the_bad_field(definition: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultError) as raised:
        parse_fault(definition)
    assert field in raised.value.errors


def test_a_list_of_faults_names_the_bad_one() -> None:
    with pytest.raises(FaultError) as raised:
        parse_faults({"faults": [{"status": 503}, {"status": 99}]})
    assert list(raised.value.errors) == ["[1].status"]


@pytest.mark.parametrize(("scope", "method", "path", "expected"), [
    ({}, "POST", "/api/v1/anything", True),
    ({"method": "get"}, "GET", RESOURCE, True),
    ({"method": "GET"}, "POST", RESOURCE, False),
    ({"path": RESOURCE}, "GET", RESOURCE.rstrip("/"), True),
    ({"path": RESOURCE.rstrip("/")}, "GET", RESOURCE, True),
    ({"path": RESOURCE}, "GET", "/api/v1/openapi.json", False),
    ({"path": "/api/v1/*"}, "GET", "/api/v1/openapi.json", True),
    ({"path": "/api/v1/*"}, "GET", "/other", False),
    ({}, "GET", "/__admin/state", False),
])
def test_faults_are_scoped_by_method_and_path(
    scope: dict[str, Any], method: str, path: str, expected: bool
) -> None:
    assert parse_fault({"status": 503, **scope}).matches(method, path) is expected


# Repeatability.


def pattern(fault: Fault, seed: int, count: int = 64) -> list[bool]:
    return [roll(fault, number, seed)[0] for number in range(1, count + 1)]


def test_the_same_seed_and_definition_trigger_on_the_same_requests() -> None:
    fault = parse_fault({"status": 503, "rate": 0.5})
    assert pattern(fault, 42) == pattern(parse_fault({"status": 503, "rate": 0.5}), 42)
    assert pattern(fault, 42) != pattern(fault, 43)
    assert pattern(fault, 42) != pattern(parse_fault({"status": 500, "rate": 0.5}), 42)
    assert pattern(parse_fault({"status": 503, "rate": 0.5, "seed": 9}), 42) == pattern(
        parse_fault({"status": 503, "rate": 0.5, "seed": 9}), 7)


def test_the_rate_is_the_share_of_triggered_requests() -> None:
    assert not any(pattern(parse_fault({"status": 503, "rate": 0}), 42))
    assert all(pattern(parse_fault({"status": 503}), 42))
    share = sum(pattern(parse_fault({"status": 503, "rate": 0.3}), 42, 2000)) / 2000
    assert 0.26 < share < 0.34


def test_a_random_latency_stays_in_its_range_and_reaches_both_ends() -> None:
    fault = parse_fault({"latency_ms": 10, "latency_max_ms": 14})
    latencies = {roll(fault, number, 42)[1] for number in range(1, 200)}
    assert latencies == {10, 11, 12, 13, 14}


# Effects, through the app.


def test_a_fixed_latency_slows_only_the_requests_in_scope(client: FlaskClient, auth: dict[str, str]) -> None:
    add_fault(client, method="GET", path=RESOURCE, latency_ms=200)
    started = time.perf_counter()
    assert client.get(RESOURCE, headers=auth).status_code == 200
    slow = time.perf_counter() - started
    started = time.perf_counter()
    assert client.post(RESOURCE, json=BODY, headers=auth).status_code == 201
    fast = time.perf_counter() - started
    assert slow >= 0.2
    assert fast < 0.2


def test_an_error_status_answers_with_the_error_body_and_writes_nothing(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    fault = add_fault(client, method="POST", path=RESOURCE, status=503)
    before = diagnostics_count(client)
    answer = client.post(RESOURCE, json=BODY, headers=auth)
    assert answer.status_code == 503
    assert schemas.validator("error").is_valid(answer.get_json())
    assert fault["id"] in answer.get_json()["detail"]
    assert diagnostics_count(client) == before
    assert client.get(RESOURCE, headers=auth).status_code == 200


def test_faults_come_after_authentication(client: FlaskClient) -> None:
    add_fault(client, status=503)
    assert client.get(RESOURCE).status_code == 401


def test_a_rate_fault_repeats_the_same_pattern_after_being_set_again(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    def run() -> list[int]:
        add_fault(client, method="GET", path=RESOURCE, status=503, rate=0.5)
        statuses = [client.get(RESOURCE, query_string={"limit": 1}, headers=auth).status_code
                    for _ in range(16)]
        assert client.delete("/__admin/faults").get_json() == {"deleted": 1}
        return statuses

    first = run()
    assert set(first) == {200, 503}
    assert run() == first


def test_a_fault_with_times_triggers_that_often_and_is_removed(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    add_fault(client, method="POST", path=RESOURCE, status=500, times=2)
    statuses = [client.post(RESOURCE, json=BODY, headers=auth).status_code for _ in range(4)]
    assert statuses == [500, 500, 201, 201]
    assert client.get("/__admin/faults").get_json() == {"count": 0, "faults": []}


def test_a_helper_error_breaks_only_update_status_requests(client: FlaskClient, auth: dict[str, str]) -> None:
    add_fault(client, method="GET", path=RESOURCE, helper_error=True, times=1)
    assert client.get(RESOURCE, headers=auth).status_code == 200
    answer = client.get(RESOURCE, query_string={"update_status": "true"}, headers=auth)
    assert answer.status_code == 500
    assert schemas.validator("error").is_valid(answer.get_json())
    assert "helper configuration" in answer.get_json()["detail"]
    assert client.get(RESOURCE, query_string={"update_status": "true"}, headers=auth).status_code == 200


def test_a_dropped_request_promises_a_body_it_never_sends_and_writes_nothing(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    add_fault(client, method="POST", path=RESOURCE, drop=True)
    before = diagnostics_count(client)
    answer = client.post(RESOURCE, json=BODY, headers=auth)
    assert answer.headers["Content-Length"] == str(DROPPED_LENGTH)
    assert answer.get_data() == b""
    assert diagnostics_count(client) == before


def test_faults_never_touch_the_admin_api(client: FlaskClient) -> None:
    add_fault(client, status=503)
    add_fault(client, drop=True)
    assert client.get("/__admin/state").status_code == 200
    assert client.delete("/__admin/faults").get_json() == {"deleted": 2}


# The admin routes.


def test_faults_are_listed_with_their_counters(client: FlaskClient, auth: dict[str, str]) -> None:
    added = add_fault(client, method="GET", path=RESOURCE, status=503, rate=0.5)
    assert added["id"].startswith("fault-")
    for _ in range(10):
        client.get(RESOURCE, headers=auth)
    client.post(RESOURCE, json=BODY, headers=auth)
    listing = client.get("/__admin/faults").get_json()
    assert listing["count"] == 1
    listed = listing["faults"][0]
    assert {key: listed[key] for key in added} == added
    assert listed["matched"] == 10
    assert 0 < listed["triggered"] < 10
    journal = client.get("/__admin/requests", query_string={"status": 503}).get_json()
    assert journal["count"] == listed["triggered"]


def test_several_faults_can_be_added_at_once_and_removed_one_by_one(client: FlaskClient) -> None:
    answer = client.post("/__admin/faults", json=[{"status": 500}, {"latency_ms": 5}])
    assert answer.status_code == 201
    first, second = answer.get_json()["faults"]
    assert client.delete(f"/__admin/faults/{first['id']}").get_json() == {"deleted": 1}
    assert client.delete(f"/__admin/faults/{first['id']}").status_code == 404
    assert [fault["id"] for fault in client.get("/__admin/faults").get_json()["faults"]] == [second["id"]]


@pytest.mark.parametrize("body", [{"status": 99}, [{"status": 503}, {"latency_ms": -5}], {"method": "GET"}])
def test_a_bad_fault_is_refused_and_none_is_added(client: FlaskClient, body: Any) -> None:
    answer = client.post("/__admin/faults", json=body)
    assert answer.status_code == 422
    assert answer.get_json()["errors"]
    assert client.get("/__admin/faults").get_json()["count"] == 0


def test_start_up_faults_are_in_force_from_the_start(
    app_config: dict[str, Any], auth: dict[str, str]
) -> None:
    from mockserver import create_app

    config = {**app_config, "DIAGS_FAULTS": [{"method": "POST", "status": 502}]}
    client = create_app({"TESTING": True, **config}).test_client()
    assert client.post(RESOURCE, json=BODY, headers=auth).status_code == 502
    assert client.get(RESOURCE, headers=auth).status_code == 200


# Start-up options.


def serve_settings(*options: str) -> dict[str, Any]:
    return cli.app_config(cli.build_parser().parse_args(["serve", *options]))


def test_latency_and_error_rate_options_become_faults(tmp_path: Path) -> None:
    faults_file = tmp_path / "faults.json"
    faults_file.write_text('{"faults": [{"method": "GET", "path": "/api/v1/*", "latency_ms": 400}]}')
    settings = serve_settings("--faults", str(faults_file), "--latency", "100-300", "--error-rate", "0.25")
    assert settings["DIAGS_FAULTS"] == [
        {"method": "GET", "path": "/api/v1/*", "latency_ms": 400},
        {"latency_ms": 100, "latency_max_ms": 300},
        {"status": 503, "rate": 0.25},
    ]
    assert len(parse_faults(settings["DIAGS_FAULTS"])) == 3
    shortcuts = serve_settings("--latency", "50", "--error-rate", "1", "--error-status", "500")
    assert shortcuts["DIAGS_FAULTS"] == [{"latency_ms": 50}, {"status": 500, "rate": 1.0}]


@pytest.mark.parametrize(("options", "message"), [
    (["--workers", "2"], "--workers 2 needs --db"),
    (["--latency", "soon"], "--latency takes MS"),
    (["--error-rate", "2"], "invalid start-up fault"),
])
def test_bad_start_up_options_stop_before_serving(
    monkeypatch: pytest.MonkeyPatch, options: list[str], message: str
) -> None:
    def must_not_serve(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server started")

    monkeypatch.setattr("mockserver.serving.server.serve", must_not_serve)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--no-access-log", *options])
    assert message in str(stopped.value)


FAULT_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 700), st.integers(400, 599),
                         st.sampled_from([0.5, 2.0, "*", "get", "FETCH", "/api/v1/*", "/__admin/x", "api"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=st.dictionaries(st.sampled_from([*FIELDS, "id", "other"]), FAULT_VALUES, max_size=6))
def test_a_fault_is_taken_exactly_when_its_schema_allows_it_and_its_latency_range(
    definition: dict[str, Any]
) -> None:
    # The schema is the contract of POST /__admin/faults; its one rule beyond JSON Schema is the range.
    latency, latency_max = definition.get("latency_ms", 0), definition.get("latency_max_ms")
    allowed = schemas.validator("admin-fault").is_valid(definition) and (
        latency_max is None or latency_max >= latency)
    if allowed:
        parse_fault(definition)
    else:
        with pytest.raises(FaultError):
            parse_fault(definition)
