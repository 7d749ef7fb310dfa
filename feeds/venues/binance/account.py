"""Binance futures by read-only API key (USDⓈ-M, and COIN-M for a coin ``settle``): signing, the
reads of one round, the mapping.

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
``funding_since_change``. ``maintenance_margin`` of each position is its ``maintMargin``.

USDⓈ-M accounts by settlement asset: ``settle = "USDC"`` follows the USDC-margined contracts of the
same fapi account (BTCUSDC): its ``assets`` row and the positions whose ``marginAsset`` is USDC; any
stablecoin a linear contract settles in (``is_coinm_asset`` False) is read this way. A coin is
COIN-M's: a USDⓈ-M contract margined in BTC (ETHBTC) is not followed.

COIN-M (``settle`` = a coin, e.g. BTC: ``is_coinm_asset``): the same reads on the dapi host
(``Read.host`` ``"coinm"``, ``host_url``: dapi.binance.com, or the overridden base itself); the
key's rights from the spot host as above. Pages under
https://developers.binance.com/docs/derivatives/coin-margined-futures/…
- ``GET /dapi/v1/positionRisk`` (weight 1; no parameter: every TRADING symbol, held or not):
  ``positionAmt`` in contracts, ``entryPrice``, ``breakEvenPrice``, ``markPrice``,
  ``unRealizedProfit`` (coin), ``liquidationPrice``, ``leverage``, ``marginType`` ("cross" /
  "isolated"), ``isolatedMargin``, ``positionSide``, ``updateTime``; no maintenance margin and no
  margin asset: a COIN-M contract margins in its base coin (``BTCUSD_PERP`` → BTC, ``coinm_asset``).
  …/trade/Position-Information
- ``GET /dapi/v1/account`` (weight 5): ``assets[]`` (``crossWalletBalance``, ``crossUnPnl`` of each
  coin) and ``positions[]`` (``maintMargin`` by symbol and ``positionSide``).
  …/account/Account-Information
- ``GET /dapi/v1/adlQuantile`` (weight 5): the fapi shape. …/trade/rest-api/Position-ADL-Quantile-Estimation
- ``GET /dapi/v2/leverageBracket`` (weight 1; v1 is keyed by pair and "not recommended"): per symbol
  ``qtyFloor``/``qtyCap`` in coin (the page's example spells ``qtylFloor``: both are read),
  ``maintMarginRatio``, ``initialLeverage``, ``cum``. …/account/Notional-Bracket-for-Symbol
- ``GET /dapi/v1/income?incomeType=FUNDING_FEE`` (weight 20), as fapi's: at most once a minute,
  optional. …/account/rest-api/Get-Income-History
- ``GET /dapi/v1/forceOrders`` (weight 20 with ``symbol``): fapi's shape (``cumBase`` for
  ``cumQuote``), ``executedQty`` in contracts; ``record_reads`` picks it for a COIN-M symbol.
  …/trade/Users-Force-Orders
Mapping: ``wallet_balance`` = the coin's ``crossWalletBalance``, ``account_value`` + its
``crossUnPnl``, sizes in contracts. COIN-M cross margin is per margin coin: every BTC-margined
contract shares the BTC wallet, so a quarterly (``BTCUSD_261225``) is reported with the perpetuals;
adlwatch does not model a delivery contract, so the engine leaves it out with a warning and holds its
uPnL and ``maintenance_margin`` in the cross account (engine/portfolio.py ``_unmodelled_cross``).
An isolated position's margin without uPnL is ``isolatedWallet`` where a row has it, else
``isolatedMargin − unRealizedProfit`` (UNCONFIRMED that the REST ``isolatedMargin`` includes uPnL as
fapi's does). Liquidation price formula (COIN-M, checked by the tests):
https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import urlencode

import msgspec

from adlwatch.engine.events import AccountState, ForcedClose, ImportedPosition
from adlwatch.engine.instruments import default_catalogue
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
from adlwatch.feeds.venues.binance.market import ADAPTER, coinm_base, is_coin_m

REST_URL = ADAPTER.rest_url  # the venue's one REST base (market.py)
SPOT_REST_URL = "https://api.binance.com"

POSITION_RISK = "/fapi/v3/positionRisk"
SYMBOL_CONFIG = "/fapi/v1/symbolConfig"
ACCOUNT = "/fapi/v3/account"
ADL_QUANTILE = "/fapi/v1/adlQuantile"
LEVERAGE_BRACKET = "/fapi/v1/leverageBracket"
API_RESTRICTIONS = "/sapi/v1/account/apiRestrictions"
INCOME = "/fapi/v1/income"
FORCE_ORDERS = "/fapi/v1/forceOrders"

COINM = "coinm"  # the Read.host of the COIN-M reads (``host_url``)
COINM_POSITION_RISK = "/dapi/v1/positionRisk"
COINM_ACCOUNT = "/dapi/v1/account"
COINM_ADL_QUANTILE = "/dapi/v1/adlQuantile"
COINM_LEVERAGE_BRACKET = "/dapi/v2/leverageBracket"  # also tiers.py's catalogue read
COINM_INCOME = "/dapi/v1/income"
COINM_FORCE_ORDERS = "/dapi/v1/forceOrders"

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


_FUNDING_PARAMS = (("incomeType", "FUNDING_FEE"), ("limit", str(INCOME_LIMIT)))
FUNDING_READ = Read(INCOME, params=_FUNDING_PARAMS, optional=True, unread="funding paid unknown",
                    every_s=INCOME_EVERY_S)
COINM_FUNDING_READ = Read(COINM_INCOME, params=_FUNDING_PARAMS, host=COINM, optional=True,
                          unread="funding paid unknown", every_s=INCOME_EVERY_S)
PERMISSIONS_READ = Read(API_RESTRICTIONS, host="spot", optional=True)

USDM_READS = (Read(POSITION_RISK), Read(SYMBOL_CONFIG), Read(ACCOUNT), Read(ADL_QUANTILE), Read(LEVERAGE_BRACKET),
              PERMISSIONS_READ, FUNDING_READ)
COINM_READS = (Read(COINM_POSITION_RISK, host=COINM), Read(COINM_ACCOUNT, host=COINM),
               Read(COINM_ADL_QUANTILE, host=COINM), Read(COINM_LEVERAGE_BRACKET, host=COINM),
               PERMISSIONS_READ, COINM_FUNDING_READ)


@cache
def _usdm_assets() -> frozenset[str]:
    """The stablecoins USDⓈ-M contracts settle in (USDT, USDC, USD1, …): the linear settlement assets
    that no COIN-M contract settles in (BTC is COIN-M's, though USDⓈ-M's ETHBTC margins in it)."""
    catalogue = [i for i in default_catalogue() if i.venue == "binance"]
    coins = {i.settle for i in catalogue if i.kind == "inverse"}
    return frozenset({i.settle for i in catalogue if i.kind == "linear"} - coins | {"USDT", "USDC"})


def is_coinm_asset(settle: str) -> bool:
    """A coin followed on COIN-M (BTC, ETH, …): any asset but the stablecoins USDⓈ-M contracts settle in.
    (A USDⓈ-M contract margined in a coin, ETHBTC, is therefore not followed.)"""
    return settle not in _usdm_assets()


def coinm_asset(symbol: str) -> str:
    """The coin a COIN-M contract margins and settles in: its base (``BTCUSD_PERP``, ``BTCUSD_261225`` → BTC)."""
    return symbol.partition("_")[0].removesuffix("USD")


def reads(settle: str) -> tuple[Read, ...]:
    return COINM_READS if is_coinm_asset(settle) else USDM_READS


def host_url(host: str, rest_url: str) -> str:
    """The base of ``Read.host`` ``"coinm"``: the dapi host beside Binance's fapi one, or the
    follower's own base when it is overridden (the emulator, a testnet serving both)."""
    if host != COINM:
        raise ValueError(f"binance: no read host {host!r}")
    return coinm_base(rest_url)


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
    if is_coinm_asset(context.settle):
        return coinm_account_state(bodies, context)
    configs = _symbol_configs(parse_json(bodies[SYMBOL_CONFIG], SYMBOL_CONFIG))
    quantiles = _adl_quantiles(parse_json(bodies[ADL_QUANTILE], ADL_QUANTILE), ADL_QUANTILE)
    brackets = _brackets(parse_json(bodies[LEVERAGE_BRACKET], LEVERAGE_BRACKET), LEVERAGE_BRACKET)
    warnings: list[str] = []
    elsewhere: dict[str, list[str]] = {}  # positions margined in the key's other assets, by asset
    fundings = _fundings(bodies, INCOME, context.settle, warnings)
    rows = as_list(parse_json(bodies[POSITION_RISK], POSITION_RISK), POSITION_RISK)
    sides_held = _sides_held(rows, POSITION_RISK)  # hedge mode: both sides of a symbol share its funding rows
    positions: list[ImportedPosition] = []
    cross_maintenance = 0.0
    for i, item in enumerate(rows):
        row = as_dict(item, f"{POSITION_RISK}[{i}]")
        where = f"{POSITION_RISK}[{i}]"
        amount = required(row, "positionAmt", where)
        if amount == 0:
            continue  # a symbol listed for its open orders only
        symbol = string(row, "symbol", where)
        asset = string(row, "marginAsset", where)
        if asset != context.settle:
            if is_coinm_asset(asset):  # a USDⓈ-M contract margined in a coin (ETHBTC): a coin settle is COIN-M's
                warnings.append(f"{symbol} settles in {asset} on USDⓈ-M, which adlwatch does not follow: not shown")
            else:
                elsewhere.setdefault(asset, []).append(symbol)
            continue
        position = _position(row, where, amount, configs, quantiles, brackets)
        positions.append(_with_funding(position, row, where, fundings, sides_held))
        if position.margin_mode == "cross":
            cross_maintenance += required(row, "maintMargin", where)
    warnings.extend(elsewhere_warnings(elsewhere, context))
    wallet, unrealized, updated = _settle_asset(parse_json(bodies[ACCOUNT], ACCOUNT), context.settle, ACCOUNT)
    return AccountState(venue="binance", symbol=context.ref, ts=updated, recv_ns=context.recv_ns,
                        settle=context.settle, wallet_balance=wallet, positions=positions,
                        account_value=wallet + unrealized, maintenance_margin=cross_maintenance,
                        permissions=_permissions(bodies), warnings=warnings)


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
        maintenance_margin=number(row, "maintMargin", where, optional=True),
    )


