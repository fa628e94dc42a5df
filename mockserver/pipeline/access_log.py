"""The access log: one line per request, written by the mock itself (``DIAGS_ACCESS_LOG``).

granian can write such a line (``log_access``), through Python's logging: a log record, a
formatter, a handler's lock and a timestamp formatted per line cost about a quarter of what the
mock spends on a page. This outermost WSGI layer writes the same line with one f-string, the
timestamp formatted once a second, and flushes it at once, as a log handler would. It is the
pipeline's outermost stage (``stage``); ``AccessLog`` is the same log as WSGI middleware, for the
benchmark's bare app::

  [2026-11-25 21:49:03 +0000] 127.0.0.1 "GET /api/v1/inventory_device_diags/?limit=5 HTTP/1.1" 200 0.4ms

No header is in the line, and the query string is logged with the configured tokens and the value
of any parameter named like a token masked (``***``), so no token can be. A connection the faults
drop on purpose is logged with ``-`` for its status.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from flask import Flask, Request

from ..core.wsgi import Environ, Handler, Reply, StartResponse, WsgiApp

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"
REQUEST_LINE_KEYS = ("REQUEST_METHOD", "PATH_INFO", "SERVER_PROTOCOL")
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


class AccessLog:
    """WSGI middleware: one line per answered request on ``stream`` (standard output by default)."""

    def __init__(self, wsgi_app: WsgiApp | None = None, stream: TextIO | None = None,
                 secrets: Iterable[str] = ()) -> None:
        self.wsgi_app = wsgi_app
        self.stream = stream
        self.clock = _Clock()
        self.secrets = [secret for secret in secrets if secret]

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
        method, path, protocol = (str(environ.get(key)) for key in REQUEST_LINE_KEYS)
        query = environ.get("QUERY_STRING")
        if query:
            query = self.masked(query)
        request_line = f"{method} {path}?{query} {protocol}" if query else f"{method} {path} {protocol}"
        stream = self.stream or sys.stdout
        stream.write(f'[{self.clock.now()}] {environ.get("REMOTE_ADDR", "-")} "{request_line}" {status} '
                     f"{milliseconds:.1f}ms\n")
        stream.flush()


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
