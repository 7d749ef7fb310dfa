"""Binance, Bybit and OKX accounts by read-only API key, against the loopback emulator's private
endpoints (feeds/emulator_private.py), which check every signature for real."""

from __future__ import annotations

import ast
import base64
import hashlib
import hmac
import inspect
import json
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adlwatch.engine.events import AccountState, FeedStatus
from adlwatch.engine.portfolio import Account
from adlwatch.feeds.accounts import followers_for, signed
from adlwatch.feeds.accounts.signed import (
    READ_PATHS,
    BodyError,
    MapContext,
    RefusedRequest,
    SignedFollower,
    refuse_unless_read,
    send_read,
    signed_follower,
)
from adlwatch.feeds.emulator_private import PRIVATE_PATHS, EmuAccount, EmuPosition
from adlwatch.feeds.keys import Credentials, Secret, load_credentials
from adlwatch.feeds.venues.binance import account as binance
from adlwatch.feeds.venues.binance.emulator import private_body_of as binance_body
from adlwatch.feeds.venues.bybit import account as bybit
from adlwatch.feeds.venues.bybit.emulator import private_body_of as bybit_body
from adlwatch.feeds.venues.okx import account as okx
from adlwatch.feeds.venues.okx.emulator import private_body_of as okx_body
from tests.feeds import private_fixtures
from tests.feeds.private_fixtures import (
    SECRETS,
    NoKeyring,
    binance_account,
    bybit_account,
    env_for,
    okx_account,
)

private = private_fixtures.private  # the fixture: the emulator with the three test accounts

VENUES = ("binance", "bybit", "okx")
APPROX = dict(rel=1e-12, abs=1e-9)


def is_status(state: str, text: str = ""):
    return lambda e: isinstance(e, FeedStatus) and e.state == state and text in e.detail


def is_state(e) -> bool:
    return isinstance(e, AccountState)


# ---------------------------------------------------------------------------- signing rules


def test_binance_signature_reproduces_the_venue_worked_example():
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/general-info
    # ("POST /fapi/v1/order example - HMAC Keys", example 1): the same secret and query string.
    credentials = Credentials("binance", "doc", Secret("dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"),
                              Secret("2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"))
    params = (("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "9000"),
              ("timeInForce", "GTC"))
    query = binance.signed_query(params, credentials, 1591702613943, 5000)
    assert query == ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
                     "&timestamp=1591702613943&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9")


def test_binance_request_carries_the_key_in_its_header_and_timestamp_in_the_query():
    credentials = load_credentials("binance", "main", env=env_for("binance"), keyring=NoKeyring())
    query, headers = binance.sign(credentials, binance.reads("USDT")[0], 1_700_000_000.123, 5000)
    assert headers == {"X-MBX-APIKEY": SECRETS["binance"][0]}
    assert query.startswith("recvWindow=5000&timestamp=1700000000123&signature=")


def test_bybit_signs_timestamp_key_window_and_query():
    # https://bybit-exchange.github.io/docs/v5/guide: GET rule timestamp+api_key+recv_window+queryString
    assert bybit.sign_payload(1658384314791, "XXXXXXXXXX", 5000, "category=option&symbol=BTC-29JUL22-25000-C") \
        == "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
    credentials = load_credentials("bybit", "main", env=env_for("bybit"), keyring=NoKeyring())
    read = bybit.reads("USDT")[0]
    query, headers = bybit.sign(credentials, read, 1658384314.791, 5000)
    key, secret, _ = SECRETS["bybit"]
    expected = hmac.new(secret.encode(), f"1658384314791{key}5000{query}".encode(), hashlib.sha256).hexdigest()
    assert query == "category=linear&settleCoin=USDT&limit=200"
    assert headers == {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": "1658384314791", "X-BAPI-RECV-WINDOW": "5000",
                       "X-BAPI-SIGN": expected}


