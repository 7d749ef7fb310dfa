"""OKX v5 (perpetual swaps) by read-only API key: signing, the reads of one round, the mapping.

Signing: ``OK-ACCESS-KEY``, ``OK-ACCESS-PASSPHRASE``, ``OK-ACCESS-TIMESTAMP`` (UTC ISO 8601 with
milliseconds, e.g. 2020-12-08T09:08:57.715Z) and ``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of
timestamp + method + requestPath + body, where a GET's query string is part of requestPath and the
body is empty. https://www.okx.com/docs-v5/en/#overview-rest-authentication (error codes 50101-50114
are HTTP 401: https://www.okx.com/docs-v5/en/#error-code).

Reads (all GETs):
- ``GET /api/v5/account/positions?instType=SWAP``: ``instId``, ``mgnMode`` cross/isolated,
  ``posSide`` net/long/short, ``pos`` in contracts (signed in net mode), ``avgPx``, ``lever``,
  ``liqPx``, ``markPx``, ``upl``, ``margin`` (isolated), ``mmr``, ``adl``, ``ccy`` (margin currency).
- ``GET /api/v5/account/balance?ccy=USDT``: the currency's ``eq``, ``isoEq``, ``upl``, ``isoUpl``,
  ``mmr`` (cross maintenance margin of the currency).
- ``GET /api/v5/account/config``: ``perm`` of the key ("read_only,withdraw,trade").
https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-positions, …-get-balance,
…-get-account-configuration.
- Only for a position that shrank or went (``ClosesWatch``): ``GET /api/v5/trade/fills`` of its
  instId since then, page after page (``next_page``; ``forced_closes`` says why the fills and not
  the positions history).

The position panel's figures (issue 15), from the positions read: ``bePx`` (breakeven price) →
``break_even_price``; ``fundingFee`` ("accumulated funding fee"; OKX documents ``realizedPnl = pnl +
fee + fundingFee + liqPenalty + settledPnl`` with a fee charged as a negative number, so a positive
``fundingFee`` was received and a negative one paid) → ``funding_pnl`` as given, in ``ccy``; the
``closeOrderAlgo`` list (TP/SL attached to the whole position, ``closeFraction`` 1) → its first
``tpTriggerPx`` / ``slTriggerPx`` → ``take_profit`` / ``stop_loss``.

Mapping: size = |pos| × ctVal for linear swaps (coin; ctVal from the catalogue,
engine/data/instruments/okx.toml ``venue_contract_size``), contracts for inverse ones (``-USD-``).
The balance has no cross wallet field, so ``wallet_balance`` = eq − isoEq − (upl − isoUpl): the
currency's equity outside isolated positions without the cross uPnL; ``account_value`` = eq − isoEq;
``maintenance_margin`` = the currency's ``mmr`` (UNCONFIRMED reading of OKX's balance fields).
ADL lights = ``adl`` 1–5 as given, 0 shown as 1 (OKX has six levels, 0 weakest; 5 = front).
Positions margined in another currency than ``settle`` are left out, named in ``warnings``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
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
    hmac_base64,
    integer,
    number,
    parse_json,
    positive_or_none,
    required,
    string,
)
from adlwatch.feeds.keys import Credentials
from adlwatch.feeds.venues.okx import market
from adlwatch.feeds.venues.okx.market import ADAPTER
from adlwatch.feeds.wire import ms as wire_ms
from adlwatch.feeds.wire import number as wire_number

log = logging.getLogger(__name__)

REST_URL = ADAPTER.rest_url  # the venue's one REST base (market.py)

POSITIONS = "/api/v5/account/positions"
BALANCE = "/api/v5/account/balance"
CONFIG = "/api/v5/account/config"
FILLS = "/api/v5/trade/fills"

_REJECTED = {"50100", "50101", "50103", "50104", "50105", "50106", "50107", "50108", "50109", "50110",
             "50111", "50113", "50114"}
_CLOCK = {"50102", "50112"}
_RATE = {"50011", "50061"}


def reads(settle: str) -> tuple[Read, ...]:
    return (Read(POSITIONS, (("instType", "SWAP"),)), Read(BALANCE, (("ccy", settle),)),
            Read(CONFIG, optional=True))


def timestamp(now_s: float) -> str:
    """2020-12-08T09:08:57.715Z"""
    ms = int(now_s * 1000)
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def prehash(stamp: str, method: str, request_path: str, body: str = "") -> str:
    return f"{stamp}{method.upper()}{request_path}{body}"


def sign(credentials: Credentials, read: Read, now_s: float, recv_window_ms: int) -> tuple[str, dict[str, str]]:
    if credentials.passphrase is None:
        raise ValueError("an OKX key needs its passphrase")
    query = urlencode(read.params)
    request_path = read.path + (f"?{query}" if query else "")
    stamp = timestamp(now_s)
    return query, {"OK-ACCESS-KEY": credentials.key.reveal(),
                   "OK-ACCESS-SIGN": hmac_base64(credentials.secret, prehash(stamp, "GET", request_path)),
                   "OK-ACCESS-TIMESTAMP": stamp,
                   "OK-ACCESS-PASSPHRASE": credentials.passphrase.reveal()}


def problem(status: int, text: str) -> Problem | None:
    """A ``code`` other than "0" (whatever the HTTP status) sorted by what the follower does next."""
    code, message = _error(text)
    if code is None or code == "0":
        return None
    detail = f"{message} (code {code})" if message else f"code {code}"
    return classify(code, detail, _REJECTED, _CLOCK, _RATE)


def _error(text: str) -> tuple[str | None, str]:
    try:
        body = parse_json(text, "error")
    except BodyError:
        return None, ""
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return None, ""
    message = body.get("msg")
    return body["code"], message if isinstance(message, str) else ""


# ---------------------------------------------------------------------------- mapping


def account_state(bodies: Mapping[str, str], context: MapContext) -> AccountState:
    """The ``AccountState`` of one round's bodies; ``BodyError`` for a body it cannot read."""
    positions: list[ImportedPosition] = []
    warnings: list[str] = []
    elsewhere: dict[str, list[str]] = {}  # positions margined in the key's other currencies, by currency
    for i, item in enumerate(_data(bodies[POSITIONS], POSITIONS)):
        where = f"{POSITIONS}.data[{i}]"
        row = as_dict(item, where)
        contracts = required(row, "pos", where)
        if contracts == 0:
            continue
        symbol = string(row, "instId", where)
        currency = string(row, "ccy", where)
        if currency != context.settle:
            elsewhere.setdefault(currency, []).append(symbol)
            continue
        size = _size(symbol, abs(contracts), context.contract_values)
        if size is None:
            warnings.append(f"{symbol}: contract value (ctVal) unknown, so its size in coin is too: not shown")
            continue
        positions.append(_position(row, where, symbol, contracts, size))
    warnings.extend(elsewhere_warnings(elsewhere, context))
    wallet, value, maintenance, updated = _balance(bodies[BALANCE], context.settle)
    config = bodies.get(CONFIG)
    permissions = permissions_of(_data(config, CONFIG)) if config else []
    return AccountState(venue="okx", symbol=context.ref, ts=updated, recv_ns=context.recv_ns,
                        settle=context.settle, wallet_balance=wallet, positions=positions,
                        account_value=value, maintenance_margin=maintenance, permissions=permissions,
                        warnings=warnings)


