"""The in-memory store: creation order, pages, per-device index, unique ids, atomic writes."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mockserver.store import MemoryStore, Store, format_id


def device(number: int) -> dict[str, str]:
    return {"id": f"device-{number:05d}", "name": f"Device {number}", "serial": f"SN{number}"}


def record(number: int, device_number: int, diagnostic_type: str = "maintenance") -> dict[str, Any]:
    return {
        "id": format_id(number),
        "device_id": f"device-{device_number:05d}",
        "diagnostic_type": diagnostic_type,
        "status": "ok",
        "details": {"n": number},
    }


@pytest.fixture
def fixture() -> dict[str, Any]:
    """Three devices; device 1 has records 1, 3, 5, device 2 has 2 and 4, device 3 has none."""
    return {
        "devices": [device(1), device(2), device(3)],
        "diagnostics": [
            record(1, 1, "health_check"),
            record(2, 2),
            record(3, 1),
            record(4, 2),
            record(5, 1, "health_check"),
        ],
    }


@pytest.fixture
def store(fixture: dict[str, Any]) -> MemoryStore:
    return MemoryStore(fixture)


def new_fields(device_number: int = 1, **extra: Any) -> dict[str, Any]:
    return {"device_id": f"device-{device_number:05d}", "diagnostic_type": "maintenance", **extra}


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in records]


def test_memory_store_is_a_store(store: MemoryStore) -> None:
    typed: Store = store
    assert typed.stats() == {"devices": 3, "diagnostics": 5}


def test_format_id_pads_to_three_digits_and_grows_past_them() -> None:
    assert [format_id(1), format_id(42), format_id(999), format_id(1000)] == [
        "diag-001",
        "diag-042",
        "diag-999",
        "diag-1000",
    ]


def test_devices_are_found_by_id(store: MemoryStore) -> None:
    assert store.device("device-00002") == device(2)
    assert store.device("device-99999") is None


def test_a_found_device_is_a_copy(store: MemoryStore) -> None:
    found = store.device("device-00001")
    assert found is not None
    found["name"] = "changed"
    assert store.device("device-00001") == device(1)


def test_a_page_of_everything_is_in_creation_order(store: MemoryStore) -> None:
    count, page = store.page(None, 0, 100)
    assert count == 5
    assert ids(page) == [format_id(n) for n in range(1, 6)]


def test_pages_slice_by_offset_and_limit(store: MemoryStore) -> None:
    assert [ids(store.page(None, offset, 2)[1]) for offset in (0, 2, 4, 6)] == [
        ["diag-001", "diag-002"],
        ["diag-003", "diag-004"],
        ["diag-005"],
        [],
    ]
    assert store.page(None, 1, 0) == (5, [])


def test_a_device_page_holds_only_that_device_in_order(store: MemoryStore) -> None:
    count, page = store.page("device-00001", 0, 100)
    assert count == 3
    assert ids(page) == ["diag-001", "diag-003", "diag-005"]
    assert ids(store.page("device-00001", 1, 1)[1]) == ["diag-003"]


def test_a_device_without_records_has_an_empty_page(store: MemoryStore) -> None:
    assert store.page("device-00003", 0, 10) == (0, [])
    assert store.page("device-99999", 0, 10) == (0, [])


def test_pages_are_copies(store: MemoryStore) -> None:
    _, page = store.page(None, 0, 1)
    page[0]["details"]["n"] = "changed"
    assert store.page(None, 0, 1)[1][0]["details"] == {"n": 1}


def test_create_assigns_the_next_id_and_keeps_field_order(store: MemoryStore) -> None:
    created = store.create(new_fields(3, status="open", notes="n"))
    assert list(created) == ["id", "device_id", "diagnostic_type", "status", "notes"]
    assert created["id"] == "diag-006"
    assert store.get("diag-006") == created
    assert store.page("device-00003", 0, 10) == (1, [created])
    assert store.page(None, 5, 10) == (6, [created])


def test_create_ignores_an_id_in_the_fields(store: MemoryStore) -> None:
    created = store.create({"id": "diag-001", **new_fields()})
    assert created["id"] == "diag-006"
    assert store.get("diag-001") == record(1, 1, "health_check")


def test_ids_continue_after_the_highest_fixture_id() -> None:
    store = MemoryStore({"devices": [device(1)], "diagnostics": [record(41, 1), record(7, 1)]})
    assert store.create(new_fields())["id"] == "diag-042"


def test_ids_outside_the_sequence_leave_it_alone() -> None:
    taken = {**record(1, 1), "id": "legacy-7"}
    store = MemoryStore({"devices": [device(1)], "diagnostics": [taken]})
    assert store.create(new_fields())["id"] == "diag-001"
    assert store.get("legacy-7") == taken


def test_ids_are_never_reused_after_a_reset(store: MemoryStore, fixture: dict[str, Any]) -> None:
    before = store.create(new_fields())["id"]
    store.reset(fixture)
    assert store.get(before) is None
    after = store.create(new_fields())["id"]
    assert after != before
    assert after == "diag-007"


def test_reset_replaces_the_data(store: MemoryStore) -> None:
    store.create(new_fields())
    store.reset({"devices": [device(9)], "diagnostics": []})
    assert store.stats() == {"devices": 1, "diagnostics": 0}
    assert store.device("device-00001") is None


def test_get_of_an_unknown_id_is_none(store: MemoryStore) -> None:
    assert store.get("diag-999") is None


def test_update_merges_keeping_key_order(store: MemoryStore) -> None:
    updated = store.update("diag-002", {"status": "resolved", "new_key": 1})
    assert list(updated) == ["id", "device_id", "diagnostic_type", "status", "details", "new_key"]
    assert updated["status"] == "resolved"
    assert store.get("diag-002") == updated
    assert store.page("device-00002", 0, 1)[1] == [updated]


def test_latest_is_the_newest_record_of_a_type(store: MemoryStore) -> None:
    latest = store.latest("device-00001", "health_check")
    assert latest is not None and latest["id"] == "diag-005"
    found = store.latest("device-00001", "maintenance")
    assert found is not None and found["id"] == "diag-003"
    assert store.latest("device-00002", "health_check") is None
    assert store.latest("device-99999", "health_check") is None


def test_latest_sees_new_records(store: MemoryStore) -> None:
    created = store.create(new_fields(1, diagnostic_type="health_check"))
    latest = store.latest("device-00001", "health_check")
    assert latest is not None and latest["id"] == created["id"]


def test_refreshes_are_counted_per_record(store: MemoryStore) -> None:
    assert [store.next_refresh("diag-001") for _ in range(3)] == [1, 2, 3]
    assert store.next_refresh("diag-005") == 1


def test_add_device_makes_it_known_with_no_records(store: MemoryStore) -> None:
    store.add_device(device(7))
    assert store.device("device-00007") == device(7)
    assert store.page("device-00007", 0, 10) == (0, [])
    assert store.stats()["devices"] == 4


def test_concurrent_creates_lose_nothing_and_never_share_an_id(store: MemoryStore) -> None:
    threads_count, per_thread = 8, 50
    created: list[list[str]] = [[] for _ in range(threads_count)]
    start = threading.Barrier(threads_count)

    def work(slot: int) -> None:
        start.wait()
        for number in range(per_thread):
            device_number = 1 + (slot + number) % 3
            created[slot].append(store.create(new_fields(device_number, notes=f"{slot}/{number}"))["id"])

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    every_id = [record_id for ids_of_thread in created for record_id in ids_of_thread]
    total = threads_count * per_thread
    assert len(set(every_id)) == total
    count, page = store.page(None, 0, total + 10)
    assert count == total + 5
    assert set(ids(page[5:])) == set(every_id)
    by_device = sum(store.page(f"device-{n:05d}", 0, total)[0] for n in (1, 2, 3))
    assert by_device == count
    # Each thread's records are stored in the order it created them.
    for ids_of_thread in created:
        positions = [ids(page).index(record_id) for record_id in ids_of_thread]
        assert positions == sorted(positions)
