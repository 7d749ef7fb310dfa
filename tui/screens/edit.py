"""Forms for the portfolio: a position (add / edit), and one-number prompts reuse PercentScreen.

A form collects text; the app turns it into a new Portfolio through engine.portfolio's edit
functions, which validate. An error keeps the form open and names the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from adlwatch.engine.venues import VENUES

NUMBER_FIELDS = ("size", "entry_price", "leverage", "isolated_margin", "mmr")


class PositionForm(ModalScreen[bool]):
    """Add or edit one position. ``submit(values)`` returns an error message, or None when saved."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self,
        title: str,
        values: dict[str, Any],
        accounts: list[tuple[str, int | None]],
        submit: Callable[[dict[str, Any]], str | None],
    ) -> None:
        super().__init__()
        self._title = title
        self._values = values
        self._accounts = accounts  # (label, account index or None for a new account)
        self._submit = submit

    def compose(self) -> ComposeResult:
        v = self._values
        with Vertical(id="form-box"):
            yield Label(f"[b]{self._title}[/b]")
            with Grid(id="form-grid"):
                yield Label("account")
                yield Select([(label, str(idx)) for label, idx in self._accounts], value=str(v.get("account")),
                             allow_blank=False, id="f-account", compact=True)
                yield Label("venue (new account)")
                yield Select([(name, name) for name in VENUES], value=v.get("venue", "binance"), allow_blank=False, id="f-venue", compact=True)
                yield Label("symbol")
                yield Input(str(v.get("symbol", "")), placeholder="BTCUSDT · BTC-USDT-SWAP · BTC", id="f-symbol", compact=True)
                yield Label("side")
                yield Select([("long", "long"), ("short", "short")], value=v.get("side", "long"), allow_blank=False, id="f-side", compact=True)
                yield Label("size")
                yield Input(_text(v.get("size")), placeholder="coin (linear) or contracts (inverse)", id="f-size", compact=True)
                yield Label("entry price")
                yield Input(_text(v.get("entry_price")), id="f-entry_price", compact=True)
                yield Label("leverage")
                yield Input(_text(v.get("leverage")), id="f-leverage", compact=True)
                yield Label("margin mode")
                yield Select([("cross", "cross"), ("isolated", "isolated")], value=v.get("margin_mode", "cross"),
                             allow_blank=False, id="f-margin_mode", compact=True)
                yield Label("isolated margin")
                yield Input(_text(v.get("isolated_margin")), placeholder="isolated only; blank = entry value / leverage",
                            id="f-isolated_margin", compact=True)
                yield Label("mmr override")
                yield Input(_text(v.get("mmr")), placeholder="blank = the venue's tier table", id="f-mmr", compact=True)
            yield Label("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        account = self.query_one("#f-account", Select).value
        out["account"] = None if account in (None, "None", Select.BLANK) else int(account)
        out["venue"] = self.query_one("#f-venue", Select).value
        out["symbol"] = self.query_one("#f-symbol", Input).value.strip()
        out["side"] = self.query_one("#f-side", Select).value
        out["margin_mode"] = self.query_one("#f-margin_mode", Select).value
        for name in NUMBER_FIELDS:
            text = self.query_one(f"#f-{name}", Input).value.strip()
            if text:
                try:
                    out[name] = float(text.replace(",", ""))
                except ValueError:
                    out[name] = text  # validation names it
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(False)
            return
        self.action_save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        error = self._submit(self.values())
        if error:
            self.query_one("#form-error", Label).update(f"[b red]{error}[/]")
        else:
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
