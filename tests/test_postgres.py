"""``--db postgresql://...``: instances on one PostgreSQL database behave as one mock.

Against a real cluster (``postgres_server``): the store's start-up rules (the first instance fills,
later ones join, one asked for other data refuses), then real ``python -m mockserver serve``
processes, two on one database, and the password, which nothing ever shows.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import live
import pytest
import requests
from listing import RESOURCE
from postgres_server import NOT_TESTED

import fixtures
from mockserver.core.deadline import Deadline, deadline_scope
from mockserver.storage.base import StoreBusy
from mockserver.storage.postgres import (
    DIAGNOSTICS_LOCK,
    PAGE_OF_DEVICE,
    PAGE_OF_EVERYTHING,
    DataMismatch,
    PostgresJournal,
    data_options,
    masked,
    mismatch,
    open_postgres,
)
from mockserver.storage.sqlite import DatabaseError

psycopg = pytest.importorskip("psycopg", reason=NOT_TESTED.format(why="psycopg is not installed"))

TOKEN = "postgres-token"
ADMIN_TOKEN = "postgres-admin"
API = {"Authorization": f"Bearer {TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TIMEOUT = 10.0
DEVICE = fixtures.DOCUMENTED_DEVICE_ID


def small_fixture() -> dict[str, Any]:
    return {"devices": [{"id": "device-1", "name": "One", "serial": "S1"}],
            "diagnostics": [{"id": "diag-001", "device_id": "device-1", "diagnostic_type": "maintenance"}]}


def settings(url: str, seed: int = 5, devices: int = 3) -> dict[str, Any]:
    return {"DIAGS_DB": url, "DIAGS_SEED": seed, "DIAGS_DEVICES": devices, "DIAGS_DIAGS": 10,
            "DIAGS_REFERENCE_TIME": "2024-01-15T15:30:00Z"}


def test_masked_hides_the_password_only() -> None:
    assert masked("postgresql://me:s3cret@db.example:5432/mock") == "postgresql://me:***@db.example:5432/mock"
    assert masked("postgresql://me@db.example/mock") == "postgresql://me@db.example/mock"


def test_the_first_instance_fills_and_a_later_one_joins_without_loading(postgres_url: str) -> None:
    first = open_postgres(settings(postgres_url), small_fixture)
    created = first.create({"device_id": "device-1", "diagnostic_type": "maintenance"})

    def must_not_load() -> dict[str, Any]:
        raise AssertionError("a joining instance loaded the data again")

    second = open_postgres(settings(postgres_url), must_not_load)
    try:
        assert second.get(created["id"]) == created
        assert second.stats() == {"devices": 1, "diagnostics": 2}
    finally:
        first.database.close()
        second.database.close()


def test_the_first_fill_reports_its_progress(postgres_url: str) -> None:
    records = [{"id": f"diag-{number:03d}", "device_id": "device-1", "diagnostic_type": "maintenance"}
               for number in range(1, fixtures.PROGRESS_STEP + 3)]
    many = {"devices": [{"id": "device-1"}], "diagnostics": records}
    heard: list[tuple[int, int]] = []
    store = open_postgres(settings(postgres_url), lambda: many,
                          lambda done, total: heard.append((done, total)))
    store.database.close()
    total = fixtures.PROGRESS_STEP + 2
    assert heard == [(fixtures.PROGRESS_STEP, total), (total, total)]


def test_an_instance_asked_for_other_data_refuses_and_says_what_differs(postgres_url: str) -> None:
    open_postgres(settings(postgres_url, seed=5), small_fixture).database.close()
    with pytest.raises(DataMismatch) as refused:
        open_postgres(settings(postgres_url, seed=6, devices=4), small_fixture)
    message = str(refused.value)
    assert "seed: the database holds 5, this instance asks for 6" in message
    assert "devices: the database holds 3, this instance asks for 4" in message
    assert "DROP SCHEMA diags_kit CASCADE" in message


def test_a_fixture_file_is_recorded_by_its_content(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"devices": [], "diagnostics": []}', encoding="utf-8")
    before = data_options({**settings("postgresql://x/y"), "DIAGS_FIXTURES_PATH": str(path)})
    path.write_text('{"devices": [], "diagnostics": [] }', encoding="utf-8")
    after = data_options({**settings("postgresql://x/y"), "DIAGS_FIXTURES_PATH": str(path)})
    assert list(before) == ["fixtures file"] and before != after
    assert "fixtures file: the database holds data.json" in (mismatch(before, after) or "")


def test_a_wrong_password_is_refused_without_showing_it(postgres_url: str) -> None:
    wrong = postgres_url.replace("@", "x-wrong-password@", 1)
    with pytest.raises(DatabaseError) as refused:
        open_postgres(settings(wrong), small_fixture)
    assert "x-wrong-password" not in str(refused.value)
    assert "***" in str(refused.value)
    assert "password authentication failed" in str(refused.value)


def test_two_instances_writing_one_device_keep_its_total_and_pages_exact(postgres_url: str) -> None:
    # Two pools are two instances: each device's total moves in the transaction of its insert.
    stores = [open_postgres(settings(postgres_url), small_fixture) for _ in range(2)]
    per_thread, threads_count = 15, 4

    def work(slot: int) -> None:
        for number in range(per_thread):
            stores[slot % 2].create({"device_id": "device-1", "diagnostic_type": "maintenance",
                                     "notes": f"{slot}/{number}"})

    try:
        workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        expected = 1 + per_thread * threads_count
        for store in stores:
            pages = [store.page("device-1", offset, 7) for offset in range(0, expected + 7, 7)]
            assert {total for total, _ in pages} == {expected}
            listed = [record["id"] for _, page in pages for record in page]
            assert listed == [record["id"] for record in store.page(None, 0, expected)[1]]
            assert len(set(listed)) == expected
    finally:
        for store in stores:
            store.database.close()


def test_every_page_is_a_range_of_an_index_in_the_plans_the_store_runs(postgres_url: str) -> None:
    # The plans prepared statements get (generic: the same for every offset), on a table large enough that
    # a scan of it would be cheaper than an index for a planner that did not know better.
    records = [{"id": f"diag-{number:05d}", "device_id": f"device-{number % 50}",
                "diagnostic_type": "maintenance", "notes": "x" * 200} for number in range(1, 20_001)]
    many = {"devices": [{"id": f"device-{number}"} for number in range(50)], "diagnostics": records}
    store = open_postgres(settings(postgres_url), lambda: many)
    statements = {"everything": (PAGE_OF_EVERYTHING, "19980, 20"),
                  "device": (PAGE_OF_DEVICE, "'device-7', 'device-7', 390, 20")}
    try:
        with store.database.read() as connection:
            assert connection.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
        for name, (sql, values) in statements.items():
            numbered = sql
            for number in range(1, sql.count("%s") + 1):
                numbered = numbered.replace("%s", f"${number}", 1)
            with store.database.read() as connection:
                connection.execute(f"PREPARE page_{name} AS {numbered}")
                explained = connection.execute(f"EXPLAIN EXECUTE page_{name}({values})")
                plan = "\n".join(row[0] for row in explained)
            assert "Seq Scan on diagnostics" not in plan, plan
            assert "Index Scan using diagnostics_" in plan, plan
        assert store.page("device-7", 390, 20)[0] == 400
    finally:
        store.database.close()


def test_a_database_of_an_older_schema_is_refused_with_how_to_reset(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as older:
        older.execute("CREATE SCHEMA diags_kit")
        older.execute("CREATE TABLE diags_kit.meta (key text PRIMARY KEY, value text NOT NULL)")
        older.execute("CREATE TABLE diags_kit.diagnostics (position bigint PRIMARY KEY, device_id text)")
        older.execute("INSERT INTO diags_kit.meta VALUES ('schema', '1')")
    with pytest.raises(DatabaseError) as refused:
        open_postgres(settings(postgres_url), small_fixture)
    assert "schema version 1, expected 2" in str(refused.value)
    assert "DROP SCHEMA diags_kit CASCADE" in str(refused.value)


def test_the_shared_journal_keeps_the_newest_entries_of_every_instance(postgres_url: str) -> None:
    stores = [open_postgres(settings(postgres_url), small_fixture) for _ in range(2)]
    journals = [PostgresJournal(store.database, size=3) for store in stores]
    try:
        for number in range(5):
            journals[number % 2].record({"method": "GET", "status": 200 + number, "time": 0.0, "body": b"",
                                         "instance": f"instance-{number % 2}"})
        assert [journal.count() for journal in journals] == [3, 3]
        assert [entry["status"] for entry in journals[1].entries()] == [204, 203, 202]
        assert [entry["instance"] for entry in journals[0].entries(status=203)] == ["instance-1"]
    finally:
        for store in stores:
            store.database.close()


class Instance:
    """``python -m mockserver serve --db URL`` with the admin API on (see ``live``)."""

    def __init__(self, url: str, log_path: Path, *options: str) -> None:
        self.live = live.start("--db", url, "--admin-token", ADMIN_TOKEN, *options, token=TOKEN,
                               log_path=log_path, start_seconds=60)
        self.base = self.live.url

    def post(self, **fields: Any) -> requests.Response:
        body = {"device_id": DEVICE, "diagnostic_type": "maintenance", **fields}
        return requests.post(f"{self.base}{RESOURCE}", json=body, headers=API, timeout=TIMEOUT)

    def records(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.base}{RESOURCE}", params={"id": DEVICE, "limit": "100"}, headers=API,
                              timeout=TIMEOUT)
        assert answer.status_code == 200
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    def admin(self, method: str, path: str, **options: Any) -> requests.Response:
        return requests.request(method, f"{self.base}/__admin/{path}", headers=ADMIN, timeout=TIMEOUT,
                                **options)


@pytest.fixture
def instances() -> Iterator[list[Instance]]:
    """Started instances, killed at the end whatever happened."""
    started: list[Instance] = []
    yield started
    for instance in started:
        if instance.live.process.poll() is None:
            instance.live.kill()


def test_two_instances_on_one_database_behave_as_one_mock(instances: list[Instance], postgres_url: str,
                                                          tmp_path: Path) -> None:
    one = Instance(postgres_url, tmp_path / "one.log", "--instance-name", "one")
    instances.append(one)
    two = Instance(postgres_url, tmp_path / "two.log")
    instances.append(two)

    # Ids from one sequence: never the same twice, whichever instance answers.
    made = [(one if number % 2 else two).post(notes=f"number {number}") for number in range(10)]
    assert [answer.status_code for answer in made] == [201] * 10
    made_ids = [answer.json()["id"] for answer in made]
    assert len(set(made_ids)) == 10
    # A POST on one is listed by the other at once.
    assert made[0].json() in two.records() and made[1].json() in one.records()

    # A fault added through one applies on the other.
    fault = {"method": "GET", "path": RESOURCE, "status": 418, "times": 1}
    assert one.admin("POST", "faults", json=fault).status_code == 201
    assert requests.get(f"{two.base}{RESOURCE}", headers=API, timeout=TIMEOUT).status_code == 418
    assert requests.get(f"{one.base}{RESOURCE}", headers=API, timeout=TIMEOUT).status_code == 200

    # A device added through one is known to the other.
    device = {"id": "device-shared", "name": "Shared", "serial": "SH1"}
    assert one.admin("POST", "devices", json=device).status_code == 201
    assert two.post(device_id="device-shared").status_code == 201

    # One journal, each entry naming the instance that answered.
    journal = two.admin("GET", "requests").json()["requests"]
    assert {"one", f"{live.HOST}:{two.live.port}"} <= {entry["instance"] for entry in journal}

    # A reset through one is seen by the other; the ids handed out before are not handed out again.
    reset = one.admin("POST", "reset", json={"seed": 7})
    assert reset.status_code == 200
    assert "requests in flight on other instances were not waited for" in reset.json()["note"]
    assert two.admin("GET", "state").json()["seed"] == 7
    assert not {record["id"] for record in two.records()} & set(made_ids)
    after_reset = two.post().json()["id"]
    assert after_reset not in made_ids

    # A 201 survives kill -9 of the instance that answered it.
    acknowledged = two.post(notes="acknowledged, then killed")
    assert acknowledged.status_code == 201
    two.live.kill()
    assert acknowledged.json() in one.records()
    again = Instance(postgres_url, tmp_path / "again.log")
    instances.append(again)
    assert acknowledged.json() in again.records()


def test_the_password_never_shows(instances: list[Instance], postgres_url: str, tmp_path: Path) -> None:
    password = postgres_url.split("@")[0].rsplit(":", 1)[1]
    instance = Instance(postgres_url, tmp_path / "server.log")
    instances.append(instance)
    instance.post()
    requests.get(f"{instance.base}{RESOURCE}?nope=1", headers=API, timeout=TIMEOUT)
    state = instance.admin("GET", "state")
    assert state.json()["database"] == masked(postgres_url)
    shown = [state.text, instance.admin("GET", "requests").text, instance.live.log()]
    assert all(password not in text for text in shown)
    assert "***" in instance.live.log()


def test_serve_asked_for_another_seed_refuses_to_start(instances: list[Instance], postgres_url: str,
                                                       tmp_path: Path) -> None:
    first = Instance(postgres_url, tmp_path / "first.log", "--seed", "3")
    instances.append(first)
    command = [sys.executable, "-m", "mockserver", "serve", "--db", postgres_url, "--seed", "4",
               "--port", str(live.free_port())]
    refused = subprocess.run(command, cwd=live.ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode != 0
    assert "seed: the database holds 3, this instance asks for 4" in refused.stderr
    assert "DROP SCHEMA diags_kit CASCADE" in refused.stderr
    assert masked(postgres_url) in refused.stderr


def test_a_write_waits_for_another_instances_lock_no_longer_than_it_may(postgres_url: str) -> None:
    store = open_postgres(settings(postgres_url), small_fixture)
    before = store.stats()
    try:
        with psycopg.connect(postgres_url) as other:  # another instance, in the middle of a create
            other.execute("SELECT pg_advisory_xact_lock(%s)", (DIAGNOSTICS_LOCK,))
            started = time.monotonic()
            with deadline_scope(Deadline(0.2)), pytest.raises(StoreBusy):
                store.create({"device_id": "device-1", "diagnostic_type": "maintenance"})
            assert 0.2 <= time.monotonic() - started < 5
            other.rollback()
        assert store.stats() == before
        assert store.create({"device_id": "device-1", "diagnostic_type": "maintenance"})["id"] == "diag-002"
    finally:
        store.database.close()


def test_a_url_in_diags_db_selects_postgresql_unchanged_and_names_the_instance(
        clean_environment: pytest.MonkeyPatch) -> None:
    from mockserver.serving import cli

    url = "postgresql://mock:secret@db.internal:5432/diags"
    clean_environment.setenv("DIAGS_DB", url)
    settings = cli.app_config(cli.build_parser().parse_args(["serve", "--port", "8123"]))
    assert settings["DIAGS_DB"] == url
    assert settings["DIAGS_INSTANCE_NAME"] == "127.0.0.1:8123"
    named = cli.app_config(cli.build_parser().parse_args(["serve", "--db", url, "--instance-name", "a"]))
    assert (named["DIAGS_DB"], named["DIAGS_INSTANCE_NAME"]) == (url, "a")
