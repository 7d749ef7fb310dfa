"""Issue 15 acceptance: the loopback emulator plays a burst of liquidations on each venue with a public
stream, the live feed carries it into the Monitor, and the monitor's 1- and 5-minute figures and its
cascade-pressure alert follow the burst exactly (the clock: the burst's own times, then moved on by
hand). No network beyond 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import math

import pytest

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import RULE_CASCADE_PRESSURE
from adlwatch.engine.enums import Side
from adlwatch.engine.events import FeedStatus, InsuranceFund, Liquidation
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.emulator import Emulator
from adlwatch.feeds.live import LiveSource

FAST = dict(silence_timeout_s=1.0, backoff_initial_s=0.05, backoff_max_s=0.4, healthy_after_s=60.0,
            close_timeout_s=0.5, open_timeout_s=2.0)
RULES = AlertRules(distance_below_pct=None, adl_lights_at_least=None, fund_to_oi_drop_pct=None,
                   stale_feed_after_s=None, venue_adl_alerts=False, cascade_pressure_pct=5.0,
                   cascade_pressure_hysteresis_pct=2.5, hold_s=10.0)
CONTRACTS = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}


@pytest.fixture
async def emulator():
    emu = Emulator(seed=7, interval_s=0.05)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.mark.parametrize("venue", sorted(CONTRACTS))
async def test_an_emulated_burst_gives_the_monitors_flow_and_alert_exactly(emulator, venue):
    symbol = CONTRACTS[venue]
    monitor = Monitor(Portfolio((), catalogue=default_catalogue()), rules=RULES)
    burst: list[Liquidation] = []
    changed = asyncio.Event()

    def emit(event) -> None:
        monitor.apply(event, 0.0 if type(event) is FeedStatus else None)
        if type(event) is Liquidation:
            burst.append(event)
        changed.set()

    async def until(predicate, timeout: float = 10.0) -> None:
        async def wait() -> None:
            while not predicate():
                changed.clear()
                await changed.wait()
        await asyncio.wait_for(wait(), timeout)

    source = LiveSource({venue: [symbol]}, ws_urls={venue: emulator.ws_url(venue)},
                        rest_urls={venue: emulator.rest_url(venue)}, client_options=FAST)
    task = asyncio.create_task(source.run(emit))
    try:
        await until(lambda: monitor.markets())
        assert await emulator.liquidations(venue, symbol, "long", count=4, size=0.5, price=50_000.0) == 4
        await until(lambda: len(burst) == 4)
        assert await emulator.liquidations(venue, symbol, "short", count=2, size=0.1, price=50_000.0) == 2
        await until(lambda: len(burst) == 6)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    longs = [e for e in burst if e.side == "long"]
    shorts = [e for e in burst if e.side == "short"]
    assert len(longs) == 4 and len(shorts) == 2
    long_usd, short_usd = math.fsum(e.notional_usd for e in longs), math.fsum(e.notional_usd for e in shorts)
    assert long_usd == pytest.approx(4 * 0.5 * 50_000.0, rel=1e-9)  # each venue's units, back in USD
    last_ms = max(e.ts if e.ts is not None else e.recv_ns // 1_000_000 for e in burst)
    # The contract's insurance fund: where the emulated venue publishes none, 1.5M USD of ours.
    if monitor.live().contracts and any(c.fund_balance_usd for c in monitor.live().contracts if c.symbol == symbol):
        fund = next(c.fund_balance_usd for c in monitor.live().contracts if c.symbol == symbol)
    else:
        fund = 1_500_000.0
        monitor.apply(InsuranceFund(venue=venue, symbol=symbol, ts=last_ms, symbols=[symbol], asset="USDT",
                                    balance=fund))
    flow = monitor.state(last_ms / 1000).liquidation_flows[(venue, symbol)]
    assert (flow.long_1m_usd, flow.short_1m_usd) == (pytest.approx(long_usd, rel=1e-12),
                                                     pytest.approx(short_usd, rel=1e-12))
    assert (flow.long_5m_usd, flow.short_5m_usd, flow.count_5m) == (flow.long_1m_usd, flow.short_1m_usd, 6)
    assert flow.heavier_side is Side.LONG and flow.fund_balance_usd == fund
    assert flow.pressure == pytest.approx(long_usd / fund, rel=1e-12)
    # The alert at half the reading (a venue's emulated fund may be large), its band half of that.
    at = flow.pressure_pct / 2
    monitor.rules = dataclasses.replace(RULES, cascade_pressure_pct=at, cascade_pressure_hysteresis_pct=at / 2)
    fired = [a for a in monitor.evaluate(last_ms / 1000) if a.rule == RULE_CASCADE_PRESSURE]
    assert [(a.state, a.symbol) for a in fired] == [("fired", symbol)]
    assert monitor.evaluate(last_ms / 1000 + 59) == []  # once
    # A minute on, the 1-minute figures are empty and the five minutes still hold the burst.
    later = monitor.state(last_ms / 1000 + 61).liquidation_flows[(venue, symbol)]
    assert (later.long_1m_usd, later.short_1m_usd) == (0.0, 0.0) and later.long_5m_usd == flow.long_5m_usd
    # Five minutes on, it is all gone and the alert clears after hold_s.
    assert monitor.evaluate(last_ms / 1000 + 300) == []
    cleared = [a for a in monitor.evaluate(last_ms / 1000 + 310) if a.rule == RULE_CASCADE_PRESSURE]
    assert [a.state for a in cleared] == ["cleared"]
