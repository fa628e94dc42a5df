"""``check-har`` holds a HAR capture to the proxy's claims, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import live
import pytest
import requests
from contract_servers import reference

TOKEN = "har-check-90be44"


def _entry(answer: requests.Response) -> dict[str, Any]:
    request = answer.request
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    entry: dict[str, Any] = {
        "startedDateTime": datetime.now(UTC).isoformat(),
        "request": {"method": request.method, "url": request.url,
                    "headers": [{"name": name, "value": value} for name, value in request.headers.items()]},
        "response": {"status": answer.status_code,
                     "headers": [{"name": name, "value": value} for name, value in answer.headers.items()],
                     "content": {"mimeType": answer.headers.get("Content-Type", ""), "text": answer.text}},
    }
    if body:
        entry["request"]["postData"] = {"mimeType": "application/json", "text": body}
    return entry


def _capture(base_url: str, path: Path) -> None:
    """A browser's day with the API, saved as HAR: a walk, a record created, another site."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    resource = base_url + "/inventory_device_diags/"
    answers = [session.get(resource, params={"limit": 5}, timeout=30)]
    while answers[-1].json().get("next") and len(answers) < 20:
        answers.append(session.get(answers[-1].json()["next"], timeout=30))
    device = answers[0].json()["results"][0]["device_id"]
    answers.append(session.post(resource, json={"device_id": device, "diagnostic_type": "health_check",
                                                "notes": "from a HAR"}, timeout=30))
    answers.append(session.get(resource, params={"id": device, "limit": 100}, timeout=30))
    entries = [_entry(answer) for answer in answers]
    entries.append({"request": {"method": "GET", "url": "https://elsewhere.example/app.js", "headers": []},
                    "response": {"status": 200, "headers": [], "content": {"text": "x"}}})
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))


def _check_har(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockserver", "check-har", *args], cwd=live.ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("breaks", "claim"), [((), None), (("missing-field",), "body_matches_schema"),
                                                (("lost-write",), "created_record_is_listed"),
                                                (("overlapping-pages",), "walk_visits_each_record_once")])
def test_a_capture_is_checked_offline(breaks: tuple[str, ...], claim: str | None, tmp_path: Path) -> None:
    server = reference.start(TOKEN, breaks)
    try:
        _capture(server.base_url, tmp_path / "day.har")
    finally:
        server.stop()
    done = _check_har(str(tmp_path / "day.har"))
    if claim is None:
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().endswith("0 violation(s)")
        assert "exchange(s) with " + server.base_url in done.stdout
    else:
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"contract violation (response) {claim}:" in done.stdout
    assert TOKEN not in done.stdout


def test_a_file_that_is_not_a_har_capture_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.har").write_text("[1, 2]")
    done = _check_har(str(tmp_path / "x.har"))
    assert done.returncode == 2 and "not a HAR capture" in done.stderr
