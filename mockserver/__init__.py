"""The diags-kit mock of Zequenze's Inventory Device Diags API.

``create_app(config)`` builds the Flask app (no module-level app); ``python -m mockserver serve``
runs it under a production WSGI server. See ``config.DEFAULTS`` for every setting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from . import pipeline, services
from .api import docs
from .api import resource as api
from .control import admin, faults
from .core.config import DEFAULTS
from .pipeline import errors, limits


class MockFlask(Flask):
    """Flask, minus the per-hook check for coroutines: the mock has no async views or hooks.

    ``Flask.ensure_sync`` inspects every hook and view on every request; with a dozen of them that
    was a tenth of the mock's own time per request.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return func


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the mock: its settings are ``config.DEFAULTS`` overridden by ``config``.

    Every request runs through the stages of ``pipeline.STAGES``; Flask routes what the pipeline's
    router does not answer itself, and has no request hooks of its own.
    """
    app = MockFlask(__name__)
    app.config.update(DEFAULTS)
    if config:
        app.config.update(config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    services.init_app(app)  # the store, the fault book, the journal, the reset gate, the clock, the seed
    limits.guard_store(app)  # every store call asks the request's deadline
    faults.init_app(app)  # the start-up faults
    admin.init_app(app)
    errors.init_app(app)  # JSON for what Flask's routing and the admin and docs views raise
    app.register_blueprint(api.bp)
    app.register_blueprint(docs.bp)
    pipeline.init_app(app)  # last: the pipeline wraps the app as it now stands
    return app
