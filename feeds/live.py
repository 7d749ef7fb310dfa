"""Live market data for the monitor: every venue's feed client into one queue, one event stream.

The app sees the same ``run(emit)`` shape as a replay, so it never knows which one runs. Followed
accounts (feeds/accounts/) run beside the market feeds in the same queue; when a followed account
reports a contract nobody subscribed to yet, that venue's feed is reopened with it added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from adlwatch.engine.events import MONITOR_SKIPS, Event
from adlwatch.feeds.accounts import followers_for
from adlwatch.feeds.connection import FeedClient
from adlwatch.feeds.queue import CoalescingQueue, QueueClosed
from adlwatch.feeds.registry import get_adapter
from adlwatch.feeds.transport import url_override

DRAIN_HZ = 100  # the screen redraws at most 5 times a second; 10 ms of batching is invisible and saves a wake-up per frame


class LiveSource:
    """Websockets (and REST polls for open interest and insurance funds) of the venues held, and
    the followers of the portfolio's followed accounts."""

    def __init__(
        self,
        symbols_by_venue: dict[str, list[str]],
        *,
        ws_urls: dict[str, str] | None = None,
        rest_urls: dict[str, str] | None = None,
        client_options: dict | None = None,
        followers: Sequence[Any] = (),
    ) -> None:
        self.symbols_by_venue = {v: list(s) for v, s in symbols_by_venue.items() if s}
        self.ws_urls = ws_urls or {}
        self.rest_urls = rest_urls or {}
        self.client_options = client_options or {}
        self.followers = list(followers)
        venues = sorted(set(self.symbols_by_venue) | {f.venue for f in self.followers})
        self.label = "live: " + ", ".join(venues) if venues else "live: nothing held"
        self.clients: list[FeedClient] = []  # the running market-feed clients, one per venue
        self._tasks: list[asyncio.Task] = []
        self._queue: CoalescingQueue | None = None

    @classmethod
    def for_portfolio(cls, portfolio: Any, **options: Any) -> LiveSource:
        """Public feeds for the contracts the portfolio holds, and followers for its followed accounts
        (whose contracts are subscribed as the venues report them)."""
        held: dict[str, list[str]] = {}
        for venue, symbol in sorted(portfolio.symbols()):
            held.setdefault(venue, []).append(symbol)
        return cls(held, followers=followers_for(portfolio), **options)

    def _start_client(self, venue: str) -> None:
        client = FeedClient(
            get_adapter(venue),
            self.symbols_by_venue[venue],
            ws_url=self.ws_urls.get(venue) or url_override(venue, "WS"),
            rest=True,
            rest_url=self.rest_urls.get(venue) or url_override(venue, "REST"),
            queue=self._queue,
            skip=MONITOR_SKIPS,
            **self.client_options,
        )
        self.clients.append(client)
        self._tasks.append(asyncio.create_task(client.run(), name=f"live-{venue}"))

    def _held_by_followers(self, event: Event) -> None:
        """A followed account's report: subscribe to contracts it holds that no feed carries yet."""
        new = [p.symbol for p in event.positions if p.symbol not in self.symbols_by_venue.get(event.venue, [])]
        if not new:
            return
        self.symbols_by_venue.setdefault(event.venue, []).extend(dict.fromkeys(new))
        for old in [c for c in self.clients if c.venue == event.venue]:
            self.clients.remove(old)
            old.stop()  # its task ends by itself; the new client resubscribes everything
        self._start_client(event.venue)

    async def run(self, emit: Callable[[Event], None]) -> None:
        if not self.symbols_by_venue and not self.followers:
            return
        # The monitor shows neither index prices nor funding rates: the parsers do not build them,
        # and the queue drops those a parser still delivers as a quiet contract's sign of life (the
        # connection has restarted that contract's stale clock by then).
        queue = self._queue = CoalescingQueue(ignore_kinds=MONITOR_SKIPS)
        for venue in self.symbols_by_venue:
            self._start_client(venue)

        def from_follower(event: Event) -> None:
            queue.put_nowait(event)
            if event.kind == "account_state":
                self._held_by_followers(event)

        follower_tasks = [asyncio.create_task(f.run(from_follower), name=f"follow-{f.venue}") for f in self.followers]
        try:
            while True:
                try:
                    emit(await queue.get())
                except QueueClosed:
                    return
                while len(queue):
                    emit(queue.get_nowait())
                # Drain in batches, at most DRAIN_HZ times a second: one wake-up per batch instead of
                # one per frame, and marks of a symbol that moved twice meanwhile coalesce in the queue.
                await asyncio.sleep(1.0 / DRAIN_HZ)
        finally:
            for client in self.clients:
                client.stop()
            for follower in self.followers:
                follower.stop()
            tasks = [*self._tasks, *follower_tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            queue.close()
