"""``record`` copies a server's records into a fixture file that the mock serves as they were served;
``proxy --record`` does the same from the traffic."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import live
import pytest
import requests
from contract_servers import reference
from contract_servers.inventory import DEVICES
from proxy_live import drive, proxied, walk

import fixtures

TOKEN = "record-check-51d2aa"


@pytest.fixture
def source() -> Iterator[reference.RunningServer]:
    server = reference.start(TOKEN)
    yield server
    server.stop()


def _record(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", "record", *args], cwd=live.ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def _all_records(base_url: str) -> list[dict[str, object]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    pages = walk(session, base_url + "/inventory_device_diags/", {"limit": 7})
    return [record for page in pages for record in page["results"]]


def test_the_mock_serves_the_recorded_records_as_the_source_served_them(source: reference.RunningServer,
                                                                        tmp_path: Path) -> None:
    output = tmp_path / "recorded.json"
    done = _record("--from", source.base_url, "--token", TOKEN, "-o", str(output))
    assert done.returncode == 0, done.stderr
    assert "recording:" in done.stderr and f"to {output}" in done.stderr
    assert TOKEN not in output.read_text()
    expected = _all_records(source.base_url)
    assert len(expected) > 10
    fixtures.load(output)  # the mock's own check of a fixture file
    with live.serve("--fixtures", str(output), token=TOKEN, log_path=tmp_path / "mock.log") as mock:
        served = _all_records(mock.url + "/api/v1")
    assert served == expected


def test_device_and_max_records_bound_the_walk(source: reference.RunningServer, tmp_path: Path) -> None:
    output = tmp_path / "one.json"
    device = DEVICES[0].device_id
    done = _record("--from", source.base_url, "--token", TOKEN, "-o", str(output), "--device", device,
                   "--device", "no-such-device", "--max-records", "3")
    assert done.returncode == 0, done.stderr
    assert "'no-such-device' is unknown" not in done.stderr  # the budget was spent on the first device
    recorded = json.loads(output.read_text())
    assert len(recorded["diagnostics"]) == 3
    assert {record["device_id"] for record in recorded["diagnostics"]} == {device}
    assert [device_entry["id"] for device_entry in recorded["devices"]] == [device]


def test_a_refused_token_fails_without_writing(source: reference.RunningServer, tmp_path: Path) -> None:
    output = tmp_path / "none.json"
    done = _record("--from", source.base_url, "--token", "wrong-token", "-o", str(output))
    assert done.returncode == 1
    assert "401" in done.stderr and "wrong-token" not in done.stderr
    assert not output.exists()


def test_proxy_record_keeps_the_records_that_pass_through(source: reference.RunningServer,
                                                          tmp_path: Path) -> None:
    output = tmp_path / "traffic.json"
    with proxied(source.base_url, "--record", str(output), log_path=tmp_path / "proxy.log") as proxy:
        drive(proxy, TOKEN)
        seen = _all_records(proxy.url + "/api/v1")
    recorded = fixtures.load(output)
    assert {record["id"] for record in recorded["diagnostics"]} == {record["id"] for record in seen}
    assert TOKEN not in output.read_text()
    with live.serve("--fixtures", str(output), token=TOKEN, log_path=tmp_path / "mock.log") as mock:
        assert sorted(_all_records(mock.url + "/api/v1"), key=lambda record: str(record["id"])) == \
            sorted(seen, key=lambda record: str(record["id"]))
