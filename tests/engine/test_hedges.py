"""Hedge groups: net exposure, and what one leg's auto-deleveraging leaves (hand-computed numbers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.hedges import hedge_risks
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Account, Portfolio
from adlwatch.engine.risk import EngineInputs, compute_snapshot
from adlwatch.engine.venues import VENUE_RULES
from tests.engine.factories import instrument, position


def snapshot_of(portfolio: Portfolio, marks: dict):
    return compute_snapshot(EngineInputs(portfolio=portfolio, marks=marks, anchors=None))


def cross_venue() -> tuple[Portfolio, dict]:
    portfolio = Portfolio.from_data({"account": [
        {"venue": "binance", "wallet_balance": 1000.0, "position": [
            {"symbol": "BTCUSDT", "side": "long", "size": 0.1, "entry_price": 60000.0, "leverage": 10,
             "hedge": "btc"}]},
        {"venue": "hyperliquid", "wallet_balance": 2000.0, "position": [
            {"symbol": "BTC", "side": "short", "size": 0.1, "entry_price": 61000.0, "leverage": 5,
             "hedge": "btc"}]},
    ]}, default_catalogue())
    return portfolio, {("binance", "BTCUSDT"): 58000.0, ("hyperliquid", "BTC"): 58000.0}


def test_binance_long_against_hyperliquid_short_of_equal_size_nets_to_zero():
    portfolio, marks = cross_venue()
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, marks))
    assert hedge.name == "btc" and hedge.base_asset == "BTC"
    assert [(leg.venue, leg.base_units, leg.notional_usd) for leg in hedge.legs] == [
        ("binance", 0.1, pytest.approx(5800.0)), ("hyperliquid", -0.1, pytest.approx(-5800.0))]
    assert hedge.net_base_units == pytest.approx(0.0) and hedge.net_notional_usd == pytest.approx(0.0)


def test_a_deleveraged_leg_leaves_the_other_legs_full_exposure_and_its_own_figures():
    portfolio, marks = cross_venue()
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, marks))
    binance_adl, hyperliquid_adl = hedge.if_deleveraged
    # Binance long closed at the mark 58,000 (for the liquidated order's bankruptcy price):
    # realised 0.1 × (58,000 − 60,000) = −200 into the Binance account.
    assert binance_adl.adl_price == 58000.0 and "bankruptcy" in binance_adl.adl_price_basis
    assert binance_adl.realised_pnl == pytest.approx(-200.0)
    assert binance_adl.residual_base_units == pytest.approx(-0.1)
    assert binance_adl.residual_notional_usd == pytest.approx(-5800.0)
    # The Hyperliquid short is in another account: 2,000 + 0.1 × (61,000 − P) = 0.1 × P × 1.25 %, P = 80,000.
    (short,) = binance_adl.residual
    assert short.liquidation_price == pytest.approx(80000.0)
    assert short.distance_pct == pytest.approx((80000 - 58000) / 58000 * 100)
    # Hyperliquid short closed at the (previous) mark: realised 0.1 × (61,000 − 58,000) = +300.
    assert hyperliquid_adl.realised_pnl == pytest.approx(300.0)
    assert hyperliquid_adl.residual_base_units == pytest.approx(0.1)
    assert hyperliquid_adl.residual_notional_usd == pytest.approx(5800.0)
    # The Binance long keeps its figures: 1,000 + 0.1 × (P − 60,000) = 0.1 × P × 0.4 %, P = 5,000 / 0.0996.
    (long,) = hyperliquid_adl.residual
    assert long.liquidation_price == pytest.approx(5000 / 0.0996)
    assert long.distance_pct == pytest.approx((58000 - 5000 / 0.0996) / 58000 * 100)


def same_account(short_mode: MarginMode = MarginMode.CROSS, short_margin: float | None = None) -> Portfolio:
    """One Binance-rules account, 20 USDT: long 1 A @ 100 and short 1 B @ 110, flat 0.5 % maintenance."""
    a = instrument(symbol="AUSDT", tiers=[(0.0, float("inf"), 0.005, 100.0)])
    b = instrument(symbol="BUSDT", tiers=[(0.0, float("inf"), 0.005, 100.0)])
    long = replace(position(a, Side.LONG, 1.0, 100.0, 10.0, MarginMode.CROSS), hedge="pair")
    short = replace(position(b, Side.SHORT, 1.0, 110.0, 10.0, short_mode, short_margin), hedge="pair")
    return Portfolio((Account("binance", 20.0, "USDT", (long, short)),), catalogue=default_catalogue())


MARKS = {("binance", "AUSDT"): 100.0, ("binance", "BUSDT"): 100.0}


def test_same_account_legs_move_each_others_liquidation_price_when_one_is_deleveraged():
    portfolio = same_account()
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, MARKS))
    long, short = hedge.legs
    # Together: A's price has B's +10 uPnL and 0.5 maintenance beside it: 20 + 10 − 0.5 + (P − 100) = 0.005 P.
    assert long.liquidation_price == pytest.approx(70.5 / 0.995)
    # B's: 20 − 0.5 + (110 − P) = 0.005 P.
    assert short.liquidation_price == pytest.approx(129.5 / 1.005)
    assert hedge.net_base_units == pytest.approx(0.0) and hedge.net_notional_usd == pytest.approx(0.0)
    long_adl, short_adl = hedge.if_deleveraged
    # B closed at 100 realises +10: wallet 30, A alone: 30 + (P − 100) = 0.005 P.
    assert short_adl.realised_pnl == pytest.approx(10.0)
    (a_after,) = short_adl.residual
    assert (a_after.account, a_after.index, a_after.symbol) == (0, 0, "AUSDT")
    assert a_after.liquidation_price == pytest.approx(70 / 0.995)
    assert a_after.distance_pct == pytest.approx(100 - 70 / 0.995)  # mark 100: % = price units
    assert short_adl.residual_base_units == pytest.approx(1.0) and short_adl.residual_notional_usd == pytest.approx(100.0)
    # A closed at 100 realises 0: wallet 20, B alone: 20 + (110 − P) = 0.005 P.
    (b_after,) = long_adl.residual
    assert (b_after.index, b_after.symbol) == (1, "BUSDT")  # keeps its index in the portfolio
    assert b_after.liquidation_price == pytest.approx(130 / 1.005)


def test_a_deleveraged_isolated_leg_returns_its_margin_and_pnl_to_the_wallet():
    portfolio = same_account(MarginMode.ISOLATED, short_margin=11.0)
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, MARKS))
    # The isolated short stays out of the cross account: A alone on 20: 20 + (P − 100) = 0.005 P.
    assert hedge.legs[0].liquidation_price == pytest.approx(80 / 0.995)
    # B closed at 100: +10 PnL and its 11 of margin come back, wallet 41: 41 + (P − 100) = 0.005 P.
    (a_after,) = hedge.if_deleveraged[1].residual
    assert a_after.liquidation_price == pytest.approx(59 / 0.995)


def test_legs_of_different_coins_have_no_net_in_base_units_and_ungrouped_positions_no_hedge():
    portfolio = Portfolio.from_data({"account": [
        {"venue": "binance", "wallet_balance": 1000.0, "position": [
            {"symbol": "BTCUSDT", "side": "long", "size": 0.1, "entry_price": 60000.0, "leverage": 10, "hedge": "x"},
            {"symbol": "ETHUSDT", "side": "short", "size": 2.0, "entry_price": 3000.0, "leverage": 10, "hedge": "x"},
            {"symbol": "ETHUSDT", "side": "long", "size": 1.0, "entry_price": 3000.0, "leverage": 10}]},
    ]}, default_catalogue())
    marks = {("binance", "BTCUSDT"): 60000.0, ("binance", "ETHUSDT"): 3000.0}
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, marks))
    assert len(hedge.legs) == 2 and hedge.base_asset is None and hedge.net_base_units is None
    assert hedge.net_notional_usd == pytest.approx(6000.0 - 6000.0)


def test_a_leg_without_a_mark_has_no_exposure_figures():
    portfolio, marks = cross_venue()
    del marks[("hyperliquid", "BTC")]
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, marks))
    assert hedge.net_notional_usd is None and hedge.net_base_units == pytest.approx(0.0)
    assert hedge.if_deleveraged[1].adl_price is None and hedge.if_deleveraged[1].realised_pnl is None


def test_every_venue_has_its_adl_price_rule_from_its_module():
    portfolio, marks = cross_venue()
    (hedge,) = hedge_risks(portfolio, snapshot_of(portfolio, marks))
    assert [d.adl_price_basis for d in hedge.if_deleveraged] == [
        VENUE_RULES[leg.venue].ADL_PRICE_STAND_IN for leg in hedge.legs]
    for module in VENUE_RULES.values():
        if module.ADL_PRICE.startswith("bankruptcy price of the liquidated order"):
            assert "liquidated order's bankruptcy price" in module.ADL_PRICE_STAND_IN
        else:
            assert module.ADL_PRICE.startswith(module.ADL_PRICE_STAND_IN)


def test_the_engines_snapshot_carries_its_hedge_groups_and_they_follow_the_marks():
    """Every figure travels in the snapshot (DESIGN.md): the live engine's snapshot holds the hedge groups
    ``hedge_risks`` computes, updated with the marks; a portfolio without tags carries none."""
    from adlwatch.engine.risk import RiskEngine

    portfolio, marks = cross_venue()
    engine = RiskEngine(portfolio)
    for (venue, symbol), price in marks.items():
        engine.set_mark(venue, symbol, price)
    first = engine.snapshot()
    assert first.hedges == hedge_risks(engine.portfolio, first) and len(first.hedges) == 1
    engine.set_mark("binance", "BTCUSDT", 57000.0)
    moved = engine.snapshot()
    assert moved.hedges == hedge_risks(engine.portfolio, moved)
    assert moved.hedges[0].legs[0].notional_usd == pytest.approx(5700.0)
    untagged = Portfolio(tuple(replace(a, positions=tuple(replace(p, hedge=None) for p in a.positions))
                               for a in portfolio.accounts), catalogue=default_catalogue())
    plain = RiskEngine(untagged)
    plain.set_mark("binance", "BTCUSDT", 58000.0)
    assert plain.snapshot().hedges == ()
