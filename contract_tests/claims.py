"""The catalogue of the contract's claims: every claim the suite can report, as a named constant.

A claim has a name (what a failure reports), a one-line rule, and the section of the project's
contract document (docs/contract.md) it comes from, marked when the published documentation
itself makes the claim. Code names claims only
through these constants, so a misspelt claim is an ``AttributeError`` (or a ``KeyError`` for the
``@claim`` functions of ``checks``), never a new claim. This module needs nothing but the standard
library: a proxy checking live traffic can import it, and ``checks``, without pytest.

``python -m pytest contract_tests --list-claims`` prints the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The project's contract document; every claim cites the section it comes from.
CONTRACT_DOCUMENT = "docs/contract.md"
ROUTE = f"{CONTRACT_DOCUMENT}#base-url-and-the-route"
AUTHENTICATION = f"{CONTRACT_DOCUMENT}#authentication"
LISTING = f"{CONTRACT_DOCUMENT}#listing-get-inventory_device_diags"
RECORD = f"{CONTRACT_DOCUMENT}#the-diagnostic-record"
CREATING = f"{CONTRACT_DOCUMENT}#creating-post-inventory_device_diags"
ERRORS = f"{CONTRACT_DOCUMENT}#error-bodies"
MOCK_DATA = f"{CONTRACT_DOCUMENT}#the-mocks-data"
PUBLISHED_MARK = " (published docs)"


def published(section: str) -> str:
    """The source of a claim the published documentation itself makes (restated in ``section``)."""
    return section + PUBLISHED_MARK


@dataclass(frozen=True)
class Claim:
    """One claim of the contract."""

    name: str
    rule: str
    source: str  # e.g. "docs/contract.md#authentication", with PUBLISHED_MARK when the docs say it
    mock_only: bool = False  # a (mock) rule of docs/contract.md: checked only in strict mode

    def __str__(self) -> str:
        return self.name


CATALOGUE: dict[str, Claim] = {}


def _claim(name: str, rule: str, source: str, *, mock_only: bool = False) -> Claim:
    if name in CATALOGUE:
        raise ValueError(f"claim {name!r} is catalogued twice")
    CATALOGUE[name] = Claim(name, rule, source, mock_only)
    return CATALOGUE[name]


def lookup(name: str) -> Claim:
    """The catalogued claim of this name; a ``KeyError`` naming the catalogue for any other."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a claim of the catalogue (contract_tests/claims.py)") from None


# --- every response -------------------------------------------------------------------------
SERVER_ANSWERS = _claim("server_answers", "every request gets an HTTP answer", ROUTE)
NO_SERVER_ERROR = _claim("no_server_error", "no 5xx, but the documented 500 of update_status=true",
                         published(LISTING))
STATUS_CODE_DOCUMENTED = _claim("status_code_documented",
                                "every status is one the docs list for the operation",
                                published(LISTING))
CONTENT_TYPE_IS_JSON = _claim("content_type_is_json", "every response is application/json, errors included",
                              ROUTE)
BODY_IS_JSON_OBJECT = _claim("body_is_json_object", "every body is a JSON object", ROUTE)
BODY_MATCHES_SCHEMA = _claim("body_matches_schema", "every body matches the schema of its status",
                             RECORD)
DATETIMES_PARSE = _claim("datetimes_parse", "timestamps are RFC 3339 date-times", RECORD)
TIMESTAMPS_ARE_UTC = _claim("timestamps_are_utc", "created_at and updated_at are in UTC", RECORD)
PAGE_LINKS_ABSOLUTE_SAME_HOST = _claim("page_links_absolute_same_host",
                                       "next/previous are absolute URLs of the resource on the same host",
                                       LISTING)
UNAUTHORIZED_NAMES_BEARER_SCHEME = _claim("unauthorized_names_bearer_scheme",
                                          "a 401 carries WWW-Authenticate: Bearer", AUTHENTICATION,
                                          mock_only=True)

