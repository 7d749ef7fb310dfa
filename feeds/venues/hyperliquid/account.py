"""Follow a Hyperliquid wallet by its public address: no key, positions on Hyperliquid are public.

Sources: the Hyperliquid GitBook (https://hyperliquid.gitbook.io/hyperliquid-docs/, synced as
``dzmbs/hyperliquid-docs``; research/exchanges.md §4):
- ``for-developers/api/info-endpoint/perpetuals`` ("Retrieve user's perpetuals account summary"):
  ``POST /info {"type": "clearinghouseState", "user": address}``; its example answer is test H1.
- ``for-developers/api/websocket/subscriptions``: ``{"type": "clearinghouseState", "user": address}``
  pushes channel ``clearinghouseState`` with ``data = {dex, user, clearinghouseState}``.
- ``for-developers/api/websocket/timeouts-and-heartbeats``: ``{"method":"ping"}`` → ``{"channel":"pong"}``;
  the server closes a connection it has not sent to in 60 s.
- ``for-developers/api/rate-limits-and-user-limits``: at most 10 unique users across user-specific
  websocket subscriptions per IP (``clearinghouseState`` info weight 2 of 1200 a minute). The refusal
  is ``{"channel":"error","data":"Cannot track more than 10 total users."}`` (nktkas/hyperliquid #78).
- ``trading/liquidations``: ``liq = price − side × margin_available / size / (1 − l × side)``.

What the follower does: one ``clearinghouseState`` request at start, then the websocket subscription,
reconciled by another request after every reconnect. Followers of one process share one socket per
URL (``UserSocket``); the 11th address is refused by us before the venue does it, and a refused address
(by us or by the venue: another program on the same IP may hold slots) is polled every
``poll_interval_s`` instead, which a ``FeedStatus`` says.

Margin accounting, so that adlwatch's liquidation price is the venue's (tests in
tests/feeds/test_accounts_hyperliquid.py reproduce ``liquidationPx`` on published and captured states):
- ``leverage.rawUsd`` is an isolated position's USDC ledger: its equity at mark P is ``rawUsd + szi × P``
  (H1: ``rawUsd + positionValue`` for a long, ``rawUsd − positionValue`` for a short). The margin
  without uPnL that adlwatch adds its own uPnL to is therefore ``rawUsd + szi × entryPx`` for both sides.
- ``crossMarginSummary`` counts cross positions only (isolated equity is in ``marginSummary`` alone):
  ``accountValue = totalRawUsd + Σ szi × mark``. The wallet balance is ``accountValue − Σ szi × (mark −
  entryPx)``, with the mark ``positionValue / |szi|``: uPnL as adlwatch computes it from the reported
  (rounded) entry, so adlwatch's margin balance at the venue's mark is the venue's account value.
- Maintenance margin is ``positionValue / (2 × maxLeverage)`` (``crossMaintenanceMarginUsed`` is their
  sum). When a position's ``maxLeverage`` differs from the first tier of adlwatch's table (the table is
  out of date), the venue's figure travels as the position's own bracket (one tier) and the state
  carries a warning; a coin outside the catalogue gets that bracket too, without a warning.
- Hyperliquid reports no ADL indicator: ``adl_lights`` and ``adl_raw`` stay None (its ranking index is
  computed by the engine).
- Accounts in unified or portfolio-margin mode keep collateral in spot, which ``clearinghouseState``
  does not show (the docs' note on the perpetuals account summary: "Under unified account or portfolio
  margin, use spot balances endpoint instead for trading account balance across spot and perps"). The
  follower asks the mode (``userAbstraction``); for such an account it also reads
  ``spotClearinghouseState`` (``{"balances": [{"coin", "token", "hold", "total", "entryNtl"}, …]}``) with
  every state request (and before a pushed state when the last read is older than ``SPOT_MAX_AGE_S``),
  and counts the USDC balance's ``total`` as cross collateral: added to the wallet balance and the
  account value. UNCONFIRMED, not yet checked against a captured pair of states of one account: that
  ``total`` (not ``total − hold``) is what the venue counts, and that the perp state does not already
  hold part of it. Other spot tokens (which portfolio margin may count, with haircuts, as
  ``tokenToAvailableAfterMaintenance`` suggests) are not counted: the state names them in a warning.
  Without a readable spot state the account keeps the mode warning (figures off, use the venue's).

The position panel (issue 15): ``cumFunding.sinceOpen`` is the funding a position has *paid* since it
opened (positive = paid: a long that paid through positive rates shows it positive, as in the captured
``btc_cross_2026-09-25.json``; the Nansen API changelog of 28-10-2026 says the same of the figure it
mirrors; no Hyperliquid page states the sign, UNCONFIRMED), so ``ImportedPosition.funding_pnl`` is its
negation (+ received, − paid, USDC). Hyperliquid's position read carries no break-even price and no
take-profit / stop-loss (those are orders, not part of the position): they stay None.

"You were liquidated / ADL'd": a position that shrank or went between two states (``ClosesWatch``) has
the address's fills read (``userFillsByTime``, public by address, from shortly before the last state that
still showed it); its liquidation fills (``liquidation.liquidatedUser`` is this address) and ADL fills
(``dir`` "Auto-Deleveraging") become ``ForcedClose`` events after the state, each once; a close by the
user's own order has neither and emits nothing. The fills may lag the state: they are read again after
``RECORDS_RETRY_S`` while a shrink has no record, and not on every pushed state.

It only reads: the requests it sends are the ``clearinghouseState``, ``userAbstraction``,
``spotClearinghouseState`` and ``userFillsByTime`` info requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from adlwatch.engine.errors import InputError
from adlwatch.engine.events import AccountState, Event, FeedStatus, ForcedClose, ImportedPosition
from adlwatch.engine.instruments import Catalogue, default_catalogue
from adlwatch.feeds.accounts.follower import ClosesWatch, same_account_state
from adlwatch.feeds.transport import LOOPBACK_HOSTS, Backoff, describe_error, make_http_client, retry_after_s
from adlwatch.feeds.venues.hyperliquid.market import (
    INFO_PATH,
    PING_INTERVAL_S,
    PING_MESSAGE,
    REST_URL,
    VENUE,
    WS_URL,
)
from adlwatch.feeds.wire import ms as _ms
from adlwatch.feeds.wire import number as _number
from adlwatch.feeds.wire import price as _price
from adlwatch.feeds.wire import snippet as _snippet

log = logging.getLogger(__name__)

SETTLE = "USDC"
CHANNEL = "clearinghouseState"
MAX_SOCKET_USERS = 10  # unique users across user-specific subscriptions, per IP
USER_LIMIT_TEXT = "Cannot track more than"
NO_TIER_CAP = 1e12  # the bundled tables' placeholder for "no cap"


class StateError(ValueError):
    """A clearinghouseState that cannot be read as a whole (callers turn it into a FeedStatus)."""


def state_request(address: str) -> dict[str, str]:
    return {"type": CHANNEL, "user": address}


# The account's mode ("account abstraction"): the answer is a bare JSON string. In the two modes below
# the collateral is in spot balances and "individual perp-DEX user states are not meaningful" (the
# docs' trading/account-abstraction-modes page; research/exchanges.md §4).
ABSTRACTION = "userAbstraction"
SPOT_COLLATERAL_MODES = ("unifiedAccount", "portfolioMargin")
ABSTRACTION_RECHECK_S = 600.0  # a mode rarely changes: asked with a state request at most this often


def abstraction_request(address: str) -> dict[str, str]:
    return {"type": ABSTRACTION, "user": address}


def mode_warning(mode: str) -> str:
    """What an account in a spot-collateral mode is told (beside its figures, and once as an alert)."""
    return (f"{mode} mode: collateral sits in spot balances, which adlwatch could not read "
            "(spotClearinghouseState); its margin and liquidation figures for this account are off: use the "
            "venue's liquidation price shown beside them")


# The spot balances of an account in a spot-collateral mode (docs for-developers/api/info-endpoint/spot,
# "Retrieve a user's token balances").
SPOT = "spotClearinghouseState"
COLLATERAL_COIN = "USDC"
SPOT_MAX_AGE_S = 10.0  # a pushed perp state re-reads the spot balances when the last read is older


def spot_request(address: str) -> dict[str, str]:
    return {"type": SPOT, "user": address}


@dataclass(frozen=True, slots=True)
class SpotCollateral:
    """What an account's spot balances add to its cross margin."""

    usdc: float  # the USDC balance's total, counted as collateral
    uncounted: tuple[str, ...] = ()  # other tokens held (not counted)


