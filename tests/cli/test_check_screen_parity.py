"""``adlwatch check`` shows what the screen shows: both tables are laid out from one column list
(tui/columns.py), every column carries the same figure, formatted alike, in both for the same
portfolio and marks, every field ``--json`` carries has a column or a stated place, and ``--json``
carries the funding and the venue's own panel fields."""

from __future__ import annotations

import json
import subprocess

from adlwatch.engine.events import AccountState, FundingRate, ImportedPosition, MarkPrice
from adlwatch.engine.monitor import Monitor
from adlwatch.tui.check import CONTRACT_FIELDS, EXTRA_FIELDS, render_table, row
from adlwatch.tui.columns import BY_KEY, CHECK_ORDER, COLUMNS, ELSEWHERE, FIELDS, SCREEN_ORDER, check_columns
from adlwatch.tui.widgets.positions import FIXED_COLUMNS, columns_for, position_cells
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


def followed_state():
    """The portfolio with a followed Bybit account: every column both tables have is shown."""
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
    return monitor.state(T_MS / 1000)


def test_check_shows_funding_and_a_followed_positions_own_figures_when_there_are_some():
    live = followed_state().live
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


def test_both_tables_lay_out_the_same_columns_from_one_list():
    shown_in_check = {c.key for c in COLUMNS if c.in_check}
    assert len(CHECK_ORDER) == len(set(CHECK_ORDER)) and set(CHECK_ORDER) == shown_in_check
    assert len(SCREEN_ORDER) == len(set(SCREEN_ORDER)) and set(SCREEN_ORDER) == shown_in_check
    # The screen's key columns come first: they stay while the rest scrolls by whole columns.
    assert [BY_KEY[k].key_column for k in SCREEN_ORDER] == [True] * FIXED_COLUMNS + [False] * (
        len(SCREEN_ORDER) - FIXED_COLUMNS)
    state = followed_state()
    positions = state.live.positions
    on_screen = {key for key, _ in columns_for(positions, False, False)}
    assert {c.key for c in check_columns(positions)} == on_screen == shown_in_check


def test_every_field_check_json_carries_has_a_column_or_a_stated_place():
    fields = set(CONTRACT_FIELDS + EXTRA_FIELDS)
    shown = [f for key in FIELDS for f in FIELDS[key]]
    assert len(shown) == len(set(shown)), "a field shown by two columns"
    assert set(FIELDS) == {c.key for c in COLUMNS if c.in_check}
    assert not set(shown) & set(ELSEWHERE)
    assert set(shown) | set(ELSEWHERE) == fields, (fields - set(shown) - set(ELSEWHERE), set(shown) - fields)


def test_every_column_shows_the_same_figure_in_check_and_on_the_screen():
    """The figure itself (a cell's first word) is the same in check's printed cell and on the screen;
    the screen abbreviates the margin mode, and draws unknown lights as dim dots rather than --."""
    state = followed_state()
    text = render_table(state.live, T_MS)
    names, _ = table_columns(text)
    assert names == [c.header for c in check_columns(state.live.positions)]
    spans = [(a, a + len(dashes)) for a, dashes in _rule_spans(text.splitlines()[1])]
    printed_rows = [[line[a:b].strip() for a, b in spans] for line in text.splitlines()[2:2 + len(state.live.positions)]]
    keys = [c.key for c in check_columns(state.live.positions)]
    for p, printed in zip(state.live.positions, printed_rows, strict=True):
        assert printed[:2] == [p.venue, p.symbol]
        cells = position_cells(p, state, compact=False)
        for key, cell in zip(keys, printed, strict=True):
            shown = "".join(span for span, _ in cells[key])
            if key == "mode":
                assert cell.startswith(shown), (p.symbol, cell, shown)
            elif key in ("lights", "vlights") and cell == "--":
                assert shown in ("·····", ""), (p.symbol, key, shown)
            else:
                assert cell.split(" ")[0] == shown.split(" ")[0], (p.symbol, key, cell, shown)
    assert set(keys) == set(CHECK_ORDER)


def _rule_spans(rule: str):
    start = 0
    for dashes in rule.split("  "):
        yield start, dashes
        start += len(dashes) + 2
