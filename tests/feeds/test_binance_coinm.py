"""Binance COIN-M accounts followed by read-only key (``settle = "BTC"``) and USDC-settled USDⓈ-M ones
(``settle = "USDC"``): the documented dapi bodies parsed, the emulator's key followed end to end,
the engine's liquidation price against Binance's COIN-M formula, a quarterly held in the cross
account, and liquidated / ADL'd COIN-M positions told once each through the monitor."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import RULE_FORCED_CLOSE
from adlwatch.engine.events import AccountState, ForcedClose, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine
from adlwatch.feeds.accounts import followers_for
from adlwatch.feeds.accounts.signed import BodyError, MapContext, Read, SignedFollower
from adlwatch.feeds.venues.binance import account as binance
from tests.feeds import private_fixtures
from tests.feeds.private_fixtures import (
    COINM_BRACKETS,
    COINM_FACE,
    COINM_WALLET,
    FAST,
    NoKeyring,
    coinm_liquidation_price,
    env_for,
    with_coinm,
)

private = private_fixtures.private  # the fixture: the emulator with the test accounts

BTC = MapContext("main:BTC", "BTC", 7)

# ---------------------------------------------------------------------------- documented bodies
# https://developers.binance.com/docs/derivatives/coin-margined-futures/trade/Position-Information
# (its three rows: the held LONG side of BTCUSD_201225 between two flat ones)
RISK_DOC = [
    {"symbol": "BTCUSD_201225", "positionAmt": "0", "entryPrice": "0.0", "breakEvenPrice": "0.0",
     "markPrice": "0.00000000", "unRealizedProfit": "0.00000000", "liquidationPrice": "0", "leverage": "125",
     "maxQty": "50", "marginType": "cross", "isolatedMargin": "0.00000000", "isAutoAddMargin": "false",
     "positionSide": "BOTH", "updateTime": 0},
    {"symbol": "BTCUSD_201225", "positionAmt": "1", "entryPrice": "11707.70000003", "breakEvenPrice": "11707.80000005",
     "markPrice": "11788.66626667", "unRealizedProfit": "0.00005866", "liquidationPrice": "11667.63509587",
     "leverage": "125", "maxQty": "50", "marginType": "cross", "isolatedMargin": "0.00000000",
     "isAutoAddMargin": "false", "positionSide": "LONG", "updateTime": 1627026881327},
    {"symbol": "BTCUSD_201225", "positionAmt": "0", "entryPrice": "0.0", "breakEvenPrice": "0.0",
     "markPrice": "0.00000000", "unRealizedProfit": "0.00000000", "liquidationPrice": "0", "leverage": "125",
     "maxQty": "50", "marginType": "cross", "isolatedMargin": "0.00000000", "isAutoAddMargin": "false",
     "positionSide": "SHORT", "updateTime": 1627026881327},
]
# https://developers.binance.com/docs/derivatives/coin-margined-futures/account/Account-Information
# (its BTC asset; the page's positions rows are flat, so the held side's maintMargin is ours)
ACCOUNT_DOC = {
    "assets": [{"asset": "BTC", "walletBalance": "0.00241969", "unrealizedProfit": "0.00000000",
                "marginBalance": "0.00241969", "maintMargin": "0.00000000", "initialMargin": "0.00000000",
                "positionInitialMargin": "0.00000000", "openOrderInitialMargin": "0.00000000",
                "maxWithdrawAmount": "0.00241969", "crossWalletBalance": "0.00241969", "crossUnPnl": "0.00000000",
                "availableBalance": "0.00241969", "updateTime": 1625474304765}],
    "positions": [{"symbol": "BTCUSD_201225", "positionAmt": "0", "initialMargin": "0", "maintMargin": "0",
                   "unrealizedProfit": "0.00000000", "positionInitialMargin": "0", "openOrderInitialMargin": "0",
                   "leverage": "125", "isolated": False, "positionSide": "BOTH", "entryPrice": "0.0",
                   "breakEvenPrice": "0.0", "updateTime": 0, "maxQty": "50"},
                  {"symbol": "BTCUSD_201225", "positionAmt": "1", "initialMargin": "0.00067843",
                   "maintMargin": "0.00003393", "unrealizedProfit": "0.00005866", "positionInitialMargin": "0.00067843",
                   "openOrderInitialMargin": "0", "leverage": "125", "isolated": False, "positionSide": "LONG",
                   "entryPrice": "11707.70000003", "breakEvenPrice": "11707.80000005", "updateTime": 1627026881327,
                   "maxQty": "50"}],
}
# https://developers.binance.com/docs/derivatives/coin-margined-futures/trade/rest-api/Position-ADL-Quantile-Estimation
ADL_DOC = [{"symbol": "BTCUSD_200925", "adlQuantile": {"LONG": 3, "SHORT": 3, "HEDGE": 0}},
           {"symbol": "BTCUSD_201225", "adlQuantile": {"LONG": 1, "SHORT": 2, "BOTH": 0}}]
# https://developers.binance.com/docs/derivatives/coin-margined-futures/account/Notional-Bracket-for-Symbol
# (the page spells the floor "qtylFloor")
BRACKETS_DOC = [{"symbol": "BTCUSD_PERP", "notionalCoef": 1.50,
                 "brackets": [{"bracket": 1, "initialLeverage": 125, "qtyCap": 50, "qtylFloor": 0,
                               "maintMarginRatio": 0.004, "cum": 0.0}]}]
# https://developers.binance.com/docs/derivatives/coin-margined-futures/account/rest-api/Get-Income-History
INCOME_DOC = [{"symbol": "", "incomeType": "TRANSFER", "income": "-0.37500000", "asset": "BTC", "info": "WITHDRAW",
               "time": 1570608000000, "tranId": "9689322392", "tradeId": ""},
              {"symbol": "BTCUSD_200925", "incomeType": "COMMISSION", "income": "-0.01000000", "asset": "BTC",
               "info": "", "time": 1570636800000, "tranId": "9689322392", "tradeId": "2059192"}]
# https://developers.binance.com/docs/derivatives/coin-margined-futures/trade/Users-Force-Orders (first row)
FORCE_DOC = [{"orderId": 165123080, "symbol": "BTCUSD_200925", "pair": "BTCUSD", "status": "FILLED",
              "clientOrderId": "autoclose-1596542005017000006", "price": "11326.9", "avgPrice": "11326.9",
              "origQty": "1", "executedQty": "1", "cumBase": "0.00882854", "timeInForce": "IOC", "type": "LIMIT",
              "reduceOnly": False, "closePosition": False, "side": "SELL", "positionSide": "BOTH", "stopPrice": "0",
              "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": "LIMIT", "time": 1596542005019,
              "updateTime": 1596542005050}]


def _bodies(**changes) -> dict[str, str]:
    docs = {binance.COINM_POSITION_RISK: RISK_DOC, binance.COINM_ACCOUNT: ACCOUNT_DOC,
            binance.COINM_ADL_QUANTILE: ADL_DOC, binance.COINM_LEVERAGE_BRACKET: BRACKETS_DOC,
            binance.COINM_INCOME: INCOME_DOC}
    docs.update({getattr(binance, name): doc for name, doc in changes.items()})
    return {path: json.dumps(doc) for path, doc in docs.items() if doc is not None}


def test_a_coin_settle_reads_coin_m_on_the_dapi_host_and_a_stablecoin_usds_m():
    assert binance.is_coinm_asset("BTC") and binance.is_coinm_asset("ETH")  # ETH: a coin no bundled table lists
    assert not binance.is_coinm_asset("USDT") and not binance.is_coinm_asset("USDC")
    coinm = binance.reads("BTC")
    assert {r.path for r in coinm} == {binance.COINM_POSITION_RISK, binance.COINM_ACCOUNT, binance.COINM_ADL_QUANTILE,
                                       binance.COINM_LEVERAGE_BRACKET, binance.COINM_INCOME, binance.API_RESTRICTIONS}
    assert {r.host for r in coinm if r.path != binance.API_RESTRICTIONS} == {"coinm"}
    assert binance.reads("USDC") == binance.reads("USDT") and all(r.path.startswith(("/fapi", "/sapi"))
                                                                   for r in binance.reads("USDC"))
    assert binance.host_url("coinm", "https://fapi.binance.com") == "https://dapi.binance.com"
    assert binance.host_url("coinm", "http://127.0.0.1:9/binance") == "http://127.0.0.1:9/binance"  # the emulator
    assert binance.coinm_asset("BTCUSD_PERP") == binance.coinm_asset("BTCUSD_261225") == "BTC"


def test_the_documented_coin_m_bodies_give_the_held_side_in_contracts():
    state = binance.account_state(_bodies(), BTC)
    assert (state.symbol, state.settle, state.ts) == ("main:BTC", "BTC", 1625474304765)
    assert state.wallet_balance == 0.00241969 and state.account_value == 0.00241969
    (position,) = state.positions  # the two flat sides are not positions
    assert (position.symbol, position.side, position.size, position.margin_mode) == ("BTCUSD_201225", "long", 1.0,
                                                                                    "cross")
    assert (position.entry_price, position.leverage, position.mark_price) == (11707.70000003, 125.0, 11788.66626667)
    assert position.liquidation_price == 11667.63509587 and position.break_even_price == 11707.80000005
    assert position.unrealized_pnl == 0.00005866 and position.maintenance_margin == 0.00003393
    assert (position.adl_lights, position.adl_raw) == (2, "adlQuantile 1 of 0-4")  # its LONG quantile
    assert state.maintenance_margin == 0.00003393
    assert position.funding_pnl == 0.0  # the page's income rows are a transfer and a commission
    assert state.warnings == []


def test_the_documented_brackets_are_read_in_coin_whatever_the_floors_spelling():
    bodies = _bodies(COINM_POSITION_RISK=[{**RISK_DOC[1], "symbol": "BTCUSD_PERP"}],
                     COINM_ACCOUNT={**ACCOUNT_DOC, "positions": [{**ACCOUNT_DOC["positions"][1], "symbol": "BTCUSD_PERP"}]})
    (position,) = binance.account_state(bodies, BTC).positions
    assert position.brackets == [(0.0, 50.0, 0.004, 125.0, 0.0)]
    spelled = [{**BRACKETS_DOC[0], "brackets": [{**BRACKETS_DOC[0]["brackets"][0], "qtyFloor": 10}]}]
    (position,) = binance.account_state({**bodies, binance.COINM_LEVERAGE_BRACKET: json.dumps(spelled)}, BTC).positions
    assert position.brackets == [(10.0, 50.0, 0.004, 125.0, 0.0)]


def test_positions_margined_in_another_coin_are_named_not_shown():
    eth = {**RISK_DOC[1], "symbol": "ETHUSD_PERP", "positionAmt": "-40", "positionSide": "BOTH"}
    state = binance.account_state(_bodies(COINM_POSITION_RISK=[*RISK_DOC, eth]), BTC)
    assert [p.symbol for p in state.positions] == ["BTCUSD_201225"]
    assert state.warnings == ['ETHUSD_PERP: settle in ETH, another account of the key (follow it with settle = "ETH")']


def test_an_isolated_position_keeps_its_margin_without_its_upnl():
    isolated = {**RISK_DOC[1], "marginType": "isolated", "isolatedMargin": "0.00105866"}
    (position,) = binance.account_state(_bodies(COINM_POSITION_RISK=[isolated]), BTC).positions
    assert position.margin_mode == "isolated" and position.isolated_margin == pytest.approx(0.001, abs=1e-12)
    with_wallet = {**isolated, "isolatedWallet": "0.002"}  # the websocket API's field, where a row has it
    (position,) = binance.account_state(_bodies(COINM_POSITION_RISK=[with_wallet]), BTC).positions
    assert position.isolated_margin == 0.002
    state = binance.account_state(_bodies(COINM_POSITION_RISK=[isolated]), BTC)
    assert state.maintenance_margin == 0.0  # the cross maintenance counts cross positions only


def test_funding_since_the_position_changed_in_the_coin():
    funding = [{"symbol": "BTCUSD_201225", "incomeType": "FUNDING_FEE", "income": income, "asset": asset,
                "info": "", "time": time_ms, "tranId": "1", "tradeId": ""}
               for income, asset, time_ms in [("-0.00001", "BTC", 1627026881000),  # before the change
                                              ("-0.00002", "BTC", 1627030000000),
                                              ("0.00001", "BTC", 1627040000000),
                                              ("-5", "USDT", 1627040000000)]]  # another asset's row
    (position,) = binance.account_state(_bodies(COINM_INCOME=[*INCOME_DOC, *funding]), BTC).positions
    assert position.funding_pnl == pytest.approx(-0.00001, abs=1e-15)
    state = binance.account_state(_bodies(COINM_INCOME=None), BTC)
    assert state.positions[0].funding_pnl is None and state.warnings == []  # the optional read failed: unknown


def test_the_documented_force_order_is_a_liquidation_in_contracts():
    read = Read(binance.COINM_FORCE_ORDERS, params=(("symbol", "BTCUSD_200925"), ("autoCloseType", "LIQUIDATION")),
                host="coinm")
    (close,) = binance.forced_closes([(read, json.dumps(FORCE_DOC))], BTC)
    assert (close.symbol, close.account, close.side, close.cause) == ("BTCUSD_200925", "main:BTC", "long", "liquidation")
    assert (close.price, close.size, close.ts) == (11326.9, 1.0, 1596542005050)
    # Without autoCloseType the client order id tells: "autoclose-…" is a liquidation.
    (close,) = binance.forced_closes([(Read(binance.COINM_FORCE_ORDERS, host="coinm"), json.dumps(FORCE_DOC))], BTC)
    assert close.cause == "liquidation"


def test_closing_records_of_a_coin_m_symbol_are_read_on_the_dapi_host():
    reads = binance.record_reads([("BTCUSD_PERP", "long", 1_000_000), ("BTCUSDT", "long", 1_000_000)])
    coinm = [r for r in reads if dict(r.params)["symbol"] == "BTCUSD_PERP"]
    usdm = [r for r in reads if dict(r.params)["symbol"] == "BTCUSDT"]
    assert {(r.path, r.host) for r in coinm} == {(binance.COINM_FORCE_ORDERS, "coinm")}
    assert {(r.path, r.host) for r in usdm} == {(binance.FORCE_ORDERS, "rest")}
    assert sorted(dict(r.params)["autoCloseType"] for r in coinm) == ["ADL", "LIQUIDATION"]
    assert {r.path for r in reads} <= binance.READ_PATHS


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_coin_m_body_gives_a_state_or_a_body_error(data):
    """Each documented body replaced by arbitrary JSON, or one of its values by any JSON value."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
    bodies = _bodies()
    path = data.draw(st.sampled_from(sorted(bodies)))
    if data.draw(st.booleans()):
        bodies[path] = json.dumps(data.draw(values))
    else:
        doc = json.loads(bodies[path])
        rows = doc if isinstance(doc, list) else doc["assets"] if "assets" in doc else [doc]
        row = data.draw(st.sampled_from(rows))
        row[data.draw(st.sampled_from(sorted(row)))] = data.draw(values)
        bodies[path] = json.dumps(doc)
    try:
        state = binance.account_state(bodies, BTC)
    except BodyError:
        return
    assert state.settle == "BTC" and all(binance.coinm_asset(p.symbol) == "BTC" for p in state.positions)


