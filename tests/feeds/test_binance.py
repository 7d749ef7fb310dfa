"""Binance USDⓈ-M adapter: wire details and parser, against the venue's own example frames.

Frames are the official examples quoted in research/exchanges.md §1.4–1.6 (developers.binance.com
.../websocket-market-streams/Mark-Price-Stream, .../market-data/rest-api/Open-Interest,
.../Insurance-Fund-Balance, .../Mark-Price).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import FeedStatus, FundingRate, IndexPrice, InsuranceFund, MarkPrice, OpenInterest
from adlwatch.feeds.venue import RestPoll
from adlwatch.feeds.venues.binance import market as binance
from adlwatch.feeds.venues.binance.market import ADAPTER, INSURANCE_PATH, MARK_PRICE_PATH, OPEN_INTEREST_PATH

# Mark-Price-Stream official payload
MARK = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
        "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000}
COMBINED = json.dumps({"stream": "btcusdt@markPrice@1s", "data": MARK})


def expected(recv_ns: int, symbol: str = "BTCUSDT") -> list:
    return [
        MarkPrice(venue="binance", symbol=symbol, ts=1562305380000, recv_ns=recv_ns, price=11794.15),
        IndexPrice(venue="binance", symbol=symbol, ts=1562305380000, recv_ns=recv_ns, price=11784.62659091),
        FundingRate(venue="binance", symbol=symbol, ts=1562305380000, recv_ns=recv_ns, rate=0.00038167,
                    next_funding_ts=1562306400000),
    ]


def parse(frame, recv_ns: int = 42):
    return ADAPTER.new_parser().parse(frame, recv_ns)


def test_combined_mark_frame_gives_mark_index_and_funding():
    assert parse(COMBINED) == expected(42)


def test_bytes_frame_parses_like_text():
    assert parse(COMBINED.encode(), 7) == expected(7)


def test_unwrapped_frame_from_the_raw_stream_route_parses():
    assert parse(json.dumps(MARK), 1) == expected(1)


def test_all_market_array_gives_three_events_per_symbol():
    eth = dict(MARK, s="ETHUSDT")
    frame = json.dumps({"stream": "!markPrice@arr@1s", "data": [MARK, eth]})
    assert parse(frame, 3) == expected(3) + expected(3, "ETHUSDT")
    assert parse(json.dumps([MARK, eth]), 3) == expected(3) + expected(3, "ETHUSDT")


def test_recv_ns_is_copied_into_every_event():
    assert {e.recv_ns for e in parse(COMBINED, 123456789)} == {123456789}


def test_bad_mark_price_is_dropped_and_reported_once():
    for bad in ("nan", "-1", "0", "inf", "", None, "abc", "1e999"):
        frame = json.dumps({"stream": "btcusdt@markPrice@1s", "data": dict(MARK, p=bad)})
        events = parse(frame, 5)
        assert not any(isinstance(e, MarkPrice) for e in events), bad
        errors = [e for e in events if isinstance(e, FeedStatus)]
        assert len(errors) == 1 and errors[0].state == "error" and errors[0].symbol == "BTCUSDT", bad
        # the good fields still come through
        assert [type(e) for e in events if not isinstance(e, FeedStatus)] == [IndexPrice, FundingRate], bad


def test_missing_mark_price_is_an_error_not_a_silent_drop():
    data = {k: v for k, v in MARK.items() if k != "p"}
    events = parse(json.dumps({"stream": "x", "data": data}))
    assert [e.state for e in events if isinstance(e, FeedStatus)] == ["error"]
    assert not any(isinstance(e, MarkPrice) for e in events)


def test_delivery_contract_with_empty_funding_rate_gives_no_funding_and_no_error():
    data = dict(MARK, s="BTCUSDT_250627", r="", T=0)
    events = parse(json.dumps({"stream": "btcusdt_250627@markPrice@1s", "data": data}), 9)
    assert events == [
        MarkPrice(venue="binance", symbol="BTCUSDT_250627", ts=1562305380000, recv_ns=9, price=11794.15),
        IndexPrice(venue="binance", symbol="BTCUSDT_250627", ts=1562305380000, recv_ns=9, price=11784.62659091),
    ]


def test_numbers_instead_of_strings_are_accepted():
    data = dict(MARK, p=11794.15, i=11784.62659091, r=0.00038167)
    assert parse(json.dumps({"stream": "s", "data": data}), 42) == expected(42)


def test_subscribe_reply_yields_nothing():
    assert parse('{"result":null,"id":1}') == []


def test_error_reply_yields_one_error_status():
    events = parse('{"code":2,"msg":"Invalid request: unknown variant"}', 4)
    assert events == [FeedStatus(venue="binance", symbol="", ts=None, recv_ns=4, state="error",
                                 detail="2: Invalid request: unknown variant")]


def test_garbage_and_truncated_frames_yield_one_error_status():
    for frame in ("not json", b"\xff\xfe", COMBINED[:-5], "", "[1,2", "null", "42", '{"stream":"x"}'):
        events = parse(frame, 8)
        assert len(events) == 1 and isinstance(events[0], FeedStatus) and events[0].state == "error", frame
        assert events[0].recv_ns == 8


def test_connection_url_uses_the_market_route_with_lowercase_streams():
    url = ADAPTER.connection_url(ADAPTER.ws_url, ["BTCUSDT", "ETHUSDT"])
    # issue 15: each contract's liquidation stream rides beside its mark stream
    assert url == ("wss://fstream.binance.com/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s"
                   "/btcusdt@forceOrder/ethusdt@forceOrder")
    assert ADAPTER.connection_url("ws://127.0.0.1:9000/", ["SOLUSDT"]) == \
        "ws://127.0.0.1:9000/market/stream?streams=solusdt@markPrice@1s/solusdt@forceOrder"
    assert ADAPTER.connection_url(ADAPTER.ws_url, []).endswith("streams=!markPrice@arr@1s")
    assert ADAPTER.subscribe_messages(["BTCUSDT"]) == []


def test_unsubscribe_message_names_the_streams():
    (message,) = ADAPTER.unsubscribe_messages(["BTCUSDT"])
    assert json.loads(message) == {"method": "UNSUBSCRIBE", "params": ["btcusdt@markPrice@1s", "btcusdt@forceOrder"],
                                   "id": 1}


def test_heartbeat_relies_on_server_pings_and_stale_after_four_seconds():
    assert ADAPTER.heartbeat.message is None
    assert ADAPTER.heartbeat.stale_after_s == 4.0
    assert ADAPTER.max_streams_per_connection == 200


def test_rest_polls_respect_weights():
    polls = {p.path: p for p in ADAPTER.rest_polls(["BTCUSDT"])}
    assert polls[OPEN_INTEREST_PATH] == RestPoll(path=OPEN_INTEREST_PATH, params={"symbol": "BTCUSDT"},
                                                 interval_s=10.0)
    assert polls[INSURANCE_PATH].interval_s == 300.0
    assert polls[MARK_PRICE_PATH].params == {"symbol": "BTCUSDT"}


def test_rest_open_interest_is_base_units_without_usd():
    body = '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'  # Open-Interest page
    poll = RestPoll(path=OPEN_INTEREST_PATH, params={"symbol": "BTCUSDT"})
    assert ADAPTER.parse_rest(poll, body, 11) == [
        OpenInterest(venue="binance", symbol="BTCUSDT", ts=1589437530011, recv_ns=11, open_interest=10659.509,
                     open_interest_usd=None)]


def test_rest_insurance_gives_one_event_per_asset_with_the_pool_symbols():
    # Insurance-Fund-Balance page, "with symbol" example (trimmed to two assets)
    body = json.dumps({"symbols": ["BNBUSDT", "BTCUSDT", "BTCUSDT_250627", "ETHUSDT"],
                       "assets": [{"asset": "USDC", "marginBalance": "299999998.6497832", "updateTime": 1745366402000},
                                  {"asset": "USDT", "marginBalance": "793930579.315848", "updateTime": 1745366402000}]})
    poll = RestPoll(path=INSURANCE_PATH, params={"symbol": "BTCUSDT"})
    symbols = ["BNBUSDT", "BTCUSDT", "BTCUSDT_250627", "ETHUSDT"]
    assert ADAPTER.parse_rest(poll, body, 12) == [
        InsuranceFund(venue="binance", symbol="BNBUSDT", ts=1745366402000, recv_ns=12, symbols=symbols,
                      asset="USDC", balance=299999998.6497832),
        InsuranceFund(venue="binance", symbol="BNBUSDT", ts=1745366402000, recv_ns=12, symbols=symbols,
                      asset="USDT", balance=793930579.315848),
    ]


def test_rest_insurance_list_form_covers_every_pool():
    body = json.dumps([{"symbols": ["ADAUSDT", "XRPUSDT"], "assets": [
        {"asset": "USDT", "marginBalance": "314151411.06482935", "updateTime": 1745366402000}]},
        {"symbols": ["OMUSDT"], "assets": [{"asset": "USDT", "marginBalance": "5166686.84431694",
                                            "updateTime": 1745366402000}]}])
    events = ADAPTER.parse_rest(RestPoll(path=INSURANCE_PATH), body, 1)
    assert [(e.symbols, e.balance) for e in events] == [(["ADAUSDT", "XRPUSDT"], 314151411.06482935),
                                                        (["OMUSDT"], 5166686.84431694)]


def test_rest_premium_index_gives_mark_index_and_funding():
    # Mark-Price (premiumIndex) page example
    body = json.dumps({"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
                       "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
                       "interestRate": "0.00010000", "nextFundingTime": 1597392000000, "time": 1597370495002})
    poll = ADAPTER.mark_price_poll("BTCUSDT")
    assert ADAPTER.parse_rest(poll, body, 2) == [
        MarkPrice(venue="binance", symbol="BTCUSDT", ts=1597370495002, recv_ns=2, price=11793.63104562),
        IndexPrice(venue="binance", symbol="BTCUSDT", ts=1597370495002, recv_ns=2, price=11781.8049597),
        FundingRate(venue="binance", symbol="BTCUSDT", ts=1597370495002, recv_ns=2, rate=0.00038246,
                    next_funding_ts=1597392000000),
    ]


def test_rest_error_body_becomes_error_status():
    poll = RestPoll(path=OPEN_INTEREST_PATH, params={"symbol": "NOPE"})
    (event,) = ADAPTER.parse_rest(poll, '{"code":-1121,"msg":"Invalid symbol."}', 3)
    assert event == FeedStatus(venue="binance", symbol="NOPE", ts=None, recv_ns=3, state="error",
                               detail="/fapi/v1/openInterest: -1121: Invalid symbol.")


def test_rest_negative_open_interest_is_rejected():
    poll = RestPoll(path=OPEN_INTEREST_PATH, params={"symbol": "BTCUSDT"})
    (event,) = ADAPTER.parse_rest(poll, '{"openInterest":"-1","symbol":"BTCUSDT","time":1}', 3)
    assert isinstance(event, FeedStatus) and event.state == "error"


# The typed fast path must agree with the field-by-field path on every valid frame.

_positive = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(mark=_positive, index=_positive, rate=st.floats(-0.05, 0.05), decimals=st.integers(0, 12),
       event_ms=st.integers(1, 2**53), funding_ms=st.integers(1, 2**53), wrapped=st.booleans())
def test_fast_path_agrees_with_the_careful_path(mark, index, rate, decimals, event_ms, funding_ms, wrapped):
    payload = dict(MARK, p=f"{mark:.{decimals}f}", i=repr(index), r=repr(rate), E=event_ms, T=funding_ms)
    frame = json.dumps({"stream": "btcusdt@markPrice@1s", "data": payload} if wrapped else payload)
    careful = binance._careful(frame, 5)
    assert parse(frame, 5) == careful
    if float(payload["p"]) > 0:
        assert [type(e) for e in careful] == [MarkPrice, IndexPrice, FundingRate]
