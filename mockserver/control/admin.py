"""The admin API under ``/__admin/``: reset the data, read the request journal, inject faults, list and
add devices.

Who may use it: with an admin token (``DIAGS_ADMIN_TOKEN``), requests that carry
``Authorization: Bearer <admin token>`` (API tokens are not admin tokens). Without one, anybody,
but only when the server is bound to a loopback address (``DIAGS_HOST``); bound elsewhere, the
admin API answers 404. ``GET /__admin/health`` is always open, for orchestrators.

A reset is atomic: it waits for the requests in flight in this process to finish, and holds new
ones back until the data is replaced (the ``ResetGate``); with a database the replacement is one
transaction, so the workers of other processes see the old data or the new, never a mix.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, request

from ..api.payload import parse_json
from ..core.bearer import check_bearer
from ..core.config import ADMIN_PREFIX
from ..core.deadline import current_deadline
from ..core.responses import ApiError, bad_request, json_response, not_found, unavailable, unprocessable
from ..core.wsgi import Handler, Reply, read_request_body
from ..services import Services, load_fixture, load_snapshot, refreeze_after_reset, services, services_of
from ..storage.datacache import cache_folder, cached_snapshot
from ..storage.snapshots import PreparationError, seed_snapshot
from . import faults, journal

bp = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)

EXTENSION = "diags.gate"
RESET_WAIT_SECONDS = 30.0
MAX_DEVICES_PER_REQUEST = 10_000
#: The admin API's schemas (``schemas/admin-*.schema.json``) that its handlers check bodies against.
RESET_SCHEMA = "admin-reset-request"
DEVICE_SCHEMA = "admin-device"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ResetGate:
    """A readers-writer lock: requests share it, a reset holds it alone (and goes first once waiting)."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())  # never re-entered: a plain lock is cheaper
        self._readers = 0
        self._writer_waiting = 0
        self._writing = False

    def enter(self, timeout: float | None = None) -> bool:
        """Join the readers; ``False`` if a reset still holds the gate after ``timeout`` seconds."""
        with self._condition:
            if (self._writing or self._writer_waiting) and not self._condition.wait_for(
                    lambda: not self._writing and not self._writer_waiting, timeout):
                return False
            self._readers += 1
            return True

    def leave(self) -> None:
        with self._condition:
            self._readers -= 1
            if self._writer_waiting:  # only a reset waits for the readers to leave
                self._condition.notify_all()

    @contextmanager
    def exclusive(self, timeout: float = RESET_WAIT_SECONDS) -> Iterator[None]:
        with self._condition:
            self._writer_waiting += 1
            try:
                ready = self._condition.wait_for(lambda: not self._writing and self._readers == 0, timeout)
            finally:
                self._writer_waiting -= 1
            if not ready:
                self._condition.notify_all()
                raise unavailable(f"Requests still running after {timeout:g} s; nothing was changed. Retry.")
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def gate(app: Flask | None = None) -> ResetGate:
    """The reset gate of ``app`` (by default, of the request's app)."""
    reset_gate: ResetGate = (app or current_app).extensions[EXTENSION]
    return reset_gate


def _authorize() -> None:
    if request.endpoint == "admin.health" or request.method == "OPTIONS":
        return
    token = current_app.config.get("DIAGS_ADMIN_TOKEN")
    if token:
        try:
            check_bearer(request.headers.get("Authorization"), [token])
        except ApiError as error:
            raise ApiError(401, error.detail.replace("API token", "admin token"),
                           headers={"WWW-Authenticate": 'Bearer realm="admin"'}) from None
    elif not is_loopback(str(current_app.config.get("DIAGS_HOST", ""))):
        raise not_found(f"No such route: {request.path}. (The admin API needs --admin-token when the server "
                        "is not bound to a loopback address.)")


bp.before_request(_authorize)


def _json_body(default: Any = None) -> Any:
    raw = read_request_body(request)
    if not raw.strip():
        if default is not None:
            return default
        raise bad_request("The request body is empty: send a JSON document.")
    return parse_json(raw, current_app.config["DIAGS_MAX_JSON_DEPTH"])


