"""Reading and checking a POST body: both accepted forms, 400 versus 422, server-owned fields."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

import schemas
from contract_tests import strategies
from mockserver.api import payload
from mockserver.api.payload import SERVER_OWNED, checked_body, parse_body, parse_json, validate_create
from mockserver.core.responses import ApiError

DEPTH = 32
VALID = {"device_id": "device-12345", "diagnostic_type": "maintenance"}
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def error_of(call: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def read_json(body: Any, mimetype: str = JSON) -> dict[str, Any]:
    return parse_body(mimetype, json.dumps(body).encode(), MultiDict(), DEPTH)


def read_form(pairs: dict[str, str]) -> dict[str, Any]:
    raw = urlencode(pairs).encode()
    return parse_body(FORM, raw, MultiDict(parse_qsl(raw.decode())), DEPTH)


def test_parse_json_reads_an_object() -> None:
    assert parse_json(b'{"a": [1, 2.5, null, true]}', DEPTH) == {"a": [1, 2.5, None, True]}


def test_parse_json_keeps_every_64_bit_integer_exactly() -> None:
    raw = b'{"a": 18446744073709551615, "b": -9223372036854775808, "c": "123456789012345678901234567890"}'
    assert parse_json(raw, DEPTH) == {"a": 2**64 - 1, "b": -(2**63), "c": "123456789012345678901234567890"}


@pytest.mark.parametrize("number", [b"18446744073709551616", b"-9223372036854775809", b"9" * 300])
def test_parse_json_refuses_integers_it_cannot_store_exactly(number: bytes) -> None:
    # Read as a float they would be echoed changed; docs/contract.md wants every field echoed unchanged.
    error = error_of(parse_json, b'{"n": [1, ' + number + b"]}", DEPTH)
    assert error.status == 400 and "64 bits" in error.detail


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n",
        b"{",
        b"{'a': 1}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe",
        b'{"a": 1} trailing',
        b"[1,]",
        b'{"a": 1e400}',
        b'{"a": "\\ud800"}',
    ],
)
def test_parse_json_refuses_what_is_not_json_with_a_400(raw: bytes) -> None:
    error = error_of(parse_json, raw, DEPTH)
    assert error.status == 400
    assert error.detail


def test_parse_json_refuses_nesting_past_the_limit() -> None:
    assert parse_json(b"[" * DEPTH + b"]" * DEPTH, DEPTH) is not None
    error = error_of(parse_json, b"[" * (DEPTH + 1) + b"]" * (DEPTH + 1), DEPTH)
    assert error.status == 400 and str(DEPTH) in error.detail


def test_parse_json_survives_nesting_deeper_than_the_interpreter_allows() -> None:
    depth = 100_000
    error = error_of(parse_json, b"[" * depth + b"]" * depth, DEPTH)
    assert error.status == 400


def test_the_object_itself_is_read() -> None:
    assert read_json(VALID) == VALID


def test_the_data_parameter_as_a_json_string_is_unwrapped() -> None:
    assert read_json({"data": json.dumps(VALID)}) == VALID


def test_the_data_parameter_form_encoded_is_unwrapped() -> None:
    assert read_form({"data": json.dumps(VALID)}) == VALID


def test_a_form_content_type_with_a_json_body_is_read_as_json() -> None:
    # What `curl -d '{...}'` sends when the Content-Type header is forgotten.
    raw = json.dumps(VALID).encode()
    assert parse_body(FORM, raw, MultiDict(), DEPTH) == VALID


def test_a_json_suffix_content_type_is_json() -> None:
    assert read_json(VALID, "application/vnd.api+json") == VALID


def test_a_body_with_the_fields_and_a_data_key_is_not_unwrapped() -> None:
    body = {**VALID, "data": "kept"}
    assert read_json(body) == body


@pytest.mark.parametrize("body", [[], [VALID], "text", 3, None, True])
def test_a_body_that_is_not_an_object_is_a_400(body: Any) -> None:
    error = error_of(read_json, body)
    assert error.status == 400
    assert error.errors == {"body": ["Expected a JSON object holding the diagnostic."]}


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"a string"', ""])
def test_a_data_string_that_does_not_hold_an_object_is_a_400(data: str) -> None:
    assert error_of(read_json, {"data": data}).status == 400
    assert error_of(read_form, {"data": data}).status == 400


def test_an_unsupported_content_type_is_a_400_naming_it() -> None:
    error = error_of(parse_body, "text/plain", json.dumps(VALID).encode(), MultiDict(), DEPTH)
    assert error.status == 400 and "text/plain" in error.detail


def test_a_valid_body_passes() -> None:
    validate_create(
        {
            **VALID,
            "status": "completed",
            "details": {},
            "issues": [],
            "notes": "n",
            "reported_by": "a@example.com",
            "performed_by": "b@example.com",
            "priority": "low",
        }
    )


@pytest.mark.parametrize("missing", ["device_id", "diagnostic_type"])
def test_a_missing_required_field_is_a_400_naming_it(missing: str) -> None:
    body = {key: value for key, value in VALID.items() if key != missing}
    error = error_of(validate_create, body)
    assert error.status == 400
    assert error.errors is not None and error.errors[missing] == ["This field is required."]
    assert missing in error.detail


INVALID_FIELDS = [
    ("device_id", 12345),
    ("device_id", None),
    ("diagnostic_type", ["maintenance"]),
    ("details", "not an object"),
    ("details", []),
    ("issues", {"severity": "low"}),
    ("issues", [{"severity": "urgent", "message": "m", "code": "C"}]),
    ("issues", [{"severity": "low", "message": "m"}]),
    ("issues", ["DISK_LOW"]),
    ("priority", "urgent"),
    ("priority", "HIGH"),
    ("reported_by", "not an e-mail"),
    ("performed_by", "tech at company"),
    ("status", 3),
    ("notes", {"text": "x"}),
]


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS)
def test_a_field_of_the_wrong_type_or_format_is_a_422_naming_it(field: str, value: Any) -> None:
    error = error_of(validate_create, {**VALID, field: value})
    assert error.status == 422
    assert error.errors is not None and list(error.errors) == [field]
    assert all(message for message in error.errors[field])


def test_a_health_check_with_an_impossible_reading_is_a_422() -> None:
    error = error_of(
        validate_create, {"device_id": "d", "diagnostic_type": "health_check", "details": {"cpu_usage": 140}}
    )
    assert error.status == 422 and error.errors is not None and "details" in error.errors


def test_every_invalid_field_is_reported() -> None:
    error = error_of(validate_create, {**VALID, "priority": "urgent", "details": 1, "reported_by": "x"})
    assert error.status == 422
    assert error.errors is not None and set(error.errors) == {"priority", "details", "reported_by"}


def test_the_detail_names_every_invalid_field_in_plain_words() -> None:
    error = error_of(validate_create, {**VALID, "priority": "urgent", "details": 1, "reported_by": "bob"})
    assert error.detail.startswith("3 fields are invalid: ")
    for field in ("priority", "details", "reported_by"):
        assert field in error.detail
    assert 'reported_by must be an e-mail address, not "bob"' in error.detail
    assert "details must be an object, not a number" in error.detail
    assert error.errors is not None
    assert error.errors["reported_by"] == ['$.reported_by: must be an e-mail address, not "bob"']


@pytest.mark.parametrize(("body", "message"), [
    ({"device_id": None}, "$.device_id: must be a string, not null"),
    ({"device_id": ""}, "$.device_id: must not be empty"),
    ({"issues": [{"severity": "bad", "message": "m", "code": "C"}]},
     '$.issues[0].severity: must be one of low, medium, high, critical, not "bad"'),
    ({"issues": [{"severity": "low"}]}, "$.issues[0]: lacks the required fields message, code"),
    ({"diagnostic_type": "health_check", "details": {"cpu_usage": 150}},
     "$.details.cpu_usage: must be at most 100, not 150"),
    ({"notes": 3}, "$.notes: must be a string, not a number"),
])
def test_validation_messages_use_no_python_notation(body: dict[str, Any], message: str) -> None:
    error = error_of(validate_create, {**VALID, **body})
    assert error.status == 422
    assert error.errors is not None and message in [text for texts in error.errors.values() for text in texts]
    assert "None" not in error.detail and "'" not in error.detail


def test_missing_fields_win_over_wrong_types() -> None:
    error = error_of(validate_create, {"device_id": 5, "priority": "urgent"})
    assert error.status == 400
    assert error.errors is not None
    assert error.errors["diagnostic_type"] == ["This field is required."]


def test_checked_body_drops_server_owned_fields_and_keeps_the_rest_in_order() -> None:
    owned = {name: "2024-01-15T14:25:00Z" for name in SERVER_OWNED}
    body = {"notes": "first", **owned, **VALID, "custom": {"x": 1}}
    fields = checked_body(JSON, json.dumps(body).encode(), MultiDict(), DEPTH)
    assert list(fields) == ["notes", "device_id", "diagnostic_type", "custom"]
    assert fields["custom"] == {"x": 1}


def test_server_owned_fields_are_those_of_the_contract() -> None:
    assert {"id", "device_name", "device_serial", "created_at", "updated_at"} <= SERVER_OWNED


# --- The compiled check agrees with python-jsonschema ---------------------------------------------------

BODY_KEYS = ("device_id", "diagnostic_type", "status", "details", "issues", "notes", "reported_by",
             "performed_by", "priority", "extra")


def _bodies() -> st.SearchStrategy[dict[str, Any]]:
    """Valid bodies, bodies with one documented fault, and objects of any JSON under the body's keys."""
    valid = strategies.create_bodies("device-12345", "agreement")
    faulty = st.builds(lambda body, fault: {**body, fault.field: fault.value},
                       valid, strategies.faults("wrong"))
    anything = st.dictionaries(st.sampled_from(BODY_KEYS), strategies.json_values(), max_size=6)
    details = st.dictionaries(st.sampled_from(("cpu_usage", "last_ping", "network_connectivity")),
                              strategies.json_values(), max_size=3)
    health = st.builds(lambda body, found: {**body, "diagnostic_type": "health_check", "details": found},
                       valid, details)
    return st.one_of(valid, faulty, anything, health)


@settings(max_examples=400, deadline=None)
@given(_bodies())
def test_the_compiled_check_agrees_with_python_jsonschema(body: dict[str, Any]) -> None:
    assert payload._compiled_check()(body) == schemas.validator(payload.CREATE_SCHEMA).is_valid(body)


@pytest.mark.parametrize("field, value", [
    ("reported_by", "someone@localhost"),  # the stricter e-mail rule: a dotted domain
    ("details", {"last_ping": "2024-13-01T00:00:00Z"}),  # date-time, for a health check's details
])
def test_the_compiled_check_uses_the_same_format_rules(field: str, value: Any) -> None:
    body = {"device_id": "device-12345", "diagnostic_type": "health_check", field: value}
    assert not schemas.validator(payload.CREATE_SCHEMA).is_valid(body)
    assert not payload._compiled_check()(body)
