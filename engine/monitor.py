"""The monitor's model: events and the clock in, one immutable ``MonitorState`` out.

Pure (no Textual, no asyncio, no clock of its own): whoever drives it passes the time to the calls
that need it (the replay's position in a replay, the wall clock live). The Textual app and
``adlwatch watch`` both drive one ``Monitor``; the app only routes keys and draws its state.

It holds the incremental ``RiskEngine`` (live, and the what-if it keeps incrementally while a shock is on),
the feeds' health per venue and per followed account, the mark and fund-to-OI histories, the venues'
own ADL alert states, each contract's liquidation flow (engine/flow.py, from the venues' public
liquidation streams), and the alert rules with their book and log (in time order).

A followed position the venue liquidated or auto-deleveraged (a ``ForcedClose``, from the venue's own
record) is a critical alert; so is a modelled position the monitor closes (below). Each is told once
per position and crossing in the session.

A replay seeking back calls ``restart()``: the market and the alert book start afresh, and until the
replay passes the furthest time the session had evaluated, alerts are re-judged silently (they are in
the log already): a seek never tells the same crossing twice.

It also shows what the venue would do (``closed`` on a row): a manual position whose mark reaches
its liquidation price is liquidated there, with the time, and its account re-solved without it; a
followed account's position that vanished at the front of the ADL queue reads ADL until the venue's
record says why it closed. That bookkeeping is engine/closes.py (``ClosedPositions``, one per
portfolio and market; ``CriticalAlerts``, the session's told-once closes). A what-if liquidates
here, at the shocked marks, for the screen only. ``restart()`` (a replay seeking back) brings them
back. ``check`` has no history and keeps showing such figures with a negative distance.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import NamedTuple

import msgspec

from adlwatch.engine import events
from adlwatch.engine.accounts import usd_notional
from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.alerts import (
    Alert,
    AlertBook,
    FeedHealth,
    FeedKey,
    evaluate,
    in_time_order,
    modelled_close_alert,
    with_feed_status,
    with_venue_alert,
)
from adlwatch.engine.cascade import CascadeResult, cascade_for_positions
from adlwatch.engine.closes import (
    Closed,
    ClosedPositions,
    CriticalAlerts,
    account_label,
    liquidated_row,
    past_liquidation,
    realized_pnl,
)
from adlwatch.engine.events import Event
from adlwatch.engine.flow import FlowTracker, LiquidationFlow
from adlwatch.engine.population import DEFAULT_ESTIMATE_PARAMS, build_population
from adlwatch.engine.portfolio import Portfolio, Position
from adlwatch.engine.risk import EngineInputs, RiskEngine, compute_snapshot, quantile_what_ifs
from adlwatch.engine.snapshot import HedgeRisk, PositionRisk, RiskSnapshot, ShockSpec, shocked_marks

MarkKey = tuple[str, str]  # (venue, symbol)

SHOCK_SCOPES = ("selected", "all")  # what the shock keys move: the selected contract, or every mark
ALERT_LOG_SIZE = 200
ALERTS_SHOWN = 50  # the newest alerts a state carries (the whole log: ``Monitor.alert_log``)


@dataclass(frozen=True, slots=True)
class FeedState:
    venue: str  # a venue, or a followed account's label ("hyperliquid 0xabcd…", "binance key 'main'")
    state: str  # connected | subscribed | stale | disconnected | error | replay
    detail: str = ""
    last_mark_ms: int | None = None  # time of the newest mark from this venue (replay or wall clock)
    last_mark_age_s: float | None = None  # how long ago that was, on the state's clock (never negative)


@dataclass(frozen=True, slots=True)
class ReplayState:
    """Where a replay stands: the source's own state, which the driver passes in."""

    position_ms: int
    start_ms: int
    end_ms: int
    playing: bool
    speed: float  # math.inf: as fast as possible
    finished: bool

    @property
    def progress(self) -> float:
        span = self.end_ms - self.start_ms
        return 1.0 if span <= 0 else min(1.0, max(0.0, (self.position_ms - self.start_ms) / span))


