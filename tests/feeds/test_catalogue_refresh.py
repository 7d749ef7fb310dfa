"""The catalogue cache: every listed perpetual fetched whole, cached with ``as_of``, reloaded offline,
refreshed by itself in the background, and unknown symbols looked up before they are refused.

Most tests run a test-only ``TierSource`` in Bybit's place (``fake_source``): its ``fetch_universe``
and ``lookup`` hand back instruments made here, and where a test needs to hold a refresh half-way
it waits on an event the test sets (never a sleep). The end-to-end tests run the venues' own sources
against the loopback emulator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import threading
import time

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adlwatch.engine.instruments import (
    Instrument,
    TableFile,
    Tier,
    build_tiers,
    decode_table,
    default_catalogue,
    encode_table,
)
from adlwatch.engine.monitor import Monitor
from adlwatch.feeds import registry
from adlwatch.feeds.tier_rows import TierSource
from adlwatch.feeds.tiers import (
    cache_as_of,
    load_catalogue,
    lookup_symbols,
    lookups_path,
    refresh_catalogue,
    stale_venues,
    summary,
    universe_path,
    universe_table,
)
from adlwatch.tui import catalogue as tables
from tests.portfolio_files import parse

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NOWHERE = {"bybit": "http://127.0.0.1:9"}  # the fake sources never send a request; a closed port if they did
SOURCE_URL = "https://api.bybit.com/v5/market/instruments-info?category=linear + /v5/market/risk-limit"


def linear(symbol: str, *tiers: tuple[float, float, float, float], status: str = "trading",
           only_isolated: bool = False, as_of: str = "2026-12-06T04:00:00Z") -> Instrument:
    rows = [{"floor": f, "cap": c, "mmr": m, "max_leverage": lev} for f, c, m, lev in tiers]
    base = symbol.removesuffix("USDT")
    return Instrument(venue="bybit", symbol=symbol, kind="linear", base=base, quote="USDT", settle="USDT",
                      contract_size=1.0, tick_size=0.01, tier_basis="notional",
                      tiers=build_tiers(rows, symbol), taker_fee=0.00055, source=SOURCE_URL, as_of=as_of,
                      verified=True, status=status, only_isolated=only_isolated)


UNIVERSE = [
    linear("BTCUSDT", (0.0, 2_000_000.0, 0.004, 125.0), (2_000_000.0, 10_000_000.0, 0.01, 50.0)),
    linear("AAAUSDT", (0.0, 200_000.0, 0.01, 50.0), (200_000.0, 1_000_000.0, 0.02, 25.0)),
    linear("OLDUSDT", (0.0, 100_000.0, 0.02, 25.0), status="delisted"),
    linear("ISOUSDT", (0.0, 50_000.0, 0.05, 10.0), only_isolated=True),
]


class Fake:
    """A test ``TierSource`` with a gate: ``fetch_universe`` waits for ``gate`` when one is set."""

    def __init__(self, universe=UNIVERSE, *, errors=(), listed=None, gate=None, with_lookup=True):
        self.universe = list(universe)
        self.errors = list(errors)
        self.listed = {i.symbol: i for i in (listed if listed is not None else universe)}
        self.gate = gate  # asyncio.Event or threading.Event
        self.universe_calls = 0
        self.lookups: list[str] = []
        self.with_lookup = with_lookup

    async def fetch_universe(self, fetcher, base_url, errors):
        self.universe_calls += 1
        if isinstance(self.gate, asyncio.Event):
            await self.gate.wait()
        elif isinstance(self.gate, threading.Event):
            await asyncio.to_thread(self.gate.wait, 30)
        errors.extend(self.errors)
        return list(self.universe)

    async def lookup(self, fetcher, base_url, symbol, errors):
        self.lookups.append(symbol)
        return self.listed.get(symbol)

    def source(self) -> TierSource:
        return TierSource(fetch_universe=self.fetch_universe, lookup=self.lookup if self.with_lookup else None,
                          notes="test universe")


@pytest.fixture
def fake_source():
    """Install a ``Fake`` as Bybit's tier source; the real one comes back after the test."""
    original = registry.find("bybit")

    def install(fake: Fake) -> Fake:
        registry.register(dataclasses.replace(original, tiers=fake.source))
        return fake

    yield install
    registry.register(original)


