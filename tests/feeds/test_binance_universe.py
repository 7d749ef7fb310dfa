"""Binance's whole universe against the loopback emulator: exchangeInfo (USDⓈ-M and COIN-M) merged with
the signed leverageBracket reads when a key is there, else with the bundled snapshot's brackets;
the venue's 429 + Retry-After; the key never in an error line."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.instruments import default_catalogue
from adlwatch.feeds.emulator_base import EmuAccount
from adlwatch.feeds.emulator_private import install_private
from adlwatch.feeds.keys import Credentials, Secret
from adlwatch.feeds.tier_rows import Fetcher
from adlwatch.feeds.venues.binance import emulator as binance_emulator
from adlwatch.feeds.venues.binance.emulator import contracts, limit_weight
from adlwatch.feeds.venues.binance.tiers import (
    SOURCE,
    coinm_base,
    find_one,
    parse_brackets,
    parse_exchange_info,
    universe,
)

KEY, SECRET = "universe-test-key-0000000000001", "universe-test-secret"
CREDS = Credentials("binance", "main", Secret(KEY), Secret(SECRET))
BUNDLED_SOURCE = default_catalogue().get("binance", "BTCUSDT").source


def perps(market: str) -> list:
    return [c for c in contracts(market) if c.contract_type == "PERPETUAL"]


async def run_universe(emulator, credentials=None, retries=2):
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        fetcher = Fetcher(client, retries=retries, gap_s=0, backoff_initial_s=0.001, rng=random.Random(1))
        found = await universe(fetcher, emulator.rest_url("binance"), errors, credentials=credentials)
    return {i.symbol: i for i in found}, errors


async def run_lookup(emulator, symbol, credentials=None):
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        fetcher = Fetcher(client, retries=1, gap_s=0, backoff_initial_s=0.001, rng=random.Random(1))
        return await find_one(fetcher, emulator.rest_url("binance"), symbol, errors, credentials=credentials), errors


def test_the_source_declares_the_universe_and_lookup():
    assert SOURCE.fetch_universe is not None and SOURCE.lookup is not None
    assert coinm_base("https://fapi.binance.com") == "https://dapi.binance.com"
    assert coinm_base("http://127.0.0.1:5/binance") == "http://127.0.0.1:5/binance"


async def test_without_a_key_specs_come_from_exchange_info_and_brackets_from_the_snapshot(emulator):
    found, errors = await run_universe(emulator)
    bundle = default_catalogue()
    usdm = [c for c in perps("usdm") if bundle.find("binance", c.symbol) is not None]
    assert len(usdm) == 903
    assert {s for s, i in found.items() if i.kind == "linear"} == {c.symbol for c in usdm}
    # The contracts the snapshot lacks are left out, counted in one line per market.
    assert "NEWLISTUSDT" not in found and "BTCUSDT_261225" not in found
    assert any("3 usdm contracts" in e and "left out" in e for e in errors), errors
    coinm_without = [c for c in perps("coinm") if not (bundle.find("binance", c.symbol) or None)
                     or not bundle.get("binance", c.symbol).tiers]
    assert any(f"{len(coinm_without)} coinm contracts" in e for e in errors), errors
    btc = found["BTCUSDT"]
    assert btc.tiers == bundle.get("binance", "BTCUSDT").tiers
    assert not btc.verified and btc.as_of == "2026-06-26"
    assert btc.source.startswith(BUNDLED_SOURCE) and "/fapi/v1/exchangeInfo" in btc.source
    emulated = {c.symbol: c for c in contracts("usdm")}
    assert btc.tick_size == float(emulated["BTCUSDT"].tick)
    states = {"CLOSE": "delisted", "SETTLING": "settling", "PENDING_TRADING": "pre_launch", "TRADING": "trading"}
    assert all(i.status == states[emulated[s].status] for s, i in found.items() if i.kind == "linear")
    assert {i.status for i in found.values()} >= {"trading", "delisted", "settling", "pre_launch"}
    perp = found["BTCUSD_PERP"]
    assert (perp.kind, perp.settle, perp.contract_size) == ("inverse", "BTC", 100.0)


async def test_with_a_key_brackets_are_the_signed_reads(emulator):
    endpoints = install_private(emulator, [EmuAccount(venue="binance", key=KEY, secret=SECRET)])
    found, errors = await run_universe(emulator, CREDS)
    assert errors == []
    assert len(found) == len(perps("usdm")) + len(perps("coinm"))
    new = found["NEWLISTUSDT"]
    assert new.verified and new.source.endswith("/fapi/v1/leverageBracket")
    assert [(t.floor, t.cap, t.mmr, t.max_leverage) for t in new.tiers] == [
        (0.0, 5_000.0, 0.02, 20.0), (5_000.0, 25_000.0, 0.025, 10.0), (25_000.0, 100_000.0, 0.05, 5.0)]
    assert new.tiers[1].maint_amount == pytest.approx(25.0)  # 5,000 × (2.5 % − 2 %), the venue's cum
    link = found["LINKUSD_PERP"]
    assert (link.kind, link.settle, link.contract_size) == ("inverse", "LINK", 10.0)
    assert link.source.endswith("/dapi/v2/leverageBracket") and link.tiers[0].cap == 1_000.0
    assert found["BTCUSDT"].tiers == default_catalogue().get("binance", "BTCUSDT").tiers
    signed = [(r.path, r.status) for r in endpoints.private("binance")]
    assert signed == [("/fapi/v1/leverageBracket", 200), ("/dapi/v2/leverageBracket", 200)]


async def test_a_refused_key_falls_back_to_the_snapshot_and_never_shows_the_key(emulator):
    install_private(emulator, [EmuAccount(venue="binance", key=KEY, secret="another-secret")])
    found, errors = await run_universe(emulator, CREDS)
    assert "BTCUSDT" in found and not found["BTCUSDT"].verified
    refused = [e for e in errors if "-1022" in e]
    assert len(refused) == 2 and all("bundled brackets serve" in e for e in refused)
    assert not any(KEY in e or SECRET in e for e in errors)


async def test_the_weight_limit_answers_429_with_retry_after_and_the_fetch_waits(emulator, monkeypatch):
    limit = limit_weight(emulator, budget=1, retry_after_s=0.05)
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay, *args, **kwargs):
        waits.append(delay)
        return await real_sleep(0, *args, **kwargs)

    monkeypatch.setattr("adlwatch.feeds.tier_rows.asyncio.sleep", recording_sleep)
    found, errors = await run_universe(emulator)
    assert limit.refused == 1 and "BTCUSDT" in found and "BTCUSD_PERP" in found
    assert ("binance", "/dapi/v1/exchangeInfo", 429) in emulator.rest_requests
    assert any(w >= 0.05 for w in waits)  # Retry-After honoured, not just the jittered backoff
    assert not any("429" in e for e in errors)


async def test_a_rate_limited_signed_read_is_retried(emulator):
    endpoints = install_private(emulator, [EmuAccount(venue="binance", key=KEY, secret=SECRET)])
    endpoints.fail_next(429, retry_after=0.01, venue="binance")
    found, errors = await run_universe(emulator, CREDS)
    assert errors == [] and found["NEWLISTUSDT"].verified
    assert [r.status for r in endpoints.private("binance")] == [429, 200, 200]


async def test_a_rate_limit_that_does_not_end_is_one_error_line(emulator):
    limit_weight(emulator, budget=0, retry_after_s=0.001)
    found, errors = await run_universe(emulator, retries=1)
    assert found == {}
    assert len(errors) == 2 and all("HTTP 429" in e for e in errors)


async def test_lookup_of_one_contract(emulator):
    install_private(emulator, [EmuAccount(venue="binance", key=KEY, secret=SECRET)])
    inst, errors = await run_lookup(emulator, "NEWLISTUSDT", CREDS)
    assert inst is not None and inst.verified and errors == []
    inst, errors = await run_lookup(emulator, "NEWLISTUSDT")
    assert inst is None and any("1 usdm contracts" in e for e in errors)
    inst, _ = await run_lookup(emulator, "BTCUSD_PERP")
    assert inst is not None and inst.inverse and inst.contract_size == 100.0
    inst, errors = await run_lookup(emulator, "NOSUCHUSDT", CREDS)
    assert inst is None and errors == []


# ---------------------------------------------------------------------------- parsers


def test_exchange_info_rows_it_cannot_read_are_one_line_each():
    body = {"symbols": [
        {"symbol": "AUSDT", "contractType": "PERPETUAL", "status": "TRADING", "baseAsset": "A", "quoteAsset": "USDT",
         "marginAsset": "USDT", "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.001"}]},
        {"symbol": "BUSDT", "contractType": "PERPETUAL", "status": "MYSTERY", "baseAsset": "B", "quoteAsset": "USDT",
         "marginAsset": "USDT"},
        {"symbol": "CUSDT_261225", "contractType": "CURRENT_QUARTER", "status": "TRADING"},
        {"symbol": "DUSDT", "contractType": "", "status": "CLOSE", "baseAsset": "D", "quoteAsset": "USDT",
         "marginAsset": "USDT"},
        "junk"]}
    errors: list[str] = []
    specs = parse_exchange_info(json.dumps(body), "usdm", errors)
    assert [(s.symbol, s.status, s.tick_size) for s in specs] == [("AUSDT", "trading", 0.001), ("DUSDT", "delisted", 0.0)]
    assert len(errors) == 2 and "MYSTERY" in errors[0]
    with pytest.raises(ValueError, match="no symbols"):
        parse_exchange_info("{}", "usdm", [])


brackets = st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 40), st.integers(1, 125)),
                    min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(brackets, st.booleans())
def test_parse_brackets_reads_what_the_emulator_writes(raw, coinm):
    caps = sorted({c for c, _m, _l in raw})
    mmrs = sorted({m for _c, m, _l in raw})[: len(caps)]
    rows, floor = [], 0.0
    for cap, mmr in zip(caps, mmrs, strict=False):
        rows.append((floor, float(cap), mmr / 100, 10.0))
        floor = float(cap)
    market = "coinm" if coinm else "usdm"
    body = binance_emulator.bracket_rows(market, binance_emulator.with_cum(rows))
    errors: list[str] = []
    parsed = parse_brackets(json.dumps([{"symbol": "XUSDT", "brackets": body}]), market, errors)
    assert errors == []
    assert [(r["floor"], r["cap"], r["mmr"], r["max_leverage"]) for r in parsed["XUSDT"]] == rows
    if len(rows) > 1:  # a cum the recurrence does not give is refused
        body[-1]["cum"] += 1.0
        errors = []
        assert parse_brackets(json.dumps([{"symbol": "XUSDT", "brackets": body}]), market, errors) == {}
        assert "cum" in errors[0]


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                               ["symbols", "symbol", "contractType", "status", "contractStatus", "filters", "brackets",
                                "baseAsset", "quoteAsset", "marginAsset", "contractSize", "tickSize", "filterType",
                                "notionalFloor", "notionalCap", "qtyFloor", "qtyCap", "maintMarginRatio",
                                "initialLeverage", "cum", "pair"]), inner, max_size=6), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from(["usdm", "coinm"]))
def test_the_parsers_raise_only_value_error(doc, market):
    for parse in (parse_exchange_info, parse_brackets):
        errors: list[str] = []
        try:
            parse(json.dumps(doc), market, errors)
        except ValueError:
            pass
        assert all(isinstance(e, str) for e in errors)
