"""Binance USDⓈ-M (and COIN-M) futures: everything adlwatch speaks with it (``market``: public wire; ``tiers``: tier metadata;
``account``: followed accounts; ``emulator``: its loopback personality). See ADDING_A_VENUE.md."""

from __future__ import annotations

from typing import Any

from adlwatch.feeds.venue import Venue
from adlwatch.feeds.venues.binance.market import ADAPTER


def _tiers() -> Any:
    from adlwatch.feeds.venues.binance.tiers import SOURCE

    return SOURCE


def _signed_rules() -> Any:
    from adlwatch.feeds.venues.binance.account import RULES

    return RULES


def _follower(account: Any, *, rest_url: str | None, ws_url: str | None, env: Any = None, **options: Any) -> Any:
    from adlwatch.feeds.accounts.signed import signed_follower

    return signed_follower(ADAPTER.name, account.key_name, rest_url=rest_url, env=env, **options)


def _emulator() -> Any:
    from adlwatch.feeds.venues.binance.emulator import PERSONALITY

    return PERSONALITY


VENUE = Venue(
    name=ADAPTER.name,
    adapter=ADAPTER,
    tardis_exchanges=("binance-futures", "binance-delivery"),  # binance-delivery: Tardis' COIN-M
    key_parts=("key", "secret"),
    tiers=_tiers,
    follower=_follower,
    signed_rules=_signed_rules,
    emulator=_emulator,
)
