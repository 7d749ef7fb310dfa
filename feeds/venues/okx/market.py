"""OKX v5 public feed (SWAP): every wire detail.

Sources: OKX API v5 docs, https://www.okx.com/docs-v5/en/ (research/exchanges.md §3.3–3.5):
- Connect / keep-alive (send the text ``ping`` after N < 30 s of silence, expect ``pong``; 480
  subscribe requests per connection-hour) and the ``notice`` event (code 64008, pushed ~30 s before a
  service-upgrade disconnect): "#overview-websocket-connect" and "#overview-websocket-notification"
- Channels ``mark-price`` (200 ms on change, else every 10 s), ``open-interest`` (3 s on change; no
  ``oiUsd`` in the push), ``adl-warning`` (1 s, only in ``warning``/``adl`` state), ``funding-rate``
  (every 30 to 90 s), ``liquidation-orders`` (by ``instType``: one subscription covers every swap):
  "#public-data-websocket-mark-price-channel", "#public-data-websocket-open-interest-channel",
  "#public-data-websocket-adl-warning-channel", "#public-data-websocket-funding-rate-channel",
  "#public-data-websocket-liquidation-orders-channel"
- REST: "#public-data-rest-api-get-open-interest", "#public-data-rest-api-get-security-fund",
  "#public-data-rest-api-get-mark-price", "#public-data-rest-api-get-funding-rate" (the same fields as
  the channel's push: the feed has the rate and the next settlement at once, not 30 to 90 s later)

Port note: the documented URL uses port 8443. A third-party blog (siebly.hashnode.dev, 2026-11) says
OKX stopped accepting WebSocket connections on 8443 on 2026-10-31; that is not confirmed from an OKX
page. ``WS_URL_443`` is the same host on the default port. The client tries one and, when it cannot
be opened (refused, timed out, handshake failed), the other (``alternate_ws_urls``); the feeds panel
names the one in use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from sys import intern
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
from adlwatch.feeds.venue import SIDE_STREAM_KINDS, AdapterBase, Heartbeat, RestPoll
from adlwatch.feeds.wire import Problems, data_kinds, error_status, without
from adlwatch.feeds.wire import ms as _ms
from adlwatch.feeds.wire import number as _number
from adlwatch.feeds.wire import price as _price
from adlwatch.feeds.wire import snippet as _snippet

VENUE = "okx"
WS_URL = "wss://ws.okx.com:8443/ws/v5/public"
WS_URL_443 = "wss://ws.okx.com/ws/v5/public"
REST_URL = "https://www.okx.com"

_INF = math.inf

PING_MESSAGE = "ping"
PONG_MESSAGE = "pong"
PING_AFTER_SILENCE_S = 25.0  # OKX cuts a connection after 30 s without data
RECONNECT_NOTICE_CODE = "64008"
MAX_STREAMS_PER_CONNECTION = 200  # instIds per connection (our cap; each takes 3–4 channel args)
MAX_ARGS_PER_MESSAGE = 100  # keep each request far below OKX's 64 KB limit
SUBSCRIBE_REQUESTS_PER_HOUR = 480

OPEN_INTEREST_PATH = "/api/v5/public/open-interest"
INSURANCE_PATH = "/api/v5/public/insurance-fund"
MARK_PRICE_PATH = "/api/v5/public/mark-price"
FUNDING_PATH = "/api/v5/public/funding-rate"
OPEN_INTEREST_INTERVAL_S = 30.0  # 20 req / 2 s; the socket pushes OI every 3 s, REST adds oiUsd
INSURANCE_INTERVAL_S = 300.0  # 10 req / 2 s; "total" is a slow-moving USD figure
MARK_PRICE_INTERVAL_S = 60.0
FUNDING_INTERVAL_S = 300.0  # 20 req / 2 s per instId; the channel pushes every change



def okx_alternate_urls(url: str) -> list[str]:
    """``wss://ws.okx.com:8443/…`` → ``[wss://ws.okx.com/…]`` and back; [] for a host not OKX's."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "wss" or not (host == "okx.com" or host.endswith(".okx.com")):
        return []
    port = parts.port or 443
    netloc = host if port == 8443 else f"{host}:8443"
    return [urlunsplit(parts._replace(netloc=netloc))]


