"""Bybit v5 adapter: ticker snapshot/delta merge, insurance, ADL alert, REST bodies.

Frames are the official examples in the docs repo ``bybit-exchange/docs`` (quoted in
research/exchanges.md §2.1, §2.3–2.5): ``docs/v5/websocket/public/ticker.mdx``,
``…/insurance-pool.mdx``, ``…/adl-alert.mdx``, ``docs/v5/market/{adl-alert,tickers,insurance}.mdx``,
``docs/v5/websocket/wss-authentication.mdx`` (acks and pongs).
"""

from __future__ import annotations

import json

import pytest

from adlwatch.engine.events import (
    AdlAlert,
    FeedStatus,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    MarkPrice,
    OpenInterest,
)
from adlwatch.feeds.venue import RestPoll
from adlwatch.feeds.venues.bybit.market import (
    ADAPTER,
    ADL_ALERT_PATH,
    INSURANCE_PATH,
    TICKERS_PATH,
    adl_state,
)

TS = 1760325052630
# ticker.mdx linear example (as quoted in exchanges.md §2.5)
SNAPSHOT = {"topic": "tickers.BTCUSDT", "type": "snapshot", "data": {
    "symbol": "BTCUSDT", "tickDirection": "MinusTick", "lastPrice": "66666.60", "markPrice": "66666.60",
    "indexPrice": "115418.19", "openInterest": "492373.72", "openInterestValue": "32824881841.75",
    "fundingIntervalHour": "8", "fundingCap": "0.005", "nextFundingTime": "1760342400000", "fundingRate": "-0.005",
    "bid1Price": "66666.60", "ask1Price": "66666.70"}, "cs": 9532239429, "ts": TS}


def B(cls, **kw):
    kw.setdefault("venue", "bybit")
    kw.setdefault("symbol", "BTCUSDT")
    return cls(**kw)


def test_ticker_snapshot_gives_mark_index_funding_and_open_interest():
    events = ADAPTER.new_parser().parse(json.dumps(SNAPSHOT), 5)
    assert events == [
        B(MarkPrice, ts=TS, recv_ns=5, price=66666.6),
        B(IndexPrice, ts=TS, recv_ns=5, price=115418.19),
        B(FundingRate, ts=TS, recv_ns=5, rate=-0.005, next_funding_ts=1760342400000),
        B(OpenInterest, ts=TS, recv_ns=5, open_interest=492373.72, open_interest_usd=32824881841.75),
    ]


def test_delta_without_mark_price_emits_no_mark_price():
    parser = ADAPTER.new_parser()
    parser.parse(json.dumps(SNAPSHOT), 1)
    delta = {"topic": "tickers.BTCUSDT", "type": "delta", "data": {"symbol": "BTCUSDT", "bid1Price": "66666.50"},
             "cs": 1, "ts": TS + 100}
    assert parser.parse(json.dumps(delta), 2) == []


def test_delta_with_only_open_interest_emits_only_open_interest_merged_with_snapshot():
    parser = ADAPTER.new_parser()
    parser.parse(json.dumps(SNAPSHOT), 1)
    delta = {"topic": "tickers.BTCUSDT", "type": "delta",
             "data": {"symbol": "BTCUSDT", "openInterest": "500000"}, "cs": 2, "ts": TS + 100}
    # the USD value did not change, so it is the snapshot's
    assert parser.parse(json.dumps(delta), 2) == [
        B(OpenInterest, ts=TS + 100, recv_ns=2, open_interest=500000.0, open_interest_usd=32824881841.75)]


def test_delta_mark_price_uses_new_value_and_keeps_snapshot_for_the_rest():
    parser = ADAPTER.new_parser()
    parser.parse(json.dumps(SNAPSHOT), 1)
    delta = {"topic": "tickers.BTCUSDT", "type": "delta",
             "data": {"symbol": "BTCUSDT", "markPrice": "66000.5", "fundingRate": "0.0001"}, "ts": TS + 200}
    assert parser.parse(json.dumps(delta), 3) == [
        B(MarkPrice, ts=TS + 200, recv_ns=3, price=66000.5),
        B(FundingRate, ts=TS + 200, recv_ns=3, rate=0.0001, next_funding_ts=1760342400000),
    ]
    assert parser.tickers["BTCUSDT"]["indexPrice"] == "115418.19"


