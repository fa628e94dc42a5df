"""The SQLite store: the inventory and every diagnostic in one file, shared by worker processes.

The file is in WAL mode, so readers never wait for the writer and a committed transaction
survives the process being killed (``synchronous=NORMAL`` only risks the last transactions on a
power cut, which a mock can live with). Each thread has its own connection; every write is one
``BEGIN IMMEDIATE`` transaction, so a reset or a create is all there or not at all. A write waits
for another process's lock up to ``BUSY_TIMEOUT_SECONDS``, or less when a request's
deadline (``core.deadline``) comes first, then raises ``StoreBusy`` having changed nothing. What several
workers must agree on lives in the file too: the id sequence, the refresh counters, the seed, the
faults (``SqliteFaultBook``) and the request journal (``SqliteJournal``).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import orjson

from fixtures import PROGRESS_STEP, ProgressCallback

from ..core.config import JOURNAL_SIZE
from ..core.deadline import seconds_left
from .base import (
    FIELDS,
    Device,
    Fault,
    Outcome,
    Record,
    Row,
    StoreBusy,
    apply_fault,
    format_id,
    published,
    roll,
    sequence_of,
)

_T = TypeVar("_T")

SCHEMA_VERSION = "1"
BUSY_TIMEOUT_SECONDS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS diagnostics (
    position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, device_id TEXT NOT NULL,
    diagnostic_type TEXT NOT NULL, body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS diagnostics_by_device ON diagnostics (device_id, position);
CREATE TABLE IF NOT EXISTS refreshes (record_id TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS faults (
    position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,
    matched INTEGER NOT NULL DEFAULT 0, fired INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS journal (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT, method TEXT NOT NULL, status INTEGER, entry BLOB NOT NULL);
"""


INSERT_DIAGNOSTIC = ("INSERT INTO diagnostics (position, id, device_id, diagnostic_type, body) "
                     "VALUES (?, ?, ?, ?, ?)")
#: Positions are 1..N with no gaps (records are only appended, and a reset rewrites them all), so the
#: count is the last position and a page of everything is a range of positions, not an OFFSET scan.
LAST_POSITION = "SELECT coalesce(max(position), 0) FROM diagnostics"


def _reported(items: Iterable[_T], total: int, progress: ProgressCallback) -> Iterator[_T]:
    """``items``, telling ``progress(done, total)`` every ``PROGRESS_STEP`` of them and at the end."""
    done = 0
    for done, item in enumerate(items, start=1):
        if done % PROGRESS_STEP == 0 and done < total:
            progress(done, total)
        yield item
    progress(done, total)


class DatabaseError(RuntimeError):
    """The file cannot be used as the mock's database."""


class _Handle:
    """A thread's connection, closed when the thread ends (the server may run a thread per request)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __del__(self) -> None:
        self.connection.close()


class Database:
    """One SQLite file in WAL mode, with a connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._handles: weakref.WeakSet[_Handle] = weakref.WeakSet()
        try:
            connection = self.connection()
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            with self.write() as conn:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    conn.execute(statement)
                found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if found is None:
                    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif found[0] != SCHEMA_VERSION:
                    raise DatabaseError(f"schema version {found[0]}, expected {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            self.close()
            raise DatabaseError(f"{self.path} is not a usable diags-kit database: {error}") from None
        if mode.lower() != "wal":
            self.close()
            raise DatabaseError(f"{self.path} cannot be put in WAL mode (journal mode {mode!r})")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use; autocommit, transactions are explicit)."""
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA synchronous=NORMAL")
            handle = self._local.handle = _Handle(connection)
            self._handles.add(handle)
        return handle.connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        connection = self.connection()
        self._begin_immediate(connection)
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    @staticmethod
    def _begin_immediate(connection: sqlite3.Connection) -> None:
        """Take the write lock, waiting for another process's no longer than the caller may."""
        wait = seconds_left(BUSY_TIMEOUT_SECONDS)
        if wait != BUSY_TIMEOUT_SECONDS:
            connection.execute(f"PRAGMA busy_timeout = {round(wait * 1000)}")
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode == sqlite3.SQLITE_BUSY:
                raise StoreBusy(wait, cut_short=wait < BUSY_TIMEOUT_SECONDS) from None
            raise
        finally:
            if wait != BUSY_TIMEOUT_SECONDS:
                connection.execute(f"PRAGMA busy_timeout = {round(BUSY_TIMEOUT_SECONDS * 1000)}")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in the block sees the same snapshot."""
        connection = self.connection()
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            connection.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        """Close every thread's connection (for tests and shutdown)."""
        for handle in list(self._handles):
            handle.connection.close()
        self._local = threading.local()