def _integer_arg(name: str) -> int | None:
    text = request.args.get(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise bad_request(f"Query parameter {name!r} must be a non-negative integer.",
                          {name: ["Must be a non-negative integer."]})
    return int(text)


def data_source(app_services: Services) -> str:
    """Where the data being served came from, in words (``seed`` alone would hide a fixture file)."""
    if app_services.database is not None:
        return f"the database {app_services.database.path}"
    if app_services.fixtures_path is not None:
        return f"the fixture file {app_services.fixtures_path}"
    if current_app.config.get("DIAGS_FIXTURE") is not None and app_services.fixture is not None:
        return "the fixture given to create_app"
    return f"generated from seed {app_services.seed}"


def state() -> dict[str, Any]:
    """What the mock holds now (the answer of ``/state`` and of a reset)."""
    app_services = services()
    book, log = faults.book(), journal.journal()
    return {
        "store": getattr(app_services.store, "kind", "memory"),
        "database": app_services.database.path if app_services.database is not None else None,
        "data": data_source(app_services),
        "seed": app_services.seed,
        **app_services.store.stats(),
        "faults": len(book.listing()),
        "journal": {"size": log.size, "entries": log.count()},
        "process": os.getpid(),
    }


@bp.get("/health")
def health() -> Response:
    return json_response({"status": "ok"})


@bp.get("/state")
def get_state() -> Response:
    return json_response(state())


@bp.post("/reset")
def reset() -> Response:
    body = _json_body(default={})
    errors = faults.schema_errors(RESET_SCHEMA, body)
    if errors:
        raise unprocessable("Send {} or {\"seed\": <integer>}.", errors)
    seed = None if body.get("seed") is None else int(body["seed"])  # JSON Schema's integers include 7.0
    config = current_app.config
    app_services = services()
    if app_services.snapshot is not None:  # large generated data, which this worker must not generate itself
        new_seed = int(config["DIAGS_SEED"]) if seed is None else seed
        _reset_from_snapshot(app_services, app_services.snapshot, new_seed)
        return json_response(state())
    if seed is None:
        fixture = app_services.fixture if app_services.fixture is not None else load_fixture(config)
        new_seed = int(config["DIAGS_SEED"])
    else:
        generated = {"DIAGS_SEED": seed, "DIAGS_FIXTURE": None, "DIAGS_FIXTURES_PATH": None}
        fixture = load_fixture({**config, **generated})
        new_seed = seed
    with gate().exclusive():
        app_services.store.reset(fixture, seed=new_seed)
        app_services.seed = new_seed
        app_services.fixtures_path = config.get("DIAGS_FIXTURES_PATH") if seed is None else None
    refreeze_after_reset()
    answer = state()
    if seed is not None and config.get("DIAGS_FIXTURES_PATH"):
        # Said, not silent: a reset with a seed replaces the file's data with generated data.
        answer["note"] = (f"The data is now generated from seed {seed}, not read from the fixture file "
                          f"{config['DIAGS_FIXTURES_PATH']}; POST /__admin/reset with {{}} goes back to it.")
    if answer["store"] == "postgresql":
        # Other instances share the data but not this process's gate: say what the reset could not do.
        shared = ("The data was replaced in one transaction for every instance on this database; requests "
                  "in flight on other instances were not waited for (each saw the old data or the new).")
        answer["note"] = f"{answer['note']} {shared}" if "note" in answer else shared
    return json_response(answer)


def _reset_from_snapshot(app_services: Services, start_snapshot: str, seed: int) -> None:
    """Load the start-up snapshot again, or one that a child writes for another seed."""
    if seed == int(current_app.config["DIAGS_SEED"]):
        _load_snapshot(app_services, start_snapshot, seed)
        return
    folder = cache_folder(current_app.config)
    try:
        if folder is not None and Path(start_snapshot).parent == folder:  # the start-up data is cached
            settings = {**current_app.config, "DIAGS_SEED": seed}
            entry = cached_snapshot(settings, folder, in_use=(Path(start_snapshot),))
            _load_snapshot(app_services, str(entry), seed)
            return
        with seed_snapshot(current_app.config, start_snapshot, seed) as path:
            _load_snapshot(app_services, path, seed)
    except (PreparationError, OSError) as error:
        raise ApiError(500, f"Generating the data of seed {seed} failed: {error}.") from None


def _load_snapshot(app_services: Services, path: str, seed: int) -> None:
    with gate().exclusive():
        load_snapshot(app_services.store, path)
        app_services.seed = seed
    refreeze_after_reset()


@bp.get("/requests")
def list_requests() -> Response:
    method, status, limit = request.args.get("method"), _integer_arg("status"), _integer_arg("limit")
    log = journal.journal()
    entries = log.entries(method=method, status=status, limit=limit)
    return json_response({"size": log.size, "count": len(entries), "requests": entries})


@bp.delete("/requests")
def clear_requests() -> Response:
    return json_response({"deleted": journal.journal().clear()})


@bp.post("/faults")
def add_faults() -> Response:
    body = _json_body()
    try:
        parsed = faults.parse_faults(body)
    except faults.FaultError as error:
        raise unprocessable(f"Invalid fault: {error}", error.errors) from None
    added = [fault.to_json() for fault in faults.book().add(parsed)]
    single = not isinstance(body, list) and not (isinstance(body, dict) and "faults" in body)
    return json_response(added[0] if single else {"faults": added}, status=201)


@bp.get("/faults")
def list_faults() -> Response:
    listing = faults.book().listing()
    return json_response({"count": len(listing), "faults": listing})


@bp.delete("/faults")
def clear_faults() -> Response:
    return json_response({"deleted": faults.book().remove()})


@bp.delete("/faults/<fault_id>")
def delete_fault(fault_id: str) -> Response:
    if not faults.book().remove(fault_id):
        raise not_found(f"No fault with id {fault_id!r}.")
    return json_response({"deleted": 1})


def _check_devices(body: Any, items: list[Any]) -> None:
    errors: dict[str, list[str]] = {}
    if isinstance(body, dict) and "devices" in body and set(body) != {"devices"}:
        errors["body"] = ["Only 'devices' may be given beside the list."]
    for index, item in enumerate(items):
        for field, messages in faults.schema_errors(DEVICE_SCHEMA, item).items():
            where = field if len(items) == 1 else f"[{index}]" if field == "body" else f"[{index}].{field}"
            errors[where] = messages
    if errors:
        raise unprocessable("Invalid device(s): id, name and serial are required strings.", errors)


@bp.get("/devices")
def list_devices() -> Response:
    offset, limit = _integer_arg("offset") or 0, _integer_arg("limit")
    devices = services().store.devices()
    chosen = devices[offset:] if limit is None else devices[offset : offset + limit]
    return json_response({"count": len(devices), "devices": chosen})


@bp.post("/devices")
def add_devices() -> Response:
    body = _json_body()
    single = isinstance(body, dict) and "devices" not in body
    items = [body] if single else body.get("devices") if isinstance(body, dict) else body
    if not isinstance(items, list) or not 0 < len(items) <= MAX_DEVICES_PER_REQUEST:
        raise bad_request(f"Send a device, a list of 1 to {MAX_DEVICES_PER_REQUEST} devices, "
                          'or {"devices": [...]}.')
    _check_devices(body, items)
    store = services().store
    with gate().exclusive():
        added = [store.add_device(item) for item in items]
    return json_response(added[0] if single else {"devices": added}, status=201)


def pass_gate(reset_gate: ResetGate) -> None:
    """Join the requests at ``reset_gate``, waiting while a reset runs (a 503 once the deadline passes)."""
    deadline = current_deadline()
    if deadline is None:
        reset_gate.enter()
        return
    while not reset_gate.enter(deadline.remaining()):
        deadline.check()  # raises the 503 once the time left is spent waiting for a reset


def gate_stage(app: Flask, next_handler: Handler) -> Handler:
    """Hold every request outside the admin API at the reset gate while it is answered."""
    reset_gate = gate(app)

    def within_gate(request: Request) -> Reply:
        if request.path.startswith(ADMIN_PREFIX):
            return next_handler(request)
        pass_gate(reset_gate)
        try:
            return next_handler(request)
        finally:
            reset_gate.leave()

    return within_gate


def seed_stage(app: Flask, next_handler: Handler) -> Handler:
    """With a database: take the seed another worker's reset may have set (before the faults roll with it)."""
    services = services_of(app)
    if services.database is None:
        return next_handler

    def with_current_seed(request: Request) -> Reply:
        seed = services.store.seed()
        if seed is not None:
            services.seed = seed
        return next_handler(request)

    return with_current_seed


def init_app(app: Flask) -> None:
    """Register the admin API and make the reset gate (``gate_stage`` holds requests at it)."""
    app.extensions[EXTENSION] = ResetGate()
    app.register_blueprint(bp)
