"""The contract's OpenAPI document: what the documentation promises and docs/contract.md requires of any real
server, nothing of the mock's own, and in agreement with the mock's document on everything it covers."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from test_openapi import DOCUMENTED_RESPONSES, PARAMETER_TYPES

import schemas

#: Statuses the contract allows beyond the documentation's tables, each with why.
ALLOWED_UNDOCUMENTED = {
    # docs/contract.md: a query value that does not parse may be refused (the mock's choice) or ignored.
    ("get", "400"): "Bad Request",
}
#: What only the mock promises: none of it may appear in the contract's document.
MOCK_ONLY_STATUSES = {"405", "413", "414", "431", "503"}
MOCK_ONLY_HEADERS = {"WWW-Authenticate", "Allow", "Retry-After"}


def contract() -> dict[str, Any]:
    return schemas.bundled_contract_openapi()


def mock() -> dict[str, Any]:
    return schemas.bundled_openapi()


def operations(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][schemas.RESOURCE_PATH]
    return found


def resolved(document: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in raw:
        found: dict[str, Any] = document["components"]["responses"][raw["$ref"].rsplit("/", 1)[-1]]
        return found
    return raw


def response_schema(document: dict[str, Any], method: str, status: str) -> Any:
    response = resolved(document, operations(document)[method]["responses"][status])
    return response["content"]["application/json"]["schema"]


def test_the_contract_document_is_valid_openapi_3_1() -> None:
    validate(contract())


def test_it_has_the_two_operations_and_nothing_else() -> None:
    assert list(contract()["paths"]) == [schemas.RESOURCE_PATH]
    assert sorted(operations(contract())) == ["get", "post"]
    assert [tag["name"] for tag in contract()["tags"]] == ["diagnostics"]
    assert "__admin" not in str(contract())
    assert "x-mock-only" not in str(contract())


@pytest.mark.parametrize("method", ["get", "post"])
def test_its_statuses_are_the_documented_ones_with_the_documented_descriptions(method: str) -> None:
    responses = operations(contract())[method]["responses"]
    allowed = {status for (verb, status) in ALLOWED_UNDOCUMENTED if verb == method}
    assert set(responses) == set(DOCUMENTED_RESPONSES[method]) | allowed
    for status, description in DOCUMENTED_RESPONSES[method].items():
        assert resolved(contract(), responses[status])["description"] == description
    for status in allowed:
        assert resolved(contract(), responses[status])["description"].startswith(
            ALLOWED_UNDOCUMENTED[(method, status)])
    assert not MOCK_ONLY_STATUSES & set(responses)


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_error_body_is_any_json_object_and_no_mock_header_is_promised(method: str) -> None:
    for status, raw in operations(contract())[method]["responses"].items():
        response = resolved(contract(), raw)
        assert not MOCK_ONLY_HEADERS & set(response.get("headers", {})), status
        if int(status) >= 400:
            assert response_schema(contract(), method, status) == {"$ref": "#/components/schemas/any-error"}
    assert contract()["components"]["schemas"]["any-error"] == {
        **contract()["components"]["schemas"]["any-error"], "type": "object"}
    assert "properties" not in contract()["components"]["schemas"]["any-error"]


def test_it_needs_the_bearer_token_and_nothing_more() -> None:
    assert contract()["security"] == [{"bearerAuth": []}]
    bearer = mock()["components"]["securitySchemes"]["bearerAuth"]
    assert contract()["components"]["securitySchemes"] == {"bearerAuth": bearer}


def test_the_data_parameter_is_explained_where_a_tool_reads_it() -> None:
    post = operations(contract())["post"]
    for text in (post["description"], contract()["info"]["description"]):
        assert "data" in text and "JSON Schema cannot check" in text and "400" in text


# --- agreement with the mock's document ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_both_documents_name_and_link_the_operations_alike(method: str) -> None:
    ours, theirs = operations(contract())[method], operations(mock())[method]
    for key in ("operationId", "tags", "summary"):
        assert ours[key] == theirs[key], key
    assert ours.get("requestBody") == theirs.get("requestBody")
    ours_links = ours["responses"].get("201", {}).get("links")
    assert ours_links == theirs["responses"].get("201", {}).get("links")


def test_both_documents_have_the_same_query_parameters_and_types() -> None:
    ours = {p["name"]: p for p in operations(contract())["get"]["parameters"]}
    theirs = {p["name"]: p for p in operations(mock())["get"]["parameters"]}
    assert set(ours) == set(theirs) == set(PARAMETER_TYPES)
    for name, parameter in ours.items():
        for key in ("in", "required", "schema", "example"):
            assert parameter.get(key) == theirs[name].get(key), (name, key)


@pytest.mark.parametrize("method", ["get", "post"])
def test_both_documents_give_every_documented_status_the_same_meaning(method: str) -> None:
    for status in DOCUMENTED_RESPONSES[method]:
        ours = resolved(contract(), operations(contract())[method]["responses"][status])
        theirs = resolved(mock(), operations(mock())[method]["responses"][status])
        assert ours["description"] == theirs["description"]
        assert not theirs.get("x-mock-only", False)
        our_schema = response_schema(contract(), method, status)
        their_schema = response_schema(mock(), method, status)
        if int(status) < 400:
            assert ours["content"] == theirs["content"]
        else:
            # The mock's error body is one of the JSON objects the contract allows.
            assert (our_schema, their_schema) == ({"$ref": "#/components/schemas/any-error"},
                                                  {"$ref": "#/components/schemas/error"})


@pytest.mark.parametrize("method", ["get", "post"])
def test_what_the_contract_allows_beyond_the_documentation_the_mock_documents_too(method: str) -> None:
    for (verb, status) in ALLOWED_UNDOCUMENTED:
        if verb == method:
            assert status in operations(mock())[method]["responses"]


def test_the_shared_components_are_the_same_in_both_documents() -> None:
    ours, theirs = contract()["components"]["schemas"], mock()["components"]["schemas"]
    shared = set(ours) & set(theirs)
    assert shared >= {"diag", "diag-list", "diag-created", "diag-create", "issue", "health-details"}
    assert {name: ours[name] for name in shared} == {name: theirs[name] for name in shared}
    assert set(ours) - set(theirs) == {"any-error"}