def _error(detail: str, recv_ns: int, symbol: str = "") -> FeedStatus:
    return error_status(VENUE, detail, recv_ns, symbol)


def inst_family(inst_id: str) -> str:
    """``BTC-USDT-SWAP`` → ``BTC-USDT`` (the family the security fund and adl-warning are keyed by)."""
    return inst_id[: -len("-SWAP")] if inst_id.upper().endswith("-SWAP") else inst_id


def swap_inst_id(family: str) -> str:
    """``BTC-USDT`` → ``BTC-USDT-SWAP``: the one perpetual of a family."""
    return f"{family}-SWAP"


_decoder = msgspec.json.Decoder()
_NOTICE_CODE_BYTES = RECONNECT_NOTICE_CODE.encode()


def is_reconnect_notice(frame: str | bytes | dict[str, Any]) -> bool:
    """True for ``{"event":"notice","code":"64008",...}``: OKX will drop the socket for an upgrade."""
    doc: Any = frame
    if isinstance(frame, (str, bytes)):
        # Asked of every frame: most answer from a substring test, not a decode (an escaped
        # "\u0036…" spelling of the code still gets the decode).
        code, escape = (RECONNECT_NOTICE_CODE, "\\u") if isinstance(frame, str) else (_NOTICE_CODE_BYTES, b"\\u")
        if code not in frame and escape not in frame:
            return False
    if not isinstance(frame, dict):
        try:
            doc = _decoder.decode(frame)
        except Exception:  # noqa: BLE001
            return False
    return isinstance(doc, dict) and doc.get("event") == "notice" and str(doc.get("code")) == RECONNECT_NOTICE_CODE


# --- items ----------------------------------------------------------------------------------------------

def _mark_item(item: Any, recv_ns: int, problems: Problems) -> Event | None:
    if not isinstance(item, dict) or not isinstance(item.get("instId"), str) or not item["instId"]:
        problems.add(f"mark-price item of unexpected shape: {_snippet(item)}")
        return None
    inst = item["instId"]
    mark = _price(item.get("markPx"))
    if mark is None:
        problems.add(f"{inst}: bad mark price {item.get('markPx')!r}", inst)
        return None
    return MarkPrice(venue=VENUE, symbol=inst, ts=_ms(item.get("ts")), recv_ns=recv_ns, price=mark)


def _open_interest_item(item: Any, recv_ns: int, problems: Problems) -> Event | None:
    if not isinstance(item, dict) or not isinstance(item.get("instId"), str) or not item["instId"]:
        problems.add(f"open-interest item of unexpected shape: {_snippet(item)}")
        return None
    inst = item["instId"]
    coin = _number(item.get("oiCcy"))  # oi is in contracts; oiCcy is the coin amount
    if coin is None or coin < 0:
        problems.add(f"{inst}: bad open interest {item.get('oiCcy')!r}", inst)
        return None
    usd = _number(item.get("oiUsd"))  # REST only
    return OpenInterest(venue=VENUE, symbol=inst, ts=_ms(item.get("ts")), recv_ns=recv_ns, open_interest=coin,
                        open_interest_usd=usd if usd is not None and usd >= 0 else None)


