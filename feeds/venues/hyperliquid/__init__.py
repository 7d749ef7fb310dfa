"""Hyperliquid perpetuals: everything adlwatch speaks with it. ``market``: the public wire; ``tiers``: tier
metadata; ``account``: followed accounts; ``emulator``: its loopback personality (ADDING_A_VENUE.md)."""

from adlwatch.feeds.venue import Venue, lazy
from adlwatch.feeds.venues.hyperliquid.market import ADAPTER

VENUE = Venue(
    name=ADAPTER.name,
    adapter=ADAPTER,
    tardis_exchanges=("hyperliquid",),
    key_parts=(),  # followed by public address
    tiers=lazy(f"{__name__}.tiers", "SOURCE"),
    follower=lazy(f"{__name__}.account", "follower"),
    emulator=lazy(f"{__name__}.emulator", "PERSONALITY"),
)
