"""Alert rules and their evaluation: thresholds in, one alert per crossing out (with hysteresis).

The rules come from the portfolio file's ``[alerts]`` table (and per-position / per-account
``alert_below_pct``) and from the command line. Evaluation is pure: a snapshot, the feed states and
the previous ``AlertBook`` in; the new book and the alerts that fired or cleared out.

Each rule reads one condition per subject (a position, a contract, a feed) as one of three levels:
past the threshold (``BREACH``), back past the hysteresis band (``CLEAR``), or in between or unknown
(``BAND``). A breach fires once; the alert clears only after the condition has read ``CLEAR`` for
``hold_s`` without interruption, so a value flapping around the threshold gives one alert, not many.
``hold_s`` is measured on the ``now_s`` the caller passes: the monitor's clock (replay time in a
replay).

Some alerts are not readings but news: a followed position the venue liquidated or auto-deleveraged
(a ``ForcedClose``), or a modelled one the monitor closed at its liquidation price. They fire once,
never clear, and are ``critical``: the highest level an alert has, shown before the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NamedTuple

import msgspec

from adlwatch.engine.alert_rules import AlertRules
from adlwatch.engine.enums import Side
from adlwatch.engine.events import AdlAlert, FeedStatus, ForcedClose
from adlwatch.engine.flow import LiquidationFlow, pressure_word
from adlwatch.engine.snapshot import AccountRisk, ContractRisk, PositionRisk, RiskSnapshot

# -- what comes out -------------------------------------------------------------------------------

FIRED, CLEARED = "fired", "cleared"

RULE_DISTANCE = "liquidation_distance"
RULE_ADL_LIGHTS = "adl_lights"
RULE_FUND_TO_OI = "fund_to_oi_drop"
RULE_VENUE_ADL = "venue_adl_alert"
RULE_STALE_FEED = "stale_feed"
RULE_ACCOUNT_WARNING = "account_warning"
RULE_CASCADE_PRESSURE = "cascade_pressure"
RULE_FORCED_CLOSE = "forced_close"


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One alert firing or clearing: what a trader is told, once per crossing."""

    state: str  # fired | cleared
    rule: str
    venue: str
    symbol: str  # the contract; "" for a whole venue, "account:<ref>" for a followed account's feed
    side: Side | None  # long | short for a position's rule, else None
    value: float | str | None  # the reading: distance %, lights, drop %, seconds, the venue's ADL state
    threshold: float | None
    message: str  # one line a trader understands
    estimate: bool  # True where the value is adlwatch's estimate (ADL lights without the venue's own)
    ts_ms: int
    account: int | None = None  # the account's index in the portfolio, for a position's or account's rule
    # The highest level: a position closed by the venue (``RULE_FORCED_CLOSE``). Shown first.
    critical: bool = False
    # A forced close's fill: its price, the size closed (the position's units: coin, or contracts
    # for an inverse contract), that size's notional in USD (None where it cannot be valued) and the
    # size left open (0: the position is gone).
    price: float | None = None
    size: float | None = None
    notional_usd: float | None = None
    remaining: float | None = None


class AlertKey(NamedTuple):
    """What an alert is about: positions (and accounts) alert independently of each other."""

    rule: str
    venue: str
    symbol: str
    side: Side | None = None
    account: int | None = None


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    fired_s: float
    clear_since_s: float | None = None  # first reading past the band, in the current clear stretch


_Level = tuple  # what one rule read of one row, kept in the book: (key, ..., level)


@dataclass(frozen=True, slots=True)
class AlertBook:
    """Which alerts are active, the session highs of fund-to-OI, and the account warnings already told.

    It also remembers the last call's position rows and what each rule read of them (under
    ``rules``): a row that is the same object in the next snapshot (the engine keeps the rows of
    the accounts no mark moved) reads the same, so ``evaluate`` takes its level from here."""

    active: Mapping[AlertKey, ActiveAlert] = field(default_factory=lambda: MappingProxyType({}))
    fund_to_oi_highs: Mapping[tuple[str, str], float] = field(default_factory=lambda: MappingProxyType({}))
    announced: frozenset[tuple[int, str]] = frozenset()  # (account index, warning): told once
    rows: tuple[PositionRisk, ...] = ()
    distance_levels: tuple[_Level | None, ...] = ()  # per row: (key, threshold, level); None: rule off
    lights_levels: tuple[_Level | None, ...] = ()  # per row: (key, lights, estimate, level)
    rules: AlertRules | None = None


