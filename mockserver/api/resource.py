"""The one resource: ``GET`` and ``POST /api/v1/inventory_device_diags/``.

Results come in the order the records were stored (the data's own order, then each POST), not
by date. Authentication has already happened (``auth``); errors are raised as ``ApiError`` and
rendered by ``errors``.
``list_page`` and ``create`` are the whole of each answer: the Flask views below call them, and
so does the pipeline's router, which calls them directly (``pipeline.router``), without Flask's
per-request machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import orjson
from flask import Blueprint, Request, Response, current_app, request

from ..core.config import API_PREFIX, PATH_SAFE
from ..core.responses import ApiError, json_bytes_response, not_found
from ..core.timestamps import format_timestamp
from ..core.wsgi import helper_fault, read_request_body
from ..services import Services, services_of
from ..storage.base import Device, Record
from . import diagnostics
from .payload import FORM_TYPES, checked_body
from .query import ListQuery, ignored_parameters, page_links, parse_list_query

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

RESOURCE = "/inventory_device_diags/"

#: (mock) Names the query parameters a GET ignored, so that a typo such as ``device_id=`` is noticed.
IGNORED_PARAMETERS_HEADER = "X-Diags-Ignored-Parameters"
MAX_IGNORED_SHOWN = 20

#: What ``status`` a new record gets when the client sends none.
DEFAULT_STATUS = {"health_check": "ok", "maintenance": "scheduled", "issue_report": "open"}
FALLBACK_STATUS = "open"
#: Encoded pages kept at most (``Services.pages``), each of at most the maximum page size.
KEPT_PAGES = 64


def _refresh(services: Services, query: ListQuery, broken_by: str | None) -> None:
    try:
        if broken_by is not None:
            raise diagnostics.HelperConfigError(f"injected fault {broken_by} breaks it")
        setup = diagnostics.parse_config(services.helper_config)
    except diagnostics.HelperConfigError as error:
        raise ApiError(500, f"Diagnostic helper configuration is broken: {error}.") from None
    _, page = services.store.page(query.device_id, query.offset, query.limit)
    devices = [record["device_id"] for record in page]
    diagnostics.refresh_devices(services.store, devices, setup, services.seed, services.clock())


def ignored_parameter_headers(req: Request) -> dict[str, str]:
    """(mock) A GET's header naming the query parameters the API does not have, which it ignored."""
    if not req.query_string:
        return {}  # and the query need not be parsed
    ignored = ignored_parameters(req.args)
    if not ignored:
        return {}
    # Percent-encoded: a decoded name could hold a line break, which must not reach a header.
    shown = ", ".join(quote(name, safe="") for name in ignored[:MAX_IGNORED_SHOWN])
    return {IGNORED_PARAMETERS_HEADER: shown + (", ..." if len(ignored) > MAX_IGNORED_SHOWN else "")}


@lru_cache(maxsize=64)
def _encoded_path(path: str) -> str:
    return quote(path, safe=PATH_SAFE)


def base_url(req: Request) -> str:
    """The request's URL without its query string, percent-encoded."""
    # Werkzeug's ``request.base_url`` also converts the URL to an IRI, which costs more than the whole page.
    return f"{req.scheme}://{req.host}{_encoded_path(req.root_path + req.path)}"


def list_page(services: Services, config: Mapping[str, Any], req: Request) -> bytes:
    """The answer to ``GET``: a page of the records the query asks for, as JSON.

    A refresh (``update_status=true``) asks the request whether an injected fault breaks the helpers.
    Any other page is a function of the URL, the query string, the page sizes and the stored data: with
    a store that says when its data changes (``Store.version``), it is kept until then.
    """
    store = services.store
    version = store.version()
    if version is not None:
        key = (base_url(req), req.query_string, config["DIAGS_PAGE_SIZE"], config["DIAGS_MAX_PAGE_SIZE"])
        kept = services.pages.get(key)
        if kept is not None and kept[0] == version:
            return kept[1]
    args = req.args
    query = parse_list_query(args, config["DIAGS_PAGE_SIZE"], config["DIAGS_MAX_PAGE_SIZE"])
    if query.device_id is not None and store.device(query.device_id) is None:
        raise not_found(f"No device with id {query.device_id!r} in the inventory.")
    if query.update_status:
        _refresh(services, query, helper_fault(req.environ))
    count, results = store.page_json(query.device_id, query.offset, query.limit)
    next_url, previous_url = page_links(base_url(req), list(args.items(multi=True)), query, count)
    # The stored records are JSON already: they go into the page as they are, not parsed and re-written.
    page = [orjson.Fragment(result) for result in results]
    body = orjson.dumps({"count": count, "next": next_url, "previous": previous_url, "results": page})
    # Kept only if the data did not change meanwhile; never a refresh's (it writes, and faults may break it).
    if version is not None and not query.update_status and store.version() == version:
        if len(services.pages) >= KEPT_PAGES:
            services.pages.clear()
        services.pages[key] = (version, body)
    return body


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


def create(services: Services, config: Mapping[str, Any], req: Request) -> bytes:
    """The answer to ``POST``: the record stored for the request's body, as JSON."""
    mimetype = req.mimetype
    fields = checked_body(
        mimetype,
        read_request_body(req),
        # Parsing a form costs a JSON request a tenth of its time, and finds nothing there.
        req.form if mimetype in FORM_TYPES else {},
        config["DIAGS_MAX_JSON_DEPTH"],
    )
    device = services.store.device(fields["device_id"])
    if device is None:
        raise not_found(f"No device with id {fields['device_id']!r} in the inventory.")
    moment = services.clock()
    record = new_record(fields, device, format_timestamp(moment))
    if record["diagnostic_type"] == diagnostics.HEALTH_CHECK:
        record["next_check_due"] = format_timestamp(moment + diagnostics.CHECK_INTERVAL)
    return orjson.dumps(services.store.create(record))


@bp.get(RESOURCE, strict_slashes=False, provide_automatic_options=False)
def list_diagnostics() -> Response:
    response = json_bytes_response(list_page(services_of(current_app), current_app.config, request))
    response.headers.update(ignored_parameter_headers(request))
    return response


@bp.post(RESOURCE, strict_slashes=False, provide_automatic_options=False)
def create_diagnostic() -> Response:
    return json_bytes_response(create(services_of(current_app), current_app.config, request), status=201)
