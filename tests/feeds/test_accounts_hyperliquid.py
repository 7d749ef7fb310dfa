"""Following a Hyperliquid address: the clearinghouseState mapping, the engine's liquidation price against
the venue's ``liquidationPx`` on published and captured states, and the follower against the loopback
emulator (feeds/venues/hyperliquid/emulator_user.py).

Sources: Hyperliquid GitBook ``for-developers/api/info-endpoint/perpetuals`` (the example state, test
H1 of research/exchanges.md), ``…/websocket/subscriptions``, ``…/rate-limits-and-user-limits``,
``trading/liquidations``. The captured states and their provenance: fixtures/hyperliquid_states/README.md.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import AccountState, Event, FeedStatus, ImportedPosition, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine
from adlwatch.feeds.accounts import fetch_followed, followers_for
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.venues.hyperliquid.account import (
    HyperliquidFollower,
    UserSocket,
    account_state,
    parse_state_body,
    parse_user_frame,
    state_events,
)
from adlwatch.feeds.venues.hyperliquid.emulator_user import install_hyperliquid_users
from tests.feeds.conftest import FAST as FEED_FAST
from tests.feeds.live_helpers import mark_of, run_until

STATES = Path(__file__).parent / "fixtures" / "hyperliquid_states"
ADDRESS = "0x" + "ab" * 20
TOLERANCE = 1e-4  # 0.01 %
CATALOGUE = default_catalogue()
KNOWN_COINS = set(CATALOGUE.symbols("hyperliquid"))


def load(name: str) -> dict[str, Any]:
    return json.loads((STATES / name).read_text(encoding="utf-8"))


def raw_positions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["position"] for entry in doc["assetPositions"]]


def venue_mark(raw: dict[str, Any]) -> float:
    return float(raw["positionValue"]) / abs(float(raw["szi"]))


# ---------------------------------------------------------------------------- engine helpers


def engine_with(state: AccountState) -> RiskEngine:
    """A followed Hyperliquid account fed the state and a mark per position at positionValue / |szi|."""
    portfolio = Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": state.symbol}]}, CATALOGUE)
    engine = RiskEngine(portfolio)  # the portfolio carries CATALOGUE
    engine.apply(state)
    for position in state.positions:
        if position.mark_price is not None:
            engine.apply(MarkPrice(venue="hyperliquid", symbol=position.symbol, ts=None, price=position.mark_price))
    return engine


def ours(engine: RiskEngine, coin: str) -> float | None:
    [risk] = [p for p in engine.snapshot().positions if p.symbol == coin]
    return risk.liquidation_price


def matches(ours_price: float | None, venue_price: float | None) -> bool:
    if venue_price is None or ours_price is None:
        return ours_price is None and venue_price is None
    return abs(ours_price / venue_price - 1.0) <= TOLERANCE


def venue_liquidation(raw: dict[str, Any]) -> float | None:
    value = raw.get("liquidationPx")
    return float(value) if value is not None else None


# ---------------------------------------------------------------------------- the mapping


def test_docs_example_maps_to_the_isolated_margin_without_upnl():
    """H1: equity = rawUsd + positionValue = 4.967826 (= marginUsed); the margin adlwatch adds its own
    uPnL to is rawUsd + szi × entryPx = 4.981226, its uPnL at 2985.9 is the reported −0.0134."""
    state = account_state(load("docs_example.json"), ADDRESS, catalogue=CATALOGUE)
    [eth] = state.positions
    assert eth.isolated_margin == pytest.approx(-95.059824 + 0.0335 * 2986.3, abs=1e-9)
    assert eth.isolated_margin + 0.0335 * (eth.mark_price - 2986.3) == pytest.approx(4.967826, abs=1e-9)
    assert eth.mark_price == pytest.approx(2985.9, abs=1e-9)
    # ETH's maximum was 50x then (the table now says 25x): the venue's tier travels with the position.
    assert eth.brackets == [(0.0, 1e12, 0.01, 50.0, 0.0)]
    assert any("50x" in w and "25x" in w for w in state.warnings)


def test_short_isolated_margin_is_raw_usd_minus_entry_notional():
    """A short's rawUsd holds the sale proceeds: equity rawUsd − positionValue; margin rawUsd − |szi| × entry."""
    state = account_state(load("btc_isolated_short_2026-08-03.json"), ADDRESS, catalogue=CATALOGUE)
    [btc] = state.positions
    assert btc.side == "short"
    assert btc.isolated_margin == pytest.approx(15.665304 - 0.00024 * 63709.5, abs=1e-12)
    equity = btc.isolated_margin - 0.00024 * (btc.mark_price - 63709.5)
    assert equity == pytest.approx(15.665304 - 15.042, abs=1e-9)


