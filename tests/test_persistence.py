"""``--db``: the data outlives the process, and several workers share it.

First the SQLite store on its own (a file reopened, two handles on one file as two workers
would hold), then real ``python -m mockserver serve`` processes: a restart keeps the data,
``kill -9`` right after a 201 loses nothing, and two workers see each other's writes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import live
import pytest
import requests
from listing import RESOURCE
from shared_db import another_worker_writing

import fixtures
from fixtures import PROGRESS_STEP
from mockserver.control.faults import parse_fault
from mockserver.core.deadline import Deadline, deadline_scope
from mockserver.storage.base import StoreBusy
from mockserver.storage.sqlite import (
    BUSY_TIMEOUT_SECONDS,
    Database,
    DatabaseError,
    SqliteFaultBook,
    SqliteStore,
)

TOKEN = "persistence-token"
ADMIN_TOKEN = "persistence-admin"
API = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
START_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 10.0
DEVICE = fixtures.DOCUMENTED_DEVICE_ID


def small_fixture() -> dict[str, Any]:
    return {"devices": [{"id": "device-1", "name": "One", "serial": "S1"}],
            "diagnostics": [{"id": "diag-001", "device_id": "device-1", "diagnostic_type": "maintenance"}]}


def new_fields(**extra: Any) -> dict[str, Any]:
    return {"device_id": "device-1", "diagnostic_type": "maintenance", **extra}


# The store on its own.


def open_store(path: Path) -> SqliteStore:
    store = SqliteStore(Database(path))
    store.initialize(small_fixture, seed=5)
    return store


def test_a_reopened_file_keeps_the_data_and_the_id_sequence(tmp_path: Path) -> None:
    first = open_store(tmp_path / "data.db")
    created = first.create(new_fields(notes="kept"))
    first.reset(small_fixture())
    after_reset = first.create(new_fields())
    first.database.close()

    second = open_store(tmp_path / "data.db")
    assert second.get(after_reset["id"]) == after_reset
    assert second.get(created["id"]) is None
    assert second.create(new_fields())["id"] == "diag-004"
    assert second.seed() == 5


@pytest.mark.parametrize("many", [PROGRESS_STEP * 2 + 7, PROGRESS_STEP * 3])
def test_a_fill_reports_its_progress_every_step_and_once_at_the_end(tmp_path: Path, many: int) -> None:
    fixture = {"devices": [{"id": "device-1"}],
               "diagnostics": [{"id": f"diag-{n}", "device_id": "device-1", "diagnostic_type": "maintenance"}
                               for n in range(1, many + 1)]}
    reports: list[tuple[int, int]] = []
    store = SqliteStore(Database(tmp_path / "data.db"))
    store.initialize(lambda: fixture, 1, lambda done, total: reports.append((done, total)))
    assert reports == [(PROGRESS_STEP, many), (PROGRESS_STEP * 2, many), (many, many)]  # the end once


def test_a_filled_file_is_not_filled_again(tmp_path: Path) -> None:
    open_store(tmp_path / "data.db").database.close()
    store = SqliteStore(Database(tmp_path / "data.db"))

    def must_not_load() -> dict[str, Any]:
        raise AssertionError("the fixture was loaded for a database that holds data")

    assert store.initialize(must_not_load, seed=9) is False
    assert store.seed() == 5


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data.db")
    assert store.database.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 100)
    with pytest.raises(DatabaseError, match="not a usable diags-kit database"):
        Database(path)


def test_two_handles_on_one_file_share_records_devices_refreshes_and_faults(tmp_path: Path) -> None:
    one, two = open_store(tmp_path / "data.db"), open_store(tmp_path / "data.db")
    created = one.create(new_fields())
    assert two.get(created["id"]) == created
    two.add_device({"id": "device-2", "name": "Two", "serial": "S2"})
    assert one.device("device-2") is not None
    assert [one.next_refresh("diag-001"), two.next_refresh("diag-001")] == [1, 2]
    fault = parse_fault({"path": RESOURCE, "status": 503})
    SqliteFaultBook(one.database).add([fault])
    assert [item["status"] for item in SqliteFaultBook(two.database).listing()] == [503]


def test_writers_on_two_handles_never_share_an_id(tmp_path: Path) -> None:
    stores = [open_store(tmp_path / "data.db") for _ in range(2)]
    created: list[list[str]] = [[], []]

    def work(slot: int) -> None:
        for _ in range(40):
            created[slot].append(stores[slot].create(new_fields())["id"])

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every_id = created[0] + created[1]
    assert len(set(every_id)) == 80
    assert stores[0].stats()["diagnostics"] == 81


def test_a_write_waits_for_another_lock_no_longer_than_it_may_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    store = open_store(path)
    before = store.stats()
    with another_worker_writing(path):
        started = time.monotonic()
        with deadline_scope(Deadline(0.2)), pytest.raises(StoreBusy):
            store.create(new_fields())
        assert 0.2 <= time.monotonic() - started < 2
    assert store.stats() == before
    # The shorter wait was for that write only: the connection is back to the full one.
    busy_timeout_ms = store.database.connection().execute("PRAGMA busy_timeout").fetchone()[0]
    assert busy_timeout_ms == BUSY_TIMEOUT_SECONDS * 1000
    assert store.create(new_fields())["id"] == "diag-002"


def test_a_lock_released_within_the_wait_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    store = open_store(path)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.2, other.execute, args=("ROLLBACK",))
    releaser.start()
    try:
        with deadline_scope(Deadline(5)):
            assert store.create(new_fields())["id"] == "diag-002"
    finally:
        releaser.join()
        other.close()


# Real servers.


class Server:
    """``python -m mockserver serve`` with the admin API on, in its own process group (see ``live``)."""

    def __init__(self, log_path: Path, *options: str) -> None:
        self.live = live.start("--admin-token", ADMIN_TOKEN, "--no-access-log", *options, token=TOKEN,
                               log_path=log_path, start_seconds=START_TIMEOUT_SECONDS)
        self.process = self.live.process
        self.base = self.live.url

    def post(self, session: requests.Session | None = None, **fields: Any) -> requests.Response:
        sender = session or requests
        body = {"device_id": DEVICE, "diagnostic_type": "maintenance", **fields}
        return sender.post(f"{self.base}{RESOURCE}", json=body, headers=API, timeout=REQUEST_TIMEOUT_SECONDS)

    def records(self, session: requests.Session | None = None) -> list[dict[str, Any]]:
        sender = session or requests
        answer = sender.get(f"{self.base}{RESOURCE}", params={"id": DEVICE, "limit": "100"}, headers=API,
                            timeout=REQUEST_TIMEOUT_SECONDS)
        assert answer.status_code == 200
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    def kill(self) -> None:
        """``kill -9`` of the server and its workers."""
        self.live.kill()

    def stop(self) -> None:
        self.live.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    """Started servers, stopped at the end whatever happened."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.kill()