def coinm_account_state(bodies: Mapping[str, str], context: MapContext) -> AccountState:
    """The ``AccountState`` of a COIN-M round: the ``context.settle`` coin's cross wallet and the
    positions margined in it (perpetuals and quarterlies alike), sizes in contracts."""
    quantiles = _adl_quantiles(parse_json(bodies[COINM_ADL_QUANTILE], COINM_ADL_QUANTILE), COINM_ADL_QUANTILE)
    brackets = _brackets(parse_json(bodies[COINM_LEVERAGE_BRACKET], COINM_LEVERAGE_BRACKET), COINM_LEVERAGE_BRACKET)
    account = as_dict(parse_json(bodies[COINM_ACCOUNT], COINM_ACCOUNT), COINM_ACCOUNT)
    wallet, unrealized, updated = _settle_asset(account, context.settle, COINM_ACCOUNT)
    held = _coinm_account_positions(account)
    warnings: list[str] = []
    elsewhere: dict[str, list[str]] = {}  # positions margined in the key's other coins, by coin
    fundings = _fundings(bodies, COINM_INCOME, context.settle, warnings)
    rows = as_list(parse_json(bodies[COINM_POSITION_RISK], COINM_POSITION_RISK), COINM_POSITION_RISK)
    sides_held = _sides_held(rows, COINM_POSITION_RISK)
    positions: list[ImportedPosition] = []
    cross_maintenance = 0.0
    for i, item in enumerate(rows):
        where = f"{COINM_POSITION_RISK}[{i}]"
        row = as_dict(item, where)
        amount = required(row, "positionAmt", where)
        if amount == 0:
            continue  # every TRADING symbol is listed, held or not
        symbol = string(row, "symbol", where)
        if coinm_asset(symbol) != context.settle:
            elsewhere.setdefault(coinm_asset(symbol), []).append(symbol)
            continue
        position = _coinm_position(row, where, amount, quantiles, brackets,
                                   held.get((symbol, string(row, "positionSide", where)), {}))
        positions.append(_with_funding(position, row, where, fundings, sides_held))
        if position.margin_mode == "cross" and position.maintenance_margin is not None:
            cross_maintenance += position.maintenance_margin
    warnings.extend(elsewhere_warnings(elsewhere, context))
    return AccountState(venue="binance", symbol=context.ref, ts=updated, recv_ns=context.recv_ns,
                        settle=context.settle, wallet_balance=wallet, positions=positions,
                        account_value=wallet + unrealized, maintenance_margin=cross_maintenance,
                        permissions=_permissions(bodies), warnings=warnings)