def test_okx_signs_timestamp_method_and_request_path_with_its_query():
    # https://www.okx.com/docs-v5/en/#overview-rest-authentication: timestamp + method + requestPath + body,
    # GET parameters count as requestPath; the timestamp is ISO 8601 with milliseconds.
    assert okx.timestamp(1607418537.715) == "2020-12-08T09:08:57.715Z"
    assert okx.prehash("2020-12-08T09:08:57.715Z", "get", "/api/v5/account/balance?ccy=BTC") \
        == "2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"
    credentials = load_credentials("okx", "main", env=env_for("okx"), keyring=NoKeyring())
    query, headers = okx.sign(credentials, okx.reads("USDT")[1], 1607418537.715, 5000)
    key, secret, passphrase = SECRETS["okx"]
    digest = hmac.new(secret.encode(), b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=USDT",
                      hashlib.sha256).digest()
    assert query == "ccy=USDT"
    assert headers == {"OK-ACCESS-KEY": key, "OK-ACCESS-SIGN": base64.b64encode(digest).decode(),
                       "OK-ACCESS-TIMESTAMP": "2020-12-08T09:08:57.715Z", "OK-ACCESS-PASSPHRASE": passphrase}


# ---------------------------------------------------------------------------- every field, each venue


def position(state: AccountState, symbol: str):
    (found,) = [p for p in state.positions if p.symbol == symbol]
    return found


def assert_position(imported, held: EmuPosition, *, size: float | None = None, lights: int | None,
                    raw: str | None, brackets=None):
    assert imported.side == held.side
    assert imported.size == pytest.approx(size if size is not None else held.size, **APPROX)
    assert imported.entry_price == pytest.approx(held.entry_price, **APPROX)
    assert imported.leverage == pytest.approx(held.leverage, **APPROX)
    assert imported.margin_mode == held.margin_mode
    if held.isolated:
        assert imported.isolated_margin == pytest.approx(held.isolated_margin, **APPROX)
    else:
        assert imported.isolated_margin is None
    if held.liquidation_price is None:
        assert imported.liquidation_price is None
    else:
        assert imported.liquidation_price == pytest.approx(held.liquidation_price, **APPROX)
    assert imported.adl_lights == lights
    assert imported.adl_raw == raw
    assert imported.mark_price == pytest.approx(held.mark_price, **APPROX)
    assert imported.unrealized_pnl == pytest.approx(held.unrealized_pnl, **APPROX)
    assert imported.brackets == (list(brackets) if brackets is not None else None)


async def fetch_state(private, venue: str) -> AccountState:
    before = int(time.time() * 1000)
    events = await private.follower(venue).fetch()
    assert [type(e) for e in events] == [AccountState]
    state = events[0]
    assert state.venue == venue and state.symbol == "main" and state.settle == "USDT"
    assert state.ts is not None and before - 1000 <= state.ts <= int(time.time() * 1000) + 1000
    assert state.recv_ns > 0
    assert state.permissions == ["read"]
    return state


async def test_imports_every_field_of_a_binance_account(private):
    held = private.account("binance")
    state = await fetch_state(private, "binance")
    btc, eth, sol = held.positions
    assert [p.symbol for p in state.positions] == ["BTCUSDT", "ETHUSDT"]
    assert_position(position(state, "BTCUSDT"), btc, lights=4, raw="adlQuantile 3 of 0-4", brackets=btc.brackets)
    assert_position(position(state, "ETHUSDT"), eth, lights=1, raw="adlQuantile 0 of 0-4", brackets=eth.brackets)
    assert state.wallet_balance == pytest.approx(held.wallet_balance, **APPROX)
    assert state.account_value == pytest.approx(held.wallet_balance + btc.unrealized_pnl, **APPROX)
    assert state.maintenance_margin == pytest.approx(btc.maint_margin, **APPROX)  # cross positions only
    assert state.warnings == ['SOLUSDC: settle in USDC, another account of the key (follow it with settle = "USDC")']


async def test_a_position_shown_under_the_keys_other_entry_is_not_warned_of(private):
    """The Binance key also holds SOLUSDC (USDC-margined): with an entry ``settle = "USDC"`` beside the
    USDT one, the USDT account does not call it "not shown" (the USDC entry shows it), and the USDC
    entry does not warn of the USDT positions either."""
    private.account("binance").wallets["USDC"] = 1_000.0
    usdt = Account("binance", 0.0, "USDT", key_name="main")
    usdc = Account("binance", 0.0, "USDC", key_name="main", follow_settle="USDC")
    followers = followers_for(SimpleNamespace(accounts=[usdt, usdc]),
                              rest_urls={"binance": private.emu.rest_url("binance")}, env=env_for("binance"),
                              keyring=NoKeyring())
    assert [f.followed_elsewhere for f in followers] == [frozenset({"USDC"}), frozenset({"USDT"})]
    usdt_state, usdc_state = [[e for e in await f.fetch() if is_state(e)][0] for f in followers]
    assert [p.symbol for p in usdt_state.positions] == ["BTCUSDT", "ETHUSDT"] and usdt_state.warnings == []
    assert [p.symbol for p in usdc_state.positions] == ["SOLUSDC"] and usdc_state.warnings == []


