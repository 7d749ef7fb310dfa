"""Forms for the portfolio: a position (add / edit), and one-number prompts reuse PercentScreen.

A form collects text; the app turns it into a new Portfolio through engine.portfolio's edit
functions, which validate. An error keeps the form open and names the field.

With the portfolio's catalogue the form helps the symbol in: completion over the chosen venue's
contracts (``bnb`` offers ``BNBUSDT`` on Binance, ``BNB-USDT-SWAP`` on OKX, right arrow accepts), a
line under the fields saying what the typed symbol is or which of the venue's spellings it was
probably meant to be, and the size's unit: coin for linear contracts (what the portfolio file keeps),
contracts for inverse ones; for an OKX linear swap the size may be typed in OKX's contracts too, and
the form shows what that is in coin (contracts × ctVal) before it is saved in coin.

An error is said in words under its field (``size must be a number, e.g. 0.5``), never as the
portfolio file's path. A position far outside anything the venue allows (a size of 1e12 SOL, a value
beyond the last tier's cap), or one the account already holds identically, is saved only after a
``y`` to "are you sure?".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Select

from adlwatch.engine.errors import InputError
from adlwatch.engine.instruments import Catalogue, Instrument, implausible_position
from adlwatch.engine.venues import VENUES
from adlwatch.tui import format as fmt
from adlwatch.tui.screens.prompt import ConfirmScreen

NUMBER_FIELDS = ("size", "entry_price", "leverage", "isolated_margin", "mmr")
COIN, CONTRACTS = "coin", "contracts"  # the size field's units

# Each field's name in words, and a number it could hold.
FIELD_WORDS = {"account": "account", "venue": "venue", "symbol": "symbol", "side": "side", "size": "size",
               "entry_price": "entry price", "leverage": "leverage", "margin_mode": "margin mode",
               "isolated_margin": "isolated margin", "mmr": "mmr override"}
EXAMPLES = {"size": "0.5", "entry_price": "60000", "leverage": "10", "isolated_margin": "500", "mmr": "0.004"}
# Where an error about an account-level field of the file is shown: under the venue (a new account's).
_ACCOUNT_FIELDS = {"venue": "venue", "settle": "venue", "wallet_balance": "venue"}

PositionKey = tuple[int | None, str, str, float, float]  # account, symbol, side, size, entry price


def form_field(path: str | None) -> str | None:
    """The form's field an error's path names (``account[0].position[3].size`` → ``size``), or None."""
    if not path:
        return None
    last = path.rsplit(".", 1)[-1].split("[", 1)[0]
    if last in FIELD_WORDS:
        return last
    return _ACCOUNT_FIELDS.get(last)


def field_message(field: str, typed: Any, reason: str, *, venue: str = "") -> str:
    """An error of ``field`` in words, as it reads under the field: ``size must be a number, e.g.
    0.5``, ``size -3: must be positive``, ``symbol AAVEUSD: unknown binance symbol (did you mean
    AAVEUSDC, AAVEUSDT, AAVEUSD_PERP?)`` (the closest spellings in full: the line wraps)."""
    words = FIELD_WORDS.get(field, field)
    if field in EXAMPLES and reason.startswith("must be a number"):
        return f"{words} must be a number, e.g. {EXAMPLES[field]}"
    if field == "symbol" and typed in (None, ""):
        return f"give a {venue} symbol, e.g. {_EXAMPLE_SYMBOL.get(venue, 'BTCUSDT')}".replace("  ", " ")
    shown = _text(typed) if typed not in (None, "") else "(blank)"
    return f"{words} {shown}: {reason}"


_EXAMPLE_SYMBOL = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP", "hyperliquid": "BTC"}


def position_keys(portfolio: Any, skip: tuple[int, int] | None = None) -> list[PositionKey]:
    """Every position of the portfolio as the duplicate check compares them (``skip``: the one being
    edited)."""
    return [(a_i, p.symbol, str(p.side), p.size, p.entry_price)
            for a_i, account in enumerate(portfolio.accounts)
            for p_i, p in enumerate(account.positions) if (a_i, p_i) != skip]


def doubts(values: Mapping[str, Any], inst: Instrument | None, existing: Iterable[PositionKey]) -> list[str]:
    """What makes a position about to be saved almost surely a typo: a size or value far outside
    anything the venue allows, or the same position (account, symbol, side, size, entry) held already."""
    out = []
    size, entry = values.get("size"), values.get("entry_price")
    size = size if isinstance(size, float) else None
    entry = entry if isinstance(entry, float) else None
    if inst is not None and size is not None:
        why = implausible_position(inst, size, entry)
        if why:
            unit = "contracts" if inst.inverse else inst.base
            at = f" at {fmt.price(entry)}" if entry is not None else ""
            out.append(f"{fmt.size(size)} {unit}{at}: {why}")
    if values.get("account") is not None and size is not None:
        key = (values["account"], values.get("symbol"), str(values.get("side")), size, entry)
        if key in set(existing):
            out.append(f"account {key[0]} already holds this position ({key[1]} {key[2]} {fmt.size(size)} @ "
                       f"{fmt.price(entry)}): this adds a second one")
    return out


class SymbolSuggester(Suggester):
    """Completion over one venue's contracts, as the venue spells them.

    Case-insensitive on the start of the symbol (the Input shows the rest after what was typed);
    where several start so, a contract still trading first, then the USDT-quoted one, then USDC, then
    the shortest (``bnb`` → ``BNBUSDT`` before ``BNBUSDC`` or ``BNBUSD_PERP``; ``btc`` → ``BTCUSDT``
    before ``BTCDOMUSDT``).
    """

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        ranked = sorted(instruments, key=lambda i: (i.status != "trading", _QUOTE_RANK.get(i.quote, 9),
                                                    len(i.symbol), i.symbol))
        self._symbols = [(i.symbol.casefold(), i.symbol) for i in ranked]

    async def get_suggestion(self, value: str) -> str | None:
        return self.complete(value)

    def complete(self, typed: str) -> str | None:
        """The contract ``typed`` (any case) completes to, or None."""
        value = typed.casefold()
        if not value:
            return None
        return next((symbol for folded, symbol in self._symbols if folded.startswith(value)), None)


_QUOTE_RANK = {"USDT": 0, "USDC": 1}


def venue_symbol(catalogue: Catalogue, venue: str, typed: str) -> Instrument | None:
    """The contract ``typed`` names on ``venue``: exactly, or but for letter case (``bnbusdt``)."""
    found = catalogue.find(venue, typed)
    if found is not None or not typed:
        return found
    folded = typed.casefold()
    matches = [s for s in catalogue.symbols(venue) if s.casefold() == folded]
    return catalogue.find(venue, matches[0]) if len(matches) == 1 else None


def symbol_note(catalogue: Catalogue, venue: str, typed: str, completion: str | None = None) -> str:
    """One line on what the typed symbol is on ``venue``, or the venue's closest spellings (the
    completion offered first)."""
    if not typed:
        return ""
    inst = venue_symbol(catalogue, venue, typed)
    if inst is None:
        close = list(dict.fromkeys([*([completion] if completion else []), *catalogue.suggest(venue, typed)]))[:3]
        accept = " (→ completes)" if completion else ""
        if close:
            return f"[b]{typed}[/b] is not a {venue} contract: did you mean {' · '.join(close)}?{accept}"
        return f"[b]{typed}[/b] is not a {venue} contract ({len(catalogue.symbols(venue))} known)"
    kind = f"inverse, {fmt.size(inst.contract_size)} USD a contract" if inst.inverse else "linear"
    parts = [f"{inst.symbol}: {kind}, settles {inst.settle}"]
    if inst.tiers:
        parts.append(f"max {inst.max_leverage:g}x")
        dated = f"as of {inst.as_of}" if inst.as_of and inst.as_of != "undated" else "undated"
        parts.append(f"tiers {dated}" + ("" if inst.verified else ", unverified"))
    else:
        parts.append("no tier table: give an mmr override")
    if inst.status != "trading":
        parts.append(f"[b]{inst.status}[/b]")
    if inst.only_isolated:
        parts.append("isolated only")
    return " · ".join(parts)


def size_units(inst: Instrument | None) -> list[tuple[str, str]]:
    """The units the size may be typed in: coin for linear (OKX linear swaps: or contracts), contracts
    for inverse; the first is the portfolio file's."""
    if inst is None:
        return [("coin", COIN)]
    if inst.inverse:
        return [("contracts", CONTRACTS)]
    if inst.venue_contract_size:
        return [("coin", COIN), ("contracts", CONTRACTS)]
    return [("coin", COIN)]


