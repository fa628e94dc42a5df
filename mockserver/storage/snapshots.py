"""Data made in a spawned child, so that the process that serves never holds the memory of making it.

Python keeps the memory of the objects it frees, and granian's workers are forked from the serving
process: a million records generated there would stay in every process of the server for its
whole life. So whatever needs the whole data set runs in a fresh interpreter that gives all of it
back when it exits (``data_problem_apart``): checking a fixture file, filling a new database, and
writing a *snapshot*, a SQLite file that an in-memory store is then loaded from record by record
(``startup.load_snapshot``), or a *store image* for the cache (``images``), which loads in one step. A
reset with another seed has a child write that seed's snapshot (``seed_snapshot``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import fixtures

from .base import Record, Row, pack
from .images import write_image
from .memory import MemoryStore
from .sqlite import Database, DatabaseError, SqliteStore
from .startup import load_fixture

#: Data smaller than this is made in moments: its preparation prints no progress.
PROGRESS_SHOWN_FROM = 50_000
#: How many records a line of progress waits for.
PROGRESS_STEP = 10_000


def print_progress(what: str, shown_from: int = 0) -> fixtures.ProgressCallback:
    """A ``progress(done, total)`` that keeps one line on standard error: ``what: done of total (n%)``."""

    def report(done: int, total: int) -> None:
        if total >= shown_from:
            print(f"\r{what}: {done:,} of {total:,} ({done * 100 // max(total, 1)}%)",
                  end="" if done < total else "\n", file=sys.stderr, flush=True)

    return report


class PreparationError(Exception):
    """The data cannot be prepared; the message says why, for the person who started the server."""


def data_problem(settings: dict[str, Any], database_label: str) -> str | None:
    """Check the fixture file and fill the new database named in ``settings``; why that failed, or None.

    This loads or generates the whole data set, so ``prepare_data`` runs it in a child process.
    ``database_label`` names the database in messages (``--db FILE``, or the snapshot).
    """
    if settings.get("DIAGS_IMAGE"):
        return image_problem(settings, Path(settings["DIAGS_IMAGE"]), database_label)
    path, database = settings["DIAGS_FIXTURES_PATH"], settings["DIAGS_DB"]
    loaded: dict[str, Any] | None = None
    if path:
        try:
            loaded = fixtures.load(path)
        except (OSError, fixtures.FixtureError) as error:
            return f"cannot use the fixture file {path}: {error}"
    if database:
        generating, writing = (print_progress(f"diags-kit mock: {step} {database_label}", PROGRESS_SHOWN_FROM)
                               for step in ("generating", "writing"))
        try:
            store = SqliteStore(Database(database))
            try:
                store.initialize(lambda: loaded if loaded is not None else load_fixture(settings, generating),
                                 int(settings["DIAGS_SEED"]), writing)
            finally:
                store.database.close()
        except (DatabaseError, sqlite3.Error) as error:
            return f"cannot use {database_label}: {error}"
        except ValueError as error:
            return f"cannot generate the data for {database_label}: {error}"
    return None


def _spill(records: list[Record | None], spill: IO[bytes], progress: fixtures.ProgressCallback) -> None:
    """Write ``records`` packed to ``spill``, in pickled chunks, letting each record go as it is written."""
    total, chunk = len(records), []
    for done, record in enumerate(records, start=1):
        assert record is not None
        records[done - 1] = None
        chunk.append((record["id"], record["device_id"], pack(record)))
        if done % PROGRESS_STEP == 0 or done == total:
            pickle.dump(chunk, spill, protocol=pickle.HIGHEST_PROTOCOL)
            chunk = []
            progress(done, total)


def _spilled_rows(spill: IO[bytes]) -> Iterator[Row]:
    spill.seek(0)
    while True:
        try:
            chunk: list[Row] = pickle.load(spill)  # a file this process has just written
        except EOFError:
            return
        yield from chunk


def image_problem(settings: dict[str, Any], path: Path, label: str) -> str | None:
    """Generate the data of ``settings`` and write its store image to ``path``; why that failed, or None.

    The records go through a temporary file on their way from the generated data to the store, so
    that the store is built once the generated data is gone: both at once would hold half as much again.
    """
    generating, writing = (print_progress(f"diags-kit mock: {step} {label}", PROGRESS_SHOWN_FROM)
                           for step in ("generating", "writing"))
    try:
        fixture = load_fixture(settings, generating)
    except ValueError as error:
        return f"cannot generate the data for {label}: {error}"
    devices = fixture["devices"]
    store = MemoryStore()
    try:
        with tempfile.TemporaryFile(dir=path.parent) as spill:
            _spill(fixture["diagnostics"], spill, writing)
            del fixture
            store.load(devices, _spilled_rows(spill))
        write_image(path, store, int(settings["DIAGS_SEED"]))
    except OSError as error:
        return f"cannot write {label}: {error}"
    return None


def _answer_data_problem(settings: dict[str, Any], database_label: str, answer: Connection) -> None:
    problem = data_problem(settings, database_label)
    # A broken pipe: the serving process was stopped meanwhile, and nobody is left to tell.
    with contextlib.suppress(BrokenPipeError):
        answer.send(problem)
    answer.close()


def data_problem_apart(settings: dict[str, Any], database_label: str) -> str | None:
    """``data_problem`` in a fresh interpreter, which gives all the data's memory back when it exits."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_answer_data_problem, args=(settings, database_label, sender),
                            name="diags-kit data")
    child.start()
    sender.close()
    try:
        problem: str | None = receiver.recv()
    except EOFError:
        problem = None  # it died without answering: its exit code says so below
    except BaseException:
        child.terminate()
        raise
    finally:
        child.join()
        receiver.close()
    if child.exitcode != 0:
        return f"preparing the data failed (exit code {child.exitcode}); its error is above"
    return problem


#: What generating the data depends on, all that a child writing another seed's snapshot is given.
GENERATION_SETTINGS = ("DIAGS_DEVICES", "DIAGS_DIAGS", "DIAGS_REFERENCE_TIME")


@contextlib.contextmanager
def seed_snapshot(settings: dict[str, Any], start_snapshot: str, seed: int) -> Iterator[str]:
    """A snapshot of the data that ``seed`` generates, written by a child, removed when the block ends."""
    path = Path(start_snapshot).with_name(f"seed-{seed}-{uuid.uuid4().hex}.sqlite")
    child_settings = {**{name: settings[name] for name in GENERATION_SETTINGS}, "DIAGS_SEED": seed,
                      "DIAGS_DB": str(path), "DIAGS_FIXTURE": None, "DIAGS_FIXTURES_PATH": None}
    try:
        problem = data_problem_apart(child_settings, f"the snapshot of seed {seed}")
        if problem:
            raise PreparationError(problem)
        yield str(path)
    finally:
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
