"""Hyperliquid adapter: activeAssetCtx, fastAssetCtxs (test vector H3), info bodies.

Sources: Hyperliquid GitBook (dzmbs/hyperliquid-docs sync) ``for-developers/api/websocket/subscriptions``
(fastAssetCtxs decode vector, subscriptionResponse), ``…/websocket/timeouts-and-heartbeats``,
``for-developers/api/info-endpoint`` (metaAndAssetCtxs, vaultDetails); the activeAssetCtx frame is the
third-party verbatim capture quoted in research/exchanges.md §4.4.
"""

from __future__ import annotations

import base64
import json
import zlib

from adlwatch.engine.events import FeedStatus, FundingRate, IndexPrice, InsuranceFund, MarkPrice, OpenInterest
from adlwatch.feeds.venues.hyperliquid import market as hyperliquid
from adlwatch.feeds.venues.hyperliquid.market import (
    ADAPTER,
    HLP_VAULT_ADDRESS,
    INSURANCE_PROXY_LABEL,
    decode_fast_asset_ctxs,
)

H3_PAYLOAD = "q1ZyCnFWsqpWyk0syg6oULJSsjQ3NTDQM1Wq1VFyDfFAkTI2MzXQMwJLVVRWWfmFuTiiyBuamOoZKdXWAgA="
CTX_FRAME = ('{"channel":"activeAssetCtx","data":{"coin":"xyz:AAPL","ctx":{"funding":"0.0000074304",'
             '"openInterest":"221413.164","prevDayPx":"337.34","dayNtlVlm":"172946726.7845301032",'
             '"premium":"0.0002355392","oraclePx":"312.05","markPx":"312.12","midPx":"312.12",'
             '"impactPxs":["312.094","312.153"],"dayBaseVlm":"534571.812"}}}')


def H(cls, **kw):
    kw.setdefault("venue", "hyperliquid")
    kw.setdefault("ts", None)
    return cls(**kw)


def deflate_b64(obj) -> str:
    raw = zlib.compressobj(wbits=-15)
    data = raw.compress(json.dumps(obj).encode()) + raw.flush()
    return base64.b64encode(data).decode()


def parse(frame, recv_ns=1):
    return ADAPTER.new_parser().parse(frame, recv_ns)


def test_active_asset_ctx_gives_mark_oracle_funding_and_oi_with_usd():
    assert parse(CTX_FRAME, 3) == [
        H(MarkPrice, symbol="xyz:AAPL", recv_ns=3, price=312.12),
        H(IndexPrice, symbol="xyz:AAPL", recv_ns=3, price=312.05),
        H(FundingRate, symbol="xyz:AAPL", recv_ns=3, rate=0.0000074304, next_funding_ts=None),
        H(OpenInterest, symbol="xyz:AAPL", recv_ns=3, open_interest=221413.164,
          open_interest_usd=221413.164 * 312.12),
    ]


def test_h3_vector_decodes_to_the_documented_marks():
    # exchanges.md §7 H3: compare parsed values (the doc's printed text is missing a quote)
    assert decode_fast_asset_ctxs(H3_PAYLOAD) == {"BTC": {"markPx": "97500.5"}, "ETH": {"markPx": "3650.25"},
                                                  "xyz:NVDA": {"markPx": "145.2"}}
    frame = json.dumps({"channel": "fastAssetCtxs", "data": H3_PAYLOAD})
    assert parse(frame, 4) == [
        H(MarkPrice, symbol="BTC", recv_ns=4, price=97500.5),
        H(MarkPrice, symbol="ETH", recv_ns=4, price=3650.25),
        H(MarkPrice, symbol="xyz:NVDA", recv_ns=4, price=145.2),
    ]


def test_fast_asset_ctxs_tolerates_missing_padding():
    assert decode_fast_asset_ctxs(H3_PAYLOAD.rstrip("="))["BTC"] == {"markPx": "97500.5"}


def test_fast_asset_ctxs_delta_without_mark_gives_nothing_for_that_coin():
    frame = json.dumps({"channel": "fastAssetCtxs", "data": deflate_b64({"BTC": {"midPx": "97501"},
                                                                         "ETH": {"markPx": "3651"}})})
    assert parse(frame, 5) == [H(MarkPrice, symbol="ETH", recv_ns=5, price=3651.0)]


def test_fast_asset_ctxs_corrupt_payloads_give_one_error():
    for data in ("!!!notbase64", base64.b64encode(b"not deflate").decode(), H3_PAYLOAD[:-8],
                 deflate_b64([1, 2]), 42):
        events = parse(json.dumps({"channel": "fastAssetCtxs", "data": data}), 6)
        assert len(events) == 1 and events[0].state == "error" and events[0].recv_ns == 6, data


def test_fast_asset_ctxs_inflate_bomb_is_refused():
    bomb = zlib.compressobj(wbits=-15)
    data = bomb.compress(b'{"BTC":"' + b"0" * (20 * 1024 * 1024) + b'"}') + bomb.flush()
    events = parse(json.dumps({"channel": "fastAssetCtxs", "data": base64.b64encode(data).decode()}))
    assert len(events) == 1 and "size cap" in events[0].detail


