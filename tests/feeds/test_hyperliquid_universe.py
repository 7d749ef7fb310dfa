"""Hyperliquid's whole universe: ``POST /info {"type": "metaAndAssetCtxs"}`` read into Instruments (every
coin with its margin table, isolated-only and delisted ones included), against hand-written bodies in the
venue's documented shape and against the loopback emulator's synthetic 400-coin universe
(feeds/venues/hyperliquid/emulator.py); and a real cross account holding coins outside the bundled five
(tests/feeds/fixtures/hyperliquid_states/vault_16_positions_2026-01-14.json) matching the venue's
``liquidationPx`` within 0.01 % for every position.

Sources: Hyperliquid GitBook ``for-developers/api/info-endpoint/perpetuals`` (meta, marginTables),
``trading/margin-tiers`` (ids below 50: one tier at that leverage; mmr = 1/(2 × max leverage)),
``for-developers/api/tick-and-lot-size`` (5 significant figures, at most 6 − szDecimals decimals,
integers always allowed); research/exchanges.md §4.
"""

from __future__ import annotations

import copy
import json
import math
import random
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import (
    Catalogue,
    TableFile,
    decode_table,
    default_catalogue,
    encode_table,
    table_rows,
)
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine
from adlwatch.feeds.tier_rows import Fetcher
from adlwatch.feeds.venues.hyperliquid import emulator as emu
from adlwatch.feeds.venues.hyperliquid.account import account_state
from adlwatch.feeds.venues.hyperliquid.tiers import SOURCE, find_coin, parse_universe, tick_size
from tests.feeds.test_accounts_hyperliquid import (
    ADDRESS,
    engine_with,
    load,
    matches,
    ours,
    raw_positions,
    venue_liquidation,
)

BUNDLED = default_catalogue()


def body(*assets: dict, tables: list | None = None, ctxs: list | None = None) -> str:
    meta = {"universe": list(assets), "marginTables": tables or [], "collateralToken": 0}
    return json.dumps([meta, ctxs] if ctxs is not None else meta)


def read(text: str) -> tuple[list, list[str]]:
    errors: list[str] = []
    return parse_universe(text, "test", "2026-12-06T00:00:00Z", errors), errors


TIERED_40X = [56, {"description": "tiered 40x", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 40},
                                                                 {"lowerBound": "150000000.0", "maxLeverage": 20}]}]


# ---------------------------------------------------------------------------- parsing


def test_an_asset_becomes_a_linear_usdc_instrument_with_its_margin_table():
    [btc], errors = read(body({"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
                              tables=[TIERED_40X], ctxs=[{"markPx": "91234.0"}]))
    assert errors == []
    assert (btc.venue, btc.symbol, btc.kind, btc.base, btc.quote, btc.settle, btc.contract_size, btc.tier_basis) == (
        "hyperliquid", "BTC", "linear", "BTC", "USDC", "USDC", 1.0, "notional")
    assert [(t.floor, t.cap, t.mmr, t.max_leverage) for t in btc.tiers] == [
        (0.0, 150e6, 0.0125, 40.0), (150e6, 1e12, 0.025, 20.0)]
    assert btc.tiers[1].maint_amount == pytest.approx(150e6 * (0.025 - 0.0125))
    assert btc.tick_size == 1.0  # 5 significant figures at 91,234 would be 10: integers are always allowed
    assert (btc.status, btc.only_isolated, btc.verified, btc.source, btc.as_of) == (
        "trading", False, True, "test", "2026-12-06T00:00:00Z")
    assert btc.tiers == BUNDLED.get("hyperliquid", "BTC").tiers  # the bundled table is the venue's


def test_ids_below_50_are_one_tier_and_flags_become_status_and_isolated_only():
    found, errors = read(body(
        {"name": "ATOM", "szDecimals": 2, "maxLeverage": 5, "marginTableId": 5},
        {"name": "kPEPE", "szDecimals": 0, "maxLeverage": 10, "marginTableId": 10, "onlyIsolated": True},
        {"name": "MATIC", "szDecimals": 1, "maxLeverage": 20, "marginTableId": 20, "onlyIsolated": True,
         "isDelisted": True},
        {"name": "NEW", "szDecimals": 1, "maxLeverage": 3, "marginTableId": 3, "marginMode": "strictIsolated"},
        {"name": "OLD", "szDecimals": 2, "maxLeverage": 50}))  # no marginTableId: maxLeverage at any size
    assert errors == []
    by = {i.symbol: i for i in found}
    assert [(t.mmr, t.max_leverage) for t in by["ATOM"].tiers] == [(0.1, 5.0)]
    assert by["kPEPE"].only_isolated and by["kPEPE"].status == "trading"
    assert by["MATIC"].status == "delisted" and by["MATIC"].only_isolated and by["MATIC"].max_leverage == 20
    assert by["NEW"].only_isolated
    assert [(t.mmr, t.max_leverage) for t in by["OLD"].tiers] == [(0.01, 50.0)]
    # a plain meta body carries no mark: the finest step the decimals rule allows
    assert by["ATOM"].tick_size == 1e-4 and by["kPEPE"].tick_size == 1e-6


def test_a_bad_asset_is_one_line_and_the_rest_are_kept():
    found, errors = read(body(
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
        {"name": "BAD", "szDecimals": 9, "maxLeverage": 10, "marginTableId": 10},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "marginTableId": 77},
        {"name": "ODD", "szDecimals": 1, "maxLeverage": 10, "marginTableId": 10, "isDelisted": "yes"},
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
        {"szDecimals": 1, "maxLeverage": 10}, tables=[TIERED_40X]))
    assert [i.symbol for i in found] == ["BTC"]
    assert len(errors) == 5 and all(e.startswith("hyperliquid") for e in errors)
    assert any("BAD szDecimals" in e for e in errors)
    assert any("ETH uses margin table 77" in e for e in errors)
    assert any("ODD isDelisted" in e for e in errors)
    assert any("BTC listed twice" in e for e in errors)


