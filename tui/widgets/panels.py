"""Side panels: accounts, funds and feeds. Each renders its part of the ViewState."""

from __future__ import annotations

import datetime as dt

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui import format as fmt
from tui.state import ViewState

SPARK = "▁▂▃▄▅▆▇█"


class Panel(Static):
    """A Static that re-renders only when what it shows changed (an update forces a layout pass)."""

    _shown: object = None

    def show_if_changed(self, signature: object, build) -> None:
        if signature == self._shown:
            return
        self._shown = signature
        self.update(build())


def sparkline(values: tuple[float, ...], width: int = 16) -> str:
    if not values:
        return ""
    values = values[-width:]
    lo, hi = min(values), max(values)
    if hi == lo:
        return SPARK[3] * len(values)
    return "".join(SPARK[int((v - lo) / (hi - lo) * (len(SPARK) - 1))] for v in values)


class AccountsPanel(Panel):
    def show(self, view: ViewState) -> None:
        self.show_if_changed(tuple((a.venue, a.settle, a.cross_positions, fmt.amount(a.margin_balance), fmt.amount(a.maintenance_margin), None if a.margin_ratio is None else round(a.margin_ratio, 3)) for a in view.snapshot.accounts), lambda: self._build(view))

    def _build(self, view: ViewState):
        table = Table(box=None, expand=True, padding=(0, 1), header_style="bold")
        for name in ("account", "margin bal.", "maint.", "ratio"):
            table.add_column(name, justify="left" if name == "account" else "right", no_wrap=True)
        for a in view.snapshot.accounts:
            if not a.cross_positions:
                table.add_row(f"{a.venue} {a.settle}", Text("isolated", style="dim"), "", "")
                continue
            ratio = a.margin_ratio
            if a.margin_balance is not None and a.margin_balance <= 0:
                table.add_row(f"{a.venue} {a.settle}", fmt.amount(a.margin_balance), fmt.amount(a.maintenance_margin),
                              Text("BANKRUPT", style="bold white on red"))
                continue
            style = "bold red" if ratio is not None and ratio >= 0.8 else ("yellow" if ratio is not None and ratio >= 0.5 else "")
            table.add_row(
                f"{a.venue} {a.settle}",
                fmt.amount(a.margin_balance),
                fmt.amount(a.maintenance_margin),
                Text(f"{ratio * 100:.1f}%" if ratio is not None else "--", style=style),
            )
        return table


class FundsPanel(Panel):
    def show(self, view: ViewState) -> None:
        self.show_if_changed((tuple((c.venue, c.symbol, c.fund_to_oi, c.open_interest_usd is None) for c in view.snapshot.contracts), tuple(sorted((k, v[-16:]) for k, v in view.fund_history.items())), view.adl_alerts), lambda: self._build(view))

    def _build(self, view: ViewState):
        rows = [c for c in view.snapshot.contracts if c.fund_balance_usd is not None or c.open_interest_usd is not None]
        if not rows and not view.adl_alerts:
            return Text("no insurance-fund or open-interest data from this source", style="dim")
        table = Table(box=None, expand=True, padding=(0, 1), header_style="bold")
        for name in ("contract", "fund/OI", "history"):
            table.add_column(name, no_wrap=True, justify="left" if name != "fund/OI" else "right")
        for c in rows:
            ratio = f"{c.fund_to_oi * 100:.3f}%" if c.fund_to_oi is not None else "--"
            table.add_row(f"{c.venue} {c.symbol}", ratio, sparkline(view.fund_history.get((c.venue, c.symbol), ())))
        for venue, symbol, state in view.adl_alerts:
            table.add_row(Text(f"{venue} {symbol}", style="bold red"), Text(f"ADL {state}", style="bold red"), "")
        return table


class FeedsPanel(Panel):
    def show(self, view: ViewState) -> None:
        self.show_if_changed((tuple((f.venue, f.state, f.detail, None if f.last_mark_ms is None or view.now_ms is None else round((view.now_ms - f.last_mark_ms) / 1000, 1)) for f in view.feeds), view.source_label), lambda: self._build(view))

    def _build(self, view: ViewState):
        table = Table(box=None, expand=True, padding=(0, 1), header_style="bold")
        for name in ("venue", "feed", "last mark"):
            table.add_column(name, no_wrap=True)
        styles = {"connected": "green", "subscribed": "green", "replay": "cyan", "stale": "bold yellow",
                  "disconnected": "bold red", "error": "bold red"}
        for f in view.feeds:
            age = "--"
            if f.last_mark_ms is not None and view.now_ms is not None:
                age = f"{max(0.0, (view.now_ms - f.last_mark_ms) / 1000):.1f} s ago"
            table.add_row(f.venue, Text(f.state, style=styles.get(f.state, "")), age)
            if f.state in ("stale", "disconnected", "error") and f.detail:
                table.add_row("", Text(f.detail[:60], style="dim"), "")
        if not view.feeds:
            table.add_row(Text(view.source_label or "no feeds", style="dim"), "", "")
        return table


class ShockBanner(Panel):
    def show(self, view: ViewState) -> None:
        self.show_if_changed(view.shocks, lambda: self._build(view))

    def _build(self, view: ViewState):
        self.set_class(view.hypothetical, "-active")
        if not view.hypothetical:
            return ""
        moves = " · ".join(
            f"{s.symbol or (s.venue or 'all marks')} {s.pct:+g}%" for s in view.shocks
        )
        return Text(f" HYPOTHETICAL  {moves}   (press l to return to live) ", style="bold")


class ReplayBar(Panel):
    def show(self, view: ViewState) -> None:
        self.show_if_changed((None if view.replay is None else (view.replay.position_ms // 1000, view.replay.playing, view.replay.speed, view.replay.finished), view.source_label), lambda: self._build(view))

    def _build(self, view: ViewState):
        r = view.replay
        if r is None:
            return Text(f" {view.source_label}", style="dim")
        clock = dt.datetime.fromtimestamp(r.position_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        speed = "max" if r.speed == float("inf") else f"{r.speed:g}x"
        state = "finished" if r.finished else ("playing" if r.playing else "paused")
        width = 30
        filled = int(r.progress * width)
        bar = "█" * filled + "░" * (width - filled)
        return Text(f" REPLAY {clock}  {bar} {r.progress * 100:5.1f}%  {state} at {speed}  {view.source_label}")
