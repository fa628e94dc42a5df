"""The claims of the contract suite's catalogue that the proxy does not hold traffic to, and why.

Every other claim of ``contract_tests.claims`` is applied to what passes through the proxy (and what
``check-har`` reads): by ``request_shapes`` and ``traffic`` (through the suite's own claim functions and
``Expect`` rules) and by ``app`` (``server_answers``). The tests drive traffic through the proxy and check
that the claims it ran and this list are, together, the whole catalogue.
"""

from __future__ import annotations

from contract_tests import claims

_MOCK_ONLY = "a (mock) rule of docs/contract.md: a real server need not follow it"
_EACH_ALONE = ("requests sent at the same time are held to the claims of each request alone ({}): the "
               "proxy cannot tell which requests a client meant to be concurrent")

NOT_FROM_TRAFFIC: dict[str, str] = {
    claims.HELPERS_WORK.name: "the 500 of update_status=true is documented (broken helpers): the suite fails "
                              "on it by a run option (--allow-helper-errors); the proxy passes it",
    claims.DEVICE_NAME_FROM_INVENTORY.name: "needs the inventory the suite discovers; in traffic a device's "
                                            "name is what its records show, and device_identity_consistent "
                                            "holds every echo to it",
    claims.INVALID_BODIES_CREATE_NOTHING.name: "a record stored from a refused body looks like one from a "
                                               "later valid body with the same fields: only a marker the "
                                               "client puts in its bodies tells them apart",
    claims.CREATED_RECORD_STILL_LISTED.name: "the suite's state machine's name for what the proxy checks "
                                             "as created_record_is_listed and "
                                             "refresh_keeps_what_it_does_not_own",
    claims.CONCURRENT_WRITES_ALL_CREATED.name: _EACH_ALONE.format("valid_body_is_201"),
    claims.CONCURRENT_IDS_UNIQUE.name: _EACH_ALONE.format("created_id_is_fresh"),
    claims.CONCURRENT_WRITES_ALL_LISTED.name: _EACH_ALONE.format("created_record_is_listed"),
    claims.PARALLEL_READS_AGREE.name: _EACH_ALONE.format("same_request_same_records"),
    **{claim.name: _MOCK_ONLY for claim in claims.CATALOGUE.values() if claim.mock_only},
}