def test_cross_wallet_is_account_value_less_cross_upnl_and_excludes_isolated():
    doc = load("vault_16_positions_2026-01-14.json")
    state = account_state(doc, ADDRESS, catalogue=CATALOGUE)
    cross = [p for p in raw_positions(doc) if p["leverage"]["type"] == "cross"]
    cross_value = float(doc["crossMarginSummary"]["accountValue"])
    upnl = math.fsum(float(p["szi"]) * (venue_mark(p) - float(p["entryPx"])) for p in cross)
    assert state.wallet_balance == pytest.approx(cross_value - upnl, rel=1e-12)
    # The same, from the ledger: the cross raw USD plus what the cross positions cost at entry.
    ledger = float(doc["crossMarginSummary"]["totalRawUsd"]) + sum(float(p["szi"]) * float(p["entryPx"]) for p in cross)
    assert state.wallet_balance == pytest.approx(ledger, rel=1e-9)
    assert state.account_value == cross_value
    assert state.maintenance_margin == float(doc["crossMaintenanceMarginUsed"])


def test_a_position_listed_at_size_zero_is_left_out():
    doc = load("docs_example.json")
    closed = copy.deepcopy(doc["assetPositions"][0])
    closed["position"].update(coin="BTC", szi="0.0")
    doc["assetPositions"].append(closed)
    assert [p.symbol for p in account_state(doc, ADDRESS, catalogue=CATALOGUE).positions] == ["ETH"]


def test_an_unreadable_position_rejects_the_whole_state():
    doc = load("vault_16_positions_2026-01-14.json")
    doc["assetPositions"][3]["position"]["entryPx"] = "n/a"
    [event] = state_events(doc, ADDRESS, catalogue=CATALOGUE)
    assert isinstance(event, FeedStatus) and event.state == "error"
    assert "LTC" in event.detail and "entryPx" in event.detail
    assert event.symbol == f"account:{ADDRESS}"


# ---------------------------------------------------------------------------- liquidation price match

MATCHING = [
    ("docs_example.json", "ETH"),
    ("eth_isolated_2024-01-03.json", "ETH"),
    ("eth_isolated_2025-11-04.json", "ETH"),
    ("eth_isolated_position_2025-11.json", "ETH"),
    ("btc_isolated_long_2026-08-03.json", "BTC"),
    ("btc_isolated_short_2026-08-03.json", "BTC"),
    # Every position of the vault, 14 cross and 2 isolated, 12 of them in coins outside the bundled
    # tables: those are modelled from the venue's own maxLeverage on the position (engine/venues/
    # hyperliquid.py instrument_from_report). Where the venue reports no liquidation price (SOL, LTC,
    # LDO, WIF, MOODENG, IP: the account cannot be liquidated by them), neither does adlwatch.
    *[("vault_16_positions_2026-01-14.json", coin) for coin in (
        "BTC", "ETH", "SOL", "LTC", "LDO", "XRP", "WIF", "SAGA", "MOODENG", "PURR", "HYPE", "VIRTUAL", "MORPHO",
        "IP", "MON", "MET")],
]
UNIFIED_GAP = ("the venue counts ~8,347 USDC of collateral clearinghouseState does not show (unified or "
               "portfolio-margin account): the follower reads spotClearinghouseState, but this account's spot "
               "state was not captured (fixtures README)")
KNOWN_GAPS = [pytest.param("btc_cross_2026-09-25.json", "BTC", marks=pytest.mark.xfail(strict=True, reason=UNIFIED_GAP))]


@pytest.mark.parametrize(("name", "coin"), [*MATCHING, *KNOWN_GAPS])
def test_liquidation_price_matches_the_venues(name, coin):
    doc = load(name)
    [raw] = [p for p in raw_positions(doc) if p["coin"] == coin]
    state = account_state(doc, ADDRESS, catalogue=CATALOGUE)
    engine = engine_with(state)
    assert matches(ours(engine, coin), venue_liquidation(raw)), (ours(engine, coin), raw.get("liquidationPx"))