def tiers_of(inst: Instrument) -> list[tuple[float, float, float, float]]:
    return [(t.floor, t.cap, t.mmr, t.max_leverage) for t in inst.tiers]


# ---------------------------------------------------------------------------- the cache file


async def test_full_universe_is_cached_with_as_of_and_source_and_reloaded_offline(fake_source, tmp_path):
    fake_source(Fake())
    report = await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    bybit = report.venues["bybit"]
    assert report.ok and bybit.state == "ok" and bybit.count == 4 and bybit.delisted == 1
    assert bybit.only_isolated == 1 and bybit.path == universe_path(tmp_path, "bybit")
    assert report.lines()[0].startswith("bybit: 4 contracts (1 delisted, 1 isolated-only), as of ")

    table = msgspec.json.decode((tmp_path / "bybit.json").read_bytes(), type=TableFile)
    assert table.venue == "bybit" and ISO_UTC.match(table.as_of) and table.source == SOURCE_URL
    assert table.notes == "test universe" and table.verified
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    # Offline: nothing but the files. The cached universe replaces bundled BTCUSDT and adds the rest.
    warnings: list[str] = []
    origins: dict = {}
    catalogue = load_catalogue(tmp_path, warnings=warnings, origins=origins)
    assert warnings == []
    bundled = default_catalogue()
    btc = catalogue.get("bybit", "BTCUSDT")
    assert tiers_of(btc) == tiers_of(UNIVERSE[0]) and btc.tiers != bundled.get("bybit", "BTCUSDT").tiers
    assert btc.as_of == UNIVERSE[0].as_of and btc.source == SOURCE_URL and btc.verified
    assert catalogue.get("bybit", "OLDUSDT").status == "delisted"
    assert catalogue.get("bybit", "ISOUSDT").only_isolated
    # maintenance amounts by the recurrence: 2,000,000 × (0.01 − 0.004)
    assert catalogue.get("bybit", "BTCUSDT").tiers[1].maint_amount == pytest.approx(12_000.0)
    # bundled contracts the universe does not list stay; other venues untouched
    for symbol in set(bundled.symbols("bybit")) - {i.symbol for i in UNIVERSE}:
        assert catalogue.get("bybit", symbol) == bundled.get("bybit", symbol)
    assert catalogue.get("okx", "BTC-USDT-SWAP") == bundled.get("okx", "BTC-USDT-SWAP")
    assert origins[("bybit", "AAAUSDT")].endswith("bybit.json") and ("okx", "BTC-USDT-SWAP") not in origins
    assert len(catalogue) == len(bundled) + len({i.symbol for i in UNIVERSE} - set(bundled.symbols("bybit")))


async def test_a_partial_fetch_keeps_the_contracts_it_could_not_read_again(fake_source, tmp_path):
    fake_source(Fake())
    await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    fake_source(Fake(UNIVERSE[:1], errors=["page 2: HTTP 500"]))
    report = await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    assert report.venues["bybit"].state == "partial" and report.ok  # written; what is missing is named
    assert "bybit: left out: page 2: HTTP 500" in report.lines()
    symbols = {i.symbol for i in decode_table((tmp_path / "bybit.json").read_bytes(), "t")}
    assert symbols == {i.symbol for i in UNIVERSE}
    # a complete fetch replaces the universe
    fake_source(Fake(UNIVERSE[:2]))
    await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    assert {i.symbol for i in decode_table((tmp_path / "bybit.json").read_bytes(), "t")} == {"BTCUSDT", "AAAUSDT"}


