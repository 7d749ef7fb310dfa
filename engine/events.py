"""Normalized events: the only thing that crosses from feeds/ into the engine.

Every event is a small frozen msgspec Struct. Encoded with ``encode_event`` it is exactly one
line of the ``adlwatch tail --json`` contract in DESIGN.md (``type`` first, then ``venue, symbol,
ts, recv_ns`` and the type's own fields).

They are engine types: feeds/ builds them from the venues' bytes, the engine dispatches on their
classes, and nothing here does I/O.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class Event(msgspec.Struct, frozen=True, tag_field="type", kw_only=True, gc=False):
    venue: str
    symbol: str
    ts: int | None  # exchange time, ms since epoch; None where the frame carries none
    recv_ns: int = 0  # local receive time of the frame this event came from

    kind: ClassVar[str] = "event"


class MarkPrice(Event, frozen=True, tag="mark_price", kw_only=True):
    price: float
    kind: ClassVar[str] = "mark_price"


class IndexPrice(Event, frozen=True, tag="index_price", kw_only=True):
    price: float
    kind: ClassVar[str] = "index_price"


class FundingRate(Event, frozen=True, tag="funding_rate", kw_only=True):
    rate: float
    next_funding_ts: int | None = None
    kind: ClassVar[str] = "funding_rate"


class OpenInterest(Event, frozen=True, tag="open_interest", kw_only=True):
    open_interest: float  # one side, base units
    open_interest_usd: float | None = None
    kind: ClassVar[str] = "open_interest"


class InsuranceFund(Event, frozen=True, tag="insurance_fund", kw_only=True):
    symbols: list[str]  # contracts the pool backs; ``symbol`` is the first
    asset: str
    balance: float
    kind: ClassVar[str] = "insurance_fund"


class AdlAlert(Event, frozen=True, tag="adl_alert", kw_only=True):
    state: str  # normal | warning | adl
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    kind: ClassVar[str] = "adl_alert"


class Liquidation(Event, frozen=True, tag="liquidation", kw_only=True):
    """One forced order from a venue's public liquidation stream. ``side`` is the side of the
    LIQUIDATED position (long / short), whatever side the venue's order took."""

    side: str  # long | short
    price: float
    size: float  # base units (coin)
    notional_usd: float
    kind: ClassVar[str] = "liquidation"


class AdlRisk(Event, frozen=True, tag="adl_risk", kw_only=True):
    """A venue's public, symbol-level ADL risk rating (Binance ``GET /fapi/v1/symbolAdlRisk``: low,
    medium or high, updated every 30 minutes); ``ts`` is the venue's ``updateTime``."""

    rating: str  # low | medium | high
    kind: ClassVar[str] = "adl_risk"


class ForcedClose(Event, frozen=True, tag="forced_close", kw_only=True):
    """A followed account's position closed (wholly or in part) by the venue, as the venue's own
    record says: liquidated or auto-deleveraged. ``symbol`` is the contract, ``account`` the
    follower's reference (as ``AccountState.symbol``), ``ts`` the venue's time of the fill. Sizes in
    adlwatch's units (linear: coin; inverse: contracts). A close by the user's own trade is never
    one of these."""

    account: str
    side: str  # long | short: the side of the position that was closed
    cause: str  # liquidation | adl
    price: float  # the fill price
    size: float  # closed by this fill
    remaining: float  # left open after it (0: the position is gone)
    detail: str = ""  # the venue's words for the record (e.g. "autoCloseType ADL", "execType BustTrade")
    kind: ClassVar[str] = "forced_close"


FORCED_CLOSE_CAUSES = ("liquidation", "adl")


class FeedStatus(Event, frozen=True, tag="status", kw_only=True):
    state: str  # connected | subscribed | stale | disconnected | error
    detail: str = ""
    kind: ClassVar[str] = "status"


class ImportedPosition(msgspec.Struct, frozen=True, kw_only=True):
    """One position as the venue reports it for the user's own account (read-only import).

    Sizes are in adlwatch's units (linear: coin; inverse: contracts), whatever the venue's wire
    unit (OKX contracts are converted with ctVal by the importer). The venue's own liquidation
    price and ADL indicator travel beside the position so the engine can show them next to ours.
    """

    symbol: str  # the venue's own symbol, as in the portfolio file
    side: str  # long | short
    size: float
    entry_price: float
    leverage: float
    margin_mode: str  # cross | isolated
    isolated_margin: float | None = None  # isolated only: margin without uPnL, settlement asset
    liquidation_price: float | None = None  # the venue's figure; None where it reports none (or 0)
    adl_lights: int | None = None  # the venue's ADL indicator on a 1..5 scale (5 = first in the queue)
    adl_raw: str | None = None  # the venue's own value and scale, e.g. "adlQuantile 3 of 0-4"
    mark_price: float | None = None  # the venue's mark when it reported
    unrealized_pnl: float | None = None  # the venue's figure
    # The account's own maintenance brackets where the venue gives them (Binance leverageBracket):
    # rows of (floor, cap, mmr, max_leverage, maint_amount), notional basis.
    brackets: list[tuple[float, float, float, float, float]] | None = None
    # The venue's own position-panel figures, where its position read carries them (issue 15):
    # its break-even price (Binance ``breakEvenPrice``, OKX ``bePx``), the funding the position has
    # brought since it opened (+ received, − paid, settlement asset: Hyperliquid ``cumFunding``
    # negated, OKX ``fundingFee``, Binance FUNDING_FEE income), its take-profit and stop-loss
    # trigger prices (Bybit ``takeProfit``/``stopLoss``; None where none is set).
    break_even_price: float | None = None
    funding_pnl: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None
    # The venue's own maintenance margin of the position (settlement asset) where its read gives it
    # (Binance ``maintMargin``): held with ``unrealized_pnl`` for a cross position adlwatch cannot
    # model (a COIN-M quarterly), whatever its contract kind.
    maintenance_margin: float | None = None


class AccountState(Event, frozen=True, tag="account_state", kw_only=True):
    """The whole state of one followed account: ``symbol`` is the account's reference (the
    Hyperliquid address, or the key label of an API account), ``venue`` its venue."""

    settle: str  # USDT, USDC, or the coin of an inverse account
    wallet_balance: float  # cross collateral (without uPnL), settlement asset
    positions: list[ImportedPosition] = msgspec.field(default_factory=list)
    account_value: float | None = None  # the venue's margin balance (wallet + uPnL), where reported
    maintenance_margin: float | None = None  # the venue's cross maintenance margin, where reported
    # What the key may do where the venue says (e.g. ["read", "trade"]); a key that can trade or
    # withdraw is warned about loudly. Empty where the venue does not report it.
    permissions: list[str] = msgspec.field(default_factory=list)
    warnings: list[str] = msgspec.field(default_factory=list)
    kind: ClassVar[str] = "account_state"


AnyEvent = (
    MarkPrice | IndexPrice | FundingRate | OpenInterest | InsuranceFund | AdlAlert | AdlRisk | Liquidation
    | ForcedClose | FeedStatus | AccountState
)

# What the monitor (the engine and the screen) never reads: its live and replay sources skip these
# kinds at the parser (``VenueAdapter.new_parser(skip=...)``), which saves most of the parsing.
MONITOR_SKIPS = frozenset({"index_price"})

STATUS_STATES = ("connected", "subscribed", "stale", "disconnected", "error")
ADL_STATES = ("normal", "warning", "adl")

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    """One ``tail --json`` line (without the newline)."""
    return _encoder.encode(event)


def decode_event(line: bytes | str) -> Event:
    return _decoder.decode(line)
