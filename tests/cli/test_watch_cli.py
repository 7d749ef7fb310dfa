"""``adlwatch watch`` against the loopback emulator, as a user's pipe would run it.

The emulator runs in the test's event loop with a price path the test steers; ``python -m adlwatch.tui.watch``
runs as a subprocess pointed at it through ``ADLWATCH_<VENUE>_WS_URL`` / ``_REST_URL``. Every wait is
on a condition (a line read, frames sent) bounded by a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import sys
from collections import deque
from pathlib import Path

import pytest

from adlwatch.engine.alerts import Alert, AlertRules
from adlwatch.engine.events import AccountState, FeedStatus
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Portfolio
from adlwatch.feeds.emulator import VENUES, Emulator, PricePath
from adlwatch.tui.check import CONTRACT_FIELDS, EXTRA_FIELDS
from adlwatch.tui.watch import Watch, add_arguments, alert_line, run_watch, watch_rules

ROOT = Path(__file__).resolve().parents[2]
CLOSED = "127.0.0.1:9"  # a closed loopback port: refused at once, no internet touched
TIMEOUT_S = 30.0

NO_OTHER_RULES = """
[alerts]
adl_lights_at_least = false
fund_to_oi_drop_pct = false
stale_feed_after_s = false
hold_s = 0
"""

# Isolated long 1 BTC at 64,000 with 3,200 of margin, Binance's bundled BTCUSDT tier 1 (0–300k, 0.4 %, amount 0):
# 3,200 + (P − 64,000) = 0.004 P, so the liquidation price is 60,800 / 0.996 = 61,044.18.
NEAR = """
[[account]]
venue = "binance"
wallet_balance = 0.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 1.0
entry_price = 64000.0
leverage = 20
margin_mode = "isolated"
isolated_margin = 3200.0
""" + NO_OTHER_RULES
LIQUIDATION = 60800 / 0.996

FAR = """
[[account]]
venue = "binance"
wallet_balance = 100000.0

[[account.position]]
symbol = "BTCUSDT"
side = "long"
size = 0.1
entry_price = 60000.0
leverage = 2

[[account]]
venue = "hyperliquid"
wallet_balance = 50000.0

[[account.position]]
symbol = "BTC"
side = "short"
size = 0.1
entry_price = 61000.0
leverage = 2
""" + NO_OTHER_RULES


class SteeredPath(PricePath):
    """Marks set by the test: queued prices go out one per push, then the last one holds."""

    def __init__(self, price: float):
        super().__init__()
        self.price = price
        self.queue: deque[float] = deque()

    def current(self, venue: str, symbol: str) -> float:
        return self.price

    def step(self, venue: str, symbol: str) -> float:
        if self.queue:
            self.price = self.queue.popleft()
        return self.price


@pytest.fixture
async def emulator():
    emu = Emulator(seed=1, interval_s=0.05, keep_frames=False)
    emu.prices = SteeredPath(65000.0)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


def venue_env(emu: Emulator | None, unreachable: tuple[str, ...] = ()) -> dict[str, str]:
    """Every venue at the emulator (or at a closed port): the run never leaves the loopback."""
    env = {}
    for venue in VENUES:
        down = emu is None or venue in unreachable
        env[f"ADLWATCH_{venue.upper()}_WS_URL"] = f"ws://{CLOSED}" if down else emu.ws_url(venue)
        env[f"ADLWATCH_{venue.upper()}_REST_URL"] = f"http://{CLOSED}" if down else emu.rest_url(venue)
    return env


class WatchProcess:
    """``python -m adlwatch.tui.watch`` with its stdout read line by line as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, env: dict[str, str], *args: str) -> WatchProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adlwatch.tui.watch", *args, cwd=ROOT, env={**os.environ, **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def line_where(self, predicate) -> dict:
        """The next stdout line (a JSON object) for which ``predicate`` holds."""

        async def read() -> dict:
            while True:
                text = await self.proc.stdout.readline()
                assert text, f"watch ended early: {(await self.proc.stderr.read()).decode()}"
                self.lines.append(text.decode())
                doc = json.loads(text)
                if predicate(doc):
                    return doc

        return await asyncio.wait_for(read(), TIMEOUT_S)

    async def interrupt(self) -> tuple[int, str]:
        """Ctrl-C; the exit code and stderr once it ended (the rest of stdout joins ``lines``)."""
        self.proc.send_signal(signal.SIGINT)
        return await self.finish()

    async def finish(self) -> tuple[int, str]:
        rest, err = await asyncio.wait_for(self.proc.communicate(), TIMEOUT_S)
        self.lines += rest.decode().splitlines(keepends=True)
        return self.proc.returncode, err.decode()

    def docs(self, kind: str) -> list[dict]:
        return [doc for doc in map(json.loads, self.lines) if doc["type"] == kind]


