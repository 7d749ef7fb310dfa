"""Issue 15 on Hyperliquid's wire: the funding rate and its next payment time, a followed position's funding
since it opened (``cumFunding``), and "you were liquidated / ADL'd" from the address's own fills.

Sources (Hyperliquid GitBook, mirrored as ``dzmbs/hyperliquid-docs``):
- https://hyperliquid.gitbook.io/hyperliquid-docs/trading/funding: funding is paid every hour, the same
  interval for every asset.
- https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals: the
  ``metaAndAssetCtxs`` and ``clearinghouseState`` examples.
- https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint: "Retrieve a user's fills
  by time" (``userFillsByTime``) and its example answer.
- https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions: the
  ``WsActiveAssetCtx``/``PerpsAssetCtx`` and ``WsFill``/``FillLiquidation`` types.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import MONITOR_SKIPS, AccountState, Event, ForcedClose, FundingRate
from adlwatch.engine.instruments import default_catalogue
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.venues.hyperliquid import account as hl_account
from adlwatch.feeds.venues.hyperliquid import market as hl_market
from adlwatch.feeds.venues.hyperliquid.account import (
    HyperliquidFollower,
    account_state,
    fills_request,
    forced_closes,
    parse_fills_body,
    state_events,
)
from adlwatch.feeds.venues.hyperliquid.emulator_user import (
    UNDERWATER_USER,
    install_hyperliquid_users,
    perp_position,
    perp_state,
)
from adlwatch.feeds.venues.hyperliquid.market import ADAPTER, next_funding_ms
from tests.feeds.conftest import FAST as FEED_FAST
from tests.feeds.conftest import Collector, kind, make_client

STATES = Path(__file__).parent / "fixtures" / "hyperliquid_states"
ADDRESS = "0x" + "15" * 20
OTHER = "0x" + "77" * 20
CATALOGUE = default_catalogue()


def utc_ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1_000_000_000)


def utc_ms(text: str) -> int:
    return utc_ns(text) // 1_000_000


def load(name: str) -> dict[str, Any]:
    return json.loads((STATES / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- funding

# https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals, "Retrieve
# perpetuals asset contexts": the first asset context of the example answer.
DOCS_CTX = {"dayNtlVlm": "1169046.29406", "funding": "0.0000125", "impactPxs": ["14.3047", "14.3444"],
            "markPx": "14.3161", "midPx": "14.314", "openInterest": "688.11", "oraclePx": "14.32",
            "premium": "0.00031774", "prevDayPx": "15.322"}


def ctx_frame(coin: str = "BTC", ctx: dict[str, Any] | None = None) -> str:
    # WsActiveAssetCtx {coin, ctx: PerpsAssetCtx} (websocket/subscriptions), carrying the docs' context
    return json.dumps({"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctx or DOCS_CTX}})


def test_next_funding_is_the_next_whole_hour_after_the_frame():
    # hand-worked: a frame at 05:51:25.5 announces the 06:00 payment; one at exactly 06:00 the 07:00 one
    assert next_funding_ms(utc_ns("2026-12-06T05:51:25.500")) == utc_ms("2026-12-06T06:00:00")
    assert next_funding_ms(utc_ns("2026-12-06T06:00:00")) == utc_ms("2026-12-06T07:00:00")
    assert next_funding_ms(utc_ns("2026-12-06T23:59:59.999")) == utc_ms("2026-12-07T00:00:00")
    # no wall-clock receive time (0, or a test's counter): no next funding time
    assert next_funding_ms(0) is None and next_funding_ms(3) is None


def test_active_asset_ctx_funding_carries_the_rate_and_next_hour():
    recv = utc_ns("2026-12-06T05:51:25.5")
    events = ADAPTER.new_parser().parse(ctx_frame(), recv)
    [funding] = [e for e in events if isinstance(e, FundingRate)]
    assert funding == FundingRate(venue="hyperliquid", symbol="BTC", ts=None, recv_ns=recv, rate=0.0000125,
                                  next_funding_ts=utc_ms("2026-12-06T06:00:00"))


def test_the_monitor_parser_keeps_funding():
    """The monitor no longer skips funding: its lean parser builds it on the fast path too."""
    recv = utc_ns("2026-12-06T05:00:00.001")
    lean = ADAPTER.new_parser(MONITOR_SKIPS)
    kinds = [e.kind for e in lean.parse(ctx_frame(), recv)]
    assert kinds == ["mark_price", "funding_rate", "open_interest"]
    [funding] = [e for e in lean.parse(ctx_frame(), recv) if isinstance(e, FundingRate)]
    assert funding.next_funding_ts == utc_ms("2026-12-06T06:00:00")


def test_meta_and_asset_ctxs_funding_has_the_next_hour():
    body = json.dumps([{"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50}]}, [DOCS_CTX]])
    recv = utc_ns("2026-12-06T05:30:00")
    events = ADAPTER.parse_rest(ADAPTER.mark_price_poll(), body, recv)
    [funding] = [e for e in events if isinstance(e, FundingRate)]
    assert (funding.symbol, funding.rate, funding.next_funding_ts) == ("BTC", 0.0000125, utc_ms("2026-12-06T06:00:00"))


def test_a_bad_funding_rate_is_an_error_and_the_rest_of_the_context_stands():
    ctx = dict(DOCS_CTX, funding="abc")
    events = ADAPTER.new_parser().parse(ctx_frame(ctx=ctx), utc_ns("2026-12-06T05:30:00"))
    assert [e.kind for e in events] == ["mark_price", "index_price", "open_interest", "status"]
    assert "funding" in events[-1].detail


WALL_NS = st.integers(utc_ns("2001-01-01T00:00:00"), utc_ns("2100-01-01T00:00:00"))


@settings(max_examples=300, deadline=None)
@given(recv_ns=WALL_NS, rate=st.floats(-0.04, 0.04))
def test_fast_and_careful_paths_agree_on_funding(recv_ns, rate):
    ctx = dict(DOCS_CTX, funding=repr(rate))
    fast = hl_market._fast_ctx(ctx_frame(ctx=ctx), recv_ns)
    careful = hl_market._ctx_events("BTC", ctx, recv_ns, hl_market.Problems(hl_market.VENUE))
    assert fast == careful
    [funding] = [e for e in fast if isinstance(e, FundingRate)]
    next_ms = funding.next_funding_ts
    # the smallest whole hour strictly after the frame
    assert next_ms % 3_600_000 == 0 and recv_ns < next_ms * 1_000_000 <= recv_ns + 3_600_000_000_000


# ---------------------------------------------------------------------------- the followed account's panel


def test_docs_state_has_no_funding_yet_and_no_break_even_or_tpsl():
    # perpetuals.md "Retrieve user's perpetuals account summary": cumFunding.sinceOpen "0.0"
    [eth] = account_state(load("docs_example.json"), ADDRESS, catalogue=CATALOGUE).positions
    assert eth.funding_pnl == 0.0 and math.copysign(1.0, eth.funding_pnl) == 1.0  # 0, not −0
    # Hyperliquid's position read carries no break-even price and no TP/SL
    assert (eth.break_even_price, eth.take_profit, eth.stop_loss) == (None, None, None)


def test_funding_paid_is_negative_funding_pnl():
    """cumFunding counts what a position paid: a long that paid 982.43637 USDC has funding_pnl −982.43637."""
    doc = load("btc_cross_2026-09-25.json")
    [btc] = account_state(doc, ADDRESS, catalogue=CATALOGUE).positions
    assert btc.side == "long" and btc.funding_pnl == -982.43637


def test_every_position_of_the_vault_gets_its_own_funding_since_open():
    doc = load("vault_16_positions_2026-01-14.json")
    state = account_state(doc, ADDRESS, catalogue=CATALOGUE)
    for raw, position in zip(doc["assetPositions"], state.positions, strict=True):
        assert position.funding_pnl == -float(raw["position"]["cumFunding"]["sinceOpen"])


@pytest.mark.parametrize("cum_funding", [None, "x", {}, {"sinceOpen": "NaN"}, {"sinceOpen": [1]}, {"allTime": "3"}])
def test_an_unreadable_cum_funding_is_none_and_the_state_stands(cum_funding):
    doc = load("docs_example.json")
    if cum_funding is None:
        del doc["assetPositions"][0]["position"]["cumFunding"]
    else:
        doc["assetPositions"][0]["position"]["cumFunding"] = cum_funding
    [eth] = account_state(doc, ADDRESS, catalogue=CATALOGUE).positions
    assert eth.funding_pnl is None and eth.liquidation_price == 2866.26936529


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.text(max_size=8)
                    | st.integers(-10**20, 10**20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(cum_funding=JSON | st.fixed_dictionaries({"sinceOpen": JSON}))
def test_the_cum_funding_mapping_never_raises(cum_funding):
    doc = load("vault_16_positions_2026-01-14.json")
    doc["assetPositions"][3]["position"]["cumFunding"] = cum_funding
    [state] = state_events(doc, ADDRESS, catalogue=CATALOGUE)
    assert isinstance(state, AccountState)
    funding = state.positions[3].funding_pnl
    assert funding is None or math.isfinite(funding)


def test_the_emulator_states_carry_cum_funding():
    entry = perp_position("BTC", -0.4, 100_000.0, 101_000.0, funding_since_open=-1.84)
    [btc] = account_state(perp_state([entry], 3_000.0), ADDRESS, catalogue=CATALOGUE).positions
    assert btc.side == "short" and btc.funding_pnl == 1.84  # a short that received 1.84 USDC


# ---------------------------------------------------------------------------- the address's fills

# https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint, "Retrieve a user's fills
# by time": the example answer (a perp fill, a HIP-3 fill, a spot fill), all the user's own trades.
DOCS_FILLS = [
    {"closedPnl": "0.0", "coin": "AVAX", "crossed": False, "dir": "Open Long",
     "hash": "0xa166e3fa63c25663024b03f2e0da011a00307e4017465df020210d3d432e7cb8", "oid": 90542681, "px": "18.435",
     "side": "B", "startPosition": "26.86", "sz": "93.53", "time": 1681222254710, "fee": "0.01", "feeToken": "USDC",
     "builderFee": "0.01", "tid": 118906512037719},
    {"coin": "xyz:XYZ100", "px": "25372.0", "sz": "0.0353", "side": "B", "time": 1767651180109,
     "startPosition": "0.7045", "dir": "Open Long", "closedPnl": "0.0",
     "hash": "0xa166e3fa63c25663024b03f2e0da011a00307e4017465df020210d3d432e7cb9", "oid": 287286372177,
     "crossed": False, "fee": "0.026868", "tid": 164087028129848, "feeToken": " USDC"},
    {"coin": "@107", "px": "18.62041381", "sz": "43.84", "side": "A", "time": 1735969713869,
     "startPosition": "10659.65434798", "dir": "Sell", "closedPnl": "8722.988077",
     "hash": "0x2222138cc516e3fe746c0411dd733f02e60086f43205af2ae37c93f6a792430b", "oid": 59071663721,
     "crossed": True, "fee": "0.304521", "tid": 907359904431134, "feeToken": "USDC"},
]


def liquidated_fill(**changes: Any) -> dict[str, Any]:
    """A liquidated account's own fill: a WsFill with ``liquidation: FillLiquidation`` naming it
    (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket/subscriptions, "Data type
    definitions"; the ``dir`` wording as the venue's fills write it)."""
    fill = {"coin": "ETH", "px": "2316.0", "sz": "0.1037", "side": "A", "time": 1750541100096,
            "startPosition": "0.1037", "dir": "Liquidated Isolated Long", "closedPnl": "-9.94483", "hash": "0x1328",
            "oid": 104754754832, "crossed": False, "fee": "0.0", "tid": 361622066638684, "feeToken": "USDC",
            "liquidation": {"liquidatedUser": ADDRESS, "markPx": "2323.3", "method": "market"}}
    fill.update(changes)
    return fill


def adl_fill(**changes: Any) -> dict[str, Any]:
    """An auto-deleveraged short's fill: ``dir`` "Auto-Deleveraging", carrying the liquidation of the
    underwater account it closed against (the shape of Hyperliquid's public node fills of 10 Oct 2025)."""
    fill = {"coin": "AVAX", "px": "22.075", "sz": "20.0", "side": "B", "time": 1760130964831,
            "startPosition": "-28.53", "dir": "Auto-Deleveraging", "closedPnl": "194.275035", "hash": "0x922a",
            "oid": 194018286846, "crossed": True, "fee": "0.0", "tid": 771334864158847, "feeToken": "USDC",
            "liquidation": {"liquidatedUser": OTHER, "markPx": "22.025", "method": "backstop"}}
    fill.update(changes)
    return fill


def test_the_docs_fills_are_the_users_own_trades():
    assert forced_closes(DOCS_FILLS, ADDRESS) == ([], [])


def test_a_liquidation_fill_of_the_followed_address_is_a_forced_close():
    closes, problems = forced_closes([*DOCS_FILLS, liquidated_fill()], ADDRESS, 5)
    assert problems == []
    assert closes == [ForcedClose(venue="hyperliquid", symbol="ETH", ts=1750541100096, recv_ns=5, account=ADDRESS,
                                  side="long", cause="liquidation", price=2316.0, size=0.1037, remaining=0.0,
                                  detail='dir "Liquidated Isolated Long", market liquidation')]


def test_an_adl_fill_is_a_forced_close_of_the_short_it_reduced():
    [close], _ = forced_closes([adl_fill()], ADDRESS)
    assert (close.symbol, close.cause, close.side, close.price, close.size) == ("AVAX", "adl", "short", 22.075, 20.0)
    assert close.remaining == pytest.approx(8.53) and close.ts == 1760130964831
    assert close.detail == 'dir "Auto-Deleveraging", backstop liquidation'


def test_the_other_leg_of_someone_elses_liquidation_is_not_ours():
    """Both legs of a liquidation carry its object: the taker's fill names the liquidated account."""
    taker = liquidated_fill(dir="Close Short", side="B", startPosition="-0.5",
                            liquidation={"liquidatedUser": OTHER, "markPx": "2323.3", "method": "market"})
    assert forced_closes([taker], ADDRESS) == ([], [])


def test_an_underwater_account_closed_through_adl_was_liquidated():
    fill = adl_fill(liquidation={"liquidatedUser": ADDRESS, "markPx": "22.025", "method": "backstop"})
    [close], _ = forced_closes([fill], ADDRESS)
    assert close.cause == "liquidation"


def test_the_closed_side_falls_back_to_dir_then_to_the_side_letter():
    no_start = liquidated_fill(startPosition=None)
    assert forced_closes([no_start], ADDRESS)[0][0].side == "long"
    neither = adl_fill(startPosition="0.0")  # dir says nothing of a side: a buy closed a short
    assert forced_closes([neither], ADDRESS)[0][0].side == "short"


def test_an_unreadable_forced_fill_is_a_problem_and_the_others_stand():
    closes, problems = forced_closes([liquidated_fill(px="oops"), "text", adl_fill()], ADDRESS)
    assert [c.cause for c in closes] == ["adl"] and len(problems) == 2
    assert parse_fills_body(b"\x00not json", ADDRESS)[0] == []
    assert forced_closes({"error": "x"}, ADDRESS)[0] == []


def test_the_fills_request_is_public_and_aggregated():
    assert fills_request(ADDRESS, 1_700_000_000_000) == {"type": "userFillsByTime", "user": ADDRESS,
                                                         "startTime": 1_700_000_000_000, "aggregateByTime": True}


@settings(max_examples=300, deadline=None)
@given(doc=JSON | st.lists(st.dictionaries(st.sampled_from(
    ["coin", "px", "sz", "side", "time", "startPosition", "dir", "liquidation"]), JSON, max_size=8), max_size=4))
def test_the_fills_parser_never_raises_on_any_json(doc):
    closes, problems = forced_closes(doc, ADDRESS)
    for close in closes:
        assert close.price > 0 and close.size > 0 and close.side in ("long", "short")
        assert close.cause in ("liquidation", "adl") and close.remaining >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=200) | st.text(max_size=200), data=st.data())