def size_in_file_unit(inst: Instrument | None, size: float, unit: str) -> float:
    """A size typed in ``unit`` as the portfolio file keeps it: a linear swap's contracts × ctVal in
    coin (12 significant digits: 3 × 0.1 is 0.3, not 0.30000000000000004); otherwise as typed."""
    if unit == CONTRACTS and inst is not None and not inst.inverse:
        return inst.coin_from_venue_contracts(size)
    return size


def size_note(inst: Instrument | None, text: str, unit: str) -> str:
    """What the size means: its unit, and for a venue that counts in contracts what that is in coin."""
    if inst is None:
        return ""
    if inst.inverse:
        return f"size in contracts of {fmt.size(inst.contract_size)} USD ({inst.symbol} is inverse)"
    ct_val = inst.venue_contract_size
    if not ct_val:
        return f"size in {inst.base}"
    try:
        size = float(text.replace(",", ""))
    except ValueError:
        size = None
    per = f"1 contract = {fmt.size(ct_val)} {inst.base}"
    if unit == CONTRACTS:
        if size is None:
            return f"size in {inst.venue} contracts ({per}); saved in {inst.base}"
        return (f"{fmt.size(size)} contracts × {fmt.size(ct_val)} {inst.base} = "
                f"[b]{fmt.size(size_in_file_unit(inst, size, unit))} {inst.base}[/b] (saved in {inst.base})")
    if size is None:
        return f"size in {inst.base}, not contracts ({per})"
    return f"[b]{fmt.size(size)} {inst.base}[/b] = {fmt.size(inst.venue_contracts_from_coin(size))} {inst.venue} contracts ({per})"


