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
from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Request, current_app
from werkzeug.exceptions import HTTPException

from ..core.config import ADMIN_PREFIX
from ..core.deadline import wait_within_deadline
from ..core.responses import error_body
from ..core.wsgi import FAULTS_KEY, HELPER_FAULT_KEY, Handler, Reply, faults_triggered, read_request_body
from ..services import services_of
from ..storage.base import ANY, FIELDS, Fault, FaultBook
from ..storage.startup import open_fault_book

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MAX_LATENCY_MS = 60_000
EXTENSION = "diags.faults"


class FaultError(ValueError):
    """A fault definition that cannot be used; ``errors`` names each bad field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))
        self.errors = errors


def _integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_scope(raw: dict[str, Any], errors: dict[str, list[str]]) -> None:
    method = raw.get("method", ANY)
    if not isinstance(method, str) or (method.upper() not in METHODS and method != ANY):
        errors["method"] = [f"Must be one of {', '.join(sorted(METHODS))} or '*'."]
    path = raw.get("path", ANY)
    if not isinstance(path, str) or not (path == ANY or path.startswith("/")):
        errors["path"] = ["Must be '*' or a path starting with '/' (end it with '*' for a prefix)."]
    elif path.startswith(ADMIN_PREFIX):
        errors["path"] = ["The admin API cannot be faulted."]


def _check_effects(raw: dict[str, Any], errors: dict[str, list[str]]) -> None:
    latency, latency_max = raw.get("latency_ms", 0), raw.get("latency_max_ms")
    if not _integer(latency, 0, MAX_LATENCY_MS):
        errors["latency_ms"] = [f"Must be an integer from 0 to {MAX_LATENCY_MS}."]
    if latency_max is not None and not (_integer(latency_max, 0, MAX_LATENCY_MS)
                                        and _integer(latency, 0, latency_max)):
        errors["latency_max_ms"] = [f"Must be an integer from latency_ms to {MAX_LATENCY_MS}."]
    status = raw.get("status")
    if status is not None and not _integer(status, 400, 599):
        errors["status"] = ["Must be an error status from 400 to 599."]
    rate = raw.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        errors["rate"] = ["Must be a number from 0 to 1."]
    for name in ("drop", "helper_error"):
        if not isinstance(raw.get(name, False), bool):
            errors[name] = ["Must be true or false."]
    times, seed = raw.get("times"), raw.get("seed")
    if times is not None and not _integer(times, 1, 2**62):
        errors["times"] = ["Must be a positive integer, or null for no limit."]
    if seed is not None and not _integer(seed, -(2**62), 2**62):
        errors["seed"] = ["Must be an integer, or null for the server's seed."]


def parse_fault(raw: Any) -> Fault:
    """Check one fault definition (a JSON object); raise ``FaultError`` naming every bad field."""
    if not isinstance(raw, dict):
        raise FaultError({"body": ["A fault is a JSON object."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - set(FIELDS) - {"id"})
    if unknown:
        errors["body"] = [f"Unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}."]
    _check_scope(raw, errors)
    _check_effects(raw, errors)
    if not errors:
        if raw.get("drop") and raw.get("status") is not None:
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


def book(app: Flask | None = None) -> FaultBook:
    """The fault book of ``app`` (by default, of the request's app)."""
    kept: FaultBook = (app or current_app).extensions[EXTENSION]
    return kept


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
    faults, services = book(app), services_of(app)

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
    """Attach the fault book (shared when the store is a database); ``stage`` applies the faults.

    The start-up faults (``DIAGS_FAULTS``) are added here, unless the serving process already put
    them in the shared database for all its workers (``DIAGS_DB_PREPARED``).
    """
    database = services_of(app).database
    faults = open_fault_book(database)
    app.extensions[EXTENSION] = faults
    startup = parse_faults(app.config.get("DIAGS_FAULTS") or [])
    if startup and not (database is not None and app.config.get("DIAGS_DB_PREPARED")):
        faults.add(startup)
