"""Risk-tier tables fetched from the venues' public endpoints into a local cache.

The cache overrides the bundled tables (``engine/data/instruments/*.toml``) tier by tier, and
carries the fetch time as ``as_of``. Sources (research/exchanges.md):

- Bybit ``GET /v5/market/risk-limit`` (§2.2; bybit-exchange/docs ``docs/v5/market/risk-limit.mdx``,
  https://bybit-exchange.github.io/docs/v5/market/risk-limit). ``riskLimitValue`` is the tier's cap
  (USDT notional for linear, coin value for inverse); the floor is the previous tier's cap.
- OKX ``GET /api/v5/public/position-tiers`` (§3.2; https://www.okx.com/docs-v5/en/
  #public-data-rest-api-get-position-tiers). ``minSz``/``maxSz`` are contracts for perpetuals.
- Hyperliquid ``POST /info {"type": "meta"}`` (§4.2; hyperliquid-docs ``for-developers/api/
  info-endpoint/perpetuals.md`` and ``trading/margin-tiers.md``): ``marginTables`` and each
  universe asset's ``marginTableId``; "for IDs less than 50, there is a single tier with max
  leverage equal to the ID"; mmr = 1 / (2 · max leverage).
- Binance has no public bracket endpoint (``/fapi/v1/leverageBracket`` is signed): skipped.

The parsers are pure and raise only ``ValueError`` (naming the venue and what was wrong). Their rows
have the bundled tables' tier shape (floor, cap, mmr, max_leverage), so
``engine.instruments.build_tiers`` computes the maintenance amounts. Nothing here raises out of
``refresh_tiers`` or ``load_catalogue``: failures are reported, a corrupt cache file is ignored.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

import httpx
import platformdirs
import tomli_w

from adlwatch.engine.instruments import (
    VENUES,
    Catalogue,
    Instrument,
    build_tiers,
    default_catalogue,
    load_table,
)
from adlwatch.feeds.connection import Backoff
from adlwatch.feeds.rest import make_http_client, retry_after_s

APP_NAME = "adlwatch"
SOURCE_NOTE = "fetched from the venue's public endpoint"
BINANCE_SKIP = ("no public bracket endpoint (GET /fapi/v1/leverageBracket is signed); "
                "the bundled tables stay")

REST_URLS = {"bybit": "https://api.bybit.com", "okx": "https://www.okx.com",
             "hyperliquid": "https://api.hyperliquid.xyz"}
BYBIT_RISK_LIMIT_PATH = "/v5/market/risk-limit"
OKX_POSITION_TIERS_PATH = "/api/v5/public/position-tiers"
HYPERLIQUID_INFO_PATH = "/info"

# Hyperliquid's last tier has no cap; the bundled table uses the same placeholder.
HYPERLIQUID_LAST_CAP = 1e12
HYPERLIQUID_FLAT_TABLES_BELOW = 50
_MAX_PAGES = 20
# Bybit publishes rates as fractions (live) or percent (the docs example); initialMargin × maxLeverage
# is 1 for fractions and 100 for percent, on every tier.
_UNIT_TOLERANCE = 0.05

Row = dict[str, float]


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "tiers"


# ---------------------------------------------------------------------------- parsing helpers


def _load_json(body: Any, venue: str) -> Any:
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{venue}: body is not UTF-8 ({err.reason})") from None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except RecursionError:
            raise ValueError(f"{venue}: body nests too deeply") from None
        except ValueError as err:
            raise ValueError(f"{venue}: body is not JSON ({err})") from None
    return body  # already decoded


def _number(value: Any, venue: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{venue}: {what} is not a number: {value!r:.60}")
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{venue}: {what} is not a number: {value!r:.60}") from None
    if not math.isfinite(x):
        raise ValueError(f"{venue}: {what} is not finite: {value!r:.60}")
    return x


def _tidy(x: float) -> float:
    """Drop binary noise from a product such as 3 × 0.1 (12 significant digits are plenty)."""
    return float(f"{x:.12g}")


def _checked(venue: str, symbol: str, rows: list[Row]) -> list[Row]:
    """The rows, once ``build_tiers`` accepts them (floors chain, rates in (0, 1))."""
    if not rows:
        raise ValueError(f"{venue}: {symbol} has no tiers")
    for i, row in enumerate(rows):
        if not row["cap"] > row["floor"]:
            raise ValueError(f"{venue}: {symbol} tier {i + 1}: cap {row['cap']} not above floor {row['floor']}")
        if not row["max_leverage"] > 0:
            raise ValueError(f"{venue}: {symbol} tier {i + 1}: max leverage {row['max_leverage']} not positive")
    try:
        build_tiers(rows, f"{venue}:{symbol}")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{venue}: {err}") from None
    return rows


def _chain(venue: str, symbol: str, caps_rates: list[tuple[float, float, float]]) -> list[Row]:
    """Rows from (cap, mmr, max_leverage) sorted by cap: each floor is the previous cap."""
    rows: list[Row] = []
    floor = 0.0
    for cap, mmr, lever in caps_rates:
        rows.append({"floor": floor, "cap": cap, "mmr": mmr, "max_leverage": lever})
        floor = cap
    return _checked(venue, symbol, rows)


# ---------------------------------------------------------------------------- Bybit


def _bybit_page(body: Any) -> tuple[list[dict], str]:
    """The ``result.list`` items of one risk-limit page and its ``nextPageCursor``."""
    doc = _load_json(body, "bybit")
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
        cap = _number(item.get("riskLimitValue"), "bybit", f"{what} riskLimitValue")
        mmr = _number(item.get("maintenanceMargin"), "bybit", f"{what} maintenanceMargin")
        imr = _number(item.get("initialMargin"), "bybit", f"{what} initialMargin")
        lever = _number(item.get("maxLeverage"), "bybit", f"{what} maxLeverage")
        deduction = item.get("mmDeduction")
        published = None
        if deduction not in (None, ""):
            published = _number(deduction, "bybit", f"{what} mmDeduction")
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
    rows = _chain("bybit", symbol, [(cap, _tidy(mmr / scale), lever) for cap, mmr, _imr, lever, _ in parsed])
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


# ---------------------------------------------------------------------------- OKX


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
    doc = _load_json(body, "okx")
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
        tier = _number(item.get("tier"), "okx", f"{family} tier number")
        max_sz = _number(item.get("maxSz"), "okx", f"{what} maxSz")
        mmr = _number(item.get("mmr"), "okx", f"{what} mmr")
        lever = _number(item.get("maxLever"), "okx", f"{what} maxLever")
        grouped.setdefault(symbol, []).append((int(tier), max_sz, mmr, lever))
    out: dict[str, list[Row]] = {}
    for symbol, tiers in grouped.items():
        if symbol not in ct_val:
            raise ValueError(f"okx: no contract value given for {symbol}: cannot convert contracts")
        multiplier = _number(ct_val[symbol], "okx", f"{symbol} contract value")
        if multiplier <= 0:
            raise ValueError(f"okx: {symbol} contract value {multiplier:g} not positive")
        tiers.sort()
        numbers = [t[0] for t in tiers]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"okx: {symbol} repeats a tier number")
        out[symbol] = _chain("okx", symbol, [(_tidy(max_sz * multiplier), mmr, lever)
                                             for _n, max_sz, mmr, lever in tiers])
    return out


# ---------------------------------------------------------------------------- Hyperliquid


def _hyperliquid_table(table_id: int, tables: Mapping[int, Any], coin: str) -> list[Row]:
    if table_id < HYPERLIQUID_FLAT_TABLES_BELOW and table_id not in tables:
        bounds = [(0.0, float(table_id))]
    else:
        table = tables.get(table_id)
        if not isinstance(table, dict) or not isinstance(table.get("marginTiers"), list):
            raise ValueError(f"hyperliquid: {coin} uses margin table {table_id}, which meta does not list")
        bounds = []
        for i, tier in enumerate(table["marginTiers"]):
            if not isinstance(tier, dict):
                raise ValueError(f"hyperliquid: margin table {table_id} tier {i} is not an object")
            bounds.append((_number(tier.get("lowerBound"), "hyperliquid", f"table {table_id} tier {i} lowerBound"),
                           _number(tier.get("maxLeverage"), "hyperliquid", f"table {table_id} tier {i} maxLeverage")))
    if not bounds:
        raise ValueError(f"hyperliquid: margin table {table_id} has no tiers")
    if bounds[0][0] != 0.0:
        raise ValueError(f"hyperliquid: margin table {table_id} starts at {bounds[0][0]:g}, not 0")
    rows: list[Row] = []
    for i, (lower, lever) in enumerate(bounds):
        # maintenance margin is half the initial margin at max leverage (trading/margin-tiers.md)
        if lever <= 0.5:
            raise ValueError(f"hyperliquid: margin table {table_id} tier {i}: max leverage {lever:g} too low")
        cap = bounds[i + 1][0] if i + 1 < len(bounds) else HYPERLIQUID_LAST_CAP
        rows.append({"floor": lower, "cap": cap, "mmr": 1.0 / (2.0 * lever), "max_leverage": lever})
    return _checked("hyperliquid", coin, rows)


def parse_hyperliquid_meta(body: Any, coins: Sequence[str]) -> dict[str, list[Row]]:
    """``{coin: rows}`` for the wanted ``coins`` in one ``info {"type": "meta"}`` body.

    An asset without ``marginTableId`` (the docs example's universe has none) is held to its
    ``maxLeverage`` at any size. Coins the universe does not list are absent.
    """
    doc = _load_json(body, "hyperliquid")
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
        table_id = _number(entry[0], "hyperliquid", "margin table id")
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
            lever = _number(asset.get("maxLeverage"), "hyperliquid", f"{coin} maxLeverage")
            if lever <= 0.5:
                raise ValueError(f"hyperliquid: {coin} max leverage {lever:g} too low")
            out[coin] = _checked("hyperliquid", coin, [{"floor": 0.0, "cap": HYPERLIQUID_LAST_CAP,
                                                        "mmr": 1.0 / (2.0 * lever), "max_leverage": lever}])
            continue
        table_id = _number(asset.get("marginTableId"), "hyperliquid", f"{coin} marginTableId")
        if table_id != int(table_id) or table_id < 1:
            raise ValueError(f"hyperliquid: {coin} marginTableId {table_id:g} is not a positive integer")
        out[coin] = _hyperliquid_table(int(table_id), tables, coin)
    return out


# ---------------------------------------------------------------------------- the report


@dataclass
class CachedInstrument:
    symbol: str
    tiers: int
    as_of: str
    source: str
    in_bundle: bool = True


@dataclass
class VenueRefresh:
    venue: str
    state: str = "ok"  # ok | partial | failed | skipped
    path: Path | None = None
    instruments: list[CachedInstrument] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each: what failed and why
    detail: str = ""  # why a venue was skipped

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "skipped")


@dataclass
class TierRefreshReport:
    cache_dir: Path
    venues: dict[str, VenueRefresh] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.venues.values())

    def lines(self) -> list[str]:
        out: list[str] = []
        for venue in self.venues.values():
            if venue.state == "skipped":
                out.append(f"{venue.venue}: skipped: {venue.detail}")
                continue
            for inst in venue.instruments:
                note = "" if inst.in_bundle else " (not in the bundled catalogue: cached, not used)"
                plural = "s" if inst.tiers != 1 else ""
                out.append(f"{venue.venue} {inst.symbol}: {inst.tiers} tier{plural}, as of {inst.as_of}{note}")
            for error in venue.errors:
                out.append(f"{venue.venue}: failed: {error}")
            if venue.path is not None:
                out.append(f"{venue.venue}: cache {venue.path}")
            elif venue.state == "failed":
                out.append(f"{venue.venue}: nothing written; the bundled or previously cached tables stay")
        return out


# ---------------------------------------------------------------------------- fetching


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Fetcher:
    """Sequential requests to one venue, a small gap apart, retrying 429/418/5xx a few times."""

    def __init__(self, client: httpx.AsyncClient, *, retries: int, gap_s: float,
                 backoff_initial_s: float, rng: random.Random):
        self.client = client
        self.retries = retries
        self.gap_s = gap_s
        self.backoff = Backoff(backoff_initial_s, max(backoff_initial_s, 30.0), rng=rng)
        self._sent = False

    async def fetch(self, method: str, url: str, json_body: Any = None) -> str:
        """The body text; raises ``ValueError`` with a one-line reason when there is none."""
        self.backoff.reset()
        for attempt in range(self.retries + 1):
            if self._sent and self.gap_s > 0:
                await asyncio.sleep(self.gap_s)  # stay far below the venue's per-IP limits
            self._sent = True
            try:
                response = await self.client.request(method, url, json=json_body)
            except httpx.HTTPError as exc:
                reason = f"cannot reach {url} ({type(exc).__name__}: {exc})"
                retry_wait = None
            else:
                status = response.status_code
                if status < 400:
                    return response.text
                reason = f"{url} answered HTTP {status}"
                if status not in (418, 429) and status < 500:
                    raise ValueError(reason)
                retry_wait = retry_after_s(response)
            if attempt == self.retries:
                raise ValueError(reason)
            await asyncio.sleep(max(self.backoff.next_delay(), retry_wait or 0.0))
        raise AssertionError("unreachable")


def _url(base: str, path: str, params: Mapping[str, str] | None = None) -> str:
    url = base.rstrip("/") + path
    return url + ("?" + urlencode(params) if params else "")


async def _fetch_bybit(fetcher: _Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                       result: VenueRefresh) -> dict[str, tuple[list[Row], str, str]]:
    out: dict[str, tuple[list[Row], str, str]] = {}
    for symbol in symbols:
        inst = _bundled(catalogue, "bybit", symbol)
        inverse = inst.inverse if inst is not None else symbol.upper().endswith("USD")
        params = {"category": "inverse" if inverse else "linear", "symbol": symbol}
        source = _url(base, BYBIT_RISK_LIMIT_PATH, params)
        try:
            items: list[dict] = []
            cursor, seen = "", set()
            for _page in range(_MAX_PAGES):
                page_params = dict(params, cursor=cursor) if cursor else params
                text = await fetcher.fetch("GET", _url(base, BYBIT_RISK_LIMIT_PATH, page_params))
                page, cursor = _bybit_page(text)
                items.extend(page)
                if not cursor or cursor in seen:
                    break
                seen.add(cursor)
            rows = _bybit_rows(items, [symbol]).get(symbol)
            if rows is None:
                raise ValueError(f"bybit: {symbol} not in the risk-limit answer")
            out[symbol] = (rows, source, _now_iso())
        except ValueError as err:
            result.errors.append(f"{symbol}: {err}")
    return out


async def _fetch_okx(fetcher: _Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                     result: VenueRefresh) -> dict[str, tuple[list[Row], str, str]]:
    by_family: dict[str, str] = {}
    ct_val: dict[str, float] = {}
    for symbol in symbols:
        inst = _bundled(catalogue, "okx", symbol)
        if inst is None:
            result.errors.append(f"{symbol}: not in the bundled catalogue, so its contract value is unknown")
            continue
        if inst.inverse:
            ct_val[symbol] = 1.0  # bundled inverse tiers count contracts
        elif inst.venue_contract_size:
            ct_val[symbol] = float(inst.venue_contract_size)
        else:
            result.errors.append(f"{symbol}: the bundle has no contract value (ctVal) to convert contracts")
            continue
        by_family[okx_family(symbol)] = symbol
    out: dict[str, tuple[list[Row], str, str]] = {}
    for family, symbol in by_family.items():
        params = {"instType": "SWAP", "tdMode": "isolated", "instFamily": family}
        source = _url(base, OKX_POSITION_TIERS_PATH, params)
        try:
            text = await fetcher.fetch("GET", source)
            rows = parse_okx_position_tiers(text, {family: symbol}, ct_val).get(symbol)
            if rows is None:
                raise ValueError(f"okx: no tiers for instFamily {family} in the answer")
            out[symbol] = (rows, source, _now_iso())
        except ValueError as err:
            result.errors.append(f"{symbol}: {err}")
    return out


async def _fetch_hyperliquid(fetcher: _Fetcher, base: str, symbols: Sequence[str], catalogue: Catalogue,
                             result: VenueRefresh) -> dict[str, tuple[list[Row], str, str]]:
    source = _url(base, HYPERLIQUID_INFO_PATH)
    try:
        text = await fetcher.fetch("POST", source, {"type": "meta"})
        parsed = parse_hyperliquid_meta(text, symbols)
    except ValueError as err:
        result.errors.append(str(err))
        return {}
    as_of = _now_iso()
    for coin in symbols:
        if coin not in parsed:
            result.errors.append(f"{coin}: hyperliquid: not in the meta universe")
    return {coin: (rows, source, as_of) for coin, rows in parsed.items()}


_FETCHERS = {"bybit": _fetch_bybit, "okx": _fetch_okx, "hyperliquid": _fetch_hyperliquid}


def _bundled(catalogue: Catalogue, venue: str, symbol: str) -> Instrument | None:
    try:
        return catalogue.get(venue, symbol)
    except Exception:
        return None


# ---------------------------------------------------------------------------- writing the cache


_DEFAULT_BASIS = {"bybit": "notional", "okx": "size", "hyperliquid": "notional"}


def _instrument_row(venue: str, symbol: str, rows: list[Row], source: str, as_of: str,
                    inst: Instrument | None) -> dict[str, Any]:
    row: dict[str, Any] = {"symbol": symbol}
    if inst is not None:
        # The bundled specification travels along, so the file reads like a bundled table.
        row.update(kind=inst.kind, base=inst.base, quote=inst.quote, settle=inst.settle,
                   contract_size=inst.contract_size)
        if inst.venue_contract_size is not None:
            row["venue_contract_size"] = inst.venue_contract_size
        row.update(tick_size=inst.tick_size, tier_basis=inst.tier_basis, taker_fee=inst.taker_fee)
    else:
        row["tier_basis"] = _DEFAULT_BASIS.get(venue, "notional")
    row.update(source=source, as_of=as_of, verified=True, source_note=SOURCE_NOTE,
               tier=[{"floor": r["floor"], "cap": r["cap"], "mmr": r["mmr"], "max_leverage": r["max_leverage"]}
                     for r in rows])
    return row


def _read_cache_rows(path: Path) -> list[dict[str, Any]]:
    """The instrument rows already cached for a venue (none if the file is missing or unreadable)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    rows = data.get("instrument", [])
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("symbol"), str)] \
        if isinstance(rows, list) else []


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _venue_notes(venue: str) -> str:
    return {
        "bybit": "GET /v5/market/risk-limit per symbol (linear or inverse); riskLimitValue is each tier's "
                 "cap, floors are the previous cap; rates converted to fractions where the venue gave percent.",
        "okx": "GET /api/v5/public/position-tiers?instType=SWAP&tdMode=isolated per instrument family; "
               "minSz/maxSz contracts converted to base units with the bundled ctVal for linear swaps "
               "(inverse swaps stay in contracts); floors are the previous cap.",
        "hyperliquid": "POST /info {\"type\": \"meta\"}: marginTables and each asset's marginTableId "
                       "(ids below 50: one tier at that leverage); mmr = 1/(2 x max leverage); "
                       "last cap 1e12 stands for no cap.",
    }.get(venue, "")


