"""The real server for the tests: ``python -m mockserver serve`` as a subprocess on a free loopback port.

Starting waits (bounded) until the port answers HTTP and fails with the tail of the log if the process
dies first; stopping sends a signal, waits (bounded) and kills the whole process group if it is ignored.
The server gets no ``--host`` from here, so the tests that rely on the default address stay meaningful.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from listing import RESOURCE

from mockserver.serving.cli import ENV_PREFIX

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
STOP_SECONDS = 15.0
LOG_TAIL_CHARS = 2000


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``serve`` subprocess, its base URL and the file its output goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def resource(self) -> str:
        return self.url + RESOURCE

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self) -> str:
        return self.log()[-LOG_TAIL_CHARS:]

    def stop(self, signal_number: int = signal.SIGTERM, stop_seconds: float = STOP_SECONDS) -> int | None:
        """Send ``signal_number`` and return the exit status, or None if it had to be killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
        try:
            return self.process.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """``kill -9`` the server and every worker it started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)


def start(*args: str, token: str, log_path: Path, start_seconds: float = 60,
          environment: dict[str, str] | None = None) -> Server:
    """Start ``serve --port <free> --token <token> *args`` and wait until it answers HTTP.

    ``environment`` adds variables (``DIAGS_*`` ones too) to the cleaned environment of the server.
    """
    port = free_port()
    command = [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--token", token, *args]
    # The server reads its settings from the environment too; a developer's own must not leak into a test.
    cleaned = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    # Appending keeps the output of an earlier server that wrote to the same file.
    with log_path.open("ab") as log:
        # Its own process group, so that a kill takes the workers too.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**cleaned, **(environment or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + start_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{server.log_tail()}")
        try:
            requests.get(server.url + "/", timeout=2)
            return server
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    pytest.fail(f"serve did not answer within {start_seconds} s:\n{server.log_tail()}")


@contextmanager
def serve(*args: str, token: str, log_path: Path, start_seconds: float = 60,
          environment: dict[str, str] | None = None) -> Iterator[Server]:
    """A started server (see ``start``), stopped with SIGTERM (then killed) when the block ends."""
    server = start(*args, token=token, log_path=log_path, start_seconds=start_seconds,
                   environment=environment)
    try:
        yield server
    finally:
        server.stop()
