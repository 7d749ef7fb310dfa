"""Binance's contracts and brackets: every USDⓈ-M and COIN-M perpetual it lists.

Specifications come from the public contract lists (weight 1 each, UNCONFIRMED for COIN-M; far
below the 2,400-per-minute IP budget; a 429/418 is retried after its Retry-After):

- ``GET /fapi/v1/exchangeInfo`` (USDⓈ-M): per symbol ``contractType``, ``status``, ``baseAsset``,
  ``quoteAsset``, ``marginAsset`` and the ``PRICE_FILTER`` ``tickSize``.
  https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information
- ``GET /dapi/v1/exchangeInfo`` (COIN-M, its own host ``market.COINM_REST_URL``): the same plus
  ``contractSize`` (USD face value per contract) and the listing state in ``contractStatus``
  (UNCONFIRMED spelling from memory of the docs; ``status`` is read when it is absent).
  https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/Exchange-Information

Brackets are signed reads (USER_DATA), so they need a followed account's read-only key:

- ``GET /fapi/v1/leverageBracket``: ``[{symbol, brackets: [{bracket, initialLeverage, notionalCap,
  notionalFloor, maintMarginRatio, cum}]}]`` (one object, not a list, when ``symbol`` is sent:
  UNCONFIRMED, so both shapes are read).
- ``GET /dapi/v2/leverageBracket``: ``[{symbol, brackets: [{…, qtyCap, qtyFloor, …}]}]``, floors and
  caps in coin (the bundled COIN-M tables' basis). UNCONFIRMED: the v1 route keys its rows by
  ``pair``; a row with a ``pair`` and no ``symbol`` is read as ``<pair>_PERP``.

Without a key the bundled snapshot's brackets serve (``engine/data/instruments/binance*.{toml,json.gz}``),
so a contract listed since the snapshot has a specification but no tiers: it is left out, and
``errors`` says how many. The signed read goes through ``feeds/accounts/signed.send_read`` (a GET of a
listed read endpoint or nothing) and the key is never logged: error lines carry Binance's code and
message only.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from adlwatch.engine.instruments import Catalogue, Instrument, Status, build_tiers, default_catalogue
from adlwatch.feeds.accounts.signed import Read, redact, send_read
from adlwatch.feeds.keys import Credentials, MissingCredentials, load_credentials
from adlwatch.feeds.tier_rows import Fetcher, Row, TierSource, checked, load_json, now_iso, number, url
from adlwatch.feeds.transport import retry_after_s
from adlwatch.feeds.venues.binance.account import COINM_LEVERAGE_BRACKET, LEVERAGE_BRACKET, problem, sign
from adlwatch.feeds.venues.binance.market import coinm_base

VENUE = "binance"
SKIP = ("no public bracket endpoint (GET /fapi/v1/leverageBracket is signed); "
        "the bundled tables stay")
EXCHANGE_INFO = "/fapi/v1/exchangeInfo"
COINM_EXCHANGE_INFO = "/dapi/v1/exchangeInfo"
RECV_WINDOW_MS = 10_000
TAKER_FEE = 0.0005  # VIP0 USDⓈ-M taker (binance.toml); used when the bundle does not know the contract

Market = Literal["usdm", "coinm"]

# Binance's listing states (USDⓈ-M ``status``, COIN-M ``contractStatus``) → Instrument.status.
# PENDING_TRADING: listed, not yet open; PRE_SETTLE/SETTLING: being settled (a delisting in progress);
# CLOSE/DELIVERED: gone. DELIVERING/PRE_DELIVERING are quarterly states, read as settling.
STATUSES: dict[str, Status] = {
    "TRADING": "trading", "PENDING_TRADING": "pre_launch", "PRE_TRADING": "pre_launch",
    "PRE_SETTLE": "settling", "SETTLING": "settling", "PRE_DELIVERING": "settling", "DELIVERING": "settling",
    "CLOSE": "delisted", "DELIVERED": "delisted",
}


@dataclass(frozen=True)
class Spec:
    """One perpetual of an exchangeInfo answer."""

    symbol: str
    kind: Literal["linear", "inverse"]
    base: str
    quote: str
    settle: str
    contract_size: float
    tick_size: float  # 0.0: the answer gave no PRICE_FILTER
    status: Status


def _text(row: dict, name: str, where: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{VENUE}: {where}: {name} missing or not text")
    return value


def _perpetual(row: dict, symbol: str, market: Market) -> bool:
    kind = row.get("contractType")
    if isinstance(kind, str) and kind.endswith("PERPETUAL"):
        # PERPETUAL; UNCONFIRMED: TradFi perpetuals (AAPLUSDT, …) may carry a variant ending the same way.
        return True
    # A delisted perpetual may keep an empty contractType; a dated contract's symbol has "_YYMMDD".
    return kind == "" and (symbol.endswith("_PERP") if market == "coinm" else "_" not in symbol)


def parse_exchange_info(body: Any, market: Market, errors: list[str]) -> list[Spec]:
    """The perpetuals of an exchangeInfo answer; one line in ``errors`` per row it cannot read."""
    doc = load_json(body, VENUE)
    rows = doc.get("symbols") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f"{VENUE}: exchangeInfo has no symbols list")
    out: list[Spec] = []
    for i, row in enumerate(rows):
        where = f"exchangeInfo symbols[{i}]"
        try:
            if not isinstance(row, dict):
                raise ValueError(f"{VENUE}: {where} is not an object")
            symbol = _text(row, "symbol", where)
            if not _perpetual(row, symbol, market):
                continue
            where = f"exchangeInfo {symbol}"
            state = row.get("contractStatus", row.get("status")) if market == "coinm" else row.get("status")
            if state not in STATUSES:
                raise ValueError(f"{VENUE}: {where}: unknown status {state!r:.40}")
            tick = 0.0
            for f in row.get("filters") or ():
                if isinstance(f, dict) and f.get("filterType") == "PRICE_FILTER":
                    tick = number(f.get("tickSize"), VENUE, f"{where} tickSize")
            size = number(row.get("contractSize"), VENUE, f"{where} contractSize") if market == "coinm" else 1.0
            if not size > 0:
                raise ValueError(f"{VENUE}: {where}: contractSize {size} not positive")
            out.append(Spec(symbol=symbol, kind="inverse" if market == "coinm" else "linear",
                            base=_text(row, "baseAsset", where), quote=_text(row, "quoteAsset", where),
                            settle=_text(row, "marginAsset", where), contract_size=size, tick_size=tick,
                            status=STATUSES[state]))
        except ValueError as err:
            errors.append(str(err))
    return out


def parse_brackets(body: Any, market: Market, errors: list[str]) -> dict[str, list[Row]]:
    """``{symbol: rows}`` of a leverageBracket answer (floor, cap, mmr, max_leverage); a symbol whose
    brackets do not chain is left out with one line in ``errors``, and so is a ``cum`` that differs
    from the recurrence (the engine computes it by the recurrence; a difference means the rows are
    not what they seem)."""
    doc = load_json(body, VENUE)
    items = [doc] if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise ValueError(f"{VENUE}: leverageBracket is not a list")
    floor_key, cap_key = ("qtyFloor", "qtyCap") if market == "coinm" else ("notionalFloor", "notionalCap")
    out: dict[str, list[Row]] = {}
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError(f"{VENUE}: leverageBracket[{i}] is not an object")
            symbol = item.get("symbol")
            if not isinstance(symbol, str) and isinstance(item.get("pair"), str):
                symbol = item["pair"] + "_PERP"
            if not isinstance(symbol, str) or not isinstance(item.get("brackets"), list):
                raise ValueError(f"{VENUE}: leverageBracket[{i}] has no symbol or brackets")
            raw = []
            for j, b in enumerate(item["brackets"]):
                if not isinstance(b, dict):
                    raise ValueError(f"{VENUE}: {symbol} bracket {j + 1} is not an object")
                what = f"{symbol} bracket {j + 1}"
                raw.append((number(b.get(floor_key), VENUE, f"{what} {floor_key}"),
                            number(b.get(cap_key), VENUE, f"{what} {cap_key}"),
                            number(b.get("maintMarginRatio"), VENUE, f"{what} maintMarginRatio"),
                            number(b.get("initialLeverage"), VENUE, f"{what} initialLeverage"),
                            number(b.get("cum", 0.0), VENUE, f"{what} cum")))
            raw.sort()
            rows = checked(VENUE, symbol, [{"floor": f, "cap": c, "mmr": m, "max_leverage": lev}
                                           for f, c, m, lev, _cum in raw])
            tiers = build_tiers(rows, f"{VENUE}:{symbol}")
            for n, (tier, (*_, cum)) in enumerate(zip(tiers, raw, strict=True), 1):
                if not math.isclose(tier.maint_amount, cum, rel_tol=1e-9, abs_tol=1e-6):
                    raise ValueError(f"{VENUE}: {symbol} bracket {n}: cum {cum:g} is not the recurrence's "
                                     f"{tier.maint_amount:g}")
            out[symbol] = rows
        except ValueError as err:
            errors.append(str(err))
    return out


async def signed_get(fetcher: Fetcher, base_url: str, path: str, credentials: Credentials,
                     params: tuple[tuple[str, str], ...] = ()) -> str:
    """A signed GET of one of the key's read endpoints, signed afresh and retried like
    ``Fetcher.fetch`` (429/418/5xx, after Retry-After); ``ValueError`` with a one-line reason."""
    fetcher.backoff.reset()
    where = base_url.rstrip("/") + path
    for attempt in range(fetcher.retries + 1):
        if fetcher.gap_s > 0:
            await asyncio.sleep(fetcher.gap_s)
        query, headers = sign(credentials, Read(path, params), time.time(), RECV_WINDOW_MS)
        wait = None
        try:
            response = await send_read(fetcher.client, VENUE, "GET", base_url, path, query, headers)
        except httpx.HTTPError as exc:
            reason = f"cannot reach {where} ({type(exc).__name__})"
        else:
            status = response.status_code
            if status < 400:
                return response.text
            found = problem(status, response.text)
            detail = f": {redact(found.detail, credentials)}" if found is not None else ""
            reason = f"{where} answered HTTP {status}{detail}"
            if status not in (418, 429) and status < 500:
                raise ValueError(reason)
            wait = retry_after_s(response)
        if attempt == fetcher.retries:
            raise ValueError(reason)
        await asyncio.sleep(max(fetcher.backoff.next_delay(), wait or 0.0))
    raise AssertionError("unreachable")


def _instrument(spec: Spec, live: dict[str, list[Row]], live_source: str, fetched_at: str, spec_source: str,
                bundle: Catalogue) -> Instrument | None:
    known = bundle.find(VENUE, spec.symbol)
    fee = known.taker_fee if known is not None else TAKER_FEE
    common = dict(venue=VENUE, symbol=spec.symbol, kind=spec.kind, base=spec.base, quote=spec.quote,
                  settle=spec.settle, contract_size=spec.contract_size, tick_size=spec.tick_size,
                  tier_basis="notional", taker_fee=fee, status=spec.status)
    rows = live.get(spec.symbol)
    if rows:
        return Instrument(**common, tiers=build_tiers(rows, f"{VENUE}:{spec.symbol}"), source=live_source,
                          as_of=fetched_at, verified=True)
    if known is not None and known.tiers:
        return Instrument(**common, tiers=known.tiers, source=f"{known.source}; specification: {spec_source}",
                          as_of=known.as_of, verified=known.verified)
    return None


async def _market(fetcher: Fetcher, base: str, market: Market, credentials: Credentials | None,
                  errors: list[str], bundle: Catalogue, symbol: str | None = None) -> list[Instrument]:
    info_path, bracket_path = ((COINM_EXCHANGE_INFO, COINM_LEVERAGE_BRACKET) if market == "coinm"
                               else (EXCHANGE_INFO, LEVERAGE_BRACKET))
    spec_source = url(base, info_path)
    specs = parse_exchange_info(await fetcher.fetch("GET", spec_source), market, errors)
    if symbol is not None:
        specs = [s for s in specs if s.symbol == symbol]
        if not specs:
            return []
    fetched_at = now_iso()
    live: dict[str, list[Row]] = {}
    if credentials is not None:
        params = (("symbol", symbol),) if symbol is not None else ()
        try:
            live = parse_brackets(await signed_get(fetcher, base, bracket_path, credentials, params), market, errors)
        except ValueError as err:
            errors.append(f"{err}; the bundled brackets serve")
    out: list[Instrument] = []
    missing: list[str] = []
    for spec in specs:
        inst = _instrument(spec, live, url(base, bracket_path), fetched_at, spec_source, bundle)
        if inst is None:
            missing.append(spec.symbol)
        else:
            out.append(inst)
    if missing:
        how = "nor the key's brackets" if credentials is not None else "(a followed account's read-only key reads them)"
        errors.append(f"{VENUE}: {len(missing)} {market} contracts listed by {info_path} have no brackets in the "
                      f"bundled snapshot {how}: left out ({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''})")
    return out


async def universe(fetcher: Fetcher, base_url: str, errors: list[str], *, credentials: Credentials | None = None,
                   bundle: Catalogue | None = None) -> list[Instrument]:
    """Every USDⓈ-M and COIN-M perpetual Binance lists, with brackets (the key's, else the bundle's)."""
    bundle = bundle if bundle is not None else default_catalogue()
    out: list[Instrument] = []
    for market, base in (("usdm", base_url), ("coinm", coinm_base(base_url))):
        try:
            out.extend(await _market(fetcher, base, market, credentials, errors, bundle))
        except ValueError as err:
            errors.append(f"{VENUE} {market}: {err}")
    return out


async def find_one(fetcher: Fetcher, base_url: str, symbol: str, errors: list[str], *,
                   credentials: Credentials | None = None, bundle: Catalogue | None = None) -> Instrument | None:
    """One contract (``BTCUSDT``, ``BTCUSD_PERP``), or None when Binance does not list it as a perpetual."""
    bundle = bundle if bundle is not None else default_catalogue()
    market: Market = "coinm" if symbol.endswith("_PERP") else "usdm"
    base = coinm_base(base_url) if market == "coinm" else base_url
    try:
        found = await _market(fetcher, base, market, credentials, errors, bundle, symbol)
    except ValueError as err:
        errors.append(f"{VENUE} {market}: {err}")
        return None
    return found[0] if found else None


def followed_key() -> Credentials | None:
    """The read-only key of the ``default`` label (``ADLWATCH_BINANCE_API_KEY``/``_SECRET`` or the
    keyring), or None; ``fetch_universe_with`` takes another followed account's key."""
    try:
        return load_credentials(VENUE, "default")
    except (MissingCredentials, ValueError):
        return None


