"""The contract suite, put to the test: it passes an independent correct server and names each break.

Every run starts the reference server of ``contract_servers`` in this process (correct, or with one
``--break``) and runs ``python -m pytest contract_tests`` against it in a subprocess, as QA would run it
against a real base URL. The runs are made a few at a time as soon as the first test asks for one;
the break runs stop at the first failure (``-x``) and hypothesis does not shrink (``no_shrink``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from contract_servers import breaks, reference
from contract_servers.inventory import DEVICES, EMPTY_DEVICE_ID

from contract_tests.claims import CATALOGUE

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKEN = "contract-suite-check-3f9a1c"
HYPOTHESIS_SEED = "20240115"
RUN_TIMEOUT = 240
PARALLEL_RUNS = 4
#: Environment that would change how the child pytest runs (xdist workers, extra options, a token).
SCRUBBED_ENV = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST",
                "DIAGS_TOKEN", "PYTEST_PLUGINS")

ECHOED = frozenset({"created_echoes_fields_sent", "created_record_still_listed"})
NEAR_MISS = frozenset({"near_miss_token_is_401"})

#: For each break: the suite's claims that name it, and words the message of such a claim must hold.
#: No claims (the known gaps below): any violation will do, until the suite names the break.
EXPECTED: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "wrong-status-on-create": (frozenset({"status_code_documented", "valid_body_is_201"}), ("200",)),
    "missing-field": (frozenset({"body_matches_schema"}), ("device_serial",)),
    "lost-write": (frozenset({"created_record_is_listed", "created_record_still_listed"}), ("list",)),
    "ignored-filter": (frozenset({"results_match_device_filter"}), ("other devices",)),
    "unknown-device-200": (frozenset({"unknown_device_is_404"}), ("expected 404", "got 200")),
    "no-auth": (frozenset({"unauthenticated_is_401", "auth_checked_first"}), ("expected 401", "got 200")),
    "any-scheme": (frozenset({"unauthenticated_is_401"}), ("expected 401", "scheme")),
    "auth-after-validation": (frozenset({"auth_checked_first"}), ("expected 401",)),
    "wrong-count": (frozenset({"next_is_null_exactly_at_the_end", "walk_visits_each_record_once",
                               "page_size_consistent_with_count", "small_limit_fills_page"}), ("count",)),
    "next-loops": (frozenset({"next_links_progress", "next_is_null_exactly_at_the_end",
                              "walk_visits_each_record_once"}), ("next",)),
    "overlapping-pages": (frozenset({"walk_visits_each_record_once"}), ("more than once",)),
    "limit-ignored": (frozenset({"results_within_limit", "small_limit_fills_page", "page_links_keep_query"}),
                      ("limit",)),
    "html-errors": (frozenset({"content_type_is_json"}), ("text/html",)),
    "no-echo": (frozenset({"created_echoes_fields_sent", "created_record_still_listed"}), ("notes",)),
    "altered-details": (frozenset({"created_echoes_fields_sent", "created_record_still_listed"}),
                        ("details",)),
    "reused-ids": (frozenset({"created_id_is_fresh"}), ("already used",)),
    "client-ids": (frozenset({"server_owned_fields_ignored"}), ("kept the client's id",)),
    "precedence-404-before-422": (frozenset({"precedence_422_over_404"}), ("expected 422", "got 404")),
    "422-for-missing-field": (frozenset({"missing_required_field_is_400", "precedence_400_over_422",
                                         "precedence_400_over_404"}), ("expected 400", "got 422")),
    "bad-datetime": (frozenset({"body_matches_schema", "datetimes_parse"}), ("date-time",)),
    "relative-next": (frozenset({"body_matches_schema", "page_links_absolute_same_host"}), ("next",)),
    "next-drops-filter": (frozenset({"page_links_keep_query"}), ("does not keep",)),
    "update-status-not-stored": (frozenset({"refresh_is_what_later_gets_show"}), ("update_status",)),
    "invalid-creates": (frozenset({"invalid_bodies_create_nothing"}), ("refused still created",)),
    "500-on-bad-json": (frozenset({"no_server_error", "malformed_json_is_400"}), ("500",)),
    "bad-severity-accepted": (frozenset({"body_matches_schema", "wrong_type_or_format_is_422",
                                         "precedence_422_over_404", "enum_case_variant_is_422"}),
                              ("severity",)),
    "unstable-order": (frozenset({"walk_visits_each_record_once", "parallel_reads_agree",
                                  "same_request_same_records"}), ()),
    "no-previous": (frozenset({"previous_set_past_the_first_page", "previous_walks_back_to_first_page"}),
                    ("previous",)),
    "skipping-pages": (frozenset({"walk_visits_each_record_once"}), ("count",)),
    "prefix-filter": (frozenset({"results_match_device_filter"}), ("other devices",)),
    "empty-device-404": (frozenset({"known_device_lists_200"}), ("expected 200", "got 404")),
    "html-on-other-methods": (frozenset({"content_type_is_json"}), ("text/html",)),
    "refresh-drops-notes": (frozenset({"refresh_keeps_what_it_does_not_own", "created_record_still_listed"}),
                            ("notes",)),
    "non-utc-timestamps": (frozenset({"timestamps_are_utc"}), ("UTC",)),
    "list-drops-fields": (frozenset({"created_record_is_listed", "created_record_still_listed"}),
                          ("missing",)),
    "error-body-not-object": (frozenset({"body_is_json_object"}), ("not an object",)),
    "post-unknown-device-201": (frozenset({"unknown_device_is_404"}), ("expected 404", "got 201")),
    # The input space (the coverage phase).
    "enum-case-insensitive": (frozenset({"enum_case_variant_is_422"}), ("expected 422", "got 201")),
    "null-dropped-in-details": (ECHOED, ("details",)),
    "floats-rounded": (ECHOED, ("details",)),
    "sorted-arrays": (ECHOED, ("details",)),
    "issues-sorted-by-severity": (ECHOED, ("issues",)),
    "deep-nesting-flattened": (ECHOED, ("details",)),
    "plus-email-refused": (frozenset({"valid_body_is_201"}), ("expected 201", "got 422")),
    "non-ascii-mangled": (ECHOED, ("notes",)),
    "long-text-truncated": (ECHOED, ("notes",)),
    "critical-priority-refused": (frozenset({"valid_body_is_201"}), ("expected 201", "got 422")),
    "limit-zero-refused": (frozenset({"limit_edges_answer_200"}), ("expected 200", "got 400")),
    "huge-limit-empty": (frozenset({"limit_edges_answer_200"}), ("empty",)),
    "last-record-unreachable": (frozenset({"next_is_null_exactly_at_the_end",
                                           "page_size_consistent_with_count"}), ("count",)),
    # Invariants.
    "order-flips": (frozenset({"same_request_same_records", "parallel_reads_agree"}), ("same",)),
    "updated-before-created": (frozenset({"updated_not_before_created"}), ("before created_at",)),
    "clock-behind": (frozenset({"created_at_near_client_clock"}), ("behind",)),
    "refresh-rewinds-updated-at": (frozenset({"updated_not_before_created"}), ("before created_at",)),
    "stale-device-name": (frozenset({"device_identity_consistent"}), ("Warehouse Scanner Z2",)),
    "count-ignores-new": (frozenset({"count_grows_by_writes", "page_size_consistent_with_count",
                                     "next_is_null_exactly_at_the_end", "walk_visits_each_record_once"}),
                          ("count",)),
    "helpers-broken": (frozenset({"helpers_work"}), ("--allow-helper-errors",)),
    # Credentials that are almost right.
    "token-case-insensitive": (NEAR_MISS, ("expected 401", "case")),
    "token-prefix-accepted": (NEAR_MISS, ("expected 401", "less its last character")),
    "token-suffix-ignored": (NEAR_MISS, ("expected 401", "plus a character")),
    "token-quotes-stripped": (NEAR_MISS, ("expected 401", "quotes")),
    "token-whitespace-removed": (NEAR_MISS, ("expected 401", "whitespace")),
    # Clients at the same time.
    "racy-ids": (frozenset({"concurrent_ids_unique"}), ("share ids",)),
    "lost-concurrent-write": (frozenset({"concurrent_writes_all_listed", "count_grows_by_writes"}), ()),
    "busy-409": (frozenset({"concurrent_writes_all_created"}), ("expected 201", "got 409")),
    "shared-page-buffer": (frozenset({"parallel_reads_agree"}), ("in parallel",)),
}


#: Breaks the suite is known to miss today. Strict: once the suite catches one, its test fails (XPASS)
#: until the entry is removed here.
KNOWN_GAPS: dict[str, str] = {}


def _break_params() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=f"suite gap: {KNOWN_GAPS[name]}"))
            if name in KNOWN_GAPS else name for name in sorted(breaks.BREAKS)]


@dataclass(frozen=True)
class SuiteRun:
    """One run of the contract suite: its exit code and everything it printed."""

    returncode: int
    output: str
    seconds: float
    created: int = 0  # records the server stored through POST during the run

    @property
    def summary(self) -> str:
        """pytest's last line, e.g. ``45 passed, 28 skipped in 18.35s``."""
        lines = [line for line in self.output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
        return lines[-1].strip("= ") if lines else "(no summary)"

    def tally(self, outcome: str) -> int:
        found = re.search(rf"(\d+) {outcome}", self.summary)
        return int(found.group(1)) if found else 0

    @property
    def violations(self) -> dict[str, str]:
        """Each claim the suite reported broken, with its message (the lines before the request)."""
        found: dict[str, str] = {}
        for match in re.finditer(r"contract violated: (\w+)", self.output):
            message = self.output[match.end():match.end() + 4000].split("request:", 1)[0]
            found.setdefault(match.group(1), message)
        return found

    @property
    def violated_claims(self) -> set[str]:
        return set(self.violations)


def _child_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in SCRUBBED_ENV}