# --- authentication -------------------------------------------------------------------------
UNAUTHENTICATED_IS_401 = _claim("unauthenticated_is_401",
                                "no header, another scheme, an empty or unknown token: 401", AUTHENTICATION)
AUTH_CHECKED_FIRST = _claim("auth_checked_first", "a request both unauthenticated and malformed gets 401",
                            AUTHENTICATION)
NEAR_MISS_TOKEN_IS_401 = _claim("near_miss_token_is_401",
                                "a token one edit away from a known one (a character more or less, other "
                                "case, a prefix, whitespace inside, quoted) is unknown: 401",
                                AUTHENTICATION)

# --- GET: pages and walks -------------------------------------------------------------------
LIST_ANSWERS_200 = _claim("list_answers_200", "a valid listing request answers 200", published(LISTING))
DOCUMENTED_QUERY_IS_200 = _claim("documented_query_is_200", "any valid combination of the parameters is 200",
                                 published(LISTING))
KNOWN_DEVICE_LISTS_200 = _claim("known_device_lists_200", "a known device, records or not, lists 200",
                                LISTING)
UNKNOWN_DEVICE_IS_404 = _claim("unknown_device_is_404", "an id naming no device is 404 (GET and POST)",
                               published(LISTING))
DEVICE_FILTER_MATCHES_WHOLE_ID = _claim("device_filter_matches_whole_id",
                                        "id= matches the whole device id, not a prefix", LISTING)
RESULTS_MATCH_DEVICE_FILTER = _claim("results_match_device_filter", "id= returns only that device's records",
                                     published(LISTING))
UPDATE_STATUS_IS_200_OR_500 = _claim("update_status_is_200_or_500",
                                     "update_status=true on a known device answers 200 (or the helpers' 500)",
                                     published(LISTING))
NEXT_LINKS_PROGRESS = _claim("next_links_progress", "next never leads back to a page already visited",
                             LISTING)
COUNT_STABLE_WHILE_WALKING = _claim("count_stable_while_walking",
                                    "count does not change while nobody writes", LISTING)
WALK_VISITS_EACH_RECORD_ONCE = _claim("walk_visits_each_record_once",
                                      "following next visits count records, each once", LISTING)
PREVIOUS_WALKS_BACK_TO_FIRST_PAGE = _claim("previous_walks_back_to_first_page",
                                           "following previous meets the same pages back to the first",
                                           LISTING)
PAGE_LINKS_KEEP_QUERY = _claim("page_links_keep_query", "next/previous keep the other query parameters",
                               LISTING)
FIRST_PAGE_HAS_NO_PREVIOUS = _claim("first_page_has_no_previous", "offset 0 has previous = null",
                                    LISTING)
PREVIOUS_SET_PAST_THE_FIRST_PAGE = _claim("previous_set_past_the_first_page",
                                          "a page past the first has a previous link", LISTING)
NEXT_IS_NULL_EXACTLY_AT_THE_END = _claim("next_is_null_exactly_at_the_end",
                                         "next is null exactly when the page reaches count", LISTING)
RESULTS_WITHIN_LIMIT = _claim("results_within_limit", "a page holds at most limit results",
                              published(LISTING))
PAGE_SIZE_CONSISTENT_WITH_COUNT = _claim("page_size_consistent_with_count",
                                         "a page holds what count leaves after offset, and not nothing",
                                         LISTING)
SMALL_LIMIT_FILLS_PAGE = _claim("small_limit_fills_page", "a small limit is met exactly when records remain",
                                published(LISTING))
OFFSET_PAST_END_IS_EMPTY = _claim("offset_past_end_is_empty", "an offset past count gives an empty page",
                                  LISTING)
LIMIT_EDGES_ANSWER_200 = _claim("limit_edges_answer_200",
                                "limit 0, 1, the page size and far above any cap: 200, the same count",
                                LISTING)

