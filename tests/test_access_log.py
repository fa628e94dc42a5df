"""The access log: one line per request, in the documented format, with no token in it."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from flask import Flask
from listing import RESOURCE

from mockserver import create_app
from mockserver.pipeline import access_log

TOKEN = "a-secret-token-of-some-length"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LINE = re.compile(r'\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] (\S+) "(\S+) (\S+) (\S+)" (\S+) \d+\.\dms')


def _logged_app(**settings: Any) -> tuple[Flask, io.StringIO]:
    app = create_app({"TESTING": True, "DIAGS_TOKENS": [TOKEN], "DIAGS_ACCESS_LOG": True, **settings})
    stream = io.StringIO()
    logged = app.wsgi_app.handlers["access log"]  # type: ignore[attr-defined]
    assert isinstance(logged, access_log.Logged)
    logged.log.stream = stream
    return app, stream


def _lines(stream: io.StringIO) -> list[tuple[str, ...]]:
    lines = stream.getvalue().splitlines()
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    return [match.groups() for match in matches if match]


def test_every_request_is_one_line_with_its_status_and_no_token() -> None:
    app, stream = _logged_app()
    client = app.test_client()
    client.get(RESOURCE + f"?limit=1&probe={TOKEN}", headers=AUTH)
    client.get(RESOURCE)
    client.post(RESOURCE, data=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    client.get("/__admin/health")
    assert _lines(stream) == [
        ("127.0.0.1", "GET", RESOURCE + "?limit=1&probe=***", "HTTP/1.1", "200"),
        ("127.0.0.1", "GET", RESOURCE, "HTTP/1.1", "401"),
        ("127.0.0.1", "POST", RESOURCE, "HTTP/1.1", "400"),
        ("127.0.0.1", "GET", "/__admin/health", "HTTP/1.1", "200"),
    ]
    assert TOKEN not in stream.getvalue()


def test_the_query_string_is_logged_without_tokens_in_it() -> None:
    app, stream = _logged_app(DIAGS_ADMIN_TOKEN="admin-secret-1234")
    client = app.test_client()
    client.get(RESOURCE + "?id=device-12345&limit=5&device_id=x", headers=AUTH)
    client.get(RESOURCE + "?access_token=not-configured-secret&limit=2", headers=AUTH)
    client.get("/__admin/state?x=admin-secret-1234")
    paths = [line[2] for line in _lines(stream)]
    assert paths == [RESOURCE + "?id=device-12345&limit=5&device_id=x",
                     RESOURCE + "?access_token=***&limit=2", "/__admin/state?x=***"]
    assert "secret" not in stream.getvalue()


def test_a_dropped_connection_is_logged_without_a_status() -> None:
    app, stream = _logged_app(DIAGS_FAULTS=[{"path": RESOURCE, "drop": True}])
    assert app.test_client().get(RESOURCE, headers=AUTH).get_data() == b""  # the body never comes
    assert [line[-1] for line in _lines(stream)] == ["-"]


def test_the_app_logs_nothing_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app({"TESTING": True, "DIAGS_TOKENS": [TOKEN]})
    assert not isinstance(app.wsgi_app.handlers["access log"], access_log.Logged)  # type: ignore[attr-defined]
    app.test_client().get(RESOURCE, headers=AUTH)
    assert capsys.readouterr().out == ""


def test_a_path_is_logged_as_it_went_on_the_wire_so_it_cannot_forge_a_line() -> None:
    app, stream = _logged_app()
    # What a server hands over for /a%20b%22%0A[x]%C3%A9: the decoded bytes, as latin-1 characters.
    path = "/a b\"\n[x]\u00e9".encode().decode("latin-1")
    app.test_client().get("/", environ_overrides={"PATH_INFO": path})
    assert [line[2] for line in _lines(stream)] == ["/a%20b%22%0A%5Bx%5D%C3%A9"]


class FlushCountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_lines_are_flushed_in_batches_soon_after_they_are_written() -> None:
    stream = FlushCountingStream()
    log = access_log.AccessLog(stream=stream)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "SERVER_PROTOCOL": "HTTP/1.1"}
    for _ in range(100):
        log.write(environ, "200", time.perf_counter())
    waited_until = time.monotonic() + 5
    while stream.flushes == 0 and time.monotonic() < waited_until:
        time.sleep(0.01)
    assert 1 <= stream.flushes < 100
    assert len(stream.getvalue().splitlines()) == 100
    flushes = stream.flushes
    log.write(environ, "200", time.perf_counter())  # a line alone is flushed too, with no other to push it
    while stream.flushes == flushes and time.monotonic() < waited_until:
        time.sleep(0.01)
    assert stream.flushes > flushes
