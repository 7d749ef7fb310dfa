"""``adlwatch check`` through the real console script, as a user's script would call it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.portfolio import Portfolio
from adlwatch.engine.risk import EngineInputs, compute_snapshot
from adlwatch.engine.shocks import apply_shocks, shock
from tests.portfolio_files import BINANCE_BTC_LONG, ETH_ISOLATED_SHORT

ADLWATCH = shutil.which("adlwatch", path=str(Path(sys.executable).parent)) or "adlwatch"

PORTFOLIO = BINANCE_BTC_LONG + ETH_ISOLATED_SHORT + """\

[[account]]
venue = "hyperliquid"
wallet_balance = 2000.0

[[account.position]]
symbol = "BTC"
side = "short"
size = 0.1
entry_price = 61000.0
leverage = 20
margin_mode = "cross"
"""

MARKS = ["BTCUSDT=58000", "ETHUSDT=2900", "hyperliquid:BTC=58100"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ADLWATCH, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def portfolio_file(tmp_path: Path) -> Path:
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    return path


def expected_snapshot(path: Path, marks: dict, shock_pct: float | None = None):
    from tests.portfolio_files import load

    inputs = EngineInputs(portfolio=load(path), marks=marks)
    return apply_shocks(inputs, [shock(shock_pct)]) if shock_pct is not None else compute_snapshot(inputs)


MARK_MAP = {("binance", "BTCUSDT"): 58000.0, ("binance", "ETHUSDT"): 2900.0, ("hyperliquid", "BTC"): 58100.0}


def test_json_has_every_contract_field_with_the_engine_values(portfolio_file):
    result = run("check", "--portfolio", str(portfolio_file), "--offline", "--json", *sum((["--mark", m] for m in MARKS), []))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    snapshot = expected_snapshot(portfolio_file, MARK_MAP)
    assert len(rows) == len(snapshot.positions) == 3
    for row, risk in zip(rows, snapshot.positions, strict=True):
        for field in ("venue", "symbol", "side", "size", "entry_price", "mark_price", "margin_mode", "notional",
                      "unrealized_pnl", "margin_balance", "maintenance_margin", "effective_leverage",
                      "liquidation_price", "bankruptcy_price", "distance_pct", "adl_score", "adl_formula", "adl_quantile"):
            assert field in row
            expected = getattr(risk, field)
            if isinstance(expected, float):
                assert row[field] == pytest.approx(expected, rel=1e-12)
            else:
                assert row[field] == expected
    btc = rows[0]
    assert btc["mark_price"] == 58000.0 and btc["side"] == "long" and btc["margin_mode"] == "cross"
    assert btc["unrealized_pnl"] == pytest.approx(0.5 * (58000 - 60000))
    assert btc["distance_pct"] == pytest.approx((58000 - btc["liquidation_price"]) / 58000 * 100)
    assert rows[1]["margin_balance"] == pytest.approx(2500.0 + 4.0 * (3000 - 2900))
    assert rows[2]["adl_formula"] == "hyperliquid_index"
    # The ADL quantile is an estimate against the modelled population: 1 to 5 lights.
    assert all(r["adl_quantile"] in (1, 2, 3, 4, 5) for r in rows)


def test_shock_reports_the_shocked_mark_and_its_figures(portfolio_file):
    result = run("check", "--portfolio", str(portfolio_file), "--offline", "--json", "--shock", "-10",
                 *sum((["--mark", m] for m in MARKS), []))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["mark_price"] == pytest.approx(58000 * 0.9)
    shocked = expected_snapshot(portfolio_file, MARK_MAP, -10)
    assert rows[0]["distance_pct"] == pytest.approx(shocked.positions[0].distance_pct)
    assert rows[0]["liquidation_price"] == pytest.approx(shocked.positions[0].liquidation_price)


def test_table_output_names_each_position(portfolio_file):
    result = run("check", "--portfolio", str(portfolio_file), "--offline", *sum((["--mark", m] for m in MARKS), []))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["venue", "symbol", "side"]
    assert any(line.startswith("binance") and "BTCUSDT" in line and "long" in line for line in lines)
    assert any(line.startswith("hyperliquid") and "hyperliquid_index" in line for line in lines)


def test_alert_below_exits_3_only_when_some_distance_is_below(portfolio_file):
    marks = sum((["--mark", m] for m in MARKS), [])
    rows = json.loads(run("check", "--portfolio", str(portfolio_file), "--offline", "--json", *marks).stdout)
    closest = min(r["distance_pct"] for r in rows if r["distance_pct"] is not None)
    below = run("check", "--portfolio", str(portfolio_file), "--offline", "--alert-below", str(closest + 0.01), *marks)
    above = run("check", "--portfolio", str(portfolio_file), "--offline", "--alert-below", str(closest - 0.01), *marks)
    assert below.returncode == 3
    assert above.returncode == 0


def test_missing_mark_offline_is_exit_2(portfolio_file):
    result = run("check", "--portfolio", str(portfolio_file), "--offline", "--mark", "BTCUSDT=58000")
    assert result.returncode == 2
    assert "ETHUSDT" in result.stderr and "hyperliquid:BTC" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "field", "value"),
    [
        ("size = 0.5", "size = -0.5", "account[0].position[0].size", "-0.5"),
        ('venue = "hyperliquid"', 'venue = "kraken"', "account[1].venue", "'kraken'"),
        ('symbol = "ETHUSDT"', 'symbol = "ETHUSDX"', "account[0].position[1].symbol", "'ETHUSDX'"),
        ("entry_price = 3000.0\n", "", "account[0].position[1].entry_price", None),
        ("leverage = 5\n", 'leverage = "5"\n', "account[0].position[1].leverage", "'5'"),
        ("leverage = 20\n", "leverage = 20\ncolour = 'red'\n", "account[1].position[0].colour", "'red'"),
    ],
    ids=["negative-size", "unknown-venue", "unknown-symbol", "missing-field", "wrong-type", "unknown-key"],
)
def test_bad_input_is_one_line_naming_file_field_value_and_the_file_is_unchanged(tmp_path, old, new, field, value):
    path = tmp_path / "portfolio.toml"
    text = PORTFOLIO.replace(old, new, 1)
    assert text != PORTFOLIO
    path.write_text(text)
    result = run("check", "--portfolio", str(path), "--offline", *sum((["--mark", m] for m in MARKS), []))
    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert str(path) in message and field in message
    if value is not None:
        assert value in message
    assert "Traceback" not in result.stderr
    assert path.read_text() == text


def test_error_names_the_line_of_the_bad_field(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PORTFOLIO.replace("size = 4.0", "size = -4.0"))
    result = run("check", "--portfolio", str(path), "--offline")
    line = PORTFOLIO.splitlines().index("size = 4.0") + 1
    assert f"{path}:{line}:" in result.stderr


def test_broken_toml_is_exit_2_with_the_line(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PORTFOLIO + "\n[[account\n")
    result = run("check", "--portfolio", str(path), "--offline")
    assert result.returncode == 2
    assert str(path) in result.stderr and "line" in result.stderr


def test_bad_mark_argument_is_exit_2(portfolio_file):
    result = run("check", "--portfolio", str(portfolio_file), "--offline", "--mark", "BTCUSDT=cheap")
    assert result.returncode == 2 and "--mark" in result.stderr and "BTCUSDT=cheap" in result.stderr


def test_demo_check_runs_offline_and_crosses_a_liquidation():
    result = run("demo", "--check")
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.split("== 2025-10-10 21:20:59 UTC")
    # The isolated AVAX long is safe before the crash and liquidated at the low (issue 14 item 4: the
    # demo shows what the venue would do, not a negative distance).
    avax_before = next(line for line in before.splitlines() if " AVAXUSD_PERP " in line)
    avax_after = next(line for line in after.splitlines() if " AVAXUSD_PERP " in line)
    assert avax_before.split()[8].startswith("+")
    assert avax_after.split()[8] == "LIQUIDATED"


def test_portfolio_types_round_trip():
    # The check command and the store agree on the model: sides and modes are enums, not strings.
    from tests.portfolio_files import parse

    portfolio = parse(PORTFOLIO)
    assert isinstance(portfolio, Portfolio)
    assert portfolio.accounts[0].positions[0].side is Side.LONG
    assert portfolio.accounts[0].positions[1].margin_mode is MarginMode.ISOLATED


def test_a_big_recording_says_how_far_reading_it_has_got(tmp_path):
    """``adlwatch replay`` of a file of 20 MB or more: a stderr line counting to 100 % on a terminal,
    the start and the end on a pipe; nothing for a small file."""
    import io

    from adlwatch.tui.cli import _reading_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    big, small = tmp_path / "day.jsonl", tmp_path / "hour.jsonl"
    with open(big, "wb") as f:
        f.truncate(25_000_000)
    small.write_bytes(b"{}\n")
    assert _reading_progress(small, io.StringIO()) is None
    piped, terminal = io.StringIO(), Terminal()
    for err in (piped, terminal):
        progress = _reading_progress(big, err)
        for share in (0.004, 0.25, 0.25, 0.5, 1.0):
            progress(share)
    assert piped.getvalue() == f"adlwatch: reading {big} (25 MB)…\nadlwatch: reading {big} (25 MB): done\n"
    assert terminal.getvalue().split("\r")[1:] == [f"adlwatch: reading {big} (25 MB)… {p}%" for p in (0, 25, 50)] + [
        f"adlwatch: reading {big} (25 MB)… 100%\n"]
