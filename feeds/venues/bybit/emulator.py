"""Bybit on the loopback emulator (feeds/emulator.py): its ticker and liquidation streams, REST bodies and
signed reads (the execution list among them, from the account's closing records)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from adlwatch.feeds.emulator_base import (
    COMPACT,
    Answer,
    EmuAccount,
    EmuConnection,
    EmuPosition,
    EmuRecord,
    Personality,
    coin_names,
    decimal_text,
    int_or_none,
    next_funding_ms,
)
from adlwatch.feeds.emulator_private import PrivateEndpoints, install_private
from adlwatch.feeds.venues.bybit.market import LIQUIDATION_PREFIX, is_inverse

RATE_LIMIT_CODE = 10006  # Bybit's "Too many visits"
PRIVATE_PATHS = frozenset({"/v5/position/list", "/v5/account/wallet-balance", "/v5/account/info",
                           "/v5/user/query-api", "/v5/execution/list"})


class BybitPersonality(Personality):
    """``tickers`` snapshot then deltas, ``/v5/market`` REST, signed reads refused with Bybit's codes
    (10003, 10004 echoing the signed text as Bybit's "error sign!" does, 10002; the HTTP statuses are
    the emulator's choice: Bybit documents the codes only)."""

    ws_path = "/v5/public/linear"
    private_paths = PRIVATE_PATHS

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        if doc.get("op") == "ping":
            await conn.send(json.dumps({"success": True, "ret_msg": "pong", "conn_id": f"emu{conn.id}",
                                        "req_id": doc.get("req_id", ""), "op": "ping"}, **COMPACT))
        elif doc.get("op") == "subscribe":
            args = doc.get("args") or []
            await conn.send(json.dumps({"success": True, "ret_msg": "", "conn_id": f"emu{conn.id}",
                                        "req_id": doc.get("req_id", ""), "op": "subscribe"}, **COMPACT))
            emulator.add_symbols(conn, [a.split(".", 1)[1] for a in args if a.startswith("tickers.")])

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        mark = f"{price:.2f}"
        funding_sent = _of_connection(_FUNDING_SENT, conn, dict)  # the next funding time each symbol last sent
        next_funding = next_funding_ms(now_ms)
        if symbol not in conn.snapshot_sent:
            conn.snapshot_sent.add(symbol)
            oi = 50000.0
            data = {"symbol": symbol, "tickDirection": "PlusTick", "lastPrice": mark, "markPrice": mark,
                    "indexPrice": f"{price * 0.9998:.2f}", "openInterest": f"{oi * 2:.3f}",
                    "openInterestValue": f"{oi * 2 * price:.2f}", "singleOpenInterest": f"{oi:.3f}",
                    "singleOpenInterestValue": f"{oi * price:.2f}", "fundingIntervalHour": "8",
                    "fundingCap": "0.005", "nextFundingTime": str(next_funding_ms(now_ms)),
                    "fundingRate": "0.0001", "bid1Price": mark, "ask1Price": mark}
            kind = "snapshot"
        else:
            data = {"symbol": symbol, "markPrice": mark, "indexPrice": f"{price * 0.9998:.2f}",
                    "lastPrice": mark}
            if funding_sent.get(symbol) != next_funding:  # a funding time passed: the venue pushes the new one
                data.update(fundingRate="0.0001", nextFundingTime=str(next_funding))
            kind = "delta"
        funding_sent[symbol] = next_funding
        return [{"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": conn.ticks, "ts": now_ms}]

    def liquidation_frames(self, conn: EmuConnection, symbol: str, side: str, price: float, size: float,
                           now_ms: int) -> list[dict[str, Any]]:
        """The documented ``allLiquidation`` push (``S`` the liquidated position's side: Buy is a long;
        ``v`` coin on linear contracts, 1-USD contracts on inverse ones; ``p`` the bankruptcy price)."""
        topic = f"{LIQUIDATION_PREFIX}{symbol}"
        if topic not in subscribed_topics(conn):
            return []
        volume = decimal_text(max(round(size * price), 1)) if is_inverse(symbol) else decimal_text(size)
        item = {"T": now_ms, "s": symbol, "S": "Buy" if side == "long" else "Sell", "v": volume,
                "p": decimal_text(price)}
        return [{"topic": topic, "type": "snapshot", "ts": now_ms, "data": [item]}]

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        now_ms = int(time.time() * 1000)
        if path == "/v5/market/tickers":
            category = q.get("category", "linear")
            # No symbol: every symbol of the category (Tickers page), as a shared pool's members are read.
            symbols = [q["symbol"]] if q.get("symbol") else TICKER_SYMBOLS.get(category, [])
            items = [ticker(emulator, s, now_ms) for s in symbols]
            return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": items},
                    "retExtInfo": {}, "time": now_ms}
        if path == "/v5/market/insurance":
            coin = q.get("coin", "USDT")
            return {"retCode": 0, "retMsg": "OK", "result": {"updatedTime": str(now_ms), "list": [
                {"coin": coin, "symbols": f"BTC{coin},ETH{coin}", "balance": "250000000.5",
                 "value": "250000000.5"}]}, "retExtInfo": {}, "time": now_ms}
        if path == "/v5/market/adlAlert":
            symbol = q.get("symbol", "BTCUSDT")
            return {"retCode": 0, "retMsg": "OK", "result": {"updatedTime": str(now_ms), "list": [
                {"coin": "USDT", "symbol": symbol, "balance": "250000000.5", "maxBalance": "260000000",
                 "insurancePnlRatio": "-0.3", "pnlRatio": "-0.01", "adlTriggerThreshold": "10000",
                 "adlStopRatio": "-0.25"}]}, "retExtInfo": {}, "time": now_ms}
        if path in ("/v5/market/risk-limit", "/v5/market/instruments-info"):
            limited = _rate_limited(universe_config(emulator), now_ms)
            if limited is not None:
                return limited
        if path == "/v5/market/instruments-info":
            return instruments_body(emulator, q, now_ms)
        if path == "/v5/market/risk-limit":
            category = q.get("category", "linear")
            if not q.get("symbol"):
                return universe_risk_limit_body(emulator, q, now_ms)
            rows = risk_limit_rows(category, q["symbol"])
            return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": rows,
                                                             "nextPageCursor": ""},
                    "retExtInfo": {}, "time": now_ms}
        return None

    def check_signature(self, accounts: dict[tuple[str, str], EmuAccount], path: str, query: str,
                        headers: dict[str, str], now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        def refuse(status: int, code: int, msg: str) -> tuple[None, Answer]:
            body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now_ms}
            return None, (status, json.dumps(body, **COMPACT), {})

        key = headers.get("x-bapi-api-key", "")
        stamp, signature = headers.get("x-bapi-timestamp", ""), headers.get("x-bapi-sign", "")
        window_text = headers.get("x-bapi-recv-window", "5000")
        account = accounts.get(("bybit", key)) if key else None
        if account is None:
            return refuse(401, 10003, "API key is invalid.")
        timestamp, window = int_or_none(stamp), int_or_none(window_text)
        if timestamp is None or window is None or not (now_ms - window <= timestamp < now_ms + 1000):
            return refuse(200, 10002, "invalid request, please check your server timestamp or recv_window param. "
                                      f"req_timestamp[{stamp}],server_timestamp[{now_ms}],recv_window[{window_text}]")
        origin = f"{stamp}{key}{window_text}{query}"
        expected = hmac.new(account.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(expected, signature.lower()):
            return refuse(401, 10004, f"error sign! origin_string[{origin}]")
        return account, None

    def private_body(self, account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
        return private_body_of(account, path, query, now_ms)

    def demo_accounts(self, emulator: Any) -> list[str]:
        """The demo key: a USDT account (a BTCUSDT long) and its BTC account (a BTCUSD long of 1-USD
        contracts, its liquidation price by ``inverse_liquidation_price``), each its own portfolio entry."""
        btc = emulator.prices.current("bybit", "BTCUSDT")
        coin = emulator.prices.current("bybit", "BTCUSD")
        contracts, entry, wallet = 12_000.0, coin * 1.01, 0.25
        demo = EmuAccount(
            venue="bybit", key=DEMO_KEY, secret=DEMO_SECRET, wallet_balance=3_000.0, wallets={"BTC": wallet},
            positions=[EmuPosition("BTCUSDT", "long", 0.3, btc * 1.02, btc, 10.0, liquidation_price=btc * 0.93, adl=2,
                                   maint_margin=btc * 0.3 * 0.005, break_even_price=btc * 1.02 * 1.0011),
                       EmuPosition("BTCUSD", "long", contracts, entry, coin, 20.0, settle="BTC", face_value=1.0,
                                   liquidation_price=inverse_liquidation_price(wallet, contracts, entry), adl=1,
                                   maint_margin=contracts / entry * DEMO_INVERSE_MMR)],
        )
        # One hook serves every venue's keys: a second one would refuse the other venues' demo keys.
        served = next((hook for hook in emulator.rest_hooks if isinstance(hook, PrivateEndpoints)), None)
        if served is not None:
            served.add(demo)
        else:
            install_private(emulator, [demo])
        return [f"demo accounts: ADLWATCH_BYBIT_DEMO_API_KEY={DEMO_KEY} ADLWATCH_BYBIT_DEMO_API_SECRET={DEMO_SECRET}",
                '[[account]] venue = "bybit" key_name = "demo"',
                '[[account]] venue = "bybit" key_name = "demo" settle = "BTC"']


DEMO_KEY, DEMO_SECRET = "demo-bybit-read-only-key-0001", "demo-bybit-secret-not-a-real-one"
# The demo BTCUSD position's figures: the bundled tier 1 of BTCUSD (0-150 BTC) and Bybit's taker fee
# (engine/data/instruments/bybit.toml), so adlwatch's liquidation price and the venue's agree.
DEMO_INVERSE_MMR, DEMO_TAKER_FEE = 0.005, 0.00055


# The symbols a ``/v5/market/tickers`` without ``symbol`` lists, per category (the emulated insurance
# pools' members among them: ``BTC{coin},ETH{coin}``).
TICKER_SYMBOLS = {"linear": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "BTCUSDC", "ETHUSDC"],
                  "inverse": ["BTCUSD", "ETHUSD"]}
# Every emulated contract's open interest in base units (both sides, and one side as singleOpenInterest).
TICKER_OPEN_INTEREST, TICKER_SINGLE_OPEN_INTEREST = 100000.0, 50000.0


def ticker(emulator: Any, symbol: str, now_ms: int) -> dict[str, Any]:
    """One item of ``/v5/market/tickers`` at the emulator's current price (Tickers page shape: text values)."""
    price = emulator.prices.current("bybit", symbol)
    return {"symbol": symbol, "markPrice": f"{price:.2f}", "indexPrice": f"{price * 0.9998:.2f}",
            "lastPrice": f"{price:.2f}", "fundingRate": "0.0001",
            "nextFundingTime": str(next_funding_ms(now_ms)),
            "openInterest": f"{TICKER_OPEN_INTEREST:.3f}", "openInterestValue": f"{TICKER_OPEN_INTEREST * price:.2f}",
            "singleOpenInterest": f"{TICKER_SINGLE_OPEN_INTEREST:.3f}",
            "singleOpenInterestValue": f"{TICKER_SINGLE_OPEN_INTEREST * price:.2f}"}


def inverse_liquidation_price(wallet: float, contracts: float, entry: float, mmr: float = DEMO_INVERSE_MMR,
                              fee: float = DEMO_TAKER_FEE) -> float:
    """A lone cross inverse long's liquidation price in its coin's wallet, by Bybit's rules (maintenance
    margin = value at entry × MMR + the fee to close at the bankruptcy price; engine/venues/bybit.py):
    bankruptcy where wallet + C(1/E − 1/BP) = fee × C/BP, liquidation where wallet + C(1/E − 1/LP) =
    MMR × C/E + fee × C/BP (C in 1-USD contracts)."""
    bankruptcy = (1 + fee) * contracts / (wallet + contracts / entry)
    return contracts / (wallet + contracts / entry * (1 - mmr) - fee * contracts / bankruptcy)


def subscribed_topics(conn: EmuConnection) -> set[str]:
    """Every topic ``conn`` subscribed and did not unsubscribe, from what the client sent (read once:
    a burst of liquidations asks for every frame)."""
    seen = _of_connection(_TOPICS, conn, lambda: [0, set()])  # [messages read, topics]
    topics: set[str] = seen[1]
    for text in conn.received[seen[0]:]:
        if '"subscribe"' not in text and '"unsubscribe"' not in text:  # pings and the rest, cheaply
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        args = doc.get("args") if isinstance(doc, dict) else None
        if isinstance(args, list) and doc.get("op") == "subscribe":
            topics.update(a for a in args if isinstance(a, str))
        elif isinstance(args, list) and doc.get("op") == "unsubscribe":
            topics.difference_update(a for a in args if isinstance(a, str))
    seen[0] = len(conn.received)
    return topics


def _of_connection(table: dict[int, Any], conn: EmuConnection, make: Callable[[], Any]) -> Any:
    """``conn``'s entry of ``table``, made on first use and dropped with the connection."""
    entry = table.get(id(conn))
    if entry is None:
        entry = table[id(conn)] = make()
        weakref.finalize(conn, table.pop, id(conn), None)
    return entry


# Per connection (by id, dropped with it): what ``subscribed_topics`` has read of what it sent, and
# the next funding time ``frames`` last sent of each symbol.
_TOPICS: dict[int, list[Any]] = {}
_FUNDING_SENT: dict[int, dict[str, int]] = {}


# Tier tables in the venue's documented shape (research/exchanges.md §2.2). The numbers are emulator
# values, deliberately not the bundled ones, so a refresh visibly overrides them.
_LINEAR_TIERS = [("300000", "0.0033", "0.0066", "150.00"), ("800000", "0.005", "0.01", "100.00"),
                       ("3000000", "0.0075", "0.0125", "80.00"), ("6000000", "0.01", "0.02", "50.00")]
_INVERSE_TIERS = [("150", "0.005", "0.01", "100.00"), ("300", "0.01", "0.015", "66.67"),
                        ("450", "0.015", "0.02", "50.00")]


def risk_limit_rows(category: str, symbol: str) -> list[dict[str, Any]]:
    return _rows(symbol, symbol_tiers(category, symbol), False)


def _rows(symbol: str, table: Any, malformed: bool) -> list[dict[str, Any]]:
    rows, deduction, prev_cap, prev_mmr = [], 0.0, 0.0, None
    for i, (cap, mmr, imr, lever) in enumerate(table, start=1):
        # mmDeduction by the documented recurrence; "" on the lowest tier, as the venue sends it
        if prev_mmr is not None:
            deduction += prev_cap * (float(mmr) - prev_mmr)
        rows.append({"id": i, "symbol": symbol, "riskLimitValue": cap,
                     "maintenanceMargin": "-1" if malformed else mmr,
                     "initialMargin": imr, "isLowestRisk": 1 if i == 1 else 0, "maxLeverage": lever,
                     "mmDeduction": "" if i == 1 else f"{deduction:.4f}"})
        prev_cap, prev_mmr = float(cap), float(mmr)
    return rows


def _bybit_ok(result: Any, now_ms: int) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}


