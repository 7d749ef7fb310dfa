"""Binance on the loopback emulator (feeds/emulator.py): its streams, REST bodies, signed reads and demo account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from adlwatch.engine.instruments import default_catalogue
from adlwatch.feeds.emulator_base import (
    COMPACT,
    FUNDING_PERIOD_MS,
    Answer,
    EmuAccount,
    EmuConnection,
    EmuPosition,
    EmuRecord,
    Personality,
    decimal_text,
    int_or_none,
    leverage_value,
    next_funding_ms,
)
from adlwatch.feeds.emulator_private import install_private
from adlwatch.feeds.venues.binance.account import coinm_asset, is_coinm_asset
from adlwatch.feeds.venues.binance.market import is_coin_m

PRIVATE_PATHS = frozenset({"/fapi/v3/positionRisk", "/fapi/v3/account", "/fapi/v1/symbolConfig",
                           "/fapi/v1/adlQuantile", "/fapi/v1/leverageBracket", "/dapi/v2/leverageBracket",
                           "/sapi/v1/account/apiRestrictions", "/fapi/v1/income", "/fapi/v1/forceOrders",
                           "/dapi/v1/positionRisk", "/dapi/v1/account", "/dapi/v1/adlQuantile", "/dapi/v1/income",
                           "/dapi/v1/forceOrders"})
ADL_RISK_PERIOD_MS = 1_800_000  # Binance rates every 30 minutes
ADL_RATINGS = ("low", "medium", "high")
DEMO_KEY, DEMO_SECRET = "demo-read-only-key-0001", "demo-secret-not-a-real-one"


class BinancePersonality(Personality):
    """Streams in the URL (or SUBSCRIBE), ``markPriceUpdate`` frames, ``/fapi`` and ``/dapi`` REST, signed reads
    refused with Binance's own codes (HTTP 401 -2014/-2015; 400 -1102, -1021, -1022)."""

    ws_path = ""
    private_paths = PRIVATE_PATHS

    def coin_of(self, symbol: str) -> str:
        """A COIN-M contract's coin is its base (``BTCUSD_PERP`` → BTC), not the symbol less a suffix."""
        return coinm_asset(symbol) if is_coin_m(symbol) else super().coin_of(symbol)

    def symbols_in_url(self, path: str, query: str) -> list[str]:
        streams = parse_qs(query).get("streams", [""])[0]
        if not streams and "/ws/" in "/" + path:
            streams = path.rsplit("/", 1)[-1]
        return [s.split("@")[0].upper() for s in streams.split("/") if s and not s.startswith("!")]

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        if doc.get("method") in ("SUBSCRIBE", "UNSUBSCRIBE"):
            params = [p for p in doc.get("params", []) if isinstance(p, str)]
            streams = _SUBSCRIBED.setdefault(conn, set())
            if doc["method"] == "SUBSCRIBE":
                emulator.add_symbols(conn, [p.split("@")[0].upper() for p in params])
                streams.update(params)
            else:
                streams.difference_update(params)
            await conn.send(json.dumps({"result": None, "id": doc.get("id")}, **COMPACT))

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        next_funding = next_funding_ms(now_ms)
        data = {"e": "markPriceUpdate", "E": now_ms, "s": symbol, "p": f"{price:.8f}",
                "i": f"{price * 0.9998:.8f}", "P": f"{price * 1.0001:.8f}", "r": "0.00010000",
                "T": next_funding}
        return [{"stream": f"{symbol.lower()}@markPrice@1s", "data": data}]

    def liquidation_frames(self, conn: EmuConnection, symbol: str, side: str, price: float, size: float,
                           now_ms: int) -> list[dict[str, Any]]:
        """A ``forceOrder`` frame (Liquidation-Order-Streams page shape) on a connection that
        subscribed ``<symbol>@forceOrder`` in its URL or by SUBSCRIBE: a SELL order closes a long."""
        stream = f"{symbol.lower()}@forceOrder"
        if stream not in _streams_of(conn):
            return []
        qty, at = decimal_text(size), decimal_text(price)
        order = {"s": symbol, "S": "SELL" if side == "long" else "BUY", "o": "LIMIT", "f": "IOC", "q": qty,
                 "p": at, "ap": at, "X": "FILLED", "l": qty, "z": qty, "T": now_ms}
        return [{"stream": stream, "data": {"e": "forceOrder", "E": now_ms, "o": order}}]

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        now_ms = int(time.time() * 1000)
        limit = _LIMITS.get(emulator)
        if limit is not None:
            refused = limit.spend(WEIGHTS.get(path, 1))
            if refused is not None:
                return refused
        if path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):
            return exchange_info("coinm" if path.startswith("/dapi") else "usdm", now_ms)
        symbol = q.get("symbol", "BTCUSDT")
        if path == "/fapi/v1/premiumIndex":
            price = emulator.prices.current("binance", symbol)
            return {"symbol": symbol, "markPrice": f"{price:.8f}", "indexPrice": f"{price * 0.9998:.8f}",
                    "estimatedSettlePrice": f"{price:.8f}", "lastFundingRate": "0.00010000",
                    "interestRate": "0.00010000", "nextFundingTime": next_funding_ms(now_ms),
                    "time": now_ms}
        if path == "/fapi/v1/openInterest":
            oi = _OPEN_INTEREST.get(emulator, {}).get(symbol, "10659.509")
            return {"openInterest": oi, "symbol": symbol, "time": now_ms}
        if path == "/fapi/v1/insuranceBalance":
            return insurance_balance(emulator, symbol, now_ms)
        if path == "/fapi/v1/symbolAdlRisk":
            return adl_risk(emulator, q.get("symbol"), now_ms)
        if path == "/dapi/v1/premiumIndex":
            return coinm_premium_index(emulator, q.get("symbol"), q.get("pair"), now_ms)
        if path == "/dapi/v1/openInterest":
            return coinm_open_interest(q["symbol"], now_ms)
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
        """The demo key: a USDT account (a BTCUSDT long) and a BTC one on COIN-M (a BTCUSD_PERP long,
        its liquidation price by Binance's COIN-M formula), each its own portfolio entry."""
        btc = emulator.prices.current("binance", "BTCUSDT")
        coin = emulator.prices.current("binance", "BTCUSD_PERP")
        contracts, entry, wallet = 200.0, coin * 1.01, 0.25
        install_private(emulator, [EmuAccount(
            venue="binance", key=DEMO_KEY, secret=DEMO_SECRET, wallet_balance=4_000.0, wallets={"BTC": wallet},
            positions=[EmuPosition("BTCUSDT", "long", 0.5, btc * 1.02, btc, 10.0, liquidation_price=btc * 0.93, adl=2,
                                   maint_margin=btc * 0.5 * 0.004, break_even_price=btc * 1.02 * 1.0008,
                                   funding_pnl=-round(btc * 0.5 * 0.0001 * 3, 2),
                                   brackets=((0.0, 50_000.0, 0.004, 125.0, 0.0),
                                             (50_000.0, 500_000.0, 0.005, 100.0, 50.0))),
                       EmuPosition("BTCUSD_PERP", "long", contracts, entry, coin, 20.0, settle="BTC", face_value=100.0,
                                   liquidation_price=coinm_liquidation_price(wallet, contracts, 100.0, entry, 0.004),
                                   adl=1, maint_margin=contracts * 100.0 / coin * 0.004,
                                   brackets=((0.0, 50.0, 0.004, 125.0, 0.0), (50.0, 100.0, 0.005, 100.0, 0.05)))],
        )])
        return [f"demo accounts: ADLWATCH_BINANCE_DEMO_API_KEY={DEMO_KEY} ADLWATCH_BINANCE_DEMO_API_SECRET={DEMO_SECRET}",
                '[[account]] venue = "binance" key_name = "demo"',
                '[[account]] venue = "binance" key_name = "demo" settle = "BTC"']


