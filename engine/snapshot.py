"""What the engine hands out: the immutable snapshot and the figures it carries.

Values only: the engine (engine/risk.py, engine/accounts.py, engine/hedges.py) builds them, the
monitor, the screen and the CLI read them. Encoded with msgspec, sides and margin modes print as
their words ("long", "cross").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import msgspec

from adlwatch.engine.enums import MarginMode, Side

MarkKey = tuple[str, str]  # (venue, symbol)


class PositionRisk(msgspec.Struct, frozen=True, kw_only=True):
    account: int
    index: int
    venue: str
    symbol: str
    side: Side
    size: float
    entry_price: float
    mark_price: float | None
    margin_mode: MarginMode
    leverage: float
    kind: str
    settle: str
    isolated_margin: float | None
    notional: float | None
    unrealized_pnl: float | None
    margin_balance: float | None
    maintenance_margin: float | None
    effective_leverage: float | None
    liquidation_price: float | None
    bankruptcy_price: float | None
    distance_pct: float | None
    distance_price: float | None
    adl_score: float | None
    adl_formula: str
    adl_quantile: int | None = None
    adl_alternatives: dict[str, float | None] = msgspec.field(default_factory=dict)
    hedge: str | None = None
    alert_below_pct: float | None = None  # the position's (or its account's) own threshold
    # Imported positions: the venue's own figures beside ours, and why they may differ.
    imported: bool = False
    venue_liquidation_price: float | None = None
    venue_adl_lights: int | None = None
    venue_adl_raw: str | None = None
    liquidation_diff_pct: float | None = None  # (ours − venue's) ÷ venue's, in %
    disagreement: str | None = None  # set when the figures differ beyond 0.1 % (or one ADL light)
    # The tier table the figures stand on: its date as the table gives it (None when the tiers are
    # the portfolio's ``mmr`` override or the account's own brackets, read from the venue now), its
    # source ("portfolio override" for ``mmr``), whether it was read from the venue itself, and the
    # date in ms (None when the table gives none).
    tiers_as_of: str | None = None
    tiers_source: str | None = None
    tiers_verified: bool = True
    tiers_as_of_ms: int | None = None
    # The trader's panel (issue 15): ROE in % = uPnL ÷ the position's initial margin (isolated: its
    # isolated margin; cross: entry value ÷ leverage); the notional in USD (linear: the quote value,
    # USDT/USDC taken as USD; inverse: contracts × face value); the uPnL in USD (a coin-settled uPnL
    # × the mark; linear: the uPnL itself); the position's margin (isolated: isolated margin + uPnL;
    # cross: entry value ÷ leverage); the break-even price (the entry moved by the taker fees to
    # open and to close at the instrument's ``taker_fee``).
    roe_pct: float | None = None
    notional_usd: float | None = None
    unrealized_pnl_usd: float | None = None
    position_margin: float | None = None
    break_even_price: float | None = None
    # The contract's funding (the latest ``FundingRate``: the rate per period as a fraction, and the
    # next funding time in ms; None where the feed gives none); and the venue's own panel figures of
    # a followed position (``ImportedPosition``): its break-even, the funding it has brought since it
    # opened (+ received, − paid, settlement asset), its take-profit and stop-loss triggers.
    funding_rate: float | None = None
    next_funding_ms: int | None = None
    venue_break_even_price: float | None = None
    funding_pnl: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None
    # What the venue would have done (the monitor sets these; the engine never does): "liquidated"
    # (the mark reached the liquidation price: the figures are frozen there) or "adl" (closed by the
    # venue's auto-deleveraging); when (ms, the replay's or the wall clock; None in a what-if) and at
    # what price.
    closed: str | None = None
    closed_at_ms: int | None = None
    closed_price: float | None = None

    def tiers_stale(self, now_ms: int | None) -> bool:
        """The figures stand on a table older than ``TIERS_STALE_AFTER_DAYS`` at ``now_ms``, or an
        unverified or undated one. The engine has no clock, so the age is judged by whoever shows the
        figures, at their time: the monitor's (the replay's clock in a replay), check's wall clock.
        With ``now_ms`` None only unverified and undated tables count."""
        if self.tiers_as_of is None:  # the portfolio's own rate, or the venue's brackets of the account
            return not self.tiers_verified
        if not self.tiers_verified or self.tiers_as_of_ms is None:
            return True
        return now_ms is not None and now_ms - self.tiers_as_of_ms > TIERS_STALE_AFTER_DAYS * DAY_MS


TIERS_STALE_AFTER_DAYS = 30
DAY_MS = 86_400_000


def funding_countdown_s(next_funding_ms: int | None, now_ms: int | float | None) -> float | None:
    """Seconds from ``now_ms`` to the next funding (the countdown beside the rate), judged on the
    shower's clock like ``tiers_stale``; None when either time is unknown or the funding is past
    (the feed has not yet said the time of the one after)."""
    if next_funding_ms is None or now_ms is None or next_funding_ms <= now_ms:
        return None
    return (next_funding_ms - now_ms) / 1000.0


def as_of_ms(as_of: str | None) -> int | None:
    """A table's ``as_of`` (ISO date or date-time; UTC where no zone is given) in ms; None when it
    gives no date ("undated", empty)."""
    if not as_of:
        return None
    try:
        when = datetime.fromisoformat(as_of.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


class AccountRisk(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    venue: str
    settle: str
    wallet_balance: float
    unrealized_pnl: float | None  # cross positions only
    margin_balance: float | None  # wallet + cross uPnL
    maintenance_margin: float | None  # cross positions only
    margin_ratio: float | None  # maintenance margin ÷ margin balance; liquidation at 1
    positions: int
    cross_positions: int
    source: str = "manual"  # manual | address 0x…  | api key 'label'
    awaiting_venue: bool = False  # a followed account the venue has not reported yet
    reported_margin_balance: float | None = None  # the venue's own figure (followed accounts)
    warnings: tuple[str, ...] = ()


class ContractRisk(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    symbol: str
    mark_price: float | None
    open_interest: float | None  # one side, base units
    open_interest_usd: float | None
    fund_balance_usd: float | None
    fund_symbols: tuple[str, ...] = ()
    fund_to_oi: float | None = None
    funding_rate: float | None = None  # per funding period, as a fraction
    next_funding_ms: int | None = None
    # The venue's public symbol-level ADL rating (Binance ``symbolAdlRisk``: low | medium | high) and
    # its time in ms; None where the venue publishes none.
    venue_adl_risk: str | None = None
    venue_adl_risk_ms: int | None = None
    # The insurance pool behind ``fund_to_oi``: how many contracts it backs, how many of them have a
    # known open interest; with fewer known the ratio is an upper bound (``fund_to_oi_partial``),
    # never the pool's own figure. Assets no known mark can value (Binance's BNFCR) are left out of
    # ``fund_balance_usd`` and named here.
    fund_members: int = 0
    fund_members_with_oi: int = 0
    fund_to_oi_partial: bool = False
    fund_unvalued_assets: tuple[str, ...] = ()


class ShockSpec(msgspec.Struct, frozen=True):
    """A move of ``pct`` percent (−10 = a 10 % fall) of one symbol, one venue, or every mark."""

    pct: float
    venue: str | None = None
    symbol: str | None = None

    def matches(self, venue: str, symbol: str) -> bool:
        return (self.venue is None or self.venue == venue) and (self.symbol is None or self.symbol == symbol)


def shocked_price(price: float, shocks: Iterable[ShockSpec], venue: str, symbol: str) -> float:
    """``price`` moved by every shock that matches its contract, in order: shocks compound
    (+5 % then −5 % is ×1.05×0.95)."""
    for s in shocks:
        if s.matches(venue, symbol):
            price = price * (1.0 + s.pct / 100.0)
    return price


def shocked_marks(marks: Mapping[MarkKey, float], shocks: Iterable[ShockSpec]) -> dict[MarkKey, float]:
    """Every mark moved by the shocks that match its contract."""
    shocks = tuple(shocks)
    return {key: shocked_price(price, shocks, *key) for key, price in marks.items()}


class HedgeLeg(msgspec.Struct, frozen=True, kw_only=True):
    account: int
    index: int
    venue: str
    symbol: str
    side: Side
    base_asset: str
    base_units: float | None  # signed: + long, − short (inverse: contracts × face ÷ mark)
    notional_usd: float | None  # signed, at the mark (inverse: contracts × face)
    mark_price: float | None
    liquidation_price: float | None
    distance_pct: float | None


class LegDeleveraged(msgspec.Struct, frozen=True, kw_only=True):
    """One leg auto-deleveraged at its venue's ADL price now, and what it leaves."""

    leg: HedgeLeg
    adl_price: float | None
    adl_price_basis: str
    realised_pnl: float | None  # in the leg's settlement asset, into its own account
    residual_base_units: float | None  # the other legs' net (None when they hold different coins)
    residual_notional_usd: float | None
    residual: tuple[HedgeLeg, ...]  # the other legs; those in the same account recomputed without it


class HedgeRisk(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    legs: tuple[HedgeLeg, ...]
    base_asset: str | None  # None when the legs hold different coins (no net in base units)
    net_base_units: float | None
    net_notional_usd: float | None
    if_deleveraged: tuple[LegDeleveraged, ...]


class RiskSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    positions: tuple[PositionRisk, ...]
    accounts: tuple[AccountRisk, ...]
    contracts: tuple[ContractRisk, ...]
    shocks: tuple[ShockSpec, ...] = ()
    # Each hedge group, by name, at the snapshot's marks (a what-if's are the hypothetical ones).
    hedges: tuple[HedgeRisk, ...] = ()

    @property
    def hypothetical(self) -> bool:
        return bool(self.shocks)
