"""First run: no portfolio file yet. Offer to create one from the example, or open the demo."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class WelcomeScreen(ModalScreen[str]):
    """Dismisses with "create", "demo" or "quit" (c, d, q / escape: one key each)."""

    BINDINGS = [Binding("c", "choose('create')", "create the example"), Binding("d", "choose('demo')", "open the demo"),
                Binding("q,escape", "choose('quit')", "quit")]

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome-box"):
            yield Label("[b]No portfolio file yet[/b]")
            yield Label(f"adlwatch looks for your positions in\n{self._path}")
            yield Label("Create it from the example (a Binance and a Hyperliquid account, to edit with your own),\n"
                        "or open the offline demo on the 10 Oct 2025 crash.")
            yield Button("Create the example portfolio (c)", id="create", variant="primary")
            yield Button("Open the demo (d)", id="demo")
            yield Button("Quit (q)", id="quit")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "quit")

    def action_choose(self, answer: str) -> None:
        self.dismiss(answer)


class WelcomeApp:
    """A one-screen app that asks the first-run question and returns the answer."""

    @staticmethod
    def ask(path: str) -> str:
        from textual.app import App

        class _Ask(App[str]):
            CSS_PATH = "../app.tcss"

            def on_mount(self) -> None:
                self.push_screen(WelcomeScreen(path), self.exit)

        return _Ask().run() or "quit"
