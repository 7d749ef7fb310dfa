"""Funding, the venue's public ADL rating and a followed position's own panel figures in the snapshot
(issue 15 items 1 and 3): shown beside the risk figures, never a reason to recompute them."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adlwatch.engine import accounts as account_figures
from adlwatch.engine.events import AccountState, AdlRisk, FundingRate, ImportedPosition, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine, compute_snapshot
from adlwatch.engine.snapshot import funding_countdown_s

T0_MS = 1_760_000_000_000

HELD = {"account": [
    {"venue": "binance", "wallet_balance": 10_000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10,
         "margin_mode": "cross"},
        {"symbol": "ETHUSDT", "side": "short", "size": 2.0, "entry_price": 3_000.0, "leverage": 10,
         "margin_mode": "cross"}]},
    {"venue": "binance", "key_name": "main"},
]}


def engine() -> RiskEngine:
    risk = RiskEngine(Portfolio.from_data(HELD, default_catalogue()))
    risk.apply_many([MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=58_000.0),
                     MarkPrice(venue="binance", symbol="ETHUSDT", ts=T0_MS, price=2_900.0)])
    return risk


def funding(symbol: str, rate: float, next_ms: int | None = T0_MS + 3_600_000) -> FundingRate:
    return FundingRate(venue="binance", symbol=symbol, ts=T0_MS, rate=rate, next_funding_ts=next_ms)


def test_the_latest_funding_fills_the_rows_and_the_contract():
    risk = engine()
    risk.apply(funding("BTCUSDT", 0.0001))
    risk.apply(funding("BTCUSDT", -0.00025, T0_MS + 28_800_000))  # the latest wins
    snap = risk.snapshot()
    btc, eth = snap.positions
    assert (btc.funding_rate, btc.next_funding_ms) == (-0.00025, T0_MS + 28_800_000)
    assert (eth.funding_rate, eth.next_funding_ms) == (None, None)  # no funding heard for ETH yet
    contract = next(c for c in snap.contracts if c.symbol == "BTCUSDT")
    assert (contract.funding_rate, contract.next_funding_ms) == (-0.00025, T0_MS + 28_800_000)
    # The full computation from the same inputs agrees (the incremental and the full paths are one).
    assert compute_snapshot(risk.inputs()) == snap


def test_a_funding_only_change_recomputes_no_account(monkeypatch):
    risk = engine()
    risk.snapshot()
    calls = []
    original = account_figures.AccountModel.compute
    monkeypatch.setattr(account_figures.AccountModel, "compute",
                        lambda self, marks: calls.append(self.index) or original(self, marks))
    before = risk.snapshot()
    assert not risk.apply(funding("BTCUSDT", 0.0001))  # display only: apply reads False
    after = risk.snapshot()
    assert calls == [] and after is not before and after.positions[0].funding_rate == 0.0001
    assert after.accounts == before.accounts
    assert after.positions[0].liquidation_price == before.positions[0].liquidation_price
    # The same funding again changes nothing: the snapshot is kept as it was.
    risk.apply(funding("BTCUSDT", 0.0001))
    assert risk.snapshot() is after
    risk.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS + 1, price=57_000.0))
    risk.snapshot()
    assert calls == [0]  # a mark does recompute the account that holds it


def test_funding_in_a_batch_leaves_what_one_by_one_leaves():
    batch = [funding("BTCUSDT", 0.0001), MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=57_500.0),
             funding("BTCUSDT", 0.0001), funding("ETHUSDT", 0.0003, None),
             AdlRisk(venue="binance", symbol="BTCUSDT", ts=T0_MS, rating="high")]
    one, many = engine(), engine()
    one.snapshot(), many.snapshot()
    assert many.apply_many(batch) == sum(one.apply(e) for e in batch) == 1  # the mark only
    assert many.snapshot() == one.snapshot()
    eth = many.snapshot().positions[1]
    assert (eth.funding_rate, eth.next_funding_ms) == (0.0003, None)


def test_a_what_if_shows_the_same_funding():
    risk = engine()
    from adlwatch.engine.shocks import shock

    risk.set_shocks([shock(-10)])
    risk.apply(funding("ETHUSDT", 0.0005))
    assert risk.snapshot().positions[1].funding_rate == 0.0005
    assert risk.live_snapshot().positions[1].funding_rate == 0.0005


def test_the_venues_adl_rating_fills_the_contract():
    risk = engine()
    assert not risk.apply(AdlRisk(venue="binance", symbol="BTCUSDT", ts=T0_MS - 60_000, rating="medium"))
    contract = next(c for c in risk.snapshot().contracts if c.symbol == "BTCUSDT")
    assert (contract.venue_adl_risk, contract.venue_adl_risk_ms) == ("medium", T0_MS - 60_000)
    other = next(c for c in risk.snapshot().contracts if c.symbol == "ETHUSDT")
    assert (other.venue_adl_risk, other.venue_adl_risk_ms) == (None, None)
    assert compute_snapshot(risk.inputs()).contracts == risk.snapshot().contracts


def test_a_followed_positions_own_panel_figures_travel_to_its_row():
    risk = engine()
    state = AccountState(venue="binance", symbol="main", ts=T0_MS, settle="USDT", wallet_balance=5_000.0, positions=[
        ImportedPosition(symbol="BTCUSDT", side="long", size=0.1, entry_price=60_000.0, leverage=10,
                         margin_mode="cross", break_even_price=60_048.0, funding_pnl=-1.25,
                         take_profit=70_000.0, stop_loss=55_000.0),
        ImportedPosition(symbol="ETHUSDT", side="long", size=1.0, entry_price=3_000.0, leverage=10,
                         margin_mode="cross")])
    assert risk.apply(state)
    risk.apply(funding("BTCUSDT", 0.0001))
    rows = [p for p in risk.snapshot().positions if p.account == 1]
    btc, eth = rows
    assert (btc.venue_break_even_price, btc.funding_pnl, btc.take_profit, btc.stop_loss) == (
        60_048.0, -1.25, 70_000.0, 55_000.0)
    assert btc.break_even_price != btc.venue_break_even_price  # ours (fees) beside the venue's own
    assert btc.funding_rate == 0.0001
    assert (eth.venue_break_even_price, eth.funding_pnl, eth.take_profit, eth.stop_loss) == (None,) * 4
    # Plain values: the check --json / journal encoding carries them.
    encoded = msgspec.json.decode(msgspec.json.encode(btc))
    assert encoded["take_profit"] == 70_000.0 and encoded["funding_rate"] == 0.0001
    assert encoded["funding_pnl"] == -1.25 and encoded["next_funding_ms"] == T0_MS + 3_600_000


@pytest.mark.parametrize(("next_ms", "now_ms", "expected"), [
    (T0_MS + 3_600_000, T0_MS, 3_600.0),  # one hour to go
    (T0_MS + 28_800_000, T0_MS + 28_800_000 - 90_500, 90.5),  # 1 min 30.5 s before an 8-hourly funding
    (T0_MS + 1, T0_MS, 0.001),
    (T0_MS, T0_MS, None),  # the funding is now: the next one is not known yet
    (T0_MS, T0_MS + 1_000, None),  # past
    (None, T0_MS, None),
    (T0_MS, None, None),
])
def test_funding_countdown_by_hand(next_ms, now_ms, expected):
    assert funding_countdown_s(next_ms, now_ms) == expected


@given(st.integers(0, 2**45), st.integers(0, 2**45))
def test_funding_countdown_is_never_negative_and_counts_down(next_ms, now_ms):
    left = funding_countdown_s(next_ms, now_ms)
    if next_ms <= now_ms:
        assert left is None
    else:
        assert left > 0 and left == pytest.approx((next_ms - now_ms) / 1000)
        later = funding_countdown_s(next_ms, now_ms + 1)
        assert later is None or later < left


def test_the_adl_estimates_explanation_carries_the_venues_rating():
    from adlwatch.engine.monitor import Monitor

    monitor = Monitor(Portfolio.from_data({"account": [HELD["account"][0]]}, default_catalogue()))
    monitor.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0_MS, price=58_000.0))
    assert monitor.adl_estimate(0, 0).venue_rating_line() is None
    monitor.apply(AdlRisk(venue="binance", symbol="BTCUSDT", ts=T0_MS, rating="high"))
    estimate = monitor.adl_estimate(0, 0)
    assert (estimate.venue_rating, estimate.venue_rating_ms) == ("high", T0_MS)
    assert estimate.venue_rating_line().startswith(
        "The venue itself rates this contract's ADL risk HIGH (as of 2025-10-09 08:53 UTC)")
