"""The suite's session fixtures: the run, the client, what was discovered on the server, the write budget.

``conftest.py`` overrides pytest-base-url's ``base_url`` with ``serve_target``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .client import ApiClient
from .discovery import Device, Inventory, discover
from .embedded import EmbeddedMockError, running_mock
from .invariants import Observers
from .phases import SuiteOptions, suite_options
from .plugin import run_config
from .runconfig import RunConfig, WriteBudget


@pytest.fixture(scope="session")
def run(request: pytest.FixtureRequest) -> RunConfig:
    """What this run targets and may do."""
    return run_config(request.config)


def serve_target(run: RunConfig) -> Iterator[str]:
    """The API base URL: ``--base-url`` (pytest-base-url's option), else an embedded mock started here."""
    if run.base_url is not None:
        yield run.base_url
        return
    try:
        with running_mock(run.mock_seed, run.token) as url:
            yield url
    except EmbeddedMockError as error:
        pytest.fail(f"{error}\n(or point the suite at a running server with --base-url URL --token TOKEN)",
                    pytrace=False)


@pytest.fixture(scope="session")
def options(request: pytest.FixtureRequest, run: RunConfig) -> SuiteOptions:
    """The options of the invariant and concurrency checks."""
    return suite_options(request.config, embedded=run.embedded)


@pytest.fixture(scope="session")
def observers(options: SuiteOptions) -> Observers:
    """The run's invariants, fed every exchange of every client of the run."""
    return Observers(allow_helper_errors=options.allow_helper_errors, clock_tolerance=options.clock_tolerance)


@pytest.fixture(scope="session")
def api(base_url: str, run: RunConfig, observers: Observers) -> Iterator[ApiClient]:
    client = ApiClient(base_url, run.token, strict=run.strict)
    client.observers.append(observers)
    yield client
    client.close()


@pytest.fixture(scope="session")
def inventory(api: ApiClient, run: RunConfig) -> Inventory:
    """Devices learnt from the API (and any named with --device-id)."""
    return discover(api, list(run.device_ids))


@pytest.fixture(scope="session")
def write_budget(run: RunConfig) -> WriteBudget:
    return WriteBudget.for_worker(run.max_writes, run.worker_count)


@pytest.fixture(scope="session")
def target(inventory: Inventory) -> Device:
    """The device the suite posts to."""
    return inventory.write_device()


@pytest.fixture(scope="session")
def walk_devices(inventory: Inventory) -> list[Device]:
    """Devices whose lists are short enough to walk page by page."""
    devices = inventory.walk_devices()
    if not devices:
        pytest.skip("no device with a walkable list of records was discovered; name one with --device-id")
    return devices
