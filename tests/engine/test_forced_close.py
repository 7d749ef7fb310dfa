""""You were liquidated / ADL'd" (issue 15 item 4): the venue's record of a followed position closed by
force, and the positions the monitor closes as the venue would (replay, what-if), become one critical
alert each, once per position and crossing, on a fake clock."""

from __future__ import annotations

import pytest

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import RULE_FORCED_CLOSE
from adlwatch.engine.enums import Side
from adlwatch.engine.events import AccountState, ForcedClose, ImportedPosition, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.shocks import shock

T0_MS = 1_760_130_000_000
T0_S = T0_MS / 1000
QUIET = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                   stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=None)

FOLLOWED = {"account": [
    {"venue": "binance", "wallet_balance": 10_000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10,
         "margin_mode": "isolated"}]},
    {"venue": "binance", "key_name": "main"},
]}


def report(*positions: ImportedPosition, ts: int = T0_MS) -> AccountState:
    return AccountState(venue="binance", symbol="main", ts=ts, settle="USDT", wallet_balance=5_000.0,
                        positions=list(positions))


def held_btc(size: float = 0.2, lights: int = 2) -> ImportedPosition:
    return ImportedPosition(symbol="BTCUSDT", side="long", size=size, entry_price=60_000.0, leverage=20,
                            margin_mode="cross", adl_lights=lights, mark_price=58_000.0)


def held_eth(size: float = 3.0) -> ImportedPosition:
    return ImportedPosition(symbol="ETHUSDT", side="short", size=size, entry_price=3_000.0, leverage=10,
                            margin_mode="cross", adl_lights=5, mark_price=2_900.0)


def closed(cause: str, price: float, size: float, remaining: float, *, symbol: str = "BTCUSDT",
           side: str = "long", ts: int = T0_MS + 2_000) -> ForcedClose:
    return ForcedClose(venue="binance", symbol=symbol, ts=ts, account="main", side=side, cause=cause, price=price,
                       size=size, remaining=remaining, detail="autoCloseType LIQUIDATION" if cause == "liquidation" else "")


def followed_monitor() -> Monitor:
    m = Monitor(Portfolio.from_data(FOLLOWED, default_catalogue()), rules=QUIET)
    m.apply_many([MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=58_000.0),
                  MarkPrice(venue="binance", symbol="ETHUSDT", ts=T0_MS, price=2_900.0),
                  report(held_btc(), held_eth())])
    assert m.evaluate(T0_S) == []
    return m


def forced(alerts) -> list:
    return [a for a in alerts if a.rule == RULE_FORCED_CLOSE]


def test_the_venues_record_of_a_liquidation_is_one_critical_alert_with_what_happened():
    m = followed_monitor()
    m.apply(report(held_btc(0.05), held_eth(), ts=T0_MS + 3_000))  # shrank: 0.15 liquidated
    m.apply(closed("liquidation", 57_000.0, 0.15, 0.05))
    [alert] = m.evaluate(T0_S + 4)
    assert (alert.rule, alert.state, alert.critical, alert.venue, alert.symbol, alert.side, alert.account) == (
        RULE_FORCED_CLOSE, "fired", True, "binance", "BTCUSDT", Side.LONG, 1)
    assert (alert.value, alert.price, alert.size, alert.remaining, alert.ts_ms) == (
        "liquidation", 57_000.0, 0.15, 0.05, T0_MS + 2_000)
    assert alert.notional_usd == pytest.approx(8_550.0) and not alert.estimate
    assert alert.message == ("binance key 'main' BTCUSDT long: LIQUIDATED by the venue at 57,000: 0.15 closed "
                             "($8,550 notional), 0.05 still open (autoCloseType LIQUIDATION)")
    # Once: the same record again (the follower re-reading it) tells nothing.
    m.apply(closed("liquidation", 57_000.0, 0.15, 0.05))
    assert m.evaluate(T0_S + 5) == []
    state = m.state(T0_S + 5)
    assert state.critical_alerts == (alert,) and state.alerts[-1] == alert


def test_an_adl_record_replaces_the_unconfirmed_guess_and_the_row_reads_adl_at_the_records_price():
    m = followed_monitor()
    m.apply(report(held_btc(), ts=T0_MS + 3_000))  # the ETH short (5 lights) is gone: guessed ADL
    m.apply(closed("adl", 2_950.0, 3.0, 0.0, symbol="ETHUSDT", side="short"))
    [alert] = m.evaluate(T0_S + 4)
    assert (alert.value, alert.price, alert.symbol, alert.side, alert.remaining) == (
        "adl", 2_950.0, "ETHUSDT", Side.SHORT, 0.0)
    assert "AUTO-DELEVERAGED (ADL) by the venue at 2,950: 3 closed ($8,850 notional), the position is gone" in alert.message
    [row] = [p for p in m.state(T0_S + 4).snapshot.positions if p.symbol == "ETHUSDT"]
    assert (row.closed, row.closed_price, row.closed_at_ms) == ("adl", 2_950.0, T0_MS + 2_000)