def run_suite(active_breaks: Sequence[str], *options: str, max_limit: int = reference.MAX_LIMIT) -> SuiteRun:
    """Serve the reference server (with ``active_breaks``) and run the whole suite against it."""
    server = reference.start(TOKEN, active_breaks, max_limit=max_limit)
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "contract_tests", "--base-url", server.base_url,
               "--token", TOKEN, "-p", "no:cacheprovider", "-p", "tests.contract_servers.no_shrink",
               # Plugins the suite has no use for; loading them costs two seconds of CPU per run.
               "-p", "no:faker", "-p", "no:schemathesis",
               # Discovery finds devices through their records: the empty one must be named.
               "--device-id", EMPTY_DEVICE_ID,
               # The test owns the server: nobody else writes to it, so counts must match exactly.
               "--sole-writer",
               "-q", f"--hypothesis-seed={HYPOTHESIS_SEED}", *options]
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, env=_child_env(), capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout if isinstance(expired.stdout, str) else ""
        pytest.fail(f"the suite ran over {RUN_TIMEOUT}s against {active_breaks or 'the reference'}:\n"
                    f"{output[-3000:]}")
    finally:
        server.stop()
    return SuiteRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started,
                    created=len(server.server.posted))


@dataclass(frozen=True)
class Job:
    """One suite run to make: the breaks to switch on and the extra options."""

    active_breaks: tuple[str, ...]
    options: tuple[str, ...] = ()
    max_limit: int = reference.MAX_LIMIT


