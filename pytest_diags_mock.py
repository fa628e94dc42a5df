"""The pytest plugin of diags-kit: the ``diags_mock`` fixture and mark (entry point ``pytest11``).

pytest imports this module in every run where diags-kit is installed, so it imports nothing but
pytest: the mock's code (``mockserver.testing``) is imported, and a server started, only when a test
asks for ``diags_mock``.

One server per test session and per set of mark settings; under pytest-xdist each worker is a
session of its own, so each worker has its own servers. A shared server would need a lock held for
the whole of every test (a reset, faults and the journal belong to one test at a time), which would
run the tests one after the other and undo what xdist is for; a server starts in about a second.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockserver.testing import DiagsMock, ServerPool

MARK_HELP = ("diags_mock(seed=None, devices=None, diags=None, fixtures=None, helpers_config=None): "
             "the diags_mock fixture serves this data (a server per distinct settings, shared)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARK_HELP)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used the fixture shows the end of the server's output (a crash's trace is there)."""
    report = yield
    mock = getattr(item, "funcargs", {}).get("diags_mock")
    if mock is not None and report.failed and call.when == "call":
        report.sections.append(("diags_mock server output (end)", mock.log_tail()))
    return report


@pytest.fixture(scope="session")
def _diags_mock_pool() -> Iterator[ServerPool]:
    try:
        from mockserver.testing import ServerPool
    except ImportError as error:
        pytest.fail(f"diags_mock needs the mock server: pip install 'diags-kit[mock]' ({error})",
                    pytrace=False)
    with ServerPool() as pool:
        yield pool


@pytest.fixture
def diags_mock(request: pytest.FixtureRequest, _diags_mock_pool: ServerPool) -> DiagsMock:
    """A served mock of the Inventory Device Diags API, reset before the test (data, faults, journal)."""
    marker = request.node.get_closest_marker("diags_mock")
    if marker is not None and marker.args:
        pytest.fail("@pytest.mark.diags_mock takes keyword arguments only, e.g. seed=7", pytrace=False)
    settings = dict(marker.kwargs) if marker is not None else {}
    mock = _diags_mock_pool.get(settings, relative_to=request.path.parent)
    mock.reset_all()
    return mock
