"""Near misses, recognised without keeping a secret: tokens one edit away from a token the server accepted,
and device ids one character off a device seen.

The proxy keeps no token, only SHA-256 fingerprints: of each accepted token, and of what its near misses
reduce to (the token less its last or first character, and in lower case), so that a near miss met later is
recognised by its own fingerprints. None of these is a short prefix of a token, whose fingerprint could be
reversed by trying every value.
"""

from __future__ import annotations

import hashlib


def fingerprint(token: str) -> str:
    """The SHA-256 of a token, in hex: what the proxy keeps instead of it."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def near_miss_keys(token: str) -> set[str]:
    """What an accepted token leaves to recognise its near misses by, hashed like the token itself: the
    token less its last or its first character, and in lower case."""
    keys = {"lower:" + fingerprint(token.lower())}
    if len(token) > 1:
        keys |= {"cut:" + fingerprint(token[:-1]), "cut:" + fingerprint(token[1:])}
    return keys


def near_miss_of(token: str, good: set[str], keys: set[str]) -> str | None:
    """How ``token`` (not an accepted one) is one edit away from an accepted token, if it is: the
    near misses of the suite's ``near_miss_token_is_401`` that hashes can recognise."""
    if "cut:" + fingerprint(token) in keys:
        return "an accepted token less a character"
    if len(token) > 1 and fingerprint(token[:-1]) in good:
        return "an accepted token plus a character"
    if "lower:" + fingerprint(token.lower()) in keys:
        return "an accepted token in another case"
    if len(token) > 2 and token[0] == token[-1] == '"' and fingerprint(token[1:-1]) in good:
        return "an accepted token in double quotes"
    if any(char.isspace() for char in token) and fingerprint("".join(token.split())) in good:
        return "an accepted token with whitespace inside"
    return None


def near_miss_device(device_id: str, devices: set[str]) -> bool:
    """Whether ``device_id`` is one character off a device seen (cut short, or one longer)."""
    return device_id[:-1] in devices or any(len(known) == len(device_id) + 1 and known.startswith(device_id)
                                            for known in devices)