def start(servers: list[Server], tmp_path: Path, *options: str) -> Server:
    server = Server(tmp_path / "server.log", *options)
    servers.append(server)
    return server


def test_a_restart_with_db_keeps_the_data(servers: list[Server], tmp_path: Path) -> None:
    database = str(tmp_path / "mock.db")
    first = start(servers, tmp_path, "--db", database, "--latency", "1")
    created = first.post(notes="before the restart")
    assert created.status_code == 201
    device = {"id": "device-new", "name": "N", "serial": "S"}
    added = requests.post(f"{first.base}/__admin/devices", json=device, headers=ADMIN,
                          timeout=REQUEST_TIMEOUT_SECONDS)
    assert added.status_code == 201
    run_time_fault = {"method": "PUT", "status": 500}
    assert requests.post(f"{first.base}/__admin/faults", json=run_time_fault, headers=ADMIN,
                         timeout=REQUEST_TIMEOUT_SECONDS).status_code == 201
    first.stop()

    second = start(servers, tmp_path, "--db", database, "--latency", "1")
    assert created.json() in second.records()
    # Faults belong to a run: the start-up one is back, once; the one added at run time is gone.
    faults = requests.get(f"{second.base}/__admin/faults", headers=ADMIN,
                          timeout=REQUEST_TIMEOUT_SECONDS).json()
    assert [fault["latency_ms"] for fault in faults["faults"]] == [1]
    assert second.post(device_id="device-new").status_code == 201
    next_one = second.post()
    assert int(next_one.json()["id"].removeprefix("diag-")) > int(created.json()["id"].removeprefix("diag-"))


