"""``diags-contract`` runs the installed suite from any directory, a test id as the reproduce lines print
it selects one test, and ``python -m pytest contract_tests`` still works as it did."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_servers import reference
from suite_process import REPO_ROOT, SCRUBBED_ENV

from contract_tests import command

TOKEN = "command-token-61b"


@pytest.fixture(scope="module")
def server() -> Iterator[reference.RunningServer]:
    running = reference.start(TOKEN)
    yield running
    running.stop()


def _diags_contract(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in SCRUBBED_ENV}
    return subprocess.run([sys.executable, "-m", "contract_tests.command", *args, "-p", "no:faker",
                           "-p", "no:schemathesis"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_the_command_is_installed() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"][command.NAME] == "contract_tests.command:main"


def test_a_test_id_selects_a_test_of_the_installed_suite(server: reference.RunningServer,
                                                         tmp_path: Path) -> None:
    done = _diags_contract(tmp_path, "--base-url", server.base_url, "--token", TOKEN, "-q",
                           "contract_tests/test_get.py::test_unknown_device_is_404")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "1 passed" in done.stdout
    assert not (tmp_path / ".pytest_cache").exists()


def test_failures_name_the_command_to_rerun(tmp_path: Path) -> None:
    broken = reference.start(TOKEN, ["unknown-device-200"])
    try:
        done = _diags_contract(tmp_path, "--base-url", broken.base_url, "--token", TOKEN, "-q",
                               "contract_tests/test_get.py::test_unknown_device_is_404")
    finally:
        broken.stop()
    assert done.returncode == 1, done.stdout[-3000:]
    assert f'reproduce: diags-contract --base-url {broken.base_url} --token "$DIAGS_TOKEN"' in done.stdout


def test_arguments_pass_through_and_the_package_is_added() -> None:
    arguments = command.pytest_arguments(["--base-url", "http://h/api/v1", "-k", "auth"])
    assert arguments[-1] == str(command.PACKAGE)
    assert "-k" in arguments and "auth" in arguments
    selected = command.pytest_arguments(["contract_tests/test_get.py::test_x"])
    assert selected[-1] == str(command.PACKAGE / "test_get.py") + "::test_x"
