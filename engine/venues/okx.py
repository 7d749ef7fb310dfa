"""OKX v5 SWAP rules.

Liquidation when the margin ratio ``(margin + uPnL) / (value × (tier MMR + taker fee))`` falls to
100 %: the taker fee is part of the maintenance requirement, on the value at the mark.
Tiers are by position size in contracts and the tier's MMR applies to the whole position: OKX
publishes no deduction (GET /api/v5/public/position-tiers). Sources:
https://www.okx.com/help/v-tiered-maintenance-margin-ratio-rules and
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers.
UNCONFIRMED: the whole-position reading of the tiers, and OKX has published no numeric example
(exchanges.md O1): our formula is derived from the margin-ratio definition.
ADL normally closes at the mark price (bankruptcy price when the fund is nearly depleted).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from adlwatch.engine.adl import AdlInputs, leveraged_pnl, leveraged_pnl_vector
from adlwatch.engine.margin import MarginRules

RULES = MarginRules(venue="okx", mm_basis="mark", fee="mark")

TITLE = "OKX"
DISPLAY_CODE = "OKX"  # the venue column of the compact positions table
SETTLE_DEFAULT = "USDT"  # an account's settlement asset when no position says otherwise
FOLLOW_BY = "key_name"  # a followed account names its public address, or a read-only key's label

ADL_FORMULA = "okx_pnl_pct_x_eff_leverage"
ADL_PRICE = "mark price (bankruptcy price when the fund is nearly depleted)"

ADL_PRICE_STAND_IN = "mark"


def adl_price(mark: float, previous_mark: float, liquidated_bankruptcy: Callable[[], float | None]) -> float:
    """The price ADL closes a position at: the mark (the bankruptcy price only when OKX's fund is
    nearly depleted, which adlwatch does not model)."""
    return mark


def adl_score(x: AdlInputs) -> float:
    """OKX ``leverage PnL% = position's PnL% × effective leverage``.

    https://www.okx.com/help/iv-introduction-to-auto-deleveraging-adl. UNCONFIRMED: we take PnL% as
    uPnL ÷ position margin (OKX's displayed PnL%), effective leverage as value ÷ (value at mark −
    value at bankruptcy), and divide instead of multiply when losing (BitMEX's rule).
    """
    if x.position_margin <= 0:
        return 0.0
    return leveraged_pnl(x.unrealized_pnl / x.position_margin, x.effective_leverage)


def adl_scores(x: AdlInputs) -> np.ndarray:
    """``adl_score`` over arrays (the population model's vectorised twin)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pnl_pct = np.where(x.position_margin > 0, x.unrealized_pnl / x.position_margin, 0.0)
    return np.where(x.position_margin > 0, leveraged_pnl_vector(pnl_pct, x.effective_leverage), 0.0)