# ---------------------------------------------------------------------------- the emulator's key


def _follower(private, settle: str, **options) -> SignedFollower:  # noqa: F811
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main", "settle": settle}]},
                                    default_catalogue())
    (follower,) = followers_for(portfolio, rest_urls={"binance": private.emu.rest_url("binance")},
                                env=env_for("binance"), keyring=NoKeyring(), **{**FAST, **options})
    return follower


async def test_a_followed_btc_account_reads_the_keys_coin_m_wallet_and_positions(private):  # noqa: F811
    key = with_coinm(private.account("binance"))
    follower = _follower(private, "BTC")
    assert (follower.ref, follower.key_name, follower.settle) == ("main:BTC", "main", "BTC")
    [state, *_] = await follower.fetch()
    assert isinstance(state, AccountState) and (state.symbol, state.settle) == ("main:BTC", "BTC")
    perpetual, quarterly = (p for p in key.positions if p.settle == "BTC")
    assert state.wallet_balance == COINM_WALLET
    cross_pnl = perpetual.unrealized_pnl + quarterly.unrealized_pnl
    assert state.account_value == pytest.approx(COINM_WALLET + cross_pnl, abs=1e-8)
    assert state.maintenance_margin == pytest.approx(perpetual.maint_margin + quarterly.maint_margin, abs=1e-8)
    by_symbol = {p.symbol: p for p in state.positions}
    assert sorted(by_symbol) == ["BTCUSD_261225", "BTCUSD_PERP"]  # the key's USDT positions are fapi's
    perp = by_symbol["BTCUSD_PERP"]
    assert (perp.side, perp.size, perp.leverage, perp.margin_mode) == ("long", 300.0, 20.0, "cross")
    assert perp.liquidation_price == pytest.approx(perpetual.liquidation_price, abs=1e-8)
    assert perp.adl_lights == 3 and perp.break_even_price == 60_030.0
    assert perp.brackets == [tuple(b) for b in COINM_BRACKETS]
    assert perp.unrealized_pnl == pytest.approx(300 * COINM_FACE * (1 / 60_000 - 1 / 61_000), abs=1e-8)
    assert perp.funding_pnl == pytest.approx(-0.00012, abs=1e-12)
    assert by_symbol["BTCUSD_261225"].side == "short" and by_symbol["BTCUSD_261225"].size == 100.0
    paths = {r.path for r in private.endpoints.private("binance")}
    assert paths >= {binance.COINM_POSITION_RISK, binance.COINM_ACCOUNT, binance.COINM_ADL_QUANTILE,
                     binance.COINM_LEVERAGE_BRACKET, binance.COINM_INCOME}
    assert not any(p.startswith("/fapi") for p in paths)


