"""The diags-kit mock of Zequenze's Inventory Device Diags API.

``create_app(config)`` builds the Flask app (no module-level app); ``python -m mockserver serve``
runs it under a production WSGI server. See ``config.DEFAULTS`` for every setting.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import admin, api, auth, cors, docs, errors, faults, journal, limits, services, strict
from .config import DEFAULTS


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the mock: its settings are ``config.DEFAULTS`` overridden by ``config``."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    limits.init_app(app)  # first: size limits precede authentication
    errors.init_app(app)
    auth.init_app(app)
    services.init_app(app)
    limits.guard_store(app)
    cors.init_app(app)  # an allowed preflight is answered before authentication
    faults.init_app(app)  # after limits: its middleware must be the outermost
    journal.init_app(app)
    admin.init_app(app)  # after faults: a fault's latency is spent outside the reset gate
    app.register_blueprint(api.bp)
    app.register_blueprint(docs.bp)
    strict.init_app(app)
    return app
