"""Binance USDⓈ-M futures by read-only API key: signing, the reads of one round, the mapping.

Signing: HMAC-SHA256 (hex) over the exact query string, which ends with ``recvWindow`` and
``timestamp`` (ms) before ``&signature=``; the key travels in the ``X-MBX-APIKEY`` header. The
server refuses a timestamp older than recvWindow or more than 1 s ahead of its clock.
https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info

Reads (all USER_DATA GETs):
- ``GET /fapi/v3/positionRisk``: positions (signed ``positionAmt`` in coin, ``entryPrice``,
  ``breakEvenPrice``, ``markPrice``, ``unRealizedProfit``, ``liquidationPrice``, ``isolatedWallet``,
  ``maintMargin``, ``updateTime``; no take-profit or stop-loss: those stay None).
  …/trade/rest-api/Position-Information-V3
- ``GET /fapi/v1/symbolConfig``: leverage and ``marginType`` (v3 positionRisk has neither).
  …/account/rest-api/Symbol-Config
- ``GET /fapi/v3/account``: the settlement asset's ``crossWalletBalance`` and ``crossUnPnl``.
  …/account/rest-api/Account-Information-V3
- ``GET /fapi/v1/adlQuantile``: 0–4 per position side ("BOTH" one-way, "LONG"/"SHORT" hedge).
  …/trade/rest-api/Position-ADL-Quantile-Estimation
- ``GET /fapi/v1/leverageBracket``: the account's own brackets (floor, cap, MMR, leverage, cum).
  …/account/rest-api/Notional-and-Leverage-Brackets
  (``GET /dapi/v2/leverageBracket``, COIN-M's, is read only by tiers.py for the catalogue.)
- ``GET /sapi/v1/account/apiRestrictions`` on the spot host (api.binance.com): the key's rights.
  https://developers.binance.com/docs/wallet/account/api-key-permission
- ``GET /fapi/v1/income?incomeType=FUNDING_FEE`` (weight 30): the funding each position paid or
  received, read at most once a minute (``INCOME_EVERY_S``; the rounds between reuse the last
  answer) and optional (a failure leaves ``funding_pnl`` None with a warning).
  …/account/rest-api/Get-Income-History
- ``GET /fapi/v1/forceOrders`` (weight 20 with ``symbol``): the account's liquidation and ADL
  orders, read only for a position that shrank or went (``record_reads``), once per
  ``autoCloseType`` (LIQUIDATION, ADL), so the venue itself says which it was.
  …/trade/rest-api/Users-Force-Orders

Mapping to ``AccountState``: ``wallet_balance`` = the settlement asset's ``crossWalletBalance``
(cross collateral without uPnL); ``account_value`` = crossWalletBalance + crossUnPnl (the cross
margin balance); ``maintenance_margin`` = the sum of the cross positions' ``maintMargin``.
ADL lights = adlQuantile + 1 (0–4 → 1–5). The direction is Binance's: "Values 0, 1, 2, 3, 4 shows the
queue position and possibility of ADL from low to high" (the adlQuantile page above); that the app's
five lights are exactly quantile + 1 is not stated anywhere (exchanges.md §1.2), so it is ours. Positions settled in another asset than ``settle`` are left out, named in
``warnings``. ``break_even_price`` is the venue's ``breakEvenPrice`` (0: none); ``funding_pnl`` see
``funding_since_change``. COIN-M (dapi) is not followed, so its income and force-order reads
(``/dapi/v1/income``, ``/dapi/v1/forceOrders``) are not made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec

from adlwatch.engine.events import AccountState, ForcedClose, ImportedPosition
from adlwatch.feeds.accounts.signed import (
    BodyError,
    MapContext,
    Problem,
    Read,
    VenueRules,
    as_dict,
    as_list,
    classify,
    hmac_hex,
    integer,
    number,
    parse_json,
    positive_or_none,
    required,
    string,
)
from adlwatch.feeds.keys import Credentials
from adlwatch.feeds.venues.binance.market import ADAPTER

REST_URL = ADAPTER.rest_url  # the venue's one REST base (market.py)
SPOT_REST_URL = "https://api.binance.com"

POSITION_RISK = "/fapi/v3/positionRisk"
SYMBOL_CONFIG = "/fapi/v1/symbolConfig"
ACCOUNT = "/fapi/v3/account"
ADL_QUANTILE = "/fapi/v1/adlQuantile"
LEVERAGE_BRACKET = "/fapi/v1/leverageBracket"
COINM_LEVERAGE_BRACKET = "/dapi/v2/leverageBracket"  # COIN-M brackets: read by tiers.py, not by a round
API_RESTRICTIONS = "/sapi/v1/account/apiRestrictions"
INCOME = "/fapi/v1/income"
FORCE_ORDERS = "/fapi/v1/forceOrders"

INCOME_EVERY_S = 60.0  # weight 30: at most once a minute, not every 5-s round
INCOME_LIMIT = 1000  # the venue's maximum; a full page may have left rows out
AUTO_CLOSE_TYPES = {"LIQUIDATION": "liquidation", "ADL": "adl"}  # forceOrders autoCloseType -> ForcedClose cause
# A close is looked up from a little before the last report that still showed the position.
RECORD_SLACK_MS = 5_000

# Error codes: https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code
_REJECTED = {-2014: "API-key format invalid", -2015: "invalid API-key, IP, or permissions",
             -1022: "signature not valid (wrong secret?)", -1002: "not authorized"}
_CLOCK = {-1021}
_RATE = {-1003}

# Trading rights: any of these lets the key place orders somewhere on the account.
_TRADE_FLAGS = ("enableFutures", "enableSpotAndMarginTrading", "enableMargin", "enableVanillaOptions",
                "enablePortfolioMarginTrading", "enableFixApiTrade")
_TRANSFER_FLAGS = ("enableInternalTransfer", "permitsUniversalTransfer")


FUNDING_READ = Read(INCOME, params=(("incomeType", "FUNDING_FEE"), ("limit", str(INCOME_LIMIT))), optional=True,
                    unread="funding paid unknown", every_s=INCOME_EVERY_S)


def reads(settle: str) -> tuple[Read, ...]:
    return (Read(POSITION_RISK), Read(SYMBOL_CONFIG), Read(ACCOUNT), Read(ADL_QUANTILE),
            Read(LEVERAGE_BRACKET), Read(API_RESTRICTIONS, host="spot", optional=True), FUNDING_READ)


def signed_query(params: tuple[tuple[str, str], ...], credentials: Credentials, timestamp_ms: int,
                 recv_window_ms: int) -> str:
    """The query string as sent: the parameters, recvWindow, timestamp, then its signature."""
    query = urlencode([*params, ("recvWindow", str(recv_window_ms)), ("timestamp", str(timestamp_ms))])
    return f"{query}&signature={hmac_hex(credentials.secret, query)}"


def sign(credentials: Credentials, read: Read, now_s: float, recv_window_ms: int) -> tuple[str, dict[str, str]]:
    query = signed_query(read.params, credentials, int(now_s * 1000), recv_window_ms)
    return query, {"X-MBX-APIKEY": credentials.key.reveal()}


def problem(status: int, text: str) -> Problem | None:
    """Binance's error body ``{"code": -2015, "msg": "…"}`` sorted by what the follower does next."""
    if status < 400:
        return None
    code, message = _error(text)
    if code is None:
        return None
    detail = f"{message} (code {code})" if message else f"{_REJECTED.get(code, 'error')} (code {code})"
    return classify(code, detail, _REJECTED, _CLOCK, _RATE)


