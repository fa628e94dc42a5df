"""What the proxy found: one ``Violation`` per broken rule, the ``Ledger`` that keeps them, and the reports.

A violation is request-side when the client sent something the documentation does not describe (not the
server's fault), response-side when the server broke a claim of the contract's catalogue. The ledger keeps
at most ``MAX_KEPT`` of them (the count goes on), writes one log line per violation, and, when told to,
rewrites a JSON and a JUnit XML report after every exchange, so the files are complete whenever the proxy
stops, however it stops.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO
from xml.etree import ElementTree

REQUEST = "request"
RESPONSE = "response"
MAX_KEPT = 10_000
JSON_REPORT = "contract-violations.json"
JUNIT_REPORT = "contract-violations.xml"


@dataclass(frozen=True)
class Violation:
    """One broken rule, as ``GET /__admin/violations`` lists it (tokens already masked)."""

    side: str
    claim: str
    message: str
    method: str
    url: str
    status: int

    def log_line(self) -> str:
        one_line = " ".join(line.strip() for line in self.message.splitlines())
        return f"contract violation ({self.side}) {self.claim}: {self.method} {self.url} -> {self.status}: " \
               f"{one_line}"


class Ledger:
    """Every violation met since the start or the last ``clear``, and how many exchanges were checked."""

    def __init__(self, report_dir: Path | None = None, log: TextIO | None = None) -> None:
        self._lock = threading.Lock()
        self._kept: list[Violation] = []
        self._count = 0
        self._exchanges = 0
        self._report_dir = report_dir
        self._log = log or sys.stdout
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            self._write_reports()

    def add(self, found: list[Violation]) -> None:
        """One exchange checked, with what it broke."""
        with self._lock:
            self._exchanges += 1
            self._count += len(found)
            room = MAX_KEPT - len(self._kept)
            self._kept.extend(found[:max(room, 0)])
            for violation in found:
                print(violation.log_line(), file=self._log, flush=True)
            if self._report_dir is not None:
                self._write_reports()

    def clear(self) -> None:
        with self._lock:
            self._kept, self._count, self._exchanges = [], 0, 0
            if self._report_dir is not None:
                self._write_reports()

    def snapshot(self) -> dict[str, Any]:
        """``{"count": N, "violations": [...]}``, the admin API's answer."""
        with self._lock:
            return {"count": self._count, "violations": [asdict(violation) for violation in self._kept]}

    def _write_reports(self) -> None:
        assert self._report_dir is not None
        document = {"exchanges": self._exchanges, "count": self._count,
                    "violations": [asdict(violation) for violation in self._kept]}
        _replace(self._report_dir / JSON_REPORT, json.dumps(document, indent=2).encode() + b"\n")
        _replace(self._report_dir / JUNIT_REPORT, junit_xml(self._kept, self._exchanges))


def _replace(path: Path, content: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    partial.replace(path)


def junit_xml(violations: list[Violation], exchanges: int) -> bytes:
    """A JUnit report: one test case per claim broken (its violations as failures), and one that passes
    when nothing was broken, so a CI page shows the run either way."""
    by_claim: dict[tuple[str, str], list[Violation]] = {}
    for violation in violations:
        by_claim.setdefault((violation.side, violation.claim), []).append(violation)
    suite = ElementTree.Element("testsuite", name="contract-proxy", tests=str(max(len(by_claim), 1)),
                                failures=str(len(by_claim)), errors="0")
    ElementTree.SubElement(suite, "properties").append(
        ElementTree.Element("property", name="exchanges", value=str(exchanges)))
    if not by_claim:
        ElementTree.SubElement(suite, "testcase", classname="contract.proxy", name="no_violation")
    for (side, claim), found in by_claim.items():
        case = ElementTree.SubElement(suite, "testcase", classname=f"contract.{side}", name=claim)
        failure = ElementTree.SubElement(case, "failure", message=f"{len(found)} violation(s) of {claim}")
        failure.text = "\n".join(violation.log_line() for violation in found[:100])
    return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def summary(violations: list[Violation]) -> str:
    """``3 violations: body_matches_schema (2), ...`` for the end of a command's output."""
    counts = Counter(violation.claim for violation in violations)
    listed = ", ".join(f"{claim} ({n})" for claim, n in counts.most_common())
    return f"{len(violations)} violation(s)" + (f": {listed}" if listed else "")
