"""The in-memory store's own structures in a file that loads in one step: the cache's entries.

Loading a snapshot record by record rebuilds the store's lists and dictionaries in a Python loop:
about 4 s for a million records. A *store image* holds those structures as they are (flat lists
and dictionaries of bytes, strings and integers), pickled, and loads in one call to the unpickler,
in a third to a half of that time, without ever holding the file and the store at once.

A file is a header (what the image holds: the format, the seed, the counts), the image, and an end
mark that tells a complete file from a cut one. The unpickler used here refuses every class and
function (``_DataOnly``): an image from a shared cache folder can hold data, never code to run.
"""

from __future__ import annotations

import gc
import io
import pickle
from pathlib import Path
from typing import Any, BinaryIO

from .memory import MemoryStore, StoreImage

#: Change it when what an image holds changes.
IMAGE_FORMAT = 1
IMAGE_SUFFIX = ".image"
END_MARK = b"\ndiags-kit store image end\n"
PROTOCOL = 5


class ImageError(Exception):
    """The file is not a complete store image of this format."""


class _DataOnly(pickle.Unpickler):
    """An unpickler of plain data: lists, dictionaries, tuples, strings, bytes and numbers only."""

    def find_class(self, module: str, name: str) -> Any:
        raise ImageError(f"it names {module}.{name}, and an image holds data only")


def write_image(path: Path, store: MemoryStore, seed: int) -> None:
    """Write ``store``'s structures to ``path``, made with ``seed``.

    The pickler's memo writes each string once, however many devices share it (keys, ids), and the
    image restores them shared: without it, the store of a million records held 70 MB more.
    """
    stats = store.stats()
    header = {"format": IMAGE_FORMAT, "seed": seed, **stats}
    with path.open("wb") as file:
        pickle.dump(header, file, protocol=PROTOCOL)
        pickle.dump(store.image(), file, protocol=PROTOCOL)
        file.write(END_MARK)


def _header(file: BinaryIO) -> dict[str, Any]:
    try:
        header = _DataOnly(file).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as error:
        raise ImageError(f"it is not a store image ({error or type(error).__name__})") from None
    if not isinstance(header, dict) or header.get("format") != IMAGE_FORMAT:
        raise ImageError("it is not a store image of this version")
    return header


def _check_end(file: BinaryIO) -> None:
    file.seek(-len(END_MARK), io.SEEK_END)
    if file.read() != END_MARK:
        raise ImageError("it is cut short")


def read_header(path: Path) -> dict[str, Any]:
    """What the image at ``path`` holds (``seed``, ``devices``, ``diagnostics``), once it is known complete.

    Raises ``ImageError`` for anything else, ``OSError`` when the file cannot be read.
    """
    with path.open("rb") as file:
        header = _header(file)
        _check_end(file)
    return header


def read_image(path: Path) -> StoreImage:
    """The structures of the image at ``path``, for ``MemoryStore.restore``."""
    with path.open("rb") as file:
        _check_end(file)
        file.seek(0)
        _header(file)
        # A million new objects, none of them garbage: collections meanwhile would walk them for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            image = _DataOnly(file).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as error:
            raise ImageError(f"its data cannot be read ({error or type(error).__name__})") from None
        finally:
            if collecting:
                gc.enable()
    restorable: StoreImage = image
    return restorable


def is_image(path: str | Path) -> bool:
    return str(path).endswith(IMAGE_SUFFIX)
