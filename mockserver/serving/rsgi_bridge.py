"""Serving a WSGI app through granian's RSGI interface: the body is read in the event loop, under a deadline.

Under granian's WSGI interface each request holds one of a few Python threads from its head to its
answer, and a client that stops sending the body it announced holds that thread until it gives up:
a handful of them stall every other client. Here the event loop reads the whole body first, as a
coroutine that costs no thread, and gives up after ``body_timeout`` seconds with a JSON 408 (the
connection is then closed). Only a complete request reaches the app.

The app is then called inline, on the event loop (through its own ``answer``, if it has one, as
the mock's pipeline does; else as WSGI): one request at a time per worker, with no
hand-off between threads (which cost about half the throughput of a small app, and made the tail
latency). Whatever can wait must not run there, since it would stop every other client: a request
for which ``may_wait(environ)`` says so (for the mock: injected latency, the reset gate, a database
lock) runs in a pool of ``threads`` threads instead. While any request runs in the pool, every new
one goes there too, so an inline request never meets a lock or gate that a pooled one holds.

The environ is the one PEP 3333 asks for, as granian's WSGI interface builds it (headers met twice
joined by ``,``, cookies by ``;``), minus a copy of the process environment. Its strings hold the
request's bytes as latin-1 characters: the decoded path and the query string are given here as text
(hyper took them as UTF-8), so each is turned back into the latin-1 characters of its UTF-8 bytes.
Two things RSGI does not pass on, and the bridge cannot restore:

- the bytes of a percent-escape that is not UTF-8 (``%FF``): the path holds U+FFFD in their place,
  as Werkzeug's ``request.path`` would show them anyway;
- a header value with bytes outside visible ASCII (HTTP's obs-text, such as latin-1 ``é``): granian
  lists the header's name, never its value. Rather than answer a request without it (a 401 for a
  token it did not see, a size limit that missed it), the bridge answers a JSON 400 naming the
  header, and the app never sees the request.

A body without ``Content-Length`` is read up to one byte past ``max_body``, so that the app still
sees it is too large; a ``Content-Length`` over ``max_body`` is not read at all, and the app answers
its 413 from the header.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.responses import ApiError
from ..core.wsgi import HEADER_BYTES_KEY, HEADER_LINE_OVERHEAD, Environ, WsgiApp, answerer

log = logging.getLogger(__name__)

Headers = list[tuple[str, str]]
#: Request headers whose WSGI key has no ``HTTP_`` prefix.
UNPREFIXED = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_EMPTY = b""


def _never(_environ: Environ) -> bool:
    return False


def _unrecorded(_environ: Environ, _status: int, _seconds: float) -> None:
    pass


def wsgi_string(text: str) -> str:
    """``text`` as a WSGI environ string (PEP 3333): the latin-1 characters of its UTF-8 bytes."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


class UnreadableHeaders(ValueError):
    """Headers whose values granian's RSGI interface did not pass on (bytes outside visible ASCII).

    ``environ`` is the request's environ without them, for the access log.
    """

    def __init__(self, names: list[str], environ: Environ) -> None:
        super().__init__(", ".join(names))
        self.names = names
        self.environ = environ


def headers_unreadable(names: list[str]) -> ApiError:
    """The 400 of a request with header values that the server could not read."""
    shown = ", ".join(names)
    return ApiError(400, f"The value of request header(s) {shown} has bytes outside visible ASCII, which "
                         "this server cannot read; send header values as ASCII text (RFC 9110, section 5.5), "
                         "percent-encoding other bytes.")


def body_timed_out(seconds: float) -> ApiError:
    """The 408 of a request whose body did not arrive in time."""
    return ApiError(408, f"The request body did not arrive within the mock's body time-out of {seconds:g} s; "
                         "send the whole body promptly (the connection is closed).")


