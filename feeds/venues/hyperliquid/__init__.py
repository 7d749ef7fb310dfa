"""Hyperliquid perpetuals: everything adlwatch speaks with it (``market``: public wire; ``tiers``: tier metadata;
``account``: followed accounts; ``emulator``: its loopback personality). See ADDING_A_VENUE.md."""

from __future__ import annotations

from typing import Any

from adlwatch.feeds.venue import Venue
from adlwatch.feeds.venues.hyperliquid.market import ADAPTER


def _tiers() -> Any:
    from adlwatch.feeds.venues.hyperliquid.tiers import SOURCE

    return SOURCE


def _follower(account: Any, *, rest_url: str | None, ws_url: str | None, env: Any = None, **options: Any) -> Any:
    from adlwatch.feeds.venues.hyperliquid.account import HyperliquidFollower

    return HyperliquidFollower(account.address, rest_url=rest_url, ws_url=ws_url, **options)


def _emulator() -> Any:
    from adlwatch.feeds.venues.hyperliquid.emulator import PERSONALITY

    return PERSONALITY


VENUE = Venue(
    name=ADAPTER.name,
    adapter=ADAPTER,
    tardis_exchanges=("hyperliquid",),
    key_parts=(),  # followed by public address
    tiers=_tiers,
    follower=_follower,
    emulator=_emulator,
)
