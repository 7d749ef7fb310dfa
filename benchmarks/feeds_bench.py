"""Feed parsing throughput on real frames, and the live client under a loopback firehose.

``bench_parse``: each venue's parser (``ADAPTER.new_parser().parse``) on the data frames of
tests/feeds/frames/<venue>.json (mark price varied per frame, the rest of the text as the venue sends
it), against bare ``json.loads`` on the very same frames.

``bench_firehose``: the loopback emulator in this process pushes BTC/ETH/SOL/XRP/DOGE on all four
venues; a child process runs ``LiveSource`` -> ``RiskEngine.apply`` on a 50-position portfolio with a
snapshot at 10 Hz. We read the child's CPU time and RSS from /proc (Linux only) and count the frames
the emulator sent against those the client received. Every frame is parsed, timed for staleness and
counted; the client reads each socket every 100 ms (``FeedClient.read_batch_s``), so a symbol's marks
that arrive in one read coalesce in the queue and the engine applies the newest (events/s and marks/s
count what reached the engine, not the frames).

The child is this module run as ``python -m benchmarks.feeds_bench --firehose-client <json>``.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sys
import time
from pathlib import Path

from benchmarks.common import Row, best_time

ROOT = Path(__file__).resolve().parent.parent
FRAMES_DIR = ROOT / "tests" / "feeds" / "frames"

COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
FIREHOSE_SYMBOLS = {
    "binance": [f"{c}USDT" for c in COINS],
    "bybit": [f"{c}USDT" for c in COINS],
    "okx": [f"{c}-USDT-SWAP" for c in COINS],
    "hyperliquid": list(COINS),
}
FIREHOSE_GOAL_UPDATES = 2_500  # updates/s delivered
FIREHOSE_TARGET_UPDATES = 3_600  # asked of the emulator: its tick sleeps overrun (~1 ms), ~2,900/s arrive
FIREHOSE_WARMUP_S = 3.0
CLIENT_CPU_GOAL = 0.10  # of one core
RSS_GOAL_MB = 200.0
RSS_GROWTH_GOAL = 0.10


# --- parse -------------------------------------------------------------------------------------------

# (venue, index of the data frame in tests/feeds/frames/<venue>.json, label, the mark field's text)
PARSE_CASES = (
    ("binance", 0, "Binance markPrice (combined stream)", '"p": "'),
    ("bybit", 1, "Bybit tickers delta", '"markPrice": "'),
    ("okx", 0, "OKX mark-price", '"markPx":"'),
    ("hyperliquid", 1, "Hyperliquid activeAssetCtx", '"markPx":"'),
)
PARSE_GOAL_BINANCE = 300_000  # frames/s


def _load_frames(venue: str) -> list[str]:
    return json.loads((FRAMES_DIR / f"{venue}.json").read_text())["ws"]


def _variants(frame: str, marker: str, count: int, seed: int) -> list[str]:
    """``count`` copies of a real frame whose mark price text differs (same digits layout)."""
    start = frame.index(marker) + len(marker)
    end = frame.index('"', start)
    price = float(frame[start:end])
    decimals = len(frame[start:end].partition(".")[2])
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        p = price * math.exp(rng.gauss(0.0, 0.001))
        out.append(frame[:start] + f"{p:.{decimals}f}" + frame[end:])
    return out


def bench_parse(quick: bool = False) -> list[Row]:
    from adlwatch.feeds.registry import get_adapter

    n = 50_000 if quick else 300_000
    rows: list[Row] = []
    for venue, index, label, marker in PARSE_CASES:
        frames_file = _load_frames(venue)
        frame = frames_file[index]
        distinct = _variants(frame, marker, 256, seed=index)
        stream = (distinct * (n // len(distinct) + 1))[:n]
        parser = get_adapter(venue).new_parser()
        if venue == "bybit":  # a delta merges into the snapshot the connection received first
            parser.parse(frames_file[0], 1)
        events_per_frame = len(parser.parse(stream[0], 1))
        assert events_per_frame > 0, f"{venue}: the sample frame gave no events"
        def ours(stream=stream, parse=parser.parse):
            for f in stream:
                parse(f, 1)

        def baseline(stream=stream, loads=json.loads):
            for f in stream:
                loads(f)

        t_ours = best_time(ours)
        t_json = best_time(baseline)
        rate, rate_json = n / t_ours, n / t_json
        goal = venue == "binance"
        rows.append(Row(
            f"parse: {label} frames/s ({events_per_frame} events each)",
            f"{rate:,.0f}/s ({1e6 / rate:.2f} µs)",
            f"json.loads {rate_json:,.0f}/s",
            f"{rate / rate_json:.2f}x json.loads",
            f">= {PARSE_GOAL_BINANCE:,}/s" if goal else "(reported)",
            rate >= PARSE_GOAL_BINANCE if goal else None,
        ))
    return rows


# --- firehose: /proc readings ----------------------------------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# --- firehose: the client (child process) ---------------------------------------------------------

def streamed_portfolio():
    """50 positions like engine_bench's, but on the streamed contracts with entries near the marks."""
    from adlwatch.engine.enums import MarginMode, Side
    from adlwatch.engine.instruments import default_catalogue
    from adlwatch.engine.portfolio import Account, Portfolio, Position
    from adlwatch.feeds.emulator import START_PRICES, coin_of

    catalogue = default_catalogue()
    rng = random.Random(7)
    accounts = []
    per_venue = {"binance": 14, "bybit": 10, "okx": 10, "hyperliquid": 16}
    for venue, n in per_venue.items():
        linear = [i for i in catalogue if i.venue == venue and i.kind == "linear" and i.tiers
                  and i.symbol in FIREHOSE_SYMBOLS[venue]]
        positions = []
        for j in range(n):
            inst = linear[j % len(linear)]
            price = START_PRICES[coin_of(venue, inst.symbol)]
            side = Side.LONG if (j // len(linear)) % 2 == 0 else Side.SHORT
            size = rng.uniform(1_000, 50_000) / price
            entry = price * rng.uniform(0.95, 1.05)
            if j % 4 != 3:
                p = Position(inst, side, size, entry, 10.0, MarginMode.CROSS)
            else:
                p = Position(inst, side, size, entry, 10.0, MarginMode.ISOLATED)
                p = Position(inst, side, size, entry, 10.0, MarginMode.ISOLATED, p.initial_margin())
            positions.append(p)
        accounts.append(Account(venue, 200_000.0, linear[0].settle, tuple(positions)))
    portfolio = Portfolio(tuple(accounts), catalogue=catalogue)
    assert sum(len(a.positions) for a in portfolio.accounts) == 50
    return portfolio


async def _client_main(spec: dict) -> None:
    """Child: LiveSource -> RiskEngine.apply, snapshot at 10 Hz; phases reported on stdout."""
    from adlwatch.engine.risk import RiskEngine
    from adlwatch.feeds.live import LiveSource

    engine = RiskEngine(streamed_portfolio())
    counts = {"events": 0, "applied": 0, "marks": 0, "snapshots": 0}

    def emit(event) -> None:
        counts["events"] += 1
        if engine.apply(event):
            counts["applied"] += 1
            if event.kind == "mark_price":
                counts["marks"] += 1

    source = LiveSource(spec["symbols"], ws_urls=spec["ws_urls"], rest_urls=spec["rest_urls"])
    feed = asyncio.create_task(source.run(emit))

    def frames() -> int:
        return sum(s.frames for c in source.clients for s in c.stats)

    def state() -> dict:
        queue = source.clients[0].queue if source.clients else None
        return {**counts, "frames": frames(), "t": time.monotonic(),
                "coalesced": queue.coalesced if queue is not None else 0,  # (an empty queue is falsy)
                "dropped": queue.dropped if queue is not None else 0}

    def say(tag: str, **extra) -> None:
        print(json.dumps({"tag": tag, **state(), **extra}), flush=True)

    async def snapshots(until: float) -> None:
        period = 0.1
        next_at = time.monotonic()
        while next_at < until:
            next_at += period
            engine.snapshot()
            counts["snapshots"] += 1
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    # Wait until every venue delivers, then warm up, then the measured window.
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if source.clients and all(sum(s.frames for s in c.stats) > 10 for c in source.clients):
            break
        await asyncio.sleep(0.05)
    say("connected")
    warm_until = time.monotonic() + spec["warmup_s"]
    end = warm_until + spec["seconds"]
    snap = asyncio.create_task(snapshots(end))
    await asyncio.sleep(max(0.0, warm_until - time.monotonic()))
    say("start")
    await snap
    say("end")
    feed.cancel()
    await asyncio.gather(feed, return_exceptions=True)
    say("done")


def _client_entry(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    asyncio.run(_client_main(spec))
    return 0


# --- firehose: the emulator side (this process) -----------------------------------------------------

async def _firehose(seconds: float, warmup_s: float) -> dict:
    from adlwatch.feeds.emulator import Emulator

    frames_per_tick = sum(len(s) for s in FIREHOSE_SYMBOLS.values()) + len(FIREHOSE_SYMBOLS["okx"]) / 5
    interval = frames_per_tick / FIREHOSE_TARGET_UPDATES
    emulator = Emulator(seed=0, interval_s=interval, keep_frames=False)
    await emulator.start()
    spec = {
        "symbols": FIREHOSE_SYMBOLS,
        "ws_urls": {v: emulator.ws_url(v) for v in FIREHOSE_SYMBOLS},
        "rest_urls": {v: emulator.rest_url(v) for v in FIREHOSE_SYMBOLS},
        "seconds": seconds,
        "warmup_s": warmup_s,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADLWATCH_")}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.feeds_bench", "--firehose-client", json.dumps(spec),
        cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE)
    pid = child.pid
    marks: dict[str, dict] = {}
    rss_samples: list[float] = []
    sampler: asyncio.Task | None = None

    async def sample_rss() -> None:
        while True:
            rss_samples.append(proc_rss_mb(pid))
            await asyncio.sleep(1.0)

    try:
        async def read_phases() -> None:
            nonlocal sampler
            assert child.stdout is not None
            async for raw in child.stdout:
                doc = json.loads(raw)
                tag = doc["tag"]
                if tag in ("start", "end"):
                    doc["cpu_s"] = proc_cpu_s(pid)
                    doc["rss_mb"] = proc_rss_mb(pid)
                    doc["sent"] = emulator.data_frames_sent()
                    doc["wall"] = time.monotonic()
                    if tag == "start":
                        sampler = asyncio.create_task(sample_rss())
                    elif sampler is not None:
                        sampler.cancel()
                marks[tag] = doc

        await asyncio.wait_for(read_phases(), timeout=seconds + warmup_s + 60.0)
        await asyncio.wait_for(child.wait(), timeout=10.0)
    finally:
        if sampler is not None:
            sampler.cancel()
        if child.returncode is None:
            child.kill()
            await child.wait()
        await emulator.stop()
    if "start" not in marks or "end" not in marks:
        raise RuntimeError(f"firehose client ended early (exit {child.returncode}); phases seen: {sorted(marks)}")
    start, end = marks["start"], marks["end"]
    wall = end["wall"] - start["wall"]
    window = end["t"] - start["t"]
    return {
        "wall_s": wall,
        "cpu_frac": (end["cpu_s"] - start["cpu_s"]) / wall,
        "rss_start": start["rss_mb"],
        "rss_end": end["rss_mb"],
        "rss_max": max([start["rss_mb"], end["rss_mb"], *rss_samples]),
        "sent_per_s": (end["sent"] - start["sent"]) / wall,
        "frames_per_s": (end["frames"] - start["frames"]) / window,
        "events_per_s": (end["events"] - start["events"]) / window,
        "marks_per_s": (end["marks"] - start["marks"]) / window,
        "snapshots_per_s": (end["snapshots"] - start["snapshots"]) / window,
        "coalesced": end["coalesced"] - start["coalesced"],
        "dropped": end["dropped"] - start["dropped"],
        "interval_s": interval,
    }


FIREHOSE_SECONDS = {True: 20.0, False: 600.0}  # --quick, full run; --firehose-seconds overrides


def bench_firehose(quick: bool = False, seconds: float | None = None) -> list[Row]:
    if not sys.platform.startswith("linux"):
        return [Row("firehose: client under a loopback firehose", "skipped (needs /proc: Linux)", "-", "-", "-", None)]
    seconds = float(seconds if seconds is not None else FIREHOSE_SECONDS[quick])
    warmup = 2.0 if quick else FIREHOSE_WARMUP_S
    try:
        r = asyncio.run(_firehose(seconds, warmup))
    except Exception as exc:  # report the failure in the table rather than losing the other suites
        return [Row(f"firehose {seconds:g} s", f"FAILED: {type(exc).__name__}: {exc}", "-", "-",
                    f">= {FIREHOSE_GOAL_UPDATES:,}/s, CPU < {CLIENT_CPU_GOAL * 100:.0f}%, RSS < {RSS_GOAL_MB:.0f} MB",
                    False)]
    cpu, growth = r["cpu_frac"], (r["rss_end"] - r["rss_start"]) / r["rss_start"]
    delivered, sent = r["frames_per_s"], r["sent_per_s"]
    title = f"firehose {seconds:g} s: 20 streams x 4 venues, client LiveSource -> engine (50 pos, 10 Hz snapshot)"
    return [
        Row(title + ": updates delivered/s", f"{delivered:,.0f} frames/s ({r['events_per_s']:,.0f} events/s, "
            f"{r['marks_per_s']:,.0f} marks/s)", f"emulator sent {sent:,.0f} frames/s",
            f"{delivered / sent:.3f} delivered/sent", f">= {FIREHOSE_GOAL_UPDATES:,}/s delivered",
            delivered >= FIREHOSE_GOAL_UPDATES),
        Row("  firehose: client CPU (user+sys over wall, /proc)", f"{cpu * 100:.1f}% of one core",
            f"emulator sent {sent:,.0f} frames/s", f"{cpu * 1e6 / max(delivered, 1):.0f} µs CPU/frame",
            f"< {CLIENT_CPU_GOAL * 100:.0f}%", cpu < CLIENT_CPU_GOAL),
        Row("  firehose: client RSS start -> end (max)", f"{r['rss_start']:.1f} -> {r['rss_end']:.1f} MB "
            f"(max {r['rss_max']:.1f})", f"start {r['rss_start']:.1f} MB", f"{growth * 100:+.1f}% growth",
            f"< {RSS_GOAL_MB:.0f} MB and growth < {RSS_GROWTH_GOAL * 100:.0f}%",
            r["rss_max"] < RSS_GOAL_MB and growth < RSS_GROWTH_GOAL),
        Row("  firehose: queue coalesced / dropped, snapshots", f"{r['coalesced']:,} / {r['dropped']:,}, "
            f"{r['snapshots_per_s']:.1f} snapshots/s", f"{r['wall_s']:.1f} s window", "-", "(reported)", None),
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--firehose-client":
        raise SystemExit(_client_entry(sys.argv[2:]))
    print("usage: python -m benchmarks.feeds_bench --firehose-client <json> (internal)", file=sys.stderr)
    raise SystemExit(2)
