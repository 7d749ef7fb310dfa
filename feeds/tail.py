"""``adlwatch tail`` and ``adlwatch record``: the live feed (or a recording) as lines, and raw capture.

``run_tail`` prints one line per normalized event: with ``as_json`` exactly ``encode_event`` (the
DESIGN.md ``tail --json`` contract), otherwise a readable table line. Live and ``--from`` go through
the same adapter parsers. Network trouble is shown as ``status`` lines and retried; it never ends the
command. The command line sends status lines to stderr, in the table form and throttled
(``StatusLines``: a line when a stream's state changes, the same state again at most once a second),
so stdout holds the events alone. A venue's ``ADLWATCH_<VENUE>_WS_URL`` / ``_REST_URL`` apply here
as everywhere (``transport.url_override``). Cancelling either coroutine (Ctrl-C under
``asyncio.run``) stops the feeds and closes files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

from adlwatch.engine.events import (
    AdlAlert,
    AdlRisk,
    Event,
    FeedStatus,
    ForcedClose,
    FundingRate,
    IndexPrice,
    InsuranceFund,
    Liquidation,
    MarkPrice,
    OpenInterest,
    encode_event,
)
from adlwatch.feeds.connection import FeedClient
from adlwatch.feeds.recorder import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    Recorder,
    RecordingError,
    read_recording,
    replay_events,
)
from adlwatch.feeds.transport import url_override

STATUS_EVERY_S = 1.0  # the same status of a stream again at most this often on the status stream


def format_event(event: Event) -> str:
    """One readable line: time, venue, symbol, type and the event's own values."""
    if event.ts is not None:
        when = datetime.fromtimestamp(event.ts / 1000, UTC)
    else:
        when = datetime.fromtimestamp(event.recv_ns / 1e9, UTC) if event.recv_ns else None
    stamp = when.strftime("%H:%M:%S.%f")[:-3] if when else "--:--:--.---"
    head = f"{stamp}  {event.venue:<11} {event.symbol or '-':<16} {event.kind:<14}"
    if isinstance(event, (MarkPrice, IndexPrice)):
        body = f"{event.price:,}"
    elif isinstance(event, FundingRate):
        nxt = (datetime.fromtimestamp(event.next_funding_ts / 1000, UTC).strftime("%H:%M")
               if event.next_funding_ts else "?")
        body = f"{event.rate * 100:+.4f}%  next {nxt}"
    elif isinstance(event, OpenInterest):
        usd = f"  (${event.open_interest_usd:,.0f})" if event.open_interest_usd is not None else ""
        body = f"{event.open_interest:,.6g}{usd}"
    elif isinstance(event, InsuranceFund):
        body = f"{event.balance:,.2f} {event.asset}  backs {','.join(event.symbols)}"
    elif isinstance(event, AdlAlert):
        body = f"{event.state}  {event.detail}"
    elif isinstance(event, FeedStatus):
        body = f"{event.state.upper()}  {event.detail}"
    elif isinstance(event, Liquidation):
        body = f"{event.side} liquidated  {event.size:,.6g} @ {event.price:,}  (${event.notional_usd:,.0f})"
    elif isinstance(event, AdlRisk):
        body = f"venue ADL risk {event.rating}"
    elif isinstance(event, ForcedClose):
        body = (f"{event.account}: {event.side} {'ADL' if event.cause == 'adl' else 'liquidated'}  "
                f"{event.size:,.6g} @ {event.price:,}, {event.remaining:,.6g} left  {event.detail}")
    else:
        body = ""
    return f"{head} {body}".rstrip()


class _Writer:
    def __init__(self, out: TextIO, as_json: bool):
        self.out = out
        self.as_json = as_json
        self.lines = 0

    def write(self, event: Event) -> None:
        line = encode_event(event).decode() if self.as_json else format_event(event)
        self.out.write(line + "\n")
        self.out.flush()
        self.lines += 1


