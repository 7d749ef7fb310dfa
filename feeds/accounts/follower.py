"""The shape every follower of an account has (feeds/accounts/__init__.py says what it does), and
what the followers share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from adlwatch.engine.events import Event


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
