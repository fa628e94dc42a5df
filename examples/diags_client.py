"""A small client of the Inventory Device Diags API, of the kind the ``diags_mock`` fixture is for.

It lists one device's diagnostics (every page) and posts one. A 502, 503 or 504 is retried, with a
short back-off, since the server did nothing with the request; a time-out is retried for a GET only,
because a POST that timed out may still be stored.
"""

from __future__ import annotations

import time
from typing import Any

import requests

RETRIED_STATUSES = frozenset({502, 503, 504})


class DiagsError(RuntimeError):
    """The API answered an error, or did not answer in time (``status`` is then None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DiagsClient:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0, retries: int = 2,
                 backoff: float = 0.05) -> None:
        self.resource = base_url.rstrip("/") + "/inventory_device_diags/"
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def list_diagnostics(self, device_id: str) -> list[dict[str, Any]]:
        """Every diagnostic of ``device_id``, following the ``next`` links."""
        found: list[dict[str, Any]] = []
        url: str | None = self.resource
        params: dict[str, str] | None = {"id": device_id}
        while url:
            page = self._request("GET", url, params=params)
            found.extend(page["results"])
            url, params = page["next"], None
        return found

    def post_diagnostic(self, diagnostic: dict[str, Any]) -> dict[str, Any]:
        """Store ``diagnostic``; answers the stored record."""
        return self._request("POST", self.resource, json=diagnostic)

    def _request(self, method: str, url: str, **options: Any) -> Any:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                answer = self.session.request(method, url, timeout=self.timeout, **options)
            except requests.Timeout:
                if last or method != "GET":
                    raise DiagsError(f"{method} {url}: no answer within {self.timeout} s") from None
            else:
                if answer.status_code not in RETRIED_STATUSES or last:
                    if answer.status_code >= 400:
                        raise DiagsError(f"{method} {url}: {answer.status_code} {answer.text[:200]}",
                                         answer.status_code)
                    return answer.json()
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")
