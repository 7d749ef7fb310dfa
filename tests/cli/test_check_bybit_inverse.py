"""``adlwatch check`` on a portfolio that follows one Bybit key's USDT, BTC (inverse) and USDC accounts:
each account's positions under its own settlement asset, adlwatch's liquidation price of the inverse
position as computed by hand from the tiers, the venue's beside it, and the key never printed."""

from __future__ import annotations

import json

import pytest

from adlwatch.engine.errors import InputError
from adlwatch.feeds.emulator_private import EmuPosition
from adlwatch.tui.check import EXIT_FAILURE, EXIT_OK
from tests.cli.keyed_check import check_keyed
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)
from tests.feeds.private_fixtures import env_for, private, with_bybit_inverse  # noqa: F401  (fixtures)
from tests.feeds.test_bybit_inverse import hand_liquidation_price

BOTH = """
[[account]]
venue = "bybit"
key_name = "main"

[[account]]
venue = "bybit"
key_name = "main"
settle = "BTC"
"""

USDC = """
[[account]]
venue = "bybit"
key_name = "main"
settle = "USDC"
"""


async def check(tmp_path, monkeypatch, emulator, text: str, marks: list[str], as_json: bool,  # noqa: F811
                env: dict[str, str] | None = None):
    return await check_keyed(tmp_path, monkeypatch, emulator, "bybit", text, marks, as_json, env)


MARKS = ["BTCUSDT=62000", "ETHUSDT=3200", "bybit:BTCUSD=61000"]


async def test_check_shows_the_usdt_and_the_btc_account_of_one_key(tmp_path, monkeypatch, private):  # noqa: F811
    with_bybit_inverse(private.account("bybit"))
    code, out, err = await check(tmp_path, monkeypatch, private.emu, BOTH, MARKS, True)
    assert code == EXIT_OK, err
    rows = {r["symbol"]: r for r in json.loads(out)}
    assert set(rows) == {"BTCUSDT", "ETHUSDT", "BTCUSD"}
    btc = rows["BTCUSD"]
    assert (btc["kind"], btc["settle"], btc["side"], btc["size"], btc["imported"]) == \
        ("inverse", "BTC", "long", 20_000.0, True)
    assert btc["account"] != rows["BTCUSDT"]["account"] == rows["ETHUSDT"]["account"]
    assert rows["BTCUSDT"]["settle"] == "USDT"
    assert btc["liquidation_price"] == pytest.approx(hand_liquidation_price(), rel=1e-9)
    assert btc["bankruptcy_price"] == pytest.approx(24_013.2, rel=1e-9)
    assert btc["unrealized_pnl"] == pytest.approx(20_000 * (1 / 60_000 - 1 / 61_000))  # in BTC
    assert btc["notional_usd"] == pytest.approx(20_000.0)
    assert (btc["venue_liquidation_price"], btc["venue_adl_lights"]) == (24_061.5, 3)
    assert btc["disagreement"] is None

    code, table, err = await check(tmp_path, monkeypatch, private.emu, BOTH, MARKS, False)
    assert code == EXIT_OK, err
    assert "BTCUSD " in table and "BTCUSDT" in table and "ETHUSDT" in table
    # the key's two accounts, told apart by their asset
    assert "followed by api key 'main'\n" in table and "followed by api key 'main', BTC account\n" in table
    assert "wallet 0.5000 BTC" in table and "wallet 5,000.00 USDT" in table


async def test_check_shows_a_usdc_account_once_the_universe_lists_usdc_contracts(tmp_path, monkeypatch, private):  # noqa: F811
    from adlwatch.feeds.tiers import refresh_catalogue

    held = private.account("bybit")
    held.wallets["USDC"] = 2_500.0
    held.positions.append(EmuPosition("BTCPERP", "long", 0.1, 60_000.0, 61_000.0, 5.0, liquidation_price=35_319.5,
                                      adl=1, maint_margin=30.0, settle="USDC"))
    monkeypatch.setenv("ADLWATCH_BYBIT_REST_URL", private.emu.rest_url("bybit"))
    # The bundled tables list no USDC contract of Bybit: the universe (``adlwatch tiers --refresh``) does.
    # (the CLI turns the error into one line and exit 2)
    refused = r"settle = 'USDC': no Bybit contract in adlwatch's tables settles in it; known: BTC, USDT \(`adlwatch tiers --refresh bybit`"
    with pytest.raises(InputError, match=refused):
        await check(tmp_path, monkeypatch, private.emu, USDC, ["BTCPERP=61000"], True)
    await refresh_catalogue(["bybit"], rest_urls={"bybit": private.emu.rest_url("bybit")}, request_gap_s=0,
                            backoff_initial_s=0.01)
    code, out, err = await check(tmp_path, monkeypatch, private.emu, USDC, ["BTCPERP=61000"], True)
    assert code == EXIT_OK, err
    (perp,) = json.loads(out)
    assert (perp["symbol"], perp["kind"], perp["settle"], perp["size"], perp["imported"]) == \
        ("BTCPERP", "linear", "USDC", 0.1, True)
    # By hand: the emulator's BTCPERP tier 1 (MMR 0.5 %, no deduction), Bybit's taker fee 0.055 %;
    # bankruptcy W + C(BP − E) = fee × C × BP, liquidation W + C(LP − E) = MMR × C × E + fee × C × BP.
    wallet, size, entry, mmr, fee = 2_500.0, 0.1, 60_000.0, 0.005, 0.00055
    bankruptcy = (size * entry - wallet) / (size * (1 - fee))
    liquidation = entry + (mmr * size * entry + fee * size * bankruptcy - wallet) / size
    assert perp["bankruptcy_price"] == pytest.approx(bankruptcy, rel=1e-9)
    assert perp["liquidation_price"] == pytest.approx(liquidation, rel=1e-9)
    assert perp["venue_liquidation_price"] == 35_319.5


async def test_check_fetches_the_inverse_contracts_mark_from_the_venue(tmp_path, monkeypatch, private):  # noqa: F811
    with_bybit_inverse(private.account("bybit"))
    code, out, err = await check(tmp_path, monkeypatch, private.emu, BOTH, MARKS[:2], True)
    assert code == EXIT_OK, err
    btc = {r["symbol"]: r for r in json.loads(out)}["BTCUSD"]
    asked = [r for venue, r, _ in private.emu.rest_requests if venue == "bybit" and r == "/v5/market/tickers"]
    assert asked and btc["mark_price"] > 0
    # a lone cross position's liquidation price does not depend on the mark
    assert btc["liquidation_price"] == pytest.approx(hand_liquidation_price(), rel=1e-9)


async def test_a_rejected_key_is_one_line_per_account_and_never_printed(tmp_path, monkeypatch, private):  # noqa: F811
    with_bybit_inverse(private.account("bybit"))
    env = env_for("bybit", secret="wrongSECRETwrongSECRETwrong00")  # Bybit echoes the signed text, key in it
    code, out, err = await check(tmp_path, monkeypatch, private.emu, BOTH, MARKS, False, env)
    assert code == EXIT_FAILURE
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 2 and all("rejected" in line for line in lines)
    assert any("bybit key 'main:BTC'" in line for line in lines) and any("bybit key 'main'" in line for line in lines)
    assert "wrongSECRET" not in out + err
