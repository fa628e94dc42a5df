"""The request pipeline: every request runs through the stages of ``STAGES``, in order, then the router.

A stage is a function ``stage(app, next_handler) -> handler``: its handler takes the request,
may answer it itself (a 401, a preflight, an injected fault) or pass it on to ``next_handler``,
and sees the answer on its way back out. ``build`` wraps the router in the stages, innermost
first, once per app; nothing else decides the order. A stage that the settings turn off returns
``next_handler`` itself, and costs nothing per request. To add a stage: write its function (in a
module here, or beside the feature it serves) and give it its place in ``STAGES``.

``Pipeline`` is the app's WSGI entry (``app.wsgi_app``): it makes the request object, runs the
stages, and writes the reply, or, for a dropped connection, its headers and none of its body. A
server that can take an answer whole (``core.wsgi.Answer``, as the mock's own server does) calls
``Pipeline.answer`` instead, and skips WSGI's ``start_response`` and body iterable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask import Flask, Request
from werkzeug.http import HTTP_STATUS_CODES

from ..control import admin, faults, journal
from ..core.wsgi import Answer, Environ, Handler, Reply, Stage, StartResponse
from . import access_log, auth, cors, errors, limits, strict
from .router import router

#: Every request runs these, outermost first: a stage runs before those below it, and sees their answer after.
STAGES: tuple[tuple[str, Stage], ...] = (
    ("access log", access_log.stage),  # every answer is logged, dropped connections included
    ("time-out", limits.timeout_stage),  # the deadline that every wait below respects; streamed bodies capped
    ("journal", journal.stage),  # records each answer as it leaves, strict mode's verdict included
    ("CORS", cors.stage),  # a preflight is answered before authentication; every answer labelled
    ("strict mode", strict.stage),  # every answer from below checked against its schema
    ("errors", errors.stage),  # whatever a stage below raises becomes the mock's JSON error
    ("authentication", auth.stage),  # a 401 comes before any other answer
    ("limits", limits.head_stage),  # the request's head: 414, 400, 431
    ("seed", admin.seed_stage),  # with a database, the seed another worker's reset chose
    ("faults", faults.stage),  # injected latency, error statuses and dropped connections
    ("reset gate", admin.gate_stage),  # a reset waits for the requests inside, and holds new ones back
)

#: What a dropped answer announces and never sends.
DROPPED_LENGTH = 64
STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}


def _nothing() -> Iterator[bytes]:
    # A generator, not a list: a server sizes a list body itself, and would send a complete empty answer.
    yield from ()


def build(app: Flask, last: Handler) -> dict[str, Handler]:
    """Each stage's handler, by name, wrapped around ``last``; the first is the whole pipeline."""
    handlers: dict[str, Handler] = {}
    handler = last
    for name, stage in reversed(STAGES):
        handler = stage(app, handler)
        handlers[name] = handler
    return dict(reversed(handlers.items()))


def _wire_headers(reply: Reply, method: str) -> list[tuple[str, str]]:
    headers = reply.headers
    given = False
    for name, _ in headers:
        if name.lower() == "content-length":
            given = True
            break
    if reply.status == 304 or (method == "HEAD" and given):
        return headers  # Flask sized them: a HEAD answer announces the length of the GET's body
    if given:
        headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    if reply.dropped:
        # Announced and never sent: the server closes the connection with the answer incomplete.
        return [*headers, ("Content-Length", str(DROPPED_LENGTH))]
    if reply.status == 204 or reply.status < 200:
        return headers
    return [*headers, ("Content-Length", str(len(reply.body)))]


class Pipeline:
    """The app's WSGI entry: every request through ``STAGES``, then the router."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.handlers = build(app, router(app, app.wsgi_app))
        self.handle = next(iter(self.handlers.values()))

    def reply(self, environ: Environ) -> tuple[Request, Reply]:
        """The request made of ``environ``, and the stages' reply to it."""
        # Not kept in the environ (``populate_request``): the two would hold each other, and every
        # request's objects would wait for the garbage collector instead of going at once.
        request = self.app.request_class(environ, populate_request=False)
        request.max_content_length = self.app.config.get("MAX_CONTENT_LENGTH")
        try:
            return request, self.handle(request)
        except Exception:  # a stage outside the errors stage failed
            return request, errors.crash(request.method, request.path).reply()

    def answer(self, environ: Environ) -> Answer:
        """The reply as a server sends it: status, headers, and the body (empty when none is sent).

        A whole body's ``Content-Length`` is the server's to add; the headers name one only where
        the body does not tell it: a HEAD's (the GET's length), and a dropped answer's (announced,
        never sent).
        """
        request, reply = self.reply(environ)
        if reply.dropped or request.method == "HEAD" or reply.status in (204, 304):
            return reply.status, _wire_headers(reply, request.method), b""
        return reply.status, reply.headers, reply.body

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request, reply = self.reply(environ)
        start_response(STATUS_LINES.get(reply.status) or f"{reply.status} UNKNOWN",
                       _wire_headers(reply, request.method))
        if reply.dropped:
            return _nothing()
        if request.method == "HEAD" or reply.status in (204, 304):
            return []
        return [reply.body]


def init_app(app: Flask) -> None:
    """Make the pipeline the app's WSGI entry (call last: it routes to the app as it then stands)."""
    app.wsgi_app = Pipeline(app)  # type: ignore[method-assign]
