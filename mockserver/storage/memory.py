"""The in-memory store of devices and diagnostics (no Flask here).

Records are kept in creation order, serialized (compact bytes cost a fraction of a dict's
memory, which matters at a million records), with an index per device, so that a page costs
O(limit) whether it is filtered or not. One lock makes every operation atomic under the
server's threads. Every change happens here, in this process, and counts one more ``version``
under the same lock, so what is made from the data (an encoded page) can be kept until then.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import orjson

from ..core.config import JOURNAL_SIZE
from .base import (
    Device,
    Fault,
    Outcome,
    Record,
    Row,
    apply_fault,
    format_id,
    pack,
    published,
    roll,
    sequence_of,
)

#: The store's structures as ``MemoryStore.image`` gives them: devices by id, the records in order,
#: each record's position by id, the positions of each device's records, and the last id's sequence.
StoreImage = tuple[dict[str, Device], list[bytes], dict[str, int], dict[str, list[int]], int]


class MemoryStore:
    """A thread-safe store held in this process, loaded from a fixture or from stored rows (``load``)."""

    def __init__(self, fixture: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._last_sequence = 0
        self._seed: int | None = None
        self._version = 0
        self.reset(fixture or {"devices": [], "diagnostics": []})

    def reset(self, fixture: dict[str, Any], seed: int | None = None) -> None:
        """Replace everything with ``fixture``'s data, made with ``seed``. New ids never repeat old ones."""
        rows = ((record["id"], record["device_id"], pack(record)) for record in fixture["diagnostics"])
        self.load(fixture["devices"], rows)
        if seed is not None:
            self._seed = seed

    def seed(self) -> int | None:
        """The seed the last ``reset`` was given, if any."""
        return self._seed

    def load(self, devices: Iterable[Device], rows: Iterable[Row]) -> None:
        """Replace everything with these devices and records, in creation order (see ``reset``)."""
        by_id = {device["id"]: dict(device) for device in devices}
        records: list[bytes] = []
        positions: dict[str, int] = {}
        by_device: dict[str, list[int]] = {device_id: [] for device_id in by_id}
        last_sequence = self._last_sequence
        for record_id, device_id, raw in rows:
            positions[record_id] = len(records)
            by_device.setdefault(device_id, []).append(len(records))
            records.append(raw)
            last_sequence = max(last_sequence, sequence_of(record_id))
        with self._lock:
            self._devices = by_id
            self._records = records
            self._positions = positions
            self._by_device = by_device
            self._last_sequence = last_sequence
            self._refreshes: dict[str, int] = {}
            self._version += 1

    def version(self) -> int:
        """One more after every change of the devices or records (``Store.version``)."""
        return self._version

    def image(self) -> StoreImage:
        """The store's structures as they are, for ``storage.images`` to write (not copies: keep still)."""
        with self._lock:
            return self._devices, self._records, self._positions, self._by_device, self._last_sequence

    def restore(self, image: StoreImage) -> None:
        """Replace everything with ``image``'s structures, taken as they are (see ``load``)."""
        shapes = (dict, list, dict, dict, int)
        if len(image) != len(shapes) or not all(map(isinstance, image, shapes)):
            raise ValueError("not the structures of a store")
        devices, records, positions, by_device, last_sequence = image
        with self._lock:
            self._devices = devices
            self._records = records
            self._positions = positions
            self._by_device = by_device
            self._last_sequence = max(self._last_sequence, last_sequence)
            self._refreshes = {}
            self._version += 1

    def device(self, device_id: str) -> Device | None:
        device = self._devices.get(device_id)
        return dict(device) if device is not None else None

    def devices(self) -> list[Device]:
        """Every device, in the order they were added."""
        with self._lock:
            return [dict(device) for device in self._devices.values()]

    def add_device(self, device: Device) -> Device:
        with self._lock:
            self._devices[device["id"]] = dict(device)
            self._by_device.setdefault(device["id"], [])
            self._version += 1
        return dict(device)

    def page(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[Record]]:
        """The total number of matches, and the records at ``offset`` .. ``offset + limit``."""
        total, chosen = self.page_json(device_id, offset, limit)
        return total, [orjson.loads(raw) for raw in chosen]

    def page_json(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[bytes]]:
        """``page``, with each record as the JSON it is stored as."""
        with self._lock:
            if device_id is None:
                return len(self._records), self._records[offset : offset + limit]
            positions = self._by_device.get(device_id, [])
            chosen = positions[offset : offset + limit]
            return len(positions), [self._records[position] for position in chosen]

    def get(self, record_id: str) -> Record | None:
        with self._lock:
            position = self._positions.get(record_id)
            raw = None if position is None else self._records[position]
        return None if raw is None else orjson.loads(raw)

    def create(self, fields: Record) -> Record:
        """Store a new record: ``fields`` in order, behind a fresh ``id``. Returns it as stored."""
        with self._lock:
            self._last_sequence += 1
            record_id = format_id(self._last_sequence)
            while record_id in self._positions:
                self._last_sequence += 1
                record_id = format_id(self._last_sequence)
            # An "id" among the fields must not replace the fresh one: ids are the server's alone.
            record = {"id": record_id, **{key: value for key, value in fields.items() if key != "id"}}
            raw = pack(record)
            self._positions[record_id] = len(self._records)
            self._by_device.setdefault(record["device_id"], []).append(len(self._records))
            self._records.append(raw)
            self._version += 1
        return orjson.loads(raw)

    def update(self, record_id: str, changes: Record) -> Record:
        """Merge ``changes`` into a stored record (keys keep their place); returns it as stored."""
        with self._lock:
            position = self._positions[record_id]
            record = orjson.loads(self._records[position])
            record.update(changes)
            raw = pack(record)
            self._records[position] = raw
            self._version += 1
        return orjson.loads(raw)

    def latest(self, device_id: str, diagnostic_type: str) -> Record | None:
        """The newest record of one type for one device, if any."""
        with self._lock:
            raws = [self._records[position] for position in reversed(self._by_device.get(device_id, []))]
        for raw in raws:
            record: Record = orjson.loads(raw)
            if record["diagnostic_type"] == diagnostic_type:
                return record
        return None

    def next_refresh(self, record_id: str) -> int:
        """Count one more status refresh of a record; the count seeds the refreshed values."""
        with self._lock:
            count = self._refreshes.get(record_id, 0) + 1
            self._refreshes[record_id] = count
        return count

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"devices": len(self._devices), "diagnostics": len(self._records)}


