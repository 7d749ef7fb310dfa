"""Alert evaluation: one alert per crossing, hysteresis against flapping, each rule fires and clears."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import (
    CLEARED,
    FIRED,
    RULE_ACCOUNT_WARNING,
    RULE_ADL_LIGHTS,
    RULE_DISTANCE,
    RULE_FUND_TO_OI,
    RULE_STALE_FEED,
    RULE_VENUE_ADL,
    AlertBook,
    evaluate,
    with_feed_status,
    with_venue_alert,
)
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.errors import InputError
from adlwatch.engine.events import AdlAlert, FeedStatus
from adlwatch.engine.snapshot import AccountRisk, ContractRisk, PositionRisk, RiskSnapshot

EMPTY = MappingProxyType({})
# Only the rule under test is on, unless a test says otherwise.
OFF = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                 stale_feed_after_s=None, venue_adl_alerts=False)
DISTANCE = AlertRules(distance_below_pct=5.0, distance_hysteresis_pct=1.0, hold_s=5.0, adl_lights_at_least=None,
                      fund_to_oi_drop_pct=None, stale_feed_after_s=None, venue_adl_alerts=False)


def position(distance: float | None = 20.0, *, account: int = 0, index: int = 0, venue: str = "binance",
             symbol: str = "BTCUSDT", side: str = "long", **fields) -> PositionRisk:
    base = dict(account=account, index=index, venue=venue, symbol=symbol, side=Side(side), size=1.0,
                entry_price=100.0, mark_price=100.0, margin_mode=MarginMode.CROSS, leverage=10.0, kind="linear",
                settle="USDT", isolated_margin=None, notional=100.0, unrealized_pnl=0.0, margin_balance=10.0,
                maintenance_margin=0.5, effective_leverage=10.0,
                liquidation_price=None if distance is None else 100.0 - distance, bankruptcy_price=None,
                distance_pct=distance, distance_price=distance, adl_score=0.0, adl_formula="binance_leverage_pnl")
    base.update(fields)
    return PositionRisk(**base)


def snapshot(*positions: PositionRisk, contracts=(), accounts=()) -> RiskSnapshot:
    return RiskSnapshot(positions=tuple(positions), accounts=tuple(accounts), contracts=tuple(contracts))


def contract(fund_to_oi: float | None, symbol: str = "BTCUSDT") -> ContractRisk:
    return ContractRisk(venue="binance", symbol=symbol, mark_price=100.0, open_interest=1.0, open_interest_usd=100.0,
                        fund_balance_usd=None, fund_to_oi=fund_to_oi)


class Run:
    """Feeds readings to the evaluator one at a time, keeping the book and every alert."""

    def __init__(self, rules: AlertRules):
        self.rules = rules
        self.book = AlertBook()
        self.alerts = []
        self.feeds = EMPTY
        self.venue_alerts = EMPTY

    def at(self, now_s: float, snap: RiskSnapshot) -> list:
        self.book, new = evaluate(self.book, snap, self.feeds, self.venue_alerts, self.rules, now_s)
        self.alerts.extend(new)
        return new

    def states(self, rule: str | None = None) -> list[str]:
        return [a.state for a in self.alerts if rule is None or a.rule == rule]


# -- liquidation distance -------------------------------------------------------------------------


def test_crossing_gives_exactly_one_alert_until_it_clears_past_the_band():
    run = Run(DISTANCE)
    assert run.at(0, snapshot(position(10.0))) == []
    fired = run.at(1, snapshot(position(4.0)))
    assert [(a.state, a.rule, a.venue, a.symbol, a.side, a.value, a.threshold) for a in fired] == [
        (FIRED, RULE_DISTANCE, "binance", "BTCUSDT", "long", 4.0, 5.0)]
    assert fired[0].ts_ms == 1000 and not fired[0].estimate
    assert fired[0].message == ("binance BTCUSDT long: 4.00% from liquidation (liq. 96, mark 100), "
                                "below the 5% alert")
    # Deeper, back into the band, above the threshold but under threshold + hysteresis: nothing.
    for t, d in [(2, 2.0), (3, 4.9), (4, 5.5), (5, 5.99), (6, 3.0)]:
        assert run.at(t, snapshot(position(d))) == []
    # Past the band (>= 6 %), but not yet for hold_s = 5 s: still active.
    assert run.at(7, snapshot(position(6.5))) == []
    assert run.at(11.9, snapshot(position(7.0))) == []
    cleared = run.at(12, snapshot(position(6.2)))
    assert [(a.state, a.value) for a in cleared] == [(CLEARED, 6.2)]
    assert cleared[0].message == ("binance BTCUSDT long: 6.20% from liquidation (liq. 93.8, mark 100), "
                                  "back above 6% (alert at 5%)")
    # Re-armed: the next crossing is a new alert.
    assert run.states() == [FIRED, CLEARED]
    assert [a.state for a in run.at(13, snapshot(position(4.5)))] == [FIRED]


def test_a_clear_stretch_broken_before_hold_s_starts_again():
    run = Run(DISTANCE)
    run.at(0, snapshot(position(1.0)))
    run.at(1, snapshot(position(8.0)))  # clear from t=1 ...
    run.at(5, snapshot(position(5.5)))  # ... broken by a reading in the band at t=5
    assert run.at(9, snapshot(position(8.0))) == []  # clear again from t=9, not t=1
    assert run.at(13.5, snapshot(position(8.0))) == []
    assert [a.state for a in run.at(14, snapshot(position(8.0)))] == [CLEARED]


@settings(max_examples=200, deadline=None)
@given(
    first=st.floats(-50.0, 4.99),
    wobble=st.lists(st.tuples(st.floats(-50.0, 5.99), st.floats(0.0, 100.0)), max_size=40),
)
def test_distances_oscillating_inside_the_band_after_a_crossing_give_one_alert(first, wobble):
    run = Run(DISTANCE)
    run.at(0, snapshot(position(first)))
    t = 0.0
    for distance, dt in wobble:
        t += dt
        run.at(t, snapshot(position(distance)))
    assert run.states() == [FIRED]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-20.0, 30.0), st.floats(0.0, 10.0)), max_size=60))
def test_alerts_alternate_and_clear_only_after_hold_s_past_the_band(readings):
    run = Run(DISTANCE)
    t = 0.0
    history: list[tuple[float, float]] = []
    for distance, dt in readings:
        t += dt
        history.append((t, distance))
        for alert in run.at(t, snapshot(position(distance))):
            if alert.state == FIRED:
                assert distance < 5.0
            else:
                # The readings have been past the band (>= 6 %) since one at least hold_s ago.
                clear_since = [u for i, (u, _) in enumerate(history) if all(d >= 6.0 for _, d in history[i:])]
                # (measured as the rule measures it: t − since, which can round differently from since ≤ t − 5)
                assert clear_since and t - clear_since[0] >= 5.0
    states = run.states()
    assert states == [FIRED, CLEARED] * (len(states) // 2) + [FIRED] * (len(states) % 2)


def test_per_position_threshold_beats_the_global_one():
    run = Run(DISTANCE)  # global: 5 %
    own = position(8.0, account=0, alert_below_pct=10.0)
    plain = position(8.0, account=1)
    tight = position(4.0, account=2, alert_below_pct=3.0)  # below the global 5 %, above its own 3 %
    alerts = run.at(0, snapshot(own, plain, tight))
    assert [(a.account, a.threshold) for a in alerts] == [(0, 10.0)]
    # With the global rule off, a position's own threshold still alerts.
    run = Run(OFF)
    assert [(a.account, a.value) for a in run.at(0, snapshot(own, plain))] == [(0, 8.0)]


def test_positions_alert_independently():
    run = Run(DISTANCE)
    a = position(4.0, account=0)
    b = position(20.0, account=1)
    assert [x.account for x in run.at(0, snapshot(a, b))] == [0]
    b_down = position(3.0, account=1)
    assert [x.account for x in run.at(1, snapshot(a, b_down))] == [1]  # a stays active, b fires its own
    a_up = position(10.0, account=0)
    run.at(2, snapshot(a_up, b_down))
    assert [(x.state, x.account) for x in run.at(8, snapshot(a_up, b_down))] == [(CLEARED, 0)]


def test_unknown_figures_neither_fire_nor_clear_and_no_liquidation_price_is_clear():
    run = Run(DISTANCE)
    assert run.at(0, snapshot(position(None, mark_price=None, margin_balance=None))) == []
    run.at(1, snapshot(position(2.0)))
    run.at(2, snapshot(position(None, mark_price=None, margin_balance=None)))
    assert run.at(10, snapshot(position(None, mark_price=None, margin_balance=None))) == []
    run.at(11, snapshot(position(None)))  # a mark and no positive liquidation price: safe
    assert [a.state for a in run.at(16, snapshot(position(None)))] == [CLEARED]


def test_an_active_alert_whose_position_is_gone_clears_once():
    run = Run(DISTANCE)
    run.at(0, snapshot(position(2.0)))
    gone = run.at(1, snapshot())
    assert [(a.state, a.rule, a.value) for a in gone] == [(CLEARED, RULE_DISTANCE, None)]
    assert "no longer watched" in gone[0].message
    assert run.at(2, snapshot()) == []


# -- ADL lights -----------------------------------------------------------------------------------


def test_adl_lights_use_the_venues_own_where_they_exist_and_say_which():
    run = Run(AlertRules(distance_below_pct=None, adl_lights_at_least=4, fund_to_oi_drop_pct=None,
                         stale_feed_after_s=None, venue_adl_alerts=False, hold_s=5.0))
    imported = position(account=0, imported=True, venue_adl_lights=4, adl_quantile=1)
    manual = position(account=1, adl_quantile=5)
    alerts = run.at(0, snapshot(imported, manual))
    assert [(a.rule, a.account, a.value, a.estimate) for a in alerts] == [
        (RULE_ADL_LIGHTS, 0, 4.0, False), (RULE_ADL_LIGHTS, 1, 5.0, True)]
    assert "the venue's own" in alerts[0].message and "adlwatch's estimate" in alerts[1].message
    # 4 -> 3 -> 4 within hold_s: no new alert; 3 held for 5 s clears.
    three = position(account=0, imported=True, venue_adl_lights=3)
    run.at(1, snapshot(three, manual))
    assert run.at(2, snapshot(imported, manual)) == []
    run.at(3, snapshot(three, manual))
    assert [(a.state, a.account) for a in run.at(8, snapshot(three, manual))] == [(CLEARED, 0)]


def test_adlwatchs_lights_estimate_clears_only_two_lights_below_the_alert():
    run = Run(AlertRules(distance_below_pct=None, adl_lights_at_least=4, fund_to_oi_drop_pct=None,
                         stale_feed_after_s=None, venue_adl_alerts=False, hold_s=5.0))
    estimate = {n: position(adl_quantile=n) for n in (2, 3, 4)}
    assert [a.state for a in run.at(0, snapshot(estimate[4]))] == [FIRED]
    # The estimate steps 4 -> 3 -> 4 -> 3 for a minute (a quintile boundary): one alert, never cleared.
    for t in range(1, 60):
        assert run.at(t, snapshot(estimate[3 if t % 20 < 10 else 4])) == []
    run.at(60, snapshot(estimate[2]))  # two below: clear from here, held hold_s
    assert run.at(64, snapshot(estimate[2])) == []
    assert [(a.state, a.value, a.estimate) for a in run.at(65, snapshot(estimate[2]))] == [(CLEARED, 2.0, True)]


# -- fund-to-OI -----------------------------------------------------------------------------------


def test_fund_to_oi_drop_from_the_session_high_fires_and_clears_within_half_the_drop():
    run = Run(AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=20.0,
                         stale_feed_after_s=None, venue_adl_alerts=False, hold_s=0.0))
    assert run.at(0, snapshot(contracts=[contract(0.010)])) == []
    assert run.at(1, snapshot(contracts=[contract(0.020)])) == []  # the session high
    assert run.at(2, snapshot(contracts=[contract(0.0165)])) == []  # 17.5 % down
    fired = run.at(3, snapshot(contracts=[contract(0.015)]))  # 25 % down
    assert [(a.rule, a.symbol, a.value, a.threshold, a.side) for a in fired] == [
        (RULE_FUND_TO_OI, "BTCUSDT", 25.0, 20.0, None)]
    assert "25.0% below its session high 2%" in fired[0].message
    assert run.at(4, snapshot(contracts=[contract(0.017)])) == []  # 15 % down: in the band
    cleared = run.at(5, snapshot(contracts=[contract(0.0181)]))  # 9.5 % down: within half the drop
    assert [(a.state, a.value) for a in cleared] == [(CLEARED, pytest.approx(9.5))]


# -- the venue's ADL alert and stale feeds --------------------------------------------------------


def test_venue_adl_alert_fires_once_while_not_normal_and_clears_on_normal():
    run = Run(AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                         stale_feed_after_s=None, venue_adl_alerts=True, hold_s=2.0))

    def alert(state: str):
        run.venue_alerts = with_venue_alert(run.venue_alerts, AdlAlert(venue="bybit", symbol="BTCUSDT", ts=None, state=state))

    alert("normal")
    assert run.at(0, snapshot()) == []
    alert("warning")
    fired = run.at(1, snapshot())
    assert [(a.rule, a.venue, a.symbol, a.value) for a in fired] == [(RULE_VENUE_ADL, "bybit", "BTCUSDT", "warning")]
    alert("adl")
    assert run.at(2, snapshot()) == []  # worse, but the same alert
    alert("normal")
    assert run.at(3, snapshot()) == []
    assert [a.state for a in run.at(5, snapshot())] == [CLEARED]


def test_stale_or_disconnected_feed_alerts_after_stale_feed_after_s_and_clears_when_up():
    run = Run(AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                         stale_feed_after_s=10.0, venue_adl_alerts=False, hold_s=1.0))

    def status(t: float, state: str, symbol: str = "BTCUSDT"):
        run.feeds = with_feed_status(run.feeds, FeedStatus(venue="okx", symbol=symbol, ts=None, state=state,
                                                           detail=f"{state} detail"), t)

    status(0, "subscribed")
    status(1, "stale")
    status(4, "disconnected")  # still down: the stretch began at t=1
    status(6, "error")  # a one-off report changes nothing
    assert run.at(10.9, snapshot()) == []
    fired = run.at(11, snapshot())
    assert [(a.rule, a.venue, a.symbol, a.value, a.threshold) for a in fired] == [
        (RULE_STALE_FEED, "okx", "BTCUSDT", 10.0, 10.0)]
    assert fired[0].message == "okx BTCUSDT feed disconnected for 10 s (disconnected detail): its figures are not live"
    status(12, "connected")
    assert run.at(12.5, snapshot()) == []  # up, seen clear from here ...
    assert run.at(13.4, snapshot()) == []
    assert [a.state for a in run.at(13.5, snapshot())] == [CLEARED]  # ... for hold_s


def test_a_symbol_back_up_ends_a_venue_wide_outage():
    feeds = with_feed_status(EMPTY, FeedStatus(venue="okx", symbol="", ts=None, state="disconnected"), 0.0)
    feeds = with_feed_status(feeds, FeedStatus(venue="okx", symbol="BTC-USDT-SWAP", ts=None, state="subscribed"), 1.0)
    assert not feeds[("okx", "")].down and feeds[("okx", "")].since_s == 1.0


# -- account warnings and rules switched off -----------------------------------------------------


def test_a_followed_accounts_warning_alerts_once():
    account = AccountRisk(index=2, venue="binance", settle="USDT", wallet_balance=0.0, unrealized_pnl=None,
                          margin_balance=None, maintenance_margin=None, margin_ratio=None, positions=0,
                          cross_positions=0, source="api key 'main'",
                          warnings=("this key can TRADE: use a read-only key",))
    run = Run(OFF)
    first = run.at(0, snapshot(accounts=[account]))
    assert [(a.rule, a.state, a.venue, a.account) for a in first] == [(RULE_ACCOUNT_WARNING, FIRED, "binance", 2)]
    assert first[0].message == "binance api key 'main': WARNING this key can TRADE: use a read-only key"
    assert run.at(1, snapshot(accounts=[account])) == []


@settings(max_examples=100, deadline=None)
@given(
    distance=st.floats(-100.0, 100.0),
    lights=st.integers(1, 5),
    ratio=st.floats(0.0, 1.0),
    venue_state=st.sampled_from(["normal", "warning", "adl"]),
    feed_state=st.sampled_from(["stale", "disconnected", "subscribed"]),
    later=st.floats(0.0, 1e6),
)
def test_rules_switched_off_never_fire(distance, lights, ratio, venue_state, feed_state, later):
    run = Run(OFF)
    run.venue_alerts = with_venue_alert(EMPTY, AdlAlert(venue="bybit", symbol="BTCUSDT", ts=None, state=venue_state))
    run.feeds = with_feed_status(EMPTY, FeedStatus(venue="okx", symbol="BTC-USDT-SWAP", ts=None, state=feed_state), 0.0)
    run.at(0, snapshot(position(50.0, adl_quantile=1), contracts=[contract(1.0)]))
    run.at(later, snapshot(position(distance, adl_quantile=lights, venue_adl_lights=lights),
                           contracts=[contract(ratio)]))
    assert run.alerts == []


def test_alert_rules_from_the_file_switch_rules_off_and_refuse_bad_values():
    rules = AlertRules.from_data({"distance_below_pct": 3, "adl_lights_at_least": False, "hold_s": 0})
    assert rules.distance_below_pct == 3 and rules.adl_lights_at_least is None and rules.hold_s == 0
    with pytest.raises(InputError) as caught:
        AlertRules.from_data({"adl_lights_at_least": 6})
    assert caught.value.field == "alerts.adl_lights_at_least"