def test_the_fills_body_parser_never_raises_on_any_bytes(body, data):
    parse_fills_body(body, ADDRESS)
    fills = [liquidated_fill(), adl_fill(), *DOCS_FILLS]
    text = json.dumps(fills)
    cut = data.draw(st.integers(0, len(text)))
    parse_fills_body(text[:cut] + data.draw(st.text(max_size=5)) + text[cut:], ADDRESS)


# ---------------------------------------------------------------------------- against the emulator

FAST = dict(poll_interval_s=0.2, backoff_initial_s=0.05, backoff_max_s=0.2, ping_interval_s=0.2,
            silence_timeout_s=1.0, ack_timeout_s=2.0, timeout_s=2.0)


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
        await asyncio.wait_for(self.task, 5.0)
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

    def closes(self) -> list[ForcedClose]:
        return [e for e in self.events if isinstance(e, ForcedClose)]


def make_follower(emu, **overrides) -> HyperliquidFollower:
    options = dict(FAST, catalogue=CATALOGUE, rng=random.Random(1))
    options.update(overrides)
    return HyperliquidFollower(ADDRESS, rest_url=emu.rest_url("hyperliquid"), ws_url=emu.ws_url("hyperliquid"),
                               **options)


def three_positions() -> dict[str, Any]:
    return perp_state([
        perp_position("BTC", 0.5, 100_000.0, 98_000.0, leverage=20, funding_since_open=3.5),
        perp_position("ETH", -1.0, 3_000.0, 3_300.0, leverage=10),
        perp_position("SOL", 10.0, 150.0, 160.0, leverage=5, isolated_margin=300.0),
    ], 20_000.0)


