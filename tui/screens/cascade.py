"""The cascade screen: the liquidation cascade of the selected contract, run in a worker.

No number is shown cut: on a narrow terminal (under ``NARROW_BELOW`` columns) the fund chart gives
way and the rounds table takes the full width with every column, the summary under it; the chart's
axis reads 1.2B, not a cut 120000000; the title wraps.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual_plot import HiResMode, PlotWidget
from textual_plot.axis_formatter import NumericAxisFormatter

from adlwatch.engine.cascade import POLICIES, CascadeResult
from adlwatch.tui import format as fmt
from adlwatch.tui.simulate import first_adl_words
from adlwatch.tui.widgets.footer import KeysFooter

NARROW_BELOW = 130  # columns: below, the rounds table needs the whole width


class UsdAxis(NumericAxisFormatter):
    """Tick labels in short dollars (1.20B, 800M): a long number would be cut by the axis."""

    def get_labels_for_ticks(self, ticks):
        return [fmt.usd3(t) for t in ticks]


ROUND_COLUMNS = ("step", "rnd", "price", "liq.", "liq. USD", "gap", "fund", "ADL", "haircut")


class CascadeScreen(Screen[None]):
    """Runs ``run(shock_pct, policy)`` (engine maths, given by the app) off the UI thread and shows it."""

    BINDINGS = [
        Binding("escape,c,q", "dismiss", "back"),
        Binding("left_square_bracket", "shock(-5)", "shock -5%", key_display="["),
        Binding("right_square_bracket", "shock(5)", "shock +5%", key_display="]"),
        Binding("p", "policy", "next ADL policy"),
    ]
    # Screen CSS (above the app's stylesheet): the narrow layout.
    CSS = """
    CascadeScreen #cascade-title { height: auto; }
    CascadeScreen.-narrow #cascade-body { layout: vertical; }
    CascadeScreen.-narrow #cascade-left { width: 100%; height: 1fr; }
    CascadeScreen.-narrow #cascade-right { width: 100%; height: auto; }
    CascadeScreen.-narrow #cascade-chart, CascadeScreen.-narrow #cascade-chart-title { display: none; }
    """

    def __init__(self, title: str, run, shock_pct: float = -10.0) -> None:
        super().__init__()
        self._title = title
        self._run = run
        self.shock_pct = shock_pct
        self.policy = POLICIES[0]

    def compose(self) -> ComposeResult:
        yield Static("", id="cascade-title")
        with Horizontal(id="cascade-body"):
            with Vertical(id="cascade-left"):
                yield DataTable(id="cascade-rounds", zebra_stripes=True)
            with Vertical(id="cascade-right"):
                yield Static("insurance fund, USD, round by round", id="cascade-chart-title")
                yield PlotWidget(id="cascade-chart", allow_pan_and_zoom=False)
                yield Static("", id="cascade-summary")
        # Its own keys and ?: the main screen's would act on the screen behind it.
        yield KeysFooter(("dismiss", "shock(-5)", "shock(5)", "policy", "help"), others=False)

    def on_mount(self) -> None:
        self.set_class(self.app.size.width < NARROW_BELOW, "-narrow")
        self.query_one(PlotWidget).set_y_formatter(UsdAxis())
        for name in ROUND_COLUMNS:
            self.query_one(DataTable).add_column(name)
        self.simulate()

    def on_resize(self) -> None:
        self.set_class(self.app.size.width < NARROW_BELOW, "-narrow")

    @work(thread=True, exclusive=True)
    def simulate(self) -> None:
        self.app.call_from_thread(self._status, f"running {self.shock_pct:+g}% with {self.policy}…")
        result, fates = self._run(self.shock_pct, self.policy)
        self.app.call_from_thread(self._show, result, fates)

    def _status(self, text: str) -> None:
        self.query_one("#cascade-title", Static).update(f"[b]{self._title}[/b]   {text}")

    def _show(self, result: CascadeResult, fates: list[str]) -> None:
        self._status(f"shock {self.shock_pct:+g}% in 10 steps · ADL policy {self.policy} · an estimate on a modelled population")
        funds = [result.fund_start_usd]
        rows: list[tuple[str, ...]] = []
        for k, step in enumerate(result.steps):
            for r_i, r in enumerate(step.rounds):
                rows.append((str(k + 1), str(r_i + 1), fmt.price(r.price), f"{r.liquidated:,}",
                             fmt.usd(r.liquidated_notional_usd), fmt.usd(r.gap_usd), fmt.usd(r.fund_after_usd),
                             fmt.usd(r.adl_notional_usd), fmt.usd(r.haircut_pnl_usd)))
                funds.append(r.fund_after_usd)
        # Columns as wide as this run's widest cell, set before the rows: the header is drawn at its
        # final width at once (a DataTable widens auto-width columns only when it next goes idle, and
        # a header drawn before that stays narrow over wider rows).
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for i, name in enumerate(ROUND_COLUMNS):
            table.add_column(name, width=max([len(name), *(len(row[i]) for row in rows)]))
        table.add_rows(rows)
        plot = self.query_one(PlotWidget)
        plot.clear()
        if len(funds) > 1:
            plot.plot(list(range(len(funds))), funds, line_style="bright_yellow", hires_mode=HiResMode.BRAILLE)
            plot.set_ylimits(0, max(funds) * 1.05 or 1.0)
        adl = first_adl_words(result)  # as adlwatch simulate says it
        summary = [
            f"liquidated {fmt.usd(result.total('liquidated_notional_usd'))} · gap {fmt.usd(result.total('gap_usd'))}",
            f"fund {fmt.usd(result.fund_start_usd)} → {fmt.usd(result.fund_end_usd)} · {adl}",
            f"ADL {fmt.usd(result.total('adl_notional_usd'))} · haircuts {fmt.usd(result.total('haircut_pnl_usd'))} of PnL",
            "",
            *fates,
        ]
        self.query_one("#cascade-summary", Static).update("\n".join(summary))

    def action_shock(self, step: float) -> None:
        self.shock_pct = max(-90.0, min(200.0, self.shock_pct + float(step)))
        self.simulate()

    def action_policy(self) -> None:
        self.policy = POLICIES[(POLICIES.index(self.policy) + 1) % len(POLICIES)]
        self.simulate()
