"""The forced-close bookkeeping on its own (engine/closes.py): a manual position liquidated at its
price with the engine re-solved without it, the two index spaces, the told-once critical alerts;
and the one rule for a notional in USD that the rows and the close alerts share."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.accounts import usd_notional
from adlwatch.engine.alerts import Alert
from adlwatch.engine.closes import ClosedPositions, CriticalAlerts
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import EngineInputs, RiskEngine, compute_snapshot
from tests.engine.factories import account, instrument, position

T0_MS = 1_700_000_000_000


def alert(message: str, ts_ms: int = 0) -> Alert:
    return Alert(state="fired", rule="forced_close", venue="binance", symbol="BTCUSDT", side=None, value="adl",
                 threshold=None, message=message, estimate=False, ts_ms=ts_ms, critical=True)


def test_a_critical_alert_is_told_once_per_key_in_the_session():
    told = CriticalAlerts()
    told.tell_later(("k", 1), alert("first"))
    told.tell_later(("k", 1), alert("again, before it was told"))
    told.tell_later(("k", 2), alert("dated", ts_ms=5))
    assert [(a.message, a.ts_ms) for a in told.take(T0_MS)] == [("first", T0_MS), ("dated", 5)]
    assert told.told(("k", 1)) and told.take(T0_MS) == []
    told.tell_later(("k", 1), alert("a replay passing it again"))
    assert told.take(T0_MS) == []
    told.tell_later(("k", 3), alert("withdrawn"))
    told.tell_later(("k", 4), alert("kept"))
    told.withdraw(lambda key: key == ("k", 3))
    told.tell_later(("k", 5), alert("forgotten by a seek back"))
    assert [a.message for a in told.take(T0_MS)] == ["kept", "forgotten by a seek back"]
    told.tell_later(("k", 6), alert("pending"))
    told.forget_pending()
    assert told.take(T0_MS) == [] and not told.told(("k", 6))


def test_a_manual_position_is_liquidated_at_its_price_and_the_engine_re_solved_without_it():
    btc = instrument("binance", "BTCUSDT")
    eth = instrument("binance", "ETHUSDT")
    portfolio = Portfolio((account("binance", 10_000.0, [
        position(btc, Side.LONG, 1.0, 60_000.0, 10.0),  # isolated: liquidated near 54 300
        position(eth, Side.LONG, 1.0, 3_000.0, 5.0, MarginMode.CROSS)]),), catalogue=default_catalogue())
    engine = RiskEngine(portfolio)
    told = CriticalAlerts()
    closes = ClosedPositions(portfolio, engine, told)
    last_mark = {"binance": T0_MS}
    engine.set_mark("binance", "ETHUSDT", 3_000.0)
    closes.on_mark(("binance", "ETHUSDT"), 3_000.0, T0_MS, last_mark)
    engine.set_mark("binance", "BTCUSDT", 60_000.0)
    closes.on_mark(("binance", "BTCUSDT"), 60_000.0, T0_MS, last_mark)
    liquidation = engine.live_snapshot().positions[0].liquidation_price
    assert closes.closed == () and not closes.is_closed(0, 0)

    engine.set_mark("binance", "BTCUSDT", liquidation - 100.0)
    closes.on_mark(("binance", "BTCUSDT"), liquidation - 100.0, T0_MS + 1_000, last_mark)
    [closed] = closes.closed
    assert (closed.account, closed.index, closed.price, closed.at_ms) == (0, 0, liquidation, T0_MS + 1_000)
    assert closed.realized == -portfolio.accounts[0].positions[0].isolated_margin  # an isolated margin is lost
    # The engine holds the ETH position alone, at index 0; the user's index is 1.
    assert [p.symbol for p in engine.portfolio.accounts[0].positions] == ["ETHUSDT"]
    assert closes.engine_slot(0, 1) == (0, 0) and closes.user_slot(0, 0) == (0, 1)
    shown = closes.as_shown(engine.live_snapshot())
    assert [(p.index, p.symbol, p.closed) for p in shown.positions] == [(0, "BTCUSDT", "liquidated"),
                                                                       (1, "ETHUSDT", None)]
    [told_now] = told.take(T0_MS + 2_000)
    assert told_now.critical and told_now.price == liquidation and told_now.ts_ms == T0_MS + 1_000
    assert told_now.notional_usd == pytest.approx(liquidation)  # 1 BTC at its liquidation price


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(["linear", "inverse"]), size=st.floats(0.001, 1e4), price=st.floats(1.0, 1e6),
       contract_size=st.sampled_from([1.0, 0.01, 10.0, 100.0]))
def test_a_rows_notional_usd_is_the_close_alerts_rule(kind, size, price, contract_size):
    """Inverse: contracts × face value, whatever the price; linear: the quote value."""
    inst = instrument("bybit", "BTCUSD" if kind == "inverse" else "BTCUSDT", kind=kind, contract_size=contract_size)
    held = position(inst, Side.LONG, size, price, 10.0, MarginMode.CROSS)
    portfolio = Portfolio((account("bybit", 1e9, [held]),), catalogue=default_catalogue())
    row = compute_snapshot(EngineInputs(portfolio, {("bybit", inst.symbol): price})).positions[0]
    assert row.notional_usd == usd_notional(inst, size, price)
    expected = size * contract_size if kind == "inverse" else size * contract_size * price
    assert usd_notional(inst, size, price) == pytest.approx(expected)
