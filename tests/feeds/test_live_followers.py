"""LiveSource with followed accounts: the account's report enters the stream, and a contract it
holds that no feed carried yet gets subscribed."""

from __future__ import annotations

import asyncio

from adlwatch.engine.events import AccountState, ImportedPosition
from adlwatch.feeds.live import LiveSource
from tests.feeds.conftest import FAST, emulator, no_internet  # noqa: F401  (fixtures)
from tests.feeds.live_helpers import mark_of, run_until


class ScriptedFollower:
    """Reports one account state, then waits to be stopped (a stand-in for a venue follower)."""

    venue = "binance"
    ref = "main"
    label = "binance key 'main'"

    def __init__(self, symbols: list[str]):
        self.symbols = symbols
        self.stopped = asyncio.Event()

    async def fetch(self):
        return [self.state()]

    def state(self) -> AccountState:
        positions = [ImportedPosition(symbol=s, side="long", size=0.1, entry_price=100.0, leverage=5.0,
                                      margin_mode="cross") for s in self.symbols]
        return AccountState(venue="binance", symbol="main", ts=None, settle="USDT", wallet_balance=1000.0,
                            positions=positions)

    async def run(self, emit):
        emit(self.state())
        await self.stopped.wait()

    def stop(self):
        self.stopped.set()


async def test_followed_account_contract_is_subscribed_and_marks_flow(emulator):  # noqa: F811
    follower = ScriptedFollower(["ETHUSDT"])
    source = LiveSource({"binance": ["BTCUSDT"]}, ws_urls={"binance": emulator.ws_url("binance")},
                        rest_urls={"binance": emulator.rest_url("binance")}, client_options=FAST,
                        followers=[follower])
    seen = await run_until(source, mark_of("ETHUSDT"))
    states = [e for e in seen if e.kind == "account_state"]
    assert len(states) == 1 and states[0].positions[0].symbol == "ETHUSDT"
    assert source.symbols_by_venue["binance"] == ["BTCUSDT", "ETHUSDT"]
    assert [c.symbols for c in source.clients] == [["BTCUSDT", "ETHUSDT"]]
    assert follower.stopped.is_set()  # stopping the source stops its followers
    assert source.label == "live: binance"


async def test_follower_alone_starts_the_feed_of_what_it_holds(emulator):  # noqa: F811
    follower = ScriptedFollower(["BTCUSDT"])
    source = LiveSource({}, ws_urls={"binance": emulator.ws_url("binance")},
                        rest_urls={"binance": emulator.rest_url("binance")}, client_options=FAST,
                        followers=[follower])
    seen = await run_until(source, mark_of("BTCUSDT"))
    assert [e.symbol for e in seen if e.kind == "mark_price"][-1] == "BTCUSDT"
