"""A Bybit key's inverse account (``settle = "BTC"``) and its USDC account, followed beside its USDT one:
the documented examples through the parser, the emulator's position list as the venue pages it, the
follower end to end, and "you were liquidated / ADL'd" on an inverse position through the Monitor.

Documented examples used here (each test names its page again):
- position list: https://bybit-exchange.github.io/docs/v5/position (its response: an inverse BTCUSD short)
- wallet balance: https://bybit-exchange.github.io/docs/v5/account/wallet-balance (its response: the
  unified account's BTC row, asked with ``coin=BTC``)
"""

from __future__ import annotations

import json
import math
import time
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import AccountState, ForcedClose, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Account, Portfolio
from adlwatch.feeds.accounts import followers_for
from adlwatch.feeds.accounts.signed import READ_PATHS, BodyError, MapContext
from adlwatch.feeds.venues.bybit import account
from adlwatch.feeds.venues.bybit.emulator import private_body_of, unrealized_pnl
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)
from tests.feeds.private_fixtures import (  # noqa: F401  (fixture)
    BYBIT_BTC_WALLET,
    SECRETS,
    NoKeyring,
    env_for,
    private,
    with_bybit_inverse,
)

# https://bybit-exchange.github.io/docs/v5/position: the response example (GET /v5/position/list?
# category=inverse&symbol=BTCUSD): a one-way BTCUSD short of 300 contracts at 10x, no liqPrice
POSITION_DOC = {
    "retCode": 0, "retMsg": "OK", "result": {"list": [{
        "positionIdx": 0, "riskId": 1, "riskLimitValue": "150", "symbol": "BTCUSD", "side": "Sell", "size": "300",
        "avgPrice": "27464.50441675", "positionValue": "0.01092319", "tradeMode": 0, "positionStatus": "Normal",
        "autoAddMargin": 1, "adlRankIndicator": 2, "leverage": "10", "positionBalance": "0.00139186",
        "markPrice": "28224.50", "liqPrice": "", "bustPrice": "999999.00", "positionMM": "0.0000015",
        "positionMMByMp": "0.0000015", "positionIM": "0.00010923", "positionIMByMp": "0.00010923",
        "tpslMode": "Full", "takeProfit": "0.00", "stopLoss": "0.00", "trailingStop": "0.00",
        "unrealisedPnl": "-0.00029413", "curRealisedPnl": "0.00013123", "cumRealisedPnl": "-0.00096902",
        "seq": 5723621632, "isReduceOnly": False, "mmrSysUpdateTime": "", "leverageSysUpdatedTime": "",
        "sessionAvgPrice": "", "createdTime": "1676538056258", "updatedTime": "1697673600012"}],
        "nextPageCursor": "", "category": "inverse"},
    "retExtInfo": {}, "time": 1697684980172}

# https://bybit-exchange.github.io/docs/v5/account/wallet-balance: the response example
# (GET /v5/account/wallet-balance?accountType=UNIFIED&coin=BTC): the BTC row, all zero
WALLET_DOC = {
    "retCode": 0, "retMsg": "OK", "result": {"list": [{
        "totalEquity": "3.31216591", "accountIMRate": "0", "accountIMRateByMp": "0",
        "totalMarginBalance": "3.00326056", "totalInitialMargin": "0", "totalInitialMarginByMp": "0",
        "accountType": "UNIFIED", "totalAvailableBalance": "3.00326056", "accountMMRate": "0",
        "accountMMRateByMp": "0", "totalPerpUPL": "0", "totalWalletBalance": "3.00326056", "accountLTV": "0",
        "totalMaintenanceMargin": "0", "totalMaintenanceMarginByMp": "0", "coin": [{
            "availableToBorrow": "3", "bonus": "0", "accruedInterest": "0", "availableToWithdraw": "0",
            "totalOrderIM": "0", "equity": "0", "totalPositionMM": "0", "usdValue": "0",
            "spotHedgingQty": "0.01592413", "unrealisedPnl": "0", "collateralSwitch": True, "borrowAmount": "0.0",
            "totalPositionIM": "0", "walletBalance": "0", "cumRealisedPnl": "0", "locked": "0",
            "marginCollateral": True, "coin": "BTC", "spotBorrow": "0"}]}]},
    "retExtInfo": {}, "time": 1690872862481}

