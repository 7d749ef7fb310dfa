"""Issue 14 item 4 on screen: a liquidated position reads LIQUIDATED with its time, in the positions
table, in ``demo --check``, and in a what-if; ``check`` (one shot, no history) keeps the figures."""

from __future__ import annotations

import tomllib

from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.monitor import Monitor
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.shocks import shock
from adlwatch.tui.check import render_table
from adlwatch.tui.cli import demo_path, run_demo
from adlwatch.tui.widgets.positions import position_cells

T0_MS = 1_760_128_000_000  # 20:26:40 UTC


def demo_monitor() -> Monitor:
    data = tomllib.loads(demo_path("demo_portfolio.toml").read_text(encoding="utf-8"))
    return Monitor(Portfolio.from_data(data, default_catalogue()), replay=True)


def avax(price: float, ts_ms: int) -> MarkPrice:
    return MarkPrice(venue="binance", symbol="AVAXUSD_PERP", ts=ts_ms, price=price)


def _avax_row(snapshot):
    return next(p for p in snapshot.positions if p.symbol == "AVAXUSD_PERP")


def test_the_positions_table_labels_a_liquidated_position_with_its_time() -> None:
    monitor = demo_monitor()
    monitor.apply_many([avax(26.5, T0_MS), avax(6.61, T0_MS + 60_000)])
    state = monitor.state(T0_MS / 1000 + 60)
    cells = position_cells(_avax_row(state.snapshot), state, compact=False)
    (text, style), = cells["dist"]
    assert text == "LIQUIDATED 20:27:40" and "red" in style
    assert "-267" not in render_table(state.live)


def test_a_what_if_reads_liquidated_without_a_time() -> None:
    monitor = demo_monitor()
    monitor.apply(avax(26.5, T0_MS))
    monitor.add_shock(shock(-75, venue="binance", symbol="AVAXUSD_PERP"))
    state = monitor.state(T0_MS / 1000)
    (text, _), = position_cells(_avax_row(state.snapshot), state, compact=False)["dist"]
    assert text == "LIQUIDATED (what-if)"


def test_demo_check_shows_what_the_screen_shows(capsys) -> None:
    """At 21:20:59 the isolated AVAX long and the cross BTCUSDT long are liquidated, not at −267.60 %."""
    assert run_demo(check=True) == 0
    low = capsys.readouterr().out.split("the low minute")[1]
    lines = {line.split()[1]: line for line in low.splitlines() if line.startswith(("binance", "hyperliquid"))}
    assert "LIQUIDATED" in lines["AVAXUSD_PERP"] and "LIQUIDATED" in lines["BTCUSDT"]
    assert "-267.60%" not in low
    assert "LIQUIDATED" not in lines["AAVEUSD_PERP"] and "LIQUIDATED" not in lines["BTCUSD_PERP"]
