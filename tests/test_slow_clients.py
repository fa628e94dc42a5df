"""Slow clients hold up no one: the real server (``python -m mockserver serve``) with stalled clients.

Clients that send a request head and stall mid-body, or stall mid-head, are raw sockets, bounded in
number and closed at the end. The bounds on the other clients' answers are generous (a loaded 2-core
machine); the latency figures belong to the benchmark (``bench/slow_clients.py``).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from listing import RESOURCE
from live import Server, serve

from mockserver.serving import server

HOST = "127.0.0.1"
TOKEN = "slow-clients-token-8d1e"
STALLED = 32
#: Each other client's request must be answered within this (the goal is 100 ms at p99, in the benchmark).
PROMPT_SECONDS = 2.0
BODY_TIMEOUT_SECONDS = 2
RECEIVE_SECONDS = 30
Client = socket.socket
BODY = json.dumps({"device_id": "device-12345", "diagnostic_type": "maintenance"}).encode()


def post_head(length: int = len(BODY)) -> bytes:
    return (f"POST {RESOURCE} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


@contextmanager
def stalled_clients(port: int, count: int = STALLED) -> Iterator[tuple[list[Client], list[Client]]]:
    """``count`` clients stalled mid-body and ``count`` stalled mid-head, closed when the block ends."""
    mid_body: list[Client] = []
    mid_head: list[Client] = []
    try:
        for _ in range(count):
            client = socket.create_connection((HOST, port), timeout=RECEIVE_SECONDS)
            mid_body.append(client)
            client.sendall(post_head() + BODY[:10])
        for _ in range(count):
            client = socket.create_connection((HOST, port), timeout=RECEIVE_SECONDS)
            mid_head.append(client)
            client.sendall(f"GET {RESOURCE} HTTP/1.1\r\nHost: {HOST}\r\nAuthoriz".encode())
        yield mid_body, mid_head
    finally:
        for client in mid_body + mid_head:
            client.close()


def receive_all(client: socket.socket) -> bytes:
    """What the server sends until it closes the connection (bounded by the socket's time-out)."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def timed(session: requests.Session, method: str, url: str, **options: object) -> requests.Response:
    """One request, which must be answered within ``PROMPT_SECONDS``."""
    started = time.monotonic()
    response = session.request(method, url, timeout=RECEIVE_SECONDS, **options)  # type: ignore[arg-type]
    waited = time.monotonic() - started
    assert waited < PROMPT_SECONDS, f"{method} {url} waited {waited:.2f} s behind the stalled clients"
    return response


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        opened.headers["Authorization"] = f"Bearer {TOKEN}"
        yield opened


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    with serve("--body-timeout", str(BODY_TIMEOUT_SECONDS), token=TOKEN,
               log_path=tmp_path / "serve.log") as started:
        yield started


def test_stalled_clients_hold_up_no_one_and_a_stalled_body_gets_a_json_408(
    live: Server, session: requests.Session
) -> None:
    with stalled_clients(live.port) as (mid_body, _mid_head):
        stalled_at = time.monotonic()
        for number in range(20):
            assert timed(session, "GET", live.resource, params={"limit": 1 + number % 5}).status_code == 200
        assert timed(session, "POST", live.resource, data=BODY,
                     headers={"Content-Type": "application/json"}).status_code == 201
        answer = receive_all(mid_body[0])
        assert time.monotonic() - stalled_at >= BODY_TIMEOUT_SECONDS - 0.5
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        assert b"content-type: application/json" in head.lower()
        assert f"time-out of {BODY_TIMEOUT_SECONDS:g} s" in json.loads(body)["detail"]
        for client in mid_body[1:]:
            assert receive_all(client).startswith(b"HTTP/1.1 408")
        # Their places freed, the server goes on answering everyone.
        assert timed(session, "GET", live.resource).status_code == 200
    refused = [line for line in live.log().splitlines() if f'"POST {RESOURCE} HTTP/1.1" 408 ' in line]
    assert len(refused) == STALLED


def test_a_body_sent_whole_within_the_time_out_is_served(live: Server) -> None:
    with socket.create_connection((HOST, live.port), timeout=RECEIVE_SECONDS) as client:
        client.sendall(post_head() + BODY[:10])
        time.sleep(0.5)
        client.sendall(BODY[10:])
        assert client.recv(65536).startswith(b"HTTP/1.1 201")


def test_sigterm_stops_the_server_promptly_with_stalled_clients(tmp_path: Path) -> None:
    with serve(token=TOKEN, log_path=tmp_path / "serve.log") as started, stalled_clients(started.port):
        time.sleep(0.5)
        began = time.monotonic()
        assert started.stop(signal.SIGTERM) == 0
        assert time.monotonic() - began < server.STOP_GRACE_SECONDS + 5


def test_the_limits_still_answer_in_json_over_the_real_server(
    live: Server, session: requests.Session
) -> None:
    # A 413 comes from the head alone, and the server may close before it takes the body: a raw client
    # that announces the body and sends little of it reads the answer whatever the timing.
    with socket.create_connection((HOST, live.port), timeout=RECEIVE_SECONDS) as raw:
        raw.sendall(post_head(1024 * 1024 + 2) + b"{}")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
            if answer.endswith(b"}"):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    assert (head.split(b" ")[1], "limit" in json.loads(body)["detail"]) == (b"413", True)
    long_url = timed(session, "GET", live.resource, params={"q": "x" * 9000})
    assert (long_url.status_code, "detail" in long_url.json()) == (414, True)
    large_headers = timed(session, "GET", live.resource, headers={"X-Pad": "x" * 17000})
    assert (large_headers.status_code, "detail" in large_headers.json()) == (431, True)


def test_injected_latency_waits_off_the_event_loop_and_the_time_out_still_answers_503(
    tmp_path: Path, session: requests.Session
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"faults": [{"method": "POST", "path": RESOURCE, "latency_ms": 8000}]}))
    with serve("--faults", str(faults), "--request-timeout", "5", token=TOKEN,
               log_path=tmp_path / "serve.log") as started, requests.Session() as poster:
        poster.headers["Authorization"] = f"Bearer {TOKEN}"
        with socket.create_connection((HOST, started.port), timeout=RECEIVE_SECONDS) as slow:
            slow.sendall(post_head() + BODY)
            time.sleep(0.5)  # the POST now sleeps in its thread
            for _ in range(5):
                assert timed(session, "GET", started.resource).status_code == 200
            head, _, body = slow.recv(65536).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"retry-after" in head.lower()
        assert "time-out of 5 s" in json.loads(body)["detail"]
