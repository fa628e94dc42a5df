"""The diags-kit mock of Zequenze's Inventory Device Diags API.

``create_app(config)`` builds the Flask app (no module-level app); ``python -m mockserver serve``
runs it under a production WSGI server. See ``config.DEFAULTS`` for every setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from . import services
from .api import docs
from .api import resource as api
from .control import admin, faults, journal
from .core.config import DEFAULTS
from .pipeline import access_log, auth, cors, errors, lane, limits, strict


class MockFlask(Flask):
    """Flask, minus the per-hook check for coroutines: the mock has no async views or hooks.

    ``Flask.ensure_sync`` inspects every hook and view on every request; with a dozen of them that
    was a tenth of the mock's own time per request.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return func


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the mock: its settings are ``config.DEFAULTS`` overridden by ``config``."""
    app = MockFlask(__name__)
    app.config.update(DEFAULTS)
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    errors.init_app(app)
    auth.init_app(app)  # first: a 401 precedes every other answer
    services.init_app(app)
    limits.guard_store(app)
    lane.init_app(app)  # before limits: the lane runs inside the time-out's middleware
    limits.init_app(app)
    cors.init_app(app)  # an allowed preflight is answered before authentication
    faults.init_app(app)  # after limits: its middleware must be outside theirs
    journal.init_app(app)
    admin.init_app(app)  # after faults: a fault's latency is spent outside the reset gate
    app.register_blueprint(api.bp)
    app.register_blueprint(docs.bp)
    strict.init_app(app)
    access_log.init_app(app)  # last: the outermost layer sees every answer, dropped ones included
    return app
