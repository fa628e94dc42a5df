"""POST /inventory_device_diags/: valid bodies are stored and echoed; invalid ones are refused, by the
documented status and precedence (400, then 422, then 404), and create nothing."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import schemas

from .checks import claim, expect_status
from .client import ApiClient, json_bytes
from .discovery import Device
from .exchange import Exchange
from .records import Search, find_records, find_tagged, first_difference, record_difference
from .runconfig import RunConfig, WriteBudget
from .strategies import (
    SERVER_OWNED,
    BadBody,
    Fault,
    create_bodies,
    fault_lists,
    faulty_objects,
    malformed_bodies,
    non_object_bodies,
    precedence_pairs,
    scaled_examples,
    unknown_device_ids,
)

pytestmark = pytest.mark.posts


@claim
def created_echoes_fields_sent(exchange: Exchange, body: dict[str, Any]) -> str | None:
    for key, value in body.items():
        if key in SERVER_OWNED:
            continue
        if key not in exchange.payload:
            return f"{key} was sent but is missing from the created record"
        difference = first_difference(value, exchange.payload[key], key)
        if difference:
            return f"a field sent was not echoed unchanged: {difference}"
    return None


@claim
def created_id_is_fresh(exchange: Exchange, seen: set[str]) -> str | None:
    if exchange.payload.get("id") in seen:
        return f"the new record's id {exchange.payload['id']!r} was already used by another record"
    return None


@claim
def device_name_from_inventory(exchange: Exchange, device: Device) -> str | None:
    for key, known in (("device_name", device.name), ("device_serial", device.serial)):
        if known is not None and key in exchange.payload and exchange.payload[key] != known:
            return (f"{key} = {exchange.payload[key]!r}, "
                    f"but the inventory's records of {device.id!r} say {known!r}")
    return None


@claim
def created_record_is_listed(exchange: Exchange, search: Search) -> str | None:
    record_id = exchange.payload.get("id")
    listed = search.found.get(record_id)
    if listed is None:
        if search.complete:
            device_id = exchange.payload.get("device_id")
            return f"GET ?id={device_id} (every page) does not list the new record {record_id!r}"
        pytest.skip("the device has too many records to find the new one in its first and last pages")
    difference = record_difference(exchange.payload, listed)
    if difference:
        return f"GET lists {record_id!r} differently from the 201 body: {difference}"
    return None


def create(api: ApiClient, body: dict[str, Any], target: Device) -> Exchange:
    """POST a valid body as the JSON object itself (the documented form)."""
    return check_created(api, api.post(body), body, target)


def check_created(api: ApiClient, exchange: Exchange, body: dict[str, Any], target: Device) -> Exchange:
    """The 201 of a valid body: fields echoed, a fresh id, and a later GET listing the same record."""
    expect_status(exchange, 201, rule="valid_body_is_201", why="a valid body for a known device")
    created_echoes_fields_sent(exchange, body)
    created_id_is_fresh(exchange, api.seen_ids)
    api.seen_ids.add(exchange.payload["id"])
    device_name_from_inventory(exchange, target)
    created_record_is_listed(exchange, find_records(api, target.id, {exchange.payload["id"]}))
    return exchange


def writes_allowed(budget: WriteBudget, wanted: int) -> int:
    allowed = budget.allowance(wanted)
    if allowed == 0:
        pytest.skip("the write budget (--max-writes) is spent")
    return allowed


@pytest.mark.writes
def test_valid_bodies_are_created_echoed_and_listed(api: ApiClient, run: RunConfig, target: Device,
                                                    write_budget: WriteBudget) -> None:
    @settings(max_examples=writes_allowed(write_budget, scaled_examples(1.0)))
    @given(body=create_bodies(target.id, run.tag))
    def created(body: dict[str, Any]) -> None:
        if not write_budget.take():
            reject()
        create(api, body, target)

    created()


def _documented_examples() -> dict[str, dict[str, Any]]:
    post = schemas.openapi()["paths"][schemas.RESOURCE_PATH]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    # Only the documented form: the diagnostic object itself (the data-string form is a mock rule).
    return {name: example["value"] for name, example in examples.items() if "device_id" in example["value"]}


@pytest.mark.writes
@pytest.mark.parametrize("name", sorted(_documented_examples()))
def test_documented_example_bodies_are_created(name: str, api: ApiClient, run: RunConfig, target: Device,
                                               write_budget: WriteBudget) -> None:
    writes_allowed(write_budget, 1)
    assert write_budget.take()
    body = copy.deepcopy(_documented_examples()[name])
    body.update(device_id=target.id, notes=f"{run.tag} {body.get('notes', '')}".rstrip())
    create(api, body, target)


@claim
def server_owned_fields_ignored(exchange: Exchange, sent: dict[str, Any]) -> str | None:
    for key in SERVER_OWNED:
        if key in exchange.payload and exchange.payload[key] == sent[key]:
            return f"the server kept the client's {key} = {sent[key]!r}; server-owned fields must be ignored"
    return None


@pytest.mark.writes
def test_server_owned_fields_in_the_body_are_ignored(api: ApiClient, run: RunConfig, target: Device,
                                                     write_budget: WriteBudget) -> None:
    writes_allowed(write_budget, 1)
    assert write_budget.take()
    owned = {"id": f"diags-kit-forged-{uuid.uuid4().hex[:12]}", "device_name": "diags-kit forged name",
             "device_serial": "DIAGS-KIT-FORGED", "created_at": "2001-02-03T04:05:06Z",
             "updated_at": "2001-02-03T04:05:06Z"}
    body = {"device_id": target.id, "diagnostic_type": "maintenance", "notes": run.tag, **owned}
    exchange = create(api, body, target)
    server_owned_fields_ignored(exchange, owned)


@claim
def validation_error_names_field(exchange: Exchange, fields: tuple[str, ...]) -> str | None:
    errors = exchange.payload.get("errors")
    keys = list(errors) if isinstance(errors, dict) else []
    for name in fields:
        if any(key == name or key.startswith((f"{name}.", f"{name}[", f"{name}/")) for key in keys):
            return None
    return f"the error body's errors {keys} name none of the fields at fault: {list(fields)}"


@claim
def invalid_bodies_create_nothing(exchange: Exchange, search: Search, marker: str) -> str | None:
    created = [record.get("id") for record in search.found.values()]
    if created:
        return f"bodies that were refused still created records {created[:5]} (notes {marker!r})"
    return None


@claim
def unknown_device_stays_unknown(exchange: Exchange) -> str | None:
    if exchange.status != 404:
        return f"after a POST for the unknown device, GET ?id= answers {exchange.status}, not 404"
    return None


def confirm_unknown(api: ApiClient, device_id: str) -> None:
    """Before expecting a 404 from POST, GET must agree the device is unknown."""
    exchange = api.get({"id": device_id})
    expect_status(exchange, 404, rule="unknown_device_is_404", why=f"{device_id!r} names no device")


def refuse(api: ApiClient, run: RunConfig, bad: BadBody) -> None:
    if bad.unknown_device is not None and bad.expected == 404:
        confirm_unknown(api, bad.unknown_device)
    exchange = api.post_raw(bad.content, content_type=bad.content_type)
    expect_status(exchange, bad.expected, rule=bad.rule, why=bad.why)
    if run.strict and bad.fields:
        validation_error_names_field(exchange, bad.fields)
    if bad.unknown_device is not None and bad.expected == 404:
        unknown_device_stays_unknown(api.get({"id": bad.unknown_device}))


def sweep(api: ApiClient, target: Device, marker: str) -> None:
    """Refused bodies carried ``marker`` in their notes: the device must hold no record with it."""
    search = find_tagged(api, target.id, marker)
    invalid_bodies_create_nothing(search.first, search, marker)


def _faulty(
    chosen: Callable[[], st.SearchStrategy[list[Fault]]],
) -> Callable[[str, str], st.SearchStrategy[BadBody]]:
    return lambda device, marker: faulty_objects(device, marker, chosen())


INVALID_CASES: dict[str, Callable[[str, str], st.SearchStrategy[BadBody]]] = {
    "missing_required_field_is_400": _faulty(lambda: fault_lists("missing")),
    "wrong_type_or_format_is_422": _faulty(lambda: fault_lists("wrong")),
    "precedence_400_then_422_then_404": _faulty(precedence_pairs),
    "non_object_body_is_400": non_object_bodies,
    "malformed_json_is_400": malformed_bodies,
}


@pytest.mark.parametrize("case", sorted(INVALID_CASES))
def test_invalid_bodies_are_refused_and_create_nothing(case: str, api: ApiClient, run: RunConfig,
                                                       target: Device) -> None:
    marker = f"{run.tag} refused {uuid.uuid4().hex[:12]}"

    @settings(max_examples=scaled_examples(0.75))
    @given(bad=INVALID_CASES[case](target.id, marker))
    def refused(bad: BadBody) -> None:
        refuse(api, run, bad)

    refused()
    sweep(api, target, marker)


@given(device_id=unknown_device_ids(), data=st.data())
@settings(max_examples=scaled_examples(0.5))
def test_valid_body_for_unknown_device_is_404(device_id: str, data: st.DataObject, api: ApiClient,
                                              run: RunConfig) -> None:
    body = data.draw(create_bodies(device_id, f"{run.tag} refused"), label="body")
    refuse(api, run, BadBody(content=json_bytes(body), expected=404,
                             rule="unknown_device_is_404", why=f"{device_id!r} names no device",
                             unknown_device=device_id))