async def test_the_usdt_account_of_the_same_key_keeps_its_own_positions(private):  # noqa: F811
    with_coinm(private.account("binance"))
    [state, *_] = await _follower(private, "USDT").fetch()
    assert state.symbol == "main" and state.wallet_balance == 10_000.0
    assert {p.symbol for p in state.positions} == {"BTCUSDT", "ETHUSDT"}  # no COIN-M position on fapi


async def test_a_usdc_account_follows_the_keys_usdc_margined_contracts(private):  # noqa: F811
    key = private.account("binance")
    key.wallets["USDC"] = 2_500.0
    [state, *_] = await _follower(private, "USDC").fetch()
    assert (state.symbol, state.settle, state.wallet_balance) == ("main:USDC", "USDC", 2_500.0)
    (sol,) = state.positions
    assert (sol.symbol, sol.side, sol.size, sol.entry_price) == ("SOLUSDC", "long", 10.0, 150.0)
    assert state.account_value == pytest.approx(2_500.0 + 10.0 * (155.0 - 150.0))
    assert state.warnings == ['BTCUSDT, ETHUSDT: settle in USDT, another account of the key '
                              '(follow it with settle = "USDT")']
    [usdt, *_] = await _follower(private, "USDT").fetch()
    assert usdt.wallet_balance == 10_000.0 and "SOLUSDC" not in {p.symbol for p in usdt.positions}
    assert {r.path for r in private.endpoints.private("binance")} <= {r.path for r in binance.reads("USDC")}