# -- feed states in -------------------------------------------------------------------------------

GOOD_FEED_STATES = frozenset({"connected", "subscribed"})
DOWN_FEED_STATES = frozenset({"stale", "disconnected"})


class FeedHealth(msgspec.Struct, frozen=True):
    """One feed's state (per venue and symbol) and since when it has been up (or down)."""

    state: str  # connected | subscribed | stale | disconnected
    since_s: float  # when it last went from up to down or back
    detail: str = ""

    @property
    def down(self) -> bool:
        return self.state in DOWN_FEED_STATES


FeedKey = tuple[str, str]  # (venue, symbol); symbol "" is the whole venue, "account:<ref>" a followed account


def with_feed_status(
    feeds: Mapping[FeedKey, FeedHealth], event: FeedStatus, now_s: float
) -> Mapping[FeedKey, FeedHealth]:
    """The feed states after one ``FeedStatus`` event.

    ``since_s`` moves only when a feed goes from up to down or back, so "disconnected, retrying"
    repeated for a minute is one down stretch. ``error`` statuses are one-off reports (a bad frame,
    a failed poll) and change no state.
    """
    if event.state not in GOOD_FEED_STATES and event.state not in DOWN_FEED_STATES:
        return feeds
    out = dict(feeds)
    keys = [(event.venue, event.symbol)]
    if event.state in GOOD_FEED_STATES and (event.venue, "") in out and event.symbol:
        keys.append((event.venue, ""))  # a symbol back up shows the venue-wide outage is over
    for key in keys:
        old = out.get(key)
        since = old.since_s if old is not None and old.down == (event.state in DOWN_FEED_STATES) else now_s
        out[key] = FeedHealth(event.state, since, event.detail)
    return MappingProxyType(out)


def with_venue_alert(venue_alerts: Mapping[FeedKey, str], event: AdlAlert) -> Mapping[FeedKey, str]:
    """The venues' ADL alert states after one ``AdlAlert`` event."""
    return MappingProxyType({**venue_alerts, (event.venue, event.symbol): event.state})


# -- evaluation -----------------------------------------------------------------------------------

BREACH, BAND, CLEAR = "breach", "band", "clear"


@dataclass(frozen=True, slots=True)
class Reading:
    """One rule's reading of one subject now."""

    key: AlertKey
    level: str  # BREACH | BAND | CLEAR
    value: float | str | None
    threshold: float | None
    describe: Callable[[str], str]  # FIRED / CLEARED -> the alert's message
    estimate: bool = False


