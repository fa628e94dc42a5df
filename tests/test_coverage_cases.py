"""The coverage phase's cases: every enumerated value, every JSON type, valid against the create schema."""

from __future__ import annotations

from typing import Any

import schemas
from contract_tests import coverage_cases
from contract_tests.phases import _writes_shape


def _walk(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found += _walk(item)
    elif isinstance(value, list):
        for item in value:
            found += _walk(item)
    return found


def _depth(value: Any) -> int:
    if isinstance(value, dict) and value:
        return 1 + max(_depth(item) for item in value.values())
    return 0


def test_valid_bodies_match_the_create_schema() -> None:
    for name, body in coverage_cases.valid_bodies("device-1", "tag").items():
        errors = list(schemas.validator("diag-create").iter_errors(body))
        assert not errors, (name, errors[:1])


def test_valid_bodies_hold_every_enumerated_value_and_json_type() -> None:
    bodies = coverage_cases.valid_bodies("device-1", "tag").values()
    assert {body.get("priority") for body in bodies} >= set(coverage_cases.PRIORITIES)
    severities = {issue["severity"] for body in bodies for issue in body.get("issues", [])}
    assert severities == set(coverage_cases.SEVERITIES)
    assert {body["diagnostic_type"] for body in bodies} > set(coverage_cases.STANDARD_TYPES)
    inside = [value for body in bodies for value in _walk(body["details"])]
    kinds = {type(value) for value in inside}
    assert {str, int, float, bool, type(None), dict, list} <= kinds
    assert max(_depth(body["details"]) for body in bodies) >= 5
    lengths = {len(body["issues"]) for body in bodies if "issues" in body}
    assert lengths >= {0, 1, len(coverage_cases.SEVERITIES)}
    several = next(body["issues"] for body in bodies if len(body.get("issues", [])) > 2)
    severities_in_order = [issue["severity"] for issue in several]
    assert severities_in_order not in (sorted(severities_in_order), sorted(severities_in_order, reverse=True))


def test_invalid_bodies_are_case_variants_or_not_emails() -> None:
    for refusal in coverage_cases.invalid_bodies("device-1", "marker"):
        errors = list(schemas.validator("diag-create").iter_errors(refusal.body))
        assert errors and refusal.expected == 422, refusal.why
    variants = {refusal.body.get("priority") for refusal in coverage_cases.invalid_bodies("d", "m")}
    assert {value.capitalize() for value in coverage_cases.PRIORITIES} <= variants


def test_concurrent_writes_shape() -> None:
    assert _writes_shape("4x5") == (4, 5)
    assert _writes_shape(" 2 X 3 ") == (2, 3)
