"""The monitor with a followed account, alerts and hedges, through the Pilot."""

from __future__ import annotations

from adlwatch.engine.events import AccountState, FeedStatus, ImportedPosition, MarkPrice
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.screens.alerts import AlertLogScreen
from adlwatch.tui.widgets.panels import AlertsPanel, FeedsPanel, HedgesPanel
from tests.portfolio_files import parse
from tests.tui.test_app import ListSource, cell, started

PORTFOLIO = """
[alerts]
distance_below_pct = 20.0
adl_lights_at_least = false
desktop = true

[[account]]
venue = "binance"
key_name = "main"
hedges = { BTCUSDT = "btc-basis" }

[[account]]
venue = "hyperliquid"
wallet_balance = 2000.0

[[account.position]]
symbol = "BTC"
side = "short"
size = 0.5
entry_price = 61000.0
leverage = 5
hedge = "btc-basis"
"""


def state(venue_liq: float) -> AccountState:
    return AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=4_000.0, positions=[
        ImportedPosition(symbol="BTCUSDT", side="long", size=0.5, entry_price=60_000.0, leverage=10,
                         margin_mode="cross", liquidation_price=venue_liq, adl_lights=3, adl_raw="adlQuantile 2 of 0-4",
                         mark_price=58_000.0)],
        warnings=["WARNING: binance key 'main' can trade. adlwatch only reads: use a read-only key."])


class FakeNotifier:
    def __init__(self):
        self.delivered = []

    def deliver(self, alert):
        self.delivered.append(alert)


def source(venue_liq: float = 50_000.0) -> ListSource:
    return ListSource([
        state(venue_liq),
        MarkPrice(venue="binance", symbol="BTCUSDT", ts=1_700_000_000_000, price=58_000.0),
        MarkPrice(venue="hyperliquid", symbol="BTC", ts=1_700_000_000_000, price=58_000.0),
        FeedStatus(venue="binance", symbol="account:main", ts=None, state="error", detail="binance key 'main' rejected: -2015"),
    ])


def panel_text(app, widget) -> str:
    return str(app.query_one(widget).render())


async def test_imported_position_shows_the_venues_figures_beside_ours_and_the_disagreement():
    notifier = FakeNotifier()
    app = AdlwatchApp(parse(PORTFOLIO), source(), notifier=notifier)
    async with app.run_test(size=(200, 60)) as pilot:
        await started(pilot)
        risk = app.monitor.live().positions[0]
        assert (risk.venue, risk.imported) == ("binance", True)
        assert cell(app, 0, "vliq") == "50,000.0"
        assert cell(app, 0, "dliq") == f"{risk.liquidation_diff_pct:+.2f}% ≠"
        assert cell(app, 1, "vliq") == ""  # the manual Hyperliquid position has no venue figure
        alerts = panel_text(app, AlertsPanel)
        await pilot.resize_terminal(160, 48)  # narrower: the compact table keeps the difference
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        assert cell(app, 0, "dliq") == f"{risk.liquidation_diff_pct:+.2f}% ≠"
        assert "≠ binance BTCUSDT" in alerts
        # The follower's trouble is its own feeds row; the market feed of the venue is not marked down.
        feeds = panel_text(app, FeedsPanel)
        assert "binance key 'main'" in feeds and "rejected" in feeds


async def test_alerts_fire_once_ring_and_notify_and_the_log_opens_and_closes():
    notifier = FakeNotifier()
    app = AdlwatchApp(parse(PORTFOLIO), source(), notifier=notifier, clock=lambda: 1_700_000_000.0)
    rings = []
    app.bell = lambda: rings.append(1)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        rules = {a.rule for a in app.monitor.alert_log}
        assert "liquidation_distance" in rules  # both positions within 20 % of liquidation
        fired = [a for a in app.monitor.alert_log if a.state == "fired"]
        assert notifier.delivered == fired and rings  # every fired alert delivered, the bell rung
        count = len(app.monitor.alert_log)
        app.refresh_view()
        app.refresh_view()
        assert len(app.monitor.alert_log) == count  # no repeat while the condition holds
        assert "▲" in panel_text(app, AlertsPanel)
        await pilot.press("A")
        await pilot.pause()
        assert isinstance(app.screen, AlertLogScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AlertLogScreen)


async def test_hedge_panel_shows_the_net_and_the_residual_if_a_leg_is_deleveraged():
    app = AdlwatchApp(parse(PORTFOLIO), source(), notifier=FakeNotifier())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        [hedge] = app.view.hedges
        assert hedge.name == "btc-basis" and hedge.net_base_units == 0.0
        text = panel_text(app, HedgesPanel)
        assert "btc-basis" in text and "ADL'd at" in text
        assert app.query_one(HedgesPanel).display


async def test_during_a_what_if_the_hedge_panel_shows_the_hypothetical_figures():
    """Issue 12: during a what-if the hedges panel showed the live hedge figures."""
    from adlwatch.tui import format as fmt

    app = AdlwatchApp(parse(PORTFOLIO), source(), notifier=FakeNotifier())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        [live] = app.view.hedges

        def binance_leg(hedge) -> str:  # the line of the Binance leg: where it would be ADL'd, what is left
            d = next(d for d in hedge.if_deleveraged if d.leg.venue == "binance")
            return f"binance BTCUSDT ADL'd at {fmt.price(d.adl_price)}"

        assert live.net_notional_usd == 0.0 and binance_leg(live) in panel_text(app, HedgesPanel)
        await pilot.press("home", "underscore")  # the Binance leg (BTCUSDT) 5 % down, the other unmoved
        await pilot.pause()
        assert app.view.hypothetical
        [hedge] = app.view.hedges
        assert hedge == app.monitor.shown().hedges[0] != live
        assert hedge.net_notional_usd == -0.5 * 58_000.0 * 0.05
        text = panel_text(app, HedgesPanel)
        assert binance_leg(hedge) in text and binance_leg(live) not in text
        await pilot.press("l")
        await pilot.pause()
        assert app.view.hedges == (live,) and binance_leg(live) in panel_text(app, HedgesPanel)


async def test_an_imported_position_is_read_only():
    app = AdlwatchApp(parse(PORTFOLIO), source(), notifier=FakeNotifier())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        before = app.portfolio
        await pilot.press("home")  # the imported Binance position
        await pilot.pause()
        assert app.selected_position().imported
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # no form opened
        await pilot.press("x")
        await pilot.pause()
        assert app.screen is app.screen_stack[0] and app.portfolio is before
