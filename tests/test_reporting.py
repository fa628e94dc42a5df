"""Failure output fit for QA: one root cause reported once, the reason in pytest's short summary, a
reproduce line with the test id and no token, skips explained, intermittent 5xx named by their figures."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from contract_servers import reference
from contract_servers.inventory import EMPTY_DEVICE_ID
from suite_process import Finished, run_suite

from contract_tests import claims
from contract_tests.checks import ContractViolation
from contract_tests.exchange import Exchange
from contract_tests.reporting import TALLY, intermittent_server_error, one_line_reason, skip_reasons

TOKEN = "reporting-token-8d2"


@pytest.fixture(scope="module")
def two_breaks() -> Iterator[Finished]:
    """A server whose list never ends (discovery, a session fixture, fails) and that checks no token."""
    server = reference.start(TOKEN, ["next-loops", "no-auth"])
    try:
        # A wide terminal, so that pytest's short summary has room for the reasons.
        yield run_suite(server.base_url, "--device-id", EMPTY_DEVICE_ID, token=TOKEN, env={"COLUMNS": "400"})
    finally:
        server.stop()


def test_a_broken_session_fixture_is_reported_once(two_breaks: Finished) -> None:
    output = two_breaks.output
    assert two_breaks.returncode == 1, output[-3000:]
    errors = output.split("= ERRORS =", 1)[1].split("= FAILURES =", 1)[0]
    full = re.findall(r"^E +\S+ContractViolation: contract violated: next_links_progress", errors, flags=re.M)
    assert len(full) == 1, errors[:3000]
    assert errors.count("(the same failure as the setup of") >= 10


def test_a_second_break_is_not_hidden(two_breaks: Finished) -> None:
    summary = two_breaks.output.split("diags-kit summary", 1)[1]
    assert re.search(r"contract violated: next_links_progress: .*\[\S+ and \d+ more\]", summary), summary
    assert "contract violated: unauthenticated_is_401" in summary, summary


def test_the_short_summary_gives_the_reason(two_breaks: Finished) -> None:
    short = two_breaks.output.split("short test summary info", 1)[1]
    assert re.search(r"^FAILED \S+ - contract violated: unauthenticated_is_401: expected 401", short,
                     flags=re.MULTILINE), short[:3000]


def test_failures_reproduce_by_test_id_without_the_token(two_breaks: Finished) -> None:
    output = two_breaks.output
    line = re.search(r"reproduce: (python -m pytest contract_tests .*)", output)
    assert line is not None, output[-3000:]
    assert '--token "$DIAGS_TOKEN"' in line.group(1)
    test_id = r"--hypothesis-seed=\d+ '?contract_tests/test_\w+\.py::\w+"
    assert re.search(test_id, line.group(1)), line.group(1)
    assert TOKEN not in output
    assert "@reproduce_failure" not in output and "reproduce_failure(" not in output


def test_tracebacks_are_short_by_default(two_breaks: Finished) -> None:
    # The long style marks the failing source line with '>' and prints whole functions.
    assert not re.search(r"^>  ", two_breaks.output, flags=re.MULTILINE)


def test_a_passing_read_only_run_says_why_tests_were_skipped() -> None:
    server = reference.start(TOKEN)
    try:
        done = run_suite(server.base_url, "--read-only", "--device-id", EMPTY_DEVICE_ID, token=TOKEN)
    finally:
        server.stop()
    assert done.returncode == 0, done.output[-3000:]
    summary = done.output.split("diags-kit summary", 1)[1]
    skipped = re.search(r"^skipped \d+: .*$", summary, flags=re.MULTILINE)
    assert skipped is not None, summary
    assert "check (mock) rules of docs/contract.md" in skipped.group(0) and "--read-only" in skipped.group(0)
    run_id = re.search(r"^diags-kit run id: .*$", done.output, flags=re.MULTILINE)
    assert run_id is not None and "notes" not in run_id.group(0), done.output[:2000]


def _exchange(status: int, url: str = "http://api.test/api/v1/inventory_device_diags/?limit=3") -> Exchange:
    return Exchange("GET", "GET", url, {}, None, status, {}, b"")


def test_an_intermittent_503_is_named_by_its_figures() -> None:
    url = "http://api.test/api/v1/inventory_device_diags/?limit=37"
    for status in [200] * 37 + [503] * 3:
        TALLY.record(_exchange(status, url))
    error = ContractViolation(claims.NO_SERVER_ERROR, "503 is a server error", _exchange(503, url))
    reason = one_line_reason(error, "")
    assert reason.startswith("the server answered 503 to 3 of 40 identical requests")
    assert "intermittent" in reason


def test_a_steady_500_stays_a_contract_violation() -> None:
    url = "http://api.test/api/v1/inventory_device_diags/?limit=38"
    TALLY.record(_exchange(500, url))
    error = ContractViolation(claims.NO_SERVER_ERROR, "500 is a server error", _exchange(500, url))
    assert intermittent_server_error(error) is None
    assert one_line_reason(error, "") == "contract violated: no_server_error: 500 is a server error"


def test_a_500_that_hypothesis_calls_flaky_is_intermittent() -> None:
    url = "http://api.test/api/v1/inventory_device_diags/?limit=39"
    TALLY.record(_exchange(500, url))
    TALLY.record(_exchange(200, url))

    class FlakyFailure(ExceptionGroup):  # hypothesis' own is an ExceptionGroup of that name
        pass

    violation = ContractViolation(claims.NO_SERVER_ERROR, "500", _exchange(500, url))
    flaky = FlakyFailure("Inconsistent results", [violation])
    assert "500 to 1 of 2 identical requests" in one_line_reason(flaky, "")


def test_skip_reasons_are_counted() -> None:
    class Report:
        def __init__(self, reason: str) -> None:
            self.longrepr = ("file.py", 1, f"Skipped: {reason}")

    reports = [Report("a (mock) rule of docs/contract.md: x")] * 3 + [Report("--read-only: this test posts")]
    reasons = dict(skip_reasons(reports))
    assert reasons["--read-only: this test posts"] == 1
    assert sum(count for reason, count in reasons.items() if "(mock) rules" in reason) == 3
