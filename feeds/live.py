"""Live market data for the monitor: every venue's feed client into one queue, one event stream.

The app sees the same ``run(emit)`` shape as a replay, so it never knows which one runs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from feeds.connection import FeedClient
from feeds.events import Event
from feeds.queue import CoalescingQueue, QueueClosed
from feeds.registry import get_adapter

DRAIN_HZ = 100  # the UI redraws at 10 Hz; 10 ms of batching is invisible and saves a wake-up per frame


def url_override(venue: str, kind: str) -> str | None:
    """``ADLWATCH_<VENUE>_WS_URL`` / ``ADLWATCH_<VENUE>_REST_URL``: the emulator, or a testnet."""
    return os.environ.get(f"ADLWATCH_{venue.upper()}_{kind}_URL")


class LiveSource:
    """Websockets (and REST polls for open interest and insurance funds) of the venues held."""

    def __init__(
        self,
        symbols_by_venue: dict[str, list[str]],
        *,
        ws_urls: dict[str, str] | None = None,
        rest_urls: dict[str, str] | None = None,
        client_options: dict | None = None,
    ) -> None:
        self.symbols_by_venue = {v: list(s) for v, s in symbols_by_venue.items() if s}
        self.ws_urls = ws_urls or {}
        self.rest_urls = rest_urls or {}
        self.client_options = client_options or {}
        self.label = "live: " + ", ".join(sorted(self.symbols_by_venue)) if self.symbols_by_venue else "live: nothing held"
        self.clients: list[FeedClient] = []

    async def run(self, emit: Callable[[Event], None]) -> None:
        if not self.symbols_by_venue:
            return
        # The monitor shows neither index prices nor funding rates: they never enter its queue.
        queue = CoalescingQueue(ignore_kinds=frozenset({"index_price", "funding_rate"}))
        self.clients = [
            FeedClient(
                get_adapter(venue),
                symbols,
                ws_url=self.ws_urls.get(venue) or url_override(venue, "WS"),
                rest=True,
                rest_url=self.rest_urls.get(venue) or url_override(venue, "REST"),
                queue=queue,
                **self.client_options,
            )
            for venue, symbols in self.symbols_by_venue.items()
        ]
        tasks = [asyncio.create_task(c.run(), name=f"live-{c.venue}") for c in self.clients]
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
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            queue.close()
