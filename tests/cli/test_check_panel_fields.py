"""Issue 15 item 1: ``check --json`` carries the panel's figures (``roe_pct, notional_usd,
position_margin, break_even_price``, and ``unrealized_pnl_usd``) after the existing fields."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adlwatch.engine.instruments import default_catalogue
from adlwatch.tui.check import CONTRACT_FIELDS, EXTRA_FIELDS
from tests.portfolio_files import BINANCE_BTC_LONG, ETH_ISOLATED_SHORT

ADLWATCH = shutil.which("adlwatch", path=str(Path(sys.executable).parent)) or "adlwatch"
PANEL = ("roe_pct", "notional_usd", "position_margin", "break_even_price", "unrealized_pnl_usd")

PORTFOLIO = BINANCE_BTC_LONG + ETH_ISOLATED_SHORT + """\

[[account]]
venue = "binance"
wallet_balance = 1.0

[[account.position]]
symbol = "BTCUSD_PERP"
side = "short"
size = 100
entry_price = 50000.0
leverage = 5
margin_mode = "cross"
"""


def test_panel_fields_follow_the_existing_ones():
    fields = CONTRACT_FIELDS + EXTRA_FIELDS
    assert fields[-len(PANEL):] == PANEL
    assert fields.index("tiers_stale") < fields.index("roe_pct")


def test_check_json_panel_figures(tmp_path):
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    out = subprocess.run(
        [ADLWATCH, "check", "--offline", "--json", "--portfolio", str(path),
         "--mark", "BTCUSDT=61000", "--mark", "ETHUSDT=2900", "--mark", "BTCUSD_PERP=40000"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode in (0, 3), out.stderr
    rows = {r["symbol"]: r for r in json.loads(out.stdout)}
    keys = list(rows["BTCUSDT"])
    assert keys[-len(PANEL):] == list(PANEL)  # appended: the contract's order is unchanged
    cat = default_catalogue()

    btc = rows["BTCUSDT"]  # cross long: initial margin 30 000 / 10 = 3 000; uPnL 500
    f = cat.get("binance", "BTCUSDT").taker_fee
    assert btc["position_margin"] == pytest.approx(3_000.0)
    assert btc["roe_pct"] == pytest.approx(500.0 / 3_000.0 * 100.0)
    assert btc["notional_usd"] == pytest.approx(30_500.0)
    assert btc["unrealized_pnl_usd"] == pytest.approx(500.0)
    assert btc["break_even_price"] == pytest.approx(60_000.0 * (1 + f) / (1 - f))

    eth = rows["ETHUSDT"]  # isolated short, margin 2 500; uPnL 4 × 100 = 400
    f = cat.get("binance", "ETHUSDT").taker_fee
    assert eth["position_margin"] == pytest.approx(2_900.0)
    assert eth["roe_pct"] == pytest.approx(16.0)
    assert eth["break_even_price"] == pytest.approx(3_000.0 * (1 - f) / (1 + f))

    inv = rows["BTCUSD_PERP"]  # 100 contracts × $100 face, short at 50 000, 5× cross
    f = cat.get("binance", "BTCUSD_PERP").taker_fee
    face = cat.get("binance", "BTCUSD_PERP").contract_size
    upnl = 100 * face * (1 / 40_000 - 1 / 50_000)  # 0.05 BTC
    initial = 100 * face / 50_000 / 5  # 0.04 BTC
    assert inv["unrealized_pnl"] == pytest.approx(upnl)
    assert inv["notional_usd"] == pytest.approx(100 * face)
    assert inv["unrealized_pnl_usd"] == pytest.approx(upnl * 40_000)
    assert inv["position_margin"] == pytest.approx(initial)
    assert inv["roe_pct"] == pytest.approx(upnl / initial * 100.0)
    assert inv["break_even_price"] == pytest.approx(50_000.0 * (1 - f) / (1 + f))
