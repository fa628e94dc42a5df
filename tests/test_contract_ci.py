"""The CI example (``examples/contract-ci.yml``): each job runs when it should, and the staging and
production jobs run the installed suite with an explicit base URL, so an empty secret is an error."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from suite_process import REPO_ROOT, run_suite

WORKFLOW = REPO_ROOT / "examples" / "contract-ci.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def test_the_target_is_a_choice(workflow: dict[Any, Any]) -> None:
    target = workflow[True]["workflow_dispatch"]["inputs"]["target"]  # YAML 1.1 reads "on" as True
    assert target["type"] == "choice"
    assert target["options"] == ["staging", "production"]


def test_the_schedule_runs_staging_only(workflow: dict[Any, Any]) -> None:
    conditions = {name: job["if"] for name, job in workflow["jobs"].items()}
    assert "schedule" not in conditions["embedded-mock"]
    assert "push" in conditions["embedded-mock"] and "pull_request" in conditions["embedded-mock"]
    assert "schedule" in conditions["staging"]


@pytest.mark.parametrize("job", ["staging", "production-read-only"])
def test_real_servers_get_diags_contract_and_an_explicit_url(workflow: dict[Any, Any], job: str) -> None:
    command = workflow["jobs"][job]["steps"][-1 if job == "production-read-only" else -2]["run"]
    assert command.startswith('diags-contract --base-url "$DIAGS_BASE_URL"'), command
    assert "--pyargs" not in command and "-p contract_tests" not in command


def test_an_empty_base_url_says_so() -> None:
    done = run_suite("", token="some-token-123")
    assert done.returncode == 4
    assert len(done.lines) == 1 and "the base URL is empty" in done.lines[0], done.output[-2000:]
