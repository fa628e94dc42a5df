"""A client generator on our OpenAPI documents: typed models for the two operations, working against the mock.

``openapi-python-client`` (the dev extra) generates a client from each bundled document into a temporary
folder; the client is imported and used against a mock started as a user starts it
(``python -m mockserver serve`` on a free loopback port), and so is the README's example, as written but for
the port. Slow: the generator formats its output with ruff.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from live import Server, serve
from refs import refs_in

import schemas
from schemas.bundle import COMPONENTS_POINTER

pytestmark = pytest.mark.slow

TOKEN = "generated-client-token"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
GENERATE_SECONDS = 300
DEVICE = "device-12345"
README = Path(__file__).resolve().parents[1] / "README.md"
#: The package names the clients get; the README's example imports the first.
PACKAGES = {schemas.MOCK_DOCUMENT: "diags_client", schemas.CONTRACT_DOCUMENT: "diags_contract_client"}
README_BASE_URL = "http://127.0.0.1:8000"
#: The generator's report of a part it could not turn into code, and what it names.
PROBLEM = re.compile(r"^(WARNING parsing \S+ \S+|Unable to process schema \S+)", flags=re.MULTILINE)


def resource_components(document: dict[str, Any]) -> set[str]:
    """The components the resource's two operations reach, directly or through other components."""
    components = document["components"]["schemas"]
    operations = document["paths"][schemas.RESOURCE_PATH]
    pending = [ref for ref in refs_in(operations) if ref.startswith(COMPONENTS_POINTER)]
    reached: set[str] = set()
    while pending:
        name = pending.pop().removeprefix(COMPONENTS_POINTER)
        if name not in reached:
            reached.add(name)
            pending.extend(ref for ref in refs_in(components[name]) if ref.startswith(COMPONENTS_POINTER))
    return reached


def problems_with_the_resource(output: str, document: dict[str, Any]) -> list[str]:
    names = resource_components(document)
    found = []
    for problem in PROBLEM.findall(output):
        subject = problem.rsplit(" ", 1)[-1].rstrip(":")
        if subject == schemas.RESOURCE_PATH or subject.removeprefix("/components/schemas/") in names:
            found.append(problem)
    return found


def forget(package: str) -> None:
    """Drop an earlier generated ``package`` from the import cache, so the next import reads the new one."""
    for name in [name for name in sys.modules if name.split(".")[0] == package]:
        del sys.modules[name]


def generate(document: str, folder: Path) -> tuple[ModuleType, str]:
    """Generate a client package from the bundled ``document`` in ``folder``, import it, and give the log."""
    spec = folder / document
    spec.write_text(json.dumps(schemas.bundled(document)), encoding="utf-8")
    package = PACKAGES[document]
    # The generator formats its output with ruff, which it looks for on PATH.
    environment = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(GENERATOR), "generate", "--path", str(spec), "--output-path", str(folder / package),
               "--meta", "none"]
    result = subprocess.run(
        command,
        capture_output=True, text=True, timeout=GENERATE_SECONDS, env=environment, cwd=folder, check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    forget(package)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(package), log
    finally:
        sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("mock") / "serve.log"
    with serve("--no-access-log", token=TOKEN, log_path=log_path) as server:
        yield server


@pytest.mark.parametrize("document", schemas.DOCUMENTS)
def test_a_generated_client_lists_and_creates_with_typed_models(document: str, tmp_path: Path,
                                                                 mock: Server) -> None:
    client_package, log = generate(document, tmp_path)
    assert problems_with_the_resource(log, schemas.bundled(document)) == [], log
    if document == schemas.CONTRACT_DOCUMENT:
        assert "WARNING" not in log and "Unable to" not in log, log

    operations = f"{client_package.__name__}.api.diagnostics"
    list_diagnostics = importlib.import_module(f"{operations}.list_diagnostics")
    create_diagnostic = importlib.import_module(f"{operations}.create_diagnostic")
    models = importlib.import_module(f"{client_package.__name__}.models")
    client = client_package.AuthenticatedClient(base_url=mock.url + "/api/v1", token=TOKEN)

    page = list_diagnostics.sync(client=client, id=DEVICE)
    assert isinstance(page, models.PageOfDiagnostics), page
    assert page.results and all(isinstance(record, models.DiagnosticRecord) for record in page.results)
    assert {record.device_id for record in page.results} == {DEVICE}
    assert page.count >= len(page.results)

    note = f"generated client {uuid.uuid4().hex[:8]}"
    body = models.NewDiagnostic(device_id=DEVICE, diagnostic_type="maintenance", notes=note)
    created = create_diagnostic.sync(client=client, body=body)
    assert isinstance(created, models.CreatedDiagnostic), created
    assert (created.device_id, created.diagnostic_type, created.notes) == (DEVICE, "maintenance", note)
    assert created.id and created.device_name

    last_page = list_diagnostics.sync(client=client, id=DEVICE, offset=page.count, limit=1)
    assert [record.id for record in last_page.results] == [created.id]
    assert isinstance(last_page.results[0], models.DiagnosticRecord)


def readme_example() -> str:
    """The Python block of the README's "Generating a client" section."""
    section = README.read_text(encoding="utf-8").split("## Generating a client", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs_as_written(tmp_path: Path, mock: Server,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    example = readme_example()
    assert len(example.strip().splitlines()) <= 5 and README_BASE_URL in example
    generate(schemas.MOCK_DOCUMENT, tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        code = example.replace(README_BASE_URL, mock.url).replace("YOUR_API_TOKEN", TOKEN)
        exec(compile(code, "README.md", "exec"), {})
    finally:
        sys.path.remove(str(tmp_path))
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("DiagnosticRecord(") and DEVICE in printed[0]
    assert printed[1].startswith("CreatedDiagnostic(") and "id='diag-" in printed[1]
