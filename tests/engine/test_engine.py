"""The risk engine's behaviour: cross accounts, hedge mode, events, fund-to-OI, shocks."""

from __future__ import annotations

import math

import pytest

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import FundingRate, InsuranceFund, MarkPrice, OpenInterest
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import EngineInputs, RiskEngine, compute_snapshot, fund_to_oi
from adlwatch.engine.shocks import apply_shocks, shock, shocked_marks
from tests.engine.factories import account, instrument, position

INF = math.inf


def binance_pair():
    btc = instrument("binance", "BTCUSDT", tiers=[(0, 50_000, 0.004, 125), (50_000, INF, 0.005, 100)])
    eth = instrument("binance", "ETHUSDT", tiers=[(0, INF, 0.005, 100)])
    return btc, eth


def test_cross_liquidation_price_moves_when_other_position_loses():
    btc, eth = binance_pair()
    portfolio = Portfolio((account("binance", 5_000, [
        position(btc, Side.LONG, 1.0, 60_000, 20, MarginMode.CROSS),
        position(eth, Side.LONG, 10.0, 3_000, 20, MarginMode.CROSS),
    ]),), catalogue=default_catalogue())
    calm = compute_snapshot(EngineInputs(portfolio, {("binance", "BTCUSDT"): 60_000, ("binance", "ETHUSDT"): 3_000}))
    eth_falls = compute_snapshot(EngineInputs(portfolio, {("binance", "BTCUSDT"): 60_000, ("binance", "ETHUSDT"): 2_800}))
    # ETH's loss eats the shared collateral: BTC's liquidation price rises toward its mark.
    assert eth_falls.positions[0].liquidation_price > calm.positions[0].liquidation_price
    assert eth_falls.positions[0].liquidation_price - calm.positions[0].liquidation_price == pytest.approx(
        2_000 * (1 + 0.005 * 0) / (1 - 0.004), rel=0.02
    )


def test_isolated_position_is_untouched_by_the_cross_account():
    btc, eth = binance_pair()
    iso = position(eth, Side.LONG, 10.0, 3_000, 10)
    portfolio = Portfolio((account("binance", 100, [position(btc, Side.LONG, 1.0, 60_000, 20, MarginMode.CROSS), iso]),), catalogue=default_catalogue())
    a = compute_snapshot(EngineInputs(portfolio, {("binance", "BTCUSDT"): 60_000, ("binance", "ETHUSDT"): 3_000}))
    b = compute_snapshot(EngineInputs(portfolio, {("binance", "BTCUSDT"): 50_000, ("binance", "ETHUSDT"): 3_000}))
    assert a.positions[1].liquidation_price == b.positions[1].liquidation_price
    assert a.positions[0].liquidation_price is not None


def test_hedge_mode_long_and_short_of_one_contract_share_one_cross_price():
    btc, _ = binance_pair()
    portfolio = Portfolio((account("binance", 2_000, [
        position(btc, Side.LONG, 2.0, 60_000, 20, MarginMode.CROSS),
        position(btc, Side.SHORT, 1.0, 61_000, 20, MarginMode.CROSS),
    ]),), catalogue=default_catalogue())
    snap = compute_snapshot(EngineInputs(portfolio, {("binance", "BTCUSDT"): 60_500}))
    long_, short = snap.positions
    assert long_.liquidation_price == short.liquidation_price
    # Net long 1 BTC: the shared price is below the mark; both legs are measured the way the account
    # liquidates (down), so both are safe (issue 14 item 1).
    assert long_.liquidation_price < 60_500
    assert long_.distance_pct == short.distance_pct > 0


def test_no_positive_liquidation_price_is_none():
    btc, _ = binance_pair()
    # 1x long with margin equal to its value: no positive price takes the margin to maintenance.
    portfolio = Portfolio((account("binance", 0, [position(btc, Side.LONG, 1.0, 60_000, 1, isolated_margin=60_000)]),), catalogue=default_catalogue())
    risk = compute_snapshot(EngineInputs(portfolio, {("binance", "BTCUSDT"): 55_000})).positions[0]
    assert risk.liquidation_price is None and risk.distance_pct is None
    assert risk.bankruptcy_price is None


