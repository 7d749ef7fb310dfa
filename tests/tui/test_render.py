"""The render path (a 5 Hz tick): a tick repaints what changed, never lays out the whole screen, never shows a
stale figure; the positions table keeps DataTable's keys, mouse and fixed header."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from textual.widget import Widget
from textual.widgets import Footer

from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.tui import format as fmt
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.widgets.chart import envelope
from adlwatch.tui.widgets.panels import Grid
from adlwatch.tui.widgets.positions import PositionsTable
from benchmarks.engine_bench import fifty_position_portfolio
from tests.cli.test_check_cli import PORTFOLIO
from tests.portfolio_files import parse
from tests.tui.test_app import marks_source, started

T0 = 1_700_000_000_000


def btc_mark(i: int, price: float) -> MarkPrice:
    return MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0 + 100 * i, price=price)


async def test_a_new_mark_is_on_screen_after_the_next_tick():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        app.on_feed_event(btc_mark(1, 58_123.4))
        app.refresh_view()
        await pilot.pause()
        line = app.query_one(PositionsTable).render_line(1).text  # line 0 is the header
        assert "58,123.4" in line
        assert fmt.pct(app.monitor.live().positions[0].distance_pct) in line


async def test_ticks_of_moving_marks_repaint_without_laying_out_the_screen(monkeypatch):
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        layouts: list[str] = []
        refresh = Widget.refresh

        def spy(self, *regions, **options):
            # The Footer recomposes once when the first focus settles its bindings: not a tick's doing.
            if options.get("layout") and not any(isinstance(node, Footer) for node in self.ancestors_with_self):
                layouts.append(type(self).__name__)
            return refresh(self, *regions, **options)

        monkeypatch.setattr(Widget, "refresh", spy)
        for i, price in enumerate((58_010.0, 58_020.0, 57_990.0), start=1):
            app.on_feed_event(btc_mark(i, price))
            app.refresh_view()
            await pilot.pause()
        # Every panel showed the new figures (mark, margin, the feed's age), and none asked for a layout.
        table = app.query_one(PositionsTable)
        assert table.cell(0, "mark") == "57,990.0"
        assert fmt.amount(app.view.snapshot.accounts[0].margin_balance) in str(app.query_one("#accounts").render())
        assert "57,990.0" in str(app.query_one("#chart-title").render())
        assert layouts == []


async def test_down_and_a_click_move_the_selection_and_the_chart_follows():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        table = app.query_one(PositionsTable)
        assert table.selected_key == "0:0"
        await pilot.press("down")
        await pilot.pause()
        app.refresh_view()  # as the timer would
        assert table.selected_key == "0:1"
        assert "ETHUSDT short" in str(app.query_one("#chart-title").render())
        # The table's top border is line 0, its header line 1: line 4 is the third position.
        await pilot.click(PositionsTable, offset=(4, 4))
        await pilot.pause()
        app.refresh_view()
        assert table.selected_key == "1:0"
        assert "BTC short" in str(app.query_one("#chart-title").render())


async def test_end_scrolls_to_the_last_position_under_a_fixed_header():
    app = AdlwatchApp(fifty_position_portfolio(), None)
    async with app.run_test(size=(160, 48)) as pilot:
        app.refresh_view()
        await pilot.pause()
        table = app.query_one(PositionsTable)
        assert table.row_count == 50
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == 49 and table.scroll_y > 0
        assert table.render_line(0).text.split()[:2] == ["venue", "symbol"]
        last = table.render_line(table.scrollable_content_region.height - 1).text
        assert table.cell(49, "symbol") in last and table.cell(49, "size") in last
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0


def test_grid_spreads_its_columns_over_the_width_and_crops_a_long_name():
    grid = Grid(("account", "ratio"), (False, True), ((("binance USDT", ""), ("8.8%", "yellow")),))
    header, row = grid.lines(40).plain.split("\n")
    assert len(header) == len(row) == 40
    assert row.startswith(" binance USDT") and row.endswith(" 8.8% ")
    narrow = grid.lines(14).plain.split("\n")[1]
    assert len(narrow) == 14 and "…" in narrow and narrow.endswith(" 8.8% ")


@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=600), st.integers(1, 80))
def test_envelope_keeps_every_columns_low_and_high_in_time_order(prices, columns):
    series = tuple((i * 1000, p) for i, p in enumerate(prices))
    thinned = envelope(series, columns)
    assert len(thinned) <= max(len(series), 2 * columns)
    assert set(thinned) <= set(series)
    assert list(thinned) == sorted(thinned)
    assert min(p for _, p in thinned) == min(prices) and max(p for _, p in thinned) == max(prices)


async def test_an_empty_portfolio_shows_the_header_live_and_under_a_shock():
    app = AdlwatchApp(Portfolio((), catalogue=default_catalogue()), None)
    async with app.run_test(size=(120, 40)) as pilot:
        app.refresh_view()
        await pilot.pause()
        table = app.query_one(PositionsTable)
        assert table.row_count == 0 and table.selected_key is None
        assert "est." in table.render_line(0).text
        assert str(app.query_one("#chart-title").render()) == "no position selected"
        await pilot.press("a", "underscore")
        await pilot.pause()
        assert app.view.hypothetical and "Δ dist." in table.render_line(0).text


async def test_with_nothing_held_the_chart_follows_the_first_contracts_mark():
    """A replay without a portfolio still shows a market: the first contract (venue, symbol order) that
    has marks, with its latest mark in the title; a position, once held, takes the chart back."""
    from textual_plot import PlotWidget

    app = AdlwatchApp(Portfolio((), catalogue=default_catalogue()), None)
    async with app.run_test(size=(120, 40)) as pilot:
        for i, price in enumerate((101.0, 102.5, 101.75), start=1):
            app.on_feed_event(MarkPrice(venue="okx", symbol="ETH-USDT-SWAP", ts=T0 + 1000 * i, price=price * 20))
            app.on_feed_event(MarkPrice(venue="binance", symbol="SOLUSDT", ts=T0 + 1000 * i, price=price))
        app.refresh_view()
        await pilot.pause()
        title = str(app.query_one("#chart-title").render())
        assert title.startswith(f"binance SOLUSDT: mark {fmt.price(101.75)}") and "no position held" in title
        assert list(app.view.mark_history) == [("binance", "SOLUSDT")]
        assert app.query_one("MarkChart")._plotted[:2] == (("binance", "SOLUSDT"), 3)  # the three marks were drawn
        assert app.query_one(PlotWidget).size.width > 0
        await pilot.press("g")  # the next contract, then round to the first again
        assert list(app.view.mark_history) == [("okx", "ETH-USDT-SWAP")]
        assert str(app.query_one("#chart-title").render()).startswith(f"okx ETH-USDT-SWAP: mark {fmt.price(2035.0)}")
        await pilot.press("g")
        assert list(app.view.mark_history) == [("binance", "SOLUSDT")]
    held = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with held.run_test(size=(120, 40)) as pilot:
        await started(pilot)
        held.on_feed_event(MarkPrice(venue="binance", symbol="AAAUSDT", ts=T0, price=1.0))
        held.refresh_view()
        await pilot.pause()
        assert "no position held" not in str(held.query_one("#chart-title").render())