# --- GET: update_status ---------------------------------------------------------------------
REFRESH_IS_WHAT_LATER_GETS_SHOW = _claim("refresh_is_what_later_gets_show",
                                         "update_status=true stores the refresh it returns", LISTING)
REFRESH_KEEPS_WHAT_IT_DOES_NOT_OWN = _claim("refresh_keeps_what_it_does_not_own",
                                            "a refresh changes only status fields, never what was sent",
                                            LISTING)
HELPERS_WORK = _claim("helpers_work",
                      "update_status=true answers 200: its documented 500 (broken helpers) fails the run "
                      "unless --allow-helper-errors", published(LISTING))

# --- POST -----------------------------------------------------------------------------------
VALID_BODY_IS_201 = _claim("valid_body_is_201", "a valid body for a known device is created: 201",
                           published(CREATING))
CREATED_ECHOES_FIELDS_SENT = _claim("created_echoes_fields_sent",
                                    "the 201 body echoes every field sent, unchanged (deep, order kept)",
                                    CREATING)
CREATED_ID_IS_FRESH = _claim("created_id_is_fresh",
                             "a new record's id was never used before", RECORD)
DEVICE_NAME_FROM_INVENTORY = _claim("device_name_from_inventory",
                                    "device_name/device_serial come from the inventory", RECORD)
CREATED_RECORD_IS_LISTED = _claim("created_record_is_listed", "a later GET returns the created record as is",
                                  CREATING)
SERVER_OWNED_FIELDS_IGNORED = _claim("server_owned_fields_ignored",
                                     "server-owned fields in a body are ignored",
                                     CREATING)
MISSING_REQUIRED_FIELD_IS_400 = _claim("missing_required_field_is_400",
                                       "device_id or diagnostic_type missing: 400", CREATING)
NON_OBJECT_BODY_IS_400 = _claim("non_object_body_is_400", "JSON that is not an object: 400", CREATING)
MALFORMED_JSON_IS_400 = _claim("malformed_json_is_400", "a body that is not JSON: 400", CREATING)
WRONG_TYPE_OR_FORMAT_IS_422 = _claim("wrong_type_or_format_is_422",
                                     "a field of the wrong type or format: 422",
                                     CREATING)
ENUM_CASE_VARIANT_IS_422 = _claim("enum_case_variant_is_422",
                                  "an enumerated value in another case ('Critical') is outside its set: 422",
                                  RECORD)
PRECEDENCE_400_OVER_422 = _claim("precedence_400_over_422", "400 wins over 422", CREATING)
PRECEDENCE_400_OVER_404 = _claim("precedence_400_over_404", "400 wins over 404", CREATING)
PRECEDENCE_422_OVER_404 = _claim("precedence_422_over_404", "422 wins over 404", CREATING)
INVALID_BODIES_CREATE_NOTHING = _claim("invalid_bodies_create_nothing", "a refused body stores nothing",
                                       CREATING)
UNKNOWN_DEVICE_STAYS_UNKNOWN = _claim("unknown_device_stays_unknown",
                                      "a POST for an unknown device does not add it", published(CREATING))

# --- invariants -----------------------------------------------------------------------------
SAME_REQUEST_SAME_RECORDS = _claim("same_request_same_records",
                                   "the same request twice, no write between: same records, same order",
                                   LISTING)
UPDATED_NOT_BEFORE_CREATED = _claim("updated_not_before_created", "updated_at is never before created_at",
                                    RECORD)
CREATED_AT_NEAR_CLIENT_CLOCK = _claim("created_at_near_client_clock",
                                      "a new record's created_at is near the client's clock",
                                      published(RECORD))
DEVICE_IDENTITY_CONSISTENT = _claim("device_identity_consistent",
                                    "a device has one name and one serial in every record and every echo",
                                    RECORD)
