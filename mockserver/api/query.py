"""The query of ``GET /inventory_device_diags/``: parsing it, and the page links of its answer.

A value that does not parse is a 400 that names the parameter (a mock-only rule of docs/contract.md);
a ``limit`` above the maximum is capped, not refused.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

from werkzeug.datastructures import MultiDict

from ..core.responses import bad_request

TRUE_WORDS = frozenset({"true", "1"})
FALSE_WORDS = frozenset({"false", "0"})
KNOWN_PARAMETERS = ("id", "update_status", "limit", "offset")
_DIGITS = re.compile(r"[0-9]+")
#: What ``urlencode`` leaves as it is.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request."""

    device_id: str | None
    update_status: bool
    limit: int
    offset: int


def _single(args: MultiDict[str, str], name: str) -> str | None:
    if name not in args:
        return None
    values = args.getlist(name)
    if len(values) > 1:
        raise bad_request(f"Query parameter {name!r} was given {len(values)} times; give it once.",
                          {name: ["Give this parameter once."]})
    return values[0] if values else None


def _boolean(name: str, text: str | None) -> bool:
    if text is None:
        return False
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise bad_request(f"Query parameter {name!r} must be a boolean (true/false/1/0), not {text[:40]!r}.",
                      {name: ["Must be one of true, false, 1, 0."]})


def _count(name: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    if not _DIGITS.fullmatch(text):
        raise bad_request(f"Query parameter {name!r} must be a non-negative integer, not {text[:40]!r}.",
                          {name: ["Must be a non-negative integer."]})
    # Past 19 digits it is over sys.maxsize anyway, and int() refuses strings of 4,300 digits or more.
    digits = text.lstrip("0")
    return sys.maxsize if len(digits) > 19 else min(int(digits or "0"), sys.maxsize)


def parse_list_query(args: MultiDict[str, str], default_limit: int, max_limit: int) -> ListQuery:
    """Parse ``id``, ``update_status``, ``limit`` and ``offset``; other parameters are ignored."""
    device_id, update_status, limit, offset = (_single(args, name) for name in KNOWN_PARAMETERS)
    return ListQuery(
        device_id=device_id,
        update_status=_boolean("update_status", update_status),
        limit=min(_count("limit", limit, default_limit), max_limit),
        offset=_count("offset", offset, 0),
    )


def ignored_parameters(names: Iterable[str]) -> list[str]:
    """The query parameters of a list request that the API does not have (mock-only: said, not refused)."""
    return list(dict.fromkeys(name for name in names if name not in KNOWN_PARAMETERS))


def _encoded(text: str) -> str:
    # Most parameters need no escaping, and quote_plus costs several times this check.
    return text if _UNRESERVED.fullmatch(text) else quote_plus(text)


def _link(base_url: str, pairs: Sequence[tuple[str, str]], limit: int, offset: int) -> str:
    kept = [(key, value) for key, value in pairs if key not in ("limit", "offset")]
    kept.append(("limit", str(limit)))
    if offset:
        kept.append(("offset", str(offset)))
    return f"{base_url}?" + "&".join(f"{_encoded(key)}={_encoded(value)}" for key, value in kept)


def page_links(
    base_url: str, pairs: Sequence[tuple[str, str]], query: ListQuery, count: int
) -> tuple[str | None, str | None]:
    """Absolute ``next`` and ``previous`` URLs that keep the other parameters; ``None`` at the ends."""
    if query.limit == 0:
        return None, None
    after = query.offset + query.limit
    next_url = _link(base_url, pairs, query.limit, after) if after < count else None
    previous_url = None
    if query.offset > 0:
        previous_url = _link(base_url, pairs, query.limit, max(0, min(query.offset, count) - query.limit))
    return next_url, previous_url
