"""OKX v5 adapter: channels, control events, REST bodies.

Push frames are OKX's own examples from https://www.okx.com/docs-v5/en/ as quoted in
research/exchanges.md §3.3–3.5 (mark-price channel, open-interest channel, subscribe ack, error
event); the 64008 notice is the example of the docs' "Notification" section. REST bodies follow the
documented field lists of "Get open interest", "Get security fund" and "Get mark price".
"""

from __future__ import annotations

import json

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
from adlwatch.feeds.venues.okx.market import (
    ADAPTER,
    INSURANCE_PATH,
    MARK_PRICE_PATH,
    OPEN_INTEREST_PATH,
    is_reconnect_notice,
)

NOTICE = ('{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. '
          'Please reconnect.","connId":"a4d3ae55"}')


def parse(frame, recv_ns: int = 1):
    return ADAPTER.new_parser().parse(frame, recv_ns)


def test_mark_price_push_official_example():
    frame = ('{"arg":{"channel":"mark-price","instId":"LTC-USD-190628"},"data":[{"instType":"FUTURES",'
             '"instId":"LTC-USD-190628","markPx":"0.1","ts":"1597026383085"}]}')
    assert parse(frame, 10) == [MarkPrice(venue="okx", symbol="LTC-USD-190628", ts=1597026383085, recv_ns=10,
                                          price=0.1)]


def test_open_interest_push_uses_coin_amount_and_no_usd():
    frame = ('{"arg":{"channel":"open-interest","instId":"LTC-USD-SWAP"},"data":[{"instType":"SWAP",'
             '"instId":"LTC-USD-SWAP","oi":"5000","oiCcy":"555.55","ts":"1597026383085"}]}')
    assert parse(frame, 11) == [OpenInterest(venue="okx", symbol="LTC-USD-SWAP", ts=1597026383085, recv_ns=11,
                                             open_interest=555.55, open_interest_usd=None)]


def test_adl_warning_push_gives_adl_alert_with_venue_fields():
    # adl-warning channel: pushed only in warning/adl state, with bal; other fields deprecated (empty)
    frame = json.dumps({"arg": {"channel": "adl-warning", "instType": "SWAP", "instFamily": "BTC-USDT"},
                        "data": [{"instType": "SWAP", "instFamily": "BTC-USDT", "state": "warning",
                                  "bal": "280784384.9564228289548144", "maxBal": "", "maxBalTs": "",
                                  "decRate": "", "adlType": "", "ts": "1651143070000"}]})
    assert parse(frame, 12) == [AdlAlert(
        venue="okx", symbol="BTC-USDT-SWAP", ts=1651143070000, recv_ns=12, state="warning",
        detail={"instType": "SWAP", "instFamily": "BTC-USDT", "state": "warning", "bal": 280784384.9564228289548144,
                "ts": "1651143070000"})]


def test_unknown_adl_state_is_an_error():
    frame = json.dumps({"arg": {"channel": "adl-warning", "instType": "SWAP", "instFamily": "BTC-USDT"},
                        "data": [{"instFamily": "BTC-USDT", "state": "panic", "bal": "1", "ts": "1"}]})
    (event,) = parse(frame)
    assert event.state == "error" and event.symbol == "BTC-USDT-SWAP"


def test_subscribe_ack_and_pong_yield_nothing():
    ack = '{"event":"subscribe","arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"connId":"a4d3ae55"}'
    assert parse(ack) == [] and parse("pong") == [] and parse(b"pong") == []


def test_error_event_carries_code_and_message():
    frame = '{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\"}","connId":"a4d3ae55"}'
    assert parse(frame, 3) == [FeedStatus(venue="okx", symbol="", ts=None, recv_ns=3, state="error",
                                          detail='60012: Invalid request: {"op": "subscribe"}')]


