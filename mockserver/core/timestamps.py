"""RFC 3339 timestamps as the API writes them: UTC, whole seconds, a trailing ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_timestamp(moment: datetime) -> str:
    """``2024-01-15T14:25:00Z`` for ``moment`` (converted to UTC first)."""
    return moment.astimezone(UTC).strftime(FORMAT)


def utc_now() -> datetime:
    """The real time; the app's clock unless a test gives it another."""
    return datetime.now(UTC)
