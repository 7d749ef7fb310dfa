"""Bybit v5 (unified account: USDT and USDC perpetuals, inverse contracts) by read-only API key:
signing, reads, mapping.

Signing: ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` (ms), ``X-BAPI-RECV-WINDOW`` (default 5000) and
``X-BAPI-SIGN`` = hex HMAC-SHA256 of timestamp + key + recvWindow + query string; the server refuses
a timestamp outside ``server_time - recv_window <= timestamp < server_time + 1000``.
https://bybit-exchange.github.io/docs/v5/guide (bybit-exchange/docs ``docs/v5/guide.mdx``)

Reads (all GETs):
- ``GET /v5/position/list?category=linear&settleCoin=USDT&limit=200``: ``side`` Buy/Sell, ``size``
  (coin), ``avgPrice``, ``leverage``, ``markPrice``, ``liqPrice`` ("" when none), ``positionIM``,
  ``positionBalance``, ``tradeMode`` (1 = isolated; deprecated under the unified account),
  ``adlRankIndicator`` (0 = empty position, then 1–5), ``unrealisedPnl``, ``takeProfit`` / ``stopLoss``
  (trigger prices; "0.00" or "" when none is set) and ``breakEvenPrice`` (linear and inverse, added
  2026-01-13: ``docs/changelog/v5.mdx``; its definition is on the private position stream's page,
  https://bybit-exchange.github.io/docs/v5/websocket/private/position). ``docs/v5/position/position.mdx``
  No field of it is the funding since the position opened: ``curRealisedPnl`` is the current
  position's realised PnL (fees and funding together), ``cumRealisedPnl`` the all-time one, so
  ``funding_pnl`` stays None.
- ``GET /v5/account/wallet-balance?accountType=UNIFIED&coin=USDT``: the coin's ``walletBalance``,
  ``equity``, ``totalPositionMM``. ``docs/v5/account/wallet-balance.mdx``
- ``GET /v5/account/info``: ``marginMode`` (ISOLATED_MARGIN makes every position isolated).
  ``docs/v5/account/account-info.mdx``
- ``GET /v5/user/query-api``: ``readOnly`` and ``permissions`` of the key. ``docs/v5/user/apikey-info.mdx``
- Only for a position that shrank or went ("you were liquidated / ADL'd"): ``GET /v5/execution/list``
  (``category``, ``symbol``, ``execType``, ``startTime``, ``limit`` ≤ 100; newest first): ``execType``
  ``BustTrade`` (takeover liquidation) and ``AdlTrade`` (auto-deleveraging), ``side`` of the closing
  order (Sell closes a long), ``execPrice``, ``execQty`` (linear: coin; inverse: contracts),
  ``execTime`` (ms). https://bybit-exchange.github.io/docs/v5/order/execution
  (``docs/v5/order/execution.mdx``; the enums ``execType`` and ``createType``: ``docs/v5/enum.mdx``).
  A full page carries ``nextPageCursor``: the next page is asked with ``cursor`` (``next_page``).
  Bybit's laddered liquidation (``createType`` ``CreateByLiq``) is read too, from the ``Trade``
  executions: UNCONFIRMED that its fills are ``execType`` Trade rather than BustTrade.
Error codes (``retCode``): ``docs/v5/error.mdx``.

Which account: ``settle`` (the portfolio's ``settle = …``, USDT by default) names one margin account
of the key. USDT and USDC are linear (``category=linear&settleCoin=USDC``: USDC perpetuals such as
BTCPERP). Any other asset is an inverse coin: ``GET /v5/position/list?category=inverse&limit=200``
(the page says all open inverse positions come with ``category=inverse``; ``settleCoin`` is only
documented as required for linear, so it is not sent) keeps the positions whose symbol settles in
that coin (``BTCUSD``, ``BTCUSDH27``: BTC) and names the other coins' in ``warnings``, and the wallet
is the coin's row of the unified wallet (``coin=BTC``: walletBalance, equity, totalPositionMM, all
in BTC). Inverse sizes are 1-USD contracts on the wire and in adlwatch (catalogue ``contract_size``
1), so they are taken as they are. https://bybit-exchange.github.io/docs/v5/position,
https://bybit-exchange.github.io/docs/v5/account/wallet-balance

How Bybit margins inverse contracts (https://bybit-exchange.github.io/docs/v5/acct-mode): under the
unified account 2.0 (``unifiedMarginStatus`` 5) they trade in the unified account; in cross and
portfolio margin the margin is shared by all trades, every collateral asset counted in USD after
its haircut; in isolated margin (``marginMode`` ISOLATED_MARGIN) each position has its own margin
(UNCONFIRMED: which inverse contracts the isolated mode takes, and that their margin is in the coin;
they are read as isolated like the linear ones). adlwatch models one settlement asset per account:
the coin's walletBalance is the cross collateral of that coin's positions, as the USDT account takes
the USDT row alone; what the other assets of the account add (or their losses take) is not
modelled, so the venue's own ``liqPrice`` (an estimate for cross positions, per the page) is shown
beside adlwatch's. Under the unified
account 1.0 and the classic account (``unifiedMarginStatus`` 1, 3, 4) inverse contracts are margined
in a separate inverse derivatives wallet (``accountType=CONTRACT``), which is not read: such an
account says so in ``warnings``. UNCONFIRMED: that ``positionIM`` / ``positionBalance`` of an
inverse position are in its coin (the page's example gives ``positionValue`` in BTC).

Mapping: ``wallet_balance`` = the coin's walletBalance; ``account_value`` = its equity;
``maintenance_margin`` = its totalPositionMM (these cover every position of the coin; under the
regular unified margin every USDT position is cross). ``isolated_margin`` = positionBalance, else
positionIM (UNCONFIRMED that either excludes uPnL; Bybit deprecated positionBalance). ADL lights =
adlRankIndicator 1–5 as given; which end is the front is UNCONFIRMED (exchanges.md §2.1), 5 is taken
as the front as in Bybit's app. A position whose leverage is not reported (portfolio margin) is left
out and named in ``warnings``. A position's ``maintenance_margin`` = positionMM (settlement asset),
used with its unrealisedPnl only where adlwatch cannot model the contract.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from adlwatch.engine.events import AccountState, ForcedClose, ImportedPosition
from adlwatch.feeds.accounts.follower import ClosesWatch
from adlwatch.feeds.accounts.signed import (
    BodyError,
    MapContext,
    Problem,
    Read,
    VenueRules,
    as_dict,
    as_list,
    classify,
    elsewhere_warnings,
    hmac_hex,
    integer,
    number,
    parse_json,
    positive_or_none,
    required,
    string,
)
from adlwatch.feeds.keys import Credentials
from adlwatch.feeds.venues.bybit.market import ADAPTER

REST_URL = ADAPTER.rest_url  # the venue's one REST base (market.py)

POSITION_LIST = "/v5/position/list"
WALLET_BALANCE = "/v5/account/wallet-balance"
ACCOUNT_INFO = "/v5/account/info"
QUERY_API = "/v5/user/query-api"
EXECUTION_LIST = "/v5/execution/list"
PAGE_LIMIT = 200
EXECUTION_PAGE_LIMIT = 100  # the most the execution list gives a page

_REJECTED = {10003: "API key is invalid", 10004: "signature not valid (wrong secret?)",
             10005: "permission denied", 10007: "authentication failed", 10008: "user banned",
             10009: "IP banned", 10010: "request IP not bound to the key"}
_OTHERS = {10002: "request timestamp outside the receive window", 10006: "too many requests",
           10018: "IP rate limit exceeded", 10016: "internal error"}
_CLOCK = {10002}
_RATE = {10006, 10018}


LINEAR_SETTLES = ("USDT", "USDC")  # the linear settlement coins; any other asset is an inverse coin
# An inverse contract's coin: BTCUSD (perpetual) and BTCUSDH27 (dated future) settle in BTC.
_INVERSE_SYMBOL = re.compile(r"([A-Z0-9]+?)USD(?:[FGHJKMNQUVXZ]\d\d)?")
# unifiedMarginStatus of the accounts whose inverse contracts live in their own wallet (1 classic,
# 3 and 4 the unified account 1.0): https://bybit-exchange.github.io/docs/v5/acct-mode
_SEPARATE_INVERSE_WALLET = {1, 3, 4}


def is_inverse_settle(settle: str) -> bool:
    """An account in ``settle`` holds inverse contracts (a coin), not linear ones (USDT, USDC)."""
    return settle.upper() not in LINEAR_SETTLES


def inverse_coin(symbol: str) -> str | None:
    """The coin an inverse symbol settles in (BTCUSD → BTC), None for a linear one."""
    match = _INVERSE_SYMBOL.fullmatch(symbol.upper())
    return match.group(1) if match else None


def reads(settle: str) -> tuple[Read, ...]:
    if is_inverse_settle(settle):
        positions = (("category", "inverse"), ("limit", str(PAGE_LIMIT)))
    else:
        positions = (("category", "linear"), ("settleCoin", settle), ("limit", str(PAGE_LIMIT)))
    return (
        Read(POSITION_LIST, positions),
        Read(WALLET_BALANCE, (("accountType", "UNIFIED"), ("coin", settle))),
        Read(ACCOUNT_INFO),
        Read(QUERY_API, optional=True),
    )


def sign_payload(timestamp_ms: int, api_key: str, recv_window_ms: int, query: str) -> str:
    """What is signed for a GET: timestamp + key + recvWindow + query string."""
    return f"{timestamp_ms}{api_key}{recv_window_ms}{query}"


def sign(credentials: Credentials, read: Read, now_s: float, recv_window_ms: int) -> tuple[str, dict[str, str]]:
    query = urlencode(read.params)
    timestamp_ms = int(now_s * 1000)
    signature = hmac_hex(credentials.secret,
                         sign_payload(timestamp_ms, credentials.key.reveal(), recv_window_ms, query))
    return query, {"X-BAPI-API-KEY": credentials.key.reveal(), "X-BAPI-TIMESTAMP": str(timestamp_ms),
                   "X-BAPI-RECV-WINDOW": str(recv_window_ms), "X-BAPI-SIGN": signature}


def problem(status: int, text: str) -> Problem | None:
    """A non-zero ``retCode`` (whatever the HTTP status) sorted by what the follower does next."""
    code, message = _error(text)
    if code is None or code == 0:
        return None
    # Bybit's messages carry request details (a sign error echoes the signed text): known codes
    # get a phrase of ours, unknown ones the venue's message.
    known = _REJECTED.get(code) or _OTHERS.get(code)
    detail = f"{known or message or 'error'} (retCode {code})"
    return classify(code, detail, _REJECTED, _CLOCK, _RATE)


def _error(text: str) -> tuple[int | None, str]:
    try:
        body = parse_json(text, "error")
    except BodyError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    code, message = body.get("retCode"), body.get("retMsg")
    if isinstance(code, bool) or not isinstance(code, int):
        return None, ""
    return code, message if isinstance(message, str) else ""


# ---------------------------------------------------------------------------- mapping


def account_state(bodies: Mapping[str, str], context: MapContext) -> AccountState:
    """The ``AccountState`` of one round's bodies; ``BodyError`` for a body it cannot read."""
    info = _result(bodies[ACCOUNT_INFO], ACCOUNT_INFO)
    isolated_account = _margin_mode(info) == "ISOLATED_MARGIN"
    inverse = is_inverse_settle(context.settle)
    listing = _result(bodies[POSITION_LIST], POSITION_LIST)
    positions: list[ImportedPosition] = []
    warnings: list[str] = []
    elsewhere: dict[str, list[str]] = {}  # inverse: other coins' positions, by coin
    for i, item in enumerate(as_list(listing.get("list"), f"{POSITION_LIST}.list")):
        where = f"{POSITION_LIST}.list[{i}]"
        row = as_dict(item, where)
        side = row.get("side")
        size = required(row, "size", where)
        if side not in ("Buy", "Sell") or size == 0:
            continue  # an empty position ("" or "None" side)
        symbol = string(row, "symbol", where)
        if inverse and inverse_coin(symbol) != context.settle:
            elsewhere.setdefault(inverse_coin(symbol) or "?", []).append(symbol)
            continue
        leverage = number(row, "leverage", where, optional=True)
        if leverage is None or leverage <= 0:
            warnings.append(f"{symbol}: leverage not reported (portfolio margin?): not shown")
            continue
        positions.append(_position(row, where, symbol, side, size, leverage, isolated_account))
    if listing.get("nextPageCursor"):
        warnings.append(f"more than {PAGE_LIMIT} positions: only the first {PAGE_LIMIT} are shown")
    warnings.extend(elsewhere_warnings(elsewhere, context))
    status = _account_status(info) if inverse else None
    if status in _SEPARATE_INVERSE_WALLET:
        warnings.append(f"unifiedMarginStatus {status}: inverse contracts are margined in the separate inverse "
                        f"derivatives wallet, which adlwatch does not read; the {context.settle} balance shown "
                        "is the unified account's")
    wallet = _wallet(bodies[WALLET_BALANCE], context.settle)
    key_info = bodies.get(QUERY_API)
    permissions = permissions_of(_result(key_info, QUERY_API)) if key_info else []
    return AccountState(venue="bybit", symbol=context.ref, ts=wallet["time"], recv_ns=context.recv_ns,
                        settle=context.settle, wallet_balance=wallet["walletBalance"], positions=positions,
                        account_value=wallet["equity"], maintenance_margin=wallet["totalPositionMM"],
                        permissions=permissions, warnings=warnings)


