"""Issue 15 on Bybit's wire: funding from the tickers, the allLiquidation stream of the contracts held,
the followed position's panel fields (TP/SL, break-even) and "you were liquidated / ADL'd" from the
execution list. Everything runs against the loopback emulator or the venue's documented examples.

Documented examples used here (each test names its page again):
- tickers: https://bybit-exchange.github.io/docs/v5/websocket/public/ticker (tests/feeds/frames/bybit.json)
- allLiquidation: https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation
- position list: https://bybit-exchange.github.io/docs/v5/position
- execution list: https://bybit-exchange.github.io/docs/v5/order/execution
"""

from __future__ import annotations

import asyncio
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import (
    MONITOR_SKIPS,
    AccountState,
    FeedStatus,
    ForcedClose,
    FundingRate,
    Liquidation,
)
from adlwatch.feeds.accounts.signed import READ_PATHS, BodyError, MapContext, Read
from adlwatch.feeds.emulator_private import EmuPosition
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.recorder import Recorder, replay_events
from adlwatch.feeds.replay import load_replay
from adlwatch.feeds.tail import run_tail
from adlwatch.feeds.venues.bybit import account
from adlwatch.feeds.venues.bybit.emulator import PERSONALITY, private_body_of, subscribed_topics
from adlwatch.feeds.venues.bybit.market import ADAPTER, MAX_ARGS_CHARS, MAX_ARGS_PER_MESSAGE, args_chars
from tests.feeds.conftest import FAST, emulator, kit, no_internet  # noqa: F401  (fixtures)
from tests.feeds.private_fixtures import private  # noqa: F401  (fixture)

FRAMES = json.loads((Path(__file__).parent / "frames" / "bybit.json").read_text())["ws"]
# https://bybit-exchange.github.io/docs/v5/websocket/public/ticker: the documented snapshot (funding
# rate -0.005, next funding 1760342400000) and a delta of mark and open interest only
TICKER_SNAPSHOT, TICKER_DELTA = FRAMES[0], FRAMES[1]

# https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation (its response example)
ALL_LIQUIDATION_DOC = ('{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,'
                       '"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}')

# https://bybit-exchange.github.io/docs/v5/position: the response example (an inverse BTCUSD short whose
# takeProfit / stopLoss are "0.00": none set); the tests set them and breakEvenPrice (changelog 2026-01-13)
POSITION_DOC = {
    "retCode": 0, "retMsg": "OK", "result": {"list": [{
        "positionIdx": 0, "riskId": 1, "riskLimitValue": "150", "symbol": "BTCUSD", "side": "Sell", "size": "300",
        "avgPrice": "27464.50441675", "positionValue": "0.01092319", "tradeMode": 0, "positionStatus": "Normal",
        "autoAddMargin": 1, "adlRankIndicator": 2, "leverage": "10", "positionBalance": "0.00139186",
        "markPrice": "28224.50", "liqPrice": "", "bustPrice": "999999.00", "positionMM": "0.0000015",
        "positionIM": "0.00010923", "tpslMode": "Full", "takeProfit": "0.00", "stopLoss": "0.00",
        "trailingStop": "0.00", "unrealisedPnl": "-0.00029413", "curRealisedPnl": "0.00013123",
        "cumRealisedPnl": "-0.00096902", "seq": 5723621632, "isReduceOnly": False, "mmrSysUpdateTime": "",
        "leverageSysUpdatedTime": "", "sessionAvgPrice": "", "createdTime": "1676538056258",
        "updatedTime": "1697673600012"}], "nextPageCursor": "", "category": "inverse"},
    "retExtInfo": {}, "time": 1697684980172}

# https://bybit-exchange.github.io/docs/v5/order/execution: the response example (a user's own Trade)
EXECUTION_DOC = {
    "retCode": 0, "retMsg": "OK", "result": {"nextPageCursor": "132766%3A2%2C132766%3A2", "category": "linear",
                                             "list": [{
        "symbol": "ETHPERP", "orderType": "Market", "underlyingPrice": "", "orderLinkId": "", "side": "Buy",
        "indexPrice": "", "orderId": "8c065341-7b52-4ca9-ac2c-37e31ac55c94", "stopOrderType": "UNKNOWN",
        "leavesQty": "0", "execTime": "1672282722429", "feeCurrency": "", "isMaker": False, "execFee": "0.071409",
        "feeRate": "0.0006", "execId": "e0cbe81d-0f18-5866-9415-cf319b5dab3b", "tradeIv": "", "blockTradeId": "",
        "markPrice": "1183.54", "execPrice": "1190.15", "markIv": "", "orderQty": "0.1", "orderPrice": "1236.9",
        "execValue": "119.015", "execType": "Trade", "execQty": "0.1", "closedSize": "", "extraFees": "",
        "seq": 4688002127}]},
    "retExtInfo": {}, "time": 1672283754510}

