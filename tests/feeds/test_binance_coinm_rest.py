"""Binance COIN-M public REST on its own host: the polls of a COIN-M contract go to dapi
(``RestPoll.host`` "coinm"), the documented dapi bodies parse into marks, funding and open interest
(contracts at face value in USD, in coin at the mark), nothing asks fapi for a COIN-M contract, the
emulator serves the dapi endpoints, and a recording of them replays to the same events."""

from __future__ import annotations

import asyncio
import json
import math

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import (
    AdlRisk,
    Event,
    FeedStatus,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    MarkPrice,
    OpenInterest,
)
from adlwatch.engine.instruments import default_catalogue
from adlwatch.feeds.recorder import Recorder, replay_events
from adlwatch.feeds.rest import RestPoller, fetch_market, fetch_once, poll_base, poll_url
from adlwatch.feeds.venue import RestPoll
from adlwatch.feeds.venues.binance import market
from adlwatch.feeds.venues.binance.emulator import COINM_OPEN_INTEREST
from adlwatch.feeds.venues.binance.market import (
    ADAPTER,
    COINM_HOST,
    COINM_MARK_PRICE_PATH,
    COINM_OPEN_INTEREST_PATH,
    COINM_REST_URL,
    REST_URL,
    coinm_face_usd,
)
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)

# https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/Index-Price-and-Mark-Price
# (the documented answer: a perpetual with its funding, a quarterly whose funding fields are empty)
PREMIUM_INDEX_EXAMPLE = json.dumps([
    {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "markPrice": "11029.69574559", "indexPrice": "10979.14437500",
     "estimatedSettlePrice": "10981.74168236", "lastFundingRate": "0.00071003", "interestRate": "0.00010000",
     "nextFundingTime": 1596096000000, "time": 1596094042000},
    {"symbol": "BTCUSD_200925", "pair": "BTCUSD", "markPrice": "12077.01343750", "indexPrice": "10979.10312500",
     "estimatedSettlePrice": "10981.74168236", "lastFundingRate": "", "interestRate": "", "nextFundingTime": 0,
     "time": 1596094042000},
])
# https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Open-Interest
OPEN_INTEREST_EXAMPLE = json.dumps({"symbol": "BTCUSD_200626", "pair": "BTCUSD", "openInterest": "15004",
                                    "contractType": "CURRENT_QUARTER", "time": 1591261042378})


@pytest.fixture
def no_marks_yet(monkeypatch):
    """A process that has read no COIN-M mark yet (the adapter keeps the last one per contract)."""
    monkeypatch.setattr(market, "_COINM_MARKS", {})


def premium_index(symbol: str, mark: float) -> str:
    return json.dumps([{"symbol": symbol, "pair": symbol.split("_")[0], "markPrice": f"{mark}", "indexPrice": f"{mark}",
                        "estimatedSettlePrice": f"{mark}", "lastFundingRate": "0.0001", "interestRate": "0.0001",
                        "nextFundingTime": 1596096000000, "time": 1596094042000}])


def of(events: list[Event], kind: type, symbol: str) -> list:
    return [e for e in events if type(e) is kind and e.symbol == symbol]


# --- the documented bodies ---------------------------------------------------------------------------------

def test_the_documented_coin_m_premium_index_gives_marks_and_only_the_perpetuals_funding(no_marks_yet):
    events = ADAPTER.parse_rest(ADAPTER.mark_price_poll("BTCUSD_PERP"), PREMIUM_INDEX_EXAMPLE, 5)
    assert not [e for e in events if isinstance(e, FeedStatus)]
    assert [e.price for e in of(events, MarkPrice, "BTCUSD_PERP")] == [11029.69574559]
    assert [e.price for e in of(events, IndexPrice, "BTCUSD_PERP")] == [10979.144375]
    [funding] = of(events, FundingRate, "BTCUSD_PERP")
    assert (funding.rate, funding.next_funding_ts, funding.ts) == (0.00071003, 1596096000000, 1596094042000)
    assert [e.price for e in of(events, MarkPrice, "BTCUSD_200925")] == [12077.0134375]
    assert not of(events, FundingRate, "BTCUSD_200925")  # a delivery contract: "" is no rate, not an error


