"""The RSGI bridge, in-process: granian's scope and protocol replaced by small fakes of their RSGI shape.

What the real server does with stalled clients is in ``test_slow_clients.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from mockserver.api.resource import RESOURCE as RESOURCE_NAME
from mockserver.control import admin
from mockserver.core.config import API_PREFIX
from mockserver.core.wsgi import Environ, StartResponse
from mockserver.services import services_of
from mockserver.serving import server
from mockserver.serving.rsgi_bridge import RsgiBridge, call_wsgi

STALL = object()  # a body part that never arrives
RESOURCE = API_PREFIX + RESOURCE_NAME


@dataclass
class FakeHeaders:
    pairs: list[tuple[str, str]]

    def items(self) -> list[tuple[str, str]]:
        return self.pairs


@dataclass
class FakeScope:
    method: str = "GET"
    path: str = "/thing"
    query_string: str = ""
    headers: FakeHeaders = field(default_factory=lambda: FakeHeaders([("host", "example.test")]))
    proto: str = "http"
    http_version: str = "1.1"
    server: str = "127.0.0.1:8000"
    client: str = "127.0.0.1:50000"
    scheme: str = "http"


class FakeStream:
    def __init__(self, sent: list[bytes]) -> None:
        self.sent = sent

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)


class FakeProtocol:
    """The body arrives in ``parts`` (``STALL``: nothing more ever comes); the answer is recorded."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts
        self.reads = 0
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.streamed: list[bytes] | None = None

    async def _parts(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.reads += 1
            if part is STALL:
                await asyncio.sleep(3600)
            yield part

    async def __call__(self) -> bytes:
        return b"".join([part async for part in self._parts()])

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._parts()

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.response_bytes(status, headers, b"")

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> FakeStream:
        self.status, self.headers, self.streamed = status, headers, []
        return FakeStream(self.streamed)


def echo_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answers the environ's strings and the body it read, as JSON."""
    shown = {key: value for key, value in environ.items() if isinstance(value, str)}
    shown["body"] = environ["wsgi.input"].read().decode()
    shown["thread"] = threading.current_thread().name
    payload = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def bridge(app: Any = echo_app, **options: Any) -> RsgiBridge:
    settings: dict[str, Any] = {"threads": 2, "body_timeout": 5.0, "max_body": 100, **options}
    return RsgiBridge(app, **settings)


def serve(served: RsgiBridge, scope: FakeScope, protocol: FakeProtocol) -> dict[str, Any]:
    asyncio.run(served.__rsgi__(scope, protocol))
    answer: dict[str, Any] = json.loads(protocol.body) if protocol.status == 200 else {}
    return answer


def post(body: bytes, chunked: bool = False) -> FakeScope:
    length = ("transfer-encoding", "chunked") if chunked else ("content-length", str(len(body)))
    return FakeScope(method="POST", headers=FakeHeaders([("content-type", "application/json"), length]))


def test_the_environ_is_the_one_granians_wsgi_interface_builds() -> None:
    headers = FakeHeaders([("host", "h"), ("x-a", "1"), ("x-a", "2"), ("cookie", "a=1"), ("cookie", "b=2"),
                           ("content-type", "text/plain")])
    scope = FakeScope(path="/caf\u00e9/x y", query_string="q=%20", headers=headers, server="[::1]:8080")
    environ = serve(bridge(), scope, FakeProtocol())
    assert environ["PATH_INFO"] == "/caf\u00e9/x y".encode().decode("latin-1")
    assert (environ["QUERY_STRING"], environ["SCRIPT_NAME"]) == ("q=%20", "")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"], environ["REMOTE_ADDR"]) == ("[::1]", "8080",
                                                                                          "127.0.0.1")
    assert (environ["HTTP_X_A"], environ["HTTP_COOKIE"], environ["CONTENT_TYPE"]) == ("1,2", "a=1;b=2",
                                                                                        "text/plain")
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_a_body_is_read_whole_before_the_app_runs() -> None:
    protocol = FakeProtocol(b'{"a": ', b"1}")
    assert serve(bridge(), post(b'{"a": 1}'), protocol)["body"] == '{"a": 1}'
    chunked = FakeProtocol(b'{"a": ', b"2}")
    assert serve(bridge(), post(b"", chunked=True), chunked)["body"] == '{"a": 2}'


def test_a_stalled_body_gets_a_json_408_and_never_reaches_the_app() -> None:
    reached: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        reached.append(environ)
        return echo_app(environ, start_response)

    protocol = FakeProtocol(b'{"a"', STALL)
    refusals: list[tuple[str, int, float]] = []
    served = bridge(app, body_timeout=0.2,
                    record_refusal=lambda environ, status, seconds: refusals.append(
                        (environ["REQUEST_METHOD"], status, seconds)))
    serve(served, post(b'{"a": 1}'), protocol)
    assert refusals == [("POST", 408, 0.2)]
    assert protocol.status == 408
    assert ("connection", "close") in protocol.headers
    assert "time-out of 0.2 s" in json.loads(protocol.body)["detail"]
    assert reached == []


