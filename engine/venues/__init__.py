"""One module per venue; this registry is the only place that lists them."""

from __future__ import annotations

from types import ModuleType

from adlwatch.engine.venues import binance, bybit, hyperliquid, okx

VENUE_RULES: dict[str, ModuleType] = {
    "binance": binance,
    "bybit": bybit,
    "okx": okx,
    "hyperliquid": hyperliquid,
}


def rules_for(venue: str) -> ModuleType:
    return VENUE_RULES[venue]