def test_the_documented_coin_m_open_interest_is_contracts_at_face_value_and_coin_at_the_mark(no_marks_yet):
    poll = RestPoll(path=COINM_OPEN_INTEREST_PATH, params={"symbol": "BTCUSD_200626"}, host=COINM_HOST)
    assert ADAPTER.parse_rest(poll, OPEN_INTEREST_EXAMPLE, 5) == []  # no mark read yet: no coin figure to give
    ADAPTER.parse_rest(ADAPTER.mark_price_poll("BTCUSD_200626"), premium_index("BTCUSD_200626", 9_700.0), 6)
    [oi] = ADAPTER.parse_rest(poll, OPEN_INTEREST_EXAMPLE, 7)
    assert type(oi) is OpenInterest and (oi.symbol, oi.ts, oi.recv_ns) == ("BTCUSD_200626", 1591261042378, 7)
    assert oi.open_interest_usd == 15004 * 100.0  # BTC contracts are 100 USD each
    assert oi.open_interest == pytest.approx(15004 * 100.0 / 9_700.0)  # base units (BTC), as the engine wants


def test_a_coin_m_contracts_face_value_is_the_catalogues_else_binances_rule():
    catalogue = default_catalogue()
    for symbol in ("BTCUSD_PERP", "AAVEUSD_PERP", "AVAXUSD_PERP"):
        assert coinm_face_usd(symbol) == catalogue.get("binance", symbol).contract_size
    assert coinm_face_usd("BTCUSD_PERP") == 100.0 and coinm_face_usd("AAVEUSD_PERP") == 10.0
    assert coinm_face_usd("BTCUSD_991231") == 100.0  # a quarterly the catalogue lacks: Binance's rule
    assert coinm_face_usd("NOSUCHUSD_PERP") == 10.0


@settings(max_examples=200, deadline=None)
@given(contracts=st.integers(min_value=0, max_value=10**12), mark=st.floats(min_value=1e-6, max_value=1e9))
def test_coin_m_open_interest_in_coin_times_the_mark_is_its_usd_value(contracts, mark):
    symbol = "HYPOTHESISUSD_PERP"  # not listed: 10 USD a contract; a name no other test reads a mark of
    ADAPTER.parse_rest(ADAPTER.mark_price_poll(symbol), premium_index(symbol, mark), 1)
    poll = RestPoll(path=COINM_OPEN_INTEREST_PATH, params={"symbol": symbol}, host=COINM_HOST)
    [oi] = ADAPTER.parse_rest(poll, json.dumps({"symbol": symbol, "openInterest": str(contracts), "time": 1}), 2)
    assert oi.open_interest_usd == contracts * 10.0
    assert math.isclose(oi.open_interest * float(f"{mark}"), oi.open_interest_usd, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.binary(max_size=200), st.text(max_size=200),
                      st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=8),
                                   lambda inner: st.lists(inner, max_size=4)
                                   | st.dictionaries(st.sampled_from(["symbol", "openInterest", "markPrice", "time",
                                                                      "lastFundingRate", "code", "msg"]), inner,
                                                     max_size=5), max_leaves=12).map(json.dumps)))
def test_the_dapi_parsers_never_raise(body):
    for poll in (ADAPTER.mark_price_poll("BTCUSD_PERP"),
                 RestPoll(path=COINM_OPEN_INTEREST_PATH, params={"symbol": "BTCUSD_PERP"}, host=COINM_HOST)):
        for event in ADAPTER.parse_rest(poll, body, 1):
            assert isinstance(event, (MarkPrice, IndexPrice, FundingRate, OpenInterest, FeedStatus))


def test_a_bad_coin_m_open_interest_is_one_error_naming_the_contract():
    poll = RestPoll(path=COINM_OPEN_INTEREST_PATH, params={"symbol": "BTCUSD_PERP"}, host=COINM_HOST)
    [status] = ADAPTER.parse_rest(poll, json.dumps({"symbol": "BTCUSD_PERP", "openInterest": "-3"}), 1)
    assert status.state == "error" and status.symbol == "BTCUSD_PERP"
    [refused] = ADAPTER.parse_rest(poll, json.dumps({"code": -1121, "msg": "Invalid symbol."}), 1)
    assert refused.state == "error" and "-1121" in refused.detail and refused.symbol == "BTCUSD_PERP"


