"""Diagnostic helpers: what ``update_status=true`` runs before a GET answers.

A helper takes a seeded random source and returns fresh ``details`` keys for a health check.
The configuration names the helpers to run and the thresholds that turn metrics into a status
and issues::

    {"helpers": ["resources", "connectivity"], "thresholds": {"disk_low_percent": 25}}

A configuration that names an unknown helper or a bad threshold is *broken*: the documented
500 ("Issue with diagnostic helper configuration") answers every ``update_status=true``.
Refreshed values depend only on the seed, the record and how often it was refreshed, so a
run is repeatable; the timestamps are the real time.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fixtures.health import CHECK_INTERVAL, Thresholds, assess, sample_connectivity, sample_resources

from ..core.config import DEFAULT_HELPERS
from ..core.timestamps import format_timestamp
from ..storage.base import Record, Store

Helper = Callable[[random.Random, datetime], dict[str, Any]]

HEALTH_CHECK = "health_check"


def _resources(rng: random.Random, now: datetime) -> dict[str, Any]:
    return dict(sample_resources(rng))


def _connectivity(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {"network_connectivity": sample_connectivity(rng), "last_ping": format_timestamp(now)}


#: Every helper the mock knows, by the name a configuration uses.
REGISTRY: dict[str, Helper] = {"resources": _resources, "connectivity": _connectivity}

DEFAULT_CONFIG: dict[str, Any] = DEFAULT_HELPERS


class HelperConfigError(ValueError):
    """The diagnostic helper configuration cannot be used."""


@dataclass(frozen=True)
class HelperSetup:
    """A checked configuration: the helpers to run, in order, and the thresholds."""

    helpers: tuple[tuple[str, Helper], ...]
    thresholds: Thresholds


def parse_config(config: Any) -> HelperSetup:
    """Check a configuration; raise ``HelperConfigError`` saying what is wrong with it."""
    if not isinstance(config, dict):
        raise HelperConfigError("the configuration must be a JSON object with 'helpers' and 'thresholds'")
    names = config.get("helpers", DEFAULT_CONFIG["helpers"])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise HelperConfigError("'helpers' must be a list of helper names")
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise HelperConfigError(
            f"unknown helper(s) {', '.join(map(repr, unknown))}; known: {', '.join(REGISTRY)}"
        )
    raw_thresholds = config.get("thresholds", {})
    known = {field.name for field in dataclasses.fields(Thresholds)}
    if not isinstance(raw_thresholds, dict):
        raise HelperConfigError("'thresholds' must be an object")
    for key, value in raw_thresholds.items():
        if key not in known:
            raise HelperConfigError(f"unknown threshold {key!r}; known: {', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            raise HelperConfigError(f"threshold {key!r} must be a percentage between 0 and 100")
    return HelperSetup(
        helpers=tuple((name, REGISTRY[name]) for name in names),
        thresholds=Thresholds(**raw_thresholds),
    )


def refresh_devices(
    store: Store, device_ids: Iterable[str], setup: HelperSetup, seed: int, now: datetime
) -> list[Record]:
    """Run the helpers on the newest health check of each device and store what they find."""
    refreshed = []
    for device_id in dict.fromkeys(device_ids):
        record = store.latest(device_id, HEALTH_CHECK)
        if record is None:
            continue
        number = store.next_refresh(record["id"])
        rng = random.Random(f"{seed}:{record['id']}:{number}")
        details = dict(record.get("details") or {})
        for _name, helper in setup.helpers:
            details.update(helper(rng, now))
        status, issues = assess(details, setup.thresholds)
        changes = {
            "details": details,
            "status": status,
            "issues": issues,
            "updated_at": format_timestamp(now),
            "next_check_due": format_timestamp(now + CHECK_INTERVAL),
        }
        try:
            refreshed.append(store.update(record["id"], changes))
        except KeyError:
            # A reset in another worker replaced the data meanwhile; the record is gone, not broken.
            continue
    return refreshed