def _funding_item(item: Any, recv_ns: int, problems: Problems) -> Event | None:
    """A ``funding-rate`` push item (OKX docs "#public-data-websocket-funding-rate-channel"):
    ``fundingRate`` is the current period's rate, settled at ``fundingTime`` (the next settlement,
    ms); ``nextFundingTime`` is the one after. UNCONFIRMED beyond the docs' example: whether
    ``fundingTime`` can come empty between periods (then ``next_funding_ts`` is None)."""
    if not isinstance(item, dict) or not isinstance(item.get("instId"), str) or not item["instId"]:
        problems.add(f"funding-rate item of unexpected shape: {_snippet(item)}")
        return None
    inst = item["instId"]
    rate = _number(item.get("fundingRate"))
    if rate is None:
        problems.add(f"{inst}: bad funding rate {item.get('fundingRate')!r}", inst)
        return None
    return FundingRate(venue=VENUE, symbol=inst, ts=_ms(item.get("ts")), recv_ns=recv_ns, rate=rate,
                       next_funding_ts=_ms(item.get("fundingTime")))


def _index_item(item: Any, recv_ns: int, problems: Problems) -> Event | None:
    """An ``index-tickers`` push item (OKX docs "#public-data-websocket-index-tickers-channel"):
    ``instId`` names the index (``BTC-USDT``), ``idxPx`` its price. The event is keyed by the
    family's perpetual (``BTC-USDT-SWAP``), as every venue's index price is keyed by its contract."""
    if not isinstance(item, dict) or not isinstance(item.get("instId"), str) or not item["instId"]:
        problems.add(f"index-tickers item of unexpected shape: {_snippet(item)}")
        return None
    symbol = swap_inst_id(inst_family(item["instId"]))
    price = _price(item.get("idxPx"))
    if price is None:
        problems.add(f"{symbol}: bad index price {item.get('idxPx')!r}", symbol)
        return None
    return IndexPrice(venue=VENUE, symbol=symbol, ts=_ms(item.get("ts")), recv_ns=recv_ns, price=price)


_ADL_STATES = ("normal", "warning", "adl")


def _adl_item(item: Any, arg: dict[str, Any], recv_ns: int, problems: Problems) -> Event | None:
    if not isinstance(item, dict):
        problems.add("adl-warning item is not an object")
        return None
    family = item.get("instFamily") or arg.get("instFamily")
    if not isinstance(family, str) or not family:
        problems.add(f"adl-warning item without instFamily: {_snippet(item)}")
        return None
    symbol = swap_inst_id(family)
    state = item.get("state")
    if state not in _ADL_STATES:
        problems.add(f"{symbol}: unknown adl-warning state {state!r}", symbol)
        return None
    detail: dict[str, Any] = {}
    for k, v in item.items():
        if v == "":  # deprecated fields come back empty
            continue
        n = _number(v) if k in ("bal", "maxBal", "adlBal", "adlRecBal", "decRate", "adlRate", "adlRecRate") else None
        detail[k] = n if n is not None else v
    return AdlAlert(venue=VENUE, symbol=symbol, ts=_ms(item.get("ts")), recv_ns=recv_ns, state=state,  # type: ignore[arg-type]
                    detail=detail)


# --- websocket parser -----------------------------------------------------------------------------------

class _Channel(msgspec.Struct, gc=False):
    channel: str


class _MarkPxItem(msgspec.Struct, gc=False):
    instId: str
    markPx: str
    ts: str | None = None


class _MarkPxPush(msgspec.Struct, gc=False):
    """A mark-price push as OKX sends it (numbers as text). Anything else fails to decode."""

    arg: _Channel
    data: list[_MarkPxItem]
    event: Any = None  # a control event is never a push: the careful path decides


_mark_push_decoder = msgspec.json.Decoder(_MarkPxPush)


def _fast_marks(frame: str | bytes, recv_ns: int) -> list[Event] | None:
    """The events of a clean mark-price push (the converters the careful path uses), else None."""
    try:
        push = _mark_push_decoder.decode(frame)
    except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
        return None
    if push.arg.channel != "mark-price" or push.event is not None:
        return None
    out: list[Event] = []
    for item in push.data:
        mark = _price(item.markPx)
        if mark is None or not item.instId:
            return None
        # one string per contract, not per frame: a replay holds millions of events
        out.append(MarkPrice(venue=VENUE, symbol=intern(item.instId), ts=_ms(item.ts), recv_ns=recv_ns, price=mark))
    return out