class SuiteRuns:
    """The suite runs the selected tests need, a few at a time, all started on the first demand.

    Under pytest-xdist every worker sees every selected test, so a worker makes only its own runs.
    """

    def __init__(self, jobs: dict[str, Job], coverage_file: Path, *, prefetch: bool) -> None:
        self._jobs = jobs
        self.coverage_file = coverage_file
        self._prefetch = prefetch
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(PARALLEL_RUNS if prefetch else 1, thread_name_prefix="suite-run")
        self._futures: dict[str, Future[SuiteRun]] = {}

    def result(self, key: str) -> SuiteRun:
        with self._lock:
            for queued in [key, *(self._jobs if self._prefetch else ())]:
                if queued not in self._futures:
                    job = self._jobs[queued]
                    self._futures[queued] = self._pool.submit(run_suite, job.active_breaks, *job.options,
                                                              max_limit=job.max_limit)
        return self._futures[key].result()

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True)


REFERENCE, STRICT, SMALL_CAP = "reference", "reference --strict-contract", "reference, page cap 8"
HELPER_ERRORS_ALLOWED = "helpers-broken --allow-helper-errors"
READ_ONLY, SMALL_BUDGET = "reference --read-only", "reference --max-writes 10"
DEFAULT_MAX_WRITES = 25
#: A page cap below most limits the suite asks for; the contract sets no minimum for a real server.
SMALL_PAGE_CAP = 8