def holds(coins: list[str]) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, AccountState) and sorted(p.symbol for p in e.positions) == sorted(coins)


@pytest.fixture
def quick_rereads(monkeypatch):
    monkeypatch.setattr(hl_account, "RECORDS_RETRY_S", (0.05, 0.05, 0.05))


async def test_liquidated_and_adld_positions_alert_and_the_users_close_does_not(emulator, quick_rereads):
    """Acceptance: one address, three positions; BTC liquidated, ETH partly ADL'd, SOL closed by the user:
    exactly two forced closes, with the venue's cause, price and size and what is left."""
    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()})
    async with Following(make_follower(emulator)) as run:
        [first] = await run.wait_for(holds(["BTC", "ETH", "SOL"]))
        assert {p.symbol: p.funding_pnl for p in first.positions} == {"BTC": -3.5, "ETH": 0.0, "SOL": 0.0}

        await users.close(ADDRESS, "BTC", "liquidation", 95_123.5)
        [btc] = await run.wait_for(lambda e: isinstance(e, ForcedClose) and e.symbol == "BTC")
        assert (btc.venue, btc.account, btc.cause, btc.side) == ("hyperliquid", ADDRESS, "liquidation", "long")
        assert (btc.price, btc.size, btc.remaining) == (95_123.5, 0.5, 0.0)
        assert btc.ts == users.records[ADDRESS][0].ts_ms and "Liquidated Cross Long" in btc.detail
        # the alert follows the state that shows the position gone
        went = next(i for i, e in enumerate(run.events) if holds(["ETH", "SOL"])(e))
        assert went < run.events.index(btc)

        await users.close(ADDRESS, "ETH", "adl", 3_310.25, size=0.4)
        [eth] = await run.wait_for(lambda e: isinstance(e, ForcedClose) and e.symbol == "ETH")
        assert (eth.cause, eth.side, eth.price, eth.size) == ("adl", "short", 3_310.25, 0.4)
        assert eth.remaining == pytest.approx(0.6) and eth.remaining > 0  # a partial ADL leaves the rest open
        assert "Auto-Deleveraging" in eth.detail

        reads = users.fill_posts[ADDRESS]
        await users.close(ADDRESS, "SOL", "user", 161.0)
        await run.wait_for(holds(["ETH"]))
        # its fills are read at once and on each re-read (no record explains it), then no more
        await emulator.wait_until(lambda: users.fill_posts[ADDRESS] == reads + 1 + len(hl_account.RECORDS_RETRY_S))
        await emulator.wait_until(lambda: run.follower._records_at is None)
        assert [(c.symbol, c.cause) for c in run.closes()] == [("BTC", "liquidation"), ("ETH", "adl")]
        # a later state without a new shrink reads nothing more
        asked = run.follower.fill_requests
        moved = copy.deepcopy(users.states[ADDRESS])
        moved["assetPositions"][0]["position"]["positionValue"] = f"{0.6 * 3_350.0:.6f}"
        await users.set_state(ADDRESS, moved)
        await run.wait_for(lambda e: holds(["ETH"])(e) and e.positions[0].mark_price == pytest.approx(3_350.0))
        assert run.follower.fill_requests == asked
        await users.close(ADDRESS, "ETH", "liquidation", 3_400.0)  # the rest of ETH, a new shrink: read at once
        [_, rest] = await run.wait_for(lambda e: isinstance(e, ForcedClose) and e.symbol == "ETH", count=2)
        assert (rest.cause, rest.size, rest.remaining) == ("liquidation", pytest.approx(0.6), 0.0)
    assert len(run.closes()) == 3


