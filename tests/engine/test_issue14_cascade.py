"""Issue 14, items 3–5: the cascade agrees with the table, positions past liquidation are liquidated,
and the ADL estimate moves with the market."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio

DEMO = Path(__file__).resolve().parents[2] / "tui" / "data" / "demo_portfolio.toml"
T0_MS = 1_760_128_000_000


def demo_monitor() -> Monitor:
    data = tomllib.loads(DEMO.read_text(encoding="utf-8"))
    return Monitor(Portfolio.from_data(data, default_catalogue()), replay=True)


def mark(venue: str, symbol: str, price: float, ts_ms: int = T0_MS) -> MarkPrice:
    return MarkPrice(venue=venue, symbol=symbol, ts=ts_ms, price=price)


def _row(monitor: Monitor, account: int, index: int):
    return next(p for p in monitor.shown().positions if (p.account, p.index) == (account, index))


# --- item 3: the cascade's liquidation is the table's ---------------------------------------------


@pytest.mark.parametrize("btc_mark", [121_000.0, 118_500.0])
def test_cascade_liquidates_the_cross_long_at_the_tables_price(btc_mark: float) -> None:
    """Demo, BTCUSDT cross long: the cascade liquidates it at the table's liquidation price (the
    account's solver, cross, tiers, fees), reached at the first step whose price is at or below it.
    Resolution: one step of the path (10 steps of the shock: 1 % of the mark each here)."""
    monitor = demo_monitor()
    monitor.apply(mark("binance", "BTCUSDT", btc_mark))
    table = _row(monitor, 0, 0)
    assert table.liquidation_price is not None
    start = monitor.cascade_start(0, 0)
    result = start.run(-10.0, "queue")
    fate = result.fates[0]
    assert fate.state == "liquidated"
    assert fate.price == pytest.approx(table.liquidation_price, rel=1e-12)
    step = result.steps[fate.step]
    liquidating = next(r for r in step.rounds if r.liquidated)
    assert liquidating.price <= table.liquidation_price
    before = result.steps[fate.step - 1].end_price if fate.step > 0 else start.mark
    assert before > table.liquidation_price


def test_cascade_keeps_a_position_the_table_says_is_safe() -> None:
    """A shock that does not reach the table's liquidation price leaves the position safe."""
    monitor = demo_monitor()
    monitor.apply(mark("binance", "BTCUSDT", 121_000.0))
    table = _row(monitor, 0, 0)
    shock = (table.liquidation_price / 121_000.0 - 1.0) * 100 + 1.0  # stops 1 % short of it
    fate = monitor.cascade_start(0, 0).run(shock, "queue").fates[0]
    assert fate.state == "safe"
