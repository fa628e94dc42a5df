"""One self-contained OpenAPI document from a source document and the schema files it refers to.

Browsers, validators and client generators want a single URL, so every schema file goes into
``components/schemas`` under its name (``diag-list.schema.json`` becomes
``#/components/schemas/diag-list``) and every ``$ref`` to a file, from the document or between
schemas, is rewritten to point there.

Client generators read less of JSON Schema than validators do, so the copies are also written the way
they understand, without changing which instances they accept:

- each entry of a schema's ``$defs`` becomes a component of its own, ``<file>-<name>``
  (``diag.schema.json#/$defs/fields`` becomes ``#/components/schemas/diag-fields``), so that no
  ``$ref`` points into another component;
- a ``$ref`` beside other keywords becomes ``allOf`` of the ``$ref`` and those keywords (the same
  thing in draft 2020-12, and the form generators merge into a model of its own);
- ``$id`` and ``$schema`` are dropped: OpenAPI 3.1's own dialect is draft 2020-12, and without ``$id``
  each ``$ref`` resolves against the document itself;
- only the schemas the document reaches become components, so one folder of schemas serves documents
  of different scope (the contract's document has no admin schemas, the mock's no lenient error).

A union is a ``oneOf`` of ``$ref``s in the source already (each alternative a schema file), which is
how generators read unions; ``tests/test_bundle.py`` holds both documents to that.

Nothing here reads files: the caller passes the parsed documents, so the same code bundles every
document the project ships.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urldefrag, urljoin

COMPONENTS_POINTER = "#/components/schemas/"
DROPPED_KEYWORDS = ("$id", "$schema", "$defs")
DEFS_POINTER = "/$defs/"
#: Keywords beside a ``$ref`` that say nothing about validity, so the ``$ref`` may stay bare.
ANNOTATIONS = frozenset(
    {"title", "description", "examples", "default", "deprecated", "readOnly", "writeOnly"}
)
#: Keywords whose values are instances, not schemas.
INSTANCE_KEYWORDS = ("examples", "default", "const", "enum")


def component_ref(name: str) -> str:
    """The in-document ``$ref`` of component ``name``."""
    return COMPONENTS_POINTER + name


def def_component_name(name: str, path: list[str]) -> str:
    """The component an entry of ``$defs`` becomes: ``diag`` and ``["fields"]`` give ``diag-fields``."""
    return "-".join([name, *path])


def _defs_path(fragment: str) -> list[str] | None:
    """``/$defs/a/$defs/b`` as ``["a", "b"]``; None for any other JSON pointer."""
    if not fragment.startswith(DEFS_POINTER):
        return None
    parts = fragment.removeprefix(DEFS_POINTER).split(DEFS_POINTER)
    if any(not part or "/" in part for part in parts):
        return None
    return [part.replace("~1", "/").replace("~0", "~") for part in parts]


class _Refs:
    """Rewrites the ``$ref``s of one source file into pointers at components."""

    def __init__(self, names_by_uri: Mapping[str, str]) -> None:
        self.names_by_uri = names_by_uri

    def target(self, ref: str, base: str) -> str:
        if not base and ref.startswith("#"):
            return ref  # already a pointer into the document
        # Inside a schema, "#/$defs/..." resolves against its $id, so it too moves under components.
        uri, fragment = urldefrag(urljoin(base, ref))
        if uri not in self.names_by_uri:
            raise ValueError(f"$ref {ref!r} (from {base or 'the document'}) names no schema file")
        name = self.names_by_uri[uri]
        if not fragment:
            return component_ref(name)
        path = _defs_path(fragment)
        if path is None:
            raise ValueError(f"$ref {ref!r} (from {base or 'the document'}) points inside a schema, "
                             "not at a schema or an entry of its $defs")
        return component_ref(def_component_name(name, path))

    def rewrite(self, node: Any, base: str, *, in_schema: bool) -> Any:
        if isinstance(node, list):
            return [self.rewrite(item, base, in_schema=in_schema) for item in node]
        if not isinstance(node, dict):
            return node
        rewritten = {
            key: self.target(value, base) if key == "$ref" and isinstance(value, str)
            else self.rewrite(value, base, in_schema=in_schema and key not in INSTANCE_KEYWORDS)
            for key, value in node.items()
        }
        if in_schema and "$ref" in rewritten and set(rewritten) - {"$ref"} - ANNOTATIONS:
            return _beside_ref_as_all_of(rewritten)
        return rewritten


def _beside_ref_as_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """``{"$ref": R, "required": [...]}`` as ``{"allOf": [{"$ref": R}, {"required": [...]}]}``.

    Generators read a lone ``$ref`` in ``allOf`` as the referenced model itself, so the other
    keywords go in a second member and the schema stays a model of its own.
    """
    annotations = {key: value for key, value in schema.items() if key in ANNOTATIONS}
    constraints = {key: value for key, value in schema.items() if key not in ANNOTATIONS and key != "$ref"}
    return {**annotations, "allOf": [{"$ref": schema["$ref"]}, constraints]}


def _hoisted(name: str, schema: Mapping[str, Any], path: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``schema`` without its ``$defs``, then every entry of them (and of theirs), each under its name."""
    yield def_component_name(name, path), {key: value for key, value in schema.items()
                                           if key not in DROPPED_KEYWORDS}
    for entry, definition in schema.get("$defs", {}).items():
        yield from _hoisted(name, definition, [*path, entry])


def bundle(
    document: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]], suffix: str
) -> dict[str, Any]:
    """``document`` with ``schemas`` (name -> parsed ``<name><suffix>``) inlined and every ``$ref`` local.

    A ``$ref`` in the document is a file name relative to it; a ``$ref`` in a schema resolves
    against that schema's ``$id``, as a JSON Schema validator would resolve it. The components are
    the schemas the document reaches, so one folder of schemas serves documents of different scope.
    """
    names_by_uri: dict[str, str] = {}
    for name, schema in schemas.items():
        names_by_uri[name + suffix] = name
        if "$id" in schema:
            names_by_uri[schema["$id"]] = name
    refs = _Refs(names_by_uri)
    components: dict[str, Any] = {}
    for name, schema in schemas.items():
        base = schema.get("$id", name + suffix)
        for component, body in _hoisted(name, schema, []):
            if component in components or (component != name and component in schemas):
                raise ValueError(f"two schemas would both be the component {component!r}")
            components[component] = refs.rewrite(body, base, in_schema=True)
    bundled: dict[str, Any] = refs.rewrite(dict(document), "", in_schema=False)
    bundled.setdefault("components", {})
    known = {**bundled["components"].get("schemas", {}), **components}
    bundled["components"]["schemas"] = {name: known[name] for name in _reached(bundled, known)}
    return bundled


def _refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs_in(item)


def _reached(document: Mapping[str, Any], components: Mapping[str, Any]) -> list[str]:
    """The components the document's paths reach, directly or through other components, sorted."""
    outside = {key: value for key, value in document.items() if key != "components"}
    outside["components"] = {key: value for key, value in document["components"].items() if key != "schemas"}
    pending = [ref for ref in _refs_in(outside) if ref.startswith(COMPONENTS_POINTER)]
    reached: set[str] = set()
    while pending:
        name = pending.pop().removeprefix(COMPONENTS_POINTER)
        if name not in reached:
            reached.add(name)
            pending.extend(ref for ref in _refs_in(components[name]) if ref.startswith(COMPONENTS_POINTER))
    return sorted(reached)
