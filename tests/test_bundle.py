"""Bundling a document with the schema files: self-contained, written for generators, and judging every
body exactly as the schema files do, for both documents the project ships."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from refs import refs_in

import schemas
from schemas.bundle import ANNOTATIONS, COMPONENTS_POINTER, bundle

BUNDLE_URI = "urn:diags-kit:bundle"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "default.json"
#: Values that break some rule of some field: each is put in place of each field of each sample.
ODD_VALUES: tuple[Any, ...] = (None, 5, -1, 101, "", "no e-mail", "2024-99-99T00:00:00Z", [], {}, [{"a": 1}])


def schemas_of(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"]
    return found


def file_validator(component: str) -> Draft202012Validator:
    """The validator of ``component`` read from the schema files: a file, or an entry of its ``$defs``."""
    if component in schemas.names():
        ref = schemas.load(component)["$id"]
    else:
        name = max((name for name in schemas.names() if component.startswith(name + "-")), key=len)
        ref = f"{schemas.load(name)['$id']}#/$defs/{component.removeprefix(name + '-')}"
    return Draft202012Validator({"$ref": ref}, registry=schemas.registry(),
                                format_checker=schemas.format_checker())


def bundled_validator(document: dict[str, Any], component: str) -> Draft202012Validator:
    """The validator of ``component`` read from the bundled document, as an OpenAPI tool reads it."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(BUNDLE_URI, resource)  # type: ignore[type-arg]
    return Draft202012Validator({"$ref": f"{BUNDLE_URI}{COMPONENTS_POINTER}{component}"}, registry=registry,
                                format_checker=schemas.format_checker())


