"""The whole monitor under a loopback firehose: ``AdlwatchApp`` (headless Textual, 160x48) on
``LiveSource``, at 50 and at 300 positions, with the venues' public liquidation streams on.

The emulator in this process pushes every held contract of the four venues at the firehose's rate
(feeds_bench) and, beside it, liquidations on the held contracts (``LIQUIDATIONS_PER_S`` in all,
each a random side and size) on the venues that publish a stream (Binance ``forceOrder``, Bybit
``allLiquidation``, OKX ``liquidation-orders``). A child process runs the app exactly as
``adlwatch`` does live (the Monitor, its snapshots, alerts and every panel redrawn as the app
schedules them); we read its CPU time from /proc (Linux only) over a measured window after a
warm-up. The baseline in the same run is the feeds-only client (``LiveSource`` -> ``RiskEngine`` of
the same portfolio, no screen): what the screen and the monitor model add to the wire's cost.

The child is this module run as ``python -m benchmarks.monitor_bench --client <json>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

from benchmarks.common import Row
from benchmarks.feeds_bench import FIREHOSE_TARGET_UPDATES, proc_cpu_s, proc_rss_mb

ROOT = Path(__file__).resolve().parent.parent
SIZES = (50, 300)
CPU_GOALS = {50: 0.15, 300: 0.30}  # of one core (issue 15)
LIQUIDATIONS_PER_S = 20.0  # across the held contracts: a busy market, not yet a cascade
SECONDS = {True: 10.0, False: 60.0}
WARMUP_S = {True: 3.0, False: 8.0}
LIQUIDATION_VENUES = ("binance", "bybit", "okx")


def portfolio_of(n: int):
    """``n`` positions on the four venues' linear contracts that have tiers in the bundled catalogue
    (Binance: its first 60 by symbol; the others: all they have), over several accounts per venue,
    entries near the emulator's start prices, a quarter isolated."""
    from adlwatch.engine.enums import MarginMode, Side
    from adlwatch.engine.instruments import default_catalogue
    from adlwatch.engine.portfolio import Account, Portfolio, Position
    from adlwatch.feeds.emulator import START_PRICES, coin_of

    catalogue = default_catalogue()
    rng = random.Random(11)
    share = {"binance": 0.4, "bybit": 0.2, "okx": 0.2, "hyperliquid": 0.2}
    accounts = []
    for venue, frac in share.items():
        known = sorted((i for i in catalogue if i.venue == venue and i.kind == "linear" and i.tiers
                        and i.settle in ("USDT", "USDC")), key=lambda i: i.symbol)
        if venue == "binance":
            known = [i for i in known if i.settle == "USDT" and i.status in ("", "TRADING", "trading")][:60]
        count = round(n * frac) if venue != "hyperliquid" else n - sum(len(a.positions) for a in accounts)
        positions = []
        for j in range(count):
            inst = known[j % len(known)]
            price = START_PRICES.get(coin_of(venue, inst.symbol), 100.0)
            side = Side.LONG if rng.random() < 0.5 else Side.SHORT
            size = rng.uniform(1_000, 50_000) / price
            entry = price * rng.uniform(0.95, 1.05)
            p = Position(inst, side, size, entry, 10.0, MarginMode.CROSS)
            if j % 4 == 3:
                p = Position(inst, side, size, entry, 10.0, MarginMode.ISOLATED,
                             Position(inst, side, size, entry, 10.0, MarginMode.ISOLATED).initial_margin())
            positions.append(p)
        per_account = 25
        for k in range(0, len(positions), per_account):
            chunk = tuple(positions[k:k + per_account])
            accounts.append(Account(venue, 200_000.0 * len(chunk) / per_account, chunk[0].instrument.settle, chunk))
    portfolio = Portfolio(tuple(accounts), catalogue=catalogue)
    assert sum(len(a.positions) for a in portfolio.accounts) == n
    return portfolio


