"""Hyperliquid on the loopback emulator (feeds/emulator.py): its asset-context stream, ``/info`` bodies and demo wallet."""

from __future__ import annotations

import copy
import functools
import json
import math
import random
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
    and a demo wallet served by the per-user endpoints (emulator_user.py). No public liquidation stream:
    Hyperliquid publishes none (``liquidation_frames`` stays the base's empty list); a followed address's
    liquidations and ADL fills are played by ``HyperliquidUsers.close``."""

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
            body = meta()
            ctxs = []
            for asset in body["universe"]:
                coin = asset["name"]
                if coin in BUNDLED:
                    price = emulator.prices.current("hyperliquid", coin)
                    ctxs.append(self.frames(None, coin, price, 0)[0]["data"]["ctx"])  # type: ignore[arg-type]
                else:
                    ctxs.append(synthetic_ctx(coin))
            return [body, ctxs]
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
                # the venue counts funding paid: this short has received 1.84 USDC since it opened
                "cumFunding": {"allTime": "-1.84", "sinceChange": "-1.84", "sinceOpen": "-1.84"},
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



# ---------------------------------------------------------------------------- the universe
# The bundled five first, with the venue's tables (engine/data/instruments/hyperliquid.toml); then a
# deterministic synthetic universe of a few hundred coins in the real format: real-looking names, the
# venue's kinds of margin table (ids below 50 are one tier at that leverage and not listed; tiered tables
# from 50 up), isolated-only coins (``onlyIsolated``) and delisted ones (``isDelisted``, which the venue
# also marks isolated-only). The coins of the captured vault account (tests/feeds/fixtures/
# hyperliquid_states) are listed at the maximum leverage that capture reports for them.

BUNDLED = ("BTC", "ETH", "SOL", "XRP", "DOGE")
UNIVERSE_SIZE = 400
_REAL_LOOKING = (
    "ATOM", "AVAX", "BNB", "APE", "OP", "LTC", "ARB", "INJ", "SUI", "kPEPE", "LINK", "CRV", "LDO", "GMX",
    "DYDX", "APT", "AAVE", "COMP", "MKR", "SNX", "UNI", "WLD", "TIA", "SEI", "JUP", "PYTH", "WIF", "ORDI",
    "STX", "NEAR", "FIL", "ICP", "TRX", "TON", "ADA", "DOT", "BCH", "ETC", "XLM", "HBAR", "ENA", "ONDO",
    "PENDLE", "EIGEN", "TAO", "RENDER", "FET", "AR", "IMX", "BLUR", "SAGA", "MOODENG", "PURR", "HYPE",
    "VIRTUAL", "MORPHO", "IP", "MON", "MET", "POPCAT", "GOAT", "PNUT", "AI16Z", "FARTCOIN", "TRUMP", "BERA",
    "kBONK", "kSHIB", "kFLOKI", "NOT", "ZRO", "ZK", "STRK", "MANTA", "ALT", "DYM", "JTO", "W", "ENS", "GALA",
    "SAND", "MANA", "AXS", "CAKE", "RUNE", "KAS", "BSV", "ZEC", "XMR", "DASH", "ALGO", "EGLD", "KAVA",
)
# Coins the venue has delisted: kept in the universe with isDelisted (and onlyIsolated).
_DELISTED = ("MATIC", "FTM", "RNDR", "FRIEND", "OX", "SHIA", "RLB", "UNIBOT", "CANTO", "BANANA")
# The maximum leverage the captured vault account reports per coin (vault_16_positions_2026-01-14.json).
_CAPTURED_MAX = {"LTC": 10, "LDO": 10, "WIF": 5, "SAGA": 3, "MOODENG": 3, "PURR": 3, "HYPE": 10,
                 "VIRTUAL": 5, "MORPHO": 5, "IP": 3, "MON": 5, "MET": 3}
_SYLLABLES = ("BA", "LO", "KI", "ZE", "MU", "RA", "TO", "NI", "VE", "SU", "DA", "PO", "XI", "GA", "FY",
              "QU", "OR", "EN", "AX", "IO", "ME", "WA", "JO", "TY")


def _table(description: str, *tiers: tuple[str, int]) -> dict[str, Any]:
    return {"description": description,
            "marginTiers": [{"lowerBound": lb, "maxLeverage": lev} for lb, lev in tiers]}


MARGIN_TABLES: list[list[Any]] = [
    [50, _table("", ("0.0", 50))],
    [51, _table("tiered 10x", ("0.0", 10), ("3000000.0", 5))],
    [52, _table("tiered 20x", ("0.0", 20), ("20000000.0", 10))],
    [53, _table("tiered 20x", ("0.0", 20), ("40000000.0", 10))],
    [54, _table("tiered 20x", ("0.0", 20), ("70000000.0", 10))],
    [55, _table("tiered 25x", ("0.0", 25), ("100000000.0", 15))],
    [56, _table("tiered 40x", ("0.0", 40), ("150000000.0", 20))],
    [57, _table("tiered 10x", ("0.0", 10), ("20000000.0", 5))],
    [58, _table("tiered 5x", ("0.0", 5), ("1000000.0", 3), ("5000000.0", 2))],
]
_FLAT_IDS = (3, 5, 10, 20)  # one tier at that leverage; the venue does not list them
_TIERED_IDS = (51, 52, 57, 58)


def _coin_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3))))[: rng.choice((3, 4, 4, 5))]
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def synthetic_price(coin: str) -> float:
    """A fixed, coin-specific mark between 0.001 and 5,000 (5 significant figures)."""
    rng = random.Random(f"hyperliquid-price:{coin}")
    return float(f"{10 ** rng.uniform(-3, 3.7):.5g}")


def synthetic_ctx(coin: str) -> dict[str, Any]:
    """A fixed asset context (prices to 5 significant figures, as the venue writes them)."""
    price = synthetic_price(coin)

    def px(x: float) -> str:
        return f"{float(f'{x:.5g}'):.8f}".rstrip("0").rstrip(".")

    return {"funding": "0.0000125", "openInterest": "150000.0", "prevDayPx": px(price * 0.99),
            "dayNtlVlm": "2500000.0", "premium": "0.0001", "oraclePx": px(price * 0.9999), "markPx": px(price),
            "midPx": px(price), "impactPxs": [px(price * 0.9999), px(price * 1.0001)], "dayBaseVlm": "10000.0"}


@functools.cache
def _universe() -> tuple[tuple[dict[str, Any], ...], tuple[list[Any], ...]]:
    rng = random.Random("hyperliquid-universe")
    universe: list[dict[str, Any]] = [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 25, "marginTableId": 55},
        {"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "marginTableId": 54},
        {"name": "XRP", "szDecimals": 0, "maxLeverage": 20, "marginTableId": 53},
        {"name": "DOGE", "szDecimals": 0, "maxLeverage": 10, "marginTableId": 10}]
    taken = {a["name"] for a in universe} | set(_REAL_LOOKING) | set(_DELISTED)
    names = [*_REAL_LOOKING, *_coin_names(rng, UNIVERSE_SIZE - len(universe) - len(_REAL_LOOKING) - len(_DELISTED), taken)]
    for name in names:
        price = synthetic_price(name)
        decimals = max(0, min(5, math.floor(math.log10(price)) + 1))  # dearer coins trade finer sizes, as BTC's 5
        if name in _CAPTURED_MAX:
            lever, table = _CAPTURED_MAX[name], _CAPTURED_MAX[name]
        else:
            table = rng.choice((*_FLAT_IDS, *_FLAT_IDS, *_TIERED_IDS))
            lever = table if table < 50 else next(t for i, t in MARGIN_TABLES if i == table)["marginTiers"][0]["maxLeverage"]
        asset: dict[str, Any] = {"name": name, "szDecimals": decimals, "maxLeverage": lever, "marginTableId": table}
        if name not in _CAPTURED_MAX and rng.random() < 0.06:
            asset["onlyIsolated"] = True
        universe.append(asset)
    for name in _DELISTED:
        universe.append({"name": name, "szDecimals": rng.choice((0, 1, 2)), "maxLeverage": 3, "marginTableId": 3,
                         "onlyIsolated": True, "isDelisted": True})
    return tuple(universe), tuple(MARGIN_TABLES)


def meta() -> dict[str, Any]:
    """The venue's ``meta`` answer: ``{"universe", "marginTables", "collateralToken"}`` (a fresh copy)."""
    universe, tables = _universe()
    return {"universe": copy.deepcopy(list(universe)), "marginTables": copy.deepcopy(list(tables)),
            "collateralToken": 0}


PERSONALITY = HyperliquidPersonality()
