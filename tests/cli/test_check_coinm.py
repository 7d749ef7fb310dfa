"""``adlwatch check`` on a portfolio that follows one Binance key's USDT (USDⓈ-M) and BTC (COIN-M)
accounts: each account's positions under its own settlement asset, the COIN-M position in contracts
and its figures in BTC, adlwatch's liquidation price as Binance's COIN-M formula gives it by hand
(the venue's beside it), a quarterly held in the BTC account, and the key never printed or logged."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from adlwatch.tui.check import EXIT_FAILURE, EXIT_OK, run_check
from tests.cli.keyed_check import check_keyed
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)
from tests.feeds.private_fixtures import (  # noqa: F401  (fixtures)
    COINM_BRACKETS,
    COINM_FACE,
    COINM_WALLET,
    SECRETS,
    coinm_liquidation_price,
    env_for,
    private,
    with_coinm,
)

BOTH = """
[[account]]
venue = "binance"
key_name = "main"

[[account]]
venue = "binance"
key_name = "main"
settle = "BTC"
"""

MARKS = ["BTCUSDT=61000", "ETHUSDT=2900", "binance:BTCUSD_PERP=61000"]


async def check(tmp_path, monkeypatch, emulator, marks: list[str], as_json: bool,  # noqa: F811
                env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``check`` on ``BOTH``: the COIN-M reads were made (and logged), the key never shown."""
    return await check_keyed(tmp_path, monkeypatch, emulator, "binance", BOTH, marks, as_json, env,
                             logged_read="/dapi/v1/positionRisk")


def by_hand(held) -> float:
    """Binance's COIN-M formula on the BTC account as its reads give it (8 decimals on the wire): the
    quarterly's maintenance and uPnL are the other contracts' TMM1 and UPNL1."""
    quarterly = next(p for p in held.positions if p.symbol == "BTCUSD_261225")
    mmr, cum = COINM_BRACKETS[0][2], COINM_BRACKETS[0][4]
    return coinm_liquidation_price(COINM_WALLET, round(quarterly.maint_margin, 8), round(quarterly.unrealized_pnl, 8),
                                   1, 300.0, COINM_FACE, 60_000.0, mmr, cum)


async def test_check_json_shows_the_keys_usdt_and_btc_accounts_in_their_own_assets(tmp_path, monkeypatch, private):  # noqa: F811
    held = with_coinm(private.account("binance"))
    code, out, err = await check(tmp_path, monkeypatch, private.emu, MARKS, True)
    assert code == EXIT_OK, err
    rows = {r["symbol"]: r for r in json.loads(out)}
    assert set(rows) == {"BTCUSDT", "ETHUSDT", "BTCUSD_PERP"}  # the quarterly is not a modelled position
    btc = rows["BTCUSD_PERP"]
    assert (btc["kind"], btc["settle"], btc["side"], btc["size"], btc["imported"]) == ("inverse", "BTC", "long",
                                                                                       300.0, True)
    assert btc["account"] != rows["BTCUSDT"]["account"] == rows["ETHUSDT"]["account"]
    assert rows["BTCUSDT"]["settle"] == "USDT" and rows["BTCUSDT"]["venue_liquidation_price"] == 40_160.6
    # Figures in BTC: the contracts' value, uPnL and maintenance at the mark; the cross margin balance
    # is the BTC wallet with both BTC-margined positions' uPnL (the quarterly's as the venue reports it).
    quarterly = next(p for p in held.positions if p.symbol == "BTCUSD_261225")
    pnl = 300 * COINM_FACE * (1 / 60_000 - 1 / 61_000)
    assert btc["notional"] == pytest.approx(300 * COINM_FACE / 61_000, rel=1e-12)
    assert btc["unrealized_pnl"] == pytest.approx(pnl, rel=1e-12)
    assert btc["maintenance_margin"] == pytest.approx(300 * COINM_FACE / 61_000 * COINM_BRACKETS[0][2], rel=1e-12)
    assert btc["margin_balance"] == pytest.approx(COINM_WALLET + pnl + round(quarterly.unrealized_pnl, 8), rel=1e-12)
    assert btc["notional_usd"] == pytest.approx(300 * COINM_FACE, rel=1e-12)
    # adlwatch's liquidation price is Binance's COIN-M formula by hand, and the venue's figure beside it
    assert btc["liquidation_price"] == pytest.approx(by_hand(held), rel=1e-9)
    assert btc["venue_liquidation_price"] == pytest.approx(btc["liquidation_price"], rel=1e-7)
    assert (btc["venue_adl_lights"], btc["venue_adl_raw"]) == (3, "adlQuantile 2 of 0-4")
    assert btc["funding_pnl"] == pytest.approx(-0.00012, abs=1e-12) and btc["disagreement"] is None


