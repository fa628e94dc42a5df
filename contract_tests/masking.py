"""The token is never printed: a string type whose repr is masked, and a scrubber for every report.

Two layers, so that no failure path has to be thought of in advance:

- ``Secret`` is a ``str`` that sends as itself but shows as ``'***'`` in any repr: the run's token and
  the ``Authorization`` header values the client builds are ``Secret``, so tracebacks' locals, function
  arguments (urllib3's ``headers``), dataclass reprs and hypothesis' reports of them are masked;
- ``scrub_report`` walks a finished pytest report (its traceback, its crash message, its captured output
  and sections) and replaces every registered secret, and the forms a secret is sent in (percent-encoded,
  inside base64), by ``***``. The terminal, ``--junitxml`` and xdist all print from reports, so this
  catches what the first layer misses, whatever failed.
"""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import quote

MASK = "***"
#: A shorter secret would mask ordinary words of the output; such a token is no secret anyway.
MIN_SECRET_CHARS = 4
#: Base64 runs shorter than this are too likely to match something else.
MIN_ENCODED_CHARS = 8

_lock = threading.Lock()
_forms: list[str] = []


def _base64_cores(secret: bytes) -> list[str]:
    """The base64 text that ``secret`` becomes wherever it sits in an encoded value (``Basic`` headers):
    for each of the three alignments, the characters that only the secret's own bytes decide."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode("ascii")
        first_group = -(-offset // 3)  # the first 3-byte group lying wholly inside the secret
        last_group = (offset + len(secret)) // 3
        core = encoded[first_group * 4:last_group * 4]
        if len(core) >= MIN_ENCODED_CHARS:
            cores.append(core)
    return cores


def register(secret: str) -> None:
    """Mask ``secret`` (and the forms it is sent in) in everything this process reports from now on."""
    plain = str.__str__(secret)
    if len(plain) < MIN_SECRET_CHARS:
        return
    forms = {plain, quote(plain, safe=""), *_base64_cores(plain.encode("utf-8"))}
    with _lock:
        for form in forms:
            if form not in _forms:
                _forms.append(form)
        _forms.sort(key=len, reverse=True)  # a longer form first, so no tail of it is left showing


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


class Secret(str):
    """A string that is sent as it is but shown masked in every repr (and in ``%r``, ``!r``, pprint)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(scrub(str.__str__(self)))


def secret(value: str) -> Secret:
    """``value`` registered as a secret, as a ``Secret``."""
    register(value)
    return Secret(value)


def scrub_value(value: Any, seen: set[int] | None = None) -> Any:
    """Scrub every string inside ``value``: strings, lists, tuples, dicts and pytest's report objects
    (their attributes are changed in place). Anything else is returned as it is."""
    if isinstance(value, str):
        return scrub(value) if _forms else value
    seen = set() if seen is None else seen
    if id(value) in seen:
        return value
    seen.add(id(value))
    if isinstance(value, list):
        value[:] = [scrub_value(item, seen) for item in value]
        return value
    if isinstance(value, tuple):
        return type(value)(*[scrub_value(item, seen) for item in value]) if hasattr(value, "_fields") \
            else tuple(scrub_value(item, seen) for item in value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = scrub_value(value[key], seen)
        return value
    attributes = getattr(value, "__dict__", None)
    if attributes is not None and type(value).__module__.startswith("_pytest."):
        for name, attribute in list(attributes.items()):
            object.__setattr__(value, name, scrub_value(attribute, seen))
    return value


def scrub_report(report: Any) -> None:
    """Mask the secrets in a pytest test or collection report: its longrepr and its sections."""
    if not _forms:
        return
    report.longrepr = scrub_value(report.longrepr)
    report.sections = [tuple(scrub_value(part) for part in section) for section in report.sections]
    user_properties = getattr(report, "user_properties", None)
    if user_properties:
        report.user_properties = [tuple(scrub_value(part) for part in item) for item in user_properties]
