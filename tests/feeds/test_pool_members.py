"""The open interest of every member of a shared insurance pool: the REST poller learns the members
from the pool's answer and polls their OI (Binance: openInterest + premiumIndex per member; Bybit: one
tickers of the category), so the engine's fund/OI is the pool's balance over all of them. End to end
against the loopback emulator, by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import Event, FeedStatus, InsuranceFund, MarkPrice, OpenInterest
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine
from adlwatch.engine.snapshot import ContractRisk
from adlwatch.feeds.recorder import Recorder, replay_events
from adlwatch.feeds.rest import RestPoller
from adlwatch.feeds.venue import RestPoll
from adlwatch.feeds.venues.binance import market as binance_market
from adlwatch.feeds.venues.binance.emulator import set_insurance_pool, set_open_interest
from adlwatch.feeds.venues.binance.market import ADAPTER as BINANCE
from adlwatch.feeds.venues.binance.market import INSURANCE_PATH, MARK_PRICE_PATH, OPEN_INTEREST_PATH
from adlwatch.feeds.venues.bybit.emulator import TICKER_SINGLE_OPEN_INTEREST
from adlwatch.feeds.venues.bybit.market import ADAPTER as BYBIT
from adlwatch.feeds.venues.bybit.market import TICKERS_PATH
from adlwatch.feeds.venues.okx.market import ADAPTER as OKX
from tests.engine.factories import account, position
from tests.feeds.conftest import emulator  # noqa: F401  (fixture)

# The documented answer of GET /fapi/v1/insuranceBalance?symbol=BTCUSDT: one pool backing these
# contracts, in four assets (our balances):
# https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Insurance-Fund-Balance
BINANCE_POOL = ["BNBUSDT", "BTCUSDT", "BTCUSDT_250627", "BTCUSDT_250926", "ETHBTC", "ETHUSDT"]
BINANCE_BODY = ('{"symbols":["BNBUSDT","BTCUSDT","BTCUSDT_250627","BTCUSDT_250926","ETHBTC","ETHUSDT"],'
                '"assets":[{"asset":"USDC","marginBalance":"299999.27","updateTime":1745366402000},'
                '{"asset":"USDT","marginBalance":"793930579.315848","updateTime":1745366402000},'
                '{"asset":"BTC","marginBalance":"61.73143554","updateTime":1745366402000},'
                '{"asset":"BNFCR","marginBalance":"633223.99396922","updateTime":1745366402000}]}')


@pytest.fixture
def no_pool_figures_yet(monkeypatch):
    """Each test starts with no remembered member mark or open interest (as a fresh process)."""
    monkeypatch.setattr(binance_market, "_POOL_MARKS", {})
    monkeypatch.setattr(binance_market, "_POOL_OPEN_INTEREST", {})


def holder(venue: str, symbol: str) -> RiskEngine:
    catalogue = default_catalogue()
    inst = catalogue.get(venue, symbol)
    return RiskEngine(Portfolio((account(venue, 10_000, [position(inst, Side.LONG, 0.1, 60_000, 10, MarginMode.CROSS)]),),
                                catalogue=catalogue))


async def run_until(poller: RestPoller, done: asyncio.Event) -> None:
    task = asyncio.create_task(poller.run())
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        poller.stop()
        await task


def feeding(engine: RiskEngine, symbol: str, members: int, events: list[Event]) -> tuple[Callable[[Event], None], asyncio.Event]:
    """An emit that applies data events to ``engine`` and sets the returned event once ``symbol``'s
    row has a pool with every one of ``members`` members' open interest known."""
    done = asyncio.Event()

    def emit(event: Event) -> None:
        events.append(event)
        if type(event) is FeedStatus:
            return
        engine.apply(event)
        row = row_of(engine, symbol)
        if row is not None and row.fund_members == members and row.fund_members_with_oi == members \
                and row.mark_price is not None:
            done.set()

    return emit, done


def row_of(engine: RiskEngine, symbol: str) -> ContractRisk | None:
    return next((c for c in engine.snapshot().contracts if c.symbol == symbol), None)


# --- the parsers and the polls ----------------------------------------------------------------------------

def test_binance_documented_pool_answer_names_every_member_in_each_asset():
    poll = RestPoll(path=INSURANCE_PATH, params={"symbol": "BTCUSDT"})
    events = BINANCE.parse_rest(poll, BINANCE_BODY, 1)
    assert [e.asset for e in events] == ["USDC", "USDT", "BTC", "BNFCR"]
    assert all(isinstance(e, InsuranceFund) and e.symbols == BINANCE_POOL for e in events)


