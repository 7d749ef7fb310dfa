"""The positions table: one row per position, formatted from the snapshot (no maths here)."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from engine.risk import PositionRisk
from tui import format as fmt
from tui.state import ViewState

COLUMNS = (
    ("venue", "venue"),
    ("symbol", "symbol"),
    ("side", "side"),
    ("size", "size"),
    ("entry", "entry"),
    ("mark", "mark"),
    ("liq", "liq. price"),
    ("bankr", "bankr. price"),
    ("dist", "dist."),
    ("lev", "lev."),
    ("mode", "mode"),
    ("upnl", "uPnL"),
    ("adl", "ADL score"),
    ("lights", "est."),
)
# During a what-if the static entry price and the (not yet modelled) lights make room for the
# change of the two figures a trader watches, so the table keeps its width.
WHAT_IF_COLUMNS = tuple(
    ("d_upnl", "Δ uPnL") if key == "entry" else ("d_dist", "Δ dist.") if key == "lights" else (key, label)
    for key, label in COLUMNS
)

# Narrow terminals (under ~150 columns): venue codes, side and mode in one cell, no entry price.
COMPACT_COLUMNS = (
    ("venue", "ven."),
    ("symbol", "symbol"),
    ("side", "side"),
    ("size", "size"),
    ("mark", "mark"),
    ("liq", "liq."),
    ("bankr", "bankr."),
    ("dist", "dist."),
    ("lev", "lev."),
    ("upnl", "uPnL"),
    ("adl", "ADL"),
    ("lights", "est."),
)
COMPACT_WHAT_IF_COLUMNS = tuple(("d_dist", "Δ dist.") if key == "lights" else (key, label) for key, label in COMPACT_COLUMNS)
VENUE_CODES = {"binance": "BIN", "bybit": "BYB", "okx": "OKX", "hyperliquid": "HL"}

# Short names of the ADL ranking formulas (full names in --json and the help screen).
FORMULA_TAGS = {
    "binance_leverage_pnl": "LevPnL",
    "bybit_pnl_x_leverage": "PnL%×lev",
    "okx_pnl_pct_x_eff_leverage": "PnL%×lev",
    "hyperliquid_index": "HL idx",
}


def distance_style(distance_pct: float | None) -> str:
    """Colour bands: green > 10 %, yellow 3–10 %, red < 3 %, reverse red once past liquidation."""
    if distance_pct is None:
        return "green"
    if distance_pct < 0:
        return "bold white on red"
    if distance_pct < 3:
        return "bold red"
    if distance_pct < 10:
        return "yellow"
    return "green"


def lights(quantile: int | None) -> Text:
    if quantile is None:
        return Text("·····", style="dim")
    return Text("●" * quantile, style="bold red" if quantile >= 4 else "yellow") + Text("○" * (5 - quantile), style="dim")


def position_key(p: PositionRisk) -> str:
    return f"{p.account}:{p.index}"


class PositionsTable(DataTable):
    """Positions, with the selected one reported up as a message."""

    class Selected(Message):
        def __init__(self, key: str | None) -> None:
            self.key = key
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._layout: tuple[bool, bool] | None = None
        self._shown: dict[str, list[str]] = {}

    def _ensure_columns(self, what_if: bool, compact: bool) -> None:
        if self._layout == (what_if, compact):
            return
        self.clear(columns=True)
        if compact:
            columns = COMPACT_WHAT_IF_COLUMNS if what_if else COMPACT_COLUMNS
        else:
            columns = WHAT_IF_COLUMNS if what_if else COLUMNS
        for key, label in columns:
            self.add_column(label, key=key)
        self._layout = (what_if, compact)
        self._shown = {}

    def show(self, view: ViewState, compact: bool = False) -> None:
        selected = self.selected_key
        self._ensure_columns(view.hypothetical, compact)
        rows: list[tuple[str, list]] = []
        for p in view.snapshot.positions:
            live = view.live_position(p) if view.hypothetical else None
            if view.hypothetical:
                entry_cell = Text(_delta(p.unrealized_pnl, live.unrealized_pnl if live else None, ""), justify="right")
                last_cell = Text(_delta(p.distance_pct, live.distance_pct if live else None, "pt"), justify="right")
            else:
                entry_cell = Text(fmt.price(p.entry_price), justify="right")
                last_cell = lights(p.adl_quantile)
            cells = {
                "venue": VENUE_CODES.get(p.venue, p.venue) if compact else p.venue,
                "symbol": p.symbol,
                "side": Text(f"{p.side} {'i' if p.margin_mode == 'isolated' else 'x'}" if compact else p.side,
                             style="green" if p.side == "long" else "red"),
                "size": Text(fmt.size(p.size), justify="right"),
                "entry": entry_cell,
                "d_upnl": entry_cell,
                "mark": Text(fmt.price(p.mark_price), justify="right"),
                "liq": Text(fmt.price(p.liquidation_price), justify="right", style="bold"),
                "bankr": Text(fmt.price(p.bankruptcy_price), justify="right"),
                "dist": Text(fmt.pct(p.distance_pct), justify="right", style=distance_style(p.distance_pct)),
                "lev": Text(fmt.leverage(p.effective_leverage), justify="right"),
                "mode": "iso" if p.margin_mode == "isolated" else p.margin_mode,
                "upnl": Text(fmt.amount(p.unrealized_pnl) + ("" if compact else f" {p.settle}"), justify="right",
                             style="green" if (p.unrealized_pnl or 0) >= 0 else "red"),
                "adl": Text(fmt.score(p.adl_score) if compact
                            else f"{fmt.score(p.adl_score)} {FORMULA_TAGS.get(p.adl_formula, p.adl_formula)}"),
                "lights": last_cell,
                "d_dist": last_cell,
            }
            rows.append((position_key(p), [cells[str(column.key.value)] for column in self.columns.values()]))
        self._apply(rows, selected)

    def _apply(self, rows: list[tuple[str, list]], selected: str | None) -> None:
        """Patch only the cells that changed; rebuild when the set of positions changed."""
        keys = [key for key, _ in rows]
        column_keys = list(self.columns)
        if keys != [row.value for row in self.rows]:
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            self._shown = {key: [str(c) for c in cells] for key, cells in rows}
            if keys:
                self.move_cursor(row=keys.index(selected) if selected in keys else 0, animate=False)
            return
        for key, cells in rows:
            before = self._shown.get(key, [])
            for i, cell in enumerate(cells):
                text = str(cell)
                if i >= len(before) or before[i] != text:
                    self.update_cell(key, column_keys[i], cell, update_width=True)
            self._shown[key] = [str(c) for c in cells]

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.post_message(self.Selected(event.row_key.value if event.row_key else None))


def _delta(now: float | None, live: float | None, unit: str) -> str:
    if now is None or live is None:
        return "--"
    change = now - live
    if abs(change) < 1e-12:
        return "0"
    return f"{change:+,.2f}{unit}"