async def test_imports_every_field_of_a_bybit_account(private):
    held = private.account("bybit")
    state = await fetch_state(private, "bybit")
    btc, eth = held.positions
    assert [p.symbol for p in state.positions] == ["BTCUSDT", "ETHUSDT"]
    assert_position(position(state, "BTCUSDT"), btc, lights=4, raw="adlRankIndicator 4 of 1-5")
    assert_position(position(state, "ETHUSDT"), eth, lights=2, raw="adlRankIndicator 2 of 1-5")
    unrealized = btc.unrealized_pnl + eth.unrealized_pnl
    assert state.wallet_balance == pytest.approx(held.wallet_balance, **APPROX)
    assert state.account_value == pytest.approx(held.wallet_balance + unrealized, **APPROX)
    assert state.maintenance_margin == pytest.approx(btc.maint_margin + eth.maint_margin, **APPROX)
    assert state.warnings == []


async def test_imports_every_field_of_an_okx_account_with_contracts_in_coin(private):
    held = private.account("okx")
    state = await fetch_state(private, "okx")
    btc, eth, inverse = held.positions
    assert [p.symbol for p in state.positions] == ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]
    assert_position(position(state, "BTC-USDT-SWAP"), btc, lights=1, raw="adl 0 of 0-5")
    assert_position(position(state, "ETH-USDT-SWAP"), eth, lights=5, raw="adl 5 of 0-5")
    assert state.wallet_balance == pytest.approx(held.wallet_balance, **APPROX)
    assert state.account_value == pytest.approx(held.wallet_balance + btc.unrealized_pnl, **APPROX)
    assert state.maintenance_margin == pytest.approx(btc.maint_margin, **APPROX)
    assert state.warnings == ['BTC-USD-SWAP: settle in BTC, another account of the key (follow it with settle = "BTC")']
    # on the wire the sizes were contracts: 0.5 BTC is 50 contracts of 0.01
    body = okx_body(held, okx.POSITIONS, {}, 0)
    assert [row["pos"] for row in body["data"][:2]] == ["50", "20"]


async def test_binance_hedge_mode_sides_take_their_own_adl_quantile(private):
    held = private.account("binance")
    held.positions = [EmuPosition("BTCUSDT", "long", 1.0, 60_000.0, 61_000.0, 20.0, adl=4, hedge=True),
                      EmuPosition("BTCUSDT", "short", 0.4, 62_000.0, 61_000.0, 20.0, adl=1, hedge=True)]
    state = (await private.follower("binance").fetch())[0]
    assert [(p.side, p.size, p.adl_lights) for p in state.positions] == [("long", 1.0, 5), ("short", 0.4, 2)]


async def test_okx_position_without_a_known_contract_value_is_named_not_guessed(private):
    state = (await private.follower("okx", contract_values={"ETH-USDT-SWAP": 0.1}).fetch())[0]
    assert [p.symbol for p in state.positions] == ["ETH-USDT-SWAP"]
    assert any("BTC-USDT-SWAP: contract value (ctVal) unknown" in w for w in state.warnings)


# ---------------------------------------------------------------------------- refusals


async def wait_requests(private, venue: str, count: int, timeout: float = 5.0) -> None:
    """Until ``count`` signed requests of ``venue`` were answered (the emulator wakes on each)."""
    await private.emu.wait_until(lambda: len(private.endpoints.private(venue)) >= count, timeout)


