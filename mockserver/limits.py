"""Limits that keep the mock answering, in JSON: header size, URL length, streamed bodies, a time-out.

- Header size (431) and URL length (414) are checked before anything else, authentication
  included, as the front proxy of a real service would. The measure is the bytes on the wire:
  ``Name: value`` plus the line end for each header; the path (percent-encoded) and query string.
  A query string of raw bytes that are not UTF-8 is a 400 at the same point.
- A body sent without ``Content-Length`` (chunked) is held to ``MAX_CONTENT_LENGTH`` as well:
  Werkzeug alone stops reading at the limit and hands the view a silently truncated body.
- The per-request time-out is a watchdog. ``LimitsMiddleware`` reads the body in the server's
  thread, then runs the app in a worker thread and waits for it until the deadline; then the
  client gets a 503 with ``Retry-After`` and the worker is abandoned. (Only the server's thread
  may read granian's ``wsgi.input``: from another thread the read holds the GIL while it waits for
  the client, which freezes the whole process. So the upload itself is not timed: a client that
  sends less body than it announced waits until it gives up, as granian has no body read
  time-out, but it holds up nobody else.)
- So that a 503 means "nothing happened", every store call of the request passes through
  ``GuardedStore``, which consults the request's ``Deadline``: once the watchdog has declared it
  expired, any store call raises and the worker ends without effect. Writes hold the deadline's
  lock, so a write is either wholly before the 503 or not at all. A write that is the request's
  purpose (``create``, ``reset``, ``add_device``) commits it: the watchdog then lets it run to its
  answer, late. The writes of a status refresh do not, so a slow refresh is cut off between two
  records; the 503 then says that the refreshes made before it are kept.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol, cast
from urllib.parse import quote

from flask import Flask, current_app, has_request_context, request
from werkzeug.exceptions import RequestEntityTooLarge

from .responses import ApiError
from .services import EXTENSION as SERVICES_EXTENSION
from .store import Store

log = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

DEADLINE_KEY = "diags.deadline"
RETRY_AFTER_SECONDS = 1
#: Store calls that change data; those in ``FINAL_WRITES`` are what their request is for.
WRITES = frozenset({"create", "update", "next_refresh", "add_device", "reset"})
FINAL_WRITES = frozenset({"create", "add_device", "reset"})
#: Characters a path keeps unencoded on the wire (RFC 3986 ``pchar`` and ``/``).
PATH_SAFE = "/:@!$&'()*+,;=-._~"
HTTP_PREFIX = "HTTP_"
UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")
HEADER_LINE_OVERHEAD = len(": \r\n")


def timed_out(seconds: float, changed: bool = False) -> ApiError:
    """The 503 of a request that ran past its deadline; ``changed`` if it refreshed records before it."""
    outcome = ("the status refreshes made before it are kept, the rest were not done" if changed
               else "nothing was changed")
    return ApiError(
        503,
        f"The request took longer than the mock's time-out of {seconds:g} s; {outcome}. Retry later.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


class Deadline:
    """One request's deadline, shared by its worker thread and the watchdog waiting for it."""

    RUNNING, COMMITTED, FINISHED, EXPIRED = "running", "committed", "finished", "expired"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self.state = self.RUNNING
        self.changed = False

    def check(self) -> None:
        """Raise the 503 if the watchdog has already answered for this request."""
        if self.state == self.EXPIRED:
            raise timed_out(self.seconds)

    def guarded(self, write: Callable[[], Any], final: bool) -> Any:
        """Run ``write`` only if the request has not expired, and keep the watchdog out meanwhile."""
        with self._lock:
            self.check()
            if final:
                self.state = self.COMMITTED
            result = write()
            self.changed = True
            return result

    def expire(self) -> bool:
        """The watchdog's move: whether the request is now expired (not if it finished or committed first)."""
        with self._lock:
            if self.state == self.RUNNING:
                self.state = self.EXPIRED
            return self.state == self.EXPIRED

    def finish(self) -> None:
        with self._lock:
            if self.state != self.EXPIRED:
                self.state = self.FINISHED


def current_deadline() -> Deadline | None:
    """The deadline of the request being handled, if the time-out is on."""
    if not has_request_context():
        return None
    deadline: Deadline | None = request.environ.get(DEADLINE_KEY)
    return deadline


