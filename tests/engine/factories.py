"""Small builders for tests: instruments with explicit tiers, positions, accounts."""

from __future__ import annotations

import math

from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.instruments import Instrument, build_tiers
from adlwatch.engine.margin import Leg
from adlwatch.engine.portfolio import Account, Position


def instrument(
    venue: str = "binance",
    symbol: str = "TESTUSDT",
    *,
    kind: str = "linear",
    tiers: list[tuple[float, float, float, float]] | None = None,
    taker_fee: float = 0.0,
    contract_size: float = 1.0,
    tier_basis: str = "notional",
    settle: str | None = None,
    tick_size: float = 0.01,
) -> Instrument:
    rows = tiers or [(0.0, math.inf, 0.005, 100.0)]
    return Instrument(
        venue=venue,
        symbol=symbol,
        kind=kind,
        base="BTC",
        quote="USD" if kind == "inverse" else "USDT",
        settle=settle or ("BTC" if kind == "inverse" else "USDT"),
        contract_size=contract_size,
        tick_size=tick_size,
        tier_basis=tier_basis,
        tiers=build_tiers([dict(floor=f, cap=c, mmr=m, max_leverage=x) for f, c, m, x in rows], symbol),
        taker_fee=taker_fee,
    )


def leg(inst: Instrument, side: int, size: float, entry: float) -> Leg:
    return Leg(inst, side, size, entry)


def position(
    inst: Instrument,
    side: Side,
    size: float,
    entry: float,
    leverage: float,
    mode: MarginMode = MarginMode.ISOLATED,
    isolated_margin: float | None = None,
) -> Position:
    p = Position(inst, side, size, entry, leverage, mode)
    if mode is MarginMode.ISOLATED:
        margin = p.initial_margin() if isolated_margin is None else isolated_margin
        p = Position(inst, side, size, entry, leverage, mode, margin)
    return p


def account(venue: str, wallet: float, positions: list[Position], settle: str | None = None) -> Account:
    settle = settle or (positions[0].instrument.settle if positions else "USDT")
    return Account(venue, wallet, settle, tuple(positions))
