"""One request and its response, as the suite saw them, and the cURL command that replays the request."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Bodies longer than this are cut in reports (a reproduction of an 8 MiB body says how it was built).
SHOWN_BODY_CHARS = 1500
NOT_JSON: Any = object()


@dataclass
class Exchange:
    """A finished HTTP exchange. ``operation`` is "GET" or "POST" for the documented resource."""

    operation: str
    method: str
    url: str
    sent_headers: dict[str, str]
    sent_body: bytes | None
    status: int
    headers: dict[str, str]
    content: bytes
    secret: str = field(repr=False, default="")
    _payload: Any = field(default=None, init=False, repr=False)
    _parsed: bool = field(default=False, init=False, repr=False)

    @property
    def query(self) -> dict[str, str]:
        """The query parameters sent (the last value of a repeated one)."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def payload(self) -> Any:
        """The response body as JSON, or ``NOT_JSON``."""
        if not self._parsed:
            try:
                self._payload = json.loads(self.content)
            except (ValueError, UnicodeDecodeError):
                self._payload = NOT_JSON
            self._parsed = True
        return self._payload

    @property
    def results(self) -> list[Any]:
        """The ``results`` of a list page (empty when the body has none)."""
        payload = self.payload
        if isinstance(payload, dict) and isinstance(payload.get("results"), list):
            return payload["results"]
        return []

    def __repr__(self) -> str:  # the default would show the Authorization header
        return f"<Exchange {self.method} {self.mask(self.url)} -> {self.status}>"

    def mask(self, text: str) -> str:
        return text.replace(self.secret, "***") if self.secret else text

    def curl(self) -> str:
        """A cURL command that sends this request again, the real token shown as ``***``."""
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.mask(self.url))]
        for name, value in self.sent_headers.items():
            parts += ["-H", shlex.quote(self.mask(f"{name}: {value}"))]
        if self.sent_body is not None:
            text = self.sent_body.decode("utf-8", errors="replace")
            if len(text) > SHOWN_BODY_CHARS:
                shown = text[:SHOWN_BODY_CHARS]
                parts += ["--data-binary", shlex.quote(self.mask(shown))]
                parts.append(f"# body cut: {len(self.sent_body)} bytes in all")
            else:
                parts += ["--data-binary", shlex.quote(self.mask(text))]
        return " ".join(parts)

    def describe(self) -> str:
        """The request as cURL, and what came back, for a failure message."""
        body = self.content.decode("utf-8", errors="replace")
        if len(body) > SHOWN_BODY_CHARS:
            body = body[:SHOWN_BODY_CHARS] + f"... ({len(self.content)} bytes in all)"
        return (
            f"request:  {self.curl()}\n"
            f"response: {self.status}, Content-Type: {self.content_type or '(none)'}\n"
            f"body:     {self.mask(body) or '(empty)'}"
        )
