"""Binance USDⓈ-M futures: every wire detail of the public market feed.

Sources (see research/exchanges.md §0.1, §1.4–1.6):
- Mark price stream ``<symbol>@markPrice@1s`` and ``!markPrice@arr@1s``:
  https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream
  and .../Mark-Price-Stream-for-All-market
- Liquidation stream ``<symbol>@forceOrder`` (a market stream too; at most the latest liquidation of
  a symbol per 1000 ms: a sample, not the total):
  .../websocket-market-streams/Liquidation-Order-Streams
- Routed base URLs (``/market`` for mark price; legacy unrouted URLs retired 2026-04-23 and silently
  deliver nothing): .../websocket-market-streams/Important-WebSocket-Change-Notice
- Connection rules (server ping every 3 min, 10 incoming messages/s, 24 h lifetime, stream cap):
  https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
- REST: .../market-data/rest-api/Open-Interest, .../Insurance-Fund-Balance, .../Mark-Price
  (``/fapi/v1/premiumIndex``), all weight 1 with ``symbol``; .../market-data/rest-api/ADL-Risk
  (``/fapi/v1/symbolAdlRisk``, public, weight 1, every symbol without ``symbol``, rated every 30 min;
  USDⓈ-M only: COIN-M has no such endpoint).
- COIN-M public REST, on its own host (``dapi``, ``RestPoll.host`` "coinm", resolved by ``coinm_base``):
  ``GET /dapi/v1/premiumIndex`` (mark, index, funding; weight 10; a list even for one ``symbol``;
  delivery contracts carry ``lastFundingRate`` "" and ``nextFundingTime`` 0):
  https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/Index-Price-and-Mark-Price
  ``GET /dapi/v1/openInterest`` (weight 1, ``symbol`` required; ``openInterest`` in contracts, with
  ``pair`` and ``contractType``):
  https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Open-Interest
  COIN-M has no public insurance-balance endpoint (Insurance-Fund-Balance is a USDⓈ-M page with no
  dapi twin) and no symbolAdlRisk: neither is polled for a COIN-M contract, so its fund/OI stays
  unknown rather than borrowing the USDⓈ-M pools.

The mark frame is the throughput target, so the common shapes (combined ``{"stream","data"}`` frame
and the bare payload) are decoded straight into typed msgspec Structs; anything else falls back to a
careful generic path that validates field by field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from sys import intern
from typing import Any

import msgspec

from adlwatch.engine.events import (
    AdlRisk,
    Event,
    FeedStatus,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    Liquidation,
    MarkPrice,
    OpenInterest,
)
from adlwatch.feeds.venue import AdapterBase, Heartbeat, RestPoll, chunk_symbols
from adlwatch.feeds.wire import Problems, data_kinds, error_status, without
from adlwatch.feeds.wire import ms as _ms
from adlwatch.feeds.wire import number as _number
from adlwatch.feeds.wire import price as _price
from adlwatch.feeds.wire import snippet as _snippet

VENUE = "binance"
WS_URL = "wss://fstream.binance.com"
# Mark price is a *market* stream: it must be opened on the /market route (Important-WebSocket-Change-Notice).
MARKET_ROUTE = "/market/stream"
REST_URL = "https://fapi.binance.com"
COINM_REST_URL = "https://dapi.binance.com"  # COIN-M (dapi): its contract list and brackets
# COIN-M's market streams (the same mark and forceOrder streams, on their own host); combined streams
# on ``/stream``: https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
COINM_WS_URL = "wss://dstream.binance.com"
COINM_ROUTE = "/stream"

MARK_STREAM = "{symbol}@markPrice@1s"  # symbol in lower case; 1000 ms cadence
ALL_MARKS_STREAM = "!markPrice@arr@1s"  # used when no symbol is named
LIQUIDATION_STREAM = "{symbol}@forceOrder"  # beside each mark stream: the contract's liquidations
STREAMS_PER_SYMBOL = 2  # mark and liquidations
MAX_STREAMS_PER_CONNECTION = 200  # the venue allows 1024; we stay well under (as nautilus does)
MAX_MESSAGES_PER_SECOND = 10  # incoming messages per connection, SUBSCRIBE included; above it: disconnect
MAX_CONNECTION_AGE_S = 24 * 3600  # the server drops every connection at 24 h

OPEN_INTEREST_PATH = "/fapi/v1/openInterest"
INSURANCE_PATH = "/fapi/v1/insuranceBalance"
MARK_PRICE_PATH = "/fapi/v1/premiumIndex"
ADL_RISK_PATH = "/fapi/v1/symbolAdlRisk"
COINM_HOST = "coinm"  # RestPoll.host of the dapi polls (account.py's Read.host of the same name)
COINM_OPEN_INTEREST_PATH = "/dapi/v1/openInterest"
COINM_MARK_PRICE_PATH = "/dapi/v1/premiumIndex"
# A COIN-M contract's USD face value when the bundled catalogue does not list it: Binance's BTCUSD
# contracts are 100 USD, every other coin's 10 USD (the catalogue's contract_size says the same).
COINM_BTC_FACE_USD, COINM_FACE_USD = 100.0, 10.0
OPEN_INTEREST_INTERVAL_S = 10.0
INSURANCE_INTERVAL_S = 300.0  # a "balance snapshot", apparently daily: no reason to poll often
MARK_PRICE_INTERVAL_S = 60.0  # the socket carries the mark; REST is the fallback and `check`'s source
# A pool member's OI only moves a ratio of a pool whose balance updates slowly: once a minute.
POOL_MEMBER_OI_INTERVAL_S = 60.0
ADL_RISK_INTERVAL_S = 300.0  # Binance rates every 30 min; one request covers every symbol
ADL_RATINGS = ("low", "medium", "high")

_INF = math.inf


def _error(detail: str, recv_ns: int, symbol: str = "") -> FeedStatus:
    return error_status(VENUE, detail, recv_ns, symbol)


def coinm_base(base_url: str) -> str:
    """The COIN-M host for this USDⓈ-M base: Binance's own ``dapi`` host, or the same base when it is
    not Binance's (the loopback emulator serves both under one base)."""
    return COINM_REST_URL if base_url.rstrip("/") == REST_URL else base_url