def test_binance_polls_each_member_not_held_once_a_minute_and_no_coin_m_or_held_one():
    fund = BINANCE.parse_rest(RestPoll(path=INSURANCE_PATH, params={"symbol": "BTCUSDT"}), BINANCE_BODY, 1)[0]
    polls = BINANCE.member_polls(fund, ["BTCUSDT"])
    members = [s for s in BINANCE_POOL if s != "BTCUSDT"]
    assert [(p.path, p.params["symbol"]) for p in polls] == [
        (path, s) for s in members for path in (MARK_PRICE_PATH, OPEN_INTEREST_PATH)]
    assert all(p.pool_members and p.symbols == (p.params["symbol"],) and p.interval_s == 60.0 for p in polls)
    assert BINANCE.member_polls(fund, BINANCE_POOL) == []


def test_binance_member_answers_give_the_members_usd_open_interest_and_no_mark(no_pool_figures_yet):
    mark_poll, oi_poll = BINANCE.member_polls(
        InsuranceFund(venue="binance", symbol="ETHUSDT", ts=1, symbols=["ETHUSDT"], asset="USDT", balance=1.0), [])
    # Bodies in the Open-Interest and Mark-Price pages' shapes:
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest
    assert BINANCE.parse_rest(oi_poll, '{"openInterest":"2000.5","symbol":"ETHUSDT","time":1589437530011}', 1) == []
    events = BINANCE.parse_rest(mark_poll, '{"symbol":"ETHUSDT","markPrice":"3000.00","indexPrice":"2999.5",'
                                '"lastFundingRate":"0.0001","nextFundingTime":1597392000000,"time":1597370495002}', 2)
    assert events == [OpenInterest(venue="binance", symbol="ETHUSDT", ts=1589437530011, recv_ns=2,
                                   open_interest=2000.5, open_interest_usd=2000.5 * 3000.0)]
    assert not [e for e in events if type(e) is MarkPrice]


@given(body=st.binary(max_size=200) | st.text(max_size=200))
def test_member_parsers_never_raise(body):
    for adapter, poll in ((BINANCE, RestPoll(path=OPEN_INTEREST_PATH, symbols=("ETHUSDT",), pool_members=True)),
                          (BINANCE, RestPoll(path=MARK_PRICE_PATH, symbols=("ETHUSDT",), pool_members=True)),
                          (BYBIT, RestPoll(path=TICKERS_PATH, symbols=("ETHUSDT",), pool_members=True))):
        events = adapter.parse_rest(poll, body, 1)
        assert all(type(e) in (OpenInterest, FeedStatus) for e in events)


def test_bybit_shared_pool_reads_its_members_from_one_tickers_request():
    fund = InsuranceFund(venue="bybit", symbol="BTCUSDT", ts=1, symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"],
                         asset="USDT", balance=1.0)
    [poll] = BYBIT.member_polls(fund, ["BTCUSDT"])
    assert (poll.path, poll.params, poll.symbols, poll.pool_members) == (
        TICKERS_PATH, {"category": "linear"}, ("ETHUSDT", "SOLUSDT"), True)
    # A Tickers page item (text values), two members and one symbol of no pool of ours:
    # https://bybit-exchange.github.io/docs/v5/market/tickers
    body = ('{"retCode":0,"retMsg":"OK","result":{"category":"linear","list":['
            '{"symbol":"ETHUSDT","markPrice":"3000.00","openInterest":"1000","openInterestValue":"3000000.00"},'
            '{"symbol":"SOLUSDT","markPrice":"150.00","openInterest":"2000","openInterestValue":"300000.00"},'
            '{"symbol":"XRPUSDT","markPrice":"2.00","openInterest":"5","openInterestValue":"10.00"}]},'
            '"retExtInfo":{},"time":1672376496682}')
    events = BYBIT.parse_rest(poll, body, 1, list(poll.symbols))
    assert [(type(e), e.symbol, e.open_interest_usd) for e in events] == [
        (OpenInterest, "ETHUSDT", 3_000_000.0), (OpenInterest, "SOLUSDT", 300_000.0)]
    assert BYBIT.member_polls(fund, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]) == []


def test_okx_security_fund_backs_the_family_swap_alone_so_it_has_no_member_polls():
    # instType=SWAP + instFamily: the fund of the family's perpetual swap, its only SWAP instrument.
    [poll] = [p for p in OKX.rest_polls(["BTC-USDT-SWAP"]) if p.path == "/api/v5/public/insurance-fund"]
    assert poll.params == {"instType": "SWAP", "instFamily": "BTC-USDT"}
    body = '{"code":"0","msg":"","data":[{"instFamily":"BTC-USDT","total":"1000","details":[]}]}'
    [fund] = OKX.parse_rest(poll, body, 1)
    assert fund.symbols == ["BTC-USDT-SWAP"]
    assert OKX.member_polls(fund, ["BTC-USDT-SWAP"]) == []


