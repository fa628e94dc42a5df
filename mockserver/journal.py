"""The request journal: what clients actually sent, and what the mock answered, newest first.

Every request outside the admin API is recorded once answered: method, path, query string,
status, duration, an excerpt of the body (of a body the mock read; ``null`` when it answered
without reading one, as a 401 does), the ``Authorization`` header with its token masked, and the
faults that it triggered. The journal keeps the last ``DIAGS_JOURNAL_SIZE`` entries (0 turns
it off). With a database, the journal is a table of it, so every worker writes to the same one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

import orjson
from flask import Flask, Response, current_app, g, request

from .auth import OTHER_SCHEMES
from .config import ADMIN_PREFIX, JOURNAL_SIZE
from .faults import DROP_KEY
from .limits import Deadline, current_deadline
from .services import services_of
from .sqlite_store import Database
from .timestamps import format_timestamp, utc_now

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


def _has_body(environ: dict[str, Any]) -> bool:
    # HTTP/1.x frames a request body with Content-Length or Transfer-Encoding: without either there
    # is none, and asking the server for it anyway cost a GET about a tenth of its throughput.
    return (bool(environ.get("CONTENT_LENGTH")) or "HTTP_TRANSFER_ENCODING" in environ
            or not str(environ.get("SERVER_PROTOCOL", "")).startswith("HTTP/1."))


def _body_excerpt() -> tuple[str | None, int | None]:
    # Only a body the view has read: reading one now could wait on a client that sends less than it said.
    raw = getattr(request, "_cached_data", None)
    if not isinstance(raw, bytes):
        return None, request.content_length
    return raw[:EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS], len(raw)


def entry_for(response: Response, duration_ms: float) -> dict[str, Any]:
    """The journal entry of the request being answered."""
    body, size = _body_excerpt()
    return {
        "time": format_timestamp(utc_now()),
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "status": response.status_code,
        "duration_ms": round(duration_ms, 1),
        "content_type": request.content_type,
        "body": body,
        "body_bytes": size,
        "authorization": mask_authorization(request.headers.get("Authorization")),
        "faults": list(g.get("diags_faults", [])),
    }


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
            self._entries.append({"id": self._last_id, **entry})

    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            newest_first = list(reversed(self._entries))
        found = [entry for entry in newest_first if _wanted(entry, method, status)]
        return found if limit is None else found[:limit]

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
                                        (entry["method"], entry["status"], orjson.dumps(entry)))
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


def _journaled() -> bool:
    return not request.path.startswith(ADMIN_PREFIX)


def _start() -> None:
    g.diags_started = time.perf_counter()


def _record(response: Response) -> Response:
    found = journal()
    if found.size > 0 and _journaled():
        started = g.get("diags_started", time.perf_counter())
        entry = entry_for(response, (time.perf_counter() - started) * 1000)
        deadline = current_deadline()
        if request.environ.get(DROP_KEY):
            entry["status"] = None
        elif deadline is not None and deadline.state == Deadline.EXPIRED:
            entry["status"] = 503  # what the client got from the time-out, not what came too late
        found.record(entry)
    return response


def init_app(app: Flask) -> None:
    """Attach the journal and record every answered request (the clock starts before any other hook)."""
    size = int(app.config.get("DIAGS_JOURNAL_SIZE", JOURNAL_SIZE))
    database = services_of(app).database
    app.extensions[EXTENSION] = SqliteJournal(database, size) if database is not None else MemoryJournal(size)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_record)
