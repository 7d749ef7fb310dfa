"""Tier tables from the venues' public endpoints, the local cache, and its override of the bundle.

Parser inputs are the venues' documented example bodies (cited at each test) or bodies in the
documented shape; the refresh tests talk only to the loopback emulator (``no_internet`` guards it).
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.instruments import build_tiers, default_catalogue
from adlwatch.feeds.registry import find
from adlwatch.feeds.tiers import describe, load_catalogue, refresh_tiers, run_refresh
from adlwatch.feeds.venues.binance.tiers import SKIP as BINANCE_SKIP
from adlwatch.feeds.venues.bybit.tiers import parse_bybit_risk_limit
from adlwatch.feeds.venues.hyperliquid.tiers import parse_hyperliquid_meta
from adlwatch.feeds.venues.okx.tiers import parse_okx_position_tiers

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# bybit-exchange/docs docs/v5/market/risk-limit.mdx (commit 8637c192, 2022-12-26; the same example is
# on https://bybit-exchange.github.io/docs/v5/market/risk-limit). Rates there are PERCENT ("0.5" at
# 100x with initialMargin "1"); live answers give fractions.
BYBIT_DOCS_EXAMPLE = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "inverse", "list": [
        {"id": 1, "symbol": "BTCUSD", "riskLimitValue": "150", "maintenanceMargin": "0.5", "initialMargin": "1",
         "isLowestRisk": 1, "maxLeverage": "100.00", "mmDeduction": ""}]},
    "retExtInfo": {}, "time": 1672054488010,
}

# The documented shape with fractional rates, as the venue answers today: BTCUSD tiers 1-2 of the
# recording behind the bundled bybit.toml BTCUSD table (mmDeduction 0.75 published on tier 2).
BYBIT_INVERSE_FRACTIONS = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "inverse", "nextPageCursor": "", "list": [
        {"id": 1, "symbol": "BTCUSD", "riskLimitValue": "150", "maintenanceMargin": "0.005",
         "initialMargin": "0.01", "isLowestRisk": 1, "maxLeverage": "100.00", "mmDeduction": ""},
        {"id": 2, "symbol": "BTCUSD", "riskLimitValue": "300", "maintenanceMargin": "0.01",
         "initialMargin": "0.015", "isLowestRisk": 0, "maxLeverage": "66.67", "mmDeduction": "0.75"}]},
    "retExtInfo": {}, "time": 1758844800000,
}

# https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers, response example. It is a
# MARGIN row (instId "BTC-USDT", empty instFamily/uly): not a swap tier.
OKX_DOCS_EXAMPLE = {
    "code": "0", "msg": "",
    "data": [{"baseMaxLoan": "50", "imr": "0.1", "instId": "BTC-USDT", "maxLever": "10", "maxSz": "50",
              "minSz": "0", "mmr": "0.03", "optMgnFactor": "0", "quoteMaxLoan": "500000", "tier": "1",
              "uly": "", "instFamily": ""}],
}

# The same documented fields for instType=SWAP, instFamily BTC-USDT. Tier 1 is the 2026-09-25
# recording behind the bundled okx.toml (0-1000 contracts, mmr 0.004, 100x); tier 2 starts one
# contract above tier 1's cap, as older OKX tables do; tiers are listed out of order on purpose.
OKX_SWAP_BODY = {
    "code": "0", "msg": "",
    "data": [
        {"uly": "BTC-USDT", "instFamily": "BTC-USDT", "instId": "", "tier": "2", "minSz": "1001", "maxSz": "3000",
         "mmr": "0.005", "imr": "0.0133", "maxLever": "75", "optMgnFactor": "0", "quoteMaxLoan": "",
         "baseMaxLoan": ""},
        {"uly": "BTC-USDT", "instFamily": "BTC-USDT", "instId": "", "tier": "1", "minSz": "0", "maxSz": "1000",
         "mmr": "0.004", "imr": "0.01", "maxLever": "100", "optMgnFactor": "0", "quoteMaxLoan": "",
         "baseMaxLoan": ""},
    ],
}

# dzmbs/hyperliquid-docs (verbatim GitBook mirror) docs/for-developers/api/info-endpoint/perpetuals.md,
# "Retrieve perpetuals metadata (universe and margin tables)", 200 response example.
HYPERLIQUID_DOCS_EXAMPLE = {
    "universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 50},
        {"name": "HPOS", "szDecimals": 0, "maxLeverage": 3, "onlyIsolated": True},
        {"name": "LOOM", "szDecimals": 1, "maxLeverage": 3, "isDelisted": True, "marginMode": "strictIsolated",
         "onlyIsolated": True},
    ],
    "marginTables": [
        [50, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 50}]}],
        [51, {"description": "tiered 10x", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 10},
                                                           {"lowerBound": "3000000.0", "maxLeverage": 5}]}],
    ],
}


def row(floor, cap, mmr, max_leverage):
    return {"floor": floor, "cap": cap, "mmr": mmr, "max_leverage": max_leverage}


# ---------------------------------------------------------------------------- Bybit


def test_bybit_docs_example_reads_percent_rates_as_fractions():
    rows = parse_bybit_risk_limit(json.dumps(BYBIT_DOCS_EXAMPLE), ["BTCUSD"])
    assert rows == {"BTCUSD": [row(0.0, 150.0, 0.005, 100.0)]}
    # the bundled BTCUSD tier 1 cites this example
    assert default_catalogue().get("bybit", "BTCUSD").tiers[0].mmr == 0.005


def test_bybit_fractional_rates_chain_floors_and_match_published_deductions():
    rows = parse_bybit_risk_limit(json.dumps(BYBIT_INVERSE_FRACTIONS).encode(), ["BTCUSD", "BTCUSDT"])
    assert rows == {"BTCUSD": [row(0.0, 150.0, 0.005, 100.0), row(150.0, 300.0, 0.01, 66.67)]}
    amounts = [t.maint_amount for t in build_tiers(rows["BTCUSD"], "bybit:BTCUSD")]
    published = [float(i["mmDeduction"] or 0) for i in BYBIT_INVERSE_FRACTIONS["result"]["list"]]
    assert amounts == pytest.approx(published, abs=1e-12)


def test_bybit_symbols_not_asked_for_are_left_out():
    assert parse_bybit_risk_limit(json.dumps(BYBIT_INVERSE_FRACTIONS), ["ETHUSD"]) == {}


def test_bybit_published_deduction_that_breaks_the_recurrence_is_refused():
    body = copy.deepcopy(BYBIT_INVERSE_FRACTIONS)
    body["result"]["list"][1]["mmDeduction"] = "1.5"
    with pytest.raises(ValueError, match=r"bybit: BTCUSD .*mmDeduction 1\.5"):
        parse_bybit_risk_limit(json.dumps(body), ["BTCUSD"])


def test_bybit_rates_that_are_neither_fractions_nor_percent_are_refused():
    body = copy.deepcopy(BYBIT_INVERSE_FRACTIONS)
    body["result"]["list"][0]["initialMargin"] = "0.2"  # 0.2 × 100 = 20
    with pytest.raises(ValueError, match="bybit: BTCUSD .*neither 1 .* nor 100"):
        parse_bybit_risk_limit(json.dumps(body), ["BTCUSD"])


def test_bybit_error_answer_names_venue_and_code():
    with pytest.raises(ValueError, match="bybit: retCode 10001"):
        parse_bybit_risk_limit('{"retCode":10001,"retMsg":"params error","result":{}}', ["BTCUSD"])


# ---------------------------------------------------------------------------- OKX


def test_okx_docs_example_is_a_margin_row_and_gives_no_swap_tiers():
    assert parse_okx_position_tiers(json.dumps(OKX_DOCS_EXAMPLE), {"BTC-USDT": "BTC-USDT-SWAP"},
                                    {"BTC-USDT-SWAP": 0.01}) == {}


def test_okx_linear_contracts_become_base_units_with_ctval():
    rows = parse_okx_position_tiers(json.dumps(OKX_SWAP_BODY), {"BTC-USDT": "BTC-USDT-SWAP"},
                                    {"BTC-USDT-SWAP": 0.01})
    # floors are the previous cap (1000 contracts, not minSz 1001) so the tiers chain
    assert rows == {"BTC-USDT-SWAP": [row(0.0, 10.0, 0.004, 100.0), row(10.0, 30.0, 0.005, 75.0)]}
    # tier 1 equals the bundled one (same recording)
    bundled = default_catalogue().get("okx", "BTC-USDT-SWAP").tiers[0]
    assert (bundled.floor, bundled.cap, bundled.mmr, bundled.max_leverage) == (0.0, 10.0, 0.004, 100.0)


def test_okx_inverse_tiers_stay_in_contracts():
    body = json.loads(json.dumps(OKX_SWAP_BODY).replace("BTC-USDT", "BTC-USD"))
    rows = parse_okx_position_tiers(body, {"BTC-USD": "BTC-USD-SWAP"}, {"BTC-USD-SWAP": 1.0})
    assert rows["BTC-USD-SWAP"] == [row(0.0, 1000.0, 0.004, 100.0), row(1000.0, 3000.0, 0.005, 75.0)]


def test_okx_without_contract_value_refuses_to_guess_units():
    with pytest.raises(ValueError, match="okx: no contract value given for BTC-USDT-SWAP"):
        parse_okx_position_tiers(json.dumps(OKX_SWAP_BODY), {"BTC-USDT": "BTC-USDT-SWAP"}, {})


def test_okx_error_answer_names_venue_and_code():
    with pytest.raises(ValueError, match="okx: code '51001'"):
        parse_okx_position_tiers('{"code":"51001","msg":"Instrument ID does not exist","data":[]}', {}, {})


# ---------------------------------------------------------------------------- Hyperliquid


def test_hyperliquid_docs_example_assets_without_table_keep_their_max_leverage():
    rows = parse_hyperliquid_meta(json.dumps(HYPERLIQUID_DOCS_EXAMPLE), ["BTC", "ETH", "DOGE"])
    assert rows == {"BTC": [row(0.0, 1e12, 0.01, 50.0)], "ETH": [row(0.0, 1e12, 0.01, 50.0)]}


def test_hyperliquid_tiered_table_and_ids_below_50():
    body = copy.deepcopy(HYPERLIQUID_DOCS_EXAMPLE)
    body["universe"][0]["marginTableId"] = 51  # "tiered 10x" from the example
    body["universe"][1]["marginTableId"] = 20  # below 50: one tier at 20x, not listed
    rows = parse_hyperliquid_meta(body, ["BTC", "ETH"])
    assert rows == {"BTC": [row(0.0, 3_000_000.0, 0.05, 10.0), row(3_000_000.0, 1e12, 0.1, 5.0)],
                    "ETH": [row(0.0, 1e12, 0.025, 20.0)]}
    # maintenance deduction by docs/trading/margin-tiers.md: lower_bound × (mmr_1 − mmr_0)
    assert [t.maint_amount for t in build_tiers(rows["BTC"], "hl")] == pytest.approx([0.0, 150_000.0])


def test_hyperliquid_unlisted_table_of_50_or_more_is_refused():
    body = copy.deepcopy(HYPERLIQUID_DOCS_EXAMPLE)
    body["universe"][0]["marginTableId"] = 56
    with pytest.raises(ValueError, match="hyperliquid: BTC uses margin table 56"):
        parse_hyperliquid_meta(body, ["BTC"])


# ---------------------------------------------------------------------------- parsers never raise anything else

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
poison = st.sampled_from(["nan", "inf", "-1", "0", "", "1e999", "1_000", "abc", -1, 0, 1e308, 10**400, True,
                          None, [], {}, [50], [[]]])


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


@st.composite
def mutated(draw, doc):
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(poison | json_values))  # sampled [] / {} are shared
    return doc


def _body(draw, doc):
    body = draw(mutated(doc))
    form = draw(st.sampled_from(["obj", "text", "bytes", "cut"]))
    if form == "obj":
        return body
    text = json.dumps(body)
    if form == "cut":
        return text[: draw(st.integers(0, len(text)))]
    return text.encode() if form == "bytes" else text


PARSERS = {
    "bybit": (BYBIT_INVERSE_FRACTIONS, lambda b: parse_bybit_risk_limit(b, ["BTCUSD"])),
    "bybit-docs": (BYBIT_DOCS_EXAMPLE, lambda b: parse_bybit_risk_limit(b, ["BTCUSD"])),
    "okx": (OKX_SWAP_BODY, lambda b: parse_okx_position_tiers(b, {"BTC-USDT": "BTC-USDT-SWAP"},
                                                              {"BTC-USDT-SWAP": 0.01})),
    "hyperliquid": (
        {**HYPERLIQUID_DOCS_EXAMPLE, "universe": [dict(HYPERLIQUID_DOCS_EXAMPLE["universe"][0], marginTableId=51),
                                                  dict(HYPERLIQUID_DOCS_EXAMPLE["universe"][1], marginTableId=7)]},
        lambda b: parse_hyperliquid_meta(b, ["BTC", "ETH"])),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(PARSERS)))
def test_parsers_on_mutated_bodies_raise_only_value_error(data, name):
    doc, parse = PARSERS[name]
    body = _body(data.draw, doc)
    try:
        out = parse(body)
    except ValueError:
        return
    # whatever is accepted is a usable tier table
    for symbol, rows in out.items():
        tiers = build_tiers(rows, symbol)
        assert tiers and all(0 < t.mmr < 1 and t.max_leverage > 0 and t.cap > t.floor for t in tiers)
        assert all(math.isfinite(t.maint_amount) for t in tiers)


@given(body=st.one_of(st.text(max_size=200), st.binary(max_size=200), json_values))
def test_parsers_on_arbitrary_input_raise_only_value_error(body):
    for _doc, parse in PARSERS.values():
        try:
            parse(body)
        except ValueError:
            pass


# ---------------------------------------------------------------------------- refresh and cache


def urls(emulator):
    return {v: emulator.rest_url(v) for v in ("bybit", "okx", "hyperliquid")}


SYMBOLS = {"bybit": ["BTCUSDT", "BTCUSD"], "okx": ["BTC-USDT-SWAP", "BTC-USD-SWAP"],
           "hyperliquid": ["BTC", "DOGE"], "binance": ["BTCUSDT"]}


async def test_refresh_writes_cache_that_overrides_bundled_tiers(emulator, tmp_path):
    report = await refresh_tiers(SYMBOLS, tmp_path, rest_urls=urls(emulator), request_gap_s=0)
    assert report.ok, report.lines()
    assert {p.name for p in tmp_path.iterdir()} == {"bybit.toml", "okx.toml", "hyperliquid.toml"}
    assert report.venues["binance"].state == "skipped" and report.venues["binance"].detail == BINANCE_SKIP

    bundled = default_catalogue()
    warnings: list[str] = []
    catalogue = load_catalogue(tmp_path, warnings=warnings)
    assert warnings == []

    btc = catalogue.get("bybit", "BTCUSDT")
    old = bundled.get("bybit", "BTCUSDT")
    # the emulator's table (4 tiers from 300,000 USDT at 0.33% / 150x), not the bundled 20-tier one
    assert [(t.floor, t.cap, t.mmr, t.max_leverage) for t in btc.tiers] == [
        (0.0, 300_000.0, 0.0033, 150.0), (300_000.0, 800_000.0, 0.005, 100.0),
        (800_000.0, 3_000_000.0, 0.0075, 80.0), (3_000_000.0, 6_000_000.0, 0.01, 50.0)]
    assert btc.tiers != old.tiers
    # maintenance amounts equal the venue's published mmDeduction (emulator: 510, 2510, 10010)
    assert [t.maint_amount for t in btc.tiers] == pytest.approx([0.0, 510.0, 2510.0, 10010.0])
    assert btc.as_of != old.as_of and ISO_UTC.match(btc.as_of)
    assert btc.verified and btc.source == (f"{emulator.rest_url('bybit')}/v5/market/risk-limit"
                                           "?category=linear&symbol=BTCUSDT")
    assert (btc.kind, btc.contract_size, btc.tick_size, btc.tier_basis, btc.taker_fee) == (
        old.kind, old.contract_size, old.tick_size, old.tier_basis, old.taker_fee)

    # inverse Bybit asks category=inverse; tiers in coin value
    assert catalogue.get("bybit", "BTCUSD").tiers[-1].cap == 450.0
    assert "category=inverse" in catalogue.get("bybit", "BTCUSD").source

    # OKX linear: 1000/2000/5000 contracts × ctVal 0.01 BTC
    okx = catalogue.get("okx", "BTC-USDT-SWAP")
    assert [(t.floor, t.cap, t.mmr) for t in okx.tiers] == [(0.0, 10.0, 0.004), (10.0, 20.0, 0.005),
                                                            (20.0, 50.0, 0.0075)]
    assert okx.venue_contract_size == 0.01 and len(bundled.get("okx", "BTC-USDT-SWAP").tiers) == 1
    assert [t.cap for t in catalogue.get("okx", "BTC-USD-SWAP").tiers] == [1000.0, 2000.0, 5000.0]

    # Hyperliquid: table 56 for BTC; DOGE on id 10 (below 50) is one 10x tier
    assert [(t.cap, t.max_leverage) for t in catalogue.get("hyperliquid", "BTC").tiers] == [
        (150_000_000.0, 40.0), (1e12, 20.0)]
    assert [(t.mmr, t.max_leverage) for t in catalogue.get("hyperliquid", "DOGE").tiers] == [(0.05, 10.0)]

    # symbols not refreshed keep their bundled tables; the bundled catalogue itself is untouched
    assert catalogue.get("okx", "ETH-USDT-SWAP") == bundled.get("okx", "ETH-USDT-SWAP")
    assert catalogue.get("binance", "BTCUSDT") == bundled.get("binance", "BTCUSDT")
    assert default_catalogue().get("bybit", "BTCUSDT").tiers == old.tiers
    assert len(catalogue) == len(bundled)


async def test_cache_file_reads_like_a_bundled_table(emulator, tmp_path):
    await refresh_tiers({"okx": ["BTC-USDT-SWAP"]}, tmp_path, rest_urls=urls(emulator), request_gap_s=0)
    data = tomllib.loads((tmp_path / "okx.toml").read_text())
    assert data["venue"]["name"] == "okx" and ISO_UTC.match(data["venue"]["fetched_at"])
    [inst] = data["instrument"]
    assert inst["source_note"] == "fetched from the venue's public endpoint" and inst["verified"] is True
    assert inst["tier"][0] == row(0.0, 10.0, 0.004, 100.0)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind


async def test_venue_answering_500_is_reported_and_the_others_still_written(emulator, tmp_path):
    first = await refresh_tiers({"okx": ["BTC-USDT-SWAP"]}, tmp_path, rest_urls=urls(emulator), request_gap_s=0)
    assert first.ok
    before = (tmp_path / "okx.toml").read_text()

    emulator.rest_fault(500, count=100, venue="okx")
    report = await refresh_tiers(SYMBOLS, tmp_path, rest_urls=urls(emulator), request_gap_s=0, retries=0)
    okx = report.venues["okx"]
    assert okx.state == "failed" and not report.ok
    assert any("HTTP 500" in e for e in okx.errors)
    assert any(line.startswith("okx: failed:") and "HTTP 500" in line for line in report.lines())
    assert report.venues["bybit"].state == "ok" and report.venues["hyperliquid"].state == "ok"
    assert (tmp_path / "bybit.toml").exists() and (tmp_path / "hyperliquid.toml").exists()
    assert (tmp_path / "okx.toml").read_text() == before  # the last good cache stays


async def test_rate_limit_is_retried_after_the_venue_says(emulator, tmp_path):
    emulator.rest_fault(429, count=1, retry_after=0, venue="hyperliquid")
    report = await refresh_tiers({"hyperliquid": ["BTC"]}, tmp_path, rest_urls=urls(emulator), request_gap_s=0,
                                 retries=1, backoff_initial_s=0.01)
    assert report.ok, report.lines()
    statuses = [status for venue, _path, status in emulator.rest_requests if venue == "hyperliquid"]
    assert statuses == [429, 200]


async def test_unreachable_venue_is_reported_never_raised(tmp_path):
    report = await refresh_tiers({"bybit": ["BTCUSDT"]}, tmp_path, rest_urls={"bybit": "http://127.0.0.1:9"},
                                 request_gap_s=0, retries=0, timeout=2)
    assert report.venues["bybit"].state == "failed"
    assert "cannot reach" in report.venues["bybit"].errors[0]
    assert not (tmp_path / "bybit.toml").exists()


async def test_refreshing_some_symbols_keeps_the_others_cached(emulator, tmp_path):
    await refresh_tiers({"hyperliquid": ["BTC", "DOGE"]}, tmp_path, rest_urls=urls(emulator), request_gap_s=0)
    await refresh_tiers({"hyperliquid": ["BTC"]}, tmp_path, rest_urls=urls(emulator), request_gap_s=0)
    symbols = [i["symbol"] for i in tomllib.loads((tmp_path / "hyperliquid.toml").read_text())["instrument"]]
    assert symbols == ["BTC", "DOGE"]


async def test_unlisted_coin_is_a_partial_failure(emulator, tmp_path):
    report = await refresh_tiers({"hyperliquid": ["BTC", "NOSUCHCOIN"]}, tmp_path, rest_urls=urls(emulator),
                                 request_gap_s=0)
    venue = report.venues["hyperliquid"]
    assert venue.state == "partial" and [i.symbol for i in venue.instruments] == ["BTC"]
    assert any("NOSUCHCOIN" in e for e in venue.errors)


def test_corrupt_cache_file_is_ignored_with_a_warning(tmp_path):
    (tmp_path / "bybit.toml").write_text('[venue]\nname = "bybit"\n[[instrument]\nsymbol = "BTC')
    (tmp_path / "okx.toml").write_bytes(b"\xff\xfe not text")
    warnings: list[str] = []
    catalogue = load_catalogue(tmp_path, warnings=warnings)
    bundled = default_catalogue()
    assert catalogue.get("bybit", "BTCUSDT") == bundled.get("bybit", "BTCUSDT")
    assert catalogue.get("okx", "BTC-USDT-SWAP") == bundled.get("okx", "BTC-USDT-SWAP")
    assert len(warnings) == 2
    assert any("bybit.toml" in w and "ignored" in w for w in warnings)
    assert any("okx.toml" in w and "ignored" in w for w in warnings)


def test_bad_cached_row_is_ignored_and_good_rows_still_apply(tmp_path):
    (tmp_path / "hyperliquid.toml").write_text("""