def evaluate(
    book: AlertBook,
    snapshot: RiskSnapshot,
    feeds: Mapping[FeedKey, FeedHealth],
    venue_alerts: Mapping[FeedKey, str],
    rules: AlertRules,
    now_s: float,
    flows: Iterable[LiquidationFlow] = (),
) -> tuple[AlertBook, list[Alert]]:
    """The alerts that fire or clear now, and the book to pass to the next call.

    ``snapshot`` is a live ``RiskSnapshot`` (never a what-if), ``feeds`` the feed states built with
    ``with_feed_status``, ``venue_alerts`` the venues' own ADL alert states, ``now_s`` the clock,
    ``flows`` the contracts' liquidation flows at that clock (engine/flow.py).

    Exactly ``evaluate_full`` (a property test holds it to it), at a fraction of its cost per call:
    a subject is stepped only where something can happen (its reading is a breach, or its alert is
    active: an active one is stepped every call, so ``hold_s`` clears it with no new figures), a
    reading and its message are built only for an alert that fires or clears, and a position row
    that is the same object as in the last call's snapshot reads as it did then (the book keeps it).
    """
    judge = _Judge(book.active, now_s, rules.hold_s)
    active, alerts, ts_ms = judge.active, judge.alerts, judge.ts_ms
    positions = snapshot.positions
    same = book.rules == rules
    before = book.rows if same else ()
    known = len(before)

    distance_levels: list[_Level | None] = []
    for i, p in enumerate(positions):
        entry = book.distance_levels[i] if i < known and before[i] is p else _distance_level(p, rules)
        distance_levels.append(entry)
        if entry is None:
            continue
        key, threshold, level = entry
        if level == BREACH or key in active:
            change = judge.step(key, level)
            if change is not None:
                reading = Reading(key, level, p.distance_pct, threshold, _distance_message(p, threshold, rules))
                alerts.append(_alert(reading, change, ts_ms))

    lights_levels: list[_Level | None] = []
    at_least = rules.adl_lights_at_least
    if at_least is not None:
        for i, p in enumerate(positions):
            entry = book.lights_levels[i] if i < known and before[i] is p else _lights_level(p, at_least)
            lights_levels.append(entry)
            key, lights, estimate, level = entry
            if level == BREACH or key in active:
                change = judge.step(key, level)
                if change is not None:
                    reading = Reading(key, level, lights, at_least, _lights_message(p, lights, estimate, at_least),
                                      estimate)
                    alerts.append(_alert(reading, change, ts_ms))

    highs = fund_to_oi_highs(book.fund_to_oi_highs, snapshot.contracts)
    drop_alert = rules.fund_to_oi_drop_pct
    if drop_alert is not None:
        for c in snapshot.contracts:
            level, high, drop_pct = _fund_to_oi_level(c, highs, drop_alert)
            if level is None:
                continue
            key = AlertKey(RULE_FUND_TO_OI, c.venue, c.symbol)
            if level == BREACH or key in active:
                change = judge.step(key, level)
                if change is not None:
                    reading = Reading(key, level, drop_pct, drop_alert, _fund_message(c, high, drop_pct, drop_alert))
                    alerts.append(_alert(reading, change, ts_ms))

    # Read on the clock (a feed's time down, the flows' windows): every subject, every call.
    for reading in venue_adl_readings(venue_alerts, rules):
        change = judge.step(reading.key, reading.level)
        if change is not None:
            alerts.append(_alert(reading, change, ts_ms))
    after_s = rules.stale_feed_after_s
    if after_s is not None:
        for (venue, symbol), health in sorted(feeds.items()):
            level, down_s = _stale_level(health, after_s, now_s)
            key = AlertKey(RULE_STALE_FEED, venue, symbol)
            if level == BREACH or key in active:
                change = judge.step(key, level)
                if change is not None:
                    reading = Reading(key, level, down_s, after_s, _stale_message(venue, symbol, health, down_s))
                    alerts.append(_alert(reading, change, ts_ms))
    for reading in cascade_pressure_readings(flows, rules):
        change = judge.step(reading.key, reading.level)
        if change is not None:
            alerts.append(_alert(reading, change, ts_ms))

    for key in [k for k in active if k not in judge.stepped]:
        # Its subject is gone (position closed, rule switched off): nothing is left to flap.
        del active[key]
        alerts.append(_gone(key, ts_ms))
    warnings, announced = account_warning_alerts(snapshot.accounts, book.announced, ts_ms)
    alerts.extend(warnings)
    new_book = AlertBook(MappingProxyType(active), MappingProxyType(highs), announced, positions,
                         tuple(distance_levels), tuple(lights_levels), rules)
    return new_book, alerts


