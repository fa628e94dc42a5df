"""Fixtures shared by the unit tests: an app built by the factory, its test client, credentials,
and for the command line a clean environment and a ``serve`` that only records its options."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from postgres_server import (  # noqa: F401  (the PostgreSQL tests' fixtures, and their one line if skipped)
    postgres_cluster,
    postgres_url,
    pytest_terminal_summary,
)

from mockserver import create_app
from mockserver.serving import cli, server

TOKEN = "test-token"


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings for the app under test; override this fixture to change them."""
    return {"DIAGS_TOKENS": [TOKEN]}


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """A fresh mock app with the default seeded data."""
    yield create_app({"TESTING": True, **app_config})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    """Headers of an authenticated request."""
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def own_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Large data a test generates is cached in a folder of the test run, never in the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``DIAGS_*`` variable of the calling shell leaks into the parser's defaults."""
    for name in list(os.environ):
        if name.startswith(cli.ENV_PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def captured(clean_environment: pytest.MonkeyPatch) -> list[server.ServerOptions]:
    """``serve`` replaced by a recorder: ``cli.main(["serve", ...])`` returns at once."""
    calls: list[server.ServerOptions] = []
    clean_environment.setattr(server, "serve", calls.append)
    return calls
