"""The contract suite's invariants, checked on exchanges built here (no server, no pytest needed by them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from contract_tests import claims
from contract_tests.checks import ContractViolation
from contract_tests.exchange import Exchange
from contract_tests.invariants import (
    DeviceIdentity,
    Observers,
    WriteLedger,
    count_grows_by_writes,
    same_request_same_records,
    unrefreshed_difference,
)

URL = "http://h/api/v1/inventory_device_diags/"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def record(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": record_id, "device_id": "dev-1", "device_name": "Router", "device_serial": "R-1",
            "diagnostic_type": "health_check", "status": "ok", "created_at": "2026-12-04T11:00:00Z",
            "updated_at": "2026-12-04T11:00:00Z", **fields}


def page(*records: dict[str, Any], query: str = "") -> Exchange:
    body = {"count": len(records), "next": None, "previous": None, "results": list(records)}
    return Exchange("GET", "GET", URL + query, {}, None, 200, {"content-type": "application/json"},
                    json.dumps(body).encode())


def created(body: dict[str, Any], status: int = 201) -> Exchange:
    return Exchange("POST", "POST", URL, {}, b"{}", status, {"content-type": "application/json"},
                    json.dumps(body).encode())


def violated(check: Any, *args: Any) -> str:
    with pytest.raises(ContractViolation) as caught:
        check(*args)
    return caught.value.claim


def observers(**options: Any) -> Observers:
    return Observers(allow_helper_errors=options.get("allow", False), clock_tolerance=60, clock=lambda: NOW)


def test_updated_before_created_is_a_break() -> None:
    observe = observers()
    observe(page(record("a")))
    bad = record("b", updated_at="2026-12-04T10:59:59Z")
    assert violated(observe, page(bad)) == claims.UPDATED_NOT_BEFORE_CREATED.name


def test_created_at_far_from_the_client_clock_is_a_break() -> None:
    observe = observers()
    observe(created(record("a", created_at="2026-12-04T12:00:30Z", updated_at="2026-12-04T12:00:30Z")))
    late = record("b", created_at="2026-12-04T10:00:00Z", updated_at="2026-12-04T10:00:00Z")
    assert violated(observe, created(late)) == claims.CREATED_AT_NEAR_CLIENT_CLOCK.name


def test_a_device_keeps_one_name_and_serial() -> None:
    identity = DeviceIdentity()
    identity.observe(page(record("a"), record("b")))
    identity.observe(created(record("c")))
    assert violated(identity.observe, page(record("d", device_serial="R-2"))) == \
        claims.DEVICE_IDENTITY_CONSISTENT.name


@pytest.mark.parametrize(("allowed", "fails"), [(False, True), (True, False)])
def test_update_status_500_fails_unless_allowed(allowed: bool, fails: bool) -> None:
    answer = Exchange("GET", "GET", URL + "?update_status=True", {}, None, 500,
                      {"content-type": "application/json"}, b'{"detail": "helpers"}')
    observe = observers(allow=allowed)
    if fails:
        assert violated(observe, answer) == claims.HELPERS_WORK.name
    else:
        observe(answer)


def test_the_ledger_counts_creations_after_the_first_whole_listing() -> None:
    ledger = WriteLedger()
    ledger.observe(created(record("a")))
    ledger.observe(page(record("x"), query="?id=dev-1"))  # filtered: no baseline
    ledger.observe(page(record("x"), record("y")))
    ledger.observe(created(record("b")))
    ledger.observe(created(record("c")))
    ledger.observe(created(record("c")))  # the same record twice counts once
    assert ledger.baseline == (2, 1)
    assert ledger.written_since_baseline() == 2


def test_count_must_grow_by_what_was_written() -> None:
    now = page(*(record(str(n)) for n in range(12)))
    count_grows_by_writes(now, 10, 2, True)
    count_grows_by_writes(now, 9, 2, False)  # another client wrote one more
    assert violated(count_grows_by_writes, now, 9, 2, True) == claims.COUNT_GROWS_BY_WRITES.name
    assert violated(count_grows_by_writes, now, 11, 2, False) == claims.COUNT_GROWS_BY_WRITES.name


def test_the_same_request_may_differ_only_by_a_refresh() -> None:
    first = page(record("a"), record("b"))
    refreshed = record("b", status="warning", updated_at="2026-12-04T11:30:00Z")
    assert unrefreshed_difference(first, page(record("a"), refreshed)) is None
    same_request_same_records(page(record("a"), record("b")), first)
    assert violated(same_request_same_records, page(record("b"), record("a")), first) == \
        claims.SAME_REQUEST_SAME_RECORDS.name
    renamed = record("b", notes="changed", updated_at="2026-12-04T11:30:00Z")
    assert "notes" in str(unrefreshed_difference(first, page(record("a"), renamed)))
