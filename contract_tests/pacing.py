"""``--max-rps N``: the suite's own requests, spaced so that the run never sends more than N a second.

Each process paces its requests, from every thread, one interval apart; under pytest-xdist each of
W workers takes N/W, so the workers together stay under N whatever their timing. Pacing is the
suite's own choice: its waits never count against the server (see ``RetryStats.paced``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Hands out send times at most ``rate`` a second (no limit when ``rate`` is None)."""

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("--max-rps must be more than 0")
        self.interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    @classmethod
    def for_worker(cls, max_rps: float | None, worker_count: int) -> Pacer:
        return cls(max_rps / max(worker_count, 1) if max_rps else None)

    def wait_turn(self) -> float:
        """Block until this request may go; return the seconds waited."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            turn = max(now, self._next)
            self._next = turn + self.interval
        delay = turn - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)
