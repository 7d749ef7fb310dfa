"""Issue 14 item 1 through ``adlwatch check`` as shipped: a hedge-mode account's legs are measured the
way the account liquidates, and ``--alert-below`` exits 3 exactly when a shown distance is below it."""

from __future__ import annotations

import io
import json
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.portfolio_store import dumps
from adlwatch.tui.check import EXIT_ALERT, EXIT_OK, run_check
from tests.cli.test_check_cli import run
from tests.engine.test_issue14_figures import CATALOGUE, portfolios

HEDGE = """\
[[account]]
venue = "binance"
wallet_balance = 100000.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.1
entry_price = 65000.0
leverage = 10
margin_mode = "cross"

[[account.position]]
symbol = "BTCUSDT"
side = "short"
size = 1.0
entry_price = 65000.0
leverage = 10
margin_mode = "cross"
"""


def hedge_file(tmp_path: Path) -> Path:
    path = tmp_path / "portfolio.toml"
    path.write_text(HEDGE)
    return path


def test_hedge_mode_check_shows_both_legs_safe_and_does_not_alert(tmp_path):
    result = run("check", "--offline", "--json", "--portfolio", str(hedge_file(tmp_path)),
                 "--mark", "BTCUSDT=65000", "--alert-below", "5")
    assert result.returncode == EXIT_OK, result.stderr
    long, short = json.loads(result.stdout)
    assert long["liquidation_price"] == short["liquidation_price"] > 65_000
    expected = (long["liquidation_price"] - 65_000) / 65_000 * 100
    for leg in (long, short):
        assert math.isclose(leg["distance_pct"], expected, rel_tol=1e-9) and leg["distance_pct"] > 5
        assert leg["effective_leverage"] is not None and leg["effective_leverage"] > 0


def test_hedge_mode_table_shows_a_leverage_for_the_long_leg(tmp_path):
    result = run("check", "--offline", "--portfolio", str(hedge_file(tmp_path)), "--mark", "BTCUSDT=65000")
    assert result.returncode == EXIT_OK, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("binance  BTCUSDT")]
    assert [r[2] for r in rows] == ["long", "short"]
    for r in rows:
        lev = r[r.index("cross") - 1]
        dist = r[r.index("cross") - 2]
        assert lev.endswith("x") and lev != "--", r
        assert dist.startswith("+"), r

def test_hedge_mode_alert_fires_only_once_the_threshold_is_above_the_accounts_distance(tmp_path):
    path = hedge_file(tmp_path)
    result = run("check", "--offline", "--json", "--portfolio", str(path), "--mark", "BTCUSDT=65000", "--alert-below", "200")
    assert result.returncode == EXIT_ALERT


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(portfolios())
def test_alert_below_exits_3_iff_a_shown_distance_is_below_it(case):
    account, marks = case
    text = dumps(Portfolio((account,), catalogue=CATALOGUE))
    mark_args = [f"{venue}:{symbol}={price!r}" for (venue, symbol), price in marks.items()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "portfolio.toml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        code = run_check(path, mark_args, None, True, True, None, out=out, err=err)
        assert code == EXIT_OK, err.getvalue()
        rows = json.loads(out.getvalue())
        shown = [r["distance_pct"] for r in rows if r["distance_pct"] is not None]
        for threshold in (-50.0, 0.0, 5.0, 50.0):
            out, err = io.StringIO(), io.StringIO()
            code = run_check(path, mark_args, None, True, True, threshold, out=out, err=err)
            assert (code == EXIT_ALERT) == any(d < threshold for d in shown), (threshold, shown)
            assert code in (EXIT_OK, EXIT_ALERT), err.getvalue()


# -- item 7 through the monitor: `m` then `v` keeps the added margin ----------------------------------

ISOLATED = """\
[[account]]
venue = "binance"
wallet_balance = 1000.0

[[account.position]]
symbol = "ETHUSDT"
side = "long"
size = 0.1
entry_price = 3000.0
leverage = 5
margin_mode = "isolated"
"""


async def test_m_then_v_keeps_the_added_isolated_margin(tmp_path):
    from adlwatch.engine.events import MarkPrice
    from adlwatch.tui.app import AdlwatchApp
    from adlwatch.tui.widgets.positions import PositionsTable
    from tests.portfolio_files import load
    from tests.tui.test_app import ListSource, started

    path = tmp_path / "portfolio.toml"
    path.write_text(ISOLATED)
    source = ListSource([MarkPrice(venue="binance", symbol="ETHUSDT", ts=1_700_000_000_000, price=3_000.0)])
    app = AdlwatchApp(load(path), source, portfolio_path=path)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot)
        app.query_one(PositionsTable).move_cursor(row=0)
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        await pilot.press(*"100", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.portfolio.accounts[0].positions[0].isolated_margin == 160.0
        added = app.monitor.live().positions[0]
        await pilot.press("v")
        await pilot.pause()
        await pilot.press(*"20", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        p = app.portfolio.accounts[0].positions[0]
        assert p.leverage == 20.0 and p.isolated_margin == 160.0
        assert app.monitor.live().positions[0].liquidation_price == added.liquidation_price
    saved = load(path).accounts[0].positions[0]
    assert saved.leverage == 20.0 and saved.isolated_margin == 160.0