BTC = MapContext(ref="main:BTC", settle="BTC", recv_ns=7)


def _info(**fields) -> dict:
    return {"retCode": 0, "retMsg": "OK", "result": {"marginMode": "REGULAR_MARGIN", "unifiedMarginStatus": 5,
                                                     **fields}}


def _bodies(positions: dict = POSITION_DOC, wallet: dict = WALLET_DOC, info: dict | None = None) -> dict[str, str]:
    return {account.POSITION_LIST: json.dumps(positions), account.WALLET_BALANCE: json.dumps(wallet),
            account.ACCOUNT_INFO: json.dumps(info or _info())}


def _with_row(**fields) -> dict:
    body = json.loads(json.dumps(POSITION_DOC))
    body["result"]["list"][0].update(fields)
    return body


# ---------------------------------------------------------------------------- the documented examples


def test_documented_inverse_position_and_btc_wallet_are_the_btc_account():
    # https://bybit-exchange.github.io/docs/v5/position and .../v5/account/wallet-balance
    state = account.account_state(_bodies(), BTC)
    assert (state.venue, state.symbol, state.settle, state.ts) == ("bybit", "main:BTC", "BTC", 1690872862481)
    assert (state.wallet_balance, state.account_value, state.maintenance_margin) == (0.0, 0.0, 0.0)
    (short,) = state.positions
    # the size stays in 1-USD contracts: adlwatch's unit for an inverse contract (catalogue contract_size 1)
    assert (short.symbol, short.side, short.size, short.entry_price, short.leverage, short.margin_mode) == \
        ("BTCUSD", "short", 300.0, 27464.50441675, 10.0, "cross")
    assert (short.liquidation_price, short.adl_lights, short.adl_raw) == (None, 2, "adlRankIndicator 2 of 1-5")
    assert (short.mark_price, short.unrealized_pnl, short.take_profit, short.stop_loss) == \
        (28224.5, -0.00029413, None, None)
    assert state.warnings == []


def test_the_documented_position_is_another_coins_account_and_is_named_not_shown():
    state = account.account_state(_bodies(wallet=_wallet_row("ETH", "1.5")), MapContext("main:ETH", "ETH", 1))
    assert state.positions == [] and state.wallet_balance == 1.5
    assert state.warnings == ['BTCUSD: settle in BTC, another account of the key (follow it with settle = "BTC")']


def test_an_inverse_future_adlwatch_cannot_model_counts_the_venues_coin_figures_not_the_linear_formula():
    from adlwatch.engine.portfolio import imported_account

    (documented,) = account.account_state(_bodies(), BTC).positions
    assert documented.maintenance_margin == 0.0000015  # positionMM, in BTC
    row = {k: v for k, v in POSITION_DOC["result"]["list"][0].items() if k != "positionMM"}
    listing = json.loads(json.dumps(POSITION_DOC))
    listing["result"]["list"] = [{**row, "symbol": "BTCUSDH27"}]  # a dated future: no catalogue contract
    state = account.account_state(_bodies(listing, _wallet_row("BTC", "0.2")), BTC)
    followed = Account("bybit", 0.0, "BTC", key_name="main", follow_settle="BTC")
    imported = imported_account(followed, state, default_catalogue())
    assert imported.positions == () and any("BTCUSDH27 short not modelled" in w for w in imported.warnings)
    # 300 USD contracts read as coin would be a PnL of 300 × 760 "BTC"
    assert (imported.unmodelled_pnl, imported.unmodelled_maintenance) == (-0.00029413, 0.0)


def test_an_isolated_inverse_position_keeps_its_coin_margin():
    state = account.account_state(_bodies(info=_info(marginMode="ISOLATED_MARGIN")), BTC)
    (short,) = state.positions
    assert (short.margin_mode, short.isolated_margin) == ("isolated", 0.00139186)  # positionBalance, in BTC


@pytest.mark.parametrize("status", [1, 3, 4])
def test_an_account_whose_inverse_wallet_is_separate_says_it_is_not_read(status):
    state = account.account_state(_bodies(info=_info(unifiedMarginStatus=status)), BTC)
    (warning,) = state.warnings
    assert f"unifiedMarginStatus {status}" in warning and "separate inverse derivatives wallet" in warning
    assert account.account_state(_bodies(info=_info(unifiedMarginStatus="x")), BTC).warnings == []