def _write_venue(cache_dir: Path, venue: str, fetched: Mapping[str, tuple[list[Row], str, str]],
                 catalogue: Catalogue) -> Path:
    path = cache_dir / f"{venue}.toml"
    kept = [r for r in _read_cache_rows(path) if r["symbol"] not in fetched]
    fresh = [_instrument_row(venue, symbol, rows, source, as_of, _bundled(catalogue, venue, symbol))
             for symbol, (rows, source, as_of) in fetched.items()]
    doc = {"venue": {"name": venue, "fetched_at": max(a for _r, _s, a in fetched.values()),
                     "notes": _venue_notes(venue)},
           "instrument": sorted(kept + fresh, key=lambda r: r["symbol"])}
    header = ("# adlwatch tier cache, written by `adlwatch tiers --refresh` from the venue's public endpoint.\n"
              "# It overrides the bundled tables (engine/data/instruments) for the same symbols; safe to delete.\n")
    _write_atomic(path, header + tomli_w.dumps(doc))
    return path


async def _refresh_venue(venue: str, symbols: Sequence[str], cache_dir: Path, base: str, catalogue: Catalogue,
                         *, timeout: float, retries: int, gap_s: float, backoff_initial_s: float,
                         rng: random.Random) -> VenueRefresh:
    result = VenueRefresh(venue)
    if not symbols:
        return VenueRefresh(venue, state="failed", errors=["no symbols to refresh"])
    try:
        async with make_http_client(base, timeout) as client:
            fetcher = _Fetcher(client, retries=retries, gap_s=gap_s,
                               backoff_initial_s=backoff_initial_s, rng=rng)
            fetched = await _FETCHERS[venue](fetcher, base, symbols, catalogue, result)
        if fetched:
            result.path = _write_venue(cache_dir, venue, fetched, catalogue)
            for symbol, (rows, source, as_of) in sorted(fetched.items()):
                result.instruments.append(CachedInstrument(symbol, len(rows), as_of, source,
                                                           _bundled(catalogue, venue, symbol) is not None))
    except Exception as exc:  # a venue never takes the others (or the app) down with it
        result.errors.append(f"{type(exc).__name__}: {exc}")
    if not result.instruments:
        result.state = "failed"
    elif result.errors:
        result.state = "partial"
    return result


