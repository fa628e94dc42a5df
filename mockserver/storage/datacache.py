"""The cache of large generated data: store images kept in the user's cache folder between starts.

Generating a million diagnostics takes most of a minute. So the data that ``serve`` prepares for
the in-memory store (see ``serving.prepare``) is kept as a store image (``images``: the store's own
structures, which load in one step) in a cache folder (``$XDG_CACHE_HOME/diags-kit``, else
``~/.cache/diags-kit``; ``--cache-dir`` and ``--no-cache`` override it), named by a key of everything
that shapes the data: the seed, the sizes, the reference time, the Faker version, the generator's
own code and the entry's format.
A later start with the same data loads that entry instead of generating it again.

An entry is written to a temporary file in the same folder, read back, then linked into place: a
killed start leaves only a temporary file (removed a day later), and of two starts writing the same
entry at once the first one linked wins, the other uses it. An entry that cannot be read is
generated again, with a warning. At most ``MAX_ENTRIES`` are kept, the least recently used go first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import fixtures

from .images import IMAGE_FORMAT, IMAGE_SUFFIX, ImageError, read_header
from .snapshots import PreparationError, data_problem_apart

#: The layout of a cache entry: change it when what an entry holds changes in a way its key misses.
#: 1 was a SQLite snapshot, loaded record by record; 2 is a store image.
FORMAT_VERSION = 2
#: Entries kept in the folder; writing one more removes the least recently used.
MAX_ENTRIES = 4
ENTRY_PREFIX, ENTRY_SUFFIX, TEMPORARY_SUFFIX = "snapshot-", IMAGE_SUFFIX, ".tmp"
#: A temporary file this old was left by a start that was killed: nobody is writing it any more.
ABANDONED_SECONDS = 24 * 3600


def default_folder() -> Path:
    """The user's cache folder for diags-kit: ``$XDG_CACHE_HOME/diags-kit``, else ``~/.cache/diags-kit``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG specification: a relative path is invalid and is ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "diags-kit"


def cache_folder(settings: dict[str, Any]) -> Path | None:
    """The cache folder that ``settings`` ask for (``DIAGS_CACHE_DIR``), None with ``DIAGS_NO_CACHE``."""
    if settings.get("DIAGS_NO_CACHE"):
        return None
    chosen = settings.get("DIAGS_CACHE_DIR")
    return Path(chosen).expanduser() if chosen else default_folder()


def _generator_fingerprint() -> str:
    """A digest of the generator's code: data made by another version of it is other data."""
    digest = hashlib.sha256()
    package = Path(fixtures.__file__).parent
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def key_inputs(settings: dict[str, Any]) -> dict[str, Any]:
    """Everything that shapes the generated data of ``settings``."""
    return {
        "format": FORMAT_VERSION,
        "image": IMAGE_FORMAT,
        "seed": int(settings["DIAGS_SEED"]),
        "devices": int(settings["DIAGS_DEVICES"]),
        "diags": int(settings["DIAGS_DIAGS"]),
        "reference_time": str(settings["DIAGS_REFERENCE_TIME"]),
        "faker": metadata.version("Faker"),
        "generator": _generator_fingerprint(),
    }


def cache_key(settings: dict[str, Any]) -> str:
    """The name of the data of ``settings`` in the cache: equal exactly when ``key_inputs`` are."""
    shaping = json.dumps(key_inputs(settings), sort_keys=True).encode()
    return hashlib.sha256(shaping).hexdigest()[:32]


def entry_path(folder: Path, settings: dict[str, Any]) -> Path:
    return folder / f"{ENTRY_PREFIX}{cache_key(settings)}{ENTRY_SUFFIX}"


def entry_problem(path: Path, settings: dict[str, Any]) -> str | None:
    """Why the snapshot at ``path`` does not hold the data of ``settings`` in full, or None."""
    try:
        header = read_header(path)
    except (ImageError, OSError) as error:
        return str(error)
    expected = (int(settings["DIAGS_SEED"]), int(settings["DIAGS_DEVICES"]), int(settings["DIAGS_DIAGS"]))
    found = (header.get("seed"), header.get("devices"), header.get("diagnostics"))
    if found != expected:
        return f"it holds seed, devices, diagnostics {found}, not {expected}"
    return None


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _publish(written: Path, entry: Path) -> None:
    """Put ``written`` in place as ``entry``; if another start got there first, keep theirs."""
    try:
        os.link(written, entry)
    except FileExistsError:
        pass  # the same data, written and checked by another start
    except OSError:
        os.replace(written, entry)  # a file system without hard links: a rename is atomic too


def prune(folder: Path, keep: tuple[Path, ...]) -> None:
    """Keep the ``MAX_ENTRIES`` entries used last (``keep`` among them); remove abandoned temporary files."""
    now = time.time()
    entries: list[tuple[float, Path]] = []
    for path in folder.iterdir():
        try:
            modified = path.stat().st_mtime
        except OSError:
            continue  # removed meanwhile by another start
        if path.name.endswith(TEMPORARY_SUFFIX) and now - modified > ABANDONED_SECONDS:
            _remove(path)
        elif path.name.startswith(ENTRY_PREFIX) and path.name.endswith(ENTRY_SUFFIX) and path not in keep:
            entries.append((modified, path))
    for _, old in sorted(entries, reverse=True)[max(MAX_ENTRIES - len(keep), 0):]:
        _remove(old)


def cached_snapshot(settings: dict[str, Any], folder: Path, in_use: tuple[Path, ...] = ()) -> Path:
    """The cache entry of the data of ``settings`` in ``folder``, generated by a child first if needed.

    Entries ``in_use`` (a server's start-up data, when a reset makes another seed's) are never pruned.

    Raises ``OSError`` when the folder cannot be used, ``PreparationError`` when the data cannot be made.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        # Entries are written here, and a used one is marked so (its time), to be pruned last.
        raise PermissionError(f"cannot write in {folder}")
    entry = entry_path(folder, settings)
    if entry.exists():
        problem = entry_problem(entry, settings)
        if problem is None:
            with contextlib.suppress(OSError):  # another user's entry in a shared folder
                os.utime(entry)  # used now: the last to be pruned
            print(f"diags-kit mock: using the cached data {entry}", flush=True)
            return entry
        print(f"warning: the cached data {entry} cannot be used ({problem}); generating it again",
              file=sys.stderr, flush=True)
        _remove(entry)
    print(f"diags-kit mock: generating the data and writing the cache {entry}", flush=True)
    written = folder / f".{entry.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}{TEMPORARY_SUFFIX}"
    try:
        problem = data_problem_apart({**settings, "DIAGS_IMAGE": str(written)}, "the start-up snapshot")
        if problem:
            raise PreparationError(problem)
        problem = entry_problem(written, settings)
        if problem:
            raise PreparationError(f"the data written to the cache cannot be read back: {problem}")
        _publish(written, entry)
    finally:
        _remove(written)
    prune(folder, keep=(entry, *in_use))
    return entry
