"""The API documentation's examples, restated here from the published page.

Tests compare the code against these, never against the code's own copies (``fixtures.documented``,
the examples in ``schemas/openapi.json``), so a drift on either side shows. The request bodies are
the documentation's bytes, line breaks included.
"""

from __future__ import annotations

import json
from typing import Any

GET_URL = "https://control.zequenze.com/api/v1/inventory_device_diags/?id=device-12345&update_status=true"
POST_URL = "https://control.zequenze.com/api/v1/inventory_device_diags/"
# Each cURL example sends these headers, as documented.
HEADERS = {"Authorization": "Bearer YOUR_API_TOKEN", "Content-Type": "application/json"}

GET_EXAMPLE_RESPONSE: dict[str, Any] = {
    "count": 2,
    "next": None,
    "previous": None,
    "results": [
        {
            "id": "diag-001",
            "device_id": "device-12345",
            "device_name": "Office Printer HP-2024",
            "device_serial": "HP123456789",
            "diagnostic_type": "health_check",
            "status": "warning",
            "details": {
                "cpu_usage": 45,
                "memory_usage": 78,
                "disk_space": 23,
                "network_connectivity": "good",
                "last_ping": "2024-01-15T14:25:00Z",
            },
            "issues": [{"severity": "medium", "message": "Low disk space detected", "code": "DISK_LOW"}],
            "created_at": "2024-01-15T14:25:00Z",
            "updated_at": "2024-01-15T14:25:00Z",
            "next_check_due": "2024-01-15T18:25:00Z",
        }
    ],
}

# The body of the POST cURL example: the text between the quotes of its -d '...'.
CURL_POST_BODY = "\n".join(
    (
        "{",
        '"device_id": "device-12345",',
        '"diagnostic_type": "maintenance",',
        '"status": "completed",',
        '"details": {',
        '"action_performed": "firmware_update",',
        '"previous_version": "1.2.3",',
        '"new_version": "1.2.4",',
        '"duration_minutes": 15',
        "},",
        '"notes": "Firmware update completed successfully",',
        '"performed_by": "tech@company.com"',
        "}",
    )
).encode()

# "Example Request Body" of the POST documentation.
EXAMPLE_REQUEST_BODY = "\n".join(
    (
        "{",
        '"device_id": "device-12345",',
        '"diagnostic_type": "issue_report",',
        '"status": "open",',
        '"details": {',
        '"issue_category": "hardware",',
        '"symptoms": ["intermittent_connectivity", "slow_response"],',
        '"error_codes": ["ERR_NETWORK_001"],',
        '"impact_level": "medium"',
        "},",
        '"notes": "Device experiencing intermittent network connectivity issues. '
        'Users report slow response times during peak hours.",',
        '"reported_by": "helpdesk@company.com",',
        '"priority": "high"',
        "}",
    )
).encode()

POST_EXAMPLE_RESPONSE: dict[str, Any] = {
    "id": "diag-002",
    "device_id": "device-12345",
    "device_name": "Office Printer HP-2024",
    "diagnostic_type": "issue_report",
    "status": "open",
    "details": {
        "issue_category": "hardware",
        "symptoms": ["intermittent_connectivity", "slow_response"],
        "error_codes": ["ERR_NETWORK_001"],
        "impact_level": "medium",
    },
    "notes": "Device experiencing intermittent network connectivity issues. "
    "Users report slow response times during peak hours.",
    "reported_by": "helpdesk@company.com",
    "priority": "high",
    "created_at": "2024-01-15T15:30:00Z",
    "updated_at": "2024-01-15T15:30:00Z",
}


def documented_record() -> dict[str, Any]:
    """The GET example's one record, a fresh copy the caller may change."""
    record: dict[str, Any] = json.loads(json.dumps(GET_EXAMPLE_RESPONSE["results"][0]))
    return record


def curl_post() -> dict[str, Any]:
    """The cURL example's body as an object, a fresh copy."""
    body: dict[str, Any] = json.loads(CURL_POST_BODY)
    return body


def example_request() -> dict[str, Any]:
    """The example request body as an object, a fresh copy."""
    body: dict[str, Any] = json.loads(EXAMPLE_REQUEST_BODY)
    return body
