"""ADL ranking scores that are not one venue's own, and the quantity-weighted quintile lights.

Each venue module picks its documented score; these are the named alternatives every position
also gets (BitMEX-style, generic uPnL/margin), so that the UI can show any of them with its name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class AdlInputs:
    """What any ADL formula may need about one position, at the current mark."""

    sign: int  # +1 long, −1 short
    mark_price: float
    entry_price: float
    unrealized_pnl: float
    notional: float  # value at mark, settlement asset
    entry_value: float  # value at entry, settlement asset
    position_margin: float  # isolated margin, or the initial margin share (entry value / leverage) for cross
    wallet_balance: float  # isolated: the isolated margin; cross: the account's wallet balance
    margin_balance: float  # isolated: margin + uPnL; cross: the account's margin balance
    maintenance_margin: float  # isolated: the position's; cross: the account's
    effective_leverage: float


BITMEX = "bitmex_pnl_x_leverage"
UPNL_OVER_MARGIN = "upnl_over_margin"


def bitmex_ranking(x: AdlInputs) -> float:
    """BitMEX: PnL% × effective leverage when PnL% > 0, PnL% ÷ effective leverage otherwise.

    PnL% = (mark value − entry value) / |entry value| (signed for the side); effective leverage =
    |mark value| / (mark value − bankrupt value). https://bitmex.com/app/autoDeleveraging
    """
    if x.entry_value <= 0:
        return 0.0
    return leveraged_pnl(x.unrealized_pnl / x.entry_value, x.effective_leverage)


def leveraged_pnl(pnl_pct: float, leverage: float) -> float:
    """PnL% × leverage when in profit, PnL% ÷ leverage in loss (BitMEX's rule, OKX's wording);
    with no usable leverage, a profit ranks first (inf) and a loss last (0)."""
    if not math.isfinite(leverage) or leverage <= 0:
        return math.inf if pnl_pct > 0 else 0.0
    return pnl_pct * leverage if pnl_pct > 0 else pnl_pct / leverage


def leveraged_pnl_vector(pnl_pct: np.ndarray, leverage: np.ndarray) -> np.ndarray:
    """``leveraged_pnl`` over arrays."""
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = np.isfinite(leverage) & (leverage > 0)
        ranked = np.where(pnl_pct > 0, pnl_pct * leverage, pnl_pct / leverage)
    return np.where(usable, ranked, np.where(pnl_pct > 0, np.inf, 0.0))


def upnl_over_margin(x: AdlInputs) -> float:
    """Generic: uPnL ÷ the position's margin (isolated margin, or initial margin for cross)."""
    if x.position_margin <= 0:
        return math.inf if x.unrealized_pnl > 0 else 0.0
    return x.unrealized_pnl / x.position_margin


def quintile_lights(scores: Sequence[float], quantities: Sequence[float]) -> list[int]:
    """1–5 lights per position: quantity-weighted quintile of its score among the same side.

    Sorted by score, highest first; a position's percentile is where its cumulative quantity share
    ends, rounded up to the next 20 %: 20 % (the front of the queue) is 5 lights, 100 % is 1 light.
    This reproduces BitMEX's worked example (https://testnet.bitmex.com/app/autoDeleveragingExamples;
    test X1). Ties keep their input order.
    """
    scores_arr = np.asarray(scores, dtype=float)
    qty = np.asarray(quantities, dtype=float)
    if scores_arr.size == 0:
        return []
    order = np.argsort(-scores_arr, kind="stable")
    cumulative = np.cumsum(qty[order])
    total = cumulative[-1]
    if total <= 0:
        return [1] * len(scores_arr)
    # ceil(share / 20 %) with a relative tolerance, so 80 % of 100 lands in bucket 4, not 5.
    buckets = np.ceil(cumulative * 5.0 / total - 1e-9).clip(1, 5).astype(int)
    lights = np.empty(len(scores_arr), dtype=int)
    lights[order] = 6 - buckets
    return lights.tolist()


def bitmex_ranking_vector(x: AdlInputs) -> np.ndarray:
    """``bitmex_ranking`` over arrays (every field of ``x`` an array of the same length)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pnl_pct = np.where(x.entry_value > 0, x.unrealized_pnl / x.entry_value, 0.0)
    return np.where(x.entry_value > 0, leveraged_pnl_vector(pnl_pct, x.effective_leverage), 0.0)


def upnl_over_margin_vector(x: AdlInputs) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x.position_margin > 0, x.unrealized_pnl / x.position_margin,
                        np.where(x.unrealized_pnl > 0, np.inf, 0.0))


def lights_for_share(ahead: float, own: float, total: float) -> int:
    """Lights of one position with ``ahead`` quantity ranked at or above it, out of ``total`` (its own
    included): the ``quintile_lights`` rule for one position. Ties rank it after the others."""
    share = (ahead + own) / total if total > 0 else 1.0
    return 6 - min(5, max(1, math.ceil(share * 5.0 - 1e-9)))


def at_liquidated_bankruptcy(mark: float, previous_mark: float,
                             liquidated_bankruptcy: Callable[[], float | None]) -> float:
    """ADL at the bankruptcy price of the liquidated order (Binance, Bybit): a venue's ``adl_price``.

    ``liquidated_bankruptcy`` gives that price (size-weighted) where it is modelled (the cascade);
    nobody outside the venue sees it, and it lies at about the mark when ADL runs, so the mark stands in.
    """
    price = liquidated_bankruptcy()
    return mark if price is None else price
