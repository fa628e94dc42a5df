"""Asking the mock about its data before loading it: the record count, a busy device, answer sizes."""

from __future__ import annotations

from typing import Any

import orjson

from .servers import AUTH_HEADERS, get
from .workloads import RESOURCE, Call, DataShape, Workload


def json_field(raw: bytes, key: str) -> Any:
    """``key`` of a JSON object answer."""
    return orjson.loads(raw)[key]


def discover(port: int) -> DataShape:
    """How many records there are, and the busiest device on the first page."""
    _, raw = get(port, f"{RESOURCE}?limit=0", AUTH_HEADERS)
    count = int(json_field(raw, "count"))
    _, first_page = get(port, RESOURCE, AUTH_HEADERS)
    devices = dict.fromkeys(record["device_id"] for record in json_field(first_page, "results"))
    sizes = {
        device: int(json_field(get(port, f"{RESOURCE}?limit=0&id={device}", AUTH_HEADERS)[1], "count"))
        for device in devices
    }
    return DataShape(count=count, busy_device=max(sizes, key=lambda device: sizes[device]))


def answer_sizes(port: int, workloads: list[Workload]) -> dict[Call, int]:
    """The length of the mock's answer to every call (the bare app answers as many bytes)."""
    sizes: dict[Call, int] = {}
    for call in (call for workload in workloads for call in workload.calls):
        if call not in sizes:
            status, body = get(port, call.target, AUTH_HEADERS, call.method, call.body or None)
            if status not in call.expected:
                raise RuntimeError(f"{call.method} {call.target} answered {status}: {body[:300]!r}")
            sizes[call] = len(body)
    return sizes
