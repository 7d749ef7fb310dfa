"""Build the bundled demo recording from the project's real crash data (10 Oct 2025).

    python -m feeds.demo_build SHARED_DATA_DIR OUT_PATH

``SHARED_DATA_DIR`` is ``shared/data`` (or its ``crash-2025-10-10`` folder). The output is a raw-frame
recording (gzip JSON lines, DESIGN.md "Raw-frame recording") of Binance COIN-M ``markPriceUpdate``
frames, so the demo replays through the same parser as the live feed:

- ``BTCUSD_PERP``: the original Binance Vision mark-price kline lines (``raw/BTCUSD_PERP-1m-…csv``)
  with open_time in [20:30, 22:30) UTC; one frame per kline at its close_time with the close price.
- 12 alt perps: the per-second last-trade series ``binance-coinm-<SYM>USD_PERP-trades-1s.csv``
  (20:40–22:20), one frame per row at ``ts_ms`` with ``price``. These are LAST-TRADE prices, not marks.

Prices are copied as the source's strings; ``recv_ns = ts_ms × 1 000 000``. Frames are merged in time
order (ties: BTC first, then the alts alphabetically, each in file order). The gzip header carries no
name or time, so the same inputs always give the same bytes. tui/data/PROVENANCE.md describes the result.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import json
import sys
from pathlib import Path

from adlwatch.feeds.recorder import encode_line
from adlwatch.feeds.venues.binance.market import VENUE  # the demo is Binance's crash

CRASH_DIR = "crash-2025-10-10"
BTC_KLINES = "raw/BTCUSD_PERP-1m-2025-10-10.2000-2300.csv"
BTC_DERIVED = "binance-coinm-BTCUSD_PERP-markprice-1m.csv"
BTC_SYMBOL = "BTCUSD_PERP"
ALTS = ("AAVE", "ATOM", "AVAX", "BCH", "DOT", "ETC", "FIL", "TRX", "UNI", "WIF", "WLD", "XLM")
ALT_FILE = "binance-coinm-{symbol}-trades-1s.csv"

WINDOW_START_MS = 1760128200000  # 2025-10-10 20:30:00 UTC (kline open_time, inclusive)
WINDOW_END_MS = 1760135400000  # 2025-10-10 22:30:00 UTC (exclusive)


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
    series = [(BTC_SYMBOL, btc_rows(crash))]
    series += [(f"{sym}USD_PERP", alt_rows(crash, f"{sym}USD_PERP")) for sym in ALTS]
    keyed = [[(ts, rank, i, symbol, price) for i, (ts, price) in enumerate(rows)]
             for rank, (symbol, rows) in enumerate(series)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    frames = 0
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                               compresslevel=9) as gz:
        for ts, _, _, symbol, price in heapq.merge(*keyed):
            gz.write(encode_line(ts * 1_000_000, VENUE, mark_frame(symbol, ts, price)))
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