def test_single_side_open_interest_is_preferred():
    frame = json.loads(json.dumps(SNAPSHOT))
    frame["data"].update(singleOpenInterest="246186.86", singleOpenInterestValue="16412440920.875")
    events = ADAPTER.new_parser().parse(json.dumps(frame), 1)
    (oi,) = [e for e in events if isinstance(e, OpenInterest)]
    assert oi == B(OpenInterest, ts=TS, recv_ns=1, open_interest=246186.86, open_interest_usd=16412440920.875)


def test_delta_of_single_side_open_interest_after_snapshot_with_it():
    parser = ADAPTER.new_parser()
    frame = json.loads(json.dumps(SNAPSHOT))
    frame["data"].update(singleOpenInterest="246186.86", singleOpenInterestValue="16412440920.875")
    parser.parse(json.dumps(frame), 1)
    delta = {"topic": "tickers.BTCUSDT", "type": "delta",
             "data": {"symbol": "BTCUSDT", "openInterest": "492400", "singleOpenInterest": "246200"}, "ts": TS + 1}
    assert parser.parse(json.dumps(delta), 2) == [
        B(OpenInterest, ts=TS + 1, recv_ns=2, open_interest=246200.0, open_interest_usd=16412440920.875)]


def test_snapshot_replaces_old_state():
    parser = ADAPTER.new_parser()
    parser.parse(json.dumps(SNAPSHOT), 1)
    fresh = {"topic": "tickers.BTCUSDT", "type": "snapshot",
             "data": {"symbol": "BTCUSDT", "markPrice": "1.5"}, "ts": TS}
    assert parser.parse(json.dumps(fresh), 2) == [B(MarkPrice, ts=TS, recv_ns=2, price=1.5)]
    assert parser.tickers["BTCUSDT"] == {"symbol": "BTCUSDT", "markPrice": "1.5"}


def test_parsers_do_not_share_ticker_state():
    first = ADAPTER.new_parser()
    first.parse(json.dumps(SNAPSHOT), 1)
    assert ADAPTER.new_parser().tickers == {}


def test_bad_mark_price_in_delta_is_dropped_with_one_error():
    parser = ADAPTER.new_parser()
    parser.parse(json.dumps(SNAPSHOT), 1)
    delta = {"topic": "tickers.BTCUSDT", "type": "delta",
             "data": {"symbol": "BTCUSDT", "markPrice": "-3", "indexPrice": "NaN"}, "ts": TS}
    events = parser.parse(json.dumps(delta), 2)
    assert len(events) == 1 and isinstance(events[0], FeedStatus) and events[0].state == "error"
    assert events[0].symbol == "BTCUSDT"


def test_inverse_ticker_open_interest_is_converted_to_coin():
    # tickers.mdx inverse REST example: openInterest is USD contracts, openInterestValue is BTC
    body = json.dumps({"retCode": 0, "retMsg": "OK", "result": {"category": "inverse", "list": [{
        "symbol": "BTCUSD", "lastPrice": "16597.00", "indexPrice": "16598.54", "markPrice": "16596.00",
        "openInterest": "373504107", "openInterestValue": "22505.67", "fundingRate": "-0.001034",
        "nextFundingTime": "1672387200000", "predictedDeliveryPrice": "", "deliveryTime": "0"}]},
        "retExtInfo": {}, "time": 1672376496682})
    poll = ADAPTER.mark_price_poll("BTCUSD")
    assert poll.params == {"category": "inverse", "symbol": "BTCUSD"}
    ts = 1672376496682
    assert ADAPTER.parse_rest(poll, body, 4) == [
        B(MarkPrice, symbol="BTCUSD", ts=ts, recv_ns=4, price=16596.0),
        B(IndexPrice, symbol="BTCUSD", ts=ts, recv_ns=4, price=16598.54),
        B(FundingRate, symbol="BTCUSD", ts=ts, recv_ns=4, rate=-0.001034, next_funding_ts=1672387200000),
        B(OpenInterest, symbol="BTCUSD", ts=ts, recv_ns=4, open_interest=22505.67, open_interest_usd=373504107.0),
    ]