def clear_runtime(database: Database) -> None:
    """Forget the faults and the request journal of an earlier run (the data stays)."""
    with database.write() as connection:
        connection.execute("DELETE FROM faults")
        connection.execute("DELETE FROM journal")


def set_meta(connection: sqlite3.Connection, key: str, value: object) -> None:
    connection.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                       "SET value = excluded.value", (key, str(value)))


def _meta_int(connection: sqlite3.Connection, key: str) -> int:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return 0 if row is None else int(row[0])


class SqliteStore:
    """The ``Store`` protocol over a ``Database``; see the module docstring for the guarantees."""

    kind = "sqlite"

    def __init__(self, database: Database) -> None:
        self.database = database

    def filled(self) -> bool:
        """Whether the database holds data already (a first start or a reset filled it)."""
        return self.database.meta("initialized") is not None

    def initialize(self, load_fixture: Callable[[], dict[str, Any]], seed: int,
                   progress: ProgressCallback | None = None) -> bool:
        """Fill an empty database from the fixture (loaded only if needed); False if it held data.

        ``progress(done, total)`` hears how many diagnostics are written, every ``PROGRESS_STEP``.
        """
        if self.filled():
            return False
        fixture = load_fixture()
        with self.database.write() as connection:
            # Another worker may have filled it between the check and this transaction.
            if connection.execute("SELECT 1 FROM meta WHERE key = 'initialized'").fetchone():
                return False
            self._fill(connection, fixture, progress)
            set_meta(connection, "seed", seed)
            set_meta(connection, "initialized", "1")
        return True

    def seed(self) -> int | None:
        """The seed of the data in the file, as the last reset or the first start set it."""
        value = self.database.meta("seed")
        return None if value is None else int(value)

    def reset(self, fixture: dict[str, Any], seed: int | None = None) -> None:
        """Replace everything with ``fixture``'s data in one transaction; ids still never repeat."""
        with self.database.write() as connection:
            self._fill(connection, fixture)
            if seed is not None:
                set_meta(connection, "seed", seed)

    def load(self, devices: Iterable[Device], rows: Iterable[Row]) -> None:
        """Replace everything with these devices and stored records, in creation order, in one transaction."""
        with self.database.write() as connection:
            self._replace(connection, devices, (
                (record_id, device_id, orjson.loads(raw)["diagnostic_type"], raw)
                for record_id, device_id, raw in rows))

    def _fill(self, connection: sqlite3.Connection, fixture: dict[str, Any],
              progress: ProgressCallback | None = None) -> None:
        records = fixture["diagnostics"]
        # Rows are made as SQLite takes them: a million serialized records at once would double the peak.
        rows = ((record["id"], record["device_id"], record["diagnostic_type"], orjson.dumps(record))
                for record in records)
        self._replace(connection, fixture["devices"], rows if progress is None else
                      _reported(rows, len(records), progress))

    def _replace(self, connection: sqlite3.Connection, devices: Iterable[Device],
                 rows: Iterable[tuple[str, str, str, bytes]]) -> None:
        connection.execute("DELETE FROM devices")
        connection.execute("DELETE FROM diagnostics")
        connection.execute("DELETE FROM refreshes")
        connection.executemany("INSERT OR REPLACE INTO devices VALUES (?, ?)",
                               ((device["id"], orjson.dumps(device)) for device in devices))
        last_sequence = 0

        def positioned() -> Iterator[tuple[int, str, str, str, bytes]]:
            nonlocal last_sequence
            for position, (record_id, device_id, diagnostic_type, raw) in enumerate(rows, start=1):
                last_sequence = max(last_sequence, sequence_of(record_id))
                yield position, record_id, device_id, diagnostic_type, raw

        connection.executemany(INSERT_DIAGNOSTIC, positioned())
        set_meta(connection, "last_sequence", max(_meta_int(connection, "last_sequence"), last_sequence))

    def devices(self) -> list[Device]:
        """Every device."""
        rows = self.database.connection().execute("SELECT body FROM devices")
        return [orjson.loads(row[0]) for row in rows]

    def rows(self) -> Iterator[Row]:
        """Every record as ``MemoryStore.load`` takes it, in creation order, one at a time."""
        yield from self.database.connection().execute(
            "SELECT id, device_id, body FROM diagnostics ORDER BY position")

    def device(self, device_id: str) -> Device | None:
        row = self.database.connection().execute("SELECT body FROM devices WHERE id = ?",
                                                 (device_id,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def add_device(self, device: Device) -> Device:
        with self.database.write() as connection:
            connection.execute("INSERT INTO devices VALUES (?, ?) ON CONFLICT (id) DO UPDATE "
                               "SET body = excluded.body", (device["id"], orjson.dumps(device)))
        return dict(device)

    def page(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[Record]]:
        """The total number of matches, and the records at ``offset`` .. ``offset + limit``."""
        total, chosen = self.page_json(device_id, offset, limit)
        return total, [orjson.loads(raw) for raw in chosen]

    def page_json(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[bytes]]:
        """``page``, with each record as the JSON it is stored as."""
        with self.database.read() as connection:
            if device_id is None:
                total = connection.execute(LAST_POSITION).fetchone()[0]
                rows = connection.execute("SELECT body FROM diagnostics WHERE position > ? ORDER BY position "
                                          "LIMIT ?", (offset, limit)).fetchall() if limit else []
            else:
                total = connection.execute("SELECT count(*) FROM diagnostics WHERE device_id = ?",
                                           (device_id,)).fetchone()[0]
                rows = connection.execute(
                    "SELECT body FROM diagnostics WHERE device_id = ? ORDER BY position LIMIT ? OFFSET ?",
                    (device_id, limit, offset)).fetchall() if limit else []
        return int(total), [bytes(row[0]) for row in rows]

    def get(self, record_id: str) -> Record | None:
        row = self.database.connection().execute("SELECT body FROM diagnostics WHERE id = ?",
                                                 (record_id,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def create(self, fields: Record) -> Record:
        """Store a new record: ``fields`` in order, behind a fresh ``id``. Returns it as stored."""
        with self.database.write() as connection:
            sequence = _meta_int(connection, "last_sequence") + 1
            while connection.execute("SELECT 1 FROM diagnostics WHERE id = ?",
                                     (format_id(sequence),)).fetchone():
                sequence += 1
            # An "id" among the fields must not replace the fresh one: ids are the server's alone.
            record = {"id": format_id(sequence), **{key: value for key, value in fields.items()
                                                    if key != "id"}}
            raw = orjson.dumps(record)
            position = connection.execute(LAST_POSITION).fetchone()[0] + 1
            connection.execute(INSERT_DIAGNOSTIC,
                               (position, record["id"], record["device_id"], record["diagnostic_type"], raw))
            set_meta(connection, "last_sequence", sequence)
        return orjson.loads(raw)

    def update(self, record_id: str, changes: Record) -> Record:
        """Merge ``changes`` into a stored record (keys keep their place); returns it as stored."""
        with self.database.write() as connection:
            row = connection.execute("SELECT body FROM diagnostics WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                raise KeyError(record_id)
            record = orjson.loads(row[0])
            record.update(changes)
            raw = orjson.dumps(record)
            connection.execute("UPDATE diagnostics SET body = ?, diagnostic_type = ? WHERE id = ?",
                               (raw, record["diagnostic_type"], record_id))
        return orjson.loads(raw)

    def latest(self, device_id: str, diagnostic_type: str) -> Record | None:
        """The newest record of one type for one device, if any."""
        row = self.database.connection().execute(
            "SELECT body FROM diagnostics WHERE device_id = ? AND diagnostic_type = ? "
            "ORDER BY position DESC LIMIT 1", (device_id, diagnostic_type)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def next_refresh(self, record_id: str) -> int:
        """Count one more status refresh of a record; the count seeds the refreshed values."""
        with self.database.write() as connection:
            row = connection.execute(
                "INSERT INTO refreshes VALUES (?, 1) ON CONFLICT (record_id) DO UPDATE SET count = count + 1 "
                "RETURNING count", (record_id,)).fetchall()[0]
        return int(row[0])

    def version(self) -> None:
        """None: other workers change the data without this process knowing (``Store.version``)."""
        return None

    def stats(self) -> dict[str, int]:
        with self.database.read() as connection:
            devices = connection.execute("SELECT count(*) FROM devices").fetchone()[0]
            diagnostics = connection.execute(LAST_POSITION).fetchone()[0]
        return {"devices": int(devices), "diagnostics": int(diagnostics)}


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
                    apply_fault(result, fault, latency_ms)
        return result


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
