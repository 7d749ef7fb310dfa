"""Issue 15 on screen: the position panel's columns (hand-worked), the key columns at 100 columns,
fund and OI beside their ratio with the venue's ADL rating, the liquidation flow after a burst, the
banner of a position the venue closed, and the journal fed once a second of the monitor's clock."""

from __future__ import annotations

from adlwatch.engine.events import (
    AccountState,
    AdlRisk,
    ForcedClose,
    FundingRate,
    ImportedPosition,
    InsuranceFund,
    Liquidation,
    MarkPrice,
    OpenInterest,
)
from adlwatch.tui.app import AdlwatchApp
from adlwatch.tui.widgets.panels import CriticalBanner, FlowPanel, FundsPanel
from adlwatch.tui.widgets.positions import KEY_COLUMNS, PositionsTable
from tests.portfolio_files import BINANCE_BTC_LONG, parse
from tests.tui.test_app import ListSource, cell, started

T_MS = 1_760_130_000_000  # 2025-10-10 21:00:00 UTC

PORTFOLIO = BINANCE_BTC_LONG + """\

[[account]]
venue = "binance"
wallet_balance = 1.0

[[account.position]]
symbol = "BTCUSD_PERP"
side = "short"
size = 100
entry_price = 50000.0
leverage = 5
margin_mode = "cross"
"""


class Clock:
    """The app's wall clock, moved by the test."""

    def __init__(self, t_s: float) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s


def marks(*extra) -> ListSource:
    return ListSource([
        MarkPrice(venue="binance", symbol="BTCUSDT", ts=T_MS, price=61_000.0),
        MarkPrice(venue="binance", symbol="BTCUSD_PERP", ts=T_MS, price=49_825.0),
        *extra,
    ])


def panel_text(app: AdlwatchApp, widget) -> str:
    return str(app.query_one(widget).render())


async def test_the_new_columns_show_hand_worked_roe_notional_margin_and_the_funding_countdown():
    clock = Clock(T_MS / 1000)
    next_funding = T_MS + (3 * 3600 + 25 * 60 + 10) * 1000
    funding = FundingRate(venue="binance", symbol="BTCUSDT", ts=T_MS, rate=0.0001, next_funding_ts=next_funding)
    app = AdlwatchApp(parse(PORTFOLIO), marks(funding), clock=clock)
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        # 0.5 BTC long from 60,000 at 61,000: uPnL 500 on an initial margin of 30,000 / 10 = 3,000.
        assert cell(app, 0, "roe") == "+16.67%"
        assert cell(app, 0, "notional_usd") == "30.50k"
        assert cell(app, 0, "margin") == "3,000.00"
        assert cell(app, 0, "upnl_usd") == "500.00"
        assert cell(app, 0, "funding") == "+0.0100%"
        assert cell(app, 0, "next_funding") == "3h25m"
        # The inverse short: 100 × 100 USD from 50,000 at 49,825 earns 10,000 × (1/49,825 − 1/50,000)
        # = 0.000702459 BTC: four significant digits, never 0.00; in USD × 49,825 = 35.00.
        assert cell(app, 1, "upnl") == "0.0007025"
        assert cell(app, 1, "upnl_usd") == "35.00"
        assert cell(app, 1, "notional_usd") == "10.00k"
        # The countdown runs on the monitor's clock, with nothing else moving: 4 min 5 s before it, mm:ss.
        clock.t_s = (next_funding - 245_000) / 1000
        app.refresh_view()
        await pilot.pause()
        assert cell(app, 0, "next_funding") == "04:05"


async def test_at_100_columns_the_key_columns_stay_and_the_rest_scroll_by_whole_columns():
    app = AdlwatchApp(parse(PORTFOLIO), marks())
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        table = app.query_one(PositionsTable)
        keys = [key for key, _ in KEY_COLUMNS]
        shown = table.visible_columns
        assert list(shown[:len(keys)]) == keys
        assert len(shown) < len(table._columns)  # the rest does not fit: it scrolls
        assert "▸" in table.render_line(0).text
        table.focus()
        await pilot.press("right", "right", "right")
        await pilot.pause()
        scrolled = table.visible_columns
        assert list(scrolled[:len(keys)]) == keys and scrolled != shown
        assert scrolled[len(keys)] == table._columns[len(keys) + 3][0]
        assert "◂" in table.render_line(0).text
        # No number is cut: every cell on screen shows whole in its line.
        for row in range(table.row_count):
            line = table.render_line(row + 1).text
            assert len(line) <= table.scrollable_content_region.width
            for key in scrolled:
                assert table.cell(row, key) in line, (key, table.cell(row, key), line)
        await pilot.press("left", "left", "left")
        await pilot.pause()
        assert table.visible_columns == shown


