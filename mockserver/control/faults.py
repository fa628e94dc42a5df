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
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import orjson
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from ..core.config import ADMIN_PREFIX
from ..core.responses import error_response, json_response
from ..pipeline.limits import read_body, wait_within_deadline
from ..services import services, services_of
from ..storage.sqlite import Database

ANY = "*"
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MAX_LATENCY_MS = 60_000
EXTENSION = "diags.faults"
FIELDS = ("method", "path", "latency_ms", "latency_max_ms", "status", "rate", "drop", "helper_error",
          "times", "seed")


class FaultError(ValueError):
    """A fault definition that cannot be used; ``errors`` names each bad field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Fault:
    """One checked fault definition (``id`` is given when it is added)."""

    method: str = ANY
    path: str = ANY
    latency_ms: int = 0
    latency_max_ms: int | None = None
    status: int | None = None
    rate: float = 1.0
    drop: bool = False
    helper_error: bool = False
    times: int | None = None
    seed: int | None = None
    id: str = ""

    def matches(self, method: str, path: str) -> bool:
        if path.startswith(ADMIN_PREFIX) or (self.method != ANY and self.method != method.upper()):
            return False
        if self.path == ANY:
            return True
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path.rstrip("/") == self.path.rstrip("/")

    def definition(self) -> bytes:
        """The fault without its id: equal definitions trigger on the same requests."""
        return orjson.dumps({name: value for name, value in asdict(self).items() if name != "id"},
                            option=orjson.OPT_SORT_KEYS)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **{name: getattr(self, name) for name in FIELDS}}


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


@dataclass
class Outcome:
    """What the faults do to one request."""

    latency_ms: int = 0
    status: int | None = None
    drop: bool = False
    cause: str | None = None
    triggered: list[str] = field(default_factory=list)


def roll(fault: Fault, number: int, seed: int) -> tuple[bool, int]:
    """Whether the ``number``-th matching request triggers ``fault``, and the latency it then adds."""
    key = b"%d:%d:" % (fault.seed if fault.seed is not None else seed, number) + fault.definition()
    digest = hashlib.sha256(key).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= fault.rate:
        return False, 0
    if fault.latency_max_ms is None:
        return True, fault.latency_ms
    spread = fault.latency_max_ms - fault.latency_ms + 1
    return True, fault.latency_ms + int.from_bytes(digest[8:16], "big") % spread


def _apply(outcome: Outcome, fault: Fault, latency_ms: int) -> None:
    outcome.triggered.append(fault.id)
    outcome.latency_ms += latency_ms
    if outcome.cause is None and (fault.status is not None or fault.drop):
        outcome.status, outcome.drop, outcome.cause = fault.status, fault.drop, fault.id


class FaultBook(Protocol):
    """Where the faults live: this process, or the database that every worker shares."""

    def add(self, faults: list[Fault]) -> list[Fault]: ...
    def listing(self) -> list[dict[str, Any]]: ...
    def remove(self, fault_id: str | None = None) -> int: ...
    def outcome(self, method: str, path: str, seed: int, helpers: bool = False) -> Outcome: ...
    def armed(self) -> bool:
        """Whether any fault may trigger: if not, a request need not ask for its ``outcome``."""
        ...


class MemoryFaultBook:
    """The faults of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._counts: dict[str, list[int]] = {}
        self._last_id = 0

    def add(self, faults: list[Fault]) -> list[Fault]:
        with self._lock:
            added = []
            for fault in faults:
                self._last_id += 1
                added.append(Fault(**{**asdict(fault), "id": f"fault-{self._last_id}"}))
            self._faults.extend(added)
            self._counts.update({fault.id: [0, 0] for fault in added})
        return added

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**fault.to_json(), "matched": matched, "triggered": fired}
                    for fault in self._faults for matched, fired in [self._counts[fault.id]]]

    def remove(self, fault_id: str | None = None) -> int:
        with self._lock:
            kept = [fault for fault in self._faults if fault_id is not None and fault.id != fault_id]
            removed = len(self._faults) - len(kept)
            self._faults = kept
        return removed

    def armed(self) -> bool:
        return bool(self._faults)

    def outcome(self, method: str, path: str, seed: int, helpers: bool = False) -> Outcome:
        result = Outcome()
        with self._lock:
            for fault in [fault for fault in self._faults if fault.helper_error == helpers]:
                if not fault.matches(method, path):
                    continue
                counts = self._counts[fault.id]
                counts[0] += 1
                triggered, latency_ms = roll(fault, counts[0], seed)
                if triggered:
                    counts[1] += 1
                    _apply(result, fault, latency_ms)
                    if fault.times is not None and counts[1] >= fault.times:
                        self._faults.remove(fault)
        return result


