"""When to send a request again, how long to wait first, and what the run's retries added up to.

A 429 or a 503 was not processed (RFC 9110), so any request answered so, a POST included, is sent
again: after its ``Retry-After`` (seconds or an HTTP date), else after an exponential back-off. No
other status is ever retried: a 500 or a 502 is the server's answer, for the checks to judge. Retries
are bounded per request and in total wait per run; past either bound the request fails with
``ServerUnavailable``, which says so rather than naming a broken claim.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

#: Statuses that say "not processed, try later".
RETRYABLE_STATUSES = frozenset({429, 503})
DEFAULT_MAX_RETRIES = 6
DEFAULT_MAX_WAIT = 300.0
FIRST_BACKOFF = 0.5
LONGEST_BACKOFF = 30.0


class TargetTrouble(Exception):
    """The server or the network kept the suite from getting an answer: not a broken claim."""


class ServerUnavailable(TargetTrouble):
    """Still 429 or 503 after the retries the options allow."""


class NetworkFailure(TargetTrouble):
    """No connection (refused, reset, proxy, TLS), even on a second try."""


@dataclass(frozen=True)
class RetryPolicy:
    """The bounds: retries per request, and seconds of waiting per run (each xdist worker's own)."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_wait: float = DEFAULT_MAX_WAIT


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def backoff_seconds(retry: int) -> float:
    """The wait before retry number ``retry`` (0-based) when the server gave no ``Retry-After``."""
    return float(min(FIRST_BACKOFF * 2**retry, LONGEST_BACKOFF))


@dataclass
class RetryStats:
    """What retrying cost this process: retries by cause, seconds waited for the server and for pacing."""

    by_cause: dict[str, int] = field(default_factory=dict)
    waited: float = 0.0
    paced: float = 0.0
    given_up: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def retried(self, cause: str, wait: float) -> None:
        with self._lock:
            self.by_cause[cause] = self.by_cause.get(cause, 0) + 1
            self.waited += wait

    def wait_left(self, policy: RetryPolicy) -> float:
        with self._lock:
            return max(policy.max_wait - self.waited, 0.0)

    def add_paced(self, seconds: float) -> None:
        with self._lock:
            self.paced += seconds

    def gave_up(self) -> None:
        with self._lock:
            self.given_up += 1

    def dump(self) -> dict[str, Any]:
        with self._lock:
            return {"by_cause": dict(self.by_cause), "waited": self.waited, "paced": self.paced,
                    "given_up": self.given_up}

    def merge(self, dumped: dict[str, Any]) -> None:
        """Add an xdist worker's figures."""
        with self._lock:
            for cause, count in dumped.get("by_cause", {}).items():
                self.by_cause[cause] = self.by_cause.get(cause, 0) + int(count)
            self.waited += float(dumped.get("waited", 0.0))
            self.paced += float(dumped.get("paced", 0.0))
            self.given_up += int(dumped.get("given_up", 0))

    @property
    def retries(self) -> int:
        return sum(self.by_cause.values())

    def describe(self) -> str:
        """One line, e.g. ``37 retried after 429, 2 after 503; total wait 41 s (not counted against
        the server)``; empty when nothing was retried or paced."""
        parts = []
        for index, (cause, count) in enumerate(sorted(self.by_cause.items(), key=lambda item: -item[1])):
            parts.append(f"{count} retried after {cause}" if index == 0 else f"{count} after {cause}")
        text = ", ".join(parts)
        if parts:
            text += f"; total wait {self.waited:.0f} s (not counted against the server)"
        if self.given_up:
            text += f"; {self.given_up} given up"
        if self.paced >= 0.5:
            text += ("; " if text else "") + f"paced by --max-rps: {self.paced:.0f} s"
        return text

    def junit_properties(self) -> list[tuple[str, str]]:
        properties = [(f"diags_kit_retried_after_{cause.replace(' ', '_')}", str(count))
                      for cause, count in sorted(self.by_cause.items())]
        return [*properties, ("diags_kit_retries", str(self.retries)),
                ("diags_kit_retry_wait_seconds", f"{self.waited:.1f}"),
                ("diags_kit_retries_given_up", str(self.given_up)),
                ("diags_kit_paced_seconds", f"{self.paced:.1f}")]


STATS = RetryStats()
