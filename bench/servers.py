"""Starting and stopping the servers under test, waiting for them, and reading their memory.

Each server runs as its own process group on a free loopback port, with its log in a file, and is
stopped with SIGTERM (granian's clean shutdown), then SIGKILL if it lingers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
BENCH_TOKEN = "bench-token"
AUTH_HEADERS = {"Authorization": f"Bearer {BENCH_TOKEN}"}
POLL_SECONDS = 0.02
STOP_SECONDS = 10.0
PRIVATE_FIELDS = ("Private_Clean:", "Private_Dirty:")
RELAY_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def mock_command(port: int, threads: int, access_log: bool, data: Sequence[str] = ()) -> list[str]:
    """``python -m mockserver serve`` as ``make serve`` runs it, on ``port``."""
    command = [
        sys.executable,
        "-m",
        "mockserver",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--token",
        BENCH_TOKEN,
        "--threads",
        str(threads),
        *data,
    ]
    return command if access_log else [*command, "--no-access-log"]


def bare_command(port: int, threads: int, access_log: bool) -> list[str]:
    command = [sys.executable, "-m", "bench.bare_app", "--port", str(port), "--threads", str(threads)]
    return command if access_log else [*command, "--no-access-log"]


class Server:
    """A server process started by the benchmark; use it as a context manager."""

    def __init__(self, name: str, command: list[str], port: int, log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.log_path = log_dir / f"{name}-{port}.log"
        self._command = command
        self._process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def __enter__(self) -> Server:
        self.started_at = time.perf_counter()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self._command,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def wait_ready(self, path: str, headers: Mapping[str, str], timeout: float, relay: bool = False) -> float:
        """Poll ``path`` until it answers 200; the seconds from start to that first answer.

        ``relay`` repeats the server's progress (the last line of its log) on stderr while it loads.
        """
        deadline = time.perf_counter() + timeout
        url = f"http://{HOST}:{self.port}{path}"
        shown, next_relay = "", 0.0
        while time.perf_counter() < deadline:
            if relay and time.perf_counter() >= next_relay:
                shown, next_relay = self._relay_progress(shown), time.perf_counter() + RELAY_SECONDS
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(url, headers=dict(headers)), timeout=2
                ) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - self.started_at
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(POLL_SECONDS)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout:.0f}s:\n{self.log_tail()}")

    def _relay_progress(self, shown: str) -> str:
        try:
            text = self.log_path.read_bytes()[-400:].decode(errors="replace")
        except OSError:
            return shown
        pieces = [piece.strip() for piece in text.replace("\r", "\n").splitlines() if piece.strip()]
        latest = pieces[-1] if pieces else ""
        if latest and latest != shown:
            print(f"bench: {self.name}: {latest}", file=sys.stderr, flush=True)
        return latest

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def memory_mb(self) -> dict[str, float]:
        """Memory of the server's processes, in MB.

        ``total`` is their proportional set size summed: each page shared by the main process and
        its forked workers counts once. ``worker`` is what the workers hold alone (private), and
        ``worker_rss`` their resident size, shared pages included.
        """
        children = _children(self.pid)
        return {
            "total": sum(_memory_mb(pid, ("Pss:",)) for pid in [self.pid, *children]),
            "worker": sum(_memory_mb(child, PRIVATE_FIELDS) for child in children),
            "worker_rss": sum(_memory_mb(child, ("Rss:",)) for child in children),
        }

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the server's processes have used so far."""
        return tree_cpu_seconds(self.pid)

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_SECONDS)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in _children(child)]


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user and system) that process ``pid`` and its descendants have used so far."""
    return sum(_cpu_seconds(each) for each in [pid, *_children(pid)])


def _cpu_seconds(pid: int) -> float:
    try:
        # Fields after the parenthesized command name; utime and stime are the 14th and 15th of the line.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mb(pid: int, fields: tuple[str, ...]) -> float:
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0.0
    return sum(int(line.split()[1]) for line in lines if line.startswith(fields)) / 1024


def get(
    port: int, target: str, headers: Mapping[str, str], method: str = "GET", body: bytes | None = None
) -> tuple[int, bytes]:
    """One request to a loopback server: its status and body."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}{target}",
        data=body,
        method=method,
        headers={**headers, **({"Content-Type": "application/json"} if body else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
