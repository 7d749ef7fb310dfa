"""Bybit's public tier tables: ``GET /v5/market/risk-limit`` (research/exchanges.md §2.2;
bybit-exchange/docs ``docs/v5/market/risk-limit.mdx``, https://bybit-exchange.github.io/docs/v5/market/risk-limit).
``riskLimitValue`` is the tier's cap (USDT notional for linear, coin value for inverse); the floor is
the previous tier's cap."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from adlwatch.engine.instruments import Catalogue, build_tiers
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

RISK_LIMIT_PATH = "/v5/market/risk-limit"
_MAX_PAGES = 20
# Bybit publishes rates as fractions (live) or percent (the docs example); initialMargin × maxLeverage
# is 1 for fractions and 100 for percent, on every tier.
_UNIT_TOLERANCE = 0.05


def _bybit_page(body: Any) -> tuple[list[dict], str]:
    """The ``result.list`` items of one risk-limit page and its ``nextPageCursor``."""
    doc = load_json(body, "bybit")
    if not isinstance(doc, dict):
        raise ValueError("bybit: body is not a JSON object")
    code = doc.get("retCode")
    if code not in (0, "0"):
        raise ValueError(f"bybit: retCode {code!r:.40} ({str(doc.get('retMsg', ''))[:80]})")
    result = doc.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        raise ValueError("bybit: body has no result.list")
    items = result["list"]
    if not all(isinstance(item, dict) for item in items):
        raise ValueError("bybit: result.list holds a non-object")
    cursor = result.get("nextPageCursor") or ""
    if not isinstance(cursor, str):
        raise ValueError(f"bybit: nextPageCursor is not a string: {cursor!r:.40}")
    return items, cursor


def _bybit_rows(items: Sequence[dict], symbols: Sequence[str]) -> dict[str, list[Row]]:
    wanted = set(symbols)
    grouped: dict[str, dict[Any, dict]] = {}
    for item in items:
        symbol = item.get("symbol")
        if not isinstance(symbol, str):
            raise ValueError(f"bybit: risk-limit item without a symbol: {item!r:.80}")
        if symbol in wanted:
            key = item.get("id", len(grouped.get(symbol, {})))
            if not isinstance(key, (int, str)) or isinstance(key, bool):
                raise ValueError(f"bybit: {symbol} risk-limit id is not an integer: {key!r:.40}")
            grouped.setdefault(symbol, {})[key] = item  # pages may repeat a tier
    return {symbol: _bybit_symbol_rows(symbol, list(tiers.values())) for symbol, tiers in grouped.items()}


def _bybit_symbol_rows(symbol: str, items: list[dict]) -> list[Row]:
    parsed = []
    for item in items:
        what = f"{symbol} id {item.get('id')!r:.20}"
        cap = number(item.get("riskLimitValue"), "bybit", f"{what} riskLimitValue")
        mmr = number(item.get("maintenanceMargin"), "bybit", f"{what} maintenanceMargin")
        imr = number(item.get("initialMargin"), "bybit", f"{what} initialMargin")
        lever = number(item.get("maxLeverage"), "bybit", f"{what} maxLeverage")
        deduction = item.get("mmDeduction")
        published = None
        if deduction not in (None, ""):
            published = number(deduction, "bybit", f"{what} mmDeduction")
        if cap <= 0 or lever <= 0 or imr <= 0 or mmr <= 0:
            raise ValueError(f"bybit: {what}: riskLimitValue, rates and maxLeverage must be positive")
        parsed.append((cap, mmr, imr, lever, published))
    parsed.sort(key=lambda p: p[0])
    caps = [p[0] for p in parsed]
    if len(set(caps)) != len(caps):
        raise ValueError(f"bybit: {symbol} repeats a riskLimitValue")
    # Fractions (live answers: 0.005 with initialMargin 0.01 at 100x) or percent (the docs example:
    # 0.5 with initialMargin 1 at 100x)? initialMargin × maxLeverage tells, tier by tier.
    scales = set()
    for cap, _mmr, imr, lever, _ in parsed:
        product = imr * lever
        if abs(product - 1.0) <= _UNIT_TOLERANCE:
            scales.add(1.0)
        elif abs(product - 100.0) <= 100.0 * _UNIT_TOLERANCE:
            scales.add(100.0)
        else:
            raise ValueError(f"bybit: {symbol} tier capped at {cap:g}: initialMargin {imr:g} × maxLeverage "
                             f"{lever:g} is neither 1 (fractions) nor 100 (percent)")
    if len(scales) != 1:
        raise ValueError(f"bybit: {symbol} mixes fractional and percent rates")
    scale = scales.pop()
    for cap, mmr, imr, _lever, _ in parsed:
        if mmr > imr:
            raise ValueError(f"bybit: {symbol} tier capped at {cap:g}: maintenance rate above initial rate")
    rows = chain("bybit", symbol, [(cap, tidy(mmr / scale), lever) for cap, mmr, _imr, lever, _ in parsed])
    # The engine derives each deduction by the recurrence Bybit documents; a published one that
    # disagrees means the table is not what the engine would compute with.
    for tier, (cap, _mmr, _imr, _lever, published) in zip(build_tiers(rows, f"bybit:{symbol}"), parsed,
                                                          strict=True):
        if published is not None and not math.isclose(published, tier.maint_amount, rel_tol=1e-6,
                                                       abs_tol=1e-9 * cap):
            raise ValueError(f"bybit: {symbol} tier capped at {cap:g}: published mmDeduction {published:g} "
                             f"!= {tier.maint_amount:g} by the documented recurrence")
    return rows


def parse_bybit_risk_limit(body: Any, symbols: Sequence[str]) -> dict[str, list[Row]]:
    """``{symbol: rows}`` for the wanted ``symbols`` in one ``/v5/market/risk-limit`` body.

    Symbols the body does not list are absent. Raises ``ValueError`` on anything unusable.
    """
    items, _cursor = _bybit_page(body)
    return _bybit_rows(items, symbols)


async def fetch(fetcher: Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                       errors: list[str]) -> Fetched:
    out: Fetched = {}
    for symbol in symbols:
        inst = bundled(catalogue, "bybit", symbol)
        inverse = inst.inverse if inst is not None else symbol.upper().endswith("USD")
        params = {"category": "inverse" if inverse else "linear", "symbol": symbol}
        source = url(base, RISK_LIMIT_PATH, params)
        try:
            items: list[dict] = []
            cursor, seen = "", set()
            for _page in range(_MAX_PAGES):
                page_params = dict(params, cursor=cursor) if cursor else params
                text = await fetcher.fetch("GET", url(base, RISK_LIMIT_PATH, page_params))
                page, cursor = _bybit_page(text)
                items.extend(page)
                if not cursor or cursor in seen:
                    break
                seen.add(cursor)
            rows = _bybit_rows(items, [symbol]).get(symbol)
            if rows is None:
                raise ValueError(f"bybit: {symbol} not in the risk-limit answer")
            out[symbol] = (rows, source, now_iso())
        except ValueError as err:
            errors.append(f"{symbol}: {err}")
    return out


SOURCE = TierSource(fetch=fetch, default_basis="notional",
                    notes=("GET /v5/market/risk-limit per symbol (linear or inverse); riskLimitValue is each tier's "
                 "cap, floors are the previous cap; rates converted to fractions where the venue gave percent."))