class WhatIfChange(NamedTuple):
    """A position's figures under the what-if less its live ones; None where either is unknown."""

    unrealized_pnl: float | None  # in the settlement asset
    distance_pct: float | None  # in percentage points


def what_if_changes(shown: RiskSnapshot, live: RiskSnapshot) -> dict[tuple[int, int], WhatIfChange]:
    """Each shown position's change from the live one (the what-if table's change columns)."""
    before = {(p.account, p.index): p for p in live.positions}
    out = {}
    for p in shown.positions:
        was = before.get((p.account, p.index))
        out[(p.account, p.index)] = WhatIfChange(
            _change(p.unrealized_pnl, was.unrealized_pnl if was else None),
            _change(p.distance_pct, was.distance_pct if was else None))
    return out


def _change(now: float | None, live: float | None) -> float | None:
    return None if now is None or live is None else now - live


@dataclass(frozen=True, slots=True)
class MonitorState:
    """What the monitor shows at one moment. Numbers the engine computed; nothing here calculates risk."""

    snapshot: RiskSnapshot  # what to show: the live snapshot, or the hypothetical one during a what-if
    live: RiskSnapshot  # the live one beside it (the change column of a what-if, the alert rules)
    shocks: tuple[ShockSpec, ...] = ()
    shock_scope: str = "selected"
    feeds: tuple[FeedState, ...] = ()
    replay: ReplayState | None = None
    now_ms: int | None = None  # the clock marks are aged against (replay clock, or wall clock)
    mark_history: dict[MarkKey, tuple[tuple[int, float], ...]] = field(default_factory=dict)  # the charted contract's
    fund_history: dict[MarkKey, tuple[float, ...]] = field(default_factory=dict)
    adl_alerts: tuple[tuple[str, str, str], ...] = ()  # (venue, symbol, state) of venues' ADL alerts not normal
    alerts: tuple[Alert, ...] = ()  # newest last: the end of the alert log, in time order
    # The session's critical alerts (positions the venue closed, or the model did), newest last:
    # shown before the others.
    critical_alerts: tuple[Alert, ...] = ()
    # Each contract's liquidation flow at ``now_ms`` (1 and 5 min by side, sparkline, cascade
    # pressure), for every contract a liquidation stream has been heard from.
    liquidation_flows: dict[MarkKey, LiquidationFlow] = field(default_factory=dict)
    hedges: tuple[HedgeRisk, ...] = ()  # the shown snapshot's hedge groups (hypothetical during a what-if)
    # During a what-if, each position's change from live, by (account, index): (uPnL, distance in pt).
    what_if_changes: dict[tuple[int, int], WhatIfChange] = field(default_factory=dict)

    @property
    def hypothetical(self) -> bool:
        return bool(self.shocks)


@dataclass(frozen=True, slots=True)
class AdlEstimate:
    """Why a position's ADL lights read what they do, and what would move them (the ``i`` screen)."""

    what_ifs: list[tuple[str, int | None]]  # (what changes, the quantile it would give)
    population: str  # the modelled population, described
    anchor: float  # the mark the population was drawn at (then moved with the market)
    open_interest_known: bool  # sized to the feed's open interest (else to the position)
    # The venue's own public ADL rating of the contract (Binance symbolAdlRisk: low | medium | high)
    # and its time in ms, beside the estimate; None where the venue publishes none.
    venue_rating: str | None = None
    venue_rating_ms: int | None = None

    def venue_rating_line(self) -> str | None:
        """The venue's rating in words, for the explanation; None without one."""
        if self.venue_rating is None:
            return None
        when = ("" if self.venue_rating_ms is None else
                f" (as of {datetime.fromtimestamp(self.venue_rating_ms / 1000, UTC):%Y-%m-%d %H:%M} UTC)")
        return (f"The venue itself rates this contract's ADL risk {self.venue_rating.upper()}{when}: its own "
                "reading of the whole book, published for every account alike; the lights above rank this "
                "position within a modelled one.")


