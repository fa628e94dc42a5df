"""What one run of the suite is pointed at and allowed to do, shared by the plugin and the fixtures."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

#: Every record the suite creates has notes starting with this, then the run id.
TAG_PREFIX = "diags-kit contract run"


@dataclass(frozen=True)
class RunConfig:
    """The target and the mode of this run."""

    base_url: str | None  # None: the embedded mock
    token: str = field(repr=False)  # tracebacks show fixtures' reprs: never the token
    strict: bool
    read_only: bool
    max_writes: int | None  # None: unlimited
    run_id: str
    hypothesis_seed: str
    mock_seed: int
    worker_count: int = 1
    device_ids: tuple[str, ...] = ()
    shared: dict[str, Any] = field(default_factory=dict, repr=False)  # handed to xdist workers

    @property
    def embedded(self) -> bool:
        """True when the suite starts and owns the server, so no other client can write to it."""
        return self.base_url is None

    @property
    def tag(self) -> str:
        """The prefix of the notes of every record this run creates."""
        return f"{TAG_PREFIX} {self.run_id}"

    def describe_target(self) -> str:
        return self.base_url if self.base_url else f"embedded mock, seed {self.mock_seed}"

    def describe_mode(self) -> str:
        if self.read_only:
            writes = "read-only"
        elif self.max_writes is None:
            writes = "read-write (unlimited writes)"
        else:
            writes = f"read-write (at most {self.max_writes} records created)"
        strictness = "strict contract (mock rules too)" if self.strict else "documented contract only"
        return f"{writes}, {strictness}"


@dataclass
class WriteBudget:
    """How many more records this process may create; a run's budget is shared out among xdist workers.

    Hypothesis replays a failing example once to report it, so a property that creates records
    reserves one run more than it will make: the budget holds even when a test fails.
    """

    total: int | None  # None: unlimited
    spent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_worker(cls, max_writes: int | None, worker_count: int) -> WriteBudget:
        if max_writes is None:
            return cls(total=None)
        return cls(total=max_writes // max(worker_count, 1))

    @property
    def limited(self) -> bool:
        return self.total is not None

    @property
    def remaining(self) -> int | None:
        return None if self.total is None else max(self.total - self.spent, 0)

    def reserve(self, creations: int) -> bool:
        """Set ``creations`` aside, or nothing at all (False) when fewer are left."""
        with self._lock:
            if self.total is not None and self.spent + creations > self.total:
                return False
            self.spent += creations
            return True

    def runs(self, wanted: int, per_run: int = 1) -> int:
        """How many runs (examples) of ``per_run`` creations one test may make: a fair share of what is
        left, reserved with one run more for hypothesis' replay. 0 when the budget cannot afford one."""
        if self.total is None:
            return wanted
        share = max(math.ceil(self.total / 4), per_run * 2)
        affordable = min(share, self.remaining or 0) // per_run - 1
        runs = min(wanted, affordable)
        if runs < 1 or not self.reserve(per_run * (runs + 1)):
            return 0
        return runs