def test_every_main_dex_coin_of_the_fixtures_is_checked():
    """Each position of a fixture in a main-dex coin (adlwatch models every one) is one case of the
    match test above; only HIP-3 assets (``dex:COIN``) are left out."""
    cases = {(name, coin) for name, coin in MATCHING} | {tuple(p.values) for p in KNOWN_GAPS}
    for path in sorted(STATES.glob("*.json")):
        for raw in raw_positions(json.loads(path.read_text(encoding="utf-8"))):
            if ":" not in raw["coin"]:
                assert (path.name, raw["coin"]) in cases


def test_unmodelled_cross_positions_are_held_at_the_venues_mark():
    """Each cross position adlwatch cannot model keeps its uPnL at the venue's mark and its maintenance
    margin (its bracket × value) in the cross account: the sums the engine holds, by hand."""
    from adlwatch.engine.portfolio import with_account_states

    # The vault with its coins outside the bundled tables renamed to a HIP-3 dex's (``xyz:LTC``): a
    # contract adlwatch cannot describe, but whose uPnL and maintenance margin the venue reports.
    doc = load("vault_16_positions_2026-01-14.json")
    for raw in raw_positions(doc):
        if raw["coin"] not in KNOWN_COINS:
            raw["coin"] = "xyz:" + raw["coin"]
    state = account_state(doc, ADDRESS, catalogue=CATALOGUE)
    pnl = maintenance = 0.0
    for p in state.positions:
        if p.symbol in KNOWN_COINS or p.margin_mode != "cross":
            continue
        sign = 1.0 if p.side == "long" else -1.0
        [(_, _, mmr, _, _)] = p.brackets
        pnl += sign * p.size * (p.mark_price - p.entry_price)
        maintenance += mmr * p.size * p.mark_price
    engine = engine_with(state)
    account = engine.portfolio.accounts[0]
    assert account.unmodelled_pnl == pytest.approx(pnl, rel=1e-12) and pnl != 0
    assert account.unmodelled_maintenance == pytest.approx(maintenance, rel=1e-12) and maintenance > 0
    assert with_account_states(engine.portfolio, [state]).accounts[0].unmodelled_pnl == account.unmodelled_pnl


def test_vault_figures_follow_from_the_whole_cross_account():
    """The data is consistent: the venue's exact formula on (accountValue − crossMaintenanceMarginUsed)."""
    doc = load("vault_16_positions_2026-01-14.json")
    available = float(doc["crossMarginSummary"]["accountValue"]) - float(doc["crossMaintenanceMarginUsed"])
    for raw in raw_positions(doc):
        if raw["leverage"]["type"] != "cross":
            continue
        size = float(raw["szi"])
        side = 1.0 if size > 0 else -1.0
        price = venue_mark(raw) - side * available / abs(size) / (1.0 - side * 0.5 / raw["maxLeverage"])
        assert matches(price if price > 0 else None, venue_liquidation(raw)), raw["coin"]


def test_unified_account_gap_is_collateral_outside_the_perp_state():
    """adlwatch agrees with the venue's formula applied to the body; the venue's own figure is lower by
    what ~8,347 USDC more collateral moves it (fixtures README)."""
    doc = load("btc_cross_2026-09-25.json")
    [raw] = raw_positions(doc)
    engine = engine_with(account_state(doc, ADDRESS, catalogue=CATALOGUE))
    available = float(doc["crossMarginSummary"]["accountValue"]) - float(doc["crossMaintenanceMarginUsed"])
    from_body = venue_mark(raw) - available / 4.5 / (1.0 - 1.0 / 80.0)
    assert ours(engine, "BTC") == pytest.approx(from_body, rel=1e-9)
    missing = (from_body - venue_liquidation(raw)) * 4.5 * (1.0 - 1.0 / 80.0)
    assert missing == pytest.approx(8346.91, abs=0.01)


def test_a_hip3_asset_is_reported_not_modelled():
    state = account_state(load("hip3_xyz_isolated_2025-11-16.json"), ADDRESS, catalogue=CATALOGUE)
    snapshot = engine_with(state).snapshot()
    [account] = snapshot.accounts
    assert "xyz:XYZ100" not in KNOWN_COINS
    assert any(w.startswith("xyz:XYZ100 ") and "not modelled" in w for w in account.warnings)
    assert "xyz:XYZ100" not in {p.symbol for p in snapshot.positions}