async def test_a_polled_address_reports_forced_closes_too(emulator, quick_rereads):
    """An address refused a websocket slot is polled: the shrink shows in a poll, the fills follow."""
    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()}, max_users=0)
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(holds(["BTC", "ETH", "SOL"]))
        await run.wait_for(lambda e: e.kind == "status" and "polling" in e.detail)
        await users.close(ADDRESS, "SOL", "liquidation", 131.0, size=4.0)
        [sol] = await run.wait_for(lambda e: isinstance(e, ForcedClose))
    assert (sol.symbol, sol.cause, sol.side, sol.price, sol.size) == ("SOL", "liquidation", "long", 131.0, 4.0)
    assert sol.remaining == pytest.approx(6.0)
    assert "Liquidated Isolated Long" in sol.detail


async def test_fills_that_lag_the_state_are_found_on_a_reread(emulator, quick_rereads):
    """The venue's fills may reach its info server after the state: the follower reads again."""
    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()})
    real_fills = users.fills

    def lagging(address: str, start_ms: int, end_ms: int | None = None) -> list[dict[str, Any]]:
        return [] if users.fill_posts[ADDRESS] < 2 else real_fills(address, start_ms, end_ms)

    users.fills = lagging  # type: ignore[method-assign]
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(holds(["BTC", "ETH", "SOL"]))
        await users.close(ADDRESS, "ETH", "adl", 3_290.0)
        [eth] = await run.wait_for(lambda e: isinstance(e, ForcedClose))
    assert users.fill_posts[ADDRESS] >= 2
    assert (eth.cause, eth.price, eth.size, eth.remaining) == ("adl", 3_290.0, 1.0, 0.0)


