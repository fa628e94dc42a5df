"""The suite's phases and the options of its invariant checks, as a pytest plugin.

- ``--list-claims`` prints the claims catalogue and exits (no server needed);
- the deterministic coverage phase (tests marked ``coverage_phase``) runs before every random example,
  and the checks of the whole run (marked ``final``, e.g. that ``count`` grew by what the suite wrote)
  after everything else;
- ``--allow-helper-errors``, ``--sole-writer``, ``--clock-tolerance`` and ``--concurrent-writes``
  tune the invariants; ``suite_options`` hands them to the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from . import claims

DEFAULT_CLOCK_TOLERANCE = 300.0
DEFAULT_CONCURRENT_WRITES = "4x5"


@dataclass(frozen=True)
class SuiteOptions:
    """What the invariant and concurrency checks may assume of this run."""

    allow_helper_errors: bool
    sole_writer: bool  # nobody but this run writes to the server: counts must match exactly
    clock_tolerance: float  # seconds between a new record's created_at and the client's clock
    writer_threads: int
    posts_per_thread: int


def _writes_shape(value: str) -> tuple[int, int]:
    found = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", value)
    if not found or int(found.group(1)) < 1 or int(found.group(2)) < 1:
        raise pytest.UsageError(f"--concurrent-writes takes THREADSxPOSTS, e.g. 4x5; got {value!r}")
    return int(found.group(1)), int(found.group(2))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diags-kit", "diags-kit contract suite")
    group.addoption("--list-claims", action="store_true",
                    help="print the catalogue of the contract's claims and exit")
    group.addoption("--allow-helper-errors", action="store_true",
                    help="accept the documented 500 of update_status=true (broken diagnostic helpers)")
    group.addoption("--sole-writer", action="store_true",
                    help="nobody else writes to the server during the run: counts must grow exactly by what "
                         "the suite wrote (always so against the embedded mock)")
    group.addoption("--clock-tolerance", type=float, default=DEFAULT_CLOCK_TOLERANCE, metavar="SECONDS",
                    help="how far a new record's created_at may lie from this machine's clock "
                         "(default %(default)s)")
    group.addoption("--concurrent-writes", default=DEFAULT_CONCURRENT_WRITES, metavar="THREADSxPOSTS",
                    help="POSTs sent at the same time (default %(default)s; fewer when --max-writes is "
                         "short)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--list-claims``: print the catalogue before the run is configured (no server, no token)."""
    if not config.getoption("list_claims", False):
        return None
    for line in claims.render():
        print(line)
    return 0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "coverage_phase: a deterministic case of the coverage phase (first)")
    config.addinivalue_line("markers", "final: checks the run as a whole (runs last)")


def suite_options(config: pytest.Config, *, embedded: bool) -> SuiteOptions:
    threads, posts = _writes_shape(str(config.getoption("concurrent_writes")))
    return SuiteOptions(
        allow_helper_errors=bool(config.getoption("allow_helper_errors")),
        sole_writer=bool(config.getoption("sole_writer")) or embedded,
        clock_tolerance=float(config.getoption("clock_tolerance")),
        writer_threads=threads,
        posts_per_thread=posts,
    )


def _phase(item: pytest.Item) -> int:
    if item.get_closest_marker("coverage_phase"):
        return 0
    return 2 if item.get_closest_marker("final") else 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The coverage phase first, the whole-run checks last; otherwise pytest's own order (a stable sort)."""
    items.sort(key=_phase)
