"""What a store starts from: the fixture (given, a file, or generated from the seed), a snapshot, a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fixtures
from fixtures import ProgressCallback

from ..core.config import JOURNAL_SIZE
from .base import FaultBook, Journal, Store
from .images import is_image, read_image
from .memory import MemoryFaultBook, MemoryJournal
from .postgres import (
    PostgresDatabase,
    PostgresFaultBook,
    PostgresJournal,
    PostgresStore,
    is_postgres_url,
    masked,
    open_postgres,
)
from .sqlite import Database, SqliteFaultBook, SqliteJournal, SqliteStore, clear_runtime


def load_fixture(config: dict[str, Any], progress: ProgressCallback | None = None) -> dict[str, Any]:
    """The data to start from: a given fixture, a fixture file, or data generated from the seed.

    ``progress(done, total)`` hears how a generation goes (see ``fixtures.generate``).
    """
    if config.get("DIAGS_FIXTURE") is not None:
        fixture: dict[str, Any] = config["DIAGS_FIXTURE"]
        return fixture
    if config.get("DIAGS_FIXTURES_PATH"):
        return fixtures.load(config["DIAGS_FIXTURES_PATH"])
    wanted = (
        config["DIAGS_SEED"], config["DIAGS_DEVICES"], config["DIAGS_DIAGS"], config["DIAGS_REFERENCE_TIME"]
    )
    defaults = (fixtures.DEFAULT_SEED, fixtures.DEFAULT_DEVICES, fixtures.DEFAULT_DIAGS,
                fixtures.DEFAULT_REFERENCE_TIME)
    if wanted == defaults:
        return fixtures.default()
    return fixtures.generate(*wanted, progress=progress)


def load_snapshot(store: Store, path: str) -> None:
    """Fill ``store`` from a snapshot (``prepare``), record by record: no object of the data is kept.

    A store image (``images``, what the cache keeps) fills an in-memory store in one step instead.
    """
    if is_image(path):
        # Only the in-memory store (behind any wrapper, which passes the call on) takes an image.
        restore = getattr(store, "restore", None)
        if restore is None:
            raise TypeError(f"a store image fills an in-memory store, not {type(store).__name__}")
        restore(read_image(Path(path)))
        return
    snapshot = SqliteStore(Database(path))
    try:
        store.load(snapshot.devices(), snapshot.rows())
    finally:
        snapshot.database.close()


def open_database(config: dict[str, Any]) -> SqliteStore | PostgresStore:
    """The store of ``DIAGS_DB``, filled from the fixture if the file (or PostgreSQL database) is new.

    Unless the serving process has already done it for its workers (``DIAGS_DB_PREPARED``), the
    faults and the request journal of an earlier run are cleared: only the data outlives a restart.
    """
    if is_postgres_url(config["DIAGS_DB"]):
        from .snapshots import PROGRESS_SHOWN_FROM, print_progress  # here: snapshots imports this module

        generating, writing = (print_progress(f"diags-kit mock: {step} --db {masked(config['DIAGS_DB'])}",
                                              PROGRESS_SHOWN_FROM) for step in ("generating", "writing"))
        return open_postgres(config, lambda: load_fixture(config, generating), writing)
    store = SqliteStore(Database(config["DIAGS_DB"]))
    store.initialize(lambda: load_fixture(config), int(config["DIAGS_SEED"]))
    if not config.get("DIAGS_DB_PREPARED"):
        clear_runtime(store.database)
    return store


def open_fault_book(database: Database | PostgresDatabase | None) -> FaultBook:
    """The faults: in this process, or in ``database``, where every worker sees them."""
    if isinstance(database, PostgresDatabase):
        return PostgresFaultBook(database)
    return SqliteFaultBook(database) if database is not None else MemoryFaultBook()


def open_journal(database: Database | PostgresDatabase | None, size: int = JOURNAL_SIZE) -> Journal:
    """The request journal: in this process, or in ``database``, where every worker writes."""
    if isinstance(database, PostgresDatabase):
        return PostgresJournal(database, size)
    return SqliteJournal(database, size) if database is not None else MemoryJournal(size)
