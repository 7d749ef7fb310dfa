"""Cascade: a 1,000,000-position population through 201 shocks (−50 % … +50 %)."""

from __future__ import annotations

import time

import numpy as np

from adlwatch.engine.cascade import CascadeParams, run_cascade, sweep_shocks
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.margin import Leg, maintenance_margin, unrealized_pnl
from adlwatch.engine.population import PopulationParams, build_population
from adlwatch.engine.venues import VENUE_RULES
from benchmarks.common import Row, best_time


def bench_cascade(quick: bool = False) -> list[Row]:
    inst = default_catalogue().get("binance", "BTCUSDT")
    per_side = 100_000 if quick else 500_000
    pop = build_population(inst, 100_000.0, per_side * 0.5, PopulationParams(positions_per_side=per_side))
    shocks = np.linspace(-50, 50, 201)
    params = CascadeParams(fund_usd=5e8)
    t_sweep = best_time(lambda: sweep_shocks(pop, shocks, params), repeat=3)

    # Baseline: the same rounds written position by position in Python, on a sample, scaled up.
    rules = VENUE_RULES["binance"].RULES
    sample = 2_000
    legs = [Leg(inst, int(pop.side[i]), float(pop.size[i]), float(pop.entry[i])) for i in range(sample)]
    margins = [float(m) for m in pop.margin[:sample]]

    def python_loop():
        for pct in shocks:
            price = 100_000.0 * (1 + pct / 100)
            alive = [True] * sample
            for _ in range(params.max_rounds):
                new = [i for i in range(sample) if alive[i]
                       and margins[i] + unrealized_pnl(legs[i], price) < maintenance_margin(rules, legs[i], price)]
                if not new:
                    break
                flow = 0.0
                for i in new:
                    alive[i] = False
                    flow += legs[i].sign * legs[i].size * price
                price *= 1.0 + params.permanent_impact_share * params.impact_per_usd * flow

    start = time.perf_counter()
    python_loop()
    t_loop = (time.perf_counter() - start) * len(pop) / sample
    one = best_time(lambda: run_cascade(pop, [80_000.0], params), repeat=1)
    n = len(pop)
    return [
        Row(f"cascade: {n:,} positions through 201 shocks (sweep)", f"{t_sweep:.3f} s", f"Python loop {t_loop:,.0f} s (from {sample:,})",
            f"{t_loop / t_sweep:,.0f}x faster", "< 1 s", t_sweep < 1.0 * n / 1_000_000),
        Row("  one shock through the general cascade (ADL allocated)", f"{one:.3f} s", "-", "-", "(reported)", None),
    ]
