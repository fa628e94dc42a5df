"""Failure output fit for QA: the reason on one line, a reproduce line per test, one root cause once.

- Each failed report's crash message (what pytest's short summary and ``--junitxml`` show) becomes one
  line naming the reason: ``contract violated: <claim>: <problem>``.
- The reproduce line of a violation gains the test's id; the command passes the token as
  ``--token "$DIAGS_TOKEN"``, never its value.
- A session fixture that fails fails every test that needs it with the same exception: the first test
  shows it in full, the others one line pointing at it.
- A 5xx that the same request did not always get is reported as what it is ("the server answered 503
  to 3 of 40 identical requests"), not as hypothesis' ``FlakyFailure``.
- The terminal summary lists the root causes once each, and why tests were skipped.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from .checks import ContractViolation
from .exchange import Exchange
from .retrying import TargetTrouble

MOCK_ONLY_REASON = "a (mock) rule of docs/contract.md"
#: A gateway's or an overloaded server's answers: their figures say more than a claim's name.
TRANSIENT_STATUSES = frozenset({502, 503, 504})
_SKIP_PREFIX = re.compile(r"^Skipped: ")


class RequestTally:
    """The statuses each distinct request (method, URL, body) got in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statuses: dict[tuple[str, str, str], Counter[int]] = defaultdict(Counter)

    @staticmethod
    def _key(exchange: Exchange) -> tuple[str, str, str]:
        body = hashlib.sha256(exchange.sent_body or b"").hexdigest()
        return exchange.method, exchange.url, body

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._statuses[self._key(exchange)][exchange.status] += 1

    def statuses(self, exchange: Exchange) -> Counter[int]:
        with self._lock:
            return Counter(self._statuses.get(self._key(exchange), Counter()))


TALLY = RequestTally()


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """``error``, the exceptions it groups (hypothesis' FlakyFailure is a group), its causes."""
    seen: set[int] = set()
    pending = [error] if error is not None else []
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += list(getattr(current, "exceptions", ()))
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]


def find_violation(error: BaseException | None) -> ContractViolation | None:
    return next((found for found in _chain(error) if isinstance(found, ContractViolation)), None)


def _is_flaky(error: BaseException | None) -> bool:
    return any(type(found).__name__.startswith("Flaky") for found in _chain(error))


def intermittent_server_error(error: BaseException | None) -> str | None:
    """A server error the same request did not always get, described by its figures."""
    violation = find_violation(error)
    exchange = violation.exchange if violation is not None else None
    if exchange is None or exchange.status < 500:
        return None
    statuses = TALLY.statuses(exchange)
    total, errors = sum(statuses.values()), statuses[exchange.status]
    if exchange.status not in TRANSIENT_STATUSES and errors == total and not _is_flaky(error):
        return None  # a steady 500 is a violation like any other
    kind = "an intermittent server error" if errors < total or _is_flaky(error) \
        else "the server, or a gateway before it, was unavailable"
    return (f"the server answered {exchange.status} to {errors} of {total} identical requests "
            f"({exchange.method} {exchange.mask(exchange.url)}): {kind}")


def one_line_reason(error: BaseException | None, fallback: str) -> str:
    """What went wrong, in one line."""
    trouble = next((found for found in _chain(error) if isinstance(found, TargetTrouble)), None)
    if trouble is not None:
        return str(trouble).splitlines()[0]
    intermittent = intermittent_server_error(error)
    if intermittent:
        return intermittent
    violation = find_violation(error)
    if violation is not None:
        return f"contract violated: {violation.claim}: {violation.problem.splitlines()[0]}"
    return fallback.strip().splitlines()[0] if fallback.strip() else "failed"


def test_id(nodeid: str) -> str:
    """The node id from ``contract_tests/`` on, as both ``pytest`` and ``diags-contract`` accept it."""
    start = nodeid.rfind("contract_tests/")
    return nodeid[start:] if start >= 0 else nodeid


