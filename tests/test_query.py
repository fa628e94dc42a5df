"""The list query of ``GET /inventory_device_diags/``: parsing ``id``, ``update_status``, ``limit``,
``offset``, and the ``next``/``previous`` links of a page."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from mockserver.api.query import ListQuery, page_links, parse_list_query
from mockserver.core.responses import ApiError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
BASE = "http://mock.test/api/v1/inventory_device_diags/"


def parse(*pairs: tuple[str, str]) -> ListQuery:
    return parse_list_query(MultiDict(list(pairs)), DEFAULT_LIMIT, MAX_LIMIT)


def rejected(*pairs: tuple[str, str]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(*pairs)
    return caught.value


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_no_parameters_gives_the_defaults() -> None:
    assert parse() == ListQuery(device_id=None, update_status=False, limit=DEFAULT_LIMIT, offset=0)


def test_every_parameter_is_read() -> None:
    query = parse(("id", "device-12345"), ("update_status", "true"), ("limit", "7"), ("offset", "3"))
    assert query == ListQuery(device_id="device-12345", update_status=True, limit=7, offset=3)


@pytest.mark.parametrize("spelling", ["true", "TRUE", "True", "1", " true "])
def test_true_spellings(spelling: str) -> None:
    assert parse(("update_status", spelling)).update_status is True


@pytest.mark.parametrize("spelling", ["false", "FALSE", "False", "0"])
def test_false_spellings(spelling: str) -> None:
    assert parse(("update_status", spelling)).update_status is False


@pytest.mark.parametrize("spelling", ["yes", "no", "on", "2", "", "truthy", "t"])
def test_a_non_boolean_update_status_is_a_400_naming_the_parameter(spelling: str) -> None:
    error = rejected(("update_status", spelling))
    assert error.status == 400
    assert "update_status" in error.detail
    assert error.errors is not None and "update_status" in error.errors


@pytest.mark.parametrize("name", ["limit", "offset"])
@pytest.mark.parametrize("value", ["-1", "1.5", "abc", "", "1e3", "0x10", " 5", "+5", "٣"])
def test_a_count_that_is_not_a_non_negative_integer_is_a_400(name: str, value: str) -> None:
    error = rejected((name, value))
    assert error.status == 400
    assert name in error.detail
    assert error.errors is not None and name in error.errors


def test_a_limit_above_the_maximum_is_capped() -> None:
    assert parse(("limit", str(MAX_LIMIT + 1))).limit == MAX_LIMIT
    assert parse(("limit", "9" * 19)).limit == MAX_LIMIT
    assert parse(("limit", str(MAX_LIMIT))).limit == MAX_LIMIT


def test_zero_is_a_valid_limit_and_offset() -> None:
    query = parse(("limit", "0"), ("offset", "0"))
    assert (query.limit, query.offset) == (0, 0)


def test_a_huge_offset_is_accepted() -> None:
    assert parse(("offset", "9" * 19)).offset > 10**17


@pytest.mark.parametrize("name", ["id", "update_status", "limit", "offset"])
def test_a_repeated_parameter_is_a_400(name: str) -> None:
    error = rejected((name, "1"), (name, "1"))
    assert error.status == 400
    assert error.errors is not None and name in error.errors


def test_unknown_parameters_are_ignored() -> None:
    assert parse(("format", "json"), ("page", "x")) == parse()


def test_an_empty_id_is_kept_for_the_view_to_judge() -> None:
    assert parse(("id", "")).device_id == ""


def test_first_page_has_next_and_no_previous() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=10, offset=0)
    next_url, previous_url = page_links(BASE, [], query, count=25)
    assert previous_url is None
    assert next_url is not None and next_url.startswith(BASE + "?")
    assert dict(query_of(next_url)) == {"limit": "10", "offset": "10"}


def test_middle_page_links_both_ways() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=10, offset=10)
    next_url, previous_url = page_links(BASE, [("limit", "10"), ("offset", "10")], query, count=25)
    assert next_url is not None and dict(query_of(next_url)) == {"limit": "10", "offset": "20"}
    # The first page's link leaves the offset out, which means 0.
    assert previous_url is not None and dict(query_of(previous_url)) == {"limit": "10"}


def test_last_page_has_no_next() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=10, offset=20)
    next_url, previous_url = page_links(BASE, [], query, count=25)
    assert next_url is None
    assert previous_url is not None and dict(query_of(previous_url)) == {"limit": "10", "offset": "10"}


def test_an_exactly_full_last_page_has_no_next() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=10, offset=10)
    next_url, _ = page_links(BASE, [], query, count=20)
    assert next_url is None


def test_a_single_page_has_no_links() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=10, offset=0)
    assert page_links(BASE, [], query, count=3) == (None, None)


def test_previous_from_past_the_end_leads_back_to_the_last_page() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=10, offset=500)
    next_url, previous_url = page_links(BASE, [], query, count=25)
    assert next_url is None
    assert previous_url is not None and dict(query_of(previous_url)) == {"limit": "10", "offset": "15"}


def test_a_zero_limit_has_no_links() -> None:
    query = ListQuery(device_id=None, update_status=False, limit=0, offset=5)
    assert page_links(BASE, [], query, count=25) == (None, None)


def test_links_keep_the_other_parameters_in_order() -> None:
    pairs = [("id", "device-12345"), ("update_status", "true"), ("limit", "2"), ("extra", "a b&c")]
    query = ListQuery(device_id="device-12345", update_status=True, limit=2, offset=0)
    next_url, _ = page_links(BASE, pairs, query, count=5)
    assert next_url is not None
    assert query_of(next_url) == [
        ("id", "device-12345"),
        ("update_status", "true"),
        ("extra", "a b&c"),
        ("limit", "2"),
        ("offset", "2"),
    ]


def test_links_use_the_capped_limit() -> None:
    query = parse(("limit", "1000"))
    next_url, _ = page_links(BASE, [("limit", "1000")], query, count=250)
    assert next_url is not None and dict(query_of(next_url))["limit"] == str(MAX_LIMIT)


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=4))
def test_links_encode_the_other_parameters_as_urlencode_does(pairs: list[tuple[str, str]]) -> None:
    query = ListQuery(device_id=None, update_status=False, limit=5, offset=0)
    next_url, _ = page_links(BASE, pairs, query, count=25)
    kept = [(key, value) for key, value in pairs if key not in ("limit", "offset")]
    assert next_url == f"{BASE}?{urlencode([*kept, ('limit', '5'), ('offset', '5')])}"
