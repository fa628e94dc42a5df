"""Concurrent writers against the real server over HTTP: 8 threads x 100 POSTs, with reads in between.

Every POST gets a 201, every id is unique, every record reads back exactly as it was answered, and
the count grows by exactly 800.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from listing import RESOURCE, ReadPage, count, reader, records, walk
from live import serve

import fixtures

TOKEN = "concurrency-token"
THREADS = 8
POSTS_PER_THREAD = 100
REQUEST_SECONDS = 30
START_SECONDS = 60
RUN_SECONDS = 300
PAGE = 100


@pytest.fixture(scope="module", params=["memory", "sqlite-2-workers"])
def server_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m mockserver serve`` on a free loopback port: in memory, or two workers on one ``--db``."""
    folder = tmp_path_factory.mktemp("concurrency")
    options = []
    if request.param == "sqlite-2-workers":
        options = ["--db", str(folder / "mock.db"), "--workers", "2"]
    with serve(*options, token=TOKEN, log_path=folder / "serve.log", start_seconds=START_SECONDS) as server:
        yield server.url


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    return session


def _writer(server_url: str, thread: int, device_ids: list[str]) -> list[dict[str, Any]]:
    """One thread's POSTs, each followed by a read; returns the records the 201s answered."""
    created: list[dict[str, Any]] = []
    with _session() as session:
        for number in range(POSTS_PER_THREAD):
            device_id = device_ids[(thread * POSTS_PER_THREAD + number) % len(device_ids)]
            body = {
                "device_id": device_id,
                "diagnostic_type": "issue_report",
                "status": "open",
                "details": {"thread": thread, "number": number, "symptoms": ["slow_response"], "ratio": 0.5},
                "issues": [
                    {"severity": "low", "message": f"writer {thread}.{number} — ünïcode", "code": "W"}
                ],
                "notes": f"thread {thread} post {number}",
                "priority": "medium",
            }
            response = session.post(server_url + RESOURCE, json=body, timeout=REQUEST_SECONDS)
            assert response.status_code == 201, response.text[:300]
            record = response.json()
            assert {key: record[key] for key in body} == body
            created.append(record)
            read = session.get(
                server_url + RESOURCE, params={"id": device_id, "limit": "5"}, timeout=REQUEST_SECONDS
            )
            assert read.status_code == 200 and read.json()["count"] >= 1
    return created


def _every_record(read: ReadPage, server_url: str) -> dict[str, dict[str, Any]]:
    listed = records(walk(read, f"{server_url}{RESOURCE}?limit={PAGE}", max_pages=1000))
    by_id = {record["id"]: record for record in listed}
    assert len(by_id) == len(listed), "a record was listed twice"
    return by_id


def test_eight_threads_of_a_hundred_posts_lose_nothing(server_url: str) -> None:
    device_ids = [device["id"] for device in fixtures.default()["devices"]]
    with _session() as session:
        read = reader(session, timeout=REQUEST_SECONDS)
        before = count(read, server_url)
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            futures = [pool.submit(_writer, server_url, thread, device_ids) for thread in range(THREADS)]
            created = [record for future in futures for record in future.result(timeout=RUN_SECONDS)]
        assert len(created) == THREADS * POSTS_PER_THREAD
        ids = [record["id"] for record in created]
        assert len(set(ids)) == len(ids), "an id was given twice"
        assert count(read, server_url) == before + THREADS * POSTS_PER_THREAD
        stored = _every_record(read, server_url)
        assert len(stored) == before + THREADS * POSTS_PER_THREAD
        for record in created:
            assert stored[record["id"]] == record