def test_insurance_push_splits_symbols():
    # insurance-pool.mdx example (two of its four pools)
    frame = {"topic": "insurance.USDT", "type": "delta", "ts": 1747722930000, "data": [
        {"coin": "USDT", "symbols": "GRIFFAINUSDT", "balance": "25614.92972633", "updateTime": "1747722930000"},
        {"coin": "USDT", "symbols": "CGPTUSDT,XTERUSDT", "balance": "100000.27064825", "updateTime": "1747722930000"}]}
    assert ADAPTER.new_parser().parse(json.dumps(frame), 6) == [
        B(InsuranceFund, symbol="GRIFFAINUSDT", ts=1747722930000, recv_ns=6, symbols=["GRIFFAINUSDT"],
          asset="USDT", balance=25614.92972633),
        B(InsuranceFund, symbol="CGPTUSDT", ts=1747722930000, recv_ns=6, symbols=["CGPTUSDT", "XTERUSDT"],
          asset="USDT", balance=100000.27064825),
    ]


ADL_FRAME = {"topic": "adlAlert.USDT", "type": "snapshot", "ts": 1757736794000, "data": [
    {"c": "USDT", "s": "FWOGUSDT", "b": -5421.29889888, "mb": -5421.29889888, "i_pr": -0.3, "pr": 0,
     "adl_tt": 10000, "adl_sr": -0.25},
    {"c": "USDT", "s": "ZORAUSDT", "b": 19873.46255153, "mb": 19874.97612833, "i_pr": -0.3, "pr": 0.000174,
     "adl_tt": 10000, "adl_sr": -0.25},
    {"c": "USDT", "s": "BERAUSDT", "b": 453.36427074, "mb": 453.36427074, "i_pr": -0.3, "pr": 0.24576,
     "adl_tt": 10000, "adl_sr": -0.25}]}


def test_adl_alert_push_official_example():
    # adl-alert.mdx (websocket) example: numbers, not strings
    ts = 1757736794000
    detail = [{"c": "USDT", "s": "FWOGUSDT", "b": -5421.29889888, "mb": -5421.29889888, "i_pr": -0.3, "pr": 0.0,
               "adl_tt": 10000.0, "adl_sr": -0.25},
              {"c": "USDT", "s": "ZORAUSDT", "b": 19873.46255153, "mb": 19874.97612833, "i_pr": -0.3,
               "pr": 0.000174, "adl_tt": 10000.0, "adl_sr": -0.25},
              {"c": "USDT", "s": "BERAUSDT", "b": 453.36427074, "mb": 453.36427074, "i_pr": -0.3, "pr": 0.24576,
               "adl_tt": 10000.0, "adl_sr": -0.25}]
    assert ADAPTER.new_parser().parse(json.dumps(ADL_FRAME), 7) == [
        B(AdlAlert, symbol="FWOGUSDT", ts=ts, recv_ns=7, state="adl", detail=detail[0]),  # pool balance ≤ 0
        B(AdlAlert, symbol="ZORAUSDT", ts=ts, recv_ns=7, state="normal", detail=detail[1]),
        B(AdlAlert, symbol="BERAUSDT", ts=ts, recv_ns=7, state="normal", detail=detail[2]),
    ]


