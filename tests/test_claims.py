"""The contract suite's claims catalogue: one registry, no free strings, usable without pytest."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contract_tests import checks, claims, invariants, paging, posting, refreshing
from tests.test_links import anchors

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_claim_names_a_rule_and_a_section_of_the_contract_document() -> None:
    sections = anchors(REPO_ROOT / claims.CONTRACT_DOCUMENT)
    for claim in claims.CATALOGUE.values():
        assert claim.rule and claim.name.isidentifier()
        document, _, section = claim.source.removesuffix(claims.PUBLISHED_MARK).partition("#")
        assert document == claims.CONTRACT_DOCUMENT and section in sections, claim


def test_every_claim_constant_is_in_the_catalogue() -> None:
    constants = [value for value in vars(claims).values() if isinstance(value, claims.Claim)]
    assert {claim.name for claim in constants} == set(claims.CATALOGUE)


def test_a_claim_function_must_be_catalogued() -> None:
    def no_such_claim_anywhere(exchange: object) -> str | None:
        return None

    with pytest.raises(KeyError, match="not a claim of the catalogue"):
        checks.claim(no_such_claim_anywhere)


def test_expect_refuses_a_free_string() -> None:
    with pytest.raises(TypeError, match="Claim of the catalogue"):
        checks.Expect(404, rule="unknown_device_is_404", why="a typo would have made a new claim")  # type: ignore[arg-type]


def test_claim_functions_of_the_suite_are_all_catalogued() -> None:
    for module in (checks, invariants, paging, posting, refreshing):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if hasattr(function, "__wrapped__"):
                assert name in claims.CATALOGUE, f"{module.__name__}.{name}"


def test_list_claims_prints_the_catalogue_without_a_server() -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "contract_tests", "--list-claims",
                           "--base-url", "http://127.0.0.1:9/api/v1", "-p", "no:cacheprovider"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for claim in claims.CATALOGUE.values():
        source = claim.source.removeprefix(claims.CONTRACT_DOCUMENT)
        assert claim.name in done.stdout and source in done.stdout


def test_claims_are_importable_and_callable_without_pytest() -> None:
    # What a validation proxy would do: check one live exchange with the suite's own claims.
    script = textwrap.dedent("""
        import sys
        sys.modules["pytest"] = None  # any import of pytest now fails
        from contract_tests import checks, claims, invariants
        from contract_tests.exchange import Exchange
        from contract_tests.checks import CheckContext, ContractViolation, check_response
        body = b'{"count": 1, "next": null, "previous": null, "results": "oops"}'
        exchange = Exchange("GET", "GET", "http://h/api/v1/inventory_device_diags/", {}, None, 200,
                            {"content-type": "application/json"}, body)
        try:
            check_response(exchange, CheckContext(base_url="http://h/api/v1", strict=False))
        except ContractViolation as violation:
            print("caught", violation.claim)
        observe = invariants.Observers(allow_helper_errors=False, clock_tolerance=60)
        refresh = Exchange("GET", "GET", "http://h/api/v1/inventory_device_diags/?update_status=true", {},
                           None, 500, {"content-type": "application/json"}, b'{"detail": "helpers"}')
        try:
            observe(refresh)
        except ContractViolation as violation:
            print("caught", violation.claim)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["caught", claims.BODY_MATCHES_SCHEMA.name,
                                   "caught", claims.HELPERS_WORK.name]
