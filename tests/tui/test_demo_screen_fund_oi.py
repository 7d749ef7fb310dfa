"""Issue 15's acceptance for the demo: ``make demo`` shows a fund/OI ratio, as a number and a history,
at every size from 100x30 to 220x60, and says the figures are modelled."""

from __future__ import annotations

import pytest

from adlwatch.feeds.replay import ReplaySource
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.cli import demo_path
from adlwatch.tui.demo import DEMO_NOTE, MODELLED_FUND_OI, MODELLED_TAG, load_demo
from adlwatch.tui.widgets.panels import FundsPanel, ReplayBar
from tests import portfolio_files

START_MS = 1760130600000  # 21:10 UTC: the crash ahead
MINUTES = 11  # played a minute at a time (the "." key) to 21:21, past the low minute
SIZES = ((100, 30), (160, 48), (220, 60))


def demo_app() -> AdlwatchApp:
    source = ReplaySource(load_demo(), speed=60.0, playing=False)
    return AdlwatchApp(portfolio_files.load(demo_path("demo_portfolio.toml")), source, note=DEMO_NOTE,
                       start_ms=START_MS, autoplay=False)


def text(widget) -> str:
    return widget.render().plain


async def played(pilot) -> None:
    await pilot.pause()
    for _ in range(MINUTES):
        await pilot.press("full_stop")
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_demo_shows_btcusdt_fund_oi_and_its_history_at_every_size(size):
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await played(pilot)
        state = app.monitor.state(app.source.position_ms / 1000)
        contract = next(c for c in state.live.contracts if (c.venue, c.symbol) in MODELLED_FUND_OI)
        history = state.fund_history[(contract.venue, contract.symbol)]
        assert len(history) > MINUTES // 2  # a ratio for (nearly) every minute played
        row = next(line for line in text(app.query_one(FundsPanel)).splitlines() if "BTCUSDT" in line)
        assert f"{contract.fund_to_oi * 100:.3f}%" in row  # 9.219 % at 21:21, the low minute's close
        assert contract.fund_to_oi == pytest.approx(0.09219, abs=5e-6)
        spark = [cell for cell in row.split() if cell and set(cell) <= set("▁▂▃▄▅▆▇█")]
        assert spark and len(set(spark[0])) > 1  # the history drawn, and moving


@pytest.mark.parametrize("size", SIZES[1:], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_replay_bar_says_the_fund_and_open_interest_are_modelled(size):
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        assert "BTCUSDT fund/OI modelled" in text(app.query_one(ReplayBar))


async def test_the_fund_panel_tags_the_modelled_contracts_at_100_columns():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await played(pilot)
        row = next(line for line in text(app.query_one(FundsPanel)).splitlines() if "BTCUSDT" in line)
        assert MODELLED_TAG in row or MODELLED_TAG in str(app.query_one(FundsPanel).border_title)
