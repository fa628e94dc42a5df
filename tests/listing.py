"""The resource the tests speak to, and the two ways they read its list: the count, and a walk of the pages.

Both read through a ``ReadPage``: a function from a URL to the JSON body of the page there. ``reader``
makes one for Flask's test client or a ``requests`` session; a test that checks each page on the way
passes its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import requests
from flask.testing import FlaskClient

RESOURCE = "/api/v1/inventory_device_diags/"
#: The default bound of a walk, so that a ``next`` link that never ends cannot loop for ever.
MAX_PAGES = 100
HTTP_SECONDS = 30.0

Page = dict[str, Any]
ReadPage = Callable[[str], Page]


def reader(
    client: FlaskClient | requests.Session,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_SECONDS,
) -> ReadPage:
    """Reads a page through ``client``: the body of a 200 answer (``timeout`` is for a real server)."""

    def read(url: str) -> Page:
        if isinstance(client, requests.Session):
            answer = client.get(url, headers=headers, timeout=timeout)
            assert answer.status_code == 200, answer.text[:300]
            http_body: Page = answer.json()
            return http_body
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        body: Page = response.get_json()
        return body

    return read


def count(read: ReadPage, base_url: str = "") -> int:
    """How many records the list holds: the ``count`` of its ``limit=0`` page."""
    total: int = read(f"{base_url}{RESOURCE}?limit=0")["count"]
    return total


def walk(read: ReadPage, first_url: str, *, link: str = "next", max_pages: int = MAX_PAGES) -> list[Page]:
    """The pages met by following ``link`` from ``first_url``; fails if more than ``max_pages`` come."""
    pages: list[Page] = []
    url: str | None = first_url
    while url is not None:
        assert len(pages) < max_pages, f"the pages did not end within {max_pages}"
        page = read(url)
        pages.append(page)
        url = page[link]
    return pages


def records(pages: Iterable[Page]) -> list[dict[str, Any]]:
    """The records of ``pages``, in order."""
    return [record for page in pages for record in page["results"]]
