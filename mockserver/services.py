"""What a request needs besides Flask: the store, the clock, the seed and the helper configuration.

``init_app`` builds them once per app from its config; views reach them with ``services()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app

import fixtures

from .store import MemoryStore, Store

EXTENSION = "diags"


@dataclass
class Services:
    """The app's long-lived parts."""

    store: Store
    seed: int
    helper_config: Any
    clock: Callable[[], datetime]
    fixture: dict[str, Any]


def load_fixture(config: dict[str, Any]) -> dict[str, Any]:
    """The data to start from: a given fixture, a fixture file, or data generated from the seed."""
    if config.get("DIAGS_FIXTURE") is not None:
        fixture: dict[str, Any] = config["DIAGS_FIXTURE"]
        return fixture
    if config.get("DIAGS_FIXTURES_PATH"):
        return fixtures.load(config["DIAGS_FIXTURES_PATH"])
    wanted = (config["DIAGS_SEED"], config["DIAGS_DEVICES"], config["DIAGS_DIAGS"], config["DIAGS_REFERENCE_TIME"])
    defaults = (fixtures.DEFAULT_SEED, fixtures.DEFAULT_DEVICES, fixtures.DEFAULT_DIAGS,
                fixtures.DEFAULT_REFERENCE_TIME)
    if wanted == defaults:
        return fixtures.default()
    return fixtures.generate(*wanted)


def init_app(app: Flask) -> None:
    """Load the data and attach the services to ``app``."""
    fixture = load_fixture(app.config)
    app.extensions[EXTENSION] = Services(
        store=MemoryStore(fixture),
        seed=int(app.config["DIAGS_SEED"]),
        helper_config=app.config["DIAGS_HELPERS"],
        clock=app.config["DIAGS_CLOCK"],
        fixture=fixture,
    )


def services() -> Services:
    """The current app's services."""
    found: Services = current_app.extensions[EXTENSION]
    return found
