"""At 100 columns nothing on the main screen is cut without a sign: the chart's title gives its
liquidation and bankruptcy prices whole (on two lines), and the replay bar ends a label it has no room
for in …, its progress bar half as long."""

from __future__ import annotations

from adlwatch.tui import format as fmt
from adlwatch.tui.widgets.chart import fit_title
from tests.tui.test_footer import demo_app, demo_settled
from tests.tui.test_snapshots import make_app, settle


def lines_of(widget) -> list[str]:
    return [strip.text.rstrip() for strip in widget.render_lines(widget.region.reset_offset)]


async def test_at_100x30_the_chart_title_gives_the_liquidation_and_bankruptcy_prices_whole():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        risk = app.view.snapshot.positions[0]
        title = lines_of(app.query_one("#chart-title"))
        assert title[0] == f"{risk.symbol} {risk.side}: mark {fmt.price(risk.mark_price)}"
        assert title[1] == f"liq. {fmt.price(risk.liquidation_price)}  bankr. {fmt.price(risk.bankruptcy_price)}"
        await pilot.resize_terminal(160, 48)  # wide: one line, as before
        await pilot.pause()
        await pilot.pause()
        title = lines_of(app.query_one("#chart-title"))
        assert title == [f"{risk.symbol} {risk.side}: mark {fmt.price(risk.mark_price)}  liq. "
                         f"{fmt.price(risk.liquidation_price)}  bankr. {fmt.price(risk.bankruptcy_price)}  x: minutes"]


def test_a_title_part_that_would_run_past_the_width_starts_a_line():
    parts = ("BTCUSDT long: mark 61,000.0", "[bold red]liq. 40,160.6[/]", "[magenta]bankr. 40,000.0[/]", "x: minutes")
    assert fit_title(parts, 38) == ("BTCUSDT long: mark 61,000.0\n[bold red]liq. 40,160.6[/]  [magenta]bankr. "
                                    "40,000.0[/]\nx: minutes")
    assert fit_title(parts, 0).count("\n") == 0  # not laid out yet
    assert "\n" not in fit_title(parts, 200)


async def test_at_100x30_the_replay_bar_ends_the_label_it_cannot_show_in_an_ellipsis():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await demo_settled(pilot)
        (line,) = lines_of(app.query_one("#replay-bar"))
        assert line.startswith(" REPLAY 2025-10-10 21:16:00 UTC  ") and line.endswith("…")
        assert line.count("█") + line.count("░") == 15
        assert "paused at 60x  replay: demo" in line