def test_adl_alert_accepts_string_numbers():
    item = {k: str(v) for k, v in ADL_FRAME["data"][0].items()}
    frame = dict(ADL_FRAME, data=[item])
    (event,) = ADAPTER.new_parser().parse(json.dumps(frame), 1)
    assert isinstance(event, AdlAlert) and event.state == "adl" and event.detail["b"] == -5421.29889888


def test_deprecated_empty_max_balance_is_kept_as_given():
    item = dict(ADL_FRAME["data"][1], mb="")
    (event,) = ADAPTER.new_parser().parse(json.dumps(dict(ADL_FRAME, data=[item])), 1)
    assert event.detail["mb"] == "" and event.state == "normal"


@pytest.mark.parametrize(("balance", "pnl_ratio", "threshold", "expected"), [
    (1_000_000, -0.35, 1, "adl"),          # Y9: drawdown past the −0.3 trigger, pool above threshold
    (2_000_000, -0.30, 1, "adl"),          # Y10: equality triggers (doc example 2)
    (0, 0.0, 1, "adl"),                    # Y11: pool balance ≤ 0
    (1_000_000, -0.27, 1, "warning"),      # within our 0.05 band of the trigger (ours, not Bybit's)
    (1_000_000, -0.20, 1, "normal"),
    (5_000, -0.50, 10_000, "warning"),     # drawdown past the trigger, pool not above adlTriggerThreshold
])
def test_adl_state_follows_documented_trigger(balance, pnl_ratio, threshold, expected):
    # bybit-exchange/docs docs/v5/market/adl-alert.mdx, research/exchanges.md test vectors Y9–Y11
    assert adl_state(balance, pnl_ratio, -0.3, threshold) == expected


def test_adl_alert_rest_official_example():
    # docs/v5/market/adl-alert.mdx response example
    body = json.dumps({"retCode": 0, "retMsg": "OK", "result": {"updatedTime": "1757733960000", "list": [{
        "coin": "USDT", "symbol": "BTCUSDT", "balance": "92203504694.99632", "maxBalance": "92231510324.75948",
        "insurancePnlRatio": "-0.3", "pnlRatio": "-0.560973", "adlTriggerThreshold": "10000",
        "adlStopRatio": "-0.25"}]}, "retExtInfo": {}, "time": 1757734022014})
    poll = RestPoll(path=ADL_ALERT_PATH, params={"symbol": "BTCUSDT"})
    assert ADAPTER.parse_rest(poll, body, 8) == [B(AdlAlert, ts=1757733960000, recv_ns=8, state="adl", detail={
        "coin": "USDT", "symbol": "BTCUSDT", "balance": 92203504694.99632, "maxBalance": 92231510324.75948,
        "insurancePnlRatio": -0.3, "pnlRatio": -0.560973, "adlTriggerThreshold": 10000.0, "adlStopRatio": -0.25})]


def test_insurance_rest_gives_pools_and_can_be_filtered():
    # docs/v5/market/insurance.mdx: list[] = {coin, symbols, balance, value}, result.updatedTime
    body = json.dumps({"retCode": 0, "retMsg": "OK", "result": {"updatedTime": "1714003200000", "list": [
        {"coin": "USDT", "symbols": "BTCUSDT,ETHUSDT,SOLUSDT", "balance": "611366014.65", "value": "611366014.65"},
        {"coin": "USDT", "symbols": "GRIFFAINUSDT", "balance": "25614.92", "value": "25614.92"}]},
        "retExtInfo": {}, "time": 1714003212000})
    poll = RestPoll(path=INSURANCE_PATH, params={"coin": "USDT"})
    shared = B(InsuranceFund, ts=1714003200000, recv_ns=9, symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"],
               asset="USDT", balance=611366014.65)
    assert ADAPTER.parse_rest(poll, body, 9)[0] == shared
    assert len(ADAPTER.parse_rest(poll, body, 9)) == 2
    assert ADAPTER.parse_rest(poll, body, 9, symbols=["ETHUSDT"]) == [shared]
    # the adapter's own poll remembers which symbols it serves and keeps only their pools
    (own_poll,) = [p for p in ADAPTER.rest_polls(["SOLUSDT"]) if p.path == INSURANCE_PATH]
    assert own_poll.params == {"coin": "USDT"}
    assert ADAPTER.parse_rest(own_poll, body, 9) == [shared]


