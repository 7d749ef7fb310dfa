"""Small validated conversions every venue parser shares (bools are never numbers on the wire)."""

from __future__ import annotations

import json
import math
from typing import Any

from adlwatch.engine.events import Event, FeedStatus

INF = math.inf


def number(value: Any) -> float | None:
    """A finite float from a JSON number or numeric string, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if -INF < x < INF else None


def price(value: Any) -> float | None:
    """A finite, strictly positive price, else None."""
    x = number(value)
    return x if x is not None and x > 0.0 else None


def ms(value: Any) -> int | None:
    """A positive integer millisecond time from an int or digit string, else None."""
    if isinstance(value, str):  # first: most venues send times as text
        if value.isdigit() and len(value) < 20:
            v = int(value)
            return v if v > 0 else None
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and 0 < value < 1e18 and value.is_integer():
        return int(value)
    return None


def snippet(frame: Any, limit: int = 80) -> str:
    """The start of a frame, for an error message."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        text = bytes(frame).decode("utf-8", "replace")
    elif isinstance(frame, str):
        text = frame
    else:
        text = json.dumps(frame, default=str)
    return text[:limit] + ("…" if len(text) > limit else "")


def error_status(venue: str, detail: str, recv_ns: int, symbol: str = "") -> FeedStatus:
    return FeedStatus(venue=venue, symbol=symbol, ts=None, recv_ns=recv_ns, state="error", detail=detail)


class Problems:
    """Collects what was wrong with a frame; becomes at most one FeedStatus error."""

    __slots__ = ("venue", "items")

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.items: list[tuple[str, str]] = []

    def add(self, detail: str, symbol: str = "") -> None:
        self.items.append((symbol, detail))

    def status(self, recv_ns: int) -> list[Event]:
        if not self.items:
            return []
        symbol, detail = self.items[0]
        if len(self.items) > 1:
            detail += f" (+{len(self.items) - 1} more)"
        return [error_status(self.venue, detail, recv_ns, symbol)]

    def price(self, raw: Any, what: str, symbol: str) -> float | None:
        """A valid price, or None with the problem noted (``what``: "mark price", "index price")."""
        value = price(raw)
        if value is None:
            self.add(f"{symbol}: bad {what} {raw!r}", symbol)
        return value

    def number(self, raw: Any, what: str, symbol: str) -> float | None:
        """A finite number, or None with the problem noted."""
        value = number(raw)
        if value is None:
            self.add(f"{symbol}: bad {what} {raw!r}", symbol)
        return value


def data_kinds(skip: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    """A parser's ``skip``: event kinds not to build. Status events are never skipped: a consumer
    that wants fewer data events still hears about bad frames."""
    return frozenset(skip) - {"status"}


def without(events: list[Event], skip: frozenset[str]) -> list[Event]:
    """``events`` less those whose kind is in ``skip`` (from ``data_kinds``), unless that leaves nothing
    of a frame that had data: then all of them, the contract's sign of life (a live connection marks a
    contract stale when no event names it; the consumer drops what it does not use)."""
    if not skip:
        return events
    kept = [e for e in events if e.kind not in skip]
    return kept if kept or not events else events
