"""The help screen (?): every key of the app, read from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close help")]

    def __init__(self, bindings: list[Binding], notes: str) -> None:
        super().__init__()
        self._key_bindings = bindings
        self._notes = notes
        self.keys: list[str] = []  # the key column as shown

    def compose(self) -> ComposeResult:
        table = Table(title="adlwatch keys", box=None, padding=(0, 2), title_style="bold")
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("what it does")
        for b in self._key_bindings:
            keys = b.key_display or ", ".join(b.key.split(","))
            table.add_row(keys, b.tooltip or b.description)  # the footer's short words have it whole
            self.keys.append(keys)
        table.add_row("ctrl+p", "the command palette: every action above, found by name")
        self.keys.append("ctrl+p")
        with VerticalScroll(id="help-body"):
            yield Static(table)
            yield Static(self._notes, id="help-notes")