def _error(text: str) -> tuple[int | None, str]:
    try:
        body = parse_json(text, "error")
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("msg") if isinstance(body, dict) else None
    except BodyError:
        return None, ""
    if isinstance(code, bool) or not isinstance(code, int):
        return None, ""
    return code, message if isinstance(message, str) else ""


# ---------------------------------------------------------------------------- mapping


def account_state(bodies: Mapping[str, str], context: MapContext) -> AccountState:
    """The ``AccountState`` of one round's bodies; ``BodyError`` for a body it cannot read."""
    configs = _symbol_configs(parse_json(bodies[SYMBOL_CONFIG], SYMBOL_CONFIG))
    quantiles = _adl_quantiles(parse_json(bodies[ADL_QUANTILE], ADL_QUANTILE))
    brackets = _brackets(parse_json(bodies[LEVERAGE_BRACKET], LEVERAGE_BRACKET))
    warnings: list[str] = []
    fundings = None
    if INCOME in bodies:  # optional: an unreadable answer leaves funding unknown, not the account
        try:
            fundings = funding_fees(parse_json(bodies[INCOME], INCOME), context.settle)
        except BodyError as error:
            warnings.append(f"funding paid unknown: {error}")
        else:
            if fundings is None:
                warnings.append(f"funding paid unknown: {INCOME_LIMIT} income rows in 7 days, some left out")
    rows = as_list(parse_json(bodies[POSITION_RISK], POSITION_RISK), POSITION_RISK)
    sides_held: dict[str, int] = {}  # hedge mode: both sides of a symbol share its funding rows
    for i, item in enumerate(rows):
        row = as_dict(item, f"{POSITION_RISK}[{i}]")
        if required(row, "positionAmt", f"{POSITION_RISK}[{i}]") != 0 and isinstance(row.get("symbol"), str):
            sides_held[row["symbol"]] = sides_held.get(row["symbol"], 0) + 1
    positions: list[ImportedPosition] = []
    cross_maintenance = 0.0
    for i, item in enumerate(rows):
        row = as_dict(item, f"{POSITION_RISK}[{i}]")
        where = f"{POSITION_RISK}[{i}]"
        amount = required(row, "positionAmt", where)
        if amount == 0:
            continue  # a symbol listed for its open orders only
        symbol = string(row, "symbol", where)
        if string(row, "marginAsset", where) != context.settle:
            warnings.append(f"{symbol} settles in another asset than {context.settle}: not shown")
            continue
        position = _position(row, where, amount, configs, quantiles, brackets)
        if fundings is not None and sides_held.get(symbol) == 1:
            changed = integer(row, "updateTime", where, optional=True)
            position = msgspec.structs.replace(position, funding_pnl=funding_since_change(fundings, symbol, changed))
        positions.append(position)
        if position.margin_mode == "cross":
            cross_maintenance += required(row, "maintMargin", where)
    wallet, unrealized, updated = _settle_asset(parse_json(bodies[ACCOUNT], ACCOUNT), context.settle)
    restrictions = bodies.get(API_RESTRICTIONS)
    permissions = permissions_of(parse_json(restrictions, API_RESTRICTIONS)) if restrictions else []
    return AccountState(venue="binance", symbol=context.ref, ts=updated, recv_ns=context.recv_ns,
                        settle=context.settle, wallet_balance=wallet, positions=positions,
                        account_value=wallet + unrealized, maintenance_margin=cross_maintenance,
                        permissions=permissions, warnings=warnings)


