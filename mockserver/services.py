"""What a request needs besides Flask: the store, the clock, the seed and the helper configuration.

``init_app`` builds them once per app from its config; views reach them with ``services()``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app

import fixtures
from fixtures import ProgressCallback

from .storage.memory import MemoryStore, Store
from .storage.sqlite import Database, SqliteStore, clear_runtime

EXTENSION = "diags"


@dataclass
class Services:
    """The app's long-lived parts."""

    store: Store
    seed: int
    helper_config: Any
    clock: Callable[[], datetime]
    #: The start-up data; None with a database, which holds it (a reset loads it again from the config).
    fixture: dict[str, Any] | None
    #: The SQLite file behind the store (``DIAGS_DB``); None for the in-memory store.
    database: Database | None = None
    #: The snapshot the in-memory store was loaded from (``DIAGS_SNAPSHOT``, see ``prepare``), if any.
    snapshot: str | None = None


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
    """Fill ``store`` from a snapshot (``prepare``), record by record: no object of the data is kept."""
    snapshot = SqliteStore(Database(path))
    try:
        store.load(snapshot.devices(), snapshot.rows())
    finally:
        snapshot.database.close()


def open_database(config: dict[str, Any]) -> SqliteStore:
    """The SQLite store of ``DIAGS_DB``, filled from the fixture if the file is new.

    Unless the serving process has already done it for its workers (``DIAGS_DB_PREPARED``), the
    faults and the request journal of an earlier run are cleared: only the data outlives a restart.
    """
    store = SqliteStore(Database(config["DIAGS_DB"]))
    store.initialize(lambda: load_fixture(config), int(config["DIAGS_SEED"]))
    if not config.get("DIAGS_DB_PREPARED"):
        clear_runtime(store.database)
    return store


def init_app(app: Flask) -> None:
    """Load the data and attach the services to ``app``."""
    store: Store
    fixture: dict[str, Any] | None = None
    database: Database | None = None
    seed: int | None = None
    if app.config.get("DIAGS_DB"):
        # A filled database is not generated again: with a million records that takes minutes per worker.
        sqlite = open_database(app.config)
        store, database, seed = sqlite, sqlite.database, sqlite.seed()
    elif app.config.get("DIAGS_SNAPSHOT"):
        memory = MemoryStore()
        load_snapshot(memory, app.config["DIAGS_SNAPSHOT"])
        store = memory
    else:
        fixture = load_fixture(app.config)
        store = MemoryStore(fixture)
    app.extensions[EXTENSION] = Services(
        store=store,
        database=database,
        seed=int(app.config["DIAGS_SEED"]) if seed is None else seed,
        helper_config=app.config["DIAGS_HELPERS"],
        clock=app.config["DIAGS_CLOCK"],
        fixture=fixture,
        snapshot=app.config.get("DIAGS_SNAPSHOT"),
    )


def services_of(app: Flask) -> Services:
    """``app``'s services, outside a request."""
    found: Services = app.extensions[EXTENSION]
    return found


def services() -> Services:
    """The current app's services."""
    found: Services = current_app.extensions[EXTENSION]
    return found


def freeze_long_lived_objects() -> None:
    """Keep what exists now (modules, the app, the data) out of every later garbage collection.

    A served worker calls this once its app is built. Python's full collections walk every tracked
    object and stall every request meanwhile: with the default data one took 20-35 ms every few
    seconds under load, which made the p99 latency; with a million records, far longer. Frozen,
    they take under a millisecond.
    """
    gc.collect()
    gc.freeze()


def refreeze_after_reset() -> None:
    """After a reset, freeze the new data too, in a process that froze before (never in tests)."""
    if gc.get_freeze_count():
        freeze_long_lived_objects()
