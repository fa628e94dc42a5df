"""The ``Store`` protocol's behaviour, one suite for every store: in memory, SQLite and PostgreSQL.

The in-memory store runs it twice: built from the fixture, and restored from a store image of it
(what a start from the cache serves).

What the API relies on: creation order, pages, the per-device view, ids that are never reused,
copies rather than shared state, atomic writes under threads, and a reset that replaces all.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.storage.base import Store, format_id, pack
from mockserver.storage.images import read_image, write_image
from mockserver.storage.memory import MemoryStore
from mockserver.storage.postgres import PostgresDatabase, PostgresStore
from mockserver.storage.sqlite import Database, SqliteStore

StoreFactory = Callable[[dict[str, Any]], Store]


def device(number: int) -> dict[str, Any]:
    return {"id": f"device-{number:05d}", "name": f"Device {number}", "serial": f"SN{number}",
            "extra": [number]}


def record(number: int, device_number: int, diagnostic_type: str = "maintenance") -> dict[str, Any]:
    return {"id": format_id(number), "device_id": f"device-{device_number:05d}",
            "diagnostic_type": diagnostic_type, "status": "ok", "details": {"n": number}}


def new_fields(device_number: int = 1, **extra: Any) -> dict[str, Any]:
    return {"device_id": f"device-{device_number:05d}", "diagnostic_type": "maintenance", **extra}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in records]


@pytest.fixture
def fixture() -> dict[str, Any]:
    """Three devices: device 1 has records 1, 3, 5 (1 and 5 health checks), 2 has 2 and 4, 3 has none."""
    return {
        "devices": [device(1), device(2), device(3)],
        "diagnostics": [record(1, 1, "health_check"), record(2, 2), record(3, 1), record(4, 2),
                        record(5, 1, "health_check")],
    }


@pytest.fixture(params=["memory", "memory image", "sqlite", "postgresql"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds a store of the parametrized kind, loaded from a fixture."""
    databases: list[Database | PostgresDatabase] = []
    # Asked for only here: the memory and SQLite cases run where no PostgreSQL can be had.
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "postgresql" else None

    def make(fixture: dict[str, Any]) -> Store:
        if request.param == "memory":
            return MemoryStore(fixture)
        if request.param == "memory image":
            image = tmp_path / f"store-{secrets.token_hex(6)}.image"
            write_image(image, MemoryStore(fixture), seed=1)
            restored = MemoryStore()
            restored.restore(read_image(image))
            return restored
        if cluster is not None:
            server = PostgresDatabase(cluster.create_database(f"store_{secrets.token_hex(6)}"))
            databases.append(server)
            shared = PostgresStore(server)
            shared.initialize(lambda: fixture, seed=1, options={"fixture": "test"})
            return shared
        database = Database(tmp_path / f"store-{len(databases)}.db")
        databases.append(database)
        store = SqliteStore(database)
        store.initialize(lambda: fixture, seed=1)
        return store

    yield make
    for database in databases:
        database.close()


@pytest.fixture
def store(make_store: StoreFactory, fixture: dict[str, Any]) -> Store:
    return make_store(fixture)


def test_format_id_pads_to_three_digits_and_grows_past_them() -> None:
    assert [format_id(1), format_id(42), format_id(999), format_id(1000)] == [
        "diag-001",
        "diag-042",
        "diag-999",
        "diag-1000",
    ]


def test_stats_count_devices_and_diagnostics(store: Store) -> None:
    assert store.stats() == {"devices": 3, "diagnostics": 5}


def test_devices_lists_every_device_and_an_added_one(store: Store, fixture: dict[str, Any]) -> None:
    assert store.devices() == fixture["devices"]
    added = {"id": "device-00009", "name": "Added", "serial": "SN9"}
    store.add_device(added)
    assert store.devices() == [*fixture["devices"], added]