class FailureReports:
    """Rewrites failed reports as they are made (see the module docstring)."""

    def __init__(self, rerun_command: str, *, full_tracebacks: bool = False) -> None:
        self.rerun_command = rerun_command
        self.full_tracebacks = full_tracebacks  # --tb=long: every frame kept, as asked
        self._first_seen: dict[int, tuple[BaseException, str]] = {}
        self._first_trouble: dict[str, str] = {}
        self._lock = threading.Lock()

    def reproduce_line(self, nodeid: str) -> str:
        return f"{self.rerun_command} {shlex.quote(test_id(nodeid))}"

    def rewrite(self, report: pytest.TestReport, call: pytest.CallInfo[None]) -> bool:
        """Rewrite a failed report; True when it is reported in full (not as a repeat of another)."""
        if not report.failed or call.excinfo is None:
            return report.failed
        error = call.excinfo.value
        fallback = getattr(getattr(report.longrepr, "reprcrash", None), "message", "") or str(report.longrepr)
        reason = one_line_reason(error, fallback)
        if call.when == "setup":
            with self._lock:
                first = self._first_seen.setdefault(id(error), (error, report.nodeid))[1]
            if first != report.nodeid:
                report.longrepr = f"{reason}\n(the same failure as the setup of {test_id(first)}, above)"
                return False
        trouble = next((found for found in _chain(error) if isinstance(found, TargetTrouble)), None)
        if trouble is not None and not self.full_tracebacks:
            # Not the server's API at fault: no traceback, and the same trouble told in full once.
            with self._lock:
                first = self._first_trouble.setdefault(reason, report.nodeid)
            report.longrepr = str(trouble) if first == report.nodeid else \
                f"{reason}\n(as for {test_id(first)})"
            return False
        intermittent = intermittent_server_error(error)
        if intermittent:
            violation = find_violation(error)
            exchange = violation.exchange if violation is not None else None
            request = f"\n  request: {exchange.curl()}" if exchange is not None else ""
            report.longrepr = (f"{intermittent}{request}\n"
                               f"  reproduce: {self.reproduce_line(report.nodeid)}")
            return False
        reprcrash = getattr(report.longrepr, "reprcrash", None)
        if reprcrash is not None:
            reprcrash.message = reason
        chain = getattr(report.longrepr, "chain", None)
        if isinstance(error, ContractViolation) and chain:
            del chain[:-1]  # what led to the violation (urllib3's, requests' exceptions) is its message
        self._add_test_id(report)
        return True

    def _add_test_id(self, report: pytest.TestReport) -> None:
        """The violation's reproduce line (the run's command) gains this test's id."""
        old, new = f"reproduce: {self.rerun_command}", f"reproduce: {self.reproduce_line(report.nodeid)}"
        for chain_item in getattr(report.longrepr, "chain", ()):
            for entry in getattr(chain_item[0], "reprentries", ()):
                lines = getattr(entry, "lines", None)
                if lines:
                    entry.lines = [line.replace(old, new) if line.endswith(old) else line for line in lines]


def report_reason(report: Any) -> str:
    """The one-line reason of a finished failed report (also after the trip from an xdist worker)."""
    reprcrash = getattr(report.longrepr, "reprcrash", None)
    if reprcrash is not None:
        return str(reprcrash.message).splitlines()[0]
    text = str(report.longrepr).strip()
    return text.splitlines()[0] if text else "failed"


def root_causes(reports: list[Any]) -> list[tuple[str, list[str]]]:
    """Failed and erroring tests grouped by broken claim (or by reason), the most common first; each
    group shown with its first reason."""
    grouped: dict[str, list[str]] = defaultdict(list)
    shown: dict[str, str] = {}
    for report in reports:
        reason = report_reason(report)
        claim = re.match(r"contract violated: \w+|the network failed.* at \S+|\S+ was still [^:]+", reason)
        key = claim.group(0) if claim else reason
        shown.setdefault(key, reason)
        grouped[key].append(test_id(report.nodeid))
    return sorted(((shown[key], tests) for key, tests in grouped.items()), key=lambda item: -len(item[1]))


def skip_reasons(reports: list[Any]) -> list[tuple[str, int]]:
    """Why tests were skipped, with counts; the mock-only rules named as such."""
    counts: Counter[str] = Counter()
    for report in reports:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = _SKIP_PREFIX.sub("", reason)
        if reason.startswith(MOCK_ONLY_REASON):
            reason = "check (mock) rules of docs/contract.md, which a real server need not follow " \
                     "(--strict-contract checks them)"
        counts[reason] += 1
    return counts.most_common()


def write_summary(terminalreporter: Any, config: pytest.Config, reproduce: str) -> None:
    """The diags-kit summary: root causes once each, skips by reason, the command to rerun."""
    stats = terminalreporter.stats
    failed = [report for key in ("failed", "error") for report in stats.get(key, [])
              if getattr(report, "when", "call") in ("setup", "call", "teardown")]
    skipped = stats.get("skipped", [])
    show_skips = skipped and not {"s", "a", "A"} & set(config.option.reportchars or "")
    if not failed and not show_skips:
        return
    terminalreporter.section("diags-kit summary")
    for reason, tests in root_causes(failed):
        more = f" and {len(tests) - 1} more" if len(tests) > 1 else ""
        terminalreporter.write_line(f"{reason}  [{tests[0]}{more}]")
    if show_skips:
        parts = "; ".join(f"{count} {reason}" for reason, count in skip_reasons(skipped))
        terminalreporter.write_line(f"skipped {len(skipped)}: {parts}")
    if failed:
        terminalreporter.write_line(f"reproduce: {reproduce} TEST_ID")
