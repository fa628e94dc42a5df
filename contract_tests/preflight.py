"""The pre-flight check: before any test runs, does the base URL answer, is its path the API's, and is
the token accepted? Each of these, wrong, would otherwise fail every test with a message blaming the
server; here it stops the run with one line that says what is wrong and what to try.

Only these three are checked. Any other answer (a 500, a body of the wrong shape) is for the tests to
judge, so a broken server is still reported claim by claim.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests

from . import transport
from .client import resource_url
from .masking import Secret
from .retrying import ServerUnavailable, TargetTrouble

PREFIX = "diags-kit:"
TIMEOUT = (5.0, 30.0)
API_PATH = "/api/v1"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _path_of(url: str) -> str:
    return urlsplit(url).path or "/"


def _get(session: requests.Session, url: str, authorization: str) -> requests.Response:
    """GET ``url?limit=1`` as the tests will: through the transport (retries, pacing, TLS, proxies)."""
    request = session.prepare_request(requests.Request("GET", url, params={"limit": 1},
                                                       headers={"Authorization": authorization}))
    response = transport.send(session, request, TIMEOUT)
    response.close()
    return response


def _status(session: requests.Session, url: str, authorization: str) -> int | None:
    """The status ``url`` answers a GET with, or None when nothing answers."""
    try:
        return _get(session, url, authorization).status_code
    except (requests.RequestException, TargetTrouble):
        return None


def _unreachable(base_url: str, error: Exception) -> str:
    host = urlsplit(base_url).netloc
    if isinstance(error, ServerUnavailable):
        return f"{PREFIX} {str(error).splitlines()[0]}"
    if isinstance(error, requests.exceptions.Timeout):
        return f"{PREFIX} {host} did not answer in time: is the server up, and --base-url right?"
    kind = str(error).splitlines()[0].split(": ", 1)[-1]
    if "TLS" in kind:
        return f"{PREFIX} {kind} ({host}); set REQUESTS_CA_BUNDLE or pass --ca-bundle FILE for a company CA"
    if "proxy" in kind:
        return f"{PREFIX} {kind} ({host})"
    return f"{PREFIX} nothing answers at {host} ({kind.split(' at ')[0]}): is the server running, " \
           "and is --base-url right?"


def _missing_path_hint(session: requests.Session, base_url: str, authorization: str) -> str:
    """What to try when the resource answers 404: the /api/v1 the URL lacks, or the API base."""
    origin, path = _origin(base_url), _path_of(base_url).rstrip("/")
    if not path.endswith(API_PATH):
        candidate = origin + path + API_PATH
        if _status(session, resource_url(candidate), authorization) not in (None, 404):
            return f"is {API_PATH} missing from --base-url (try {candidate})?"
    return f"is --base-url the API base, like https://host{API_PATH}?"


def check(base_url: str, token: str, session: requests.Session) -> str | None:
    """One line naming what is wrong with the target, or None when the suite can run."""
    url = resource_url(base_url)
    authorization = Secret(f"Bearer {token}")
    try:
        response = _get(session, url, authorization)
    except (requests.RequestException, TargetTrouble) as error:
        return _unreachable(base_url, error)
    status = response.status_code
    where = f"{_origin(base_url)} answers {status} for {_path_of(url)}"
    if status == 404:
        return f"{PREFIX} {where}: {_missing_path_hint(session, base_url, authorization)}"
    if response.is_redirect and response.headers.get("Location"):
        return (f"{PREFIX} {where}, redirecting to {response.headers['Location']}: the suite follows no "
                "redirect; pass the URL the server redirects to as --base-url")
    if status in (401, 403):
        return f"{PREFIX} {where} with the token given: the token is refused; check --token or DIAGS_TOKEN"
    return None
