"""Bybit's public tier tables: ``GET /v5/market/risk-limit`` (research/exchanges.md §2.2;
bybit-exchange/docs ``docs/v5/market/risk-limit.mdx``, https://bybit-exchange.github.io/docs/v5/market/risk-limit).
``riskLimitValue`` is the tier's cap (USDT notional for linear, coin value for inverse); the floor is
the previous tier's cap. ``fetch_universe`` and ``lookup`` read every perpetual (instruments-info
merged with risk-limit, below)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adlwatch.engine.instruments import Catalogue, Instrument, Kind, Status, build_tiers, default_catalogue
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


# ---------------------------------------------------------------------------- the whole universe
# GET /v5/market/instruments-info?category=linear|inverse (research/exchanges.md §2; Bybit v5 docs
# "Get Instruments Info"): result.list of contracts, ``limit`` 1..1000 and ``cursor`` /
# ``result.nextPageCursor``. Only perpetuals are kept (contractType LinearPerpetual /
# InversePerpetual; the dated futures are left out). GET /v5/market/risk-limit?category=… without a
# symbol lists every contract's tiers, paged by ``cursor`` / ``nextPageCursor`` (whether it takes a
# ``limit`` is UNCONFIRMED, so none is sent).

INSTRUMENTS_PATH = "/v5/market/instruments-info"
CATEGORIES = ("linear", "inverse")
PAGE_LIMIT = 1000  # instruments-info's documented maximum
_MAX_UNIVERSE_PAGES = 200  # a cursor that never ends is a venue bug, not a reason to loop forever
# Bybit allows 600 HTTP requests per 5 s per IP and bans an IP that exceeds it for 10 minutes with HTTP
# 403 (research/exchanges.md §2.5; the Fetcher does not retry a 403): the universe asks at most 10 a
# second, far below it, as other tools may share the IP.
MIN_GAP_S = 0.1
RATE_LIMIT_CODE = 10006  # "Too many visits": retried after a pause, like an HTTP 429
_RATE_RETRIES = 3
# instruments-info without ``status`` lists the Trading contracts only, as far as we know (UNCONFIRMED);
# the others are asked by name, and a contract listed twice counts once.
LISTED_STATUSES = (None, "PreLaunch", "Delivering", "Closed")
_STATUS = {"Trading": "trading", "PreLaunch": "pre_launch", "Delivering": "settling", "Closed": "delisted"}
_PERPETUAL = {"LinearPerpetual": "linear", "InversePerpetual": "inverse"}


@dataclass(frozen=True)
class BybitContract:
    """One perpetual of instruments-info: what the catalogue needs of it."""

    symbol: str
    kind: Kind
    base: str
    quote: str
    settle: str
    tick_size: float
    status: Status


def _text(item: dict, key: str, what: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"bybit: {what} has no {key}: {value!r:.40}")
    return value


def _contract(item: dict, category: str) -> BybitContract | None:
    """The contract of one instruments-info item; None for a contract that is not a perpetual."""
    symbol = _text(item, "symbol", "instrument")
    contract_type = item.get("contractType")
    if not isinstance(contract_type, str) or not contract_type:
        raise ValueError(f"bybit: {symbol} has no contractType: {contract_type!r:.40}")
    kind = _PERPETUAL.get(contract_type)
    if kind is None:
        return None  # LinearFutures, InverseFutures: dated, not in the perpetual catalogue
    if kind != category:
        raise ValueError(f"bybit: {symbol} is {contract_type} in category {category}")
    status_text = item.get("status")
    status = _STATUS.get(status_text) if isinstance(status_text, str) else None
    if status is None:
        raise ValueError(f"bybit: {symbol} has an unknown status {status_text!r:.40}")
    price_filter = item.get("priceFilter")
    if not isinstance(price_filter, dict):
        raise ValueError(f"bybit: {symbol} has no priceFilter")
    tick = number(price_filter.get("tickSize"), "bybit", f"{symbol} priceFilter.tickSize")
    if tick <= 0:
        raise ValueError(f"bybit: {symbol} tickSize {tick:g} not positive")
    return BybitContract(symbol=symbol, kind=kind, base=_text(item, "baseCoin", symbol),
                         quote=_text(item, "quoteCoin", symbol), settle=_text(item, "settleCoin", symbol),
                         tick_size=tick, status=status)


def parse_bybit_instruments(body: Any, category: str, errors: list[str]) -> tuple[list[BybitContract], str]:
    """The perpetuals of one instruments-info page and its ``nextPageCursor``. A page that is not
    Bybit's raises ``ValueError``; a contract that cannot be read is one line in ``errors``."""
    items, cursor = _bybit_page(body)
    contracts: list[BybitContract] = []
    for item in items:
        try:
            contract = _contract(item, category)
        except ValueError as err:
            symbol = item.get("symbol")
            errors.append(f"{symbol}: {err}" if isinstance(symbol, str) and symbol else str(err))
            continue
        if contract is not None:
            contracts.append(contract)
    return contracts, cursor


