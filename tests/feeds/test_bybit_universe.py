"""Bybit's whole universe (instruments-info + risk-limit, linear and inverse) against the loopback
emulator: every page asked for, 429s retried, a malformed contract reported and the rest kept.

The emulator's universe is synthetic (feeds/venues/bybit/emulator.py), in the venue's documented shapes.
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.feeds import tier_rows
from adlwatch.feeds.tier_rows import Fetcher
from adlwatch.feeds.venues.bybit import emulator as emu
from adlwatch.feeds.venues.bybit import tiers
from adlwatch.feeds.venues.bybit.tiers import SOURCE, parse_bybit_instruments, parse_bybit_risk_limits

PERPETUALS = [c for c in emu.universe() if c.contract_type.endswith("Perpetual")]


def fetcher(client: httpx.AsyncClient, retries: int = 3) -> Fetcher:
    return Fetcher(client, retries=retries, gap_s=0, backoff_initial_s=0.001, rng=random.Random(3))


def requests(emulator, path: str) -> list[int]:
    return [status for venue, p, status in emulator.rest_requests if venue == "bybit" and p == path]


async def universe(emulator, retries: int = 3) -> tuple[list, list[str]]:
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        found = await SOURCE.fetch_universe(fetcher(client, retries), emulator.rest_url("bybit"), errors)
    return found, errors


async def test_whole_universe_every_page(emulator, monkeypatch):
    monkeypatch.setattr(tiers, "PAGE_LIMIT", 50)
    found, errors = await universe(emulator)
    assert errors == []
    assert sorted(i.symbol for i in found) == sorted(c.symbol for c in PERPETUALS)
    assert len(found) > 300
    # instruments-info: ceil(n / 50) pages (at least one) per category and status; risk-limit: 200 rows a page
    pages = 0
    for category in ("linear", "inverse"):
        for status in ("Trading", "PreLaunch", "Delivering", "Closed"):
            listed = sum(c.category == category and c.status == status for c in emu.universe())
            pages += max(1, -(-listed // 50))
    assert len(requests(emulator, "/v5/market/instruments-info")) == pages
    rows = {cat: sum(len(c.tiers) for c in emu.universe() if c.category == cat) for cat in ("linear", "inverse")}
    assert len(requests(emulator, "/v5/market/risk-limit")) == sum(-(-n // 200) for n in rows.values())
    assert set(requests(emulator, "/v5/market/risk-limit")) == {200}

    by = {i.symbol: i for i in found}
    btc = by["BTCUSDT"]
    assert (btc.kind, btc.base, btc.quote, btc.settle, btc.contract_size, btc.tick_size, btc.tier_basis) == (
        "linear", "BTC", "USDT", "USDT", 1.0, 0.1, "notional")
    assert [(t.cap, t.mmr, t.max_leverage) for t in btc.tiers] == [
        (300_000.0, 0.0033, 150.0), (800_000.0, 0.005, 100.0), (3_000_000.0, 0.0075, 80.0), (6_000_000.0, 0.01, 50.0)]
    assert [t.maint_amount for t in btc.tiers] == pytest.approx([0.0, 510.0, 2510.0, 10010.0])
    assert btc.verified and btc.status == "trading" and btc.taker_fee == 0.00055
    assert btc.source == f"{emulator.rest_url('bybit')}/v5/market/risk-limit?category=linear"

    inverse_btc = by["BTCUSD"]
    assert (inverse_btc.kind, inverse_btc.settle, inverse_btc.contract_size, inverse_btc.tiers[-1].cap) == (
        "inverse", "BTC", 1.0, 450.0)
    assert "category=inverse" in inverse_btc.source
    assert sum(i.inverse for i in found) == sum(c.category == "inverse" for c in PERPETUALS)
    assert by["BTCPERP"].quote == by["BTCPERP"].settle == "USDC"

    expected = {"Closed": "delisted", "PreLaunch": "pre_launch", "Delivering": "settling", "Trading": "trading"}
    for contract in PERPETUALS:
        assert by[contract.symbol].status == expected[contract.status], contract.symbol
    delisted = [i for i in found if i.status == "delisted"]
    assert delisted and all(i.tiers == () for i in delisted)
    assert any(i.inverse for i in delisted)
    assert "BTC-27MAR27" not in by and "BTCUSDH27" not in by  # dated futures are not perpetuals


async def test_a_429_on_a_page_is_retried_and_the_fetch_completes(emulator):
    emulator.rest_fault(429, count=1, retry_after=0, venue="bybit")
    found, errors = await universe(emulator)
    assert errors == []
    assert len(found) == len(PERPETUALS)
    assert requests(emulator, "/v5/market/instruments-info")[:2] == [429, 200]


async def test_the_venues_rate_limit_answers_10006_and_is_waited_out(emulator):
    emu.universe_config(emulator).rate = (3, 0.05)
    found, errors = await universe(emulator, retries=8)
    assert errors == []
    assert len(found) == len(PERPETUALS)
    statuses = requests(emulator, "/v5/market/risk-limit") + requests(emulator, "/v5/market/instruments-info")
    assert 429 in statuses


async def test_rate_limit_body_is_bybits(emulator):
    emu.universe_config(emulator).rate = (1, 60.0)
    async with httpx.AsyncClient() as client:
        base = emulator.rest_url("bybit")
        first = await client.get(f"{base}/v5/market/instruments-info?category=linear")
        second = await client.get(f"{base}/v5/market/instruments-info?category=linear")
    assert first.status_code == 200 and second.status_code == 429
    assert second.json()["retCode"] == 10006 and float(second.headers["Retry-After"]) > 0


async def test_a_malformed_contract_is_reported_and_the_rest_returned(emulator):
    emu.universe_config(emulator).malformed.update({"SOLUSDT", "ETHUSD"})
    found, errors = await universe(emulator)
    symbols = {i.symbol for i in found}
    assert "SOLUSDT" not in symbols and "ETHUSD" not in symbols
    assert len(found) == len(PERPETUALS) - 2
    assert any(e.startswith("SOLUSDT: bybit:") and "tickSize" in e for e in errors)
    assert any(e.startswith("SOLUSDT: bybit:") and "must be positive" in e for e in errors)
    assert all("bybit" in e for e in errors)


async def test_a_repeating_cursor_stops_with_one_line(emulator, monkeypatch):
    monkeypatch.setattr(emu, "_page", lambda rows, cursor, size: (rows[:size], "o1"))
    found, errors = await universe(emulator)
    assert any("repeats" in e for e in errors)


async def test_lookup_one_linear_and_one_inverse_contract(emulator):
    base = emulator.rest_url("bybit")
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        f = fetcher(client)
        eth = await SOURCE.lookup(f, base, "ETHUSDT", errors)
        xrp = await SOURCE.lookup(f, base, "XRPUSD", errors)
        none = await SOURCE.lookup(f, base, "NOSUCHUSDT", errors)
    assert errors == ["NOSUCHUSDT: bybit lists no perpetual of that name (linear or inverse)"]
    assert none is None
    assert eth.kind == "linear" and len(eth.tiers) == 4 and "symbol=ETHUSDT" in eth.source
    assert xrp.kind == "inverse" and xrp.settle == "XRP" and [t.cap for t in xrp.tiers] == [50_000.0, 100_000.0]


async def test_requests_keep_the_venues_pace(emulator, monkeypatch):
    pauses: list[float] = []

    async def record(seconds):
        pauses.append(seconds)

    monkeypatch.setattr(tier_rows, "asyncio", SimpleNamespace(sleep=record))  # the Fetcher paces
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        f = Fetcher(client, retries=1, gap_s=0.002, backoff_initial_s=0.001, rng=random.Random(3))
        await SOURCE.lookup(f, emulator.rest_url("bybit"), "BTCUSDT", errors)
    assert errors == []
    # instruments-info and risk-limit, each after the venue's pace beyond the fetcher's own gap
    assert [x for x in pauses if x != 0.002] == [pytest.approx(tiers.MIN_GAP_S - 0.002)] * 2


async def test_retcode_10006_in_a_200_answer_is_retried(emulator):
    seen = {"n": 0}

    async def busy(method, target, headers, body):
        if "instruments-info" in target and seen["n"] == 0:
            seen["n"] += 1
            return 200, json.dumps({"retCode": 10006, "retMsg": "Too many visits!", "result": {}}), {}
        return None

    emulator.rest_hooks.append(busy)
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        found = await SOURCE.lookup(fetcher(client), emulator.rest_url("bybit"), "SOLUSDT", errors)
    assert errors == [] and found is not None and seen["n"] == 1


# ---------------------------------------------------------------------------- the parsers never raise

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25)



def _instrument_doc() -> dict:
    contract = next(c for c in emu.universe() if c.symbol == "BTCUSDT")
    return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "nextPageCursor": "",
                                                      "list": [emu._instrument_item(contract, False)]}}


def _mutate(draw, doc):
    """The documented body with one value somewhere replaced by arbitrary JSON."""
    doc = json.loads(json.dumps(doc))
    node = doc
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) or not isinstance(node[key], (dict, list)):
            node[key] = draw(json_values)
            break
        node = node[key]
    return doc


def _check(call) -> None:
    try:
        call()
    except ValueError as err:
        assert "bybit" in str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_instrument_parser_on_mutated_bodies(data):
    doc = _mutate(data.draw, _instrument_doc())
    errors: list[str] = []
    _check(lambda: parse_bybit_instruments(json.dumps(doc), "linear", errors))
    assert all("bybit" in e for e in errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_risk_limit_parser_on_mutated_rows(data):
    items = _mutate(data.draw, {"list": emu.risk_limit_rows("linear", "BTCUSDT")})["list"]
    errors: list[str] = []
    if isinstance(items, list):
        out = parse_bybit_risk_limits(items, errors)
        assert all("bybit" in e for e in errors)
        for rows in out.values():  # whatever is accepted is a usable table
            assert rows and all(0 < r["mmr"] < 1 and r["cap"] > r["floor"] for r in rows)


@given(key=st.sampled_from(sorted(_instrument_doc()["result"]["list"][0])), value=json_values)
def test_instrument_parser_with_any_field_replaced(key, value):
    doc = _instrument_doc()
    doc["result"]["list"][0][key] = value
    errors: list[str] = []
    _check(lambda: parse_bybit_instruments(doc, "linear", errors))
    assert all("bybit" in e for e in errors)


@given(key=st.sampled_from(sorted(emu.risk_limit_rows("linear", "BTCUSDT")[1])), value=json_values)
def test_risk_limit_parser_with_any_field_replaced(key, value):
    items = emu.risk_limit_rows("linear", "BTCUSDT")
    items[1][key] = value
    errors: list[str] = []
    parse_bybit_risk_limits(items, errors)
    assert all("bybit" in e for e in errors)


@given(body=st.one_of(st.text(max_size=200), st.binary(max_size=200), json_values))
def test_parsers_on_arbitrary_input_raise_only_value_error(body):
    errors: list[str] = []
    _check(lambda: parse_bybit_instruments(body, "inverse", errors))
    if isinstance(body, list):
        _check(lambda: parse_bybit_risk_limits(body, errors))
    assert all("bybit" in e for e in errors)
