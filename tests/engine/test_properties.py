"""Invariants of the margin maths, for every venue, linear and inverse, isolated and cross."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from adlwatch.engine.accounts import compute_account
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.margin import Leg, maintenance_margin, unrealized_pnl
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import EngineInputs, RiskEngine, compute_snapshot
from adlwatch.engine.venues import VENUE_RULES
from tests.engine.factories import account, instrument, position

INF = math.inf
VENUE_NAMES = sorted(VENUE_RULES)

# Multi-tier tables in the venues' shapes (notional tiers with deductions; OKX by size).
LINEAR_TIERS = [(0, 50_000, 0.004, 125), (50_000, 600_000, 0.005, 100), (600_000, 3_000_000, 0.0065, 75), (3_000_000, INF, 0.01, 50)]
INVERSE_TIERS = [(0, 5, 0.004, 125), (5, 10, 0.005, 100), (10, 20, 0.01, 50), (20, INF, 0.025, 20)]
OKX_SIZE_TIERS = [(0, 5, 0.004, 100), (5, 50, 0.006, 75), (50, INF, 0.01, 50)]


def make_instrument(venue: str, kind: str):
    fee = {"okx": 0.0005, "bybit": 0.00055}.get(venue, 0.0)
    if venue == "okx":
        basis_tiers = OKX_SIZE_TIERS if kind == "linear" else [(0, 2_000, 0.004, 100), (2_000, INF, 0.008, 50)]
        return instrument(venue, f"T-{kind}", kind=kind, tiers=basis_tiers, taker_fee=fee, tier_basis="size", contract_size=1.0 if kind == "linear" else 100.0)
    if kind == "linear":
        return instrument(venue, f"T{kind}", tiers=LINEAR_TIERS, taker_fee=fee)
    return instrument(venue, f"T{kind}", kind="inverse", tiers=INVERSE_TIERS, taker_fee=fee, contract_size=100.0)


venues = st.sampled_from(VENUE_NAMES)
kinds = st.sampled_from(["linear", "inverse"])
sides = st.sampled_from([Side.LONG, Side.SHORT])
prices = st.floats(min_value=1.0, max_value=200_000.0)
leverages = st.floats(min_value=1.5, max_value=50.0)
moves = st.floats(min_value=-0.3, max_value=0.3)


def sized(kind: str, entry: float, notional_usd: float) -> float:
    return notional_usd / entry if kind == "linear" else notional_usd / 100.0


notionals = st.floats(min_value=100.0, max_value=5_000_000.0)


def isolated_balance(p, price):
    return p.isolated_margin + unrealized_pnl(Leg(p.instrument, p.side.sign, p.size, p.entry_price), price)


@settings(max_examples=300, deadline=None)
@given(venues, kinds, sides, prices, notionals, leverages, moves)
def test_isolated_margin_balance_equals_maintenance_at_liquidation_price(venue, kind, side, entry, notional, lev, move):
    inst = make_instrument(venue, kind)
    p = position(inst, side, sized(kind, entry, notional), entry, lev)
    mark = entry * (1 + move)
    _, (risk,) = compute_account(0, account(venue, 0.0, [p]), {(venue, inst.symbol): mark})
    assume(risk.liquidation_price is not None)
    lp = risk.liquidation_price
    leg = Leg(inst, side.sign, p.size, entry)
    balance = isolated_balance(p, lp)
    required = maintenance_margin(VENUE_RULES[venue].RULES, leg, lp, risk.bankruptcy_price)
    assert balance == pytest.approx(required, rel=1e-7, abs=1e-9 * max(1.0, abs(p.isolated_margin)))


@settings(max_examples=300, deadline=None)
@given(venues, kinds, sides, prices, notionals, leverages, moves)
def test_isolated_margin_balance_is_zero_at_bankruptcy_price(venue, kind, side, entry, notional, lev, move):
    inst = make_instrument(venue, kind)
    p = position(inst, side, sized(kind, entry, notional), entry, lev)
    _, (risk,) = compute_account(0, account(venue, 0.0, [p]), {(venue, inst.symbol): entry * (1 + move)})
    assume(risk.bankruptcy_price is not None)
    bp = risk.bankruptcy_price
    leg = Leg(inst, side.sign, p.size, entry)
    # Bybit's bankruptcy price leaves exactly the fee to close at that price (help article 360039261334).
    close_fee = leg.k * (1 / bp if kind == "inverse" else bp) * inst.taker_fee if venue == "bybit" else 0.0
    assert isolated_balance(p, bp) == pytest.approx(close_fee, abs=1e-7 * p.isolated_margin + 1e-12)


@settings(max_examples=200, deadline=None)
@given(venues, kinds, prices, st.lists(st.tuples(sides, notionals, leverages, moves), min_size=1, max_size=4),
       st.floats(min_value=0.0, max_value=2_000_000.0))
def test_cross_margin_balance_equals_maintenance_at_liquidation_price(venue, kind, entry, specs, wallet_usd):
    # Several contracts in one cross account; each is solved with the others held at their marks.
    rules = VENUE_RULES[venue].RULES
    base = make_instrument(venue, kind)
    positions, marks = [], {}
    for i, (side, notional, lev, move) in enumerate(specs):
        inst = type(base)(**{**{f: getattr(base, f) for f in base.__dataclass_fields__ if f != "_floors"}, "symbol": f"S{i}"})
        e = entry * (1 + i * 0.01)
        positions.append(position(inst, side, sized(kind, e, notional), e, lev, MarginMode.CROSS))
        marks[(venue, inst.symbol)] = e * (1 + move)
    wallet = wallet_usd if kind == "linear" else wallet_usd / entry
    _, risks = compute_account(0, account(venue, wallet, positions), marks)
    legs = [Leg(p.instrument, p.side.sign, p.size, p.entry_price) for p in positions]
    for i, risk in enumerate(risks):
        if risk.liquidation_price is None:
            continue
        lp = risk.liquidation_price
        prices_at = [lp if j == i else marks[(venue, p.symbol)] for j, p in enumerate(positions)]
        balance = wallet + sum(unrealized_pnl(leg, px) for leg, px in zip(legs, prices_at, strict=True))
        required = sum(
            maintenance_margin(rules, leg, px, risk.bankruptcy_price if j == i else None)
            for j, (leg, px) in enumerate(zip(legs, prices_at, strict=True))
        )
        scale = max(1.0, wallet, sum(abs(leg.k * (px if kind == "linear" else 1 / px)) for leg, px in zip(legs, prices_at, strict=True)))
        assert balance == pytest.approx(required, abs=1e-9 * scale)
        # At the bankruptcy price the account's margin balance is zero (Bybit: what is left is the fee to close).
        bp = risk.bankruptcy_price
        if bp is None:
            continue
        at_bp = [bp if j == i else marks[(venue, p.symbol)] for j, p in enumerate(positions)]
        equity = wallet + sum(unrealized_pnl(leg, px) for leg, px in zip(legs, at_bp, strict=True))
        fee = legs[i].k * (bp if kind == "linear" else 1 / bp) * legs[i].instrument.taker_fee if venue == "bybit" else 0.0
        assert equity == pytest.approx(fee, abs=1e-9 * scale)


@settings(max_examples=300, deadline=None)
@given(venues, kinds, sides, prices, notionals, leverages, moves)
def test_liquidation_price_is_on_the_losing_side_of_the_mark_while_safe(venue, kind, side, entry, notional, lev, move):
    inst = make_instrument(venue, kind)
    p = position(inst, side, sized(kind, entry, notional), entry, lev)
    mark = entry * (1 + move)
    _, (risk,) = compute_account(0, account(venue, 0.0, [p]), {(venue, inst.symbol): mark})
    assume(risk.liquidation_price is not None)
    safe = risk.margin_balance > risk.maintenance_margin
    if safe:
        if side is Side.LONG:
            assert risk.liquidation_price < mark
        else:
            assert risk.liquidation_price > mark
        assert risk.distance_pct > 0
    else:
        assert risk.distance_pct <= 1e-9


@settings(max_examples=300, deadline=None)
@given(venues, kinds, sides, prices, notionals, leverages, moves, st.floats(min_value=0.01, max_value=2.0))
def test_adding_isolated_margin_moves_liquidation_away_and_never_raises_adl_score(venue, kind, side, entry, notional, lev, move, extra_share):
    inst = make_instrument(venue, kind)
    p = position(inst, side, sized(kind, entry, notional), entry, lev)
    more = position(inst, side, p.size, entry, lev, isolated_margin=p.isolated_margin * (1 + extra_share))
    mark = entry * (1 + move)
    marks = {(venue, inst.symbol): mark}
    _, (before,) = compute_account(0, account(venue, 0.0, [p]), marks)
    _, (after,) = compute_account(0, account(venue, 0.0, [more]), marks)
    if before.liquidation_price is not None and after.liquidation_price is not None:
        # Away from the mark means further in the losing direction: lower for a long, higher for a short.
        if side is Side.LONG:
            assert after.liquidation_price < before.liquidation_price
        else:
            assert after.liquidation_price > before.liquidation_price
        assert after.distance_pct >= before.distance_pct - 1e-9
    if before.adl_score is not None and after.adl_score is not None:
        assert after.adl_score <= before.adl_score + 1e-12 * max(1.0, abs(before.adl_score))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(min_value=0.5, max_value=1.5)), min_size=1, max_size=40))
def test_incremental_engine_equals_full_recompute_after_any_mark_sequence(updates):
    linear = {v: make_instrument(v, "linear") for v in VENUE_NAMES}
    inverse = make_instrument("bybit", "inverse")
    accounts = [
        account("binance", 50_000, [
            position(linear["binance"], Side.LONG, 2.0, 60_000, 10, MarginMode.CROSS),
            position(linear["binance"], Side.SHORT, 1.0, 61_000, 10, MarginMode.CROSS),
            position(linear["binance"], Side.LONG, 0.5, 59_000, 20),
        ]),
        account("okx", 10_000, [position(linear["okx"], Side.SHORT, 3.0, 60_500, 5, MarginMode.CROSS)]),
        account("hyperliquid", 8_000, [position(linear["hyperliquid"], Side.LONG, 1.0, 60_000, 8, MarginMode.CROSS)]),
        account("bybit", 0.3, [position(inverse, Side.LONG, 20_000, 60_000, 10, MarginMode.CROSS)], settle="BTC"),
    ]
    portfolio = Portfolio(tuple(accounts), catalogue=default_catalogue())
    keys = sorted(portfolio.symbols())
    engine = RiskEngine(portfolio)
    marks = {k: 60_000.0 for k in keys}
    for k, v in marks.items():
        engine.set_mark(*k, v)
    engine.snapshot()
    for idx, factor in updates:
        key = keys[idx % len(keys)]
        marks[key] = marks[key] * factor
        engine.set_mark(*key, marks[key])
        if idx % 2 == 0:
            engine.snapshot()  # interleave snapshots with updates
    # The population behind the ADL estimate is anchored at the first mark of each contract.
    anchors = {k: 60_000.0 for k in keys}
    assert engine.snapshot() == compute_snapshot(EngineInputs(portfolio=portfolio, marks=marks, anchors=anchors))