[venue]
name = "hyperliquid"

[[instrument]]
symbol = "BTC"
source = "test"
as_of = "2026-11-25T00:00:00Z"
verified = true
tier = [{ floor = 0.0, cap = 1e12, mmr = 2.0, max_leverage = 0.25 }]

[[instrument]]
symbol = "ETH"
source = "test"
as_of = "2026-11-25T00:00:00Z"
verified = true
tier = [{ floor = 0.0, cap = 1e12, mmr = 0.05, max_leverage = 10.0 }]

[[instrument]]
symbol = "NEWCOIN"
tier_basis = "notional"
tier = [{ floor = 0.0, cap = 1e12, mmr = 0.05, max_leverage = 10.0 }]

[[instrument]]
symbol = "FULLCOIN"
kind = "linear"
base = "FULL"
quote = "USDC"
settle = "USDC"
contract_size = 1.0
tick_size = 0.001
tier_basis = "notional"
tier = [{ floor = 0.0, cap = 1e12, mmr = 0.1, max_leverage = 5.0 }]
""")
    warnings: list[str] = []
    catalogue = load_catalogue(tmp_path, warnings=warnings)
    assert catalogue.get("hyperliquid", "BTC") == default_catalogue().get("hyperliquid", "BTC")
    assert len(warnings) == 1 and "hyperliquid BTC ignored" in warnings[0]
    eth = catalogue.get("hyperliquid", "ETH")
    assert [(t.mmr, t.max_leverage) for t in eth.tiers] == [(0.05, 10.0)] and eth.as_of == "2026-11-25T00:00:00Z"
    assert "NEWCOIN" not in catalogue.symbols("hyperliquid")  # no contract specification: not usable
    assert catalogue.get("hyperliquid", "FULLCOIN").tiers[0].max_leverage == 5.0


def test_missing_cache_dir_gives_the_bundled_catalogue(tmp_path):
    warnings: list[str] = []
    catalogue = load_catalogue(tmp_path / "nowhere", warnings=warnings)
    assert warnings == [] and list(catalogue) == list(default_catalogue())


# ---------------------------------------------------------------------------- CLI helpers


async def test_run_refresh_prints_one_line_per_instrument(emulator, tmp_path):
    out = io.StringIO()
    code = await run_refresh(["hyperliquid", "binance"], out, cache_dir=tmp_path,
                             rest_urls={**urls(emulator), "binance": emulator.rest_url("binance")}, request_gap_s=0)
    text = out.getvalue()
    assert code == 0, text
    if find("hyperliquid").tiers().fetch_universe is not None:  # the whole universe: one line for the venue
        assert re.search(r"^hyperliquid: \d+ contracts.*, as of \d{4}-\d\d-\d\dT", text, re.M), text
        cached = load_catalogue(tmp_path).symbols("hyperliquid")
        assert set(default_catalogue().symbols("hyperliquid")) <= set(cached)
    else:  # a per-symbol refresh: one line per bundled coin
        for coin in default_catalogue().symbols("hyperliquid"):
            assert re.search(rf"^hyperliquid {coin}: \d+ tiers?, as of \d{{4}}-\d\d-\d\dT", text, re.M), text
    if find("binance").tiers().fetch_universe is not None:  # exchangeInfo is public; brackets are the bundle's
        assert re.search(r"^binance: \d+ contracts", text, re.M), text
    else:
        assert "binance: skipped: no public bracket endpoint" in text


async def test_run_refresh_exit_codes(emulator, tmp_path):
    out = io.StringIO()
    assert await run_refresh(["ftx"], out, cache_dir=tmp_path) == 2
    assert "unknown venue 'ftx'" in out.getvalue()
    emulator.rest_fault(503, count=100, venue="okx")
    assert await run_refresh(["okx"], io.StringIO(), cache_dir=tmp_path, rest_urls=urls(emulator),
                             request_gap_s=0, retries=0) == 1


async def test_describe_shows_cached_source_as_of_and_verified(emulator, tmp_path):
    await refresh_tiers({"bybit": ["BTCUSDT"]}, tmp_path, rest_urls=urls(emulator), request_gap_s=0)
    lines = describe(load_catalogue(tmp_path))
    assert len(lines) == len(default_catalogue())
    [line] = [ln for ln in lines if ln.split()[:2] == ["bybit", "BTCUSDT"]]
    assert " 4 tiers " in line and " verified " in line and "/v5/market/risk-limit" in line
    assert re.search(r"as of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line)
    [eth] = [ln for ln in lines if ln.split()[:2] == ["bybit", "ETHUSDT"]]
    assert "unverified" in eth  # still the bundled table