class _Judge:
    """One ``evaluate`` call's hysteresis: the active alerts as they change, the keys stepped (a key
    active and not stepped lost its subject) and the alerts told."""

    __slots__ = ("active", "stepped", "alerts", "now_s", "hold_s", "ts_ms")

    def __init__(self, active: Mapping[AlertKey, ActiveAlert], now_s: float, hold_s: float) -> None:
        self.active = dict(active)
        self.stepped: set[AlertKey] = set()
        self.alerts: list[Alert] = []
        self.now_s, self.hold_s, self.ts_ms = now_s, hold_s, int(now_s * 1000)

    def step(self, key: AlertKey, level: str) -> str | None:
        """``step`` for one key, the book updated; FIRED, CLEARED or None."""
        self.stepped.add(key)
        entry = self.active.get(key)
        if entry is not None and level != CLEAR and entry.clear_since_s is None:
            return None  # active, not clearing: ``step`` would keep it as it is
        entry, change = step(entry, level, self.now_s, self.hold_s)
        if entry is None:
            self.active.pop(key, None)
        else:
            self.active[key] = entry
        return change


def evaluate_full(
    book: AlertBook,
    snapshot: RiskSnapshot,
    feeds: Mapping[FeedKey, FeedHealth],
    venue_alerts: Mapping[FeedKey, str],
    rules: AlertRules,
    now_s: float,
    flows: Iterable[LiquidationFlow] = (),
) -> tuple[AlertBook, list[Alert]]:
    """The alerts that fire or clear now, and the book to pass to the next call.

    Every rule's readings of every subject, each stepped: the reference ``evaluate`` is held to
    (tests/engine/test_alerts_incremental.py); the book it returns remembers no rows.
    """
    highs = fund_to_oi_highs(book.fund_to_oi_highs, snapshot.contracts)
    readings = [
        *distance_readings(snapshot.positions, rules),
        *adl_light_readings(snapshot.positions, rules),
        *fund_to_oi_readings(snapshot.contracts, highs, rules),
        *venue_adl_readings(venue_alerts, rules),
        *stale_feed_readings(feeds, rules, now_s),
        *cascade_pressure_readings(flows, rules),
    ]
    ts_ms = int(now_s * 1000)
    active = dict(book.active)
    alerts: list[Alert] = []
    seen: set[AlertKey] = set()
    for reading in readings:
        seen.add(reading.key)
        entry, change = step(active.get(reading.key), reading.level, now_s, rules.hold_s)
        if entry is None:
            active.pop(reading.key, None)
        else:
            active[reading.key] = entry
        if change is not None:
            alerts.append(_alert(reading, change, ts_ms))
    for key in [k for k in active if k not in seen]:
        # Its subject is gone (position closed, rule switched off): nothing is left to flap.
        del active[key]
        alerts.append(_gone(key, ts_ms))
    warnings, announced = account_warning_alerts(snapshot.accounts, book.announced, ts_ms)
    alerts.extend(warnings)
    new_book = AlertBook(MappingProxyType(active), MappingProxyType(highs), announced)
    return new_book, alerts


def step(entry: ActiveAlert | None, level: str, now_s: float, hold_s: float) -> tuple[ActiveAlert | None, str | None]:
    """One key's hysteresis: fire on a breach; clear after ``hold_s`` of unbroken clear readings."""
    if entry is None:
        return (ActiveAlert(now_s), FIRED) if level == BREACH else (None, None)
    if level != CLEAR:
        return (entry if entry.clear_since_s is None else replace(entry, clear_since_s=None)), None
    since = entry.clear_since_s if entry.clear_since_s is not None else now_s
    if now_s - since >= hold_s:
        return None, CLEARED
    return replace(entry, clear_since_s=since), None


def _alert(reading: Reading, state: str, ts_ms: int) -> Alert:
    key = reading.key
    return Alert(state=state, rule=key.rule, venue=key.venue, symbol=key.symbol, side=key.side,
                 value=_rounded(reading.value), threshold=reading.threshold, message=reading.describe(state),
                 estimate=reading.estimate, ts_ms=ts_ms, account=key.account)


def _gone(key: AlertKey, ts_ms: int) -> Alert:
    subject = _subject(key.venue, key.symbol, key.side)
    return Alert(state=CLEARED, rule=key.rule, venue=key.venue, symbol=key.symbol, side=key.side, value=None,
                 threshold=None, message=f"{subject}: {key.rule.replace('_', ' ')} no longer watched "
                 "(position closed or rule switched off)", estimate=False, ts_ms=ts_ms, account=key.account)


