"""Bearer tokens: the one check of an ``Authorization`` header, for the API and the admin API alike.

docs/contract.md: a missing header, another scheme, an empty token or an unknown token is a 401.
"""

from __future__ import annotations

import hmac

from .responses import unauthorized

OTHER_SCHEMES = frozenset({"basic", "digest", "token", "negotiate", "ntlm", "hoba", "mutual", "dpop"})


def _known_token(candidate: str, tokens: list[str]) -> bool:
    # Compare against every token, in constant time, so timing says nothing about which one is close.
    known = False
    for token in tokens:
        known |= hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), token.encode())
    return known


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