def test_rest_error_code_becomes_error_status():
    poll = RestPoll(path=TICKERS_PATH, params={"category": "linear", "symbol": "NOPE"})
    body = '{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"time":1}'
    assert ADAPTER.parse_rest(poll, body, 1) == [FeedStatus(
        venue="bybit", symbol="NOPE", ts=None, recv_ns=1, state="error",
        detail="/v5/market/tickers: 10001: params error: symbol invalid")]


def test_acks_and_pongs_yield_nothing():
    parser = ADAPTER.new_parser()
    ack = '{"success":true,"ret_msg":"","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"","op":"subscribe"}'
    pong = '{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}'
    spot_style_pong = '{"req_id":"ping","op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocsvfriu23r3er0"}'
    assert parser.parse(ack) == [] and parser.parse(pong) == [] and parser.parse(spot_style_pong) == []


def test_failed_subscription_ack_is_an_error():
    nack = '{"success":false,"ret_msg":"error:handler not found,topic:tickers.NOPE","conn_id":"x","req_id":"","op":"subscribe"}'
    (event,) = ADAPTER.new_parser().parse(nack, 3)
    assert event.state == "error" and "tickers.NOPE" in event.detail


def test_subscribe_message_and_ping():
    (message,) = ADAPTER.subscribe_messages(["BTCUSDT"])
    sub = json.loads(message)
    assert sub["op"] == "subscribe" and isinstance(sub["req_id"], str)
    assert sub["args"] == ["tickers.BTCUSDT", "allLiquidation.BTCUSDT", "insurance.USDT", "adlAlert.USDT"]
    assert json.loads(ADAPTER.heartbeat.message) == {"req_id": "ping", "op": "ping"}
    assert ADAPTER.heartbeat.interval_s == 20.0
    (unsub,) = ADAPTER.unsubscribe_messages(["BTCUSDT"])
    assert json.loads(unsub)["op"] == "unsubscribe"


def test_connection_url_picks_linear_or_inverse():
    assert ADAPTER.connection_url(ADAPTER.ws_url, ["BTCUSDT"]) == "wss://stream.bybit.com/v5/public/linear"
    assert ADAPTER.connection_url(ADAPTER.ws_url, ["BTCUSD"]) == "wss://stream.bybit.com/v5/public/inverse"
    assert ADAPTER.connection_url("ws://127.0.0.1:9000", ["ETHUSD"]) == "ws://127.0.0.1:9000/v5/public/inverse"
    assert ADAPTER.connection_groups(["BTCUSDT", "BTCUSD", "ETHUSDT"]) == [["BTCUSDT", "ETHUSDT"], ["BTCUSD"]]
    inverse_args = json.loads(ADAPTER.subscribe_messages(["BTCUSD"])[0])["args"]
    assert inverse_args == ["tickers.BTCUSD", "allLiquidation.BTCUSD", "insurance.inverse", "adlAlert.inverse"]


def test_rest_polls_cover_insurance_tickers_and_adl_alert():
    polls = ADAPTER.rest_polls(["BTCUSDT", "ETHUSDT"])
    (insurance,) = [p for p in polls if p.path == INSURANCE_PATH]
    assert (insurance.params, insurance.interval_s, insurance.symbols) == ({"coin": "USDT"}, 60.0,
                                                                           ("BTCUSDT", "ETHUSDT"))
    assert sum(p.path == INSURANCE_PATH for p in polls) == 1
    assert {p.params["symbol"] for p in polls if p.path == ADL_ALERT_PATH} == {"BTCUSDT", "ETHUSDT"}
    assert {p.params["category"] for p in polls if p.path == TICKERS_PATH} == {"linear"}
    # an inverse contract's pool is kept in its coin
    assert [p.params for p in ADAPTER.rest_polls(["BTCUSD"]) if p.path == INSURANCE_PATH] == [{"coin": "BTC"}]