async def test_a_failed_fetch_leaves_the_last_good_cache(fake_source, tmp_path):
    fake_source(Fake())
    await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    before = (tmp_path / "bybit.json").read_bytes()

    class Broken(Fake):
        async def fetch_universe(self, fetcher, base_url, errors):
            raise ValueError("bybit: retCode 10006 (too many visits)")

    fake_source(Broken())
    report = await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    assert report.venues["bybit"].state == "failed" and not report.ok
    assert any("retCode 10006" in line for line in report.lines())
    assert (tmp_path / "bybit.json").read_bytes() == before


@pytest.mark.parametrize("garbage", [b"", b"{", b"\xff\xfe", b'{"venue": "bybit"}', b"[1, 2, 3]",
                                     b'{"venue":"bybit","source":"s","as_of":"x","verified":true,"taker_fee":0,'
                                     b'"instruments":[{"symbol":"X"}]}'])
def test_a_corrupt_cache_file_is_ignored_with_one_line(tmp_path, garbage):
    (tmp_path / "bybit.json").write_bytes(garbage)
    warnings: list[str] = []
    catalogue = load_catalogue(tmp_path, warnings=warnings)
    assert list(catalogue) == list(default_catalogue())
    assert len(warnings) == 1 and "bybit.json" in warnings[0] and "ignored" in warnings[0]
    assert "\n" not in warnings[0] and len(warnings[0]) < 400


def test_a_corrupt_cache_file_is_one_stderr_line_and_check_still_runs(tmp_path, capsys):
    (tmp_path / "okx.json").write_text('{"venue": "okx", "instruments": [')
    catalogue = tables.user_catalogue(cache_dir=tmp_path)
    assert list(catalogue) == list(default_catalogue())
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "okx.json" in err and "Traceback" not in err


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["AUSDT", "BUSDT", "CUSDT", "DUSDT"]),
                          st.floats(1e3, 1e9), st.floats(1e-4, 0.2), st.sampled_from(["trading", "delisted"]),
                          st.booleans(), st.sampled_from(["2026-12-06T04:00:00Z", "2026-11-01"])),
                min_size=1, max_size=4, unique_by=lambda t: t[0]))
def test_universe_table_round_trips_every_field(rows):
    instruments = [linear(s, (0.0, cap, mmr, min(1 / mmr, 200.0)), status=status, only_isolated=iso, as_of=as_of)
                   for s, cap, mmr, status, iso, as_of in rows]
    table = universe_table("bybit", instruments, "2026-12-06T04:00:00Z")
    back = decode_table(encode_table(table), "t")
    assert sorted(back, key=lambda i: i.symbol) == sorted(instruments, key=lambda i: i.symbol)


# ---------------------------------------------------------------------------- refreshed when a day old


async def test_a_venue_is_stale_when_missing_corrupt_or_over_a_day_old(fake_source, tmp_path):
    fake_source(Fake())
    assert stale_venues(["bybit"], tmp_path) == ["bybit"]  # missing
    await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    as_of = cache_as_of("bybit", tmp_path)
    assert ISO_UTC.match(as_of)
    assert stale_venues(["bybit"], tmp_path) == []
    fetched = time.time()
    assert stale_venues(["bybit"], tmp_path, now=fetched + 23 * 3600) == []
    assert stale_venues(["bybit"], tmp_path, now=fetched + 25 * 3600) == ["bybit"]
    (tmp_path / "bybit.json").write_text("not json")
    assert stale_venues(["bybit"], tmp_path) == ["bybit"]
    # a venue without any public source is never "stale": there is nothing to fetch
    registry.register(dataclasses.replace(registry.find("bybit"), tiers=lambda: TierSource(skip="no endpoint")))
    assert stale_venues(["bybit"], tmp_path) == []