async def test_at_220_columns_every_column_shows():
    app = AdlwatchApp(parse(PORTFOLIO), marks())
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        table = app.query_one(PositionsTable)
        assert table.visible_columns == tuple(key for key, _ in table._columns)
        assert "▸" not in table.render_line(0).text


async def test_fund_and_oi_show_beside_their_ratio_with_the_venues_adl_rating_and_i_names_it():
    app = AdlwatchApp(parse(PORTFOLIO), marks(
        InsuranceFund(venue="binance", symbol="BTCUSDT", ts=T_MS, symbols=["BTCUSDT"], asset="USDT", balance=10_000_000.0),
        OpenInterest(venue="binance", symbol="BTCUSDT", ts=T_MS, open_interest=1_000.0, open_interest_usd=61_000_000.0),
        AdlRisk(venue="binance", symbol="BTCUSDT", ts=T_MS, rating="high"),
    ), clock=Clock(T_MS / 1000))
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        text = panel_text(app, FundsPanel)
        line = next(line for line in text.splitlines() if "BTCUSDT" in line)
        # 10M fund over 61M of open interest: 16.393 %.
        assert "10.0M" in line and "61.0M" in line and "16.393%" in line and "high" in line
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "AdlScreen"
        venue = str(app.screen.query_one("#adl-venue").render())
        assert "HIGH" in venue and "2025-10-10 21:00 UTC" in venue


async def test_at_100_by_30_the_fund_ratio_and_its_history_show_whole():
    app = AdlwatchApp(parse(PORTFOLIO), marks(
        InsuranceFund(venue="binance", symbol="BTCUSDT", ts=T_MS, symbols=["BTCUSDT"], asset="USDT", balance=1.23e9),
        OpenInterest(venue="binance", symbol="BTCUSDT", ts=T_MS, open_interest=1_000.0, open_interest_usd=16.0e9),
        AdlRisk(venue="binance", symbol="BTCUSDT", ts=T_MS, rating="medium"),
    ), clock=Clock(T_MS / 1000))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        line = next(line for line in panel_text(app, FundsPanel).splitlines() if "BTCUSDT" in line)
        assert "7.688%" in line and "medium" in line and "▄" in line  # one sample: a flat mark
        assert "…" not in line


async def test_the_flow_panel_follows_a_burst_of_liquidations():
    def liquidation(seconds_before: int, side: str, usd: float) -> Liquidation:
        return Liquidation(venue="binance", symbol="BTCUSDT", ts=T_MS - seconds_before * 1000, side=side,
                           price=61_000.0, size=usd / 61_000.0, notional_usd=usd)

    burst = [liquidation(400, "long", 50_000.0),  # more than five minutes ago: in neither window
             liquidation(200, "short", 20_000.0),  # in the five minutes only
             liquidation(30, "long", 250_000.0), liquidation(10, "long", 100_000.0)]
    clock = Clock(T_MS / 1000)
    fund = InsuranceFund(venue="binance", symbol="BTCUSDT", ts=T_MS - 500_000, symbols=["BTCUSDT"], asset="USDT",
                         balance=10_000_000.0)
    app = AdlwatchApp(parse(PORTFOLIO), marks(fund, *burst), clock=clock)
    async with app.run_test(size=(220, 60)) as pilot:
        await started(pilot)
        line = next(line for line in panel_text(app, FlowPanel).splitlines() if "BTCUSDT" in line)
        # 1 min: longs 350k, shorts none; 5 min: longs 350k, shorts 20k; 350k of a 10M fund: 3.50 %.
        assert "350k/0" in line and "350k/20.0k" in line and "3.50%" in line and "heavy" in line
        assert any(ch in line for ch in "▁▂▃▄▅▆▇█")
        # A minute later the last minute is empty and the five minutes keep them.
        clock.t_s = T_MS / 1000 + 60
        app.refresh_view()
        await pilot.pause()
        line = next(line for line in panel_text(app, FlowPanel).splitlines() if "BTCUSDT" in line)
        assert " 0/0" in line and "350k/20.0k" in line


FOLLOWED = """\
[[account]]
venue = "binance"
key_name = "main"
"""