def spot_collateral(doc: Any) -> SpotCollateral:
    """The collateral of one ``spotClearinghouseState`` object; ``StateError`` when unreadable."""
    balances = doc.get("balances") if isinstance(doc, dict) else None
    if not isinstance(balances, list):
        raise StateError(f"spotClearinghouseState {_snippet(doc, 40)} has no balances list")
    usdc = 0.0
    others: list[str] = []
    for entry in balances:
        if not isinstance(entry, dict) or not isinstance(entry.get("coin"), str):
            raise StateError(f"spot balance {_snippet(entry, 40)} is not an object with a coin")
        coin = entry["coin"]
        total = _required_number(entry.get("total"), f"spot {coin}: total")
        if not math.isfinite(total) or total < 0:
            raise StateError(f"spot {coin}: total {total!r} is not a balance")
        if coin == COLLATERAL_COIN:
            usdc += total
        elif total > 0:
            others.append(coin)
    return SpotCollateral(usdc, tuple(others))


def spot_note(mode: str, collateral: SpotCollateral) -> str:
    """What an account whose spot balances were read is told (instead of ``mode_warning``)."""
    note = (f"{mode} mode: {collateral.usdc:,.2f} USDC of spot balance counted as cross collateral "
            "(spotClearinghouseState)")
    if collateral.uncounted:
        note += f"; {', '.join(collateral.uncounted)} held in spot not counted (the venue may count them)"
    return note


def with_spot(state: AccountState, mode: str, collateral: SpotCollateral) -> AccountState:
    """``state`` with the spot USDC in its wallet balance and account value, and the note that says so."""
    value = state.account_value + collateral.usdc if state.account_value is not None else None
    return msgspec.structs.replace(state, wallet_balance=state.wallet_balance + collateral.usdc,
                                   account_value=value, warnings=[*state.warnings, spot_note(mode, collateral)])


def subscribe_message(address: str, method: str = "subscribe") -> str:
    return json.dumps({"method": method, "subscription": state_request(address)}, separators=(",", ":"))


# ---------------------------------------------------------------------------- the mapping


def _required_number(raw: Any, what: str) -> float:
    value = _number(raw)
    if value is None:
        raise StateError(f"{what} {_snippet(raw, 40)} is not a number")
    return value


def _leverage(raw: Any, coin: str) -> tuple[str, float, float | None]:
    """(margin mode, leverage, rawUsd for isolated) from ``{"type", "value", "rawUsd"}``."""
    if not isinstance(raw, dict):
        raise StateError(f"{coin}: leverage {_snippet(raw, 40)} is not an object")
    mode = raw.get("type")
    if mode not in ("cross", "isolated"):
        raise StateError(f"{coin}: unknown margin mode {_snippet(mode, 20)}")
    leverage = _price(raw.get("value"))
    if leverage is None:
        raise StateError(f"{coin}: leverage {_snippet(raw.get('value'), 20)} is not a positive number")
    raw_usd = _required_number(raw.get("rawUsd"), f"{coin}: rawUsd") if mode == "isolated" else None
    return mode, leverage, raw_usd


def _venue_brackets(coin: str, max_leverage: float | None,
                    catalogue: Catalogue) -> tuple[list[tuple[float, float, float, float, float]] | None, str | None]:
    """The venue's own maintenance tier where adlwatch has none or its table disagrees on the maximum
    leverage (and a warning for the latter).

    Hyperliquid's maintenance margin rate is half the initial margin at the maximum leverage
    (docs trading/margin-tiers); the position reports that maximum as ``maxLeverage``. A coin outside
    adlwatch's catalogue gets it too: the engine reports such a position as not modelled, and the
    tier lets it count the position's maintenance margin in the cross account.
    """
    if max_leverage is None:
        return None, None
    mmr = 0.5 / max_leverage
    venue_tier = [(0.0, NO_TIER_CAP, mmr, max_leverage, 0.0)]
    try:
        tiers = catalogue.get(VENUE, coin).tiers
    except InputError:
        return venue_tier, None
    if not tiers or tiers[0].max_leverage == max_leverage:
        return None, None
    warning = (f"{coin}: Hyperliquid's maximum leverage is {max_leverage:g}x where adlwatch's tier table says "
               f"{tiers[0].max_leverage:g}x; the venue's {max_leverage:g}x (maintenance {mmr:.2%}) is used")
    return venue_tier, warning


