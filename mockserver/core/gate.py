"""The reset gate: requests in flight share it, a reset (or a change to the devices) holds it alone.

A reset waits for the requests in flight in this process to finish, and holds new ones back until
the data is replaced, so no request sees half of the old data and half of the new. Each app has
one (``services_of(app).gate``); the pipeline's reset-gate stage (``control.admin.gate_stage``)
holds every request outside the admin API at it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .responses import unavailable

#: How long a reset waits for the requests in flight before it answers 503.
RESET_WAIT_SECONDS = 30.0


class ResetGate:
    """A readers-writer lock: requests share it, a reset holds it alone (and goes first once waiting)."""

    def __init__(self) -> None:
        # Never re-entered, so a plain lock; every request takes it twice, directly, at half the cost of
        # ``with condition``.
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._readers = 0
        self._writer_waiting = 0
        self._writing = False

    def enter(self, timeout: float | None = None) -> bool:
        """Join the readers; ``False`` if a reset still holds the gate after ``timeout`` seconds."""
        with self._lock:
            if (self._writing or self._writer_waiting) and not self._condition.wait_for(
                    lambda: not self._writing and not self._writer_waiting, timeout):
                return False
            self._readers += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._readers -= 1
            if self._writer_waiting:  # only a reset waits for the readers to leave
                self._condition.notify_all()

    @contextmanager
    def exclusive(self, timeout: float = RESET_WAIT_SECONDS) -> Iterator[None]:
        with self._condition:
            self._writer_waiting += 1
            try:
                ready = self._condition.wait_for(lambda: not self._writing and self._readers == 0, timeout)
            finally:
                self._writer_waiting -= 1
            if not ready:
                self._condition.notify_all()
                raise unavailable(f"Requests still running after {timeout:g} s; nothing was changed. Retry.")
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()