CONTEXT = MapContext(ref="main", settle="USDT", recv_ns=9)


def _delta(**fields: str) -> str:
    return json.dumps({"topic": "tickers.BTCUSDT", "type": "delta", "data": {"symbol": "BTCUSDT", **fields},
                       "cs": 9532239431, "ts": 1760325052830})


def _fundings(events) -> list[FundingRate]:
    return [e for e in events if isinstance(e, FundingRate)]


# ---------------------------------------------------------------------------- funding


def test_ticker_snapshot_funding_reaches_the_monitor_parser_on_the_fast_path(monkeypatch):
    parser = ADAPTER.new_parser(MONITOR_SKIPS)

    def no_careful(*args):
        raise AssertionError("a well-formed ticker push must take the fast path")

    monkeypatch.setattr(parser, "_careful", no_careful)
    (funding,) = _fundings(parser.parse(TICKER_SNAPSHOT, 5))
    assert (funding.symbol, funding.rate, funding.next_funding_ts, funding.ts) == \
        ("BTCUSDT", -0.005, 1760342400000, 1760325052630)
    assert not [e for e in parser.parse(TICKER_DELTA, 6) if e.kind == "index_price"]


def test_a_delta_without_funding_fields_gives_no_funding_and_one_with_them_merges_the_snapshot():
    parser = ADAPTER.new_parser(MONITOR_SKIPS)
    parser.parse(TICKER_SNAPSHOT, 1)
    assert _fundings(parser.parse(TICKER_DELTA, 2)) == []
    (rate_only,) = _fundings(parser.parse(_delta(fundingRate="0.0003"), 3))
    assert (rate_only.rate, rate_only.next_funding_ts) == (0.0003, 1760342400000)
    (time_only,) = _fundings(parser.parse(_delta(nextFundingTime="1760371200000"), 4))
    assert (time_only.rate, time_only.next_funding_ts) == (0.0003, 1760371200000)


def test_funding_is_still_not_built_where_it_is_skipped():
    parser = ADAPTER.new_parser(frozenset({"funding_rate", "index_price"}))
    assert _fundings(parser.parse(TICKER_SNAPSHOT, 1)) == []
    assert _fundings(parser.parse(_delta(fundingRate="0.0003", markPrice="1.5"), 2)) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate=st.one_of(st.text(max_size=10), st.floats(allow_nan=True, allow_infinity=True).map(repr)),
       when=st.one_of(st.text(max_size=20), st.integers(-10, 10**20).map(str)))
def test_funding_fields_of_any_text_never_raise_nor_give_a_bad_rate(rate, when):
    parser = ADAPTER.new_parser(MONITOR_SKIPS)
    parser.parse(TICKER_SNAPSHOT, 1)
    for event in parser.parse(_delta(fundingRate=rate, nextFundingTime=when), 2):
        if isinstance(event, FundingRate):
            assert math.isfinite(event.rate)
            assert event.next_funding_ts is None or event.next_funding_ts > 0
        else:
            assert isinstance(event, FeedStatus) and event.state == "error"


# ---------------------------------------------------------------------------- liquidation stream


def test_documented_all_liquidation_push_passes_the_monitor_parser():
    # https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation: "Buy" is a liquidated long
    (event,) = ADAPTER.new_parser(MONITOR_SKIPS).parse(ALL_LIQUIDATION_DOC, 3)
    assert isinstance(event, Liquidation)
    assert (event.symbol, event.ts, event.side, event.price, event.size) == \
        ("ROSEUSDT", 1739502302929, "short", 0.04499, 20000.0)
    assert event.notional_usd == pytest.approx(20000 * 0.04499)


