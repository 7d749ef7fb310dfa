"""The selected position's mark price over time, with its liquidation and bankruptcy prices.

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


class MarkChart(Vertical):
    _shown: object = None

    def compose(self) -> ComposeResult:
        yield Static("", id="chart-title")
        yield PlotWidget(id="plot", allow_pan_and_zoom=False)

    def show(self, view: ViewState, key: str | None) -> None:
        title = self.query_one("#chart-title", Static)
        plot = self.query_one(PlotWidget)
        risk = next((p for p in view.snapshot.positions if f"{p.account}:{p.index}" == key), None)
        if risk is None:
            self._shown = None
            title.update("no position selected")
            plot.clear()
            return
        series = view.mark_history.get((risk.venue, risk.symbol), ())
        signature = (key, len(series), series[-1] if series else None, risk.liquidation_price, risk.bankruptcy_price,
                     risk.mark_price)
        if signature == self._shown:
            return
        self._shown = signature
        title.update(
            f"{risk.symbol} {risk.side}: mark {fmt.price(risk.mark_price)}  "
            f"[bold red]liq. {fmt.price(risk.liquidation_price)}[/]  [magenta]bankr. {fmt.price(risk.bankruptcy_price)}[/]"
            + ("  x: minutes" if series else "  (no history yet)")
        )
        plot.clear()
        if len(series) < 2:
            return
        t0 = series[0][0]
        xs = [(t - t0) / 60_000 for t, _ in series]
        ys = [p for _, p in series]
        plot.plot(xs, ys, line_style="bright_cyan", hires_mode=HiResMode.BRAILLE, label="mark")
        lo, hi = min(ys), max(ys)
        for price, style, label in (
            (risk.liquidation_price, "bright_red", "liquidation"),
            (risk.bankruptcy_price, "magenta", "bankruptcy"),
        ):
            if price is not None:
                plot.plot([xs[0], xs[-1]], [price, price], line_style=style, hires_mode=HiResMode.BRAILLE, label=label)
                lo, hi = min(lo, price), max(hi, price)
        pad = (hi - lo) * 0.05 or abs(hi) * 0.01 or 1.0
        plot.set_ylimits(lo - pad, hi + pad)
        plot.set_xlimits(xs[0], xs[-1])
