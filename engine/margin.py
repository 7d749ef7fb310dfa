"""Margin arithmetic shared by every venue: value, uPnL, tiered maintenance margin, and the solver
for liquidation and bankruptcy prices.

The venues differ in a few switches, which each ``engine/venues/<venue>.py`` sets in its
``MarginRules`` and documents with its source:

* ``mm_basis``: the maintenance margin is taken on the position value at the mark (Binance, OKX,
  Hyperliquid) or at entry (Bybit's published USDT and inverse formulas);
* ``fee``: no fee term (Binance, Hyperliquid), the taker fee on the value at the mark added to the
  requirement (OKX's margin ratio), or the fee to close at the bankruptcy price (Bybit).

Everything is solved in ``u``: the price for linear contracts, 1/price for inverse ones. In ``u``
both the equity and the requirement are affine within a tier, so each tier interval has a closed
form root. That is the venue formulas (Binance LP1, Bybit, Hyperliquid's exact liquidation price)
in one place, with the tier re-evaluated at the price that is found.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from adlwatch.engine.instruments import Instrument, Tier

MmBasis = Literal["mark", "entry"]
FeeRule = Literal["none", "mark", "close_at_bankruptcy"]


@dataclass(frozen=True, slots=True)
class MarginRules:
    venue: str
    mm_basis: MmBasis
    fee: FeeRule


@dataclass(frozen=True, slots=True)
class Leg:
    """One position as the solver sees it."""

    instrument: Instrument
    sign: int  # +1 long, −1 short
    size: float  # linear: base units; inverse: contracts
    entry_price: float
    # Derived once (the solver's hot loop reads them):
    # k: value per unit of u, value = k × u (quote for linear, coin for inverse);
    # direction: uPnL = direction × k × (u − entry_u) (a long gains as u rises only if linear).
    k: float = field(init=False)
    direction: int = field(init=False)
    entry_u: float = field(init=False)

    def __post_init__(self) -> None:
        inverse = self.instrument.kind == "inverse"
        object.__setattr__(self, "k", self.size * self.instrument.contract_size)
        object.__setattr__(self, "direction", -self.sign if inverse else self.sign)
        object.__setattr__(self, "entry_u", 1.0 / self.entry_price if inverse else self.entry_price)


def to_u(instrument: Instrument, price: float) -> float:
    return 1.0 / price if instrument.inverse else price


def value(leg: Leg, price: float) -> float:
    """Position value at ``price`` in the settlement asset."""
    return leg.k * to_u(leg.instrument, price)


def unrealized_pnl(leg: Leg, price: float) -> float:
    """Linear ``sign × size × (mark − entry)``; inverse ``sign × contracts × face × (1/entry − 1/mark)``."""
    return leg.direction * leg.k * (to_u(leg.instrument, price) - leg.entry_u)


def tier_at(leg: Leg, price: float) -> Tier:
    inst = leg.instrument
    if inst.tier_basis == "size":
        return inst.tier_for(leg.size)
    return inst.tier_for(value(leg, price))


def maintenance_margin(rules: MarginRules, leg: Leg, mark: float, bankruptcy_price: float | None = None) -> float:
    """The venue's maintenance requirement at ``mark``, fee term included where the venue has one."""
    basis_price = mark if rules.mm_basis == "mark" else leg.entry_price
    tier = tier_at(leg, basis_price)
    requirement = value(leg, basis_price) * tier.mmr - tier.maint_amount
    if rules.fee == "mark":
        requirement += value(leg, mark) * leg.instrument.taker_fee
    elif rules.fee == "close_at_bankruptcy":
        close_price = bankruptcy_price if bankruptcy_price and bankruptcy_price > 0 else mark
        requirement += value(leg, close_price) * leg.instrument.taker_fee
    return requirement


def isolated_initial_margin(rules: MarginRules, leg: Leg, leverage: float) -> float:
    """What the venue reserves for an isolated position opened at ``leverage``: value at entry ÷ leverage,
    plus, where the venue counts a fee to close (Bybit), that fee at the bankruptcy price of that margin.

    Bybit's unified account: ``IM = value / leverage + fee to close``, ``fee to close = quantity ×
    bankruptcy price × taker fee`` with the bankruptcy price ``entry × (1 ∓ 1/leverage)`` (linear; in u
    for inverse). The same fee is in the maintenance margin, so it cancels out of the liquidation price,
    and the bankruptcy price is where ``value / leverage`` is spent (exchanges.md §2.2).
    """
    margin = leg.k * leg.entry_u / leverage
    if rules.fee == "close_at_bankruptcy":
        bankruptcy_u = leg.entry_u * (1.0 - leg.direction / leverage)
        margin += leg.k * max(bankruptcy_u, 0.0) * leg.instrument.taker_fee
    return margin


Target = Literal["liquidation", "bankruptcy"]


