"""The user's portfolio as validated, immutable values (the file format is in DESIGN.md).

``Portfolio.from_data`` takes the plain data of a parsed TOML file and either returns a portfolio
or raises ``InputError`` naming the field (``account[0].position[1].size``) and the value. Reading
and writing the file is feeds/portfolio_store.py's job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.enums import MARGIN_MODE_WORDS, SIDE_WORDS, MarginMode, Side
from adlwatch.engine.errors import InputError
from adlwatch.engine.events import AccountState, ImportedPosition
from adlwatch.engine.instruments import Catalogue, Instrument, Tier
from adlwatch.engine.margin import Leg, isolated_initial_margin
from adlwatch.engine.venues import VENUES, rules_for


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
    hedge: str | None = None  # positions sharing a hedge name form a (cross-venue) pair
    alert_below_pct: float | None = None  # this position's own liquidation-distance alert threshold
    reported: VenueReport | None = None  # the venue's own figures (imported positions only)

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
            "side": self.side.value,
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
        if self.hedge is not None:
            data["hedge"] = self.hedge
        if self.alert_below_pct is not None:
            data["alert_below_pct"] = self.alert_below_pct
        return data


@dataclass(frozen=True, slots=True)
class VenueReport:
    """What the venue itself says about an imported position, shown beside adlwatch's figures."""

    liquidation_price: float | None = None
    adl_lights: int | None = None  # 1..5, 5 = first in the venue's ADL queue
    adl_raw: str | None = None  # the venue's own value and scale
    mark_price: float | None = None
    unrealized_pnl: float | None = None
    brackets_from_account: bool = False  # the tiers are the account's own (Binance leverageBracket)
    # The venue's panel figures (``ImportedPosition``): break-even, funding since opened (+ received,
    # − paid), take-profit and stop-loss triggers.
    break_even_price: float | None = None
    funding_pnl: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None


@dataclass(frozen=True, slots=True)
class Account:
    venue: str
    wallet_balance: float  # cross collateral, in the settlement asset
    settle: str
    positions: tuple[Position, ...] = ()
    settle_given: bool = False
    # A followed account: its positions and wallet come from the venue, never from the file.
    address: str | None = None  # Hyperliquid: the public wallet address followed
    key_name: str | None = None  # Binance/Bybit/OKX: label of a read-only key (env or keyring), never the key
    hedges: tuple[tuple[str, str], ...] = ()  # followed accounts: (symbol, hedge name) tags
    alert_below_pct: float | None = None  # default distance threshold for this account's positions
    # A keyed account's ``settle = "BTC"`` as the file says it: which of the key's margin accounts is
    # followed (Binance COIN-M's BTC-margined contracts, Bybit's BTC inverse ones, USDC-settled ones);
    # None: the venue's default (``SETTLE_DEFAULT``).
    follow_settle: str | None = None
    # Filled from the venue for followed accounts:
    imported: bool = False  # True once the venue has reported (positions are the venue's)
    reported_value: float | None = None  # the venue's margin balance
    reported_maintenance: float | None = None  # the venue's cross maintenance margin
    warnings: tuple[str, ...] = ()  # e.g. a key that can trade; positions adlwatch cannot model
    # Cross positions the venue reports that adlwatch cannot model (an unknown coin): their uPnL and
    # maintenance margin at the venue's mark of the report, so the cross margin stays whole.
    unmodelled_pnl: float = 0.0
    unmodelled_maintenance: float = 0.0

    @property
    def followed(self) -> bool:
        return self.address is not None or self.key_name is not None

    @property
    def ref(self) -> str | None:
        """The reference an ``AccountState`` event carries in its ``symbol``: the address, the key's
        label, or ``label:SETTLE`` for a key's account in another settlement asset than the default."""
        if self.address is not None:
            return self.address
        if self.key_name is not None and self.follow_settle not in (None, rules_for(self.venue).SETTLE_DEFAULT):
            return f"{self.key_name}:{self.follow_settle}"
        return self.key_name

    @property
    def source(self) -> str:
        if self.address is not None:
            return f"address {self.address[:6]}…{self.address[-4:]}"
        if self.key_name is not None:  # one key's accounts in two assets are told apart by the asset
            return f"api key '{self.key_name}'" + (f", {self.follow_settle} account" if self.follow_settle else "")
        return "manual"

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"venue": self.venue}
        if self.followed:
            # What the file says of a followed account: where to follow it, never what it holds.
            if self.address is not None:
                data["address"] = self.address
            if self.key_name is not None:
                data["key_name"] = self.key_name
            if self.follow_settle is not None:
                data["settle"] = self.follow_settle
            if self.hedges:
                data["hedges"] = dict(self.hedges)
            if self.alert_below_pct is not None:
                data["alert_below_pct"] = self.alert_below_pct
            return data
        data["wallet_balance"] = self.wallet_balance
        if self.settle_given:
            data["settle"] = self.settle
        if self.alert_below_pct is not None:
            data["alert_below_pct"] = self.alert_below_pct
        data["position"] = [p.to_data() for p in self.positions]
        return data


