"""The private (signed) read endpoints of Binance, Bybit and OKX on the loopback emulator.

``install_private(emulator, accounts)`` registers one REST hook on a running ``Emulator``: the
endpoints listed in ``PRIVATE_PATHS`` answer for test accounts (``EmuAccount``: key, secret,
passphrase, permissions, positions, balance) in each venue's documented JSON shape, after a real
signature check. A missing header, an unknown key, a wrong signature or a stale timestamp is refused
with the venue's own error body (the sources are in feeds/accounts/binance.py, bybit.py, okx.py):

- Binance: HTTP 401 ``{"code": -2014|-2015, "msg": …}``; HTTP 400 ``-1102`` (no signature),
  ``-1021`` (timestamp outside recvWindow, or more than 1 s ahead), ``-1022`` (bad signature).
- Bybit: ``{"retCode": 10003|10004|10002, "retMsg": …}``, HTTP 401 for a key or signature refusal.
  The 10004 message echoes the signed text, key included, as Bybit's own "error sign!" does.
- OKX: HTTP 401 ``{"code": "50103"…"50113", "msg": …}``; a timestamp older than 30 s is 50102.

The HTTP statuses of Bybit's refusals are the emulator's choice (Bybit documents the codes only).
Other paths fall through to the public emulator. Every request under the three venues is logged in
``requests`` (method, path, status), so tests can prove what was (never) sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PRIVATE_PATHS: dict[str, frozenset[str]] = {
    "binance": frozenset({"/fapi/v3/positionRisk", "/fapi/v3/account", "/fapi/v1/symbolConfig",
                          "/fapi/v1/adlQuantile", "/fapi/v1/leverageBracket",
                          "/sapi/v1/account/apiRestrictions"}),
    "bybit": frozenset({"/v5/position/list", "/v5/account/wallet-balance", "/v5/account/info",
                        "/v5/user/query-api"}),
    "okx": frozenset({"/api/v5/account/positions", "/api/v5/account/balance", "/api/v5/account/config"}),
}
OKX_EXPIRY_MS = 30_000
_JSON = dict(separators=(",", ":"))
Answer = tuple[int, str, dict[str, str]]


@dataclass(frozen=True)
class EmuPosition:
    symbol: str
    side: str  # long | short
    size: float  # adlwatch units: coin (the emulator converts to OKX contracts with ct_values)
    entry_price: float
    mark_price: float
    leverage: float
    margin_mode: str = "cross"  # cross | isolated
    isolated_margin: float | None = None  # isolated: margin without uPnL
    liquidation_price: float | None = None  # None: the venue sends its "no price" (0 or "")
    adl: int = 0  # the venue's own indicator: Binance 0-4, Bybit 0-5 (0 = none), OKX 0-5
    maint_margin: float = 0.0
    brackets: tuple[tuple[float, float, float, float, float], ...] = ()  # Binance: floor, cap, mmr, lev, cum
    settle: str = "USDT"
    hedge: bool = False  # hedge mode: Binance LONG/SHORT, Bybit positionIdx 1/2, OKX posSide long/short

    @property
    def sign(self) -> int:
        return 1 if self.side == "long" else -1

    @property
    def unrealized_pnl(self) -> float:
        return self.sign * self.size * (self.mark_price - self.entry_price)

    @property
    def isolated(self) -> bool:
        return self.margin_mode == "isolated"


@dataclass
class EmuAccount:
    venue: str
    key: str
    secret: str
    passphrase: str | None = None
    wallet_balance: float = 10_000.0  # cross collateral without uPnL, settlement asset
    positions: list[EmuPosition] = field(default_factory=list)
    can_trade: bool = False
    can_withdraw: bool = False
    settle: str = "USDT"
    ct_values: dict[str, float] = field(default_factory=lambda: {
        "BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1.0, "BTC-USD-SWAP": 100.0})

    def held(self) -> list[EmuPosition]:
        return [p for p in self.positions if p.settle == self.settle]

    def cross_unrealized(self) -> float:
        return sum(p.unrealized_pnl for p in self.held() if not p.isolated)

    def isolated_unrealized(self) -> float:
        return sum(p.unrealized_pnl for p in self.held() if p.isolated)

    def isolated_margins(self) -> float:
        return sum(p.isolated_margin or 0.0 for p in self.held() if p.isolated)

    def cross_maintenance(self) -> float:
        return sum(p.maint_margin for p in self.held() if not p.isolated)


@dataclass
class PrivateRequest:
    venue: str
    method: str
    path: str
    query: str
    status: int | None  # None: not a private path, left to the public emulator


@dataclass
class _Fault:
    venue: str | None
    status: int
    remaining: int
    retry_after: float | None


class PrivateEndpoints:
    """The hook itself: accounts by (venue, key), the request log, and injected faults."""

    def __init__(self, accounts: Iterable[EmuAccount] = (), clock: Callable[[], float] = time.time):
        self.accounts: dict[tuple[str, str], EmuAccount] = {}
        self.requests: list[PrivateRequest] = []
        self.clock = clock
        self._faults: deque[_Fault] = deque()
        self._bodies: dict[tuple[str, str], str] = {}
        for account in accounts:
            self.add(account)

    def add(self, account: EmuAccount) -> EmuAccount:
        self.accounts[(account.venue, account.key)] = account
        return account

    def fail_next(self, status: int, *, count: int = 1, retry_after: float | None = None,
                  venue: str | None = None) -> None:
        """Answer the next ``count`` private requests with ``status`` (429 with Retry-After, 5xx)."""
        self._faults.append(_Fault(venue, status, count, retry_after))

    def serve_body(self, venue: str, path: str, text: str | None) -> None:
        """Answer ``path`` with this exact text once signed (None: back to the real rendering)."""
        if text is None:
            self._bodies.pop((venue, path), None)
        else:
            self._bodies[(venue, path)] = text

    def private(self, venue: str | None = None) -> list[PrivateRequest]:
        return [r for r in self.requests if r.status is not None and (venue is None or r.venue == venue)]

    async def __call__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer | None:
        url = urlsplit(target)
        venue, _, rest = url.path.strip("/").partition("/")
        if venue not in PRIVATE_PATHS:
            return None
        path = "/" + rest
        request = PrivateRequest(venue, method, path, url.query, None)
        self.requests.append(request)
        if path not in PRIVATE_PATHS[venue] or method != "GET":
            return None
        answer = self._answer(venue, path, url.query, headers)
        request.status = answer[0]
        return answer

    def _answer(self, venue: str, path: str, query: str, headers: dict[str, str]) -> Answer:
        fault = self._take_fault(venue)
        if fault is not None:
            return fault
        now_ms = int(self.clock() * 1000)
        check = {"binance": self._check_binance, "bybit": self._check_bybit, "okx": self._check_okx}[venue]
        account, refusal = check(path, query, headers, now_ms)
        if refusal is not None:
            return refusal
        assert account is not None
        if (venue, path) in self._bodies:
            return 200, self._bodies[(venue, path)], {}
        render = {"binance": binance_body, "bybit": bybit_body, "okx": okx_body}[venue]
        return 200, json.dumps(render(account, path, dict(parse_qsl(query)), now_ms), **_JSON), {}

    def _take_fault(self, venue: str) -> Answer | None:
        for fault in list(self._faults):
            if fault.venue in (None, venue):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return fault.status, json.dumps({"error": "emulated fault", "status": fault.status}), extra
        return None

    # ------------------------------------------------------------------ signature checks

    def _check_binance(self, path: str, query: str, headers: dict[str, str],
                       now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        def refuse(status: int, code: int, msg: str) -> tuple[None, Answer]:
            return None, (status, json.dumps({"code": code, "msg": msg}), {})

        key = headers.get("x-mbx-apikey", "")
        if not key:
            return refuse(401, -2014, "API-key format invalid.")
        account = self.accounts.get(("binance", key))
        if account is None:
            return refuse(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload, marker, signature = query.rpartition("&signature=")
        if not marker or not signature:
            return refuse(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        params = dict(parse_qsl(payload))
        timestamp, window = _int(params.get("timestamp")), _int(params.get("recvWindow", "5000"))
        if timestamp is None or window is None:
            return refuse(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        if not (timestamp < now_ms + 1000 and now_ms - timestamp <= window):
            return refuse(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return refuse(400, -1022, "Signature for this request is not valid.")
        return account, None

    def _check_bybit(self, path: str, query: str, headers: dict[str, str],
                     now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        def refuse(status: int, code: int, msg: str) -> tuple[None, Answer]:
            body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now_ms}
            return None, (status, json.dumps(body, **_JSON), {})

        key = headers.get("x-bapi-api-key", "")
        stamp, signature = headers.get("x-bapi-timestamp", ""), headers.get("x-bapi-sign", "")
        window_text = headers.get("x-bapi-recv-window", "5000")
        account = self.accounts.get(("bybit", key)) if key else None
        if account is None:
            return refuse(401, 10003, "API key is invalid.")
        timestamp, window = _int(stamp), _int(window_text)
        if timestamp is None or window is None or not (now_ms - window <= timestamp < now_ms + 1000):
            return refuse(200, 10002, "invalid request, please check your server timestamp or recv_window param. "
                                      f"req_timestamp[{stamp}],server_timestamp[{now_ms}],recv_window[{window_text}]")
        origin = f"{stamp}{key}{window_text}{query}"
        expected = hmac.new(account.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(expected, signature.lower()):
            return refuse(401, 10004, f"error sign! origin_string[{origin}]")
        return account, None

    def _check_okx(self, path: str, query: str, headers: dict[str, str],
                   now_ms: int) -> tuple[EmuAccount | None, Answer | None]:
        def refuse(code: str, msg: str) -> tuple[None, Answer]:
            return None, (401, json.dumps({"msg": msg, "code": code, "data": []}, **_JSON), {})

        names = (("ok-access-key", "50103", 'Request header "OK-ACCESS-KEY" cannot be empty.'),
                 ("ok-access-passphrase", "50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.'),
                 ("ok-access-sign", "50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.'),
                 ("ok-access-timestamp", "50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.'))
        for name, code, msg in names:
            if not headers.get(name):
                return refuse(code, msg)
        account = self.accounts.get(("okx", headers["ok-access-key"]))
        if account is None:
            return refuse("50111", "Invalid OK-ACCESS-KEY")
        stamp = headers["ok-access-timestamp"]
        timestamp = _iso_ms(stamp)
        if timestamp is None:
            return refuse("50112", "Invalid OK-ACCESS-TIMESTAMP")
        if now_ms - timestamp > OKX_EXPIRY_MS or timestamp - now_ms > OKX_EXPIRY_MS:
            return refuse("50102", "Timestamp request expired")
        if headers["ok-access-passphrase"] != account.passphrase:
            return refuse("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
        request_path = path + (f"?{query}" if query else "")
        digest = hmac.new(account.secret.encode(), f"{stamp}GET{request_path}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), headers["ok-access-sign"]):
            return refuse("50113", "Invalid Sign")
        return account, None


def install_private(emulator: Any, accounts: Iterable[EmuAccount] = (),
                    clock: Callable[[], float] = time.time) -> PrivateEndpoints:
    """Serve these accounts' private endpoints from ``emulator`` (before its public routes)."""
    endpoints = PrivateEndpoints(accounts, clock)
    emulator.rest_hooks.insert(0, endpoints)
    return endpoints


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _iso_ms(text: str) -> int | None:
    if not text.endswith("Z"):
        return None
    try:
        return int(datetime.fromisoformat(text[:-1] + "+00:00").timestamp() * 1000)
    except ValueError:
        return None


