"""The yardstick: a bare Flask app answering a fixed body, served exactly as the mock is served.

``GET`` or ``POST /bare/<size>`` answers ``size`` bytes of JSON and does nothing else, so the
benchmark can set the mock's throughput against what Flask and the server cost on their own for
a body of the same size. It runs through ``mockserver.serving.server.serve`` with only the app factory
swapped, so the two share every server option::

    python -m bench.bare_app --port 8001 --threads 2 [--no-access-log]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from functools import lru_cache

from flask import Flask, Response

from mockserver.pipeline.access_log import AccessLog
from mockserver.serving.server import CONFIG_VARIABLE, ServerOptions, serve

FACTORY = f"{__name__}:create_bare_app"
#: Bodies larger than this are refused, so a bad request cannot make the yardstick allocate much.
MAX_BODY = 1024 * 1024


@lru_cache(maxsize=64)
def fixed_body(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes (at least the 11 of ``{"pad": ""}``)."""
    frame = b'{"pad": ""}'
    return frame[:-2] + b"x" * max(size - len(frame), 0) + frame[-2:]


def create_bare_app() -> Flask:
    """The bare app: one route, no authentication, no store; the mock's access log if it has one."""
    app = Flask(__name__)

    @app.route("/bare/<int:size>", methods=["GET", "POST"])
    def answer(size: int) -> Response:
        return Response(fixed_body(min(size, MAX_BODY)), mimetype="application/json")

    # The mock writes its own access log (granian's is off for both): the yardstick pays for the same.
    if json.loads(os.environ.get(CONFIG_VARIABLE, "{}")).get("DIAGS_ACCESS_LOG"):
        app.wsgi_app = AccessLog(app.wsgi_app)  # type: ignore[method-assign]
    return app


def main(argv: Sequence[str] | None = None) -> None:
    defaults = ServerOptions()
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)
    serve(
        ServerOptions(
            port=args.port, threads=args.threads, access_log=not args.no_access_log, factory=FACTORY
        )
    )


if __name__ == "__main__":
    main()