@pytest.mark.parametrize("text", ["[]", "{}", '[{"universe": []}]', '{"universe": [1]}', "null",
                                  '{"universe": [], "marginTables": {}}'])
def test_a_body_of_the_wrong_shape_is_refused(text):
    with pytest.raises(ValueError, match="hyperliquid"):
        read(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5), st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("5000000"), places=6))
def test_the_tick_keeps_prices_within_the_venues_rules(sz_decimals, mark_decimal):
    """A price on the tick grid near the mark has at most 5 significant figures or is an integer, and at
    most 6 − szDecimals decimals; the tick is a power of ten no finer than that."""
    mark = float(mark_decimal)
    if mark <= 0:
        return
    tick = tick_size(sz_decimals, mark)
    exponent = round(math.log10(tick))
    assert tick == pytest.approx(10.0 ** exponent, rel=1e-12) and tick <= 1.0
    assert -exponent <= 6 - sz_decimals
    price = Decimal(repr(round(mark / tick) * tick)).quantize(Decimal(10) ** exponent)
    if price == 0:
        return
    integer = price == price.to_integral_value()
    digits = len(price.normalize().as_tuple().digits)
    assert integer or digits <= 5 or -exponent == 6 - sz_decimals


def _paths(node, prefix=()):
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_paths(value, (*prefix, i)))
    return out


_META = {**emu.meta(), "universe": emu.meta()["universe"][:12]}
_SMALL = [_META, [_META, [emu.synthetic_ctx(a["name"]) for a in _META["universe"]]]]
_VALUES = st.none() | st.booleans() | st.integers(-5, 100) | st.floats() | st.text(max_size=6) | st.sampled_from(
    ["0", "-1", "nan", "1e400", "", "strictIsolated"]) | st.lists(st.integers(), max_size=2) | st.just({})