def _position(row: dict, where: str, symbol: str, side: str, size: float, leverage: float,
              isolated_account: bool) -> ImportedPosition:
    isolated = isolated_account or integer(row, "tradeMode", where, optional=True) == 1
    rank = integer(row, "adlRankIndicator", where, optional=True)
    return ImportedPosition(
        symbol=symbol,
        side="long" if side == "Buy" else "short",
        size=size,
        entry_price=required(row, "avgPrice", where),
        leverage=leverage,
        margin_mode="isolated" if isolated else "cross",
        isolated_margin=_isolated_margin(row, where) if isolated else None,
        liquidation_price=positive_or_none(number(row, "liqPrice", where, optional=True)),
        adl_lights=rank if rank is not None and 1 <= rank <= 5 else None,
        adl_raw=f"adlRankIndicator {rank} of 1-5" if rank else None,
        mark_price=number(row, "markPrice", where, optional=True),
        unrealized_pnl=number(row, "unrealisedPnl", where, optional=True),
        break_even_price=_panel_price(row, "breakEvenPrice"),
        take_profit=_panel_price(row, "takeProfit"),
        stop_loss=_panel_price(row, "stopLoss"),
        maintenance_margin=_maintenance(row, symbol),
    )


def _maintenance(row: dict, symbol: str) -> float | None:
    """``positionMM`` (settlement asset), held with the venue's uPnL for a cross position adlwatch
    cannot model (an inverse dated future). An inverse one without it counts 0 rather than falling to
    the linear formula, which would read its USD contracts as coin."""
    try:
        value = number(row, "positionMM", "positionMM", optional=True)
    except BodyError:
        value = None
    if value is None or value < 0:
        return 0.0 if inverse_coin(symbol) is not None else None
    return value


