"""The footer at any width: the keys that matter in the mode first (a replay's controls in a replay; the
what-if and editing keys live), ``? keys`` always, each key whole; at 160 and 220 columns every key
Textual's stock footer showed there is still shown."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey, FooterLabel

from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.widgets.footer import KeysFooter
from tests.tui.test_snapshots import make_app, settle

REPLAY_CONTROLS = ("play_pause", "slower", "faster", "seek(-60)", "seek(60)", "seek_time")
# What the stock footer (every key as declared, cut at the right edge) showed before it was fitted.
STOCK_SHOWED = {
    ("live", 160): {"help", "shock(-1)", "shock(1)", "toggle_scope", "live", "adl_details", "cascade", "alert_log",
                    "new_position"},
    ("live", 220): {"help", "shock(-1)", "shock(1)", "toggle_scope", "live", "adl_details", "cascade", "alert_log",
                    "new_position", "edit_position", "remove_position"},
    ("replay", 160): {"help", "acknowledge", "shock(-1)", "shock(1)", "toggle_scope", "live", "play_pause", "faster"},
    ("replay", 220): {"help", "acknowledge", "shock(-1)", "shock(1)", "toggle_scope", "live", "play_pause", "faster",
                      "slower", "seek(60)", "seek(-60)"},
}


def demo_app() -> AdlwatchApp:
    """The demo paused mid-crash: a closed position waits on the banner (k)."""
    from adlwatch.feeds.replay import ReplaySource
    from adlwatch.tui.cli import demo_path
    from adlwatch.tui.demo import DEMO_NOTE, load_demo
    from tests import portfolio_files

    t_ms = 1760130960000
    source = ReplaySource(load_demo(), speed=60.0, playing=False)
    return AdlwatchApp(portfolio_files.load(demo_path("demo_portfolio.toml")), source, note=DEMO_NOTE,
                       start_ms=t_ms, autoplay=False, clock=lambda: t_ms / 1000)


async def demo_settled(pilot) -> None:
    await pilot.pause()
    pilot.app.refresh_view()
    await pilot.pause()


def footer_line(app: AdlwatchApp) -> str:
    """The footer's line as on screen: each key and group word drawn where it stands."""
    footer = app.query_one(KeysFooter)
    line = [" "] * app.size.width
    for widget in [*footer.query(FooterKey), *footer.query(FooterLabel)]:
        region = widget.region
        text = widget.render_lines(region.reset_offset)[0].text
        line[region.x:region.x + len(text)] = text
    return "".join(line)


def assert_every_key_whole(app: AdlwatchApp) -> None:
    """No key or group word runs under the palette's key or off the screen."""
    footer = app.query_one(KeysFooter)
    palette = footer.query_one(".-command-palette")
    for widget in [*footer.query(FooterKey), *footer.query(FooterLabel)]:
        if widget is palette:
            continue
        assert widget.region.right <= palette.region.x, (widget, widget.region, palette.region)
    assert palette.region.right <= app.size.width


async def test_at_100x30_a_replay_shows_its_controls_first_and_the_help_key():
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await demo_settled(pilot)
        footer = app.query_one(KeysFooter)
        # The closed position's acknowledgement first while it waits, then pause, speed, seek, time.
        assert footer.shown_actions[:8] == ("help", "acknowledge", *REPLAY_CONTROLS)
        line = footer_line(app)
        assert line.startswith(" ? keys ")
        for words in ("space play/pause", "[ ] speed", ", . ±1 min", "t go to time", "^p palette"):
            assert words in line, (words, line)
        assert_every_key_whole(app)
        await pilot.press("k")  # acknowledged: its room goes to the next keys
        await pilot.pause()
        await pilot.pause()
        assert "acknowledge" not in footer.shown_actions
        assert footer.shown_actions[:7] == ("help", *REPLAY_CONTROLS)
        assert {"shock(-1)", "shock(1)"} <= set(footer.shown_actions)
        assert_every_key_whole(app)


async def test_at_100x30_live_shows_the_what_if_and_edit_keys_and_no_replay_key():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        footer = app.query_one(KeysFooter)
        assert footer.shown_actions[:8] == ("help", "shock(-1)", "shock(1)", "live", "toggle_scope", "new_position",
                                            "edit_position", "remove_position")
        assert not set(footer.shown_actions) & set(REPLAY_CONTROLS)
        line = footer_line(app)
        assert line.startswith(" ? keys ")
        for words in ("- =/+ shock", "l live", "a scope", "n add", "e edit", "x remove"):
            assert words in line, (words, line)
        assert_every_key_whole(app)


@pytest.mark.parametrize("mode", ["live", "replay"])
@pytest.mark.parametrize("size", [(160, 48), (220, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_at_160_and_220_columns_no_key_the_stock_footer_showed_is_lost(mode, size):
    app = make_app() if mode == "live" else demo_app()
    async with app.run_test(size=size) as pilot:
        await (settle(pilot) if mode == "live" else demo_settled(pilot))
        shown = set(app.query_one(KeysFooter).shown_actions)
        assert STOCK_SHOWED[(mode, size[0])] <= shown, STOCK_SHOWED[(mode, size[0])] - shown
        if size[0] == 220:  # room for every key the mode has
            offered = {b.action for _, b, _, _ in app.screen.active_bindings.values()
                       if b.show and b.action != "command_palette"}
            assert offered == shown, offered ^ shown
        assert_every_key_whole(app)


async def test_the_footer_fits_itself_again_when_the_terminal_is_resized():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        footer = app.query_one(KeysFooter)
        narrow = footer.shown_actions
        assert "quit" not in narrow
        await pilot.resize_terminal(220, 60)
        await pilot.pause()
        await pilot.pause()
        tall = tuple(a for a in narrow if a != "side_panels")  # p: only under 40 rows
        assert "quit" in footer.shown_actions and footer.shown_actions[:len(tall)] == tall
        assert_every_key_whole(app)
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        await pilot.pause()
        assert footer.shown_actions == narrow
        assert_every_key_whole(app)


async def test_the_help_screen_and_the_palette_keep_each_keys_whole_words():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        commands = {c.help: c.title for c in app.get_system_commands(app.screen)}
        assert commands["key: x"] == "Remove the selected position"  # the footer says "remove"
        assert commands["key: a"] == "Shock scope: selected / all"
        await pilot.press("question_mark")
        await pilot.pause()
        table = app.screen.query_one("#help-body").query("Static").first()
        text = "\n".join(strip.text for strip in table.render_lines(table.region.reset_offset))
        assert "ADL estimate: why, what if" in text and "edit the selected position" in text


async def test_the_cascade_screen_footer_shows_its_own_keys_and_help_not_the_screen_behind_it():
    from tests.tui.test_issue16_screens import make_app as cascade_app
    from tests.tui.test_issue16_screens import open_cascade

    app = cascade_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_cascade(pilot)
        footer = screen.query_one(KeysFooter)
        # "-" would shock the live screen behind, not this cascade ([ ] do): not offered here.
        assert footer.shown_actions == ("dismiss", "shock(-5)", "shock(5)", "policy", "help")
        assert_every_key_whole(app)