def is_coin_m(symbol: str) -> bool:
    """A COIN-M contract (``BTCUSD_PERP``, ``BTCUSD_261225``: quantities in contracts), not USDⓈ-M
    (``BTCUSDT``, the quarterly ``BTCUSDT_261225``: quantities in coin)."""
    head, sep, _tail = symbol.partition("_")
    return bool(sep) and head.endswith("USD")


@cache
def coinm_face_usd(symbol: str) -> float:
    """USD face value of one COIN-M contract: the bundled catalogue's contract size, else Binance's
    rule (100 USD for BTC, 10 for every other coin)."""
    from adlwatch.engine.instruments import default_catalogue

    listed = default_catalogue().find(VENUE, symbol)
    if listed is not None and listed.inverse and listed.contract_size > 0:
        return float(listed.contract_size)
    return COINM_BTC_FACE_USD if symbol.partition("_")[0] == "BTCUSD" else COINM_FACE_USD


# --- small validated conversions (bools are not numbers on the wire) ---------------------------------

# --- hot path: typed decoding of the mark frame -------------------------------------------------------

class _Mark(msgspec.Struct, gc=False):
    """``markPriceUpdate`` payload. Lax decoding turns the numeric strings into floats."""

    e: str
    E: int  # event time, ms
    s: str
    p: float  # mark price
    i: float  # index price
    r: float  # funding rate
    T: int  # next funding time, ms


class _Combined(msgspec.Struct, gc=False):
    stream: str
    data: _Mark | list[_Mark]


class _MarkLoose(msgspec.Struct, gc=False):
    """The same payload with index and funding kept as text: COIN-M delivery frames and recordings
    carry them empty ("")."""

    e: str
    E: int
    s: str
    p: float
    i: str = ""
    r: str = ""
    T: int = 0


_loose_decoder = msgspec.json.Decoder(_MarkLoose | list[_MarkLoose], strict=False)
_combined_decoder = msgspec.json.Decoder(_Combined, strict=False)
_bare_decoder = msgspec.json.Decoder(_Mark | list[_Mark], strict=False)
_any_decoder = msgspec.json.Decoder()