@dataclass(frozen=True, slots=True)
class _Mapped:
    position: ImportedPosition
    cross_upnl: float  # szi × (mark − entryPx) of a cross position; 0 for isolated
    warning: str | None


def _position(raw: Any, catalogue: Catalogue) -> _Mapped | None:
    """One ``assetPositions[].position``; None for a closed position still listed at size zero."""
    if not isinstance(raw, dict):
        raise StateError(f"position {_snippet(raw, 40)} is not an object")
    coin = raw.get("coin")
    if not isinstance(coin, str) or not coin:
        raise StateError(f"position without a coin: {_snippet(raw, 60)}")
    signed_size = _required_number(raw.get("szi"), f"{coin}: szi")
    if signed_size == 0.0:
        return None
    entry = _price(raw.get("entryPx"))
    if entry is None:
        raise StateError(f"{coin}: entryPx {_snippet(raw.get('entryPx'), 30)} is not a price")
    mode, leverage, raw_usd = _leverage(raw.get("leverage"), coin)
    position_value = _number(raw.get("positionValue"))
    mark = position_value / abs(signed_size) if position_value is not None and position_value > 0 else None
    if mode == "cross" and mark is None:
        raise StateError(f"{coin}: positionValue {_snippet(raw.get('positionValue'), 30)} gives no mark")
    brackets, warning = _venue_brackets(coin, _price(raw.get("maxLeverage")), catalogue)
    position = ImportedPosition(
        symbol=coin,
        side="long" if signed_size > 0 else "short",
        size=abs(signed_size),
        entry_price=entry,
        leverage=leverage,
        margin_mode=mode,
        isolated_margin=raw_usd + signed_size * entry if raw_usd is not None else None,
        liquidation_price=_price(raw.get("liquidationPx")),
        mark_price=mark,
        unrealized_pnl=_number(raw.get("unrealizedPnl")),
        brackets=brackets,
        funding_pnl=_funding_pnl(raw.get("cumFunding")),
    )
    cross_upnl = signed_size * (mark - entry) if mode == "cross" and mark is not None else 0.0
    return _Mapped(position, cross_upnl, warning)


def _funding_pnl(raw: Any) -> float | None:
    """The funding a position has brought since it opened, + received / − paid: ``cumFunding.sinceOpen``
    negated, since Hyperliquid counts the funding a position *paid* there (a long that paid through
    positive rates shows a positive ``sinceOpen``). None when absent or unreadable: a panel figure, not
    part of the margin, so it never rejects the state."""
    since_open = _number(raw.get("sinceOpen")) if isinstance(raw, dict) else None
    return -since_open + 0.0 if since_open is not None else None  # + 0.0: no −0.0 for a flat "0.0"


def _summary_number(doc: dict, summary: str, key: str) -> float:
    block = doc.get(summary)
    if not isinstance(block, dict):
        raise StateError(f"{summary} missing")
    return _required_number(block.get(key), f"{summary}.{key}")


def account_state(doc: Any, address: str, recv_ns: int = 0, catalogue: Catalogue | None = None) -> AccountState:
    """The ``AccountState`` of one ``clearinghouseState`` object; raises ``StateError`` when any part of
    it cannot be read (a partly read account would misstate the cross margin)."""
    if not isinstance(doc, dict):
        raise StateError(f"clearinghouseState {_snippet(doc, 40)} is not an object")
    catalogue = catalogue or default_catalogue()
    raw_positions = doc.get("assetPositions")
    if not isinstance(raw_positions, list):
        raise StateError("assetPositions missing")
    mapped = []
    for entry in raw_positions:
        item = _position(entry.get("position") if isinstance(entry, dict) else entry, catalogue)
        if item is not None:
            mapped.append(item)
    cross_value = _summary_number(doc, "crossMarginSummary", "accountValue")
    maintenance = _number(doc.get("crossMaintenanceMarginUsed"))
    wallet = cross_value - math.fsum(m.cross_upnl for m in mapped)
    if not math.isfinite(wallet):
        raise StateError("cross wallet balance is not finite")
    return AccountState(
        venue=VENUE,
        symbol=address,
        ts=_ms(doc.get("time")),
        recv_ns=recv_ns,
        settle=SETTLE,
        wallet_balance=wallet,
        positions=[m.position for m in mapped],
        account_value=cross_value,
        maintenance_margin=maintenance,
        warnings=[m.warning for m in mapped if m.warning],
    )


# ---------------------------------------------------------------------------- "you were liquidated / ADL'd"
# A position that shrank or went is looked up in the user's fills since then (public by address):
# ``POST /info {"type": "userFillsByTime", "user", "startTime", "aggregateByTime": true}`` (docs
# for-developers/api/info-endpoint, "Retrieve a user's fills by time": at most 2000 fills, the 10000
# latest; aggregated, a liquidation's market order that crossed several resting orders is one fill).
# A fill (``WsFill`` on …/websocket/subscriptions) carries ``liquidation: {liquidatedUser?, markPx,
# method: market | backstop}`` when it was part of a liquidation, on both legs: ``liquidatedUser`` names
# the account liquidated, which is the followed one only when it is that address. An ADL fill has
# ``dir`` "Auto-Deleveraging" and carries the liquidation of the underwater account it closed against
# (Hyperliquid's public node fills of 10 Oct 2025, as published with the ADL studies behind
# ../shared/data/hyperliquid-2025-10-10/). The liquidated account's own fills say "Liquidated Cross Long",
# "Liquidated Isolated Short", …

FILLS = "userFillsByTime"
ADL_DIR = "Auto-Deleveraging"
LIQUIDATED_DIR = "Liquidated"
RECORDS_RETRY_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # re-reads while a shrink has no record yet
FILLS_PAGE = 2000  # at most this many fills per answer, oldest first from startTime
FILLS_MAX_PAGES = 5


def fills_request(address: str, start_ms: int) -> dict[str, Any]:
    return {"type": FILLS, "user": address, "startTime": max(0, int(start_ms)), "aggregateByTime": True}