def alert(doc: dict) -> bool:
    return doc["type"] == "alert"


async def test_a_position_crossing_alert_below_prints_one_alert_then_one_clear_and_exits_3(tmp_path, emulator):
    path = tmp_path / "p.toml"
    path.write_text(NEAR)
    watch = await WatchProcess.start(venue_env(emulator), "--portfolio", str(path), "--json", "--alert-below", "3")
    try:
        await emulator.wait_connected("binance", timeout=TIMEOUT_S)
        emulator.prices.price = 62000.0  # 1.54 % from liquidation: below 3 %
        fired = await watch.line_where(alert)
        # Flapping inside the band (under 3 % + 1 % of hysteresis) and back below the threshold.
        sent = emulator.data_frames_sent("binance")
        emulator.prices.queue.extend([62500.0, 63500.0, 62900.0, 63400.0, 61500.0, 63580.0] * 3)
        await emulator.wait_until(lambda: emulator.data_frames_sent("binance") >= sent + 20, TIMEOUT_S)
        emulator.prices.price = 65000.0  # 6.09 %: past the band
        cleared = await watch.line_where(alert)
        code, err = await watch.interrupt()
    finally:
        if watch.proc.returncode is None:
            watch.proc.kill()
            await watch.proc.wait()
    below = (62000 - LIQUIDATION) / 62000 * 100
    above = (65000 - LIQUIDATION) / 65000 * 100
    assert {k: v for k, v in fired.items() if k != "ts"} == {
        "type": "alert", "state": "fired", "rule": "liquidation_distance", "venue": "binance", "symbol": "BTCUSDT",
        "side": "long", "value": pytest.approx(below, abs=1e-6), "threshold": 3.0, "estimate": False,
        "message": "binance BTCUSDT long: 1.54% from liquidation (liq. 61,044.2, mark 62,000), below the 3% alert",
    }
    assert {k: v for k, v in cleared.items() if k != "ts"} == {
        "type": "alert", "state": "cleared", "rule": "liquidation_distance", "venue": "binance",
        "symbol": "BTCUSDT", "side": "long", "value": pytest.approx(above, abs=1e-6), "threshold": 3.0,
        "estimate": False,
        "message": "binance BTCUSDT long: 6.09% from liquidation (liq. 61,044.2, mark 65,000), back above 4% (alert at 3%)",
    }
    assert isinstance(fired["ts"], int) and cleared["ts"] >= fired["ts"]
    assert watch.docs("alert") == [fired, cleared]  # nothing while it flapped
    assert code == 3, err
    assert "Traceback" not in err


async def test_a_quiet_run_prints_snapshots_with_checks_fields_and_exits_0(tmp_path, emulator):
    path = tmp_path / "p.toml"
    path.write_text(FAR)
    watch = await WatchProcess.start(venue_env(emulator), "--portfolio", str(path), "--json", "--snapshots", "0.2")
    try:
        snapshot = await watch.line_where(
            lambda doc: doc["type"] == "snapshot" and all(p["mark_price"] for p in doc["positions"]))
        code, err = await watch.interrupt()
    finally:
        if watch.proc.returncode is None:
            watch.proc.kill()
            await watch.proc.wait()
    assert code == 0, err
    assert watch.docs("alert") == []
    assert [(p["venue"], p["symbol"], p["side"]) for p in snapshot["positions"]] == [
        ("binance", "BTCUSDT", "long"), ("hyperliquid", "BTC", "short")]
    assert list(snapshot["positions"][0]) == [*CONTRACT_FIELDS, *EXTRA_FIELDS]
    assert snapshot["positions"][0]["mark_price"] == 65000.0 and isinstance(snapshot["ts"], int)