def test_service_upgrade_notice_is_a_disconnect_status_and_detected():
    (event,) = parse(NOTICE, 4)
    assert event.state == "disconnected" and event.recv_ns == 4
    assert "64008 service upgrade: reconnect" in event.detail
    assert is_reconnect_notice(NOTICE) and ADAPTER.is_reconnect_notice(NOTICE.encode())
    assert not ADAPTER.is_reconnect_notice('{"event":"subscribe","code":"64008"}')
    assert not ADAPTER.is_reconnect_notice("pong") and not ADAPTER.is_reconnect_notice(b"\xff")


def test_bad_mark_price_dropped_with_one_error_good_items_kept():
    frame = json.dumps({"arg": {"channel": "mark-price", "instId": "BTC-USDT-SWAP"}, "data": [
        {"instId": "BTC-USDT-SWAP", "markPx": "0", "ts": "1"},
        {"instId": "ETH-USDT-SWAP", "markPx": "3000.5", "ts": "2"},
        {"instId": "SOL-USDT-SWAP", "markPx": "-1", "ts": "3"}]})
    events = parse(frame, 5)
    assert events[0] == MarkPrice(venue="okx", symbol="ETH-USDT-SWAP", ts=2, recv_ns=5, price=3000.5)
    assert len(events) == 2 and events[1].state == "error" and "(+1 more)" in events[1].detail


def test_garbage_yields_one_error():
    for frame in ("", "ping?", b"\x80", "[1]", '{"arg":{"channel":"mark-price"}}', '{"data":[]}'):
        events = parse(frame, 6)
        assert len(events) == 1 and events[0].state == "error" and events[0].recv_ns == 6, frame


# The docs' examples of the funding-rate and index-tickers channels (field lists as documented:
# "#public-data-websocket-funding-rate-channel", "#public-data-websocket-index-tickers-channel").
FUNDING = ('{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"formulaType":"noRate",'
           '"fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"",'
           '"instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"","maxFundingRate":"0.00375",'
           '"method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"",'
           '"nextFundingTime":"1700755200000","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033",'
           '"settState":"settled","ts":"1700724675402"}]}')
INDEX = ('{"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","idxPx":"0.1",'
         '"high24h":"0.5","low24h":"0.1","open24h":"0.1","sodUtc0":"0.1","sodUtc8":"0.1","ts":"1597026383085"}]}')


def test_funding_rate_push_is_a_funding_rate_with_the_next_settlement():
    assert parse(FUNDING, 11) == [FundingRate(venue="okx", symbol="BTC-USD-SWAP", ts=1700724675402, recv_ns=11,
                                              rate=0.0001875391284828, next_funding_ts=1700726400000)]


def test_index_tickers_push_is_the_index_price_of_the_family_perpetual():
    assert parse(INDEX, 12) == [IndexPrice(venue="okx", symbol="BTC-USDT-SWAP", ts=1597026383085, recv_ns=12,
                                           price=0.1)]


def test_a_bad_funding_or_index_value_is_one_error_naming_the_contract():
    (event,) = parse(FUNDING.replace('"0.0001875391284828"', '"x"'), 13)
    assert event.state == "error" and event.symbol == "BTC-USD-SWAP"
    (event,) = parse(INDEX.replace('"idxPx":"0.1"', '"idxPx":"-1"'), 14)
    assert event.state == "error" and event.symbol == "BTC-USDT-SWAP"


def test_a_well_formed_push_of_a_channel_adlwatch_does_not_use_yields_nothing():
    for frame in ('{"arg":{"channel":"tickers","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
                  '"last":"9999.99"}]}',
                  '{"arg":{"channel":"price-limit","instId":"BTC-USDT-SWAP"},"data":[]}'):
        assert parse(frame) == [], frame
    # a push without a channel is malformed: one error
    (event,) = parse('{"arg":{"instId":"BTC-USDT-SWAP"},"data":[]}', 7)
    assert event.state == "error"