def _n(x: float) -> str:
    """A venue-style decimal string: at most 8 decimals, no trailing zeros."""
    text = f"{x:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _leverage(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


# ---------------------------------------------------------------------------- Binance bodies


def binance_body(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
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
            {"bracket": i, "initialLeverage": _leverage(lev), "notionalCap": cap, "notionalFloor": floor,
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
            "positionAmt": _n(amount), "entryPrice": _n(p.entry_price), "breakEvenPrice": _n(p.entry_price),
            "markPrice": _n(p.mark_price), "unRealizedProfit": _n(p.unrealized_pnl),
            "liquidationPrice": _n(p.liquidation_price or 0.0),
            "isolatedMargin": _n((p.isolated_margin or 0.0) + p.unrealized_pnl) if p.isolated else "0",
            "notional": _n(amount * p.mark_price), "marginAsset": p.settle,
            "isolatedWallet": _n(p.isolated_margin or 0.0) if p.isolated else "0",
            "initialMargin": _n(initial), "maintMargin": _n(p.maint_margin), "positionInitialMargin": _n(initial),
            "openOrderInitialMargin": "0", "adl": p.adl, "bidNotional": "0", "askNotional": "0",
            "updateTime": now_ms}


def _binance_config(account: EmuAccount, symbol: str) -> dict[str, Any]:
    p = next(p for p in account.positions if p.symbol == symbol)
    return {"symbol": symbol, "marginType": "ISOLATED" if p.isolated else "CROSSED", "isAutoAddMargin": False,
            "leverage": _leverage(p.leverage), "maxNotionalValue": "1000000"}


def _binance_account(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    held = account.held()
    unrealized = sum(p.unrealized_pnl for p in held)
    wallet = account.wallet_balance + account.isolated_margins()
    maintenance = sum(p.maint_margin for p in held)
    asset = {"asset": account.settle, "walletBalance": _n(wallet), "unrealizedProfit": _n(unrealized),
             "marginBalance": _n(wallet + unrealized), "maintMargin": _n(maintenance), "initialMargin": "0",
             "positionInitialMargin": "0", "openOrderInitialMargin": "0",
             "crossWalletBalance": _n(account.wallet_balance), "crossUnPnl": _n(account.cross_unrealized()),
             "availableBalance": _n(account.wallet_balance), "maxWithdrawAmount": _n(account.wallet_balance),
             "updateTime": now_ms}
    other = {**{k: "0" for k in asset}, "asset": "BNB" if account.settle != "BNB" else "USDC", "updateTime": 0}
    return {"totalInitialMargin": "0", "totalMaintMargin": _n(maintenance), "totalWalletBalance": _n(wallet),
            "totalUnrealizedProfit": _n(unrealized), "totalMarginBalance": _n(wallet + unrealized),
            "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": _n(account.wallet_balance), "totalCrossUnPnl": _n(account.cross_unrealized()),
            "availableBalance": _n(account.wallet_balance), "maxWithdrawAmount": _n(account.wallet_balance),
            "assets": [other, asset],
            "positions": [{"symbol": p.symbol, "positionSide": "BOTH", "positionAmt": _n(p.sign * p.size),
                           "unrealizedProfit": _n(p.unrealized_pnl), "isolatedMargin": "0", "notional": "0",
                           "isolatedWallet": "0", "initialMargin": "0", "maintMargin": _n(p.maint_margin),
                           "updateTime": now_ms} for p in held]}


def _binance_adl(account: EmuAccount) -> list[dict[str, Any]]:
    by_symbol: dict[str, dict[str, int]] = {}
    for p in account.positions:
        sides = by_symbol.setdefault(p.symbol, {"LONG": 0, "SHORT": 0, "BOTH": 0})
        sides[("LONG" if p.side == "long" else "SHORT") if p.hedge else "BOTH"] = p.adl
    return [{"symbol": symbol, "adlQuantile": sides} for symbol, sides in by_symbol.items()]


# ---------------------------------------------------------------------------- Bybit bodies


def _bybit_ok(result: Any, now_ms: int) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}


def bybit_body(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
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
            "size": _n(p.size), "avgPrice": _n(p.entry_price), "positionValue": _n(value),
            "tradeMode": 1 if p.isolated else 0, "positionStatus": "Normal", "autoAddMargin": 0,
            "adlRankIndicator": p.adl, "leverage": _n(p.leverage),
            "positionBalance": _n(p.isolated_margin if p.isolated and p.isolated_margin else initial),
            "markPrice": _n(p.mark_price), "liqPrice": _n(p.liquidation_price) if p.liquidation_price else "",
            "bustPrice": "", "positionMM": _n(p.maint_margin), "positionIM": _n(initial), "tpslMode": "Full",
            "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": _n(p.unrealized_pnl),
            "curRealisedPnl": "0", "cumRealisedPnl": "0", "seq": 5723621632, "isReduceOnly": False,
            "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": str(now_ms - 60_000),
            "updatedTime": str(now_ms)}


def _bybit_wallet(account: EmuAccount, coin: str) -> dict[str, Any]:
    held = account.held()
    unrealized = sum(p.unrealized_pnl for p in held)
    maintenance = sum(p.maint_margin for p in held)
    equity = account.wallet_balance + unrealized
    row = {"coin": coin, "equity": _n(equity), "usdValue": _n(equity), "walletBalance": _n(account.wallet_balance),
           "borrowAmount": "0", "availableToBorrow": "", "availableToWithdraw": "", "accruedInterest": "0",
           "totalOrderIM": "0", "totalPositionIM": "0", "totalPositionMM": _n(maintenance),
           "unrealisedPnl": _n(unrealized), "cumRealisedPnl": "0", "bonus": "0"}
    return {"accountType": "UNIFIED", "accountIMRate": "0", "accountMMRate": "0", "totalEquity": _n(equity),
            "totalWalletBalance": _n(account.wallet_balance), "totalMarginBalance": _n(equity),
            "totalAvailableBalance": _n(account.wallet_balance), "totalPerpUPL": _n(unrealized),
            "totalInitialMargin": "0", "totalMaintenanceMargin": _n(maintenance),
            "coin": [row] if coin == account.settle else []}


# ---------------------------------------------------------------------------- OKX bodies


def _okx_ok(data: list) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def okx_body(account: EmuAccount, path: str, query: dict[str, str], now_ms: int) -> Any:
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
    return {"adl": str(p.adl), "availPos": _n(contracts) if p.hedge else "", "avgPx": _n(p.entry_price),
            "baseBal": "", "bePx": _n(p.entry_price), "cTime": str(now_ms - 60_000), "ccy": p.settle,
            "deltaBS": "", "deltaPA": "", "fee": "0", "fundingFee": "0", "gammaBS": "", "gammaPA": "",
            "idxPx": _n(p.mark_price), "imr": "" if p.isolated else _n(p.size * p.mark_price / p.leverage),
            "instId": p.symbol, "instType": "SWAP", "interest": "", "last": _n(p.mark_price),
            "lever": _n(p.leverage), "liab": "", "liabCcy": "", "liqPenalty": "0",
            "liqPx": _n(p.liquidation_price) if p.liquidation_price else "",
            "margin": _n(p.isolated_margin or 0.0) if p.isolated else "", "markPx": _n(p.mark_price),
            "mgnMode": p.margin_mode, "mgnRatio": "", "mmr": _n(p.maint_margin),
            "notionalUsd": _n(p.size * p.mark_price), "optVal": "", "pendingCloseOrdLiabVal": "", "pnl": "0",
            "pos": _n(signed), "posCcy": "", "posId": str(abs(hash(p.symbol)) % 10**12),
            "posSide": p.side if p.hedge else "net", "quoteBal": "", "realizedPnl": "0", "thetaBS": "",
            "thetaPA": "", "tradeId": "1", "uTime": str(now_ms), "upl": _n(p.unrealized_pnl),
            "uplLastPx": _n(p.unrealized_pnl), "uplRatio": "0", "uplRatioLastPx": "0", "usdPx": "",
            "vegaBS": "", "vegaPA": ""}


def _okx_balance(account: EmuAccount, now_ms: int) -> dict[str, Any]:
    isolated_upl = account.isolated_unrealized()
    isolated_equity = account.isolated_margins() + isolated_upl
    unrealized = account.cross_unrealized() + isolated_upl
    equity = account.wallet_balance + account.cross_unrealized() + isolated_equity
    cash = account.wallet_balance + account.isolated_margins()
    detail = {"availBal": _n(account.wallet_balance), "availEq": _n(account.wallet_balance), "borrowFroz": "",
              "cashBal": _n(cash), "ccy": account.settle, "crossLiab": "", "disEq": _n(equity), "eq": _n(equity),
              "eqUsd": _n(equity), "smtSyncEq": "0", "spotCopyTradingEq": "0", "fixedBal": "0",
              "frozenBal": _n(account.isolated_margins()), "imr": "", "interest": "", "isoEq": _n(isolated_equity),
              "isoLiab": "", "isoUpl": _n(isolated_upl), "liab": "", "maxLoan": "", "mgnRatio": "",
              "mmr": _n(account.cross_maintenance()), "notionalLever": "", "ordFrozen": "0", "rewardBal": "0",
              "spotInUseAmt": "", "clSpotInUseAmt": "", "maxSpotInUse": "", "spotIsoBal": "0", "stgyEq": "0",
              "twap": "0", "uTime": str(now_ms), "upl": _n(unrealized), "uplLiab": "", "spotBal": "",
              "openAvgPx": "", "accAvgPx": "", "spotUpl": "", "spotUplRatio": "", "totalPnl": "",
              "totalPnlRatio": ""}
    return {"adjEq": "", "borrowFroz": "", "details": [detail], "imr": "", "isoEq": _n(isolated_equity),
            "mgnRatio": "", "mmr": "", "notionalUsd": "", "notionalUsdForBorrow": "", "notionalUsdForFutures": "",
            "notionalUsdForOption": "", "notionalUsdForSwap": "", "ordFroz": "", "totalEq": _n(equity),
            "uTime": str(now_ms), "upl": _n(unrealized)}