@pytest.mark.parametrize("venue", VENUES)
async def test_wrong_signature_is_refused_and_reported_in_one_line_while_following_goes_on(private, venue):
    follower = private.follower(venue, env=env_for(venue, secret="not-the-secret-at-all"))
    async with private.run(follower) as running:
        (line,) = await running.wait_for(is_status("error", "rejected"))
        await wait_requests(private, venue, 4)  # it keeps retrying (slowly) ...
    assert line.detail.startswith(f"{venue} key 'main' rejected: ")
    assert line.symbol == "account:main"
    assert running.statuses() == [line]  # ... and says so once
    assert not any(is_state(e) for e in running.events)
    assert follower.waits[:3] == [0.1, 0.1, 0.1]  # the slow retry, not the fast backoff
    refused = {r.status for r in private.endpoints.private(venue)}
    assert refused <= {400, 401}


async def test_a_rejected_key_is_read_again_so_a_corrected_key_is_followed_without_restart(private):
    env = env_for("okx", passphrase="not-the-passphrase")
    follower = private.follower("okx", env=env)
    async with private.run(follower) as running:
        await running.wait_for(is_status("error", "rejected"))
        env.update(env_for("okx"))  # the user fixes the key (environment or keyring)
        await running.wait_for(is_state)
    assert [s.state for s in running.statuses()] == ["error", "connected"]


async def raw_get(private, venue: str, path: str, headers: dict[str, str], query: str = "") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(private.emu.rest_url(venue) + path + (f"?{query}" if query else ""), headers=headers)


