"""The shape every follower of an account has (feeds/accounts/__init__.py says what it does), and
what the followers share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import msgspec

from adlwatch.engine.events import AccountState, Event, ForcedClose


def same_account_state(a: Event, b: Event) -> bool:
    """Two reports of an account say the same, whatever their times (a follower emits only changes)."""
    return msgspec.structs.replace(a, recv_ns=0, ts=None) == msgspec.structs.replace(b, recv_ns=0, ts=None)


class AccountFollower(Protocol):
    venue: str
    ref: str
    label: str

    async def fetch(self) -> list[Event]:
        """One REST round (for ``adlwatch check``): an ``AccountState``, or ``FeedStatus`` events
        saying in one line why not (unreachable, key rejected, key missing). Never raises."""
        ...

    async def run(self, emit: Callable[[Event], None]) -> None:
        """Follow the account until stopped: emit ``AccountState`` whenever it changes (polling, or
        the venue's user websocket where it has one, reconciled by a poll on every reconnect)."""
        ...

    def stop(self) -> None: ...


PositionKey = tuple[str, str]  # (symbol, side)


class ClosesWatch:
    """Which positions of a followed account shrank or went between two reports, so that the venue's
    own records are read for them (and only for them), and which of those records were already
    reported. Every follower of an account uses one; it does no I/O.

    ``observe(state, now_ms)`` after each report; ``pending(now_ms)`` lists (symbol, side, since_ms)
    to look up, each for ``window_ms`` after it shrank (a venue's record may lag its position);
    ``report(closes, state)`` keeps the liquidation / ADL records of pending positions since they
    shrank, each once, with ``remaining`` set from the report. A close by the user's own trade has
    no such record: it stays pending until the window ends and is never reported.
    """

    SLACK_MS = 5_000  # a record stamped a little before the last report that still showed the size

    def __init__(self, window_ms: int = 120_000) -> None:
        self.window_ms = window_ms
        self._sizes: dict[PositionKey, float] | None = None
        self._last_ms: int | None = None
        self._pending: dict[PositionKey, tuple[int, int]] = {}  # key -> (since_ms, found at ms)
        self._seen: set[tuple[str, str, int | None, float, float]] = set()

    @staticmethod
    def sizes(state: AccountState) -> dict[PositionKey, float]:
        out: dict[PositionKey, float] = {}
        for p in state.positions:
            out[(p.symbol, p.side)] = out.get((p.symbol, p.side), 0.0) + p.size
        return out

    def observe(self, state: AccountState, now_ms: int) -> None:
        sizes = self.sizes(state)
        if self._sizes is not None:
            since = self._last_ms if self._last_ms is not None else now_ms
            for key, before in self._sizes.items():
                if sizes.get(key, 0.0) < before * (1 - 1e-9) and key not in self._pending:
                    self._pending[key] = (since, now_ms)
        self._sizes = sizes
        self._last_ms = now_ms
        for key, (_since, found) in list(self._pending.items()):
            if now_ms - found > self.window_ms:
                del self._pending[key]

    def pending(self) -> list[tuple[str, str, int]]:
        return [(symbol, side, since) for (symbol, side), (since, _found) in self._pending.items()]

    def report(self, closes: Iterable[ForcedClose], state: AccountState) -> list[ForcedClose]:
        sizes = self.sizes(state)
        out: list[ForcedClose] = []
        for close in sorted(closes, key=lambda c: c.ts or 0):
            key = (close.symbol, close.side)
            pending = self._pending.get(key)
            if pending is None or (close.ts is not None and close.ts < pending[0] - self.SLACK_MS):
                continue
            ident = (close.symbol, close.side, close.ts, close.price, close.size)
            if ident in self._seen:
                continue
            self._seen.add(ident)
            out.append(msgspec.structs.replace(close, remaining=sizes.get(key, 0.0)))
        for close in out:  # found: the next shrink of the same position is a new lookup
            self._pending.pop((close.symbol, close.side), None)
        return out