def _coinm_position(row: dict, where: str, amount: float, quantiles: Mapping[str, Mapping[str, int]],
                    brackets: Mapping[str, list], account_row: Mapping[str, Any]) -> ImportedPosition:
    """One held positionRisk row; ``account_row`` is its /dapi/v1/account position (maintMargin)."""
    symbol = string(row, "symbol", where)
    position_side = string(row, "positionSide", where)
    isolated = string(row, "marginType", where).lower() == "isolated"
    side = {"LONG": "long", "SHORT": "short"}.get(position_side, "long" if amount > 0 else "short")
    quantile = quantiles.get(symbol, {}).get(position_side)
    unrealized = number(row, "unRealizedProfit", where, optional=True)
    isolated_margin = None
    if isolated:
        wallet = number(row, "isolatedWallet", where, optional=True)
        if wallet is None:
            wallet = number(account_row, "isolatedWallet", f"{COINM_ACCOUNT}.positions", optional=True)
        if wallet is None:  # the margin with its uPnL, as fapi's isolatedMargin
            wallet = required(row, "isolatedMargin", where) - (unrealized or 0.0)
        isolated_margin = wallet
    return ImportedPosition(
        symbol=symbol,
        side=side,
        size=abs(amount),
        entry_price=required(row, "entryPrice", where),
        leverage=required(row, "leverage", where),
        margin_mode="isolated" if isolated else "cross",
        isolated_margin=isolated_margin,
        liquidation_price=positive_or_none(number(row, "liquidationPrice", where, optional=True)),
        adl_lights=quantile + 1 if quantile is not None and 0 <= quantile <= 4 else None,
        adl_raw=f"adlQuantile {quantile} of 0-4" if quantile is not None else None,
        mark_price=number(row, "markPrice", where, optional=True),
        unrealized_pnl=unrealized,
        brackets=brackets.get(symbol),
        break_even_price=positive_or_none(number(row, "breakEvenPrice", where, optional=True)),
        maintenance_margin=number(account_row, "maintMargin", f"{COINM_ACCOUNT}.positions", optional=True),
    )


