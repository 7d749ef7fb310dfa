"""Prompts: one typed value (a shock percentage, a replay time, a number), and a yes/no question
answered with a single key.

Both size their box to the question: as wide as it is (at least 60 columns), never wider than the
screen, and the question wraps rather than being cut.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

MIN_WIDTH = 60
_CHROME = 6  # the box's border (2) and padding (4)


def box_width(question: str, screen_width: int) -> int:
    """Columns for a prompt box: the question's length plus its frame, at least ``MIN_WIDTH``, and at
    most the screen less a margin (the question then wraps)."""
    wanted = max(MIN_WIDTH, max((Text.from_markup(line).cell_len for line in question.splitlines()), default=0) + _CHROME)
    return max(20, min(wanted, screen_width - 4))


class SizedPrompt(ModalScreen):
    """A modal prompt whose box (the first Vertical) is sized to ``_question``."""

    DEFAULT_CSS = """
    SizedPrompt > Vertical > Label { width: 100%; }
    """

    _question = ""

    def on_mount(self) -> None:
        self.query_one(Vertical).styles.width = box_width(self._question, self.app.size.width)

    def on_resize(self) -> None:
        self.query_one(Vertical).styles.width = box_width(self._question, self.app.size.width)


class PercentScreen(SizedPrompt):
    """Asks for one value; dismisses with the text (validated by the caller) or None."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, placeholder: str) -> None:
        super().__init__()
        self._question = question
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="percent-box"):
            yield Label(self._question, id="percent-question")
            yield Input(placeholder=self._placeholder, id="percent-input")
            yield Label("", id="percent-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(SizedPrompt):
    """A yes/no question: ``y`` answers yes at once (no Enter), ``n`` or escape no. Dismisses with
    True or False."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]
    DEFAULT_CSS = "ConfirmScreen { align: center middle; }"

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="percent-box"):
            yield Label(self._question, id="confirm-question")
            yield Label("[b]y[/b] yes · [b]n[/b] or escape: no", id="confirm-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(bool(yes))

