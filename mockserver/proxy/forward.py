"""The forwarding half of the proxy: WSGI middleware that sends every request on to the upstream API and
returns its answer unchanged, but for the upstream's origin in pagination links.

``/api/v1/<rest>`` goes to ``<upstream base>/<rest>``; any other path (``/__admin/`` excepted, which the
Flask app behind answers) goes to the upstream's origin. The upstream is asked for an unencoded body
(``Accept-Encoding: identity``) so that the proxy can read it; hop-by-hop headers are not forwarded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests

from mockserver.core.wsgi import Environ, StartResponse, WsgiApp

API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/__admin/"
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length",
                        "accept-encoding"})
TIMEOUT = (10.0, 300.0)  # connect, read: update_status may run slow helpers upstream
PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass
class Upstream:
    """An answer of the upstream server (status 0 when it could not be reached)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    content: bytes
    error: str = ""


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def request_headers(environ: Environ) -> dict[str, str]:
    """The client's headers, as sent (names title-cased: WSGI keeps no case)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return headers


def read_body(environ: Environ) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit():
        return bytes(stream.read(int(length)))
    return bytes(stream.read()) if environ.get("HTTP_TRANSFER_ENCODING") else b""


def target_url(base_url: str, environ: Environ) -> str:
    """Where a request to the proxy goes upstream."""
    path = quote(environ.get("PATH_INFO", "/").encode("latin-1"), safe=PATH_SAFE)
    query = environ.get("QUERY_STRING", "")
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        url = base_url.rstrip("/") + path[len(API_PREFIX):]
    else:
        url = origin(base_url) + path
    return url + (f"?{query}" if query else "")


def send(session: requests.Session, method: str, url: str, headers: dict[str, str], body: bytes) -> Upstream:
    forwarded = {name: value for name, value in headers.items() if name.lower() not in HOP_BY_HOP}
    forwarded["Accept-Encoding"] = "identity"
    try:
        answer = session.request(method, url, headers=forwarded, data=body or None, allow_redirects=False,
                                 timeout=TIMEOUT, stream=True)
        content = answer.raw.read(decode_content=False)
    except requests.RequestException as error:
        return Upstream(0, "", [], b"", error=f"{type(error).__name__}: {error}")
    kept = [(name, value) for name, value in answer.raw.headers.items() if name.lower() not in HOP_BY_HOP]
    return Upstream(answer.status_code, answer.reason or "", kept, content)


def rewrite_links(content: bytes, upstream_origin: str, proxy_origin: str) -> bytes:
    """``content`` with the upstream's origin at the start of a ``next`` or ``previous`` link replaced by
    the proxy's; nothing else changes, byte for byte."""
    if upstream_origin == proxy_origin:
        return content
    pattern = re.compile(rb'("(?:next|previous)"\s*:\s*")' + re.escape(upstream_origin.encode()).replace(
        rb"/", rb"(?:/|\\/)"))
    replacement = proxy_origin.encode().replace(b"\\", b"\\\\")
    return pattern.sub(lambda match: match.group(1) + replacement, content)


Inspector = Callable[[Environ, str, dict[str, str], bytes, Upstream], tuple[Upstream, int]]


class Forwarder:
    """WSGI middleware: ``/__admin/`` to ``admin_app``, everything else upstream, checked by ``inspect``,
    which returns the answer to send (the upstream's, or a 502) and how many violations it found."""

    def __init__(self, admin_app: WsgiApp, base_url: str, inspect: Inspector) -> None:
        self.admin_app = admin_app
        self.base_url = base_url
        self.inspect = inspect
        self.session = requests.Session()
        self.session.headers.clear()  # forward the client's headers, not requests' defaults
        self.session.trust_env = False

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):
            return self.admin_app(environ, start_response)
        method = environ["REQUEST_METHOD"]
        url = target_url(self.base_url, environ)
        headers = request_headers(environ)
        body = read_body(environ)
        upstream = send(self.session, method, url, headers, body)
        answer, violations = self.inspect(environ, url, headers, body, upstream)
        proxy_origin = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        content = rewrite_links(answer.content, origin(self.base_url), proxy_origin) \
            if answer is upstream and environ.get("HTTP_HOST") else answer.content
        headers_out = [*answer.headers, ("Content-Length", str(len(content))),
                       ("X-Contract-Violations", str(violations))]
        start_response(f"{answer.status} {answer.reason}".strip(), headers_out)
        return [content] if method != "HEAD" else []