JOB_OF_TEST = {"test_suite_passes_the_reference_server": REFERENCE,
               "test_strict_mode_holds_the_reference_to_the_mock_only_rules": STRICT,
               "test_suite_passes_a_reference_with_a_small_page_cap": SMALL_CAP,
               "test_allow_helper_errors_accepts_the_documented_500": HELPER_ERRORS_ALLOWED,
               "test_read_only_run_passes_and_writes_nothing": READ_ONLY,
               "test_a_small_write_budget_is_kept": SMALL_BUDGET}


def _job_key(item: pytest.Item, module: object) -> str | None:
    """The run a collected test of this module needs, if any."""
    if not isinstance(item, pytest.Function) or item.module is not module:
        return None
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "break_name" in callspec.params:
        return str(callspec.params["break_name"])
    return JOB_OF_TEST.get(item.originalname)


@pytest.fixture(scope="module")
def suite_runs(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteRuns]:
    """Only the runs of the selected tests (``-k``) are made; break runs stop at the first failure."""
    coverage_file = tmp_path_factory.mktemp("contract-suite") / "coverage.json"
    every = {REFERENCE: Job((), ("--contract-coverage", str(coverage_file))),
             STRICT: Job((), ("--strict-contract", "-x")),
             SMALL_CAP: Job((), ("-x",), max_limit=SMALL_PAGE_CAP),
             HELPER_ERRORS_ALLOWED: Job(("helpers-broken",), ("-x", "--allow-helper-errors")),
             READ_ONLY: Job((), ("-x", "--read-only")),
             SMALL_BUDGET: Job((), ("-x", "--max-writes", "10")),
             **{name: Job((name,), ("-x",)) for name in breaks.BREAKS}}
    wanted = {key for item in request.session.items if (key := _job_key(item, request.module))}
    runs = SuiteRuns({key: job for key, job in every.items() if key in wanted}, coverage_file,
                     prefetch="PYTEST_XDIST_WORKER" not in os.environ)
    yield runs
    runs.close()


def test_every_break_has_an_expectation() -> None:
    assert set(EXPECTED) == set(breaks.BREAKS)


def test_every_expected_claim_is_in_the_catalogue() -> None:
    named = {claim for claims, _ in EXPECTED.values() for claim in claims}
    assert named <= set(CATALOGUE), sorted(named - set(CATALOGUE))


def test_suite_passes_the_reference_server(suite_runs: SuiteRuns) -> None:
    run = suite_runs.result(REFERENCE)
    assert run.returncode == 0, f"the suite failed a correct server ({run.summary}):\n{run.output[-6000:]}"
    assert run.tally("passed") >= 20, run.summary
    assert not run.violated_claims
    rows = json.loads(suite_runs.coverage_file.read_text(encoding="utf-8"))["coverage"]
    exercised = {(row["operation"], row["status"]) for row in rows if row["exercised"]}
    documented = {("GET", 200), ("GET", 401), ("GET", 404),
                  ("POST", 201), ("POST", 400), ("POST", 401), ("POST", 404), ("POST", 422)}
    assert documented <= exercised, f"never exercised: {sorted(documented - exercised)}"
    assert 0 < run.created <= DEFAULT_MAX_WRITES, f"{run.created} records created"


def test_read_only_run_passes_and_writes_nothing(suite_runs: SuiteRuns) -> None:
    run = suite_runs.result(READ_ONLY)
    assert run.returncode == 0, f"the suite failed a correct server ({run.summary}):\n{run.output[-4000:]}"
    assert run.created == 0


def test_a_small_write_budget_is_kept(suite_runs: SuiteRuns) -> None:
    run = suite_runs.result(SMALL_BUDGET)
    assert run.returncode == 0, f"the suite failed a correct server ({run.summary}):\n{run.output[-4000:]}"
    assert 0 < run.created <= 10, f"{run.created} records created with --max-writes 10"


def test_strict_mode_holds_the_reference_to_the_mock_only_rules(suite_runs: SuiteRuns) -> None:
    # The reference makes every (mock) choice differently, so --strict-contract must refuse it.
    run = suite_runs.result(STRICT)
    assert run.returncode == 1, run.output[-3000:]
    assert run.violated_claims, run.output[-3000:]