async def test_check_table_tells_the_two_accounts_apart_and_prints_the_hand_figure(tmp_path, monkeypatch, private):  # noqa: F811
    held = with_coinm(private.account("binance"))
    code, table, err = await check(tmp_path, monkeypatch, private.emu, MARKS, False)
    assert code == EXIT_OK, err
    [row] = [line for line in table.splitlines() if line.startswith("binance  BTCUSD_PERP")]
    assert f"{by_hand(held):,.1f}" in row and "BTC" in row
    assert "followed by api key 'main'\n" in table and "followed by api key 'main', BTC account\n" in table
    assert "wallet 0.5000 BTC" in table and "wallet 10,000.00 USDT" in table
    assert "BTCUSD_261225 short not modelled" in table  # named, its uPnL and maintenance held in the BTC account


async def test_a_rejected_key_is_one_line_per_account_and_never_printed(tmp_path, monkeypatch, private):  # noqa: F811
    with_coinm(private.account("binance"))
    env = env_for("binance", secret="wrongSECRETwrongSECRETwrong00")
    code, out, err = await check(tmp_path, monkeypatch, private.emu, MARKS, False, env)
    assert code == EXIT_FAILURE
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 2 and all("rejected" in line for line in lines)
    assert any("binance key 'main:BTC'" in line for line in lines) and any("binance key 'main'" in line for line in lines)
    assert "wrongSECRET" not in out + err


USDT_AND_USDC = """
[[account]]
venue = "binance"
key_name = "main"

[[account]]
venue = "binance"
key_name = "main"
settle = "USDC"
"""


async def test_check_follows_the_keys_usdc_margined_contracts_as_their_own_account(tmp_path, monkeypatch, private):  # noqa: F811
    from adlwatch.engine.instruments import default_catalogue

    private.account("binance").wallets["USDC"] = 100.0
    path = tmp_path / "p.toml"
    path.write_text(USDT_AND_USDC)
    for name, value in env_for("binance").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADLWATCH_BINANCE_REST_URL", private.emu.rest_url("binance"))
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run_check, path, [*MARKS[:2], "SOLUSDC=155"], None, False, True, None,
                                   out=out, err=err)
    assert code == EXIT_OK, err.getvalue()
    rows = {r["symbol"]: r for r in json.loads(out.getvalue())}
    assert set(rows) == {"BTCUSDT", "ETHUSDT", "SOLUSDC"}  # each position once, under its own asset
    sol = rows["SOLUSDC"]
    assert (sol["settle"], sol["kind"], sol["size"], sol["imported"]) == ("USDC", "linear", 10.0, True)
    assert sol["account"] != rows["BTCUSDT"]["account"] and rows["BTCUSDT"]["settle"] == "USDT"
    assert sol["margin_balance"] == pytest.approx(100.0 + 10 * (155 - 150))
    # By hand, Binance's USDⓈ-M formula for a lone cross long: LP = (WB + cum − Q × EP) / (Q × MMR − Q)
    tier = default_catalogue().find("binance", "SOLUSDC").tiers[0]
    by_hand = (100.0 + tier.maint_amount - 10 * 150.0) / (10 * tier.mmr - 10)
    assert tier.floor <= 10 * by_hand < tier.cap
    assert sol["liquidation_price"] == pytest.approx(by_hand, rel=1e-9)
    for secret in SECRETS["binance"][:2]:
        assert secret not in out.getvalue() + err.getvalue()