class GuardedStore:
    """A store whose every call first asks the request's deadline (see the module docstring)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def guarded(*args: Any, **kwargs: Any) -> Any:
            deadline = current_deadline()
            if deadline is None:
                return attribute(*args, **kwargs)
            if name in WRITES:
                return deadline.guarded(lambda: attribute(*args, **kwargs), final=name in FINAL_WRITES)
            deadline.check()
            return attribute(*args, **kwargs)

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


def _read_up_to(stream: Readable, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def buffered_input(environ: Environ, limit: int | None) -> Readable:
    """The request body, read now (in the server's thread), as the stream the app will read."""
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        length = int(declared) if declared.isdigit() else 0
        # Over the limit, Werkzeug answers 413 from the header alone: the body is never wanted.
        if limit is not None and length > limit:
            return io.BytesIO()
        return io.BytesIO(_read_up_to(stream, length))
    if not environ.get("wsgi.input_terminated"):
        return io.BytesIO()  # Werkzeug reads no body of unknown length from such a server either
    if limit is None:
        return io.BytesIO(stream.read())
    return CappedInput(io.BytesIO(_read_up_to(stream, limit + 1)), limit)


class _Run:
    """The app's answer to one request, produced in a worker thread."""

    def __init__(self, wsgi_app: WsgiApp, environ: Environ, deadline: Deadline) -> None:
        self.wsgi_app, self.environ, self.deadline = wsgi_app, environ, deadline
        self.done = threading.Event()
        self.status = "500 INTERNAL SERVER ERROR"
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.error: BaseException | None = None

    def _start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status, self.headers = status, headers
        return self.body.append

    def __call__(self) -> None:
        try:
            answer = self.wsgi_app(self.environ, self._start_response)
            try:
                self.body.extend(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        except BaseException as error:  # handed to the server's thread, which re-raises it
            self.error = error
        finally:
            self.deadline.finish()
            self.done.set()

    def replay(self, start_response: StartResponse) -> Iterable[bytes]:
        if self.error is not None:
            raise self.error
        start_response(self.status, self.headers)
        return self.body


class LimitsMiddleware:
    """WSGI middleware around the Flask app: caps streamed bodies and enforces the time-out."""

    def __init__(self, app: Flask, wsgi_app: WsgiApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        config = self.app.config
        limit = None if config.get("MAX_CONTENT_LENGTH") is None else int(config["MAX_CONTENT_LENGTH"])
        seconds = float(config.get("DIAGS_REQUEST_TIMEOUT") or 0)
        if seconds <= 0:
            streamed = not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated")
            if limit is not None and streamed:
                environ["wsgi.input"] = CappedInput(environ["wsgi.input"], limit)
            return self.wsgi_app(environ, start_response)
        environ["wsgi.input"] = buffered_input(environ, limit)
        deadline = Deadline(seconds)
        environ[DEADLINE_KEY] = deadline
        run = _Run(self.wsgi_app, environ, deadline)
        threading.Thread(target=run, name="diags-request", daemon=True).start()
        if not run.done.wait(seconds) and deadline.expire():
            log.warning("time-out after %g s: %s %s",
                        seconds, environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return timed_out(seconds, deadline.changed).response()(environ, start_response)
        # It finished, or committed a write before the deadline: its own answer is the true one.
        run.done.wait()
        return run.replay(start_response)


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


def check_request_line() -> None:
    """Before authentication: 414 for a long URL, 400 for a query that is not UTF-8, 431 for large headers."""
    config = current_app.config
    environ = request.environ
    max_url = int(config["DIAGS_MAX_URL_BYTES"])
    length = url_bytes(environ)
    if length > max_url:
        raise ApiError(414, f"The request URL (path and query string) is {length} bytes, "
                            f"over the limit of {max_url} bytes.")
    try:
        # granian refuses such a request line itself; other WSGI servers pass the bytes on, and Werkzeug
        # would fail on them (a 500) when the query is first read.
        environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise ApiError(400, "The query string is not valid UTF-8: percent-encode its bytes.") from None
    max_headers = int(config["DIAGS_MAX_HEADER_BYTES"])
    sizes = header_sizes(environ)
    total = sum(sizes.values())
    if total > max_headers:
        largest = max(sizes, key=sizes.__getitem__)
        raise ApiError(431, f"The request headers total {total} bytes, over the limit of {max_headers} bytes "
                            f"(the largest is {_header_name(largest)}, {sizes[largest]} bytes).")


def guard_store(app: Flask) -> None:
    """Route the app's store through ``GuardedStore``; call once the services exist."""
    found = app.extensions[SERVICES_EXTENSION]
    if not isinstance(found.store, GuardedStore):
        found.store = cast(Store, GuardedStore(found.store))


def init_app(app: Flask) -> None:
    """Install the size checks (first of all ``before_request`` hooks) and the time-out middleware."""
    app.before_request(check_request_line)
    app.wsgi_app = LimitsMiddleware(app, app.wsgi_app)  # type: ignore[method-assign]
