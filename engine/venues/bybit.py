"""Bybit v5 rules (USDT linear and inverse).

Maintenance margin: ``position value × MMR − MM deduction`` with the position value at entry, as in
Bybit's published liquidation formulas ``LP = Entry ∓ (IM − MM)/Size ∓ ExtraMargin/Size``
(https://www.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract, tests Y1–Y4) and
the inverse cross example (https://help.bybit.com/hc/en-us/articles/360039261334, test Y7).
Deduction recurrence: https://bybitglobal.com/en/announcement-info/margin-parameters (test Y8).
The fee to close (``quantity × bankruptcy price × taker fee``) is part of the requirement and of the
bankruptcy price, as in the inverse example; the instrument carries Bybit's default taker rate.
Bybit's unified account also reserves that fee in an isolated position's initial margin
(``IM = value / leverage + fee to close``, ``MM = value × MMR − deduction + fee to close``;
https://www.kbybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account,
exchanges.md §2.2), so an isolated position whose margin is not given holds what Bybit reserves
(``margin.isolated_initial_margin``): the fee cancels out of the liquidation price, and the
bankruptcy price is where ``value / leverage`` is spent. A margin that is given (a followed
account's position IM) is taken as is. The USDT-contract worked examples (Y1–Y5), stated without a
fee, come out the same with the shipped fee (tests/engine/test_worked_examples.py,
tests/cli/test_worked_examples_cli.py).
Bankruptcy price: https://help.bybit.com/hc/en-us/articles/900000031623 (test Y6).
ADL closes at the bankruptcy price of the liquidated order.
"""

from __future__ import annotations

import numpy as np

from adlwatch.engine.adl import AdlInputs, at_liquidated_bankruptcy, bitmex_ranking, bitmex_ranking_vector
from adlwatch.engine.margin import MarginRules

RULES = MarginRules(venue="bybit", mm_basis="entry", fee="close_at_bankruptcy")

TITLE = "Bybit"
DISPLAY_CODE = "BYB"  # the venue column of the compact positions table
SETTLE_DEFAULT = "USDT"  # an account's settlement asset when no position says otherwise
FOLLOW_BY = "key_name"  # a followed account names its public address, or a read-only key's label

ADL_FORMULA = "bybit_pnl_x_leverage"
ADL_PRICE = "bankruptcy price of the liquidated order"

ADL_PRICE_STAND_IN = "mark (for the liquidated order's bankruptcy price)"


# ADL closes at the bankruptcy price of the liquidated order.
adl_price = at_liquidated_bankruptcy


def adl_score(x: AdlInputs) -> float:
    """Bybit ranks “in order of highest profit and effective leverage use”.

    UNCONFIRMED: Bybit does not publish the formula (exchanges.md §2.1). We use the BitMEX form
    (PnL% × effective leverage, ÷ when losing), which Bybit's wording follows. Change it here.
    """
    return bitmex_ranking(x)


def adl_scores(x: AdlInputs) -> np.ndarray:
    """``adl_score`` over arrays (the population model's vectorised twin)."""
    return bitmex_ranking_vector(x)
