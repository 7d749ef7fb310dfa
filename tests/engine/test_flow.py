"""Liquidation flow (engine/flow.py) and its cascade-pressure alert through the Monitor, on a fake clock:
a hand-made burst gives exact 1- and 5-minute figures, they expire, the pressure is flow ÷ fund, and the
alert fires once and clears after ``hold_s``."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import RULE_CASCADE_PRESSURE
from adlwatch.engine.enums import Side
from adlwatch.engine.errors import InputError
from adlwatch.engine.events import InsuranceFund, Liquidation, MarkPrice
from adlwatch.engine.flow import SPARK_BUCKETS, FlowTracker, pressure_word
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio

T0_MS = 1_760_130_000_000  # a multiple of 10 s: the sparkline's buckets start on it
T0_S = T0_MS / 1000
KEY = ("binance", "BTCUSDT")


def liquidation(t_ms: int | None, side: str, usd: float, *, recv_ms: int | None = None, symbol: str = "BTCUSDT",
                venue: str = "binance") -> Liquidation:
    price = 100_000.0
    return Liquidation(venue=venue, symbol=symbol, ts=t_ms, recv_ns=(recv_ms or 0) * 1_000_000, side=side,
                       price=price, size=usd / price, notional_usd=usd)


# The burst: longs liquidated, then shorts, over two minutes (times in s after T0, USD notional).
BURST = [(0, "long", 1_000_000.0), (5, "long", 250_000.0), (12, "short", 40_000.0), (30, "long", 2_500_000.0),
         (61, "long", 500_000.0), (90, "short", 125_000.0), (119, "long", 750_000.0)]


def tracker_with_burst() -> FlowTracker:
    tracker = FlowTracker()
    for t_s, side, usd in BURST:
        tracker.add(liquidation(T0_MS + t_s * 1000, side, usd))
    return tracker


def test_one_and_five_minute_figures_by_side_are_the_sums_of_the_window():
    flow = tracker_with_burst().flows(T0_MS + 120_000)[KEY]
    # Last minute = (60 s, 120 s]: 500k + 750k of longs, 125k of shorts.
    assert (flow.long_1m_usd, flow.short_1m_usd) == (1_250_000.0, 125_000.0)
    # Five minutes: everything.
    assert (flow.long_5m_usd, flow.short_5m_usd) == (5_000_000.0, 165_000.0)
    assert flow.count_5m == 7 and flow.heavier_side is Side.LONG
    assert flow.fund_balance_usd is None and flow.pressure is None  # no fund: no pressure
    assert "not known" in flow.explain()


def test_the_figures_expire_as_the_clock_moves_on():
    tracker = tracker_with_burst()
    # At 3 min: the minute is (120 s, 180 s]: empty; five minutes still hold it all.
    at_3 = tracker.flows(T0_MS + 180_000)[KEY]
    assert (at_3.long_1m_usd, at_3.short_1m_usd, at_3.long_5m_usd) == (0.0, 0.0, 5_000_000.0)
    # At 5 min 10 s: the window (10 s, 310 s]: the first two longs (0 s, 5 s) left it.
    at_5 = tracker.flows(T0_MS + 310_000)[KEY]
    assert (at_5.long_5m_usd, at_5.short_5m_usd) == (3_750_000.0, 165_000.0)
    # An event exactly at now − 5 min is out; one just after is in.
    at_edge = tracker.flows(T0_MS + 312_000)[KEY]
    assert at_edge.short_5m_usd == 125_000.0  # the short at 12 s is out at 312 s
    # At 7 min: nothing is left, and the sums are an exact zero.
    gone = tracker.flows(T0_MS + 420_000)[KEY]
    assert (gone.long_5m_usd, gone.short_5m_usd, gone.count_5m, gone.heavier_side) == (0.0, 0.0, 0, None)


def test_the_sparkline_is_30_buckets_of_10_s_ending_with_the_bucket_of_now():
    flow = tracker_with_burst().flows(T0_MS + 125_000)[KEY]
    assert len(flow.spark_long_usd) == len(flow.spark_short_usd) == SPARK_BUCKETS == 30
    # now = 125 s lies in the bucket [120 s, 130 s): the last. The first is [-170 s, -160 s).
    first = (T0_MS + 120_000) // 10_000 - 29
    expected_long = [0.0] * 30
    for t_s, side, usd in BURST:
        if side == "long":
            expected_long[(T0_MS + t_s * 1000) // 10_000 - first] += usd
    assert list(flow.spark_long_usd) == expected_long
    assert flow.spark_long_usd[-30 + 17] == 1_250_000.0  # 0 s and 5 s share the bucket [0, 10 s)
    assert flow.spark_short_usd[-1] == 0.0 and flow.spark_short_usd[-4] == 125_000.0  # 90 s: [90, 100)
    assert sum(flow.spark_long_usd) == flow.long_5m_usd


def test_the_event_time_is_the_venues_else_the_receive_time_and_never_runs_back():
    tracker = FlowTracker()
    tracker.add(liquidation(None, "short", 10_000.0, recv_ms=T0_MS))
    tracker.add(liquidation(T0_MS + 50_000, "short", 20_000.0))
    tracker.add(liquidation(T0_MS + 10_000, "short", 40_000.0))  # late: counted at 50 s
    flow = tracker.flows(T0_MS + 65_000)[KEY]
    assert flow.short_1m_usd == 60_000.0 and flow.short_5m_usd == 70_000.0
    # Nonsense notional is not flow.
    tracker.add(liquidation(T0_MS + 60_000, "long", math.nan))
    tracker.add(liquidation(T0_MS + 60_000, "long", -5.0))
    assert tracker.flows(T0_MS + 65_000)[KEY].long_5m_usd == 0.0


def test_pressure_is_the_heavier_sides_five_minutes_over_the_fund():
    tracker = tracker_with_burst()
    flow = tracker.flows(T0_MS + 120_000, {KEY: 50_000_000.0})[KEY]
    assert flow.pressure == 5_000_000.0 / 50_000_000.0 and flow.pressure_pct == pytest.approx(10.0)
    assert pressure_word(flow.pressure) == "cascade"
    words = flow.explain()
    assert "longs forced out at 10% of the insurance fund ($50M)" in words and "ADL" in words
    assert [pressure_word(x) for x in (0.001, 0.01, 0.03, None)] == ["calm", "elevated", "heavy", "unknown"]
    assert tracker.flows(T0_MS + 120_000, {KEY: 0.0})[KEY].pressure is None  # an empty fund says nothing


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 900_000), st.booleans(), st.floats(1.0, 1e9)), min_size=1, max_size=60),
       st.integers(0, 1_300_000))
def test_windows_equal_the_sum_of_the_events_inside_them(events, now_offset):
    events = sorted(events)
    tracker = FlowTracker()
    for t, long, usd in events:
        tracker.add(liquidation(T0_MS + t, "long" if long else "short", usd))
    last = events[-1][0]
    now = T0_MS + max(now_offset, last)  # the clock is never behind the newest event here
    flow = tracker.flows(now)[KEY]
    for span, long_sum, short_sum in ((60_000, flow.long_1m_usd, flow.short_1m_usd),
                                      (300_000, flow.long_5m_usd, flow.short_5m_usd)):
        inside = [(lo, usd) for t, lo, usd in events if T0_MS + t > now - span]
        rounding = 1e-14 * math.fsum(u for _, _, u in events)  # running sums: rounding of what went through
        for side_sum, long in ((long_sum, True), (short_sum, False)):
            exact = math.fsum(u for lo, u in inside if lo == long)
            assert abs(side_sum - exact) <= rounding
            if not any(lo == long for lo, _ in inside):
                assert side_sum == 0.0  # a side with nothing in the window is an exact zero


# -- through the Monitor ----------------------------------------------------------------------------

PORTFOLIO = {"account": [{"venue": "binance", "wallet_balance": 50_000.0, "position": [
    {"symbol": "BTCUSDT", "side": "long", "size": 0.1, "entry_price": 100_000.0, "leverage": 2,
     "margin_mode": "cross"}]}]}
RULES = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                   stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=5.0,
                   cascade_pressure_hysteresis_pct=2.5, hold_s=30.0)


def monitor() -> Monitor:
    m = Monitor(Portfolio.from_data(PORTFOLIO, default_catalogue()), rules=RULES)
    m.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=100_000.0))
    m.apply(InsuranceFund(venue="binance", symbol="BTCUSDT", ts=T0_MS, symbols=["BTCUSDT"], asset="USDT",
                          balance=20_000_000.0))
    return m


def pressure_alerts(alerts) -> list[tuple[str, float]]:
    return [(a.state, a.value) for a in alerts if a.rule == RULE_CASCADE_PRESSURE]


def test_a_burst_through_the_monitor_fires_once_and_clears_after_hold_s():
    m = monitor()
    assert m.evaluate(T0_S) == []
    m.apply(liquidation(T0_MS + 1_000, "long", 600_000.0))  # 3 % of the fund
    assert pressure_alerts(m.evaluate(T0_S + 1)) == []
    m.apply(liquidation(T0_MS + 2_000, "long", 500_000.0))  # 5.5 %: fires
    fired = [a for a in m.evaluate(T0_S + 2) if a.rule == RULE_CASCADE_PRESSURE]
    assert [(a.state, a.value, a.threshold, a.symbol) for a in fired] == [("fired", 5.5, 5.0, "BTCUSDT")]
    assert "cascade pressure 5.5%" in fired[0].message and "longs forced out at 5.5%" in fired[0].message
    m.apply(liquidation(T0_MS + 3_000, "short", 300_000.0))  # the lighter side: not the reading
    assert pressure_alerts(m.evaluate(T0_S + 3)) == []  # no repeat while it holds
    state = m.state(T0_S + 3)
    flow = state.liquidation_flows[KEY]
    assert (flow.long_1m_usd, flow.short_1m_usd, flow.long_5m_usd) == (1_100_000.0, 300_000.0, 1_100_000.0)
    assert flow.pressure == pytest.approx(0.055) and flow.fund_balance_usd == 20_000_000.0
    assert pressure_alerts(m.evaluate(T0_S + 200)) == []  # still in the window
    # At 301.5 s the window is (1.5 s, 301.5 s]: the 500k long at 2 s = 2.5 %, the band's clear edge.
    assert pressure_alerts(m.evaluate(T0_S + 301.5)) == []
    assert m.liquidation_flows(T0_MS + 301_500)[KEY].pressure == pytest.approx(0.025)
    assert pressure_alerts(m.evaluate(T0_S + 302)) == []  # the shorts' 1.5 % is heavier now: clear
    assert pressure_alerts(m.evaluate(T0_S + 331.4)) == []  # 29.9 s clear
    assert pressure_alerts(m.evaluate(T0_S + 331.5)) == [("cleared", 0.0)]  # 30 s clear (all out by now)
    assert pressure_alerts(m.evaluate(T0_S + 340)) == []
    assert m.state(T0_S + 340).liquidation_flows[KEY].long_5m_usd == 0.0


def test_the_flows_start_afresh_on_restart():
    m = monitor()
    m.apply(liquidation(T0_MS + 1_000, "long", 600_000.0))
    assert m.state(T0_S + 2).liquidation_flows[KEY].long_1m_usd == 600_000.0
    m.restart()
    assert m.state(T0_S + 2).liquidation_flows == {}


def test_cascade_pressure_rules_from_the_file():
    rules = AlertRules.from_data({"cascade_pressure_pct": 10, "cascade_pressure_hysteresis_pct": 4})
    assert (rules.cascade_pressure_pct, rules.cascade_pressure_hysteresis_pct) == (10, 4)
    assert AlertRules.from_data({"cascade_pressure_pct": False}).cascade_pressure_pct is None
    for key, value in (("cascade_pressure_pct", -1), ("cascade_pressure_hysteresis_pct", False),
                       ("cascade_pressure_pct", "high")):
        with pytest.raises(InputError) as caught:
            AlertRules.from_data({key: value})
        assert caught.value.field == f"alerts.{key}" and caught.value.value == value
