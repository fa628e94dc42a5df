"""The suite's only way to the server: a requests session that checks and records every exchange."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests

from . import claims, transport
from .checks import CheckContext, ContractViolation, Expect, check_response
from .contract_coverage import LOG
from .exchange import Exchange
from .masking import Secret
from .reporting import TALLY

RESOURCE = "inventory_device_diags/"
TIMEOUT = (5.0, 60.0)  # connect, read (update_status may run slow helpers)


class _ValidToken:
    """The ``authorization`` default: ``Bearer <the run's token>``."""


VALID_TOKEN = _ValidToken()
Authorization = str | None | _ValidToken


def resource_url(base_url: str) -> str:
    """The one documented resource under an API base such as ``https://host/api/v1`` (slash or not)."""
    return base_url.rstrip("/") + "/" + RESOURCE


@contextmanager
def plain_session(base_url: str) -> Iterator[requests.Session]:
    session = transport.new_session(base_url)
    try:
        yield session
    finally:
        session.close()


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class ApiClient:
    """GET and POST on the resource; every response goes through ``check_response``."""

    def __init__(self, base_url: str, token: str, *, strict: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.resource_url = resource_url(base_url)
        self.token = token
        self.context = CheckContext(base_url=self.base_url, strict=strict)
        self.session = transport.new_session(self.base_url)
        self.seen_ids: set[str] = set()
        #: Called with every exchange after its own checks (the run's invariants: ``invariants.Observers``).
        self.observers: list[Callable[[Exchange], None]] = []

    def close(self) -> None:
        self.session.close()

    def authorization_header(self, authorization: Authorization) -> dict[str, str]:
        if isinstance(authorization, _ValidToken):
            return {"Authorization": Secret(f"Bearer {self.token}")}
        return {} if authorization is None else {"Authorization": Secret(authorization)}

    def get(
        self,
        params: dict[str, Any] | None = None,
        *,
        url: str | None = None,
        authorization: Authorization = VALID_TOKEN,
        expect: Expect | None = None,
    ) -> Exchange:
        """GET the resource (or ``url``, a page link) with ``params``."""
        return self.request("GET", url or self.resource_url, params=params, authorization=authorization,
                            expect=expect)

    def post(
        self,
        body: Any,
        *,
        url: str | None = None,
        authorization: Authorization = VALID_TOKEN,
        expect: Expect | None = None,
    ) -> Exchange:
        """POST ``body`` serialized as JSON (any JSON value, not only objects)."""
        return self.post_raw(json_bytes(body), url=url, authorization=authorization, expect=expect)

    def post_raw(
        self,
        content: bytes,
        *,
        content_type: str | None = "application/json",
        url: str | None = None,
        authorization: Authorization = VALID_TOKEN,
        expect: Expect | None = None,
    ) -> Exchange:
        """POST bytes as they are (malformed JSON, form encoding, oversized bodies)."""
        headers = {"Content-Type": content_type} if content_type else {}
        return self.request("POST", url or self.resource_url, body=content, headers=headers,
                            authorization=authorization, expect=expect)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        authorization: Authorization = VALID_TOKEN,
        operation: str | None = None,
        expect: Expect | None = None,
    ) -> Exchange:
        """Send one request, never following redirects; check the answer (and ``expect``), record it."""
        sent_headers = {**self.authorization_header(authorization), **(headers or {})}
        prepared = self.session.prepare_request(
            requests.Request(method, url, params=params, data=body, headers=sent_headers)
        )
        if operation is None:
            operation = method if self._is_resource(prepared.url or url) else f"{method} (other route)"
        sent_body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        try:
            response = transport.send(self.session, prepared, TIMEOUT)  # paced, 429/503 retried
        except requests.RequestException as error:
            failed = Exchange(operation, method, prepared.url or url, sent_headers, sent_body, 0, {}, b"",
                              secret=self.token)
            raise ContractViolation(claims.SERVER_ANSWERS, f"no HTTP answer: {error}", failed) from error
        exchange = Exchange(
            operation=operation,
            method=method,
            url=prepared.url or url,
            sent_headers=sent_headers,
            sent_body=sent_body,
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            content=response.content,
            secret=self.token,
        )
        LOG.record_response(exchange.operation, exchange.status)
        LOG.record_check(exchange.operation, exchange.status, claims.SERVER_ANSWERS.name)
        TALLY.record(exchange)
        check_response(exchange, self.context, expect)
        for observe in self.observers:
            observe(exchange)
        for record in exchange.results:
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                self.seen_ids.add(record["id"])
        return exchange

    def _is_resource(self, url: str) -> bool:
        """True for the documented route under this base URL (the slash-less form counts too)."""
        return urlsplit(url).path.rstrip("/") == urlsplit(self.resource_url).path.rstrip("/")
