"""How the suite's requests reach a server behind the realities of staging: TLS, proxies, a gateway's
rate limit, a pod restarting. Every request goes through ``send``: paced (``--max-rps``), retried on
429/503 (``retrying``) and once on a failed connection.

- TLS: certificates are checked against ``--ca-bundle FILE``, else ``REQUESTS_CA_BUNDLE`` (or
  ``CURL_CA_BUNDLE``), else certifi's bundle; ``--insecure`` checks nothing, and the run says so.
- Proxies: ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` of the environment apply
  (``~/.netrc`` does not: its credentials would spoil the missing-header checks).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
import urllib3

from .masking import scrub
from .pacing import Pacer
from .retrying import (
    RETRYABLE_STATUSES,
    STATS,
    NetworkFailure,
    RetryPolicy,
    ServerUnavailable,
    backoff_seconds,
    retry_after_seconds,
)

#: The pause before the one retry of a failed connection.
RECONNECT_PAUSE = 1.0
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass
class Transport:
    """The run's TLS, pacing and retry settings, set once by the plugin."""

    verify: bool | str = True
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    pacer: Pacer = field(default_factory=lambda: Pacer(None))


SETTINGS = Transport()


def tls_verify(ca_bundle: str | None, insecure: bool) -> bool | str:
    """What ``requests`` should verify against: the option, then the environment, then certifi."""
    if insecure:
        return False
    if ca_bundle:
        return ca_bundle
    return next((os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), True)


def configure(verify: bool | str, policy: RetryPolicy, pacer: Pacer) -> None:
    SETTINGS.verify, SETTINGS.policy, SETTINGS.pacer = verify, policy, pacer
    if verify is False:
        # One loud line in the header says it; a warning per request would drown the output.
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)


def new_session(base_url: str) -> requests.Session:
    """A session for the server under test: the environment's proxies, the run's TLS setting."""
    session = requests.Session()
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(base_url)
    session.verify = SETTINGS.verify
    return session


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _connection_kind(error: requests.RequestException) -> str:
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS failed: the certificate is not trusted (--ca-bundle FILE) or the handshake was refused"
    if isinstance(error, requests.exceptions.ProxyError):
        return "the proxy refused or dropped the connection (HTTPS_PROXY, NO_PROXY)"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if "reset" in text or "aborted" in text or "remotedisconnected" in text:
        return "connection reset"
    return "no connection"


def _nothing_sent(error: requests.RequestException) -> bool:
    """True when the request cannot have reached the server (so even a POST may be sent again)."""
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError
                  | requests.exceptions.SSLError):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _unavailable(response: requests.Response, request: requests.PreparedRequest, retries: int,
                 why: str) -> ServerUnavailable:
    status = response.status_code
    what = "rate-limited (429)" if status == 429 else "unavailable (503)"
    waited = STATS.waited
    return ServerUnavailable(
        f"{_host(request.url or '')} was still {what} after {retries} retries: {why}; "
        f"rate-limited or unavailable for {waited:.0f} s in total this run. Not a contract violation: "
        "raise --max-retries or --max-retry-wait, or pace the suite with --max-rps\n"
        f"  request: {request.method} {scrub(request.url or '')}")


def send(session: requests.Session, request: requests.PreparedRequest,
         timeout: tuple[float, float]) -> requests.Response:
    """Send ``request`` (never following redirects), paced and retried as the module docstring says.

    A read time-out is raised as it is (the server hung: the caller's to report); a failed connection
    twice raises ``NetworkFailure``, a 429/503 past the bounds ``ServerUnavailable``."""
    policy = SETTINGS.policy
    retries = 0
    reconnected = False
    while True:
        STATS.add_paced(SETTINGS.pacer.wait_turn())
        try:
            response = session.send(request, timeout=timeout, allow_redirects=False)
        except requests.exceptions.ReadTimeout:
            raise
        except requests.exceptions.ConnectionError as error:
            may_resend = request.method != "POST" or _nothing_sent(error)
            if reconnected or not may_resend:
                STATS.gave_up()
                raise NetworkFailure(
                    f"the network failed, not the server's API: {_connection_kind(error)} at "
                    f"{_host(request.url or '')}{', twice' if reconnected else ''}\n"
                    f"  request: {request.method} {scrub(request.url or '')}") from None
            reconnected = True
            STATS.retried("a connection error", RECONNECT_PAUSE)
            time.sleep(RECONNECT_PAUSE)
            continue
        if response.status_code not in RETRYABLE_STATUSES:
            return response
        if retries >= policy.max_retries:
            STATS.gave_up()
            raise _unavailable(response, request, retries, f"--max-retries is {policy.max_retries}")
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        wait = asked if asked is not None else backoff_seconds(retries)
        left = STATS.wait_left(policy)
        if wait > left:
            STATS.gave_up()
            why = (f"it asked for {wait:.0f} s more (Retry-After), " if asked is not None else
                   f"the next back-off is {wait:.0f} s, ") + f"and {left:.0f} s of --max-retry-wait are left"
            raise _unavailable(response, request, retries, why)
        response.close()
        STATS.retried(str(response.status_code), wait)
        retries += 1
        time.sleep(wait)
