"""Limits that keep the mock answering, in JSON: header size, URL length, streamed bodies, a time-out.

- Header size (431) and URL length (414) are checked right after authentication (docs/contract.md: a
  401 comes before anything else) and before everything else. The measure is the bytes on the wire:
  ``Name: value`` plus the line end for each header; the path (percent-encoded) and query string.
  A query string of raw bytes that are not UTF-8 is a 400 at the same point.
- A body sent without ``Content-Length`` (chunked) is held to ``MAX_CONTENT_LENGTH`` as well:
  Werkzeug alone stops reading at the limit and hands the view a silently truncated body.
- The per-request time-out is a deadline, checked wherever a request can be held up: at every
  store call (``GuardedStore``), at the reset gate, and in injected latency, which sleeps no longer
  than the time that is left. Past it, the client gets a 503 with ``Retry-After``. The app runs
  in the server's own thread: a watchdog thread per request (an earlier design) answered on time
  even from inside a blocking call, but cost more than all the rest of a request together, and
  nothing in the mock blocks anywhere but at those points. (The upload is timed before the app
  runs: ``rsgi_bridge`` reads the whole body under ``--body-timeout``, then calls the app.)
- So that a 503 means "nothing happened", a store call past the deadline raises before it runs.
  A write that is the request's purpose (``create``, ``reset``, ``load``, ``add_device``) commits the
  request: from then on it runs to its answer, even late. The writes of a status refresh do not,
  so a slow refresh is cut off between two records; the 503 then says that the refreshes made
  before it are kept. With ``--db``, a write waits for another worker's lock on the database no
  later than the deadline; a store write that could not begin by then is the same 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast
from urllib.parse import quote

from flask import Flask, Request
from werkzeug.exceptions import RequestEntityTooLarge

from ..core.config import ADMIN_PREFIX, PATH_SAFE
from ..core.deadline import Deadline, current_deadline, deadline_scope
from ..core.responses import ApiError
from ..core.wsgi import HEADER_BYTES_KEY, HEADER_LINE_OVERHEAD, Environ, Handler, Reply
from ..services import services_of
from ..storage.base import Store, StoreBusy

#: Store calls that change data; those in ``FINAL_WRITES`` are what their request is for.
WRITES = frozenset({"create", "update", "next_refresh", "add_device", "reset", "load"})
FINAL_WRITES = frozenset({"create", "add_device", "reset", "load"})
HTTP_PREFIX = "HTTP_"
UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")


class GuardedStore:
    """A store whose every call first asks the request's deadline (see the module docstring)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def version(self) -> int | None:
        """The inner store's ``version``, unguarded: it waits for nothing, and every kept page asks it."""
        return self.inner.version()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute
        guarded = self._guarded(name)
        # Kept on this object, so that the next look-up is a plain attribute's (each call still finds the
        # inner store's method anew).
        setattr(self, name, guarded)
        return guarded

    def _guarded(self, name: str) -> Any:
        inner = self.inner
        is_write, is_final = name in WRITES, name in FINAL_WRITES

        def guarded(*args: Any, **kwargs: Any) -> Any:
            attribute = getattr(inner, name)
            deadline = current_deadline()
            if deadline is None:
                return attribute(*args, **kwargs)
            deadline.check()
            if not is_write:
                return attribute(*args, **kwargs)
            if is_final:
                deadline.state = Deadline.COMMITTED
            try:
                result = attribute(*args, **kwargs)
            except StoreBusy as error:
                if not error.cut_short:  # the lock outlasted the store's own longest wait, not the deadline
                    raise
                # The wait for another worker's lock ended at the deadline, before this write began.
                raise deadline.expire() from None
            deadline.changed = True
            return result

        return guarded