def test_without_the_venues_record_the_guess_tells_once_as_unconfirmed():
    m = followed_monitor()
    m.apply(report(held_btc(), ts=T0_MS + 3_000))
    [alert] = m.evaluate(T0_S + 4)
    assert (alert.value, alert.critical, alert.estimate, alert.price) == ("adl", True, True, 2_900.0)
    assert "probably AUTO-DELEVERAGED (ADL)" in alert.message and "unconfirmed" in alert.message
    assert m.evaluate(T0_S + 5) == []


def test_a_position_the_user_closes_tells_nothing():
    m = followed_monitor()
    m.apply(report(held_eth(), ts=T0_MS + 3_000))  # BTC (2 lights) closed by its owner: no record
    assert m.evaluate(T0_S + 4) == []


def test_a_modelled_position_reaching_its_liquidation_price_in_a_replay_tells_once_even_after_a_seek_back():
    m = Monitor(Portfolio.from_data(FOLLOWED, default_catalogue()), rules=QUIET, replay=True)
    marks = [MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS + k * 1_000, price=60_000.0 - 1_000.0 * k)
             for k in range(10)]
    m.apply_many(marks)
    [alert] = forced(m.evaluate(T0_S + 10))
    liq = m.closed[0]
    assert (liq.account, liq.index, liq.state) == (0, 0, "liquidated")
    assert (alert.value, alert.price, alert.size, alert.remaining, alert.account, alert.critical) == (
        "liquidation", liq.price, 0.5, 0.0, 0, True)
    assert alert.ts_ms == liq.at_ms and alert.notional_usd == pytest.approx(0.5 * liq.price)
    assert "LIQUIDATED at" in alert.message and "modelled" in alert.message
    # The replay seeks back and plays the same minutes again: the same liquidation is not told again.
    m.restart()
    m.apply_many(marks[:3])
    assert m.evaluate(T0_S + 3) == []
    m.apply_many(marks[3:])
    assert m.evaluate(T0_S + 10) == [] and m.closed and len(forced(m.alert_log)) == 1


def test_a_what_if_that_liquidates_tells_once_per_crossing():
    m = Monitor(Portfolio.from_data(FOLLOWED, default_catalogue()), rules=QUIET)
    m.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=60_000.0))
    assert m.evaluate(T0_S) == []
    m.add_shock(shock(-20))
    [alert] = m.evaluate(T0_S + 1)
    assert (alert.rule, alert.value, alert.critical, alert.account) == (RULE_FORCED_CLOSE, "liquidation", True, 0)
    assert "in the what-if, would be LIQUIDATED" in alert.message
    m.add_shock(shock(-1))  # deeper: still liquidated, the same crossing
    assert m.evaluate(T0_S + 2) == []
    m.set_shocks(())
    assert m.evaluate(T0_S + 3) == [] and not m.closed  # live never moved
    m.add_shock(shock(-25))
    assert [a.value for a in m.evaluate(T0_S + 4)] == ["liquidation"]  # a new crossing


def test_critical_alerts_head_what_is_told_and_come_last_in_the_log_at_the_same_time():
    rules = AlertRules(distance_below_pct=50.0, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                       stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=None)
    m = Monitor(Portfolio.from_data(FOLLOWED, default_catalogue()), rules=rules)
    m.apply_many([MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=58_000.0),
                  report(held_btc())])
    m.apply(closed("liquidation", 57_000.0, 0.1, 0.1, ts=T0_MS + 4_000))
    alerts = m.evaluate(T0_S + 4)
    assert [(a.rule, a.critical) for a in alerts] == [("forced_close", True)] + [("liquidation_distance", False)] * 2
    # The log is in time order; at the same time the critical one is the newest, so the views
    # (newest first) show it first.
    assert [(a.rule, a.ts_ms) for a in m.alert_log] == [("liquidation_distance", T0_MS + 4_000)] * 2 + [
        ("forced_close", T0_MS + 4_000)]


def test_a_followed_position_liquidated_whole_stays_on_screen_liquidated_at_the_records_price():
    m = followed_monitor()
    m.apply(report(held_eth(), ts=T0_MS + 3_000))  # BTC (2 lights) gone: no guess ...
    assert not [p for p in m.live().positions if p.symbol == "BTCUSDT" and p.account == 1]
    m.apply(closed("liquidation", 56_500.0, 0.2, 0.0))  # ... the venue's record: liquidated
    [alert] = m.evaluate(T0_S + 4)
    assert "LIQUIDATED by the venue at 56,500: 0.2 closed ($11,300 notional), the position is gone" in alert.message
    [row] = [p for p in m.live().positions if p.symbol == "BTCUSDT" and p.account == 1]
    assert (row.closed, row.closed_price, row.closed_at_ms, row.size) == ("liquidated", 56_500.0, T0_MS + 2_000, 0.2)
    # The next report forgets what vanished: a late duplicate record adds no second row.
    m.apply(report(held_eth(), ts=T0_MS + 6_000))
    m.apply(closed("liquidation", 56_500.0, 0.2, 0.0, ts=T0_MS + 2_001))
    assert len([p for p in m.live().positions if p.symbol == "BTCUSDT" and p.account == 1]) == 1
