"""The engine keeps the rows of what did not move: a position whose account no mark recomputed and
whose contract's open interest, anchor and funding are as they were is the very row of the last
snapshot (its ADL estimate not run again), and every snapshot is still the full recompute's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import FundingRate, InsuranceFund, MarkPrice, OpenInterest
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine, compute_snapshot

PORTFOLIO = {"account": [
    {"venue": "binance", "wallet_balance": 5_000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10,
         "margin_mode": "cross"},
        {"symbol": "ETHUSDT", "side": "short", "size": 4.0, "entry_price": 3_000.0, "leverage": 10,
         "margin_mode": "isolated"}]},
    {"venue": "binance", "wallet_balance": 2_000.0, "position": [
        {"symbol": "ETHUSDT", "side": "long", "size": 2.0, "entry_price": 3_100.0, "leverage": 5,
         "margin_mode": "cross"}]},
    {"venue": "bybit", "wallet_balance": 1_500.0, "position": [
        {"symbol": "BTCUSDT", "side": "short", "size": 0.2, "entry_price": 60_000.0, "leverage": 20,
         "margin_mode": "cross"}]},
]}
CONTRACTS = [("binance", "BTCUSDT", 60_000.0), ("binance", "ETHUSDT", 3_000.0), ("bybit", "BTCUSDT", 60_000.0)]

event_specs = st.lists(st.tuples(
    st.sampled_from(["mark", "mark", "same mark", "oi", "funding", "fund"]),
    st.integers(0, len(CONTRACTS) - 1),
    st.floats(-0.1, 0.1),
), min_size=1, max_size=40)


def event(kind: str, index: int, x: float, marks: dict):
    venue, symbol, start = CONTRACTS[index]
    if kind == "mark":
        marks[(venue, symbol)] = start * (1 + x)
    if kind in ("mark", "same mark"):
        return MarkPrice(venue=venue, symbol=symbol, ts=1, price=marks.get((venue, symbol), start))
    if kind == "oi":
        return OpenInterest(venue=venue, symbol=symbol, ts=1, open_interest=1_000.0 * (1 + 5 * x) + 1.0)
    if kind == "funding":
        return FundingRate(venue=venue, symbol=symbol, ts=1, rate=x / 100, next_funding_ts=None)
    return InsuranceFund(venue=venue, symbol="*", ts=1, symbols=["*"], asset="USDT", balance=1e8 * (1 + x))


@settings(max_examples=150, deadline=None)
@given(event_specs)
def test_a_row_nothing_moved_is_the_last_snapshots_row_and_every_snapshot_is_the_full_one(specs):
    portfolio = Portfolio.from_data(PORTFOLIO, default_catalogue())
    engine = RiskEngine(portfolio)
    marks: dict = {}
    for venue, symbol, price in CONTRACTS:
        engine.apply(MarkPrice(venue=venue, symbol=symbol, ts=1, price=price))
    before = engine.snapshot()
    for kind, index, x in specs:
        key = CONTRACTS[index][:2]
        was = engine.inputs()
        engine.apply(event(kind, index, x, marks))
        now = engine.inputs()
        after = engine.snapshot()
        assert after == compute_snapshot(now)
        for old, new in zip(before.positions, after.positions, strict=True):
            contract = (new.venue, new.symbol)
            held = {(p.venue, p.symbol) for p in portfolio.accounts[new.account].positions}
            recomputed = key in held and was.marks[key] != now.marks[key]
            market_moved = (was.open_interest.get(contract), was.funding.get(contract)) != (
                now.open_interest.get(contract), now.funding.get(contract))
            assert (new is old) == (not recomputed and not market_moved)
        before = after


def test_new_open_interest_re_estimates_only_its_contracts_rows():
    engine = RiskEngine(Portfolio.from_data(PORTFOLIO, default_catalogue()))
    for venue, symbol, price in CONTRACTS:
        engine.apply(MarkPrice(venue=venue, symbol=symbol, ts=1, price=price))
    before = engine.snapshot()
    engine.apply(OpenInterest(venue="binance", symbol="ETHUSDT", ts=1, open_interest=50.0))
    after = engine.snapshot()
    same = [new is old for old, new in zip(before.positions, after.positions, strict=True)]
    assert same == [True, False, False, True]  # binance BTC, binance ETH (two accounts), bybit BTC
    assert after == compute_snapshot(engine.inputs())
