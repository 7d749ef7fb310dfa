"""Hyperliquid's public tier tables: ``POST /info {"type": "meta"}`` (research/exchanges.md §4.2;
hyperliquid-docs ``for-developers/api/info-endpoint/perpetuals.md`` and ``trading/margin-tiers.md``):
``marginTables`` and each universe asset's ``marginTableId``; "for IDs less than 50, there is a single
tier with max leverage equal to the ID"; mmr = 1 / (2 · max leverage).

The whole universe (``fetch_universe``, ``lookup``) comes from ``POST /info {"type": "metaAndAssetCtxs"}``
(``[meta, [assetCtx, …]]``, ctx i belongs to universe asset i; info weight 20 of 1200 a minute): every
asset of the main perp dex with ``szDecimals``, ``maxLeverage``, ``marginTableId``, ``onlyIsolated`` and
``isDelisted``. Every Hyperliquid perpetual is linear, USDC-settled, sized in coin (contract size 1).

Tick size: Hyperliquid has no fixed tick. A price may have at most 5 significant figures and at most
``6 − szDecimals`` decimals; an integer price is always allowed (docs ``for-developers/api/tick-and-lot-size``).
adlwatch stores the *effective* tick at the mark price the same answer carries:
``min(1, max(10^(floor(log10(mark)) − 4), 10^−(6 − szDecimals)))``; without a mark (a plain ``meta``
body, or a ctx without ``markPx``) the finest step the decimals rule allows, ``10^−(6 − szDecimals)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from adlwatch.engine.instruments import Catalogue, Instrument, Tier, build_tiers
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
VENUE = "hyperliquid"
SETTLE = "USDC"
# Base-rate tier-0 perps taker fee (docs trading/fees.md), as engine/data/instruments/hyperliquid.toml.
TAKER_FEE = 0.00045
MAX_PRICE_DECIMALS = 6  # perps: at most 6 − szDecimals decimals (spot: 8)
SIGNIFICANT_FIGURES = 5
UNIVERSE_BODY = {"type": "metaAndAssetCtxs"}


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
    universe = _universe_of(doc)
    tables = _margin_tables(doc)
    wanted = set(coins)
    out: dict[str, list[Row]] = {}
    for asset in universe:
        coin = asset.get("name")
        if not isinstance(coin, str) or coin not in wanted:
            continue
        out[coin] = _asset_rows(asset, coin, tables)
    return out


def _universe_of(doc: dict) -> list[dict]:
    universe = doc.get("universe")
    if not isinstance(universe, list) or not all(isinstance(a, dict) for a in universe):
        raise ValueError("hyperliquid: body has no universe list of objects")
    return universe


def _margin_tables(doc: dict) -> dict[int, Any]:
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
    return tables


def _asset_rows(asset: dict, coin: str, tables: Mapping[int, Any]) -> list[Row]:
    """An asset's tier rows: its margin table, or (no ``marginTableId``) its ``maxLeverage`` at any size."""
    if asset.get("marginTableId") is None:
        lever = number(asset.get("maxLeverage"), "hyperliquid", f"{coin} maxLeverage")
        if lever <= 0.5:
            raise ValueError(f"hyperliquid: {coin} max leverage {lever:g} too low")
        return checked("hyperliquid", coin, [{"floor": 0.0, "cap": LAST_CAP,
                                              "mmr": 1.0 / (2.0 * lever), "max_leverage": lever}])
    table_id = number(asset.get("marginTableId"), "hyperliquid", f"{coin} marginTableId")
    if table_id != int(table_id) or table_id < 1:
        raise ValueError(f"hyperliquid: {coin} marginTableId {table_id:g} is not a positive integer")
    return _hyperliquid_table(int(table_id), tables, coin)


def tick_size(sz_decimals: int, mark: float | None) -> float:
    """The effective price step (module docstring): the 5-significant-figure step at ``mark``, never
    finer than ``10^−(6 − szDecimals)`` and never coarser than 1 (integers are always allowed)."""
    finest = 10.0 ** -(MAX_PRICE_DECIMALS - sz_decimals)
    if mark is None or not math.isfinite(mark) or mark <= 0:
        return float(f"{finest:.12g}")
    step = 10.0 ** (math.floor(math.log10(mark)) - (SIGNIFICANT_FIGURES - 1))
    return float(f"{min(1.0, max(step, finest)):.12g}")


def _flag(asset: dict, key: str, coin: str) -> bool:
    value = asset.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"hyperliquid: {coin} {key} {value!r:.30} is not true or false")
    return value


def _mark_of(ctx: Any) -> float | None:
    if not isinstance(ctx, dict) or ctx.get("markPx") is None:
        return None
    try:
        mark = number(ctx["markPx"], "hyperliquid", "markPx")
    except ValueError:
        return None
    return mark if mark > 0 else None


