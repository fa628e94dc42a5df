"""Records as served, kept in the mock's own fixture format, so that ``serve --fixtures FILE`` serves them.

The devices (id, name, serial) come from the records; the fields the records do not carry (kind,
maker, model, location) are written as ``"unknown"``, since the fixture format requires them and the API
never shows them. Each record is kept exactly as it was last served. Nothing of the requests is kept:
no token, no header.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fixtures
from contract_tests.checks import records_of
from contract_tests.exchange import Exchange
from fixtures.builder import FORMAT_VERSION
from fixtures.clock import parse_rfc3339

UNKNOWN = "unknown"


def fixture_of(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A fixture holding ``records`` (in the order given) and the devices they name."""
    kept = list(records)
    devices: dict[str, dict[str, Any]] = {}
    for record in kept:
        devices.setdefault(record["device_id"], {
            "id": record["device_id"], "name": record.get("device_name"),
            "serial": record.get("device_serial"),
            "kind": UNKNOWN, "maker": UNKNOWN, "model": UNKNOWN, "location": UNKNOWN})
    instants = [parse_rfc3339(record["updated_at"]) for record in kept if _parses(record.get("updated_at"))]
    reference = max(instants) if instants else datetime.now(UTC)
    return {"format": FORMAT_VERSION, "seed": None,
            "reference_time": reference.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "devices": list(devices.values()), "diagnostics": kept}


def _parses(value: Any) -> bool:
    try:
        parse_rfc3339(value)
    except (TypeError, ValueError):
        return False
    return True


def servable(record: Any) -> bool:
    """Whether the mock can serve this record (the fixture check would refuse the file otherwise)."""
    return isinstance(record, dict) and all(isinstance(record.get(key), str) and record[key]
                                            for key in ("id", "device_id", "device_name", "device_serial"))


class RecordBook:
    """The records met in traffic, by id, written to ``path`` as a fixture whenever a new one is met."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def observe(self, exchange: Exchange) -> None:
        if exchange.status not in (200, 201):
            return
        with self._lock:
            changed = False
            for record in records_of(exchange):
                if servable(record) and self._records.get(record["id"]) != record:
                    self._records[record["id"]] = record
                    changed = True
            if changed:
                fixtures.write(self.fixture(), self.path)

    def fixture(self) -> dict[str, Any]:
        # The API lists records in creation order; created_at, then id, restores it for records met apart.
        ordered = sorted(self._records.values(), key=lambda record: (str(record.get("created_at")),))
        return fixture_of(ordered)
