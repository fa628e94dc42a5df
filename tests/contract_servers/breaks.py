"""The deliberate contract violations the reference server can be switched into.

Each break is one small, realistic bug that the published documentation or the non-(mock) part of
docs/contract.md forbids; none of them is a departure from a choice only our mock makes.
"""

from __future__ import annotations

BREAKS: dict[str, str] = {
    "wrong-status-on-create": "POST answers 200 instead of 201 for a created record",
    "missing-field": "records (GET and POST) lack device_serial",
    "lost-write": "POST answers 201 but the record never shows up in GET",
    "ignored-filter": "GET ?id= still checks the device exists but returns every device's records",
    "unknown-device-200": "GET ?id=<unknown device> answers 200 with count 0 instead of 404",
    "no-auth": "any token, or none at all, is accepted",
    "any-scheme": "the Authorization scheme is not checked: 'Token T' and 'Basic T' pass",
    "auth-after-validation": "a malformed or invalid POST body gets 400/422 before the token is checked",
    "wrong-count": "count is one more than the number of matching records",
    "next-loops": "next is never null: the last page links to itself",
    "overlapping-pages": "next advances by limit - 1, so pages overlap and a record is seen twice",
    "limit-ignored": "limit is ignored: every page has the default size",
    "html-errors": "error responses are text/html pages",
    "no-echo": "POST drops notes from the stored record and its 201 body",
    "altered-details": "POST stores details with its keys upper-cased",
    "reused-ids": "a new record gets the id of the newest existing record (off-by-one in the sequence)",
    "client-ids": "an id sent in the POST body is stored instead of being ignored",
    "precedence-404-before-422": "an unknown device_id is reported (404) before a malformed field (422)",
    "422-for-missing-field": "a missing required field gets 422 instead of 400",
    "bad-datetime": "timestamps are written like '2024-01-15 14:25' (not RFC 3339)",
    "relative-next": "next and previous are relative URLs",
    "next-drops-filter": "next and previous drop the id and update_status parameters",
    "update-status-not-stored": "update_status=true refreshes the response but does not store the refresh",
    "invalid-creates": "a POST answered 422 still stores the record, minus the fields at fault",
    "500-on-bad-json": "a POST body that is not JSON crashes the handler: 500",
    "bad-severity-accepted": "issues with a severity outside low/medium/high/critical are stored (201)",
    "unstable-order": "every GET returns the records in a new random order",
    "no-previous": "previous is always null, even past the first page",
    "skipping-pages": "next advances by limit + 1, so one record is skipped between pages",
    "prefix-filter": "GET ?id= matches every device whose id starts with the value (no 404 for a prefix)",
    "empty-device-404": "GET ?id=<device without diagnostics> answers 404 instead of 200 with count 0",
    "html-on-other-methods": "PUT, DELETE, PATCH... get the standard library's 501 text/html page",
    "refresh-drops-notes": "update_status=true rebuilds refreshed records, losing notes and the like",
    "non-utc-timestamps": "created_at and updated_at are written with a +02:00 offset",
    "list-drops-fields": "GET omits notes, reported_by, performed_by and priority though POST stored them",
    "error-body-not-object": "error bodies are a bare JSON string",
    "post-unknown-device-201": "POST for a device the inventory lacks is stored (201) with an empty name",
    # The input space: values random examples rarely reach.
    "enum-case-insensitive": "priority and issue severity are checked in any case: 'Critical' is stored",
    "null-dropped-in-details": "null values inside details (at any depth) are dropped when stored",
    "floats-rounded": "floats inside details are stored rounded to two decimals",
    "sorted-arrays": "arrays of strings inside details are stored sorted",
    "issues-sorted-by-severity": "issues are stored sorted by severity, not in the order sent",
    "deep-nesting-flattened": "objects nested more than three levels deep in details are stored as text",
    "plus-email-refused": "an e-mail address with plus-addressing (a+b@example.com) is refused (422)",
    "non-ascii-mangled": "non-ASCII characters in notes are stored as '?'",
    "long-text-truncated": "notes are cut to 255 characters when stored",
    "critical-priority-refused": "priority 'critical' is refused (422): only low, medium and high pass",
    "limit-zero-refused": "limit=0 is refused with a 400",
    "huge-limit-empty": "a limit above 1000 gives an empty page (the page size overflows)",
    "last-record-unreachable": "offset = count - 1 gives an empty page instead of the last record",
    # Invariants a reader of the docs takes for granted.
    "order-flips": "every other GET lists the records in the opposite order",
    "updated-before-created": "a new record's updated_at is an hour before its created_at",
    "clock-behind": "a new record's created_at (and updated_at) is two hours behind the real time",
    "refresh-rewinds-updated-at": "update_status=true sets updated_at to a reading two hours old",
    "stale-device-name": "half the older records of one device still carry its former name",
    "count-ignores-new": "count of the whole list leaves out the records created through POST",
    "helpers-broken": "update_status=true answers the documented 500 (broken helper configuration)",
    # Credentials that are almost right.
    "token-case-insensitive": "the token is compared without regard to case",
    "token-prefix-accepted": "any non-empty prefix of the token is accepted",
    "token-suffix-ignored": "anything after the token is ignored: the token plus a character passes",
    "token-quotes-stripped": "a token in double quotes is accepted",
    "token-whitespace-removed": "whitespace inside the token is removed before comparing",
    # Clients at the same time.
    "racy-ids": "ids come from a counter read and written back without a lock: concurrent POSTs share one",
    "lost-concurrent-write": "the store appends by copying its list unlocked: concurrent POSTs are lost",
    "busy-409": "a POST while another is being stored answers 409 instead of waiting",
    "shared-page-buffer": "pages are built in one buffer shared by all requests: parallel GETs mix",
}


def check_names(names: list[str]) -> frozenset[str]:
    """The given break names as a set, refusing any this server does not know."""
    unknown = sorted(set(names) - BREAKS.keys())
    if unknown:
        raise ValueError(f"unknown break(s) {', '.join(unknown)}; known: {', '.join(sorted(BREAKS))}")
    return frozenset(names)
