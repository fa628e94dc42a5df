"""Running the app under granian, a production WSGI server (threads, clean SIGINT/SIGTERM shutdown).

granian starts its workers as fresh processes that import the app by name, so the settings
travel to them as JSON in an environment variable and ``app_from_environment`` rebuilds the app.

granian (hyper underneath) answers some malformed requests itself, before the app runs, with a
4xx and an empty body; no setting of granian changes those answers or the limits below, except
the read buffer, which is raised here (``HTTP1_BUFFER_BYTES``). Fixed in hyper: 400 for a request
line or header line it cannot parse (bytes that are not ASCII in the target, a header name with a
space, a line without a colon, a control character in a value, a ``Content-Length`` that is not a
number); 414 for a target over 65,534 bytes; 431 for more than 100 header lines. Settable: 431 for
a head (request line and headers) that does not fit the read buffer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from .. import create_app
from ..services import freeze_long_lived_objects

CONFIG_VARIABLE = "DIAGS_KIT_APP_CONFIG"
#: granian's HTTP/1 read buffer. Its default (about 408 KB) turns a bigger request head into an empty
#: 431 before the app can answer its JSON 431; with this, heads up to 4 MiB get the JSON one. A client
#: can make one connection hold this much memory, which a mock can afford.
HTTP1_BUFFER_BYTES = 4 * 1024 * 1024
#: How long a stop (SIGINT, SIGTERM) waits for a worker to finish its requests before it kills it. A
#: mock's requests take milliseconds; what can take longer is a client that stopped sending the body it
#: announced: granian has no body read time-out, so that request's thread waits for the client.
STOP_GRACE_SECONDS = 5


@dataclass
class ServerOptions:
    """How to serve: address, concurrency, logging."""

    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 2
    #: Worker processes; more than one only with a database store, which they share.
    workers: int = 1
    #: One line per request on standard output, written by the mock (``access_log.py``); a factory
    #: other than the mock's (the benchmark's bare app) gets none, since granian's own is off.
    access_log: bool = True
    http1_buffer_bytes: int = HTTP1_BUFFER_BYTES
    app_config: dict[str, Any] = field(default_factory=dict)
    #: The app factory the worker imports (``module:function``); the benchmark serves its bare app here.
    factory: str = f"{__name__}:app_from_environment"


def app_from_environment() -> Flask:
    """The app factory granian's workers call: settings come from ``CONFIG_VARIABLE``."""
    app = create_app(json.loads(os.environ.get(CONFIG_VARIABLE, "{}")))
    freeze_long_lived_objects()
    return app


def serve(options: ServerOptions) -> None:
    """Serve until SIGINT or SIGTERM."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    os.environ[CONFIG_VARIABLE] = json.dumps({**options.app_config, "DIAGS_ACCESS_LOG": options.access_log})
    Granian(
        options.factory,
        factory=True,
        interface=Interfaces.WSGI,
        address=options.host,
        port=options.port,
        workers=options.workers,
        blocking_threads=options.threads,
        websockets=False,
        http1_settings=HTTP1Settings(max_buffer_size=options.http1_buffer_bytes),
        # The mock writes its access log itself (access_log.py): granian's costs a quarter of a page.
        log_access=False,
        workers_kill_timeout=STOP_GRACE_SECONDS,
    ).serve()
