"""Issue 15 on Binance's wire: funding from the mark stream, the liquidation stream of the contracts
held, the public ADL risk rating, the followed account's break-even and funding, and "you were
liquidated / ADL'd" from the account's force orders. Everything against the loopback emulator.

Documented examples (each parser test quotes its page):
- markPriceUpdate: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream
- symbolAdlRisk: https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/ADL-Risk
- positionRisk v3: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3
- income: https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Get-Income-History
- forceOrders: https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Users-Force-Orders
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import (
    MONITOR_SKIPS,
    AccountState,
    AdlRisk,
    FeedStatus,
    ForcedClose,
    FundingRate,
    Liquidation,
    MarkPrice,
)
from adlwatch.feeds.accounts.signed import BodyError, MapContext, Read
from adlwatch.feeds.emulator_private import EmuPosition
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.queue import CoalescingQueue
from adlwatch.feeds.recorder import Recorder
from adlwatch.feeds.replay import load_replay
from adlwatch.feeds.venue import RestPoll
from adlwatch.feeds.venues.binance import account as binance
from adlwatch.feeds.venues.binance import emulator as binance_emulator
from adlwatch.feeds.venues.binance.market import ADAPTER, ADL_RISK_PATH
from tests.feeds import private_fixtures
from tests.feeds.conftest import FAST

private = private_fixtures.private  # the fixture: the emulator with the test accounts

# Mark-Price-Stream page example
MARK = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
        "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000}


def is_close(e) -> bool:
    return isinstance(e, ForcedClose)


def is_state(e) -> bool:
    return isinstance(e, AccountState)


# ---------------------------------------------------------------------------- 1. funding


def test_the_monitors_parser_builds_funding_from_the_documented_mark_frame():
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Mark-Price-Stream
    parser = ADAPTER.new_parser(MONITOR_SKIPS)
    for frame in (json.dumps({"stream": "btcusdt@markPrice@1s", "data": MARK}), json.dumps(MARK)):
        assert parser.parse(frame, 5) == [
            MarkPrice(venue="binance", symbol="BTCUSDT", ts=1562305380000, recv_ns=5, price=11794.15),
            FundingRate(venue="binance", symbol="BTCUSDT", ts=1562305380000, recv_ns=5, rate=0.00038167,
                        next_funding_ts=1562306400000)]


def test_a_delivery_contracts_empty_rate_gives_no_funding_and_no_error_to_the_monitor():
    data = dict(MARK, s="BTCUSDT_250627", r="", T=0)
    events = ADAPTER.new_parser(MONITOR_SKIPS).parse(json.dumps({"stream": "x", "data": data}), 9)
    assert events == [MarkPrice(venue="binance", symbol="BTCUSDT_250627", ts=1562305380000, recv_ns=9, price=11794.15)]


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(-0.05, 0.05, allow_nan=False), next_ms=st.integers(1, 2**53), as_number=st.booleans(),
       combined=st.booleans())
def test_funding_of_any_rate_comes_through_the_monitors_fast_path_exactly(rate, next_ms, as_number, combined):
    data = dict(MARK, r=rate if as_number else repr(rate), T=next_ms)
    frame = json.dumps({"stream": "btcusdt@markPrice@1s", "data": data} if combined else data)
    mark, funding = ADAPTER.new_parser(MONITOR_SKIPS).parse(frame, 1)
    assert isinstance(mark, MarkPrice)
    assert funding == FundingRate(venue="binance", symbol="BTCUSDT", ts=1562305380000, recv_ns=1, rate=rate,
                                  next_funding_ts=next_ms)


# ---------------------------------------------------------------------------- 2. liquidation stream


def test_each_symbol_has_a_mark_and_a_liquidation_stream_within_the_stream_cap():
    symbols = [f"S{i}USDT" for i in range(250)]
    groups = ADAPTER.connection_groups(symbols)
    assert [len(g) for g in groups] == [100, 100, 50] and sum(groups, []) == symbols
    for group in groups:
        streams = ADAPTER.streams(group)
        assert len(streams) == 2 * len(group) <= ADAPTER.max_streams_per_connection
        assert {s.split("@", 1)[1] for s in streams} == {"markPrice@1s", "forceOrder"}
    assert ADAPTER.streams([]) == ["!markPrice@arr@1s"]  # nothing named: all-market marks only


async def test_a_burst_of_liquidations_reaches_the_live_feed_exactly(emulator):
    source = LiveSource({"binance": ["BTCUSDT", "ETHUSDT"]}, ws_urls={"binance": emulator.ws_url("binance")},
                        rest_urls={"binance": emulator.rest_url("binance")}, client_options=FAST)
    seen: list = []
    changed = asyncio.Event()

    def emit(event) -> None:
        seen.append(event)
        changed.set()

    async def until(predicate, count: int = 1, timeout: float = 5.0) -> None:
        async def wait() -> None:
            while len([e for e in seen if predicate(e)]) < count:
                changed.clear()
                await changed.wait()
        await asyncio.wait_for(wait(), timeout)

    task = asyncio.create_task(source.run(emit))
    try:
        await until(lambda e: e.kind == "mark_price" and e.symbol == "BTCUSDT")
        at = emulator.prices.current("binance", "BTCUSDT")
        assert await emulator.liquidations("binance", "BTCUSDT", "long", count=5, size=0.2) == 5
        await until(lambda e: isinstance(e, Liquidation), 5)
        fifth = max(i for i, e in enumerate(seen) if isinstance(e, Liquidation))
        # frames of one socket arrive in order: marks pushed after the burst end it
        await until(lambda e: e.kind == "mark_price" and e.symbol == "BTCUSDT" and seen.index(e) > fifth, 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    liquidations = [e for e in seen if isinstance(e, Liquidation)]
    assert len(liquidations) == 5
    for e in liquidations:
        assert (e.venue, e.symbol, e.side, e.size) == ("binance", "BTCUSDT", "long", 0.2)
        assert e.price == pytest.approx(at, rel=1e-9)
        assert e.notional_usd == pytest.approx(e.size * e.price, rel=1e-12)
    assert not [e for e in seen if isinstance(e, FeedStatus) and e.state in ("stale", "error")]


async def test_only_a_connection_that_subscribed_the_liquidation_stream_gets_one(kit):
    async with kit.run("binance", ["ETHUSDT"]) as feed:
        await feed.wait_for(kit.kind("mark_price", "ETHUSDT"))
        assert await kit.emu.liquidations("binance", "BTCUSDT", "short", count=2) == 0  # not subscribed
        assert await kit.emu.liquidations("binance", "ETHUSDT", "short", count=2, size=1.5, price=3000.0) == 2
        events = await feed.wait_for(kit.kind("liquidation"), count=2)
    assert [(e.symbol, e.side, e.size, e.price, e.notional_usd) for e in events] == [
        ("ETHUSDT", "short", 1.5, 3000.0, 4500.0)] * 2


async def test_a_contract_without_liquidations_is_not_stale(kit):
    fast = kit.fast_heartbeat("binance", stale_after_s=1.0)
    async with kit.run("binance", ["BTCUSDT", "ETHUSDT"], heartbeat=fast) as feed:
        # 40 marks of each at 50 ms: twice the staleness limit, with no liquidation at all
        await feed.wait_for(kit.kind("mark_price", "ETHUSDT"), count=40, timeout=10.0)
        await feed.wait_for(kit.kind("mark_price", "BTCUSDT"), count=40, timeout=10.0)
        assert not feed.statuses("stale")
        assert not [e for e in feed.events if isinstance(e, Liquidation)]
        (conn,) = kit.emu.live("binance")
        assert conn.symbols == ["BTCUSDT", "ETHUSDT"]  # two streams each, two contracts watched
        assert feed.client.stats[0].symbols == ["BTCUSDT", "ETHUSDT"]


async def test_recorded_liquidations_replay_as_they_came(kit, tmp_path):
    path = tmp_path / "binance.jsonl"
    with Recorder(path) as recorder:
        async with kit.run("binance", ["BTCUSDT"], on_frame=recorder.write) as feed:
            await feed.wait_for(kit.kind("mark_price", "BTCUSDT"))
            await kit.emu.liquidations("binance", "BTCUSDT", "short", count=3, size=0.05)
            live = await feed.wait_for(kit.kind("liquidation"), count=3)
    replayed = [e for e in load_replay(path, skip=MONITOR_SKIPS).events if isinstance(e, Liquidation)]
    assert replayed == live


# ---------------------------------------------------------------------------- 3. public ADL risk


def adl_poll(*symbols: str) -> RestPoll:
    return RestPoll(path=ADL_RISK_PATH, interval_s=300.0, symbols=symbols)


def test_adl_risk_parses_the_documented_examples():
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/ADL-Risk
    one = '{"symbol": "BTCUSDT", "adlRisk": "low", "updateTime": 1597370495002}'
    every = ('[{"symbol": "BTCUSDT", "adlRisk": "low", "updateTime": 1597370495002},'
             ' {"symbol": "ETHUSDT", "adlRisk": "high", "updateTime": 1597370495004}]')
    assert ADAPTER.parse_rest(adl_poll("BTCUSDT"), one, 3) == [
        AdlRisk(venue="binance", symbol="BTCUSDT", ts=1597370495002, recv_ns=3, rating="low")]
    assert ADAPTER.parse_rest(adl_poll("BTCUSDT", "ETHUSDT"), every, 3) == [
        AdlRisk(venue="binance", symbol="BTCUSDT", ts=1597370495002, recv_ns=3, rating="low"),
        AdlRisk(venue="binance", symbol="ETHUSDT", ts=1597370495004, recv_ns=3, rating="high")]
    # kept to the polled symbols (or to the client's, when it names them)
    assert [e.symbol for e in ADAPTER.parse_rest(adl_poll("ETHUSDT"), every, 3)] == ["ETHUSDT"]
    assert [e.symbol for e in ADAPTER.parse_rest(adl_poll("ETHUSDT"), every, 3, ["BTCUSDT"])] == ["BTCUSDT"]


def test_one_adl_risk_poll_every_five_minutes_for_the_usdm_contracts_only():
    polls = [p for p in ADAPTER.rest_polls(["BTCUSDT", "BTCUSD_PERP", "ETHUSDT_261225"]) if p.path == ADL_RISK_PATH]
    assert polls == [RestPoll(path=ADL_RISK_PATH, interval_s=300.0, symbols=("BTCUSDT", "ETHUSDT_261225"))]
    assert polls[0].params == {}  # every symbol in one request (weight 1)
    assert not [p for p in ADAPTER.rest_polls(["BTCUSD_PERP"]) if p.path == ADL_RISK_PATH]  # COIN-M has none


def test_an_unknown_rating_is_an_error_and_the_others_come_through():
    body = json.dumps([{"symbol": "BTCUSDT", "adlRisk": "extreme", "updateTime": 1},
                       {"symbol": "ETHUSDT", "adlRisk": "MEDIUM", "updateTime": 2}])
    events = ADAPTER.parse_rest(adl_poll(), body, 4)
    assert [e for e in events if isinstance(e, AdlRisk)] == [
        AdlRisk(venue="binance", symbol="ETHUSDT", ts=2, recv_ns=4, rating="medium")]
    (error,) = [e for e in events if isinstance(e, FeedStatus)]
    assert error.state == "error" and error.symbol == "BTCUSDT" and "extreme" in error.detail


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                     | st.sampled_from(["low", "medium", "high", "BTCUSDT", ""]),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                         st.sampled_from(["symbol", "adlRisk", "updateTime", "code", "msg", "x"]), inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(_JSON.map(json.dumps), st.binary(max_size=40), st.text(max_size=40)))
def test_the_adl_risk_parser_never_raises(body):
    for event in ADAPTER.parse_rest(adl_poll(), body, 1):
        if isinstance(event, AdlRisk):
            assert event.rating in ("low", "medium", "high") and event.symbol
        else:
            assert isinstance(event, FeedStatus) and event.state == "error"


async def test_the_live_feed_polls_the_emulators_adl_risk(emulator):
    binance_emulator.set_adl_risk(emulator, "BTCUSDT", "high")
    binance_emulator.set_adl_risk(emulator, "ETHUSDT", "medium")
    source = LiveSource({"binance": ["BTCUSDT", "ETHUSDT"]}, ws_urls={"binance": emulator.ws_url("binance")},
                        rest_urls={"binance": emulator.rest_url("binance")}, client_options=FAST)
    seen = await _run_until_count(source, lambda e: isinstance(e, AdlRisk), 2)
    ratings = {e.symbol: e.rating for e in seen if isinstance(e, AdlRisk)}
    assert ratings == {"BTCUSDT": "high", "ETHUSDT": "medium"}  # only the polled ones of the whole list
    assert [path for venue, path, _ in emulator.rest_requests if path == ADL_RISK_PATH] == [ADL_RISK_PATH]


async def _run_until_count(source, predicate, count: int, timeout_s: float = 5.0) -> list:
    seen: list = []
    arrived = asyncio.Event()

    def emit(event) -> None:
        seen.append(event)
        if len([e for e in seen if predicate(e)]) >= count:
            arrived.set()

    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(arrived.wait(), timeout_s)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return seen


async def test_a_recorded_adl_risk_answer_replays_as_it_came(kit, tmp_path):
    binance_emulator.set_adl_risk(kit.emu, "BTCUSDT", "medium")
    path = tmp_path / "binance.jsonl"
    with Recorder(path) as recorder:
        async with kit.run("binance", ["BTCUSDT"], rest=True, rest_url=kit.emu.rest_url("binance"),
                           on_frame=recorder.write) as feed:
            (live,) = await feed.wait_for(kit.kind("adl_risk"), timeout=5.0)
    assert (live.symbol, live.rating) == ("BTCUSDT", "medium")
    chosen = load_replay(path, venue="binance", symbol="BTCUSDT", skip=MONITOR_SKIPS).events
    assert [e for e in chosen if isinstance(e, AdlRisk)] == [live]
    # the recording keeps the contracts the live poll kept of the venue-wide answer: the whole
    # recording replays that one rating, not every rated symbol (tests/feeds/test_replay_exact.py)
    everything = [e for e in load_replay(path, skip=MONITOR_SKIPS).events if isinstance(e, AdlRisk)]
    assert [e for e in everything if e.symbol == "BTCUSDT"] == [live] and everything == [live]


def test_the_queue_keeps_only_the_newest_pending_rating():
    queue = CoalescingQueue()
    for rating in ("low", "medium", "high"):
        queue.put_nowait(AdlRisk(venue="binance", symbol="BTCUSDT", ts=1, rating=rating))
    assert len(queue) == 1 and queue.get_nowait().rating == "high" and queue.coalesced == 2


# ---------------------------------------------------------------------------- 4. break-even and funding

# Position-Information-V3 page, one-way example
ADA_RISK = {"symbol": "ADAUSDT", "positionSide": "BOTH", "positionAmt": "30", "entryPrice": "0.385",
            "breakEvenPrice": "0.385077", "markPrice": "0.41047590", "unRealizedProfit": "0.76427700",
            "liquidationPrice": "0", "isolatedMargin": "0", "notional": "12.31427700", "marginAsset": "USDT",
            "isolatedWallet": "0", "initialMargin": "0.61571385", "maintMargin": "0.08004280",
            "positionInitialMargin": "0.61571385", "openOrderInitialMargin": "0", "adl": 2, "bidNotional": "0",
            "askNotional": "0", "updateTime": 1720736417660}
# Get-Income-History page example (a transfer and a commission: no funding among them)
INCOME_DOC = [{"symbol": "", "incomeType": "TRANSFER", "income": "-0.37500000", "asset": "USDT", "info": "TRANSFER",
               "time": 1570608000000, "tranId": 9689322392, "tradeId": ""},
              {"symbol": "BTCUSDT", "incomeType": "COMMISSION", "income": "-0.01000000", "asset": "USDT",
               "info": "COMMISSION", "time": 1570636800000, "tranId": 9689322392, "tradeId": "2059192"}]


def _funding_row(symbol: str, income: str, time_ms: int, asset: str = "USDT") -> dict:
    return {"symbol": symbol, "incomeType": "FUNDING_FEE", "income": income, "asset": asset, "info": "FUNDING_FEE",
            "time": time_ms, "tranId": 1, "tradeId": ""}


def _bodies(risk: list[dict], income: list[dict] | None = None) -> dict[str, str]:
    symbols = {row["symbol"] for row in risk}
    bodies = {
        binance.POSITION_RISK: json.dumps(risk),
        binance.SYMBOL_CONFIG: json.dumps([{"symbol": s, "marginType": "CROSSED", "leverage": 20} for s in symbols]),
        binance.ACCOUNT: json.dumps({"assets": [{"asset": "USDT", "crossWalletBalance": "100", "crossUnPnl": "0.764277",
                                                 "updateTime": 1720736417660}]}),
        binance.ADL_QUANTILE: json.dumps([{"symbol": s, "adlQuantile": {"LONG": 0, "SHORT": 0, "BOTH": 2}}
                                          for s in symbols]),
        binance.LEVERAGE_BRACKET: "[]",
    }
    if income is not None:
        bodies[binance.INCOME] = json.dumps(income)
    return bodies


CONTEXT = MapContext("main", "USDT", 11)


def test_break_even_from_the_documented_position_and_no_funding_without_the_income_read():
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3
    (position,) = binance.account_state(_bodies([ADA_RISK]), CONTEXT).positions
    assert position.break_even_price == 0.385077 and position.entry_price == 0.385
    assert position.funding_pnl is None  # the income history not read (yet, or it failed)
    assert position.take_profit is None and position.stop_loss is None  # Binance's position read has none
    flat = dict(ADA_RISK, breakEvenPrice="0")
    assert binance.account_state(_bodies([flat]), CONTEXT).positions[0].break_even_price is None


def test_funding_counts_the_symbols_settlements_since_the_position_changed():
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Get-Income-History
    changed = ADA_RISK["updateTime"]
    income = [*INCOME_DOC,
              _funding_row("ADAUSDT", "-0.50000000", changed - 1),  # before the position last changed
              _funding_row("ADAUSDT", "-0.00120000", changed),
              _funding_row("ADAUSDT", "0.00030000", changed + 28_800_000),
              _funding_row("ADAUSDT", "-9", changed + 1, asset="BNB"),  # another asset
              _funding_row("BTCUSDT", "-7", changed + 1)]  # another symbol
    (position,) = binance.account_state(_bodies([ADA_RISK], income), CONTEXT).positions
    assert position.funding_pnl == pytest.approx(-0.0012 + 0.0003, abs=1e-15)
    # the documented example alone (no funding row): nothing was paid since the change
    assert binance.account_state(_bodies([ADA_RISK], INCOME_DOC), CONTEXT).positions[0].funding_pnl == 0.0


def test_funding_is_unknown_when_the_page_is_full_or_both_hedge_sides_share_the_symbol():
    full = [_funding_row("ADAUSDT", "-0.001", ADA_RISK["updateTime"] + i) for i in range(binance.INCOME_LIMIT)]
    state = binance.account_state(_bodies([ADA_RISK], full), CONTEXT)
    assert state.positions[0].funding_pnl is None
    assert state.warnings == ["funding paid unknown: 1000 income rows in 7 days, some left out"]
    long = dict(ADA_RISK, positionSide="LONG")
    short = dict(ADA_RISK, positionSide="SHORT", positionAmt="-10")
    income = [_funding_row("ADAUSDT", "-0.001", ADA_RISK["updateTime"] + 1)]
    state = binance.account_state(_bodies([long, short], income), CONTEXT)
    assert [(p.side, p.funding_pnl) for p in state.positions] == [("long", None), ("short", None)]


async def test_a_followed_account_shows_the_venues_break_even_and_funding(private):
    held = private.account("binance")
    btc, eth, sol = held.positions
    held.positions = [replace(btc, break_even_price=60_096.0, funding_pnl=-18.3),
                      replace(eth, break_even_price=2_997.6, funding_pnl=4.5), sol]
    (state,) = await private.follower("binance").fetch()
    by_symbol = {p.symbol: p for p in state.positions}
    assert by_symbol["BTCUSDT"].break_even_price == 60_096.0
    assert by_symbol["BTCUSDT"].funding_pnl == pytest.approx(-18.3, abs=1e-7)
    assert by_symbol["ETHUSDT"].break_even_price == 2_997.6
    assert by_symbol["ETHUSDT"].funding_pnl == pytest.approx(4.5, abs=1e-7)


async def test_the_income_history_is_read_at_most_once_a_minute(private):
    requests = private.endpoints.requests

    def count(path: str) -> int:
        return len([r for r in requests if r.path == path])

    held = private.account("binance")
    held.positions = [replace(held.positions[0], funding_pnl=-3.0)]
    # The follower's clock stands still until the test moves it (behind the real one, inside a wide
    # recvWindow, so the emulator still accepts every signature).
    now = [time.time() - 120.0]
    follower = private.follower("binance", clock=lambda: now[0], recv_window_ms=600_000)
    async with private.run(follower) as running:
        await private.emu.wait_until(lambda: count(binance.POSITION_RISK) >= 6)
        assert count(binance.INCOME) == 1  # six rounds within the minute, one read (weight 30)
        now[0] += binance.INCOME_EVERY_S - 1
        seen = count(binance.POSITION_RISK)
        await private.emu.wait_until(lambda: count(binance.POSITION_RISK) >= seen + 3)
        assert count(binance.INCOME) == 1
        now[0] += 1.0  # a minute since the read: the next round reads again
        await private.emu.wait_until(lambda: count(binance.INCOME) == 2)
    states = [e for e in running.events if isinstance(e, AccountState)]
    assert len(states) == 1 and states[0].positions[0].funding_pnl == pytest.approx(-3.0)  # the answer reused


async def test_an_unreadable_income_answer_leaves_funding_unknown_with_a_warning(private):
    private.endpoints.serve_body("binance", binance.INCOME, '{"code": -1003, "msg": "Too many requests"}')
    (state,) = await private.follower("binance").fetch()
    assert len(state.positions) == 2 and all(p.funding_pnl is None for p in state.positions)
    assert f"funding paid unknown: {binance.INCOME}: expected a list" in state.warnings
    assert all(p.break_even_price is None for p in state.positions)  # the test account's venue sends 0


# ---------------------------------------------------------------------------- 5. liquidated / ADL'd

# Users-Force-Orders page example: a liquidation (autoclose-…) and an ADL (adl_autoclose)
FORCE_ORDERS_DOC = [
    {"orderId": 6071832819, "symbol": "BTCUSDT", "status": "FILLED", "clientOrderId": "autoclose-1596107620040000020",
     "price": "10871.09", "avgPrice": "10913.21000", "origQty": "0.001", "executedQty": "0.001",
     "cumQuote": "10.91321", "timeInForce": "IOC", "type": "LIMIT", "reduceOnly": False, "closePosition": False,
     "side": "SELL", "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE", "origType": "LIMIT",
     "time": 1596107620044, "updateTime": 1596107620087},
    {"orderId": 6072734303, "symbol": "BTCUSDT", "status": "FILLED", "clientOrderId": "adl_autoclose",
     "price": "11023.14", "avgPrice": "10979.82000", "origQty": "0.001", "executedQty": "0.001",
     "cumQuote": "10.97982", "timeInForce": "GTC", "type": "LIMIT", "reduceOnly": False, "closePosition": False,
     "side": "BUY", "positionSide": "SHORT", "stopPrice": "0", "workingType": "CONTRACT_PRICE", "origType": "LIMIT",
     "time": 1596110725059, "updateTime": 1596110725071}]


def _read(close_type: str | None) -> Read:
    params = (("symbol", "BTCUSDT"),) + ((("autoCloseType", close_type),) if close_type else ())
    return Read(binance.FORCE_ORDERS, params=params)


def test_force_orders_parse_from_the_documented_example():
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Users-Force-Orders
    liquidation, adl = FORCE_ORDERS_DOC
    closes = binance.forced_closes([(_read("LIQUIDATION"), json.dumps([liquidation])),
                                    (_read("ADL"), json.dumps([adl]))], CONTEXT)
    assert closes == [
        ForcedClose(venue="binance", symbol="BTCUSDT", ts=1596107620087, recv_ns=11, account="main", side="long",
                    cause="liquidation", price=10913.21, size=0.001, remaining=0.0, detail="autoCloseType LIQUIDATION"),
        ForcedClose(venue="binance", symbol="BTCUSDT", ts=1596110725071, recv_ns=11, account="main", side="short",
                    cause="adl", price=10979.82, size=0.001, remaining=0.0, detail="autoCloseType ADL")]
    # read without autoCloseType (both kinds): Binance's own order ids tell them apart
    both = binance.forced_closes([(_read(None), json.dumps(FORCE_ORDERS_DOC))], CONTEXT)
    assert [(c.cause, c.side) for c in both] == [("liquidation", "long"), ("adl", "short")]


def test_record_reads_ask_once_per_symbol_and_close_type_from_before_the_shrink():
    reads = binance.record_reads([("BTCUSDT", "long", 1_000_000), ("BTCUSDT", "short", 900_000),
                                  ("ETHUSDT", "short", 2_000_000)])
    assert [dict(r.params) for r in reads] == [
        {"symbol": "BTCUSDT", "autoCloseType": "LIQUIDATION", "startTime": "895000"},
        {"symbol": "BTCUSDT", "autoCloseType": "ADL", "startTime": "895000"},
        {"symbol": "ETHUSDT", "autoCloseType": "LIQUIDATION", "startTime": "1995000"},
        {"symbol": "ETHUSDT", "autoCloseType": "ADL", "startTime": "1995000"}]
    assert {r.path for r in reads} == {binance.FORCE_ORDERS} <= binance.READ_PATHS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_force_order_and_income_mappers_return_events_or_raise_body_error(data):
    doc = json.loads(json.dumps(FORCE_ORDERS_DOC))
    for _ in range(data.draw(st.integers(1, 4))):
        row = doc[data.draw(st.integers(0, 1))]
        key = data.draw(st.sampled_from(sorted(row)))
        row[key] = data.draw(_JSON)
    text = data.draw(st.one_of(st.just(json.dumps(doc)), st.text(max_size=30)))
    try:
        closes = binance.forced_closes([(_read(data.draw(st.sampled_from([None, "ADL", "LIQUIDATION"]))), text)],
                                       CONTEXT)
    except BodyError as error:
        assert str(error)
    else:
        for c in closes:
            assert c.cause in ("liquidation", "adl") and c.side in ("long", "short")
            assert math.isfinite(c.price) and c.price > 0 and math.isfinite(c.size) and c.size > 0
    income = json.loads(json.dumps([*INCOME_DOC, _funding_row("ADAUSDT", "-0.1", 1)]))
    row = income[data.draw(st.integers(0, 2))]
    row[data.draw(st.sampled_from(sorted(row)))] = data.draw(_JSON)
    try:
        binance.account_state(_bodies([ADA_RISK], income), CONTEXT)
    except BodyError as error:
        assert str(error)


def three_positions() -> list[EmuPosition]:
    return [EmuPosition("BTCUSDT", "long", 0.5, 60_000.0, 61_000.0, 10.0, liquidation_price=54_500.0, adl=3,
                        maint_margin=122.0),
            EmuPosition("ETHUSDT", "short", 4.0, 3_000.0, 2_900.0, 5.0, adl=4, maint_margin=58.0),
            EmuPosition("SOLUSDT", "long", 10.0, 150.0, 155.0, 3.0, adl=0, maint_margin=7.75)]


async def test_a_liquidated_and_an_adld_position_alert_and_the_users_own_close_does_not(private):
    held = private.account("binance")
    held.positions = three_positions()
    requests = private.endpoints.requests
    async with private.run(private.follower("binance")) as running:
        await running.wait_for(is_state)
        held.close("BTCUSDT", "liquidation", 54_400.0)
        held.close("ETHUSDT", "adl", 3_150.0)
        held.close("SOLUSDT", "user", 160.0)
        closes = await running.wait_for(is_close, count=2)

        def sol_lookups() -> int:
            return len([r for r in requests if r.path == binance.FORCE_ORDERS and "symbol=SOLUSDT" in r.query])

        # the user's close is looked up round after round and never reported
        await private.emu.wait_until(lambda: sol_lookups() >= 8)
    assert [e for e in running.events if is_close(e)] == closes
    by_symbol = {c.symbol: c for c in closes}
    assert set(by_symbol) == {"BTCUSDT", "ETHUSDT"}
    btc, eth = by_symbol["BTCUSDT"], by_symbol["ETHUSDT"]
    assert (btc.cause, btc.side, btc.price, btc.size, btc.remaining) == ("liquidation", "long", 54_400.0, 0.5, 0.0)
    assert (eth.cause, eth.side, eth.price, eth.size, eth.remaining) == ("adl", "short", 3_150.0, 4.0, 0.0)
    assert btc.account == eth.account == "main" and btc.venue == "binance"
    assert btc.detail == "autoCloseType LIQUIDATION" and eth.detail == "autoCloseType ADL"
    assert {r.ts_ms for r in held.records if r.cause != "user"} == {btc.ts, eth.ts}
    assert all(r.method == "GET" for r in requests)


async def test_a_partial_adl_leaves_the_rest_of_the_position(private):
    held = private.account("binance")
    held.positions = three_positions()
    async with private.run(private.follower("binance")) as running:
        await running.wait_for(is_state)
        held.close("BTCUSDT", "adl", 61_500.0, size=0.2)
        (close,) = await running.wait_for(is_close)
        state = (await running.wait_for(lambda e: is_state(e) and e.positions[0].size < 0.5))[0]
    assert (close.symbol, close.cause, close.side, close.price) == ("BTCUSDT", "adl", "long", 61_500.0)
    assert close.size == pytest.approx(0.2) and close.remaining == pytest.approx(0.3)
    assert state.positions[0].size == pytest.approx(0.3)


async def test_hedge_mode_names_the_side_that_was_closed(private):
    held = private.account("binance")
    held.positions = [EmuPosition("BTCUSDT", "long", 1.0, 60_000.0, 61_000.0, 20.0, adl=4, hedge=True),
                      EmuPosition("BTCUSDT", "short", 0.4, 62_000.0, 61_000.0, 20.0, adl=1, hedge=True)]
    async with private.run(private.follower("binance")) as running:
        await running.wait_for(is_state)
        held.close("BTCUSDT", "liquidation", 63_000.0, side="short")
        (close,) = await running.wait_for(is_close)
    assert (close.side, close.cause, close.size, close.remaining) == ("short", "liquidation", 0.4, 0.0)


def test_the_emulator_serves_force_orders_filtered_like_the_venue():
    account = private_fixtures.binance_account()
    account.positions = three_positions()
    account.close("BTCUSDT", "liquidation", 54_000.0, size=0.1, now_ms=1_000)
    account.close("BTCUSDT", "adl", 62_000.0, size=0.1, now_ms=2_000)
    account.close("BTCUSDT", "user", 61_000.0, size=0.1, now_ms=3_000)
    account.close("ETHUSDT", "adl", 3_100.0, now_ms=4_000)

    def served(**query: str) -> list[tuple[str, str, int]]:
        body = binance_emulator.private_body_of(account, binance.FORCE_ORDERS, query, 10_000)
        return [(row["symbol"], row["clientOrderId"].split("-")[0], row["updateTime"]) for row in body]

    assert served() == [("BTCUSDT", "autoclose", 1_000), ("BTCUSDT", "adl_autoclose", 2_000),
                        ("ETHUSDT", "adl_autoclose", 4_000)]  # never the user's own trade
    assert served(symbol="BTCUSDT", autoCloseType="ADL") == [("BTCUSDT", "adl_autoclose", 2_000)]
    assert served(autoCloseType="LIQUIDATION") == [("BTCUSDT", "autoclose", 1_000)]
    assert served(startTime="1500") == [("BTCUSDT", "adl_autoclose", 2_000), ("ETHUSDT", "adl_autoclose", 4_000)]
    assert served(limit="1") == [("ETHUSDT", "adl_autoclose", 4_000)]
