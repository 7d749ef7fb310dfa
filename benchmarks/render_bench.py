"""Time to render one refresh of the main screen with 50 positions (``AdlwatchApp`` headless).

Each tick feeds new marks to the app, calls ``refresh_view()`` (what the app's timer does, REFRESH_HZ) and lets
Textual lay out and paint the screen (``pilot.pause()``). Two loads: one mark moving per tick, and
every contract's mark moving per tick (a crash: every row and the chart change every tick).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from benchmarks.common import Row, best_time

RENDER_GOAL_MS = 50.0
TICK_GOAL_MS = 100.0  # 10 Hz: stricter than the app's 5 Hz tick (tui/app.py REFRESH_HZ), kept so figures compare across runs


def bench_render(quick: bool = False) -> list[Row]:
    return asyncio.run(_render(quick))


async def _render(quick: bool) -> list[Row]:
    from adlwatch.engine.events import MarkPrice
    from adlwatch.engine.risk import RiskEngine
    from adlwatch.tui.app import AdlwatchApp
    from benchmarks.engine_bench import fifty_position_portfolio, mark_stream

    portfolio = fifty_position_portfolio()
    contracts = len(portfolio.symbols())
    n = 30 if quick else 200
    stream = mark_stream(portfolio, 100 + n + n * contracts)
    warm, one_each, all_each = stream[:100], stream[100:100 + n], stream[100 + n:]
    ts0 = int(time.time() * 1000)

    def event(i: int, venue: str, symbol: str, price: float) -> MarkPrice:
        return MarkPrice(venue=venue, symbol=symbol, ts=ts0 + i * 10, recv_ns=0, price=price)

    # Baseline: the engine alone, same marks, one snapshot per change.
    engine = RiskEngine(portfolio)
    for i, (v, s, p) in enumerate(warm):
        engine.apply(event(i, v, s, p))
    engine.snapshot()

    def engine_only():
        for i, (v, s, p) in enumerate(one_each):
            engine.apply(event(i, v, s, p))
            engine.snapshot()

    t_engine = best_time(engine_only) / n

    app = AdlwatchApp(portfolio, None, clock=lambda: (ts0 + 60_000) / 1000)
    seq = iter(range(len(stream)))

    async def ticks(pilot, marks_per_tick: list[list[tuple[str, str, float]]]):
        call_times: list[float] = []
        work: list[float] = []
        pause_wall: list[float] = []
        for marks in marks_per_tick:
            for v, s, p in marks:  # the marks that moved between two ticks
                app.on_feed_event(event(next(seq), v, s, p))
            t0 = time.perf_counter()
            app.refresh_view()
            t1 = time.perf_counter()
            c1 = time.process_time()
            # Textual lays out and paints in the pause; it returns once the process is idle (it polls in
            # 20 ms sleeps), so its wall time overstates the work: its CPU time is the figure.
            await pilot.pause()
            work.append(t1 - t0 + time.process_time() - c1)
            pause_wall.append(time.perf_counter() - t1)
            call_times.append(t1 - t0)
        return call_times, work, pause_wall

    async with app.run_test(size=(160, 48)) as pilot:
        for v, s, p in warm:
            app.on_feed_event(event(next(seq), v, s, p))
        app.refresh_view()
        await pilot.pause()
        assert app.view is not None and len(app.view.snapshot.positions) == 50
        call_times, work, pause_wall = await ticks(pilot, [[m] for m in one_each])
        _, crash_work, _ = await ticks(pilot, [all_each[i:i + contracts] for i in range(0, len(all_each), contracts)])

    def ms(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) * 1000

    call_ms, work_ms, crash_ms = ms(call_times, 50), ms(work, 50), ms(crash_work, 50)
    engine_ms = t_engine * 1000
    return [
        Row(f"render: refresh_view() of the main screen, 50 positions, 160x48 (median of {n})",
            f"{call_ms:.2f} ms (p95 {ms(call_times, 95):.2f})", f"engine snapshot alone {engine_ms:.3f} ms",
            f"{call_ms / engine_ms:.0f}x the snapshot", f"< {RENDER_GOAL_MS:.0f} ms", call_ms < RENDER_GOAL_MS),
        Row("  render: refresh_view() + layout and paint (CPU time of the pilot.pause() after it), one mark moving a tick",
            f"{work_ms:.2f} ms (p95 {ms(work, 95):.2f}; pause wall {ms(pause_wall, 50):.0f} ms incl. idle polling)",
            f"engine snapshot alone {engine_ms:.3f} ms", f"{work_ms:.0f}% of a 100 ms tick",
            f"p95 < {TICK_GOAL_MS:.0f} ms (10 Hz)", ms(work, 95) < TICK_GOAL_MS),
        Row(f"  render: same, every contract's mark moving a tick ({contracts} marks: every row and the chart change)",
            f"{crash_ms:.2f} ms (p95 {ms(crash_work, 95):.2f})",
            f"engine snapshot alone {engine_ms:.3f} ms", f"{crash_ms:.0f}% of a 100 ms tick",
            f"p95 < {TICK_GOAL_MS:.0f} ms (10 Hz)", ms(crash_work, 95) < TICK_GOAL_MS),
    ]
