"""The adlwatch monitor: one screen, data pushed down, intent sent up.

Feed events arrive from a source (live sockets or a replay) in a worker and go straight into the
``Monitor`` (engine/monitor.py: the engine, the feeds' health, the histories, the alerts); a 5 Hz
timer asks it for its state (during a what-if, with the hypothetical snapshot) and sets the app's
``view``, which every panel is bound to (``data_bind``). The app composes, routes keys and keeps only
what the screen itself chose (the selected row, the charted market). Widgets only format.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Header

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import FeedStatus
from adlwatch.engine.monitor import Monitor, MonitorState, ReplayState
from adlwatch.engine.portfolio import (
    Portfolio,
    remove_account,
    with_isolated_margin_change,
    with_leverage,
    with_position,
    with_wallet,
    without_position,
)
from adlwatch.engine.shocks import shock
from adlwatch.engine.snapshot import PositionRisk, RiskSnapshot
from adlwatch.tui.screens.edit import PositionForm, position_keys
from adlwatch.tui.screens.help import HelpScreen
from adlwatch.tui.screens.prompt import ConfirmScreen, PercentScreen
from adlwatch.tui.widgets.chart import MarkChart
from adlwatch.tui.widgets.footer import KeysFooter
from adlwatch.tui.widgets.panels import (
    AccountsPanel,
    AlertsPanel,
    CriticalBanner,
    FeedsPanel,
    FlowPanel,
    FundsPanel,
    HedgesPanel,
    ReplayBar,
    ShockBanner,
)
from adlwatch.tui.widgets.positions import PositionsTable

# The tick: alerts are evaluated and the screen redrawn at most 5 times a second. Marks move at 1-10 Hz
# on the venues and a trader reads a figure in no less than a few hundred milliseconds, while a redraw
# of the whole screen under a firehose costs tens of milliseconds of the one core the app runs on: at
# 5 Hz an alert or the banner appears within 200 ms of the event that caused it (the tick that
# evaluates it also draws it), and the monitor stays cheap enough to leave running beside a trading app.
REFRESH_HZ = 5
SPEEDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1000.0, math.inf)

log = logging.getLogger(__name__)


def survives(what: str) -> Callable:
    """For an action that computes on demand (the ADL estimate, the cascade): a failure is logged
    whole and told in one line, and the monitor goes on (an exception in an action would end the app)."""
    def wrap(action: Callable) -> Callable:
        @functools.wraps(action)
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return action(self, *args, **kwargs)
            except Exception:  # noqa: BLE001 - the screen must outlive a bug in one computation
                log.exception("%s failed", what)
                self.notify(f"{what} failed (details in the log); the monitor goes on", severity="error", timeout=10)
                return None
        return run
    return wrap

HELP_NOTES = (
    "Figures come from each venue's published rules (see README). The ADL score is the venue's own "
    "ranking formula, named beside it; the 1-5 lights are an ESTIMATE against a modelled population "
    "(see i). What-if shocks never touch the live state: the banner says "
    "HYPOTHETICAL while one is applied, and 'l' returns to live. Positions of a followed account (a "
    "Hyperliquid address, a read-only key) come from the venue and are read-only here; the venue's own "
    "liquidation price and ADL lights stand beside ours. A † beside a liquidation price: the tier table "
    "it stands on is older than 30 days, unverified or undated (`adlwatch tiers` says which; "
    "`adlwatch tiers --refresh` reads the venues'). Alerts ring once per crossing (rules in the "
    "portfolio's alerts table; A shows the log). In the demo, BTC marks are real mark prices; the "
    "alt-coin series are last-trade prices. The positions table keeps venue, symbol, side, distance and "
    "lights on screen and scrolls the other columns with ← →; a figure marked v is the venue's own (a "
    "followed position's break-even); 'next' counts down to the next funding (mm:ss, or 7h05m). The fund/OI "
    "panel gives the insurance fund and the open interest in USD, the venue's public ADL rating and "
    "adlwatch's estimate. Liquidations: the notional forced out of longs/shorts (L/S) over 1 and 5 minutes; "
    "pressure = the heavier side's 5 minutes as a share of the fund. A position the venue closed (liquidated "
    "or ADL'd) stays on a red banner until k. Under 40 rows, p switches the side panels (market / accounts)."
)


def venue_adl_line(risk: PositionRisk, view: MonitorState | None) -> str:
    """What the venue itself publishes of a position's ADL risk, in words for the ``i`` screen: its
    public rating of the contract (Binance symbolAdlRisk), its ADL alert state (Bybit adlAlert, OKX
    adl-warning), a followed position's own lights; "" when it publishes none here."""
    import datetime as dt

    parts = []
    contract = None if view is None else next(
        (c for c in view.snapshot.contracts if (c.venue, c.symbol) == (risk.venue, risk.symbol)), None)
    if contract is not None and contract.venue_adl_risk is not None:
        when = ("" if contract.venue_adl_risk_ms is None else
                f", as of {dt.datetime.fromtimestamp(contract.venue_adl_risk_ms / 1000, dt.UTC):%Y-%m-%d %H:%M} UTC")
        parts.append(f"{risk.venue} rates {risk.symbol}'s ADL risk {contract.venue_adl_risk.upper()} (its public "
                     f"symbol-level rating{when}).")
    state = None if view is None else next(
        (st for v, s, st in view.adl_alerts if (v, s) == (risk.venue, risk.symbol)), None)
    if state is not None:
        parts.append(f"{risk.venue}'s ADL alert for {risk.symbol} reads {state.upper()}.")
    if risk.venue_adl_lights is not None:
        parts.append(f"The venue ranks this position {risk.venue_adl_lights}/5 in its own ADL queue "
                     f"({risk.venue_adl_raw or 'its indicator'}): that, not the estimate, is the queue.")
    if parts:
        parts.append("The lights below are adlwatch's estimate beside it.")
    return " ".join(parts)


