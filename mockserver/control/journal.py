"""The request journal: what clients actually sent, and what the mock answered, newest first.

Every request outside the admin API is recorded once answered: method, path, query string,
status, duration, an excerpt of the body (of a body the mock read; ``null`` when it answered
without reading one, as a 401 does), the ``Authorization`` header with its token masked, and the
faults that it triggered. The journal keeps the last ``DIAGS_JOURNAL_SIZE`` entries (0 turns
it off). With a database, the journal is a table of it, so every worker writes to the same one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from flask import Flask, Response, current_app, g, request

from ..core.config import ADMIN_PREFIX, JOURNAL_SIZE
from ..core.timestamps import format_timestamp
from ..pipeline.auth import OTHER_SCHEMES
from ..pipeline.limits import body_if_read
from ..services import services_of
from ..storage.memory import StoreBusy
from ..storage.sqlite import Database
from .faults import DROP_KEY

log = logging.getLogger(__name__)

EXTENSION = "diags.journal"
EXCERPT_CHARS = 500
#: Token characters shown before the mask, when the token is long enough to spare them.
SHOWN_TOKEN_CHARS = 4
MIN_TOKEN_TO_SHOW = 12
KNOWN_SCHEMES = OTHER_SCHEMES | {"bearer"}


def mask_authorization(header: str | None) -> str | None:
    """``Bearer YOUR…`` for ``Bearer YOUR_API_TOKEN``: the scheme, and never the whole token."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if not token:
        # One word: a scheme with no token, or a token sent without its scheme (never shown).
        return scheme if scheme.lower() in KNOWN_SCHEMES else "…" if scheme else ""
    token = token.strip()
    shown = token[:SHOWN_TOKEN_CHARS] if len(token) >= MIN_TOKEN_TO_SHOW else ""
    return f"{scheme} {shown}…"


def entry_for(
    environ: dict[str, Any], path: str, status: int | None, duration_ms: float, body: bytes | None,
    faults: Iterable[str] = (),
) -> dict[str, Any]:
    """The journal entry of one answered request, as recorded (see ``published``).

    ``body`` is the body the mock read, if it read one: reading one now could wait on a client
    that sends less than it said.
    """
    declared = environ.get("CONTENT_LENGTH")
    size = len(body) if body is not None else int(declared) if declared and declared.isdigit() else None
    return {
        "time": time.time(),
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "query": environ.get("QUERY_STRING", ""),
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "content_type": environ.get("CONTENT_TYPE") or None,
        "body": None if body is None else body[:EXCERPT_CHARS * 4],
        "body_bytes": size,
        "authorization": mask_authorization(environ.get("HTTP_AUTHORIZATION")),
        "faults": list(faults),
    }


def published(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the admin API shows it: the time formatted, the body excerpt decoded.

    Recording keeps both raw, because the hot path of every request pays for the recording,
    and only the few entries anyone reads pay for the formatting.
    """
    shown = dict(entry)
    if isinstance(entry["time"], float):
        shown["time"] = format_timestamp(datetime.fromtimestamp(entry["time"], UTC))
    if isinstance(entry["body"], bytes):
        shown["body"] = entry["body"].decode("utf-8", "replace")[:EXCERPT_CHARS]
    return shown


class Journal(Protocol):
    """Where entries are kept: this process, or the database every worker shares."""

    size: int

    def record(self, entry: dict[str, Any]) -> None: ...
    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]: ...
    def count(self) -> int: ...
    def clear(self) -> int: ...


def _wanted(entry: dict[str, Any], method: str | None, status: int | None) -> bool:
    return ((method is None or entry["method"] == method.upper())
            and (status is None or entry["status"] == status))


class MemoryJournal:
    """The last ``size`` entries of this process."""

    def __init__(self, size: int = JOURNAL_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max(size, 0))
        self._last_id = 0

    def record(self, entry: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._last_id += 1
            entry["id"] = self._last_id
            self._entries.append(entry)

    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            newest_first = list(reversed(self._entries))
        found = [entry for entry in newest_first if _wanted(entry, method, status)]
        chosen = found if limit is None else found[:limit]
        return [{"id": entry["id"], **published(entry)} for entry in chosen]

    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._entries)
            self._entries.clear()
        return cleared


class SqliteJournal:
    """The last ``size`` entries of every worker, in the shared database."""

    def __init__(self, database: Database, size: int = JOURNAL_SIZE) -> None:
        self.database = database
        self.size = size

    def record(self, entry: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        with self.database.write() as connection:
            cursor = connection.execute("INSERT INTO journal (method, status, entry) VALUES (?, ?, ?)",
                                        (entry["method"], entry["status"], orjson.dumps(published(entry))))
            oldest_kept = int(cursor.lastrowid or 0) - self.size + 1
            connection.execute("DELETE FROM journal WHERE sequence < ?", (oldest_kept,))

    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        clauses: list[str] = ["1"]
        values: list[str | int] = []
        if method is not None:
            clauses.append("method = ?")
            values.append(method.upper())
        if status is not None:
            clauses.append("status = ?")
            values.append(status)
        where = " AND ".join(clauses)
        sql = f"SELECT sequence, entry FROM journal WHERE {where} ORDER BY sequence DESC LIMIT ?"
        rows = self.database.connection().execute(sql, (*values, -1 if limit is None else limit)).fetchall()
        return [{"id": sequence, **orjson.loads(raw)} for sequence, raw in rows]

    def count(self) -> int:
        return int(self.database.connection().execute("SELECT count(*) FROM journal").fetchone()[0])

    def clear(self) -> int:
        with self.database.write() as connection:
            return int(connection.execute("DELETE FROM journal").rowcount)


def journal(app: Flask | None = None) -> Journal:
    """The app's journal."""
    found: Journal = (app or current_app).extensions[EXTENSION]
    return found


def _start() -> None:
    g.diags_started = time.perf_counter()


def _record(response: Response) -> Response:
    found = journal()
    path = request.path
    if found.size > 0 and not path.startswith(ADMIN_PREFIX):
        environ = request.environ
        duration_ms = (time.perf_counter() - g.get("diags_started", time.perf_counter())) * 1000
        # A dropped connection answered nothing.
        status = None if environ.get(DROP_KEY) else response.status_code
        faults_triggered = g.get("diags_faults", ())
        entry = entry_for(environ, path, status, duration_ms, body_if_read(environ), faults_triggered)
        try:
            found.record(entry)
        except StoreBusy:
            # The answer is decided, and may say that data changed: a lost entry must not turn it into a 503.
            log.warning("journal entry dropped, the database stayed locked: %s %s", request.method, path)
    return response


def init_app(app: Flask) -> None:
    """Attach the journal and record every answered request (the clock starts before any other hook)."""
    size = int(app.config.get("DIAGS_JOURNAL_SIZE", JOURNAL_SIZE))
    database = services_of(app).database
    app.extensions[EXTENSION] = SqliteJournal(database, size) if database is not None else MemoryJournal(size)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_record)