async def test_emulator_refuses_binance_requests_in_binance_error_shapes(private):
    key = SECRETS["binance"][0]
    now = int(time.time() * 1000)
    missing = await raw_get(private, "binance", binance.ACCOUNT, {}, f"timestamp={now}&signature=00")
    unknown = await raw_get(private, "binance", binance.ACCOUNT, {"X-MBX-APIKEY": "nobody"}, f"timestamp={now}&signature=00")
    unsigned = await raw_get(private, "binance", binance.ACCOUNT, {"X-MBX-APIKEY": key}, f"timestamp={now}")
    forged = await raw_get(private, "binance", binance.ACCOUNT, {"X-MBX-APIKEY": key}, f"timestamp={now}&signature=00")
    assert (missing.status_code, missing.json()["code"]) == (401, -2014)
    assert (unknown.status_code, unknown.json()) == (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    assert (unsigned.status_code, unsigned.json()["code"]) == (400, -1102)
    assert (forged.status_code, forged.json()) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    assert binance.problem(forged.status_code, forged.text).kind == "rejected"


async def test_emulator_refuses_bybit_and_okx_requests_in_their_error_shapes(private):
    bybit_key = SECRETS["bybit"][0]
    now = int(time.time() * 1000)
    no_key = await raw_get(private, "bybit", bybit.ACCOUNT_INFO, {})
    bad_sign = await raw_get(private, "bybit", bybit.ACCOUNT_INFO, {
        "X-BAPI-API-KEY": bybit_key, "X-BAPI-TIMESTAMP": str(now), "X-BAPI-SIGN": "00"})
    assert (no_key.status_code, no_key.json()["retCode"]) == (401, 10003)
    assert bad_sign.json()["retCode"] == 10004 and bad_sign.json()["retMsg"].startswith("error sign!")
    okx_key = SECRETS["okx"][0]
    stamp = okx.timestamp(time.time())
    no_passphrase = await raw_get(private, "okx", okx.CONFIG, {"OK-ACCESS-KEY": okx_key})
    wrong_passphrase = await raw_get(private, "okx", okx.CONFIG, {
        "OK-ACCESS-KEY": okx_key, "OK-ACCESS-PASSPHRASE": "guess", "OK-ACCESS-SIGN": "x", "OK-ACCESS-TIMESTAMP": stamp})
    forged = await raw_get(private, "okx", okx.CONFIG, {
        "OK-ACCESS-KEY": okx_key, "OK-ACCESS-PASSPHRASE": SECRETS["okx"][2], "OK-ACCESS-SIGN": "x",
        "OK-ACCESS-TIMESTAMP": stamp})
    assert (no_passphrase.status_code, no_passphrase.json()["code"]) == (401, "50104")
    assert wrong_passphrase.json()["code"] == "50105"
    assert (forged.status_code, forged.json()["code"], forged.json()["msg"]) == (401, "50113", "Invalid Sign")
    assert okx.problem(forged.status_code, forged.text).kind == "rejected"


@pytest.mark.parametrize(("venue", "status", "code"), [("binance", 400, -1021), ("bybit", 200, 10002),
                                                       ("okx", 401, "50102")])
async def test_stale_timestamp_is_refused_and_reported_as_a_clock_problem(private, venue, status, code):
    follower = private.follower(venue, clock=lambda: time.time() - 120)
    (line,) = await follower.fetch()
    assert line.state == "error" and "check the system clock" in line.detail and "rejected" not in line.detail
    (answer,) = private.endpoints.private(venue)
    assert answer.status == status
    assert str(code) in line.detail


async def test_missing_key_is_one_line_naming_the_variables_and_nothing_is_sent(private):
    (line,) = await private.follower("okx", env={}).fetch()
    assert line.state == "error" and "\n" not in line.detail
    assert line.detail.startswith("no okx key 'main': set ADLWATCH_OKX_MAIN_API_KEY and "
                                  "ADLWATCH_OKX_MAIN_API_SECRET and ADLWATCH_OKX_MAIN_API_PASSPHRASE")
    assert private.endpoints.requests == []


# ---------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("venue", VENUES)
async def test_trading_key_is_warned_about_loudly_every_time_the_account_is_reported(private, venue):
    held = private.account(venue)
    held.can_trade = True
    held.can_withdraw = venue == "okx"
    follower = private.follower(venue)
    state, warning = await follower.fetch()
    assert "trade" in state.permissions
    assert state.warnings[0].startswith(f"WARNING: {venue} key 'main' can trade")
    assert isinstance(warning, FeedStatus) and warning.state == "error" and warning.detail == state.warnings[0]
    if venue == "okx":
        assert state.permissions == ["read", "trade", "withdraw"] and "trade and withdraw" in warning.detail
    async with private.run(private.follower(venue)) as running:
        await running.wait_for(is_state)
        first = held.positions[0]
        held.positions[0] = replace(first, mark_price=first.mark_price * 1.01)
        states = await running.wait_for(is_state, count=2)
    warnings = running.statuses("error")
    assert len(warnings) == 2 and all(w.detail.startswith("WARNING:") for w in warnings)
    assert all(s.warnings[0].startswith("WARNING:") for s in states)


def test_each_venue_reads_permissions_into_read_trade_withdraw():
    assert binance.permissions_of({"enableReading": True, "enableFutures": False}) == ["read"]
    assert binance.permissions_of({"enableReading": True, "enableFutures": True, "enableWithdrawals": True}) \
        == ["read", "trade", "withdraw"]
    assert bybit.permissions_of({"readOnly": 1, "permissions": {"ContractTrade": ["Order", "Position"]}}) == ["read"]
    assert bybit.permissions_of({"readOnly": 0, "permissions": {"Wallet": ["AccountTransfer", "Withdraw"]}}) \
        == ["read", "trade", "withdraw", "transfer"]
    assert okx.permissions_of([{"perm": "read_only,withdraw,trade"}]) == ["read", "trade", "withdraw"]
    assert okx.permissions_of([{"perm": "read_only"}]) == ["read"]


# ---------------------------------------------------------------------------- the allow-list


def test_allow_list_refuses_every_other_method_and_path():
    refuse_unless_read("binance", "GET", "/fapi/v3/positionRisk")  # a listed read passes
    for venue, method, path in [("binance", "POST", "/fapi/v1/order"), ("binance", "GET", "/fapi/v1/order"),
                                ("binance", "DELETE", "/fapi/v3/positionRisk"), ("bybit", "POST", "/v5/order/create"),
                                ("bybit", "GET", "/v5/asset/withdraw/create"), ("okx", "POST", "/api/v5/trade/order"),
                                ("okx", "GET", "/api/v5/account/positions/../../trade/order"),
                                ("hyperliquid", "GET", "/info")]:
        with pytest.raises(RefusedRequest):
            refuse_unless_read(venue, method, path)


async def test_refused_request_never_reaches_the_venue(private):
    async with httpx.AsyncClient() as client:
        for method, path in [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order"), ("PUT", binance.ACCOUNT)]:
            with pytest.raises(RefusedRequest):
                await send_read(client, "binance", method, private.emu.rest_url("binance"), path, "", {})
    assert private.endpoints.requests == []


def test_every_read_is_listed_and_the_emulator_serves_exactly_the_list():
    for module in (binance, bybit, okx):
        # Binance's COIN-M reads: a coin's margin account (settle = "BTC") and its closing records.
        extra = ({read.path for read in (*binance.reads("BTC"), *binance.record_reads([("BTCUSD_PERP", "long", 0)]))}
                 if module is binance else set())
        # The closing-record reads (issue 15) are made only for a position that shrank or went.
        held = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}[module.RULES.venue]
        records = module.RULES.record_reads([(held, "long", 0)]) if module.RULES.record_reads else ()
        assert {read.path for read in (*module.reads("USDT"), *records)} | extra == READ_PATHS[module.RULES.venue]
    assert READ_PATHS == PRIVATE_PATHS


def test_only_send_read_calls_the_http_client_and_only_with_get():
    callers: set[str] = set()
    for module in (signed, binance, bybit, okx):
        path = Path(inspect.getfile(module))
        name = f"{path.parent.name}/{path.name}"
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for call in [n for n in ast.walk(function) if isinstance(n, ast.Call)]:
                func = call.func
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "client":
                    assert func.attr in ("get", "aclose"), f"{name}:{function.name} calls client.{func.attr}"
                    if func.attr == "get":
                        callers.add(function.name)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                    and n.attr in ("post", "put", "patch", "delete", "request", "stream", "send")], name
    assert callers == {"send_read"}


