"""The proxy's admin API: ``GET /__admin/violations`` lists what the proxy found, ``DELETE`` clears it.

Same rule as the mock's admin API: with an admin token, only ``Authorization: Bearer <admin token>``
gets in; without one, anybody, but only when the proxy is bound to a loopback address (404 otherwise).
``GET /__admin/health`` is always open.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request

from mockserver.control.admin import is_loopback
from mockserver.core.responses import ApiError, json_response, not_found, unauthorized

from .violations import Ledger

bp = Blueprint("proxy_admin", __name__, url_prefix="/__admin")


@bp.before_request
def _gate() -> None:
    if request.endpoint == "proxy_admin.health":
        return
    token = current_app.config["PROXY_ADMIN_TOKEN"]
    if token:
        scheme, _, sent = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
            raise unauthorized("the proxy's admin API needs 'Authorization: Bearer <admin token>'")
    elif not is_loopback(current_app.config["PROXY_HOST"]):
        raise not_found("the admin API is off: the proxy is not bound to loopback and has no --admin-token")


@bp.errorhandler(ApiError)
def _error(error: ApiError) -> Response:
    return error.response()


def _ledger() -> Ledger:
    ledger: Ledger = current_app.extensions["proxy.ledger"]
    return ledger


@bp.get("/health")
def health() -> Response:
    """Always open: orchestrators and tests wait for it."""
    return json_response({"status": "ok"})


@bp.get("/violations")
def violations() -> Response:
    return json_response(_ledger().snapshot())


@bp.delete("/violations")
def clear_violations() -> Response:
    _ledger().clear()
    return json_response({"count": 0, "violations": []})
