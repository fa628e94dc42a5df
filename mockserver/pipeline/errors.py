"""Turns every failure into the mock's JSON error body: API errors, routing errors and crashes.

Nothing reaches a client as an HTML page or a stack trace. The same answers come from two places:
the pipeline's ``stage``, for what its stages and the resource's views raise, and Flask's error
handlers (``init_app``), for what Flask's own routing and the admin and docs views raise.
"""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from ..core.responses import ApiError, unavailable
from ..core.wsgi import Handler, Reply
from ..storage.base import StoreBusy

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


def busy(error: StoreBusy) -> ApiError:
    """The 503 of a store that stayed locked, outside a request's deadline (time-out off, faults' writes)."""
    return unavailable(f"Another worker held the database's lock for {error.waited:g} s; nothing was "
                       "changed. Retry later.")


def _store_busy(error: StoreBusy) -> Response:
    return busy(error).response()


def crash(method: str, path: str) -> ApiError:
    """The 500 of an unexpected exception, which is logged here with its traceback (call it in ``except``)."""
    log.exception("unhandled error on %s %s", method, path)
    return ApiError(500, "Internal server error in the mock; see the server log.")


def _crash(error: Exception) -> Response:
    return crash(request.method, request.path).response()


def answer_for(failure: Exception, req: Request) -> ApiError:
    """The mock's answer to any exception raised while answering ``req``."""
    if isinstance(failure, ApiError):
        return failure
    if isinstance(failure, HTTPException):
        return from_http_error(failure, req)
    if isinstance(failure, StoreBusy):
        return busy(failure)
    return crash(req.method, req.path)


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Answer what the stages inside raise with the mock's JSON error (the outer ones see that answer)."""

    def answering_errors(req: Request) -> Reply:
        try:
            return next_handler(req)
        except Exception as failure:
            return answer_for(failure, req).reply()

    return answering_errors


def init_app(app: Flask) -> None:
    """Register the handlers that keep every error Flask itself catches a JSON body."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreBusy, _store_busy)
    app.register_error_handler(Exception, _crash)
