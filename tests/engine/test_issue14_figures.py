"""Issue 14, figures: hedge mode (item 1), the distance invariant for any portfolio, tier boundaries
on every bundled table (item 6), and a leverage edit keeping the margin that is there (item 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.accounts import compute_account
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.instruments import Instrument, Tier, default_catalogue
from adlwatch.engine.margin import Leg, MarginRules, PriceSolver, maintenance_margin, tier_at
from adlwatch.engine.portfolio import Account, Portfolio, Position, with_isolated_margin_change, with_leverage

CATALOGUE = default_catalogue()


# -- item 1: hedge mode ---------------------------------------------------------------------------


def hedge_account(long_size: float = 0.1, short_size: float = 1.0, wallet: float = 100_000.0) -> Account:
    btc = CATALOGUE.get("binance", "BTCUSDT")
    legs = (
        Position(btc, Side.LONG, long_size, 65_000.0, 10.0, MarginMode.CROSS),
        Position(btc, Side.SHORT, short_size, 65_000.0, 10.0, MarginMode.CROSS),
    )
    return Account("binance", wallet, "USDT", legs)


def test_hedge_mode_legs_share_the_accounts_liquidation_and_both_are_safe():
    _, (long, short) = compute_account(0, hedge_account(), {("binance", "BTCUSDT"): 65_000.0})
    assert long.liquidation_price == short.liquidation_price > 65_000.0
    expected = (long.liquidation_price - 65_000.0) / 65_000.0 * 100.0
    # Net short: the account liquidates on a rise, so both legs are measured upward, positive.
    assert long.distance_pct == pytest.approx(expected) and short.distance_pct == pytest.approx(expected)
    assert long.distance_price == pytest.approx(long.liquidation_price - 65_000.0)
    assert long.effective_leverage is not None and long.effective_leverage > 0
    assert long.effective_leverage == pytest.approx(short.effective_leverage)


def test_hedge_mode_net_long_measures_both_legs_downward():
    _, (long, short) = compute_account(0, hedge_account(1.0, 0.1, 10_000.0), {("binance", "BTCUSDT"): 65_000.0})
    assert long.liquidation_price == short.liquidation_price < 65_000.0
    expected = (65_000.0 - long.liquidation_price) / 65_000.0 * 100.0
    assert expected > 0
    assert long.distance_pct == pytest.approx(expected) and short.distance_pct == pytest.approx(expected)
    assert short.effective_leverage is not None and short.effective_leverage > 0


def test_hedge_mode_past_liquidation_is_negative_for_both_legs():
    marks = {("binance", "BTCUSDT"): 65_000.0}
    _, (long, _) = compute_account(0, hedge_account(0.1, 1.0, 2_000.0), marks)
    liq = long.liquidation_price
    past = {("binance", "BTCUSDT"): liq * 1.05}
    _, (long, short) = compute_account(0, hedge_account(0.1, 1.0, 2_000.0), past)
    assert long.distance_pct < 0 and short.distance_pct < 0
    assert long.effective_leverage is None and short.effective_leverage is None


def test_a_one_sided_cross_position_keeps_the_design_formula():
    btc = CATALOGUE.get("binance", "BTCUSDT")
    acct = Account("binance", 5_000.0, "USDT", (Position(btc, Side.LONG, 1.0, 65_000.0, 20.0, MarginMode.CROSS),))
    _, (p,) = compute_account(0, acct, {("binance", "BTCUSDT"): 64_000.0})
    assert p.distance_pct == pytest.approx((64_000.0 - p.liquidation_price) / 64_000.0 * 100.0)
    assert p.effective_leverage == pytest.approx(64_000.0 / (64_000.0 - p.bankruptcy_price))


# -- the distance invariant, any portfolio ----------------------------------------------------------

PRICED = [i for i in CATALOGUE if i.tiers]  # a contract with no tiers needs the portfolio's mmr
SETTLES = sorted({(i.venue, i.settle) for i in PRICED})


@st.composite
def portfolios(draw):
    venue, settle = draw(st.sampled_from(SETTLES))
    pool = [i for i in PRICED if i.venue == venue and i.settle == settle]
    chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    marks: dict[tuple[str, str], float] = {}
    positions = []
    for inst in chosen:
        mark = marks.setdefault((venue, inst.symbol), draw(st.floats(0.01, 100_000.0)))
        sides = [draw(st.sampled_from([Side.LONG, Side.SHORT]))]
        if draw(st.booleans()):  # hedge mode: the other side on the same contract
            sides.append(Side.SHORT if sides[0] is Side.LONG else Side.LONG)
        for side in sides:
            # A notional in the settlement asset, size from it (contracts for inverse / size-tiered).
            notional = draw(st.floats(1.0, 2_000_000.0)) if not inst.inverse else draw(st.floats(0.001, 50.0))
            entry = mark * draw(st.floats(0.6, 1.4))
            unit = inst.contract_size / entry if inst.inverse else inst.contract_size * entry
            size = notional / unit
            if inst.tier_basis == "size" or inst.inverse:
                size = max(1.0, round(size))
            leverage = draw(st.floats(1.0, max(1.0, min(inst.max_leverage, 125.0))))
            isolated = draw(st.booleans())
            p = Position(inst, side, size, entry, leverage, MarginMode.ISOLATED if isolated else MarginMode.CROSS)
            if isolated:
                p = Position(inst, side, size, entry, leverage, MarginMode.ISOLATED,
                             p.initial_margin() * draw(st.floats(0.2, 3.0)))
            positions.append(p)
    wallet = sum(p.initial_margin() for p in positions) * draw(st.floats(0.05, 5.0))
    return Account(venue, wallet, settle, tuple(positions)), marks


def surplus(account: Account, marks, index: int) -> float:
    """The margin standing above maintenance for position ``index`` at these marks, straight from
    the engine's per-position figures: isolated its own, cross the account's (every cross position's
    maintenance, fee terms included, against the account's margin balance)."""
    acct, risks = compute_account(0, account, marks)
    p = account.positions[index]
    if p.isolated:
        return risks[index].margin_balance - risks[index].maintenance_margin
    cross = [r for q, r in zip(account.positions, risks, strict=True) if not q.isolated]
    return acct.margin_balance - account.unmodelled_maintenance - sum(r.maintenance_margin for r in cross)


def scale(account: Account, marks) -> float:
    return sum(Leg(p.instrument, p.side.sign, p.size, p.entry_price).k * (1.0 / m if p.instrument.inverse else m)
               for p in account.positions for m in [marks[(p.venue, p.symbol)]])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_distance_is_positive_exactly_while_no_liquidation_is_reached_toward_it(case):
    account, marks = case
    _, risks = compute_account(0, account, marks)
    tol = 1e-9 * scale(account, marks)
    for i, (p, r) in enumerate(zip(account.positions, risks, strict=True)):
        if r.distance_pct is None:
            continue
        mark = marks[(p.venue, p.symbol)]
        here = surplus(account, marks, i)
        if r.distance_pct > 1e-6:
            assert here > -tol, (p, r)
            # Walk the mark toward the liquidation price: still above maintenance all the way.
            for f in (0.25, 0.5, 0.75, 0.97):
                moved = dict(marks)
                moved[(p.venue, p.symbol)] = mark + (r.liquidation_price - mark) * f
                assert surplus(account, moved, i) > -tol, (p, r, f)
            # The price it is measured toward is the liquidation price: at it, about nothing is left
            # (Bybit's fee to close is charged at each contract's bankruptcy price, which moves a
            # little with the other contracts' marks: a fee-sized slack).
            at = dict(marks)
            at[(p.venue, p.symbol)] = r.liquidation_price
            assert abs(surplus(account, at, i)) <= 1e-3 * scale(account, at) + 1e-9
        elif r.distance_pct < -1e-6:
            # Negative: the liquidation is already reached at the mark.
            assert here < tol, (p, r)
    # The sign is the account's for cross positions: one verdict per account, whatever the side.
    signs = {math.copysign(1.0, r.distance_pct) for p, r in zip(account.positions, risks, strict=True)
             if not p.isolated and r.distance_pct is not None and abs(r.distance_pct) > 1e-6}
    assert len(signs) <= 1


# -- item 6: tier boundaries (floor ≤ notional < cap) -------------------------------------------------

MULTI_TIER = [i for i in CATALOGUE if len(i.tiers) > 1]


def test_every_bundled_venue_has_multi_tier_tables():
    assert {i.venue for i in MULTI_TIER} == set(CATALOGUE.venues())


@pytest.mark.parametrize("venue", sorted(CATALOGUE.venues()))
def test_tier_for_puts_each_floor_in_its_own_tier_for_every_bundled_table(venue):
    checked = 0
    for inst in (i for i in MULTI_TIER if i.venue == venue):
        for k, tier in enumerate(inst.tiers):
            if k == 0:
                assert inst.tier_for(0.0) is tier
                continue
            assert inst.tier_for(tier.floor) is tier, (inst.symbol, k)
            below = np.nextafter(tier.floor, 0.0)
            assert inst.tier_for(float(below)) is inst.tiers[k - 1], (inst.symbol, k)
            if math.isfinite(tier.cap):
                assert inst.tier_for(float(np.nextafter(tier.cap, 0.0))) is tier
            checked += 1
    assert checked > 0


def _leg_with_value(inst: Instrument, target: float, price: float) -> Leg:
    """A long leg whose tier basis is exactly ``target`` at ``price`` (size for size tiers)."""
    if inst.tier_basis == "size":
        return Leg(inst, 1, target, price)
    unit = inst.contract_size / price if inst.inverse else inst.contract_size * price
    return Leg(inst, 1, target / unit, price)


@pytest.mark.parametrize("venue", sorted(CATALOGUE.venues()))
def test_the_margin_solver_reads_the_floor_tier_for_every_bundled_table(venue):
    """``margin.tier_at`` and the maintenance margin it gives: at the floor, that tier's rate."""
    for inst in (i for i in MULTI_TIER if i.venue == venue):
        # A price with an exact unit value (1 for linear: value = size × contract size).
        price = 1.0
        for k, tier in enumerate(inst.tiers[1:], start=1):
            leg = _leg_with_value(inst, tier.floor, price)
            basis = leg.size if inst.tier_basis == "size" else leg.k
            if basis != tier.floor:
                continue  # not representable exactly in this shape
            assert tier_at(leg, price) is tier, (inst.symbol, k)


def _broken(inst: Instrument) -> Instrument:
    """The same table with every maintenance amount zeroed: the requirement jumps at each floor, so
    the tier a path picks at a floor shows in its figure."""
    from dataclasses import replace

    tiers = tuple(Tier(t.floor, t.cap, t.mmr, t.max_leverage, 0.0) for t in inst.tiers)
    return replace(inst, tiers=tiers)


def _floor_legs(inst: Instrument):
    """(tier index, long leg at price 1 whose tier basis is exactly that tier's floor) per floor."""
    for k, tier in enumerate(inst.tiers[1:], start=1):
        leg = _leg_with_value(inst, tier.floor, 1.0)
        basis = leg.size if inst.tier_basis == "size" else leg.k
        if basis == tier.floor:
            yield k, leg
        below = float(np.nextafter(tier.floor, 0.0))
        leg = _leg_with_value(inst, below, 1.0)
        basis = leg.size if inst.tier_basis == "size" else leg.k
        if basis == below:
            yield k - 1, leg


@pytest.mark.parametrize("venue", sorted(CATALOGUE.venues()))
def test_maintenance_margin_at_a_floor_is_the_floor_tiers_for_every_bundled_table(venue):
    """The scalar solver's requirement and the population's vectorised one (``population.
    maintenance_margin``), on each table with the maintenance amounts zeroed so the tier shows."""
    from adlwatch.engine import population

    rules = MarginRules(venue, "mark", "none")
    checked = 0
    for inst in (i for i in MULTI_TIER if i.venue == venue):
        jumpy = _broken(inst)
        for k, leg in _floor_legs(jumpy):
            leg = Leg(jumpy, 1, leg.size, 1.0)
            want = leg.k * jumpy.tiers[k].mmr
            assert maintenance_margin(rules, leg, 1.0) == pytest.approx(want, rel=1e-12), (inst.symbol, k)
            vec = population.maintenance_margin(jumpy, np.array([leg.size]), np.array([leg.k]), _NoFee)
            assert vec[0] == pytest.approx(want, rel=1e-12), (inst.symbol, k)
            checked += 1
    assert checked > 0


class _NoFee:
    RULES = MarginRules("test", "mark", "none")


@pytest.mark.parametrize("venue", sorted(CATALOGUE.venues()))
def test_the_vectorised_isolated_prices_put_a_floor_in_its_own_tier(venue):
    """``engine/vector.py``: the entry-basis path (Bybit's formula) and the size-tier path (OKX) pick
    the floor's tier, as the scalar solver does, on every bundled table (amounts zeroed). The
    notional-tier mark-basis path interpolates a requirement that is continuous at the floors, so
    its tier at a floor does not change a figure."""
    from adlwatch.engine import vector

    checked = 0
    for inst in (i for i in MULTI_TIER if i.venue == venue):
        jumpy = _broken(inst)
        shapes = [MarginRules(venue, "entry", "none")]
        if jumpy.tier_basis == "size":
            shapes.append(MarginRules(venue, "mark", "none"))
        for rules in shapes:
            for k, leg in _floor_legs(jumpy):
                margin = leg.k * (1.0 if not jumpy.inverse else 1.0) * 0.3
                scalar = PriceSolver(rules, [leg], "liquidation").solve(margin, 1.0)
                got = vector.isolated_liquidation_prices(
                    rules, jumpy, np.array([1.0]), np.array([leg.size]), np.array([1.0]), np.array([margin]))[0]
                assert scalar is not None and got == pytest.approx(scalar, rel=1e-9), (inst.symbol, k, rules)
                checked += 1
    assert checked > 0


# -- item 7: a leverage edit keeps the margin that is there -----------------------------------------


def isolated_portfolio() -> Portfolio:
    return Portfolio.from_data({"account": [{"venue": "binance", "wallet_balance": 1_000.0, "position": [
        {"symbol": "ETHUSDT", "side": "long", "size": 0.1, "entry_price": 3_000.0, "leverage": 5,
         "margin_mode": "isolated"}]}]}, CATALOGUE)


def test_leverage_edit_keeps_added_isolated_margin():
    portfolio = isolated_portfolio()
    assert portfolio.accounts[0].positions[0].isolated_margin == pytest.approx(60.0)
    added = with_isolated_margin_change(portfolio, 0, 0, 100.0)
    assert added.accounts[0].positions[0].isolated_margin == pytest.approx(160.0)
    edited = with_leverage(added, 0, 0, 20.0)
    p = edited.accounts[0].positions[0]
    assert p.leverage == 20.0 and p.isolated_margin == pytest.approx(160.0)
    # The figures follow the margin that is there, not the leverage setting.
    marks = {("binance", "ETHUSDT"): 3_000.0}
    _, (before,) = compute_account(0, added.accounts[0], marks)
    _, (after,) = compute_account(0, edited.accounts[0], marks)
    assert after.liquidation_price == pytest.approx(before.liquidation_price)


def test_leverage_edit_keeps_an_isolated_positions_margin_and_leaves_cross_alone():
    portfolio = isolated_portfolio()
    edited = with_leverage(portfolio, 0, 0, 2.0)
    assert edited.accounts[0].positions[0].isolated_margin == pytest.approx(60.0)
    cross = Portfolio.from_data({"account": [{"venue": "binance", "wallet_balance": 1_000.0, "position": [
        {"symbol": "ETHUSDT", "side": "long", "size": 0.1, "entry_price": 3_000.0, "leverage": 5}]}]}, CATALOGUE)
    p = with_leverage(cross, 0, 0, 20.0).accounts[0].positions[0]
    assert p.leverage == 20.0 and p.isolated_margin is None
