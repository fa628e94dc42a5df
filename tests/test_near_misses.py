"""Near-miss tokens and device ids, recognised from fingerprints of what the server accepted."""

from __future__ import annotations

import pytest

from mockserver.proxy.near_misses import fingerprint, near_miss_device, near_miss_keys, near_miss_of

TOKEN = "Tok3n-abc"


@pytest.mark.parametrize(("sent", "kind"), [
    (TOKEN[:-1], "less a character"),
    (TOKEN[1:], "less a character"),
    (TOKEN + "x", "plus a character"),
    (TOKEN.upper(), "another case"),
    (f'"{TOKEN}"', "double quotes"),
    (TOKEN[:3] + " " + TOKEN[3:], "whitespace inside"),
])
def test_a_near_miss_of_an_accepted_token_is_recognised(sent: str, kind: str) -> None:
    found = near_miss_of(sent, {fingerprint(TOKEN)}, near_miss_keys(TOKEN))
    assert found is not None and kind in found


@pytest.mark.parametrize("sent", ["another-token", TOKEN[:4], TOKEN + "xy", "x" + TOKEN[1:] + "y"])
def test_other_tokens_are_not_near_misses(sent: str) -> None:
    assert near_miss_of(sent, {fingerprint(TOKEN)}, near_miss_keys(TOKEN)) is None


def test_nothing_kept_names_the_token() -> None:
    kept = " ".join(near_miss_keys(TOKEN) | {fingerprint(TOKEN)})
    assert TOKEN not in kept and TOKEN.lower() not in kept and TOKEN[:-1] not in kept


def test_a_device_id_one_character_off_a_known_one() -> None:
    devices = {"device-12345"}
    assert near_miss_device("device-1234", devices) and near_miss_device("device-123450", devices)
    assert not near_miss_device("device-99999", devices) and not near_miss_device("device-123", devices)