def coinm_liquidation_price(wallet: float, contracts: float, face: float, entry: float, mmr: float,
                            cum: float = 0.0) -> float:
    """A lone one-way COIN-M long's liquidation price in its cross wallet, by Binance's formula
    (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46) with TMM1 = UPNL1 = 0:
    (B × MMR + B) × CS / (WB + cum + B × CS / EP)."""
    return (contracts * mmr + contracts) * face / (wallet + cum + contracts * face / entry)


# ---------------------------------------------------------------------------- COIN-M public REST

COINM_OPEN_INTEREST = {"BTCUSD_PERP": 480_000, "ETHUSD_PERP": 2_900_000}  # contracts; others: 150_000


def coinm_premium_index(emulator: Any, symbol: str | None, pair: str | None, now_ms: int) -> list[dict[str, Any]]:
    """``GET /dapi/v1/premiumIndex`` (COIN-M Index-Price-and-Mark-Price page shape): always a list, of
    ``symbol``, of ``pair``'s contracts, else of every COIN-M contract; a delivery contract's funding
    fields empty ("" and 0), as Binance sends them."""
    if symbol is not None:
        symbols = [symbol]
    else:
        symbols = [c.symbol for c in contracts("coinm") if pair is None or c.symbol.split("_")[0] == pair]
    rows = []
    for name in symbols:
        price = emulator.prices.current("binance", name)
        perpetual = name.endswith("_PERP")
        rows.append({"symbol": name, "pair": name.split("_")[0], "markPrice": f"{price:.8f}",
                     "indexPrice": f"{price * 0.9998:.8f}", "estimatedSettlePrice": f"{price:.8f}",
                     "lastFundingRate": "0.00010000" if perpetual else "",
                     "interestRate": "0.00010000" if perpetual else "",
                     "nextFundingTime": next_funding_ms(now_ms) if perpetual else 0, "time": now_ms})
    return rows