def _panel_price(row: dict, name: str) -> float | None:
    """A price the position panel only shows (TP, SL, break-even): None when absent, unset ("0.00",
    "") or unreadable; such a field never makes the whole account unreadable."""
    try:
        return positive_or_none(number(row, name, name, optional=True))
    except BodyError:
        return None


def _isolated_margin(row: dict, where: str) -> float | None:
    balance = positive_or_none(number(row, "positionBalance", where, optional=True))
    return balance if balance is not None else positive_or_none(number(row, "positionIM", where, optional=True))


def _result(text: str, what: str) -> dict:
    return _checked(parse_json(text, what), what)


def _checked(body: Any, what: str) -> dict:
    """The ``result`` of a successful answer (``retCode`` 0)."""
    body = as_dict(body, what)
    if body.get("retCode") != 0:
        raise BodyError(f"{what}: retCode is not 0")
    return as_dict(body.get("result"), f"{what}.result")


def _account_status(result: dict) -> int | None:
    """``unifiedMarginStatus`` (None where absent or unreadable: it only adds a warning)."""
    try:
        return integer(result, "unifiedMarginStatus", ACCOUNT_INFO, optional=True)
    except BodyError:
        return None


def _margin_mode(result: dict) -> str:
    mode = result.get("marginMode")
    return mode if isinstance(mode, str) else ""


