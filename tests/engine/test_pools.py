"""A shared insurance pool's fund ÷ open interest: over every member's OI, an upper bound (and said
so) while some members' OI is unknown, members not held are no rows, unvalued assets left out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import InsuranceFund, MarkPrice, OpenInterest
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import FundBalance, RiskEngine, pool_fund_to_oi
from tests.engine.factories import account, position

# Binance's BTC pool as its Insurance-Fund-Balance page shows it (members and assets), with our numbers.
# https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Insurance-Fund-Balance
POOL = ["BNBUSDT", "BTCUSDT", "BTCUSDT_250627", "BTCUSDT_250926", "ETHBTC", "ETHUSDT"]


def btc_long() -> Portfolio:
    catalogue = default_catalogue()
    btc = catalogue.get("binance", "BTCUSDT")
    return Portfolio((account("binance", 5_000, [position(btc, Side.LONG, 1.0, 60_000, 20, MarginMode.CROSS)]),),
                     catalogue=catalogue)


def btc_holder() -> RiskEngine:
    engine = RiskEngine(btc_long())
    engine.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=60_000.0))
    engine.apply(OpenInterest(venue="binance", symbol="BTCUSDT", ts=1, open_interest=1_000.0))  # 60M USD
    return engine


def fund(asset: str, balance: float, symbols: list[str] = POOL) -> InsuranceFund:
    return InsuranceFund(venue="binance", symbol=symbols[0], ts=1, symbols=symbols, asset=asset, balance=balance)


def test_partial_open_interest_gives_an_upper_bound_marked_as_such():
    engine = btc_holder()
    engine.apply(fund("USDT", 6_000_000.0))
    (btc,) = engine.snapshot().contracts
    # 6M over BTCUSDT's 60M alone: 10 %, but five members' OI is unknown.
    assert btc.fund_to_oi == pytest.approx(0.10)
    assert btc.fund_to_oi_partial
    assert (btc.fund_members, btc.fund_members_with_oi) == (6, 1)


def test_every_members_open_interest_is_the_denominator():
    engine = btc_holder()
    engine.apply(fund("USDT", 6_000_000.0))
    usd = {"BNBUSDT": 5e6, "BTCUSDT_250627": 4e6, "BTCUSDT_250926": 3e6, "ETHBTC": 1e6, "ETHUSDT": 27e6}
    for symbol, value in usd.items():
        engine.apply(OpenInterest(venue="binance", symbol=symbol, ts=1, open_interest=1.0, open_interest_usd=value))
    (btc,) = engine.snapshot().contracts  # the members' OI makes no rows of their own
    # 6M ÷ (60 + 5 + 4 + 3 + 1 + 27 = 100M) = 6 %, by hand.
    assert btc.fund_to_oi == pytest.approx(0.06)
    assert not btc.fund_to_oi_partial
    assert (btc.fund_members, btc.fund_members_with_oi) == (6, 6)


def test_pool_members_not_held_or_marked_are_no_rows():
    engine = btc_holder()
    engine.apply(fund("USDT", 6_000_000.0))
    assert [c.symbol for c in engine.snapshot().contracts] == ["BTCUSDT"]
    engine.apply(MarkPrice(venue="binance", symbol="ETHUSDT", ts=1, price=3_000.0))  # the feed marks it: a row
    assert [c.symbol for c in engine.snapshot().contracts] == ["BTCUSDT", "ETHUSDT"]


def test_an_asset_no_mark_values_is_left_out_of_the_balance_and_named():
    engine = btc_holder()
    engine.apply(fund("USDT", 6_000_000.0))
    engine.apply(fund("BNFCR", 1_000_000.0))
    engine.apply(fund("BTC", 10.0))  # valued at BTCUSDT's mark: 600k
    (btc,) = engine.snapshot().contracts
    assert btc.fund_balance_usd == pytest.approx(6_600_000.0)
    assert btc.fund_unvalued_assets == ("BNFCR",)
    assert btc.fund_to_oi == pytest.approx(0.11)


def test_a_pool_of_only_unvalued_assets_has_no_balance():
    engine = btc_holder()
    engine.apply(fund("BNFCR", 1_000_000.0))
    (btc,) = engine.snapshot().contracts
    assert btc.fund_balance_usd is None and btc.fund_to_oi is None and not btc.fund_to_oi_partial
    assert btc.fund_unvalued_assets == ("BNFCR",)


def test_a_pool_of_one_contract_is_never_partial():
    engine = btc_holder()
    engine.apply(fund("USDT", 6_000_000.0, ["BTCUSDT"]))
    (btc,) = engine.snapshot().contracts
    assert btc.fund_to_oi == pytest.approx(0.10) and not btc.fund_to_oi_partial
    assert (btc.fund_members, btc.fund_members_with_oi) == (1, 1)


members_oi = st.lists(st.tuples(st.floats(1.0, 1e11), st.booleans()), min_size=1, max_size=12)


@given(balance=st.floats(0.0, 1e10), members=members_oi)
def test_partial_ratio_bounds_the_pools_ratio_and_equals_it_when_all_known(balance, members):
    names = [f"S{i}USDT" for i in range(len(members))]
    pool = [FundBalance("binance", tuple(names), "USDT", balance)]
    catalogue = default_catalogue()
    everyone = {s: usd for s, (usd, _) in zip(names, members, strict=True)}
    some = {s: (usd if known else None) for s, (usd, known) in zip(names, members, strict=True)}
    full = pool_fund_to_oi(pool, names, {}, catalogue, everyone)
    partial = pool_fund_to_oi(pool, names, {}, catalogue, some)
    assert full.ratio == pytest.approx(balance / sum(everyone.values()))
    assert not full.partial and full.members_with_oi == full.members == len(names)
    known = [usd for usd, k in members if k]
    assert partial.members_with_oi == len(known)
    if not known:
        assert partial.ratio is None and not partial.partial
    else:
        # fund ÷ known OI, never below the pool's own ratio; flagged whenever some OI is missing
        assert partial.ratio == pytest.approx(balance / sum(known))
        assert partial.ratio >= full.ratio * (1 - 1e-12)
        assert partial.partial == (len(known) < len(names))


def test_the_members_open_interest_arriving_is_no_fund_to_oi_drop():
    from adlwatch.engine.alert_rules import AlertRules
    from adlwatch.engine.monitor import Monitor

    monitor = Monitor(btc_long(), rules=AlertRules(distance_below_pct=None, adl_lights_at_least=None,
                                                        fund_to_oi_drop_pct=20.0, stale_feed_after_s=None, hold_s=0.0))
    monitor.apply_many([MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=60_000.0),
                        OpenInterest(venue="binance", symbol="BTCUSDT", ts=1, open_interest=1_000.0),
                        fund("USDT", 6_000_000.0, ["BTCUSDT", "ETHUSDT"])])
    assert monitor.evaluate(1.0) == []  # 10 %, an upper bound: no session high
    monitor.apply_many([OpenInterest(venue="binance", symbol="ETHUSDT", ts=2, open_interest=1.0, open_interest_usd=60e6)])
    assert monitor.evaluate(2.0) == []  # the pool's own 5 %: its first high, not a 50 % drop
    monitor.apply_many([fund("USDT", 4_000_000.0, ["BTCUSDT", "ETHUSDT"])])
    fired = monitor.evaluate(3.0)
    assert [a.rule for a in fired] == ["fund_to_oi_drop"]  # 3.33 %: a third below the complete high
