"""Binance on the loopback emulator (feeds/emulator.py): its streams, REST bodies, signed reads and demo account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from adlwatch.feeds.emulator_base import (
    COMPACT,
    Answer,
    EmuAccount,
    EmuConnection,
    EmuPosition,
    Personality,
    decimal_text,
    int_or_none,
    leverage_value,
    next_funding_ms,
)
from adlwatch.feeds.emulator_private import install_private

PRIVATE_PATHS = frozenset({"/fapi/v3/positionRisk", "/fapi/v3/account", "/fapi/v1/symbolConfig",
                           "/fapi/v1/adlQuantile", "/fapi/v1/leverageBracket", "/sapi/v1/account/apiRestrictions"})
DEMO_KEY, DEMO_SECRET = "demo-read-only-key-0001", "demo-secret-not-a-real-one"


class BinancePersonality(Personality):
    """Streams in the URL (or SUBSCRIBE), ``markPriceUpdate`` frames, ``/fapi`` REST, signed reads
    refused with Binance's own codes (HTTP 401 -2014/-2015; 400 -1102, -1021, -1022)."""

    ws_path = ""
    private_paths = PRIVATE_PATHS

    def symbols_in_url(self, path: str, query: str) -> list[str]:
        streams = parse_qs(query).get("streams", [""])[0]
        if not streams and "/ws/" in "/" + path:
            streams = path.rsplit("/", 1)[-1]
        return [s.split("@")[0].upper() for s in streams.split("/") if s and not s.startswith("!")]

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        if doc.get("method") in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if doc["method"] == "SUBSCRIBE":
                emulator.add_symbols(conn, [p.split("@")[0].upper() for p in doc.get("params", [])])
            await conn.send(json.dumps({"result": None, "id": doc.get("id")}, **COMPACT))

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        next_funding = next_funding_ms(now_ms)
        data = {"e": "markPriceUpdate", "E": now_ms, "s": symbol, "p": f"{price:.8f}",
                "i": f"{price * 0.9998:.8f}", "P": f"{price * 1.0001:.8f}", "r": "0.00010000",
                "T": next_funding}
        return [{"stream": f"{symbol.lower()}@markPrice@1s", "data": data}]

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        now_ms = int(time.time() * 1000)
        symbol = q.get("symbol", "BTCUSDT")
        if path == "/fapi/v1/premiumIndex":
            price = emulator.prices.current("binance", symbol)
            return {"symbol": symbol, "markPrice": f"{price:.8f}", "indexPrice": f"{price * 0.9998:.8f}",
                    "estimatedSettlePrice": f"{price:.8f}", "lastFundingRate": "0.00010000",
                    "interestRate": "0.00010000", "nextFundingTime": next_funding_ms(now_ms),
                    "time": now_ms}
        if path == "/fapi/v1/openInterest":
            return {"openInterest": "10659.509", "symbol": symbol, "time": now_ms}
        if path == "/fapi/v1/insuranceBalance":
            return {"symbols": [symbol], "assets": [{"asset": "USDT", "marginBalance": "793930579.315848",
                                                     "updateTime": now_ms}]}
        return None

    def check_signature(self, accounts: dict[tuple[str, str], EmuAccount], path: str, query: str,
                        headers: dict[str, str], now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        def refuse(status: int, code: int, msg: str) -> tuple[None, Answer]:
            return None, (status, json.dumps({"code": code, "msg": msg}), {})

        key = headers.get("x-mbx-apikey", "")
        if not key:
            return refuse(401, -2014, "API-key format invalid.")
        account = accounts.get(("binance", key))
        if account is None:
            return refuse(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload, marker, signature = query.rpartition("&signature=")
        if not marker or not signature:
            return refuse(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        params = dict(parse_qsl(payload))
        timestamp, window = int_or_none(params.get("timestamp")), int_or_none(params.get("recvWindow", "5000"))
        if timestamp is None or window is None:
            return refuse(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        if not (timestamp < now_ms + 1000 and now_ms - timestamp <= window):
            return refuse(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return refuse(400, -1022, "Signature for this request is not valid.")
        return account, None

    def private_body(self, account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
        return private_body_of(account, path, query, now_ms)

    def demo_accounts(self, emulator: Any) -> list[str]:
        btc = emulator.prices.current("binance", "BTCUSDT")
        install_private(emulator, [EmuAccount(
            venue="binance", key=DEMO_KEY, secret=DEMO_SECRET, wallet_balance=4_000.0,
            positions=[EmuPosition("BTCUSDT", "long", 0.5, btc * 1.02, btc, 10.0, liquidation_price=btc * 0.93, adl=2,
                                   maint_margin=btc * 0.5 * 0.004,
                                   brackets=((0.0, 50_000.0, 0.004, 125.0, 0.0),
                                             (50_000.0, 500_000.0, 0.005, 100.0, 50.0)))],
        )])
        return [f"demo accounts: ADLWATCH_BINANCE_DEMO_API_KEY={DEMO_KEY} ADLWATCH_BINANCE_DEMO_API_SECRET={DEMO_SECRET}",
                '[[account]] venue = "binance" key_name = "demo"']


def private_body_of(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
    if path == "/fapi/v3/positionRisk":
        return [_binance_risk(p, now_ms) for p in account.positions]
    if path == "/fapi/v1/symbolConfig":
        symbols = dict.fromkeys(p.symbol for p in account.positions)
        return [_binance_config(account, symbol) for symbol in symbols]
    if path == "/fapi/v3/account":
        return _binance_account(account, now_ms)
    if path == "/fapi/v1/adlQuantile":
        return _binance_adl(account)
    if path == "/fapi/v1/leverageBracket":
        return [{"symbol": p.symbol, "brackets": [
            {"bracket": i, "initialLeverage": leverage_value(lev), "notionalCap": cap, "notionalFloor": floor,
             "maintMarginRatio": mmr, "cum": cum} for i, (floor, cap, mmr, lev, cum) in enumerate(p.brackets, 1)]}
            for p in account.positions if p.brackets]
    return {"ipRestrict": False, "createTime": now_ms - 86_400_000, "enableReading": True,
            "enableWithdrawals": account.can_withdraw, "enableInternalTransfer": False, "enableMargin": False,
            "enableFutures": account.can_trade, "permitsUniversalTransfer": False, "enableVanillaOptions": False,
            "enableFixApiTrade": False, "enableFixReadOnly": True, "enableSpotAndMarginTrading": False,
            "enablePortfolioMarginTrading": False}


def _binance_risk(p: EmuPosition, now_ms: int) -> dict[str, Any]:
    amount = p.sign * p.size
    initial = p.size * p.mark_price / p.leverage
    return {"symbol": p.symbol, "positionSide": ("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH",
            "positionAmt": decimal_text(amount), "entryPrice": decimal_text(p.entry_price), "breakEvenPrice": decimal_text(p.entry_price),
            "markPrice": decimal_text(p.mark_price), "unRealizedProfit": decimal_text(p.unrealized_pnl),
            "liquidationPrice": decimal_text(p.liquidation_price or 0.0),
            "isolatedMargin": decimal_text((p.isolated_margin or 0.0) + p.unrealized_pnl) if p.isolated else "0",
            "notional": decimal_text(amount * p.mark_price), "marginAsset": p.settle,
            "isolatedWallet": decimal_text(p.isolated_margin or 0.0) if p.isolated else "0",
            "initialMargin": decimal_text(initial), "maintMargin": decimal_text(p.maint_margin), "positionInitialMargin": decimal_text(initial),
            "openOrderInitialMargin": "0", "adl": p.adl, "bidNotional": "0", "askNotional": "0",
            "updateTime": now_ms}


def _binance_config(account: EmuAccount, symbol: str) -> dict[str, Any]:
    p = next(p for p in account.positions if p.symbol == symbol)
    return {"symbol": symbol, "marginType": "ISOLATED" if p.isolated else "CROSSED", "isAutoAddMargin": False,
            "leverage": leverage_value(p.leverage), "maxNotionalValue": "1000000"}


def _binance_account(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    held = account.held()
    unrealized = sum(p.unrealized_pnl for p in held)
    wallet = account.wallet_balance + account.isolated_margins()
    maintenance = sum(p.maint_margin for p in held)
    asset = {"asset": account.settle, "walletBalance": decimal_text(wallet), "unrealizedProfit": decimal_text(unrealized),
             "marginBalance": decimal_text(wallet + unrealized), "maintMargin": decimal_text(maintenance), "initialMargin": "0",
             "positionInitialMargin": "0", "openOrderInitialMargin": "0",
             "crossWalletBalance": decimal_text(account.wallet_balance), "crossUnPnl": decimal_text(account.cross_unrealized()),
             "availableBalance": decimal_text(account.wallet_balance), "maxWithdrawAmount": decimal_text(account.wallet_balance),
             "updateTime": now_ms}
    other = {**{k: "0" for k in asset}, "asset": "BNB" if account.settle != "BNB" else "USDC", "updateTime": 0}
    return {"totalInitialMargin": "0", "totalMaintMargin": decimal_text(maintenance), "totalWalletBalance": decimal_text(wallet),
            "totalUnrealizedProfit": decimal_text(unrealized), "totalMarginBalance": decimal_text(wallet + unrealized),
            "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": decimal_text(account.wallet_balance), "totalCrossUnPnl": decimal_text(account.cross_unrealized()),
            "availableBalance": decimal_text(account.wallet_balance), "maxWithdrawAmount": decimal_text(account.wallet_balance),
            "assets": [other, asset],
            "positions": [{"symbol": p.symbol, "positionSide": "BOTH", "positionAmt": decimal_text(p.sign * p.size),
                           "unrealizedProfit": decimal_text(p.unrealized_pnl), "isolatedMargin": "0", "notional": "0",
                           "isolatedWallet": "0", "initialMargin": "0", "maintMargin": decimal_text(p.maint_margin),
                           "updateTime": now_ms} for p in held]}


def _binance_adl(account: EmuAccount) -> list[dict[str, Any]]:
    by_symbol: dict[str, dict[str, int]] = {}
    for p in account.positions:
        sides = by_symbol.setdefault(p.symbol, {"LONG": 0, "SHORT": 0, "BOTH": 0})
        sides[("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH"] = p.adl
    return [{"symbol": symbol, "adlQuantile": sides} for symbol, sides in by_symbol.items()]


PERSONALITY = BinancePersonality()