async def test_refresh_stale_refreshes_only_what_is_old_and_returns_the_new_catalogue(fake_source, tmp_path):
    fake = fake_source(Fake())
    landed = await tables.refresh_stale(["bybit"], cache_dir=tmp_path, rest_urls=NOWHERE)
    assert landed is not None and landed.venues == ("bybit",) and "bybit" in landed.notice
    assert tiers_of(landed.catalogue.get("bybit", "AAAUSDT")) == tiers_of(UNIVERSE[1])
    assert await tables.refresh_stale(["bybit"], cache_dir=tmp_path, rest_urls=NOWHERE) is None  # fresh now
    assert fake.universe_calls == 1


def test_one_shot_refresh_lands_within_the_bound_or_is_left_behind(fake_source, tmp_path):
    gate = threading.Event()
    fake_source(Fake(gate=gate))
    refresh = tables.BackgroundRefresh.start(["bybit"], offline=False, cache_dir=tmp_path, rest_urls=NOWHERE)
    assert refresh is not None
    assert refresh.wait(0.05) is None  # still held by the gate: the command computes with what it has
    assert not (tmp_path / "bybit.json").exists()

    gate.set()
    refresh = tables.BackgroundRefresh.start(["bybit"], offline=False, cache_dir=tmp_path, rest_urls=NOWHERE)
    landed = refresh.wait(30)
    assert landed is not None and ("bybit", "AAAUSDT") in landed.catalogue
    assert (tmp_path / "bybit.json").exists()
    # offline, or fresh: no refresh at all
    assert tables.BackgroundRefresh.start(["bybit"], offline=True, cache_dir=tmp_path) is None
    assert tables.BackgroundRefresh.start(["bybit"], offline=False, cache_dir=tmp_path) is None


async def test_watch_task_rebuilds_the_monitors_portfolio_when_the_refresh_lands(fake_source, tmp_path):
    gate = asyncio.Event()
    fake_source(Fake(gate=gate))
    portfolio = parse('[[account]]\nvenue = "bybit"\nwallet_balance = 1000.0\n[[account.position]]\n'
                      'symbol = "BTCUSDT"\nside = "long"\nsize = 1.0\nentry_price = 60000.0\nleverage = 10\n')
    monitor = Monitor(portfolio)
    old = monitor.portfolio.accounts[0].positions[0].instrument
    task = asyncio.create_task(tables.refresh_into(monitor, ["bybit"], cache_dir=tmp_path, rest_urls=NOWHERE))
    await asyncio.sleep(0)
    assert monitor.portfolio.accounts[0].positions[0].instrument == old  # not before it lands
    gate.set()
    landed = await asyncio.wait_for(task, 10)
    assert landed is not None
    position = monitor.portfolio.accounts[0].positions[0]
    assert tiers_of(position.instrument) == tiers_of(UNIVERSE[0])
    assert ("bybit", "AAAUSDT") in monitor.portfolio.catalogue


def test_rebind_keeps_a_portfolio_mmr_override():
    portfolio = parse('[[account]]\nvenue = "bybit"\nwallet_balance = 1000.0\n[[account.position]]\n'
                      'symbol = "BTCUSDT"\nside = "long"\nsize = 1.0\nentry_price = 60000.0\nleverage = 10\n'
                      'mmr = 0.02\n')
    catalogue = default_catalogue().with_instruments(UNIVERSE)
    position = tables.rebind(portfolio, catalogue).accounts[0].positions[0]
    assert [(t.mmr, t.floor, t.cap) for t in position.instrument.tiers] == [(0.02, 0.0, math.inf)]
    assert position.instrument.as_of == UNIVERSE[0].as_of or position.instrument.source == "portfolio override"


# ---------------------------------------------------------------------------- looked up before refused

UNKNOWN_PORTFOLIO = """[[account]]
venue = "bybit"
wallet_balance = 1000.0

[[account.position]]
symbol = "{symbol}"
side = "long"
size = 10.0
entry_price = 1.5
leverage = 5
"""


