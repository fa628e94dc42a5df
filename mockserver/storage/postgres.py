"""The PostgreSQL store: one database shared by any number of mock instances, on any number of machines.

``--db postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME`` selects it (a file path still selects SQLite).
Its tables live in their own schema, ``diags_kit``. The first instance on an empty database creates
them and loads the data; later ones join it, and refuse to start when they were asked for other data
(``DataMismatch`` says what differs and how to start over). Everything instances must agree on is in
the database: the records, the devices, ids drawn from a sequence (never reused, not even after a
reset), the refresh counters, the seed, the faults and the request journal. Every write is one
transaction, committed before the answer goes out, so a ``kill -9`` loses no acknowledged write.
Writes to the diagnostics take one advisory lock, as SQLite's single writer does: positions stay
1..N in creation order, and a page of everything is a range of positions. Each record also has its
place among its device's records (1..n per device), and ``device_totals`` holds each device's n,
updated in the transaction that inserts the record: a page of one device is a range of those places
and its total one row, so no page costs more with a million records than with a thousand.

The password of the connection string is never shown: ``masked`` replaces it wherever the URL or an
error message is printed, journalled or answered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from fixtures import ProgressCallback

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
from .sqlite import DatabaseError, _reported

SCHEMES = ("postgresql://", "postgres://")
SCHEMA_NAME = "diags_kit"
SCHEMA_VERSION = "2"
POOL_SIZE = 10
PLAN_CACHE_MODE = "force_generic_plan"
CONNECT_TIMEOUT_SECONDS = 10.0
#: How long a request waits for a connection of the pool before the store counts as busy.
POOL_WAIT_SECONDS = 30.0
#: The longest a write waits for a lock another instance holds (the request's deadline may cut it short).
BUSY_TIMEOUT_SECONDS = 30.0
#: Advisory lock keys: creating the schema, and writing the diagnostics (a create, a reset, a load).
SCHEMA_LOCK, DIAGNOSTICS_LOCK = 0x6469_6167_0001, 0x6469_6167_0002

SCHEMA = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA_NAME};
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS devices (id text PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS diagnostics (
    position bigint PRIMARY KEY, id text NOT NULL UNIQUE, device_id text NOT NULL,
    device_position bigint NOT NULL, diagnostic_type text NOT NULL, body bytea NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS diagnostics_by_device ON diagnostics (device_id, device_position);
CREATE TABLE IF NOT EXISTS device_totals (device_id text PRIMARY KEY, total bigint NOT NULL);
CREATE TABLE IF NOT EXISTS refreshes (record_id text PRIMARY KEY, count bigint NOT NULL);
CREATE SEQUENCE IF NOT EXISTS diag_ids MINVALUE 0 START 0;
CREATE SEQUENCE IF NOT EXISTS fault_ids;
CREATE TABLE IF NOT EXISTS faults (
    position bigserial PRIMARY KEY, id text NOT NULL UNIQUE, body bytea NOT NULL,
    matched bigint NOT NULL DEFAULT 0, fired bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS journal (
    sequence bigserial PRIMARY KEY, method text NOT NULL, status integer, entry bytea NOT NULL)
"""

LAST_POSITION = "SELECT coalesce(max(position), 0) FROM diagnostics"
PAGE_OF_EVERYTHING = """
SELECT counted.total, page.body
FROM (SELECT coalesce(max(position), 0) AS total FROM diagnostics) AS counted LEFT JOIN LATERAL (
    SELECT position, body FROM diagnostics WHERE position > %s ORDER BY position LIMIT %s) AS page ON true
ORDER BY page.position"""
PAGE_OF_DEVICE = """
SELECT counted.total, page.body
FROM (SELECT coalesce((SELECT total FROM device_totals WHERE device_id = %s), 0) AS total) AS counted
LEFT JOIN LATERAL (
    SELECT device_position, body FROM diagnostics WHERE device_id = %s AND device_position > %s
    ORDER BY device_position LIMIT %s) AS page ON true
ORDER BY page.device_position"""
RESET_HOW = (f"to start over, empty it first: psql \"URL\" -c 'DROP SCHEMA {SCHEMA_NAME} CASCADE' "
             "(or start this instance with the options the database was filled with)")


