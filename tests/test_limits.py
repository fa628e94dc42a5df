"""The mock's limits: each at its boundary, each configurable, each answered with its status and a JSON body.

Body size 413, header size 431, JSON depth 400, URL length 414, and the per-request time-out 503
(``limits``), plus the options and environment variables of ``serve`` that set them.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from flask import Flask
from flask.testing import FlaskClient
from granian.http import HTTP1Settings
from listing import RESOURCE, count, reader, records, walk
from shared_db import another_worker_writing

import fixtures
from mockserver import create_app
from mockserver.api import diagnostics
from mockserver.control import admin
from mockserver.core import config, responses
from mockserver.core.deadline import Deadline, deadline_scope
from mockserver.core.responses import ApiError
from mockserver.pipeline import limits
from mockserver.services import services_of
from mockserver.serving import cli
from mockserver.storage import sqlite as sqlite_store
from mockserver.storage.base import Store

VALID = {"device_id": fixtures.DOCUMENTED_DEVICE_ID, "diagnostic_type": "maintenance"}


def error_detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    detail: str = response.get_json()["detail"]
    return detail


# --- URL length: 414 --------------------------------------------------------------------------------------


def _target_of_length(length: int) -> str:
    prefix = RESOURCE + "?limit=1&pad="
    return prefix + "p" * (length - len(prefix))


def test_a_url_at_the_limit_is_served_and_one_byte_more_is_a_414(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    assert client.get(_target_of_length(config.MAX_URL_BYTES), headers=auth).status_code == 200
    detail = error_detail(client.get(_target_of_length(config.MAX_URL_BYTES + 1), headers=auth), 414)
    assert f"{config.MAX_URL_BYTES + 1} bytes" in detail and str(config.MAX_URL_BYTES) in detail


def test_the_url_is_measured_percent_encoded(client: FlaskClient, auth: dict[str, str]) -> None:
    # Each "é" in the path travels as %C3%A9: six bytes, though the decoded path holds one character.
    path = "/" + "é" * (config.MAX_URL_BYTES // 6 + 1)
    error_detail(client.get(path, headers=auth), 414)


@pytest.mark.parametrize("app_config", [{"DIAGS_TOKENS": ["test-token"], "DIAGS_MAX_URL_BYTES": 100}])
def test_the_url_limit_is_configurable(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get(_target_of_length(100), headers=auth).status_code == 200
    error_detail(client.get(_target_of_length(101), headers=auth), 414)


# --- Header size: 431 -------------------------------------------------------------------------------------


def _headers_of_total(client: FlaskClient, auth: dict[str, str], total: int) -> dict[str, str]:
    """``auth`` plus one padding header, sized so that the request's headers are ``total`` bytes."""
    probe = client.get(RESOURCE + "?limit=0", headers={**auth, "X-Pad": ""})
    base = sum(limits.header_sizes(probe.request.environ).values())
    return {**auth, "X-Pad": "p" * (total - base)}


