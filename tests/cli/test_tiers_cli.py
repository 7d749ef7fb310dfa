"""``adlwatch tiers`` and the catalogue cache through the commands as shipped, against the loopback
emulator (a subprocess, as in test_check_rest): the whole universe fetched and cached with ``as_of``,
reloaded offline by ``check``, an unknown symbol looked up before it is refused, a corrupt cache file
one line. Each test has its own user cache folder (tests/conftest.py sets XDG_CACHE_HOME)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adlwatch.feeds.registry import find
from tests.cli.test_check_cli import ADLWATCH

HELD = """[[account]]
venue = "hyperliquid"
wallet_balance = 2000.0

[[account.position]]
symbol = "{symbol}"
side = "long"
size = {size}
entry_price = {entry}
leverage = 3
margin_mode = "isolated"
"""


@pytest.fixture(scope="module")
def emulator_env():
    proc = subprocess.Popen([sys.executable, "-m", "adlwatch.feeds.emulator", "--seed", "3"], stdout=subprocess.PIPE,
                            text=True)
    env = {}
    try:
        for _ in range(4):
            venue, _ws, rest = proc.stdout.readline().split()
            env[f"ADLWATCH_{venue.upper()}_REST_URL"] = rest.removeprefix("rest=")
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def adlwatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ADLWATCH, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def cache_dir(env: dict | None = None) -> Path:
    """The tier cache the commands use with ``env``: tables read from the emulator are cached apart
    from the user's real ones (feeds/tiers.py ``default_cache_dir``)."""
    from adlwatch.feeds.tiers import default_cache_dir

    return default_cache_dir({**os.environ, **(env or {})})


def needs_universe(venue: str) -> None:
    source = find(venue).tiers()
    if source.fetch_universe is None:
        pytest.skip(f"{venue} has no fetch_universe yet")


def test_tiers_says_per_venue_how_many_contracts_from_where_and_how_old():
    result = adlwatch("tiers")
    assert result.returncode == 0, result.stderr
    for venue in ("binance", "bybit", "okx", "hyperliquid"):
        assert re.search(rf"^{venue}: \d+ contracts$", result.stdout, re.M), result.stdout
    assert re.search(r"^\s+\d+ bundled snapshot binance_usdm\.json(\.gz)?, as of \d{4}-\d\d-\d\d.*days old",
                     result.stdout, re.M), result.stdout
    assert re.search(r"^\s+\d+ bundled table okx\.toml, as of ", result.stdout, re.M), result.stdout
    assert "refreshed by itself when a day old" in result.stdout
    listing = adlwatch("tiers", "--all", "okx")
    assert listing.returncode == 0 and all(line.startswith("okx ") for line in listing.stdout.splitlines())
    bad = adlwatch("tiers", "ftx")
    assert bad.returncode == 2 and "unknown venue" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_refresh_caches_the_universe_and_check_reads_it_offline(emulator_env):
    needs_universe("hyperliquid")
    result = adlwatch("tiers", "--refresh", "hyperliquid", env=emulator_env)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"^hyperliquid: (\d+) contracts.*, as of (\S+)$", result.stdout, re.M)
    assert match and int(match.group(1)) > 100, result.stdout
    as_of = match.group(2)
    assert re.search(r"^\s+\d+ fetched: .*hyperliquid\.json, as of ", result.stdout, re.M), result.stdout
    assert (cache_dir(emulator_env) / "hyperliquid.json").exists()
    assert not (cache_dir() / "hyperliquid.json").exists()  # the emulator's tables never stand in for the venue's

    # offline (the emulator's URLs still set, so its cache is read): a coin only the cached universe knows
    table = json.loads((cache_dir(emulator_env) / "hyperliquid.json").read_text())
    assert table["as_of"] == as_of and table["venue"] == "hyperliquid"
    coin = next(r for r in table["instruments"] if r["symbol"] not in {"BTC", "ETH", "SOL", "XRP", "DOGE"}
                and r.get("status", "trading") == "trading" and r["tiers"])
    path = Path(os.environ["XDG_CACHE_HOME"]) / "p.toml"
    path.write_text(HELD.format(symbol=coin["symbol"], size=10.0, entry=2.0))
    check = adlwatch("check", "--portfolio", str(path), "--offline", "--json", "--mark", f"{coin['symbol']}=2.1",
                     env=emulator_env)
    assert check.returncode == 0, check.stderr
    [row] = json.loads(check.stdout)
    assert row["symbol"] == coin["symbol"] and row["liquidation_price"] is not None
    assert row["tiers_as_of"] == coin.get("as_of", as_of)
    listed = adlwatch("tiers", "hyperliquid", env=emulator_env)
    assert re.search(r"^\s+\d+ cache: .*hyperliquid\.json, as of ", listed.stdout, re.M), listed.stdout


def test_an_unknown_symbol_is_looked_up_online_and_cached(emulator_env):
    needs_universe("hyperliquid")
    # a coin the emulator lists and no bundled table knows: find one through the universe once
    adlwatch("tiers", "--refresh", "hyperliquid", env=emulator_env)
    table = json.loads((cache_dir(emulator_env) / "hyperliquid.json").read_text())
    coin = next(r["symbol"] for r in table["instruments"] if r["symbol"] not in {"BTC", "ETH", "SOL", "XRP", "DOGE"}
                and r.get("status", "trading") == "trading" and r["tiers"])
    (cache_dir(emulator_env) / "hyperliquid.json").unlink()  # forget it: only the venue knows it now

    path = Path(os.environ["XDG_CACHE_HOME"]) / "p.toml"
    path.write_text(HELD.format(symbol=coin, size=10.0, entry=2.0))
    offline = adlwatch("check", "--portfolio", str(path), "--offline", "--mark", f"{coin}=2.1", env=emulator_env)
    assert offline.returncode == 2 and "hyperliquid" in offline.stderr and coin in offline.stderr
    online = adlwatch("check", "--portfolio", str(path), "--json", "--mark", f"{coin}=2.1", env=emulator_env)
    assert online.returncode == 0, online.stderr
    assert json.loads(online.stdout)[0]["symbol"] == coin
    # cached: offline now knows it too
    again = adlwatch("check", "--portfolio", str(path), "--offline", "--json", "--mark", f"{coin}=2.1",
                     env=emulator_env)
    assert again.returncode == 0, again.stderr


def test_a_symbol_no_table_or_venue_knows_is_refused_with_the_closest_spellings(emulator_env, tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(HELD.format(symbol="BTCUSDT", size=0.1, entry=60000.0))
    for extra in (["--offline"], []):
        result = adlwatch("check", "--portfolio", str(path), "--mark", "BTCUSDT=60000", *extra, env=emulator_env)
        assert result.returncode == 2, result.stdout + result.stderr
        [line] = result.stderr.strip().splitlines()
        assert str(path) in line and "hyperliquid" in line and "'BTCUSDT'" in line and "did you mean BTC" in line


def test_a_corrupt_cache_file_is_one_line_and_check_goes_on(tmp_path):
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / "hyperliquid.json").write_text('{"venue": "hyperliquid", "instruments": [')
    path = tmp_path / "p.toml"
    path.write_text(HELD.format(symbol="BTC", size=0.1, entry=60000.0))
    result = adlwatch("check", "--portfolio", str(path), "--offline", "--mark", "BTC=60000")
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "hyperliquid.json" in line and "ignored" in line and "Traceback" not in result.stderr
