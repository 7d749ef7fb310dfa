"""Loopback exchange emulator: each venue's public websocket and REST endpoints on 127.0.0.1.

Frames are built here in each venue's real wire format (research/exchanges.md §1.6, 2.5, 3.5, 4.4),
from a seeded random walk or from a raw-frame recording, so the live client, the recorder and
``tail`` can be tested end to end without the internet. Faults are injected on demand, by method or
through the control endpoint ``POST <rest>/_emulator/fault {"fault": name, ...}``:

    drop            cut every socket without a close frame
    half_open       keep sockets open but send nothing and read nothing (no pong, no close reply)
    garbage         send a non-JSON frame;  truncated: send a data frame cut in half
    extra_fields    add unknown fields to every data frame from now on (on/off)
    close           close with a given code (Hyperliquid closes with 1000)
    notice          OKX ``notice`` 64008 (service upgrade: reconnect)
    burst           send many data frames back to back
    rest            answer the next N REST requests with a status (429 with Retry-After, 5xx)
    mute / unmute   withhold one symbol's data while the socket stays busy
    pause / resume  stop or restart the data pushes

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
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

VENUES = ("binance", "bybit", "okx", "hyperliquid")
# Path of each venue's public socket below its base (the adapters add or keep these).
WS_PATHS = {"binance": "", "bybit": "/v5/public/linear", "okx": "/ws/v5/public", "hyperliquid": "/ws"}

_START_PRICES = {"BTC": 65000.0, "ETH": 3200.0, "SOL": 150.0, "XRP": 0.6, "DOGE": 0.15}
_JSON = dict(separators=(",", ":"))


def coin_of(venue: str, symbol: str) -> str:
    s = symbol.upper()
    if venue == "okx":
        return s.split("-")[0]
    if venue == "hyperliquid":
        return s
    for quote in ("USDT", "USDC", "USD", "PERP"):
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)]
    return s


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
            self._prices[key] = _START_PRICES.get(coin_of(venue, symbol), 100.0)
        return self._prices[key]

    def step(self, venue: str, symbol: str) -> float:
        price = self.current(venue, symbol)
        price *= math.exp(self.volatility * self._rngs[(venue, symbol)].gauss(0.0, 1.0))
        self._prices[(venue, symbol)] = price
        return price


@dataclass(eq=False)
class EmuConnection:
    id: int
    venue: str
    path: str
    ws: ServerConnection
    symbols: list[str] = field(default_factory=list)
    frames_sent: int = 0
    data_frames_sent: int = 0
    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    keep_frames: bool = True  # keep each sent frame's text (tests compare them); counts are always kept
    open: bool = True
    half_open: bool = False
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    ticks: int = 0
    snapshot_sent: set[str] = field(default_factory=set)

    async def send(self, text: str, *, data: bool = False) -> bool:
        if not self.open or self.half_open:
            return False
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            return False
        self.frames_sent += 1
        if self.keep_frames:
            self.sent.append(text)
        if data:
            self.data_frames_sent += 1
        return True


@dataclass
class _RestFault:
    venue: str | None
    status: int
    retry_after: float | None
    remaining: int


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
        self._paused = False
        self._rest_faults: deque[_RestFault] = deque()
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
                                      ping_interval=None, max_queue=None)
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
        return f"ws://{self.host}:{self.ws_port}/{venue}{WS_PATHS.get(venue, '')}"

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

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

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

    async def okx_notice(self) -> int:
        sent = 0
        for conn in self.live("okx"):
            notice = {"event": "notice", "code": "64008",
                      "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
                      "connId": f"emu{conn.id}"}
            sent += await conn.send(json.dumps(notice, **_JSON))
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

    def rest_fault(self, status: int = 429, *, count: int = 1, retry_after: float | None = None,
                   venue: str | None = None) -> None:
        self._rest_faults.append(_RestFault(venue, status, retry_after, count))

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
            n = await self.okx_notice()
        elif name == "burst":
            n = await self.burst(venue, int(spec.get("count", 1000)))
        elif name == "rest":
            self.rest_fault(int(spec.get("status", 429)), count=int(spec.get("count", 1)),
                            retry_after=spec.get("retry_after"), venue=venue)
            n = 0
        elif name in ("mute", "unmute"):
            (self.mute if name == "mute" else self.unmute)(str(venue), str(spec.get("symbol", "")))
            n = 0
        elif name == "pause":
            self.pause()
            n = 0
        elif name == "resume":
            self.resume()
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
        if venue not in VENUES:
            await ws.close(4004, f"unknown venue {venue!r}")
            conn.open = False
            return
        if venue == "binance":
            streams = parse_qs(target.query).get("streams", [""])[0]
            if not streams and len(parts) > 1 and "/ws/" in "/" + parts[1]:
                streams = parts[1].rsplit("/", 1)[-1]
            self._add_symbols(conn, [s.split("@")[0].upper() for s in streams.split("/") if s and not s.startswith("!")])
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

    def _add_symbols(self, conn: EmuConnection, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            if symbol and symbol not in conn.symbols:
                conn.symbols.append(symbol)
        if conn.symbols:
            conn.subscribed.set()

    async def _on_client_message(self, conn: EmuConnection, text: str) -> None:
        venue = conn.venue
        if venue == "okx" and text == "ping":
            await conn.send("pong")
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
        if venue == "binance" and doc.get("method") in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if doc["method"] == "SUBSCRIBE":
                self._add_symbols(conn, [p.split("@")[0].upper() for p in doc.get("params", [])])
            await conn.send(json.dumps({"result": None, "id": doc.get("id")}, **_JSON))
        elif venue == "bybit":
            if doc.get("op") == "ping":
                await conn.send(json.dumps({"success": True, "ret_msg": "pong", "conn_id": f"emu{conn.id}",
                                            "req_id": doc.get("req_id", ""), "op": "ping"}, **_JSON))
            elif doc.get("op") == "subscribe":
                args = doc.get("args") or []
                await conn.send(json.dumps({"success": True, "ret_msg": "", "conn_id": f"emu{conn.id}",
                                            "req_id": doc.get("req_id", ""), "op": "subscribe"}, **_JSON))
                self._add_symbols(conn, [a.split(".", 1)[1] for a in args if a.startswith("tickers.")])
        elif venue == "okx" and doc.get("op") == "subscribe":
            symbols = []
            for arg in doc.get("args") or []:
                await conn.send(json.dumps({"event": "subscribe", "arg": arg, "connId": f"emu{conn.id}"},
                                           **_JSON))
                if arg.get("channel") == "mark-price":
                    symbols.append(arg.get("instId", ""))
            self._add_symbols(conn, symbols)
        elif venue == "hyperliquid":
            if doc.get("method") == "ping":
                await conn.send(json.dumps({"channel": "pong"}, **_JSON))
            elif doc.get("method") == "subscribe":
                sub = doc.get("subscription") or {}
                await conn.send(json.dumps({"channel": "subscriptionResponse",
                                            "data": {"method": "subscribe", "subscription": sub}}, **_JSON))
                if sub.get("type") == "activeAssetCtx":
                    self._add_symbols(conn, [sub.get("coin", "")])
        await self._notify()

    async def _push_loop(self, conn: EmuConnection) -> None:
        recorded = self._recorded.get(conn.venue)
        position = 0
        while conn.open:
            await asyncio.sleep(self.interval_s)
            if self._paused or conn.half_open or not conn.subscribed.is_set():
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
        build = {"binance": self._binance, "bybit": self._bybit, "okx": self._okx,
                 "hyperliquid": self._hyperliquid}[conn.venue]
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
                frames.append(json.dumps(doc, **_JSON))
        return frames

    @staticmethod
    def _binance(conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict]:
        next_funding = (now_ms // 28_800_000 + 1) * 28_800_000
        data = {"e": "markPriceUpdate", "E": now_ms, "s": symbol, "p": f"{price:.8f}",
                "i": f"{price * 0.9998:.8f}", "P": f"{price * 1.0001:.8f}", "r": "0.00010000",
                "T": next_funding}
        return [{"stream": f"{symbol.lower()}@markPrice@1s", "data": data}]

    @staticmethod
    def _bybit(conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict]:
        mark = f"{price:.2f}"
        if symbol not in conn.snapshot_sent:
            conn.snapshot_sent.add(symbol)
            oi = 50000.0
            data = {"symbol": symbol, "tickDirection": "PlusTick", "lastPrice": mark, "markPrice": mark,
                    "indexPrice": f"{price * 0.9998:.2f}", "openInterest": f"{oi * 2:.3f}",
                    "openInterestValue": f"{oi * 2 * price:.2f}", "singleOpenInterest": f"{oi:.3f}",
                    "singleOpenInterestValue": f"{oi * price:.2f}", "fundingIntervalHour": "8",
                    "fundingCap": "0.005", "nextFundingTime": str((now_ms // 28_800_000 + 1) * 28_800_000),
                    "fundingRate": "0.0001", "bid1Price": mark, "ask1Price": mark}
            kind = "snapshot"
        else:
            data = {"symbol": symbol, "markPrice": mark, "indexPrice": f"{price * 0.9998:.2f}",
                    "lastPrice": mark}
            kind = "delta"
        return [{"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": conn.ticks, "ts": now_ms}]

    @staticmethod
    def _okx(conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict]:
        frames = [{"arg": {"channel": "mark-price", "instId": symbol},
                   "data": [{"instType": "SWAP", "instId": symbol, "markPx": f"{price:.2f}", "ts": str(now_ms)}]}]
        if conn.ticks % 5 == 1:  # open interest comes less often than marks, as on the venue
            frames.append({"arg": {"channel": "open-interest", "instId": symbol},
                           "data": [{"instType": "SWAP", "instId": symbol, "oi": "2500000",
                                     "oiCcy": "25000", "ts": str(now_ms)}]})
        return frames

    @staticmethod
    def _hyperliquid(conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict]:
        ctx = {"funding": "0.0000125", "openInterest": "20000.5", "prevDayPx": f"{price * 0.99:.1f}",
               "dayNtlVlm": "1500000000.0", "premium": "0.0001", "oraclePx": f"{price * 0.9999:.1f}",
               "markPx": f"{price:.1f}", "midPx": f"{price:.1f}",
               "impactPxs": [f"{price * 0.9999:.1f}", f"{price * 1.0001:.1f}"], "dayBaseVlm": "23000.1"}
        return [{"channel": "activeAssetCtx", "data": {"coin": symbol, "ctx": ctx}}]

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
        for fault in list(self._rest_faults):
            if fault.venue in (None, venue):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._rest_faults.remove(fault)
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                self.rest_requests.append((venue, path, fault.status))
                await self._notify()
                return fault.status, json.dumps({"error": "emulated fault", "status": fault.status}), extra
        builder = {"binance": self._rest_binance, "bybit": self._rest_bybit, "okx": self._rest_okx,
                   "hyperliquid": self._rest_hyperliquid}.get(venue)
        doc = None
        if builder is not None:
            try:
                doc = builder(method, path, query, json.loads(body) if body else None)
            except (ValueError, KeyError, TypeError):
                doc = None
        status = 200 if doc is not None else 404
        self.rest_requests.append((venue, path, status))
        await self._notify()
        if doc is None:
            return 404, json.dumps({"error": f"no emulated endpoint {method} {url.path}"}), {}
        return 200, json.dumps(doc, **_JSON), {}

    def _rest_binance(self, method: str, path: str, q: dict, body: Any) -> Any:
        now_ms = int(time.time() * 1000)
        symbol = q.get("symbol", "BTCUSDT")
        if path == "/fapi/v1/premiumIndex":
            price = self.prices.current("binance", symbol)
            return {"symbol": symbol, "markPrice": f"{price:.8f}", "indexPrice": f"{price * 0.9998:.8f}",
                    "estimatedSettlePrice": f"{price:.8f}", "lastFundingRate": "0.00010000",
                    "interestRate": "0.00010000", "nextFundingTime": (now_ms // 28_800_000 + 1) * 28_800_000,
                    "time": now_ms}
        if path == "/fapi/v1/openInterest":
            return {"openInterest": "10659.509", "symbol": symbol, "time": now_ms}
        if path == "/fapi/v1/insuranceBalance":
            return {"symbols": [symbol], "assets": [{"asset": "USDT", "marginBalance": "793930579.315848",
                                                     "updateTime": now_ms}]}
        return None

    def _rest_bybit(self, method: str, path: str, q: dict, body: Any) -> Any:
        now_ms = int(time.time() * 1000)
        if path == "/v5/market/tickers":
            symbol = q["symbol"]
            price = self.prices.current("bybit", symbol)
            item = {"symbol": symbol, "markPrice": f"{price:.2f}", "indexPrice": f"{price * 0.9998:.2f}",
                    "lastPrice": f"{price:.2f}", "fundingRate": "0.0001",
                    "nextFundingTime": str((now_ms // 28_800_000 + 1) * 28_800_000),
                    "openInterest": "100000.000", "openInterestValue": f"{100000 * price:.2f}",
                    "singleOpenInterest": "50000.000", "singleOpenInterestValue": f"{50000 * price:.2f}"}
            return {"retCode": 0, "retMsg": "OK", "result": {"category": q.get("category", "linear"),
                                                             "list": [item]}, "retExtInfo": {}, "time": now_ms}
        if path == "/v5/market/insurance":
            coin = q.get("coin", "USDT")
            return {"retCode": 0, "retMsg": "OK", "result": {"updatedTime": str(now_ms), "list": [
                {"coin": coin, "symbols": f"BTC{coin},ETH{coin}", "balance": "250000000.5",
                 "value": "250000000.5"}]}, "retExtInfo": {}, "time": now_ms}
        if path == "/v5/market/adlAlert":
            symbol = q.get("symbol", "BTCUSDT")
            return {"retCode": 0, "retMsg": "OK", "result": {"updatedTime": str(now_ms), "list": [
                {"coin": "USDT", "symbol": symbol, "balance": "250000000.5", "maxBalance": "260000000",
                 "insurancePnlRatio": "-0.3", "pnlRatio": "-0.01", "adlTriggerThreshold": "10000",
                 "adlStopRatio": "-0.25"}]}, "retExtInfo": {}, "time": now_ms}
        if path == "/v5/market/risk-limit":
            category = q.get("category", "linear")
            symbols = [q["symbol"]] if q.get("symbol") else ["BTCUSDT", "ETHUSDT"]
            rows = [row for s in symbols for row in _bybit_risk_limit(category, s)]
            return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": rows,
                                                             "nextPageCursor": ""},
                    "retExtInfo": {}, "time": now_ms}
        return None

    def _rest_okx(self, method: str, path: str, q: dict, body: Any) -> Any:
        now = str(int(time.time() * 1000))
        inst = q.get("instId", "BTC-USDT-SWAP")
        if path == "/api/v5/public/mark-price":
            price = self.prices.current("okx", inst)
            data = [{"instType": "SWAP", "instId": inst, "markPx": f"{price:.2f}", "ts": now}]
        elif path == "/api/v5/public/open-interest":
            data = [{"instType": "SWAP", "instId": inst, "oi": "2500000", "oiCcy": "25000",
                     "oiUsd": "1625000000", "ts": now}]
        elif path == "/api/v5/public/insurance-fund":
            family = q.get("instFamily", "BTC-USDT")
            data = [{"total": "1000000000.5", "instFamily": family, "instType": "SWAP", "details": [
                {"balance": "12000.5", "amt": "", "ccy": "BTC", "type": "", "ts": now}]}]
        elif path == "/api/v5/public/position-tiers":
            data = _okx_position_tiers(q["instFamily"])
        else:
            return None
        return {"code": "0", "msg": "", "data": data}

    def _rest_hyperliquid(self, method: str, path: str, q: dict, body: Any) -> Any:
        if path != "/info" or method != "POST" or not isinstance(body, dict):
            return None
        kind = body.get("type")
        if kind == "metaAndAssetCtxs":
            coins = ["BTC", "ETH", "SOL", "XRP", "DOGE"]
            universe = [{"name": c, "szDecimals": 3, "maxLeverage": 40} for c in coins]
            ctxs = []
            for coin in coins:
                price = self.prices.current("hyperliquid", coin)
                ctxs.append(self._hyperliquid(None, coin, price, 0)[0]["data"]["ctx"])  # type: ignore[arg-type]
            return [{"universe": universe}, ctxs]
        if kind == "vaultDetails":
            now_ms = int(time.time() * 1000)
            history = [[now_ms - 86_400_000, "380000000.0"], [now_ms, "381250000.5"]]
            return {"name": "Hyperliquidity Provider (HLP)", "vaultAddress": body.get("vaultAddress"),
                    "portfolio": [["day", {"accountValueHistory": history, "pnlHistory": [], "vlm": "0.0"}]]}
        if kind == "meta":
            return _hyperliquid_meta()
        if kind == "allMids":
            return {c: f"{self.prices.current('hyperliquid', c):.1f}" for c in ["BTC", "ETH", "SOL"]}
        return None


# Tier tables in each venue's documented shape (research/exchanges.md §2.2, 3.2, 4.2). The numbers
# are emulator values, deliberately not the bundled ones, so a refresh visibly overrides them.
_BYBIT_LINEAR_TIERS = [("300000", "0.0033", "0.0066", "150.00"), ("800000", "0.005", "0.01", "100.00"),
                       ("3000000", "0.0075", "0.0125", "80.00"), ("6000000", "0.01", "0.02", "50.00")]
_BYBIT_INVERSE_TIERS = [("150", "0.005", "0.01", "100.00"), ("300", "0.01", "0.015", "66.67"),
                        ("450", "0.015", "0.02", "50.00")]


def _bybit_risk_limit(category: str, symbol: str) -> list[dict[str, Any]]:
    table = _BYBIT_INVERSE_TIERS if category == "inverse" else _BYBIT_LINEAR_TIERS
    rows, deduction, prev_cap, prev_mmr = [], 0.0, 0.0, None
    for i, (cap, mmr, imr, lever) in enumerate(table, start=1):
        # mmDeduction by the documented recurrence; "" on the lowest tier, as the venue sends it
        if prev_mmr is not None:
            deduction += prev_cap * (float(mmr) - prev_mmr)
        rows.append({"id": i, "symbol": symbol, "riskLimitValue": cap, "maintenanceMargin": mmr,
                     "initialMargin": imr, "isLowestRisk": 1 if i == 1 else 0, "maxLeverage": lever,
                     "mmDeduction": "" if i == 1 else f"{deduction:.4f}"})
        prev_cap, prev_mmr = float(cap), float(mmr)
    return rows


# (minSz, maxSz) in contracts, mmr, imr, maxLever
_OKX_TIERS = [("0", "1000", "0.004", "0.01", "100"), ("1000", "2000", "0.005", "0.0133", "75"),
              ("2000", "5000", "0.0075", "0.02", "50")]


def _okx_position_tiers(family: str) -> list[dict[str, Any]]:
    return [{"uly": family, "instFamily": family, "instId": "", "tier": str(i), "minSz": lo, "maxSz": hi,
             "mmr": mmr, "imr": imr, "maxLever": lever, "optMgnFactor": "0", "quoteMaxLoan": "",
             "baseMaxLoan": ""}
            for i, (lo, hi, mmr, imr, lever) in enumerate(_OKX_TIERS, start=1)]


def _hyperliquid_meta() -> dict[str, Any]:
    # marginTableId below 50 is a single tier at that leverage and is not listed (DOGE here)
    universe = [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
                {"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "marginTableId": 55},
                {"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "marginTableId": 54},
                {"name": "XRP", "szDecimals": 0, "maxLeverage": 20, "marginTableId": 53},
                {"name": "DOGE", "szDecimals": 0, "maxLeverage": 10, "marginTableId": 10}]

    def table(description: str, *tiers: tuple[str, int]) -> dict[str, Any]:
        return {"description": description,
                "marginTiers": [{"lowerBound": lb, "maxLeverage": lev} for lb, lev in tiers]}

    return {"universe": universe, "marginTables": [
        [50, table("", ("0.0", 50))],
        [53, table("tiered 20x", ("0.0", 20), ("40000000.0", 10))],
        [54, table("tiered 20x", ("0.0", 20), ("70000000.0", 10))],
        [55, table("tiered 25x", ("0.0", 25), ("100000000.0", 15))],
        [56, table("tiered 40x", ("0.0", 40), ("150000000.0", 20))]], "collateralToken": 0}


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 418: "I'm a teapot", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


DEMO_ADDRESS = "0x" + "5e" * 20
DEMO_KEY, DEMO_SECRET = "demo-read-only-key-0001", "demo-secret-not-a-real-one"


def install_demo_accounts(emulator: Emulator) -> list[str]:
    """A Binance account behind a demo key and a Hyperliquid wallet, to try following accounts
    without an exchange; returns the lines that say how to point adlwatch at them."""
    from adlwatch.feeds.emulator_hyperliquid_user import install_hyperliquid_users
    from adlwatch.feeds.emulator_private import EmuAccount, EmuPosition, install_private

    btc = emulator.prices.current("binance", "BTCUSDT")
    install_private(emulator, [EmuAccount(
        venue="binance", key=DEMO_KEY, secret=DEMO_SECRET, wallet_balance=4_000.0,
        positions=[EmuPosition("BTCUSDT", "long", 0.5, btc * 1.02, btc, 10.0, liquidation_price=btc * 0.93, adl=2,
                               maint_margin=btc * 0.5 * 0.004,
                               brackets=((0.0, 50_000.0, 0.004, 125.0, 0.0), (50_000.0, 500_000.0, 0.005, 100.0, 50.0)))],
    )])
    size, entry = 0.4, btc * 0.99
    value = size * btc
    install_hyperliquid_users(emulator, {DEMO_ADDRESS: {
        "assetPositions": [{"type": "oneWay", "position": {
            "coin": "BTC", "szi": f"{-size}", "entryPx": f"{entry:.1f}", "positionValue": f"{value:.6f}",
            "leverage": {"type": "cross", "value": 10}, "maxLeverage": 40, "marginUsed": f"{value / 10:.6f}",
            "unrealizedPnl": f"{size * (entry - btc):.6f}", "liquidationPx": None,
            "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"}, "returnOnEquity": "0.0"}}],
        "crossMaintenanceMarginUsed": f"{value / 80:.6f}",
        "crossMarginSummary": {"accountValue": f"{3_000 + size * (entry - btc):.6f}", "totalMarginUsed": f"{value / 10:.6f}",
                               "totalNtlPos": f"{value:.6f}", "totalRawUsd": f"{3_000 + size * entry:.6f}"},
        "marginSummary": {"accountValue": f"{3_000 + size * (entry - btc):.6f}", "totalMarginUsed": f"{value / 10:.6f}",
                          "totalNtlPos": f"{value:.6f}", "totalRawUsd": f"{3_000 + size * entry:.6f}"},
        "time": int(time.time() * 1000), "withdrawable": "0.0"}})
    return [f"demo accounts: ADLWATCH_BINANCE_DEMO_API_KEY={DEMO_KEY} ADLWATCH_BINANCE_DEMO_API_SECRET={DEMO_SECRET}",
            f"  portfolio: [[account]] venue = \"binance\" key_name = \"demo\" · "
            f"[[account]] venue = \"hyperliquid\" address = \"{DEMO_ADDRESS}\""]


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
    emulator = Emulator(seed=args.seed, interval_s=args.interval, recording=args.recording, keep_frames=False)
    await emulator.start(args.port, args.rest_port)
    for venue in VENUES:
        print(f"{venue} ws={emulator.ws_url(venue)} rest={emulator.rest_url(venue)}", flush=True)
    if args.demo_accounts:
        for line in install_demo_accounts(emulator):
            print(line, flush=True)
    print(f"control {emulator.control_url}/fault (POST JSON) · {emulator.control_url}/stats", flush=True)
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
