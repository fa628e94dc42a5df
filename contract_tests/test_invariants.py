"""Invariants a reader of the docs takes for granted. Most are checked on every exchange (``invariants``:
plausible timestamps, one name and serial per device, broken helpers reported); here are those that need
requests of their own: the same request twice gives the same answer, and ``count`` grew by what the run
wrote."""

from __future__ import annotations

from typing import Any

import pytest

from .client import ApiClient
from .discovery import Inventory
from .invariants import Observers, count_grows_by_writes, same_request_same_records
from .paging import get_page, page_count
from .phases import SuiteOptions
from .runconfig import RunConfig

ATTEMPTS = 3


def _queries(inventory: Inventory) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = [{}, {"limit": 5, "offset": 3}]
    for device in [device for device in inventory.devices if device.count > 1][:2]:
        queries += [{"id": device.id}, {"id": device.id, "limit": 2, "offset": 1}]
    return queries


def test_the_same_request_twice_gives_the_same_records(api: ApiClient, inventory: Inventory,
                                                       options: SuiteOptions) -> None:
    for params in _queries(inventory):
        for _ in range(ATTEMPTS):
            first, second = get_page(api, params), get_page(api, params)
            if page_count(first) == page_count(second) or options.sole_writer:
                same_request_same_records(second, first)
                break
        else:
            pytest.skip(f"count kept changing between two GETs of {params}: other clients are writing")


@pytest.mark.final
@pytest.mark.writes
def test_count_grew_by_what_the_run_wrote(api: ApiClient, run: RunConfig, observers: Observers,
                                          options: SuiteOptions) -> None:
    ledger = observers.ledger
    if ledger.baseline is None:
        pytest.skip("no unfiltered listing was made before the writes")
    before = ledger.baseline[0]
    written = ledger.written_since_baseline()
    exact = options.sole_writer and run.worker_count == 1
    count_grows_by_writes(get_page(api, {"limit": 1}), before, written, exact)
