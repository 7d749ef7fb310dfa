"""The alert log: every alert of the session, newest first, and where a followed position's
figures differ from the venue's, with the likely reasons."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class AlertLogScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,A,q", "dismiss", "close")]

    def __init__(self, alerts: list, disagreements: list[str], rules_line: str) -> None:
        super().__init__()
        self._alerts = alerts
        self._disagreements = disagreements
        self._rules_line = rules_line

    def compose(self) -> ComposeResult:
        log = Text()
        for alert in reversed(self._alerts):
            when = dt.datetime.fromtimestamp(alert.ts_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            fired = alert.state == "fired"
            log.append(f"{when}  {'ALERT  ' if fired else 'cleared'}  ", style="bold red" if fired else "green")
            log.append(alert.message + "\n")
        if not self._alerts:
            log.append("no alerts this session\n", style="dim")
        with VerticalScroll(id="help-body"):
            yield Static(Text("Alerts, newest first", style="bold"))
            yield Static(log)
            if self._disagreements:
                yield Static(Text("\nadlwatch and the venue disagree (beyond 0.1 % or one ADL light)", style="bold"))
                yield Static(Text("\n".join(self._disagreements), style="yellow"))
            yield Static(Text(self._rules_line), id="help-notes")


AlertLogScreen.DEFAULT_CSS = "AlertLogScreen { align: center middle; }"
