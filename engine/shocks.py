"""What-if shocks: move marks by a percentage and recompute, leaving the live state untouched.

``apply_shocks`` is the full recomputation; the monitor's what-if goes through the incremental
engine (``RiskEngine.set_shocks``), which is tested against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from types import MappingProxyType

from adlwatch.engine.risk import EngineInputs, compute_snapshot
from adlwatch.engine.snapshot import RiskSnapshot, ShockSpec, shocked_marks

__all__ = ["apply_shocks", "shock", "shocked_marks"]


def shock(pct: float, venue: str | None = None, symbol: str | None = None) -> ShockSpec:
    """A move of ``pct`` percent (−10 = a 10 % fall) of one symbol, one venue, or every mark."""
    if pct <= -100.0:
        raise ValueError(f"a shock of {pct}% would take prices to zero or below")
    return ShockSpec(pct=pct, venue=venue, symbol=symbol)


def apply_shocks(inputs: EngineInputs, shocks: Iterable[ShockSpec]) -> RiskSnapshot:
    """A hypothetical snapshot: the same inputs with shocked marks. ``inputs`` is not modified."""
    shocks = tuple(shocks)
    moved = replace(inputs, marks=MappingProxyType(shocked_marks(inputs.marks, shocks)))
    return compute_snapshot(moved, shocks=shocks)