def _size(symbol: str, contracts: float, contract_values: Mapping[str, float]) -> float | None:
    if symbol.split("-")[1:2] == ["USD"]:
        return contracts  # inverse swaps: adlwatch counts contracts
    value = contract_values.get(symbol)
    return contracts * value if value else None


def _position(row: dict, where: str, symbol: str, contracts: float, size: float) -> ImportedPosition:
    pos_side = string(row, "posSide", where)
    isolated = string(row, "mgnMode", where) == "isolated"
    side = pos_side if pos_side in ("long", "short") else ("long" if contracts > 0 else "short")
    level = integer(row, "adl", where, optional=True)
    leverage = required(row, "lever", where)
    return ImportedPosition(
        symbol=symbol,
        side=side,
        size=size,
        entry_price=required(row, "avgPx", where),
        leverage=leverage,
        margin_mode="isolated" if isolated else "cross",
        isolated_margin=number(row, "margin", where, optional=True) if isolated else None,
        liquidation_price=positive_or_none(number(row, "liqPx", where, optional=True)),
        adl_lights=max(1, level) if level is not None and 0 <= level <= 5 else None,
        adl_raw=f"adl {level} of 0-5" if level is not None else None,
        mark_price=number(row, "markPx", where, optional=True),
        unrealized_pnl=number(row, "upl", where, optional=True),
        break_even_price=positive_or_none(number(row, "bePx", where, optional=True)),
        funding_pnl=number(row, "fundingFee", where, optional=True),
        take_profit=_trigger(row, "tpTriggerPx"),
        stop_loss=_trigger(row, "slTriggerPx"),
    )


