"""A one-line prompt: a typed shock percentage, or a replay time."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PercentScreen(ModalScreen[str | None]):
    """Asks for one value; dismisses with the text (validated by the caller) or None."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, placeholder: str) -> None:
        super().__init__()
        self._question = question
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="percent-box"):
            yield Label(self._question)
            yield Input(placeholder=self._placeholder, id="percent-input")
            yield Label("", id="percent-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
