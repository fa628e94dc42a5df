"""What the benchmark sends: workloads made of weighted calls, and their twins for the bare app.

A ``Workload`` is a list of ``Call``s picked at random by weight (a single call for all but the
mix). ``bare_twin`` maps every call onto the bare app's ``/bare/<size>`` with the size of the
mock's answer to it, so the yardstick answers the same number of bytes to the same methods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import schemas

RESOURCE = "/api/v1/inventory_device_diags/"
PAGE = 20

#: The API documentation's example request body for a POST, as the OpenAPI document quotes it.
DOCUMENTED_POST = schemas.openapi()["paths"]["/inventory_device_diags/"]["post"]["requestBody"]["content"][
    "application/json"
]["examples"]["issue_report"]["value"]


@dataclass(frozen=True)
class Call:
    """One HTTP request of a workload: ``target`` is the path and query."""

    method: str
    target: str
    body: bytes = b""
    expected: tuple[int, ...] = (200,)
    weight: int = 1


@dataclass(frozen=True)
class Workload:
    """A named request mix; ``kind`` (read, write or mix) decides which target applies."""

    name: str
    kind: str
    calls: tuple[Call, ...]

    @property
    def expected(self) -> tuple[int, ...]:
        return tuple(sorted({status for call in self.calls for status in call.expected}))


@dataclass(frozen=True)
class DataShape:
    """What the workloads need to know about the served data."""

    count: int
    busy_device: str


def list_call(weight: int = 1, **params: str | int) -> Call:
    query = urlencode(params)
    return Call("GET", f"{RESOURCE}?{query}" if query else RESOURCE, weight=weight)


def post_call(weight: int = 1) -> Call:
    body = json.dumps(DOCUMENTED_POST).encode()
    return Call("POST", RESOURCE, body=body, expected=(201,), weight=weight)


def build_workloads(shape: DataShape) -> list[Workload]:
    """Every workload, reads first: writes grow the store the later ones read."""
    deep = max(shape.count - PAGE, 0)
    first = list_call()
    filtered = list_call(id=shape.busy_device)
    deep_page = list_call(offset=deep)
    return [
        Workload("one record (limit=1)", "read", (list_call(limit=1),)),
        Workload("first page (20)", "read", (first,)),
        Workload("filtered by device", "read", (filtered,)),
        Workload(f"deep page (offset {deep})", "read", (deep_page,)),
        Workload(
            "update_status=true (one device)",
            "write",
            (list_call(id=shape.busy_device, update_status="true"),),
        ),
        Workload("POST (documented body)", "write", (post_call(),)),
        Workload(
            "mix 90% reads / 10% writes",
            "mix",
            (
                replace(first, weight=30),
                replace(filtered, weight=30),
                replace(deep_page, weight=30),
                post_call(weight=10),
            ),
        ),
    ]


def bare_twin(workload: Workload, sizes: dict[Call, int]) -> Workload:
    """The same workload against the bare app: each call answered with as many bytes as the mock's."""
    calls = tuple(
        Call(call.method, f"/bare/{sizes[call]}", body=call.body, expected=(200,), weight=call.weight)
        for call in workload.calls
    )
    return Workload(workload.name, workload.kind, calls)
