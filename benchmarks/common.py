"""Timing helpers: best-of-N wall time, and a result row that carries its baseline."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class Row:
    name: str
    figure: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "MISSED", None: "-"}[self.met]
        return [self.name, self.figure, self.baseline, self.ratio, self.goal, verdict]
