"""The bundled demo recording: real Binance COIN-M data, replayed through the live parser."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from adlwatch.engine.events import InsuranceFund, MarkPrice, OpenInterest
from adlwatch.feeds import demo_build
from adlwatch.feeds.replay import load_replay

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tui" / "data" / "demo_recording.jsonl.gz"
SHARED = ROOT.parent / "shared" / "data"  # ../shared beside the checkout
CRASH = SHARED / "crash-2025-10-10"
needs_shared = pytest.mark.skipif(not CRASH.exists(), reason="shared crash data not present")


@pytest.fixture(scope="module")
def demo():
    return load_replay(DEMO)


def marks(data, symbol):
    return [e.price for e in data.events if isinstance(e, MarkPrice) and e.symbol == symbol]


def test_demo_is_a_small_raw_recording_of_binance_marks(demo):
    assert DEMO.stat().st_size < 3 * 1024 * 1024
    assert demo.format == "raw"
    # Beside the marks, only BTCUSDT's modelled fund and open interest (tests/tui/test_demo_fund_oi.py).
    figures = [e for e in demo.events if isinstance(e, (OpenInterest, InsuranceFund))]
    assert {(e.venue, e.symbol) for e in figures} == {("binance", demo_build.MODELLED_SYMBOL)}
    marks_only = [e for e in demo.events if not isinstance(e, (OpenInterest, InsuranceFund))]
    assert all(isinstance(e, MarkPrice) and e.venue == "binance" for e in marks_only)  # no parse errors
    expected = {"BTCUSD_PERP"} | {f"{s}USD_PERP" for s in demo_build.ALTS}
    assert {(e.venue, e.symbol) for e in marks_only} == {("binance", s) for s in expected}
    assert demo.symbols == {("binance", s) for s in expected | {demo_build.MODELLED_SYMBOL}}
    assert all(e.recv_ns == e.ts * 1_000_000 for e in demo.events)
    assert demo.start_ms >= demo_build.WINDOW_START_MS and demo.end_ms < demo_build.WINDOW_END_MS


@needs_shared
def test_btc_minimum_is_the_real_minimum_mark_kline_close_in_the_window(demo):
    with open(CRASH / "binance-coinm-BTCUSD_PERP-markprice-1m.csv", newline="") as file:
        closes = [(int(r["open_time"]), float(r["close"])) for r in csv.DictReader(file)]
    window = [c for t, c in closes if demo_build.WINDOW_START_MS <= t < demo_build.WINDOW_END_MS]
    assert len(window) == 120
    assert min(marks(demo, "BTCUSD_PERP")) == min(window) == 104559.8
    assert len(marks(demo, "BTCUSD_PERP")) == 120


@needs_shared
def test_aave_reaches_the_crash_low_neighbourhood(demo):
    with open(CRASH / "binance-coinm-AAVEUSD_PERP-trades-1s.csv", newline="") as file:
        last_prices = [float(r["price"]) for r in csv.DictReader(file)]
    aave = marks(demo, "AAVEUSD_PERP")
    assert min(aave) == min(last_prices)
    assert abs(min(aave) - 63.42) / 63.42 < 0.05  # 63.42 was the lowest trade; 65.63 the lowest last-of-second
    assert len(aave) == len(last_prices)


@needs_shared
def test_building_again_gives_the_same_bytes(tmp_path):
    out = tmp_path / "demo.jsonl.gz"
    demo_build.build(SHARED, out)
    assert out.read_bytes() == DEMO.read_bytes()
