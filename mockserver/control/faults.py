"""Injected faults: a slow, failing or broken mock on purpose, repeatable for a seed.

A fault is scoped by ``method`` and ``path`` (``"*"`` for any; a path ending in ``*`` is a prefix;
a trailing slash does not matter) and does one or more of:

- ``latency_ms`` (with ``latency_max_ms``: a random latency between the two) before answering;
- ``status``: answer that error status with the mock's error body instead of the real answer;
- ``drop``: close the connection before the answer is complete (nothing is written);
- ``helper_error``: ``update_status=true`` answers the documented 500 of a broken diagnostic
  helper configuration (consulted only by requests that ask for a refresh).

``rate`` (default 1) is the chance that a matching request triggers the fault, ``times`` how many
times it may trigger before it is removed. Whether the n-th matching request triggers depends only
on the seed, the fault's definition and n, so a test that uses a fault is repeatable. Admin routes
are never faulted. Faults never write to the store: a faulted request is answered before its view
runs, so nothing is half-written.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Request
from werkzeug.exceptions import HTTPException

import schemas

from ..core.config import ADMIN_PREFIX
from ..core.deadline import wait_within_deadline
from ..core.responses import error_body
from ..core.wsgi import FAULTS_KEY, HELPER_FAULT_KEY, Handler, Reply, faults_triggered, read_request_body
from ..services import services_of
from ..storage.base import ANY, FIELDS, Fault, FaultBook

#: The schema of one fault definition (``schemas/admin-fault.schema.json``).
FAULT_SCHEMA = "admin-fault"
MESSAGE_LIMIT = 300
#: Schema keywords that say how the fields of a fault go together (``parse_fault`` explains those itself).
COMBINED_RULES = frozenset({"not", "if", "then", "else", "anyOf", "allOf", "oneOf"})


class FaultError(ValueError):
    """A fault definition that cannot be used; ``errors`` names each bad field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))
        self.errors = errors


def schema_errors(schema: str, document: Any, combined: bool = True) -> dict[str, list[str]]:
    """Each way ``document`` breaks the admin API's schema ``schema``, by field (``body``: the whole).

    Without ``combined``, only what each field is on its own: not the rules of how fields go together.
    """
    errors: dict[str, list[str]] = defaultdict(list)
    for error in schemas.validator(schema).iter_errors(document):
        if not combined and error.schema_path and error.schema_path[0] in COMBINED_RULES:
            continue
        field = str(error.absolute_path[0]) if error.absolute_path else "body"
        errors[field].append(f"{error.json_path}: {error.message}"[:MESSAGE_LIMIT])
    return dict(errors)


def parse_fault(raw: Any) -> Fault:
    """Check one fault against its schema, then its fields together; ``FaultError`` names each bad field."""
    errors = schema_errors(FAULT_SCHEMA, raw, combined=False)
    if not errors:
        # How the fields go together, as the schema says (but naming the field at fault), and what it
        # cannot say: that latency_max_ms is at least latency_ms.
        latency, latency_max = raw.get("latency_ms", 0), raw.get("latency_max_ms")
        if latency_max is not None and latency_max < latency:
            errors["latency_max_ms"] = ["Must be at least latency_ms."]
        elif raw.get("drop") and raw.get("status") is not None:
            errors["drop"] = ["Give either drop or status, not both."]
        elif raw.get("helper_error") and (raw.get("drop") or raw.get("status") is not None
                                          or raw.get("latency_ms") or raw.get("latency_max_ms")):
            errors["helper_error"] = ["A helper_error fault does nothing else; add another fault for that."]
        elif not (raw.get("latency_ms") or raw.get("latency_max_ms") or raw.get("status") is not None
                  or raw.get("drop") or raw.get("helper_error")):
            errors["body"] = ["The fault does nothing: give latency_ms, status, drop or helper_error."]
    if errors:
        raise FaultError(errors)
    fields = {name: raw[name] for name in FIELDS if name in raw}
    for name, value in fields.items():
        if isinstance(value, float) and name != "rate":
            fields[name] = int(value)  # JSON Schema's integers include 5.0
    fields["method"] = fields.get("method", ANY).upper()
    fields["rate"] = float(fields.get("rate", 1.0))
    return Fault(**fields)


def parse_faults(raw: Any) -> list[Fault]:
    """A fault, a list of them, or ``{"faults": [...]}`` (the start-up file's format)."""
    if isinstance(raw, dict) and set(raw) == {"faults"}:
        raw = raw["faults"]
    items = raw if isinstance(raw, list) else [raw]
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_fault(item))
        except FaultError as error:
            if not isinstance(raw, list):
                raise
            raise FaultError({f"[{index}].{name}": messages
                              for name, messages in error.errors.items()}) from None
    return parsed


def _read_body(request: Request) -> None:
    # The view will not run, yet the journal should show what the client sent; the limits still apply.
    with contextlib.suppress(HTTPException, OSError):
        read_request_body(request)


def _helper_fault_of(faults: FaultBook, request: Request, seed: int) -> Callable[[], str | None]:
    """What the resource asks when it refreshes statuses: a fault that breaks the helpers, if one triggers."""

    def helper_fault() -> str | None:
        outcome = faults.outcome(request.method, request.path, seed, helpers=True)
        if not outcome.triggered:
            return None
        environ = request.environ
        environ[FAULTS_KEY] = [*faults_triggered(environ), *outcome.triggered]
        return outcome.triggered[0]

    return helper_fault


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Apply the faults that trigger for a request (after authentication and limits, outside the gate)."""
    services = services_of(app)
    faults = services.faults

    def with_faults(request: Request) -> Reply:
        if not faults.armed() or request.path.startswith(ADMIN_PREFIX) or request.method == "OPTIONS":
            return next_handler(request)
        environ = request.environ
        environ[HELPER_FAULT_KEY] = _helper_fault_of(faults, request, services.seed)
        outcome = faults.outcome(request.method, request.path, services.seed)
        if not outcome.triggered:
            return next_handler(request)
        environ[FAULTS_KEY] = outcome.triggered
        if outcome.latency_ms:
            wait_within_deadline(outcome.latency_ms / 1000)
        if outcome.drop or outcome.status is not None:
            _read_body(request)
        if outcome.drop:
            # The answer keeps its headers and loses its body: the connection closes with it incomplete.
            return Reply(200, b"{}", dropped=True)
        if outcome.status is not None:
            detail = f"Injected fault {outcome.cause}: status {outcome.status}."
            return Reply(outcome.status, orjson.dumps(error_body(detail)))
        return next_handler(request)

    return with_faults


def init_app(app: Flask) -> None:
    """Add the start-up faults (``DIAGS_FAULTS``) to the app's fault book; ``stage`` applies the faults.

    Not when the serving process already put them in the shared database for all its workers
    (``DIAGS_DB_PREPARED``).
    """
    services = services_of(app)
    startup = parse_faults(app.config.get("DIAGS_FAULTS") or [])
    if startup and not (services.database is not None and app.config.get("DIAGS_DB_PREPARED")):
        services.faults.add(startup)
