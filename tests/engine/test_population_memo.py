"""The ADL estimate's books are kept for every contract held: a large portfolio's second snapshot
draws no population and ranks no book again (a memo bound below the contracts held would rebuild a
book per position per snapshot)."""

from __future__ import annotations

import pytest

from adlwatch.engine import population
from adlwatch.engine.enums import MarginMode, Side
from adlwatch.engine.events import MarkPrice
from adlwatch.engine.instruments import default_catalogue
from adlwatch.engine.portfolio import Account, Portfolio, Position
from adlwatch.engine.risk import RiskEngine


def test_a_hundred_contracts_are_ranked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = default_catalogue()
    instruments = sorted((i for i in catalogue if i.venue == "binance" and i.kind == "linear" and i.tiers
                          and i.settle == "USDT"), key=lambda i: i.symbol)[:100]
    assert len(instruments) == 100
    positions = tuple(Position(i, Side.LONG if k % 2 else Side.SHORT, 1_000.0 / 100.0, 100.0, 10.0, MarginMode.CROSS)
                      for k, i in enumerate(instruments))
    engine = RiskEngine(Portfolio((Account("binance", 1e6, "USDT", positions),), catalogue=catalogue))
    builds: list[str] = []
    real = population.build_population

    def counting(instrument, *args, **kwargs):
        builds.append(instrument.symbol)
        return real(instrument, *args, **kwargs)

    monkeypatch.setattr(population, "build_population", counting)
    monkeypatch.setattr(population, "_POPULATIONS", {})
    monkeypatch.setattr(population, "_RANKINGS", {})
    for i in instruments:
        engine.apply(MarkPrice(venue="binance", symbol=i.symbol, ts=1, price=100.0))
    first = engine.snapshot()
    assert sum(p.adl_quantile is not None for p in first.positions) == 100
    assert len(builds) == 100  # one book per contract (each position holds one side of its own)
    for i in instruments:
        engine.apply(MarkPrice(venue="binance", symbol=i.symbol, ts=2, price=100.5))
    second = engine.snapshot()
    assert len(builds) == 100  # nothing drawn again
    assert sum(p.adl_quantile is not None for p in second.positions) == 100
