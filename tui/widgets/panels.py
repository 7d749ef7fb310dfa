"""Side panels: accounts, funds and feeds, and the banner and replay bar.

Each is bound to the app's ``view`` (the monitor's ``MonitorState``) and renders its part of it when it changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.content import Content
from textual.geometry import Region
from textual.reactive import var
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget
from textual.widgets import Static

from adlwatch.engine.alerts import Alert
from adlwatch.engine.flow import pressure_word
from adlwatch.engine.monitor import MonitorState
from adlwatch.engine.snapshot import ContractRisk
from adlwatch.tui import format as fmt
from adlwatch.tui.columns import venue_code

SPARK = "▁▂▃▄▅▆▇█"

Span = tuple[str, str]  # (text, style)


class Panel(Static):
    """A Static that re-renders only when what it shows changed.

    An update that may change the panel's height needs a layout pass of the whole screen; one that
    keeps the same ``shape`` (anything that changes with the height, e.g. the row count) only repaints.
    """

    view: var[MonitorState | None] = var(None, always_update=True)  # bound to the app's
    _shown: object = None
    _shape: object = None

    def watch_view(self, view: MonitorState | None) -> None:
        if view is not None:
            self.show(view)

    def show(self, view: MonitorState) -> None:
        raise NotImplementedError

    def show_if_changed(self, signature: object, build, shape: object = None) -> None:
        if signature == self._shown:
            return
        self._shown = signature
        self.update(build(), layout=shape is None or shape != self._shape)
        self._shape = shape


@dataclass(frozen=True, slots=True)
class Grid:
    """A side panel's rows, formatted; laid out across the panel's width when drawn.

    A row with as many spans as the header has names is a table row; a row of one span is a line of
    its own (a feed's error, "no data").
    """

    header: tuple[str, ...]
    right: tuple[bool, ...]  # right-aligned columns
    rows: tuple[tuple[Span, ...], ...]
    # Columns that may go, in this order, when the panel is too narrow for them all (one cell between
    # columns first): a number is never cut. Empty: the first column is cropped instead.
    drop: tuple[int, ...] = ()

    @property
    def height(self) -> int:
        return len(self.rows) + (1 if self.header else 0)

    def lines(self, width: int) -> Content:
        """The grid as Content at ``width`` cells, columns spread over it (as Rich's Table(expand=True))."""
        return Content("\n").join(Content.assemble(*parts) for parts in self.line_parts(width))

    def line_parts(self, width: int) -> tuple[tuple[str | Span, ...], ...]:
        """Each line of the grid at ``width`` cells, as the parts of its Content."""
        n = len(self.header)
        table = [row for row in self.rows if len(row) == n]
        natural = [max([cell_len(name), *(cell_len(row[i][0]) for row in table)]) for i, name in enumerate(self.header)]
        kept, gap = list(range(n)), 2
        if self.drop and sum(natural) + 2 * n > width:
            gap = 1
            for i in self.drop:
                if sum(natural[k] for k in kept) + len(kept) + 1 <= width:
                    break
                kept.remove(i)
        room = width - gap * len(kept) - (1 if gap == 1 else 0)
        widths = _spread([natural[k] for k in kept], room) if n else []
        header = (tuple((name, "bold") for name in self.header),) if n else ()
        right = [self.right[k] for k in kept]
        lines = []
        for row in (*header, *self.rows):
            if len(row) != n:
                text, style = row[0]
                lines.append(((" " + _fit(text, width - 2, False) + " ", style),))
                continue
            parts: list[str | Span] = []
            for k, column_width, aligned_right in zip(kept, widths, right, strict=True):
                text, style = row[k]
                parts.extend((" ", (_fit(text, column_width, aligned_right), style), " " if gap == 2 else ""))
            if gap == 1:
                parts.append(" ")
            lines.append(tuple(parts))
        return tuple(lines)


def _spread(natural: list[int], room: int) -> list[int]:
    """Column widths filling ``room``: extra space shared in proportion, a shortfall taken from the first
    (the names, cropped with an ellipsis)."""
    total = sum(natural)
    if total >= room:
        return [max(1, natural[0] - (total - room)), *natural[1:]]
    extra = [(room - total) * w // total for w in natural]
    extra[-1] += room - total - sum(extra)
    return [w + e for w, e in zip(natural, extra, strict=True)]


def _fit(text: str, width: int, right: bool) -> str:
    if width <= 0:
        return ""
    used = cell_len(text)
    if used > width:
        return set_cell_size(text, width - 1) + "…"
    return " " * (width - used) + text if right else text + " " * (width - used)


class GridPanel(Widget):
    """A bordered side panel drawn from a ``Grid`` as Textual Content: about a fifth of the cost of the
    Rich Table it replaces, which matters at 5 repaints a second. Each line is rendered on its own and
    kept: a new grid repaints only the lines that changed (a fund panel whose history moved repaints
    that column's lines, not the panel)."""

    view: var[MonitorState | None] = var(None, always_update=True)  # bound to the app's
    _grid: Grid | None = None
    _laid_out: tuple[object, tuple[tuple[str | Span, ...], ...]] | None = None  # ((grid, width), its lines)
    _strips: dict[int, tuple[object, Strip]]  # line -> (what it was drawn from, the line)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._strips = {}

    def watch_view(self, view: MonitorState | None) -> None:
        if view is not None:
            self.show(view)

    def show(self, view: MonitorState) -> None:
        raise NotImplementedError

    def show_grid(self, grid: Grid) -> None:
        if grid == self._grid:
            return
        old, self._grid = self._grid, grid
        # Only a change in the number of lines can move the panels below: the rest is a repaint, of
        # the lines that changed.
        if old is None or grid.height != old.height or not self.size.width:
            self.refresh(layout=old is None or grid.height != old.height)
            return
        width = self.size.width
        before, now = self._line_parts(old, width), self._line_parts(grid, width)
        for y, (was, parts) in enumerate(zip(before, now, strict=True)):
            if was != parts:
                self.refresh(Region(0, y, width, 1))

    def _line_parts(self, grid: Grid, width: int) -> tuple[tuple[str | Span, ...], ...]:
        laid_out = self._laid_out
        if laid_out is None or laid_out[0] != (grid, width):
            laid_out = self._laid_out = ((grid, width), grid.line_parts(width))
        return laid_out[1]

    def render(self) -> Content:
        # What the layout measures (the panel's height is its grid's); the lines are drawn by render_line.
        return Content("") if self._grid is None else self._grid.lines(self.size.width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.visual_style
        lines = () if self._grid is None else self._line_parts(self._grid, width)
        if y >= len(lines):
            return Strip.blank(width, style.rich_style)
        made_of = (lines[y], width, style)
        cached = self._strips.get(y)
        if cached is None or cached[0] != made_of:
            strips = Visual.to_strips(self, Content.assemble(*lines[y]), width, 1, style)
            cached = self._strips[y] = (made_of, strips[0] if strips else Strip.blank(width, style.rich_style))
        return cached[1]


def sparkline(values: tuple[float, ...], width: int = 16) -> str:
    if not values:
        return ""
    values = values[-width:]
    lo, hi = min(values), max(values)
    if hi == lo:
        return SPARK[3] * len(values)
    return "".join(SPARK[int((v - lo) / (hi - lo) * (len(SPARK) - 1))] for v in values)


class AccountsPanel(GridPanel):
    BORDER_TITLE = "cross accounts"

    def show(self, view: MonitorState) -> None:
        rows = []
        for a in view.snapshot.accounts:
            name = (f"{a.venue} {a.settle}", "")
            if not a.cross_positions:
                # No position left (liquidated in a replay): its wallet, not "isolated".
                rows.append((name, ("isolated", "dim") if a.positions else (fmt.amount(a.wallet_balance), "dim"),
                             ("", ""), ("", "")))
                continue
            balance, maintenance = (fmt.amount(a.margin_balance), ""), (fmt.amount(a.maintenance_margin), "")
            ratio = a.margin_ratio
            if a.margin_balance is not None and a.margin_balance <= 0:
                rows.append((name, balance, maintenance, ("BANKRUPT", "bold white on red")))
                continue
            style = "bold red" if ratio is not None and ratio >= 0.8 else ("yellow" if ratio is not None and ratio >= 0.5 else "")
            rows.append((name, balance, maintenance, (f"{ratio * 100:.1f}%" if ratio is not None else "--", style)))
        self.show_grid(Grid(("account", "margin bal.", "maint.", "ratio"), (False, True, True, True), tuple(rows)))


VENUE_ADL_STYLES = {"low": "green", "medium": "yellow", "high": "bold red", "warning": "yellow", "adl": "bold red"}


def contract_label(venue: str, symbol: str) -> str:
    return f"{venue_code(venue)} {symbol}"


def fund_ratio_text(c: ContractRisk) -> str:
    """fund/OI as the panel shows it; over part of its pool's open interest an upper bound: "≤" and how
    many of the pool's contracts have a known open interest ("≤7.695% 1/8")."""
    if c.fund_to_oi is None:
        return "--"
    ratio = f"{c.fund_to_oi * 100:.3f}%"
    return f"≤{ratio} {c.fund_members_with_oi}/{c.fund_members}" if c.fund_to_oi_partial else ratio


def fund_words(c: ContractRisk | None) -> str:
    """The contract's insurance fund ÷ open interest in words (the ``i`` screen); "" without a fund."""
    if c is None or (c.fund_balance_usd is None and not c.fund_unvalued_assets):
        return ""
    n = c.fund_members
    backs = f"shared by the {n} contracts of its pool" if n > 1 else "backing this contract alone"
    parts = [f"Insurance fund {fmt.usd3(c.fund_balance_usd)}, {backs}."]
    if c.fund_to_oi is None:
        parts.append("No fund/OI: the open interest of the pool's contracts is not known here.")
    elif c.fund_to_oi_partial:
        parts.append(f"fund/OI at most {c.fund_to_oi * 100:.3f}%: only {c.fund_members_with_oi} of the {n} "
                     f"contracts' open interest is known, and the others' would lower it (an upper bound, "
                     f"not the pool's figure).")
    else:
        parts.append(f"fund/OI {c.fund_to_oi * 100:.3f}% over the open interest of every one of them."
                     if n > 1 else f"fund/OI {c.fund_to_oi * 100:.3f}%.")
    if c.fund_unvalued_assets:
        assets = ", ".join(c.fund_unvalued_assets)
        parts.append(f"Left out of the fund: {assets} (no mark here values it).")
    return " ".join(parts)


class FundsPanel(GridPanel):
    """Per contract: the insurance fund and the open interest (USD) beside their ratio and its
    history, the venue's own public ADL rating (Binance symbolAdlRisk; Bybit's and OKX's ADL alert
    states) beside adlwatch's estimate (the highest lights of the positions held in it)."""

    BORDER_TITLE = "insurance fund / open interest · ADL: venue / est."
    # Contracts whose fund and open interest are modelled rather than recorded (the demo's): the title
    # says so whenever one is shown.
    modelled: var[frozenset[tuple[str, str]]] = var(frozenset())
    modelled_tag: var[str] = var("modelled")

    def show(self, view: MonitorState) -> None:
        alerts = {(venue, symbol): state for venue, symbol, state in view.adl_alerts}
        contracts = [c for c in view.snapshot.contracts if c.fund_balance_usd is not None
                     or c.open_interest_usd is not None or c.venue_adl_risk is not None
                     or (c.venue, c.symbol) in alerts]
        if not contracts and not alerts:
            self.show_grid(Grid((), (), ((("no fund or open-interest data from this source", "dim"),),)))
            return
        lights: dict[tuple[str, str], int] = {}
        for p in view.snapshot.positions:
            if p.adl_quantile is not None:
                key = (p.venue, p.symbol)
                lights[key] = max(lights.get(key, 0), p.adl_quantile)
        rows = []
        listed = set()
        for c in contracts:
            key = (c.venue, c.symbol)
            listed.add(key)
            ratio = fund_ratio_text(c)
            rating = c.venue_adl_risk or alerts.get(key) or "--"
            rows.append(((contract_label(c.venue, c.symbol), ""), (fmt.usd3(c.fund_balance_usd), ""),
                         (fmt.usd3(c.open_interest_usd), ""), (ratio, "yellow" if c.fund_to_oi_partial else ""),
                         (sparkline(view.fund_history.get(key, ()), 12), ""),
                         (rating, VENUE_ADL_STYLES.get(rating, "dim")), (fmt.lights(lights.get(key)), "")))
        for key, state in alerts.items():
            if key not in listed:
                rows.append(((contract_label(*key), "bold red"), ("", ""), ("", ""), ("", ""), ("", ""),
                             (f"ADL {state}", VENUE_ADL_STYLES.get(state, "bold red")), (fmt.lights(lights.get(key)), "")))
        shown_modelled = sorted(symbol for venue, symbol in listed if (venue, symbol) in self.modelled)
        self.border_title = (f"fund / OI ({', '.join(shown_modelled)} {self.modelled_tag}) · ADL: venue / est."
                             if shown_modelled else self.BORDER_TITLE)
        self.show_grid(Grid(("contract", "fund", "OI", "fund/OI", "history", "venue", "est."),
                            (False, True, True, True, False, False, False), tuple(rows), drop=(6, 1, 2)))


FLOW_SPARK_WIDTH = 10
PRESSURE_STYLES = {"calm": "green", "elevated": "yellow", "heavy": "bold red", "cascade": "bold white on red"}


def flow_rows(view: MonitorState) -> tuple[tuple[Span, ...], ...]:
    """One row per contract held (and any other the monitor has flow for): the liquidated notional
    in USD by side of the liquidated positions, last minute and last five, the five minutes drawn
    in 10 s buckets, and the cascade pressure (heavier side ÷ insurance fund)."""
    flows = view.liquidation_flows
    held = list(dict.fromkeys((p.venue, p.symbol) for p in view.snapshot.positions))
    rows = []
    for key in dict.fromkeys([*held, *flows]):
        f = flows.get(key)
        if f is None:
            continue
        both = [a + b for a, b in zip(f.spark_long_usd, f.spark_short_usd, strict=True)]
        step = max(1, len(both) // FLOW_SPARK_WIDTH)  # 30 buckets of 10 s drawn as 10 of 30 s
        spark = tuple(sum(both[i:i + step]) for i in range(0, len(both), step))
        longs_heavier = f.heavier_side is not None and str(f.heavier_side) == "long"
        word = pressure_word(f.pressure)
        rows.append((
            (contract_label(*key), ""),
            (f"{fmt.usd3(f.long_1m_usd)}/{fmt.usd3(f.short_1m_usd)}", ""),
            (f"{fmt.usd3(f.long_5m_usd)}/{fmt.usd3(f.short_5m_usd)}", ""),
            (sparkline(spark, FLOW_SPARK_WIDTH) if any(spark) else "", "red" if longs_heavier else "green"),
            ("--" if f.pressure_pct is None else f"{f.pressure_pct:.2f}%", PRESSURE_STYLES.get(word, "dim")),
            (word if f.pressure is not None else "no fund", PRESSURE_STYLES.get(word, "dim")),
        ))
    quiet = [contract_label(*key) for key in held if key not in flows]
    if quiet:  # one line for them all: the panel stays short where no stream has spoken
        rows.append(((f"no liquidation heard: {', '.join(quiet)}", "dim"),))
    return tuple(rows)


class FlowPanel(GridPanel):
    """Liquidation flow per contract (the venues' public liquidation streams): long/short liquidated
    notional, 1 and 5 minutes, a sparkline of the five minutes, and the cascade pressure."""

    BORDER_TITLE = "liquidated longs/shorts $ · pressure: 5 min ÷ fund"

    def show(self, view: MonitorState) -> None:
        rows = flow_rows(view)
        if not any(len(row) > 1 for row in rows):  # no flow anywhere: one line, no header
            self.show_grid(Grid((), (), rows or ((("no contract held, no liquidation heard", "dim"),),)))
            return
        self.show_grid(Grid(("contract", "1m L/S", "5m L/S", "5 min", "pressure", ""),
                            (False, True, True, False, True, False), rows, drop=(5, 1, 3)))


class CriticalBanner(Static):
    """Positions the venue closed (liquidated or auto-deleveraged): the highest alert, shown across
    the screen until acknowledged (k), besides the alert log."""

    alerts: var[tuple[Alert, ...]] = var(())

    def watch_alerts(self, alerts: tuple[Alert, ...]) -> None:
        self.set_class(bool(alerts), "-active")
        if not alerts:
            self.update("")
            return
        lines = [f" {dt.datetime.fromtimestamp(a.ts_ms / 1000, dt.UTC):%H:%M:%S} {a.message}" for a in alerts[-3:]]
        more = f" (+{len(alerts) - 3} more in the log: A)" if len(alerts) > 3 else ""
        lines.append(f" k: acknowledge{more}")
        self.update(Text("\n".join(lines), style="bold"))


TROUBLE = ("stale", "disconnected", "error")
FEED_STYLES = {"connected": "green", "subscribed": "green", "replay": "cyan", "stale": "bold yellow",
               "disconnected": "bold red", "error": "bold red"}


def feed_endpoint(detail: str) -> str:
    """``host:port`` a feed's status names as the URL in use (``… via ws.okx.com:443``), else ""."""
    _, via, endpoint = detail.rpartition(" via ")
    return endpoint.strip() if via else ""


class FeedsPanel(GridPanel):
    BORDER_TITLE = "feeds (A: whole reasons)"
    source_label: var[str] = var("")  # bound to the app's: what the events come from

    def show(self, view: MonitorState) -> None:
        rows: list[tuple[Span, ...]] = []
        for f in view.feeds:
            age = "--"
            if f.last_mark_age_s is not None:
                age = f"{f.last_mark_age_s:.1f} s ago"
            rows.append(((f.venue, ""), (f.state, FEED_STYLES.get(f.state, "")), (age, "")))
            if f.state in TROUBLE and f.detail:
                rows.append(((f"  {f.detail}", "dim"),))
            elif endpoint := feed_endpoint(f.detail):
                rows.append(((f"  via {endpoint}", "dim"),))  # a venue with two URLs: the one in use
        if not view.feeds:
            rows.append(((self.source_label or "no feeds", "dim"),))
        self.show_grid(Grid(("venue", "feed", "last mark"), (False, False, False), tuple(rows)))


class ShockBanner(Panel):
    def show(self, view: MonitorState) -> None:
        self.show_if_changed(view.shocks, lambda: self._build(view))

    def _build(self, view: MonitorState):
        self.set_class(view.hypothetical, "-active")
        if not view.hypothetical:
            return ""
        moves = " · ".join(
            f"{s.symbol or (s.venue or 'all marks')} {s.pct:+g}%" for s in view.shocks
        )
        return Text(f" HYPOTHETICAL  {moves}   (press l to return to live) ", style="bold")


REPLAY_BAR_CELLS = 30  # the progress bar's; half under REPLAY_BAR_FULL_FROM columns, for the source's label
REPLAY_BAR_FULL_FROM = 140


class ReplayBar(Panel):
    source_label: var[str] = var("")  # bound to the app's: what the events come from

    def show(self, view: MonitorState) -> None:
        r = view.replay
        signature = (None if r is None else (r.position_ms // 1000, r.playing, r.speed, r.finished), self.source_label,
                     self.size.width)
        self.show_if_changed(signature, lambda: self._build(view), shape="one line")

    def _build(self, view: MonitorState):
        r = view.replay
        # One line: a label longer than the room left ends in … (app.tcss; the header has it on tall screens).
        if r is None:
            return Text(f" {self.source_label}", style="dim")
        clock = dt.datetime.fromtimestamp(r.position_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        speed = "max" if r.speed == float("inf") else f"{r.speed:g}x"
        state = "finished" if r.finished else ("playing" if r.playing else "paused")
        width = REPLAY_BAR_CELLS if self.size.width >= REPLAY_BAR_FULL_FROM else REPLAY_BAR_CELLS // 2
        filled = int(r.progress * width)
        bar = "█" * filled + "░" * (width - filled)
        return Text(f" REPLAY {clock}  {bar} {r.progress * 100:5.1f}%  {state} at {speed}  {self.source_label}")


ALERT_ROWS = 4  # the newest alerts shown; the whole log is in the alert screen (A)


class AlertsPanel(GridPanel):
    """The newest alerts, and where a followed position's figures differ from the venue's."""

    BORDER_TITLE = "alerts (A: the log)"

    def show(self, view: MonitorState) -> None:
        rows: list[tuple[Span, ...]] = []
        # The critical ones (positions the venue closed) first, then the newest of the rest.
        critical = list(reversed(view.critical_alerts[-ALERT_ROWS:]))
        others = [a for a in reversed(view.alerts) if not a.critical][:max(0, ALERT_ROWS - len(critical))]
        for alert in (*critical, *others):
            fired = alert.state == "fired"
            when = dt.datetime.fromtimestamp(alert.ts_ms / 1000, dt.UTC).strftime("%H:%M:%S")
            style = "bold white on red" if alert.critical else "bold red" if fired else "dim"
            # One line each, cropped to the panel: the whole text is in the log (A).
            rows.append(((f"{when} {'■' if alert.critical else '▲' if fired else '✓'} {alert.message}", style),))
        for p in view.live.positions:
            if p.disagreement:
                rows.append(((f"≠ {p.venue} {p.symbol}: {p.disagreement}", "yellow"),))
        if not rows:
            rows.append((("no alerts", "dim"),))
        self.show_grid(Grid((), (), tuple(rows)))


class HedgesPanel(GridPanel):
    """Hedge groups: net exposure, and what is left if one leg were auto-deleveraged now."""

    BORDER_TITLE = "hedges: net, and if one leg were ADL'd now"

    def show(self, view: MonitorState) -> None:
        self.set_class(not view.hedges, "-empty")  # hidden by the stylesheet while there is no hedge
        rows: list[tuple[Span, ...]] = []
        for h in view.hedges:
            net = f"{fmt.size(h.net_base_units)} {h.base_asset}" if h.net_base_units is not None else "--"
            rows.append(((h.name, "bold"), (net, ""), (fmt.amount(h.net_notional_usd), "")))
            for d in h.if_deleveraged:
                left = [leg.distance_pct for leg in d.residual if leg.distance_pct is not None]
                dist = f", liq. {min(left):+.1f}%" if left else ""
                residual = fmt.size(d.residual_base_units) if d.residual_base_units is not None else "--"
                rows.append(((f"  {d.leg.venue} {d.leg.symbol} ADL'd at {fmt.price(d.adl_price)}: left {residual}{dist}",
                              "yellow" if left and min(left) < 10 else "dim"),))
        self.show_grid(Grid(("hedge", "net", "net USD"), (False, True, True), tuple(rows)))
