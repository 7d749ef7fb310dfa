"""Hyperliquid's public tier tables: ``POST /info {"type": "meta"}`` (research/exchanges.md §4.2;
hyperliquid-docs ``for-developers/api/info-endpoint/perpetuals.md`` and ``trading/margin-tiers.md``):
``marginTables`` and each universe asset's ``marginTableId``; "for IDs less than 50, there is a single
tier with max leverage equal to the ID"; mmr = 1 / (2 · max leverage)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adlwatch.engine.instruments import Catalogue
from adlwatch.feeds.tier_rows import (
    Fetched,
    Fetcher,
    Row,
    TierSource,
    checked,
    load_json,
    now_iso,
    number,
    url,
)
from adlwatch.feeds.venues.hyperliquid.market import INFO_PATH

# Hyperliquid's last tier has no cap; the bundled table uses the same placeholder.
LAST_CAP = 1e12
FLAT_TABLES_BELOW = 50


def _hyperliquid_table(table_id: int, tables: Mapping[int, Any], coin: str) -> list[Row]:
    if table_id < FLAT_TABLES_BELOW and table_id not in tables:
        bounds = [(0.0, float(table_id))]
    else:
        table = tables.get(table_id)
        if not isinstance(table, dict) or not isinstance(table.get("marginTiers"), list):
            raise ValueError(f"hyperliquid: {coin} uses margin table {table_id}, which meta does not list")
        bounds = []
        for i, tier in enumerate(table["marginTiers"]):
            if not isinstance(tier, dict):
                raise ValueError(f"hyperliquid: margin table {table_id} tier {i} is not an object")
            bounds.append((number(tier.get("lowerBound"), "hyperliquid", f"table {table_id} tier {i} lowerBound"),
                           number(tier.get("maxLeverage"), "hyperliquid", f"table {table_id} tier {i} maxLeverage")))
    if not bounds:
        raise ValueError(f"hyperliquid: margin table {table_id} has no tiers")
    if bounds[0][0] != 0.0:
        raise ValueError(f"hyperliquid: margin table {table_id} starts at {bounds[0][0]:g}, not 0")
    rows: list[Row] = []
    for i, (lower, lever) in enumerate(bounds):
        # maintenance margin is half the initial margin at max leverage (trading/margin-tiers.md)
        if lever <= 0.5:
            raise ValueError(f"hyperliquid: margin table {table_id} tier {i}: max leverage {lever:g} too low")
        cap = bounds[i + 1][0] if i + 1 < len(bounds) else LAST_CAP
        rows.append({"floor": lower, "cap": cap, "mmr": 1.0 / (2.0 * lever), "max_leverage": lever})
    return checked("hyperliquid", coin, rows)


def parse_hyperliquid_meta(body: Any, coins: Sequence[str]) -> dict[str, list[Row]]:
    """``{coin: rows}`` for the wanted ``coins`` in one ``info {"type": "meta"}`` body.

    An asset without ``marginTableId`` (the docs example's universe has none) is held to its
    ``maxLeverage`` at any size. Coins the universe does not list are absent.
    """
    doc = load_json(body, "hyperliquid")
    if not isinstance(doc, dict):
        raise ValueError("hyperliquid: body is not a JSON object")
    universe = doc.get("universe")
    if not isinstance(universe, list) or not all(isinstance(a, dict) for a in universe):
        raise ValueError("hyperliquid: body has no universe list of objects")
    raw_tables = doc.get("marginTables", [])
    if not isinstance(raw_tables, list):
        raise ValueError("hyperliquid: marginTables is not a list")
    tables: dict[int, Any] = {}
    for entry in raw_tables:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise ValueError(f"hyperliquid: marginTables entry is not [id, table]: {entry!r:.60}")
        table_id = number(entry[0], "hyperliquid", "margin table id")
        if table_id != int(table_id):
            raise ValueError(f"hyperliquid: margin table id {table_id:g} is not an integer")
        tables[int(table_id)] = entry[1]
    wanted = set(coins)
    out: dict[str, list[Row]] = {}
    for asset in universe:
        coin = asset.get("name")
        if not isinstance(coin, str) or coin not in wanted:
            continue
        if asset.get("marginTableId") is None:
            lever = number(asset.get("maxLeverage"), "hyperliquid", f"{coin} maxLeverage")
            if lever <= 0.5:
                raise ValueError(f"hyperliquid: {coin} max leverage {lever:g} too low")
            out[coin] = checked("hyperliquid", coin, [{"floor": 0.0, "cap": LAST_CAP,
                                                        "mmr": 1.0 / (2.0 * lever), "max_leverage": lever}])
            continue
        table_id = number(asset.get("marginTableId"), "hyperliquid", f"{coin} marginTableId")
        if table_id != int(table_id) or table_id < 1:
            raise ValueError(f"hyperliquid: {coin} marginTableId {table_id:g} is not a positive integer")
        out[coin] = _hyperliquid_table(int(table_id), tables, coin)
    return out


async def fetch(fetcher: Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                             errors: list[str]) -> Fetched:
    source = url(base, INFO_PATH)
    try:
        text = await fetcher.fetch("POST", source, {"type": "meta"})
        parsed = parse_hyperliquid_meta(text, symbols)
    except ValueError as err:
        errors.append(str(err))
        return {}
    as_of = now_iso()
    for coin in symbols:
        if coin not in parsed:
            errors.append(f"{coin}: hyperliquid: not in the meta universe")
    return {coin: (rows, source, as_of) for coin, rows in parsed.items()}


SOURCE = TierSource(fetch=fetch, default_basis="notional",
                   notes=("POST /info {\"type\": \"meta\"}: marginTables and each asset's marginTableId "
                       "(ids below 50: one tier at that leverage); mmr = 1/(2 x max leverage); "
                       "last cap 1e12 stands for no cap."))
