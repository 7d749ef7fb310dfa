"""Hyperliquid rules.

Maintenance margin is half the initial margin at the tier's max leverage, ``notional × mmr −
deduction`` with the tier chosen by the notional (docs trading/margin-tiers.md, test H2). The exact
liquidation price ``price − side × margin_available / size / (1 − l × side)`` with ``l`` from the
tier at the liquidation price (docs trading/liquidations.md, test H1) is the same affine solve as
the other venues. No fee term. ADL closes at the previous mark price.
Source: https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from adlwatch.engine.adl import AdlInputs
from adlwatch.engine.instruments import Instrument, build_tiers
from adlwatch.engine.margin import MarginRules

RULES = MarginRules(venue="hyperliquid", mm_basis="mark", fee="none")

TITLE = "Hyperliquid"
DISPLAY_CODE = "HL"  # the venue column of the compact positions table
SETTLE_DEFAULT = "USDC"  # an account's settlement asset when no position says otherwise
FOLLOW_BY = "address"  # a followed account names its public address, or a read-only key's label

ADL_FORMULA = "hyperliquid_index"
ADL_PRICE = "previous mark price"

ADL_PRICE_STAND_IN = "previous mark"


def adl_price(mark: float, previous_mark: float, liquidated_bankruptcy: Callable[[], float | None]) -> float:
    """The price ADL closes a position at: the previous mark price (outside a price path, the last
    mark seen)."""
    return previous_mark


def adl_score(x: AdlInputs) -> float:
    """``(mark_price / entry_price) × (notional_position / account_value)``.

    https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging. The docs write it
    for longs; UNCONFIRMED for shorts, where we use ``entry / mark`` so that a profitable short
    ranks as a profitable long does. ``account_value`` is the account's margin balance for cross
    and the position's isolated margin balance for isolated (UNCONFIRMED). Not finite (inf) when
    the account value is zero or negative: such accounts are at the front of the queue.
    """
    if x.margin_balance <= 0:
        return math.inf
    price_ratio = x.mark_price / x.entry_price if x.sign > 0 else x.entry_price / x.mark_price
    return price_ratio * (x.notional / x.margin_balance)


def adl_scores(x: AdlInputs) -> np.ndarray:
    """``adl_score`` over arrays (the population model's vectorised twin)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x.sign > 0, x.mark_price / x.entry_price, x.entry_price / x.mark_price)
        return np.where(x.margin_balance > 0, ratio * (x.notional / x.margin_balance), np.inf)


HIP3_SEPARATOR = ":"  # a HIP-3 dex's asset is ``dex:COIN`` (its collateral is the dex's own choice)


def instrument_from_report(symbol: str, brackets: Sequence[Sequence[float]] | None) -> Instrument | None:
    """A main-dex coin no table knows yet, described by the followed account's own report.

    Every perpetual of Hyperliquid's main dex is linear, USDC-settled and sized in coin; its tiers are
    what the venue reports on the position (``maxLeverage``, mmr 1/(2 × max leverage): one tier, which
    the follower passes as the position's ``brackets``). Higher tiers of a tiered margin table are not
    in that report: exact while the position stays in its table's first tier (below 3M USDC of notional
    for the smallest tiered table the venue lists); a fetched universe (``adlwatch tiers --refresh``)
    replaces it. None for a HIP-3 asset (``dex:COIN``: its dex's collateral and rules are not the main
    dex's) or without brackets.
    """
    if not brackets or HIP3_SEPARATOR in symbol or not symbol:
        return None
    rows = [{"floor": b[0], "cap": b[1], "mmr": b[2], "max_leverage": b[3]} for b in brackets]
    try:
        tiers = build_tiers(rows, f"hyperliquid:{symbol}")
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return Instrument(venue="hyperliquid", symbol=symbol, kind="linear", base=symbol, quote="USDC",
                      settle="USDC", contract_size=1.0, tick_size=0.0,  # 0: unknown here (no szDecimals)
                      tier_basis="notional", tiers=tiers,
                      taker_fee=0.00045, source="the venue's maxLeverage on the followed position (one tier)",
                      verified=True)