def test_a_device_without_records_has_an_empty_page(store: Store) -> None:
    assert store.page("device-00003", 0, 10) == (0, [])
    assert store.page("device-99999", 0, 10) == (0, [])


def test_get_of_an_unknown_id_is_none(store: Store) -> None:
    assert store.get("diag-999") is None


def test_latest_sees_new_records(store: Store) -> None:
    created = store.create(new_fields(1, diagnostic_type="health_check"))
    latest = store.latest("device-00001", "health_check")
    assert latest is not None and latest["id"] == created["id"]


def test_devices_are_found_by_id_as_copies(store: Store) -> None:
    found = store.device("device-00002")
    assert found == device(2)
    assert found is not None
    found["name"] = "changed"
    assert store.device("device-00002") == device(2)
    assert store.device("device-99999") is None


def test_added_devices_are_known_with_no_records(store: Store) -> None:
    added = store.add_device(device(7))
    assert added == device(7)
    assert store.device("device-00007") == device(7)
    assert store.page("device-00007", 0, 10) == (0, [])
    assert store.stats() == {"devices": 4, "diagnostics": 5}


def test_adding_a_known_device_replaces_it(store: Store) -> None:
    store.add_device({**device(1), "name": "Renamed"})
    found = store.device("device-00001")
    assert found is not None and found["name"] == "Renamed"
    assert store.stats()["devices"] == 3
    assert store.page("device-00001", 0, 10)[0] == 3


def test_pages_are_in_creation_order_and_slice_by_offset_and_limit(store: Store) -> None:
    assert ids(store.page(None, 0, 100)[1]) == [format_id(n) for n in range(1, 6)]
    assert [ids(store.page(None, offset, 2)[1]) for offset in (0, 2, 4, 6)] == [
        ["diag-001", "diag-002"], ["diag-003", "diag-004"], ["diag-005"], []]
    assert store.page(None, 1, 0) == (5, [])


def test_a_device_page_holds_only_that_device(store: Store) -> None:
    count, page = store.page("device-00001", 0, 100)
    assert (count, ids(page)) == (3, ["diag-001", "diag-003", "diag-005"])
    assert ids(store.page("device-00001", 1, 1)[1]) == ["diag-003"]
    assert store.page("device-00003", 0, 10) == (0, [])
    assert store.page("device-99999", 0, 10) == (0, [])


def test_pages_and_gets_are_copies(store: Store) -> None:
    store.page(None, 0, 1)[1][0]["details"]["n"] = "changed"
    found = store.get("diag-001")
    assert found is not None and found["details"] == {"n": 1}
    found["details"]["n"] = "changed too"
    assert store.page(None, 0, 1)[1][0]["details"] == {"n": 1}


def test_get_finds_records_by_id(store: Store, fixture: dict[str, Any]) -> None:
    assert store.get("diag-004") == fixture["diagnostics"][3]
    assert store.get("diag-999") is None


def test_create_takes_the_next_id_keeps_field_order_and_is_seen_everywhere(store: Store) -> None:
    created = store.create(new_fields(3, diagnostic_type="health_check", status="open", notes="n"))
    assert list(created) == ["id", "device_id", "diagnostic_type", "status", "notes"]
    assert created["id"] == "diag-006"
    assert store.get("diag-006") == created
    assert store.page("device-00003", 0, 10) == (1, [created])
    assert store.page(None, 5, 10) == (6, [created])
    assert store.latest("device-00003", "health_check") == created
    assert store.stats()["diagnostics"] == 6


def test_create_ignores_an_id_in_the_fields(store: Store, fixture: dict[str, Any]) -> None:
    created = store.create({"id": "diag-001", **new_fields()})
    assert created["id"] == "diag-006"
    assert store.get("diag-001") == fixture["diagnostics"][0]


def test_ids_continue_after_the_highest_fixture_id(make_store: StoreFactory) -> None:
    store = make_store({"devices": [device(1)], "diagnostics": [record(41, 1), record(7, 1)]})
    assert store.create(new_fields())["id"] == "diag-042"


