"""When to retry and what the retries added up to: Retry-After in both forms, the back-off, the figures."""

from __future__ import annotations

from datetime import UTC, datetime

from contract_tests.retrying import RetryStats, backoff_seconds, retry_after_seconds

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


def test_retry_after_in_seconds() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0 ") == 0.0


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Thu, 15 Jan 2026 12:00:41 GMT", now=NOW) == 41.0
    assert retry_after_seconds("Thu, 15 Jan 2026 11:59:00 GMT", now=NOW) == 0.0  # already past


def test_an_absent_or_unreadable_retry_after_is_none() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None


def test_the_back_off_doubles_up_to_a_ceiling() -> None:
    assert [backoff_seconds(retry) for retry in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_seconds(20) == 30.0


def test_the_figures_read_as_one_line_and_add_up_across_workers() -> None:
    controller, worker = RetryStats(), RetryStats()
    for _ in range(30):
        controller.retried("429", 1.0)
    worker.retried("429", 1.0)
    for _ in range(6):
        worker.retried("429", 1.0)
    worker.retried("503", 2.0)
    worker.retried("503", 3.0)
    controller.merge(worker.dump())
    assert controller.describe() == "37 retried after 429, 2 after 503; total wait 42 s " \
                                    "(not counted against the server)"
    assert ("diags_kit_retried_after_429", "37") in controller.junit_properties()
    assert RetryStats().describe() == ""
