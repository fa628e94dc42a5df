"""POST /inventory_device_diags/: valid bodies are stored and echoed; invalid ones are refused, by the
documented status and precedence (400, then 422, then 404), and create nothing."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas

from . import claims
from .client import ApiClient, json_bytes
from .discovery import Device
from .posting import create, refusal_marker, refuse, reserve_one, server_owned_fields_ignored, sweep
from .runconfig import RunConfig, WriteBudget
from .strategies import (
    WRONG_VALUES,
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
    write_settings,
    wrong_fault,
)

pytestmark = pytest.mark.posts


@pytest.mark.writes
def test_valid_bodies_are_created_echoed_and_listed(api: ApiClient, run: RunConfig, target: Device,
                                                    write_budget: WriteBudget) -> None:
    examples = write_budget.runs(scaled_examples(1.0))
    if examples == 0:
        pytest.skip("the write budget (--max-writes) is spent")

    @write_settings(examples, limited=write_budget.limited)
    @given(body=create_bodies(target.id, run.tag))
    def created(body: dict[str, Any]) -> None:
        create(api, body, target)

    created()


def _documented_examples() -> dict[str, dict[str, Any]]:
    post = schemas.contract_openapi()["paths"][schemas.RESOURCE_PATH]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    # Only the documented form: the diagnostic object itself (the data-string form is a mock rule).
    return {name: example["value"] for name, example in examples.items() if "device_id" in example["value"]}


@pytest.mark.writes
@pytest.mark.parametrize("name", sorted(_documented_examples()))
def test_documented_example_bodies_are_created(name: str, api: ApiClient, run: RunConfig, target: Device,
                                               write_budget: WriteBudget) -> None:
    reserve_one(write_budget)
    body = copy.deepcopy(_documented_examples()[name])
    body.update(device_id=target.id, notes=f"{run.tag} {body.get('notes', '')}".rstrip())
    create(api, body, target)


@pytest.mark.writes
def test_server_owned_fields_in_the_body_are_ignored(api: ApiClient, run: RunConfig, target: Device,
                                                     write_budget: WriteBudget) -> None:
    reserve_one(write_budget)
    owned = {"id": f"diags-kit-forged-{uuid.uuid4().hex[:12]}", "device_name": "diags-kit forged name",
             "device_serial": "DIAGS-KIT-FORGED", "created_at": "2001-02-03T04:05:06Z",
             "updated_at": "2001-02-03T04:05:06Z"}
    body = {"device_id": target.id, "diagnostic_type": "maintenance", "notes": run.tag, **owned}
    exchange = create(api, body, target)
    server_owned_fields_ignored(exchange, owned)


def _faulty(
    chosen: Callable[[], st.SearchStrategy[list[Fault]]],
) -> Callable[[str, str], st.SearchStrategy[BadBody]]:
    return lambda device, marker: faulty_objects(device, marker, chosen())


INVALID_CASES: dict[str, Callable[[str, str], st.SearchStrategy[BadBody]]] = {
    "missing_required_field_is_400": _faulty(lambda: fault_lists("missing")),
    "precedence_400_then_422_then_404": _faulty(precedence_pairs),
    "non_object_body_is_400": non_object_bodies,
    "malformed_json_is_400": malformed_bodies,
}


@pytest.mark.parametrize("case", sorted(INVALID_CASES))
def test_invalid_bodies_are_refused_and_create_nothing(case: str, api: ApiClient, run: RunConfig,
                                                       target: Device) -> None:
    marker = refusal_marker(run)

    @settings(max_examples=scaled_examples(0.75))
    @given(bad=INVALID_CASES[case](target.id, marker))
    def refused(bad: BadBody) -> None:
        refuse(api, run, bad)

    refused()
    sweep(api, target, marker)


@pytest.mark.parametrize("case", sorted(WRONG_VALUES))
def test_wrong_type_or_format_is_422(case: str, api: ApiClient, run: RunConfig, target: Device) -> None:
    marker = refusal_marker(run)
    single = wrong_fault(case).map(lambda fault: [fault])

    @settings(max_examples=scaled_examples(0.25))
    @given(bad=faulty_objects(target.id, marker, single))
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
                             rule=claims.UNKNOWN_DEVICE_IS_404, why=f"{device_id!r} names no device",
                             unknown_device=device_id))