def test_bad_mark_is_dropped_with_error_and_oi_has_no_usd():
    frame = json.dumps({"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {
        "markPx": "0", "oraclePx": "97000", "funding": "0.0001", "openInterest": "100"}}})
    events = parse(frame, 7)
    assert H(OpenInterest, symbol="BTC", recv_ns=7, open_interest=100.0, open_interest_usd=None) in events
    assert not any(isinstance(e, MarkPrice) for e in events)
    assert [e.state for e in events if isinstance(e, FeedStatus)] == ["error"]


def test_usd_open_interest_is_dropped_when_it_overflows():
    frame = json.dumps({"channel": "activeAssetCtx", "data": {"coin": "BTC", "ctx": {
        "markPx": "1e300", "openInterest": "1e300"}}})
    assert parse(frame, 2) == [H(MarkPrice, symbol="BTC", recv_ns=2, price=1e300),
                               H(OpenInterest, symbol="BTC", recv_ns=2, open_interest=1e300, open_interest_usd=None)]


def test_pong_and_subscription_response_yield_nothing():
    ack = '{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"activeAssetCtx","coin":"BTC"}}}'
    assert parse('{"channel":"pong"}') == [] and parse(ack) == []


def test_server_error_channel_is_an_error_status():
    (event,) = parse('{"channel":"error","data":"Invalid subscription"}', 8)
    assert event.state == "error" and "Invalid subscription" in event.detail


def test_a_well_formed_frame_of_a_channel_adlwatch_does_not_use_yields_nothing():
    # allMids (subscriptions page: {"type": "allMids"} -> data {"mids": {coin: mid}}), trades, l2Book
    for frame in ('{"channel":"allMids","data":{"mids":{"BTC":"97000.5","ETH":"3500.1","@1":"1.2"}}}',
                  '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"97000","sz":"0.1","time":1}]}',
                  '{"channel":"l2Book","data":{"coin":"BTC","levels":[[],[]],"time":1}}'):
        assert parse(frame, 9) == [], frame


def test_garbage_yields_one_error():
    for frame in ("", "pong", b"\xc3", "[]", '{"channel":"activeAssetCtx","data":{"coin":"BTC"}}', '{"x":1}'):
        events = parse(frame, 9)
        assert len(events) == 1 and events[0].state == "error" and events[0].recv_ns == 9, frame


def test_subscribe_messages_one_per_coin_and_heartbeat():
    assert [json.loads(m) for m in ADAPTER.subscribe_messages(["BTC", "ETH"])] == [
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "ETH"}}]
    assert [json.loads(m) for m in ADAPTER.subscribe_messages([])] == [
        {"method": "subscribe", "subscription": {"type": "fastAssetCtxs"}}]
    assert json.loads(ADAPTER.heartbeat.message) == {"method": "ping"} and ADAPTER.heartbeat.interval_s == 50.0
    assert json.loads(ADAPTER.unsubscribe_messages(["BTC"])[0])["method"] == "unsubscribe"


def test_rest_polls_are_info_posts():
    meta, vault = ADAPTER.rest_polls(["BTC"])
    assert (meta.method, meta.path, meta.json_body) == ("POST", "/info", {"type": "metaAndAssetCtxs"})
    assert vault.json_body == {"type": "vaultDetails", "vaultAddress": HLP_VAULT_ADDRESS}


def test_meta_and_asset_ctxs_gives_mark_oi_and_funding_per_coin():
    # info-endpoint/perpetuals.md "Retrieve perpetuals asset contexts", first-perp-dex example
    body = json.dumps([
        {"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
                      {"name": "ETH", "szDecimals": 4, "maxLeverage": 50},
                      {"name": "HPOS", "szDecimals": 0, "maxLeverage": 3, "onlyIsolated": True}],
         "marginTables": [[50, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 50}]}]],
         "collateralToken": 0},
        [{"dayNtlVlm": "1169046.29406", "funding": "0.0000125", "impactPxs": ["14.3047", "14.3444"],
          "markPx": "14.3161", "midPx": "14.314", "openInterest": "688.11", "oraclePx": "14.32",
          "premium": "0.00031774", "prevDayPx": "15.322"},
         {"dayNtlVlm": "1426126.295175", "funding": "0.0000125", "impactPxs": ["6.0386", "6.0562"],
          "markPx": "6.0436", "midPx": "6.0431", "openInterest": "1882.55", "oraclePx": "6.0457",
          "premium": "0.00028119", "prevDayPx": "6.3611"},
         {"dayNtlVlm": "809774.565507", "funding": "0.0000125", "impactPxs": ["8.4505", "8.4722"],
          "markPx": "8.4542", "midPx": "8.4557", "openInterest": "2912.05", "oraclePx": "8.4585",
          "premium": "0.00033694", "prevDayPx": "8.8097"}]])
    every_coin = ADAPTER.mark_price_poll()
    assert ADAPTER.parse_rest(every_coin, body, 10) == [
        H(MarkPrice, symbol="BTC", recv_ns=10, price=14.3161),
        H(OpenInterest, symbol="BTC", recv_ns=10, open_interest=688.11, open_interest_usd=688.11 * 14.3161),
        H(FundingRate, symbol="BTC", recv_ns=10, rate=0.0000125, next_funding_ts=None),
        H(MarkPrice, symbol="ETH", recv_ns=10, price=6.0436),
        H(OpenInterest, symbol="ETH", recv_ns=10, open_interest=1882.55, open_interest_usd=1882.55 * 6.0436),
        H(FundingRate, symbol="ETH", recv_ns=10, rate=0.0000125, next_funding_ts=None),
        H(MarkPrice, symbol="HPOS", recv_ns=10, price=8.4542),
        H(OpenInterest, symbol="HPOS", recv_ns=10, open_interest=2912.05, open_interest_usd=2912.05 * 8.4542),
        H(FundingRate, symbol="HPOS", recv_ns=10, rate=0.0000125, next_funding_ts=None),
    ]
    # the poll made for some coins keeps only theirs; an explicit symbols= overrides
    meta_for_eth = ADAPTER.rest_polls(["ETH"])[0]
    assert [e.symbol for e in ADAPTER.parse_rest(meta_for_eth, body, 10)] == ["ETH", "ETH", "ETH"]
    assert [e.symbol for e in ADAPTER.parse_rest(every_coin, body, 10, symbols=["HPOS"])] == ["HPOS", "HPOS", "HPOS"]


