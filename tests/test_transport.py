"""Sending through the gateway: 429/503 retried as Retry-After says, within the bounds; no other status
retried, a POST's 500 above all; a failed connection tried twice, then blamed on the network."""

from __future__ import annotations

from collections.abc import Iterator

import live
import pytest
import requests
from contract_servers import gateway

from contract_tests import transport
from contract_tests.pacing import Pacer
from contract_tests.retrying import STATS, NetworkFailure, RetryPolicy, ServerUnavailable

TOKEN = "transport-token-91c"


@pytest.fixture(autouse=True)
def policy() -> Iterator[None]:
    saved = transport.SETTINGS.policy, transport.SETTINGS.pacer
    transport.configure(True, RetryPolicy(max_retries=3, max_wait=20), Pacer(None))
    yield
    transport.SETTINGS.policy, transport.SETTINGS.pacer = saved


def _send(base_url: str, method: str = "GET", body: bytes | None = None) -> requests.Response:
    session = transport.new_session(base_url)
    request = session.prepare_request(requests.Request(
        method, base_url + "/inventory_device_diags/", data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}))
    return transport.send(session, request, (5.0, 30.0))


def test_a_429_is_retried_after_retry_after() -> None:
    server = gateway.start(TOKEN, rate_limit=gateway.RateLimit(rate=2, burst=1))
    before = STATS.by_cause.get("429", 0)
    try:
        assert _send(server.base_url).status_code == 200
        assert _send(server.base_url).status_code == 200  # refused first, then let through
    finally:
        server.stop()
    assert server.gate.refused.get(429, 0) >= 1
    assert STATS.by_cause.get("429", 0) - before == server.gate.refused[429]


def test_a_post_answered_503_is_retried() -> None:
    server = gateway.start(TOKEN, flaky=gateway.Flaky(share=0.5, seed=3))
    try:
        body = b'{"device_id": "nope", "diagnostic_type": "health_check"}'
        statuses = [_send(server.base_url, "POST", body).status_code for _ in range(4)]
    finally:
        server.stop()
    assert server.gate.refused.get(503, 0) >= 1
    assert 503 not in statuses


def test_a_post_answered_500_is_never_retried() -> None:
    server = gateway.start(TOKEN, ["500-on-bad-json"])
    try:
        assert _send(server.base_url, "POST", b"{not json").status_code == 500
    finally:
        server.stop()
    assert server.gate.passed == 1


def test_past_the_bounds_the_server_is_reported_unavailable() -> None:
    # A bucket that refills once a minute: Retry-After asks for more than the wait left.
    server = gateway.start(TOKEN, rate_limit=gateway.RateLimit(rate=1 / 60, burst=1))
    try:
        _send(server.base_url)
        refused = r"still rate-limited \(429\) after 0 retries.*--max-retry-wait"
        with pytest.raises(ServerUnavailable, match=refused):
            _send(server.base_url)
    finally:
        server.stop()


def test_a_refused_connection_is_tried_twice_then_blamed_on_the_network() -> None:
    port = live.free_port()
    refused = rf"the network failed.*connection refused at 127.0.0.1:{port}, twice"
    with pytest.raises(NetworkFailure, match=refused):
        _send(f"http://127.0.0.1:{port}/api/v1")


def test_the_ca_bundle_option_comes_before_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/ca.pem")
    assert transport.tls_verify("/option/ca.pem", insecure=False) == "/option/ca.pem"
    assert transport.tls_verify(None, insecure=False) == "/env/ca.pem"
    assert transport.tls_verify("/option/ca.pem", insecure=True) is False
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert transport.tls_verify(None, insecure=False) is True


def test_a_dropped_connection_is_tried_once_more() -> None:
    server = gateway.start(TOKEN, drop_first=1)
    before = STATS.by_cause.get("a connection error", 0)
    try:
        assert _send(server.base_url).status_code == 200
    finally:
        server.stop()
    assert server.gate.dropped == 1 and server.gate.passed == 1
    assert STATS.by_cause.get("a connection error", 0) == before + 1


def test_a_post_whose_connection_dropped_is_not_sent_again() -> None:
    # The body went out: it may have been stored, so a second POST could make a duplicate.
    server = gateway.start(TOKEN, drop_first=1)
    try:
        with pytest.raises(NetworkFailure, match=r"the network failed.*connection reset"):
            _send(server.base_url, "POST", b'{"device_id": "x", "diagnostic_type": "health_check"}')
    finally:
        server.stop()
    assert server.gate.dropped == 1 and server.gate.passed == 0


def test_a_connection_dropped_twice_is_the_networks_fault() -> None:
    server = gateway.start(TOKEN, drop_first=2)
    try:
        with pytest.raises(NetworkFailure, match=r"connection reset at 127\.0\.0\.1:\d+, twice"):
            _send(server.base_url)
    finally:
        server.stop()