async def test_lookup_caches_what_the_venue_lists_and_names_what_it_does_not(fake_source, tmp_path):
    fake = fake_source(Fake(listed=[*UNIVERSE, linear("NEWUSDT", (0.0, 1e6, 0.01, 50.0))]))
    report = await lookup_symbols([("bybit", "NEWUSDT"), ("bybit", "NOPEUSDT")], tmp_path, rest_urls=NOWHERE)
    assert [i.symbol for i in report.found] == ["NEWUSDT"] and report.missing == [("bybit", "NOPEUSDT")]
    assert fake.lookups == ["NEWUSDT", "NOPEUSDT"] and fake.universe_calls == 0
    assert lookups_path(tmp_path, "bybit").exists() and not universe_path(tmp_path, "bybit").exists()
    assert ("bybit", "NEWUSDT") in load_catalogue(tmp_path)  # offline next time too
    assert stale_venues(["bybit"], tmp_path) == ["bybit"]  # a lookup is not a universe


async def test_lookup_without_a_lookup_endpoint_fetches_the_universe(fake_source, tmp_path):
    fake = fake_source(Fake(with_lookup=False))
    report = await lookup_symbols([("bybit", "AAAUSDT")], tmp_path, rest_urls=NOWHERE)
    assert [i.symbol for i in report.found] == ["AAAUSDT"] and fake.universe_calls == 1
    assert universe_path(tmp_path, "bybit").exists()


def test_startup_catalogue_looks_up_an_unknown_symbol_online_only(fake_source, tmp_path):
    fake = fake_source(Fake(listed=[linear("NEWUSDT", (0.0, 1e6, 0.01, 50.0))]))
    path = tmp_path / "p.toml"
    path.write_text(UNKNOWN_PORTFOLIO.format(symbol="NEWUSDT"))
    cache = tmp_path / "cache"
    offline = tables.startup_catalogue(path, offline=True, cache_dir=cache)
    assert ("bybit", "NEWUSDT") not in offline and fake.lookups == []
    online = tables.startup_catalogue(path, offline=False, cache_dir=cache)
    assert ("bybit", "NEWUSDT") in online and fake.lookups == ["NEWUSDT"]
    # known symbols are never looked up
    path.write_text(UNKNOWN_PORTFOLIO.format(symbol="BTCUSDT"))
    tables.startup_catalogue(path, offline=False, cache_dir=cache)
    assert fake.lookups == ["NEWUSDT"]


def test_an_unknown_symbol_is_refused_naming_file_venue_symbol_and_closest_spellings(tmp_path):
    from adlwatch.engine.errors import InputError
    from tests.portfolio_files import load

    path = tmp_path / "p.toml"
    path.write_text(UNKNOWN_PORTFOLIO.format(symbol="BTC-USDT-SWAP"))
    with pytest.raises(InputError) as caught:
        load(path, tables.startup_catalogue(path, offline=True, cache_dir=tmp_path / "cache"))
    line = str(caught.value)
    assert str(path) in line and "bybit" in line and "BTC-USDT-SWAP" in line and "did you mean BTCUSDT" in line
    assert "\n" not in line


# ---------------------------------------------------------------------------- adlwatch tiers


async def test_summary_says_per_venue_how_many_from_where_and_how_old(fake_source, tmp_path):
    fake_source(Fake())
    await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    origins: dict = {}
    catalogue = load_catalogue(tmp_path, origins=origins)
    lines = summary(catalogue, origins, now=time.time())
    text = "\n".join(lines)
    bybit_total = len(catalogue.symbols("bybit"))
    assert f"bybit: {bybit_total} contracts" in lines
    assert re.search(r"^\s+4 cache: .*bybit\.json, as of 2026-12-06T04:00:00Z \(\d+\.\d days old\)$", text, re.M), text
    assert re.search(r"^\s+\d+ bundled tables \(engine/data/instruments\), as of ", text, re.M)
    fetched = "\n".join(summary(catalogue, origins, fetched=["bybit"]))
    assert re.search(r"^\s+4 fetched: ", fetched, re.M)


