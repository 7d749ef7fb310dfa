"""Test accounts for the private (signed) endpoints of the loopback emulator, and a fixture.

Import the fixture into a test module (``from tests.feeds.private_fixtures import private  # noqa: F401``);
it builds on the ``emulator`` fixture of conftest.py, whose no-internet guard applies as usual.
Keys, secrets and passphrases are distinctive strings, so tests can search every output for them.
Nothing here sleeps for timing: ``Running.wait_for`` waits on emitted events, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from adlwatch.engine.events import Event, FeedStatus
from adlwatch.feeds.accounts.signed import SignedFollower
from adlwatch.feeds.emulator import Emulator
from adlwatch.feeds.emulator_private import EmuAccount, EmuPosition, PrivateEndpoints, install_private
from adlwatch.feeds.keys import env_names

SECRETS = {
    "binance": ("bnKEYq7Xw2VqLmZ8rT4sPfDistinctA1b2", "bnSECRETz9Hj3KdN6mQx1WcEoDistinct7c8d", None),
    "bybit": ("byKEYr5Tn8PwQs2LxV7mDistinct3e4f", "bySECRETg4Jk8MnB2vCx6ZaDistinct5g6h", None),
    "okx": ("okKEY-1f2e3d4c-5b6a-7988-Distinct-9i0j", "okSECRETD4E5F6A7B8C9D0E1F2Distinct1k2l",
            "okPASSPHRASE!Distinct3m4n"),
}

FAST = dict(interval_s=0.05, backoff_initial_s=0.05, backoff_max_s=0.2, rejected_retry_s=0.1, timeout_s=2.0)


class NoKeyring:
    """A keyring with nothing in it (tests never touch the real OS keyring)."""

    def get_password(self, service: str, username: str) -> None:
        return None


def binance_account(**overrides) -> EmuAccount:
    key, secret, _ = SECRETS["binance"]
    brackets = ((0.0, 50_000.0, 0.004, 125.0, 0.0), (50_000.0, 500_000.0, 0.005, 100.0, 50.0),
                (500_000.0, 8_000_000.0, 0.01, 50.0, 2_550.0))
    positions = [
        EmuPosition("BTCUSDT", "long", 0.5, 60_000.0, 61_000.0, 10.0, liquidation_price=40_160.6, adl=3,
                    maint_margin=122.0, brackets=brackets),
        EmuPosition("ETHUSDT", "short", 4.0, 3_000.0, 2_900.0, 5.0, margin_mode="isolated",
                    isolated_margin=2_400.0, liquidation_price=3_610.56, adl=0, maint_margin=58.0,
                    brackets=((0.0, 10_000.0, 0.005, 100.0, 0.0), (10_000.0, 100_000.0, 0.0065, 75.0, 15.0))),
        EmuPosition("SOLUSDC", "long", 10.0, 150.0, 155.0, 3.0, settle="USDC", adl=1, maint_margin=7.75),
    ]
    values = dict(venue="binance", key=key, secret=secret, wallet_balance=10_000.0, positions=positions)
    return EmuAccount(**{**values, **overrides})


def bybit_account(**overrides) -> EmuAccount:
    key, secret, _ = SECRETS["bybit"]
    positions = [
        EmuPosition("BTCUSDT", "short", 0.25, 64_000.0, 62_000.0, 20.0, liquidation_price=78_500.5, adl=4,
                    maint_margin=77.5),
        EmuPosition("ETHUSDT", "long", 3.0, 3_100.0, 3_200.0, 10.0, liquidation_price=None, adl=2,
                    maint_margin=48.0),
    ]
    values = dict(venue="bybit", key=key, secret=secret, wallet_balance=5_000.0, positions=positions)
    return EmuAccount(**{**values, **overrides})


# The Bybit key's inverse account (``settle = "BTC"``), beside its USDT one: a BTC wallet and a BTCUSD
# long of 1-USD contracts, cross. ``with_bybit_inverse`` adds them to the key (the USDT figures above
# stay as they are). The venue's liqPrice is adlwatch's 24,061.35 on the contract's 0.5 tick.
BYBIT_BTC_WALLET = 0.5


def bybit_inverse_positions() -> list[EmuPosition]:
    return [EmuPosition("BTCUSD", "long", 20_000.0, 60_000.0, 61_000.0, 10.0, liquidation_price=24_061.5, adl=3,
                        maint_margin=0.0021, settle="BTC", face_value=1.0)]


def with_bybit_inverse(account: EmuAccount) -> EmuAccount:
    account.wallets["BTC"] = BYBIT_BTC_WALLET
    account.positions.extend(bybit_inverse_positions())
    return account


def okx_account(**overrides) -> EmuAccount:
    key, secret, passphrase = SECRETS["okx"]
    positions = [
        EmuPosition("BTC-USDT-SWAP", "long", 0.5, 60_000.0, 62_000.0, 10.0, liquidation_price=45_100.0, adl=0,
                    maint_margin=124.0),
        EmuPosition("ETH-USDT-SWAP", "short", 2.0, 3_200.0, 3_100.0, 5.0, margin_mode="isolated",
                    isolated_margin=1_280.0, liquidation_price=3_790.0, adl=5, maint_margin=31.0, hedge=True),
        EmuPosition("BTC-USD-SWAP", "long", 30.0, 60_000.0, 61_000.0, 5.0, settle="BTC", adl=2),
    ]
    values = dict(venue="okx", key=key, secret=secret, passphrase=passphrase, wallet_balance=20_000.0,
                  positions=positions)
    return EmuAccount(**{**values, **overrides})


# Binance COIN-M (the key's BTC margin account, followed with ``settle = "BTC"``): the account's own
# BTCUSD_PERP brackets (qty in coin, as /dapi/v2/leverageBracket gives them) and a face value of 100 USD.
COINM_BRACKETS = ((0.0, 50.0, 0.004, 125.0, 0.0), (50.0, 100.0, 0.005, 100.0, 0.05),
                  (100.0, 150.0, 0.01, 50.0, 0.55))
COINM_FACE = 100.0
COINM_WALLET = 0.5  # BTC, crossWalletBalance


def coinm_liquidation_price(wallet: float, others_maintenance: float, others_pnl: float, sign: int,
                            contracts: float, face: float, entry: float, mmr: float, cum: float) -> float:
    """Binance's COIN-M liquidation price of a one-way position (BOTH), by its published formula
    (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46):
    LP = (B × MMR_B + Side_BOTH × B) × CS / (WB − TMM1 + UPNL1 + cum_B + Side_BOTH × B × CS / EP_B),
    with the bracket (MMR, cum) the one the result falls in."""
    return ((contracts * mmr + sign * contracts) * face
            / (wallet - others_maintenance + others_pnl + cum + sign * contracts * face / entry))


def coinm_positions() -> list[EmuPosition]:
    """A BTCUSD_PERP long (cross, 300 contracts) beside a BTC quarterly short in the same BTC wallet:
    the quarterly's uPnL and maintenance count in the perpetual's liquidation price."""
    quarterly = EmuPosition("BTCUSD_261225", "short", 100.0, 62_000.0, 61_500.0, 10.0, settle="BTC",
                            face_value=COINM_FACE, adl=1, maint_margin=100.0 * COINM_FACE / 61_500.0 * 0.01)
    mmr, cum = COINM_BRACKETS[0][2], COINM_BRACKETS[0][4]
    liquidation = coinm_liquidation_price(COINM_WALLET, quarterly.maint_margin, quarterly.unrealized_pnl, 1, 300.0,
                                          COINM_FACE, 60_000.0, mmr, cum)
    assert 300.0 * COINM_FACE / liquidation < COINM_BRACKETS[0][1]  # still in the first bracket there
    perpetual = EmuPosition("BTCUSD_PERP", "long", 300.0, 60_000.0, 61_000.0, 20.0, settle="BTC",
                            face_value=COINM_FACE, liquidation_price=liquidation, adl=2,
                            maint_margin=300.0 * COINM_FACE / 61_000.0 * mmr, brackets=COINM_BRACKETS,
                            break_even_price=60_030.0, funding_pnl=-0.00012)
    return [perpetual, quarterly]


def with_coinm(account: EmuAccount) -> EmuAccount:
    """``account`` (Binance's) also holding a BTC margin account: ``COINM_WALLET`` BTC and ``coinm_positions``."""
    account.wallets["BTC"] = COINM_WALLET
    account.positions.extend(coinm_positions())
    return account


ACCOUNTS = {"binance": binance_account, "bybit": bybit_account, "okx": okx_account}


def env_for(venue: str, label: str = "main", *, key: str | None = None, secret: str | None = None,
            passphrase: str | None = None) -> dict[str, str]:
    """The environment that holds ``venue``'s test key under ``label`` (parts may be overridden)."""
    default_key, default_secret, default_passphrase = SECRETS[venue]
    values = {"key": key or default_key, "secret": secret or default_secret,
              "passphrase": passphrase or default_passphrase}
    return {name: values[part] for part, name in env_names(venue, label).items() if values[part]}


class Running:
    """A follower's ``run`` in a task, with every event it emitted; wait for conditions on them."""

    def __init__(self, follower: SignedFollower, emit: Callable[[Event], None] | None = None):
        self.follower = follower
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self._extra = emit
        self._task: asyncio.Task | None = None

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()
        if self._extra is not None:
            self._extra(event)

    async def __aenter__(self) -> Running:
        self._task = asyncio.create_task(self.follower.run(self._emit))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.follower.stop()
        assert self._task is not None
        await asyncio.wait_for(self._task, 5.0)  # run() ends promptly on stop() and never raised

    async def wait_for(self, predicate: Callable[[Event], bool], *, count: int = 1,
                       timeout: float = 5.0) -> list[Event]:
        async def waiter() -> list[Event]:
            while True:
                self._changed.clear()
                matches = [e for e in self.events if predicate(e)]
                if len(matches) >= count:
                    return matches[:count]
                await self._changed.wait()

        return await asyncio.wait_for(waiter(), timeout)

    def statuses(self, state: str | None = None) -> list[FeedStatus]:
        return [e for e in self.events if isinstance(e, FeedStatus) and (state is None or e.state == state)]


class PrivateKit:
    """The emulator with the three test accounts installed, and followers pointed at it."""

    def __init__(self, emulator: Emulator, endpoints: PrivateEndpoints):
        self.emu = emulator
        self.endpoints = endpoints

    def account(self, venue: str) -> EmuAccount:
        return self.endpoints.accounts[(venue, SECRETS[venue][0])]

    def follower(self, venue: str, label: str = "main", *, env: dict[str, str] | None = None,
                 **options) -> SignedFollower:
        settings = {**FAST, "rng": random.Random(7), "keyring": NoKeyring(), **options}
        return SignedFollower(venue, label, rest_url=self.emu.rest_url(venue),
                              env=env if env is not None else env_for(venue, label), **settings)

    def run(self, follower: SignedFollower, emit: Callable[[Event], None] | None = None) -> Running:
        return Running(follower, emit)


@pytest.fixture
def private(emulator) -> PrivateKit:
    endpoints = install_private(emulator, [factory() for factory in ACCOUNTS.values()])
    return PrivateKit(emulator, endpoints)
