"""The bundled Binance USDⓈ-M snapshot through the product as shipped: ``adlwatch check --offline``
accepts its contracts and prices their liquidation by Binance's LP1 formula.

LP1 (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93), one-way mode:

    LP = (WB − TMM1 + UPNL1 + cum_B − side × size × EP) / (size × MMR_B − side × size)

with the bracket B the one whose [floor, cap) holds the notional at LP. Here each position is
isolated (WB = its isolated wallet, TMM1 = UPNL1 = 0). The brackets are read from the bundled file
with plain gzip + json, and cum by its recurrence, not through the engine's loader.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from importlib import resources
from pathlib import Path

import pytest

from adlwatch.engine.instruments import bundled_table_files, decode_table, load_table
from adlwatch.feeds.venues.binance import bundle_build
from tests.cli.test_check_cli import run

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(__file__).resolve().parents[3] / "shared/data/venue-universe/binance/usdm_leverage_tiers_freqtrade-2026.9.json.gz"  # ../shared beside the checkout
BUNDLE = "binance_usdm.json.gz"


def bundled_brackets() -> dict[str, list[tuple[float, float, float, float]]]:
    """{symbol: [(floor, cap, mmr, max_leverage), …]} straight from the bundled file."""
    path = resources.files("adlwatch.engine") / "data" / "instruments" / BUNDLE
    doc = json.loads(gzip.decompress(path.read_bytes()))
    return {row["symbol"]: [tuple(t) for t in row["tiers"]] for row in doc["instruments"]}


def lp1(brackets: list[tuple[float, float, float, float]], side: int, size: float, entry: float,
        wallet: float) -> float:
    """Binance LP1 for one isolated position, trying each bracket until LP falls inside it."""
    cums, cum, prev = [], 0.0, None
    for floor, _cap, mmr, _lev in brackets:
        cum = cum if prev is None else cum + floor * (mmr - prev)
        cums.append(cum)
        prev = mmr
    for (floor, cap, mmr, _lev), cum in zip(brackets, cums, strict=True):
        lp = (wallet + cum - side * size * entry) / (size * mmr - side * size)
        if floor <= lp * size < cap:
            return lp
    raise AssertionError("no bracket holds the liquidation notional")


def portfolio(picks: list[tuple[str, int, float, float, float, float]]) -> str:
    lines = ['[[account]]', 'venue = "binance"', 'wallet_balance = 1000.0', '']
    for symbol, side, size, entry, leverage, margin in picks:
        lines += ['[[account.position]]', f'symbol = "{symbol}"', f'side = "{"long" if side > 0 else "short"}"',
                  f'size = {size!r}', f'entry_price = {entry!r}', f'leverage = {leverage!r}',
                  'margin_mode = "isolated"', f'isolated_margin = {margin!r}', '']
    return "\n".join(lines)


def test_check_offline_accepts_50_random_bundled_contracts_at_their_lp1(tmp_path):
    table = bundled_brackets()
    rng = random.Random(13)
    symbols = rng.sample(sorted(table), 50)
    picks, marks, expected = [], [], {}
    for symbol in symbols:
        brackets = table[symbol]
        usable = [b for b in brackets[:-1] if b[3] >= 4] or brackets[:1]
        floor, cap, _mmr, max_lev = rng.choice(usable)
        side = rng.choice((+1, -1))
        entry = round(rng.uniform(0.5, 2.0) * 10 ** rng.randint(-3, 4), 6)
        notional = floor + (cap - floor) * rng.uniform(0.2, 0.8)
        size = round(notional / entry, 6)
        leverage = float(max(1, int(max_lev) // 2))
        margin = round(size * entry / leverage, 6)
        picks.append((symbol, side, size, entry, leverage, margin))
        marks += ["--mark", f"{symbol}={entry * (1 + 0.01 * side)!r}"]
        expected[symbol] = lp1(brackets, side, size, entry, margin)
    path = tmp_path / "fifty.toml"
    path.write_text(portfolio(picks))
    result = run("check", "--portfolio", str(path), "--offline", "--json", *marks)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted(r["symbol"] for r in rows) == sorted(symbols)
    for row in rows:
        assert row["venue"] == "binance"
        assert row["liquidation_price"] == pytest.approx(expected[row["symbol"]], rel=1e-9), row["symbol"]


def test_btcusdt_has_the_current_table_not_the_2024_copy():
    btc = bundled_brackets()["BTCUSDT"]
    assert btc[:4] == [(0.0, 300_000.0, 0.004, 150.0), (300_000.0, 800_000.0, 0.005, 100.0),
                       (800_000.0, 3_000_000.0, 0.0065, 75.0), (3_000_000.0, 12_000_000.0, 0.01, 50.0)]


def test_a_contract_is_in_exactly_one_bundled_file():
    seen: dict[tuple[str, str], str] = {}
    for name, data in bundled_table_files():
        found = load_table(data.decode("utf-8")) if name.endswith(".toml") else decode_table(data, name)
        for inst in found:
            key = (inst.venue, inst.symbol)
            assert key not in seen, f"{key} in both {seen[key]} and {name}"
            seen[key] = name
    assert seen[("binance", "BTCUSDT")] == "binance_usdm.json"
    assert seen[("binance", "BTCUSD_PERP")] == "binance.toml"


def test_the_bundle_keeps_its_provenance():
    path = resources.files("adlwatch.engine") / "data" / "instruments" / BUNDLE
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["venue"] == "binance" and doc["as_of"] == "2026-06-26" and doc["verified"] is False
    assert "062a97a5cd1d01053e6da9e221ed1699e86c5d637cbb917886e64bc10b9e9977" in doc["source"]
    assert "2026-06-26..2026-09-25" in doc["notes"] and "cum was checked" in doc["notes"]
    assert len(doc["instruments"]) == 903  # 907 keys less the 4 dated quarterlies
    assert all(row["tick_size"] == 0.0 for row in doc["instruments"])  # unknown: no exchangeInfo in the capture


@pytest.mark.skipif(not SNAPSHOT.exists(), reason="the shared snapshot is not on this machine")
def test_the_build_reproduces_the_bundled_bytes(tmp_path):
    out = tmp_path / BUNDLE
    assert bundle_build.main([str(SNAPSHOT), str(out)]) == 0
    shipped = resources.files("adlwatch.engine") / "data" / "instruments" / BUNDLE
    assert out.read_bytes() == shipped.read_bytes()


@pytest.mark.parametrize(("unified", "symbol"), [
    ("BTC/USDT:USDT", "BTCUSDT"), ("BTC/USDC:USDC", "BTCUSDC"), ("1000PEPE/USDC:USDC", "1000PEPEUSDC"),
    ("BTC/USD1:USD1", "BTCUSD1"), ("ETH/BTC:BTC", "ETHBTC"), ("BTC/U:U", "BTCU"),
    ("BTC/USDT:USDT-260925", None),
])
def test_symbol_mapping(unified, symbol):
    assert bundle_build.binance_symbol(unified) == symbol


def test_the_build_refuses_a_cum_that_breaks_the_recurrence():
    info = [{"bracket": 1, "initialLeverage": 50, "notionalFloor": 0, "notionalCap": 10, "maintMarginRatio": 0.01,
             "cum": 0.0},
            {"bracket": 2, "initialLeverage": 25, "notionalFloor": 10, "notionalCap": 20, "maintMarginRatio": 0.02,
             "cum": 0.2}]
    with pytest.raises(ValueError, match="cum"):
        bundle_build.build(json.dumps({"X/USDT:USDT": [{"info": b} for b in info]}).encode())
    info[1]["cum"] = 0.1
    table = bundle_build.build(json.dumps({"X/USDT:USDT": [{"info": b} for b in info]}).encode())
    assert table.instruments[0].tiers == [(0.0, 10.0, 0.01, 50.0), (10.0, 20.0, 0.02, 25.0)]
    assert math.isfinite(table.instruments[0].tiers[-1][1])


# ---------------------------------------------------------------------------- the FAQ's worked examples
# Binance FAQ b3c689c1f50a44cabb3a84e663b81d93 (exchanges.md §7 B1, B3), through `check` as shipped.

B3 = """
[[account]]
venue = "binance"
wallet_balance = 0.0

