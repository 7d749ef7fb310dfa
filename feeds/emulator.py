"""Loopback exchange emulator: each venue's public websocket and REST endpoints on 127.0.0.1.

This is the core: sockets, routes, prices, faults. Each venue's personality
(feeds/venues/<venue>/emulator.py, found through the registry) builds its frames and REST bodies in
the venue's real wire format (research/exchanges.md §1.6, 2.5, 3.5, 4.4), from a seeded random walk
(or the core replays a raw-frame recording), so the live client, the recorder and
``tail`` can be tested end to end without the internet. Faults are injected on demand, by method or
through the control endpoint ``POST <rest>/_emulator/fault {"fault": name, ...}``:

    drop            cut every socket without a close frame
    half_open       keep sockets open but send nothing and read nothing (no pong, no close reply)
    garbage         send a non-JSON frame;  truncated: send a data frame cut in half
    extra_fields    add unknown fields to every data frame from now on (on/off)
    close           close with a given code (Hyperliquid closes with 1000)
    notice          the venue's reconnect notice (OKX ``notice`` 64008, service upgrade)
    burst           send many data frames back to back
    rest            answer the next N REST requests with a status (429 with Retry-After, 5xx)
    mute / unmute   withhold one symbol's data while the socket stays busy
    pause / resume  stop or restart the data pushes (of one venue, or of all); ``silent``: the venue
                    also stops reading, so pings go unanswered (a stalled venue, a dead path)
    outage / restore  the venue is down: sockets cut, new ones refused (HTTP 503), REST answers 503

Every socket is an ``EmuConnection`` that counts (and keeps) the frames it sent.

Run it alone with ``python -m adlwatch.feeds.emulator --port 0`` (prints one line of URLs per venue).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from adlwatch.feeds import registry
from adlwatch.feeds.emulator_base import (
    COMPACT,
    START_PRICES,
    EmuConnection,
    HttpFaults,
    Personality,
    coin_of_symbol,
)

__all__ = ["VENUES", "EmuConnection", "Emulator", "PricePath", "START_PRICES", "coin_of", "personality"]


class _Venues(Sequence[str]):
    """The emulated venues' names: every registered venue with a personality (a live view)."""

    def _names(self) -> list[str]:
        return [name for name, venue in registry.venues().items() if venue.emulator is not None]

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())


VENUES: Sequence[str] = _Venues()


def personality(venue: str) -> Personality | None:
    """The venue's emulator personality (feeds/venues/<venue>/emulator.py); None if not emulated."""
    known = registry.find(venue)
    return known.emulator() if known is not None and known.emulator is not None else None


def coin_of(venue: str, symbol: str) -> str:
    own = personality(venue)
    return own.coin_of(symbol) if own is not None else coin_of_symbol(symbol)


class PricePath:
    """A seeded geometric random walk per (venue, symbol), shared by every connection."""

    def __init__(self, seed: int = 0, volatility: float = 0.0005):
        self.seed = seed
        self.volatility = volatility
        self._rngs: dict[tuple[str, str], random.Random] = {}
        self._prices: dict[tuple[str, str], float] = {}

    def current(self, venue: str, symbol: str) -> float:
        key = (venue, symbol)
        if key not in self._prices:
            self._rngs[key] = random.Random(f"{self.seed}:{venue}:{symbol}")
            self._prices[key] = START_PRICES.get(coin_of(venue, symbol), 100.0)
        return self._prices[key]

    def step(self, venue: str, symbol: str) -> float:
        price = self.current(venue, symbol)
        price *= math.exp(self.volatility * self._rngs[(venue, symbol)].gauss(0.0, 1.0))
        self._prices[(venue, symbol)] = price
        return price


