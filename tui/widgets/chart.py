"""The selected position's mark price over time, with its liquidation and bankruptcy prices (with no
position held, the first contract's mark alone).

Drawn with textual-plot's PlotWidget: a native Textual widget (textual-plotext is unmaintained
since 2024), with high-resolution braille lines and no extra runtime.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plot import HiResMode, PlotWidget

from tui import format as fmt
from tui.state import ViewState

NO_POSITION = "no position selected"


class MarkChart(Vertical):
    _titled: object = None
    _plotted: object = None

    def compose(self) -> ComposeResult:
        yield Static("", id="chart-title")
        yield PlotWidget(id="plot", allow_pan_and_zoom=False)

    def show(self, view: ViewState, key: str | None) -> None:
        title = self.query_one("#chart-title", Static)
        plot = self.query_one(PlotWidget)
        risk = next((p for p in view.snapshot.positions if f"{p.account}:{p.index}" == key), None)
        # The title and the chart are fixed in size (app.tcss): a change repaints them, never lays out the screen.
        if risk is None and not view.snapshot.positions and view.mark_history:
            self._show_market(view, plot, title)  # nothing held: the one contract the view carries
            return
        if risk is None:
            if self._titled != NO_POSITION:
                self._titled, self._plotted = NO_POSITION, None
                title.update(NO_POSITION, layout=False)
                plot.clear()
            return
        series = view.mark_history.get((risk.venue, risk.symbol), ())
        titled = (risk.symbol, risk.side, risk.mark_price, risk.liquidation_price, risk.bankruptcy_price, bool(series))
        if titled != self._titled:
            self._titled = titled
            title.update(
                f"{risk.symbol} {risk.side}: mark {fmt.price(risk.mark_price)}  "
                f"[bold red]liq. {fmt.price(risk.liquidation_price)}[/]  [magenta]bankr. {fmt.price(risk.bankruptcy_price)}[/]"
                + ("  x: minutes" if series else "  (no history yet)"),
                layout=False,
            )
        # Re-plotting costs tens of milliseconds: only when the line or the price levels moved.
        plotted = (key, len(series), series[-1] if series else None, risk.liquidation_price, risk.bankruptcy_price,
                   plot.size.width)
        if plotted == self._plotted:
            return
        self._plotted = plotted
        plot.clear()
        drawn = _plot_series(plot, series)
        if drawn is None:
            return
        _, x_end, lo, hi = drawn
        for price, style, label in (
            (risk.liquidation_price, "bright_red", "liquidation"),
            (risk.bankruptcy_price, "magenta", "bankruptcy"),
        ):
            if price is not None:
                plot.plot([0.0, x_end], [price, price], line_style=style, hires_mode=HiResMode.BRAILLE, label=label)
                lo, hi = min(lo, price), max(hi, price)
        _limits(plot, x_end, lo, hi)

    def _show_market(self, view: ViewState, plot: PlotWidget, title: Static) -> None:
        (venue, symbol), series = next(iter(view.mark_history.items()))
        last = series[-1][1] if series else None
        titled = ("market", venue, symbol, last)
        if titled != self._titled:
            self._titled = titled
            title.update(f"{venue} {symbol}: mark {fmt.price(last)}  (no position held: g next contract, n adds one)",
                         layout=False)
        plotted = ("market", venue, symbol, len(series), series[-1] if series else None, plot.size.width)
        if plotted == self._plotted:
            return
        self._plotted = plotted
        plot.clear()
        drawn = _plot_series(plot, series)
        if drawn is not None:
            _limits(plot, drawn[1], drawn[2], drawn[3])


def _limits(plot: PlotWidget, x_end: float, lo: float, hi: float) -> None:
    pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1.0
    plot.set_ylimits(lo - pad, hi + pad)
    plot.set_xlimits(0.0, x_end)


def _plot_series(plot: PlotWidget, series: tuple[tuple[int, float], ...]) -> tuple[float, float, float, float] | None:
    """The mark line (minutes from the first point); its x end and y range, or None when too short."""
    if len(series) < 2:
        return None
    t0 = series[0][0]
    x_end = (series[-1][0] - t0) / 60_000
    series = envelope(series, 2 * plot.size.width)  # braille: two dots a cell across
    ys = [p for _, p in series]
    plot.plot([(t - t0) / 60_000 for t, _ in series], ys, line_style="bright_cyan", hires_mode=HiResMode.BRAILLE,
              label="mark")
    return 0.0, x_end, min(ys), max(ys)


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
