"""Bybit v5 public feed (linear USDT/USDC perpetuals and inverse contracts): every wire detail.

Sources, all in the official docs repo ``bybit-exchange/docs`` (research/exchanges.md §2.1, §2.3–2.5):
- Connect, ping/pong, URLs per category: ``docs/v5/websocket/wss-authentication.mdx`` (/v5/ws/connect)
- ``tickers.{symbol}`` snapshot + delta ("a param not in the message has not changed"), 100 ms:
  ``docs/v5/websocket/public/ticker.mdx``; single-side OI fields added 2026-06 (``docs/changelog/v5.mdx``)
- ``insurance.{USDT|USDC|inverse}`` (isolated pools only, 1 s, only on change):
  ``docs/v5/websocket/public/insurance-pool.mdx``
- ``adlAlert.{USDT|USDC|inverse}`` with its short keys, 1 s: ``docs/v5/websocket/public/adl-alert.mdx``;
  trigger rules: ``docs/v5/market/adl-alert.mdx``
- ``allLiquidation.{symbol}`` (every liquidation on the contract, pushed every 500 ms when there is one):
  ``docs/v5/websocket/public/all-liquidation.mdx``; subscribed beside each contract's ticker. A contract
  with no liquidation sends nothing on it, so staleness follows the tickers alone.
- Limits: a public connection's ``args`` at most 21,000 characters, "no args limit for Futures"
  (``docs/v5/websocket/wss-authentication.mdx``, research/exchanges.md §2.5)
- REST ``/v5/market/insurance``, ``/v5/market/tickers``, ``/v5/market/adlAlert``:
  ``docs/v5/market/{insurance,tickers,adl-alert}.mdx``

Open interest is normalized to one side in base units: ``singleOpenInterest`` when present, else
``openInterest``. Since 2026-06 Bybit documents ``openInterest`` as *both* sides summed, so a frame
without the single-side field reports the two-sided figure (as the brief asks; flagged UNCONFIRMED).
For inverse contracts (symbols ending in ``USD``) Bybit counts OI in USD contracts, so the coin
amount is the ``…Value`` field and the USD amount the plain one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from sys import intern
from typing import Any

import msgspec

from adlwatch.engine.events import (
    AdlAlert,
    Event,
    FeedStatus,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    Liquidation,
    MarkPrice,
    OpenInterest,
)
from adlwatch.feeds.venue import AdapterBase, Heartbeat, RestPoll
from adlwatch.feeds.wire import Problems, data_kinds, error_status, without
from adlwatch.feeds.wire import ms as _ms
from adlwatch.feeds.wire import number as _number
from adlwatch.feeds.wire import price as _price
from adlwatch.feeds.wire import snippet as _snippet

VENUE = "bybit"
WS_URL = "wss://stream.bybit.com/v5/public/linear"
LINEAR_PATH = "/v5/public/linear"
INVERSE_PATH = "/v5/public/inverse"
REST_URL = "https://api.bybit.com"

PING_MESSAGE = '{"req_id":"ping","op":"ping"}'
PING_INTERVAL_S = 20.0  # recommended; the server cuts a silent connection after 10 min
MAX_STREAMS_PER_CONNECTION = 200  # contracts a connection (our cap: futures have no args limit)
MAX_ARGS_PER_MESSAGE = 100
# Bybit's own limit on one public connection's args, as the characters of their JSON text; each contract
# takes two topics (tickers, allLiquidation), so long symbol names could reach it before our cap does.
MAX_ARGS_CHARS = 21_000

INSURANCE_PATH = "/v5/market/insurance"
TICKERS_PATH = "/v5/market/tickers"
ADL_ALERT_PATH = "/v5/market/adlAlert"
INSURANCE_INTERVAL_S = 60.0  # isolated pools refresh every minute, shared pools daily
TICKERS_INTERVAL_S = 60.0
ADL_ALERT_INTERVAL_S = 60.0  # "data every 1 min"

# Our own early-warning band, NOT a Bybit rule: "warning" once the 8 h drawdown ratio is within this
# distance of the venue's trigger ratio (pr ≤ i_pr + 0.05) but ADL has not triggered.
ADL_WARNING_BAND = 0.05

_INF = math.inf


def _error(detail: str, recv_ns: int, symbol: str = "") -> FeedStatus:
    return error_status(VENUE, detail, recv_ns, symbol)


# --- symbols and categories -----------------------------------------------------------------------------

def is_inverse(symbol: str) -> bool:
    """Inverse perpetuals are quoted ``<COIN>USD`` (BTCUSD); linear ones end in USDT/USDC/PERP."""
    return symbol.upper().endswith("USD")


def settle_group(symbol: str) -> str:
    """The ``{coin}`` of ``insurance.{coin}`` / ``adlAlert.{coin}`` for a symbol."""
    s = symbol.upper()
    if is_inverse(s):
        return "inverse"
    if s.endswith("USDC") or s.endswith("PERP"):
        return "USDC"
    return "USDT"


def insurance_coin(symbol: str) -> str:
    """The ``coin`` of ``/v5/market/insurance`` for a symbol: USDT, USDC, or the coin of an inverse
    contract (BTC for BTCUSD), whose pool is kept in that coin."""
    group = settle_group(symbol)
    return symbol.upper()[: -len("USD")] if group == "inverse" else group


# --- ticker normalization (WS snapshot/delta and REST share it) -----------------------------------------

_TICKER_PREFIX = "tickers."


def _open_interest(symbol: str, state: dict[str, Any], ts: int | None, recv_ns: int,
                   problems: Problems) -> list[Event]:
    single = "singleOpenInterest" in state
    size_key = "singleOpenInterest" if single else "openInterest"
    value_key = "singleOpenInterestValue" if "singleOpenInterestValue" in state else "openInterestValue"
    size = _number(state.get(size_key))
    value = _number(state.get(value_key))
    if is_inverse(symbol):  # inverse: size is USD contracts, value is coin
        coin, usd = value, size
        coin_key = value_key
    else:
        coin, usd = size, value
        coin_key = size_key
    if coin is None or coin < 0:
        problems.add(f"{symbol}: bad open interest {state.get(coin_key)!r}", symbol)
        return []
    if usd is not None and usd < 0:
        usd = None
    return [OpenInterest(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, open_interest=coin,
                         open_interest_usd=usd)]


def _ticker_events(symbol: str, changed: dict[str, Any], state: dict[str, Any], ts: int | None,
                   recv_ns: int, problems: Problems, index: bool = True, funding: bool = True) -> list[Event]:
    """Events for the fields present in ``changed``, values read from the merged ``state``.

    ``index`` / ``funding`` False: those events are not built (their values are still checked)."""
    out: list[Event] = []
    if "markPrice" in changed and (mark := problems.price(state.get("markPrice"), "mark price", symbol)) is not None:
        out.append(MarkPrice(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, price=mark))
    if "indexPrice" in changed and (
            index_px := problems.price(state.get("indexPrice"), "index price", symbol)) is not None and index:
        out.append(IndexPrice(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, price=index_px))
    # Field names spelled out rather than any(...) over a tuple: this runs for every ticker push.
    if "fundingRate" in changed or "nextFundingTime" in changed:
        rate = _number(state.get("fundingRate"))
        if rate is None:
            if state.get("fundingRate") not in (None, ""):
                problems.add(f"{symbol}: bad funding rate {state.get('fundingRate')!r}", symbol)
        elif funding:
            out.append(FundingRate(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, rate=rate,
                                   next_funding_ts=_ms(state.get("nextFundingTime"))))
    if ("singleOpenInterest" in changed or "openInterest" in changed or "singleOpenInterestValue" in changed
            or "openInterestValue" in changed):
        out.extend(_open_interest(symbol, state, ts, recv_ns, problems))
    return out


# --- insurance and ADL alert ----------------------------------------------------------------------------

def _insurance_event(item: Any, ts: int | None, recv_ns: int, problems: Problems) -> Event | None:
    if not isinstance(item, dict):
        problems.add("insurance item is not an object")
        return None
    raw_symbols = item.get("symbols")
    symbols = [s.strip() for s in raw_symbols.split(",") if s.strip()] if isinstance(raw_symbols, str) else []
    coin = item.get("coin")
    if not symbols or not isinstance(coin, str) or not coin:
        problems.add(f"insurance item without symbols or coin: {_snippet(item)}")
        return None
    balance = _number(item.get("balance"))
    if balance is None:
        problems.add(f"{symbols[0]}: bad insurance balance {item.get('balance')!r}", symbols[0])
        return None
    return InsuranceFund(venue=VENUE, symbol=symbols[0], ts=_ms(item.get("updateTime")) or ts,
                         recv_ns=recv_ns, symbols=symbols, asset=coin, balance=balance)


def adl_state(balance: float, pnl_ratio: float, trigger_ratio: float, trigger_threshold: float) -> str:
    """Bybit's documented ADL trigger (docs/v5/market/adl-alert.mdx), plus our warning band.

    - "adl": contract PnL drawdown (balance > adlTriggerThreshold and pnlRatio below insurancePnlRatio;
      the doc's Example 2 treats equality as triggering) or pool equity (balance ≤ 0).
    - "warning": OURS, not Bybit's — pnlRatio within ADL_WARNING_BAND of insurancePnlRatio.
    - "normal" otherwise. The stop rule (pnlRatio > adlStopRatio) is hysteresis we do not model:
      each frame is judged on its own.
    """
    if balance <= 0 or (balance > trigger_threshold and pnl_ratio <= trigger_ratio):
        return "adl"
    if pnl_ratio <= trigger_ratio + ADL_WARNING_BAND:
        return "warning"
    return "normal"


# WS short key -> REST long key (the same fields)
_ADL_KEYS = {"c": "coin", "s": "symbol", "b": "balance", "mb": "maxBalance", "i_pr": "insurancePnlRatio",
             "pr": "pnlRatio", "adl_tt": "adlTriggerThreshold", "adl_sr": "adlStopRatio"}
_ADL_NUMERIC = {"b", "mb", "i_pr", "pr", "adl_tt", "adl_sr", "balance", "maxBalance", "insurancePnlRatio",
                "pnlRatio", "adlTriggerThreshold", "adlStopRatio"}


def _adl_event(item: Any, short: bool, ts: int | None, recv_ns: int, problems: Problems) -> Event | None:
    if not isinstance(item, dict):
        problems.add("adlAlert item is not an object")
        return None
    key = (lambda k: k) if short else (lambda k: _ADL_KEYS[k])
    symbol = item.get(key("s"))
    if not isinstance(symbol, str) or not symbol:
        problems.add(f"adlAlert item without symbol: {_snippet(item)}")
        return None
    needed = {k: _number(item.get(key(k))) for k in ("b", "pr", "i_pr", "adl_tt")}
    missing = [key(k) for k, v in needed.items() if v is None]
    if missing:
        problems.add(f"{symbol}: adlAlert without usable {', '.join(missing)}", symbol)
        return None
    state = adl_state(needed["b"], needed["pr"], needed["i_pr"], needed["adl_tt"])  # type: ignore[arg-type]
    detail: dict[str, Any] = {}
    for k, v in item.items():
        if k in _ADL_NUMERIC:
            n = _number(v)
            detail[k] = n if n is not None else v
        else:
            detail[k] = v
    return AdlAlert(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, state=state, detail=detail)


# --- websocket parser -----------------------------------------------------------------------------------

_decoder = msgspec.json.Decoder()


def _liquidation_event(item: Any, topic_symbol: str, ts: int | None, recv_ns: int,
                       problems: Problems) -> Event | None:
    """One ``allLiquidation.<symbol>`` item (v5 websocket public "All Liquidation" page):
    ``{"T": ms, "s": symbol, "S": "Buy"|"Sell", "v": size, "p": bankruptcy price}``.

    ``S`` is the side of the liquidated POSITION per that page ("Buy": a long was liquidated),
    unlike Binance where the order's side is given. UNCONFIRMED against live traffic.
    ``v``: base units on linear contracts; on inverse contracts it is in contracts of 1 USD
    (UNCONFIRMED: the page does not say), so size = v / p and the notional is v."""
    if not isinstance(item, dict):
        problems.add(f"{topic_symbol}: liquidation item is not an object", topic_symbol)
        return None
    symbol = item.get("s")
    if not isinstance(symbol, str) or not symbol:
        symbol = topic_symbol
    if not symbol:
        problems.add("liquidation without symbol")
        return None
    raw_side = item.get("S")
    if raw_side not in ("Buy", "Sell"):
        problems.add(f"{symbol}: bad liquidation side {raw_side!r}", symbol)
        return None
    price = _price(item.get("p"))
    volume = _price(item.get("v"))
    if price is None or volume is None:
        problems.add(f"{symbol}: bad liquidation price/size {item.get('p')!r}/{item.get('v')!r}", symbol)
        return None
    if is_inverse(symbol):
        size, notional = volume / price, volume
    else:
        size, notional = volume, volume * price
    if not (0.0 < size < _INF and notional < _INF):
        problems.add(f"{symbol}: liquidation size out of range", symbol)
        return None
    return Liquidation(venue=VENUE, symbol=symbol, ts=_ms(item.get("T")) or ts, recv_ns=recv_ns,
                       side="long" if raw_side == "Buy" else "short", price=price, size=size,
                       notional_usd=notional)


class _TickerPush(msgspec.Struct, gc=False):
    """A ``tickers.*`` push as Bybit sends it: every data value is text. Anything else (a number, a
    null, a list of tickers, no ``ts``) fails to decode and takes the careful path."""

    topic: str
    type: str
    data: dict[str, str]
    ts: int


_ticker_decoder = msgspec.json.Decoder(_TickerPush)
LIQUIDATION_PREFIX = "allLiquidation."


class BybitParser:
    """One per connection: keeps each symbol's merged ticker so deltas can be completed.

    Ticker pushes, nearly every frame, take a typed fast path that merges and emits exactly as the
    careful path does (the same ``data`` dict, the same ``_ticker_events``); it only skips the
    generic document checks, and hands anything unusual to the careful path untouched.
    """

    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        self.tickers: dict[str, dict[str, Any]] = {}
        self.skip = skip = data_kinds(skip)  # event kinds not to build (see ``FrameParser``)
        self._index = "index_price" not in skip
        self._funding = "funding_rate" not in skip
        self._lean = not skip.isdisjoint(("mark_price", "open_interest"))  # built by the fast path
        self._problems = Problems(VENUE)

    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        try:
            fast = self._fast_ticker(frame, recv_ns)
            if fast is None:
                return without(self._careful(frame, recv_ns), self.skip)
            return without(fast, self.skip) if self._lean else fast
        except Exception as exc:  # noqa: BLE001 - a parser must never stop the stream
            return [_error(f"parser failure {type(exc).__name__}: {_snippet(frame)}", recv_ns)]

    def _fast_ticker(self, frame: str | bytes, recv_ns: int) -> list[Event] | None:
        """Events of a well-formed ticker push, or None (nothing merged) for the careful path."""
        try:
            push = _ticker_decoder.decode(frame)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return None
        topic, kind, data = push.topic, push.type, push.data
        if not topic.startswith(_TICKER_PREFIX) or (kind != "snapshot" and kind != "delta"):
            return None
        # one string per contract, not per frame: a replay holds millions of events
        symbol = intern(data.get("symbol") or topic[len(_TICKER_PREFIX):])
        if not symbol:
            return None
        if kind == "snapshot":
            state = self.tickers[symbol] = dict(data)
        else:
            state = self.tickers.get(symbol)
            if state is None:  # a delta before any snapshot starts from what it carries
                state = self.tickers[symbol] = {}
            state.update(data)
        problems = self._problems  # one per parser, emptied after use: this runs for every push
        ts = push.ts if push.ts > 0 else None
        out = _ticker_events(symbol, data, state, ts, recv_ns, problems, self._index, self._funding)
        if not out and not problems.items and not (self._index and self._funding):
            # Only skipped kinds changed (say the index alone): they come anyway, as the contract's
            # sign of life (wire.without).
            out = _ticker_events(symbol, data, state, ts, recv_ns, problems)
        if problems.items:
            out.extend(problems.status(recv_ns))
            problems.items = []
        return out

    def _careful(self, frame: str | bytes, recv_ns: int) -> list[Event]:
        """Any frame, checked field by field."""
        try:
            doc = _decoder.decode(frame)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return [_error(f"not JSON: {_snippet(frame)}", recv_ns)]
        if not isinstance(doc, dict):
            return [_error(f"frame is not an object: {_snippet(frame)}", recv_ns)]
        topic = doc.get("topic")
        if not isinstance(topic, str):
            if "op" in doc or "success" in doc:  # subscribe ack or pong
                if doc.get("success") is False:
                    return [_error(f"{doc.get('op')} failed: {doc.get('ret_msg')}", recv_ns)]
                return []
            return [_error(f"frame without topic: {_snippet(frame)}", recv_ns)]
        ts = _ms(doc.get("ts"))
        data = doc.get("data")
        problems = Problems(VENUE)
        out: list[Event] = []
        if topic.startswith(_TICKER_PREFIX):
            out = self._ticker(topic[len(_TICKER_PREFIX):], doc.get("type"), data, ts, recv_ns, problems)
        elif topic.startswith("insurance."):
            for item in data if isinstance(data, list) else [data]:
                event = _insurance_event(item, ts, recv_ns, problems)
                if event is not None:
                    out.append(event)
        elif topic.startswith(LIQUIDATION_PREFIX):
            for item in data if isinstance(data, list) else [data]:
                event = _liquidation_event(item, topic[len(LIQUIDATION_PREFIX):], ts, recv_ns, problems)
                if event is not None:
                    out.append(event)
        elif topic.startswith("adlAlert."):
            for item in data if isinstance(data, list) else [data]:
                event = _adl_event(item, True, ts, recv_ns, problems)
                if event is not None:
                    out.append(event)
        else:
            problems.add(f"unknown topic {topic!r}")
        out.extend(problems.status(recv_ns))
        return out

    def _ticker(self, topic_symbol: str, kind: Any, data: Any, ts: int | None, recv_ns: int,
                problems: Problems) -> list[Event]:
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            problems.add(f"{topic_symbol}: ticker data is not an object", topic_symbol)
            return []
        symbol = data.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            symbol = topic_symbol
        if not symbol:
            problems.add("ticker without symbol")
            return []
        if kind == "snapshot":
            state = dict(data)
            self.tickers[symbol] = state
        elif kind == "delta":
            # A delta before any snapshot (parser started mid-stream) starts from what it carries.
            state = self.tickers.setdefault(symbol, {})
            state.update(data)
        else:
            problems.add(f"{symbol}: ticker of unknown type {kind!r}", symbol)
            return []
        return _ticker_events(symbol, data, state, ts, recv_ns, problems)


def args_chars(args: list[str]) -> int:
    """The characters of ``args`` as one JSON array (what Bybit's 21,000-character limit counts)."""
    return len(json.dumps(args, separators=(",", ":")))


_SETTLE_TOPICS_CHARS = args_chars([f"{kind}.{group}" for group in ("USDT", "USDC", "inverse")
                                   for kind in ("insurance", "adlAlert")])


# --- REST -----------------------------------------------------------------------------------------------

def _rest_list(doc: Any) -> tuple[list[Any] | None, dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("result"), dict):
        return None, {}
    result = doc["result"]
    items = result.get("list")
    return (items if isinstance(items, list) else None), result


@dataclass(frozen=True)
class BybitAdapter(AdapterBase):
    name: str = VENUE
    ws_url: str = WS_URL
    rest_url: str = REST_URL
    # tickers push every 100 ms; stale after 0.1 s + 3 s
    heartbeat: Heartbeat = Heartbeat(interval_s=PING_INTERVAL_S, message=PING_MESSAGE, stale_after_s=3.1,
                                     quiet_after_s=0.5, pong_timeout_s=1.5)  # liveness: 100 ms cadence
    max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION

    def connection_url(self, base_url: str, symbols: list[str]) -> str:
        """The linear or inverse endpoint, chosen by the symbols (``…USD`` is inverse).

        A connection serves one category; mixed lists should be split with ``connection_groups``
        (given one anyway, the first symbol decides and Bybit rejects the others' topics in its ack).
        """
        base = base_url.rstrip("/")
        for path in (LINEAR_PATH, INVERSE_PATH):
            if base.endswith(path):
                base = base[: -len(path)]
        inverse = bool(symbols) and is_inverse(symbols[0])
        return base + (INVERSE_PATH if inverse else LINEAR_PATH)

    def connection_groups(self, symbols: list[str]) -> list[list[str]]:
        """Symbols split by category (linear / inverse), by the stream cap and by Bybit's limit on
        one connection's args (``MAX_ARGS_CHARS``)."""
        groups: list[list[str]] = []
        for inverse in (False, True):
            group: list[str] = []
            used = _SETTLE_TOPICS_CHARS  # room for every settlement group's pool and alert topics
            for symbol in (s for s in symbols if is_inverse(s) == inverse):
                cost = len(f'"tickers.{symbol}","{LIQUIDATION_PREFIX}{symbol}",')
                if group and (len(group) >= self.max_streams_per_connection or used + cost > MAX_ARGS_CHARS):
                    groups.append(group)
                    group, used = [], _SETTLE_TOPICS_CHARS
                group.append(symbol)
                used += cost
            if group:
                groups.append(group)
        return groups

    @staticmethod
    def topics(symbols: list[str]) -> list[str]:
        """Every topic of a connection: each contract's ticker and liquidations, then the insurance
        pools and ADL alerts of their settlement groups."""
        args = [topic for s in symbols for topic in (f"tickers.{s}", f"{LIQUIDATION_PREFIX}{s}")]
        for group in dict.fromkeys(settle_group(s) for s in symbols):
            args += [f"insurance.{group}", f"adlAlert.{group}"]
        return args

    def _op_messages(self, op: str, symbols: list[str]) -> list[str]:
        args = self.topics(symbols)
        return [json.dumps({"req_id": f"{op}-{i // MAX_ARGS_PER_MESSAGE + 1}", "op": op,
                            "args": args[i: i + MAX_ARGS_PER_MESSAGE]}, separators=(",", ":"))
                for i in range(0, len(args), MAX_ARGS_PER_MESSAGE)]

    def subscribe_messages(self, symbols: list[str]) -> list[str]:
        return self._op_messages("subscribe", symbols)

    def unsubscribe_messages(self, symbols: list[str]) -> list[str]:
        return self._op_messages("unsubscribe", symbols)

    def new_parser(self, skip: frozenset[str] = frozenset()) -> BybitParser:
        return BybitParser(skip)

    def mark_price_poll(self, symbol: str) -> RestPoll:
        category = "inverse" if is_inverse(symbol) else "linear"
        return RestPoll(path=TICKERS_PATH, params={"category": category, "symbol": symbol},
                        interval_s=TICKERS_INTERVAL_S)

    def rest_polls(self, symbols: list[str]) -> list[RestPoll]:
        polls: list[RestPoll] = []
        for coin in dict.fromkeys(insurance_coin(s) for s in symbols):
            mine = tuple(s for s in symbols if insurance_coin(s) == coin)
            polls.append(RestPoll(path=INSURANCE_PATH, params={"coin": coin}, interval_s=INSURANCE_INTERVAL_S,
                                    symbols=mine))
        for s in symbols:
            polls.append(self.mark_price_poll(s))
            polls.append(RestPoll(path=ADL_ALERT_PATH, params={"symbol": s}, interval_s=ADL_ALERT_INTERVAL_S))
        return polls

    def member_polls(self, fund: InsuranceFund, held: Sequence[str]) -> list[RestPoll]:
        """A shared pool (``"symbols": "BTCUSDT,ETHUSDT,SOLUSDT"``) with members not in ``held``: one
        ``/v5/market/tickers`` of their category, every symbol's ``openInterestValue`` in one answer, once a
        minute (a shared pool's balance is updated daily), kept to those members' open interest."""
        mine = set(held)
        others = [s for s in fund.symbols if s not in mine and s != "*"]
        polls = []
        for category in ("linear", "inverse"):
            members = tuple(s for s in others if ("inverse" if is_inverse(s) else "linear") == category)
            if members:
                polls.append(RestPoll(path=TICKERS_PATH, params={"category": category}, interval_s=TICKERS_INTERVAL_S,
                                      symbols=members, pool_members=True))
        return polls

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0,
                   symbols: list[str] | None = None) -> list[Event]:
        """Events from one REST body, for the poll's symbols (``symbols`` overrides; none: everything);
        of a pool-member poll, only the members' open interest (they are no rows: no marks)."""
        try:
            wanted = symbols or poll.symbols
            return self._parse_rest(poll, body, recv_ns, set(wanted) if wanted else None)
        except Exception as exc:  # noqa: BLE001 - never raise into the poller
            return [_error(f"{poll.path}: parser failure {type(exc).__name__}", recv_ns)]

    def _parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int,
                    wanted: set[str] | None) -> list[Event]:
        try:
            doc = _decoder.decode(body)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return [_error(f"{poll.path}: not JSON: {_snippet(body)}", recv_ns)]
        if isinstance(doc, dict) and doc.get("retCode") not in (0, None):
            return [_error(f"{poll.path}: {doc.get('retCode')}: {doc.get('retMsg')}", recv_ns,
                           poll.params.get("symbol", ""))]
        items, result = _rest_list(doc)
        if items is None:
            return [_error(f"{poll.path}: body of unexpected shape: {_snippet(body)}", recv_ns)]
        ts = _ms(result.get("updatedTime")) or _ms(result.get("updateTime")) or _ms(doc.get("time"))
        problems = Problems(VENUE)
        out: list[Event] = []
        if poll.path == INSURANCE_PATH:
            for item in items:
                event = _insurance_event(item, ts, recv_ns, problems)
                if event is not None and (wanted is None or wanted & set(event.symbols)):  # type: ignore[attr-defined]
                    out.append(event)
        elif poll.path == ADL_ALERT_PATH:
            for item in items:
                event = _adl_event(item, False, ts, recv_ns, problems)
                if event is not None and (wanted is None or event.symbol in wanted):
                    out.append(event)
        elif poll.path == TICKERS_PATH:
            ts = _ms(doc.get("time"))
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("symbol"), str) or not item["symbol"]:
                    problems.add("ticker item of unexpected shape")
                    continue
                if wanted is None or item["symbol"] in wanted:
                    events = _ticker_events(item["symbol"], item, item, ts, recv_ns, problems)
                    out.extend([e for e in events if type(e) is OpenInterest] if poll.pool_members else events)
        else:
            problems.add(f"no parser for REST path {poll.path}")
        out.extend(problems.status(recv_ns))
        return out


ADAPTER = BybitAdapter()