def test_vault_details_official_example_gives_the_insurance_proxy():
    # info-endpoint.md "Retrieve details for a vault" example (trimmed of followers)
    body = json.dumps({
        "name": "Test", "vaultAddress": HLP_VAULT_ADDRESS, "leader": "0x677d831aef5328190852e24f13c46cac05f984e7",
        "portfolio": [["day", {"accountValueHistory": [[1734397526634, "329265410.90790099"]],
                               "pnlHistory": [[1734397526634, "0.0"]], "vlm": "0.0"}]],
        "apr": 0.36387129259090006, "followerState": None, "maxDistributable": 94856870.164485,
        "maxWithdrawable": 742557.680863, "isClosed": False,
        "relationship": {"type": "parent", "data": {"childAddresses": ["0x010461c14e146ac35fe42271bdc1134ee31c703a"]}},
        "allowDeposits": True, "alwaysCloseOnWithdraw": False})
    vault = ADAPTER.rest_polls([])[1]
    assert ADAPTER.parse_rest(vault, body, 11) == [InsuranceFund(
        venue="hyperliquid", symbol="*", ts=1734397526634, recv_ns=11, symbols=["*"], asset="USDC",
        balance=329265410.90790099)]
    # the proxy nature is stated where a reader looks: the module docstring and a named constant
    assert "PROXY" in hyperliquid.__doc__ and INSURANCE_PROXY_LABEL == "HLP vault account value"


def test_vault_details_uses_the_latest_point_across_windows():
    body = json.dumps({"portfolio": [
        ["day", {"accountValueHistory": [[1734397526634, "329265410.9"], [1734483926634, "329300000.5"]]}],
        ["week", {"accountValueHistory": [[1733880000000, "320000000"]]}],
        ["allTime", {"accountValueHistory": [[1734400000000, "329000000"]]}]]})
    (event,) = ADAPTER.parse_rest(ADAPTER.rest_polls([])[1], body, 1)
    assert (event.ts, event.balance) == (1734483926634, 329300000.5)


def test_info_bodies_of_the_wrong_shape_give_one_error():
    meta, vault = ADAPTER.rest_polls(["BTC"])
    for poll in (meta, vault):
        for body in ("{}", "[]", "oops", '{"portfolio":[["day",{"accountValueHistory":[]}]]}'):
            events = ADAPTER.parse_rest(poll, body, 12)
            assert len(events) == 1 and events[0].state == "error", (poll.json_body, body)


# --- the typed fast path gives exactly what the careful path gives ---------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _number_text(x: float) -> str:
    return repr(x)


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-6, 1e7), st.floats(1e-6, 1e7), st.floats(-1, 1), st.floats(0, 1e9), st.text(min_size=1, max_size=8))
def test_active_asset_ctx_fast_path_equals_the_careful_path(mark, oracle, funding, oi, coin):
    import json as _json

    from adlwatch.feeds.venues.hyperliquid import market as hyperliquid

    frame = _json.dumps({"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": {
        "funding": _number_text(funding), "openInterest": _number_text(oi), "prevDayPx": "1", "dayNtlVlm": "2",
        "oraclePx": _number_text(oracle), "markPx": _number_text(mark), "midPx": "3"}}})
    fast = hyperliquid._fast_ctx(frame, 7)
    doc = _json.loads(frame)
    careful = hyperliquid._ctx_events(coin, doc["data"]["ctx"], 7, hyperliquid.Problems(hyperliquid.VENUE))
    assert fast == careful