def _instrument(asset: dict, ctx: Any, tables: Mapping[int, Any], source: str, as_of: str,
                tiers_by_key: dict[tuple[str, str], tuple[Tier, ...]]) -> Instrument:
    coin = asset.get("name")
    if not isinstance(coin, str) or not coin or coin != coin.strip():
        raise ValueError(f"hyperliquid: universe asset without a name: {asset!r:.60}")
    decimals = number(asset.get("szDecimals"), "hyperliquid", f"{coin} szDecimals")
    if decimals != int(decimals) or not 0 <= decimals <= MAX_PRICE_DECIMALS:
        raise ValueError(f"hyperliquid: {coin} szDecimals {decimals:g} is not an integer in 0..{MAX_PRICE_DECIMALS}")
    # a margin table is read once for the many assets that share it
    key = (repr(asset.get("marginTableId")), repr(asset.get("maxLeverage")) if asset.get("marginTableId") is None else "")
    tiers = tiers_by_key.get(key)
    if tiers is None:
        tiers = tiers_by_key[key] = build_tiers(_asset_rows(asset, coin, tables), f"{VENUE}:{coin}")
    # A newer field ``marginMode`` ("strictIsolated" / "noCross") says the same as onlyIsolated where
    # present (UNCONFIRMED spelling: read both, either one makes the asset isolated-only).
    only_isolated = _flag(asset, "onlyIsolated", coin) or asset.get("marginMode") in ("strictIsolated", "noCross")
    return Instrument(
        venue=VENUE, symbol=coin, kind="linear", base=coin, quote=SETTLE, settle=SETTLE, contract_size=1.0,
        tick_size=tick_size(int(decimals), _mark_of(ctx)), tier_basis="notional",
        tiers=tiers, taker_fee=TAKER_FEE, source=source, as_of=as_of,
        verified=True, status="delisted" if _flag(asset, "isDelisted", coin) else "trading",
        only_isolated=only_isolated)


def parse_universe(body: Any, source: str, as_of: str, errors: list[str]) -> list[Instrument]:
    """Every asset of a ``metaAndAssetCtxs`` body (``[meta, ctxs]``) or a plain ``meta`` body as an
    ``Instrument``. An asset that cannot be read is one line in ``errors``, the rest are returned; a body
    whose shape is wrong raises ``ValueError``."""
    doc = load_json(body, "hyperliquid")
    ctxs: list[Any] = []
    if isinstance(doc, list):
        if len(doc) != 2 or not isinstance(doc[0], dict) or not isinstance(doc[1], list):
            raise ValueError("hyperliquid: metaAndAssetCtxs body is not [meta, [assetCtx, ...]]")
        doc, ctxs = doc
    if not isinstance(doc, dict):
        raise ValueError("hyperliquid: body is not a JSON object")
    universe = _universe_of(doc)
    tables = _margin_tables(doc)
    out: list[Instrument] = []
    seen: set[str] = set()
    tiers_by_key: dict[tuple[str, str], tuple[Tier, ...]] = {}
    for i, asset in enumerate(universe):
        try:
            instrument = _instrument(asset, ctxs[i] if i < len(ctxs) else None, tables, source, as_of, tiers_by_key)
        except (ValueError, KeyError, TypeError) as err:
            text = str(err)
            errors.append(text if text.startswith("hyperliquid") else f"hyperliquid: universe[{i}]: {text}")
            continue
        if instrument.symbol in seen:
            errors.append(f"hyperliquid: {instrument.symbol} listed twice in the universe; the first kept")
            continue
        seen.add(instrument.symbol)
        out.append(instrument)
    return out


async def fetch_universe(fetcher: Fetcher, base: str, errors: list[str]) -> list[Instrument]:
    """Every perpetual of the main dex, from one ``metaAndAssetCtxs`` request (the venue does not
    paginate it). Nothing (and one line in ``errors``) when the answer cannot be had or read."""
    source = url(base, INFO_PATH)
    try:
        text = await fetcher.fetch("POST", source, dict(UNIVERSE_BODY))
        return parse_universe(text, f"{source} metaAndAssetCtxs", now_iso(), errors)
    except ValueError as err:
        errors.append(str(err))
        return []


def find_coin(instruments: Sequence[Instrument], symbol: str) -> Instrument | None:
    """The coin as the venue spells it (``kPEPE``), else the one coin equal to it ignoring case."""
    exact = [i for i in instruments if i.symbol == symbol]
    if exact:
        return exact[0]
    folded = [i for i in instruments if i.symbol.casefold() == symbol.strip().casefold()]
    return folded[0] if len(folded) == 1 else None


async def lookup(fetcher: Fetcher, base: str, symbol: str, errors: list[str]) -> Instrument | None:
    """One coin on demand. Hyperliquid has no request for one asset's meta: the universe is read (one
    request, weight 20) and the coin picked from it."""
    found = find_coin(await fetch_universe(fetcher, base, errors), symbol)
    if found is None:
        errors.append(f"{symbol}: hyperliquid: not in the meta universe")
    return found


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


SOURCE = TierSource(fetch=fetch, fetch_universe=fetch_universe, lookup=lookup, default_basis="notional",
                   notes=("POST /info {\"type\": \"meta\"}: marginTables and each asset's marginTableId "
                       "(ids below 50: one tier at that leverage); mmr = 1/(2 x max leverage); "
                       "last cap 1e12 stands for no cap. The universe: POST /info {\"type\": \"metaAndAssetCtxs\"}; "
                       "tick_size is the effective step at the mark (5 significant figures, at most 6 - szDecimals "
                       "decimals, integers always allowed)."))
