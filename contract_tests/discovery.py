"""What the server holds, learnt from the API itself: a few devices and how many records each has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from . import claims
from .checks import Expect
from .client import ApiClient
from .paging import page_count, walk_forward

DISCOVERY_PAGES = 3
DEVICES_TO_COUNT = 8
#: A device whose list is walked page by page should need few requests.
WALKABLE_RECORDS = 300


@dataclass
class Device:
    """A device known to the server, with what its records say about it."""

    id: str
    count: int
    name: str | None = None
    serial: str | None = None


@dataclass
class Inventory:
    """The devices discovered at the start of the run."""

    devices: list[Device]

    def _require(self, candidates: list[Device], what: str) -> Device:
        if not candidates:
            pytest.skip(f"no {what} was discovered on the server; name one with --device-id")
        return candidates[0]

    def walk_devices(self) -> list[Device]:
        return [device for device in self.devices if 0 < device.count <= WALKABLE_RECORDS]

    def write_device(self) -> Device:
        """The device the suite writes to: the one with the fewest records, so finding them is cheap."""
        return self._require(sorted(self.devices, key=lambda d: d.count), "device")

    def device_ids(self) -> list[str]:
        return [device.id for device in self.devices]


def _describe(records: list[dict[str, Any]], device_id: str) -> tuple[str | None, str | None]:
    for record in records:
        if record.get("device_id") == device_id:
            return record.get("device_name"), record.get("device_serial")
    return None, None


def count_device(client: ApiClient, device_id: str) -> tuple[int, list[dict[str, Any]]]:
    """How many records a known device has (and its first page)."""
    known = Expect(200, rule=claims.KNOWN_DEVICE_LISTS_200, why=f"{device_id!r} is a device of the server")
    exchange = client.get({"id": device_id, "limit": 1}, expect=known)
    return page_count(exchange), exchange.results


def discover(client: ApiClient, named_devices: list[str]) -> Inventory:
    """Walk the first pages of the whole list, then count the records of a few devices."""
    walk = walk_forward(client, {"limit": 100}, max_pages=DISCOVERY_PAGES)
    records = walk.records
    found: list[str] = list(dict.fromkeys(named_devices))
    for record in records:
        device_id = record.get("device_id")
        if isinstance(device_id, str) and device_id not in found and len(found) < DEVICES_TO_COUNT:
            found.append(device_id)
    devices = []
    for device_id in found:
        count, first = count_device(client, device_id)
        name, serial = _describe(records + first, device_id)
        devices.append(Device(id=device_id, count=count, name=name, serial=serial))
    return Inventory(devices=devices)
