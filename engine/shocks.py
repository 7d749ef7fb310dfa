"""What-if shocks: move marks by a percentage and recompute, leaving the live state untouched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType

from adlwatch.engine.risk import EngineInputs, MarkKey, RiskSnapshot, ShockSpec, compute_snapshot


def shock(pct: float, venue: str | None = None, symbol: str | None = None) -> ShockSpec:
    """A move of ``pct`` percent (−10 = a 10 % fall) of one symbol, one venue, or every mark."""
    if pct <= -100.0:
        raise ValueError(f"a shock of {pct}% would take prices to zero or below")
    return ShockSpec(pct=pct, venue=venue, symbol=symbol)


def shocked_marks(marks: Mapping[MarkKey, float], shocks: Iterable[ShockSpec]) -> dict[MarkKey, float]:
    """Shocks compound: +5 % then −5 % is ×1.05×0.95 on the marks they both match."""
    out = dict(marks)
    for s in shocks:
        factor = 1.0 + s.pct / 100.0
        for key in out:
            venue, symbol = key
            if (s.venue is None or s.venue == venue) and (s.symbol is None or s.symbol == symbol):
                out[key] = out[key] * factor
    return out


def apply_shocks(inputs: EngineInputs, shocks: Iterable[ShockSpec]) -> RiskSnapshot:
    """A hypothetical snapshot: the same inputs with shocked marks. ``inputs`` is not modified."""
    shocks = tuple(shocks)
    moved = replace(inputs, marks=MappingProxyType(shocked_marks(inputs.marks, shocks)))
    return compute_snapshot(moved, shocks=shocks)
