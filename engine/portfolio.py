"""The user's portfolio as validated, immutable values (the file format is in DESIGN.md).

``Portfolio.from_data`` takes the plain data of a parsed TOML file and either returns a portfolio
or raises ``InputError`` naming the field (``account[0].position[1].size``) and the value. Reading
and writing the file is feeds/portfolio_store.py's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from engine.errors import InputError
from engine.instruments import VENUES, Catalogue, Instrument, default_catalogue


class Side(IntEnum):
    LONG = 1
    SHORT = -1

    @property
    def label(self) -> str:
        return "long" if self is Side.LONG else "short"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class Position:
    instrument: Instrument
    side: Side
    size: float  # linear: base units; inverse: contracts
    entry_price: float
    leverage: float
    margin_mode: MarginMode
    isolated_margin: float | None = None  # set for isolated positions (margin without uPnL)
    mmr: float | None = None  # user override of the tier table
    maint_amount: float | None = None

    @property
    def venue(self) -> str:
        return self.instrument.venue

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def isolated(self) -> bool:
        return self.margin_mode is MarginMode.ISOLATED

    def entry_value(self) -> float:
        """Position value at entry, in the settlement asset."""
        inst = self.instrument
        if inst.inverse:
            return self.size * inst.contract_size / self.entry_price
        return self.size * inst.contract_size * self.entry_price

    def initial_margin(self) -> float:
        return self.entry_value() / self.leverage

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "symbol": self.symbol,
            "side": self.side.label,
            "size": self.size,
            "entry_price": self.entry_price,
            "leverage": self.leverage,
            "margin_mode": self.margin_mode.value,
        }
        if self.isolated and self.isolated_margin is not None:
            data["isolated_margin"] = self.isolated_margin
        if self.mmr is not None:
            data["mmr"] = self.mmr
            if self.maint_amount is not None:
                data["maint_amount"] = self.maint_amount
        return data


@dataclass(frozen=True, slots=True)
class Account:
    venue: str
    wallet_balance: float  # cross collateral, in the settlement asset
    settle: str
    positions: tuple[Position, ...] = ()
    settle_given: bool = False

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"venue": self.venue, "wallet_balance": self.wallet_balance}
        if self.settle_given:
            data["settle"] = self.settle
        data["position"] = [p.to_data() for p in self.positions]
        return data


@dataclass(frozen=True, slots=True)
class Portfolio:
    accounts: tuple[Account, ...] = field(default_factory=tuple)

    def to_data(self) -> dict[str, Any]:
        return {"account": [a.to_data() for a in self.accounts]}

    def symbols(self) -> set[tuple[str, str]]:
        return {(p.venue, p.symbol) for a in self.accounts for p in a.positions}

    @staticmethod
    def from_data(data: dict[str, Any], catalogue: Catalogue | None = None) -> Portfolio:
        catalogue = catalogue or default_catalogue()
        _check_keys(data, {"account"}, "")
        accounts_data = data.get("account", [])
        if not isinstance(accounts_data, list):
            raise InputError("must be an array of tables ([[account]])", field="account", value=accounts_data)
        return Portfolio(tuple(_account(a, f"account[{i}]", catalogue) for i, a in enumerate(accounts_data)))


_ACCOUNT_KEYS = {"venue", "wallet_balance", "settle", "position"}
_POSITION_KEYS = {
    "symbol",
    "side",
    "size",
    "entry_price",
    "leverage",
    "margin_mode",
    "isolated_margin",
    "mmr",
    "maint_amount",
}


def _check_keys(data: Any, allowed: set[str], where: str) -> None:
    if not isinstance(data, dict):
        raise InputError("must be a table", field=where or "portfolio", value=data)
    for key in data:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise InputError(f"unknown key; allowed: {', '.join(sorted(allowed))}", field=name, value=data[key])


def _required(data: dict, key: str, where: str) -> Any:
    if key not in data:
        raise InputError("missing required field", field=f"{where}.{key}", has_value=False)
    return data[key]


def _number(data: dict, key: str, where: str, *, positive: bool = True, allow_zero: bool = False) -> float:
    value = _required(data, key, where)
    return _as_number(value, f"{where}.{key}", positive=positive, allow_zero=allow_zero)


def _as_number(value: Any, name: str, *, positive: bool = True, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"must be a number, not {type(value).__name__}", field=name, value=value)
    number = float(value)
    if not math.isfinite(number):
        raise InputError("must be a finite number", field=name, value=value)
    if positive and (number < 0 or (number == 0 and not allow_zero)):
        raise InputError("must be positive" if not allow_zero else "must not be negative", field=name, value=value)
    return number


def _string(data: dict, key: str, where: str) -> str:
    value = _required(data, key, where)
    if not isinstance(value, str):
        raise InputError(f"must be a string, not {type(value).__name__}", field=f"{where}.{key}", value=value)
    return value


def _account(data: Any, where: str, catalogue: Catalogue) -> Account:
    _check_keys(data, _ACCOUNT_KEYS, where)
    venue = _string(data, "venue", where)
    if venue not in VENUES:
        raise InputError(f"unknown venue; known: {', '.join(VENUES)}", field=f"{where}.venue", value=venue)
    wallet = _as_number(data.get("wallet_balance", 0.0), f"{where}.wallet_balance", allow_zero=True)
    positions_data = data.get("position", [])
    if not isinstance(positions_data, list):
        raise InputError("must be an array of tables", field=f"{where}.position", value=positions_data)
    positions = tuple(
        _position(p, f"{where}.position[{j}]", venue, catalogue) for j, p in enumerate(positions_data)
    )
    settles = {p.instrument.settle for p in positions}
    settle_given = "settle" in data
    if settle_given:
        settle = _string(data, "settle", where)
        wrong = [p for p in positions if p.instrument.settle != settle]
        if wrong:
            raise InputError(
                f"{wrong[0].symbol} settles in {wrong[0].instrument.settle}", field=f"{where}.settle", value=settle
            )
    elif len(settles) > 1:
        raise InputError(
            "positions settle in different assets " + ", ".join(sorted(settles)) + "; split them into accounts",
            field=f"{where}.position",
            has_value=False,
        )
    else:
        settle = settles.pop() if settles else ("USDC" if venue == "hyperliquid" else "USDT")
    return Account(venue, wallet, settle, positions, settle_given)


def _position(data: Any, where: str, venue: str, catalogue: Catalogue) -> Position:
    _check_keys(data, _POSITION_KEYS, where)
    symbol = _string(data, "symbol", where)
    try:
        instrument = catalogue.get(venue, symbol)
    except InputError as err:
        raise InputError(err.reason, field=f"{where}.symbol", value=symbol) from None
    side_text = _string(data, "side", where)
    if side_text not in ("long", "short"):
        raise InputError("must be 'long' or 'short'", field=f"{where}.side", value=side_text)
    side = Side.LONG if side_text == "long" else Side.SHORT
    size = _number(data, "size", where)
    entry = _number(data, "entry_price", where)
    leverage = _number(data, "leverage", where)
    mode_text = _string(data, "margin_mode", where) if "margin_mode" in data else "cross"
    if mode_text not in ("cross", "isolated"):
        raise InputError("must be 'cross' or 'isolated'", field=f"{where}.margin_mode", value=mode_text)
    mode = MarginMode(mode_text)
    mmr = maint_amount = None
    if "mmr" in data:
        mmr = _as_number(data["mmr"], f"{where}.mmr")
        if mmr >= 1:
            raise InputError("must be below 1 (a rate, e.g. 0.004)", field=f"{where}.mmr", value=data["mmr"])
        maint_amount = _as_number(data.get("maint_amount", 0.0), f"{where}.maint_amount", allow_zero=True)
        instrument = instrument.with_override(mmr, maint_amount)
    elif "maint_amount" in data:
        raise InputError("needs 'mmr' beside it", field=f"{where}.maint_amount", value=data["maint_amount"])
    elif not instrument.tiers:
        raise InputError(
            f"adlwatch has no sourced tier table for {venue} {symbol}: give mmr (and maint_amount) "
            "from your account's leverage bracket",
            field=f"{where}.mmr",
            has_value=False,
        )
    max_lev = max(t.max_leverage for t in instrument.tiers)
    if leverage > max_lev and "mmr" not in data:
        raise InputError(f"above the venue's maximum of {max_lev:g}x for {symbol}", field=f"{where}.leverage", value=data["leverage"])
    isolated_margin = None
    if mode is MarginMode.ISOLATED:
        position = Position(instrument, side, size, entry, leverage, mode)
        default = position.initial_margin()
        isolated_margin = (
            _as_number(data["isolated_margin"], f"{where}.isolated_margin") if "isolated_margin" in data else default
        )
    elif "isolated_margin" in data:
        raise InputError("only for margin_mode = 'isolated'", field=f"{where}.isolated_margin", value=data["isolated_margin"])
    return Position(instrument, side, size, entry, leverage, mode, isolated_margin, mmr, maint_amount)


# -- edits: pure functions from a portfolio to a new, re-validated one ---------------------------


def edit_data(portfolio: Portfolio) -> dict[str, Any]:
    """The portfolio as plain data (what the file holds), for an edit to change."""
    return portfolio.to_data()


def with_position(
    portfolio: Portfolio,
    account: int | None,
    index: int | None,
    position: dict[str, Any],
    *,
    venue: str | None = None,
    catalogue: Catalogue | None = None,
) -> Portfolio:
    """Replace position ``index`` of ``account`` (or append it when ``index`` is None; a new
    account of ``venue`` when ``account`` is None). Raises InputError naming the field."""
    data = edit_data(portfolio)
    accounts = data["account"]
    if account is None:
        if venue is None:
            raise InputError("choose a venue for the new account", field="venue", has_value=False)
        accounts.append({"venue": venue, "wallet_balance": 0.0, "position": []})
        account = len(accounts) - 1
    positions = accounts[account].setdefault("position", [])
    if index is None:
        positions.append(position)
    else:
        positions[index] = position
    return Portfolio.from_data(data, catalogue)


def without_position(portfolio: Portfolio, account: int, index: int, catalogue: Catalogue | None = None) -> Portfolio:
    data = edit_data(portfolio)
    del data["account"][account]["position"][index]
    return Portfolio.from_data(data, catalogue)


def with_wallet(portfolio: Portfolio, account: int, wallet_balance: float, catalogue: Catalogue | None = None) -> Portfolio:
    data = edit_data(portfolio)
    data["account"][account]["wallet_balance"] = wallet_balance
    return Portfolio.from_data(data, catalogue)


def with_isolated_margin_change(
    portfolio: Portfolio, account: int, index: int, change: float, catalogue: Catalogue | None = None
) -> Portfolio:
    """Add (or, negative, remove) isolated margin; refuses to take it to zero or below."""
    data = edit_data(portfolio)
    position = data["account"][account]["position"][index]
    if position.get("margin_mode") != "isolated":
        raise InputError("only isolated positions carry their own margin", field="isolated_margin", value=change)
    new_margin = float(position["isolated_margin"]) + change
    if new_margin <= 0:
        raise InputError(f"would leave {new_margin:g} of margin", field="isolated_margin", value=change)
    position["isolated_margin"] = new_margin
    return Portfolio.from_data(data, catalogue)


def with_leverage(portfolio: Portfolio, account: int, index: int, leverage: float, catalogue: Catalogue | None = None) -> Portfolio:
    """Change the leverage setting; an isolated position's margin follows it (entry value ÷ leverage)."""
    data = edit_data(portfolio)
    position = data["account"][account]["position"][index]
    old = portfolio.accounts[account].positions[index]
    position["leverage"] = leverage
    if old.isolated and leverage > 0:
        position["isolated_margin"] = old.entry_value() / leverage
    return Portfolio.from_data(data, catalogue)


def remove_account(portfolio: Portfolio, account: int, catalogue: Catalogue | None = None) -> Portfolio:
    data = edit_data(portfolio)
    del data["account"][account]
    return Portfolio.from_data(data, catalogue)
