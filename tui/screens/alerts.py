"""The alert log: each feed's last status in full (the feeds panel cuts a long reason such as a
connection error), every alert of the session, newest first; and where a followed position's figures
differ from the venue's, with the likely reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class AlertLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,A,q", "dismiss", "close")]

    def __init__(self, alerts: list, disagreements: list[str], rules_line: str, feeds: Sequence = ()) -> None:
        """``feeds``: the monitor's ``FeedState`` rows, shown with their whole status line."""
        super().__init__()
        self._alerts = alerts
        self._disagreements = disagreements
        self._rules_line = rules_line
        self._feeds = tuple(feeds)

    def compose(self) -> ComposeResult:
        log = Text()
        # By time, newest first (of alerts raised in the same millisecond, the later one first).
        for alert in sorted(reversed(self._alerts), key=lambda a: a.ts_ms, reverse=True):
            when = dt.datetime.fromtimestamp(alert.ts_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            fired = alert.state == "fired"
            log.append(f"{when}  {'ALERT  ' if fired else 'cleared'}  ", style="bold red" if fired else "green")
            log.append(alert.message + "\n")
        if not self._alerts:
            log.append("no alerts this session\n", style="dim")
        with VerticalScroll(id="help-body"):
            if self._feeds:  # first: a few lines, where a feed's cut reason (feeds panel) is read whole
                yield Static(Text("Feeds: the last status of each, in full", style="bold"))
                yield Static(feed_lines(self._feeds), id="alert-log-feeds")
            yield Static(Text("Alerts, newest first", style="bold"))
            yield Static(log, id="alert-log-alerts")
            if self._disagreements:
                yield Static(Text("\nadlwatch and the venue disagree (beyond 0.1 % or one ADL light)", style="bold"))
                yield Static(Text("\n".join(self._disagreements), style="yellow"))
            yield Static(Text(self._rules_line), id="help-notes")


def feed_lines(feeds: Sequence) -> Text:
    """One line per feed (a venue or a followed account): its state and the whole reason, wrapped
    rather than cut, and how old its last mark is."""
    out = Text()
    width = max(len(f.venue) for f in feeds)
    for f in feeds:
        healthy = f.state in ("connected", "subscribed", "replay")
        out.append(f"{f.venue:<{width}}  ", style="bold")
        out.append(f.state, style="green" if healthy else "bold red")
        if f.detail:
            out.append(f"  {f.detail}")
        if f.last_mark_age_s is not None:
            out.append(f"  (last mark {f.last_mark_age_s:,.0f} s ago)", style="dim")
        out.append("\n")
    return out


AlertLogScreen.DEFAULT_CSS = "AlertLogScreen { align: center middle; }"
