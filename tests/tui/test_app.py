"""The monitor through the Pilot: keys in, table text out, checked against the engine."""

from __future__ import annotations

import pytest

from adlwatch.engine.events import FeedStatus, MarkPrice
from adlwatch.engine.shocks import apply_shocks, shock
from adlwatch.tui import format as fmt
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.widgets.positions import PositionsTable
from tests.cli.test_check_cli import PORTFOLIO
from tests.portfolio_files import BINANCE_BTC_LONG, parse

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


def app_on_file(tmp_path):
    """The monitor on a real portfolio file (the test portfolio), so edits are saved to it."""
    from tests.portfolio_files import load

    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    return path, AdlwatchApp(load(path), marks_source(), portfolio_path=path)


def cell(app: AdlwatchApp, row: int, column: str) -> str:
    return app.query_one(PositionsTable).cell(row, column)


async def started(pilot):
    await pilot.app.workers.wait_for_complete()
    pilot.app.refresh_view()
    await pilot.pause()


@pytest.mark.parametrize(("key", "pct"), [("minus", -1), ("equals_sign", 1), ("underscore", -5), ("asterisk", 5)])
async def test_shock_key_sets_distance_to_what_engine_shocks_computes_and_l_restores_it(key, pct):
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        live = app.monitor.live()
        assert cell(app, 0, "dist") == fmt.pct(live.positions[0].distance_pct)
        await pilot.press(key)
        await pilot.pause()
        expected = apply_shocks(app.monitor.inputs(), [shock(pct, venue="binance", symbol="BTCUSDT")])
        assert cell(app, 0, "dist") == fmt.pct(expected.positions[0].distance_pct)
        assert cell(app, 0, "dist") != fmt.pct(live.positions[0].distance_pct)
        assert cell(app, 0, "mark") == fmt.price(58_000.0 * (1 + pct / 100))
        # The live state is untouched, and l returns to it.
        assert app.monitor.live().positions[0].mark_price == 58_000.0
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
        expected = apply_shocks(app.monitor.inputs(), [shock(-5), shock(-1)])
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
        expected = apply_shocks(app.monitor.inputs(), [shock(-12.5, venue="binance", symbol="BTCUSDT")])
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


