"""The monitor through the Pilot: keys in, table text out, checked against the engine."""

from __future__ import annotations

import pytest

from engine.shocks import apply_shocks, shock
from feeds.events import FeedStatus, MarkPrice
from feeds.portfolio_store import parse
from tests.cli.test_check_cli import PORTFOLIO
from tui import format as fmt
from tui.app import AdlwatchApp
from tui.widgets.positions import PositionsTable

MARKS = [("binance", "BTCUSDT", 58_000.0), ("binance", "ETHUSDT", 2_900.0), ("hyperliquid", "BTC", 58_100.0)]


class ListSource:
    """A source that emits a fixed list of events once (the live feed in miniature)."""

    label = "test source"

    def __init__(self, events):
        self.events = events

    async def run(self, emit):
        for event in self.events:
            emit(event)


def marks_source():
    return ListSource([MarkPrice(venue=v, symbol=s, ts=1_700_000_000_000, price=p) for v, s, p in MARKS])


def cell(app: AdlwatchApp, row: int, column: str) -> str:
    table = app.query_one(PositionsTable)
    return str(table.get_cell_at((row, list(table.columns).index(column))))


async def started(pilot):
    await pilot.app.workers.wait_for_complete()
    pilot.app.refresh_view()
    await pilot.pause()


@pytest.mark.parametrize(("key", "pct"), [("minus", -1), ("equals_sign", 1), ("underscore", -5), ("asterisk", 5)])
async def test_shock_key_sets_distance_to_what_engine_shocks_computes_and_l_restores_it(key, pct):
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        live = app.engine.snapshot()
        assert cell(app, 0, "dist") == fmt.pct(live.positions[0].distance_pct)
        await pilot.press(key)
        await pilot.pause()
        expected = apply_shocks(app.engine.inputs(), [shock(pct, venue="binance", symbol="BTCUSDT")])
        assert cell(app, 0, "dist") == fmt.pct(expected.positions[0].distance_pct)
        assert cell(app, 0, "dist") != fmt.pct(live.positions[0].distance_pct)
        assert cell(app, 0, "mark") == fmt.price(58_000.0 * (1 + pct / 100))
        # The live state is untouched, and l returns to it.
        assert app.engine.snapshot().positions[0].mark_price == 58_000.0
        await pilot.press("l")
        await pilot.pause()
        assert cell(app, 0, "dist") == fmt.pct(live.positions[0].distance_pct)
        assert not app.view.hypothetical


async def test_shocks_are_cumulative_and_scope_all_moves_every_mark():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("a", "underscore", "minus")
        await pilot.pause()
        expected = apply_shocks(app.engine.inputs(), [shock(-5), shock(-1)])
        for row, risk in enumerate(expected.positions):
            assert cell(app, row, "dist") == fmt.pct(risk.distance_pct)
            assert cell(app, row, "mark") == fmt.price(risk.mark_price)
        assert "HYPOTHETICAL" in str(app.query_one("#banner").render())


async def test_typed_shock_percentage():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("percent_sign")
        await pilot.pause()
        await pilot.press(*"-12.5", "enter")
        await pilot.pause()
        expected = apply_shocks(app.engine.inputs(), [shock(-12.5, venue="binance", symbol="BTCUSDT")])
        assert cell(app, 0, "dist") == fmt.pct(expected.positions[0].distance_pct)


async def test_every_help_key_is_bound_to_an_action_the_app_has():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        for binding in app.BINDINGS:
            name = binding.action.split("(")[0]
            assert hasattr(app, f"action_{name}"), binding.action


async def test_feed_status_events_show_in_the_feeds_panel():
    events = [*marks_source().events, FeedStatus(venue="binance", symbol="BTCUSDT", ts=None, state="stale", detail="no data 4 s")]
    app = AdlwatchApp(parse(PORTFOLIO), ListSource(events))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        states = {f.venue: f.state for f in app.view.feeds}
        assert states["binance"] == "stale" and states["hyperliquid"] == "connected"