@dataclass(frozen=True, slots=True)
class Portfolio:
    accounts: tuple[Account, ...] = field(default_factory=tuple)
    alerts: dict[str, Any] = field(default_factory=dict)  # the file's [alerts] table, validated
    # The file's ``[journal] folder``: where the session journal goes, as written (``~`` and a
    # relative path are resolved by whoever opens it: feeds/journal.py); None: no journal.
    journal: str | None = None
    # The contracts and tier tables it was validated against (the bundled ones, or the user's
    # refreshed ones): every edit and every venue report is validated against the same.
    catalogue: Catalogue = field(kw_only=True, compare=False, repr=False)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"account": [a.to_data() for a in self.accounts]}
        if self.alerts:
            data["alerts"] = dict(self.alerts)
        if self.journal is not None:
            data["journal"] = {"folder": self.journal}
        return data

    def symbols(self) -> set[tuple[str, str]]:
        return {(p.venue, p.symbol) for a in self.accounts for p in a.positions}

    @staticmethod
    def from_data(data: dict[str, Any], catalogue: Catalogue) -> Portfolio:
        _check_keys(data, {"account", "alerts", "journal"}, "")
        accounts_data = data.get("account", [])
        if not isinstance(accounts_data, list):
            raise InputError("must be an array of tables ([[account]])", field="account", value=accounts_data)
        alerts: dict[str, Any] = {}
        if "alerts" in data:
            AlertRules.from_data(data["alerts"], "alerts")  # raises InputError naming the field
            alerts = dict(data["alerts"])
        journal = _journal(data["journal"]) if "journal" in data else None
        accounts = tuple(_account(a, f"account[{i}]", catalogue) for i, a in enumerate(accounts_data))
        _followed_once(accounts)
        return Portfolio(accounts, alerts, journal, catalogue=catalogue)


def _followed_once(accounts: tuple[Account, ...]) -> None:
    """Two entries following one venue account (same address, or same key and settlement asset)
    would show its positions twice."""
    first: dict[tuple[str, str | None], int] = {}
    for i, account in enumerate(accounts):
        if not account.followed:
            continue
        key = (account.venue, account.ref)
        if key in first:
            field = "address" if account.address is not None else "key_name"
            raise InputError(f"account[{first[key]}] already follows this {account.venue} account "
                             "(one entry per address, or per key and settlement asset)",
                             field=f"account[{i}].{field}", has_value=field == "address",
                             value=account.address)
        first[key] = i


def _journal(data: Any) -> str:
    """``[journal] folder = "~/adlwatch-journal"``: the folder, a non-empty string."""
    _check_keys(data, {"folder"}, "journal")
    folder = _required(data, "folder", "journal")
    if not isinstance(folder, str) or not folder.strip():
        raise InputError("must be a folder name (a non-empty string)", field="journal.folder", value=folder)
    return folder