[[account.position]]
symbol = "BTCUSDT"
side = "{side}"
size = 1.0
entry_price = 84000.0
leverage = 10
margin_mode = "isolated"
isolated_margin = 8400.0
"""


@pytest.mark.parametrize(("side", "expected"), [("long", 75_903.61), ("short", 92_031.87)])
def test_b3_isolated_example_with_the_shipped_btcusdt_table(tmp_path, side, expected):
    # The example's bracket (MMR 0.4 %, cum 0) is today's BTCUSDT bracket 1 (0-300k), and the
    # notional at either liquidation price (76k-92k) lies in it: no override needed.
    path = tmp_path / "b3.toml"
    path.write_text(B3.format(side=side))
    result = run("check", "--portfolio", str(path), "--offline", "--json", "--mark", "BTCUSDT=84000")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["liquidation_price"] == pytest.approx(expected, abs=0.01)


B1 = """
[[account]]
venue = "binance"
wallet_balance = {constant!r}

[[account.position]]
symbol = "ETHUSDT"
side = "long"
size = 3683.979
entry_price = 1456.84
leverage = 10
margin_mode = "cross"
mmr = 0.10
maint_amount = 135365.0
"""


def test_b1_cross_example_with_the_pages_own_bracket(tmp_path):
    # The page's example sits in a bracket of MMR 10 %, cum 135,365 (its own table, not today's
    # ETHUSDT brackets), so the bracket is given the way a user would: the position's mmr and
    # maint_amount. WB − TMM1 + UPNL1 (the margin that does not move with ETHUSDT) is the wallet.
    constant = 1_535_443.01 - 71_200.81144 + (-56_354.57)
    path = tmp_path / "b1.toml"
    path.write_text(B1.format(constant=constant))
    result = run("check", "--portfolio", str(path), "--offline", "--json", "--mark", "ETHUSDT=1456.84")
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["liquidation_price"] == pytest.approx(1_153.2565, abs=0.01)
