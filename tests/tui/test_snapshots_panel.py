"""Snapshots of the main screen with issue 15's figures, at the smallest and the largest size the
issue names (100x30, 220x60): the key columns, fund and OI beside their ratio, the liquidation flow,
the venue's own break-even, funding and TP/SL of a followed position (update with --snapshot-update)."""

from __future__ import annotations

import pytest

from adlwatch.engine.events import (
    AccountState,
    AdlRisk,
    FundingRate,
    ImportedPosition,
    InsuranceFund,
    Liquidation,
    MarkPrice,
    OpenInterest,
)
from adlwatch.tui.app import AdlwatchApp
from tests import portfolio_files
from tests.portfolio_files import parse
from tests.tui.test_app import ListSource
from tests.tui.test_issue15_screen import PORTFOLIO, T_MS

SIZES = [(100, 30), (220, 60)]

FOLLOWED = PORTFOLIO + """
[[account]]
venue = "bybit"
key_name = "main"
"""


def events() -> list:
    def liquidation(seconds_before: int, side: str, usd: float) -> Liquidation:
        return Liquidation(venue="binance", symbol="BTCUSDT", ts=T_MS - seconds_before * 1000, side=side,
                           price=61_000.0, size=usd / 61_000.0, notional_usd=usd)

    bybit = AccountState(venue="bybit", symbol="main", ts=T_MS, settle="USDT", wallet_balance=5_000.0, positions=[
        ImportedPosition(symbol="ETHUSDT", side="short", size=2.0, entry_price=3_000.0, leverage=5, margin_mode="cross",
                         liquidation_price=4_400.0, adl_lights=2, adl_raw="adlRankIndicator 2", mark_price=2_950.0,
                         break_even_price=2_996.4, funding_pnl=-1.25, take_profit=2_500.0, stop_loss=3_300.0)])
    return [
        bybit,
        MarkPrice(venue="binance", symbol="BTCUSDT", ts=T_MS, price=61_000.0),
        MarkPrice(venue="binance", symbol="BTCUSD_PERP", ts=T_MS, price=49_825.0),
        MarkPrice(venue="bybit", symbol="ETHUSDT", ts=T_MS, price=2_950.0),
        FundingRate(venue="binance", symbol="BTCUSDT", ts=T_MS, rate=0.0001, next_funding_ts=T_MS + 3_600_000 * 3),
        FundingRate(venue="bybit", symbol="ETHUSDT", ts=T_MS, rate=-0.00025, next_funding_ts=T_MS + 245_000),
        InsuranceFund(venue="binance", symbol="BTCUSDT", ts=T_MS, symbols=["BTCUSDT"], asset="USDT", balance=1.23e9),
        OpenInterest(venue="binance", symbol="BTCUSDT", ts=T_MS, open_interest=262_000.0, open_interest_usd=16.0e9),
        AdlRisk(venue="binance", symbol="BTCUSDT", ts=T_MS, rating="high"),
        *(liquidation(s, side, usd) for s, side, usd in
          ((250, "short", 40_000.0), (170, "long", 2_500_000.0), (90, "long", 9_000_000.0), (20, "long", 4_200_000.0))),
    ]


def panel_app() -> AdlwatchApp:
    return AdlwatchApp(parse(FOLLOWED), ListSource(events()), clock=lambda: T_MS / 1000)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    pilot.app.refresh_view()
    await pilot.pause()
    pilot.app.clear_notifications()  # the alerts' pop-ups: the panel shows them
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_with_the_panel_figures(snap_compare, size):
    assert snap_compare(panel_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_demo_main_screen_mid_crash(snap_compare, size):
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

    assert snap_compare(app, terminal_size=size, run_before=at_time)