def examples_in(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "examples" and isinstance(value, dict):
                yield from (example["value"] for example in value.values() if "value" in example)
            elif key == "example":
                yield value
            else:
                yield from examples_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from examples_in(item)


def variants(sample: Any) -> Iterator[Any]:
    """``sample``, then each of its fields (and those of its first nested objects) removed or replaced."""
    yield sample
    if not isinstance(sample, dict):
        return
    for key, value in sample.items():
        yield {other: kept for other, kept in sample.items() if other != key}
        for odd in ODD_VALUES:
            yield {**sample, key: odd}
        nested = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
        if isinstance(nested, dict):
            for inner in variants(nested):
                changed = copy.deepcopy(sample)
                changed[key] = [inner, *value[1:]] if isinstance(value, list) else inner
                yield changed


def instances(document: str) -> list[Any]:
    """Bodies to judge: every example of the document, seeded records, and many variants of them."""
    records = json.loads(FIXTURES.read_text(encoding="utf-8"))["diagnostics"][:2]
    page = {"count": 2, "next": "http://h/x?offset=1", "previous": None, "results": records[:2]}
    samples: list[Any] = [*examples_in(schemas.bundled(document)["paths"]), *records, page]
    samples += [{"data": json.dumps(records[0])}, {"detail": "d", "errors": {"x": ["y"]}}, [], "text", 7]
    return [variant for sample in samples for variant in variants(sample)]


@pytest.mark.parametrize("document", schemas.DOCUMENTS)
def test_the_bundle_judges_every_body_as_the_schema_files_do(document: str) -> None:
    bundled = schemas.bundled(document)
    bodies = instances(document)
    assert len(bodies) > 500
    for component in schemas_of(bundled):
        from_files, from_bundle = file_validator(component), bundled_validator(bundled, component)
        disagreements = [body for body in bodies
                         if from_files.is_valid(body) is not from_bundle.is_valid(body)]
        assert disagreements == [], component


@pytest.mark.parametrize("document", schemas.DOCUMENTS)
def test_every_ref_is_a_plain_reference_to_a_named_component(document: str) -> None:
    bundled = schemas.bundled(document)
    components = schemas_of(bundled)
    schema_refs = [ref for ref in refs_in(bundled) if ref.startswith("#/components/schemas")]
    assert schema_refs
    assert {ref.removeprefix(COMPONENTS_POINTER) for ref in schema_refs} <= set(components)
    for ref in refs_in(bundled):
        assert ref.startswith("#/components/"), ref
        kind, name = ref.removeprefix("#/components/").split("/")  # nothing deeper than a component
        assert name in bundled["components"][kind]


def schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in ("examples", "example", "default", "const", "enum"):
                yield from schema_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from schema_nodes(item)


@pytest.mark.parametrize("document", schemas.DOCUMENTS)
def test_the_components_are_written_the_way_generators_read_them(document: str) -> None:
    bundled = schemas.bundled(document)
    for node in schema_nodes(schemas_of(bundled)):
        assert not {"$id", "$schema", "$defs"} & set(node)
        if "$ref" in node:
            assert set(node) - {"$ref"} <= ANNOTATIONS, node  # a $ref beside constraints is an allOf
    for operation in bundled["paths"][schemas.RESOURCE_PATH].values():
        for media in operation.get("requestBody", {}).get("content", {}).values():
            schema = media["schema"]
            members = schema.get("oneOf", schema.get("anyOf", [schema]))
            assert all(set(member) == {"$ref"} for member in members), schema


@pytest.mark.parametrize("document", schemas.DOCUMENTS)
def test_the_components_are_what_the_document_reaches(document: str) -> None:
    bundled = schemas.bundled(document)
    components = schemas_of(bundled)
    outside = {key: value for key, value in bundled.items() if key != "components"}
    reached: set[str] = set()
    pending = [ref.removeprefix(COMPONENTS_POINTER) for ref in refs_in([outside, bundled["components"].get(
        "responses", {})]) if ref.startswith(COMPONENTS_POINTER)]
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending += [ref.removeprefix(COMPONENTS_POINTER) for ref in refs_in(components[name])]
    assert reached == set(components)


def test_the_bundle_leaves_the_source_documents_untouched() -> None:
    before = json.dumps([schemas.openapi(), schemas.contract_openapi()], sort_keys=True)
    for document in schemas.DOCUMENTS:
        schemas.bundled(document)
    assert json.dumps([schemas.openapi(), schemas.contract_openapi()], sort_keys=True) == before
    assert schemas.load("diag-list")["properties"]["results"]["items"] == {"$ref": "diag.schema.json"}


# --- the bundling rules on small schemas --------------------------------------------------------------------

SUFFIX = ".schema.json"


def small(name: str, **body: Any) -> dict[str, Any]:
    return {"$id": f"https://example.invalid/{name}{SUFFIX}", "$schema": "x", **body}


def bundled_small(*files: tuple[str, dict[str, Any]], refs: list[str]) -> dict[str, Any]:
    document = {"openapi": "3.1.0", "paths": {"/": {"get": {"responses": {
        "200": {"description": "", "content": {"application/json": {"schema": {"anyOf": [
            {"$ref": ref} for ref in refs]}}}}}}}}}
    return bundle(document, dict(files), SUFFIX)


def test_defs_become_components_of_their_own_nested_ones_too() -> None:
    record = small("record", type="object", properties={"a": {"$ref": "#/$defs/a"}},
                   **{"$defs": {"a": {"$ref": "#/$defs/b", "$defs": {"b": {"type": "string"}}},
                                "b": {"type": "integer"}}})
    page = small("page", items={"$ref": "record.schema.json#/$defs/a"})
    components = bundled_small(("record", record), ("page", page), refs=["page.schema.json"])["components"]
    assert components["schemas"] == {
        "page": {"items": {"$ref": "#/components/schemas/record-a"}},
        "record-a": {"$ref": "#/components/schemas/record-b"},
        "record-b": {"type": "integer"},  # "#/$defs/b" in a resolves against the file: the outer b
    }


def test_a_ref_beside_constraints_becomes_an_all_of_that_keeps_its_title() -> None:
    created = small("created", title="Created", description="d", required=["id"],
                    **{"$ref": "record.schema.json"})
    record = small("record", type="object")
    component = bundled_small(("created", created), ("record", record), refs=["created.schema.json"])
    assert component["components"]["schemas"]["created"] == {
        "title": "Created", "description": "d",
        "allOf": [{"$ref": "#/components/schemas/record"}, {"required": ["id"]}],
    }


def test_only_the_reached_schemas_are_components() -> None:
    used, unused = small("used", type="string"), small("unused", type="string")
    components = bundled_small(("used", used), ("unused", unused), refs=["used.schema.json"])["components"]
    assert list(components["schemas"]) == ["used"]


@pytest.mark.parametrize("ref", ["other.schema.json", "record.schema.json#/properties/a"])
def test_a_ref_to_no_file_or_into_a_schema_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match=r"names no schema file|points inside a schema"):
        bundled_small(("record", small("record", properties={"a": {}})), refs=[ref])


def test_a_def_named_like_another_file_is_refused() -> None:
    record = small("record", **{"$defs": {"a": {}}})
    with pytest.raises(ValueError, match="record-a"):
        bundled_small(("record", record), ("record-a", small("record-a")), refs=["record.schema.json"])
