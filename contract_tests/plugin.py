"""The suite's pytest plugin: options, the run's configuration, the report header, skips by mode,
reproduction notes on failures and the contract-coverage table (aggregated across xdist workers)."""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from . import command, contract_coverage, masking, preflight, reporting, staging
from .checks import set_reproduction_hint
from .client import plain_session
from .embedded import missing_modules
from .runconfig import RunConfig

RUN_CONFIG = pytest.StashKey[RunConfig]()
FAILURE_REPORTS = pytest.StashKey[reporting.FailureReports]()
WORKER_KEY = "diags_kit"
COVERAGE_KEY = "diags_kit_coverage"
DEFAULT_MAX_WRITES = 25
DEFAULT_MOCK_SEED = 20240115
#: Markers of tests that --read-only skips, and what they would do.
READ_ONLY_SKIPS = {
    "writes": "creates records",
    "posts": "sends POST requests",
    "refreshes": "sends update_status=true, which stores a refresh",
    "other_methods": "sends PUT, DELETE and PATCH",
}

#: Shrinking re-sends requests for minutes on a slow server; the default run reports the first failure.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)

settings.register_profile(
    "quick",
    max_examples=12,
    phases=NO_SHRINK,
    stateful_step_count=12,
    deadline=None,  # a network round trip is no measure of the code under test
    database=None,  # a run is reproduced by its seed alone
    print_blob=False,  # QA cannot act on @reproduce_failure: the seed replays the run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("quick"), max_examples=200,
                          stateful_step_count=40, phases=tuple(Phase))
settings.load_profile("quick")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diags-kit", "diags-kit contract suite")
    group.addoption("--token", default=os.environ.get("DIAGS_TOKEN"),
                    help="bearer token for the server under test (env DIAGS_TOKEN)")
    group.addoption("--read-only", action="store_true",
                    help="write nothing: no POST of any kind, no update_status=true")
    group.addoption("--strict-contract", action="store_true",
                    help="also check the (mock) rules of docs/contract.md "
                         "(always on against the embedded mock)")
    group.addoption("--max-writes", type=int, default=None, metavar="N",
                    help=f"create at most N records (default {DEFAULT_MAX_WRITES} against a base URL, "
                         "unlimited against the embedded mock)")
    group.addoption("--device-id", action="append", default=[], metavar="ID",
                    help="a device the server knows, used besides the devices discovered; repeatable")
    group.addoption("--mock-seed", type=int, default=DEFAULT_MOCK_SEED, metavar="S",
                    help="data seed of the embedded mock (default %(default)s)")
    group.addoption("--contract-coverage", default=None, metavar="PATH",
                    help="write the contract-coverage table as JSON to PATH")
    staging.add_options(group)
    group.addoption("--no-preflight", action="store_true",
                    help="skip the check, before any test, that the base URL answers, is the API's and "
                         "accepts the token")


def _base_url(config: pytest.Config) -> str | None:
    option = config.getoption("base_url", None)
    if option:
        return str(option)
    try:
        ini = config.getini("base_url")
    except ValueError:
        return None
    return str(ini) if ini else None


def _shared_values(config: pytest.Config) -> dict[str, Any]:
    """Values chosen once per run by the controller and handed to every xdist worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and WORKER_KEY in workerinput:
        return dict(workerinput[WORKER_KEY])
    seed = config.getoption("hypothesis_seed", None)
    return {
        "run_id": f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        "hypothesis_seed": str(seed) if seed is not None else str(random.randrange(2**32)),
        "generated_token": secrets.token_urlsafe(18),
    }


def _build_run_config(config: pytest.Config) -> RunConfig:
    shared = _shared_values(config)
    if config.getoption("base_url", None) == "":
        # An empty CI secret: without this the run would quietly target the embedded mock.
        raise pytest.UsageError("diags-kit: the base URL is empty (--base-url or PYTEST_BASE_URL): give the "
                                "API base, like https://host/api/v1, or unset it to test the embedded mock")
    base_url = _base_url(config)
    token = config.getoption("token")
    if base_url is None:
        missing = missing_modules()
        if missing:
            raise pytest.UsageError(
                "no --base-url given, so the suite would start the embedded mock, but its dependencies are "
                f"missing ({', '.join(missing)}): install diags-kit[mock], or point the suite at a server "
                "with --base-url URL --token TOKEN"
            )
        token = token or shared["generated_token"]
    elif not token:
        raise pytest.UsageError(f"--base-url {base_url} needs a token: pass --token or set DIAGS_TOKEN")
    token = masking.secret(token)
    max_writes = config.getoption("max_writes")
    if max_writes is None and base_url is not None:
        max_writes = DEFAULT_MAX_WRITES
    workerinput = getattr(config, "workerinput", {})
    return RunConfig(
        base_url=base_url,
        token=token,
        strict=bool(config.getoption("strict_contract")) or base_url is None,
        read_only=bool(config.getoption("read_only")),
        max_writes=max_writes,
        run_id=shared["run_id"],
        hypothesis_seed=shared["hypothesis_seed"],
        mock_seed=config.getoption("mock_seed"),
        worker_count=int(workerinput.get("workercount", 1)),
        device_ids=tuple(config.getoption("device_id")),
        shared=shared,
    )


def _restore_hypothesis_printer() -> None:
    """Undo schemathesis' pytest plugin, when installed: it swaps hypothesis' printer for one that prints
    nothing, which blanks every falsifying example this suite reports."""
    from hypothesis import core
    from hypothesis.vendor import pretty

    original = pretty.RepresentationPrinter
    if getattr(core, "RepresentationPrinter", original) is not original:
        core.RepresentationPrinter = original  # type: ignore[misc]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers",
                            "mock_only: checks a (mock) rule of docs/contract.md; needs strict mode")
    config.addinivalue_line("markers", "writes: creates records on the server under test")
    config.addinivalue_line("markers", "posts: sends POST requests (none in read-only mode)")
    config.addinivalue_line("markers", "refreshes: sends update_status=true, which stores a refresh")
    config.addinivalue_line("markers", "other_methods: sends PUT, DELETE and PATCH (none in read-only mode)")
    if config.getoption("help", False):
        return
    _restore_hypothesis_printer()
    run = _build_run_config(config)
    config.stash[RUN_CONFIG] = run
    # Before hypothesis' own pytest_configure reads it: every test then runs from this one seed.
    config.option.hypothesis_seed = run.hypothesis_seed
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "short"  # the violation's message says it all; frames are for --tb=long
    set_reproduction_hint(_rerun_command(run))
    config.stash[FAILURE_REPORTS] = reporting.FailureReports(
        _rerun_command(run), full_tracebacks=config.option.tbstyle == "long")
    staging.configure(config, run.worker_count)
    _preflight(config, run)


def _preflight(config: pytest.Config, run: RunConfig) -> None:
    """Stop before any test, with one line, when the target cannot be the API (see ``preflight``)."""
    if (run.base_url is None or hasattr(config, "workerinput") or config.getoption("no_preflight")
            or config.getoption("collectonly", False)):
        return
    with plain_session(run.base_url) as session:
        problem = preflight.check(run.base_url, run.token, session)
    if problem:
        raise pytest.UsageError(masking.scrub(problem))


def _rerun_command(run: RunConfig) -> str:
    """The command line that replays this run's examples (the token left to DIAGS_TOKEN)."""
    target = f'--base-url {run.base_url} --token "$DIAGS_TOKEN"' if run.base_url \
        else f"--mock-seed {run.mock_seed}"
    flags = [flag for flag, on in (("--strict-contract", run.strict and run.base_url is not None),
                                   ("--read-only", run.read_only)) if on]
    seed = f"--hypothesis-seed={run.hypothesis_seed}"
    program = command.NAME if command.invoked() else "python -m pytest contract_tests"
    return " ".join([program, target, *flags, seed])


