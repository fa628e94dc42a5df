"""The proxy app: ``create_app(config)``, and the factory granian's worker calls."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from flask import Flask

from contract_tests import claims

from . import admin
from .forward import Forwarder, Upstream
from .recorder import RecordBook
from .traffic import TrafficChecker, is_api, observed
from .violations import REQUEST, RESPONSE, Ledger, Violation


def _bad_gateway(detail: str, violations: list[Violation]) -> Upstream:
    body = {"detail": detail, "claims": sorted({violation.claim for violation in violations}),
            "violations": [violation.__dict__ for violation in violations]}
    return Upstream(502, "Bad Gateway", [("Content-Type", "application/json")], json.dumps(body).encode())


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The proxy. Settings: ``PROXY_UPSTREAM`` (the upstream API base URL), ``PROXY_HOST`` (the address it
    is bound to, for the admin API's rule), ``PROXY_ADMIN_TOKEN``, ``PROXY_REPORT_DIR``, ``PROXY_ERRORS``,
    ``PROXY_RECORD``."""
    app = Flask(__name__)
    app.config.update({"PROXY_HOST": "127.0.0.1", "PROXY_ADMIN_TOKEN": None, "PROXY_REPORT_DIR": None,
                       "PROXY_ERRORS": False, "PROXY_RECORD": None})
    app.config.update(config or {})
    base_url = str(app.config["PROXY_UPSTREAM"]).rstrip("/")
    report_dir = app.config["PROXY_REPORT_DIR"]
    ledger = Ledger(Path(report_dir) if report_dir else None)
    checker = TrafficChecker(base_url)
    record = app.config["PROXY_RECORD"]
    book = RecordBook(Path(record)) if record else None
    errors = bool(app.config["PROXY_ERRORS"])
    app.extensions["proxy.ledger"] = ledger
    app.register_blueprint(admin.bp)

    def inspect_exchange(environ: Any, url: str, headers: dict[str, str], body: bytes,
                         upstream: Upstream) -> tuple[Upstream, int]:
        if not is_api(url, base_url):
            return upstream, 0
        method = environ["REQUEST_METHOD"]
        exchange, verdict, token = observed(base_url, method, url, headers, body, upstream.status,
                                            upstream.headers, upstream.content)
        if upstream.status == 0:
            problem = exchange.mask(f"the upstream did not answer: {upstream.error}")
            found = [Violation(RESPONSE, claims.SERVER_ANSWERS.name, problem, method, exchange.mask(url), 0)]
            found += [Violation(REQUEST, name, exchange.mask(message), method, exchange.mask(url), 0)
                      for name, message in verdict.problems]
        else:
            try:
                found = checker.check(exchange, verdict, token)
                if book is not None and not exchange.operation.endswith("(other route)"):
                    book.observe(exchange)
            except Exception:  # a bug of the proxy's must not cost the client its answer
                traceback.print_exc(file=sys.stderr)
                found = []
        ledger.add(found)
        broken = [violation for violation in found if violation.side == RESPONSE]
        if upstream.status == 0:
            return _bad_gateway(f"the upstream {base_url} did not answer", broken), len(found)
        if errors and broken:
            return _bad_gateway("the upstream's answer breaks the contract", broken), len(found)
        return upstream, len(found)

    app.wsgi_app = Forwarder(app.wsgi_app, base_url, inspect_exchange)  # type: ignore[method-assign]
    return app


def app_from_environment() -> Flask:
    """The factory granian's worker calls: settings come from ``CONFIG_VARIABLE``."""
    from mockserver.serving.server import CONFIG_VARIABLE

    return create_app(json.loads(os.environ.get(CONFIG_VARIABLE, "{}")))