@st.composite
def mutated(draw):
    doc = copy.deepcopy(draw(st.sampled_from(_SMALL)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            return draw(_VALUES)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_VALUES)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_bodies_raise_only_value_error_and_every_instrument_is_sound(doc):
    try:
        found, errors = read(json.dumps(doc))
    except ValueError as err:
        assert str(err).startswith("hyperliquid")
        return
    for instrument in found:
        assert instrument.tiers and instrument.tiers[0].floor == 0.0
        assert all(0 < t.mmr < 1 for t in instrument.tiers)
        assert 0 < instrument.tick_size <= 1.0
    assert all(isinstance(e, str) and e for e in errors)


# ---------------------------------------------------------------------------- against the emulator


def fetcher(client: httpx.AsyncClient, retries: int = 3) -> Fetcher:
    return Fetcher(client, retries=retries, gap_s=0.0, backoff_initial_s=0.001, rng=random.Random(5))


async def universe(emulator, retries: int = 3) -> tuple[list, list[str]]:
    errors: list[str] = []
    async with httpx.AsyncClient() as client:
        found = await SOURCE.fetch_universe(fetcher(client, retries), emulator.rest_url("hyperliquid"), errors)
    return found, errors


def info_requests(emulator) -> list[int]:
    return [status for venue, path, status in emulator.rest_requests if venue == "hyperliquid" and path == "/info"]


async def test_every_coin_in_one_request_with_marks_for_the_tick(emulator):
    found, errors = await universe(emulator)
    assert errors == []
    assert info_requests(emulator) == [200]  # the venue does not paginate meta
    assert len(found) == emu.UNIVERSE_SIZE == len({i.symbol for i in found})
    by = {i.symbol: i for i in found}
    for coin in ("BTC", "ETH", "SOL", "XRP"):  # read from the venue, they equal the bundled tables
        assert by[coin].tiers == BUNDLED.get("hyperliquid", coin).tiers, coin
    # the emulator's DOGE is on table 10 (one tier, as ids below 50 are), which the refresh tests rely on
    assert [(t.mmr, t.max_leverage) for t in by["DOGE"].tiers] == [(0.05, 10.0)]
    assert by["BTC"].tick_size == 1.0 and by["ETH"].tick_size == 0.1 and by["DOGE"].tick_size == 1e-5
    delisted = [i.symbol for i in found if i.status == "delisted"]
    assert sorted(delisted) == sorted(emu._DELISTED)
    assert all(by[c].only_isolated for c in delisted)
    assert sum(i.only_isolated for i in found if i.status == "trading") >= 10
    table_shapes = {tuple((t.floor, t.max_leverage) for t in i.tiers) for i in found}
    assert len(table_shapes) >= 8 and any(len(s) == 3 for s in table_shapes)
    assert all(i.settle == "USDC" and i.kind == "linear" and i.verified for i in found)
    assert all(i.source.endswith("/info metaAndAssetCtxs") and i.as_of.endswith("Z") for i in found)


async def test_a_rate_limit_is_retried_and_a_lasting_refusal_is_one_line(emulator):
    emulator.rest_fault(429, count=1, retry_after=0, venue="hyperliquid")
    found, errors = await universe(emulator)
    assert info_requests(emulator) == [429, 200] and errors == [] and len(found) == emu.UNIVERSE_SIZE
    emulator.rest_fault(503, count=5, venue="hyperliquid")
    found, errors = await universe(emulator, retries=1)
    assert found == [] and len(errors) == 1 and "HTTP 503" in errors[0]


async def test_lookup_finds_a_coin_as_the_venue_spells_it(emulator):
    async with httpx.AsyncClient() as client:
        errors: list[str] = []
        base = emulator.rest_url("hyperliquid")
        pepe = await SOURCE.lookup(fetcher(client), base, "kpepe", errors)
        atom = await SOURCE.lookup(fetcher(client), base, "ATOM", errors)
        assert errors == []
        assert pepe is not None and pepe.symbol == "kPEPE" and atom is not None and atom.symbol == "ATOM"
        assert await SOURCE.lookup(fetcher(client), base, "NOPE", errors) is None
    assert errors == ["NOPE: hyperliquid: not in the meta universe"]


def test_find_coin_refuses_a_case_folded_name_that_is_not_unique():
    found, _ = read(body({"name": "ABC", "szDecimals": 0, "maxLeverage": 3, "marginTableId": 3},
                         {"name": "abc", "szDecimals": 0, "maxLeverage": 3, "marginTableId": 3}))
    assert find_coin(found, "abc").symbol == "abc"
    assert find_coin(found, "Abc") is None


async def test_the_universe_survives_the_table_format(emulator):
    found, _ = await universe(emulator)
    table = TableFile(venue="hyperliquid", source="emulator", as_of="2026-12-06", verified=True,
                      taker_fee=0.00045, instruments=table_rows(found))
    again = decode_table(encode_table(table), "test")
    assert again == found


# ---------------------------------------------------------------------------- a real cross account


VAULT = "vault_16_positions_2026-01-14.json"


def test_every_position_of_the_real_vault_matches_with_the_bundled_tables_only():
    """Acceptance: a real cross account holding 12 coins outside the bundled five; each coin no table knows
    is modelled from the venue's own maxLeverage on the position (its tier), and every one of the 16
    positions' liquidation price is the venue's within 0.01 % (or none where the venue reports none)."""
    doc = load(VAULT)
    engine = engine_with(account_state(doc, ADDRESS, catalogue=BUNDLED))
    assert len(engine.portfolio.accounts[0].positions) == 16
    for raw in raw_positions(doc):
        assert matches(ours(engine, raw["coin"]), venue_liquidation(raw)), raw["coin"]
    assert sum(venue_liquidation(raw) is not None for raw in raw_positions(doc)) == 10


async def test_every_position_of_the_real_vault_matches_with_a_fetched_universe(emulator):
    """The same account once the catalogue knows every coin (the emulator's universe lists the vault's
    coins at the maximum leverage the capture reports): the tiers come from the catalogue, not from the
    position, and every liquidation price is still the venue's."""
    found, _ = await universe(emulator)
    catalogue = Catalogue(found)
    doc = load(VAULT)
    state = account_state(doc, ADDRESS, catalogue=catalogue)
    assert all(p.brackets is None for p in state.positions)  # the catalogue's first tier is the venue's maximum
    engine = RiskEngine(Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": ADDRESS}]}, catalogue))
    engine.apply(state)
    for p in state.positions:
        engine.apply(MarkPrice(venue="hyperliquid", symbol=p.symbol, ts=None, price=p.mark_price))
    for raw in raw_positions(doc):
        assert matches(ours(engine, raw["coin"]), venue_liquidation(raw)), raw["coin"]