def parse_bybit_risk_limits(items: Sequence[dict], errors: list[str]) -> dict[str, list[Row]]:
    """``{symbol: rows}`` for every contract in risk-limit items (all pages together); a contract
    whose tiers cannot be read is one line in ``errors`` and left out."""
    grouped: dict[str, dict[Any, dict]] = {}
    for item in items:
        symbol = item.get("symbol") if isinstance(item, dict) else None
        if not isinstance(symbol, str) or not symbol:
            errors.append(f"bybit: risk-limit item without a symbol: {item!r:.80}")
            continue
        tiers = grouped.setdefault(symbol, {})
        key = item.get("id", len(tiers))
        if not isinstance(key, (int, str)) or isinstance(key, bool):
            key = f"bad{len(tiers)}"  # _bybit_symbol_rows names it
        tiers[key] = item  # pages may repeat a tier
    out: dict[str, list[Row]] = {}
    for symbol, tiers in grouped.items():
        try:
            out[symbol] = _bybit_symbol_rows(symbol, list(tiers.values()))
        except (ValueError, TypeError) as err:
            errors.append(f"{symbol}: {err}" if str(err).startswith("bybit") else f"{symbol}: bybit: {err}")
    return out


def _rate_limited(text: str) -> bool:
    return f'"retCode":{RATE_LIMIT_CODE}' in text.replace(" ", "")


async def _get(fetcher: Fetcher, address: str) -> str:
    """One page; retCode 10006 (rate limit, answered with HTTP 200 by some gateways) is retried after
    the fetcher's backoff, a few times."""
    return await fetcher.get_paced(address, min_gap_s=MIN_GAP_S, rate_limited=_rate_limited,
                                   retries=_RATE_RETRIES)


async def _pages(fetcher: Fetcher, base: str, path: str, params: dict[str, str], errors: list[str],
                 read: Callable[[str], tuple[list, str]]) -> tuple[list, bool]:
    """Every page of a cursor-paged endpoint: (items, complete)."""
    out: list = []
    cursor, seen = "", set()
    for _page in range(_MAX_UNIVERSE_PAGES):
        address = url(base, path, dict(params, cursor=cursor) if cursor else params)
        try:
            items, cursor = read(await _get(fetcher, address))
        except ValueError as err:
            errors.append(f"{address}: {err}")
            return out, False
        out.extend(items)
        if not cursor:
            return out, True
        if cursor in seen:
            errors.append(f"{address}: bybit: nextPageCursor {cursor!r:.40} repeats; pages stop here")
            return out, False
        seen.add(cursor)
    errors.append(f"{url(base, path, params)}: bybit: more than {_MAX_UNIVERSE_PAGES} pages; the rest left out")
    return out, False


def _taker_fee() -> float:
    fees = [i.taker_fee for i in default_catalogue() if i.venue == "bybit"]
    return fees[0] if fees else 0.0


def _instrument(contract: BybitContract, rows: list[Row] | None, source: str, as_of: str,
                taker_fee: float) -> Instrument:
    # The bundle's convention (bybit.toml): linear sizes are coin (contract_size 1), inverse sizes are
    # contracts of 1 USD face value (contract_size 1); tiers by notional (USDT for linear, coin value
    # for inverse), as riskLimitValue is.
    return Instrument(venue="bybit", symbol=contract.symbol, kind=contract.kind, base=contract.base,
                      quote=contract.quote, settle=contract.settle, contract_size=1.0,
                      tick_size=contract.tick_size, tier_basis="notional",
                      tiers=build_tiers(rows or [], f"bybit:{contract.symbol}"), taker_fee=taker_fee,
                      source=source, as_of=as_of, verified=True, status=contract.status)