def test_subscribe_messages_cover_mark_oi_and_adl_warning():
    (message,) = ADAPTER.subscribe_messages(["BTC-USDT-SWAP", "ETH-USDT-SWAP"])
    assert json.loads(message) == {"op": "subscribe", "args": [
        {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
        {"channel": "open-interest", "instId": "BTC-USDT-SWAP"},
        {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"},
        {"channel": "mark-price", "instId": "ETH-USDT-SWAP"},
        {"channel": "open-interest", "instId": "ETH-USDT-SWAP"},
        {"channel": "funding-rate", "instId": "ETH-USDT-SWAP"},
        {"channel": "adl-warning", "instType": "SWAP", "instFamily": "BTC-USDT"},
        {"channel": "adl-warning", "instType": "SWAP", "instFamily": "ETH-USDT"},
        {"channel": "liquidation-orders", "instType": "SWAP"}]}
    assert json.loads(ADAPTER.unsubscribe_messages(["BTC-USDT-SWAP"])[0])["op"] == "unsubscribe"


def test_heartbeat_is_the_plain_string_ping_after_25_seconds():
    assert ADAPTER.heartbeat.message == "ping" and ADAPTER.heartbeat.interval_s == 25.0
    assert ADAPTER.connection_url(ADAPTER.ws_url, ["BTC-USDT-SWAP"]) == "wss://ws.okx.com:8443/ws/v5/public"


def test_rest_polls():
    polls = ADAPTER.rest_polls(["BTC-USDT-SWAP"])
    assert RestPoll(path=INSURANCE_PATH, params={"instType": "SWAP", "instFamily": "BTC-USDT"},
                    interval_s=300.0) in polls
    assert ADAPTER.mark_price_poll("BTC-USDT-SWAP") in polls
    assert any(p.path == OPEN_INTEREST_PATH and p.params["instId"] == "BTC-USDT-SWAP" for p in polls)


def test_rest_open_interest_carries_usd():
    body = json.dumps({"code": "0", "msg": "", "data": [{"instType": "SWAP", "instId": "BTC-USDT-SWAP",
                                                         "oi": "2660239.59", "oiCcy": "26602.3959",
                                                         "oiUsd": "2433776053.94", "ts": "1768889635328"}]})
    poll = RestPoll(path=OPEN_INTEREST_PATH, params={"instType": "SWAP", "instId": "BTC-USDT-SWAP"})
    assert ADAPTER.parse_rest(poll, body, 7) == [OpenInterest(
        venue="okx", symbol="BTC-USDT-SWAP", ts=1768889635328, recv_ns=7, open_interest=26602.3959,
        open_interest_usd=2433776053.94)]


def test_rest_security_fund_total_is_usd_for_the_family_swap():
    body = json.dumps({"code": "0", "msg": "", "data": [{
        "total": "1000000000.5", "instFamily": "BTC-USDT", "instType": "SWAP",
        "details": [{"balance": "999999999", "amt": "", "ccy": "USDT", "type": "regular_update",
                     "maxBal": "", "maxBalTs": "", "decRate": "", "adlType": "", "ts": "1731657600000"}]}]})
    poll = RestPoll(path=INSURANCE_PATH, params={"instType": "SWAP", "instFamily": "BTC-USDT"})
    assert ADAPTER.parse_rest(poll, body, 8) == [InsuranceFund(
        venue="okx", symbol="BTC-USDT-SWAP", ts=1731657600000, recv_ns=8, symbols=["BTC-USDT-SWAP"],
        asset="USD", balance=1000000000.5)]


def test_rest_mark_price():
    body = '{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"91234.5","ts":"1732500000000"}]}'
    assert ADAPTER.parse_rest(ADAPTER.mark_price_poll("BTC-USDT-SWAP"), body, 9) == [
        MarkPrice(venue="okx", symbol="BTC-USDT-SWAP", ts=1732500000000, recv_ns=9, price=91234.5)]


def test_rest_error_code_becomes_error_status():
    body = '{"code":"51001","msg":"Instrument ID does not exist","data":[]}'
    poll = RestPoll(path=MARK_PRICE_PATH, params={"instType": "SWAP", "instId": "NOPE-SWAP"})
    assert ADAPTER.parse_rest(poll, body, 2) == [FeedStatus(
        venue="okx", symbol="NOPE-SWAP", ts=None, recv_ns=2, state="error",
        detail="/api/v5/public/mark-price: 51001: Instrument ID does not exist")]


# --- the typed fast path for mark-price pushes gives exactly what the careful path gives ---------------

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_texts = st.sampled_from(["", " 1", "1_000", "+5", "-0.5", "0", "00", "nan", "inf", "1e999", "0x10", "１２３", "²",
                          "91234.5", "1597026383085", "99999999999999999999"])
_values = st.one_of(_texts, st.floats(1e-8, 1e9).map(repr), st.integers(-2, 2**64).map(str), st.none(),
                    st.booleans(), st.integers(-5, 2**64), st.floats(allow_nan=False), st.just([]))


@st.composite
def mark_pushes(draw) -> str:
    items = []
    for _ in range(draw(st.integers(0, 3))):
        item = {"instType": "SWAP"}
        for key, values in (("instId", st.one_of(st.sampled_from(["BTC-USDT-SWAP", ""]), _values)),
                            ("markPx", _values), ("ts", _values)):
            if draw(st.integers(0, 5)):
                item[key] = draw(values)
        items.append(item)
    doc = {"arg": {"channel": draw(st.sampled_from(["mark-price", "mark-price", "open-interest", "tickers"])),
                   "instId": "BTC-USDT-SWAP"},
           "data": items if draw(st.integers(0, 6)) else draw(_values)}
    if not draw(st.integers(0, 5)):
        doc["event"] = draw(st.sampled_from([None, "subscribe", "error", "notice"]))
    if not draw(st.integers(0, 8)):
        doc["arg"] = draw(_values)
    return json.dumps(doc)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=mark_pushes(), as_bytes=st.booleans())
def test_mark_price_fast_path_emits_exactly_as_the_careful_path(frame, as_bytes):
    parser = ADAPTER.new_parser()
    wire = frame.encode() if as_bytes else frame
    try:
        careful = parser._careful(wire, 3)
    except Exception as exc:  # the careful path behind parse()'s guard, as parse() reports it
        careful = [FeedStatus(venue="okx", symbol="", ts=None, recv_ns=3, state="error",
                              detail=f"parser failure {type(exc).__name__}: {frame[:80]}{'…' if len(frame) > 80 else ''}")]
    assert parser.parse(wire, 3) == careful


def test_a_mark_price_push_takes_the_fast_path(monkeypatch):
    parser = ADAPTER.new_parser()
    monkeypatch.setattr(parser, "_careful", lambda *a: pytest.fail("careful path taken"))
    frame = ('{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instType":"SWAP",'
             '"instId":"BTC-USDT-SWAP","markPx":"91234.5","ts":"1597026383085"}]}')
    assert parser.parse(frame, 4) == [MarkPrice(venue="okx", symbol="BTC-USDT-SWAP", ts=1597026383085, recv_ns=4,
                                                price=91234.5)]


@settings(max_examples=300, deadline=None)
@given(frame=st.one_of(mark_pushes(), st.text(), st.builds(
    lambda code, escaped: json.dumps({"event": "notice", "code": code, "msg": "x"}).replace(
        '"64008"', '"\\u0036\\u0034008"' if escaped else '"64008"'),
    st.sampled_from(["64008", 64008, "64009", "1"]), st.booleans())))
def test_reconnect_notice_check_agrees_with_decoding_every_frame(frame):
    try:
        doc = json.loads(frame)
    except ValueError:
        doc = None
    expected = isinstance(doc, dict) and doc.get("event") == "notice" and str(doc.get("code")) == "64008"
    assert is_reconnect_notice(frame) is expected
    assert is_reconnect_notice(frame.encode()) is expected