def _closed_side(fill: dict[str, Any]) -> str | None:
    """The side of the position a closing fill reduced: the sign of ``startPosition``, else the fill's
    ``dir`` ("… Long" / "… Short"), else its ``side`` (a sell, "A", reduces a long)."""
    start = _number(fill.get("startPosition"))
    if start:
        return "long" if start > 0 else "short"
    direction = fill.get("dir")
    if isinstance(direction, str):
        if direction.endswith("Long"):
            return "long"
        if direction.endswith("Short"):
            return "short"
    return {"A": "long", "B": "short"}.get(fill.get("side"))  # type: ignore[arg-type]


def _cause(fill: dict[str, Any], address: str) -> tuple[str, str] | None:
    """(cause, the venue's words) of a fill that the venue forced on ``address``; None for the user's own
    trade, or the other leg of someone else's liquidation."""
    direction = fill.get("dir")
    direction = direction if isinstance(direction, str) else ""
    liquidation = fill.get("liquidation")
    liquidated = liquidation.get("liquidatedUser") if isinstance(liquidation, dict) else None
    method = liquidation.get("method") if isinstance(liquidation, dict) else None
    words = f'dir "{direction}"' + (f", {method} liquidation" if isinstance(method, str) and method else "")
    if isinstance(liquidated, str) and liquidated.lower() == address:
        return "liquidation", words
    if direction == ADL_DIR:
        return "adl", words
    if direction.startswith(LIQUIDATED_DIR) and not isinstance(liquidated, str):
        return "liquidation", words  # the liquidated account's own fill, without the liquidation object
    return None


def forced_closes(doc: Any, address: str, recv_ns: int = 0) -> tuple[list[ForcedClose], list[str]]:
    """The liquidation and ADL fills of ``address`` in one ``userFillsByTime`` answer, as ``ForcedClose``
    events (``remaining`` from the fill's ``startPosition``; the follower sets it from the state), and
    what could not be read. Never raises."""
    address = address.lower()
    if not isinstance(doc, list):
        return [], [f"{FILLS} answer {_snippet(doc, 40)} is not a list"]
    closes: list[ForcedClose] = []
    problems: list[str] = []
    for fill in doc:
        if not isinstance(fill, dict):
            problems.append(f"fill {_snippet(fill, 40)} is not an object")
            continue
        try:
            found = _cause(fill, address)
        except Exception:  # noqa: BLE001 - one odd fill never hides the others
            found = None
        if found is None:
            continue
        cause, detail = found
        coin, price, size = fill.get("coin"), _price(fill.get("px")), _price(fill.get("sz"))
        side, ts = _closed_side(fill), _ms(fill.get("time"))
        if not isinstance(coin, str) or not coin or price is None or size is None or side is None:
            problems.append(f"{cause} fill {_snippet(fill, 80)} without coin, px, sz or side")
            continue
        start = _number(fill.get("startPosition"))
        remaining = max(abs(start) - size, 0.0) if start is not None else 0.0
        closes.append(ForcedClose(venue=VENUE, symbol=coin, ts=ts, recv_ns=recv_ns, account=address, side=side,
                                  cause=cause, price=price, size=size, remaining=remaining, detail=detail))
    return closes, problems


def parse_fills_body(body: str | bytes, address: str, recv_ns: int = 0) -> tuple[list[ForcedClose], list[str]]:
    """``forced_closes`` of one ``POST /info`` answer's text. Never raises."""
    try:
        doc = _decode(body)
    except ValueError as error:
        return [], [str(error)]
    return forced_closes(doc, address, recv_ns)


def _status(address: str, state: str, detail: str, recv_ns: int | None = None) -> FeedStatus:
    return FeedStatus(venue=VENUE, symbol=f"account:{address}", ts=None,
                      recv_ns=time.time_ns() if recv_ns is None else recv_ns, state=state, detail=detail)


def label_of(address: str) -> str:
    return f"{VENUE} {address[:6]}…{address[-4:]}"


def state_events(doc: Any, address: str, recv_ns: int = 0, catalogue: Catalogue | None = None) -> list[Event]:
    """``[AccountState]``, or one ``FeedStatus`` error saying what could not be read. Never raises."""
    try:
        return [account_state(doc, address, recv_ns, catalogue)]
    except StateError as error:
        return [_status(address, "error", f"{label_of(address)}: unreadable clearinghouseState: {error}", recv_ns)]
    except Exception as exc:  # noqa: BLE001 - a mapper must never stop the follower
        return [_status(address, "error", f"{label_of(address)}: mapper failure {type(exc).__name__}", recv_ns)]


_decoder = msgspec.json.Decoder()


def _decode(text: str | bytes) -> Any:
    """The JSON value of ``text``, or raise ValueError."""
    try:
        return _decoder.decode(text)
    except (msgspec.DecodeError, TypeError, ValueError, UnicodeError) as exc:
        raise ValueError(f"not JSON: {_snippet(text)}") from exc


def parse_state_body(body: str | bytes, address: str, recv_ns: int = 0,
                     catalogue: Catalogue | None = None) -> list[Event]:
    """Events from one ``POST /info`` answer. Never raises."""
    try:
        doc = _decode(body)
    except ValueError as error:
        return [_status(address, "error", f"{label_of(address)}: {error}", recv_ns)]
    return state_events(doc, address, recv_ns, catalogue)


@dataclass(frozen=True, slots=True)
class UserFrame:
    """One frame of the user socket, classified: ``state`` (``doc`` is the inner clearinghouseState),
    ``other-dex`` (a HIP-3 dex's state: not followed), ``ack`` (``user`` subscribed), ``unsubscribed``,
    ``pong``, ``error`` (the venue's text in ``detail``) or ``bad`` (``detail`` says why)."""

    kind: str
    user: str | None = None
    doc: Any = None
    detail: str = ""


def parse_user_frame(frame: str | bytes) -> UserFrame:
    """Never raises."""
    try:
        doc = _decode(frame)
    except ValueError as error:
        return UserFrame("bad", detail=str(error))
    if not isinstance(doc, dict) or not isinstance(doc.get("channel"), str):
        return UserFrame("bad", detail=f"frame without channel: {_snippet(frame)}")
    channel, data = doc["channel"], doc.get("data")
    if channel == "pong":
        return UserFrame("pong")
    if channel == "error":
        return UserFrame("error", detail=data if isinstance(data, str) else _snippet(data))
    if channel == "subscriptionResponse":
        return _ack(data, frame)
    if channel != CHANNEL:
        return UserFrame("bad", detail=f"unexpected channel {channel!r}")
    if not isinstance(data, dict) or not isinstance(data.get("user"), str):
        return UserFrame("bad", detail=f"clearinghouseState frame without user: {_snippet(frame)}")
    user = data["user"].lower()
    if data.get("dex") not in (None, ""):
        return UserFrame("other-dex", user=user)
    return UserFrame("state", user=user, doc=data.get(CHANNEL))


