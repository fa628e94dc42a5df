"""One pipeline: every request runs the stages of ``STAGES``; the router's direct views answer as Flask's.

Every other test of the resource runs through the router's direct call of the views (it is on by
default); here the same sequence of requests goes to an app that calls them directly and to one
whose Flask dispatches them, and each answer, and the journal they leave, must be the same byte
for byte.
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
from mockserver import create_app, pipeline
from mockserver.core import config
from mockserver.core.wsgi import Answer, call_wsgi
from mockserver.services import services_of

TOKEN = "lane-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEVICE = fixtures.DOCUMENTED_DEVICE_ID
MOMENT = datetime(2024, 2, 1, 12, 0, tzinfo=UTC)
VALID = {"device_id": DEVICE, "diagnostic_type": "health_check", "details": {"cpu_usage": 12}}

#: (method, target, headers, body): every kind of answer the resource gives, in one sequence.
REQUESTS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("GET", RESOURCE, AUTH, None),
    ("GET", RESOURCE + "?limit=5&offset=10&extra=kept", AUTH, None),
    ("GET", RESOURCE + "?device_id=x&bad%0D%0Aname=1&update_status=false", AUTH, None),
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
    ("POST", RESOURCE, AUTH, b"device_id=" + DEVICE.encode() + b"&diagnostic_type=maintenance"),
    ("HEAD", RESOURCE, AUTH, None),
    ("DELETE", RESOURCE, AUTH, None),
    ("GET", RESOURCE + "?limit=3&offset=199", AUTH, None),
]


def _app(direct: bool, strict: bool = False) -> Flask:
    return create_app({"TESTING": True, "DIAGS_TOKENS": [TOKEN], "DIAGS_DIRECT_VIEWS": direct,
                       "DIAGS_STRICT": strict, "DIAGS_CLOCK": lambda: MOMENT})


def _answers(app: Flask) -> list[tuple[int, dict[str, str], bytes]]:
    client = app.test_client()
    answers = []
    for method, target, headers, body in REQUESTS:
        form = body is not None and body.startswith(b"device_id=")
        response = client.open(target, method=method, headers=headers, data=body,
                               content_type=None if body is None else
                               "application/x-www-form-urlencoded" if form else "application/json")
        answers.append((response.status_code, dict(response.headers), response.get_data()))
    return answers


def _journal(app: Flask) -> list[dict[str, Any]]:
    entries = app.test_client().get("/__admin/requests?limit=1000").get_json()["requests"]
    return [{key: value for key, value in entry.items() if key not in ("time", "duration_ms")}
            for entry in entries]


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_the_direct_views_answer_as_flask_does_and_journal_the_same(strict: bool) -> None:
    direct, dispatched = _app(True, strict), _app(False, strict)
    answers = _answers(direct)
    assert answers == _answers(dispatched)
    statuses = [status for status, _, _ in answers]
    assert set(statuses) == {200, 201, 400, 401, 404, 405, 413, 414, 422, 431}
    assert len(_journal(direct)) == len(REQUESTS)
    assert _journal(direct) == _journal(dispatched)


def _explode(*args: Any) -> Any:
    raise RuntimeError("internal detail")


def _record_missing_its_id(*args: Any) -> Any:
    return 1, [b'{"device_id": "device-12345"}']


@pytest.mark.parametrize("page_json, strict, expected", [
    (_explode, False, "Internal server error"),
    (_record_missing_its_id, True, "strict mode: response violates"),
], ids=["crash", "strict-violation"])
def test_a_failure_in_a_view_is_the_same_json_500_either_way(
    monkeypatch: pytest.MonkeyPatch, page_json: Any, strict: bool, expected: str
) -> None:
    answers = []
    for direct in (True, False):
        app = _app(direct, strict)
        monkeypatch.setattr(services_of(app).store.inner, "page_json", page_json)
        response = app.test_client().get(RESOURCE, headers=AUTH)
        answers.append((response.status_code, response.get_json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500 and answers[0][1]["detail"].startswith(expected)


def test_the_stages_are_declared_once_in_order() -> None:
    names = [name for name, _ in pipeline.STAGES]
    assert len(set(names)) == len(names)
    assert names[0] == "access log" and names[-1] == "reset gate"
    place = names.index
    assert place("errors") < place("authentication") < place("limits") < place("faults")
    assert place("journal") < place("CORS") < place("strict mode") < place("errors")


def test_flask_runs_no_request_hooks_of_its_own() -> None:
    app = _app(True)
    # The admin blueprint's own check of the admin token is its only hook: every other rule is a stage.
    assert {key for key, hooks in app.before_request_funcs.items() if hooks} <= {"admin"}
    assert not any(app.after_request_funcs.values()) and not any(app.teardown_request_funcs.values())
    assert isinstance(app.wsgi_app, pipeline.Pipeline)
    assert list(app.wsgi_app.handlers) == [name for name, _ in pipeline.STAGES]


def test_a_stage_turned_off_costs_nothing() -> None:
    handlers = create_app({"TESTING": True}).wsgi_app.handlers  # type: ignore[attr-defined]
    # Off by default: the access log, CORS and the seed (no database) hand the request straight on.
    assert handlers["access log"] is handlers["time-out"]
    assert handlers["CORS"] is handlers["strict mode"]
    assert handlers["seed"] is handlers["faults"]


def _environ(method: str, target: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
    form = body is not None and body.startswith(b"device_id=")
    content_type = (None if body is None else "application/x-www-form-urlencoded" if form
                    else "application/json")
    return EnvironBuilder(path=target, method=method, headers=headers, data=body,
                          content_type=content_type).get_environ()


def _without_length(answer: Answer) -> tuple[int, list[tuple[str, str]], bytes]:
    status, headers, body = answer
    return status, [(name, value) for name, value in headers if name.lower() != "content-length"], body


def _length(answer: Answer) -> str | None:
    return next((value for name, value in answer[1] if name.lower() == "content-length"), None)


DROPPED = [{"path": RESOURCE, "drop": True, "times": 3}]


@pytest.mark.parametrize("faults", [[], DROPPED], ids=["plain", "dropped"])
def test_the_whole_answer_a_server_takes_is_what_wsgi_sends_less_the_length_the_body_tells(
        faults: list[dict[str, Any]]) -> None:
    settings = {"TESTING": True, "DIAGS_TOKENS": [TOKEN], "DIAGS_CLOCK": lambda: MOMENT,
                "DIAGS_FAULTS": faults}
    whole, through_wsgi = create_app(settings), create_app(settings)
    assert isinstance(whole.wsgi_app, pipeline.Pipeline)
    for method, target, headers, body in REQUESTS:
        answer = whole.wsgi_app.answer(_environ(method, target, headers, body))
        sent = call_wsgi(through_wsgi.wsgi_app, _environ(method, target, headers, body))
        assert _without_length(answer) == _without_length(sent), (method, target)
        # Left to the server where the body tells it (Flask's own answers may still name it); named where
        # the body cannot tell it: a HEAD's, and a dropped answer's (announced, never sent).
        told_by_body = method != "HEAD" and len(answer[2]) == int(_length(sent) or 0)
        allowed = (None, _length(sent)) if told_by_body else (_length(sent),)
        assert _length(answer) in allowed, (method, target)
