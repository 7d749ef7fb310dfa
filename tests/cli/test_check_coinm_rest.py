"""``adlwatch check`` on a manual Binance COIN-M position without ``--mark``: its mark and funding come
from the COIN-M host's premiumIndex (``/dapi``), never from fapi (ADLWATCH_BINANCE_REST_URL at the
loopback emulator, which serves both markets under one base)."""

from __future__ import annotations

import asyncio
import io
import json

from adlwatch.tui.check import EXIT_OK, run_check
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)

COIN_M = """
[[account]]
venue = "binance"                 # COIN-M, margined and settled in BTC
wallet_balance = 0.06

[[account.position]]
symbol = "BTCUSD_PERP"
side = "short"
size = 400.0
entry_price = 62000.0
leverage = 10
margin_mode = "cross"
"""


async def check(tmp_path, monkeypatch, emulator, text: str, marks: list[str]) -> tuple[int, str, str]:  # noqa: F811
    path = tmp_path / "p.toml"
    path.write_text(text)
    monkeypatch.setenv("ADLWATCH_BINANCE_REST_URL", emulator.rest_url("binance"))
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run_check, path, marks, None, False, True, None, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_check_fetches_a_coin_m_positions_mark_and_funding_from_dapi(tmp_path, monkeypatch, emulator):  # noqa: F811
    code, out, err = await check(tmp_path, monkeypatch, emulator, COIN_M, [])
    assert code == EXIT_OK, err
    [row] = json.loads(out)
    assert row["symbol"] == "BTCUSD_PERP"
    assert row["mark_price"] == emulator.prices.current("binance", "BTCUSD_PERP")
    assert row["funding_rate"] == 0.0001 and row["next_funding_ms"] > 0
    assert row["liquidation_price"] is not None
    binance = [path for venue, path, _status in emulator.rest_requests if venue == "binance"]
    assert "/dapi/v1/premiumIndex" in binance
    # fapi is asked nothing about the contract (its exchangeInfo, the USDⓈ-M listing, is not a poll of it)
    assert not [path for path in binance if path.startswith("/fapi/") and path != "/fapi/v1/exchangeInfo"], binance


async def test_check_asks_each_market_for_its_own_contracts(tmp_path, monkeypatch, emulator):  # noqa: F811
    both = COIN_M + """
[[account]]
venue = "binance"
wallet_balance = 8000.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.1
entry_price = 60000.0
leverage = 10
"""
    code, out, err = await check(tmp_path, monkeypatch, emulator, both, [])
    assert code == EXIT_OK, err
    rows = {row["symbol"]: row for row in json.loads(out)}
    assert rows["BTCUSD_PERP"]["mark_price"] > 0 and rows["BTCUSDT"]["mark_price"] > 0
    binance = [path for venue, path, _status in emulator.rest_requests if venue == "binance"]
    assert binance.count("/dapi/v1/premiumIndex") == 1 and binance.count("/fapi/v1/premiumIndex") == 1
