"""The monitor on live feeds from the loopback emulator: a silent feed shows as stale within 3 s."""

from __future__ import annotations

import asyncio
import time

from adlwatch.feeds.live import LiveSource
from adlwatch.tui.app import AdlwatchApp
from tests.cli.test_check_cli import PORTFOLIO
from tests.feeds.conftest import FAST, emulator, fast_heartbeat, no_internet  # noqa: F401  (fixtures)
from tests.portfolio_files import parse

HEALTHY = ("connected", "subscribed")
ONLY_BINANCE = PORTFOLIO.split("[[account]]\nvenue = \"hyperliquid\"")[0]


async def wait_until(pilot, predicate, timeout: float) -> float:
    """Seconds until ``predicate()`` held, refreshing the view as the app's timer would."""
    start = time.monotonic()

    async def poll():
        while not predicate():
            await pilot.pause(0.05)
            pilot.app.refresh_view()

    await asyncio.wait_for(poll(), timeout)
    return time.monotonic() - start


async def test_silent_feed_shows_stale_within_3_seconds_then_recovers(emulator):  # noqa: F811
    source = LiveSource(
        {"binance": ["BTCUSDT", "ETHUSDT"]},
        ws_urls={"binance": emulator.ws_url("binance")},
        rest_urls={"binance": emulator.rest_url("binance")},
        client_options=dict(FAST, heartbeat=fast_heartbeat("binance", stale_after_s=1.0)),
    )
    app = AdlwatchApp(parse(ONLY_BINANCE), source)
    async with app.run_test(size=(160, 48)) as pilot:

        def feed_state():
            return {f.venue: f.state for f in (app.view.feeds if app.view else ())}.get("binance")

        await wait_until(pilot, lambda: app.view and app.view.snapshot.positions[0].mark_price is not None, 10)
        assert feed_state() in HEALTHY
        emulator.mute("binance", "BTCUSDT")
        elapsed = await wait_until(pilot, lambda: feed_state() == "stale", 5)
        assert elapsed < 3.0
        emulator.unmute("binance", "BTCUSDT")
        await wait_until(pilot, lambda: feed_state() in HEALTHY, 5)
