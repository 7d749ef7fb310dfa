"""``adlwatch check`` on a portfolio that follows a Binance account by read-only key: the venue's
positions, its figures beside ours, and a rejected key said in one line while the rest is shown."""

from __future__ import annotations

import asyncio
import io
import json

from adlwatch.tui.check import EXIT_FAILURE, EXIT_OK, run_check
from tests.feeds.conftest import emulator, no_internet  # noqa: F401  (fixtures)
from tests.feeds.private_fixtures import SECRETS, env_for, private  # noqa: F401  (fixtures)

PORTFOLIO = """
[[account]]
venue = "binance"
key_name = "main"
hedges = { BTCUSDT = "btc-basis" }

[[account]]
venue = "hyperliquid"
wallet_balance = 2000.0

[[account.position]]
symbol = "BTC"
side = "short"
size = 0.1
entry_price = 61000.0
leverage = 5
hedge = "btc-basis"
"""


async def check(tmp_path, monkeypatch, emulator, env, *args):  # noqa: F811
    path = tmp_path / "p.toml"
    path.write_text(PORTFOLIO)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADLWATCH_BINANCE_REST_URL", emulator.rest_url("binance"))
    out, err = io.StringIO(), io.StringIO()
    marks = ["BTCUSDT=61000", "ETHUSDT=2900", "hyperliquid:BTC=61000"]
    code = await asyncio.to_thread(run_check, path, marks, None, False, *args, out=out, err=err)
    return code, out.getvalue(), err.getvalue(), path.read_text()


async def test_check_imports_the_followed_account_and_shows_the_venue_figures(tmp_path, monkeypatch, private):  # noqa: F811
    code, out, err, text = await check(tmp_path, monkeypatch, private.emu, env_for("binance"), True, None)
    assert code == EXIT_OK, err
    rows = {(r["venue"], r["symbol"]): r for r in json.loads(out)}
    held = {(p.symbol, p.side) for p in private.account("binance").held()}
    assert {("BTCUSDT", "long"), ("ETHUSDT", "short")} <= held
    btc = rows[("binance", "BTCUSDT")]
    assert btc["imported"] is True and btc["hedge"] == "btc-basis"
    assert btc["venue_liquidation_price"] == 40_160.6
    assert btc["venue_adl_lights"] == 4  # adlQuantile 3 of 0-4
    assert btc["liquidation_diff_pct"] is not None
    assert rows[("hyperliquid", "BTC")]["imported"] is False
    # The USDC position of the account is named as not modelled, not silently dropped.
    assert ("binance", "SOLUSDC") not in rows
    assert text == PORTFOLIO  # check never writes the file
    for secret in SECRETS["binance"][:2]:
        assert secret not in out + err


async def test_rejected_key_is_one_line_and_the_rest_is_still_checked(tmp_path, monkeypatch, private):  # noqa: F811
    env = env_for("binance", secret="wrongSECRETwrongSECRETwrong00")
    code, out, err, _ = await check(tmp_path, monkeypatch, private.emu, env, False, None)
    assert code == EXIT_FAILURE
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and "binance key 'main'" in lines[0] and "rejected" in lines[0]
    assert "hyperliquid  BTC" in out  # the manual account is still computed
    assert "not reported by the venue" in out
    assert "wrongSECRET" not in out + err
