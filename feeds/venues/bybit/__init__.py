"""Bybit v5 perpetuals: everything adlwatch speaks with it. ``market``: the public wire; ``tiers``: tier
metadata; ``account``: followed accounts; ``emulator``: its loopback personality (ADDING_A_VENUE.md)."""

from adlwatch.feeds.venue import Venue, lazy
from adlwatch.feeds.venues.bybit.market import ADAPTER

VENUE = Venue(
    name=ADAPTER.name,
    adapter=ADAPTER,
    tardis_exchanges=("bybit",),
    key_parts=("key", "secret"),
    tiers=lazy(f"{__name__}.tiers", "SOURCE"),
    signed_rules=lazy(f"{__name__}.account", "RULES"),
    emulator=lazy(f"{__name__}.emulator", "PERSONALITY"),
)