async def refresh_tiers(venues_symbols: Mapping[str, Sequence[str]], cache_path: str | os.PathLike | None = None,
                        *, rest_urls: Mapping[str, str] | None = None, timeout: float = 10,
                        retries: int = 2, request_gap_s: float = 0.2, backoff_initial_s: float = 1.0,
                        catalogue: Catalogue | None = None, rng: random.Random | None = None
                        ) -> TierRefreshReport:
    """Fetch each venue's public tier table for its symbols into ``cache_path/<venue>.toml``.

    Venues run side by side; one venue's requests go one after another, ``request_gap_s`` apart.
    429/418/5xx answers are retried ``retries`` times with jittered backoff (honouring Retry-After).
    A venue that fails is reported and leaves its cache file as it was; never raises.
    """
    cache_dir = Path(cache_path) if cache_path is not None else default_cache_dir()
    catalogue = catalogue or default_catalogue()
    rng = rng or random.Random()
    report = TierRefreshReport(cache_dir)
    jobs = {}
    for venue, symbols in venues_symbols.items():
        if venue == "binance":
            report.venues[venue] = VenueRefresh(venue, state="skipped", detail=BINANCE_SKIP)
            continue
        if venue not in _FETCHERS:
            report.venues[venue] = VenueRefresh(venue, state="failed", errors=[
                f"unknown venue; known: {', '.join(VENUES)}"])
            continue
        base = (rest_urls or {}).get(venue) or REST_URLS[venue]
        report.venues[venue] = VenueRefresh(venue)  # keeps the caller's order
        jobs[venue] = _refresh_venue(venue, list(dict.fromkeys(symbols)), cache_dir, base, catalogue,
                                     timeout=timeout, retries=retries, gap_s=request_gap_s,
                                     backoff_initial_s=backoff_initial_s, rng=rng)
    for venue, result in zip(jobs, await asyncio.gather(*jobs.values()), strict=True):
        report.venues[venue] = result
    return report