# --- which polls, which host -------------------------------------------------------------------------------

def test_a_coin_m_contract_is_polled_on_dapi_only_without_insurance_or_adl_rating():
    polls = ADAPTER.rest_polls(["BTCUSDT", "BTCUSD_PERP"])
    coin_m = [p for p in polls if p.params.get("symbol") == "BTCUSD_PERP"]
    assert [(p.path, p.host) for p in coin_m] == [(COINM_MARK_PRICE_PATH, COINM_HOST),
                                                  (COINM_OPEN_INTEREST_PATH, COINM_HOST)]
    assert all(p.path.startswith("/fapi/") and p.host == "rest" for p in polls if p not in coin_m)
    assert ADAPTER.mark_price_poll("BTCUSD_PERP") == coin_m[0]
    assert ADAPTER.mark_price_poll("BTCUSDT").path == "/fapi/v1/premiumIndex"
    assert "BTCUSD_PERP" not in [s for p in polls for s in p.symbols]  # the ADL rating is USDⓈ-M's alone


def test_coin_m_polls_resolve_to_dapi_on_binances_base_and_stay_on_an_overridden_one():
    oi = next(p for p in ADAPTER.rest_polls(["BTCUSD_PERP"]) if p.path == COINM_OPEN_INTEREST_PATH)
    usdm = ADAPTER.rest_polls(["BTCUSDT"])[0]
    assert poll_url(poll_base(ADAPTER, REST_URL, oi), oi) == f"{COINM_REST_URL}/dapi/v1/openInterest"
    assert poll_url(poll_base(ADAPTER, REST_URL, usdm), usdm) == f"{REST_URL}/fapi/v1/openInterest"
    local = "http://127.0.0.1:9999/binance"
    assert poll_url(poll_base(ADAPTER, local, oi), oi) == f"{local}/dapi/v1/openInterest"


async def test_the_live_poller_sends_coin_m_polls_to_dapi_binance_com(no_marks_yet):
    """No network: a mock transport answers, and records every URL the poller sent."""
    sent: list[str] = []
    events: list[Event] = []
    got_oi = asyncio.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url.copy_with(query=None)))
        symbol = request.url.params.get("symbol", "")
        if request.url.path == COINM_MARK_PRICE_PATH:
            return httpx.Response(200, text=premium_index(symbol, 60_000.0))
        if request.url.path == COINM_OPEN_INTEREST_PATH:
            return httpx.Response(200, json={"symbol": symbol, "pair": "BTCUSD", "openInterest": "300",
                                             "contractType": "PERPETUAL", "time": 1})
        return httpx.Response(200, json={"symbol": symbol, "openInterest": "1.5", "time": 1})

    def emit(event: Event) -> None:
        events.append(event)
        if type(event) is OpenInterest and event.symbol == "BTCUSD_PERP":
            got_oi.set()

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        poller = RestPoller(ADAPTER, ["BTCUSDT", "BTCUSD_PERP"], emit, client=client, interval_scale=0.01)
        task = asyncio.create_task(poller.run())
        try:
            await asyncio.wait_for(got_oi.wait(), 10)
        finally:
            poller.stop()
            await task
    assert poller.base_url == REST_URL
    assert {u for u in sent if "/dapi/" in u} == {f"{COINM_REST_URL}{COINM_MARK_PRICE_PATH}",
                                                  f"{COINM_REST_URL}{COINM_OPEN_INTEREST_PATH}"}
    assert all(u.startswith(f"{REST_URL}/fapi/") for u in sent if "/dapi/" not in u)
    [oi, *_] = of(events, OpenInterest, "BTCUSD_PERP")
    assert oi.open_interest_usd == 30_000.0 and oi.open_interest == pytest.approx(0.5)


# --- the emulator, end to end ------------------------------------------------------------------------------