def _fast_events(marks: list[_Mark], recv_ns: int, index: bool = True, funding: bool = True) -> list[Event] | None:
    """Events for already-typed payloads, or None when any value needs the careful path.

    ``index`` / ``funding`` False: those events are not built (every value is still checked)."""
    out: list[Event] = []
    append = out.append
    for m in marks:
        p, i, r = m.p, m.i, m.r
        if not (m.e == "markPriceUpdate" and 0.0 < p < _INF and 0.0 < i < _INF and -_INF < r < _INF
                and m.E > 0 and m.T > 0 and m.s):
            return None
        s, ts = intern(m.s), m.E  # one string per contract, not per frame: replays hold millions
        append(MarkPrice(venue=VENUE, symbol=s, ts=ts, recv_ns=recv_ns, price=p))
        if index:
            append(IndexPrice(venue=VENUE, symbol=s, ts=ts, recv_ns=recv_ns, price=i))
        if funding:
            append(FundingRate(venue=VENUE, symbol=s, ts=ts, recv_ns=recv_ns, rate=r, next_funding_ts=m.T))
    return out


def _loose_events(marks: list[_MarkLoose], recv_ns: int) -> list[Event] | None:
    """Events for payloads whose index or funding text may be empty; None when anything is off."""
    out: list[Event] = []
    for m in marks:
        p = m.p
        if not (m.e == "markPriceUpdate" and 0.0 < p < _INF and m.E > 0 and m.s):
            return None
        out.append(MarkPrice(venue=VENUE, symbol=m.s, ts=m.E, recv_ns=recv_ns, price=p))
        if m.i:
            index = _price(m.i)
            if index is None:
                return None
            out.append(IndexPrice(venue=VENUE, symbol=m.s, ts=m.E, recv_ns=recv_ns, price=index))
        if m.r:
            rate = _number(m.r)
            if rate is None:
                return None
            out.append(FundingRate(venue=VENUE, symbol=m.s, ts=m.E, recv_ns=recv_ns, rate=rate,
                                   next_funding_ts=m.T if m.T > 0 else None))
    return out


# --- careful path ---------------------------------------------------------------------------------------

def _mark_events(item: Any, recv_ns: int, problems: Problems) -> list[Event]:
    """Events from one generic ``markPriceUpdate`` dict; problems are appended, never raised."""
    if not isinstance(item, dict):
        problems.add(f"mark payload is {type(item).__name__}, not an object")
        return []
    symbol = item.get("s")
    if not isinstance(symbol, str) or not symbol:
        problems.add("mark payload without symbol 's'")
        return []
    if item.get("e") != "markPriceUpdate":
        problems.add(f"{symbol}: unexpected event type {item.get('e')!r}", symbol)
        return []
    ts = _ms(item.get("E"))
    out: list[Event] = []
    mark = _price(item.get("p"))
    if mark is None:
        problems.add(f"{symbol}: bad mark price {item.get('p')!r}", symbol)
    else:
        out.append(MarkPrice(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, price=mark))
    raw_index = item.get("i")
    index = _price(raw_index)
    if index is not None:
        out.append(IndexPrice(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, price=index))
    elif raw_index not in (None, ""):
        problems.add(f"{symbol}: bad index price {raw_index!r}", symbol)
    raw_rate = item.get("r")
    rate = _number(raw_rate)
    if rate is not None:
        out.append(FundingRate(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, rate=rate,
                               next_funding_ts=_ms(item.get("T"))))
    elif raw_rate not in (None, ""):  # delivery contracts carry an empty rate: not an error
        problems.add(f"{symbol}: bad funding rate {raw_rate!r}", symbol)
    return out


