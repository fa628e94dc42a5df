"""The start-up data, prepared by ``serve`` in a child process before the workers start.

Python keeps the memory of the objects it frees, and granian's workers are forked from the
serving process: a million records generated there would stay in every process of the server
for its whole life. So whatever needs the whole data set runs in a spawned child, a fresh
interpreter that gives all of it back when it exits:

- checking a fixture file (``--fixtures``);
- filling a new database (``--db``), which the workers then share;
- for the in-memory store, a large generated data set (``SNAPSHOT_MIN_DIAGS`` diagnostics or
  more) is written to a *snapshot*, a temporary SQLite file in the same format, and the worker
  loads its store from it record by record (``storage.startup.load_snapshot``): it never holds the
  data as Python objects, whose memory it would keep. A reset loads the snapshot again; a reset
  with a new seed has a child write that seed's snapshot (``seed_snapshot``) and loads it.
  Smaller data is generated in the worker, which is faster than starting a child.
- with the cache (the default), the child writes that data to a cache folder (``storage.datacache``)
  as a store image instead, the store's own structures, which the worker loads in one step, and a
  later start with the same data finds it there and is served in seconds; ``--no-cache`` makes a
  temporary snapshot, removed at the end.

The child's work itself lives with the storage (``storage.snapshots``), which the admin API's
reset uses too.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..storage.datacache import cache_folder, cached_snapshot
from ..storage.postgres import is_postgres_url
from ..storage.snapshots import (
    PROGRESS_SHOWN_FROM,
    PreparationError,
    data_problem,
    data_problem_apart,
    print_progress,
    seed_snapshot,
)
from ..storage.sqlite import Database, DatabaseError, SqliteStore

#: From this many generated diagnostics on, the in-memory store is loaded from a snapshot.
SNAPSHOT_MIN_DIAGS = 50_000
SNAPSHOT_NAME = "start-data.sqlite"


def wants_snapshot(settings: dict[str, Any]) -> bool:
    """Whether the in-memory store of ``settings`` is to be loaded from a snapshot (see above).

    ``DIAGS_SNAPSHOT_MIN_DIAGS`` lowers or raises ``SNAPSHOT_MIN_DIAGS`` (tests use small data).
    """
    given = settings.get("DIAGS_FIXTURE") is not None or settings.get("DIAGS_FIXTURES_PATH")
    threshold = settings.get("DIAGS_SNAPSHOT_MIN_DIAGS") or SNAPSHOT_MIN_DIAGS
    return (not settings.get("DIAGS_DB") and not given
            and int(settings["DIAGS_DIAGS"]) >= int(threshold))


def _from_the_cache(settings: dict[str, Any]) -> bool:
    """Point ``DIAGS_SNAPSHOT`` at the cache entry of this data (written first if new); False if none."""
    folder = cache_folder(settings)
    if folder is None:
        return False
    try:
        settings["DIAGS_SNAPSHOT"] = str(cached_snapshot(settings, folder))
    except OSError as error:
        print(f"warning: cannot use the cache folder {folder} ({error}); the data is not kept for the "
              "next start (--cache-dir DIR to choose another)", file=sys.stderr, flush=True)
        return False
    return True


def prepare_data(settings: dict[str, Any]) -> Path | None:
    """Check the fixture file, fill a new database or write a snapshot, away from this process.

    Sets ``DIAGS_SNAPSHOT`` in ``settings`` when it writes one, and returns the temporary folder
    that holds it, for the caller to remove once the server has stopped.
    """
    database = settings["DIAGS_DB"]
    if is_postgres_url(database):
        # The serving process fills or joins a PostgreSQL database itself; only a fixture file is checked.
        problem = settings["DIAGS_FIXTURES_PATH"] and data_problem_apart({**settings, "DIAGS_DB": None},
                                                                          "--db")
        if problem:
            raise PreparationError(problem)
        return None
    filled = True
    if database:
        try:
            store = SqliteStore(Database(database))
        except DatabaseError as error:
            raise PreparationError(f"cannot use --db {database}: {error}") from None
        filled = store.filled()
        store.database.close()
    scratch: Path | None = None
    child_settings, label = settings, f"--db {database}"
    if wants_snapshot(settings) and _from_the_cache(settings):
        return None
    if wants_snapshot(settings):
        scratch = Path(tempfile.mkdtemp(prefix="diags-kit-"))
        settings["DIAGS_SNAPSHOT"] = str(scratch / SNAPSHOT_NAME)
        child_settings, label = {**settings, "DIAGS_DB": settings["DIAGS_SNAPSHOT"]}, "the start-up snapshot"
        filled = False
    if settings["DIAGS_FIXTURES_PATH"] or not filled:
        problem = data_problem_apart(child_settings, label)
        if problem:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            raise PreparationError(problem)
    return scratch


__all__ = ["PROGRESS_SHOWN_FROM", "PreparationError", "data_problem", "data_problem_apart", "prepare_data",
           "print_progress", "seed_snapshot", "wants_snapshot"]
