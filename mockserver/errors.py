"""Turns every failure into the mock's JSON error body: API errors, routing errors and crashes.

Nothing reaches a client as an HTML page or a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from .responses import ApiError, error_response

log = logging.getLogger(__name__)

_DETAILS = {
    404: "No such route: {path}. The API lives under /api/v1/inventory_device_diags/.",
    405: "Method {method} is not allowed on {path}.",
}


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if isinstance(error, RequestEntityTooLarge):
        limit = request.max_content_length
        detail = f"The request body is over the limit of {limit} bytes."
    elif status in _DETAILS:
        detail = _DETAILS[status].format(path=request.path, method=request.method)
    else:
        detail = error.description or error.name
    return error_response(status, detail, headers=headers)


def _api_error(error: ApiError) -> Response:
    return error.response()


def _crash(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "Internal server error in the mock; see the server log.")


def init_app(app: Flask) -> None:
    """Register the handlers that keep every error a JSON body."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _crash)