def _liquidation_event(item: dict[str, Any], recv_ns: int, problems: Problems) -> Event | None:
    """One ``forceOrder`` payload (Liquidation-Order-Streams page):
    ``{"e":"forceOrder","E":ms,"o":{"s","S","o","f","q","p","ap","X","l","z","T"}}``.

    ``S`` is the side of the forced ORDER: SELL closes a long (a long was liquidated), BUY a short.
    Size: the filled quantity ``z`` when positive, else the order quantity ``q`` (base units on
    USDⓈ-M); price: the average fill ``ap`` when positive, else the order price ``p``. USDT/USDC
    are taken as USD. COIN-M orders (``BTCUSD_PERP``: quantity in contracts) are not this feed's:
    no event (USDⓈ-M quarterlies, ``BTCUSDT_261225``, are)."""
    order = item.get("o")
    if not isinstance(order, dict):
        problems.add("forceOrder payload without order 'o'")
        return None
    symbol = order.get("s")
    if not isinstance(symbol, str) or not symbol:
        problems.add("forceOrder without symbol 's'")
        return None
    if is_coin_m(symbol):  # not parsed: its quantity is in contracts
        return None
    raw_side = order.get("S")
    if raw_side not in ("SELL", "BUY"):
        problems.add(f"{symbol}: bad forceOrder side {raw_side!r}", symbol)
        return None
    price = _price(order.get("ap")) or _price(order.get("p"))
    if price is None:
        problems.add(f"{symbol}: bad forceOrder price {order.get('ap')!r}/{order.get('p')!r}", symbol)
        return None
    size = _price(order.get("z")) or _price(order.get("q"))
    if size is None:
        problems.add(f"{symbol}: bad forceOrder quantity {order.get('z')!r}/{order.get('q')!r}", symbol)
        return None
    notional = price * size
    if not notional < _INF:
        problems.add(f"{symbol}: forceOrder notional overflows", symbol)
        return None
    return Liquidation(venue=VENUE, symbol=symbol, ts=_ms(order.get("T")) or _ms(item.get("E")), recv_ns=recv_ns,
                       side="long" if raw_side == "SELL" else "short", price=price, size=size,
                       notional_usd=notional)


def _careful(frame: str | bytes, recv_ns: int) -> list[Event]:
    try:
        doc = _any_decoder.decode(frame)
    except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
        return [_error(f"not JSON: {_snippet(frame)}", recv_ns)]
    if isinstance(doc, dict) and "data" in doc and "stream" in doc:
        payload = doc["data"]
    elif isinstance(doc, dict) and "result" in doc and "id" in doc:
        return []  # reply to SUBSCRIBE / UNSUBSCRIBE: {"result": null, "id": 1}
    elif isinstance(doc, dict) and "code" in doc and "msg" in doc:
        return [_error(f"{doc.get('code')}: {doc.get('msg')}", recv_ns)]
    else:
        payload = doc
    items = payload if isinstance(payload, list) else [payload]
    problems = Problems(VENUE)
    out: list[Event] = []
    for item in items:
        if isinstance(item, dict) and item.get("e") == "forceOrder":
            event = _liquidation_event(item, recv_ns, problems)
            if event is not None:
                out.append(event)
            continue
        out.extend(_mark_events(item, recv_ns, problems))
    out.extend(problems.status(recv_ns))
    return out


class BinanceParser:
    """Stateless: every mark frame is complete. ``skip``: event kinds not to build (see ``FrameParser``)."""

    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        self.skip = skip = data_kinds(skip)
        self._index = "index_price" not in skip
        self._funding = "funding_rate" not in skip
        self._lean = "mark_price" in skip  # the fast path always builds marks

    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        try:
            try:
                combined = _combined_decoder.decode(frame)
            except msgspec.DecodeError:
                pass
            else:
                data = combined.data
                fast = _fast_events(data if isinstance(data, list) else [data], recv_ns, self._index, self._funding)
                if fast is None:
                    return self._careful(frame, recv_ns)
                return without(fast, self.skip) if self._lean else fast
            try:
                bare = _bare_decoder.decode(frame)
            except msgspec.DecodeError:
                try:
                    loose = _loose_decoder.decode(frame)
                except msgspec.DecodeError:
                    return self._careful(frame, recv_ns)
                fast = _loose_events(loose if isinstance(loose, list) else [loose], recv_ns)
                return without(fast, self.skip) if fast is not None else self._careful(frame, recv_ns)
            fast = _fast_events(bare if isinstance(bare, list) else [bare], recv_ns, self._index, self._funding)
            if fast is None:
                return self._careful(frame, recv_ns)
            return without(fast, self.skip) if self._lean else fast
        except Exception as exc:  # noqa: BLE001 - a parser must never stop the stream
            return [_error(f"parser failure {type(exc).__name__}: {_snippet(frame)}", recv_ns)]

    def _careful(self, frame: str | bytes, recv_ns: int) -> list[Event]:
        return without(_careful(frame, recv_ns), self.skip)


