"""The contract suite run as QA run it: ``python -m pytest contract_tests --base-url URL --token T`` in a
subprocess, its output (stdout and stderr) and exit code kept for the test to read."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 300
#: Environment that would change how the child pytest runs (xdist workers, extra options, a token).
SCRUBBED_ENV = ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST",
                "DIAGS_TOKEN", "PYTEST_PLUGINS", "CI")
#: Plugins the suite has no use for; loading them costs two seconds of CPU per run.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:faker", "-p", "no:schemathesis")


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


def run_suite(base_url: str, *options: str, token: str | None = None, env: dict[str, str] | None = None,
              timeout: float = RUN_TIMEOUT) -> Finished:
    """Run the contract suite against ``base_url`` (the token by ``--token`` unless given in ``env``)."""
    environment = {name: value for name, value in os.environ.items() if name not in SCRUBBED_ENV}
    environment.update(env or {})
    command = [sys.executable, "-m", "pytest", "contract_tests", "--base-url", base_url, *QUIET_PLUGINS,
               *(("--token", token) if token is not None else ()), *options]
    done = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Finished(done.returncode, done.stdout, done.stderr)