def _rounded(value: float | str | None) -> float | str | None:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _subject(venue: str, symbol: str, side: Side | None = None) -> str:
    if symbol.startswith("account:"):
        return f"{venue} account {symbol.removeprefix('account:')}"
    return " ".join(x for x in (venue, symbol or "(all symbols)", side) if x)


def _number(x: float) -> str:
    return f"{x:,.6g}"


# -- the rules, one reader each ---------------------------------------------------------------------


def distance_readings(positions: Iterable[PositionRisk], rules: AlertRules) -> Iterator[Reading]:
    """Liquidation distance below the position's own threshold (or its account's, else the global one).

    Clears once the distance is back above threshold + ``distance_hysteresis_pct``. A position with
    no positive liquidation price is clear; one whose figures are not known yet reads in the band.
    """
    for p in positions:
        entry = _distance_level(p, rules)
        if entry is not None:
            key, threshold, level = entry
            yield Reading(key, level, p.distance_pct, threshold, _distance_message(p, threshold, rules))


def _distance_level(p: PositionRisk, rules: AlertRules) -> _Level | None:
    """(key, threshold, level) of one position's distance rule; None where it has no threshold."""
    threshold = p.alert_below_pct if p.alert_below_pct is not None else rules.distance_below_pct
    if threshold is None:
        return None
    distance = p.distance_pct
    if p.mark_price is None or p.margin_balance is None:
        level = BAND
    elif distance is None:
        level = CLEAR  # no positive price liquidates it
    elif distance < threshold:
        level = BREACH
    elif distance >= threshold + rules.distance_hysteresis_pct:
        level = CLEAR
    else:
        level = BAND
    return AlertKey(RULE_DISTANCE, p.venue, p.symbol, p.side, p.account), threshold, level


def _distance_message(p: PositionRisk, threshold: float, rules: AlertRules) -> Callable[[str], str]:
    def describe(state: str) -> str:
        subject = _subject(p.venue, p.symbol, p.side)
        if p.distance_pct is None:
            return f"{subject}: no positive price liquidates it any more (alert was below {threshold:g}%)"
        where = f"{p.distance_pct:.2f}% from liquidation (liq. {_number(p.liquidation_price)}, mark {_number(p.mark_price)})"
        if state == FIRED:
            past = " PAST the liquidation price" if p.distance_pct < 0 else ""
            return f"{subject}: {where}{past}, below the {threshold:g}% alert"
        return f"{subject}: {where}, back above {threshold + rules.distance_hysteresis_pct:g}% (alert at {threshold:g}%)"

    return describe


def adl_light_readings(positions: Iterable[PositionRisk], rules: AlertRules) -> Iterator[Reading]:
    """ADL lights at or above N: the venue's own lights where the position has them, else our estimate.

    The venue's own lights clear at N − 1 or fewer (held for ``hold_s``). adlwatch's estimate clears
    at N − 2 or fewer (1 at least): it ranks the position in a modelled population, where a small
    move of the mark or a new open-interest figure steps it across a quintile boundary and back, so
    the light below N is the estimate's band (issue 16: the demo's alert fired, cleared and fired
    again within a minute of replay time).
    """
    at_least = rules.adl_lights_at_least
    if at_least is None:
        return
    for p in positions:
        key, lights, estimate, level = _lights_level(p, at_least)
        yield Reading(key, level, lights, at_least, _lights_message(p, lights, estimate, at_least), estimate)


ESTIMATE_LIGHTS_BAND = 1  # lights below N that an estimate must fall past before its alert clears