def held_symbols(n: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for account in portfolio_of(n).accounts:
        for p in account.positions:
            symbols = out.setdefault(account.venue, [])
            if p.instrument.symbol not in symbols:
                symbols.append(p.instrument.symbol)
    return out


# --- the child ---------------------------------------------------------------------------------------

async def _client_main(spec: dict) -> None:
    from adlwatch.feeds.live import LiveSource

    portfolio = portfolio_of(spec["positions"])
    source = LiveSource(spec["symbols"], ws_urls=spec["ws_urls"], rest_urls=spec["rest_urls"])

    def frames() -> int:
        return sum(s.frames for c in source.clients for s in c.stats)

    def say(tag: str) -> None:
        print(json.dumps({"tag": tag, "frames": frames(), "t": time.monotonic()}), flush=True)

    async def connected() -> None:
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            if len(source.clients) == len(spec["symbols"]) and all(
                    sum(s.frames for s in c.stats) > 10 for c in source.clients):
                return
            await asyncio.sleep(0.05)

    if spec["screen"]:
        from adlwatch.tui.app import AdlwatchApp

        app = AdlwatchApp(portfolio, source, notifier=_Quiet())
        async with app.run_test(headless=True, size=(160, 48)):
            await connected()
            say("connected")
            await asyncio.sleep(spec["warmup_s"])
            say("start")
            await asyncio.sleep(spec["seconds"])
            say("end")
    else:
        from adlwatch.engine.risk import RiskEngine

        engine = RiskEngine(portfolio)
        feed = asyncio.create_task(source.run(engine.apply))

        async def snapshots() -> None:
            while True:
                engine.snapshot()
                await asyncio.sleep(0.1)

        snap = asyncio.create_task(snapshots())
        await connected()
        say("connected")
        await asyncio.sleep(spec["warmup_s"])
        say("start")
        await asyncio.sleep(spec["seconds"])
        say("end")
        for task in (feed, snap):
            task.cancel()
        await asyncio.gather(feed, snap, return_exceptions=True)
    say("done")


class _Quiet:
    """No desktop notifications from a benchmark."""

    def deliver(self, alert) -> None:
        return None


# --- the emulator side (this process) ----------------------------------------------------------------

async def _run(positions: int, screen: bool, seconds: float, warmup_s: float) -> dict:
    from adlwatch.feeds.emulator import Emulator

    symbols = held_symbols(positions)
    streams = sum(len(s) for s in symbols.values())
    emulator = Emulator(seed=0, interval_s=streams / FIREHOSE_TARGET_UPDATES, keep_frames=False)
    await emulator.start()
    spec = {"positions": positions, "screen": screen, "symbols": symbols,
            "ws_urls": {v: emulator.ws_url(v) for v in symbols},
            "rest_urls": {v: emulator.rest_url(v) for v in symbols},
            "seconds": seconds, "warmup_s": warmup_s}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADLWATCH_")}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.monitor_bench", "--client", json.dumps(spec),
        cwd=str(ROOT), env=env, stdout=asyncio.subprocess.PIPE)
    pid = child.pid
    marks: dict[str, dict] = {}
    liquidations = {"sent": 0}
    rng = random.Random(5)
    pairs = [(v, s) for v in LIQUIDATION_VENUES for s in symbols.get(v, [])]

    async def liquidate() -> None:
        while True:
            await asyncio.sleep(1.0 / LIQUIDATIONS_PER_S)
            venue, symbol = rng.choice(pairs)
            price = emulator.prices.current(venue, symbol)
            liquidations["sent"] += await emulator.liquidations(
                venue, symbol, rng.choice(("long", "short")), size=rng.uniform(1_000, 200_000) / price)

    pusher = asyncio.create_task(liquidate()) if pairs else None
    try:
        async def read_phases() -> None:
            assert child.stdout is not None
            async for raw in child.stdout:
                doc = json.loads(raw)
                if doc["tag"] in ("start", "end"):
                    doc["cpu_s"] = proc_cpu_s(pid)
                    doc["rss_mb"] = proc_rss_mb(pid)
                    doc["sent"] = emulator.data_frames_sent()
                    doc["liquidations"] = liquidations["sent"]
                    doc["wall"] = time.monotonic()
                marks[doc["tag"]] = doc

        await asyncio.wait_for(read_phases(), timeout=seconds + warmup_s + 90.0)
        await asyncio.wait_for(child.wait(), timeout=15.0)
    finally:
        if pusher is not None:
            pusher.cancel()
        if child.returncode is None:
            child.kill()
            await child.wait()
        await emulator.stop()
    if "start" not in marks or "end" not in marks:
        raise RuntimeError(f"monitor client ended early (exit {child.returncode}); phases seen: {sorted(marks)}")
    start, end = marks["start"], marks["end"]
    wall = end["wall"] - start["wall"]
    return {"cpu_frac": (end["cpu_s"] - start["cpu_s"]) / wall, "rss_mb": end["rss_mb"],
            "frames_per_s": (end["frames"] - start["frames"]) / (end["t"] - start["t"]),
            "liquidations_per_s": (end["liquidations"] - start["liquidations"]) / wall,
            "streams": sum(len(s) for s in symbols.values())}


def bench_monitor(quick: bool = False) -> list[Row]:
    if not sys.platform.startswith("linux"):
        return [Row("monitor: the app under a loopback firehose", "skipped (needs /proc: Linux)", "-", "-", "-", None)]
    seconds, warmup = SECONDS[quick], WARMUP_S[quick]
    rows = []
    for n in SIZES:
        goal = CPU_GOALS[n]
        try:
            app = asyncio.run(_run(n, True, seconds, warmup))
            feeds = asyncio.run(_run(n, False, seconds, warmup))
        except Exception as exc:  # report the failure in the table rather than losing the other suites
            rows.append(Row(f"monitor {n} positions", f"FAILED: {type(exc).__name__}: {exc}", "-", "-",
                            f"< {goal * 100:.0f}% of one core", False))
            continue
        rows.append(Row(
            f"monitor: {n} positions on {app['streams']} contracts, app (160x48 headless) under the firehose "
            f"+ {app['liquidations_per_s']:.0f} liquidation frames/s, CPU (user+sys over wall, /proc) ({seconds:g} s)",
            f"{app['cpu_frac'] * 100:.1f}% of one core ({app['frames_per_s']:,.0f} frames/s, "
            f"RSS {app['rss_mb']:.0f} MB)",
            f"feeds + engine alone {feeds['cpu_frac'] * 100:.1f}% ({feeds['frames_per_s']:,.0f} frames/s)",
            f"{app['cpu_frac'] / max(feeds['cpu_frac'], 1e-9):.2f}x", f"< {goal * 100:.0f}% of one core",
            app["cpu_frac"] < goal))
    return rows


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--client":
        asyncio.run(_client_main(json.loads(sys.argv[2])))
        raise SystemExit(0)
    print("usage: python -m benchmarks.monitor_bench --client <json> (internal)", file=sys.stderr)
    raise SystemExit(2)
