"""Contract coverage: which (operation, status) pairs the run exercised, and which named checks ran on them.

Each process keeps one ``LOG``; xdist workers hand theirs to the controller, which merges them.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemas

from .claims import CATALOGUE

DOCUMENTED_OPERATIONS = ("GET", "POST")


@dataclass
class CoverageLog:
    """Responses seen and checks run, per (operation, status)."""

    responses: Counter[tuple[str, int]] = field(default_factory=Counter)
    checks: dict[tuple[str, int], Counter[str]] = field(default_factory=dict)

    def record_response(self, operation: str, status: int) -> None:
        self.responses[(operation, status)] += 1

    def record_check(self, operation: str, status: int, check: str) -> None:
        self.checks.setdefault((operation, status), Counter())[check] += 1

    def dump(self) -> dict[str, Any]:
        """A JSON-safe copy (xdist sends it from a worker to the controller)."""
        return {
            "responses": [[op, status, count] for (op, status), count in self.responses.items()],
            "checks": [
                [op, status, dict(counter)] for (op, status), counter in self.checks.items()
            ],
        }

    def merge(self, dumped: dict[str, Any]) -> None:
        for op, status, count in dumped.get("responses", []):
            self.responses[(op, int(status))] += int(count)
        for op, status, counter in dumped.get("checks", []):
            self.checks.setdefault((op, int(status)), Counter()).update(counter)

    def rows(self, *, strict: bool) -> list[dict[str, Any]]:
        """One row per documented (operation, status), then any other pair the run met."""
        rows = []
        documented: set[tuple[str, int]] = set()
        for operation in DOCUMENTED_OPERATIONS:
            mock_only = {
                status
                for status in schemas.documented_statuses(operation, include_mock=True)
                if status not in schemas.documented_statuses(operation)
            }
            for status in sorted(schemas.documented_statuses(operation, include_mock=strict)):
                documented.add((operation, status))
                rows.append(self._row(operation, status, documented=True, mock_only=status in mock_only))
        seen = set(self.responses) | set(self.checks)
        for operation, status in sorted(seen - documented):
            rows.append(self._row(operation, status, documented=False, mock_only=False))
        return rows

    def _row(self, operation: str, status: int, *, documented: bool, mock_only: bool) -> dict[str, Any]:
        checks = self.checks.get((operation, status), Counter())
        return {
            "operation": operation,
            "status": status,
            "documented": documented,
            "mock_only": mock_only,
            "responses": self.responses.get((operation, status), 0),
            "exercised": self.responses.get((operation, status), 0) > 0,
            "checks": dict(sorted(checks.items())),
        }


    def unexercised_claims(self, *, strict: bool) -> list[str]:
        """The catalogue's claims no check of this run exercised ((mock) ones only in strict mode)."""
        ran = {name for counter in self.checks.values() for name in counter}
        return [name for name, claim in CATALOGUE.items()
                if name not in ran and (strict or not claim.mock_only)]


LOG = CoverageLog()


def write_json(path: Path, rows: list[dict[str, Any]], header: dict[str, Any]) -> None:
    document = {**header, "coverage": rows,
                "claims_not_exercised": LOG.unexercised_claims(strict=bool(header.get("strict")))}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def render_table(rows: list[dict[str, Any]], width: int = 110) -> list[str]:
    """The terminal table: one line per row, the checks that ran on it wrapped below."""
    lines = []
    for row in rows:
        label = f"{row['operation']:<6} {row['status']:<4}"
        if not row["documented"]:
            note = " (not documented)"
        elif row["mock_only"]:
            note = " (mock)"
        else:
            note = ""
        state = f"exercised x{row['responses']}" if row["exercised"] else "NOT exercised"
        lines.append(f"{label} {state}{note}")
        if row["checks"]:
            names = ", ".join(row["checks"])
            lines += textwrap.wrap(names, width=width, initial_indent=" " * 12 + "checks: ",
                                   subsequent_indent=" " * 20)
    return lines


def render_unexercised(names: list[str], width: int = 110) -> list[str]:
    """The line (wrapped) naming the claims a run never exercised."""
    if not names:
        return ["every claim of the catalogue was exercised (--list-claims lists them)"]
    return textwrap.wrap(", ".join(names), width=width,
                         initial_indent=f"claims NOT exercised ({len(names)}): ", subsequent_indent=" " * 8)