class MemoryFaultBook:
    """The faults of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._counts: dict[str, list[int]] = {}
        self._last_id = 0

    def add(self, faults: list[Fault]) -> list[Fault]:
        with self._lock:
            added = []
            for fault in faults:
                self._last_id += 1
                added.append(Fault(**{**asdict(fault), "id": f"fault-{self._last_id}"}))
            self._faults.extend(added)
            self._counts.update({fault.id: [0, 0] for fault in added})
        return added

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**fault.to_json(), "matched": matched, "triggered": fired}
                    for fault in self._faults for matched, fired in [self._counts[fault.id]]]

    def remove(self, fault_id: str | None = None) -> int:
        with self._lock:
            kept = [fault for fault in self._faults if fault_id is not None and fault.id != fault_id]
            removed = len(self._faults) - len(kept)
            self._faults = kept
        return removed

    def armed(self) -> bool:
        return bool(self._faults)

    def outcome(self, method: str, path: str, seed: int, helpers: bool = False) -> Outcome:
        result = Outcome()
        with self._lock:
            for fault in [fault for fault in self._faults if fault.helper_error == helpers]:
                if not fault.matches(method, path):
                    continue
                counts = self._counts[fault.id]
                counts[0] += 1
                triggered, latency_ms = roll(fault, counts[0], seed)
                if triggered:
                    counts[1] += 1
                    apply_fault(result, fault, latency_ms)
                    if fault.times is not None and counts[1] >= fault.times:
                        self._faults.remove(fault)
        return result


def _wanted(entry: dict[str, Any], method: str | None, status: int | None) -> bool:
    return ((method is None or entry["method"] == method.upper())
            and (status is None or entry["status"] == status))


class MemoryJournal:
    """The last ``size`` entries of this process."""

    def __init__(self, size: int = JOURNAL_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(size, 0))
        self._last_id = 0

    def record(self, entry: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._last_id += 1
            entry["id"] = self._last_id
            self._entries.append(entry)

    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            newest_first = list(reversed(self._entries))
        found = [entry for entry in newest_first if _wanted(entry, method, status)]
        chosen = found if limit is None else found[:limit]
        return [{"id": entry["id"], **published(entry)} for entry in chosen]

    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._entries)
            self._entries.clear()
        return cleared
