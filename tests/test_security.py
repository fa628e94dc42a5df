"""Security: tokens compared in constant time and never logged or echoed, authentication first on every
API route, no debug mode and no stack traces, and a server that binds to loopback unless told otherwise.

(The admin API under ``/__admin/`` and the request journal have their own tests.)
"""

from __future__ import annotations

import hmac
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import live
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from listing import RESOURCE

import fixtures
from mockserver import create_app
from mockserver.core import bearer, config
from mockserver.services import services_of
from mockserver.serving import cli, server

API_PREFIX = "/api/v1"
SECRET = "s3cret-token-for-security-tests"
OTHER_SECRET = "another-s3cret-token"
WRONG = "wrong-s3cret-guess"
VALID = {"device_id": fixtures.DOCUMENTED_DEVICE_ID, "diagnostic_type": "maintenance"}
BAD_CREDENTIALS = [
    pytest.param({}, id="none"),
    pytest.param({"Authorization": ""}, id="empty"),
    pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
    pytest.param({"Authorization": f"Bearer {WRONG}"}, id="wrong-token"),
    pytest.param({"Authorization": f"Basic {SECRET}"}, id="other-scheme"),
    pytest.param({"Authorization": SECRET}, id="no-scheme"),
    pytest.param({"Authorization": f"Bearer {SECRET[:-1]}"}, id="prefix-of-the-token"),
    pytest.param({"X-Api-Key": SECRET}, id="token-in-another-header"),
]


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"DIAGS_TOKENS": [SECRET, OTHER_SECRET]}


@pytest.fixture
def good() -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET}"}


# --- Tokens -----------------------------------------------------------------------------------------------


