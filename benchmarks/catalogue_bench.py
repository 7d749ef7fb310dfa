"""The full catalogue: parsing each venue's cached universe, loading the bundled tables, and the
start-up of ``adlwatch check --offline`` on a 3-position portfolio with every cache file present.

The cached universes are made here at a realistic size (Binance's bundled 900-odd USDⓈ-M contracts
as they are; Bybit, OKX and Hyperliquid as many contracts as they list, with the tier counts of
Binance's real tables), written in the cache's own format (``feeds.tiers.universe_table``) to a
temporary user cache folder. Start-up is timed as a subprocess, the median of several runs, with two
baselines from the same run: ``python -c pass`` and the same check with no cache at all.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import Row, best_time

STARTUP_GOAL_S = 0.4  # issue 13: no slower than today's 0.4 s median for a 3-position portfolio
# Contracts each venue lists (research/exchanges.md, issue 13: about 1,400 perpetuals in all).
UNIVERSE_SIZES = {"binance": None, "bybit": 600, "okx": 300, "hyperliquid": 400}

PORTFOLIO = """[[account]]
venue = "binance"
wallet_balance = 10000.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.5
entry_price = 60000.0
leverage = 10

[[account.position]]
symbol = "ETHUSDT"
side = "short"
size = 4.0
entry_price = 3000.0
leverage = 5
margin_mode = "isolated"
isolated_margin = 2500.0

[[account]]
venue = "hyperliquid"
wallet_balance = 2000.0

[[account.position]]
symbol = "BTC"
side = "short"
size = 0.1
entry_price = 61000.0
leverage = 5
"""
MARKS = ["--mark", "BTCUSDT=60000", "--mark", "ETHUSDT=3000", "--mark", "BTC=60500"]


def write_universes(folder: Path) -> dict[str, Path]:
    """One cache file per venue, of its realistic size, in the cache's format."""
    from adlwatch.engine.instruments import default_catalogue, encode_table
    from adlwatch.feeds.tier_rows import now_iso
    from adlwatch.feeds.tiers import universe_path, universe_table

    folder.mkdir(parents=True, exist_ok=True)
    real = [i for i in default_catalogue() if i.venue == "binance" and i.kind == "linear" and i.tiers]
    as_of = now_iso()
    paths = {}
    for venue, size in UNIVERSE_SIZES.items():
        if size is None:
            instruments = real
        else:
            instruments = [replace(real[n % len(real)], venue=venue, symbol=f"C{n:04d}", source=f"bench {venue}",
                                   as_of=as_of) for n in range(size)]
        path = universe_path(folder, venue)
        path.write_bytes(encode_table(universe_table(venue, instruments, as_of)))
        paths[venue] = path
    return paths


def _median_run(args: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[:300]}")
    return statistics.median(times)


def bench_catalogue(quick: bool = False) -> list[Row]:
    from adlwatch.engine.instruments import bundled_table_files, decode_table, default_catalogue
    from adlwatch.feeds.tiers import load_catalogue

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="adlwatch-bench-") as tmp:
        root = Path(tmp)
        cache = root / "cache" / "adlwatch" / "tiers"
        paths = write_universes(cache)
        for venue, path in paths.items():
            data = path.read_bytes()
            count = len(decode_table(data, venue))
            t_decode = best_time(lambda data=data, venue=venue: decode_table(data, venue), 3 if quick else 7)
            t_json = best_time(lambda data=data: json.loads(data), 3 if quick else 7)
            rows.append(Row(f"catalogue: parse {venue} cached universe ({count} contracts, {len(data) // 1024} KiB)",
                            f"{t_decode * 1e3:.1f} ms", f"json.loads {t_json * 1e3:.1f} ms",
                            f"{t_decode / t_json:.1f}x", "< 50 ms", t_decode < 0.05))

        def bundled() -> None:
            default_catalogue.cache_clear()
            default_catalogue()

        t_bundled = best_time(bundled, 3 if quick else 5)
        t_files = best_time(bundled_table_files, 3 if quick else 5)
        rows.append(Row(f"catalogue: default_catalogue() ({len(default_catalogue())} bundled contracts)",
                        f"{t_bundled * 1e3:.1f} ms", f"read+gunzip {t_files * 1e3:.1f} ms",
                        f"{t_bundled / t_files:.1f}x", "< 100 ms", t_bundled < 0.1))
        merged = load_catalogue(cache)
        t_merge = best_time(lambda: load_catalogue(cache), 3 if quick else 5)
        rows.append(Row(f"catalogue: load_catalogue() bundled + 4 cached universes ({len(merged)} contracts)",
                        f"{t_merge * 1e3:.1f} ms", f"bundled alone {t_bundled * 1e3:.1f} ms",
                        f"{t_merge / t_bundled:.1f}x", "< 150 ms", t_merge < 0.15))

        portfolio = root / "portfolio.toml"
        portfolio.write_text(PORTFOLIO)
        adlwatch = str(Path(sys.executable).with_name("adlwatch"))
        check = [adlwatch, "check", "--offline", "--portfolio", str(portfolio), *MARKS]
        if not Path(adlwatch).exists():
            check = [sys.executable, "-m", "adlwatch", *check[1:]]
        # As installed: bytecode cached (this workplace sets PYTHONDONTWRITEBYTECODE; a user's install has .pyc).
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        env = {**base, "XDG_CACHE_HOME": str(root / "cache")}
        empty = {**base, "XDG_CACHE_HOME": str(root / "empty")}
        runs = 3 if quick else 9
        _median_run(check, env, 1)  # warm the file cache and write the bytecode
        _median_run(check, empty, 1)
        t_full = _median_run(check, env, runs)
        t_small = _median_run(check, empty, runs)
        t_pass = _median_run([sys.executable, "-c", "pass"], env, runs)
        rows.append(Row(f"catalogue: check --offline start-up, 3 positions, full catalogue ({len(merged)} contracts), "
                        f"median of {runs}", f"{t_full:.3f} s",
                        f"no cache {t_small:.3f} s; python -c pass {t_pass:.3f} s", f"{t_full / t_small:.2f}x",
                        f"<= {STARTUP_GOAL_S} s", t_full <= STARTUP_GOAL_S))
    return rows


if __name__ == "__main__":
    for row in bench_catalogue(quick="--quick" in sys.argv):
        print(" | ".join(row.cells()))
