"""The monitor's model driven with events and a fake clock: what the screen and ``adlwatch watch`` show."""

from __future__ import annotations

import pytest

from adlwatch.engine.alerts import AlertRules
from adlwatch.engine.events import AccountState, AdlAlert, FeedStatus, ImportedPosition, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor, ReplayState
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.shocks import apply_shocks, shock

T0_MS = 1_700_000_000_000
T0_S = T0_MS / 1000

HELD = {"account": [
    {"venue": "binance", "wallet_balance": 10_000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10,
         "margin_mode": "cross", "hedge": "btc-basis"}]},
    {"venue": "hyperliquid", "wallet_balance": 2_000.0, "position": [
        {"symbol": "BTC", "side": "short", "size": 0.5, "entry_price": 61_000.0, "leverage": 5,
         "margin_mode": "cross", "hedge": "btc-basis"}]},
]}


def mark(venue: str, symbol: str, price: float, ts_ms: int = T0_MS) -> MarkPrice:
    return MarkPrice(venue=venue, symbol=symbol, ts=ts_ms, price=price)


def status(venue: str, symbol: str, state: str, detail: str = "") -> FeedStatus:
    return FeedStatus(venue=venue, symbol=symbol, ts=None, state=state, detail=detail)


def held(rules: AlertRules | None = None, **options) -> Monitor:
    monitor = Monitor(Portfolio.from_data(HELD, default_catalogue()), rules=rules, **options)
    monitor.apply_many([mark("binance", "BTCUSDT", 58_000.0), mark("hyperliquid", "BTC", 58_100.0)], T0_S)
    return monitor


def feeds(monitor: Monitor, now_s: float = T0_S) -> dict[str, tuple[str, str]]:
    return {f.venue: (f.state, f.detail) for f in monitor.state(now_s).feeds}


def test_marks_move_the_snapshot_the_chart_history_and_the_venues_last_mark():
    monitor = held()
    monitor.apply(mark("binance", "BTCUSDT", 57_000.0, T0_MS + 1_000), T0_S + 1)
    state = monitor.state(T0_S + 2, chart=("binance", "BTCUSDT"))
    assert state.snapshot.positions[0].mark_price == 57_000.0 and state.snapshot is state.live
    assert state.mark_history == {("binance", "BTCUSDT"): ((T0_MS, 58_000.0), (T0_MS + 1_000, 57_000.0))}
    assert state.now_ms == T0_MS + 2_000
    binance = next(f for f in state.feeds if f.venue == "binance")
    assert (binance.state, binance.last_mark_ms, binance.last_mark_age_s) == ("connected", T0_MS + 1_000, 1.0)
    assert monitor.markets() == [("binance", "BTCUSDT"), ("hyperliquid", "BTC")]
    assert monitor.state(T0_S).mark_history == {}  # only the charted contract's history is copied out


def test_a_replays_venues_read_replay_and_its_position_is_the_states_clock():
    monitor = held(replay=True)
    replay = ReplayState(position_ms=T0_MS + 5_000, start_ms=T0_MS, end_ms=T0_MS + 10_000, playing=True,
                         speed=10.0, finished=False)
    state = monitor.state(T0_S + 5, replay=replay)
    assert state.replay == replay and state.now_ms == T0_MS + 5_000 and replay.progress == 0.5
    assert feeds(monitor)["binance"] == ("replay", "")


def test_feed_statuses_stale_disconnected_error_and_back():
    monitor = held()
    monitor.apply(status("binance", "BTCUSDT", "stale", "no data 4 s"), T0_S)
    assert feeds(monitor)["binance"] == ("stale", "BTCUSDT: no data 4 s")
    assert feeds(monitor)["hyperliquid"] == ("connected", "")
    monitor.apply(mark("binance", "BTCUSDT", 58_010.0), T0_S + 1)  # heard from again
    assert feeds(monitor)["binance"] == ("connected", "")
    monitor.apply(status("binance", "BTCUSDT", "stale", "no data 4 s"), T0_S + 2)
    monitor.apply(status("binance", "", "disconnected", "connection reset; retrying in 1 s"), T0_S + 3)
    assert feeds(monitor)["binance"] == ("disconnected", "connection reset; retrying in 1 s")
    monitor.apply(status("binance", "", "error", "bad frame"), T0_S + 4)
    assert feeds(monitor)["binance"] == ("error", "bad frame")
    monitor.apply(status("binance", "", "connected"), T0_S + 5)
    assert feeds(monitor)["binance"] == ("connected", "")


