"""Binance's tier tables: no public endpoint (``GET /fapi/v1/leverageBracket`` is signed), so the
refresh skips Binance and the bundled tables stay."""

from __future__ import annotations

from adlwatch.feeds.tier_rows import TierSource

SKIP = ("no public bracket endpoint (GET /fapi/v1/leverageBracket is signed); "
        "the bundled tables stay")
SOURCE = TierSource(skip=SKIP)
