"""The in-memory store of devices and diagnostics (no Flask here).

Records are kept in creation order, serialized (compact bytes cost a fraction of a dict's
memory, which matters at a million records), with an index per device, so that a page costs
O(limit) whether it is filtered or not. One lock makes every operation atomic under the
server's threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

import orjson

Record = dict[str, Any]
Device = dict[str, Any]

ID_PREFIX = "diag-"
#: A stored record as ``load`` takes it: its id, its device's id, and the record as ``pack`` writes it.
Row = tuple[str, str, bytes]


#: The monotonic instant past which the store call being made may no longer wait for a lock.
_WAIT_UNTIL: ContextVar[float | None] = ContextVar("diags_lock_wait_until", default=None)


class StoreBusy(RuntimeError):
    """Another process held the store's lock for longer than the caller could wait; nothing changed."""

    def __init__(self, waited: float, cut_short: bool = False) -> None:
        super().__init__(f"the store stayed locked for {waited:g} s")
        self.waited = waited
        #: Whether ``lock_wait_until`` ended the wait before the store's own longest wait.
        self.cut_short = cut_short


@contextmanager
def lock_wait_until(instant: float) -> Iterator[None]:
    """Within the block, a store waits for another process's lock no later than ``instant``."""
    token = _WAIT_UNTIL.set(instant)
    try:
        yield
    finally:
        _WAIT_UNTIL.reset(token)


def lock_wait_seconds(longest: float) -> float:
    """How long a store may wait for a lock now: ``longest``, or less inside ``lock_wait_until``."""
    instant = _WAIT_UNTIL.get()
    return longest if instant is None else min(max(instant - time.monotonic(), 0.0), longest)


def pack(record: Record) -> bytes:
    """``record`` as compact JSON bytes, sized to fit.

    orjson hands back its bytes inside a buffer of several kilobytes: kept as they are, a million
    records of ~500 bytes held ~5 GB. A copy through ``memoryview`` is exactly as long as the JSON.
    """
    return bytes(memoryview(orjson.dumps(record)))


def sequence_of(record_id: str) -> int:
    """The sequence number in an id of our own format (``diag-042`` is 42); 0 for any other id."""
    digits = record_id.removeprefix(ID_PREFIX)
    return int(digits) if record_id.startswith(ID_PREFIX) and digits.isascii() and digits.isdigit() else 0


def format_id(sequence: int) -> str:
    """The id of the ``sequence``-th record: ``diag-001``, ..., ``diag-1000``."""
    return f"{ID_PREFIX}{sequence:03d}"


class Store(Protocol):
    """What the API needs from a store; every store passes the same tests."""

    def device(self, device_id: str) -> Device | None: ...
    def add_device(self, device: Device) -> Device: ...
    def page(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[Record]]: ...
    def page_json(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[bytes]]: ...
    def get(self, record_id: str) -> Record | None: ...
    def create(self, fields: Record) -> Record: ...
    def update(self, record_id: str, changes: Record) -> Record: ...
    def latest(self, device_id: str, diagnostic_type: str) -> Record | None: ...
    def next_refresh(self, record_id: str) -> int: ...
    def reset(self, fixture: dict[str, Any], seed: int | None = None) -> None: ...
    def load(self, devices: Iterable[Device], rows: Iterable[Row]) -> None: ...
    def seed(self) -> int | None: ...
    def stats(self) -> dict[str, int]: ...


class MemoryStore:
    """A thread-safe store held in this process, loaded from a fixture or from stored rows (``load``)."""

    def __init__(self, fixture: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._last_sequence = 0
        self._seed: int | None = None
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

    def device(self, device_id: str) -> Device | None:
        device = self._devices.get(device_id)
        return dict(device) if device is not None else None

    def add_device(self, device: Device) -> Device:
        with self._lock:
            self._devices[device["id"]] = dict(device)
            self._by_device.setdefault(device["id"], [])
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
        return orjson.loads(raw)

    def update(self, record_id: str, changes: Record) -> Record:
        """Merge ``changes`` into a stored record (keys keep their place); returns it as stored."""
        with self._lock:
            position = self._positions[record_id]
            record = orjson.loads(self._records[position])
            record.update(changes)
            raw = pack(record)
            self._records[position] = raw
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
