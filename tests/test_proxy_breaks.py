"""The validation proxy in front of the reference server switched into each of its breaks: every break is
flagged by one of its claims, or listed as one no client's traffic can show (and then flagged by none)."""

from __future__ import annotations

import pytest
from contract_servers import breaks, reference
from proxy_live import drive, proxied_in_process, violations

TOKEN = "proxy-check-7c1e0b"


#: The breaks the traffic of ``drive`` shows, and the claims that may name each (any one of them will do):
#: stateless ones, which one exchange shows, then stateful ones, which the exchanges show together. A
#: break often breaks more than one claim, and a broken walk breaks the claims that rest on it too.
FLAGGED: dict[str, set[str]] = {
    "wrong-status-on-create": {"valid_body_is_201"},
    "missing-field": {"body_matches_schema"},
    "html-errors": {"content_type_is_json"},
    "html-on-other-methods": {"content_type_is_json"},
    "error-body-not-object": {"body_is_json_object"},
    "bad-datetime": {"body_matches_schema", "datetimes_parse"},
    "non-utc-timestamps": {"timestamps_are_utc"},
    "relative-next": {"body_matches_schema", "page_links_absolute_same_host"},
    "500-on-bad-json": {"no_server_error", "malformed_json_is_400"},
    "limit-ignored": {"results_within_limit", "page_links_keep_query"},
    "next-drops-filter": {"page_links_keep_query"},
    "ignored-filter": {"results_match_device_filter"},
    "prefix-filter": {"results_match_device_filter"},
    "no-previous": {"previous_set_past_the_first_page"},
    "wrong-count": {"next_is_null_exactly_at_the_end", "page_size_consistent_with_count",
                    "walk_visits_each_record_once"},
    "huge-limit-empty": {"next_is_null_exactly_at_the_end", "page_size_consistent_with_count"},
    "limit-zero-refused": {"limit_edges_answer_200"},
    "last-record-unreachable": {"next_is_null_exactly_at_the_end", "page_size_consistent_with_count"},
    "no-auth": {"unauthenticated_is_401", "auth_checked_first"},
    "any-scheme": {"unauthenticated_is_401"},
    "auth-after-validation": {"auth_checked_first"},
    "token-case-insensitive": {"near_miss_token_is_401"},
    "token-prefix-accepted": {"near_miss_token_is_401"},
    "token-suffix-ignored": {"near_miss_token_is_401"},
    "token-quotes-stripped": {"near_miss_token_is_401"},
    "token-whitespace-removed": {"near_miss_token_is_401"},
    "422-for-missing-field": {"missing_required_field_is_400", "precedence_400_over_422"},
    "precedence-404-before-422": {"precedence_422_over_404"},
    "bad-severity-accepted": {"wrong_type_or_format_is_422"},
    "enum-case-insensitive": {"enum_case_variant_is_422"},
    "plus-email-refused": {"valid_body_is_201"},
    "critical-priority-refused": {"valid_body_is_201"},
    "updated-before-created": {"updated_not_before_created"},
    "clock-behind": {"created_at_near_client_clock"},
    "no-echo": {"created_echoes_fields_sent"},
    "altered-details": {"created_echoes_fields_sent"},
    "null-dropped-in-details": {"created_echoes_fields_sent"},
    "floats-rounded": {"created_echoes_fields_sent"},
    "sorted-arrays": {"created_echoes_fields_sent"},
    "issues-sorted-by-severity": {"created_echoes_fields_sent"},
    "deep-nesting-flattened": {"created_echoes_fields_sent"},
    "non-ascii-mangled": {"created_echoes_fields_sent"},
    "long-text-truncated": {"created_echoes_fields_sent"},
    "client-ids": {"server_owned_fields_ignored"},
    # Across exchanges.
    "next-loops": {"next_links_progress", "next_is_null_exactly_at_the_end"},
    "overlapping-pages": {"walk_visits_each_record_once"},
    "skipping-pages": {"walk_visits_each_record_once"},
    "lost-write": {"created_record_is_listed"},
    "list-drops-fields": {"created_record_is_listed", "refresh_keeps_what_it_does_not_own"},
    "reused-ids": {"created_id_is_fresh"},
    "stale-device-name": {"device_identity_consistent"},
    "unstable-order": {"same_request_same_records", "walk_visits_each_record_once"},
    "order-flips": {"same_request_same_records", "walk_visits_each_record_once"},
    "count-ignores-new": {"count_grows_by_writes"},
    "unknown-device-200": {"unknown_device_stays_unknown"},
    "post-unknown-device-201": {"unknown_device_is_404"},
    "update-status-not-stored": {"refresh_is_what_later_gets_show"},
    "refresh-drops-notes": {"refresh_keeps_what_it_does_not_own"},
    "refresh-rewinds-updated-at": {"updated_not_before_created"},
    # Clients at the same time (drive sends its POSTs, then its GETs, released together).
    "racy-ids": {"created_id_is_fresh"},
    "lost-concurrent-write": {"created_record_is_listed", "count_grows_by_writes"},
    "busy-409": {"valid_body_is_201"},
    "shared-page-buffer": {"results_within_limit", "page_size_consistent_with_count",
                           "same_request_same_records"},
}

#: The breaks no client's traffic can show, and why. The proxy must stay silent on them (were it not,
#: the reason given here would be wrong).
NOT_SHOWN: dict[str, str] = {
    "empty-device-404": "a known device without records answers 404 like an unknown one: only the inventory, "
                        "which the API does not list, tells them apart",
    "invalid-creates": "a record stored from a refused body looks like one from a later valid body with the "
                       "same fields: only a marker the client puts in its bodies tells them apart",
    "helpers-broken": "the 500 of update_status=true is documented (broken helpers): the proxy passes it, as "
                      "the suite does with --allow-helper-errors",
}


def test_every_break_is_either_flagged_or_listed_as_not_shown() -> None:
    assert FLAGGED.keys() | NOT_SHOWN.keys() == breaks.BREAKS.keys()
    assert not FLAGGED.keys() & NOT_SHOWN.keys()


@pytest.mark.parametrize("name", sorted(breaks.BREAKS))
def test_each_break_is_flagged_by_its_claim_or_not_shown(name: str) -> None:
    # A fresh proxy app per break, served in this process: it remembers nothing of another server.
    server = reference.start(TOKEN, [name])
    try:
        with proxied_in_process(server.base_url) as proxy:
            drive(proxy, TOKEN)
            found = violations(proxy)
    finally:
        server.stop()
    flagged = {violation["claim"] for violation in found if violation["side"] == "response"}
    if name in NOT_SHOWN:
        assert flagged == set(), f"{name}, listed as not shown, is flagged: {found[:3]}"
    else:
        assert flagged & FLAGGED[name], f"{name}: flagged {sorted(flagged)} ({found[:3]})"