def _position(row: dict, where: str, amount: float, configs: Mapping[str, tuple[str, float]],
              quantiles: Mapping[str, Mapping[str, int]], brackets: Mapping[str, list]) -> ImportedPosition:
    symbol = string(row, "symbol", where)
    position_side = string(row, "positionSide", where)
    if symbol not in configs:
        raise BodyError(f"{SYMBOL_CONFIG}: no row for a held symbol")
    margin_type, leverage = configs[symbol]
    isolated = margin_type == "ISOLATED"
    side = {"LONG": "long", "SHORT": "short"}.get(position_side, "long" if amount > 0 else "short")
    quantile = quantiles.get(symbol, {}).get(position_side)
    return ImportedPosition(
        symbol=symbol,
        side=side,
        size=abs(amount),
        entry_price=required(row, "entryPrice", where),
        leverage=leverage,
        margin_mode="isolated" if isolated else "cross",
        isolated_margin=required(row, "isolatedWallet", where) if isolated else None,
        liquidation_price=positive_or_none(number(row, "liquidationPrice", where, optional=True)),
        adl_lights=quantile + 1 if quantile is not None and 0 <= quantile <= 4 else None,
        adl_raw=f"adlQuantile {quantile} of 0-4" if quantile is not None else None,
        mark_price=number(row, "markPrice", where, optional=True),
        unrealized_pnl=number(row, "unRealizedProfit", where, optional=True),
        brackets=brackets.get(symbol),
        break_even_price=positive_or_none(number(row, "breakEvenPrice", where, optional=True)),
    )


