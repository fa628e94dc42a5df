"""A state machine mixing creates (valid and invalid), listings, device filters, pages and refreshes.

It models only what it created itself, so its invariants hold while other clients write to the same
server: its records stay listed with id, device_id, diagnostic_type and created_at unchanged; the
fields it sent stay unchanged unless a refresh may have touched them; a device's count never goes
down; every new id is fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from .checks import claim
from .client import ApiClient
from .discovery import Inventory
from .exchange import Exchange
from .invariants import device_count_never_decreases
from .paging import REFRESHED, check_page, get_page, page_count
from .posting import check_created, refusal_marker, refuse, sweep
from .records import IMMUTABLE, REFRESHABLE, device_records, first_difference, refreshed_since
from .runconfig import RunConfig, WriteBudget
from .strategies import (
    create_bodies,
    fault_lists,
    faulty_objects,
    malformed_bodies,
    non_object_bodies,
    query_params,
    scaled_examples,
    write_settings,
)


@dataclass
class Created:
    """A record this machine created: what it sent and the 201 body."""

    sent: dict[str, Any]
    record: dict[str, Any]
    maybe_refreshed: bool = False


@claim
def created_record_still_listed(
    exchange: Exchange, created: Created, listed: dict[str, Any] | None
) -> str | None:
    record_id = created.record["id"]
    if listed is None:
        return f"record {record_id!r}, created earlier in this run, is no longer listed for its device"
    for key in IMMUTABLE:
        difference = first_difference(created.record.get(key), listed.get(key), key)
        if difference:
            return f"record {record_id!r} changed a field that never changes: {difference}"
    may_differ = created.maybe_refreshed or refreshed_since(created.record, listed)
    for key, value in created.sent.items():
        if may_differ and key in REFRESHABLE:
            continue
        difference = first_difference(value, listed.get(key), key)
        if difference:
            return f"record {record_id!r} no longer holds what was sent: {difference}"
    return None


def machine_for(api: ApiClient, run: RunConfig, inventory: Inventory,
                quota: int | None) -> type[RuleBasedStateMachine]:
    """The machine, its strategies drawn from what discovery found on this server; each of its runs
    creates at most ``quota`` records (None: no limit)."""
    device_ids = inventory.device_ids()
    target = inventory.write_device()
    writable = not run.read_only
    marker = refusal_marker(run)
    invalid = st.one_of(faulty_objects(target.id, marker, fault_lists("missing")),
                        faulty_objects(target.id, marker, fault_lists("wrong")),
                        non_object_bodies(target.id, marker), malformed_bodies(target.id, marker))

    class DiagsMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.created: dict[str, Created] = {}
            self.counts: dict[str, int] = {}
            self.refused_any = False
            self.creations = 0

        def observe(self, exchange: Exchange, device_id: str) -> None:
            device_count_never_decreases(exchange, device_id, self.counts.get(device_id, 0))
            self.counts[device_id] = page_count(exchange)

        @precondition(lambda self: writable and (quota is None or self.creations < quota))
        @rule(body=create_bodies(target.id, run.tag))
        def create_valid(self, body: dict[str, Any]) -> None:
            self.creations += 1
            exchange = check_created(api, api.post(body), body, target)
            self.created[exchange.payload["id"]] = Created(sent=body, record=exchange.payload)

        @precondition(lambda self: writable)
        @rule(bad=invalid)
        def create_invalid(self, bad: Any) -> None:
            refuse(api, run, bad)
            self.refused_any = True

        @rule(params=query_params(device_ids, allow_refresh=False, max_limit=100))
        def list_page(self, params: dict[str, Any]) -> None:
            exchange = get_page(api, params)
            check_page(exchange, params)
            if "id" in params:
                self.observe(exchange, params["id"])

        @rule(device_id=st.sampled_from(device_ids) if device_ids else st.nothing())
        def walk_device(self, device_id: str) -> None:
            self.walk(device_id)

        # Devices are many and the machine writes to one: without this rule, a walk of the device that
        # holds its records would be rare, and so the check that they are still listed.
        @precondition(lambda self: bool(self.created))
        @rule()
        def walk_written_device(self) -> None:
            self.walk(target.id)

        def walk(self, device_id: str) -> None:
            search = device_records(api, device_id)
            self.observe(search.first, device_id)
            for created in self.created.values():
                if created.record.get("device_id") != device_id:
                    continue
                listed = search.found.get(created.record["id"])
                if listed is None and not search.complete:
                    continue  # too long a list to look through: only its first and last pages were seen
                created_record_still_listed(search.first, created, listed)

        @precondition(lambda self: writable)
        @rule(device_id=st.sampled_from(device_ids) if device_ids else st.nothing())
        def refresh(self, device_id: str) -> None:
            exchange = api.get({"id": device_id, "update_status": "true"}, expect=REFRESHED)
            for created in self.created.values():
                if created.record.get("device_id") == device_id:
                    created.maybe_refreshed = True
            if exchange.status == 200:
                check_page(exchange, {"id": device_id, "update_status": "true"})
                self.observe(exchange, device_id)

        def teardown(self) -> None:
            if self.refused_any:
                sweep(api, target, marker)

    return DiagsMachine


#: Records one run of the machine may create against a server with a write budget.
CREATIONS_PER_RUN = 2


def test_state_machine_of_creates_lists_and_refreshes(api: ApiClient, run: RunConfig, inventory: Inventory,
                                                      write_budget: WriteBudget) -> None:
    runs = scaled_examples(0.5)
    quota: int | None = None
    if run.read_only:
        quota = 0
    elif write_budget.limited:
        affordable = write_budget.runs(runs, per_run=CREATIONS_PER_RUN)
        runs, quota = (affordable, CREATIONS_PER_RUN) if affordable else (runs, 0)
    machine = machine_for(api, run, inventory, quota)
    run_state_machine_as_test(machine, settings=write_settings(runs, limited=write_budget.limited))