def _lights_level(p: PositionRisk, at_least: int) -> _Level:
    """(key, lights, estimate, level) of one position's ADL-lights rule."""
    venue_lights = p.venue_adl_lights
    lights = venue_lights if venue_lights is not None else p.adl_quantile
    estimate = venue_lights is None
    if lights is None:
        level = BAND
    elif lights >= at_least:
        level = BREACH
    elif not estimate or lights <= max(1, at_least - ESTIMATE_LIGHTS_BAND - 1):
        level = CLEAR  # the venue's lights are whole: N − 1 or fewer is past the band
    else:
        level = BAND
    return AlertKey(RULE_ADL_LIGHTS, p.venue, p.symbol, p.side, p.account), lights, estimate, level


def _lights_message(p: PositionRisk, lights: int | None, estimate: bool, at_least: int) -> Callable[[str], str]:
    def describe(state: str) -> str:
        whose = "adlwatch's estimate" if estimate else "the venue's own"
        now = f"ADL lights {lights} of 5 ({whose})"
        if state == FIRED:
            return f"{_subject(p.venue, p.symbol, p.side)}: {now}, at or above the alert at {at_least}: near the front of the ADL queue"
        return f"{_subject(p.venue, p.symbol, p.side)}: {now}, back below {at_least}"

    return describe


def fund_to_oi_highs(highs: Mapping[tuple[str, str], float], contracts: Iterable[ContractRisk]) -> dict[tuple[str, str], float]:
    """The session high of each contract's fund-to-OI ratio, with the current readings taken in."""
    out = dict(highs)
    for c in contracts:
        ratio = c.fund_to_oi  # an upper bound over part of the pool's OI is no high (fund_to_oi_partial)
        if ratio is not None and not c.fund_to_oi_partial and math.isfinite(ratio) and ratio > out.get((c.venue, c.symbol), 0.0):
            out[(c.venue, c.symbol)] = ratio
    return out


def fund_to_oi_readings(contracts: Iterable[ContractRisk], highs: Mapping[tuple[str, str], float], rules: AlertRules) -> Iterator[Reading]:
    """Fund-to-OI down ``fund_to_oi_drop_pct`` % from its session high; clears back within half the drop."""
    drop_alert = rules.fund_to_oi_drop_pct
    if drop_alert is None:
        return
    for c in contracts:
        level, high, drop_pct = _fund_to_oi_level(c, highs, drop_alert)
        if level is not None:
            key = AlertKey(RULE_FUND_TO_OI, c.venue, c.symbol)
            yield Reading(key, level, drop_pct, drop_alert, _fund_message(c, high, drop_pct, drop_alert))


def _fund_to_oi_level(c: ContractRisk, highs: Mapping[tuple[str, str], float],
                      drop_alert: float) -> tuple[str | None, float, float | None]:
    """(level, session high, drop %) of one contract's fund-to-OI rule; level None before any high."""
    high = highs.get((c.venue, c.symbol))
    if high is None or high <= 0:
        return None, 0.0, None
    ratio = c.fund_to_oi
    if ratio is None or c.fund_to_oi_partial or not math.isfinite(ratio):
        return BAND, high, None
    drop_pct = (high - ratio) / high * 100.0
    return (BREACH if drop_pct >= drop_alert else CLEAR if drop_pct <= drop_alert / 2 else BAND), high, drop_pct


def _fund_message(c: ContractRisk, high: float, drop_pct: float | None, drop_alert: float) -> Callable[[str], str]:
    def describe(state: str) -> str:
        subject = _subject(c.venue, c.symbol)
        now = f"insurance fund / open interest {c.fund_to_oi * 100:.3g}%, {drop_pct:.1f}% below its session high {high * 100:.3g}%"
        if state == FIRED:
            return f"{subject}: {now} (alert at {drop_alert:g}% down): less cover before ADL"
        return f"{subject}: {now}, back within {drop_alert / 2:g}%"

    return describe


def venue_adl_readings(venue_alerts: Mapping[FeedKey, str], rules: AlertRules) -> Iterator[Reading]:
    """The venue's own ADL alert (Bybit ``adlAlert``, OKX ``adl-warning``) in any state but normal."""
    if not rules.venue_adl_alerts:
        return
    for (venue, symbol), state in sorted(venue_alerts.items()):
        key = AlertKey(RULE_VENUE_ADL, venue, symbol)
        level = CLEAR if state == "normal" else BREACH
        yield Reading(key, level, state, None, _venue_adl_message(venue, symbol, state))