async def test_an_unreachable_venue_is_one_status_line_and_the_rest_is_watched(tmp_path, emulator):
    path = tmp_path / "p.toml"
    path.write_text(FAR)
    env = venue_env(emulator, unreachable=("binance",))
    watch = await WatchProcess.start(env, "--portfolio", str(path), "--json", "--snapshots", "0.2")
    try:
        # Hyperliquid keeps coming while Binance cannot be reached.
        for _ in range(3):
            await watch.line_where(lambda doc: doc["type"] == "snapshot" and doc["positions"][1]["mark_price"])
        code, err = await watch.interrupt()
    finally:
        if watch.proc.returncode is None:
            watch.proc.kill()
            await watch.proc.wait()
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("adlwatch watch: binance: cannot reach the venue (") and "watching the rest" in line
    assert watch.docs("snapshot")[-1]["positions"][0]["mark_price"] is None


async def test_duration_ends_the_run_and_a_venue_never_reached_exits_1(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(NEAR)
    watch = await WatchProcess.start(venue_env(None), "--portfolio", str(path), "--duration", "0.5")
    code, err = await watch.finish()
    assert code == 1
    assert len(err.splitlines()) == 1 and "binance: cannot reach the venue" in err
    assert watch.lines == []


@pytest.mark.parametrize(("text", "args", "expected"), [
    (NEAR.replace("size = 1.0", "size = -1.0"), [], "account[0].position[0].size = -1.0: must be positive"),
    (NEAR + "bell = 3\n", [], "alerts.bell = 3: must be true or false"),
    (NEAR, ["--snapshots", "0"], "--snapshots = 0.0: must be a positive number of seconds"),
    ("[[account]]\nvenue = \"binance\"\n", [], "holds no position and follows no account: nothing to watch"),
])
async def test_bad_input_is_one_line_and_exit_2(tmp_path, text, args, expected):
    path = tmp_path / "p.toml"
    path.write_text(text)
    watch = await WatchProcess.start(venue_env(None), "--portfolio", str(path), *args)
    code, err = await watch.finish()
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("adlwatch: ") and line.endswith(expected)
    if not args:
        assert str(path) in line
    assert watch.lines == []


# -- the run's own bookkeeping, in process with a scripted source ------------------------------------


class ScriptedSource:
    """Emits the given events, then ends the watch (as Ctrl-C would)."""

    def __init__(self, events, watch: Watch):
        self.events = events
        self.watch = watch

    async def run(self, emit):
        for event in self.events:
            emit(event)
        self.watch.stop()
        await asyncio.Event().wait()  # a live source runs until cancelled


async def test_a_rejected_key_is_one_line_a_trading_key_one_alert_and_watching_goes_on():
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main"}]}, default_catalogue())
    out, err = io.StringIO(), io.StringIO()
    watch = Watch(portfolio, AlertRules(), as_json=True, out=out, err=err, clock=lambda: 1000.0)
    rejected = FeedStatus(venue="binance", symbol="account:main", ts=None, state="error",
                          detail="binance key 'main' rejected: invalid API key; retrying in 300 s")
    trading = "binance key 'main' can TRADE: use a read-only key"
    state = AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=100.0,
                         warnings=[trading])
    connected = FeedStatus(venue="binance", symbol="account:main", ts=None, state="connected",
                           detail="binance key 'main': following again, 0 position(s)")
    code = await asyncio.wait_for(watch.run(ScriptedSource([rejected, rejected, state, connected], watch)), TIMEOUT_S)
    assert err.getvalue().splitlines() == [
        "adlwatch watch: binance key 'main' rejected: invalid API key; retrying in 300 s; watching continues",
        "adlwatch watch: binance key 'main': following again, 0 position(s)",
    ]
    (line,) = out.getvalue().splitlines()
    assert json.loads(line) == {
        "type": "alert", "state": "fired", "rule": "account_warning", "venue": "binance", "symbol": "", "side": None,
        "value": None, "threshold": None, "estimate": False,
        "message": f"binance api key 'main': WARNING {trading}", "ts": 1_000_000,
    }
    assert code == 3  # reported (so reached), and an alert fired