# --- REST bodies ----------------------------------------------------------------------------------------

def _rest_open_interest(doc: Any, recv_ns: int) -> list[Event]:
    # {"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}: base units (Open-Interest page)
    if not isinstance(doc, dict) or not isinstance(doc.get("symbol"), str) or not doc["symbol"]:
        return [_error(f"open interest body of unexpected shape: {_snippet(doc)}", recv_ns)]
    symbol = doc["symbol"]
    oi = _number(doc.get("openInterest"))
    if oi is None or oi < 0:
        return [_error(f"{symbol}: bad open interest {doc.get('openInterest')!r}", recv_ns, symbol)]
    return [OpenInterest(venue=VENUE, symbol=symbol, ts=_ms(doc.get("time")), recv_ns=recv_ns,
                         open_interest=oi, open_interest_usd=None)]


# The last COIN-M mark each contract's dapi premiumIndex answer gave: a COIN-M open interest comes in
# contracts (USD face value), and the engine wants it in coin too (its ADL population is drawn in
# coin): coin = contracts × face ÷ mark. Fed by REST answers only (the mark poll runs beside the
# open-interest poll), never by the socket's hot path.
_COINM_MARKS: dict[str, float] = {}


def _rest_coinm_open_interest(doc: Any, recv_ns: int) -> list[Event]:
    """``{"symbol","pair","openInterest","contractType","time"}`` (COIN-M Open-Interest page), the open
    interest in contracts → ``OpenInterest`` with ``open_interest_usd`` = contracts × face value (exact)
    and ``open_interest`` in coin at the contract's last REST mark; nothing until a mark is known."""
    if not isinstance(doc, dict) or not isinstance(doc.get("symbol"), str) or not doc["symbol"]:
        return [_error(f"COIN-M open interest body of unexpected shape: {_snippet(doc)}", recv_ns)]
    symbol = doc["symbol"]
    contracts = _number(doc.get("openInterest"))
    if contracts is None or contracts < 0:
        return [_error(f"{symbol}: bad open interest {doc.get('openInterest')!r}", recv_ns, symbol)]
    usd = contracts * coinm_face_usd(symbol)
    if not usd < _INF:
        return [_error(f"{symbol}: open interest overflows", recv_ns, symbol)]
    mark = _COINM_MARKS.get(symbol)
    if mark is None:
        return []
    return [OpenInterest(venue=VENUE, symbol=symbol, ts=_ms(doc.get("time")), recv_ns=recv_ns,
                         open_interest=usd / mark, open_interest_usd=usd)]


def _remember_coinm_marks(events: list[Event]) -> list[Event]:
    for event in events:
        if type(event) is MarkPrice:
            _COINM_MARKS[event.symbol] = event.price
    return events


# A shared pool's members the portfolio does not hold (issue: pool fund/OI). ``/fapi/v1/openInterest``
# answers base units only, and a member nobody holds has no mark on the socket: each member's
# premiumIndex is polled beside it, and whichever answer comes second gives the member's OI in USD.
# Neither answer makes a mark event (a member not held is no contract row); fed by REST only.
_POOL_MARKS: dict[str, float] = {}
_POOL_OPEN_INTEREST: dict[str, tuple[float, int | None]] = {}


def _pool_member_open_interest(symbol: str, recv_ns: int) -> list[Event]:
    mark, oi = _POOL_MARKS.get(symbol), _POOL_OPEN_INTEREST.get(symbol)
    if mark is None or oi is None:
        return []
    return [OpenInterest(venue=VENUE, symbol=symbol, ts=oi[1], recv_ns=recv_ns, open_interest=oi[0],
                         open_interest_usd=oi[0] * mark)]