def _ack(data: Any, frame: str | bytes) -> UserFrame:
    subscription = data.get("subscription") if isinstance(data, dict) else None
    if not isinstance(subscription, dict):
        return UserFrame("bad", detail=f"subscription response of unexpected shape: {_snippet(frame)}")
    user = subscription.get("user")
    user = user.lower() if isinstance(user, str) else None
    return UserFrame("unsubscribed" if data.get("method") == "unsubscribe" else "ack", user=user)


# ---------------------------------------------------------------------------- the shared socket


class Member(Protocol):
    """What ``UserSocket`` tells each follower (calls return at once; the follower acts in its own task)."""

    address: str

    def socket_up(self) -> None: ...
    def socket_down(self, reason: str) -> None: ...
    def socket_state(self, doc: Any, recv_ns: int) -> None: ...
    def socket_problem(self, detail: str) -> None: ...
    def socket_refused(self, detail: str) -> None: ...


class UserSocket:
    """One websocket carrying the ``clearinghouseState`` subscriptions of at most ``max_users`` followed
    addresses (the venue allows 10 per IP), shared by every follower of one event loop for one URL.

    It runs while it has members: reconnects with capped, jittered backoff, sends the venue's ping
    when it has sent nothing for ``ping_interval_s``, aborts a socket silent for ``silence_timeout_s``,
    and subscribes its members one at a time so that a refusal names the address it refused.
    """

    def __init__(self, ws_url: str = WS_URL, *, max_users: int = MAX_SOCKET_USERS,
                 ping_interval_s: float = PING_INTERVAL_S, silence_timeout_s: float | None = None,
                 ack_timeout_s: float = 5.0, open_timeout_s: float = 10.0, backoff_initial_s: float = 0.5,
                 backoff_max_s: float = 30.0, healthy_after_s: float = 30.0, rng: random.Random | None = None):
        self.ws_url = ws_url
        self.max_users = max_users
        self.ping_interval_s = ping_interval_s
        self.silence_timeout_s = silence_timeout_s if silence_timeout_s is not None else ping_interval_s + 10.0
        self.ack_timeout_s = ack_timeout_s
        self.open_timeout_s = open_timeout_s
        self.healthy_after_s = healthy_after_s
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng=rng or random.Random())
        self.members: dict[str, Member] = {}
        self.connects = 0
        self.delays: deque[float] = deque(maxlen=256)  # the latest reconnect delays chosen (for tests)
        self._subscribed: set[str] = set()
        self._pending: tuple[str, asyncio.Future[UserFrame]] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._last_sent = self._last_recv = 0.0
        self._reason = ""

    # ------------------------------------------------------------------ membership

    def attach(self, member: Member) -> bool:
        """Join; False when the socket already carries ``max_users`` addresses."""
        if member.address not in self.members and len(self.members) >= self.max_users:
            return False
        self.members[member.address] = member
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"{VENUE}-user-socket")
        return True

    def detach(self, member: Member) -> None:
        if self.members.get(member.address) is member:
            del self.members[member.address]
            self._changed.set()
        if not self.members and self._task is not None:
            self._task.cancel()
            self._task = None

    # ------------------------------------------------------------------ connection loop

    def _tell_down(self, reason: str) -> None:
        for member in list(self.members.values()):
            member.socket_down(reason)

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(open_timeout=self.open_timeout_s, ping_interval=None, close_timeout=2.0,
                                      max_size=2**22, max_queue=64)
        if urlsplit(self.ws_url).hostname in LOOPBACK_HOSTS:
            kwargs["proxy"] = None
        return kwargs

    async def _run(self) -> None:
        last_error: list[BaseException] = []

        def process_exception(exc: Exception) -> Exception | None:
            last_error[:] = [exc]  # every failure to open is transient for a monitor
            return None

        def delays() -> Generator[float]:
            while True:
                delay = self._next_delay()
                self._tell_down(f"connect failed ({describe_error(last_error[0] if last_error else None)}); "
                                f"retrying in {delay:.2f} s")
                yield delay

        while self.members:
            try:
                reconnector = connect(self.ws_url, process_exception=process_exception, reconnect_delays=delays,
                                      **self._connect_kwargs())
                async with contextlib.aclosing(aiter(reconnector)) as sockets:
                    async for ws in sockets:
                        self.connects += 1
                        reason, healthy = await self._serve(ws)
                        if healthy:
                            self._backoff.reset()
                        delay = self._next_delay()
                        self._tell_down(f"{reason}; reconnecting in {delay:.2f} s")
                        await asyncio.sleep(delay)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a fatal URL: report, back off, try again
                log.debug("hyperliquid user socket failed", exc_info=True)
                delay = self._next_delay()
                self._tell_down(f"{describe_error(exc)}; retrying in {delay:.2f} s")
                await asyncio.sleep(delay)

    def _next_delay(self) -> float:
        delay = self._backoff.next_delay()
        self.delays.append(delay)
        return delay

    async def _serve(self, ws: ClientConnection) -> tuple[str, bool]:
        """One connection: read, keep alive, subscribe; returns (why it ended, whether it was healthy)."""
        started = self._last_sent = self._last_recv = time.monotonic()
        self._reason = ""
        self._subscribed.clear()
        tasks = [asyncio.create_task(self._read(ws)), asyncio.create_task(self._keepalive(ws)),
                 asyncio.create_task(self._subscribe_members(ws))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._fail_pending(UserFrame("bad", detail="connection lost"))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)
        healthy = bool(self._subscribed) and time.monotonic() - started >= self.healthy_after_s
        return self._reason or _close_reason(ws), healthy

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                self._last_recv = time.monotonic()
                self._on_frame(message, time.time_ns())
        except ConnectionClosed as exc:
            received = exc.rcvd
            if not self._reason:
                self._reason = (f"server closed (code {received.code}{': ' + received.reason if received.reason else ''})"
                                if received is not None else f"connection lost ({describe_error(exc)})")

    async def _keepalive(self, ws: ClientConnection) -> None:
        while True:
            now = time.monotonic()
            silence_at = self._last_recv + self.silence_timeout_s
            ping_at = self._last_sent + self.ping_interval_s
            if now >= silence_at:
                self._reason = f"no frames for {now - self._last_recv:.1f} s (silent socket)"
                if ws.transport is not None:
                    ws.transport.abort()  # a half-open peer answers no close handshake either
                return
            if now >= ping_at:
                await self._send(ws, PING_MESSAGE)
                continue
            await asyncio.sleep(min(silence_at, ping_at) - now)

    async def _send(self, ws: ClientConnection, text: str) -> None:
        await ws.send(text)
        self._last_sent = time.monotonic()

    async def _subscribe_members(self, ws: ClientConnection) -> None:
        """Subscribe whoever joined, unsubscribe whoever left; then wait for the next change."""
        while True:
            self._changed.clear()
            for address in [a for a in self.members if a not in self._subscribed]:
                await self._subscribe(ws, address)
            for address in [a for a in self._subscribed if a not in self.members]:
                self._subscribed.discard(address)
                await self._send(ws, subscribe_message(address, "unsubscribe"))
            await self._changed.wait()

    async def _subscribe(self, ws: ClientConnection, address: str) -> None:
        future: asyncio.Future[UserFrame] = asyncio.get_running_loop().create_future()
        self._pending = (address, future)
        await self._send(ws, subscribe_message(address))
        try:
            answer = await asyncio.wait_for(future, self.ack_timeout_s)
        except TimeoutError:
            answer = UserFrame("ack", user=address, detail="no acknowledgement")  # data may still come
        finally:
            self._pending = None
        member = self.members.get(address)
        if answer.kind == "ack":
            self._subscribed.add(address)  # one that left meanwhile is unsubscribed by the caller's next pass
            if member is not None:
                member.socket_up()
        elif answer.kind == "error" and member is not None:
            del self.members[address]  # the venue holds no slot for it; a later attach may try again
            member.socket_refused(answer.detail)

    def _fail_pending(self, frame: UserFrame) -> None:
        if self._pending is not None and not self._pending[1].done():
            self._pending[1].set_result(frame)

    def _on_frame(self, message: str | bytes, recv_ns: int) -> None:
        frame = parse_user_frame(message)
        if frame.kind == "state":
            member = self.members.get(frame.user or "")
            if member is not None:
                member.socket_state(frame.doc, recv_ns)
        elif frame.kind == "ack" and self._pending is not None and frame.user == self._pending[0]:
            self._fail_pending(frame)
        elif frame.kind == "error":
            if self._pending is not None:
                self._fail_pending(frame)  # one subscription is in flight at a time: it was refused
            else:
                self._tell_problem(None, f"venue error: {frame.detail}")
        elif frame.kind == "bad":
            self._tell_problem(frame.user, f"bad frame: {frame.detail}")

    def _tell_problem(self, user: str | None, detail: str) -> None:
        targets = [self.members[user]] if user in self.members else list(self.members.values())
        for member in targets:
            member.socket_problem(detail)


