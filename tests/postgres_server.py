"""The PostgreSQL tests' fixtures: one throwaway cluster for the session, a new database per test.

The cluster comes from ``mockserver.throwaway_postgres`` (the benchmark starts its own the same
way). Where no PostgreSQL can be had, the tests that need it skip, and the reason says so loudly:
they never pass without having run.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from mockserver.throwaway_postgres import INSTALL_HINT, Cluster, Unavailable, throwaway_cluster

NOT_TESTED = "POSTGRESQL NOT TESTED: {why} (" + INSTALL_HINT + ")"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One loud line at the end when the PostgreSQL tests skipped, whatever the options of pytest."""
    reasons = [str(report.longrepr[2]) for report in terminalreporter.stats.get("skipped", [])
               if isinstance(report.longrepr, tuple) and "POSTGRESQL NOT TESTED" in str(report.longrepr[2])]
    if reasons:
        reason = reasons[0].removeprefix("Skipped: ")
        terminalreporter.write_line(f"!!! {reason} ({len(reasons)} tests skipped) !!!", red=True, bold=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster for the whole session, stopped and removed at the end (or a loud skip)."""
    with ExitStack() as stack:
        try:
            cluster = stack.enter_context(throwaway_cluster())
        except Unavailable as why:
            pytest.skip(NOT_TESTED.format(why=why))
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """The URL (password included) of a new empty database of this test's own."""
    return postgres_cluster.create_database(f"test_{secrets.token_hex(6)}")
