"""The real server: ``python -m mockserver serve`` on a free loopback port, spoken to over HTTP.

Every wait here is bounded and only waits for something to happen; no assertion depends on how long
anything took.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from listing import RESOURCE, count, reader, records, walk
from live import Server, start

import fixtures
from mockserver.serving import server

HOST = "127.0.0.1"
TOKEN = "live-secret-token-5f2c"
START_SECONDS = 60
STOP_SECONDS = 15
REQUEST_SECONDS = 30


def start_server(log_path: Path, *options: str) -> Server:
    """Start ``serve`` with ``options`` and wait until it answers HTTP."""
    return start("--host", HOST, *options, token=TOKEN, log_path=log_path, start_seconds=START_SECONDS)


def stop(server: Server, signal_number: int = signal.SIGTERM) -> int:
    """Send ``signal_number`` and wait (bounded) for the exit status."""
    status = server.stop(signal_number, STOP_SECONDS)
    if status is None:
        raise AssertionError(f"the server ignored signal {signal_number}:\n{server.log()}")
    return status


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    live = start_server(tmp_path_factory.mktemp("live") / "serve.log", "--threads", "4")
    yield live
    stop(live)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        opened.headers["Authorization"] = f"Bearer {TOKEN}"
        yield opened


def walk_ids(session: requests.Session, url: str) -> list[str]:
    """The ids of the records met by following ``next`` from ``url``."""
    return [record["id"] for record in records(walk(reader(session, timeout=REQUEST_SECONDS), url))]


def test_get_answers_json_over_http(live_server: Server, session: requests.Session) -> None:
    response = session.get(
        live_server.resource, params={"id": fixtures.DOCUMENTED_DEVICE_ID}, timeout=REQUEST_SECONDS
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["results"][0]["id"] == fixtures.DOCUMENTED_DIAGNOSTIC_ID
    # The app leaves a whole body's length to the server, which must send it.
    assert response.headers["Content-Length"] == str(len(response.content))
    head = session.head(live_server.resource, params={"id": fixtures.DOCUMENTED_DEVICE_ID},
                        timeout=REQUEST_SECONDS)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == str(len(response.content))


def test_next_links_point_at_the_server_itself(live_server: Server, session: requests.Session) -> None:
    body = session.get(live_server.resource, params={"limit": 50}, timeout=REQUEST_SECONDS).json()
    assert body["next"].startswith(live_server.resource + "?")
    assert len(walk_ids(session, live_server.resource + "?limit=50")) == body["count"]


def test_unauthenticated_requests_get_401_over_http(live_server: Server) -> None:
    response = requests.post(
        live_server.resource,
        data=b"not json",
        timeout=REQUEST_SECONDS,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"detail"}


def test_other_methods_get_405_with_allow_over_http(
    live_server: Server, session: requests.Session
) -> None:
    response = session.delete(live_server.resource, timeout=REQUEST_SECONDS)
    assert response.status_code == 405
    assert {"GET", "POST"} <= {method.strip() for method in response.headers["Allow"].split(",")}


def test_a_chunked_body_over_the_limit_is_a_413(live_server: Server, session: requests.Session) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"device_id": "device-12345", "diagnostic_type": "maintenance", "notes": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}'

    response = session.post(
        live_server.resource,
        data=chunks(),
        timeout=REQUEST_SECONDS,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["detail"]


def test_concurrent_posts_lose_nothing(live_server: Server) -> None:
    threads_count, per_thread = 8, 50

    def post_many(slot: int) -> list[tuple[int, str]]:
        answers = []
        with requests.Session() as own:
            own.headers["Authorization"] = f"Bearer {TOKEN}"
            for number in range(per_thread):
                body = {
                    "device_id": fixtures.DOCUMENTED_DEVICE_ID,
                    "diagnostic_type": "maintenance",
                    "notes": f"load {slot}/{number}",
                }
                response = own.post(live_server.resource, json=body, timeout=REQUEST_SECONDS)
                answers.append((response.status_code, response.json().get("id", "")))
        return answers

    with requests.Session() as checker:
        checker.headers["Authorization"] = f"Bearer {TOKEN}"
        before = count(reader(checker, timeout=REQUEST_SECONDS), live_server.url)
        with ThreadPoolExecutor(max_workers=threads_count) as pool:
            answers = [answer for result in pool.map(post_many, range(threads_count)) for answer in result]
        assert [status for status, _ in answers] == [201] * (threads_count * per_thread)
        ids = [record_id for _, record_id in answers]
        assert len(set(ids)) == len(ids)
        listed = walk_ids(checker, f"{live_server.resource}?offset={before}&limit=100")
    assert sorted(listed) == sorted(ids)


def test_sigterm_stops_cleanly_and_the_access_log_has_one_line_per_request_and_no_token(
    tmp_path: Path,
) -> None:
    live = start_server(tmp_path / "serve.log")
    probe_path = "/api/v1/inventory_device_diags/"
    sent = 5
    with requests.Session() as own:
        own.headers["Authorization"] = f"Bearer {TOKEN}"
        for number in range(sent):
            assert (
                own.get(
                    live.url + probe_path,
                    params={"limit": str(number), "probe": TOKEN},
                    timeout=REQUEST_SECONDS,
                ).status_code
                == 200
            )
        assert (
            own.post(
                live.resource,
                data={"data": json.dumps({"device_id": "device-12345", "diagnostic_type": "maintenance"})},
                timeout=REQUEST_SECONDS,
            ).status_code
            == 201
        )
    assert stop(live, signal.SIGTERM) == 0
    log = live.log()
    assert TOKEN not in log
    lines = log.splitlines()
    assert sum(f'"GET {probe_path}' in line for line in lines) == sent
    assert sum(f'"POST {RESOURCE}' in line and " 201 " in line for line in lines) == 1
    assert sum(f'"GET {probe_path}' in line and " 200 " in line for line in lines) == sent


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    live = start_server(tmp_path / "serve.log")
    assert stop(live, signal.SIGINT) == 0
    assert "Traceback" not in live.log()


def test_sigterm_stops_the_server_even_while_clients_hold_every_thread_with_stalled_uploads(
    tmp_path: Path,
) -> None:
    # Each of these holds a coroutine reading its body until the body time-out (10 s by default).
    live = start_server(tmp_path / "serve.log", "--threads", "2")
    body = json.dumps({"device_id": "device-12345", "diagnostic_type": "maintenance"}).encode()
    head = (f"POST {RESOURCE} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    stalled = [socket.create_connection((HOST, live.port), timeout=REQUEST_SECONDS) for _ in range(3)]
    try:
        for client in stalled:
            client.sendall(head + body[:-10])
        time.sleep(1)
        started = time.monotonic()
        assert stop(live, signal.SIGTERM) == 0
        assert time.monotonic() - started < server.STOP_GRACE_SECONDS + 5
    finally:
        for client in stalled:
            client.close()


def test_serve_serves_a_fixture_file_written_by_the_fixtures_command(tmp_path: Path) -> None:
    fixture_path = tmp_path / "fixture.json"
    helpers_path = tmp_path / "helpers.json"
    helpers_path.write_text('{"helpers": ["nope"]}', encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mockserver",
            "fixtures",
            "--seed",
            "3",
            "--devices",
            "6",
            "--diags",
            "17",
            "-o",
            str(fixture_path),
        ],
        check=True,
        capture_output=True,
        timeout=START_SECONDS,
    )
    written: dict[str, Any] = json.loads(fixture_path.read_bytes())
    live = start_server(
        tmp_path / "serve.log", "--fixtures", str(fixture_path), "--helpers-config", str(helpers_path)
    )
    try:
        with requests.Session() as own:
            own.headers["Authorization"] = f"Bearer {TOKEN}"
            page = own.get(live.resource, params={"limit": 100}, timeout=REQUEST_SECONDS).json()
            assert page["count"] == 17
            assert page["results"] == written["diagnostics"]
            broken = own.get(live.resource, params={"update_status": "true"}, timeout=REQUEST_SECONDS)
            assert broken.status_code == 500
            assert "'nope'" in broken.json()["detail"]
    finally:
        assert stop(live) == 0


def test_a_busy_port_stops_serve_with_one_line_naming_the_port_and_the_way_out() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "serve", "--host", HOST, "--port", str(port)],
            capture_output=True, text=True, timeout=START_SECONDS, check=False,
        )
    assert done.returncode != 0
    said = (done.stdout + done.stderr).strip().splitlines()
    assert len(said) == 1, said
    assert str(port) in said[0] and "already in use" in said[0] and "PORT=" in said[0]


def test_top_level_help_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "--help"],
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
    )
    assert done.returncode == 0
    assert "serve" in done.stdout and "fixtures" in done.stdout


FREEZE_PROBE = """
import gc, json, os
from mockserver.serving import server
from mockserver import services
os.environ[server.CONFIG_VARIABLE] = json.dumps({"DIAGS_JOURNAL_SIZE": 0, "DIAGS_DEVICES": 4000,
                                                "DIAGS_DIAGS": 20000})
services.refreeze_after_reset()
before = gc.get_freeze_count()
app = server.app_from_environment()
frozen, collected = gc.get_freeze_count(), len(gc.get_objects())
app.test_client().post("/__admin/reset")
print(json.dumps([before, frozen, collected, len(gc.get_objects())]))
"""


def test_a_served_worker_keeps_its_data_out_of_garbage_collections() -> None:
    # In a child: a freeze is for the whole process, and would keep this one's garbage forever.
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    before, frozen, collected, collected_after_reset = json.loads(done.stdout.splitlines()[-1])
    assert before == 0  # a process that never froze is not frozen by a reset
    assert frozen > 4000 and collected < 100
    # The reset's new store (thousands of objects) is frozen too; only the request's leftovers are not.
    assert collected_after_reset < 1000