def funding_fees(body: Any, settle: str) -> dict[str, list[tuple[int, float]]] | None:
    """The FUNDING_FEE rows of an income-history answer in ``settle``, as (time ms, income) by symbol;
    None when the page is full (``INCOME_LIMIT`` rows: some may be left out, so no sum is sure)."""
    rows = as_list(body, INCOME)
    if len(rows) >= INCOME_LIMIT:
        return None
    out: dict[str, list[tuple[int, float]]] = {}
    for i, item in enumerate(rows):
        where = f"{INCOME}[{i}]"
        row = as_dict(item, where)
        if row.get("incomeType") != "FUNDING_FEE" or row.get("asset") != settle:
            continue
        time_ms = int(required(row, "time", where))
        out.setdefault(string(row, "symbol", where), []).append((time_ms, required(row, "income", where)))
    return out


def funding_since_change(fundings: Mapping[str, list[tuple[int, float]]], symbol: str,
                         changed_ms: int | None) -> float | None:
    """The funding ``symbol``'s position received (+) or paid (−) since it last changed: the
    FUNDING_FEE incomes at or after the position's ``updateTime`` (positionRisk: its last open, add
    or reduce). So after a partial close it counts from that close, not from the first opening,
    and it covers at most the 7 days the income read answers (no ``startTime`` is sent). None
    without an ``updateTime``. Hedge mode with both sides held: not called (Binance's funding rows
    name the symbol, not the side)."""
    if not changed_ms:
        return None
    return sum(income for time_ms, income in fundings.get(symbol, ()) if time_ms >= changed_ms)


def _symbol_configs(body: Any) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for i, item in enumerate(as_list(body, SYMBOL_CONFIG)):
        where = f"{SYMBOL_CONFIG}[{i}]"
        row = as_dict(item, where)
        out[string(row, "symbol", where)] = (string(row, "marginType", where), required(row, "leverage", where))
    return out