_ACCOUNT_KEYS = {"venue", "wallet_balance", "settle", "position", "address", "key_name", "hedges", "alert_below_pct"}
_FOLLOWED_KEYS = {"venue", "address", "key_name", "settle", "hedges", "alert_below_pct"}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_KEY_NAME = re.compile(r"[A-Za-z0-9_-]{1,24}")
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
    "hedge",
    "alert_below_pct",
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
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise InputError("must be a finite number", field=name, value=value) from None
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


def _alert_pct(data: dict, where: str) -> float | None:
    if "alert_below_pct" not in data:
        return None
    return _as_number(data["alert_below_pct"], f"{where}.alert_below_pct", positive=False)


def _hedge_name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("must be a non-empty string (the hedge pair's name)", field=name, value=value)
    return value.strip()


def _followed_account(data: dict, where: str, venue: str, catalogue: Catalogue) -> Account:
    """An account whose positions come from the venue: a Hyperliquid address or a read-only key's label."""
    extra = sorted(set(data) - _FOLLOWED_KEYS)
    if extra:
        raise InputError(
            "a followed account takes its balance and positions from the venue; remove this key "
            "(or put manual positions in an account of their own)",
            field=f"{where}.{extra[0]}", value=data[extra[0]],
        )
    rules = rules_for(venue)
    by_address = " or ".join(r.TITLE for r in map(rules_for, VENUES) if r.FOLLOW_BY == "address")
    address = key_name = None
    if "address" in data:
        if "key_name" in data:
            raise InputError(f"give address ({by_address}) or key_name, not both", field=f"{where}.key_name",
                             has_value=False)
        if rules.FOLLOW_BY != "address":
            raise InputError(f"only {by_address} positions are public by address; use key_name for "
                             f"{venue}", field=f"{where}.address", value=data["address"])
        address = data["address"]
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise InputError("must be 0x followed by 40 hex digits", field=f"{where}.address", value=address)
        address = address.lower()
    else:
        key_name = data["key_name"]
        if rules.FOLLOW_BY == "address":
            raise InputError(f"{rules.TITLE} needs no key: follow the wallet with address = \"0x…\"",
                             field=f"{where}.key_name", has_value=False)
        if not isinstance(key_name, str) or not _KEY_NAME.fullmatch(key_name):
            # Never echo it: a user may have pasted the key itself here.
            raise InputError(
                "must be a short label (letters, digits, - or _, at most 24) naming a key kept in the "
                f"environment (ADLWATCH_{venue.upper()}_<LABEL>_API_KEY …) or the keyring, never the key itself",
                field=f"{where}.key_name", has_value=False,
            )
    follow_settle = _follow_settle(data, where, venue, catalogue) if "settle" in data else None
    hedges_data = data.get("hedges", {})
    if not isinstance(hedges_data, dict):
        raise InputError("must be a table of symbol = \"hedge name\"", field=f"{where}.hedges", value=hedges_data)
    hedges = tuple(sorted((str(k), _hedge_name(v, f"{where}.hedges.{k}")) for k, v in hedges_data.items()))
    return Account(venue, 0.0, follow_settle or rules.SETTLE_DEFAULT, (), follow_settle is not None, address,
                   key_name, hedges, _alert_pct(data, where), follow_settle=follow_settle)


def _follow_settle(data: dict, where: str, venue: str, catalogue: Catalogue) -> str | None:
    """A followed account's ``settle``: an asset some listed contract of the venue settles in (the
    key's margin account in that asset is followed)."""
    rules = rules_for(venue)
    settle = _string(data, "settle", where)
    if rules.FOLLOW_BY == "address":
        raise InputError(f"{rules.TITLE} accounts settle in {rules.SETTLE_DEFAULT} only: remove settle",
                         field=f"{where}.settle", value=settle)
    assets = sorted({i.settle for i in catalogue if i.venue == venue})
    if settle not in assets:
        raise InputError(f"no {rules.TITLE} contract in adlwatch's tables settles in it; known: {', '.join(assets)} "
                         f"(`adlwatch tiers --refresh {venue}` reads the venue's current list)",
                         field=f"{where}.settle", value=settle)
    return settle