def _rest_pool_member(poll_path: str, doc: Any, recv_ns: int, symbols: list[str] | None) -> list[Event]:
    """A pool member's openInterest or premiumIndex answer: remembered, and once both are known the
    member's ``OpenInterest`` with its USD value; errors as the ordinary parsers give them."""
    parsed = _rest_open_interest(doc, recv_ns) if poll_path == OPEN_INTEREST_PATH else _rest_mark(doc, recv_ns)
    wanted = set(symbols) if symbols else None
    out: list[Event] = []
    touched: list[str] = []
    for event in parsed:
        if type(event) is FeedStatus:
            out.append(event)
        elif wanted is not None and event.symbol not in wanted:
            continue
        elif type(event) is OpenInterest:
            _POOL_OPEN_INTEREST[event.symbol] = (event.open_interest, event.ts)
            touched.append(event.symbol)
        elif type(event) is MarkPrice:
            _POOL_MARKS[event.symbol] = event.price
            touched.append(event.symbol)
    for symbol in dict.fromkeys(touched):
        out.extend(_pool_member_open_interest(symbol, recv_ns))
    return out


def _rest_insurance(doc: Any, recv_ns: int, fallback_symbol: str) -> list[Event]:
    # With symbol: {"symbols":[...],"assets":[{"asset","marginBalance","updateTime"}]}; without: a list of them.
    pools = doc if isinstance(doc, list) else [doc]
    out: list[Event] = []
    problems = Problems(VENUE)
    for pool in pools:
        if not isinstance(pool, dict) or not isinstance(pool.get("assets"), list):
            problems.add("insurance pool of unexpected shape")
            continue
        raw_symbols = pool.get("symbols")
        symbols = [s for s in raw_symbols if isinstance(s, str) and s] if isinstance(raw_symbols, list) else []
        if not symbols:
            if not fallback_symbol:
                problems.add("insurance pool without symbols")
                continue
            symbols = [fallback_symbol]
        for asset in pool["assets"]:
            if not isinstance(asset, dict) or not isinstance(asset.get("asset"), str) or not asset["asset"]:
                problems.add(f"{symbols[0]}: insurance asset of unexpected shape", symbols[0])
                continue
            balance = _number(asset.get("marginBalance"))
            if balance is None:
                problems.add(f"{symbols[0]}: bad insurance balance {asset.get('marginBalance')!r}", symbols[0])
                continue
            out.append(InsuranceFund(venue=VENUE, symbol=symbols[0], ts=_ms(asset.get("updateTime")),
                                     recv_ns=recv_ns, symbols=list(symbols), asset=asset["asset"],
                                     balance=balance))
    out.extend(problems.status(recv_ns))
    return out


def _rest_mark(doc: Any, recv_ns: int) -> list[Event]:
    # {"symbol","markPrice","indexPrice","lastFundingRate","nextFundingTime","time",...} or a list of them.
    items = doc if isinstance(doc, list) else [doc]
    out: list[Event] = []
    problems = Problems(VENUE)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str) or not item["symbol"]:
            problems.add("premiumIndex item of unexpected shape")
            continue
        symbol = item["symbol"]
        ts = _ms(item.get("time"))
        mark = _price(item.get("markPrice"))
        if mark is None:
            problems.add(f"{symbol}: bad mark price {item.get('markPrice')!r}", symbol)
        else:
            out.append(MarkPrice(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, price=mark))
        index = _price(item.get("indexPrice"))
        if index is not None:
            out.append(IndexPrice(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, price=index))
        rate = _number(item.get("lastFundingRate"))
        if rate is not None:
            out.append(FundingRate(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, rate=rate,
                                   next_funding_ts=_ms(item.get("nextFundingTime"))))
    out.extend(problems.status(recv_ns))
    return out


def _rest_adl_risk(doc: Any, recv_ns: int, symbols: list[str] | None) -> list[Event]:
    """``{"symbol","adlRisk","updateTime"}`` or a list of them (ADL-Risk page) → ``AdlRisk`` events of
    ``symbols`` (all when None or empty). A rating other than low / medium / high is an error."""
    items = doc if isinstance(doc, list) else [doc]
    wanted = set(symbols) if symbols else None
    out: list[Event] = []
    problems = Problems(VENUE)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str) or not item["symbol"]:
            problems.add("symbolAdlRisk item of unexpected shape")
            continue
        symbol = item["symbol"]
        if wanted is not None and symbol not in wanted:
            continue
        rating = item.get("adlRisk")
        rating = rating.lower() if isinstance(rating, str) else rating
        if rating not in ADL_RATINGS:
            problems.add(f"{symbol}: bad ADL risk rating {item.get('adlRisk')!r}", symbol)
            continue
        out.append(AdlRisk(venue=VENUE, symbol=symbol, ts=_ms(item.get("updateTime")), recv_ns=recv_ns,
                           rating=rating))
    out.extend(problems.status(recv_ns))
    return out


