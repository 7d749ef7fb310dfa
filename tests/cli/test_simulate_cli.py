"""``adlwatch simulate`` through the console script."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.cli.test_check_cli import ADLWATCH
from tests.cli.test_check_rest import emulator_urls  # noqa: F401  (module fixture)

FLAGS = ["--venue", "binance", "--symbol", "BTCUSDT", "--mark", "110000", "--open-interest", "20000", "--positions", "3000"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ADLWATCH, "simulate", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_round_by_round_table_with_totals_and_sensitivity(tmp_path):
    result = run(*FLAGS, "--shock", "-15", "--fund", "1e8", "--offline", "--portfolio", str(tmp_path / "none.toml"))
    # A --portfolio that does not exist is an input error; without it the user's file is optional.
    assert result.returncode == 2 and "none.toml" in result.stderr
    result = run(*FLAGS, "--shock", "-15", "--fund", "1e8", "--offline")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    header = next(line for line in out.splitlines() if line.strip().startswith("step"))
    assert header.split()[:4] == ["step", "rnd", "price", "liq."]
    assert "liquidated" in out and "sensitivity (impact slope x0.5 / x2)" in out
    assert "modelled population" in out and "estimate" in out


@pytest.mark.parametrize("policy", ["queue", "pro-rata", "water-filling"])
def test_json_rounds_conserve_money_and_a_small_fund_ends_in_adl(policy):
    result = run(*FLAGS, "--shock", "-25", "--fund", "1e4", "--offline", "--json", "--policy", policy)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["policy"] == policy and len(data["steps"]) == 20
    for step in data["steps"]:
        for r in step["rounds"]:
            assert r["gap_usd"] == pytest.approx(r["fund_draw_usd"] + r["haircut_pnl_usd"] + r["unresolved_usd"], rel=1e-9, abs=1e-6)
    assert data["totals"]["adl_notional_usd"] > 0
    assert data["first_adl"] is not None
    assert set(data["sensitivity"]) == {"half_slope", "double_slope"}
    # A steeper book liquidates at least as much.
    assert data["sensitivity"]["double_slope"]["liquidated_notional_usd"] >= data["sensitivity"]["half_slope"]["liquidated_notional_usd"]


def test_follows_the_users_positions_on_the_contract(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[[account]]\nvenue = "binance"\nwallet_balance = 0.0\n\n[[account.position]]\nsymbol = "BTCUSDT"\nside = "long"\n'
        'size = 1.0\nentry_price = 110000.0\nleverage = 20\nmargin_mode = "isolated"\n'
    )
    result = run(*FLAGS, "--shock", "-10", "--fund", "1e8", "--offline", "--json", "--portfolio", str(path))
    assert result.returncode == 0, result.stderr
    (position,) = json.loads(result.stdout)["positions"]
    assert position["fate"] == "liquidated"  # a 20x long cannot survive -10 %
    assert position["price"] < 110000 * 0.96


def test_missing_inputs_offline_name_the_flag():
    result = run("--venue", "binance", "--symbol", "BTCUSDT", "--shock", "-15", "--offline")
    assert result.returncode == 2
    assert "--mark" in result.stderr and "Traceback" not in result.stderr


def test_inputs_come_from_the_venue_when_not_given(emulator_urls):  # noqa: F811
    env = {"ADLWATCH_BINANCE_REST_URL": emulator_urls["binance"][1]}
    result = run("--venue", "binance", "--symbol", "BTCUSDT", "--shock", "-10", "--positions", "2000", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mark_price"] > 0 and data["open_interest"] > 0 and data["fund_start_usd"] > 0