def coinm_open_interest(symbol: str, now_ms: int) -> dict[str, Any]:
    """``GET /dapi/v1/openInterest`` (COIN-M Open-Interest page shape): the open interest in contracts."""
    contract_type = "PERPETUAL" if symbol.endswith("_PERP") else "CURRENT_QUARTER"
    return {"symbol": symbol, "pair": symbol.split("_")[0], "openInterest": str(COINM_OPEN_INTEREST.get(symbol, 150_000)),
            "contractType": contract_type, "time": now_ms}


# ---------------------------------------------------------------------------- public ADL risk

_SUBSCRIBED: weakref.WeakKeyDictionary[EmuConnection, set[str]] = weakref.WeakKeyDictionary()
_ADL_RISK: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_POOLS: weakref.WeakKeyDictionary[Any, dict[str, tuple[list[str], dict[str, str]]]] = weakref.WeakKeyDictionary()
_OPEN_INTEREST: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def _streams_of(conn: EmuConnection) -> set[str]:
    """The streams ``conn`` asked for: in its URL (``?streams=a/b`` or ``/ws/<stream>``) and by SUBSCRIBE."""
    target = urlsplit(conn.path)
    named = parse_qs(target.query).get("streams", [""])[0] or (
        target.path.rsplit("/", 1)[-1] if "/ws/" in target.path else "")
    return {s for s in named.split("/") if s} | _SUBSCRIBED.get(conn, set())


def set_adl_risk(emulator: Any, symbol: str, rating: str) -> None:
    """From now on ``emulator`` rates ``symbol``'s ADL risk ``rating`` (low | medium | high)."""
    if rating not in ADL_RATINGS:
        raise ValueError(f"ADL risk rating {rating!r}: low, medium or high")
    _ADL_RISK.setdefault(emulator, {})[symbol] = rating


def set_insurance_pool(emulator: Any, symbols: list[str], assets: dict[str, str]) -> None:
    """From now on ``emulator``'s insuranceBalance of any of ``symbols`` is one shared pool of them,
    holding ``assets`` ({asset: marginBalance text}), as Binance's BTC pool backs BNBUSDT, ETHUSDT..."""
    pools = _POOLS.setdefault(emulator, {})
    for symbol in symbols:
        pools[symbol] = (list(symbols), dict(assets))


def set_open_interest(emulator: Any, symbol: str, open_interest: str) -> None:
    """From now on ``emulator``'s ``/fapi/v1/openInterest`` of ``symbol`` is ``open_interest`` (base units)."""
    _OPEN_INTEREST.setdefault(emulator, {})[symbol] = open_interest


