"""The API's documentation, served by the mock: ``{base}/openapi.json`` and the page ``{base}/docs``.

``{base}/contract.openapi.json`` beside it is the contract's document
(``schemas.bundled_contract_openapi()``): the two operations as any real server must answer them, for peer
tools pointed at another server.

``openapi.json`` is the bundled document (``schemas.bundled_openapi()``): every schema file inlined,
so a browser or an OpenAPI tool needs this one URL. The page is Swagger UI, whose assets ship in the
``flask-swagger-ui`` package and are served from here, so it works with no network at all.

The documentation needs no token. ``auth`` skips the exact paths of ``DIAGS_PUBLIC_PATHS``; the page's
assets are added to them when this blueprint is registered, one path each, so nothing else under
``{base}/docs/`` becomes public.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import orjson
from flask import Blueprint, Response, render_template_string, send_from_directory, url_for
from flask.blueprints import BlueprintSetupState

import schemas

from ..core.config import API_PREFIX
from ..core.responses import JSON_MIMETYPE, not_found

bp = Blueprint("docs", __name__, url_prefix=API_PREFIX)

#: The Swagger UI files the page loads; nothing else of the package is served.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")
ASSET_MAX_AGE_SECONDS = 3600

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link rel="stylesheet" href="{{ url_for('docs.asset', name='swagger-ui.css') }}">
  <link rel="icon" type="image/png" sizes="32x32"
        href="{{ url_for('docs.asset', name='favicon-32x32.png') }}">
  <link rel="icon" type="image/png" sizes="16x16"
        href="{{ url_for('docs.asset', name='favicon-16x16.png') }}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{{ url_for('docs.asset', name='swagger-ui-bundle.js') }}"></script>
  <script>
    window.ui = SwaggerUIBundle({{ config|tojson }});
  </script>
</body>
</html>
"""


def assets_dir() -> Path:
    """Where the installed ``flask-swagger-ui`` keeps Swagger UI's built files."""
    return Path(str(resources.files("flask_swagger_ui") / "dist"))


def public_paths() -> tuple[str, ...]:
    """The documentation's paths that need no token."""
    return (
        f"{API_PREFIX}/openapi.json",
        f"{API_PREFIX}/contract.openapi.json",
        f"{API_PREFIX}/docs",
        f"{API_PREFIX}/docs/",
        *(f"{API_PREFIX}/docs/{name}" for name in ASSETS),
    )


@bp.record_once
def _make_public(state: BlueprintSetupState) -> None:
    config = state.app.config
    known = tuple(config.get("DIAGS_PUBLIC_PATHS", ()))
    config["DIAGS_PUBLIC_PATHS"] = known + tuple(path for path in public_paths() if path not in known)


@cache
def _document_bytes(document: str) -> bytes:
    return orjson.dumps(schemas.bundled(document))


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """The bundled OpenAPI 3.1 document."""
    return Response(_document_bytes(schemas.MOCK_DOCUMENT), mimetype=JSON_MIMETYPE)


@bp.get("/contract.openapi.json")
def contract_document() -> Response:
    """The bundled OpenAPI 3.1 document of the contract alone."""
    return Response(_document_bytes(schemas.CONTRACT_DOCUMENT), mimetype=JSON_MIMETYPE)


@bp.get("/docs/", strict_slashes=False)
def page() -> str:
    """Swagger UI on the bundled document; "Try it out" calls this server."""
    config = {
        "url": url_for("docs.openapi_document"),
        "dom_id": "#swagger-ui",
        "deepLinking": True,
        "displayRequestDuration": True,
        # Swagger UI would otherwise send the document to an online validator for its badge.
        "validatorUrl": None,
    }
    return render_template_string(PAGE, title=schemas.openapi()["info"]["title"], config=config)


@bp.get("/docs/<name>")
def asset(name: str) -> Response:
    """One of Swagger UI's files, from the installed package."""
    if name not in ASSETS:
        raise not_found(f"No documentation asset named {name!r}.")
    return send_from_directory(assets_dir(), name, max_age=ASSET_MAX_AGE_SECONDS)