def _merge(contracts: list[BybitContract], rows: dict[str, list[Row]], complete: bool, source: str,
           errors: list[str], taker_fee: float) -> list[Instrument]:
    as_of = now_iso()
    out: list[Instrument] = []
    for contract in contracts:
        tiers = rows.get(contract.symbol)
        if tiers is None and contract.status == "trading":
            if complete:  # an incomplete risk-limit answer was already reported once
                errors.append(f"{contract.symbol}: bybit: trading, but not in the risk-limit answer")
            continue
        out.append(_instrument(contract, tiers, source, as_of, taker_fee))
    return out


async def fetch_universe(fetcher: Fetcher, base: str, errors: list[str]) -> list[Instrument]:
    """Every Bybit perpetual (linear and inverse) with its risk-limit tiers. A trading contract
    without tiers is reported and left out; one not trading (delisted, pre-launch, delivering) is
    kept with what tiers it has (none, often)."""
    taker_fee = _taker_fee()
    out: list[Instrument] = []
    for category in CATEGORIES:
        contracts: dict[str, BybitContract] = {}
        for status in LISTED_STATUSES:
            params = {"category": category, "limit": str(PAGE_LIMIT), **({"status": status} if status else {})}
            found, _done = await _pages(fetcher, base, INSTRUMENTS_PATH, params, errors,
                                        lambda text, c=category: parse_bybit_instruments(text, c, errors))
            for contract in found:
                contracts.setdefault(contract.symbol, contract)
        if not contracts:
            continue
        params = {"category": category}
        items, complete = await _pages(fetcher, base, RISK_LIMIT_PATH, params, errors, _bybit_page)
        rows = parse_bybit_risk_limits(items, errors)
        out.extend(_merge(list(contracts.values()), rows, complete, url(base, RISK_LIMIT_PATH, params), errors,
                          taker_fee))
    return out


async def lookup(fetcher: Fetcher, base: str, symbol: str, errors: list[str]) -> Instrument | None:
    """One contract by its Bybit symbol (``BTCUSDT``, ``BTCUSD``): instruments-info and risk-limit
    with ``symbol=``. The category is guessed from the quote (``…USD`` inverse) and the other one is
    asked when the first does not list it. None (and one line in ``errors``) when it is not a listed
    perpetual or cannot be read."""
    symbol = symbol.strip().upper()
    first = "inverse" if symbol.endswith("USD") else "linear"
    refused: list[str] = []
    for category in (first, *(c for c in CATEGORIES if c != first)):
        params = {"category": category, "symbol": symbol}
        address = url(base, INSTRUMENTS_PATH, params)
        try:
            contracts, _cursor = parse_bybit_instruments(await _get(fetcher, address), category, errors)
        except ValueError as err:  # an unknown symbol may be refused (retCode 10001) rather than unlisted
            refused.append(f"{symbol}: {err}")
            continue
        contract = next((c for c in contracts if c.symbol == symbol), None)
        if contract is None:
            continue
        source = url(base, RISK_LIMIT_PATH, params)
        items, complete = await _pages(fetcher, base, RISK_LIMIT_PATH, params, errors, _bybit_page)
        rows = parse_bybit_risk_limits([i for i in items if i.get("symbol") == symbol], errors)
        if not complete:
            return None
        found = _merge([contract], rows, True, source, errors, _taker_fee())
        return found[0] if found else None
    errors.extend(refused or [f"{symbol}: bybit lists no perpetual of that name (linear or inverse)"])
    return None


SOURCE = TierSource(fetch=fetch, fetch_universe=fetch_universe, lookup=lookup, default_basis="notional",
                    notes=("GET /v5/market/risk-limit per symbol (linear or inverse); riskLimitValue is each "
                           "tier's cap, floors are the previous cap; rates converted to fractions where the venue "
                           "gave percent. The whole universe: GET /v5/market/instruments-info (linear, inverse; "
                           "perpetuals only) merged with /v5/market/risk-limit per category, paged by cursor."))