@dataclass(frozen=True, slots=True)
class CascadeStart:
    """A cascade from where a contract stands now (the ``c`` screen): ``run(shock_pct, policy)``."""

    mark: float  # the shown mark: the hypothetical one during a what-if
    fund_known: bool  # False: the insurance fund is taken as 0 (the worst case)
    held: tuple[Position, ...]  # the portfolio's positions in the contract
    run: Callable[[float, str], CascadeResult]  # one fate per held position


def closed_label(p: PositionRisk) -> str | None:
    """"LIQUIDATED 21:13:05" / "ADL 21:13:05" (UTC; "(what-if)" without a time) for a closed
    position, None for an open one: what the table shows in its distance column."""
    if p.closed is None:
        return None
    word = "LIQUIDATED" if p.closed == "liquidated" else "ADL"
    if p.closed_at_ms is None:
        return f"{word} (what-if)"
    return f"{word} {datetime.fromtimestamp(p.closed_at_ms / 1000, UTC):%H:%M:%S}"


def _log_order(alert: Alert) -> tuple[int, bool]:
    return (alert.ts_ms, alert.critical)


FUND_SAMPLE_MS = 60_000  # the fund/OI history: one point a minute of the monitor's clock ...
FUND_POINTS = 120  # ... for two hours


class History:
    """Bounded recent history per contract, for the chart and the sparklines."""

    def __init__(self, maxlen: int = 4_000) -> None:
        self._maxlen = maxlen
        self._marks: dict[MarkKey, deque[tuple[int, float]]] = {}
        self._funds: dict[MarkKey, deque[float]] = {}
        self._fund_periods: dict[MarkKey, int] = {}
        self._fund_partial: set[MarkKey] = set()  # contracts whose history holds upper bounds only

    def add_mark(self, key: MarkKey, t_ms: int, price: float) -> None:
        series = self._marks.get(key)
        if series is None:
            series = self._marks[key] = deque(maxlen=self._maxlen)
        if series and series[-1][0] > t_ms:  # a seek back starts the series again
            series.clear()
        series.append((t_ms, price))

    def add_fund_ratio(self, key: MarkKey, ratio: float, t_ms: int, partial: bool = False) -> None:
        """One point per ``FUND_SAMPLE_MS`` of the monitor's clock (the period's latest ratio), so the
        history spans the same time however often the screen asks; a seek back starts it again.

        ``partial``: the ratio is over part of its pool's open interest (an upper bound). Such points
        are kept while nothing better is known, and the first ratio over the whole pool starts the
        history again (the two are not the same figure: the sparkline must not show a fall)."""
        series = self._funds.get(key)
        if series is None:
            series = self._funds[key] = deque(maxlen=FUND_POINTS)
        period = t_ms // FUND_SAMPLE_MS
        last = self._fund_periods.get(key)
        if (last is not None and period < last) or (not partial and key in self._fund_partial):
            series.clear()
        if partial and not series:
            self._fund_partial.add(key)
        elif not partial:
            self._fund_partial.discard(key)
        if partial and key not in self._fund_partial:
            return  # a whole-pool history is not mixed with upper bounds (members' OI briefly missing)
        if series and period == last:
            series[-1] = ratio
        else:
            series.append(ratio)
        self._fund_periods[key] = period

    def clear(self) -> None:
        self._marks.clear()
        self._funds.clear()
        self._fund_periods.clear()
        self._fund_partial.clear()

    def series(self, key: MarkKey) -> tuple[tuple[int, float], ...]:
        return tuple(self._marks.get(key, ()))

    def keys(self) -> list[MarkKey]:
        """The contracts with a mark history, in (venue, symbol) order."""
        return sorted(self._marks)

    def funds(self) -> dict[MarkKey, tuple[float, ...]]:
        return {k: tuple(v) for k, v in self._funds.items()}