async def test_the_live_poller_reads_a_coin_m_contracts_mark_funding_and_open_interest_from_dapi(emulator,  # noqa: F811
                                                                                                no_marks_yet):
    events: list[Event] = []
    got_oi = asyncio.Event()

    def emit(event: Event) -> None:
        events.append(event)
        if type(event) is OpenInterest:
            got_oi.set()

    poller = RestPoller(ADAPTER, ["BTCUSD_PERP"], emit, base_url=emulator.rest_url("binance"), interval_scale=0.01)
    task = asyncio.create_task(poller.run())
    try:
        await asyncio.wait_for(got_oi.wait(), 10)
    finally:
        poller.stop()
        await task
    paths = {path for venue, path, _status in emulator.rest_requests if venue == "binance"}
    assert paths == {COINM_MARK_PRICE_PATH, COINM_OPEN_INTEREST_PATH}  # nothing asked of fapi
    assert all(status == 200 for _v, _p, status in emulator.rest_requests)
    marks = [e.price for e in of(events, MarkPrice, "BTCUSD_PERP")]
    assert marks and of(events, FundingRate, "BTCUSD_PERP")
    oi = next(e for e in events if type(e) is OpenInterest)
    mark = [e.price for e in events[: events.index(oi)] if type(e) is MarkPrice][-1]  # the mark read before it
    assert oi.open_interest_usd == COINM_OPEN_INTEREST["BTCUSD_PERP"] * 100.0
    assert oi.open_interest == pytest.approx(oi.open_interest_usd / mark)
    assert not [e for e in events if type(e) in (InsuranceFund, AdlRisk)]  # dapi publishes neither
    assert not [e for e in events if isinstance(e, FeedStatus) and e.state == "error"]


async def test_fetch_market_and_fetch_once_read_coin_m_contracts_from_dapi(emulator):  # noqa: F811
    base = emulator.rest_url("binance")
    marks, funding = await fetch_market("binance", ["BTCUSD_PERP", "BTCUSD_261225", "BTCUSDT"], base_url=base)
    assert set(marks) == {"BTCUSD_PERP", "BTCUSD_261225", "BTCUSDT"} and all(m > 0 for m in marks.values())
    assert funding["BTCUSD_PERP"][0] == 0.0001 and "BTCUSD_261225" not in funding  # a quarterly has none
    coin_m = [(p, s) for v, p, s in emulator.rest_requests if p.startswith("/dapi/")]
    assert coin_m == [(COINM_MARK_PRICE_PATH, 200)] * 2  # one premiumIndex per COIN-M contract
    assert [p for _v, p, _s in emulator.rest_requests if p.startswith("/fapi/")] == ["/fapi/v1/premiumIndex"]
    events = await fetch_once("binance", ["AVAXUSD_PERP"], base_url=base)
    [oi] = of(events, OpenInterest, "AVAXUSD_PERP")
    assert oi.open_interest_usd == COINM_OPEN_INTEREST.get("AVAXUSD_PERP", 150_000) * 10.0


async def test_a_recording_of_the_dapi_polls_replays_to_the_same_open_interest(emulator, tmp_path,  # noqa: F811
                                                                               monkeypatch, no_marks_yet):
    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path)
    live: list[Event] = []
    got_oi = asyncio.Event()

    def emit(event: Event) -> None:
        live.append(event)
        if type(event) is OpenInterest:
            got_oi.set()

    poller = RestPoller(ADAPTER, ["BTCUSD_PERP"], emit, base_url=emulator.rest_url("binance"), on_frame=recorder,
                        interval_scale=0.01)
    task = asyncio.create_task(poller.run())
    try:
        await asyncio.wait_for(got_oi.wait(), 10)
    finally:
        poller.stop()
        await task
        recorder.close()
    monkeypatch.setattr(market, "_COINM_MARKS", {})  # the replay must find the mark in the recording itself
    replayed = list(replay_events(path))
    assert [e for e in replayed if type(e) is OpenInterest] == [e for e in live if type(e) is OpenInterest]
    assert [e for e in replayed if type(e) is MarkPrice] == [e for e in live if type(e) is MarkPrice]
