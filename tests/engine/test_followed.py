"""Followed accounts in the portfolio file and the engine: the venue's report replaces positions,
the venue's figures travel beside ours, and a disagreement says why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import AccountState, ImportedPosition, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio, with_account_states
from adlwatch.engine.risk import EngineInputs, RiskEngine, compute_snapshot

ADDRESS = "0x" + "ab" * 20


def followed_portfolio(**extra) -> Portfolio:
    return Portfolio.from_data({"account": [
        {"venue": "binance", "key_name": "main", "hedges": {"BTCUSDT": "btc-basis"}, **extra},
        {"venue": "hyperliquid", "wallet_balance": 2000.0, "position": [
            {"symbol": "BTC", "side": "short", "size": 0.1, "entry_price": 61000.0, "leverage": 5,
             "hedge": "btc-basis", "alert_below_pct": 8.0}]},
    ]}, default_catalogue())


def binance_state(liq: float | None = 40_000.0, positions=None, **extra) -> AccountState:
    if positions is None:
        positions = [ImportedPosition(symbol="BTCUSDT", side="long", size=0.5, entry_price=60_000.0, leverage=10,
                                      margin_mode="cross", liquidation_price=liq, adl_lights=2,
                                      adl_raw="adlQuantile 1 of 0-4", mark_price=58_000.0)]
    return AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=10_000.0,
                        positions=positions, **extra)


def test_followed_account_file_round_trip_keeps_where_not_what():
    portfolio = followed_portfolio(alert_below_pct=4.0)
    data = portfolio.to_data()
    assert data["account"][0] == {"venue": "binance", "key_name": "main", "hedges": {"BTCUSDT": "btc-basis"},
                                  "alert_below_pct": 4.0}
    assert Portfolio.from_data(data, default_catalogue()) == portfolio
    # Even after the venue reported, the file keeps no positions of a followed account.
    imported = with_account_states(portfolio, [binance_state()])
    assert imported.accounts[0].positions and imported.to_data()["account"][0] == data["account"][0]


@pytest.mark.parametrize(("account", "field", "echoes"), [
    ({"venue": "binance", "key_name": "main", "wallet_balance": 5.0}, "account[0].wallet_balance", True),
    ({"venue": "binance", "address": ADDRESS}, "account[0].address", True),
    ({"venue": "hyperliquid", "address": "0x1234"}, "account[0].address", True),
    ({"venue": "hyperliquid", "key_name": "main"}, "account[0].key_name", False),
    ({"venue": "hyperliquid", "address": ADDRESS, "key_name": "x"}, "account[0].key_name", False),
    ({"venue": "binance", "key_name": "main", "hedges": {"BTCUSDT": ""}}, "account[0].hedges.BTCUSDT", True),
    ({"venue": "binance", "key_name": "main", "settle": "BTX"}, "account[0].settle", True),
    ({"venue": "binance", "key_name": "main", "settle": 1}, "account[0].settle", True),
    ({"venue": "hyperliquid", "address": ADDRESS, "settle": "USDC"}, "account[0].settle", True),
])
def test_bad_followed_account_names_the_field(account, field, echoes):
    with pytest.raises(InputError) as caught:
        Portfolio.from_data({"account": [account]}, default_catalogue())
    assert caught.value.field == field
    assert caught.value.has_value is echoes


def test_a_pasted_secret_in_key_name_is_refused_without_echoing_it():
    secret = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    with pytest.raises(InputError) as caught:
        Portfolio.from_data({"account": [{"venue": "binance", "key_name": secret}]}, default_catalogue())
    assert caught.value.field == "account[0].key_name"
    assert secret not in str(caught.value) and secret[:12] not in str(caught.value)


def test_address_is_normalised_to_lower_case():
    portfolio = Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": ADDRESS.upper().replace("0X", "0x")}]}, default_catalogue())
    assert portfolio.accounts[0].address == ADDRESS
    assert portfolio.accounts[0].ref == ADDRESS


def test_engine_replaces_followed_positions_and_keeps_them_across_edits():
    engine = RiskEngine(followed_portfolio())
    assert [p.symbol for p in engine.snapshot().positions] == ["BTC"]
    assert engine.snapshot().accounts[0].awaiting_venue
    assert engine.apply(binance_state())
    engine.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=None, price=58_000.0))
    snap = engine.snapshot()
    btc = snap.positions[0]
    assert (btc.venue, btc.symbol, btc.size, btc.imported, btc.hedge) == ("binance", "BTCUSDT", 0.5, True, "btc-basis")
    assert btc.venue_adl_lights == 2 and btc.venue_adl_raw == "adlQuantile 1 of 0-4"
    assert not snap.accounts[0].awaiting_venue and snap.accounts[0].source == "api key 'main'"
    # An edit of the file (a new portfolio value) keeps what the venue said.
    engine.set_portfolio(followed_portfolio())
    assert [p.symbol for p in engine.snapshot().positions] == ["BTCUSDT", "BTC"]
    # The incremental engine equals the full computation.
    full = compute_snapshot(EngineInputs(portfolio=engine.portfolio, marks={("binance", "BTCUSDT"): 58_000.0},
                                         anchors=engine.inputs().anchors))
    assert full.positions[0] == engine.snapshot().positions[0]


def test_liquidation_difference_and_its_reasons():
    engine = RiskEngine(followed_portfolio())
    engine.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=None, price=58_000.0))
    engine.apply(binance_state(liq=None))
    ours = engine.snapshot().positions[0].liquidation_price
    assert ours is not None and engine.snapshot().positions[0].liquidation_diff_pct is None
    # The venue agrees to within 0.1 %: no highlight.
    engine.apply(binance_state(liq=ours * 1.0005))
    close = engine.snapshot().positions[0]
    assert close.disagreement is None and close.liquidation_diff_pct == pytest.approx(-0.05, abs=1e-3)
    # 1 % apart: highlighted, with the unverified tier table and the cross account named as reasons.
    engine.apply(binance_state(liq=ours * 1.01))
    far = engine.snapshot().positions[0]
    assert far.liquidation_diff_pct == pytest.approx((1 / 1.01 - 1) * 100)
    assert "tier table unverified" in far.disagreement and "cross" in far.disagreement


def test_account_brackets_replace_the_bundled_tiers_and_count_as_verified():
    bracket = [(0.0, 1e12, 0.01, 20.0, 0.0)]
    state = binance_state(positions=[ImportedPosition(
        symbol="BTCUSDT", side="long", size=0.5, entry_price=60_000.0, leverage=10, margin_mode="isolated",
        isolated_margin=3000.0, liquidation_price=1.0, brackets=bracket)])
    portfolio = with_account_states(followed_portfolio(), [state])
    position = portfolio.accounts[0].positions[0]
    assert position.instrument.tiers[0].mmr == 0.01 and position.instrument.verified
    assert position.isolated_margin == 3000.0
    # Isolated long: bankruptcy where 3000 + 0.5 (P - 60000) = 0 → 54000; liquidation where that equals 1 % of value.
    snap = compute_snapshot(EngineInputs(portfolio=portfolio, marks={("binance", "BTCUSDT"): 58_000.0}))
    assert snap.positions[0].bankruptcy_price == pytest.approx(54_000.0)
    assert snap.positions[0].liquidation_price == pytest.approx((3000 - 30_000) / (0.5 * 0.01 - 0.5))


def test_positions_adlwatch_cannot_model_are_named_not_fatal():
    state = binance_state(positions=[
        ImportedPosition(symbol="NOPEUSDT", side="long", size=1.0, entry_price=1.0, leverage=2, margin_mode="cross"),
        ImportedPosition(symbol="BTCUSDT", side="sideways", size=1.0, entry_price=1.0, leverage=2, margin_mode="cross"),
        ImportedPosition(symbol="ETHUSDT", side="short", size=2.0, entry_price=3000.0, leverage=5, margin_mode="cross"),
    ], warnings=["binance key 'main' can trade: use a read-only key"])
    account = with_account_states(followed_portfolio(), [state]).accounts[0]
    assert [p.symbol for p in account.positions] == ["ETHUSDT"]
    assert account.warnings[0].startswith("binance key 'main' can trade")
    assert any(w.startswith("NOPEUSDT long not modelled") for w in account.warnings)
    assert any(w.startswith("BTCUSDT sideways not modelled") for w in account.warnings)


@given(st.lists(st.builds(
    ImportedPosition,
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BTCUSD_PERP", "??"]),
    side=st.sampled_from(["long", "short", ""]),
    size=st.floats(allow_nan=True, allow_infinity=True),
    entry_price=st.floats(allow_nan=True, allow_infinity=True),
    leverage=st.floats(allow_nan=True, allow_infinity=True),
    margin_mode=st.sampled_from(["cross", "isolated", "portfolio"]),
    isolated_margin=st.none() | st.floats(allow_nan=True),
    liquidation_price=st.none() | st.floats(allow_nan=True),
    adl_lights=st.none() | st.integers(-3, 9),
), max_size=4))
def test_any_venue_report_gives_a_snapshot_never_an_exception(positions):
    engine = RiskEngine(followed_portfolio())
    engine.apply(binance_state(positions=positions))
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"):
        engine.apply(MarkPrice(venue="binance", symbol=symbol, ts=None, price=100.0))
    snap = engine.snapshot()
    for p in snap.positions:
        assert p.venue_adl_lights is None or 0 <= p.venue_adl_lights <= 5
        assert p.venue_liquidation_price is None or p.venue_liquidation_price > 0


def test_adl_lights_more_than_one_apart_are_a_disagreement():
    engine = RiskEngine(followed_portfolio())
    engine.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=None, price=58_000.0))
    for venue_lights in (1, 2, 3, 4, 5):
        engine.apply(binance_state(liq=None, positions=[ImportedPosition(
            symbol="BTCUSDT", side="long", size=0.5, entry_price=60_000.0, leverage=10, margin_mode="cross",
            adl_lights=venue_lights)]))
        p = engine.snapshot().positions[0]
        assert p.adl_quantile is not None
        apart = abs(venue_lights - p.adl_quantile) > 1
        assert (p.disagreement is not None and "ADL lights" in p.disagreement) == apart


def test_a_keys_account_in_another_settlement_asset_has_its_own_ref_and_keeps_its_settle():
    """``settle = "BTC"`` follows the key's BTC-margined account (Binance COIN-M) beside its USDT one:
    each has its own reference, so each venue report lands on its own account; the file keeps it."""
    portfolio = Portfolio.from_data({"account": [
        {"venue": "binance", "key_name": "main"},
        {"venue": "binance", "key_name": "main", "settle": "BTC"},
        {"venue": "binance", "key_name": "other", "settle": "USDT"},  # the default, written out
    ]}, default_catalogue())
    usdt, btc, other = portfolio.accounts
    assert (usdt.ref, btc.ref, other.ref) == ("main", "main:BTC", "other")
    assert (usdt.settle, btc.settle, other.settle) == ("USDT", "BTC", "USDT")
    assert [a.get("settle") for a in portfolio.to_data()["account"]] == [None, "BTC", "USDT"]
    state = AccountState(venue="binance", symbol="main:BTC", ts=None, settle="BTC", wallet_balance=1.5,
                         positions=[ImportedPosition(symbol="BTCUSD_PERP", side="long", size=10, entry_price=60_000.0,
                                                     leverage=10, margin_mode="cross", mark_price=61_000.0)])
    imported = with_account_states(portfolio, [state])
    assert imported.accounts[1].wallet_balance == 1.5 and [p.symbol for p in imported.accounts[1].positions] == [
        "BTCUSD_PERP"]
    assert not imported.accounts[0].imported and not imported.accounts[2].imported


@pytest.mark.parametrize("second", [
    {"venue": "binance", "key_name": "main", "settle": "USDT"},  # the default written out: the same account
    {"venue": "binance", "key_name": "main"},
])
def test_one_venue_account_followed_twice_is_refused(second):
    with pytest.raises(InputError) as caught:
        Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main"}, second]}, default_catalogue())
    assert caught.value.field == "account[1].key_name" and "account[0] already follows" in caught.value.reason


def test_one_address_followed_twice_is_refused():
    with pytest.raises(InputError) as caught:
        Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": ADDRESS},
                                         {"venue": "hyperliquid", "address": ADDRESS.upper().replace("0X", "0x")}]},
                            default_catalogue())
    assert caught.value.field == "account[1].address"