async def test_a_followed_account_never_reported_exits_1():
    portfolio = Portfolio.from_data({"account": [{"venue": "binance", "key_name": "main"}]}, default_catalogue())
    watch = Watch(portfolio, AlertRules(), out=io.StringIO(), err=io.StringIO())
    missing = FeedStatus(venue="binance", symbol="account:main", ts=None, state="error",
                         detail="no key 'main' for binance in the environment or keyring")
    assert await asyncio.wait_for(watch.run(ScriptedSource([missing], watch)), TIMEOUT_S) == 1
    assert watch.unreached() == ["binance main"]


def test_run_watch_takes_the_parsers_arguments(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--portfolio", str(tmp_path / "none.toml"), "--json", "--snapshots", "5",
                              "--alert-below", "2.5", "--duration", "60"])
    assert (args.json, args.snapshots, args.alert_below, args.duration) == (True, 5.0, 2.5, 60.0)
    from adlwatch.engine.errors import InputError

    with pytest.raises(InputError, match="no such file"):
        run_watch(args)


def test_alert_below_sets_the_global_threshold_and_the_file_keeps_the_rest():
    portfolio = Portfolio.from_data({"account": [], "alerts": {"distance_below_pct": 8, "hold_s": 2}}, default_catalogue())
    assert watch_rules(portfolio, None).distance_below_pct == 8
    rules = watch_rules(portfolio, 2.5)
    assert (rules.distance_below_pct, rules.hold_s) == (2.5, 2)


def test_without_json_an_alert_is_one_readable_line():
    fired = Alert(state="fired", rule="liquidation_distance", venue="binance", symbol="BTCUSDT", side="long",
                  value=1.5, threshold=3.0, message="binance BTCUSDT long: 1.50% from liquidation", estimate=False,
                  ts_ms=1_760_131_259_999)
    assert alert_line(fired, as_json=False) == "2025-10-10 21:20:59Z  ALERT  binance BTCUSDT long: 1.50% from liquidation"


async def test_a_followed_position_is_modelled_with_the_catalogue_the_portfolio_was_read_with():
    """``adlwatch watch`` models with the user's catalogue (refreshed tier tables included), which travels
    with the portfolio, as in the monitor: a followed account's contract known only there is modelled, not
    left out."""
    from dataclasses import replace as replaced

    from adlwatch.engine.events import ImportedPosition, MarkPrice
    from adlwatch.engine.instruments import default_catalogue

    bundled = default_catalogue()
    extra = replaced(bundled.get("binance", "BTCUSDT"), symbol="ZZZUSDT")  # as a tier-cache row would add it
    catalogue = bundled.with_instruments([extra])
    data = {"account": [{"venue": "binance", "key_name": "main"}]}
    state = AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=1000.0,
                         positions=[ImportedPosition(symbol="ZZZUSDT", side="long", size=0.1, entry_price=50_000.0,
                                                     leverage=10.0, margin_mode="cross")])
    mark = MarkPrice(venue="binance", symbol="ZZZUSDT", ts=1, price=49_000.0)

    def positions(read_with) -> list[str]:
        portfolio = Portfolio.from_data(data, read_with)
        watch = Watch(portfolio, AlertRules(), out=io.StringIO(), err=io.StringIO())
        watch.monitor.apply_many([state, mark], 0.0)
        snapshot = watch.monitor.live()
        return [p.symbol for p in snapshot.positions if p.liquidation_price is not None]

    assert positions(catalogue) == ["ZZZUSDT"]
    assert positions(bundled) == []  # the bundled catalogue alone does not know the contract


def test_a_forced_close_alert_line_carries_the_fill_and_what_is_left():
    from adlwatch.engine.alerts import forced_close_alert
    from adlwatch.engine.events import ForcedClose
    from adlwatch.tui.watch import alert_line

    close = ForcedClose(venue="binance", symbol="BTCUSDT", ts=1_700_000_000_000, account="main", side="long",
                        cause="adl", price=61_000.0, size=0.2, remaining=0.3, detail="autoCloseType ADL")
    doc = json.loads(alert_line(forced_close_alert(close, 0, 12_200.0, "binance key 'main'"), True))
    assert doc["rule"] == "forced_close" and doc["value"] == "adl" and doc["critical"] is True
    assert (doc["price"], doc["size"], doc["notional_usd"], doc["remaining"], doc["account"]) == (
        61_000.0, 0.2, 12_200.0, 0.3, 0)
    assert doc["ts"] == 1_700_000_000_000 and "AUTO-DELEVERAGED" in doc["message"]