def is_postgres_url(value: object) -> bool:
    """Whether a ``--db`` value names a PostgreSQL database rather than a SQLite file."""
    return isinstance(value, str) and value.startswith(SCHEMES)


def masked(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: the only form of it ever shown."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _scrubbed(message: str, url: str) -> str:
    """An error message with the password of ``url`` taken out, wherever the driver put it."""
    password = urlsplit(url).password
    return message.replace(password, "***") if password else message


def data_options(config: dict[str, Any]) -> dict[str, str]:
    """What shapes the start-up data, as the database records it and a joining instance compares it."""
    if config.get("DIAGS_FIXTURE") is not None:
        raw = orjson.dumps(config["DIAGS_FIXTURE"], option=orjson.OPT_SORT_KEYS)
        return {"fixture": hashlib.sha256(raw).hexdigest()[:16]}
    if config.get("DIAGS_FIXTURES_PATH"):
        path = Path(config["DIAGS_FIXTURES_PATH"])
        return {"fixtures file": f"{path.name} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]})"}
    return {"seed": str(config["DIAGS_SEED"]), "devices": str(config["DIAGS_DEVICES"]),
            "diags": str(config["DIAGS_DIAGS"]), "reference time": str(config["DIAGS_REFERENCE_TIME"])}


class DataMismatch(DatabaseError):
    """The database holds data made from other options than this instance was started with."""


def mismatch(held: dict[str, str], wanted: dict[str, str]) -> str | None:
    """What differs between the data options a database holds and those an instance asks for, if anything."""
    if held == wanted:
        return None
    differences = [f"{name}: the database holds {held.get(name, '(not set)')}, this instance asks for "
                   f"{wanted.get(name, '(not set)')}" for name in sorted(set(held) | set(wanted))
                   if held.get(name) != wanted.get(name)]
    return f"the database was filled with other data options ({'; '.join(differences)}); {RESET_HOW}"


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, its tables in the ``diags_kit`` schema."""

    kind = "postgresql"

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        try:
            from psycopg import Error, connect
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'diags-kit[postgres]'") from None

        self.url = url
        #: The URL as it may be shown (``services.database.path`` is what the admin API shows).
        self.path = masked(url)
        # Generic plans for the statements psycopg prepares: every one of them is a range of an index
        # whatever its values, and planning a page anew for each request costs more than running it (the
        # planner probes the index for the bounds of the offset, more slowly the larger the table).
        connection_options = {"autocommit": True, "connect_timeout": int(CONNECT_TIMEOUT_SECONDS),
                              "options": f"-c search_path={SCHEMA_NAME} -c plan_cache_mode={PLAN_CACHE_MODE}"}
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False, timeout=POOL_WAIT_SECONDS,
                                   kwargs=connection_options)
        try:
            # One connection first: the driver's own error (a wrong password, no such database) says more
            # than the pool's "not ready in time".
            connect(url, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)).close()
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
            with self.write(SCHEMA_LOCK) as connection:
                # The version first: an older schema's tables would not take this one's indexes.
                found = None
                if connection.execute(f"SELECT to_regclass('{SCHEMA_NAME}.meta')").fetchone()[0] is not None:
                    found = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if found is not None and found[0] != SCHEMA_VERSION:
                    raise DatabaseError(f"schema version {found[0]}, expected {SCHEMA_VERSION}; {RESET_HOW}")
                for statement in filter(str.strip, SCHEMA.split(";")):
                    connection.execute(statement)
                if found is None:
                    connection.execute("INSERT INTO meta VALUES ('schema', %s)", (SCHEMA_VERSION,))
        except Exception as error:
            self.close()
            if isinstance(error, DatabaseError):
                raise
            if isinstance(error, Error) or type(error).__name__ == "PoolTimeout":
                raise DatabaseError(f"{self.path} cannot be used: {_scrubbed(str(error), url)}") from None
            raise

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        from psycopg_pool import PoolTimeout

        try:
            with self.pool.connection() as connection:
                yield connection
        except PoolTimeout:
            raise StoreBusy(POOL_WAIT_SECONDS) from None

    @contextmanager
    def write(self, lock: int | None = None) -> Iterator[Any]:
        """One transaction, committed when the block ends (before the answer goes), rolled back if it raises.

        ``lock`` is an advisory lock taken first, held to the commit, by whichever instance runs it. A
        lock held elsewhere is waited for no longer than ``BUSY_TIMEOUT_SECONDS`` or the request's
        deadline, then ``StoreBusy`` is raised, having changed nothing.
        """
        from psycopg.errors import LockNotAvailable

        wait = seconds_left(BUSY_TIMEOUT_SECONDS)
        try:
            with self._connection() as connection, connection.transaction():
                connection.execute(f"SET LOCAL lock_timeout = {max(1, round(wait * 1000))}")
                if lock is not None:
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                yield connection
        except LockNotAvailable:
            raise StoreBusy(wait, cut_short=wait < BUSY_TIMEOUT_SECONDS) from None

    @contextmanager
    def read(self) -> Iterator[Any]:
        """One read transaction: every query in the block sees the same snapshot."""
        with self._connection() as connection, connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield connection

    def fetch(self, sql: str, values: tuple[Any, ...] = ()) -> list[Any]:
        """The rows of one statement outside a transaction (a snapshot of its own, in one round trip).

        A statement that writes commits when it returns.
        """
        with self._connection() as connection:
            cursor = connection.execute(sql, values)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def meta(self, key: str) -> str | None:
        with self._connection() as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.pool.close()


def _set_meta(connection: Any, key: str, value: object) -> None:
    connection.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                       "SET value = excluded.value", (key, str(value)))


class PostgresStore:
    """The ``Store`` protocol over a ``PostgresDatabase``; see the module docstring for the guarantees."""

    kind = "postgresql"

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def filled(self) -> bool:
        return self.database.meta("initialized") is not None

    def initialize(self, load_fixture: Callable[[], dict[str, Any]], seed: int, options: dict[str, str],
                   progress: ProgressCallback | None = None) -> bool:
        """Fill an empty database from the fixture; False if it held data made from the same ``options``.

        Raises ``DataMismatch`` if it holds data made from other options.
        """
        if not self.filled():
            fixture = load_fixture()
            with self.database.write(DIAGNOSTICS_LOCK) as connection:
                # Another instance may have filled it between the check and this transaction.
                if connection.execute("SELECT 1 FROM meta WHERE key = 'initialized'").fetchone() is None:
                    self._fill(connection, fixture, progress)
                    _set_meta(connection, "seed", seed)
                    _set_meta(connection, "options",
                              orjson.dumps(options, option=orjson.OPT_SORT_KEYS).decode())
                    _set_meta(connection, "initialized", "1")
                    return True
        held = orjson.loads(self.database.meta("options") or "{}")
        problem = mismatch(held, options)
        if problem:
            raise DataMismatch(problem)
        return False

    def seed(self) -> int | None:
        value = self.database.meta("seed")
        return None if value is None else int(value)

    def reset(self, fixture: dict[str, Any], seed: int | None = None) -> None:
        """Replace everything with ``fixture``'s data in one transaction, for all instances; no id repeats."""
        with self.database.write(DIAGNOSTICS_LOCK) as connection:
            self._fill(connection, fixture)
            if seed is not None:
                _set_meta(connection, "seed", seed)

    def load(self, devices: Iterable[Device], rows: Iterable[Row]) -> None:
        with self.database.write(DIAGNOSTICS_LOCK) as connection:
            self._replace(connection, devices, (
                (record_id, device_id, orjson.loads(raw)["diagnostic_type"], raw)
                for record_id, device_id, raw in rows))

    def _fill(self, connection: Any, fixture: dict[str, Any],
              progress: ProgressCallback | None = None) -> None:
        records = fixture["diagnostics"]
        rows = ((record["id"], record["device_id"], record["diagnostic_type"], orjson.dumps(record))
                for record in records)
        self._replace(connection, fixture["devices"], rows if progress is None else
                      _reported(rows, len(records), progress))

    def _replace(self, connection: Any, devices: Iterable[Device],
                 rows: Iterable[tuple[str, str, str, bytes]]) -> None:
        connection.execute("DELETE FROM devices")
        connection.execute("DELETE FROM diagnostics")
        connection.execute("DELETE FROM refreshes")
        connection.execute("DELETE FROM device_totals")
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO devices VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                               "SET body = excluded.body",
                               [(device["id"], orjson.dumps(device)) for device in devices])
        last_sequence = 0
        totals: dict[str, int] = {}
        with connection.cursor() as cursor, cursor.copy(
                "COPY diagnostics (position, id, device_id, device_position, diagnostic_type, body) "
                "FROM STDIN") as copy:
            copy.set_types(["int8", "text", "text", "int8", "text", "bytea"])
            for position, (record_id, device_id, diagnostic_type, raw) in enumerate(rows, start=1):
                last_sequence = max(last_sequence, sequence_of(record_id))
                totals[device_id] = totals.get(device_id, 0) + 1
                copy.write_row((position, record_id, device_id, totals[device_id], diagnostic_type, raw))
        with connection.cursor() as cursor, cursor.copy("COPY device_totals FROM STDIN") as copy:
            copy.set_types(["text", "int8"])
            for total_row in totals.items():
                copy.write_row(total_row)
        # Fresh statistics, so that the planner picks the indexes for the first requests after a load.
        connection.execute("ANALYZE diagnostics")
        connection.execute("ANALYZE device_totals")
        # The sequence only moves forward: an id handed out before a reset is never handed out again.
        connection.execute("SELECT setval('diag_ids', greatest(%s, (SELECT last_value FROM diag_ids)))",
                           (last_sequence,))

    def devices(self) -> list[Device]:
        with self.database.read() as connection:
            return [orjson.loads(row[0])
                    for row in connection.execute("SELECT body FROM devices ORDER BY id")]

    def rows(self) -> Iterator[Row]:
        with self.database.read() as connection:
            stored = connection.execute("SELECT id, device_id, body FROM diagnostics ORDER BY position")
            yield from ((record_id, device_id, bytes(raw)) for record_id, device_id, raw in stored)

    def device(self, device_id: str) -> Device | None:
        rows = self.database.fetch("SELECT body FROM devices WHERE id = %s", (device_id,))
        return orjson.loads(rows[0][0]) if rows else None

    def add_device(self, device: Device) -> Device:
        with self.database.write() as connection:
            connection.execute("INSERT INTO devices VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                               "SET body = excluded.body", (device["id"], orjson.dumps(device)))
        return dict(device)

    def page(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[Record]]:
        total, chosen = self.page_json(device_id, offset, limit)
        return total, [orjson.loads(raw) for raw in chosen]

    def page_json(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[bytes]]:
        # One statement, so one snapshot and one round trip: the total, then the page's records (a range of
        # an index either way), or one row with no record when the page is empty.
        if device_id is None:
            rows = self.database.fetch(PAGE_OF_EVERYTHING, (offset, limit))
        else:
            rows = self.database.fetch(PAGE_OF_DEVICE, (device_id, device_id, offset, limit))
        return int(rows[0][0]), [bytes(body) for _, body in rows if body is not None]

    def get(self, record_id: str) -> Record | None:
        rows = self.database.fetch("SELECT body FROM diagnostics WHERE id = %s", (record_id,))
        return orjson.loads(rows[0][0]) if rows else None

    def create(self, fields: Record) -> Record:
        """Store a new record behind an id from the shared sequence; committed when this returns."""
        with self.database.write(DIAGNOSTICS_LOCK) as connection:
            sequence, last = connection.execute(f"SELECT nextval('diag_ids'), ({LAST_POSITION})").fetchone()
            # An "id" among the fields must not replace the fresh one: ids are the server's alone.
            record = {"id": format_id(int(sequence)),
                      **{key: value for key, value in fields.items() if key != "id"}}
            raw = orjson.dumps(record)
            # The device's total moves in the same transaction as the insert, under the same lock.
            device_total = connection.execute(
                "INSERT INTO device_totals VALUES (%s, 1) ON CONFLICT (device_id) DO UPDATE "
                "SET total = device_totals.total + 1 RETURNING total", (record["device_id"],)).fetchone()[0]
            connection.execute("INSERT INTO diagnostics (position, id, device_id, device_position, "
                               "diagnostic_type, body) VALUES (%s, %s, %s, %s, %s, %s)",
                               (int(last) + 1, record["id"], record["device_id"], device_total,
                                record["diagnostic_type"], raw))
        return orjson.loads(raw)

    def update(self, record_id: str, changes: Record) -> Record:
        with self.database.write() as connection:
            row = connection.execute("SELECT body FROM diagnostics WHERE id = %s FOR UPDATE",
                                     (record_id,)).fetchone()
            if row is None:
                raise KeyError(record_id)
            record = orjson.loads(row[0])
            record.update(changes)
            raw = orjson.dumps(record)
            connection.execute("UPDATE diagnostics SET body = %s, diagnostic_type = %s WHERE id = %s",
                               (raw, record["diagnostic_type"], record_id))
        return orjson.loads(raw)

    def latest(self, device_id: str, diagnostic_type: str) -> Record | None:
        rows = self.database.fetch(
            "SELECT body FROM diagnostics WHERE device_id = %s AND diagnostic_type = %s "
            "ORDER BY device_position DESC LIMIT 1", (device_id, diagnostic_type))
        return orjson.loads(rows[0][0]) if rows else None

    def next_refresh(self, record_id: str) -> int:
        with self.database.write() as connection:
            row = connection.execute(
                "INSERT INTO refreshes VALUES (%s, 1) ON CONFLICT (record_id) DO UPDATE "
                "SET count = refreshes.count + 1 RETURNING count", (record_id,)).fetchone()
        return int(row[0])

    def version(self) -> None:
        """None: other instances change the data without this process knowing (``Store.version``)."""
        return None

    def stats(self) -> dict[str, int]:
        with self.database.read() as connection:
            devices = connection.execute("SELECT count(*) FROM devices").fetchone()[0]
            diagnostics = connection.execute(LAST_POSITION).fetchone()[0]
        return {"devices": int(devices), "diagnostics": int(diagnostics)}


class PostgresFaultBook:
    """The faults every instance sees, counters included (updated under the fault's row lock)."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    def armed(self) -> bool:
        # Another instance may add a fault at any time: only ``outcome``'s own query can tell.
        return True

    @staticmethod
    def _load(connection: Any, lock: bool = False) -> list[tuple[Fault, int, int]]:
        rows = connection.execute("SELECT id, body, matched, fired FROM faults ORDER BY position"
                                  + (" FOR UPDATE" if lock else "")).fetchall()
        return [(Fault(**orjson.loads(body), id=fault_id), int(matched), int(fired))
                for fault_id, body, matched, fired in rows]

    def add(self, faults: list[Fault]) -> list[Fault]:
        added = []
        with self.database.write() as connection:
            for fault in faults:
                number = connection.execute("SELECT nextval('fault_ids')").fetchone()[0]
                stored = Fault(**{**asdict(fault), "id": f"fault-{number}"})
                body = orjson.dumps({name: getattr(stored, name) for name in FIELDS})
                connection.execute("INSERT INTO faults (id, body) VALUES (%s, %s)", (stored.id, body))
                added.append(stored)
        return added

    def listing(self) -> list[dict[str, Any]]:
        with self.database.read() as connection:
            return [{**fault.to_json(), "matched": matched, "triggered": fired}
                    for fault, matched, fired in self._load(connection)]

    def remove(self, fault_id: str | None = None) -> int:
        with self.database.write() as connection:
            if fault_id is None:
                return int(connection.execute("DELETE FROM faults").rowcount)
            return int(connection.execute("DELETE FROM faults WHERE id = %s", (fault_id,)).rowcount)

    def outcome(self, method: str, path: str, seed: int, helpers: bool = False) -> Outcome:
        result = Outcome()
        # Most requests match no fault: find out in one statement, without locking any row.
        candidates = [Fault(**orjson.loads(body), id=fault_id) for fault_id, body in
                      self.database.fetch("SELECT id, body FROM faults ORDER BY position")]
        candidates = [fault for fault in candidates
                      if fault.helper_error == helpers and fault.matches(method, path)]
        if not candidates:
            return result
        with self.database.write() as connection:
            for fault, matched, fired in self._load(connection, lock=True):
                if fault.helper_error != helpers or not fault.matches(method, path):
                    continue
                triggered, latency_ms = roll(fault, matched + 1, seed)
                fired += int(triggered)
                if triggered and fault.times is not None and fired >= fault.times:
                    connection.execute("DELETE FROM faults WHERE id = %s", (fault.id,))
                else:
                    connection.execute("UPDATE faults SET matched = %s, fired = %s WHERE id = %s",
                                       (matched + 1, fired, fault.id))
                if triggered:
                    apply_fault(result, fault, latency_ms)
        return result


class PostgresJournal:
    """The last ``size`` entries of every instance (each entry names the instance that answered)."""

    def __init__(self, database: PostgresDatabase, size: int = JOURNAL_SIZE) -> None:
        self.database = database
        self.size = size

    def record(self, entry: dict[str, Any]) -> None:
        if self.size <= 0:
            return
        # One statement, one round trip (every request is journalled): the entry in, the oldest out.
        self.database.fetch(
            "WITH added AS (INSERT INTO journal (method, status, entry) VALUES (%s, %s, %s) "
            "RETURNING sequence) DELETE FROM journal WHERE sequence <= (SELECT sequence FROM added) - %s",
            (entry["method"], entry["status"], orjson.dumps(published(entry)), self.size))

    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        clauses, values = ["true"], []  # type: tuple[list[str], list[Any]]
        if method is not None:
            clauses.append("method = %s")
            values.append(method.upper())
        if status is not None:
            clauses.append("status = %s")
            values.append(status)
        where = " AND ".join(clauses)
        sql = f"SELECT sequence, entry FROM journal WHERE {where} ORDER BY sequence DESC LIMIT %s"
        with self.database.read() as connection:
            rows = connection.execute(sql, (*values, limit)).fetchall()
        return [{"id": int(sequence), **orjson.loads(raw)} for sequence, raw in rows]

    def count(self) -> int:
        with self.database.read() as connection:
            return int(connection.execute("SELECT count(*) FROM journal").fetchone()[0])

    def clear(self) -> int:
        with self.database.write() as connection:
            return int(connection.execute("DELETE FROM journal").rowcount)


def open_postgres(config: dict[str, Any], load_fixture: Callable[[], dict[str, Any]],
                  progress: ProgressCallback | None = None) -> PostgresStore:
    """The store of the database ``DIAGS_DB`` names: filled by the first instance, joined by the others.

    ``progress(done, total)`` hears how the first fill's ``COPY`` of the diagnostics goes.
    """
    store = PostgresStore(PostgresDatabase(config["DIAGS_DB"]))
    try:
        store.initialize(load_fixture, int(config["DIAGS_SEED"]), data_options(config), progress)
    except BaseException:
        store.database.close()
        raise
    # Unlike SQLite's, the faults and the journal are not cleared at a start: other instances use them.
    return store


__all__ = ["DataMismatch", "PostgresDatabase", "PostgresFaultBook", "PostgresJournal", "PostgresStore",
           "data_options", "is_postgres_url", "masked", "open_postgres"]
