"""Bearer-token authentication of every API route, checked before anything else.

contract.md: a missing header, another scheme, an empty token or an unknown token is a 401,
even when the request is also malformed or names an unknown route.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from ..core.config import is_api_path
from ..core.responses import unauthorized

OTHER_SCHEMES = frozenset({"basic", "digest", "token", "negotiate", "ntlm", "hoba", "mutual", "dpop"})


def _known_token(candidate: str, tokens: list[str]) -> bool:
    # Compare against every token, in constant time, so timing says nothing about which one is close.
    found = False
    for token in tokens:
        found |= hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), token.encode())
    return found


def check_bearer(authorization: str | None, tokens: list[str]) -> None:
    """Raise the 401 ``ApiError`` unless ``authorization`` is ``Bearer <known token>``."""
    if not authorization:
        raise unauthorized(
            "Authentication credentials were not provided: send 'Authorization: Bearer <token>'."
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        # Only a standard scheme name is echoed: a bare token sent without a scheme must not come back.
        named = f" {scheme!r}" if scheme.lower() in OTHER_SCHEMES else ""
        raise unauthorized(f"Unsupported authorization scheme{named}: use 'Bearer <token>'.")
    token = token.strip()
    if not token:
        raise unauthorized("The bearer token is empty.")
    if not _known_token(token, tokens):
        raise unauthorized("Invalid API token.")


def _authenticate() -> None:
    path = request.path
    # OPTIONS too: contract.md wants the 401 on every request, and the mock answers no CORS preflight.
    if not is_api_path(path):
        return
    if path in current_app.config["DIAGS_PUBLIC_PATHS"]:
        return
    check_bearer(request.environ.get("HTTP_AUTHORIZATION"), current_app.config["DIAGS_TOKENS"])


def init_app(app: Flask) -> None:
    """Check the bearer token before every request under the API prefix (documentation pages excepted)."""
    app.before_request(_authenticate)
