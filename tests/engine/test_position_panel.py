"""Issue 15 item 1: the engine figures of the position panel (ROE, notional in USD, the position's
margin, break-even price), hand-worked for linear and inverse, isolated and cross."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adlwatch.engine.accounts import break_even_price, compute_account
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.margin import unrealized_pnl, value
from tests.engine.factories import account, instrument, leg, position

LIN = instrument("binance", "BTCUSDT", taker_fee=0.0005)
INV = instrument("bybit", "BTCUSD", kind="inverse", taker_fee=0.0005, tick_size=0.5)


def one(acct, mark):
    p = acct.positions[0]
    _, (risk,) = compute_account(0, acct, {(p.venue, p.symbol): mark})
    return risk


def test_linear_isolated_long():
    # 0.5 BTC long at 60 000, 10×, isolated margin 3 000 (= 30 000 / 10); mark 61 000.
    risk = one(account("binance", 10_000.0, [position(LIN, Side.LONG, 0.5, 60_000.0, 10.0)]), 61_000.0)
    # uPnL 0.5 × 1 000 = 500; ROE 500 / 3 000 = 16.67 %.
    assert risk.unrealized_pnl == pytest.approx(500.0)
    assert risk.roe_pct == pytest.approx(500.0 / 3_000.0 * 100.0)
    assert risk.notional_usd == pytest.approx(30_500.0)
    assert risk.unrealized_pnl_usd == pytest.approx(500.0)
    assert risk.position_margin == pytest.approx(3_500.0)  # isolated margin + uPnL
    # 60 000 × 1.0005 / 0.9995 = 60 060.03
    assert risk.break_even_price == pytest.approx(60_060.030015, rel=1e-9)


def test_linear_isolated_roe_uses_the_isolated_margin_added():
    # Margin added beyond the initial: the ROE is over what is in the position (4 000).
    p = position(LIN, Side.SHORT, 0.5, 60_000.0, 10.0, isolated_margin=4_000.0)
    risk = one(account("binance", 10_000.0, [p]), 59_000.0)
    assert risk.roe_pct == pytest.approx(500.0 / 4_000.0 * 100.0)
    assert risk.position_margin == pytest.approx(4_500.0)
    # 60 000 × 0.9995 / 1.0005 = 59 940.03
    assert risk.break_even_price == pytest.approx(59_940.029985, rel=1e-9)


def test_linear_cross_long():
    p = position(LIN, Side.LONG, 2.0, 3_000.0, 20.0, MarginMode.CROSS)
    risk = one(account("binance", 5_000.0, [p]), 2_900.0)
    # entry value 6 000, ÷ 20 = 300 initial; uPnL −200 → ROE −66.67 %.
    assert risk.position_margin == pytest.approx(300.0)
    assert risk.roe_pct == pytest.approx(-200.0 / 300.0 * 100.0)
    assert risk.notional_usd == pytest.approx(5_800.0)


def test_inverse_cross_short():
    # 10 000 contracts of $1 BTCUSD short at 50 000, 5×, cross; mark 40 000.
    p = position(INV, Side.SHORT, 10_000.0, 50_000.0, 5.0, MarginMode.CROSS)
    risk = one(account("bybit", 1.0, [p], settle="BTC"), 40_000.0)
    # uPnL = 10 000 × (1/40 000 − 1/50 000) = 0.05 BTC; initial = 0.2 / 5 = 0.04 BTC → ROE 125 %.
    assert risk.unrealized_pnl == pytest.approx(0.05)
    assert risk.position_margin == pytest.approx(0.04)
    assert risk.roe_pct == pytest.approx(125.0)
    assert risk.notional_usd == pytest.approx(10_000.0)  # contracts × face, whatever the mark
    assert risk.unrealized_pnl_usd == pytest.approx(0.05 * 40_000.0)  # 2 000 USD
    assert risk.break_even_price == pytest.approx(50_000.0 * 0.9995 / 1.0005, rel=1e-9)


def test_inverse_isolated_long():
    p = position(INV, Side.LONG, 1_000.0, 20_000.0, 10.0)  # margin 0.005 BTC
    risk = one(account("bybit", 1.0, [p], settle="BTC"), 25_000.0)
    # uPnL = 1 000 × (1/20 000 − 1/25 000) = 0.01 BTC; ROE 0.01 / 0.005 = 200 %.
    assert risk.roe_pct == pytest.approx(200.0)
    assert risk.position_margin == pytest.approx(0.015)
    assert risk.notional_usd == pytest.approx(1_000.0)
    assert risk.unrealized_pnl_usd == pytest.approx(250.0)
    # 20 000 × 1.0005 / 0.9995 = 20 020.01
    assert risk.break_even_price == pytest.approx(20_020.010005, rel=1e-9)


def test_no_mark_keeps_the_break_even_and_no_mark_figures():
    p = position(LIN, Side.LONG, 0.5, 60_000.0, 10.0)
    _, (risk,) = compute_account(0, account("binance", 10_000.0, [p]), {})
    assert risk.roe_pct is None and risk.notional_usd is None and risk.position_margin is None
    assert risk.break_even_price == pytest.approx(60_060.030015, rel=1e-9)


@given(
    inverse=st.booleans(),
    long=st.booleans(),
    entry=st.floats(1e-3, 1e6),
    size=st.floats(1e-3, 1e6),
    fee=st.floats(0.0, 0.01),
)
def test_at_break_even_the_upnl_pays_both_fees(inverse, long, entry, size, fee):
    inst = INV if inverse else LIN
    inst = instrument(inst.venue, inst.symbol, kind=inst.kind, taker_fee=fee)
    side = Side.LONG if long else Side.SHORT
    lg = leg(inst, side.sign, size, entry)
    price = break_even_price(side, entry, inst.taker_fee)
    fees = fee * (value(lg, entry) + value(lg, price))
    assert unrealized_pnl(lg, price) == pytest.approx(fees, rel=1e-9, abs=1e-12 * value(lg, entry))
    assert price >= entry if long else price <= entry


def test_okx_venue_contracts_convert_to_coin_and_back_without_binary_noise():
    from adlwatch.engine.instruments import default_catalogue

    catalogue = default_catalogue()
    eth = catalogue.get("okx", "ETH-USDT-SWAP")  # ctVal 0.1 ETH
    assert eth.coin_from_venue_contracts(3) == 0.3
    assert eth.venue_contracts_from_coin(0.3) == 3
    btc_usdt = catalogue.get("binance", "BTCUSDT")  # Binance counts in coin: nothing to convert
    assert btc_usdt.coin_from_venue_contracts(2.5) == 2.5