async def test_a_followed_round_sends_only_listed_gets(private):
    for venue in VENUES:
        async with private.run(private.follower(venue)) as running:
            await running.wait_for(is_state, count=1)
    assert private.endpoints.requests
    assert all(r.method == "GET" and r.path in READ_PATHS[r.venue] for r in private.endpoints.requests)


# ---------------------------------------------------------------------------- backoff and failures


async def test_rate_limit_backs_off_no_sooner_than_retry_after_then_recovers(private):
    private.endpoints.fail_next(429, retry_after=0.3, venue="bybit")
    follower = private.follower("bybit")
    async with private.run(follower) as running:
        (limited,) = await running.wait_for(is_status("error", "rate limited"))
        (recovered,) = await running.wait_for(is_status("connected", "following"))
        await running.wait_for(is_state)
    assert "HTTP 429" in limited.detail
    assert follower.waits[0] >= 0.3
    assert running.events.index(limited) < running.events.index(recovered)


async def test_server_errors_back_off_capped_and_jittered_and_say_so_once(private):
    private.endpoints.fail_next(503, count=6, venue="binance")
    follower = private.follower("binance", backoff_initial_s=0.05, backoff_max_s=0.15)
    async with private.run(follower) as running:
        await running.wait_for(is_state)
    assert len(follower.waits) == 6
    assert all(0.05 <= w <= 0.15 for w in follower.waits)
    assert len(set(follower.waits)) > 1  # jittered
    assert len(running.statuses("error")) == 1 and "server error" in running.statuses("error")[0].detail


async def test_unreachable_venue_is_a_status_never_an_exception():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    follower = SignedFollower("binance", "main", rest_url=f"http://127.0.0.1:{port}/binance",
                              env=env_for("binance"), keyring=NoKeyring(), timeout_s=1.0)
    (line,) = await follower.fetch()
    assert line.state == "error" and "unreachable (ConnectError" in line.detail


async def test_unreadable_body_is_a_status_and_following_recovers(private):
    private.endpoints.serve_body("binance", binance.POSITION_RISK, "{not json")
    follower = private.follower("binance")
    (line,) = await follower.fetch()
    assert line.state == "error"
    assert line.detail == "binance key 'main': unreadable account data: /fapi/v3/positionRisk: not JSON"
    async with private.run(follower) as running:
        await running.wait_for(is_status("error", "unreadable"))
        private.endpoints.serve_body("binance", binance.POSITION_RISK, None)
        await running.wait_for(is_state)


async def test_unchanged_account_is_not_emitted_again(private):
    follower = private.follower("okx")
    async with private.run(follower) as running:
        await running.wait_for(is_state)
        await wait_requests(private, "okx", 3 * 4)  # four rounds of three reads
    assert len([e for e in running.events if is_state(e)]) == 1
    assert [s.detail for s in running.statuses()] == ["okx key 'main': following, 2 position(s)"]