async def test_the_emulator_serves_the_fills_in_the_venues_shape(emulator):
    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()})
    await users.close(ADDRESS, "ETH", "adl", 3_310.0, size=0.25, now_ms=1_000)
    await users.close(ADDRESS, "BTC", "user", 99_000.0, now_ms=2_000)
    adl, own = users.fills(ADDRESS, 0)
    assert (adl["dir"], adl["side"], adl["startPosition"], adl["sz"]) == ("Auto-Deleveraging", "B", "-1.0", "0.25")
    assert adl["liquidation"]["liquidatedUser"] == UNDERWATER_USER
    assert (own["dir"], own["side"], "liquidation" in own) == ("Close Long", "A", False)
    assert users.fills(ADDRESS, 1_500) == [own] and users.fills(ADDRESS, 0, 1_500) == [adl]
    # the state keeps the venue's identities after the closes
    state = account_state(copy.deepcopy(users.states[ADDRESS]), ADDRESS, catalogue=CATALOGUE)
    assert sorted((p.symbol, p.side, p.size) for p in state.positions) == [("ETH", "short", 0.75), ("SOL", "long", 10.0)]
    # the ETH short's 0.25 bought back at 3,310 realised 0.25 × (3,000 − 3,310); BTC's 0.5 sold at 99,000
    # realised 0.5 × (99,000 − 100,000): the wallet is 20,000 plus both
    assert state.wallet_balance == pytest.approx(20_000.0 - 0.25 * 310.0 - 0.5 * 1_000.0, abs=1e-5)
    with pytest.raises(KeyError):
        await users.close(ADDRESS, "DOGE", "adl", 0.1)


