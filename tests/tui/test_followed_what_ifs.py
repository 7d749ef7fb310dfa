"""``i`` and ``c`` on a followed account's position (pressing ``i`` on one used to end the monitor), and
a failure inside such an on-demand computation told in one line while the monitor goes on."""

from __future__ import annotations

from adlwatch.engine.events import AccountState, ImportedPosition, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.tui.app import AdlwatchApp
from tests.tui.test_app import ListSource, started

MARK = 58_000.0


def followed_app() -> AdlwatchApp:
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main"}]}, default_catalogue())
    state = AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=4_000.0, positions=[
        ImportedPosition(symbol="BTCUSDT", side="long", size=0.5, entry_price=60_000.0, leverage=10,
                         margin_mode="cross", mark_price=MARK)])
    return AdlwatchApp(portfolio, ListSource([state, MarkPrice(venue="binance", symbol="BTCUSDT", ts=1, price=MARK)]))


async def test_i_on_a_followed_position_shows_its_what_ifs():
    app = followed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        assert app.monitor.live().positions[0].symbol == "BTCUSDT"
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "AdlScreen"
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "add 4,000 USDT margin" in text and "reduce size by 50%" in text


async def test_a_failing_estimate_is_told_and_the_monitor_goes_on(monkeypatch):
    app = followed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)

        def broken(account, index):
            raise ZeroDivisionError("a bug in one computation")

        monkeypatch.setattr(app.monitor, "adl_estimate", broken)
        await pilot.press("i")
        await pilot.pause()
        assert app.is_running and app.screen.__class__.__name__ != "AdlScreen"
        assert any("the ADL estimate failed" in str(n.message) for n in app._notifications)
        app.monitor.apply(MarkPrice(venue="binance", symbol="BTCUSDT", ts=2, price=MARK - 100))
        app.refresh_view()
        await pilot.pause()
        assert app.monitor.live().positions[0].mark_price == MARK - 100  # still monitoring


async def test_over_another_screen_the_main_screens_keys_do_nothing():
    """Over the cascade (or the ADL estimate, the help, the alert log) a shock or an edit key must not
    change the main screen unseen behind it; ``?`` and ``q`` still work."""
    app = followed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        await pilot.press("i")
        await pilot.pause()
        over = app.screen
        assert over.__class__.__name__ == "AdlScreen"
        for key in ("minus", "asterisk", "a", "n", "x", "c", "l"):
            await pilot.press(key)
            await pilot.pause()
        assert app.screen is over and app.monitor.shocks == () and app.monitor.shock_scope == "selected"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("minus")  # on the main screen the key works
        await pilot.pause()
        assert len(app.monitor.shocks) == 1