def _engine(state: AccountState, portfolio_data: dict) -> RiskEngine:
    engine = RiskEngine(Portfolio.from_data(portfolio_data, default_catalogue()))
    engine.apply(state)
    for p in state.positions:
        engine.apply(MarkPrice(venue="binance", symbol=p.symbol, ts=None, price=p.mark_price))
    return engine


async def test_the_engines_liquidation_price_is_binances_coin_m_formula(private):  # noqa: F811
    """The BTCUSD_PERP long's liquidation price, by hand from the account's brackets with Binance's
    COIN-M formula (the quarterly's maintenance and uPnL as TMM1 and UPNL1), is adlwatch's own."""
    key = with_coinm(private.account("binance"))
    [state, *_] = await _follower(private, "BTC").fetch()
    engine = _engine(state, {"account": [{"venue": "binance", "key_name": "main", "settle": "BTC"}]})
    [risk] = [p for p in engine.snapshot().positions if p.symbol == "BTCUSD_PERP"]
    quarterly = next(p for p in state.positions if p.symbol == "BTCUSD_261225")
    mmr, cum = COINM_BRACKETS[0][2], COINM_BRACKETS[0][4]
    by_hand = coinm_liquidation_price(COINM_WALLET, quarterly.maintenance_margin, quarterly.unrealized_pnl, 1, 300.0,
                                      COINM_FACE, 60_000.0, mmr, cum)
    assert risk.liquidation_price == pytest.approx(by_hand, rel=1e-9)
    # The venue's figure (the emulator's, by the same formula on unrounded figures): the wire's 8
    # decimals of the quarterly's uPnL and maintenance move it by a few ten-thousandths of a dollar.
    assert by_hand == pytest.approx(next(p for p in key.positions if p.symbol == "BTCUSD_PERP").liquidation_price,
                                    rel=1e-7)
    assert risk.unrealized_pnl == pytest.approx(300 * COINM_FACE * (1 / 60_000 - 1 / 61_000), rel=1e-12)
    assert risk.maintenance_margin == pytest.approx(300 * COINM_FACE / 61_000 * mmr, rel=1e-12)