def test_headers_at_the_limit_are_served_and_one_byte_more_is_a_431(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    at_limit = _headers_of_total(client, auth, config.MAX_HEADER_BYTES)
    assert client.get(RESOURCE + "?limit=0", headers=at_limit).status_code == 200
    over = _headers_of_total(client, auth, config.MAX_HEADER_BYTES + 1)
    detail = error_detail(client.get(RESOURCE + "?limit=0", headers=over), 431)
    assert f"total {config.MAX_HEADER_BYTES + 1} bytes" in detail and "X-Pad" in detail


def test_a_header_is_measured_as_its_line_on_the_wire() -> None:
    environ = {"HTTP_X_PAD": "abc", "CONTENT_TYPE": "application/json", "PATH_INFO": "/"}
    assert limits.header_sizes(environ) == {
        "HTTP_X_PAD": len("X-Pad: abc\r\n"),
        "CONTENT_TYPE": len("Content-Type: application/json\r\n"),
    }


@pytest.mark.parametrize("app_config", [{"DIAGS_TOKENS": ["test-token"], "DIAGS_MAX_HEADER_BYTES": 300}])
def test_the_header_limit_is_configurable(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get(RESOURCE + "?limit=0", headers=_headers_of_total(client, auth, 300)).status_code == 200
    error_detail(client.get(RESOURCE + "?limit=0", headers=_headers_of_total(client, auth, 301)), 431)


def test_authentication_comes_before_the_size_limits(client: FlaskClient, auth: dict[str, str]) -> None:
    # docs/contract.md: a request that is both unauthenticated and malformed gets 401.
    large_headers = {"X-Pad": "p" * config.MAX_HEADER_BYTES}
    long_target = _target_of_length(config.MAX_URL_BYTES + 1)
    error_detail(client.get(RESOURCE, headers=large_headers), 401)
    error_detail(client.get(long_target), 401)
    error_detail(client.get(RESOURCE, headers={**auth, **large_headers}), 431)
    error_detail(client.get(long_target, headers=auth), 414)


def test_the_servers_own_header_limit_lies_above_the_apps() -> None:
    # granian refuses larger headers itself, with an empty body: the app must answer first.
    # (Its URL limit, 64 KiB, is checked over HTTP in test_bad_input.)
    assert HTTP1Settings().max_buffer_size > 4 * config.MAX_HEADER_BYTES


# --- Body size: 413 ---------------------------------------------------------------------------------------

SMALL_BODY = 200


def _body_of_length(length: int) -> bytes:
    body = json.dumps(VALID).encode()
    return body + b" " * (length - len(body))


@pytest.mark.parametrize(
    "app_config",
    [
        # With the time-out the body is read ahead, in the server's thread; without it, as the app reads.
        pytest.param({"DIAGS_TOKENS": ["test-token"], "MAX_CONTENT_LENGTH": SMALL_BODY}, id="read-ahead"),
        pytest.param(
            {"DIAGS_TOKENS": ["test-token"], "MAX_CONTENT_LENGTH": SMALL_BODY, "DIAGS_REQUEST_TIMEOUT": 0},
            id="read-by-the-app",
        ),
    ],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_is_taken_and_one_byte_more_is_a_413(
    client: FlaskClient, auth: dict[str, str], chunked: bool
) -> None:
    def post(body: bytes) -> Any:
        if not chunked:
            return client.post(RESOURCE, data=body, headers={**auth, "Content-Type": "application/json"})
        # What a server hands over for a chunked body: no Content-Length, a stream it ends itself.
        return client.post(
            RESOURCE,
            input_stream=io.BytesIO(body),
            headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
        )

    read = reader(client, auth)
    before = count(read)
    assert post(_body_of_length(SMALL_BODY)).status_code == 201
    assert str(SMALL_BODY) in error_detail(post(_body_of_length(SMALL_BODY + 1)), 413)
    assert count(read) == before + 1


def test_the_body_limit_has_its_documented_default(app: Flask) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == config.MAX_BODY_BYTES == 1024 * 1024


# --- JSON depth: 400 --------------------------------------------------------------------------------------


def _nested(levels: int) -> Any:
    """A ``details`` value that makes the body ``levels`` deep (the body object is the first level)."""
    value: Any = 1
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("app_config", [{"DIAGS_TOKENS": ["test-token"], "DIAGS_MAX_JSON_DEPTH": 5}])
def test_json_at_the_depth_limit_is_taken_and_one_level_more_is_a_400(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    def post(levels: int) -> Any:
        return client.post(RESOURCE, json={**VALID, "details": _nested(levels)}, headers=auth)

    assert post(5).status_code == 201
    assert "5 levels" in error_detail(post(6), 400)


# --- The time-out: 503 ------------------------------------------------------------------------------------

TIMEOUT = 0.3
#: How long the slow parts below take: well past the time-out, and bounded.
SLOW_SECONDS = 2 * TIMEOUT


def slow_clock() -> datetime:
    """The app's clock (read by POST and by update_status), slow enough to pass the time-out."""
    time.sleep(SLOW_SECONDS)
    return datetime.now(UTC)


@pytest.fixture
def slow_app(app_config: dict[str, Any]) -> Flask:
    """An app with a short time-out whose clock is slower than that."""
    settings = {"DIAGS_CLOCK": slow_clock, "DIAGS_REQUEST_TIMEOUT": TIMEOUT}
    return create_app({"TESTING": True, **app_config, **settings})


def _assert_timed_out(response: Any, started: float, at_most: float = SLOW_SECONDS) -> None:
    elapsed = time.monotonic() - started
    assert "time-out" in error_detail(response, 503)
    assert response.headers["Retry-After"] == str(responses.RETRY_AFTER_SECONDS)
    assert TIMEOUT <= elapsed < at_most + 2


def test_a_slow_post_gets_a_503_and_stores_nothing(slow_app: Flask, auth: dict[str, str]) -> None:
    client = slow_app.test_client()
    read = reader(client, auth)
    before = count(read)
    started = time.monotonic()
    response = client.post(RESOURCE, json=VALID, headers=auth)
    _assert_timed_out(response, started)
    assert "nothing was changed" in response.get_json()["detail"]
    assert count(read) == before


def test_a_slow_status_update_gets_a_503_and_refreshes_nothing(slow_app: Flask, auth: dict[str, str]) -> None:
    client = slow_app.test_client()
    query = f"{RESOURCE}?id={fixtures.DOCUMENTED_DEVICE_ID}"
    before = client.get(query, headers=auth).get_json()
    started = time.monotonic()
    response = client.get(query + "&update_status=true", headers=auth)
    _assert_timed_out(response, started)
    assert "nothing was changed" in response.get_json()["detail"]
    assert client.get(query, headers=auth).get_json() == before


@pytest.fixture
def slow_helper_app(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Flask:
    """An app with a short time-out whose resources helper answers once, then is slower than that."""
    calls: list[int] = []
    real = diagnostics.REGISTRY["resources"]

    def slow_after_the_first(rng: Any, now: datetime) -> dict[str, Any]:
        calls.append(1)
        if len(calls) > 1:
            time.sleep(SLOW_SECONDS)
        return real(rng, now)

    monkeypatch.setitem(diagnostics.REGISTRY, "resources", slow_after_the_first)
    return create_app({"TESTING": True, **app_config, "DIAGS_REQUEST_TIMEOUT": TIMEOUT})


def test_a_refresh_cut_off_by_the_time_out_keeps_what_it_finished(
    slow_helper_app: Flask, auth: dict[str, str]
) -> None:
    client = slow_helper_app.test_client()
    read = reader(client, auth)
    every_page = f"{RESOURCE}?limit={config.MAX_PAGE_SIZE}"
    before = records(walk(read, every_page))
    started = time.monotonic()
    response = client.get(RESOURCE + "?update_status=true", headers=auth)
    _assert_timed_out(response, started)
    assert "refreshes made before it are kept" in response.get_json()["detail"]
    after = records(walk(read, every_page))
    assert len(after) == len(before)
    changed = [new for old, new in zip(before, after, strict=True) if old != new]
    assert len(changed) == 1 and changed[0]["diagnostic_type"] == "health_check"


def test_injected_latency_is_cut_short_at_the_deadline(
    app_config: dict[str, Any], auth: dict[str, str]
) -> None:
    latency_seconds = 20
    fault = {"method": "GET", "path": RESOURCE, "latency_ms": latency_seconds * 1000}
    client = create_app(
        {"TESTING": True, **app_config, "DIAGS_FAULTS": [fault], "DIAGS_REQUEST_TIMEOUT": TIMEOUT}
    ).test_client()
    started = time.monotonic()
    _assert_timed_out(client.get(RESOURCE, headers=auth), started, at_most=TIMEOUT)


def test_a_request_held_at_the_reset_gate_gets_a_503(app: Flask, auth: dict[str, str]) -> None:
    app.config["DIAGS_REQUEST_TIMEOUT"] = TIMEOUT
    client = app.test_client()
    with services_of(app).gate.exclusive():  # a reset holds the gate for longer than the time-out
        started = time.monotonic()
        response = client.get(RESOURCE, headers=auth)
    _assert_timed_out(response, started, at_most=TIMEOUT)
    assert client.get(RESOURCE, headers=auth).status_code == 200


def test_an_admin_reset_is_not_cut_short_by_the_time_out(
    app: Flask, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = admin.load_fixture

    def slow_generation(config: Any) -> dict[str, Any]:  # a large data set takes its time
        time.sleep(SLOW_SECONDS)
        return real(config)

    monkeypatch.setattr(admin, "load_fixture", slow_generation)
    app.config["DIAGS_REQUEST_TIMEOUT"] = TIMEOUT
    client = app.test_client()
    response = client.post("/__admin/reset", json={"seed": 7})
    assert response.status_code == 200
    assert response.get_json()["seed"] == 7
    assert client.get(RESOURCE, headers=auth).status_code == 200


def _client_on(database: Path, app_config: dict[str, Any], timeout: float) -> FlaskClient:
    return create_app(
        {"TESTING": True, **app_config, "DIAGS_DB": str(database), "DIAGS_REQUEST_TIMEOUT": timeout}
    ).test_client()


def test_a_post_waiting_for_another_workers_lock_gets_a_503_at_the_deadline(
    app_config: dict[str, Any], auth: dict[str, str], tmp_path: Path
) -> None:
    database = tmp_path / "shared.db"
    client = _client_on(database, app_config, TIMEOUT)
    read = reader(client, auth)
    before = count(read)
    with another_worker_writing(database):
        started = time.monotonic()
        response = client.post(RESOURCE, json=VALID, headers=auth)
        _assert_timed_out(response, started, at_most=TIMEOUT)
        assert "nothing was changed" in response.get_json()["detail"]
    assert count(read) == before
    assert client.post(RESOURCE, json=VALID, headers=auth).status_code == 201


@pytest.mark.parametrize("timeout", [0, 30 * TIMEOUT], ids=["time-out-off", "time-out-past-the-lock-wait"])
def test_a_lock_held_past_the_stores_longest_wait_is_a_503_not_a_crash(
    app_config: dict[str, Any], auth: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    timeout: float,
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_SECONDS", TIMEOUT)
    database = tmp_path / "shared.db"
    client = _client_on(database, app_config, timeout)
    before = count(reader(client, auth))
    with another_worker_writing(database):
        response = client.post(RESOURCE, json=VALID, headers=auth)
    assert "held the database's lock" in error_detail(response, 503)
    assert response.headers["Retry-After"] == str(responses.RETRY_AFTER_SECONDS)
    assert count(reader(client, auth)) == before


def test_an_answer_stands_when_its_journal_entry_cannot_be_written(
    app_config: dict[str, Any], auth: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "shared.db"
    client = _client_on(database, app_config, TIMEOUT)
    with another_worker_writing(database):
        response = client.get(RESOURCE, headers=auth)  # reads need no lock; the journal's write does
    assert response.status_code == 200
    assert "journal entry dropped" in caplog.text


def test_the_app_answers_normally_after_a_time_out(slow_app: Flask, auth: dict[str, str]) -> None:
    client = slow_app.test_client()
    client.post(RESOURCE, json=VALID, headers=auth)
    slow_app.config["DIAGS_REQUEST_TIMEOUT"] = 0
    assert client.post(RESOURCE, json=VALID, headers=auth).status_code == 201


@pytest.mark.parametrize("app_config", [{"DIAGS_TOKENS": ["test-token"], "DIAGS_REQUEST_TIMEOUT": 0}])
def test_a_zero_time_out_turns_it_off(app_config: dict[str, Any], auth: dict[str, str]) -> None:
    client = create_app({"TESTING": True, **app_config, "DIAGS_CLOCK": slow_clock}).test_client()
    assert client.post(RESOURCE, json=VALID, headers=auth).status_code == 201


def _past(deadline: Deadline) -> Deadline:
    deadline.expires_at = time.monotonic() - 1
    return deadline


class _RecordingStore:
    """Two of a store's writes: ``create`` is what its request is for, ``update`` a status refresh."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def create(self, fields: dict[str, Any]) -> str:
        self.writes.append("create")
        return "stored"

    def update(self, record_id: str, changes: dict[str, Any]) -> None:
        self.writes.append("refresh")


def test_a_write_that_began_before_the_deadline_wins() -> None:
    deadline = Deadline(60)
    with deadline_scope(deadline):
        assert limits.GuardedStore(cast(Store, _RecordingStore())).create({}) == "stored"
    _past(deadline).check()  # committed: it runs to its answer, however late


def test_no_write_happens_after_the_deadline_has_passed() -> None:
    recording = _RecordingStore()
    store = limits.GuardedStore(cast(Store, recording))
    with deadline_scope(Deadline(60)) as deadline:
        assert store.update("diag-001", {}) is None
        _past(deadline)
        with pytest.raises(ApiError) as raised:
            store.create({})
    assert raised.value.status == 503 and "refreshes made before it are kept" in raised.value.detail
    assert recording.writes == ["refresh"]


def test_a_deadline_counts_down_from_its_start() -> None:
    deadline = Deadline(60)
    assert 59 < deadline.remaining() <= 60
    deadline.check()
    assert _past(deadline).remaining() == 0
    with pytest.raises(ApiError):
        deadline.check()


def test_outside_a_request_the_store_is_not_guarded(app: Flask) -> None:
    store = services_of(app).store
    assert isinstance(store, limits.GuardedStore)
    assert store.stats()["diagnostics"] == len(fixtures.default()["diagnostics"])


# --- Options and defaults ---------------------------------------------------------------------------------

LIMIT_OPTIONS = {
    "--max-body": ("MAX_CONTENT_LENGTH", "DIAGS_MAX_BODY_BYTES", config.MAX_BODY_BYTES, "4096", 4096),
    "--max-header-bytes": (
        "DIAGS_MAX_HEADER_BYTES",
        "DIAGS_MAX_HEADER_BYTES",
        config.MAX_HEADER_BYTES,
        "2048",
        2048,
    ),
    "--max-url-bytes": ("DIAGS_MAX_URL_BYTES", "DIAGS_MAX_URL_BYTES", config.MAX_URL_BYTES, "1024", 1024),
    "--max-json-depth": ("DIAGS_MAX_JSON_DEPTH", "DIAGS_MAX_JSON_DEPTH", config.MAX_JSON_DEPTH, "8", 8),
    "--request-timeout": (
        "DIAGS_REQUEST_TIMEOUT",
        "DIAGS_REQUEST_TIMEOUT",
        config.REQUEST_TIMEOUT_SECONDS,
        "2.5",
        2.5,
    ),
    "--body-timeout": ("DIAGS_BODY_TIMEOUT", "DIAGS_BODY_TIMEOUT", config.BODY_TIMEOUT_SECONDS, "3", 3.0),
}


def _settings(*argv: str) -> dict[str, Any]:
    return cli.app_config(cli.build_parser().parse_args(["serve", *argv]))


@pytest.mark.parametrize("option", LIMIT_OPTIONS)
def test_each_limit_has_a_default_an_option_and_an_environment_variable(
    clean_environment: pytest.MonkeyPatch, option: str
) -> None:
    key, variable, default, text, value = LIMIT_OPTIONS[option]
    assert _settings()[key] == default == create_app({"TESTING": True}).config[key]
    assert _settings(option, text)[key] == value
    clean_environment.setenv(variable, text)
    assert _settings()[key] == value


def test_the_documented_defaults() -> None:
    assert (
        config.MAX_BODY_BYTES,
        config.MAX_HEADER_BYTES,
        config.MAX_URL_BYTES,
        config.MAX_JSON_DEPTH,
        config.REQUEST_TIMEOUT_SECONDS,
        config.BODY_TIMEOUT_SECONDS,
    ) == (1024 * 1024, 16 * 1024, 8 * 1024, 32, 10.0, 10.0)


def test_a_limit_of_the_wrong_type_is_refused(clean_environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit):
        _settings("--max-header-bytes", "lots")
