"""The reference server's own inventory: a few devices, ~30 seeded diagnostics, and a locked store.

The data is deliberately unlike our mock's: opaque hex ids, ``dev_xxxx`` device ids, an extra
``site`` field on every record, and no ``next_check_due`` on anything but health checks.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Record = dict[str, Any]

SEED = 7321
SEEDED_RECORDS = 30
CHECK_INTERVAL = timedelta(hours=6)
#: How long ``add(racy=True)`` works on its copy of the list: concurrent adds meet in it and one is lost.
RACE_WINDOW = 0.1
SEVERITIES = ("low", "medium", "high", "critical")
HELPER_FIELDS = frozenset({"id", "device_id", "device_name", "device_serial", "diagnostic_type", "site",
                           "status", "details", "issues", "created_at", "updated_at", "next_check_due"})


@dataclass(frozen=True)
class Device:
    """One device of the inventory."""

    device_id: str
    name: str
    serial: str
    site: str


DEVICES = (
    Device("dev_a81f", "Lobby Kiosk K-7", "KX7-0042-11", "HQ lobby"),
    Device("dev_3c02", "Warehouse Scanner Z3", "ZS3-88120", "Warehouse B"),
    Device("dev_77d9", "Core Switch SW-01", "CSW01-5531", "HQ server room"),
    Device("dev_b4e6", "Conference Display 65", "CD65-2201", "Floor 3"),
    Device("dev_0f5a", "Backup NAS", "NAS-7731-B", "HQ server room"),
    # A device with no diagnostics: GET ?id=dev_e21c is 200 with count 0.
    Device("dev_e21c", "Spare Laptop T14", "T14-PF3KQ9", "IT storage"),
)
EMPTY_DEVICE_ID = DEVICES[-1].device_id


def timestamp(moment: datetime, *, sloppy: bool = False) -> str:
    """RFC 3339 in UTC; seconds-only instants end in Z, finer ones carry microseconds and +00:00."""
    moment = moment.astimezone(UTC)
    if sloppy:
        return moment.strftime("%Y-%m-%d %H:%M")
    if moment.microsecond == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="microseconds")


def new_id() -> str:
    """An opaque record id."""
    return uuid.uuid4().hex


def health_reading(rng: random.Random, moment: datetime) -> tuple[str, dict[str, Any], list[dict[str, str]]]:
    """A health check's status, details and issues, as a diagnostic helper would report them."""
    details: dict[str, Any] = {
        "cpu_usage": rng.randint(2, 99),
        "memory_usage": round(rng.uniform(10, 97), 1),
        "disk_space": rng.randint(1, 90),
        "network_connectivity": rng.choice(["good", "good", "degraded", "poor"]),
        "last_ping": timestamp(moment),
        "uptime_hours": rng.randint(1, 4000),
    }
    issues = []
    if details["disk_space"] < 15:
        issues.append({"severity": "medium", "message": "Low disk space detected", "code": "DISK_LOW"})
    if details["cpu_usage"] > 90:
        issues.append({"severity": "high", "message": "CPU saturated", "code": "CPU_HIGH"})
    if details["network_connectivity"] == "poor":
        issues.append({"severity": "critical", "message": "Packet loss above 20%", "code": "NET_LOSS"})
    status = "healthy" if not issues else ("critical" if len(issues) > 1 else "warning")
    return status, details, issues


