"""The fast lane: ``GET`` and ``POST`` on the resource, answered without Flask's per-request machinery.

Flask's request context, a dozen hooks, its response object and the context-local proxies cost
more per request than everything the mock itself does (bench/README.md has the profile). The
lane is WSGI middleware in front of the Flask app that answers the two requests a client sends
all day by calling the same functions as the Flask path, in the same order: authentication
(``auth.check_bearer``), the request-head limits (``limits.check_request_head``), the reset gate
(``admin.pass_gate``), the view (``api.list_page`` or ``api.create``), strict mode's check
(``strict.verdict``), the journal (``journal.entry_for``); errors are the same ``ApiError``
bodies. The time-out's deadline is set by ``limits.LimitsMiddleware`` around it.

It steps aside, and Flask answers, for anything else: other paths and methods, a form-encoded
POST, and whenever a fault is armed. It is not installed at all with CORS origins
or a database (their per-request work lives in Flask hooks). ``DIAGS_FAST_LANE = False`` turns
it off, so the tests can hold both paths to the same answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from flask import Flask, Request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..api import resource as api
from ..api.payload import FORM_TYPES
from ..control import admin, faults, journal
from ..core.config import API_PREFIX
from ..core.responses import JSON_MIMETYPE, ApiError
from ..services import services_of
from . import errors, strict
from .auth import check_bearer
from .limits import Environ, StartResponse, WsgiApp, body_if_read, check_request_head

RESOURCE_PATHS = frozenset({API_PREFIX + api.RESOURCE, API_PREFIX + api.RESOURCE.rstrip("/")})
STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}


def _no_helper_fault() -> str | None:
    return None  # the lane steps aside whenever a fault is armed


class FastLane:
    """WSGI middleware: answers the resource's GET and POST itself, hands everything else to ``wsgi_app``."""

    def __init__(self, app: Flask, wsgi_app: WsgiApp) -> None:
        # The journal, gate and fault book are looked up per request: they are attached after the lane.
        self.app = app
        self.wsgi_app = wsgi_app

    def takes(self, environ: Environ) -> bool:
        """Whether the lane answers this request (see the module docstring)."""
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "POST") or environ.get("PATH_INFO") not in RESOURCE_PATHS:
            return False
        if environ.get("SCRIPT_NAME") or faults.book(self.app).armed():
            return False
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        return not (method == "POST" and mimetype in FORM_TYPES)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self.takes(environ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        request = self.app.request_class(environ)
        request.max_content_length = self.app.config.get("MAX_CONTENT_LENGTH")
        status, payload, headers = self._answer(request)
        self._record(request, status, (time.perf_counter() - started) * 1000)
        start_response(STATUS_LINES[status], [
            *headers.items(), ("Content-Type", JSON_MIMETYPE), ("Content-Length", str(len(payload))),
        ])
        return [payload]

    def _answer(self, request: Request) -> tuple[int, bytes, dict[str, str]]:
        """Status, JSON body and extra headers, as the Flask path would answer them."""
        config = self.app.config
        try:
            status, payload, headers = *self._respond(request), {}
        except Exception as failure:
            error = (failure if isinstance(failure, ApiError)
                     else errors.from_http_error(failure, request) if isinstance(failure, HTTPException)
                     else errors.crash(request.method, request.path))
            status, payload, headers = error.status, error.payload(), dict(error.headers or {})
        if config.get("DIAGS_STRICT"):
            replacement = strict.verdict(request.method, request.path, True, status, JSON_MIMETYPE, payload)
            if replacement is not None:
                return replacement.status, replacement.payload(), {}
        return status, payload, headers

    def _respond(self, request: Request) -> tuple[int, bytes]:
        """The ``before_request`` checks, then the view, within the reset gate."""
        config = self.app.config
        check_bearer(request.environ.get("HTTP_AUTHORIZATION"), config["DIAGS_TOKENS"])
        check_request_head(request.environ, config)
        gate = admin.gate(self.app)
        admin.pass_gate(gate)
        try:
            found = services_of(self.app)
            if request.method == "GET":
                return 200, api.list_page(found, config, request, _no_helper_fault)
            return 201, api.create(found, config, request)
        finally:
            gate.leave()

    def _record(self, request: Request, status: int, duration_ms: float) -> None:
        kept = journal.journal(self.app)
        if kept.size > 0:
            kept.record(journal.entry_for(request.environ, request.path, status, duration_ms,
                                          body_if_read(request.environ)))


def init_app(app: Flask) -> None:
    """Put the lane in front of the app (call once the services exist, and before ``limits.init_app``)."""
    if (not app.config.get("DIAGS_FAST_LANE", True) or app.config.get("DIAGS_CORS_ORIGINS")
            or services_of(app).database is not None):
        return
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