def private_body_of(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
    if path == "/v5/position/list":
        return _positions(account, query, now_ms)
    if path == "/v5/account/wallet-balance":
        return _bybit_ok({"list": [_bybit_wallet(account, query.get("coin", "USDT"))]}, now_ms)
    if path == "/v5/execution/list":
        return _bybit_ok(_executions(account, query, now_ms), now_ms)
    if path == "/v5/account/info":
        isolated = bool(account.positions) and all(p.isolated for p in account.positions)
        return _bybit_ok({"marginMode": "ISOLATED_MARGIN" if isolated else "REGULAR_MARGIN",
                          "updatedTime": str(now_ms), "unifiedMarginStatus": 5, "dcpStatus": "OFF",
                          "timeWindow": 10, "smpGroup": 0, "isMasterTrader": False,
                          "spotHedgingStatus": "OFF"}, now_ms)
    writable = account.can_trade or account.can_withdraw
    wallet = ["AccountTransfer", "SubMemberTransfer"] if writable else []
    if account.can_withdraw:
        wallet.append("Withdraw")
    return {**_bybit_ok({"id": "16651472", "note": "adlwatch emulator", "apiKey": account.key,
                         "readOnly": 0 if writable else 1, "secret": "",
                         "permissions": {"ContractTrade": ["Order", "Position"], "Spot": [], "Wallet": wallet,
                                         "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [],
                                         "Exchange": [], "NFT": []},
                         "ips": ["*"], "type": 1, "deadlineDay": 66, "expiredAt": "2030-01-01T00:00:00Z",
                         "createdAt": "2026-01-01T00:00:00Z", "unified": 0, "uta": 1, "userID": 53888001,
                         "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0},
                        now_ms), "retMsg": ""}


POSITION_PAGE_DEFAULT, POSITION_PAGE_MAX = 20, 200  # ``limit`` of /v5/position/list: default 20, 1-200


def _positions(account: EmuAccount, query: dict[str, str], now_ms: int) -> dict[str, Any]:
    """``GET /v5/position/list`` as the venue filters it: ``category`` linear (``symbol`` or
    ``settleCoin`` required) or inverse (every open inverse position without either), in pages of
    ``limit`` (default 20) with an opaque ``cursor``."""
    category = query.get("category", "")
    symbol, settle = query.get("symbol", ""), query.get("settleCoin", "")
    if category not in ("linear", "inverse"):
        return {"retCode": 10001, "retMsg": "category is not linear or inverse", "result": {}, "retExtInfo": {},
                "time": now_ms}
    if category == "linear" and not symbol and not settle:
        return {"retCode": 10001, "retMsg": "symbol or settleCoin is needed for linear", "result": {},
                "retExtInfo": {}, "time": now_ms}
    held = [p for p in account.positions if (category == "inverse") == is_inverse_symbol(p.symbol)
            and (p.symbol == symbol if symbol else not settle or p.settle == settle)]
    limit = min(max(int_or_none(query.get("limit", "")) or POSITION_PAGE_DEFAULT, 1), POSITION_PAGE_MAX)
    page, cursor = _page(held, query.get("cursor", ""), limit)
    return _bybit_ok({"list": [_bybit_position(p, now_ms) for p in page], "nextPageCursor": cursor,
                      "category": category}, now_ms)


def is_inverse_symbol(symbol: str) -> bool:
    """Perpetuals (BTCUSD) and dated futures (BTCUSDH27) quoted in USD are inverse."""
    return is_inverse(symbol) or symbol[:-3].endswith("USD")


def unrealized_pnl(p: EmuPosition) -> float:
    """The position's uPnL in its settlement asset: linear ``size × (mark − entry)``, inverse (size in
    1-USD contracts, PnL in the coin) ``size × (1/entry − 1/mark)``, signed by side."""
    if is_inverse_symbol(p.symbol):
        return p.sign * p.size * (1.0 / p.entry_price - 1.0 / p.mark_price)
    return p.sign * p.size * (p.mark_price - p.entry_price)


def _bybit_position(p: EmuPosition, now_ms: int) -> dict[str, Any]:
    # positionValue: the coin value of USD contracts on inverse, quote value on linear
    value = p.size / p.entry_price if is_inverse_symbol(p.symbol) else p.size * p.entry_price
    initial = value / p.leverage
    return {"positionIdx": (1 if p.side == "long" else 2) if p.hedge else 0, "riskId": 1,
            "riskLimitValue": "2000000", "symbol": p.symbol, "side": "Buy" if p.side == "long" else "Sell",
            "size": decimal_text(p.size), "avgPrice": decimal_text(p.entry_price), "positionValue": decimal_text(value),
            "tradeMode": 1 if p.isolated else 0, "positionStatus": "Normal", "autoAddMargin": 0,
            "adlRankIndicator": p.adl, "leverage": decimal_text(p.leverage),
            "positionBalance": decimal_text(p.isolated_margin if p.isolated and p.isolated_margin else initial),
            "markPrice": decimal_text(p.mark_price), "liqPrice": decimal_text(p.liquidation_price) if p.liquidation_price else "",
            "bustPrice": "", "positionMM": decimal_text(p.maint_margin), "positionIM": decimal_text(initial), "tpslMode": "Full",
            "takeProfit": _trigger_text(p.take_profit), "stopLoss": _trigger_text(p.stop_loss), "trailingStop": "0",
            "breakEvenPrice": decimal_text(p.break_even_price) if p.break_even_price else "",
            "unrealisedPnl": decimal_text(unrealized_pnl(p)),
            "curRealisedPnl": "0", "cumRealisedPnl": "0", "seq": 5723621632, "isReduceOnly": False,
            "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": str(now_ms - 60_000),
            "updatedTime": str(now_ms)}


def _trigger_text(price: float | None) -> str:
    return decimal_text(price) if price else "0.00"  # the venue's "none set", as in its example


# execType and createType of a closing fill, by its cause (docs/v5/enum.mdx)
_EXEC_TYPES = {"liquidation": ("BustTrade", "CreateByTakeOver_PassThrough"),
               "adl": ("AdlTrade", "CreateByAdl_PassThrough"), "user": ("Trade", "CreateByClosing")}
EXECUTION_WINDOW_MS = 7 * 24 * 3600 * 1000  # what the venue gives without both startTime and endTime


def _executions(account: EmuAccount, query: dict[str, str], now_ms: int) -> dict[str, Any]:
    """``GET /v5/execution/list`` of the account's closing records, filtered as the venue filters
    (category, symbol, execType, startTime / endTime within 7 days), newest first, in pages of
    ``limit`` (default 50) with an opaque ``cursor``."""
    category = query.get("category", "linear")
    start, end = int_or_none(query.get("startTime", "")), int_or_none(query.get("endTime", ""))
    if start is not None and end is None:
        end = start + EXECUTION_WINDOW_MS
    elif end is None:
        end = now_ms
    if start is None:
        start = end - EXECUTION_WINDOW_MS
    limit = min(max(int_or_none(query.get("limit", "")) or 50, 1), 100)
    rows = [_execution_row(r) for r in sorted(account.records, key=lambda r: (r.ts_ms, r.id), reverse=True)
            if (category == "inverse") == is_inverse_symbol(r.symbol)
            and query.get("symbol", r.symbol) == r.symbol
            and query.get("execType", _EXEC_TYPES[r.cause][0]) == _EXEC_TYPES[r.cause][0]
            and start <= r.ts_ms <= end]
    page, cursor = _page(rows, query.get("cursor", ""), limit)
    return {"nextPageCursor": cursor, "category": category, "list": page}


def _execution_row(r: EmuRecord) -> dict[str, Any]:
    exec_type, create_type = _EXEC_TYPES[r.cause]
    quantity = decimal_text(r.size)
    value = r.size / r.price if is_inverse_symbol(r.symbol) else r.size * r.price  # inverse: coin value of USD contracts
    return {"symbol": r.symbol, "orderType": "Market" if r.cause == "user" else "Limit", "underlyingPrice": "",
            "orderLinkId": "", "side": "Sell" if r.side == "long" else "Buy", "indexPrice": "",
            "orderId": f"emu-order-{r.id}", "stopOrderType": "UNKNOWN", "leavesQty": "0",
            "execTime": str(r.ts_ms), "feeCurrency": "", "isMaker": False, "execFee": "0", "feeRate": "0.00055",
            "execId": f"emu-exec-{r.id}", "tradeIv": "", "blockTradeId": "", "markPrice": decimal_text(r.price),
            "execPrice": decimal_text(r.price), "markIv": "", "orderQty": quantity,
            "orderPrice": decimal_text(r.price), "execValue": decimal_text(value), "execType": exec_type,
            "execQty": quantity, "closedSize": quantity, "createType": create_type, "extraFees": "",
            "seq": 4688002127 + r.id}


def _bybit_wallet(key_account: EmuAccount, coin: str) -> dict[str, Any]:
    account = key_account.in_asset(coin) or key_account  # the coin's wallet (none held: no coin row)
    held = account.held()
    unrealized = sum(unrealized_pnl(p) for p in held)
    maintenance = sum(p.maint_margin for p in held)
    equity = account.wallet_balance + unrealized
    row = {"coin": coin, "equity": decimal_text(equity), "usdValue": decimal_text(equity), "walletBalance": decimal_text(account.wallet_balance),
           "borrowAmount": "0", "availableToBorrow": "", "availableToWithdraw": "", "accruedInterest": "0",
           "totalOrderIM": "0", "totalPositionIM": "0", "totalPositionMM": decimal_text(maintenance),
           "unrealisedPnl": decimal_text(unrealized), "cumRealisedPnl": "0", "bonus": "0"}
    return {"accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0", "totalEquity": decimal_text(equity),
            "totalWalletBalance": decimal_text(account.wallet_balance), "totalMarginBalance": decimal_text(equity),
            "totalAvailableBalance": decimal_text(account.wallet_balance), "totalPerpUPL": decimal_text(unrealized),
            "totalInitialMargin": "0", "totalMaintenanceMargin": decimal_text(maintenance),
            "coin": [row] if coin == account.settle else []}


PERSONALITY = BybitPersonality()


# ---------------------------------------------------------------------------- the whole universe
# instruments-info and risk-limit for every emulated contract: a deterministic synthetic universe of
# real-looking symbols (a few hundred linear USDT perpetuals, USDC ones, tens of inverse ones, some
# Closed / PreLaunch / Delivering, and a few dated futures the catalogue must leave out), paged as the
# venue pages (``limit`` and ``cursor`` / ``nextPageCursor``). Numbers are emulator values.

_REAL_COINS = (
    "BTC ETH SOL XRP DOGE BNB ADA AVAX LINK DOT TRX TON LTC BCH NEAR APT ARB OP SUI SEI ATOM FIL ETC "
    "UNI AAVE INJ TIA RNDR WLD STX IMX HBAR ICP VET ALGO EGLD FTM SAND MANA AXS GALA APE CRV LDO MKR "
    "SNX COMP DYDX GMX BLUR PEPE SHIB FLOKI BONK WIF ORDI SATS JUP PYTH JTO ENA ETHFI W STRK ZK ZRO "
    "NOT IO TAO KAS CFX ROSE KAVA ZIL ONE IOTA XLM XMR ZEC DASH NEO QTUM ONT ICX WAVES KSM CELO FLOW "
    "MINA GRT ENS SUSHI YFI 1INCH BAL ZRX LRC CHZ ENJ BAT ANKR SKL STORJ AUDIO MASK ID CYBER ARKM"
).split()
_SYLLABLES = ("ka", "zo", "mi", "ru", "te", "xa", "lo", "vi", "ne", "qu", "do", "fy", "ra", "pe")
_LINEAR_COUNT = 300
_INVERSE_COINS = ("BTC", "ETH", "XRP", "EOS", "DOT", "ADA", "LTC", "MANA", "SOL", "LINK", "BIT", "DOGE",
                  "AVAX", "ATOM", "TRX", "UNI", "FIL", "BCH", "XLM", "ETC")
_USDC_COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ARB", "OP", "SUI", "AVAX", "LINK", "ORDI", "WIF")
_FUTURES = (("linear", "BTC-27MAR27", "LinearFutures", "BTC", "USDC"),
            ("inverse", "BTCUSDH27", "InverseFutures", "BTC", "USD"))
# (cap, maintenance rate, max leverage) templates; initialMargin is 1 / max leverage, as on the venue
_SMALL = (("25000", "0.01", "50"), ("50000", "0.02", "25"), ("100000", "0.025", "20"), ("200000", "0.05", "10"))
_MEDIUM = (("200000", "0.005", "75"), ("500000", "0.01", "50"), ("1000000", "0.02", "25"))


@dataclass(frozen=True)
class EmuContract:
    symbol: str
    category: str  # linear | inverse
    contract_type: str  # LinearPerpetual, InversePerpetual, LinearFutures, InverseFutures
    status: str  # Trading, PreLaunch, Delivering, Closed
    base: str
    quote: str
    settle: str
    tick: str
    tiers: tuple[tuple[str, str, str, str], ...]  # cap, mmr, imr, maxLeverage (strings, venue style)


def _levered(template: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, str, str, str], ...]:
    return tuple((cap, mmr, decimal_text(1.0 / float(lever)), f"{float(lever):.2f}") for cap, mmr, lever in template)


def _synthetic_coin(i: int) -> str:
    a, b = divmod(i, len(_SYLLABLES))
    return (_SYLLABLES[a % len(_SYLLABLES)] + _SYLLABLES[b] + _SYLLABLES[(a + b) % len(_SYLLABLES)]).upper()


def _status(i: int) -> str:
    if i % 41 == 17:
        return "Closed"
    if i % 59 == 23:
        return "PreLaunch"
    if i % 97 == 50:
        return "Delivering"
    return "Trading"


@cache
def universe() -> tuple[EmuContract, ...]:
    """Every emulated Bybit contract, in the venue's listing order (by category, then symbol)."""
    coins = coin_names(_REAL_COINS, _LINEAR_COUNT, _synthetic_coin)
    out: list[EmuContract] = []
    for n, coin in enumerate(coins):
        big = coin in ("BTC", "ETH")
        tiers = tuple(_LINEAR_TIERS) if big else _levered(_MEDIUM if n < 40 else _SMALL)
        tick = "0.10" if coin == "BTC" else ("0.01" if n < 10 else ("0.0001" if n % 3 else "0.000001"))
        status = "Trading" if big else _status(n)
        out.append(EmuContract(f"{coin}USDT", "linear", "LinearPerpetual", status, coin, "USDT", "USDT", tick,
                               tiers if status != "Closed" else ()))  # a delisted contract has no risk limits
    for coin in _USDC_COINS:
        out.append(EmuContract(f"{coin}PERP", "linear", "LinearPerpetual", "Trading", coin, "USDC", "USDC",
                               "0.01", _levered(_MEDIUM)))
    for coin in _INVERSE_COINS:
        tiers = tuple(_INVERSE_TIERS) if coin == "BTC" else _levered((("50000", "0.01", "50"), ("100000", "0.02", "25")))
        status = "Closed" if coin in ("BIT", "MANA") else "Trading"
        out.append(EmuContract(f"{coin}USD", "inverse", "InversePerpetual", status, coin, "USD", coin,
                               "0.50" if coin == "BTC" else "0.001", tiers if status != "Closed" else ()))
    for category, symbol, contract_type, coin, quote in _FUTURES:
        out.append(EmuContract(symbol, category, contract_type, "Trading", coin, quote,
                               quote if category == "linear" else coin, "0.50", ()))
    return tuple(sorted(out, key=lambda c: (c.category, c.symbol)))


@dataclass
class UniverseConfig:
    """Per emulator: the request-rate limit (``rate`` = (requests, window seconds); None: none), the
    symbols whose rows are served malformed, and the page sizes."""

    rate: tuple[int, float] | None = None
    malformed: set[str] = field(default_factory=set)
    risk_page_size: int = 200  # risk-limit rows a page (the venue's own size is UNCONFIRMED)
    sent: deque[float] = field(default_factory=deque)


_CONFIGS: weakref.WeakKeyDictionary[Any, UniverseConfig] = weakref.WeakKeyDictionary()


def universe_config(emulator: Any) -> UniverseConfig:
    config = _CONFIGS.get(emulator)
    if config is None:
        config = _CONFIGS[emulator] = UniverseConfig()
    return config


def _rate_limited(config: UniverseConfig, now_ms: int) -> Answer | None:
    """Bybit's answer to one request too many in the window: HTTP 429, retCode 10006."""
    if config.rate is None:
        return None
    limit, window_s = config.rate
    now = time.monotonic()
    while config.sent and config.sent[0] <= now - window_s:
        config.sent.popleft()
    if len(config.sent) >= limit:
        wait = max(0.0, config.sent[0] + window_s - now)
        body = {"retCode": RATE_LIMIT_CODE, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {},
                "time": now_ms}
        return 429, json.dumps(body, **COMPACT), {"Retry-After": f"{wait:.3f}"}
    config.sent.append(now)
    return None


def _instrument_item(c: EmuContract, malformed: bool) -> dict[str, Any]:
    lever = c.tiers[0][3] if c.tiers else "10.00"
    return {"symbol": c.symbol, "contractType": c.contract_type, "status": c.status, "baseCoin": c.base,
            "quoteCoin": c.quote, "launchTime": "1672531200000",
            "deliveryTime": "1806134400000" if "Futures" in c.contract_type else "0", "deliveryFeeRate": "",
            "priceScale": str(len(c.tick.split(".")[1]) if "." in c.tick else 0),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": lever, "leverageStep": "0.01"},
            "priceFilter": {"minPrice": c.tick, "maxPrice": "1999999.00",
                            "tickSize": "a tick" if malformed else c.tick},
            "lotSizeFilter": {"maxOrderQty": "1000000", "minOrderQty": "1", "qtyStep": "1",
                              "postOnlyMaxOrderQty": "1000000", "maxMktOrderQty": "100000",
                              "minNotionalValue": "5"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": c.settle, "copyTrading": "both",
            "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": c.status == "PreLaunch",
            "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
            "displayName": ""}


def _offset(cursor: str) -> int:
    """The emulator's opaque cursors are ``o<offset>`` (the venue's are opaque too)."""
    return int(cursor[1:]) if cursor.startswith("o") and cursor[1:].isdigit() else 0


def _page(rows: list[Any], cursor: str, size: int) -> tuple[list[Any], str]:
    start = _offset(cursor)
    end = start + size
    return rows[start:end], (f"o{end}" if end < len(rows) else "")


def instruments_body(emulator: Any, q: dict[str, str], now_ms: int) -> dict[str, Any]:
    config = universe_config(emulator)
    category = q.get("category", "linear")
    # Without ``status`` (and without ``symbol``) only Trading contracts are listed, as we understand the
    # venue does (UNCONFIRMED); the others are asked with status=PreLaunch / Delivering / Closed.
    status = q.get("status") or ("" if q.get("symbol") else "Trading")
    listed = [c for c in universe() if c.category == category
              and (not q.get("symbol") or c.symbol == q["symbol"])
              and (not status or c.status == status)]
    limit = min(max(int(q.get("limit") or 500), 1), 1000)
    page, cursor = _page(listed, q.get("cursor", ""), limit)
    items = [_instrument_item(c, c.symbol in config.malformed) for c in page]
    return _bybit_ok({"category": category, "list": items, "nextPageCursor": cursor}, now_ms)


def universe_risk_limit_body(emulator: Any, q: dict[str, str], now_ms: int) -> dict[str, Any]:
    config = universe_config(emulator)
    category = q.get("category", "linear")
    rows: list[dict[str, Any]] = []
    for c in universe():
        if c.category == category and c.tiers:
            rows.extend(_rows(c.symbol, c.tiers, c.symbol in config.malformed))
    page, cursor = _page(rows, q.get("cursor", ""), config.risk_page_size)
    return _bybit_ok({"category": category, "list": page, "nextPageCursor": cursor}, now_ms)


def symbol_tiers(category: str, symbol: str) -> tuple[tuple[str, str, str, str], ...]:
    for c in universe():
        if c.category == category and c.symbol == symbol and c.tiers:
            return c.tiers
    return tuple(_INVERSE_TIERS if category == "inverse" else _LINEAR_TIERS)
