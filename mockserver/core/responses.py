"""Every response the mock sends is built here: JSON bodies, error bodies, status codes.

Error bodies always have the shape ``{"detail": "...", "errors": {"field": ["..."]}}``
(``errors`` only on validation errors), as docs/contract.md fixes for the mock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from flask import Response

from .wsgi import JSON_HEADERS, Reply

JSON_MIMETYPE = "application/json"


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A response whose body is ``body`` serialized as JSON (fast, byte-stable)."""
    return Response(orjson.dumps(body), status=status, headers=dict(headers or {}), mimetype=JSON_MIMETYPE)


def json_bytes_response(payload: bytes, status: int = 200) -> Response:
    """A response whose body is ``payload``, JSON already."""
    return Response(payload, status=status, mimetype=JSON_MIMETYPE)


def error_body(detail: str, errors: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The mock's error body."""
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = {field: list(messages) for field, messages in errors.items()}
    return body


def error_response(
    status: int,
    detail: str,
    errors: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error answer with the mock's error body."""
    return json_response(error_body(detail, errors), status=status, headers=headers)


class ApiError(Exception):
    """Raised anywhere in a request to answer with an error body; turned into a response by the app."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def payload(self) -> bytes:
        """The error body, as JSON."""
        return orjson.dumps(error_body(self.detail, self.errors))

    def response(self) -> Response:
        return error_response(self.status, self.detail, self.errors, self.headers)

    def reply(self) -> Reply:
        """The error, as the pipeline's stages pass answers on."""
        return Reply(self.status, self.payload(), [*JSON_HEADERS, *(self.headers or {}).items()])


def json_reply(payload: bytes, status: int = 200) -> Reply:
    """An answer whose body is ``payload``, JSON already (the pipeline's ``json_bytes_response``)."""
    return Reply(status, payload, list(JSON_HEADERS))


#: Seconds a client is told to wait (``Retry-After``) before it tries a 503 again.
RETRY_AFTER_SECONDS = 1


def unavailable(detail: str) -> ApiError:
    """A 503 that asks the client to retry shortly (a time-out, a busy database, a reset under way)."""
    return ApiError(503, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def bad_request(detail: str, errors: Mapping[str, Sequence[str]] | None = None) -> ApiError:
    # docs/contract.md: every 400 is a validation error and names a field;
    # a body that cannot be read is "body".
    return ApiError(400, detail, errors or {"body": [detail]})


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def not_found(detail: str) -> ApiError:
    return ApiError(404, detail)


def unprocessable(detail: str, errors: Mapping[str, Sequence[str]]) -> ApiError:
    return ApiError(422, detail, errors)
