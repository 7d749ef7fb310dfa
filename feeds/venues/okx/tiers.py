"""OKX's public tier tables: ``GET /api/v5/public/position-tiers`` (research/exchanges.md §3.2;
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers). ``minSz``/``maxSz`` are
contracts for perpetuals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adlwatch.engine.instruments import Catalogue
from adlwatch.feeds.tier_rows import (
    Fetched,
    Fetcher,
    Row,
    TierSource,
    bundled,
    chain,
    load_json,
    now_iso,
    number,
    tidy,
    url,
)

POSITION_TIERS_PATH = "/api/v5/public/position-tiers"


def okx_family(symbol: str) -> str:
    """``BTC-USDT-SWAP`` → ``BTC-USDT`` (the instrument family position-tiers is asked by)."""
    return symbol[: -len("-SWAP")] if symbol.upper().endswith("-SWAP") else symbol


def parse_okx_position_tiers(body: Any, inst_family_to_symbol: Mapping[str, str],
                             ct_val: Mapping[str, float]) -> dict[str, list[Row]]:
    """``{symbol: rows}`` from one ``/api/v5/public/position-tiers`` body (instType SWAP).

    ``minSz``/``maxSz`` are contracts; ``ct_val[symbol]`` converts them to the instrument's tier
    unit: the contract value ``ctVal`` (base units per contract) for linear swaps, whose bundled
    tiers are in base units, and 1 for inverse swaps, whose tiers stay in contracts. Each floor is
    the previous tier's cap (older tables start the next tier one contract above it). Rows whose
    family is not in ``inst_family_to_symbol`` are ignored.
    """
    doc = load_json(body, "okx")
    if not isinstance(doc, dict):
        raise ValueError("okx: body is not a JSON object")
    if doc.get("code") not in ("0", 0):
        raise ValueError(f"okx: code {doc.get('code')!r:.40} ({str(doc.get('msg', ''))[:80]})")
    data = doc.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("okx: body has no data list of objects")
    grouped: dict[str, list[tuple[int, float, float, float]]] = {}
    for item in data:
        family = item.get("instFamily") or item.get("uly")
        if not isinstance(family, str) or family not in inst_family_to_symbol:
            continue
        symbol = inst_family_to_symbol[family]
        what = f"{family} tier {item.get('tier')!r:.20}"
        tier = number(item.get("tier"), "okx", f"{family} tier number")
        max_sz = number(item.get("maxSz"), "okx", f"{what} maxSz")
        mmr = number(item.get("mmr"), "okx", f"{what} mmr")
        lever = number(item.get("maxLever"), "okx", f"{what} maxLever")
        grouped.setdefault(symbol, []).append((int(tier), max_sz, mmr, lever))
    out: dict[str, list[Row]] = {}
    for symbol, tiers in grouped.items():
        if symbol not in ct_val:
            raise ValueError(f"okx: no contract value given for {symbol}: cannot convert contracts")
        multiplier = number(ct_val[symbol], "okx", f"{symbol} contract value")
        if multiplier <= 0:
            raise ValueError(f"okx: {symbol} contract value {multiplier:g} not positive")
        tiers.sort()
        numbers = [t[0] for t in tiers]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"okx: {symbol} repeats a tier number")
        out[symbol] = chain("okx", symbol, [(tidy(max_sz * multiplier), mmr, lever)
                                             for _n, max_sz, mmr, lever in tiers])
    return out


async def fetch(fetcher: Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                     errors: list[str]) -> Fetched:
    by_family: dict[str, str] = {}
    ct_val: dict[str, float] = {}
    for symbol in symbols:
        inst = bundled(catalogue, "okx", symbol)
        if inst is None:
            errors.append(f"{symbol}: not in the bundled catalogue, so its contract value is unknown")
            continue
        if inst.inverse:
            ct_val[symbol] = 1.0  # bundled inverse tiers count contracts
        elif inst.venue_contract_size:
            ct_val[symbol] = float(inst.venue_contract_size)
        else:
            errors.append(f"{symbol}: the bundle has no contract value (ctVal) to convert contracts")
            continue
        by_family[okx_family(symbol)] = symbol
    out: Fetched = {}
    for family, symbol in by_family.items():
        params = {"instType": "SWAP", "tdMode": "isolated", "instFamily": family}
        source = url(base, POSITION_TIERS_PATH, params)
        try:
            text = await fetcher.fetch("GET", source)
            rows = parse_okx_position_tiers(text, {family: symbol}, ct_val).get(symbol)
            if rows is None:
                raise ValueError(f"okx: no tiers for instFamily {family} in the answer")
            out[symbol] = (rows, source, now_iso())
        except ValueError as err:
            errors.append(f"{symbol}: {err}")
    return out


SOURCE = TierSource(fetch=fetch, default_basis="size",
                    notes=("GET /api/v5/public/position-tiers?instType=SWAP&tdMode=isolated per instrument family; "
               "minSz/maxSz contracts converted to base units with the bundled ctVal for linear swaps "
               "(inverse swaps stay in contracts); floors are the previous cap."))
