"""Strict mode: responses the schemas do not allow become a loud 500; allowed ones pass through untouched."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE

from mockserver.api import resource as api
from mockserver.control import faults
from mockserver.pipeline import strict
from mockserver.services import services_of
from mockserver.serving import cli

NEW = {"device_id": "device-12345", "diagnostic_type": "maintenance"}

#: Requests whose answers the schemas allow: strict mode must not change them.
ALLOWED_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", RESOURCE + "?limit=5", {}),
    ("GET", RESOURCE + "?id=device-12345&update_status=true", {}),
    ("GET", RESOURCE + "?limit=x", {}),
    ("GET", RESOURCE + "?id=no-such-device", {}),
    ("POST", RESOURCE, {"json": NEW}),
    ("POST", RESOURCE, {"json": {"device_id": "device-12345"}}),
    ("POST", RESOURCE, {"json": {**NEW, "priority": "urgent"}}),
    ("POST", RESOURCE, {"json": {**NEW, "device_id": "no-such-device"}}),
    ("PUT", RESOURCE, {}),
    ("GET", "/api/v1/no-such-route", {}),
]


def corrupt_first_record(app: Flask) -> None:
    services_of(app).store.update("diag-001", {"created_at": "yesterday"})


def strict_on(app: Flask) -> None:
    app.config["DIAGS_STRICT"] = True


@pytest.mark.parametrize(("method", "path", "options"), ALLOWED_REQUESTS,
                         ids=[f"{method} {path}" for method, path, _ in ALLOWED_REQUESTS])
def test_allowed_responses_pass_unchanged(app: Flask, client: FlaskClient, auth: dict[str, str], method: str,
                                          path: str, options: dict[str, Any]) -> None:
    plain = client.open(path, method=method, headers=auth, **options)
    strict_on(app)
    checked = client.open(path, method=method, headers=auth, **options)
    assert checked.status_code == plain.status_code
    if method == "POST" and plain.status_code == 201:
        assert checked.get_json().keys() == plain.get_json().keys()
    elif "update_status" not in path:
        assert checked.get_data() == plain.get_data()


def test_an_unauthenticated_request_passes_unchanged(app: Flask, client: FlaskClient) -> None:
    strict_on(app)
    response = client.get(RESOURCE)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_strict_mode_a_bad_record_is_served(app: Flask, client: FlaskClient,
                                                    auth: dict[str, str]) -> None:
    corrupt_first_record(app)
    response = client.get(RESOURCE + "?limit=1", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["results"][0]["created_at"] == "yesterday"


def test_strict_mode_turns_a_bad_record_into_a_loud_500(app: Flask, client: FlaskClient, auth: dict[str, str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    corrupt_first_record(app)
    strict_on(app)
    with caplog.at_level(logging.ERROR, logger=strict.__name__):
        response = client.get(RESOURCE + "?limit=1", headers=auth)
    assert response.status_code == 500
    assert response.get_json() == {
        "detail": "strict mode: response violates diag-list: at $.results[0].created_at: "
                  "'yesterday' is not a 'date-time'",
    }
    assert "diag-list" in caplog.text and "GET" in caplog.text


def test_strict_mode_refuses_a_status_the_operation_does_not_document(
        app: Flask, client: FlaskClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(api, "new_record", crash)
    strict_on(app)
    response = client.post(RESOURCE, headers=auth, json=NEW)
    assert response.status_code == 500
    detail = response.get_json()["detail"]
    assert detail == "strict mode: response violates the POST /inventory_device_diags/ responses: " \
                     "status 500 is not documented"


def test_an_injected_fault_keeps_its_status(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    once = {"method": "GET", "path": RESOURCE, "status": 503, "times": 1}
    services_of(app).faults.add(faults.parse_faults([once]))
    strict_on(app)
    injected = client.get(RESOURCE, headers=auth)
    assert injected.status_code == 503  # on purpose: not "undocumented"
    assert injected.get_json()["detail"].startswith("Injected fault")
    assert client.get(RESOURCE, headers=auth).status_code == 200


def test_the_documentation_is_not_checked(app: Flask, client: FlaskClient) -> None:
    strict_on(app)
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize(("mimetype", "body", "reason"), [
    ("text/html", b"<p>oops</p>", "Content-Type is 'text/html', not application/json"),
    ("application/json", b"{not json", "the body is not JSON"),
    ("application/json", b'{"detail": ""}', "at $.detail: '' should be non-empty"),
    ("application/json", b'{"detail": "d", "trace": "..."}', "Additional properties are not allowed"),
])
def test_error_bodies_are_held_to_the_mocks_error_shape(mimetype: str, body: bytes, reason: str) -> None:
    with pytest.raises(strict.Violation) as raised:
        strict.check_body("error", mimetype, body)
    assert raised.value.schema == "error"
    assert reason in raised.value.reason


def test_schema_for_each_kind_of_response() -> None:
    assert strict.schema_for("GET", True, 200) == "diag-list"
    assert strict.schema_for("POST", True, 413) == "error"
    assert strict.schema_for("PUT", False, 405) == "error"
    assert strict.schema_for("GET", False, 404) == "error"
    assert strict.schema_for("GET", False, 200) is None
    with pytest.raises(strict.Violation, match="status 204 is not documented"):
        strict.schema_for("GET", True, 204)


def test_serve_strict_sets_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIAGS_STRICT", raising=False)
    assert cli.app_config(cli.build_parser().parse_args(["serve"]))["DIAGS_STRICT"] is False
    assert cli.app_config(cli.build_parser().parse_args(["serve", "--strict"]))["DIAGS_STRICT"] is True
    monkeypatch.setenv("DIAGS_STRICT", "1")
    assert cli.app_config(cli.build_parser().parse_args(["serve"]))["DIAGS_STRICT"] is True