# ---------------------------------------------------------------------------- wiring


async def test_followers_for_builds_a_signed_follower_from_the_portfolio(private):
    account = Account("bybit", 0.0, "USDT", key_name="main")
    manual = Account("binance", 100.0, "USDT")
    (follower,) = followers_for(SimpleNamespace(accounts=[manual, account]),
                                rest_urls={"bybit": private.emu.rest_url("bybit")}, env=env_for("bybit"),
                                keyring=NoKeyring(), interval_s=0.05, reconnect_poll=True)  # another kind's option
    assert isinstance(follower, SignedFollower) and follower.label == "bybit key 'main'"
    assert follower.interval_s == 0.05 and follower.settle == "USDT"
    assert is_state((await follower.fetch())[0])


async def test_an_account_in_another_settlement_asset_follows_the_same_key_under_its_own_ref(private):
    """``settle = "USDC"`` beside the default account of one key: the key is the label's, the state is
    the ``label:USDC`` account's, and the reads ask for the USDC account."""
    private.account("bybit").wallets["USDC"] = 2_500.0
    account = Account("bybit", 0.0, "USDC", key_name="main", follow_settle="USDC")
    (follower,) = followers_for(SimpleNamespace(accounts=[account]),
                                rest_urls={"bybit": private.emu.rest_url("bybit")}, env=env_for("bybit"),
                                keyring=NoKeyring())
    assert (follower.ref, follower.key_name, follower.settle) == ("main:USDC", "main", "USDC")
    [state, *_] = await follower.fetch()
    assert is_state(state) and state.symbol == "main:USDC" and state.settle == "USDC"
    assert state.wallet_balance == 2_500.0 and state.positions == []  # the USDT positions are the other account's


def test_signed_follower_refuses_a_venue_without_keys():
    with pytest.raises(ValueError):
        signed_follower("hyperliquid", "main")


# ---------------------------------------------------------------------------- mutated bodies


def _base_bodies(venue: str) -> dict[str, object]:
    """Each read's body as the emulator renders it (a trading key, so permission bodies vary too)."""
    account: EmuAccount = {"binance": binance_account, "bybit": bybit_account, "okx": okx_account}[venue](
        can_trade=True, can_withdraw=True)
    render = {"binance": binance_body, "bybit": bybit_body, "okx": okx_body}[venue]
    module = {"binance": binance, "bybit": bybit, "okx": okx}[venue]
    return {read.path: render(account, read.path, dict(read.params), 1_700_000_000_000)
            for read in module.reads("USDT")}


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
    | st.sampled_from(["", "0", "-1", "1e400", "NaN", "Buy", "isolated", "USDT", "LONG"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _locations(doc, at=()):
    yield at
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in children:
        yield from _locations(value, (*at, key))


def _mutated(doc, at, value, delete: bool):
    if not at:
        return value
    head, *rest = at
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    if not rest and delete:
        del copy[head]
    else:
        copy[head] = _mutated(doc[head], tuple(rest), value, delete)
    return copy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mappers_only_ever_return_a_state_or_raise_body_error_on_mutated_bodies(data):
    venue = data.draw(st.sampled_from(VENUES))
    bodies = _base_bodies(venue)
    path = data.draw(st.sampled_from(sorted(bodies)))
    texts = {p: json.dumps(doc) for p, doc in bodies.items()}
    if data.draw(st.booleans(), label="raw text"):
        texts[path] = data.draw(st.text(max_size=40))
    else:
        doc = bodies[path]
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.sampled_from(list(_locations(doc))))
            doc = _mutated(doc, at, data.draw(_JSON_VALUES), delete=bool(at) and data.draw(st.booleans()))
        texts[path] = json.dumps(doc)
    context = MapContext("main", "USDT", 1, {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1})
    module = {"binance": binance, "bybit": bybit, "okx": okx}[venue]
    try:
        state = module.account_state(texts, context)
    except BodyError as error:
        assert str(error)  # names the field
        return
    assert isinstance(state, AccountState)
    assert all(isinstance(p.size, float) and p.side in ("long", "short") for p in state.positions)
