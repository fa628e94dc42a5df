"""A request's deadline: the time-out, as one value that every point that can hold a request up asks.

The pipeline's time-out stage starts it (``deadline_scope``); the store asks it before every call
and bounds its wait for another worker's lock by it; the reset gate and injected latency wait no
longer than it. One context variable holds it, so no Flask context is needed to reach it.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar

from .responses import ApiError, unavailable

log = logging.getLogger(__name__)


def timed_out(seconds: float, changed: bool = False) -> ApiError:
    """The 503 of a request that ran past its deadline; ``changed`` if it refreshed records before it."""
    outcome = ("the status refreshes made before it are kept, the rest were not done" if changed
               else "nothing was changed")
    return unavailable(f"The request took longer than the mock's time-out of {seconds:g} s; {outcome}. "
                       "Retry later.")


class Deadline:
    """One request's deadline: every point where the request can be held up asks it first."""

    RUNNING, COMMITTED, EXPIRED = "running", "committed", "expired"

    def __init__(self, seconds: float, request_line: str = "") -> None:
        self.seconds = seconds
        self.request_line = request_line
        self.expires_at = time.monotonic() + seconds
        self.state = self.RUNNING
        self.changed = False

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(self.expires_at - time.monotonic(), 0.0)

    def check(self) -> None:
        """Raise the 503 once the deadline has passed, unless the request has committed its write."""
        if self.state == self.COMMITTED:
            return
        if self.state == self.EXPIRED or time.monotonic() >= self.expires_at:
            if self.state != self.EXPIRED:
                log.warning("time-out after %g s: %s", self.seconds, self.request_line)
            self.state = self.EXPIRED
            raise timed_out(self.seconds, self.changed)

    def expire(self) -> ApiError:
        """Mark the deadline passed (a wait ended at it) and return its 503, for the caller to raise."""
        self.state = self.EXPIRED
        return timed_out(self.seconds, self.changed)


#: The deadline of the request this thread is handling.
_CURRENT_DEADLINE: ContextVar[Deadline | None] = ContextVar("diags_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline of the request being handled, if the time-out is on."""
    return _CURRENT_DEADLINE.get()


class deadline_scope:
    """Within the block, ``deadline`` is the current request's.

    A class named like a function: every request enters one, and a generator-based context manager
    costs five times as much.
    """

    __slots__ = ("deadline", "token")

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __enter__(self) -> Deadline:
        self.token = _CURRENT_DEADLINE.set(self.deadline)
        return self.deadline

    def __exit__(self, *exc_info: object) -> None:
        _CURRENT_DEADLINE.reset(self.token)


def wait_within_deadline(seconds: float) -> None:
    """Sleep ``seconds``, or until the request's deadline if that comes first (then raise its 503)."""
    deadline = current_deadline()
    if deadline is None or deadline.state == Deadline.COMMITTED:
        time.sleep(seconds)
        return
    time.sleep(min(seconds, deadline.remaining()))
    deadline.check()


def seconds_left(longest: float) -> float:
    """How long a wait may last now: ``longest``, or less when the request's deadline comes first."""
    deadline = current_deadline()
    return longest if deadline is None else min(deadline.remaining(), longest)