def _coinm_account_positions(account: dict) -> dict[tuple[str, str], dict]:
    """/dapi/v1/account ``positions`` by (symbol, positionSide)."""
    out: dict[tuple[str, str], dict] = {}
    for i, item in enumerate(as_list(account.get("positions", []), f"{COINM_ACCOUNT}.positions")):
        where = f"{COINM_ACCOUNT}.positions[{i}]"
        row = as_dict(item, where)
        out[(string(row, "symbol", where), string(row, "positionSide", where))] = row
    return out


def _sides_held(rows: list, path: str) -> dict[str, int]:
    """How many sides of each symbol are held (hedge mode: both sides share the symbol's funding rows)."""
    held: dict[str, int] = {}
    for i, item in enumerate(rows):
        row = as_dict(item, f"{path}[{i}]")
        if required(row, "positionAmt", f"{path}[{i}]") != 0 and isinstance(row.get("symbol"), str):
            held[row["symbol"]] = held.get(row["symbol"], 0) + 1
    return held


def _fundings(bodies: Mapping[str, str], path: str, settle: str,
              warnings: list[str]) -> dict[str, list[tuple[int, float]]] | None:
    """The income read's funding rows; None (with a warning) when unreadable or a full page. Optional:
    an unreadable answer leaves funding unknown, not the account."""
    if path not in bodies:
        return None
    try:
        fundings = funding_fees(parse_json(bodies[path], path), settle, path)
    except BodyError as error:
        warnings.append(f"funding paid unknown: {error}")
        return None
    if fundings is None:
        warnings.append(f"funding paid unknown: {INCOME_LIMIT} income rows in 7 days, some left out")
    return fundings


