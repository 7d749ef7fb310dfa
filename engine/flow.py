"""Liquidation flow per contract: what the venues' public liquidation streams say is being forced out.

``FlowTracker`` takes each ``Liquidation`` event (``add``) and, at the monitor's clock, hands out one
``LiquidationFlow`` per contract (``flows``):

- the liquidated notional in USD by side of the LIQUIDATED position over the last minute and the last
  five minutes: the sum of the events whose time (the venue's ``ts``, else the receive time) lies in
  the window ``(now − window, now]`` (an event stamped after ``now``, a venue clock a little ahead of
  ours, counts as now);
- a sparkline: ``SPARK_BUCKETS`` buckets of ``SPARK_BUCKET_MS`` (30 × 10 s, five minutes), aligned to
  the clock's 10-second marks, oldest first; the last one is the bucket ``now`` falls in (so it fills
  up as its 10 s go by);
- the cascade pressure: the heavier side's five-minute notional ÷ the contract's insurance-fund
  balance in USD (None while the fund is unknown). The fund pays each liquidation's gap to its
  bankruptcy price; a side being forced out at a large share of the fund in minutes is how the fund
  runs short and the venue turns to ADL.

An event costs O(1) amortised: it is appended to two windows and one bucket, and whatever left them
is dropped as it goes. The windows keep running sums (a side with no event left restarts at an
exact zero), so a query never re-adds the events: a sum is exact but for rounding of the order of
1e-16 of the flow that went through the window, far below a cent. Times never run backwards inside one contract: an
event older than the newest one seen counts at the newest one's time (the streams are per contract
and in order; a replay is sorted). Pure: the caller passes the clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

import msgspec

from adlwatch.engine.enums import Side
from adlwatch.engine.events import Liquidation

MarkKey = tuple[str, str]  # (venue, symbol)

MINUTE_MS = 60_000
FIVE_MINUTES_MS = 300_000
SPARK_BUCKET_MS = 10_000
SPARK_BUCKETS = 30  # 30 × 10 s: the five-minute window, drawn
# Events older than a window by this much are dropped when a newer one arrives even if nobody asked
# for the flows (a headless replay): memory stays bounded by what five minutes hold.
_SLACK_MS = 60_000

# Words for the cascade pressure (share of the fund, five minutes, heavier side). Calm markets read
# well under 0.5 % on the large pools (BTC on Binance: a few $M an hour against a $1B fund); the
# alert's default (engine/alert_rules.py) is 5 %.
PRESSURE_WORDS = ((0.005, "calm"), (0.02, "elevated"), (0.05, "heavy"), (float("inf"), "cascade"))


class LiquidationFlow(msgspec.Struct, frozen=True, kw_only=True):
    """One contract's liquidation flow at ``now_ms`` (USD notional; sides are the liquidated positions')."""

    venue: str
    symbol: str
    now_ms: int
    long_1m_usd: float
    short_1m_usd: float
    long_5m_usd: float
    short_5m_usd: float
    count_5m: int  # events in the five-minute window
    spark_long_usd: tuple[float, ...]  # SPARK_BUCKETS buckets of SPARK_BUCKET_MS, oldest first
    spark_short_usd: tuple[float, ...]
    fund_balance_usd: float | None  # the contract's insurance fund (its pool), None when unknown
    pressure: float | None  # heavier side's 5-minute notional ÷ fund (a fraction); None: fund unknown
    heavier_side: Side | None  # the side liquidated more in five minutes; None when nothing was

    @property
    def heavier_5m_usd(self) -> float:
        return max(self.long_5m_usd, self.short_5m_usd)

    @property
    def pressure_pct(self) -> float | None:
        return None if self.pressure is None else self.pressure * 100.0

    def explain(self) -> str:
        """The reading in words, as the view and the alert say it."""
        longs, shorts = _usd(self.long_5m_usd), _usd(self.short_5m_usd)
        flow = (f"liquidated in the last 5 min: longs {longs}, shorts {shorts} "
                f"(last minute: longs {_usd(self.long_1m_usd)}, shorts {_usd(self.short_1m_usd)})")
        if self.fund_balance_usd is None:
            return f"{flow}; the insurance fund is not known here, so no cascade pressure"
        if self.heavier_side is None:
            return f"{flow}; insurance fund {_usd(self.fund_balance_usd)}: no pressure"
        who = "longs" if self.heavier_side is Side.LONG else "shorts"
        return (f"{flow}; {who} forced out at {self.pressure_pct:.3g}% of the insurance fund "
                f"({_usd(self.fund_balance_usd)}) in 5 min: {pressure_word(self.pressure)}. The fund pays each "
                "liquidation's gap to bankruptcy; when a side is forced out faster than the fund can absorb, the "
                "venue deleverages the other side (ADL)")


def pressure_word(pressure: float | None) -> str:
    """"calm" / "elevated" / "heavy" / "cascade" for a cascade pressure; "unknown" for None."""
    if pressure is None:
        return "unknown"
    return next(word for below, word in PRESSURE_WORDS if pressure < below)


def _usd(x: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"${x / scale:,.3g}{suffix}"
    return f"${x:,.0f}"


class _Window:
    """Events of one contract in a trailing window, with the running sum per side."""

    __slots__ = ("span_ms", "events", "long_usd", "short_usd", "longs")

    def __init__(self, span_ms: int) -> None:
        self.span_ms = span_ms
        self.events: deque[tuple[int, bool, float]] = deque()  # (t_ms, long, notional_usd)
        self.long_usd = 0.0
        self.short_usd = 0.0
        self.longs = 0  # how many of the events are longs

    def add(self, t_ms: int, long: bool, usd: float) -> None:
        self.events.append((t_ms, long, usd))
        if long:
            self.long_usd += usd
            self.longs += 1
        else:
            self.short_usd += usd

    def expire(self, cutoff_ms: int) -> None:
        """Drop the events at or before ``cutoff_ms``."""
        events = self.events
        if not events or events[0][0] > cutoff_ms:
            return
        while events and events[0][0] <= cutoff_ms:
            _, long, usd = events.popleft()
            if long:
                self.long_usd -= usd
                self.longs -= 1
            else:
                self.short_usd -= usd
        # A side with nothing left restarts at an exact zero (no rounding left over from the subtractions).
        if self.longs == 0:
            self.long_usd = 0.0
        if self.longs == len(events):
            self.short_usd = 0.0


class _ContractFlow:
    __slots__ = ("minute", "five", "buckets", "last_ms")

    def __init__(self) -> None:
        self.minute = _Window(MINUTE_MS)
        self.five = _Window(FIVE_MINUTES_MS)
        self.buckets: deque[list] = deque()  # [bucket index, long usd, short usd], oldest first
        self.last_ms = 0

    def add(self, t_ms: int, long: bool, usd: float) -> None:
        if t_ms < self.last_ms:
            t_ms = self.last_ms
        self.last_ms = t_ms
        for window in (self.minute, self.five):
            window.add(t_ms, long, usd)
            window.expire(t_ms - window.span_ms - _SLACK_MS)
        index = t_ms // SPARK_BUCKET_MS
        buckets = self.buckets
        if not buckets or buckets[-1][0] != index:
            buckets.append([index, 0.0, 0.0])
            while buckets[0][0] <= index - SPARK_BUCKETS - _SLACK_MS // SPARK_BUCKET_MS:
                buckets.popleft()
        buckets[-1][1 if long else 2] += usd

    def at(self, venue: str, symbol: str, now_ms: int, fund_usd: float | None) -> LiquidationFlow:
        minute, five = self.minute, self.five
        minute.expire(now_ms - MINUTE_MS)
        five.expire(now_ms - FIVE_MINUTES_MS)
        last = now_ms // SPARK_BUCKET_MS
        first = last - SPARK_BUCKETS + 1
        long_spark = [0.0] * SPARK_BUCKETS
        short_spark = [0.0] * SPARK_BUCKETS
        for index, long_usd, short_usd in self.buckets:
            if first <= index <= last:
                long_spark[index - first] = long_usd
                short_spark[index - first] = short_usd
            elif index > last:  # stamped after now (a venue clock ahead): drawn as now
                long_spark[-1] += long_usd
                short_spark[-1] += short_usd
        long_5m, short_5m = five.long_usd, five.short_usd
        heavier = None if long_5m == short_5m == 0.0 else Side.LONG if long_5m >= short_5m else Side.SHORT
        pressure = None
        if fund_usd is not None and fund_usd > 0:
            pressure = max(long_5m, short_5m) / fund_usd
        return LiquidationFlow(
            venue=venue, symbol=symbol, now_ms=now_ms, long_1m_usd=minute.long_usd, short_1m_usd=minute.short_usd,
            long_5m_usd=long_5m, short_5m_usd=short_5m, count_5m=len(five.events),
            spark_long_usd=tuple(long_spark), spark_short_usd=tuple(short_spark),
            fund_balance_usd=fund_usd if fund_usd is not None and fund_usd > 0 else None,
            pressure=pressure, heavier_side=heavier)


def event_time_ms(event: Liquidation) -> int:
    """The venue's time of the liquidation, else when its frame arrived."""
    return event.ts if event.ts is not None else event.recv_ns // 1_000_000


