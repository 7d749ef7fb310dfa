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
- ``POST /hyperliquid/info {"type": "userFillsByTime", "user", "startTime", "endTime"?}``: the address's
  closing fills kept by ``close`` (``records[address]``, ``EmuRecord`` as every emulator venue keeps
  them) whose time is in the window, oldest first, in the venue's fill shape: a liquidation's fill says
  ``dir`` "Liquidated Cross Long" (…) with ``liquidation.liquidatedUser`` the address itself; an ADL fill
  ``dir`` "Auto-Deleveraging" with the liquidation of the underwater account it closed against; the
  user's own close "Close Long" (…) without one. Counted in ``fill_posts``.
- the websocket subscription ``{"method": "subscribe", "subscription": {"type": "clearinghouseState",
  "user": address}}``: the ``subscriptionResponse`` ack, then the state at once and after every
  ``set_state``, as ``{"channel": "clearinghouseState", "data": {"dex": "", "user", "clearinghouseState"}}``.
  ``unsubscribe`` is acknowledged the same way; a ``user`` that is not an address gets an ``error`` frame
  (whose text is the emulator's own).
- the venue's limit of 10 unique users across user subscriptions (per IP: every loopback client here is
  one IP): the 11th user is answered ``{"channel": "error", "data": "Cannot track more than 10 total
  users."}`` and not subscribed. A user stops counting when its socket closes or it unsubscribes.

Tests play the venue's forced closes with ``await users.close(address, coin, cause, price, size=…)``
(cause liquidation | adl | user: the state shrinks, the fill is kept and the new state pushed), add the
user's own fills elsewhere with ``own_fill``, and build consistent states with ``perp_position`` /
``perp_state`` (``cumFunding`` included).

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

from adlwatch.feeds.emulator_base import COMPACT, EmuConnection, EmuRecord

INFO_TARGET = "/hyperliquid/info"
CHANNEL = "clearinghouseState"
ABSTRACTION = "userAbstraction"
SPOT = "spotClearinghouseState"
FILLS = "userFillsByTime"
MAX_USERS = 10
UNDERWATER_USER = "0x" + "0d" * 20  # the liquidated account an emulated ADL fill closes against
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_UNREADABLE_BODY = "Failed to deserialize the JSON body into the target type"


def empty_state(now_ms: int | None = None) -> dict[str, Any]:
    """What the venue answers for an address without perp activity."""
    summary = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0", "totalMarginUsed": "0.0"}
    return {"marginSummary": dict(summary), "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0", "assetPositions": [],
            "time": now_ms if now_ms is not None else int(time.time() * 1000)}


def perp_position(coin: str, szi: float, entry: float, mark: float, *, leverage: float = 10.0,
                  max_leverage: float = 40.0, isolated_margin: float | None = None,
                  funding_since_open: float = 0.0) -> dict[str, Any]:
    """One ``assetPositions`` entry in the venue's shape: cross, or isolated with ``isolated_margin`` (the
    margin without uPnL); ``funding_since_open`` as the venue's ``cumFunding.sinceOpen`` (what the
    position paid: positive = paid)."""
    value = abs(szi) * mark
    upnl = szi * (mark - entry)
    lev: dict[str, Any] = {"type": "cross", "value": leverage}
    margin_used = value / leverage
    if isolated_margin is not None:
        lev = {"type": "isolated", "value": leverage, "rawUsd": f"{isolated_margin - szi * entry:.6f}"}
        margin_used = isolated_margin + upnl
    return {"type": "oneWay", "position": {
        "coin": coin, "szi": f"{szi}", "entryPx": f"{entry}", "positionValue": f"{value:.6f}", "leverage": lev,
        "maxLeverage": max_leverage, "marginUsed": f"{margin_used:.6f}", "unrealizedPnl": f"{upnl:.6f}",
        "liquidationPx": None, "returnOnEquity": f"{upnl / (abs(szi) * entry / leverage):.6f}",
        "cumFunding": {"allTime": f"{funding_since_open}", "sinceChange": f"{funding_since_open}",
                       "sinceOpen": f"{funding_since_open}"}}}


def perp_state(entries: list[dict[str, Any]], wallet_balance: float, now_ms: int | None = None) -> dict[str, Any]:
    """A consistent ``clearinghouseState`` of ``entries`` (``perp_position``) over a cross wallet balance."""
    cross = [e["position"] for e in entries if e["position"]["leverage"]["type"] == "cross"]
    raw_usd = wallet_balance - sum(float(p["szi"]) * float(p["entryPx"]) for p in cross)
    state = {"assetPositions": copy.deepcopy(entries), "withdrawable": "0.0",
             "crossMarginSummary": {"totalRawUsd": f"{raw_usd:.6f}"}, "marginSummary": {}}
    return _summarize(state, now_ms)


def _mark(position: dict[str, Any]) -> float:
    return float(position["positionValue"]) / abs(float(position["szi"]))


def _summarize(state: dict[str, Any], now_ms: int | None = None) -> dict[str, Any]:
    """The summaries of ``state`` from its positions and its cross ``totalRawUsd`` (the venue's identities:
    accountValue = totalRawUsd + Σ szi × mark; maintenance = Σ positionValue / (2 × maxLeverage))."""
    positions = [e["position"] for e in state["assetPositions"]]
    cross = [p for p in positions if p["leverage"]["type"] == "cross"]
    isolated = [p for p in positions if p["leverage"]["type"] == "isolated"]
    raw_usd = float(state["crossMarginSummary"]["totalRawUsd"])
    cross_value = raw_usd + sum(float(p["szi"]) * _mark(p) for p in cross)
    cross_ntl = sum(float(p["positionValue"]) for p in cross)
    all_raw = raw_usd + sum(float(p["leverage"]["rawUsd"]) for p in isolated)
    state["crossMarginSummary"] = {"accountValue": f"{cross_value:.6f}", "totalNtlPos": f"{cross_ntl:.6f}",
                                   "totalRawUsd": f"{raw_usd:.6f}",
                                   "totalMarginUsed": f"{sum(float(p['marginUsed']) for p in cross):.6f}"}
    state["marginSummary"] = {
        "accountValue": f"{all_raw + sum(float(p['szi']) * _mark(p) for p in positions):.6f}",
        "totalNtlPos": f"{sum(float(p['positionValue']) for p in positions):.6f}", "totalRawUsd": f"{all_raw:.6f}",
        "totalMarginUsed": f"{sum(float(p['marginUsed']) for p in positions):.6f}"}
    state["crossMaintenanceMarginUsed"] = f"{sum(float(p['positionValue']) / (2 * float(p['maxLeverage'])) for p in cross):.6f}"
    state["time"] = now_ms if now_ms is not None else int(time.time() * 1000)
    return state


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
        self.records: dict[str, list[EmuRecord]] = {}  # address -> its closing fills, oldest first
        self._fill_facts: dict[tuple[str, int], tuple[float, str]] = {}  # (address, id) -> (startPosition, mode)
        self.fill_posts: Counter[str] = Counter()  # userFillsByTime requests per address
        self.fills_page = 2000  # at most this many fills per userFillsByTime answer, oldest first
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

    async def close(self, address: str, coin: str, cause: str, price: float, *, size: float | None = None,
                    now_ms: int | None = None) -> EmuRecord:
        """Close ``size`` (all when None) of ``address``'s ``coin`` position at ``price`` the way ``cause``
        (liquidation | adl | user) would: the position shrinks or goes (its cash settles at ``price`` into
        the ledger; a liquidated isolated position's margin is lost), the fill is kept for
        ``userFillsByTime`` and the new state is pushed to the address's sockets."""
        if cause not in ("liquidation", "adl", "user"):
            raise ValueError(f"unknown cause {cause!r}: liquidation, adl or user")
        address = address.lower()
        state = self.states.get(address)
        entries = state["assetPositions"] if state else []
        index = next((i for i, e in enumerate(entries) if e["position"]["coin"] == coin), None)
        if state is None or index is None:
            raise KeyError(f"hyperliquid user {address} holds no {coin} position")
        position = entries[index]["position"]
        start = float(position["szi"])
        sign = 1.0 if start > 0 else -1.0
        closed = abs(start) if size is None else min(size, abs(start))
        left = abs(start) - closed
        mark, mode = _mark(position), position["leverage"]["type"]
        cash = sign * closed * price  # what selling a long (buying back a short) settles in USDC
        cross = state["crossMarginSummary"]
        if mode == "cross":
            cross["totalRawUsd"] = f"{float(cross['totalRawUsd']) + cash:.6f}"
        else:
            raw_usd = float(position["leverage"]["rawUsd"]) + cash
            if left <= 1e-12 and cause != "liquidation":  # an isolated position's equity returns to cross
                cross["totalRawUsd"] = f"{float(cross['totalRawUsd']) + raw_usd:.6f}"
            position["leverage"]["rawUsd"] = f"{raw_usd:.6f}"
        if left > 1e-12:
            entry = float(position["entryPx"])
            position.update(szi=f"{sign * left}", positionValue=f"{left * mark:.6f}",
                            unrealizedPnl=f"{sign * left * (mark - entry):.6f}",
                            marginUsed=f"{float(position['marginUsed']) * left / abs(start):.6f}")
        else:
            del entries[index]
        at = now_ms if now_ms is not None else int(time.time() * 1000)
        records = self.records.setdefault(address, [])
        record = EmuRecord(symbol=coin, side="long" if sign > 0 else "short", cause=cause, price=price, size=closed,
                           ts_ms=at, id=len(records) + 1)
        records.append(record)
        self._fill_facts[(address, record.id)] = (start, mode)
        await self.set_state(address, _summarize(state, at))
        return record

    def own_fill(self, address: str, coin: str, side: str, price: float, size: float,
                 now_ms: int | None = None) -> EmuRecord:
        """A fill of the user's own order that the state does not show (another coin, a trade opened and
        closed between two states): kept for ``userFillsByTime`` only."""
        address = address.lower()
        records = self.records.setdefault(address, [])
        record = EmuRecord(symbol=coin, side=side, cause="user", price=price, size=size,
                           ts_ms=now_ms if now_ms is not None else int(time.time() * 1000), id=len(records) + 1)
        records.append(record)
        self._fill_facts[(address, record.id)] = (size if side == "long" else -size, "cross")
        return record

    def fills(self, address: str, start_ms: int, end_ms: int | None = None) -> list[dict[str, Any]]:
        """``address``'s closing fills in [start_ms, end_ms], in the venue's ``userFillsByTime`` shape."""
        address = address.lower()
        out = []
        for r in self.records.get(address, []):
            if r.ts_ms < start_ms or (end_ms is not None and r.ts_ms > end_ms):
                continue
            start, mode = self._fill_facts[(address, r.id)]
            side_word = "Long" if r.side == "long" else "Short"
            fill: dict[str, Any] = {
                "coin": r.symbol, "px": f"{r.price}", "sz": f"{r.size}", "side": "A" if r.side == "long" else "B",
                "time": r.ts_ms, "startPosition": f"{start}", "dir": f"Close {side_word}", "closedPnl": "0.0",
                "hash": f"0x{r.id:064x}", "oid": 9_000_000 + r.id, "crossed": True, "fee": "0.0",
                "tid": 7_000_000 + r.id, "feeToken": "USDC"}
            if r.cause == "liquidation":
                fill["dir"] = f"Liquidated {mode.capitalize()} {side_word}"
                fill["fee"] = "0.0"
                fill["liquidation"] = {"liquidatedUser": address, "markPx": f"{r.price}", "method": "market"}
            elif r.cause == "adl":
                fill["dir"] = "Auto-Deleveraging"
                fill["liquidation"] = {"liquidatedUser": UNDERWATER_USER, "markPx": f"{r.price}", "method": "backstop"}
            out.append(fill)
        return out

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
        if not isinstance(doc, dict) or doc.get("type") not in (CHANNEL, ABSTRACTION, SPOT, FILLS):
            return None
        user = doc.get("user")
        if not isinstance(user, str) or not _ADDRESS.fullmatch(user):
            return 422, _UNREADABLE_BODY, {}
        if doc["type"] == ABSTRACTION:  # the account's mode: a bare JSON string
            self.mode_posts[user.lower()] += 1
            return 200, json.dumps(self.modes.get(user.lower(), "disabled")), {}
        if doc["type"] == FILLS:
            start, end = doc.get("startTime"), doc.get("endTime")
            if not isinstance(start, int) or isinstance(start, bool) or not (end is None or isinstance(end, int)):
                return 422, _UNREADABLE_BODY, {}
            self.fill_posts[user.lower()] += 1
            return 200, json.dumps(self.fills(user, start, end)[: self.fills_page], **COMPACT), {}
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
