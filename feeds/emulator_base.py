"""What the loopback emulator's core (feeds/emulator.py) and each venue's personality
(feeds/venues/<venue>/emulator.py) share: a socket's record, test accounts, and ``Personality``, the
one class a venue fills in to be served. A low module: it imports nothing of feeds/.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

COMPACT = dict(separators=(",", ":"))  # json.dumps keywords: the venues send compact JSON
START_PRICES = {"BTC": 65000.0, "ETH": 3200.0, "SOL": 150.0, "XRP": 0.6, "DOGE": 0.15}
FUNDING_PERIOD_MS = 28_800_000  # every emulated venue funds every 8 h
# (status, body text, extra headers): one HTTP answer
Answer = tuple[int, str, dict[str, str]]


def dumps(doc: Any) -> str:
    return json.dumps(doc, **COMPACT)


def next_funding_ms(now_ms: int) -> int:
    return (now_ms // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS


def coin_of_symbol(symbol: str) -> str:
    """``BTCUSDT`` → ``BTC``: the quote suffix dropped (the default; OKX and Hyperliquid differ)."""
    s = symbol.upper()
    for quote in ("USDT", "USDC", "USD", "PERP"):
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)]
    return s


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


@dataclass(frozen=True)
class EmuPosition:
    symbol: str
    side: str  # long | short
    size: float  # adlwatch units: coin, inverse contracts (the emulator converts to OKX contracts with ct_values)
    entry_price: float
    mark_price: float
    leverage: float
    margin_mode: str = "cross"  # cross | isolated
    isolated_margin: float | None = None  # isolated: margin without uPnL
    liquidation_price: float | None = None  # None: the venue sends its "no price" (0 or "")
    adl: int = 0  # the venue's own indicator: Binance 0-4, Bybit 0-5 (0 = none), OKX 0-5
    maint_margin: float = 0.0
    brackets: tuple[tuple[float, float, float, float, float], ...] = ()  # Binance: floor, cap, mmr, lev, cum
    settle: str = "USDT"
    hedge: bool = False  # hedge mode: Binance LONG/SHORT, Bybit positionIdx 1/2, OKX posSide long/short
    # The venue's own panel figures (issue 15), where a venue's position read carries them: its
    # break-even price (None: the venue's "" or 0), the funding the position has brought since it
    # opened (+ received, − paid, settlement asset), its take-profit and stop-loss triggers.
    break_even_price: float | None = None
    funding_pnl: float = 0.0
    take_profit: float | None = None
    stop_loss: float | None = None
    # An inverse contract's face value (USD per contract: Binance COIN-M BTCUSD_PERP 100); its ``size``
    # is then in contracts and its PnL in the coin. None: a linear contract.
    face_value: float | None = None

    @property
    def sign(self) -> int:
        return 1 if self.side == "long" else -1

    @property
    def unrealized_pnl(self) -> float:
        return self.pnl_at(self.mark_price)

    def pnl_at(self, price: float, size: float | None = None) -> float:
        """The PnL of ``size`` (all when None) closed at ``price``, in the settlement asset: linear
        ``sign × size × (price − entry)``; inverse ``sign × contracts × face × (1/entry − 1/price)``."""
        size = self.size if size is None else size
        if self.face_value is not None:
            return self.sign * size * self.face_value * (1.0 / self.entry_price - 1.0 / price)
        return self.sign * size * (price - self.entry_price)

    @property
    def isolated(self) -> bool:
        return self.margin_mode == "isolated"


@dataclass(frozen=True)
class EmuRecord:
    """One fill that closed (part of) a position, as the venue's own record keeps it: the venue's
    liquidation, its auto-deleveraging, or the user's own trade."""

    symbol: str
    side: str  # long | short: the side of the position it closed
    cause: str  # liquidation | adl | user
    price: float
    size: float  # adlwatch units (coin; OKX contracts are converted by the personality)
    ts_ms: int
    id: int = 0
    hedge: bool = False