class FlowTracker:
    """Every contract's liquidation flow, fed event by event, read at the caller's clock."""

    def __init__(self) -> None:
        self._contracts: dict[MarkKey, _ContractFlow] = {}

    def add(self, event: Liquidation) -> None:
        """One liquidation (O(1) amortised). A size or notional that is not a positive number is ignored."""
        usd = event.notional_usd
        if not usd > 0 or usd == float("inf"):
            return
        key = (event.venue, event.symbol)
        flow = self._contracts.get(key)
        if flow is None:
            flow = self._contracts[key] = _ContractFlow()
        flow.add(event_time_ms(event), event.side == "long", usd)

    def add_many(self, events: Iterable[Liquidation]) -> None:
        for event in events:
            self.add(event)

    def flows(self, now_ms: int, fund_usd: Mapping[MarkKey, float | None] | None = None) -> dict[MarkKey, LiquidationFlow]:
        """Each contract heard from: its flow in the windows ending at ``now_ms``, its pressure against
        ``fund_usd`` (each contract's insurance fund in USD, where known)."""
        funds = fund_usd or {}
        return {key: flow.at(key[0], key[1], now_ms, funds.get(key))
                for key, flow in sorted(self._contracts.items())}

    def __bool__(self) -> bool:
        return bool(self._contracts)