def run_config(config: pytest.Config) -> RunConfig:
    return config.stash[RUN_CONFIG]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker shares the controller's run id, seed and generated token."""
    node.workerinput[WORKER_KEY] = run_config(node.config).shared


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = run_config(config)
    notes = "" if run.read_only else f" (created records' notes start with {run.tag!r})"
    return [
        f"diags-kit contract target: {run.describe_target()}",
        f"diags-kit contract mode: {run.describe_mode()}",
        f"diags-kit run id: {run.run_id}{notes}",
        f"hypothesis seed: {run.hypothesis_seed}, profile {settings.get_current_profile_name()!r}",
        *staging.header_lines(config, run.base_url),
    ]


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = run_config(item.config)
    if item.get_closest_marker("mock_only") and not run.strict:
        pytest.skip("a (mock) rule of docs/contract.md: checked against the embedded mock "
                    "or with --strict-contract")
    if run.read_only:
        for marker, what in READ_ONLY_SKIPS.items():
            if item.get_closest_marker(marker):
                pytest.skip(f"--read-only: this test {what}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    masking.scrub_report(outcome.get_result())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """The outermost wrapper: whatever the other hooks put in the report, the token is masked."""
    outcome = yield
    report = outcome.get_result()
    failures = item.config.stash[FAILURE_REPORTS]
    if failures.rewrite(report, call):
        run = run_config(item.config)
        report.sections.append((
            "diags-kit reproduction",
            f"target: {run.describe_target()} ({run.describe_mode()})\n"
            f"run id: {run.run_id}, hypothesis seed: {run.hypothesis_seed}\n"
            f"reproduce: {failures.reproduce_line(report.nodeid)}",
        ))
    masking.scrub_report(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist: fold a finished worker's coverage into the controller's."""
    dumped = getattr(node, "workeroutput", {}).get(COVERAGE_KEY)
    if dumped:
        contract_coverage.LOG.merge(dumped)
    staging.merge_worker(getattr(node, "workeroutput", {}))


def _coverage_header(run: RunConfig) -> dict[str, Any]:
    return {"target": run.describe_target(), "mode": run.describe_mode(), "strict": run.strict,
            "read_only": run.read_only, "run_id": run.run_id, "hypothesis_seed": run.hypothesis_seed}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[COVERAGE_KEY] = contract_coverage.LOG.dump()
        staging.dump_worker(workeroutput)
        return
    path = config.getoption("contract_coverage")
    if path:
        run = run_config(config)
        rows = contract_coverage.LOG.rows(strict=run.strict)
        contract_coverage.write_json(Path(path), rows, _coverage_header(run))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    run = run_config(config)
    terminalreporter.section("diags-kit contract coverage")
    terminalreporter.write_line(f"target: {run.describe_target()}; {run.describe_mode()}")
    width = max(config.get_terminal_writer().fullwidth, 60)
    for line in contract_coverage.render_table(contract_coverage.LOG.rows(strict=run.strict), width=width):
        terminalreporter.write_line(line)
    unexercised = contract_coverage.LOG.unexercised_claims(strict=run.strict)
    for line in contract_coverage.render_unexercised(unexercised, width=width):
        terminalreporter.write_line(line)
    reporting.write_summary(terminalreporter, config, _rerun_command(run))
    staging.write_summary(terminalreporter, config)
