"""The reference server behind the gateways of staging: a rate limit, a pod that restarts, TLS.

- ``RateLimit``: a token bucket (``rate`` a second, ``burst`` at once); a request that finds it
  empty gets ``429`` with ``Retry-After`` (seconds, or an HTTP date) and is never processed.
- ``Flaky``: a seeded share of requests gets ``503`` (with or without ``Retry-After``), unprocessed.
- ``drop_first``: the first N requests have their connection closed with no answer (a pod gone).
- ``tls``: the server speaks HTTPS with a certificate made for the test (``trustme``).

Breaks (``breaks.BREAKS``) still sit behind the gateway, so the suite must catch them through it.

    server = gateway.start(TOKEN, rate_limit=RateLimit(rate=40, burst=20))
    ...
    server.stop(); server.gate.refused
"""

from __future__ import annotations

import math
import random
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from . import breaks as breaks_module
from .reference import MAX_LIMIT, Handler, ReferenceServer, RunningServer


@dataclass
class RateLimit:
    """A token bucket: ``rate`` requests a second on average, ``burst`` at once."""

    rate: float
    burst: int
    http_date: bool = False  # Retry-After as an HTTP date rather than seconds
    _tokens: float = field(init=False, default=0.0)
    _updated: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._tokens, self._updated = float(self.burst), time.monotonic()

    def wait(self) -> float:
        """0 when a request may pass (a token is taken), else the seconds until the next token."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


@dataclass
class Flaky:
    """A seeded share of requests answered 503; every other one of those says ``Retry-After: 1``."""

    share: float
    seed: int = 7
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)


@dataclass
class Gate:
    """What stands before the reference server, and what it turned away."""

    rate_limit: RateLimit | None = None
    flaky: Flaky | None = None
    drop_first: int = 0
    dropped: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    passed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verdict(self) -> tuple[int, str | None] | None:
        """None to let the request through, else the status and the Retry-After value to answer
        (status 0: close the connection without an answer)."""
        with self._lock:
            if self.dropped < self.drop_first:
                self.dropped += 1
                return 0, None
            if self.rate_limit is not None:
                wait = self.rate_limit.wait()
                if wait > 0:
                    self.refused[429] = self.refused.get(429, 0) + 1
                    seconds = max(math.ceil(wait), 1)
                    if self.rate_limit.http_date and self.refused[429] % 2:
                        return 429, formatdate(time.time() + seconds, usegmt=True)
                    return 429, str(seconds)
            if self.flaky is not None and self.flaky._random.random() < self.flaky.share:
                self.refused[503] = self.refused.get(503, 0) + 1
                return 503, "1" if self.refused[503] % 2 else None
            self.passed += 1
            return None


class GatewayHandler(Handler):
    """The reference handler, with the gate in front of it."""

    server: GatedServer

    def page_link(self, *args: Any, **kwargs: Any) -> str | None:
        """The reference's links, in the scheme this server really speaks."""
        link: str | None = super().page_link(*args, **kwargs)
        if link is not None and self.server.scheme == "https":
            link = link.replace("http://", "https://", 1)
        return link

    def dispatch(self) -> None:
        verdict = self.server.gate.verdict()
        if verdict is None:
            super().dispatch()
            return
        status, retry_after = verdict
        self.read_body()  # unprocessed, but read, so the connection stays usable
        if status == 0:
            self.close_connection = True
            return
        body = f'{{"message": "{"too many requests" if status == 429 else "service unavailable"}"}}'.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(body)


class GatedServer(ReferenceServer):
    gate: Gate
    scheme: str


@dataclass
class GatedRunning(RunningServer):
    scheme: str = "http"

    @property
    def gate(self) -> Gate:
        return self.server.gate  # type: ignore[attr-defined, no-any-return]

    @property
    def base_url(self) -> str:
        return super().base_url.replace("http://", f"{self.scheme}://", 1)


def start(token: str, active_breaks: Iterable[str] = (), *, rate_limit: RateLimit | None = None,
          flaky: Flaky | None = None, drop_first: int = 0, tls: ssl.SSLContext | None = None,
          max_limit: int = MAX_LIMIT) -> GatedRunning:
    """A reference server (with ``active_breaks``) behind the given gate, on a free loopback port;
    ``tls``, a server-side context, makes it HTTPS."""
    server = ReferenceServer(0, token, breaks_module.check_names(list(active_breaks)), max_limit=max_limit)
    server.RequestHandlerClass = GatewayHandler
    server.gate = Gate(rate_limit, flaky, drop_first)  # type: ignore[attr-defined]
    server.scheme = "https" if tls is not None else "http"  # type: ignore[attr-defined]
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="gateway-server", daemon=True)
    thread.start()
    return GatedRunning(server, thread, "https" if tls is not None else "http")
