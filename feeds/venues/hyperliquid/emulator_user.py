"""Hyperliquid's per-user endpoints on the loopback emulator (feeds/emulator.py), in the venue's shapes.

``install_hyperliquid_users(emulator, {address: clearinghouseState})`` registers hooks that serve:

- ``POST /hyperliquid/info {"type": "clearinghouseState", "user": address}``: the address's state (an
  address never seen gets the venue's empty state); a ``user`` that is not 0x + 40 hex digits gets the
  venue's HTTP 422 plain-text refusal. Any other ``/info`` body falls through to the public handler.
- ``POST /hyperliquid/info {"type": "userAbstraction", "user": address}``: the account's mode, a bare
  JSON string (``modes[address]``, else ``"disabled"``).
- ``POST /hyperliquid/info {"type": "spotClearinghouseState", "user": address}``: the address's spot
  balances ``{"balances": [{"coin", "token", "hold", "total", "entryNtl"}, …]}`` (``spot_states[address]``;
  an address never seen gets ``{"balances": []}``), counted in ``spot_posts``. A state may carry
  ``tokenToAvailableAfterMaintenance`` (``[[token, amount], …]``) as a portfolio-margin account's does.
- the websocket subscription ``{"method": "subscribe", "subscription": {"type": "clearinghouseState",
  "user": address}}``: the ``subscriptionResponse`` ack, then the state at once and after every
  ``set_state``, as ``{"channel": "clearinghouseState", "data": {"dex": "", "user", "clearinghouseState"}}``.
  ``unsubscribe`` is acknowledged the same way; a ``user`` that is not an address gets an ``error`` frame
  (whose text is the emulator's own).
- the venue's limit of 10 unique users across user subscriptions (per IP: every loopback client here is
  one IP): the 11th user is answered ``{"channel": "error", "data": "Cannot track more than 10 total
  users."}`` and not subscribed. A user stops counting when its socket closes or it unsubscribes.

Sources: Hyperliquid GitBook ``for-developers/api/info-endpoint/perpetuals``,
``…/websocket/subscriptions``, ``…/rate-limits-and-user-limits``; the error text as reported in
nktkas/hyperliquid issue #78; the 422 text as recorded from api.hyperliquid.xyz by a public C# adapter's
fixtures. Pings stay with the public handler, which answers ``{"channel":"pong"}``.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from adlwatch.feeds.emulator_base import COMPACT, EmuConnection

INFO_TARGET = "/hyperliquid/info"
CHANNEL = "clearinghouseState"
ABSTRACTION = "userAbstraction"
SPOT = "spotClearinghouseState"
MAX_USERS = 10
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_UNREADABLE_BODY = "Failed to deserialize the JSON body into the target type"


def empty_state(now_ms: int | None = None) -> dict[str, Any]:
    """What the venue answers for an address without perp activity."""
    summary = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0", "totalMarginUsed": "0.0"}
    return {"marginSummary": dict(summary), "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0", "assetPositions": [],
            "time": now_ms if now_ms is not None else int(time.time() * 1000)}


def _limit_error(max_users: int) -> str:
    return json.dumps({"channel": "error", "data": f"Cannot track more than {max_users} total users."}, **COMPACT)


class HyperliquidUsers:
    """The followed addresses' states, and what the emulator did with them (for tests to check)."""

    def __init__(self, states: dict[str, dict[str, Any]] | None = None, *, max_users: int = MAX_USERS):
        self.states: dict[str, dict[str, Any]] = {a.lower(): copy.deepcopy(s) for a, s in (states or {}).items()}
        self.max_users = max_users
        self.posts: Counter[str] = Counter()  # clearinghouseState requests per address
        self.modes: dict[str, str] = {}  # address -> its userAbstraction answer ("disabled" when not set)
        self.mode_posts: Counter[str] = Counter()  # userAbstraction requests per address
        self.spot_states: dict[str, dict[str, Any]] = {}  # address -> its spotClearinghouseState
        self.spot_posts: Counter[str] = Counter()  # spotClearinghouseState requests per address
        self.subscribes: Counter[str] = Counter()  # accepted subscriptions per address
        self.refused: list[str] = []  # addresses refused for the user limit, in order
        self._subscribers: dict[EmuConnection, set[str]] = {}
        self._fail: list[tuple[int, str]] = []  # (status, body) for the next requests

    # ------------------------------------------------------------------ what tests do

    def state(self, address: str) -> dict[str, Any]:
        return self.states.get(address.lower()) or empty_state()

    def frame(self, address: str) -> str:
        """The websocket frame carrying ``address``'s state."""
        data = {"dex": "", "user": address.lower(), CHANNEL: self.state(address)}
        return json.dumps({"channel": CHANNEL, "data": data}, **COMPACT)

    async def set_state(self, address: str, state: dict[str, Any]) -> int:
        """Change a state and push it to every socket subscribed to it; returns the frames sent."""
        self.states[address.lower()] = copy.deepcopy(state)
        return await self.send_raw(address, self.frame(address))

    async def send_raw(self, address: str, text: str) -> int:
        """Send any text to the sockets subscribed to ``address`` (a malformed frame, say)."""
        sent = 0
        for conn in self.connections_of(address):
            sent += await conn.send(text, data=True)
        return sent

    def fail_next(self, status: int, body: str = "", count: int = 1) -> None:
        """Answer the next ``count`` clearinghouseState requests with ``status``."""
        self._fail.extend([(status, body or json.dumps({"error": "emulated fault"}))] * count)

    def connections_of(self, address: str) -> list[EmuConnection]:
        address = address.lower()
        return [c for c, users in self._subscribers.items() if c.open and address in users]

    def tracked(self) -> set[str]:
        """Unique users across the user subscriptions of open sockets (what the limit counts)."""
        return {u for c, users in self._subscribers.items() if c.open for u in users}

    # ------------------------------------------------------------------ hooks

    async def rest_hook(self, method: str, target: str, headers: dict[str, str],
                        body: bytes) -> tuple[int, str, dict[str, str]] | None:
        if method != "POST" or urlsplit(target).path != INFO_TARGET:
            return None
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            return None  # the public handler answers what it answers
        if not isinstance(doc, dict) or doc.get("type") not in (CHANNEL, ABSTRACTION, SPOT):
            return None
        user = doc.get("user")
        if not isinstance(user, str) or not _ADDRESS.fullmatch(user):
            return 422, _UNREADABLE_BODY, {}
        if doc["type"] == ABSTRACTION:  # the account's mode: a bare JSON string
            self.mode_posts[user.lower()] += 1
            return 200, json.dumps(self.modes.get(user.lower(), "disabled")), {}
        if doc["type"] == SPOT:
            self.spot_posts[user.lower()] += 1
            return 200, json.dumps(self.spot_states.get(user.lower(), {"balances": []}), **COMPACT), {}
        self.posts[user.lower()] += 1
        if self._fail:
            status, text = self._fail.pop(0)
            return status, text, {}
        state = self.state(user) if doc.get("dex") in (None, "") else empty_state()
        return 200, json.dumps(state, **COMPACT), {}

    async def ws_hook(self, conn: EmuConnection, doc: dict[str, Any]) -> bool:
        if conn.venue != "hyperliquid" or doc.get("method") not in ("subscribe", "unsubscribe"):
            return False
        subscription = doc.get("subscription")
        if not isinstance(subscription, dict) or subscription.get("type") != CHANNEL:
            return False
        user = subscription.get("user")
        if not isinstance(user, str) or not _ADDRESS.fullmatch(user):
            await conn.send(json.dumps({"channel": "error", "data": f"Invalid subscription {json.dumps(doc)}"},
                                       **COMPACT))
            return True
        if doc["method"] == "unsubscribe":
            self._subscribers.get(conn, set()).discard(user.lower())
            await conn.send(self._ack("unsubscribe", subscription))
            return True
        return await self._subscribe(conn, user.lower(), subscription)

    async def _subscribe(self, conn: EmuConnection, user: str, subscription: dict[str, Any]) -> bool:
        if user not in self.tracked() and len(self.tracked()) >= self.max_users:
            self.refused.append(user)
            await conn.send(_limit_error(self.max_users))
            return True
        self._subscribers.setdefault(conn, set()).add(user)
        self.subscribes[user] += 1
        await conn.send(self._ack("subscribe", subscription))
        await conn.send(self.frame(user), data=True)
        return True

    @staticmethod
    def _ack(method: str, subscription: dict[str, Any]) -> str:
        return json.dumps({"channel": "subscriptionResponse",
                           "data": {"method": method, "subscription": subscription}}, **COMPACT)


def install_hyperliquid_users(emulator: Any, states: dict[str, dict[str, Any]] | None = None, *,
                              max_users: int = MAX_USERS) -> HyperliquidUsers:
    """Serve ``states`` (address → clearinghouseState) on ``emulator``; returns the controller."""
    users = HyperliquidUsers(states, max_users=max_users)
    emulator.rest_hooks.append(users.rest_hook)
    emulator.ws_hooks.append(users.ws_hook)
    return users