async def test_a_quarterly_in_the_btc_wallet_is_left_out_but_counts_in_the_cross_account(private):  # noqa: F811
    with_coinm(private.account("binance"))
    [state, *_] = await _follower(private, "BTC").fetch()
    quarterly = next(p for p in state.positions if p.symbol == "BTCUSD_261225")
    engine = _engine(state, {"account": [{"venue": "binance", "key_name": "main", "settle": "BTC"}]})
    snapshot = engine.snapshot()
    assert [p.symbol for p in snapshot.positions] == ["BTCUSD_PERP"]
    [account] = snapshot.accounts
    assert any(w.startswith("BTCUSD_261225 short not modelled") for w in account.warnings)
    held = engine.portfolio.accounts[0]
    # The venue's own figures, in BTC: never the linear formula over USD contracts (100 × 500 = 50,000 "BTC").
    assert held.unmodelled_pnl == quarterly.unrealized_pnl and 0 < held.unmodelled_pnl < 0.01
    assert held.unmodelled_maintenance == quarterly.maintenance_margin > 0


async def test_the_emulator_books_an_inverse_close_in_the_coin_wallet(private):  # noqa: F811
    key = with_coinm(private.account("binance"))
    before_usdt = key.wallet_balance
    key.close("BTCUSD_PERP", "adl", 62_000.0, size=100.0)
    assert key.wallets["BTC"] == pytest.approx(COINM_WALLET + 100 * COINM_FACE * (1 / 60_000 - 1 / 62_000), rel=1e-12)
    assert key.wallet_balance == before_usdt
    [state, *_] = await _follower(private, "BTC").fetch()
    assert state.wallet_balance == pytest.approx(key.wallets["BTC"], abs=1e-8)
    assert next(p.size for p in state.positions if p.symbol == "BTCUSD_PERP") == 200.0


