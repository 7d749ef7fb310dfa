"""Binance USDⓈ-M (and COIN-M) rules.

Maintenance margin: ``notional × MMR(bracket) − maintenance amount``, the bracket chosen by the
notional at the price in question; liquidation price by the LP1 formula, where ``WB − TMM1 + UPNL1``
is the margin that does not move with this contract (isolated: the isolated wallet, TMM1 = UPNL1 = 0),
and the long and short of one contract in hedge mode share one cross liquidation price.
Source: https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93
(“How to Calculate Liquidation Price of USDⓈ-M Futures Contracts”).
No fee term enters the liquidation price. ADL closes at the bankruptcy price of the liquidated
order (https://www.binance.com/en/support/faq/360033525471).
"""

from __future__ import annotations

import numpy as np

from adlwatch.engine.adl import AdlInputs, at_liquidated_bankruptcy
from adlwatch.engine.margin import MarginRules

RULES = MarginRules(venue="binance", mm_basis="mark", fee="none")

TITLE = "Binance"
DISPLAY_CODE = "BIN"  # the venue column of the compact positions table
SETTLE_DEFAULT = "USDT"  # an account's settlement asset when no position says otherwise
FOLLOW_BY = "key_name"  # a followed account names its public address, or a read-only key's label

ADL_FORMULA = "binance_leverage_pnl"
ADL_PRICE = "bankruptcy price of the liquidated order"

ADL_PRICE_STAND_IN = "mark (for the liquidated order's bankruptcy price)"


# ADL closes at the bankruptcy price of the liquidated order.
adl_price = at_liquidated_bankruptcy


def adl_score(x: AdlInputs) -> float:
    """Binance ``LeveragePnL = PnL% × margin ratio``.

    ``PnL% = max(0, uPnL) / max(1, wallet balance)``; ``margin ratio = MM / (wallet + uPnL)``, 0 when
    that margin balance is not positive. Losing positions score 0.
    Source: https://www.binance.com/en/support/faq/360033525471 as quoted on
    https://dev.binance.vision/t/how-to-caculating-leverage-pnl-quantile/17801 (test B4).
    UNCONFIRMED whether Binance scores per account or per position: we score each position with
    its own uPnL against its wallet (isolated: its isolated wallet; cross: the cross wallet) and the
    margin ratio of that wallet — change it here.
    """
    pnl_pct = max(0.0, x.unrealized_pnl) / max(1.0, x.wallet_balance)
    margin_ratio = x.maintenance_margin / x.margin_balance if x.margin_balance > 0 else 0.0
    return pnl_pct * margin_ratio


def adl_scores(x: AdlInputs) -> np.ndarray:
    """``adl_score`` over arrays (the population model's vectorised twin)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pnl_pct = np.maximum(0.0, x.unrealized_pnl) / np.maximum(1.0, x.wallet_balance)
        margin_ratio = np.where(x.margin_balance > 0, x.maintenance_margin / x.margin_balance, 0.0)
    return pnl_pct * margin_ratio
