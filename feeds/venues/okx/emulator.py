"""OKX on the loopback emulator (feeds/emulator.py): its pushes, REST bodies and signed reads."""

from __future__ import annotations

import base64
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
    iso_ms,
)

PRIVATE_PATHS = frozenset({"/api/v5/account/positions", "/api/v5/account/balance", "/api/v5/account/config"})
EXPIRY_MS = 30_000


class OkxPersonality(Personality):
    """``mark-price`` and ``open-interest`` pushes, text ping/pong, the 64008 notice, ``/api/v5``
    REST, signed reads refused with OKX's codes (HTTP 401 50103…50113; older than 30 s: 50102)."""

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
                if arg.get("channel") == "mark-price":
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
        return frames

    def rest(self, emulator: Any, method: str, path: str, q: dict[str, str], body: Any) -> Any:
        now = str(int(time.time() * 1000))
        inst = q.get("instId", "BTC-USDT-SWAP")
        if path == "/api/v5/public/mark-price":
            price = emulator.prices.current("okx", inst)
            data = [{"instType": "SWAP", "instId": inst, "markPx": f"{price:.2f}", "ts": now}]
        elif path == "/api/v5/public/open-interest":
            data = [{"instType": "SWAP", "instId": inst, "oi": "2500000", "oiCcy": "25000",
                     "oiUsd": "1625000000", "ts": now}]
        elif path == "/api/v5/public/insurance-fund":
            family = q.get("instFamily", "BTC-USDT")
            data = [{"total": "1000000000.5", "instFamily": family, "instType": "SWAP", "details": [
                {"balance": "12000.5", "amt": "", "ccy": "BTC", "type": "", "ts": now}]}]
        elif path == "/api/v5/public/position-tiers":
            data = position_tiers(q["instFamily"])
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
    return [{"uly": family, "instFamily": family, "instId": "", "tier": str(i), "minSz": lo, "maxSz": hi,
             "mmr": mmr, "imr": imr, "maxLever": lever, "optMgnFactor": "0", "quoteMaxLoan": "",
             "baseMaxLoan": ""}
            for i, (lo, hi, mmr, imr, lever) in enumerate(_TIERS, start=1)]


def _okx_ok(data: list) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def private_body_of(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
    if path == "/api/v5/account/positions":
        return _okx_ok([_okx_position(account, p, now_ms) for p in account.positions])
    if path == "/api/v5/account/balance":
        return _okx_ok([_okx_balance(account, now_ms)])
    perm = ",".join(["read_only", *(["withdraw"] if account.can_withdraw else []),
                     *(["trade"] if account.can_trade else [])])
    return _okx_ok([{"acctLv": "2", "autoLoan": False, "ctIsoMode": "automatic", "greeksType": "PA",
                     "level": "Lv1", "levelTmp": "", "mgnIsoMode": "automatic",
                     "posMode": "long_short_mode" if any(p.hedge for p in account.positions) else "net_mode",
                     "spotOffsetType": "", "uid": "44705892343619584", "label": "adlwatch emulator",
                     "roleType": "0", "traderInsts": [], "spotRoleType": "0", "spotTraderInsts": [],
                     "opAuth": "0", "kycLv": "2", "ip": "", "perm": perm, "liquidationGear": "-1",
                     "enableSpotBorrow": False, "spotBorrowAutoRepay": False, "type": "0"}])


def _okx_position(account: EmuAccount, p: EmuPosition, now_ms: int) -> dict[str, Any]:
    inverse = p.symbol.split("-")[1:2] == ["USD"]
    contracts = p.size if inverse else p.size / account.ct_values[p.symbol]
    signed = contracts if p.hedge else p.sign * contracts
    return {"adl": str(p.adl), "availPos": decimal_text(contracts) if p.hedge else "", "avgPx": decimal_text(p.entry_price),
            "baseBal": "", "bePx": decimal_text(p.entry_price), "cTime": str(now_ms - 60_000), "ccy": p.settle,
            "deltaBS": "", "deltaPA": "", "fee": "0", "fundingFee": "0", "gammaBS": "", "gammaPA": "",
            "idxPx": decimal_text(p.mark_price), "imr": "" if p.isolated else decimal_text(p.size * p.mark_price / p.leverage),
            "instId": p.symbol, "instType": "SWAP", "interest": "", "last": decimal_text(p.mark_price),
            "lever": decimal_text(p.leverage), "liab": "", "liabCcy": "", "liqPenalty": "0",
            "liqPx": decimal_text(p.liquidation_price) if p.liquidation_price else "",
            "margin": decimal_text(p.isolated_margin or 0.0) if p.isolated else "", "markPx": decimal_text(p.mark_price),
            "mgnMode": p.margin_mode, "mgnRatio": "", "mmr": decimal_text(p.maint_margin),
            "notionalUsd": decimal_text(p.size * p.mark_price), "optVal": "", "pendingCloseOrdLiabVal": "", "pnl": "0",
            "pos": decimal_text(signed), "posCcy": "", "posId": str(abs(hash(p.symbol)) % 10**12),
            "posSide": p.side if p.hedge else "net", "quoteBal": "", "realizedPnl": "0", "thetaBS": "",
            "thetaPA": "", "tradeId": "1", "uTime": str(now_ms), "upl": decimal_text(p.unrealized_pnl),
            "uplLastPx": decimal_text(p.unrealized_pnl), "uplRatio": "0", "uplRatioLastPx": "0", "usdPx": "",
            "vegaBS": "", "vegaPA": ""}


def _okx_balance(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    isolated_upl = account.isolated_unrealized()
    isolated_equity = account.isolated_margins() + isolated_upl
    unrealized = account.cross_unrealized() + isolated_upl
    equity = account.wallet_balance + account.cross_unrealized() + isolated_equity
    cash = account.wallet_balance + account.isolated_margins()
    detail = {"availBal": decimal_text(account.wallet_balance), "availEq": decimal_text(account.wallet_balance), "borrowFroz": "",
              "cashBal": decimal_text(cash), "ccy": account.settle, "crossLiab": "", "disEq": decimal_text(equity), "eq": decimal_text(equity),
              "eqUsd": decimal_text(equity), "smtSyncEq": "0", "spotCopyTradingEq": "0", "fixedBal": "0",
              "frozenBal": decimal_text(account.isolated_margins()), "imr": "", "interest": "", "isoEq": decimal_text(isolated_equity),
              "isoLiab": "", "isoUpl": decimal_text(isolated_upl), "liab": "", "maxLoan": "", "mgnRatio": "",
              "mmr": decimal_text(account.cross_maintenance()), "notionalLever": "", "ordFrozen": "0", "rewardBal": "0",
              "spotInUseAmt": "", "clSpotInUseAmt": "", "maxSpotInUse": "", "spotIsoBal": "0", "stgyEq": "0",
              "twap": "0", "uTime": str(now_ms), "upl": decimal_text(unrealized), "uplLiab": "", "spotBal": "",
              "openAvgPx": "", "accAvgPx": "", "spotUpl": "", "spotUplRatio": "", "totalPnl": "",
              "totalPnlRatio": ""}
    return {"adjEq": "", "borrowFroz": "", "details": [detail], "imr": "", "isoEq": decimal_text(isolated_equity),
            "mgnRatio": "", "mmr": "", "notionalUsd": "", "notionalUsdForBorrow": "", "notionalUsdForFutures": "",
            "notionalUsdForOption": "", "notionalUsdForSwap": "", "ordFroz": "", "totalEq": decimal_text(equity),
            "uTime": str(now_ms), "upl": decimal_text(unrealized)}


PERSONALITY = OkxPersonality()