def test_a_followed_accounts_report_and_statuses_show_apart_from_the_market_feeds():
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main"},
                                                 {"venue": "hyperliquid", "address": "0x" + "ab" * 20}]}, default_catalogue())
    monitor = Monitor(portfolio)
    report = AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=1_000.0, positions=[
        ImportedPosition(symbol="BTCUSDT", side="long", size=0.1, entry_price=60_000.0, leverage=10,
                         margin_mode="cross")])
    monitor.apply(report, T0_S)
    monitor.apply(mark("binance", "BTCUSDT", 59_000.0), T0_S)
    monitor.apply(status("hyperliquid", "account:0x" + "ab" * 20, "error", "address unknown"), T0_S)
    assert feeds(monitor)["binance key 'main'"] == ("connected", "")
    assert feeds(monitor)["hyperliquid 0xabab…"] == ("error", "address unknown")
    assert feeds(monitor)["binance"] == ("connected", "")  # the market feed is its own line
    assert [p.symbol for p in monitor.live().positions] == ["BTCUSDT"]
    monitor.apply(status("binance", "account:main", "disconnected", "key rejected"), T0_S + 1)
    assert feeds(monitor)["binance key 'main'"] == ("disconnected", "key rejected")


def test_venue_adl_alerts_show_until_normal_and_fire_the_venue_rule():
    monitor = held(AlertRules(distance_below_pct=None, adl_lights_at_least=None))
    monitor.apply(AdlAlert(venue="bybit", symbol="BTCUSDT", ts=T0_MS, state="warning"), T0_S)
    assert monitor.state(T0_S).adl_alerts == (("bybit", "BTCUSDT", "warning"),)
    assert [a.rule for a in monitor.evaluate(T0_S) if a.state == "fired"] == ["venue_adl_alert"]
    monitor.apply(AdlAlert(venue="bybit", symbol="BTCUSDT", ts=T0_MS, state="normal"), T0_S + 1)
    assert monitor.state(T0_S + 1).adl_alerts == ()


def test_a_what_if_shows_the_shocked_figures_hedges_included_and_live_stays():
    monitor = held()
    live = monitor.live()
    monitor.add_shock(shock(-10, venue="binance", symbol="BTCUSDT"))
    state = monitor.state(T0_S)
    expected = apply_shocks(monitor.inputs(), [shock(-10, venue="binance", symbol="BTCUSDT")])
    assert state.hypothetical and state.live == live
    assert state.snapshot.positions[0].mark_price == 58_000.0 * 0.9
    assert [p.distance_pct for p in state.snapshot.positions] == [p.distance_pct for p in expected.positions]
    # The change columns: the shocked long lost uPnL and distance; the other leg did not move.
    moved, still = state.what_if_changes[(0, 0)], state.what_if_changes[(1, 0)]
    assert moved.unrealized_pnl == state.snapshot.positions[0].unrealized_pnl - live.positions[0].unrealized_pnl < 0
    assert moved.distance_pct == state.snapshot.positions[0].distance_pct - live.positions[0].distance_pct < 0
    assert still == (0.0, 0.0)
    # The hedge group's figures are the hypothetical ones: the long leg's notional fell 10 %.
    [hedge], [live_hedge] = state.hedges, live.hedges
    assert hedge.net_notional_usd != live_hedge.net_notional_usd
    long_leg = next(leg for leg in hedge.legs if leg.venue == "binance")
    assert long_leg.mark_price == 58_000.0 * 0.9
    monitor.set_shocks(())
    back = monitor.state(T0_S)
    assert not back.hypothetical and back.snapshot == live and back.hedges == live.hedges
    assert back.what_if_changes == {}


