"""``diags-contract``: the contract suite from an installed copy, run from any directory.

    diags-contract --base-url https://staging.example.com/api/v1 --token "$DIAGS_TOKEN" [pytest options]

It is ``python -m pytest contract_tests`` with the package found where pip installed it, so QA need no
checkout (and no ``-p``/``--pyargs`` incantation). Every pytest option works; a test id such as
``contract_tests/test_get.py::test_unknown_device_is_404``, as the reproduce lines print it, selects that
test of the installed suite. No ``.pytest_cache`` is written next to the installed package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent
NAME = "diags-contract"
_invoked = False


def invoked() -> bool:
    """True when this run was started by ``diags-contract`` (the reproduce lines then name it)."""
    return _invoked


def _test_path(argument: str) -> str | None:
    """The installed path of a test id given as ``contract_tests/...``, or None for anything else."""
    if argument.startswith("contract_tests/") or argument == "contract_tests":
        return str(PACKAGE.parent / argument)
    return None


def pytest_arguments(argv: list[str]) -> list[str]:
    """The pytest command line for ``diags-contract argv``."""
    translated = [_test_path(argument) or argument for argument in argv]
    selects = any(_test_path(argument) for argument in argv)
    return ["-p", "no:cacheprovider", "--rootdir", str(PACKAGE.parent), *translated,
            *(() if selects else (str(PACKAGE),))]


def main(argv: list[str] | None = None) -> int:
    global _invoked
    _invoked = True
    return int(pytest.main(pytest_arguments(list(sys.argv[1:] if argv is None else argv))))


if __name__ == "__main__":
    # Run as the imported module, not as __main__: the plugin asks that module whether it was invoked.
    from contract_tests.command import main as installed_main

    sys.exit(installed_main())