def test_tier_dataclass_is_what_the_cache_rebuilds():
    # the cache stores (floor, cap, mmr, max_leverage) only; amounts come back by the recurrence
    inst = UNIVERSE[0]
    back = decode_table(encode_table(universe_table("bybit", [inst], inst.as_of)), "t")[0]
    assert back.tiers == inst.tiers and isinstance(back.tiers[0], Tier)


# ---------------------------------------------------------------------------- the monitor never waits

BYBIT_PORTFOLIO = """[[account]]
venue = "bybit"
wallet_balance = 10000.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 1.0
entry_price = 60000.0
leverage = 10
"""


async def test_monitor_draws_its_first_screen_before_the_refresh_lands_then_rebuilds(fake_source, tmp_path):
    from adlwatch.engine.events import MarkPrice
    from adlwatch.tui.app import AdlwatchApp
    from tests.tui.test_app import ListSource

    gate = asyncio.Event()
    fake = fake_source(Fake(gate=gate))
    source = ListSource([MarkPrice(venue="bybit", symbol="BTCUSDT", ts=1_700_000_000_000, price=58_000.0)])
    app = AdlwatchApp(parse(BYBIT_PORTFOLIO), source, catalogue_refresh=lambda monitor: tables.refresh_into(
        monitor, ["bybit"], cache_dir=tmp_path, rest_urls=NOWHERE))
    notices: list[str] = []
    real_notify = app.notify

    def notify(message, **kwargs):
        notices.append(str(message))
        return real_notify(message, **kwargs)

    app.notify = notify
    old_tiers = default_catalogue().get("bybit", "BTCUSDT").tiers
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        # the first screen is up while the refresh is held at the gate
        assert app.view is not None and app.view.live.positions
        assert fake.universe_calls == 1 and not gate.is_set()
        assert app.monitor.portfolio.accounts[0].positions[0].instrument.tiers == old_tiers
        gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        position = app.monitor.portfolio.accounts[0].positions[0]
        assert tiers_of(position.instrument) == tiers_of(UNIVERSE[0])
        assert any("tier tables refreshed: bybit" in n for n in notices)
        app.refresh_view()
        live = app.view.live.positions[0]
        assert live.liquidation_price is not None and live.tiers_as_of == UNIVERSE[0].as_of


async def test_a_command_reads_only_the_cache_files_of_the_venues_it_holds(fake_source, tmp_path):
    fake_source(Fake())
    await refresh_catalogue(["bybit"], tmp_path, rest_urls=NOWHERE)
    (tmp_path / "okx.json").write_text("corrupt, but not read")
    warnings: list[str] = []
    only_bybit = load_catalogue(tmp_path, warnings=warnings, venues=["bybit"])
    assert ("bybit", "AAAUSDT") in only_bybit and warnings == []
    only_okx = load_catalogue(tmp_path, warnings=warnings, venues=["okx"])
    assert ("bybit", "AAAUSDT") not in only_okx and len(warnings) == 1 and "okx.json" in warnings[0]
    # the bundled tables stay whole either way
    assert only_okx.get("bybit", "BTCUSDT") == default_catalogue().get("bybit", "BTCUSDT")


async def test_watch_runs_the_refresh_beside_the_feeds_and_cancels_it_at_the_end(fake_source, tmp_path):
    import io

    from adlwatch.engine.alert_rules import AlertRules
    from adlwatch.engine.events import MarkPrice
    from adlwatch.tui.watch import Watch

    class Source:
        def __init__(self, then):
            self.then = then

        async def run(self, emit):
            emit(MarkPrice(venue="bybit", symbol="BTCUSDT", ts=1_700_000_000_000, price=58_000.0))
            self.then()
            await asyncio.Event().wait()

    gate = asyncio.Event()
    fake_source(Fake(gate=gate))
    portfolio = parse(BYBIT_PORTFOLIO)
    watch = Watch(portfolio, AlertRules(), out=io.StringIO(), err=io.StringIO(), clock=lambda: 1000.0)

    async def tiers(monitor):
        landed = await tables.refresh_into(monitor, ["bybit"], cache_dir=tmp_path, rest_urls=NOWHERE)
        watch.stop()
        return landed

    assert await asyncio.wait_for(watch.run(Source(gate.set), tiers_refresh=tiers), 20) == 0
    assert tiers_of(watch.monitor.portfolio.accounts[0].positions[0].instrument) == tiers_of(UNIVERSE[0])

    # the run ends first: the refresh still held at its gate is cancelled, nothing written
    held = asyncio.Event()
    fake_source(Fake(gate=held))
    other = tmp_path / "other"
    watch = Watch(parse(BYBIT_PORTFOLIO), AlertRules(), out=io.StringIO(), err=io.StringIO(), clock=lambda: 1000.0)
    code = await asyncio.wait_for(watch.run(Source(watch.stop), tiers_refresh=lambda monitor: tables.refresh_into(
        monitor, ["bybit"], cache_dir=other, rest_urls=NOWHERE)), 20)
    assert code == 0 and not (other / "bybit.json").exists()


