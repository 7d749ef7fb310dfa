"""The positions' columns: one list for ``adlwatch check``'s table and the screen's positions table.

Each figure is one ``Column``: its header, its words (tui/format.py) as check prints them and as the
screen shows them (the screen's narrow form is shorter, and coloured), its alignment, when it is shown,
and whether it is a key column on the screen (kept on screen while the rest scrolls sideways). The two
tables lay the same columns out in their own order (``CHECK_ORDER``, ``SCREEN_ORDER``): the screen keeps
its key columns first and a figure beside the one it is read with (to liq. after liq.); check keeps the
order its readers and scripts have parsed since it was first printed. Formats, never calculates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from adlwatch.engine.monitor import closed_label
from adlwatch.engine.snapshot import PositionRisk, funding_countdown_s
from adlwatch.engine.venues import VENUE_RULES
from adlwatch.tui import format as fmt

# A screen cell is a few (text, Rich style) spans: most have one, the lights two.
Span = tuple[str, str]
Cell = tuple[Span, ...]

STALE_MARK = "†"  # beside a liquidation price whose tier table is old, unverified or undated
VENUE_MARK = " v"  # after a figure that is the venue's own (a followed position's break-even), in cyan

# Short names of the ADL ranking formulas on screen (full names in check, --json and the help screen).
FORMULA_TAGS = {
    "binance_leverage_pnl": "LevPnL",
    "bybit_pnl_x_leverage": "PnL%×lev",
    "okx_pnl_pct_x_eff_leverage": "PnL%×lev",
    "hyperliquid_index": "HL idx",
}


class Context(NamedTuple):
    """What a cell is formatted against besides its position."""

    now_ms: int | float | None = None  # a tier table's age and the funding countdown are judged at it
    compact: bool = False  # the screen's narrow form: venue codes, side and mode in one cell
    stale_marks: bool = False  # check: some liquidation price is marked †, the others keep its room
    changes: Mapping[tuple[int, int], Any] | None = None  # during a what-if: each position's change


def venue_code(venue: str) -> str:
    """The venue's short code in compact tables (its rules module's ``DISPLAY_CODE``)."""
    rules = VENUE_RULES.get(venue)
    return rules.DISPLAY_CODE if rules is not None else venue


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


def lights(quantile: int | None) -> Cell:
    """The 5-light ADL indicator on screen: lit in yellow, in bold red from 4."""
    if quantile is None:
        return (("·····", "dim"),)
    return ("●" * quantile, "bold red" if quantile >= 4 else "yellow"), ("○" * (5 - quantile), "dim")


def _signed_style(x: float | None) -> str:
    return "" if x is None else ("green" if x >= 0 else "red")


def _plain(text: Callable[[PositionRisk, Context], str], style: Callable[[PositionRisk], str] | None = None):
    """The screen's cell: check's words, in ``style`` (none by default)."""
    if style is None:
        return lambda p, c: ((text(p, c), ""),)
    return lambda p, c: ((text(p, c), style(p)),)


def _delta(change: float | None, unit: str, settle: str = "USD") -> str:
    """A change: in points (``unit`` "pt"), or in the settlement asset at its own precision (a
    coin-settled 0.0035 BTC reads +0.003500, never +0.00)."""
    if change is None:
        return "--"
    if abs(change) < 1e-12:
        return "0"
    if unit:
        return f"{change:+,.2f}{unit}"
    return fmt.settle_amount(change, settle, signed=True)


def _change(p: PositionRisk, c: Context) -> Any:
    return None if c.changes is None else c.changes.get((p.account, p.index))


# -- the cells that differ between check and the screen ---------------------------------------------
def _liquidation_text(p: PositionRisk, c: Context) -> str:
    mark = (f" {STALE_MARK}" if p.tiers_stale(c.now_ms) else "  ") if c.stale_marks else ""
    return fmt.price(p.liquidation_price) + mark


def _liquidation_cell(p: PositionRisk, c: Context) -> Cell:
    """The liquidation price, marked † when the tier table it stands on is old (at the context's
    clock: the replay's in a replay), unverified or undated."""
    price = (fmt.price(p.liquidation_price), "bold")
    return (price, (f" {STALE_MARK}", "yellow")) if p.tiers_stale(c.now_ms) else (price,)


def _distance_text(p: PositionRisk, c: Context) -> str:
    return closed_label(p) or fmt.pct(p.distance_pct)  # LIQUIDATED / ADL: the monitor's (replay, demo)


def _distance_cell(p: PositionRisk, c: Context) -> Cell:
    closed = closed_label(p)
    return ((closed, "bold white on red"),) if closed else ((fmt.pct(p.distance_pct), distance_style(p.distance_pct)),)


def _side_cell(p: PositionRisk, c: Context) -> Cell:
    side = f"{p.side} {'i' if p.margin_mode == 'isolated' else 'x'}" if c.compact else str(p.side)
    return ((side, "green" if p.side == "long" else "red"),)


def _upnl_cell(p: PositionRisk, c: Context) -> Cell:
    upnl = fmt.settle_amount(p.unrealized_pnl, p.settle) + ("" if c.compact else f" {p.settle}")
    return ((upnl, "green" if (p.unrealized_pnl or 0) >= 0 else "red"),)


def _adl_cell(p: PositionRisk, c: Context) -> Cell:
    score = fmt.score(p.adl_score)
    return ((score if c.compact else f"{score} {FORMULA_TAGS.get(p.adl_formula, p.adl_formula)}", ""),)


def _break_even_text(p: PositionRisk, c: Context) -> str:
    if p.venue_break_even_price is not None:
        return f"{fmt.price(p.venue_break_even_price)} (venue)"
    return fmt.price(p.break_even_price)


def _break_even_cell(p: PositionRisk, c: Context) -> Cell:
    """Ours, or for a followed position the venue's own when it reports one, marked as the venue's."""
    if p.venue_break_even_price is not None:
        return (fmt.price(p.venue_break_even_price), ""), (VENUE_MARK, "cyan")
    return ((fmt.price(p.break_even_price), ""),)


def _funding_pnl(p: PositionRisk) -> str:
    return "" if p.funding_pnl is None else fmt.settle_amount(p.funding_pnl, p.settle, signed=True)


def _liquidation_diff(p: PositionRisk, disagrees: str) -> str:
    if p.liquidation_diff_pct is None:
        return ""
    return f"{p.liquidation_diff_pct:+.2f}%" + (disagrees if p.disagreement else "")


def _optional_price(x: float | None) -> str:
    return "" if x is None else fmt.price(x)


# -- when a column is shown --------------------------------------------------------------------------
Shown = Callable[[Sequence[PositionRisk]], bool]


def always(positions: Sequence[PositionRisk]) -> bool:
    return True


def some(field: str) -> Shown:
    """When some position has the figure."""
    return lambda positions: any(getattr(p, field) is not None for p in positions)


def followed(positions: Sequence[PositionRisk]) -> bool:
    """When some position comes from a followed account: the venue's own figures beside ours."""
    return any(p.imported for p in positions)


def triggers(positions: Sequence[PositionRisk]) -> bool:
    return any(p.take_profit is not None or p.stop_loss is not None for p in positions)


@dataclass(frozen=True, slots=True)
class Column:
    """One figure of a position as a column of both tables."""

    key: str  # the screen's name for it (``PositionsTable.cell``)
    header: str  # check's header, and the screen's unless ``screen_header``
    text: Callable[[PositionRisk, Context], str]  # check's words
    cell: Callable[[PositionRisk, Context], Cell] | None = None  # the screen's; None: check's words, unstyled
    right: bool = False  # numbers align right
    shown: Shown = always  # in check's table
    # On screen (None: as in check). The screen keeps the funding columns rather than let the table
    # jump sideways when a feed's first rate lands, and shows TP and SL as a pair.
    on_screen: Shown | None = None
    key_column: bool = False  # on screen: stays while the rest scrolls sideways
    screen_header: str | None = None
    compact_header: str | None = None  # the screen's narrow form
    in_compact: bool = True  # the narrow screen shows it (mode is in the side cell there)
    what_if_for: str | None = None  # on screen during a what-if, in place of this column
    in_check: bool = True  # check prints it (the what-if changes are the screen's only)

    def __post_init__(self) -> None:
        if self.cell is None:  # check's words, unstyled
            text = self.text
            object.__setattr__(self, "cell", lambda p, c: ((text(p, c), ""),))

    def label(self, compact: bool) -> str:
        """The screen's header."""
        full = self.screen_header or self.header
        return (self.compact_header or full) if compact else full


COLUMNS: tuple[Column, ...] = (
    Column("venue", "venue", lambda p, c: p.venue, lambda p, c: ((venue_code(p.venue) if c.compact else p.venue, ""),),
           key_column=True),
    Column("symbol", "symbol", lambda p, c: p.symbol, key_column=True),
    Column("side", "side", lambda p, c: str(p.side), _side_cell, key_column=True),
    Column("size", "size", lambda p, c: fmt.size(p.size), right=True),
    Column("entry", "entry", lambda p, c: fmt.price(p.entry_price), right=True),
    Column("mark", "mark", lambda p, c: fmt.price(p.mark_price), right=True),
    Column("liq", "liq. price", _liquidation_text, _liquidation_cell, right=True, compact_header="liq."),
    Column("bankr", "bankr. price", lambda p, c: fmt.price(p.bankruptcy_price), right=True, compact_header="bankr."),
    Column("dist", "dist.", _distance_text, _distance_cell, right=True, key_column=True),
    Column("lev", "lev.", lambda p, c: fmt.leverage(p.effective_leverage), right=True),
    Column("mode", "mode", lambda p, c: str(p.margin_mode),
           lambda p, c: (("iso" if p.margin_mode == "isolated" else str(p.margin_mode), ""),), in_compact=False),
    Column("upnl", "uPnL", lambda p, c: f"{fmt.settle_amount(p.unrealized_pnl, p.settle)} {p.settle}", _upnl_cell,
           right=True),
    Column("adl", "ADL score", lambda p, c: f"{fmt.score(p.adl_score)} ({p.adl_formula})", _adl_cell,
           compact_header="ADL"),
    Column("lights", "ADL est.", lambda p, c: fmt.lights(p.adl_quantile), lambda p, c: lights(p.adl_quantile),
           key_column=True, screen_header="est."),
    # The position panel's figures (the same solver's).
    Column("to_liq", "to liq.", lambda p, c: fmt.price(p.distance_price),
           lambda p, c: ((fmt.price(p.distance_price), distance_style(p.distance_pct) if p.distance_price is not None
                          else ""),), right=True),
    Column("upnl_usd", "uPnL $", lambda p, c: fmt.settle_amount(p.unrealized_pnl_usd, "USD"),
           _plain(lambda p, c: fmt.settle_amount(p.unrealized_pnl_usd, "USD"), lambda p: _signed_style(p.unrealized_pnl_usd)),
           right=True),
    Column("roe", "ROE", lambda p, c: fmt.pct(p.roe_pct),
           _plain(lambda p, c: fmt.pct(p.roe_pct), lambda p: _signed_style(p.roe_pct)), right=True),
    Column("notional_usd", "notional $", lambda p, c: fmt.usd(p.notional_usd), right=True),
    Column("margin", "margin", lambda p, c: f"{fmt.settle_amount(p.position_margin, p.settle)} {p.settle}",
           _plain(lambda p, c: fmt.settle_amount(p.position_margin, p.settle)), right=True),
    Column("break_even", "break-even", _break_even_text, _break_even_cell, right=True),
    Column("funding", "funding", lambda p, c: fmt.rate_pct(p.funding_rate), right=True,
           shown=some("funding_rate"), on_screen=always),
    Column("next_funding", "next funding", lambda p, c: fmt.countdown(funding_countdown_s(p.next_funding_ms, c.now_ms)),
           right=True, shown=some("next_funding_ms"), on_screen=always, screen_header="next"),
    # A followed account's own: its funding paid or received, its TP/SL triggers.
    Column("funding_pnl", "funding pnl", lambda p, c: "" if p.funding_pnl is None else f"{_funding_pnl(p)} {p.settle}",
           _plain(lambda p, c: _funding_pnl(p), lambda p: _signed_style(p.funding_pnl)), right=True,
           shown=some("funding_pnl")),
    Column("take_profit", "TP", lambda p, c: _optional_price(p.take_profit), right=True,
           shown=some("take_profit"), on_screen=triggers),
    Column("stop_loss", "SL", lambda p, c: _optional_price(p.stop_loss), right=True,
           shown=some("stop_loss"), on_screen=triggers),
    # A followed account's: the venue's own liquidation price and ADL lights beside ours.
    Column("vliq", "venue liq.", lambda p, c: fmt.price(p.venue_liquidation_price) if p.imported else "", right=True,
           shown=followed),
    Column("dliq", "Δ liq.", lambda p, c: _liquidation_diff(p, " !"),
           lambda p, c: ((_liquidation_diff(p, " ≠"), "bold black on yellow" if p.disagreement else ""),),
           right=True, shown=followed),
    Column("vlights", "venue ADL", lambda p, c: fmt.lights(p.venue_adl_lights) if p.imported else "",
           lambda p, c: lights(p.venue_adl_lights) if p.venue_adl_lights is not None else (("", ""),),
           shown=followed, screen_header="venue"),
    # During a what-if the static entry price and the (not yet modelled) lights make room for the change
    # of the two figures a trader watches (check has no live figures to compare a shock with).
    Column("d_upnl", "Δ uPnL", lambda p, c: _delta(getattr(_change(p, c), "unrealized_pnl", None), "", p.settle),
           right=True, what_if_for="entry", in_check=False),
    Column("d_dist", "Δ dist.", lambda p, c: _delta(getattr(_change(p, c), "distance_pct", None), "pt"),
           right=True, what_if_for="lights", in_check=False),
)
BY_KEY = {c.key: c for c in COLUMNS}

# The ``check --json`` fields (tui/check.py) each column shows; the fields no column shows, and where
# a reader finds them instead. Tests keep the two complete: a new JSON field is a decision here.
FIELDS = {
    "venue": ("venue",), "symbol": ("symbol",), "side": ("side",), "size": ("size",), "entry": ("entry_price",),
    "mark": ("mark_price",), "liq": ("liquidation_price", "tiers_stale"), "bankr": ("bankruptcy_price",),
    "dist": ("distance_pct",), "lev": ("effective_leverage",), "mode": ("margin_mode",),
    "upnl": ("unrealized_pnl", "settle"), "adl": ("adl_score", "adl_formula"), "lights": ("adl_quantile",),
    "to_liq": ("distance_price",), "upnl_usd": ("unrealized_pnl_usd",), "roe": ("roe_pct",),
    "notional_usd": ("notional_usd",), "margin": ("position_margin",),
    "break_even": ("break_even_price", "venue_break_even_price"), "funding": ("funding_rate",),
    "next_funding": ("next_funding_ms",), "funding_pnl": ("funding_pnl",), "take_profit": ("take_profit",),
    "stop_loss": ("stop_loss",), "vliq": ("venue_liquidation_price", "imported"),
    "dliq": ("liquidation_diff_pct", "disagreement"), "vlights": ("venue_adl_lights",),
}
ELSEWHERE = {
    "notional": "in the settlement asset: the table gives it in USD (notional $)",
    "margin_balance": "the accounts' lines (check) and panel (screen)",
    "maintenance_margin": "the accounts' lines (check) and panel (screen)",
    "leverage": "the leverage set: the edit form (e); the table gives the effective one",
    "kind": "linear or inverse: the settlement asset beside the uPnL says it",
    "isolated_margin": "the margin column (isolated margin + uPnL), the m prompt",
    "account": "the row's account: the accounts' lines and panel",
    "adl_alternatives": "--json only: the score by the other formulas the venue could be using",
    "hedge": "the hedges panel (its group)",
    "venue_adl_raw": "the ADL screen (i): the venue's own indicator, in its words",
    "tiers_as_of": "the † footnote (check), tiers (the CLI)",
    "tiers_source": "the † footnote (check), tiers (the CLI)",
    "tiers_verified": "the † footnote (check), tiers (the CLI)",
}

# check: the contract's figures first, then the position panel's, then the venue's own.
CHECK_ORDER = ("venue", "symbol", "side", "size", "entry", "mark", "liq", "bankr", "dist", "lev", "mode", "upnl", "adl",
               "lights", "to_liq", "upnl_usd", "roe", "notional_usd", "margin", "break_even", "funding", "next_funding",
               "funding_pnl", "take_profit", "stop_loss", "vliq", "dliq", "vlights")
# The screen: the key columns first, then the rest (scrolled sideways when the terminal is narrower).
SCREEN_ORDER = ("venue", "symbol", "side", "dist", "lights", "size", "entry", "mark", "liq", "to_liq", "bankr", "lev",
                "mode", "upnl", "upnl_usd", "roe", "notional_usd", "margin", "break_even", "funding", "next_funding", "adl",
                "vliq", "dliq", "vlights", "funding_pnl", "take_profit", "stop_loss")
KEY_COLUMNS = tuple(BY_KEY[k] for k in SCREEN_ORDER if BY_KEY[k].key_column)
WHAT_IF = {c.what_if_for: c for c in COLUMNS if c.what_if_for}


def check_columns(positions: Sequence[PositionRisk]) -> tuple[Column, ...]:
    """check's columns for these positions, in its order."""
    return tuple(c for c in (BY_KEY[k] for k in CHECK_ORDER) if c.shown(positions))


def screen_columns(positions: Sequence[PositionRisk], hypothetical: bool, compact: bool) -> tuple[Column, ...]:
    """The screen's columns for these positions: the key ones first; during a what-if the changes in
    place of the entry and the lights."""
    out = []
    for key in SCREEN_ORDER:
        column = BY_KEY[key]
        if (compact and not column.in_compact) or not (column.on_screen or column.shown)(positions):
            continue
        out.append(WHAT_IF.get(key, column) if hypothetical else column)
    return tuple(out)
