"""Running the app under granian, a production WSGI server (threads, clean SIGINT/SIGTERM shutdown).

granian starts its workers as fresh processes that import the app by name, so the settings
travel to them as JSON in an environment variable and ``app_from_environment`` rebuilds the app.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from . import create_app

CONFIG_VARIABLE = "DIAGS_KIT_APP_CONFIG"
# The Authorization header is deliberately absent: tokens are never logged.
ACCESS_LOG_FORMAT = '[%(time)s] %(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1fms'


@dataclass
class ServerOptions:
    """How to serve: address, concurrency, logging."""

    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 2
    #: Worker processes; more than one only with a database store, which they share.
    workers: int = 1
    access_log: bool = True
    app_config: dict[str, Any] = field(default_factory=dict)
    #: The app factory the worker imports (``module:function``); the benchmark serves its bare app here.
    factory: str = f"{__name__}:app_from_environment"


def app_from_environment() -> Flask:
    """The app factory granian's workers call: settings come from ``CONFIG_VARIABLE``."""
    return create_app(json.loads(os.environ.get(CONFIG_VARIABLE, "{}")))


def serve(options: ServerOptions) -> None:
    """Serve until SIGINT or SIGTERM."""
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[CONFIG_VARIABLE] = json.dumps(options.app_config)
    Granian(
        options.factory,
        factory=True,
        interface=Interfaces.WSGI,
        address=options.host,
        port=options.port,
        workers=options.workers,
        blocking_threads=options.threads,
        websockets=False,
        log_access=options.access_log,
        log_access_format=ACCESS_LOG_FORMAT,
    ).serve()
