"""OKX on the loopback emulator (feeds/emulator.py): its pushes, REST bodies and signed reads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import weakref
import zlib
from collections import deque
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
    iso_ms,
    next_funding_ms,
)

FILLS = "/api/v5/trade/fills"
PRIVATE_PATHS = frozenset({"/api/v5/account/positions", "/api/v5/account/balance", "/api/v5/account/config",
                           FILLS})
EXPIRY_MS = 30_000
TAKER_FEE = 0.0005  # the emulated break-even moves the entry by a taker fee to open and one to close
FUNDING_EVERY_TICKS = 600  # a funding-rate push on the first tick, then every 600 (30 s at 50 ms)

# Per live connection, the channels its subscribe messages named: {channel: {instId or instType}}.
_CHANNELS: weakref.WeakKeyDictionary[EmuConnection, dict[str, set[str]]] = weakref.WeakKeyDictionary()


def subscribed(conn: EmuConnection, channel: str) -> set[str]:
    """The instIds (or, for ``liquidation-orders``, instTypes) ``conn`` subscribed ``channel`` for."""
    return _CHANNELS.get(conn, {}).get(channel, set())


class OkxPersonality(Personality):
    """``mark-price``, ``open-interest``, ``funding-rate`` and ``liquidation-orders`` pushes, text
    ping/pong, the 64008 notice, ``/api/v5`` REST, signed reads refused with OKX's codes (HTTP 401
    50103…50113; older than 30 s: 50102), and the account's fills (``/api/v5/trade/fills``) from
    ``EmuAccount.records``."""

    ws_path = "/ws/v5/public"
    private_paths = PRIVATE_PATHS

    def coin_of(self, symbol: str) -> str:
        return symbol.upper().split("-")[0]

    async def on_text(self, emulator: Any, conn: EmuConnection, text: str) -> bool:
        if text == "ping":
            await conn.send("pong")
            return True
        return False

    async def on_message(self, emulator: Any, conn: EmuConnection, doc: dict[str, Any]) -> None:
        if doc.get("op") == "subscribe":
            symbols = []
            for arg in doc.get("args") or []:
                await conn.send(json.dumps({"event": "subscribe", "arg": arg, "connId": f"emu{conn.id}"},
                                           **COMPACT))
                if not isinstance(arg, dict):
                    continue
                channel = str(arg.get("channel", ""))
                target = arg.get("instId") or arg.get("instType") or ""
                _CHANNELS.setdefault(conn, {}).setdefault(channel, set()).add(str(target))
                if channel == "mark-price":
                    symbols.append(arg.get("instId", ""))
            emulator.add_symbols(conn, symbols)

    def notice(self, conn: EmuConnection) -> str | None:
        return json.dumps({"event": "notice", "code": "64008",
                           "msg": "The connection will soon be closed for a service upgrade. Please reconnect.",
                           "connId": f"emu{conn.id}"}, **COMPACT)

    def frames(self, conn: EmuConnection, symbol: str, price: float, now_ms: int) -> list[dict[str, Any]]:
        frames = [{"arg": {"channel": "mark-price", "instId": symbol},
                   "data": [{"instType": "SWAP", "instId": symbol, "markPx": f"{price:.2f}", "ts": str(now_ms)}]}]
        if conn.ticks % 5 == 1:  # open interest comes less often than marks, as on the venue
            frames.append({"arg": {"channel": "open-interest", "instId": symbol},
                           "data": [{"instType": "SWAP", "instId": symbol, "oi": "2500000",
                                     "oiCcy": "25000", "ts": str(now_ms)}]})
        if conn.ticks % FUNDING_EVERY_TICKS == 1 and symbol in subscribed(conn, "funding-rate"):
            frames.append(funding_push(symbol, now_ms))
        return frames

    def liquidation_frames(self, conn: EmuConnection, symbol: str, side: str, price: float, size: float,
                           now_ms: int) -> list[dict[str, Any]]:
        """The documented ``liquidation-orders`` push ("#public-data-websocket-liquidation-orders-
        channel"): one subscription by instType covers every swap, so every connection that made it
        gets every swap's liquidation. ``size`` in coin becomes contracts (``sz``) with the swap's ctVal."""
        if not symbol.upper().endswith("-SWAP") or "SWAP" not in subscribed(conn, "liquidation-orders"):
            return []
        swap = swap_of(symbol)
        inverse = swap.ct_type == "inverse" if swap is not None else symbol.split("-")[1:2] == ["USD"]
        ct_val = float(swap.ct_val) if swap is not None else (100.0 if inverse else 1.0)
        contracts = size * price / ct_val if inverse else size / ct_val
        family = symbol[: -len("-SWAP")]
        return [{"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                 "data": [{"details": [{"bkLoss": "0", "bkPx": decimal_text(price), "ccy": "",
                                        "posSide": side, "side": "sell" if side == "long" else "buy",
                                        "sz": decimal_text(contracts), "ts": str(now_ms)}],
                           "instFamily": family, "instId": symbol, "instType": "SWAP", "uly": family}]}]

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        now = str(int(time.time() * 1000))
        inst = q.get("instId", "BTC-USDT-SWAP")
        if path == "/api/v5/public/mark-price":
            price = emulator.prices.current("okx", inst)
            data = [{"instType": "SWAP", "instId": inst, "markPx": f"{price:.2f}", "ts": now}]
        elif path == "/api/v5/public/open-interest":
            data = [{"instType": "SWAP", "instId": inst, "oi": "2500000", "oiCcy": "25000",
                     "oiUsd": "1625000000", "ts": now}]
        elif path == "/api/v5/public/funding-rate":
            data = funding_push(inst, int(now))["data"]
        elif path == "/api/v5/public/insurance-fund":
            family = q.get("instFamily", "BTC-USDT")
            data = [{"total": "1000000000.5", "instFamily": family, "instType": "SWAP", "details": [
                {"balance": "12000.5", "amt": "", "ccy": "BTC", "type": "", "ts": now}]}]
        elif path in ("/api/v5/public/position-tiers", "/api/v5/public/instruments"):
            limited = _rate_limited(universe_config(emulator))
            if limited is not None:
                return limited
            if path == "/api/v5/public/instruments":
                return instruments_body(emulator, q)
            return position_tiers_body(emulator, q)
        else:
            return None
        return {"code": "0", "msg": "", "data": data}

    def check_signature(self, accounts: dict[tuple[str, str], EmuAccount], path: str, query: str,
                        headers: dict[str, str], now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        def refuse(code: str, msg: str) -> tuple[None, Answer]:
            return None, (401, json.dumps({"msg": msg, "code": code, "data": []}, **COMPACT), {})

        names = (("ok-access-key", "50103", 'Request header "OK-ACCESS-KEY" cannot be empty.'),
                 ("ok-access-passphrase", "50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.'),
                 ("ok-access-sign", "50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.'),
                 ("ok-access-timestamp", "50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.'))
        for name, code, msg in names:
            if not headers.get(name):
                return refuse(code, msg)
        account = accounts.get(("okx", headers["ok-access-key"]))
        if account is None:
            return refuse("50111", "Invalid OK-ACCESS-KEY")
        stamp = headers["ok-access-timestamp"]
        timestamp = iso_ms(stamp)
        if timestamp is None:
            return refuse("50112", "Invalid OK-ACCESS-TIMESTAMP")
        if now_ms - timestamp > EXPIRY_MS or timestamp - now_ms > EXPIRY_MS:
            return refuse("50102", "Timestamp request expired")
        if headers["ok-access-passphrase"] != account.passphrase:
            return refuse("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
        request_path = path + (f"?{query}" if query else "")
        digest = hmac.new(account.secret.encode(), f"{stamp}GET{request_path}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), headers["ok-access-sign"]):
            return refuse("50113", "Invalid Sign")
        return account, None

    def private_body(self, account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
        return private_body_of(account, path, query, now_ms)


# (minSz, maxSz) in contracts, mmr, imr, maxLever
_TIERS = [("0", "1000", "0.004", "0.01", "100"), ("1000", "2000", "0.005", "0.0133", "75"),
              ("2000", "5000", "0.0075", "0.02", "50")]


def position_tiers(family: str) -> list[dict[str, Any]]:
    return [_tier_item(family, i, tier, False) for i, tier in enumerate(_TIERS, start=1)]


def _tier_item(family: str, i: int, tier: tuple[str, str, str, str, str], malformed: bool) -> dict[str, Any]:
    lo, hi, mmr, imr, lever = tier
    return {"uly": family, "instFamily": family, "instId": "", "tier": str(i), "minSz": lo, "maxSz": hi,
            "mmr": "1.5" if malformed else mmr, "imr": imr, "maxLever": lever, "optMgnFactor": "0",
            "quoteMaxLoan": "", "baseMaxLoan": ""}


def _okx_ok(data: list) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def funding_push(symbol: str, now_ms: int, rate: float = 0.0001) -> dict[str, Any]:
    """A ``funding-rate`` push in the documented shape ("#public-data-websocket-funding-rate-channel"):
    ``fundingTime`` the next settlement, ``nextFundingTime`` the one after."""
    settles = next_funding_ms(now_ms)
    return {"arg": {"channel": "funding-rate", "instId": symbol},
            "data": [{"formulaType": "noRate", "fundingRate": decimal_text(rate), "fundingTime": str(settles),
                      "impactValue": "", "instId": symbol, "instType": "SWAP", "interestRate": "",
                      "maxFundingRate": "0.00375", "method": "current_period", "minFundingRate": "-0.00375",
                      "nextFundingRate": "", "nextFundingTime": str(settles + 28_800_000), "premium": "0.0001",
                      "settFundingRate": decimal_text(rate), "settState": "settled", "ts": str(now_ms)}]}


def swap_of(symbol: str) -> EmuSwap | None:
    """The emulated swap ``symbol`` (its ctVal), or None outside the synthetic universe."""
    return _swaps_by_id().get(symbol)


@cache
def _swaps_by_id() -> dict[str, EmuSwap]:
    return {s.inst_id: s for s in universe()}


def private_body_of(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
    if path == "/api/v5/account/positions":
        return _okx_ok([_okx_position(account, p, now_ms) for p in account.positions])
    if path == FILLS:
        if fills_limited(account, time.monotonic()):
            return {"code": "50011", "msg": "Too Many Requests", "data": []}
        return _okx_ok(fills_of(account, query))
    if path == "/api/v5/account/balance":
        # ``ccy`` names one currency or several ("BTC,ETH"); none: every currency the key holds
        assets = [c for c in query.get("ccy", "").split(",") if c] or [account.settle, *account.wallets]
        held = [view for view in (account.in_asset(c) for c in assets) if view is not None]
        return _okx_ok([_okx_balance(held, now_ms)])
    perm = ",".join(["read_only", *(["withdraw"] if account.can_withdraw else []),
                     *(["trade"] if account.can_trade else [])])
    return _okx_ok([{"acctLv": "2", "autoLoan": False, "ctIsoMode": "automatic", "greeksType": "PA",
                     "level": "Lv1", "levelTmp": "", "mgnIsoMode": "automatic",
                     "posMode": "long_short_mode" if any(p.hedge for p in account.positions) else "net_mode",
                     "spotOffsetType": "", "uid": "44705892343619584", "label": "adlwatch emulator",
                     "roleType": "0", "traderInsts": [], "spotRoleType": "0", "spotTraderInsts": [],
                     "opAuth": "0", "kycLv": "2", "ip": "", "perm": perm, "liquidationGear": "-1",
                     "enableSpotBorrow": False, "spotBorrowAutoRepay": False, "type": "0"}])


def _inverse(symbol: str) -> bool:
    return symbol.split("-")[1:2] == ["USD"]


def _ct_val(account: EmuAccount, symbol: str) -> float:
    """A swap's contract value: the account's, else the synthetic universe's (a linear swap's coin
    per contract; an inverse one's USD face value, 100 for BTC-USD-SWAP)."""
    swap = swap_of(symbol)
    return account.ct_values.get(symbol) or (float(swap.ct_val) if swap is not None else 1.0)


def unrealized_pnl(account: EmuAccount, p: EmuPosition) -> float:
    """The position's uPnL in its margin currency: linear ``size × (mark − entry)``; inverse (size in
    contracts of ctVal USD, PnL in the coin) ``contracts × ctVal × (1/entry − 1/mark)``; signed by side."""
    if _inverse(p.symbol):
        return p.sign * p.size * _ct_val(account, p.symbol) * (1.0 / p.entry_price - 1.0 / p.mark_price)
    return p.unrealized_pnl


def _okx_position(account: EmuAccount, p: EmuPosition, now_ms: int) -> dict[str, Any]:
    inverse = _inverse(p.symbol)
    contracts = p.size if inverse else p.size / _ct_val(account, p.symbol)
    notional_usd = p.size * _ct_val(account, p.symbol) if inverse else p.size * p.mark_price
    upl = unrealized_pnl(account, p)
    signed = contracts if p.hedge else p.sign * contracts
    break_even = p.break_even_price if p.break_even_price is not None \
        else p.entry_price * (1 + p.sign * 2 * TAKER_FEE)
    return {"adl": str(p.adl), "availPos": decimal_text(contracts) if p.hedge else "", "avgPx": decimal_text(p.entry_price),
            "baseBal": "", "bePx": decimal_text(break_even), "cTime": str(now_ms - 60_000), "ccy": p.settle,
            "closeOrderAlgo": _close_order_algo(p),
            "deltaBS": "", "deltaPA": "", "fee": "0", "fundingFee": decimal_text(p.funding_pnl), "gammaBS": "", "gammaPA": "",
            "idxPx": decimal_text(p.mark_price), "imr": "" if p.isolated else decimal_text(notional_usd / (p.mark_price if inverse else 1.0) / p.leverage),
            "instId": p.symbol, "instType": "SWAP", "interest": "", "last": decimal_text(p.mark_price),
            "lever": decimal_text(p.leverage), "liab": "", "liabCcy": "", "liqPenalty": "0",
            "liqPx": decimal_text(p.liquidation_price) if p.liquidation_price else "",
            "margin": decimal_text(p.isolated_margin or 0.0) if p.isolated else "", "markPx": decimal_text(p.mark_price),
            "mgnMode": p.margin_mode, "mgnRatio": "", "mmr": decimal_text(p.maint_margin),
            "notionalUsd": decimal_text(notional_usd), "optVal": "", "pendingCloseOrdLiabVal": "", "pnl": "0",
            "pos": decimal_text(signed), "posCcy": "", "posId": str(abs(hash(p.symbol)) % 10**12),
            "posSide": p.side if p.hedge else "net", "quoteBal": "", "realizedPnl": "0", "thetaBS": "",
            "thetaPA": "", "tradeId": "1", "uTime": str(now_ms), "upl": decimal_text(upl),
            "uplLastPx": decimal_text(upl), "uplRatio": "0", "uplRatioLastPx": "0", "usdPx": "",
            "vegaBS": "", "vegaPA": ""}


def _close_order_algo(p: EmuPosition) -> list[dict[str, str]]:
    """The position's TP/SL as OKX attaches them (an algo order placed with closeFraction 1)."""
    if p.take_profit is None and p.stop_loss is None:
        return []
    return [{"algoId": str(7 * 10**15 + zlib.crc32(f"{p.symbol} {p.side}".encode())),
             "slTriggerPx": decimal_text(p.stop_loss) if p.stop_loss is not None else "",
             "slTriggerPxType": "mark" if p.stop_loss is not None else "",
             "tpTriggerPx": decimal_text(p.take_profit) if p.take_profit is not None else "",
             "tpTriggerPxType": "last" if p.take_profit is not None else "", "closeFraction": "1"}]


# Transaction types (``subType``) of the fills that close a position, by (cause, hedge mode, side):
# https://www.okx.com/docs-v5/en/#order-book-trading-trade-get-transaction-details-last-3-days
_CLOSE_SUBTYPES = {
    ("user", True, "long"): "5", ("user", True, "short"): "6",
    ("user", False, "long"): "2", ("user", False, "short"): "1",
    ("liquidation", True, "long"): "104", ("liquidation", True, "short"): "105",
    ("liquidation", False, "long"): "107", ("liquidation", False, "short"): "106",
    ("adl", True, "long"): "125", ("adl", True, "short"): "126",
    ("adl", False, "long"): "128", ("adl", False, "short"): "127",
}


_BILL_BASE = 680_800_019_754_098_688  # a record's billId is this plus its id: later fills, larger ids
# The endpoint's rate limit, (requests, seconds) per user: 60 per 2 s on the venue. None (the
# default): not enforced, so that fast test followers polling every 50 ms are not slowed; a test
# sets it to check that paging stays inside the venue's limit.
FILLS_RATE: tuple[int, float] | None = None
_FILLS_SENT: dict[str, deque[float]] = {}  # by key: the times of its recent fills requests


def fills_of(account: EmuAccount, query: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /api/v5/trade/fills`` of the account's closing records, filtered as the venue filters
    (``instType``, ``instId``, ``begin``/``end`` on ``ts``, ``after``/``before`` on ``billId``,
    ``limit`` at most 100), newest first: a page, the next one asked with ``after`` = its last billId."""
    begin, end = int_or_none(query.get("begin")), int_or_none(query.get("end"))
    after, before = int_or_none(query.get("after")), int_or_none(query.get("before"))
    limit = min(int_or_none(query.get("limit")) or 100, 100)
    rows = [r for r in reversed(account.records)
            if query.get("instType", "SWAP") == "SWAP" and r.symbol.endswith("-SWAP")
            and (not query.get("instId") or r.symbol == query["instId"])
            and (begin is None or r.ts_ms >= begin) and (end is None or r.ts_ms <= end)
            and (after is None or _BILL_BASE + r.id < after) and (before is None or _BILL_BASE + r.id > before)]
    # ``before`` alone: the newer fills nearest the cursor (which ones the venue gives is UNCONFIRMED;
    # adlwatch pages with ``after`` only)
    page = rows[-limit:] if before is not None and after is None else rows[:limit]
    return [_fill(account, r) for r in page]


def fills_limited(account: EmuAccount, now_s: float) -> bool:
    """One fills request too many for the key in the window (the venue's 50011; the emulator answers
    it with HTTP 200, the body's code is what the follower reads)."""
    if FILLS_RATE is None:
        return False
    limit, window_s = FILLS_RATE
    sent = _FILLS_SENT.setdefault(account.key, deque())
    while sent and sent[0] <= now_s - window_s:
        sent.popleft()
    if len(sent) >= limit:
        return True
    sent.append(now_s)
    return False


def _fill(account: EmuAccount, r: EmuRecord) -> dict[str, Any]:
    inverse = r.symbol.split("-")[1:2] == ["USD"]
    contracts = r.size if inverse else r.size / _ct_val(account, r.symbol)
    forced = r.cause != "user"
    return {"instType": "SWAP", "instId": r.symbol, "tradeId": str(-r.id if forced else 900_000 + r.id),
            "ordId": str(680_800_019_749_904_384 + r.id), "clOrdId": "", "billId": str(_BILL_BASE + r.id),
            "subType": _CLOSE_SUBTYPES[(r.cause, r.hedge, r.side)], "tag": "", "fillPx": decimal_text(r.price),
            "fillSz": decimal_text(contracts), "fillIdxPx": decimal_text(r.price), "fillPnl": "0", "fillPxVol": "",
            "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": decimal_text(r.price),
            "side": "sell" if r.side == "long" else "buy", "posSide": r.side if r.hedge else "net",
            "execType": "" if forced else "T", "feeCcy": "USDT" if not inverse else r.symbol.split("-")[0],
            "fee": "0", "ts": str(r.ts_ms), "fillTime": str(r.ts_ms), "feeRate": "", "tradeQuoteCcy": ""}


def _okx_balance(accounts: list[EmuAccount], now_ms: int) -> dict[str, Any]:
    """One balance answer with a ``details`` row per currency asked (each a view of the key's
    account in it, ``EmuAccount.in_asset``); the totals add the rows (the venue's are in USD)."""
    details = [_okx_balance_detail(account, now_ms) for account in accounts]
    total = sum(float(d["eq"]) for d in details)
    isolated = sum(float(d["isoEq"]) for d in details)
    unrealized = sum(float(d["upl"]) for d in details)
    return {"adjEq": "", "borrowFroz": "", "details": details, "imr": "", "isoEq": decimal_text(isolated),
            "mgnRatio": "", "mmr": "", "notionalUsd": "", "notionalUsdForBorrow": "", "notionalUsdForFutures": "",
            "notionalUsdForOption": "", "notionalUsdForSwap": "", "ordFroz": "", "totalEq": decimal_text(total),
            "uTime": str(now_ms), "upl": decimal_text(unrealized)}


def _okx_balance_detail(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    held = account.held()
    cross_upl = sum(unrealized_pnl(account, p) for p in held if not p.isolated)
    isolated_upl = sum(unrealized_pnl(account, p) for p in held if p.isolated)
    isolated_margins = account.isolated_margins()
    isolated_equity = isolated_margins + isolated_upl
    unrealized = cross_upl + isolated_upl
    equity = account.wallet_balance + cross_upl + isolated_equity
    cash = account.wallet_balance + isolated_margins
    return {"availBal": decimal_text(account.wallet_balance), "availEq": decimal_text(account.wallet_balance), "borrowFroz": "",
            "cashBal": decimal_text(cash), "ccy": account.settle, "crossLiab": "", "disEq": decimal_text(equity), "eq": decimal_text(equity),
            "eqUsd": decimal_text(equity), "smtSyncEq": "0", "spotCopyTradingEq": "0", "fixedBal": "0",
            "frozenBal": decimal_text(isolated_margins), "imr": "", "interest": "", "isoEq": decimal_text(isolated_equity),
            "isoLiab": "", "isoUpl": decimal_text(isolated_upl), "liab": "", "maxLoan": "", "mgnRatio": "",
            "mmr": decimal_text(account.cross_maintenance()), "notionalLever": "", "ordFrozen": "0", "rewardBal": "0",
            "spotInUseAmt": "", "clSpotInUseAmt": "", "maxSpotInUse": "", "spotIsoBal": "0", "stgyEq": "0",
            "twap": "0", "uTime": str(now_ms), "upl": decimal_text(unrealized), "uplLiab": "", "spotBal": "",
            "openAvgPx": "", "accAvgPx": "", "spotUpl": "", "spotUplRatio": "", "totalPnl": "",
            "totalPnlRatio": ""}


PERSONALITY = OkxPersonality()


# ---------------------------------------------------------------------------- the whole universe
# instruments?instType=SWAP (every swap in one answer, as the venue gives it) and position-tiers per
# instrument family for a deterministic synthetic universe of real-looking swaps: a few hundred linear
# USDT and USDC ones, tens of inverse ones, some suspended or pre-open. Numbers are emulator values.

_REAL_COINS = (
    "BTC ETH SOL XRP DOGE BNB ADA AVAX LINK DOT TRX TON LTC BCH NEAR APT ARB OP SUI ATOM FIL ETC UNI AAVE "
    "INJ TIA WLD STX IMX HBAR ICP ALGO EGLD SAND MANA AXS GALA APE CRV LDO MKR SNX COMP DYDX GMX BLUR PEPE "
    "SHIB FLOKI BONK WIF ORDI SATS JUP PYTH JTO ENA ETHFI STRK ZK ZRO NOT TAO KAS CFX ZIL IOTA XLM ZEC "
    "DASH NEO QTUM ONT ICX KSM CELO FLOW MINA GRT ENS SUSHI YFI BAL ZRX LRC CHZ ENJ BAT ANKR STORJ MASK"
).split()
_SYLLABLES = ("bo", "ki", "ta", "mu", "ze", "ro", "ny", "va", "le", "pi", "sa", "gu", "he", "wo")
_LINEAR_COUNT = 280
_USDC_COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "PEPE", "WIF", "SUI", "TON", "LINK", "AVAX", "ORDI")
_INVERSE_COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "LTC", "ADA", "DOT", "LINK", "BCH", "ETC", "FIL",
                  "TRX", "AVAX", "ATOM", "UNI", "TON", "XLM", "NEAR", "OP")
_CT_VALS = ("1", "10", "100", "0.1", "1000")
# (maxSz contracts, mmr, maxLever); imr is 1 / maxLever as on the venue
_SMALL = (("500", "0.01", "50"), ("1500", "0.02", "25"), ("5000", "0.05", "10"))
_MEDIUM = (("3000", "0.005", "75"), ("10000", "0.01", "50"), ("30000", "0.02", "25"), ("90000", "0.05", "10"))


@dataclass(frozen=True)
class EmuSwap:
    inst_id: str
    family: str
    ct_type: str  # linear | inverse
    ct_val: str
    ct_val_ccy: str
    settle: str
    tick: str
    state: str  # live | suspend | preopen
    tiers: tuple[tuple[str, str, str, str, str], ...]  # minSz, maxSz, mmr, imr, maxLever


def _tiers(template: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, str, str, str, str], ...]:
    out, low = [], "0"
    for high, mmr, lever in template:
        out.append((low, high, mmr, decimal_text(1.0 / float(lever)), lever))
        low = high
    return tuple(out)


def _synthetic_coin(i: int) -> str:
    a, b = divmod(i, len(_SYLLABLES))
    return (_SYLLABLES[b] + _SYLLABLES[a % len(_SYLLABLES)] + _SYLLABLES[(2 * a + b) % len(_SYLLABLES)]).upper()


def _state(i: int) -> str:
    if i % 37 == 11:
        return "suspend"
    if i % 53 == 29:
        return "preopen"
    return "live"


@cache
def universe() -> tuple[EmuSwap, ...]:
    """Every emulated OKX swap, in instId order."""
    coins = coin_names(_REAL_COINS, _LINEAR_COUNT, _synthetic_coin)
    known_ct = {"BTC": "0.01", "ETH": "0.1", "SOL": "1", "XRP": "100", "DOGE": "1000"}
    out: list[EmuSwap] = []
    for n, coin in enumerate(coins):
        core = coin in ("BTC", "ETH")
        tiers = tuple(_TIERS) if core else _tiers(_MEDIUM if n < 30 else _SMALL)
        state = "live" if core else _state(n)
        out.append(EmuSwap(f"{coin}-USDT-SWAP", f"{coin}-USDT", "linear", known_ct.get(coin, _CT_VALS[n % 5]), coin,
                           "USDT", "0.1" if coin == "BTC" else ("0.01" if n < 10 else "0.0001"), state,
                           () if state == "preopen" else tiers))
    for coin in _USDC_COINS:
        out.append(EmuSwap(f"{coin}-USDC-SWAP", f"{coin}-USDC", "linear", known_ct.get(coin, "10"), coin, "USDC",
                           "0.01", "live", _tiers(_MEDIUM)))
    for n, coin in enumerate(_INVERSE_COINS):
        state = "suspend" if n == 13 else "live"
        out.append(EmuSwap(f"{coin}-USD-SWAP", f"{coin}-USD", "inverse", "100" if coin == "BTC" else "10", "USD",
                           coin, "0.1" if coin == "BTC" else "0.001", state,
                           tuple(_TIERS) if coin == "BTC" else _tiers(_SMALL)))
    return tuple(sorted(out, key=lambda s: s.inst_id))


@dataclass
class UniverseConfig:
    """Per emulator: the request-rate limit (``rate`` = (requests, window seconds); None: none) and
    the instIds whose rows are served malformed."""

    rate: tuple[int, float] | None = None
    malformed: set[str] = field(default_factory=set)
    sent: deque[float] = field(default_factory=deque)


_CONFIGS: weakref.WeakKeyDictionary[Any, UniverseConfig] = weakref.WeakKeyDictionary()


def universe_config(emulator: Any) -> UniverseConfig:
    config = _CONFIGS.get(emulator)
    if config is None:
        config = _CONFIGS[emulator] = UniverseConfig()
    return config


def _rate_limited(config: UniverseConfig) -> Answer | None:
    """OKX's answer to one request too many in the window: HTTP 429, code 50011 (no Retry-After:
    whether the venue sends one is UNCONFIRMED)."""
    if config.rate is None:
        return None
    limit, window_s = config.rate
    now = time.monotonic()
    while config.sent and config.sent[0] <= now - window_s:
        config.sent.popleft()
    if len(config.sent) >= limit:
        return 429, json.dumps({"msg": "Too Many Requests", "code": "50011", "data": []}, **COMPACT), {}
    config.sent.append(now)
    return None


def _instrument_item(s: EmuSwap, malformed: bool) -> dict[str, Any]:
    lever = s.tiers[0][4] if s.tiers else "20"
    return {"alias": "", "auctionEndTime": "", "baseCcy": "", "category": "1", "ctMult": "1", "ctType": s.ct_type,
            "ctVal": s.ct_val, "ctValCcy": s.ct_val_ccy, "expTime": "", "instFamily": s.family, "instId": s.inst_id,
            "instType": "SWAP", "lever": lever, "listTime": "1672531200000", "lotSz": "1",
            "maxIcebergSz": "100000000", "maxLmtAmt": "20000000", "maxLmtSz": "100000000", "maxMktAmt": "",
            "maxMktSz": "10000", "maxStopSz": "10000", "maxTriggerSz": "100000000", "maxTwapSz": "100000000",
            "minSz": "1", "optType": "", "quoteCcy": "", "ruleType": "normal", "settleCcy": s.settle,
            "state": s.state, "stk": "", "tickSz": "0" if malformed else s.tick, "uly": s.family}


def instruments_body(emulator: Any, q: dict[str, str]) -> Answer | dict[str, Any]:
    if q.get("instType") != "SWAP":
        return 400, json.dumps({"msg": "Parameter instType error", "code": "51000", "data": []}, **COMPACT), {}
    config = universe_config(emulator)
    listed = [s for s in universe() if (not q.get("instId") or s.inst_id == q["instId"])
              and (not q.get("instFamily") or s.family == q["instFamily"])
              and (not q.get("uly") or s.family == q["uly"])]
    if q.get("instId") and not listed:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    return _okx_ok([_instrument_item(s, s.inst_id in config.malformed) for s in listed])


def position_tiers_body(emulator: Any, q: dict[str, str]) -> Answer | dict[str, Any]:
    family = q.get("instFamily") or q.get("uly")
    if not family:
        return 400, json.dumps({"msg": "Either parameter instFamily or uly is required.", "code": "50014",
                                "data": []}, **COMPACT), {}
    swap = next((s for s in universe() if s.family == family), None)
    if swap is None:  # families the synthetic universe does not list keep the one old table
        return _okx_ok(position_tiers(family))
    return _okx_ok([_tier_item(family, i, tier, swap.inst_id in universe_config(emulator).malformed)
                    for i, tier in enumerate(swap.tiers, start=1)])
