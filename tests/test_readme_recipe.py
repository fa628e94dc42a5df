"""The README's recipe for several instances on one PostgreSQL, run as it is written there.

The shell block of "Several instances on one PostgreSQL" runs in bash against the tests' throwaway
cluster. Only the variables the block reads differ from a reader's: libpq's (the server, and a role
that may create databases, made here as the README says) and the two instances' ports, free ones.
The two instances it starts must act as one mock, and stop cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from listing import RESOURCE
from live import HOST, ROOT, free_port
from postgres_server import Cluster

import fixtures
from mockserver.core.config import DEFAULT_TOKEN
from mockserver.serving.cli import ENV_PREFIX

SECTION = "### Several instances on one PostgreSQL"
API = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
ADMIN = {"Authorization": "Bearer my-admin-token"}  # the recipe's own
DEVICE = fixtures.DOCUMENTED_DEVICE_ID
READY_SECONDS = 90.0
STOP_SECONDS = 30.0
TIMEOUT = 10.0
#: What the test adds after the recipe: the instances' process ids, then how each one ended.
REPORTING = """
echo "instances: $(jobs -p | tr '\\n' ' ')"
for pid in $(jobs -p); do wait "$pid"; echo "stopped: $pid $?"; done
"""


def recipe() -> str:
    """The first shell block of the README's section on several instances."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n### ", 1)[0]
    found = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert found, f"no bash block in the README's section {SECTION!r}"
    return found.group(1)


def make_role(cluster: Cluster) -> tuple[str, str]:
    """A role that may create databases (the README's ``createuser --createdb``), and its password."""
    import psycopg

    role, password = f"mock_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{password}'")
        connection.execute("DROP DATABASE IF EXISTS diags")  # left by an earlier run of this test
    return role, password


class Recipe:
    """The recipe running in bash, in a process group of its own; its output goes to a file."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(["bash", "-c", recipe() + REPORTING], cwd=ROOT, env=environment,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def instances(self) -> list[int]:
        """The process ids of the instances the recipe started in the background."""
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            found = re.search(r"^instances: (.*)$", self.log(), re.MULTILINE)
            if found:
                return [int(pid) for pid in found.group(1).split()]
            time.sleep(0.1)
        pytest.fail(f"the recipe started nothing within {READY_SECONDS} s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)


@pytest.fixture
def running(postgres_cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Recipe, list[str]]]:
    """The recipe started with this machine's variables; the base URLs of its two instances."""
    role, password = make_role(postgres_cluster)
    ports = [free_port(), free_port()]
    # A developer's own settings of the mock must not leak in; libpq's are the recipe's to set.
    cleaned = {name: value for name, value in os.environ.items()
               if not name.startswith((ENV_PREFIX, "PG"))}
    environment = {
        **cleaned,
        # This interpreter as `python`; the cluster's createdb where Debian's wrapper is not.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), str(postgres_cluster.bindir),
                                 cleaned.get("PATH", "")]),
        "PGHOST": HOST, "PGPORT": str(postgres_cluster.port), "PGUSER": role, "PGPASSWORD": password,
        "PORT_A": str(ports[0]), "PORT_B": str(ports[1]),
    }
    started = Recipe(environment, tmp_path / "recipe.log")
    try:
        yield started, [f"http://{HOST}:{port}" for port in ports]
    finally:
        started.kill()


def wait_until_serving(recipe_run: Recipe, base: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if recipe_run.process.poll() is not None:
            pytest.fail(f"the recipe ended before {base} answered:\n{recipe_run.log()[-3000:]}")
        try:
            if requests.get(base + RESOURCE, headers=API, timeout=TIMEOUT).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{base} did not answer within {READY_SECONDS} s:\n{recipe_run.log()[-3000:]}")


def post(base: str, number: int) -> dict[str, Any]:
    body = {"device_id": DEVICE, "diagnostic_type": "maintenance", "notes": f"number {number}"}
    answer = requests.post(base + RESOURCE, json=body, headers=API, timeout=TIMEOUT)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def listed(base: str) -> list[dict[str, Any]]:
    answer = requests.get(base + RESOURCE, params={"id": DEVICE, "limit": "100"}, headers=API,
                          timeout=TIMEOUT)
    assert answer.status_code == 200
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_the_recipe_starts_two_instances_that_act_as_one_and_stop_cleanly(
    running: tuple[Recipe, list[str]],
) -> None:
    recipe_run, bases = running
    pids = recipe_run.instances()
    assert len(pids) == 2, recipe_run.log()[-3000:]
    for base in bases:
        wait_until_serving(recipe_run, base)

    # Ids from one sequence: whichever instance answers, each is new and later than the one before.
    made = [post(bases[number % 2], number) for number in range(6)]
    sequence = [int(record["id"].removeprefix("diag-")) for record in made]
    assert sequence == sorted(set(sequence)), sequence
    # A POST answered by one is listed by the other at once.
    assert made[0] in listed(bases[1]) and made[1] in listed(bases[0])
    # One journal, naming both instances by the names the recipe gave them.
    journal = requests.get(bases[0] + "/__admin/requests", headers=ADMIN, timeout=TIMEOUT)
    assert journal.status_code == 200
    assert {"a", "b"} <= {entry["instance"] for entry in journal.json()["requests"]}

    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    recipe_run.process.wait(timeout=STOP_SECONDS)
    stopped = dict(re.findall(r"^stopped: (\d+) (\d+)$", recipe_run.log(), re.MULTILINE))
    assert stopped == {str(pid): "0" for pid in pids}, recipe_run.log()[-3000:]
    assert "Traceback" not in recipe_run.log()
