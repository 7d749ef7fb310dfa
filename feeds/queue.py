"""A bounded event queue between the feeds and the engine that never grows without limit.

Latest-value events (mark, index, funding, open interest, insurance fund) are coalesced per
(type, venue, symbol) while the consumer is behind: a newer mark replaces the pending one in
place, so a slow engine sees the freshest price instead of a backlog. Everything else (status,
ADL alerts) keeps its order in the same bounded buffer; when that is full the oldest entry is
dropped and counted, never the producer blocked.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from adlwatch.engine.events import Event

# Event kinds whose newest value makes older pending ones worthless (a followed account's state is
# whole in every report, keyed by its reference).
DEFAULT_COALESCE_KINDS = frozenset(
    {"mark_price", "index_price", "funding_rate", "open_interest", "insurance_fund", "account_state", "adl_risk"}
)


class QueueClosed(Exception):
    """Raised by ``get`` once the queue is closed and drained."""


class CoalescingQueue:
    """Single-loop asyncio queue; ``put_nowait`` never blocks and never raises on overflow."""

    def __init__(self, maxsize: int = 10_000, coalesce_kinds: frozenset[str] = DEFAULT_COALESCE_KINDS,
                 ignore_kinds: frozenset[str] = frozenset()):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.coalesce_kinds = coalesce_kinds
        self.ignore_kinds = ignore_kinds  # kinds the consumer has no use for: never queued
        # Entries are ("key", key) for coalesced events (value in _latest) or ("event", event).
        self._entries: deque[tuple[str, Any]] = deque()
        self._latest: dict[tuple[str, str, str], Event] = {}
        self._ready = asyncio.Event()
        self._closed = False
        self.coalesced = 0  # events replaced by a newer one before the consumer took them
        self.dropped = 0  # entries discarded because the buffer was full

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_nowait(self, event: Event) -> None:
        self.put_all((event,))

    def put_all(self, events: Iterable[Event]) -> None:
        """``put_nowait`` each event in turn (one call for a frame's events: this runs per frame)."""
        if self._closed:
            return
        ignore, coalesce, latest, entries = self.ignore_kinds, self.coalesce_kinds, self._latest, self._entries
        added = False
        for event in events:
            kind = event.kind
            if kind in ignore:
                continue
            if kind in coalesce:
                key = (kind, event.venue, event.symbol)
                if key in latest:
                    latest[key] = event
                    self.coalesced += 1
                    continue
                self._make_room()
                latest[key] = event
                entries.append(("key", key))
            else:
                self._make_room()
                entries.append(("event", event))
            added = True
        if added:
            self._ready.set()

    def _make_room(self) -> None:
        while len(self._entries) >= self.maxsize:
            tag, item = self._entries.popleft()
            if tag == "key":
                del self._latest[item]
            self.dropped += 1

    def get_nowait(self) -> Event:
        if not self._entries:
            raise asyncio.QueueEmpty
        tag, item = self._entries.popleft()
        if not self._entries:
            self._ready.clear()
        if tag == "key":
            return self._latest.pop(item)
        return item

    async def get(self) -> Event:
        while not self._entries:
            if self._closed:
                raise QueueClosed
            self._ready.clear()
            await self._ready.wait()
        return self.get_nowait()

    def close(self) -> None:
        """Stop accepting events; ``get`` drains what is pending, then raises QueueClosed."""
        self._closed = True
        self._ready.set()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self.get()
            except QueueClosed:
                return
