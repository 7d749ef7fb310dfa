"""Build the bundled demo recording from the project's real crash data (10 Oct 2025).

    python -m feeds.demo_build SHARED_DATA_DIR OUT_PATH

``SHARED_DATA_DIR`` is ``shared/data`` (or its ``crash-2025-10-10`` folder). The output is a raw-frame
recording (gzip JSON lines, DESIGN.md "Raw-frame recording") of Binance COIN-M ``markPriceUpdate``
frames and Binance REST bodies, so the demo replays through the same parser as the live feed:

- ``BTCUSD_PERP``: the original Binance Vision mark-price kline lines (``raw/BTCUSD_PERP-1m-…csv``)
  with open_time in [20:30, 22:30) UTC; one frame per kline at its close_time with the close price.
- 12 alt perps: the per-second last-trade series ``binance-coinm-<SYM>USD_PERP-trades-1s.csv``
  (20:40–22:20), one frame per row at ``ts_ms`` with ``price``. These are LAST-TRADE prices, not marks.
- ``BTCUSDT`` insurance fund and open interest, MODELLED (no recording of either exists for the night):
  every 5 minutes from 20:30 to 22:25 UTC, the REST bodies a live recording holds
  (``/fapi/v1/openInterest`` and ``/fapi/v1/insuranceBalance``). Their endpoints are the documented
  figures of the night (fund $1.23B → $1.04B, Binance BTC futures open interest $16B → $12B); the path
  between them is the cascade model's (``modelled_fund_oi``) over the real BTCUSD_PERP mark path.

Prices are copied as the source's strings; ``recv_ns = ts_ms × 1 000 000``. Frames are merged in time
order (ties: BTC first, then the alts alphabetically, each in file order, then open interest, then the
fund). The gzip header carries no name or time, so the same inputs always give the same bytes.
tui/data/PROVENANCE.md describes the result.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import heapq
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adlwatch.engine.cascade import DEFAULT_DEPTH_USD_PER_PCT, CascadeParams, run_cascade
from adlwatch.engine.instruments import Instrument, default_catalogue
from adlwatch.engine.population import PopulationParams, build_population
from adlwatch.feeds.recorder import encode_line
from adlwatch.feeds.venues.binance.market import (  # the demo is Binance's crash
    INSURANCE_PATH,
    OPEN_INTEREST_PATH,
    VENUE,
)

CRASH_DIR = "crash-2025-10-10"
BTC_KLINES = "raw/BTCUSD_PERP-1m-2025-10-10.2000-2300.csv"
BTC_DERIVED = "binance-coinm-BTCUSD_PERP-markprice-1m.csv"
BTC_SYMBOL = "BTCUSD_PERP"
ALTS = ("AAVE", "ATOM", "AVAX", "BCH", "DOT", "ETC", "FIL", "TRX", "UNI", "WIF", "WLD", "XLM")
ALT_FILE = "binance-coinm-{symbol}-trades-1s.csv"

WINDOW_START_MS = 1760128200000  # 2025-10-10 20:30:00 UTC (kline open_time, inclusive)
WINDOW_END_MS = 1760135400000  # 2025-10-10 22:30:00 UTC (exclusive)

# --- the modelled insurance fund and open interest of BTCUSDT -------------------------------------
# The documented figures of the night (research/adl_literature.md §0 and §3; PROVENANCE.md quotes
# them with their sources): Binance's shared USDⓈ-M insurance fund $1.23B → $1.04B, Binance's BTC
# futures open interest $16B → $12B. Neither source gives times: the path starts at the window's
# start and ends at its last 5-minute row.
MODELLED_SYMBOL = "BTCUSDT"
FUND_ASSET = "USDT"
FUND_START_USD = 1_230_000_000.0
FUND_END_USD = 1_040_000_000.0
OPEN_INTEREST_START_USD = 16_000_000_000.0
OPEN_INTEREST_END_USD = 12_000_000_000.0
FIGURES_EVERY_MS = 300_000  # Binance Vision's metrics cadence (5 minutes); the live fund poll's too
FIGURES_START_MS = WINDOW_START_MS  # 20:30:00
FIGURES_END_MS = 1760135100000  # 22:25:00, the last 5-minute row before the window's last mark
# The cascade model's assumptions (engine/population.py, engine/cascade.py): today's defaults,
# spelled out so that a change of the engine's defaults does not silently change the demo's path.
MODEL_POPULATION = PopulationParams(
    positions_per_side=20_000, size_sigma=1.6, entry_sigma=0.04, entry_drift=0.0, long_leverage_median=8.0,
    short_leverage_median=8.0, leverage_sigma=0.7, calibration="parametric", winning_side=-1,
    size_leverage_correlation=-0.5, seed=7)
MODEL_CASCADE = CascadeParams(  # the queue, and Binance BTCUSDT's own book depth: 1 % per $110M
    fund_usd=FUND_START_USD, policy="queue", impact_per_usd=0.01 / DEFAULT_DEPTH_USD_PER_PCT,
    adl_impact_share=0.5, permanent_impact_share=0.1, max_rounds=50)


@dataclass(frozen=True, slots=True)
class FundOiPoint:
    ts_ms: int
    open_interest: float  # one side, base units (BTC), as Binance's openInterest body gives it
    fund_usd: float


def figure_times() -> list[int]:
    return list(range(FIGURES_START_MS, FIGURES_END_MS + 1, FIGURES_EVERY_MS))


def modelled_fund_oi(marks: Sequence[tuple[int, float]], times_ms: Sequence[int], instrument: Instrument, *,
                     population: PopulationParams = MODEL_POPULATION,
                     cascade: CascadeParams = MODEL_CASCADE) -> list[FundOiPoint]:
    """The fund and open interest at each of ``times_ms``, as the cascade model moves them over the
    real mark path ``marks`` ((ts_ms, price) in time order), scaled to the documented endpoints.

    A population sized to the starting open interest ($16B at the first mark) runs the marks up to
    the last time. Open interest falls by the base units the model closes (liquidated and ADL'd),
    the fund by what the model draws from it (the bankruptcy gaps it covers); each path is then
    scaled by one factor so that it ends at the documented figure ($12B at the mark of the last time;
    $1.04B). Both only fall, and never past their end. (The model's inflows, the surplus liquidations
    leave, are left out: the documented fall is net of whatever came in, and a scaled net path could
    swing far past its ends when inflows nearly match the draws.) The figure at a time is the
    model's after the last mark at or before it. ``population`` / ``cascade``: the model's
    assumptions (the demo's: the module's ``MODEL_*``).
    """
    path = [(ts, price) for ts, price in marks if ts <= times_ms[-1]]
    if not path:
        raise ValueError("no mark at or before the last time")
    prices = [price for _, price in path]
    start_units = OPEN_INTEREST_START_USD / prices[0]
    end_units = OPEN_INTEREST_END_USD / prices[-1]
    result = run_cascade(build_population(instrument, prices[0], start_units, population), prices, cascade)
    closed, drawn = [0.0], [0.0]  # cumulative, after each mark; [0]: before the first
    for step in result.steps:
        closed.append(closed[-1] + sum((r.liquidated_notional_usd + r.adl_notional_usd) / r.price for r in step.rounds))
        drawn.append(drawn[-1] + step.total("fund_draw_usd"))
    if not (closed[-1] > 0 and drawn[-1] > 0 and start_units > end_units):
        raise ValueError("the model closes nothing or draws nothing: no path to scale")
    oi_scale = (start_units - end_units) / closed[-1]
    fund_scale = (FUND_START_USD - FUND_END_USD) / drawn[-1]
    stamps = [ts for ts, _ in path]
    out = []
    for t in times_ms:
        after = bisect.bisect_right(stamps, t)  # marks at or before t: the model's state after them
        out.append(FundOiPoint(t, start_units - oi_scale * closed[after], FUND_START_USD - fund_scale * drawn[after]))
    return out


def open_interest_body(symbol: str, ts_ms: int, open_interest: float) -> str:
    """A ``GET /fapi/v1/openInterest`` body (Open-Interest page): base units, 3 decimals as BTCUSDT's."""
    return json.dumps({"openInterest": f"{open_interest:.3f}", "symbol": symbol, "time": ts_ms},
                      separators=(",", ":"))


def insurance_body(symbols: list[str], asset: str, ts_ms: int, balance: float) -> str:
    """A ``GET /fapi/v1/insuranceBalance?symbol=`` body (Insurance-Fund-Balance page), one asset."""
    return json.dumps({"symbols": symbols, "assets": [{"asset": asset, "marginBalance": f"{round(balance, 2):.6f}",
                                                        "updateTime": ts_ms}]}, separators=(",", ":"))


def mark_frame(symbol: str, ts_ms: int, price: str) -> str:
    """A Binance COIN-M ``markPriceUpdate`` with only the mark: index, settle price and funding empty."""
    return json.dumps({"e": "markPriceUpdate", "E": ts_ms, "s": symbol, "p": price, "i": "", "P": "",
                       "r": "", "T": 0}, separators=(",", ":"))


def crash_dir(shared: Path) -> Path:
    return shared if (shared / BTC_DERIVED).exists() else shared / CRASH_DIR


def btc_rows(crash: Path) -> list[tuple[int, str]]:
    """``(close_time_ms, close)`` of the BTCUSD_PERP mark-price klines opening in the window."""
    rows = []
    with open(crash / BTC_KLINES, newline="") as file:
        for row in csv.DictReader(file):
            if WINDOW_START_MS <= int(row["open_time"]) < WINDOW_END_MS:
                rows.append((int(row["close_time"]), row["close"]))
    # The excerpt and the full-day file come from the same Binance Vision zip: they must agree.
    with open(crash / BTC_DERIVED, newline="") as file:
        derived = {int(r["ts_ms"]): r["close"] for r in csv.DictReader(file)}
    for ts, close in rows:
        if float(derived[ts]) != float(close):
            raise SystemExit(f"{BTC_KLINES} and {BTC_DERIVED} disagree at {ts}: {close} vs {derived[ts]}")
    if len(rows) != (WINDOW_END_MS - WINDOW_START_MS) // 60_000:
        raise SystemExit(f"expected one kline per minute of the window, found {len(rows)}")
    return rows


def alt_rows(crash: Path, symbol: str) -> list[tuple[int, str]]:
    with open(crash / ALT_FILE.format(symbol=symbol), newline="") as file:
        return [(int(r["ts_ms"]), r["price"]) for r in csv.DictReader(file)]


def build(shared: str | Path, out: str | Path) -> int:
    """Writes the recording; returns the number of frames."""
    crash = crash_dir(Path(shared))
    btc = btc_rows(crash)
    series = [(BTC_SYMBOL, btc)]
    series += [(f"{sym}USD_PERP", alt_rows(crash, f"{sym}USD_PERP")) for sym in ALTS]
    keyed = [[(ts, rank, i, encode_line(ts * 1_000_000, VENUE, mark_frame(symbol, ts, price)))
              for i, (ts, price) in enumerate(rows)]
             for rank, (symbol, rows) in enumerate(series)]
    instrument = default_catalogue().get(VENUE, MODELLED_SYMBOL)
    points = modelled_fund_oi([(ts, float(price)) for ts, price in btc], figure_times(), instrument)
    rank = len(series)
    keyed.append([(p.ts_ms, rank, i, encode_line(p.ts_ms * 1_000_000, VENUE, open_interest_body(
        MODELLED_SYMBOL, p.ts_ms, p.open_interest), rest=OPEN_INTEREST_PATH)) for i, p in enumerate(points)])
    keyed.append([(p.ts_ms, rank + 1, i, encode_line(p.ts_ms * 1_000_000, VENUE, insurance_body(
        [MODELLED_SYMBOL], FUND_ASSET, p.ts_ms, p.fund_usd), rest=INSURANCE_PATH)) for i, p in enumerate(points)])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    frames = 0
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                               compresslevel=9) as gz:
        for _, _, _, line in heapq.merge(*keyed):
            gz.write(line)
            frames += 1
    tmp.replace(out)
    return frames


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m feeds.demo_build SHARED_DATA_DIR OUT_PATH", file=sys.stderr)
        return 2
    frames = build(args[0], args[1])
    print(f"{args[1]}: {frames} frames, {Path(args[1]).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