def modelled_contracts(source: Any) -> tuple[frozenset[tuple[str, str]], str]:
    """The contracts whose insurance fund and open interest the source models rather than recorded,
    and the word the screen tags them with: the demo's (tui/demo.py ``MODELLED_FUND_OI``,
    ``MODELLED_TAG``); none for any other source."""
    if getattr(getattr(source, "data", None), "format", None) != "demo":
        return frozenset(), "modelled"
    from adlwatch.tui.demo import MODELLED_FUND_OI, MODELLED_TAG

    return MODELLED_FUND_OI, MODELLED_TAG


class SessionJournal(Protocol):
    """Where the monitor's states go once a second of its clock (feeds/journal.py ``Journal``)."""

    def record(self, state: MonitorState, now_s: float) -> None: ...


class EventSource(Protocol):
    """What the app reads events from: live feeds or a replay (feeds/)."""

    label: str

    async def run(self, emit: Callable[[Any], None]) -> None: ...


REPLAY_ACTIONS = frozenset({"play_pause", "faster", "slower", "seek", "seek_time"})  # keys only a replay has
# The app's keys that act the same over any screen; the others act on the main screen, so over the
# cascade, the ADL estimate, the help or the alert log they do nothing (a shock or an edit must not
# happen unseen behind another screen).
ANYWHERE_ACTIONS = frozenset({"help", "quit", "acknowledge"})