def _wallet(text: str, settle: str) -> dict[str, Any]:
    body = parse_json(text, WALLET_BALANCE)
    result = _checked(body, WALLET_BALANCE)
    for i, item in enumerate(as_list(result.get("list"), f"{WALLET_BALANCE}.list")):
        account = as_dict(item, f"{WALLET_BALANCE}.list[{i}]")
        for j, coin in enumerate(as_list(account.get("coin"), f"{WALLET_BALANCE}.list[{i}].coin")):
            where = f"{WALLET_BALANCE}.list[{i}].coin[{j}]"
            row = as_dict(coin, where)
            if row.get("coin") == settle:
                return {"walletBalance": required(row, "walletBalance", where),
                        "equity": required(row, "equity", where),
                        "totalPositionMM": number(row, "totalPositionMM", where, optional=True),
                        "time": integer(body, "time", WALLET_BALANCE, optional=True)}
    raise BodyError(f"{WALLET_BALANCE}: no row for the settlement coin")


def permissions_of(result: Any) -> list[str]:
    """read; and for a read-write key (``readOnly`` 0) trade, plus withdraw / transfer from its
    ``Wallet`` group. A read-only key ticks groups too, but may only read them."""
    info = as_dict(result, QUERY_API)
    if info.get("readOnly") == 1:
        return ["read"]
    groups = info.get("permissions") if isinstance(info.get("permissions"), dict) else {}
    wallet = groups.get("Wallet") if isinstance(groups.get("Wallet"), list) else []
    permissions = ["read", "trade"]
    if "Withdraw" in wallet:
        permissions.append("withdraw")
    if "AccountTransfer" in wallet or "SubMemberTransfer" in wallet:
        permissions.append("transfer")
    return permissions