def insurance_balance(emulator: Any, symbol: str, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/insuranceBalance?symbol=`` (Insurance-Fund-Balance page shape): the symbol's pool,
    a test's shared one, else a pool of the symbol alone in USDT."""
    pool = _POOLS.get(emulator, {}).get(symbol)
    if pool is None:
        return {"symbols": [symbol], "assets": [{"asset": "USDT", "marginBalance": "793930579.315848",
                                                 "updateTime": now_ms}]}
    members, assets = pool
    return {"symbols": members, "assets": [{"asset": a, "marginBalance": b, "updateTime": now_ms}
                                           for a, b in assets.items()]}


def adl_rating(emulator: Any, symbol: str) -> str:
    """The emulated rating: the one a test set, else one fixed by the symbol's name."""
    chosen = _ADL_RISK.get(emulator, {}).get(symbol)
    return chosen or ADL_RATINGS[hashlib.sha256(symbol.encode()).digest()[0] % len(ADL_RATINGS)]


def adl_risk(emulator: Any, symbol: str | None, now_ms: int) -> Any:
    """``GET /fapi/v1/symbolAdlRisk`` (ADL-Risk page shape): one object for ``symbol``, else a list of
    every USDⓈ-M perpetual (and every symbol a test rated), stamped at the last 30-minute rating."""
    rated_ms = now_ms // ADL_RISK_PERIOD_MS * ADL_RISK_PERIOD_MS
    if symbol is not None:
        return {"symbol": symbol, "adlRisk": adl_rating(emulator, symbol), "updateTime": rated_ms}
    symbols = dict.fromkeys([c.symbol for c in contracts("usdm") if c.contract_type == "PERPETUAL"]
                            + list(_ADL_RISK.get(emulator, {})))
    return [{"symbol": s, "adlRisk": adl_rating(emulator, s), "updateTime": rated_ms} for s in symbols]


# ---------------------------------------------------------------------------- private reads


def opened_ms(now_ms: int) -> int:
    """When every emulated position last changed (positionRisk ``updateTime``): a minute after the
    funding three periods ago, the same on every read within a period."""
    return (now_ms // FUNDING_PERIOD_MS - 3) * FUNDING_PERIOD_MS + 60_000


def _of_market(positions: list[EmuPosition], coinm: bool) -> list[EmuPosition]:
    """The positions a market's endpoints show: COIN-M's on /dapi, USDⓈ-M's on /fapi."""
    return [p for p in positions if is_coin_m(p.symbol) == coinm]


def funding_incomes(account: EmuAccount, now_ms: int, coinm: bool = False) -> list[dict[str, Any]]:
    """``GET /fapi/v1/income`` (``/dapi/v1/income``: ``coinm``) FUNDING_FEE rows, oldest first: each
    position's ``funding_pnl`` in three equal settlements since it last changed, and one settlement
    before that (an earlier position in the same symbol, which does not count toward this one's funding)."""
    opened = opened_ms(now_ms)
    rows: list[tuple[int, EmuPosition, float]] = []
    for p in _of_market(account.positions, coinm):
        if p.funding_pnl:
            rows.append((opened - 60_000 - FUNDING_PERIOD_MS, p, -p.funding_pnl))
            rows += [(opened - 60_000 + k * FUNDING_PERIOD_MS, p, p.funding_pnl / 3) for k in (1, 2, 3)]
    rows.sort(key=lambda row: row[0])
    return [{"symbol": p.symbol, "incomeType": "FUNDING_FEE", "income": decimal_text(amount), "asset": p.settle,
             "info": "FUNDING_FEE", "time": time_ms, "tranId": 9_689_000_000 + i, "tradeId": ""}
            for i, (time_ms, p, amount) in enumerate(rows)]


def income_history(account: EmuAccount, query: dict[str, str], now_ms: int, coinm: bool = False) -> list[dict[str, Any]]:
    """The income rows the query asks for: its ``incomeType``, ``symbol``, ``startTime``/``endTime``
    (neither: the last 7 days), ``limit`` (default 100, at most 1000)."""
    end = int_or_none(query.get("endTime")) or now_ms
    start = int_or_none(query.get("startTime")) or (end - 7 * 86_400_000)
    limit = min(int_or_none(query.get("limit")) or 100, 1000)
    rows = [r for r in funding_incomes(account, now_ms, coinm)
            if query.get("incomeType", r["incomeType"]) == r["incomeType"]
            and query.get("symbol", r["symbol"]) == r["symbol"] and start <= r["time"] <= end]
    return rows[:limit]


def force_orders(account: EmuAccount, query: dict[str, str], now_ms: int, coinm: bool = False) -> list[dict[str, Any]]:
    """``GET /fapi/v1/forceOrders`` (``/dapi/v1/forceOrders``: ``coinm``, the COIN-M records) from the
    account's closing records: its liquidations and ADL fills (never the user's own trades), filtered
    like the venue by ``symbol``, ``autoCloseType`` (LIQUIDATION | ADL; neither: both),
    ``startTime``/``endTime`` (no start: 7 days before the end; COIN-M: 200), ``limit`` (default 50,
    at most 100)."""
    causes = {"LIQUIDATION": ("liquidation",), "ADL": ("adl",)}.get(query.get("autoCloseType", ""),
                                                                    ("liquidation", "adl"))
    end = int_or_none(query.get("endTime")) or now_ms
    start = int_or_none(query.get("startTime")) or (end - (200 if coinm else 7) * 86_400_000)
    limit = min(int_or_none(query.get("limit")) or 50, 100)
    chosen = [r for r in account.records if r.cause in causes and query.get("symbol", r.symbol) == r.symbol
              and start <= r.ts_ms <= end and is_coin_m(r.symbol) == coinm]
    return [_force_order(r) for r in chosen[-limit:]]


def _force_order(r: EmuRecord) -> dict[str, Any]:
    """One forceOrders row: fapi's (Users-Force-Orders), or COIN-M's with ``pair`` and ``cumBase``
    (the coin value of the contracts at the fill price)."""
    qty, at = decimal_text(r.size), decimal_text(r.price)
    adl = r.cause == "adl"
    if is_coin_m(r.symbol):
        face = next((c.contract_size for c in contracts("coinm") if c.symbol == r.symbol), 100.0)
        value = {"cumBase": decimal_text(r.size * face / r.price)}
    else:
        value = {"cumQuote": decimal_text(r.size * r.price)}
    pair = {"pair": r.symbol.partition("_")[0]} if is_coin_m(r.symbol) else {}
    return {"orderId": 6_071_832_819 + r.id, "symbol": r.symbol, **pair, "status": "FILLED",
            "clientOrderId": "adl_autoclose" if adl else f"autoclose-{r.ts_ms}{r.id:07d}", "price": at,
            "avgPrice": at, "origQty": qty, "executedQty": qty, **value,
            "timeInForce": "GTC" if adl else "IOC", "type": "LIMIT", "reduceOnly": False, "closePosition": False,
            "side": "SELL" if r.side == "long" else "BUY",
            "positionSide": ("LONG" if r.side == "long" else "SHORT") if r.hedge else "BOTH",
            "stopPrice": "0", "workingType": "CONTRACT_PRICE", "origType": "LIMIT", "time": r.ts_ms - 4,
            "updateTime": r.ts_ms}


def private_body_of(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
    """A signed read of the key's ``account``: /fapi shows its USDⓈ-M positions, /dapi its COIN-M ones
    (each coin's margin account from ``account.in_asset``)."""
    coinm = path.startswith("/dapi")
    if path == "/fapi/v3/positionRisk":
        return [_binance_risk(p, now_ms) for p in _of_market(account.positions, False)]
    if path == "/dapi/v1/positionRisk":
        return coinm_position_risk(account, now_ms)
    if path in ("/fapi/v1/income", "/dapi/v1/income"):
        return income_history(account, query, now_ms, coinm)
    if path in ("/fapi/v1/forceOrders", "/dapi/v1/forceOrders"):
        return force_orders(account, query, now_ms, coinm)
    if path == "/fapi/v1/symbolConfig":
        symbols = dict.fromkeys(p.symbol for p in _of_market(account.positions, False))
        return [_binance_config(account, symbol) for symbol in symbols]
    if path == "/fapi/v3/account":
        return _binance_account(account, now_ms)
    if path == "/dapi/v1/account":
        return coinm_account(account, now_ms)
    if path in ("/fapi/v1/adlQuantile", "/dapi/v1/adlQuantile"):
        return _binance_adl(_of_market(account.positions, coinm))
    if path in ("/fapi/v1/leverageBracket", "/dapi/v2/leverageBracket"):
        return leverage_brackets(account, "coinm" if coinm else "usdm", query.get("symbol"))
    return {"ipRestrict": False, "createTime": now_ms - 86_400_000, "enableReading": True,
            "enableWithdrawals": account.can_withdraw, "enableInternalTransfer": False, "enableMargin": False,
            "enableFutures": account.can_trade, "permitsUniversalTransfer": False, "enableVanillaOptions": False,
            "enableFixApiTrade": False, "enableFixReadOnly": True, "enableSpotAndMarginTrading": False,
            "enablePortfolioMarginTrading": False}


def _binance_risk(p: EmuPosition, now_ms: int) -> dict[str, Any]:
    amount = p.sign * p.size
    initial = p.size * p.mark_price / p.leverage
    return {"symbol": p.symbol, "positionSide": ("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH",
            "positionAmt": decimal_text(amount), "entryPrice": decimal_text(p.entry_price),
            "breakEvenPrice": decimal_text(p.break_even_price or 0.0),
            "markPrice": decimal_text(p.mark_price), "unRealizedProfit": decimal_text(p.unrealized_pnl),
            "liquidationPrice": decimal_text(p.liquidation_price or 0.0),
            "isolatedMargin": decimal_text((p.isolated_margin or 0.0) + p.unrealized_pnl) if p.isolated else "0",
            "notional": decimal_text(amount * p.mark_price), "marginAsset": p.settle,
            "isolatedWallet": decimal_text(p.isolated_margin or 0.0) if p.isolated else "0",
            "initialMargin": decimal_text(initial), "maintMargin": decimal_text(p.maint_margin), "positionInitialMargin": decimal_text(initial),
            "openOrderInitialMargin": "0", "adl": p.adl, "bidNotional": "0", "askNotional": "0",
            "updateTime": opened_ms(now_ms)}


def _binance_config(account: EmuAccount, symbol: str) -> dict[str, Any]:
    p = next(p for p in account.positions if p.symbol == symbol)
    return {"symbol": symbol, "marginType": "ISOLATED" if p.isolated else "CROSSED", "isAutoAddMargin": False,
            "leverage": leverage_value(p.leverage), "maxNotionalValue": "1000000"}


def _asset_row(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    """The ``assets`` row of ``account``'s settlement asset (fapi's and dapi's share the fields)."""
    held = account.held()
    unrealized = sum(p.unrealized_pnl for p in held)
    wallet = account.wallet_balance + account.isolated_margins()
    return {"asset": account.settle, "walletBalance": decimal_text(wallet), "unrealizedProfit": decimal_text(unrealized),
            "marginBalance": decimal_text(wallet + unrealized), "maintMargin": decimal_text(sum(p.maint_margin for p in held)),
            "initialMargin": "0", "positionInitialMargin": "0", "openOrderInitialMargin": "0",
            "crossWalletBalance": decimal_text(account.wallet_balance), "crossUnPnl": decimal_text(account.cross_unrealized()),
            "availableBalance": decimal_text(account.wallet_balance), "maxWithdrawAmount": decimal_text(account.wallet_balance),
            "updateTime": now_ms}


def _wallets(account: EmuAccount, coinm: bool) -> list[EmuAccount]:
    """The key's margin accounts of one market: its coins' (COIN-M) or its stablecoins' (USDⓈ-M)."""
    assets = dict.fromkeys([account.settle, *account.wallets])
    views = [account.in_asset(a) for a in assets if is_coinm_asset(a) == coinm]
    return [v for v in views if v is not None]


def _binance_account(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    held = account.held()
    unrealized = sum(p.unrealized_pnl for p in held)
    wallet = account.wallet_balance + account.isolated_margins()
    maintenance = sum(p.maint_margin for p in held)
    asset = _asset_row(account, now_ms)
    other = {**{k: "0" for k in asset}, "asset": "BNB" if account.settle != "BNB" else "USDC", "updateTime": 0}
    # The key's other USDⓈ-M wallets (USDC), each its own row; the totals stay the default asset's.
    more = [_asset_row(v, now_ms) for v in _wallets(account, False) if v.settle != account.settle]
    return {"totalInitialMargin": "0", "totalMaintMargin": decimal_text(maintenance), "totalWalletBalance": decimal_text(wallet),
            "totalUnrealizedProfit": decimal_text(unrealized), "totalMarginBalance": decimal_text(wallet + unrealized),
            "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": decimal_text(account.wallet_balance), "totalCrossUnPnl": decimal_text(account.cross_unrealized()),
            "availableBalance": decimal_text(account.wallet_balance), "maxWithdrawAmount": decimal_text(account.wallet_balance),
            "assets": [other, asset, *more],
            "positions": [{"symbol": p.symbol, "positionSide": "BOTH", "positionAmt": decimal_text(p.sign * p.size),
                           "unrealizedProfit": decimal_text(p.unrealized_pnl), "isolatedMargin": "0", "notional": "0",
                           "isolatedWallet": "0", "initialMargin": "0", "maintMargin": decimal_text(p.maint_margin),
                           "updateTime": now_ms} for p in held]}


def _binance_adl(positions: list[EmuPosition]) -> list[dict[str, Any]]:
    by_symbol: dict[str, dict[str, int]] = {}
    for p in positions:
        sides = by_symbol.setdefault(p.symbol, {"LONG": 0, "SHORT": 0, "BOTH": 0})
        sides[("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH"] = p.adl
    return [{"symbol": symbol, "adlQuantile": sides} for symbol, sides in by_symbol.items()]


def coinm_position_risk(account: EmuAccount, now_ms: int) -> list[dict[str, Any]]:
    """``GET /dapi/v1/positionRisk`` without parameters: a row per TRADING COIN-M perpetual (held or
    not, as the venue lists them) and per held COIN-M position (Position-Information page shape)."""
    held = _of_market(account.positions, True)
    rows = [_coinm_risk(p, now_ms) for p in held]
    flat = {p.symbol for p in held}
    for c in contracts("coinm"):
        if c.status == "TRADING" and c.contract_type == "PERPETUAL" and c.symbol not in flat:
            rows.append({**_coinm_risk(EmuPosition(c.symbol, "long", 0.0, 1.0, 1.0, 20.0, face_value=c.contract_size),
                                       now_ms), "entryPrice": "0.0", "breakEvenPrice": "0.0",
                         "markPrice": "0.00000000", "updateTime": 0})
    return rows


def _coinm_risk(p: EmuPosition, now_ms: int) -> dict[str, Any]:
    return {"symbol": p.symbol, "positionAmt": decimal_text(p.sign * p.size), "entryPrice": decimal_text(p.entry_price),
            "breakEvenPrice": decimal_text(p.break_even_price or 0.0), "markPrice": decimal_text(p.mark_price),
            "unRealizedProfit": decimal_text(p.unrealized_pnl if p.size else 0.0),
            "liquidationPrice": decimal_text(p.liquidation_price or 0.0), "leverage": str(leverage_value(p.leverage)),
            "maxQty": "100", "marginType": "isolated" if p.isolated else "cross",
            "isolatedMargin": decimal_text((p.isolated_margin or 0.0) + p.unrealized_pnl) if p.isolated else "0.00000000",
            "isAutoAddMargin": "false",
            "positionSide": ("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH",
            "updateTime": opened_ms(now_ms)}


def coinm_account(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    """``GET /dapi/v1/account`` (Account-Information page shape): an ``assets`` row per coin wallet of
    the key and a ``positions`` row per COIN-M position, with its ``maintMargin``."""
    positions = []
    for p in _of_market(account.positions, True):
        initial = p.size * (p.face_value or 0.0) / p.mark_price / p.leverage
        positions.append({"symbol": p.symbol, "positionAmt": decimal_text(p.sign * p.size),
                          "initialMargin": decimal_text(initial), "maintMargin": decimal_text(p.maint_margin),
                          "unrealizedProfit": decimal_text(p.unrealized_pnl), "positionInitialMargin": decimal_text(initial),
                          "openOrderInitialMargin": "0", "leverage": str(leverage_value(p.leverage)),
                          "isolated": p.isolated,
                          "positionSide": ("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH",
                          "entryPrice": decimal_text(p.entry_price),
                          "breakEvenPrice": decimal_text(p.break_even_price or 0.0), "maxQty": "100",
                          "updateTime": opened_ms(now_ms)})
    return {"assets": [_asset_row(v, now_ms) for v in _wallets(account, True)], "positions": positions}


# ---------------------------------------------------------------------------- the whole catalogue
# exchangeInfo (USDⓈ-M and COIN-M) and the signed leverageBracket for every contract: the bundled
# snapshot's symbols (its brackets as the "live" ones) plus contracts the snapshot lacks, dated
# quarterlies, and a few listing states other than TRADING, all chosen deterministically.

# Listed by the emulator but not in the bundled snapshot (a contract listed since the capture).
NEW_USDM = ("NEWLISTUSDT", "FRESHCOINUSDT", "LATEUSDC")
EXTRA_COINM = (("ETH", 10.0), ("LINK", 10.0), ("ADA", 10.0), ("EGLD", 10.0))
QUARTERLIES = {"usdm": ("BTCUSDT_261225", "ETHUSDT_261225"), "coinm": ("BTCUSD_261225",)}
TICKS = ("0.1", "0.01", "0.001", "0.0001", "0.00001", "0.000001")
# Generic brackets for contracts the snapshot has no table for: (floor, cap, mmr, leverage).
GENERIC = {"usdm": ((0.0, 5_000.0, 0.02, 20), (5_000.0, 25_000.0, 0.025, 10), (25_000.0, 100_000.0, 0.05, 5)),
           "coinm": ((0.0, 1_000.0, 0.01, 50), (1_000.0, 5_000.0, 0.025, 20), (5_000.0, 20_000.0, 0.05, 10))}
WEIGHTS = {"/fapi/v1/exchangeInfo": 1, "/dapi/v1/exchangeInfo": 1,  # the venue's request weights
           "/dapi/v1/premiumIndex": 10}


@dataclass(frozen=True)
class Contract:
    symbol: str
    base: str
    quote: str
    margin: str
    contract_type: str
    status: str
    tick: str
    contract_size: float
    brackets: tuple[tuple[float, float, float, float, float], ...]  # floor, cap, mmr, leverage, cum


def _status(symbol: str, i: int) -> str:
    """Most TRADING; a deterministic few settling, delisted or not yet open."""
    if symbol in ("BTCUSDT", "ETHUSDT", "BTCUSD_PERP"):
        return "TRADING"
    return "SETTLING" if i % 61 == 7 else "CLOSE" if i % 89 == 11 else "PENDING_TRADING" if i % 97 == 3 else "TRADING"


def _tick(symbol: str) -> str:
    return TICKS[hashlib.sha256(symbol.encode()).digest()[0] % len(TICKS)]


def with_cum(rows: Any) -> tuple[tuple[float, float, float, float, float], ...]:
    out, cum, prev = [], 0.0, None
    for floor, cap, mmr, lev in rows:
        cum = cum if prev is None else cum + floor * (mmr - prev)
        out.append((floor, cap, mmr, lev, cum))
        prev = mmr
    return tuple(out)


@cache
def contracts(market: str) -> tuple[Contract, ...]:
    """The emulated contract list of ``market`` ("usdm" or "coinm"), by symbol."""
    catalogue = default_catalogue()
    kind = "inverse" if market == "coinm" else "linear"
    known = [i for i in catalogue if i.venue == "binance" and i.kind == kind]
    out: list[Contract] = []
    for inst in known:
        rows = [(t.floor, t.cap, t.mmr, t.max_leverage) for t in inst.tiers] or GENERIC[market]
        out.append(Contract(inst.symbol, inst.base, inst.quote, inst.settle, "PERPETUAL", "", _tick(inst.symbol),
                            inst.contract_size, with_cum(rows)))
    if market == "usdm":
        for symbol in NEW_USDM:
            quote = "USDC" if symbol.endswith("USDC") else "USDT"
            out.append(Contract(symbol, symbol.removesuffix(quote), quote, quote, "PERPETUAL", "", _tick(symbol), 1.0,
                                with_cum(GENERIC[market])))
    else:
        for coin, face in EXTRA_COINM:
            symbol = f"{coin}USD_PERP"
            if catalogue.find("binance", symbol) is None:
                out.append(Contract(symbol, coin, "USD", coin, "PERPETUAL", "", _tick(symbol), face,
                                    with_cum(GENERIC[market])))
    for symbol in QUARTERLIES[market]:
        coin = symbol.split("USD")[0]
        out.append(Contract(symbol, coin, "USD" if market == "coinm" else "USDT", coin if market == "coinm" else "USDT",
                            "CURRENT_QUARTER", "", "0.1", 100.0 if market == "coinm" else 1.0,
                            with_cum(GENERIC[market])))
    out.sort(key=lambda c: c.symbol)
    return tuple(Contract(c.symbol, c.base, c.quote, c.margin, c.contract_type, _status(c.symbol, i), c.tick,
                          c.contract_size, c.brackets) for i, c in enumerate(out))


def exchange_info(market: str, now_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/exchangeInfo`` or ``/dapi/v1/exchangeInfo`` in the documented shape (the fields
    adlwatch reads and their neighbours; COIN-M states in ``contractStatus``)."""
    rows = []
    for c in contracts(market):
        row: dict[str, Any] = {"symbol": c.symbol, "pair": c.symbol.split("_")[0], "contractType": c.contract_type,
                               "deliveryDate": 4133404800000, "onboardDate": 1569398400000}
        if market == "coinm":
            row.update(contractStatus=c.status, contractSize=leverage_value(c.contract_size))
        else:
            row.update(status=c.status)
        row.update(maintMarginPercent="2.5000", requiredMarginPercent="5.0000", baseAsset=c.base, quoteAsset=c.quote,
                   marginAsset=c.margin, pricePrecision=len(c.tick.split(".")[1]), quantityPrecision=3,
                   underlyingType="COIN", filters=[
                       {"filterType": "PRICE_FILTER", "minPrice": c.tick, "maxPrice": "1000000", "tickSize": c.tick},
                       {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"}],
                   orderTypes=["LIMIT", "MARKET"], timeInForce=["GTC", "IOC"])
        rows.append(row)
    return {"timezone": "UTC", "serverTime": now_ms,
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                           {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
            "exchangeFilters": [], "assets": [], "symbols": rows}


def bracket_rows(market: str, brackets: Any) -> list[dict[str, Any]]:
    floor_key, cap_key = ("qtyFloor", "qtyCap") if market == "coinm" else ("notionalFloor", "notionalCap")
    return [{"bracket": i, "initialLeverage": leverage_value(lev), cap_key: cap, floor_key: floor,
             "maintMarginRatio": mmr, "cum": cum} for i, (floor, cap, mmr, lev, cum) in enumerate(brackets, 1)]


def leverage_brackets(account: EmuAccount, market: str, symbol: str | None) -> Any:
    """The signed leverageBracket: every contract of the market (a held position's own brackets
    first); one object when ``symbol`` is asked for (``{"code": -1121}`` when unknown)."""
    own = {p.symbol: p.brackets for p in _of_market(account.positions, market == "coinm") if p.brackets}
    rows = {c.symbol: c.brackets for c in contracts(market) if c.contract_type == "PERPETUAL"}
    rows.update(own)
    if symbol is not None:
        if symbol not in rows:
            return {"code": -1121, "msg": "Invalid symbol."}
        return {"symbol": symbol, "notionalCoef": 1.0, "brackets": bracket_rows(market, rows[symbol])}
    return [{"symbol": s, "notionalCoef": 1.0, "brackets": bracket_rows(market, b)} for s, b in rows.items()]


@dataclass
class WeightLimit:
    """Binance's per-IP request-weight budget, shrunk for tests: past ``budget`` in one window, 429
    with ``{"code": -1003}`` and Retry-After, and a new window begins."""

    budget: int
    retry_after_s: float = 0.01
    used: int = 0
    refused: int = 0

    def spend(self, weight: int) -> Answer | None:
        if self.used + weight > self.budget:
            self.used = 0
            self.refused += 1
            body = {"code": -1003, "msg": f"Too many requests; current limit of IP(127.0.0.1) is {self.budget} "
                                          "requests per minute. Please use the websocket for live updates to avoid "
                                          "polling the API."}
            return 429, json.dumps(body), {"Retry-After": f"{self.retry_after_s:g}",
                                           "X-MBX-USED-WEIGHT-1M": str(self.budget)}
        self.used += weight
        return None


_LIMITS: weakref.WeakKeyDictionary[Any, WeightLimit] = weakref.WeakKeyDictionary()


def limit_weight(emulator: Any, budget: int, retry_after_s: float = 0.01) -> WeightLimit:
    """From now on ``emulator``'s Binance public REST spends a weight budget (a test's rate limit)."""
    _LIMITS[emulator] = limit = WeightLimit(budget, retry_after_s)
    return limit


PERSONALITY = BinancePersonality()