def test_every_contract_subscribes_its_liquidations_beside_its_ticker():
    symbols = ["BTCUSDT", "ETHUSDT", "SOLPERP"]
    args = [a for m in ADAPTER.subscribe_messages(symbols) for a in json.loads(m)["args"]]
    assert [a for a in args if a.startswith("allLiquidation.")] == [f"allLiquidation.{s}" for s in symbols]
    assert [a for a in args if a.startswith("tickers.")] == [f"tickers.{s}" for s in symbols]
    unsubscribed = [a for m in ADAPTER.unsubscribe_messages(symbols) for a in json.loads(m)["args"]]
    assert sorted(unsubscribed) == sorted(args)


@pytest.mark.parametrize("name_length", [6, 20, 60])
def test_connections_stay_within_bybits_args_limit_and_the_stream_cap(name_length):
    symbols = [f"{i:0{name_length - 4}d}USDT" for i in range(900)] + [f"C{i}USD" for i in range(30)]
    groups = ADAPTER.connection_groups(symbols)
    assert [s for g in groups for s in g] == symbols[:900] + symbols[900:]  # all of them, in order, once
    for group in groups:
        assert len(group) <= ADAPTER.max_streams_per_connection
        assert args_chars(ADAPTER.topics(group)) <= MAX_ARGS_CHARS
        assert len({s.endswith("USDT") for s in group}) == 1  # linear and inverse never share a socket
        messages = [json.loads(m)["args"] for m in ADAPTER.subscribe_messages(group)]
        assert all(len(args) <= MAX_ARGS_PER_MESSAGE for args in messages)
    if name_length == 60:  # long names: the characters decide, not the 200 cap
        assert max(len(g) for g in groups) < ADAPTER.max_streams_per_connection


class _Seen:
    """Every event a source emitted; wait until a condition on them holds (no timing sleeps)."""

    def __init__(self) -> None:
        self.events: list = []
        self._changed = asyncio.Event()

    def __call__(self, event) -> None:
        self.events.append(event)
        self._changed.set()

    async def until(self, condition, timeout: float = 5.0) -> None:
        async def waiter() -> None:
            while not condition(self.events):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(waiter(), timeout)


def _liquidations(events, symbol: str) -> list[Liquidation]:
    return [e for e in events if isinstance(e, Liquidation) and e.symbol == symbol]


def _marks_after(events, index: int, symbol: str) -> int:
    return sum(e.kind == "mark_price" and e.symbol == symbol for e in events[index:])


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTCUSD"])
async def test_emulated_burst_reaches_the_live_feed_as_exactly_that_many_liquidations(emulator, symbol):  # noqa: F811
    source = LiveSource({"bybit": [symbol]}, ws_urls={"bybit": emulator.ws_url("bybit")},
                        rest_urls={"bybit": emulator.rest_url("bybit")}, client_options=FAST)
    seen = _Seen()
    task = asyncio.create_task(source.run(seen))
    try:
        await seen.until(lambda events: _marks_after(events, 0, symbol) >= 1)
        (conn,) = emulator.live("bybit")
        assert f"allLiquidation.{symbol}" in subscribed_topics(conn)
        price = emulator.prices.current("bybit", symbol)
        sent = await emulator.liquidations("bybit", symbol, "short", count=5, size=0.2)
        assert sent == 5
        await seen.until(lambda events: len(_liquidations(events, symbol)) >= 5)
        last = max(i for i, e in enumerate(seen.events) if isinstance(e, Liquidation))
        await seen.until(lambda events: _marks_after(events, last + 1, symbol) >= 2)  # later frames came too
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    liquidations = _liquidations(seen.events, symbol)
    assert len(liquidations) == 5
    # a contract with no liquidation between the ticks is not stale: staleness follows the tickers
    assert not [e for e in seen.events if isinstance(e, FeedStatus) and e.state == "stale"]
    for e in liquidations:
        assert (e.venue, e.side, e.price) == ("bybit", "short", pytest.approx(price, rel=1e-8))
        if symbol.endswith("USD"):  # inverse: the wire counts 1-USD contracts, so the notional is whole dollars
            assert e.notional_usd == round(0.2 * price) and e.size == pytest.approx(0.2, abs=1 / price)
        else:
            assert e.size == 0.2 and e.notional_usd == pytest.approx(0.2 * price, rel=1e-8)
    # only the connections that subscribed a contract's liquidations hear of them
    assert await emulator.liquidations("bybit", "ETHUSDT", "long", count=3) == 0


