"""``adlwatch check`` following one OKX key twice: the default (USDT) account and its BTC account
(``settle = "BTC"``). Each position is counted once, under the account of its margin currency; one
in a currency no entry follows (USDC) is named in a warning, never dropped silently."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from adlwatch.feeds.emulator_base import EmuPosition
from adlwatch.tui.check import EXIT_OK, run_check
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)
from tests.feeds.private_fixtures import SECRETS, env_for, private  # noqa: F401  (fixtures)

BOTH = """
[[account]]
venue = "okx"
key_name = "main"

[[account]]
venue = "okx"
key_name = "main"
settle = "BTC"
"""

MARKS = ["BTC-USDT-SWAP=62000", "ETH-USDT-SWAP=3100", "BTC-USD-SWAP=61000", "BTC-USDC-SWAP=62000"]


async def check(tmp_path, monkeypatch, private, text: str):  # noqa: F811
    path = tmp_path / "p.toml"
    path.write_text(text)
    for name, value in env_for("okx").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADLWATCH_OKX_REST_URL", private.emu.rest_url("okx"))
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run_check, path, MARKS, None, False, True, None, out=out, err=err)
    return code, json.loads(out.getvalue()) if out.getvalue().strip() else [], err.getvalue()


def key_account(private):  # noqa: F811
    held = private.account("okx")
    held.wallets["BTC"] = 0.75
    held.positions.append(EmuPosition("BTC-USDC-SWAP", "short", 0.1, 63_000.0, 62_000.0, 5.0, settle="USDC"))
    return held


async def test_one_okx_key_followed_in_usdt_and_in_btc_counts_each_position_once(tmp_path, monkeypatch, private):  # noqa: F811
    key_account(private)
    code, rows, err = await check(tmp_path, monkeypatch, private, BOTH)
    assert code == EXIT_OK, err
    symbols = [r["symbol"] for r in rows]
    assert sorted(symbols) == ["BTC-USD-SWAP", "BTC-USDT-SWAP", "ETH-USDT-SWAP"]  # none twice, none lost
    by_symbol = {r["symbol"]: r for r in rows}
    inverse = by_symbol["BTC-USD-SWAP"]
    assert inverse["settle"] == "BTC" and inverse["kind"] == "inverse" and inverse["imported"] is True
    assert inverse["size"] == 30.0  # contracts
    assert by_symbol["BTC-USDT-SWAP"]["settle"] == "USDT" and by_symbol["ETH-USDT-SWAP"]["settle"] == "USDT"
    assert inverse["account"] != by_symbol["BTC-USDT-SWAP"]["account"]
    # the BTC account's cross collateral is the BTC wallet (the emulator's key: 0.75 BTC), so the long's
    # margin balance is in BTC: 0.75 + its uPnL, 30 × 100 × (1/60000 − 1/61000)
    upl = 30 * 100 * (1 / 60_000 - 1 / 61_000)
    assert inverse["unrealized_pnl"] == pytest.approx(upl, rel=1e-6)
    assert inverse["margin_balance"] == pytest.approx(0.75 + upl, rel=1e-6)
    usdt = by_symbol["BTC-USDT-SWAP"]
    assert usdt["margin_balance"] == pytest.approx(20_000.0 + 0.5 * 2_000.0, rel=1e-6)
    # the USDC position no entry follows is named (by both entries), the followed ones are not lost
    assert "BTC-USDC-SWAP" in err
    for secret in SECRETS["okx"]:
        assert secret not in err


async def test_the_btc_account_alone_reads_the_btc_balance_and_only_btc_margined_positions(tmp_path, monkeypatch, private):  # noqa: F811
    key_account(private)
    only_btc = BOTH.split("[[account]]")[2]
    code, rows, err = await check(tmp_path, monkeypatch, private, "[[account]]" + only_btc)
    assert code == EXIT_OK, err
    assert [r["symbol"] for r in rows] == ["BTC-USD-SWAP"]
    for symbol in ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "BTC-USDC-SWAP"):
        assert symbol in err  # margined in another currency: named, not shown
    balance_reads = [r.query for r in private.endpoints.private("okx") if r.path == "/api/v5/account/balance"]
    assert balance_reads and all(q == "ccy=BTC" for q in balance_reads)