def _trigger(row: dict, name: str) -> float | None:
    """The first positive ``name`` among the position's ``closeOrderAlgo`` orders; None when none is
    set. The list is optional (absent on older answers): a malformed entry is no trigger, not an error."""
    algos = row.get("closeOrderAlgo")
    if not isinstance(algos, list):
        return None
    for algo in algos:
        if isinstance(algo, dict):
            value = wire_number(algo.get(name))
            if value is not None and value > 0:
                return value
    return None


def _data(text: str, what: str) -> list:
    body = as_dict(parse_json(text, what), what)
    if body.get("code") != "0":
        raise BodyError(f"{what}: code is not 0")
    return as_list(body.get("data"), f"{what}.data")


def _balance(text: str, settle: str) -> tuple[float, float, float | None, int | None]:
    """(wallet without uPnL, cross equity, cross maintenance margin, uTime) of the currency."""
    for i, item in enumerate(_data(text, BALANCE)):
        account = as_dict(item, f"{BALANCE}.data[{i}]")
        for j, detail in enumerate(as_list(account.get("details"), f"{BALANCE}.data[{i}].details")):
            where = f"{BALANCE}.data[{i}].details[{j}]"
            row = as_dict(detail, where)
            if row.get("ccy") != settle:
                continue
            equity = required(row, "eq", where)
            isolated_equity = number(row, "isoEq", where, optional=True) or 0.0
            unrealized = number(row, "upl", where, optional=True) or 0.0
            isolated_unrealized = number(row, "isoUpl", where, optional=True) or 0.0
            cross_equity = equity - isolated_equity
            return (cross_equity - (unrealized - isolated_unrealized), cross_equity,
                    number(row, "mmr", where, optional=True),
                    integer(row, "uTime", where, optional=True)
                    or integer(account, "uTime", f"{BALANCE}.data[{i}]", optional=True))
    raise BodyError(f"{BALANCE}: no row for the settlement currency")


def permissions_of(data: list) -> list[str]:
    """From ``perm``: read_only → read, trade, withdraw."""
    if not data:
        return []
    perm = as_dict(data[0], f"{CONFIG}.data[0]").get("perm")
    if not isinstance(perm, str):
        return []
    names = {"read_only": "read", "trade": "trade", "withdraw": "withdraw"}
    parts = [p.strip() for p in perm.split(",")]
    return [names[p] for p in ("read_only", "trade", "withdraw") if p in parts]


def contract_values() -> dict[str, float]:
    """Contract values (ctVal) of the catalogue's swaps (the bundled tables and the refreshed tier
    cache, ``market.contract_values``): wire contracts to coin for linear swaps (inverse swaps are
    counted in contracts and never look theirs up here)."""
    return market.contract_values()


# ---------------------------------------------------------------------------- "you were liquidated / ADL'd"

# The fills' transaction types (``subType``) of the venue's forced closes, with the side of the
# position each closes and its cause. Hedge mode names the position (close long/short), net mode the
# order (a sell closes a long). Partial liquidation is a liquidation of part of the position.
# https://www.okx.com/docs-v5/en/#order-book-trading-trade-get-transaction-details-last-3-days
FORCED_SUBTYPES: dict[str, tuple[str, str, str]] = {
    "100": ("liquidation", "long", "partial liquidation close long"),
    "101": ("liquidation", "short", "partial liquidation close short"),
    "102": ("liquidation", "short", "partial liquidation buy"),
    "103": ("liquidation", "long", "partial liquidation sell"),
    "104": ("liquidation", "long", "liquidation long"),
    "105": ("liquidation", "short", "liquidation short"),
    "106": ("liquidation", "short", "liquidation buy"),
    "107": ("liquidation", "long", "liquidation sell"),
    "125": ("adl", "long", "ADL close long"),
    "126": ("adl", "short", "ADL close short"),
    "127": ("adl", "short", "ADL buy"),
    "128": ("adl", "long", "ADL sell"),
}


# One fills page holds at most 100 fills, newest first; ``after`` = a billId asks for the fills
# before it (older). The endpoint allows 60 requests per 2 s per user: with the round's own three
# reads, 20 further pages a round (2,000 fills since the shrink) stay well inside it even when the
# answers come back at once. https://www.okx.com/docs-v5/en/#order-book-trading-trade-get-transaction-details-last-3-days
FILLS_LIMIT = 100
FILLS_PAGES = 20


def record_reads(pending: list[tuple[str, str, int]]) -> tuple[Read, ...]:
    """The first read of ``GET /api/v5/trade/fills`` per contract that shrank or went, from a little
    before the report that still showed it (the fills of the last 3 days, newest first);
    ``next_page`` reads on until the window is covered."""
    since: dict[str, int] = {}
    for symbol, _side, since_ms in pending:
        since[symbol] = min(since_ms, since.get(symbol, since_ms))
    return tuple(Read(FILLS, (("instType", "SWAP"), ("instId", symbol),
                              ("begin", str(max(0, start - ClosesWatch.SLACK_MS))), ("limit", str(FILLS_LIMIT))))
                 for symbol, start in since.items())