QUIET = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                   stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=None)


async def test_a_liquidated_and_an_adld_coin_m_position_each_alert_once(private):  # noqa: F811
    key = with_coinm(private.account("binance"))
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main", "settle": "BTC"}]},
                                    default_catalogue())
    monitor = Monitor(portfolio, rules=QUIET)
    follower = _follower(private, "BTC")
    async with private.run(follower, lambda e: monitor.apply(e, time.time())) as running:
        await running.wait_for(lambda e: isinstance(e, AccountState) and len(e.positions) == 2)
        key.close("BTCUSD_261225", "liquidation", 67_000.0)
        key.close("BTCUSD_PERP", "adl", 63_000.0, size=120.0)
        await running.wait_for(lambda e: isinstance(e, ForcedClose), count=2)
    alerts = [a for a in monitor.evaluate(time.time()) if a.rule == RULE_FORCED_CLOSE]
    told = sorted((a.symbol, a.value, a.price, a.size, a.remaining) for a in alerts)
    assert told == [("BTCUSD_261225", "liquidation", 67_000.0, 100.0, 0.0), ("BTCUSD_PERP", "adl", 63_000.0, 120.0, 180.0)]
    assert all(a.critical and a.state == "fired" for a in alerts)
    # contracts, not coins: 120 BTCUSD_PERP contracts of 100 USD (the quarterly is no known contract)
    assert {a.symbol: a.notional_usd for a in alerts} == {"BTCUSD_PERP": pytest.approx(12_000.0),
                                                           "BTCUSD_261225": None}
    closes = [e for e in running.events if isinstance(e, ForcedClose)]
    assert {c.account for c in closes} == {"main:BTC"}
    forced = [r for r in private.endpoints.private("binance") if r.path.endswith("forceOrders")]
    assert forced and {r.path for r in forced} == {binance.COINM_FORCE_ORDERS}


async def test_the_coin_m_rounds_carry_no_part_of_the_key(private, caplog):  # noqa: F811
    with_coinm(private.account("binance"))
    key, secret, _ = private_fixtures.SECRETS["binance"]
    caplog.set_level("DEBUG")
    good = _follower(private, "BTC")
    bad = SignedFollower("binance", "main:BTC", key_name="main", settle="BTC", rest_url=private.emu.rest_url("binance"),
                         env=env_for("binance", secret="wrongSECRETwrongSECRETwrong00"), keyring=NoKeyring(), **FAST)
    events = [*await good.fetch(), *await bad.fetch()]
    assert isinstance(events[0], AccountState) and "rejected" in events[-1].detail
    text = "\n".join([*(json.dumps(e, default=str) if not hasattr(e, "__struct_fields__") else repr(e) for e in events),
                      caplog.text])
    for part in (key, secret, "wrongSECRETwrongSECRETwrong00"):
        assert part not in text


