"""The authentication stage: a bearer token on every API route, checked before anything else.

docs/contract.md: a missing header, another scheme, an empty token or an unknown token is a 401,
even when the request is also malformed or names an unknown route (``core.bearer`` checks it).
"""

from __future__ import annotations

from flask import Flask, Request

from ..core.bearer import check_bearer
from ..core.config import is_api_path
from ..core.wsgi import Handler, Reply


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Check the bearer token of every request under the API prefix (documentation pages excepted)."""
    config = app.config

    def authenticate(request: Request) -> Reply:
        path = request.path
        # OPTIONS too: docs/contract.md wants the 401 on every request; the mock answers no CORS preflight.
        if is_api_path(path) and path not in config["DIAGS_PUBLIC_PATHS"]:
            check_bearer(request.environ.get("HTTP_AUTHORIZATION"), config["DIAGS_TOKENS"])
        return next_handler(request)

    return authenticate
