"""Public REST polls that complement the sockets (open interest, insurance funds, mark prices).

Each poll runs again ``interval_s`` after the previous one *finished* (STYLE anchor 2), never on a
blind timer, so a slow venue is never hit by overlapping requests. Rate limits (429/418) and server
errors (5xx) back off, honouring ``Retry-After``. Failures are ``FeedStatus`` events, never
exceptions; every body goes to the raw-frame tap with its ``rest`` path. A poll goes to the base in
use unless it names another of the venue's hosts (``RestPoll.host``, resolved by the adapter's
``rest_base``: Binance's COIN-M polls go to dapi), wherever a poll is sent (``poll_base``). An
insurance pool's answer names the contracts it backs: the adapter's ``member_polls`` for it start once
per new member, so that the pool's fund/OI is over every member's open interest.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence

import httpx

from adlwatch.engine.events import Event, FeedStatus, FundingRate, InsuranceFund, MarkPrice
from adlwatch.feeds.recorder import tap_keywords
from adlwatch.feeds.transport import Backoff, FrameTap, make_http_client, retry_after_s
from adlwatch.feeds.venue import POOL_MEMBERS_TAG, RestPoll, VenueAdapter

_BACKOFF_STATUSES = {418, 429}
# A failing poll is retried at most this long after the last try (a venue's Retry-After may ask for
# more). It was 300 s: a venue back after an outage then went unpolled for minutes (issue 14 item 13).
REST_BACKOFF_MAX_S = 60.0


class FeedError(Exception):
    """A venue could not be reached or answered unusably (``adlwatch check`` turns it into one line)."""

    def __init__(self, venue: str, detail: str):
        self.venue = venue
        self.detail = detail
        super().__init__(f"{venue}: {detail}")


def poll_base(adapter: VenueAdapter, base_url: str, poll: RestPoll) -> str:
    """The base ``poll`` is sent to: ``base_url`` (the venue's, or an override such as the emulator's)
    unless the poll names another of the venue's hosts (``RestPoll.host``), which the adapter resolves."""
    return base_url if poll.host == "rest" else adapter.rest_base(base_url, poll.host)


def poll_url(base_url: str, poll: RestPoll) -> str:
    """The URL of ``poll`` under ``base_url``, the base already resolved (``poll_base``)."""
    return base_url.rstrip("/") + poll.path


async def request_poll(client: httpx.AsyncClient, base_url: str, poll: RestPoll) -> httpx.Response:
    return await client.request(poll.method, poll_url(base_url, poll), params=poll.params or None,
                                json=poll.json_body)


def poll_key(poll: RestPoll) -> tuple:
    """What makes two polls the same request (a learned member poll already running is not started again)."""
    return (poll.path, tuple(sorted(poll.params.items())), poll.symbols, poll.host, poll.pool_members)


def recorded_rest(poll: RestPoll) -> str:
    """The ``rest`` a poll's body is recorded under: its path, tagged when it is a pool-member poll."""
    return f"{poll.path}?{POOL_MEMBERS_TAG}" if poll.pool_members else poll.path


def poll_symbol(poll: RestPoll, symbols: Sequence[str]) -> str:
    """Which of ``symbols`` a poll is about (for its status events); "" for venue-wide polls."""
    values = list(poll.params.values()) + [v for v in (poll.json_body or {}).values() if isinstance(v, str)]
    upper = {s.upper(): s for s in symbols}
    for value in values:
        if value.upper() in upper:
            return upper[value.upper()]
    return ""


