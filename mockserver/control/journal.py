"""The request journal: what clients actually sent, and what the mock answered, newest first.

Every request outside the admin API is recorded once answered: method, path, query string,
status, duration, an excerpt of the body (of a body the mock read; ``null`` when it answered
without reading one, as a 401 does), the ``Authorization`` header with its token masked, and the
faults that it triggered. The journal keeps the last ``DIAGS_JOURNAL_SIZE`` entries (0 turns
it off). With a database, the journal is a table of it, so every worker writes to the same one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Request

from ..api.query import ignored_parameters
from ..core.bearer import OTHER_SCHEMES
from ..core.config import ADMIN_PREFIX, API_PREFIX
from ..core.wsgi import Handler, Reply, body_if_read, faults_triggered
from ..services import services_of
from ..storage.base import EXCERPT_CHARS, StoreBusy

log = logging.getLogger(__name__)

#: Token characters shown before the mask, when the token is long enough to spare them.
SHOWN_TOKEN_CHARS = 4
MIN_TOKEN_TO_SHOW = 12
KNOWN_SCHEMES = OTHER_SCHEMES | {"bearer"}
RESOURCE_PATH = API_PREFIX + "/inventory_device_diags"


@lru_cache(maxsize=64)
def mask_authorization(header: str | None) -> str | None:
    """``Bearer YOUR…`` for ``Bearer YOUR_API_TOKEN``: the scheme, and never the whole token."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if not token:
        # One word: a scheme with no token, or a token sent without its scheme (never shown).
        return scheme if scheme.lower() in KNOWN_SCHEMES else "…" if scheme else ""
    token = token.strip()
    shown = token[:SHOWN_TOKEN_CHARS] if len(token) >= MIN_TOKEN_TO_SHOW else ""
    return f"{scheme} {shown}…"


def entry_for(
    environ: dict[str, Any], path: str, status: int | None, duration_ms: float, body: bytes | None,
    faults: Iterable[str] = (),
) -> dict[str, Any]:
    """The journal entry of one answered request, as recorded (see ``published``).

    ``body`` is the body the mock read, if it read one: reading one now could wait on a client
    that sends less than it said.
    """
    declared = environ.get("CONTENT_LENGTH")
    size = len(body) if body is not None else int(declared) if declared and declared.isdigit() else None
    query = environ.get("QUERY_STRING", "")
    entry = {
        "time": time.time(),
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "query": query,
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "content_type": environ.get("CONTENT_TYPE") or None,
        "body": None if body is None else body[:EXCERPT_CHARS * 4],
        "body_bytes": size,
        "authorization": mask_authorization(environ.get("HTTP_AUTHORIZATION")),
        "faults": list(faults),
    }
    if environ["REQUEST_METHOD"] == "GET" and path.rstrip("/") == RESOURCE_PATH and query:
        ignored = ignored_parameters(name for name, _ in parse_qsl(query, keep_blank_values=True))
        if ignored:
            entry["note"] = f"ignored query parameter(s), which the API does not have: {', '.join(ignored)}"
    return entry


def stage(app: Flask, next_handler: Handler) -> Handler:
    """Record every answered request outside the admin API (its clock starts before the stages inside)."""
    kept = services_of(app).journal
    instance = app.config.get("DIAGS_INSTANCE_NAME")

    def recorded(request: Request) -> Reply:
        path = request.path
        if kept.size <= 0 or path.startswith(ADMIN_PREFIX):
            return next_handler(request)
        started = time.perf_counter()
        reply = next_handler(request)
        environ = request.environ
        duration_ms = (time.perf_counter() - started) * 1000
        # A dropped connection answered nothing.
        status = None if reply.dropped else reply.status
        entry = entry_for(environ, path, status, duration_ms, body_if_read(environ),
                          faults_triggered(environ))
        if instance:
            entry["instance"] = instance
        try:
            kept.record(entry)
        except StoreBusy:
            # The answer is decided, and may say that data changed: a lost entry must not turn it into a 503.
            log.warning("journal entry dropped, the database stayed locked: %s %s", request.method, path)
        return reply

    return recorded

