"""The access log: one line per request, written by the mock itself (``DIAGS_ACCESS_LOG``).

granian can write such a line (``log_access``), through Python's logging: a log record, a
formatter, a handler's lock and a timestamp formatted per line cost about a quarter of what the
mock spends on a page. This outermost WSGI layer writes the same line with one f-string, the
timestamp formatted once a second. Lines are flushed in batches, at most ``FLUSH_SECONDS`` after
they were written (by a thread that sleeps while nothing is written): a flush per line was a
system call per request. It is the pipeline's outermost stage (``stage``); ``AccessLog`` is the
same log as WSGI middleware, for the benchmark's bare app::

  [2026-11-25 21:49:03 +0000] 127.0.0.1 "GET /api/v1/inventory_device_diags/?limit=5 HTTP/1.1" 200 0.4ms

No header is in the line, and the query string is logged with the configured tokens and the value
of any parameter named like a token masked (``***``), so no token can be. The path is logged
percent-encoded, as it went on the wire: a decoded one could hold a space, a quote or a line
break, and so forge a line. A connection the faults drop on purpose is logged with ``-`` for its
status.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, TextIO
from urllib.parse import quote

from flask import Flask, Request

from ..core.config import PATH_SAFE
from ..core.wsgi import Environ, Handler, Reply, StartResponse, WsgiApp

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"
#: The longest a written line waits for its flush.
FLUSH_SECONDS = 0.05
TOKEN_IN_QUERY = re.compile(r"((?:^|&)[^=&]*token=)[^&]*", re.IGNORECASE)


class _Clock:
    """The log's timestamp, formatted again only when the second changes."""

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.second, self.text = second, datetime.fromtimestamp(second).astimezone().strftime(TIME_FORMAT)
        return self.text


@lru_cache(maxsize=256)
def wire_path(path: str) -> str:
    """A WSGI ``PATH_INFO`` (latin-1 characters of its bytes) percent-encoded, as on the wire."""
    return quote(path.encode("latin-1", "replace"), safe=PATH_SAFE)


class AccessLog:
    """WSGI middleware: one line per answered request on ``stream`` (standard output by default)."""

    def __init__(self, wsgi_app: WsgiApp | None = None, stream: TextIO | None = None,
                 secrets: Iterable[str] = ()) -> None:
        self.wsgi_app = wsgi_app
        self.stream = stream
        self.clock = _Clock()
        self.secrets = [secret for secret in secrets if secret]
        self._unflushed = threading.Event()
        self._flusher: threading.Thread | None = None
        self._starting = threading.Lock()

    def masked(self, query: str) -> str:
        """``query`` without a configured token, nor the value of a parameter named like a token (RFC
        6750 lets a client put its token in the URL; the mock ignores it there, and never logs it)."""
        for secret in self.secrets:
            if secret in query:
                query = query.replace(secret, "***")
        return TOKEN_IN_QUERY.sub(r"\1***", query) if "token" in query.lower() else query

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["500"]

        def recording(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line[:3]
            return start_response(status_line, headers, exc_info)

        assert self.wsgi_app is not None, "AccessLog wraps a WSGI app here"
        try:
            return self.wsgi_app(environ, recording)
        finally:
            self.write(environ, status[0], started)

    def write(self, environ: Environ, status: str, started: float) -> None:
        milliseconds = (time.perf_counter() - started) * 1000
        target = wire_path(environ.get("PATH_INFO") or "")
        query = environ.get("QUERY_STRING")
        if query:
            target = f"{target}?{self.masked(query)}"
        request_line = f'{environ.get("REQUEST_METHOD")} {target} {environ.get("SERVER_PROTOCOL")}'
        (self.stream or sys.stdout).write(f'[{self.clock.now()}] {environ.get("REMOTE_ADDR", "-")} '
                                          f'"{request_line}" {status} {milliseconds:.1f}ms\n')
        if not self._unflushed.is_set():
            self._flush_soon()

    def _flush_soon(self) -> None:
        self._unflushed.set()
        if self._flusher is None:
            with self._starting:
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._flush_in_batches, name="access-log",
                                                     daemon=True)
                    self._flusher.start()

    def _flush_in_batches(self) -> None:
        # A line written after the clear sets the event again, and is flushed now or in the next batch.
        while self._unflushed.wait():
            time.sleep(FLUSH_SECONDS)
            self._unflushed.clear()
            (self.stream or sys.stdout).flush()


class Logged:
    """The access log stage's handler: ``next_handler``'s answers, each logged on ``log``."""

    def __init__(self, next_handler: Handler, log: AccessLog) -> None:
        self.next_handler = next_handler
        self.log = log

    def __call__(self, request: Request) -> Reply:
        started = time.perf_counter()
        status = "500"
        try:
            reply = self.next_handler(request)
            # A connection the faults drop on purpose answered nothing.
            status = "-" if reply.dropped else str(reply.status)
            return reply
        finally:
            self.log.write(request.environ, status, started)


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Log every request when ``DIAGS_ACCESS_LOG`` is on (the outermost stage: it sees every answer)."""
    if not app.config.get("DIAGS_ACCESS_LOG"):
        return next_handler
    secrets = [*app.config.get("DIAGS_TOKENS", []), app.config.get("DIAGS_ADMIN_TOKEN") or ""]
    return Logged(next_handler, AccessLog(secrets=secrets))