def next_page(read: Read, text: str) -> Read | None:
    """The read of the fills older than the last of ``text`` (``after`` = its billId), or None: the
    page was not full (the window since ``begin`` is covered) or cannot be read (``forced_closes``
    says so)."""
    params = dict(read.params)
    try:
        rows = _data(text, FILLS)
    except BodyError:
        return None
    limit = int(params.get("limit", FILLS_LIMIT))
    if len(rows) < limit or not isinstance(rows[-1], dict):
        return None
    last = rows[-1].get("billId")
    begin = wire_number(params.get("begin"))
    oldest = wire_ms(rows[-1].get("ts"))
    if not isinstance(last, str) or not last.isdigit() or (begin is not None and oldest is not None
                                                          and oldest < begin):
        return None
    return Read(read.path, (*((k, v) for k, v in read.params if k != "after"), ("after", last)), read.host)


def forced_closes(pairs: list[tuple[Read, str]], context: MapContext) -> list[ForcedClose]:
    """The liquidation and ADL fills among the fills read, each a ``ForcedClose`` (``remaining`` is
    set by ``ClosesWatch``): ``fillPx`` the price, ``fillSz`` contracts (coin for a linear swap, with
    its ctVal), the closed position's side from the transaction type, ``fillTime`` the time.

    Why the fills and not ``GET /api/v5/account/positions-history`` (whose ``type`` 3/4 is a
    liquidation and 5/6 an ADL): a positions-history row is one per position, its ``closeAvgPx`` and
    ``closeTotalPos`` add up every close of the position (the user's own partial closes too) and its
    ``type`` is only the latest close's. A fill is one execution: its own price, size, time and
    transaction type, so each forced close is told apart from the user's trades and measured on its
    own (the page lists the liquidation and ADL types among the fills' ``subType`` values, and says
    their ``tradeId`` is negative). ``pairs`` holds every page read (``next_page``): a liquidation
    filled in hundreds of pieces, or one behind many of the user's own fills, is found on a later page.
    ``BodyError`` for a body that is not the venue's answer; a malformed fill row is skipped (logged)
    so that the others still alert."""
    out: list[ForcedClose] = []
    for read, text in pairs:
        wanted = dict(read.params).get("instId")
        for i, item in enumerate(_data(text, FILLS)):
            sub_type = item.get("subType") if isinstance(item, dict) else None
            if not isinstance(sub_type, str) or sub_type not in FORCED_SUBTYPES:
                continue  # the user's own trades (and anything else) are no forced close
            if wanted is not None and item.get("instId") != wanted:
                continue
            close = _forced_close(item, context)
            if close is None:
                log.warning("okx %s: fill %d of %s unreadable: skipped", context.ref, i, FILLS)
                continue
            out.append(close)
    return out


def _forced_close(item: dict[str, Any], context: MapContext) -> ForcedClose | None:
    cause, side, words = FORCED_SUBTYPES[item["subType"]]
    symbol = item.get("instId")
    if not isinstance(symbol, str) or not symbol:
        return None
    if item.get("posSide") in ("long", "short"):
        side = item["posSide"]  # hedge mode names the position itself
    price = wire_number(item.get("fillPx"))
    contracts = wire_number(item.get("fillSz"))
    if price is None or price <= 0 or contracts is None or contracts <= 0:
        return None
    size = _size(symbol, contracts, context.contract_values)
    if size is None:
        return None  # the contract's ctVal is unknown: its size in coin is too
    ts = wire_ms(item.get("fillTime")) or wire_ms(item.get("ts"))
    return ForcedClose(venue="okx", symbol=symbol, ts=ts, recv_ns=context.recv_ns, account=context.ref,
                       side=side, cause=cause, price=price, size=size, remaining=0.0,
                       detail=f"fills subType {item['subType']} ({words})")


# Every endpoint ``reads`` and ``record_reads`` may ask for; the only ones an OKX key is ever sent to.
READ_PATHS = frozenset({POSITIONS, BALANCE, CONFIG, FILLS})

RULES = VenueRules(venue="okx", rest_url=REST_URL, reads=reads, sign=sign, problem=problem,
                   account_state=account_state,
                   read_paths=READ_PATHS, contract_values=contract_values,
                   record_reads=record_reads, forced_closes=forced_closes,
                   next_page=next_page, record_pages=FILLS_PAGES)
