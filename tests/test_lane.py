"""The fast lane answers exactly as the Flask path would, and steps aside whenever it could not.

Every other test of the resource runs through the lane (it is on by default); here the same
sequence of requests goes to an app with the lane and to one without it, and each answer, and
the journal they leave, must be the same byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from listing import RESOURCE
from werkzeug.test import EnvironBuilder

import fixtures
from mockserver import create_app
from mockserver.control import faults
from mockserver.core import config
from mockserver.pipeline import lane

TOKEN = "lane-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEVICE = fixtures.DOCUMENTED_DEVICE_ID
MOMENT = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)
VALID = {"device_id": DEVICE, "diagnostic_type": "health_check", "details": {"cpu_usage": 12}}

#: (method, target, headers, body): every kind of answer the resource gives, in one sequence.
REQUESTS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("GET", RESOURCE, AUTH, None),
    ("GET", RESOURCE + "?limit=5&offset=10&extra=kept", AUTH, None),
    ("GET", RESOURCE.rstrip("/") + "?limit=2", AUTH, None),
    ("GET", f"{RESOURCE}?id={DEVICE}", AUTH, None),
    ("GET", f"{RESOURCE}?id={DEVICE}&update_status=true", AUTH, None),
    ("GET", RESOURCE + "?id=no-such-device", AUTH, None),
    ("GET", RESOURCE + "?limit=-1", AUTH, None),
    ("GET", RESOURCE + "?limit=1&limit=2", AUTH, None),
    ("GET", RESOURCE, {}, None),
    ("GET", RESOURCE, {"Authorization": "Basic abc"}, None),
    ("GET", RESOURCE, {"Authorization": "Bearer wrong"}, None),
    ("GET", RESOURCE + "?pad=" + "p" * config.MAX_URL_BYTES, AUTH, None),
    ("GET", RESOURCE, {**AUTH, "X-Pad": "p" * config.MAX_HEADER_BYTES}, None),
    ("POST", RESOURCE, AUTH, json.dumps(VALID).encode()),
    ("POST", RESOURCE, AUTH, json.dumps({"data": json.dumps(VALID)}).encode()),
    ("POST", RESOURCE, AUTH, b"{not json"),
    ("POST", RESOURCE, AUTH, b"[1, 2]"),
    ("POST", RESOURCE, AUTH, json.dumps({"device_id": DEVICE}).encode()),
    ("POST", RESOURCE, AUTH, json.dumps({**VALID, "issues": "many"}).encode()),
    ("POST", RESOURCE, AUTH, json.dumps({**VALID, "device_id": "no-such-device"}).encode()),
    ("POST", RESOURCE, AUTH, b" " * (config.MAX_BODY_BYTES + 1)),
    ("POST", RESOURCE, {}, b"{not json"),
    ("GET", RESOURCE + "?limit=3&offset=199", AUTH, None),
]


def _app(fast_lane: bool, strict: bool = False) -> Flask:
    return create_app({"TESTING": True, "DIAGS_TOKENS": [TOKEN], "DIAGS_FAST_LANE": fast_lane,
                       "DIAGS_STRICT": strict, "DIAGS_CLOCK": lambda: MOMENT})


def _answers(app: Flask) -> list[tuple[int, dict[str, str], bytes]]:
    client = app.test_client()
    answers = []
    for method, target, headers, body in REQUESTS:
        response = client.open(target, method=method, headers=headers, data=body,
                               content_type="application/json" if body is not None else None)
        answers.append((response.status_code, dict(response.headers), response.get_data()))
    return answers


def _journal(app: Flask) -> list[dict[str, Any]]:
    entries = app.test_client().get("/__admin/requests?limit=1000").get_json()["requests"]
    return [{key: value for key, value in entry.items() if key not in ("time", "duration_ms")}
            for entry in entries]


def find_lane(app: Flask) -> lane.FastLane | None:
    """The lane among the app's WSGI middleware, if installed."""
    layer: Any = app.wsgi_app
    for _ in range(10):
        if isinstance(layer, lane.FastLane):
            return layer
        layer = getattr(layer, "wsgi_app", None)
    return None


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_the_lane_answers_as_flask_does_and_journals_the_same(strict: bool) -> None:
    with_lane, without_lane = _app(True, strict), _app(False, strict)
    assert find_lane(with_lane) is not None and find_lane(without_lane) is None
    answers = _answers(with_lane)
    assert answers == _answers(without_lane)
    statuses = [status for status, _, _ in answers]
    assert set(statuses) == {200, 201, 400, 401, 404, 413, 414, 422, 431}
    assert _journal(with_lane) == _journal(without_lane)


def _explode(*args: Any) -> Any:
    raise RuntimeError("internal detail")


def _record_missing_its_id(*args: Any) -> Any:
    return 1, [b'{"device_id": "device-12345"}']


@pytest.mark.parametrize("page_json, strict, expected", [
    (_explode, False, "Internal server error"),
    (_record_missing_its_id, True, "strict mode: response violates"),
], ids=["crash", "strict-violation"])
def test_a_failure_in_the_lane_is_the_same_json_500(
    monkeypatch: pytest.MonkeyPatch, page_json: Any, strict: bool, expected: str
) -> None:
    answers = []
    for fast_lane in (True, False):
        app = _app(fast_lane, strict)
        monkeypatch.setattr(app.extensions["diags"].store.inner, "page_json", page_json)
        response = app.test_client().get(RESOURCE, headers=AUTH)
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500 and answers[0][1]["detail"].startswith(expected)


def _environ(method: str, target: str, content_type: str | None = None) -> dict[str, Any]:
    return EnvironBuilder(path=target, method=method, content_type=content_type).get_environ()


def test_the_lane_takes_the_resources_get_and_json_post() -> None:
    found = find_lane(_app(True))
    assert found is not None
    assert found.takes(_environ("GET", RESOURCE))
    assert found.takes(_environ("GET", RESOURCE.rstrip("/")))
    assert found.takes(_environ("POST", RESOURCE, "application/json"))
    assert found.takes(_environ("POST", RESOURCE))


@pytest.mark.parametrize("method, target, content_type", [
    ("HEAD", RESOURCE, None),
    ("OPTIONS", RESOURCE, None),
    ("DELETE", RESOURCE, None),
    ("GET", RESOURCE + "extra", None),
    ("GET", "/api/v1/openapi.json", None),
    ("POST", RESOURCE, "application/x-www-form-urlencoded"),
    ("POST", RESOURCE, "multipart/form-data; boundary=x"),
])
def test_the_lane_leaves_other_requests_to_flask(method: str, target: str, content_type: str | None) -> None:
    found = find_lane(_app(True))
    assert found is not None
    assert not found.takes(_environ(method, target, content_type))


def test_the_lane_steps_aside_while_a_fault_is_armed() -> None:
    app = _app(True)
    found = find_lane(app)
    assert found is not None
    faults.book(app).add(faults.parse_faults([{"path": "/elsewhere", "status": 500}]))
    assert not found.takes(_environ("GET", RESOURCE))
    faults.book(app).remove()
    assert found.takes(_environ("GET", RESOURCE))


@pytest.mark.parametrize("settings", [
    {"DIAGS_FAST_LANE": False},
    {"DIAGS_CORS_ORIGINS": ["http://dashboard.example"]},
])
def test_the_lane_is_not_installed_when_turned_off_or_with_cors(settings: dict[str, Any]) -> None:
    assert find_lane(create_app({"TESTING": True, **settings})) is None
