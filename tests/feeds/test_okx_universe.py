"""OKX's whole universe (instruments?instType=SWAP + position-tiers per instrument family) against the
loopback emulator: every family asked for, 429s retried, a malformed swap reported and the rest kept,
and the per-family requests paced.

The emulator's universe is synthetic (feeds/venues/okx/emulator.py), in the venue's documented shapes.
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
from adlwatch.feeds.venues.okx import emulator as emu
from adlwatch.feeds.venues.okx import tiers
from adlwatch.feeds.venues.okx.tiers import SOURCE, parse_okx_instruments, parse_okx_position_tiers

SWAPS = emu.universe()


def fetcher(client: httpx.AsyncClient, retries: int = 3, gap_s: float = 0.0) -> Fetcher:
    return Fetcher(client, retries=retries, gap_s=gap_s, backoff_initial_s=0.001, rng=random.Random(5))


def requests(emulator, path: str) -> list[int]:
    return [status for venue, p, status in emulator.rest_requests if venue == "okx" and p == path]


async def universe(emulator, retries: int = 3) -> tuple[list, list[str]]:
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        found = await SOURCE.fetch_universe(fetcher(client, retries), emulator.rest_url("okx"), errors)
    return found, errors


async def test_whole_universe_one_instruments_answer_and_one_tiers_request_per_family(emulator):
    found, errors = await universe(emulator)
    assert errors == []
    assert sorted(i.symbol for i in found) == sorted(s.inst_id for s in SWAPS)
    assert len(found) > 300
    assert requests(emulator, "/api/v5/public/instruments") == [200]
    assert len(requests(emulator, "/api/v5/public/position-tiers")) == len({s.family for s in SWAPS})

    by = {i.symbol: i for i in found}
    btc = by["BTC-USDT-SWAP"]
    # the bundle's convention: sized in coin, ctVal kept, tiers in base units (1000 contracts × 0.01)
    assert (btc.kind, btc.base, btc.quote, btc.settle, btc.contract_size, btc.venue_contract_size,
            btc.tick_size, btc.tier_basis) == ("linear", "BTC", "USDT", "USDT", 1.0, 0.01, 0.1, "size")
    assert [(t.floor, t.cap, t.mmr, t.max_leverage) for t in btc.tiers] == [
        (0.0, 10.0, 0.004, 100.0), (10.0, 20.0, 0.005, 75.0), (20.0, 50.0, 0.0075, 50.0)]
    assert btc.verified and btc.status == "trading" and btc.taker_fee == 0.0005
    assert "tdMode=cross" in btc.source and "instFamily=BTC-USDT" in btc.source

    inverse = by["BTC-USD-SWAP"]
    # inverse: contracts of 100 USD, tiers in contracts
    assert (inverse.kind, inverse.settle, inverse.contract_size, inverse.venue_contract_size) == (
        "inverse", "BTC", 100.0, None)
    assert [t.cap for t in inverse.tiers] == [1000.0, 2000.0, 5000.0]
    assert sum(i.inverse for i in found) == sum(s.ct_type == "inverse" for s in SWAPS) >= 20
    doge = by["DOGE-USDT-SWAP"]
    assert doge.venue_contract_size == 1000.0 and doge.tiers[0].cap == pytest.approx(
        float(next(s for s in SWAPS if s.inst_id == "DOGE-USDT-SWAP").tiers[0][1]) * 1000)
    assert by["ETH-USDC-SWAP"].quote == by["ETH-USDC-SWAP"].settle == "USDC"

    expected = {"live": "trading", "suspend": "delisted", "preopen": "pre_launch"}
    for swap in SWAPS:
        assert by[swap.inst_id].status == expected[swap.state], swap.inst_id
    assert any(i.status == "delisted" and i.inverse for i in found)
    assert all(i.tiers == () for i in found if i.status == "pre_launch")


async def test_a_429_on_one_family_is_retried_and_the_fetch_completes(emulator):
    seen = {"n": 0}

    async def one_429(method, target, headers, body):
        if "instFamily=SOL-USDT" in target and seen["n"] == 0:
            seen["n"] += 1
            return 429, json.dumps({"msg": "Too Many Requests", "code": "50011", "data": []}), {"Retry-After": "0"}
        return None

    emulator.rest_hooks.append(one_429)
    found, errors = await universe(emulator)
    assert errors == [] and len(found) == len(SWAPS) and seen["n"] == 1
    assert [s for _v, p, s in emulator.rest_requests if p.endswith("/position-tiers")].count(429) == 1


async def test_an_armed_fault_on_the_instruments_answer_is_retried(emulator):
    emulator.rest_fault(429, count=2, retry_after=0, venue="okx")
    found, errors = await universe(emulator)
    assert errors == [] and len(found) == len(SWAPS)
    assert requests(emulator, "/api/v5/public/instruments") == [429, 429, 200]


async def test_the_venues_rate_limit_answers_50011_and_is_waited_out(emulator):
    emu.universe_config(emulator).rate = (20, 0.05)
    found, errors = await universe(emulator, retries=12)
    assert errors == [] and len(found) == len(SWAPS)
    assert 429 in requests(emulator, "/api/v5/public/position-tiers")


async def test_rate_limit_body_is_okxs(emulator):
    emu.universe_config(emulator).rate = (1, 60.0)
    async with httpx.AsyncClient() as client:
        address = f"{emulator.rest_url('okx')}/api/v5/public/instruments?instType=SWAP"
        first, second = await client.get(address), await client.get(address)
    assert first.status_code == 200 and second.status_code == 429
    assert second.json() == {"msg": "Too Many Requests", "code": "50011", "data": []}


async def test_malformed_swaps_are_reported_and_the_rest_returned(emulator):
    emu.universe_config(emulator).malformed.update({"SOL-USDT-SWAP"})
    found, errors = await universe(emulator)
    assert "SOL-USDT-SWAP" not in {i.symbol for i in found}
    assert len(found) == len(SWAPS) - 1
    assert errors == ["SOL-USDT-SWAP: okx: SOL-USDT-SWAP ctVal 1 and tickSz 0 must be positive"]


async def test_malformed_tiers_are_reported_and_the_rest_returned(emulator, monkeypatch):
    real = emu._instrument_item
    monkeypatch.setattr(emu, "_instrument_item", lambda s, malformed: real(s, False))  # only tiers broken
    emu.universe_config(emulator).malformed.update({"XRP-USDT-SWAP"})
    found, errors = await universe(emulator)
    assert len(found) == len(SWAPS) - 1
    assert len(errors) == 1 and errors[0].startswith("XRP-USDT-SWAP: okx:")


async def test_lookup_and_its_pacing(emulator, monkeypatch):
    pauses: list[float] = []

    async def record(seconds):
        pauses.append(seconds)

    monkeypatch.setattr(tier_rows, "asyncio", SimpleNamespace(sleep=record))  # the Fetcher paces
    base = emulator.rest_url("okx")
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        f = fetcher(client, gap_s=0.001)
        eth = await SOURCE.lookup(f, base, "eth-usdt-swap", errors)
        inverse = await SOURCE.lookup(f, base, "XRP-USD-SWAP", errors)
        missing = await SOURCE.lookup(f, base, "NOPE-USDT-SWAP", errors)
    assert eth.symbol == "ETH-USDT-SWAP" and eth.venue_contract_size == 0.1 and len(eth.tiers) == 3
    assert inverse.inverse and inverse.contract_size == 10.0 and inverse.settle == "XRP"
    assert missing is None and len(errors) == 1 and "NOPE-USDT-SWAP" in errors[0] and "51001" in errors[0]
    # every request waited out the venue's pace beyond the fetcher's own gap
    assert [x for x in pauses if x != 0.001] == [pytest.approx(tiers.MIN_GAP_S - 0.001)] * 5


# ---------------------------------------------------------------------------- the parsers never raise

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25)


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
        assert "okx" in str(err)


INSTRUMENTS_DOC = {"code": "0", "msg": "", "data": [emu._instrument_item(s, False) for s in SWAPS[:3]]}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_instrument_parser_on_mutated_bodies(data):
    doc = _mutate(data.draw, INSTRUMENTS_DOC)
    errors: list[str] = []
    _check(lambda: parse_okx_instruments(json.dumps(doc), errors))
    assert all("okx" in e for e in errors)


@given(key=st.sampled_from(sorted(INSTRUMENTS_DOC["data"][0])), value=json_values)
def test_instrument_parser_with_any_field_replaced(key, value):
    doc = json.loads(json.dumps(INSTRUMENTS_DOC))
    doc["data"][1][key] = value
    errors: list[str] = []
    _check(lambda: parse_okx_instruments(doc, errors))
    assert all("okx" in e for e in errors)


@given(key=st.sampled_from(sorted(emu.position_tiers("BTC-USDT")[0])), value=json_values)
def test_tier_parser_with_any_field_replaced(key, value):
    data = emu.position_tiers("BTC-USDT")
    data[1][key] = value
    _check(lambda: parse_okx_position_tiers({"code": "0", "msg": "", "data": data}, {"BTC-USDT": "BTC-USDT-SWAP"},
                                            {"BTC-USDT-SWAP": 0.01}))


@given(body=st.one_of(st.text(max_size=200), st.binary(max_size=200), json_values))
def test_parsers_on_arbitrary_input_raise_only_value_error(body):
    errors: list[str] = []
    _check(lambda: parse_okx_instruments(body, errors))
    _check(lambda: parse_okx_position_tiers(body, {"BTC-USDT": "BTC-USDT-SWAP"}, {"BTC-USDT-SWAP": 0.01}))
    assert all("okx" in e for e in errors)


async def test_a_venue_that_stops_answering_is_not_asked_hundreds_of_times(emulator):
    async def down(method, target, headers, body):
        if "position-tiers" in target and "BTC-USDT" not in target:
            return 503, "{}", {}
        return None

    emulator.rest_hooks.append(down)
    found, errors = await universe(emulator, retries=1)
    asked = [p for _v, p, _s in emulator.rest_requests if p.endswith("/position-tiers")]
    assert len(asked) < 20  # 5 families, two tries each, and what answered before them
    assert len(errors) == tiers.GIVE_UP_AFTER + 1 and "left for the next refresh" in errors[-1]
    assert all(i.symbol < "BTC" or i.symbol.startswith("BTC-USDT") for i in found)


async def test_one_unanswered_family_among_answered_ones_is_one_line(emulator):
    async def flaky(method, target, headers, body):
        return (503, "{}", {}) if "instFamily=ETH-USDT&" in target + "&" else None

    emulator.rest_hooks.append(flaky)
    found, errors = await universe(emulator, retries=1)
    assert len(found) == len(SWAPS) - 1
    assert len(errors) == 1 and errors[0].startswith("ETH-USDT-SWAP:") and "503" in errors[0]