# ---------------------------------------------------------------------------- every venue, end to end


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
async def test_each_venues_whole_universe_from_the_emulator_is_cached_and_read_back_offline(emulator, tmp_path,
                                                                                        venue):
    if registry.find(venue).tiers().fetch_universe is None:
        pytest.skip(f"{venue} has no fetch_universe yet")
    report = await refresh_catalogue([venue], tmp_path, rest_urls={venue: emulator.rest_url(venue)},
                                     request_gap_s=0, backoff_initial_s=0.01)
    result = report.venues[venue]
    assert result.path == universe_path(tmp_path, venue) and result.count > 100, report.lines()
    assert result.delisted > 0  # the emulator lists delisted contracts too
    as_of = cache_as_of(venue, tmp_path)
    assert ISO_UTC.match(as_of) and stale_venues([venue], tmp_path) == []
    table = msgspec.json.decode(result.path.read_bytes(), type=TableFile)
    assert table.venue == venue and table.as_of == as_of and emulator.rest_url(venue) in table.source

    # offline: the cache alone gives every fetched contract, with its provenance
    origins: dict = {}
    catalogue = load_catalogue(tmp_path, origins=origins)
    cached = [key for key, path in origins.items() if key[0] == venue]
    assert len(cached) == result.count
    kinds = {catalogue.get(*key).kind for key in cached}
    assert "linear" in kinds and (venue == "hyperliquid" or "inverse" in kinds or venue == "binance")
    for key in cached[:50]:
        inst = catalogue.get(*key)
        assert inst.as_of and inst.source and (inst.tiers or inst.status != "trading")


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx", "hyperliquid"])
async def test_each_venue_looks_up_a_contract_no_table_knows_from_the_emulator(emulator, tmp_path, venue):
    source = registry.find(venue).tiers()
    if source.fetch_universe is None:
        pytest.skip(f"{venue} has no fetch_universe yet")
    urls = {venue: emulator.rest_url(venue)}
    await refresh_catalogue([venue], tmp_path / "universe", rest_urls=urls, request_gap_s=0)
    listed = decode_table(universe_path(tmp_path / "universe", venue).read_bytes(), venue)
    bundled = default_catalogue()
    wanted = next((i for i in listed if (venue, i.symbol) not in bundled and i.status == "trading" and i.tiers), None)
    if wanted is None:  # Binance: brackets come from the bundle, so every contract it can model is bundled
        pytest.skip(f"every {venue} contract the emulator lists with tiers is bundled")

    cache = tmp_path / "cache"
    report = await lookup_symbols([(venue, wanted.symbol), (venue, "NOSUCHCOIN-PERP")], cache, rest_urls=urls,
                                  request_gap_s=0)
    assert [i.symbol for i in report.found] == [wanted.symbol], report.errors
    assert report.missing == [(venue, "NOSUCHCOIN-PERP")]
    found = load_catalogue(cache).get(venue, wanted.symbol)
    assert tiers_of(found) == tiers_of(wanted) and found.kind == wanted.kind