def test_main_dex_coins_outside_the_bundled_tables_are_modelled():
    """A followed account's positions in any listed coin are modelled, not held constant: the 12 coins
    of the vault that no bundled table knows get the venue's own maximum leverage as their tier."""
    coins = ["LTC", "LDO", "WIF", "SAGA", "MOODENG", "PURR", "HYPE", "VIRTUAL", "MORPHO", "IP", "MON", "MET"]
    doc = load("vault_16_positions_2026-01-14.json")
    engine = engine_with(account_state(doc, ADDRESS, catalogue=CATALOGUE))
    snapshot = engine.snapshot()
    [account] = snapshot.accounts
    assert not any("not modelled" in w for w in account.warnings)
    assert engine.portfolio.accounts[0].unmodelled_pnl == 0.0
    assert engine.portfolio.accounts[0].unmodelled_maintenance == 0.0
    by_coin = {p.symbol: p for p in engine.portfolio.accounts[0].positions}
    for raw in raw_positions(doc):
        if raw["coin"] not in coins:
            continue
        assert raw["coin"] not in KNOWN_COINS
        instrument = by_coin[raw["coin"]].instrument
        assert (instrument.kind, instrument.settle, instrument.contract_size) == ("linear", "USDC", 1.0)
        assert [(t.mmr, t.max_leverage) for t in instrument.tiers] == [(0.5 / raw["maxLeverage"], raw["maxLeverage"])]


# ---------------------------------------------------------------------------- never raises


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_paths(item, (*prefix, i)))
    return out


_DELETE = object()
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.sampled_from(
    ["0", "-1", "1e308", "nan", "inf", "", "0x", "cross", "isolated", "-95.059824"])
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
_BODIES = [load("docs_example.json"), load("vault_16_positions_2026-01-14.json"), load("eth_isolated_2024-01-03.json")]


def _mutate(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return None if value is _DELETE else value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated_bodies(draw):
    doc = copy.deepcopy(draw(st.sampled_from(_BODIES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        doc = _mutate(doc, path, draw(st.just(_DELETE) | _VALUES))
        if not isinstance(doc, dict | list):
            break
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_mapper_never_raises_on_mutated_states(doc):
    events = state_events(doc, ADDRESS, catalogue=CATALOGUE)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, AccountState) or (isinstance(event, FeedStatus) and event.state == "error")
    if isinstance(event, AccountState):
        assert math.isfinite(event.wallet_balance)
        assert all(p.size > 0 and p.entry_price > 0 and p.leverage > 0 for p in event.positions)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_body_and_frame_parsers_never_raise(data):
    [event] = parse_state_body(data, ADDRESS)
    assert isinstance(event, AccountState | FeedStatus)
    assert parse_user_frame(data).kind in ("bad", "pong", "error", "ack", "unsubscribed", "state", "other-dex")


# ---------------------------------------------------------------------------- against the emulator

FAST = dict(poll_interval_s=0.2, backoff_initial_s=0.05, backoff_max_s=0.2, ping_interval_s=0.2,
            silence_timeout_s=1.0, ack_timeout_s=2.0, timeout_s=2.0)


def make_follower(emu, address: str = ADDRESS, **overrides) -> HyperliquidFollower:
    options = dict(FAST, catalogue=CATALOGUE, rng=random.Random(1))
    options.update(overrides)
    return HyperliquidFollower(address, rest_url=emu.rest_url("hyperliquid"), ws_url=emu.ws_url("hyperliquid"),
                               **options)


class Following:
    """``async with Following(follower) as run:`` the follower runs; ``run.events`` is what it emitted."""

    def __init__(self, follower: HyperliquidFollower):
        self.follower = follower
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Following:
        self.task = asyncio.create_task(self.follower.run(self._emit))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.follower.stop()
        await asyncio.wait_for(self.task, 5.0)  # run() ends promptly on stop() and never raises
        assert self.task.exception() is None

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[Event], bool], count: int = 1, timeout: float = 5.0) -> list[Event]:
        async def waiter() -> list[Event]:
            while True:
                got = [e for e in self.events if predicate(e)]
                if len(got) >= count:
                    return got
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(waiter(), timeout)

    def states(self) -> list[AccountState]:
        return [e for e in self.events if isinstance(e, AccountState)]


def status(state: str, text: str = "") -> Callable[[Event], bool]:
    return lambda e: isinstance(e, FeedStatus) and e.state == state and text in e.detail


def is_state(predicate: Callable[[AccountState], bool] = lambda s: True) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, AccountState) and predicate(e)


def liquidation_of(state: AccountState, coin: str) -> float | None:
    return next((p.liquidation_price for p in state.positions if p.symbol == coin), None)


