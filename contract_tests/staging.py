"""The plugin's side of running against staging: the options for retries, pacing and TLS, the header
lines that say what is in force, and the retry figures in the terminal summary and the JUnit report
(added up across xdist workers). The work itself is in ``transport``, ``retrying`` and ``pacing``."""

from __future__ import annotations

from typing import Any

import pytest

from . import transport
from .pacing import Pacer
from .retrying import DEFAULT_MAX_RETRIES, DEFAULT_MAX_WAIT, STATS, RetryPolicy

RETRIES_KEY = "diags_kit_retries"


def add_options(group: Any) -> None:
    group.addoption("--max-retries", type=int, default=DEFAULT_MAX_RETRIES, metavar="N",
                    help="send a request answered 429 or 503 again at most N times (default %(default)s)")
    group.addoption("--max-retry-wait", type=float, default=DEFAULT_MAX_WAIT, metavar="SECONDS",
                    help="wait at most this long in all for 429/503 retries (per xdist worker; "
                         "default %(default)s)")
    group.addoption("--max-rps", type=float, default=None, metavar="N",
                    help="send at most N requests a second, across all threads and xdist workers")
    group.addoption("--ca-bundle", default=None, metavar="FILE",
                    help="trust the CA certificates of FILE (PEM) for an https base URL "
                         "(default: REQUESTS_CA_BUNDLE, else certifi's)")
    group.addoption("--insecure", action="store_true",
                    help="check no TLS certificate at all (the run says so, loudly)")


def configure(config: pytest.Config, worker_count: int) -> None:
    max_retries, max_wait = config.getoption("max_retries"), config.getoption("max_retry_wait")
    max_rps = config.getoption("max_rps")
    if max_retries < 0 or max_wait < 0 or (max_rps is not None and max_rps <= 0):
        raise pytest.UsageError("diags-kit: --max-retries and --max-retry-wait must be 0 or more, "
                                "--max-rps more than 0")
    verify = transport.tls_verify(config.getoption("ca_bundle"), bool(config.getoption("insecure")))
    transport.configure(verify, RetryPolicy(max_retries, max_wait), Pacer.for_worker(max_rps, worker_count))
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(JUnitRetryFigures(), "diags-kit-junit-retries")


def header_lines(config: pytest.Config, base_url: str | None) -> list[str]:
    lines = [f"diags-kit retries: 429/503 at most {config.getoption('max_retries')} times a request, "
             f"{config.getoption('max_retry_wait'):.0f} s of waiting in all"
             + (f"; paced to {config.getoption('max_rps'):g} requests a second"
                if config.getoption("max_rps") else "")]
    if base_url and base_url.lower().startswith("https:"):
        verify = transport.SETTINGS.verify
        if verify is False:
            lines.append("WARNING: --insecure: TLS certificates are NOT checked; anyone on the way can "
                         "read and change this run's requests, token included")
        else:
            lines.append(f"diags-kit TLS: certificates checked against "
                         f"{verify if isinstance(verify, str) else 'the certifi bundle'}")
    return lines


def dump_worker(workeroutput: dict[str, Any]) -> None:
    workeroutput[RETRIES_KEY] = STATS.dump()


def merge_worker(workeroutput: dict[str, Any]) -> None:
    dumped = workeroutput.get(RETRIES_KEY)
    if dumped:
        STATS.merge(dumped)


def write_summary(terminalreporter: Any, config: pytest.Config) -> None:
    described = STATS.describe()
    if described:
        terminalreporter.write_line(f"diags-kit requests: {described}")
    if config.getoption("insecure"):
        terminalreporter.write_line("WARNING: --insecure: no TLS certificate was checked in this run",
                                    yellow=True, bold=True)


class JUnitRetryFigures:
    """Puts the retry figures in ``--junitxml``'s properties, before the file is written."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from _pytest.junitxml import xml_key  # what pytest's record_testsuite_property fixture uses

        xml = session.config.stash.get(xml_key, None)
        if xml is None:
            return
        for name, value in STATS.junit_properties():
            xml.add_global_property(name, value)
