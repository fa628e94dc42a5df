"""A throwaway PostgreSQL cluster: ``initdb`` in a temporary folder, a free loopback port, removed at the end.

The tests and the benchmark start their PostgreSQL with it. The cluster is Debian's ``postgresql``
(found through ``pg_config --bindir`` or the versioned folders under /usr/lib/postgresql).
``initdb`` refuses to run as root, so under root (CI) the cluster is made and run by the
``postgres`` user. The superuser has a password (the tests check that it is never shown). Where no
cluster can be had, ``throwaway_cluster`` raises ``Unavailable`` with the reason, for the caller to
say loudly (the tests skip, the benchmark leaves its PostgreSQL part out).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
USER = "postgres"
INSTALL_HINT = "install Debian's postgresql: apt-get install -y postgresql"
START_SECONDS = 60


class Unavailable(RuntimeError):
    """No PostgreSQL cluster can be started here; the message says why."""


def _bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``, if PostgreSQL is installed."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(found.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: path.parent.name)
    candidates.extend(reversed(versions))
    return next((folder for folder in candidates if (folder / "initdb").exists()), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Cluster:
    """A running cluster: where it listens, and the superuser's password."""

    port: int
    password: str
    bindir: Path
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def postmaster_pid(self) -> int | None:
        """The server's main process (its backends are its children), to read their CPU time."""
        try:
            return int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def _as_owner(command: list[str]) -> list[str]:
    """``command`` run by the ``postgres`` user when we are root (``initdb`` refuses root)."""
    return ["runuser", "-u", USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_cluster(max_connections: int = 200) -> Iterator[Cluster]:
    """A started cluster, stopped and removed when the block ends; ``Unavailable`` if none can be had."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed (pip install 'diags-kit[postgres]')") from None
    bindir = _bindir()
    if bindir is None:
        raise Unavailable("no initdb found")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        raise Unavailable("running as root without runuser, and initdb refuses root")
    folder = Path(tempfile.mkdtemp(prefix="diags-kit-pg-"))
    password = secrets.token_urlsafe(12)
    (folder / "password").write_text(password + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(folder, USER, USER)
        shutil.chown(folder / "password", USER, USER)
    data, port = folder / "data", _free_port()
    made = subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile",
                                     str(folder / "password"), "--auth-local=trust",
                                     "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]),
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"initdb failed: {made.stderr.strip()[-300:]}")
    # fsync off: mock instances get killed, never the cluster, whose commits then survive regardless.
    options = f"-h {HOST} -p {port} -k {folder} -c fsync=off -c max_connections={max_connections}"
    started = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"),
                                        "-o", options, "-w", "-t", str(START_SECONDS), "start"]),
                             capture_output=True, text=True, check=False)
    if started.returncode != 0:
        log = (folder / "log").read_text(errors="replace")[-500:] if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"pg_ctl start failed: {started.stderr.strip()} {log}")
    try:
        yield Cluster(port=port, password=password, bindir=bindir, folder=folder)
    finally:
        subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["INSTALL_HINT", "Cluster", "Unavailable", "throwaway_cluster"]
