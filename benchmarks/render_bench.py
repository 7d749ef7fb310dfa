"""Time to render one refresh of the main screen with 50 positions (``AdlwatchApp`` headless)."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from benchmarks.common import Row, best_time

RENDER_GOAL_MS = 50.0


def bench_render(quick: bool = False) -> list[Row]:
    return asyncio.run(_render(quick))


async def _render(quick: bool) -> list[Row]:
    from benchmarks.engine_bench import fifty_position_portfolio, mark_stream
    from engine.risk import RiskEngine
    from feeds.events import MarkPrice
    from tui.app import AdlwatchApp

    portfolio = fifty_position_portfolio()
    n = 30 if quick else 200
    stream = mark_stream(portfolio, 100 + n)
    warm, timed = stream[:100], stream[100:]
    ts0 = int(time.time() * 1000)

    def event(i: int, venue: str, symbol: str, price: float) -> MarkPrice:
        return MarkPrice(venue=venue, symbol=symbol, ts=ts0 + i * 100, recv_ns=0, price=price)

    # Baseline: the engine alone, same marks, one snapshot per change.
    engine = RiskEngine(portfolio)
    for i, (v, s, p) in enumerate(warm):
        engine.apply(event(i, v, s, p))
    engine.snapshot()

    def engine_only():
        for i, (v, s, p) in enumerate(timed):
            engine.apply(event(i, v, s, p))
            engine.snapshot()

    t_engine = best_time(engine_only) / n

    app = AdlwatchApp(portfolio, None, clock=lambda: (ts0 + 60_000) / 1000)
    call_times: list[float] = []
    pause_cpu: list[float] = []
    pause_wall: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        for i, (v, s, p) in enumerate(warm):
            app.on_feed_event(event(i, v, s, p))
        app.refresh_view()
        await pilot.pause()
        assert app.view is not None and len(app.view.snapshot.positions) == 50
        for i, (v, s, p) in enumerate(timed):
            app.on_feed_event(event(100 + i, v, s, p))  # one mark changes, as between two 10 Hz ticks
            t0 = time.perf_counter()
            app.refresh_view()
            t1 = time.perf_counter()
            c1 = time.process_time()
            # Textual lays out and paints in the pause; it returns once the process is idle (it polls in
            # 20 ms sleeps), so its wall time overstates the work: its CPU time is the figure.
            await pilot.pause()
            pause_cpu.append(time.process_time() - c1)
            pause_wall.append(time.perf_counter() - t1)
            call_times.append(t1 - t0)
    call_ms = float(np.median(call_times)) * 1000
    call_p95 = float(np.percentile(call_times, 95)) * 1000
    work = [a + b for a, b in zip(call_times, pause_cpu, strict=True)]
    work_ms = float(np.median(work)) * 1000
    work_p95 = float(np.percentile(work, 95)) * 1000
    wall_ms = float(np.median(pause_wall)) * 1000
    return [
        Row(f"render: refresh_view() of the main screen, 50 positions, 160x48 (median of {n})",
            f"{call_ms:.2f} ms (p95 {call_p95:.2f})", f"engine snapshot alone {t_engine * 1000:.3f} ms",
            f"{call_ms / (t_engine * 1000):.0f}x the snapshot", f"< {RENDER_GOAL_MS:.0f} ms", call_ms < RENDER_GOAL_MS),
        Row("  render: refresh_view() + layout and paint (CPU time of the pilot.pause() after it)",
            f"{work_ms:.2f} ms (p95 {work_p95:.2f}; pause wall {wall_ms:.0f} ms incl. idle polling)",
            f"engine snapshot alone {t_engine * 1000:.3f} ms", f"{work_ms:.0f}% of a 100 ms tick",
            "p95 < 100 ms (10 Hz)", work_p95 < 100.0),
    ]
