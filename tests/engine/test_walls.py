"""The engine's walls: the catalogue travels with the portfolio, one snapshot builder (a what-if's
hedges are hypothetical), the incremental what-if, the venue registry, the enums on the wire."""

from __future__ import annotations

import ast
import json
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine import venues
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import MarkPrice, OpenInterest
from adlwatch.engine.hedges import hedge_risks
from adlwatch.engine.instruments import Catalogue, Tier, default_catalogue
from adlwatch.engine.margin import MarginRules
from adlwatch.engine.portfolio import (
    Portfolio,
    with_isolated_margin_change,
    with_leverage,
    with_position,
    with_wallet,
)
from adlwatch.engine.risk import RiskEngine
from adlwatch.engine.shocks import apply_shocks, shock
from adlwatch.engine.snapshot import ShockSpec

ENGINE = Path(__file__).resolve().parents[2] / "engine"


# -- the catalogue travels with the portfolio (issue 12's bug) ---------------------------------------


def refreshed_catalogue() -> Catalogue:
    """The bundled tables with BTCUSDT's refreshed to a flat 0.8 % MMR, and a contract only the refresh knows."""
    bundled = default_catalogue()
    btc = bundled.get("binance", "BTCUSDT")
    refreshed = replace(btc, tiers=(Tier(0.0, float("inf"), 0.008, 125.0),), source="refresh cache")
    only_here = replace(btc, symbol="NEWUSDT", base="NEW")
    return bundled.with_instruments([refreshed, only_here])


def held(catalogue: Catalogue) -> Portfolio:
    return Portfolio.from_data({"account": [{"venue": "binance", "wallet_balance": 10_000.0, "position": [
        {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10},
        {"symbol": "NEWUSDT", "side": "short", "size": 1.0, "entry_price": 100.0, "leverage": 5,
         "margin_mode": "isolated"},
    ]}]}, catalogue)


def btc_mmr(portfolio: Portfolio) -> float:
    (btc,) = [p for p in portfolio.accounts[0].positions if p.symbol == "BTCUSDT"]
    return btc.instrument.tier_for(30_000.0).mmr


