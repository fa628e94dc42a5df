"""Sending POST bodies and checking what came of them: the created record, or a refusal that stored
nothing. Shared by the POST tests, the mock-rule tests and the state machine."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from . import claims
from .checks import ContractViolation, Expect, claim, expect_status
from .client import ApiClient
from .discovery import Device
from .exchange import Exchange
from .records import Search, find_records, find_tagged, first_difference, record_difference
from .runconfig import RunConfig, WriteBudget
from .strategies import SERVER_OWNED, BadBody

CREATED = Expect(201, rule=claims.VALID_BODY_IS_201, why="a valid body for a known device")


def refusal_marker(run: RunConfig) -> str:
    """Notes for bodies that must be refused: tagged with the run, unique to one test."""
    return f"{run.tag} refused {uuid.uuid4().hex[:12]}"


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
def server_owned_fields_ignored(exchange: Exchange, sent: dict[str, Any]) -> str | None:
    for key in SERVER_OWNED:
        if key in sent and key in exchange.payload and exchange.payload[key] == sent[key]:
            return f"the server kept the client's {key} = {sent[key]!r}; server-owned fields must be ignored"
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
    return check_created(api, api.post(body, expect=CREATED), body, target)


def check_created(api: ApiClient, exchange: Exchange, body: dict[str, Any], target: Device) -> Exchange:
    """The 201 of a valid body: fields echoed, a fresh id, and a later GET listing the same record."""
    expect_status(exchange, CREATED.statuses, rule=CREATED.rule, why=CREATED.why)
    created_echoes_fields_sent(exchange, body)
    created_id_is_fresh(exchange, api.seen_ids)
    api.seen_ids.add(exchange.payload["id"])
    device_name_from_inventory(exchange, target)
    created_record_is_listed(exchange, find_records(api, target.id, {exchange.payload["id"]}))
    return exchange


def reserve_one(budget: WriteBudget) -> None:
    """A test that creates one record: reserve it, or skip once the budget is spent."""
    if not budget.reserve(1):
        pytest.skip("the write budget (--max-writes) is spent")


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
    api.get({"id": device_id}, expect=Expect(404, rule=claims.UNKNOWN_DEVICE_IS_404,
                                             why=f"{device_id!r} names no device"))


def refuse(api: ApiClient, run: RunConfig, bad: BadBody) -> None:
    if bad.unknown_device is not None and bad.expected == 404:
        confirm_unknown(api, bad.unknown_device)
    exchange = api.post_raw(bad.content, content_type=bad.content_type,
                            expect=Expect(bad.expected, rule=bad.rule, why=bad.why))
    if run.strict and bad.fields:
        validation_error_names_field(exchange, bad.fields)
    if bad.unknown_device is not None and bad.expected == 404:
        unknown_device_stays_unknown(api.get({"id": bad.unknown_device}))


def sweep(api: ApiClient, target: Device, marker: str) -> None:
    """Refused bodies carried ``marker`` in their notes: the device must hold no record with it."""
    try:
        search = find_tagged(api, target.id, marker)
    except ContractViolation as violation:
        # Stored refused bodies usually break the record schema first: name the real break.
        listed = violation.exchange is not None and marker.encode() in violation.exchange.content
        if not listed:
            raise
        raise ContractViolation(claims.INVALID_BODIES_CREATE_NOTHING,
                                f"bodies that were refused were stored anyway (notes {marker!r}), "
                                f"and the listing breaks {violation.claim}: {violation.problem}",
                                violation.exchange) from violation
    invalid_bodies_create_nothing(search.first, search, marker)