async def test_fetch_imports_the_docs_example_field_by_field(emulator):
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    [state] = await make_follower(emulator).fetch()
    assert isinstance(state, AccountState)
    assert (state.venue, state.symbol, state.ts, state.settle) == ("hyperliquid", ADDRESS, 1708622398623, "USDC")
    assert state.wallet_balance == pytest.approx(13104.514502, abs=1e-9)
    assert state.account_value == pytest.approx(13104.514502, abs=1e-9)
    assert state.maintenance_margin == 0.0
    assert state.permissions == []
    assert state.warnings == ["ETH: Hyperliquid's maximum leverage is 50x where adlwatch's tier table says 25x; "
                              "the venue's 50x (maintenance 1.00%) is used"]
    [eth] = state.positions
    expected = ImportedPosition(symbol="ETH", side="long", size=0.0335, entry_price=2986.3, leverage=20.0,
                                margin_mode="isolated", isolated_margin=eth.isolated_margin,
                                liquidation_price=2866.26936529, adl_lights=None, adl_raw=None,
                                mark_price=eth.mark_price, unrealized_pnl=-0.0134,
                                brackets=[(0.0, 1e12, 0.01, 50.0, 0.0)],
                                funding_pnl=0.0)  # cumFunding.sinceOpen "0.0"
    assert eth == expected
    assert eth.isolated_margin == pytest.approx(4.981226, abs=1e-9)
    assert eth.mark_price == pytest.approx(2985.9, abs=1e-9)
    assert users.posts[ADDRESS] == 1


async def test_fetch_imports_every_field_of_a_cross_account(emulator):
    doc = load("vault_16_positions_2026-01-14.json")
    install_hyperliquid_users(emulator, {ADDRESS: doc})
    [state] = await make_follower(emulator).fetch()
    assert isinstance(state, AccountState) and state.ts == 1768397010203
    assert state.account_value == float(doc["crossMarginSummary"]["accountValue"])
    assert state.maintenance_margin == float(doc["crossMaintenanceMarginUsed"])
    assert [p.symbol for p in state.positions] == [p["coin"] for p in raw_positions(doc)]
    for raw, got in zip(raw_positions(doc), state.positions, strict=True):
        size = float(raw["szi"])
        isolated = raw["leverage"]["type"] == "isolated"
        assert got.side == ("long" if size > 0 else "short")
        assert (got.size, got.entry_price, got.leverage) == (abs(size), float(raw["entryPx"]), raw["leverage"]["value"])
        assert got.margin_mode == raw["leverage"]["type"]
        assert got.liquidation_price == venue_liquidation(raw)
        assert got.mark_price == pytest.approx(venue_mark(raw), rel=1e-15)
        assert got.unrealized_pnl == float(raw["unrealizedPnl"])
        assert (got.adl_lights, got.adl_raw) == (None, None)  # Hyperliquid reports no ADL indicator
        if isolated:
            assert got.isolated_margin == pytest.approx(float(raw["leverage"]["rawUsd"]) + size * float(raw["entryPx"]))
        else:
            assert got.isolated_margin is None
        if raw["coin"] in KNOWN_COINS:
            assert got.brackets is None  # the catalogue's first tier is the venue's maximum
        else:
            assert got.brackets == [(0.0, 1e12, 0.5 / raw["maxLeverage"], float(raw["maxLeverage"]), 0.0)]


async def test_followers_for_builds_hyperliquid_followers_that_check_reads(emulator):
    install_hyperliquid_users(emulator, {ADDRESS: load("eth_isolated_2025-11-04.json")})
    portfolio = Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": ADDRESS.upper().replace("0X", "0x")}]}, CATALOGUE)
    followers = followers_for(portfolio, rest_urls={"hyperliquid": emulator.rest_url("hyperliquid")},
                              ws_urls={"hyperliquid": emulator.ws_url("hyperliquid")}, key_store="ignored")
    assert [type(f) for f in followers] == [HyperliquidFollower]
    states, problems = await fetch_followed(followers)
    assert problems == []
    assert [(s.symbol, liquidation_of(s, "ETH")) for s in states] == [(ADDRESS, 3552.812244898)]


async def test_fetch_of_an_unreachable_venue_is_one_status_line(emulator):
    follower = HyperliquidFollower(ADDRESS, rest_url="http://127.0.0.1:9", timeout_s=1.0)
    [event] = await follower.fetch()
    assert isinstance(event, FeedStatus) and event.state == "error"
    assert "unreachable" in event.detail and event.symbol == f"account:{ADDRESS}"