def test_ids_outside_the_sequence_leave_it_alone(make_store: StoreFactory) -> None:
    taken = {**record(1, 1), "id": "legacy-7"}
    store = make_store({"devices": [device(1)], "diagnostics": [taken]})
    assert store.create(new_fields())["id"] == "diag-001"
    assert store.get("legacy-7") == taken


def test_update_merges_keeping_key_order(store: Store) -> None:
    updated = store.update("diag-002", {"status": "resolved", "new_key": 1})
    assert list(updated) == ["id", "device_id", "diagnostic_type", "status", "details", "new_key"]
    assert updated["status"] == "resolved"
    assert store.get("diag-002") == updated
    assert store.page("device-00002", 0, 1)[1] == [updated]


def test_update_of_an_unknown_record_raises_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.update("diag-999", {"status": "x"})


def test_latest_is_the_newest_record_of_a_type_for_a_device(store: Store) -> None:
    assert ids([store.latest("device-00001", "health_check") or {}]) == ["diag-005"]
    assert ids([store.latest("device-00001", "maintenance") or {}]) == ["diag-003"]
    assert store.latest("device-00002", "health_check") is None
    assert store.latest("device-99999", "health_check") is None


def test_refreshes_are_counted_per_record_and_restart_after_a_reset(
    store: Store, fixture: dict[str, Any]
) -> None:
    assert [store.next_refresh("diag-001") for _ in range(3)] == [1, 2, 3]
    assert store.next_refresh("diag-005") == 1
    store.reset(fixture)
    assert store.next_refresh("diag-001") == 1


def test_reset_replaces_everything(store: Store) -> None:
    store.create(new_fields())
    store.add_device(device(8))
    store.reset({"devices": [device(9)], "diagnostics": [record(1, 9)]})
    assert store.stats() == {"devices": 1, "diagnostics": 1}
    assert store.device("device-00001") is None
    assert store.device("device-00008") is None
    assert ids(store.page(None, 0, 10)[1]) == ["diag-001"]
    assert store.page("device-00009", 0, 10)[0] == 1


def test_a_reset_keeps_the_seed_it_is_given_until_another(store: Store, fixture: dict[str, Any]) -> None:
    store.reset(fixture, seed=7)
    assert store.seed() == 7
    store.reset(fixture)
    assert store.seed() == 7


def test_load_replaces_everything_with_stored_rows_in_their_order(store: Store) -> None:
    store.create(new_fields())  # diag-006
    stored = [record(9, 2), record(4, 1)]
    rows = [(item["id"], item["device_id"], pack(item)) for item in stored]
    store.load([device(1), device(2)], rows)
    assert store.stats() == {"devices": 2, "diagnostics": 2}
    assert ids(store.page(None, 0, 10)[1]) == ["diag-009", "diag-004"]
    assert ids(store.page("device-00001", 0, 10)[1]) == ["diag-004"]
    assert store.get("diag-009") == record(9, 2)
    assert store.latest("device-00001", "maintenance") == record(4, 1)
    assert store.create(new_fields())["id"] == "diag-010"


def test_ids_are_never_reused_after_a_reset(store: Store, fixture: dict[str, Any]) -> None:
    before = store.create(new_fields())["id"]
    store.reset(fixture)
    assert store.get(before) is None
    assert store.create(new_fields())["id"] == "diag-007"


