"""Running the app under granian, a production HTTP server (clean SIGINT/SIGTERM shutdown).

granian starts its workers as fresh processes that import the app by name, so the settings
travel to them as JSON in an environment variable and ``app_from_environment`` rebuilds the app.
The worker serves it through granian's RSGI interface (``rsgi_bridge``): the event loop reads each
body under ``--body-timeout`` and answers on the loop, and only a request that can wait (injected
latency, a reset under way, a database) runs in one of ``--threads`` threads (``may_wait``).

granian (hyper underneath) answers some malformed requests itself, before the app runs, with a
4xx and an empty body; no setting of granian changes those answers or the limits below, except
the read buffer, which is raised here (``HTTP1_BUFFER_BYTES``). Fixed in hyper: 400 for a request
line or header line it cannot parse (bytes that are not ASCII in the target, a header name with a
space, a line without a colon, a control character in a value, a ``Content-Length`` that is not a
number); 414 for a target over 65,534 bytes; 431 for more than 100 header lines. Settable: 431 for
a head (request line and headers) that does not fit the read buffer.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from .. import create_app
from ..core.config import ADMIN_PREFIX, BODY_TIMEOUT_SECONDS
from ..core.wsgi import Environ
from ..pipeline.access_log import Logged
from ..services import freeze_long_lived_objects, services_of
from .rsgi_bridge import RsgiBridge

CONFIG_VARIABLE = "DIAGS_KIT_APP_CONFIG"
#: granian's HTTP/1 read buffer. Its default (about 408 KB) turns a bigger request head into an empty
#: 431 before the app can answer its JSON 431; with this, heads up to 4 MiB get the JSON one. A client
#: can make one connection hold this much memory, which a mock can afford.
HTTP1_BUFFER_BYTES = 4 * 1024 * 1024
#: How long a stop (SIGINT, SIGTERM) waits for a worker to finish its requests before it kills it. A
#: mock's requests take milliseconds; what can take longer is an injected latency, or a client that
#: stopped sending the body it announced (until its ``--body-timeout``).
STOP_GRACE_SECONDS = 5
#: Where the worker finds the WSGI app factory to serve (``module:function``).
FACTORY_VARIABLE = "DIAGS_KIT_WSGI_FACTORY"
THREADS_KEY = "DIAGS_THREADS"
BLOCKING_KEY = "DIAGS_APP_BLOCKS"


@dataclass
class ServerOptions:
    """How to serve: address, concurrency, logging."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: Threads for the requests that can wait (see the module docstring); the others need none.
    threads: int = 2
    #: Worker processes; more than one only with a database store, which they share.
    workers: int = 1
    #: One line per request on standard output, written by the mock (``access_log.py``); a factory
    #: other than the mock's (the benchmark's bare app) gets none, since granian's own is off.
    access_log: bool = True
    http1_buffer_bytes: int = HTTP1_BUFFER_BYTES
    app_config: dict[str, Any] = field(default_factory=dict)
    #: The WSGI app factory the worker imports (``module:function``); the benchmark serves its bare app here.
    factory: str = f"{__name__}:app_from_environment"
    #: Whether every request of that app may wait (the validation proxy waits on its upstream), and so
    #: runs in one of ``threads``; the mock decides per request (``may_wait``), the bare app never waits.
    blocking_app: bool = False


def app_from_environment() -> Flask:
    """The app factory granian's workers call: settings come from ``CONFIG_VARIABLE``."""
    app = create_app(json.loads(os.environ.get(CONFIG_VARIABLE, "{}")))
    freeze_long_lived_objects()
    return app


def may_wait(app: Flask) -> Callable[[Environ], bool]:
    """Which of the mock's requests can wait, and so must not run on the event loop.

    With a database, any request (another worker's lock); otherwise an admin request (a reset
    closes the gate that every request passes) and any request while a fault is armed (latency).
    """
    services = services_of(app)
    if services.database is not None:
        return lambda environ: True
    book = services.faults
    return lambda environ: book.armed() or environ["PATH_INFO"].startswith(ADMIN_PREFIX)


def record_refusal(app: Flask) -> Callable[[Environ, int, float], None]:
    """A line in the app's access log, if it keeps one, for an answer the app never saw (the 408)."""
    handlers = getattr(app.wsgi_app, "handlers", {})
    logged = handlers.get("access log")

    def record(environ: Environ, status: int, seconds: float) -> None:
        if isinstance(logged, Logged):
            logged.log.write(environ, str(status), time.perf_counter() - seconds)

    return record


def rsgi_app() -> RsgiBridge:
    """What granian's workers serve: the WSGI app of ``FACTORY_VARIABLE``, behind ``RsgiBridge``."""
    settings = json.loads(os.environ.get(CONFIG_VARIABLE, "{}"))
    module_name, _, function = os.environ.get(FACTORY_VARIABLE, ServerOptions.factory).partition(":")
    app: Flask = getattr(importlib.import_module(module_name), function)()
    mock = f"{module_name}:{function}" == ServerOptions.factory
    blocking = bool(settings.get(BLOCKING_KEY))
    return RsgiBridge(
        app.wsgi_app,
        threads=int(settings.get(THREADS_KEY, ServerOptions.threads)),
        body_timeout=float(settings.get("DIAGS_BODY_TIMEOUT", BODY_TIMEOUT_SECONDS)),
        max_body=app.config.get("MAX_CONTENT_LENGTH"),
        may_wait=may_wait(app) if mock else lambda environ: blocking,
        record_refusal=record_refusal(app),
    )


def serve(options: ServerOptions) -> None:
    """Serve until SIGINT or SIGTERM."""
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings

    os.environ[CONFIG_VARIABLE] = json.dumps({**options.app_config, "DIAGS_ACCESS_LOG": options.access_log,
                                              THREADS_KEY: options.threads,
                                              BLOCKING_KEY: options.blocking_app})
    os.environ[FACTORY_VARIABLE] = options.factory
    Granian(
        f"{__name__}:rsgi_app",
        factory=True,
        interface=Interfaces.RSGI,
        address=options.host,
        port=options.port,
        workers=options.workers,
        websockets=False,
        # granian picks uvloop, which the mock installs (but on Windows), over asyncio: a request's hand-over
        # from granian's I/O thread to the event loop costs the mock and the bare app ~20 us less.
        loop=Loops.auto,
        http1_settings=HTTP1Settings(max_buffer_size=options.http1_buffer_bytes),
        # The mock writes its access log itself (access_log.py): granian's costs a quarter of a page.
        log_access=False,
        workers_kill_timeout=STOP_GRACE_SECONDS,
    ).serve()
