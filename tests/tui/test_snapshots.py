"""Snapshot tests of the screens a user sees (pytest-textual-snapshot; update with --snapshot-update)."""

from __future__ import annotations

from adlwatch.tui.app import AdlwatchApp
from tests import portfolio_files
from tests.cli.test_check_cli import PORTFOLIO
from tests.portfolio_files import parse
from tests.tui.test_app import marks_source

FIXED_CLOCK = 1_700_000_003.0  # 3 s after the test marks' exchange time


def make_app() -> AdlwatchApp:
    return AdlwatchApp(parse(PORTFOLIO), marks_source(), clock=lambda: FIXED_CLOCK)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    pilot.app.refresh_view()
    await pilot.pause()


def test_main_screen_live(snap_compare):
    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=settle)


def test_main_screen_hypothetical(snap_compare):
    async def shocked(pilot):
        await settle(pilot)
        await pilot.press("underscore")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=shocked)


def test_help_screen(snap_compare):
    async def help_open(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=help_open)


def test_edit_form(snap_compare):
    async def form_open(pilot):
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=form_open)


def test_demo_main_screen_at_a_fixed_replay_time(snap_compare):
    from adlwatch.feeds.replay import ReplaySource
    from adlwatch.tui.cli import demo_path
    from adlwatch.tui.demo import DEMO_NOTE, load_demo

    t_ms = 1760130960000  # 21:16:00 UTC, mid-crash
    source = ReplaySource(load_demo(), speed=60.0, playing=False)
    app = AdlwatchApp(portfolio_files.load(demo_path("demo_portfolio.toml")), source, note=DEMO_NOTE,
                      start_ms=t_ms, autoplay=False, clock=lambda: t_ms / 1000)

    async def at_time(pilot):
        await pilot.pause()
        pilot.app.refresh_view()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=at_time)