class Emulator:
    """``await start()``, point clients at ``ws_url(venue)`` / ``rest_url(venue)``, ``await stop()``."""

    def __init__(self, *, seed: int = 0, interval_s: float = 0.05, recording: str | None = None,
                 host: str = "127.0.0.1", keep_frames: bool = True):
        self.host = host
        self.keep_frames = keep_frames
        self.interval_s = interval_s
        self.prices = PricePath(seed)
        self.connections: list[EmuConnection] = []
        self.extra_fields = False
        self.muted: set[tuple[str, str]] = set()  # (venue, symbol) whose data is withheld
        self.rest_requests: list[tuple[str, str, int]] = []  # (venue, path, status)
        self.ws_port = 0
        self.rest_port = 0
        self._paused: set[str] = set()  # venues whose pushes stop ("*": all)
        self._silent: set[str] = set()  # of those, the ones that also stop reading (no pong)
        self._down: set[str] = set()  # venues in an outage ("*": all)
        self._rest_faults = HttpFaults()
        self._changed = asyncio.Condition()
        self._ws_server = None
        self._http_server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._recorded: dict[str, list[str]] = {}
        # Extensions (the private/user endpoints live in their own modules and register here):
        # rest_hooks: async (method, target, headers, body) -> (status, text, extra headers) or None;
        # ws_hooks: async (conn, doc) -> True when the message was theirs.
        self.rest_hooks: list[Any] = []
        self.ws_hooks: list[Any] = []
        if recording is not None:
            from adlwatch.feeds.recorder import read_recording

            for _recv_ns, venue, frame, rest in read_recording(recording):
                if rest is None:
                    self._recorded.setdefault(venue, []).append(frame)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, ws_port: int = 0, rest_port: int = 0) -> Emulator:
        self._ws_server = await serve(self._ws_handler, self.host, ws_port, compression=None,
                                      ping_interval=None, max_queue=None, process_request=self._refuse)
        self.ws_port = self._ws_server.sockets[0].getsockname()[1]
        self._http_server = await asyncio.start_server(self._http_handler, self.host, rest_port)
        self.rest_port = self._http_server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for conn in self.connections:
            if conn.open and conn.ws.transport is not None:
                conn.ws.transport.abort()
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws_server.wait_closed(), 2.0)
        if self._http_server is not None:
            self._http_server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def ws_url(self, venue: str) -> str:
        own = personality(venue)
        return f"ws://{self.host}:{self.ws_port}/{venue}{own.ws_path if own is not None else ''}"

    def rest_url(self, venue: str) -> str:
        return f"http://{self.host}:{self.rest_port}/{venue}"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}/_emulator"

    # ------------------------------------------------------------------ inspection

    def live(self, venue: str | None = None) -> list[EmuConnection]:
        return [c for c in self.connections if c.open and (venue is None or c.venue == venue)]

    def of(self, venue: str | None = None) -> list[EmuConnection]:
        return [c for c in self.connections if venue is None or c.venue == venue]

    def data_frames_sent(self, venue: str | None = None) -> int:
        return sum(c.data_frames_sent for c in self.of(venue))

    async def wait_until(self, predicate, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, woken by every emulator change (no polling sleeps)."""

        async def waiter() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(waiter(), timeout)

    async def wait_connected(self, venue: str, count: int = 1, timeout: float = 5.0) -> EmuConnection:
        """Wait for the ``count``-th subscribed connection of ``venue``; returns it."""
        await self.wait_until(lambda: len([c for c in self.of(venue) if c.subscribed.is_set()]) >= count,
                              timeout)
        return [c for c in self.of(venue) if c.subscribed.is_set()][count - 1]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ faults

    def pause(self, venue: str | None = None, *, silent: bool = False) -> None:
        """Stop the data pushes of ``venue`` (None: every venue). ``silent``: stop reading as well, so
        the venue answers no ping and no message until ``resume`` (the sockets stay open)."""
        key = venue or "*"
        self._paused.add(key)
        if silent:
            self._silent.add(key)
            for conn in self.live(venue):
                if conn.ws.transport is not None:
                    conn.ws.transport.pause_reading()

    def resume(self, venue: str | None = None) -> None:
        """Restart the pushes (and reading) of ``venue``; None: of every venue."""
        if venue is None:
            self._paused.clear()
            self._silent.clear()
        else:
            self._paused.discard(venue)
            self._silent.discard(venue)
        for conn in self.live(venue):
            if not conn.half_open and not self._is_silent(conn.venue) and conn.ws.transport is not None:
                conn.ws.transport.resume_reading()

    def _is_paused(self, venue: str) -> bool:
        return "*" in self._paused or venue in self._paused

    def _is_silent(self, venue: str) -> bool:
        return "*" in self._silent or venue in self._silent

    def outage(self, venue: str | None = None) -> int:
        """``venue`` (None: every venue) goes down: its sockets are cut, new ones are refused with
        HTTP 503 at the handshake, and its REST endpoints answer 503, until ``restore``."""
        self._down.add(venue or "*")
        return self.drop(venue)

    def restore(self, venue: str | None = None) -> None:
        """End an outage of ``venue`` (None: of every venue)."""
        if venue is None:
            self._down.clear()
        else:
            self._down.discard(venue)

    def is_down(self, venue: str) -> bool:
        return "*" in self._down or venue in self._down

    def _refuse(self, connection, request):
        """The handshake's hook: a venue in an outage answers 503 instead of opening the socket."""
        venue = urlsplit(request.path).path.strip("/").split("/", 1)[0]
        if self.is_down(venue):
            return connection.respond(503, "emulated outage\n")
        return None

    def mute(self, venue: str, symbol: str) -> None:
        """Stop pushing one symbol (the socket stays busy with the others): per-symbol staleness."""
        self.muted.add((venue, symbol))

    def unmute(self, venue: str, symbol: str) -> None:
        self.muted.discard((venue, symbol))

    def set_extra_fields(self, on: bool = True) -> None:
        self.extra_fields = on

    def drop(self, venue: str | None = None) -> int:
        """Cut the sockets without a close frame; what was already written still arrives."""
        conns = self.live(venue)
        for conn in conns:
            conn.open = False
            if conn.ws.transport is not None:
                conn.ws.transport.close()
        return len(conns)

    def half_open(self, venue: str | None = None) -> int:
        """Go silent: send nothing and stop reading, so pings and close frames go unanswered."""
        conns = self.live(venue)
        for conn in conns:
            conn.half_open = True
            if conn.ws.transport is not None:
                conn.ws.transport.pause_reading()
        return len(conns)

    async def close(self, venue: str | None = None, code: int = 1000, reason: str = "") -> int:
        conns = self.live(venue)
        for conn in conns:
            conn.open = False
            with contextlib.suppress(Exception):
                await conn.ws.close(code, reason)
        return len(conns)

    async def send_garbage(self, venue: str | None = None, text: str = "\x00garbage{{not json") -> int:
        return sum([await conn.send(text) for conn in self.live(venue)])

    async def send_truncated(self, venue: str | None = None) -> int:
        sent = 0
        for conn in self.live(venue):
            frames = self._data_frames(conn)
            if frames:
                sent += await conn.send(frames[0][: len(frames[0]) // 2])
        return sent

    async def notice(self, venue: str | None = None) -> int:
        """Each connection's venue says it will cut the socket soon (OKX ``notice`` 64008), where it can."""
        sent = 0
        for conn in self.live(venue):
            own = personality(conn.venue)
            text = own.notice(conn) if own is not None else None
            if text is not None:
                sent += await conn.send(text)
        return sent

    async def burst(self, venue: str | None = None, count: int = 1000) -> int:
        """Data frames back to back, far faster than a slow consumer takes them."""
        sent = 0
        for conn in self.live(venue):
            for _ in range(count):
                for frame in self._data_frames(conn):
                    sent += await conn.send(frame, data=True)
        await self._notify()
        return sent

    async def liquidations(self, venue: str, symbol: str, side: str, *, count: int = 1, size: float = 1.0,
                           price: float | None = None) -> int:
        """``count`` liquidations of ``side`` (long | short) positions of ``size`` coin each in
        ``symbol``, at ``price`` (default: the symbol's current emulated price), pushed on every live
        connection of ``venue`` that subscribed the venue's liquidation stream for it. Returns the
        frames sent."""
        own = personality(venue)
        if own is None:
            raise ValueError(f"unknown venue {venue!r}")
        at = self.prices.current(venue, symbol) if price is None else price
        now_ms = int(time.time() * 1000)
        sent = 0
        for conn in self.live(venue):
            for _ in range(count):
                for doc in own.liquidation_frames(conn, symbol, side, at, size, now_ms):
                    sent += await conn.send(json.dumps(doc, **COMPACT), data=True)
        await self._notify()
        return sent

    def rest_fault(self, status: int = 429, *, count: int = 1, retry_after: float | None = None,
                   venue: str | None = None) -> None:
        self._rest_faults.add(status, count=count, retry_after=retry_after, venue=venue)

    async def apply_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The control endpoint's dispatcher (also handy from tests)."""
        name = spec.get("fault")
        venue = spec.get("venue")
        if name == "drop":
            n = self.drop(venue)
        elif name == "half_open":
            n = self.half_open(venue)
        elif name == "garbage":
            n = await self.send_garbage(venue)
        elif name == "truncated":
            n = await self.send_truncated(venue)
        elif name == "extra_fields":
            self.set_extra_fields(bool(spec.get("on", True)))
            n = 0
        elif name == "close":
            n = await self.close(venue, int(spec.get("code", 1000)), str(spec.get("reason", "")))
        elif name == "notice":
            n = await self.notice(venue)
        elif name == "burst":
            n = await self.burst(venue, int(spec.get("count", 1000)))
        elif name == "liquidations":
            n = await self.liquidations(str(venue), str(spec.get("symbol", "")), str(spec.get("side", "long")),
                                        count=int(spec.get("count", 1)), size=float(spec.get("size", 1.0)),
                                        price=spec.get("price"))
        elif name == "rest":
            self.rest_fault(int(spec.get("status", 429)), count=int(spec.get("count", 1)),
                            retry_after=spec.get("retry_after"), venue=venue)
            n = 0
        elif name in ("mute", "unmute"):
            (self.mute if name == "mute" else self.unmute)(str(venue), str(spec.get("symbol", "")))
            n = 0
        elif name == "pause":
            self.pause(venue, silent=bool(spec.get("silent", False)))
            n = 0
        elif name == "resume":
            self.resume(venue)
            n = 0
        elif name == "outage":
            n = self.outage(venue)
        elif name == "restore":
            self.restore(venue)
            n = 0
        else:
            raise ValueError(f"unknown fault {name!r}")
        return {"fault": name, "affected": n}

    def stats(self) -> dict[str, Any]:
        return {"connections": [{"id": c.id, "venue": c.venue, "open": c.open, "symbols": c.symbols,
                                 "frames_sent": c.frames_sent, "data_frames_sent": c.data_frames_sent}
                                for c in self.connections],
                "rest_requests": len(self.rest_requests)}

    # ------------------------------------------------------------------ websocket side

    async def _ws_handler(self, ws: ServerConnection) -> None:
        target = urlsplit(ws.request.path)
        parts = target.path.strip("/").split("/", 1)
        venue = parts[0]
        conn = EmuConnection(id=len(self.connections) + 1, venue=venue, path=ws.request.path, ws=ws,
                             keep_frames=self.keep_frames)
        self.connections.append(conn)
        own = personality(venue)
        if own is None:
            await ws.close(4004, f"unknown venue {venue!r}")
            conn.open = False
            return
        self.add_symbols(conn, own.symbols_in_url(parts[1] if len(parts) > 1 else "", target.query))
        if self._is_silent(venue) and ws.transport is not None:
            ws.transport.pause_reading()  # a stalled venue: the socket opened, nothing is read
        pusher = asyncio.create_task(self._push_loop(conn))
        self._tasks.add(pusher)
        await self._notify()
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                conn.received.append(text)
                await self._on_client_message(conn, text)
        except ConnectionClosed:
            pass
        finally:
            conn.open = False
            conn.closed.set()
            pusher.cancel()
            self._tasks.discard(pusher)
            await self._notify()

    def add_symbols(self, conn: EmuConnection, symbols: Iterable[str]) -> None:
        """Subscribe ``conn`` to these symbols (its personality calls this on a subscribe message)."""
        for symbol in symbols:
            if symbol and symbol not in conn.symbols:
                conn.symbols.append(symbol)
        if conn.symbols:
            conn.subscribed.set()

    async def _on_client_message(self, conn: EmuConnection, text: str) -> None:
        own = personality(conn.venue)
        if await own.on_text(self, conn, text):
            return
        try:
            doc = json.loads(text)
        except ValueError:
            return  # real venues mostly ignore or drop; ignoring keeps tests about the client
        if not isinstance(doc, dict):
            return
        for hook in self.ws_hooks:
            if await hook(conn, doc):
                await self._notify()
                return
        await own.on_message(self, conn, doc)
        await self._notify()

    async def _push_loop(self, conn: EmuConnection) -> None:
        recorded = self._recorded.get(conn.venue)
        position = 0
        while conn.open:
            await asyncio.sleep(self.interval_s)
            if self._is_paused(conn.venue) or conn.half_open or not conn.subscribed.is_set():
                continue
            if recorded is not None:
                if position >= len(recorded):
                    continue
                frames = [recorded[position]]
                position += 1
            else:
                frames = self._data_frames(conn)
            for frame in frames:
                await conn.send(frame, data=True)
            await self._notify()

    # ------------------------------------------------------------------ frame builders

    def _data_frames(self, conn: EmuConnection) -> list[str]:
        """One tick of data for every subscribed symbol, in the venue's wire format."""
        conn.ticks += 1
        now_ms = int(time.time() * 1000)
        build = personality(conn.venue).frames
        frames: list[str] = []
        for symbol in conn.symbols:
            if (conn.venue, symbol) in self.muted:
                continue
            price = self.prices.step(conn.venue, symbol)
            for doc in build(conn, symbol, price, now_ms):
                if self.extra_fields:
                    doc["emulatorUnknownField"] = {"nested": [1, "x"]}
                    inner = doc.get("data")
                    if isinstance(inner, dict):
                        inner["zzUnknown"] = "1"
                    elif isinstance(inner, list) and inner and isinstance(inner[0], dict):
                        inner[0]["zzUnknown"] = "1"
                frames.append(json.dumps(doc, **COMPACT))
        return frames

    # ------------------------------------------------------------------ REST side

    async def _http_handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                try:
                    method, target, _version = request_line.decode("latin-1").split()
                except ValueError:
                    return
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = b""
                if int(headers.get("content-length", "0") or 0):
                    body = await reader.readexactly(int(headers["content-length"]))
                status, payload, extra = await self._route(method, target, body, headers)
                data = payload.encode()
                head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                        "Content-Type: application/json", f"Content-Length: {len(data)}"]
                head += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _route(self, method: str, target: str, body: bytes,
                     headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        for hook in self.rest_hooks:
            answer = await hook(method, target, headers or {}, body)
            if answer is not None:
                self.rest_requests.append((target.strip("/").split("/", 1)[0], urlsplit(target).path, answer[0]))
                await self._notify()
                return answer
        url = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        venue, _, path = url.path.strip("/").partition("/")
        path = "/" + path
        if venue == "_emulator":
            if path == "/stats":
                return 200, json.dumps(self.stats()), {}
            if path == "/fault" and method == "POST":
                try:
                    result = await self.apply_fault(json.loads(body or b"{}"))
                except (ValueError, TypeError) as exc:
                    return 400, json.dumps({"error": str(exc)}), {}
                return 200, json.dumps(result), {}
            return 404, json.dumps({"error": "unknown control path"}), {}
        if self.is_down(venue):
            self.rest_requests.append((venue, path, 503))
            await self._notify()
            return 503, json.dumps({"error": "emulated outage"}), {}
        fault = self._rest_faults.take(venue)
        if fault is not None:
            self.rest_requests.append((venue, path, fault[0]))
            await self._notify()
            return fault
        own = personality(venue)
        doc = None
        if own is not None:
            try:
                doc = own.rest(self, method, path, query, json.loads(body) if body else None)
            except (ValueError, KeyError, TypeError):
                doc = None
        if isinstance(doc, tuple):  # the personality's own Answer (status, text, headers): a venue's 429
            self.rest_requests.append((venue, path, doc[0]))
            await self._notify()
            return doc
        status = 200 if doc is not None else 404
        self.rest_requests.append((venue, path, status))
        await self._notify()
        if doc is None:
            return 404, json.dumps({"error": f"no emulated endpoint {method} {url.path}"}), {}
        return 200, json.dumps(doc, **COMPACT), {}


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 418: "I'm a teapot", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def install_demo_accounts(emulator: Emulator) -> list[str]:
    """Each venue's demo account (a Binance account behind a demo key, a Hyperliquid wallet), to try
    following accounts without an exchange; returns the lines that say how to point adlwatch at them."""
    notes: list[str] = []
    entries: list[str] = []
    for venue in VENUES:
        for line in personality(venue).demo_accounts(emulator):
            (entries if line.startswith("[[account]]") else notes).append(line)
    return [*notes, "  portfolio: " + " · ".join(entries)] if entries else notes


def export_lines(emulator: Emulator) -> list[str]:
    """``export ADLWATCH_<VENUE>_WS_URL=…`` / ``…_REST_URL=…`` for every venue: shell lines that point
    adlwatch at this emulator (feeds/transport.py ``url_override``)."""
    lines = []
    for venue in VENUES:
        for kind, url in (("WS", emulator.ws_url(venue)), ("REST", emulator.rest_url(venue))):
            lines.append(f"export ADLWATCH_{venue.upper()}_{kind}_URL={shlex.quote(url)}")
    return lines


async def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adlwatch.feeds.emulator", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="websocket port (0: any free port)")
    parser.add_argument("--rest-port", type=int, default=0, help="REST and control port (0: any free port)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pushes")
    parser.add_argument("--recording", help="serve this raw-frame recording instead of a random walk")
    parser.add_argument("--demo-accounts", action="store_true",
                        help="also serve a Binance account for a demo read-only key and a Hyperliquid wallet")
    args = parser.parse_args(argv)
    from adlwatch.engine.errors import InputError

    try:
        emulator = Emulator(seed=args.seed, interval_s=args.interval, recording=args.recording, keep_frames=False)
    except InputError as exc:  # an unreadable --recording: one line, as every command says bad input
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    try:
        await emulator.start(args.port, args.rest_port)
    except OSError as exc:  # the port is taken (or not ours to bind): one line, not a traceback
        await emulator.stop()
        ports = f"{args.port} (websocket) / {args.rest_port} (REST)"
        print(f"{parser.prog}: cannot listen on 127.0.0.1 port {ports}: {exc.strerror or exc}; "
              "pick another with --port/--rest-port, or 0 for any free port", file=sys.stderr)
        return 2
    for venue in VENUES:
        print(f"{venue} ws={emulator.ws_url(venue)} rest={emulator.rest_url(venue)}", flush=True)
    if args.demo_accounts:
        for line in install_demo_accounts(emulator):
            print(line, flush=True)
    print(f"control {emulator.control_url}/fault (POST JSON) · {emulator.control_url}/stats", flush=True)
    if not (args.port and args.rest_port):
        print("ports are chosen afresh on every start (fix them with --port and --rest-port)", flush=True)
    print("# paste into the shell that runs adlwatch (every command then uses the emulator):", flush=True)
    for line in export_lines(emulator):
        print(line, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return asyncio.run(_main(argv))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