def _account(data: Any, where: str, catalogue: Catalogue) -> Account:
    _check_keys(data, _ACCOUNT_KEYS, where)
    venue = _string(data, "venue", where)
    if venue not in VENUES:
        raise InputError(f"unknown venue; known: {', '.join(VENUES)}", field=f"{where}.venue", value=venue)
    if "address" in data or "key_name" in data:
        return _followed_account(data, where, venue, catalogue)
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
        settle = settles.pop() if settles else rules_for(venue).SETTLE_DEFAULT
    return Account(venue, wallet, settle, positions, settle_given, alert_below_pct=_alert_pct(data, where))


def _symbol_reason(reason: str, catalogue: Catalogue, venue: str, symbol: str) -> str:
    """Why a symbol was refused, and where it is a contract's spelling: another venue's
    (``BTC-USDT-SWAP`` in a Binance account), or this venue's in another letter case."""
    elsewhere = [v for v in catalogue.venues() if v != venue and catalogue.find(v, symbol) is not None]
    if elsewhere:
        reason += f"; {symbol} is how {' and '.join(elsewhere)} spell{'s' if len(elsewhere) == 1 else ''} it"
    case = [s for s in catalogue.symbols(venue) if s.casefold() == symbol.casefold()]
    if case and case[0] != symbol:
        reason += f"; symbols are case-sensitive: {case[0]}"
    return reason


def _position(data: Any, where: str, venue: str, catalogue: Catalogue) -> Position:
    _check_keys(data, _POSITION_KEYS, where)
    symbol = _string(data, "symbol", where)
    try:
        instrument = catalogue.get(venue, symbol)
    except InputError as err:
        raise InputError(_symbol_reason(err.reason, catalogue, venue, symbol), field=f"{where}.symbol",
                         value=symbol) from None
    side_text = _string(data, "side", where)
    if side_text not in SIDE_WORDS:
        raise InputError("must be 'long' or 'short'", field=f"{where}.side", value=side_text)
    side = Side(side_text)
    size = _number(data, "size", where)
    entry = _number(data, "entry_price", where)
    leverage = _number(data, "leverage", where)
    mode_text = _string(data, "margin_mode", where) if "margin_mode" in data else MarginMode.CROSS
    if mode_text not in MARGIN_MODE_WORDS:
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
        # What the venue reserves when the file does not say (Bybit: the fee to close included).
        default = isolated_initial_margin(rules_for(instrument.venue).RULES, Leg(instrument, side.sign, size, entry), leverage)
        isolated_margin = (
            _as_number(data["isolated_margin"], f"{where}.isolated_margin") if "isolated_margin" in data else default
        )
    elif "isolated_margin" in data:
        raise InputError("only for margin_mode = 'isolated'", field=f"{where}.isolated_margin", value=data["isolated_margin"])
    hedge = _hedge_name(data["hedge"], f"{where}.hedge") if "hedge" in data else None
    return Position(instrument, side, size, entry, leverage, mode, isolated_margin, mmr, maint_amount, hedge,
                    _alert_pct(data, where))


# -- followed accounts: the venue's report in, validated positions out ----------------------------


def imported_account(account: Account, state: AccountState, catalogue: Catalogue) -> Account:
    """``account`` (a followed one) with the balance and positions of a venue's ``AccountState``.

    A position adlwatch cannot model (unknown contract, no tier table, a nonsensical figure) is left
    out and named in ``warnings``: the rest of the account is still computed, and nothing raises.
    """
    hedges = dict(account.hedges)
    positions: list[Position] = []
    warnings = list(state.warnings)
    unmodelled_pnl = unmodelled_maintenance = 0.0
    for p in state.positions:
        try:
            positions.append(_imported_position(p, account.venue, catalogue, hedges.get(p.symbol)))
            continue
        except InputError as error:
            reason = "no contract specification in adlwatch" if error.reason.startswith("unknown") else error.reason
            warnings.append(f"{p.symbol} {p.side} not modelled: {reason}")
        except (TypeError, ValueError, ZeroDivisionError) as error:
            warnings.append(f"{p.symbol} {p.side} not modelled: {error}")
        pnl, maintenance = _unmodelled_cross(p)
        unmodelled_pnl += pnl
        unmodelled_maintenance += maintenance
    settles = {p.instrument.settle for p in positions}
    settle = settles.pop() if len(settles) == 1 else state.settle
    if len(settles) > 1:
        warnings.append("positions settle in different assets; only one settlement asset per account is modelled")
    wallet = float(state.wallet_balance)
    return replace(
        account,
        # Not clamped: a cross ledger can be negative (withdrawn unrealised profit) and must count so.
        wallet_balance=wallet if math.isfinite(wallet) else 0.0,
        unmodelled_pnl=unmodelled_pnl,
        unmodelled_maintenance=unmodelled_maintenance,
        settle=settle,
        positions=tuple(positions),
        imported=True,
        reported_value=state.account_value,
        reported_maintenance=state.maintenance_margin,
        warnings=tuple(warnings),
    )


