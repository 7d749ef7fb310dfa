"""Hyperliquid public feed (perps on the first perp dex): every wire detail.

Sources: the Hyperliquid GitBook (https://hyperliquid.gitbook.io/hyperliquid-docs/, synced as
``dzmbs/hyperliquid-docs``; research/exchanges.md §4.3–4.4):
- ``for-developers/api/websocket`` (URL), ``…/websocket/subscriptions`` (``activeAssetCtx``,
  ``fastAssetCtxs`` — base64 of raw DEFLATE, snapshot then changed coins only, with a decode test
  vector), ``…/websocket/timeouts-and-heartbeats`` (server closes a connection it has not sent to in
  60 s; ``{"method":"ping"}`` → ``{"channel":"pong"}``), ``…/rate-limits-and-user-limits``.
- ``for-developers/api/info-endpoint`` (``metaAndAssetCtxs``, ``vaultDetails``).

Values in asset contexts arrive as strings although the TypeScript types say number. Frames carry
no exchange time, so every event has ``ts=None``.

Funding: ``funding`` in an asset context is the rate of the coming hourly payment. "The funding rate on
Hyperliquid is paid every hour" and "the funding cap and funding interval do not depend on the asset"
(https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding), so ``FundingRate.next_funding_ts``
is the next whole hour (UTC) after the frame's local receive time; None when the frame has no wall-clock
receive time (``recv_ns`` 0 or a test counter). ``openInterest`` is taken to be in base coin
(UNCONFIRMED by an official statement; consistent with the examples).

Liquidations: Hyperliquid publishes no public liquidation stream. Its ``trades`` channel (``WsTrade``:
coin, side, px, sz, hash, time, tid, users [buyer, seller]) carries no liquidation flag; only a user's own
fills (``userFills``/``userEvents``/``userFillsByTime``, public by address) say that a fill was a liquidation
or an ADL, and its node fills reach the ``hl-mainnet-node-data`` S3 bucket afterwards, not live (docs
``historical-data``). The maintainer of a Hyperliquid SDK confirms there is no API for every user's
liquidations (nktkas/hyperliquid issue #17). So this adapter subscribes none and makes no ``Liquidation``;
the followed addresses' own liquidations and ADL fills are read by the follower (account.py).

Insurance fund: Hyperliquid documents none. ``InsuranceFund`` events from this module are a PROXY:
the account value of HLP (the protocol vault that performs liquidations), read from ``vaultDetails``
— see ``INSURANCE_PROXY_LABEL``. The vault address is HLP by common knowledge, not by an official
page (UNCONFIRMED).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from dataclasses import dataclass
from sys import intern
from typing import Any

import msgspec

from adlwatch.engine.events import (
    Event,
    FeedStatus,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    MarkPrice,
    OpenInterest,
)
from adlwatch.feeds.venue import AdapterBase, Heartbeat, RestPoll
from adlwatch.feeds.wire import Problems, data_kinds, error_status, without
from adlwatch.feeds.wire import ms as _ms
from adlwatch.feeds.wire import number as _number
from adlwatch.feeds.wire import price as _price
from adlwatch.feeds.wire import snippet as _snippet

VENUE = "hyperliquid"
WS_URL = "wss://api.hyperliquid.xyz/ws"
REST_URL = "https://api.hyperliquid.xyz"
INFO_PATH = "/info"

PING_MESSAGE = '{"method":"ping"}'
PING_INTERVAL_S = 50.0  # the server closes a connection it has not sent to in 60 s
MAX_SUBSCRIPTIONS_PER_CONNECTION = 1000  # 1000 subscriptions and 10 connections per IP
MAX_INFLATED_BYTES = 16 * 1024 * 1024  # fastAssetCtxs snapshot cap; a bigger inflate is rejected

HLP_VAULT_ADDRESS = "0xdfc24b077bc1425ad1dea75bcb6f8158e10df303"
INSURANCE_PROXY_LABEL = "HLP vault account value"
INSURANCE_PROXY_ASSET = "USDC"
INSURANCE_PROXY_SYMBOLS = ("*",)  # the vault backstops every market

META_AND_CTXS_BODY = {"type": "metaAndAssetCtxs"}
VAULT_DETAILS_BODY = {"type": "vaultDetails", "vaultAddress": HLP_VAULT_ADDRESS}
META_INTERVAL_S = 30.0  # info weight 20 of 1200/min
VAULT_INTERVAL_S = 300.0

_INF = math.inf

FUNDING_INTERVAL_MS = 3_600_000  # every hour, for every asset (trading/funding)
_NS_PER_FUNDING = FUNDING_INTERVAL_MS * 1_000_000
_WALL_CLOCK_FROM_NS = 946_684_800 * 10**9  # 2000-01-01: an earlier recv_ns is no wall-clock time


# The hour of the latest frame, [from_ns, to_ns), and the funding time that ends it (ms): frames of the
# same hour reuse it (two comparisons instead of big-integer arithmetic on every frame of the fast path).
_funding_hour: list = [0, 0, None]


def next_funding_ms(recv_ns: int) -> int | None:
    """The next whole hour (ms) after ``recv_ns``: when Hyperliquid pays the funding a frame received
    then announces. None when ``recv_ns`` is no wall-clock time."""
    if recv_ns < _WALL_CLOCK_FROM_NS:
        return None
    hour = recv_ns // _NS_PER_FUNDING
    next_ms = (hour + 1) * FUNDING_INTERVAL_MS
    _funding_hour[:] = (hour * _NS_PER_FUNDING, (hour + 1) * _NS_PER_FUNDING, next_ms)
    return next_ms


def next_funding_times_ms(recv_ns: Any) -> Any:
    """``next_funding_ms`` of a numpy array of receive times (ns) at once, -1 where one is no wall-clock
    time: the next funding of each Tardis ``derivative_ticker`` row of Hyperliquid, whose
    ``funding_timestamp`` is empty (feeds/replay.py). Same hour rule as the live frames."""
    import numpy as np

    return np.where(recv_ns < _WALL_CLOCK_FROM_NS, -1, (recv_ns // _NS_PER_FUNDING + 1) * FUNDING_INTERVAL_MS)


def _error(detail: str, recv_ns: int, symbol: str = "") -> FeedStatus:
    return error_status(VENUE, detail, recv_ns, symbol)


def _notional(size: float, mark: float | None) -> float | None:
    """size × mark in USD, or None when there is no mark or the product overflows."""
    if mark is None:
        return None
    usd = size * mark
    return usd if usd < _INF else None


_decoder = msgspec.json.Decoder()


def decode_fast_asset_ctxs(payload: str) -> Any:
    """base64 → raw DEFLATE (RFC 1951, wbits −15) → JSON, as the subscriptions page prescribes.

    Raises ValueError on anything malformed (callers turn it into a FeedStatus).
    """
    text64 = payload.strip()
    # Lenient on form (URL-safe alphabet, missing padding), strict on content: anything else is corrupt.
    altchars = b"-_" if ("-" in text64 or "_" in text64) else None
    text64 += "=" * (-len(text64) % 4)
    try:
        raw = base64.b64decode(text64, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"bad base64: {exc}") from None
    inflater = zlib.decompressobj(-15)
    try:
        text = inflater.decompress(raw, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise ValueError(f"bad deflate stream: {exc}") from None
    if inflater.unconsumed_tail:
        raise ValueError("fastAssetCtxs payload inflates beyond the size cap")
    try:
        return _decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(f"inflated payload is not JSON: {exc}") from None


def _ctx_events(coin: str, ctx: dict[str, Any], recv_ns: int, problems: Problems) -> list[Event]:
    """MarkPrice, IndexPrice (oracle), FundingRate and OpenInterest from one asset context."""
    out: list[Event] = []
    mark = problems.price(ctx.get("markPx"), "mark price", coin)
    if mark is not None:
        out.append(MarkPrice(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, price=mark))
    if "oraclePx" in ctx and (oracle := problems.price(ctx.get("oraclePx"), "oracle price", coin)) is not None:
        out.append(IndexPrice(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, price=oracle))
    if "funding" in ctx:
        rate = problems.number(ctx.get("funding"), "funding rate", coin)
        if rate is not None:
            out.append(FundingRate(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, rate=rate,
                                   next_funding_ts=next_funding_ms(recv_ns)))
    if "openInterest" in ctx:
        oi = _number(ctx.get("openInterest"))
        if oi is None or oi < 0:
            problems.add(f"{coin}: bad open interest {ctx.get('openInterest')!r}", coin)
        else:
            out.append(OpenInterest(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, open_interest=oi,
                                    open_interest_usd=_notional(oi, mark)))
    return out


class _Ctx(msgspec.Struct, gc=False):
    markPx: float
    oraclePx: float
    funding: float
    openInterest: float


class _CtxData(msgspec.Struct, gc=False):
    coin: str
    ctx: _Ctx


class _ActiveCtx(msgspec.Struct, gc=False):
    channel: str
    data: _CtxData


# Lax decoding turns Hyperliquid's numeric strings into floats on the hot path.
_active_decoder = msgspec.json.Decoder(_ActiveCtx, strict=False)


def _fast_ctx(frame: str | bytes, recv_ns: int, index: bool = True, funding: bool = True) -> list[Event] | None:
    """The four events of a complete, valid activeAssetCtx frame; None sends it the careful way.

    ``index`` / ``funding`` False: those events are not built (their values are still checked)."""
    try:
        typed = _active_decoder.decode(frame)
    except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
        return None
    c = typed.data.ctx
    coin = intern(typed.data.coin)  # one string per contract, not per frame: replays hold millions
    mark, oracle, rate, oi = c.markPx, c.oraclePx, c.funding, c.openInterest
    if not (typed.channel == "activeAssetCtx" and coin and 0.0 < mark < _INF and 0.0 < oracle < _INF
            and -_INF < rate < _INF and 0.0 <= oi < _INF):
        return None
    usd = oi * mark  # _notional, inline: this runs for every frame
    out: list[Event] = [MarkPrice(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, price=mark)]
    if index:
        out.append(IndexPrice(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, price=oracle))
    if funding:
        hour = _funding_hour
        next_ms = hour[2] if hour[0] <= recv_ns < hour[1] else next_funding_ms(recv_ns)
        out.append(FundingRate(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, rate=rate, next_funding_ts=next_ms))
    out.append(OpenInterest(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, open_interest=oi,
                            open_interest_usd=usd if usd < _INF else None))
    return out


class HyperliquidParser:
    """Stateless: fastAssetCtxs deltas carry whole marks, so nothing needs merging.
    ``skip``: event kinds not to build (see ``FrameParser``)."""

    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        self.skip = skip = data_kinds(skip)
        self._lean = not skip.isdisjoint(("mark_price", "open_interest"))  # the fast path builds both
        self._index = "index_price" not in skip
        self._funding = "funding_rate" not in skip

    def parse(self, frame: str | bytes, recv_ns: int = 0) -> list[Event]:
        try:
            fast = _fast_ctx(frame, recv_ns, self._index, self._funding)
            if fast is None:
                return without(self._careful(frame, recv_ns), self.skip)
            return without(fast, self.skip) if self._lean else fast
        except Exception as exc:  # noqa: BLE001 - a parser must never stop the stream
            return [_error(f"parser failure {type(exc).__name__}: {_snippet(frame)}", recv_ns)]

    def _careful(self, frame: str | bytes, recv_ns: int) -> list[Event]:
        """Any frame, checked field by field."""
        try:
            doc = _decoder.decode(frame)
        except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
            return [_error(f"not JSON: {_snippet(frame)}", recv_ns)]
        if not isinstance(doc, dict) or not isinstance(doc.get("channel"), str):
            return [_error(f"frame without channel: {_snippet(frame)}", recv_ns)]
        channel = doc["channel"]
        data = doc.get("data")
        if channel in ("pong", "subscriptionResponse"):
            return []
        if channel == "error":
            return [_error(f"server error: {_snippet(data if data is not None else '')}", recv_ns)]
        problems = Problems(VENUE)
        out: list[Event] = []
        if channel in ("activeAssetCtx", "activeSpotAssetCtx"):
            if not isinstance(data, dict) or not isinstance(data.get("coin"), str) or not data["coin"] \
                    or not isinstance(data.get("ctx"), dict):
                return [_error(f"activeAssetCtx of unexpected shape: {_snippet(frame)}", recv_ns)]
            out = _ctx_events(data["coin"], data["ctx"], recv_ns, problems)
        elif channel == "fastAssetCtxs":
            if not isinstance(data, str):
                return [_error("fastAssetCtxs data is not a string", recv_ns)]
            try:
                marks = decode_fast_asset_ctxs(data)
            except ValueError as exc:
                return [_error(f"fastAssetCtxs: {exc}", recv_ns)]
            if not isinstance(marks, dict):
                return [_error("fastAssetCtxs payload is not an object", recv_ns)]
            for coin, ctx in marks.items():
                if not coin:
                    problems.add("fastAssetCtxs entry without a coin name")
                elif not isinstance(ctx, dict):
                    problems.add(f"{coin}: fastAssetCtxs entry is not an object", coin)
                elif "markPx" in ctx:  # a delta may carry only the fields that changed (e.g. midPx)
                    mark = _price(ctx["markPx"])
                    if mark is None:
                        problems.add(f"{coin}: bad mark price {ctx['markPx']!r}", coin)
                    else:
                        out.append(MarkPrice(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, price=mark))
        else:  # a well-formed frame of a channel adlwatch does not use (allMids, trades, l2Book…): no event
            return []
        out.extend(problems.status(recv_ns))
        return out


# --- REST -----------------------------------------------------------------------------------------------

def _meta_and_ctxs(doc: Any, recv_ns: int, wanted: set[str] | None, problems: Problems) -> list[Event]:
    # [{"universe": [{"name": "BTC", ...}, ...]}, [ctx, ...]]: ctx i belongs to universe[i]
    if not (isinstance(doc, list) and len(doc) == 2 and isinstance(doc[0], dict)
            and isinstance(doc[0].get("universe"), list) and isinstance(doc[1], list)):
        problems.add("metaAndAssetCtxs body of unexpected shape")
        return []
    out: list[Event] = []
    for asset, ctx in zip(doc[0]["universe"], doc[1], strict=False):
        if not isinstance(asset, dict) or not isinstance(asset.get("name"), str) or not asset["name"] \
                or not isinstance(ctx, dict):
            problems.add("metaAndAssetCtxs entry of unexpected shape")
            continue
        coin = asset["name"]
        if wanted is not None and coin not in wanted:
            continue
        mark = _price(ctx.get("markPx"))
        if mark is None:
            problems.add(f"{coin}: bad mark price {ctx.get('markPx')!r}", coin)
        else:
            out.append(MarkPrice(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, price=mark))
        oi = _number(ctx.get("openInterest"))
        if oi is not None and oi >= 0:
            out.append(OpenInterest(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, open_interest=oi,
                                    open_interest_usd=_notional(oi, mark)))
        elif "openInterest" in ctx:
            problems.add(f"{coin}: bad open interest {ctx.get('openInterest')!r}", coin)
        if "funding" in ctx:
            rate = problems.number(ctx.get("funding"), "funding rate", coin)
            if rate is not None:
                out.append(FundingRate(venue=VENUE, symbol=coin, ts=None, recv_ns=recv_ns, rate=rate,
                                       next_funding_ts=next_funding_ms(recv_ns)))
    return out


def _vault_proxy(doc: Any, recv_ns: int, problems: Problems) -> list[Event]:
    """The latest HLP account value across the portfolio windows — an insurance-fund PROXY."""
    portfolio = doc.get("portfolio") if isinstance(doc, dict) else None
    if not isinstance(portfolio, list):
        problems.add("vaultDetails body without portfolio")
        return []
    latest: tuple[int, float] | None = None
    for window in portfolio:
        if not (isinstance(window, list) and len(window) == 2 and isinstance(window[1], dict)):
            continue
        history = window[1].get("accountValueHistory")
        if not isinstance(history, list):
            continue
        for point in history:
            if not (isinstance(point, list) and len(point) == 2):
                continue
            ts, value = _ms(point[0]), _number(point[1])
            if ts is not None and value is not None and (latest is None or ts > latest[0]):
                latest = (ts, value)
    if latest is None:
        problems.add("vaultDetails without a usable accountValueHistory point")
        return []
    return [InsuranceFund(venue=VENUE, symbol=INSURANCE_PROXY_SYMBOLS[0], ts=latest[0], recv_ns=recv_ns,
                          symbols=list(INSURANCE_PROXY_SYMBOLS), asset=INSURANCE_PROXY_ASSET, balance=latest[1])]


@dataclass(frozen=True)
class HyperliquidAdapter(AdapterBase):
    name: str = VENUE
    ws_url: str = WS_URL
    rest_url: str = REST_URL
    # Asset contexts push on change, several times a second for listed perps: stale after 1 + 3 s.
    heartbeat: Heartbeat = Heartbeat(interval_s=PING_INTERVAL_S, message=PING_MESSAGE, stale_after_s=4.0,
                                     quiet_after_s=1.0, pong_timeout_s=1.5)  # liveness: ~1 s cadence
    max_streams_per_connection: int = MAX_SUBSCRIPTIONS_PER_CONNECTION
    insurance_proxy_label: str = INSURANCE_PROXY_LABEL

    def connection_url(self, base_url: str, symbols: list[str]) -> str:
        return base_url

    @staticmethod
    def subscriptions(symbols: list[str]) -> list[dict[str, str]]:
        if not symbols:  # no coin named: every market's mark via the compressed feed
            return [{"type": "fastAssetCtxs"}]
        return [{"type": "activeAssetCtx", "coin": s} for s in symbols]

    def subscribe_messages(self, symbols: list[str]) -> list[str]:
        return [json.dumps({"method": "subscribe", "subscription": sub}, separators=(",", ":"))
                for sub in self.subscriptions(symbols)]

    def unsubscribe_messages(self, symbols: list[str]) -> list[str]:
        return [json.dumps({"method": "unsubscribe", "subscription": sub}, separators=(",", ":"))
                for sub in self.subscriptions(symbols)]

    def new_parser(self, skip: frozenset[str] = frozenset()) -> HyperliquidParser:
        return HyperliquidParser(skip)

    def mark_price_poll(self, symbol: str = "") -> RestPoll:
        return RestPoll(path=INFO_PATH, method="POST", json_body=dict(META_AND_CTXS_BODY), interval_s=META_INTERVAL_S)

    def rest_polls(self, symbols: list[str]) -> list[RestPoll]:
        return [
            RestPoll(path=INFO_PATH, method="POST", json_body=dict(META_AND_CTXS_BODY), interval_s=META_INTERVAL_S,
                      symbols=tuple(symbols)),
            RestPoll(path=INFO_PATH, method="POST", json_body=dict(VAULT_DETAILS_BODY), interval_s=VAULT_INTERVAL_S),
        ]

    def parse_rest(self, poll: RestPoll, body: str | bytes, recv_ns: int = 0,
                   symbols: list[str] | None = None) -> list[Event]:
        """Events from one ``/info`` body, for the poll's coins (``symbols`` overrides; none: every coin)."""
        try:
            try:
                doc = _decoder.decode(body)
            except (msgspec.DecodeError, TypeError, ValueError, UnicodeError):
                return [_error(f"{poll.path}: not JSON: {_snippet(body)}", recv_ns)]
            kind = (poll.json_body or {}).get("type")
            problems = Problems(VENUE)
            if kind == "metaAndAssetCtxs":
                coins = symbols or poll.symbols
                out = _meta_and_ctxs(doc, recv_ns, set(coins) if coins else None, problems)
            elif kind == "vaultDetails":
                out = _vault_proxy(doc, recv_ns, problems)
            else:
                problems.add(f"no parser for info request {kind!r}")
                out = []
            out.extend(problems.status(recv_ns))
            return out
        except Exception as exc:  # noqa: BLE001 - never raise into the poller
            return [_error(f"{poll.path}: parser failure {type(exc).__name__}", recv_ns)]


ADAPTER = HyperliquidAdapter()