def test_concurrent_creates_lose_nothing_and_never_share_an_id(store: Store) -> None:
    threads_count, per_thread = 6, 25
    created: list[list[str]] = [[] for _ in range(threads_count)]
    start = threading.Barrier(threads_count)

    def work(slot: int) -> None:
        start.wait()
        for number in range(per_thread):
            fields = new_fields(1 + (slot + number) % 3, notes=f"{slot}/{number}")
            created[slot].append(store.create(fields)["id"])

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    every_id = [record_id for slot_ids in created for record_id in slot_ids]
    total = threads_count * per_thread
    assert len(set(every_id)) == total
    count, page = store.page(None, 0, total + 10)
    assert count == total + 5
    assert set(ids(page[5:])) == set(every_id)
    assert sum(store.page(f"device-{n:05d}", 0, total)[0] for n in (1, 2, 3)) == count
    for slot_ids in created:
        positions = [ids(page).index(record_id) for record_id in slot_ids]
        assert positions == sorted(positions)


def test_resets_during_creates_leave_a_whole_state(store: Store, fixture: dict[str, Any]) -> None:
    created: list[str] = []
    done = threading.Event()

    def create_until_done() -> None:
        for number in range(200):
            if done.is_set():
                return
            created.append(store.create(new_fields(1 + number % 3))["id"])

    writer = threading.Thread(target=create_until_done)
    writer.start()
    for _ in range(5):
        store.reset(fixture)
    done.set()
    writer.join(timeout=60)

    count, page = store.page(None, 0, 1000)
    assert count == len(page) == store.stats()["diagnostics"]
    assert ids(page[:5]) == ids(fixture["diagnostics"])
    assert len(set(created)) == len(created)
    assert sum(store.page(f"device-{n:05d}", 0, 1000)[0] for n in (1, 2, 3)) == count


def test_a_device_page_slices_by_offset_over_fixture_and_created_records(store: Store) -> None:
    created = [store.create(new_fields(1 + number % 2))["id"] for number in range(7)]
    device_ids = ["diag-001", "diag-003", "diag-005", *created[::2]]
    count, _ = store.page("device-00001", 0, 0)
    assert count == len(device_ids) == 7
    slices = [ids(store.page("device-00001", offset, 3)[1]) for offset in (0, 3, 6, 7)]
    assert slices == [device_ids[0:3], device_ids[3:6], device_ids[6:], []]
    assert ids(store.page("device-00002", 3, 100)[1]) == created[1::2][1:]


def test_a_device_total_always_matches_its_records_while_others_write(store: Store) -> None:
    writers_count, per_writer = 3, 20
    done = threading.Event()
    mismatches: list[tuple[int, int]] = []

    def write() -> None:
        for number in range(per_writer):
            store.create(new_fields(1 + number % 2))

    def read() -> None:
        while not done.is_set():
            count, page = store.page("device-00001", 0, 1000)
            if count != len(page):
                mismatches.append((count, len(page)))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write) for _ in range(writers_count)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    done.set()
    reader.join(timeout=60)

    assert mismatches == []
    count, page = store.page("device-00001", 0, 1000)
    assert count == len(page) == 3 + writers_count * per_writer // 2
    assert len(set(ids(page))) == count


def test_the_version_moves_with_every_change_of_the_data_and_only_then(store: Store) -> None:
    """Pages are kept while the version stays (``api.resource``): a store shared with others says None."""
    first = store.version()
    if not isinstance(store, MemoryStore):
        assert first is None  # another worker or instance changes a database without this process knowing
        return
    store.page(None, 0, 10), store.page_json("device-00001", 0, 10), store.device("device-00001")
    store.get("diag-001"), store.latest("device-00001", "health_check"), store.next_refresh("diag-001")
    store.devices(), store.stats()
    assert store.version() == first
    changes: list[Callable[[], object]] = [
        lambda: store.create(new_fields()),
        lambda: store.update("diag-002", {"status": "closed"}),
        lambda: store.add_device(device(4)),
        lambda: store.reset({"devices": [device(1)], "diagnostics": [record(1, 1)]}),
        lambda: store.load([device(2)], [("diag-009", "device-00002", pack(record(9, 2)))]),
        lambda: store.restore(store.image()),  # a reset from a cached image
    ]
    seen = [first]
    for change in changes:
        change()
        seen.append(store.version())
    assert len(set(seen)) == len(seen), seen
