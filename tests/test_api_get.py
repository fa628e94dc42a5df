"""``GET /api/v1/inventory_device_diags/`` through the app factory: every status, the envelope, pagination."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from documented import documented_record
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE, records, walk
from werkzeug.test import TestResponse

import fixtures
import schemas
from mockserver import create_app
from mockserver.services import services_of

#: The documentation's record, field by field, in its order.
DOCUMENTED_FIELDS = list(documented_record())
#: Bounds every pagination walk here, with room for the whole inventory at a few records a page.
WALK_PAGES = 500


def get(client: FlaskClient, auth: dict[str, str], url: str = RESOURCE, **params: Any) -> TestResponse:
    return client.get(url, query_string=params, headers=auth)


def assert_error(response: TestResponse, status: int) -> dict[str, Any]:
    """``response`` is a ``status`` answer with the mock's JSON error body; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    schemas.validator("error").validate(body)
    return body


def page_ok(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    schemas.validator("diag-list").validate(body)
    return body


def checked_walk(
    client: FlaskClient, auth: dict[str, str], first_url: str, link: str = "next"
) -> list[dict[str, Any]]:
    """The pages met by following ``link`` from ``first_url``, each checked by ``page_ok``."""
    def read(url: str) -> dict[str, Any]:
        return page_ok(client.get(url, headers=auth))

    return walk(read, first_url, link=link, max_pages=WALK_PAGES)


def ids_of(pages: list[dict[str, Any]]) -> list[str]:
    return [record["id"] for record in records(pages)]


def sequence(record_id: str) -> int:
    return int(record_id.removeprefix("diag-"))


def test_the_first_page_is_the_documented_envelope(client: FlaskClient, auth: dict[str, str]) -> None:
    body = page_ok(get(client, auth))
    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == len(fixtures.default()["diagnostics"])
    assert len(body["results"]) == 20
    assert body["previous"] is None
    assert body["next"] == "http://localhost/api/v1/inventory_device_diags/?limit=20&offset=20"


def test_every_record_carries_every_field_of_the_documented_example(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    listed = records(checked_walk(client, auth, f"{RESOURCE}?limit=100"))
    assert listed
    for record in listed:
        assert set(DOCUMENTED_FIELDS) <= set(record), record["id"]
        schemas.validator("diag").validate(record)


def test_the_documented_record_is_served_as_documented(client: FlaskClient, auth: dict[str, str]) -> None:
    body = page_ok(get(client, auth, id=fixtures.DOCUMENTED_DEVICE_ID))
    assert body["count"] == 2
    first = body["results"][0]
    assert first == fixtures.default()["diagnostics"][0]
    assert first["id"] == fixtures.DOCUMENTED_DIAGNOSTIC_ID


@pytest.mark.parametrize("limit", [3, 20, 100])
def test_following_next_visits_every_record_exactly_once_in_creation_order(
    client: FlaskClient, auth: dict[str, str], limit: int
) -> None:
    pages = checked_walk(client, auth, f"{RESOURCE}?limit={limit}")
    seen = ids_of(pages)
    expected = [record["id"] for record in fixtures.default()["diagnostics"]]
    assert seen == expected
    assert len(set(seen)) == len(seen)
    assert [sequence(record_id) for record_id in seen] == sorted(sequence(record_id) for record_id in seen)
    assert all(page["count"] == len(expected) for page in pages)
    assert all(len(page["results"]) == limit for page in pages[:-1])


def test_following_previous_from_the_last_page_visits_every_record_once(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    forward = checked_walk(client, auth, f"{RESOURCE}?limit=30")
    last = forward[-1]
    last_url = urlsplit(forward[-2]["next"])
    backward = checked_walk(client, auth, f"{last_url.path}?{last_url.query}", link="previous")
    assert backward[0] == last
    assert ids_of(list(reversed(backward))) == ids_of(forward)


def test_a_device_walk_visits_only_and_all_of_its_records(client: FlaskClient, auth: dict[str, str]) -> None:
    diagnostics = fixtures.default()["diagnostics"]
    device_id = max(
        sorted({record["device_id"] for record in diagnostics}),
        key=lambda candidate: sum(record["device_id"] == candidate for record in diagnostics),
    )
    pages = checked_walk(client, auth, f"{RESOURCE}?id={device_id}&limit=1")
    expected = [record["id"] for record in diagnostics if record["device_id"] == device_id]
    assert len(expected) > 2
    assert ids_of(pages) == expected
    assert all(page["count"] == len(expected) for page in pages)
    assert all(record["device_id"] == device_id for page in pages for record in page["results"])


def test_links_are_absolute_and_keep_the_other_parameters(client: FlaskClient, auth: dict[str, str]) -> None:
    body = page_ok(get(client, auth, id=fixtures.DOCUMENTED_DEVICE_ID, update_status="false", limit=1))
    assert body["next"] is not None
    link = urlsplit(body["next"])
    assert (link.scheme, link.netloc, link.path) == ("http", "localhost", RESOURCE)
    assert dict(parse_qsl(link.query)) == {
        "id": fixtures.DOCUMENTED_DEVICE_ID,
        "update_status": "false",
        "limit": "1",
        "offset": "1",
    }
    second = page_ok(client.get(body["next"], headers=auth))
    assert second["next"] is None
    assert second["previous"] is not None
    assert dict(parse_qsl(urlsplit(second["previous"]).query)) == {
        "id": fixtures.DOCUMENTED_DEVICE_ID,
        "update_status": "false",
        "limit": "1",
    }


def test_a_limit_above_the_maximum_is_capped(client: FlaskClient, auth: dict[str, str]) -> None:
    body = page_ok(get(client, auth, limit=1000))
    assert len(body["results"]) == 100
    assert dict(parse_qsl(urlsplit(body["next"]).query))["limit"] == "100"


def test_a_zero_limit_counts_without_results(client: FlaskClient, auth: dict[str, str]) -> None:
    body = page_ok(get(client, auth, limit=0))
    assert body["results"] == []
    assert body["count"] == len(fixtures.default()["diagnostics"])


def test_an_offset_past_the_end_is_an_empty_page(client: FlaskClient, auth: dict[str, str]) -> None:
    body = page_ok(get(client, auth, offset=10_000, limit=10))
    assert body["results"] == [] and body["next"] is None
    assert body["count"] == len(fixtures.default()["diagnostics"])
    assert body["previous"] is not None


def test_results_come_in_the_order_stored_not_by_id_nor_date(auth: dict[str, str]) -> None:
    data = fixtures.default()
    shuffled = [*data["diagnostics"][100:], *data["diagnostics"][:100]]
    client = create_app({"TESTING": True, "DIAGS_TOKENS": [auth["Authorization"].removeprefix("Bearer ")],
                         "DIAGS_FIXTURE": {**data, "diagnostics": shuffled}}).test_client()
    created = client.post(RESOURCE, json={"device_id": fixtures.DOCUMENTED_DEVICE_ID,
                                          "diagnostic_type": "health_check"}, headers=auth)
    assert created.status_code == 201
    served = ids_of(checked_walk(client, auth, f"{RESOURCE}?limit=100"))
    assert served == [record["id"] for record in shuffled] + [created.get_json()["id"]]
    # The documented example record comes first in the default data, though it is the newest by date.
    first, second = data["diagnostics"][:2]
    assert (first["id"], second["id"]) == ("diag-001", "diag-002")
    assert first["created_at"] > second["created_at"]


def test_unknown_query_parameters_are_ignored_and_named_in_a_header(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    plain = get(client, auth, limit=3)
    assert "X-Diags-Ignored-Parameters" not in plain.headers
    typo = get(client, auth, limit=3, device_id="device-12345", sort="date")
    assert typo.headers["X-Diags-Ignored-Parameters"] == "device_id, sort"
    assert typo.get_json()["results"] == plain.get_json()["results"]
    # A decoded line break in a name stays percent-encoded: it cannot split the header.
    broken = client.get(RESOURCE + "?a%0D%0AX-Evil=1", headers=auth)
    assert broken.headers["X-Diags-Ignored-Parameters"] == "a%0D%0AX-Evil"
    assert "X-Evil" not in broken.headers


def test_the_order_is_stable_between_requests(client: FlaskClient, auth: dict[str, str]) -> None:
    assert get(client, auth, limit=50).data == get(client, auth, limit=50).data


def test_the_path_without_the_trailing_slash_is_served(client: FlaskClient, auth: dict[str, str]) -> None:
    with_slash = get(client, auth)
    without = get(client, auth, RESOURCE.rstrip("/"))
    assert without.status_code == 200
    assert without.get_json()["results"] == with_slash.get_json()["results"]


def test_an_unknown_device_is_a_404(client: FlaskClient, auth: dict[str, str]) -> None:
    body = assert_error(get(client, auth, id="device-99999"), 404)
    assert "device-99999" in body["detail"]


def test_an_empty_device_id_names_no_device(client: FlaskClient, auth: dict[str, str]) -> None:
    assert_error(get(client, auth, id=""), 404)


def test_a_diagnostic_id_is_not_a_device_id(client: FlaskClient, auth: dict[str, str]) -> None:
    assert_error(get(client, auth, id=fixtures.DOCUMENTED_DIAGNOSTIC_ID), 404)


def test_a_device_without_diagnostics_is_an_empty_200(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    spare = {"id": "device-00000", "name": "Spare Laptop DL-0000", "serial": "SPARE"}
    services_of(app).store.add_device(spare)
    body = page_ok(get(client, auth, id="device-00000"))
    assert (body["count"], body["results"], body["next"], body["previous"]) == (0, [], None, None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("update_status", "yes"),
        ("update_status", ""),
        ("limit", "-1"),
        ("limit", "ten"),
        ("offset", "1.5"),
        ("offset", "-3"),
    ],
)
def test_a_malformed_parameter_is_a_400_naming_it(
    client: FlaskClient, auth: dict[str, str], name: str, value: str
) -> None:
    body = assert_error(get(client, auth, **{name: value}), 400)
    assert name in body["detail"]
    assert name in body["errors"]


def test_a_repeated_parameter_is_a_400(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.get(f"{RESOURCE}?limit=1&limit=2", headers=auth)
    assert "limit" in assert_error(response, 400)["errors"]


def test_a_malformed_parameter_wins_over_an_unknown_device(client: FlaskClient, auth: dict[str, str]) -> None:
    assert_error(get(client, auth, id="device-99999", limit="x"), 400)


@pytest.fixture
def broken_client(app_config: dict[str, Any]) -> FlaskClient:
    """A client of an app whose diagnostic helper configuration names a helper that does not exist."""
    return create_app({"TESTING": True, **app_config, "DIAGS_HELPERS": {"helpers": ["nope"]}}).test_client()


def test_a_broken_helper_configuration_is_a_500_when_asked_to_update(
    broken_client: FlaskClient, auth: dict[str, str]
) -> None:
    body = assert_error(get(broken_client, auth, update_status="true"), 500)
    assert "helper" in body["detail"] and "'nope'" in body["detail"]
    assert_error(get(broken_client, auth, id=fixtures.DOCUMENTED_DEVICE_ID, update_status="1"), 500)
    # Without update_status the helpers are not involved.
    page_ok(get(broken_client, auth, update_status="false"))
    page_ok(get(broken_client, auth))


def test_an_unknown_device_wins_over_a_broken_helper_configuration(
    broken_client: FlaskClient, auth: dict[str, str]
) -> None:
    assert_error(get(broken_client, auth, id="device-99999", update_status="true"), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "TRACE"])
def test_other_methods_are_a_405_with_allow(client: FlaskClient, auth: dict[str, str], method: str) -> None:
    response = client.open(RESOURCE, method=method, headers=auth, json={"device_id": "device-12345"})
    assert_error(response, 405)
    allowed = {word.strip() for word in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert method not in allowed


@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/unknown/", "/api/v1/inventory_device_diags/diag-001/", "/", "/favicon.ico"]
)
def test_unknown_routes_are_a_json_404(client: FlaskClient, auth: dict[str, str], path: str) -> None:
    body = assert_error(client.get(path, headers=auth), 404)
    assert "/api/v1/inventory_device_diags/" in body["detail"]


def test_two_apps_with_the_same_seed_answer_the_same_bytes(
    app_config: dict[str, Any], auth: dict[str, str]
) -> None:
    config = {**app_config, "DIAGS_SEED": 7, "DIAGS_DEVICES": 30, "DIAGS_DIAGS": 120}
    first = create_app(config).test_client().get(RESOURCE, headers=auth)
    second = create_app(config).test_client().get(RESOURCE, headers=auth)
    other = create_app({**config, "DIAGS_SEED": 8}).test_client().get(RESOURCE, headers=auth)
    assert first.status_code == second.status_code == other.status_code == 200
    assert first.data == second.data
    assert first.data != other.data


def test_a_page_asked_again_is_kept_until_the_data_changes(app: Flask, client: FlaskClient,
                                                            auth: dict[str, str]) -> None:
    """The in-memory store's pages are kept (``Services.pages``) and dropped by every change of the data."""
    first = get(client, auth, limit=3)
    assert get(client, auth, limit=3).data == first.data
    assert len(services_of(app).pages) == 1
    created = client.post(RESOURCE, headers=auth, json={"device_id": fixtures.DOCUMENTED_DEVICE_ID,
                                                        "diagnostic_type": "maintenance"})
    assert created.status_code == 201, created.get_data(as_text=True)
    after = page_ok(get(client, auth, limit=3))
    assert after["count"] == first.get_json()["count"] + 1
    added = client.post("/__admin/devices", json={"id": "d-kept", "name": "K", "serial": "K1"})
    assert added.status_code == 201
    assert page_ok(get(client, auth, id="d-kept"))["count"] == 0
    assert client.post("/__admin/reset").status_code == 200
    assert get(client, auth, limit=3).data == first.data
    assert_error(get(client, auth, id="d-kept"), 404)


def test_a_status_refresh_is_never_kept(client: FlaskClient, auth: dict[str, str]) -> None:
    """``update_status=true`` runs every time: its writes, and a fault armed since the last one."""
    refresh = {"id": fixtures.DOCUMENTED_DEVICE_ID, "update_status": "true", "limit": 1}
    assert get(client, auth, **refresh).status_code == 200
    fault = {"method": "GET", "path": RESOURCE, "helper_error": True, "times": 1}
    assert client.post("/__admin/faults", json=fault).status_code == 201
    assert_error(get(client, auth, **refresh), 500)
    assert get(client, auth, **refresh).status_code == 200


def test_pages_of_a_database_show_what_another_worker_wrote(tmp_path: Any, auth: dict[str, str]) -> None:
    """A database is changed by other workers too: its pages are made afresh for every request."""
    config = {"TESTING": True, "DIAGS_TOKENS": [auth["Authorization"].split()[1]],
              "DIAGS_DB": str(tmp_path / "shared.db")}
    one, other = create_app(config).test_client(), create_app(config).test_client()
    before = page_ok(get(one, auth, limit=1))
    created = other.post(RESOURCE, headers=auth, json={"device_id": fixtures.DOCUMENTED_DEVICE_ID,
                                                       "diagnostic_type": "maintenance"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert page_ok(get(one, auth, limit=1))["count"] == before["count"] + 1