def test_a_body_announced_over_the_limit_is_not_read() -> None:
    protocol = FakeProtocol(STALL)
    scope = FakeScope(method="POST", headers=FakeHeaders([("content-length", "101")]))
    assert serve(bridge(body_timeout=0.2), scope, protocol)["CONTENT_LENGTH"] == "101"
    assert protocol.reads == 0


def test_a_chunked_body_is_read_one_part_past_the_limit_and_no_further() -> None:
    protocol = FakeProtocol(b"x" * 60, b"x" * 60, STALL)
    answer = serve(bridge(body_timeout=0.2), post(b"", chunked=True), protocol)
    assert len(answer["body"]) == 120
    assert protocol.reads == 2


def test_only_requests_that_may_wait_run_in_a_thread() -> None:
    served = bridge(may_wait=lambda environ: environ["PATH_INFO"] == "/slow")
    assert serve(served, FakeScope(path="/fast"), FakeProtocol())["thread"] == threading.current_thread().name
    assert serve(served, FakeScope(path="/slow"), FakeProtocol())["thread"].startswith("request")


def test_while_a_request_waits_in_a_thread_the_loop_answers_others_and_they_queue_behind_no_lock() -> None:
    release = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            assert release.wait(10)
        return echo_app(environ, start_response)

    served = bridge(app, may_wait=lambda environ: environ["PATH_INFO"] == "/slow")

    async def scenario() -> tuple[dict[str, Any], FakeProtocol]:
        slow = FakeProtocol()
        waiting = asyncio.create_task(served.__rsgi__(FakeScope(path="/slow"), slow))
        await asyncio.sleep(0.05)
        fast = FakeProtocol()
        # Answered while the slow one still waits; in a thread, since one is in the pool (a lock it may hold).
        await asyncio.wait_for(served.__rsgi__(FakeScope(path="/fast"), fast), 10)
        assert slow.status == 0
        release.set()
        await asyncio.wait_for(waiting, 10)
        return json.loads(fast.body), slow

    fast_answer, slow = asyncio.run(scenario())
    assert fast_answer["thread"].startswith("request")
    assert slow.status == 200


def test_a_dropped_answer_is_streamed_short_of_its_length() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "64")])
        return []

    protocol = FakeProtocol()
    asyncio.run(bridge(app).__rsgi__(FakeScope(), protocol))
    assert (protocol.status, protocol.streamed) == (200, [b""])


def test_call_wsgi_closes_the_body_and_keeps_what_write_sent() -> None:
    closed: list[bool] = []

    class Body(list[bytes]):
        def close(self) -> None:
            closed.append(True)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("201 CREATED", [("X-A", "1")])(b"head ")
        return Body([b"tail"])

    assert call_wsgi(app, {}) == (201, [("X-A", "1")], b"head tail")
    assert closed == [True]


@pytest.mark.parametrize("database", [False, True])
def test_the_mocks_requests_that_can_wait(app: Flask, tmp_path: Any, database: bool) -> None:
    if database:
        app = server.create_app({"TESTING": True, "DIAGS_DB": str(tmp_path / "diags.db")})
    waits = server.may_wait(app)
    resource = {"PATH_INFO": "/api/v1/inventory_device_diags/"}
    assert waits({"PATH_INFO": admin.ADMIN_PREFIX + "reset"})
    assert waits(resource) is database
    with app.test_client() as admin_client:
        admin_client.post("/__admin/faults", json={"latency_ms": 10})
    assert waits(resource)


def test_while_an_admin_request_holds_the_reset_gate_a_request_waits_in_a_thread_not_on_the_loop(
    app: Flask, auth: dict[str, str]
) -> None:
    gate, mock = services_of(app).gate, app.wsgi_app
    holding, release = threading.Event(), threading.Event()

    def resetting(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"].startswith(admin.ADMIN_PREFIX):
            with gate.exclusive():  # as a reset does, for as long as the test says
                holding.set()
                assert release.wait(10)
        return mock(environ, start_response)

    served = bridge(resetting, may_wait=server.may_wait(app))
    headers = FakeHeaders([("host", "localhost"), *((name.lower(), value) for name, value in auth.items())])

    async def scenario() -> FakeProtocol:
        reset = asyncio.create_task(served.__rsgi__(FakeScope(path="/__admin/state"), FakeProtocol()))
        assert await asyncio.to_thread(holding.wait, 10)
        page = FakeProtocol()
        reading = asyncio.create_task(served.__rsgi__(FakeScope(path=RESOURCE, headers=headers), page))
        for _ in range(5):  # the loop goes on running while the page waits at the gate
            await asyncio.sleep(0.02)
        assert page.status == 0
        release.set()
        await asyncio.wait_for(asyncio.gather(reset, reading), 10)
        return page

    assert asyncio.run(scenario()).status == 200
