"""Bybit on the loopback emulator (feeds/emulator.py): its ticker stream, REST bodies and signed reads."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from adlwatch.feeds.emulator_base import (
    COMPACT,
    Answer,
    EmuAccount,
    EmuConnection,
    EmuPosition,
    Personality,
    decimal_text,
    int_or_none,
    next_funding_ms,
)

PRIVATE_PATHS = frozenset({"/v5/position/list", "/v5/account/wallet-balance", "/v5/account/info",
                           "/v5/user/query-api"})


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
            kind = "delta"
        return [{"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": conn.ticks, "ts": now_ms}]

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        now_ms = int(time.time() * 1000)
        if path == "/v5/market/tickers":
            symbol = q["symbol"]
            price = emulator.prices.current("bybit", symbol)
            item = {"symbol": symbol, "markPrice": f"{price:.2f}", "indexPrice": f"{price * 0.9998:.2f}",
                    "lastPrice": f"{price:.2f}", "fundingRate": "0.0001",
                    "nextFundingTime": str(next_funding_ms(now_ms)),
                    "openInterest": "100000.000", "openInterestValue": f"{100000 * price:.2f}",
                    "singleOpenInterest": "50000.000", "singleOpenInterestValue": f"{50000 * price:.2f}"}
            return {"retCode": 0, "retMsg": "OK", "result": {"category": q.get("category", "linear"),
                                                             "list": [item]}, "retExtInfo": {}, "time": now_ms}
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
        if path == "/v5/market/risk-limit":
            category = q.get("category", "linear")
            symbols = [q["symbol"]] if q.get("symbol") else ["BTCUSDT", "ETHUSDT"]
            rows = [row for s in symbols for row in risk_limit_rows(category, s)]
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


# Tier tables in the venue's documented shape (research/exchanges.md §2.2). The numbers are emulator
# values, deliberately not the bundled ones, so a refresh visibly overrides them.
_LINEAR_TIERS = [("300000", "0.0033", "0.0066", "150.00"), ("800000", "0.005", "0.01", "100.00"),
                       ("3000000", "0.0075", "0.0125", "80.00"), ("6000000", "0.01", "0.02", "50.00")]
_INVERSE_TIERS = [("150", "0.005", "0.01", "100.00"), ("300", "0.01", "0.015", "66.67"),
                        ("450", "0.015", "0.02", "50.00")]


def risk_limit_rows(category: str, symbol: str) -> list[dict[str, Any]]:
    table = _INVERSE_TIERS if category == "inverse" else _LINEAR_TIERS
    rows, deduction, prev_cap, prev_mmr = [], 0.0, 0.0, None
    for i, (cap, mmr, imr, lever) in enumerate(table, start=1):
        # mmDeduction by the documented recurrence; "" on the lowest tier, as the venue sends it
        if prev_mmr is not None:
            deduction += prev_cap * (float(mmr) - prev_mmr)
        rows.append({"id": i, "symbol": symbol, "riskLimitValue": cap, "maintenanceMargin": mmr,
                     "initialMargin": imr, "isLowestRisk": 1 if i == 1 else 0, "maxLeverage": lever,
                     "mmDeduction": "" if i == 1 else f"{deduction:.4f}"})
        prev_cap, prev_mmr = float(cap), float(mmr)
    return rows


def _bybit_ok(result: Any, now_ms: int) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}


def private_body_of(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
    if path == "/v5/position/list":
        settle = query.get("settleCoin", "USDT")
        rows = [_bybit_position(p, now_ms) for p in account.positions if p.settle == settle]
        return _bybit_ok({"list": rows, "nextPageCursor": "", "category": query.get("category", "linear")}, now_ms)
    if path == "/v5/account/wallet-balance":
        return _bybit_ok({"list": [_bybit_wallet(account, query.get("coin", "USDT"))]}, now_ms)
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


def _bybit_position(p: EmuPosition, now_ms: int) -> dict[str, Any]:
    value = p.size * p.entry_price
    initial = value / p.leverage
    return {"positionIdx": (1 if p.side == "long" else 2) if p.hedge else 0, "riskId": 1,
            "riskLimitValue": "2000000", "symbol": p.symbol, "side": "Buy" if p.side == "long" else "Sell",
            "size": decimal_text(p.size), "avgPrice": decimal_text(p.entry_price), "positionValue": decimal_text(value),
            "tradeMode": 1 if p.isolated else 0, "positionStatus": "Normal", "autoAddMargin": 0,
            "adlRankIndicator": p.adl, "leverage": decimal_text(p.leverage),
            "positionBalance": decimal_text(p.isolated_margin if p.isolated and p.isolated_margin else initial),
            "markPrice": decimal_text(p.mark_price), "liqPrice": decimal_text(p.liquidation_price) if p.liquidation_price else "",
            "bustPrice": "", "positionMM": decimal_text(p.maint_margin), "positionIM": decimal_text(initial), "tpslMode": "Full",
            "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": decimal_text(p.unrealized_pnl),
            "curRealisedPnl": "0", "cumRealisedPnl": "0", "seq": 5723621632, "isReduceOnly": False,
            "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": str(now_ms - 60_000),
            "updatedTime": str(now_ms)}


def _bybit_wallet(account: EmuAccount, coin: str) -> dict[str, Any]:
    held = account.held()
    unrealized = sum(p.unrealized_pnl for p in held)
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