# ---------------------------------------------------------------------------- closing records

# execType -> cause; and the createType of a liquidation or ADL order whose fills are plain Trades
_CAUSE_BY_EXEC_TYPE = {"BustTrade": "liquidation", "AdlTrade": "adl"}
_CAUSE_BY_CREATE_TYPE = {"CreateByLiq": "liquidation", "CreateByTakeOver_PassThrough": "liquidation",
                         "CreateByAdl_PassThrough": "adl"}
RECORD_EXEC_TYPES = ("BustTrade", "AdlTrade", "Trade")


def record_reads(pending: list[tuple[str, str, int]]) -> tuple[Read, ...]:
    """The execution-list reads for positions that shrank or went, given as (symbol, side, since_ms):
    one per execType of ``RECORD_EXEC_TYPES`` and symbol (both sides of a hedged symbol share them),
    from a little before the earliest shrink."""
    since_by_symbol: dict[str, int] = {}
    for symbol, _side, since_ms in pending:
        since_by_symbol[symbol] = min(since_ms, since_by_symbol.get(symbol, since_ms))
    out: list[Read] = []
    for symbol, since_ms in since_by_symbol.items():
        category = "inverse" if inverse_coin(symbol) is not None else "linear"
        start = str(max(since_ms - ClosesWatch.SLACK_MS, 0))  # as early as the follower keeps a record from
        for exec_type in RECORD_EXEC_TYPES:
            out.append(Read(EXECUTION_LIST, (("category", category), ("symbol", symbol), ("execType", exec_type),
                                             ("startTime", start), ("limit", str(EXECUTION_PAGE_LIMIT)))))
    return tuple(out)


