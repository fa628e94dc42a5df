"""The token is never printed: not by the contract suite, whatever fails, nor by the mock's logs.

The suite runs in a subprocess, as QA run it, with a token found nowhere else, against: a dead port,
the mock answering 503 to a share of requests (``serve --error-rate``, as a user starts it) and a
wrong base path. Its output (both streams, long tracebacks with locals included) and its JUnit XML
must not hold the token, nor the base64 of a ``Basic`` header made from it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import live
import pytest
import requests
from contract_servers import reference
from suite_process import Finished, run_suite

from contract_tests.masking import MASK, Secret, register, scrub, scrub_value, secret

DEAD_PORT_TOKEN = "dead-port-tok-7Q2xKc9"
FLAKY_TOKEN = "flaky-503-tok-Vb81Lz4"
WRONG_PATH_TOKEN = "wrong-path-tok-Pz6Hw3"
MOCK_WRONG_TOKEN = "mock-log-wrong-tok-Jk5"


def _forms(token: str) -> list[str]:
    """The token, and the base64 the suite's ``Basic`` header carries it in."""
    return [token, base64.b64encode(f"diags-kit:{token}".encode()).decode()[12:-4]]


def assert_nowhere(token: str, *texts: str) -> None:
    for form in _forms(token):
        for text in texts:
            assert form not in text, f"{form!r} printed:\n" + "\n".join(
                line for line in text.splitlines() if form in line)[:3000]


def test_a_secret_is_masked_in_every_repr() -> None:
    token = secret("repr-tok-2Jd8")
    header = Secret(f"Bearer {token}")
    assert f"{header}" == "Bearer repr-tok-2Jd8"  # sent as it is
    assert repr({"Authorization": header}) == "{'Authorization': 'Bearer ***'}"
    assert "repr-tok-2Jd8" not in f"{token!r} {[token]} {(token,)}"


def test_scrub_masks_the_forms_a_token_is_sent_in() -> None:
    register("form-tok/9+Lq")
    for prefix in ("", "a", "ab", "diags-kit:"):
        encoded = base64.b64encode(f"{prefix}form-tok/9+Lq".encode()).decode()
        assert MASK in scrub(encoded), prefix
    assert scrub("?t=form-tok%2F9%2BLq") == f"?t={MASK}"


def test_scrub_value_reaches_into_nested_values() -> None:
    register("nested-tok-44Xy")
    value = {"lines": ["a nested-tok-44Xy b"], "pair": ("nested-tok-44Xy", 1)}
    assert scrub_value(value) == {"lines": [f"a {MASK} b"], "pair": (MASK, 1)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Finished, str, str]]]:
    """Each failing run: what it printed, its JUnit XML and the mock's log (if any)."""
    folder = tmp_path_factory.mktemp("masking")
    dead_port = live.free_port()
    wrong_path = reference.start(WRONG_PATH_TOKEN)
    flaky = live.start("--error-rate", "0.3", "--seed", "5", token=FLAKY_TOKEN, log_path=folder / "mock.log")
    # The mock's log must not show a refused token either.
    requests.get(flaky.url + "/api/v1/inventory_device_diags/", timeout=10,
                 headers={"Authorization": f"Bearer {MOCK_WRONG_TOKEN}"})

    def suite(name: str, base_url: str, token: str, *options: str) -> tuple[Finished, str]:
        junit = folder / f"{name}.xml"
        done = run_suite(base_url, "--junitxml", str(junit), *options, env={"DIAGS_TOKEN": token})
        return done, junit.read_text(encoding="utf-8") if junit.exists() else ""

    jobs = {
        "dead port, checked first": (f"http://127.0.0.1:{dead_port}/api/v1", DEAD_PORT_TOKEN),
        "dead port, every test run, long tracebacks": (f"http://127.0.0.1:{dead_port}/api/v1",
                                                       DEAD_PORT_TOKEN, "--no-preflight", "--tb=long",
                                                       "--showlocals"),
        "wrong base path": (wrong_path.base_url.replace("/api/v1", "/api/v2"), WRONG_PATH_TOKEN,
                            "--no-preflight", "--tb=long", "--showlocals"),
        # Without retries, so that the 503s fail tests.
        "503 some of the time": (flaky.url + "/api/v1", FLAKY_TOKEN, "--max-retries", "0"),
        "503 some of the time, long tracebacks": (flaky.url + "/api/v1", FLAKY_TOKEN, "--max-retries", "0",
                                                  "--tb=long", "-l"),
    }
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = {name: pool.submit(suite, name, *job) for name, job in jobs.items()}
            results = {name: future.result() for name, future in futures.items()}
    finally:
        wrong_path.stop()
        flaky.stop()
    yield {name: (done, junit, flaky.log()) for name, (done, junit) in results.items()}


@pytest.mark.parametrize("name, token", [
    ("dead port, checked first", DEAD_PORT_TOKEN),
    ("dead port, every test run, long tracebacks", DEAD_PORT_TOKEN),
    ("wrong base path", WRONG_PATH_TOKEN),
    ("503 some of the time", FLAKY_TOKEN),
    ("503 some of the time, long tracebacks", FLAKY_TOKEN),
])
def test_the_suite_never_prints_the_token(runs: dict[str, tuple[Finished, str, str]], name: str,
                                          token: str) -> None:
    done, junit, _ = runs[name]
    assert done.returncode != 0, done.output[-2000:]
    if name != "dead port, checked first":
        assert junit, "no JUnit XML written"
        assert re.search(r"contract violated|was still unavailable|the network failed", done.output), \
            done.output[-2000:]
    if "long tracebacks" in name or name == "wrong base path":
        assert "Bearer ***" in done.output + junit  # the failures show the requests they sent
    assert_nowhere(token, done.stdout, done.stderr, junit)


def test_the_mock_logs_no_token(runs: dict[str, tuple[Finished, str, str]]) -> None:
    *_, log = runs["503 some of the time"]
    assert "/api/v1/inventory_device_diags/" in log, log[-2000:]  # the access log is on
    assert_nowhere(FLAKY_TOKEN, log)
    assert_nowhere(MOCK_WRONG_TOKEN, log)


def test_long_tracebacks_show_masked_headers(runs: dict[str, tuple[Finished, str, str]]) -> None:
    # --showlocals prints urllib3's and requests' headers: the Authorization value must read masked.
    done, _, _ = runs["dead port, every test run, long tracebacks"]
    assert "'Authorization': 'Bearer ***'" in done.output