_CHANNELS = frozenset({"mark-price", "open-interest", "adl-warning", "funding-rate", "index-tickers",
                       "liquidation-orders"})


_contract_values: dict[tuple, dict[str, float]] = {}


def contract_values() -> dict[str, float]:
    """The contract values (ctVal) of OKX swaps in the catalogue adlwatch uses: the bundled tables
    with the user's refreshed tier cache over them (``adlwatch tiers --refresh`` fetches every swap,
    so a contract listed since the release is known too). Linear swaps in coin per contract
    (``venue_contract_size``), inverse ones in USD per contract (the inverse instrument's
    ``contract_size``). Read once per state of the cache files (their names and times)."""
    from adlwatch.feeds.tiers import default_cache_dir, load_catalogue

    folder = default_cache_dir()
    try:
        stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("okx.*")))
    except OSError:
        stamp = ()
    key = (str(folder), stamp)
    values = _contract_values.get(key)
    if values is None:
        values = {}
        for i in load_catalogue(folder, venues=("okx",)):
            if i.venue != "okx":
                continue
            if i.inverse:
                values[i.symbol] = float(i.contract_size)
            elif i.venue_contract_size:
                values[i.symbol] = float(i.venue_contract_size)
        _contract_values.clear()  # one state of the cache is kept, the newest
        _contract_values[key] = values
    return values


def _liquidation_items(item: Any, values: Mapping[str, float], recv_ns: int, problems: Problems) -> list[Event]:
    """One ``liquidation-orders`` item (OKX docs "#public-data-websocket-liquidation-orders-channel"):
    ``{"instId", "instFamily", "instType", "uly", "details": [{"side", "posSide", "bkPx", "sz", "bkLoss",
    "ccy", "ts"}]}``. ``sz`` is in contracts: coin = sz × ctVal (linear), sz × ctVal / bkPx (inverse,
    ctVal in USD). ``posSide`` long/short is the liquidated position; in net mode the order's ``side``
    tells it (sell closes a long). An instrument whose ctVal the catalogue lacks gives no event."""
    if not isinstance(item, dict) or not isinstance(item.get("instId"), str) or not item["instId"]:
        problems.add(f"liquidation-orders item of unexpected shape: {_snippet(item)}")
        return []
    inst = item["instId"]
    details = item.get("details")
    if not isinstance(details, list):
        problems.add(f"{inst}: liquidation-orders item without details", inst)
        return []
    value = values.get(inst)
    inverse = inst.split("-")[1:2] == ["USD"]
    out: list[Event] = []
    for d in details:
        if not isinstance(d, dict):
            problems.add(f"{inst}: liquidation detail is not an object", inst)
            continue
        pos_side, side = d.get("posSide"), d.get("side")
        if pos_side in ("long", "short"):
            liquidated = pos_side
        elif side in ("sell", "buy"):
            liquidated = "long" if side == "sell" else "short"
        else:
            problems.add(f"{inst}: bad liquidation side {side!r}/{pos_side!r}", inst)
            continue
        px = _price(d.get("bkPx"))
        contracts = _price(d.get("sz"))
        if px is None or contracts is None:
            problems.add(f"{inst}: bad liquidation price/size {d.get('bkPx')!r}/{d.get('sz')!r}", inst)
            continue
        if not value:
            continue  # not in the catalogue: its contract value, so its size in coin, is unknown
        if inverse:
            notional = contracts * value
            size = notional / px
        else:
            size = contracts * value
            notional = size * px
        if not (0.0 < size < _INF and notional < _INF):
            problems.add(f"{inst}: liquidation size out of range", inst)
            continue
        out.append(Liquidation(venue=VENUE, symbol=inst, ts=_ms(d.get("ts")), recv_ns=recv_ns, side=liquidated,
                               price=px, size=size, notional_usd=notional))
    return out


