"""Issue 16, forms and prompts at 3 a.m.: the add form starts where typing goes, says an error in words
under its field, asks before saving what is almost surely a typo or a duplicate; prompts show their
whole question and take a single y; the footer lists only the keys that do something in this mode."""

from __future__ import annotations

import io
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from textual.widgets import Input, Label
from textual.widgets._footer import FooterKey

from adlwatch.engine.instruments import IMPLAUSIBLE_NOTIONAL_USD, default_catalogue, implausible_position
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.screens.edit import PositionForm, field_message, form_field
from adlwatch.tui.screens.prompt import ConfirmScreen, PercentScreen, box_width
from adlwatch.tui.widgets.positions import PositionsTable
from tests.cli.test_check_cli import PORTFOLIO
from tests.portfolio_files import load, parse
from tests.tui.test_app import app_on_file, marks_source, started

SMALL, LARGE = (100, 30), (160, 48)


def screen_text(app, region=None) -> str:
    """What the terminal shows, one line per row (rendered as the app's screenshot is); with
    ``region`` (a widget's), only that part of the screen."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False,
                      safe_box=False, force_terminal=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    lines = console.export_text().splitlines()
    if region is not None:
        lines = [line[region.x:region.right] for line in lines[region.y:region.bottom]]
    return "\n".join(lines)


def box_text(app) -> str:
    """The text of the top screen's box (a form or a prompt), flattened."""
    box = app.screen.query_one("#form-box, #percent-box")
    return flat(screen_text(app, box.region))


def flat(text: str) -> str:
    """Screen text with box edges and line breaks gone: a wrapped sentence reads as one."""
    return " ".join(re.sub(r"[│█▌▐▎▊┃]", " ", text).split())


async def open_add_form(pilot) -> PositionForm:
    await started(pilot)
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(pilot.app.screen, PositionForm)
    return pilot.app.screen


async def fill(pilot, form: PositionForm, **fields: str) -> None:
    for name, text in fields.items():
        form.query_one(f"#f-{name}", Input).value = text
    await pilot.pause()


async def submit(pilot) -> None:
    """Enter in a field: the form saves (or asks, or shows an error)."""
    await pilot.press("enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


# -- 1. focus -------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_the_add_form_opens_with_typing_going_into_the_symbol(size):
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=size) as pilot:
        form = await open_add_form(pilot)
        assert form.focused is form.query_one("#f-symbol", Input)
        await pilot.press(*"sol")
        await pilot.pause()
        assert form.query_one("#f-symbol", Input).value == "sol"


