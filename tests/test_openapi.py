"""The OpenAPI 3.1 document: valid, complete against the documentation, and built on the schema files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema_path import SchemaPath
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from referencing import Resource
from referencing.jsonschema import DRAFT202012
from refs import refs_in

import schemas

#: Where the schema files say they live (their ``$id``s); refs of the document resolve against it.
SCHEMA_BASE = "https://diags-kit.invalid/schemas/"
BUNDLE_URI = "urn:diags-kit:openapi"

#: The response codes and descriptions of the documentation's tables, verbatim.
DOCUMENTED_RESPONSES = {
    "get": {
        "200": "Success - Returns diagnostic data for requested devices",
        "401": "Unauthorized - Invalid or missing API token",
        "404": "Not Found - Specified device ID does not exist",
        "500": "Server Error - Issue with diagnostic helper configuration",
    },
    "post": {
        "201": "Created - Diagnostic entry successfully created",
        "400": "Bad Request - Invalid or missing required data",
        "401": "Unauthorized - Invalid or missing API token",
        "404": "Not Found - Referenced device ID does not exist",
        "422": "Validation Error - Data format is incorrect",
    },
}
#: The schemas the document names itself; the others are reached through these.
TOP_LEVEL_SCHEMAS = ("diag-list", "diag-created", "diag-create", "diag-create-data", "error")
#: The admin API's bodies (mock only), each a schema file of its own.
ADMIN_SCHEMAS = ("admin-health", "admin-state", "admin-reset-request", "admin-journal", "admin-deleted",
                 "admin-faults-request", "admin-faults-added", "admin-faults-listing",
                 "admin-devices-request", "admin-devices-added", "admin-devices-listing")
PARAMETER_TYPES = {"id": "string", "update_status": "boolean", "limit": "integer", "offset": "integer"}


def keys_outside_examples(node: Any) -> set[str]:
    if isinstance(node, list):
        return {key for item in node for key in keys_outside_examples(item)}
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key not in ("example", "examples"):
            found |= keys_outside_examples(value)
    return found


def pointer(document: Any, ref: str) -> Any:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def operations() -> dict[str, Any]:
    found: dict[str, Any] = schemas.openapi()["paths"][schemas.RESOURCE_PATH]
    return found


def resolved_response(raw: dict[str, Any]) -> dict[str, Any]:
    return pointer(schemas.openapi(), raw["$ref"]) if "$ref" in raw else raw


def test_the_bundled_document_is_valid_openapi_3_1() -> None:
    document = schemas.bundled_openapi()
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_the_document_with_its_file_refs_is_valid_openapi_3_1_offline() -> None:
    fetched: list[str] = []

    def from_schemas_folder(uri: str) -> dict[str, Any]:
        assert uri.startswith(SCHEMA_BASE), f"a ref left schemas/: {uri}"
        fetched.append(uri)
        return schemas.load(uri.removeprefix(SCHEMA_BASE).removesuffix(schemas.SUFFIX))

    def refuse(uri: str) -> None:
        raise AssertionError(f"the validator tried to fetch {uri}")

    handlers = {"https": from_schemas_folder, "http": refuse, "file": refuse, "<all_urls>": refuse}
    document = SchemaPath.from_dict(schemas.openapi(), base_uri=f"{SCHEMA_BASE}openapi.json",
                                    handlers=handlers)
    OpenAPIV31SpecValidator(document).validate()
    assert f"{SCHEMA_BASE}diag-list{schemas.SUFFIX}" in fetched


def test_the_document_refers_to_the_schema_files_instead_of_copying_them() -> None:
    document = schemas.openapi()
    assert "schemas" not in document.get("components", {})
    file_refs = {ref for ref in refs_in(document) if not ref.startswith("#")}
    assert file_refs == {f"{name}{schemas.SUFFIX}" for name in TOP_LEVEL_SCHEMAS + ADMIN_SCHEMAS}
    assert "properties" not in keys_outside_examples(document)
    for method in ("get", "post"):
        for raw in operations()[method]["responses"].values():
            schema = resolved_response(raw)["content"]["application/json"]["schema"]
            assert set(schema) == {"$ref"} and schema["$ref"].endswith(schemas.SUFFIX)


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_documented_response_code_is_there_with_its_description(method: str) -> None:
    responses = operations()[method]["responses"]
    for status, description in DOCUMENTED_RESPONSES[method].items():
        response = resolved_response(responses[status])
        assert response["description"] == description
        assert not response.get("x-mock-only", False)
    for status in set(responses) - set(DOCUMENTED_RESPONSES[method]):
        # A code the documentation does not list is behaviour of the mock only.
        assert resolved_response(responses[status]).get("x-mock-only") is True, status


def test_the_list_operation_has_every_documented_parameter() -> None:
    parameters = {parameter["name"]: parameter for parameter in operations()["get"]["parameters"]}
    assert set(parameters) == set(PARAMETER_TYPES)
    for name, parameter in parameters.items():
        assert parameter["in"] == "query" and parameter["required"] is False
        assert parameter["schema"]["type"] == PARAMETER_TYPES[name]
        assert parameter["description"]
    assert parameters["id"]["example"] == "device-12345"
    assert parameters["update_status"]["example"] is True
    assert parameters["limit"]["schema"]["minimum"] == parameters["offset"]["schema"]["minimum"] == 0


def test_the_create_operation_takes_the_object_and_the_data_string() -> None:
    body = operations()["post"]["requestBody"]
    assert body["required"] is True
    json_schema = body["content"]["application/json"]["schema"]
    assert json_schema == {"oneOf": [{"$ref": "diag-create.schema.json"},
                                     {"$ref": "diag-create-data.schema.json"}]}
    # The form-encoded data parameter is the mock's too, but one operation with two request content types
    # is more than client generators build (README, "Generating a client").
    assert set(body["content"]) == {"application/json"}


def test_a_json_body_is_the_object_or_the_data_string_but_never_both() -> None:
    schema = operations()["post"]["requestBody"]["content"]["application/json"]["schema"]
    resource = Resource.from_contents({"$id": f"{SCHEMA_BASE}request.json", **schema},
                                      default_specification=DRAFT202012)
    validator = Draft202012Validator(resource.contents, registry=schemas.registry(),
                                     format_checker=FormatChecker())
    new = {"device_id": "device-12345", "diagnostic_type": "maintenance"}
    assert validator.is_valid(new)
    assert validator.is_valid({"data": json.dumps(new)})
    assert validator.is_valid({**new, "data": "an extra field of the diagnostic"})
    assert not validator.is_valid({"device_id": "device-12345", "data": json.dumps(new)})
    assert not validator.is_valid({"data": new})


def test_every_operation_needs_the_bearer_token() -> None:
    document = schemas.openapi()
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer",
    }
    unauthorized = [resolved_response(operations()[method]["responses"]["401"]) for method in ("get", "post")]
    assert all("WWW-Authenticate" in response["headers"] for response in unauthorized)


def test_operations_are_named_and_linked_for_stateful_tools() -> None:
    assert operations()["get"]["operationId"] == "listDiagnostics"
    assert operations()["post"]["operationId"] == "createDiagnostic"
    link = operations()["post"]["responses"]["201"]["links"]["listDeviceDiagnostics"]
    assert link["operationId"] == "listDiagnostics"
    assert link["parameters"] == {"id": "$response.body#/device_id"}


def test_the_servers_are_this_server_first_then_the_real_service() -> None:
    assert [server["url"] for server in schemas.openapi()["servers"]] == [
        "/api/v1", "https://control.zequenze.com/api/v1",
    ]
