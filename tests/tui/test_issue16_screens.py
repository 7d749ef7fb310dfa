"""Issue 16, what the screen says: the cascade screen and the alert log show no number cut, at
100×30 and 220×60; the cascade's first ADL is worded as ``adlwatch simulate`` words it; a feed's
whole failure reason is one key (A) away; the alert log is in time order."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from adlwatch.engine.alerts import Alert
from adlwatch.engine.enums import Side
from adlwatch.engine.events import FeedStatus
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.screens.alerts import AlertLogScreen
from adlwatch.tui.screens.cascade import CascadeScreen
from adlwatch.tui.simulate import first_adl_words
from tests.cli.test_check_cli import PORTFOLIO
from tests.portfolio_files import parse
from tests.tui.test_app import ListSource, marks_source
from tests.tui.test_issue16_forms import flat, screen_text

FIXED_CLOCK = 1_700_000_003.0  # 3 s after the test marks' exchange time
REASON = ("ConnectError: [Errno 111] Connect call failed ('127.0.0.1', 9443): the venue refused the "
          "connection; retrying in 8 s (attempt 4)")
SIZES = [(100, 30), (220, 60)]


def make_app() -> AdlwatchApp:
    events = [*marks_source().events,
              FeedStatus(venue="bybit", symbol="", ts=None, state="error", detail=REASON)]
    return AdlwatchApp(parse(PORTFOLIO), ListSource(events), clock=lambda: FIXED_CLOCK)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    pilot.app.refresh_view()
    await pilot.pause()


async def open_cascade(pilot, shock_presses: int = 0) -> CascadeScreen:
    await settle(pilot)
    await pilot.press("c")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CascadeScreen)
    for _ in range(shock_presses):
        await pilot.press("left_square_bracket")
    await screen.workers.wait_for_complete()
    await pilot.pause()
    return screen


def assert_rounds_whole(app, screen: CascadeScreen) -> None:
    """Every column is on screen and every visible cell reads in full on its row."""
    table = screen.query_one("#cascade-rounds", DataTable)
    assert table.virtual_size.width <= table.scrollable_content_region.width  # no column off to the side
    lines = screen_text(app).splitlines()
    header = lines[table.region.y]
    for name in ("step", "price", "liq. USD", "gap", "fund", "ADL", "haircut"):
        assert name in header
    visible = min(table.row_count, table.scrollable_content_region.height - 1)
    assert visible > 5
    for i in range(visible):
        line = lines[table.region.y + 1 + i]
        cells = [str(c) for c in table.get_row_at(i)]
        at = 0
        for cell in cells:  # in order, each whole
            found = line.find(cell, at)
            assert found >= 0, (cell, line)
            at = found + len(cell)


@pytest.mark.parametrize("size", SIZES)
async def test_the_cascade_screen_shows_every_column_and_number_whole(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        screen = await open_cascade(pilot)
        assert_rounds_whole(app, screen)
        assert screen.has_class("-narrow") is (size[0] < 130)
        summary = str(screen.query_one("#cascade-summary").render())
        shown = flat(screen_text(app))
        for line in summary.splitlines():
            assert " ".join(line.split()) in shown
        assert "an estimate on a modelled population" in shown  # the title wraps rather than cut


async def test_the_cascade_summary_words_the_first_adl_as_simulate_does():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        risk = app.selected_position()
        start = app.monitor.cascade_start(risk.account, risk.index)
        shock = next(s for s in (-10.0, -20.0, -30.0, -40.0, -50.0, -60.0) if start.run(s, "queue").first_adl is not None)
        screen = await open_cascade(pilot, shock_presses=int((-10.0 - shock) / 5))
        assert screen.shock_pct == shock
        expected = first_adl_words(start.run(shock, "queue"))
        assert expected.startswith("first ADL at step")
        assert expected in str(screen.query_one("#cascade-summary").render())
        assert_rounds_whole(app, screen)


async def test_a_feeds_whole_failure_reason_is_in_the_alert_log_at_100x30():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AlertLogScreen)
        shown = flat(screen_text(app, app.screen.query_one("#help-body").region))
        assert "Feeds: the last status of each, in full" in shown
        assert f"bybit error {REASON}" in shown


def alert(ts_ms: int, message: str) -> Alert:
    return Alert(rule="distance", venue="binance", symbol="BTCUSDT", side=Side.LONG, account=0, state="fired",
                 value=4.0, threshold=5.0, estimate=False, ts_ms=ts_ms, message=message)


async def test_the_alert_log_is_newest_first_whatever_order_they_came_in():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        logged = [alert(1_700_000_002_000, "second"), alert(1_700_000_001_000, "first"),
                  alert(1_700_000_003_000, "third")]
        app.push_screen(AlertLogScreen(logged, [], "rules"))
        await pilot.pause()
        text = str(app.screen.query_one("#alert-log-alerts").render())
        assert text.index("third") < text.index("second") < text.index("first")


# -- snapshots: what a user sees ------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
def test_cascade_screen_snapshot(snap_compare, size):
    async def cascade_open(pilot):
        screen = await open_cascade(pilot)
        assert_rounds_whole(pilot.app, screen)

    assert snap_compare(make_app(), terminal_size=size, run_before=cascade_open)


@pytest.mark.parametrize("size", SIZES)
def test_alert_log_snapshot(snap_compare, size):
    async def log_open(pilot):
        await settle(pilot)
        await pilot.press("A")
        await pilot.pause()
        body = pilot.app.screen.query_one("#help-body")
        assert f"bybit error {REASON}" in flat(screen_text(pilot.app, body.region))

    assert snap_compare(make_app(), terminal_size=size, run_before=log_open)


async def test_the_rounds_columns_are_set_to_their_widest_cell_before_the_rows_come():
    """The header is drawn at its final width at once: the columns are as wide as the run's widest
    cell when the rows are added (an auto-width column widens only when the table next goes idle, and
    a header drawn before that stayed narrow over wider rows: a snapshot caught it under load)."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_cascade(pilot, shock_presses=1)
        table = screen.query_one("#cascade-rounds", DataTable)
        assert table.row_count > 0
        for column in table.ordered_columns:
            cells = [str(c) for c in table.get_column(column.key)]
            assert not column.auto_width
            assert column.width == max(len(str(column.label)), *map(len, cells))
