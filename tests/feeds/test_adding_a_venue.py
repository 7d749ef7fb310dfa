"""ADDING_A_VENUE.md, walked through: a fifth venue ("fakex", tests/feeds/fake_venue/) joins through
the registries' hooks, with no edit to any product file, and then every path works for it: the
adapter registry, ``adlwatch tail --from``, replay's Tardis names, the loopback emulator, a
``FeedClient`` and a ``LiveSource``, and the engine's rules (a liquidation price, as ``check`` shows)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from adlwatch.engine import venues as engine_venues
from adlwatch.engine.instruments import default_catalogue, load_table
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import RiskEngine
from adlwatch.feeds import registry
from adlwatch.feeds.connection import FeedClient
from adlwatch.feeds.emulator import VENUES as EMULATED
from adlwatch.feeds.emulator import Emulator
from adlwatch.feeds.live import LiveSource
from adlwatch.feeds.recorder import encode_line
from adlwatch.feeds.replay import TARDIS_COLUMNS, load_replay
from adlwatch.feeds.tail import run_tail
from tests.feeds.conftest import FAST, no_internet  # noqa: F401  (fixture)
from tests.feeds.fake_venue import VENUE, rules
from tests.feeds.live_helpers import mark_of, run_until

SYMBOL = "BTC-FX"


@pytest.fixture
def fakex():
    """fakex registered for one test (feeds and engine), and gone again after it."""
    registry.register(VENUE)
    engine_venues.register(rules, "fakex")
    try:
        yield VENUE
    finally:
        registry.unregister("fakex")
        engine_venues.unregister("fakex")


def test_the_registries_know_a_registered_venue_and_forget_it(fakex):
    assert registry.get_adapter("FAKEX") is fakex.adapter
    assert "fakex" in registry.venue_names() and "fakex" in registry.ADAPTERS
    assert "fakex" in EMULATED
    registry.unregister("fakex")
    assert "fakex" not in registry.venue_names() and "fakex" not in EMULATED
    with pytest.raises(ValueError, match="unknown venue 'fakex'"):
        registry.get_adapter("fakex")


async def test_tail_from_a_recording_parses_its_frames(fakex, tmp_path):
    path = tmp_path / "fakex.jsonl"
    frames = [json.dumps({"ch": "mark", "s": SYMBOL, "p": f"{65000 + i}.5", "t": 1_700_000_000_000 + i})
              for i in range(3)]
    path.write_bytes(b"".join(encode_line(i + 1, "fakex", f) for i, f in enumerate(frames))
                     + encode_line(9, "fakex", "{not json"))
    out = io.StringIO()
    assert await run_tail("fakex", [], from_path=path, as_json=True, out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(d["type"], d["symbol"], d["price"], d["recv_ns"]) for d in lines[:3]] == [
        ("mark_price", SYMBOL, 65000.5, 1), ("mark_price", SYMBOL, 65001.5, 2), ("mark_price", SYMBOL, 65002.5, 3)]
    assert lines[3]["type"] == "status" and lines[3]["state"] == "error"


def test_replay_maps_its_own_tardis_exchange_id(fakex, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(",".join(TARDIS_COLUMNS) + f"\nfakex-perp,{SYMBOL},1760131200000000,,,,,,,,1.5\n")
    assert [(e.venue, e.symbol, e.price) for e in load_replay(path).events] == [("fakex", SYMBOL, 1.5)]


async def test_the_emulator_serves_it_to_a_feed_client_and_a_live_source(fakex):
    async with Emulator(seed=3, interval_s=0.02) as emu:
        assert emu.ws_url("fakex").endswith("/fakex/ws")
        client = FeedClient(fakex.adapter, [SYMBOL], ws_url=emu.ws_url("fakex"), rest=False, **FAST)
        task = asyncio.create_task(client.run())
        try:
            event = await asyncio.wait_for(_next_mark(client), 5.0)
        finally:
            client.stop()
            await asyncio.wait_for(task, 5.0)
        assert (event.venue, event.symbol) == ("fakex", SYMBOL) and event.price > 0
        connection = await emu.wait_connected("fakex")
        assert json.loads(connection.received[0]) == {"op": "sub", "args": [SYMBOL]}

        source = LiveSource({"fakex": [SYMBOL]}, ws_urls={"fakex": emu.ws_url("fakex")}, client_options=FAST)
        seen = await run_until(source, mark_of(SYMBOL))
        assert seen[-1].venue == "fakex" and source.label == "live: fakex"


async def _next_mark(client: FeedClient):
    while True:
        event = await client.queue.get()
        if event.kind == "mark_price":
            return event


async def test_its_marks_drive_the_engine_with_its_own_rules(fakex):
    """The risk figure ``adlwatch check`` would show, from a mark the emulator pushed: an isolated long
    of 0.1 BTC at 65,000 with 10x (margin 650) liquidates where 650 + 0.1 (P − 65,000) = 1% × 0.1 P,
    i.e. P = (6,500 − 650) / (0.1 × 0.99) ≈ 59,090.91."""
    catalogue = default_catalogue().with_instruments(load_table(rules.INSTRUMENTS))
    portfolio = Portfolio.from_data({"account": [{"venue": "fakex", "wallet_balance": 1000.0, "position": [
        {"symbol": SYMBOL, "side": "long", "size": 0.1, "entry_price": 65000.0, "leverage": 10,
         "margin_mode": "isolated"}]}]}, catalogue)
    engine = RiskEngine(portfolio)
    async with Emulator(seed=3, interval_s=0.02) as emu:
        source = LiveSource({"fakex": [SYMBOL]}, ws_urls={"fakex": emu.ws_url("fakex")}, client_options=FAST)
        seen = await run_until(source, mark_of(SYMBOL))
    mark = seen[-1]
    assert engine.apply(mark)
    [position] = engine.snapshot().positions
    assert position.venue == "fakex" and position.mark_price == mark.price
    assert position.liquidation_price == pytest.approx((6500.0 - 650.0) / (0.1 * 0.99), rel=1e-9)