@dataclass
class EmuAccount:
    venue: str
    key: str
    secret: str
    passphrase: str | None = None
    wallet_balance: float = 10_000.0  # cross collateral without uPnL, settlement asset
    positions: list[EmuPosition] = field(default_factory=list)
    can_trade: bool = False
    can_withdraw: bool = False
    settle: str = "USDT"
    ct_values: dict[str, float] = field(default_factory=lambda: {
        "BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1.0, "BTC-USD-SWAP": 100.0})

    records: list[EmuRecord] = field(default_factory=list)  # closing fills, oldest first
    # The key's other margin accounts: cross collateral by asset beside ``settle``'s ``wallet_balance``
    # (Binance COIN-M's BTC wallet, Bybit's BTC for inverse contracts, a USDC wallet).
    wallets: dict[str, float] = field(default_factory=dict)

    def held(self) -> list[EmuPosition]:
        return [p for p in self.positions if p.settle == self.settle]

    def in_asset(self, asset: str) -> EmuAccount | None:
        """The key's margin account in ``asset``: this one, or a view whose ``settle`` and
        ``wallet_balance`` are the asset's (the same positions and records); None: the key holds none."""
        if asset == self.settle:
            return self
        if asset not in self.wallets:
            return None
        return replace(self, settle=asset, wallet_balance=self.wallets[asset])

    def close(self, symbol: str, cause: str, price: float, *, size: float | None = None,
              side: str | None = None, now_ms: int | None = None) -> EmuRecord:
        """Close ``size`` (all when None) of the position in ``symbol`` (of ``side`` in hedge mode) at
        ``price``, the way ``cause`` (liquidation | adl | user) would: the position shrinks or goes,
        and the venue's record of the fill is kept for the private endpoints to serve."""
        if cause not in ("liquidation", "adl", "user"):
            raise ValueError(f"unknown cause {cause!r}: liquidation, adl or user")
        i = next((i for i, p in enumerate(self.positions) if p.symbol == symbol and (side is None or p.side == side)),
                 None)
        if i is None:
            raise KeyError(f"{self.venue} account {self.key!r} holds no {side or ''} {symbol} position")
        p = self.positions[i]
        closed = p.size if size is None else min(size, p.size)
        left = p.size - closed
        if left > 1e-12:
            self.positions[i] = replace(p, size=left)
        else:
            del self.positions[i]
        if cause != "liquidation":  # the venue pays out the closed part's PnL (liquidation: margin is lost)
            change = p.pnl_at(price, closed)
        else:
            change = -(p.isolated_margin or 0.0) if p.isolated else 0.0
        if p.settle != self.settle and p.settle in self.wallets:  # a position of the key's other wallet
            self.wallets[p.settle] += change
        else:
            self.wallet_balance += change
        record = EmuRecord(symbol=symbol, side=p.side, cause=cause, price=price, size=closed,
                           ts_ms=now_ms if now_ms is not None else int(time.time() * 1000),
                           id=len(self.records) + 1, hedge=p.hedge)
        self.records.append(record)
        return record

    def cross_unrealized(self) -> float:
        return sum(p.unrealized_pnl for p in self.held() if not p.isolated)

    def isolated_unrealized(self) -> float:
        return sum(p.unrealized_pnl for p in self.held() if p.isolated)

    def isolated_margins(self) -> float:
        return sum(p.isolated_margin or 0.0 for p in self.held() if p.isolated)

    def cross_maintenance(self) -> float:
        return sum(p.maint_margin for p in self.held() if not p.isolated)


def int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def iso_ms(text: str) -> int | None:
    if not text.endswith("Z"):
        return None
    try:
        return int(datetime.fromisoformat(text[:-1] + "+00:00").timestamp() * 1000)
    except ValueError:
        return None


def decimal_text(x: float) -> str:
    """A venue-style decimal string: at most 8 decimals, no trailing zeros."""
    text = f"{x:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def leverage_value(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


@dataclass
class _HttpFault:
    venue: str | None
    status: int
    remaining: int
    retry_after: float | None


class HttpFaults:
    """Injected HTTP failures: the next ``count`` answers (of one venue, or of any) get ``status``."""

    def __init__(self) -> None:
        self._queue: deque[_HttpFault] = deque()

    def add(self, status: int, *, count: int = 1, retry_after: float | None = None, venue: str | None = None) -> None:
        self._queue.append(_HttpFault(venue, status, count, retry_after))

    def take(self, venue: str) -> Answer | None:
        """The fault answer for this request of ``venue``, or None to answer it for real."""
        for fault in list(self._queue):
            if fault.venue in (None, venue):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._queue.remove(fault)
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return fault.status, json.dumps({"error": "emulated fault", "status": fault.status}), extra
        return None


class Personality:
    """One venue on the emulator: its socket path, how it answers client messages, its data frames,
    its public REST bodies and, for keyed venues, its private endpoints. The defaults serve a venue
    that needs nothing more; a venue's ``emulator.py`` subclasses this and sets ``PERSONALITY``."""

    ws_path: str = ""  # the public socket's path below the venue's base (the adapter keeps or adds it)
    private_paths: frozenset[str] = frozenset()  # signed GET endpoints served for ``EmuAccount``s

    def coin_of(self, symbol: str) -> str:
        """The coin a symbol's start price is looked up by (``START_PRICES``)."""
        return coin_of_symbol(symbol)

    def symbols_in_url(self, path: str, query: str) -> list[str]:
        """Symbols subscribed by the connection URL itself (Binance puts its streams there)."""
        return []

    async def on_text(self, emulator: Any, conn: EmuConnection, text: str) -> bool:
        """A client message that is not JSON; True when answered (OKX's ``ping``)."""
        return False

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        """A client's JSON object: subscribe (``emulator.add_symbols(conn, …)``), ping, unsubscribe."""

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        """One tick of data for one subscribed symbol, as the venue's frames."""
        return []

    def liquidation_frames(self, conn: EmuConnection, symbol: str, side: str, price: float, size: float,
                           now_ms: int) -> list[dict[str, Any]]:
        """One liquidation of a ``side`` (long | short) position of ``size`` coin at ``price``, as the
        venue's public liquidation stream pushes it to ``conn``; empty when ``conn`` has not
        subscribed that stream for ``symbol`` (or the venue has none)."""
        return []

    def notice(self, conn: EmuConnection) -> str | None:
        """The venue's "reconnect soon" frame (OKX 64008); None when it has none."""
        return None

    def rest(self, emulator: Any, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        """The JSON document of a public REST answer; None for an unknown endpoint (404); or a whole
        ``Answer`` tuple (status, body text, headers) when the venue refuses (its own 429 body)."""
        return None

    def check_signature(self, accounts: dict[tuple[str, str], EmuAccount], path: str, query: str,
                        headers: dict[str, str], now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        """The account a signed request is for, or the venue's refusal."""
        return None, (401, dumps({"error": "no signed endpoints"}), {})

    def private_body(self, account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
        """The JSON document of a private endpoint for ``account``."""
        return None

    def demo_accounts(self, emulator: Any) -> list[str]:
        """Install this venue's demo account (``--demo-accounts``): lines saying how to use it, and its
        portfolio entry as a line starting ``[[account]]``."""
        return []


def coin_names(real: Sequence[str], count: int, synthetic: Callable[[int], str]) -> list[str]:
    """A venue's emulated coins: the real ones first, then ``synthetic(0)``, ``synthetic(1)``, … (names
    already taken are skipped) until there are ``count``: hundreds of contracts, deterministically."""
    coins = list(real)
    taken = set(coins)
    i = 0
    while len(coins) < count:
        coin = synthetic(i)
        i += 1
        if coin not in taken:
            coins.append(coin)
            taken.add(coin)
    return coins