# ---------------------------------------------------------------------------- reading the cache


def load_catalogue(cache_dir: str | os.PathLike | None = None, *, warnings: list[str] | None = None,
                   bundled: Catalogue | None = None) -> Catalogue:
    """The bundled catalogue with every cached table overriding the bundled tiers of its symbol.

    An override keeps the bundled instrument's specification (kind, contract size, tick, tier
    basis…) and replaces its tiers, ``source``, ``as_of`` and ``verified``. A cached instrument the
    bundle lacks is added only when its row carries the full specification. Problems (a corrupt
    file, a bad row) are appended to ``warnings`` and that file or row is ignored: never raises.
    """
    notes = warnings if warnings is not None else []
    bundled = bundled or default_catalogue()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    overrides: dict[tuple[str, str], Instrument] = {}
    added: list[Instrument] = []
    try:
        files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    except OSError as err:
        notes.append(f"tier cache {folder}: cannot list ({err.strerror}); using the bundled tables")
        files = []
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            venue = data["venue"]["name"]
            rows = data.get("instrument", [])
            if venue not in VENUES or not isinstance(rows, list):
                raise ValueError(f"unknown venue {venue!r} or no instrument list")
        except Exception as err:  # corrupt, truncated, not TOML, wrong shape
            notes.append(f"tier cache {path}: ignored ({type(err).__name__}: {err}); using the bundled tables")
            continue
        for row in rows:
            try:
                inst = _cached_instrument(venue, row, bundled, data["venue"])
            except Exception as err:
                symbol = row.get("symbol", "?") if isinstance(row, dict) else "?"
                notes.append(f"tier cache {path}: {venue} {symbol} ignored ({err})")
                continue
            if inst is None:
                continue
            if (venue, inst.symbol) in overrides or any(a.symbol == inst.symbol and a.venue == venue for a in added):
                continue
            if _bundled(bundled, venue, inst.symbol) is not None:
                overrides[(venue, inst.symbol)] = inst
            else:
                added.append(inst)
    merged = [overrides.get((i.venue, i.symbol), i) for i in bundled]
    return Catalogue([*merged, *added])


