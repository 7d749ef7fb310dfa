"""The selected position's mark price over time, with its liquidation and bankruptcy prices (with no
position held, the first contract's mark alone).

Drawn with textual-plot's PlotWidget: a native Textual widget (textual-plotext is unmaintained
since 2024), with high-resolution braille lines and no extra runtime.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import var
from textual.widgets import Static
from textual_plot import HiResMode, PlotWidget

from adlwatch.engine.monitor import MonitorState
from adlwatch.tui import format as fmt

NO_POSITION = "no position selected"


class MarkChart(Vertical):
    # Bound to the app's: the state, and the selected position (its key, "account:index"), set before it.
    view: var[MonitorState | None] = var(None, always_update=True)
    selected: var[str | None] = var(None)
    _titled: object = None
    _plotted: object = None

    def watch_view(self, view: MonitorState | None) -> None:
        if view is not None:
            self.show(view, self.selected)

    def on_resize(self) -> None:
        if self.view is not None:  # the title's lines follow the width
            self.show(self.view, self.selected)

    def compose(self) -> ComposeResult:
        yield Static("", id="chart-title")
        yield PlotWidget(id="plot", allow_pan_and_zoom=False)

    def show(self, view: MonitorState, key: str | None) -> None:
        risk = next((p for p in view.snapshot.positions if f"{p.account}:{p.index}" == key), None)
        if risk is not None:
            contract = (risk.venue, risk.symbol)
            series = view.mark_history.get(contract, ())
            heading = (f"{risk.symbol} {risk.side}: mark {fmt.price(risk.mark_price)}",
                       f"[bold red]liq. {fmt.price(risk.liquidation_price)}[/]",
                       f"[magenta]bankr. {fmt.price(risk.bankruptcy_price)}[/]")
            levels = ((risk.liquidation_price, "bright_red", "liquidation"),
                      (risk.bankruptcy_price, "magenta", "bankruptcy"))
        elif not view.snapshot.positions and view.mark_history:  # nothing held: the contract the view carries
            contract, series = next(iter(view.mark_history.items()))
            heading = (f"{contract[0]} {contract[1]}: mark {fmt.price(series[-1][1] if series else None)}",
                       "(no position held: g next contract, n adds one)")
            levels = ()
        else:
            self._draw(NO_POSITION, None, (), ())
            return
        title = self.query_one("#chart-title", Static)
        self._draw(fit_title((*heading, "x: minutes" if series else "(no history yet)"), title.size.width),
                   contract, series, levels)

    def _draw(self, heading: str, contract: tuple[str, str] | None, series: tuple[tuple[int, float], ...],
              levels: tuple[tuple[float | None, str, str], ...]) -> None:
        """The title, and the mark line with a level line per price; each redrawn only when it changed.

        The title and the chart are fixed in size (app.tcss): a change repaints them, never lays out the
        screen. Re-plotting costs tens of milliseconds and two frames of the screen (the plot draws its
        canvas when it renders, which repaints the canvas): only when the line or the price levels
        moved, and while the same contract stays charted with the same levels, at most once per
        second of the marks' own time. The x axis counts minutes, so a dot column spans seconds once a
        minute is drawn; the title carries the latest mark at every tick.
        """
        plot = self.query_one(PlotWidget)
        if heading != self._titled:
            self._titled = heading
            self.query_one("#chart-title", Static).update(heading, layout=False)
        prices = tuple(p for p, _, _ in levels)
        last = series[-1] if series else None
        plotted = (contract, len(series), last, prices, plot.size.width)
        if plotted == self._plotted:
            return
        before = self._plotted
        if (before is not None and (contract, plot.size.width) == (before[0], before[4])
                and tuple(p is None for p in prices) == tuple(p is None for p in before[3])
                and before[1] >= 2 and last is not None and before[2] is not None
                and last[0] // 1000 == before[2][0] // 1000):
            return  # the same chart, moved within the second already drawn: the next second draws it
        self._plotted = plotted
        plot.clear()
        if len(series) < 2:
            return
        t0 = series[0][0]
        x_end = (series[-1][0] - t0) / 60_000
        thinned = envelope(series, 2 * plot.size.width)  # braille: two dots a cell across
        ys = [p for _, p in thinned]
        plot.plot([(t - t0) / 60_000 for t, _ in thinned], ys, line_style="bright_cyan",
                  hires_mode=HiResMode.BRAILLE, label="mark")
        lo, hi = min(ys), max(ys)
        for price, style, label in levels:
            if price is not None:
                plot.plot([0.0, x_end], [price, price], line_style=style, hires_mode=HiResMode.BRAILLE, label=label)
                lo, hi = min(lo, price), max(hi, price)
        pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1.0
        plot.set_ylimits(lo - pad, hi + pad)
        plot.set_xlimits(0.0, x_end)


def fit_title(parts: tuple[str, ...], width: int) -> str:
    """The title's parts (Rich markup) two spaces apart, each starting a new line where it would run
    past ``width`` cells (0: not laid out yet, one line): a narrow chart's title is two lines high
    (app.tcss), so its liquidation and bankruptcy prices show whole, and a third line is cut."""
    lines: list[list[str]] = [[]]
    used = 0
    for part in parts:
        cells = Text.from_markup(part).cell_len
        if lines[-1] and width and used + 2 + cells > width:
            lines.append([])
            used = 0
        used += cells + (2 if lines[-1] else 0)
        lines[-1].append(part)
    return "\n".join("  ".join(line) for line in lines)


def envelope(series: tuple[tuple[int, float], ...], columns: int) -> tuple[tuple[int, float], ...]:
    """The series thinned to what ``columns`` dots across can show: in each column its lowest and its
    highest point, in the order they came, so a wick survives. Drawing 4,000 points took three times
    as long as drawing the few hundred a chart can show."""
    if columns < 1 or len(series) <= 2 * columns:
        return series
    t_first, t_last = series[0][0], series[-1][0]
    span = (t_last - t_first) or 1
    out: list[tuple[int, float]] = []
    column = 0
    low = high = series[0]
    for point in series[1:]:
        c = min(columns - 1, (point[0] - t_first) * columns // span)
        if c != column:
            out.extend(sorted({low, high}))
            column, low, high = c, point, point
        elif point[1] < low[1]:
            low = point
        elif point[1] > high[1]:
            high = point
    out.extend(sorted({low, high}))
    return tuple(out)