_SOCKETS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, UserSocket]] = weakref.WeakKeyDictionary()


def shared_socket(ws_url: str, **options: Any) -> UserSocket:
    """The user socket of this event loop for ``ws_url`` (created with ``options`` on first use)."""
    by_url = _SOCKETS.setdefault(asyncio.get_running_loop(), {})
    if ws_url not in by_url:
        by_url[ws_url] = UserSocket(ws_url, **options)
    return by_url[ws_url]




def _close_reason(ws: ClientConnection) -> str:
    if ws.close_code is None:
        return "connection closed"
    return f"server closed (code {ws.close_code}{': ' + ws.close_reason if ws.close_reason else ''})"


# ---------------------------------------------------------------------------- the follower


@dataclass(frozen=True, slots=True)
class _Note:
    kind: str  # up | down | state | problem | refused
    detail: str = ""
    doc: Any = None
    recv_ns: int = 0


class HyperliquidFollower:
    """Follows one Hyperliquid address (the ``AccountFollower`` protocol of feeds/accounts/__init__.py)."""

    def __init__(self, address: str, *, rest_url: str | None = None, ws_url: str | None = None,
                 poll_interval_s: float = 10.0, timeout_s: float = 5.0, backoff_initial_s: float = 0.5,
                 backoff_max_s: float = 30.0, ping_interval_s: float = PING_INTERVAL_S,
                 silence_timeout_s: float | None = None, ack_timeout_s: float = 5.0,
                 max_socket_users: int = MAX_SOCKET_USERS, catalogue: Catalogue | None = None,
                 socket: UserSocket | None = None, client: httpx.AsyncClient | None = None,
                 rng: random.Random | None = None, **_other_followers_options: Any):
        self.venue = VENUE
        self.address = address.lower()
        self.ref = self.address
        self.label = label_of(self.address)
        self.rest_url = rest_url or REST_URL
        self.ws_url = ws_url or WS_URL
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.catalogue = catalogue
        self._socket = socket
        self._socket_options = dict(max_users=max_socket_users, ping_interval_s=ping_interval_s,
                                    silence_timeout_s=silence_timeout_s, ack_timeout_s=ack_timeout_s,
                                    backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s, rng=rng)
        self._client = client
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng=rng or random.Random())
        self._stop = asyncio.Event()
        self._notes: deque[_Note] = deque()
        self._wake = asyncio.Event()
        self._last_state: AccountState | None = None
        self._last_problem: str | None = None
        self.polling = False  # True once refused a websocket slot: polled every poll_interval_s
        self.requests = 0  # clearinghouseState requests sent (for tests)
        self.mode: str | None = None  # the venue's answer to userAbstraction; None until one came
        self._mode_asked: float | None = None  # monotonic time of the last userAbstraction request
        self.spot: SpotCollateral | None = None  # the last spot balances read (spot-collateral modes only)
        self._spot_read: float | None = None  # monotonic time of that read
        self.spot_requests = 0  # spotClearinghouseState requests sent (for tests)
        self._closes = ClosesWatch()  # positions that shrank or went, until their record is found
        self._closes_state: AccountState | None = None  # the latest state observed
        self._records_asked: set[tuple[str, str]] = set()  # pending positions whose fills were read
        self._records_at: float | None = None  # monotonic time of the next re-read of the fills
        self._records_step = 0
        self.fill_requests = 0  # userFillsByTime requests sent (for tests)

    def __repr__(self) -> str:
        return f"HyperliquidFollower({self.label})"

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # ------------------------------------------------------------------ REST

    async def fetch(self) -> list[Event]:
        """One ``clearinghouseState`` request: ``[AccountState]`` or one ``FeedStatus``. Never raises."""
        if self._client is not None:
            events, _ = await self._request(self._client)
            return events
        async with make_http_client(self.rest_url, self.timeout_s) as client:
            events, _ = await self._request(client)
        return events

    async def _ask_mode(self, client: httpx.AsyncClient) -> None:
        """``userAbstraction``, when not asked for ``ABSTRACTION_RECHECK_S``; an answer that does not come
        or cannot be read leaves the mode as it was (unknown at first). Never raises."""
        now = time.monotonic()
        if self._mode_asked is not None and now - self._mode_asked < ABSTRACTION_RECHECK_S:
            return
        self._mode_asked = now
        try:
            response = await client.post(self.rest_url.rstrip("/") + INFO_PATH, json=abstraction_request(self.address))
            answer = _decode(response.content) if response.status_code == 200 else None
        except Exception:  # noqa: BLE001 - the mode only adds a warning: without it, follow as before
            log.debug("%s: userAbstraction failed", self.label, exc_info=True)
            return
        if isinstance(answer, str) and answer:
            self.mode = answer

    async def _read_spot(self, client: httpx.AsyncClient, *, when_older_than_s: float = 0.0) -> None:
        """``spotClearinghouseState`` of an account in a spot-collateral mode. An answer that does not come
        or cannot be read forgets the last one (the mode warning stands instead). Never raises."""
        if self.mode not in SPOT_COLLATERAL_MODES:
            self.spot = None
            return
        now = time.monotonic()
        if when_older_than_s > 0 and self._spot_read is not None and now - self._spot_read < when_older_than_s:
            return
        self._spot_read = now
        self.spot_requests += 1
        try:
            response = await client.post(self.rest_url.rstrip("/") + INFO_PATH, json=spot_request(self.address))
            if response.status_code != 200:
                raise StateError(f"HTTP {response.status_code}")
            self.spot = spot_collateral(_decode(response.content))
        except Exception:  # noqa: BLE001 - without it the state still comes, with the mode warning
            log.debug("%s: spotClearinghouseState failed", self.label, exc_info=True)
            self.spot = None

    def _with_mode(self, events: list[Event]) -> list[Event]:
        """Each ``AccountState`` with its spot collateral counted, or the warning its mode calls for."""
        if self.mode not in SPOT_COLLATERAL_MODES:
            return events
        if self.spot is not None:
            return [with_spot(e, self.mode, self.spot) if isinstance(e, AccountState) else e for e in events]
        note = mode_warning(self.mode)
        return [msgspec.structs.replace(e, warnings=[*e.warnings, note])
                if isinstance(e, AccountState) and note not in e.warnings else e for e in events]

    async def _request(self, client: httpx.AsyncClient) -> tuple[list[Event], float | None]:
        """The events of one request, and the ``Retry-After`` of a refusal (None when none given)."""
        await self._ask_mode(client)
        self.requests += 1
        url = self.rest_url.rstrip("/") + INFO_PATH
        try:
            response = await client.post(url, json=state_request(self.address))
        except httpx.HTTPError as exc:
            return [self._status("error", f"{self.label}: {INFO_PATH} unreachable ({describe_error(exc)})")], None
        except Exception as exc:  # noqa: BLE001 - never raise out of fetch or run
            return [self._status("error", f"{self.label}: request failed ({type(exc).__name__})")], None
        if response.status_code != 200:
            return [self._status("error", f"{self.label}: {_http_problem(response)}")], retry_after_s(response)
        await self._read_spot(client)
        return self._with_mode(parse_state_body(response.content, self.address, time.time_ns(), self.catalogue)), None

    # ------------------------------------------------------------------ socket callbacks

    def _post(self, note: _Note) -> None:
        if note.kind == "state" and self._notes and self._notes[-1].kind == "state":
            self._notes[-1] = note  # a newer state replaces one not yet handled
        else:
            self._notes.append(note)
        self._wake.set()

    def socket_up(self) -> None:
        self._post(_Note("up"))

    def socket_down(self, reason: str) -> None:
        self._post(_Note("down", reason))

    def socket_state(self, doc: Any, recv_ns: int) -> None:
        self._post(_Note("state", doc=doc, recv_ns=recv_ns))

    def socket_problem(self, detail: str) -> None:
        self._post(_Note("problem", detail))

    def socket_refused(self, detail: str) -> None:
        self._post(_Note("refused", detail))

    # ------------------------------------------------------------------ run

    async def run(self, emit: Callable[[Event], None]) -> None:
        """Follow until ``stop()``: a request, the websocket (or polling), a request after each reconnect."""
        client = self._client or make_http_client(self.rest_url, self.timeout_s)
        socket = self._socket or shared_socket(self.ws_url, **self._socket_options)
        try:
            await self._reconcile(client, emit)
            if not socket.attach(self):
                self._start_polling(emit, f"the websocket carries {socket.max_users} followed addresses already "
                                          f"(Hyperliquid allows {MAX_SOCKET_USERS} per IP)")
            await self._follow(client, emit)
        finally:
            socket.detach(self)
            if self._client is None:
                await client.aclose()

    async def _follow(self, client: httpx.AsyncClient, emit: Callable[[Event], None]) -> None:
        ups = 0
        poll_at = time.monotonic() + self.poll_interval_s  # when polling
        while not self._stop.is_set():
            deadlines = [at for at in (poll_at if self.polling else None, self._records_at) if at is not None]
            note = await self._next_note(max(0.0, min(deadlines) - time.monotonic()) if deadlines else None)
            if self._stop.is_set():
                return
            if note is None:  # a deadline has passed: a re-read of the fills, a poll (or its backoff)
                if self._records_at is not None and time.monotonic() >= self._records_at:
                    await self._reread_records(client, emit)
                if self.polling and time.monotonic() >= poll_at:
                    poll_at = time.monotonic() + await self._reconcile(client, emit)
            elif note.kind == "up":
                ups += 1
                emit(self._status("subscribed", f"{self.label}: {CHANNEL} on the websocket"))
                if ups > 1:  # a reconnect: what changed while the socket was down
                    await self._reconcile(client, emit)
            elif note.kind == "state":
                await self._read_spot(client, when_older_than_s=SPOT_MAX_AGE_S)
                events = self._with_mode(state_events(note.doc, self.address, note.recv_ns, self.catalogue))
                self._emit_events(events, emit)
                await self._watch_closes(client, emit, events)
            elif note.kind == "down":
                emit(self._status("disconnected", f"{self.label}: {note.detail}"))
            elif note.kind == "problem":
                emit(self._status("error", f"{self.label}: {note.detail}"))
            elif note.kind == "refused":
                self._start_polling(emit, f"the venue refused the subscription ({note.detail})")
                poll_at = time.monotonic() + self.poll_interval_s

    def _start_polling(self, emit: Callable[[Event], None], why: str) -> None:
        self.polling = True
        emit(self._status("error", f"{self.label}: {why}; polling {CHANNEL} every {self.poll_interval_s:g} s "
                                   "instead"))

    async def _next_note(self, timeout: float | None) -> _Note | None:
        if not self._notes:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        return self._notes.popleft() if self._notes else None

    async def _reconcile(self, client: httpx.AsyncClient, emit: Callable[[Event], None]) -> float:
        """One request; its events are emitted. Returns the wait before the next poll."""
        events, retry_after = await self._request(client)
        self._emit_events(events, emit)
        await self._watch_closes(client, emit, events)
        if any(e.kind == "account_state" for e in events):
            self._backoff.reset()
            return self.poll_interval_s
        return max(self._backoff.next_delay(), retry_after or 0.0, 0.05)

    # ------------------------------------------------------------------ forced closes

    async def _watch_closes(self, client: httpx.AsyncClient, emit: Callable[[Event], None],
                            events: list[Event]) -> None:
        """After each state: a position that shrank or went has the user's fills read at once, then again
        after ``RECORDS_RETRY_S`` while no record explains it (the fills may lag the state); a later state
        does not read them again, so a user's own close costs a handful of requests, not one per push."""
        for state in events:
            if not isinstance(state, AccountState):
                continue
            self._closes_state = state
            self._closes.observe(state, int(time.time() * 1000))
            pending = {(symbol, side) for symbol, side, _since in self._closes.pending()}
            if not pending:
                self._records_asked.clear()
                self._records_at = None
            elif pending - self._records_asked:
                self._records_step = 0
                await self._read_records(client, emit)

    async def _reread_records(self, client: httpx.AsyncClient, emit: Callable[[Event], None]) -> None:
        self._records_step += 1
        await self._read_records(client, emit)

    async def _read_records(self, client: httpx.AsyncClient, emit: Callable[[Event], None]) -> None:
        """One ``userFillsByTime`` read for the pending positions; their liquidation and ADL fills are
        emitted (each once, ``remaining`` from the latest state). A failed read is a log line: the next
        re-read asks again."""
        pending = self._closes.pending()
        state = self._closes_state
        if pending and state is not None:
            start_ms = min(since for _symbol, _side, since in pending) - ClosesWatch.SLACK_MS
            try:
                closes, problems = await self._fills_since(client, start_ms)
            except Exception as exc:  # noqa: BLE001 - the closes are an addition: the state still flows
                closes, problems = [], [f"{FILLS} failed ({describe_error(exc)})"]
            for problem in problems:
                log.warning("%s: %s", self.label, problem)
            for close in self._closes.report(closes, state):
                emit(close)
        still = {(symbol, side) for symbol, side, _since in self._closes.pending()}
        self._records_asked = still
        if still and self._records_step < len(RECORDS_RETRY_S):
            self._records_at = time.monotonic() + RECORDS_RETRY_S[self._records_step]
        else:
            self._records_at = None

    async def _fills_since(self, client: httpx.AsyncClient, start_ms: int) -> tuple[list[ForcedClose], list[str]]:
        """The forced closes among the fills since ``start_ms``: a full page (a busy account) is followed by
        the next, from its last fill's time, up to ``FILLS_MAX_PAGES``. Raises on a refused request."""
        closes: list[ForcedClose] = []
        problems: list[str] = []
        for _page in range(FILLS_MAX_PAGES):
            self.fill_requests += 1
            response = await client.post(self.rest_url.rstrip("/") + INFO_PATH, json=fills_request(self.address, start_ms))
            if response.status_code != 200:
                raise StateError(_http_problem(response))
            doc = _decode(response.content)
            found, unread = forced_closes(doc, self.address, time.time_ns())
            closes.extend(found)
            problems.extend(unread)
            times = [t for fill in doc if isinstance(fill, dict) and (t := _ms(fill.get("time"))) is not None] \
                if isinstance(doc, list) else []
            if not isinstance(doc, list) or len(doc) < FILLS_PAGE or not times or max(times) <= start_ms:
                break
            start_ms = max(times)  # inclusive: the page's last fills come again, and ClosesWatch keeps each once
        return closes, problems

    def _emit_events(self, events: list[Event], emit: Callable[[Event], None]) -> None:
        """States when they changed; a problem once until it changes or clears."""
        for event in events:
            if isinstance(event, AccountState):
                if self._last_state is None or self._last_problem is not None:
                    count = len(event.positions)
                    emit(self._status("connected", f"{self.label}: following, {count} position(s)"))
                self._last_problem = None
                if self._last_state is None or not same_account_state(self._last_state, event):
                    emit(event)
                self._last_state = event
            elif isinstance(event, FeedStatus) and event.detail != self._last_problem:
                self._last_problem = event.detail
                emit(event)

    def _status(self, state: str, detail: str) -> FeedStatus:
        return _status(self.address, state, detail)




def _http_problem(response: httpx.Response) -> str:
    status = response.status_code
    if status == 429:
        return f"rate limited on {INFO_PATH} (HTTP 429)"
    if status >= 500:
        return f"server error on {INFO_PATH} (HTTP {status})"
    return f"{INFO_PATH} refused the request (HTTP {status}: {_snippet(response.text, 60)})"


def follower(account: Any, *, rest_url: str | None = None, ws_url: str | None = None, env: Any = None,
             **options: Any) -> HyperliquidFollower:
    """The follower of one ``[[account]] venue = "hyperliquid" address = …`` entry (no key: ``env`` unused)."""
    return HyperliquidFollower(account.address, rest_url=rest_url, ws_url=ws_url, **options)