_SPEC_KEYS = ("kind", "base", "quote", "settle", "contract_size", "tick_size", "tier_basis")


def _cached_instrument(venue: str, row: Any, bundled: Catalogue, venue_table: dict) -> Instrument | None:
    if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
        raise ValueError("row without a symbol")
    symbol = row["symbol"]
    tiers = build_tiers(row.get("tier", []), f"{venue}:{symbol}")
    if not tiers:
        raise ValueError("no tiers")
    inst = _bundled(bundled, venue, symbol)
    if inst is None:
        if not all(k in row for k in _SPEC_KEYS):
            return None  # tiers without a contract specification: nothing the engine can use
        return load_table(tomli_w.dumps({"venue": venue_table, "instrument": [row]}))[0]
    basis = row.get("tier_basis", inst.tier_basis)
    if basis != inst.tier_basis:
        raise ValueError(f"tier_basis {basis!r} differs from the bundled {inst.tier_basis!r}")
    if inst.venue_contract_size is not None and row.get("venue_contract_size", inst.venue_contract_size) \
            != inst.venue_contract_size:
        raise ValueError("cached with a different contract value than the bundle; refresh again")
    return replace(inst, tiers=tiers, source=str(row.get("source", "")), as_of=str(row.get("as_of", "")),
                   verified=bool(row.get("verified", False)))


