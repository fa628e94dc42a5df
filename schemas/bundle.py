"""One self-contained OpenAPI document from ``openapi.json`` and the schema files it refers to.

Browsers and OpenAPI tools want a single URL, so every schema file goes into
``components/schemas`` under its name (``diag-list.schema.json`` becomes
``#/components/schemas/diag-list``) and every ``$ref`` to a file, from the document or between
schemas, is rewritten to point there. ``$id`` and ``$schema`` are dropped from the copies: the
document's ``jsonSchemaDialect`` already says 2020-12, and without ``$id`` each ``$ref`` resolves
against the document itself. Nothing here reads files: the caller passes the parsed documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

COMPONENTS_POINTER = "#/components/schemas/"
DROPPED_KEYWORDS = ("$id", "$schema")


def component_ref(name: str, fragment: str = "") -> str:
    """The in-document ``$ref`` of schema ``name``, or of a place inside it (a JSON pointer ``fragment``)."""
    return COMPONENTS_POINTER + name + fragment


def _target(ref: str, base: str, names_by_uri: Mapping[str, str]) -> str:
    if not base and ref.startswith("#"):
        return ref  # already a pointer into the document
    # Inside a schema, "#/$defs/..." resolves against its $id, so it too is moved under components.
    uri, fragment = urldefrag(urljoin(base, ref))
    if uri not in names_by_uri:
        raise ValueError(f"$ref {ref!r} (from {base or 'the document'}) names no schema file")
    return component_ref(names_by_uri[uri], fragment)


def _rewrite(node: Any, base: str, names_by_uri: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, base, names_by_uri) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            rewritten[key] = _target(value, base, names_by_uri)
        else:
            rewritten[key] = _rewrite(value, base, names_by_uri)
    return rewritten


def bundle(
    document: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]], suffix: str
) -> dict[str, Any]:
    """``document`` with ``schemas`` (name -> parsed ``<name><suffix>``) inlined and every ``$ref`` local.

    A ``$ref`` in the document is a file name relative to it; a ``$ref`` in a schema resolves
    against that schema's ``$id``, as a JSON Schema validator would resolve it.
    """
    names_by_uri: dict[str, str] = {}
    for name, schema in schemas.items():
        names_by_uri[name + suffix] = name
        if "$id" in schema:
            names_by_uri[schema["$id"]] = name
    components: dict[str, Any] = {}
    for name, schema in schemas.items():
        base = schema.get("$id", name + suffix)
        body = {key: value for key, value in schema.items() if key not in DROPPED_KEYWORDS}
        components[name] = _rewrite(body, base, names_by_uri)
    bundled: dict[str, Any] = _rewrite(dict(document), "", names_by_uri)
    bundled.setdefault("components", {})
    bundled["components"]["schemas"] = {**bundled["components"].get("schemas", {}), **components}
    return bundled