async def test_a_malformed_address_is_refused_like_the_venue_does(emulator):
    install_hyperliquid_users(emulator)
    [event] = await make_follower(emulator, "0xnot-an-address").fetch()
    assert isinstance(event, FeedStatus) and event.state == "error"
    assert "HTTP 422" in event.detail and "Failed to deserialize" in event.detail


@pytest.mark.parametrize("mode", ["unifiedAccount", "portfolioMargin"])
async def test_an_account_whose_spot_balances_cannot_be_read_says_so_with_every_state(emulator, mode):
    """Such an account's perp state is not its margin (the docs' account-abstraction page): the mode is
    asked once; without its spot balances (refused here) every state, fetched or pushed, carries the
    warning that the figures are off."""
    from adlwatch.feeds.venues.hyperliquid.account import mode_warning

    users = install_hyperliquid_users(emulator, {ADDRESS: load("btc_cross_2026-09-25.json")})
    users.modes[ADDRESS] = mode

    async def refuse(method, target, headers, body):
        return (500, "no", {}) if b"spotClearinghouseState" in body else None

    emulator.rest_hooks.insert(0, refuse)
    [fetched] = await make_follower(emulator).fetch()
    assert fetched.warnings[-1] == mode_warning(mode) and mode in fetched.warnings[-1]
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(status("subscribed"))
        await users.set_state(ADDRESS, load("btc_isolated_long_2026-08-03.json"))
        [_, pushed] = await run.wait_for(is_state(), count=2)
        assert run.follower.mode == mode
    assert all(s.warnings.count(mode_warning(mode)) == 1 for s in [*run.states(), pushed])
    assert users.mode_posts[ADDRESS] == 2  # once per follower: the pushed state did not ask again


UNIFIED_SPOT = {"balances": [  # the shape of the docs' example answer; the figures are the emulator's
    {"coin": "USDC", "token": 0, "hold": "0.0", "total": "5000.0", "entryNtl": "0.0"},
    {"coin": "HYPE", "token": 150, "hold": "0.0", "total": "12.5", "entryNtl": "300.0"}]}


@pytest.mark.parametrize("mode", ["unifiedAccount", "portfolioMargin"])
async def test_spot_usdc_of_a_spot_collateral_account_is_counted(emulator, mode):
    """The follower reads spotClearinghouseState for such an account and counts its USDC total as cross
    collateral (wallet and account value); other tokens are named, not counted. Emulator figures: the
    real account's spot state was not captured (fixtures README), so this checks the plumbing only."""
    from adlwatch.feeds.venues.hyperliquid.account import spot_note

    doc = load("btc_cross_2026-09-25.json")
    users = install_hyperliquid_users(emulator, {ADDRESS: doc})
    users.modes[ADDRESS] = mode
    users.spot_states[ADDRESS] = UNIFIED_SPOT
    follower = make_follower(emulator)
    [state] = await follower.fetch()
    perp_only = account_state(doc, ADDRESS, catalogue=CATALOGUE)
    assert state.wallet_balance == pytest.approx(perp_only.wallet_balance + 5000.0, rel=1e-12)
    assert state.account_value == pytest.approx(perp_only.account_value + 5000.0, rel=1e-12)
    assert state.warnings[-1] == spot_note(mode, follower.spot) and "HYPE" in state.warnings[-1]
    assert "5,000.00 USDC" in state.warnings[-1]
    assert users.spot_posts[ADDRESS] == 1 and follower.spot_requests == 1
    [raw] = raw_positions(doc)
    # with that much more collateral, adlwatch's figure is the venue's formula on the larger margin
    available = float(doc["crossMarginSummary"]["accountValue"]) + 5000.0 - float(doc["crossMaintenanceMarginUsed"])
    assert ours(engine_with(state), "BTC") == pytest.approx(venue_mark(raw) - available / 4.5 / (1 - 1 / 80), rel=1e-9)