# --- the emulator, end to end ------------------------------------------------------------------------------

async def test_binance_ratio_is_the_pools_balance_over_every_members_open_interest(emulator,  # noqa: F811
                                                                                 no_pool_figures_yet):
    members = ["BTCUSDT", "ETHUSDT", "BNBUSDT"]
    set_insurance_pool(emulator, members, {"USDT": "6000000", "BNFCR": "1000"})
    oi = {"BTCUSDT": "100.5", "ETHUSDT": "2000", "BNBUSDT": "30000"}
    for symbol, value in oi.items():
        set_open_interest(emulator, symbol, value)
    engine = holder("binance", "BTCUSDT")
    events: list[Event] = []
    emit, done = feeding(engine, "BTCUSDT", 3, events)
    poller = RestPoller(BINANCE, ["BTCUSDT"], emit, base_url=emulator.rest_url("binance"), interval_scale=0.01)
    await run_until(poller, done)
    marks = {s: float(f"{emulator.prices.current('binance', s):.8f}") for s in members}
    by_hand = 6_000_000 / sum(float(oi[s]) * marks[s] for s in members)
    [row] = engine.snapshot().contracts  # ETHUSDT and BNBUSDT make no rows
    assert row.symbol == "BTCUSDT"
    assert row.fund_to_oi == pytest.approx(by_hand, rel=1e-12)
    assert not row.fund_to_oi_partial and row.fund_unvalued_assets == ("BNFCR",)
    assert not [e for e in events if type(e) is MarkPrice and e.symbol != "BTCUSDT"]
    assert len(poller.learned) == 4  # two polls per member not held, each started once
    assert not [e for e in events if type(e) is FeedStatus and e.state == "error"]


async def test_binance_member_polls_replay_from_a_recording_to_the_same_open_interest(emulator, tmp_path,  # noqa: F811
                                                                                    monkeypatch, no_pool_figures_yet):
    set_insurance_pool(emulator, ["BTCUSDT", "ETHUSDT"], {"USDT": "6000000"})
    path = tmp_path / "rec.jsonl"
    recorder = Recorder(path)
    engine = holder("binance", "BTCUSDT")
    live: list[Event] = []
    emit, done = feeding(engine, "BTCUSDT", 2, live)
    poller = RestPoller(BINANCE, ["BTCUSDT"], emit, base_url=emulator.rest_url("binance"), on_frame=recorder,
                        interval_scale=0.01)
    try:
        await run_until(poller, done)
    finally:
        recorder.close()
    monkeypatch.setattr(binance_market, "_POOL_MARKS", {})  # the replay finds the member's mark in the recording
    monkeypatch.setattr(binance_market, "_POOL_OPEN_INTEREST", {})
    replayed = list(replay_events(path))
    members_oi = [e for e in live if type(e) is OpenInterest and e.symbol == "ETHUSDT"]
    assert members_oi and [e for e in replayed if type(e) is OpenInterest and e.symbol == "ETHUSDT"] == members_oi
    assert not [e for e in replayed if type(e) is MarkPrice and e.symbol == "ETHUSDT"]


async def test_bybit_ratio_is_the_shared_pools_balance_over_every_members_open_interest(emulator):  # noqa: F811
    # The emulator's USDT pool: "symbols": "BTCUSDT,ETHUSDT", balance 250000000.5.
    engine = holder("bybit", "BTCUSDT")
    events: list[Event] = []
    emit, done = feeding(engine, "BTCUSDT", 2, events)
    poller = RestPoller(BYBIT, ["BTCUSDT"], emit, base_url=emulator.rest_url("bybit"), interval_scale=0.01)
    await run_until(poller, done)
    # one side's open interest (singleOpenInterestValue), as for every Bybit contract
    value = {s: float(f"{TICKER_SINGLE_OPEN_INTEREST * emulator.prices.current('bybit', s):.2f}") for s in ("BTCUSDT", "ETHUSDT")}
    [row] = engine.snapshot().contracts  # no "BYB ETHUSDT" row
    assert row.symbol == "BTCUSDT"
    assert row.fund_to_oi == pytest.approx(250_000_000.5 / sum(value.values()), rel=1e-12)
    assert not row.fund_to_oi_partial
    assert ("bybit", TICKERS_PATH, 200) in emulator.rest_requests
    assert not [e for e in events if type(e) is MarkPrice and e.symbol == "ETHUSDT"]