class OkxParser:
    """One connection's parser. Mark-price pushes, most frames, take a typed fast path
    (``_fast_marks``). ``skip``: event kinds not to build (see ``FrameParser``).

    Its one state: the instIds whose ``mark-price`` subscription the venue acknowledged on this
    connection. The ``liquidation-orders`` channel pushes every swap's liquidations; once the
    connection's contracts are known, only theirs become events (one set lookup per item, and no
    duplicates when the contracts are spread over several connections). A parser that has seen no
    acknowledgement (a recording without them, a test) keeps every liquidation."""

    def __init__(self, skip: frozenset[str] = frozenset(),
                 contract_values: Mapping[str, float] | None = None) -> None:
        self.skip = skip = data_kinds(skip)
        self._values = contract_values  # ctVal per instId; None: the catalogue's (read when first needed)
        self.subscribed: set[str] = set()
        self._acknowledged = False  # a mark-price subscription was acknowledged: ``subscribed`` is known

    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        try:
            fast = _fast_marks(frame, recv_ns)
            if fast is None:
                return without(self._careful(frame, recv_ns), self.skip)
            return without(fast, self.skip) if "mark_price" in self.skip else fast
        except Exception as exc:  # noqa: BLE001 - a parser must never stop the stream
            return [_error(f"parser failure {type(exc).__name__}: {_snippet(frame)}", recv_ns)]

    def _careful(self, frame: str | bytes, recv_ns: int) -> list[Event]:
        """Any frame, checked field by field."""
        if frame == PONG_MESSAGE or frame == b"pong":
            return []
        try:
            doc = _decoder.decode(frame)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return [_error(f"not JSON: {_snippet(frame)}", recv_ns)]
        if not isinstance(doc, dict):
            return [_error(f"frame is not an object: {_snippet(frame)}", recv_ns)]
        event = doc.get("event")
        if event is not None:
            return self._event(doc, event, recv_ns)
        arg = doc.get("arg")
        data = doc.get("data")
        if not isinstance(arg, dict) or not isinstance(data, list):
            return [_error(f"push without arg/data: {_snippet(frame)}", recv_ns)]
        channel = arg.get("channel")
        if not isinstance(channel, str) or not channel:
            return [_error(f"push without a channel: {_snippet(frame)}", recv_ns)]
        if channel not in _CHANNELS:  # well formed, of a channel adlwatch does not use: no event
            return []
        problems = Problems(VENUE)
        out: list[Event] = []
        if channel == "liquidation-orders":
            if self._values is None:
                self._values = contract_values()
            subscribed = self.subscribed if self._acknowledged else None
            for item in data:
                if subscribed is not None and isinstance(item, dict) and item.get("instId") not in subscribed:
                    continue  # another contract's liquidation: this connection does not carry it
                out.extend(_liquidation_items(item, self._values, recv_ns, problems))
            out.extend(problems.status(recv_ns))
            return out
        for item in data:
            if channel == "mark-price":
                ev = _mark_item(item, recv_ns, problems)
            elif channel == "open-interest":
                ev = _open_interest_item(item, recv_ns, problems)
            elif channel == "adl-warning":
                ev = _adl_item(item, arg, recv_ns, problems)
            elif channel == "funding-rate":
                ev = _funding_item(item, recv_ns, problems)
            else:  # index-tickers
                ev = _index_item(item, recv_ns, problems)
            if ev is not None:
                out.append(ev)
        out.extend(problems.status(recv_ns))
        return out

    def _event(self, doc: dict[str, Any], event: Any, recv_ns: int) -> list[Event]:
        if event in ("subscribe", "unsubscribe"):
            arg = doc.get("arg")
            if isinstance(arg, dict) and arg.get("channel") == "mark-price" and isinstance(arg.get("instId"), str):
                self._acknowledged = True
                if event == "subscribe":
                    self.subscribed.add(arg["instId"])
                else:
                    self.subscribed.discard(arg["instId"])
            return []
        if event == "channel-conn-count":
            return []
        if event == "error":
            return [_error(f"{doc.get('code')}: {doc.get('msg')}", recv_ns)]
        if event == "notice":
            if is_reconnect_notice(doc):
                return [FeedStatus(venue=VENUE, symbol="", ts=None, recv_ns=recv_ns, state="disconnected",
                                   detail=f"64008 service upgrade: reconnect ({doc.get('msg')})")]
            return [_error(f"notice {doc.get('code')}: {doc.get('msg')}", recv_ns)]
        return []  # other control events carry no market data


