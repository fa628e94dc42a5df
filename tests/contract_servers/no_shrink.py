"""A pytest plugin for runs of the contract suite that check the suite itself: hypothesis does not shrink.

Whether the suite catches a break is settled when hypothesis first finds a failing example; shrinking
it only makes the example smaller, and against an HTTP server it can take minutes (hypothesis stops
after five). Loaded with ``-p tests.contract_servers.no_shrink``, it keeps the suite's own profile and
drops only the shrink phase (and the explain phase, which works on a shrunk example).
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

PROFILE = "contract-suite-check"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After the suite and hypothesis chose a profile: the same profile, without shrinking."""
    current = settings.get_profile(settings.get_current_profile_name())
    phases = tuple(phase for phase in current.phases if phase not in (Phase.shrink, Phase.explain))
    settings.register_profile(PROFILE, parent=current, phases=phases)
    settings.load_profile(PROFILE)
