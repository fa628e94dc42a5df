"""Invariants a reader of the docs takes for granted, checked on every exchange the suite makes.

``Observers`` is handed each exchange after the per-response checks: timestamps are plausible, a
device keeps one name and one serial, the documented 500 of broken helpers is reported, and the
ledger notes what the suite created (for the count checks at the end of the run). Like ``checks``,
this needs no pytest: a proxy can feed it live traffic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .checks import REFRESHABLE, claim, parse_rfc3339, records_of
from .exchange import Exchange


def _refresh_requested(exchange: Exchange) -> bool:
    return exchange.query.get("update_status", "").lower() in {"true", "1"}


@claim
def helpers_work(exchange: Exchange, allow_helper_errors: bool) -> str | None:
    if exchange.operation != "GET" or exchange.status != 500 or not _refresh_requested(exchange):
        return None
    if allow_helper_errors:
        return None
    return ("update_status=true answered 500: by the docs, the server's diagnostic helper configuration is "
            "broken. Fix the helpers, or pass --allow-helper-errors to accept it")


@claim
def updated_not_before_created(exchange: Exchange) -> str | None:
    for record in records_of(exchange):
        created, updated = parse_rfc3339(record.get("created_at")), parse_rfc3339(record.get("updated_at"))
        if created is not None and updated is not None and updated < created:
            return (f"record {record.get('id')!r}: updated_at {record['updated_at']} is before "
                    f"created_at {record['created_at']}")
    return None


@claim
def created_at_near_client_clock(exchange: Exchange, now: datetime, tolerance: float) -> str | None:
    created = parse_rfc3339(exchange.payload.get("created_at"))
    if created is None:
        return None  # datetimes_parse names that
    drift = (created - now).total_seconds()
    if abs(drift) <= tolerance:
        return None
    return (f"the new record's created_at {exchange.payload['created_at']} is {abs(drift):.0f} s "
            f"{'behind' if drift < 0 else 'ahead of'} this machine's clock ({now:%Y-%m-%dT%H:%M:%SZ}); "
            f"tolerance {tolerance:.0f} s (--clock-tolerance)")


class DeviceIdentity:
    """The first name and serial met for each device; any other one later is a break."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[Any, Any, str]] = {}
        self._lock = threading.Lock()

    def observe(self, exchange: Exchange) -> None:
        for record in records_of(exchange):
            device_id = record.get("device_id")
            if not isinstance(device_id, str) or "device_name" not in record:
                continue
            identity = (record.get("device_name"), record.get("device_serial"))
            where = f"record {record.get('id')!r} of {exchange.method} {exchange.mask(exchange.url)}"
            with self._lock:
                first = self._seen.setdefault(device_id, (*identity, where))
            device_identity_consistent(exchange, device_id, identity, first)


@claim
def device_identity_consistent(exchange: Exchange, device_id: str, identity: tuple[Any, Any],
                               first: tuple[Any, Any, str]) -> str | None:
    if identity == first[:2]:
        return None
    return (f"device {device_id!r} is named {identity[0]!r} with serial {identity[1]!r} here, "
            f"but {first[0]!r} with serial {first[1]!r} in {first[2]}")


@dataclass
class WriteLedger:
    """The records this process created, and the unfiltered count when it first saw one."""

    created: set[str] = field(default_factory=set)
    baseline: tuple[int, int] | None = None  # (count of the whole list, records created by then)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, exchange: Exchange) -> None:
        payload = exchange.payload
        with self._lock:
            if exchange.operation == "POST" and exchange.status == 201 and isinstance(payload, dict):
                self.created.add(str(payload.get("id")))
            elif (self.baseline is None and exchange.operation == "GET" and exchange.status == 200
                  and "id" not in exchange.query and isinstance(payload, dict)
                  and isinstance(payload.get("count"), int)):
                self.baseline = (payload["count"], len(self.created))

    def written_since_baseline(self) -> int:
        with self._lock:
            return len(self.created) - (self.baseline[1] if self.baseline else 0)


@claim
def count_grows_by_writes(exchange: Exchange, before: int, written: int, exact: bool) -> str | None:
    now = exchange.payload.get("count")
    if not isinstance(now, int):
        return None
    grown = now - before
    if grown < written:
        return (f"count went from {before} to {now} (+{grown}) while this run created {written} records: "
                "records were lost or are not counted")
    if exact and grown != written:
        return (f"count went from {before} to {now} (+{grown}) while this run, the sole writer, created "
                f"{written} records")
    return None


@claim
def device_count_never_decreases(exchange: Exchange, device_id: str, before: int) -> str | None:
    now = exchange.payload.get("count")
    if isinstance(now, int) and now < before:
        return f"device {device_id!r} had {before} records earlier in this run, now count = {now}"
    return None


def _ids(exchange: Exchange) -> list[Any]:
    return [record.get("id") if isinstance(record, dict) else record for record in exchange.results]


def unrefreshed_difference(first: Exchange, second: Exchange) -> str | None:
    """How two answers to the same GET differ: other records, another order, or a record changed other
    than by a status refresh (a later updated_at, and only the fields a refresh owns)."""
    if first.content == second.content:
        return None
    if _ids(first) != _ids(second):
        return f"ids {_ids(first)[:8]}, then {_ids(second)[:8]}"
    for old, new in zip(first.results, second.results, strict=True):
        if old == new or not (isinstance(old, dict) and isinstance(new, dict)):
            continue
        earlier, later = parse_rfc3339(old.get("updated_at")), parse_rfc3339(new.get("updated_at"))
        refreshed = earlier is not None and later is not None and later > earlier
        changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
        if not refreshed or set(changed) - REFRESHABLE:
            return f"record {old.get('id')!r} changed {changed} without a status refresh"
    return None


@claim
def same_request_same_records(exchange: Exchange, first: Exchange) -> str | None:
    difference = unrefreshed_difference(first, exchange)
    if difference is None:
        return None
    return f"the same GET, twice with no write between, gave other records or another order: {difference}"


@dataclass
class Observers:
    """Everything checked on each exchange beyond its own response checks."""

    allow_helper_errors: bool
    clock_tolerance: float
    identity: DeviceIdentity = field(default_factory=DeviceIdentity)
    ledger: WriteLedger = field(default_factory=WriteLedger)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __call__(self, exchange: Exchange) -> None:
        if exchange.operation not in ("GET", "POST"):
            return
        helpers_work(exchange, self.allow_helper_errors)
        if exchange.status in (200, 201):
            updated_not_before_created(exchange)
            self.identity.observe(exchange)
        if exchange.operation == "POST" and exchange.status == 201 and isinstance(exchange.payload, dict):
            created_at_near_client_clock(exchange, self.clock(), self.clock_tolerance)
        self.ledger.observe(exchange)