async def test_a_position_the_venue_liquidated_stays_on_the_banner_until_k():
    state = AccountState(venue="binance", symbol="main", ts=T_MS, settle="USDT", wallet_balance=4_000.0, positions=[
        ImportedPosition(symbol="BTCUSDT", side="long", size=0.5, entry_price=60_000.0, leverage=10,
                         margin_mode="cross", liquidation_price=52_000.0, mark_price=61_000.0)])
    closed = ForcedClose(venue="binance", symbol="BTCUSDT", ts=T_MS + 1_000, account="main", side="long",
                         cause="liquidation", price=52_000.0, size=0.5, remaining=0.0,
                         detail="autoCloseType LIQUIDATION")
    clock = Clock(T_MS / 1000 + 2)
    app = AdlwatchApp(parse(FOLLOWED), ListSource([state, MarkPrice(venue="binance", symbol="BTCUSDT", ts=T_MS,
                                                                    price=61_000.0), closed]), clock=clock)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        app.refresh_view()
        await pilot.pause()
        banner = app.query_one(CriticalBanner)
        assert banner.display and "LIQUIDATED" in str(banner.render()) and "52,000" in str(banner.render())
        for _ in range(3):  # it stays while time goes by
            clock.t_s += 5
            app.refresh_view()
            await pilot.pause()
        assert banner.display and "LIQUIDATED" in str(banner.render())
        await pilot.press("k")
        await pilot.pause()
        assert not banner.display
        assert any(a.critical for a in app.monitor.alert_log)  # the log keeps it
        from adlwatch.tui.widgets.panels import AlertsPanel

        first = panel_text(app, AlertsPanel).splitlines()[0]  # and the alerts panel shows it first
        assert "■" in first and "LIQUIDATED" in first
        app.refresh_view()
        await pilot.pause()
        assert not banner.display  # acknowledged: not shown again


class FakeJournal:
    def __init__(self) -> None:
        self.records: list[tuple[int | None, float]] = []

    def record(self, state, now_s: float) -> None:
        self.records.append((state.now_ms, now_s))


async def test_the_journal_gets_the_state_every_second_of_the_monitors_clock_even_when_nothing_moves():
    clock = Clock(T_MS / 1000)
    journal = FakeJournal()
    app = AdlwatchApp(parse(PORTFOLIO), marks(), clock=clock, journal=journal)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        for step in range(1, 4):
            clock.t_s = T_MS / 1000 + step
            app.refresh_view()
            await pilot.pause()
        seconds = sorted({now_ms // 1000 for now_ms, _ in journal.records})
        assert seconds == [T_MS // 1000 + k for k in range(4)]
        assert all(now_ms == int(now_s * 1000) for now_ms, now_s in journal.records)


async def test_a_click_on_the_headers_arrows_scrolls_the_columns():
    app = AdlwatchApp(parse(PORTFOLIO), marks())
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        table = app.query_one(PositionsTable)
        shown = table.visible_columns
        width = table.scrollable_content_region.width
        # The table has a one-cell border: content (x, 0) is the widget's (x + 1, 1).
        await pilot.click(PositionsTable, offset=(width, 1))  # ▸ at the right edge
        await pilot.pause()
        assert table.visible_columns != shown and table.first_column == 1
        arrow = table.render_line(0).text.index("◂")
        await pilot.click(PositionsTable, offset=(arrow + 1, 1))
        await pilot.pause()
        assert table.visible_columns == shown and table.first_column == 0


async def test_under_40_rows_p_switches_the_side_column_between_market_and_accounts():
    from adlwatch.tui.widgets.panels import AccountsPanel, AlertsPanel, FeedsPanel

    app = AdlwatchApp(parse(PORTFOLIO), marks())
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        market, accounts = (FundsPanel, FlowPanel, AlertsPanel), (AccountsPanel, FeedsPanel)
        assert all(app.query_one(w).display for w in market)
        assert not any(app.query_one(w).display for w in accounts)
        await pilot.press("p")
        await pilot.pause()
        assert all(app.query_one(w).display for w in accounts)
        assert not any(app.query_one(w).display for w in market)
        await pilot.resize_terminal(160, 48)  # tall enough: every panel, whatever p chose
        await pilot.pause()
        assert all(app.query_one(w).display for w in (*market, *accounts))
        assert app.check_action("side_panels", ()) is False


async def test_at_100_by_30_the_flow_panel_shows_both_windows_and_the_pressure():
    from tests.tui.test_snapshots_panel import panel_app

    app = panel_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot)
        line = next(line for line in panel_text(app, FlowPanel).splitlines() if "BTCUSDT" in line)
        # 1 min: 4.2M of longs; 5 min: 2.5 + 9 + 4.2 = 15.7M of longs, 40k of shorts; 15.7M / 1.23B = 1.28 %.
        assert "4.20M/0" in line and "15.7M/40.0k" in line and "1.28%" in line
        assert "…" not in line


async def test_a_journal_that_cannot_write_says_so_once():
    class FailingJournal(FakeJournal):
        problem = "disk full"

    clock = Clock(T_MS / 1000)
    app = AdlwatchApp(parse(PORTFOLIO), marks(), clock=clock, journal=FailingJournal())
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        for step in range(1, 3):
            clock.t_s = T_MS / 1000 + step
            app.refresh_view()
            await pilot.pause()
        said = [n.message for n in app._notifications if "journal" in n.message]
        assert said == ["journal not written: disk full"]