class Readable(Protocol):
    """What a WSGI input stream offers that the mock uses."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class CappedInput:
    """``wsgi.input`` of a body without ``Content-Length``: a 413 once it is seen to pass ``limit``."""

    def __init__(self, stream: Readable, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.seen = 0

    def _counted(self, data: bytes) -> bytes:
        self.seen += len(data)
        # Werkzeug reads exactly up to the limit and stops, so one byte past it must be asked for here.
        if self.seen > self.limit or (self.seen == self.limit and self.stream.read(1)):
            raise RequestEntityTooLarge()
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._counted(self.stream.read(-1 if size is None else size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._counted(self.stream.readline(-1 if size is None else size))


def timeout_stage(app: Flask, next_handler: Handler) -> Handler:
    """Cap a streamed body, and start the request's deadline (outside every stage that can wait)."""
    config = app.config

    def within_deadline(request: Request) -> Reply:
        environ = request.environ
        limit = config.get("MAX_CONTENT_LENGTH")
        # Without Content-Length, a request has a body only if it is chunked (RFC 9112, section 6.3).
        if (limit is not None and "HTTP_TRANSFER_ENCODING" in environ and not environ.get("CONTENT_LENGTH")
                and environ.get("wsgi.input_terminated")):
            environ["wsgi.input"] = CappedInput(environ["wsgi.input"], int(limit))
        seconds = float(config.get("DIAGS_REQUEST_TIMEOUT") or 0)
        # The admin API is the test harness's, not a client's: a reset that regenerates a large data set
        # takes as long as that takes (its wait for running requests has a bound of its own).
        if seconds <= 0 or request.path.startswith(ADMIN_PREFIX):
            return next_handler(request)
        # Every database write of the request (store, faults, journal) waits for a lock no longer.
        with deadline_scope(Deadline(seconds, f"{request.method} {request.path}")):
            return next_handler(request)

    return within_deadline


def url_bytes(environ: Environ) -> int:
    """The length of the request target on the wire: encoded path, ``?``, query string."""
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace")
    query = environ.get("QUERY_STRING", "")
    return len(quote(path, safe=PATH_SAFE)) + (len(query) + 1 if query else 0)


def header_sizes(environ: Environ) -> dict[str, int]:
    """Each header's bytes on the wire (``Name: value`` and the line end), by WSGI key."""
    sizes = {}
    for key, value in environ.items():
        if isinstance(value, str) and (key.startswith(HTTP_PREFIX) or key in UNPREFIXED_HEADERS):
            name_length = len(key) - len(HTTP_PREFIX) if key.startswith(HTTP_PREFIX) else len(key)
            sizes[key] = name_length + len(value) + HEADER_LINE_OVERHEAD
    return sizes


def _header_name(key: str) -> str:
    return key.removeprefix(HTTP_PREFIX).replace("_", "-").title()


def check_request_head(environ: Environ, config: Mapping[str, Any]) -> None:
    """414 for a long URL, 400 for a query that is not UTF-8, 431 for large headers."""
    max_url = int(config["DIAGS_MAX_URL_BYTES"])
    query = environ.get("QUERY_STRING", "")
    # Percent-encoding at most triples a path, so most requests need no exact measure.
    path_chars = len(environ.get("SCRIPT_NAME", "")) + len(environ.get("PATH_INFO", ""))
    if 3 * path_chars + len(query) + 1 > max_url:
        length = url_bytes(environ)
        if length > max_url:
            raise ApiError(414, f"The request URL (path and query string) is {length} bytes, "
                                f"over the limit of {max_url} bytes.")
    if not query.isascii():
        try:
            # granian refuses such a request line itself; other WSGI servers pass the bytes on, and
            # Werkzeug would fail on them (a 500) when the query is first read.
            query.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise ApiError(400, "The query string is not valid UTF-8: percent-encode its bytes.") from None
    max_headers = int(config["DIAGS_MAX_HEADER_BYTES"])
    total = environ.get(HEADER_BYTES_KEY)  # counted by the mock's own server as it built the environ
    if total is None:
        total = sum(header_sizes(environ).values())
    if total > max_headers:
        sizes = header_sizes(environ)
        largest = max(sizes, key=sizes.__getitem__)
        raise ApiError(431, f"The request headers total {total} bytes, over the limit of {max_headers} bytes "
                            f"(the largest is {_header_name(largest)}, {sizes[largest]} bytes).")


def guard_store(app: Flask) -> None:
    """Route the app's store through ``GuardedStore``; call once the services exist."""
    services = services_of(app)
    if not isinstance(services.store, GuardedStore):
        services.store = cast(Store, GuardedStore(services.store))


def head_stage(app: Flask, next_handler: Handler) -> Handler:
    """Check the request's head (after authentication: a 401 comes first) against the limits."""
    config = app.config

    def within_limits(request: Request) -> Reply:
        check_request_head(request.environ, config)
        return next_handler(request)

    return within_limits
