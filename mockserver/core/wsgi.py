"""The shapes of a request's way through the mock: WSGI's, the pipeline's, and the environ's keys.

A stage of the pipeline (``pipeline.STAGES``) is a ``Handler`` (a request in, a ``Reply`` out) that
wraps the next one. The WSGI environ is the one object that every part of a request shares,
whether it runs in a stage or in a Flask view: what one part learns about the request that
another needs later (the body it read, the faults it triggered) is kept there, under the keys below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flask import Flask, Request

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
#: A whole answer, as a server sends it: status, headers, body.
Answer = tuple[int, list[tuple[str, str]], bytes]

JSON_HEADERS = (("Content-Type", "application/json"),)


@dataclass(slots=True)
class Reply:
    """An answer on its way out through the stages: status, body and headers (Content-Length aside).

    ``dropped``: the connection is to be closed with the answer incomplete (an injected fault).
    """

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(JSON_HEADERS))
    dropped: bool = False

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), if the reply has it."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def mimetype(self) -> str:
        """The Content-Type without its parameters, lower-cased."""
        return (self.header("Content-Type") or "").partition(";")[0].strip().lower()


Handler = Callable[["Request"], Reply]
#: A stage: given the app and the next handler, the handler that runs this stage, then (maybe) the next.
Stage = Callable[["Flask", Handler], Handler]

#: The body the mock read from the client (``read_request_body``), for the journal.
BODY_KEY = "diags.body"
#: The ids of the faults the request triggered, for the journal and strict mode.
FAULTS_KEY = "diags.faults"
#: ``helper_fault()``: the id of a fault that breaks the diagnostic helpers for this request, if any.
HELPER_FAULT_KEY = "diags.helper_fault"
#: The request headers' bytes on the wire, as ``pipeline.limits.header_sizes`` counts them from the
#: environ, when the server counted them as it built the environ (the mock's own server does), so the
#: limits stage need not count again.
HEADER_BYTES_KEY = "diags.header_bytes"
#: What a header line adds to its name and value: ``: `` and the line end.
HEADER_LINE_OVERHEAD = len(": \r\n")


class HasEnviron(Protocol):
    """A request: Flask's, or Werkzeug's."""

    environ: Environ

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any: ...


def read_request_body(request: HasEnviron) -> bytes:
    """The request's body, read within the body limit (a 413 past it), and kept for the journal."""
    body: bytes = request.get_data(cache=True)
    request.environ[BODY_KEY] = body
    return body


def body_if_read(environ: Environ) -> bytes | None:
    """The body ``read_request_body`` read for this request; None if nothing read it (a 401, a GET)."""
    body: bytes | None = environ.get(BODY_KEY)
    return body


def faults_triggered(environ: Environ) -> list[str]:
    """The ids of the faults this request triggered (none if no fault matched it)."""
    triggered: list[str] = environ.get(FAULTS_KEY, [])
    return triggered


def no_helper_fault() -> str | None:
    return None


def helper_fault(environ: Environ) -> str | None:
    """The id of a fault that breaks the diagnostic helpers for this request, if one triggers."""
    ask: Callable[[], str | None] = environ.get(HELPER_FAULT_KEY, no_helper_fault)
    return ask()


def call_wsgi(app: WsgiApp, environ: Environ) -> Answer:
    """Run ``app`` on ``environ``: its status, headers and whole body."""
    started: list[Any] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return written.append

    iterable = app(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    if written:
        body = b"".join(written) + body
    return int(started[0][:3]), started[1], body


def answerer(app: WsgiApp) -> Callable[[Environ], Answer]:
    """How to get ``app``'s whole answer to an environ: its own ``answer`` if it has one (the mock's
    pipeline), else ``call_wsgi``."""
    answer: Callable[[Environ], Answer] | None = getattr(app, "answer", None)
    if answer is not None:
        return answer
    return lambda environ: call_wsgi(app, environ)
