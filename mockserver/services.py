"""The app's long-lived parts: the store, the fault book, the journal, the reset gate, the seed and the clock.

``init_app`` builds them once per app from its config, as one ``Services``; everything else reaches
them one way, ``services_of(app)`` (in a view: ``services_of(current_app)``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask

from .core.config import JOURNAL_SIZE
from .core.gate import ResetGate
from .storage.base import FaultBook, Journal, Store
from .storage.memory import MemoryStore
from .storage.postgres import PostgresDatabase
from .storage.sqlite import Database
from .storage.startup import load_fixture, load_snapshot, open_database, open_fault_book, open_journal

EXTENSION = "diags"


@dataclass
class Services:
    """The app's long-lived parts."""

    store: Store
    #: The injected faults (``control.faults``); a table of the database, if there is one.
    faults: FaultBook
    #: The request journal (``control.journal``); a table of the database, if there is one.
    journal: Journal
    #: Requests share it, a reset holds it alone (``control.admin``).
    gate: ResetGate
    seed: int
    helper_config: Any
    clock: Callable[[], datetime]
    #: The start-up data; None with a database, which holds it (a reset loads it again from the config).
    fixture: dict[str, Any] | None
    #: The SQLite file or PostgreSQL database behind the store (``DIAGS_DB``); None for the in-memory store.
    database: Database | PostgresDatabase | None = None
    #: The snapshot the in-memory store was loaded from (``DIAGS_SNAPSHOT``, see ``prepare``), if any.
    snapshot: str | None = None
    #: The fixture file the data being served was read from; None for generated data (after a reset
    #: with a seed too).
    fixtures_path: str | None = None
    #: Encoded pages by request, each with the store's ``version`` it was made from (``api.resource``).
    pages: dict[Hashable, tuple[int, bytes]] = field(default_factory=dict)


def init_app(app: Flask) -> None:
    """Load the data, open the fault book and the journal beside it, and attach them to ``app``."""
    store: Store
    fixture: dict[str, Any] | None = None
    database: Database | PostgresDatabase | None = None
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
        faults=open_fault_book(database),
        journal=open_journal(database, int(app.config.get("DIAGS_JOURNAL_SIZE", JOURNAL_SIZE))),
        gate=ResetGate(),
        database=database,
        seed=int(app.config["DIAGS_SEED"]) if seed is None else seed,
        helper_config=app.config["DIAGS_HELPERS"],
        clock=app.config["DIAGS_CLOCK"],
        fixture=fixture,
        snapshot=app.config.get("DIAGS_SNAPSHOT"),
        fixtures_path=app.config.get("DIAGS_FIXTURES_PATH") or None,
    )


def services_of(app: Flask) -> Services:
    """``app``'s long-lived parts (the one way to reach them)."""
    services: Services = app.extensions[EXTENSION]
    return services


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


__all__ = ["EXTENSION", "Services", "freeze_long_lived_objects", "init_app", "load_fixture", "load_snapshot",
           "open_database", "refreeze_after_reset", "services_of"]