def test_allow_helper_errors_accepts_the_documented_500(suite_runs: SuiteRuns) -> None:
    # The 500 of update_status=true is documented: QA may choose to accept it.
    run = suite_runs.result(HELPER_ERRORS_ALLOWED)
    assert run.returncode == 0, f"--allow-helper-errors still failed ({run.summary}):\n{run.output[-4000:]}"


def test_suite_passes_a_reference_with_a_small_page_cap(suite_runs: SuiteRuns) -> None:
    run = suite_runs.result(SMALL_CAP)
    assert run.returncode == 0, f"the suite failed a correct server capping pages at {SMALL_PAGE_CAP} " \
                                f"({run.summary}):\n{run.output[-4000:]}"


@pytest.mark.parametrize("break_name", _break_params())
def test_suite_names_the_break(break_name: str, suite_runs: SuiteRuns) -> None:
    run = suite_runs.result(break_name)
    claims, words = EXPECTED[break_name]
    claims = claims or frozenset(run.violated_claims)
    context = f"{breaks.BREAKS[break_name]}; suite: {run.summary} ({run.seconds:.0f}s)\n{run.output[-4000:]}"
    assert run.returncode == 1, f"the suite did not fail (exit {run.returncode}): {context}"
    assert run.violated_claims & claims, f"claims violated {sorted(run.violated_claims)}, " \
                                         f"expected one of {sorted(claims)}: {context}"
    messages = " ".join(message for claim, message in run.violations.items() if claim in claims).lower()
    missing = [word for word in words if word.lower() not in messages]
    assert not missing, f"the message of {sorted(run.violated_claims & claims)} lacks {missing}: {context}"


# A known gap is only a gap if the break really breaks the rule: probe each one directly. The probes of
# gaps since closed stay, as direct proof that those breaks break a rule the reference keeps.

def _request(base_url: str, method: str, params: dict[str, str | int] | None = None,
             body: dict[str, object] | None = None) -> requests.Response:
    return requests.request(method, f"{base_url}/inventory_device_diags/", params=params, json=body,
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def _previous_set_past_the_first_page(base_url: str) -> bool:
    return _request(base_url, "GET", {"limit": 2, "offset": 2}).json()["previous"] is not None


def _prefix_of_a_device_id_is_404(base_url: str) -> bool:
    return _request(base_url, "GET", {"id": DEVICES[0].device_id[:-2]}).status_code == 404


def _other_methods_answer_json(base_url: str) -> bool:
    return _request(base_url, "PUT", body={}).headers["Content-Type"].startswith("application/json")


def _refresh_keeps_the_notes_sent(base_url: str) -> bool:
    device_id = DEVICES[0].device_id
    created = _request(base_url, "POST", body={"device_id": device_id, "diagnostic_type": "health_check",
                                                "notes": "kept through a refresh"}).json()
    _request(base_url, "GET", {"id": device_id, "update_status": "true"})
    listed = _request(base_url, "GET", {"id": device_id, "limit": 50}).json()["results"]
    record = next(record for record in listed if record["id"] == created["id"])
    return record.get("notes") == "kept through a refresh" and record["updated_at"] != created["updated_at"]


GAP_PROBES = {
    "no-previous": _previous_set_past_the_first_page,
    "prefix-filter": _prefix_of_a_device_id_is_404,
    "html-on-other-methods": _other_methods_answer_json,
    "refresh-drops-notes": _refresh_keeps_the_notes_sent,
}


def test_every_known_gap_has_a_probe() -> None:
    assert set(KNOWN_GAPS) <= set(GAP_PROBES)


def test_every_break_outside_the_gaps_names_its_claims() -> None:
    # An empty claim set accepts any violation: only a known gap may have one.
    assert all(EXPECTED[name][0] for name in breaks.BREAKS if name not in KNOWN_GAPS)


@pytest.mark.parametrize("break_name", sorted(GAP_PROBES))
def test_a_gap_break_breaks_a_rule_the_reference_keeps(break_name: str) -> None:
    probe = GAP_PROBES[break_name]
    for active, honoured in (((), True), ((break_name,), False)):
        server = reference.start(TOKEN, active)
        try:
            assert probe(server.base_url) is honoured, f"{probe.__name__} with breaks {active}"
        finally:
            server.stop()
