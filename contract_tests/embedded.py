"""The embedded mock: ``python -m mockserver serve`` in a subprocess on a free loopback port."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .client import resource_url

HOST = "127.0.0.1"
STARTUP_SECONDS = 15.0
STOP_SECONDS = 5.0
#: What ``python -m mockserver serve`` imports; the contract suite alone does not install them.
MOCK_MODULES = ("mockserver", "flask", "granian", "faker")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class EmbeddedMockError(RuntimeError):
    """The embedded mock could not be started."""


def missing_modules() -> list[str]:
    """The modules the embedded mock needs that this Python cannot import."""
    return [name for name in MOCK_MODULES if importlib.util.find_spec(name) is None]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _output(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


def _wait_until_answering(process: subprocess.Popen[bytes], base_url: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    url = resource_url(base_url)
    with requests.Session() as session:
        session.trust_env = False  # loopback: no proxy may stand in between
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedMockError(f"the embedded mock exited with code {process.returncode} "
                                        f"before answering; its output:\n{_output(log)}")
            try:
                session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=1.0)
                return
            except requests.RequestException:
                time.sleep(0.1)
    raise EmbeddedMockError(f"the embedded mock did not answer {url} within {STARTUP_SECONDS:.0f} s; "
                            f"its output:\n{_output(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


@contextmanager
def running_mock(seed: int, token: str) -> Iterator[str]:
    """Start the mock, yield its API base URL (``http://127.0.0.1:PORT/api/v1``), stop it afterwards."""
    port = free_port()
    base_url = f"http://{HOST}:{port}/api/v1"
    command = [sys.executable, "-m", "mockserver", "serve", "--host", HOST, "--port", str(port),
               # One argument: a generated token may begin with "-", which argparse would take for an option.
               "--seed", str(seed), f"--token={token}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                      os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="diags-kit-mock-") as folder:
        log = Path(folder) / "mock.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_until_answering(process, base_url, token, log)
            yield base_url
        finally:
            _stop(process)
