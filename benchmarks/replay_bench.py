"""Headless replay throughput (feeds reader + engine), and the time to render one refresh of the screen.

``bench_replay``: a synthetic day of 1-second marks for 20 symbols (5 per venue, each frame in its
venue's wire format, as raw-frame JSONL in a temp file) and the bundled demo recording, through
``load_replay`` and ``ReplaySource.advance_to(t, engine.apply)`` with a snapshot every 100 ms of replay
time, against merely reading the same file (bytes read, lines split). The headless goal is measured
as adlwatch runs a replay without a screen (``adlwatch demo --check``): ``load_replay`` without the
kinds the monitor never reads (``MONITOR_SKIPS``), every event to the engine in one batch
(``ReplaySource.take_until`` into ``RiskEngine.apply_many``), one snapshot; best of 3.

``bench_render``: ``AdlwatchApp`` headless (``run_test(size=(160, 48))``) on 50 positions; the time of
``refresh_view()`` and of the pause in which Textual lays out and renders, against the engine's
snapshot alone for the same mark changes.
"""

from __future__ import annotations

import gzip
import math
import os
import resource
import tempfile
import time

import numpy as np

from benchmarks.common import Row, best_time
from benchmarks.feeds_bench import FIREHOSE_SYMBOLS, streamed_portfolio

REPLAY_GOAL_MARKS_PER_S = 300_000
STEP_MS = 100  # a snapshot every 100 ms of replay time, as the UI's 10 Hz timer at 1x


# --- the synthetic day --------------------------------------------------------------------------------