def test_engine_applies_feed_events_and_ignores_others():
    btc, _ = binance_pair()
    portfolio = Portfolio((account("binance", 5_000, [position(btc, Side.LONG, 1.0, 60_000, 20, MarginMode.CROSS)]),), catalogue=default_catalogue())
    engine = RiskEngine(portfolio)
    assert engine.snapshot().positions[0].mark_price is None
    assert engine.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=59_000.0))
    assert not engine.apply(FundingRate(venue="binance", symbol="BTCUSDT", ts=1, rate=0.0001))
    snap = engine.snapshot()
    assert snap.positions[0].mark_price == 59_000.0
    assert snap.positions[0].unrealized_pnl == pytest.approx(-1_000.0)
    assert engine.snapshot() is snap  # nothing changed: the same snapshot


def test_fund_to_oi_over_the_contracts_a_pool_backs():
    btc, eth = binance_pair()
    portfolio = Portfolio((account("binance", 5_000, [position(btc, Side.LONG, 1.0, 60_000, 20, MarginMode.CROSS)]),), catalogue=default_catalogue())
    engine = RiskEngine(portfolio)
    engine.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=60_000.0))
    engine.apply(MarkPrice(venue="binance", symbol="ETHUSDT", ts=1, price=3_000.0))
    engine.apply(OpenInterest(venue="binance", symbol="BTCUSDT", ts=1, open_interest=1_000.0))  # 60M USD at mark
    engine.apply(OpenInterest(venue="binance", symbol="ETHUSDT", ts=1, open_interest=10_000.0, open_interest_usd=31_000_000.0))
    engine.apply(InsuranceFund(venue="binance", symbol="BTCUSDT", ts=1, symbols=["BTCUSDT", "ETHUSDT"], asset="USDT", balance=9_100_000.0))
    contracts = {c.symbol: c for c in engine.snapshot().contracts}
    assert contracts["BTCUSDT"].open_interest_usd == pytest.approx(60_000_000.0)
    assert contracts["ETHUSDT"].open_interest_usd == 31_000_000.0  # the venue's own USD figure wins
    assert contracts["BTCUSDT"].fund_to_oi == pytest.approx(9_100_000 / 91_000_000)
    assert contracts["ETHUSDT"].fund_to_oi == contracts["BTCUSDT"].fund_to_oi
    assert contracts["BTCUSDT"].fund_symbols == ("BTCUSDT", "ETHUSDT")


def test_fund_to_oi_is_none_without_open_interest():
    assert fund_to_oi(1_000.0, []) is None
    assert fund_to_oi(None, [5.0]) is None
    assert fund_to_oi(10.0, [None, 40.0]) == 0.25


def test_shock_of_one_symbol_moves_only_that_mark_and_leaves_live_state_alone():
    btc, eth = binance_pair()
    portfolio = Portfolio((account("binance", 5_000, [
        position(btc, Side.LONG, 1.0, 60_000, 20, MarginMode.CROSS),
        position(eth, Side.SHORT, 10.0, 3_000, 20, MarginMode.CROSS),
    ]),), catalogue=default_catalogue())
    engine = RiskEngine(portfolio)
    engine.set_mark("binance", "BTCUSDT", 60_000)
    engine.set_mark("binance", "ETHUSDT", 3_000)
    live = engine.snapshot()
    hypo = apply_shocks(engine.inputs(), [shock(-5, symbol="BTCUSDT")])
    assert hypo.hypothetical and not live.hypothetical
    assert hypo.positions[0].mark_price == pytest.approx(57_000)
    assert hypo.positions[1].mark_price == 3_000
    assert engine.snapshot() is live and engine.snapshot().positions[0].mark_price == 60_000


def test_shocks_compound_and_filter_by_venue():
    marks = {("binance", "BTCUSDT"): 100.0, ("okx", "BTC-USDT-SWAP"): 100.0}
    moved = shocked_marks(marks, [shock(10), shock(-10, venue="okx")])
    assert moved[("binance", "BTCUSDT")] == pytest.approx(110.0)
    assert moved[("okx", "BTC-USDT-SWAP")] == pytest.approx(99.0)
    with pytest.raises(ValueError):
        shock(-100)