COUNT_GROWS_BY_WRITES = _claim("count_grows_by_writes",
                               "count grows by at least what the suite created (exactly when it is the sole "
                               "writer)", LISTING)
DEVICE_COUNT_NEVER_DECREASES = _claim("device_count_never_decreases", "a device's count never goes down",
                                      RECORD)
CREATED_RECORD_STILL_LISTED = _claim("created_record_still_listed",
                                     "records created in the run stay listed, unchanged", CREATING)

# --- concurrent clients ---------------------------------------------------------------------
CONCURRENT_WRITES_ALL_CREATED = _claim("concurrent_writes_all_created",
                                       "POSTs sent at the same time are each created: 201",
                                       published(CREATING))
CONCURRENT_IDS_UNIQUE = _claim("concurrent_ids_unique", "records created at the same time get distinct ids",
                               RECORD)
CONCURRENT_WRITES_ALL_LISTED = _claim("concurrent_writes_all_listed",
                                      "every record created at the same time is listed afterwards",
                                      CREATING)
PARALLEL_READS_AGREE = _claim("parallel_reads_agree", "the same GET sent in parallel gets identical answers",
                              LISTING)

# --- other routes and methods ---------------------------------------------------------------
UNKNOWN_ROUTE_IS_A_CLIENT_ERROR = _claim("unknown_route_is_a_client_error", "an unknown route answers a 4xx",
                                         ROUTE)
OTHER_METHOD_IS_CLIENT_ERROR = _claim("other_method_is_client_error", "PUT, DELETE, PATCH answer a 4xx",
                                      ROUTE)

# --- (mock) rules ---------------------------------------------------------------------------
VALIDATION_ERROR_NAMES_FIELD = _claim("validation_error_names_field",
                                      "a 400/422 body names the field at fault",
                                      ERRORS, mock_only=True)
UNPARSABLE_QUERY_IS_400 = _claim("unparsable_query_is_400", "a query value that does not parse: 400",
                                 LISTING, mock_only=True)
BOOLEAN_SPELLINGS_ACCEPTED = _claim("boolean_spellings_accepted", "true/false/1/0 in any case are booleans",
                                    LISTING, mock_only=True)
LIMIT_CAPPED_AT_DOCUMENTED_MAXIMUM = _claim("limit_capped_at_documented_maximum",
                                            "a limit above the documented cap is capped", LISTING,
                                            mock_only=True)
ROUTE_WITHOUT_SLASH_SERVED = _claim("route_without_slash_served", "the route answers without its slash",
                                    ROUTE, mock_only=True)
OTHER_METHOD_IS_405 = _claim("other_method_is_405", "other methods: 405", CREATING, mock_only=True)
ALLOW_HEADER_LISTS_GET_AND_POST = _claim("allow_header_lists_get_and_post", "a 405 carries Allow: GET, POST",
                                         CREATING, mock_only=True)
OVERSIZED_BODY_IS_413 = _claim("oversized_body_is_413", "a body over the size limit: 413", CREATING,
                               mock_only=True)

#: Which claim a refusal's status names, when faults of several kinds compete (docs/contract.md, "Creating").
PRECEDENCE = {(400, 422): PRECEDENCE_400_OVER_422, (400, 404): PRECEDENCE_400_OVER_404,
              (422, 404): PRECEDENCE_422_OVER_404}


def render() -> list[str]:
    """The catalogue as text, one claim a line: name, source, rule."""
    width = max(len(name) for name in CATALOGUE)
    lines = [f"{len(CATALOGUE)} claims (source: the section of {CONTRACT_DOCUMENT}, and whether the "
             "published docs make the claim; (mock): checked only against the mock or with "
             "--strict-contract)"]
    for claim in CATALOGUE.values():
        note = " (mock)" if claim.mock_only else ""
        source = claim.source.removeprefix(CONTRACT_DOCUMENT)
        lines.append(f"{claim.name:<{width}}  {claim.rule}{note}  [{source}]")
    return lines
