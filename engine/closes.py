"""The positions a session saw closed: the monitor's forced-close bookkeeping.

Two kinds, both shown as a frozen row (``PositionRisk.closed``) and told as a critical alert:

- a manual position whose mark reaches its liquidation price is liquidated there, as the venue
  would: its row frozen at that price and time, its account re-solved without it (the engine's
  portfolio is the user's less the closed positions; a cross loss leaves the wallet, an isolated
  position takes its margin with it);
- a followed account's position the venue closed: vanished from the account's report while first
  in its ADL queue (read ADL, unconfirmed), then settled by the venue's own record (a
  ``ForcedClose``: liquidated or auto-deleveraged, at its fill price).

``ClosedPositions`` holds one portfolio's closes against one engine (a new portfolio or a replay's
seek back starts a new one); ``CriticalAlerts`` outlives them: each close is told once per position
and crossing in the session, however often a replay seeks back over it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import replace as dc_replace

import msgspec

from adlwatch.engine import events
from adlwatch.engine.accounts import position_leg, usd_notional
from adlwatch.engine.alerts import Alert, forced_close_alert, modelled_close_alert
from adlwatch.engine.margin import unrealized_pnl
from adlwatch.engine.portfolio import Portfolio, Position
from adlwatch.engine.risk import RiskEngine
from adlwatch.engine.snapshot import MarkKey, PositionRisk, RiskSnapshot

Slot = tuple[int, int]  # (account, index) of a position
FollowedPosition = tuple[str, str, str, str]  # (venue, account ref, symbol, side) of a followed account's position


@dataclass(frozen=True, slots=True)
class Closed:
    """A position the venue would have closed: its row frozen where it happened."""

    account: int
    index: int
    state: str  # liquidated | adl
    at_ms: int | None
    price: float
    realized: float  # PnL in the settlement asset at that price (isolated: minus its whole margin)
    row: PositionRisk  # the figures shown from then on


def realized_pnl(position: Position, price: float) -> float:
    """A position's PnL closed at ``price``, in its settlement asset (the solver's uPnL at that price)."""
    return unrealized_pnl(position_leg(position), price)


def liquidated_row(row: PositionRisk, price: float, at_ms: int | None, realized: float) -> PositionRisk:
    """The row of a position liquidated at ``price``: figures frozen there, no distance or ADL rank."""
    return msgspec.structs.replace(
        row, mark_price=price, unrealized_pnl=realized, margin_balance=0.0 if row.margin_mode == "isolated" else None,
        distance_pct=None, distance_price=None, adl_score=None, adl_quantile=None, effective_leverage=None,
        closed="liquidated", closed_at_ms=at_ms, closed_price=price)


def past_liquidation(p: PositionRisk) -> bool:
    """A shown position whose mark is at or past its liquidation price (a negative distance)."""
    return p.closed is None and p.distance_pct is not None and p.distance_pct < 0 and p.liquidation_price is not None


def account_label(venue: str, ref: str) -> str:
    """A followed account as the feeds panel names it."""
    return f"{venue} {ref[:6]}…" if ref.startswith("0x") else f"{venue} key '{ref}'"


class CriticalAlerts:
    """The session's critical alerts (positions closed): each told once per key (a position and its
    crossing), those found between two evaluations waiting for the next."""

    def __init__(self) -> None:
        self._told: set[tuple] = set()
        self._pending: list[tuple[tuple, Alert]] = []

    def told(self, key: tuple) -> bool:
        return key in self._told

    def tell_later(self, key: tuple, alert: Alert) -> None:
        """An alert for the next evaluation, unless this key was told this session (a replay seeking
        back closes the same position at the same time again) or already waits."""
        if key not in self._told and all(key != k for k, _ in self._pending):
            self._pending.append((key, alert))

    def withdraw(self, which: Callable[[tuple], bool]) -> None:
        """Drop the waiting alerts whose key ``which`` picks (a guess the venue's record replaces)."""
        self._pending = [(k, a) for k, a in self._pending if not which(k)]

    def take(self, now_ms: int) -> list[Alert]:
        """The waiting alerts, told now (one without a time takes ``now_ms``)."""
        out = []
        for key, alert in self._pending:
            if key not in self._told:
                self._told.add(key)
                out.append(alert if alert.ts_ms else msgspec.structs.replace(alert, ts_ms=now_ms))
        self._pending = []
        return out

    def forget_pending(self) -> None:
        """A replay seeking back: what waits is found again as the replay passes it."""
        self._pending = []


class ClosedPositions:
    """One portfolio's closed positions against one engine, whose portfolio it keeps as the user's
    less the closed positions. Indices: the user's (the portfolio's, what rows show) and the
    engine's (without the closed positions) differ once a position closed."""

    def __init__(self, portfolio: Portfolio, engine: RiskEngine, alerts: CriticalAlerts) -> None:
        self._portfolio = portfolio
        self._engine = engine
        self._alerts = alerts
        self._closed: dict[Slot, Closed] = {}
        self._to_original: dict[Slot, Slot] = {}  # engine (account, index) → the user's
        self._to_engine: dict[Slot, Slot] = {}
        # Per contract: (account, index, liquidation price, reached going up) of the open manual positions.
        self._triggers: dict[MarkKey, list[tuple[int, int, float, bool]]] = {}
        self._triggers_for: set[MarkKey] = set()  # contracts whose first mark has refreshed the triggers
        self._reports: dict[tuple[str, str], events.AccountState] = {}  # followed accounts' last report
        self._adl_rows: list[PositionRisk] = []  # followed accounts' positions the venue closed (ADL'd, liquidated)
        # The rows of the positions that vanished from a followed account's latest report: the
        # venue's record of why may follow it.
        self._vanished: dict[FollowedPosition, PositionRisk] = {}
        self._guessed: dict[FollowedPosition, int] = {}  # ... and where the ADL guess put its row

    # -- what the monitor asks -----------------------------------------------------------------
    @property
    def closed(self) -> tuple[Closed, ...]:
        """The manual positions liquidated so far, in (account, index) order."""
        return tuple(self._closed[k] for k in sorted(self._closed))

    def is_closed(self, account: int, index: int) -> bool:
        return (account, index) in self._closed

    def engine_slot(self, account: int, index: int) -> Slot:
        """An open position's (account, index) in the engine's portfolio."""
        return self._to_engine.get((account, index), (account, index))

    def user_slot(self, account: int, index: int) -> Slot:
        """An engine position's (account, index) in the user's portfolio."""
        return self._to_original.get((account, index), (account, index))

    def as_shown(self, snapshot: RiskSnapshot) -> RiskSnapshot:
        """The engine's snapshot in the user's indices, closed positions frozen in their place, a
        followed account's closed ones after its reported ones (oldest first)."""
        if not self._closed and not self._adl_rows:
            return snapshot
        rows = []
        for p in snapshot.positions:
            a, i = self._to_original.get((p.account, p.index), (p.account, p.index))
            if (a, i) != (p.account, p.index):
                p = msgspec.structs.replace(p, account=a, index=i)
            rows.append(p)
        rows.extend(c.row for c in self._closed.values())
        count: dict[int, int] = {}
        for p in rows:
            count[p.account] = max(count.get(p.account, 0), p.index + 1)
        for p in self._adl_rows:
            if p.account < len(snapshot.accounts):
                rows.append(msgspec.structs.replace(p, index=count.get(p.account, 0)))
                count[p.account] = count.get(p.account, 0) + 1
        rows.sort(key=lambda p: (p.account, p.index))
        return msgspec.structs.replace(snapshot, positions=tuple(rows))

    # -- manual positions: liquidated at their price ----------------------------------------------
    def on_mark(self, key: MarkKey, price: float, t_ms: int, last_mark: Mapping[str, int]) -> None:
        """A contract's new mark: the open manual positions it takes to their liquidation price are
        liquidated there. ``last_mark``: each venue's latest mark time (when an overrun happened)."""
        if key in self._triggers_for and key not in self._triggers:
            return  # this runs for every mark: nothing held here can be liquidated by it
        if key not in self._triggers_for:  # a contract's first mark: liquidation prices can now be solved
            self._triggers_for.add(key)
            self.refresh_triggers(last_mark, t_ms)
        hits = [(a, i, lp) for a, i, lp, up in self._triggers.get(key, ()) if (price >= lp if up else price <= lp)]
        if hits:
            self._liquidate(hits, t_ms, last_mark)

    def refresh_triggers(self, last_mark: Mapping[str, int], at_ms: int | None = None) -> None:
        """Each open manual position's liquidation price from the live figures (the account's solver).
        One already past it (a negative distance: a mark we saw jumped over it, or a re-solved cross
        account) is liquidated at it now (``at_ms``: when; by default its venue's last mark)."""
        live = self._engine.live_snapshot()
        accounts = self._portfolio.accounts
        triggers: dict[MarkKey, list[tuple[int, int, float, bool]]] = {}
        past: list[tuple[int, int, float]] = []
        when = at_ms
        for p in live.positions:
            a, i = self._to_original.get((p.account, p.index), (p.account, p.index))
            if a >= len(accounts) or accounts[a].followed or p.liquidation_price is None or p.mark_price is None:
                continue
            lp = p.liquidation_price
            if past_liquidation(p):
                past.append((a, i, lp))
                when = when if when is not None else last_mark.get(p.venue)
                continue
            triggers.setdefault((p.venue, p.symbol), []).append((a, i, lp, lp > p.mark_price))
        self._triggers = triggers
        if past:
            self._liquidate(past, when, last_mark)

    def _liquidate(self, hits: list[tuple[int, int, float]], at_ms: int | None, last_mark: Mapping[str, int]) -> None:
        """Close these positions (account, index, price) as the venue would and re-solve the rest."""
        live = self._engine.live_snapshot()
        rows = {self._to_original.get((p.account, p.index), (p.account, p.index)): p for p in live.positions}
        for a, i, price in hits:
            if (a, i) in self._closed or (a, i) not in rows:
                continue
            position = self._portfolio.accounts[a].positions[i]
            realized = (-(position.isolated_margin or 0.0) if position.isolated
                        else realized_pnl(position, price))
            self._closed[(a, i)] = Closed(a, i, "liquidated", at_ms, price, realized,
                                          liquidated_row(rows[(a, i)], price, at_ms, realized))
            self._alerts.tell_later(("modelled", a, i, "liquidated", at_ms), modelled_close_alert(
                rows[(a, i)], "liquidation", price, at_ms if at_ms is not None else 0,
                usd_notional(position.instrument, position.size, price)))
        self._apply_closed(at_ms, last_mark)

    def _apply_closed(self, at_ms: int | None, last_mark: Mapping[str, int]) -> None:
        """The engine's portfolio: the user's without the closed positions, a cross loss taken from the
        wallet (an isolated one took its margin with it)."""
        accounts = []
        self._to_original, self._to_engine = {}, {}
        for a, account in enumerate(self._portfolio.accounts):
            kept, wallet = [], account.wallet_balance
            for i, position in enumerate(account.positions):
                closed = self._closed.get((a, i))
                if closed is None:
                    self._to_original[(a, len(kept))] = (a, i)
                    self._to_engine[(a, i)] = (a, len(kept))
                    kept.append(position)
                elif not position.isolated:
                    wallet += closed.realized
            accounts.append(account if len(kept) == len(account.positions)
                            else dc_replace(account, positions=tuple(kept), wallet_balance=wallet))
        self._engine.set_portfolio(dc_replace(self._portfolio, accounts=tuple(accounts)))
        self.refresh_triggers(last_mark, at_ms)

    # -- followed accounts: what the venue closed ----------------------------------------------
    def before_report(self, state: events.AccountState, venue_adl_alerts: Mapping[MarkKey, str]) -> None:
        """A followed account's new report, before the engine takes it: a position of the last one
        that vanished while the venue ranked it first in its ADL queue (5 lights) or had its ADL
        alert on for the contract (``venue_adl_alerts``: the states not normal) is shown ADL'd, at
        its last mark. UNCONFIRMED as the reason: the venues' private streams say why a position
        closed (Binance ORDER_TRADE_UPDATE, Bybit execType AdlTrade, OKX fills), but adlwatch's
        account events carry positions only, so the user closing it at that moment reads the same.
        The venue's record (a ``ForcedClose`` after the report) settles it: see ``forced_close``;
        for that, every vanished position's last row is kept until the next report."""
        key = (state.venue, state.symbol)
        previous = self._reports.get(key)
        self._reports[key] = state
        # What vanished from this account's previous report is history now.
        self._vanished = {k: v for k, v in self._vanished.items() if k[:2] != key}
        self._guessed = {k: v for k, v in self._guessed.items() if k[:2] != key}
        if previous is None:
            return
        still = {(p.symbol, p.side) for p in state.positions}
        vanished = {(p.symbol, p.side) for p in previous.positions if (p.symbol, p.side) not in still}
        gone = {(symbol, side) for symbol, side in vanished
                if next(p.adl_lights for p in previous.positions if (p.symbol, p.side) == (symbol, side)) == 5
                or venue_adl_alerts.get((state.venue, symbol)) == "adl"}
        if not vanished:
            return
        at_ms = state.ts if state.ts is not None else state.recv_ns // 1_000_000
        accounts = self._engine.portfolio.accounts
        for p in self._engine.live_snapshot().positions:
            account = accounts[p.account]
            if not account.followed or (account.venue, account.ref) != key:
                continue
            if (p.symbol, str(p.side)) in vanished:
                self._vanished[(state.venue, state.symbol, p.symbol, str(p.side))] = p
            if (p.symbol, str(p.side)) in gone:
                self._guessed[(state.venue, state.symbol, p.symbol, str(p.side))] = len(self._adl_rows)
                self._adl_rows.append(msgspec.structs.replace(
                    p, mark_price=None, distance_pct=None, distance_price=None, adl_quantile=None,
                    closed="adl", closed_at_ms=at_ms, closed_price=p.mark_price))
                if p.mark_price is not None:
                    instrument = account.positions[p.index].instrument
                    alert = modelled_close_alert(p, "adl", p.mark_price, at_ms,
                                                 usd_notional(instrument, p.size, p.mark_price),
                                                 how="unconfirmed")
                    self._alerts.tell_later(("adl-guess", state.venue, state.symbol, p.symbol, str(p.side), at_ms),
                                            alert)

    def forced_close(self, event: events.ForcedClose) -> None:
        """A followed position closed by the venue (its own record): a critical alert, once per fill.
        It replaces the unconfirmed ADL guess of the same position made from the same report."""
        key = ("venue", event.venue, event.account, event.symbol, event.side, event.cause, event.ts, event.price,
               event.size)
        if self._alerts.told(key):
            return
        account = next((i for i, a in enumerate(self._portfolio.accounts)
                        if a.followed and (a.venue, a.ref) == (event.venue, event.account)), None)
        instrument = self._portfolio.catalogue.find(event.venue, event.symbol)
        notional = usd_notional(instrument, event.size, event.price) if instrument is not None else None
        position = (event.venue, event.account, event.symbol, event.side)
        self._alerts.withdraw(lambda k: k[0] == "adl-guess" and k[1:5] == position)
        self._alerts.tell_later(key, forced_close_alert(event, account, notional,
                                                        account_label(event.venue, event.account)))
        if event.remaining > 0:
            return
        # The position is gone: its row stays, frozen, saying what the venue's record says (the
        # guess's row corrected, or the last row of the position that vanished from the report).
        state = "adl" if event.cause == "adl" else "liquidated"
        row = self._vanished.pop(position, None)
        guessed = self._guessed.pop(position, None)
        if guessed is not None:
            row = self._adl_rows[guessed]
            self._adl_rows[guessed] = msgspec.structs.replace(row, closed=state, closed_price=event.price,
                                                              closed_at_ms=event.ts or row.closed_at_ms)
        elif row is not None:
            self._adl_rows.append(msgspec.structs.replace(
                row, mark_price=None, distance_pct=None, distance_price=None, adl_quantile=None,
                closed=state, closed_at_ms=event.ts, closed_price=event.price))
