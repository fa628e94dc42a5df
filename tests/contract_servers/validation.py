"""Validation of a POST body, in the documented order: 400 (not an object, field missing), then 422.

Choices the documentation leaves open are made here, on purpose unlike our mock: ``null`` is accepted
for the optional text fields (``notes``, ``reported_by``, ``performed_by``, ``priority``) and refused
(422) everywhere else; empty ``device_id``/``diagnostic_type`` are 422; fields the documentation does
not name are stored as sent.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

REQUIRED = ("device_id", "diagnostic_type")
SERVER_OWNED = frozenset({"id", "device_name", "device_serial", "created_at", "updated_at"})
SEVERITIES = frozenset({"low", "medium", "high", "critical"})
HEALTH_PERCENTAGES = ("cpu_usage", "memory_usage", "disk_space")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", flags=re.IGNORECASE)


class BodyError(Exception):
    """A body the server refuses, with the status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise BodyError(400, f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise BodyError(400, "the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BodyError(400, "the body must be a JSON object")
    missing = [name for name in REQUIRED if name not in body]
    if missing:
        raise BodyError(400, f"missing required field(s): {', '.join(missing)}")
    return body


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    # A JSON list or object is unhashable: test the type before the membership.
    return isinstance(value, str) and value in allowed


def _issue_problem(issue: Any) -> str | None:
    if not isinstance(issue, dict):
        return "each issue must be an object"
    if not _is_one_of(issue.get("severity"), SEVERITIES):
        return f"issue severity must be one of {', '.join(sorted(SEVERITIES))}"
    if not isinstance(issue.get("message"), str) or not isinstance(issue.get("code"), str):
        return "each issue needs a string message and code"
    return None


def _health_problem(details: dict[str, Any]) -> str | None:
    for name in HEALTH_PERCENTAGES:
        if name in details and not (_is_number(details[name]) and 0 <= details[name] <= 100):
            return f"details.{name} must be a percentage between 0 and 100"
    if "network_connectivity" in details and not isinstance(details["network_connectivity"], str):
        return "details.network_connectivity must be a string"
    if "last_ping" in details and not _is_datetime(details["last_ping"]):
        return "details.last_ping must be an RFC 3339 date-time"
    return None


def problems(body: dict[str, Any]) -> dict[str, str]:
    """Every malformed field of a parsed body, by name; empty when the body is valid (else a 422)."""
    found: dict[str, str] = {}
    for name in REQUIRED:
        if not isinstance(body[name], str) or not body[name].strip():
            found[name] = "must be a non-empty string"
    if "status" in body and not isinstance(body["status"], str):
        found["status"] = "must be a string"
    details = body.get("details", {})
    if not isinstance(details, dict):
        found["details"] = "must be an object"
    elif body.get("diagnostic_type") == "health_check" and (problem := _health_problem(details)):
        found["details"] = problem
    issues = body.get("issues", [])
    if not isinstance(issues, list):
        found["issues"] = "must be an array"
    else:
        for issue in issues:
            if problem := _issue_problem(issue):
                found["issues"] = problem
                break
    if body.get("notes") is not None and not isinstance(body["notes"], str):
        found["notes"] = "must be a string"
    for name in ("reported_by", "performed_by"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and EMAIL.fullmatch(value)):
            found[name] = "must be an e-mail address"
    if body.get("priority") is not None and not _is_one_of(body["priority"], SEVERITIES):
        found["priority"] = f"must be one of {', '.join(sorted(SEVERITIES))}"
    next_check_due = body.get("next_check_due")
    if next_check_due is not None and not _is_datetime(next_check_due):
        found["next_check_due"] = "must be an RFC 3339 date-time or null"
    return found