class StatusLines:
    """Status events as table lines on their own stream (stderr), throttled: a line whenever a
    stream's (venue, symbol) state changes; the same state again (a retry loop's errors, say) at most
    once every ``every_s`` seconds. ``write`` returns whether it printed."""

    def __init__(self, out: TextIO, every_s: float = STATUS_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.every_s = every_s
        self.clock = clock
        self._last: dict[tuple[str, str], tuple[str, float]] = {}
        self.lines = 0

    def write(self, event: FeedStatus) -> bool:
        key = (event.venue, event.symbol)
        now = self.clock()
        last = self._last.get(key)
        if last is not None and last[0] == event.state and now - last[1] < self.every_s:
            return False
        self._last[key] = (event.state, now)
        self.out.write(format_event(event) + "\n")
        self.out.flush()
        self.lines += 1
        return True


async def _live_events(venue: str, symbols: list[str], *, ws_url: str | None, rest_url: str | None,
                       on_frame=None, client_options: dict | None = None) -> AsyncIterator[Event]:
    from adlwatch.feeds.registry import get_adapter

    # an explicit URL (--ws-url, a test) wins; else the environment's, as for every other command
    ws_url = ws_url or url_override(venue, "WS")
    rest_url = rest_url or url_override(venue, "REST")
    client = FeedClient(get_adapter(venue), symbols, ws_url=ws_url, on_frame=on_frame, rest=True,
                        rest_url=rest_url, **(client_options or {}))
    task = asyncio.create_task(client.run())
    try:
        async for event in client.events():
            yield event
    finally:
        client.stop()
        await asyncio.gather(task, return_exceptions=True)


def _has_all_market_feed(venue: str) -> bool:
    """Whether the adapter subscribes to something when no symbol is named."""
    from adlwatch.feeds.registry import get_adapter

    adapter = get_adapter(venue)
    base = adapter.ws_url
    return bool(adapter.subscribe_messages([])) or adapter.connection_url(base, []) != adapter.connection_url(
        base, ["BTCUSDT"])


def _filtered(events: Iterable[Event], symbols: list[str]) -> Iterable[Event]:
    wanted = {s.upper() for s in symbols}
    for event in events:
        if not wanted or isinstance(event, FeedStatus) or event.symbol.upper() in wanted:
            yield event


async def run_tail(venue: str, symbols: list[str], *, from_path: str | os.PathLike | None = None,
                   as_json: bool = False, ws_url: str | None = None, rest_url: str | None = None,
                   out: TextIO = sys.stdout, max_events: int | None = None, on_frame=None,
                   client_options: dict | None = None, status_out: TextIO | None = None,
                   status_every_s: float = STATUS_EVERY_S, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> int:
    """Print normalized events until cancelled (live) or to the end of ``from_path``. Returns 0.

    ``max_events`` stops after that many lines on ``out`` (tests, scripting); ``on_frame`` tees the
    raw frames (e.g. ``Recorder.write``); ``client_options`` go to ``FeedClient``. Only ``venue``'s
    events are printed from a recording, filtered to ``symbols`` when given. ``status_out``: where
    status events go, as throttled table lines (``StatusLines``; the command line passes stderr);
    None prints them on ``out`` with the others, each one. An unreadable recording, or one with a
    line over ``max_line_bytes``, raises ``RecordingError`` (an ``InputError``: the CLI's exit 2).
    """
    writer = _Writer(out, as_json)
    statuses = StatusLines(status_out, status_every_s) if status_out is not None else None

    def emit(event: Event) -> bool:
        """True once ``max_events`` lines are out."""
        if statuses is not None and isinstance(event, FeedStatus):
            statuses.write(event)
            return False
        writer.write(event)
        return max_events is not None and writer.lines >= max_events

    try:
        if from_path is not None:
            events = replay_events(from_path, symbols=symbols or None, max_line_bytes=max_line_bytes)
            heard = False
            for event in _filtered(events, symbols):
                if event.venue == venue:
                    heard = True
                    if emit(event):
                        break
            if not heard:
                _say_what_the_recording_holds(from_path, venue, symbols, max_line_bytes)
            return 0
        if not symbols and not _has_all_market_feed(venue):
            emit(FeedStatus(venue=venue, symbol="", ts=None, recv_ns=time.time_ns(), state="error",
                            detail=f"{venue} has no all-market stream: name at least one symbol"))
            return 2
        async with contextlib.aclosing(_live_events(venue, symbols, ws_url=ws_url, rest_url=rest_url,
                                                    on_frame=on_frame,
                                                    client_options=client_options)) as live:
            wanted = {s.upper() for s in symbols}
            async for event in live:
                if wanted and event.kind == "open_interest" and event.symbol.upper() not in wanted:
                    continue  # a shared insurance pool's other members: polled for its fund/OI, not named
                if emit(event):
                    break
        return 0
    except BrokenPipeError:  # `adlwatch tail ... | head`
        return 0


def _say_what_the_recording_holds(path: str | os.PathLike, venue: str, symbols: list[str], max_line_bytes: int) -> None:
    """Nothing of ``venue`` (and ``symbols``) was printed: a ``RecordingError`` naming what the recording
    holds instead (a tail of nothing that exits 0 reads as "no events yet"), unless the venue's frames
    hold no event at all (acks, pongs, other channels). Only read again when nothing was printed."""
    venues = sorted({line_venue for _, line_venue, _, _ in read_recording(path, max_line_bytes=max_line_bytes)})
    if venue not in venues:
        holds = f"it holds frames of {', '.join(venues)}" if venues else "it holds no frames"
        raise RecordingError(path, None, f"no {venue} frames in this recording: {holds}")
    if symbols:
        held = sorted({e.symbol for e in replay_events(path, max_line_bytes=max_line_bytes)
                       if e.venue == venue and not isinstance(e, FeedStatus) and e.symbol})
        if held:
            raise RecordingError(path, None, f"no {venue} events of {', '.join(symbols)} in this recording: "
                                             f"it holds {venue} events of {', '.join(held)}")


async def run_record(venue: str, symbols: list[str], *, out_path: str, ws_url: str | None = None,
                     rest_url: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                     duration_s: float | None = None, status_out: TextIO | None = sys.stderr,
                     client_options: dict | None = None, status_every_s: float = STATUS_EVERY_S) -> int:
    """Write every websocket frame and REST body of ``venue`` to ``out_path`` until cancelled or
    ``duration_s`` passes. Status changes are printed to ``status_out`` (stderr; ``StatusLines``:
    throttled). Returns 0."""
    recorder = Recorder(out_path, max_bytes=max_bytes)
    statuses = StatusLines(status_out, status_every_s) if status_out is not None else None

    async def consume() -> None:
        async with contextlib.aclosing(_live_events(venue, symbols, ws_url=ws_url, rest_url=rest_url,
                                                    on_frame=recorder.write,
                                                    client_options=client_options)) as events:
            async for event in events:
                if isinstance(event, FeedStatus) and statuses is not None:
                    statuses.write(event)

    try:
        if duration_s is None:
            await consume()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(consume(), duration_s)
    finally:
        recorder.close()
    return 0
