"""Live websocket connections for one venue: reconnect, resubscribe, keep alive, watch for silence.

``FeedClient`` opens one socket per chunk of ``max_streams_per_connection`` symbols and runs each
in a ``async for ws in connect(...)`` loop from ``websockets.asyncio.client``, resubscribing on
every new socket. Nothing here raises into the caller: every problem becomes a ``FeedStatus``
event in the same bounded queue as the data (see ``feeds/queue.py``).

Why each timer exists:
- heartbeat: venues drop sockets they have not heard from (OKX 30 s, Hyperliquid 60 s, Bybit 10 min);
  we send the adapter's message after ``heartbeat.interval_s`` without sending anything.
- per-symbol staleness: a socket can be open and even answer pings while a stream delivers nothing
  (Binance's unrouted legacy URL, research/exchanges.md §0.1). A watchdog reports ``stale``.
- liveness: once a socket has delivered nothing for its stream's cadence (``heartbeat.quiet_after_s``),
  a websocket ping goes out; no pong and no frame within ``heartbeat.pong_timeout_s`` (about 1.5 s)
  means a dead socket: its symbols are reported ``stale`` at once (within 3 s of the last frame, for
  every venue; OKX's data clock alone waits 13 s) and it is aborted and replaced.
- socket silence: a half-open TCP connection delivers nothing and errors nowhere; no frame at all for
  ``silence_timeout_s`` means we abort the socket and reconnect (the backstop behind liveness).
- backoff: reconnects wait a jittered, doubling delay capped at ``WS_BACKOFF_MAX_S`` (3.5 s, so a venue
  that comes back is on screen within 5 s), reset as soon as a new session delivers data.
- alternate URLs: where a venue has more than one (OKX's ports 8443 and 443), a connection that cannot
  be opened on one is tried on the next at once; the ``connected`` status names the one in use.
- rotation: Binance ends every connection at 24 h; we rotate before that on our own schedule.

How frames are read (the firehose CPU goal, benchmarks/RESULTS.md): waking up costs more than parsing
a frame, so each socket is read in batches. ``FeedConnection`` hands the messages of each read to the
client at the end of that read, in the same call, instead of queueing them for a task to ``recv``;
and after each read it leaves the socket alone until the next tick of a ``read_batch_s`` (100 ms) grid
shared by every socket, so one wake-up reads everything that came meanwhile on all of them. Together
they cut the client's CPU by more than half under a firehose. The price is latency: a frame waits at
most one tick, the period at which the screen redraws anyway (and the venues push a contract's mark
every 100 ms at best: Bybit; OKX 200 ms, Binance and Hyperliquid 1 s). Staleness, heartbeats and the
recording tap see every frame as before; a frame's ``recv_ns`` is when it was read.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Opcode

from adlwatch.engine.events import Event, FeedStatus
from adlwatch.feeds.queue import CoalescingQueue
from adlwatch.feeds.recorder import tap_keywords
from adlwatch.feeds.rest import RestPoller
from adlwatch.feeds.transport import Backoff, FrameTap, describe_error, is_loopback
from adlwatch.feeds.venue import Heartbeat, VenueAdapter

log = logging.getLogger(__name__)

_EARLY_LIMIT = 64  # messages kept for a connection whose client is not listening yet, before pausing
# Reconnect delays: doubling from 0.5 s, each uniform in [60 %, 100 %] of a ceiling capped at 3.5 s.
# The cap is how late a venue that came back can be noticed (the wait that began just before its
# return): 3.5 s + TLS connect + the first push (Binance: up to 1 s) keeps "back on screen within 5 s"
# (issue 14 item 13; the "about 10 s" cap cannot keep that promise, a 10 s wait can start just
# before the venue returns). The floor keeps a long outage at one attempt per 2.1 s or fewer per
# socket, inside the venues' connection-rate limits (Hyperliquid's 30 new connections a minute per IP
# is the tightest we know of; UNCONFIRMED for today's limits, see research/exchanges.md).
WS_BACKOFF_INITIAL_S = 0.5
WS_BACKOFF_MAX_S = 3.5
WS_BACKOFF_FLOOR = 0.6
# Sessions (one socket's life) are numbered across the process: a recording tells the sessions of
# every client apart, also of a client restarted with more contracts (``Recorder``'s ``conn``).
_SESSION_IDS = itertools.count(1)


class _TryOther(Exception):
    """Opening a socket failed where another URL of the venue may work: leave the reconnector."""

    def __init__(self, cause: Exception):
        super().__init__(describe_error(cause))
        self.cause = cause


class FeedConnection(ClientConnection):
    """A websockets client connection that hands over the messages of each read as soon as it is read.

    Once ``deliver(on_messages, hold_s)`` is called, the text or binary messages (fragments joined)
    that one read of the socket completes go, in order, to ``on_messages(texts)`` from within that
    read; messages read before ``deliver`` wait and go first. Control frames (ping, pong, close) are
    websockets' own business as usual. Text is decoded leniently: a frame that is not UTF-8 reaches
    the parser (which reports it) rather than failing the connection. ``recv()`` and ``async for``
    see nothing on such a connection.

    ``hold_s`` > 0 pauses reading after each read until the next multiple of ``hold_s`` on the loop's
    clock (the transport's own flow control), so that one wake-up takes all the frames that arrived
    meanwhile, on every held socket at once. Over TLS the pause holds back decryption and framing;
    the kernel still takes in the bytes.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._on_messages: Callable[[list[str]], None] | None = None
        self._read: list[str] = []  # messages completed by the current read (before deliver: all so far)
        self._fragments: list[bytes] = []
        self._hold_s = 0.0
        loop = asyncio.get_running_loop()
        self._call_at, self._time = loop.call_at, loop.time

    def deliver(self, on_messages: Callable[[list[str]], None], hold_s: float = 0.0) -> None:
        early, self._read = self._read, []
        self._on_messages = on_messages
        self._hold_s = hold_s
        if early:
            on_messages(early)
        if len(early) >= _EARLY_LIMIT:
            self.transport.resume_reading()

    def process_event(self, event) -> None:
        opcode = getattr(event, "opcode", None)  # the handshake's response has none
        if not (opcode is _TEXT or opcode is _CONT or opcode is _BINARY) or self.response is None:
            super().process_event(event)  # the handshake, and control frames
            return
        if not event.fin:  # a fragment: the message ends with the frame that has fin set
            self._fragments.append(event.data)
            return
        data = event.data
        if self._fragments:
            self._fragments.append(data)
            data = b"".join(self._fragments)
            self._fragments = []
        self._read.append(data.decode("utf-8", "replace"))
        if self._on_messages is None and len(self._read) == _EARLY_LIMIT:
            self.transport.pause_reading()  # nobody listening yet: stop reading, as websockets would

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        on_messages = self._on_messages
        if on_messages is None:
            return
        if self._read:
            messages, self._read = self._read, []
            on_messages(messages)
        hold_s = self._hold_s
        if hold_s > 0:
            transport = self.transport
            if transport.is_reading():
                transport.pause_reading()
                # Resume on a grid of the loop's clock that every held socket shares: they are then
                # all read in one wake-up. Resuming a closing transport does nothing.
                self._call_at((self._time() // hold_s + 1) * hold_s, transport.resume_reading)


_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


@dataclass(eq=False)
class _Session:
    ws: FeedConnection
    symbols: list[str]
    started: float
    last_sent: float
    last_recv: float
    last_pong: float = 0.0  # when the last liveness ping was answered
    frames: int = 0
    data_events: int = 0  # data for a watched contract (counted once per run of one contract's events)
    reason: str = ""
    planned: bool = False  # rotation or venue notice: reconnect at once, no backoff
    closing: bool = False  # no more frames are handled
    failure: Exception | None = None  # a bug met while handling a frame: the slot reports it
    closer: asyncio.Future | None = None  # the close we started on a venue notice
    conn: int | None = None  # the session's number on the recording tap (a feed of several sockets)


@dataclass
class ConnectionStats:
    """Counters per connection slot (one slot per chunk of symbols), for tests and the status bar."""

    symbols: list[str]
    connects: int = 0  # sockets that opened
    connect_failures: int = 0
    frames: int = 0
    reconnect_delays: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    last_reason: str = ""


class FeedClient:
    """All websocket feeds of one venue for a set of symbols.

    ``await run()`` until ``stop()``; read events with ``async for event in client.events()``.
    """

    def __init__(
        self,
        adapter: VenueAdapter,
        symbols: Sequence[str],
        *,
        ws_url: str | None = None,
        ws_urls: Sequence[str] | None = None,
        heartbeat: Heartbeat | None = None,
        silence_timeout_s: float | None = None,
        rotate_after_s: float | None = 23.5 * 3600,
        healthy_after_s: float = 0.0,
        backoff_initial_s: float = WS_BACKOFF_INITIAL_S,
        backoff_max_s: float = WS_BACKOFF_MAX_S,
        backoff_floor: float = WS_BACKOFF_FLOOR,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        ping_interval_s: float | None = 20.0,
        read_batch_s: float = 0.1,
        on_frame: FrameTap | None = None,
        queue: CoalescingQueue | None = None,
        rest: bool = False,
        rest_url: str | None = None,
        rest_options: dict | None = None,
        rng: random.Random | None = None,
        skip: frozenset[str] = frozenset(),
    ):
        self.adapter = adapter
        self.skip = skip  # event kinds the consumer has no use for: the parsers do not build them
        self.venue = adapter.name
        self.symbols = list(dict.fromkeys(symbols))
        self.ws_url = ws_url or adapter.ws_url
        # Every URL the venue's feed may be opened on, the one to try first first (OKX: both ports).
        self.ws_urls = list(dict.fromkeys(ws_urls or [self.ws_url, *adapter.alternate_ws_urls(self.ws_url)]))
        self._url_index = 0  # shared by the slots: the URL that last opened is where each slot starts
        self.heartbeat = heartbeat or adapter.heartbeat
        self.silence_timeout_s = (
            silence_timeout_s if silence_timeout_s is not None else max(self.heartbeat.stale_after_s, 5.0)
        )
        self.rotate_after_s = rotate_after_s
        self.healthy_after_s = healthy_after_s  # a session with data this old resets the backoff (0: any data)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.backoff_floor = backoff_floor
        self.open_timeout_s = open_timeout_s
        self.close_timeout_s = close_timeout_s
        self.ping_interval_s = ping_interval_s
        self.read_batch_s = read_batch_s  # 0 reads every frame as it comes
        self.on_frame = on_frame
        # A queue handed in may be shared by several venues' clients: its owner closes it.
        self._owns_queue = queue is None
        self.queue = queue if queue is not None else CoalescingQueue()
        self.rest = rest
        self.rest_url = rest_url
        self.rest_options = rest_options or {}
        self.rest_poller = None
        self._rng = rng or random.Random()
        self._notice = adapter.is_reconnect_notice
        self._side_kinds = adapter.side_stream_kinds | {"status"}  # what never shows the mark stream alive
        # One list of symbols per socket (Bybit: linear and inverse apart; everyone: the stream cap).
        self.chunks = [g for g in adapter.connection_groups(self.symbols) if g]
        if not self.symbols:
            # No symbol named: the venue's all-market stream where it has one (Binance, Hyperliquid).
            # Status and staleness are then reported for the pseudo-symbol "" (any data at all).
            self.chunks = [[]]
        self.stats = [ConnectionStats(symbols=chunk) for chunk in self.chunks]
        # Per-symbol data clock: only symbols on a subscribed socket are watched.
        self._last_data: dict[str, float] = {}
        self._watched: set[str] = set()
        self._stale: set[str] = set()
        self._by_upper = {s.upper(): s for s in self.symbols}
        self._sessions: set[_Session] = set()
        self._stop = asyncio.Event()
        self._watch_changed = asyncio.Event()
        self._tap_failed = False
        # A feed on several sockets names each frame's session to a tap that takes it (the recorder):
        # a replay then parses each session's frames apart, as the live parsers did.
        self._tap_conn = len(self.chunks) > 1 and "conn" in tap_keywords(on_frame)

    # ----------------------------------------------------------------- public API

    async def run(self) -> None:
        """Run every connection (and the REST poller with ``rest=True``) until ``stop()``.

        Then the event queue is closed, unless it was handed in (a queue shared between venues).
        """
        tasks = [asyncio.create_task(self._run_slot(i), name=f"{self.venue}-ws-{i}")
                 for i in range(len(self.chunks))]
        tasks.append(asyncio.create_task(self._watchdog(), name=f"{self.venue}-watchdog"))
        if self.rest:

            self.rest_poller = RestPoller(self.adapter, self.symbols, self._emit, base_url=self.rest_url,
                                          on_frame=self.on_frame, **self.rest_options)
            tasks.append(asyncio.create_task(self.rest_poller.run(), name=f"{self.venue}-rest"))
        try:
            await self._stop.wait()
        finally:
            self._stop.set()  # also when run() itself was cancelled
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._owns_queue:
                self.queue.close()

    def stop(self) -> None:
        self._stop.set()

    async def events(self) -> AsyncIterator[Event]:
        async for event in self.queue:
            yield event

    @property
    def connects(self) -> int:
        return sum(s.connects for s in self.stats)

    @property
    def stale_symbols(self) -> frozenset[str]:
        return frozenset(self._stale)

    @property
    def endpoint(self) -> str:
        """``host:port`` of the URL the sockets open on now (OKX: which port works)."""
        return _endpoint(self.ws_urls[self._url_index])

    # ----------------------------------------------------------------- emitting

    def _emit(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def _status(self, symbols: Sequence[str], state: str, detail: str) -> None:
        recv_ns = time.time_ns()
        for symbol in symbols or [""]:
            self._emit(FeedStatus(venue=self.venue, symbol=symbol, ts=None, recv_ns=recv_ns,
                                  state=state, detail=detail))

    def _tap(self, text: str, recv_ns: int, conn: int | None = None) -> None:
        if self.on_frame is None:
            return
        try:
            if conn is None:
                self.on_frame(self.venue, text, recv_ns)
            else:
                self.on_frame(self.venue, text, recv_ns, conn=conn)
        except Exception as exc:  # a full disk must not stop the live feed
            if not self._tap_failed:
                self._tap_failed = True
                self._status(self.symbols, "error", f"frame recorder failed: {exc!r}")

    # ----------------------------------------------------------------- one connection slot

    def _connect_kwargs(self, url: str) -> dict:
        kwargs: dict = dict(
            open_timeout=self.open_timeout_s,
            close_timeout=self.close_timeout_s,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.ping_interval_s,
            max_size=2**22,
            create_connection=FeedConnection,
            # No permessage-deflate: a few hundred small frames a second cost more to inflate than
            # they save, and exchanges' deflate negotiation has broken clients before
            # (python-websockets/websockets#1060). Binance accepts it when offered; we do not offer.
            compression=None,
        )
        if is_loopback(url):
            kwargs["proxy"] = None  # the emulator is never behind a proxy
        return kwargs

    async def _run_slot(self, index: int) -> None:
        symbols = self.chunks[index]
        stats = self.stats[index]
        backoff = Backoff(self.backoff_initial_s, self.backoff_max_s, rng=self._rng, floor=self.backoff_floor)
        last_error: list[BaseException] = []
        failed_urls = 0  # URLs in a row that would not open (with alternates)

        def process_exception(exc: Exception) -> Exception | None:
            # Every failure to open is transient for a monitor: report it and retry with backoff,
            # or first on the venue's other URL.
            stats.connect_failures += 1
            last_error[:] = [exc]
            return _TryOther(exc) if len(self.ws_urls) > 1 else None

        def delays() -> Generator[float]:
            while True:
                delay = backoff.next_delay()
                stats.reconnect_delays.append(delay)
                exc = last_error[0] if last_error else None
                self._status(symbols, "disconnected",
                             f"connect failed ({describe_error(exc)}); retrying in {delay:.2f} s")
                yield delay

        while not self._stop.is_set():
            index = self._url_index
            base = self.ws_urls[index]
            try:
                url = self.adapter.connection_url(base, symbols)
                reconnector = connect(url, process_exception=process_exception,
                                      reconnect_delays=delays, **self._connect_kwargs(base))
                async with contextlib.aclosing(aiter(reconnector)) as sockets:
                    async for ws in sockets:
                        stats.connects += 1
                        failed_urls = 0
                        session = await self._serve(ws, symbols, stats, base)
                        # A session that delivered data proves the venue is back: start over.
                        healthy = (session.data_events > 0
                                   and time.monotonic() - session.started >= self.healthy_after_s)
                        if session.planned or healthy:
                            backoff.reset()
                        delay = 0.0 if session.planned else backoff.next_delay()
                        if delay:
                            stats.reconnect_delays.append(delay)
                        stats.last_reason = session.reason
                        when = f"reconnecting in {delay:.2f} s" if delay else "reconnecting now"
                        self._status(symbols, "disconnected", f"{session.reason}; {when}")
                        if delay:
                            await asyncio.sleep(delay)
            except asyncio.CancelledError:
                raise
            except _TryOther as failed:
                failed_urls += 1
                if self._url_index == index:  # another slot may have moved on already
                    self._url_index = (index + 1) % len(self.ws_urls)
                following = self.ws_urls[self._url_index]
                what = f"connect failed on {_endpoint(base)} ({describe_error(failed.cause)})"
                if failed_urls % len(self.ws_urls):
                    self._status(symbols, "disconnected", f"{what}; trying {_endpoint(following)} now")
                    continue
                delay = backoff.next_delay()
                stats.reconnect_delays.append(delay)
                self._status(symbols, "disconnected",
                             f"{what}; retrying on {_endpoint(following)} in {delay:.2f} s")
                await asyncio.sleep(delay)
            except Exception as exc:  # a bug or a fatal URL: report, back off, try again
                log.debug("feed slot %s failed", index, exc_info=True)
                delay = backoff.next_delay()
                stats.reconnect_delays.append(delay)
                self._status(symbols, "error", f"{describe_error(exc)}; retrying in {delay:.2f} s")
                await asyncio.sleep(delay)

    async def _serve(self, ws: FeedConnection, symbols: list[str], stats: ConnectionStats,
                     base: str | None = None) -> _Session:
        now = time.monotonic()
        session = _Session(ws=ws, symbols=symbols, started=now, last_sent=now, last_recv=now, last_pong=now,
                           conn=next(_SESSION_IDS) if self._tap_conn else None)
        self._sessions.add(session)
        parser = self.adapter.new_parser(self.skip)
        keeper: asyncio.Task | None = None
        try:
            # The URL actually opened: with alternates, its port says which one works (the feeds panel).
            target = urlsplit(base or self.ws_url)
            self._status(symbols, "connected", f"{target.netloc}{urlsplit(ws.request.path).path if ws.request else ''}")
            for message in self.adapter.subscribe_messages(symbols):
                await ws.send(message)
                session.last_sent = time.monotonic()
            subscribed_at = time.monotonic()
            # A symbol that was stale stays stale until its data comes ("data resumed"): a venue that
            # accepts sockets and sends nothing must not look healthy between two liveness checks.
            still_stale = [symbol for symbol in symbols or [""] if symbol in self._stale]
            for symbol in symbols or [""]:
                self._last_data[symbol] = subscribed_at
                self._watched.add(symbol)
            self._watch_changed.set()  # the watchdog may be asleep with nothing to watch
            via = f" via {target.netloc}" if len(self.ws_urls) > 1 else ""
            self._status(symbols, "subscribed", f"{len(symbols)} symbol(s){via}")
            if still_stale:
                self._status(still_stale, "stale", "no data since the reconnect")
            keeper = asyncio.create_task(self._keepalive(session))
            ws.deliver(self._receiver(session, stats, parser), self.read_batch_s)
            await ws.wait_closed()
            if session.closer is not None:
                await asyncio.wait([session.closer])
            if session.failure is not None:
                raise session.failure
            if not session.reason:
                session.reason = _closed_reason(ws.protocol.close_exc)
        except ConnectionClosed as exc:  # while subscribing
            if not session.reason:
                session.reason = _closed_reason(exc)
        finally:
            session.closing = True
            if keeper is not None:
                keeper.cancel()
                # asyncio.wait never raises the keeper's own end, yet lets our cancellation through.
                await asyncio.wait([keeper])
            for symbol in symbols or [""]:
                self._watched.discard(symbol)
            self._sessions.discard(session)
        return session

    def _receiver(self, session: _Session, stats: ConnectionStats, parser) -> Callable[[list[str]], None]:
        """What happens to the messages of each read of one socket, called by the connection."""
        notice, tap, venue, parse = self._notice, self.on_frame is not None, self.venue, parser.parse
        conn = session.conn
        time_ns, monotonic = time.time_ns, time.monotonic

        def on_messages(texts: list[str]) -> None:
            if session.closing:
                return
            try:
                recv_ns = time_ns()  # the frames of one read arrived together: one clock reading
                now = session.last_recv = monotonic()
                events: list[Event] = []
                for text in texts:
                    session.frames += 1
                    stats.frames += 1
                    if tap:
                        self._tap(text, recv_ns, conn)
                    if notice(text):
                        session.reason = "venue asked to reconnect (notice)"
                        session.planned = session.closing = True
                        session.closer = asyncio.ensure_future(session.ws.close(1000, "reconnect on venue notice"))
                        break
                    try:
                        events += parse(text, recv_ns)
                    except Exception as exc:  # parsers promise not to raise; never trust a promise with live data
                        events.append(FeedStatus(venue=venue, symbol="", ts=None, recv_ns=recv_ns, state="error",
                                                 detail=f"parser raised {exc!r}"))
                self._handle_events(events, session, now)
            except Exception as exc:  # our own bug: never inside websockets' read; the slot reports it
                session.failure = exc
                session.closing = True
                session.ws.transport.abort()

        return on_messages

    def _handle_events(self, events: list[Event], session: _Session, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        seen = None  # consecutive events mostly name one contract (one string each): its clock is set once
        side = self._side_kinds
        for event in events:
            if event.kind not in side and event.symbol is not seen:
                seen = event.symbol
                self._saw_data(seen, session, now)
        # A "data resumed" status from _saw_data goes just before the read's events.
        self.queue.put_all(events)

    def _saw_data(self, name: str, session: _Session, now: float) -> None:
        """Data for contract ``name`` (the venue's spelling) arrived at ``now``: restart its stale clock."""
        if not self.symbols:
            symbol: str | None = ""
        else:
            symbol = name if name in self._last_data else self._by_upper.get(name.upper())
        if symbol is not None and symbol in self._watched:
            self._last_data[symbol] = now
            session.data_events += 1
            if symbol in self._stale:
                self._stale.discard(symbol)
                self._status([symbol], "subscribed", "data resumed")

    async def _keepalive(self, session: _Session) -> None:
        """Send the venue heartbeat when due; probe a quiet socket; abort a dead or silent one; rotate
        an old one."""
        hb = self.heartbeat
        ws = session.ws
        probe: asyncio.Future | None = None  # the pong awaited for a liveness ping
        probe_sent = 0.0
        while True:
            now = time.monotonic()
            if probe is not None and (probe.done() or session.last_recv > probe_sent):
                if probe.done() and not probe.cancelled() and probe.exception() is None:
                    session.last_pong = max(session.last_pong, probe_sent)
                probe = None  # alive: answered, or a frame came meanwhile
            silence_at = session.last_recv + self.silence_timeout_s
            due = [silence_at]
            dead_at = probe_sent + hb.pong_timeout_s if probe is not None else None
            probe_at = max(session.last_recv, session.last_pong) + hb.quiet_after_s if probe is None else None
            due.append(dead_at if dead_at is not None else probe_at)
            heartbeat_at = session.last_sent + hb.interval_s if hb.message else None
            if heartbeat_at is not None:
                due.append(heartbeat_at)
            rotate_at = session.started + self.rotate_after_s if self.rotate_after_s else None
            if rotate_at is not None:
                due.append(rotate_at)
            wake = min(due)
            if wake > now:
                if probe is not None:
                    await asyncio.wait([probe], timeout=wake - now)
                else:
                    await asyncio.sleep(wake - now)
                continue
            if dead_at is not None and now >= dead_at:
                quiet = now - session.last_recv
                session.reason = (f"no answer to a ping within {hb.pong_timeout_s:g} s after {quiet:.1f} s "
                                  "without frames (silent socket)")
                self._dead(session, f"no data for {quiet:.1f} s and no pong within {hb.pong_timeout_s:g} s")
                if ws.transport is not None:
                    ws.transport.abort()
                return
            if probe_at is not None and now >= probe_at:
                try:
                    probe = asyncio.ensure_future(await ws.ping())
                except ConnectionClosed:
                    return
                probe_sent = time.monotonic()
                continue
            if now >= silence_at:
                session.reason = f"no frames for {now - session.last_recv:.1f} s (silent socket)"
                # A half-open peer will not answer a close handshake either.
                if ws.transport is not None:
                    ws.transport.abort()
                return
            if rotate_at is not None and now >= rotate_at:
                session.reason = f"planned rotation after {self.rotate_after_s:.0f} s"
                session.planned = True
                await ws.close(1000, "planned rotation")
                return
            if heartbeat_at is not None and now >= heartbeat_at:
                try:
                    await ws.send(hb.message)
                except ConnectionClosed:
                    return
                session.last_sent = time.monotonic()

    def _dead(self, session: _Session, detail: str) -> None:
        """A socket failed its liveness check: every watched symbol on it is stale now."""
        dead = [s for s in session.symbols or [""] if s in self._watched and s not in self._stale]
        self._stale.update(dead)
        if dead:
            self._status(dead, "stale", detail)

    async def _watchdog(self) -> None:
        """Report a watched symbol ``stale`` once its data is older than ``stale_after_s``."""
        stale_after = self.heartbeat.stale_after_s
        while True:
            now = time.monotonic()
            wake = now + 1.0
            for symbol in list(self._watched):
                if symbol in self._stale:
                    continue
                deadline = self._last_data.get(symbol, now) + stale_after
                if now >= deadline:
                    self._stale.add(symbol)
                    age = now - self._last_data.get(symbol, now)
                    self._status([symbol], "stale", f"no data for {age:.1f} s")
                else:
                    wake = min(wake, deadline)
            self._watch_changed.clear()
            # asyncio.wait, not wait_for: 3.11's wait_for can swallow a cancel that races the wake-up.
            waiter = asyncio.ensure_future(self._watch_changed.wait())
            try:
                await asyncio.wait([waiter], timeout=max(wake - now, 0.005))
            finally:
                waiter.cancel()


def _endpoint(url: str) -> str:
    """``host:port`` of a websocket URL, the port spelled out (443 for wss, 80 for ws, when implied)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    return f"{parts.hostname}:{port}"


def _closed_reason(exc: ConnectionClosed) -> str:
    received = exc.rcvd
    if received is None:
        return f"connection lost ({describe_error(exc)})"
    return f"server closed (code {received.code}{': ' + received.reason if received.reason else ''})"
