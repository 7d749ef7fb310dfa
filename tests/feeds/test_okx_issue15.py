"""Issue 15 on OKX's wire: funding, the liquidation stream, the followed account's panel fields, and
"you were liquidated / ADL'd" from the account's fills.

Frames and bodies follow OKX's documented examples (field lists and values as on the pages cited
beside each; where a case the page does not show is needed, the changed fields are named).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import time
from dataclasses import replace

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import (
    MONITOR_SKIPS,
    AccountState,
    FeedStatus,
    ForcedClose,
    FundingRate,
    Liquidation,
)
from adlwatch.engine.instruments import TableFile, default_catalogue, encode_table, table_rows
from adlwatch.feeds.accounts.signed import BodyError, MapContext, Read
from adlwatch.feeds.emulator_base import EmuPosition, next_funding_ms
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.recorder import Recorder
from adlwatch.feeds.replay import load_replay
from adlwatch.feeds.tail import run_tail
from adlwatch.feeds.tiers import default_cache_dir, universe_path
from adlwatch.feeds.venues.okx import account as okx
from adlwatch.feeds.venues.okx.emulator import private_body_of
from adlwatch.feeds.venues.okx.market import ADAPTER, FUNDING_PATH, OkxParser
from tests.feeds import private_fixtures
from tests.feeds.conftest import FAST as FEED_FAST
from tests.feeds.live_helpers import run_until
from tests.feeds.private_fixtures import okx_account

private = private_fixtures.private  # the fixture: the emulator with the test accounts

CONTRACTS = {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1.0, "BTC-USD-SWAP": 100.0}


def okx_context(values: dict[str, float] | None = None) -> MapContext:
    return MapContext("main", "USDT", 5, CONTRACTS if values is None else values)


# ---------------------------------------------------------------------------- funding

# https://www.okx.com/docs-v5/en/#public-data-websocket-funding-rate-channel (the push example)
OKX_FUNDING_DOC = (
    '{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"formulaType":"noRate",'
    '"fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"","instId":"BTC-USD-SWAP",'
    '"instType":"SWAP","interestRate":"","maxFundingRate":"0.00375","method":"current_period",'
    '"minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1700755200000",'
    '"premium":"0.0001233824646391","settFundingRate":"0.0001699799259033","settState":"settled",'
    '"ts":"1700724675402"}]}')


def test_okx_funding_is_built_for_the_monitor_and_is_the_next_settlement():
    events = ADAPTER.new_parser(MONITOR_SKIPS).parse(OKX_FUNDING_DOC, 3)
    assert events == [FundingRate(venue="okx", symbol="BTC-USD-SWAP", ts=1700724675402, recv_ns=3,
                                  rate=0.0001875391284828, next_funding_ts=1700726400000)]
    # and not when a consumer skips it (index prices stay skipped for the monitor)
    assert ADAPTER.new_parser(frozenset({"funding_rate"})).parse(OKX_FUNDING_DOC, 3)[0].kind == "funding_rate"


def test_okx_funding_rest_poll_gives_the_rate_at_start():
    # https://www.okx.com/docs-v5/en/#public-data-rest-api-get-funding-rate: the same item as the
    # channel's push, in the REST envelope
    poll = next(p for p in ADAPTER.rest_polls(["BTC-USD-SWAP"]) if p.path == FUNDING_PATH)
    assert poll.params == {"instId": "BTC-USD-SWAP"} and poll.interval_s == 300.0
    body = json.dumps({"code": "0", "msg": "", "data": json.loads(OKX_FUNDING_DOC)["data"]})
    assert ADAPTER.parse_rest(poll, body, 4) == ADAPTER.new_parser().parse(OKX_FUNDING_DOC, 4)
    (error,) = ADAPTER.parse_rest(poll, body.replace('"0.0001875391284828"', '"x"'), 4)
    assert error.state == "error" and error.symbol == "BTC-USD-SWAP"


def test_okx_subscribes_funding_per_contract_and_one_liquidation_stream():
    args = [a for m in ADAPTER.subscribe_messages(["BTC-USDT-SWAP", "ETH-USDT-SWAP", "BTC-USD-SWAP"])
            for a in json.loads(m)["args"]]
    assert [a["instId"] for a in args if a["channel"] == "funding-rate"] == ["BTC-USDT-SWAP", "ETH-USDT-SWAP",
                                                                              "BTC-USD-SWAP"]
    assert [a for a in args if a["channel"] == "liquidation-orders"] == [
        {"channel": "liquidation-orders", "instType": "SWAP"}]
    # dropping a contract leaves the shared liquidation stream to the connection's others
    unsub = [a for m in ADAPTER.unsubscribe_messages(["BTC-USDT-SWAP"]) for a in json.loads(m)["args"]]
    assert {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"} in unsub
    assert all(a["channel"] != "liquidation-orders" for a in unsub)


def test_okx_staleness_follows_the_mark_price_cadence_not_funding():
    # mark-price pushes at least every 10 s; funding pushes come every 30 to 90 s
    assert ADAPTER.heartbeat.stale_after_s == 13.0


async def test_okx_live_feed_delivers_funding_with_the_next_settlement(emulator):
    source = LiveSource({"okx": ["BTC-USDT-SWAP"]}, ws_urls={"okx": emulator.ws_url("okx")},
                        rest_urls={"okx": emulator.rest_url("okx")}, client_options=FEED_FAST)
    seen = await run_until(source, lambda e: e.kind == "funding_rate")
    funding = next(e for e in seen if e.kind == "funding_rate")
    assert funding.symbol == "BTC-USDT-SWAP" and funding.rate == 0.0001
    assert funding.next_funding_ts == next_funding_ms(funding.ts)


# ---------------------------------------------------------------------------- liquidation stream

# https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-channel (the push example's
# fields; instId BTC-USDT-SWAP, a catalogue contract, where the page shows IOST-USDT-SWAP)
OKX_LIQUIDATION = (
    '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0",'
    '"bkPx":"60000.5","ccy":"","posSide":"short","side":"buy","sz":"13","ts":"1692266434010"}],'
    '"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}')


def ack(inst_id: str, op: str = "subscribe") -> str:
    # https://www.okx.com/docs-v5/en/#overview-websocket-subscribe (the subscribe response)
    return json.dumps({"event": op, "arg": {"channel": "mark-price", "instId": inst_id}, "connId": "a4d3ae55"})


def test_okx_liquidation_of_a_short_in_coin_from_the_contract_value():
    (event,) = OkxParser(contract_values=CONTRACTS).parse(OKX_LIQUIDATION, 9)
    assert isinstance(event, Liquidation)
    assert (event.symbol, event.side, event.price, event.ts) == ("BTC-USDT-SWAP", "short", 60000.5, 1692266434010)
    assert event.size == pytest.approx(0.13) and event.notional_usd == pytest.approx(0.13 * 60000.5)


def test_okx_parser_keeps_only_the_liquidations_of_its_connection_contracts():
    parser = OkxParser(contract_values=CONTRACTS)
    assert len(parser.parse(OKX_LIQUIDATION)) == 1  # nothing acknowledged yet: every liquidation
    assert parser.parse(ack("ETH-USDT-SWAP")) == []
    assert parser.parse(OKX_LIQUIDATION) == []  # BTC is another connection's (or nobody's)
    parser.parse(ack("BTC-USDT-SWAP"))
    assert [e.symbol for e in parser.parse(OKX_LIQUIDATION)] == ["BTC-USDT-SWAP"]
    parser.parse(ack("BTC-USDT-SWAP", "unsubscribe"))
    assert parser.parse(OKX_LIQUIDATION) == []


def test_okx_contract_values_come_from_the_refreshed_cache_too():
    # IOST-USDT-SWAP (the page's own example, ctVal 1000 IOST) is in no bundled table: once
    # ``adlwatch tiers --refresh`` has cached it, its liquidations have a size in coin.
    doc = OKX_LIQUIDATION.replace("BTC-USDT", "IOST-USDT").replace('"bkPx":"60000.5"', '"bkPx":"0.007831"')
    assert OkxParser().parse(doc) == []
    btc = default_catalogue().get("okx", "BTC-USDT-SWAP")
    (row,) = table_rows([btc])
    row = msgspec.structs.replace(row, symbol="IOST-USDT-SWAP", base="IOST", venue_contract_size=1000.0)
    folder = default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    universe_path(folder, "okx").write_bytes(encode_table(TableFile(
        venue="okx", source="test", as_of="2026-12-01", verified=True, taker_fee=0.0005, instruments=[row])))
    (event,) = OkxParser().parse(doc)
    assert event.symbol == "IOST-USDT-SWAP" and event.size == 13 * 1000.0
    assert okx.contract_values()["IOST-USDT-SWAP"] == 1000.0  # the follower reads the same values


async def test_okx_emulated_liquidation_burst_reaches_the_live_feed_exactly(emulator):
    source = LiveSource({"okx": ["BTC-USDT-SWAP"]}, ws_urls={"okx": emulator.ws_url("okx")},
                        rest_urls={"okx": emulator.rest_url("okx")}, client_options=FEED_FAST)
    fired = False
    tasks: list[asyncio.Task] = []

    def wanted(event) -> bool:
        nonlocal fired
        if event.kind == "mark_price" and not fired:
            fired = True  # subscribed and flowing: play the burst, then one short as the end marker
            tasks.append(asyncio.get_running_loop().create_task(burst()))
        return event.kind == "liquidation" and event.side == "short"

    async def burst() -> None:
        await emulator.liquidations("okx", "BTC-USDT-SWAP", "long", count=5, size=0.2)
        await emulator.liquidations("okx", "BTC-USDT-SWAP", "short", count=1, size=0.1)

    seen = await run_until(source, wanted)
    await asyncio.gather(*tasks)
    longs = [e for e in seen if isinstance(e, Liquidation) and e.side == "long"]
    assert len(longs) == 5
    for e in longs:
        assert e.venue == "okx" and e.symbol == "BTC-USDT-SWAP"
        assert e.size == pytest.approx(0.2) and e.notional_usd == pytest.approx(0.2 * e.price)


async def test_okx_live_liquidations_are_recorded_and_replay_the_same(emulator, tmp_path):
    path = tmp_path / "okx.jsonl"
    tasks: list[asyncio.Task] = []
    count = 0

    def wanted(event) -> bool:
        nonlocal count
        if event.kind == "mark_price" and not tasks:  # subscribed and flowing: play three
            tasks.append(asyncio.get_running_loop().create_task(
                emulator.liquidations("okx", "BTC-USDT-SWAP", "short", count=3, size=0.05, price=61_000.0)))
        count += event.kind == "liquidation"
        return count == 3

    with Recorder(path) as recorder:
        source = LiveSource({"okx": ["BTC-USDT-SWAP"]}, ws_urls={"okx": emulator.ws_url("okx")},
                            client_options={**FEED_FAST, "on_frame": recorder.write})
        seen = await run_until(source, wanted)
        await asyncio.gather(*tasks)
    live = [e for e in seen if isinstance(e, Liquidation)]
    replayed = [e for e in load_replay(path, skip=MONITOR_SKIPS).events if isinstance(e, Liquidation)]
    assert len(live) == 3 and replayed == live
    assert all(e.side == "short" and e.price == 61_000.0 and e.size == pytest.approx(0.05) for e in replayed)


async def test_okx_live_tail_prints_liquidation_lines_of_the_contract(emulator):
    started: list[asyncio.Task] = []
    printed = asyncio.Event()

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            if '"type":"liquidation"' in text.replace(" ", ""):
                printed.set()
            return super().write(text)

    def on_frame(venue: str, text: str, recv_ns: int) -> None:
        if '"channel":"mark-price"' in text and '"data"' in text and not started:
            started.append(asyncio.get_running_loop().create_task(
                emulator.liquidations("okx", "BTC-USDT-SWAP", "long", count=1, size=0.3, price=59_000.0)))

    out = Out()
    tail = asyncio.create_task(run_tail("okx", ["BTC-USDT-SWAP"], as_json=True, ws_url=emulator.ws_url("okx"),
                                        rest_url=emulator.rest_url("okx"), out=out, on_frame=on_frame,
                                        client_options=FEED_FAST, status_out=io.StringIO()))
    try:
        await asyncio.wait_for(printed.wait(), 5.0)
    finally:
        tail.cancel()
        await asyncio.gather(tail, *started, return_exceptions=True)
    (line,) = [json.loads(x) for x in out.getvalue().splitlines() if '"liquidation"' in x]
    assert (line["venue"], line["symbol"], line["side"], line["price"]) == ("okx", "BTC-USDT-SWAP", "long", 59_000.0)
    assert line["size"] == pytest.approx(0.3) and line["notional_usd"] == pytest.approx(0.3 * 59_000.0)


async def test_okx_emulator_pushes_liquidations_only_to_subscribers(emulator):
    from adlwatch.feeds.venues.okx.emulator import PERSONALITY, subscribed

    source = LiveSource({"okx": ["BTC-USDT-SWAP"]}, ws_urls={"okx": emulator.ws_url("okx")},
                        client_options=FEED_FAST)
    await run_until(source, lambda e: e.kind == "mark_price")
    (conn,) = emulator.of("okx")
    assert subscribed(conn, "liquidation-orders") == {"SWAP"}
    assert subscribed(conn, "funding-rate") == {"BTC-USDT-SWAP"}
    # a spot instrument has no swap liquidation stream
    assert PERSONALITY.liquidation_frames(conn, "BTC-USDT", "long", 1.0, 1.0, 1) == []


def test_okx_liquidations_and_funding_replay_through_the_monitor_skips(tmp_path):
    rec = tmp_path / "okx.jsonl"
    frames = [ack("BTC-USDT-SWAP"), OKX_LIQUIDATION, OKX_FUNDING_DOC.replace("BTC-USD-SWAP", "BTC-USDT-SWAP")]
    rec.write_text("".join(json.dumps({"recv_ns": 1_700_000_000_000_000_000 + i, "venue": "okx", "frame": f}) + "\n"
                           for i, f in enumerate(frames)))
    events = load_replay(rec, skip=MONITOR_SKIPS).events
    assert [e.kind for e in events] == ["liquidation", "funding_rate"]
    assert events[0].size == pytest.approx(0.13)


@settings(max_examples=200, deadline=None)
@given(frame=st.one_of(st.text(max_size=200), st.binary(max_size=200)),
       acked=st.booleans())
def test_okx_parser_never_raises_on_anything(frame, acked):
    parser = OkxParser(contract_values=CONTRACTS)
    if acked:
        parser.parse(ack("BTC-USDT-SWAP"))
    for event in parser.parse(frame, 1):
        assert isinstance(event, FeedStatus) or event.kind in ("mark_price", "open_interest", "funding_rate",
                                                              "index_price", "adl_alert", "liquidation")


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(["bkPx", "sz", "posSide", "side", "ts", "instId"]),
       value=st.one_of(st.text(max_size=10), st.floats(), st.integers(), st.none(), st.booleans()))
def test_okx_liquidation_fields_of_any_value_never_raise(key, value):
    doc = json.loads(OKX_LIQUIDATION)
    target = doc["data"][0] if key == "instId" else doc["data"][0]["details"][0]
    target[key] = value
    for event in OkxParser(contract_values=CONTRACTS).parse(json.dumps(doc), 1):
        if isinstance(event, Liquidation):
            assert math.isfinite(event.size) and event.size > 0 and event.price > 0
        else:
            assert isinstance(event, FeedStatus) and event.state == "error"


# ---------------------------------------------------------------------------- the panel's fields

# https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-positions: the response example's
# field list; a cross SWAP position (the page's example is a MARGIN one, with bePx and fundingFee
# empty and no closeOrderAlgo) with the page's closeOrderAlgo fields filled.
OKX_POSITIONS = {"code": "0", "msg": "", "data": [{
    "adl": "1", "availPos": "", "avgPx": "62961.4", "baseBal": "", "baseBorrowed": "", "baseInterest": "",
    "bePx": "63024.38", "bizRefId": "", "bizRefType": "", "cTime": "1724740225685", "ccy": "USDT",
    "clSpotInUseAmt": "",
    "closeOrderAlgo": [{"algoId": "1753184812254216192", "slTriggerPx": "60000", "slTriggerPxType": "mark",
                        "tpTriggerPx": "70000", "tpTriggerPxType": "last", "closeFraction": "1"}],
    "deltaBS": "", "deltaPA": "", "fee": "-1.2", "fundingFee": "-0.5123", "gammaBS": "", "gammaPA": "",
    "hedgedPos": "", "idxPx": "62890.5", "imr": "629.6", "instId": "BTC-USDT-SWAP", "instType": "SWAP",
    "interest": "", "last": "62892.9", "lever": "10", "liab": "", "liabCcy": "", "liqPenalty": "0",
    "liqPx": "53615.4", "margin": "", "markPx": "62891.9", "maxSpotInUseAmt": "", "mgnMode": "cross",
    "mgnRatio": "9.4", "mmr": "25.1", "notionalUsd": "6289.2", "optVal": "", "pendingCloseOrdLiabVal": "",
    "pnl": "0", "pos": "10", "posCcy": "", "posId": "1752810569801498626", "posSide": "net", "quoteBal": "",
    "quoteBorrowed": "", "quoteInterest": "", "realizedPnl": "-1.7123", "spotInUseAmt": "", "spotInUseCcy": "",
    "thetaBS": "", "thetaPA": "", "tradeId": "785524470", "uTime": "1724742632153", "upl": "-6.95",
    "uplLastPx": "-6.85", "uplRatio": "-0.011", "uplRatioLastPx": "-0.0108", "usdPx": "", "vegaBS": "",
    "vegaPA": "", "nonSettleAvgPx": "", "settledPnl": ""}]}
OKX_BALANCE = {"code": "0", "msg": "", "data": [{"uTime": "1724742632153", "details": [
    {"ccy": "USDT", "eq": "10000", "isoEq": "0", "upl": "-6.95", "isoUpl": "0", "mmr": "25.1"}]}]}


def okx_state(positions: dict) -> AccountState:
    bodies = {okx.POSITIONS: json.dumps(positions), okx.BALANCE: json.dumps(OKX_BALANCE)}
    return okx.account_state(bodies, okx_context())


def test_okx_position_carries_break_even_funding_and_tp_sl():
    (p,) = okx_state(OKX_POSITIONS).positions
    assert p.size == pytest.approx(0.1)  # 10 contracts of 0.01 BTC
    assert p.break_even_price == 63024.38
    assert p.funding_pnl == -0.5123  # paid: OKX books it as a negative part of realizedPnl
    assert (p.take_profit, p.stop_loss) == (70000.0, 60000.0)


@pytest.mark.parametrize("change,expected", [
    ({"bePx": "", "fundingFee": "", "closeOrderAlgo": []}, (None, None, None, None)),
    ({"bePx": "0", "fundingFee": "0.25", "closeOrderAlgo": [{"tpTriggerPx": "", "slTriggerPx": "59000"}]},
     (None, 0.25, None, 59000.0)),
    ({"closeOrderAlgo": [{"tpTriggerPx": "71000"}, {"slTriggerPx": "58000"}]}, (63024.38, -0.5123, 71000.0, 58000.0)),
    ({"closeOrderAlgo": "nonsense"}, (63024.38, -0.5123, None, None)),
])
def test_okx_panel_fields_absent_or_partial(change, expected):
    doc = json.loads(json.dumps(OKX_POSITIONS))
    row = doc["data"][0]
    row.update(change)
    (p,) = okx_state(doc).positions
    assert (p.break_even_price, p.funding_pnl, p.take_profit, p.stop_loss) == expected


def test_okx_a_bad_funding_fee_is_a_body_error_naming_the_field():
    doc = json.loads(json.dumps(OKX_POSITIONS))
    doc["data"][0]["fundingFee"] = "x"
    with pytest.raises(BodyError, match="fundingFee"):
        okx_state(doc)


async def test_okx_emulator_serves_the_panel_fields(private):
    held = private.account("okx")
    btc = held.positions[0]
    held.positions[0] = replace(btc, break_even_price=60_061.0, funding_pnl=3.25, take_profit=70_000.0,
                                stop_loss=50_000.0)
    state = (await private.follower("okx").fetch())[0]
    imported = next(p for p in state.positions if p.symbol == "BTC-USDT-SWAP")
    assert (imported.break_even_price, imported.funding_pnl) == (60_061.0, 3.25)
    assert (imported.take_profit, imported.stop_loss) == (70_000.0, 50_000.0)
    eth = next(p for p in state.positions if p.symbol == "ETH-USDT-SWAP")
    # no TP/SL set; the emulated break-even is the entry moved by a taker fee each way (a short: below)
    assert eth.take_profit is None and eth.stop_loss is None and eth.funding_pnl == 0.0
    assert eth.break_even_price == pytest.approx(3_200.0 * (1 - 2 * 0.0005))


# ---------------------------------------------------------------------------- forced closes

# https://www.okx.com/docs-v5/en/#order-book-trading-trade-get-transaction-details-last-3-days: the
# response example's fields (the page's row is a SPOT buy, subType 1); these rows are SWAP fills
# with the page's liquidation / ADL transaction types, and execType "" (not applicable to system
# orders such as ADL and liquidation) and negative tradeIds as the page says they are.
def fill(sub_type: str, *, inst: str = "BTC-USDT-SWAP", side: str = "sell", pos_side: str = "net",
         px: str = "45000.5", sz: str = "30", ts: str = "1708587373361") -> dict:
    return {"side": side, "fillSz": sz, "fillPx": px, "fee": "0", "fillPnl": "-450", "ordId": "680800019749904384",
            "feeRate": "", "instType": "SWAP", "instId": inst, "clOrdId": "", "posSide": pos_side,
            "billId": "680800019754098688", "subType": sub_type, "tag": "", "fillTime": ts, "execType": "",
            "tradeId": "-744876980", "feeCcy": "USDT", "ts": str(int(ts) + 1), "fillIdxPx": "45010",
            "fillMarkPx": "45001", "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "",
            "tradeQuoteCcy": ""}


def body(*rows: dict) -> str:
    return json.dumps({"code": "0", "msg": "", "data": list(rows)})


READ_BTC = Read(okx.FILLS, (("instType", "SWAP"), ("instId", "BTC-USDT-SWAP")))


@pytest.mark.parametrize("sub_type,side,pos_side,cause,closed", [
    ("107", "sell", "net", "liquidation", "long"),
    ("106", "buy", "net", "liquidation", "short"),
    ("103", "sell", "net", "liquidation", "long"),
    ("102", "buy", "net", "liquidation", "short"),
    ("104", "sell", "long", "liquidation", "long"),
    ("101", "buy", "short", "liquidation", "short"),
    ("128", "sell", "net", "adl", "long"),
    ("127", "buy", "net", "adl", "short"),
    ("125", "sell", "long", "adl", "long"),
    ("126", "buy", "short", "adl", "short"),
])
def test_okx_fill_transaction_type_tells_liquidation_from_adl(sub_type, side, pos_side, cause, closed):
    (close,) = okx.forced_closes([(READ_BTC, body(fill(sub_type, side=side, pos_side=pos_side)))], okx_context())
    assert (close.cause, close.side, close.price, close.ts) == (cause, closed, 45000.5, 1708587373361)
    assert close.size == pytest.approx(0.3)  # 30 contracts of 0.01 BTC
    assert (close.venue, close.symbol, close.account) == ("okx", "BTC-USDT-SWAP", "main")
    assert close.detail.startswith(f"fills subType {sub_type} (")


def test_okx_the_users_own_fills_are_no_forced_close():
    rows = [fill(code) for code in ("1", "2", "3", "4", "5", "6", "112", "113", "110", "111")]
    assert okx.forced_closes([(READ_BTC, body(*rows))], okx_context()) == []


def test_okx_inverse_forced_close_counts_contracts_and_unknown_ct_val_is_skipped():
    read = Read(okx.FILLS, (("instType", "SWAP"), ("instId", "BTC-USD-SWAP")))
    (close,) = okx.forced_closes([(read, body(fill("128", inst="BTC-USD-SWAP", sz="7")))], okx_context())
    assert close.size == 7.0  # adlwatch counts inverse swaps in contracts
    unknown = Read(okx.FILLS, (("instType", "SWAP"), ("instId", "IOST-USDT-SWAP")))
    assert okx.forced_closes([(unknown, body(fill("107", inst="IOST-USDT-SWAP")))], okx_context()) == []


def test_okx_a_body_that_is_not_the_answer_is_a_body_error():
    for text in ("nope", json.dumps({"code": "50011", "msg": "Too Many Requests", "data": []}), '{"code":"0"}'):
        with pytest.raises(BodyError):
            okx.forced_closes([(READ_BTC, text)], okx_context())


def test_okx_record_reads_ask_each_contract_once_from_a_little_before_it_shrank():
    reads = okx.record_reads([("BTC-USDT-SWAP", "long", 1_000_000), ("ETH-USDT-SWAP", "short", 2_000_000),
                              ("BTC-USDT-SWAP", "short", 900_000)])
    assert [dict(r.params) for r in reads] == [
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "begin": "895000", "limit": "100"},
        {"instType": "SWAP", "instId": "ETH-USDT-SWAP", "begin": "1995000", "limit": "100"}]
    assert all(r.path in okx.READ_PATHS and r.path == "/api/v5/trade/fills" for r in reads)


_ROW_KEYS = ["subType", "fillPx", "fillSz", "posSide", "side", "instId", "fillTime", "ts"]


@settings(max_examples=300, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(_ROW_KEYS),
                               st.one_of(st.text(max_size=12), st.floats(), st.integers(), st.none(),
                                         st.booleans(), st.lists(st.integers(), max_size=2)), max_size=4),
       sub_type=st.sampled_from(["107", "128", "104", "5"]))
def test_okx_forced_closes_never_raise_on_bad_rows_nor_emit_bad_numbers(changes, sub_type):
    row = {**fill(sub_type), **changes}
    for close in okx.forced_closes([(READ_BTC, body(row, "not an object", 3))], okx_context()):
        assert close.cause in ("liquidation", "adl") and close.side in ("long", "short")
        assert math.isfinite(close.price) and close.price > 0 and math.isfinite(close.size) and close.size > 0


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))))
def test_okx_forced_closes_of_any_body_give_closes_or_a_body_error(text):
    try:
        out = okx.forced_closes([(READ_BTC, text)], okx_context())
    except BodyError:
        return
    assert all(isinstance(c, ForcedClose) for c in out)


def test_okx_emulator_serves_fills_filtered_like_the_venue():
    account = okx_account()
    now = 1_800_000_000_000
    account.close("BTC-USDT-SWAP", "liquidation", 45_000.0, now_ms=now - 60_000)
    account.close("ETH-USDT-SWAP", "adl", 3_300.0, size=0.5, now_ms=now - 1_000)
    rows = private_body_of(account, okx.FILLS, {"instType": "SWAP"}, now)["data"]
    assert [(r["instId"], r["subType"], r["fillSz"], r["posSide"]) for r in rows] == [
        ("ETH-USDT-SWAP", "126", "5", "short"), ("BTC-USDT-SWAP", "107", "50", "net")]  # newest first
    assert [r["instId"] for r in private_body_of(account, okx.FILLS, {"instId": "BTC-USDT-SWAP"}, now)["data"]] \
        == ["BTC-USDT-SWAP"]
    assert private_body_of(account, okx.FILLS, {"begin": str(now - 2_000)}, now)["data"][0]["instId"] \
        == "ETH-USDT-SWAP"
    assert len(private_body_of(account, okx.FILLS, {"limit": "1"}, now)["data"]) == 1


async def test_okx_follower_alerts_a_liquidation_and_an_adl_never_the_users_own_close(private):
    """The acceptance test: three positions; one liquidated, one partly ADL'd, one closed by the user:
    exactly two ``ForcedClose`` events, with cause, price, size and what is left."""
    held = private.account("okx")
    held.positions = [
        EmuPosition("BTC-USDT-SWAP", "long", 0.5, 60_000.0, 46_000.0, 10.0, liquidation_price=45_100.0),
        EmuPosition("ETH-USDT-SWAP", "short", 2.0, 3_200.0, 3_300.0, 5.0, hedge=True),
        EmuPosition("SOL-USDT-SWAP", "long", 10.0, 150.0, 155.0, 3.0),
    ]
    async with private.run(private.follower("okx")) as run:
        await run.wait_for(lambda e: isinstance(e, AccountState))
        held.close("BTC-USDT-SWAP", "liquidation", 45_050.5)
        held.close("ETH-USDT-SWAP", "adl", 3_310.0, size=0.5)
        held.close("SOL-USDT-SWAP", "user", 155.5)
        liquidated, adl = sorted(await run.wait_for(lambda e: isinstance(e, ForcedClose), count=2),
                                 key=lambda c: c.cause != "liquidation")
        assert (liquidated.symbol, liquidated.side, liquidated.cause) == ("BTC-USDT-SWAP", "long", "liquidation")
        assert liquidated.price == 45_050.5 and liquidated.size == pytest.approx(0.5)
        assert liquidated.remaining == 0.0 and liquidated.account == "main"
        assert (adl.symbol, adl.side, adl.cause, adl.price) == ("ETH-USDT-SWAP", "short", "adl", 3_310.0)
        assert adl.size == pytest.approx(0.5) and adl.remaining == pytest.approx(1.5)
        assert adl.ts is not None and abs(adl.ts - time.time() * 1000) < 60_000
        # The SOL close stays pending and its fills are read every round; a later ADL of the rest of
        # ETH is the marker that rounds went by: still no close of SOL.
        held.close("ETH-USDT-SWAP", "adl", 3_320.0, size=1.5)
        closes = await run.wait_for(lambda e: isinstance(e, ForcedClose), count=3)
    assert sorted(c.symbol for c in closes) == ["BTC-USDT-SWAP", "ETH-USDT-SWAP", "ETH-USDT-SWAP"]
    assert closes[2].remaining == 0.0 and closes[2].price == 3_320.0
    assert len([e for e in run.events if isinstance(e, ForcedClose)]) == 3
    sol_reads = [r for r in private.endpoints.private("okx") if r.path == okx.FILLS and "SOL-USDT-SWAP" in r.query]
    assert sol_reads and all(r.status == 200 for r in sol_reads)


async def test_okx_forced_close_reaches_the_monitor_through_the_live_source(private):
    """The monitor's path: the follower's ``ForcedClose`` comes out of ``LiveSource`` beside its state."""
    held = private.account("okx")
    emu = private.emu
    source = LiveSource({}, ws_urls={"okx": emu.ws_url("okx")}, rest_urls={"okx": emu.rest_url("okx")},
                        client_options=FEED_FAST, followers=[private.follower("okx")])
    closed: list[object] = []

    def wanted(event) -> bool:
        if isinstance(event, AccountState) and not closed:
            closed.append(held.close("BTC-USDT-SWAP", "adl", 62_500.0, size=0.2))
        return isinstance(event, ForcedClose)

    seen = await run_until(source, wanted)
    (close,) = [e for e in seen if isinstance(e, ForcedClose)]
    assert (close.symbol, close.cause, close.side, close.price) == ("BTC-USDT-SWAP", "adl", "long", 62_500.0)
    assert close.size == pytest.approx(0.2) and close.remaining == pytest.approx(0.3)