def test_reads_of_a_coin_ask_every_inverse_position_and_that_coins_wallet():
    reads = {r.path: dict(r.params) for r in account.reads("BTC")}
    assert reads[account.POSITION_LIST] == {"category": "inverse", "limit": "200"}
    assert reads[account.WALLET_BALANCE] == {"accountType": "UNIFIED", "coin": "BTC"}
    usdc = {r.path: dict(r.params) for r in account.reads("USDC")}
    assert usdc[account.POSITION_LIST] == {"category": "linear", "settleCoin": "USDC", "limit": "200"}
    assert usdc[account.WALLET_BALANCE]["coin"] == "USDC"
    assert all(r.path in READ_PATHS["bybit"] for settle in ("BTC", "USDC", "USDT") for r in account.reads(settle))
    (btc_adl, *_) = account.record_reads([("BTCUSDH27", "long", 5_000)])
    assert dict(btc_adl.params)["category"] == "inverse"  # a dated inverse future too


_COIN = st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(coin=_COIN, text=st.text(max_size=16))
def test_an_inverse_symbols_coin_is_what_precedes_usd_and_linear_symbols_have_none(coin, text):
    assert account.inverse_coin(coin + "USD") == coin
    assert account.inverse_coin(coin + "USDZ26") == coin
    for linear in (coin + "USDT", coin + "USDC", coin + "PERP"):
        assert account.inverse_coin(linear) is None
    assert account.inverse_coin(text) in (None, *[text.upper()[:i] for i in range(1, len(text) + 1)])


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 10**9), price=st.floats(0.01, 1e7, allow_nan=False))
def test_inverse_sizes_and_prices_pass_as_the_venue_sends_them(size, price):
    state = account.account_state(_bodies(_with_row(size=str(size), avgPrice=repr(price))), BTC)
    (position,) = state.positions
    assert position.size == size and position.entry_price == price


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
    | st.sampled_from(["", "0", "-1", "1e400", "NaN", "Buy", "Sell", "BTC", "ETHUSD", "BTCUSDH27"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _places(doc, at=()):
    yield at
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in children:
        yield from _places(value, (*at, key))


def _set(doc, at, value):
    if not at:
        return value
    head, *rest = at
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = _set(doc[head], tuple(rest), value)
    return copy


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_btc_accounts_bodies_of_any_shape_give_a_state_or_a_body_error(data):
    docs = {account.POSITION_LIST: POSITION_DOC, account.WALLET_BALANCE: WALLET_DOC, account.ACCOUNT_INFO: _info()}
    path = data.draw(st.sampled_from(sorted(docs)))
    doc = docs[path]
    for _ in range(data.draw(st.integers(1, 4))):
        doc = _set(doc, data.draw(st.sampled_from(list(_places(doc)))), data.draw(_JSON_VALUES))
    texts = {p: json.dumps(d) for p, d in {**docs, path: doc}.items()}
    try:
        state = account.account_state(texts, BTC)
    except BodyError as error:
        assert str(error)
        return
    assert state.settle == "BTC" and all(account.inverse_coin(p.symbol) == "BTC" for p in state.positions)
    assert all(p.side in ("long", "short") and math.isfinite(p.size) for p in state.positions)


def _wallet_row(coin: str, balance: str) -> dict:
    body = json.loads(json.dumps(WALLET_DOC))
    body["result"]["list"][0]["coin"][0].update(coin=coin, walletBalance=balance, equity=balance)
    return body


# ---------------------------------------------------------------------------- the emulator's position list


def test_emulated_position_list_filters_and_pages_as_the_venue_does(private):  # noqa: F811
    held = with_bybit_inverse(private.account("bybit"))

    def body(**query: str) -> dict:
        return private_body_of(held, account.POSITION_LIST, query, 1_700_000_000_000)

    assert body(category="linear")["retCode"] == 10001  # linear needs symbol or settleCoin
    inverse = body(category="inverse")["result"]
    assert [r["symbol"] for r in inverse["list"]] == ["BTCUSD"] and inverse["nextPageCursor"] == ""
    linear = body(category="linear", settleCoin="USDT", limit="1")["result"]
    assert [r["symbol"] for r in linear["list"]] == ["BTCUSDT"] and linear["nextPageCursor"]
    rest = body(category="linear", settleCoin="USDT", limit="1", cursor=linear["nextPageCursor"])["result"]
    assert [r["symbol"] for r in rest["list"]] == ["ETHUSDT"] and rest["nextPageCursor"] == ""
    # the coin's figures of an inverse row: value and uPnL in BTC
    (row,) = inverse["list"]
    assert float(row["positionValue"]) == pytest.approx(20_000 / 60_000)
    assert float(row["unrealisedPnl"]) == pytest.approx(20_000 * (1 / 60_000 - 1 / 61_000))
    assert float(row["unrealisedPnl"]) == pytest.approx(unrealized_pnl(held.positions[-1]))


def test_emulated_position_list_default_page_is_twenty(private):  # noqa: F811
    from adlwatch.feeds.emulator_private import EmuPosition

    held = private.account("bybit")
    held.positions.extend(EmuPosition(f"C{i}USDT", "long", 1.0, 10.0, 10.0, 2.0) for i in range(30))
    first = private_body_of(held, account.POSITION_LIST, {"category": "linear", "settleCoin": "USDT"}, 1)["result"]
    assert len(first["list"]) == 20 and first["nextPageCursor"]


# ---------------------------------------------------------------------------- the follower, end to end


def _btc_follower(private, **options):  # noqa: F811
    return private.follower("bybit", "main:BTC", key_name="main", settle="BTC", env=env_for("bybit"), **options)


async def test_a_followed_btc_account_reads_the_inverse_positions_and_the_btc_wallet(private):  # noqa: F811
    held = with_bybit_inverse(private.account("bybit"))
    [state, *_] = await _btc_follower(private).fetch()
    assert isinstance(state, AccountState)
    assert (state.symbol, state.settle, state.wallet_balance) == ("main:BTC", "BTC", BYBIT_BTC_WALLET)
    upnl = 20_000 * (1 / 60_000 - 1 / 61_000)
    assert state.account_value == pytest.approx(BYBIT_BTC_WALLET + upnl)
    assert state.maintenance_margin == pytest.approx(0.0021)
    (btc,) = state.positions
    assert (btc.symbol, btc.side, btc.size, btc.entry_price, btc.leverage, btc.margin_mode) == \
        ("BTCUSD", "long", 20_000.0, 60_000.0, 10.0, "cross")
    assert (btc.liquidation_price, btc.adl_lights, btc.mark_price) == (24_061.5, 3, 61_000.0)
    assert btc.unrealized_pnl == pytest.approx(upnl)
    # the same key's USDT account is untouched by it
    [usdt, *_] = await private.follower("bybit").fetch()
    assert usdt.wallet_balance == 5_000.0 and {p.symbol for p in usdt.positions} == {"BTCUSDT", "ETHUSDT"}
    asked = [r for r in private.endpoints.requests if r.venue == "bybit"]
    assert all(r.method == "GET" and r.path in READ_PATHS["bybit"] for r in asked)
    assert any(r.path == account.POSITION_LIST and "category=inverse" in r.query for r in asked)
    assert held.wallets["BTC"] == BYBIT_BTC_WALLET


async def test_followers_for_builds_both_accounts_of_one_key(private):  # noqa: F811
    with_bybit_inverse(private.account("bybit"))
    accounts = [Account("bybit", 0.0, "USDT", key_name="main"),
                Account("bybit", 0.0, "BTC", key_name="main", follow_settle="BTC")]
    followers = followers_for(SimpleNamespace(accounts=accounts), rest_urls={"bybit": private.emu.rest_url("bybit")},
                              env=env_for("bybit"), keyring=NoKeyring())
    states = [(await f.fetch())[0] for f in followers]
    assert [(s.symbol, s.settle, [p.symbol for p in s.positions]) for s in states] == \
        [("main", "USDT", ["BTCUSDT", "ETHUSDT"]), ("main:BTC", "BTC", ["BTCUSD"])]


async def test_a_btc_account_the_key_does_not_hold_is_one_clear_problem(private):  # noqa: F811
    (status,) = await _btc_follower(private).fetch()  # no BTC wallet: no BTC row
    assert status.state == "error" and "no row for the settlement coin" in status.detail
    for secret in SECRETS["bybit"][:2]:
        assert secret not in status.detail


# ---------------------------------------------------------------------------- forced closes of an inverse position


def _quiet_monitor(portfolio: Portfolio):
    from adlwatch.engine.alert_rules import AlertRules
    from adlwatch.engine.monitor import Monitor

    quiet = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                       stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=None)
    return Monitor(portfolio, rules=quiet)


async def test_the_monitor_alerts_the_adl_then_the_liquidation_of_a_followed_inverse_position(private):  # noqa: F811
    from adlwatch.engine.alerts import RULE_FORCED_CLOSE

    portfolio = Portfolio.from_data({"account": [{"venue": "bybit", "key_name": "main"},
                                                 {"venue": "bybit", "key_name": "main", "settle": "BTC"}]},
                                    default_catalogue())
    monitor = _quiet_monitor(portfolio)
    held = with_bybit_inverse(private.account("bybit"))
    async with private.run(_btc_follower(private), lambda e: monitor.apply(e, time.time())) as running:
        await running.wait_for(lambda e: isinstance(e, AccountState) and len(e.positions) == 1)
        held.close("BTCUSD", "adl", 70_000.0, size=5_000.0)  # a quarter, 15,000 contracts left
        await running.wait_for(lambda e: isinstance(e, ForcedClose))
        held.close("BTCUSD", "liquidation", 24_013.5)  # the rest
        closes = await running.wait_for(lambda e: isinstance(e, ForcedClose), count=2)
    adl, liquidation = closes
    assert (adl.account, adl.symbol, adl.side, adl.cause, adl.price, adl.size, adl.detail) == \
        ("main:BTC", "BTCUSD", "long", "adl", 70_000.0, 5_000.0, "execType AdlTrade")
    assert adl.remaining == pytest.approx(15_000.0)
    assert (liquidation.cause, liquidation.size, liquidation.remaining, liquidation.detail) == \
        ("liquidation", 15_000.0, 0.0, "execType BustTrade")
    asked = [r for r in private.endpoints.private("bybit") if r.path == account.EXECUTION_LIST]
    assert asked and all("category=inverse" in r.query and "symbol=BTCUSD" in r.query for r in asked)
    alerts = [a for a in monitor.evaluate(time.time()) if a.rule == RULE_FORCED_CLOSE]
    told = sorted((a.symbol, a.value, a.price, a.size, round(a.remaining, 9)) for a in alerts)
    assert told == [("BTCUSD", "adl", 70_000.0, 5_000.0, 15_000.0), ("BTCUSD", "liquidation", 24_013.5, 15_000.0, 0.0)]
    assert all(a.critical for a in alerts)


async def test_the_monitors_liquidation_price_of_the_followed_btc_account_is_the_hand_computed_one(private):  # noqa: F811
    portfolio = Portfolio.from_data({"account": [{"venue": "bybit", "key_name": "main", "settle": "BTC"}]},
                                    default_catalogue())
    monitor = _quiet_monitor(portfolio)
    with_bybit_inverse(private.account("bybit"))
    for event in await _btc_follower(private).fetch():
        monitor.apply(event, time.time())
    monitor.apply(MarkPrice(venue="bybit", symbol="BTCUSD", ts=1, recv_ns=1, price=61_000.0), time.time())
    (risk,) = monitor.live().positions
    assert risk.imported and risk.settle == "BTC" and risk.kind == "inverse"
    assert risk.liquidation_price == pytest.approx(hand_liquidation_price(), rel=1e-9)
    assert risk.venue_liquidation_price == 24_061.5 and abs(risk.liquidation_diff_pct) < 0.01


def hand_liquidation_price(wallet: float = BYBIT_BTC_WALLET, contracts: float = 20_000.0,
                           entry: float = 60_000.0) -> float:
    """A cross inverse long alone in its coin's account, by hand from the bundled BTCUSD tier (0-150 BTC:
    MMR 0.5 %) and Bybit's taker fee 0.055 % (engine/data/instruments/bybit.toml), with Bybit's rules
    (engine/venues/bybit.py): maintenance margin = value at entry × MMR + the fee to close at the
    bankruptcy price. Bankruptcy: wallet + C(1/E − 1/BP) = fee × C/BP; liquidation: wallet +
    C(1/E − 1/LP) = MMR × C/E + fee × C/BP."""
    mmr, fee = 0.005, 0.00055
    bankruptcy = (1 + fee) * contracts / (wallet + contracts / entry)
    price = contracts / (wallet + contracts / entry * (1 - mmr) - fee * contracts / bankruptcy)
    assert math.isclose(bankruptcy, 24_013.2, rel_tol=1e-9)
    return price


# ---------------------------------------------------------------------------- the execution list, page after page


def test_next_page_asks_the_cursor_the_answer_gave_until_none():
    (first, *_) = account.record_reads([("BTCUSD", "long", 5_000)])

    def answer(cursor) -> str:
        return json.dumps({"retCode": 0, "result": {"list": [], "nextPageCursor": cursor}})

    second = account.next_page(first, answer("o100"))
    assert second is not None and dict(second.params) == {**dict(first.params), "cursor": "o100"}
    assert second.path == account.EXECUTION_LIST and second.path in READ_PATHS["bybit"]
    third = account.next_page(second, answer("o200"))
    assert third is not None and [v for k, v in third.params if k == "cursor"] == ["o200"]  # replaced, not added
    assert account.next_page(third, answer("")) is None
    assert account.next_page(third, answer("o200")) is None  # a cursor that repeats ends the pages
    assert account.next_page(first, "not json") is None
    assert account.next_page(first, '{"retCode":10001,"result":{}}') is None


async def test_more_adl_fills_than_a_page_are_each_told_once(private):  # noqa: F811
    held = with_bybit_inverse(private.account("bybit"))
    async with private.run(_btc_follower(private)) as running:
        await running.wait_for(lambda e: isinstance(e, AccountState) and len(e.positions) == 1)
        for i in range(150):  # in one go: the follower's next round finds them all
            held.close("BTCUSD", "adl", 70_000.0 + i, size=100.0)
        closes = await running.wait_for(lambda e: isinstance(e, ForcedClose), count=150)
    assert len([e for e in running.events if isinstance(e, ForcedClose)]) == 150
    assert sorted(c.price for c in closes) == [70_000.0 + i for i in range(150)]
    assert all((c.cause, c.size, c.symbol, c.account) == ("adl", 100.0, "BTCUSD", "main:BTC") for c in closes)
    pages = [r for r in private.endpoints.private("bybit") if r.path == account.EXECUTION_LIST and "cursor=" in r.query]
    assert pages and all("execType=AdlTrade" in r.query for r in pages)  # the other kinds had one page


# ---------------------------------------------------------------------------- the emulator's demo key


async def test_the_demo_keys_btc_account_is_followed_and_its_liquidation_price_is_ours(emulator):  # noqa: F811
    """``python -m adlwatch.feeds.emulator --demo-accounts``: the Bybit demo key's second entry
    (settle = "BTC") follows its BTC account; the venue's liquidation price there is adlwatch's."""
    from adlwatch.feeds.emulator import install_demo_accounts
    from adlwatch.feeds.venues.bybit.emulator import DEMO_KEY, DEMO_SECRET

    lines = install_demo_accounts(emulator)
    assert any('[[account]] venue = "bybit" key_name = "demo" settle = "BTC"' in line for line in lines)
    env = {"ADLWATCH_BYBIT_DEMO_API_KEY": DEMO_KEY, "ADLWATCH_BYBIT_DEMO_API_SECRET": DEMO_SECRET}
    data = {"account": [{"venue": "bybit", "key_name": "demo"}, {"venue": "bybit", "key_name": "demo", "settle": "BTC"}]}
    portfolio = Portfolio.from_data(data, default_catalogue())
    monitor = _quiet_monitor(portfolio)
    followers = followers_for(portfolio, rest_urls={"bybit": emulator.rest_url("bybit")}, env=env, keyring=NoKeyring())
    states = [(await f.fetch())[0] for f in followers]
    assert [(s.symbol, [p.symbol for p in s.positions]) for s in states] == \
        [("demo", ["BTCUSDT"]), ("demo:BTC", ["BTCUSD"])]
    for state in states:
        monitor.apply(state, time.time())
    (perp,) = states[1].positions
    monitor.apply(MarkPrice(venue="bybit", symbol="BTCUSD", ts=1, recv_ns=1, price=perp.mark_price), time.time())
    risk = next(r for r in monitor.live().positions if r.symbol == "BTCUSD")
    assert risk.liquidation_price == pytest.approx(perp.liquidation_price, rel=1e-9)
