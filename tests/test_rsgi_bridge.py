"""The RSGI bridge, in-process: granian's scope and protocol replaced by small fakes of their RSGI shape.

The last tests send raw bytes to the real server, for what only granian's own scope shows (what
it decodes, what it withholds). What the real server does with stalled clients is in
``test_slow_clients.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import live
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from mockserver.api.resource import RESOURCE as RESOURCE_NAME
from mockserver.control import admin
from mockserver.core.config import API_PREFIX
from mockserver.core.wsgi import HEADER_BYTES_KEY, Environ, StartResponse, call_wsgi
from mockserver.pipeline.limits import header_sizes
from mockserver.services import services_of
from mockserver.serving import server
from mockserver.serving.rsgi_bridge import RsgiBridge

STALL = object()  # a body part that never arrives
RESOURCE = API_PREFIX + RESOURCE_NAME


@dataclass
class FakeHeaders:
    """granian's RSGI headers: every name is listed, but a value only if it is visible ASCII."""

    pairs: list[tuple[str, str]]

    def items(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in self.pairs if _visible_ascii(value)]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self.pairs))

    def __len__(self) -> int:
        return len(dict.fromkeys(name for name, _ in self.pairs))


def _visible_ascii(value: str) -> bool:
    return all(" " <= char <= "~" or char == "\t" for char in value)


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


def test_the_query_string_holds_its_bytes_as_latin1_characters() -> None:
    # granian hands over "id=café" for the raw bytes "id=caf\xc3\xa9"; PEP 3333 wants one character per byte.
    environ = serve(bridge(), FakeScope(query_string="id=caf\u00e9&q=%FF"), FakeProtocol())
    assert environ["QUERY_STRING"] == "id=caf\u00c3\u00a9&q=%FF"


def test_a_header_value_that_granian_withholds_gets_a_json_400_and_never_reaches_the_app() -> None:
    reached: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        reached.append(environ)
        return echo_app(environ, start_response)

    refusals: list[tuple[str, int]] = []
    served = bridge(app, record_refusal=lambda environ, status, seconds: refusals.append(
        (environ["PATH_INFO"], status)))
    headers = FakeHeaders([("host", "h"), ("authorization", "Bearer t\u00f6ken"), ("x-note", "caf\u00e9")])
    protocol = FakeProtocol()
    serve(served, FakeScope(headers=headers), protocol)
    assert protocol.status == 400
    assert ("connection", "close") in protocol.headers
    assert "authorization, x-note" in json.loads(protocol.body)["detail"]
    assert (reached, refusals) == ([], [("/thing", 400)])


def test_one_key_for_two_header_names_is_not_a_withheld_value() -> None:
    headers = FakeHeaders([("x-a", "1"), ("x_a", "2")])
    assert serve(bridge(), FakeScope(headers=headers), FakeProtocol())["HTTP_X_A"] == "1,2"


HEADER_NAMES = st.sampled_from(["host", "x-a", "x_a", "cookie", "content-type", "content-length", "accept"])
HEADER_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8))
def test_the_header_bytes_the_bridge_counts_are_those_the_limits_count_from_the_environ(
        pairs: list[tuple[str, str]]) -> None:
    environ = bridge().environ(FakeScope(headers=FakeHeaders(pairs)))
    counted = environ.pop(HEADER_BYTES_KEY)
    assert counted == sum(header_sizes(environ).values())


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


# The real server: what granian's scope gives for bytes that are not plain ASCII.

LIVE_TOKEN = "test-token"  # conftest's, so the test client's app answers the same requests


@pytest.fixture(scope="module")
def live_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with live.serve(token=LIVE_TOKEN, log_path=tmp_path_factory.mktemp("bridge") / "serve.log") as running:
        yield running.port


def _raw_exchange(port: int, target: bytes, header: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send a GET of ``target`` as raw bytes; the status and the JSON body of the answer."""
    authorization = b"Authorization: Bearer " + LIVE_TOKEN.encode() + b"\r\n"
    request = (b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization + header
               + b"Connection: close\r\n\r\n")
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(("target", "query"), [
    pytest.param(RESOURCE.encode() + b"?id=caf\xc3\xa9", {"id": "caf\u00e9"}, id="raw-utf8-in-the-query"),
    pytest.param(RESOURCE.encode() + b"?id=caf%C3%A9", {"id": "caf\u00e9"}, id="escaped-utf8-in-the-query"),
    pytest.param(RESOURCE.encode() + b"%FF", None, id="escape-that-is-not-utf8-in-the-path"),
])
def test_the_served_mock_answers_bytes_beyond_ascii_as_the_app_does_under_pep_3333(
    live_port: int, client: FlaskClient, auth: dict[str, str], target: bytes, query: dict[str, str] | None
) -> None:
    status, body = _raw_exchange(live_port, target)
    # The test client builds its environ the way PEP 3333 says.
    expected = client.get(RESOURCE + "%FF" if query is None else RESOURCE, query_string=query, headers=auth)
    assert (status, body) == (expected.status_code, expected.get_json())
    assert status == 404


@pytest.mark.parametrize("header", [
    pytest.param(b"X-Note: caf\xe9\r\n", id="latin1-in-another-header"),
    pytest.param(b"X-Note: caf\xc3\xa9\r\n", id="utf8-in-another-header"),
])
def test_the_served_mock_names_a_header_value_it_cannot_read_in_a_json_400(live_port: int,
                                                                            header: bytes) -> None:
    status, body = _raw_exchange(live_port, RESOURCE.encode() + b"?limit=1", header)
    assert status == 400
    assert "x-note" in body["detail"]
    assert _raw_exchange(live_port, RESOURCE.encode() + b"?limit=1")[0] == 200
