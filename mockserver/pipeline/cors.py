"""CORS for browser dashboards (the documentation's first use case): ``DIAGS_CORS_ORIGINS``.

Off unless origins are configured. An allowed origin (``*`` allows any) gets
``Access-Control-Allow-Origin`` on every answer, errors included, and its preflight ``OPTIONS``
is answered 204 before authentication (browsers send no token with a preflight). Other
origins get no CORS headers, which is how a browser learns they are refused.
"""

from __future__ import annotations

from flask import Flask, Request

from ..core.wsgi import Handler, Reply

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


def _with_vary_origin(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    vary = [value for name, value in headers if name.lower() == "vary"]
    if any("origin" in value.lower() for value in vary):
        return headers
    others = [(name, value) for name, value in headers if name.lower() != "vary"]
    return [*others, ("Vary", ", ".join([*vary, "Origin"]))]


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Answer preflights (before authentication: a preflight carries no token) and label answers.

    Only with ``DIAGS_CORS_ORIGINS`` set: without an allowed origin the stage would do nothing, at a cost.
    """
    if not app.config.get("DIAGS_CORS_ORIGINS"):
        return next_handler
    config = app.config

    def with_cors(request: Request) -> Reply:
        origin = allowed_origin(request.headers.get("Origin"), list(config.get("DIAGS_CORS_ORIGINS") or []))
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if origin is not None and preflight:
            reply = Reply(204, b"", [
                ("Access-Control-Allow-Methods", ALLOWED_METHODS),
                ("Access-Control-Allow-Headers",
                 request.headers.get("Access-Control-Request-Headers", ALLOWED_HEADERS)),
                ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_SECONDS)),
            ])
        else:
            reply = next_handler(request)
        if origin is not None:
            reply.headers += [("Access-Control-Allow-Origin", origin),
                              ("Access-Control-Expose-Headers", EXPOSED_HEADERS)]
            if origin != ANY_ORIGIN:
                reply.headers = _with_vary_origin(reply.headers)
        return reply

    return with_cors
