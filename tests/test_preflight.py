"""The pre-flight check: a dead port, a base URL without /api/v1 and a refused token each stop the suite
before any test, with one line saying what is wrong and what to try; a correct server runs as usual."""

from __future__ import annotations

from collections.abc import Iterator

import live
import pytest
import requests
from contract_servers import gateway, reference
from suite_process import run_suite

from contract_tests import preflight

TOKEN = "preflight-token-5c1"


@pytest.fixture(scope="module")
def server() -> Iterator[reference.RunningServer]:
    running = reference.start(TOKEN)
    yield running
    running.stop()


def _one_line(base_url: str, token: str) -> str:
    done = run_suite(base_url, token=token)
    assert done.returncode not in (0, 1), done.output[-2000:]  # not a test outcome: a usage error
    assert len(done.lines) == 1, done.output[-3000:]
    assert "diags-kit:" in done.lines[0]
    return done.lines[0]


def test_a_dead_port_is_one_line() -> None:
    port = live.free_port()
    line = _one_line(f"http://127.0.0.1:{port}/api/v1", TOKEN)
    assert f"127.0.0.1:{port}" in line and "is the server running" in line


def test_a_base_url_without_the_api_path_is_one_line(server: reference.RunningServer) -> None:
    origin = server.base_url.removesuffix("/api/v1")
    line = _one_line(origin, TOKEN)
    assert f"{origin} answers 404 for /inventory_device_diags/" in line
    assert f"is /api/v1 missing from --base-url (try {origin}/api/v1)?" in line


def test_a_refused_token_is_one_line(server: reference.RunningServer) -> None:
    line = _one_line(server.base_url, "not-the-token-9f")
    assert "answers 401" in line and "the token is refused" in line and "--token" in line
    assert "not-the-token-9f" not in line


def test_a_correct_server_runs_the_tests(server: reference.RunningServer) -> None:
    done = run_suite(server.base_url, "-k", "test_unknown_device_is_404", token=TOKEN)
    assert done.returncode == 0, done.output[-3000:]
    assert "1 passed" in done.output


def test_no_preflight_runs_the_tests_anyway() -> None:
    done = run_suite(f"http://127.0.0.1:{live.free_port()}/api/v1", "--no-preflight", "-k",
                     "test_unknown_device_is_404", token=TOKEN)
    assert done.returncode == 1 and "1 failed" in done.output, done.output[-3000:]


def test_check_passes_a_correct_server_and_names_a_wrong_path(server: reference.RunningServer) -> None:
    with requests.Session() as session:
        assert preflight.check(server.base_url, TOKEN, session) is None
        problem = preflight.check(server.base_url.replace("/api/v1", "/v1"), TOKEN, session)
    assert problem is not None and "is --base-url the API base" in problem


def test_a_server_that_only_rate_limits_is_one_line() -> None:
    # An empty bucket refilled once a minute: every answer is 429 with Retry-After: 60.
    server = gateway.start(TOKEN, rate_limit=gateway.RateLimit(rate=1 / 60, burst=0))
    try:
        done = run_suite(server.base_url, "--max-retry-wait", "5", token=TOKEN)
    finally:
        server.stop()
    assert done.returncode == 4 and len(done.lines) == 1, done.output[-3000:]
    assert "was still rate-limited (429)" in done.lines[0] and "--max-retry-wait" in done.lines[0]
