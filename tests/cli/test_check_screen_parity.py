"""``adlwatch check`` shows what the screen shows: the panel columns of its table carry the same
figures, formatted alike, as the TUI's positions table for the same portfolio and marks, and
``--json`` carries the funding and the venue's own panel fields."""

from __future__ import annotations

import json
import subprocess

from adlwatch.engine.events import AccountState, FundingRate, ImportedPosition, MarkPrice
from adlwatch.engine.monitor import Monitor
from adlwatch.tui.check import EXTRA_FIELDS, render_table, row
from adlwatch.tui.widgets.positions import position_cells
from tests.cli.test_check_cli import ADLWATCH
from tests.cli.test_check_panel_fields import PORTFOLIO
from tests.portfolio_files import parse

T_MS = 1_760_130_000_000

FUNDING_FIELDS = ("funding_rate", "next_funding_ms", "venue_break_even_price", "funding_pnl", "take_profit", "stop_loss")


def table_columns(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header names and each row's cells of check's table (columns two spaces apart)."""
    lines = text.splitlines()
    header, rule = lines[0], lines[1]
    spans, start = [], 0
    for dashes in rule.split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    names = [header[a:b].strip() for a, b in spans]
    rows = {}
    for line in lines[2:]:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in spans]
        rows[cells[1]] = cells
    return names, rows


def test_the_check_table_and_the_screen_show_the_same_panel_figures():
    monitor = Monitor(parse(PORTFOLIO))
    monitor.apply_many([MarkPrice(venue="binance", symbol=s, ts=T_MS, price=p)
                        for s, p in (("BTCUSDT", 61_000.0), ("ETHUSDT", 2_900.0), ("BTCUSD_PERP", 49_825.0))])
    state = monitor.state(T_MS / 1000)
    names, rows = table_columns(render_table(state.live, T_MS))
    pairs = {"to liq.": "to_liq", "uPnL $": "upnl_usd", "ROE": "roe", "notional $": "notional_usd",
             "margin": "margin", "break-even": "break_even", "dist.": "dist", "mark": "mark"}
    assert set(pairs) <= set(names)
    for p in state.live.positions:
        cells = position_cells(p, state, compact=True)
        shown = {key: "".join(text for text, _ in cells[key]) for key in pairs.values()}
        for name, key in pairs.items():
            printed = rows[p.symbol][names.index(name)]
            assert printed.startswith(shown[key]), (p.symbol, name, printed, shown[key])
    # The coin-settled uPnL keeps its digits in both (0.0007025 BTC, never 0.00).
    assert rows["BTCUSD_PERP"][names.index("uPnL")] == "0.0007025 BTC"


def test_check_shows_funding_and_a_followed_positions_own_figures_when_there_are_some():
    followed = PORTFOLIO + '\n[[account]]\nvenue = "bybit"\nkey_name = "main"\n'
    monitor = Monitor(parse(followed))
    monitor.apply_many([
        AccountState(venue="bybit", symbol="main", ts=T_MS, settle="USDT", wallet_balance=5_000.0, positions=[
            ImportedPosition(symbol="ETHUSDT", side="short", size=2.0, entry_price=3_000.0, leverage=5,
                             margin_mode="cross", liquidation_price=4_400.0, mark_price=2_950.0,
                             break_even_price=2_996.4, funding_pnl=-1.25, take_profit=2_500.0, stop_loss=3_300.0)]),
        *(MarkPrice(venue=v, symbol=s, ts=T_MS, price=p) for v, s, p in
          (("binance", "BTCUSDT", 61_000.0), ("binance", "ETHUSDT", 2_900.0), ("binance", "BTCUSD_PERP", 49_825.0),
           ("bybit", "ETHUSDT", 2_950.0))),
        FundingRate(venue="bybit", symbol="ETHUSDT", ts=T_MS, rate=-0.00025, next_funding_ts=T_MS + 245_000),
    ])
    live = monitor.state(T_MS / 1000).live
    names, rows = table_columns(render_table(live, T_MS))
    bybit = next(cells for symbol, cells in rows.items() if symbol == "ETHUSDT" and cells[0] == "bybit")
    assert bybit[names.index("break-even")] == "2,996.40 (venue)"
    assert bybit[names.index("funding")] == "-0.0250%"
    assert bybit[names.index("next funding")] == "04:05"
    assert bybit[names.index("funding pnl")] == "-1.25 USDT"
    assert (bybit[names.index("TP")], bybit[names.index("SL")]) == ("2,500.00", "3,300.00")
    data = row(next(p for p in live.positions if p.venue == "bybit"), T_MS)
    assert {k: data[k] for k in FUNDING_FIELDS} == {
        "funding_rate": -0.00025, "next_funding_ms": T_MS + 245_000, "venue_break_even_price": 2_996.4,
        "funding_pnl": -1.25, "take_profit": 2_500.0, "stop_loss": 3_300.0}


def test_check_json_carries_the_funding_and_venue_fields(tmp_path):
    assert set(FUNDING_FIELDS) <= set(EXTRA_FIELDS)
    path = tmp_path / "portfolio.toml"
    path.write_text(PORTFOLIO)
    out = subprocess.run(
        [ADLWATCH, "check", "--offline", "--json", "--portfolio", str(path),
         "--mark", "BTCUSDT=61000", "--mark", "ETHUSDT=2900", "--mark", "BTCUSD_PERP=40000"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode in (0, 3), out.stderr
    for position in json.loads(out.stdout):
        assert set(FUNDING_FIELDS) <= set(position)
        # A manual portfolio without a feed: no funding known, no venue figures.
        assert all(position[k] is None for k in FUNDING_FIELDS)
