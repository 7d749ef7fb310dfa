"""Hyperliquid on the loopback emulator (feeds/emulator.py): its asset-context stream, ``/info`` bodies and demo wallet."""

from __future__ import annotations

import json
import time
from typing import Any

from adlwatch.feeds.emulator_base import (
    COMPACT,
    EmuConnection,
    Personality,
)
from adlwatch.feeds.venues.hyperliquid.emulator_user import install_hyperliquid_users

DEMO_ADDRESS = "0x" + "5e" * 20


class HyperliquidPersonality(Personality):
    """``activeAssetCtx`` pushes, JSON ping/pong, ``POST /info`` (meta, asset contexts, the HLP vault),
    and a demo wallet served by the per-user endpoints (emulator_user.py)."""

    ws_path = "/ws"

    def coin_of(self, symbol: str) -> str:
        return symbol.upper()

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        if doc.get("method") == "ping":
            await conn.send(json.dumps({"channel": "pong"}, **COMPACT))
        elif doc.get("method") == "subscribe":
            sub = doc.get("subscription") or {}
            await conn.send(json.dumps({"channel": "subscriptionResponse",
                                        "data": {"method": "subscribe", "subscription": sub}}, **COMPACT))
            if sub.get("type") == "activeAssetCtx":
                emulator.add_symbols(conn, [sub.get("coin", "")])

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        ctx = {"funding": "0.0000125", "openInterest": "20000.5", "prevDayPx": f"{price * 0.99:.1f}",
               "dayNtlVlm": "1500000000.0", "premium": "0.0001", "oraclePx": f"{price * 0.9999:.1f}",
               "markPx": f"{price:.1f}", "midPx": f"{price:.1f}",
               "impactPxs": [f"{price * 0.9999:.1f}", f"{price * 1.0001:.1f}"], "dayBaseVlm": "23000.1"}
        return [{"channel": "activeAssetCtx", "data": {"coin": symbol, "ctx": ctx}}]

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        if path != "/info" or method != "POST" or not isinstance(body, dict):
            return None
        kind = body.get("type")
        if kind == "metaAndAssetCtxs":
            coins = ["BTC", "ETH", "SOL", "XRP", "DOGE"]
            universe = [{"name": c, "szDecimals": 3, "maxLeverage": 40} for c in coins]
            ctxs = []
            for coin in coins:
                price = emulator.prices.current("hyperliquid", coin)
                ctxs.append(self.frames(None, coin, price, 0)[0]["data"]["ctx"])  # type: ignore[arg-type]
            return [{"universe": universe}, ctxs]
        if kind == "vaultDetails":
            now_ms = int(time.time() * 1000)
            history = [[now_ms - 86_400_000, "380000000.0"], [now_ms, "381250000.5"]]
            return {"name": "Hyperliquidity Provider (HLP)", "vaultAddress": body.get("vaultAddress"),
                    "portfolio": [["day", {"accountValueHistory": history, "pnlHistory": [], "vlm": "0.0"}]]}
        if kind == "meta":
            return meta()
        if kind == "allMids":
            return {c: f"{emulator.prices.current('hyperliquid', c):.1f}" for c in ["BTC", "ETH", "SOL"]}
        return None

    def demo_accounts(self, emulator: Any) -> list[str]:
        btc = emulator.prices.current("hyperliquid", "BTC")
        size, entry = 0.4, btc * 0.99
        value = size * btc
        install_hyperliquid_users(emulator, {DEMO_ADDRESS: {
            "assetPositions": [{"type": "oneWay", "position": {
                "coin": "BTC", "szi": f"{-size}", "entryPx": f"{entry:.1f}", "positionValue": f"{value:.6f}",
                "leverage": {"type": "cross", "value": 10}, "maxLeverage": 40, "marginUsed": f"{value / 10:.6f}",
                "unrealizedPnl": f"{size * (entry - btc):.6f}", "liquidationPx": None,
                "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"},
                "returnOnEquity": "0.0"}}],
            "crossMaintenanceMarginUsed": f"{value / 80:.6f}",
            "crossMarginSummary": {"accountValue": f"{3_000 + size * (entry - btc):.6f}",
                                   "totalMarginUsed": f"{value / 10:.6f}", "totalNtlPos": f"{value:.6f}",
                                   "totalRawUsd": f"{3_000 + size * entry:.6f}"},
            "marginSummary": {"accountValue": f"{3_000 + size * (entry - btc):.6f}",
                              "totalMarginUsed": f"{value / 10:.6f}", "totalNtlPos": f"{value:.6f}",
                              "totalRawUsd": f"{3_000 + size * entry:.6f}"},
            "time": int(time.time() * 1000), "withdrawable": "0.0"}})
        return [f'[[account]] venue = "hyperliquid" address = "{DEMO_ADDRESS}"']



def meta() -> dict[str, Any]:
    # marginTableId below 50 is a single tier at that leverage and is not listed (DOGE here)
    universe = [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
                {"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "marginTableId": 55},
                {"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "marginTableId": 54},
                {"name": "XRP", "szDecimals": 0, "maxLeverage": 20, "marginTableId": 53},
                {"name": "DOGE", "szDecimals": 0, "maxLeverage": 10, "marginTableId": 10}]

    def table(description: str, *tiers: tuple[str, int]) -> dict[str, Any]:
        return {"description": description,
                "marginTiers": [{"lowerBound": lb, "maxLeverage": lev} for lb, lev in tiers]}

    return {"universe": universe, "marginTables": [
        [50, table("", ("0.0", 50))],
        [53, table("tiered 20x", ("0.0", 20), ("40000000.0", 10))],
        [54, table("tiered 20x", ("0.0", 20), ("70000000.0", 10))],
        [55, table("tiered 25x", ("0.0", 25), ("100000000.0", 15))],
        [56, table("tiered 40x", ("0.0", 40), ("150000000.0", 20))]], "collateralToken": 0}


PERSONALITY = HyperliquidPersonality()