class SqliteFaultBook:
    """The faults every worker sees: a table of the shared database, counters included."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def armed(self) -> bool:
        # Another worker may add a fault at any time: only ``outcome``'s own query can tell.
        return True

    def _load(self, connection: Any) -> list[tuple[Fault, int, int]]:
        rows = connection.execute("SELECT id, body, matched, fired FROM faults ORDER BY position").fetchall()
        return [(Fault(**orjson.loads(body), id=fault_id), matched, fired)
                for fault_id, body, matched, fired in rows]

    def add(self, faults: list[Fault]) -> list[Fault]:
        added = []
        with self.database.write() as connection:
            last = int(self.database.meta("last_fault") or 0)
            for fault in faults:
                last += 1
                stored = Fault(**{**asdict(fault), "id": f"fault-{last}"})
                body = orjson.dumps({name: getattr(stored, name) for name in FIELDS})
                connection.execute("INSERT INTO faults (id, body) VALUES (?, ?)", (stored.id, body))
                added.append(stored)
            connection.execute("INSERT INTO meta VALUES ('last_fault', ?) ON CONFLICT (key) DO UPDATE "
                               "SET value = excluded.value", (str(last),))
        return added

    def listing(self) -> list[dict[str, Any]]:
        with self.database.read() as connection:
            return [{**fault.to_json(), "matched": matched, "triggered": fired}
                    for fault, matched, fired in self._load(connection)]

    def remove(self, fault_id: str | None = None) -> int:
        with self.database.write() as connection:
            if fault_id is None:
                return int(connection.execute("DELETE FROM faults").rowcount)
            return int(connection.execute("DELETE FROM faults WHERE id = ?", (fault_id,)).rowcount)

    def outcome(self, method: str, path: str, seed: int, helpers: bool = False) -> Outcome:
        result = Outcome()
        # Most requests match no fault: find out without taking the write lock.
        with self.database.read() as connection:
            candidates = [fault for fault, _, _ in self._load(connection)
                          if fault.helper_error == helpers and fault.matches(method, path)]
        if not candidates:
            return result
        with self.database.write() as connection:
            for fault, matched, fired in self._load(connection):
                if fault.helper_error != helpers or not fault.matches(method, path):
                    continue
                triggered, latency_ms = roll(fault, matched + 1, seed)
                fired += int(triggered)
                if triggered and fault.times is not None and fired >= fault.times:
                    connection.execute("DELETE FROM faults WHERE id = ?", (fault.id,))
                else:
                    connection.execute("UPDATE faults SET matched = ?, fired = ? WHERE id = ?",
                                       (matched + 1, fired, fault.id))
                if triggered:
                    _apply(result, fault, latency_ms)
        return result


def book(app: Flask | None = None) -> FaultBook:
    """The app's fault book."""
    found: FaultBook = (app or current_app).extensions[EXTENSION]
    return found


DROP_KEY = "diags.drop"
#: What a dropped answer announces and never sends.
DROPPED_LENGTH = 64


def _nothing() -> Iterator[bytes]:
    yield from ()


class DropMiddleware:
    """The outermost WSGI layer: an answer marked dropped keeps its headers and loses its body.

    It announces a ``Content-Length`` and sends nothing, so the HTTP server closes the connection
    with the answer incomplete: the client gets no answer, or headers without their body (curl:
    "Empty reply from server" or "transfer closed"). Outside any buffering middleware, because only
    a streamed body can fall short of its length.
    """

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if environ.get(DROP_KEY):
                headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
                headers.append(("Content-Length", str(DROPPED_LENGTH)))
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        if not environ.get(DROP_KEY):
            return body
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return _nothing()


def _read_body() -> None:
    # The view will not run, yet the journal should show what the client sent; the limits still apply.
    with contextlib.suppress(HTTPException, OSError):
        read_body(request)


def _apply_faults() -> Response | None:
    found = book()
    if not found.armed() or request.path.startswith(ADMIN_PREFIX) or request.method == "OPTIONS":
        return None
    outcome = found.outcome(request.method, request.path, services().seed)
    if not outcome.triggered:
        return None
    g.diags_faults = outcome.triggered
    if outcome.latency_ms:
        wait_within_deadline(outcome.latency_ms / 1000)
    if outcome.drop or outcome.status is not None:
        _read_body()
    if outcome.drop:
        request.environ[DROP_KEY] = True
        return json_response({})
    if outcome.status is not None:
        return error_response(outcome.status, f"Injected fault {outcome.cause}: status {outcome.status}.")
    return None


def helper_fault() -> str | None:
    """The id of a fault that breaks the diagnostic helper configuration for this request, if one triggers."""
    found = book()
    if not found.armed():
        return None
    outcome = found.outcome(request.method, request.path, services().seed, helpers=True)
    if not outcome.triggered:
        return None
    g.diags_faults = [*g.get("diags_faults", []), *outcome.triggered]
    return outcome.triggered[0]


def init_app(app: Flask) -> None:
    """Attach the fault book (shared when the store is a database) and apply faults before each view.

    The start-up faults (``DIAGS_FAULTS``) are added here, unless the serving process already put
    them in the shared database for all its workers (``DIAGS_DB_PREPARED``).
    """
    database = services_of(app).database
    found: FaultBook = SqliteFaultBook(database) if database is not None else MemoryFaultBook()
    app.extensions[EXTENSION] = found
    startup = parse_faults(app.config.get("DIAGS_FAULTS") or [])
    if startup and not (database is not None and app.config.get("DIAGS_DB_PREPARED")):
        found.add(startup)
    app.before_request(_apply_faults)
    app.wsgi_app = DropMiddleware(app.wsgi_app)  # type: ignore[method-assign]
