"""For tests of ``--db``: another worker's write lock on the shared SQLite file, held for a while."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def another_worker_writing(database: Path) -> Iterator[None]:
    """Another worker's write lock on ``database``, held for the block."""
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