def test_garbage_yields_one_error():
    parser = ADAPTER.new_parser()
    for frame in ("", "garbage", b"\x00\x01", "[]", '{"topic":"tickers.BTCUSDT","type":"delta"}', '{"foo":1}'):
        events = parser.parse(frame, 4)
        assert len(events) == 1 and events[0].state == "error" and events[0].recv_ns == 4, frame


# --- the typed fast path for ticker pushes gives exactly what the careful path gives -------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TICKER_FIELDS = ("markPrice", "indexPrice", "fundingRate", "nextFundingTime", "openInterest", "openInterestValue",
                  "singleOpenInterest", "singleOpenInterestValue", "lastPrice", "bid1Price")
# values as Bybit sends them, and the ways they go wrong (text and not)
_ticker_values = st.one_of(
    st.floats(1e-8, 1e9).map(repr), st.integers(0, 2**64).map(str),
    st.sampled_from(["", " 1", "1_000", "+5", "-0.5", "0", "nan", "inf", "1e999", "0x10", "１２３", "²", "66666.60"]),
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.just([]), st.just({}),
)
_symbols = st.sampled_from(["BTCUSDT", "ETHUSDT", "BTCUSD", ""])


@st.composite
def ticker_pushes(draw) -> str:
    """A tickers.* push, well-formed or not in any of the ways the fast path must hand back."""
    topic_symbol = draw(_symbols)
    data = {k: draw(_ticker_values) for k in draw(st.lists(st.sampled_from(_TICKER_FIELDS), unique=True))}
    symbol = draw(st.one_of(st.none(), _symbols, st.integers(0, 3)))
    if symbol is not None:
        data["symbol"] = symbol
    doc = {"topic": draw(st.sampled_from([f"tickers.{topic_symbol}", f"insurance.{topic_symbol}", "ticker.x"])),
           "type": draw(st.sampled_from(["snapshot", "delta", "delta", "update", None])),
           "data": draw(st.sampled_from([data, [data], "x"])) if draw(st.integers(0, 5)) == 0 else data,
           "cs": 1}
    ts = draw(st.one_of(st.integers(-3, 2**64), st.sampled_from([None, 1.0, "1760325052630", True, 1760325052630])))
    if ts is not None or draw(st.booleans()):
        doc["ts"] = ts
    return json.dumps(doc)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(ticker_pushes(), min_size=1, max_size=8), as_bytes=st.booleans())
def test_ticker_fast_path_merges_and_emits_exactly_as_the_careful_path(frames, as_bytes):
    fast, careful = ADAPTER.new_parser(), ADAPTER.new_parser()
    careful._fast_ticker = lambda frame, recv_ns: None  # the careful path alone
    for frame in frames:
        wire = frame.encode() if as_bytes else frame
        assert fast.parse(wire, 7) == careful.parse(wire, 7), frame
        assert fast.tickers == careful.tickers


def test_a_delta_takes_the_fast_path_and_merges_into_the_snapshot():
    parser = ADAPTER.new_parser()
    parser.parse(json.dumps(SNAPSHOT), 1)
    delta = json.dumps({"topic": "tickers.BTCUSDT", "type": "delta", "ts": TS + 1,
                        "data": {"symbol": "BTCUSDT", "markPrice": "66000.5", "lastPrice": "66000.0"}})
    parser._careful = lambda *a: pytest.fail("careful path taken")
    assert parser.parse(delta, 2) == [B(MarkPrice, ts=TS + 1, recv_ns=2, price=66000.5)]
    assert parser.tickers["BTCUSDT"]["markPrice"] == "66000.5"
    assert parser.tickers["BTCUSDT"]["indexPrice"] == "115418.19"
