"""What every storage backend offers: the ``Store``, ``FaultBook`` and ``Journal`` protocols, their records.

A backend is one module of this package (``memory``, ``sqlite``) that implements all three; the
app opens them through ``startup``. Nothing here depends on Flask or on a request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from ..core.config import ADMIN_PREFIX
from ..core.timestamps import format_timestamp

Record = dict[str, Any]
Device = dict[str, Any]

ID_PREFIX = "diag-"
#: A stored record as ``load`` takes it: its id, its device's id, and the record as ``pack`` writes it.
Row = tuple[str, str, bytes]


class StoreBusy(RuntimeError):
    """Another process held the store's lock for longer than the caller could wait; nothing changed."""

    def __init__(self, waited: float, cut_short: bool = False) -> None:
        super().__init__(f"the store stayed locked for {waited:g} s")
        self.waited = waited
        #: Whether the request's deadline ended the wait before the store's own longest wait.
        self.cut_short = cut_short


def pack(record: Record) -> bytes:
    """``record`` as compact JSON bytes, sized to fit.

    orjson hands back its bytes inside a buffer of several kilobytes: kept as they are, a million
    records of ~500 bytes held ~5 GB. A copy through ``memoryview`` is exactly as long as the JSON.
    """
    return bytes(memoryview(orjson.dumps(record)))


def sequence_of(record_id: str) -> int:
    """The sequence number in an id of our own format (``diag-042`` is 42); 0 for any other id."""
    digits = record_id.removeprefix(ID_PREFIX)
    return int(digits) if record_id.startswith(ID_PREFIX) and digits.isascii() and digits.isdigit() else 0


def format_id(sequence: int) -> str:
    """The id of the ``sequence``-th record: ``diag-001``, ..., ``diag-1000``."""
    return f"{ID_PREFIX}{sequence:03d}"


class Store(Protocol):
    """What the API needs from a store; every store passes the same tests."""

    def device(self, device_id: str) -> Device | None: ...
    def devices(self) -> list[Device]: ...
    def add_device(self, device: Device) -> Device: ...
    def page(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[Record]]: ...
    def page_json(self, device_id: str | None, offset: int, limit: int) -> tuple[int, list[bytes]]: ...
    def get(self, record_id: str) -> Record | None: ...
    def create(self, fields: Record) -> Record: ...
    def update(self, record_id: str, changes: Record) -> Record: ...
    def latest(self, device_id: str, diagnostic_type: str) -> Record | None: ...
    def next_refresh(self, record_id: str) -> int: ...
    def reset(self, fixture: dict[str, Any], seed: int | None = None) -> None: ...
    def load(self, devices: Iterable[Device], rows: Iterable[Row]) -> None: ...
    def seed(self) -> int | None: ...
    def stats(self) -> dict[str, int]: ...
    def version(self) -> int | None:
        """A number that changes with every change of the data, so that what was made from the data can be
        kept until then; None for a store that others change too (a database), whose changes this process
        does not see."""
        ...


# --- Faults ------------------------------------------------------------------------------------------

ANY = "*"
FIELDS = ("method", "path", "latency_ms", "latency_max_ms", "status", "rate", "drop", "helper_error",
          "times", "seed")


@dataclass(frozen=True)
class Fault:
    """One checked fault definition (``id`` is given when it is added)."""

    method: str = ANY
    path: str = ANY
    latency_ms: int = 0
    latency_max_ms: int | None = None
    status: int | None = None
    rate: float = 1.0
    drop: bool = False
    helper_error: bool = False
    times: int | None = None
    seed: int | None = None
    id: str = ""

    def matches(self, method: str, path: str) -> bool:
        if path.startswith(ADMIN_PREFIX) or (self.method != ANY and self.method != method.upper()):
            return False
        if self.path == ANY:
            return True
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path.rstrip("/") == self.path.rstrip("/")

    def definition(self) -> bytes:
        """The fault without its id: equal definitions trigger on the same requests."""
        return orjson.dumps({name: value for name, value in asdict(self).items() if name != "id"},
                            option=orjson.OPT_SORT_KEYS)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **{name: getattr(self, name) for name in FIELDS}}


@dataclass
class Outcome:
    """What the faults do to one request."""

    latency_ms: int = 0
    status: int | None = None
    drop: bool = False
    cause: str | None = None
    triggered: list[str] = field(default_factory=list)


def roll(fault: Fault, number: int, seed: int) -> tuple[bool, int]:
    """Whether the ``number``-th matching request triggers ``fault``, and the latency it then adds."""
    key = b"%d:%d:" % (fault.seed if fault.seed is not None else seed, number) + fault.definition()
    digest = hashlib.sha256(key).digest()
    if int.from_bytes(digest[:8], "big") / 2**64 >= fault.rate:
        return False, 0
    if fault.latency_max_ms is None:
        return True, fault.latency_ms
    spread = fault.latency_max_ms - fault.latency_ms + 1
    return True, fault.latency_ms + int.from_bytes(digest[8:16], "big") % spread


def apply_fault(outcome: Outcome, fault: Fault, latency_ms: int) -> None:
    outcome.triggered.append(fault.id)
    outcome.latency_ms += latency_ms
    if outcome.cause is None and (fault.status is not None or fault.drop):
        outcome.status, outcome.drop, outcome.cause = fault.status, fault.drop, fault.id


class FaultBook(Protocol):
    """Where the faults live: this process, or the database that every worker shares."""

    def add(self, faults: list[Fault]) -> list[Fault]: ...
    def listing(self) -> list[dict[str, Any]]: ...
    def remove(self, fault_id: str | None = None) -> int: ...
    def outcome(self, method: str, path: str, seed: int, helpers: bool = False) -> Outcome: ...
    def armed(self) -> bool:
        """Whether any fault may trigger: if not, a request need not ask for its ``outcome``."""
        ...


# --- The request journal -----------------------------------------------------------------------------

#: The characters of a request body that the journal shows.
EXCERPT_CHARS = 500


def published(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the admin API shows it: the time formatted, the body excerpt decoded.

    Recording keeps both raw, because the hot path of every request pays for the recording,
    and only the few entries anyone reads pay for the formatting.
    """
    shown = dict(entry)
    if isinstance(entry["time"], float):
        shown["time"] = format_timestamp(datetime.fromtimestamp(entry["time"], UTC))
    if isinstance(entry["body"], bytes):
        shown["body"] = entry["body"].decode("utf-8", "replace")[:EXCERPT_CHARS]
    return shown


class Journal(Protocol):
    """Where entries are kept: this process, or the database every worker shares."""

    size: int

    def record(self, entry: dict[str, Any]) -> None: ...
    def entries(self, method: str | None = None, status: int | None = None,
                limit: int | None = None) -> list[dict[str, Any]]: ...
    def count(self) -> int: ...
    def clear(self) -> int: ...
