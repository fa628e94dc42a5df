"""Every setting of the mock, with its default. ``create_app(config)`` overrides them."""

from __future__ import annotations

from typing import Any

import fixtures

from .timestamps import utc_now

#: Where the API lives, as in the documentation's base URL; the control plane lives beside it.
API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/__admin"
#: The token the README documents, so the documentation's cURL examples work unchanged.
DEFAULT_TOKEN = "YOUR_API_TOKEN"
#: Characters a URL path keeps unencoded on the wire (RFC 3986 ``pchar`` and ``/``).
PATH_SAFE = "/:@!$&'()*+,;=-._~"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
#: Larger request headers (all ``Name: value`` lines together) get a 431; below the HTTP server's own limit.
MAX_HEADER_BYTES = 16 * 1024
#: A longer request target (path and query string) gets a 414.
MAX_URL_BYTES = 8 * 1024
#: An API request still running after this many seconds gets a 503 with ``Retry-After``; 0: no time-out.
REQUEST_TIMEOUT_SECONDS = 10.0
#: A request whose body has not all arrived this many seconds after its head gets a 408.
BODY_TIMEOUT_SECONDS = 10.0
#: Requests the admin API's journal keeps (the newest); 0 turns the journal off.
JOURNAL_SIZE = 1000
#: The diagnostic helpers ``update_status=true`` runs, and their thresholds (``api.diagnostics``).
DEFAULT_HELPERS: dict[str, Any] = {"helpers": ["resources", "connectivity"], "thresholds": {}}

DEFAULTS: dict[str, Any] = {
    "DIAGS_TOKENS": [DEFAULT_TOKEN],
    "DIAGS_SEED": fixtures.DEFAULT_SEED,
    "DIAGS_DEVICES": fixtures.DEFAULT_DEVICES,
    "DIAGS_DIAGS": fixtures.DEFAULT_DIAGS,
    "DIAGS_REFERENCE_TIME": fixtures.DEFAULT_REFERENCE_TIME,
    # A fixture already in memory, or a fixture file; neither means "generate from the seed".
    "DIAGS_FIXTURE": None,
    "DIAGS_FIXTURES_PATH": None,
    "DIAGS_HELPERS": DEFAULT_HELPERS,
    "DIAGS_PAGE_SIZE": DEFAULT_PAGE_SIZE,
    "DIAGS_MAX_PAGE_SIZE": MAX_PAGE_SIZE,
    "DIAGS_MAX_JSON_DEPTH": MAX_JSON_DEPTH,
    # Paths under the API prefix that need no token; the docs blueprint adds its own.
    "DIAGS_PUBLIC_PATHS": (),
    "DIAGS_CLOCK": utc_now,
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    "DIAGS_MAX_HEADER_BYTES": MAX_HEADER_BYTES,
    "DIAGS_MAX_URL_BYTES": MAX_URL_BYTES,
    "DIAGS_REQUEST_TIMEOUT": REQUEST_TIMEOUT_SECONDS,
    # Read by the server (rsgi_bridge.py), which answers a body slower than this with a 408.
    "DIAGS_BODY_TIMEOUT": BODY_TIMEOUT_SECONDS,
    # One line per request on standard output (access_log.py); ``serve`` turns it on.
    "DIAGS_ACCESS_LOG": False,
    # Strict mode (strict.py): every API answer checked against its schema; read per request.
    "DIAGS_STRICT": False,
    # The pipeline's router calls the resource's views for its GET and POST without Flask's dispatch.
    "DIAGS_DIRECT_VIEWS": True,
    # Never Flask's debug mode, whatever FLASK_DEBUG says: no debugger, no tracebacks for clients.
    "DEBUG": False,
    # The control plane (admin.py): its token, and the bound address (is it open without one?).
    "DIAGS_ADMIN_TOKEN": None,
    "DIAGS_HOST": "127.0.0.1",
    "DIAGS_JOURNAL_SIZE": JOURNAL_SIZE,
    # Fault definitions (faults.py) in force from the start.
    "DIAGS_FAULTS": [],
    "DIAGS_CORS_ORIGINS": [],
    # A SQLite file to keep the data in (sqlite_store.py); None keeps it in memory. PREPARED: the serving
    # process has filled it and set the start-up faults for its workers.
    "DIAGS_DB": None,
    "DIAGS_DB_PREPARED": False,
    #: The name every journal entry of this instance carries (``--instance-name``; ``serve`` sets HOST:PORT).
    "DIAGS_INSTANCE_NAME": None,
}


def is_api_path(path: str) -> bool:
    """Whether ``path`` is under the API prefix (where tokens are needed and answers are checked)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")