async def test_editing_a_position_persists_to_the_file_and_survives_a_restart(tmp_path):
    from tests.portfolio_files import load

    path, app = app_on_file(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("e")
        await pilot.pause()
        size = app.screen.query_one("#f-size")
        size.value = "0.75"
        await pilot.click("#save")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert cell(app, 0, "size") == "0.75"
    assert load(path).accounts[0].positions[0].size == 0.75
    assert (tmp_path / "portfolio.toml.bak").read_text() == PORTFOLIO
    restarted = AdlwatchApp(load(path), marks_source(), portfolio_path=path)
    async with restarted.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        assert cell(restarted, 0, "size") == "0.75"
        expected = restarted.monitor.live().positions[0]
        assert cell(restarted, 0, "liq").removesuffix(" †") == fmt.price(expected.liquidation_price)


async def test_a_bad_edit_keeps_the_form_open_with_the_field_named_and_the_file_untouched(tmp_path):

    path, app = app_on_file(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#f-size").value = "-3"
        await pilot.click("#save")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "PositionForm"
        error = str(app.screen.query_one("#form-error").render())
        assert "size" in error and "-3" in error
    assert path.read_text() == PORTFOLIO


async def test_adding_isolated_margin_moves_the_liquidation_price_away(tmp_path):
    from tests.portfolio_files import load

    path, app = app_on_file(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        before = app.monitor.live().positions[1]  # the isolated ETH short
        app.query_one(PositionsTable).move_cursor(row=1)
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        await pilot.press(*"500", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        after = app.monitor.live().positions[1]
        assert after.liquidation_price > before.liquidation_price
        assert cell(app, 1, "liq").removesuffix(" †") == fmt.price(after.liquidation_price)
    assert load(path).accounts[0].positions[1].isolated_margin == 3000.0


async def test_lights_show_the_engines_adl_quantile_and_i_explains_it():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        risks = app.monitor.live().positions
        assert all(r.adl_quantile in (1, 2, 3, 4, 5) for r in risks)
        for row, risk in enumerate(risks):
            assert cell(app, row, "lights").count("●") == risk.adl_quantile
        app.query_one(PositionsTable).move_cursor(row=1)
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "AdlScreen"
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "ESTIMATED" in text and "add" in text and "modelled population" in text


async def test_c_runs_the_cascade_in_a_worker_and_shows_the_rounds():
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("c")
        await pilot.pause()
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert screen.__class__.__name__ == "CascadeScreen"
        rounds = screen.query_one("#cascade-rounds")
        assert rounds.row_count > 0
        summary = str(screen.query_one("#cascade-summary").render())
        assert "liquidated" in summary and "your long 0.5 @ 60000" in summary
        await pilot.press("p")  # next policy, re-run
        await screen.workers.wait_for_complete()
        await pilot.pause()
        assert screen.policy == "pro-rata" and rounds.row_count > 0


async def test_removing_an_account_asks_first_and_saves(tmp_path):
    from tests.portfolio_files import load

    path, app = app_on_file(tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        app.query_one(PositionsTable).move_cursor(row=2)  # the Hyperliquid short
        await pilot.pause()
        await pilot.press("X")
        await pilot.pause()
        await pilot.press("n", "enter")  # declined: nothing changes
        await pilot.pause()
        assert len(app.portfolio.accounts) == 2
        await pilot.press("X")
        await pilot.pause()
        await pilot.press("y", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert [a.venue for a in app.portfolio.accounts] == ["binance"]
        assert app.query_one(PositionsTable).row_count == 2
    assert [a.venue for a in load(path).accounts] == ["binance"]


REFRESHED = BINANCE_BTC_LONG + """\

[[account.position]]
symbol = "ZZZUSDT"
side = "long"
size = 0.1
entry_price = 60000.0
leverage = 10
margin_mode = "cross"
"""


async def test_an_edit_keeps_the_refreshed_tier_tables_and_a_contract_known_only_from_them(tmp_path):
    """Issue 12: an edit (here w, the wallet) rebuilt the portfolio with the bundled tier tables: BTCUSDT's
    refreshed MMR went back to the bundled one, and a contract known only from the refresh made the edit
    fail. The catalogue the portfolio was loaded with travels with it (engine/portfolio.py)."""
    from dataclasses import replace

    from adlwatch.engine.instruments import default_catalogue
    from tests.portfolio_files import load

    bundled = default_catalogue()
    btc = bundled.get("binance", "BTCUSDT")
    # As a refreshed table would say: every tier's MMR (and so its maintenance amount) doubled.
    refreshed = replace(btc, tiers=tuple(replace(t, mmr=2 * t.mmr, maint_amount=2 * t.maint_amount) for t in btc.tiers))
    assert btc.tiers[0].mmr == 0.004
    catalogue = bundled.with_instruments([refreshed, replace(btc, symbol="ZZZUSDT")])
    path = tmp_path / "portfolio.toml"
    path.write_text(REFRESHED)
    marks = ListSource([MarkPrice(venue="binance", symbol=s, ts=1_700_000_000_000, price=58_000.0)
                        for s in ("BTCUSDT", "ZZZUSDT")])
    app = AdlwatchApp(load(path, catalogue), marks, portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        before = app.monitor.live().positions
        assert before[0].maintenance_margin == pytest.approx(0.5 * 58_000.0 * 0.008)  # the refreshed MMR
        await pilot.press("w")
        await pilot.pause()
        await pilot.press(*"20000", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.portfolio.accounts[0].wallet_balance == 20_000.0
        after = app.monitor.live().positions
        assert [p.symbol for p in after] == ["BTCUSDT", "ZZZUSDT"]  # the cache-only contract survived
        assert after[0].maintenance_margin == before[0].maintenance_margin  # still the refreshed MMR
        assert after[0].liquidation_price < before[0].liquidation_price  # more wallet, and the same table
        assert cell(app, 0, "liq").removesuffix(" †") == fmt.price(after[0].liquidation_price)
    assert load(path, catalogue).accounts[0].wallet_balance == 20_000.0


async def test_the_app_keeps_no_copy_of_the_monitors_state():
    """Feed health, histories, alerts, the engine and the what-if are the monitor's (engine/monitor.py);
    the app holds what the screen chose and the state it pushed down."""
    app = AdlwatchApp(parse(PORTFOLIO), marks_source())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        own = set(vars(app))
        for name in ("engine", "history", "_alert_book", "_feed_health", "_venue_alert_states", "_venue_state",
                     "_stale", "_stale_detail", "_last_mark", "_adl_alerts", "_account_feeds", "alert_log",
                     "alert_rules", "shocks", "shock_scope", "catalogue", "_hypothetical"):
            assert name not in own, name
        assert app.view.snapshot == app.monitor.live() and app.portfolio is app.monitor.portfolio