def with_account_states(
    portfolio: Portfolio, states: Mapping[tuple[str, str], AccountState] | Iterable[AccountState]
) -> Portfolio:
    """The portfolio with each followed account replaced by its venue's last report, where one came
    (``states``: a mapping by (venue, ref) or an iterable of ``AccountState``), validated against the
    portfolio's catalogue."""
    by_key = states if isinstance(states, Mapping) else {(s.venue, s.symbol): s for s in states}
    accounts = list(portfolio.accounts)
    changed = False
    for i, account in enumerate(accounts):
        state = by_key.get((account.venue, account.ref)) if account.followed else None
        if state is not None:
            accounts[i] = imported_account(account, state, portfolio.catalogue)
            changed = True
    return replace(portfolio, accounts=tuple(accounts)) if changed else portfolio


MAX_POSITION_VALUE = 1e12  # in the settlement asset: beyond any real position, so a unit mix-up


def _unmodelled_cross(p: ImportedPosition) -> tuple[float, float]:
    """A cross position adlwatch cannot model: the venue's own uPnL and maintenance margin where it
    reports both (right for any contract kind: an inverse quarterly's are in the coin), else a linear
    one's at the venue's reported mark (MMR from the venue's first bracket), or nothing where unknown."""
    try:
        if p.margin_mode == MarginMode.CROSS and p.unrealized_pnl is not None and p.maintenance_margin is not None:
            pnl, maintenance = float(p.unrealized_pnl), float(p.maintenance_margin)
            return (pnl, maintenance) if math.isfinite(pnl) and math.isfinite(maintenance) else (0.0, 0.0)
        if p.margin_mode != MarginMode.CROSS or p.side not in SIDE_WORDS or not p.mark_price:
            return 0.0, 0.0
        sign = float(Side(p.side).sign)
        size, mark, entry = float(p.size), float(p.mark_price), float(p.entry_price)
        pnl = sign * size * (mark - entry)
        mmr = float(p.brackets[0][2]) if p.brackets else 0.0
        maintenance = mmr * size * mark
    except (TypeError, ValueError, IndexError):
        return 0.0, 0.0
    if not (math.isfinite(pnl) and math.isfinite(maintenance)) or size <= 0:
        return 0.0, 0.0
    return pnl, maintenance