async def test_the_demo_keys_btc_account_is_followed_and_its_liquidation_price_is_ours(emulator):
    """``--demo-accounts``: the demo key's second entry (settle = "BTC") follows its COIN-M wallet; the
    emulator prices BTCUSD_PERP as BTC (not as a coin named "BTCUSD_")."""
    from adlwatch.feeds.emulator import install_demo_accounts

    lines = install_demo_accounts(emulator)
    assert any('[[account]] venue = "binance" key_name = "demo" settle = "BTC"' in line for line in lines)
    assert emulator.prices.current("binance", "BTCUSD_PERP") == emulator.prices.current("binance", "BTCUSDT")
    env = {"ADLWATCH_BINANCE_DEMO_API_KEY": "demo-read-only-key-0001",
           "ADLWATCH_BINANCE_DEMO_API_SECRET": "demo-secret-not-a-real-one"}
    data = {"account": [{"venue": "binance", "key_name": "demo", "settle": "BTC"}]}
    (follower,) = followers_for(Portfolio.from_data(data, default_catalogue()),
                                rest_urls={"binance": emulator.rest_url("binance")}, env=env, keyring=NoKeyring())
    [state, *_] = await follower.fetch()
    assert isinstance(state, AccountState) and state.wallet_balance == 0.25
    (perp,) = state.positions
    assert (perp.symbol, perp.size, perp.margin_mode) == ("BTCUSD_PERP", 200.0, "cross")
    [risk] = _engine(state, data).snapshot().positions
    assert risk.liquidation_price == pytest.approx(perp.liquidation_price, rel=1e-9)


# ---------------------------------------------------------------------------- the public COIN-M streams


def test_coin_m_contracts_stream_from_their_own_host_on_their_own_sockets():
    from adlwatch.feeds.venues.binance.market import ADAPTER

    groups = ADAPTER.connection_groups(["BTCUSDT", "BTCUSD_PERP", "ETHUSDT", "BTCUSD_261225"])
    assert groups == [["BTCUSDT", "ETHUSDT"], ["BTCUSD_PERP", "BTCUSD_261225"]]
    assert ADAPTER.connection_url(ADAPTER.ws_url, ["BTCUSD_PERP"]) == \
        "wss://dstream.binance.com/stream?streams=btcusd_perp@markPrice@1s/btcusd_perp@forceOrder"
    assert ADAPTER.connection_url(ADAPTER.ws_url, ["BTCUSDT"]).startswith("wss://fstream.binance.com/market/stream?")
    # An overridden base (the emulator, a testnet) serves both markets on the one route.
    assert ADAPTER.connection_url("ws://127.0.0.1:9000", ["BTCUSD_PERP"]) == \
        "ws://127.0.0.1:9000/market/stream?streams=btcusd_perp@markPrice@1s/btcusd_perp@forceOrder"


def test_the_documented_coin_m_mark_frame_is_a_mark_without_funding_for_a_quarterly():
    # https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams/Mark-Price-Stream
    from adlwatch.feeds.venues.binance.market import ADAPTER

    frame = {"e": "markPriceUpdate", "E": 1596095725000, "s": "BTCUSD_201225", "p": "10934.62615417",
             "P": "10962.17178236", "i": "10933.62615417", "r": "", "T": 0}
    events = ADAPTER.parse(json.dumps({"stream": "btcusd_201225@markPrice@1s", "data": frame}), 5)
    assert [(e.kind, e.symbol, e.price) for e in events if e.kind in ("mark_price", "index_price")] == [
        ("mark_price", "BTCUSD_201225", 10934.62615417), ("index_price", "BTCUSD_201225", 10933.62615417)]
    assert not [e for e in events if e.kind in ("funding_rate", "status")]


async def test_a_feed_of_usds_m_and_coin_m_contracts_marks_both_on_two_sockets(kit):
    async with kit.run("binance", ["BTCUSDT", "BTCUSD_PERP"]) as feed:
        await feed.wait_for(kit.kind("mark_price", "BTCUSD_PERP"))
        await feed.wait_for(kit.kind("mark_price", "BTCUSDT"))
    assert [s.symbols for s in feed.client.stats] == [["BTCUSDT"], ["BTCUSD_PERP"]]