class PriceSolver:
    """``constant + Σ uPnL − requirement`` of one contract's legs as affine pieces in u, built once.

    The pieces do not depend on ``constant`` (the margin that does not move with this contract), so a
    cross account re-solves a contract for a new balance of its other contracts in a step or two.
    """

    __slots__ = ("inverse", "edges", "pieces", "fee_k", "fee_at_bankruptcy")

    def __init__(self, rules: MarginRules, legs: Sequence[Leg], target: Target) -> None:
        inst = legs[0].instrument
        self.inverse = inst.inverse
        price_dependent = target == "liquidation" and rules.mm_basis == "mark" and inst.tier_basis == "notional"
        edges = [0.0]
        if price_dependent:
            cuts = {t.floor / leg.k for leg in legs for t in leg.instrument.tiers[1:] if leg.k > 0}
            edges.extend(sorted(cuts))
        edges.append(math.inf)
        self.edges = edges
        # Bybit: the fee to close at the bankruptcy price is a constant once that price is known.
        self.fee_at_bankruptcy = target == "liquidation" and rules.fee == "close_at_bankruptcy"
        self.fee_k = sum(leg.k * leg.instrument.taker_fee for leg in legs) if self.fee_at_bankruptcy else 0.0
        pieces = []
        for lo, hi in zip(edges, edges[1:], strict=False):
            probe = (lo + hi) / 2.0 if math.isfinite(hi) else (lo * 2.0 + 1.0)
            a = b = 0.0
            for leg in legs:
                k = leg.k
                a -= leg.direction * k * leg.entry_u
                b += leg.direction * k
                if target == "liquidation":
                    a, b = _requirement_terms(rules, leg, probe, a, b)
                elif rules.fee == "close_at_bankruptcy":
                    b -= k * leg.instrument.taker_fee
            pieces.append((a, b))
        self.pieces = pieces

    def solve(self, constant: float, reference_price: float, bankruptcy_price: float | None = None) -> float | None:
        """The price where the margin meets the target; nearest the reference if several; None if none."""
        edges = self.edges
        pieces = self.pieces
        last = len(pieces) - 1
        shift_a = constant
        shift_b = 0.0
        if self.fee_at_bankruptcy:
            if bankruptcy_price and bankruptcy_price > 0:
                shift_a -= self.fee_k * (1.0 / bankruptcy_price if self.inverse else bankruptcy_price)
            else:
                shift_b -= self.fee_k  # no bankruptcy price: the fee at the price itself

        def root(i: int) -> float | None:
            a, b = pieces[i]
            b += shift_b
            return None if b == 0.0 else -(a + shift_a) / b

        ref_u = 1.0 / reference_price if self.inverse else reference_price
        # Start on the reference's tier and follow the affine root across tiers: with one side (the
        # usual case) the function is monotone and this lands on its only root in a step or two.
        i = max(0, min(last, bisect.bisect_right(edges, ref_u) - 1))
        seen: set[int] = set()
        while i not in seen:
            seen.add(i)
            u = root(i)
            if u is None or u <= 0.0:
                break
            if edges[i] <= u <= edges[i + 1]:
                return 1.0 / u if self.inverse else u
            i = max(0, min(last, bisect.bisect_right(edges, u) - 1))
        # Otherwise scan every piece and keep the root nearest the reference.
        best: float | None = None
        for i in range(len(pieces)):
            u = root(i)
            if u is not None and u > 0.0 and edges[i] <= u <= edges[i + 1]:
                if best is None or abs(u - ref_u) < abs(best - ref_u):
                    best = u
        if best is None:
            return None
        return 1.0 / best if self.inverse else best


def solve_price(
    rules: MarginRules,
    legs: Sequence[Leg],
    constant: float,
    target: Target,
    reference_price: float,
    bankruptcy_price: float | None = None,
) -> float | None:
    """The price of the legs' contract at which ``constant + Σ uPnL − requirement`` is zero.

    ``constant`` is the margin that does not move with this contract: the isolated margin, or for
    cross the wallet balance plus the other contracts' uPnL less their requirement (Binance's
    ``WB − TMM1 + UPNL1``). ``requirement`` is the maintenance margin for a liquidation price and
    nothing (or Bybit's fee to close) for a bankruptcy price. When several prices solve it, the one
    nearest ``reference_price`` (the mark) is the answer; None when no positive price does.
    """
    if not legs:
        return None
    return PriceSolver(rules, legs, target).solve(constant, reference_price, bankruptcy_price)


def _requirement_terms(rules: MarginRules, leg: Leg, probe_u: float, a: float, b: float) -> tuple[float, float]:
    """Subtract the leg's requirement (affine in u within a tier) from ``a + b·u``; Bybit's fee to
    close at the bankruptcy price is added by ``PriceSolver.solve``."""
    inst = leg.instrument
    k = leg.k
    if rules.mm_basis == "mark":
        tier = inst.tier_for(leg.size) if inst.tier_basis == "size" else inst.tier_for(k * probe_u)
        b -= k * tier.mmr
        a += tier.maint_amount
    else:
        entry_leg_value = k * leg.entry_u
        tier = inst.tier_for(leg.size) if inst.tier_basis == "size" else inst.tier_for(entry_leg_value)
        a -= entry_leg_value * tier.mmr - tier.maint_amount
    if rules.fee == "mark":
        b -= k * inst.taker_fee
    return a, b
