"""The end of the pipeline: the resource's views called directly, and Flask for every other route.

Flask's request context, its response object and the context-local proxies cost more per request
than everything the mock itself does (bench/README.md has the profile). So the two requests a
client sends all day, ``GET`` and ``POST`` on the resource, are answered by calling the views'
own functions (``resource.list_page``, ``resource.create``) with the pipeline's request; Flask
routes the rest (the admin API, the docs, HEAD, other methods, unknown paths), with no hooks of
its own: every request has already been through the same stages. ``DIAGS_DIRECT_VIEWS = False``
routes the resource through Flask too, so the tests can hold both routes to the same answers.
"""

from __future__ import annotations

from flask import Flask, Request

from ..api import resource
from ..core.config import API_PREFIX
from ..core.responses import json_reply
from ..core.wsgi import Handler, Reply, WsgiApp, call_wsgi
from ..services import services_of

RESOURCE_PATHS = frozenset({API_PREFIX + resource.RESOURCE, API_PREFIX + resource.RESOURCE.rstrip("/")})


def through_flask(flask_app: WsgiApp, request: Request) -> Reply:
    """Flask's answer to ``request``, collected into a reply."""
    status, headers, payload = call_wsgi(flask_app, request.environ)
    return Reply(status, payload, list(headers))


def router(app: Flask, flask_app: WsgiApp) -> Handler:
    """The pipeline's last handler: the resource's views for its ``GET`` and ``POST``, Flask for the rest."""
    config = app.config
    direct = bool(config.get("DIAGS_DIRECT_VIEWS", True))

    def route(request: Request) -> Reply:
        if direct and request.path in RESOURCE_PATHS and not request.environ.get("SCRIPT_NAME"):
            if request.method == "GET":
                reply = json_reply(resource.list_page(services_of(app), config, request))
                reply.headers.extend(resource.ignored_parameter_headers(request).items())
                return reply
            if request.method == "POST":
                return json_reply(resource.create(services_of(app), config, request), status=201)
        return through_flask(flask_app, request)

    return route
