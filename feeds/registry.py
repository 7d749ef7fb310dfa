"""Every venue adapter by name: the one line to add for a fifth venue."""

from __future__ import annotations

from adlwatch.feeds import binance, bybit, hyperliquid, okx
from adlwatch.feeds.venue import VenueAdapter

ADAPTERS: dict[str, VenueAdapter] = {
    "binance": binance.ADAPTER,
    "bybit": bybit.ADAPTER,
    "okx": okx.ADAPTER,
    "hyperliquid": hyperliquid.ADAPTER,
}


def get_adapter(name: str) -> VenueAdapter:
    """The adapter for ``name`` (case-insensitive); ValueError naming the known venues otherwise."""
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return ADAPTERS[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown venue {name!r}; known venues: {', '.join(sorted(ADAPTERS))}") from None
