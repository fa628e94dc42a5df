"""The JSON Schemas: the docs' examples pass; hand-written invalid instances fail for the intended reason.

The example bodies below are copied verbatim from the published API documentation (GET's example
response; POST's cURL body, example request body and example response).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from documented import (
    GET_EXAMPLE_RESPONSE,
    POST_EXAMPLE_RESPONSE,
    curl_post,
    documented_record,
    example_request,
)
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable
from refs import refs_in

import schemas

DOCS_GET_RESPONSE = GET_EXAMPLE_RESPONSE
DOCS_POST_CURL_BODY = curl_post()
DOCS_POST_REQUEST_BODY = example_request()
DOCS_POST_RESPONSE = POST_EXAMPLE_RESPONSE

EXPECTED_NAMES = [
    "admin-deleted", "admin-device", "admin-devices-added", "admin-devices-listing", "admin-devices-request",
    "admin-fault", "admin-fault-listed", "admin-faults-added", "admin-faults-listing", "admin-faults-request",
    "admin-health", "admin-journal", "admin-reset-request", "admin-state",
    "any-error", "diag", "diag-create", "diag-create-data", "diag-create-wrapped", "diag-created",
    "diag-list", "error", "health-details", "issue",
]


def errors_of(name: str, instance: Any) -> set[tuple[str, str]]:
    """Why ``instance`` fails schema ``name``: (keyword, JSON path) of every error."""
    errors = schemas.validator(name).iter_errors(instance)
    return {(str(error.validator), error.json_path) for error in errors}


def a_record(**changes: Any) -> dict[str, Any]:
    record = documented_record()
    record.update(changes)
    return record


def without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != key}


# --- the files and the Python API ---------------------------------------------------------------------------


def test_one_file_per_shape() -> None:
    assert schemas.names() == EXPECTED_NAMES


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_every_schema_is_a_valid_2020_12_schema_with_its_own_id(name: str) -> None:
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}{schemas.SUFFIX}")
    assert schema.get("title") and schema.get("description")


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_every_ref_resolves_offline_from_the_registry(name: str) -> None:
    schema = schemas.load(name)
    resolver = schemas.registry().resolver(base_uri=schema["$id"])
    for ref in refs_in(schema):
        assert resolver.lookup(ref).contents is not None


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_the_examples_a_schema_shows_are_valid(name: str) -> None:
    for example in schemas.load(name).get("examples", []):
        assert errors_of(name, example) == set()


def test_an_unknown_ref_is_not_fetched_but_refused() -> None:
    # The registry has no retrieve function: a ref outside schemas/ fails at once, with no network.
    with pytest.raises(Unresolvable):
        schemas.registry().resolver().lookup("https://diags-kit.invalid/schemas/nothing.schema.json")


def test_an_unknown_name_is_a_key_error_listing_the_known_ones() -> None:
    with pytest.raises(KeyError, match="diag-list"):
        schemas.load("diags")


def test_validators_are_cached_and_check_formats() -> None:
    assert schemas.validator("diag") is schemas.validator("diag")
    checker = schemas.validator("diag").format_checker
    assert checker is not None
    # Each format needs its library (the jsonschema format extra); without it the format is silently skipped.
    assert {"date-time", "email", "uri"} <= set(checker.checkers)


def test_documented_statuses_of_each_operation() -> None:
    assert schemas.documented_statuses("GET") == {200: "diag-list", 401: "error", 404: "error", 500: "error"}
    assert schemas.documented_statuses("get", include_mock=True)[400] == "error"
    assert schemas.documented_statuses("POST") == {
        201: "diag-created", 400: "error", 401: "error", 404: "error", 422: "error",
    }
    assert schemas.documented_statuses("POST", include_mock=True)[413] == "error"
    with pytest.raises(KeyError):
        schemas.documented_statuses("DELETE")


def test_a_real_server_is_held_only_to_a_json_object_for_errors() -> None:
    assert schemas.response_schema("GET", 404, strict=True) == schemas.STRICT_ERROR
    assert schemas.response_schema("GET", 404, strict=False) == schemas.LENIENT_ERROR
    assert schemas.response_schema("GET", 200, strict=False) == "diag-list"
    assert schemas.response_schema("POST", 201, strict=False) == "diag-created"
    assert schemas.response_schema("POST", 418, strict=True) is None


# --- the documentation's examples ---------------------------------------------------------------------------


def test_the_get_example_response_is_a_valid_page() -> None:
    assert errors_of("diag-list", DOCS_GET_RESPONSE) == set()
    assert errors_of("diag", DOCS_GET_RESPONSE["results"][0]) == set()
    assert errors_of("health-details", DOCS_GET_RESPONSE["results"][0]["details"]) == set()
    assert errors_of("issue", DOCS_GET_RESPONSE["results"][0]["issues"][0]) == set()


@pytest.mark.parametrize("body", [DOCS_POST_CURL_BODY, DOCS_POST_REQUEST_BODY], ids=["curl", "request-body"])
def test_the_post_example_bodies_are_valid_in_both_forms(body: dict[str, Any]) -> None:
    assert errors_of("diag-create", body) == set()
    assert errors_of("diag-create-wrapped", {"data": json.dumps(body)}) == set()


def test_the_post_example_response_is_a_valid_created_record() -> None:
    assert errors_of("diag-created", DOCS_POST_RESPONSE) == set()


def test_the_openapi_document_carries_the_docs_examples_verbatim() -> None:
    operations = schemas.openapi()["paths"][schemas.RESOURCE_PATH]
    get_example = operations["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert get_example["documented"]["value"] == DOCS_GET_RESPONSE
    post_examples = operations["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert post_examples["maintenance"]["value"] == DOCS_POST_CURL_BODY
    assert post_examples["issue_report"]["value"] == DOCS_POST_REQUEST_BODY
    assert json.loads(post_examples["data_parameter"]["value"]["data"]) == DOCS_POST_REQUEST_BODY
    created = operations["post"]["responses"]["201"]["content"]["application/json"]["examples"]
    assert created["documented"]["value"] == DOCS_POST_RESPONSE


# --- formats ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["2024-01-15T14:25:00Z", "2024-01-15T14:25:00.123+01:00"])
def test_rfc3339_date_times_pass(moment: str) -> None:
    assert errors_of("diag", a_record(created_at=moment, next_check_due=moment)) == set()


@pytest.mark.parametrize("moment", ["2024-01-15T14:25:00", "2024-01-15 14:25:00Z", "2024-13-01T00:00:00Z",
                                    "2024-01-15", "yesterday"])
def test_other_date_times_fail_on_format(moment: str) -> None:
    assert errors_of("diag", a_record(updated_at=moment)) == {("format", "$.updated_at")}


@pytest.mark.parametrize("link", ["/api/v1/inventory_device_diags/?limit=20", "not a uri",
                                  "limit=20&offset=20"])
def test_page_links_must_be_absolute_uris(link: str) -> None:
    assert errors_of("diag-list", {**DOCS_GET_RESPONSE, "next": link}) == {("format", "$.next")}
    assert errors_of("diag-list", {**DOCS_GET_RESPONSE, "previous": link}) == {("format", "$.previous")}


@pytest.mark.parametrize("field", ["reported_by", "performed_by"])
def test_people_are_email_addresses(field: str) -> None:
    wrong = {**DOCS_POST_CURL_BODY, field: "tech at company"}
    assert errors_of("diag-create", wrong) == {("format", f"$.{field}")}
    assert errors_of("diag", a_record(**{field: "helpdesk"})) == {("format", f"$.{field}")}
    assert errors_of("diag-create", {**DOCS_POST_CURL_BODY, field: "tech@company.com"}) == set()


# --- hand-written invalid instances, each with the one reason it must fail for ----------------------------

INVALID: list[tuple[str, str, Any, set[tuple[str, str]]]] = [
    ("record without a serial", "diag", without(a_record(), "device_serial"), {("required", "$")}),
    ("record without issues", "diag", without(a_record(), "issues"), {("required", "$")}),
    ("record with an unknown severity", "diag",
     a_record(issues=[{"severity": "urgent", "message": "m", "code": "C"}]),
     {("enum", "$.issues[0].severity")}),
    ("issue without a code", "diag", a_record(issues=[{"severity": "low", "message": "m"}]),
     {("required", "$.issues[0]")}),
    ("health check over 100% cpu", "diag", a_record(details={"cpu_usage": 150}),
     {("maximum", "$.details.cpu_usage")}),
    ("health check with a bad ping time", "diag", a_record(details={"last_ping": "noon"}),
     {("format", "$.details.last_ping")}),
    ("record with a numeric next check", "diag", a_record(next_check_due=5), {("type", "$.next_check_due")}),
    ("record with an unknown priority", "diag", a_record(priority="urgent"), {("enum", "$.priority")}),
    ("record with an empty id", "diag", a_record(id=""), {("minLength", "$.id")}),
    ("page with a negative count", "diag-list", {**DOCS_GET_RESPONSE, "count": -1}, {("minimum", "$.count")}),
    ("page without results", "diag-list", without(DOCS_GET_RESPONSE, "results"), {("required", "$")}),
    ("page with a record missing its id", "diag-list",
     {**DOCS_GET_RESPONSE, "results": [without(a_record(), "id")]}, {("required", "$.results[0]")}),
    ("page whose results are an object", "diag-list", {**DOCS_GET_RESPONSE, "results": {}},
     {("type", "$.results")}),
    ("new diagnostic without a type", "diag-create", without(DOCS_POST_CURL_BODY, "diagnostic_type"),
     {("required", "$")}),
    ("new diagnostic with a numeric device", "diag-create", {**DOCS_POST_CURL_BODY, "device_id": 12345},
     {("type", "$.device_id")}),
    ("new diagnostic with an empty device", "diag-create", {**DOCS_POST_CURL_BODY, "device_id": ""},
     {("minLength", "$.device_id")}),
    ("new diagnostic with text details", "diag-create", {**DOCS_POST_CURL_BODY, "details": "fine"},
     {("type", "$.details")}),
    ("new diagnostic with an unknown priority", "diag-create",
     {**DOCS_POST_REQUEST_BODY, "priority": "urgent"}, {("enum", "$.priority")}),
    ("new diagnostic with issues as an object", "diag-create", {**DOCS_POST_CURL_BODY, "issues": {}},
     {("type", "$.issues")}),
    ("new health check with negative disk space", "diag-create",
     {"device_id": "d", "diagnostic_type": "health_check", "details": {"disk_space": -1}},
     {("minimum", "$.details.disk_space")}),
    ("new diagnostic as a list", "diag-create", [DOCS_POST_CURL_BODY], {("type", "$")}),
    ("data parameter as an object", "diag-create-wrapped", {"data": DOCS_POST_CURL_BODY},
     {("type", "$.data")}),
    ("data parameter missing", "diag-create-wrapped", {"payload": "{}"}, {("required", "$")}),
    ("created record without a timestamp", "diag-created", without(DOCS_POST_RESPONSE, "created_at"),
     {("required", "$")}),
    ("created record with a bad timestamp", "diag-created", {**DOCS_POST_RESPONSE, "updated_at": "now"},
     {("format", "$.updated_at")}),
    ("error without detail", "error", {"errors": {"device_id": ["required"]}}, {("required", "$")}),
    ("error with an empty detail", "error", {"detail": ""}, {("minLength", "$.detail")}),
    ("error with another key", "error", {"detail": "d", "message": "m"}, {("additionalProperties", "$")}),
    ("error with a bare message per field", "error", {"detail": "d", "errors": {"device_id": "required"}},
     {("type", "$.errors.device_id")}),
    ("error with no message for a field", "error", {"detail": "d", "errors": {"device_id": []}},
     {("minItems", "$.errors.device_id")}),
    ("real server's error as a string", "any-error", "Not Found", {("type", "$")}),
]


@pytest.mark.parametrize(("schema", "instance", "reasons"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_an_invalid_instance_fails_for_the_intended_reason(schema: str, instance: Any,
                                                           reasons: set[tuple[str, str]]) -> None:
    assert errors_of(schema, instance) == reasons


def test_records_may_carry_more_fields_and_a_real_servers_error_any_object() -> None:
    assert errors_of("diag", a_record(location="Floor 2", notes=None, priority=None)) == set()
    assert errors_of("diag-created", {**DOCS_POST_RESPONSE, "device_serial": "HP123456789"}) == set()
    assert errors_of("any-error", {"message": "Not Found", "code": 404}) == set()
