"""What the screen shows, as one immutable value pushed down to the widgets.

``ViewState`` bundles the snapshot to show (live or hypothetical), the live one beside it (for the
change column of a what-if), the feed and replay status and the recent history of marks and
fund-to-OI ratios. It holds numbers the engine computed; nothing here calculates risk.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from adlwatch.engine.risk import PositionRisk, RiskSnapshot, ShockSpec

MarkKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class FeedState:
    venue: str
    state: str  # connected | subscribed | stale | disconnected | error | replay
    detail: str = ""
    last_mark_ms: int | None = None  # time of the newest mark from this venue (replay or wall clock)


@dataclass(frozen=True, slots=True)
class ReplayState:
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


@dataclass(frozen=True, slots=True)
class ViewState:
    snapshot: RiskSnapshot
    live: RiskSnapshot
    shocks: tuple[ShockSpec, ...] = ()
    shock_scope: str = "selected"  # what the shock keys move: the selected symbol, or all marks
    feeds: tuple[FeedState, ...] = ()
    replay: ReplayState | None = None
    now_ms: int | None = None  # the clock marks are aged against (replay clock, or wall clock)
    mark_history: dict[MarkKey, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    fund_history: dict[MarkKey, tuple[float, ...]] = field(default_factory=dict)
    adl_alerts: tuple[tuple[str, str, str], ...] = ()  # (venue, symbol, state)
    source_label: str = ""
    alerts: tuple = ()  # engine.alerts.Alert, newest last: the alert log
    hedges: tuple = ()  # engine.hedges.HedgeRisk of the live snapshot (RiskSnapshot.hedges)

    @property
    def hypothetical(self) -> bool:
        return bool(self.shocks)

    def live_position(self, risk: PositionRisk) -> PositionRisk | None:
        for p in self.live.positions:
            if p.account == risk.account and p.index == risk.index:
                return p
        return None


class History:
    """Bounded recent history per contract, for the chart and the sparklines."""

    def __init__(self, maxlen: int = 4_000) -> None:
        self._maxlen = maxlen
        self._marks: dict[MarkKey, deque[tuple[int, float]]] = {}
        self._funds: dict[MarkKey, deque[float]] = {}

    def add_mark(self, key: MarkKey, t_ms: int, price: float) -> None:
        series = self._marks.get(key)
        if series is None:
            series = self._marks[key] = deque(maxlen=self._maxlen)
        if series and series[-1][0] > t_ms:  # a seek back starts the series again
            series.clear()
        series.append((t_ms, price))

    def add_fund_ratio(self, key: MarkKey, ratio: float) -> None:
        series = self._funds.get(key)
        if series is None:
            series = self._funds[key] = deque(maxlen=120)
        if not series or series[-1] != ratio:
            series.append(ratio)

    def clear(self) -> None:
        self._marks.clear()
        self._funds.clear()

    def series(self, key: MarkKey) -> tuple[tuple[int, float], ...]:
        return tuple(self._marks.get(key, ()))

    def keys(self) -> list[MarkKey]:
        """The contracts with a mark history, in (venue, symbol) order: what a chart with no position
        to follow can show."""
        return sorted(self._marks)

    def funds(self) -> dict[MarkKey, tuple[float, ...]]:
        return {k: tuple(v) for k, v in self._funds.items()}
