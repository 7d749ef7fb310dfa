"""Loopback emulator fixture and helpers for the feed tests.

Nothing here sleeps for timing: tests wait on conditions (``Collector.wait_for``,
``Emulator.wait_until``) bounded by ``asyncio.wait_for`` timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
from collections.abc import Callable

import pytest

from adlwatch.engine.events import Event, FeedStatus
from adlwatch.feeds.connection import FeedClient
from adlwatch.feeds.emulator import Emulator
from adlwatch.feeds.queue import CoalescingQueue
from adlwatch.feeds.registry import get_adapter
from adlwatch.feeds.venue import Heartbeat

SYMBOLS = {"binance": ["BTCUSDT"], "bybit": ["BTCUSDT"], "okx": ["BTC-USDT-SWAP"], "hyperliquid": ["BTC"]}

# Short timers so every fault shows up well inside the 3 s the feeds promise.
FAST = dict(
    silence_timeout_s=1.0,
    backoff_initial_s=0.05,
    backoff_max_s=0.4,
    healthy_after_s=60.0,
    close_timeout_s=0.5,
    open_timeout_s=2.0,
)


def fast_heartbeat(venue: str, interval_s: float = 0.2, stale_after_s: float = 0.5) -> Heartbeat:
    return Heartbeat(interval_s=interval_s, message=get_adapter(venue).heartbeat.message,
                     stale_after_s=stale_after_s)


def _loopback(host) -> bool:
    if host in (None, "localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Feed tests talk only to 127.0.0.1: any other name lookup or connect fails loudly."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            raise socket.gaierror(f"test guard: no internet (lookup of {host!r})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            raise ConnectionRefusedError(f"test guard: no internet (connect to {address!r})")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
async def emulator():
    emu = Emulator(seed=7, interval_s=0.05)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


class Collector:
    """Runs a FeedClient and keeps every event it yields; wait for conditions on them."""

    def __init__(self, client: FeedClient):
        self.client = client
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []
        self.consume = True

    async def __aenter__(self) -> Collector:
        self._tasks = [asyncio.create_task(self.client.run()), asyncio.create_task(self._consume())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.client.stop()
        await asyncio.wait_for(self._tasks[0], 5.0)  # run() must end promptly on stop()
        self._tasks[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._tasks[1]
        # run() never raised: a crash would surface here
        assert self._tasks[0].exception() is None

    async def _consume(self) -> None:
        async for event in self.client.events():
            self.events.append(event)
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[Event], bool], *, count: int = 1, after: int = 0,
                       timeout: float = 3.0) -> list[Event]:
        """The first ``count`` events (from index ``after``) matching ``predicate``."""

        def matches() -> list[Event]:
            return [e for e in self.events[after:] if predicate(e)]

        async def waiter() -> list[Event]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(matches()) >= count)
            return matches()[:count]

        return await asyncio.wait_for(waiter(), timeout)

    def statuses(self, state: str, symbol: str | None = None) -> list[FeedStatus]:
        return [e for e in self.events if isinstance(e, FeedStatus) and e.state == state
                and (symbol is None or e.symbol == symbol)]


def status(state: str, symbol: str | None = None) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, FeedStatus) and e.state == state and (symbol is None or e.symbol == symbol)


def kind(name: str, symbol: str | None = None) -> Callable[[Event], bool]:
    return lambda e: e.kind == name and (symbol is None or e.symbol == symbol)


def make_client(emu: Emulator, venue: str, symbols: list[str] | None = None, *, adapter=None,
                queue: CoalescingQueue | None = None, **overrides) -> FeedClient:
    options = dict(FAST)
    options.update(overrides)
    options.setdefault("heartbeat", fast_heartbeat(venue))
    return FeedClient(adapter or get_adapter(venue), symbols or SYMBOLS[venue], ws_url=emu.ws_url(venue),
                      queue=queue, rng=random.Random(1), **options)


class Kit:
    """The helpers above, handed to tests as a fixture (test modules import nothing from here)."""

    SYMBOLS = SYMBOLS
    FAST = FAST
    Collector = Collector
    status = staticmethod(status)
    kind = staticmethod(kind)
    fast_heartbeat = staticmethod(fast_heartbeat)

    def __init__(self, emu: Emulator):
        self.emu = emu

    def client(self, venue: str, symbols: list[str] | None = None, **overrides) -> FeedClient:
        return make_client(self.emu, venue, symbols, **overrides)

    def run(self, venue: str, symbols: list[str] | None = None, **overrides) -> Collector:
        """``async with kit.run("okx") as feed:`` a running client and its collected events."""
        return Collector(self.client(venue, symbols, **overrides))


@pytest.fixture
def kit(emulator) -> Kit:
    return Kit(emulator)