# --- REST -----------------------------------------------------------------------------------------------

def _insurance_item(item: Any, fallback_family: str, recv_ns: int, problems: Problems) -> Event | None:
    if not isinstance(item, dict):
        problems.add("insurance-fund item is not an object")
        return None
    family = item.get("instFamily") if isinstance(item.get("instFamily"), str) and item.get("instFamily") \
        else fallback_family
    if not family:
        problems.add("insurance-fund item without instFamily")
        return None
    symbol = swap_inst_id(family)
    total = _number(item.get("total"))  # USD value of the family's security fund
    if total is None:
        problems.add(f"{symbol}: bad security fund total {item.get('total')!r}", symbol)
        return None
    details = item.get("details")
    stamps = [_ms(d.get("ts")) for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    ts = max((t for t in stamps if t is not None), default=None) or _ms(item.get("ts"))
    return InsuranceFund(venue=VENUE, symbol=symbol, ts=ts, recv_ns=recv_ns, symbols=[symbol], asset="USD",
                         balance=total)


@dataclass(frozen=True)
class OkxAdapter(AdapterBase):
    name: str = VENUE
    ws_url: str = WS_URL
    rest_url: str = REST_URL
    # mark-price pushes at least every 10 s when unchanged: stale after 10 + 3 s
    # Liveness: mark-price pushes every 200 ms while the mark moves; after 0.5 s of nothing a websocket
    # ping must be answered within 1.5 s, so a dead socket is stale in about 2 s, not 13.
    heartbeat: Heartbeat = Heartbeat(interval_s=PING_AFTER_SILENCE_S, message=PING_MESSAGE, stale_after_s=13.0,
                                     quiet_after_s=0.5, pong_timeout_s=1.5)
    max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    # Funding and open interest have channels of their own beside mark-price: only the mark shows
    # that a contract's mark stream is alive.
    side_stream_kinds: frozenset[str] = SIDE_STREAM_KINDS | {"funding_rate", "open_interest"}

    def alternate_ws_urls(self, url: str) -> list[str]:
        """The same public URL on the other port (8443 ↔ 443) for OKX's own hosts; none for others
        (the emulator, a proxy named in ``ADLWATCH_OKX_WS_URL``)."""
        return okx_alternate_urls(url)

    def connection_url(self, base_url: str, symbols: list[str]) -> str:
        return base_url

    @staticmethod
    def channel_args(symbols: list[str]) -> list[dict[str, str]]:
        """Per instId its mark price, open interest and funding rate; per family its ADL warning; and,
        when any swap is held, the liquidation stream of every swap (``OkxParser`` keeps the
        connection's own contracts)."""
        args: list[dict[str, str]] = []
        for s in symbols:
            args.append({"channel": "mark-price", "instId": s})
            args.append({"channel": "open-interest", "instId": s})
            args.append({"channel": "funding-rate", "instId": s})
        for family in dict.fromkeys(inst_family(s) for s in symbols):
            args.append({"channel": "adl-warning", "instType": "SWAP", "instFamily": family})
        if any(s.upper().endswith("-SWAP") for s in symbols):
            args.append({"channel": "liquidation-orders", "instType": "SWAP"})
        return args

    def _op_messages(self, op: str, symbols: list[str]) -> list[str]:
        args = self.channel_args(symbols)
        if op == "unsubscribe":  # the liquidation stream covers the connection's other contracts too
            args = [a for a in args if a["channel"] != "liquidation-orders"]
        return [json.dumps({"op": op, "args": args[i: i + MAX_ARGS_PER_MESSAGE]}, separators=(",", ":"))
                for i in range(0, len(args), MAX_ARGS_PER_MESSAGE)]

    def subscribe_messages(self, symbols: list[str]) -> list[str]:
        return self._op_messages("subscribe", symbols)

    def unsubscribe_messages(self, symbols: list[str]) -> list[str]:
        return self._op_messages("unsubscribe", symbols)

    def is_reconnect_notice(self, frame: str | bytes | dict[str, Any]) -> bool:
        return is_reconnect_notice(frame)

    def new_parser(self, skip: frozenset[str] = frozenset()) -> OkxParser:
        return OkxParser(skip)

    def mark_price_poll(self, symbol: str) -> RestPoll:
        return RestPoll(path=MARK_PRICE_PATH, params={"instType": "SWAP", "instId": symbol},
                        interval_s=MARK_PRICE_INTERVAL_S)

    def funding_polls(self, symbols: list[str]) -> list[RestPoll]:
        """One ``funding-rate`` request per swap (the mark-price answer carries no funding)."""
        return [RestPoll(path=FUNDING_PATH, params={"instId": s}, interval_s=FUNDING_INTERVAL_S)
                for s in symbols if s.endswith("-SWAP")]

    def rest_polls(self, symbols: list[str]) -> list[RestPoll]:
        polls: list[RestPoll] = []
        for s in symbols:
            polls.append(RestPoll(path=OPEN_INTEREST_PATH, params={"instType": "SWAP", "instId": s},
                                  interval_s=OPEN_INTEREST_INTERVAL_S))
            polls.append(self.mark_price_poll(s))
            polls.extend(self.funding_polls([s]))
        for family in dict.fromkeys(inst_family(s) for s in symbols):
            polls.append(RestPoll(path=INSURANCE_PATH, params={"instType": "SWAP", "instFamily": family},
                                  interval_s=INSURANCE_INTERVAL_S))
        return polls

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0,
                   symbols: list[str] | None = None) -> list[Event]:
        try:
            return self._parse_rest(poll, body, recv_ns)
        except Exception as exc:  # noqa: BLE001 - never raise into the poller
            return [_error(f"{poll.path}: parser failure {type(exc).__name__}", recv_ns)]

    @staticmethod
    def _parse_rest(poll: RestPoll, body: str | bytes, recv_ns: int) -> list[Event]:
        try:
            doc = _decoder.decode(body)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return [_error(f"{poll.path}: not JSON: {_snippet(body)}", recv_ns)]
        if not isinstance(doc, dict):
            return [_error(f"{poll.path}: body is not an object: {_snippet(body)}", recv_ns)]
        if str(doc.get("code", "0")) != "0":
            return [_error(f"{poll.path}: {doc.get('code')}: {doc.get('msg')}", recv_ns,
                           poll.params.get("instId", ""))]
        data = doc.get("data")
        if not isinstance(data, list):
            return [_error(f"{poll.path}: body without data list: {_snippet(body)}", recv_ns)]
        problems = Problems(VENUE)
        out: list[Event] = []
        for item in data:
            if poll.path == MARK_PRICE_PATH:
                ev = _mark_item(item, recv_ns, problems)
            elif poll.path == OPEN_INTEREST_PATH:
                ev = _open_interest_item(item, recv_ns, problems)
            elif poll.path == INSURANCE_PATH:
                ev = _insurance_item(item, poll.params.get("instFamily", ""), recv_ns, problems)
            elif poll.path == FUNDING_PATH:
                ev = _funding_item(item, recv_ns, problems)
            else:
                problems.add(f"no parser for REST path {poll.path}")
                break
            if ev is not None:
                out.append(ev)
        out.extend(problems.status(recv_ns))
        return out


ADAPTER = OkxAdapter()