def _imported_position(p: ImportedPosition, venue: str, catalogue: Catalogue, hedge: str | None) -> Position:
    instrument = catalogue.find(venue, p.symbol)
    if instrument is None:  # a contract no table knows: described by the venue's own report where it can be
        from_report = getattr(rules_for(venue), "instrument_from_report", None)  # (engine/venues/hyperliquid.py)
        instrument = from_report(p.symbol, p.brackets) if from_report is not None else None
    if instrument is None:
        instrument = catalogue.get(venue, p.symbol)  # raises: unknown, naming the closest spellings
    if p.side not in SIDE_WORDS:
        raise InputError("side must be long or short", field="side", value=p.side)
    for name in ("size", "entry_price", "leverage"):
        number = getattr(p, name)
        if not (isinstance(number, int | float) and math.isfinite(number) and number > 0):
            raise InputError("must be a positive number", field=name, value=number)
    if p.brackets:
        tiers = tuple(Tier(float(f), float(c), float(m), float(lev), float(a)) for f, c, m, lev, a in p.brackets)
        instrument = replace(instrument, tiers=tiers, source="the account's own brackets (venue)", verified=True)
    elif not instrument.tiers:
        raise InputError("no tier table: run `adlwatch tiers --refresh`", field="mmr", has_value=False)
    # The wire's words become the engine's enums here, once.
    mode = MarginMode.ISOLATED if p.margin_mode == MarginMode.ISOLATED else MarginMode.CROSS
    side = Side(p.side)
    entry_value = Position(instrument, side, p.size, p.entry_price, p.leverage, mode).entry_value()
    if not entry_value < MAX_POSITION_VALUE:
        raise InputError("a position value no venue holds (a unit mix-up?)", field="size", value=p.size)
    isolated_margin = None
    if mode is MarginMode.ISOLATED:
        isolated_margin = p.isolated_margin
        if isolated_margin is None or not isolated_margin > 0:
            isolated_margin = isolated_initial_margin(rules_for(instrument.venue).RULES,
                                                      Leg(instrument, side.sign, p.size, p.entry_price), p.leverage)
    lights = p.adl_lights if isinstance(p.adl_lights, int) and 0 <= p.adl_lights <= 5 else None
    liq = p.liquidation_price if p.liquidation_price and p.liquidation_price > 0 else None
    report = VenueReport(liq, lights, p.adl_raw, p.mark_price, p.unrealized_pnl, bool(p.brackets),
                         p.break_even_price, p.funding_pnl, p.take_profit, p.stop_loss)
    return Position(instrument, side, float(p.size), float(p.entry_price), float(p.leverage), mode,
                    isolated_margin, hedge=hedge, reported=report)


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
    return Portfolio.from_data(data, portfolio.catalogue)


def without_position(portfolio: Portfolio, account: int, index: int) -> Portfolio:
    data = edit_data(portfolio)
    del data["account"][account]["position"][index]
    return Portfolio.from_data(data, portfolio.catalogue)


def with_wallet(portfolio: Portfolio, account: int, wallet_balance: float) -> Portfolio:
    data = edit_data(portfolio)
    data["account"][account]["wallet_balance"] = wallet_balance
    return Portfolio.from_data(data, portfolio.catalogue)


def with_isolated_margin_change(
    portfolio: Portfolio, account: int, index: int, change: float
) -> Portfolio:
    """Add (or, negative, remove) isolated margin; refuses to take it to zero or below."""
    data = edit_data(portfolio)
    position = data["account"][account]["position"][index]
    if position.get("margin_mode") != MarginMode.ISOLATED:
        raise InputError("only isolated positions carry their own margin", field="isolated_margin", value=change)
    new_margin = float(position["isolated_margin"]) + change
    if new_margin <= 0:
        raise InputError(f"would leave {new_margin:g} of margin", field="isolated_margin", value=change)
    position["isolated_margin"] = new_margin
    return Portfolio.from_data(data, portfolio.catalogue)


def with_leverage(portfolio: Portfolio, account: int, index: int, leverage: float) -> Portfolio:
    """Change the leverage setting. An isolated position keeps the margin it holds (what the user put
    in, added margin included): the leverage changes what the venue would require for the position,
    not the margin that is there (issue 14 item 7; no venue in research/exchanges.md says it
    recomputes an open isolated position's margin on a leverage change)."""
    data = edit_data(portfolio)
    position = data["account"][account]["position"][index]
    old = portfolio.accounts[account].positions[index]
    position["leverage"] = leverage
    if old.isolated and old.isolated_margin is not None:
        position["isolated_margin"] = old.isolated_margin
    return Portfolio.from_data(data, portfolio.catalogue)


def remove_account(portfolio: Portfolio, account: int) -> Portfolio:
    data = edit_data(portfolio)
    del data["account"][account]
    return Portfolio.from_data(data, portfolio.catalogue)