class RsgiBridge:
    """An RSGI app (``__rsgi__``) that serves ``wsgi_app`` as the module docstring says."""

    def __init__(self, wsgi_app: WsgiApp, *, threads: int, body_timeout: float, max_body: int | None,
                 may_wait: Callable[[Environ], bool] = _never,
                 record_refusal: Callable[[Environ, int, float], None] = _unrecorded) -> None:
        self.wsgi_app = wsgi_app
        self.answer = answerer(wsgi_app)
        self.body_timeout = body_timeout if body_timeout > 0 else None
        self.max_body = max_body
        self.may_wait = may_wait
        #: Told of an answer the app never saw (the 408), for the access log.
        self.record_refusal = record_refusal
        self.pool = ThreadPoolExecutor(max_workers=max(threads, 1), thread_name_prefix="request")
        #: Requests handed to the pool and not yet answered (counted on the event loop).
        self.pooled = 0
        self._keys: dict[str, str] = dict(UNPREFIXED)
        self._base: Environ = {
            "SCRIPT_NAME": "",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "Granian",
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _key(self, name: str) -> str:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = "HTTP_" + name.upper().replace("-", "_")
        return key

    def environ(self, scope: Any) -> Environ:
        """The WSGI environ of an RSGI ``scope``, without its body (``UnreadableHeaders``: see the module)."""
        server_name, _, server_port = scope.server.rpartition(":")
        remote_addr, _, remote_port = scope.client.rpartition(":")
        environ = {
            **self._base,
            "REQUEST_METHOD": scope.method,
            "PATH_INFO": wsgi_string(scope.path),
            "QUERY_STRING": wsgi_string(scope.query_string),
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "REMOTE_ADDR": remote_addr,
            "REMOTE_PORT": remote_port,
            "wsgi.url_scheme": scope.scheme,
        }
        headers = scope.headers
        named = 0
        # Counted as the limits stage would count them from the environ: one line per key, values joined.
        header_bytes = 0
        keys = self._keys
        for name, value in headers.items():
            key = keys.get(name) or self._key(name)
            if key in environ:
                environ[key] += (";" if key == "HTTP_COOKIE" else ",") + value
                header_bytes += 1 + len(value)
            else:
                environ[key] = value
                named += 1
                header_bytes += len(name) + len(value) + HEADER_LINE_OVERHEAD
        environ[HEADER_BYTES_KEY] = header_bytes
        if named < len(headers):  # a name whose every value granian withheld (or two names of one key)
            unreadable = [name for name in headers if self._key(name) not in environ]
            if unreadable:
                raise UnreadableHeaders(unreadable, environ)
        return environ

    async def _read_stream(self, protocol: Any) -> bytes:
        # Without Content-Length: stop one byte past the limit, so the app answers 413 from what it sees.
        chunks: list[bytes] = []
        size = 0
        async for chunk in protocol:
            chunks.append(chunk)
            size += len(chunk)
            if self.max_body is not None and size > self.max_body:
                break
        return b"".join(chunks)

    async def read_body(self, environ: Environ, protocol: Any) -> bytes | None:
        """The body of a request that has one (``Content-Length`` or ``Transfer-Encoding``), or None once
        a 408 has answered a body that did not arrive in time."""
        length = environ.get("CONTENT_LENGTH")
        if length is None:  # chunked
            reading = self._read_stream(protocol)
        elif length == "0" or (self.max_body is not None and int(length) > self.max_body):
            return _EMPTY  # the app's 413 needs only the header
        else:
            reading = protocol()
        try:
            async with asyncio.timeout(self.body_timeout):
                body: bytes = await reading
                return body
        except TimeoutError:
            self.refuse(environ, protocol, body_timed_out(self.body_timeout or 0), self.body_timeout or 0)
            return None

    def refuse(self, environ: Environ, protocol: Any, refusal: ApiError, seconds: float) -> None:
        """Answer ``refusal`` without the app, closing the connection (its body may be unread)."""
        headers = [("content-type", "application/json"), ("connection", "close")]
        protocol.response_bytes(refusal.status, headers, refusal.payload())
        self.record_refusal(environ, refusal.status, seconds)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        try:
            environ = self.environ(scope)
        except UnreadableHeaders as error:
            self.refuse(error.environ, protocol, headers_unreadable(error.names), 0.0)
            return
        if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
            try:
                body = await self.read_body(environ, protocol)
            except Exception:  # the client went away, or sent a body hyper could not decode
                return
            if body is None:
                return
        else:
            body = _EMPTY  # no body to wait for (RFC 9112, section 6.3)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            if self.pooled or self.may_wait(environ):
                self.pooled += 1
                try:
                    answer = await asyncio.get_running_loop().run_in_executor(self.pool, self.answer, environ)
                finally:
                    self.pooled -= 1
            else:
                answer = self.answer(environ)
        except Exception:  # Flask answers its own errors: this is a failure of the server's glue
            log.exception("unhandled error serving %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            protocol.response_empty(500, [])
            return
        status, headers, payload = answer
        if environ["REQUEST_METHOD"] != "HEAD" and _announced_length(headers) > len(payload):
            # A dropped answer (the faults' ``drop``): streamed, it ends short; hyper closes the connection.
            await protocol.response_stream(status, headers).send_bytes(payload)
            return
        protocol.response_bytes(status, headers, payload)


def _announced_length(headers: Headers) -> int:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value)
    return 0