def _with_funding(position: ImportedPosition, row: dict, where: str,
                  fundings: Mapping[str, list[tuple[int, float]]] | None,
                  sides_held: Mapping[str, int]) -> ImportedPosition:
    if fundings is None or sides_held.get(position.symbol) != 1:
        return position
    changed = integer(row, "updateTime", where, optional=True)
    return msgspec.structs.replace(position, funding_pnl=funding_since_change(fundings, position.symbol, changed))


def _permissions(bodies: Mapping[str, str]) -> list[str]:
    restrictions = bodies.get(API_RESTRICTIONS)
    return permissions_of(parse_json(restrictions, API_RESTRICTIONS)) if restrictions else []


def funding_fees(body: Any, settle: str, path: str = INCOME) -> dict[str, list[tuple[int, float]]] | None:
    """The FUNDING_FEE rows of an income-history answer in ``settle``, as (time ms, income) by symbol;
    None when the page is full (``INCOME_LIMIT`` rows: some may be left out, so no sum is sure)."""
    rows = as_list(body, path)
    if len(rows) >= INCOME_LIMIT:
        return None
    out: dict[str, list[tuple[int, float]]] = {}
    for i, item in enumerate(rows):
        where = f"{path}[{i}]"
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


def _adl_quantiles(body: Any, path: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for i, item in enumerate(as_list(body, path)):
        where = f"{path}[{i}]"
        row = as_dict(item, where)
        sides = as_dict(row.get("adlQuantile"), f"{where}.adlQuantile")
        values = {side: integer(sides, side, f"{where}.adlQuantile") for side in ("LONG", "SHORT", "BOTH")
                  if side in sides}
        out[string(row, "symbol", where)] = {k: v for k, v in values.items() if v is not None}
    return out


def _brackets(body: Any, path: str) -> dict[str, list[tuple[float, float, float, float, float]]]:
    """The account's brackets by symbol: (floor, cap, mmr, max leverage, cum). USDⓈ-M floors and caps
    are notional (quote); COIN-M's ``qtyFloor``/``qtyCap`` are in coin (the page's ``qtylFloor`` too)."""
    coinm = path == COINM_LEVERAGE_BRACKET
    floor_keys, cap_key = (("qtyFloor", "qtylFloor"), "qtyCap") if coinm else (("notionalFloor",), "notionalCap")
    out: dict[str, list[tuple[float, float, float, float, float]]] = {}
    for i, item in enumerate(as_list(body, path)):
        where = f"{path}[{i}]"
        row = as_dict(item, where)
        rows = []
        for j, bracket in enumerate(as_list(row.get("brackets"), f"{where}.brackets")):
            at = f"{where}.brackets[{j}]"
            b = as_dict(bracket, at)
            floor_key = next((k for k in floor_keys if k in b), floor_keys[0])
            rows.append((required(b, floor_key, at), required(b, cap_key, at),
                         required(b, "maintMarginRatio", at), required(b, "initialLeverage", at),
                         required(b, "cum", at)))
        out[string(row, "symbol", where)] = sorted(rows)
    return out


def _settle_asset(body: Any, settle: str, path: str) -> tuple[float, float, int | None]:
    """(crossWalletBalance, crossUnPnl, updateTime) of the settlement asset."""
    account = as_dict(body, path)
    for i, item in enumerate(as_list(account.get("assets"), f"{path}.assets")):
        where = f"{path}.assets[{i}]"
        row = as_dict(item, where)
        if row.get("asset") == settle:
            return (required(row, "crossWalletBalance", where), required(row, "crossUnPnl", where),
                    integer(row, "updateTime", where, optional=True))
    raise BodyError(f"{path}.assets: no row for the settlement asset")


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
    the position (``RECORD_SLACK_MS``). A COIN-M symbol's are read on the dapi host."""
    since: dict[str, int] = {}
    for symbol, _side, since_ms in pending:
        since[symbol] = min(since_ms, since.get(symbol, since_ms))
    return tuple(_force_orders_read(symbol, close_type, max(0, start - RECORD_SLACK_MS))
                 for symbol, start in since.items() for close_type in AUTO_CLOSE_TYPES)


def _force_orders_read(symbol: str, close_type: str, start_ms: int) -> Read:
    params = (("symbol", symbol), ("autoCloseType", close_type), ("startTime", str(start_ms)))
    if is_coin_m(symbol):
        return Read(COINM_FORCE_ORDERS, params=params, host=COINM)
    return Read(FORCE_ORDERS, params=params)


def forced_closes(pairs: list[tuple[Read, str]], context: MapContext) -> list[ForcedClose]:
    """``ForcedClose`` events of the force-order answers (Users-Force-Orders page: a list of orders with
    ``side``, ``positionSide``, ``avgPrice``, ``executedQty``, ``time``, ``updateTime``). The cause is
    the read's ``autoCloseType``; a SELL closes a long and a BUY a short (hedge mode: ``positionSide``
    LONG/SHORT says it). Size: ``executedQty`` (USDⓈ-M coin, COIN-M contracts: adlwatch's units);
    price: ``avgPrice`` (the order ``price`` when no fill price is given). ``remaining`` is left 0
    here: the follower sets it from the report."""
    out: list[ForcedClose] = []
    for read, text in pairs:
        params = dict(read.params)
        cause = AUTO_CLOSE_TYPES.get(params.get("autoCloseType", ""))
        for i, item in enumerate(as_list(parse_json(text, read.path), read.path)):
            where = f"{read.path}[{i}]"
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
READ_PATHS = frozenset({POSITION_RISK, ACCOUNT, SYMBOL_CONFIG, ADL_QUANTILE, LEVERAGE_BRACKET, API_RESTRICTIONS,
                        INCOME, FORCE_ORDERS, COINM_POSITION_RISK, COINM_ACCOUNT, COINM_ADL_QUANTILE,
                        COINM_LEVERAGE_BRACKET, COINM_INCOME, COINM_FORCE_ORDERS})

RULES = VenueRules(venue="binance", rest_url=REST_URL, reads=reads, sign=sign, problem=problem,
                   account_state=account_state, spot_rest_url=SPOT_REST_URL,
                   read_paths=READ_PATHS, record_reads=record_reads, forced_closes=forced_closes,
                   host_url=host_url)
