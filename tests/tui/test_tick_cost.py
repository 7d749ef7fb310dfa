"""What a tick spends under a firehose: the alert rules only when something could fire or clear, the
rows on screen at every tick and the rest every few seconds, the chart once per second of marks, a side
panel only its changed lines; and what the trader sees stays the latest."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region

from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.tui import format as fmt
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.widgets import positions as positions_module
from adlwatch.tui.widgets.panels import Grid, GridPanel
from adlwatch.tui.widgets.positions import OFF_SCREEN_EVERY_MS, PositionsTable
from benchmarks.engine_bench import fifty_position_portfolio
from tests.cli.test_check_cli import PORTFOLIO
from tests.portfolio_files import parse

T0 = 1_700_000_000_000


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


async def test_alert_rules_run_when_the_monitor_moved_or_its_clock_entered_a_new_second():
    clock = Clock(T0 / 1000 + 0.1)
    app = AdlwatchApp(parse(PORTFOLIO), None, clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        calls: list[float] = []
        evaluate = app.monitor.evaluate

        def counted(now_s: float):
            calls.append(now_s)
            return evaluate(now_s)

        app.monitor.evaluate = counted
        app.refresh_view()
        app.refresh_view()
        assert calls == []  # nothing moved since the tick of the mount
        app.on_feed_event(MarkPrice(venue="binance", symbol="BTCUSDT", ts=T0 + 200, price=58_100.0))
        app.refresh_view()
        app.refresh_view()
        assert len(calls) == 1
        clock.now_s += 0.5  # the same second: nothing to evaluate
        app.refresh_view()
        assert len(calls) == 1
        clock.now_s += 0.5
        app.refresh_view()
        assert len(calls) == 2 and int(calls[-1]) == T0 // 1000 + 1


async def test_rows_off_screen_are_formatted_once_a_period_and_read_fresh(monkeypatch):
    clock = Clock(T0 / 1000 + 0.1)
    app = AdlwatchApp(fifty_position_portfolio(), None, clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        app.refresh_view()
        await pilot.pause()
        table = app.query_one(PositionsTable)
        on_screen = table.scrollable_content_region.height - 1
        assert 0 < on_screen < table.row_count == 50
        entries = {(p.venue, p.symbol): p.entry_price for a in app.monitor.portfolio.accounts for p in a.positions}
        for (venue, symbol), price in entries.items():
            app.on_feed_event(MarkPrice(venue=venue, symbol=symbol, ts=T0 + 300, price=price))
        app.refresh_view()
        await pilot.pause()
        rows = [(p.account, p.index, p.closed) for p in app.monitor.live().positions]
        formatted = []
        position_cells = positions_module.position_cells

        def counted(p, view, compact, *columns):
            formatted.append((p.account, p.index))
            return position_cells(p, view, compact, *columns)

        monkeypatch.setattr(positions_module, "position_cells", counted)
        for (venue, symbol), price in entries.items():  # every mark moves again, within the same period
            app.on_feed_event(MarkPrice(venue=venue, symbol=symbol, ts=T0 + 600, price=price * 1.0001))
        assert [(p.account, p.index, p.closed) for p in app.monitor.live().positions] == rows
        app.refresh_view()
        await pilot.pause()
        assert len(formatted) == on_screen  # the same period: only the rows on screen
        live = app.monitor.live().positions
        assert table.cell(0, "mark") == fmt.price(live[0].mark_price)
        assert table.cell(49, "mark") == fmt.price(live[49].mark_price)  # off screen, formatted when read
        formatted.clear()
        clock.now_s += 1.0
        app.refresh_view()
        await pilot.pause()
        assert len(formatted) == on_screen  # a new second (the countdowns) in the same period
        formatted.clear()
        clock.now_s += OFF_SCREEN_EVERY_MS / 1000
        app.refresh_view()
        await pilot.pause()
        assert len(formatted) == 50  # a new period: every row


async def test_the_chart_replots_once_per_second_of_marks_and_at_once_for_another_contract():
    app = AdlwatchApp(Portfolio((), catalogue=default_catalogue()), None)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one("MarkChart")

        async def mark(venue: str, symbol: str, ts: int, price: float) -> None:
            app.on_feed_event(MarkPrice(venue=venue, symbol=symbol, ts=ts, price=price))
            app.refresh_view()
            await pilot.pause()

        await mark("okx", "ETH-USDT-SWAP", T0, 2_000.0)
        await mark("binance", "SOLUSDT", T0 + 1000, 101.0)
        await mark("binance", "SOLUSDT", T0 + 2000, 102.0)
        assert chart._plotted[:2] == (("binance", "SOLUSDT"), 2)
        await mark("binance", "SOLUSDT", T0 + 2400, 103.0)
        assert chart._plotted[:2] == (("binance", "SOLUSDT"), 2)  # within the second drawn
        assert fmt.price(103.0) in str(app.query_one("#chart-title").render())  # the title has it now
        await mark("binance", "SOLUSDT", T0 + 3000, 104.0)
        assert chart._plotted[:2] == (("binance", "SOLUSDT"), 4)
        await pilot.press("g")
        await pilot.pause()
        assert chart._plotted[0] == ("okx", "ETH-USDT-SWAP")


class OnePanel(GridPanel):
    def show(self, view) -> None:
        return None


class PanelApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OnePanel(id="panel")


def accounts_grid(ratio: str) -> Grid:
    return Grid(("account", "ratio"), (False, True),
                ((("binance USDT", ""), ("8.8%", "")), (("okx USDT", ""), (ratio, "yellow"))))


async def test_a_side_panel_repaints_only_its_changed_lines_and_shows_the_new_grid(monkeypatch):
    app = PanelApp()
    async with app.run_test(size=(60, 10)) as pilot:
        panel = app.query_one(OnePanel)
        panel.show_grid(accounts_grid("12.0%"))
        await pilot.pause()
        width = panel.size.width
        regions: list[tuple[Region, ...]] = []
        refresh = OnePanel.refresh

        def spy(self, *args, **options):
            regions.append(args)
            return refresh(self, *args, **options)

        monkeypatch.setattr(OnePanel, "refresh", spy)
        panel.show_grid(accounts_grid("13.5%"))
        assert regions == [(Region(0, 2, width, 1),)]  # the header is line 0: the okx row alone
        await pilot.pause()
        expected = accounts_grid("13.5%").lines(width).plain.split("\n")
        assert [panel.render_line(y).text for y in range(3)] == expected
        regions.clear()
        panel.show_grid(accounts_grid("13.5%"))
        assert regions == []