# -- 2. errors in words, beside the field ----------------------------------------------------------
async def test_a_size_that_is_no_number_is_said_in_words_right_under_the_size_at_100x30(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        form = await open_add_form(pilot)
        await fill(pilot, form, symbol="BTCUSDT", size="abc", entry_price="60000", leverage="10")
        form.query_one("#f-leverage", Input).focus()
        await submit(pilot)
        assert app.screen is form
        error = form.query_one("#e-size", Label)
        assert str(error.render()) == "size must be a number, e.g. 0.5"
        # Under the size input, on screen, and the cursor is back in the field to fix.
        size_row = form.query_one("#f-size-row")
        assert error.region.y == size_row.region.y + 1 and error.region.x == size_row.region.x
        assert error.region.bottom <= SMALL[1]
        assert form.focused is form.query_one("#f-size", Input)
        shown = box_text(app)
        assert "size must be a number, e.g. 0.5" in shown
        assert "account[" not in shown and "not str" not in shown
        assert form.query_one("#save").region.bottom <= SMALL[1]  # Save still on screen
    assert path.read_text() == PORTFOLIO


async def test_an_unknown_symbol_lists_every_close_spelling_in_full_under_the_symbol(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        form = await open_add_form(pilot)
        await fill(pilot, form, symbol="AAVEUSD", size="1", entry_price="100", leverage="5")
        await submit(pilot)
        error = str(form.query_one("#e-symbol", Label).render())
        close = default_catalogue().suggest("binance", "AAVEUSD")
        assert error.startswith("symbol AAVEUSD: unknown binance symbol")
        shown = box_text(app)
        for spelling in close:
            assert spelling in error and spelling in shown
        # A correction saves.
        await fill(pilot, form, symbol="AAVEUSDT")
        await submit(pilot)
        assert app.screen is not form
    assert load(path).accounts[0].positions[-1].symbol == "AAVEUSDT"


def test_a_store_error_maps_to_its_form_field_and_reads_as_words():
    assert form_field("account[0].position[3].size") == "size"
    assert form_field("account[2].position[0].entry_price") == "entry_price"
    assert form_field("account[2].venue") == "venue"
    assert form_field("account[1].wallet_balance") == "venue"
    assert form_field(None) is None and form_field("alerts.hold_s") is None
    assert field_message("size", "abc", "must be a number, not str") == "size must be a number, e.g. 0.5"
    assert field_message("entry_price", "x", "must be a number, not str") == "entry price must be a number, e.g. 60000"
    assert field_message("size", "-3", "must be positive") == "size -3: must be positive"
    assert field_message("symbol", "", "unknown okx symbol (3 known)", venue="okx") == "give a okx symbol, e.g. BTC-USDT-SWAP"


# -- 3. typo guard and duplicates ------------------------------------------------------------------
async def test_1e12_sol_asks_are_you_sure_n_goes_back_to_the_form_and_y_saves(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        form = await open_add_form(pilot)
        await fill(pilot, form, symbol="SOLUSDT", size="1e12", entry_price="150", leverage="5")
        await submit(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        shown = box_text(app)
        assert "Are you sure?" in shown and "largest position binance allows on SOLUSDT" in shown
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is form
        assert path.read_text() == PORTFOLIO
        await submit(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")  # one key, no Enter
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, (ConfirmScreen, PositionForm))
    saved = load(path).accounts[0].positions[-1]
    assert (saved.symbol, saved.size) == ("SOLUSDT", 1e12)


async def test_an_ordinary_position_saves_without_a_question(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        form = await open_add_form(pilot)
        await fill(pilot, form, symbol="SOLUSDT", size="12", entry_price="150", leverage="5")
        await submit(pilot)
        assert not isinstance(app.screen, (ConfirmScreen, PositionForm))
    assert load(path).accounts[0].positions[-1].symbol == "SOLUSDT"


async def test_a_second_identical_position_is_named_a_duplicate_and_asked_about(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        form = await open_add_form(pilot)  # account 0 holds BTCUSDT long 0.5 @ 60000
        await fill(pilot, form, symbol="BTCUSDT", size="0.5", entry_price="60000", leverage="10")
        await submit(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        shown = box_text(app)
        assert "account 0 already holds this position" in shown and "BTCUSDT long 0.5" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is form
        await submit(pilot)
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
    assert [p.symbol for p in load(path).accounts[0].positions].count("BTCUSDT") == 2


async def test_editing_a_position_without_change_is_not_a_duplicate_of_itself(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await started(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, PositionForm)
        app.screen.query_one("#f-size", Input).focus()
        await submit(pilot)
        assert not isinstance(app.screen, (ConfirmScreen, PositionForm))


@given(size=st.floats(1e-6, 1e15), price=st.floats(1e-4, 1e6))
def test_a_position_flagged_as_implausible_stays_flagged_when_larger(size, price):
    inst = default_catalogue().find("binance", "SOLUSDT")
    if implausible_position(inst, size, price):
        assert implausible_position(inst, size * 2, price)
        assert size * price > min(inst.tiers[-1].cap, IMPLAUSIBLE_NOTIONAL_USD)
    if size * price <= inst.tiers[0].cap:
        assert implausible_position(inst, size, price) is None


def test_a_one_tier_table_is_judged_only_by_the_absolute_ceiling():
    okx = default_catalogue().find("okx", "BTC-USDT-SWAP")
    assert len(okx.tiers) == 1  # a partial table: its one cap says nothing about the largest position
    assert implausible_position(okx, 50.0, 60_000.0) is None
    assert implausible_position(okx, IMPLAUSIBLE_NOTIONAL_USD / 60_000.0 * 2, 60_000.0)
    assert implausible_position(okx, math.nan, 60_000.0) is None


# -- 4. prompts: the whole question, single-key confirmations ---------------------------------------
def test_a_prompt_box_fits_its_question_within_the_screen():
    assert box_width("short?", 100) == 60
    assert box_width("x" * 80, 200) == 86
    assert box_width("x" * 300, 100) == 96  # the question wraps


async def test_the_percent_m_and_x_prompts_show_their_whole_question_at_100x30(tmp_path):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await started(pilot)
        await pilot.press("percent_sign")
        await pilot.pause()
        assert isinstance(app.screen, PercentScreen)
        assert "Shock the selected symbol by how many percent? (-12.5 = a 12.5% fall)" in box_text(app)
        await pilot.press("escape")
        app.query_one(PositionsTable).move_cursor(row=1)  # the isolated ETH short
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        assert "Add isolated margin to ETHUSDT (negative removes); now 2500 USDT" in box_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Remove the binance USDT account (wallet 10000) and its 2 position(s)?" in box_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert path.read_text() == PORTFOLIO


@pytest.mark.parametrize(("answer", "removed"), [("y", True), ("n", False), ("escape", False)])
async def test_x_takes_a_single_key(tmp_path, answer, removed):
    path, app = app_on_file(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await started(pilot)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(answer)  # no Enter
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, ConfirmScreen)
        assert len(app.portfolio.accounts[0].positions) == (1 if removed else 2)
    assert (path.read_text() == PORTFOLIO) is not removed


# -- 5. the footer follows the mode ----------------------------------------------------------------
REPLAY_KEYS = ("play_pause", "faster", "slower", "seek(60)", "seek(-60)", "seek_time")


def footer_actions(app) -> set[str]:
    return {key.action for key in app.screen.query(FooterKey)}


async def test_live_the_footer_hides_the_replay_keys_and_they_do_nothing_quietly():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        shown = footer_actions(app)
        assert "cascade" in shown
        assert not shown & set(REPLAY_KEYS)
        for action in ("play_pause", "faster", "slower", "seek", "seek_time"):
            assert app.check_action(action, ()) is False
        before = [n.message for n in app._notifications]
        await pilot.press("space", "right_square_bracket", "full_stop", "t")
        await pilot.pause()
        assert [n.message for n in app._notifications] == before, before  # no "live feed: nothing to pause"
        assert app.screen is app.screen_stack[0]  # t asked nothing
        offered = {c.help for c in app.get_system_commands(app.screen)}  # the command palette (ctrl+p)
        assert "key: c" in offered and not {h for h in offered if h in ("key: space", "key: .", "key: t")}


async def test_in_a_replay_the_footer_shows_the_replay_keys_and_they_work():
    from adlwatch.feeds.replay import ReplaySource
    from adlwatch.tui.cli import demo_path
    from adlwatch.tui.demo import DEMO_NOTE, load_demo
    from tests import portfolio_files

    t_ms = 1760130960000
    source = ReplaySource(load_demo(), speed=60.0, playing=False)
    app = AdlwatchApp(portfolio_files.load(demo_path("demo_portfolio.toml")), source, note=DEMO_NOTE,
                      start_ms=t_ms, autoplay=False, clock=lambda: t_ms / 1000)
    async with app.run_test(size=(220, 60)) as pilot:
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        shown = footer_actions(app)
        assert {"play_pause", "faster", "slower", "seek(60)", "seek(-60)", "seek_time"} <= shown
        assert all(app.check_action(a, ()) for a in ("play_pause", "faster", "slower", "seek", "seek_time"))
        offered = {c.help for c in app.get_system_commands(app.screen)}
        assert {"key: space", "key: .", "key: t"} <= offered
        before = source.position_ms
        await pilot.press("full_stop")
        await pilot.pause()
        assert source.position_ms == before + 60_000