def _adl_quantiles(body: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for i, item in enumerate(as_list(body, ADL_QUANTILE)):
        where = f"{ADL_QUANTILE}[{i}]"
        row = as_dict(item, where)
        sides = as_dict(row.get("adlQuantile"), f"{where}.adlQuantile")
        values = {side: integer(sides, side, f"{where}.adlQuantile") for side in ("LONG", "SHORT", "BOTH")
                  if side in sides}
        out[string(row, "symbol", where)] = {k: v for k, v in values.items() if v is not None}
    return out


def _brackets(body: Any) -> dict[str, list[tuple[float, float, float, float, float]]]:
    out: dict[str, list[tuple[float, float, float, float, float]]] = {}
    for i, item in enumerate(as_list(body, LEVERAGE_BRACKET)):
        where = f"{LEVERAGE_BRACKET}[{i}]"
        row = as_dict(item, where)
        rows = []
        for j, bracket in enumerate(as_list(row.get("brackets"), f"{where}.brackets")):
            at = f"{where}.brackets[{j}]"
            b = as_dict(bracket, at)
            rows.append((required(b, "notionalFloor", at), required(b, "notionalCap", at),
                         required(b, "maintMarginRatio", at), required(b, "initialLeverage", at),
                         required(b, "cum", at)))
        out[string(row, "symbol", where)] = sorted(rows)
    return out


def _settle_asset(body: Any, settle: str) -> tuple[float, float, int | None]:
    """(crossWalletBalance, crossUnPnl, updateTime) of the settlement asset."""
    account = as_dict(body, ACCOUNT)
    for i, item in enumerate(as_list(account.get("assets"), f"{ACCOUNT}.assets")):
        where = f"{ACCOUNT}.assets[{i}]"
        row = as_dict(item, where)
        if row.get("asset") == settle:
            return (required(row, "crossWalletBalance", where), required(row, "crossUnPnl", where),
                    integer(row, "updateTime", where, optional=True))
    raise BodyError(f"{ACCOUNT}.assets: no row for the settlement asset")


def permissions_of(body: Any) -> list[str]:
    """What the key may do, from ``apiRestrictions`` flags: read, trade, withdraw, transfer."""
    flags = as_dict(body, API_RESTRICTIONS)
    permissions = ["read"] if flags.get("enableReading") is True else []
    if any(flags.get(name) is True for name in _TRADE_FLAGS):
        permissions.append("trade")
    if flags.get("enableWithdrawals") is True:
        permissions.append("withdraw")
    if any(flags.get(name) is True for name in _TRANSFER_FLAGS):
        permissions.append("transfer")
    return permissions


# ---------------------------------------------------------------------------- liquidated / ADL'd


def record_reads(pending: list[tuple[str, str, int]]) -> tuple[Read, ...]:
    """The force-order reads of the positions that shrank or went: per symbol, one read per
    ``autoCloseType`` (LIQUIDATION, ADL), from a little before the earliest report that still showed
    the position (``RECORD_SLACK_MS``)."""
    since: dict[str, int] = {}
    for symbol, _side, since_ms in pending:
        since[symbol] = min(since_ms, since.get(symbol, since_ms))
    return tuple(Read(FORCE_ORDERS, params=(("symbol", symbol), ("autoCloseType", close_type),
                                            ("startTime", str(max(0, start - RECORD_SLACK_MS)))))
                 for symbol, start in since.items() for close_type in AUTO_CLOSE_TYPES)


def forced_closes(pairs: list[tuple[Read, str]], context: MapContext) -> list[ForcedClose]:
    """``ForcedClose`` events of the force-order answers (Users-Force-Orders page: a list of orders with
    ``side``, ``positionSide``, ``avgPrice``, ``executedQty``, ``time``, ``updateTime``). The cause is
    the read's ``autoCloseType``; a SELL closes a long and a BUY a short (hedge mode: ``positionSide``
    LONG/SHORT says it). Size: ``executedQty`` in coin; price: ``avgPrice`` (the order ``price`` when no
    fill price is given). ``remaining`` is left 0 here: the follower sets it from the report."""
    out: list[ForcedClose] = []
    for read, text in pairs:
        params = dict(read.params)
        cause = AUTO_CLOSE_TYPES.get(params.get("autoCloseType", ""))
        for i, item in enumerate(as_list(parse_json(text, FORCE_ORDERS), FORCE_ORDERS)):
            where = f"{FORCE_ORDERS}[{i}]"
            row = as_dict(item, where)
            row_cause = cause or _cause_of_client_id(row.get("clientOrderId"))
            size = required(row, "executedQty", where)
            if row_cause is None or size <= 0:
                continue  # not known as a liquidation or ADL, or nothing filled
            order_side = string(row, "side", where)
            if order_side not in ("BUY", "SELL"):
                raise BodyError(f"{where}.side: not BUY or SELL")
            position_side = row.get("positionSide")
            side = {"LONG": "long", "SHORT": "short"}.get(position_side if isinstance(position_side, str) else "",
                                                          "long" if order_side == "SELL" else "short")
            price = positive_or_none(number(row, "avgPrice", where, optional=True)) or required(row, "price", where)
            if price <= 0:
                raise BodyError(f"{where}.price: not positive")
            ts = integer(row, "updateTime", where, optional=True) or integer(row, "time", where, optional=True)
            out.append(ForcedClose(venue="binance", symbol=string(row, "symbol", where), ts=ts,
                                   recv_ns=context.recv_ns, account=context.ref, side=side, cause=row_cause,
                                   price=price, size=size, remaining=0.0,
                                   detail=f"autoCloseType {'ADL' if row_cause == 'adl' else 'LIQUIDATION'}"))
    return out


def _cause_of_client_id(client_id: object) -> str | None:
    """Binance's own order ids for forced orders (user-data stream ORDER_TRADE_UPDATE notes):
    ``autoclose-…`` a liquidation, ``adl_autoclose`` an ADL; anything else: not a forced close."""
    if not isinstance(client_id, str):
        return None
    if client_id.startswith("adl_autoclose"):
        return "adl"
    return "liquidation" if client_id.startswith("autoclose-") else None


# Every endpoint ``reads`` and ``record_reads`` (or tiers.py's bracket read) may ask for; the only ones
# a binance key is ever sent to.
READ_PATHS = frozenset({POSITION_RISK, ACCOUNT, SYMBOL_CONFIG, ADL_QUANTILE, LEVERAGE_BRACKET, COINM_LEVERAGE_BRACKET,
                        API_RESTRICTIONS, INCOME, FORCE_ORDERS})

RULES = VenueRules(venue="binance", rest_url=REST_URL, reads=reads, sign=sign, problem=problem,
                   account_state=account_state, spot_rest_url=SPOT_REST_URL,
                   read_paths=READ_PATHS, record_reads=record_reads, forced_closes=forced_closes)