@dataclass(frozen=True)
class BinanceAdapter(AdapterBase):
    name: str = VENUE
    ws_url: str = WS_URL
    rest_url: str = REST_URL
    # The server pings every 3 min and wants a pong within 10 min (the websocket library answers);
    # we send nothing. Stale: 1 s push cadence + 3 s.
    heartbeat: Heartbeat = Heartbeat(interval_s=180.0, message=None, stale_after_s=4.0,
                                     quiet_after_s=1.2, pong_timeout_s=1.5)  # liveness: 1 s cadence
    max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    max_messages_per_second: int = MAX_MESSAGES_PER_SECOND

    @staticmethod
    def streams(symbols: list[str]) -> list[str]:
        """Each symbol's mark stream, then each one's liquidation stream (both market streams, one
        ``/market`` connection); no symbols: the all-market marks."""
        if not symbols:
            return [ALL_MARKS_STREAM]
        lower = [s.lower() for s in symbols]
        return [*(MARK_STREAM.format(symbol=s) for s in lower), *(LIQUIDATION_STREAM.format(symbol=s) for s in lower)]

    def connection_groups(self, symbols: list[str]) -> list[list[str]]:
        """``STREAMS_PER_SYMBOL`` streams per symbol: at most ``max_streams_per_connection`` of them per
        socket; COIN-M contracts on sockets of their own (another host)."""
        per = max(1, self.max_streams_per_connection // STREAMS_PER_SYMBOL)
        return [*chunk_symbols([s for s in symbols if not is_coin_m(s)], per),
                *chunk_symbols([s for s in symbols if is_coin_m(s)], per)]

    def connection_url(self, base_url: str, symbols: list[str]) -> str:
        """``<base>/market/stream?streams=btcusdt@markPrice@1s/…/btcusdt@forceOrder/…``; no symbols:
        all-market marks. Staleness follows the marks: a contract without liquidations is not stale.
        COIN-M contracts (a group of their own) stream from ``COINM_WS_URL``'s ``/stream`` when the base
        is Binance's own; an overridden base (the emulator) serves both markets on one route."""
        streams = "/".join(self.streams(symbols))
        if symbols and base_url.rstrip("/") == WS_URL and all(is_coin_m(s) for s in symbols):
            return f"{COINM_WS_URL}{COINM_ROUTE}?streams={streams}"
        return f"{base_url.rstrip('/')}{MARKET_ROUTE}?streams={streams}"

    def subscribe_messages(self, symbols: list[str]) -> list[str]:
        return []  # the streams are in the URL

    def control_message(self, method: str, symbols: list[str], request_id: int = 1) -> str:
        """SUBSCRIBE / UNSUBSCRIBE on an open connection (each counts toward the 10 messages/s)."""
        return json.dumps({"method": method, "params": self.streams(symbols), "id": request_id},
                          separators=(",", ":"))

    def unsubscribe_messages(self, symbols: list[str]) -> list[str]:
        return [self.control_message("UNSUBSCRIBE", symbols)] if symbols else []

    def new_parser(self, skip: frozenset[str] = frozenset()) -> BinanceParser:
        return BinanceParser(skip)

    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        return _PARSER.parse(frame, recv_ns)

    def rest_base(self, base_url: str, host: str) -> str:
        """The COIN-M polls (host "coinm") go to ``coinm_base``: dapi for Binance's own base, the same
        base when it is overridden (the emulator serves /fapi and /dapi under one)."""
        return coinm_base(base_url) if host == COINM_HOST else base_url

    def mark_price_poll(self, symbol: str) -> RestPoll:
        """premiumIndex of the symbol's market: /fapi, or /dapi on the COIN-M host for a COIN-M contract."""
        if is_coin_m(symbol):
            return RestPoll(path=COINM_MARK_PRICE_PATH, params={"symbol": symbol}, interval_s=MARK_PRICE_INTERVAL_S,
                            host=COINM_HOST)
        return RestPoll(path=MARK_PRICE_PATH, params={"symbol": symbol}, interval_s=MARK_PRICE_INTERVAL_S)

    def rest_polls(self, symbols: list[str]) -> list[RestPoll]:
        """Per USDⓈ-M symbol: open interest, insurance pool and mark; per COIN-M symbol its mark, then
        its open interest, both on dapi (no insurance balance or ADL rating is published there)."""
        polls: list[RestPoll] = []
        for s in symbols:
            if is_coin_m(s):
                polls.append(self.mark_price_poll(s))  # first: its open interest is converted at this mark
                polls.append(RestPoll(path=COINM_OPEN_INTEREST_PATH, params={"symbol": s},
                                      interval_s=OPEN_INTEREST_INTERVAL_S, host=COINM_HOST))
                continue
            polls.append(RestPoll(path=OPEN_INTEREST_PATH, params={"symbol": s},
                                  interval_s=OPEN_INTEREST_INTERVAL_S))
            polls.append(RestPoll(path=INSURANCE_PATH, params={"symbol": s}, interval_s=INSURANCE_INTERVAL_S))
            polls.append(self.mark_price_poll(s))
        rated = tuple(s for s in symbols if not is_coin_m(s))
        if rated:
            polls.append(self.adl_risk_poll(rated))
        return polls

    def member_polls(self, fund: InsuranceFund, held: Sequence[str]) -> list[RestPoll]:
        """Per member of a shared USDⓈ-M pool not in ``held``: its premiumIndex and openInterest (weight
        1 each, once a minute), whose two answers give the member's open interest in USD."""
        mine = set(held)
        polls: list[RestPoll] = []
        for s in fund.symbols:
            if s in mine or s == "*" or is_coin_m(s):
                continue
            polls.append(RestPoll(path=MARK_PRICE_PATH, params={"symbol": s}, interval_s=MARK_PRICE_INTERVAL_S,
                                  symbols=(s,), pool_members=True))
            polls.append(RestPoll(path=OPEN_INTEREST_PATH, params={"symbol": s}, interval_s=POOL_MEMBER_OI_INTERVAL_S,
                                  symbols=(s,), pool_members=True))
        return polls

    @staticmethod
    def adl_risk_poll(symbols: tuple[str, ...]) -> RestPoll:
        """Binance's public ADL risk rating of every USDⓈ-M symbol in one request, kept to ``symbols``."""
        return RestPoll(path=ADL_RISK_PATH, interval_s=ADL_RISK_INTERVAL_S, symbols=symbols)

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0,
                   symbols: list[str] | None = None) -> list[Event]:
        try:
            try:
                doc = _any_decoder.decode(body)
            except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
                return [_error(f"{poll.path}: not JSON: {_snippet(body)}", recv_ns)]
            if isinstance(doc, dict) and "code" in doc and "msg" in doc:
                return [_error(f"{poll.path}: {doc.get('code')}: {doc.get('msg')}", recv_ns,
                               poll.params.get("symbol", ""))]
            if poll.pool_members and poll.path in (OPEN_INTEREST_PATH, MARK_PRICE_PATH):
                return _rest_pool_member(poll.path, doc, recv_ns, list(symbols or poll.symbols))
            if poll.path == OPEN_INTEREST_PATH:
                return _rest_open_interest(doc, recv_ns)
            if poll.path == INSURANCE_PATH:
                return _rest_insurance(doc, recv_ns, poll.params.get("symbol", ""))
            if poll.path == MARK_PRICE_PATH:
                return _rest_mark(doc, recv_ns)
            if poll.path == ADL_RISK_PATH:
                return _rest_adl_risk(doc, recv_ns, list(symbols or poll.symbols))
            if poll.path == COINM_MARK_PRICE_PATH:
                return _remember_coinm_marks(_rest_mark(doc, recv_ns))
            if poll.path == COINM_OPEN_INTEREST_PATH:
                return _rest_coinm_open_interest(doc, recv_ns)
            return [_error(f"no parser for REST path {poll.path}", recv_ns)]
        except Exception as exc:  # noqa: BLE001 - never raise into the poller
            return [_error(f"{poll.path}: parser failure {type(exc).__name__}", recv_ns)]


_PARSER = BinanceParser()
ADAPTER = BinanceAdapter()
