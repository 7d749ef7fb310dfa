"""The ADL estimate behind the lights of one position: the assumptions, and what would move it."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from adlwatch.tui import format as fmt


class AdlScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,i,q", "dismiss", "close")]

    def __init__(self, title: str, score_line: str, assumptions: str, what_ifs: list[tuple[str, int | None]],
                 venue_line: str = "", fund_line: str = "") -> None:
        """``venue_line``: what the venue itself says of the contract's (or the position's) ADL risk;
        ``fund_line``: the contract's insurance fund ÷ open interest in words (widgets/panels.py ``fund_words``)."""
        super().__init__()
        self._fund_line = fund_line
        self._venue_line = venue_line
        self._title = title
        self._score_line = score_line
        self._assumptions = assumptions
        self._what_ifs = what_ifs

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"  {label:<34} {fmt.lights(q)}  {q if q is not None else '--'}/5" for label, q in self._what_ifs)
        with VerticalScroll(id="help-body"):
            yield Static(f"[b]{self._title}[/b]\n\n{self._score_line}")
            if self._venue_line:
                yield Static(f"\n[b]The venue's own ADL signal[/b]\n{self._venue_line}", id="adl-venue")
            if self._fund_line:
                yield Static(f"\n[b]The insurance fund behind it[/b]\n{escape(self._fund_line)}", id="adl-fund")
            yield Static(f"\n[b]ESTIMATED ADL quantile, and what would move it[/b]\n{rows}")
            yield Static(f"\n[b]How the estimate is made[/b]\n{self._assumptions}", id="help-notes")
