"""The one resource: ``GET`` and ``POST /api/v1/inventory_device_diags/``.

Results are ordered by creation (the order the ids were assigned), oldest first. Authentication
has already happened (``auth``); errors are raised as ``ApiError`` and rendered by ``errors``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from . import diagnostics, faults
from .config import API_PREFIX
from .payload import checked_body
from .query import ListQuery, page_links, parse_list_query
from .responses import ApiError, json_response, not_found
from .services import Services, services
from .store import Device, Record
from .timestamps import format_timestamp

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

RESOURCE = "/inventory_device_diags/"

#: What ``status`` a new record gets when the client sends none.
DEFAULT_STATUS = {"health_check": "ok", "maintenance": "scheduled", "issue_report": "open"}
FALLBACK_STATUS = "open"


def _refresh(found: Services, query: ListQuery) -> None:
    broken_by = faults.helper_fault()
    try:
        if broken_by is not None:
            raise diagnostics.HelperConfigError(f"injected fault {broken_by} breaks it")
        setup = diagnostics.parse_config(found.helper_config)
    except diagnostics.HelperConfigError as error:
        raise ApiError(500, f"Diagnostic helper configuration is broken: {error}.") from None
    _, page = found.store.page(query.device_id, query.offset, query.limit)
    devices = [record["device_id"] for record in page]
    diagnostics.refresh_devices(found.store, devices, setup, found.seed, found.clock())


@bp.get(RESOURCE, strict_slashes=False)
def list_diagnostics() -> Response:
    config = current_app.config
    query = parse_list_query(request.args, config["DIAGS_PAGE_SIZE"], config["DIAGS_MAX_PAGE_SIZE"])
    found = services()
    if query.device_id is not None and found.store.device(query.device_id) is None:
        raise not_found(f"No device with id {query.device_id!r} in the inventory.")
    if query.update_status:
        _refresh(found, query)
    count, results = found.store.page(query.device_id, query.offset, query.limit)
    next_url, previous_url = page_links(request.base_url, list(request.args.items(multi=True)), query, count)
    return json_response({"count": count, "next": next_url, "previous": previous_url, "results": results})


def new_record(fields: dict[str, Any], device: Device, now: str) -> Record:
    """The record to store for a checked POST body: the client's fields in place, the server's around them."""
    diagnostic_type = fields["diagnostic_type"]
    record: Record = {
        "device_id": device["id"],
        "device_name": device["name"],
        "device_serial": device["serial"],
        "diagnostic_type": diagnostic_type,
        "status": DEFAULT_STATUS.get(diagnostic_type, FALLBACK_STATUS),
        "details": {},
        "issues": [],
    }
    record.update(fields)
    record["created_at"] = now
    record["updated_at"] = now
    record["next_check_due"] = None
    return record


@bp.post(RESOURCE, strict_slashes=False)
def create_diagnostic() -> Response:
    found = services()
    fields = checked_body(
        request.mimetype,
        request.get_data(cache=True),
        request.form,
        current_app.config["DIAGS_MAX_JSON_DEPTH"],
    )
    device = found.store.device(fields["device_id"])
    if device is None:
        raise not_found(f"No device with id {fields['device_id']!r} in the inventory.")
    moment = found.clock()
    record = new_record(fields, device, format_timestamp(moment))
    if record["diagnostic_type"] == diagnostics.HEALTH_CHECK:
        record["next_check_due"] = format_timestamp(moment + diagnostics.CHECK_INTERVAL)
    return json_response(found.store.create(record), status=201)
