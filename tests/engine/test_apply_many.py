"""``RiskEngine.apply_many``: the replay batch path leaves exactly the state ``apply`` one by one does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import (
    AccountState,
    AdlAlert,
    FeedStatus,
    FundingRate,
    ImportedPosition,
    IndexPrice,
    InsuranceFund,
    MarkPrice,
    OpenInterest,
)
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine

# Contracts the portfolio holds, and one it does not (its marks dirty no account).
BASE_PRICES = {
    ("binance", "BTCUSDT"): 60_000.0,
    ("binance", "ETHUSDT"): 3_000.0,
    ("hyperliquid", "BTC"): 60_000.0,
    ("okx", "BTC-USDT-SWAP"): 60_000.0,
}
KEYS = sorted(BASE_PRICES)


def portfolio() -> Portfolio:
    return Portfolio.from_data({"account": [
        {"venue": "binance", "key_name": "main"},  # followed: the venue's report replaces its positions
        {"venue": "binance", "wallet_balance": 20_000.0, "position": [
            {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10},
            {"symbol": "ETHUSDT", "side": "short", "size": 4.0, "entry_price": 3_050.0, "leverage": 10},
            {"symbol": "ETHUSDT", "side": "long", "size": 2.0, "entry_price": 2_950.0, "leverage": 20,
             "margin_mode": "isolated"},
        ]},
        {"venue": "hyperliquid", "wallet_balance": 5_000.0, "position": [
            {"symbol": "BTC", "side": "short", "size": 0.2, "entry_price": 61_000.0, "leverage": 5}]},
    ]}, default_catalogue())


def mark(key, price: float) -> MarkPrice:
    return MarkPrice(venue=key[0], symbol=key[1], ts=None, price=price)


def state_dicts(engine: RiskEngine) -> dict:
    return {
        "marks": engine._marks,
        "anchors": engine._anchors,
        "dirty": engine._live.dirty,
        "open_interest": engine._open_interest,
        "funds": engine._funds,
        "account_states": engine._account_states,
        "holders": engine._holders,
        "portfolio": engine.portfolio,
        "contracts_cached": engine._live.contracts is not None,
        "snapshot_cached": engine._live.snapshot is not None,
    }


# A few price levels per contract, so repeated same-price marks are common.
keys = st.sampled_from(KEYS)
marks = st.builds(lambda key, f: mark(key, BASE_PRICES[key] * f), keys, st.sampled_from([0.9, 0.97, 1.0, 1.02, 1.1]))
open_interests = st.builds(
    lambda key, oi, usd: OpenInterest(venue=key[0], symbol=key[1], ts=None, open_interest=oi, open_interest_usd=usd),
    keys, st.sampled_from([100.0, 2_500.0]), st.none() | st.just(9e7),
)
funds = st.builds(
    lambda asset, balance: InsuranceFund(venue="binance", symbol="BTCUSDT", ts=None, symbols=["BTCUSDT", "ETHUSDT"],
                                         asset=asset, balance=balance),
    st.sampled_from(["USDT", "BTC"]), st.sampled_from([1e6, 5e6]),
)
account_states = st.builds(
    lambda ref, symbol, size: AccountState(
        venue="binance", symbol=ref, ts=None, settle="USDT", wallet_balance=10_000.0,
        positions=[ImportedPosition(symbol=symbol, side="long", size=size, entry_price=BASE_PRICES[("binance", symbol)],
                                    leverage=10, margin_mode="cross", liquidation_price=None)],
    ),
    st.sampled_from(["main", "unfollowed"]), st.sampled_from(["BTCUSDT", "ETHUSDT"]), st.sampled_from([0.1, 1.0]),
)
ignored = st.sampled_from([
    IndexPrice(venue="binance", symbol="BTCUSDT", ts=None, price=60_100.0),
    FundingRate(venue="binance", symbol="BTCUSDT", ts=None, rate=1e-4),
    FeedStatus(venue="binance", symbol="", ts=None, state="stale"),
    AdlAlert(venue="binance", symbol="BTCUSDT", ts=None, state="warning"),
    "not an event",  # no ``kind`` at all
])
events = st.one_of(marks, marks, marks, open_interests, funds, account_states, ignored)


def apply_each(engine: RiskEngine, batch) -> int:
    return sum(engine.apply(e) for e in batch)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(events, max_size=30), min_size=1, max_size=4))
def test_apply_many_leaves_the_state_and_snapshot_of_apply_one_by_one(batches):
    one_by_one, batched = RiskEngine(portfolio()), RiskEngine(portfolio())
    for batch in batches:
        # An iterator, not a list: replay hands over a generator.
        assert batched.apply_many(iter(batch)) == apply_each(one_by_one, batch)
        assert state_dicts(batched) == state_dicts(one_by_one)
        assert batched.snapshot() == one_by_one.snapshot()  # snapshots between batches, as the UI takes them


def test_apply_many_matches_apply_on_liquidation_prices_after_marks_move():
    one_by_one, batched = RiskEngine(portfolio()), RiskEngine(portfolio())
    batch = [mark(key, BASE_PRICES[key]) for key in KEYS] + [mark(("binance", "ETHUSDT"), 3_200.0),
                                                            mark(("binance", "BTCUSDT"), 57_000.0)]
    assert batched.apply_many(batch) == apply_each(one_by_one, batch) == len(batch)
    # The first mark of each contract is its anchor, not the last.
    assert batched._anchors[("binance", "BTCUSDT")] == 60_000.0
    assert batched._marks[("binance", "BTCUSDT")] == 57_000.0
    ours, theirs = batched.snapshot().positions, one_by_one.snapshot().positions
    assert [p.liquidation_price for p in ours] == [p.liquidation_price for p in theirs]
    assert [p.distance_pct for p in ours] == [p.distance_pct for p in theirs]
    assert all(p.liquidation_price is not None for p in ours if p.venue == "binance")


def test_repeated_same_price_marks_dirty_nothing_and_keep_the_cached_snapshot():
    engine = RiskEngine(portfolio())
    engine.apply_many([mark(key, BASE_PRICES[key]) for key in KEYS])
    snap = engine.snapshot()
    assert not engine._live.dirty
    # apply counts a repeated mark as taken, so apply_many does too; but nothing is recomputed.
    assert engine.apply_many([mark(("binance", "BTCUSDT"), 60_000.0)] * 5) == 5
    assert not engine._live.dirty and engine._live.contracts is not None
    assert engine.snapshot() is snap
    engine.apply_many([mark(("binance", "BTCUSDT"), 60_000.0), mark(("binance", "BTCUSDT"), 59_000.0)])
    assert engine._live.dirty == {1} and engine._live.snapshot is None


def test_empty_batch_changes_nothing():
    engine = RiskEngine(portfolio())
    engine.apply_many([mark(("binance", "BTCUSDT"), 60_000.0)])
    snap = engine.snapshot()
    before = {k: (v.copy() if isinstance(v, dict | set) else v) for k, v in state_dicts(engine).items()}
    assert engine.apply_many([]) == 0
    assert state_dicts(engine) == before
    assert engine.snapshot() is snap


def report(symbol: str, size: float) -> AccountState:
    return AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=10_000.0,
                        positions=[ImportedPosition(symbol=symbol, side="long", size=size,
                                                    entry_price=BASE_PRICES[("binance", symbol)], leverage=10,
                                                    margin_mode="cross")])


def test_account_reports_mid_batch_are_applied_in_order_with_the_marks_around_them():
    one_by_one, batched = RiskEngine(portfolio()), RiskEngine(portfolio())
    for engine in (one_by_one, batched):
        engine.snapshot()
    batch = [mark(("binance", "ETHUSDT"), 3_100.0), report("BTCUSDT", 1.0), mark(("binance", "BTCUSDT"), 58_000.0),
             report("ETHUSDT", 0.5)]
    assert batched.apply_many(batch) == apply_each(one_by_one, batch) == 4
    # The last report wins: the followed account now holds ETHUSDT, not BTCUSDT.
    assert batched._holders == one_by_one._holders
    assert batched._holders[("binance", "ETHUSDT")] == [0, 1] and batched._holders[("binance", "BTCUSDT")] == [1]
    assert batched._live.dirty == one_by_one._live.dirty == {0, 1}
    assert batched.snapshot() == one_by_one.snapshot()
    assert [p.symbol for p in batched.snapshot().positions if p.account == 0] == ["ETHUSDT"]


def test_an_event_that_raises_leaves_the_earlier_marks_as_apply_would():
    one_by_one, batched = RiskEngine(portfolio()), RiskEngine(portfolio())
    for engine in (one_by_one, batched):
        engine.snapshot()
    open_interest = OpenInterest(venue="binance", symbol="BTCUSDT", ts=None, open_interest=1.0)

    # A malformed mark (msgspec does not check types when a Struct is built in code): no usable key.
    malformed = MarkPrice(venue=["binance"], symbol="BTCUSDT", ts=None, price=1.0)

    batch = [mark(("binance", "ETHUSDT"), 3_100.0), open_interest, malformed]
    with pytest.raises(TypeError):
        batched.apply_many(batch)
    with pytest.raises(TypeError):
        apply_each(one_by_one, batch)
    assert state_dicts(batched) == state_dicts(one_by_one)
    assert batched._live.dirty == {1}