def _venue_adl_message(venue: str, symbol: str, state: str) -> Callable[[str], str]:
    def describe(change: str) -> str:
        if change == FIRED:
            what = "ADL IS RUNNING" if state == "adl" else "ADL may start soon"
            return f"{_subject(venue, symbol)}: the venue's ADL alert says '{state}': {what}"
        return f"{_subject(venue, symbol)}: the venue's ADL alert is back to normal"

    return describe


def stale_feed_readings(feeds: Mapping[FeedKey, FeedHealth], rules: AlertRules, now_s: float) -> Iterator[Reading]:
    """A feed stale or disconnected for longer than ``stale_feed_after_s``; clears once it is up again."""
    after_s = rules.stale_feed_after_s
    if after_s is None:
        return
    for (venue, symbol), health in sorted(feeds.items()):
        level, down_s = _stale_level(health, after_s, now_s)
        key = AlertKey(RULE_STALE_FEED, venue, symbol)
        yield Reading(key, level, down_s, after_s, _stale_message(venue, symbol, health, down_s))


def _stale_level(health: FeedHealth, after_s: float, now_s: float) -> tuple[str, float]:
    """(level, seconds down) of one feed's stale-feed rule."""
    if not health.down:
        return CLEAR, 0.0
    down_s = now_s - health.since_s
    # Down, not for long yet: no alert, but an active one does not clear.
    return (BREACH if down_s >= after_s else BAND), down_s


def _stale_message(venue: str, symbol: str, health: FeedHealth, down_s: float) -> Callable[[str], str]:
    def describe(change: str) -> str:
        subject = f"{_subject(venue, symbol)} feed"
        if change == FIRED:
            detail = f" ({health.detail})" if health.detail else ""
            return f"{subject} {health.state} for {down_s:.0f} s{detail}: its figures are not live"
        return f"{subject} is {health.state} again: figures live"

    return describe


def cascade_pressure_readings(flows: Iterable[LiquidationFlow], rules: AlertRules) -> Iterator[Reading]:
    """A contract's cascade pressure (its heavier side's five-minute liquidations as a % of its
    insurance fund) at or above ``cascade_pressure_pct``; clears at or below that less
    ``cascade_pressure_hysteresis_pct``, held ``hold_s``. Unknown (no fund) is in the band."""
    at_least = rules.cascade_pressure_pct
    if at_least is None:
        return
    clear_at = at_least - rules.cascade_pressure_hysteresis_pct
    for flow in flows:
        key = AlertKey(RULE_CASCADE_PRESSURE, flow.venue, flow.symbol)
        pct = flow.pressure_pct
        if pct is None:
            level = BAND
        elif pct >= at_least:
            level = BREACH
        elif pct <= clear_at:
            level = CLEAR
        else:
            level = BAND
        yield Reading(key, level, pct, at_least, _pressure_message(flow, at_least, clear_at))


def _pressure_message(flow: LiquidationFlow, at_least: float, clear_at: float) -> Callable[[str], str]:
    def describe(state: str) -> str:
        subject = _subject(flow.venue, flow.symbol)
        if flow.pressure_pct is None:
            return f"{subject}: cascade pressure unknown (no insurance-fund figure)"
        if state == FIRED:
            return (f"{subject}: cascade pressure {flow.pressure_pct:.3g}% ({pressure_word(flow.pressure)}), at or "
                    f"above the alert at {at_least:g}%: {flow.explain()}")
        return (f"{subject}: cascade pressure {flow.pressure_pct:.3g}%, back below {clear_at:g}% "
                f"(alert at {at_least:g}%)")

    return describe


# -- news: positions closed by the venue ------------------------------------------------------------