# ---------------------------------------------------------------------------- CLI helpers


def describe(catalogue: Catalogue) -> list[str]:
    """One line per instrument: venue, symbol, tiers, as of, verified, source (``adlwatch tiers``)."""
    order = {v: i for i, v in enumerate(VENUES)}
    instruments = sorted(catalogue, key=lambda i: (order.get(i.venue, len(order)), i.venue, i.symbol))
    return [f"{i.venue:<12} {i.symbol:<16} {len(i.tiers):>3} tier{'s' if len(i.tiers) != 1 else ' '}  as of {i.as_of or '-':<20}  "
            f"{'verified' if i.verified else 'unverified':<10}  {i.source or '-'}"
            for i in instruments]


async def run_refresh(venues: list[str] | None, out: TextIO = sys.stdout, *,
                      cache_dir: str | os.PathLike | None = None, rest_urls: Mapping[str, str] | None = None,
                      timeout: float = 10, **options: Any) -> int:
    """``adlwatch tiers --refresh [VENUE…]``: refresh every bundled symbol of the venues (all four
    by default), print one line per instrument and per failure. Exit status: 0 when every venue
    asked for was refreshed (Binance is skipped, not failed), 1 when some venue failed, 2 for an
    unknown venue name."""
    names = list(venues) if venues else list(VENUES)
    unknown = [v for v in names if v not in VENUES]
    if unknown:
        print(f"adlwatch tiers: unknown venue {unknown[0]!r}; known: {', '.join(VENUES)}", file=out)
        return 2
    catalogue = default_catalogue()
    started = time.monotonic()
    report = await refresh_tiers({v: catalogue.symbols(v) for v in names}, cache_dir, rest_urls=rest_urls,
                                 timeout=timeout, catalogue=catalogue, **options)
    for line in report.lines():
        print(line, file=out)
    print(f"tier cache {report.cache_dir} ({time.monotonic() - started:.1f} s)", file=out)
    return 0 if report.ok else 1