async def test_a_pushed_state_rereads_spot_balances_that_are_old(emulator, monkeypatch):
    """A pushed perp state carries no spot balances: they are read again when the last read is older than
    SPOT_MAX_AGE_S (0 here: every push), and the new USDC total is what counts."""
    from adlwatch.feeds.venues.hyperliquid import account as module

    monkeypatch.setattr(module, "SPOT_MAX_AGE_S", 0.0)
    doc = load("btc_cross_2026-09-25.json")
    users = install_hyperliquid_users(emulator, {ADDRESS: doc})
    users.modes[ADDRESS] = "unifiedAccount"
    users.spot_states[ADDRESS] = UNIFIED_SPOT
    perp_only = account_state(doc, ADDRESS, catalogue=CATALOGUE)
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(status("subscribed"))
        [first] = await run.wait_for(is_state())
        users.spot_states[ADDRESS] = {"balances": [{"coin": "USDC", "token": 0, "hold": "0.0", "total": "7000.0",
                                                    "entryNtl": "0.0"}]}
        await users.set_state(ADDRESS, doc)
        [pushed] = await run.wait_for(is_state(lambda s: s.wallet_balance != first.wallet_balance))
    assert first.wallet_balance == pytest.approx(perp_only.wallet_balance + 5000.0, rel=1e-12)
    assert pushed.wallet_balance == pytest.approx(perp_only.wallet_balance + 7000.0, rel=1e-12)
    assert users.spot_posts[ADDRESS] >= 2


@pytest.mark.parametrize("mode", ["disabled", "default", "dexAbstraction"])
async def test_an_account_with_perp_collateral_gets_no_mode_warning(emulator, mode):
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    users.modes[ADDRESS] = mode
    follower = make_follower(emulator)
    [state] = await follower.fetch()
    assert follower.mode == mode and users.mode_posts[ADDRESS] == 1
    assert not any("mode:" in w for w in state.warnings)
    assert users.spot_posts[ADDRESS] == 0  # perp collateral: the spot balances are not asked for


async def test_an_unanswered_mode_question_leaves_the_account_followed_as_before(emulator):
    """A venue (or proxy) that refuses userAbstraction: the state comes as without the question."""
    install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})

    async def refuse(method, target, headers, body):
        return (500, "no", {}) if b"userAbstraction" in body else None

    emulator.rest_hooks.insert(0, refuse)
    follower = make_follower(emulator)
    [state] = await follower.fetch()
    assert isinstance(state, AccountState) and follower.mode is None
    assert not any("mode:" in w for w in state.warnings)


async def test_socket_connect_failures_back_off_within_the_cap(emulator):
    install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    socket = UserSocket("ws://127.0.0.1:9/ws", backoff_initial_s=0.05, backoff_max_s=0.2, open_timeout_s=1.0,
                        rng=random.Random(3))
    async with Following(make_follower(emulator, socket=socket)) as run:
        await run.wait_for(is_state())  # the request still reads the account
        await run.wait_for(status("disconnected", "connect failed"), count=4)
    assert len(socket.delays) >= 4 and all(0.0 <= d <= 0.2 for d in socket.delays)
    assert len(set(socket.delays)) > 1  # jittered
    assert socket.connects == 0


async def test_websocket_pushes_each_change_of_state(emulator):
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(status("subscribed"))
        await run.wait_for(is_state())
        changed = load("btc_isolated_long_2026-08-03.json")
        assert await users.set_state(ADDRESS, changed) == 1
        [pushed] = await run.wait_for(is_state(lambda s: [p.symbol for p in s.positions] == ["BTC"]))
        assert liquidation_of(pushed, "BTC") == 62171.2944953124
    assert users.posts[ADDRESS] == 1  # the start; no reconnect, so no other request
    assert len(run.states()) == 2  # an unchanged push is not emitted again


async def test_reconnect_reconciles_with_a_request(emulator):
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(status("subscribed"))
        assert users.posts[ADDRESS] == 1
        users.states[ADDRESS] = load("eth_isolated_2025-11-04.json")  # changed while nobody listens
        assert emulator.drop("hyperliquid") == 1
        await run.wait_for(status("disconnected"))
        await run.wait_for(status("subscribed"), count=2)
        await emulator.wait_until(lambda: users.posts[ADDRESS] == 2)
        await run.wait_for(is_state(lambda s: liquidation_of(s, "ETH") == 3552.812244898))
    assert users.subscribes[ADDRESS] == 2


async def test_silent_socket_is_dropped_and_the_state_reconciled(emulator):
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(status("subscribed"))
        first = emulator.live("hyperliquid")[0]
        await emulator.wait_until(lambda: '{"method":"ping"}' in first.received)  # the venue's heartbeat
        emulator.half_open("hyperliquid")
        [down] = await run.wait_for(status("disconnected", "silent socket"))
        await run.wait_for(status("subscribed"), count=2)
        await emulator.wait_until(lambda: users.posts[ADDRESS] == 2)
    assert "no frames for" in down.detail