def forced_close_alert(event: ForcedClose, account: int | None, notional_usd: float | None, subject: str) -> Alert:
    """A followed position the venue liquidated or auto-deleveraged, from the venue's own record:
    critical, fired once (``subject`` names the account: "binance key 'main'")."""
    side = Side(event.side) if event.side in ("long", "short") else None
    ts_ms = event.ts if event.ts is not None else event.recv_ns // 1_000_000
    what = "AUTO-DELEVERAGED (ADL)" if event.cause == "adl" else "LIQUIDATED"
    message = (f"{subject} {event.symbol} {event.side}: {what} by the venue at {_number(event.price)}: "
               f"{_number(event.size)} closed{_usd_words(notional_usd)}, {_left(event.remaining)}")
    if event.detail:
        message += f" ({event.detail})"
    return Alert(state=FIRED, rule=RULE_FORCED_CLOSE, venue=event.venue, symbol=event.symbol, side=side,
                 value=event.cause, threshold=None, message=message, estimate=False, ts_ms=ts_ms, account=account,
                 critical=True, price=event.price, size=event.size, notional_usd=notional_usd,
                 remaining=event.remaining)


MODELLED_CLOSES = {  # how the monitor knows: its wording
    "modelled": ("", " (modelled: the mark reached adlwatch's liquidation price)"),
    "what-if": ("in the what-if, would be ", ""),
    "unconfirmed": ("gone while first in the ADL queue, probably ",
                    " (unconfirmed: no record of the venue's says why it closed)"),
}


def modelled_close_alert(row: PositionRisk, cause: str, price: float, ts_ms: int, notional_usd: float | None,
                         *, how: str = "modelled") -> Alert:
    """A position the monitor closed as the venue would: ``modelled`` (the mark reached its
    liquidation price, live or in a replay), ``what-if`` (the shock takes it there), ``unconfirmed``
    (a followed position gone while first in the ADL queue): the same critical alert as the venue's
    own record, marked an estimate. ``cause``: liquidation | adl (``FORCED_CLOSE_CAUSES``), the value."""
    what = "AUTO-DELEVERAGED (ADL)" if cause == "adl" else "LIQUIDATED"
    before, after = MODELLED_CLOSES[how]
    message = (f"{_subject(row.venue, row.symbol, row.side)} (account {row.account + 1}): {before}{what} at "
               f"{_number(price)}: {_number(row.size)} closed{_usd_words(notional_usd)}, nothing left{after}")
    return Alert(state=FIRED, rule=RULE_FORCED_CLOSE, venue=row.venue, symbol=row.symbol, side=row.side,
                 value=cause, threshold=None, message=message, estimate=True, ts_ms=ts_ms, account=row.account,
                 critical=True, price=price, size=row.size, notional_usd=notional_usd, remaining=0.0)


def _usd_words(notional_usd: float | None) -> str:
    return "" if notional_usd is None else f" (${notional_usd:,.0f} notional)"


def _left(remaining: float) -> str:
    return "the position is gone" if remaining <= 0 else f"{_number(remaining)} still open"


def in_time_order(alerts: Iterable[Alert]) -> list[Alert]:
    """Oldest first by time; at the same time the critical ones last (newest: shown first)."""
    return sorted(alerts, key=lambda a: (a.ts_ms, a.critical))


def account_warning_alerts(accounts: Iterable[AccountRisk], announced: frozenset[tuple[int, str]], ts_ms: int) -> tuple[list[Alert], frozenset[tuple[int, str]]]:
    """Each followed account's warnings (a key that can trade, a position not modelled), once each."""
    alerts = []
    told = set(announced)
    for a in accounts:
        for warning in a.warnings:
            if (a.index, warning) in told:
                continue
            told.add((a.index, warning))
            alerts.append(Alert(state=FIRED, rule=RULE_ACCOUNT_WARNING, venue=a.venue, symbol="", side=None,
                                value=None, threshold=None, message=f"{a.venue} {a.source}: WARNING {warning}",
                                estimate=False, ts_ms=ts_ms, account=a.index))
    return alerts, frozenset(told)