def fetch_universe_with(credentials: Credentials | None) -> Callable[[Fetcher, str, list[str]], Awaitable[list[Instrument]]]:
    """``TierSource.fetch_universe`` reading brackets with this key (None: the bundled brackets)."""
    async def fetch(fetcher: Fetcher, base_url: str, errors: list[str]) -> list[Instrument]:
        return await universe(fetcher, base_url, errors, credentials=credentials)
    return fetch


def lookup_with(credentials: Credentials | None) -> Callable[[Fetcher, str, str, list[str]], Awaitable[Instrument | None]]:
    async def lookup_one(fetcher: Fetcher, base_url: str, symbol: str, errors: list[str]) -> Instrument | None:
        return await find_one(fetcher, base_url, symbol, errors, credentials=credentials)
    return lookup_one


async def fetch_universe(fetcher: Fetcher, base_url: str, errors: list[str]) -> list[Instrument]:
    return await universe(fetcher, base_url, errors, credentials=followed_key())


async def lookup(fetcher: Fetcher, base_url: str, symbol: str, errors: list[str]) -> Instrument | None:
    return await find_one(fetcher, base_url, symbol, errors, credentials=followed_key())


NOTES = ("Binance: specifications from GET /fapi/v1/exchangeInfo and /dapi/v1/exchangeInfo (public); brackets "
         "from the signed GET /fapi/v1/leverageBracket and /dapi/v2/leverageBracket with a followed account's "
         "read-only key (verified), else the bundled snapshot's (its as_of and source kept).")

SOURCE = TierSource(skip=SKIP, fetch_universe=fetch_universe, lookup=lookup, notes=NOTES)

__all__: Sequence[str] = ("SOURCE", "SKIP", "Spec", "fetch_universe", "fetch_universe_with", "find_one",
                          "followed_key", "lookup", "lookup_with", "parse_brackets", "parse_exchange_info",
                          "signed_get", "universe")
