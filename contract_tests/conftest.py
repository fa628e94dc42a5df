"""The diags-kit contract suite: does a server honour the Inventory Device Diags contract?

The suite talks to a server only over HTTP. It checks what the published documentation and the
project's docs/contract.md promise, assumes nothing else (device ids, page sizes, order, record counts and
error body shapes are discovered or left open), and fails with the name of the broken claim, the
cURL command that reproduces the request (token shown as ``***``) and the hypothesis seed.

Running it
----------
Against the embedded mock (needs ``pip install 'diags-kit[mock]'``; strict mode is on)::

    python -m pytest contract_tests

Against staging, as QA would (documented contract only, at most 25 records created, each one's
``notes`` starting with ``diags-kit contract run <run-id>``)::

    export DIAGS_TOKEN=...            # or --token
    python -m pytest contract_tests --base-url https://staging.example.com/api/v1

Useful options:

- ``--read-only``: no POST at all and no ``update_status=true`` (safe on production);
- ``--max-writes N``: the number of records a run may create (default 25 against a base URL);
- ``--device-id ID``: a device to use when the server's first pages show no records;
- ``--strict-contract``: also check the (mock) rules of docs/contract.md (413, 405, query 400s, error shape);
- ``--hypothesis-profile thorough`` for many more examples; ``--hypothesis-seed S`` to replay a run;
- ``--contract-coverage coverage.json``: which operation x status pairs were exercised, by which checks;
- ``--sole-writer`` (nobody else writes: exact counts), ``--clock-tolerance S``, ``--allow-helper-errors``
  (accept update_status=true's documented 500), ``--concurrent-writes 4x5``;
- ``--list-claims``: the catalogue of the contract's claims (``claims.py``), without running anything;
- ``-n auto`` (pytest-xdist) and ``--junitxml report.xml`` work as usual.

In CI, run it once against the embedded mock (it guards the mock) and, on a schedule or before a
release, against staging with the token from the CI secrets; ``examples/contract-ci.yml`` shows both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from contract_tests.runconfig import RunConfig

pytest_plugins = ["contract_tests.plugin", "contract_tests.phases", "contract_tests.session_fixtures"]


@pytest.fixture(scope="session")
def base_url(run: RunConfig) -> Iterator[str]:
    """pytest-base-url's fixture, overridden: with no --base-url, an embedded mock's URL."""
    # Imported here, not at the top: pytest must load the module as a plugin first to rewrite its asserts.
    from contract_tests.session_fixtures import serve_target

    yield from serve_target(run)