def _frame_builders():
    """venue -> build(symbol, price, ms, first) -> the frame text the venue would send."""

    def binance(symbol: str, price: float, ms: int, first: bool) -> str:
        nxt = (ms // 28_800_000 + 1) * 28_800_000
        return (f'{{"stream":"{symbol.lower()}@markPrice@1s","data":{{"e":"markPriceUpdate","E":{ms},'
                f'"s":"{symbol}","p":"{price:.8f}","i":"{price * 0.9998:.8f}","P":"{price * 1.0001:.8f}",'
                f'"r":"0.00010000","T":{nxt}}}}}')

    def bybit(symbol: str, price: float, ms: int, first: bool) -> str:
        if first:
            nxt = (ms // 28_800_000 + 1) * 28_800_000
            return (f'{{"topic":"tickers.{symbol}","type":"snapshot","data":{{"symbol":"{symbol}",'
                    f'"tickDirection":"PlusTick","lastPrice":"{price:.2f}","markPrice":"{price:.2f}",'
                    f'"indexPrice":"{price * 0.9998:.2f}","openInterest":"100000.000",'
                    f'"openInterestValue":"{100000 * price:.2f}","singleOpenInterest":"50000.000",'
                    f'"singleOpenInterestValue":"{50000 * price:.2f}","fundingIntervalHour":"8",'
                    f'"fundingCap":"0.005","nextFundingTime":"{nxt}","fundingRate":"0.0001"}},'
                    f'"cs":1,"ts":{ms}}}')
        return (f'{{"topic":"tickers.{symbol}","type":"delta","data":{{"symbol":"{symbol}",'
                f'"markPrice":"{price:.2f}"}},"cs":{ms},"ts":{ms}}}')

    def okx(symbol: str, price: float, ms: int, first: bool) -> str:
        return (f'{{"arg":{{"channel":"mark-price","instId":"{symbol}"}},"data":[{{"instType":"SWAP",'
                f'"instId":"{symbol}","markPx":"{price:.2f}","ts":"{ms}"}}]}}')

    def hyperliquid(symbol: str, price: float, ms: int, first: bool) -> str:
        return (f'{{"channel":"activeAssetCtx","data":{{"coin":"{symbol}","ctx":{{"funding":"0.0000125",'
                f'"openInterest":"20000.5","prevDayPx":"{price * 0.99:.1f}","dayNtlVlm":"1500000000.0",'
                f'"premium":"0.0001","oraclePx":"{price * 0.9999:.1f}","markPx":"{price:.1f}",'
                f'"midPx":"{price:.1f}","impactPxs":["{price * 0.9999:.1f}","{price * 1.0001:.1f}"],'
                f'"dayBaseVlm":"23000.1"}}}}}}')

    return {"binance": binance, "bybit": bybit, "okx": okx, "hyperliquid": hyperliquid}


def write_synthetic_day(path: str, seconds: int, start_ms: int = 1_760_000_000_000) -> int:
    """One mark frame per second for each of the 20 streamed symbols; returns the number of lines."""
    from adlwatch.feeds.emulator import START_PRICES, coin_of
    from adlwatch.feeds.recorder import encode_line

    builders = _frame_builders()
    streams = [(v, s) for v, symbols in FIREHOSE_SYMBOLS.items() for s in symbols]
    rng = np.random.default_rng(11)
    walks = [(START_PRICES[coin_of(v, s)] * np.exp(np.cumsum(rng.normal(0.0, 0.0005, seconds)))).tolist()
             for v, s in streams]
    lines = 0
    with open(path, "wb", buffering=1 << 20) as out:
        chunk: list[bytes] = []
        for k in range(seconds):
            ms = start_ms + k * 1000
            recv_ns = ms * 1_000_000
            for j, (venue, symbol) in enumerate(streams):
                chunk.append(encode_line(recv_ns, venue, builders[venue](symbol, walks[j][k], ms, k == 0)))
            if len(chunk) >= 20_000:
                out.write(b"".join(chunk))
                lines += len(chunk)
                chunk.clear()
        out.write(b"".join(chunk))
        lines += len(chunk)
    return lines


def _read_and_split(path: str) -> int:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return len(f.read().split(b"\n"))


def _play(data, portfolio) -> dict:
    """Every event through the engine, a snapshot each 100 ms of replay time; timings inside."""
    from adlwatch.engine.risk import RiskEngine
    from adlwatch.feeds.replay import ReplaySource

    engine = RiskEngine(portfolio)
    source = ReplaySource(data, speed=math.inf, playing=False)
    apply = engine.apply
    snapshot = engine.snapshot
    clock = time.perf_counter
    t_snap = 0.0
    snapshots = 0
    recomputes = 0  # steps in which events arrived: the snapshot after them is computed afresh
    t = float(data.start_ms)
    end = float(data.end_ms)
    start = clock()
    while True:
        if source.advance_to(t, apply):
            recomputes += 1
        s0 = clock()
        snapshot()
        t_snap += clock() - s0
        snapshots += 1
        if t >= end:
            break
        t = min(t + STEP_MS, end)
    total = clock() - start
    assert source.finished
    return {"total": total, "snapshot": t_snap, "snapshots": snapshots, "recomputes": recomputes,
            "positions": len(snapshot().positions)}


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _headless(data, portfolio) -> float:
    """Seconds to apply every event to a fresh engine at once and take the one snapshot at the end."""
    from adlwatch.engine.risk import RiskEngine
    from adlwatch.feeds.replay import ReplaySource

    engine = RiskEngine(portfolio)
    source = ReplaySource(data, speed=math.inf, playing=False)
    start = time.perf_counter()
    engine.apply_many(source.take_until(data.end_ms))  # as `adlwatch demo --check` plays
    engine.snapshot()
    elapsed = time.perf_counter() - start
    assert source.finished
    return elapsed


def bench_replay(quick: bool = False) -> list[Row]:
    from adlwatch.engine.events import MONITOR_SKIPS, MarkPrice
    from adlwatch.feeds.portfolio_store import load as load_portfolio
    from adlwatch.feeds.recorder import read_recording
    from adlwatch.feeds.replay import load_replay
    from adlwatch.tui.demo import data_path, load_demo

    seconds = 3_600 if quick else 86_400
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="adlwatch-bench-") as tmp:
        path = os.path.join(tmp, "synthetic_day.jsonl")
        lines = write_synthetic_day(path, seconds)
        size_mb = os.path.getsize(path) / 1e6
        t_read = best_time(lambda: _read_and_split(path))

        def decode_only():
            for _ in read_recording(path):
                pass

        t_decode = best_time(decode_only, repeat=1 if not quick else 3)
        portfolio = streamed_portfolio()
        # The goal: load as the monitor loads a replay, then the engine to the end; best of 3 as
        # every other row here (this machine's wall clock wanders), with the CPU time beside it.
        runs = []
        for _ in range(3):
            data = None  # the previous run's events are freed before the next load
            c0, t0 = _cpu_s(), time.perf_counter()
            data = load_replay(path, skip=MONITOR_SKIPS)
            t_load = time.perf_counter() - t0
            t_headless = _headless(data, portfolio)
            runs.append((t_load + t_headless, t_load, t_headless, _cpu_s() - c0))
        t_goal, t_load, t_headless, cpu_goal = min(runs)
        played = _play(data, portfolio)
        t_total = t_load + played["total"]
        n_events = len(data.events)
        n_marks = sum(1 for e in data.events if isinstance(e, MarkPrice))
        del data
    rate_marks = n_marks / t_total
    span = "day" if seconds == 86_400 else f"{seconds / 3600:g} h"
    goal_s = n_marks / REPLAY_GOAL_MARKS_PER_S
    rows.append(Row(
        f"replay: synthetic {span} of 1 s marks, 20 symbols ({lines:,} frames, {size_mb:,.0f} MB), load + engine",
        f"{t_total:.2f} s: {rate_marks:,.0f} marks/s ({n_events / t_total:,.0f} events/s); < {goal_s:.1f} s needs the rate below",
        f"read + split file {t_read:.2f} s", f"{t_total / t_read:.0f}x the read",
        "(reported: a snapshot per 100 ms of replay time, 864,000 a day)", None))
    t_apply = played["total"] - played["snapshot"]
    per_recompute_us = played["snapshot"] / max(played["recomputes"], 1) * 1e6
    rows.append(Row(
        "  replay: where the time goes",
        f"load_replay {t_load:.2f} s (line decode {t_decode:.2f}, parse + sort {t_load - t_decode:.2f}); "
        f"apply + 100 ms stepping {t_apply:.2f} s; {played['snapshots']:,} snapshots {played['snapshot']:.2f} s "
        f"({played['recomputes']:,} recomputed, {per_recompute_us:.0f} µs each)",
        f"read + split {t_read:.2f} s", f"load {t_load / t_total * 100:.0f}% / apply {t_apply / t_total * 100:.0f}% / "
        f"snapshot {played['snapshot'] / t_total * 100:.0f}%", "(reported)", None))
    rows.append(Row(
        "  replay: headless, load + engine apply (the goal: one snapshot at the end; best of "
        f"{len(runs)})",
        f"{t_goal:.2f} s: {n_marks / t_goal:,.0f} marks/s, {n_events / t_goal:,.0f} events/s (load {t_load:.2f}, "
        f"apply to the end + snapshot {t_headless:.2f}; CPU {cpu_goal:.2f} s; all runs "
        f"{', '.join(f'{r[0]:.2f}' for r in runs)} s)",
        f"read + split file {t_read:.2f} s", f"{t_goal / t_read:.0f}x the read",
        f">= {REPLAY_GOAL_MARKS_PER_S:,} marks/s", n_marks / t_goal >= REPLAY_GOAL_MARKS_PER_S))

    # The bundled demo: ~2 h of 10 Oct 2025, gzip, through load_demo and the demo portfolio.
    demo_file = str(data_path("demo_recording.jsonl.gz"))
    from adlwatch.engine.instruments import default_catalogue

    demo_portfolio = load_portfolio(data_path("demo_portfolio.toml"), default_catalogue())
    t_demo_read = best_time(lambda: _read_and_split(demo_file))
    t0 = time.perf_counter()
    demo = load_demo()
    t_demo_load = time.perf_counter() - t0
    demo_played = _play(demo, demo_portfolio)
    t_demo = t_demo_load + demo_played["total"]
    rows.append(Row(
        f"replay: bundled demo recording ({len(demo.events):,} events, {(demo.end_ms - demo.start_ms) / 3.6e6:.1f} h), "
        "load + engine",
        f"{t_demo:.2f} s: {len(demo.events) / t_demo:,.0f} events/s (load {t_demo_load:.2f}, "
        f"play {demo_played['total']:.2f} incl. {demo_played['snapshots']:,} snapshots)",
        f"gunzip + split {t_demo_read:.3f} s", f"{t_demo / t_demo_read:.0f}x the read", "(reported)", None))
    return rows


# --- render --------------------------------------------------------------------------------------------