def test_an_alert_fires_once_and_clears_after_hold_s_of_clear_readings_on_the_given_clock():
    rules = AlertRules(distance_below_pct=20.0, adl_lights_at_least=None, hold_s=5.0)
    monitor = held(rules)
    distance = [a for a in monitor.evaluate(T0_S) if a.rule == "liquidation_distance"]
    assert [(a.state, a.symbol) for a in distance] == [("fired", "BTC")]  # the short is within 20 % of liq.
    assert monitor.evaluate(T0_S + 1) == []  # no repeat while it holds
    monitor.apply(mark("hyperliquid", "BTC", 40_000.0), T0_S + 2)  # far from liquidation now
    assert monitor.evaluate(T0_S + 2) == []  # clear since 2 s
    assert monitor.evaluate(T0_S + 6.9) == []  # 4.9 s clear: not yet
    [cleared] = monitor.evaluate(T0_S + 7)
    assert (cleared.state, cleared.rule, cleared.ts_ms) == ("cleared", "liquidation_distance", T0_MS + 7_000)
    log = monitor.alert_log
    assert [a.state for a in log] == ["fired", "cleared"] and monitor.state(T0_S + 7).alerts == log


def test_a_feed_down_longer_than_the_rule_fires_measured_from_when_it_went_down():
    rules = AlertRules(distance_below_pct=None, adl_lights_at_least=None, stale_feed_after_s=10.0, hold_s=0.0)
    monitor = held(rules)
    monitor.apply(status("binance", "", "disconnected", "reset"), T0_S)
    assert monitor.evaluate(T0_S + 9.9) == []
    [fired] = monitor.evaluate(T0_S + 10)
    assert (fired.rule, fired.state, fired.venue) == ("stale_feed", "fired", "binance")
    monitor.apply(status("binance", "", "connected"), T0_S + 11)
    [cleared] = monitor.evaluate(T0_S + 11)
    assert cleared.state == "cleared"


def test_restart_forgets_the_market_and_keeps_the_portfolio_the_what_if_and_the_log():
    rules = AlertRules(distance_below_pct=20.0, adl_lights_at_least=None)
    monitor = held(rules)
    monitor.evaluate(T0_S)
    monitor.add_shock(shock(-5))
    version = monitor.version
    monitor.restart()
    assert monitor.version > version
    state = monitor.state(T0_S)
    assert state.live.positions[0].mark_price is None and monitor.markets() == []
    assert state.shocks == (shock(-5),) and len(monitor.alert_log) == 1
    assert monitor.evaluate(T0_S) == []  # no marks: nothing reads past a threshold
    monitor.apply(mark("hyperliquid", "BTC", 58_100.0), T0_S + 1)
    assert [a.state for a in monitor.evaluate(T0_S + 1)] == ["fired"]  # the book was forgotten with the marks


def test_an_edited_portfolio_keeps_the_marks():
    monitor = held()
    edited = Portfolio.from_data({"account": [HELD["account"][0]]}, default_catalogue())
    monitor.set_portfolio(edited)
    assert monitor.portfolio == edited
    assert [p.mark_price for p in monitor.live().positions] == [58_000.0]


def test_the_adl_estimate_and_the_cascade_start_from_where_the_position_stands():
    monitor = held()
    estimate = monitor.adl_estimate(0, 0)
    assert estimate.anchor == 58_000.0 and not estimate.open_interest_known
    assert estimate.what_ifs[0][0] == "now" and "modelled population" in estimate.population
    monitor.add_shock(shock(-10, venue="binance", symbol="BTCUSDT"))
    start = monitor.cascade_start(0, 0)
    assert start.mark == 58_000.0 * 0.9 and not start.fund_known  # from the hypothetical mark, fund unknown
    assert [p.symbol for p in start.held] == ["BTCUSDT"]
    result = start.run(-10.0, "queue")
    assert len(result.fates) == 1 and result.steps


def test_only_a_feed_status_needs_the_clock():
    monitor = held()
    monitor.apply(mark("binance", "BTCUSDT", 57_500.0))  # a mark never reads the time
    assert monitor.live().positions[0].mark_price == 57_500.0
    with pytest.raises(ValueError, match="now_s"):
        monitor.apply(status("binance", "", "disconnected"))
