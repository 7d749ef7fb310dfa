"""Build the bundled Binance USDⓈ-M table from a third-party capture of the signed bracket endpoint.

    python -m adlwatch.feeds.venues.binance.bundle_build SRC OUT

``SRC`` is ``shared/data/venue-universe/binance/usdm_leverage_tiers_freqtrade-2026.9.json.gz`` (or
the same JSON uncompressed): Binance ``GET /fapi/v1/leverageBracket`` for every USDⓈ-M contract as
returned through ccxt and kept by freqtrade (the README beside it gives its origin). ``OUT`` is
``engine/data/instruments/binance_usdm.json.gz``, the project's own table format
(``adlwatch.engine.instruments.TableFile``), gzip without name or time so the same input always gives
the same bytes.

Only the venue's numbers are taken: per bracket ``notionalFloor``, ``notionalCap``,
``maintMarginRatio``, ``initialLeverage`` (the raw Binance row under ``info``). ``cum`` is not
stored: the engine derives it by the documented recurrence, and this build refuses an input whose
``cum`` disagrees with it. Dated quarterlies (``BTC/USDT:USDT-260925``) are left out: the engine
models perpetuals only (no delivery). Symbols: ccxt ``BASE/QUOTE:SETTLE`` → Binance ``BASEQUOTE``
(``BTC/USDT:USDT`` → ``BTCUSDT``, ``BTC/USDC:USDC`` → ``BTCUSDC``, ``BTC/USD1:USD1`` → ``BTCUSD1``,
``ETH/BTC:BTC`` → ``ETHBTC``, ``BTC/U:U`` → ``BTCU``; the last one UNCONFIRMED: the capture gives only
ccxt's unified name, and Binance's id for the ``U``-margined pair is assumed to follow the same rule).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import sys
from pathlib import Path

from adlwatch.engine.instruments import TableFile, TableRow, encode_table

VENUE = "binance"
AS_OF = "2026-06-26"  # the capture window's earliest bound (it lists the -260925 quarterly, not -260626)
CAPTURE_WINDOW = "2026-06-26..2026-09-25"
WHEEL = "freqtrade-2026.9-py3-none-any.whl"
WHEEL_SHA256 = "3cc4432381b83ec35000bff6b76f494fa3ec7d1681c7a45c04667dc063789fac"
MEMBER = "freqtrade/exchange/binance_leverage_tiers.json"
TAKER_FEE = 0.0005  # Regular (VIP0) USDⓈ-M taker, as in binance.toml (USDC-margined contracts may be lower)
TICK_SIZE_UNKNOWN = 0.0  # the capture has no exchangeInfo; nothing in adlwatch computes with tick_size


def binance_symbol(unified: str) -> str | None:
    """The Binance id of a ccxt unified perpetual symbol; None for a dated contract."""
    pair, _, settle_part = unified.partition(":")
    if "-" in settle_part:
        return None  # BTC/USDT:USDT-260925: a quarterly
    base, _, quote = pair.partition("/")
    if not base or not quote or settle_part != quote:
        raise ValueError(f"unexpected symbol {unified!r}")
    return base + quote


def _rows(unified: str, tiers: list[dict]) -> list[tuple[float, float, float, float]]:
    raw = sorted((t["info"] for t in tiers), key=lambda b: b["bracket"])
    rows: list[tuple[float, float, float, float]] = []
    cum = 0.0
    prev_mmr = None
    for b in raw:
        floor, cap, mmr, lev = (float(b["notionalFloor"]), float(b["notionalCap"]),
                                float(b["maintMarginRatio"]), float(b["initialLeverage"]))
        if prev_mmr is not None:
            cum += floor * (mmr - prev_mmr)
        if not math.isclose(cum, float(b["cum"]), rel_tol=1e-9, abs_tol=1e-6):
            raise ValueError(f"{unified} bracket {b['bracket']}: cum {b['cum']} != recurrence {cum}")
        rows.append((floor, cap, mmr, lev))
        prev_mmr = mmr
    return rows


def build(raw: bytes) -> TableFile:
    """The table of every perpetual in the capture (``raw``: the uncompressed JSON)."""
    data = json.loads(raw)
    digest = hashlib.sha256(raw).hexdigest()
    instruments: list[TableRow] = []
    skipped: list[str] = []
    for unified in sorted(data):
        symbol = binance_symbol(unified)
        if symbol is None:
            skipped.append(unified)
            continue
        base, quote = unified.partition(":")[0].split("/")
        instruments.append(TableRow(symbol=symbol, kind="linear", base=base, quote=quote, settle=quote,
                                    contract_size=1.0, tick_size=TICK_SIZE_UNKNOWN, tier_basis="notional",
                                    tiers=_rows(unified, data[unified])))
    instruments.sort(key=lambda r: r.symbol)
    notes = (f"Binance USDS-M brackets (GET /fapi/v1/leverageBracket, signed) for {len(instruments)} perpetuals, "
             f"captured by a third party (freqtrade via ccxt) between {CAPTURE_WINDOW}, so verified=false and "
             f"as_of is the window's earliest bound. Only the numbers are taken (floor, cap, maintMarginRatio, "
             f"initialLeverage); cum was checked against amount_n = floor_n*(mmr_n - mmr_(n-1)) + amount_(n-1) for "
             f"every bracket (exact). Left out: the dated quarterlies {', '.join(skipped)} (adlwatch models "
             f"perpetuals only). The wheel's sha256: {WHEEL_SHA256}. Default (non-adjusted) brackets; contracts listed after the capture are missing "
             f"and ones delisted since are still here (no status in the capture). tick_size 0 means unknown "
             f"(the capture has no exchangeInfo; nothing computes with it). taker_fee is the VIP0 USDS-M rate.")
    return TableFile(venue=VENUE, source=f"{MEMBER} in PyPI {WHEEL}, sha256 {digest}",
                     as_of=AS_OF, verified=False, taker_fee=TAKER_FEE, instruments=instruments, notes=notes)


def read_source(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m adlwatch.feeds.venues.binance.bundle_build SRC OUT", file=sys.stderr)
        return 2
    table = build(read_source(Path(argv[0])))
    Path(argv[1]).write_bytes(gzip.compress(encode_table(table), compresslevel=9, mtime=0))
    print(f"{argv[1]}: {len(table.instruments)} binance perpetuals, as_of {table.as_of}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