async def test_eleventh_address_is_refused_a_socket_slot_and_polled(emulator):
    addresses = [f"0x{i:040x}" for i in range(1, 12)]
    users = install_hyperliquid_users(emulator, {a: load("docs_example.json") for a in addresses})
    runs = [Following(make_follower(emulator, a)) for a in addresses]
    for run in runs:
        await run.__aenter__()
    try:
        for run in runs[:10]:
            await run.wait_for(status("subscribed"))
        [refusal] = await runs[10].wait_for(status("error", "polling"))
        assert "10 followed addresses" in refusal.detail and "0.2 s" in refusal.detail
        assert users.tracked() == set(addresses[:10])
        assert len(emulator.of("hyperliquid")) == 1  # ten addresses share one socket
        await emulator.wait_until(lambda: users.posts[addresses[10]] >= 3)
        await users.set_state(addresses[10], load("eth_isolated_2025-11-04.json"))  # no socket carries it
        await runs[10].wait_for(is_state(lambda s: liquidation_of(s, "ETH") == 3552.812244898))
        assert not [e for e in runs[10].events if e.kind == "status" and e.state == "subscribed"]
    finally:
        for run in runs:
            await run.__aexit__(None, None, None)
    assert users.refused == []  # the limit was kept on this side: the venue never had to refuse


async def test_a_venue_refusal_falls_back_to_polling(emulator):
    """Another program on this IP may hold user slots: the venue's refusal names no address, so the
    follower that asked last is the one refused, and it polls."""
    addresses = [f"0x{i:040x}" for i in range(1, 4)]
    users = install_hyperliquid_users(emulator, {a: load("docs_example.json") for a in addresses}, max_users=2)
    runs = [Following(make_follower(emulator, a)) for a in addresses]
    for run in runs:
        await run.__aenter__()
        await run.wait_for(lambda e: isinstance(e, FeedStatus) and e.state in ("subscribed", "error"))
    try:
        [refusal] = await runs[2].wait_for(status("error", "Cannot track more than 2 total users"))
        assert "polling" in refusal.detail
        assert users.refused == [addresses[2]]
        await emulator.wait_until(lambda: users.posts[addresses[2]] >= 3)
        assert runs[2].follower.polling and not runs[0].follower.polling
    finally:
        for run in runs:
            await run.__aexit__(None, None, None)


async def test_bad_frames_are_error_statuses_and_following_goes_on(emulator):
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")})
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(status("subscribed"))
        await run.wait_for(is_state())
        await users.send_raw(ADDRESS, "\x00{not json")
        await run.wait_for(status("error", "bad frame"))
        broken = load("docs_example.json")
        del broken["crossMarginSummary"]
        frame = json.dumps({"channel": "clearinghouseState",
                            "data": {"dex": "", "user": ADDRESS, "clearinghouseState": broken}})
        await users.send_raw(ADDRESS, frame)
        await run.wait_for(status("error", "crossMarginSummary missing"))
        await users.set_state(ADDRESS, load("btc_isolated_short_2026-08-03.json"))
        await run.wait_for(is_state(lambda s: liquidation_of(s, "BTC") == 64466.2716049383))
        assert not run.task.done()


async def test_rest_refusals_are_reported_once_and_retried(emulator):
    """Two 429s in a row are one status line; the request is retried with backoff until it succeeds.
    (``max_users=0``: the venue refuses the socket, so the follower polls from the start.)"""
    users = install_hyperliquid_users(emulator, {ADDRESS: load("docs_example.json")}, max_users=0)
    users.fail_next(429, count=2)
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(is_state())
        [following] = await run.wait_for(status("connected", "following"))
    assert users.posts[ADDRESS] >= 3
    assert len([e for e in run.events if isinstance(e, FeedStatus) and "rate limited" in e.detail]) == 1
    assert run.events.index(following) < run.events.index(run.states()[0])
    assert "1 position(s)" in following.detail


async def test_live_source_follows_the_address_and_subscribes_what_it_holds(emulator):
    """The monitor's path: the follower's state enters the live stream and its ETH gets a mark feed."""
    install_hyperliquid_users(emulator, {ADDRESS: load("eth_isolated_2025-11-04.json")})
    source = LiveSource({}, ws_urls={"hyperliquid": emulator.ws_url("hyperliquid")},
                        rest_urls={"hyperliquid": emulator.rest_url("hyperliquid")}, client_options=FEED_FAST,
                        followers=[make_follower(emulator)])
    seen = await run_until(source, mark_of("ETH"))
    [state] = [e for e in seen if e.kind == "account_state"]
    assert state.symbol == ADDRESS and [p.symbol for p in state.positions] == ["ETH"]