async def test_forced_closes_reach_the_monitors_live_stream(emulator):
    """The monitor's path: the follower's ForcedClose enters the live stream after the state."""
    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()})
    source = LiveSource({}, ws_urls={"hyperliquid": emulator.ws_url("hyperliquid")},
                        rest_urls={"hyperliquid": emulator.rest_url("hyperliquid")}, client_options=FEED_FAST,
                        followers=[make_follower(emulator)])
    seen: list[Event] = []
    changed = asyncio.Event()

    def emit(event: Event) -> None:
        seen.append(event)
        changed.set()

    async def until(predicate: Callable[[Event], bool]) -> Event:
        while not any(predicate(e) for e in seen):
            changed.clear()
            await changed.wait()
        return next(e for e in seen if predicate(e))

    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(until(holds(["BTC", "ETH", "SOL"])), 5.0)
        await users.close(ADDRESS, "BTC", "liquidation", 97_000.0, size=0.2)
        close = await asyncio.wait_for(until(lambda e: e.kind == "forced_close"), 5.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (close.symbol, close.cause, close.size, close.remaining) == ("BTC", "liquidation", 0.2, pytest.approx(0.3))
    assert seen.index(next(e for e in seen if holds(["BTC", "ETH", "SOL"])(e) and e.positions[0].size < 0.5)) \
        < seen.index(close)


def test_no_public_liquidation_stream_is_subscribed_and_trades_say_nothing_of_one():
    """Hyperliquid's ``trades`` carry no liquidation flag (WsTrade on websocket/subscriptions): the adapter
    subscribes only asset contexts, and a trades frame is a channel it does not use (no event)."""
    subscriptions = ADAPTER.subscriptions(["BTC", "ETH"])
    assert {s["type"] for s in subscriptions} == {"activeAssetCtx"}
    trades = json.dumps({"channel": "trades", "data": [
        {"coin": "BTC", "side": "A", "px": "97000.0", "sz": "0.5", "hash": "0x00", "time": 1760130964831,
         "tid": 771334864158847, "users": [OTHER, ADDRESS]}]})
    assert ADAPTER.new_parser().parse(trades, utc_ns("2026-12-06T05:00:00")) == []


async def test_a_busy_account_has_its_fills_read_page_after_page(emulator, quick_rereads, monkeypatch):
    """The venue answers at most a page of fills, oldest first: the follower asks again from the page's
    last time, so a liquidation behind many of the user's own fills is still found."""
    monkeypatch.setattr(hl_account, "FILLS_PAGE", 3)
    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()})
    users.fills_page = 3
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(holds(["BTC", "ETH", "SOL"]))
        t0 = int(time.time() * 1000)
        for i in range(7):  # the user's own trades, after the last state and before the liquidation
            users.own_fill(ADDRESS, "DOGE", "long", 0.1 + i / 100, 100.0, now_ms=t0 - 50 + 5 * i)
        await users.close(ADDRESS, "ETH", "liquidation", 3_450.0)
        [eth] = await run.wait_for(lambda e: isinstance(e, ForcedClose))
    assert (eth.symbol, eth.cause, eth.price, eth.size) == ("ETH", "liquidation", 3_450.0, 1.0)
    assert users.fill_posts[ADDRESS] >= 3  # 3 + 3 + 2 fills: three pages at least