def test_tokens_are_compared_in_constant_time_against_every_token(
    client: FlaskClient, good: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def recording_compare(left: bytes, right: bytes) -> bool:
        compared.append((left, right))
        return real_compare(left, right)

    monkeypatch.setattr(bearer.hmac, "compare_digest", recording_compare)
    # No early exit on a match: the time taken does not say which token matched, or how many there are left.
    assert client.get(RESOURCE + "?limit=0", headers=good).status_code == 200
    assert [right for _, right in compared] == [SECRET.encode(), OTHER_SECRET.encode()]
    compared.clear()
    assert client.get(RESOURCE + "?limit=0", headers={"Authorization": f"Bearer {WRONG}"}).status_code == 401
    assert len(compared) == 2




def held_clock() -> datetime:
    """A clock that holds its caller past a time-out of 0.3 s."""
    time.sleep(0.6)
    return datetime.now(UTC)


class Recorder(logging.Handler):
    """Every log record of the process, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def test_no_token_reaches_a_log_or_an_answer(
    app_config: dict[str, Any], good: dict[str, str], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app({"TESTING": True, **app_config})
    client = app.test_client()
    held = create_app(
        {"TESTING": True, **app_config, "DIAGS_CLOCK": held_clock, "DIAGS_REQUEST_TIMEOUT": 0.3}
    )
    answers = [
        client.get(RESOURCE, headers=good),
        client.get(RESOURCE, headers={"Authorization": f"Bearer {WRONG}"}),
        client.get(RESOURCE, headers={"Authorization": WRONG}),
        client.get(RESOURCE, headers={"Authorization": f"Token {WRONG}"}),
        client.get(RESOURCE, headers={**good, "X-Pad": "p" * config.MAX_HEADER_BYTES}),  # 431
        held.test_client().post(
            RESOURCE, json=VALID, headers=good
        ),  # 503: the held clock passes the time-out
    ]
    monkeypatch.setattr(services_of(app).store.inner, "page_json", _explode)
    # 500: a crash, logged with its traceback (on a page not asked before: the first one is kept)
    answers.append(client.get(RESOURCE, query_string={"limit": 7}, headers=good))
    assert [answer.status_code for answer in answers] == [200, 401, 401, 401, 431, 503, 500]
    assert any("Traceback" in line for line in recorder.lines), "the crash was not logged"
    logged = "\n".join(recorder.lines)
    for answer in answers:
        sent = answer.get_data(as_text=True) + str(answer.headers)
        assert SECRET not in sent and WRONG not in sent
    assert SECRET not in logged and WRONG not in logged


def _explode(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("internal detail at /some/internal/path.py")


def test_the_startup_banner_hides_tokens_but_the_documented_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(server, "serve", lambda options: None)
    cli.main(["serve", "--token", SECRET, "--token", config.DEFAULT_TOKEN])
    output = capsys.readouterr()
    assert SECRET not in output.out + output.err
    assert config.DEFAULT_TOKEN in output.out and "1 more" in output.out


# --- Authentication first, on every API route -------------------------------------------------------------


def _api_requests(app: Flask) -> list[tuple[str, str]]:
    """(method, path) for every route and method under the API prefix, and for unknown ones."""
    public = set(app.config["DIAGS_PUBLIC_PATHS"])
    found = {("GET", f"{API_PREFIX}/unknown"), ("DELETE", RESOURCE), ("PUT", RESOURCE), ("OPTIONS", RESOURCE),
             ("GET", API_PREFIX)}
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<", "").replace(">", "").replace(":", "-")
        if not rule.rule.startswith(API_PREFIX) or rule.rule in public:
            continue
        found.update((method, path) for method in rule.methods or ())
    return sorted(found)


def test_every_api_route_is_covered() -> None:
    routes = _api_requests(create_app({"TESTING": True}))
    assert {("GET", RESOURCE), ("HEAD", RESOURCE), ("POST", RESOURCE), ("OPTIONS", RESOURCE)} <= set(routes)


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS)
def test_bad_credentials_get_401_first_on_every_api_route(
    client: FlaskClient, credentials: dict[str, str]
) -> None:
    for method, path in _api_requests(client.application):
        # Each request is also wrong in every other way: query, body and often method or route.
        response = client.open(
            path + "?limit=-1&update_status=perhaps",
            method=method,
            data=b"{not json",
            headers={**credentials, "Content-Type": "application/json"},
        )
        assert response.status_code == 401, (method, path, response.get_data(as_text=True)[:200])
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if method != "HEAD":
            assert response.mimetype == "application/json"
            assert SECRET not in response.get_data(as_text=True)


def test_401_comes_before_413(app_config: dict[str, Any]) -> None:
    client = create_app({"TESTING": True, **app_config, "MAX_CONTENT_LENGTH": 100}).test_client()
    response = client.post(RESOURCE, data=b"x" * 1000, headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_the_public_documentation_needs_no_token(client: FlaskClient) -> None:
    assert client.get(f"{API_PREFIX}/openapi.json").status_code == 200


# --- No debug mode, no stack traces -----------------------------------------------------------------------


def test_debug_mode_stays_off_whatever_the_environment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app()
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] is not True


def test_a_crash_answers_json_without_a_stack_trace(
    app: Flask, good: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["TESTING"] = False  # as served: exceptions are not propagated to the caller
    monkeypatch.setattr(services_of(app).store.inner, "page_json", _explode)
    response = app.test_client().get(RESOURCE, headers=good)
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "internal detail", ".py", SECRET, "<html"):
        assert leak not in text
    assert set(response.get_json()) == {"detail"}


# --- Binding ----------------------------------------------------------------------------------------------


def test_loopback_is_the_default_address_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIAGS_HOST", raising=False)
    assert server.ServerOptions().host == "127.0.0.1"
    assert cli.build_parser().parse_args(["serve"]).host == "127.0.0.1"


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """``serve`` without ``--host`` (and no ``DIAGS_HOST``), access log on; yields its port and log."""
    with live.serve(token=SECRET, log_path=tmp_path_factory.mktemp("security") / "serve.log") as running:
        yield running.port, running.log_path


def test_the_server_listens_on_loopback_only_by_default(default_server: tuple[int, Path]) -> None:
    port, _ = default_server
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    # Another loopback address reaches this machine too, but not a socket bound to 127.0.0.1 alone.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=5).close()


def test_the_server_log_never_shows_a_token(default_server: tuple[int, Path]) -> None:
    port, log = default_server
    url = f"http://127.0.0.1:{port}{RESOURCE}"
    sent = [
        requests.get(url, headers={"Authorization": f"Bearer {SECRET}"}, timeout=10),
        requests.get(url, headers={"Authorization": f"Bearer {WRONG}"}, timeout=10),
        requests.get(url, headers={"Authorization": WRONG}, timeout=10),
        requests.post(url, json=VALID, headers={"Authorization": f"Bearer {SECRET}"}, timeout=10),
    ]
    assert [response.status_code for response in sent] == [200, 401, 401, 201]
    # The access log is written as the requests finish; wait (bounded) for its lines.
    deadline = time.monotonic() + 10
    text = log.read_text(errors="replace")
    while text.count(RESOURCE) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
        text = log.read_text(errors="replace")
    assert text.count(RESOURCE) >= len(sent), f"the access log did not record the requests: {text[-1000:]}"
    assert SECRET not in text and WRONG not in text
