"""Turns every failure into the mock's JSON error body: API errors, routing errors and crashes.

Nothing reaches a client as an HTML page or a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from ..core.responses import ApiError, unavailable
from ..storage.memory import StoreBusy

log = logging.getLogger(__name__)

_DETAILS = {
    404: "No such route: {path}. The API lives under /api/v1/inventory_device_diags/.",
    405: "Method {method} is not allowed on {path}.",
}


def from_http_error(error: HTTPException, req: Request) -> ApiError:
    """The mock's answer to one of Werkzeug's HTTP errors (a routing error, a 413, a client gone)."""
    status = error.code or 500
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if isinstance(error, RequestEntityTooLarge):
        detail = f"The request body is over the limit of {req.max_content_length} bytes."
    elif status in _DETAILS:
        detail = _DETAILS[status].format(path=req.path, method=req.method)
    else:
        detail = error.description or error.name
    return ApiError(status, detail, headers=headers)


def _http_error(error: HTTPException) -> Response:
    return from_http_error(error, request).response()


def _api_error(error: ApiError) -> Response:
    return error.response()


def _store_busy(error: StoreBusy) -> Response:
    # Outside a request's deadline (time-out off, or the journal's and faults' own writes).
    return unavailable(f"Another worker held the database's lock for {error.waited:g} s; nothing was "
                       "changed. Retry later.").response()


def crash(method: str, path: str) -> ApiError:
    """The 500 of an unexpected exception, which is logged here with its traceback (call it in ``except``)."""
    log.exception("unhandled error on %s %s", method, path)
    return ApiError(500, "Internal server error in the mock; see the server log.")


def _crash(error: Exception) -> Response:
    return crash(request.method, request.path).response()


def init_app(app: Flask) -> None:
    """Register the handlers that keep every error a JSON body."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreBusy, _store_busy)
    app.register_error_handler(Exception, _crash)
