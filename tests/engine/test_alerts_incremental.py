"""The incremental alert evaluation (``evaluate``: rows unchanged since the last call read from the
book, readings built only where an alert fires or clears) tells exactly what the full one
(``evaluate_full``: every rule over every subject) tells: same alerts, same order, same values,
same book, call after call, through the alert rules alone and through the whole ``Monitor``."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine import monitor as monitor_module
from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import (
    AlertBook,
    FeedHealth,
    evaluate,
    evaluate_full,
)
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import (
    AccountState,
    AdlAlert,
    FeedStatus,
    ImportedPosition,
    InsuranceFund,
    MarkPrice,
    OpenInterest,
)
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.snapshot import AccountRisk, ContractRisk, PositionRisk, RiskSnapshot, ShockSpec

RULES = (
    AlertRules(),
    AlertRules(distance_below_pct=8.0, distance_hysteresis_pct=2.0, adl_lights_at_least=3, fund_to_oi_drop_pct=10.0,
               stale_feed_after_s=2.0, hold_s=0.0),
    AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None, stale_feed_after_s=None,
               venue_adl_alerts=False, cascade_pressure_pct=None, hold_s=1.5),
)

# Subjects: two positions share one alert key (same venue, symbol, side and account), so the order
# in which one call steps a key twice counts.
SUBJECTS = [("binance", "BTCUSDT", "long", 0), ("binance", "BTCUSDT", "long", 0), ("bybit", "ETHUSDT", "short", 1),
            ("okx", "SOL-USDT-SWAP", "long", 1)]

figures = st.fixed_dictionaries({
    "distance_pct": st.one_of(st.none(), st.floats(-5.0, 15.0)),
    "mark_known": st.booleans().map(lambda b: b or None),  # mostly known
    "adl_quantile": st.one_of(st.none(), st.integers(1, 5)),
    "venue_adl_lights": st.one_of(st.none(), st.none(), st.integers(1, 5)),
    "alert_below_pct": st.sampled_from([None, None, 3.0, 9.0]),
})


def row(index: int, f: dict) -> PositionRisk:
    venue, symbol, side, account = SUBJECTS[index]
    distance = f["distance_pct"]
    return PositionRisk(
        account=account, index=index, venue=venue, symbol=symbol, side=Side(side), size=1.0, entry_price=100.0,
        mark_price=100.0 if f["mark_known"] else None, margin_mode=MarginMode.CROSS, leverage=10.0, kind="linear",
        settle="USDT", isolated_margin=None, notional=100.0, unrealized_pnl=0.0, margin_balance=10.0,
        maintenance_margin=0.5, effective_leverage=10.0,
        liquidation_price=None if distance is None else 100.0 - distance, bankruptcy_price=None,
        distance_pct=distance, distance_price=distance, adl_score=0.0, adl_formula="binance_leverage_pnl",
        adl_quantile=f["adl_quantile"], venue_adl_lights=f["venue_adl_lights"],
        alert_below_pct=f["alert_below_pct"])


QUIET = {"distance_pct": 20.0, "mark_known": True, "adl_quantile": 1, "venue_adl_lights": None,
         "alert_below_pct": None}

# One call: which subjects are held now, and for each a new row or the last call's very object
# (None); the contracts' fund-to-OI, a feed's state, the venue's ADL alert, the rules, the time step.
calls = st.lists(st.fixed_dictionaries({
    "held": st.lists(st.booleans(), min_size=len(SUBJECTS), max_size=len(SUBJECTS)),
    "rows": st.lists(st.one_of(st.none(), figures), min_size=len(SUBJECTS), max_size=len(SUBJECTS)),
    "fund_to_oi": st.lists(st.one_of(st.none(), st.floats(0.0, 0.02)), min_size=2, max_size=2),
    "feed_down": st.sampled_from([None, True, False]),
    "venue_alert": st.sampled_from([None, "normal", "warning", "adl"]),
    "rules": st.sampled_from([0, 0, 0, 1, 2]),
    "dt": st.sampled_from([0.0, 0.5, 1.0, 1.0, 3.0, 7.0]),
    "warning": st.booleans(),
}), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(calls)
def test_incremental_evaluation_tells_exactly_what_the_full_one_tells(steps):
    incremental, full = AlertBook(), AlertBook()
    now_s = 1_000.0
    last = [row(i, QUIET) for i in range(len(SUBJECTS))]  # each subject's latest row object
    feeds: dict = {}
    venue_alerts: dict = {}
    for call in steps:
        now_s += call["dt"]
        for i, f in enumerate(call["rows"]):
            if f is not None:
                last[i] = row(i, f)
        contracts = tuple(ContractRisk(venue="binance", symbol=s, mark_price=1.0, open_interest=1.0,
                                       open_interest_usd=1.0, fund_balance_usd=1.0, fund_to_oi=r)
                          for s, r in zip(("BTCUSDT", "ETHUSDT"), call["fund_to_oi"], strict=True))
        if call["feed_down"] is not None:
            was = feeds.get(("bybit", ""))
            state = "disconnected" if call["feed_down"] else "connected"
            since = was.since_s if was is not None and was.down == call["feed_down"] else now_s
            feeds[("bybit", "")] = FeedHealth(state, since, "test")
        if call["venue_alert"] is not None:
            venue_alerts[("bybit", "ETHUSDT")] = call["venue_alert"]
        accounts = (AccountRisk(index=1, venue="bybit", settle="USDT", wallet_balance=1.0, unrealized_pnl=None,
                                margin_balance=None, maintenance_margin=None, margin_ratio=None, positions=2,
                                cross_positions=2, warnings=("the key can trade",) if call["warning"] else ()),)
        held = tuple(r for r, h in zip(last, call["held"], strict=True) if h)
        snapshot = RiskSnapshot(positions=held, accounts=accounts,
                                contracts=contracts)
        rules = RULES[call["rules"]]
        args = (snapshot, MappingProxyType(dict(feeds)), MappingProxyType(dict(venue_alerts)), rules, now_s)
        incremental, told = evaluate(incremental, *args)
        full, expected = evaluate_full(full, *args)
        assert told == expected
        assert dict(incremental.active) == dict(full.active)
        assert list(incremental.active) == list(full.active)  # the order "gone" alerts are told in
        assert (dict(incremental.fund_to_oi_highs), incremental.announced) == (dict(full.fund_to_oi_highs),
                                                                               full.announced)


def test_an_unchanged_row_is_read_from_the_book_and_its_alert_still_clears_after_hold_s():
    """The clock alone clears an alert: no new row, no new snapshot, only time passing."""
    rules = AlertRules(distance_below_pct=5.0, adl_lights_at_least=None, hold_s=5.0)
    near, far = row(2, {**QUIET, "distance_pct": 2.0}), row(2, {**QUIET, "distance_pct": 9.0})
    book, fired = evaluate(AlertBook(), RiskSnapshot(positions=(near,), accounts=(), contracts=()), {}, {}, rules, 0.0)
    assert [a.state for a in fired] == ["fired"]
    clear = RiskSnapshot(positions=(far,), accounts=(), contracts=())
    book, told = evaluate(book, clear, {}, {}, rules, 1.0)
    assert told == [] and book.rows[0] is far
    for t in (2.0, 4.0, 5.9):
        book, told = evaluate(book, clear, {}, {}, rules, t)
        assert told == []
    book, told = evaluate(book, clear, {}, {}, rules, 6.0)
    assert [(a.state, a.value) for a in told] == [("cleared", 9.0)]


# -- the whole monitor ------------------------------------------------------------------------------

T0_MS = 1_700_000_000_000
PORTFOLIO = {"account": [
    {"venue": "binance", "wallet_balance": 3_000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10,
         "margin_mode": "cross"},
        {"symbol": "ETHUSDT", "side": "short", "size": 4.0, "entry_price": 3_000.0, "leverage": 10,
         "margin_mode": "isolated", "alert_below_pct": 12.0}]},
    {"venue": "bybit", "wallet_balance": 1_500.0, "position": [
        {"symbol": "BTCUSDT", "side": "short", "size": 0.2, "entry_price": 60_000.0, "leverage": 20,
         "margin_mode": "cross"}]},
    {"venue": "hyperliquid", "address": "0x" + "ab" * 20},
]}
CONTRACTS = [("binance", "BTCUSDT", 60_000.0), ("binance", "ETHUSDT", 3_000.0), ("bybit", "BTCUSDT", 60_000.0),
             ("hyperliquid", "ETH", 3_000.0)]

EVENT_ARGS = {
    "mark": (st.integers(0, len(CONTRACTS) - 1),
             st.one_of(st.sampled_from([-0.15, -0.06, 0.0, 0.0, 0.06, 0.15]), st.floats(-0.12, 0.12))),
    "oi": (st.integers(0, len(CONTRACTS) - 1), st.floats(10.0, 1e5)),
    "fund": (st.sampled_from(["binance", "bybit"]), st.floats(1e5, 1e9)),
    "feed": (st.sampled_from(["binance", "bybit"]), st.sampled_from(["disconnected", "connected"])),
    "adl": (st.just("bybit"), st.sampled_from(["normal", "warning", "adl"])),
    "report": (st.integers(0, 2), st.integers(1, 5)),
    "what-if": (st.sampled_from([0.0, -30.0, 10.0]), st.just(0)),
    "evaluate": (st.sampled_from([0.0, 0.2, 1.0, 2.5, 6.0]), st.just(0)),
}
KINDS = ["mark"] * 5 + ["evaluate"] * 3 + ["oi", "fund", "feed", "adl", "report", "what-if"]  # marks most, as on the wire
events_ = st.lists(st.sampled_from(KINDS).flatmap(lambda kind: st.tuples(st.just(kind), *EVENT_ARGS[kind])),
                   max_size=60)


def run_monitor(steps, evaluator, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(monitor_module, "evaluate", evaluator)
    rules = AlertRules(distance_below_pct=10.0, adl_lights_at_least=3, fund_to_oi_drop_pct=5.0, stale_feed_after_s=2.0,
                       hold_s=2.0)
    monitor = Monitor(Portfolio.from_data(PORTFOLIO, default_catalogue()), rules=rules)
    prices = {(v, s): p for v, s, p in CONTRACTS}
    t_ms = T0_MS
    for venue, symbol, price in CONTRACTS:  # every account's figures known from the start
        monitor.apply(MarkPrice(venue=venue, symbol=symbol, ts=t_ms, price=price), t_ms / 1000)
    told = []
    for kind, a, b in steps:
        t_ms += 100
        now_s = t_ms / 1000
        if kind == "mark":
            venue, symbol, start = CONTRACTS[a]
            prices[(venue, symbol)] = start * (1 + b)
            monitor.apply(MarkPrice(venue=venue, symbol=symbol, ts=t_ms, price=prices[(venue, symbol)]), now_s)
        elif kind == "oi":
            venue, symbol, _ = CONTRACTS[a]
            monitor.apply(OpenInterest(venue=venue, symbol=symbol, ts=t_ms, open_interest=b, open_interest_usd=None),
                          now_s)
        elif kind == "fund":
            monitor.apply(InsuranceFund(venue=a, symbol="*", ts=t_ms, symbols=["*"], asset="USDT", balance=b), now_s)
        elif kind == "feed":
            monitor.apply(FeedStatus(venue=a, symbol="", ts=None, state=b), now_s)
        elif kind == "adl":
            monitor.apply(AdlAlert(venue=a, symbol="BTCUSDT", ts=t_ms, state=b), now_s)
        elif kind == "report":  # the followed account: 0 to 2 ETH positions, with the venue's lights
            positions = [ImportedPosition(symbol="ETH", side="long", size=1.0 + i, entry_price=3_000.0, leverage=5.0,
                                          margin_mode="cross", adl_lights=b) for i in range(a)][:1]
            monitor.apply(AccountState(venue="hyperliquid", symbol="0x" + "ab" * 20, ts=t_ms, settle="USDC",
                                       wallet_balance=2_000.0, positions=positions), now_s)
        elif kind == "what-if":  # the alerts read the live figures whatever the screen shows
            monitor.set_shocks([ShockSpec(a)] if a else [])
            monitor.state(now_s)
        else:
            t_ms += int(a * 1000)
            told.append(monitor.evaluate(t_ms / 1000))
    for later_s in (10.0, 20.0):  # time passes with no new event: holds clear
        told.append(monitor.evaluate(t_ms / 1000 + later_s))
    told.append([(c.account, c.index, c.price, c.at_ms) for c in monitor.closed])
    return told


@settings(max_examples=60, deadline=None)
@given(events_)
def test_the_monitor_tells_the_same_alerts_with_incremental_and_full_evaluation(steps):
    with pytest.MonkeyPatch.context() as patch:
        fast = run_monitor(steps, evaluate, patch)
    with pytest.MonkeyPatch.context() as patch:
        reference = run_monitor(steps, evaluate_full, patch)
    assert fast == reference
