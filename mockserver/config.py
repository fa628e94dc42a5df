"""Every setting of the mock, with its default. ``create_app(config)`` overrides them."""

from __future__ import annotations

from typing import Any

import fixtures

from .diagnostics import DEFAULT_CONFIG
from .timestamps import utc_now

#: The token the README documents, so the documentation's cURL examples work unchanged.
DEFAULT_TOKEN = "YOUR_API_TOKEN"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32

DEFAULTS: dict[str, Any] = {
    "DIAGS_TOKENS": [DEFAULT_TOKEN],
    "DIAGS_SEED": fixtures.DEFAULT_SEED,
    "DIAGS_DEVICES": fixtures.DEFAULT_DEVICES,
    "DIAGS_DIAGS": fixtures.DEFAULT_DIAGS,
    "DIAGS_REFERENCE_TIME": fixtures.DEFAULT_REFERENCE_TIME,
    # A fixture already in memory, or a fixture file; neither means "generate from the seed".
    "DIAGS_FIXTURE": None,
    "DIAGS_FIXTURES_PATH": None,
    "DIAGS_HELPERS": DEFAULT_CONFIG,
    "DIAGS_PAGE_SIZE": DEFAULT_PAGE_SIZE,
    "DIAGS_MAX_PAGE_SIZE": MAX_PAGE_SIZE,
    "DIAGS_MAX_JSON_DEPTH": MAX_JSON_DEPTH,
    "DIAGS_PUBLIC_PATHS": ("/api/v1/openapi.json", "/api/v1/docs"),
    "DIAGS_CLOCK": utc_now,
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
}
