"""Incremental engine vs full recompute; vectorised vs scalar liquidation prices."""

from __future__ import annotations

import math
import random

import numpy as np

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import FundingRate, MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.margin import Leg, solve_price
from adlwatch.engine.portfolio import Account, Portfolio, Position
from adlwatch.engine.risk import EngineInputs, RiskEngine, compute_snapshot
from adlwatch.engine.vector import isolated_liquidation_prices
from adlwatch.engine.venues import VENUE_RULES
from benchmarks.common import Row, best_time


def fifty_position_portfolio() -> Portfolio:
    """50 positions on 4 venues: one cross account per venue (hedged longs and shorts) plus isolated ones."""
    catalogue = default_catalogue()
    rng = random.Random(7)
    accounts = []
    count = 0
    per_venue = {"binance": 14, "bybit": 10, "okx": 10, "hyperliquid": 16}
    for venue, n in per_venue.items():
        linear = [i for i in catalogue if i.venue == venue and i.kind == "linear" and i.tiers]
        positions = []
        for j in range(n):
            inst = linear[j % len(linear)]
            price = 100.0 * (1 + j)
            side = Side.LONG if (j // len(linear)) % 2 == 0 else Side.SHORT
            cross = j % 4 != 3
            size = rng.uniform(1_000, 50_000) / price
            p = Position(inst, side, size, price * rng.uniform(0.95, 1.05), 10.0, MarginMode.CROSS if cross else MarginMode.ISOLATED)
            if not cross:
                p = Position(inst, side, size, p.entry_price, 10.0, MarginMode.ISOLATED, p.initial_margin())
            positions.append(p)
            count += 1
        accounts.append(Account(venue, 200_000.0, linear[0].settle, tuple(positions)))
    assert count == 50
    return Portfolio(tuple(accounts), catalogue=default_catalogue())


def mark_stream(portfolio: Portfolio, n: int) -> list[tuple[str, str, float]]:
    keys = sorted(portfolio.symbols())
    base = {k: 100.0 * (1 + i) for i, k in enumerate(keys)}
    for a in portfolio.accounts:
        for p in a.positions:
            base[(p.venue, p.symbol)] = p.entry_price
    rng = random.Random(1)
    out = []
    for i in range(n):
        key = keys[i % len(keys)]
        base[key] *= math.exp(rng.gauss(0, 0.001))
        out.append((key[0], key[1], base[key]))
    return out


def bench_engine(quick: bool = False) -> list[Row]:
    portfolio = fifty_position_portfolio()
    n = 20_000 if quick else 100_000
    stream = mark_stream(portfolio, n)
    engine = RiskEngine(portfolio)
    for venue, symbol, price in stream[:50]:
        engine.set_mark(venue, symbol, price)
    engine.snapshot()

    def incremental_10hz():
        # A feed at 100,000 updates/s with the UI taking a snapshot 10 times a second:
        # one snapshot per 10,000 updates.
        for i, (venue, symbol, price) in enumerate(stream):
            engine.set_mark(venue, symbol, price)
            if i % 10_000 == 9_999:
                engine.snapshot()
        engine.snapshot()

    def incremental_every_tick(count: int):
        def run():
            for venue, symbol, price in stream[:count]:
                engine.set_mark(venue, symbol, price)
                engine.snapshot()
        return run

    marks: dict = {}
    for venue, symbol, price in stream[:50]:
        marks[(venue, symbol)] = price
    anchors = dict(engine.inputs().anchors)  # the ADL estimate's populations, as the engine drew them

    def full_recompute(count: int):
        def run():
            for venue, symbol, price in stream[:count]:
                marks[(venue, symbol)] = price
                compute_snapshot(EngineInputs(portfolio=portfolio, marks=marks, anchors=anchors))
        return run

    # Binance sends the funding rate in every mark frame: the monitor now takes both. A funding
    # event is display only: it must not make a snapshot recompute any account.
    marks_only = [MarkPrice(venue=v, symbol=s, ts=i, price=p) for i, (v, s, p) in enumerate(stream)]
    frames = [e for i, m in enumerate(marks_only)
              for e in (m, FundingRate(venue=m.venue, symbol=m.symbol, ts=m.ts, rate=0.0001 if i % 5000 else 0.0002,
                                       next_funding_ts=1_760_140_800_000))]

    def through_apply(events):
        def run():
            apply, snapshot = engine.apply, engine.snapshot
            for i, event in enumerate(events):
                apply(event)
                if i % 10_000 == 9_999:
                    snapshot()
            snapshot()
        return run

    ticks = 2_000 if quick else 5_000
    t_frames = best_time(through_apply(frames))
    t_marks = best_time(through_apply(marks_only))
    t_inc = best_time(incremental_10hz)
    t_tick = best_time(incremental_every_tick(ticks))
    t_full = best_time(full_recompute(ticks))
    rate_inc = n / t_inc
    rate_tick = ticks / t_tick
    rate_full = ticks / t_full
    return [
        Row("engine: mark updates/s, 50 positions, snapshot at 10 Hz", f"{rate_inc:,.0f}/s", f"full recompute per tick {rate_full:,.0f}/s",
            f"{rate_inc / rate_full:,.1f}x", ">= 100,000/s and >= 10x", rate_inc >= 100_000 and rate_inc / rate_full >= 10),
        Row("engine: mark update + snapshot every tick", f"{rate_tick:,.0f}/s", f"full recompute per tick {rate_full:,.0f}/s",
            f"{rate_tick / rate_full:,.1f}x", "(reported)", None),
        Row("engine: Binance frames (mark + funding event) through apply, snapshot at 10 Hz",
            f"{n / t_frames:,.0f} frames/s", f"marks alone through apply {n / t_marks:,.0f}/s",
            f"{t_frames / t_marks:.2f}x the time", ">= 100,000 frames/s", n / t_frames >= 100_000),
    ]


def bench_vector(quick: bool = False) -> list[Row]:
    catalogue = default_catalogue()
    inst = catalogue.get("binance", "BTCUSDT")
    rules = VENUE_RULES["binance"].RULES
    n = 200_000 if quick else 1_000_000
    rng = np.random.default_rng(3)
    sign = rng.choice([-1.0, 1.0], n)
    entry = rng.uniform(20_000, 120_000, n)
    size = rng.uniform(1_000, 5_000_000, n) / entry
    margin = size * entry / rng.uniform(1, 100, n)

    def vector():
        isolated_liquidation_prices(rules, inst, sign, size, entry, margin)

    def floor_pass():
        # The memory-bandwidth floor: one plain numpy expression over the same four arrays.
        return (size * entry - sign * margin) / (size * (1.0 - 0.004 * sign))

    sample = 2_000 if quick else 20_000

    def scalar():
        for i in range(sample):
            solve_price(rules, [Leg(inst, int(sign[i]), float(size[i]), float(entry[i]))], float(margin[i]), "liquidation", float(entry[i]))

    t_vec = best_time(vector, repeat=7)
    t_floor = best_time(floor_pass, repeat=7)
    t_scalar = best_time(scalar, repeat=1) * n / sample
    return [
        Row(f"vectorised isolated liquidation prices, {n:,} positions ({len(inst.tiers)} tiers)", f"{t_vec:.3f} s",
            f"numpy floor {t_floor:.3f} s", f"{t_vec / t_floor:.1f}x floor", "< 0.2 s and <= 5x floor",
            t_vec < 0.2 * n / 1_000_000 and t_vec / t_floor <= 5),
        Row("  same, versus the scalar solver in a loop", f"{t_vec:.3f} s", f"scalar {t_scalar:.1f} s (from {sample:,})",
            f"{t_scalar / t_vec:,.0f}x faster", "(reported)", None),
    ]