class AdlwatchApp(App[None]):
    TITLE = "adlwatch"
    CSS_PATH = "app.tcss"
    # The footer's words are short (``description``); the help screen (?) and the command palette say
    # the whole (``tooltip``, also the footer's on hover). Grouped keys show one word for the group.
    SHOCK = Binding.Group("shock")
    SPEED = Binding.Group("speed")
    SEEK = Binding.Group("±1 min")
    BINDINGS = [
        Binding("question_mark", "help", "keys", key_display="?", tooltip="help"),
        # First after help: shown only while a closed position waits on the banner, and then it matters most.
        Binding("k", "acknowledge", "acknowledge", tooltip="acknowledge the closed positions"),
        Binding("minus", "shock(-1)", "shock -1%", key_display="-", group=SHOCK),
        Binding("equals_sign,plus", "shock(1)", "shock +1%", key_display="=/+", group=SHOCK),
        Binding("underscore", "shock(-5)", "shock -5%", key_display="_", show=False),
        Binding("asterisk", "shock(5)", "shock +5%", key_display="*", show=False),
        Binding("percent_sign", "shock_typed", "shock by a typed %", key_display="%", show=False),
        Binding("a", "toggle_scope", "scope", tooltip="shock scope: selected / all"),
        Binding("l", "live", "live", tooltip="back to live"),
        Binding("space", "play_pause", "play/pause", key_display="space", tooltip="replay play/pause"),
        Binding("right_square_bracket", "faster", "replay faster", key_display="]", group=SPEED),
        Binding("left_square_bracket", "slower", "replay slower", key_display="[", group=SPEED),
        Binding("full_stop", "seek(60)", "replay +1 min", key_display=".", group=SEEK),
        Binding("comma", "seek(-60)", "replay -1 min", key_display=",", group=SEEK),
        Binding("greater_than_sign", "seek(600)", "replay +10 min", key_display=">", show=False),
        Binding("less_than_sign", "seek(-600)", "replay -10 min", key_display="<", show=False),
        Binding("t", "seek_time", "go to time", tooltip="replay: go to a time"),
        Binding("g", "chart_next", "chart: next contract (with no position held)", show=False),
        Binding("i", "adl_details", "ADL est.", tooltip="ADL estimate: why, what if"),
        Binding("c", "cascade", "cascade"),
        Binding("A", "alert_log", "alerts", key_display="A", tooltip="alert log"),
        Binding("p", "side_panels", "panels", tooltip="side panels: market / accounts"),
        Binding("n", "new_position", "add", tooltip="add a position"),
        Binding("e", "edit_position", "edit", tooltip="edit the selected position"),
        Binding("x", "remove_position", "remove", tooltip="remove the selected position"),
        Binding("X", "remove_account", "remove the selected position's account", key_display="X", show=False),
        Binding("m", "margin", "add/remove isolated margin", show=False),
        Binding("v", "leverage", "change leverage", show=False),
        Binding("w", "wallet", "set the account's wallet balance", show=False),
        Binding("q", "quit", "quit"),
    ]
    _app_actions = frozenset(b.action.partition("(")[0] for b in BINDINGS)  # the actions of the keys above
    # The footer's order (it shows as many keys as fit, ? first): a replay's controls first in a
    # replay; live, the what-if and the editing keys.
    FOOTER_REPLAY = ("help", "acknowledge", "play_pause", "slower", "faster", "seek(-60)", "seek(60)", "seek_time",
                     "side_panels", "shock(-1)", "shock(1)", "live", "toggle_scope", "adl_details", "cascade", "alert_log")
    FOOTER_LIVE = ("help", "acknowledge", "shock(-1)", "shock(1)", "live", "toggle_scope", "new_position", "edit_position",
                   "remove_position", "side_panels", "adl_details", "cascade", "alert_log")

    # Under 40 rows the side column shows either the market (fund/OI, liquidation flow, alerts) or the
    # accounts (cross accounts, feeds, hedges): p switches.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]

    # Pushed down to the widgets (data_bind): the monitor's state, the selected position, the source.
    view: var[MonitorState | None] = var(None, always_update=True)
    selected: var[str | None] = var(None)  # the selected position's key ("account:index")
    source_label: var[str] = var("")

    def __init__(
        self,
        portfolio: Portfolio,
        source: EventSource | None = None,
        *,
        autoplay: bool = True,
        clock: Callable[[], float] = time.time,
        portfolio_path: Any = None,
        note: str = "",
        start_ms: int | None = None,
        notifier: Any = None,
        catalogue_refresh: Callable[[Monitor], Awaitable[Any]] | None = None,
        journal: SessionJournal | None = None,
    ) -> None:
        """``catalogue_refresh(monitor)``: run in a worker after the first screen (the tier cache's
        background refresh); what it returns, when not None, has a ``notice`` shown when it lands.
        ``journal``: given the monitor's state once a second of its clock (the replay's in a replay);
        whoever opened it closes it."""
        super().__init__()
        self._journal = journal
        self._journal_problem: str | None = None
        self._drawn_second: int | None = None  # the monitor's clock second last drawn (countdowns, journal)
        self._critical_seen: set[tuple] = set()  # critical alerts already put on the banner (or acknowledged)
        self._catalogue_refresh = catalogue_refresh
        self.note = note
        self.start_ms = start_ms
        self.portfolio_path = portfolio_path
        self.source = source
        self.autoplay = autoplay
        self._clock = clock
        self.monitor = Monitor(portfolio, replay=self.is_replay)
        if notifier is None and self.monitor.rules.desktop and not self.is_replay:
            from adlwatch.feeds.notify import Notifier

            notifier = Notifier(bell=False, desktop=True)  # the bell is Textual's own (App.bell)
        self._notifier = notifier
        self.source_label = " · ".join(x for x in (getattr(source, "label", "") or "no feed", note) if x)
        self._chart_market: tuple[str, str] | None = None  # the contract charted while nothing is held (g)
        self._chosen: str | None = None  # the position the user put the table's cursor on
        self._dirty = True  # UI state changed (selection, replay controls): redraw at the next tick
        self._drawn_version = -1  # the monitor's version last drawn
        self._evaluated = (-1, None)  # the monitor's (version, clock second) when the alerts were last evaluated

    @property
    def portfolio(self) -> Portfolio:
        """The portfolio as the user keeps it (the monitor's)."""
        return self.monitor.portfolio

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield ShockBanner(id="banner").data_bind(AdlwatchApp.view)
        yield CriticalBanner(id="critical")
        yield PositionsTable(id="positions").data_bind(AdlwatchApp.view)
        with Horizontal(id="lower"):
            yield MarkChart(id="chart").data_bind(AdlwatchApp.view, AdlwatchApp.selected)
            with Vertical(id="side"):
                yield AccountsPanel(id="accounts").data_bind(AdlwatchApp.view)
                funds = FundsPanel(id="funds")
                funds.modelled, funds.modelled_tag = modelled_contracts(self.source)
                yield funds.data_bind(AdlwatchApp.view)
                yield FlowPanel(id="flow").data_bind(AdlwatchApp.view)
                yield FeedsPanel(id="feeds").data_bind(AdlwatchApp.view, AdlwatchApp.source_label)
                yield HedgesPanel(id="hedges").data_bind(AdlwatchApp.view)
                yield AlertsPanel(id="alerts").data_bind(AdlwatchApp.view)
        yield ReplayBar(id="replay-bar").data_bind(AdlwatchApp.view, AdlwatchApp.source_label)
        yield KeysFooter(self.FOOTER_REPLAY if self.is_replay else self.FOOTER_LIVE)

    def on_mount(self) -> None:
        self.sub_title = getattr(self.source, "label", "") or "no feed"
        self.set_interval(1 / REFRESH_HZ, self.refresh_view)
        if self.is_replay and self.start_ms is not None:
            self.seek_to(self.start_ms)
        if self.source is not None and self.autoplay:
            if self.is_replay:
                self.source.play()
            self.consume()
        self.refresh_view()
        if self._catalogue_refresh is not None:
            self.refresh_catalogue()

    # -- events in ---------------------------------------------------------------------------
    @work(exclusive=True, group="feed")
    async def consume(self) -> None:
        await self.source.run(self.on_feed_event)
        self._dirty = True

    @work(exclusive=True, group="catalogue")
    async def refresh_catalogue(self) -> None:
        """The tier tables refreshed beside the feeds; the monitor's portfolio is rebuilt on them when
        they land (the refresh does it), and a notice says so."""
        try:
            landed = await self._catalogue_refresh(self.monitor)
        except Exception as error:  # the tables in use stay; the screen never goes down for a refresh
            self.notify(f"tier tables not refreshed: {type(error).__name__}: {error}", severity="warning")
            return
        if landed is not None:
            self._dirty = True
            self.notify(landed.notice)

    def on_feed_event(self, event: Any) -> None:
        """Called for every event, in the app's loop; cheap: the engine defers the maths, and only a
        feed's status reads the clock."""
        self.monitor.apply(event, self._now_s() if type(event) is FeedStatus else None)

    # -- view out ----------------------------------------------------------------------------
    @property
    def is_replay(self) -> bool:
        return self.source is not None and hasattr(self.source, "seek")

    def _now_s(self) -> float:
        """The clock the monitor runs on: the replay's, or the wall clock."""
        return self.source.position_ms / 1000 if self.is_replay else self._clock()

    def check_alerts(self) -> None:
        """The monitor's alert rules, evaluated now: ring and notify what fired."""
        fired = [a for a in self.monitor.evaluate(self._now_s()) if a.state == "fired"]
        if not fired:
            return
        if self.monitor.rules.bell:
            self.bell()
        if self.is_replay:
            return  # a replay's alerts are history: the panel and the log (A) show them, no pop-ups
        more = f"\n(+{len(fired) - 1} more: A for the log)" if len(fired) > 1 else ""
        self.notify(fired[0].message + more, title="ALERT", severity="error", timeout=8)
        if self._notifier is not None:
            for alert in fired:
                self._notifier.deliver(alert)

    def refresh_view(self) -> None:
        """The tick (``REFRESH_HZ``): alerts, then the monitor's state pushed down when something moved.
        The alert rules run only when the monitor changed or its clock entered a new second (a rule's
        hold and the stale-feed rule count whole seconds): nothing else can make one fire or clear."""
        replay = self._replay_state()
        now_s = self._now_s()
        if self._evaluated != (self.monitor.version, int(now_s)):
            self.check_alerts()
            self._evaluated = (self.monitor.version, int(now_s))
        # A new second of the monitor's clock redraws even when nothing moved: the funding countdown,
        # the flow windows and the journal's row go by it.
        second = int(now_s)
        if (not self._dirty and self.monitor.version == self._drawn_version and not (replay and replay.playing)
                and second == self._drawn_second):
            return
        self._dirty = False
        self._drawn_version = self.monitor.version
        self._drawn_second = second
        shown = self.monitor.shown()
        selected = self._selected_key(shown)
        chart = next(((p.venue, p.symbol) for p in shown.positions if f"{p.account}:{p.index}" == selected), None)
        if chart is None and not shown.positions:  # nothing held (a replay without a portfolio): a market
            chart = self._charted_market(self.monitor.markets())
        self.selected = selected
        self.view = self.monitor.state(now_s, chart=chart, replay=replay)
        self._show_critical(self.view)
        if self._journal is not None:
            self._journal.record(self.view, now_s)
            problem = getattr(self._journal, "problem", None)
            if problem and problem != self._journal_problem:
                self.notify(f"journal not written: {problem}", severity="error", timeout=10)
            self._journal_problem = problem

    def _show_critical(self, view: MonitorState) -> None:
        """Critical alerts (a position the venue closed) not yet shown go on the banner, where they stay
        until acknowledged (k)."""
        new = []
        for alert in view.critical_alerts:
            key = (alert.rule, alert.venue, alert.symbol, alert.side, alert.account, alert.ts_ms, alert.message)
            if key not in self._critical_seen:
                self._critical_seen.add(key)
                new.append(alert)
        if new:
            banner = self.screen_stack[0].query_one(CriticalBanner)
            banner.alerts = (*banner.alerts, *new)
            self.refresh_bindings()
            if self.monitor.rules.bell:
                self.bell()

    def action_acknowledge(self) -> None:
        self.screen_stack[0].query_one(CriticalBanner).alerts = ()
        self.refresh_bindings()

    def action_side_panels(self) -> None:
        self.screen_stack[0].toggle_class("-accounts")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``k`` only while a closed position waits on the banner, ``p`` only on a short screen (under
        40 rows), where the side column shows one of its two sets of panels; the replay keys only in a
        replay; over another screen only the keys that act anywhere (``ANYWHERE_ACTIONS``)."""
        main = self.screen_stack[0] if self.screen_stack else None
        if action in self._app_actions and action not in ANYWHERE_ACTIONS and main is not None \
                and self.screen is not main:
            return False
        if action == "acknowledge":
            return bool(main is not None and main.query(CriticalBanner) and main.query_one(CriticalBanner).alerts)
        if action == "side_panels":
            return main is not None and main.has_class("-short")
        if action in REPLAY_ACTIONS:  # live: hidden from the footer, and the key does nothing
            return self.is_replay
        return True

    def _selected_key(self, snapshot: RiskSnapshot) -> str | None:
        keys = [f"{p.account}:{p.index}" for p in snapshot.positions]
        if self._chosen in keys:
            return self._chosen
        return keys[0] if keys else None

    def _replay_state(self) -> ReplayState | None:
        if not self.is_replay:
            return None
        s = self.source
        return ReplayState(s.position_ms, s.start_ms, s.end_ms, s.playing, s.speed, s.finished)

    @on(PositionsTable.Selected)
    def _on_selected(self, message: PositionsTable.Selected) -> None:
        if message.key != self._chosen:
            self._chosen = message.key
            self._dirty = True

    # -- what-if shocks ----------------------------------------------------------------------
    def selected_position(self):
        snap = self.monitor.live()
        key = self.screen_stack[0].query_one(PositionsTable).selected_key or self._selected_key(snap)
        return next((p for p in snap.positions if f"{p.account}:{p.index}" == key), None)

    def action_shock(self, pct: float) -> None:
        self.add_shock(float(pct))

    def add_shock(self, pct: float) -> None:
        if self.monitor.shock_scope == "all":
            spec = shock(pct)
        else:
            risk = self.selected_position()
            if risk is None:
                self.notify("no position selected", severity="warning")
                return
            spec = shock(pct, venue=risk.venue, symbol=risk.symbol)
        self.monitor.add_shock(spec)
        self.refresh_view()

    def action_shock_typed(self) -> None:
        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                pct = float(text.rstrip("%"))
                shock(pct)
            except ValueError:
                self.notify(f"not a percentage above -100: {text!r}", severity="error")
                return
            self.add_shock(pct)

        scope = "all marks" if self.monitor.shock_scope == "all" else "the selected symbol"
        self.push_screen(PercentScreen(f"Shock {scope} by how many percent? (-12.5 = a 12.5% fall)", "-10"), done)

    def action_toggle_scope(self) -> None:
        self.monitor.set_shock_scope("all" if self.monitor.shock_scope == "selected" else "selected")
        self.notify(f"shock keys now move {'all marks' if self.monitor.shock_scope == 'all' else 'the selected symbol'}")

    def action_chart_next(self) -> None:
        """With nothing held, the chart shows one contract's mark: the next one, in (venue, symbol) order."""
        if self.monitor.live().positions:
            self.notify("the chart follows the selected position (move the table's cursor)")
            return
        markets = self.monitor.markets()
        if not markets:
            self.notify("no marks yet", severity="warning")
            return
        self._chart_market = markets[(markets.index(self._charted_market(markets)) + 1) % len(markets)]
        self._dirty = True
        self.refresh_view()

    def _charted_market(self, markets: list[tuple[str, str]]) -> tuple[str, str] | None:
        """The contract the chart shows while nothing is held: the one chosen with g, else the first."""
        return self._chart_market if self._chart_market in markets else next(iter(markets), None)

    def action_live(self) -> None:
        self.monitor.set_shocks(())
        self.refresh_view()

    # -- replay controls ---------------------------------------------------------------------
    def action_play_pause(self) -> None:
        if not self.is_replay:
            return
        self.source.toggle()
        if self.source.playing and not self._consuming():
            self.consume()
        self._dirty = True

    def _consuming(self) -> bool:
        return any(w.group == "feed" and not w.is_finished for w in self.workers)

    def action_faster(self) -> None:
        self._step_speed(+1)

    def action_slower(self) -> None:
        self._step_speed(-1)

    def _step_speed(self, step: int) -> None:
        if not self.is_replay:
            return
        now = self.source.speed
        i = min(range(len(SPEEDS)), key=lambda j: abs(SPEEDS[j] - now) if math.isfinite(now) else (0 if SPEEDS[j] == now else 1))
        self.source.set_speed(SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))])
        self._dirty = True

    def action_seek(self, seconds: float) -> None:
        if self.is_replay:
            self.seek_to(self.source.position_ms + int(float(seconds) * 1000))

    def seek_to(self, t_ms: int) -> None:
        """Jump the replay; going back rebuilds the engine from the events before ``t_ms``."""
        source = self.source
        t_ms = max(source.start_ms, min(source.end_ms, t_ms))
        if t_ms < source.position_ms:
            self.monitor.restart()
            source.seek(t_ms)
            for event in source.events_until(t_ms):
                self.on_feed_event(event)
        else:
            # Forward: apply what is skipped so marks and history stay true.
            source.advance_to(t_ms, self.on_feed_event)
            source.seek(t_ms)
        self._dirty = True
        self.refresh_view()

    def action_seek_time(self) -> None:
        if not self.is_replay:
            return
        import datetime as dt

        def done(text: str | None) -> None:
            if not text:
                return
            day = dt.datetime.fromtimestamp(self.source.position_ms / 1000, dt.UTC)
            try:
                clock = dt.time.fromisoformat(text)
            except ValueError:
                self.notify(f"not a time of day (HH:MM or HH:MM:SS): {text!r}", severity="error")
                return
            target = dt.datetime.combine(day.date(), clock, tzinfo=dt.UTC)
            self.seek_to(int(target.timestamp() * 1000))

        self.push_screen(PercentScreen("Go to which time of the replay day (UTC)?", "21:20"), done)

    # -- ADL estimate and cascade -------------------------------------------------------------
    @survives("the ADL estimate")
    def action_adl_details(self) -> None:
        from adlwatch.engine.venues import rules_for
        from adlwatch.tui.screens.adl import AdlScreen
        from adlwatch.tui.widgets.panels import fund_words

        risk = self.selected_position()
        if risk is None or risk.mark_price is None:
            self.notify("select a position with a mark first", severity="warning")
            return
        estimate = self.monitor.adl_estimate(risk.account, risk.index)
        sizing = ("sized to the open interest the feed reports" if estimate.open_interest_known else
                  "open interest unknown here: sized so this position is 0.01 % of it")
        score = f"{risk.adl_score:.4g}" if risk.adl_score is not None else "--"
        self.push_screen(AdlScreen(
            f"{risk.venue} {risk.symbol} {risk.side} {risk.size:g}",
            f"venue ranking score {score} by {risk.adl_formula}; the ADL price on this venue is the "
            f"{rules_for(risk.venue).ADL_PRICE}.",
            f"{estimate.population} Drawn at {estimate.anchor:,.6g} (the first mark this session) and moved with the market (each position keeps its PnL % and leverage); {sizing}. "
            "Lights: quantity-weighted quintile of the score among the same side, 5 = front of the queue.",
            estimate.what_ifs,
            venue_adl_line(risk, self.view),
            fund_words(next((c for c in self.view.snapshot.contracts
                             if (c.venue, c.symbol) == (risk.venue, risk.symbol)), None)),
        ))

    @survives("the cascade")
    def action_cascade(self) -> None:
        from adlwatch.tui.screens.cascade import CascadeScreen

        risk = self.selected_position()
        if risk is None or risk.mark_price is None:
            self.notify("select a position with a mark first", severity="warning")
            return
        start = self.monitor.cascade_start(risk.account, risk.index)

        def run(shock_pct: float, policy: str):
            result = start.run(shock_pct, policy)
            fates = []
            for p, fate in zip(start.held, result.fates, strict=False):
                label = f"your {p.side.label} {p.size:g} @ {p.entry_price:g}"
                if fate.state == "liquidated":
                    fates.append(f"{label}: LIQUIDATED at step {fate.step + 1} near {fate.price:,.6g}")
                elif fate.state == "adl":
                    fates.append(f"{label}: ADL'd at step {fate.step + 1}, {fate.haircut:.0%} of its PnL, at {fate.price:,.6g}")
                else:
                    fates.append(f"{label}: safe")
            return result, fates

        where = "the hypothetical mark" if self.monitor.shocks else "the mark"
        fund_note = "" if start.fund_known else " · fund unknown here: 0 (worst case)"
        self.push_screen(CascadeScreen(f"{risk.venue} {risk.symbol} from {where} {start.mark:,.6g}{fund_note}", run))

    # -- portfolio editing -------------------------------------------------------------------
    def set_portfolio(self, portfolio: Portfolio) -> None:
        """Swap in an edited portfolio: the engine keeps its marks; the file is saved atomically."""
        self.monitor.set_portfolio(portfolio)
        self.refresh_view()
        if self.portfolio_path is not None:
            self.save_portfolio(portfolio)
        else:
            self.notify("this portfolio has no file (demo/replay): changes last until you quit")

    @work(thread=True, exclusive=True, group="save")
    def save_portfolio(self, portfolio: Portfolio) -> None:
        from adlwatch.feeds import portfolio_store

        try:
            portfolio_store.save(portfolio, self.portfolio_path)
        except (InputError, OSError) as error:
            self.call_from_thread(self.notify, f"NOT saved: {error}", severity="error", timeout=10)
        else:
            self.call_from_thread(self.notify, f"saved {self.portfolio_path}")

    def _account_choices(self) -> list[tuple[str, int | None]]:
        choices: list[tuple[str, int | None]] = [
            (f"{i}: {a.venue} {a.settle} (wallet {a.wallet_balance:g})", i)
            for i, a in enumerate(self.portfolio.accounts) if not a.followed
        ]
        return [*choices, ("new account", None)]

    def _selected_indices(self) -> tuple[int, int] | None:
        """The selected position's (account, index) in the file's portfolio; None (and why) when
        there is none or it is imported from a venue, which adlwatch never changes."""
        risk = self.selected_position()
        if risk is None:
            self.notify("no position selected", severity="warning")
            return None
        account = self.portfolio.accounts[risk.account]
        if account.followed:
            self.notify(f"{risk.venue} {risk.symbol} comes from the venue ({account.source}): adlwatch is "
                        "read-only, change it on the venue", severity="warning")
            return None
        return risk.account, risk.index

    def _submit_position(self, original: tuple[int, int] | None, values: dict) -> InputError | None:
        position = {k: values[k] for k in ("symbol", "side", "size", "entry_price", "leverage", "margin_mode") if k in values}
        if values.get("margin_mode") == "isolated" and "isolated_margin" in values:
            position["isolated_margin"] = values["isolated_margin"]
        if "mmr" in values:
            position["mmr"] = values["mmr"]
        account = values.get("account")
        try:
            portfolio = self.portfolio
            index = None
            if original is not None:
                if account == original[0]:
                    index = original[1]
                else:
                    portfolio = without_position(portfolio, *original)
            new = with_position(portfolio, account, index, position, venue=values.get("venue"))
        except InputError as error:
            return error  # the form shows it under its field
        self.set_portfolio(new)
        return None

    def action_new_position(self) -> None:
        manual = [i for i, a in enumerate(self.portfolio.accounts) if not a.followed]
        account = manual[0] if manual else None
        venue = self.portfolio.accounts[manual[0]].venue if manual else "binance"
        self.push_screen(PositionForm("Add a position", {"account": account, "venue": venue}, self._account_choices(),
                                      lambda values: self._submit_position(None, values), **self._form_catalogue(),
                                      existing=position_keys(self.portfolio)))

    def action_edit_position(self) -> None:
        where = self._selected_indices()
        if where is None:
            return
        p = self.portfolio.accounts[where[0]].positions[where[1]]
        values = {**p.to_data(), "account": where[0], "venue": p.venue}
        self.push_screen(PositionForm(f"Edit {p.venue} {p.symbol} {p.side.label}", values, self._account_choices(),
                                      lambda v: self._submit_position(where, v), **self._form_catalogue(),
                                      existing=position_keys(self.portfolio, skip=where)))

    def _form_catalogue(self) -> dict[str, Any]:
        """What the position form completes and explains symbols from: the portfolio's catalogue and
        each account's venue."""
        return {"catalogue": self.portfolio.catalogue,
                "account_venues": {i: a.venue for i, a in enumerate(self.portfolio.accounts)}}

    def action_remove_position(self) -> None:
        where = self._selected_indices()
        if where is None:
            return
        p = self.portfolio.accounts[where[0]].positions[where[1]]

        def done(yes: bool | None) -> None:
            if yes:
                self.set_portfolio(without_position(self.portfolio, *where))

        self.push_screen(ConfirmScreen(f"Remove {p.venue} {p.symbol} {p.side.label} {p.size:g}?"), done)

    def action_remove_account(self) -> None:
        risk = self.selected_position()
        if risk is None:
            self.notify("no position selected", severity="warning")
            return
        where = (risk.account, risk.index)
        a = self.portfolio.accounts[where[0]]
        if a.followed:  # stop following it: only the file changes, never the venue
            self.push_screen(ConfirmScreen(f"Stop following the {a.venue} account ({a.source})?"),
                             lambda yes: yes and self.set_portfolio(remove_account(self.portfolio, where[0])))
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.set_portfolio(remove_account(self.portfolio, where[0]))

        self.push_screen(ConfirmScreen(
            f"Remove the {a.venue} {a.settle} account (wallet {a.wallet_balance:g}) and its {len(a.positions)} "
            "position(s)?"), done)

    def _number_prompt(self, question: str, placeholder: str, apply: Callable[[float], Portfolio]) -> None:
        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                number = float(text.replace(",", ""))
            except ValueError:
                self.notify(f"not a number: {text!r}", severity="error")
                return
            try:
                self.set_portfolio(apply(number))
            except InputError as error:
                self.notify(str(error), severity="error", timeout=8)

        self.push_screen(PercentScreen(question, placeholder), done)

    def action_margin(self) -> None:
        where = self._selected_indices()
        if where is None:
            return
        p = self.portfolio.accounts[where[0]].positions[where[1]]
        if not p.isolated:
            self.notify("a cross position's margin is the account's wallet: use w", severity="warning")
            return
        self._number_prompt(
            f"Add isolated margin to {p.symbol} (negative removes); now {p.isolated_margin:g} {p.instrument.settle}",
            "500", lambda change: with_isolated_margin_change(self.portfolio, *where, change))

    def action_leverage(self) -> None:
        where = self._selected_indices()
        if where is None:
            return
        p = self.portfolio.accounts[where[0]].positions[where[1]]
        self._number_prompt(f"Leverage for {p.symbol} (now {p.leverage:g}x)", "10",
                            lambda lev: with_leverage(self.portfolio, *where, lev))

    def action_wallet(self) -> None:
        where = self._selected_indices()
        if where is None:
            return
        a = self.portfolio.accounts[where[0]]
        self._number_prompt(f"Wallet balance of the {a.venue} {a.settle} account (now {a.wallet_balance:g})", "10000",
                            lambda wallet: with_wallet(self.portfolio, where[0], wallet))

    def action_alert_log(self) -> None:
        from adlwatch.tui.screens.alerts import AlertLogScreen

        r = self.monitor.rules
        rules = (f"Rules: distance below {r.distance_below_pct}% (re-arms {r.distance_hysteresis_pct} pt above), "
                 f"ADL lights >= {r.adl_lights_at_least}, fund/OI down {r.fund_to_oi_drop_pct}% from its high, "
                 f"feed down {r.stale_feed_after_s} s, venue ADL alerts {'on' if r.venue_adl_alerts else 'off'}; "
                 f"an alert clears after {r.hold_s} s past its band. Set them in the portfolio's [alerts] table.")
        notes = [f"{p.venue} {p.symbol} {p.side}: {p.disagreement}" for p in self.monitor.live().positions if p.disagreement]
        self.push_screen(AlertLogScreen(list(self.monitor.alert_log), notes, rules,
                                        feeds=self.monitor.feed_states(self._now_s() * 1000)))

    # -- help and palette --------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)], HELP_NOTES))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            # what the footer hides does nothing now (the replay keys in live mode): not offered either
            if isinstance(b, Binding) and b.action not in ("quit",) and \
                    self.check_action(b.action.split("(")[0], ()) is not False:
                yield SystemCommand((b.tooltip or b.description).capitalize(), f"key: {b.key_display or b.key}",
                                    self._runner(b.action))

    def _runner(self, action: str) -> Callable[[], Any]:
        async def run() -> None:
            await self.run_action(action)

        return run