EDITS = {
    "wallet": lambda p: with_wallet(p, 0, 12_000.0),
    "position": lambda p: with_position(p, 0, 0, {"symbol": "BTCUSDT", "side": "long", "size": 0.6,
                                                  "entry_price": 60_000.0, "leverage": 10}),
    "leverage": lambda p: with_leverage(p, 0, 0, 5.0),
    "isolated margin": lambda p: with_isolated_margin_change(p, 0, 1, 5.0),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_keeps_the_refreshed_tier_table_and_a_contract_only_it_knows(edit):
    catalogue = refreshed_catalogue()
    portfolio = held(catalogue)
    assert btc_mmr(portfolio) == 0.008 and default_catalogue().get("binance", "BTCUSDT").tiers[0].mmr == 0.004
    edited = EDITS[edit](portfolio)
    assert btc_mmr(edited) == 0.008
    assert edited.catalogue is catalogue
    assert [p.symbol for p in edited.accounts[0].positions] == ["BTCUSDT", "NEWUSDT"]


def test_the_engine_computes_with_the_portfolios_catalogue():
    engine = RiskEngine(held(refreshed_catalogue()))
    engine.set_mark("binance", "BTCUSDT", 60_000.0)
    engine.set_mark("binance", "NEWUSDT", 100.0)
    btc = next(p for p in engine.snapshot().positions if p.symbol == "BTCUSDT")
    assert btc.maintenance_margin == pytest.approx(0.5 * 60_000.0 * 0.008)


# -- one snapshot builder: a what-if's hedges are the hypothetical ones -------------------------------


def hedged() -> Portfolio:
    return Portfolio.from_data({"account": [
        {"venue": "binance", "wallet_balance": 1000.0, "position": [
            {"symbol": "BTCUSDT", "side": "long", "size": 0.1, "entry_price": 60000.0, "leverage": 10, "hedge": "btc"}]},
        {"venue": "hyperliquid", "wallet_balance": 2000.0, "position": [
            {"symbol": "BTC", "side": "short", "size": 0.1, "entry_price": 61000.0, "leverage": 5, "hedge": "btc"}]},
    ]}, default_catalogue())


def test_a_shocked_snapshots_hedges_are_computed_at_the_shocked_marks():
    engine = RiskEngine(hedged())
    engine.set_mark("binance", "BTCUSDT", 58_000.0)
    engine.set_mark("hyperliquid", "BTC", 58_000.0)
    live = engine.snapshot()
    shocks = (shock(-10.0),)
    engine.set_shocks(shocks)
    what_if = engine.snapshot()
    assert what_if.hypothetical and engine.live_snapshot() == live
    assert what_if.hedges != live.hedges
    assert what_if.hedges == hedge_risks(engine.portfolio, what_if)
    assert what_if.hedges[0].legs[0].notional_usd == pytest.approx(0.1 * 58_000.0 * 0.9)
    assert what_if.hedges[0].if_deleveraged[0].adl_price == pytest.approx(58_000.0 * 0.9)
    full = apply_shocks(engine.inputs(), shocks)
    assert full.hedges == what_if.hedges and full == what_if


# -- the incremental what-if equals the full recompute --------------------------------------------------

KEYS = [("binance", "BTCUSDT"), ("binance", "ETHUSDT"), ("hyperliquid", "BTC"), ("okx", "BTC-USDT-SWAP")]
SHOCKS = st.lists(st.builds(ShockSpec, st.floats(min_value=-50.0, max_value=50.0),
                            st.sampled_from([None, "binance", "hyperliquid", "okx"]),
                            st.sampled_from([None, "BTCUSDT", "BTC"])), max_size=3)
STEPS = st.lists(st.one_of(
    st.tuples(st.just("mark"), st.integers(0, len(KEYS) - 1), st.floats(min_value=0.8, max_value=1.25)),
    st.tuples(st.just("shocks"), SHOCKS),
    st.tuples(st.just("oi"), st.integers(0, len(KEYS) - 1), st.floats(min_value=1.0, max_value=1e4)),
    st.tuples(st.just("snapshot")),
), min_size=1, max_size=30)


def what_if_portfolio() -> Portfolio:
    return Portfolio.from_data({"account": [
        {"venue": "binance", "wallet_balance": 20_000.0, "position": [
            {"symbol": "BTCUSDT", "side": "long", "size": 0.5, "entry_price": 60_000.0, "leverage": 10, "hedge": "h"},
            {"symbol": "ETHUSDT", "side": "short", "size": 3.0, "entry_price": 3_000.0, "leverage": 10},
            {"symbol": "ETHUSDT", "side": "long", "size": 1.0, "entry_price": 2_900.0, "leverage": 20,
             "margin_mode": "isolated"}]},
        {"venue": "hyperliquid", "wallet_balance": 5_000.0, "position": [
            {"symbol": "BTC", "side": "short", "size": 0.5, "entry_price": 61_000.0, "leverage": 10, "hedge": "h"}]},
        {"venue": "okx", "wallet_balance": 3_000.0, "position": [
            {"symbol": "BTC-USDT-SWAP", "side": "long", "size": 0.2, "entry_price": 59_000.0, "leverage": 5}]},
    ]}, default_catalogue())


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_the_incremental_what_if_equals_the_full_recompute_after_any_marks_and_shocks(steps):
    engine = RiskEngine(what_if_portfolio())
    start = {KEYS[0]: 60_000.0, KEYS[1]: 3_000.0, KEYS[2]: 60_000.0, KEYS[3]: 60_000.0}
    marks = dict(start)
    engine.apply_many(MarkPrice(venue=v, symbol=s, ts=None, price=p) for (v, s), p in marks.items())
    shocks: tuple[ShockSpec, ...] = ()
    for step in steps:
        if step[0] == "mark":
            key = KEYS[step[1]]
            marks[key] *= step[2]
            engine.apply(MarkPrice(venue=key[0], symbol=key[1], ts=None, price=marks[key]))
        elif step[0] == "shocks":
            shocks = tuple(step[1])
            engine.set_shocks(shocks)
        elif step[0] == "oi":
            key = KEYS[step[1]]
            engine.apply(OpenInterest(venue=key[0], symbol=key[1], ts=None, open_interest=step[2]))
        else:
            engine.snapshot()
    assert engine.shocks == shocks
    assert engine.snapshot() == apply_shocks(engine.inputs(), shocks)
    assert engine.live_snapshot() == apply_shocks(engine.inputs(), ())


def test_a_mark_during_a_what_if_recomputes_only_the_accounts_that_hold_it():
    engine = RiskEngine(what_if_portfolio())
    for key in KEYS:
        engine.set_mark(*key, 60_000.0 if "ETH" not in key[1] else 3_000.0)
    engine.set_shocks((shock(-5.0),))
    engine.snapshot(), engine.live_snapshot()
    assert engine._live.dirty == engine._what_if.dirty == set()
    engine.set_mark("okx", "BTC-USDT-SWAP", 59_000.0)
    assert engine._live.dirty == engine._what_if.dirty == {2}


# -- the venue registry is derived, and open to a test's fake venue ------------------------------------


def fake_venue() -> ModuleType:
    module = ModuleType("adlwatch_tests.fakex")
    module.RULES = MarginRules(venue="fakex", mm_basis="mark", fee="none")
    module.TITLE, module.DISPLAY_CODE, module.SETTLE_DEFAULT, module.FOLLOW_BY = "FakeX", "FKX", "USDT", "key_name"
    module.ADL_FORMULA, module.ADL_PRICE, module.ADL_PRICE_STAND_IN = "fakex_upnl", "mark price", "mark"
    module.adl_price = lambda mark, previous_mark, liquidated_bankruptcy: mark
    module.adl_score = lambda x: x.unrealized_pnl
    module.adl_scores = lambda x: x.unrealized_pnl
    return module


def test_the_registry_lists_every_module_in_the_package():
    names = sorted(p.stem for p in (ENGINE / "venues").glob("*.py") if p.stem != "__init__")
    assert list(venues.VENUES) == names == sorted(venues.VENUE_RULES)


def test_a_fake_venue_registered_through_the_hook_is_a_venue_like_the_others():
    sys.modules.setdefault("adlwatch_tests.fakex", fake_venue())
    venues.register(sys.modules["adlwatch_tests.fakex"])
    try:
        assert "fakex" in venues.VENUES and venues.rules_for("fakex").DISPLAY_CODE == "FKX"
        bundled = default_catalogue()
        contract = replace(bundled.get("binance", "BTCUSDT"), venue="fakex", symbol="BTC-FAKE")
        portfolio = Portfolio.from_data({"account": [{"venue": "fakex", "wallet_balance": 1_000.0, "position": [
            {"symbol": "BTC-FAKE", "side": "long", "size": 0.1, "entry_price": 60_000.0, "leverage": 10}]}]},
            bundled.with_instruments([contract]))
        engine = RiskEngine(portfolio)
        engine.set_mark("fakex", "BTC-FAKE", 61_000.0)
        (risk,) = engine.snapshot().positions
        assert risk.adl_formula == "fakex_upnl" and risk.adl_score == pytest.approx(100.0)
        assert risk.liquidation_price is not None
    finally:
        venues.unregister("fakex")
    assert "fakex" not in venues.VENUES


def test_a_module_lacking_a_member_is_refused():
    module = fake_venue()
    del module.DISPLAY_CODE
    with pytest.raises(TypeError, match="DISPLAY_CODE"):
        venues.register(module, "broken")
    assert "broken" not in venues.VENUES


def test_no_venue_name_is_written_in_engine_code_outside_the_venue_modules():
    names = set(venues.VENUES)
    found = []
    for path in ENGINE.rglob("*.py"):
        if path.parent.name == "venues":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert found == []


# -- sides and margin modes: enums in the engine, the same words on the wire ----------------------------


def test_a_positions_side_and_margin_mode_are_enums_that_encode_as_the_contracts_words():
    engine = RiskEngine(what_if_portfolio())
    engine.set_mark("okx", "BTC-USDT-SWAP", 60_000.0)
    risk = next(p for p in engine.snapshot().positions if p.venue == "okx")
    assert risk.side is Side.LONG and risk.margin_mode is MarginMode.CROSS
    encoded = json.loads(msgspec.json.encode(risk))
    assert encoded["side"] == "long" and encoded["margin_mode"] == "cross"
    assert json.loads(json.dumps({"side": risk.side})) == {"side": "long"} and f"{risk.side}" == "long"


def test_a_what_if_follows_an_edited_portfolio_and_a_followed_accounts_report():
    from adlwatch.engine.events import AccountState, ImportedPosition

    data = what_if_portfolio().to_data()
    data["account"].append({"venue": "binance", "key_name": "main"})
    engine = RiskEngine(Portfolio.from_data(data, default_catalogue()))
    for key, price in zip(KEYS, (60_000.0, 3_000.0, 60_000.0, 60_000.0), strict=True):
        engine.set_mark(*key, price)
    shocks = (shock(-8.0, venue="binance"), shock(3.0))
    engine.set_shocks(shocks)
    engine.snapshot()
    engine.set_portfolio(with_wallet(engine.portfolio, 0, 25_000.0))
    assert engine.snapshot() == apply_shocks(engine.inputs(), shocks)
    report = AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=2_000.0,
                          positions=[ImportedPosition(symbol="BTCUSDT", side="short", size=0.05, entry_price=59_000.0,
                                                      leverage=10.0, margin_mode="cross")])
    assert engine.apply(report)
    assert engine.snapshot() == apply_shocks(engine.inputs(), shocks)
    assert engine.live_snapshot() == apply_shocks(engine.inputs(), ())
    assert [p.side for p in engine.snapshot().positions if p.imported] == [Side.SHORT]