class Monitor:
    """One session's model: feed it events (``apply``), ask it for its ``state`` at the UI's pace.

    ``replay``: the events come from a recording (a venue heard from reads "replay", not "connected").
    """

    def __init__(self, portfolio: Portfolio, *, rules: AlertRules | None = None, replay: bool = False) -> None:
        self.rules = rules if rules is not None else (
            AlertRules.from_data(portfolio.alerts) if portfolio.alerts else AlertRules())
        self.replay = replay
        self._portfolio = portfolio
        self._shock_scope = "selected"
        self._alert_log: list[Alert] = []  # in time order (``in_time_order``), the newest ALERT_LOG_SIZE
        self._critical_log: list[Alert] = []
        self._evaluated_until_s: float | None = None  # the furthest clock the rules were evaluated at
        self._silent_until_s: float | None = None  # after a restart: re-judge silently up to here
        self._critical = CriticalAlerts()  # positions closed: told once per position and crossing in the session
        self._what_if_closed: set[tuple[int, int]] = set()  # positions the what-if shows liquidated
        self._what_if_memo: tuple[RiskSnapshot, int, RiskSnapshot] | None = None  # (engine's, version, shown)
        self._live_memo: tuple[RiskSnapshot, int, RiskSnapshot] | None = None  # ... and the live one's
        # Followed accounts' connection state, by (venue, ref): kept apart from the market feeds.
        self._account_feeds: dict[tuple[str, str], tuple[str, str]] = {}
        self._stale_detail: dict[str, str] = {}
        self.version = 0  # counts changes: a driver redraws when it moved
        self._start(())

    def _start(self, shocks: tuple[ShockSpec, ...]) -> None:
        """Fresh market state (with this what-if): what a replay seeking back rebuilds from its first event."""
        self._engine = RiskEngine(self._portfolio)  # the catalogue travels with the portfolio
        self._engine.set_shocks(shocks)
        self._history = History()
        self._alert_book = AlertBook()
        self._feed_health: Mapping[FeedKey, FeedHealth] = MappingProxyType({})
        self._venue_alerts: Mapping[FeedKey, str] = MappingProxyType({})
        self._venue_state: dict[str, tuple[str, str]] = {}  # last non-stale status and its detail
        self._stale: dict[str, set[str]] = {}  # symbols reported stale and not heard from since
        self._last_mark: dict[str, int] = {}
        self._adl_alerts: dict[MarkKey, str] = {}
        self._flows = FlowTracker()
        self._closes = ClosedPositions(self._portfolio, self._engine, self._critical)

    # -- what the venue would do: liquidations (engine/closes.py) -------------------------------
    @property
    def closed(self) -> tuple[Closed, ...]:
        """The positions the venue would have closed so far (a replay seeking back restores them)."""
        return self._closes.closed

    def _what_if_resolved(self, snapshot: RiskSnapshot) -> RiskSnapshot:
        """A what-if where the shock takes manual positions past their liquidation price: each is
        closed there (isolated: its margin lost; cross: the loss leaves the wallet) and shown
        LIQUIDATED, and the accounts are re-solved at the shocked marks, until none is past (one
        liquidation can take the account's other positions with it). In the engine's indices. A
        full recompute, done only while some position is past."""
        portfolio = self._engine.portfolio
        gone: dict[tuple[int, int], PositionRisk] = {}  # engine (account, index) → its liquidated row
        current, back = snapshot, {}  # back: the re-solved portfolio's indices → the engine's
        for _ in range(len(snapshot.positions)):
            past = []
            for p in current.positions:
                a, i = back.get((p.account, p.index), (p.account, p.index))
                if past_liquidation(p) and not portfolio.accounts[a].followed:
                    past.append((a, i, p))
            if not past:
                break
            for a, i, p in past:
                position = portfolio.accounts[a].positions[i]
                realized = (-(position.isolated_margin or 0.0) if position.isolated
                            else realized_pnl(position, p.liquidation_price))
                gone[(a, i)] = liquidated_row(msgspec.structs.replace(p, account=a, index=i), p.liquidation_price,
                                              None, realized)
            accounts, back = [], {}
            for a, account in enumerate(portfolio.accounts):
                kept, wallet = [], account.wallet_balance
                for i, position in enumerate(account.positions):
                    closed = gone.get((a, i))
                    if closed is None:
                        back[(a, len(kept))] = (a, i)
                        kept.append(position)
                    elif not position.isolated:
                        wallet += closed.unrealized_pnl or 0.0
                accounts.append(account if len(kept) == len(account.positions)
                                else dc_replace(account, positions=tuple(kept), wallet_balance=wallet))
            inputs = self._engine.inputs()
            resolved = dc_replace(inputs, portfolio=dc_replace(portfolio, accounts=tuple(accounts)),
                                  marks=shocked_marks(inputs.marks, self.shocks))
            current = compute_snapshot(resolved, self.shocks)
        if not gone:
            return snapshot
        rows = [msgspec.structs.replace(p, account=a, index=i) if (a, i) != (p.account, p.index) else p
                for p in current.positions for a, i in [back.get((p.account, p.index), (p.account, p.index))]]
        rows.extend(gone.values())
        rows.sort(key=lambda p: (p.account, p.index))
        return msgspec.structs.replace(current, positions=tuple(rows))

    def _as_shown(self, snapshot: RiskSnapshot, *, what_if: bool = False) -> RiskSnapshot:
        """The engine's snapshot in the user's indices, closed positions frozen in their place; in a
        what-if, a position the shocked mark takes past its liquidation price shows liquidated there."""
        if what_if:
            snapshot = self._what_if_resolved(snapshot)
        return self._closes.as_shown(snapshot)

    def restart(self) -> None:
        """Forget the market (marks, followed accounts' reports, histories, liquidation flows, feed
        health, alert book) and keep the portfolio, the what-if, the followed accounts' connection
        states and the alert log: a replay seeking back replays into it. The alert state starts afresh
        at the new time: until the clock passes the furthest time already evaluated, the rules are
        re-judged without telling (what they find is in the log already), so a seek never tells the
        same crossing twice."""
        self._start(self.shocks)
        self._silent_until_s = self._evaluated_until_s
        self._critical.forget_pending()  # the replay closes them again (told once: the session keeps what was)
        self._changed()

    def _changed(self) -> None:
        self.version += 1

    # -- events in ---------------------------------------------------------------------------
    def apply(self, event: Event, now_s: float | None = None) -> None:
        """One event, in order. ``now_s`` is needed with a ``FeedStatus`` only: it dates a change of the
        feed's health (the stale-feed rule). Other events never read the clock, so a driver need not
        read it for every mark."""
        if type(event) is events.AccountState:
            self._closes.before_report(event, self._adl_alerts)
        self._engine.apply(event)
        self.version += 1
        # On the class itself (value patterns), as the engine does: this runs for every event.
        match type(event):
            case events.MarkPrice:
                venue, symbol = event.venue, event.symbol
                t_ms = event.ts if event.ts is not None else event.recv_ns // 1_000_000
                self._history.add_mark((venue, symbol), t_ms, event.price)
                self._last_mark[venue] = t_ms
                self._closes.on_mark((venue, symbol), event.price, t_ms, self._last_mark)
                stale = self._stale.get(venue)
                if stale:
                    stale.discard(symbol)
                if self._venue_state.get(venue, ("", ""))[0] in ("", "error", "disconnected"):
                    self._venue_state[venue] = ("replay" if self.replay else "connected", "")
            case events.AccountState:
                # A key that can trade is shouted by the alert rules (once), from the snapshot's warnings.
                self._account_feeds[(event.venue, event.symbol)] = ("connected", "")
            case events.FeedStatus:
                if now_s is None:
                    raise ValueError("a feed status needs the time it arrived (now_s)")
                self._feed_health = with_feed_status(self._feed_health, event, now_s)
                if event.symbol.startswith("account:"):
                    self._account_feeds[(event.venue, event.symbol.removeprefix("account:"))] = (event.state, event.detail)
                elif event.state == "stale":
                    self._stale.setdefault(event.venue, set()).add(event.symbol)
                    self._stale_detail[event.venue] = event.detail
                else:
                    self._venue_state[event.venue] = (event.state, event.detail)
                    if event.state == "disconnected":  # the whole venue is down: that says more than "stale"
                        self._stale.pop(event.venue, None)
            case events.Liquidation:
                self._flows.add(event)
            case events.AdlAlert:
                self._venue_alerts = with_venue_alert(self._venue_alerts, event)
                key = (event.venue, event.symbol)
                if event.state == "normal":
                    self._adl_alerts.pop(key, None)
                else:
                    self._adl_alerts[key] = event.state
            case events.ForcedClose:
                self._closes.forced_close(event)

    def apply_many(self, batch: Iterable[Event], now_s: float | None = None) -> None:
        for event in batch:
            self.apply(event, now_s)

    # -- the portfolio and the what-if ----------------------------------------------------------
    @property
    def portfolio(self) -> Portfolio:
        """The portfolio as the user keeps it (the file's), edits included."""
        return self._portfolio

    def set_portfolio(self, portfolio: Portfolio) -> None:
        """An edited portfolio: the engine keeps its marks."""
        self._portfolio = portfolio
        self._engine.set_portfolio(portfolio)
        self._closes = ClosedPositions(portfolio, self._engine, self._critical)  # an edit starts over: a position still past its price is liquidated again at the next mark
        self._changed()

    @property
    def shocks(self) -> tuple[ShockSpec, ...]:
        return self._engine.shocks

    def set_shocks(self, shocks: Iterable[ShockSpec]) -> None:
        """The what-if to show (empty: back to live), kept by the engine incrementally. The live state
        never moves."""
        self._engine.set_shocks(tuple(shocks))
        self._changed()

    def add_shock(self, spec: ShockSpec) -> None:
        self.set_shocks((*self.shocks, spec))

    @property
    def shock_scope(self) -> str:
        """What the shock keys move: the selected contract, or every mark."""
        return self._shock_scope

    def set_shock_scope(self, scope: str) -> None:
        if scope not in SHOCK_SCOPES:
            raise ValueError(f"shock scope {scope!r}; known: {', '.join(SHOCK_SCOPES)}")
        self._shock_scope = scope
        self._changed()

    # -- figures out ---------------------------------------------------------------------------
    def live(self) -> RiskSnapshot:
        """The live snapshot: positions the mark took past their liquidation price show LIQUIDATED.
        Built once per engine snapshot and monitor change: the alerts, the state and the view of one
        tick read the same one."""
        snapshot = self._engine.live_snapshot()
        memo = self._live_memo
        if memo is not None and memo[0] is snapshot and memo[1] == self.version:
            return memo[2]
        live = self._as_shown(snapshot)
        self._live_memo = (snapshot, self.version, live)
        return live

    def shown(self) -> RiskSnapshot:
        """The live snapshot, or the hypothetical one while a what-if shock is on (where a position
        the shock takes past its liquidation price shows LIQUIDATED at it)."""
        if not self.shocks:
            return self.live()
        # A what-if that liquidates re-solves its accounts in full: done once per engine snapshot and
        # monitor change, however often the view, the state and the alerts ask for it.
        snapshot = self._engine.snapshot()
        memo = self._what_if_memo
        if memo is not None and memo[0] is snapshot and memo[1] == self.version:
            return memo[2]
        shown = self._as_shown(snapshot, what_if=True)
        self._what_if_memo = (snapshot, self.version, shown)
        return shown

    def inputs(self) -> EngineInputs:
        """The live engine's inputs (the ADL estimate's what-ifs and the cascade start from them)."""
        return self._engine.inputs()

    def markets(self) -> list[MarkKey]:
        """The contracts with marks, in (venue, symbol) order."""
        return self._history.keys()

    def adl_estimate(self, account: int, index: int) -> AdlEstimate:
        """The ADL quantile estimate of one position: its what-ifs and the population behind it."""
        inputs = self._engine.inputs()
        if self._closes.is_closed(account, index):  # a liquidated position: as it stood in the user's portfolio
            inputs = dc_replace(inputs, portfolio=self._portfolio)
        else:
            account, index = self._closes.engine_slot(account, index)
        position = inputs.portfolio.accounts[account].positions[index]
        key = (position.venue, position.symbol)
        anchor = (inputs.anchors or {}).get(key, inputs.marks.get(key))
        sample = build_population(position.instrument, anchor, 1.0, DEFAULT_ESTIMATE_PARAMS)
        rating, rating_ms = inputs.venue_adl_risk.get(key, (None, None))
        return AdlEstimate(quantile_what_ifs(inputs, account, index), sample.describe(), anchor,
                           bool(inputs.open_interest.get(key)), rating, rating_ms)

    def cascade_start(self, account: int, index: int) -> CascadeStart:
        """A cascade on the position's contract from the shown mark, with every position held in it."""
        shown = self.shown()  # the user's indices
        inputs = self._engine.inputs()  # the engine's: without the positions already liquidated
        if self._closes.is_closed(account, index):
            position = self._portfolio.accounts[account].positions[index]
        else:
            ea, ei = self._closes.engine_slot(account, index)
            position = inputs.portfolio.accounts[ea].positions[ei]
        key = (position.venue, position.symbol)
        mark = next((p.mark_price for p in shown.positions
                     if p.account == account and p.index == index and p.closed is None), inputs.marks.get(key))
        contract = next((c for c in shown.contracts if (c.venue, c.symbol) == key), None)
        fund_known = contract is not None and contract.fund_balance_usd is not None
        fund = contract.fund_balance_usd if fund_known else 0.0
        oi = inputs.open_interest.get(key)
        where = [(a_i, p_i) for a_i, a in enumerate(inputs.portfolio.accounts) for p_i, p in enumerate(a.positions)
                 if (p.venue, p.symbol) == key]
        held = tuple(inputs.portfolio.accounts[a_i].positions[p_i] for a_i, p_i in where)
        # The table's figures of each held position (the account's solver: cross, tiers, fees), so the
        # cascade liquidates them where the table says.
        figures = {(p.account, p.index): p for p in shown.positions}
        rows = [figures.get(self._closes.user_slot(*w)) for w in where]
        liquidation = [r.liquidation_price if r is not None else None for r in rows]
        bankruptcy = [r.bankruptcy_price if r is not None else None for r in rows]

        def run(shock_pct: float, policy: str) -> CascadeResult:
            return cascade_for_positions(held[0].instrument, mark, oi[0] if oi else None, fund, shock_pct, policy,
                                         list(held), liquidation_prices=liquidation, bankruptcy_prices=bankruptcy)

        return CascadeStart(mark, fund_known, held, run)

    @property
    def alert_log(self) -> tuple[Alert, ...]:
        """Every alert that fired or cleared this session (the newest 200), in time order, newest last
        (at the same time, the critical ones last)."""
        return tuple(self._alert_log)

    def liquidation_flows(self, now_ms: int) -> dict[MarkKey, LiquidationFlow]:
        """Each contract's liquidation flow in the windows ending at ``now_ms``, its cascade pressure
        against the live snapshot's insurance fund."""
        if not self._flows:
            return {}
        funds = {(c.venue, c.symbol): c.fund_balance_usd for c in self._engine.live_snapshot().contracts}
        return self._flows.flows(now_ms, funds)

    def evaluate(self, now_s: float) -> list[Alert]:
        """Run the alert rules on the live snapshot (never a what-if) with the liquidation flows at
        ``now_s``, and tell the positions closed since the last call: the alerts that fired or
        cleared now (``hold_s`` measured on ``now_s``, the monitor's clock), critical ones first, also
        added to the log (in time order).

        After a ``restart`` (a replay seeking back), nothing is told until ``now_s`` passes the
        furthest time evaluated before it: those alerts are in the log already."""
        now_ms = int(now_s * 1000)
        self._alert_book, alerts = evaluate(self._alert_book, self.live(), self._feed_health,
                                            self._venue_alerts, self.rules, now_s,
                                            self.liquidation_flows(now_ms).values())
        alerts.extend(self._critical.take(now_ms))
        alerts.extend(self._what_if_closes(now_ms))
        if self._silent_until_s is not None:
            if now_s <= self._silent_until_s:
                alerts = []
            else:
                self._silent_until_s = None
        if self._evaluated_until_s is None or now_s > self._evaluated_until_s:
            self._evaluated_until_s = now_s
        if alerts:
            self._log(in_time_order(alerts))
            self._changed()
            # The caller rings and notifies the first: a critical one (a position closed) heads them.
            alerts.sort(key=lambda a: (not a.critical, a.ts_ms))
        return alerts

    def _log(self, alerts: list[Alert]) -> None:
        log = self._alert_log
        for alert in alerts:  # usually newer than all: an append
            bisect.insort(log, alert, key=_log_order)
            if alert.critical:
                bisect.insort(self._critical_log, alert, key=_log_order)
        del log[:-ALERT_LOG_SIZE]
        del self._critical_log[:-ALERT_LOG_SIZE]

    def _what_if_closes(self, now_ms: int) -> list[Alert]:
        """The manual positions the what-if shows LIQUIDATED (the shock takes them past their price):
        told once each, again only after the what-if stops liquidating them."""
        if not self.shocks:
            self._what_if_closed = set()
            return []
        rows = [p for p in self.shown().positions if p.closed == "liquidated" and p.closed_at_ms is None]
        now = {(p.account, p.index) for p in rows}
        out = []
        for p in rows:
            if (p.account, p.index) in self._what_if_closed:
                continue
            position = self._portfolio.accounts[p.account].positions[p.index]
            price = p.closed_price if p.closed_price is not None else p.mark_price
            out.append(modelled_close_alert(p, "liquidation", price, now_ms,
                                            usd_notional(position.instrument, position.size, price),
                                            how="what-if"))
        self._what_if_closed = now
        return out

    def state(self, now_s: float, *, chart: MarkKey | None = None, replay: ReplayState | None = None) -> MonitorState:
        """The state to show at ``now_s``: ``chart`` is the contract whose mark history it carries (the
        others stay here); ``replay`` the source's position, where it is a replay.

        Reading the state samples the fund-to-OI history (at the pace the state is read).
        """
        self._closes.refresh_triggers(self._last_mark)  # cross liquidation prices move with the account's other marks
        live = self.live()
        shown = self.shown()
        now_ms = replay.position_ms if replay is not None else int(now_s * 1000)
        for c in live.contracts:
            if c.fund_to_oi is not None:
                self._history.add_fund_ratio((c.venue, c.symbol), c.fund_to_oi, now_ms, c.fund_to_oi_partial)
        return MonitorState(
            snapshot=shown,
            live=live,
            shocks=self.shocks,
            shock_scope=self.shock_scope,
            feeds=self.feed_states(now_ms),
            replay=replay,
            now_ms=now_ms,
            mark_history={chart: self._history.series(chart)} if chart is not None else {},
            fund_history=self._history.funds(),
            adl_alerts=tuple((v, s, st) for (v, s), st in sorted(self._adl_alerts.items())),
            alerts=tuple(self._alert_log[-ALERTS_SHOWN:]),
            critical_alerts=tuple(self._critical_log[-ALERTS_SHOWN:]),
            liquidation_flows=self.liquidation_flows(now_ms),
            hedges=shown.hedges,
            what_if_changes=what_if_changes(shown, live) if self.shocks else {},
        )

    def feed_states(self, now_ms: float) -> tuple[FeedState, ...]:
        """Each venue's feed (stale symbols named, its last mark aged at ``now_ms``), then each followed
        account's."""
        out = []
        for venue in sorted(set(self._venue_state) | set(self._last_mark) | set(self._stale)):
            state, detail = self._venue_state.get(venue, ("connected", ""))
            stale = sorted(self._stale.get(venue, ()))
            if stale and state not in ("disconnected", "error"):
                state, detail = "stale", f"{', '.join(stale)}: {self._stale_detail.get(venue, 'no data')}"
            last = self._last_mark.get(venue)
            age_s = None if last is None else max(0.0, (now_ms - last) / 1000)
            out.append(FeedState(venue, state, detail, last, age_s))
        for (venue, ref), (state, detail) in sorted(self._account_feeds.items()):
            out.append(FeedState(account_label(venue, ref), state, detail))
        return tuple(out)
