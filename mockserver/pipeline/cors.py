"""CORS for browser dashboards (the documentation's first use case): ``DIAGS_CORS_ORIGINS``.

Off unless origins are configured. An allowed origin (``*`` allows any) gets
``Access-Control-Allow-Origin`` on every answer, errors included, and its preflight ``OPTIONS``
is answered 204 before authentication (browsers send no token with a preflight). Other
origins get no CORS headers, which is how a browser learns they are refused.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

ANY_ORIGIN = "*"
ALLOWED_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
#: Headers a page may read besides the simple ones: the 401 challenge, the time-out's retry hint, 405's Allow.
EXPOSED_HEADERS = "WWW-Authenticate, Retry-After, Allow"
PREFLIGHT_MAX_AGE_SECONDS = 600


def allowed_origin(origin: str | None, allowed: list[str]) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``, or None if it is not allowed."""
    if not origin or not allowed:
        return None
    if ANY_ORIGIN in allowed:
        return ANY_ORIGIN
    return origin if origin in allowed else None


def _origin() -> str | None:
    allowed = list(current_app.config.get("DIAGS_CORS_ORIGINS") or [])
    return allowed_origin(request.headers.get("Origin"), allowed)


def _preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    origin = _origin()
    if origin is None:
        return None
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", ALLOWED_HEADERS)
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response


def _add_headers(response: Response) -> Response:
    origin = _origin()
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if origin != ANY_ORIGIN:
            response.vary.add("Origin")
    return response


def init_app(app: Flask) -> None:
    """Answer preflights (before authentication: a preflight carries no token) and label answers.

    Only with ``DIAGS_CORS_ORIGINS`` set: without an allowed origin the hooks would do nothing, at a cost.
    """
    if not app.config.get("DIAGS_CORS_ORIGINS"):
        return
    app.before_request_funcs.setdefault(None, []).insert(0, _preflight)
    app.after_request(_add_headers)
