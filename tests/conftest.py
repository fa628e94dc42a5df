"""Fixtures shared by the unit tests: an app built by the factory, its test client, credentials."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mockserver import create_app

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