class RestPoller:
    """Runs an adapter's ``rest_polls(symbols)`` until ``stop()``; events go to ``emit``."""

    def __init__(
        self,
        adapter: VenueAdapter,
        symbols: Sequence[str],
        emit: Callable[[Event], None],
        *,
        base_url: str | None = None,
        on_frame: FrameTap | None = None,
        timeout_s: float = 5.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = REST_BACKOFF_MAX_S,
        interval_scale: float = 1.0,
        polls: Sequence[RestPoll] | None = None,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ):
        self.adapter = adapter
        self.venue = adapter.name
        self.symbols = list(symbols)
        self.emit = emit
        self.base_url = base_url or adapter.rest_url
        self.on_frame = on_frame
        self.timeout_s = timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.interval_scale = interval_scale  # tests shrink venue intervals
        self.polls = list(polls) if polls is not None else list(adapter.rest_polls(self.symbols))
        # Pool-member polls started from insurance answers (``member_polls``), and every poll's key.
        self.learned: list[RestPoll] = []
        self._keys = {poll_key(p) for p in self.polls}
        self._tasks: list[asyncio.Task] = []
        self._running = False
        self._client = client
        self._rng = rng or random.Random()
        self._stop = asyncio.Event()
        # Adapters that can filter a venue-wide body to our symbols take ``symbols=`` (Bybit, Hyperliquid).
        self._wanted = list(self.symbols) or None
        # A venue-wide answer (a poll with ``symbols``) is recorded with the contracts kept of it.
        self._tap_symbols = "symbols" in tap_keywords(on_frame)
        self.requests = 0
        self.failures = 0
        self.waits: list[float] = []  # every delay chosen after a failure (for tests)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        if not self.polls:
            await self._stop.wait()
            return
        client = self._client or make_http_client(self.base_url, self.timeout_s)
        try:
            self._running = True
            self._tasks = [asyncio.create_task(self._loop(client, poll)) for poll in self.polls]
            try:
                await self._stop.wait()
            finally:
                tasks = list(self._tasks)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self._client is None:
                await client.aclose()

    async def _loop(self, client: httpx.AsyncClient, poll: RestPoll) -> None:
        backoff = Backoff(self.backoff_initial_s, self.backoff_max_s, rng=self._rng)
        symbol = poll_symbol(poll, self.symbols)
        base = poll_base(self.adapter, self.base_url, poll)
        failing = False
        while True:
            wait = await self.poll_once(client, poll, symbol, backoff, base)
            if wait is None:
                if failing:
                    failing = False
                    self._status(symbol, "subscribed", f"REST {poll.path} recovered")
                wait = poll.interval_s * self.interval_scale
            else:
                failing = True
            await asyncio.sleep(wait)

    async def poll_once(self, client: httpx.AsyncClient, poll: RestPoll, symbol: str,
                        backoff: Backoff, base_url: str | None = None) -> float | None:
        """One request (to ``base_url``, the poll's resolved base; default: ``poll_base``); None when it
        succeeded, else how long to wait before the next."""
        self.requests += 1
        base = base_url or poll_base(self.adapter, self.base_url, poll)
        try:
            response = await request_poll(client, base, poll)
        except httpx.HTTPError as exc:
            return self._failed(symbol, backoff, None, f"REST {poll.path} unreachable ({type(exc).__name__}: {exc})")
        recv_ns = time.time_ns()
        status = response.status_code
        if status in _BACKOFF_STATUSES or status >= 500:
            label = "rate limited" if status in _BACKOFF_STATUSES else "server error"
            return self._failed(symbol, backoff, retry_after_s(response),
                                f"REST {poll.path} {label} (HTTP {status})")
        if status >= 400:
            return self._failed(symbol, backoff, None, f"REST {poll.path} HTTP {status}")
        text = response.text
        if self.on_frame is not None:
            try:
                if poll.pool_members and self._tap_symbols:
                    self.on_frame(self.venue, text, recv_ns, rest=recorded_rest(poll), symbols=list(poll.symbols))
                elif poll.symbols and self._tap_symbols:
                    self.on_frame(self.venue, text, recv_ns, rest=poll.path,
                                  symbols=list(self._wanted or poll.symbols))
                else:
                    self.on_frame(self.venue, text, recv_ns, rest=recorded_rest(poll))
            except Exception as exc:
                self._status(symbol, "error", f"frame recorder failed: {exc!r}")
        try:
            # A pool-member poll is kept to its own members (the held symbols are none of them).
            wanted = list(poll.symbols) if poll.pool_members else self._wanted
            events = self.adapter.parse_rest(poll, text, recv_ns, wanted)
        except Exception as exc:
            events = [FeedStatus(venue=self.venue, symbol=symbol, ts=None, recv_ns=recv_ns,
                                 state="error", detail=f"parser raised {exc!r}")]
        for event in events:
            self.emit(event)
            if type(event) is InsuranceFund:
                self._learn(client, event)
        backoff.reset()
        return None

    def _learn(self, client: httpx.AsyncClient, fund: InsuranceFund) -> None:
        """Start the polls of ``fund``'s members not polled yet (``member_polls``), once each."""
        try:
            polls = self.adapter.member_polls(fund, self.symbols)
        except Exception as exc:
            self._status(fund.symbol, "error", f"pool members of {fund.symbol}: {exc!r}")
            return
        for poll in polls:
            key = poll_key(poll)
            if key in self._keys:
                continue
            self._keys.add(key)
            self.learned.append(poll)
            if self._running and not self._stop.is_set():  # a bare poll_once only records it
                self._tasks.append(asyncio.create_task(self._loop(client, poll)))

    def _failed(self, symbol: str, backoff: Backoff, retry_after: float | None, detail: str) -> float:
        self.failures += 1
        wait = backoff.next_delay()
        # Never earlier than the venue asked; never a hot loop when it says 0.
        wait = max(wait, retry_after or 0.0, 0.05)
        self.waits.append(wait)
        self._status(symbol, "error", f"{detail}; retrying in {wait:.1f} s")
        return wait

    def _status(self, symbol: str, state: str, detail: str) -> None:
        self.emit(FeedStatus(venue=self.venue, symbol=symbol, ts=None, recv_ns=time.time_ns(),
                             state=state, detail=detail))