async def test_live_funding_has_a_countdown_and_no_public_liquidation_is_played(emulator):
    """Through the live client: funding carries the next whole hour after its receive time; the emulator's
    liquidation burst sends Hyperliquid clients nothing, as the venue publishes no such stream."""
    async with Collector(make_client(emulator, "hyperliquid")) as run:
        [funding] = await run.wait_for(kind("funding_rate", "BTC"))
        assert await emulator.liquidations("hyperliquid", "BTC", "long", count=3, size=2.0) == 0
        fault = await emulator.apply_fault({"fault": "liquidations", "venue": "hyperliquid", "symbol": "BTC"})
        assert fault["affected"] == 0
    assert funding.rate == 0.0000125 and funding.next_funding_ts == next_funding_ms(funding.recv_ns)
    assert 0 < funding.next_funding_ts * 1_000_000 - funding.recv_ns <= 3_600 * 10**9
    assert not [e for e in run.events if e.kind == "liquidation"]


async def test_the_monitor_alerts_the_liquidation_and_the_adl_and_not_the_users_close(emulator, quick_rereads):
    """End to end: the follower's events through the monitor raise two critical forced-close alerts."""
    from adlwatch.engine.alerts import RULE_FORCED_CLOSE
    from adlwatch.engine.monitor import Monitor
    from adlwatch.engine.portfolio import Portfolio

    users = install_hyperliquid_users(emulator, {ADDRESS: three_positions()})
    async with Following(make_follower(emulator)) as run:
        await run.wait_for(holds(["BTC", "ETH", "SOL"]))
        await users.close(ADDRESS, "BTC", "liquidation", 95_000.0)
        await users.close(ADDRESS, "ETH", "adl", 3_320.0, size=0.5)
        await users.close(ADDRESS, "SOL", "user", 160.5)
        await run.wait_for(lambda e: isinstance(e, ForcedClose), count=2)
        await emulator.wait_until(lambda: run.follower._records_at is None)  # the SOL lookups are over
    portfolio = Portfolio.from_data({"account": [{"venue": "hyperliquid", "address": ADDRESS.upper().replace("0X", "0x")}]},
                                    CATALOGUE)
    monitor = Monitor(portfolio)
    now_s = time.time()
    for event in run.events:
        monitor.apply(event, now_s)
    fired = [a for a in monitor.evaluate(now_s + 1) if a.rule == RULE_FORCED_CLOSE]
    assert sorted((a.symbol, a.value, a.price, a.size, a.account) for a in fired) == [
        ("BTC", "liquidation", 95_000.0, 0.5, 0), ("ETH", "adl", 3_320.0, 0.5, 0)]
    assert all(a.critical for a in fired)
    [eth] = [a for a in fired if a.symbol == "ETH"]
    assert eth.remaining == pytest.approx(0.5) and "AUTO-DELEVERAGED" in eth.message