class PositionForm(ModalScreen[bool]):
    """Add or edit one position. ``submit(values)`` returns an error message, or None when saved."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self,
        title: str,
        values: dict[str, Any],
        accounts: list[tuple[str, int | None]],
        submit: Callable[[dict[str, Any]], InputError | str | None],
        *,
        catalogue: Catalogue | None = None,
        account_venues: Mapping[int, str] | None = None,
        existing: Iterable[PositionKey] = (),
    ) -> None:
        """``submit``: saves, or returns the error (an ``InputError`` is shown under its field);
        ``catalogue``: the portfolio's, for completion and the notes on symbol and size (without it the
        form takes text as typed); ``account_venues``: each listed account's venue; ``existing``: the
        portfolio's other positions (``position_keys``), for the duplicate warning."""
        super().__init__()
        self._title = title
        self._values = values
        self._accounts = accounts  # (label, account index or None for a new account)
        self._submit = submit
        self._catalogue = catalogue
        self._account_venues = dict(account_venues or {})
        self._suggested_for: str | None = None  # the venue the symbol's completion is over
        self._completer: SymbolSuggester | None = None
        self._unit_for: Instrument | None = None  # the contract the size's units were offered for
        self._existing = list(existing)

    def compose(self) -> ComposeResult:
        v = self._values
        with Vertical(id="form-box"):
            yield Label(f"[b]{self._title}[/b]")
            with Grid(id="form-grid"):
                venue = v.get("venue", "binance")
                yield from _field("account", Select(
                    [(label, str(idx)) for label, idx in self._accounts], value=str(v.get("account")),
                    allow_blank=False, id="f-account", compact=True))
                yield from _field("venue (new account)", Select(
                    [(name, name) for name in VENUES], value=venue, allow_blank=False, id="f-venue", compact=True), "venue")
                yield from _field("symbol", Input(
                    str(v.get("symbol", "")), placeholder="BTCUSDT · BTC-USDT-SWAP · BTC", id="f-symbol", compact=True,
                    suggester=self._suggester(self._venue_of(v.get("account"), venue))))
                yield from _field("side", Select([("long", "long"), ("short", "short")], value=v.get("side", "long"),
                                                 allow_blank=False, id="f-side", compact=True))
                yield from _field("size", Horizontal(
                    Input(_text(v.get("size")), placeholder="coin (linear) or contracts (inverse)", id="f-size", compact=True),
                    Select([("coin", COIN)], value=COIN, allow_blank=False, id="f-size_unit", compact=True, disabled=True),
                    id="f-size-row"))
                yield from _field("entry price", Input(_text(v.get("entry_price")), id="f-entry_price", compact=True),
                                  "entry_price")
                yield from _field("leverage", Input(_text(v.get("leverage")), id="f-leverage", compact=True))
                yield from _field("margin mode", Select(
                    [("cross", "cross"), ("isolated", "isolated")], value=v.get("margin_mode", "cross"),
                    allow_blank=False, id="f-margin_mode", compact=True), "margin_mode")
                yield from _field("isolated margin", Input(
                    _text(v.get("isolated_margin")), placeholder="isolated only; blank = value / leverage (Bybit: + close fee)",
                    id="f-isolated_margin", compact=True), "isolated_margin")
                yield from _field("mmr override", Input(_text(v.get("mmr")), placeholder="blank = the venue's tier table",
                                                        id="f-mmr", compact=True), "mmr")
            yield Label("", id="form-symbol-note")
            yield Label("", id="form-size-note")
            yield Label("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    DEFAULT_CSS = """
    #f-size-row { height: 1; }
    #f-size-row Input { width: 1fr; }
    #f-size-row Select { width: 18; }
    #form-symbol-note, #form-size-note { width: 100%; height: auto; color: $text-muted; }
    #form-symbol-note { margin-top: 1; }
    .field { height: auto; }
    .field-error { width: 100%; height: auto; color: $error; display: none; }
    .field-error.-shown { display: block; }
    """

    def on_mount(self) -> None:
        grid = self.query_one("#form-grid", Grid)
        grid.styles.grid_rows = "auto"  # an error under its field may wrap
        if self.app.size.height < 40:  # a short terminal: no blank line between fields, Save stays on screen
            grid.styles.grid_gutter_horizontal = 0  # (Textual: the gap between rows)
            self.query_one("#form-symbol-note").styles.margin = (0, 0, 0, 0)
        # The account and venue come preselected: the symbol is where typing starts.
        self.query_one("#f-symbol", Input).focus()
        self._update_notes()

    # -- the venue, the symbol's contract, and the notes ----------------------------------------
    def _venue_of(self, account: Any, chosen: str) -> str:
        """An existing account's venue; the venue chosen for a new one."""
        try:
            return self._account_venues.get(int(account), chosen)
        except (TypeError, ValueError):
            return chosen

    @property
    def venue(self) -> str:
        return self._venue_of(self.query_one("#f-account", Select).value, str(self.query_one("#f-venue", Select).value))

    def _suggester(self, venue: str) -> SymbolSuggester | None:
        if self._catalogue is None:
            return None
        self._suggested_for = venue
        self._completer = SymbolSuggester(i for i in self._catalogue if i.venue == venue)
        return self._completer

    def instrument(self) -> Instrument | None:
        """The contract the symbol field names on the chosen venue (None: unknown, or no catalogue)."""
        if self._catalogue is None:
            return None
        return venue_symbol(self._catalogue, self.venue, self.query_one("#f-symbol", Input).value.strip())

    @on(Select.Changed, "#f-account, #f-venue")
    @on(Input.Changed, "#f-symbol, #f-size")
    @on(Select.Changed, "#f-size_unit")
    def _update_notes(self) -> None:
        if self._catalogue is None:
            return
        venue = self.venue
        symbol_input = self.query_one("#f-symbol", Input)
        if venue != self._suggested_for:
            symbol_input.suggester = self._suggester(venue)
        inst = self.instrument()
        unit = self.query_one("#f-size_unit", Select)
        if inst != self._unit_for:
            self._unit_for = inst
            units = size_units(inst)
            with self.prevent(Select.Changed):
                unit.set_options(units)
                # A new OKX swap is typed in contracts as OKX shows it; an edit shows the file's coin.
                editing = self._values.get("size") is not None
                unit.value = units[-1][1] if len(units) > 1 and not editing else units[0][1]
            unit.disabled = len(units) == 1
        typed = symbol_input.value.strip()
        completion = self._completer.complete(typed) if self._completer is not None else None
        self.query_one("#form-symbol-note", Label).update(symbol_note(self._catalogue, venue, typed, completion))
        self.query_one("#form-size-note", Label).update(
            size_note(inst, self.query_one("#f-size", Input).value.strip(), str(unit.value)))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        account = self.query_one("#f-account", Select).value
        out["account"] = None if account in (None, "None", Select.BLANK) else int(account)
        out["venue"] = self.query_one("#f-venue", Select).value
        out["symbol"] = self.query_one("#f-symbol", Input).value.strip()
        inst = self.instrument()
        if inst is not None:
            out["symbol"] = inst.symbol  # the venue's spelling of a symbol typed in another case
        out["side"] = self.query_one("#f-side", Select).value
        out["margin_mode"] = self.query_one("#f-margin_mode", Select).value
        for name in NUMBER_FIELDS:
            text = self.query_one(f"#f-{name}", Input).value.strip()
            if text:
                try:
                    out[name] = float(text.replace(",", ""))
                except ValueError:
                    out[name] = text  # validation names it
        if isinstance(out.get("size"), float):
            out["size"] = size_in_file_unit(inst, out["size"], str(self.query_one("#f-size_unit", Select).value))
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(False)
            return
        self.action_save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        values = self.values()
        doubt = doubts(values, self.instrument(), self._existing)
        if doubt:
            def answered(yes: bool | None) -> None:
                if yes:
                    self._save(values)

            # y saves as typed; n or escape goes back to the form to fix it.
            self.app.push_screen(ConfirmScreen("[b]Are you sure?[/b] " + escape("\n".join(doubt))), answered)
            return
        self._save(values)

    def _save(self, values: dict[str, Any]) -> None:
        self.show_error(self._submit(values))

    def show_error(self, error: InputError | str | None) -> None:
        """Clears the form's errors, then shows ``error`` under its field (and focuses it) or, naming
        no field, at the foot of the form; None: saved, the form closes."""
        for label in self.query(".field-error"):
            label.remove_class("-shown")
        if not error:
            self.dismiss(True)
            return
        field = form_field(error.field) if isinstance(error, InputError) else None
        if field is None:
            self.query_one("#form-error", Label).update(
                Text(f"not saved: {error.reason if isinstance(error, InputError) else error}", style="bold red"))
            return
        typed = self.query_one(f"#f-{field}").value if field in NUMBER_FIELDS or field == "symbol" else error.value
        words = field_message(field, typed, error.reason, venue=self.venue)
        label = self.query_one(f"#e-{field}", Label)
        label.update(Text(words))
        label.add_class("-shown")
        self.query_one(f"#f-{field}").focus()
        self.query_one("#form-error", Label).update(Text(f"not saved: {words}", style="bold red"))

    def action_cancel(self) -> None:
        self.dismiss(False)


def _field(words: str, widget: Any, name: str | None = None) -> ComposeResult:
    """A row of the form: its name, then the field with its error line (hidden until there is one)
    under it."""
    yield Label(words)
    yield Vertical(widget, Label("", id=f"e-{name or words}", classes="field-error"), classes="field")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