def mark_price_polls(adapter: VenueAdapter, symbols: list[str]) -> list[RestPoll]:
    """The adapter's ``mark_price_poll(symbol)`` for each symbol (duplicates once), else every poll."""
    polls: list[RestPoll] = []
    for symbol in symbols:
        poll = adapter.mark_price_poll(symbol)
        if poll is None:
            return list(adapter.rest_polls(symbols))
        if poll not in polls:
            polls.append(poll)
    return polls


async def fetch_marks(venue: str, symbols: list[str], base_url: str | None = None,
                      timeout: float = 5.0) -> dict[str, float]:
    """Current mark prices from the venue's public REST API: ``{symbol: price}``.

    Symbols the venue did not return are absent. Raises ``FeedError`` naming the venue when it
    cannot be reached or answers with an error.
    """
    marks, _funding = await fetch_market(venue, symbols, base_url, timeout, funding=False)
    return marks


async def fetch_market(venue: str, symbols: list[str], base_url: str | None = None, timeout: float = 5.0, *,
                       funding: bool = True) -> tuple[dict[str, float], dict[str, tuple[float, int | None]]]:
    """Current marks and, with ``funding``, funding rates (rate, next funding time in ms) from the
    venue's public REST API, as ``adlwatch check`` shows them: the mark's answer where it carries the
    funding (Binance premiumIndex, Bybit tickers, Hyperliquid metaAndAssetCtxs), else the adapter's
    ``funding_polls`` (OKX). A mark that cannot be read raises ``FeedError`` naming the venue; a
    funding that cannot is only absent."""
    from adlwatch.feeds.registry import get_adapter

    adapter = get_adapter(venue)
    base = base_url or adapter.rest_url
    wanted = {s.upper(): s for s in symbols}
    marks: dict[str, float] = {}
    rates: dict[str, tuple[float, int | None]] = {}

    def take(poll: RestPoll, body: str) -> None:
        for event in adapter.parse_rest(poll, body, time.time_ns(), list(symbols) or None):
            name = wanted.get(event.symbol.upper())
            if name is None:
                continue
            if isinstance(event, MarkPrice):
                marks[name] = event.price
            elif funding and isinstance(event, FundingRate):
                rates[name] = (event.rate, event.next_funding_ts)

    async with make_http_client(base, timeout) as client:
        for poll in mark_price_polls(adapter, list(symbols)):
            host = poll_base(adapter, base, poll)
            try:
                response = await request_poll(client, host, poll)
            except httpx.HTTPError as exc:
                raise FeedError(venue, f"cannot reach {poll_url(host, poll)} ({type(exc).__name__}: {exc})") from None
            if response.status_code >= 400:
                raise FeedError(venue, f"{poll.path} answered HTTP {response.status_code}")
            take(poll, response.text)
            if len(marks) == len(wanted) and (not funding or len(rates) == len(wanted)):
                break
        for poll in adapter.funding_polls(list(symbols)) if funding else ():
            try:
                response = await request_poll(client, poll_base(adapter, base, poll), poll)
            except httpx.HTTPError:
                continue
            if response.status_code < 400:
                take(poll, response.text)
    return marks, rates


async def fetch_once(venue: str, symbols: list[str], base_url: str | None = None,
                     timeout: float = 5.0) -> list[Event]:
    """One round of every public REST poll of the venue for these symbols (mark, open interest,
    insurance fund...): the events they give. A poll that fails is skipped; if all fail, FeedError."""
    from adlwatch.feeds.registry import get_adapter

    adapter = get_adapter(venue)
    base = base_url or adapter.rest_url
    polls = [*mark_price_polls(adapter, list(symbols)), *adapter.rest_polls(list(symbols))]
    events: list[Event] = []
    failures: list[str] = []
    async with make_http_client(base, timeout) as client:
        for poll in polls:
            host = poll_base(adapter, base, poll)
            try:
                response = await request_poll(client, host, poll)
            except httpx.HTTPError as exc:
                failures.append(f"cannot reach {poll_url(host, poll)} ({type(exc).__name__})")
                continue
            if response.status_code >= 400:
                failures.append(f"{poll.path} answered HTTP {response.status_code}")
                continue
            events.extend(adapter.parse_rest(poll, response.text, time.time_ns(), list(symbols) or None))
    if failures and len(failures) == len(polls):
        raise FeedError(venue, "; ".join(failures[:2]))
    return events
