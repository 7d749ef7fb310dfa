"""A test-only fifth venue, "fakex": its own folder, as ADDING_A_VENUE.md says, and no product file.

``market.py`` is its public wire, ``emulator.py`` its loopback personality, ``rules.py`` its engine
rules. ``VENUE`` is registered by the test (``adlwatch.feeds.registry.register``), never discovered:
it lives outside ``adlwatch.feeds.venues``.
"""

from adlwatch.feeds.venue import Venue, lazy
from tests.feeds.fake_venue.market import ADAPTER

VENUE = Venue(
    name=ADAPTER.name,
    adapter=ADAPTER,
    tardis_exchanges=("fakex-perp",),
    emulator=lazy(f"{__name__}.emulator", "PERSONALITY"),
)