def test_a_201_survives_kill_9(servers: list[Server], tmp_path: Path) -> None:
    database = str(tmp_path / "mock.db")
    first = start(servers, tmp_path, "--db", database)
    created = first.post(notes="acknowledged, then killed")
    assert created.status_code == 201
    first.kill()

    second = start(servers, tmp_path, "--db", database)
    assert created.json() in second.records()


def _state(session: requests.Session, base: str) -> dict[str, Any]:
    answer = session.get(f"{base}/__admin/state", headers=ADMIN, timeout=REQUEST_TIMEOUT_SECONDS)
    assert answer.status_code == 200
    state: dict[str, Any] = answer.json()
    return state


def sessions_on_two_workers(server: Server, attempts: int = 40) -> tuple[requests.Session, requests.Session]:
    """Two kept-alive connections that landed on different worker processes."""
    by_process: dict[int, requests.Session] = {}
    for _ in range(attempts):
        session = requests.Session()
        process = _state(session, server.base)["process"]
        if process in by_process:
            session.close()
            continue
        by_process[process] = session
        if len(by_process) == 2:
            one, two = by_process.values()
            return one, two
    raise AssertionError(f"{attempts} connections all reached one worker")


def test_two_workers_on_one_db_see_each_others_writes(servers: list[Server], tmp_path: Path) -> None:
    database = str(tmp_path / "mock.db")
    server = start(servers, tmp_path, "--db", database, "--workers", "2", "--error-rate", "0")
    one, two = sessions_on_two_workers(server)
    startup_faults = one.get(f"{server.base}/__admin/faults", headers=ADMIN, timeout=REQUEST_TIMEOUT_SECONDS)
    assert startup_faults.json()["count"] == 1  # set up once for both workers, not once by each
    processes = (_state(one, server.base)["process"], _state(two, server.base)["process"])

    created = server.post(one, notes="written by one worker")
    assert created.status_code == 201
    assert created.json() in server.records(two)

    device = {"id": "device-shared", "name": "Shared", "serial": "SH1"}
    assert one.post(f"{server.base}/__admin/devices", json=device, headers=ADMIN,
                    timeout=REQUEST_TIMEOUT_SECONDS).status_code == 201
    assert server.post(two, device_id="device-shared").status_code == 201

    reset = one.post(f"{server.base}/__admin/reset", json={"seed": 7}, headers=ADMIN,
                     timeout=REQUEST_TIMEOUT_SECONDS)
    assert reset.status_code == 200
    assert _state(two, server.base)["seed"] == 7
    assert created.json() not in server.records(two)

    fault = {"method": "GET", "path": RESOURCE, "drop": True, "times": 1}
    assert one.post(f"{server.base}/__admin/faults", json=fault, headers=ADMIN,
                    timeout=REQUEST_TIMEOUT_SECONDS).status_code == 201
    assert (_state(one, server.base)["process"], _state(two, server.base)["process"]) == processes
    # Dropped on the other worker: the connection closes before the answer's body, or before any of it.
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        server.records(two)
    assert server.records(one)  # it triggered once, and is gone for every worker
