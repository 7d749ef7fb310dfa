"""``adlwatch check`` fetching the marks it was not given, from the loopback emulator's REST API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.test_check_cli import ADLWATCH, PORTFOLIO


@pytest.fixture(scope="module")
def emulator_urls():
    proc = subprocess.Popen(
        [sys.executable, "-m", "adlwatch.feeds.emulator", "--seed", "3"], stdout=subprocess.PIPE, text=True
    )
    urls = {}
    try:
        for _ in range(4):
            venue, ws, rest = proc.stdout.readline().split()
            urls[venue] = (ws.removeprefix("ws="), rest.removeprefix("rest="))
        yield urls
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_check(path, env_extra, *args):
    env = {**os.environ, **env_extra}
    return subprocess.run([ADLWATCH, "check", "--portfolio", str(path), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_missing_marks_come_from_each_venues_rest_endpoint(tmp_path, emulator_urls):
    path = tmp_path / "p.toml"
    path.write_text(PORTFOLIO)
    env = {f"ADLWATCH_{v.upper()}_REST_URL": rest for v, (_, rest) in emulator_urls.items()}
    result = run_check(path, env, "--json", "--mark", "ETHUSDT=2900")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[1]["mark_price"] == 2900.0  # given on the command line wins
    # The others came from the emulator: positive, and not any price we gave.
    assert rows[0]["mark_price"] > 0 and rows[2]["mark_price"] > 0
    assert rows[0]["liquidation_price"] is not None


def test_unreachable_venue_is_one_line_naming_it_and_exit_1(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PORTFOLIO)
    # A closed port on loopback: refused at once, no internet touched.
    env = {"ADLWATCH_BINANCE_REST_URL": "http://127.0.0.1:9", "ADLWATCH_HYPERLIQUID_REST_URL": "http://127.0.0.1:9"}
    result = run_check(path, env)
    assert result.returncode == 1
    assert "binance" in result.stderr and "hyperliquid" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fetched_contracts_show_their_funding_on_every_venue(tmp_path, emulator_urls):
    """check shows the funding the venue publishes beside the mark it fetched (issue 15: all of the
    panel in check --json): from the mark's own answer, or OKX's funding-rate endpoint."""
    path = tmp_path / "p.toml"
    path.write_text("""
[[account]]
venue = "binance"
wallet_balance = 10000
[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.1
entry_price = 60000
leverage = 10

[[account]]
venue = "bybit"
wallet_balance = 10000
[[account.position]]
symbol = "BTCUSDT"
side = "short"
size = 0.1
entry_price = 60000
leverage = 10

[[account]]
venue = "okx"
wallet_balance = 10000
[[account.position]]
symbol = "BTC-USDT-SWAP"
side = "long"
size = 0.1
entry_price = 60000
leverage = 10

[[account]]
venue = "hyperliquid"
wallet_balance = 10000
[[account.position]]
symbol = "BTC"
side = "long"
size = 0.1
entry_price = 60000
leverage = 10
""")
    env = {f"ADLWATCH_{v.upper()}_REST_URL": rest for v, (_, rest) in emulator_urls.items()}
    result = run_check(path, env, "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["venue"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"binance", "bybit", "okx", "hyperliquid"}
    for venue, row in rows.items():
        assert row["funding_rate"] is not None, venue
        assert row["next_funding_ms"] is not None and row["next_funding_ms"] > 1_700_000_000_000, venue
    table = run_check(path, env)
    assert table.returncode == 0 and "funding" in table.stdout.splitlines()[0]
