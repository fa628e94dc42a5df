"""Strict mode (``serve --strict``, config ``DIAGS_STRICT``): every API response checked against ``schemas/``.

For debugging the mock itself: a response whose status the OpenAPI document does not give the
operation, or whose body violates the status's schema (the mock's own error shape, not the lenient
one a real server is held to), is replaced by a loud 500
``{"detail": "strict mode: response violates <schema>: <reason>"}`` and logged. Error answers off
the documented operations (unknown routes, other methods) are held to the mock's error shape too,
and so are errors an injected fault (``faults``) answers with on purpose, whatever their status; a
dropped connection sends no body to check. The documentation pages are not API responses.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Flask, Request
from jsonschema.exceptions import best_match
from werkzeug.exceptions import HTTPException

import schemas

from ..core.config import is_api_path
from ..core.responses import JSON_MIMETYPE, ApiError
from ..core.wsgi import Handler, Reply, faults_triggered

log = logging.getLogger(__name__)

CHECKED_METHODS = ("GET", "POST")
#: Blueprints whose answers are not API responses.
SKIPPED_BLUEPRINTS = frozenset({"docs"})
REASON_LIMIT = 500


class Violation(Exception):
    """A response the schemas do not allow: which schema, and why."""

    def __init__(self, schema: str, reason: str) -> None:
        super().__init__(f"{schema}: {reason}")
        self.schema = schema
        self.reason = reason


def _operation_label(method: str) -> str:
    return f"the {method} {schemas.RESOURCE_PATH} responses"


def schema_for(method: str, endpoint_is_resource: bool, status: int) -> str | None:
    """The schema a response must match; ``None`` when it is not checked. Raises ``Violation``."""
    if endpoint_is_resource and method in CHECKED_METHODS:
        documented = schemas.documented_statuses(method, include_mock=True)
        if status not in documented:
            raise Violation(_operation_label(method), f"status {status} is not documented")
        return schemas.response_schema(method, status, strict=True)
    if status >= 400:
        return schemas.STRICT_ERROR
    return None


def check_body(schema: str, mimetype: str, body: bytes) -> None:
    """Raise ``Violation`` unless ``body`` is JSON that ``schema`` accepts."""
    if mimetype != JSON_MIMETYPE:
        raise Violation(schema, f"Content-Type is {mimetype!r}, not {JSON_MIMETYPE}")
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as not_json:
        raise Violation(schema, f"the body is not JSON ({not_json})") from None
    error = best_match(schemas.validator(schema).iter_errors(document))
    if error is not None:
        raise Violation(schema, f"at {error.json_path}: {error.message}")


def verdict(method: str, path: str, endpoint_is_resource: bool, status: int, mimetype: str,
            body: bytes) -> ApiError | None:
    """The logged 500 that replaces a response the schemas do not allow; ``None`` if they allow it."""
    try:
        schema = schema_for(method, endpoint_is_resource, status)
        if schema is not None:
            check_body(schema, mimetype, body)
    except Violation as violation:
        reason = violation.reason[:REASON_LIMIT]
        log.error("strict mode: %s %s answered %s, which violates %s: %s",
                  method, path, status, violation.schema, reason)
        return ApiError(500, f"strict mode: response violates {violation.schema}: {reason}")
    return None


def _blueprint(app: Flask, request: Request) -> str | None:
    """The blueprint whose view answers ``request`` (as Flask's ``request.blueprint``), if any."""
    try:
        endpoint, _ = app.url_map.bind_to_environ(request.environ).match(method=request.method)
    except HTTPException:
        return None
    return str(endpoint).rpartition(".")[0] or None


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Check every API answer when ``DIAGS_STRICT`` is true (read per request, so tests can flip it)."""
    config = app.config

    def checked(request: Request) -> Reply:
        reply = next_handler(request)
        if (not config.get("DIAGS_STRICT") or not is_api_path(request.path) or reply.dropped
                or request.method in ("HEAD", "OPTIONS")):
            return reply
        blueprint = _blueprint(app, request)
        if blueprint in SKIPPED_BLUEPRINTS:
            return reply
        injected_error = bool(faults_triggered(request.environ)) and reply.status >= 400
        endpoint_is_resource = blueprint == "api" and not injected_error
        replacement = verdict(request.method, request.path, endpoint_is_resource, reply.status,
                              reply.mimetype(), reply.body)
        return reply if replacement is None else replacement.reply()

    return checked
