"""mockserver.testing: the handle on a served mock (URLs, reset, devices, faults, journal, verify), and
``running`` and ``ServerPool``, which start ``python -m mockserver serve`` for it."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import fixtures
from mockserver import testing
from mockserver.testing import (
    RESOURCE_PATH,
    SETTLE_MARGIN_SECONDS,
    TABLE_ROWS,
    DiagsMock,
    MockError,
    ServerPool,
    VerificationError,
    path_matches,
    running,
)

START_DEVICES, START_DIAGS = 6, 30


@pytest.fixture(scope="module")
def served() -> Iterator[DiagsMock]:
    with running(seed=11, devices=START_DEVICES, diags=START_DIAGS) as mock:
        yield mock


@pytest.fixture
def mock(served: DiagsMock) -> DiagsMock:
    served.reset_all()
    return served


def call(mock: DiagsMock, method: str = "GET", path: str = RESOURCE_PATH, **options) -> requests.Response:
    headers = {"Authorization": f"Bearer {mock.token}", **options.pop("headers", {})}
    return requests.request(method, mock.url + path, headers=headers, timeout=options.pop("timeout", 10),
                            **options)


def test_the_urls_and_the_token(mock: DiagsMock) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", mock.base_url)
    assert mock.admin_url == mock.base_url.removesuffix("/api/v1") + "/__admin"
    assert requests.get(mock.base_url + "/inventory_device_diags/", timeout=10,
                        headers={"Authorization": f"Bearer {mock.token}"}).status_code == 200
    assert requests.get(mock.base_url + "/inventory_device_diags/", timeout=10,
                        headers={"Authorization": "Bearer YOUR_API_TOKEN"}).status_code == 401
    assert requests.get(mock.admin_url + "/health", timeout=10).json() == {"status": "ok"}


def test_reset_to_another_seed_and_back(mock: DiagsMock) -> None:
    assert mock.reset(seed=3)["seed"] == 3
    assert call(mock, params={"limit": 1}).json()["count"] == START_DIAGS
    assert mock.reset()["seed"] == 11


def test_added_devices_can_be_used(mock: DiagsMock) -> None:
    assert call(mock, params={"id": "device-new"}).status_code == 404

    added = mock.add_devices([{"id": "device-new", "name": "New", "serial": "N-1"},
                              {"id": "device-other", "name": "Other", "serial": "O-1"}])

    assert [device["id"] for device in added] == ["device-new", "device-other"]
    assert call(mock, params={"id": "device-new"}).json()["count"] == 0
    mock.reset_all()
    assert call(mock, params={"id": "device-new"}).status_code == 404


def test_a_fault_answers_its_id_and_clear_faults_removes_it(mock: DiagsMock) -> None:
    fault_id = mock.fault("GET", RESOURCE_PATH, status=500, rate=1.0)

    assert re.fullmatch(r"fault-\d+", fault_id)
    assert [fault["id"] for fault in mock.faults()] == [fault_id]
    assert call(mock).status_code == 500
    assert mock.clear_faults() == 1
    assert mock.faults() == []
    assert call(mock).status_code == 200


def test_a_fault_can_drop_the_connection(mock: DiagsMock) -> None:
    fault_id = mock.fault(drop=True, times=1)

    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        call(mock)

    assert [entry["status"] for entry in mock.requests()] == [None]
    with pytest.raises(VerificationError) as failure:
        mock.verify(2)
    assert failure.value.table.splitlines()[-1].split() == ["*", "GET", RESOURCE_PATH, "dropped", fault_id]


def test_a_fault_the_admin_api_refuses_says_why(mock: DiagsMock) -> None:
    with pytest.raises(MockError, match="422") as refused:
        mock.fault(status=200)
    assert "status" in str(refused.value)


def test_requests_are_newest_last_and_filtered(mock: DiagsMock) -> None:
    call(mock, params={"limit": 1})
    call(mock, "POST", data="not json", headers={"Content-Type": "application/json"})
    call(mock, path="/api/v1/nothing-here")

    entries = mock.requests()

    assert [(entry["method"], entry["path"], entry["status"]) for entry in entries] == [
        ("GET", RESOURCE_PATH, 200), ("POST", RESOURCE_PATH, 400), ("GET", "/api/v1/nothing-here", 404)]
    assert entries[0]["query"] == "limit=1"
    assert [entry["status"] for entry in mock.requests(method="get")] == [200, 404]
    assert [entry["method"] for entry in mock.requests(status=400)] == ["POST"]
    assert len(mock.requests(path=RESOURCE_PATH.rstrip("/"))) == 2
    assert len(mock.requests(path="/api/v1/*")) == 3
    assert mock.requests(method="GET", path="/api/v1/nothing-here")[0]["status"] == 404


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    (None, "/a", True), ("*", "/a", True), ("/a/", "/a", True), ("/a", "/a/", True), ("/a", "/ab", False),
    ("/a*", "/ab", True), ("/b*", "/ab", False),
])
def test_paths_match_as_faults_do(pattern: str | None, path: str, matches: bool) -> None:
    assert path_matches(pattern, path) is matches


def test_verify_takes_a_count_or_a_range(mock: DiagsMock) -> None:
    for _ in range(2):
        call(mock)

    assert len(mock.verify(2, method="GET")) == 2
    mock.verify(range(1, 3))
    mock.verify(at_least=2)
    mock.verify(at_most=2)
    mock.verify(at_least=1, at_most=5, status=200, path=RESOURCE_PATH)
    mock.verify()  # at least one
    mock.verify(0, method="POST")


@pytest.mark.parametrize(("expectation", "wanted"), [
    ({"count": 3}, "exactly 3"), ({"count": range(3, 5)}, "3 to 4"), ({"at_least": 3}, "at least 3"),
    ({"at_most": 1}, "at most 1"), ({"at_least": 3, "at_most": 4}, "3 to 4"),
])
def test_verify_fails_saying_what_it_wanted(mock: DiagsMock, expectation: dict, wanted: str) -> None:
    call(mock)
    call(mock)

    with pytest.raises(VerificationError) as failure:
        mock.verify(**expectation, method="GET")

    assert failure.value.title == f"Expected {wanted} requests (method=GET), the mock received 2."


def test_verify_refuses_a_count_and_bounds_together(mock: DiagsMock) -> None:
    with pytest.raises(TypeError):
        mock.verify(1, at_least=1)
    with pytest.raises(ValueError, match="range"):
        mock.verify(range(3, 3))


def test_the_table_marks_the_matches_and_shows_the_newest_rows(mock: DiagsMock) -> None:
    total = TABLE_ROWS + 5
    for offset in range(total):
        call(mock, params={"offset": offset, "limit": 1})
    call(mock, "POST", json={"device_id": "device-12345"})

    with pytest.raises(VerificationError) as failure:
        mock.verify(0, status=400)

    lines = failure.value.table.splitlines()
    assert lines[0] == (f"The mock received {total + 1} request(s) in this test, oldest first (* matched); "
                        f"the {total + 1 - TABLE_ROWS} oldest not shown:")
    assert len(lines) == 2 + TABLE_ROWS
    assert lines[-1].split() == ["*", "POST", RESOURCE_PATH, "400"]
    assert lines[-2].split() == ["GET", RESOURCE_PATH, f"offset={total - 1}&limit=1", "200"]


def test_an_empty_journal_is_said_plainly(mock: DiagsMock) -> None:
    with pytest.raises(VerificationError) as failure:
        mock.verify(1, method="POST")
    assert failure.value.table == "The mock received no request in this test."


def test_reset_all_waits_for_a_request_held_by_an_injected_latency(mock: DiagsMock) -> None:
    latency = 1.5
    mock.fault("POST", RESOURCE_PATH, latency_ms=int(latency * 1000), times=1)
    sent = time.monotonic()
    with pytest.raises(requests.Timeout):
        call(mock, "POST", json={"device_id": "device-12345", "diagnostic_type": "late"}, timeout=0.2)

    mock.reset_all()

    # By now the POST has surely been stored: before the reset, which therefore removed it.
    time.sleep(max(0.0, sent + latency + 1.0 - time.monotonic()))
    assert mock.requests() == []
    assert mock.state()["diagnostics"] == START_DIAGS


def test_reset_all_does_not_wait_for_answers_the_journal_no_longer_shows(mock: DiagsMock) -> None:
    mock.fault("GET", RESOURCE_PATH, latency_ms=300, times=1)
    call(mock)
    mock.clear_requests()
    mock.clear_faults()

    started = time.monotonic()
    mock.reset_all()

    assert time.monotonic() - started < SETTLE_MARGIN_SECONDS


def test_reset_all_clears_faults_data_and_journal(mock: DiagsMock) -> None:
    mock.fault(status=503, rate=0.5)
    call(mock, "POST", json={"device_id": "device-12345", "diagnostic_type": "x"})

    mock.reset_all()

    state = mock.state()
    assert (state["faults"], state["journal"]["entries"], state["diagnostics"]) == (0, 0, START_DIAGS)


def test_running_stops_its_server() -> None:
    with running() as mock:
        assert mock.state()["seed"] == 42
    assert mock.process is not None and mock.process.poll() is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(mock.admin_url + "/health", timeout=5)


def test_a_server_that_cannot_start_is_reported_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(MockError) as failure, running(fixtures=tmp_path / "missing.json"):
        pass
    assert "before answering" in str(failure.value)
    assert "missing.json" in str(failure.value)


def test_a_port_taken_in_the_meantime_is_given_up_for_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports, real_free_port = [taken.getsockname()[1]], testing.free_port
        monkeypatch.setattr(testing, "free_port", lambda: ports.pop() if ports else real_free_port())
        with running() as mock:
            assert mock.port != taken.getsockname()[1]
            assert mock.state()["seed"] == 42
            assert mock.log_path is not None
            busy = f"port {taken.getsockname()[1]} on 127.0.0.1 is already in use"
            assert busy in mock.log_path.read_text()


def test_the_pool_shares_a_server_per_settings_and_resolves_files(tmp_path: Path) -> None:
    data = fixtures.generate(5, 2, 4, fixtures.DEFAULT_REFERENCE_TIME)
    (tmp_path / "tiny.json").write_bytes(fixtures.dumps(data))
    with ServerPool() as pool:
        by_file = pool.get({"fixtures": "tiny.json"}, relative_to=tmp_path)
        assert pool.get({"fixtures": str(tmp_path / "tiny.json")}) is by_file
        assert by_file.state()["diagnostics"] == 4
        by_mapping = pool.get({"fixtures": data, "helpers_config": {"helpers": ["no-such-helper"]}})
        assert by_mapping is not by_file
        answer = call(by_mapping, params={"update_status": "true"})
        assert answer.status_code == 500
        with pytest.raises(TypeError, match="sed"):
            pool.get({"sed": 1})
        with pytest.raises(MockError) as first:
            pool.get({"fixtures": "absent.json"}, relative_to=tmp_path)
        with pytest.raises(MockError) as again:
            pool.get({"fixtures": "absent.json"}, relative_to=tmp_path)
        assert again.value is first.value  # reported again, not started again
    assert by_file.process is not None and by_file.process.poll() is not None