RECORD_PAGES = 20  # further execution-list pages a round may read (the first pages are one per read)


def next_page(read: Read, text: str) -> Read | None:
    """The execution list's next page (``cursor`` = the answer's ``nextPageCursor``), or None: the
    answer has none (the records since ``startTime`` are all read) or cannot be read (``forced_closes``
    says so)."""
    try:
        cursor = _result(text, EXECUTION_LIST).get("nextPageCursor")
    except BodyError:
        return None
    if not isinstance(cursor, str) or not cursor or dict(read.params).get("cursor") == cursor:
        return None
    return Read(read.path, (*((k, v) for k, v in read.params if k != "cursor"), ("cursor", cursor)), read.host)


def forced_closes(pairs: list[tuple[Read, str]], context: MapContext) -> list[ForcedClose]:
    """The liquidation and ADL fills of execution-list bodies; ``BodyError`` for a body it cannot read.
    The user's own trades (any other execType and createType) are never among them; ``remaining`` is
    left 0 (the follower sets it from its report)."""
    out: list[ForcedClose] = []
    for _read, text in pairs:
        listing = _result(text, EXECUTION_LIST)
        for i, item in enumerate(as_list(listing.get("list"), f"{EXECUTION_LIST}.list")):
            close = _forced_close(as_dict(item, f"{EXECUTION_LIST}.list[{i}]"), f"{EXECUTION_LIST}.list[{i}]",
                                  context)
            if close is not None:
                out.append(close)
    return out


def _forced_close(row: dict, where: str, context: MapContext) -> ForcedClose | None:
    exec_type, create_type = row.get("execType"), row.get("createType")
    cause = _CAUSE_BY_EXEC_TYPE.get(exec_type) if isinstance(exec_type, str) else None
    if cause is None and exec_type == "Trade" and isinstance(create_type, str):
        cause = _CAUSE_BY_CREATE_TYPE.get(create_type)
    side = row.get("side")
    if cause is None or side not in ("Buy", "Sell"):
        return None
    price, size = required(row, "execPrice", where), required(row, "execQty", where)
    symbol, ts_ms = string(row, "symbol", where), integer(row, "execTime", where)
    if price <= 0 or size <= 0 or not symbol or not ts_ms or ts_ms <= 0:
        raise BodyError(f"{where}: execPrice, execQty, symbol or execTime unusable")
    detail = f"execType {exec_type}" + (f", createType {create_type}" if exec_type == "Trade" else "")
    return ForcedClose(venue="bybit", symbol=symbol, ts=ts_ms,
                       recv_ns=context.recv_ns, account=context.ref,
                       side="long" if side == "Sell" else "short",  # the closing order's side: Sell closes a long
                       cause=cause, price=price, size=size, remaining=0.0, detail=detail)


# Every endpoint ``reads`` and ``record_reads`` may ask for; the only ones a bybit key is ever sent to.
READ_PATHS = frozenset({POSITION_LIST, WALLET_BALANCE, ACCOUNT_INFO, QUERY_API, EXECUTION_LIST})

RULES = VenueRules(venue="bybit", rest_url=REST_URL, reads=reads, sign=sign, problem=problem,
                   account_state=account_state,
                   read_paths=READ_PATHS, record_reads=record_reads, forced_closes=forced_closes,
                   next_page=next_page, record_pages=RECORD_PAGES)