def _seed_record(rng: random.Random, device: Device, moment: datetime, kind: str) -> Record:
    record: Record = {
        "id": new_id(),
        "device_id": device.device_id,
        "device_name": device.name,
        "device_serial": device.serial,
        "diagnostic_type": kind,
        "site": device.site,
        "created_at": timestamp(moment),
        "updated_at": timestamp(moment + timedelta(minutes=rng.randint(0, 90))),
    }
    if kind == "health_check":
        record["status"], record["details"], record["issues"] = health_reading(rng, moment)
        record["next_check_due"] = timestamp(moment + CHECK_INTERVAL)
    elif kind == "maintenance":
        record["status"] = rng.choice(["completed", "scheduled"])
        action = rng.choice(["firmware_update", "fan_replacement", "cleaning"])
        record["details"] = {"action_performed": action, "duration_minutes": rng.randint(5, 120)}
        record["issues"] = []
        record["performed_by"] = rng.choice(["ops@example.org", "field.tech@example.org"])
        record["notes"] = "Routine maintenance window"
    else:
        record["status"] = rng.choice(["open", "resolved", "in_progress"])
        record["details"] = {"issue_category": rng.choice(["hardware", "software", "network"]),
                             "symptoms": rng.sample(["slow_response", "reboots", "no_signal", "noise"], 2)}
        severity = rng.choice(SEVERITIES)
        record["issues"] = [{"severity": severity, "message": "Reported by a user", "code": "USR_RPT"}]
        record["reported_by"] = "helpdesk@example.org"
        record["priority"] = rng.choice(SEVERITIES)
        record["notes"] = "Opened from a help desk ticket"
    return record


def seed_records() -> list[Record]:
    """The seeded diagnostics, oldest first; every device but the spare has a health check."""
    rng = random.Random(SEED)
    moment = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    with_data = DEVICES[:-1]
    records = [_seed_record(rng, device, moment + timedelta(hours=i), "health_check")
               for i, device in enumerate(with_data)]
    moment += timedelta(days=1)
    for _ in range(SEEDED_RECORDS - len(records)):
        moment += timedelta(hours=rng.randint(1, 30))
        kind = rng.choice(["health_check", "health_check", "maintenance", "issue_report"])
        records.append(_seed_record(rng, rng.choice(with_data), moment, kind))
    return records


class Store:
    """Devices and diagnostics behind one lock; every read hands out copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices = {device.device_id: device for device in DEVICES}
        self._records = seed_records()
        self._rng = random.Random(SEED + 1)

    def device(self, device_id: str) -> Device | None:
        """The device with this id, if the inventory has it."""
        return self._devices.get(device_id)

    def records(self, device_id: str | None) -> list[Record]:
        """Copies of the matching records, oldest first."""
        with self._lock:
            chosen = [r for r in self._records if device_id is None or r["device_id"] == device_id]
            return copy.deepcopy(chosen)

    def newest_id(self) -> str:
        """The id of the most recently stored record."""
        with self._lock:
            return str(self._records[-1]["id"])

    def add(self, record: Record, *, racy: bool = False) -> None:
        """Store one new record; ``racy`` (a break) copies the list, works, and writes it back unlocked."""
        if racy:
            updated = [*self._records, copy.deepcopy(record)]
            time.sleep(RACE_WINDOW)
            self._records = updated
            return
        with self._lock:
            self._records.append(copy.deepcopy(record))

    def refresh(
        self, device_ids: set[str], *, store: bool = True, rebuild: bool = False, rewind: bool = False
    ) -> dict[str, Record]:
        """Run the health helper for these devices: a new reading on each one's latest health check.

        Returns the refreshed records by id; with ``store=False`` they are computed but not kept, with
        ``rebuild=True`` the record keeps only the helper's own fields (a break: what was sent is lost), with
        ``rewind=True`` updated_at is the time of a reading two hours old (a break).
        """
        refreshed: dict[str, Record] = {}
        with self._lock:
            latest: dict[str, Record] = {}
            for record in self._records:
                if record["device_id"] in device_ids and record["diagnostic_type"] == "health_check":
                    latest[record["device_id"]] = record
            now = datetime.now(UTC)
            for record in latest.values():
                target = record if store else copy.deepcopy(record)
                if rebuild:
                    for name in set(target) - HELPER_FIELDS:
                        del target[name]
                target["status"], target["details"], target["issues"] = health_reading(self._rng, now)
                target["updated_at"] = timestamp(now - timedelta(hours=2) if rewind else now)
                target["next_check_due"] = timestamp(now + CHECK_INTERVAL)
                refreshed[target["id"]] = copy.deepcopy(target)
        return refreshed