async def test_liquidations_are_recorded_and_replay_as_the_live_feed_saw_them(kit, tmp_path):  # noqa: F811
    path = tmp_path / "raw.jsonl"
    with Recorder(path) as recorder:
        async with kit.run("bybit", ["BTCUSDT"], on_frame=recorder.write, skip=MONITOR_SKIPS) as feed:
            await feed.wait_for(kit.kind("mark_price", "BTCUSDT"))
            assert await kit.emu.liquidations("bybit", "BTCUSDT", "long", count=3, size=1.5, price=50_000.0) == 3
            live = await feed.wait_for(kit.kind("liquidation"), count=3)
    assert [(e.side, e.price, e.size, e.notional_usd) for e in live] == [("long", 50_000.0, 1.5, 75_000.0)] * 3
    replayed = [e for e in replay_events(path, skip=MONITOR_SKIPS) if isinstance(e, Liquidation)]
    assert replayed == live
    # the monitor's replay loads them too (a sort by replay time keeps the three in order)
    loaded = [e for e in load_replay(path, skip=MONITOR_SKIPS).events if isinstance(e, Liquidation)]
    assert loaded == live


class _Lines(io.StringIO):
    """``tail``'s output, with a wake-up on each write."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = asyncio.Event()

    def write(self, text: str) -> int:
        self.wrote.set()
        return super().write(text)


async def test_tail_json_prints_the_live_liquidations(emulator):  # noqa: F811
    out = _Lines()
    tail = asyncio.create_task(run_tail("bybit", ["BTCUSDT"], as_json=True, ws_url=emulator.ws_url("bybit"),
                                        rest_url=emulator.rest_url("bybit"), out=out, client_options=FAST))

    def liquidation_lines() -> list[dict]:
        lines = [json.loads(line) for line in out.getvalue().splitlines() if line]
        return [line for line in lines if line["type"] == "liquidation"]

    async def until(condition) -> None:
        while not condition():
            out.wrote.clear()
            await out.wrote.wait()

    try:
        await asyncio.wait_for(until(lambda: '"mark_price"' in out.getvalue()), 5.0)
        await emulator.liquidations("bybit", "BTCUSDT", "long", count=2, size=0.5, price=60_000.0)
        await asyncio.wait_for(until(lambda: len(liquidation_lines()) >= 2), 5.0)
    finally:
        tail.cancel()
        await asyncio.gather(tail, return_exceptions=True)
    assert [(x["symbol"], x["side"], x["price"], x["size"], x["notional_usd"]) for x in liquidation_lines()] == \
        [("BTCUSDT", "long", 60_000.0, 0.5, 30_000.0)] * 2


# ---------------------------------------------------------------------------- the position panel


def _account_bodies(positions: dict) -> dict[str, str]:
    wallet = {"retCode": 0, "retMsg": "OK", "time": 1697684980172, "result": {"list": [{"coin": [
        {"coin": "USDT", "walletBalance": "1000", "equity": "1000", "totalPositionMM": "1"}]}]}}
    info = {"retCode": 0, "retMsg": "OK", "result": {"marginMode": "REGULAR_MARGIN"}}
    return {account.POSITION_LIST: json.dumps(positions), account.WALLET_BALANCE: json.dumps(wallet),
            account.ACCOUNT_INFO: json.dumps(info)}


def _doc_position(**fields: str):
    body = json.loads(json.dumps(POSITION_DOC))
    body["result"]["list"][0].update(fields)
    (position,) = account.account_state(_account_bodies(body), CONTEXT).positions
    return position


def test_documented_position_without_tp_sl_or_break_even_gives_none():
    # https://bybit-exchange.github.io/docs/v5/position: takeProfit/stopLoss "0.00", no breakEvenPrice field
    position = _doc_position()
    assert (position.symbol, position.side, position.size) == ("BTCUSD", "short", 300.0)
    assert (position.take_profit, position.stop_loss, position.break_even_price, position.funding_pnl) == \
        (None, None, None, None)
    assert (_doc_position(takeProfit="", stopLoss="", breakEvenPrice="").take_profit) is None


def test_position_tp_sl_and_break_even_are_the_venues_own():
    position = _doc_position(takeProfit="25000.5", stopLoss="29000", breakEvenPrice="27479.61")
    assert (position.take_profit, position.stop_loss, position.break_even_price) == (25000.5, 29000.0, 27479.61)
    assert position.funding_pnl is None  # Bybit's position read has no funding-since-open figure


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(["takeProfit", "stopLoss", "breakEvenPrice"]),
       value=st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                       st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2)))
def test_panel_fields_of_any_value_never_make_the_account_unreadable(field, value):
    body = json.loads(json.dumps(POSITION_DOC))
    body["result"]["list"][0][field] = value
    (position,) = account.account_state(_account_bodies(body), CONTEXT).positions
    got = {"takeProfit": position.take_profit, "stopLoss": position.stop_loss,
           "breakEvenPrice": position.break_even_price}[field]
    assert got is None or (math.isfinite(got) and got > 0)


async def test_emulated_account_serves_tp_sl_and_break_even(private):  # noqa: F811
    held = private.account("bybit")
    btc = held.positions[0]
    held.positions[0] = replace(btc, take_profit=58_000.0, stop_loss=66_500.5, break_even_price=63_950.25)
    (state,) = [e for e in await private.follower("bybit").fetch() if isinstance(e, AccountState)]
    by_symbol = {p.symbol: p for p in state.positions}
    assert (by_symbol["BTCUSDT"].take_profit, by_symbol["BTCUSDT"].stop_loss,
            by_symbol["BTCUSDT"].break_even_price) == (58_000.0, 66_500.5, 63_950.25)
    assert (by_symbol["ETHUSDT"].take_profit, by_symbol["ETHUSDT"].stop_loss,
            by_symbol["ETHUSDT"].break_even_price) == (None, None, None)


# ---------------------------------------------------------------------------- the venue's closing records


def _execution_body(**fields) -> str:
    body = json.loads(json.dumps(EXECUTION_DOC))
    body["result"]["list"][0].update(fields)
    return json.dumps(body)


def _read() -> Read:
    return account.record_reads([("ETHPERP", "long", 1672282700000)])[0]


def test_the_documented_execution_a_users_own_trade_is_never_a_forced_close():
    # https://bybit-exchange.github.io/docs/v5/order/execution: execType Trade
    assert account.forced_closes([(_read(), json.dumps(EXECUTION_DOC))], CONTEXT) == []
    assert account.forced_closes([(_read(), _execution_body(createType="CreateByUser"))], CONTEXT) == []


def test_bust_and_adl_executions_are_forced_closes_of_the_position_the_order_closed():
    bust = _execution_body(execType="BustTrade", side="Sell")
    adl = _execution_body(execType="AdlTrade", side="Buy", execTime="1672282722500", execQty="0.04",
                          execPrice="1201.5")
    liquidated, deleveraged = account.forced_closes([(_read(), bust), (_read(), adl)], CONTEXT)
    assert liquidated == ForcedClose(venue="bybit", symbol="ETHPERP", ts=1672282722429, recv_ns=9, account="main",
                                     side="long", cause="liquidation", price=1190.15, size=0.1, remaining=0.0,
                                     detail="execType BustTrade")
    assert (deleveraged.side, deleveraged.cause, deleveraged.price, deleveraged.size, deleveraged.ts,
            deleveraged.detail) == ("short", "adl", 1201.5, 0.04, 1672282722500, "execType AdlTrade")


def test_a_laddered_liquidation_trade_is_a_liquidation_too():
    (close,) = account.forced_closes([(_read(), _execution_body(createType="CreateByLiq", side="Sell"))], CONTEXT)
    assert (close.cause, close.side, close.detail) == ("liquidation", "long", "execType Trade, createType CreateByLiq")


def test_record_reads_ask_the_execution_list_per_symbol_and_exec_type_from_before_the_shrink():
    reads = account.record_reads([("BTCUSDT", "long", 1_000_000), ("BTCUSDT", "short", 900_000),
                                  ("BTCUSD", "short", 2_000)])
    assert all(r.path == account.EXECUTION_LIST and r.path in READ_PATHS["bybit"] for r in reads)
    asked = {(dict(r.params)["symbol"], dict(r.params)["execType"]): dict(r.params) for r in reads}
    assert len(reads) == len(asked) == 6
    assert {t for _, t in asked} == {"BustTrade", "AdlTrade", "Trade"}
    assert asked[("BTCUSDT", "BustTrade")] == {"category": "linear", "symbol": "BTCUSDT", "execType": "BustTrade",
                                               "startTime": "895000", "limit": "100"}
    assert asked[("BTCUSD", "AdlTrade")]["category"] == "inverse" and asked[("BTCUSD", "AdlTrade")]["startTime"] == "0"


@pytest.mark.parametrize("body", ['{"retCode":10001,"retMsg":"params error","result":{}}', "not json",
                                  '{"retCode":0,"result":{"list":{}}}'])
def test_an_unreadable_execution_body_is_a_body_error(body):
    with pytest.raises(BodyError):
        account.forced_closes([(_read(), body)], CONTEXT)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["execType", "side", "execPrice", "execQty", "execTime", "symbol", "createType"]),
       value=st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                       st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
                           ["BustTrade", "AdlTrade", "Trade", "Buy", "Sell", "CreateByLiq", "-1", "0"])))
def test_execution_fields_of_any_value_give_a_valid_close_or_a_body_error(field, value):
    body = _execution_body(**{"execType": "BustTrade", "side": "Sell", field: value})
    try:
        closes = account.forced_closes([(_read(), body)], CONTEXT)
    except BodyError:
        return
    for close in closes:
        assert close.cause in ("liquidation", "adl") and close.side in ("long", "short") and close.symbol
        assert math.isfinite(close.price) and close.price > 0 and math.isfinite(close.size) and close.size > 0


async def test_emulated_execution_list_filters_as_the_venue_does(private):  # noqa: F811
    held = private.account("bybit")
    first = held.close("BTCUSDT", "liquidation", 78_000.0, now_ms=1_000_000)
    held.close("ETHUSDT", "user", 3_300.0, size=1.0, now_ms=2_000_000)
    held.close("ETHUSDT", "adl", 3_400.0, size=0.5, now_ms=3_000_000)
    def rows(**query: str) -> list[dict]:
        return private_body_of(held, account.EXECUTION_LIST, {"category": "linear", **query}, 4_000_000)["result"]["list"]

    assert [r["execType"] for r in rows(startTime="0")] == ["AdlTrade", "Trade", "BustTrade"]  # newest first
    assert [r["symbol"] for r in rows(startTime="0", execType="BustTrade")] == ["BTCUSDT"]
    assert rows(startTime="0", symbol="ETHUSDT", execType="AdlTrade")[0]["side"] == "Sell"  # closes a long
    assert [r["execTime"] for r in rows(startTime="1500000")] == ["3000000", "2000000"]
    assert rows(startTime="0", category="inverse") == []
    assert len(rows(startTime="0", limit="1")) == 1
    assert rows(startTime="0", execType="BustTrade")[0]["execQty"] == str(first.size)


async def test_a_liquidation_and_an_adl_alert_and_the_users_own_close_does_not(private):  # noqa: F811
    held = private.account("bybit")
    held.positions.append(EmuPosition("SOLUSDT", "long", 10.0, 150.0, 152.0, 5.0, adl=1, maint_margin=7.6))
    follower = private.follower("bybit")
    async with private.run(follower) as running:
        await running.wait_for(lambda e: isinstance(e, AccountState) and len(e.positions) == 3)
        held.close("BTCUSDT", "liquidation", 78_500.5)  # all of the short
        held.close("ETHUSDT", "adl", 3_350.0, size=1.0)  # a third of the long: 2.0 left
        held.close("SOLUSDT", "user", 151.0)  # the user's own
        closes = await running.wait_for(lambda e: isinstance(e, ForcedClose), count=2)
        asked = len(private.endpoints.private("bybit"))
        # a few more rounds read SOLUSDT's executions again, and still find nothing to say
        await private.emu.wait_until(lambda: sum(
            r.path == account.EXECUTION_LIST and "symbol=SOLUSDT" in r.query
            for r in private.endpoints.private("bybit")[asked:]) >= 6)
    forced = [e for e in running.events if isinstance(e, ForcedClose)]
    assert forced == closes
    by_symbol = {c.symbol: c for c in forced}
    assert set(by_symbol) == {"BTCUSDT", "ETHUSDT"}
    btc, eth = by_symbol["BTCUSDT"], by_symbol["ETHUSDT"]
    assert (btc.account, btc.side, btc.cause, btc.price, btc.size, btc.remaining, btc.detail) == \
        ("main", "short", "liquidation", 78_500.5, 0.25, 0.0, "execType BustTrade")
    assert (eth.side, eth.cause, eth.price, eth.size, eth.detail) == ("long", "adl", 3_350.0, 1.0, "execType AdlTrade")
    assert eth.remaining == pytest.approx(2.0) and eth.remaining > 0
    assert all(r.method == "GET" and r.path in READ_PATHS["bybit"] for r in private.endpoints.requests
               if r.venue == "bybit")


def test_emulated_ticker_pushes_the_next_funding_time_once_one_has_passed():
    from adlwatch.feeds.emulator_base import FUNDING_PERIOD_MS, EmuConnection

    class Socket:  # a stand-in: frames() never writes to it
        pass

    conn = EmuConnection(id=1, venue="bybit", path="/bybit/v5/public/linear", ws=Socket())
    parser = ADAPTER.new_parser(MONITOR_SKIPS)
    boundary = FUNDING_PERIOD_MS * 2_000_000

    def fundings_at(now_ms: int) -> list[FundingRate]:
        frames = PERSONALITY.frames(conn, "BTCUSDT", 60_000.0, now_ms)
        return _fundings(e for frame in frames for e in parser.parse(json.dumps(frame), 1))

    assert [f.next_funding_ts for f in fundings_at(boundary - 2_000)] == [boundary]  # the snapshot
    assert fundings_at(boundary - 1_000) == []  # deltas between funding times carry none
    assert [(f.rate, f.next_funding_ts) for f in fundings_at(boundary + 1)] == [(0.0001, boundary + FUNDING_PERIOD_MS)]
    assert fundings_at(boundary + 1_000) == []


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(body=st.one_of(st.text(max_size=40), _JSON.map(json.dumps),
                      _JSON.map(lambda rows: json.dumps({"retCode": 0, "result": {"list": [rows]}}))))
def test_any_execution_body_gives_forced_closes_or_a_body_error_never_another_exception(body):
    try:
        closes = account.forced_closes([(_read(), body)], CONTEXT)
    except BodyError:
        return
    assert all(isinstance(c, ForcedClose) for c in closes)


async def test_the_monitor_alerts_exactly_the_liquidation_and_the_adl_of_a_followed_bybit_account(private):  # noqa: F811
    import time

    from adlwatch.engine.alert_rules import AlertRules
    from adlwatch.engine.alerts import RULE_FORCED_CLOSE
    from adlwatch.engine.instruments import default_catalogue
    from adlwatch.engine.monitor import Monitor
    from adlwatch.engine.portfolio import Portfolio

    quiet = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                       stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=None)
    monitor = Monitor(Portfolio.from_data({"account": [{"venue": "bybit", "key_name": "main"}]}, default_catalogue()),
                      rules=quiet)
    held = private.account("bybit")
    held.positions.append(EmuPosition("SOLUSDT", "long", 10.0, 150.0, 152.0, 5.0, adl=1, maint_margin=7.6))
    async with private.run(private.follower("bybit"), lambda e: monitor.apply(e, time.time())) as running:
        await running.wait_for(lambda e: isinstance(e, AccountState) and len(e.positions) == 3)
        held.close("BTCUSDT", "liquidation", 78_500.5)
        held.close("ETHUSDT", "adl", 3_350.0, size=1.0)
        held.close("SOLUSDT", "user", 151.0)
        await running.wait_for(lambda e: isinstance(e, ForcedClose), count=2)
    alerts = [a for a in monitor.evaluate(time.time()) if a.rule == RULE_FORCED_CLOSE]
    told = sorted((a.symbol, a.value, a.price, a.size, round(a.remaining, 9)) for a in alerts)
    assert told == [("BTCUSDT", "liquidation", 78_500.5, 0.25, 0.0), ("ETHUSDT", "adl", 3_350.0, 1.0, 2.0)]
    assert all(a.critical for a in alerts)
